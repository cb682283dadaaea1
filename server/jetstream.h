/*
 * server/jetstream.h — JetStream for one node: what the rest of the server
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

#include <stddef.h>
#include <stdint.h>

struct server;
struct jetstream;

/* What /jsz and /varz report (server/monitor_js.c): a copy the JetStream
 * loop refreshes a few times a second, so monitoring never reaches into
 * the loop's state. */
struct jetstream_stats {
    int64_t max_memory, max_storage;   /* configured limits; -1 = none */
    uint64_t memory, storage;          /* bytes stored, by storage kind */
    uint64_t reserved_memory, reserved_storage; /* streams' max_bytes */
    uint64_t streams, consumers, messages, bytes;
    uint64_t api_total, api_errors;
};

/* One stream as /jsz?streams=true shows it. */
struct jetstream_stream_stats {
    char *name;        /* owned by the snapshot */
    int64_t created;   /* ns since the epoch */
    char *state_json;  /* owned: the state object of STREAM.INFO */
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
/* Any thread: call fn with the latest figures and per-stream details,
 * which stay valid (and the JetStream loop's next refresh waits) until fn
 * returns. */
void jetstream_with_stats(struct jetstream *js,
                          void (*fn)(void *arg, const struct jetstream_stats *st,
                                     const struct jetstream_stream_stats *streams, size_t n),
                          void *arg);
/* "<store_dir>/jetstream", as nats-server names it; fixed at start. */
const char *jetstream_store_dir(const struct jetstream *js);

#endif
