/*
 * tests/bench/bench_pub.c — the windowed publisher behind pub, pubsub, queue.
 *
 * PUB frames are copied into a batch of up to CONN_WBATCH bytes, each with
 * its sequence number, and handed to one write(). Two windows hold the
 * publisher back so no server buffers unbounded data: PINGs in flight
 * (inbound backlog) and messages ahead of the slowest receiver (outbound;
 * struct pub_window, fed by the receiver thread). While a window is full
 * the publisher sleeps in poll() on its socket and the receiver's eventfd.
 * Before a cross-node run, pub_await_interest() probes until the
 * subscribers' interest has crossed the route.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/bench/bench_pub.h"

int pub_frame_build(struct pub_frame *f, const char *subject, const char *reply, size_t size)
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
static uint64_t pub_limit(const struct bench_opts *o, const struct conn *c,
                          struct pub_window *w, uint64_t n, bool *by_window)
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
static int pub_fill(const struct bench_opts *o, struct conn *c, const struct pub_frame *f,
                    uint64_t *sent, uint64_t limit)
{
    while (*sent < limit && c->wlen < CONN_WBATCH && c->pings - c->pongs < o->max_pings) {
        char *p = conn_reserve(c, f->len);
        if (!p)
            return -ENOMEM;
        memcpy(p, f->buf, f->len);
        pub_seq_put(p + f->hdr, o->size, *sent);
        ++*sent;
        if (*sent % o->ping_every == 0 && *sent < o->msgs && conn_ping(c))
            return -ENOMEM;
    }
    return 0;
}

/* Sleep until the socket, the receiver or the timeout has news. */
static int pub_wait(const struct bench_opts *o, struct conn *c, struct pub_window *w,
                    uint64_t sent, bool by_window, bool out_pending)
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

/* ---- waiting for interest across a route ---- */

#define PROBE_WAIT_MS 50  /* no 503 this long after a probe: it was routed */
#define PROBE_RETRY_MS 10 /* pause after a 503 before the next probe */
#define PROBE_SID 1       /* the inbox subscription; the publisher has no other */

/* The probing connection's role: the inbox and the 503s seen on it. */
struct probe {
    char inbox[64];
    uint64_t no_responders;
};

/* Only the server's 503 status (HMSG <inbox> <sid> 16 16) may arrive. */
static int on_probe_msg(void *ctx, const struct proto_msg *m)
{
    struct conn *c = ctx;
    struct probe *p = c->role;
    static const char status[] = "NATS/1.0 503";
    if (m->subject.len == strlen(p->inbox) && !memcmp(m->subject.ptr, p->inbox, m->subject.len) &&
        m->hdr_len >= sizeof status - 1 && !memcmp(m->data, status, sizeof status - 1)) {
        p->no_responders++;
        return 0;
    }
    fprintf(stderr, "tern-bench: unexpected MSG on %.*s while probing for interest\n",
            (int)m->subject.len, m->subject.ptr);
    return conn_fail(c, -EPROTO);
}

static const struct proto_handlers probe_handlers = CONN_HANDLERS(on_probe_msg);

/* Send one probe; 1 if a 503 came back, 0 if none came within PROBE_WAIT_MS
 * nor before the PONG that follows (the server sends a 503 before it). */
static int probe_once(const struct bench_opts *o, struct conn *c, struct probe *p,
                      const struct pub_frame *f)
{
    uint64_t before = p->no_responders;
    int rc = conn_append(c, f->buf, f->len);
    int64_t deadline = bench_now_ns() + (int64_t)PROBE_WAIT_MS * 1000000;
    while (!rc && p->no_responders == before) {
        int sr = conn_send(c);
        if (sr < 0)
            return sr;
        int left = (int)((deadline - bench_now_ns()) / 1000000);
        if (left <= 0) {
            rc = conn_flush(c, o->timeout_ms);
            return rc ? rc : p->no_responders != before;
        }
        struct pollfd pf = {c->fd, (short)(POLLIN | (sr ? POLLOUT : 0)), 0};
        if (poll(&pf, 1, left) < 0 && errno != EINTR)
            return -errno;
        if ((pf.revents & (POLLIN | POLLHUP | POLLERR)) && (rc = conn_read(c)) > 0)
            rc = 0;
    }
    return rc ? rc : 1;
}

/* Probe `PUB subject inbox 0` until c's server stops answering 503 (no
 * responders): then a route carries the receivers' interest. Receivers
 * ignore the probes that get through, as they carry a reply subject. */
int pub_await_interest(const struct bench_opts *o, struct conn *c)
{
    const struct proto_handlers *h = c->h;
    void *role = c->role;
    struct probe p = {0};
    struct pub_frame f = {0};
    snprintf(p.inbox, sizeof p.inbox, "_INBOX.bench.probe.%ld", (long)getpid());
    c->h = &probe_handlers;
    c->role = &p;
    int rc = conn_subscribe(c, p.inbox, NULL, PROBE_SID);
    if (!rc)
        rc = conn_flush(c, o->timeout_ms);
    if (!rc)
        rc = pub_frame_build(&f, o->subject, p.inbox, 0);
    int64_t deadline = bench_now_ns() + (int64_t)PUB_INTEREST_WAIT_MS * 1000000;
    while (!rc && (rc = probe_once(o, c, &p, &f)) == 1) {
        if (bench_now_ns() >= deadline) {
            fprintf(stderr, "tern-bench: no interest in %s at %s:%s after %d ms "
                    "(%llu no-responders replies)\n", o->subject, o->host, o->port,
                    PUB_INTEREST_WAIT_MS, (unsigned long long)p.no_responders);
            rc = -ETIMEDOUT;
            break;
        }
        poll(NULL, 0, PROBE_RETRY_MS);
        rc = 0;
    }
    /* Drop the inbox; after this PONG no late 503 can reach the run. */
    char unsub[32];
    int n = snprintf(unsub, sizeof unsub, "UNSUB %d\r\n", PROBE_SID);
    if (!rc && !(rc = conn_append(c, unsub, (size_t)n)))
        rc = conn_flush(c, o->timeout_ms);
    free(f.buf);
    c->h = h;
    c->role = role;
    return rc;
}

/* Publish o->msgs messages, end with PING/PONG; *elapsed covers both. */
int pub_publish(const struct bench_opts *o, struct conn *c, struct pub_window *w,
                int64_t *elapsed)
{
    struct pub_frame f;
    int rc = pub_frame_build(&f, o->subject, NULL, o->size);
    if (rc)
        return rc;
    if (w) { /* big payloads: bound the bytes too, so memory stays bounded */
        uint64_t by_bytes = o->window_bytes / f.len ? o->window_bytes / f.len : 1;
        w->window = o->window < by_bytes ? o->window : by_bytes;
    }
    uint64_t sent = 0;
    bool by_window;
    int64_t t0 = bench_now_ns();
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
    *elapsed = bench_now_ns() - t0;
out:
    free(f.buf);
    return rc;
}
