/*
 * tests/unit/check_sublist.c — the subject index and its per-loop cache.
 *
 * Every expectation is checked against a deliberately naive matcher written
 * here (token by token, no trie), never against proto/subject.c, so that the
 * two implementations keep each other honest. The randomized case prints its
 * seed; set TERN_SUBLIST_SEED to replay one. Nothing here sleeps or times.
 */
#include <check.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server/sublist.h"

/* ---- helpers ---------------------------------------------------------- */

/* ck_assert records every passing check through a file; in loops that run
 * millions of checks that dominates, so they report only on failure. */
#define REQUIRE(cond, ...)               \
    do {                                 \
        if (!(cond))                     \
            ck_abort_msg(__VA_ARGS__);   \
    } while (0)

static struct sublist_sub mk(const char *subject, const char *queue)
{
    return (struct sublist_sub){
        .subject = subject,
        .subject_len = strlen(subject),
        .queue = queue,
        .queue_len = queue ? strlen(queue) : 0,
        .weight = 1,
    };
}

/* Next token of s[0..len) from *pos; false at the end. */
static bool next_token(const char *s, size_t len, size_t *pos, const char **tok, size_t *tlen)
{
    if (*pos > len)
        return false;
    const char *dot = memchr(s + *pos, '.', len - *pos);
    size_t end = dot ? (size_t)(dot - s) : len;
    *tok = s + *pos;
    *tlen = end - *pos;
    *pos = end + 1;
    return true;
}

static bool tok_is(const char *t, size_t n, char c)
{
    return n == 1 && t[0] == c;
}

/* The reference: spec/client-protocol.md §10.2 read literally. */
static bool naive_match(const char *pat, const char *subj, size_t slen)
{
    size_t plen = strlen(pat), pp = 0, sp = 0;
    const char *pt, *st;
    size_t ptl, stl;
    for (size_t i = 0; i <= slen; i++)
        if ((i == slen || subj[i] == '.') && (i == 0 || subj[i - 1] == '.'))
            return false; /* empty token somewhere */
    for (;;) {
        bool hp = next_token(pat, plen, &pp, &pt, &ptl);
        bool hs = next_token(subj, slen, &sp, &st, &stl);
        if (!hp || !hs)
            return !hp && !hs;
        if (tok_is(pt, ptl, '>'))
            return true;
        if (tok_is(pt, ptl, '*'))
            continue;
        if (ptl != stl || memcmp(pt, st, ptl) != 0)
            return false;
    }
}

static int cmp_ptr(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t)*(void *const *)a, y = (uintptr_t)*(void *const *)b;
    return x < y ? -1 : x > y;
}

/* Asserts that r is exactly what the naive matcher says for subs[0..n)
 * (entries with live[i] false are not in the index). */
static void expect_result(const struct sublist_result *r, struct sublist_sub *subs,
                          const bool *live, size_t n, const char *subj, size_t slen)
{
    struct sublist_sub **want = malloc((n + 1) * sizeof *want);
    struct sublist_sub **got = malloc((r->npsubs + 1) * sizeof *got);
    REQUIRE(want && got, "out of memory");
    size_t nwant = 0, nq = 0;
    for (size_t i = 0; i < n; i++) {
        if (!live[i] || !naive_match(subs[i].subject, subj, slen))
            continue;
        if (subs[i].queue)
            nq++;
        else
            want[nwant++] = &subs[i];
    }
    REQUIRE(r->npsubs == nwant, "subject '%.*s': %zu plain, want %zu", (int)slen, subj,
                  r->npsubs, nwant);
    memcpy(got, r->psubs, r->npsubs * sizeof *got);
    qsort(got, nwant, sizeof *got, cmp_ptr);
    qsort(want, nwant, sizeof *want, cmp_ptr);
    for (size_t i = 0; i < nwant; i++)
        REQUIRE(got[i] == want[i], "'%.*s': plain subscriptions differ", (int)slen, subj);

    /* Queue members: every result member must be expected, in the group of
     * its own name, once; groups are distinct by name; totals agree. */
    size_t members = 0;
    for (size_t g = 0; g < r->nqgroups; g++) {
        const struct sublist_qgroup *qg = &r->qgroups[g];
        REQUIRE(qg->nsubs > 0, "empty queue group");
        for (size_t h = 0; h < g; h++)
            REQUIRE(qg->name_len != r->qgroups[h].name_len ||
                        memcmp(qg->name, r->qgroups[h].name, qg->name_len) != 0,
                    "'%.*s': queue group listed twice", (int)slen, subj);
        for (size_t k = 0; k < qg->nsubs; k++) {
            struct sublist_sub *s = qg->subs[k];
            ptrdiff_t at = s - subs;
            REQUIRE(at >= 0 && (size_t)at < n && live[at] && s->queue, "unknown member");
            REQUIRE(naive_match(s->subject, subj, slen), "'%.*s': member '%s' does not match",
                    (int)slen, subj, s->subject);
            REQUIRE(s->queue_len == qg->name_len && memcmp(s->queue, qg->name, qg->name_len) == 0,
                    "member in the wrong group");
            for (size_t j = 0; j < k; j++)
                REQUIRE(qg->subs[j] != s, "member listed twice");
        }
        members += qg->nsubs;
    }
    REQUIRE(members == nq, "'%.*s': %zu queue members, want %zu", (int)slen, subj, members, nq);
    free(want);
    free(got);
}

static struct sublist_result *match(struct sublist *sl, const char *subj)
{
    struct sublist_result *r = NULL;
    ck_assert_int_eq(sublist_match(sl, subj, strlen(subj), &r), 0);
    ck_assert_ptr_nonnull(r);
    return r;
}

static bool has_psub(const struct sublist_result *r, const struct sublist_sub *s)
{
    for (size_t i = 0; i < r->npsubs; i++)
        if (r->psubs[i] == s)
            return true;
    return false;
}

static const struct sublist_qgroup *find_group(const struct sublist_result *r, const char *name)
{
    for (size_t i = 0; i < r->nqgroups; i++)
        if (r->qgroups[i].name_len == strlen(name) &&
            memcmp(r->qgroups[i].name, name, r->qgroups[i].name_len) == 0)
            return &r->qgroups[i];
    return NULL;
}

static bool group_has(const struct sublist_qgroup *g, const struct sublist_sub *s)
{
    for (size_t i = 0; g && i < g->nsubs; i++)
        if (g->subs[i] == s)
            return true;
    return false;
}

/* ---- tables ----------------------------------------------------------- */

struct case_row {
    const char *pattern, *subject;
    bool match;
};

/* The spec's examples (§10) plus the corners of each rule. */
static const struct case_row cases[] = {
    { "foo", "foo", true },
    { "foo", "Foo", false },
    { "foo", "foo.bar", false },
    { "foo.bar", "foo", false },
    { "*", "foo", true },
    { "*", "foo.bar", false },
    { ">", "foo", true },
    { ">", "foo.bar.baz", true },
    { "foo.>", "foo", false },
    { "foo.>", "foo.bar", true },
    { "foo.>", "foo.bar.baz", true },
    { "foo.*.>", "foo.a", false },
    { "foo.*.>", "foo.a.b", true },
    { "foo.*.>", "foo.a.b.c", true },
    { "foo.*.bar", "foo.x.bar", true },
    { "foo.*.bar", "foo.x.baz", false },
    { "*.*", "a.b", true },
    { "*.*", "a", false },
    { "foo*", "foo*", true },
    { "foo*", "foox", false },
    { "f>o", "f>o", true },
    { "f>o", "f.o", false },
    { "*foo", "*foo", true },
    /* empty tokens in a published subject match nothing */
    { ">", "foo..bar", false },
    { ">", "foo.", false },
    { ">", ".foo", false },
    { ">", "", false },
    { ">", ".", false },
    { "*", "", false },
    /* literal wildcard tokens in a published subject reach wildcard entries */
    { "foo.*", "foo.*", true },
    { "foo.*", "foo.>", true },
    { "foo.>", "foo.*", true },
    { "foo.*.>", "foo.*.>", true },
    { ">", ">", true },
    { "*", "*", true },
    { "foo.bar", "foo.*", false },
    { "foo.bar", "foo.>", false },
    /* UTF-8 and odd bytes are ordinary token bytes */
    { "caf\xc3\xa9.*", "caf\xc3\xa9.x", true },
    { "a-b_c.d:e", "a-b_c.d:e", true },
};

START_TEST(test_table)
{
    size_t n = sizeof cases / sizeof cases[0];
    struct sublist *sl = sublist_new();
    ck_assert_ptr_nonnull(sl);
    struct sublist_sub *subs = calloc(n, sizeof *subs);
    bool *live = calloc(n, sizeof *live);
    for (size_t i = 0; i < n; i++) {
        subs[i] = mk(cases[i].pattern, NULL);
        ck_assert_int_eq(sublist_insert(sl, &subs[i]), 0);
        live[i] = true;
    }
    for (size_t i = 0; i < n; i++) {
        const char *subj = cases[i].subject;
        /* The reference itself must agree with the table. */
        ck_assert_msg(naive_match(cases[i].pattern, subj, strlen(subj)) == cases[i].match,
                      "naive: %s vs %s", cases[i].pattern, subj);
        struct sublist_result *r = match(sl, subj);
        ck_assert_msg(has_psub(r, &subs[i]) == cases[i].match, "sublist: %s vs '%s'",
                      cases[i].pattern, subj);
        expect_result(r, subs, live, n, subj, strlen(subj));
        sublist_result_free(r);
    }
    sublist_free(sl);
    free(subs);
    free(live);
}
END_TEST

/* §8.2: one connection, three overlapping subscriptions, three deliveries. */
START_TEST(test_overlapping_plain_all_listed)
{
    struct sublist *sl = sublist_new();
    struct sublist_sub a = mk("foo.*.bar", NULL), b = mk("foo.>", NULL), c = mk(">", NULL);
    struct sublist_sub same1 = mk("foo.x.bar", NULL), same2 = mk("foo.x.bar", NULL);
    struct sublist_sub *all[] = { &a, &b, &c, &same1, &same2 };
    for (size_t i = 0; i < 5; i++)
        ck_assert_int_eq(sublist_insert(sl, all[i]), 0);
    struct sublist_result *r = match(sl, "foo.x.bar");
    ck_assert_uint_eq(r->npsubs, 5);
    ck_assert_uint_eq(r->nqgroups, 0);
    for (size_t i = 0; i < 5; i++)
        ck_assert(has_psub(r, all[i]));
    sublist_result_free(r);
    sublist_free(sl);
}
END_TEST

START_TEST(test_queue_groups_across_patterns)
{
    struct sublist *sl = sublist_new();
    struct sublist_sub a = mk("foo.*", "q1"), b = mk("foo.>", "q1"), c = mk("foo.bar", "q2");
    struct sublist_sub d = mk("foo.bar", NULL), e = mk("foo.>", NULL), f = mk("foo.bar", "q1");
    struct sublist_sub g = mk("foo.baz", "q1"), h = mk("foo.bar", "q1x");
    struct sublist_sub *all[] = { &a, &b, &c, &d, &e, &f, &g, &h };
    for (size_t i = 0; i < 8; i++)
        ck_assert_int_eq(sublist_insert(sl, all[i]), 0);

    struct sublist_result *r = match(sl, "foo.bar");
    ck_assert_uint_eq(r->npsubs, 2);
    ck_assert(has_psub(r, &d) && has_psub(r, &e));
    ck_assert_uint_eq(r->nqgroups, 3);
    const struct sublist_qgroup *q1 = find_group(r, "q1"), *q2 = find_group(r, "q2");
    const struct sublist_qgroup *q1x = find_group(r, "q1x");
    ck_assert_uint_eq(q1->nsubs, 3);
    ck_assert(group_has(q1, &a) && group_has(q1, &b) && group_has(q1, &f));
    ck_assert(!group_has(q1, &g));
    ck_assert_uint_eq(q2->nsubs, 1);
    ck_assert(group_has(q2, &c));
    ck_assert_uint_eq(q1x->nsubs, 1);
    ck_assert(group_has(q1x, &h));
    sublist_result_free(r);

    /* A group name equal to a subject token is still just a group. */
    r = match(sl, "foo.q1");
    ck_assert_uint_eq(r->npsubs, 1);
    ck_assert_uint_eq(r->nqgroups, 1);
    ck_assert_uint_eq(find_group(r, "q1")->nsubs, 2);
    sublist_result_free(r);

    ck_assert_int_eq(sublist_remove(sl, &b), 0);
    r = match(sl, "foo.bar");
    ck_assert_uint_eq(find_group(r, "q1")->nsubs, 2);
    ck_assert(!group_has(find_group(r, "q1"), &b));
    sublist_result_free(r);
    sublist_free(sl);
}
END_TEST

/* More groups than the matcher keeps on its stack, each split over two
 * patterns: still one entry per name, with both members. */
START_TEST(test_many_groups)
{
    enum { G = 50 };
    struct sublist *sl = sublist_new();
    char (*names)[8] = calloc(G, sizeof *names);
    struct sublist_sub *star = calloc(G, sizeof *star), *full = calloc(G, sizeof *full);
    for (size_t i = 0; i < G; i++) {
        snprintf(names[i], sizeof names[i], "g%zu", i);
        star[i] = mk("many.*", names[i]);
        full[i] = mk("many.>", names[i]);
        ck_assert_int_eq(sublist_insert(sl, &star[i]), 0);
        ck_assert_int_eq(sublist_insert(sl, &full[i]), 0);
    }
    struct sublist_result *r = match(sl, "many.x");
    ck_assert_uint_eq(r->nqgroups, G);
    for (size_t i = 0; i < G; i++) {
        const struct sublist_qgroup *g = find_group(r, names[i]);
        ck_assert_ptr_nonnull(g);
        ck_assert_uint_eq(g->nsubs, 2);
        ck_assert(group_has(g, &star[i]) && group_has(g, &full[i]));
    }
    sublist_result_free(r);
    r = match(sl, "many.x.y");
    ck_assert_uint_eq(r->nqgroups, G);
    ck_assert_uint_eq(r->qgroups[G - 1].nsubs, 1);
    sublist_result_free(r);
    sublist_free(sl);
    free(names);
    free(star);
    free(full);
}
END_TEST

/* Many members of one group at one node, and many subscribers of one
 * subject: removal in any order keeps the rest intact. */
START_TEST(test_many_on_one_subject)
{
    enum { N = 500 };
    struct sublist *sl = sublist_new();
    struct sublist_sub *plain = calloc(N, sizeof *plain), *queue = calloc(N, sizeof *queue);
    for (size_t i = 0; i < N; i++) {
        plain[i] = mk("hot.subject", NULL);
        queue[i] = mk("hot.subject", "workers");
        ck_assert_int_eq(sublist_insert(sl, &plain[i]), 0);
        ck_assert_int_eq(sublist_insert(sl, &queue[i]), 0);
    }
    for (size_t i = 0; i < N; i += 2) { /* every other one, then check */
        ck_assert_int_eq(sublist_remove(sl, &plain[i]), 0);
        ck_assert_int_eq(sublist_remove(sl, &queue[N - 1 - i]), 0);
    }
    struct sublist_result *r = match(sl, "hot.subject");
    ck_assert_uint_eq(r->npsubs, N / 2);
    ck_assert_uint_eq(r->nqgroups, 1);
    ck_assert_uint_eq(r->qgroups[0].nsubs, N / 2);
    for (size_t i = 0; i < N; i++) {
        ck_assert(has_psub(r, &plain[i]) == (i % 2 == 1));
        ck_assert(group_has(&r->qgroups[0], &queue[N - 1 - i]) == (i % 2 == 1));
    }
    sublist_result_free(r);
    ck_assert_int_eq(sublist_remove(sl, &plain[0]), -ENOENT);
    for (size_t i = 1; i < N; i += 2) {
        ck_assert_int_eq(sublist_remove(sl, &plain[i]), 0);
        ck_assert_int_eq(sublist_remove(sl, &queue[N - 1 - i]), 0);
    }
    ck_assert_uint_eq(sublist_node_count(sl), 0);
    sublist_free(sl);
    free(plain);
    free(queue);
}
END_TEST

START_TEST(test_invalid_subjects)
{
    static const char *bad[] = { "", ".", "..", "foo.", ".foo", "foo..bar", "foo.>.bar",
                                 ">.foo", "foo.bar." };
    static const char *good[] = { "foo*", "f>o", "*", ">", "foo.*.>", "*.*.*", "> ", "a.b.c.d" };
    struct sublist *sl = sublist_new();
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct sublist_sub s = mk(bad[i], NULL);
        ck_assert_msg(sublist_insert(sl, &s) == -EINVAL, "accepted '%s'", bad[i]);
        struct sublist_sub q = mk(bad[i], "q");
        ck_assert_int_eq(sublist_insert(sl, &q), -EINVAL);
    }
    /* A rejected subject leaves nothing behind (nodes built before the bad
     * token are pruned) and does not move the generation. */
    ck_assert_uint_eq(sublist_node_count(sl), 0);
    ck_assert_uint_eq(sublist_generation(sl), 0);
    struct sublist_stats st;
    sublist_get_stats(sl, &st);
    ck_assert_uint_eq(st.count, 0);
    ck_assert_uint_eq(st.inserts, 0);

    struct sublist_sub ok[8];
    for (size_t i = 0; i < 8; i++) {
        ok[i] = mk(good[i], NULL);
        ck_assert_msg(sublist_insert(sl, &ok[i]) == 0, "rejected '%s'", good[i]);
    }
    for (size_t i = 0; i < 8; i++)
        ck_assert_int_eq(sublist_remove(sl, &ok[i]), 0);
    ck_assert_uint_eq(sublist_node_count(sl), 0);
    sublist_free(sl);
}
END_TEST

START_TEST(test_remove_enoent_and_prune)
{
    struct sublist *sl = sublist_new();
    struct sublist_sub a = mk("a.b.c", NULL), twin = mk("a.b.c", NULL);
    struct sublist_sub q = mk("a.b.c", "g"), qother = mk("a.b.c", "h"), bad = mk("a..c", NULL);
    struct sublist_sub w = mk("a.*.c", NULL), f = mk("a.>", NULL);
    ck_assert_int_eq(sublist_remove(sl, &a), -ENOENT);
    ck_assert_int_eq(sublist_remove(sl, &bad), -ENOENT);
    ck_assert_int_eq(sublist_insert(sl, &a), 0);
    ck_assert_int_eq(sublist_insert(sl, &q), 0);
    ck_assert_int_eq(sublist_insert(sl, &w), 0);
    ck_assert_int_eq(sublist_insert(sl, &f), 0);
    ck_assert_uint_eq(sublist_node_count(sl), 6); /* a, a.b, a.b.c, a.*, a.*.c, a.> */

    uint64_t gen = sublist_generation(sl);
    ck_assert_int_eq(sublist_remove(sl, &twin), -ENOENT);   /* same subject, other pointer */
    ck_assert_int_eq(sublist_remove(sl, &qother), -ENOENT); /* group not there */
    struct sublist_sub qplain = q;
    qplain.queue = NULL;
    qplain.queue_len = 0;
    ck_assert_int_eq(sublist_remove(sl, &qplain), -ENOENT); /* wrong kind */
    ck_assert_uint_eq(sublist_generation(sl), gen);

    ck_assert_int_eq(sublist_remove(sl, &a), 0);
    ck_assert_int_eq(sublist_remove(sl, &a), -ENOENT);
    ck_assert_uint_eq(sublist_node_count(sl), 6); /* q still holds a.b.c */
    ck_assert_int_eq(sublist_remove(sl, &q), 0);
    ck_assert_uint_eq(sublist_node_count(sl), 4);
    ck_assert_int_eq(sublist_remove(sl, &w), 0);
    ck_assert_uint_eq(sublist_node_count(sl), 2);
    ck_assert_int_eq(sublist_remove(sl, &f), 0);
    ck_assert_uint_eq(sublist_node_count(sl), 0);

    /* The emptied trie still works. */
    ck_assert_int_eq(sublist_insert(sl, &a), 0);
    struct sublist_result *r = match(sl, "a.b.c");
    ck_assert_uint_eq(r->npsubs, 1);
    sublist_result_free(r);
    ck_assert_int_eq(sublist_remove(sl, &a), 0);
    sublist_free(sl);
}
END_TEST

/* Subjects sharing prefixes and many siblings: the child tables grow and
 * shrink; every survivor must still be found after each removal wave. */
START_TEST(test_wide_levels_grow_and_shrink)
{
    enum { N = 3000 };
    struct sublist *sl = sublist_new();
    char (*names)[32] = calloc(N, sizeof *names);
    struct sublist_sub *subs = calloc(N, sizeof *subs);
    bool *live = calloc(N, sizeof *live);
    for (size_t i = 0; i < N; i++) {
        snprintf(names[i], sizeof names[i], "w.%zu.%zu", i % 97, i);
        subs[i] = mk(names[i], NULL);
        ck_assert_int_eq(sublist_insert(sl, &subs[i]), 0);
        live[i] = true;
    }
    for (size_t wave = 0; wave < 3; wave++) {
        for (size_t i = wave; i < N; i += 3) {
            ck_assert_int_eq(sublist_remove(sl, &subs[i]), 0);
            live[i] = false;
        }
        for (size_t i = 0; i < N; i += 7) {
            struct sublist_result *r = match(sl, names[i]);
            ck_assert_uint_eq(r->npsubs, live[i] ? 1 : 0);
            sublist_result_free(r);
        }
    }
    ck_assert_uint_eq(sublist_node_count(sl), 0);
    sublist_free(sl);
    free(names);
    free(subs);
    free(live);
}
END_TEST

/* Long subjects and many hits spill the matcher's stack buffers to the
 * heap; a very deep trie must neither overflow a stack nor leak on free. */
START_TEST(test_deep_and_many_hits)
{
    enum { DEEP = 20000, HITS = 60 };
    struct sublist *sl = sublist_new();
    char *lit = malloc(2 * DEEP), *stars = malloc(2 * DEEP);
    for (size_t i = 0; i < DEEP; i++) {
        lit[2 * i] = 'a';
        stars[2 * i] = '*';
        lit[2 * i + 1] = stars[2 * i + 1] = i + 1 < DEEP ? '.' : '\0';
    }
    struct sublist_sub deep_lit = mk(lit, NULL), deep_star = mk(stars, "g");
    ck_assert_int_eq(sublist_insert(sl, &deep_lit), 0);
    ck_assert_int_eq(sublist_insert(sl, &deep_star), 0);

    /* "a.>", "a.a.>", ... each matches the deep subject once. */
    char (*fw)[2 * HITS + 4] = calloc(HITS, sizeof *fw);
    struct sublist_sub fsubs[HITS];
    for (size_t k = 0; k < HITS; k++) {
        for (size_t i = 0; i <= k; i++)
            memcpy(fw[k] + 2 * i, "a.", 2);
        fw[k][2 * k + 2] = '>';
        fsubs[k] = mk(fw[k], k % 3 ? NULL : "fq");
        ck_assert_int_eq(sublist_insert(sl, &fsubs[k]), 0);
    }
    struct sublist_result *r = match(sl, lit);
    ck_assert_uint_eq(r->npsubs, 1 + HITS - (HITS + 2) / 3);
    ck_assert_uint_eq(r->nqgroups, 2);
    ck_assert_uint_eq(find_group(r, "fq")->nsubs, (HITS + 2) / 3);
    ck_assert(group_has(find_group(r, "g"), &deep_star));
    sublist_result_free(r);

    lit[2 * DEEP - 2] = 'b'; /* last token differs: only '*'s and '>'s match */
    r = match(sl, lit);
    ck_assert(!has_psub(r, &deep_lit));
    ck_assert_uint_eq(r->npsubs, HITS - (HITS + 2) / 3);
    ck_assert_uint_eq(r->nqgroups, 2);
    sublist_result_free(r);
    ck_assert_uint_eq(sublist_node_count(sl), 2 * DEEP + HITS);
    sublist_free(sl); /* frees the deep paths while still populated */
    free(lit);
    free(stars);
    free(fw);
}
END_TEST

START_TEST(test_stats_and_generation)
{
    struct sublist *sl = sublist_new();
    struct sublist_sub a = mk("s.a", NULL), b = mk("s.*", "q"), bad = mk("s..", NULL);
    uint64_t g0 = sublist_generation(sl);
    ck_assert_int_eq(sublist_insert(sl, &a), 0);
    uint64_t g1 = sublist_generation(sl);
    ck_assert_uint_ne(g1, g0);
    ck_assert_int_eq(sublist_insert(sl, &b), 0);
    uint64_t g2 = sublist_generation(sl);
    ck_assert_uint_ne(g2, g1);
    ck_assert_int_eq(sublist_insert(sl, &bad), -EINVAL);
    ck_assert_uint_eq(sublist_generation(sl), g2);
    sublist_result_free(match(sl, "s.a"));
    sublist_result_free(match(sl, "s..a"));
    ck_assert_uint_eq(sublist_generation(sl), g2); /* matching changes nothing */

    struct sublist_stats st;
    sublist_get_stats(sl, &st);
    ck_assert_uint_eq(st.count, 2);
    ck_assert_uint_eq(st.inserts, 2);
    ck_assert_uint_eq(st.removes, 0);
    ck_assert_uint_eq(st.matches, 2);

    ck_assert_int_eq(sublist_remove(sl, &a), 0);
    ck_assert_int_eq(sublist_remove(sl, &a), -ENOENT);
    ck_assert_uint_ne(sublist_generation(sl), g2);
    sublist_get_stats(sl, &st);
    ck_assert_uint_eq(st.count, 1);
    ck_assert_uint_eq(st.inserts, 2);
    ck_assert_uint_eq(st.removes, 1);
    sublist_free(sl);
}
END_TEST

/* ---- cache ------------------------------------------------------------ */

START_TEST(test_cache_hits_and_invalidation)
{
    struct sublist *sl = sublist_new();
    struct sublist_cache *c = sublist_cache_new(sl, 64);
    struct sublist_sub a = mk("c.x", NULL), b = mk("c.*", NULL), q = mk("c.>", "g");
    ck_assert_int_eq(sublist_insert(sl, &a), 0);

    const struct sublist_result *r = sublist_cache_match(c, "c.x", 3);
    ck_assert_uint_eq(r->npsubs, 1);
    ck_assert_uint_eq(sublist_cache_misses(c), 1);
    ck_assert_uint_eq(sublist_cache_hits(c), 0);
    r = sublist_cache_match(c, "c.x", 3);
    ck_assert_uint_eq(r->npsubs, 1);
    ck_assert_uint_eq(sublist_cache_hits(c), 1);
    r = sublist_cache_match(c, "c.y", 3);
    ck_assert_uint_eq(r->npsubs, 0);
    r = sublist_cache_match(c, "c.y", 3);
    ck_assert_uint_eq(sublist_cache_hits(c), 2);
    ck_assert_uint_eq(sublist_cache_misses(c), 2);

    struct sublist_stats st;
    sublist_get_stats(sl, &st);
    ck_assert_uint_eq(st.matches, 2); /* hits never reach the index */

    /* An insert must show on the very next look, for every cached subject. */
    ck_assert_int_eq(sublist_insert(sl, &b), 0);
    r = sublist_cache_match(c, "c.x", 3);
    ck_assert_uint_eq(r->npsubs, 2);
    ck_assert_uint_eq(sublist_cache_misses(c), 3);
    r = sublist_cache_match(c, "c.y", 3);
    ck_assert_uint_eq(r->npsubs, 1);
    ck_assert(has_psub(r, &b));
    ck_assert_uint_eq(sublist_cache_misses(c), 4);

    ck_assert_int_eq(sublist_insert(sl, &q), 0);
    r = sublist_cache_match(c, "c.y", 3);
    ck_assert_uint_eq(r->nqgroups, 1);
    ck_assert_int_eq(sublist_remove(sl, &q), 0);
    r = sublist_cache_match(c, "c.y", 3);
    ck_assert_uint_eq(r->nqgroups, 0);
    ck_assert_int_eq(sublist_remove(sl, &b), 0);
    r = sublist_cache_match(c, "c.y", 3);
    ck_assert_uint_eq(r->npsubs, 0);
    r = sublist_cache_match(c, "c.x", 3);
    ck_assert_uint_eq(r->npsubs, 1);
    ck_assert_ptr_eq(r->psubs[0], &a);

    /* A failed remove does not move the generation, so hits continue. */
    uint64_t hits = sublist_cache_hits(c);
    ck_assert_int_eq(sublist_remove(sl, &b), -ENOENT);
    r = sublist_cache_match(c, "c.x", 3);
    ck_assert_uint_eq(sublist_cache_hits(c), hits + 1);

    /* The key is bytes, not a C string: a prefix is another subject. */
    r = sublist_cache_match(c, "c.xyz", 3);
    ck_assert_uint_eq(r->npsubs, 1);
    ck_assert_ptr_eq(r->psubs[0], &a);
    r = sublist_cache_match(c, "c.xyz", 4);
    ck_assert_uint_eq(r->npsubs, 0); /* "c.xy": only c.* would match, and it is gone */
    sublist_cache_free(c);
    sublist_free(sl);
}
END_TEST

/* A cache smaller than the working set stays correct and bounded. */
START_TEST(test_cache_eviction)
{
    enum { SUBJ = 200, MAX = 8 };
    struct sublist *sl = sublist_new();
    struct sublist_cache *c = sublist_cache_new(sl, MAX);
    struct sublist_sub star = mk("e.*", NULL);
    ck_assert_int_eq(sublist_insert(sl, &star), 0);
    char buf[32];
    for (size_t round = 0; round < 3; round++) {
        for (size_t i = 0; i < SUBJ; i++) {
            int n = snprintf(buf, sizeof buf, "e.%zu", i);
            const struct sublist_result *r = sublist_cache_match(c, buf, (size_t)n);
            ck_assert_ptr_nonnull(r);
            ck_assert_uint_eq(r->npsubs, 1);
            ck_assert_ptr_eq(r->psubs[0], &star);
        }
    }
    /* The same few subjects again and again: mostly hits. */
    for (size_t i = 0; i < 1000; i++) {
        int n = snprintf(buf, sizeof buf, "e.%zu", i % 4);
        ck_assert_uint_eq(sublist_cache_match(c, buf, (size_t)n)->npsubs, 1);
    }
    ck_assert_uint_eq(sublist_cache_hits(c) + sublist_cache_misses(c), 3 * SUBJ + 1000);
    ck_assert_uint_ge(sublist_cache_hits(c), 1000 - 4 * 10);
    struct sublist_stats st;
    sublist_get_stats(sl, &st);
    ck_assert_uint_eq(st.matches, sublist_cache_misses(c));
    sublist_cache_free(c);
    sublist_free(sl);
}
END_TEST

START_TEST(test_cache_zero_capacity)
{
    struct sublist *sl = sublist_new();
    struct sublist_cache *c = sublist_cache_new(sl, 0);
    struct sublist_sub a = mk("z", NULL);
    ck_assert_int_eq(sublist_insert(sl, &a), 0);
    for (int i = 0; i < 10; i++) {
        ck_assert_uint_eq(sublist_cache_match(c, "z", 1)->npsubs, 1);
        ck_assert_uint_eq(sublist_cache_match(c, "y", 1)->npsubs, 0);
    }
    /* An empty subject may come as (NULL, 0): it matches nothing. */
    ck_assert_uint_eq(sublist_cache_match(c, NULL, 0)->npsubs, 0);
    ck_assert_uint_eq(sublist_cache_match(c, NULL, 0)->npsubs, 0);
    struct sublist_result *empty = NULL;
    ck_assert_int_eq(sublist_match(sl, NULL, 0, &empty), 0);
    ck_assert_uint_eq(empty->npsubs + empty->nqgroups, 0);
    sublist_result_free(empty);
    sublist_cache_free(c);
    sublist_free(sl);
}
END_TEST

/* ---- randomized comparison with the naive matcher ---------------------- */

static uint64_t rng_state;

static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static uint64_t test_seed(void)
{
    const char *env = getenv("TERN_SUBLIST_SEED");
    uint64_t seed = env ? strtoull(env, NULL, 0) : 0x5eed5eedULL;
    return seed ? seed : 1;
}

static const char *alphabet[] = { "a", "b", "c", "ab", "a*", ">x" };

static void random_pattern(char *out, size_t cap)
{
    size_t ntok = 1 + rnd() % 4, len = 0;
    for (size_t t = 0; t < ntok; t++) {
        uint64_t pick = rnd() % 10;
        const char *tok = pick < 6 ? alphabet[pick] : pick < 9 ? "*" : (t == ntok - 1 ? ">" : "*");
        len += (size_t)snprintf(out + len, cap - len, "%s%s", t ? "." : "", tok);
    }
}

/* Published subjects: the same alphabet, literal wildcards, and now and
 * then an empty token or an empty subject. */
static size_t random_subject(char *out, size_t cap)
{
    if (rnd() % 50 == 0)
        return 0;
    size_t ntok = 1 + rnd() % 5, len = 0;
    for (size_t t = 0; t < ntok; t++) {
        uint64_t pick = rnd() % 14;
        const char *tok = pick < 6 ? alphabet[pick] : pick < 8 ? "*" : pick < 10 ? ">"
                        : pick < 11 ? "" : pick < 12 ? "d" : alphabet[rnd() % 3];
        len += (size_t)snprintf(out + len, cap - len, "%s%s", t ? "." : "", tok);
    }
    return len;
}

START_TEST(test_random_against_naive)
{
    enum { N = 2500, OPS = 8000, PROBES = 2 };
    static const char *queues[] = { NULL, NULL, NULL, "q1", "q2", "q3" };
    uint64_t seed = test_seed();
    rng_state = seed;
    printf("check_sublist: random seed %" PRIu64 " (TERN_SUBLIST_SEED to change)\n", seed);
    fflush(stdout);

    struct sublist *sl = sublist_new();
    struct sublist_cache *c = sublist_cache_new(sl, 32);
    char (*pats)[48] = calloc(N, sizeof *pats);
    struct sublist_sub *subs = calloc(N, sizeof *subs);
    bool *live = calloc(N, sizeof *live);
    size_t nlive = 0;
    for (size_t i = 0; i < N; i++) {
        random_pattern(pats[i], sizeof pats[i]);
        subs[i] = mk(pats[i], queues[rnd() % 6]);
    }
    for (size_t op = 0; op < OPS; op++) {
        size_t i = rnd() % N;
        if (live[i]) {
            REQUIRE(sublist_remove(sl, &subs[i]) == 0, "remove '%s'", pats[i]);
            REQUIRE(sublist_remove(sl, &subs[i]) == -ENOENT, "second remove '%s'", pats[i]);
            live[i] = false;
            nlive--;
        } else {
            REQUIRE(sublist_insert(sl, &subs[i]) == 0, "insert '%s'", pats[i]);
            live[i] = true;
            nlive++;
        }
        for (size_t p = 0; p < PROBES; p++) {
            char subj[64];
            size_t slen = random_subject(subj, sizeof subj);
            struct sublist_result *r = NULL;
            REQUIRE(sublist_match(sl, subj, slen, &r) == 0, "match");
            expect_result(r, subs, live, N, subj, slen);
            sublist_result_free(r);
            /* ... and through a cache, which must see every change. */
            const struct sublist_result *cr = sublist_cache_match(c, subj, slen);
            REQUIRE(cr, "cache match");
            expect_result(cr, subs, live, N, subj, slen);
        }
    }
    struct sublist_stats st;
    sublist_get_stats(sl, &st);
    ck_assert_uint_eq(st.count, nlive);
    ck_assert_uint_eq(st.inserts - st.removes, nlive);
    for (size_t i = 0; i < N; i++)
        if (live[i])
            ck_assert_int_eq(sublist_remove(sl, &subs[i]), 0);
    ck_assert_uint_eq(sublist_node_count(sl), 0);
    sublist_cache_free(c);
    sublist_free(sl);
    free(pats);
    free(subs);
    free(live);
}
END_TEST

/* ---- concurrency -------------------------------------------------------- */

/* Writers churn their own subscriptions while readers match through their
 * own caches. A fixed set of stable subscriptions is never removed, so each
 * reader can check exactly what it must see; churned ones must at least be
 * real, matching subscriptions. Run once under ThreadSanitizer by hand. */
enum { CW = 2, CR = 2, STABLE = 40, CHURN = 400, ROUNDS = 3000 };

struct conc {
    struct sublist *sl;
    struct sublist_sub stable[STABLE];
    char stable_subj[STABLE][24];
    struct sublist_sub churn[CW][CHURN];
    char churn_subj[CW][CHURN][24];
    atomic_int writers_left;
    atomic_int failures;
    pthread_barrier_t start; /* every thread begins at once */
};

struct conc_arg {
    struct conc *k;
    int id;
};

static void *writer(void *p)
{
    struct conc_arg *a = p;
    struct conc *k = a->k;
    bool in[CHURN] = { false };
    uint64_t s = 0x9e3779b97f4a7c15ULL * (uint64_t)(a->id + 1);
    pthread_barrier_wait(&k->start);
    for (int r = 0; r < ROUNDS; r++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        size_t i = s % CHURN;
        int rc = in[i] ? sublist_remove(k->sl, &k->churn[a->id][i])
                       : sublist_insert(k->sl, &k->churn[a->id][i]);
        if (rc != 0)
            atomic_fetch_add(&k->failures, 1);
        in[i] = !in[i];
    }
    for (size_t i = 0; i < CHURN; i++)
        if (in[i] && sublist_remove(k->sl, &k->churn[a->id][i]) != 0)
            atomic_fetch_add(&k->failures, 1);
    atomic_fetch_sub(&k->writers_left, 1);
    return NULL;
}

static bool known_sub(struct conc *k, const struct sublist_sub *s)
{
    if (s >= &k->stable[0] && s < &k->stable[STABLE])
        return true;
    for (int w = 0; w < CW; w++)
        if (s >= &k->churn[w][0] && s < &k->churn[w][CHURN])
            return true;
    return false;
}

static void check_one(struct conc *k, const struct sublist_result *r, const char *subj)
{
    size_t slen = strlen(subj), want_stable = 0, got_stable = 0;
    for (size_t i = 0; i < STABLE; i++)
        want_stable += naive_match(k->stable[i].subject, subj, slen);
    for (size_t i = 0; i < r->npsubs; i++) {
        const struct sublist_sub *s = r->psubs[i];
        if (!known_sub(k, s) || !naive_match(s->subject, subj, slen))
            atomic_fetch_add(&k->failures, 1);
        got_stable += s >= &k->stable[0] && s < &k->stable[STABLE];
    }
    if (got_stable != want_stable)
        atomic_fetch_add(&k->failures, 1);
}

static void *reader(void *p)
{
    struct conc_arg *a = p;
    struct conc *k = a->k;
    struct sublist_cache *c = sublist_cache_new(k->sl, 16);
    pthread_barrier_wait(&k->start);
    if (!c) {
        atomic_fetch_add(&k->failures, 1);
        return NULL;
    }
    char subj[24];
    uint64_t s = 0x2545f4914f6cdd1dULL * (uint64_t)(a->id + 7);
    /* Keep reading until every writer is done, then once more. */
    for (int done = 0; done < 2; done += atomic_load(&k->writers_left) == 0) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        snprintf(subj, sizeof subj, "t.%u.%u", (unsigned)(s % 8), (unsigned)((s >> 8) % 60));
        const struct sublist_result *r = sublist_cache_match(c, subj, strlen(subj));
        if (!r) {
            atomic_fetch_add(&k->failures, 1);
            break;
        }
        check_one(k, r, subj);
    }
    /* After the writers: the churned subscriptions are all gone. */
    const struct sublist_result *r = sublist_cache_match(c, subj, strlen(subj));
    size_t want = 0;
    for (size_t i = 0; i < STABLE; i++)
        want += naive_match(k->stable[i].subject, subj, strlen(subj));
    if (!r || r->npsubs != want)
        atomic_fetch_add(&k->failures, 1);
    sublist_cache_free(c);
    return NULL;
}

START_TEST(test_concurrent_insert_remove_match)
{
    struct conc *k = calloc(1, sizeof *k);
    k->sl = sublist_new();
    atomic_init(&k->writers_left, CW);
    atomic_init(&k->failures, 0);
    ck_assert_int_eq(pthread_barrier_init(&k->start, NULL, CW + CR), 0);
    for (size_t i = 0; i < STABLE; i++) {
        snprintf(k->stable_subj[i], sizeof k->stable_subj[i], i % 4 ? "t.%zu.*" : "t.%zu.>",
                 i % 8);
        k->stable[i] = mk(k->stable_subj[i], NULL);
        ck_assert_int_eq(sublist_insert(k->sl, &k->stable[i]), 0);
    }
    for (int w = 0; w < CW; w++) {
        for (size_t i = 0; i < CHURN; i++) {
            snprintf(k->churn_subj[w][i], sizeof k->churn_subj[w][i], "t.%zu.%zu", i % 8, i % 60);
            k->churn[w][i] = mk(k->churn_subj[w][i], i % 5 ? NULL : "cq");
        }
    }
    pthread_t th[CW + CR];
    struct conc_arg args[CW + CR];
    for (int i = 0; i < CW + CR; i++) {
        args[i] = (struct conc_arg){ .k = k, .id = i < CW ? i : i - CW };
        ck_assert_int_eq(pthread_create(&th[i], NULL, i < CW ? writer : reader, &args[i]), 0);
    }
    for (int i = 0; i < CW + CR; i++)
        pthread_join(th[i], NULL);
    ck_assert_int_eq(atomic_load(&k->failures), 0);
    struct sublist_stats st;
    sublist_get_stats(k->sl, &st);
    ck_assert_uint_eq(st.count, STABLE);
    ck_assert_uint_eq(st.inserts, st.removes + STABLE);
    pthread_barrier_destroy(&k->start);
    sublist_free(k->sl);
    free(k);
}
END_TEST

static Suite *sublist_suite(void)
{
    Suite *s = suite_create("sublist");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_table);
    tcase_add_test(tc, test_overlapping_plain_all_listed);
    tcase_add_test(tc, test_queue_groups_across_patterns);
    tcase_add_test(tc, test_many_groups);
    tcase_add_test(tc, test_many_on_one_subject);
    tcase_add_test(tc, test_invalid_subjects);
    tcase_add_test(tc, test_remove_enoent_and_prune);
    tcase_add_test(tc, test_wide_levels_grow_and_shrink);
    tcase_add_test(tc, test_deep_and_many_hits);
    tcase_add_test(tc, test_stats_and_generation);
    suite_add_tcase(s, tc);
    TCase *cache = tcase_create("cache");
    tcase_add_test(cache, test_cache_hits_and_invalidation);
    tcase_add_test(cache, test_cache_eviction);
    tcase_add_test(cache, test_cache_zero_capacity);
    suite_add_tcase(s, cache);
    TCase *rnd_tc = tcase_create("random");
    tcase_set_timeout(rnd_tc, 120);
    tcase_add_test(rnd_tc, test_random_against_naive);
    suite_add_tcase(s, rnd_tc);
    TCase *conc = tcase_create("threads");
    tcase_set_timeout(conc, 120);
    tcase_add_test(conc, test_concurrent_insert_remove_match);
    suite_add_tcase(s, conc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(sublist_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
