/*
 * tests/fuzz/fuzz_parser.c — libFuzzer target for proto/parser.c,
 * proto/route_parser.c and proto/subject.c.
 *
 * Input: one control byte, then protocol bytes. The bytes are parsed on all
 * three sides (server, client, route) three ways: whole, cut in two at a
 * point chosen by the control byte, and whole with handlers that stop the
 * parse every k-th event and resume at proto_parse_consumed(). Each way must
 * produce the same events (hashed) and the same final result. Every handler
 * checks that its slices lie in the chunk being parsed or in the parser's
 * scratch, and reads every byte of them so AddressSanitizer sees any
 * overrun. Chunks are separate heap copies, freed after each call. Never
 * writes files; aborts (trap) on a broken rule.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/parser.h"
#include "proto/subject.h"

#define STOP 1000001 /* a handler's stop value, outside the proto_error range */

#define CHECK(x)                                                              \
    do {                                                                      \
        if (!(x))                                                             \
            __builtin_trap();                                                 \
    } while (0)

struct run {
    struct proto_parser *p;
    uintptr_t lo, hi;  /* the chunk being parsed */
    uint64_t hash;
    size_t events;
    unsigned stop_every; /* 0: never stop */
};

static void mix(struct run *r, const void *d, size_t n)
{
    const unsigned char *b = d;
    for (size_t i = 0; i < n; i++)
        r->hash = (r->hash ^ b[i]) * 1099511628211ULL;
}

static void mix_num(struct run *r, uint64_t v)
{
    mix(r, &v, sizeof v);
}

static void slice(struct run *r, const char *ptr, size_t len)
{
    mix_num(r, len);
    if (len == 0)
        return;
    uintptr_t a = (uintptr_t)ptr;
    uintptr_t s = (uintptr_t)r->p->scratch;
    bool in_chunk = a >= r->lo && a + len <= r->hi;
    bool in_scratch = r->p->scratch && a >= s && a + len <= s + r->p->scratch_cap;
    CHECK(in_chunk || in_scratch);
    mix(r, ptr, len);
}

static int event(struct run *r, int kind)
{
    mix_num(r, (uint64_t)kind);
    r->events++;
    if (r->stop_every && r->events % r->stop_every == 0)
        return STOP;
    return 0;
}

/* Exercise proto/subject.c on every subject the parser hands out. */
static void subject_rules(const char *s, size_t n)
{
    struct proto_slice tok[8];
    bool sub = subject_valid_sub(s, n);
    bool lit = subject_valid_literal(s, n);
    bool wild = subject_has_wildcard(s, n);
    size_t ntok = subject_tokenize(s, n, tok, 8);
    CHECK(ntok >= 1 && ntok <= 9);
    CHECK(!lit || (sub && !wild));
    if (lit)
        CHECK(subject_match(s, n, s, n));
    if (sub)
        CHECK(subject_match(">", 1, s, n));
    if (ntok == 1 && sub)
        CHECK(subject_match("*", 1, s, n));
}

static int on_connect(void *ctx, struct proto_slice js)
{
    struct run *r = ctx;
    slice(r, js.ptr, js.len);
    r->p->require_connect = false; /* what the server does on a good CONNECT */
    return event(r, 1);
}

static int on_info(void *ctx, struct proto_slice js)
{
    struct run *r = ctx;
    slice(r, js.ptr, js.len);
    return event(r, 2);
}

/* The queue run of a routed message: names with no separator at either end,
 * walked as the route module will walk it. */
static void queue_rules(struct run *r, const struct proto_msg *m)
{
    struct proto_slice rest = m->queues, q;
    size_t names = 0;
    if (m->queues.len == 0)
        return;
    CHECK(m->reply_indicator == '+' || m->reply_indicator == '|');
    CHECK(proto_next_field(&rest, &q) && q.ptr == m->queues.ptr);
    do {
        slice(r, q.ptr, q.len);
        names++;
    } while (proto_next_field(&rest, &q));
    CHECK(q.ptr + q.len == m->queues.ptr + m->queues.len);
    mix_num(r, names);
}

static int on_msg(void *ctx, const struct proto_msg *m)
{
    struct run *r = ctx;
    bool client = r->p->side == PROTO_SIDE_CLIENT;
    bool route = r->p->side == PROTO_SIDE_ROUTE;
    CHECK(m->subject.len > 0);
    CHECK(route ? m->account.len > 0
                : m->account.len == 0 && m->queues.len == 0 && m->reply_indicator == 0);
    CHECK(m->reply_indicator != '+' || m->reply.len > 0);
    CHECK(m->reply_indicator != '|' || m->reply.len == 0);
    CHECK(client ? m->sid.len > 0 : m->sid.len == 0);
    CHECK(m->hdr_len <= m->total_len);
    CHECK(r->p->max_payload < 0 || m->total_len <= (uint64_t)r->p->max_payload);
    CHECK(proto_parse_size(m->size_arg.ptr, m->size_arg.len) == (int64_t)m->total_len);
    if (m->has_headers)
        CHECK(proto_parse_size(m->hdr_arg.ptr, m->hdr_arg.len) == (int64_t)m->hdr_len);
    else
        CHECK(m->hdr_len == 0 && m->hdr_arg.len == 0);
    slice(r, m->subject.ptr, m->subject.len);
    slice(r, m->reply.ptr, m->reply.len);
    slice(r, m->sid.ptr, m->sid.len);
    slice(r, m->size_arg.ptr, m->size_arg.len);
    slice(r, m->hdr_arg.ptr, m->hdr_arg.len);
    slice(r, m->data, m->total_len); /* header block + payload, all of it */
    slice(r, m->account.ptr, m->account.len);
    slice(r, m->queues.ptr, m->queues.len);
    queue_rules(r, m);
    mix_num(r, m->hdr_len);
    mix_num(r, m->has_headers);
    mix_num(r, (uint64_t)(unsigned char)m->reply_indicator);
    subject_rules(m->subject.ptr, m->subject.len);
    return event(r, 3);
}

static int on_sub(void *ctx, struct proto_slice subj, struct proto_slice q, struct proto_slice sid)
{
    struct run *r = ctx;
    CHECK(subj.len > 0 && sid.len > 0);
    slice(r, subj.ptr, subj.len);
    slice(r, q.ptr, q.len);
    slice(r, sid.ptr, sid.len);
    subject_rules(subj.ptr, subj.len);
    return event(r, 4);
}

static int on_unsub(void *ctx, struct proto_slice sid, struct proto_slice max)
{
    struct run *r = ctx;
    CHECK(sid.len > 0);
    slice(r, sid.ptr, sid.len);
    slice(r, max.ptr, max.len);
    return event(r, 5);
}

static int on_rs_plus(void *ctx, struct proto_slice acc, struct proto_slice subj,
                      struct proto_slice q, int64_t weight)
{
    struct run *r = ctx;
    CHECK(r->p->side == PROTO_SIDE_ROUTE);
    CHECK(acc.len > 0 && subj.len > 0 && weight >= 1);
    CHECK(q.len > 0 || weight == 1);
    slice(r, acc.ptr, acc.len);
    slice(r, subj.ptr, subj.len);
    slice(r, q.ptr, q.len);
    mix_num(r, (uint64_t)weight);
    subject_rules(subj.ptr, subj.len);
    return event(r, 10);
}

static int on_rs_minus(void *ctx, struct proto_slice acc, struct proto_slice subj,
                       struct proto_slice q)
{
    struct run *r = ctx;
    CHECK(r->p->side == PROTO_SIDE_ROUTE);
    CHECK(acc.len > 0 && subj.len > 0);
    slice(r, acc.ptr, acc.len);
    slice(r, subj.ptr, subj.len);
    slice(r, q.ptr, q.len);
    return event(r, 11);
}

static int on_ping(void *ctx)
{
    return event(ctx, 6);
}

static int on_pong(void *ctx)
{
    return event(ctx, 7);
}

static int on_ok(void *ctx)
{
    return event(ctx, 8);
}

static int on_err(void *ctx, struct proto_slice text)
{
    struct run *r = ctx;
    slice(r, text.ptr, text.len);
    return event(r, 9);
}

static const struct proto_handlers handlers = {
    .on_connect = on_connect, .on_info = on_info, .on_msg = on_msg,
    .on_sub = on_sub,         .on_unsub = on_unsub, .on_ping = on_ping,
    .on_pong = on_pong,       .on_ok = on_ok,     .on_err = on_err,
    .on_rs_plus = on_rs_plus, .on_rs_minus = on_rs_minus,
};

struct outcome {
    uint64_t hash;
    size_t events;
    int rc;
};

static void setup(struct proto_parser *p, enum proto_side side, unsigned ctl)
{
    proto_parser_init(p, side);
    p->require_connect = side != PROTO_SIDE_CLIENT && (ctl & 1);
    if (ctl & 0x10) { /* small limits, to reach their checks often */
        p->max_control_line = 48;
        p->max_payload = 300;
    } else if (side == PROTO_SIDE_CLIENT) {
        /* The client side keeps the cap it was always fuzzed with; the route
         * side runs with its real default, no limit, where a split payload's
         * buffer grows with the bytes that came, whatever size was announced. */
        p->max_payload = 1 << 20;
    }
}

/* Parse buf[from..to) from its own heap copy. */
static int feed(struct run *r, const uint8_t *buf, size_t from, size_t to)
{
    size_t n = to - from;
    char *chunk = malloc(n ? n : 1);
    CHECK(chunk);
    memcpy(chunk, buf + from, n);
    r->lo = (uintptr_t)chunk;
    r->hi = (uintptr_t)chunk + n;
    int rc = proto_parse(r->p, chunk, n, &handlers, r);
    if (rc == 0)
        CHECK(proto_parse_consumed(r->p) == n);
    free(chunk);
    return rc;
}

static struct outcome parse_cut(enum proto_side side, unsigned ctl, const uint8_t *d, size_t n,
                                size_t cut)
{
    struct proto_parser p;
    struct run r = { .p = &p, .hash = 1469598103934665603ULL };
    setup(&p, side, ctl);
    int rc = feed(&r, d, 0, cut);
    if (rc == 0)
        rc = feed(&r, d, cut, n);
    if (rc < 0) /* once failed, it keeps failing the same way */
        CHECK(proto_parse(&p, "PING\r\n", 6, &handlers, &r) == rc);
    proto_parser_free(&p);
    return (struct outcome){ r.hash, r.events, rc };
}

static struct outcome parse_stopping(enum proto_side side, unsigned ctl, const uint8_t *d,
                                     size_t n, unsigned every)
{
    struct proto_parser p;
    struct run r = { .p = &p, .hash = 1469598103934665603ULL, .stop_every = every };
    setup(&p, side, ctl);
    size_t off = 0;
    int rc;
    for (;;) {
        char *chunk = malloc(n - off ? n - off : 1);
        CHECK(chunk);
        memcpy(chunk, d + off, n - off);
        r.lo = (uintptr_t)chunk;
        r.hi = (uintptr_t)chunk + (n - off);
        rc = proto_parse(&p, chunk, n - off, &handlers, &r);
        size_t used = proto_parse_consumed(&p);
        free(chunk);
        if (rc != STOP)
            break;
        CHECK(used <= n - off);
        off += used;
    }
    proto_parser_free(&p);
    return (struct outcome){ r.hash, r.events, rc };
}

static void same(struct outcome a, struct outcome b)
{
    CHECK(a.hash == b.hash);
    CHECK(a.events == b.events);
    CHECK(a.rc == b.rc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned ctl = data[0];
    const uint8_t *d = data + 1;
    size_t n = size - 1;
    size_t cut = (size_t)ctl * n / 255;
    for (int side = PROTO_SIDE_SERVER; side <= PROTO_SIDE_ROUTE; side++) {
        struct outcome whole = parse_cut((enum proto_side)side, ctl, d, n, n);
        CHECK(whole.rc <= 0);
        same(whole, parse_cut((enum proto_side)side, ctl, d, n, cut));
        same(whole, parse_stopping((enum proto_side)side, ctl, d, n, 1 + ((ctl >> 1) & 3)));
    }
    return 0;
}
