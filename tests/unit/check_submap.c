/*
 * tests/unit/check_submap.c — unit tests of proto/submap.c, the subject
 * mappings of a stream's republish {src, dest}.
 *
 * Every expected subject below is what nats-server 2.9.10 republished a
 * stored message to (a stream per row, a '>' subscriber watching), and
 * every refused pair is one it refused with "stream configuration for
 * republish not valid".
 */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "proto/submap.h"

/* Map subject through src -> dest; "" for "not under src". */
static char *map(const char *src, const char *dest, const char *subject)
{
    struct submap *m = NULL;
    ck_assert_msg(submap_compile(src, dest, &m) == 0, "%s -> %s refused", src, dest);
    char *out = NULL;
    size_t n = 0;
    int rc = submap_apply(m, subject, strlen(subject), &out, &n);
    submap_free(m);
    if (rc == -ENOENT)
        return strdup("");
    ck_assert_msg(rc == 0, "%s -> %s on %s: %d", src, dest, subject, rc);
    ck_assert_uint_eq(n, strlen(out));
    return out;
}

#define MAPS(src, dest, subject, want)                                                     \
    do {                                                                                   \
        char *got_ = map(src, dest, subject);                                              \
        ck_assert_msg(strcmp(got_, want) == 0, "%s -> %s on %s: got '%s', want '%s'", src, \
                      dest, subject, got_, want);                                          \
        free(got_);                                                                        \
    } while (0)

START_TEST(wildcards_and_rest)
{
    MAPS(">", "r.>", "a.b.c", "r.a.b.c");
    MAPS("a.>", "r.>", "a.b.c", "r.b.c"); /* only what src's '>' took */
    MAPS("a.*.*", "r.$2.$1", "a.x.y", "r.y.x");
    MAPS("a.*.*", "r.{{wildcard(2)}}.{{ Wildcard(1) }}", "a.x.y", "r.y.x");
    MAPS("a.*.>", "r.$1.>", "a.x.y.z", "r.x.y.z");
    MAPS("a.*.>", "r.$1.>", "a.x.y", "r.x.y");
    MAPS("a.*", "r.$+1", "a.x", "r.x");
    MAPS("a.*", "r.{{wildcard( 1 )}}", "a.x", "r.x");
    MAPS("a.*", "r.{{ wildcard (1) }}", "a.v", "r.v");
    /* an index of 0 or below reads the subject's first token */
    MAPS("a.*", "r.{{wildcard(0)}}", "a.x", "r.a");
    MAPS("a.*", "r.$0", "a.x", "r.a");
    MAPS("a.*", "r.$-1", "a.x", "r.a");
    /* "$x" and "{{}}" are text */
    MAPS("a.*", "r.$x.$1", "a.v", "r.$x.v");
    MAPS("a.*", "r.$1.{{}}", "a.vw", "r.vw.{{}}");
}
END_TEST

START_TEST(literal_source)
{
    MAPS("a.x", "r.lit", "a.x", "r.lit");
    MAPS("a.x", "r.lit", "a.y", "");      /* not under src: nothing */
    MAPS("a.*", "r.$1", "a.x.y", "");
}
END_TEST

START_TEST(partitions)
{
    MAPS("a.*", "r.{{partition(4,1)}}.$1", "a.hello", "r.3.hello");
    MAPS("a.*", "r.{{partition(10,1)}}", "a.k17", "r.2");
    MAPS("a.*.*", "r.{{partition(7,1,2)}}.$1.$2", "a.foo.bar", "r.0.foo.bar");
    MAPS("a.*.*", "r.{{partition(5,1,2)}}.{{partition(5,2,1)}}", "a.k1.k2", "r.2.0");
    MAPS("a.*", "r.$1.{{partition(3,1)}}", "a.q", "r.q.0");
    MAPS("a.*", "r.{{partition(2, 1)}}.{{partition(2,1 )}}", "a.vw", "r.0.0");
    /* a negative count is int32 -> uint32 in Go */
    MAPS("a.*", "r.{{partition(-3,1)}}", "a.abc", "r.440920331");
    /* 0 buckets: nats-server divides by zero; here the subject is refused */
    struct submap *m = NULL;
    char *out = NULL;
    size_t n;
    ck_assert_int_eq(submap_compile("a.*", "r.{{partition(0,1)}}", &m), 0);
    ck_assert_int_eq(submap_apply(m, "a.x", 3, &out, &n), -EINVAL);
    submap_free(m);
}
END_TEST

START_TEST(cutting_functions)
{
    MAPS("a.*", "r.{{splitFromLeft(1,2)}}", "a.abcdef", "r.ab.cdef");
    MAPS("a.*", "r.{{splitFromRight(1,2)}}", "a.abcdef", "r.abcd.ef");
    MAPS("a.*", "r.{{splitFromLeft(1,9)}}", "a.abc", "r.abc");
    MAPS("a.*", "r.{{splitFromLeft(1,-1)}}", "a.abc", "r.abc");
    MAPS("a.*", "r.{{SplitFromLeft(1,1)}}", "a.vw", "r.v.w");
    MAPS("a.*", "r.{{sliceFromLeft(1,2)}}", "a.abcde", "r.ab.cd.e");
    MAPS("a.*", "r.{{sliceFromRight(1,2)}}", "a.abcde", "r.a.bc.de");
    MAPS("a.*", "r.{{sliceFromLeft(1,3)}}", "a.abcdef", "r.abc.def");
    MAPS("a.*", "r.{{sliceFromLeft(1,0)}}", "a.abc", "r.abc");
    MAPS("a.*", "r.{{split(1,-)}}", "a.-x--y-z-", "r.x.y.z");
    MAPS("a.*", "r.{{split(1,-)}}", "a.x-y", "r.x.y");
    MAPS("a.*", "r.{{split(1,ab)}}", "a.1ab2abab3", "r.1.2.3");
    MAPS("a.*", "r.{{Split(1,)}}", "a.xyz", "r.x.y.z"); /* every rune */
    /* a token that splits into nothing leaves an empty token (nats-server
     * then sends to a subject nobody can hold; the caller checks) */
    MAPS("a.*", "r.{{split(1,-)}}.$1", "a.-", "r..-");
}
END_TEST

START_TEST(refused)
{
    static const char *const bad[][2] = {
        { "a.*", "r.{{wildcard()}}" },  { "a.*", "r.{{foo(1)}}" },
        { "a.*", "r.{{partition(3)}}" }, { "a.*", "r.{{split(1,a b)}}" },
        { "a.*", "r.x" },                { "a.*.*", "r.$2" },
        { "a.*", "r.$2" },               { ">", "r" },
        { "a.*", "r.{{wildCard(1)}}" },  { "a.*", "r.{{SPLITFROMLEFT(1,1)}}" },
        { "a.*", "r.{{split(1,x,y)}}" }, { "a.*", "r.{{sliceFromRight(1,2,3)}}" },
        { "a.*", "r.$1.{{x}}" },         { "a.*", "r.$1.{{()}}" },
        { "a.*", "r.*" },                { "a", "" },
        { "a..b", "r" },                 { "a.>.b", "r.>" },
        { "a", "r.>" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct submap *m = (struct submap *)1;
        ck_assert_msg(submap_compile(bad[i][0], bad[i][1], &m) == -EINVAL, "%s -> %s taken",
                      bad[i][0], bad[i][1]);
        ck_assert(m == (struct submap *)1); /* untouched */
    }
}
END_TEST

START_TEST(subjects_that_are_not_literal)
{
    struct submap *m = NULL;
    char *out = NULL;
    size_t n;
    ck_assert_int_eq(submap_compile(">", "r.>", &m), 0);
    ck_assert_int_eq(submap_apply(m, "a..b", 4, &out, &n), -EINVAL);
    ck_assert_int_eq(submap_apply(m, "a.*", 3, &out, &n), -EINVAL);
    ck_assert_int_eq(submap_apply(m, "a.>", 3, &out, &n), -EINVAL);
    ck_assert_int_eq(submap_apply(m, "", 0, &out, &n), -EINVAL);
    /* the length, not a NUL, ends the subject; long subjects are fine */
    ck_assert_int_eq(submap_apply(m, "a.bc", 3, &out, &n), 0);
    ck_assert_str_eq(out, "r.a.b");
    free(out);
    char big[200];
    for (int i = 0; i < 100; i++)
        big[2 * i] = 'x', big[2 * i + 1] = '.';
    big[199] = '\0';
    ck_assert_int_eq(submap_apply(m, big, strlen(big), &out, &n), 0);
    ck_assert_uint_eq(n, strlen(big) + 2);
    ck_assert(strncmp(out, "r.x.x.", 6) == 0);
    free(out);
    submap_free(m);
    /* ">" -> ">" keeps every subject as it is */
    ck_assert_int_eq(submap_compile(">", ">", &m), 0);
    ck_assert_int_eq(submap_apply(m, "q.w", 3, &out, &n), 0);
    ck_assert_str_eq(out, "q.w");
    free(out);
    submap_free(m);
}
END_TEST

static Suite *submap_suite(void)
{
    Suite *s = suite_create("submap");
    TCase *tc = tcase_create("2.9.10");
    tcase_add_test(tc, wildcards_and_rest);
    tcase_add_test(tc, literal_source);
    tcase_add_test(tc, partitions);
    tcase_add_test(tc, cutting_functions);
    tcase_add_test(tc, refused);
    tcase_add_test(tc, subjects_that_are_not_literal);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(submap_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
