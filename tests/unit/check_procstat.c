/*
 * tests/unit/check_procstat.c — unit tests of server/procstat.c: the
 * fields of /proc/<pid>/stat counted from the command's last ')', bad
 * texts refused, and this process's own file read.
 */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "server/procstat.h"

START_TEST(fields_after_the_command)
{
    /* a command holding spaces and parentheses, as prctl allows */
    const char *t = "1234 (a) b) (c) S 1 1234 1234 0 -1 4194560 100 0 0 0 7 3 0 0 20 0 1 0 "
                    "5555 109084672 1257 18446744073709551615 1 1 0 0 0 0 0 0 0\n";
    struct procstat ps;
    ck_assert_int_eq(procstat_parse(t, strlen(t), &ps), 0);
    ck_assert_uint_eq(ps.utime, 7);
    ck_assert_uint_eq(ps.stime, 3);
    ck_assert_uint_eq(ps.vsize, 109084672);
    ck_assert_uint_eq(ps.rss, 1257);
    /* the text may end right after rss; a negative rss reads as 0 */
    t = "1 (x) R 0 0 0 0 0 0 0 0 0 0 18446744073709551615 2 0 0 0 0 0 0 0 1 -3";
    ck_assert_int_eq(procstat_parse(t, strlen(t), &ps), 0);
    ck_assert_uint_eq(ps.utime, 18446744073709551615ULL);
    ck_assert_uint_eq(ps.rss, 0);
}
END_TEST

START_TEST(refused)
{
    static const char *const bad[] = {
        "",
        "1 (x S 1 2 3",                                                 /* no ')' */
        "1 (x) S 0 0 0 0 0 0 0 0 0 0 1 2 0 0 0 0 0 0 0 1",              /* no rss */
        "1 (x) S 0 0 0 0 0 0 0 0 0 0 1x 2 0 0 0 0 0 0 0 1 2",           /* junk */
        "1 (x) S 0 0 0 0 0 0 0 0 0 0 18446744073709551616 2 0 0 0 0 0 0 0 1 2", /* > 2^64 */
        "1 (x) S 0 0 0 0 0 0 0 0 0 0 - 2 0 0 0 0 0 0 0 1 2",            /* a lone sign */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct procstat ps;
        ck_assert_msg(procstat_parse(bad[i], strlen(bad[i]), &ps) == -EINVAL, "%s", bad[i]);
    }
}
END_TEST

START_TEST(this_process)
{
    struct procstat ps;
    ck_assert_int_eq(procstat_read(&ps), 0);
    ck_assert_uint_gt(ps.rss, 0);
    ck_assert_uint_ge(ps.vsize, ps.rss);
    int64_t fds = procstat_open_fds();
    ck_assert_int_ge(fds, 3); /* stdin, stdout, stderr at least */
}
END_TEST

static Suite *procstat_suite(void)
{
    Suite *s = suite_create("procstat");
    TCase *tc = tcase_create("stat");
    tcase_add_test(tc, fields_after_the_command);
    tcase_add_test(tc, refused);
    tcase_add_test(tc, this_process);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(procstat_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
