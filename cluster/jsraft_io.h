/*
 * cluster/jsraft_io.h — the raft_io the JetStream group hands to raft:
 * libuv's (raft_uv_init), passed through call for call, except that it can
 * hold back vote requests for a while.
 *
 * Why: the leader's lease (cluster/jslease.h) counts on each follower's
 * promise not to vote for anyone else until an election timeout after it
 * last heard from its leader. A member that restarts has forgotten who its
 * leader was, and 0.15 grants a vote at once to a member with no leader.
 * Holding RequestVote back for one election timeout after start keeps
 * every promise it may have made before the crash, while the member still
 * takes AppendEntries, snapshots and heartbeats from a leader at once (a
 * restarted follower catches up without waiting). When the time is up the
 * newest request of each candidate is handed to raft, which answers it as
 * if it had just arrived (a stale one is refused by its term).
 *
 * The wrapper is raft's io (struct raft_io is its first member); libuv's io
 * keeps its own callbacks pointed at the wrapper, which passes them on to
 * raft with raft's io, so raft never sees the libuv one.
 */
#ifndef TERN_CLUSTER_JSRAFT_IO_H
#define TERN_CLUSTER_JSRAFT_IO_H

#include <raft.h>
#include <stdbool.h>
#include <stdint.h>

#define JSRAFT_IO_HELD 8          /* vote requests kept, one per candidate */
#define JSRAFT_IO_ADDR_MAX 256

/* A vote request held back, with its own copy of the sender's address. */
struct jsraft_io_held {
    struct raft_message msg;
    char address[JSRAFT_IO_ADDR_MAX];
    bool used;
};

/* Embedded in struct jsraft; lives from jsraft_io_init to after raft and
 * libuv's io are closed. */
struct jsraft_io {
    struct raft_io io;          /* given to raft_init */
    struct raft_io *uv;         /* borrowed: libuv's, already initialised */
    raft_io_tick_cb tick;       /* raft's, from start() */
    raft_io_recv_cb recv;
    raft_io_close_cb close_cb;
    raft_time votes_from;       /* in uv's clock: RequestVote held before */
    uint64_t votes_held;
    struct jsraft_io_held held[JSRAFT_IO_HELD]; /* the newest from each candidate */
};

/* Wrap uv (initialised by raft_uv_init, not yet given to raft). */
void jsraft_io_init(struct jsraft_io *g, struct raft_io *uv);
/* Hold back vote requests that arrive during the next ms milliseconds. */
void jsraft_io_hold_votes(struct jsraft_io *g, unsigned ms);
/* Once the time is up, hand raft the newest request of each candidate
 * (the candidate that was waiting wins at once instead of racing the
 * members' own first elections). Call often (each poll); JetStream
 * thread, outside raft's callbacks. Returns how many were handed over. */
int jsraft_io_release_votes(struct jsraft_io *g);

#endif
