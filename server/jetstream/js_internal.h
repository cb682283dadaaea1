/*
 * server/jetstream/js_internal.h — the JetStream engine's shared internals: the
 * engine, its streams, the messages its internal subscriptions hear, and
 * the helpers every JetStream module uses to answer and to publish.
 *
 * Everything here is owned by and touched only on the JetStream loop
 * (struct js.w), except the inbound queue, which I/O loops append to under
 * in_lock. Stream state changes only in js_fsm_apply (js_fsm.h), fed by the
 * proposer (js_propose.h); what only the serving node does lives in each
 * stream's rt and behind js->active.
 */
#ifndef TERN_SERVER_JS_INTERNAL_H
#define TERN_SERVER_JS_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "server/jetstream/jetstream.h"
#include "server/jetstream/js_config.h"
#include "server/opts.h"
#include "server/jetstream/js_fsm.h"
#include "server/kmap.h"
#include "server/store/store.h"

struct js_mirror;
struct js_sources;

struct server;
struct worker;
struct client;
struct sub;
struct event;
struct js_consumer;

/* What waiting pull requests hear when their consumer stops here. */
#define JS_STATUS_DELETED "NATS/1.0 409 Consumer Deleted\r\n\r\n"
#define JS_STATUS_LEADERSHIP "NATS/1.0 409 Leadership Change\r\n\r\n"

/* Where a node without raft state asks the group's leader to take it in
 * (js_cluster.c); only the serving node listens. */
#define JS_JOIN_SUBJECT "$TERN.JS.JOIN"
/* The leader's lease (cluster/jslease.h): probes go to every member, which
 * answers on the leader's grant subject (the prefix, then its name). */
#define JS_PROBE_SUBJECT "$TERN.JS.PROBE"
#define JS_GRANT_PREFIX "$TERN.JS.GRANT."

/* What an internal subscription is for; the first byte of its sid. */
enum js_sub_kind {
    JS_SUB_API = 'A',      /* $JS.API.> */
    JS_SUB_STREAM = 'S',   /* a stream's subject; sid "S<stream id>" */
    JS_SUB_ACK = 'K',      /* $JS.ACK.> */
    JS_SUB_FC = 'F',       /* $JS.FC.> */
    JS_SUB_JOIN = 'J',     /* $TERN.JS.JOIN: a node asks into the raft group */
    JS_SUB_PROBE = 'P',    /* $TERN.JS.PROBE: the leader asks for its lease */
    JS_SUB_GRANT = 'G',    /* $TERN.JS.GRANT.<name>: a member's answer */
};

struct js_batch;
struct js_stage;
struct js_proposer;
struct event_base;
struct proto_msg;

/*
 * What the engine reaches of the world around it, in the way canonical/raft
 * reaches I/O through struct raft_io: the clock, the network and the loop
 * its timers run on. jetstream.c fills it with the server's (the wall
 * clock, ordinary routing, the subject index, the JetStream loop); a test
 * can fill it with its own and run engines with no sockets. Everything the
 * engine does outside its own state goes through it. Borrowed; fixed for
 * the engine's life.
 */
struct js_env {
    void *arg;
    struct event_base *base;     /* timers and deferred work run here */
    /* Wall clock, ns since the epoch. */
    int64_t (*now)(void *arg);
    /* Publish m (headers then payload in one block) into routing, from the
     * server; to not NULL: deliver it to to's subscribers but present m's
     * subject on the MSG line (a consumer delivery). Returns how many
     * subscriptions or routes took it. */
    size_t (*publish)(void *arg, const struct proto_msg *m, const char *to, size_t tolen);
    /* Does anything subscribe to subject? */
    bool (*has_interest)(void *arg, const char *subject, size_t len);
    /* An internal subscription whose deliveries come back to the engine's
     * inbound queue with sid (kind byte + id); NULL on failure. */
    struct sub *(*subscribe)(void *arg, const char *subject, const char *sid, size_t sid_len);
    void (*unsubscribe)(void *arg, struct sub *s);
};

/* One message an internal subscription heard, as the handlers see it: a
 * view into the inbound batch that holds its bytes (jetstream.c), valid
 * while the handler runs. */
struct js_inmsg {
    enum js_sub_kind kind;
    uint64_t id;            /* JS_SUB_STREAM: the stream's id */
    const char *subject;
    size_t subject_len;
    const char *reply;      /* NULL when the message has none */
    size_t reply_len;
    const char *hdr;        /* NULL when none */
    size_t hdr_len;
    const char *data;
    size_t data_len;
};

/* Dedupe window entry (Nats-Msg-Id → sequence), in a kmap and in arrival
 * order for expiry. Owned by its stream. */
struct js_msgid {
    struct kmap_key key;    /* bytes = id (follows the struct) */
    uint64_t seq;
    int64_t ts;
    struct js_msgid *next;  /* arrival order */
};

struct js_subtree;
struct js_subent;
struct submap;
struct js_repub;
struct js_repub_recent;

/* What only the serving node has of a stream (leader-only runtime): the
 * internal subscriptions on its subjects and the timer that proposes age
 * expiry. Empty while the engine is not active. Owned by the stream. */
struct js_stream_rt {
    struct sub **subs;             /* owned array */
    size_t nsubs;
    struct event *expire_ev;       /* owned: proposes STREAM_EXPIRE */
    struct event *mirror_ev;       /* owned: proposes STREAM_SYNC (mirrors) */
    int64_t mirror_checked;        /* when that timer last saw the origin */
};

/* One stream. Owned by struct js (its list); freed by js_stream_free.
 * Everything but rt is replicated state, changed only by js_fsm_apply. */
struct js_stream {
    struct js *js;                 /* borrowed */
    uint64_t id;                   /* unique per engine run (subscription sids) */
    /* Lookups (js_stream.c): keys in js->by_name / js->by_id, and cfg's
     * subjects in js->subjects. The name is a copy because an update
     * replaces cfg whole. */
    bool indexed;                  /* in the maps (so free takes it out) */
    char *key_name;                /* owned: by_name's key bytes */
    struct kmap_key name_key, id_key;
    struct js_subent **subents;    /* owned array (entries: the tree's) */
    size_t nsubents;
    struct js_stream_config cfg;   /* owned */
    struct submap *repub;          /* owned: cfg's republish compiled when the
                                      stream opens (an update cannot change
                                      it, 10052); NULL when it has none */
    bool repub_headers_only;
    bool repub_warned;             /* a copy could not be made: logged once */
    struct submap *itr;            /* owned: cfg's subject_transform compiled
                                      when the stream opens or is updated;
                                      NULL when it has none */
    struct js_mirror *mirror;      /* owned: cfg's mirror parsed when the
                                      stream opens (an update cannot change
                                      it, 10055); NULL when not a mirror */
    size_t nmirrors;               /* streams mirroring this one (apply
                                      recounts on stream create/delete) */
    struct js_sources *sources;    /* owned: cfg's sources with their
                                      replicated cursors (js_source.h);
                                      NULL when it has none */
    size_t nsourced;               /* sources, of any stream, reading this
                                      one (recounted like nmirrors) */
    uint64_t walk;                 /* js_source_cycle's mark: the last walk
                                      that looked at this stream */
    int64_t created;               /* ns */
    int64_t clock;                 /* ns: the latest time apply has seen for
                                      this stream; never goes backwards */
    struct store *store;           /* owned */
    struct js_consumer *consumers; /* owned list (js_consumer.c) */
    size_t nconsumers;
    struct kmap msgids;            /* dedupe table; entries owned (list below) */
    struct js_msgid *msgid_head, *msgid_tail;
    char *last_msg_id;             /* Nats-Msg-Id of the last stored message;
                                      owned; NULL when it had none */
    bool dirty;                    /* appended or removed since the last sync */
    bool removed;                  /* messages removed since the runtime last
                                      told the consumers (js_propose.c) */
    struct js_stream_rt rt;        /* leader-only runtime */
    struct js_stream *next;
};

struct js {
    struct js_env env;             /* the world around the engine */
    struct server *srv;            /* borrowed; NULL under a test's env */
    struct worker *w;              /* owned: the JetStream loop */
    struct client *ic;             /* owned: the internal client */
    char *root;                    /* owned: <store_dir>/jetstream/$G/streams */
    int64_t max_memory, max_store; /* -1 = unlimited */
    /* The JetStream account's own limits (accounts {} jetstream { }, or
     * its JWT's): storage past them is 10002, streams and consumers past
     * them 10027 and 10026, and so on (js_api.c, js_consumer_api.c) */
    struct opts_js_limits acc;

    struct js_stage *stages;       /* owned array, one per loop (by worker
                                      index): each loop thread's own */
    size_t nstages;
    atomic_size_t in_bytes;        /* staged and queued, for JS_INBOUND_MAX */
    pthread_mutex_t in_lock;       /* guards the inbound queue */
    struct js_batch *in_head, **in_tail;
    bool in_armed;                 /* eventfd written, not yet drained */
    int in_fd;                     /* owned eventfd */
    struct event *in_ev;           /* owned */
    struct js_batch *work;         /* owned: taken from the queue, not yet all
                                      handled (JetStream loop only) */
    size_t work_off;               /* where the head of work resumes */
    struct event *resume_ev;       /* owned: the next turn's slice */

    struct js_stream *streams;     /* owned list */
    size_t nstreams;
    /* Per-message lookups are maps, never a walk over the streams (a KV
     * user with 1,000 buckets has 1,000 streams): js_stream.c keeps them. */
    struct kmap by_name, by_id;    /* of js_stream.name_key / id_key */
    uint64_t map_seed;
    struct js_subtree *subjects;   /* owned: every stream's subjects */
    uint64_t usage[2];             /* bytes stored by storage kind
                                      (enum js_storage): running sums the
                                      stores keep (store_options.usage) */
    uint64_t next_id;
    uint64_t origin_walks;         /* js_source_cycle's walk counter */
    struct sub *api_sub, *ack_sub, *fc_sub;  /* owned (retired on stop) */
    struct sub *api_domain_sub;    /* owned: $JS.<domain>.API.>, with a domain */
    char *domain;                  /* owned: jetstream { domain }; NULL = none */
    struct sub *join_sub;          /* owned: the leader hears join requests */
    struct sub *probe_sub, *grant_sub; /* owned: lease traffic, every member */

    bool active;                   /* the leader-only runtime runs here
                                      (always, on one node, once started) */
    bool clustered;                /* JetStream replicated by the raft group */
    int cluster_size;              /* members of the group (1 alone) */
    struct jsraft *raft;           /* owned (js_cluster.c); NULL alone */
    struct js_proposer *prop;      /* owned (js_propose.c) */

    uint64_t api_total, api_errors;
    uint64_t rng;
    struct js_repub *repub_head;   /* owned list, oldest first: republished
                                      copies not yet sent (js_republish.c) */
    struct js_repub *repub_tail;   /* borrowed: its last entry */
    struct js_repub_recent *repub_recent; /* owned: what a follower applied
                                      lately, for a takeover (js_republish.c) */
    /* Copies the streams' sources stored inside the current apply on a
     * stream with republish: part of that apply's result, reset by
     * js_fsm_apply, read by the proposer after it (js_propose.c). */
    struct js_result *derived;     /* owned array */
    size_t nderived, cap_derived;
    char *scratch;                 /* owned: js_send joins headers and payload
                                      here (deliver_publish copies it out) */
    size_t scratch_cap;
};

/* ---- helpers (jetstream.c) ---- */

/* One message an internal subscription heard: to the handler of its kind
 * (API, stream publish, ack, flow control, join). */
void js_dispatch(struct js *js, const struct js_inmsg *m);
/* An engine with no server around it: env is the world (tests run one
 * with a fake network and clock), root its streams directory; it serves at
 * once, as a single node does. Close frees it. */
int js_engine_open(const char *root, const struct js_env *env, struct js **out);
void js_engine_close(struct js *js);
/* js_env.c: the environment of an engine on a real server. */
void js_env_server(struct js *js);
/* The engine's clock (env.now), ns since the epoch. */
static inline int64_t js_clock(const struct js *js)
{
    return js->env.now(js->env.arg);
}
/* Publish a message from the server (pub NULL) into ordinary routing.
 * Returns the number of subscriptions (or routes) that took it. */
size_t js_send(struct js *js, const char *subject, size_t slen, const char *reply,
               size_t rlen, const char *hdr, size_t hlen, const char *data, size_t dlen);
/* Reply to an API request (nothing when it has no reply subject). */
void js_reply(struct js *js, const struct js_inmsg *req, const char *json);
/* {"type":"io.nats.jetstream.api.v1.<type>","error":{...}} to req; counts
 * an API error. */
void js_reply_error(struct js *js, const struct js_inmsg *req, const char *type,
                    const struct js_err *e);
/* A status-only header message (e.g. "NATS/1.0 404 No Messages\r\n\r\n"). */
void js_send_status(struct js *js, const char *subject, size_t slen, const char *hdr);
/* Whether m is a pull consumer's CONSUMER.MSG.NEXT request ($JS.API
 * form: a domain's requests are rewritten before anything looks). */
bool js_is_pull_request(const struct js_inmsg *m);
/* Subscribe / unsubscribe the API subjects: $JS.API.>, and the domain's
 * $JS.<domain>.API.> when one is configured. */
int js_subscribe_api(struct js *js);
void js_unsubscribe_api(struct js *js);
/* Does anything (client, route, internal) subscribe to subject? */
bool js_has_interest(struct js *js, const char *subject, size_t len);
/* Internal subscription (plain, queue NULL) whose deliveries come back to
 * the engine as kind/id. NULL on failure. */
struct sub *js_subscribe(struct js *js, const char *subject, enum js_sub_kind kind, uint64_t id);
void js_unsubscribe(struct js *js, struct sub *s);
/* 8 random alphanumerics (ephemeral consumer names). */
void js_random_name(struct js *js, char out[9]);

/* ---- streams (js_stream.c; lookups in js_stream_index.c) ---- */

struct js_stream *js_stream_find(struct js *js, const char *name, size_t len);
/* Can some subject match both subject patterns? */
/* Does a subject of cfg overlap a subject of a stream other than self
 * (NULL: any)? *other (when not NULL) gets that stream's name. Looked up
 * in the subject tree: a stream of 20,000 literal subjects costs 20,000
 * short walks, not 20,000 x every subject. (A subject whose first token
 * is '*' still visits the whole first level: cheap next to a pairwise
 * scan, and rare.) Out of memory answers true: refusing is safe. */
bool js_stream_overlaps_other(struct js *js, const struct js_stream_config *cfg,
                              const struct js_stream *self, const char **other);
/* st in the engine's maps and subject tree (open), out of them (free);
 * its subjects alone again after an update changed them. */
int js_stream_index(struct js_stream *st);
void js_stream_unindex(struct js_stream *st);
int js_stream_index_subjects(struct js_stream *st);
void js_stream_unindex_subjects(struct js_stream *st);
/* Bytes stored by every stream of one storage kind (account usage). */
uint64_t js_usage(struct js *js, enum js_storage kind);
/* Usage, limits and counts over every stream (account info, monitoring). */
void js_totals(struct js *js, struct jetstream_stats *t);
struct js_stream *js_stream_by_id(struct js *js, uint64_t id);
/* The one stream whose subjects capture subject, or NULL. */
struct js_stream *js_stream_for_subject(struct js *js, const char *subject, size_t len);
/* The apply side of the stream commands (called by js_fsm_apply only;
 * deterministic, see js_fsm.h). cfg is taken over (zeroed). */
int js_apply_stream_create(struct js *js, struct js_stream_config *cfg, int64_t created,
                           uint64_t acct_max, struct js_result *res);
int js_apply_stream_update(struct js *js, struct js_stream *st, struct js_stream_config *cfg,
                           uint64_t acct_max, struct js_result *res);
int js_apply_stream_delete(struct js *js, struct js_stream *st);
int js_apply_stream_purge(struct js_stream *st, const struct jscmd *cmd, struct js_result *res);
int js_apply_msg_delete(struct js_stream *st, uint64_t seq, struct js_result *res);
int js_apply_stream_expire(struct js_stream *st, int64_t cutoff, int64_t now,
                           struct js_result *res);
/* js_publish.c: PUBLISH. */
int js_apply_publish(struct js *js, struct js_stream *st, const struct jscmd_publish *p,
                     struct js_result *res);
/* Discard-old limits after an append (subject: the one appended to) or
 * an update (subject NULL). True when something was removed. */
bool js_stream_enforce_limits(struct js_stream *st, const char *subject, size_t slen);
/* (Re)compile st->itr from st->cfg (js_publish.c). 0 or -ENOMEM; a pair
 * that does not compile (the API refuses it) leaves no transform. */
int js_transform_open(struct js_stream *st);
void js_transform_close(struct js_stream *st);
/* Apply, after a new stream was created (not when a snapshot restores
 * one): where its sequences start (first_seq, a mirror's start). 0 or a
 * store error (res says 10023). */
int js_apply_stream_start(struct js *js, struct js_stream *st, struct js_result *res);
/* Dedupe table (js_publish.c): forget ids older than now - window; the
 * stored message with this id, or NULL; remember one (0, -EEXIST when the
 * id is there already, -ENOMEM; publish ignores both). */
void js_msgid_expire(struct js_stream *st, int64_t now);
struct js_msgid *js_msgid_find(struct js_stream *st, const char *id, size_t len);
int js_msgid_add(struct js_stream *st, const char *id, size_t len, uint64_t seq, int64_t ts);
void js_msgid_set_last(struct js_stream *st, const char *id, size_t len);
/* Leader-only runtime of a stream: subscribe its subjects and start its
 * expiry timer; undo that. Idempotent. */
int js_stream_attach(struct js_stream *st);
void js_stream_detach(struct js_stream *st);
/* The "state" object of stream info (malloc'd JSON text). subjects and
 * deleted, when not NULL, are pre-rendered JSON values placed as
 * "subjects" and "deleted" where nats-server puts them. */
char *js_stream_state_json(struct js_stream *st, const char *subjects, const char *deleted);
/* Load every stream under js->root (start-up). A stream that cannot be
 * loaded is logged at [ERR] and left aside, its files untouched; only a
 * streams directory that cannot be read fails (negative errno). */
int js_stream_load_all(struct js *js);
/* Engine start / end: the lookup maps and the subject tree. */
int js_streams_init(struct js *js);
void js_streams_fini(struct js *js);
/* Free every stream (memory only: their files stay), then the maps. */
void js_streams_close(struct js *js);
void js_stream_free(struct js_stream *st);

/* ---- republish (js_republish.c) ---- */

/* Compile st's republish from its config (stream open; 0, or -ENOMEM; a
 * config that does not compile was refused before it was stored, so it is
 * logged and left without) / release it (stream freed). */
int js_republish_open(struct js_stream *st);
void js_republish_close(struct js_stream *st);
/* The copy of a message PUBLISH p stored (res->republish), built now and
 * queued; nothing when p's subject is not under the republish source. */
void js_republish_queue(struct js_stream *st, const struct jscmd_publish *p,
                        const struct js_result *res);
/* The same for a message read back from st's store (a copy its sources
 * stored inside another command's apply). */
void js_republish_queue_stored(struct js_stream *st, const struct js_result *res);
/* Send the queued copies of stream stream_id (0: of every stream), in the
 * order they were stored / forget them unsent (a failed sync). */
void js_republish_send(struct js *js, uint64_t stream_id);
void js_republish_drop(struct js *js, uint64_t stream_id);
/* A follower applied a message the leader republished (res->republish):
 * remember it for a while. On becoming the leader (its first entry
 * applied as leader, or serving, whichever comes first): republish again
 * what it applied in the last moments before, read back from the store,
 * then forget. */
void js_republish_remember(struct js_stream *st, const struct js_result *res);
void js_republish_takeover(struct js *js);
/* The leader was heard from (a lease probe): what was remembered long
 * enough before has surely been sent by it, and is forgotten. */
void js_republish_leader_alive(struct js *js);
/* Engine end: queued copies and remembered entries dropped. */
void js_republish_fini(struct js *js);

/* ---- serving (jetstream.c) and replication (js_cluster.c) ---- */

/* Start / stop serving: the API, ack and flow-control subscriptions, and
 * every stream's and consumer's runtime. */
int js_activate(struct js *js);
void js_deactivate(struct js *js);
/* Clustered start-up: clear the streams directory, start the raft group
 * (the node serves when it leads). Stop after the loop stopped. */
int js_cluster_start(struct js *js);
void js_cluster_stop(struct js *js);
/* An API request while no node serves: 10008. */
void js_cluster_unavailable(struct js *js, const struct js_inmsg *m);
struct jtext;
/* Clustered: stream and consumer info's ,"cluster":{...} (nothing alone). */
void js_cluster_append_info(struct js *js, struct jtext *b);
/* STREAM.INFO's "alternates" (the stream and its mirrors), clustered and
 * when st has mirrors, as ",\"alternates\":[...]"; nothing otherwise. */
void js_cluster_append_alternates(struct js *js, struct jtext *b, const struct js_stream *st);
/* A LEADER.STEPDOWN request (type: its response type): the group's
 * leadership moves to another member, answered once raft says whether it
 * did; 10010 alone. */
void js_cluster_stepdown(struct js *js, const struct js_inmsg *m, const char *type);
/* A join request heard by the serving node (JS_SUB_JOIN). */
void js_cluster_join(struct js *js, const struct js_inmsg *m);
/* Lease traffic (JS_SUB_PROBE, JS_SUB_GRANT). */
void js_cluster_probe(struct js *js, const struct js_inmsg *m);
void js_cluster_grant(struct js *js, const struct js_inmsg *m);
/* Whether this node may deliver and read from its state now: always
 * alone; clustered, while the leader's lease holds. */
bool js_cluster_may_serve(struct js *js);
/* Until when (CLOCK_MONOTONIC ms) this node can serve (INT64_MAX alone). */
int64_t js_cluster_serve_until_ms(struct js *js);
/* Is the server named name a member of the group? */
bool js_cluster_has_member(struct js *js, const char *name);

/* ---- API (js_api.c: account, stream and message endpoints) ---- */

void js_api_dispatch(struct js *js, const struct js_inmsg *m);

/* ---- consumers (js_consumer*.c) ---- */

/* $JS.API.CONSUMER.* requests (subject already known to start with it). */
void js_consumer_api(struct js *js, const struct js_inmsg *m);
/* $JS.ACK.<stream>.<consumer>... and $JS.FC.<stream>.<consumer>... */
void js_consumer_ack(struct js *js, const struct js_inmsg *m);
void js_consumer_fc(struct js *js, const struct js_inmsg *m);
/* New messages are durable in st: deliver to waiting consumers. */
void js_consumer_stream_appended(struct js_stream *st);
/* Messages were removed (purge, delete, limits): consumers adjust. */
void js_consumer_stream_removed(struct js_stream *st);
/* Load st's durable consumers from its store (start-up). */
int js_consumer_load_all(struct js_stream *st);
/* Free every consumer of st (stream deleted; apply side: detach them
 * first on the serving node). */
void js_consumer_free_all(struct js_stream *st);
/* Runtime of every consumer of st: start serving them / stop (status:
 * what waiting pull requests hear, JS_STATUS_*; NULL: nothing). */
void js_consumer_attach_all(struct js_stream *st);
void js_consumer_detach_all(struct js_stream *st, const char *status);
/* Shutdown: propose what attached consumers have not, then free st's
 * consumers from memory only (their persisted state stays). */
void js_consumer_release_all(struct js_stream *st);
/* The next consumer in its stream's list (st->consumers), or NULL. */
struct js_consumer *js_consumer_next(const struct js_consumer *c);
/* The stream's subjects changed: rebuild every consumer's filter set
 * (js_filter.h). 0 or -ENOMEM. */
int js_consumer_refilter_all(struct js_stream *st);
/* Does c's filter take this subject? */
bool js_consumer_wants(const struct js_consumer *c, const char *subject, size_t len);
/* Persist consumers' changed state (once per loop batch). */
void js_consumer_flush_state(struct js_stream *st);

#endif
