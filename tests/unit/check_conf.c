/*
 * tests/unit/check_conf.c — the config-file parser (server/conf.c).
 *
 * Each test parses a small text (or temp files, for includes) and checks
 * the exact values, positions and error lines that nats-server gives for
 * the same input (spec/server-cli-config.md §2.1). Links conf.c only.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "server/conf.h"

static struct conf_doc *doc;
static char err[512];

static void teardown(void)
{
    conf_free(doc);
    doc = NULL;
}

static int parse(const char *text)
{
    conf_free(doc);
    doc = NULL;
    err[0] = '\0';
    return conf_parse_string(text, strlen(text), "t.conf", NULL, &doc, err, sizeof err);
}

/* Parse text that must fail and return the error line. */
static const char *parse_err(const char *text)
{
    int rc = parse(text);
    ck_assert_msg(rc < 0, "expected an error for <%s>", text);
    ck_assert_ptr_null(doc);
    return err;
}

static const struct conf_value *get(const char *key)
{
    const struct conf_entry *e = conf_map_find(doc->root, key);
    ck_assert_msg(e != NULL, "key %s missing", key);
    return e->val;
}

static int64_t get_int(const char *key)
{
    const struct conf_value *v = get(key);
    ck_assert_int_eq(v->type, CONF_INT);
    return v->u.i;
}

static const char *get_str(const char *key)
{
    const struct conf_value *v = get(key);
    ck_assert_msg(v->type == CONF_STRING, "%s is a %s", key, conf_type_name(v->type));
    return v->u.str.s;
}

static bool get_bool(const char *key)
{
    const struct conf_value *v = get(key);
    ck_assert_int_eq(v->type, CONF_BOOL);
    return v->u.b;
}

START_TEST(separators)
{
    ck_assert_int_eq(parse("a = 1\nb: 2\nc 3\nd=4\n"), 0);
    ck_assert_int_eq(get_int("a"), 1);
    ck_assert_int_eq(get_int("b"), 2);
    ck_assert_int_eq(get_int("c"), 3);
    ck_assert_int_eq(get_int("d"), 4);
    ck_assert_uint_eq(doc->root->u.map.n, 4);
    /* §2.1: several values on one line. */
    ck_assert_int_eq(parse("port: 14296, server_name: \"x\"; max_connections: 5"), 0);
    ck_assert_int_eq(get_int("port"), 14296);
    ck_assert_str_eq(get_str("server_name"), "x");
    ck_assert_int_eq(get_int("max_connections"), 5);
}
END_TEST

START_TEST(comments_and_braces)
{
    ck_assert_int_eq(parse("# top\n// also\n{\n  a: 1 # trailing\n  b: 2 // trailing\n}\n"), 0);
    ck_assert_int_eq(get_int("a"), 1);
    ck_assert_int_eq(get_int("b"), 2);
    /* '#' inside an unquoted word belongs to the word. */
    ck_assert_int_eq(parse("a: x#y\n"), 0);
    ck_assert_str_eq(get_str("a"), "x#y");
}
END_TEST

START_TEST(positions)
{
    ck_assert_int_eq(parse("a: 1\n  bee = {\n    c: [1, \"two\"]\n  }\n"), 0);
    const struct conf_entry *e = conf_map_find(doc->root, "bee");
    ck_assert_int_eq(e->line, 2);
    ck_assert_int_eq(e->col, 3);
    ck_assert_str_eq(e->file, "t.conf");
    const struct conf_entry *c = conf_map_find(e->val, "c");
    ck_assert_int_eq(c->line, 3);
    ck_assert_int_eq(c->col, 5);
    ck_assert_int_eq(c->val->u.arr.items[1]->line, 3);
    ck_assert_int_eq(c->val->u.arr.items[1]->col, 12);
}
END_TEST

START_TEST(maps_and_case)
{
    ck_assert_int_eq(parse("outer {\n inner { x: 1 }\n y = 2\n}\n"), 0);
    const struct conf_value *o = get("OUTER");
    ck_assert_int_eq(o->type, CONF_MAP);
    const struct conf_entry *in = conf_map_find(o, "Inner");
    ck_assert_ptr_nonnull(in);
    ck_assert_int_eq(conf_map_find(in->val, "x")->val->u.i, 1);
    ck_assert_int_eq(conf_map_find(o, "y")->val->u.i, 2);
    /* Map keys may be quoted; a map value may follow a newline. */
    ck_assert_int_eq(parse("m {\n \"a b\": 1\n 'c': \n 2\n}\n"), 0);
    ck_assert_int_eq(conf_map_find(get("m"), "a b")->val->u.i, 1);
    ck_assert_int_eq(conf_map_find(get("m"), "c")->val->u.i, 2);
}
END_TEST

START_TEST(duplicate_keys_last_wins)
{
    ck_assert_int_eq(parse("port: 1\nport: 2\n"), 0);
    ck_assert_uint_eq(doc->root->u.map.n, 1);
    ck_assert_int_eq(get_int("port"), 2);
    ck_assert_int_eq(conf_map_find(doc->root, "port")->line, 2);
}
END_TEST

START_TEST(arrays)
{
    ck_assert_int_eq(parse("a: [1, 2, 3]\nb: [\n  x\n  y, z\n\n]\nc: []\n"), 0);
    const struct conf_value *a = get("a");
    ck_assert_int_eq(a->type, CONF_ARRAY);
    ck_assert_uint_eq(a->u.arr.n, 3);
    ck_assert_int_eq(a->u.arr.items[2]->type, CONF_INT);
    ck_assert_int_eq(a->u.arr.items[2]->u.i, 3);
    const struct conf_value *b = get("b");
    ck_assert_uint_eq(b->u.arr.n, 3);
    ck_assert_str_eq(b->u.arr.items[0]->u.str.s, "x");
    ck_assert_str_eq(b->u.arr.items[2]->u.str.s, "z");
    ck_assert_uint_eq(get("c")->u.arr.n, 0);
    ck_assert_str_eq(parse_err("a: [, 1]\n"), "t.conf:1:5: Unexpected array value terminator ','.");
    ck_assert_str_eq(parse_err("a: [1 2]\n"),
                     "t.conf:1:7: Expected an array value terminator \",\" or an array "
                     "terminator \"]\", but got '2' instead.");
}
END_TEST

START_TEST(strings)
{
    ck_assert_int_eq(parse("a: \"t\\tn\\nq\\\"b\\\\x\\x41\"\nb: 'no \\t escapes'\nc: bare/word.x\n"
                           "d: \"\"\n"), 0);
    ck_assert_str_eq(get_str("a"), "t\tn\nq\"b\\xA");
    ck_assert_str_eq(get_str("b"), "no \\t escapes");
    ck_assert_str_eq(get_str("c"), "bare/word.x");
    ck_assert_str_eq(get_str("d"), "");
    /* \x00 is kept: the length says so. */
    ck_assert_int_eq(parse("z: \"a\\x00b\"\n"), 0);
    ck_assert_uint_eq(get("z")->u.str.len, 3);
    /* Unquoted strings end at , ; ] } and whitespace. */
    ck_assert_int_eq(parse("m { k: v}\nl: [p,q]\n"), 0);
    ck_assert_str_eq(conf_map_find(get("m"), "k")->val->u.str.s, "v");
    ck_assert_str_eq(get("l")->u.arr.items[1]->u.str.s, "q");
    ck_assert_str_eq(parse_err("a: \"\\q\"\n"),
                     "t.conf:1:7: Invalid escape character 'q'. Only the following escape "
                     "characters are allowed: \\xXX, \\t, \\n, \\r, \\\", \\\\.");
    ck_assert_str_eq(parse_err("a: \"\\xZZ\"\n"),
                     "t.conf:1:9: Expected two hexadecimal digits after '\\x', but got 'ZZ'");
    ck_assert_str_eq(parse_err("a: \"never closed\nb: 2\n"), "t.conf:3:1: Unexpected EOF.");
    ck_assert_str_eq(parse_err("a: 'never closed"), "t.conf:1:17: Unexpected EOF.");
}
END_TEST

START_TEST(block_strings)
{
    ck_assert_int_eq(parse("text: (\nline one\n  line (two)\n)\nafter: 1\n"), 0);
    ck_assert_str_eq(get_str("text"), "\nline one\n  line (two)\n");
    ck_assert_int_eq(get_int("after"), 1);
    ck_assert_int_eq(parse("t: (\nx\n)"), 0);
    ck_assert_str_eq(get_str("t"), "\nx\n");
    ck_assert_str_eq(parse_err("t: (\nnever closed )\n"),
                     "t.conf:3:1: Unexpected EOF processing block.");
}
END_TEST

START_TEST(booleans)
{
    ck_assert_int_eq(parse("a: true\nb: FALSE\nc: yes\nd: No\ne: on\nf: OFF\ng: \"true\"\n"), 0);
    ck_assert(get_bool("a"));
    ck_assert(!get_bool("b"));
    ck_assert(get_bool("c"));
    ck_assert(!get_bool("d"));
    ck_assert(get_bool("e"));
    ck_assert(!get_bool("f"));
    ck_assert_str_eq(get_str("g"), "true");
}
END_TEST

START_TEST(integers_and_suffixes)
{
    ck_assert_int_eq(parse("a: 1k\nb: 1kb\nc: 1Ki\nd: 1KiB\ne: 2m\nf: 1MB\ng: 32MiB\n"
                           "h: 1g\ni: 1GB\nj: 1t\nk: 1tb\nl: 1p\nm: 1pb\nn: 1e\no: 1eb\n"
                           "p: -10\nq: 64M\nr: -2k\n"), 0);
    ck_assert_int_eq(get_int("a"), 1000);
    ck_assert_int_eq(get_int("b"), 1024);
    ck_assert_int_eq(get_int("c"), 1024);
    ck_assert_int_eq(get_int("d"), 1024);
    ck_assert_int_eq(get_int("e"), 2000000);
    ck_assert_int_eq(get_int("f"), 1048576);
    ck_assert_int_eq(get_int("g"), 33554432);
    ck_assert_int_eq(get_int("h"), 1000000000);
    ck_assert_int_eq(get_int("i"), 1073741824);
    ck_assert_int_eq(get_int("j"), 1000000000000LL);
    ck_assert_int_eq(get_int("k"), 1099511627776LL);
    ck_assert_int_eq(get_int("l"), 1000000000000000LL);
    ck_assert_int_eq(get_int("m"), 1125899906842624LL);
    ck_assert_int_eq(get_int("n"), 1000000000000000000LL);
    ck_assert_int_eq(get_int("o"), 1152921504606846976LL);
    ck_assert_int_eq(get_int("p"), -10);
    ck_assert_int_eq(get_int("q"), 64000000);
    ck_assert_int_eq(get_int("r"), -2000);
    /* Not a suffix: the whole word is a string (as "10s" for durations). */
    ck_assert_int_eq(parse("a: 10s\nb: 1h30m\nc: 4222abc\n"), 0);
    ck_assert_str_eq(get_str("a"), "10s");
    ck_assert_str_eq(get_str("b"), "1h30m");
    ck_assert_str_eq(get_str("c"), "4222abc");
}
END_TEST

START_TEST(huge_numbers)
{
    ck_assert_str_eq(parse_err("a: 99999999999999999999\n"),
                     "t.conf:1:4: integer '99999999999999999999' is out of the range");
    ck_assert_str_eq(parse_err("a: 10e\n"), "t.conf:1:4: integer '10e' is out of the range");
    ck_assert_str_eq(parse_err("a: 16eb\n"), "t.conf:1:4: integer '16eb' is out of the range");
    ck_assert_int_eq(parse("a: 9223372036854775807\nb: -9223372036854775808\n"), 0);
    ck_assert_int_eq(get_int("a"), INT64_MAX);
    ck_assert_int_eq(get_int("b"), INT64_MIN);
    ck_assert_str_eq(parse_err("a: 1kbb\n"), "t.conf:1:4: invalid size suffix in '1kbb'");
    /* As nats-server: a digit ends a sized integer, so "1e" is read first. */
    ck_assert_str_eq(parse_err("a: 1e999999.5\n"),
                     "t.conf:1:6: Expected a top-level value to end with a new line, comment "
                     "or EOF, but got '9' instead.");
}
END_TEST

START_TEST(floats_datetimes_ips)
{
    ck_assert_int_eq(parse("a: 1.5\nb: -0.25\nc: 2026-01-02T15:04:05Z\nd: 127.0.0.1:4222\n"
                           "e: 10.0.0.1\n"), 0);
    ck_assert_int_eq(get("a")->type, CONF_FLOAT);
    ck_assert_double_eq(get("a")->u.f, 1.5);
    ck_assert_double_eq(get("b")->u.f, -0.25);
    ck_assert_int_eq(get("c")->type, CONF_DATETIME);
    ck_assert_int_eq(get("c")->u.unix_secs, 1767366245);
    ck_assert_str_eq(get_str("d"), "127.0.0.1:4222");
    ck_assert_str_eq(get_str("e"), "10.0.0.1");
    ck_assert_str_eq(parse_err("a: .5\n"), "t.conf:1:4: Floats must start with a digit");
    ck_assert_str_eq(parse_err("a: 1.x\n"),
                     "t.conf:1:6: Floats must have a digit after the '.', but got 'x' instead.");
    ck_assert_str_eq(parse_err("a: 12-01\n"),
                     "t.conf:1:6: All ISO8601 dates must be in full Zulu form.");
    ck_assert_str_eq(parse_err("a: 2026-01-02T15:04:05\n"),
                     "t.conf:1:23: Expected 'Z' in ISO8601 datetime, but found '\\n' instead.");
    ck_assert_str_eq(parse_err("a: 2026-13-02T15:04:05Z\n"),
                     "t.conf:1:4: expected Zulu formatted DateTime, but got '2026-13-02T15:04:05Z'");
}
END_TEST

START_TEST(variables)
{
    ck_assert_int_eq(parse("k = 1\nport: $k\nm { k = 2, v: $k, w: [$k] }\nz: $k\n"), 0);
    ck_assert_int_eq(get_int("port"), 1);
    const struct conf_value *m = get("m");
    ck_assert_int_eq(conf_map_find(m, "v")->val->u.i, 2);   /* nearest map first */
    ck_assert_int_eq(conf_map_find(m, "w")->val->u.arr.items[0]->u.i, 2);
    ck_assert_int_eq(get_int("z"), 1);
    ck_assert(conf_map_find(doc->root, "k")->used_variable);
    ck_assert(!conf_map_find(doc->root, "port")->used_variable);
    /* A variable's value may be a map; the copy is independent. */
    ck_assert_int_eq(parse("perm = { publish: \"a.>\" }\nu: $perm\n"), 0);
    ck_assert_str_eq(conf_map_find(get("u"), "publish")->val->u.str.s, "a.>");
    /* Redefining an already referenced variable makes it a plain key again. */
    ck_assert_int_eq(parse("k = 1\np: $k\nk = 2\n"), 0);
    ck_assert(!conf_map_find(doc->root, "k")->used_variable);
    ck_assert_str_eq(parse_err("a: 1\nport: $nope\n"),
                     "t.conf:2:7: variable reference for 'nope' on line 2 can not be found");
    /* Defined later does not count. */
    ck_assert_str_eq(parse_err("p: $k\nk = 1\n"),
                     "t.conf:1:4: variable reference for 'k' on line 1 can not be found");
}
END_TEST

START_TEST(bcrypt_is_literal)
{
    ck_assert_int_eq(parse("p: $2a$11$W2zko751KUvVy59mUTWmpOdWjp\nq: $2y$10$abc\n"), 0);
    ck_assert_str_eq(get_str("p"), "$2a$11$W2zko751KUvVy59mUTWmpOdWjp");
    ck_assert_str_eq(get_str("q"), "$2y$10$abc");
}
END_TEST

START_TEST(environment)
{
    setenv("TERN_TEST_TOK", "sekret", 1);
    setenv("TERN_TEST_NUM", "32MiB", 1);
    setenv("TERN_TEST_ARR", "[a, b]", 1);
    setenv("TERN_TEST_REF", "$TERN_TEST_NUM", 1);
    setenv("TERN_TEST_LOOP", "$TERN_TEST_LOOP", 1);
    setenv("TERN_TEST_BAD", "[", 1);
    ck_assert_int_eq(parse("t: $TERN_TEST_TOK\nn: $TERN_TEST_NUM\na: $TERN_TEST_ARR\n"
                           "r: $TERN_TEST_REF\n"), 0);
    ck_assert_str_eq(get_str("t"), "sekret");
    ck_assert_int_eq(get_int("n"), 33554432);
    ck_assert_uint_eq(get("a")->u.arr.n, 2);
    ck_assert_int_eq(get_int("r"), 33554432);
    ck_assert_int_eq(get("t")->line, 1);
    ck_assert_int_eq(get("t")->col, 4);
    ck_assert_str_eq(parse_err("x: $TERN_TEST_LOOP\n"),
                     "t.conf:1:4: variable reference for 'TERN_TEST_LOOP' on line 1 could not be "
                     "parsed: variable reference for 'TERN_TEST_LOOP' on line 1 could not be "
                     "parsed: variable reference cycle for 'TERN_TEST_LOOP'");
    ck_assert_str_eq(parse_err("x: $TERN_TEST_BAD\n"),
                     "t.conf:1:4: variable reference for 'TERN_TEST_BAD' on line 1 could not be "
                     "parsed: Unexpected EOF processing array.");
    /* A map key shadows the environment. */
    ck_assert_int_eq(parse("TERN_TEST_TOK = mine\nt: $TERN_TEST_TOK\n"), 0);
    ck_assert_str_eq(get_str("t"), "mine");
    /* no_env ignores it. */
    struct conf_parse_opts po = { .no_env = true };
    const char *txt = "t: $TERN_TEST_TOK\n";
    ck_assert_int_eq(conf_parse_string(txt, strlen(txt), "t.conf", &po, &doc, err, sizeof err), -EINVAL);
    ck_assert_str_eq(err, "t.conf:1:4: variable reference for 'TERN_TEST_TOK' on line 1 can not be found");
}
END_TEST

START_TEST(syntax_errors)
{
    ck_assert_str_eq(parse_err("a: 1 2\n"),
                     "t.conf:1:6: Expected a top-level value to end with a new line, comment "
                     "or EOF, but got '2' instead.");
    ck_assert_str_eq(parse_err("m { a: 1 2 }\n"),
                     "t.conf:1:10: Expected a map value terminator \",\" or a map terminator "
                     "\"}\", but got '2' instead.");
    ck_assert_str_eq(parse_err("m { a: 1\n"), "t.conf:2:1: Unexpected EOF processing map.");
    ck_assert_str_eq(parse_err(": 1\n"), "t.conf:1:1: Unexpected key separator ':'");
    ck_assert_str_eq(parse_err("m { =1 }\n"), "t.conf:1:5: Unexpected key separator '='.");
    ck_assert_str_eq(parse_err("a =\n1\n"), "t.conf:1:4: Expected value but found new line");
    ck_assert_str_eq(parse_err("lonely"), "t.conf:1:1: expected a value for key \"lonely\"");
    ck_assert_str_eq(parse_err("m { k }\n"), "t.conf:1:5: expected a value for key \"k\"");
    ck_assert_str_eq(parse_err("a: -x\n"), "t.conf:1:5: Expected a digit but got 'x'.");
}
END_TEST

START_TEST(hostile_input)
{
    /* Nesting past the limit is an error, not a stack overflow. */
    size_t n = 100000;
    char *deep = malloc(3 * n + 8);
    memcpy(deep, "a: ", 3);
    memset(deep + 3, '[', n);
    deep[3 + n] = '\0';
    ck_assert_int_eq(parse(deep), -E2BIG);
    ck_assert_str_eq(err, "t.conf:1:68: nesting deeper than 64 levels");
    for (size_t i = 0; i < n; i++)
        memcpy(deep + 3 + 3 * i, "{a:", 3);
    deep[3 + 3 * n] = '\0';
    ck_assert_int_eq(parse(deep), -E2BIG);
    /* Braces around the top level count too. */
    memset(deep, '{', n);
    deep[n] = '\0';
    ck_assert_int_eq(parse(deep), -E2BIG);
    free(deep);
    /* $variables that double at each level hit the value budget. */
    char bomb[4096] = "a0 = [1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]\n";
    for (int i = 1; i < 12; i++) {
        char line[128];
        snprintf(line, sizeof line, "a%d = [$a%d,$a%d,$a%d,$a%d,$a%d,$a%d,$a%d,$a%d]\n",
                 i, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1);
        strcat(bomb, line);
    }
    ck_assert_int_eq(parse(bomb), -E2BIG);
    ck_assert_msg(strstr(err, "config has more than") != NULL, "%s", err);
    /* Binary junk is an error or a tree, never a crash. */
    const char junk[] = "\x01\xff{[\"\\x";
    ck_assert_int_lt(conf_parse_string(junk, sizeof junk, "j", NULL, &doc, err, sizeof err), 0);
}
END_TEST

/* ---- includes: real files in a temp dir ---- */

static char tmpdir[64];

static void write_file(const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

static int parse_path(const char *name)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    conf_free(doc);
    doc = NULL;
    return conf_parse_file(path, NULL, &doc, err, sizeof err);
}

static void inc_setup(void)
{
    strcpy(tmpdir, "/tmp/check_conf_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
    char sub[128];
    snprintf(sub, sizeof sub, "%s/sub", tmpdir);
    ck_assert_int_eq(mkdir(sub, 0700), 0);
}

static void inc_teardown(void)
{
    teardown();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    ck_assert_int_eq(system(cmd), 0);
}

START_TEST(include_merges_in_place)
{
    write_file("main.conf", "port: 1\ninclude ./sub/auth.conf\nm { include \"sub/inner.conf\" }\n"
                            "x: 9\n");
    write_file("sub/auth.conf", "authorization { token: abc }\nport: 2\ninclude 'deeper.conf'\n");
    write_file("sub/deeper.conf", "d = 5\nfrom_deeper: $d\n");
    write_file("sub/inner.conf", "k: v\n");
    ck_assert_int_eq(parse_path("main.conf"), 0);
    ck_assert_int_eq(get_int("port"), 2); /* the include came later: it wins */
    ck_assert_str_eq(conf_map_find(get("authorization"), "token")->val->u.str.s, "abc");
    ck_assert_int_eq(get_int("from_deeper"), 5);
    ck_assert(conf_map_find(doc->root, "d")->used_variable);
    ck_assert_str_eq(conf_map_find(get("m"), "k")->val->u.str.s, "v");
    /* Positions point into the included file. */
    const struct conf_entry *a = conf_map_find(doc->root, "authorization");
    ck_assert_msg(strstr(a->file, "sub/auth.conf") != NULL, "%s", a->file);
    ck_assert_int_eq(a->line, 1);
}
END_TEST

START_TEST(include_errors)
{
    write_file("missing.conf", "a: 1\ninclude nothere.conf\n");
    ck_assert_int_eq(parse_path("missing.conf"), -ENOENT);
    ck_assert_msg(strstr(err, "missing.conf:2:9: error parsing include file '") &&
                  strstr(err, "nothere.conf', No such file or directory"), "%s", err);
    write_file("bad.conf", "include inner_bad.conf\n");
    write_file("inner_bad.conf", "a: 1\nb: [\n");
    ck_assert_int_eq(parse_path("bad.conf"), -EINVAL);
    ck_assert_msg(strstr(err, "inner_bad.conf:3:1: Unexpected EOF processing array.") != NULL, "%s", err);
    write_file("self.conf", "include self.conf\n");
    ck_assert_int_eq(parse_path("self.conf"), -E2BIG);
    ck_assert_msg(strstr(err, "include nesting deeper than 10 files") != NULL, "%s", err);
    ck_assert_str_eq(parse_err("include [a]\n"),
                     "t.conf:1:9: Expected include value but found start of an array");
    struct conf_parse_opts po = { .no_includes = true };
    const char *txt = "include x.conf\n";
    ck_assert_int_lt(conf_parse_string(txt, strlen(txt), "t.conf", &po, &doc, err, sizeof err), 0);
    ck_assert_str_eq(err, "t.conf:1:9: includes are disabled");
    ck_assert_int_eq(parse_path("no_such_file.conf"), -ENOENT);
    ck_assert_msg(strstr(err, "error opening config file") != NULL, "%s", err);
}
END_TEST

static Suite *conf_suite(void)
{
    Suite *s = suite_create("conf");
    TCase *tc = tcase_create("syntax");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, separators);
    tcase_add_test(tc, comments_and_braces);
    tcase_add_test(tc, positions);
    tcase_add_test(tc, maps_and_case);
    tcase_add_test(tc, duplicate_keys_last_wins);
    tcase_add_test(tc, arrays);
    tcase_add_test(tc, strings);
    tcase_add_test(tc, block_strings);
    tcase_add_test(tc, booleans);
    tcase_add_test(tc, integers_and_suffixes);
    tcase_add_test(tc, huge_numbers);
    tcase_add_test(tc, floats_datetimes_ips);
    tcase_add_test(tc, variables);
    tcase_add_test(tc, bcrypt_is_literal);
    tcase_add_test(tc, environment);
    tcase_add_test(tc, syntax_errors);
    tcase_add_test(tc, hostile_input);
    suite_add_tcase(s, tc);
    TCase *inc = tcase_create("include");
    tcase_add_checked_fixture(inc, inc_setup, inc_teardown);
    tcase_add_test(inc, include_merges_in_place);
    tcase_add_test(inc, include_errors);
    suite_add_tcase(s, inc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(conf_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
