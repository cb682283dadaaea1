/*
 * tests/unit/check_prom.c — unit tests of proto/prom.c, the Prometheus
 * text exposition writer (format 0.0.4): family headers, label escaping
 * and UTF-8 repair, HELP escaping, and how values print.
 */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "proto/prom.h"

START_TEST(family_and_samples)
{
    struct prom p;
    prom_init(&p);
    prom_family(&p, "x_total", PROM_COUNTER, "Things seen");
    prom_u64(&p, NULL, 0, 18446744073709551615ULL);
    struct prom_label l[] = { { "a", "1" }, { "b", NULL } };
    prom_family(&p, "y", PROM_GAUGE, "Level");
    prom_i64(&p, l, 2, -5);
    prom_family(&p, "z", PROM_UNTYPED, "");
    prom_u64(&p, l, 1, 0);
    ck_assert(!p.failed);
    ck_assert_str_eq(p.buf, "# HELP x_total Things seen\n"
                            "# TYPE x_total counter\n"
                            "x_total 18446744073709551615\n"
                            "# HELP y Level\n"
                            "# TYPE y gauge\n"
                            "y{a=\"1\",b=\"\"} -5\n"
                            "# HELP z \n"
                            "# TYPE z untyped\n"
                            "z{a=\"1\"} 0\n");
    prom_free(&p);
}
END_TEST

START_TEST(label_escaping)
{
    char out[64];
    /* backslash, quote and newline are the three escapes */
    size_t n = prom_escape_label("a\\b\"c\nd", 7, out);
    ck_assert_uint_eq(n, 10);
    ck_assert(memcmp(out, "a\\\\b\\\"c\\nd", 10) == 0);
    /* tabs, other controls and valid UTF-8 pass as they are */
    n = prom_escape_label("\t\xc3\xa9\xe2\x82\xac", 6, out);
    ck_assert_uint_eq(n, 6);
    ck_assert(memcmp(out, "\t\xc3\xa9\xe2\x82\xac", 6) == 0);
    /* each invalid byte becomes U+FFFD: a lone continuation, a cut
     * sequence, an overlong form, a surrogate */
    n = prom_escape_label("\x80" "x\xe2\x82" "y\xc0\xaf\xed\xa0\x80", 10, out);
    ck_assert_uint_eq(n, 8 * 3 + 2);
    ck_assert(memcmp(out, "\xef\xbf\xbdx\xef\xbf\xbd\xef\xbf\xbdy", 11) == 0);
}
END_TEST

START_TEST(help_escaping)
{
    struct prom p;
    prom_init(&p);
    prom_family(&p, "h", PROM_GAUGE, "a \\ b\nc \"q\" \xc3\xa9");
    /* only \\ and \n are escaped in HELP; quotes stay; non-ASCII dropped */
    ck_assert_str_eq(p.buf, "# HELP h a \\\\ b\\nc \"q\" \n# TYPE h gauge\n");
    prom_free(&p);
}
END_TEST

START_TEST(float_values)
{
    struct prom p;
    prom_init(&p);
    prom_family(&p, "f", PROM_GAUGE, "F");
    prom_f64(&p, NULL, 0, 0.1);
    prom_f64(&p, NULL, 0, 1796625359.983);
    prom_f64(&p, NULL, 0, 5);
    prom_f64(&p, NULL, 0, NAN);
    prom_f64(&p, NULL, 0, INFINITY);
    prom_f64(&p, NULL, 0, -INFINITY);
    prom_f64(&p, NULL, 0, 1e300);
    ck_assert_str_eq(p.buf, "# HELP f F\n# TYPE f gauge\n"
                            "f 0.1\nf 1796625359.983\nf 5\nf NaN\nf +Inf\nf -Inf\nf 1e+300\n");
    prom_free(&p);
}
END_TEST

START_TEST(grows)
{
    struct prom p;
    prom_init(&p);
    char big[10000];
    memset(big, '"', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    struct prom_label l[] = { { "v", big } };
    prom_family(&p, "g", PROM_GAUGE, "G");
    for (int i = 0; i < 10; i++)
        prom_u64(&p, l, 1, (uint64_t)i);
    ck_assert(!p.failed);
    ck_assert_uint_eq(p.len, strlen(p.buf));
    /* 10 samples of "g{v=\"" + 2 x 9999 + "\"} i\n" after the header */
    ck_assert_uint_eq(p.len, strlen("# HELP g G\n# TYPE g gauge\n") + 10 * (5 + 19998 + 5));
    prom_free(&p);
}
END_TEST

static Suite *prom_suite(void)
{
    Suite *s = suite_create("prom");
    TCase *tc = tcase_create("text");
    tcase_add_test(tc, family_and_samples);
    tcase_add_test(tc, label_escaping);
    tcase_add_test(tc, help_escaping);
    tcase_add_test(tc, float_values);
    tcase_add_test(tc, grows);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(prom_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
