/*
 * tests/unit/check_js_subtree.c — server/jetstream/js_subtree: the tree
 * must report every stored pattern that overlaps a query (its callers
 * confirm candidates, so extra ones are allowed, missing ones are bugs),
 * prune what removals leave empty, and stop when asked.
 */
#include <check.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/jetstream/js_subtree.h"

/* The reference: can one subject match both patterns ('*' one token,
 * '>' a non-empty rest)? Written pairwise, the way the tree replaces. */
static bool overlap(const char *a, const char *b)
{
    for (;;) {
        const char *ae = strchr(a, '.'), *be = strchr(b, '.');
        size_t al = ae ? (size_t)(ae - a) : strlen(a), bl = be ? (size_t)(be - b) : strlen(b);
        if ((al == 1 && a[0] == '>') || (bl == 1 && b[0] == '>'))
            return true;
        bool aw = al == 1 && a[0] == '*', bw = bl == 1 && b[0] == '*';
        if (!aw && !bw && (al != bl || memcmp(a, b, al) != 0))
            return false;
        if (!ae || !be)
            return !ae && !be;
        a = ae + 1;
        b = be + 1;
    }
}

#define MAXP 400

struct seen {
    bool hit[MAXP];
    int calls;
    int stop_after; /* 0: never stop */
};

static int note(void *arg, const char *subject, void *owner)
{
    (void)subject;
    struct seen *s = arg;
    s->hit[(uintptr_t)owner] = true;
    s->calls++;
    return s->stop_after && s->calls >= s->stop_after ? 7 : 0;
}

static void random_pattern(unsigned *seed, char *out, size_t cap)
{
    static const char *toks[] = { "a", "b", "c", "*", "*x", ">x" };
    int n = 1 + rand_r(seed) % 4;
    size_t o = 0;
    for (int i = 0; i < n; i++) {
        const char *t = (i == n - 1 && rand_r(seed) % 5 == 0) ? ">" : toks[rand_r(seed) % 6];
        o += (size_t)snprintf(out + o, cap - o, "%s%s", i ? "." : "", t);
    }
}

START_TEST(every_overlap_is_reported)
{
    unsigned seed = 12345;
    static char pats[MAXP][64];
    struct js_subtree *t = js_subtree_new();
    struct js_subent *e[MAXP];
    ck_assert_ptr_nonnull(t);
    for (int i = 0; i < MAXP; i++) {
        random_pattern(&seed, pats[i], sizeof pats[i]);
        ck_assert_int_eq(js_subtree_add(t, pats[i], strlen(pats[i]), (void *)(uintptr_t)i, &e[i]),
                         0);
    }
    /* Remove every third: they must no longer be reported. */
    for (int i = 0; i < MAXP; i += 3)
        js_subtree_remove(t, e[i]);
    for (int q = 0; q < 300; q++) {
        char query[64];
        random_pattern(&seed, query, sizeof query);
        struct seen s = { 0 };
        ck_assert_int_eq(js_subtree_each_overlap(t, query, strlen(query), note, &s), 0);
        for (int i = 0; i < MAXP; i++) {
            if (i % 3 == 0)
                ck_assert_msg(!s.hit[i], "removed %s reported for %s", pats[i], query);
            else if (overlap(pats[i], query))
                ck_assert_msg(s.hit[i], "%s overlaps %s but was not reported", pats[i], query);
        }
    }
    js_subtree_free(t);
}
END_TEST

START_TEST(literals_find_only_their_path)
{
    struct js_subtree *t = js_subtree_new();
    struct js_subent *e;
    char buf[32];
    for (int i = 0; i < 1000; i++) {
        int n = snprintf(buf, sizeof buf, "big.%d.x", i);
        ck_assert_int_eq(js_subtree_add(t, buf, (size_t)n, (void *)(uintptr_t)(i % MAXP), &e), 0);
    }
    struct seen s = { 0 };
    js_subtree_each_overlap(t, "big.500.x", 9, note, &s);
    ck_assert_int_eq(s.calls, 1);
    s = (struct seen){ 0 };
    js_subtree_each_overlap(t, "big.*.x", 7, note, &s);
    ck_assert_int_eq(s.calls, 1000);
    s = (struct seen){ 0 };
    js_subtree_each_overlap(t, "big.500", 7, note, &s);
    ck_assert_int_eq(s.calls, 0);
    s = (struct seen){ .stop_after = 3 };
    ck_assert_int_eq(js_subtree_each_overlap(t, ">", 1, note, &s), 7);
    ck_assert_int_eq(s.calls, 3);
    js_subtree_free(t);
}
END_TEST

START_TEST(removal_prunes_and_readding_works)
{
    struct js_subtree *t = js_subtree_new();
    struct js_subent *a, *b, *c;
    ck_assert_int_eq(js_subtree_add(t, "x.y.z", 5, (void *)1, &a), 0);
    ck_assert_int_eq(js_subtree_add(t, "x.>", 3, (void *)2, &b), 0);
    ck_assert_int_eq(js_subtree_add(t, "x.y.z", 5, (void *)3, &c), 0); /* same subject twice */
    struct seen s = { 0 };
    js_subtree_each_overlap(t, "x.y.z", 5, note, &s);
    ck_assert(s.hit[1] && s.hit[2] && s.hit[3]);
    js_subtree_remove(t, a);
    js_subtree_remove(t, c);
    s = (struct seen){ 0 };
    js_subtree_each_overlap(t, "x.y.z", 5, note, &s);
    ck_assert(!s.hit[1] && s.hit[2] && !s.hit[3]);
    js_subtree_remove(t, b);
    s = (struct seen){ 0 };
    js_subtree_each_overlap(t, ">", 1, note, &s);
    ck_assert_int_eq(s.calls, 0);
    ck_assert_int_eq(js_subtree_add(t, "x.y.z", 5, (void *)1, &a), 0);
    s = (struct seen){ 0 };
    js_subtree_each_overlap(t, "*.*.*", 5, note, &s);
    ck_assert_int_eq(s.calls, 1);
    js_subtree_free(t); /* frees a too */
}
END_TEST

START_TEST(deep_subjects_do_not_recurse)
{
    /* 200,000 tokens: a recursive walk would need a huge stack. */
    size_t n = 200000, len = 2 * n - 1;
    char *deep = malloc(len + 1);
    for (size_t i = 0; i < n; i++) {
        deep[2 * i] = 'a';
        if (i + 1 < n)
            deep[2 * i + 1] = '.';
    }
    deep[len] = '\0';
    struct js_subtree *t = js_subtree_new();
    struct js_subent *e;
    ck_assert_int_eq(js_subtree_add(t, deep, len, (void *)1, &e), 0);
    struct seen s = { 0 };
    ck_assert_int_eq(js_subtree_each_overlap(t, deep, len, note, &s), 0);
    ck_assert_int_eq(s.calls, 1);
    s = (struct seen){ 0 };
    js_subtree_each_overlap(t, "a.>", 3, note, &s);
    ck_assert_int_eq(s.calls, 1);
    js_subtree_free(t);
    free(deep);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("js_subtree");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, every_overlap_is_reported);
    tcase_add_test(tc, literals_find_only_their_path);
    tcase_add_test(tc, removal_prunes_and_readding_works);
    tcase_add_test(tc, deep_subjects_do_not_recurse);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
