/*
 * tests/unit/check_subject.c — unit tests of proto/subject.c.
 *
 * Tables taken from spec/client-protocol.md §10 (the live-server examples)
 * plus edge cases, and a randomized comparison of subject_match and
 * subject_valid_sub against a small reference written here independently
 * (split into token arrays first, then compare arrays). subject_overlap and
 * subject_covers are checked on tables and, for every pair of small valid
 * patterns, against their definitions by enumerating subjects.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/subject.h"

#define REQUIRE(x)                                                            \
    do {                                                                      \
        if (!(x))                                                             \
            ck_abort_msg("%s:%d: %s", __FILE__, __LINE__, #x);                \
    } while (0)

static bool valid_sub(const char *s)
{
    return subject_valid_sub(s, strlen(s));
}

static bool valid_lit(const char *s)
{
    return subject_valid_literal(s, strlen(s));
}

static bool wild(const char *s)
{
    return subject_has_wildcard(s, strlen(s));
}

static bool match(const char *pat, const char *subj)
{
    return subject_match(pat, strlen(pat), subj, strlen(subj));
}

START_TEST(validity_table)
{
    /* §10.1: refused by the live server with 'Invalid Subject' */
    static const char *const bad[] = {
        "foo..bar", "foo.bar.", ".foo", "foo.>.bar", "", ".", "..", ">.foo", "foo.>.>",
        "foo bar", "foo\tbar", "foo.\r", "a.\n", "a\f", " ", "*.>.*",
    };
    /* §10.1: accepted */
    static const char *const good[] = {
        "foo*", "f>o", "*", ">", "foo.*.>", "*foo", "foo", "foo.bar", "a.*.c", "$JS.API.>",
        "_INBOX.PIqWTkw1cZouwyC1BRkz78.*", "\xc3\xbc.\xc3\xb1", "a.b.c.d.e.f.g", ">>", "**",
        "*.*", "a-b_c.d:e",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(!valid_sub(bad[i]), "SUB [%s] should be invalid", bad[i]);
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        ck_assert_msg(valid_sub(good[i]), "SUB [%s] should be valid", good[i]);
    /* length, not NUL, ends the subject */
    ck_assert(subject_valid_sub("foo.", 3));
    ck_assert(!subject_valid_sub("foo.", 4));
    ck_assert(!subject_valid_sub(NULL, 0));
}
END_TEST

START_TEST(literal_and_wildcard_table)
{
    static const struct {
        const char *s;
        bool literal, wildcard;
    } t[] = {
        { "foo.bar", true, false },  { "foo.*", false, true },  { "foo.>", false, true },
        { "*", false, true },        { ">", false, true },      { "foo*", true, false },
        { "f>o", true, false },      { "*foo.bar", true, false }, { "a.*.b", false, true },
        { "", false, false },        { "foo..bar", false, false }, { "foo.", false, false },
        { "a.>.b", false, true },    { "a b", false, false },   { "$JS.ACK.x", true, false },
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        ck_assert_msg(valid_lit(t[i].s) == t[i].literal, "literal [%s]", t[i].s);
        ck_assert_msg(wild(t[i].s) == t[i].wildcard, "wildcard [%s]", t[i].s);
    }
    ck_assert(!subject_has_wildcard(NULL, 0));
}
END_TEST

START_TEST(match_table)
{
    static const struct {
        const char *pat, *subj;
        bool want;
    } t[] = {
        { "foo", "foo", true },           { "foo", "bar", false },
        { "foo", "Foo", false },          { "foo", "foo.bar", false },
        { "foo.bar", "foo", false },      { "foo.*", "foo.bar", true },
        { "foo.*", "foo", false },        { "foo.*", "foo.bar.baz", false },
        { "foo.>", "foo.bar", true },     { "foo.>", "foo.bar.baz", true },
        { "foo.>", "foo", false },        { ">", "foo", true },
        { ">", "foo.bar.baz", true },     { "*", "foo", true },
        { "*", "foo.bar", false },        { "foo.*.>", "foo.a", false },  /* §10.2 */
        { "foo.*.>", "foo.a.b", true },   { "foo.*.>", "foo.a.b.c", true },
        { "foo.*.bar", "foo.x.bar", true }, { "*.*.bar", "foo.x.bar", true },
        { "foo.*.bar", "foo.x.baz", false },
        /* a published wildcard token is an ordinary token (§10.1) */
        { "foo.*", "foo.*", true },       { "foo.*", "foo.>", true },
        { "foo.bar", "foo.*", false },    { "foo.>", "foo.*", true },
        { "foo.>", "foo.>", true },       { "foo.bar", "foo.>", false },
        { "*", ">", true },               { "foo*", "foo*", true },
        { "foo*", "foobar", false },      { "f>o", "f>o", true },
        /* a subject with an empty token matches nothing */
        { "foo..bar", "foo..bar", false }, { "foo.>", "foo.", false },
        { ">", ".foo", false },           { ">", "foo..bar", false },
        { "*", "", false },               { ">", "", false },
        { "", "", false },                { "foo.*", "foo.", false },
        { "foo.", "foo.", false },
        /* invalid patterns: '>' not last is only a literal '>' */
        { "foo.>.bar", "foo.x.bar", false }, { "foo.>.bar", "foo.>.bar", true },
        { "", "foo", false },             { "foo.", "foo", false },
        { "a.b.c.d.e.f", "a.b.c.d.e.f", true }, { "a.b.c.d.e.*", "a.b.c.d.e.f", true },
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        ck_assert_msg(match(t[i].pat, t[i].subj) == t[i].want, "match [%s] [%s] want %d",
                      t[i].pat, t[i].subj, t[i].want);
    ck_assert(subject_match("foo.bar", 3, "foo.baz", 3)); /* lengths bound both */
    ck_assert(!subject_match(NULL, 0, "foo", 3));
    ck_assert(!subject_match("foo", 3, NULL, 0));
}
END_TEST

START_TEST(tokenize_table)
{
    struct proto_slice tok[4];
    const char *s = "a.bc.def";
    ck_assert_uint_eq(subject_tokenize(s, strlen(s), tok, 4), 3);
    ck_assert(tok[0].ptr == s && tok[0].len == 1);
    ck_assert(tok[1].ptr == s + 2 && tok[1].len == 2);
    ck_assert(tok[2].ptr == s + 5 && tok[2].len == 3);

    memset(tok, 0, sizeof tok);
    ck_assert_uint_eq(subject_tokenize(s, strlen(s), tok, 2), 3); /* more than max: max + 1 */
    ck_assert(tok[0].len == 1 && tok[1].len == 2);
    ck_assert_ptr_null(tok[2].ptr); /* not written past max */

    ck_assert_uint_eq(subject_tokenize("a.b.c.d.e", 9, tok, 4), 5);
    ck_assert_uint_eq(subject_tokenize("a.b.c.d", 7, tok, 4), 4);
    ck_assert(tok[3].len == 1 && tok[3].ptr[0] == 'd');

    ck_assert_uint_eq(subject_tokenize("a.", 2, tok, 4), 2);
    ck_assert(tok[0].len == 1 && tok[1].len == 0);
    ck_assert_uint_eq(subject_tokenize(".a", 2, tok, 4), 2);
    ck_assert(tok[0].len == 0 && tok[1].len == 1 && tok[1].ptr[0] == 'a');
    ck_assert_uint_eq(subject_tokenize("a..b", 4, tok, 4), 3);
    ck_assert(tok[1].len == 0);
    ck_assert_uint_eq(subject_tokenize("", 0, tok, 4), 1);
    ck_assert_uint_eq(tok[0].len, 0);
    ck_assert_uint_eq(subject_tokenize("foo", 3, tok, 0), 1);
    ck_assert_uint_eq(subject_tokenize(">", 1, tok, 1), 1);
    ck_assert(tok[0].len == 1 && tok[0].ptr[0] == '>');
}
END_TEST

static bool overlap(const char *a, const char *b)
{
    return subject_overlap(a, strlen(a), b, strlen(b));
}

static bool covers(const char *p, const char *s)
{
    return subject_covers(p, strlen(p), s, strlen(s));
}

START_TEST(overlap_table)
{
    static const struct {
        const char *a, *b;
        bool want;
    } t[] = {
        /* equal patterns */
        { "foo", "foo", true },          { "foo.*", "foo.*", true },
        { "foo.>", "foo.>", true },      { ">", ">", true },
        /* '*' against a literal */
        { "foo.*", "foo.bar", true },    { "*.bar", "foo.*", true },
        { "*", "foo", true },            { "*", "foo.bar", false },
        { "foo.*", "bar.*", false },     { "foo.*.baz", "foo.bar.qux", false },
        /* '>' against longer and shorter */
        { "foo.>", "foo.bar.baz", true }, { "foo.>", "foo", false },
        { ">", "foo", true },            { "foo.>", "*.bar", true },
        { "foo.>", "bar.>", false },     { "foo.bar.>", "foo.*", false },
        { "foo.*.>", "foo.bar", false }, { "foo.*.>", "*.bar.baz", true },
        { "foo.*", "foo.*.*", false },   { "foo", "foo.bar", false },
        /* literal tokens only look like wildcards */
        { "foo*", "foo.bar", false },    { "f>o", "f>o", true },
        { "*foo", "bar", false },
        /* empty tokens are literal here: callers validate */
        { "foo..bar", "foo..bar", true }, { "foo..bar", "foo.*.bar", true },
        { "foo..bar", "foo.x.bar", false }, { "", "", true },
        { "", "*", true },               { "", "foo", false },
        { "foo.", "foo.>", true },
        /* a '>' that is not last is a literal token */
        { "foo.>.bar", "foo.x.bar", false }, { "foo.>.bar", "foo.*.bar", true },
        /* nats-server's own examples (SubjectsCollide) */
        { "foo.bar.baz", "foo.*.baz", true }, { "foo.*", "*.bar", true },
        { "foo.*", "foo.>", true },      { "$JS.API", "$JS.API.>", false },
        { "$JS.API.STREAM.INFO.x", "$JS.API.>", true },
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        ck_assert_msg(overlap(t[i].a, t[i].b) == t[i].want, "overlap [%s] [%s] want %d",
                      t[i].a, t[i].b, t[i].want);
        ck_assert_msg(overlap(t[i].b, t[i].a) == t[i].want, "overlap [%s] [%s] want %d",
                      t[i].b, t[i].a, t[i].want);
    }
    ck_assert(subject_overlap("foo.bar", 3, "foo.baz", 3)); /* lengths bound both */
}
END_TEST

START_TEST(covers_table)
{
    static const struct {
        const char *p, *s;
        bool want;
    } t[] = {
        /* equal patterns */
        { "foo", "foo", true },          { "foo.*", "foo.*", true },
        { "foo.>", "foo.>", true },      { ">", ">", true },
        /* '*' against a literal */
        { "foo.*", "foo.bar", true },    { "foo.bar", "foo.*", false },
        { "*", "foo", true },            { "*", "foo.bar", false },
        { "*.*", "*.bar", true },        { "*.bar", "*.*", false },
        /* '>' against longer and shorter */
        { "foo.>", "foo.bar", true },    { "foo.>", "foo.*.baz", true },
        { "foo.>", "foo.*.>", true },    { "foo.>", "foo", false },
        { "foo.>", "foo.>.x", true },    { "foo.*", "foo.>", false },
        { "foo.*.>", "foo.>", false },   { ">", "foo.*.>", true },
        { "foo.bar.>", "foo.bar", false }, { "foo.*", "foo.*.*", false },
        { "foo", "foo.bar", false },     { "foo.bar", "foo", false },
        /* literal tokens only look like wildcards */
        { "foo*", "foo.bar", false },    { "*x", "a", false },
        { "a", "*x", false },            { "*", "*x", true },
        /* empty tokens are literal here: callers validate */
        { "foo..bar", "foo..bar", true }, { "foo.*.bar", "foo..bar", true },
        { "foo..bar", "foo.*.bar", false }, { "", "", true },
        { "*", "", true },               { "", "*", false },
        /* a '>' that is not last is a literal token */
        { "foo.>.bar", "foo.x.bar", false }, { "foo.*.bar", "foo.>.bar", true },
        { "$JS.API.>", "$JS.API.STREAM.*", true }, { "$JS.API.>", "$JS.>", false },
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        ck_assert_msg(covers(t[i].p, t[i].s) == t[i].want, "covers [%s] [%s] want %d",
                      t[i].p, t[i].s, t[i].want);
        if (t[i].want)
            ck_assert_msg(overlap(t[i].p, t[i].s), "covers without overlap [%s] [%s]",
                          t[i].p, t[i].s);
    }
    ck_assert(subject_covers("foo.>", 5, "foo.bar.baz", 7)); /* lengths bound both */
    ck_assert(!subject_covers("foo.>", 3, "foo.bar", 7));
}
END_TEST

/* ---- overlap and covers against their definitions ----
 * Every valid pattern of up to three tokens over {a, b, *, >} against every
 * subject of up to four tokens over {a, b, c} ("c" stands for any token the
 * patterns do not name; four tokens reach past any three-token pattern). */

#define DEF_PATTERNS 64
#define DEF_SUBJECTS 128

/* Every word of 1..maxtok tokens from alpha, joined by '.', shortest first;
 * valid_only: a ">" token only last. */
static size_t all_words(const char *const *alpha, size_t nalpha, size_t maxtok, bool valid_only,
                        char out[][16], size_t cap)
{
    size_t n = 0, start = 0;
    for (size_t t = 0; t < nalpha; t++)
        snprintf(out[n++], 16, "%s", alpha[t]);
    for (size_t len = 2; len <= maxtok; len++) {
        size_t end = n; /* out[start..end) are the words of len - 1 tokens */
        for (size_t i = start; i < end; i++) {
            if (valid_only && strcmp(out[i] + strlen(out[i]) - 1, ">") == 0)
                continue;
            for (size_t t = 0; t < nalpha; t++) {
                ck_assert_uint_lt(n, cap);
                snprintf(out[n++], 16, "%s.%s", out[i], alpha[t]);
            }
        }
        start = end;
    }
    return n;
}

START_TEST(overlap_and_covers_by_definition)
{
    static const char *const ptok[] = { "a", "b", "*", ">" };
    static const char *const stok[] = { "a", "b", "c" };
    static char pats[DEF_PATTERNS][16], subjs[DEF_SUBJECTS][16];
    size_t np = all_words(ptok, 4, 3, true, pats, DEF_PATTERNS);
    size_t ns = all_words(stok, 3, 4, false, subjs, DEF_SUBJECTS);
    ck_assert_uint_eq(np, 4 + 3 * 4 + 3 * 3 * 4);
    ck_assert_uint_eq(ns, 3 + 9 + 27 + 81);
    for (size_t i = 0; i < np; i++) {
        REQUIRE(valid_sub(pats[i]));
        for (size_t j = 0; j < np; j++) {
            bool some = false, all = true;
            for (size_t k = 0; k < ns; k++) {
                bool mp = match(pats[i], subjs[k]), ms = match(pats[j], subjs[k]);
                some |= mp && ms;
                all &= !ms || mp;
            }
            ck_assert_msg(overlap(pats[i], pats[j]) == some, "overlap [%s] [%s] want %d",
                          pats[i], pats[j], some);
            ck_assert_msg(covers(pats[i], pats[j]) == all, "covers [%s] [%s] want %d",
                          pats[i], pats[j], all);
        }
    }
}
END_TEST

/* ---- randomized comparison with a reference ---- */

#define REF_MAX 16

struct ref_tokens {
    char tok[REF_MAX][16];
    size_t n;
};

/* Split the plain way: copy every token out, one array entry per '.'+1. */
static void ref_split(const char *s, struct ref_tokens *t)
{
    size_t k = 0;
    t->n = 1;
    t->tok[0][0] = '\0';
    for (const char *c = s; *c; c++) {
        if (*c == '.') {
            t->tok[t->n - 1][k] = '\0';
            t->n++;
            k = 0;
        } else {
            t->tok[t->n - 1][k++] = *c;
        }
    }
    t->tok[t->n - 1][k] = '\0';
}

static bool ref_match(const char *pat, const char *subj)
{
    struct ref_tokens p, s;
    ref_split(pat, &p);
    ref_split(subj, &s);
    for (size_t j = 0; j < s.n; j++)
        if (s.tok[j][0] == '\0')
            return false;
    size_t j = 0;
    for (size_t i = 0; i < p.n; i++) {
        if (strcmp(p.tok[i], ">") == 0 && i == p.n - 1)
            return j < s.n;
        if (j == s.n)
            return false;
        if (strcmp(p.tok[i], "*") != 0 && strcmp(p.tok[i], s.tok[j]) != 0)
            return false;
        j++;
    }
    return j == s.n;
}

static bool ref_valid_sub(const char *subj)
{
    struct ref_tokens s;
    if (!*subj)
        return false;
    ref_split(subj, &s);
    for (size_t j = 0; j < s.n; j++) {
        if (s.tok[j][0] == '\0' || strpbrk(s.tok[j], " \t\r\n\f"))
            return false;
        if (strcmp(s.tok[j], ">") == 0 && j != s.n - 1)
            return false;
    }
    return true;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint32_t rnd(uint32_t n)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state % n);
}

/* Either whole tokens from a small set (many hits), or raw bytes from a
 * small alphabet (odd shapes: "..", "*a", ".>"). */
static void random_subject(char *out)
{
    static const char *const toks[] = { "a", "b", "*", ">", "ab", "", "*a", "b>" };
    static const char bytes[] = "ab.*> ";
    if (rnd(3)) {
        size_t n = 1 + rnd(4);
        out[0] = '\0';
        for (size_t i = 0; i < n; i++) {
            if (i)
                strcat(out, ".");
            strcat(out, toks[rnd(rnd(5) ? 5 : 8)]);
        }
    } else {
        size_t n = rnd(9);
        for (size_t i = 0; i < n; i++)
            out[i] = bytes[rnd(rnd(6) ? 5 : 6)];
        out[n] = '\0';
    }
}

START_TEST(match_vs_reference)
{
    char pat[64], subj[64];
    size_t hits = 0;
    for (int i = 0; i < 300000; i++) {
        random_subject(pat);
        random_subject(subj);
        bool want = ref_match(pat, subj);
        hits += want;
        if (match(pat, subj) != want)
            ck_abort_msg("match [%s] [%s]: reference says %d", pat, subj, want);
        if (valid_sub(subj) != ref_valid_sub(subj))
            ck_abort_msg("valid_sub [%s]: reference says %d", subj, ref_valid_sub(subj));
        if (valid_lit(subj) != (ref_valid_sub(subj) && !wild(subj)))
            ck_abort_msg("valid_literal [%s]", subj);
        /* A valid literal subject always matches itself. */
        if (valid_lit(subj))
            REQUIRE(match(subj, subj));
    }
    ck_assert_uint_gt(hits, 10000); /* the generator makes real matches */
}
END_TEST

static Suite *subject_suite(void)
{
    Suite *s = suite_create("subject");
    TCase *tc = tcase_create("tables");
    tcase_add_test(tc, validity_table);
    tcase_add_test(tc, literal_and_wildcard_table);
    tcase_add_test(tc, match_table);
    tcase_add_test(tc, tokenize_table);
    tcase_add_test(tc, overlap_table);
    tcase_add_test(tc, covers_table);
    tcase_add_test(tc, overlap_and_covers_by_definition);
    suite_add_tcase(s, tc);
    TCase *rnd_tc = tcase_create("random");
    tcase_set_timeout(rnd_tc, 120);
    tcase_add_test(rnd_tc, match_vs_reference);
    suite_add_tcase(s, rnd_tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(subject_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
