/*
 * cluster/jsraft_io.h — the raft_io the JetStream group hands to raft:
 * libuv's (raft_uv_init), passed through call for call, except that it
 * decides when raft sees a vote request.
 *
 * Why, after a restart: the leader's lease (cluster/jslease.h) counts on
 * each follower's promise not to vote for anyone else until an election
 * timeout after it last heard from its leader. A member that restarts has
 * forgotten who its leader was, and 0.15 grants a vote at once to a member
 * with no leader. Holding RequestVote back for one election timeout after
 * start keeps every promise it may have made before the crash, while the
 * member still takes AppendEntries, snapshots and heartbeats from a leader
 * at once (a restarted follower catches up without waiting).
 *
 * Why, while following: 0.15 refuses every vote request while it has a
 * leader, until its own randomised timer (one to two election timeouts)
 * fires and it stands itself. When a leader dies, the first follower to
 * stand is refused by the other, which then stands in the same term: a
 * split vote, and the group waits another one to two timeouts (a leader
 * kill cost 2.8 s of writes for that alone). So a request that arrives
 * while this follower heard from its leader less than an election timeout
 * ago is held; at the timeout (the promise the lease counts on is then
 * kept) it is handed to raft marked "disrupt leader", raft's flag for a
 * vote that may pass a current leader, and the candidate wins at once.
 * One that arrives later is marked and passed at once. A request already
 * marked (a leadership transfer) always passes.
 *
 * Held requests: the newest of each candidate, each handed to raft as if
 * it had just arrived (a stale one is refused by its term); one held
 * longer than two election timeouts is dropped (its candidate has asked
 * again since, or given up).
 *
 * Why a candidate asks again: 0.15 sends each vote request once, and its
 * connections to peers are write-only, so one to a member that restarted
 * since it was last used is found dead only by a write that fails, and
 * the request written just before is lost (so is a voter's answer). The
 * candidate would wait out another one to two election timeouts. So while
 * this member stands in a term, a vote request not yet answered goes again
 * every tick (100 ms): the second write finds the dead connection, raft
 * redials, the third arrives; a voter answers a repeated request as the
 * first (the same vote).
 *
 * The wrapper is raft's io (struct raft_io is its first member); libuv's io
 * keeps its own callbacks pointed at the wrapper, which passes them on to
 * raft with raft's io, so raft never sees the libuv one. It reads raft's
 * public state (role, current leader, election timer) on raft's thread.
 */
#ifndef TERN_CLUSTER_JSRAFT_IO_H
#define TERN_CLUSTER_JSRAFT_IO_H

#include <raft.h>
#include <stdbool.h>
#include <stdint.h>

#define JSRAFT_IO_HELD 8          /* vote requests kept, one per candidate */
#define JSRAFT_IO_ADDR_MAX 256
#define JSRAFT_IO_RESEND_MS 100   /* an unanswered vote request goes again */

/* A vote request kept: one held back (from a candidate) or one this
 * member sent as a candidate, until answered or its term is over. The
 * message's server_address points at address, its own copy. */
struct jsraft_io_kept {
    struct raft_message msg;
    char address[JSRAFT_IO_ADDR_MAX];
    raft_time at;               /* arrived or last sent, in uv's clock */
    bool used;
    bool answered;              /* sent ones: a result came back */
};

/* Embedded in struct jsraft; lives from jsraft_io_init to after raft and
 * libuv's io are closed. */
struct jsraft_io {
    struct raft_io io;          /* given to raft_init */
    struct raft_io *uv;         /* borrowed: libuv's, already initialised */
    const struct raft *raft;    /* borrowed: the raft given io (jsraft_io_watch) */
    raft_io_tick_cb tick;       /* raft's, from start() */
    raft_io_recv_cb recv;
    raft_io_close_cb close_cb;
    raft_time votes_from;       /* in uv's clock: RequestVote held before */
    uint64_t votes_held;        /* held after a restart (logged once) */
    uint64_t votes_passed_leader; /* handed over marked "disrupt leader" */
    struct jsraft_io_kept held[JSRAFT_IO_HELD];  /* the newest from each candidate */
    struct jsraft_io_kept asked[JSRAFT_IO_HELD]; /* ours, the newest to each voter */
    uint64_t votes_resent;
};

/* Wrap uv (initialised by raft_uv_init, not yet given to raft). */
void jsraft_io_init(struct jsraft_io *g, struct raft_io *uv);
/* The raft that was given g->io (after raft_init): whether it follows a
 * leader, and since when, decides when a vote request may pass. */
void jsraft_io_watch(struct jsraft_io *g, const struct raft *raft);
/* Hold back vote requests that arrive during the next ms milliseconds. */
void jsraft_io_hold_votes(struct jsraft_io *g, unsigned ms);
/* Hand raft every held request whose time has come (raft's own ticks do
 * this too). Call often (each poll); JetStream thread, outside raft's
 * callbacks. Returns how many were handed over. */
int jsraft_io_release_votes(struct jsraft_io *g);

#endif
