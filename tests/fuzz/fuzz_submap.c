/*
 * tests/fuzz/fuzz_submap.c — libFuzzer target for proto/submap.c, the
 * subject mappings of a stream's republish (its src and dest come from a
 * client's stream config; the subjects it maps, from publishers).
 *
 * Input: up to three lines, src, dest and a subject. A pair that compiles
 * maps the subject without reading past it (each line is its own heap
 * copy, so AddressSanitizer sees any overrun), and what comes out is
 * NUL-terminated at the length reported; a subject the map takes
 * matches src; a literal src maps to dest itself. Aborts (trap) on a
 * broken rule.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/subject.h"
#include "proto/submap.h"

#define CHECK(x)                                                              \
    do {                                                                      \
        if (!(x))                                                             \
            __builtin_trap();                                                 \
    } while (0)

/* The next line of data as its own malloc'd, NUL-terminated copy. */
static char *line(const uint8_t **p, size_t *left)
{
    const uint8_t *nl = memchr(*p, '\n', *left);
    size_t n = nl ? (size_t)(nl - *p) : *left;
    char *s = malloc(n + 1);
    if (!s)
        return NULL;
    memcpy(s, *p, n);
    s[n] = '\0';
    *p += n + (nl ? 1 : 0);
    *left -= n + (nl ? 1 : 0);
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *p = data;
    size_t left = size;
    char *src = line(&p, &left), *dest = line(&p, &left);
    /* the subject without a NUL after it: only its length ends it */
    size_t slen = left;
    char *subject = malloc(slen ? slen : 1);
    struct submap *m = NULL;
    if (!src || !dest || !subject)
        goto out;
    memcpy(subject, p, slen);
    if (submap_compile(src, dest, &m) < 0)
        goto out;
    char *out = NULL;
    size_t outlen = 0;
    int rc = submap_apply(m, subject, slen, &out, &outlen);
    CHECK(rc == 0 || rc == -ENOENT || rc == -EINVAL || rc == -ENOMEM);
    if (rc == 0) {
        CHECK(out && out[outlen] == '\0'); /* a subject may hold NUL bytes */
        bool all = !strcmp(src, ">");
        CHECK(all || subject_match(src, strlen(src), subject, slen));
        if (subject_valid_literal(src, strlen(src)))
            CHECK(!strcmp(out, dest));
        free(out);
    }
out:
    submap_free(m);
    free(src);
    free(dest);
    free(subject);
    return 0;
}
