/*
 * server/jetstream/js_fsm.h — the JetStream state machine: the one mutator
 * of replicated JetStream state, in the shape of canonical/raft's
 * struct raft_fsm (spec/raft.md §4).
 *
 * Contract of js_fsm_apply:
 *   - It is the only code that changes replicated state for the commands it
 *     takes: streams and their configs, messages and sequences, the
 *     per-subject index, the msg-id table, and the removals that limits,
 *     rollups, purges and age expiry cause.
 *   - It is deterministic: time comes from the command (PUBLISH ts_ns,
 *     STREAM_CREATE created_ns, STREAM_EXPIRE cutoff_ns/now_ns), and per
 *     stream it never goes backwards across entries; every limit it enforces
 *     is in the replicated state or in the command (the account limit a
 *     proposer puts in a PUBLISH). It parses no NATS headers: the proposer
 *     has put Nats-Msg-Id, Nats-Expected-* and Nats-Rollup in the command.
 *   - It sends nothing, subscribes to nothing and arms no timer. What the
 *     leader-only runtime must do about a change (subscribe a new stream's
 *     subjects, wake consumers) it learns from the result's flags and the
 *     stream's pending flags, after apply returns (js_propose.c).
 *   - Business outcomes (10071 wrong last sequence, duplicate, limits,
 *     10058, 10065, ...) go in *res. A negative return means only "this
 *     replica cannot continue" (its store failed to write): the caller
 *     must stop the node rather than answer, because replicas would
 *     diverge. On one node the proposer turns it into a 10023 reply.
 *
 * The entry is a decoded proto/jscmd.h command; its borrowed bytes only
 * need to live for the call. Runs on the JetStream loop only.
 */
#ifndef TERN_SERVER_JETSTREAM_JS_FSM_H
#define TERN_SERVER_JETSTREAM_JS_FSM_H

#include <stdbool.h>
#include <stdint.h>

#include "proto/jscmd.h"
#include "server/jetstream/js_config.h"

struct js;

/* What applying one command did. The error, when there is one, is in err
 * (err.err_code != 0); the other fields are filled per op. */
struct js_result {
    enum jscmd_op op;
    struct js_err err;        /* err_code 0: success */
    uint64_t stream_id;       /* the stream it concerned; 0 when none */
    uint64_t seq;             /* PUBLISH: stored sequence, or the original's
                                 when duplicate */
    bool duplicate;           /* PUBLISH: Nats-Msg-Id seen in the window */
    bool dropped;             /* PUBLISH: settled with no reply at all (an
                                 unknown Nats-Rollup value, as 2.9) */
    bool republish;           /* PUBLISH: stored on a stream with republish
                                 (not when interest retention kept nothing:
                                 2.9 stores nothing then); the serving node
                                 sends the copy (js_republish.c) */
    uint64_t last_subj_seq;   /* with republish: the last sequence stored on
                                 the same subject before this one (0: none),
                                 the copy's Nats-Last-Sequence */
    bool created;             /* STREAM_CREATE, CONSUMER_CREATE: a new one
                                 (not the same config again) */
    bool updated;             /* CONSUMER_CREATE/UPDATE: an existing
                                 consumer took a changed config */
    bool subjects_changed;    /* STREAM_UPDATE: the runtime resubscribes */
    uint64_t purged;          /* STREAM_PURGE, STREAM_EXPIRE */
};

static inline bool js_result_ok(const struct js_result *r)
{
    return r->err.err_code == 0;
}

/* Apply one command (see the contract above). *res is always filled. */
int js_fsm_apply(struct js *js, const struct jscmd *cmd, struct js_result *res);

/* A digest of the replicated state: stream configs, created times, every
 * stored message with its sequence, subject, headers, payload and time,
 * the last sequence's time, consumers' configs and replicated progress,
 * and with dedupe the msg-id table, the last msg id and each stream's
 * clock. Equal on replicas that
 * applied the same log. A restart rebuilds the dedupe table from the
 * stored messages (as nats-server does), so compare a restarted replica
 * without it. For tests and, later, for replica comparison. */
uint64_t js_fsm_digest(struct js *js, bool dedupe);

/* A replica without runtime (never active, no loop, no network): the
 * state machine alone over the store directory root (created if needed,
 * file streams found there loaded), with a proposer so that committed
 * raft entries can be applied through js_propose_apply_entry as on a
 * member that does not serve. For the in-process replica tests.
 * 0 or negative; close with js_fsm_replica_close. */
int js_fsm_replica_open(const char *root, struct js **out);
void js_fsm_replica_close(struct js *js);

/* ---- snapshot and restore (js_snapshot.c; spec/raft.md §4, §8.5) ----
 *
 * The whole replicated state in one msgpack buffer, for raft's snapshot
 * and InstallSnapshot: every stream (config, created time, clock, first
 * and last sequence and the last sequence's time, every stored message
 * with its sequence, time, subject, headers and payload, the msg-id table
 * and the last msg id) and every consumer (config, created time, its
 * replicated progress struct js_cprog). The format, byte for byte, is at
 * the top of js_snapshot.c and in server/store/FORMAT.md.
 *
 * js_fsm_snapshot: *buf is malloc'd (the caller frees it); the state is
 * not changed. 0, -ENOMEM, -EIO (a stored message could not be read),
 * -EFBIG (a count past 2^32). Runs on the JetStream loop; it reads every
 * stored message, so it costs what the streams hold.
 *
 * js_fsm_restore: replaces the whole state with the snapshot's: every
 * stream is deleted with its files, then the snapshot's are built (file
 * streams written and synced), so that js_fsm_digest(js, true) equals the
 * digest of the engine that took it. buf is untrusted (it comes from the
 * network) and borrowed for the call. A malformed snapshot gives -EPROTO
 * (why is logged); a store that fails gives its -errno; either way the
 * engine is left empty and consistent, never half built. The engine must
 * not be serving (js->active: raft restores only followers and starting
 * nodes): -EBUSY, nothing changed. */
int js_fsm_snapshot(struct js *js, void **buf, size_t *len);
int js_fsm_restore(struct js *js, const void *buf, size_t len);

#endif
