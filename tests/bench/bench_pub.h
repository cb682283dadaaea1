/*
 * tests/bench/bench_pub.h — the PUB frame, its payload, and the windowed
 * publisher that pub, pubsub and queue share (reqrep reuses the frame).
 *
 * A payload starts with the message's sequence number so receivers can
 * check order and exactly-once delivery. pub_publish() keeps the server's
 * backlog bounded: at most o->max_pings PINGs unanswered and, given a
 * struct pub_window, at most a window of messages ahead of the receivers.
 */
#ifndef TERN_BENCH_PUB_H
#define TERN_BENCH_PUB_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tests/bench/bench_conn.h"
#include "tests/bench/bench_opts.h"

#define PUB_SEQ_LEN 8 /* payload prefix carrying the sequence number */

/* The payload starts with the message's sequence number (little endian) so
 * receivers can check order and exactly-once delivery; shorter payloads
 * carry none and are checked by count only. Inline: once per message. */
static inline void pub_seq_put(char *p, size_t size, uint64_t seq)
{
    for (size_t i = 0; i < PUB_SEQ_LEN && i < size; i++)
        p[i] = (char)(seq >> (8 * i));
}

static inline uint64_t pub_seq_get(const char *p)
{
    uint64_t v = 0;
    for (size_t i = 0; i < PUB_SEQ_LEN; i++)
        v |= (uint64_t)(unsigned char)p[i] << (8 * i);
    return v;
}

/*
 * What the publisher and the receiver thread share. Owner: the fanout run,
 * on the main thread's stack. The flags and counters are atomics; efd is
 * created before the thread starts and closed after it is joined; window
 * is written and read by the publisher only.
 */
struct pub_window {
    _Atomic uint64_t delivered; /* slowest subscriber's count (pubsub) or total (queue) */
    atomic_bool waiting;        /* the publisher sleeps on efd */
    atomic_bool failed;         /* the receiver gave up; it logged why */
    atomic_bool pub_done;       /* the publisher's final PONG arrived */
    atomic_bool pub_failed;     /* the publisher gave up; it logged why */
    int efd;                    /* eventfd that wakes the publisher */
    uint64_t window;            /* messages allowed ahead of `delivered` */
};

/* One PUB frame, copied per message. Owner: whoever built it frees buf. */
struct pub_frame {
    char *buf; /* owned: "PUB subject size\r\n" payload "\r\n" */
    size_t len, hdr;
};

/* Build "PUB subject [reply] size" with a size-byte payload (sequence 0). */
int pub_frame_build(struct pub_frame *f, const char *subject, const char *reply, size_t size);

/* Receivers on another cluster node: block until c's server has their
 * interest in o->subject, probing with no-responders requests (0 when it
 * has, -ETIMEDOUT after PUB_INTEREST_WAIT_MS). c must be idle and have no
 * subscriptions; its handlers are restored before returning. */
#define PUB_INTEREST_WAIT_MS 10000
int pub_await_interest(const struct bench_opts *o, struct conn *c);

/* Publish o->msgs messages to o->subject on c, end with PING/PONG;
 * *elapsed covers both. w is NULL when no receivers bound the window. */
int pub_publish(const struct bench_opts *o, struct conn *c, struct pub_window *w,
                int64_t *elapsed);

#endif
