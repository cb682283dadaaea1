/*
 * tests/unit/check_header.c — unit tests of proto/header.c.
 *
 * The value rules are the ones nats-server 2.9.10 showed for Nats-Msg-Id
 * de-duplication: names are case-sensitive, leading spaces of a value are
 * dropped, tabs and trailing spaces are kept.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "proto/header.h"

/* The value of name in hdr as a string, or NULL; "" for an empty value. */
static const char *get(const char *hdr, const char *name)
{
    static char out[256];
    size_t n;
    const char *v = header_get(hdr, strlen(hdr), name, &n);
    if (!v)
        return NULL;
    ck_assert(v >= hdr && v + n <= hdr + strlen(hdr)); /* points into hdr */
    ck_assert_uint_lt(n, sizeof out);
    memcpy(out, v, n);
    out[n] = '\0';
    return out;
}

START_TEST(status_line_only)
{
    ck_assert_ptr_null(get("NATS/1.0\r\n\r\n", "Nats-Msg-Id"));
    ck_assert_ptr_null(get("NATS/1.0 503\r\n\r\n", "Nats-Msg-Id"));
    ck_assert_ptr_null(get("NATS/1.0", "Nats-Msg-Id"));
    /* The status line is not a header, whatever it holds. */
    ck_assert_ptr_null(get("Nats-Msg-Id: a\r\n\r\n", "Nats-Msg-Id"));
    size_t n;
    ck_assert_ptr_null(header_get(NULL, 0, "Nats-Msg-Id", &n));
    ck_assert_ptr_null(header_get("", 0, "Nats-Msg-Id", &n));
}
END_TEST

START_TEST(several_headers)
{
    const char *h = "NATS/1.0\r\nFoo: 1\r\nNats-Msg-Id: abc\r\n"
                    "Nats-Expected-Stream: ORDERS\r\nBar: 2\r\n\r\n";
    ck_assert_str_eq(get(h, "Foo"), "1");
    ck_assert_str_eq(get(h, "Nats-Msg-Id"), "abc");
    ck_assert_str_eq(get(h, "Nats-Expected-Stream"), "ORDERS");
    ck_assert_str_eq(get(h, "Bar"), "2");
    ck_assert_ptr_null(get(h, "Baz"));
    /* The first of two wins. */
    ck_assert_str_eq(get("NATS/1.0\r\nA: 1\r\nA: 2\r\n\r\n", "A"), "1");
    /* A whole name only: neither a prefix nor a suffix of another. */
    ck_assert_ptr_null(get("NATS/1.0\r\nNats-Msg-Id-X: a\r\n\r\n", "Nats-Msg-Id"));
    ck_assert_str_eq(get("NATS/1.0\r\nX-Nats-Msg-Id: z\r\nNats-Msg-Id: a\r\n\r\n",
                         "Nats-Msg-Id"), "a");
    ck_assert_ptr_null(get("NATS/1.0\r\nFoo: Nats-Msg-Id: a\r\n\r\n", "Nats-Msg-Id"));
    /* The length, not a NUL, ends the block. */
    size_t n;
    const char *b = "NATS/1.0\r\nA: 1\r\nB: 2\r\n\r\n";
    ck_assert_ptr_null(header_get(b, 16, "B", &n));
    ck_assert_ptr_nonnull(header_get(b, 22, "B", &n));
    ck_assert_uint_eq(n, 1);
}
END_TEST

START_TEST(whitespace)
{
    ck_assert_str_eq(get("NATS/1.0\r\nA:x\r\n\r\n", "A"), "x");
    ck_assert_str_eq(get("NATS/1.0\r\nA:    x\r\n\r\n", "A"), "x");
    ck_assert_str_eq(get("NATS/1.0\r\nA: x y\r\n\r\n", "A"), "x y");
    /* Trailing spaces and tabs are part of the value, as in nats-server. */
    ck_assert_str_eq(get("NATS/1.0\r\nA: x \r\n\r\n", "A"), "x ");
    ck_assert_str_eq(get("NATS/1.0\r\nA: \tx\r\n\r\n", "A"), "\tx");
    ck_assert_str_eq(get("NATS/1.0\r\nA:\r\n\r\n", "A"), "");
    ck_assert_str_eq(get("NATS/1.0\r\nA:   \r\n\r\n", "A"), "");
    /* No space is allowed between name and colon. */
    ck_assert_ptr_null(get("NATS/1.0\r\nA : x\r\n\r\n", "A"));
    ck_assert_ptr_null(get("NATS/1.0\r\n A: x\r\n\r\n", "A"));
    /* A bare LF ends a line too; a block cut short ends the last value. */
    ck_assert_str_eq(get("NATS/1.0\nA: x\nB: y\n", "B"), "y");
    ck_assert_str_eq(get("NATS/1.0\r\nA: x", "A"), "x");
    ck_assert_str_eq(get("NATS/1.0\r\nA: x\r", "A"), "x\r");
}
END_TEST

START_TEST(case_is_kept)
{
    const char *h = "NATS/1.0\r\nnats-msg-id: a\r\nNATS-MSG-ID: b\r\n\r\n";
    ck_assert_ptr_null(get(h, "Nats-Msg-Id"));
    ck_assert_str_eq(get(h, "nats-msg-id"), "a");
    ck_assert_str_eq(get(h, "NATS-MSG-ID"), "b");
}
END_TEST

static Suite *header_suite(void)
{
    Suite *s = suite_create("header");
    TCase *tc = tcase_create("get");
    tcase_add_test(tc, status_line_only);
    tcase_add_test(tc, several_headers);
    tcase_add_test(tc, whitespace);
    tcase_add_test(tc, case_is_kept);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(header_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
