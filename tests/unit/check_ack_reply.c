/*
 * tests/unit/check_ack_reply.c — unit tests of proto/ack_reply.c, the
 * "<ack reply>@<stored subject>" form of a JetStream delivery on a route.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "proto/ack_reply.h"

static struct proto_slice sl(const char *s)
{
    return (struct proto_slice){ s, strlen(s) };
}

static bool split(const char *reply, char *ack, char *subject)
{
    struct proto_slice a = { NULL, 0 }, s = { NULL, 0 };
    if (!ack_reply_split(sl(reply), &a, &s))
        return false;
    ck_assert(a.ptr == reply && s.ptr == reply + a.len + 1); /* both point into reply */
    memcpy(ack, a.ptr, a.len);
    ack[a.len] = '\0';
    memcpy(subject, s.ptr, s.len);
    subject[s.len] = '\0';
    return true;
}

START_TEST(join_then_split)
{
    const char *ack = "$JS.ACK.ORDERS.C1.1.5.1.1700000000000000000.0";
    const char *subj = "orders.new";
    char buf[128], a[128], s[128];
    size_t n = ack_reply_join(buf, ack, strlen(ack), subj, strlen(subj));
    ck_assert_uint_eq(n, ack_reply_joined_len(strlen(ack), strlen(subj)));
    buf[n] = '\0';
    ck_assert_str_eq(buf, "$JS.ACK.ORDERS.C1.1.5.1.1700000000000000000.0@orders.new");
    ck_assert(split(buf, a, s));
    ck_assert_str_eq(a, ack);
    ck_assert_str_eq(s, subj);
}
END_TEST

START_TEST(split_edges)
{
    char a[128], s[128];
    /* Only "$JS.ACK." replies are split. */
    ck_assert(!split("_INBOX.x@orders.new", a, s));
    ck_assert(!split("$JS.ACKX@orders.new", a, s));
    ck_assert(!split("$js.ack.x@orders.new", a, s));
    ck_assert(!split("$JS.ACK.", a, s));
    ck_assert(!split("", a, s));
    /* No '@', or nothing after it. */
    ck_assert(!split("$JS.ACK.S.C.1.1.1.0.0", a, s));
    ck_assert(!split("$JS.ACK.S.C.1.1.1.0.0@", a, s));
    /* The last '@' splits: a subject with '@' does not come back whole. */
    ck_assert(split("$JS.ACK.S.C@a@b", a, s));
    ck_assert_str_eq(a, "$JS.ACK.S.C@a");
    ck_assert_str_eq(s, "b");
    /* Right after the prefix: an empty ack tail is still split. */
    ck_assert(split("$JS.ACK.@x", a, s));
    ck_assert_str_eq(a, "$JS.ACK.");
    ck_assert_str_eq(s, "x");
    /* The length, not a NUL, ends the reply. */
    struct proto_slice r = { "$JS.ACK.S@subj@more", 14 }, ack, subj;
    ck_assert(ack_reply_split(r, &ack, &subj));
    ck_assert_uint_eq(ack.len, 9);
    ck_assert_uint_eq(subj.len, 4);
    /* A failed split writes nothing. */
    struct proto_slice keep = { "k", 1 }, keep2 = keep;
    ck_assert(!ack_reply_split(sl("$JS.ACK.x"), &keep, &keep2));
    ck_assert(keep.ptr[0] == 'k' && keep2.len == 1);
}
END_TEST

static Suite *ack_reply_suite(void)
{
    Suite *s = suite_create("ack_reply");
    TCase *tc = tcase_create("codec");
    tcase_add_test(tc, join_then_split);
    tcase_add_test(tc, split_edges);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(ack_reply_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
