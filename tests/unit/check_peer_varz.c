/*
 * tests/unit/check_peer_varz.c — unit tests of server/peer_varz.c: the
 * figures /clusterz shows read from a node's /varz answer, fields of the
 * wrong type or too long left empty, bodies that are not objects or too
 * large refused.
 */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "server/peer_varz.h"

static int parse(const char *text, struct peer_varz *v)
{
    return peer_varz_parse(text, strlen(text), v);
}

START_TEST(figures_read)
{
    struct peer_varz v;
    ck_assert_int_eq(parse("{\"server_id\":\"NID\",\"server_name\":\"B\",\"version\":\"2.9.10\","
                           "\"tern_version\":\"0.1.0\",\"uptime\":\"1m2s\",\"connections\":3,"
                           "\"total_connections\":9,\"routes\":2,\"subscriptions\":12,"
                           "\"in_msgs\":100,\"out_msgs\":200,\"in_bytes\":1000,"
                           "\"out_bytes\":2000,\"mem\":4096,\"cpu\":2.5,\"extra\":[1]}",
                           &v),
                     0);
    ck_assert_str_eq(v.server_id, "NID");
    ck_assert_str_eq(v.server_name, "B");
    ck_assert_str_eq(v.tern_version, "0.1.0");
    ck_assert_str_eq(v.uptime, "1m2s");
    ck_assert_int_eq(v.connections, 3);
    ck_assert_int_eq(v.routes, 2);
    ck_assert_int_eq(v.in_msgs, 100);
    ck_assert_int_eq(v.out_bytes, 2000);
    ck_assert(v.cpu == 2.5);
}
END_TEST

START_TEST(wrong_types_and_sizes_left_empty)
{
    struct peer_varz v;
    char big[400];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    char text[600];
    snprintf(text, sizeof text,
             "{\"server_name\":\"%s\",\"server_id\":7,\"connections\":\"3\",\"cpu\":true,"
             "\"in_msgs\":1.5,\"uptime\":[]}", big);
    ck_assert_int_eq(parse(text, &v), 0);
    ck_assert_str_eq(v.server_name, "");  /* too long: not cut */
    ck_assert_str_eq(v.server_id, "");
    ck_assert_str_eq(v.uptime, "");
    ck_assert_int_eq(v.connections, 0);
    ck_assert_int_eq(v.in_msgs, 0);
    ck_assert(v.cpu == 0);
}
END_TEST

START_TEST(refused)
{
    struct peer_varz v;
    ck_assert_int_eq(parse("", &v), -EINVAL);
    ck_assert_int_eq(parse("[]", &v), -EINVAL);
    ck_assert_int_eq(parse("{\"a\":1", &v), -EINVAL);
    ck_assert_int_eq(parse("{\"a\":1,\"a\":2}", &v), -EINVAL); /* duplicate keys */
    ck_assert_int_eq(parse("<html>502</html>", &v), -EINVAL);
    ck_assert_int_eq(parse("{\"uptime\":\"a\\u0000b\"}", &v), -EINVAL); /* a NUL */
    size_t n = PEER_VARZ_MAX_BODY + 1;
    char *huge = malloc(n);
    ck_assert_ptr_nonnull(huge);
    memset(huge, ' ', n);
    ck_assert_int_eq(peer_varz_parse(huge, n, &v), -E2BIG);
    free(huge);
    ck_assert_int_eq(peer_varz_from_json(NULL, &v), -EINVAL);
}
END_TEST

static Suite *peer_varz_suite(void)
{
    Suite *s = suite_create("peer_varz");
    TCase *tc = tcase_create("read");
    tcase_add_test(tc, figures_read);
    tcase_add_test(tc, wrong_types_and_sizes_left_empty);
    tcase_add_test(tc, refused);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(peer_varz_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
