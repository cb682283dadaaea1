/*
 * server/jetstream/js_propose.h — the proposer: the one way requests,
 * publishes and timers change JetStream state.
 *
 * A caller builds a proto/jscmd.h command (the API from a request, the
 * publish path from a message and its headers, the expiry timer from its
 * clock) and proposes it with the reply subject its answer goes to. On one
 * node the proposer applies it at once (js_fsm_apply), does what the
 * leader-only runtime must do about the change (subscribe a new stream,
 * drop a deleted one's subscriptions, queue a republished copy), and
 * keeps the typed result. At the
 * end of the inbound batch, js_propose_commit syncs every stream the batch
 * changed (group commit) and only then renders and sends the replies, so
 * every confirmation means "on disk". With raft the same commands go to
 * the log instead, and the results are released from the apply callback.
 *
 * A reply the proposer cannot keep (out of memory) is logged and counted,
 * never dropped silently. Runs only on the JetStream loop.
 */
#ifndef TERN_SERVER_JETSTREAM_JS_PROPOSE_H
#define TERN_SERVER_JETSTREAM_JS_PROPOSE_H

#include <stddef.h>
#include <stdint.h>

#include "proto/jscmd.h"

struct js;
struct js_stream;
struct js_inmsg;
struct js_result;

int js_propose_init(struct js *js);
/* Shutdown: replies still held are sent if their streams sync. */
void js_propose_free(struct js *js);

/* Propose cmd; its result is answered to reply (rlen 0: no answer) after
 * the commit. The command's borrowed bytes need only live for the call.
 * 0, or negative when the replica had to refuse it (logged; the caller's
 * client gets the error reply regardless). */
int js_propose(struct js *js, const struct jscmd *cmd, const char *reply, size_t rlen);

/* A message heard on one of st's subjects: its headers become the command's
 * fields (Nats-Msg-Id, Nats-Expected-*, Nats-Rollup), its time the node's
 * clock, the account limit the node's option. */
void js_propose_publish(struct js *js, struct js_stream *st, const struct js_inmsg *m);

/* An inbound batch starts: proposals wait for its js_propose_commit. */
void js_propose_batch_begin(struct js *js);
/* End of an inbound batch: sync, then answer and wake consumers. */
void js_propose_commit(struct js *js);

/* ---- replicated mode (cluster/jsraft.c drives it) ---- */

/* A replicated log the proposer hands commands to instead of applying them
 * itself. propose takes an encoded entry (its length a multiple of 8; the
 * log copies it) and ctx, and returns 0 when the log took it, or negative
 * (not the leader, no memory): the requests are then answered 10008, and
 * publishes not at all. Once taken, the log calls js_propose_done with ctx
 * exactly once. */
struct js_log {
    void *arg;
    int (*propose)(void *arg, const char *entry, size_t len, void *ctx);
};
/* From now on commands go to log (NULL: apply here, as on one node). */
void js_propose_set_log(struct js *js, const struct js_log *log);
/* How a member applies a committed entry (cluster/jsraft.h says which). */
enum js_apply_as {
    JS_APPLY_REPLAY = 0,      /* a restart replaying its log: no side effect */
    JS_APPLY_FOLLOWING,       /* another node led: it republished; this one
                                 remembers the last moments' copies in case
                                 it must take over (js_republish.c) */
    JS_APPLY_LEADING,         /* this node committed it: it republishes */
};

/* A committed entry, on every member in log order: apply it (with what
 * the runtime does around it on the serving node). *results (n of them,
 * valid until the next call) are its outcomes. Negative: this replica
 * cannot continue (its store failed). */
int js_propose_apply_entry(struct js *js, const char *entry, size_t len, enum js_apply_as as,
                           const struct js_result **results, size_t *n);
/* An entry this node proposed: applied (status 0, its results) or not
 * known to be (any other status): answer what waited for it. */
void js_propose_done(struct js *js, void *ctx, int status, const struct js_result *res,
                     size_t n);

/* Replies that could not be queued or sent since start (monitoring, logs). */
uint64_t js_propose_lost(const struct js *js);


/* Rendering of API results (js_api.c): the reply for an API command's
 * result, sent to reply. */
void js_api_render(struct js *js, const char *reply, size_t rlen, const struct js_result *res);
/* The same for the consumer commands (js_consumer_api.c); consumer is the
 * name the command carried. */
void js_consumer_api_render(struct js *js, const char *reply, size_t rlen,
                            const struct js_result *res, const char *consumer);

#endif
