/*
 * tests/bench/loadgen.c — tern-bench, the Tern benchmark's load generator.
 *
 * Speaks the raw NATS client protocol to one server (pubsub and queue, with
 * --sub-server: the publisher to one cluster node, the receivers to
 * another) and prints one JSON result line (errors: stderr, exit 1). Modes
 * pub, pubsub, queue, reqrep, conns, subs: see tests/bench/README.md. This
 * file holds the modes, their checks and results, and the command line;
 * connections live in bench_conn.c, the windowed publisher in bench_pub.c
 * (and the cross-node interest probe). One thread per role:
 * the publisher on the main thread, all subscribers on one epoll thread.
 */
#include <errno.h>
#include <getopt.h>
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
#include <unistd.h>

#include "tests/bench/bench_conn.h"
#include "tests/bench/bench_js.h"
#include "tests/bench/bench_opts.h"
#include "tests/bench/bench_pub.h"

static volatile sig_atomic_t stop_flag; /* set by SIGINT/SIGTERM: end hold() */

/* ---- publish only ---- */

static double per_sec(uint64_t n, int64_t ns)
{
    return ns > 0 ? (double)n * 1e9 / (double)ns : 0.0;
}

static int run_pub(const struct bench_opts *o)
{
    struct conn *c = NULL;
    int64_t ns = 0;
    int rc = conn_open(o, &conn_plain_handlers, NULL, &c);
    if (!rc)
        rc = pub_publish(o, c, NULL, &ns);
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
    const struct bench_opts *o; /* borrowed */
    bool queue;
    struct sub *subs;     /* owned, o->subs entries */
    uint8_t *seen;        /* owned: queue mode, one bit per sequence */
    uint64_t total;       /* messages received over all subscribers */
    int64_t first, last;  /* times of the reads that brought the first/last message */
    struct pub_window win;
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
    if (m->reply.len) /* an interest probe (pub_await_interest); real ones have none */
        return 0;
    if (m->total_len != f->o->size || m->hdr_len != 0)
        return sub_fail(s, "message of wrong size", 0);
    uint64_t seq = s->count;
    if (f->o->size >= PUB_SEQ_LEN) {
        seq = pub_seq_get(m->data);
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

static const struct proto_handlers sub_handlers = CONN_HANDLERS(on_sub_msg);

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
    int64_t t = bench_now_ns();
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
    const struct bench_opts *o = f->o;
    int64_t idle_since = bench_now_ns();
    bool flushing = false;
    for (;;) {
        bool progress = false;
        int rc = fanout_read(f, ep, 20, &progress);
        if (rc < 0)
            return rc;
        if (progress) {
            fanout_publish_progress(f);
            idle_since = bench_now_ns();
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
            idle_since = bench_now_ns();
        }
        if (bench_now_ns() - idle_since > (int64_t)o->timeout_ms * 1000000) {
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
    conn_rbuf_release();
    return NULL;
}

static int fanout_setup(struct fanout *f)
{
    const struct bench_opts *o = f->o;
    f->subs = calloc((size_t)o->subs, sizeof *f->subs);
    if (!f->subs)
        return -ENOMEM;
    if (f->queue && o->size >= PUB_SEQ_LEN && !(f->seen = calloc(o->msgs / 8 + 1, 1)))
        return -ENOMEM;
    f->win.efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (f->win.efd < 0)
        return -errno;
    for (int i = 0; i < o->subs; i++) {
        struct sub *s = &f->subs[i];
        s->f = f;
        int rc = conn_open_at(o, o->sub_host, o->sub_port, &sub_handlers, s, &s->c);
        if (!rc)
            rc = conn_subscribe(s->c, o->subject, f->queue ? "bench.q" : NULL, 1);
        if (!rc) /* the PONG proves the SUB is registered */
            rc = conn_flush(s->c, o->timeout_ms);
        if (rc)
            return rc;
    }
    return 0;
}

static void fanout_print(const struct fanout *f, int64_t pub_ns)
{
    const struct bench_opts *o = f->o;
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

static int run_fanout(const struct bench_opts *o, bool queue)
{
    struct fanout f = {.o = o, .queue = queue, .win.efd = -1};
    struct conn *pub = NULL;
    int64_t pub_ns = 0;
    int rc = fanout_setup(&f);
    if (!rc)
        rc = conn_open(o, &conn_plain_handlers, NULL, &pub);
    /* Receivers on another node: their interest crosses a route on its own
     * time, so wait until the publisher's node has it. */
    if (!rc && (strcmp(o->host, o->sub_host) || strcmp(o->port, o->sub_port)))
        rc = pub_await_interest(o, pub);
    if (rc)
        goto out;
    pthread_t th;
    if ((rc = -pthread_create(&th, NULL, fanout_main, &f)))
        goto out;
    rc = pub_publish(o, pub, &f.win, &pub_ns);
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
    const struct bench_opts *o; /* borrowed */
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
        (r->o->size >= PUB_SEQ_LEN && pub_seq_get(m->data) != r->cur) || r->replied) {
        fprintf(stderr, "tern-bench: unexpected reply (request %llu)\n",
                (unsigned long long)r->cur);
        return conn_fail(c, -EPROTO);
    }
    r->replied = true;
    return 0;
}

static const struct proto_handlers responder_handlers = CONN_HANDLERS(on_request);
static const struct proto_handlers requester_handlers = CONN_HANDLERS(on_reply);

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

static void reqrep_print(const struct bench_opts *o, uint64_t *lat, size_t n, int64_t ns)
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

static int run_reqrep(const struct bench_opts *o)
{
    struct reqrep r = {.o = o};
    struct conn *req = NULL, *rsp = NULL;
    struct pub_frame f = {0};
    uint64_t *lat = NULL;
    size_t n = 0, cap = 0;
    char inbox[64];
    snprintf(inbox, sizeof inbox, "_INBOX.bench.%ld", (long)getpid());
    int rc = conn_open(o, &responder_handlers, &r, &rsp);
    if (!rc)
        rc = conn_open(o, &requester_handlers, &r, &req);
    if (!rc && !(rc = conn_subscribe(rsp, o->subject, NULL, 1)))
        rc = conn_flush(rsp, o->timeout_ms); /* registered before any request */
    if (!rc && !(rc = conn_subscribe(req, inbox, NULL, 1)))
        rc = conn_flush(req, o->timeout_ms);
    if (!rc)
        rc = pub_frame_build(&f, o->subject, inbox, o->size);
    int64_t t0 = 0, end = bench_now_ns() + (int64_t)(o->duration * 1e9);
    for (uint64_t i = 0; !rc; i++) {
        if (i == o->warmup) {
            t0 = bench_now_ns();
            end = t0 + (int64_t)(o->duration * 1e9);
        }
        if (i > o->warmup && (o->msgs ? n >= o->msgs : bench_now_ns() >= end))
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
        pub_seq_put(req->wbuf + req->wlen - f.len + f.hdr, o->size, i);
        int64_t ts = bench_now_ns();
        if ((rc = round_trip(&r, req, rsp)))
            break;
        if (i >= o->warmup)
            lat[n++] = (uint64_t)(bench_now_ns() - ts);
    }
    if (!rc && n == 0)
        rc = -EINVAL;
    if (!rc)
        reqrep_print(o, lat, n, bench_now_ns() - t0);
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
static int hold(const struct bench_opts *o, struct conn **cs, int n)
{
    struct pollfd *p = calloc((size_t)n + 1, sizeof *p);
    if (!p)
        return -ENOMEM;
    p[0] = (struct pollfd){o->hold > 0 ? -1 : STDIN_FILENO, POLLIN, 0};
    for (int i = 0; i < n; i++)
        p[i + 1] = (struct pollfd){cs[i]->fd, POLLIN, 0};
    int64_t end = bench_now_ns() + (int64_t)(o->hold * 1e9);
    int rc = 0;
    while (!rc && !stop_flag && (o->hold <= 0 || bench_now_ns() < end)) {
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

static int run_conns(const struct bench_opts *o)
{
    struct conn **cs = calloc((size_t)o->conns, sizeof *cs);
    if (!cs)
        return -ENOMEM;
    raise_fd_limit();
    int rc = 0, opened = 0;
    int64_t t0 = bench_now_ns();
    for (; !rc && opened < o->conns; opened++)
        rc = conn_open(o, &conn_plain_handlers, NULL, &cs[opened]);
    if (rc)
        fprintf(stderr, "tern-bench: connection %d of %d failed\n", opened, o->conns);
    if (!rc) {
        printf("{\"mode\":\"conns\",\"conns\":%d,\"open_seconds\":%.3f,\"ready\":true}\n",
               o->conns, (double)(bench_now_ns() - t0) / 1e9);
        fflush(stdout);
        rc = hold(o, cs, o->conns);
    }
    for (int i = 0; i < o->conns; i++)
        conn_close(cs[i]);
    free(cs);
    return rc;
}

static int run_subs(const struct bench_opts *o)
{
    struct conn *c = NULL;
    int64_t t0 = bench_now_ns();
    int rc = conn_open(o, &conn_plain_handlers, NULL, &c);
    char subj[300];
    for (int i = 0; !rc && i < o->nsubs; i++) {
        snprintf(subj, sizeof subj, "%s.%d", o->subject, i);
        rc = conn_subscribe(c, subj, NULL, i + 1);
        /* Hand the server big batches, not one write per SUB. */
        if (!rc && c->wlen >= CONN_WBATCH)
            rc = conn_flush(c, o->timeout_ms);
    }
    if (!rc)
        rc = conn_flush(c, o->timeout_ms);
    if (!rc) {
        printf("{\"mode\":\"subs\",\"subs\":%d,\"open_seconds\":%.3f,\"ready\":true}\n",
               o->nsubs, (double)(bench_now_ns() - t0) / 1e9);
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
            "modes: pub | pubsub | queue | reqrep | conns | subs | jspub | jssync | jsfetch\n"
            "       (js*: JetStream, see tests/bench/bench_js.h; --window = PubAcks in flight)\n"
            "  -s, --server HOST:PORT   server address (127.0.0.1:4222)\n"
            "      --sub-server HOST:PORT  pubsub/queue receivers connect here (-s); when it\n"
            "                           differs, first wait for their interest at -s (10 s)\n"
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
            "      --hold SEC           conns/subs: hold SEC seconds, not until stdin EOF\n"
            "      --tls-ca FILE        TLS on every connection (upgrade after INFO); trust FILE\n"
            "      --replicas R         js*: the stream's num_replicas (1)\n"
            "      --no-create          js*: stream BENCH exists already on the subject, empty\n");
}

/* "HOST:PORT" (the last colon splits) into host and port. */
static int parse_hostport(const char *arg, char *host, size_t hsz, char *port, size_t psz)
{
    const char *colon = strrchr(arg, ':');
    if (!colon || colon == arg)
        return -EINVAL;
    snprintf(host, hsz, "%.*s", (int)(colon - arg), arg);
    snprintf(port, psz, "%s", colon + 1);
    return 0;
}

static int parse_args(int argc, char **argv, struct bench_opts *o)
{
    static const struct option lo[] = {
        {"server", 1, 0, 's'}, {"msgs", 1, 0, 'n'}, {"size", 1, 0, 'z'},
        {"subs", 1, 0, 'k'}, {"duration", 1, 0, 'd'}, {"conns", 1, 0, 'c'},
        {"nsubs", 1, 0, 'm'}, {"subject", 1, 0, 'S'}, {"ping-every", 1, 0, 'P'},
        {"max-pings", 1, 0, 'M'}, {"window", 1, 0, 'W'}, {"window-bytes", 1, 0, 'B'},
        {"warmup", 1, 0, 'U'}, {"sub-server", 1, 0, 'R'},
        {"timeout", 1, 0, 'T'}, {"hold", 1, 0, 'H'}, {"tls-ca", 1, 0, 'L'},
        {"replicas", 1, 0, 'r'}, {"no-create", 0, 0, 'X'}, {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    *o = (struct bench_opts){.msgs = 0, .size = 128, .subs = 1, .duration = 5, .conns = 1000,
                       .nsubs = 100000, .ping_every = 8192, .max_pings = 4,
                       .window = 65536, .window_bytes = 16 << 20, .warmup = 1000, .timeout_ms = 10000,
                       .replicas = 1};
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
        case 's':
            if (parse_hostport(optarg, o->host, sizeof o->host, o->port, sizeof o->port))
                return -EINVAL;
            break;
        case 'R':
            if (parse_hostport(optarg, o->sub_host, sizeof o->sub_host, o->sub_port,
                               sizeof o->sub_port))
                return -EINVAL;
            break;
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
        case 'L': o->tls_ca = optarg; break;
        case 'r': o->replicas = atoi(optarg); break;
        case 'X': o->no_create = true; break;
        case 'h': usage(stdout); exit(0);
        default: return -EINVAL;
        }
    }
    if (optind != argc || o->subs < 1 || o->conns < 1 || o->nsubs < 1 || o->replicas < 1 || !o->ping_every ||
        !o->max_pings || o->timeout_ms <= 0) {
        usage(stderr);
        return -EINVAL;
    }
    if (!o->sub_host[0]) { /* no --sub-server: everything on -s */
        snprintf(o->sub_host, sizeof o->sub_host, "%s", o->host);
        snprintf(o->sub_port, sizeof o->sub_port, "%s", o->port);
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct bench_opts o;
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

    if (o.tls_ca && bench_tls_init(o.tls_ca))
        return 2;
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
    else if (!strncmp(o.mode, "js", 2))
        rc = bench_js_run(&o);
    else {
        usage(stderr);
        return 2;
    }
    conn_rbuf_release();
    bench_tls_free();
    if (rc) {
        fprintf(stderr, "tern-bench: %s failed: %s\n", o.mode, strerror(-rc));
        return 1;
    }
    return 0;
}
