/*
 * tests/fuzz/fuzz_jscmd.c — libFuzzer target for proto/jscmd.c.
 *
 * Input: the bytes of one raft entry, decoded from a heap copy of exactly
 * that size (AddressSanitizer catches any read past it), then again with
 * its envelope repaired (see LLVMFuzzerTestOneInput). Whatever decodes
 * must hold only slices inside the input (every byte of them is read) and
 * must re-encode: the re-encoding is a multiple of 8, decodes to an equal
 * command, and encodes again to the same bytes. A decode that fails must
 * return -EPROTO and leave the command zeroed. Never writes files; aborts
 * (trap) on a broken rule.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/jscmd.h"
#include "tests/unit/jscmd_equal.h"

#define CHECK(x)                                                              \
    do {                                                                      \
        if (!(x))                                                             \
            __builtin_trap();                                                 \
    } while (0)

static uintptr_t lo, hi; /* the buffer being decoded */
static volatile unsigned sink;

static void slice(struct jscmd_bytes b)
{
    if (!b.ptr) {
        CHECK(b.len == 0);
        return;
    }
    if (b.len == 0)
        return;
    uintptr_t a = (uintptr_t)b.ptr;
    CHECK(a >= lo && a + b.len <= hi);
    unsigned x = 0;
    for (size_t i = 0; i < b.len; i++)
        x += (unsigned char)b.ptr[i];
    sink += x;
}

static void pub_slices(const struct jscmd_publish *p)
{
    slice(p->stream);
    slice(p->subject);
    slice(p->hdr);
    slice(p->data);
    slice(p->msg_id);
    slice(p->exp_stream);
    slice(p->exp_last_msg_id);
}

static void acks_slices(const struct jscmd_acks *a)
{
    slice(a->stream);
    slice(a->consumer);
    CHECK(!a->nacked == !a->acked);
    CHECK(!a->nredelivered == !a->redelivered);
    for (size_t i = 0; i < a->nacked; i++)
        sink += (unsigned)a->acked[i];
    for (size_t i = 0; i < a->nredelivered; i++)
        sink += (unsigned)(a->redelivered[i][0] + a->redelivered[i][1]);
}

static void slices(const struct jscmd *c)
{
    slice(c->stream);
    slice(c->consumer);
    slice(c->config);
    slice(c->filter);
    pub_slices(&c->pub);
    acks_slices(&c->acks);
    CHECK(!c->npubs == !c->pubs);
    CHECK(!c->nackss == !c->ackss);
    for (size_t i = 0; i < c->npubs; i++)
        pub_slices(&c->pubs[i]);
    for (size_t i = 0; i < c->nackss; i++)
        acks_slices(&c->ackss[i]);
}

static bool all_zero(const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i])
            return false;
    return true;
}

/* Decode buf[0..size) and check the rules above. */
static void one(const char *buf, size_t size)
{
    lo = (uintptr_t)buf;
    hi = lo + size;

    struct jscmd c;
    int rc = jscmd_decode(buf, size, &c);
    if (rc < 0) {
        CHECK(rc == -EPROTO || rc == -ENOMEM);
        CHECK(all_zero(&c, sizeof c));
        return;
    }
    slices(&c);

    char *e1, *e2;
    size_t n1, n2;
    CHECK(jscmd_encode(&c, &e1, &n1) == 0);
    CHECK(n1 % 8 == 0 && n1 >= JSCMD_ENVELOPE);
    /* canonical packing, unknown keys dropped: never longer than the input */
    CHECK(n1 <= size);

    struct jscmd d;
    lo = (uintptr_t)e1;
    hi = lo + n1;
    CHECK(jscmd_decode(e1, n1, &d) == 0);
    slices(&d);
    CHECK(jscmd_cmd_eq(&c, &d));
    CHECK(jscmd_encode(&d, &e2, &n2) == 0);
    CHECK(n2 == n1 && memcmp(e1, e2, n1) == 0);

    free(e2);
    jscmd_free(&d);
    free(e1);
    jscmd_free(&c);
}

/* Each input is tried as it is, and (when it has an envelope) with magic,
 * version, body length and padding made right around the bytes after the
 * envelope, so that mutations reach the msgpack body without also having
 * to keep the length field in step. Opcode and flags are left as fuzzed. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size ? size : 1);
    if (!buf)
        return 0;
    if (size)
        memcpy(buf, data, size);
    one(buf, size);
    free(buf);

    if (size < JSCMD_ENVELOPE || size - JSCMD_ENVELOPE > UINT32_MAX)
        return 0;
    size_t body = size - JSCMD_ENVELOPE, padded = (size + 7) / 8 * 8;
    buf = calloc(1, padded);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    buf[0] = JSCMD_MAGIC;
    buf[1] = JSCMD_VERSION;
    for (int i = 0; i < 4; i++)
        buf[4 + i] = (char)(body >> (8 * i));
    one(buf, padded);
    free(buf);
    return 0;
}
