/*
 * tests/fuzz/fuzz_subject.c — libFuzzer target for the pattern relations of
 * proto/subject.c (subject_overlap, subject_covers), checked against
 * subject_match.
 *
 * Input: up to three lines, pattern a, pattern b and a subject s. The rules:
 * overlap is symmetric and reflexive, a pattern covers itself, covering
 * implies overlapping; whenever one subject matches both patterns they
 * overlap; whenever a covers b, every subject b matches a matches too; and
 * when a and b overlap, a subject built from them (their literals, "w" for
 * a wildcard) matches both. Each line is a separate heap copy so
 * AddressSanitizer sees any read past its end. Aborts (trap) on a broken rule.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/subject.h"

#define CHECK(x)                                                              \
    do {                                                                      \
        if (!(x))                                                             \
            __builtin_trap();                                                 \
    } while (0)

#define WITNESS_MAX 4096

struct pat {
    char *p;
    size_t n;
};

static bool tok_is(const struct proto_slice *t, char c)
{
    return t->len == 1 && t->ptr[0] == c;
}

static bool put(char *w, size_t *n, const char *s, size_t len)
{
    if (*n + len + 1 > WITNESS_MAX)
        return false;
    if (*n)
        w[(*n)++] = '.';
    memcpy(w + *n, s, len);
    *n += len;
    return true;
}

/*
 * A subject both patterns match, built token by token: a literal where
 * either side has one, "w" where both are wildcards, and past a final ">"
 * the other side's remaining tokens. False when a pattern has an empty
 * token or too many tokens (no witness is needed then).
 */
static bool witness(const struct pat *a, const struct pat *b, char *w, size_t *wn)
{
    enum { MAXT = 64 };
    struct proto_slice ta[MAXT], tb[MAXT];
    size_t na = subject_tokenize(a->p, a->n, ta, MAXT);
    size_t nb = subject_tokenize(b->p, b->n, tb, MAXT);
    if (na > MAXT || nb > MAXT)
        return false;
    for (size_t i = 0; i < na; i++)
        if (ta[i].len == 0)
            return false;
    for (size_t i = 0; i < nb; i++)
        if (tb[i].len == 0)
            return false;
    *wn = 0;
    for (size_t i = 0;; i++) {
        bool arest = i == na - 1 && tok_is(&ta[i], '>');
        bool brest = i == nb - 1 && tok_is(&tb[i], '>');
        if (arest || brest) {
            const struct proto_slice *o = arest ? tb : ta;
            size_t on = arest ? nb : na;
            for (size_t j = i; j < on; j++) {
                bool wild = tok_is(&o[j], '*') || (j == on - 1 && tok_is(&o[j], '>'));
                if (!put(w, wn, wild ? "w" : o[j].ptr, wild ? 1 : o[j].len))
                    return false;
            }
            return true;
        }
        const struct proto_slice *lit = !tok_is(&ta[i], '*') ? &ta[i]
                                      : !tok_is(&tb[i], '*') ? &tb[i] : NULL;
        if (!put(w, wn, lit ? lit->ptr : "w", lit ? lit->len : 1))
            return false;
        if (i == na - 1 || i == nb - 1)
            return true;
    }
}

static void rules(const struct pat *a, const struct pat *b, const struct pat *s)
{
    bool ab = subject_overlap(a->p, a->n, b->p, b->n);
    bool cab = subject_covers(a->p, a->n, b->p, b->n);
    CHECK(ab == subject_overlap(b->p, b->n, a->p, a->n));
    CHECK(subject_overlap(a->p, a->n, a->p, a->n));
    CHECK(subject_covers(a->p, a->n, a->p, a->n));
    CHECK(!cab || ab);
    bool ma = subject_match(a->p, a->n, s->p, s->n);
    bool mb = subject_match(b->p, b->n, s->p, s->n);
    if (ma && mb)
        CHECK(ab);
    if (cab && mb)
        CHECK(ma);
    char *w = malloc(WITNESS_MAX);
    size_t wn;
    CHECK(w);
    if (ab && witness(a, b, w, &wn)) {
        CHECK(subject_match(a->p, a->n, w, wn));
        CHECK(subject_match(b->p, b->n, w, wn));
    }
    if (cab && witness(b, b, w, &wn))
        CHECK(subject_match(a->p, a->n, w, wn));
    free(w);
}

/* The next line of data (to '\n' or the end) as its own allocation. */
static struct pat take_line(const uint8_t **data, size_t *size)
{
    const uint8_t *nl = *size ? memchr(*data, '\n', *size) : NULL;
    size_t n = nl ? (size_t)(nl - *data) : *size;
    struct pat p = { malloc(n ? n : 1), n };
    CHECK(p.p);
    if (n)
        memcpy(p.p, *data, n);
    *data += nl ? n + 1 : n;
    *size -= nl ? n + 1 : n;
    return p;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct pat a = take_line(&data, &size);
    struct pat b = take_line(&data, &size);
    struct pat s = take_line(&data, &size);
    rules(&a, &b, &s);
    rules(&b, &a, &s);
    free(a.p);
    free(b.p);
    free(s.p);
    return 0;
}
