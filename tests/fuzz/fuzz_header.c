/*
 * tests/fuzz/fuzz_header.c — libFuzzer target for proto/header.c.
 *
 * Input: a header name up to the first '\n', then a header block. The block
 * is a separate heap copy of exactly its length, so AddressSanitizer sees
 * any read past it. header_get is asked for that name and for the names a
 * client sends (Nats-Msg-Id, ...), and each answer is checked against a
 * plain re-reading: the value lies in the block, on a line that starts
 * with the name and ':', after the first line, with no earlier such line,
 * no leading space and no line break in it. Aborts (trap) on a broken rule.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/header.h"

#define CHECK(x)                                                              \
    do {                                                                      \
        if (!(x))                                                             \
            __builtin_trap();                                                 \
    } while (0)

/* Offset just past the first "\n<name>:" of h, or 0 when there is none. */
static size_t first_line_with(const char *h, size_t n, const char *name)
{
    size_t nl = strlen(name);
    for (size_t i = 0; i < n; i++)
        if (h[i] == '\n' && n - (i + 1) > nl && memcmp(h + i + 1, name, nl) == 0 &&
            h[i + 1 + nl] == ':')
            return i + 2 + nl;
    return 0;
}

static void check_name(const char *h, size_t n, const char *name)
{
    size_t vlen = 0;
    const char *v = header_get(h, n, name, &vlen);
    size_t at = first_line_with(h, n, name);
    if (!at) {
        CHECK(!v);
        return;
    }
    CHECK(v);
    size_t off = (size_t)(v - h);
    CHECK(off >= at && off + vlen <= n);
    for (size_t i = at; i < off; i++)
        CHECK(h[i] == ' ');
    CHECK(!memchr(v, '\n', vlen));
    size_t end = off + vlen;
    if (end < n) /* the value stops only at the line's end */
        CHECK(h[end] == '\n' || (h[end] == '\r' && end + 1 < n && h[end + 1] == '\n'));
    if (vlen)
        CHECK(v[0] != ' ');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const names[] = {
        "Nats-Msg-Id", "Nats-Expected-Stream", "Nats-Expected-Last-Sequence",
        "Nats-Expected-Last-Subject-Sequence", "Nats-Expected-Last-Msg-Id", "Nats-Rollup", "A",
    };
    const uint8_t *nl = memchr(data, '\n', size < 64 ? size : 64);
    char name[65]; /* a NUL in it just ends the name early */
    size_t namelen = nl ? (size_t)(nl - data) : 0;
    memcpy(name, data, namelen);
    name[namelen] = '\0';
    size_t off = nl ? (size_t)(nl - data) + 1 : 0;
    size_t n = size - off;
    char *h = malloc(n ? n : 1);
    CHECK(h);
    if (n)
        memcpy(h, data + off, n);
    check_name(h, n, name);
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        check_name(h, n, names[i]);
    free(h);
    return 0;
}
