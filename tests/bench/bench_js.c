/*
 * tests/bench/bench_js.c — JetStream publish and consume load (see
 * bench_js.h).
 *
 * One connection, one thread: frames are appended to the connection's
 * buffer and the socket is served with poll until the counters this file's
 * message handler advances reach their targets. PubAcks are parsed just
 * enough to check them ("seq":N, no "error"); fetched messages are checked
 * through the stream sequence in their 9-token ack subject.
 */
#include "tests/bench/bench_js.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/bench/bench_conn.h"
#include "tests/bench/bench_pub.h"

#define FETCH_BATCH 256

/* Owner: bench_js_run, on its stack; one thread. */
struct jsrun {
    const struct bench_opts *o; /* borrowed */
    uint64_t api_replies;       /* JSON replies to $JS.API requests */
    uint64_t acks;              /* PubAcks received */
    uint64_t next_seq;          /* sequence the next PubAck must carry */
    uint64_t fetched;           /* messages consumed */
    uint64_t batch_done;        /* status messages ending a fetch */
    char api_err[256];          /* first API error text */
};

static uint64_t json_u64(const char *p, size_t n, const char *key)
{
    size_t kl = strlen(key);
    for (size_t i = 0; i + kl < n; i++)
        if (!memcmp(p + i, key, kl))
            return strtoull(p + i + kl, NULL, 10);
    return 0;
}

static bool has_error(const char *p, size_t n)
{
    return memmem(p, n, "\"error\"", 7) != NULL;
}

/* The 6th token of $JS.ACK.<stream>.<consumer>.<dc>.<sseq>.<cseq>.<ts>.<pending>. */
static uint64_t ack_sseq(const struct proto_slice *reply)
{
    int dots = 0;
    for (size_t i = 0; i < reply->len; i++)
        if (reply->ptr[i] == '.' && ++dots == 5)
            return strtoull(reply->ptr + i + 1, NULL, 10);
    return 0;
}

static int on_js_msg(void *ctx, const struct proto_msg *m)
{
    struct conn *c = ctx;
    struct jsrun *r = c->role;
    const char *body = m->data + m->hdr_len;
    size_t blen = m->total_len - m->hdr_len;
    if (m->sid.len == 1 && m->sid.ptr[0] == '1') { /* API reply */
        if (has_error(body, blen) && !r->api_err[0])
            snprintf(r->api_err, sizeof r->api_err, "%.*s", (int)blen, body);
        r->api_replies++;
        return 0;
    }
    if (m->sid.len == 1 && m->sid.ptr[0] == '2') { /* PubAck */
        uint64_t seq = json_u64(body, blen, "\"seq\":");
        if (has_error(body, blen) || seq != r->next_seq) {
            fprintf(stderr, "tern-bench: bad PubAck (want seq %" PRIu64 "): %.*s\n",
                    r->next_seq, (int)blen, body);
            return conn_fail(c, -EPROTO);
        }
        r->next_seq++;
        r->acks++;
        return 0;
    }
    /* sid 3: fetched messages and the status that ends a fetch */
    if (m->hdr_len && !m->reply.len) {
        r->batch_done++;
        return 0;
    }
    if (ack_sseq(&m->reply) != r->fetched + 1) {
        fprintf(stderr, "tern-bench: fetched stream seq %" PRIu64 ", want %" PRIu64 "\n",
                ack_sseq(&m->reply), r->fetched + 1);
        return conn_fail(c, -EPROTO);
    }
    r->fetched++;
    char *p = conn_reserve(c, m->reply.len + 16);
    if (!p)
        return conn_fail(c, -ENOMEM);
    int n = sprintf(p, "PUB %.*s 0\r\n\r\n", (int)m->reply.len, m->reply.ptr);
    c->wlen -= m->reply.len + 16 - (size_t)n; /* give back the unused reserve */
    return 0;
}

static const struct proto_handlers js_handlers = CONN_HANDLERS(on_js_msg);

/* One $JS.API request, waiting for its reply. */
static int api(struct conn *c, struct jsrun *r, const char *subject, const char *body)
{
    char line[512];
    int n = snprintf(line, sizeof line, "PUB %s _INBOX.bjs.api %zu\r\n%s\r\n", subject,
                     strlen(body), body);
    if (n < 0 || (size_t)n >= sizeof line)
        return -EINVAL;
    uint64_t want = r->api_replies + 1;
    int rc = conn_append(c, line, (size_t)n);
    if (!rc)
        rc = conn_wait(c, &r->api_replies, want, r->o->timeout_ms, "API reply");
    if (!rc && r->api_err[0]) {
        fprintf(stderr, "tern-bench: %s: %s\n", subject, r->api_err);
        return -EPROTO;
    }
    return rc;
}

static int setup(struct conn **cp, struct jsrun *r)
{
    const struct bench_opts *o = r->o;
    int rc = conn_open(o, &js_handlers, r, cp);
    if (rc)
        return rc;
    struct conn *c = *cp;
    if ((rc = conn_subscribe(c, "_INBOX.bjs.api", NULL, 1)) ||
        (rc = conn_subscribe(c, "_INBOX.bjs.ack", NULL, 2)) ||
        (rc = conn_subscribe(c, "_INBOX.bjs.fetch", NULL, 3)) || (rc = conn_flush(c, o->timeout_ms)))
        return rc;
    r->next_seq = 1;
    if (o->no_create)
        return 0; /* made by the caller (run.py: an R3 stream, leader found) */
    char body[256];
    snprintf(body, sizeof body,
             "{\"name\":\"BENCH\",\"subjects\":[\"%s\"],\"storage\":\"file\","
             "\"num_replicas\":%d}",
             o->subject, o->replicas);
    return api(c, r, "$JS.API.STREAM.CREATE.BENCH", body);
}

/* Publish o->msgs with at most window PubAcks outstanding (1 = sync, and
 * then each publish → ack latency goes into lat). */
static int publish(struct conn *c, struct jsrun *r, uint64_t window, uint64_t *lat)
{
    const struct bench_opts *o = r->o;
    struct pub_frame f = {0};
    int rc = pub_frame_build(&f, o->subject, "_INBOX.bjs.ack", o->size);
    uint64_t base = r->acks;
    for (uint64_t i = 0; !rc && i < o->msgs; i++) {
        if (i - (r->acks - base) >= window) {
            uint64_t want = base + i - window + 1;
            rc = conn_wait(c, &r->acks, want, o->timeout_ms, "PubAck");
            if (rc)
                break;
        }
        if ((rc = conn_append(c, f.buf, f.len)))
            break;
        pub_seq_put(c->wbuf + c->wlen - f.len + f.hdr, o->size, i);
        if (lat) {
            int64_t t = bench_now_ns();
            rc = conn_wait(c, &r->acks, base + i + 1, o->timeout_ms, "PubAck");
            lat[i] = (uint64_t)(bench_now_ns() - t);
        } else if (c->wlen - c->woff >= CONN_WBATCH && conn_send(c) < 0) {
            rc = -EIO;
        }
    }
    if (!rc)
        rc = conn_wait(c, &r->acks, base + o->msgs, o->timeout_ms, "last PubAck");
    free(f.buf);
    return rc;
}

static int fetch_all(struct conn *c, struct jsrun *r)
{
    const struct bench_opts *o = r->o;
    int rc = api(c, r, "$JS.API.CONSUMER.DURABLE.CREATE.BENCH.C",
                 "{\"stream_name\":\"BENCH\",\"config\":{\"durable_name\":\"C\","
                 "\"ack_policy\":\"explicit\",\"max_ack_pending\":-1}}");
    char body[64], req[160];
    snprintf(body, sizeof body, "{\"batch\":%d,\"expires\":2000000000}", FETCH_BATCH);
    int n = snprintf(req, sizeof req,
                     "PUB $JS.API.CONSUMER.MSG.NEXT.BENCH.C _INBOX.bjs.fetch %zu\r\n%s\r\n",
                     strlen(body), body);
    while (!rc && r->fetched < o->msgs) {
        uint64_t want = r->fetched + FETCH_BATCH;
        if (want > o->msgs)
            want = o->msgs;
        uint64_t done = r->batch_done;
        if ((rc = conn_append(c, req, (size_t)n)))
            break;
        /* A batch ends when it is full or a status says the request ended. */
        int64_t deadline = bench_now_ns() + (int64_t)o->timeout_ms * 1000000;
        while (!rc && r->fetched < want && r->batch_done == done) {
            int s = conn_send(c);
            struct pollfd p = {c->fd, (short)(POLLIN | (s ? POLLOUT : 0)), 0};
            if (s < 0 || bench_now_ns() > deadline) {
                rc = s < 0 ? -EIO : -ETIMEDOUT;
                break;
            }
            if (poll(&p, 1, 100) > 0 && (p.revents & (POLLIN | POLLHUP | POLLERR)))
                rc = conn_read(c) < 0 ? -EIO : 0;
        }
    }
    if (!rc)
        rc = conn_flush(c, o->timeout_ms); /* the last acks are in */
    return rc;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static double pct_us(const uint64_t *v, size_t n, double q)
{
    size_t k = (size_t)(q * (double)n + 0.999999);
    k = k ? k - 1 : 0;
    return (double)v[k < n ? k : n - 1] / 1e3;
}

int bench_js_run(const struct bench_opts *o)
{
    struct jsrun r = {.o = o};
    struct conn *c = NULL;
    uint64_t *lat = NULL;
    int rc = setup(&c, &r);
    int64_t t0 = bench_now_ns(), ns = 0;
    if (!rc && !strcmp(o->mode, "jspub")) {
        rc = publish(c, &r, o->window ? o->window : 1000, NULL);
        ns = bench_now_ns() - t0;
        if (!rc)
            printf("{\"mode\":\"jspub\",\"msgs\":%" PRIu64 ",\"size\":%zu,\"seconds\":%.6f,"
                   "\"msgs_per_sec\":%.1f}\n",
                   o->msgs, o->size, (double)ns / 1e9, (double)o->msgs * 1e9 / (double)ns);
    } else if (!rc && !strcmp(o->mode, "jssync")) {
        lat = calloc(o->msgs, sizeof *lat);
        rc = lat ? publish(c, &r, 1, lat) : -ENOMEM;
        ns = bench_now_ns() - t0;
        if (!rc) {
            qsort(lat, o->msgs, sizeof *lat, cmp_u64);
            printf("{\"mode\":\"jssync\",\"msgs\":%" PRIu64 ",\"size\":%zu,\"seconds\":%.6f,"
                   "\"p50_us\":%.1f,\"p99_us\":%.1f,\"msgs_per_sec\":%.1f}\n",
                   o->msgs, o->size, (double)ns / 1e9, pct_us(lat, o->msgs, 0.5),
                   pct_us(lat, o->msgs, 0.99), (double)o->msgs * 1e9 / (double)ns);
        }
    } else if (!rc && !strcmp(o->mode, "jsfetch")) {
        rc = publish(c, &r, o->window ? o->window : 1000, NULL);
        t0 = bench_now_ns();
        if (!rc)
            rc = fetch_all(c, &r);
        ns = bench_now_ns() - t0;
        if (!rc)
            printf("{\"mode\":\"jsfetch\",\"msgs\":%" PRIu64 ",\"size\":%zu,\"seconds\":%.6f,"
                   "\"msgs_per_sec\":%.1f}\n",
                   o->msgs, o->size, (double)ns / 1e9, (double)o->msgs * 1e9 / (double)ns);
    } else if (!rc) {
        rc = -EINVAL;
    }
    free(lat);
    conn_close(c);
    conn_rbuf_release();
    return rc;
}
