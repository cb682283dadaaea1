/*
 * tests/unit/check_parser.c — unit tests of proto/parser.c.
 *
 * Every handler call is recorded as a line of text; a test feeds bytes (each
 * chunk from its own heap copy, freed right after the call, so AddressSanitizer
 * catches a parser that keeps pointers into the caller's buffer) and compares
 * the recorded lines with lines written by hand from the spec. The stream
 * tests also feed the same bytes whole, one byte at a time and cut at every
 * point, and require the identical record each time. The route side (RS+,
 * RS-, RMSG, route HMSG) is checked with the lines captured from nats-server
 * in spec/cluster-protocol.md §2.1, §4.2 and §5.1.
 */
#include <check.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/parser.h"

#define STOP_CODE 77 /* what a stopping handler returns */

/* Check logs the place of every passing ck_assert, which costs a write per
 * call; helpers that run millions of times check with this instead. */
#define REQUIRE(x)                                                            \
    do {                                                                      \
        if (!(x))                                                             \
            ck_abort_msg("%s:%d: %s", __FILE__, __LINE__, #x);                \
    } while (0)

/* ---- a growing string with escaped bytes ---- */

struct sb {
    char *s;
    size_t n, cap;
};

static void sb_grow(struct sb *b, size_t more)
{
    if (b->n + more + 1 <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->n + more + 1)
        cap *= 2;
    b->s = realloc(b->s, cap);
    REQUIRE(b->s);
    b->cap = cap;
}

static void sb_printf(struct sb *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    sb_grow(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(b->s + b->n, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->n += (size_t)n;
}

static void sb_esc(struct sb *b, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c >= 0x20 && c < 0x7f && c != '\\')
            sb_printf(b, "%c", c);
        else
            sb_printf(b, "\\x%02x", c);
    }
}

static void sb_slice(struct sb *b, struct proto_slice s)
{
    sb_esc(b, s.ptr, s.len);
}

/* ---- recording handlers ---- */

struct rec {
    char **ev;
    size_t n, cap;
    int stop_at;          /* 1-based event whose handler returns STOP_CODE */
    bool clear_auth;      /* on_connect clears require_connect, as the server does */
    struct proto_parser *p;
    const char *lo, *hi;  /* when set: every slice must lie in [lo, hi) */
    size_t outside;       /* slices found outside [lo, hi) */
};

static int rec_push(struct rec *r, struct sb *b)
{
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 16;
        r->ev = realloc(r->ev, r->cap * sizeof *r->ev);
        REQUIRE(r->ev);
    }
    r->ev[r->n++] = b->s ? b->s : strdup("");
    return (r->stop_at && (size_t)r->stop_at == r->n) ? STOP_CODE : 0;
}

static void rec_free(struct rec *r)
{
    for (size_t i = 0; i < r->n; i++)
        free(r->ev[i]);
    free(r->ev);
    r->ev = NULL;
    r->n = r->cap = 0;
}

static void check_inside(struct rec *r, const char *p, size_t n)
{
    if (!r->lo || n == 0)
        return;
    uintptr_t a = (uintptr_t)p, lo = (uintptr_t)r->lo, hi = (uintptr_t)r->hi;
    if (a < lo || a + n > hi)
        r->outside++;
}

/* FNV-1a over 8-byte words: a fingerprint of a payload, cheap enough for
 * megabyte payloads parsed thousands of times. */
static uint64_t fnv1a(const char *p, size_t n)
{
    uint64_t h = 1469598103934665603ULL, w;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        memcpy(&w, p + i, 8);
        h = (h ^ w) * 1099511628211ULL;
        h ^= h >> 29;
    }
    for (; i < n; i++)
        h = (h ^ (unsigned char)p[i]) * 1099511628211ULL;
    return h;
}

/* The one format for a message event, used by the handler and by the
 * expectations written in the tests. */
static void fmt_msg(struct sb *b, const char *subj, size_t sl, const char *reply, size_t rl,
                    const char *sid, size_t il, const char *size, size_t zl, const char *hdr,
                    size_t hl, size_t hdr_len, size_t total_len, bool hh, const char *data)
{
    sb_printf(b, "MSG subj=");
    sb_esc(b, subj, sl);
    sb_printf(b, " reply=");
    sb_esc(b, reply, rl);
    sb_printf(b, " sid=");
    sb_esc(b, sid, il);
    sb_printf(b, " size=");
    sb_esc(b, size, zl);
    sb_printf(b, " hdr=");
    sb_esc(b, hdr, hl);
    sb_printf(b, " hl=%zu tl=%zu hh=%d data=%zu:%016llx", hdr_len, total_len, hh ? 1 : 0,
              total_len, (unsigned long long)fnv1a(data, total_len));
    if (total_len <= 128) {
        sb_printf(b, ":");
        sb_esc(b, data, total_len);
    }
}

/* What a routed message adds; written only when there is some, so the
 * events of the other sides read as they always did. */
static void fmt_route(struct sb *b, const char *acc, size_t al, char ind, const char *q,
                      size_t ql)
{
    if (!al && !ind && !ql)
        return;
    sb_printf(b, " acc=");
    sb_esc(b, acc, al);
    sb_printf(b, " ind=%s q=", ind ? (char[]){ ind, 0 } : "");
    sb_esc(b, q, ql);
}

static int on_connect(void *ctx, struct proto_slice js)
{
    struct rec *r = ctx;
    struct sb b = { 0 };
    check_inside(r, js.ptr, js.len);
    sb_printf(&b, "CONNECT ");
    sb_slice(&b, js);
    if (r->clear_auth)
        r->p->require_connect = false;
    return rec_push(r, &b);
}

static int on_info(void *ctx, struct proto_slice js)
{
    struct rec *r = ctx;
    struct sb b = { 0 };
    check_inside(r, js.ptr, js.len);
    sb_printf(&b, "INFO ");
    sb_slice(&b, js);
    return rec_push(r, &b);
}

static int on_msg(void *ctx, const struct proto_msg *m)
{
    struct rec *r = ctx;
    struct sb b = { 0 };
    REQUIRE(m->hdr_len <= m->total_len);
    REQUIRE(m->has_headers || (m->hdr_len == 0 && m->hdr_arg.len == 0));
    check_inside(r, m->subject.ptr, m->subject.len);
    check_inside(r, m->reply.ptr, m->reply.len);
    check_inside(r, m->sid.ptr, m->sid.len);
    check_inside(r, m->size_arg.ptr, m->size_arg.len);
    check_inside(r, m->hdr_arg.ptr, m->hdr_arg.len);
    check_inside(r, m->data, m->total_len);
    check_inside(r, m->account.ptr, m->account.len);
    check_inside(r, m->queues.ptr, m->queues.len);
    fmt_msg(&b, m->subject.ptr, m->subject.len, m->reply.ptr, m->reply.len, m->sid.ptr,
            m->sid.len, m->size_arg.ptr, m->size_arg.len, m->hdr_arg.ptr, m->hdr_arg.len,
            m->hdr_len, m->total_len, m->has_headers, m->data);
    fmt_route(&b, m->account.ptr, m->account.len, m->reply_indicator, m->queues.ptr,
              m->queues.len);
    return rec_push(r, &b);
}

static int on_rs_plus(void *ctx, struct proto_slice acc, struct proto_slice subj,
                      struct proto_slice q, int64_t weight)
{
    struct rec *r = ctx;
    struct sb b = { 0 };
    check_inside(r, acc.ptr, acc.len);
    check_inside(r, subj.ptr, subj.len);
    check_inside(r, q.ptr, q.len);
    sb_printf(&b, "RS+ ");
    sb_slice(&b, acc);
    sb_printf(&b, " ");
    sb_slice(&b, subj);
    sb_printf(&b, " q=");
    sb_slice(&b, q);
    sb_printf(&b, " w=%lld", (long long)weight);
    return rec_push(r, &b);
}

static int on_rs_minus(void *ctx, struct proto_slice acc, struct proto_slice subj,
                       struct proto_slice q)
{
    struct rec *r = ctx;
    struct sb b = { 0 };
    check_inside(r, acc.ptr, acc.len);
    check_inside(r, subj.ptr, subj.len);
    check_inside(r, q.ptr, q.len);
    sb_printf(&b, "RS- ");
    sb_slice(&b, acc);
    sb_printf(&b, " ");
    sb_slice(&b, subj);
    sb_printf(&b, " q=");
    sb_slice(&b, q);
    return rec_push(r, &b);
}

static int on_sub(void *ctx, struct proto_slice subj, struct proto_slice q, struct proto_slice sid)
{
    struct rec *r = ctx;
    struct sb b = { 0 };
    check_inside(r, subj.ptr, subj.len);
    check_inside(r, q.ptr, q.len);
    check_inside(r, sid.ptr, sid.len);
    sb_printf(&b, "SUB ");
    sb_slice(&b, subj);
    sb_printf(&b, " q=");
    sb_slice(&b, q);
    sb_printf(&b, " sid=");
    sb_slice(&b, sid);
    return rec_push(r, &b);
}

static int on_unsub(void *ctx, struct proto_slice sid, struct proto_slice max)
{
    struct rec *r = ctx;
    struct sb b = { 0 };
    sb_printf(&b, "UNSUB ");
    sb_slice(&b, sid);
    sb_printf(&b, " max=");
    sb_slice(&b, max);
    return rec_push(r, &b);
}

static int on_word(struct rec *r, const char *w)
{
    struct sb b = { 0 };
    sb_printf(&b, "%s", w);
    return rec_push(r, &b);
}

static int on_ping(void *ctx)
{
    return on_word(ctx, "PING");
}

static int on_pong(void *ctx)
{
    return on_word(ctx, "PONG");
}

static int on_ok(void *ctx)
{
    return on_word(ctx, "OK");
}

static int on_err(void *ctx, struct proto_slice text)
{
    struct rec *r = ctx;
    struct sb b = { 0 };
    sb_printf(&b, "ERR ");
    sb_slice(&b, text);
    return rec_push(r, &b);
}

static const struct proto_handlers all_handlers = {
    .on_connect = on_connect, .on_info = on_info, .on_msg = on_msg,
    .on_sub = on_sub,         .on_unsub = on_unsub, .on_ping = on_ping,
    .on_pong = on_pong,       .on_ok = on_ok,     .on_err = on_err,
    .on_rs_plus = on_rs_plus, .on_rs_minus = on_rs_minus,
};

/* ---- feeding ---- */

struct cfg {
    enum proto_side side;
    size_t mcl;
    int64_t mp;
    bool require_connect;
    bool clear_auth;
    int stop_at;
    bool check_zero_copy; /* one chunk only: slices must point into it */
};

static struct cfg server_cfg(void)
{
    return (struct cfg){ PROTO_SIDE_SERVER, 4096, 1048576, false, true, 0, false };
}

static struct cfg client_cfg(void)
{
    return (struct cfg){ PROTO_SIDE_CLIENT, 0, -1, false, false, 0, false };
}

static struct cfg route_cfg(void)
{
    return (struct cfg){ PROTO_SIDE_ROUTE, 0, -1, false, true, 0, false };
}

/* Feed buf cut at the sorted offsets cuts[0..ncuts); stop at the first
 * non-zero return and record it as "RC <n>". Returns the last rc. */
static int feed(const struct cfg *c, const char *buf, size_t len, const size_t *cuts,
                size_t ncuts, struct rec *r)
{
    struct proto_parser p;
    proto_parser_init(&p, c->side);
    p.max_control_line = c->mcl;
    p.max_payload = c->mp;
    p.require_connect = c->require_connect;
    memset(r, 0, sizeof *r);
    r->p = &p;
    r->clear_auth = c->clear_auth;
    r->stop_at = c->stop_at;
    int rc = 0;
    size_t at = 0;
    for (size_t k = 0; k <= ncuts && rc == 0; k++) {
        size_t end = k < ncuts ? cuts[k] : len;
        size_t n = end - at;
        char *chunk = malloc(n ? n : 1);
        REQUIRE(chunk);
        memcpy(chunk, buf + at, n);
        if (c->check_zero_copy) {
            r->lo = chunk;
            r->hi = chunk + n;
        }
        rc = proto_parse(&p, chunk, n, &all_handlers, r);
        r->lo = r->hi = NULL;
        free(chunk);
        at = end;
    }
    struct sb b = { 0 };
    sb_printf(&b, "RC %d", rc);
    r->stop_at = 0;
    rec_push(r, &b);
    proto_parser_free(&p);
    return rc;
}

static int feed_whole(const struct cfg *c, const char *buf, size_t len, struct rec *r)
{
    return feed(c, buf, len, NULL, 0, r);
}

static int feed_split(const struct cfg *c, const char *buf, size_t len, size_t at, struct rec *r)
{
    return feed(c, buf, len, &at, 1, r);
}

static int feed_bytes(const struct cfg *c, const char *buf, size_t len, struct rec *r)
{
    size_t *cuts = malloc((len ? len : 1) * sizeof *cuts);
    REQUIRE(cuts);
    for (size_t i = 0; i + 1 < len; i++)
        cuts[i] = i + 1;
    int rc = feed(c, buf, len, cuts, len ? len - 1 : 0, r);
    free(cuts);
    return rc;
}

static void assert_same(const struct rec *want, const struct rec *got, const char *how)
{
    size_t n = want->n < got->n ? want->n : got->n;
    for (size_t i = 0; i < n; i++)
        if (strcmp(want->ev[i], got->ev[i]) != 0)
            ck_abort_msg("%s: event %zu: want [%.300s] got [%.300s]", how, i, want->ev[i],
                         got->ev[i]);
    if (want->n != got->n)
        ck_abort_msg("%s: want %zu events, got %zu (last: %.200s)", how, want->n, got->n,
                     got->n ? got->ev[got->n - 1] : "-");
}

/* Expectations: a NULL-terminated list of event lines. */
static void expect_list(const struct rec *got, const char *const *want, const char *how)
{
    struct rec w = { 0 };
    for (size_t i = 0; want[i]; i++) {
        struct sb b = { 0 };
        sb_printf(&b, "%s", want[i]);
        rec_push(&w, &b);
    }
    assert_same(&w, got, how);
    rec_free(&w);
}

/* Parse wire (whole, byte by byte, and cut at every point) and require the
 * events in want each time. */
static void expect_c(const struct cfg *c, const char *wire, size_t len, const char *const *want)
{
    struct rec r;
    feed_whole(c, wire, len, &r);
    expect_list(&r, want, wire);
    rec_free(&r);
    feed_bytes(c, wire, len, &r);
    expect_list(&r, want, "byte at a time");
    rec_free(&r);
    for (size_t at = 1; at < len; at++) {
        feed_split(c, wire, len, at, &r);
        char how[64];
        snprintf(how, sizeof how, "split at %zu", at);
        expect_list(&r, want, how);
        rec_free(&r);
    }
}

#define EXPECT_SERVER(wire, ...)                                                      \
    do {                                                                              \
        struct cfg c_ = server_cfg();                                                 \
        const char *const w_[] = { __VA_ARGS__, NULL };                               \
        expect_c(&c_, wire, sizeof(wire) - 1, w_);                                    \
    } while (0)

#define EXPECT_CLIENT(wire, ...)                                                      \
    do {                                                                              \
        struct cfg c_ = client_cfg();                                                 \
        const char *const w_[] = { __VA_ARGS__, NULL };                               \
        expect_c(&c_, wire, sizeof(wire) - 1, w_);                                    \
    } while (0)

#define EXPECT_ROUTE(wire, ...)                                                       \
    do {                                                                              \
        struct cfg c_ = route_cfg();                                                  \
        const char *const w_[] = { __VA_ARGS__, NULL };                               \
        expect_c(&c_, wire, sizeof(wire) - 1, w_);                                    \
    } while (0)

#define RC(e) "RC " #e
#define S_UNKNOWN "RC -1001"
#define S_CTRL "RC -1002"
#define S_MAXPAY "RC -1003"
#define S_AUTH "RC -1004"
#define S_BADARGS "RC -1005"
#define S_CLIENTERR "RC -1006"

static char *msg_ev(const char *subj, const char *reply, const char *sid, const char *size,
                    const char *hdr, const char *data, size_t total, size_t hdr_len, bool hh)
{
    struct sb b = { 0 };
    fmt_msg(&b, subj, strlen(subj), reply, strlen(reply), sid, strlen(sid), size, strlen(size),
            hdr, strlen(hdr), hdr_len, total, hh, data);
    return b.s;
}

/* A routed message's event: RMSG when hdr is "", else route HMSG. */
static char *rmsg_ev(const char *acc, const char *subj, const char *reply, char ind,
                     const char *queues, const char *size, const char *hdr, const char *data)
{
    struct sb b = { 0 };
    bool hh = *hdr != 0;
    size_t total = (size_t)proto_parse_size(size, strlen(size));
    size_t hl = hh ? (size_t)proto_parse_size(hdr, strlen(hdr)) : 0;
    fmt_msg(&b, subj, strlen(subj), reply, strlen(reply), "", 0, size, strlen(size), hdr,
            strlen(hdr), hl, total, hh, data);
    fmt_route(&b, acc, strlen(acc), ind, queues, strlen(queues));
    return b.s;
}

/* ---- server side: each verb ---- */

START_TEST(server_connect_info_ok)
{
    EXPECT_SERVER("CONNECT {\"verbose\":false}\r\n", "CONNECT {\"verbose\":false}", RC(0));
    EXPECT_SERVER("CONNECT{}\r\n", "CONNECT {}", RC(0));             /* zero whitespace, spec §1 */
    EXPECT_SERVER("connect \t {} \t\r\n", "CONNECT {}", RC(0));
    EXPECT_SERVER("CONNECT\r\n", "CONNECT ", RC(0));                 /* empty: the JSON check is the server's */
    EXPECT_SERVER("INFO {\"a\":1} \r\nINFO{}\n", "INFO {\"a\":1}", "INFO {}", RC(0));
    EXPECT_SERVER("+OK\r\n+ok junk\r\n", "OK", "OK", RC(0));
}
END_TEST

START_TEST(server_ping_pong)
{
    EXPECT_SERVER("PING\r\nPONG\r\nping\r\npong\n", "PING", "PONG", "PING", "PONG", RC(0));
    EXPECT_SERVER("PING junk\r\n", "PING", RC(0));                /* spec §1 no-arg ops */
    EXPECT_SERVER("PING\rPING\r\n", "PING", RC(0));
    EXPECT_SERVER("PINGPONG\r\nPoNg x y z\r\n", "PING", "PONG", RC(0));
}
END_TEST

START_TEST(server_sub_unsub)
{
    EXPECT_SERVER("SUB foo 1\r\n", "SUB foo q= sid=1", RC(0));
    EXPECT_SERVER("SUB foo  1\r\n", "SUB foo q= sid=1", RC(0));   /* nats-py, spec §7.1 */
    EXPECT_SERVER("sub\tfoo.*\tq\t22\t\r\n", "SUB foo.* q=q sid=22", RC(0));
    EXPECT_SERVER("SUB foo\r1\r\n", "SUB foo q= sid=1", RC(0));   /* CR separates, as nats-server */
    EXPECT_SERVER("UNSUB 1\r\nUNSUB 1 \r\nunsub  2   5  \n", "UNSUB 1 max=", "UNSUB 1 max=",
                  "UNSUB 2 max=5", RC(0));
    EXPECT_SERVER("UNSUB 1 x\r\n", "UNSUB 1 max=x", RC(0));      /* max meaning is the server's */
}
END_TEST

START_TEST(server_pub_hpub)
{
    char *e1 = msg_ev("foo", "", "", "5", "", "hello", 5, 0, false);
    EXPECT_SERVER("PUB foo 5\r\nhello\r\n", e1, RC(0));
    EXPECT_SERVER("pub\tfoo\t\t5 \t\r\nhello\r\n", e1, RC(0));
    free(e1);
    char *e2 = msg_ev("subj", "", "", "5", "", "pong:", 5, 0, false);
    EXPECT_SERVER("PUB subj  5\r\npong:\r\n", e2, RC(0));         /* nats-py empty reply */
    free(e2);
    char *e3 = msg_ev("foo", "bar", "", "01", "", "x", 1, 0, false);
    EXPECT_SERVER("PUB foo bar 01\r\nx\r\n", e3, RC(0));          /* size digits kept as sent */
    free(e3);
    char *e4 = msg_ev("NOTIFY", "", "", "0", "", "", 0, 0, false);
    EXPECT_SERVER("PUB NOTIFY 0\r\n\r\n", e4, RC(0));
    free(e4);
    char *e5 = msg_ev("foo", "", "", "23", "18", "NATS/1.0\r\nA: b\r\n\r\nhello", 23, 18, true);
    EXPECT_SERVER("HPUB foo 18 23\r\nNATS/1.0\r\nA: b\r\n\r\nhello\r\n", e5, RC(0));
    free(e5);
    char *e6 = msg_ev("foo", "", "", "23", "20", "NATS/1.0\r\nX-A: 1\r\n\r\nbar", 23, 20, true);
    EXPECT_SERVER("HPUB foo  20 23\r\nNATS/1.0\r\nX-A: 1\r\n\r\nbar\r\n", e6, RC(0));
    free(e6);
    char *e7 = msg_ev("foo", "r", "", "3", "0", "abc", 3, 0, true); /* header size 0 */
    EXPECT_SERVER("HPUB foo r 0 3\r\nabc\r\n", e7, RC(0));
    free(e7);
    char *e8 = msg_ev("foo", "", "", "7", "5", "XXXXXab", 7, 5, true); /* headers not validated */
    EXPECT_SERVER("HPUB foo 5 7\r\nXXXXXab\r\n", e8, RC(0));
    free(e8);
}
END_TEST

START_TEST(server_minus_err_closes)
{
    struct cfg c = server_cfg();
    struct rec r;
    ck_assert_int_eq(feed_whole(&c, "-ERR 'boom'\r\nPING\r\n", 19, &r), PROTO_E_CLIENT_ERR);
    const char *const want[] = { "ERR 'boom'", S_CLIENTERR, NULL };
    expect_list(&r, want, "-ERR from a client");
    rec_free(&r);
    EXPECT_SERVER("-ERR\r\n", S_UNKNOWN);                          /* needs a space */
}
END_TEST

START_TEST(server_refuses_client_ops)
{
    EXPECT_SERVER("MSG foo 1 1\r\nx\r\n", S_UNKNOWN);
    EXPECT_SERVER("HMSG foo 1 0 1\r\nx\r\n", S_UNKNOWN);
    EXPECT_SERVER("RS+ $G foo\r\n", S_UNKNOWN);
    EXPECT_SERVER("RMSG $G foo 1\r\nx\r\n", S_UNKNOWN);
    EXPECT_SERVER("FOO\r\n", S_UNKNOWN);
    EXPECT_SERVER("\r\n", S_UNKNOWN);
    EXPECT_SERVER(" PING\r\n", S_UNKNOWN);
    EXPECT_SERVER("PUBfoo 1\r\n", S_UNKNOWN);                      /* spec §1 op → first arg */
    EXPECT_SERVER("PUB\r\n", S_UNKNOWN);
    EXPECT_SERVER("UNSUB\r\n", S_UNKNOWN);
    EXPECT_SERVER("SUB\r\n", S_UNKNOWN);
    EXPECT_SERVER("HPUB\r\n", S_UNKNOWN);
    EXPECT_SERVER("PI\r\n", S_UNKNOWN);
    EXPECT_SERVER("PIN G\r\n", S_UNKNOWN);
    EXPECT_SERVER("CONNECTED\r\n", "CONNECT ED", RC(0));           /* CONNECT needs no space */
}
END_TEST

/* ---- client side: each verb ---- */

START_TEST(client_verbs)
{
    EXPECT_CLIENT("INFO {\"server_id\":\"x\",\"max_payload\":1048576} \r\n",
                  "INFO {\"server_id\":\"x\",\"max_payload\":1048576}", RC(0));
    EXPECT_CLIENT("PING\r\nPONG\r\n+OK\r\n", "PING", "PONG", "OK", RC(0));
    EXPECT_CLIENT("-ERR 'Stale Connection'\r\n", "ERR 'Stale Connection'", RC(0));
    EXPECT_CLIENT("-ERR  'Permissions Violation for Publish to \"a b\"' \r\n",
                  "ERR 'Permissions Violation for Publish to \"a b\"'", RC(0));
    char *m1 = msg_ev("foo", "", "1", "5", "", "hello", 5, 0, false);
    EXPECT_CLIENT("MSG foo 1 5\r\nhello\r\n", m1, RC(0));
    free(m1);
    char *m2 = msg_ev("foo", "bar", "1", "5", "", "hello", 5, 0, false);
    EXPECT_CLIENT("MSG foo 1 bar 5\r\nhello\r\n", m2, RC(0));
    free(m2);
    char *m3 = msg_ev("_INBOX.X.2", "", "1", "28", "", "{\"stream\":\"KV_ckv\", \"seq\":1}", 28, 0,
                      false);
    EXPECT_CLIENT("MSG _INBOX.X.2 1  28\r\n{\"stream\":\"KV_ckv\", \"seq\":1}\r\n", m3, RC(0));
    free(m3);
    char *m4 = msg_ev("foo", "", "1", "23", "18", "NATS/1.0\r\nA: b\r\n\r\nhello", 23, 18, true);
    EXPECT_CLIENT("HMSG foo 1 18 23\r\nNATS/1.0\r\nA: b\r\n\r\nhello\r\n", m4, RC(0));
    free(m4);
    char *m5 = msg_ev("foo", "rep.ly", "1", "23", "18", "NATS/1.0\r\nA: b\r\n\r\nhello", 23, 18,
                      true);
    EXPECT_CLIENT("HMSG foo 1 rep.ly 18 23\r\nNATS/1.0\r\nA: b\r\n\r\nhello\r\n", m5, RC(0));
    free(m5);
    char *m6 = msg_ev("_INBOX.a", "", "2", "16", "16", "NATS/1.0 503\r\n\r\n", 16, 16, true);
    EXPECT_CLIENT("HMSG _INBOX.a 2 16 16\r\nNATS/1.0 503\r\n\r\n\r\n", m6, RC(0));
    free(m6);
}
END_TEST

START_TEST(client_refuses_server_ops)
{
    EXPECT_CLIENT("PUB foo 1\r\nx\r\n", S_UNKNOWN);
    EXPECT_CLIENT("HPUB foo 0 1\r\nx\r\n", S_UNKNOWN);
    EXPECT_CLIENT("SUB foo 1\r\n", S_UNKNOWN);
    EXPECT_CLIENT("UNSUB 1\r\n", S_UNKNOWN);
    EXPECT_CLIENT("CONNECT {}\r\n", S_UNKNOWN);
    EXPECT_CLIENT("MSGfoo 1 1\r\n", S_UNKNOWN);
    EXPECT_CLIENT("MSG foo 1\r\n", S_BADARGS);
    EXPECT_CLIENT("MSG a b c d 1\r\n", S_BADARGS);
    EXPECT_CLIENT("HMSG foo 1 2\r\n", S_BADARGS);
    EXPECT_CLIENT("HMSG a b c d 1 2\r\n", S_BADARGS);
    EXPECT_CLIENT("HMSG foo 1 5 2\r\n", S_BADARGS);
    EXPECT_CLIENT("MSG foo 1 5\r\nhelloX\r\n", S_UNKNOWN);
}
END_TEST

/* ---- errors: argument counts, sizes, payload framing ---- */

START_TEST(bad_arg_counts)
{
    EXPECT_SERVER("PUB foo\r\n", S_BADARGS);                       /* spec §17.6 */
    EXPECT_SERVER("PUB a b c 5\r\n", S_BADARGS);
    EXPECT_SERVER("PUB \r\n", S_BADARGS);
    EXPECT_SERVER("HPUB foo 5\r\n", S_BADARGS);
    EXPECT_SERVER("HPUB a b c d e\r\n", S_BADARGS);
    EXPECT_SERVER("SUB foo\r\n", S_BADARGS);
    EXPECT_SERVER("SUB a b c d\r\n", S_BADARGS);
    EXPECT_SERVER("UNSUB \r\n", S_BADARGS);
    EXPECT_SERVER("UNSUB  \t \r\n", S_BADARGS);
    EXPECT_SERVER("UNSUB 1 2 3\r\n", S_BADARGS);
}
END_TEST

START_TEST(bad_sizes)
{
    EXPECT_SERVER("PUB foo x\r\n", S_BADARGS);
    EXPECT_SERVER("PUB foo -1\r\n", S_BADARGS);
    EXPECT_SERVER("PUB foo +1\r\n", S_BADARGS);
    EXPECT_SERVER("PUB foo 1x\r\n", S_BADARGS);
    EXPECT_SERVER("PUB foo 9223372036854775808\r\n", S_BADARGS);   /* int64 overflow */
    EXPECT_SERVER("PUB foo 0000000001\r\n", S_BADARGS);            /* > 9 digits, as nats-server */
    char *ok9 = msg_ev("foo", "", "", "000000001", "", "x", 1, 0, false);
    EXPECT_SERVER("PUB foo 000000001\r\nx\r\n", ok9, RC(0));
    free(ok9);
    EXPECT_SERVER("HPUB foo x 5\r\n", S_BADARGS);
    EXPECT_SERVER("HPUB foo 5 x\r\n", S_BADARGS);
    EXPECT_SERVER("HPUB foo 6 5\r\n", S_BADARGS);                  /* header > total */
    EXPECT_SERVER("HPUB foo -1 5\r\n", S_BADARGS);
}
END_TEST

START_TEST(payload_framing)
{
    char *ok = msg_ev("foo", "", "", "5", "", "hello", 5, 0, false);
    EXPECT_SERVER("PUB foo 5\r\nhello\r\nPUB foo 5\r\nhelloX\r\n", ok, S_UNKNOWN); /* §17.5 */
    EXPECT_SERVER("PUB foo 5\r\nhello\r\nPUB foo 5\r\nhello\nPING\r\n", ok, S_UNKNOWN); /* bare LF */
    EXPECT_SERVER("PUB foo 5\r\nhello\r\nPUB foo 5\r\nhell\r\n\r\n", ok, S_UNKNOWN);
    EXPECT_SERVER("PUB foo 5\r\nhello\r\nPUB foo 5\r\nhello\r\r", ok, S_UNKNOWN);
    free(ok);
    char *zero = msg_ev("foo", "", "", "0", "", "", 0, 0, false);
    EXPECT_SERVER("PUB foo 0\r\n\r\nPUB foo 0\r\nX\r\n", zero, S_UNKNOWN);
    free(zero);
}
END_TEST

START_TEST(parse_size_table)
{
    static const struct {
        const char *s;
        int64_t v;
    } t[] = {
        { "0", 0 }, { "1", 1 }, { "007", 7 }, { "1048576", 1048576 },
        { "9223372036854775807", INT64_MAX }, { "9223372036854775808", -1 },
        { "99999999999999999999", -1 }, { "", -1 }, { "-1", -1 }, { "+1", -1 },
        { "1 ", -1 }, { " 1", -1 }, { "1a", -1 }, { "0x10", -1 },
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        ck_assert_msg(proto_parse_size(t[i].s, strlen(t[i].s)) == t[i].v, "size [%s]", t[i].s);
    ck_assert(proto_parse_size("12", 1) == 1); /* length, not NUL, ends it */
}
END_TEST

START_TEST(strerror_texts)
{
    ck_assert_str_eq(proto_strerror(PROTO_E_UNKNOWN_OP), "Unknown Protocol Operation");
    ck_assert_str_eq(proto_strerror(PROTO_E_CONTROL_LINE), "maximum control line exceeded");
    ck_assert_str_eq(proto_strerror(PROTO_E_MAX_PAYLOAD), "Maximum Payload Violation");
    ck_assert_str_eq(proto_strerror(PROTO_E_AUTH), "Authorization Violation");
    ck_assert_ptr_null(proto_strerror(PROTO_E_BAD_ARGS));
    ck_assert_ptr_null(proto_strerror(PROTO_E_CLIENT_ERR));
    ck_assert_ptr_null(proto_strerror(PROTO_E_NOMEM));
    ck_assert_ptr_null(proto_strerror(0));
    ck_assert_ptr_null(proto_strerror(STOP_CODE));
}
END_TEST

/* ---- limits ---- */

static char *line_with_arg(const char *op, size_t arg_len, const char *trail, size_t *len)
{
    size_t ol = strlen(op), tl = strlen(trail);
    char *s = malloc(ol + 1 + arg_len + tl + 2 + 1);
    ck_assert_ptr_nonnull(s);
    memcpy(s, op, ol);
    s[ol] = ' ';
    memset(s + ol + 1, 'a', arg_len);
    memcpy(s + ol + 1 + arg_len, trail, tl);
    memcpy(s + ol + 1 + arg_len + tl, "\r\n", 3);
    *len = ol + 1 + arg_len + tl + 2;
    return s;
}

START_TEST(control_line_limit)
{
    struct cfg c = server_cfg();
    struct rec r;
    size_t len;
    /* SUB <4094 a> 1 : arg part exactly 4096 bytes → accepted; 4097 → refused. */
    char *ok = line_with_arg("SUB", 4094, " 1", &len);
    ck_assert_int_eq(feed_whole(&c, ok, len, &r), 0);
    ck_assert_int_eq(r.n, 2);
    rec_free(&r);
    ck_assert_int_eq(feed_bytes(&c, ok, len, &r), 0);
    rec_free(&r);
    ck_assert_int_eq(feed_split(&c, ok, len, len - 1, &r), 0); /* cut between CR and LF */
    rec_free(&r);
    free(ok);
    char *bad = line_with_arg("SUB", 4095, " 1", &len);
    ck_assert_int_eq(feed_whole(&c, bad, len, &r), PROTO_E_CONTROL_LINE);
    rec_free(&r);
    ck_assert_int_eq(feed_bytes(&c, bad, len, &r), PROTO_E_CONTROL_LINE);
    rec_free(&r);
    free(bad);
    /* Trailing whitespace counts (it is before the CR). */
    char *sp = line_with_arg("SUB", 4094, " 1 ", &len);
    ck_assert_int_eq(feed_whole(&c, sp, len, &r), PROTO_E_CONTROL_LINE);
    rec_free(&r);
    free(sp);
    /* §17.7: a 5000-byte line, for every op that has arguments. */
    const char *ops[] = { "PUB", "HPUB", "SUB", "UNSUB", "CONNECT", "INFO", "-ERR" };
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        char *l = line_with_arg(ops[i], 5000, "", &len);
        ck_assert_int_eq(feed_whole(&c, l, len, &r), PROTO_E_CONTROL_LINE);
        rec_free(&r);
        free(l);
    }
    /* Separators after the op name are not counted; PING junk is never limited. */
    char *seps = malloc(6000);
    memcpy(seps, "SUB", 3);
    memset(seps + 3, ' ', 5000);
    memcpy(seps + 5003, "foo 1\r\n", 7);
    ck_assert_int_eq(feed_whole(&c, seps, 5010, &r), 0);
    ck_assert_str_eq(r.ev[0], "SUB foo q= sid=1");
    rec_free(&r);
    memcpy(seps, "PING", 4);
    memset(seps + 4, 'j', 5000);
    memcpy(seps + 5004, "\r\n", 2);
    ck_assert_int_eq(feed_whole(&c, seps, 5006, &r), 0);
    ck_assert_str_eq(r.ev[0], "PING");
    rec_free(&r);
    free(seps);
    /* 0 = no limit */
    c.mcl = 0;
    char *big = line_with_arg("SUB", 100000, " 1", &len);
    ck_assert_int_eq(feed_bytes(&c, big, len, &r), 0);
    rec_free(&r);
    free(big);
}
END_TEST

/* While a cut line is buffered the limit is enforced before its LF arrives. */
START_TEST(control_line_limit_partial)
{
    struct proto_parser p;
    struct rec r = { 0 };
    proto_parser_init(&p, PROTO_SIDE_SERVER);
    ck_assert_uint_eq(p.max_control_line, 4096);
    r.p = &p;
    char *chunk = malloc(3000);
    memset(chunk, 'a', 3000);
    ck_assert_int_eq(proto_parse(&p, "SUB ", 4, &all_handlers, &r), 0);
    ck_assert_int_eq(proto_parse(&p, chunk, 3000, &all_handlers, &r), 0);
    ck_assert_int_eq(proto_parse(&p, chunk, 1096, &all_handlers, &r), 0); /* 4096 */
    ck_assert_int_eq(proto_parse(&p, chunk, 1, &all_handlers, &r), PROTO_E_CONTROL_LINE);
    ck_assert_int_eq(r.n, 0);
    /* After an error the parser keeps answering with it. */
    ck_assert_int_eq(proto_parse(&p, "PING\r\n", 6, &all_handlers, &r), PROTO_E_CONTROL_LINE);
    ck_assert_int_eq(r.n, 0);
    proto_parser_free(&p);

    /* A CR at the end of a full-length cut line may be the CR of CRLF. */
    proto_parser_init(&p, PROTO_SIDE_SERVER);
    p.max_control_line = 10;
    r.p = &p;
    ck_assert_int_eq(proto_parse(&p, "SUB aaaaaaa 1", 13, &all_handlers, &r), 0);
    ck_assert_int_eq(proto_parse(&p, "2\r", 2, &all_handlers, &r), 0);
    ck_assert_int_eq(proto_parse(&p, "\n", 1, &all_handlers, &r), 0);
    ck_assert_int_eq(r.n, 1);
    ck_assert_str_eq(r.ev[0], "SUB aaaaaaa q= sid=12");
    proto_parser_free(&p);
    rec_free(&r);
    free(chunk);
}
END_TEST

START_TEST(max_payload_limit)
{
    struct cfg c = server_cfg();
    struct rec r;
    /* §17.8 */
    EXPECT_SERVER("PUB foo 2000000\r\n", S_MAXPAY);
    EXPECT_SERVER("PUB foo 1048577\r\n", S_MAXPAY);
    EXPECT_SERVER("HPUB foo 12 1048577\r\n", S_MAXPAY);            /* headers count */
    EXPECT_SERVER("HPUB foo 2000000 1048577\r\n", S_BADARGS);      /* size errors come first */
    /* Refused on the control line: the payload never has to arrive. */
    ck_assert_int_eq(feed_whole(&c, "PUB foo 1048577\r\n", 17, &r), PROTO_E_MAX_PAYLOAD);
    rec_free(&r);
    /* Exactly the limit is delivered. */
    size_t n = 1048576;
    char *wire = malloc(n + 64);
    int hl = sprintf(wire, "PUB foo %zu\r\n", n);
    memset(wire + hl, 'z', n);
    memcpy(wire + hl + n, "\r\n", 2);
    ck_assert_int_eq(feed_whole(&c, wire, (size_t)hl + n + 2, &r), 0);
    ck_assert_int_eq(r.n, 2);
    char *want = msg_ev("foo", "", "", "1048576", "", wire + hl, n, 0, false);
    ck_assert_str_eq(r.ev[0], want);
    free(want);
    rec_free(&r);
    c.mp = 100;
    ck_assert_int_eq(feed_whole(&c, "PUB foo 101\r\n", 13, &r), PROTO_E_MAX_PAYLOAD);
    rec_free(&r);
    c.mp = -1;
    ck_assert_int_eq(feed_split(&c, wire, (size_t)hl + n + 2, 100, &r), 0);
    rec_free(&r);
    free(wire);
}
END_TEST

/* ---- require_connect (spec §1.1, §17.3) ---- */

START_TEST(require_connect)
{
    struct cfg c = server_cfg();
    struct rec r;
    c.require_connect = true;
    const char *const auth[] = { S_AUTH, NULL };
    const char *wires[] = { "PING\r\n", "PUB foo 1\r\nx\r\n", "SUB foo 1\r\n", "\r\n", "+OK\r\n",
                            "INFO {}\r\n", " CONNECT {}\r\n" };
    for (size_t i = 0; i < sizeof wires / sizeof wires[0]; i++) {
        feed_whole(&c, wires[i], strlen(wires[i]), &r);
        expect_list(&r, auth, wires[i]);
        rec_free(&r);
    }
    /* The handler clears the flag; the next command sees the new value. */
    const char *ok = "CONNECT {}\r\nPING\r\nconnect {\"a\":1}\r\n";
    const char *const want_ok[] = { "CONNECT {}", "PING", "CONNECT {\"a\":1}", RC(0), NULL };
    expect_c(&c, ok, strlen(ok), want_ok);
    /* Still awaiting auth after CONNECT (bad credentials): the next op fails. */
    c.clear_auth = false;
    const char *const want_auth[] = { "CONNECT {}", S_AUTH, NULL };
    expect_c(&c, ok, strlen(ok), want_auth);
    /* Only the first byte is the auth check; the rest is ordinary parsing. */
    const char *const want_unknown[] = { S_UNKNOWN, NULL };
    expect_c(&c, "CPING\r\n", 7, want_unknown);
    /* Without auth, PING before CONNECT is fine (§17.3). */
    c.require_connect = false;
    const char *const want_ping[] = { "PING", RC(0), NULL };
    expect_c(&c, "PING\r\n", 6, want_ping);
}
END_TEST

/* ---- handler stops ---- */

START_TEST(handler_stops_parse)
{
    static const char *const cmds[] = { "PING\r\n", "SUB foo 1\r\n", "PUB foo 2\r\nhi\r\n",
                                        "PONG\r\n", "UNSUB 1\r\n" };
    char wire[128] = "";
    size_t ends[5];
    for (size_t i = 0; i < 5; i++) {
        strcat(wire, cmds[i]);
        ends[i] = strlen(wire);
    }
    size_t len = strlen(wire);
    struct cfg c = server_cfg();
    struct rec all;
    feed_whole(&c, wire, len, &all);
    ck_assert_int_eq(all.n, 6);
    for (int stop = 1; stop <= 5; stop++) {
        struct proto_parser p;
        struct rec r = { 0 };
        proto_parser_init(&p, PROTO_SIDE_SERVER);
        r.p = &p;
        r.stop_at = stop;
        ck_assert_int_eq(proto_parse(&p, wire, len, &all_handlers, &r), STOP_CODE);
        ck_assert_int_eq(r.n, (size_t)stop);
        /* The command counts as consumed; the rest resumes cleanly. */
        size_t used = proto_parse_consumed(&p);
        ck_assert_uint_eq(used, ends[stop - 1]);
        r.stop_at = 0;
        ck_assert_int_eq(proto_parse(&p, wire + used, len - used, &all_handlers, &r), 0);
        ck_assert_uint_eq(proto_parse_consumed(&p), len - used);
        ck_assert_int_eq(r.n, 5);
        for (size_t i = 0; i < 5; i++)
            ck_assert_str_eq(r.ev[i], all.ev[i]);
        rec_free(&r);
        proto_parser_free(&p);
    }
    /* Stop values pass through unchanged for every cut of the stream too. */
    for (size_t at = 1; at < len; at++) {
        struct rec r;
        c.stop_at = 3;
        ck_assert_int_eq(feed_split(&c, wire, len, at, &r), STOP_CODE);
        ck_assert_int_eq(r.n, 4);
        ck_assert_str_eq(r.ev[2], all.ev[2]);
        rec_free(&r);
    }
    rec_free(&all);
}
END_TEST

/* A stop from on_msg of a payload assembled in scratch leaves the parser usable. */
START_TEST(handler_stops_on_split_payload)
{
    struct proto_parser p;
    struct rec r = { 0 };
    proto_parser_init(&p, PROTO_SIDE_SERVER);
    r.p = &p;
    r.stop_at = 1;
    ck_assert_int_eq(proto_parse(&p, "PUB a 3\r\nx", 10, &all_handlers, &r), 0);
    ck_assert_int_eq(proto_parse(&p, "yz\r\nPING\r\n", 10, &all_handlers, &r), STOP_CODE);
    ck_assert_uint_eq(proto_parse_consumed(&p), 4);
    r.stop_at = 0;
    ck_assert_int_eq(proto_parse(&p, "PING\r\n", 6, &all_handlers, &r), 0);
    ck_assert_int_eq(r.n, 2);
    ck_assert_str_eq(r.ev[1], "PING");
    rec_free(&r);
    proto_parser_free(&p);
}
END_TEST

/* ---- zero copy ---- */

START_TEST(whole_commands_are_not_copied)
{
    const char *wire = "CONNECT {}\r\nSUB a q 1\r\nPUB a b 3\r\nxyz\r\nHPUB a 12 14\r\n"
                       "NATS/1.0\r\n\r\nhi\r\nUNSUB 1 4\r\n";
    struct cfg c = server_cfg();
    c.check_zero_copy = true;
    struct rec r;
    feed_whole(&c, wire, strlen(wire), &r);
    ck_assert_int_eq(r.n, 6);
    ck_assert_uint_eq(r.outside, 0);
    rec_free(&r);
    /* And a split payload is delivered from the parser's own copy. */
    feed_split(&c, wire, strlen(wire), strlen("CONNECT {}\r\nSUB a q 1\r\nPUB a b 3\r\nx"), &r);
    ck_assert_int_eq(r.n, 6);
    ck_assert_uint_gt(r.outside, 0);
    rec_free(&r);
}
END_TEST

/* ---- long mixed streams, whole / byte by byte / every cut ---- */

struct stream {
    struct sb wire;
    struct rec want;
    size_t big_at[4], big_len[4]; /* payloads too long to cut at every byte */
    size_t nbig;
};

static void st_wire(struct stream *s, const char *w, size_t n)
{
    sb_grow(&s->wire, n);
    memcpy(s->wire.s + s->wire.n, w, n);
    s->wire.n += n;
}

static void st_want(struct stream *s, const char *ev)
{
    struct sb b = { 0 };
    sb_printf(&b, "%s", ev);
    rec_push(&s->want, &b);
}

static void st_cmd(struct stream *s, const char *w, const char *ev)
{
    st_wire(s, w, strlen(w));
    if (ev)
        st_want(s, ev);
}

/* A PUB/MSG (client: sid given) with an arbitrary payload. */
static void st_msg(struct stream *s, bool client, const char *subj, const char *reply,
                   const char *sep, const char *data, size_t n, size_t hdr, bool hh)
{
    char line[512], size[32], hsz[32];
    snprintf(size, sizeof size, "%zu", n);
    snprintf(hsz, sizeof hsz, "%zu", hdr);
    const char *op = client ? (hh ? "HMSG" : "MSG") : (hh ? "HPUB" : "PUB");
    snprintf(line, sizeof line, "%s %s%s%s%s%s%s%s%s\r\n", op, subj, client ? " 9" : "",
             *reply ? " " : "", reply, sep, hh ? hsz : "", hh ? " " : "", size);
    st_wire(s, line, strlen(line));
    if (n > 65536 && s->nbig < 4) {
        s->big_at[s->nbig] = s->wire.n;
        s->big_len[s->nbig++] = n;
    }
    st_wire(s, data, n);
    st_wire(s, "\r\n", 2);
    char *ev = msg_ev(subj, reply, client ? "9" : "", size, hh ? hsz : "", data, n, hdr, hh);
    st_want(s, ev);
    free(ev);
}

static void st_free(struct stream *s)
{
    free(s->wire.s);
    rec_free(&s->want);
}

static char *binary_payload(size_t n)
{
    char *d = malloc(n);
    for (size_t i = 0; i < n; i++)
        d[i] = (char)((i * 7 + 3) & 0xff);
    for (size_t i = 0; i + 1 < n; i += 37) {
        d[i] = '\r';
        d[i + 1] = '\n';
    }
    return d;
}

static void server_stream(struct stream *s, bool big)
{
    memset(s, 0, sizeof *s);
    st_cmd(s, "CONNECT {\"verbose\": false, \"headers\": true}\r\n",
           "CONNECT {\"verbose\": false, \"headers\": true}");
    st_cmd(s, "PING\r\n", "PING");
    st_cmd(s, "SUB svc.echo  1\r\n", "SUB svc.echo q= sid=1");
    st_cmd(s, "SUB _INBOX.PIq.*  2\r\n", "SUB _INBOX.PIq.* q= sid=2");
    st_msg(s, false, "svc.echo", "_INBOX.PIq.a", " ", "hi", 2, 0, false);
    st_msg(s, false, "_INBOX.PIq.a", "", "  ", "pong:hi", 7, 0, false);
    st_msg(s, false, "foo", "", "  ", "NATS/1.0\r\nX-A: 1\r\n\r\nbar", 23, 20, true);
    st_cmd(s, "SUB work workers 3\r\nUNSUB 1 \r\n", "SUB work q=workers sid=3");
    st_want(s, "UNSUB 1 max=");
    st_cmd(s, "sub\tthree \t 4\t\nunsub 4 3\n", "SUB three q= sid=4");
    st_want(s, "UNSUB 4 max=3");
    st_cmd(s, "ping junk\r\nPING\rPING\r\npong\r\n+OK\r\n", "PING");
    st_want(s, "PING");
    st_want(s, "PONG");
    st_want(s, "OK");
    st_cmd(s, "INFO {\"x\": 1} \r\n", "INFO {\"x\": 1}");
    st_msg(s, false, "crlf", "r", " ", "a\r\nb\r\n\r\nc", 10, 0, false);
    st_msg(s, false, "empty", "", " ", "", 0, 0, false);
    st_msg(s, false, "hdr0", "r", " ", "abc", 3, 0, true);
    st_msg(s, false, "hdronly", "", " ", "NATS/1.0\r\n\r\n", 12, 12, true);
    char *bin = binary_payload(700);
    st_msg(s, false, "bin.x", "", " ", bin, 700, 0, false);
    st_msg(s, false, "bin.h", "_INBOX.r", " ", bin, 700, 300, true);
    free(bin);
    if (big) {
        char *mb = binary_payload(1048576);
        st_msg(s, false, "big", "", " ", mb, 1048576, 0, false);
        st_msg(s, false, "big.h", "", " ", mb, 1048576, 1000, true);
        free(mb);
    }
    st_cmd(s, "PUB $JS.ACK.PY.dur.1.1.1.1795307620306584449.2  0\r\n\r\n", NULL);
    char *ack = msg_ev("$JS.ACK.PY.dur.1.1.1.1795307620306584449.2", "", "", "0", "", "", 0, 0,
                       false);
    st_want(s, ack);
    free(ack);
    st_cmd(s, "UNSUB 2 \r\nUNSUB 3 \r\nPING\r\n", "UNSUB 2 max=");
    st_want(s, "UNSUB 3 max=");
    st_want(s, "PING");
    st_want(s, "RC 0");
}

static void client_stream(struct stream *s, bool big)
{
    memset(s, 0, sizeof *s);
    st_cmd(s, "INFO {\"server_id\":\"N\",\"headers\":true,\"max_payload\":1048576} \r\n",
           "INFO {\"server_id\":\"N\",\"headers\":true,\"max_payload\":1048576}");
    st_cmd(s, "+OK\r\nPONG\r\nPING\r\n", "OK");
    st_want(s, "PONG");
    st_want(s, "PING");
    st_msg(s, true, "svc.echo", "_INBOX.PIq.a", " ", "hi", 2, 0, false);
    st_msg(s, true, "_INBOX.X.2", "", "  ", "{\"stream\":\"KV_ckv\", \"seq\":1}", 28, 0, false);
    st_msg(s, true, "_INBOX.a", "", " ", "NATS/1.0 503\r\n\r\n", 16, 16, true);
    st_msg(s, true, "_INBOX.X.4", "", "  ",
           "NATS/1.0 408 Request Timeout\r\nNats-Pending-Messages: 4\r\n\r\n", 57, 57, true);
    st_msg(s, true, "$KV.ckv.k1", "$JS.ACK.KV_ckv.HMNnHyJV.1.4.1.1795307621459217047.1", " ",
           "NATS/1.0\r\nKV-Operation: DEL\r\n\r\nv1", 33, 31, true);
    char *bin = binary_payload(500);
    st_msg(s, true, "bin", "", " ", bin, 500, 0, false);
    free(bin);
    if (big) {
        char *mb = binary_payload(1048576);
        st_msg(s, true, "big", "r.x", " ", mb, 1048576, 0, false);
        free(mb);
    }
    st_cmd(s, "-ERR 'Permissions Violation for Subscription to \"x\"'\r\n",
           "ERR 'Permissions Violation for Subscription to \"x\"'");
    st_cmd(s, "PING\r\n", "PING");
    st_want(s, "RC 0");
}

/* Whole, byte by byte, and cut at every point, except well inside a
 * megabyte payload, where every cut takes the same path and `samples` evenly
 * spaced cuts stand for all of them (each cut costs a megabyte copy). */
static void check_stream(const struct cfg *c, struct stream *s, size_t samples)
{
    struct rec r;
    feed_whole(c, s->wire.s, s->wire.n, &r);
    assert_same(&s->want, &r, "whole");
    rec_free(&r);
    feed_bytes(c, s->wire.s, s->wire.n, &r);
    assert_same(&s->want, &r, "byte at a time");
    rec_free(&r);
    for (size_t at = 1; at < s->wire.n; at++) {
        bool skip = false;
        for (size_t k = 0; k < s->nbig; k++) {
            size_t lo = s->big_at[k], n = s->big_len[k];
            if (at > lo + 64 && at + 64 < lo + n)
                skip = (at - lo) % (n / samples) != 0;
        }
        if (skip)
            continue;
        feed_split(c, s->wire.s, s->wire.n, at, &r);
        char how[64];
        snprintf(how, sizeof how, "split at %zu", at);
        assert_same(&s->want, &r, how);
        rec_free(&r);
    }
}

START_TEST(server_stream_every_split)
{
    struct stream s;
    struct cfg c = server_cfg();
    server_stream(&s, false);
    check_stream(&c, &s, 1);
    st_free(&s);
}
END_TEST

START_TEST(server_stream_megabyte)
{
    struct stream s;
    struct cfg c = server_cfg();
    server_stream(&s, true);
    check_stream(&c, &s, 40);
    st_free(&s);
}
END_TEST

START_TEST(client_stream_every_split)
{
    struct stream s;
    struct cfg c = client_cfg();
    client_stream(&s, false);
    check_stream(&c, &s, 1);
    st_free(&s);
    client_stream(&s, true);
    check_stream(&c, &s, 40);
    st_free(&s);
}
END_TEST

/* An error in the middle of a stream: the same events before it, whatever
 * the cuts, and then the same error. */
START_TEST(errors_after_good_commands)
{
    static const struct {
        const char *bad;
        const char *rc;
    } t[] = {
        { "PUB foo 5\r\nhelloX\r\n", S_UNKNOWN }, { "PUB foo\r\n", S_BADARGS },
        { "PUB foo x\r\n", S_BADARGS },           { "PUB foo -1\r\n", S_BADARGS },
        { "PUB a b c 5\r\n", S_BADARGS },         { "PUB foo 2000000\r\n", S_MAXPAY },
        { "MSG foo 1 1\r\nx\r\n", S_UNKNOWN },    { "-ERR 'x'\r\n", S_CLIENTERR },
        { "UNSUB\r\n", S_UNKNOWN },               { "HPUB foo 3 2\r\nab\r\n", S_BADARGS },
        { "XPUB\r\n", S_UNKNOWN },                { "PUB foo 1\r\nx\n\r\n", S_UNKNOWN },
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        char wire[256];
        snprintf(wire, sizeof wire, "CONNECT {}\r\nSUB foo 1\r\n%sPING\r\n", t[i].bad);
        bool err = strcmp(t[i].rc, S_CLIENTERR) == 0;
        const char *const want[] = { "CONNECT {}", "SUB foo q= sid=1", err ? "ERR 'x'" : t[i].rc,
                                     err ? t[i].rc : NULL, NULL };
        struct cfg c = server_cfg();
        expect_c(&c, wire, strlen(wire), want);
    }
}
END_TEST

/* A cut payload is kept in a buffer of its own size and delivered whole. */
START_TEST(split_payload_contents)
{
    size_t n = 1048576;
    char *wire = malloc(n + 64);
    int hl = sprintf(wire, "PUB big r %zu\r\n", n);
    char *data = binary_payload(n);
    memcpy(wire + hl, data, n);
    memcpy(wire + hl + n, "\r\nPING\r\n", 8);
    size_t len = (size_t)hl + n + 8;
    size_t cuts[] = { 3, 20, 4096, 65536, 65537, 500000, (size_t)hl + n, (size_t)hl + n + 1 };
    struct cfg c = server_cfg();
    struct rec r;
    ck_assert_int_eq(feed(&c, wire, len, cuts, sizeof cuts / sizeof cuts[0], &r), 0);
    char *want = msg_ev("big", "r", "", "1048576", "", data, n, 0, false);
    ck_assert_int_eq(r.n, 3);
    ck_assert_str_eq(r.ev[0], want);
    ck_assert_str_eq(r.ev[1], "PING");
    free(want);
    rec_free(&r);
    free(data);
    free(wire);
}
END_TEST

START_TEST(null_handlers_and_free)
{
    struct proto_parser p;
    proto_parser_init(&p, PROTO_SIDE_SERVER);
    const char *wire = "CONNECT {}\r\nSUB a 1\r\nPUB a 2\r\nhi\r\nPING\r\nPUB a 5\r\nhe";
    ck_assert_int_eq(proto_parse(&p, wire, strlen(wire), NULL, NULL), 0);
    ck_assert_uint_eq(proto_parse_consumed(&p), strlen(wire));
    proto_parser_free(&p); /* with a payload half read: no leak */
    proto_parser_free(&p); /* twice is harmless */
    proto_parser_init(&p, PROTO_SIDE_CLIENT);
    ck_assert_int_eq(p.max_payload, -1);
    ck_assert_uint_eq(p.max_control_line, 0);
    ck_assert_int_eq(proto_parse(&p, "MSG a 1 2\r\nh", 12, NULL, NULL), 0);
    ck_assert_int_eq(proto_parse(&p, "", 0, NULL, NULL), 0);
    proto_parser_free(&p);
}
END_TEST

/* ---- route side (spec/cluster-protocol.md) ---- */

#define ROUTE_CONNECT                                                                       \
    "{\"echo\":true,\"verbose\":false,\"pedantic\":false,\"user\":\"ruser\",\"pass\":"     \
    "\"rpass\",\"tls_required\":false,\"headers\":true,\"name\":"                          \
    "\"NA6B6B3TMJ6HYXHIVNQQS32ZXLI2TE7XUEHEZOGQXDW6VCOTSNAHS2CX\",\"cluster\":\"CL\","     \
    "\"lnoc\":true}"
#define ROUTE_INFO_I                                                                        \
    "{\"server_id\":\"NA6B6B3TMJ6HYXHIVNQQS32ZXLI2TE7XUEHEZOGQXDW6VCOTSNAHS2CX\","         \
    "\"server_name\":\"I\",\"version\":\"2.9.10\",\"proto\":2,\"go\":\"go1.19.8\","        \
    "\"host\":\"127.0.0.1\",\"port\":16282,\"headers\":true,\"auth_required\":true,"       \
    "\"max_payload\":1048576,\"nonce\":\"6F2G16i1wZrXH6c\",\"cluster\":\"CL\","            \
    "\"connect_urls\":[\"127.0.0.1:14282\"],\"lnoc\":true}"
#define ROUTE_INFO_H                                                                        \
    "{\"server_id\":\"NA2LSU6OGCKANWOZBHDKG5ZUZ2MGD5ZHRPGZTGLY3JF5FWDBIMKYTKTX\","         \
    "\"server_name\":\"H\",\"version\":\"2.9.10\",\"proto\":2,\"go\":\"go1.19.8\","        \
    "\"host\":\"127.0.0.1\",\"port\":16281,\"headers\":true,\"auth_required\":true,"       \
    "\"max_payload\":1048576,\"nonce\":\"hmIGhWHnm88L7uk\",\"cluster\":\"CL\","            \
    "\"connect_urls\":[\"127.0.0.1:14281\"],\"lnoc\":true}"

START_TEST(route_handshake)
{
    /* §2.1, both directions as captured (a trailing space before CRLF). */
    EXPECT_ROUTE("CONNECT " ROUTE_CONNECT "\r\nINFO " ROUTE_INFO_I " \r\n",
                 "CONNECT " ROUTE_CONNECT, "INFO " ROUTE_INFO_I, RC(0));
    EXPECT_ROUTE("INFO " ROUTE_INFO_H " \r\nRS+ $G foo\r\nRS+ $G bar.*\r\nRS+ $G work q1 2\r\n",
                 "INFO " ROUTE_INFO_H, "RS+ $G foo q= w=1", "RS+ $G bar.* q= w=1",
                 "RS+ $G work q=q1 w=2", RC(0));
    EXPECT_ROUTE("PING\r\nPONG\r\n+OK\r\nping\npong x\r\n", "PING", "PONG", "OK", "PING", "PONG",
                 RC(0));
    EXPECT_ROUTE("INFO {\"ip\":\"nats-route://127.0.0.1:16282/\"}\r\n", /* gossip: no space */
                 "INFO {\"ip\":\"nats-route://127.0.0.1:16282/\"}", RC(0));
    /* A peer's -ERR is news for the log; the route goes on (§1). */
    EXPECT_ROUTE("-ERR 'Unknown Protocol Operation'\r\nPING\r\n",
                 "ERR 'Unknown Protocol Operation'", "PING", RC(0));
}
END_TEST

START_TEST(route_interest)
{
    /* §4.2, the live sequence as captured. */
    EXPECT_ROUTE("RS+ $G foo\r\nRS+ $G req.*\r\nRS+ $G qq grp 1\r\nRS+ $G both grp 1\r\n"
                 "RS+ $G both grp 2\r\n",
                 "RS+ $G foo q= w=1", "RS+ $G req.* q= w=1", "RS+ $G qq q=grp w=1",
                 "RS+ $G both q=grp w=1", "RS+ $G both q=grp w=2", RC(0));
    EXPECT_ROUTE("RS- $G foo\r\nRS- $G qq grp\r\nRS+ $G both grp 1\r\n", "RS- $G foo q=",
                 "RS- $G qq q=grp", "RS+ $G both q=grp w=1", RC(0));
    EXPECT_ROUTE("RS- $G req.*\r\nRS- $G both grp\r\n", "RS- $G req.* q=", "RS- $G both q=grp",
                 RC(0));
    EXPECT_ROUTE("rs+\t$G  foo \t\r\nRs- $G\tfoo\n", "RS+ $G foo q= w=1", "RS- $G foo q=",
                 RC(0));
    /* Weights: < 1 or not a number arrive as 1 (§4.1). */
    EXPECT_ROUTE("RS+ $G w q 0\r\n", "RS+ $G w q=q w=1", RC(0));
    EXPECT_ROUTE("RS+ $G w q -3\r\n", "RS+ $G w q=q w=1", RC(0));
    EXPECT_ROUTE("RS+ $G w q x\r\n", "RS+ $G w q=q w=1", RC(0));
    EXPECT_ROUTE("RS+ $G w q 99999999999999999999\r\n", "RS+ $G w q=q w=1", RC(0));
    EXPECT_ROUTE("RS+ $G w q 123456789012\r\n", "RS+ $G w q=q w=123456789012", RC(0));
    /* Field counts: RS+ 2 or 4, RS- 2 or 3. */
    EXPECT_ROUTE("RS+ $G\r\n", S_BADARGS);
    EXPECT_ROUTE("RS+ $G work q1\r\n", S_BADARGS); /* a queue without weight */
    EXPECT_ROUTE("RS+ $G work q1 2 x\r\n", S_BADARGS);
    EXPECT_ROUTE("RS+ a b c d e f g\r\n", S_BADARGS);
    EXPECT_ROUTE("RS+ \r\n", S_BADARGS);
    EXPECT_ROUTE("RS- $G\r\n", S_BADARGS);
    EXPECT_ROUTE("RS- $G work q1 2\r\n", S_BADARGS);
    EXPECT_ROUTE("RS+\r\n", S_UNKNOWN);
    EXPECT_ROUTE("RS+$G foo\r\n", S_UNKNOWN);
    EXPECT_ROUTE("RS* $G foo\r\n", S_UNKNOWN);
    /* An error after good commands: the same events before it, then the error. */
    EXPECT_ROUTE("RS+ $G foo\r\nRS- $G\r\nPING\r\n", "RS+ $G foo q= w=1", S_BADARGS);
}
END_TEST

START_TEST(route_rmsg)
{
    /* §5.1 as captured, then each field-count layout. */
    char *e[8];
    e[0] = rmsg_ev("$G", "foo", "", 0, "", "2", "", "hi");
    EXPECT_ROUTE("RMSG $G foo 2\r\nhi\r\n", e[0], RC(0));
    e[1] = rmsg_ev("$G", "req.x", "rep.1", 0, "", "3", "", "ask");
    EXPECT_ROUTE("RMSG $G req.x rep.1 3\r\nask\r\n", e[1], RC(0));
    e[2] = rmsg_ev("$G", "qq", "", '|', "grp", "1", "", "q");
    EXPECT_ROUTE("RMSG $G qq | grp 1\r\nq\r\n", e[2], RC(0));
    e[3] = rmsg_ev("$G", "qq", "rep.1", '+', "grp", "1", "", "r");
    EXPECT_ROUTE("RMSG $G qq + rep.1 grp 1\r\nr\r\n", e[3], RC(0));
    e[4] = rmsg_ev("$G", "both", "", '|', "grp", "1", "", "b");
    EXPECT_ROUTE("RMSG $G both | grp 1\r\nb\r\n", e[4], RC(0));
    /* Several queues: one run, separators as sent. */
    e[5] = rmsg_ev("$G", "w", "", '|', "q1 q2 q3", "0", "", "");
    EXPECT_ROUTE("RMSG $G w | q1 q2 q3 0\r\n\r\n", e[5], RC(0));
    e[6] = rmsg_ev("acc", "w", "_INBOX.x", '+', "q1 \t q2", "3", "", "a\r\n");
    EXPECT_ROUTE("rmsg\tacc w  +  _INBOX.x q1 \t q2   3 \r\na\r\n\r\n", e[6], RC(0));
    /* "+ reply" and no queue is let through, as nats-server does. */
    e[7] = rmsg_ev("$G", "foo", "rep", '+', "", "1", "", "x");
    EXPECT_ROUTE("RMSG $G foo + rep 1\r\nx\r\n", e[7], RC(0));
    for (size_t i = 0; i < 8; i++)
        free(e[i]);
    /* Four fields: the third is a reply, whatever it looks like. */
    char *r4 = rmsg_ev("$G", "foo", "|", 0, "", "1", "", "x");
    EXPECT_ROUTE("RMSG $G foo | 1\r\nx\r\n", r4, RC(0));
    free(r4);
    /* Many queues: no field array to overflow. */
    struct sb w = { 0 }, q = { 0 };
    sb_printf(&w, "RMSG $G many |");
    for (int i = 0; i < 300; i++) {
        sb_printf(&w, " g%d", i);
        sb_printf(&q, "%sg%d", i ? " " : "", i);
    }
    sb_printf(&w, " 2\r\nok\r\n");
    char *many = rmsg_ev("$G", "many", "", '|', q.s, "2", "", "ok");
    struct cfg c = route_cfg();
    const char *const want[] = { many, RC(0), NULL };
    expect_c(&c, w.s, w.n, want);
    free(many);
    free(w.s);
    free(q.s);
    /* Bad layouts and sizes. */
    EXPECT_ROUTE("RMSG $G foo\r\n", S_BADARGS);
    EXPECT_ROUTE("RMSG $G\r\n", S_BADARGS);
    EXPECT_ROUTE("RMSG $G foo x q 1\r\nx\r\n", S_BADARGS);   /* bad reply indicator */
    EXPECT_ROUTE("RMSG $G foo ++ q 1\r\nx\r\n", S_BADARGS);
    EXPECT_ROUTE("RMSG $G foo || q 1\r\nx\r\n", S_BADARGS);
    EXPECT_ROUTE("RMSG $G foo rep x\r\n", S_BADARGS);
    EXPECT_ROUTE("RMSG $G foo -1\r\n", S_BADARGS);
    EXPECT_ROUTE("RMSG $G foo | q x\r\n", S_BADARGS);
    EXPECT_ROUTE("RMSG $G foo 0000000001\r\n", S_BADARGS);    /* > 9 digits */
    EXPECT_ROUTE("RMSG\r\n", S_UNKNOWN);
    EXPECT_ROUTE("RMSG $G foo 2\r\nhiX\r\n", S_UNKNOWN);      /* payload framing */
}
END_TEST

START_TEST(route_hmsg)
{
    char *e[5];
    e[0] = rmsg_ev("$G", "foo", "", 0, "", "20", "18", "NATS/1.0\r\nK: v\r\n\r\nhh");
    EXPECT_ROUTE("HMSG $G foo 18 20\r\nNATS/1.0\r\nK: v\r\n\r\nhh\r\n", e[0], RC(0));
    e[1] = rmsg_ev("$G", "foo", "rep.1", 0, "", "20", "18", "NATS/1.0\r\nK: v\r\n\r\nhh");
    EXPECT_ROUTE("HMSG $G foo rep.1 18 20\r\nNATS/1.0\r\nK: v\r\n\r\nhh\r\n", e[1], RC(0));
    e[2] = rmsg_ev("$G", "foo", "rep.1", '+', "g1 g2", "20", "18", "NATS/1.0\r\nK: v\r\n\r\nhh");
    EXPECT_ROUTE("HMSG $G foo + rep.1 g1 g2 18 20\r\nNATS/1.0\r\nK: v\r\n\r\nhh\r\n", e[2],
                 RC(0));
    e[3] = rmsg_ev("$G", "foo", "", '|', "g1", "3", "0", "abc");
    EXPECT_ROUTE("hmsg $G foo | g1 0 3\r\nabc\r\n", e[3], RC(0));
    e[4] = rmsg_ev("$G", "foo", "r", '+', "", "12", "12", "NATS/1.0\r\n\r\n");
    EXPECT_ROUTE("HMSG $G foo + r 12 12\r\nNATS/1.0\r\n\r\n\r\n", e[4], RC(0));
    for (size_t i = 0; i < 5; i++)
        free(e[i]);
    EXPECT_ROUTE("HMSG $G foo 18\r\n", S_BADARGS);
    EXPECT_ROUTE("HMSG $G foo 21 20\r\n", S_BADARGS);          /* hdr > total */
    EXPECT_ROUTE("HMSG $G foo + r q 21 20\r\n", S_BADARGS);
    EXPECT_ROUTE("HMSG $G foo x 20\r\n", S_BADARGS);
    EXPECT_ROUTE("HMSG $G foo 1 x\r\n", S_BADARGS);
    EXPECT_ROUTE("HMSG $G foo rep q 1 2\r\n", S_BADARGS);      /* bad reply indicator */
    EXPECT_ROUTE("HMSG $G foo 1 sid 0 1\r\nx\r\n", S_BADARGS); /* a client HMSG is not it */
}
END_TEST

START_TEST(route_refuses_other_ops)
{
    EXPECT_ROUTE("LS+ CL $G foo\r\n", S_UNKNOWN); /* Tern never advertises lnoc (§6) */
    EXPECT_ROUTE("LS- $G foo\r\n", S_UNKNOWN);
    EXPECT_ROUTE("LMSG CL $G foo 0 1\r\nx\r\n", S_UNKNOWN);
    EXPECT_ROUTE("MSG foo 1 1\r\nx\r\n", S_UNKNOWN);
    EXPECT_ROUTE("PUB foo 1\r\nx\r\n", S_UNKNOWN);
    EXPECT_ROUTE("HPUB foo 0 1\r\nx\r\n", S_UNKNOWN);
    EXPECT_ROUTE("SUB foo 1\r\n", S_UNKNOWN);
    EXPECT_ROUTE("UNSUB 1\r\n", S_UNKNOWN);
    EXPECT_ROUTE("A+ $G foo\r\n", S_UNKNOWN);
    EXPECT_ROUTE("R\r\n", S_UNKNOWN);
    EXPECT_ROUTE("\r\n", S_UNKNOWN);
    /* And the other sides know no route op. */
    EXPECT_CLIENT("RS+ $G foo\r\n", S_UNKNOWN);
    EXPECT_CLIENT("RMSG $G foo 1\r\nx\r\n", S_UNKNOWN);
    EXPECT_SERVER("RS- $G foo\r\n", S_UNKNOWN);
}
END_TEST

/* No max_control_line and no max_payload on routes (§1); require_connect
 * works as on the server side (route auth, §3). */
START_TEST(route_defaults)
{
    struct proto_parser p;
    proto_parser_init(&p, PROTO_SIDE_ROUTE);
    ck_assert_uint_eq(p.max_control_line, 0);
    ck_assert_int_eq(p.max_payload, -1);
    proto_parser_free(&p);
    struct cfg c = route_cfg();
    struct rec r;
    size_t len;
    char *l = line_with_arg("RS+ $G", 20000, "", &len);
    ck_assert_int_eq(feed_bytes(&c, l, len, &r), 0);
    ck_assert_int_eq(r.n, 2);
    rec_free(&r);
    free(l);
    c.require_connect = true;
    const char *const want_auth[] = { S_AUTH, NULL };
    expect_c(&c, "RS+ $G foo\r\n", 12, want_auth);
    const char *ok = "CONNECT {}\r\nRS+ $G foo\r\n";
    const char *const want_ok[] = { "CONNECT {}", "RS+ $G foo q= w=1", RC(0), NULL };
    expect_c(&c, ok, strlen(ok), want_ok);
}
END_TEST

/* A peer announcing a 999 MB message costs memory only for what it sends. */
START_TEST(route_hostile_size)
{
    static const char *const lines[] = { "RMSG $G foo 999999999\r\n",
                                         "HMSG $G foo + r q1 q2 0 999999999\r\n" };
    size_t step = 65536, sent_max = 8u << 20;
    char *chunk = malloc(step);
    memset(chunk, 'z', step);
    for (size_t i = 0; i < 2; i++) {
        struct proto_parser p;
        proto_parser_init(&p, PROTO_SIDE_ROUTE);
        ck_assert_int_eq(proto_parse(&p, lines[i], strlen(lines[i]), NULL, NULL), 0);
        ck_assert_int_eq(proto_parse(&p, "abc", 3, NULL, NULL), 0);
        ck_assert_uint_le(p.scratch_cap, 1052672); /* 1 MiB + the line */
        for (size_t sent = 3; sent < sent_max; sent += step) {
            ck_assert_int_eq(proto_parse(&p, chunk, step, NULL, NULL), 0);
            size_t bound = 2 * (sent + step) + 4096; /* doubling, line included */
            ck_assert_uint_le(p.scratch_cap, bound > 1052672 ? bound : 1052672);
        }
        proto_parser_free(&p);
    }
    free(chunk);
}
END_TEST

/* A split payload bigger than the up-front reservation, its arguments cut
 * too: the slices follow the buffer as it grows, the bytes arrive intact. */
START_TEST(route_growing_payload)
{
    size_t n = 3 * 1048576 + 17;
    char *wire = malloc(n + 128);
    int hl = sprintf(wire, "RMSG $G big + _INBOX.r g1 g2 %zu\r\n", n);
    char *data = binary_payload(n);
    memcpy(wire + hl, data, n);
    memcpy(wire + hl + n, "\r\nPING\r\n", 8);
    size_t len = (size_t)hl + n + 8;
    char size[32];
    snprintf(size, sizeof size, "%zu", n);
    char *want = rmsg_ev("$G", "big", "_INBOX.r", '+', "g1 g2", size, "", data);
    size_t ncuts = len / 4099 + 2;
    size_t *cuts = malloc(ncuts * sizeof *cuts);
    size_t k = 0;
    cuts[k++] = 12; /* inside the queue list */
    for (size_t at = 4099; at < len; at += 4099)
        cuts[k++] = at;
    struct cfg c = route_cfg();
    struct rec r;
    ck_assert_int_eq(feed(&c, wire, len, cuts, k, &r), 0);
    ck_assert_int_eq(r.n, 3);
    ck_assert_str_eq(r.ev[0], want);
    ck_assert_str_eq(r.ev[1], "PING");
    rec_free(&r);
    /* One big read after the line: no doubling needed, same result. */
    size_t two[] = { 12, (size_t)hl + 5 };
    ck_assert_int_eq(feed(&c, wire, len, two, 2, &r), 0);
    ck_assert_str_eq(r.ev[0], want);
    rec_free(&r);
    free(cuts);
    free(want);
    free(data);
    free(wire);
}
END_TEST

START_TEST(route_whole_commands_are_not_copied)
{
    const char *wire = "CONNECT {}\r\nRS+ $G a q 2\r\nRMSG $G a + r q 3\r\nxyz\r\n"
                       "HMSG $G a | q1 q2 12 14\r\nNATS/1.0\r\n\r\nhi\r\nRS- $G a q\r\n";
    struct cfg c = route_cfg();
    c.check_zero_copy = true;
    struct rec r;
    feed_whole(&c, wire, strlen(wire), &r);
    ck_assert_int_eq(r.n, 6);
    ck_assert_uint_eq(r.outside, 0);
    rec_free(&r);
}
END_TEST

START_TEST(route_handler_stops)
{
    const char *wire = "RS+ $G a\r\nRMSG $G a | q 2\r\nhi\r\nRS- $G a\r\n";
    size_t len = strlen(wire);
    struct cfg c = route_cfg();
    struct rec all;
    feed_whole(&c, wire, len, &all);
    ck_assert_int_eq(all.n, 4);
    for (size_t at = 1; at < len; at++) {
        struct rec r;
        c.stop_at = 2;
        ck_assert_int_eq(feed_split(&c, wire, len, at, &r), STOP_CODE);
        ck_assert_int_eq(r.n, 3);
        ck_assert_str_eq(r.ev[1], all.ev[1]);
        rec_free(&r);
    }
    rec_free(&all);
}
END_TEST

START_TEST(next_field_walk)
{
    const char *text = " q1 \t q2\rq3  ";
    struct proto_slice rest = { text, strlen(text) }, f;
    const char *want[] = { "q1", "q2", "q3" };
    for (size_t i = 0; i < 3; i++) {
        ck_assert(proto_next_field(&rest, &f));
        ck_assert_uint_eq(f.len, strlen(want[i]));
        ck_assert(memcmp(f.ptr, want[i], f.len) == 0);
    }
    ck_assert(!proto_next_field(&rest, &f));
    ck_assert_uint_eq(f.len, 0);
    struct proto_slice empty_run = { "", 0 };
    ck_assert(!proto_next_field(&empty_run, &f));
}
END_TEST

/* A routed message with an arbitrary payload, for the streams. */
static void st_rmsg(struct stream *s, const char *acc, const char *subj, const char *mid,
                    const char *reply, char ind, const char *queues, const char *data, size_t n,
                    size_t hdr, bool hh)
{
    char line[512], size[32], hsz[32];
    snprintf(size, sizeof size, "%zu", n);
    snprintf(hsz, sizeof hsz, "%zu", hdr);
    snprintf(line, sizeof line, "%s %s %s %s%s%s%s\r\n", hh ? "HMSG" : "RMSG", acc, subj, mid,
             hh ? hsz : "", hh ? " " : "", size);
    st_wire(s, line, strlen(line));
    if (n > 65536 && s->nbig < 4) {
        s->big_at[s->nbig] = s->wire.n;
        s->big_len[s->nbig++] = n;
    }
    st_wire(s, data, n);
    st_wire(s, "\r\n", 2);
    struct sb b = { 0 };
    fmt_msg(&b, subj, strlen(subj), reply, strlen(reply), "", 0, size, strlen(size),
            hh ? hsz : "", hh ? strlen(hsz) : 0, hdr, n, hh, data);
    fmt_route(&b, acc, strlen(acc), ind, queues, strlen(queues));
    st_want(s, b.s);
    free(b.s);
}

static void route_stream(struct stream *s, bool big)
{
    memset(s, 0, sizeof *s);
    /* §2.1, §4.2 and §5.1 as captured, in one stream. */
    st_cmd(s, "CONNECT " ROUTE_CONNECT "\r\n", "CONNECT " ROUTE_CONNECT);
    st_cmd(s, "INFO " ROUTE_INFO_I " \r\n", "INFO " ROUTE_INFO_I);
    st_cmd(s, "INFO " ROUTE_INFO_H " \r\nRS+ $G foo\r\nRS+ $G bar.*\r\nRS+ $G work q1 2\r\n",
           "INFO " ROUTE_INFO_H);
    st_want(s, "RS+ $G foo q= w=1");
    st_want(s, "RS+ $G bar.* q= w=1");
    st_want(s, "RS+ $G work q=q1 w=2");
    st_cmd(s, "PING\r\nPONG\r\n", "PING");
    st_want(s, "PONG");
    st_cmd(s, "RS+ $G foo\r\nRS+ $G req.*\r\nRS+ $G qq grp 1\r\nRS+ $G both grp 1\r\n"
              "RS+ $G both grp 2\r\n",
           "RS+ $G foo q= w=1");
    st_want(s, "RS+ $G req.* q= w=1");
    st_want(s, "RS+ $G qq q=grp w=1");
    st_want(s, "RS+ $G both q=grp w=1");
    st_want(s, "RS+ $G both q=grp w=2");
    st_rmsg(s, "$G", "foo", "", "", 0, "", "hi", 2, 0, false);
    st_rmsg(s, "$G", "req.x", "rep.1 ", "rep.1", 0, "", "ask", 3, 0, false);
    st_rmsg(s, "$G", "qq", "| grp ", "", '|', "grp", "q", 1, 0, false);
    st_rmsg(s, "$G", "qq", "+ rep.1 grp ", "rep.1", '+', "grp", "r", 1, 0, false);
    st_rmsg(s, "$G", "foo", "", "", 0, "", "NATS/1.0\r\nK: v\r\n\r\nhh", 20, 18, true);
    st_rmsg(s, "$G", "foo", "rep.1 ", "rep.1", 0, "", "NATS/1.0\r\nK: v\r\n\r\nhh", 20, 18, true);
    st_rmsg(s, "$G", "both", "| grp ", "", '|', "grp", "b", 1, 0, false);
    st_cmd(s, "RS- $G foo\r\nRS- $G qq grp\r\nRS+ $G both grp 1\r\n", "RS- $G foo q=");
    st_want(s, "RS- $G qq q=grp");
    st_want(s, "RS+ $G both q=grp w=1");
    st_cmd(s, "RS+ $G rep\r\n", "RS+ $G rep q= w=1"); /* §5.4 */
    st_rmsg(s, "$G", "foo", "rep ", "rep", 0, "", "hi", 2, 0, false);
    char *bin = binary_payload(700);
    st_rmsg(s, "ACC", "bin.x", "+ _INBOX.r q1 q2 ", "_INBOX.r", '+', "q1 q2", bin, 700, 0, false);
    st_rmsg(s, "ACC", "bin.h", "| q1\tq2 ", "", '|', "q1\tq2", bin, 700, 300, true);
    free(bin);
    if (big) { /* past the up-front reservation: the buffer grows as bytes come */
        size_t n = 2 * 1048576 + 5;
        char *mb = binary_payload(n);
        st_rmsg(s, "$G", "big", "| g ", "", '|', "g", mb, n, 0, false);
        st_rmsg(s, "$G", "big.h", "+ r g ", "r", '+', "g", mb, n, 1000, true);
        free(mb);
    }
    st_cmd(s, "-ERR 'Stale Connection'\r\n", "ERR 'Stale Connection'");
    st_cmd(s, "RS- $G req.*\r\nRS- $G both grp\r\nPING\r\n", "RS- $G req.* q=");
    st_want(s, "RS- $G both q=grp");
    st_want(s, "PING");
    st_want(s, "RC 0");
}

START_TEST(route_stream_every_split)
{
    struct stream s;
    struct cfg c = route_cfg();
    route_stream(&s, false);
    check_stream(&c, &s, 1);
    st_free(&s);
}
END_TEST

START_TEST(route_stream_big)
{
    struct stream s;
    struct cfg c = route_cfg();
    route_stream(&s, true);
    check_stream(&c, &s, 20);
    st_free(&s);
}
END_TEST

static Suite *parser_suite(void)
{
    Suite *s = suite_create("parser");
    TCase *verbs = tcase_create("verbs");
    tcase_set_timeout(verbs, 120);
    tcase_add_test(verbs, server_connect_info_ok);
    tcase_add_test(verbs, server_ping_pong);
    tcase_add_test(verbs, server_sub_unsub);
    tcase_add_test(verbs, server_pub_hpub);
    tcase_add_test(verbs, server_minus_err_closes);
    tcase_add_test(verbs, server_refuses_client_ops);
    tcase_add_test(verbs, client_verbs);
    tcase_add_test(verbs, client_refuses_server_ops);
    suite_add_tcase(s, verbs);

    TCase *errors = tcase_create("errors");
    tcase_set_timeout(errors, 120);
    tcase_add_test(errors, bad_arg_counts);
    tcase_add_test(errors, bad_sizes);
    tcase_add_test(errors, payload_framing);
    tcase_add_test(errors, parse_size_table);
    tcase_add_test(errors, strerror_texts);
    tcase_add_test(errors, errors_after_good_commands);
    suite_add_tcase(s, errors);

    TCase *limits = tcase_create("limits");
    tcase_set_timeout(limits, 120);
    tcase_add_test(limits, control_line_limit);
    tcase_add_test(limits, control_line_limit_partial);
    tcase_add_test(limits, max_payload_limit);
    tcase_add_test(limits, require_connect);
    suite_add_tcase(s, limits);

    TCase *flow = tcase_create("flow");
    tcase_set_timeout(flow, 300);
    tcase_add_test(flow, handler_stops_parse);
    tcase_add_test(flow, handler_stops_on_split_payload);
    tcase_add_test(flow, whole_commands_are_not_copied);
    tcase_add_test(flow, split_payload_contents);
    tcase_add_test(flow, null_handlers_and_free);
    tcase_add_test(flow, server_stream_every_split);
    tcase_add_test(flow, server_stream_megabyte);
    tcase_add_test(flow, client_stream_every_split);
    suite_add_tcase(s, flow);

    TCase *route = tcase_create("route");
    tcase_set_timeout(route, 300);
    tcase_add_test(route, route_handshake);
    tcase_add_test(route, route_interest);
    tcase_add_test(route, route_rmsg);
    tcase_add_test(route, route_hmsg);
    tcase_add_test(route, route_refuses_other_ops);
    tcase_add_test(route, route_defaults);
    tcase_add_test(route, route_hostile_size);
    tcase_add_test(route, route_growing_payload);
    tcase_add_test(route, route_whole_commands_are_not_copied);
    tcase_add_test(route, route_handler_stops);
    tcase_add_test(route, next_field_walk);
    tcase_add_test(route, route_stream_every_split);
    tcase_add_test(route, route_stream_big);
    suite_add_tcase(s, route);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(parser_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
