/*
 * tests/unit/check_auth.c — Check suite for server/auth.c: each auth mode,
 * NKEY users (server/nkey.c, against vectors from another implementation),
 * bcrypt and its cache, config conflicts, no_auth_user, permissions and the
 * refcount lifetime.
 *
 * Options are built by hand (zeroed struct tern_opts, fields set), never
 * through opts.c. Permission tables encode answers observed from a real
 * nats-server 2.9.10 over a raw socket; each table names the user config
 * that produced them. No sleeps: threads are joined.
 */
#include <check.h>
#include <crypt.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/auth.h"
#include "server/nkey.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))
/* A char ** list and its length, for struct opts_perm fields. */
#define LIST(...) ((char *[]){ __VA_ARGS__ }), NELEM(((char *[]){ __VA_ARGS__ }))

/* Verified by hand: nats-server 2.9.10 with users = [{ user: doc, password:
 * "<DOC_HASH>" }] admits pass "correct horse" and refuses "correct horsf". */
static const char DOC_HASH[] = "$2a$11$TernFixedSaltValue012ubPcjaeRa1ml7WpXjj4hwXZs2ofoCzEO";
static const char DOC_SETTING[] = "$2a$11$TernFixedSaltValue012u";

static char err[256];

static struct auth *build(const struct tern_opts *o)
{
    struct auth *a;

    err[0] = '\0';
    a = auth_new(o, err, sizeof(err));
    ck_assert_msg(a != NULL, "auth_new failed: %s", err);
    return a;
}

static void expect_error(const struct tern_opts *o, const char *text)
{
    err[0] = '\0';
    ck_assert_ptr_null(auth_new(o, err, sizeof(err)));
    ck_assert_str_eq(err, text);
}

static int check_up(const struct auth *a, const char *user, const char *pass)
{
    struct auth_creds c = { .user = user, .pass = pass };

    return auth_check(a, &c, NULL, NULL);
}

static int check_tok(const struct auth *a, const char *token)
{
    struct auth_creds c = { .token = token };

    return auth_check(a, &c, NULL, NULL);
}

/* bcrypt hash of pass with a fixed salt, e.g. prefix "$2b$", cost 5. */
static char *make_hash(const char *prefix, unsigned long cost, const char *pass)
{
    static const char salt_bytes[16] = "tern-fixed-salt";
    struct crypt_data *cd = calloc(1, sizeof(*cd));
    char setting[CRYPT_GENSALT_OUTPUT_SIZE];
    char *out;

    ck_assert_ptr_nonnull(cd);
    ck_assert_ptr_nonnull(crypt_gensalt_rn(prefix, cost, salt_bytes, sizeof(salt_bytes),
                                           setting, sizeof(setting)));
    ck_assert_ptr_nonnull(crypt_rn(pass, setting, cd, (int)sizeof(*cd)));
    out = strdup(cd->output);
    free(cd);
    ck_assert_ptr_nonnull(out);
    return out;
}

/* ---- modes ---- */

START_TEST(test_none_admits_and_ignores_credentials)
{
    struct tern_opts o;
    struct auth_creds c = { .user = "x", .pass = "y", .token = "z",
                            .nkey = "UABC", .sig = "bad" };
    const struct auth_user *u = (const void *)1;
    const struct auth_perms *p = (const void *)1;
    struct auth *a;

    memset(&o, 0, sizeof(o));
    a = build(&o);
    ck_assert(!auth_required(a));
    ck_assert_int_eq(auth_check(a, NULL, &u, &p), 0);
    ck_assert_int_eq(auth_check(a, &c, &u, &p), 0);
    ck_assert_ptr_null(u);
    ck_assert_ptr_null(p);
    ck_assert(auth_can_publish(p, "any", 3));
    auth_unref(a);
}
END_TEST

START_TEST(test_password_without_user_requires_nothing)
{
    struct tern_opts o;
    struct auth *a;

    memset(&o, 0, sizeof(o));
    o.password = "lonely";
    a = build(&o);
    ck_assert(!auth_required(a));
    ck_assert_int_eq(check_up(a, NULL, NULL), 0);
    auth_unref(a);
}
END_TEST

START_TEST(test_single_user)
{
    struct tern_opts o;
    const struct auth_user *u = (const void *)1;
    const struct auth_perms *p = (const void *)1;
    struct auth_creds c = { .user = "alice", .pass = "s3cret" };
    struct auth *a;

    memset(&o, 0, sizeof(o));
    o.user = "alice";
    o.password = "s3cret";
    a = build(&o);
    ck_assert(auth_required(a));
    ck_assert_int_eq(auth_check(a, &c, &u, &p), 0);
    ck_assert_ptr_null(u);
    ck_assert_ptr_null(p);
    ck_assert_int_eq(check_up(a, "alice", "s3cre"), -EACCES);
    ck_assert_int_eq(check_up(a, "alice", "s3cret!"), -EACCES);
    ck_assert_int_eq(check_up(a, "alice", "S3cret"), -EACCES);
    ck_assert_int_eq(check_up(a, "alice", NULL), -EACCES);
    ck_assert_int_eq(check_up(a, "bob", "s3cret"), -EACCES);
    ck_assert_int_eq(check_up(a, NULL, "s3cret"), -EACCES);
    ck_assert_int_eq(check_tok(a, "s3cret"), -EACCES);
    ck_assert_int_eq(auth_check(a, NULL, NULL, NULL), -EACCES);
    auth_unref(a);
}
END_TEST

START_TEST(test_token)
{
    struct tern_opts o;
    struct auth_creds c = { .user = "junk", .pass = "junk", .token = "abc" };
    struct auth *a;

    memset(&o, 0, sizeof(o));
    o.token = "abc";
    a = build(&o);
    ck_assert(auth_required(a));
    ck_assert_int_eq(check_tok(a, "abc"), 0);
    ck_assert_int_eq(auth_check(a, &c, NULL, NULL), 0);
    ck_assert_int_eq(check_tok(a, "abd"), -EACCES);
    ck_assert_int_eq(check_tok(a, "ab"), -EACCES);
    ck_assert_int_eq(check_tok(a, ""), -EACCES);
    ck_assert_int_eq(check_tok(a, NULL), -EACCES);
    ck_assert_int_eq(check_up(a, "abc", "abc"), -EACCES);
    auth_unref(a);
}
END_TEST

START_TEST(test_users_and_default_permissions)
{
    struct opts_user users[3];
    struct tern_opts o;
    const struct auth_user *u;
    const struct auth_perms *pa, *pb, *pc;
    struct auth_creds c = { 0 };
    struct auth *a;

    memset(users, 0, sizeof(users));
    memset(&o, 0, sizeof(o));
    users[0] = (struct opts_user){ .user = "alice", .password = "apw", .has_permissions = true };
    users[0].permissions.publish = (struct opts_perm){ .allow = LIST("alice.>") };
    users[1] = (struct opts_user){ .user = "bob", .password = "bpw" };
    users[2] = (struct opts_user){ .user = "carol", .password = "cpw" };
    o.users = users;
    o.nusers = 3;
    o.has_default_permissions = true;
    o.default_permissions.publish = (struct opts_perm){ .allow = LIST("public.>") };
    a = build(&o);
    ck_assert(auth_required(a));

    c = (struct auth_creds){ .user = "alice", .pass = "apw" };
    ck_assert_int_eq(auth_check(a, &c, &u, &pa), 0);
    ck_assert_str_eq(auth_user_name(u), "alice");
    ck_assert(auth_can_publish(pa, "alice.x", 7));
    ck_assert(!auth_can_publish(pa, "public.x", 8));

    c = (struct auth_creds){ .user = "bob", .pass = "bpw" };
    ck_assert_int_eq(auth_check(a, &c, &u, &pb), 0);
    ck_assert_str_eq(auth_user_name(u), "bob");
    ck_assert(auth_can_publish(pb, "public.x", 8));
    ck_assert(!auth_can_publish(pb, "alice.x", 7));

    c = (struct auth_creds){ .user = "carol", .pass = "cpw" };
    ck_assert_int_eq(auth_check(a, &c, &u, &pc), 0);
    ck_assert_ptr_eq(pb, pc); /* one compiled copy of the defaults */

    ck_assert_int_eq(check_up(a, "alice", "bpw"), -EACCES);
    ck_assert_int_eq(check_up(a, "dave", "apw"), -EACCES);
    ck_assert_int_eq(check_up(a, NULL, "apw"), -EACCES);
    ck_assert_int_eq(check_tok(a, "apw"), -EACCES);
    ck_assert_int_eq(auth_check(a, NULL, NULL, NULL), -EACCES);
    ck_assert_ptr_null(auth_user_name(NULL));
    auth_unref(a);
}
END_TEST

START_TEST(test_users_without_defaults_have_no_permissions)
{
    struct opts_user users[1] = { { .user = "bob", .password = "pw" } };
    struct tern_opts o;
    const struct auth_perms *p = (const void *)1;
    struct auth_creds c = { .user = "bob", .pass = "pw" };
    struct auth *a;

    memset(&o, 0, sizeof(o));
    o.users = users;
    o.nusers = 1;
    a = build(&o);
    ck_assert_int_eq(auth_check(a, &c, NULL, &p), 0);
    ck_assert_ptr_null(p);
    auth_unref(a);
}
END_TEST

START_TEST(test_empty_users_array_admits_nobody)
{
    struct opts_user none[1];
    struct tern_opts o;
    struct auth *a;

    memset(&o, 0, sizeof(o));
    o.users = none;
    o.nusers = 0;
    a = build(&o);
    ck_assert(auth_required(a));
    ck_assert_int_eq(check_up(a, "x", "y"), -EACCES);
    ck_assert_int_eq(auth_check(a, NULL, NULL, NULL), -EACCES);
    auth_unref(a);
}
END_TEST

/* NKEY vectors made with the nkeys Python package (an implementation
 * independent of server/nkey.c): the user key of the seed
 * SUAAIIQFI5R2OVCQ6EXXKLE66VQDIY3CISGP2XWHPMFYW365UCUCXR7OUQ and its
 * signatures of NONCE, standard base64 as nats-py sends it and unpadded
 * URL-safe as nats.go sends it; SIG_OTHER signs "Bm9uY2UtdGVzdDE". */
static const char NKEY_PUB[] = "UAUVWWH67AZVMKANN6CDIMVB5TTP2QVI436VYVPGZUH37RPP4JVA3GJQ";
static const char NKEY_PUB2[] = "UBQVQQ7BCEXDD3CWEVX4KWF3YTSV4QR5GU77ZFDAKPC53XVDEZNR2QIR";
static const char NKEY_ACCOUNT[] = "ADGZO65WURNOKCTMG6PSDX53E7ZJLPLZW7TN2W53DBSRUKXAATNYQPJI";
static const char NONCE[] = "Bm9uY2UtdGVzdDA";
static const char SIG_STD[] = "YATI3G/FPkzgWv/viJCEvOUp+jcOeH0p0VAkrFrPKnAsdZICt+q+sQqZoozrcuOI"
                              "NcXdgeu/EkV5RcGiy69YBQ==";
static const char SIG_URL[] = "YATI3G_FPkzgWv_viJCEvOUp-jcOeH0p0VAkrFrPKnAsdZICt-q-sQqZoozrcuOI"
                              "NcXdgeu_EkV5RcGiy69YBQ";
static const char SIG_OTHER[] = "2wMdZR8cAf0awzlFPdjGc5eAhglrHQcJEr+wVBqg2mpvqhE1moV524Wq+Tm7MYHF"
                                "W/bfs4n00SND3lHJ3owaDw==";

static int check_nkey(struct auth *a, const char *key, const char *nonce, const char *sig,
                      const struct auth_user **u)
{
    struct auth_creds c = { .nkey = key, .nonce = nonce, .sig = sig };
    return auth_check(a, &c, u, NULL);
}

START_TEST(test_nkey_decode)
{
    unsigned char k[NKEY_PUBLIC_BYTES];
    char bad[sizeof NKEY_PUB];

    ck_assert_int_eq(nkey_decode_user(NKEY_PUB, k), 0);
    ck_assert_int_eq(nkey_decode_user(NKEY_PUB2, k), 0);
    ck_assert_int_eq(nkey_decode_user("UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4", k), 0);
    ck_assert_int_eq(nkey_decode_user(NKEY_ACCOUNT, k), -EINVAL); /* valid, not a user */
    ck_assert_int_eq(nkey_decode_user(NULL, k), -EINVAL);
    ck_assert_int_eq(nkey_decode_user("", k), -EINVAL);
    ck_assert_int_eq(nkey_decode_user("UA", k), -EINVAL);
    /* Every single-character change breaks the checksum or the alphabet. */
    for (size_t i = 0; i < sizeof NKEY_PUB - 1; i++) {
        memcpy(bad, NKEY_PUB, sizeof bad);
        bad[i] = bad[i] == 'A' ? 'B' : 'A';
        ck_assert_msg(nkey_decode_user(bad, k) == -EINVAL, "accepted change at %zu", i);
    }
    memcpy(bad, NKEY_PUB, sizeof bad);
    bad[10] = 'a'; /* lower case is not base32 here */
    ck_assert_int_eq(nkey_decode_user(bad, k), -EINVAL);
    memcpy(bad, NKEY_PUB, sizeof bad);
    bad[5] = '1'; /* neither is 0, 1, 8, 9 */
    ck_assert_int_eq(nkey_decode_user(bad, k), -EINVAL);
}
END_TEST

START_TEST(test_nkey_verify)
{
    unsigned char k[NKEY_PUBLIC_BYTES];
    char sig[sizeof SIG_STD];

    ck_assert_int_eq(nkey_decode_user(NKEY_PUB, k), 0);
    ck_assert(nkey_verify(k, NONCE, SIG_STD));
    ck_assert(nkey_verify(k, NONCE, SIG_URL));
    ck_assert(!nkey_verify(k, NONCE, SIG_OTHER));
    ck_assert(!nkey_verify(k, "Bm9uY2UtdGVzdDE", SIG_STD));
    ck_assert(!nkey_verify(k, NONCE, ""));
    ck_assert(!nkey_verify(k, NONCE, NULL));
    ck_assert(!nkey_verify(k, "", SIG_STD));
    ck_assert(!nkey_verify(k, NULL, SIG_STD));
    ck_assert(!nkey_verify(k, NONCE, "not base64 at all!"));
    /* Truncated, extended, one bit flipped. */
    memcpy(sig, SIG_URL, sizeof SIG_URL);
    sig[strlen(sig) - 4] = '\0';
    ck_assert(!nkey_verify(k, NONCE, sig));
    char longer[sizeof SIG_STD + 8];
    snprintf(longer, sizeof longer, "%sAAAA", SIG_URL);
    ck_assert(!nkey_verify(k, NONCE, longer));
    memcpy(sig, SIG_STD, sizeof SIG_STD);
    sig[7] = sig[7] == 'A' ? 'B' : 'A';
    ck_assert(!nkey_verify(k, NONCE, sig));
    /* A byte above 0x7f where '_' was: libsodium 1.0.18 alone decodes it
     * as '_' (found by tests/fuzz/fuzz_nkey.c). */
    memcpy(sig, SIG_URL, sizeof SIG_URL);
    char *underscore = strchr(sig, '_');
    ck_assert_ptr_nonnull(underscore);
    *underscore = (char)0x9e;
    ck_assert(!nkey_verify(k, NONCE, sig));
    ck_assert(nkey_decode_user(NKEY_PUB2, k) == 0 && !nkey_verify(k, NONCE, SIG_STD));
}
END_TEST

START_TEST(test_nkey_nonce)
{
    char a[NKEY_NONCE_CHARS + 1], b[NKEY_NONCE_CHARS + 1];

    nkey_make_nonce(a);
    nkey_make_nonce(b);
    ck_assert_uint_eq(strlen(a), NKEY_NONCE_CHARS);
    ck_assert_str_ne(a, b);
    for (size_t i = 0; i < NKEY_NONCE_CHARS; i++)
        ck_assert_msg(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
                             a[i]) != NULL, "nonce byte %zu", i);
}
END_TEST

START_TEST(test_nkey_users)
{
    struct opts_user users[3];
    struct tern_opts o;
    struct auth_creds c = { .user = "bob", .pass = "pw", .nkey = NKEY_PUB, .sig = "x" };
    const struct auth_user *u = NULL;
    struct auth *a;

    memset(users, 0, sizeof(users));
    users[0] = (struct opts_user){ .nkey = (char *)NKEY_PUB };
    users[1] = (struct opts_user){ .user = "bob", .password = "pw" };
    users[2] = (struct opts_user){ .nkey = (char *)NKEY_PUB2 };
    memset(&o, 0, sizeof(o));
    o.users = users;
    o.nusers = 3;
    a = build(&o);
    ck_assert(auth_has_nkey_users(a));
    ck_assert_int_eq(check_up(a, "bob", "pw"), 0);
    /* A CONNECT naming an nkey is judged by its signature alone. */
    ck_assert_int_eq(auth_check(a, &c, NULL, NULL), -EACCES);
    ck_assert_int_eq(check_nkey(a, NKEY_PUB, NONCE, SIG_STD, &u), 0);
    ck_assert_str_eq(auth_user_name(u), NKEY_PUB);
    ck_assert_int_eq(check_nkey(a, NKEY_PUB, NONCE, SIG_URL, NULL), 0);
    ck_assert_int_eq(check_nkey(a, NKEY_PUB, "Bm9uY2UtdGVzdDE", SIG_STD, NULL), -EACCES);
    ck_assert_int_eq(check_nkey(a, NKEY_PUB, NULL, SIG_STD, NULL), -EACCES);
    ck_assert_int_eq(check_nkey(a, NKEY_PUB2, NONCE, SIG_STD, NULL), -EACCES); /* not its key */
    ck_assert_int_eq(check_nkey(a, NKEY_ACCOUNT, NONCE, SIG_STD, NULL), -EACCES); /* unknown */
    auth_unref(a);

    /* Without nkey users nats-server ignores a CONNECT's nkey (verified). */
    o.users = &users[1];
    o.nusers = 1;
    a = build(&o);
    ck_assert(!auth_has_nkey_users(a));
    ck_assert_int_eq(auth_check(a, &c, NULL, NULL), 0);
    auth_unref(a);

    /* A key the config check let through with a bad checksum. */
    users[0].nkey = "UAUVWWH67AZVMKANN6CDIMVB5TTP2QVI436VYVPGZUH37RPP4JVA3GJA";
    o.users = users;
    o.nusers = 1;
    ck_assert_ptr_null(auth_new(&o, err, sizeof(err)));
    ck_assert_msg(strstr(err, "Not a valid public nkey for a user") != NULL, "%s", err);
}
END_TEST

START_TEST(test_auth_timeout)
{
    struct tern_opts o;
    struct auth *a;

    memset(&o, 0, sizeof(o));
    a = build(&o);
    ck_assert(auth_timeout(a) == 2.0);
    auth_unref(a);
    o.auth_timeout_s = 0.5;
    a = build(&o);
    ck_assert(auth_timeout(a) == 0.5);
    auth_unref(a);
}
END_TEST

/* ---- bcrypt ---- */

START_TEST(test_bcrypt_prefixes_and_costs)
{
    static const char *const prefixes[] = { "$2a$", "$2b$", "$2y$" };
    struct tern_opts o;

    memset(&o, 0, sizeof(o));
    o.user = "alice";
    for (size_t i = 0; i < NELEM(prefixes); i++) {
        for (unsigned long cost = 4; cost <= 6; cost++) {
            char *hash = make_hash(prefixes[i], cost, "pa55word");
            struct auth *a;
            char want[8];

            snprintf(want, sizeof(want), "%s%02lu", prefixes[i], cost);
            ck_assert_msg(strncmp(hash, want, 6) == 0, "%s vs %s", hash, want);
            o.password = hash;
            a = build(&o);
            ck_assert_int_eq(check_up(a, "alice", "pa55word"), 0);
            ck_assert_int_eq(check_up(a, "alice", "pa55wore"), -EACCES);
            ck_assert_int_eq(check_up(a, "alice", ""), -EACCES);
            /* The hash itself is not the password. */
            ck_assert_int_eq(check_up(a, "alice", hash), -EACCES);
            auth_unref(a);
            free(hash);
        }
    }
}
END_TEST

START_TEST(test_bcrypt_2x_prefix)
{
    struct tern_opts o;
    char *hash = make_hash("$2a$", 4, "ascii-only");
    struct auth *a;

    /* For ASCII passwords $2x$ computes what $2a$ does; only the tag differs. */
    hash[2] = 'x';
    memset(&o, 0, sizeof(o));
    o.user = "u";
    o.password = hash;
    a = build(&o);
    ck_assert_int_eq(check_up(a, "u", "ascii-only"), 0);
    ck_assert_int_eq(check_up(a, "u", "ascii-onlx"), -EACCES);
    auth_unref(a);
    free(hash);
}
END_TEST

START_TEST(test_bcrypt_docs_format_cost_11)
{
    struct opts_user users[1] = { { .user = "doc", .password = (char *)DOC_HASH } };
    struct crypt_data *cd = calloc(1, sizeof(*cd));
    struct tern_opts o;
    struct auth *a;

    /* Recompute the vector here so it is not taken on trust. */
    ck_assert_ptr_nonnull(cd);
    ck_assert_ptr_nonnull(crypt_rn("correct horse", DOC_SETTING, cd, (int)sizeof(*cd)));
    ck_assert_str_eq(cd->output, DOC_HASH);
    free(cd);

    memset(&o, 0, sizeof(o));
    o.users = users;
    o.nusers = 1;
    a = build(&o);
    ck_assert_int_eq(check_up(a, "doc", "correct horse"), 0);
    ck_assert_int_eq(check_up(a, "doc", "correct horsf"), -EACCES);
    auth_unref(a);
}
END_TEST

START_TEST(test_bcrypt_token)
{
    struct tern_opts o;
    char *hash = make_hash("$2b$", 4, "tok");
    struct auth *a;

    memset(&o, 0, sizeof(o));
    o.token = hash;
    a = build(&o);
    ck_assert_int_eq(check_tok(a, "tok"), 0);
    ck_assert_int_eq(check_tok(a, "tok"), 0);
    ck_assert_int_eq(check_tok(a, "tol"), -EACCES);
    auth_unref(a);
    free(hash);
}
END_TEST

START_TEST(test_not_bcrypt_is_plain)
{
    /* One cost digit does not match nats-server's bcrypt pattern, so the
     * string is an ordinary password. */
    struct tern_opts o;
    struct auth *a;

    memset(&o, 0, sizeof(o));
    o.user = "u";
    o.password = "$2a$4$abcdefghijklmnopqrstuv";
    a = build(&o);
    ck_assert_int_eq(check_up(a, "u", "$2a$4$abcdefghijklmnopqrstuv"), 0);
    ck_assert_int_eq(check_up(a, "u", "x"), -EACCES);
    auth_unref(a);
}
END_TEST

START_TEST(test_bcrypt_cache_hit_same_answer)
{
    char *hash = make_hash("$2b$", 5, "shared");
    struct opts_user users[2] = { { .user = "a", .password = hash },
                                  { .user = "b", .password = hash } };
    struct tern_opts o;
    struct auth *a;

    memset(&o, 0, sizeof(o));
    o.users = users;
    o.nusers = 2;
    a = build(&o);
    ck_assert_uint_eq(auth_bcrypt_cache_hits(a), 0);
    ck_assert_int_eq(check_up(a, "a", "shared"), 0);
    ck_assert_uint_eq(auth_bcrypt_cache_hits(a), 0);
    ck_assert_int_eq(check_up(a, "a", "shared"), 0);
    ck_assert_uint_eq(auth_bcrypt_cache_hits(a), 1);
    /* Failures are never cached and never hit. */
    ck_assert_int_eq(check_up(a, "a", "sharee"), -EACCES);
    ck_assert_int_eq(check_up(a, "a", "sharee"), -EACCES);
    ck_assert_int_eq(check_up(a, "a", "shared "), -EACCES);
    ck_assert_uint_eq(auth_bcrypt_cache_hits(a), 1);
    /* Another user with the same hash and password is its own entry. */
    ck_assert_int_eq(check_up(a, "b", "shared"), 0);
    ck_assert_uint_eq(auth_bcrypt_cache_hits(a), 1);
    ck_assert_int_eq(check_up(a, "b", "shared"), 0);
    ck_assert_uint_eq(auth_bcrypt_cache_hits(a), 2);
    auth_unref(a);
    free(hash);
}
END_TEST

START_TEST(test_bcrypt_cache_is_bounded)
{
    enum { N = 70 };
    struct opts_user users[N];
    char names[N][16], pws[N][16];
    struct tern_opts o;
    struct auth *a;
    size_t hits;

    memset(users, 0, sizeof(users));
    for (int i = 0; i < N; i++) {
        snprintf(names[i], sizeof(names[i]), "u%d", i);
        snprintf(pws[i], sizeof(pws[i]), "p%d", i);
        users[i].user = names[i];
        users[i].password = make_hash("$2b$", 4, pws[i]);
    }
    memset(&o, 0, sizeof(o));
    o.users = users;
    o.nusers = N;
    a = build(&o);
    for (int i = 0; i < N; i++)
        ck_assert_int_eq(check_up(a, names[i], pws[i]), 0);
    ck_assert_uint_eq(auth_bcrypt_cache_hits(a), 0);
    /* The oldest entries were pushed out: a miss, yet the same answer. */
    ck_assert_int_eq(check_up(a, names[0], pws[0]), 0);
    hits = auth_bcrypt_cache_hits(a);
    ck_assert_uint_eq(hits, 0);
    ck_assert_int_eq(check_up(a, names[N - 1], pws[N - 1]), 0);
    ck_assert_uint_eq(auth_bcrypt_cache_hits(a), hits + 1);
    ck_assert_int_eq(check_up(a, names[3], pws[4]), -EACCES);
    auth_unref(a);
    for (int i = 0; i < N; i++)
        free(users[i].password);
}
END_TEST

struct race_arg {
    const struct auth *a;
    int failures;
};

static void *check_many(void *p)
{
    struct race_arg *r = p;

    for (int i = 0; i < 20; i++) {
        if (check_up(r->a, "a", "right") != 0 || check_up(r->a, "a", "wrong") != -EACCES)
            r->failures++;
    }
    return NULL;
}

START_TEST(test_bcrypt_concurrent_checks)
{
    char *hash = make_hash("$2y$", 4, "right");
    struct opts_user users[1] = { { .user = "a", .password = hash } };
    struct race_arg args[4];
    pthread_t th[4];
    struct tern_opts o;
    struct auth *a;

    memset(&o, 0, sizeof(o));
    o.users = users;
    o.nusers = 1;
    a = build(&o);
    for (int i = 0; i < 4; i++) {
        args[i] = (struct race_arg){ .a = a };
        ck_assert_int_eq(pthread_create(&th[i], NULL, check_many, &args[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        ck_assert_int_eq(args[i].failures, 0);
    }
    ck_assert_uint_ge(auth_bcrypt_cache_hits(a), 70);
    auth_unref(a);
    free(hash);
}
END_TEST

/* ---- plain secrets ---- */

START_TEST(test_secret_equal)
{
    ck_assert(auth_secret_equal("s3cret", 6, "s3cret", 6));
    ck_assert(auth_secret_equal("", 0, "", 0));
    ck_assert(!auth_secret_equal("s3cret", 6, "X3cret", 6));
    ck_assert(!auth_secret_equal("s3cret", 6, "s3creX", 6));
    ck_assert(!auth_secret_equal("s3cret", 6, "s3cre", 5));
    ck_assert(!auth_secret_equal("s3cret", 6, "s3cret\0", 7));
    ck_assert(!auth_secret_equal("", 0, "a", 1));
    /* Lengths, not NULs, bound the compare. */
    ck_assert(auth_secret_equal("ab\0c", 4, "ab\0c", 4));
    ck_assert(!auth_secret_equal("ab\0c", 4, "ab\0d", 4));
}
END_TEST

/* ---- conflicts and no_auth_user ---- */

START_TEST(test_conflicts)
{
    struct opts_user users[4];
    struct tern_opts o;

    memset(users, 0, sizeof(users));
    memset(&o, 0, sizeof(o));
    o.user = "u";
    o.token = "t";
    expect_error(&o, "Cannot have a user/pass and token");
    o.user = NULL;
    o.password = "p";
    expect_error(&o, "Cannot have a user/pass and token");

    memset(&o, 0, sizeof(o));
    users[0] = (struct opts_user){ .user = "a", .password = "x" };
    o.users = users;
    o.nusers = 1;
    o.user = "u";
    o.password = "p";
    expect_error(&o, "Can not have a single user/pass and a users array");
    o.user = NULL;
    o.password = NULL;
    o.token = "t";
    expect_error(&o, "Can not have a token and a users array");
}
END_TEST

START_TEST(test_duplicate_users)
{
    struct opts_user users[5];
    static const char *const order1[] = { "a", "b", "a" };
    static const char *const order2[] = { "b", "a", "a", "b" };
    static const char *const order3[] = { "x", "y", "z", "y", "x" };
    struct tern_opts o;

    memset(&o, 0, sizeof(o));
    o.users = users;
    memset(users, 0, sizeof(users));
    for (size_t i = 0; i < NELEM(order1); i++)
        users[i].user = (char *)order1[i];
    o.nusers = NELEM(order1);
    expect_error(&o, "Duplicate user \"a\" detected");

    memset(users, 0, sizeof(users));
    for (size_t i = 0; i < NELEM(order2); i++)
        users[i].user = (char *)order2[i];
    o.nusers = NELEM(order2);
    expect_error(&o, "Duplicate user \"a\" detected");

    memset(users, 0, sizeof(users));
    for (size_t i = 0; i < NELEM(order3); i++)
        users[i].user = (char *)order3[i];
    o.nusers = NELEM(order3);
    expect_error(&o, "Duplicate user \"y\" detected");

    /* nkey entries have no name and never collide. */
    memset(users, 0, sizeof(users));
    users[0].nkey = (char *)NKEY_PUB;
    users[1].nkey = (char *)NKEY_PUB2;
    users[2].user = "c";
    o.nusers = 3;
    auth_unref(build(&o));
}
END_TEST

START_TEST(test_error_buffer_is_optional_and_bounded)
{
    struct tern_opts o;
    char tiny[8];

    memset(&o, 0, sizeof(o));
    o.user = "u";
    o.token = "t";
    ck_assert_ptr_null(auth_new(&o, NULL, 0));
    ck_assert_ptr_null(auth_new(&o, tiny, sizeof(tiny)));
    ck_assert_str_eq(tiny, "Cannot ");
}
END_TEST

START_TEST(test_no_auth_user_errors)
{
    struct opts_user users[1] = { { .user = "bob", .password = "pw" } };
    struct tern_opts o;

    memset(&o, 0, sizeof(o));
    o.users = users;
    o.nusers = 1;
    o.no_auth_user = "alice";
    expect_error(&o, "no_auth_user: \"alice\" not present as user in authorization "
                     "block or account configuration");

    memset(&o, 0, sizeof(o));
    o.user = "bob";
    o.password = "pw";
    o.no_auth_user = "bob";
    expect_error(&o, "no_auth_user: \"bob\" present, but users are not defined");
}
END_TEST

START_TEST(test_no_auth_user_admits_bare_connect)
{
    char *hash = make_hash("$2a$", 4, "alicepw");
    struct opts_user users[2];
    struct tern_opts o;
    const struct auth_user *u;
    const struct auth_perms *p;
    struct auth_creds c = { 0 };
    struct auth *a;

    memset(users, 0, sizeof(users));
    users[0] = (struct opts_user){ .user = "alice", .password = hash, .has_permissions = true };
    users[0].permissions.publish = (struct opts_perm){ .allow = LIST("alice.>") };
    users[1] = (struct opts_user){ .user = "bob", .password = "bobpw" };
    memset(&o, 0, sizeof(o));
    o.users = users;
    o.nusers = 2;
    o.no_auth_user = "alice";
    a = build(&o);
    ck_assert(!auth_required(a));

    /* No user, password or token: admitted as alice, with her permissions
     * (even though her password is a bcrypt hash). */
    ck_assert_int_eq(auth_check(a, &c, &u, &p), 0);
    ck_assert_str_eq(auth_user_name(u), "alice");
    ck_assert(auth_can_publish(p, "alice.x", 7));
    ck_assert(!auth_can_publish(p, "bob.x", 5));
    ck_assert_int_eq(auth_check(a, NULL, &u, NULL), 0);
    ck_assert_str_eq(auth_user_name(u), "alice");

    c = (struct auth_creds){ .user = "bob", .pass = "bobpw" };
    ck_assert_int_eq(auth_check(a, &c, &u, &p), 0);
    ck_assert_str_eq(auth_user_name(u), "bob");
    ck_assert_ptr_null(p);
    ck_assert_int_eq(check_up(a, "alice", "alicepw"), 0);
    /* Anything presented is checked as usual (all verified on nats-server). */
    ck_assert_int_eq(check_up(a, "bob", "wrong"), -EACCES);
    ck_assert_int_eq(check_up(a, NULL, "alicepw"), -EACCES);
    ck_assert_int_eq(check_tok(a, "zz"), -EACCES);
    auth_unref(a);
    free(hash);
}
END_TEST

/* ---- permissions ---- */

struct sub_case {
    const char *subject;
    const char *queue;
    bool allowed;
};

struct pub_case {
    const char *subject;
    bool allowed;
};

/* Compile one user's permissions through a real users-mode auth. */
static struct auth *perms_auth(const struct opts_permissions *perm, const struct auth_perms **p)
{
    static struct opts_user user;
    struct auth_creds c = { .user = "u", .pass = "pw" };
    struct tern_opts o;
    struct auth *a;

    memset(&user, 0, sizeof(user));
    user.user = "u";
    user.password = "pw";
    user.has_permissions = true;
    user.permissions = *perm;
    memset(&o, 0, sizeof(o));
    o.users = &user;
    o.nusers = 1;
    a = build(&o);
    ck_assert_int_eq(auth_check(a, &c, NULL, p), 0);
    ck_assert_ptr_nonnull(*p);
    return a;
}

static void run_sub_cases(const struct opts_permissions *perm, const struct sub_case *cases,
                          size_t n)
{
    const struct auth_perms *p;
    struct auth *a = perms_auth(perm, &p);

    for (size_t i = 0; i < n; i++) {
        const char *q = cases[i].queue;
        bool got = auth_can_subscribe(p, cases[i].subject, strlen(cases[i].subject), q,
                                      q ? strlen(q) : 0);

        ck_assert_msg(got == cases[i].allowed, "SUB %s %s: got %d", cases[i].subject,
                      q ? q : "(no queue)", got);
    }
    auth_unref(a);
}

static void run_pub_cases(const struct opts_permissions *perm, const struct pub_case *cases,
                          size_t n)
{
    const struct auth_perms *p;
    struct auth *a = perms_auth(perm, &p);

    for (size_t i = 0; i < n; i++) {
        bool got = auth_can_publish(p, cases[i].subject, strlen(cases[i].subject));

        ck_assert_msg(got == cases[i].allowed, "PUB %s: got %d", cases[i].subject, got);
    }
    auth_unref(a);
}

START_TEST(test_sub_allow_wildcard_coverage)
{
    /* subscribe: { allow: ["foo.>"] } */
    static const struct sub_case gt[] = {
        { "foo.*", NULL, true },  { "foo.>", NULL, true }, { "foo.bar", NULL, true },
        { "foo", NULL, false },   { "bar", NULL, false },  { ">", NULL, false },
        { "*.*", NULL, false },
    };
    /* subscribe: { allow: ["foo.*"] } */
    static const struct sub_case star[] = {
        { "foo.>", NULL, true },  { "foo.*", NULL, true }, { "foo.bar.baz", NULL, false },
        { "*", NULL, false },     { "*.*", NULL, false },
    };
    struct opts_permissions perm;

    memset(&perm, 0, sizeof(perm));
    perm.subscribe = (struct opts_perm){ .allow = LIST("foo.>") };
    run_sub_cases(&perm, gt, NELEM(gt));
    perm.subscribe = (struct opts_perm){ .allow = LIST("foo.*") };
    run_sub_cases(&perm, star, NELEM(star));
}
END_TEST

START_TEST(test_sub_deny_overlap)
{
    /* subscribe: { deny: ["foo.secret"] } */
    static const struct sub_case cases[] = {
        { "foo.*", NULL, true },       { "foo.secret", NULL, false },
        { ">", NULL, true },           { "foo.secret", "g", false },
        { "foo.public", NULL, true },
    };
    struct opts_permissions perm;
    const struct auth_perms *p;
    struct auth *a;

    memset(&perm, 0, sizeof(perm));
    perm.subscribe = (struct opts_perm){ .deny = LIST("foo.secret") };
    run_sub_cases(&perm, cases, NELEM(cases));

    /* Observed: SUB foo.* gets foo.public but not foo.secret; SUB > the same. */
    a = perms_auth(&perm, &p);
    ck_assert(auth_sub_needs_deny_filter(p, "foo.*", 5));
    ck_assert(auth_sub_needs_deny_filter(p, ">", 1));
    ck_assert(!auth_sub_needs_deny_filter(p, "foo.public", 10));
    ck_assert(!auth_sub_needs_deny_filter(p, "bar.*", 5));
    ck_assert(!auth_can_deliver(p, "foo.secret", 10));
    ck_assert(auth_can_deliver(p, "foo.public", 10));
    auth_unref(a);
}
END_TEST

START_TEST(test_sub_deny_filter_needs_containment)
{
    /* subscribe: { deny: ["foo.*.bar"] }. Observed on nats-server:
     * SUB foo.x.* alone receives foo.x.bar and foo.x.baz;
     * SUB foo.*.* receives only foo.x.baz; adding foo.*.* to a connection
     * with foo.x.* filters foo.x.bar from both; SUB foo.x.> gets foo.x.bar;
     * SUB foo.> receives only foo.x.baz. */
    struct opts_permissions perm;
    const struct auth_perms *p;
    struct auth *a;

    memset(&perm, 0, sizeof(perm));
    perm.subscribe = (struct opts_perm){ .deny = LIST("foo.*.bar") };
    a = perms_auth(&perm, &p);
    ck_assert(auth_can_subscribe(p, "foo.x.*", 7, NULL, 0));
    ck_assert(!auth_sub_needs_deny_filter(p, "foo.x.*", 7));
    ck_assert(auth_sub_needs_deny_filter(p, "foo.*.*", 7));
    ck_assert(!auth_sub_needs_deny_filter(p, "foo.x.>", 7));
    ck_assert(auth_sub_needs_deny_filter(p, "foo.>", 5));
    ck_assert(!auth_can_deliver(p, "foo.x.bar", 9));
    ck_assert(auth_can_deliver(p, "foo.x.baz", 9));
    auth_unref(a);
}
END_TEST

START_TEST(test_sub_queue_entries)
{
    /* subscribe: { allow: ["foo q1", "bar"] } */
    static const struct sub_case q1[] = {
        { "foo", NULL, false }, { "foo", "q1", true }, { "foo", "q2", false },
        { "bar", "q9", true },  { "bar", NULL, true },
    };
    /* subscribe: { allow: ["foo", "foo q1"] } */
    static const struct sub_case q2[] = {
        { "foo", "q2", false }, { "foo", NULL, true }, { "foo", "q1", true },
    };
    /* subscribe: { deny: ["foo q1"] } */
    static const struct sub_case q3[] = {
        { "foo", "q1", false }, { "foo", "q2", true }, { "foo", NULL, true },
        { "*", "q1", true },
    };
    /* subscribe: { deny: ["foo", "foo q1"] } */
    static const struct sub_case q4[] = {
        { "foo", "q2", true }, { "foo", NULL, false }, { "foo", "q1", false },
    };
    /* subscribe: { allow: ["foo q.*"] } */
    static const struct sub_case qw[] = {
        { "foo", "q.a", true }, { "foo", "q.a.b", false }, { "foo", "q", false },
        { "foo", "q.*", true }, { "foo", "q.>", false },
    };
    struct opts_permissions perm;

    memset(&perm, 0, sizeof(perm));
    perm.subscribe = (struct opts_perm){ .allow = LIST("foo q1", "bar") };
    run_sub_cases(&perm, q1, NELEM(q1));
    perm.subscribe = (struct opts_perm){ .allow = LIST("foo", "foo q1") };
    run_sub_cases(&perm, q2, NELEM(q2));
    perm.subscribe = (struct opts_perm){ .deny = LIST("foo q1") };
    run_sub_cases(&perm, q3, NELEM(q3));
    perm.subscribe = (struct opts_perm){ .deny = LIST("foo", "foo q1") };
    run_sub_cases(&perm, q4, NELEM(q4));
    perm.subscribe = (struct opts_perm){ .allow = LIST("foo q.*") };
    run_sub_cases(&perm, qw, NELEM(qw));
}
END_TEST

START_TEST(test_queue_deny_entry_never_filters_delivery)
{
    struct opts_permissions perm;
    const struct auth_perms *p;
    struct auth *a;

    memset(&perm, 0, sizeof(perm));
    perm.subscribe = (struct opts_perm){ .deny = LIST("foo q1") };
    a = perms_auth(&perm, &p);
    ck_assert(auth_sub_needs_deny_filter(p, "*", 1));
    ck_assert(auth_can_deliver(p, "foo", 3));
    auth_unref(a);
}
END_TEST

START_TEST(test_sub_empty_allow_means_all)
{
    /* subscribe: { allow: [], deny: ["x"] } */
    static const struct sub_case cases[] = {
        { "anything", NULL, true }, { "x", NULL, false }, { "x", "q", false },
    };
    struct opts_permissions perm;
    char *none[1] = { NULL };

    memset(&perm, 0, sizeof(perm));
    perm.subscribe = (struct opts_perm){ .allow = none, .nallow = 0, .deny = LIST("x") };
    run_sub_cases(&perm, cases, NELEM(cases));
}
END_TEST

START_TEST(test_pub_allow_deny)
{
    /* publish: { allow: ["foo.>", "bar"], deny: ["foo.secret"] } */
    static const struct pub_case pb[] = {
        { "foo.x", true }, { "foo.secret", false }, { "bar", true },  { "baz", false },
        { "foo", false },  { "foo.*", true },       { "foo.>", true }, { "foo.x.y", true },
        { "bar.x", false }, { "", false },         { "foo..x", false },
    };
    /* publish: { allow: ["foo.*"] } */
    static const struct pub_case star[] = {
        { "foo.>", true }, { "foo.*", true }, { "foo.a", true }, { "foo.a.b", false },
    };
    /* publish: { allow: [], deny: ["x"] } */
    static const struct pub_case empty[] = { { "y", true }, { "x", false } };
    struct opts_permissions perm;
    char *none[1] = { NULL };

    memset(&perm, 0, sizeof(perm));
    perm.publish = (struct opts_perm){ .allow = LIST("foo.>", "bar"), .deny = LIST("foo.secret") };
    run_pub_cases(&perm, pb, NELEM(pb));
    perm.publish = (struct opts_perm){ .allow = LIST("foo.*") };
    run_pub_cases(&perm, star, NELEM(star));
    perm.publish = (struct opts_perm){ .allow = none, .nallow = 0, .deny = LIST("x") };
    run_pub_cases(&perm, empty, NELEM(empty));
}
END_TEST

START_TEST(test_pub_large_literal_list)
{
    enum { N = 1000 };
    char *allow[N];
    char subj[16];
    struct opts_permissions perm;
    const struct auth_perms *p;
    struct auth *a;

    for (int i = 0; i < N; i++) {
        snprintf(subj, sizeof(subj), "s.%d", i);
        allow[i] = strdup(subj);
        ck_assert_ptr_nonnull(allow[i]);
    }
    memset(&perm, 0, sizeof(perm));
    perm.publish = (struct opts_perm){ .allow = allow, .nallow = N };
    a = perms_auth(&perm, &p);
    for (int i = 0; i < N; i++) {
        ck_assert(auth_can_publish(p, allow[i], strlen(allow[i])));
        snprintf(subj, sizeof(subj), "s.%d.x", i);
        ck_assert(!auth_can_publish(p, subj, strlen(subj)));
    }
    ck_assert(!auth_can_publish(p, "s.1000", 6));
    ck_assert(!auth_can_publish(p, "s", 1));
    /* The subject is a byte range: a longer buffer must not leak in. */
    ck_assert(auth_can_publish(p, "s.12345", 4));
    auth_unref(a);
    for (int i = 0; i < N; i++)
        free(allow[i]);
}
END_TEST

START_TEST(test_invalid_entries_never_match)
{
    struct opts_permissions perm;
    const struct auth_perms *p;
    struct auth *a;

    memset(&perm, 0, sizeof(perm));
    perm.publish = (struct opts_perm){ .allow = LIST("foo..bar", "foo.>.bar") };
    perm.subscribe = (struct opts_perm){ .allow = LIST("foo bar baz", "a..b q") };
    a = perms_auth(&perm, &p);
    ck_assert(!auth_can_publish(p, "foo..bar", 8));
    ck_assert(!auth_can_publish(p, "foo.x.bar", 9));
    ck_assert(!auth_can_subscribe(p, "foo", 3, NULL, 0));
    ck_assert(!auth_can_subscribe(p, "a..b", 4, "q", 1));
    auth_unref(a);
}
END_TEST

START_TEST(test_allow_responses)
{
    /* permissions: { subscribe: ">", allow_responses: true }: nats-server
     * refuses PUB foo (the blanket publish allow is switched off). */
    struct opts_permissions perm;
    const struct auth_perms *p;
    int64_t max, exp;
    struct auth *a;

    memset(&perm, 0, sizeof(perm));
    perm.subscribe = (struct opts_perm){ .allow = LIST(">") };
    perm.allow_responses = true;
    a = perms_auth(&perm, &p);
    ck_assert(auth_allows_responses(p));
    ck_assert(!auth_can_publish(p, "foo", 3));
    ck_assert(auth_can_subscribe(p, "foo", 3, NULL, 0));
    auth_response_limits(p, &max, &exp);
    ck_assert_int_eq(max, 1);
    ck_assert_int_eq(exp, 120000);
    auth_unref(a);

    perm.publish = (struct opts_perm){ .allow = LIST("ok.>") };
    perm.responses_max = 5;
    perm.responses_expires_ms = -1;
    a = perms_auth(&perm, &p);
    ck_assert(auth_can_publish(p, "ok.1", 4));
    ck_assert(!auth_can_publish(p, "foo", 3));
    auth_response_limits(p, &max, &exp);
    ck_assert_int_eq(max, 5);
    ck_assert_int_eq(exp, -1);
    auth_unref(a);

    perm.allow_responses = false;
    a = perms_auth(&perm, &p);
    ck_assert(!auth_allows_responses(p));
    auth_unref(a);
    ck_assert(!auth_allows_responses(NULL));
}
END_TEST

START_TEST(test_null_perms_allow_everything)
{
    ck_assert(auth_can_publish(NULL, "x", 1));
    ck_assert(auth_can_subscribe(NULL, ">", 1, "q", 1));
    ck_assert(auth_can_deliver(NULL, "x", 1));
    ck_assert(!auth_sub_needs_deny_filter(NULL, ">", 1));
}
END_TEST

/* ---- lifetime ---- */

static void *ref_churn(void *p)
{
    struct auth *a = p;

    for (int i = 0; i < 2000; i++)
        auth_unref(auth_ref(a));
    return NULL;
}

START_TEST(test_refcount_lifetime)
{
    struct opts_user users[1];
    struct tern_opts o;
    const struct auth_user *u;
    const struct auth_perms *p;
    struct auth_creds c = { .user = "bob", .pass = "pw" };
    struct auth *a, *held;
    pthread_t th[4];

    memset(users, 0, sizeof(users));
    users[0] = (struct opts_user){ .user = "bob", .password = "pw", .has_permissions = true };
    users[0].permissions.publish = (struct opts_perm){ .allow = LIST("bob.>") };
    memset(&o, 0, sizeof(o));
    o.users = users;
    o.nusers = 1;
    a = build(&o);
    ck_assert_int_eq(auth_check(a, &c, &u, &p), 0);

    /* A connection keeps its own reference; a reload drops the original. */
    held = auth_ref(a);
    ck_assert_ptr_eq(held, a);
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(pthread_create(&th[i], NULL, ref_churn, a), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    auth_unref(a);
    /* Still alive through held (ASan would flag a use after free). */
    ck_assert_str_eq(auth_user_name(u), "bob");
    ck_assert(auth_can_publish(p, "bob.x", 5));
    ck_assert_int_eq(check_up(held, "bob", "pw"), 0);
    auth_unref(held); /* last one: freed; LeakSanitizer checks it all went */
    auth_unref(NULL);
    ck_assert_ptr_null(auth_ref(NULL));
}
END_TEST

static Suite *auth_suite(void)
{
    Suite *s = suite_create("auth");
    TCase *modes = tcase_create("modes");
    TCase *bcrypt = tcase_create("bcrypt");
    TCase *config = tcase_create("config");
    TCase *perms = tcase_create("permissions");
    TCase *life = tcase_create("lifetime");

    tcase_add_test(modes, test_none_admits_and_ignores_credentials);
    tcase_add_test(modes, test_password_without_user_requires_nothing);
    tcase_add_test(modes, test_single_user);
    tcase_add_test(modes, test_token);
    tcase_add_test(modes, test_users_and_default_permissions);
    tcase_add_test(modes, test_users_without_defaults_have_no_permissions);
    tcase_add_test(modes, test_empty_users_array_admits_nobody);
    tcase_add_test(modes, test_nkey_decode);
    tcase_add_test(modes, test_nkey_verify);
    tcase_add_test(modes, test_nkey_nonce);
    tcase_add_test(modes, test_nkey_users);
    tcase_add_test(modes, test_auth_timeout);
    tcase_add_test(modes, test_secret_equal);
    suite_add_tcase(s, modes);

    tcase_add_test(bcrypt, test_bcrypt_prefixes_and_costs);
    tcase_add_test(bcrypt, test_bcrypt_2x_prefix);
    tcase_add_test(bcrypt, test_bcrypt_docs_format_cost_11);
    tcase_add_test(bcrypt, test_bcrypt_token);
    tcase_add_test(bcrypt, test_not_bcrypt_is_plain);
    tcase_add_test(bcrypt, test_bcrypt_cache_hit_same_answer);
    tcase_add_test(bcrypt, test_bcrypt_cache_is_bounded);
    tcase_add_test(bcrypt, test_bcrypt_concurrent_checks);
    suite_add_tcase(s, bcrypt);

    tcase_add_test(config, test_conflicts);
    tcase_add_test(config, test_duplicate_users);
    tcase_add_test(config, test_error_buffer_is_optional_and_bounded);
    tcase_add_test(config, test_no_auth_user_errors);
    tcase_add_test(config, test_no_auth_user_admits_bare_connect);
    suite_add_tcase(s, config);

    tcase_add_test(perms, test_sub_allow_wildcard_coverage);
    tcase_add_test(perms, test_sub_deny_overlap);
    tcase_add_test(perms, test_sub_deny_filter_needs_containment);
    tcase_add_test(perms, test_sub_queue_entries);
    tcase_add_test(perms, test_queue_deny_entry_never_filters_delivery);
    tcase_add_test(perms, test_sub_empty_allow_means_all);
    tcase_add_test(perms, test_pub_allow_deny);
    tcase_add_test(perms, test_pub_large_literal_list);
    tcase_add_test(perms, test_invalid_entries_never_match);
    tcase_add_test(perms, test_allow_responses);
    tcase_add_test(perms, test_null_perms_allow_everything);
    suite_add_tcase(s, perms);

    tcase_add_test(life, test_refcount_lifetime);
    suite_add_tcase(s, life);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(auth_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
