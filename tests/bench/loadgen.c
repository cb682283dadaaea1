/*
 * tests/bench/loadgen.c — tern-bench, the Tern benchmark's load generator.
 *
 * Speaks the raw NATS client protocol to one server and prints one JSON
 * result line (errors: stderr, exit 1). Modes pub, pubsub, queue, reqrep,
 * conns, subs: see tests/bench/README.md. Never the bottleneck: many PUBs
 * per write(), 1 MiB reads parsed by proto/parser.c (client side), one
 * thread per role. Publishers are windowed (PINGs in flight, messages ahead
 * of the slowest subscriber) so no server buffers unbounded data.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "proto/parser.h"

#define RBUF_SIZE (1u << 20) /* one read; big reads keep syscalls rare */
#define WBATCH (256u << 10)  /* bytes of PUB frames handed to one write() */
#define STOP 1               /* handler stop value; the reason is in conn.err */
#define SEQ_LEN 8            /* payload prefix carrying the sequence number */

/* Sent by every connection; headers/no_responders as modern clients do. */
static const char CONNECT_LINE[] =
    "CONNECT {\"verbose\":false,\"pedantic\":false,\"protocol\":1,"
    "\"name\":\"tern-bench\",\"lang\":\"C\",\"headers\":true,"
    "\"no_responders\":true}\r\nPING\r\n";

struct opts {
    const char *mode;
    char host[256];
    char port[16];
    uint64_t msgs;        /* pub/pubsub/queue: messages; reqrep: requests (0 = use duration) */
    size_t size;          /* payload bytes */
    int subs;             /* pubsub subscribers / queue members */
    double duration;      /* reqrep seconds */
    int conns;            /* conns mode */
    int nsubs;            /* subs mode */
    const char *subject;
    uint64_t ping_every;  /* publisher sends PING after this many messages */
    uint64_t max_pings;   /* ... and keeps at most this many unanswered */
    uint64_t window;      /* messages ahead of the slowest subscriber; 0 = off */
    uint64_t window_bytes; /* ... and at most this many frame bytes ahead */
    uint64_t warmup;      /* reqrep requests not recorded */
    int timeout_ms;       /* no progress for this long = failure */
    double hold;          /* conns/subs: seconds to hold; 0 = until stdin EOF */
};

/*
 * One client connection. Owner: the mode that opened it with conn_open()
 * frees it with conn_close(). Used by one thread at a time: set up on the
 * main thread, then possibly handed to the receiver thread for the run.
 */
struct conn {
    int fd;
    struct proto_parser parser;
    const struct proto_handlers *h; /* borrowed: a static table */
    void *role;                     /* borrowed: the mode state it serves */
    char *wbuf;                     /* owned: bytes not yet written */
    size_t wlen, woff, wcap;
    uint64_t infos, pings, pongs;   /* INFO seen, PINGs sent, PONGs seen */
    int err;                        /* reason a handler stopped the parse */
};

static _Thread_local char *tl_rbuf; /* per thread; freed by rbuf_release() */
static volatile sig_atomic_t stop_flag;

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void rbuf_release(void)
{
    free(tl_rbuf);
    tl_rbuf = NULL;
}

/* The payload starts with the message's sequence number (little endian) so
 * receivers can check order and exactly-once delivery; shorter payloads
 * carry none and are checked by count only. */
static void seq_put(char *p, size_t size, uint64_t seq)
{
    for (size_t i = 0; i < SEQ_LEN && i < size; i++)
        p[i] = (char)(seq >> (8 * i));
}

static uint64_t seq_get(const char *p)
{
    uint64_t v = 0;
    for (size_t i = 0; i < SEQ_LEN; i++)
        v |= (uint64_t)(unsigned char)p[i] << (8 * i);
    return v;
}

/* ---- connection I/O ---- */

static int conn_fail(struct conn *c, int err)
{
    if (!c->err)
        c->err = err;
    return STOP;
}

static char *conn_reserve(struct conn *c, size_t n)
{
    if (c->wlen + n > c->wcap && c->woff > 0) {
        memmove(c->wbuf, c->wbuf + c->woff, c->wlen - c->woff);
        c->wlen -= c->woff;
        c->woff = 0;
    }
    if (c->wlen + n > c->wcap) {
        size_t cap = c->wcap ? c->wcap * 2 : WBATCH + 4096;
        while (cap < c->wlen + n)
            cap *= 2;
        char *nb = realloc(c->wbuf, cap);
        if (!nb) {
            fprintf(stderr, "tern-bench: out of memory\n");
            return NULL;
        }
        c->wbuf = nb;
        c->wcap = cap;
    }
    char *p = c->wbuf + c->wlen;
    c->wlen += n;
    return p;
}

static int conn_append(struct conn *c, const void *data, size_t n)
{
    char *p = conn_reserve(c, n);
    if (!p)
        return -ENOMEM;
    memcpy(p, data, n);
    return 0;
}

static int conn_ping(struct conn *c)
{
    c->pings++;
    return conn_append(c, "PING\r\n", 6);
}

static bool conn_pending(const struct conn *c)
{
    return c->woff < c->wlen;
}

/* Write what the socket takes now: 0 when drained, 1 when bytes remain. */
static int conn_send(struct conn *c)
{
    while (c->woff < c->wlen) {
        ssize_t n = write(c->fd, c->wbuf + c->woff, c->wlen - c->woff);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN)
                return 1;
            fprintf(stderr, "tern-bench: write: %s\n", strerror(errno));
            return -errno;
        }
        c->woff += (size_t)n;
    }
    c->woff = c->wlen = 0;
    return 0;
}

/* One read and parse: 1 if bytes came, 0 if none were ready, < 0 on error. */
static int conn_read(struct conn *c)
{
    if (!tl_rbuf && !(tl_rbuf = malloc(RBUF_SIZE)))
        return -ENOMEM;
    ssize_t n = read(c->fd, tl_rbuf, RBUF_SIZE);
    if (n < 0) {
        if (errno == EAGAIN || errno == EINTR)
            return 0;
        fprintf(stderr, "tern-bench: read: %s\n", strerror(errno));
        return -errno;
    }
    if (n == 0) {
        fprintf(stderr, "tern-bench: server closed the connection\n");
        return -ECONNRESET;
    }
    int rc = proto_parse(&c->parser, tl_rbuf, (size_t)n, c->h, c);
    if (rc == STOP)
        return c->err; /* the handler logged why */
    if (rc != 0) {
        const char *why = proto_strerror(rc);
        fprintf(stderr, "tern-bench: bad server output (parser %d%s%s)\n", rc,
                why ? ": " : "", why ? why : "");
        return -EPROTO;
    }
    return 1;
}

/* Block until *counter reaches target, flushing output meanwhile. */
static int conn_wait(struct conn *c, const uint64_t *counter, uint64_t target,
                     int timeout_ms, const char *what)
{
    int64_t deadline = now_ns() + (int64_t)timeout_ms * 1000000;
    while (*counter < target) {
        int rc = conn_send(c);
        if (rc < 0)
            return rc;
        int left = (int)((deadline - now_ns()) / 1000000);
        if (left <= 0) {
            fprintf(stderr, "tern-bench: timed out waiting for %s\n", what);
            return -ETIMEDOUT;
        }
        struct pollfd p = {c->fd, (short)(POLLIN | (rc ? POLLOUT : 0)), 0};
        if (poll(&p, 1, left) < 0 && errno != EINTR)
            return -errno;
        if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
            rc = conn_read(c);
            if (rc < 0)
                return rc;
        }
    }
    return conn_send(c) < 0 ? -EIO : 0;
}

/* PING and wait for its PONG: the server has processed everything before. */
static int conn_flush(struct conn *c, int timeout_ms)
{
    int rc = conn_ping(c);
    if (rc)
        return rc;
    return conn_wait(c, &c->pongs, c->pings, timeout_ms, "PONG");
}

static int dial(const struct opts *o, int *fd_out)
{
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    int rc = getaddrinfo(o->host, o->port, &hints, &res);
    if (rc) {
        fprintf(stderr, "tern-bench: %s:%s: %s\n", o->host, o->port, gai_strerror(rc));
        return -EINVAL;
    }
    int fd = -1, err = ECONNREFUSED;
    for (struct addrinfo *a = res; a && fd < 0; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd >= 0 && connect(fd, a->ai_addr, a->ai_addrlen) < 0) {
            err = errno;
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    if (fd < 0) {
        fprintf(stderr, "tern-bench: connect %s:%s: %s\n", o->host, o->port, strerror(err));
        return -err;
    }
    /* Small requests and replies must leave at once (reqrep latency). */
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    *fd_out = fd;
    return 0;
}

static void conn_close(struct conn *c)
{
    if (!c)
        return;
    if (c->fd >= 0)
        close(c->fd);
    proto_parser_free(&c->parser);
    free(c->wbuf);
    free(c);
}

/* Connect and handshake: INFO, then CONNECT + PING, then wait for PONG. */
static int conn_open(const struct opts *o, const struct proto_handlers *h, void *role,
                     struct conn **out)
{
    struct conn *c = calloc(1, sizeof *c);
    if (!c)
        return -ENOMEM;
    c->fd = -1;
    c->h = h;
    c->role = role;
    proto_parser_init(&c->parser, PROTO_SIDE_CLIENT);
    int rc = dial(o, &c->fd);
    if (rc)
        goto err_after_alloc;
    rc = conn_wait(c, &c->infos, 1, o->timeout_ms, "INFO");
    if (rc)
        goto err_after_alloc;
    c->pings++; /* the PING inside CONNECT_LINE */
    rc = conn_append(c, CONNECT_LINE, sizeof CONNECT_LINE - 1);
    if (rc)
        goto err_after_alloc;
    rc = conn_wait(c, &c->pongs, c->pings, o->timeout_ms, "PONG after CONNECT");
    if (rc)
        goto err_after_alloc;
    *out = c;
    return 0;
err_after_alloc:
    conn_close(c);
    return rc;
}

static int subscribe(struct conn *c, const char *subject, const char *queue, int sid)
{
    char line[512];
    int n = snprintf(line, sizeof line, "SUB %s%s%s %d\r\n", subject, queue ? " " : "",
                     queue ? queue : "", sid);
    if (n < 0 || (size_t)n >= sizeof line)
        return -EINVAL;
    return conn_append(c, line, (size_t)n);
}

/* ---- handlers shared by every connection ---- */

static int on_info(void *ctx, struct proto_slice json)
{
    (void)json;
    ((struct conn *)ctx)->infos++;
    return 0;
}

static int on_ping(void *ctx)
{
    struct conn *c = ctx;
    return conn_append(c, "PONG\r\n", 6) ? conn_fail(c, -ENOMEM) : 0;
}

static int on_pong(void *ctx)
{
    ((struct conn *)ctx)->pongs++;
    return 0;
}

static int on_err(void *ctx, struct proto_slice text)
{
    fprintf(stderr, "tern-bench: server sent -ERR %.*s\n", (int)text.len, text.ptr);
    return conn_fail(ctx, -EPROTO);
}

static int on_unexpected_msg(void *ctx, const struct proto_msg *m)
{
    fprintf(stderr, "tern-bench: unexpected MSG on %.*s\n", (int)m->subject.len, m->subject.ptr);
    return conn_fail(ctx, -EPROTO);
}

#define HANDLERS(msg_fn) \
    { .on_info = on_info, .on_msg = (msg_fn), .on_ping = on_ping, \
      .on_pong = on_pong, .on_err = on_err }

static const struct proto_handlers plain_handlers = HANDLERS(on_unexpected_msg);

/* ---- publisher (pub, pubsub, queue) ---- */

/*
 * What the publisher and the receiver thread share. Owner: the fanout run,
 * on the main thread's stack. The flags and counters are atomics; efd is
 * created before the thread starts and closed after it is joined; window
 * is written and read by the publisher only.
 */
struct pubwin {
    _Atomic uint64_t delivered; /* slowest subscriber's count (pubsub) or total (queue) */
    atomic_bool waiting;        /* the publisher sleeps on efd */
    atomic_bool failed;         /* the receiver gave up; it logged why */
    atomic_bool pub_done;       /* the publisher's final PONG arrived */
    atomic_bool pub_failed;     /* the publisher gave up; it logged why */
    int efd;                    /* eventfd that wakes the publisher */
    uint64_t window;            /* messages allowed ahead of `delivered` */
};

struct pubframe {
    char *buf; /* owned: "PUB subject size\r\n" payload "\r\n" */
    size_t len, hdr;
};

static int frame_build(struct pubframe *f, const char *subject, const char *reply, size_t size)
{
    char hdr[512];
    int n = snprintf(hdr, sizeof hdr, "PUB %s%s%s %zu\r\n", subject, reply ? " " : "",
                     reply ? reply : "", size);
    if (n < 0 || (size_t)n >= sizeof hdr)
        return -EINVAL;
    f->hdr = (size_t)n;
    f->len = f->hdr + size + 2;
    f->buf = malloc(f->len);
    if (!f->buf)
        return -ENOMEM;
    memcpy(f->buf, hdr, f->hdr);
    for (size_t i = 0; i < size; i++)
        f->buf[f->hdr + i] = (char)('a' + i % 26);
    memcpy(f->buf + f->hdr + size, "\r\n", 2);
    return 0;
}

/* How many of the n messages may be queued now without breaking a window. */
static uint64_t pub_limit(const struct opts *o, const struct conn *c, struct pubwin *w,
                          uint64_t n, bool *by_window)
{
    *by_window = false;
    if (c->pings - c->pongs >= o->max_pings)
        return 0;
    if (!w || !o->window)
        return n;
    uint64_t d = atomic_load(&w->delivered);
    if (d + w->window < n) {
        *by_window = true;
        return d + w->window;
    }
    return n;
}

/* Fill one batch of frames, numbered from *sent, up to limit. */
static int pub_fill(const struct opts *o, struct conn *c, const struct pubframe *f,
                    uint64_t *sent, uint64_t limit)
{
    while (*sent < limit && c->wlen < WBATCH && c->pings - c->pongs < o->max_pings) {
        char *p = conn_reserve(c, f->len);
        if (!p)
            return -ENOMEM;
        memcpy(p, f->buf, f->len);
        seq_put(p + f->hdr, o->size, *sent);
        ++*sent;
        if (*sent % o->ping_every == 0 && *sent < o->msgs && conn_ping(c))
            return -ENOMEM;
    }
    return 0;
}

/* Sleep until the socket, the receiver or the timeout has news. */
static int pub_wait(const struct opts *o, struct conn *c, struct pubwin *w, uint64_t sent,
                    bool by_window, bool out_pending)
{
    struct pollfd p[2] = {{c->fd, (short)(POLLIN | (out_pending ? POLLOUT : 0)), 0},
                          {w ? w->efd : -1, POLLIN, 0}};
    nfds_t nfds = 1;
    if (by_window) {
        /* Announce, then look again: the receiver stores its count before it
         * reads `waiting`, so one of us sees the other (both seq_cst). */
        atomic_store(&w->waiting, true);
        bool again;
        if (pub_limit(o, c, w, o->msgs, &again) > sent) {
            atomic_store(&w->waiting, false);
            return 0;
        }
        nfds = 2;
    }
    int rc = poll(p, nfds, o->timeout_ms);
    if (by_window)
        atomic_store(&w->waiting, false);
    if (rc < 0)
        return errno == EINTR ? 0 : -errno;
    if (rc == 0) {
        fprintf(stderr, "tern-bench: publisher stalled for %d ms%s\n", o->timeout_ms,
                by_window ? " (subscribers stopped receiving)" : "");
        return -ETIMEDOUT;
    }
    if (p[1].revents & POLLIN) {
        uint64_t v;
        if (read(w->efd, &v, sizeof v) < 0 && errno != EAGAIN)
            return -errno;
    }
    if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
        rc = conn_read(c);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* Publish o->msgs messages, end with PING/PONG; *elapsed covers both. */
static int publish(const struct opts *o, struct conn *c, struct pubwin *w, int64_t *elapsed)
{
    struct pubframe f;
    int rc = frame_build(&f, o->subject, NULL, o->size);
    if (rc)
        return rc;
    if (w) { /* big payloads: bound the bytes too, so memory stays bounded */
        uint64_t by_bytes = o->window_bytes / f.len ? o->window_bytes / f.len : 1;
        w->window = o->window < by_bytes ? o->window : by_bytes;
    }
    uint64_t sent = 0;
    bool by_window;
    int64_t t0 = now_ns();
    while (sent < o->msgs || conn_pending(c)) {
        if (w && atomic_load(&w->failed)) {
            rc = -ECANCELED; /* the receiver logged why */
            goto out;
        }
        uint64_t limit = pub_limit(o, c, w, o->msgs, &by_window);
        if (!conn_pending(c) && (rc = pub_fill(o, c, &f, &sent, limit)))
            goto out;
        int sr = conn_send(c);
        if (sr < 0) {
            rc = sr;
            goto out;
        }
        /* Collect PONGs without blocking: one cheap syscall per batch. */
        if ((rc = conn_read(c)) < 0)
            goto out;
        if (sr == 0) {
            limit = pub_limit(o, c, w, o->msgs, &by_window);
            if (sent >= o->msgs || sent < limit)
                continue; /* nothing holds us back */
        }
        if ((rc = pub_wait(o, c, w, sent, sr == 0 && by_window, sr == 1)))
            goto out;
    }
    rc = conn_flush(c, o->timeout_ms);
    *elapsed = now_ns() - t0;
out:
    free(f.buf);
    return rc;
}

static double per_sec(uint64_t n, int64_t ns)
{
    return ns > 0 ? (double)n * 1e9 / (double)ns : 0.0;
}

static int run_pub(const struct opts *o)
{
    struct conn *c = NULL;
    int64_t ns = 0;
    int rc = conn_open(o, &plain_handlers, NULL, &c);
    if (!rc)
        rc = publish(o, c, NULL, &ns);
    if (!rc)
        printf("{\"mode\":\"pub\",\"msgs\":%llu,\"size\":%zu,\"seconds\":%.6f,"
               "\"msgs_per_sec\":%.1f,\"mb_per_sec\":%.2f}\n",
               (unsigned long long)o->msgs, o->size, (double)ns / 1e9, per_sec(o->msgs, ns),
               per_sec(o->msgs, ns) * (double)o->size / 1e6);
    conn_close(c);
    return rc;
}

/* ---- receivers (pubsub, queue) ---- */

struct fanout;

/* One subscriber connection. Owner: struct fanout (its subs array). */
struct sub {
    struct conn *c;     /* owned */
    struct fanout *f;   /* borrowed back-pointer */
    uint64_t count;     /* messages received */
    uint64_t next_seq;  /* pubsub: the sequence expected next */
};

/*
 * One pubsub or queue run. Owner: run_fanout(), on its stack. The receiver
 * thread owns subs[] and the counters from pthread_create to pthread_join;
 * only win is shared while both run.
 */
struct fanout {
    const struct opts *o; /* borrowed */
    bool queue;
    struct sub *subs;     /* owned, o->subs entries */
    uint8_t *seen;        /* owned: queue mode, one bit per sequence */
    uint64_t total;       /* messages received over all subscribers */
    int64_t first, last;  /* times of the reads that brought the first/last message */
    struct pubwin win;
    int err;
};

static int sub_fail(struct sub *s, const char *why, uint64_t seq)
{
    fprintf(stderr, "tern-bench: subscriber %ld: %s (seq %llu, count %llu)\n",
            (long)(s - s->f->subs), why, (unsigned long long)seq,
            (unsigned long long)s->count);
    return conn_fail(s->c, -EPROTO);
}

static uint64_t fanout_expected(const struct fanout *f)
{
    return f->queue ? f->o->msgs : f->o->msgs * (uint64_t)f->o->subs;
}

static bool fanout_excess(const struct fanout *f)
{
    return f->total > fanout_expected(f);
}

static int on_sub_msg(void *ctx, const struct proto_msg *m)
{
    struct conn *c = ctx;
    struct sub *s = c->role;
    struct fanout *f = s->f;
    if (m->total_len != f->o->size || m->hdr_len != 0)
        return sub_fail(s, "message of wrong size", 0);
    uint64_t seq = s->count;
    if (f->o->size >= SEQ_LEN) {
        seq = seq_get(m->data);
        if (seq >= f->o->msgs)
            return sub_fail(s, "sequence out of range", seq);
        if (f->queue) {
            if (f->seen[seq / 8] & (1u << (seq % 8)))
                return sub_fail(s, "message delivered twice in the group", seq);
            f->seen[seq / 8] |= (uint8_t)(1u << (seq % 8));
        } else if (seq != s->next_seq) {
            return sub_fail(s, "message lost or out of order", seq);
        }
    }
    s->next_seq = seq + 1;
    s->count++;
    f->total++;
    if (s->count > f->o->msgs || fanout_excess(f))
        return sub_fail(s, "more messages than were published", seq);
    return 0;
}

static const struct proto_handlers sub_handlers = HANDLERS(on_sub_msg);

static bool fanout_complete(const struct fanout *f)
{
    return f->total == fanout_expected(f);
}

/* Tell the publisher how far the slowest subscriber (or the group) got. */
static void fanout_publish_progress(struct fanout *f)
{
    uint64_t d = f->total;
    if (!f->queue)
        for (int i = 0; i < f->o->subs; i++)
            if (f->subs[i].count < d)
                d = f->subs[i].count;
    atomic_store(&f->win.delivered, d);
    if (atomic_load(&f->win.waiting)) {
        uint64_t one = 1;
        if (write(f->win.efd, &one, sizeof one) < 0)
            (void)0; /* the counter is full: the publisher is awake anyway */
    }
}

static void fanout_report_counts(const struct fanout *f)
{
    fprintf(stderr, "tern-bench: received");
    for (int i = 0; i < f->o->subs; i++)
        fprintf(stderr, " %llu", (unsigned long long)f->subs[i].count);
    fprintf(stderr, " of %llu published\n", (unsigned long long)f->o->msgs);
}

/* Read every ready subscriber once; note progress and times. */
static int fanout_read(struct fanout *f, int ep, int wait_ms, bool *progress)
{
    struct epoll_event ev[64];
    int n = epoll_wait(ep, ev, 64, wait_ms);
    if (n < 0)
        return errno == EINTR ? 0 : -errno;
    int64_t t = now_ns();
    uint64_t before = f->total;
    for (int i = 0; i < n; i++) {
        struct sub *s = ev[i].data.ptr;
        int rc = conn_read(s->c);
        if (rc >= 0)
            rc = conn_send(s->c); /* PONGs for server PINGs; tiny */
        if (rc < 0)
            return rc;
    }
    *progress = f->total != before;
    if (*progress) {
        if (!f->first)
            f->first = t;
        f->last = t;
    }
    return 0;
}

/* Phase 1: receive every message; phase 2: after the publisher's final
 * PONG, PING every subscriber so extra deliveries would show up. */
static int fanout_loop(struct fanout *f, int ep)
{
    const struct opts *o = f->o;
    int64_t idle_since = now_ns();
    bool flushing = false;
    for (;;) {
        bool progress = false;
        int rc = fanout_read(f, ep, 20, &progress);
        if (rc < 0)
            return rc;
        if (progress) {
            fanout_publish_progress(f);
            idle_since = now_ns();
        }
        if (atomic_load(&f->win.pub_failed))
            return -ECANCELED;
        if (flushing) {
            bool all = true;
            for (int i = 0; i < o->subs; i++)
                all = all && f->subs[i].c->pongs >= f->subs[i].c->pings;
            if (all)
                return 0;
        } else if (fanout_complete(f) && atomic_load(&f->win.pub_done)) {
            flushing = true;
            for (int i = 0; i < o->subs; i++) {
                struct conn *c = f->subs[i].c;
                if ((rc = conn_ping(c)) || (rc = conn_send(c)) < 0)
                    return rc;
            }
            idle_since = now_ns();
        }
        if (now_ns() - idle_since > (int64_t)o->timeout_ms * 1000000) {
            fprintf(stderr, "tern-bench: no progress for %d ms%s\n", o->timeout_ms,
                    fanout_complete(f) ? " (waiting for the final PONGs)" : "");
            fanout_report_counts(f);
            return -ETIMEDOUT;
        }
    }
}

static void *fanout_main(void *arg)
{
    struct fanout *f = arg;
    int ep = epoll_create1(EPOLL_CLOEXEC);
    int rc = ep < 0 ? -errno : 0;
    for (int i = 0; !rc && i < f->o->subs; i++) {
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &f->subs[i]};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, f->subs[i].c->fd, &ev) < 0)
            rc = -errno;
    }
    if (!rc)
        rc = fanout_loop(f, ep);
    if (rc && rc != -ECANCELED) {
        f->err = rc;
        atomic_store(&f->win.failed, true);
        uint64_t one = 1;
        if (write(f->win.efd, &one, sizeof one) < 0)
            (void)0; /* already signalled */
    }
    if (ep >= 0)
        close(ep);
    rbuf_release();
    return NULL;
}

static int fanout_setup(struct fanout *f)
{
    const struct opts *o = f->o;
    f->subs = calloc((size_t)o->subs, sizeof *f->subs);
    if (!f->subs)
        return -ENOMEM;
    if (f->queue && o->size >= SEQ_LEN && !(f->seen = calloc(o->msgs / 8 + 1, 1)))
        return -ENOMEM;
    f->win.efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (f->win.efd < 0)
        return -errno;
    for (int i = 0; i < o->subs; i++) {
        struct sub *s = &f->subs[i];
        s->f = f;
        int rc = conn_open(o, &sub_handlers, s, &s->c);
        if (!rc)
            rc = subscribe(s->c, o->subject, f->queue ? "bench.q" : NULL, 1);
        if (!rc) /* the PONG proves the SUB is registered */
            rc = conn_flush(s->c, o->timeout_ms);
        if (rc)
            return rc;
    }
    return 0;
}

static void fanout_print(const struct fanout *f, int64_t pub_ns)
{
    const struct opts *o = f->o;
    int64_t recv_ns = f->last - f->first;
    printf("{\"mode\":\"%s\",\"msgs\":%llu,\"size\":%zu,\"%s\":%d,\"delivered\":%llu,"
           "\"pub_seconds\":%.6f,\"pub_msgs_per_sec\":%.1f,\"recv_seconds\":%.6f,"
           "\"recv_msgs_per_sec\":%.1f,\"per_sub\":[",
           o->mode, (unsigned long long)o->msgs, o->size, f->queue ? "members" : "subs", o->subs,
           (unsigned long long)f->total, (double)pub_ns / 1e9, per_sec(o->msgs, pub_ns),
           (double)recv_ns / 1e9, per_sec(f->total, recv_ns));
    for (int i = 0; i < o->subs; i++)
        printf("%s%llu", i ? "," : "", (unsigned long long)f->subs[i].count);
    printf("]}\n");
}

static int run_fanout(const struct opts *o, bool queue)
{
    struct fanout f = {.o = o, .queue = queue, .win.efd = -1};
    struct conn *pub = NULL;
    int64_t pub_ns = 0;
    int rc = fanout_setup(&f);
    if (!rc)
        rc = conn_open(o, &plain_handlers, NULL, &pub);
    if (rc)
        goto out;
    pthread_t th;
    if ((rc = -pthread_create(&th, NULL, fanout_main, &f)))
        goto out;
    rc = publish(o, pub, &f.win, &pub_ns);
    atomic_store(rc ? &f.win.pub_failed : &f.win.pub_done, true);
    pthread_join(th, NULL);
    if (f.err)
        rc = f.err; /* the receiver's reason comes first */
    if (!rc)
        fanout_print(&f, pub_ns);
out:
    conn_close(pub);
    for (int i = 0; f.subs && i < o->subs; i++)
        conn_close(f.subs[i].c);
    free(f.subs);
    free(f.seen);
    if (f.win.efd >= 0)
        close(f.win.efd);
    return rc;
}

/* ---- request/reply latency ---- */

/* One reqrep run. Owner: run_reqrep(), on its stack; one thread. */
struct reqrep {
    const struct opts *o; /* borrowed */
    uint64_t cur;         /* sequence of the request in flight */
    bool replied;
};

/* The responder echoes each request's payload to its reply subject. */
static int on_request(void *ctx, const struct proto_msg *m)
{
    struct conn *c = ctx;
    if (!m->reply.len) {
        fprintf(stderr, "tern-bench: request without reply subject\n");
        return conn_fail(c, -EPROTO);
    }
    size_t n = 4 + m->reply.len + 1 + m->size_arg.len + 2 + m->total_len + 2;
    char *p = conn_reserve(c, n);
    if (!p)
        return conn_fail(c, -ENOMEM);
    p += sprintf(p, "PUB %.*s %.*s\r\n", (int)m->reply.len, m->reply.ptr,
                 (int)m->size_arg.len, m->size_arg.ptr);
    memcpy(p, m->data, m->total_len);
    memcpy(p + m->total_len, "\r\n", 2);
    return 0;
}

static int on_reply(void *ctx, const struct proto_msg *m)
{
    struct conn *c = ctx;
    struct reqrep *r = c->role;
    if (m->total_len != r->o->size || m->hdr_len != 0 ||
        (r->o->size >= SEQ_LEN && seq_get(m->data) != r->cur) || r->replied) {
        fprintf(stderr, "tern-bench: unexpected reply (request %llu)\n",
                (unsigned long long)r->cur);
        return conn_fail(c, -EPROTO);
    }
    r->replied = true;
    return 0;
}

static const struct proto_handlers responder_handlers = HANDLERS(on_request);
static const struct proto_handlers requester_handlers = HANDLERS(on_reply);

/* Send one request and serve both connections until its reply is back. */
static int round_trip(struct reqrep *r, struct conn *req, struct conn *rsp)
{
    r->replied = false;
    while (!r->replied) {
        int sq = conn_send(req), sr = conn_send(rsp);
        if (sq < 0 || sr < 0)
            return -EIO;
        struct pollfd p[2] = {{req->fd, (short)(POLLIN | (sq ? POLLOUT : 0)), 0},
                              {rsp->fd, (short)(POLLIN | (sr ? POLLOUT : 0)), 0}};
        int rc = poll(p, 2, r->o->timeout_ms);
        if (rc == 0) {
            fprintf(stderr, "tern-bench: no reply to request %llu\n", (unsigned long long)r->cur);
            return -ETIMEDOUT;
        }
        if (rc < 0 && errno != EINTR)
            return -errno;
        if ((p[1].revents & (POLLIN | POLLHUP | POLLERR)) && (rc = conn_read(rsp)) < 0)
            return rc;
        if ((p[0].revents & (POLLIN | POLLHUP | POLLERR)) && (rc = conn_read(req)) < 0)
            return rc;
    }
    return 0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Nearest-rank percentile, in microseconds. */
static double pct_us(const uint64_t *v, size_t n, double q)
{
    size_t k = (size_t)(q * (double)n + 0.999999);
    k = k ? k - 1 : 0;
    return (double)v[k < n ? k : n - 1] / 1e3;
}

static void reqrep_print(const struct opts *o, uint64_t *lat, size_t n, int64_t ns)
{
    qsort(lat, n, sizeof *lat, cmp_u64);
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += (double)lat[i];
    printf("{\"mode\":\"reqrep\",\"size\":%zu,\"requests\":%zu,\"seconds\":%.6f,"
           "\"req_per_sec\":%.1f,\"p50_us\":%.1f,\"p90_us\":%.1f,\"p99_us\":%.1f,"
           "\"p999_us\":%.1f,\"min_us\":%.1f,\"max_us\":%.1f,\"mean_us\":%.1f}\n",
           o->size, n, (double)ns / 1e9, per_sec(n, ns), pct_us(lat, n, 0.50),
           pct_us(lat, n, 0.90), pct_us(lat, n, 0.99), pct_us(lat, n, 0.999),
           (double)lat[0] / 1e3, (double)lat[n - 1] / 1e3, sum / (double)n / 1e3);
}

static int run_reqrep(const struct opts *o)
{
    struct reqrep r = {.o = o};
    struct conn *req = NULL, *rsp = NULL;
    struct pubframe f = {0};
    uint64_t *lat = NULL;
    size_t n = 0, cap = 0;
    char inbox[64];
    snprintf(inbox, sizeof inbox, "_INBOX.bench.%ld", (long)getpid());
    int rc = conn_open(o, &responder_handlers, &r, &rsp);
    if (!rc)
        rc = conn_open(o, &requester_handlers, &r, &req);
    if (!rc && !(rc = subscribe(rsp, o->subject, NULL, 1)))
        rc = conn_flush(rsp, o->timeout_ms); /* registered before any request */
    if (!rc && !(rc = subscribe(req, inbox, NULL, 1)))
        rc = conn_flush(req, o->timeout_ms);
    if (!rc)
        rc = frame_build(&f, o->subject, inbox, o->size);
    int64_t t0 = 0, end = now_ns() + (int64_t)(o->duration * 1e9);
    for (uint64_t i = 0; !rc; i++) {
        if (i == o->warmup) {
            t0 = now_ns();
            end = t0 + (int64_t)(o->duration * 1e9);
        }
        if (i > o->warmup && (o->msgs ? n >= o->msgs : now_ns() >= end))
            break;
        if (n == cap) {
            cap = cap ? cap * 2 : 1 << 16;
            uint64_t *nl = realloc(lat, cap * sizeof *lat);
            if (!nl) {
                rc = -ENOMEM;
                break;
            }
            lat = nl;
        }
        r.cur = i;
        if ((rc = conn_append(req, f.buf, f.len)))
            break;
        seq_put(req->wbuf + req->wlen - f.len + f.hdr, o->size, i);
        int64_t ts = now_ns();
        if ((rc = round_trip(&r, req, rsp)))
            break;
        if (i >= o->warmup)
            lat[n++] = (uint64_t)(now_ns() - ts);
    }
    if (!rc && n == 0)
        rc = -EINVAL;
    if (!rc)
        reqrep_print(o, lat, n, now_ns() - t0);
    free(lat);
    free(f.buf);
    conn_close(req);
    conn_close(rsp);
    return rc;
}

/* ---- idle connections and subscriptions, held for RSS readings ---- */

static void on_stop_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

/* Keep the connections alive (answer PINGs) until stdin closes, a signal,
 * or o->hold seconds. A connection the server drops is a failure. */
static int hold(const struct opts *o, struct conn **cs, int n)
{
    struct pollfd *p = calloc((size_t)n + 1, sizeof *p);
    if (!p)
        return -ENOMEM;
    p[0] = (struct pollfd){o->hold > 0 ? -1 : STDIN_FILENO, POLLIN, 0};
    for (int i = 0; i < n; i++)
        p[i + 1] = (struct pollfd){cs[i]->fd, POLLIN, 0};
    int64_t end = now_ns() + (int64_t)(o->hold * 1e9);
    int rc = 0;
    while (!rc && !stop_flag && (o->hold <= 0 || now_ns() < end)) {
        if (poll(p, (nfds_t)n + 1, 200) < 0) {
            rc = errno == EINTR ? 0 : -errno;
            continue;
        }
        if (p[0].revents) {
            char junk[256];
            if (read(STDIN_FILENO, junk, sizeof junk) <= 0)
                break;
        }
        for (int i = 0; !rc && i < n; i++)
            if (p[i + 1].revents && (rc = conn_read(cs[i])) >= 0)
                rc = conn_send(cs[i]) < 0 ? -EIO : 0;
    }
    free(p);
    return rc;
}

static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static int run_conns(const struct opts *o)
{
    struct conn **cs = calloc((size_t)o->conns, sizeof *cs);
    if (!cs)
        return -ENOMEM;
    raise_fd_limit();
    int rc = 0, opened = 0;
    int64_t t0 = now_ns();
    for (; !rc && opened < o->conns; opened++)
        rc = conn_open(o, &plain_handlers, NULL, &cs[opened]);
    if (rc)
        fprintf(stderr, "tern-bench: connection %d of %d failed\n", opened, o->conns);
    if (!rc) {
        printf("{\"mode\":\"conns\",\"conns\":%d,\"open_seconds\":%.3f,\"ready\":true}\n",
               o->conns, (double)(now_ns() - t0) / 1e9);
        fflush(stdout);
        rc = hold(o, cs, o->conns);
    }
    for (int i = 0; i < o->conns; i++)
        conn_close(cs[i]);
    free(cs);
    return rc;
}

static int run_subs(const struct opts *o)
{
    struct conn *c = NULL;
    int64_t t0 = now_ns();
    int rc = conn_open(o, &plain_handlers, NULL, &c);
    char subj[300];
    for (int i = 0; !rc && i < o->nsubs; i++) {
        snprintf(subj, sizeof subj, "%s.%d", o->subject, i);
        rc = subscribe(c, subj, NULL, i + 1);
        /* Hand the server big batches, not one write per SUB. */
        if (!rc && c->wlen >= WBATCH)
            rc = conn_flush(c, o->timeout_ms);
    }
    if (!rc)
        rc = conn_flush(c, o->timeout_ms);
    if (!rc) {
        printf("{\"mode\":\"subs\",\"subs\":%d,\"open_seconds\":%.3f,\"ready\":true}\n",
               o->nsubs, (double)(now_ns() - t0) / 1e9);
        fflush(stdout);
        rc = hold(o, &c, 1);
    }
    conn_close(c);
    return rc;
}

/* ---- command line ---- */

static void usage(FILE *out)
{
    fprintf(out,
            "usage: tern-bench MODE [options]\n"
            "modes: pub | pubsub | queue | reqrep | conns | subs\n"
            "  -s, --server HOST:PORT   server address (127.0.0.1:4222)\n"
            "  -n, --msgs N             messages (pub/pubsub/queue), requests (reqrep)\n"
            "  -z, --size BYTES         payload size (128)\n"
            "  -k, --subs K             subscribers (pubsub) / queue members (queue)\n"
            "  -d, --duration SEC       reqrep run time when -n is not given (5)\n"
            "  -c, --conns C            idle connections to hold (conns)\n"
            "  -m, --nsubs M            subscriptions to hold (subs)\n"
            "      --subject SUBJ       subject (bench.<mode>)\n"
            "      --ping-every N       publisher PINGs every N messages (8192)\n"
            "      --max-pings P        unanswered PINGs allowed (4)\n"
            "      --window W           messages ahead of the slowest subscriber (65536; 0 off)\n"
            "      --window-bytes B     ... and at most B bytes of frames ahead (16 MiB)\n"
            "      --warmup N           reqrep requests not recorded (1000)\n"
            "      --timeout SEC        no progress for SEC = failure (10)\n"
            "      --hold SEC           conns/subs: hold SEC seconds, not until stdin EOF\n");
}

static int parse_args(int argc, char **argv, struct opts *o)
{
    static const struct option lo[] = {
        {"server", 1, 0, 's'}, {"msgs", 1, 0, 'n'}, {"size", 1, 0, 'z'},
        {"subs", 1, 0, 'k'}, {"duration", 1, 0, 'd'}, {"conns", 1, 0, 'c'},
        {"nsubs", 1, 0, 'm'}, {"subject", 1, 0, 'S'}, {"ping-every", 1, 0, 'P'},
        {"max-pings", 1, 0, 'M'}, {"window", 1, 0, 'W'}, {"window-bytes", 1, 0, 'B'},
        {"warmup", 1, 0, 'U'},
        {"timeout", 1, 0, 'T'}, {"hold", 1, 0, 'H'}, {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    *o = (struct opts){.msgs = 0, .size = 128, .subs = 1, .duration = 5, .conns = 1000,
                       .nsubs = 100000, .ping_every = 8192, .max_pings = 4,
                       .window = 65536, .window_bytes = 16 << 20, .warmup = 1000, .timeout_ms = 10000};
    snprintf(o->host, sizeof o->host, "127.0.0.1");
    snprintf(o->port, sizeof o->port, "4222");
    if (argc < 2 || argv[1][0] == '-') {
        bool help = argc > 1 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"));
        usage(help ? stdout : stderr);
        if (help)
            exit(0);
        return -EINVAL;
    }
    o->mode = argv[1];
    int ch;
    optind = 2;
    while ((ch = getopt_long(argc, argv, "s:n:z:k:d:c:m:h", lo, NULL)) != -1) {
        switch (ch) {
        case 's': {
            const char *colon = strrchr(optarg, ':');
            if (!colon || colon == optarg)
                return -EINVAL;
            snprintf(o->host, sizeof o->host, "%.*s", (int)(colon - optarg), optarg);
            snprintf(o->port, sizeof o->port, "%s", colon + 1);
            break;
        }
        case 'n': o->msgs = strtoull(optarg, NULL, 10); break;
        case 'z': o->size = strtoull(optarg, NULL, 10); break;
        case 'k': o->subs = atoi(optarg); break;
        case 'd': o->duration = atof(optarg); break;
        case 'c': o->conns = atoi(optarg); break;
        case 'm': o->nsubs = atoi(optarg); break;
        case 'S': o->subject = optarg; break;
        case 'P': o->ping_every = strtoull(optarg, NULL, 10); break;
        case 'M': o->max_pings = strtoull(optarg, NULL, 10); break;
        case 'W': o->window = strtoull(optarg, NULL, 10); break;
        case 'B': o->window_bytes = strtoull(optarg, NULL, 10); break;
        case 'U': o->warmup = strtoull(optarg, NULL, 10); break;
        case 'T': o->timeout_ms = (int)(atof(optarg) * 1000); break;
        case 'H': o->hold = atof(optarg); break;
        case 'h': usage(stdout); exit(0);
        default: return -EINVAL;
        }
    }
    if (optind != argc || o->subs < 1 || o->conns < 1 || o->nsubs < 1 || !o->ping_every ||
        !o->max_pings || o->timeout_ms <= 0) {
        usage(stderr);
        return -EINVAL;
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct opts o;
    if (parse_args(argc, argv, &o))
        return 2;
    static char subj[64];
    if (!o.subject) {
        snprintf(subj, sizeof subj, "bench.%s", o.mode);
        o.subject = subj;
    }
    if (!o.msgs && strcmp(o.mode, "reqrep"))
        o.msgs = 1000000;
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa = {.sa_handler = on_stop_signal}; /* no SA_RESTART: poll wakes */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    int rc;
    if (!strcmp(o.mode, "pub"))
        rc = run_pub(&o);
    else if (!strcmp(o.mode, "pubsub"))
        rc = run_fanout(&o, false);
    else if (!strcmp(o.mode, "queue"))
        rc = run_fanout(&o, true);
    else if (!strcmp(o.mode, "reqrep"))
        rc = run_reqrep(&o);
    else if (!strcmp(o.mode, "conns"))
        rc = run_conns(&o);
    else if (!strcmp(o.mode, "subs"))
        rc = run_subs(&o);
    else {
        usage(stderr);
        return 2;
    }
    rbuf_release();
    if (rc) {
        fprintf(stderr, "tern-bench: %s failed: %s\n", o.mode, strerror(-rc));
        return 1;
    }
    return 0;
}
