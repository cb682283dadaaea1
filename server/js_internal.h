/*
 * server/js_internal.h — the JetStream engine's shared internals: the
 * engine, its streams, the messages its internal subscriptions hear, and
 * the helpers every JetStream module uses to answer and to publish.
 *
 * Everything here is owned by and touched only on the JetStream loop
 * (struct js.w), except the inbound queue, which I/O loops append to under
 * in_lock. Every change of JetStream state goes through one apply function
 * per command of proto/jscmd.h (js_apply_*), so that the same change can
 * later come from raft; on one node the API handlers call them directly.
 */
#ifndef TERN_SERVER_JS_INTERNAL_H
#define TERN_SERVER_JS_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "server/jetstream.h"
#include "server/js_config.h"
#include "server/kmap.h"
#include "server/store.h"

struct server;
struct worker;
struct client;
struct sub;
struct event;
struct js_consumer;

/* What an internal subscription is for; the first byte of its sid. */
enum js_sub_kind {
    JS_SUB_API = 'A',      /* $JS.API.> */
    JS_SUB_STREAM = 'S',   /* a stream's subject; sid "S<stream id>" */
    JS_SUB_ACK = 'K',      /* $JS.ACK.> */
    JS_SUB_FC = 'F',       /* $JS.FC.> */
};

struct js_batch;
struct js_stage;

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

/* A PubAck (or publish error) waiting for its stream's sync. */
struct js_pending_ack {
    uint64_t stream_id;
    char *reply;            /* owned */
    char *json;             /* owned */
};

/* Dedupe window entry (Nats-Msg-Id → sequence), in a kmap and in arrival
 * order for expiry. Owned by its stream. */
struct js_msgid {
    struct kmap_key key;    /* bytes = id (follows the struct) */
    uint64_t seq;
    int64_t ts;
    struct js_msgid *next;  /* arrival order */
};

/* One stream. Owned by struct js (its list); freed by js_stream_free. */
struct js_stream {
    struct js *js;                 /* borrowed */
    uint64_t id;                   /* unique per engine run (subscription sids) */
    struct js_stream_config cfg;   /* owned */
    int64_t created;               /* ns */
    struct store *store;           /* owned */
    struct sub **subs;             /* owned array of internal subscriptions */
    size_t nsubs;
    struct js_consumer *consumers; /* owned list (js_consumer.c) */
    size_t nconsumers;
    struct kmap msgids;            /* dedupe table; entries owned (list below) */
    struct js_msgid *msgid_head, *msgid_tail;
    char *last_msg_id;             /* Nats-Msg-Id of the last stored message;
                                      owned; NULL when it had none */
    struct event *expire_ev;       /* owned: max_age and dedupe-window timer */
    bool dirty;                    /* appended or removed since the last sync */
    struct js_stream *next;
};

struct js {
    struct server *srv;            /* borrowed */
    struct worker *w;              /* owned: the JetStream loop */
    struct client *ic;             /* owned: the internal client */
    char *root;                    /* owned: <store_dir>/jetstream/$G/streams */
    int64_t max_memory, max_store; /* -1 = unlimited */

    struct js_stage *stages;       /* owned array, one per loop (by worker
                                      index): each loop thread's own */
    size_t nstages;
    atomic_size_t in_bytes;        /* staged and queued, for JS_INBOUND_MAX */
    pthread_mutex_t in_lock;       /* guards the inbound queue */
    struct js_batch *in_head, **in_tail;
    bool in_armed;                 /* eventfd written, not yet drained */
    int in_fd;                     /* owned eventfd */
    struct event *in_ev;           /* owned */

    struct js_stream *streams;     /* owned list */
    size_t nstreams;
    uint64_t next_id;
    struct sub *api_sub, *ack_sub, *fc_sub;  /* owned (retired on stop) */

    struct js_pending_ack *acks;   /* owned array: waiting for the batch's sync */
    size_t nacks, cap_acks;

    uint64_t api_total, api_errors;
    uint64_t rng;
    char *scratch;                 /* owned: js_send joins headers and payload
                                      here (deliver_publish copies it out) */
    size_t scratch_cap;
};

/* ---- helpers (jetstream.c) ---- */

int64_t js_now(void);              /* wall clock, ns since the epoch */
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
/* Does anything (client, route, internal) subscribe to subject? */
bool js_has_interest(struct js *js, const char *subject, size_t len);
/* Internal subscription (plain, queue NULL) whose deliveries come back to
 * the engine as kind/id. NULL on failure. */
struct sub *js_subscribe(struct js *js, const char *subject, enum js_sub_kind kind, uint64_t id);
void js_unsubscribe(struct js *js, struct sub *s);
/* Queue a PubAck/error to be sent after the stream's next sync. */
int js_queue_ack(struct js *js, uint64_t stream_id, const char *reply, size_t rlen,
                 const char *json);
/* 8 random alphanumerics (ephemeral consumer names). */
void js_random_name(struct js *js, char out[9]);
/* Value of header name in a NATS header block, or NULL (*vlen set). */
const char *js_header(const char *hdr, size_t hlen, const char *name, size_t *vlen);

/* ---- streams (js_stream.c) ---- */

struct js_stream *js_stream_find(struct js *js, const char *name, size_t len);
/* Can some subject match both subject patterns? */
bool js_subjects_overlap(const char *a, const char *b);
/* Bytes stored by every stream of one storage kind (account usage). */
uint64_t js_usage(struct js *js, enum js_storage kind);
/* Usage, limits and counts over every stream (account info, monitoring). */
void js_totals(struct js *js, struct jetstream_stats *t);
struct js_stream *js_stream_by_id(struct js *js, uint64_t id);
/* The one stream whose subjects capture subject, or NULL. */
struct js_stream *js_stream_for_subject(struct js *js, const char *subject, size_t len);
/* Commands (proto/jscmd.h ops); each validates against current state and
 * applies, or fills *err. */
int js_apply_stream_create(struct js *js, struct js_stream_config *cfg, int64_t created,
                           struct js_stream **out, struct js_err *err);
int js_apply_stream_update(struct js *js, struct js_stream *st, struct js_stream_config *cfg,
                           struct js_err *err);
int js_apply_stream_delete(struct js *js, struct js_stream *st);
int js_apply_stream_purge(struct js_stream *st, const char *filter, uint64_t seq, uint64_t keep,
                          uint64_t *purged, struct js_err *err);
int js_apply_msg_delete(struct js_stream *st, uint64_t seq, struct js_err *err);
/* A publish heard on a stream subject: checks, store, PubAck queued. */
void js_stream_publish(struct js_stream *st, const struct js_inmsg *m);
/* The "state" object of stream info (malloc'd JSON text). subjects and
 * deleted, when not NULL, are pre-rendered JSON values placed as
 * "subjects" and "deleted" where nats-server puts them. */
char *js_stream_state_json(struct js_stream *st, const char *subjects, const char *deleted);
/* A message was acknowledged by consumer c (interest / work-queue
 * retention decides whether it goes). */
void js_stream_acked(struct js_stream *st, struct js_consumer *c, uint64_t seq);
/* Load every stream under js->root (start-up). */
int js_stream_load_all(struct js *js);
void js_stream_free(struct js_stream *st);

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
/* Delete every consumer of st (stream deleted): waiting pull requests get
 * 409 Consumer Deleted. */
void js_consumer_free_all(struct js_stream *st);
/* Shutdown: free st's consumers from memory only (their persisted state
 * stays, nothing is sent). */
void js_consumer_release_all(struct js_stream *st);
/* Has c acknowledged stream sequence seq (or does its filter skip it)?
 * For interest retention. */
bool js_consumer_acked(const struct js_consumer *c, uint64_t seq);
/* The next consumer in its stream's list (st->consumers), or NULL. */
struct js_consumer *js_consumer_next(const struct js_consumer *c);
/* Does c's filter take this subject? */
bool js_consumer_wants(const struct js_consumer *c, const char *subject, size_t len);
/* Persist consumers' changed state (once per loop batch). */
void js_consumer_flush_state(struct js_stream *st);

#endif
