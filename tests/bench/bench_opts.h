/*
 * tests/bench/bench_opts.h — tern-bench's command-line settings.
 *
 * One struct, filled by parse_args() in loadgen.c before any connection
 * opens and read-only afterwards, so every module (bench_conn, bench_pub,
 * the modes) may read it from any thread without a lock. Header only: it
 * holds no code.
 */
#ifndef TERN_BENCH_OPTS_H
#define TERN_BENCH_OPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Owner: main(), on its stack; every other user borrows it. */
struct bench_opts {
    const char *mode;
    char host[256];
    char port[16];
    char sub_host[256];   /* pubsub/queue receivers connect here (--sub-server; */
    char sub_port[16];    /* default: host and port, the publisher's server) */
    uint64_t msgs;        /* pub/pubsub/queue: messages; reqrep: requests (0 = use duration) */
    size_t size;          /* payload bytes */
    int subs;             /* pubsub subscribers / queue members */
    double duration;      /* reqrep seconds */
    int conns;            /* conns mode */
    int nsubs;            /* subs mode */
    const char *subject;  /* borrowed: argv or a static buffer in main() */
    uint64_t ping_every;  /* publisher sends PING after this many messages */
    uint64_t max_pings;   /* ... and keeps at most this many unanswered */
    uint64_t window;      /* messages ahead of the slowest subscriber; 0 = off */
    uint64_t window_bytes; /* ... and at most this many frame bytes ahead */
    uint64_t warmup;      /* reqrep requests not recorded */
    int timeout_ms;       /* no progress for this long = failure */
    double hold;          /* conns/subs: seconds to hold; 0 = until stdin EOF */
    const char *tls_ca;   /* borrowed from argv: --tls-ca, TLS on every connection */
    int replicas;         /* js*: num_replicas of the stream created (1) */
    bool no_create;       /* js*: stream BENCH exists (empty) on o->subject */
};

#endif
