/*
 * proto/jscmd.c — the JetStream command codec (spec/raft.md §8.3).
 *
 * Each op is a table of its keys (key number, msgpack type, field offset,
 * required or optional); one encoder and one decoder walk the tables, so the
 * spec's key table is written once. Encoding packs the keys in ascending
 * order with msgpack-c into one buffer sized from the fields up front, after
 * an 8-byte envelope, and pads with zeros to a multiple of 8.
 *
 * Decoding checks the envelope and the padding, then walks the body once
 * with a bounded scanner before msgpack-c sees it: msgpack_unpack_next
 * allocates an array's or map's objects from the count in its header before
 * reading them, so an unchecked 5-byte body (dd ff ff ff ff) would ask for
 * 100 GB. The scanner admits only bodies that are exactly one well-formed
 * object, nested at most SCAN_DEPTH deep, whose counts fit the bytes left;
 * msgpack-c then allocates at most ~24 bytes per body byte. Slices in the
 * decoded command point into the caller's entry; only arrays are allocated.
 * Pure: no I/O, no globals, never reads past the given length.
 */
#include "proto/jscmd.h"

#include <errno.h>
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

/* Containers nested deeper than this are refused (-EPROTO). The format needs
 * five (map > items > map > redelivered > pair); msgpack-c stops at 32. */
#define SCAN_DEPTH 16

/* Larger encode size hints are not allocated up front; the buffer grows. */
#define HINT_MAX (64u << 20)

/* ---- the key tables ---- */

enum kind {
    K_STR,   /* struct jscmd_bytes, msgpack str */
    K_BIN,   /* struct jscmd_bytes, msgpack bin */
    K_U64,   /* uint64_t, msgpack positive integer */
    K_U8,    /* uint8_t, msgpack positive integer <= 255 */
    K_BOOL,  /* bool */
    K_U64S,  /* const uint64_t * + size_t count: array of u64 */
    K_PAIRS, /* const uint64_t (*)[2] + size_t count: array of [u64, u64] */
    K_PUBS,  /* struct jscmd_publish * + size_t count: array of PUBLISH maps */
    K_ACKSS, /* struct jscmd_acks * + size_t count: array of ACKS maps */
};

/* How a field's presence is decided (encode) and recorded (decode). */
enum need {
    REQUIRED,  /* always encoded; bytes must be set (-EINVAL) */
    EMPTY_OK,  /* required bytes; unset encodes as empty (a message without payload) */
    HAS_FLAG,  /* required u64 with a has_* flag: the flag must be set to encode */
    OPTIONAL,  /* bytes: ptr set; u64/u8: non-zero; bool: true */
    OPT_FLAG,  /* optional u64 present when its has_* flag is set */
};

struct field {
    uint8_t key;
    uint8_t kind;   /* enum kind */
    uint8_t need;   /* enum need */
    size_t off;     /* the value in the target struct */
    size_t aux;     /* the has_* flag (HAS_FLAG, OPT_FLAG) or the count (arrays) */
};

struct table {
    const struct field *f;
    size_t n;
};

#define F(k, kind, need, type, member) { k, kind, need, offsetof(type, member), 0 }
#define FH(k, need, type, member, has) { k, K_U64, need, offsetof(type, member), offsetof(type, has) }
#define FA(k, kind, type, member, count) \
    { k, kind, REQUIRED, offsetof(type, member), offsetof(type, count) }
#define TABLE(a) { a, sizeof a / sizeof a[0] }

#define C struct jscmd
static const struct field stream_create[] = {
    F(1, K_STR, REQUIRED, C, stream), F(2, K_BIN, REQUIRED, C, config),
    F(3, K_U64, REQUIRED, C, created_ns), F(12, K_U64, OPTIONAL, C, acct_max),
    F(13, K_U64, OPTIONAL, C, acct_streams), F(15, K_U64, OPTIONAL, C, req),
};
static const struct field stream_update[] = {
    F(1, K_STR, REQUIRED, C, stream), F(2, K_BIN, REQUIRED, C, config),
    F(12, K_U64, OPTIONAL, C, acct_max), F(15, K_U64, OPTIONAL, C, req),
};
static const struct field stream_delete[] = {
    F(1, K_STR, REQUIRED, C, stream), F(15, K_U64, OPTIONAL, C, req),
};
static const struct field stream_purge[] = {
    F(1, K_STR, REQUIRED, C, stream), F(4, K_STR, OPTIONAL, C, filter),
    FH(5, OPT_FLAG, C, seq, has_seq), FH(6, OPT_FLAG, C, keep, has_keep),
    F(15, K_U64, OPTIONAL, C, req),
};
static const struct field msg_delete[] = {
    F(1, K_STR, REQUIRED, C, stream), FH(5, HAS_FLAG, C, seq, has_seq),
    F(7, K_BOOL, OPTIONAL, C, no_erase), F(15, K_U64, OPTIONAL, C, req),
};
static const struct field stream_expire[] = {
    F(1, K_STR, REQUIRED, C, stream), F(8, K_U64, REQUIRED, C, cutoff_ns),
    F(9, K_U64, OPTIONAL, C, now_ns),
};
static const struct field stream_sync[] = {
    F(1, K_STR, REQUIRED, C, stream), FH(5, HAS_FLAG, C, seq, has_seq),
};
static const struct field consumer_create[] = {
    F(1, K_STR, REQUIRED, C, stream), F(2, K_STR, REQUIRED, C, consumer),
    F(3, K_BIN, REQUIRED, C, config), F(4, K_U64, REQUIRED, C, created_ns),
    F(5, K_STR, OPTIONAL, C, deliver_seen), F(6, K_BOOL, OPTIONAL, C, deliver_bound),
    F(7, K_U64, OPTIONAL, C, acct_consumers), F(8, K_U8, OPTIONAL, C, action),
    F(15, K_U64, OPTIONAL, C, req),
};
static const struct field consumer_update[] = {
    F(1, K_STR, REQUIRED, C, stream), F(2, K_STR, REQUIRED, C, consumer),
    F(3, K_BIN, REQUIRED, C, config), F(15, K_U64, OPTIONAL, C, req),
};
static const struct field consumer_delete[] = {
    F(1, K_STR, REQUIRED, C, stream), F(2, K_STR, REQUIRED, C, consumer),
    F(15, K_U64, OPTIONAL, C, req),
};
static const struct field publish_batch[] = {
    FA(1, K_PUBS, C, pubs, npubs),
};
static const struct field acks_batch[] = {
    FA(1, K_ACKSS, C, ackss, nackss),
};
#undef C

#define P struct jscmd_publish
static const struct field publish[] = {
    F(1, K_STR, REQUIRED, P, stream), F(2, K_STR, REQUIRED, P, subject),
    F(3, K_BIN, OPTIONAL, P, hdr), F(4, K_BIN, EMPTY_OK, P, data),
    F(5, K_U64, REQUIRED, P, ts_ns), F(6, K_STR, OPTIONAL, P, msg_id),
    F(7, K_STR, OPTIONAL, P, exp_stream),
    FH(8, OPT_FLAG, P, exp_last_seq, has_exp_last_seq),
    FH(9, OPT_FLAG, P, exp_last_subj_seq, has_exp_last_subj_seq),
    F(10, K_STR, OPTIONAL, P, exp_last_msg_id), F(11, K_U8, OPTIONAL, P, rollup),
    F(12, K_U64, OPTIONAL, P, acct_max), F(13, K_STR, OPTIONAL, P, exp_last_subj_seq_subj),
    F(14, K_U64, OPTIONAL, P, acct_limit), F(15, K_U64, OPTIONAL, P, req),
};
#undef P

#define A struct jscmd_acks
static const struct field acks[] = {
    F(1, K_STR, REQUIRED, A, stream), F(2, K_STR, REQUIRED, A, consumer),
    F(3, K_U64, REQUIRED, A, ack_floor_sseq), F(4, K_U64, REQUIRED, A, ack_floor_cseq),
    FA(5, K_U64S, A, acked, nacked), F(6, K_U64, REQUIRED, A, delivered_sseq),
    F(7, K_U64, REQUIRED, A, delivered_cseq), FA(8, K_PAIRS, A, redelivered, nredelivered),
    F(9, K_U64, OPTIONAL, A, start_sseq),
};
#undef A

static const struct table publish_table = TABLE(publish);
static const struct table acks_table = TABLE(acks);

/* The table of an op's body; for PUBLISH and CONSUMER_ACKS it describes
 * c->pub / c->acks. Zero n for an unknown op. */
static struct table op_table(enum jscmd_op op)
{
    static const struct table none = { NULL, 0 };
    switch (op) {
    case JSCMD_STREAM_CREATE: return (struct table)TABLE(stream_create);
    case JSCMD_STREAM_UPDATE: return (struct table)TABLE(stream_update);
    case JSCMD_STREAM_DELETE: return (struct table)TABLE(stream_delete);
    case JSCMD_STREAM_PURGE: return (struct table)TABLE(stream_purge);
    case JSCMD_MSG_DELETE: return (struct table)TABLE(msg_delete);
    case JSCMD_STREAM_EXPIRE: return (struct table)TABLE(stream_expire);
    case JSCMD_STREAM_SYNC: return (struct table)TABLE(stream_sync);
    case JSCMD_CONSUMER_CREATE: return (struct table)TABLE(consumer_create);
    case JSCMD_CONSUMER_UPDATE: return (struct table)TABLE(consumer_update);
    case JSCMD_CONSUMER_DELETE: return (struct table)TABLE(consumer_delete);
    case JSCMD_PUBLISH: return publish_table;
    case JSCMD_PUBLISH_BATCH: return (struct table)TABLE(publish_batch);
    case JSCMD_CONSUMER_ACKS: return acks_table;
    case JSCMD_CONSUMER_ACKS_BATCH: return (struct table)TABLE(acks_batch);
    }
    return none;
}

static bool is_batch(enum jscmd_op op)
{
    return op == JSCMD_PUBLISH_BATCH || op == JSCMD_CONSUMER_ACKS_BATCH;
}

const char *jscmd_op_name(enum jscmd_op op)
{
    switch (op) {
    case JSCMD_STREAM_CREATE: return "STREAM_CREATE";
    case JSCMD_STREAM_UPDATE: return "STREAM_UPDATE";
    case JSCMD_STREAM_DELETE: return "STREAM_DELETE";
    case JSCMD_STREAM_PURGE: return "STREAM_PURGE";
    case JSCMD_MSG_DELETE: return "MSG_DELETE";
    case JSCMD_STREAM_EXPIRE: return "STREAM_EXPIRE";
    case JSCMD_STREAM_SYNC: return "STREAM_SYNC";
    case JSCMD_CONSUMER_CREATE: return "CONSUMER_CREATE";
    case JSCMD_CONSUMER_UPDATE: return "CONSUMER_UPDATE";
    case JSCMD_CONSUMER_DELETE: return "CONSUMER_DELETE";
    case JSCMD_PUBLISH: return "PUBLISH";
    case JSCMD_PUBLISH_BATCH: return "PUBLISH_BATCH";
    case JSCMD_CONSUMER_ACKS: return "CONSUMER_ACKS";
    case JSCMD_CONSUMER_ACKS_BATCH: return "CONSUMER_ACKS_BATCH";
    }
    return "UNKNOWN";
}

/* Typed views of a field inside the struct at base. */
#define AT(base, off, type) ((type *)(void *)((char *)(base) + (off)))
#define AT_C(base, off, type) ((const type *)(const void *)((const char *)(base) + (off)))

/* ---- encode ---- */

static size_t sat_add(size_t a, size_t b)
{
    return a > SIZE_MAX - b ? SIZE_MAX : a + b;
}

static size_t sat_mul(size_t a, size_t b)
{
    return b && a > SIZE_MAX / b ? SIZE_MAX : a * b;
}

/* Is the field in the entry? (Validity was checked by check_map.) */
static bool present(const void *base, const struct field *f)
{
    switch (f->kind) {
    case K_STR:
    case K_BIN:
        return f->need != OPTIONAL || AT_C(base, f->off, struct jscmd_bytes)->ptr;
    case K_U64:
        if (f->need == OPT_FLAG)
            return *AT_C(base, f->aux, bool);
        return f->need != OPTIONAL || *AT_C(base, f->off, uint64_t);
    case K_U8:
        return f->need != OPTIONAL || *AT_C(base, f->off, uint8_t);
    case K_BOOL:
        return f->need != OPTIONAL || *AT_C(base, f->off, bool);
    default:
        return true; /* arrays are required */
    }
}

static int check_map(const void *base, const struct table *t, size_t *hint);

/* -EINVAL if a required field is unset or a field cannot be encoded; adds an
 * upper bound of the field's packed size (key included) to *hint. */
static int check_field(const void *base, const struct field *f, size_t *hint)
{
    *hint = sat_add(*hint, 1); /* the key, a fixint */
    switch (f->kind) {
    case K_STR:
    case K_BIN: {
        const struct jscmd_bytes *b = AT_C(base, f->off, struct jscmd_bytes);
        if ((!b->ptr && b->len) || b->len > UINT32_MAX || (!b->ptr && f->need == REQUIRED))
            return -EINVAL;
        *hint = sat_add(*hint, sat_add(5, b->len));
        return 0;
    }
    case K_U64:
        if (f->need == HAS_FLAG && !*AT_C(base, f->aux, bool))
            return -EINVAL;
        *hint = sat_add(*hint, 9);
        return 0;
    case K_U8:
    case K_BOOL:
        *hint = sat_add(*hint, 2);
        return 0;
    default:
        break;
    }

    /* arrays: a count needs its array; msgpack counts are 32-bit */
    const void *arr = *AT_C(base, f->off, void *);
    size_t n = *AT_C(base, f->aux, size_t);
    if ((n && !arr) || n > UINT32_MAX)
        return -EINVAL;
    *hint = sat_add(*hint, 5);
    switch (f->kind) {
    case K_U64S:
        *hint = sat_add(*hint, sat_mul(n, 9));
        return 0;
    case K_PAIRS:
        *hint = sat_add(*hint, sat_mul(n, 19));
        return 0;
    case K_PUBS:
        if (n == 0) /* an empty batch is a proposer's bug */
            return -EINVAL;
        for (size_t i = 0; i < n; i++) {
            int rc = check_map((const struct jscmd_publish *)arr + i, &publish_table, hint);
            if (rc < 0)
                return rc;
        }
        return 0;
    case K_ACKSS:
        if (n == 0)
            return -EINVAL;
        for (size_t i = 0; i < n; i++) {
            int rc = check_map((const struct jscmd_acks *)arr + i, &acks_table, hint);
            if (rc < 0)
                return rc;
        }
        return 0;
    }
    return -EINVAL;
}

static int check_map(const void *base, const struct table *t, size_t *hint)
{
    *hint = sat_add(*hint, 5);
    for (size_t i = 0; i < t->n; i++) {
        int rc = check_field(base, &t->f[i], hint);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int pack_map(msgpack_packer *pk, const void *base, const struct table *t);

/* Pack key and value; only a failed write (no memory) can fail. */
static int pack_field(msgpack_packer *pk, const void *base, const struct field *f)
{
    const void *arr = NULL;
    size_t n = 0;
    int rc = 0;

    if (msgpack_pack_uint8(pk, f->key) < 0)
        return -ENOMEM;
    switch (f->kind) {
    case K_STR:
    case K_BIN: {
        const struct jscmd_bytes *b = AT_C(base, f->off, struct jscmd_bytes);
        const char *p = b->ptr ? b->ptr : "";
        if (f->kind == K_STR)
            rc = msgpack_pack_str_with_body(pk, p, b->len);
        else
            rc = msgpack_pack_bin_with_body(pk, p, b->len);
        return rc < 0 ? -ENOMEM : 0;
    }
    case K_U64:
        return msgpack_pack_uint64(pk, *AT_C(base, f->off, uint64_t)) < 0 ? -ENOMEM : 0;
    case K_U8:
        return msgpack_pack_uint8(pk, *AT_C(base, f->off, uint8_t)) < 0 ? -ENOMEM : 0;
    case K_BOOL:
        rc = *AT_C(base, f->off, bool) ? msgpack_pack_true(pk) : msgpack_pack_false(pk);
        return rc < 0 ? -ENOMEM : 0;
    default:
        arr = *AT_C(base, f->off, void *);
        n = *AT_C(base, f->aux, size_t);
        if (msgpack_pack_array(pk, n) < 0)
            return -ENOMEM;
        break;
    }

    for (size_t i = 0; i < n && rc >= 0; i++) {
        switch (f->kind) {
        case K_U64S:
            rc = msgpack_pack_uint64(pk, ((const uint64_t *)arr)[i]) < 0 ? -ENOMEM : 0;
            break;
        case K_PAIRS: {
            const uint64_t *pair = ((const uint64_t(*)[2])arr)[i];
            if (msgpack_pack_array(pk, 2) < 0 || msgpack_pack_uint64(pk, pair[0]) < 0 ||
                msgpack_pack_uint64(pk, pair[1]) < 0)
                rc = -ENOMEM;
            break;
        }
        case K_PUBS:
            rc = pack_map(pk, (const struct jscmd_publish *)arr + i, &publish_table);
            break;
        case K_ACKSS:
            rc = pack_map(pk, (const struct jscmd_acks *)arr + i, &acks_table);
            break;
        }
    }
    return rc;
}

/* Keys in table order, which is ascending: the same command always packs
 * to the same bytes. */
static int pack_map(msgpack_packer *pk, const void *base, const struct table *t)
{
    size_t nkeys = 0;
    for (size_t i = 0; i < t->n; i++)
        nkeys += present(base, &t->f[i]);
    if (msgpack_pack_map(pk, nkeys) < 0)
        return -ENOMEM;
    for (size_t i = 0; i < t->n; i++) {
        int rc;
        if (present(base, &t->f[i]) && (rc = pack_field(pk, base, &t->f[i])) < 0)
            return rc;
    }
    return 0;
}

static bool bytes_equal(struct jscmd_bytes a, struct jscmd_bytes b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

/* PUBLISH and CONSUMER_ACKS carry stream (and req) both in struct jscmd and
 * in c->pub / c->acks: whichever is set is used; set twice, they must agree. */
static int pick_bytes(struct jscmd_bytes outer, struct jscmd_bytes *inner)
{
    if (!outer.ptr)
        return 0;
    if (inner->ptr && !bytes_equal(outer, *inner))
        return -EINVAL;
    *inner = outer;
    return 0;
}

static int pick_u64(uint64_t outer, uint64_t *inner)
{
    if (!outer)
        return 0;
    if (*inner && *inner != outer)
        return -EINVAL;
    *inner = outer;
    return 0;
}

int jscmd_encode(const struct jscmd *c, char **out, size_t *len)
{
    static const char zeros[JSCMD_ENVELOPE] = { 0 };
    struct jscmd_publish pub;
    struct jscmd_acks ack;
    const void *base = c;
    struct table t;
    size_t hint = JSCMD_ENVELOPE + 7;
    msgpack_sbuffer sb;
    msgpack_packer pk;
    int rc;

    if (!c || !out || !len)
        return -EINVAL;
    t = op_table(c->op);
    if (t.n == 0)
        return -EINVAL;
    if (c->op == JSCMD_PUBLISH) {
        pub = c->pub;
        if (pick_bytes(c->stream, &pub.stream) < 0 || pick_u64(c->req, &pub.req) < 0)
            return -EINVAL;
        base = &pub;
    } else if (c->op == JSCMD_CONSUMER_ACKS) {
        ack = c->acks;
        if (pick_bytes(c->stream, &ack.stream) < 0 ||
            pick_bytes(c->consumer, &ack.consumer) < 0)
            return -EINVAL;
        base = &ack;
    }
    if ((rc = check_map(base, &t, &hint)) < 0)
        return rc;

    /* One allocation: hint bounds the packed size (sbuffer grows past
     * HINT_MAX only if an absurd entry needs it). */
    msgpack_sbuffer_init(&sb);
    sb.alloc = hint < HINT_MAX ? hint : HINT_MAX;
    sb.data = malloc(sb.alloc);
    if (!sb.data)
        return -ENOMEM;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    if (msgpack_sbuffer_write(&sb, zeros, JSCMD_ENVELOPE) < 0)
        goto err_nomem;
    if ((rc = pack_map(&pk, base, &t)) < 0)
        goto err_free;

    size_t body = sb.size - JSCMD_ENVELOPE;
    if (body > UINT32_MAX) {
        rc = -EINVAL;
        goto err_free;
    }
    if (msgpack_sbuffer_write(&sb, zeros, (8 - sb.size % 8) % 8) < 0)
        goto err_nomem;
    unsigned char *e = (unsigned char *)sb.data;
    e[0] = JSCMD_MAGIC;
    e[1] = JSCMD_VERSION;
    e[2] = (unsigned char)c->op;
    e[3] = is_batch(c->op) ? JSCMD_FLAG_BATCH : 0;
    for (int i = 0; i < 4; i++)
        e[4 + i] = (unsigned char)(body >> (8 * i));
    *len = sb.size;
    *out = msgpack_sbuffer_release(&sb);
    return 0;

err_nomem:
    rc = -ENOMEM;
err_free:
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

/* ---- decode ---- */

static uint64_t be(const unsigned char *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

/* 0 if p[0..n) is exactly one msgpack object, nested at most SCAN_DEPTH
 * containers deep, every container's count no larger than the bytes left
 * (each element takes at least one). */
static int scan_body(const unsigned char *p, size_t n)
{
    uint64_t left[SCAN_DEPTH + 1]; /* objects still to read per open level */
    uint64_t pending = 1;          /* their sum */
    int top = 0;
    size_t i = 0;

    left[0] = 1;
    while (top >= 0) {
        if (left[top] == 0) {
            top--;
            continue;
        }
        if (pending > n - i)
            return -EPROTO;
        left[top]--;
        pending--;

        unsigned b = p[i++];
        size_t hdr = 0;        /* big-endian length or count bytes after b */
        uint64_t skip = 0;     /* payload bytes after the header */
        uint64_t kids = 0;     /* objects contained */
        int kind = 0;          /* 1: length is a payload size, 2: a count, 3: pairs */
        if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3)
            ;
        else if (b <= 0x8f)
            kids = 2 * (uint64_t)(b & 0x0f);
        else if (b <= 0x9f)
            kids = b & 0x0f;
        else if (b <= 0xbf)
            skip = b & 0x1f;
        else {
            switch (b) {
            case 0xc4: case 0xd9: hdr = 1; kind = 1; break;          /* bin8, str8 */
            case 0xc5: case 0xda: hdr = 2; kind = 1; break;          /* bin16, str16 */
            case 0xc6: case 0xdb: hdr = 4; kind = 1; break;          /* bin32, str32 */
            case 0xc7: hdr = 1; kind = 1; skip = 1; break;           /* ext8 + type */
            case 0xc8: hdr = 2; kind = 1; skip = 1; break;           /* ext16 */
            case 0xc9: hdr = 4; kind = 1; skip = 1; break;           /* ext32 */
            case 0xcc: case 0xd0: skip = 1; break;
            case 0xcd: case 0xd1: skip = 2; break;
            case 0xca: case 0xce: case 0xd2: skip = 4; break;
            case 0xcb: case 0xcf: case 0xd3: skip = 8; break;
            case 0xd4: skip = 2; break;                              /* fixext1..16 */
            case 0xd5: skip = 3; break;
            case 0xd6: skip = 5; break;
            case 0xd7: skip = 9; break;
            case 0xd8: skip = 17; break;
            case 0xdc: hdr = 2; kind = 2; break;                     /* array16 */
            case 0xdd: hdr = 4; kind = 2; break;                     /* array32 */
            case 0xde: hdr = 2; kind = 3; break;                     /* map16 */
            case 0xdf: hdr = 4; kind = 3; break;                     /* map32 */
            default: return -EPROTO;                                 /* 0xc1 */
            }
        }
        if (hdr > n - i)
            return -EPROTO;
        uint64_t v = be(p + i, hdr);
        i += hdr;
        if (kind == 1)
            skip += v;
        else if (kind == 2)
            kids = v;
        else if (kind == 3)
            kids = 2 * v;
        if (skip > n - i)
            return -EPROTO;
        i += (size_t)skip;
        if (kids) {
            if (top == SCAN_DEPTH)
                return -EPROTO;
            left[++top] = kids;
            pending += kids;
        }
    }
    return i == n ? 0 : -EPROTO;
}

static int decode_map(const msgpack_object *o, const struct table *t, void *base);

static int get_u64(const msgpack_object *o, uint64_t *v)
{
    if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return -EPROTO;
    *v = o->via.u64;
    return 0;
}

/* Allocate n elements for a decoded array (NULL for none). */
static int alloc_array(size_t n, size_t size, void **p)
{
    *p = NULL;
    if (n == 0)
        return 0;
    *p = calloc(n, size);
    return *p ? 0 : -ENOMEM;
}

static int decode_field(const msgpack_object *o, const struct field *f, void *base)
{
    const msgpack_object *el = NULL;
    size_t n = 0;
    void *arr;
    int rc;

    switch (f->kind) {
    case K_STR:
    case K_BIN: {
        struct jscmd_bytes *b = AT(base, f->off, struct jscmd_bytes);
        if (f->kind == K_STR && o->type == MSGPACK_OBJECT_STR) {
            b->ptr = o->via.str.ptr;
            b->len = o->via.str.size;
        } else if (f->kind == K_BIN && o->type == MSGPACK_OBJECT_BIN) {
            b->ptr = o->via.bin.ptr;
            b->len = o->via.bin.size;
        } else {
            return -EPROTO;
        }
        if (!b->ptr) /* present but empty must still read as present */
            b->ptr = "";
        return 0;
    }
    case K_U64:
        if ((rc = get_u64(o, AT(base, f->off, uint64_t))) < 0)
            return rc;
        if (f->need == HAS_FLAG || f->need == OPT_FLAG)
            *AT(base, f->aux, bool) = true;
        return 0;
    case K_U8: {
        uint64_t v;
        if (get_u64(o, &v) < 0 || v > UINT8_MAX)
            return -EPROTO;
        *AT(base, f->off, uint8_t) = (uint8_t)v;
        return 0;
    }
    case K_BOOL:
        if (o->type != MSGPACK_OBJECT_BOOLEAN)
            return -EPROTO;
        *AT(base, f->off, bool) = o->via.boolean;
        return 0;
    default:
        if (o->type != MSGPACK_OBJECT_ARRAY)
            return -EPROTO;
        el = o->via.array.ptr;
        n = o->via.array.size;
        break;
    }

    size_t size = f->kind == K_U64S    ? sizeof(uint64_t)
                  : f->kind == K_PAIRS ? sizeof(uint64_t[2])
                  : f->kind == K_PUBS  ? sizeof(struct jscmd_publish)
                                       : sizeof(struct jscmd_acks);
    if ((f->kind == K_PUBS || f->kind == K_ACKSS) && n == 0)
        return -EPROTO; /* an empty batch: the encoder never writes one */
    if ((rc = alloc_array(n, size, &arr)) < 0)
        return rc;
    /* Stored with its count at once, so jscmd_free releases a half-decoded
     * batch's items too. */
    *AT(base, f->off, void *) = arr;
    *AT(base, f->aux, size_t) = n;
    for (size_t i = 0; i < n; i++) {
        switch (f->kind) {
        case K_U64S:
            rc = get_u64(&el[i], (uint64_t *)arr + i);
            break;
        case K_PAIRS: {
            uint64_t *pair = ((uint64_t(*)[2])arr)[i];
            if (el[i].type != MSGPACK_OBJECT_ARRAY || el[i].via.array.size != 2)
                return -EPROTO;
            rc = get_u64(&el[i].via.array.ptr[0], &pair[0]);
            if (rc == 0)
                rc = get_u64(&el[i].via.array.ptr[1], &pair[1]);
            break;
        }
        case K_PUBS:
            rc = decode_map(&el[i], &publish_table, (struct jscmd_publish *)arr + i);
            break;
        case K_ACKSS:
            rc = decode_map(&el[i], &acks_table, (struct jscmd_acks *)arr + i);
            break;
        }
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* Copy the table's keys out of map o into base. Keys that are not in the
 * table (other numbers, other types) are skipped; a known key twice or a
 * required key missing is -EPROTO. */
static int decode_map(const msgpack_object *o, const struct table *t, void *base)
{
    uint32_t seen = 0; /* bit i: t->f[i] decoded */

    if (o->type != MSGPACK_OBJECT_MAP)
        return -EPROTO;
    for (uint32_t k = 0; k < o->via.map.size; k++) {
        const msgpack_object_kv *kv = &o->via.map.ptr[k];
        if (kv->key.type != MSGPACK_OBJECT_POSITIVE_INTEGER)
            continue;
        for (size_t i = 0; i < t->n; i++) {
            if (kv->key.via.u64 != t->f[i].key)
                continue;
            if (seen & (1u << i))
                return -EPROTO;
            seen |= 1u << i;
            int rc = decode_field(&kv->val, &t->f[i], base);
            if (rc < 0)
                return rc;
            break;
        }
    }
    for (size_t i = 0; i < t->n; i++) {
        enum need need = t->f[i].need;
        if (!(seen & (1u << i)) && need != OPTIONAL && need != OPT_FLAG)
            return -EPROTO;
    }
    return 0;
}

int jscmd_decode(const char *buf, size_t len, struct jscmd *out)
{
    const unsigned char *e = (const unsigned char *)buf;
    msgpack_unpacked up;
    size_t off = 0;
    int rc;

    if (!out)
        return -EINVAL;
    memset(out, 0, sizeof *out);
    if (!buf || len < JSCMD_ENVELOPE || len % 8)
        return -EPROTO;
    if (e[0] != JSCMD_MAGIC || e[1] != JSCMD_VERSION)
        return -EPROTO;
    enum jscmd_op op = (enum jscmd_op)e[2];
    struct table t = op_table(op);
    if (t.n == 0 || e[3] != (is_batch(op) ? JSCMD_FLAG_BATCH : 0))
        return -EPROTO;
    size_t body = (size_t)e[4] | (size_t)e[5] << 8 | (size_t)e[6] << 16 | (size_t)e[7] << 24;
    /* len is exactly envelope + body + the zero padding (fewer than 8). */
    if (body > len - JSCMD_ENVELOPE || len - JSCMD_ENVELOPE - body >= 8)
        return -EPROTO;
    for (size_t i = JSCMD_ENVELOPE + body; i < len; i++)
        if (e[i])
            return -EPROTO;
    if (scan_body(e + JSCMD_ENVELOPE, body) < 0)
        return -EPROTO;

    msgpack_unpacked_init(&up);
    switch (msgpack_unpack_next(&up, buf + JSCMD_ENVELOPE, body, &off)) {
    case MSGPACK_UNPACK_SUCCESS:
        break;
    case MSGPACK_UNPACK_NOMEM_ERROR:
        rc = -ENOMEM;
        goto err_unpacked;
    default:
        rc = -EPROTO;
        goto err_unpacked;
    }
    if (off != body) {
        rc = -EPROTO;
        goto err_unpacked;
    }

    out->op = op;
    if (op == JSCMD_PUBLISH) {
        if ((rc = decode_map(&up.data, &t, &out->pub)) < 0)
            goto err_unpacked;
        out->stream = out->pub.stream;
        out->req = out->pub.req;
    } else if (op == JSCMD_CONSUMER_ACKS) {
        if ((rc = decode_map(&up.data, &t, &out->acks)) < 0)
            goto err_unpacked;
        out->stream = out->acks.stream;
        out->consumer = out->acks.consumer;
    } else if ((rc = decode_map(&up.data, &t, out)) < 0) {
        goto err_unpacked;
    }
    msgpack_unpacked_destroy(&up);
    return 0;

err_unpacked:
    msgpack_unpacked_destroy(&up);
    jscmd_free(out);
    return rc;
}

static void free_acks(struct jscmd_acks *a)
{
    free((void *)a->acked);
    free((void *)a->redelivered);
}

void jscmd_free(struct jscmd *c)
{
    if (!c)
        return;
    for (size_t i = 0; c->ackss && i < c->nackss; i++)
        free_acks(&c->ackss[i]);
    free(c->ackss);
    free(c->pubs);
    free_acks(&c->acks);
    memset(c, 0, sizeof *c);
}
