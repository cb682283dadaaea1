/*
 * tests/unit/check_jscmd.c — unit tests of proto/jscmd.c.
 *
 * The key table of spec/raft.md §8.3 is written out again here (op, key,
 * msgpack type, optional) independently of the codec's own tables; every
 * op is encoded with all its optional keys set and with none, and the body
 * is read back with msgpack-c to check that exactly the listed keys, with
 * the listed types, are there. The §8.3 example entry is reproduced byte
 * for byte. Malformed input is made systematically from valid entries: each
 * key dropped, doubled, or given a value of every other type; envelope
 * bytes changed one at a time; bodies cut or extended.
 */
#include <check.h>
#include <errno.h>
#include <msgpack.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/jscmd.h"
#include "tests/unit/jscmd_equal.h"

#define REQUIRE(x)                                                            \
    do {                                                                      \
        if (!(x))                                                             \
            ck_abort_msg("%s:%d: %s", __FILE__, __LINE__, #x);                \
    } while (0)

static struct jscmd_bytes B(const char *s)
{
    return (struct jscmd_bytes){ s, strlen(s) };
}

/* ---- the spec's table ---- */

struct keyspec {
    int key;
    char type; /* s str, b bin, u unsigned, t bool, a array */
    bool opt;
};

static const struct opspec {
    enum jscmd_op op;
    struct keyspec k[16];
} specs[] = {
    { JSCMD_STREAM_CREATE,
      { { 1, 's', 0 }, { 2, 'b', 0 }, { 3, 'u', 0 }, { 12, 'u', 1 }, { 13, 'u', 1 },
        { 15, 'u', 1 } } },
    { JSCMD_STREAM_UPDATE, { { 1, 's', 0 }, { 2, 'b', 0 }, { 12, 'u', 1 }, { 15, 'u', 1 } } },
    { JSCMD_STREAM_DELETE, { { 1, 's', 0 }, { 15, 'u', 1 } } },
    { JSCMD_STREAM_PURGE,
      { { 1, 's', 0 }, { 4, 's', 1 }, { 5, 'u', 1 }, { 6, 'u', 1 }, { 15, 'u', 1 } } },
    { JSCMD_MSG_DELETE, { { 1, 's', 0 }, { 5, 'u', 0 }, { 7, 't', 1 }, { 15, 'u', 1 } } },
    { JSCMD_STREAM_EXPIRE, { { 1, 's', 0 }, { 8, 'u', 0 }, { 9, 'u', 1 } } },
    { JSCMD_STREAM_SYNC, { { 1, 's', 0 }, { 5, 'u', 0 } } },
    { JSCMD_CONSUMER_CREATE,
      { { 1, 's', 0 }, { 2, 's', 0 }, { 3, 'b', 0 }, { 4, 'u', 0 }, { 5, 's', 1 },
        { 6, 't', 1 }, { 7, 'u', 1 }, { 8, 'u', 1 }, { 15, 'u', 1 } } },
    { JSCMD_CONSUMER_UPDATE, { { 1, 's', 0 }, { 2, 's', 0 }, { 3, 'b', 0 }, { 15, 'u', 1 } } },
    { JSCMD_CONSUMER_DELETE, { { 1, 's', 0 }, { 2, 's', 0 }, { 15, 'u', 1 } } },
    { JSCMD_PUBLISH,
      { { 1, 's', 0 }, { 2, 's', 0 }, { 3, 'b', 1 }, { 4, 'b', 0 }, { 5, 'u', 0 },
        { 6, 's', 1 }, { 7, 's', 1 }, { 8, 'u', 1 }, { 9, 'u', 1 }, { 10, 's', 1 },
        { 11, 'u', 1 }, { 12, 'u', 1 }, { 13, 's', 1 }, { 14, 'u', 1 }, { 15, 'u', 1 } } },
    { JSCMD_PUBLISH_BATCH, { { 1, 'a', 0 } } },
    { JSCMD_CONSUMER_ACKS,
      { { 1, 's', 0 }, { 2, 's', 0 }, { 3, 'u', 0 }, { 4, 'u', 0 }, { 5, 'a', 0 },
        { 6, 'u', 0 }, { 7, 'u', 0 }, { 8, 'a', 0 }, { 9, 'u', 1 } } },
    { JSCMD_CONSUMER_ACKS_BATCH, { { 1, 'a', 0 } } },
};
#define NSPECS (sizeof specs / sizeof specs[0])

/* ---- commands to encode ---- */

static const uint64_t acked1[] = { 12, 14, 15, UINT64_MAX };
static const uint64_t redel1[][2] = { { 11, 2 }, { 13, 5 } };
static const char cfg[] = "{\"name\":\"ORDERS\",\"subjects\":[\"orders.>\"]}";

static struct jscmd_publish pub_full(int i)
{
    struct jscmd_publish p = {
        .stream = B("ORDERS"), .subject = B("orders.new"),
        .hdr = B("NATS/1.0\r\nNats-Msg-Id: abc\r\n\r\n"), .data = B("hello"),
        .ts_ns = 1700000000123456789ULL + (uint64_t)i, .msg_id = B("abc"),
        .exp_stream = B("ORDERS"), .has_exp_last_seq = true, .exp_last_seq = 0,
        .has_exp_last_subj_seq = true, .exp_last_subj_seq = 41,
        .exp_last_msg_id = B("abb"), .rollup = JSCMD_ROLLUP_SUB, .acct_max = 1u << 30,
        .acct_limit = 64000,
        .req = 900 + (uint64_t)i, .exp_last_subj_seq_subj = B("orders.*"),
    };
    return p;
}

static struct jscmd_publish pub_min(int i)
{
    struct jscmd_publish p = {
        .stream = B("ORDERS"), .subject = B("orders.x"), .data = B(""), .ts_ns = (uint64_t)i,
    };
    return p;
}

static struct jscmd_acks acks_full(int i)
{
    struct jscmd_acks a = {
        .stream = B("ORDERS"), .consumer = B(i ? "c2" : "c1"),
        .ack_floor_sseq = 10, .ack_floor_cseq = 9, .delivered_sseq = 20 + (uint64_t)i,
        .delivered_cseq = 19, .acked = acked1, .nacked = 4,
        .redelivered = redel1, .nredelivered = 2, .start_sseq = 3,
    };
    return a;
}

static struct jscmd_acks acks_min(void)
{
    struct jscmd_acks a = { .stream = B("S"), .consumer = B("C") };
    return a;
}

static struct jscmd_publish pubs3[3];
static struct jscmd_acks ackss2[2];

/* A command for op with every optional key set (full) or none, in decoded
 * shape: PUBLISH/ACKS have stream (req, consumer) both outside and inside. */
static struct jscmd make_cmd(enum jscmd_op op, bool full)
{
    struct jscmd c = { .op = op, .stream = B("ORDERS") };
    if (full)
        c.req = 77;
    switch (op) {
    case JSCMD_STREAM_CREATE:
        c.config = B(cfg);
        c.created_ns = 1700000000000000000ULL;
        c.acct_max = full ? 1u << 20 : 0;
        c.acct_streams = full ? 2 : 0;
        break;
    case JSCMD_STREAM_UPDATE:
        c.config = B(cfg);
        c.acct_max = full ? 1u << 20 : 0;
        break;
    case JSCMD_STREAM_DELETE:
        break;
    case JSCMD_STREAM_PURGE:
        if (full) {
            c.filter = B("orders.*");
            c.has_seq = c.has_keep = true;
            c.seq = 100;
            c.keep = 0;
        }
        break;
    case JSCMD_MSG_DELETE:
        c.has_seq = true;
        c.seq = 5;
        c.no_erase = full;
        break;
    case JSCMD_STREAM_EXPIRE:
        c.req = 0; /* not carried */
        c.cutoff_ns = 1699999999000000000ULL;
        c.now_ns = full ? 1700000000000000000ULL : 0;
        break;
    case JSCMD_STREAM_SYNC:
        c.req = 0; /* not carried */
        c.has_seq = true;
        c.seq = 512;
        break;
    case JSCMD_CONSUMER_CREATE:
        c.consumer = B("dur");
        c.config = B("{\"durable_name\":\"dur\"}");
        c.created_ns = 3;
        if (full) {
            c.deliver_seen = B("deliver.old");
            c.deliver_bound = true;
            c.acct_consumers = 3;
            c.action = JSCMD_ACTION_CREATE;
        }
        break;
    case JSCMD_CONSUMER_UPDATE:
        c.consumer = B("dur");
        c.config = B("{}");
        break;
    case JSCMD_CONSUMER_DELETE:
        c.consumer = B("dur");
        break;
    case JSCMD_PUBLISH:
        c.pub = full ? pub_full(0) : pub_min(0);
        c.pub.req = c.req;
        c.stream = c.pub.stream;
        break;
    case JSCMD_PUBLISH_BATCH:
        c.req = 0;
        c.stream = (struct jscmd_bytes){ 0 };
        pubs3[0] = pub_full(1);
        pubs3[1] = pub_min(2);
        pubs3[2] = pub_full(3);
        pubs3[2].hdr = (struct jscmd_bytes){ 0 };
        pubs3[2].rollup = JSCMD_ROLLUP_ALL;
        c.pubs = pubs3;
        c.npubs = full ? 3 : 1;
        if (!full)
            pubs3[0] = pub_min(1);
        break;
    case JSCMD_CONSUMER_ACKS:
        c.req = 0;
        c.acks = full ? acks_full(0) : acks_min();
        c.stream = c.acks.stream;
        c.consumer = c.acks.consumer;
        break;
    case JSCMD_CONSUMER_ACKS_BATCH:
        c.req = 0;
        c.stream = (struct jscmd_bytes){ 0 };
        ackss2[0] = full ? acks_full(0) : acks_min();
        ackss2[1] = acks_full(1);
        c.ackss = ackss2;
        c.nackss = full ? 2 : 1;
        break;
    }
    return c;
}

/* ---- entries ---- */

static uint32_t body_len(const char *e)
{
    const unsigned char *u = (const unsigned char *)e;
    return (uint32_t)u[4] | (uint32_t)u[5] << 8 | (uint32_t)u[6] << 16 | (uint32_t)u[7] << 24;
}

/* Encode c, check the envelope and padding, return the entry. */
static char *encode_ok(const struct jscmd *c, size_t *len)
{
    char *e = NULL;
    int rc = jscmd_encode(c, &e, len);
    ck_assert_msg(rc == 0, "encode %s: %d", jscmd_op_name(c->op), rc);
    REQUIRE(*len % 8 == 0 && *len >= 16);
    REQUIRE((unsigned char)e[0] == 0x4A && e[1] == 1 && (unsigned char)e[2] == c->op);
    bool batch = c->op == JSCMD_PUBLISH_BATCH || c->op == JSCMD_CONSUMER_ACKS_BATCH;
    REQUIRE(e[3] == (batch ? 1 : 0));
    size_t body = body_len(e);
    REQUIRE(8 + body <= *len && *len - 8 - body < 8);
    for (size_t i = 8 + body; i < *len; i++)
        REQUIRE(e[i] == 0);
    return e;
}

/* An entry around a msgpack body: envelope, body, zero padding. */
static char *wrap(int op, int flags, const char *body, size_t n, size_t *len)
{
    *len = (8 + n + 7) / 8 * 8;
    char *e = calloc(1, *len);
    REQUIRE(e);
    e[0] = 0x4A;
    e[1] = 1;
    e[2] = (char)op;
    e[3] = (char)flags;
    for (int i = 0; i < 4; i++)
        e[4 + i] = (char)(n >> (8 * i));
    if (n)
        memcpy(e + 8, body, n);
    return e;
}

/* Decode a heap copy of exactly len bytes, so AddressSanitizer sees any
 * read past len; on success decode again from e, so that the slices the
 * caller gets point into e (the copy is freed here). */
static int decode_copy(const char *e, size_t len, struct jscmd *out)
{
    char *copy = malloc(len ? len : 1);
    REQUIRE(copy);
    if (len)
        memcpy(copy, e, len);
    int rc = jscmd_decode(copy, len, out);
    if (rc == 0) {
        jscmd_free(out);
        REQUIRE(jscmd_decode(e, len, out) == 0);
    }
    free(copy);
    return rc;
}

/* The keys of a body with their msgpack types, as the spec table's letters. */
static size_t body_keys(const char *e, struct keyspec *keys, size_t max)
{
    msgpack_unpacked up;
    size_t off = 0, n = 0;
    msgpack_unpacked_init(&up);
    REQUIRE(msgpack_unpack_next(&up, e + 8, body_len(e), &off) == MSGPACK_UNPACK_SUCCESS);
    REQUIRE(off == body_len(e));
    REQUIRE(up.data.type == MSGPACK_OBJECT_MAP);
    for (uint32_t i = 0; i < up.data.via.map.size && n < max; i++) {
        const msgpack_object_kv *kv = &up.data.via.map.ptr[i];
        REQUIRE(kv->key.type == MSGPACK_OBJECT_POSITIVE_INTEGER);
        char t = '?';
        switch (kv->val.type) {
        case MSGPACK_OBJECT_STR: t = 's'; break;
        case MSGPACK_OBJECT_BIN: t = 'b'; break;
        case MSGPACK_OBJECT_POSITIVE_INTEGER: t = 'u'; break;
        case MSGPACK_OBJECT_BOOLEAN: t = 't'; break;
        case MSGPACK_OBJECT_ARRAY: t = 'a'; break;
        default: break;
        }
        keys[n++] = (struct keyspec){ (int)kv->key.via.u64, t, false };
    }
    msgpack_unpacked_destroy(&up);
    return n;
}

static const struct opspec *spec_of(enum jscmd_op op)
{
    for (size_t i = 0; i < NSPECS; i++)
        if (specs[i].op == op)
            return &specs[i];
    ck_abort_msg("no spec for op %d", op);
    return NULL;
}

/* The body has exactly the spec's keys (all, or only the required ones), in
 * ascending order, with the spec's types. */
static void check_keys(const char *e, enum jscmd_op op, bool full)
{
    struct keyspec got[32];
    size_t n = body_keys(e, got, 32), j = 0;
    const struct opspec *s = spec_of(op);
    for (size_t i = 0; i < 16 && s->k[i].key; i++) {
        if (s->k[i].opt && !full)
            continue;
        ck_assert_msg(j < n, "%s: key %d missing", jscmd_op_name(op), s->k[i].key);
        ck_assert_msg(got[j].key == s->k[i].key && got[j].type == s->k[i].type,
                      "%s: key %d type %c, want key %d type %c", jscmd_op_name(op),
                      got[j].key, got[j].type, s->k[i].key, s->k[i].type);
        j++;
    }
    ck_assert_msg(j == n, "%s: %zu keys, want %zu", jscmd_op_name(op), n, j);
}

static void roundtrip(const struct jscmd *c, bool full)
{
    size_t len;
    char *e = encode_ok(c, &len);
    check_keys(e, c->op, full);
    struct jscmd d;
    ck_assert_int_eq(decode_copy(e, len, &d), 0);
    ck_assert_msg(jscmd_cmd_eq(c, &d), "%s (%s) differs after round trip", jscmd_op_name(c->op),
                  full ? "full" : "minimal");
    /* re-encoding a decoded command gives the same bytes */
    size_t len2;
    char *e2 = encode_ok(&d, &len2);
    REQUIRE(len2 == len && memcmp(e, e2, len) == 0);
    free(e2);
    jscmd_free(&d);
    free(e);
}

/* ---- tests ---- */

START_TEST(op_names)
{
    ck_assert_str_eq(jscmd_op_name(JSCMD_STREAM_CREATE), "STREAM_CREATE");
    ck_assert_str_eq(jscmd_op_name(JSCMD_PUBLISH), "PUBLISH");
    ck_assert_str_eq(jscmd_op_name(JSCMD_CONSUMER_ACKS_BATCH), "CONSUMER_ACKS_BATCH");
    ck_assert_str_eq(jscmd_op_name((enum jscmd_op)0x7f), "UNKNOWN");
    for (size_t i = 0; i < NSPECS; i++)
        ck_assert_str_ne(jscmd_op_name(specs[i].op), "UNKNOWN");
}
END_TEST

/* spec/raft.md §8.3: the encoded example, ts included. */
static const unsigned char example[88] = {
    0x4a, 0x01, 0x20, 0x00, 0x4d, 0x00, 0x00, 0x00, 0x86, 0x01, 0xa6, 0x4f, 0x52, 0x44, 0x45, 0x52,
    0x53, 0x02, 0xaa, 0x6f, 0x72, 0x64, 0x65, 0x72, 0x73, 0x2e, 0x6e, 0x65, 0x77, 0x03, 0xc4, 0x1e,
    0x4e, 0x41, 0x54, 0x53, 0x2f, 0x31, 0x2e, 0x30, 0x0d, 0x0a, 0x4e, 0x61, 0x74, 0x73, 0x2d, 0x4d,
    0x73, 0x67, 0x2d, 0x49, 0x64, 0x3a, 0x20, 0x61, 0x62, 0x63, 0x0d, 0x0a, 0x0d, 0x0a, 0x04, 0xc4,
    0x05, 0x68, 0x65, 0x6c, 0x6c, 0x6f, 0x05, 0xcf, 0x18, 0xea, 0x36, 0x30, 0xe1, 0xe9, 0xd1, 0x89,
    0x06, 0xa3, 0x61, 0x62, 0x63, 0x00, 0x00, 0x00,
};

START_TEST(spec_example)
{
    struct jscmd c = { .op = JSCMD_PUBLISH };
    c.pub = (struct jscmd_publish){
        .stream = B("ORDERS"), .subject = B("orders.new"),
        .hdr = B("NATS/1.0\r\nNats-Msg-Id: abc\r\n\r\n"), .data = B("hello"),
        .ts_ns = 0x18ea3630e1e9d189ULL, .msg_id = B("abc"),
    };
    char *e;
    size_t len;
    ck_assert_int_eq(jscmd_encode(&c, &e, &len), 0);
    ck_assert_uint_eq(len, 88);
    ck_assert_uint_eq(body_len(e), 77);
    for (size_t i = 0; i < len; i++)
        ck_assert_msg((unsigned char)e[i] == example[i], "byte %zu: %02x, spec %02x", i,
                      (unsigned char)e[i], example[i]);
    free(e);

    struct jscmd d;
    ck_assert_int_eq(jscmd_decode((const char *)example, sizeof example, &d), 0);
    ck_assert_int_eq(d.op, JSCMD_PUBLISH);
    REQUIRE(jscmd_bytes_eq(d.stream, B("ORDERS")) && jscmd_bytes_eq(d.pub.stream, B("ORDERS")));
    REQUIRE(jscmd_bytes_eq(d.pub.subject, B("orders.new")));
    REQUIRE(jscmd_bytes_eq(d.pub.hdr, B("NATS/1.0\r\nNats-Msg-Id: abc\r\n\r\n")));
    REQUIRE(jscmd_bytes_eq(d.pub.data, B("hello")));
    REQUIRE(d.pub.ts_ns == 0x18ea3630e1e9d189ULL);
    REQUIRE(jscmd_bytes_eq(d.pub.msg_id, B("abc")));
    REQUIRE(!d.pub.exp_stream.ptr && !d.pub.exp_last_msg_id.ptr && !d.pub.has_exp_last_seq &&
            !d.pub.has_exp_last_subj_seq && d.pub.rollup == 0 && d.pub.req == 0 && d.req == 0);
    /* borrowed slices: they point into the entry */
    REQUIRE(d.pub.data.ptr == (const char *)example + 65);
    jscmd_free(&d);
}
END_TEST

START_TEST(roundtrip_full)
{
    for (size_t i = 0; i < NSPECS; i++) {
        struct jscmd c = make_cmd(specs[i].op, true);
        roundtrip(&c, true);
    }
}
END_TEST

START_TEST(roundtrip_minimal)
{
    for (size_t i = 0; i < NSPECS; i++) {
        struct jscmd c = make_cmd(specs[i].op, false);
        roundtrip(&c, false);
    }
}
END_TEST

/* Each optional key alone, so presence is decided per key. */
START_TEST(optional_keys_one_by_one)
{
    struct jscmd c = make_cmd(JSCMD_PUBLISH, false);
    struct jscmd_publish full = pub_full(0);
    for (int k = 0; k < 8; k++) {
        c.pub = pub_min(0);
        switch (k) {
        case 0: c.pub.hdr = full.hdr; break;
        case 1: c.pub.msg_id = B(""); break; /* present though empty */
        case 2: c.pub.exp_stream = full.exp_stream; break;
        case 3: c.pub.has_exp_last_seq = true; break; /* present though 0 */
        case 4: c.pub.has_exp_last_subj_seq = true; c.pub.exp_last_subj_seq = 1; break;
        case 5: c.pub.exp_last_msg_id = full.exp_last_msg_id; break;
        case 6: c.pub.rollup = JSCMD_ROLLUP_ALL; break;
        case 7: c.pub.req = c.req = UINT64_MAX; break;
        }
        size_t len;
        char *e = encode_ok(&c, &len);
        struct keyspec got[16];
        ck_assert_uint_eq(body_keys(e, got, 16), 5);
        struct jscmd d;
        ck_assert_int_eq(decode_copy(e, len, &d), 0);
        ck_assert_msg(jscmd_pub_eq(&c.pub, &d.pub), "optional %d", k);
        jscmd_free(&d);
        free(e);
    }
    /* purge: seq and keep are present by their flags, even at 0 */
    struct jscmd p = make_cmd(JSCMD_STREAM_PURGE, false);
    p.has_keep = true;
    size_t len;
    char *e = encode_ok(&p, &len);
    struct keyspec got[8];
    ck_assert_uint_eq(body_keys(e, got, 8), 2);
    ck_assert_int_eq(got[1].key, 6);
    free(e);
    /* values that only seem set are not encoded without their flag */
    p = make_cmd(JSCMD_STREAM_PURGE, false);
    p.seq = 9;
    e = encode_ok(&p, &len);
    ck_assert_uint_eq(body_keys(e, got, 8), 1);
    free(e);
}
END_TEST

START_TEST(batches)
{
    struct jscmd c = make_cmd(JSCMD_PUBLISH_BATCH, true);
    size_t len;
    char *e = encode_ok(&c, &len);
    ck_assert_int_eq(e[3], JSCMD_FLAG_BATCH);
    check_keys(e, c.op, true);
    /* key 1 is an array of three PUBLISH maps with their own keys */
    msgpack_unpacked up;
    size_t off = 0;
    msgpack_unpacked_init(&up);
    REQUIRE(msgpack_unpack_next(&up, e + 8, body_len(e), &off) == MSGPACK_UNPACK_SUCCESS);
    const msgpack_object *items = &up.data.via.map.ptr[0].val;
    ck_assert_uint_eq(items->via.array.size, 3);
    ck_assert_uint_eq(items->via.array.ptr[0].via.map.size, 15);
    ck_assert_uint_eq(items->via.array.ptr[1].via.map.size, 4);
    ck_assert_uint_eq(items->via.array.ptr[2].via.map.size, 14);
    msgpack_unpacked_destroy(&up);

    struct jscmd d;
    ck_assert_int_eq(decode_copy(e, len, &d), 0);
    REQUIRE(jscmd_cmd_eq(&c, &d));
    REQUIRE(d.npubs == 3 && d.pubs[0].req == 901 && d.pubs[2].rollup == JSCMD_ROLLUP_ALL);
    REQUIRE(!d.stream.ptr && d.req == 0);
    jscmd_free(&d);
    REQUIRE(d.pubs == NULL && d.npubs == 0);
    free(e);

    c = make_cmd(JSCMD_CONSUMER_ACKS_BATCH, true);
    e = encode_ok(&c, &len);
    ck_assert_int_eq(decode_copy(e, len, &d), 0);
    REQUIRE(jscmd_cmd_eq(&c, &d));
    REQUIRE(d.nackss == 2 && d.ackss[1].nacked == 4 && d.ackss[1].redelivered[1][1] == 5);
    jscmd_free(&d);
    free(e);

    /* a batch of many */
    static struct jscmd_publish many[500];
    for (int i = 0; i < 500; i++)
        many[i] = i % 2 ? pub_full(i) : pub_min(i);
    c = (struct jscmd){ .op = JSCMD_PUBLISH_BATCH, .pubs = many, .npubs = 500 };
    e = encode_ok(&c, &len);
    ck_assert_int_eq(decode_copy(e, len, &d), 0);
    REQUIRE(jscmd_cmd_eq(&c, &d));
    jscmd_free(&d);
    free(e);
}
END_TEST

START_TEST(padding)
{
    static char big[300];
    memset(big, 'x', sizeof big);
    for (size_t n = 0; n < sizeof big; n++) {
        struct jscmd c = make_cmd(JSCMD_PUBLISH, n % 2);
        c.pub.data = (struct jscmd_bytes){ big, n };
        size_t len;
        char *e = encode_ok(&c, &len); /* checks len % 8, the padding and its zeros */
        struct jscmd d;
        ck_assert_int_eq(decode_copy(e, len, &d), 0);
        REQUIRE(d.pub.data.len == n);
        jscmd_free(&d);
        free(e);
    }
    /* every padding size 0..7 occurs */
    unsigned seen = 0;
    for (size_t n = 0; n < 16; n++) {
        struct jscmd c = make_cmd(JSCMD_STREAM_DELETE, false);
        c.stream = (struct jscmd_bytes){ big, n };
        size_t len;
        char *e = encode_ok(&c, &len);
        seen |= 1u << (len - 8 - body_len(e));
        free(e);
    }
    ck_assert_uint_eq(seen, 0xff);
}
END_TEST

START_TEST(empty_payload)
{
    /* data unset encodes as an empty bin; decode gives a present empty slice */
    struct jscmd c = { .op = JSCMD_PUBLISH };
    c.pub = pub_min(0);
    c.pub.data = (struct jscmd_bytes){ 0 };
    size_t len;
    char *e = encode_ok(&c, &len);
    struct jscmd d;
    ck_assert_int_eq(jscmd_decode(e, len, &d), 0);
    REQUIRE(d.pub.data.ptr && d.pub.data.len == 0);
    jscmd_free(&d);
    free(e);
}
END_TEST

START_TEST(stream_given_once_or_agreeing)
{
    struct jscmd c = { .op = JSCMD_PUBLISH, .stream = B("A"), .req = 5 };
    c.pub = pub_min(0);
    c.pub.stream = (struct jscmd_bytes){ 0 };
    size_t len;
    char *e = encode_ok(&c, &len);
    struct jscmd d;
    ck_assert_int_eq(jscmd_decode(e, len, &d), 0);
    REQUIRE(jscmd_bytes_eq(d.pub.stream, B("A")) && d.pub.req == 5 && d.req == 5);
    jscmd_free(&d);
    free(e);
    c.pub.stream = B("A");
    c.pub.req = 5;
    free(encode_ok(&c, &len));
    c.pub.stream = B("B");
    ck_assert_int_eq(jscmd_encode(&c, &e, &len), -EINVAL);
    c.pub.stream = B("A");
    c.pub.req = 6;
    ck_assert_int_eq(jscmd_encode(&c, &e, &len), -EINVAL);

    struct jscmd a = { .op = JSCMD_CONSUMER_ACKS, .stream = B("S"), .consumer = B("C") };
    e = encode_ok(&a, &len);
    ck_assert_int_eq(jscmd_decode(e, len, &d), 0);
    REQUIRE(jscmd_bytes_eq(d.acks.stream, B("S")) && jscmd_bytes_eq(d.acks.consumer, B("C")));
    jscmd_free(&d);
    free(e);
    a.acks.consumer = B("D");
    ck_assert_int_eq(jscmd_encode(&a, &e, &len), -EINVAL);
}
END_TEST

START_TEST(encode_invalid)
{
    char *e = (char *)"untouched";
    size_t len = 12345;
    struct jscmd c;
#define BAD()                                                                 \
    do {                                                                      \
        ck_assert_int_eq(jscmd_encode(&c, &e, &len), -EINVAL);                \
        REQUIRE(len == 12345 && !strcmp(e, "untouched"));                     \
    } while (0)

    c = (struct jscmd){ .op = (enum jscmd_op)0x7f, .stream = B("S") };
    BAD();
    c = (struct jscmd){ .op = 0 };
    BAD();
    for (size_t i = 0; i < NSPECS; i++) { /* no stream / items */
        c = make_cmd(specs[i].op, true);
        c.stream = (struct jscmd_bytes){ 0 };
        c.pub.stream = c.acks.stream = (struct jscmd_bytes){ 0 };
        c.npubs = c.nackss = 0;
        BAD();
    }
    c = make_cmd(JSCMD_STREAM_CREATE, true);
    c.config = (struct jscmd_bytes){ 0 };
    BAD();
    c = make_cmd(JSCMD_STREAM_CREATE, true);
    c.stream = (struct jscmd_bytes){ NULL, 3 };
    BAD();
    c = make_cmd(JSCMD_CONSUMER_DELETE, true);
    c.consumer = (struct jscmd_bytes){ 0 };
    BAD();
    c = make_cmd(JSCMD_MSG_DELETE, true);
    c.has_seq = false;
    BAD();
    c = make_cmd(JSCMD_PUBLISH, true);
    c.pub.subject = (struct jscmd_bytes){ 0 };
    BAD();
    c = make_cmd(JSCMD_PUBLISH, true);
    c.pub.data = (struct jscmd_bytes){ NULL, 1 };
    BAD();
    c = make_cmd(JSCMD_PUBLISH, true);
    c.pub.msg_id = (struct jscmd_bytes){ NULL, 1 };
    BAD();
    c = make_cmd(JSCMD_PUBLISH_BATCH, true);
    pubs3[1].subject = (struct jscmd_bytes){ 0 }; /* one bad item spoils the batch */
    BAD();
    c = make_cmd(JSCMD_PUBLISH_BATCH, true);
    c.pubs = NULL;
    BAD();
    c = make_cmd(JSCMD_CONSUMER_ACKS, true);
    c.acks.acked = NULL;
    BAD();
    c = make_cmd(JSCMD_CONSUMER_ACKS, true);
    c.acks.redelivered = NULL;
    BAD();
    c = make_cmd(JSCMD_CONSUMER_ACKS_BATCH, true);
    ackss2[1].consumer = (struct jscmd_bytes){ 0 };
    BAD();
    c = make_cmd(JSCMD_STREAM_DELETE, true);
    c.stream = (struct jscmd_bytes){ "x", (size_t)UINT32_MAX + 1 };
    BAD();
#undef BAD
    ck_assert_int_eq(jscmd_encode(NULL, &e, &len), -EINVAL);
}
END_TEST

/* ---- malformed input ---- */

static void expect_eproto(const char *e, size_t len, const char *what)
{
    struct jscmd d;
    memset(&d, 0xa5, sizeof d);
    int rc = decode_copy(e, len, &d);
    ck_assert_msg(rc == -EPROTO, "%s: decode gave %d, want -EPROTO", what, rc);
    /* on failure the command is zeroed and owns nothing */
    static const struct jscmd zero;
    REQUIRE(memcmp(&d, &zero, sizeof d) == 0);
    jscmd_free(&d);
}

START_TEST(bad_envelope)
{
    struct jscmd c = make_cmd(JSCMD_PUBLISH, true);
    size_t len;
    char *e = encode_ok(&c, &len);
    char *m = malloc(len + 16);
    REQUIRE(m);

    for (size_t n = 0; n < 8; n++)
        expect_eproto(e, n, "shorter than the envelope");
    struct jscmd d;
    ck_assert_int_eq(jscmd_decode(NULL, 0, &d), -EPROTO);
    ck_assert_int_eq(jscmd_decode(NULL, 16, &d), -EPROTO);
    memcpy(m, e, len);
    m[0] = 'K';
    expect_eproto(m, len, "magic");
    memcpy(m, e, len);
    m[1] = 2;
    expect_eproto(m, len, "version 2");
    m[1] = 0;
    expect_eproto(m, len, "version 0");
    static const int bad_ops[] = { 0x00, 0x08, 0x13, 0x22, 0x32, 0xff };
    for (size_t i = 0; i < sizeof bad_ops / sizeof bad_ops[0]; i++) {
        memcpy(m, e, len);
        m[2] = (char)bad_ops[i];
        expect_eproto(m, len, "unknown opcode");
    }
    memcpy(m, e, len);
    m[3] = JSCMD_FLAG_BATCH;
    expect_eproto(m, len, "batch flag on PUBLISH");
    for (int bit = 1; bit < 8; bit++) {
        m[3] = (char)(1 << bit);
        expect_eproto(m, len, "unknown flag");
    }
    memcpy(m, e, len);
    m[2] = JSCMD_PUBLISH_BATCH; /* batch op without the flag */
    expect_eproto(m, len, "batch op without flag");
    /* the length field: each value but the true one */
    uint32_t body = body_len(e);
    uint32_t lens[] = { 0, 1, body - 1, body + 1, body + 3, body + 8, (uint32_t)len,
                        UINT32_MAX, UINT32_MAX - 7, 0x80000000u };
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        memcpy(m, e, len);
        for (int b = 0; b < 4; b++)
            m[4 + b] = (char)(lens[i] >> (8 * b));
        expect_eproto(m, len, "body length");
    }
    /* entry length: not a multiple of 8, one block too long, cut */
    memcpy(m, e, len);
    memset(m + len, 0, 16);
    expect_eproto(m, len + 8, "an extra zero block");
    expect_eproto(m, len + 1, "an extra zero byte");
    expect_eproto(m, len - 1, "one byte short");
    expect_eproto(m, len - 8, "one block short");
    /* every non-zero padding byte */
    for (size_t i = 8 + body; i < len; i++) {
        memcpy(m, e, len);
        m[i] = 1;
        expect_eproto(m, len, "non-zero padding");
    }
    /* every truncation, with a consistent envelope */
    for (uint32_t n = 0; n < body; n++) {
        size_t wl;
        char *w = wrap(JSCMD_PUBLISH, 0, e + 8, n, &wl);
        expect_eproto(w, wl, "truncated body");
        free(w);
    }
    free(m);
    free(e);
}
END_TEST

/* A msgpack body built by hand. */
struct mp {
    msgpack_sbuffer sb;
    msgpack_packer pk;
};

static void mp_init(struct mp *m)
{
    msgpack_sbuffer_init(&m->sb);
    msgpack_packer_init(&m->pk, &m->sb, msgpack_sbuffer_write);
}

static void expect_body(int op, const struct mp *m, int want, const char *what)
{
    size_t len;
    char *e = wrap(op, (op == 0x21 || op == 0x31) ? 1 : 0, m->sb.data, m->sb.size, &len);
    struct jscmd d;
    int rc = decode_copy(e, len, &d);
    ck_assert_msg(rc == want, "%s (%s): decode gave %d, want %d", what,
                  jscmd_op_name((enum jscmd_op)op), rc, want);
    jscmd_free(&d);
    free(e);
}

static void expect_raw(int op, const char *body, size_t n, const char *what)
{
    size_t len;
    char *e = wrap(op, (op == 0x21 || op == 0x31) ? 1 : 0, body, n, &len);
    expect_eproto(e, len, what);
    free(e);
}

/* Values of every msgpack type, to put where another type belongs. */
enum { NVALS = 10 };

static void pack_val(msgpack_packer *pk, int v)
{
    switch (v) {
    case 0: msgpack_pack_nil(pk); break;
    case 1: msgpack_pack_true(pk); break;
    case 2: msgpack_pack_int64(pk, -1); break;
    case 3: msgpack_pack_uint64(pk, 7); break;
    case 4: msgpack_pack_double(pk, 1.5); break;
    case 5: msgpack_pack_str_with_body(pk, "s", 1); break;
    case 6: msgpack_pack_bin_with_body(pk, "b", 1); break;
    case 7: msgpack_pack_array(pk, 1); msgpack_pack_uint64(pk, 1); break;
    case 8: msgpack_pack_map(pk, 1); msgpack_pack_uint8(pk, 1); msgpack_pack_nil(pk); break;
    case 9: msgpack_pack_ext_with_body(pk, "xy", 2, 5); break;
    }
}

static char val_type(int v)
{
    static const char t[NVALS] = { 'n', 't', 'i', 'u', 'f', 's', 'b', 'a', 'm', 'x' };
    return t[v];
}

/* Repack body map o: drop key `drop`, write key `dup` twice, give key
 * `repl` value number v, then append `extra` unknown pairs. */
static void repack(struct mp *m, const msgpack_object *o, int drop, int dup, int repl, int v,
                   int extra)
{
    uint32_t n = o->via.map.size;
    size_t count = n - (drop > 0) + (dup > 0) + (size_t)extra;
    mp_init(m);
    msgpack_pack_map(&m->pk, count);
    for (uint32_t i = 0; i < n; i++) {
        const msgpack_object_kv *kv = &o->via.map.ptr[i];
        int key = (int)kv->key.via.u64;
        if (key == drop)
            continue;
        for (int times = key == dup ? 2 : 1; times > 0; times--) {
            msgpack_pack_object(&m->pk, kv->key);
            if (key == repl)
                pack_val(&m->pk, v);
            else
                msgpack_pack_object(&m->pk, kv->val);
        }
    }
    for (int i = 0; i < extra; i++) {
        switch (i % 5) {
        case 0: msgpack_pack_uint8(&m->pk, 16); break;
        case 1: msgpack_pack_uint8(&m->pk, 99); break;
        case 2: msgpack_pack_uint64(&m->pk, UINT64_MAX); break;
        case 3: msgpack_pack_str_with_body(&m->pk, "stream", 6); break;
        case 4: msgpack_pack_int8(&m->pk, -3); break;
        }
        pack_val(&m->pk, i % NVALS);
    }
}

START_TEST(bad_key_types_and_missing_keys)
{
    for (size_t s = 0; s < NSPECS; s++) {
        enum jscmd_op op = specs[s].op;
        struct jscmd c = make_cmd(op, true);
        size_t len;
        char *e = encode_ok(&c, &len);
        msgpack_unpacked up;
        size_t off = 0;
        msgpack_unpacked_init(&up);
        REQUIRE(msgpack_unpack_next(&up, e + 8, body_len(e), &off) == MSGPACK_UNPACK_SUCCESS);
        struct mp m;
        for (size_t k = 0; k < 15 && specs[s].k[k].key; k++) {
            const struct keyspec *ks = &specs[s].k[k];
            /* every other type in this key's place */
            for (int v = 0; v < NVALS; v++) {
                if (val_type(v) == ks->type)
                    continue;
                repack(&m, &up.data, 0, 0, ks->key, v, 0);
                expect_body(op, &m, -EPROTO, "wrong type");
                msgpack_sbuffer_destroy(&m.sb);
            }
            /* missing: fatal when required */
            repack(&m, &up.data, ks->key, 0, 0, 0, 0);
            expect_body(op, &m, ks->opt ? 0 : -EPROTO, "key dropped");
            msgpack_sbuffer_destroy(&m.sb);
            /* twice */
            repack(&m, &up.data, 0, ks->key, 0, 0, 0);
            expect_body(op, &m, -EPROTO, "key twice");
            msgpack_sbuffer_destroy(&m.sb);
        }
        msgpack_unpacked_destroy(&up);
        free(e);
    }
}
END_TEST

START_TEST(unknown_keys_ignored)
{
    for (size_t s = 0; s < NSPECS; s++) {
        for (int full = 0; full < 2; full++) {
            struct jscmd c = make_cmd(specs[s].op, full);
            size_t len;
            char *e = encode_ok(&c, &len);
            msgpack_unpacked up;
            size_t off = 0;
            msgpack_unpacked_init(&up);
            REQUIRE(msgpack_unpack_next(&up, e + 8, body_len(e), &off) ==
                    MSGPACK_UNPACK_SUCCESS);
            for (int extra = 1; extra <= 12; extra++) {
                struct mp m;
                repack(&m, &up.data, 0, 0, 0, 0, extra);
                size_t wl;
                char *w = wrap(c.op, e[3], m.sb.data, m.sb.size, &wl);
                struct jscmd d;
                ck_assert_int_eq(jscmd_decode(w, wl, &d), 0);
                ck_assert_msg(jscmd_cmd_eq(&c, &d), "%s with %d unknown keys",
                              jscmd_op_name(c.op), extra);
                jscmd_free(&d);
                free(w);
                msgpack_sbuffer_destroy(&m.sb);
            }
            msgpack_unpacked_destroy(&up);
            free(e);
        }
    }
    /* keys not listed for an op: req (15) on STREAM_EXPIRE and on a batch */
    struct mp m;
    mp_init(&m);
    msgpack_pack_map(&m.pk, 3);
    msgpack_pack_uint8(&m.pk, 15);
    msgpack_pack_uint64(&m.pk, 3);
    msgpack_pack_uint8(&m.pk, 1);
    msgpack_pack_str_with_body(&m.pk, "S", 1);
    msgpack_pack_uint8(&m.pk, 8);
    msgpack_pack_uint64(&m.pk, 10);
    size_t wl;
    char *w = wrap(JSCMD_STREAM_EXPIRE, 0, m.sb.data, m.sb.size, &wl);
    struct jscmd d;
    ck_assert_int_eq(jscmd_decode(w, wl, &d), 0);
    REQUIRE(d.req == 0 && d.cutoff_ns == 10 && jscmd_bytes_eq(d.stream, B("S")));
    jscmd_free(&d);
    free(w);
    msgpack_sbuffer_destroy(&m.sb);
}
END_TEST

START_TEST(bad_bodies)
{
    struct mp m;
    /* the root is not a map */
    for (int v = 0; v < NVALS; v++) {
        if (val_type(v) == 'm')
            continue;
        mp_init(&m);
        pack_val(&m.pk, v);
        expect_body(JSCMD_STREAM_DELETE, &m, -EPROTO, "root not a map");
        msgpack_sbuffer_destroy(&m.sb);
    }
    /* two objects, or trailing bytes inside the body length */
    expect_raw(JSCMD_STREAM_DELETE, "\x81\x01\xa1S\x80", 5, "two maps");
    expect_raw(JSCMD_STREAM_DELETE, "\x81\x01\xa1S\x00", 5, "trailing byte");
    expect_raw(JSCMD_STREAM_DELETE, "\x81\x01\xa1S\xc1", 5, "trailing 0xc1");
    expect_raw(JSCMD_STREAM_DELETE, "", 0, "empty body");
    expect_raw(JSCMD_STREAM_DELETE, "\xc1", 1, "reserved byte");
    expect_raw(JSCMD_STREAM_DELETE, "\x81\x01\xc1", 3, "reserved byte as value");
    expect_raw(JSCMD_STREAM_DELETE, "\x82\x01\xa1S", 4, "map short of a pair");
    expect_raw(JSCMD_STREAM_DELETE, "\x81\x01\xa2S", 4, "string past the body");
    expect_raw(JSCMD_STREAM_DELETE, "\x81\x01\xdb\xff\xff\xff\xff", 7, "str32 past the body");
    /* containers claiming more than the body could hold (msgpack-c would
     * allocate for them before reading) */
    expect_raw(JSCMD_STREAM_DELETE, "\xdf\xff\xff\xff\xff", 5, "map32 of 4G pairs");
    expect_raw(JSCMD_STREAM_DELETE, "\xdd\xff\xff\xff\xff", 5, "array32 of 4G");
    expect_raw(JSCMD_STREAM_DELETE, "\x81\x01\xa1S\x81\x05\xdd\xff\xff\xff\xff", 11,
               "nested huge array");
    expect_raw(JSCMD_CONSUMER_ACKS, "\x81\x05\xdd\x00\x01\x00\x00\x01", 8,
               "array longer than the bytes left");
    /* deep nesting under an unknown key */
    for (int depth = 14; depth <= 40; depth += 2) {
        mp_init(&m);
        msgpack_pack_map(&m.pk, 2);
        msgpack_pack_uint8(&m.pk, 1);
        msgpack_pack_str_with_body(&m.pk, "S", 1);
        msgpack_pack_uint8(&m.pk, 20);
        for (int i = 0; i < depth; i++)
            msgpack_pack_array(&m.pk, 1);
        msgpack_pack_nil(&m.pk);
        /* the root is level 1: 15 arrays under it make 16 */
        expect_body(JSCMD_STREAM_DELETE, &m, depth <= 15 ? 0 : -EPROTO, "deep nesting");
        msgpack_sbuffer_destroy(&m.sb);
    }
    /* rollup is a u8 */
    mp_init(&m);
    msgpack_pack_map(&m.pk, 5);
    msgpack_pack_uint8(&m.pk, 1);
    msgpack_pack_str_with_body(&m.pk, "S", 1);
    msgpack_pack_uint8(&m.pk, 2);
    msgpack_pack_str_with_body(&m.pk, "s", 1);
    msgpack_pack_uint8(&m.pk, 4);
    msgpack_pack_bin_with_body(&m.pk, "", 0);
    msgpack_pack_uint8(&m.pk, 5);
    msgpack_pack_uint64(&m.pk, 0);
    msgpack_pack_uint8(&m.pk, 11);
    size_t at = m.sb.size;
    msgpack_pack_uint16(&m.pk, 255);
    expect_body(JSCMD_PUBLISH, &m, 0, "rollup 255");
    m.sb.size = at;
    msgpack_pack_uint16(&m.pk, 256);
    expect_body(JSCMD_PUBLISH, &m, -EPROTO, "rollup 256");
    msgpack_sbuffer_destroy(&m.sb);

    /* batches: empty, an item that is not a map, an item missing a key */
    for (int op = JSCMD_PUBLISH_BATCH; op <= JSCMD_CONSUMER_ACKS_BATCH; op += 0x10) {
        mp_init(&m);
        msgpack_pack_map(&m.pk, 1);
        msgpack_pack_uint8(&m.pk, 1);
        msgpack_pack_array(&m.pk, 0);
        expect_body(op, &m, -EPROTO, "empty batch");
        msgpack_sbuffer_destroy(&m.sb);
        for (int v = 0; v < NVALS; v++) {
            if (val_type(v) == 'm')
                continue;
            mp_init(&m);
            msgpack_pack_map(&m.pk, 1);
            msgpack_pack_uint8(&m.pk, 1);
            msgpack_pack_array(&m.pk, 1);
            pack_val(&m.pk, v);
            expect_body(op, &m, -EPROTO, "item not a map");
            msgpack_sbuffer_destroy(&m.sb);
        }
        mp_init(&m);
        msgpack_pack_map(&m.pk, 1);
        msgpack_pack_uint8(&m.pk, 1);
        msgpack_pack_array(&m.pk, 1);
        msgpack_pack_map(&m.pk, 1);
        msgpack_pack_uint8(&m.pk, 1);
        msgpack_pack_str_with_body(&m.pk, "S", 1);
        expect_body(op, &m, -EPROTO, "item missing keys");
        msgpack_sbuffer_destroy(&m.sb);
    }
    /* a bad item after a good one (whose arrays must then be freed) */
    {
        struct jscmd c = make_cmd(JSCMD_CONSUMER_ACKS_BATCH, true);
        ackss2[1].redelivered = redel1;
        ackss2[1].nredelivered = 1; /* the body ends with the pair [11, 2] */
        ackss2[1].start_sseq = 0;   /* (key 9 would follow it) */
        size_t len;
        char *e = encode_ok(&c, &len);
        size_t last = 8 + body_len(e) - 1;
        REQUIRE(e[last] == 0x02);
        e[last] = (char)0xff; /* negative fixint -1 */
        expect_eproto(e, len, "bad last pair in a batch");
        free(e);
    }
    /* acked elements and redelivered pairs */
#define ACKS_HEAD "\x88\x01\xa1S\x02\xa1" "C\x03\x00\x04\x00"
#define RAW(x) { x, sizeof x - 1 }
    static const struct {
        const char *b;
        size_t n;
    } bad_acks[] = {
        RAW(ACKS_HEAD "\x05\x91\xff\x06\x00\x07\x00\x08\x90"),      /* acked [-1] */
        RAW(ACKS_HEAD "\x05\x91\xa1x\x06\x00\x07\x00\x08\x90"),     /* acked ["x"] */
        RAW(ACKS_HEAD "\x05\x01\x06\x00\x07\x00\x08\x90"),          /* acked 1 */
        RAW(ACKS_HEAD "\x05\x90\x06\x00\x07\x00\x08\x91\x91\x01"), /* [[1]] */
        RAW(ACKS_HEAD "\x05\x90\x06\x00\x07\x00\x08\x91\x93\x01\x02\x03"),
        RAW(ACKS_HEAD "\x05\x90\x06\x00\x07\x00\x08\x91\x92\x01\xc0"), /* [[1,nil]] */
        RAW(ACKS_HEAD "\x05\x90\x06\x00\x07\x00\x08\x91\x01"),      /* [1] */
        RAW(ACKS_HEAD "\x05\x90\x06\x00\x07\x00\x08\x91\x82\x00\x01\x01\x02"),
        RAW(ACKS_HEAD "\x05\x90\x06\x00\x07\x00\x08\x91\x90"),      /* [[]] */
    };
    for (size_t i = 0; i < sizeof bad_acks / sizeof bad_acks[0]; i++)
        expect_raw(JSCMD_CONSUMER_ACKS, bad_acks[i].b, bad_acks[i].n, "bad acked or redelivered");
    /* the same shape but valid decodes */
    const char ok[] = "\x88\x01\xa1S\x02\xa1" "C\x03\x01\x04\x02\x05\x91\x03\x06\x04\x07\x05"
                      "\x08\x91\x92\x06\x07";
    size_t wl;
    char *w = wrap(JSCMD_CONSUMER_ACKS, 0, ok, sizeof ok - 1, &wl);
    struct jscmd d;
    ck_assert_int_eq(jscmd_decode(w, wl, &d), 0);
    REQUIRE(d.acks.nacked == 1 && d.acks.acked[0] == 3 && d.acks.nredelivered == 1 &&
            d.acks.redelivered[0][0] == 6 && d.acks.redelivered[0][1] == 7);
    jscmd_free(&d);
    free(w);
}
END_TEST

/* Non-canonical but valid encodings (wider ints, str8 for a short string)
 * decode to the same command. */
START_TEST(wide_encodings)
{
    const char body[] = "\x83\x01\xd9\x01S\xcf\x00\x00\x00\x00\x00\x00\x00\x0f\xce\x00\x00\x00"
                        "\x09\x08\xd3\x00\x00\x00\x00\x00\x00\x00\x0a";
    /* map(3): 1:str8 "S", 15:u64 9 (key as uint64), 8: int64 10 */
    size_t wl;
    char *w = wrap(JSCMD_STREAM_EXPIRE, 0, body, sizeof body - 1, &wl);
    struct jscmd d;
    ck_assert_int_eq(jscmd_decode(w, wl, &d), 0);
    REQUIRE(jscmd_bytes_eq(d.stream, B("S")) && d.cutoff_ns == 10);
    jscmd_free(&d);
    free(w);
}
END_TEST

/* Random commands of every op round-trip. */
static uint64_t rnd_state = 88172645463325252ULL;
static uint64_t rnd(void)
{
    rnd_state ^= rnd_state << 13;
    rnd_state ^= rnd_state >> 7;
    rnd_state ^= rnd_state << 17;
    return rnd_state;
}

static uint64_t rnd_u64(void)
{
    static const uint64_t edges[] = { 0, 1, 127, 128, 255, 256, 65535, 65536, UINT32_MAX,
                                      (uint64_t)UINT32_MAX + 1, UINT64_MAX };
    return rnd() % 2 ? edges[rnd() % (sizeof edges / sizeof edges[0])] : rnd();
}

static char pool[70000];

static struct jscmd_bytes rnd_bytes(bool opt)
{
    if (opt && rnd() % 2)
        return (struct jscmd_bytes){ 0 };
    static const size_t lens[] = { 0, 1, 31, 32, 255, 256, 65535, 65536 };
    size_t n = rnd() % 4 ? rnd() % 40 : lens[rnd() % 8];
    return (struct jscmd_bytes){ pool + rnd() % (sizeof pool - n), n };
}

static void rnd_pub(struct jscmd_publish *p)
{
    *p = (struct jscmd_publish){
        .stream = rnd_bytes(false), .subject = rnd_bytes(false), .hdr = rnd_bytes(true),
        .data = rnd_bytes(false), .ts_ns = rnd_u64(), .msg_id = rnd_bytes(true),
        .exp_stream = rnd_bytes(true), .exp_last_msg_id = rnd_bytes(true),
        .exp_last_subj_seq_subj = rnd_bytes(true),
        .rollup = (uint8_t)(rnd() % 3), .req = rnd() % 2 ? rnd_u64() : 0,
    };
    if ((p->has_exp_last_seq = rnd() % 2))
        p->exp_last_seq = rnd_u64();
    if ((p->has_exp_last_subj_seq = rnd() % 2))
        p->exp_last_subj_seq = rnd_u64();
}

static uint64_t arr_u64[64];
static uint64_t arr_pairs[64][2];

static void rnd_acks(struct jscmd_acks *a)
{
    *a = (struct jscmd_acks){
        .stream = rnd_bytes(false), .consumer = rnd_bytes(false),
        .ack_floor_sseq = rnd_u64(), .ack_floor_cseq = rnd_u64(),
        .delivered_sseq = rnd_u64(), .delivered_cseq = rnd_u64(),
        .nacked = rnd() % 10, .nredelivered = rnd() % 10,
    };
    a->acked = a->nacked ? arr_u64 + rnd() % 50 : NULL;
    a->redelivered = a->nredelivered ? (const uint64_t(*)[2])arr_pairs + rnd() % 50 : NULL;
}

START_TEST(random_roundtrip)
{
    for (size_t i = 0; i < sizeof pool; i++)
        pool[i] = (char)rnd();
    for (int i = 0; i < 64; i++) {
        arr_u64[i] = rnd_u64();
        arr_pairs[i][0] = rnd_u64();
        arr_pairs[i][1] = rnd_u64();
    }
    static struct jscmd_publish pubs[20];
    static struct jscmd_acks ackss[20];
    for (int iter = 0; iter < 3000; iter++) {
        enum jscmd_op op = specs[rnd() % NSPECS].op;
        struct jscmd c = make_cmd(op, false);
        c.stream = rnd_bytes(false);
        switch (op) {
        case JSCMD_STREAM_CREATE:
        case JSCMD_CONSUMER_CREATE:
            c.created_ns = rnd_u64();
            if (op == JSCMD_CONSUMER_CREATE) {
                c.deliver_seen = rnd_bytes(true);
                c.deliver_bound = rnd() % 2;
            }
            /* fall through */
        case JSCMD_STREAM_UPDATE:
        case JSCMD_CONSUMER_UPDATE:
            c.config = rnd_bytes(false);
            /* fall through */
        case JSCMD_STREAM_DELETE:
        case JSCMD_CONSUMER_DELETE:
            if (op >= JSCMD_CONSUMER_CREATE)
                c.consumer = rnd_bytes(false);
            c.req = rnd() % 2 ? rnd_u64() : 0;
            break;
        case JSCMD_STREAM_PURGE:
            c.filter = rnd_bytes(true);
            if ((c.has_seq = rnd() % 2))
                c.seq = rnd_u64();
            if ((c.has_keep = rnd() % 2))
                c.keep = rnd_u64();
            c.req = rnd_u64();
            break;
        case JSCMD_MSG_DELETE:
            c.seq = rnd_u64();
            c.no_erase = rnd() % 2;
            c.req = rnd_u64();
            break;
        case JSCMD_STREAM_EXPIRE:
            c.cutoff_ns = rnd_u64();
            break;
        case JSCMD_STREAM_SYNC:
            c.seq = rnd_u64();
            break;
        case JSCMD_PUBLISH:
            rnd_pub(&c.pub);
            c.stream = c.pub.stream;
            c.req = c.pub.req;
            break;
        case JSCMD_PUBLISH_BATCH:
            c.stream = (struct jscmd_bytes){ 0 };
            c.npubs = 1 + rnd() % 20;
            for (size_t k = 0; k < c.npubs; k++)
                rnd_pub(&pubs[k]);
            c.pubs = pubs;
            break;
        case JSCMD_CONSUMER_ACKS:
            rnd_acks(&c.acks);
            c.stream = c.acks.stream;
            c.consumer = c.acks.consumer;
            break;
        case JSCMD_CONSUMER_ACKS_BATCH:
            c.stream = (struct jscmd_bytes){ 0 };
            c.nackss = 1 + rnd() % 20;
            for (size_t k = 0; k < c.nackss; k++)
                rnd_acks(&ackss[k]);
            c.ackss = ackss;
            break;
        }
        size_t len;
        char *e = encode_ok(&c, &len);
        struct jscmd d;
        REQUIRE(jscmd_decode(e, len, &d) == 0);
        if (!jscmd_cmd_eq(&c, &d))
            ck_abort_msg("iteration %d: %s differs after round trip", iter, jscmd_op_name(op));
        jscmd_free(&d);
        free(e);
    }
}
END_TEST

START_TEST(free_is_safe)
{
    jscmd_free(NULL);
    struct jscmd z = { 0 };
    jscmd_free(&z);
    jscmd_free(&z);
    struct jscmd d;
    ck_assert_int_eq(jscmd_decode("J", 1, &d), -EPROTO);
    jscmd_free(&d);
    ck_assert_int_eq(jscmd_decode((const char *)example, sizeof example, NULL), -EINVAL);
}
END_TEST

static Suite *jscmd_suite(void)
{
    Suite *s = suite_create("jscmd");
    TCase *tc = tcase_create("encode");
    tcase_add_test(tc, op_names);
    tcase_add_test(tc, spec_example);
    tcase_add_test(tc, roundtrip_full);
    tcase_add_test(tc, roundtrip_minimal);
    tcase_add_test(tc, optional_keys_one_by_one);
    tcase_add_test(tc, batches);
    tcase_add_test(tc, padding);
    tcase_add_test(tc, empty_payload);
    tcase_add_test(tc, stream_given_once_or_agreeing);
    tcase_add_test(tc, encode_invalid);
    suite_add_tcase(s, tc);
    TCase *bad = tcase_create("malformed");
    tcase_add_test(bad, bad_envelope);
    tcase_add_test(bad, bad_key_types_and_missing_keys);
    tcase_add_test(bad, unknown_keys_ignored);
    tcase_add_test(bad, bad_bodies);
    tcase_add_test(bad, wide_encodings);
    tcase_add_test(bad, free_is_safe);
    suite_add_tcase(s, bad);
    TCase *rnd_tc = tcase_create("random");
    tcase_set_timeout(rnd_tc, 120);
    tcase_add_test(rnd_tc, random_roundtrip);
    suite_add_tcase(s, rnd_tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(jscmd_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
