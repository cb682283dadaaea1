/*
 * server/jetstream/jetstream.h — JetStream for one node: what the rest of the server
 * sees of it.
 *
 * With -js the server starts one more loop, the JetStream loop, which owns
 * every stream, consumer and store. It hears the API, stream subjects and
 * acks through internal subscriptions in the shared subject index, so
 * clients reach it with ordinary PUB/HPUB from any I/O loop (and, in a
 * cluster, from any node). Nothing on the I/O loops touches disk.
 */
#ifndef TERN_SERVER_JETSTREAM_H
#define TERN_SERVER_JETSTREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct server;
struct jetstream;

/* What /jsz, /varz and /metrics report (server/monitor_js.c): a copy the
 * JetStream loop refreshes a few times a second (js_stats.c), so
 * monitoring never reaches into the loop's state. */
struct jetstream_stats {
    int64_t max_memory, max_storage;   /* configured limits; -1 = none */
    uint64_t memory, storage;          /* bytes stored, by storage kind */
    uint64_t reserved_memory, reserved_storage; /* streams' max_bytes */
    uint64_t streams, consumers, messages, bytes;
    uint64_t api_total, api_errors;
    /* Clustered: the raft group as this node sees it. */
    bool clustered;
    int cluster_size;          /* voters in the group (0 before it forms) */
    char leader[128];          /* the serving node's name; "" when none */
    /* Until when (CLOCK_MONOTONIC ms) this node can serve JetStream: the
     * leader while its lease holds, a follower while it hears the leader
     * (cluster/jsraft.h). /healthz compares it with its own clock. */
    int64_t serve_until_ms;
    /* Clustered: this node's raft figures (cluster/jsraft.h's
     * jsraft_status; raft_state is a static string, NULL unclustered). */
    const char *raft_state;
    uint64_t raft_term, raft_commit, raft_applied, raft_last;
};

/* One stream as /jsz?streams=true and /metrics show it. */
struct jetstream_stream_stats {
    char *name;        /* owned by the snapshot */
    int64_t created;   /* ns since the epoch */
    char *state_json;  /* owned: the state object of STREAM.INFO */
    uint64_t msgs, bytes, first_seq, last_seq, num_subjects, consumers;
    int64_t max_msgs, max_bytes;       /* its limits; -1 = none */
};

/* One consumer as /metrics shows it: only the node that serves consumers
 * (the group's leader; a single node always) has their live figures, so
 * only it lists them. */
struct jetstream_consumer_stats {
    char *stream, *name;               /* owned by the snapshot */
    uint64_t delivered_cseq, delivered_sseq;
    uint64_t ack_floor_cseq, ack_floor_sseq;
    uint64_t num_pending, num_ack_pending, num_redelivered, num_waiting;
    int64_t last_delivered, last_acked; /* ns since the epoch; 0 = never */
};

struct jsraft_peer;

/* The whole snapshot, as jetstream_with_stats lends it. Peers: the other
 * members as the leader sees them (cluster/jsraft.h; none elsewhere). */
struct jetstream_view {
    const struct jetstream_stats *stats;
    const struct jetstream_stream_stats *streams;
    size_t nstreams;
    const struct jetstream_consumer_stats *consumers;
    size_t nconsumers;
    const struct jsraft_peer *peers;
    size_t npeers;
};

/* Main thread, during server_init, after the I/O loops started: open the
 * store directory, load the streams and consumers found there, subscribe,
 * start the loop. slot is the reclaim slot the JetStream loop reports in.
 * 0, or negative (logged). */
int jetstream_start(struct server *s, int slot, struct jetstream **out);
/* Stop the loop (pending publishes are synced and answered first). */
void jetstream_stop(struct jetstream *js);
/* After every loop has stopped. NULL is fine. */
void jetstream_free(struct jetstream *js);

/* Any thread: the latest figures. */
void jetstream_get_stats(struct jetstream *js, struct jetstream_stats *out);
/* Any thread: call fn with the latest figures and details, which stay
 * valid until fn returns (the JetStream loop does not wait for fn: it
 * publishes its next refresh beside them). */
void jetstream_with_stats(struct jetstream *js,
                          void (*fn)(void *arg, const struct jetstream_view *v), void *arg);
/* "<store_dir>/jetstream", as nats-server names it; fixed at start. */
const char *jetstream_store_dir(const struct jetstream *js);

#endif
