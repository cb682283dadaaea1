/*
 * tests/unit/check_log_json.c — unit tests of server/log_json.c: the
 * fields found in Tern's log texts, JSON escaping, and the bound on a
 * line (always one valid object, cut messages say so). Lines are checked
 * with jansson, a parser that is not the code under test.
 */
#include <check.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "server/log_json.h"

static json_t *line(const char *time, const char *level, const char *msg, size_t len,
                    size_t cap)
{
    char *buf = malloc(cap);
    ck_assert_ptr_nonnull(buf);
    size_t n = log_json_format(buf, cap, time, level, 42, msg, len);
    ck_assert_uint_le(n, cap);
    ck_assert_uint_gt(n, 0);
    ck_assert_int_eq(buf[n - 1], '\n');
    ck_assert_ptr_null(memchr(buf, '\n', n - 1)); /* one line */
    json_error_t err;
    json_t *o = json_loadb(buf, n, 0, &err);
    ck_assert_msg(o != NULL, "not JSON (%s): %.*s", err.text, (int)n, buf);
    free(buf);
    return o;
}

static const char *str(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return v ? json_string_value(v) : NULL;
}

START_TEST(connection_prefix)
{
    const char *m = "127.0.0.1:52144 - cid:5 - Client connection created";
    json_t *o = line("2026-12-07T06:36:00.123456Z", "info", m, strlen(m), 4096);
    ck_assert_str_eq(str(o, "time"), "2026-12-07T06:36:00.123456Z");
    ck_assert_str_eq(str(o, "level"), "info");
    ck_assert_int_eq(json_integer_value(json_object_get(o, "pid")), 42);
    ck_assert_str_eq(str(o, "remote"), "127.0.0.1:52144");
    ck_assert_int_eq(json_integer_value(json_object_get(o, "cid")), 5);
    ck_assert_ptr_null(json_object_get(o, "rid"));
    ck_assert_str_eq(str(o, "msg"), "Client connection created");
    json_decref(o);

    m = "10.0.0.2:6222 - rid:17 - Route connection closed: EOF";
    o = line(NULL, "warn", m, strlen(m), 4096);
    ck_assert_ptr_null(json_object_get(o, "time"));
    ck_assert_int_eq(json_integer_value(json_object_get(o, "rid")), 17);
    ck_assert_str_eq(str(o, "msg"), "Route connection closed: EOF");
    json_decref(o);

    /* IPv6 hosts have colons but no spaces */
    m = "::1:4222 - cid:9223372036854775807 - <<- [PING]";
    o = line(NULL, "trace", m, strlen(m), 4096);
    ck_assert_str_eq(str(o, "remote"), "::1:4222");
    ck_assert_int_eq(json_integer_value(json_object_get(o, "cid")), 9223372036854775807LL);
    json_decref(o);
    /* the largest id there is; past it the text is no prefix */
    struct log_json_fields f;
    log_json_parse("h:1 - cid:18446744073709551615 - x", 34, &f);
    ck_assert_uint_eq(f.id, 18446744073709551615ULL);
    log_json_parse("h:1 - cid:18446744073709551616 - x", 34, &f);
    ck_assert_ptr_null(f.id_name);
}
END_TEST

START_TEST(not_a_prefix)
{
    static const char *const texts[] = {
        "Server is ready",
        "out of memory queueing a flush for cid 12",
        "a b:1 - cid:5 - spaces in the remote",
        " - cid:5 - no remote",
        "h:1 - cid: - no digits",
        "h:1 - cid:5x - junk after the id",
        "h:1 - pid:5 - another key",
        "h:1 - cid:123456789012345678901 - too long",
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        struct log_json_fields f;
        log_json_parse(texts[i], strlen(texts[i]), &f);
        ck_assert_msg(!f.remote && !f.id_name, "%s", texts[i]);
        ck_assert(f.msg == texts[i] && f.msg_len == strlen(texts[i]));
    }
    /* the id may end the text */
    struct log_json_fields f;
    log_json_parse("h:1 - cid:9", 11, &f);
    ck_assert_uint_eq(f.id, 9);
    ck_assert_uint_eq(f.msg_len, 0);
}
END_TEST

START_TEST(stream_field)
{
    const char *m = "JetStream: stream 'ORDERS': storing a message failed: No space";
    json_t *o = line(NULL, "error", m, strlen(m), 4096);
    ck_assert_str_eq(str(o, "stream"), "ORDERS");
    ck_assert_str_eq(str(o, "msg"), m); /* the message stays whole */
    json_decref(o);
    struct log_json_fields f;
    log_json_parse("a stream 'X' outside JetStream", 30, &f);
    ck_assert_ptr_null(f.stream);
    log_json_parse("JetStream: stream '' empty", 26, &f);
    ck_assert_ptr_null(f.stream);
    log_json_parse("JetStream: stream 'unterminated", 31, &f);
    ck_assert_ptr_null(f.stream);
}
END_TEST

START_TEST(escaping)
{
    const char m[] = "q\" b\\ n\n t\t c\x01 del\x7f bad\xff ok\xc3\xa9";
    json_t *o = line(NULL, "debug", m, sizeof m - 1, 4096);
    ck_assert_str_eq(str(o, "msg"), "q\" b\\ n\n t\t c\x01 del\x7f bad\xef\xbf\xbd ok\xc3\xa9");
    json_decref(o);
}
END_TEST

START_TEST(bounded)
{
    /* 2000 control bytes escape to 12000: cut to fit, still an object */
    char m[2000];
    memset(m, 0x01, sizeof m);
    json_t *o = line("2026-12-07T06:36:00.123456+01:00", "fatal", m, sizeof m, 1024);
    ck_assert(json_is_true(json_object_get(o, "truncated")));
    ck_assert_uint_gt(strlen(str(o, "msg")), 100);
    json_decref(o);
    /* a cut never splits a UTF-8 character */
    char u[3000];
    for (size_t i = 0; i + 1 < sizeof u; i += 2)
        memcpy(u + i, "\xc3\xa9", 2);
    for (size_t cap = 256; cap < 300; cap++) {
        o = line(NULL, "info", u, sizeof u, cap);
        ck_assert(json_is_true(json_object_get(o, "truncated")));
        json_decref(o);
    }
    /* a remote too long to fit is left out, the message still comes */
    char r[600];
    memset(r, 'h', sizeof r);
    memcpy(r + 500, " - cid:1 - hi", 13);
    o = line(NULL, "info", r, 513, 256);
    ck_assert_ptr_null(json_object_get(o, "remote"));
    ck_assert_int_eq(json_integer_value(json_object_get(o, "cid")), 1);
    json_decref(o);
}
END_TEST

static Suite *log_json_suite(void)
{
    Suite *s = suite_create("log_json");
    TCase *tc = tcase_create("lines");
    tcase_add_test(tc, connection_prefix);
    tcase_add_test(tc, not_a_prefix);
    tcase_add_test(tc, stream_field);
    tcase_add_test(tc, escaping);
    tcase_add_test(tc, bounded);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(log_json_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
