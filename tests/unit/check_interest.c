/*
 * tests/unit/check_interest.c — cluster/interest: which RS+/RS- lines a
 * node sends its routes as local subscriptions come and go. The expected
 * lines are the sequence captured from nats-server in
 * spec/cluster-protocol.md §4.2.
 */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/interest.h"

/* Collects emitted lines into one string. */
struct sink {
    char text[1 << 16];
    size_t len;
    int lines;
};

static void collect(void *arg, const char *line, size_t len)
{
    struct sink *s = arg;
    ck_assert_uint_lt(s->len + len, sizeof s->text);
    memcpy(s->text + s->len, line, len);
    s->len += len;
    s->text[s->len] = '\0';
    s->lines++;
}

START_TEST(live_sequence_matches_reference)
{
    struct interest *in = interest_new();
    struct sink s = { .len = 0 };
    ck_assert_int_eq(interest_add(in, "$G", "foo", NULL, collect, &s), 0);
    ck_assert_int_eq(interest_add(in, "$G", "req.*", NULL, collect, &s), 0);
    ck_assert_int_eq(interest_add(in, "$G", "qq", "grp", collect, &s), 0);
    ck_assert_int_eq(interest_add(in, "$G", "both", "grp", collect, &s), 0);
    ck_assert_int_eq(interest_add(in, "$G", "both", "grp", collect, &s), 0);
    ck_assert_str_eq(s.text, "RS+ $G foo\r\nRS+ $G req.*\r\nRS+ $G qq grp 1\r\n"
                             "RS+ $G both grp 1\r\nRS+ $G both grp 2\r\n");
    s.len = 0;
    s.text[0] = '\0';
    ck_assert_int_eq(interest_remove(in, "$G", "foo", NULL, collect, &s), 0);
    ck_assert_int_eq(interest_remove(in, "$G", "qq", "grp", collect, &s), 0);
    ck_assert_int_eq(interest_remove(in, "$G", "both", "grp", collect, &s), 0);
    ck_assert_str_eq(s.text, "RS- $G foo\r\nRS- $G qq grp\r\nRS+ $G both grp 1\r\n");
    s.len = 0;
    s.text[0] = '\0';
    ck_assert_int_eq(interest_remove(in, "$G", "req.*", NULL, collect, &s), 0);
    ck_assert_int_eq(interest_remove(in, "$G", "both", "grp", collect, &s), 0);
    ck_assert_str_eq(s.text, "RS- $G req.*\r\nRS- $G both grp\r\n");
    ck_assert_uint_eq(interest_count(in), 0);
    interest_free(in);
}
END_TEST

START_TEST(plain_key_emits_only_on_first_and_last)
{
    struct interest *in = interest_new();
    struct sink s = { .len = 0 };
    for (int i = 0; i < 3; i++)
        interest_add(in, "$G", "same", NULL, collect, &s);
    ck_assert_int_eq(s.lines, 1);
    interest_remove(in, "$G", "same", NULL, collect, &s);
    interest_remove(in, "$G", "same", NULL, collect, &s);
    ck_assert_int_eq(s.lines, 1);
    interest_remove(in, "$G", "same", NULL, collect, &s);
    ck_assert_int_eq(s.lines, 2);
    ck_assert_str_eq(s.text, "RS+ $G same\r\nRS- $G same\r\n");
    ck_assert_int_eq(interest_remove(in, "$G", "same", NULL, collect, &s), -ENOENT);
    interest_free(in);
}
END_TEST

START_TEST(overlapping_patterns_and_accounts_are_separate_keys)
{
    struct interest *in = interest_new();
    struct sink s = { .len = 0 };
    interest_add(in, "$G", "foo.*", NULL, collect, &s);
    interest_add(in, "$G", "foo.bar", NULL, collect, &s);
    interest_add(in, "A", "foo.bar", NULL, collect, &s);
    interest_add(in, "$G", "foo.bar", "q", collect, &s);
    ck_assert_int_eq(s.lines, 4);
    ck_assert_uint_eq(interest_count(in), 4);
    interest_free(in);
}
END_TEST

START_TEST(dump_sends_every_key_with_queue_weights)
{
    struct interest *in = interest_new();
    struct sink s = { .len = 0 };
    interest_add(in, "$G", "work", "q1", collect, &s);
    interest_add(in, "$G", "work", "q1", collect, &s);
    interest_add(in, "$G", "foo", NULL, collect, &s);
    interest_add(in, "$G", "foo", NULL, collect, &s);
    s.len = 0;
    s.text[0] = '\0';
    s.lines = 0;
    ck_assert_uint_eq(interest_dump(in, collect, &s), 2);
    ck_assert_int_eq(s.lines, 2);
    ck_assert_ptr_nonnull(strstr(s.text, "RS+ $G work q1 2\r\n"));
    ck_assert_ptr_nonnull(strstr(s.text, "RS+ $G foo\r\n"));
    interest_free(in);
}
END_TEST

START_TEST(many_keys_survive_growth)
{
    struct interest *in = interest_new();
    struct sink s = { .len = 0 };
    char subj[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(subj, sizeof subj, "s.%d", i);
        ck_assert_int_eq(interest_add(in, "$G", subj, NULL, collect, &s), 0);
        s.len = 0;
    }
    ck_assert_uint_eq(interest_count(in), 5000);
    for (int i = 0; i < 5000; i++) {
        snprintf(subj, sizeof subj, "s.%d", i);
        ck_assert_int_eq(interest_remove(in, "$G", subj, NULL, collect, &s), 0);
        s.len = 0;
    }
    ck_assert_uint_eq(interest_count(in), 0);
    interest_free(in);
}
END_TEST

/* Concurrent loops: every add has its remove; the final state is empty and
 * each thread's own key produced exactly one RS+ and one RS-. */
struct worker_arg {
    struct interest *in;
    int id;
    int lines;
};

static void count_line(void *arg, const char *line, size_t len)
{
    (void)line;
    (void)len;
    ((struct worker_arg *)arg)->lines++;
}

static void *churn(void *p)
{
    struct worker_arg *w = p;
    char subj[32];
    snprintf(subj, sizeof subj, "t.%d", w->id);
    for (int i = 0; i < 2000; i++) {
        interest_add(w->in, "$G", subj, NULL, count_line, w);
        interest_add(w->in, "$G", "shared", "q", count_line, w);
        interest_remove(w->in, "$G", "shared", "q", count_line, w);
        interest_remove(w->in, "$G", subj, NULL, count_line, w);
    }
    return NULL;
}

START_TEST(concurrent_changes_balance)
{
    struct interest *in = interest_new();
    pthread_t th[4];
    struct worker_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (struct worker_arg){ .in = in, .id = i };
        pthread_create(&th[i], NULL, churn, &args[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        /* Own key: RS+ and RS- per round; shared queue key: one line per change. */
        ck_assert_int_eq(args[i].lines, 2000 * 4);
    }
    ck_assert_uint_eq(interest_count(in), 0);
    interest_free(in);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("interest");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, live_sequence_matches_reference);
    tcase_add_test(tc, plain_key_emits_only_on_first_and_last);
    tcase_add_test(tc, overlapping_patterns_and_accounts_are_separate_keys);
    tcase_add_test(tc, dump_sends_every_key_with_queue_weights);
    tcase_add_test(tc, many_keys_survive_growth);
    tcase_add_test(tc, concurrent_changes_balance);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
