/*
 * tests/unit/check_jslease.c — unit tests of cluster/jslease.c, the raft
 * leader's lease: what a follower promises, what the leader makes of the
 * answers and of committed entries, and the lines between them.
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/jslease.h"

#define ET 1000
#define LEADER 11
#define F1 22
#define F2 33

static const uint64_t three[] = { LEADER, F1, F2 };

/* What F (id self) answers to probe, following LEADER in term with its
 * timer reset at contact; now is its clock. */
static size_t answer(const char *probe, uint64_t self, uint64_t term, int64_t contact,
                     int64_t now, char *out)
{
    struct jslease_follower f = { .following = true, .term = term, .leader_id = LEADER,
                                  .self_id = self, .last_contact_ms = contact, .now_ms = now,
                                  .election_ms = ET };
    return jslease_answer(&f, probe, strlen(probe), out, JSLEASE_LINE_MAX);
}

static int take(struct jslease *l, const char *a, size_t n)
{
    return jslease_take(l, a, n);
}

START_TEST(one_answer_makes_a_majority_of_three)
{
    struct jslease l;
    jslease_init(&l, ET);
    char p[JSLEASE_LINE_MAX], a[JSLEASE_LINE_MAX];
    ck_assert_int_le(jslease_until(&l, 5, LEADER, three, 3), 0); /* nothing yet */
    size_t n = jslease_probe(&l, 5, LEADER, 10000, p, sizeof p);
    ck_assert_uint_gt(n, 0);
    p[n] = '\0';
    /* F1 heard the leader 100 ms before answering: 900 ms left. */
    size_t m = answer(p, F1, 5, 50000, 50100, a);
    ck_assert_uint_gt(m, 0);
    ck_assert_int_eq(take(&l, a, m), 0);
    /* From the probe's send time, 900 ms less a tenth and the margin. */
    ck_assert_int_eq(jslease_until(&l, 5, LEADER, three, 3), 10000 + 900 - 90 - JSLEASE_MARGIN_MS);
    /* Another term knows nothing of it. */
    ck_assert_int_le(jslease_until(&l, 6, LEADER, three, 3), 0);
}
END_TEST

START_TEST(five_voters_need_two_answers_and_take_the_weaker)
{
    const uint64_t five[] = { LEADER, F1, F2, 44, 55 };
    struct jslease l;
    jslease_init(&l, ET);
    char p[JSLEASE_LINE_MAX], a[JSLEASE_LINE_MAX];
    size_t n = jslease_probe(&l, 2, LEADER, 0, p, sizeof p);
    p[n] = '\0';
    size_t m = answer(p, F1, 2, 0, 0, a); /* 1000 left */
    ck_assert_int_eq(take(&l, a, m), 0);
    ck_assert_int_le(jslease_until(&l, 2, LEADER, five, 5), 0); /* two of five */
    m = answer(p, 44, 2, 0, 500, a);      /* 500 left */
    ck_assert_int_eq(take(&l, a, m), 0);
    ck_assert_int_eq(jslease_until(&l, 2, LEADER, five, 5), 500 - 50 - JSLEASE_MARGIN_MS);
    /* A grant from a member that is not a voter counts for nothing. */
    const uint64_t others[] = { LEADER, 44, 55 };
    jslease_reset(&l, 2);
    n = jslease_probe(&l, 2, LEADER, 0, p, sizeof p);
    p[n] = '\0';
    m = answer(p, F1, 2, 0, 0, a);
    ck_assert_int_eq(take(&l, a, m), 0);
    ck_assert_int_le(jslease_until(&l, 2, LEADER, others, 3), 0);
}
END_TEST

START_TEST(a_follower_promises_only_what_it_has)
{
    char a[JSLEASE_LINE_MAX];
    const char *p = "P 7 5 11";
    /* Its timer ran out: nothing to promise. */
    ck_assert_uint_eq(answer(p, F1, 5, 0, ET, a), 0);
    /* Another term, or another leader, or not following at all. */
    ck_assert_uint_eq(answer(p, F1, 6, 0, 0, a), 0);
    struct jslease_follower f = { .following = true, .term = 5, .leader_id = 99,
                                  .self_id = F1, .election_ms = ET };
    ck_assert_uint_eq(jslease_answer(&f, p, strlen(p), a, sizeof a), 0);
    f.leader_id = LEADER;
    f.following = false;
    ck_assert_uint_eq(jslease_answer(&f, p, strlen(p), a, sizeof a), 0);
    /* The leader's own probe, heard by itself. */
    ck_assert_uint_eq(answer(p, LEADER, 5, 0, 0, a), 0);
    /* A good one: sequence, term, its id, what is left. */
    size_t n = answer(p, F2, 5, 100, 350, a);
    a[n] = '\0';
    ck_assert_str_eq(a, "A 7 5 33 750");
}
END_TEST

START_TEST(answers_the_leader_cannot_place_are_ignored)
{
    struct jslease l;
    jslease_init(&l, ET);
    char p[JSLEASE_LINE_MAX];
    jslease_probe(&l, 3, LEADER, 0, p, sizeof p); /* seq 1 */
    /* Unknown sequence, other term, more than raft could promise. */
    ck_assert_int_lt(take(&l, "A 9 3 22 500", 12), 0);
    ck_assert_int_lt(take(&l, "A 1 4 22 500", 12), 0);
    ck_assert_int_lt(take(&l, "A 1 3 22 2001", 13), 0);
    /* Malformed lines. */
    const char *bad[] = { "", "A", "A ", "A 1 3 22", "A 1 3 22 500 1", "A 1 3 22 -5",
                          "B 1 3 22 500", "A  1 3 22 500", "A 1 3 22 500x", "P 1 3 22 500" };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        ck_assert_msg(take(&l, bad[i], strlen(bad[i])) < 0, "took \"%s\"", bad[i]);
    ck_assert_int_le(jslease_until(&l, 3, LEADER, three, 3), 0);
    /* A probe too old for the ring is forgotten. */
    for (int i = 0; i < JSLEASE_RING; i++)
        jslease_probe(&l, 3, LEADER, i, p, sizeof p);
    ck_assert_int_lt(take(&l, "A 1 3 22 500", 12), 0);
    ck_assert_int_eq(take(&l, "A 2 3 22 500", 12), 0);
}
END_TEST

START_TEST(committed_entries_and_resets)
{
    struct jslease l;
    jslease_init(&l, ET);
    jslease_reset(&l, 4);
    /* A committed entry appended at 200: a majority heard it at 200 or later. */
    jslease_committed(&l, 4, 200);
    ck_assert_int_eq(jslease_until(&l, 4, LEADER, three, 3), 200 + ET - ET / 10 - JSLEASE_MARGIN_MS);
    /* One of an older term says nothing. */
    jslease_committed(&l, 3, 900);
    ck_assert_int_eq(jslease_until(&l, 4, LEADER, three, 3), 200 + ET - ET / 10 - JSLEASE_MARGIN_MS);
    /* A reset (a transfer, a lost leadership) forgets it all. */
    jslease_reset(&l, 4);
    ck_assert_int_le(jslease_until(&l, 4, LEADER, three, 3), 0);
    /* A group of one needs nobody. */
    const uint64_t alone[] = { LEADER };
    ck_assert(jslease_until(&l, 4, LEADER, alone, 1) == INT64_MAX);
}
END_TEST

static Suite *jslease_suite(void)
{
    Suite *s = suite_create("jslease");
    TCase *tc = tcase_create("lease");
    tcase_add_test(tc, one_answer_makes_a_majority_of_three);
    tcase_add_test(tc, five_voters_need_two_answers_and_take_the_weaker);
    tcase_add_test(tc, a_follower_promises_only_what_it_has);
    tcase_add_test(tc, answers_the_leader_cannot_place_are_ignored);
    tcase_add_test(tc, committed_entries_and_resets);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(jslease_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
