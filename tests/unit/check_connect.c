/*
 * tests/unit/check_connect.c — unit tests of proto/connect.c: CONNECT's
 * JSON decoded as nats-server's encoding/json does (types, null, key
 * case, the last key winning, Go's string decoding, its JSON grammar and
 * nesting limit). The cases were checked against nats-server 2.9.10 on a
 * raw socket (tests/integration/test_11_wire.py runs them on both).
 */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "proto/connect.h"

static struct connect_opts defaults(void)
{
    return (struct connect_opts){ .verbose = true, .pedantic = true, .echo = true };
}

static int decode(const char *js, struct connect_opts *o)
{
    return connect_decode(js, strlen(js), o);
}

static bool refused(const char *js)
{
    struct connect_opts o = defaults();
    int rc = decode(js, &o);
    connect_opts_free(&o);
    return rc == -EPROTO;
}

START_TEST(fields_and_types)
{
    struct connect_opts o = defaults();
    ck_assert_int_eq(decode("{\"verbose\":false,\"pedantic\":false,\"echo\":false,"
                            "\"headers\":true,\"no_responders\":true,\"protocol\":1,"
                            "\"user\":\"u\",\"pass\":\"p\",\"auth_token\":\"t\","
                            "\"name\":\"n\",\"lang\":\"c\",\"version\":\"1\","
                            "\"nkey\":\"K\",\"sig\":\"S\",\"jwt\":\"J\",\"tls_required\":true}",
                            &o),
                     0);
    ck_assert(!o.verbose && !o.pedantic && !o.echo && o.headers && o.no_responders);
    ck_assert(o.tls_required && o.protocol == 1);
    ck_assert_str_eq(o.user.s, "u");
    ck_assert_str_eq(o.pass.s, "p");
    ck_assert_str_eq(o.auth_token.s, "t");
    ck_assert_str_eq(o.name.s, "n");
    ck_assert_str_eq(o.nkey.s, "K");
    ck_assert_str_eq(o.jwt.s, "J");
    ck_assert(!o.account_key && !o.new_account_key);
    connect_opts_free(&o);
    ck_assert_ptr_null(o.user.s);

    /* Every known field refuses every other JSON type. */
    static const char *wrong[] = {
        "{\"verbose\":\"yes\"}", "{\"pedantic\":1}", "{\"echo\":[]}", "{\"headers\":\"true\"}",
        "{\"no_responders\":{}}", "{\"tls_required\":0}", "{\"new_account\":\"x\"}",
        "{\"user\":5}", "{\"pass\":true}", "{\"auth_token\":[]}", "{\"name\":1}",
        "{\"lang\":{}}", "{\"version\":false}", "{\"nkey\":1}", "{\"sig\":1}", "{\"jwt\":1}",
        "{\"account\":1}", "{\"protocol\":\"1\"}", "{\"protocol\":1.0}", "{\"protocol\":1e0}",
        "{\"protocol\":true}", "{\"protocol\":99999999999999999999}",
        "{\"protocol\":9223372036854775808}", "{\"import\":5}", "{\"export\":\"x\"}",
        "{\"import\":[]}", "{\"import\":{\"allow\":\"x\"}}", "{\"export\":{\"deny\":[1]}}",
        "{\"import\":{\"allow\":[[]]}}",
    };
    for (size_t i = 0; i < sizeof wrong / sizeof wrong[0]; i++)
        ck_assert_msg(refused(wrong[i]), "%s", wrong[i]);

    o = defaults();
    ck_assert_int_eq(decode("{\"protocol\":\"1\"}", &o), -EPROTO);
    ck_assert_str_eq(o.bad_field, "protocol");
    ck_assert_int_eq(decode("{\"protocol\":1", &o), -EPROTO);
    ck_assert_ptr_null(o.bad_field);
    ck_assert_int_eq(decode("{\"protocol\":-9223372036854775808}", &o), 0);
    ck_assert(o.protocol == INT64_MIN);
    ck_assert_int_eq(decode("{\"protocol\":-0}", &o), 0);
    ck_assert(o.protocol == 0);
    connect_opts_free(&o);
}
END_TEST

START_TEST(null_case_and_order)
{
    struct connect_opts o = defaults();
    ck_assert_int_eq(decode("null", &o), 0);
    ck_assert(o.verbose && o.pedantic && o.echo);
    ck_assert_int_eq(decode(" {\"verbose\":null,\"user\":\"a\",\"user\":null}\t", &o), 0);
    ck_assert(o.verbose);
    ck_assert_str_eq(o.user.s, "a");
    ck_assert_int_eq(decode("{\"Verbose\":false,\"PEDANTIC\":false,\"eChO\":false}", &o), 0);
    ck_assert(!o.verbose && !o.pedantic && !o.echo);
    ck_assert_int_eq(decode("{\"verbose\":true,\"VERBOSE\":false}", &o), 0);
    ck_assert(!o.verbose);
    /* Go folds U+017F to s and U+212A to k, nothing else. */
    ck_assert_int_eq(decode("{\"verbo\xc5\xbf" "e\":true,\"n\xe2\x84\xaa" "ey\":\"N\"}", &o), 0);
    ck_assert(o.verbose);
    ck_assert_str_eq(o.nkey.s, "N");
    ck_assert_int_eq(decode("{\"\\u0076erbose\":false,\"us\\u00e9r\":\"x\"}", &o), 0);
    ck_assert(!o.verbose);
    ck_assert_str_eq(o.user.s, "a");
    ck_assert_int_eq(decode("{\"account\":null,\"new_account\":null}", &o), 0);
    ck_assert(o.account_key && o.new_account_key);
    connect_opts_free(&o);
}
END_TEST

START_TEST(strings_as_go_decodes_them)
{
    struct connect_opts o = defaults();
    ck_assert_int_eq(decode("{\"name\":\"a\\u0000b\\n\\\"\\/\\u00e9\\ud83d\\ude00\"}", &o), 0);
    ck_assert_uint_eq(o.name.len, 12);
    ck_assert(memcmp(o.name.s, "a\0b\n\"/\xc3\xa9\xf0\x9f\x98\x80", 12) == 0);
    /* Lone surrogates and invalid UTF-8 become U+FFFD, byte by byte. */
    ck_assert_int_eq(decode("{\"name\":\"\\ud800x\\udc00\"}", &o), 0);
    ck_assert_str_eq(o.name.s, "\xef\xbf\xbdx\xef\xbf\xbd");
    ck_assert_int_eq(decode("{\"name\":\"\\ud800\\u0041\"}", &o), 0);
    ck_assert_str_eq(o.name.s, "\xef\xbf\xbd" "A");
    ck_assert_int_eq(decode("{\"name\":\"\xff\xed\xa0\x80\xc3\xa9\"}", &o), 0);
    ck_assert_str_eq(o.name.s, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xc3\xa9");
    connect_opts_free(&o);
    ck_assert(refused("{\"name\":\"a\x01\"}"));
    ck_assert(refused("{\"name\":\"\\q\"}"));
    ck_assert(refused("{\"name\":\"\\u00g0\"}"));
    ck_assert(refused("{\"name\":\"abc"));
}
END_TEST

START_TEST(grammar_and_skipping)
{
    static const char *ok[] = {
        "{}", " { } ", "{\"x\":99999999999999999999}", "{\"x\":-0.5e+10}",
        "{\"x\":[1,\"a\",{\"b\":[null,true,false]},[]],\"y\":{}}", "{\"x\":\"\\ud800\xff\"}",
        "{\"import\":{\"allow\":[null,\"a\"],\"z\":{\"q\":[1]}},\"export\":null}",
        "{\"import\":{\"ALLOW\":null,\"deny\":[]}}",
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        ck_assert_msg(!refused(ok[i]), "%s", ok[i]);
    static const char *bad[] = {
        "", " ", "[]", "\"x\"", "5", "true", "{bad", "{\"x\":1} junk", "{\"x\":[1,]}",
        "{\"x\":01}", "{\"x\":1.}", "{\"x\":.5}", "{\"x\":1e}", "{\"x\":-}", "{\"x\":tru}",
        "{\"x\":1,}", "{,}", "{\"x\" 1}", "{\"x\":{\"a\"}}", "{\"x\":[}", "{\"x\":{]}",
        "{\"x\":NaN}", "{'x':1}", "nul", "null x",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(refused(bad[i]), "%s", bad[i]);
}
END_TEST

START_TEST(depth_limit)
{
    /* Go's limit counts the outer object: 10000 levels in all pass. */
    size_t d = CONNECT_MAX_DEPTH - 1;
    char *js = malloc(2 * d + 64);
    for (int extra = 0; extra <= 1; extra++) {
        size_t n = d + (size_t)extra, o = 0;
        memcpy(js, "{\"x\":", 5);
        o = 5;
        memset(js + o, '[', n);
        o += n;
        memset(js + o, ']', n);
        o += n;
        js[o++] = '}';
        struct connect_opts opts = defaults();
        ck_assert_int_eq(connect_decode(js, o, &opts), extra ? -EPROTO : 0);
    }
    free(js);
}
END_TEST

static Suite *connect_suite(void)
{
    Suite *s = suite_create("connect");
    TCase *tc = tcase_create("decode");
    tcase_add_test(tc, fields_and_types);
    tcase_add_test(tc, null_case_and_order);
    tcase_add_test(tc, strings_as_go_decodes_them);
    tcase_add_test(tc, grammar_and_skipping);
    tcase_add_test(tc, depth_limit);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(connect_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
