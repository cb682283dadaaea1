/*
 * server/jetstream/js_consumer.h — JetStream consumers: the state of one consumer and
 * the seams between the files that drive it (spec/jetstream.md §8).
 *
 *   js_consumer.c        life cycle, start position, choosing the next
 *                        message, reaction to stream changes
 *   js_consumer_ack.c    pending messages, acks, redelivery timers
 *   js_consumer_store.c  durable state in store blobs ("obs.<name>"), restart
 *   js_pull.c            MSG.NEXT: the waiting queue and its status replies
 *   js_push.c            push delivery: interest, heartbeats, flow control;
 *                        and the send that presents a stored message's subject
 *   js_consumer_api.c    $JS.API.CONSUMER.*, $JS.ACK.*, $JS.FC.*
 *
 * A consumer has two halves. Its replicated half (name, config, created
 * time, and rep: the progress its last CONSUMER_ACKS carried) changes only
 * in js_fsm_apply, through the js_consumer_apply_* functions. Its runtime
 * half exists only while it is attached on the serving node
 * (js_consumer_attach): the live read position and pending set, which run
 * ahead of rep between two flushes, waiting pulls, push interest, flow
 * control and every timer. The runtime reports its progress by proposing
 * CONSUMER_ACKS (js_consumer_flush), and what acks remove from interest and
 * work-queue streams is removed when that command is applied, on every
 * replica alike.
 *
 * Everything here lives on the JetStream loop (js->w) and is touched only by
 * it: no locks anywhere.
 */
#ifndef TERN_SERVER_JS_CONSUMER_H
#define TERN_SERVER_JS_CONSUMER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "server/jetstream/js_filter.h"
#include "server/jetstream/js_internal.h"

struct event;
struct jscmd_acks;

/* Delivered messages whose fate is still open, or that were settled while an
 * older one is still open (those are the "acked above the floor" of a
 * CONSUMER_ACKS command). */
enum js_pend_state {
    JS_PEND_LIVE = 0,     /* waiting for an ack until its deadline */
    JS_PEND_QUEUED,       /* due for redelivery: in the redelivery queue */
    JS_PEND_DONE,         /* acked, terminated, dropped or gone from the stream */
};

/* One entry of c->pend (owned by that array, js_consumer_ack.c). New
 * deliveries always carry a higher stream sequence than any earlier one,
 * so the array stays sorted by sseq and is searched by bisection. */
struct js_pending {
    uint64_t sseq;
    uint64_t cseq;        /* consumer sequence of its latest delivery */
    int64_t deadline;     /* wall ns: redeliver once reached (LIVE only) */
    uint32_t dc;          /* deliveries so far */
    uint8_t state;        /* enum js_pend_state */
};

/* A waiting pull request (MSG.NEXT). Allocated with its reply subject in
 * one block by js_pull.c, owned by its consumer's waiting queue. */
struct js_pull_req {
    struct js_pull_req *prev, *next;
    char *reply;          /* points just past the struct */
    size_t reply_len;
    int64_t n;            /* messages still wanted */
    int64_t b;            /* bytes still allowed (has_max_bytes only) */
    bool has_max_bytes;
    bool no_wait;
    int64_t expires;      /* wall ns; 0 = never */
    int64_t hb;           /* idle heartbeat interval, ns; 0 = none */
    int64_t hb_at;        /* wall ns of the next heartbeat */
    uint64_t d;           /* messages delivered to it */
};

/* The message js_consumer_peek chose, held until js_consumer_take. Lives
 * on the caller's stack; msg is the consumer's scratch buffer, valid until
 * the next peek. */
struct js_cnext {
    struct store_msg *msg; /* borrowed: c->scratch */
    bool redelivery;
    size_t pidx;           /* redelivery: index into c->pend */
    uint32_t dc;           /* delivery count this delivery will have */
    uint64_t cseq;         /* consumer sequence it will get */
    uint64_t pending;      /* num_pending after it */
    char ack[512];         /* the 9-token ack reply subject */
    size_t ack_len;
    size_t size;           /* subject + reply + headers + payload as sent */
};

/* A consumer's replicated progress: what its last applied CONSUMER_ACKS
 * carried (after CONSUMER_CREATE: its start, nothing delivered). Changed
 * only by apply; owned by the consumer. */
struct js_cprog {
    uint64_t start_sseq;
    uint64_t floor_sseq, floor_cseq;
    uint64_t delivered_sseq, delivered_cseq;
    uint64_t *acked;               /* owned, ascending, each > floor_sseq */
    size_t nacked;
    uint64_t (*redelivered)[2];    /* owned [sseq, count] pairs */
    size_t nredelivered;
};

/*
 * A consumer's runtime: what only the node that serves it has — the live
 * progress that runs ahead of rep between two proposals, the pending set
 * and redelivery queue, waiting pulls, push interest, flow control and
 * every timer. Meaningful while the consumer is attached; part of struct
 * js_consumer (c->rt), owned with it.
 */
struct js_consumer_rt {
    bool attached;                 /* timers exist; the node serves it */
    bool live_valid;               /* the live fields below match rep or run
                                      ahead of it (else attach rebuilds them) */
    bool deliver_moved;            /* an update changed the deliver subject;
                                      the runtime resets push state */

    /* Live progress (spec §8.3 names in comments). */
    uint64_t start_sseq;           /* where it started (select_start) */
    uint64_t sseq;                 /* next stream seq to look at;
                                      delivered.stream_seq = sseq - 1 */
    uint64_t dseq;                 /* delivered.consumer_seq */
    uint64_t floor_sseq, floor_cseq; /* ack_floor */
    int64_t last_delivered;        /* delivered.last_active; 0 = never */
    int64_t last_acked;            /* ack_floor.last_active; 0 = never */

    /* deliver_policy last_per_subject: the last sequence of each matching
     * subject at creation, ascending; then on from lps_resume. Owned. */
    uint64_t *lps;
    size_t lps_len, lps_pos;
    uint64_t lps_resume;

    /* num_pending, kept current lazily: np counts messages after the read
     * position up to stream seq np_last. */
    uint64_t np, np_last;
    bool np_valid;
    bool removed;                  /* the stream removed messages: adjust */

    /* Delivered, not settled (ack policies all/explicit). Owned array;
     * live entries are pend[pend_off .. pend_off + pend_len). */
    struct js_pending *pend;
    size_t pend_off, pend_len, pend_cap;
    size_t npending;               /* LIVE + QUEUED: num_ack_pending */
    size_t nredelivered;           /* LIVE + QUEUED with dc > 1 */
    size_t nredelivered_dropped;   /* dropped (max_deliver) after dc > 1 */
    uint64_t *rdq;                 /* owned ring of sseqs due for redelivery */
    size_t rdq_head, rdq_len, rdq_cap;
    struct event *ack_ev;          /* owned: the next ack deadline */
    int64_t ack_at;                /* when ack_ev fires; 0 = not armed */

    /* Pull (js_pull.c). */
    struct js_pull_req *wq_head, *wq_tail; /* owned waiting queue, FIFO */
    size_t nwaiting;
    struct event *pull_ev;         /* owned: next expiry / heartbeat */

    /* Push (js_push.c). */
    bool bound;                    /* deliver subject had interest at last look */
    int64_t unbound_since;         /* wall ns; when interest was last lost */
    struct event *tick_ev;         /* owned: interest poll and inactivity */
    int tick_ms;                   /* current poll interval */
    struct event *hb_ev;           /* owned: idle heartbeats */
    int64_t last_emit;             /* wall ns of the last frame sent to it */
    char fc_reply[160];            /* outstanding flow-control request; "" none */
    uint64_t fc_bytes;             /* bytes sent and not yet credited */
    uint64_t fc_sz;                /* fc_bytes when the request was sent */
    uint64_t fc_window;

    /* Scheduling and housekeeping (js_consumer.c). */
    struct event *kick_ev;         /* owned: deferred delivery round */
    struct event *inact_ev;        /* owned: pull inactivity */
    int64_t active_at;             /* wall ns of the last sign of life */
    int64_t replay_ts, replay_wall;/* replay_policy original pacing */

    /* Proposing progress (js_consumer_store.c). */
    struct event *flush_ev;        /* owned: deferred CONSUMER_ACKS proposal */
    bool dirty;                    /* live progress not yet proposed */
    int64_t flushed_at;
};

/*
 * One consumer. Allocated by js_consumer_apply_create, owned by its stream's
 * list (st->consumers), freed by js_consumer_apply_delete or the stream's
 * js_consumer_free_all / js_consumer_release_all.
 */
struct js_consumer {
    struct js_stream *st;          /* borrowed: the stream owns us */
    struct js_consumer *next;      /* st->consumers list */
    char *name;                    /* owned */
    size_t name_len;
    struct js_consumer_config cfg; /* owned */
    int64_t created;               /* wall ns */
    bool durable;                  /* state persisted in the stream's store */
    bool push;                     /* deliver_subject set */
    struct js_filter filter;       /* cfg's filters as the store is asked */
    struct js_cprog rep;           /* replicated progress */

    /* Persistence of the replicated half (js_consumer_store.c). */
    char *meta;                    /* owned: encoded CONSUMER_CREATE entry */
    size_t meta_len;

    struct store_msg scratch;      /* owned load buffer */
    struct js_consumer_rt rt;      /* the serving node's runtime */
};

/* ---- js_consumer.c ---- */

struct js_consumer *js_consumer_find(struct js_stream *st, const char *name, size_t len);
/* ---- apply side (js_fsm_apply and start-up only; no timers, no sends) ---- */

/* The CONSUMER_* commands (js_fsm.c decodes and admits them). */
int js_consumer_fsm_create(struct js *js, const struct jscmd *cmd, struct js_result *res);
int js_consumer_fsm_update(struct js *js, const struct jscmd *cmd, struct js_result *res);
int js_consumer_fsm_delete(struct js *js, const struct jscmd *cmd, struct js_result *res);
int js_consumer_fsm_acks(struct js *js, const struct jscmd_acks *a, struct js_result *res);
/* A consumer named name with a copy of cfg (normalised, validated),
 * starting per its deliver policy on st's current state; persist: write
 * its state (not when start-up reads it back). 0, -ENOMEM, or the
 * store's error (nothing is left of it then). */
int js_consumer_apply_create(struct js_stream *st, const char *name,
                             const struct js_consumer_config *cfg, int64_t created, bool persist,
                             struct js_consumer **out);
/* The normalised config JSON a CONSUMER_CREATE (or a snapshot) carries
 * back into a struct: durables in the durable form, every other in the
 * plain one (which keeps the config's own name, or none for a
 * server-named consumer). 0, or -EINVAL with *e. */
int js_consumer_config_from_json(const struct js_stream *st, const char *json, size_t len,
                                 const char *name, struct js_consumer_config *cfg,
                                 struct js_err *e);
/* cfg passed js_consumer_config_check_update. */
int js_consumer_apply_update(struct js_consumer *c, const struct js_consumer_config *cfg);
/* Unlink and free c (detach it first on the serving node). erase: remove
 * its persisted state, and on an interest stream what only it still held. */
void js_consumer_apply_delete(struct js_consumer *c, bool erase);
/* CONSUMER_ACKS: rep becomes what a carries; what it acknowledges leaves
 * interest and work-queue streams, and the state is written. restore:
 * start-up reading back what was applied before (no removal, no write). */
int js_consumer_apply_acks(struct js_consumer *c, const struct jscmd_acks *a, bool restore);
/* Is x in the ascending array v of n sequences? (bisection) */
bool js_seqs_has(const uint64_t *v, size_t n, uint64_t x);
/* Has c, by its replicated progress, acknowledged stream sequence seq? */
bool js_consumer_rep_acked(const struct js_consumer *c, uint64_t seq);
/* Does c's state outlive the serving node (durable, or its acks remove
 * messages)? Only those propose their progress. */
bool js_consumer_replicated(const struct js_consumer *c);
/* Digest of c's replicated half (js_fsm_digest). */
uint64_t js_consumer_digest(const struct js_consumer *c, uint64_t h);

/* ---- runtime (the serving node) ---- */

/* Start serving c: timers, delivery state rebuilt from rep when it is not
 * current. Undo it; status: what waiting pull requests hear (NULL:
 * nothing). */
int js_consumer_attach(struct js_consumer *c);
void js_consumer_detach(struct js_consumer *c, const char *status);
/* After an applied update: the runtime follows the new config. */
void js_consumer_updated(struct js_consumer *c);
/* Inactivity or lost interest: propose the consumer's deletion. */
void js_consumer_propose_delete(struct js_consumer *c);
/* Free c's memory (apply_delete after unlinking it). */
void js_consumer_free(struct js_consumer *c);

/* Run a delivery round soon (after the current event). */
void js_consumer_kick(struct js_consumer *c);
/* Run one at a later wall time (replay pacing). */
void js_consumer_kick_at(struct js_consumer *c, int64_t when);
/* Choose the next message: 0 (filled n), -ENOENT nothing to deliver,
 * -EAGAIN max_ack_pending reached, -EBUSY paced (a kick is scheduled). */
int js_consumer_peek(struct js_consumer *c, struct js_cnext *n);
/* Account the delivery js_consumer_peek chose (sequences, pending). */
void js_consumer_take(struct js_consumer *c, struct js_cnext *n);
/* Send the chosen message to subject to (the deliver subject or a pull
 * request's reply), presenting its stored subject. */
void js_consumer_emit(struct js_consumer *c, const struct js_cnext *n, const char *to,
                      size_t tolen);
uint64_t js_consumer_num_pending(struct js_consumer *c);
/* Messages available for delivery now (redeliveries + num_pending). */
uint64_t js_consumer_available(struct js_consumer *c);

/* ---- js_consumer_ack.c ---- */

int js_consumer_ack_init(struct js_consumer *c);
struct js_pending *js_consumer_pend_find(struct js_consumer *c, uint64_t sseq);
/* Settle one entry; acked: by an ack (else dropped: max_deliver, gone). */
void js_consumer_pend_done(struct js_consumer *c, struct js_pending *p, bool acked);
void js_consumer_rdq_pop(struct js_consumer *c);
/* Acks as the runtime hears them (spec §8.6); sseq/cseq from the ack
 * subject. They settle live pending entries; the progress reaches rep and
 * the stream through the next CONSUMER_ACKS. */
/* False when sseq lies beyond what this runtime knows was delivered: a
 * copy a former leader sent but never got into the replicated progress.
 * Such an ack changes nothing here and must not be confirmed (the message
 * comes again, as for any ack that was lost). */
bool js_consumer_on_ack(struct js_consumer *c, uint64_t sseq, uint64_t cseq);
void js_consumer_on_nak(struct js_consumer *c, uint64_t sseq, int64_t delay);
void js_consumer_on_progress(struct js_consumer *c, uint64_t sseq);
void js_consumer_on_term(struct js_consumer *c, uint64_t sseq);
/* Drop settled entries from the front of c->pend; by_ack: an ack settled
 * them, so the ack floor moves (nats-server moves it only then). */
void js_consumer_settle(struct js_consumer *c, bool by_ack);
/* Append/track one pending entry (used by restore). */
int js_consumer_pend_add(struct js_consumer *c, uint64_t sseq, uint64_t cseq, uint32_t dc,
                         enum js_pend_state state);
int64_t js_consumer_ack_wait(const struct js_consumer *c, uint32_t dc);
void js_consumer_arm_ack(struct js_consumer *c, int64_t deadline);
/* "NATS/1.0 100 Idle Heartbeat..." for c into buf (stalled: + FC subject). */
void js_consumer_heartbeat(struct js_consumer *c, const char *to, size_t tolen);

/* ---- js_consumer_store.c ---- */

/* Write c's config and rep (durable file consumers only). 0 or -errno. */
int js_consumer_save(struct js_consumer *c);
/* c's live progress changed: propose it soon (coalesced). */
void js_consumer_mark_dirty(struct js_consumer *c);
/* Propose c's live progress now if it changed; reply (rlen 0: none) is
 * answered with an empty message once that is applied and on disk (an
 * ack_sync), or at once when there is nothing to propose. */
void js_consumer_flush(struct js_consumer *c, const char *reply, size_t rlen);
void js_consumer_erase(struct js_consumer *c);
/* The live delivery state rebuilt from rep (attach; start-up). */
int js_consumer_live_from_rep(struct js_consumer *c);

/* ---- js_pull.c ---- */

/* A MSG.NEXT request (or +NXT) with body for c, replies to reply. */
void js_pull_request(struct js_consumer *c, const char *reply, size_t rlen, const char *body,
                     size_t blen);
void js_pull_deliver(struct js_consumer *c);
/* Drop every waiting request; status (NULL: none) is sent to each. */
void js_pull_cancel_all(struct js_consumer *c, const char *status);
int js_pull_init(struct js_consumer *c);

/* ---- js_push.c ---- */

int js_push_init(struct js_consumer *c);
void js_push_deliver(struct js_consumer *c);
/* Is the deliver subject subscribed now? Updates c->bound. */
bool js_push_check_interest(struct js_consumer *c);
/* The deliver subject changed (update of an unbound consumer). */
void js_push_reset(struct js_consumer *c);
/* An empty reply to $JS.FC.<stream>.<consumer>.<id>. */
void js_push_fc_reply(struct js_consumer *c, const char *subject, size_t len);
/* Deliver a message to the subscribers of to, with subj on its MSG line
 * (js_send presents the routing subject; a delivery must not), on this
 * node and over routes (deliver_publish_as). Returns the number of
 * subscriptions or routes that took it. */
size_t js_consumer_send(struct js *js, const char *to, size_t tolen, const char *subj,
                        size_t slen, const char *reply, size_t rlen, const char *hdr,
                        size_t hlen, const char *data, size_t dlen);

/* ---- js_consumer_api.c ---- */

/* ConsumerInfo JSON (malloc'd); type NULL for a list item (no "type"). */
char *js_consumer_info_json(struct js_consumer *c, const char *type);

#endif
