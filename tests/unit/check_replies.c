/*
 * tests/unit/check_replies.c — unit tests of server/replies.c, the reply
 * subjects an allow_responses user may answer: counts, expiry, a
 * delivery that opens a reply again, and the memory bounds.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/replies.h"

static bool use(struct replies *r, const char *s, int64_t now)
{
    return replies_use(r, s, strlen(s), now);
}

static void note(struct replies *r, const char *s, int64_t now)
{
    ck_assert_int_eq(replies_note(r, s, strlen(s), now), 0);
}

START_TEST(one_answer_by_default)
{
    struct replies *r = replies_new(1, 120000);
    ck_assert(!use(r, "_INBOX.a", 0)); /* never delivered */
    note(r, "_INBOX.a", 0);
    ck_assert(use(r, "_INBOX.a", 1));
    ck_assert(!use(r, "_INBOX.a", 2)); /* spent */
    ck_assert_uint_eq(replies_count(r), 0);
    /* Delivered again: open again, the count starts over. */
    note(r, "_INBOX.a", 3);
    ck_assert(use(r, "_INBOX.a", 4));
    ck_assert(!use(r, "_INBOX.a", 5));
    replies_free(r);
}
END_TEST

START_TEST(max_and_no_limit)
{
    struct replies *r = replies_new(3, 0);
    note(r, "r", 0);
    ck_assert(use(r, "r", 1) && use(r, "r", 2) && use(r, "r", 3));
    ck_assert(!use(r, "r", 4));
    replies_free(r);

    r = replies_new(-1, -1); /* negative: no limit, never expires */
    note(r, "r", 0);
    for (int i = 0; i < 1000; i++)
        ck_assert(use(r, "r", (int64_t)i * 1000000));
    replies_free(r);
}
END_TEST

START_TEST(expiry)
{
    struct replies *r = replies_new(5, 1000);
    note(r, "a", 0);
    note(r, "b", 500);
    ck_assert(use(r, "a", 1000)); /* 1000 ms after: still (not past) */
    ck_assert(!use(r, "a", 1001));
    ck_assert(use(r, "b", 1500));
    /* A later delivery prunes what expired before it. */
    note(r, "c", 2000);
    ck_assert_uint_eq(replies_count(r), 1);
    ck_assert(use(r, "c", 2999));
    replies_free(r);
}
END_TEST

START_TEST(bounds_drop_oldest)
{
    struct replies *r = replies_new(1, 0);
    char s[32];
    for (int i = 0; i < REPLIES_MAX_ENTRIES + 10; i++) {
        snprintf(s, sizeof s, "_INBOX.%d", i);
        note(r, s, i);
    }
    ck_assert_uint_eq(replies_count(r), REPLIES_MAX_ENTRIES);
    ck_assert(!use(r, "_INBOX.0", 0) && !use(r, "_INBOX.9", 0));
    ck_assert(use(r, "_INBOX.10", 0));
    snprintf(s, sizeof s, "_INBOX.%d", REPLIES_MAX_ENTRIES + 9);
    ck_assert(use(r, s, 0));
    /* Noting an old reply again moves it to the young end. */
    note(r, "_INBOX.11", 1);
    for (int i = 0; i < REPLIES_MAX_ENTRIES - 2; i++) {
        snprintf(s, sizeof s, "x.%d", i);
        note(r, s, 2);
    }
    ck_assert(use(r, "_INBOX.11", 3));
    replies_free(r);

    /* Bytes: long subjects give way before the count is reached. */
    r = replies_new(1, 0);
    size_t len = 4000;
    char *big = malloc(len + 1);
    memset(big, 'x', len);
    big[len] = '\0';
    for (int i = 0; i < 1000; i++) {
        big[0] = (char)('A' + i % 26);
        big[1] = (char)('A' + i / 26 % 26);
        big[2] = (char)('A' + i / 676);
        ck_assert_int_eq(replies_note(r, big, len, i), 0);
    }
    ck_assert(replies_bytes(r) <= REPLIES_MAX_BYTES);
    ck_assert_uint_eq(replies_count(r), REPLIES_MAX_BYTES / len);
    ck_assert(replies_use(r, big, len, 0)); /* the newest is there */
    free(big);
    replies_free(r);
}
END_TEST

START_TEST(lengths_not_nul)
{
    struct replies *r = replies_new(1, 0);
    ck_assert_int_eq(replies_note(r, "ab\0c", 4, 0), 0);
    ck_assert(!replies_use(r, "ab", 2, 0));
    ck_assert(replies_use(r, "ab\0c", 4, 0));
    replies_free(r);
    replies_free(NULL);
}
END_TEST

static Suite *replies_suite(void)
{
    Suite *s = suite_create("replies");
    TCase *tc = tcase_create("table");
    tcase_add_test(tc, one_answer_by_default);
    tcase_add_test(tc, max_and_no_limit);
    tcase_add_test(tc, expiry);
    tcase_add_test(tc, bounds_drop_oldest);
    tcase_add_test(tc, lengths_not_nul);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(replies_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
