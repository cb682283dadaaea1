/*
 * cluster/jsraft_impl.h — what the files of the JetStream raft group share
 * (private to cluster/jsraft*.c; the contract is cluster/jsraft.h).
 *
 * jsraft.c drives raft from the JetStream loop, feeds its log to the engine
 * and follows leadership; jsraft_members.c forms the group, keeps this
 * node's id and takes members in; jsraft_lease.c holds the leader's lease
 * and tells /healthz whether this node can serve.
 */
#ifndef TERN_CLUSTER_JSRAFT_IMPL_H
#define TERN_CLUSTER_JSRAFT_IMPL_H

#include <raft.h>
#include <raft/uv.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "cluster/jslease.h"
#include "cluster/jsraft_io.h"
#include "cluster/jsraft.h"

#define POLL_MS 50
#define MAX_PEERS 16
/* Raft timing: elections within 1-2 s of losing a leader (nats-server's
 * take 4-9 s), heartbeats well inside that. */
#define ELECTION_MS 1000
#define HEARTBEAT_MS 100
/* Snapshots: every SNAPSHOT_EVERY entries, keeping SNAPSHOT_TRAILING
 * behind for followers that lag a little (they get the snapshot when they
 * lag more). Entries are publish batches, so this is many messages. */
#define SNAPSHOT_EVERY 4096
#define SNAPSHOT_TRAILING 4096
/* Short: a 0.15 follower busy with its own snapshot drops an incoming
 * InstallSnapshot, and the leader only retries after this timeout. */
#define INSTALL_SNAPSHOT_MS 10000
#define SEGMENT_SIZE (4u << 20)

/* A follower's apply is deferred past its answer to at most this much. */
#define DEFER_MAX_BYTES (64u << 20)

/* A committed entry a follower applies later. Owned by the queue. */
struct deferred {
    struct deferred *next;
    raft_index index;
    size_t len;
    char data[];
};

/* Owned by its proposer's call until raft calls back. */
struct jsraft_req {
    struct raft_apply req;
    struct jsraft *r;         /* borrowed */
    void *ctx;                /* the engine's */
    raft_term term;           /* proposed in this term ... */
    int64_t appended_ms;      /* ... at this time (lease) */
};

/* Owned by the server (jsraft_start / jsraft_stop). Touched only on the
 * JetStream thread once its loop runs (before: the main thread). */
struct jsraft {
    struct jsraft_engine engine;
    struct cluster *cl;        /* borrowed */
    struct event_base *base;   /* borrowed */
    char *dir, *name, *cluster_name; /* owned */
    uv_loop_t loop;
    bool loop_inited;
    struct event *io_ev, *timer_ev, *poll_ev; /* owned */
    struct raft_uv_transport transport;
    bool transport_inited;
    struct raft_io io;         /* libuv's (raft_uv_init) */
    bool io_inited;
    struct jsraft_io guard;    /* what raft is given: io, votes held after start */
    struct raft_fsm fsm;
    struct raft raft;
    bool raft_inited, closed;
    raft_id id;
    bool had_state;            /* raft state existed at start */
    bool started;              /* raft_start done */
    raft_index start_index;    /* the log's last entry when raft started:
                                  entries up to it are JSRAFT_APPLY_REPLAY */
    bool waiting_logged;
    bool fresh;                /* bootstrapped in this run, no leader seen */
    bool joining;              /* started empty; asking to be added */
    int64_t join_asked;        /* poll ticks since the last join request */
    bool changing;             /* a membership change runs (leader) */
    struct raft_change change;
    enum jsraft_role role;     /* what the engine was last told */
    raft_id leader_seen;
    char leader_name[128];
    bool barrier_pending;
    struct raft_barrier barrier;
    int64_t barrier_at_ms;     /* when the barrier was appended (lease) */
    raft_term transfer_term;   /* a transfer began in this term ... */
    int64_t transfer_until_ms; /* ... and may elect another until then */
    struct jslease lease;      /* this node's, while it leads */
    struct deferred *def_head, **def_tail; /* owned: entries a follower applies later */
    size_t def_bytes;
    struct event *drain_ev;    /* owned: applies them */
};

/* jsraft.c */
void jsraft__die(struct jsraft *r, const char *what, int rc);
void jsraft__kick(struct jsraft *r);
int jsraft__init_raft(struct jsraft *r, raft_id id);
void jsraft__start_raft(struct jsraft *r, int state);

/* jsraft_members.c */
raft_id jsraft__read_id(struct jsraft *r);
int jsraft__write_id(struct jsraft *r, raft_id id);
void jsraft__try_bootstrap(struct jsraft *r);
bool jsraft__is_voter(struct jsraft *r, raft_id id);

/* jsraft_lease.c */
int64_t jsraft__now_ms(void);
/* Follow raft's term and role for the lease (each poll, and before use). */
void jsraft__lease_follow(struct jsraft *r);
/* The barrier or an entry proposed in term at appended_ms committed. */
void jsraft__lease_committed(struct jsraft *r, raft_term term, int64_t appended_ms);
/* Leader, each poll: send a probe through the engine. */
void jsraft__lease_probe(struct jsraft *r);
/* A leadership transfer started: followers may now vote for its target
 * at once, so nothing earlier counts and nothing counts for a while. */
void jsraft__lease_transfer(struct jsraft *r);

#endif
