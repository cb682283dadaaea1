/*
 * tests/unit/check_monitor_url.c — unit tests of server/monitor_url.c:
 * query splitting as Go's url.ParseQuery, strconv's parses and error
 * texts as nats-server's monitor writes them, strconv.Quote, and the
 * path's unescaping, cleaning and escaping as Go's net/http does them.
 * Expected texts were taken from nats-server 2.9.10's answers.
 */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "server/monitor_url.h"

static struct monitor_url_query parse(const char *raw)
{
    struct monitor_url_query q = { 0 };
    ck_assert_int_eq(monitor_url_query_parse(raw, strlen(raw), &q), 0);
    return q;
}

START_TEST(query_split_like_go)
{
    struct monitor_url_query q = parse("a=1&a=2&b&%zz=1&c=%zz&d;e=1&&f=x+y%2By&=v&g=%4");
    size_t n;
    ck_assert_str_eq(monitor_url_get(&q, "a", &n), "1"); /* the first wins */
    ck_assert_str_eq(monitor_url_get(&q, "b", &n), "");
    ck_assert_uint_eq(n, 0);
    ck_assert_ptr_null(monitor_url_get(&q, "c", &n));    /* bad escape: dropped */
    ck_assert_ptr_null(monitor_url_get(&q, "d", &n));    /* ';' drops the pair */
    ck_assert_ptr_null(monitor_url_get(&q, "e", &n));
    ck_assert_ptr_null(monitor_url_get(&q, "g", &n));
    ck_assert_str_eq(monitor_url_get(&q, "f", &n), "x y+y");
    ck_assert_str_eq(monitor_url_get(&q, "", &n), "v");
    monitor_url_query_free(&q);
    q = parse("k%00=v%00w");
    ck_assert_ptr_null(monitor_url_get(&q, "k", &n));    /* the key holds a NUL */
    ck_assert_uint_eq(q.n, 1);
    ck_assert_uint_eq(q.pairs[0].klen, 2);
    ck_assert_uint_eq(q.pairs[0].vlen, 3);
    monitor_url_query_free(&q);
}
END_TEST

static const char *err_of(const char *raw, int kind)
{
    static char err[1024];
    struct monitor_url_query q = parse(raw);
    bool b = false;
    int64_t i = 0;
    uint64_t u = 0;
    int rc = kind == 0   ? monitor_url_bool(&q, "k", &b, err, sizeof err)
             : kind == 1 ? monitor_url_int(&q, "k", &i, err, sizeof err)
                         : monitor_url_uint64(&q, "k", &u, err, sizeof err);
    monitor_url_query_free(&q);
    return rc == 0 ? NULL : err;
}

START_TEST(strconv_texts)
{
    ck_assert_str_eq(err_of("k=maybe", 0),
                     "Error decoding boolean for 'k': strconv.ParseBool: parsing \"maybe\": "
                     "invalid syntax");
    ck_assert_ptr_null(err_of("k=True", 0));
    ck_assert_ptr_null(err_of("k=", 0));
    ck_assert_str_eq(err_of("k=2", 0),
                     "Error decoding boolean for 'k': strconv.ParseBool: parsing \"2\": "
                     "invalid syntax");
    ck_assert_str_eq(err_of("k=abc", 1),
                     "Error decoding int for 'k': strconv.Atoi: parsing \"abc\": invalid syntax");
    ck_assert_str_eq(err_of("k=99999999999999999999x", 1),
                     "Error decoding int for 'k': strconv.Atoi: parsing "
                     "\"99999999999999999999x\": value out of range");
    ck_assert_str_eq(err_of("k=9223372036854775808", 1),
                     "Error decoding int for 'k': strconv.Atoi: parsing "
                     "\"9223372036854775808\": value out of range");
    ck_assert_ptr_null(err_of("k=-9223372036854775808", 1));
    ck_assert_ptr_null(err_of("k=%2B5", 1));
    ck_assert_str_eq(err_of("k=-", 1),
                     "Error decoding int for 'k': strconv.Atoi: parsing \"-\": invalid syntax");
    ck_assert_str_eq(err_of("k=%2B1", 2),
                     "Error decoding uint64 for 'k': strconv.ParseUint: parsing \"+1\": "
                     "invalid syntax");
    ck_assert_ptr_null(err_of("k=18446744073709551615", 2));
    ck_assert_str_eq(err_of("k=18446744073709551616", 2),
                     "Error decoding uint64 for 'k': strconv.ParseUint: parsing "
                     "\"18446744073709551616\": value out of range");

    struct monitor_url_query q = parse("k=-42&u=7");
    int64_t i = 1;
    uint64_t u = 0;
    bool b = true;
    ck_assert_int_eq(monitor_url_int(&q, "k", &i, NULL, 0), 0);
    ck_assert(i == -42);
    ck_assert_int_eq(monitor_url_uint64(&q, "u", &u, NULL, 0), 0);
    ck_assert(u == 7);
    ck_assert_int_eq(monitor_url_bool(&q, "absent", &b, NULL, 0), 0);
    ck_assert(b); /* left alone */
    monitor_url_query_free(&q);
}
END_TEST

static const char *quote(const char *s, size_t n)
{
    static char out[256];
    monitor_url_quote(out, sizeof out, s, n);
    return out;
}

START_TEST(go_quote)
{
    ck_assert_str_eq(quote("abc", 3), "\"abc\"");
    ck_assert_str_eq(quote("a\"b\\", 4), "\"a\\\"b\\\\\"");
    ck_assert_str_eq(quote("\0\a\b\f\n\r\t\v\x1b\x7f", 10),
                     "\"\\x00\\a\\b\\f\\n\\r\\t\\v\\x1b\\x7f\"");
    ck_assert_str_eq(quote("\xff\xc3", 2), "\"\\xff\\xc3\"");
    ck_assert_str_eq(quote("\xe2\x82\xac\xc3\xa9", 5), "\"\xe2\x82\xac\xc3\xa9\"");
    ck_assert_str_eq(quote("\xc2\xa0\xc2\x85\xe2\x80\xa8\xef\xbb\xbf", 10),
                     "\"\\u00a0\\u0085\\u2028\\ufeff\"");
    ck_assert_str_eq(quote("\xf3\xb0\x80\x80", 4), "\"\\U000f0000\"");
    ck_assert_str_eq(quote("\xed\xa0\x80", 3), "\"\\xed\\xa0\\x80\"");
    char small[6];
    ck_assert_uint_eq(monitor_url_quote(small, sizeof small, "abcdefgh", 8), 5);
    ck_assert_str_eq(small, "\"abcd");
}
END_TEST

static const char *clean(const char *p)
{
    static char out[256];
    size_t n = monitor_url_clean_path(p, strlen(p), out);
    ck_assert_uint_eq(n, strlen(out));
    return out;
}

START_TEST(paths)
{
    ck_assert_str_eq(clean(""), "/");
    ck_assert_str_eq(clean("varz"), "/varz");
    ck_assert_str_eq(clean("/varz"), "/varz");
    ck_assert_str_eq(clean("//varz"), "/varz");
    ck_assert_str_eq(clean("/a/../varz"), "/varz");
    ck_assert_str_eq(clean("/../../varz"), "/varz");
    ck_assert_str_eq(clean("/varz/"), "/varz/");
    ck_assert_str_eq(clean("/varz/."), "/varz");
    ck_assert_str_eq(clean("/varz/.."), "/");
    ck_assert_str_eq(clean("/a/b/../../c/./d/"), "/c/d/");
    ck_assert_str_eq(clean("/..."), "/...");
    ck_assert_str_eq(clean("/.a/..b"), "/.a/..b");

    char out[64];
    ck_assert_int_eq(monitor_url_unescape_path("/v%61rz%00x", 11, out), 7);
    ck_assert(memcmp(out, "/varz\0x", 7) == 0);
    ck_assert_int_eq(monitor_url_unescape_path("/a+b", 4, out), 4);
    ck_assert_str_eq(out, "/a+b"); /* '+' is itself in a path */
    ck_assert_int_eq(monitor_url_unescape_path("/%zz", 4, out), -EINVAL);
    ck_assert_int_eq(monitor_url_unescape_path("/%4", 3, out), -EINVAL);

    ck_assert_uint_eq(monitor_url_escape_path("/a b<>\"%?#\0~$&+,:;=@", 20, out), 36);
    ck_assert_str_eq(out, "/a%20b%3C%3E%22%25%3F%23%00~$&+,:;=@");
}
END_TEST

static Suite *monitor_url_suite(void)
{
    Suite *s = suite_create("monitor_url");
    TCase *tc = tcase_create("go");
    tcase_add_test(tc, query_split_like_go);
    tcase_add_test(tc, strconv_texts);
    tcase_add_test(tc, go_quote);
    tcase_add_test(tc, paths);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(monitor_url_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
