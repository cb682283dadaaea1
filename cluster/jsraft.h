/*
 * cluster/jsraft.h — the raft group that replicates JetStream: canonical/raft
 * 0.15 driven from the JetStream thread, its log fed to the engine's state
 * machine, its leadership deciding which node serves.
 *
 * One group of all the Tern nodes of the cluster holds every stream and
 * consumer (spec/raft.md §8.2). It forms by itself from what the routes
 * tell: once this node has routes to as many Tern peers as its configured
 * routes promise, and every one of them, like this node, has never had
 * raft state, each node bootstraps the same configuration (the server
 * names, sorted; ids derived from them), once. A node with raft state
 * just starts. A node with none among peers that have a group (its store
 * was wiped) starts empty under a fresh id and asks the leader to take it
 * in: the old incarnation is removed, the new one added and made a voter
 * once caught up. Raft travels over the cluster port (cluster/raft_transport.h),
 * addressed by server name, so no port or address needs configuring.
 *
 * The raft leader serves JetStream, but only after a barrier has applied
 * everything earlier terms committed; the engine learns its role through
 * jsraft_engine.role. It delivers and reads from its state only under a
 * lease (jsraft_lease_valid): once it cannot be sure that no other member
 * was elected meanwhile, it holds them back. Everything here runs on the JetStream thread: raft's
 * libuv loop is driven from the engine's libevent loop (its backend fd and
 * timeout), so the state machine's callbacks run where the state lives.
 * Any raft I/O error, and a replica that cannot apply, stop the node with
 * a log line rather than risk silent damage (spec/raft.md §9, §11).
 */
#ifndef TERN_CLUSTER_JSRAFT_H
#define TERN_CLUSTER_JSRAFT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cluster;
struct event_base;
struct jsraft;

/* How this node applies a committed entry (jsraft_engine.apply). */
enum jsraft_apply_as {
    JSRAFT_APPLY_REPLAY = 0,  /* it was in this node's log when raft started:
                                 a restart replaying what it applied before */
    JSRAFT_APPLY_FOLLOWING,   /* a leader committed it (and applied it first) */
    JSRAFT_APPLY_LEADING,     /* this node leads and committed it itself: its
                                 own proposals, and the tail of an earlier
                                 term that its barrier commits */
};

enum jsraft_role {
    JSRAFT_NO_LEADER = 0, /* none known: JetStream requests get 10008 */
    JSRAFT_FOLLOWER,      /* another node serves */
    JSRAFT_LEADER,        /* this node serves (after its barrier) */
};

/* What the group drives: the JetStream engine (server/jetstream). */
struct jsraft_engine {
    void *arg;
    /* A committed entry, on every member in log order; as says how (the
     * engine's side effects of an entry, republish, belong to the node
     * that applies it LEADING). *result is handed to done (on the member
     * that proposed it). Negative: this replica cannot continue (the node
     * stops). */
    int (*apply)(void *arg, const char *entry, size_t len, enum jsraft_apply_as as,
                 void **result);
    /* An entry proposed here: applied (status 0) or not known to be. */
    void (*done)(void *arg, void *ctx, int status, void *result);
    void (*role)(void *arg, enum jsraft_role role);
    /* The whole state as one buffer (malloc'd, caller frees) / replace the
     * whole state with one. 0 or negative. */
    int (*snapshot)(void *arg, void **buf, size_t *len);
    int (*restore)(void *arg, const void *buf, size_t len);
    /* This node started empty among peers with a group: ask the group's
     * leader (wherever it is) to take name/id in; called every second
     * until it is in. The leader's engine hands the request to
     * jsraft_admit. */
    void (*ask_join)(void *arg, const char *name, unsigned long long id);
    /* Leader: send this lease probe to every member, asking for answers
     * back here (the engine hands them to jsraft_lease_take). */
    void (*lease_probe)(void *arg, const char *line, size_t len);
};

struct jsraft_config {
    struct event_base *base;   /* the JetStream loop (borrowed) */
    struct cluster *cluster;   /* borrowed */
    const char *dir;           /* raft's directory (created if missing) */
    const char *name;          /* this node's server name */
    const char *cluster_name;  /* for log lines */
    struct jsraft_engine engine;
};

/* Main thread, before the JetStream loop runs: open the directory and set
 * raft up; the group forms (or restarts) from the loop. 0 or negative. */
int jsraft_start(const struct jsraft_config *cfg, struct jsraft **out);
/* JetStream thread: hand an encoded entry (len a multiple of 8; copied) to
 * raft with ctx. 0, or negative when this node cannot take it (not the
 * leader): then done is never called. */
int jsraft_propose(struct jsraft *r, const char *entry, size_t len, void *ctx);
/* After the JetStream loop stopped: close raft and free everything. */
void jsraft_stop(struct jsraft *r);

/* Monitoring and stream info (JetStream thread): the leader's server name
 * ("" when none), this node's role, the group's member names. */
const char *jsraft_leader_name(const struct jsraft *r);
enum jsraft_role jsraft_role(const struct jsraft *r);
/* Leader: one step towards having the node named name in the group
 * under id (remove its old incarnation, add it, make it a voter); the
 * joiner repeats its request until it is in. 0, or negative when this
 * node cannot (not the leader). */
int jsraft_admit(struct jsraft *r, const char *name, unsigned long long id);
/* Voters in the group's configuration (0 before raft started). */
int jsraft_size(const struct jsraft *r);

/* One other member as the leader sees it (stream and consumer info's
 * cluster.replicas). */
struct jsraft_peer {
    char name[128];
    bool current;              /* has every entry the leader has */
    bool offline;              /* not heard from within an election timeout */
    int64_t active_ns;         /* since the leader last sent to it */
    uint64_t lag;              /* entries it lacks */
    uint64_t match_index;      /* the highest entry it has acknowledged */
};
/* The members other than this node, sorted by name (meaningful on the
 * leader; elsewhere they read offline). Fills at most max; returns how
 * many there are. */
size_t jsraft_peers(struct jsraft *r, struct jsraft_peer *out, size_t max);
/* This node's raft figures for /metrics (JetStream thread). raft 0.15
 * keeps no time of a follower's last answer, only whether one came within
 * an election timeout (jsraft_peer.offline). */
struct jsraft_status {
    const char *state;         /* static: "follower", "candidate", "leader",
                                  or "unavailable" (not started, or closing) */
    uint64_t term;
    uint64_t commit_index;     /* the highest entry known committed */
    uint64_t applied_index;    /* the highest the engine has applied (a
                                  follower defers applies past its answer) */
    uint64_t last_index;       /* the highest in this node's log */
};
void jsraft_status(struct jsraft *r, struct jsraft_status *out);
/* Hand leadership to another member (a stepdown request). cb(arg, moved)
 * runs on the JetStream thread once raft is done: moved tells whether
 * another member now leads (0.15 may silently not transfer). 0, or
 * negative when this node is not the leader or a transfer runs. */
int jsraft_transfer(struct jsraft *r, void (*cb)(void *arg, bool moved), void *arg);

/* The leader's lease (cluster/jslease.h), JetStream thread. Whether this
 * node may serve deliveries and reads now: the serving leader, sure that
 * no other member can have been elected. */
bool jsraft_lease_valid(struct jsraft *r);
/* Any member: the answer to a probe (into out, cap at least
 * JSLEASE_LINE_MAX), or 0 when this node has nothing to promise. */
size_t jsraft_lease_answer(struct jsraft *r, const char *probe, size_t len, char *out,
                           size_t cap);
/* Leader: a member's answer. True when it gave back a lease this node had
 * lost (deliveries held meanwhile can go now). */
bool jsraft_lease_take(struct jsraft *r, const char *answer, size_t len);
/* Until when (CLOCK_MONOTONIC ms) this node can serve JetStream: the
 * leader while its lease holds, a follower while it hears its leader; 0 or
 * a past time when it cannot (/healthz). */
int64_t jsraft_serve_until_ms(struct jsraft *r);

#endif
