/*
 * tests/unit/check_jwt.c — Check suite for server/jwt.c (decoding and
 * verifying NATS JWTs) and server/auth_jwt.c (operator mode logins).
 *
 * Keys come from fixed seeds (libsodium), encoded as NKEYs here; tokens are
 * built here in nats-io/jwt v2's shape (the same shape the integration test
 * test_23_operator.py builds and nats-server 2.9.10 accepts). No clock:
 * "now" is a fixed time passed to the checks.
 */
#include <check.h>
#include <errno.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/auth.h"
#include "server/auth_jwt.h"
#include "server/jwt.h"
#include "server/nkey.h"
#include "server/perms.h"

#define NOW 1800000000LL

struct key {
    unsigned char pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
    char text[JWT_KEY_CHARS + 1];
};

static uint16_t crc16(const unsigned char *p, size_t n)
{
    uint16_t crc = 0;
    for (size_t i = 0; i < n; i++) {
        crc ^= (uint16_t)(p[i] << 8);
        for (int b = 0; b < 8; b++)
            crc = (uint16_t)(crc & 0x8000 ? (crc << 1) ^ 0x1021 : crc << 1);
    }
    return crc;
}

/* A key pair from a one-byte seed, with its public NKEY text. */
static struct key make_key(char role, unsigned char seed_byte)
{
    static const char b32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    struct key k;
    unsigned char seed[crypto_sign_SEEDBYTES], raw[35];
    memset(seed, seed_byte, sizeof seed);
    crypto_sign_seed_keypair(k.pk, k.sk, seed);
    raw[0] = (unsigned char)((role - 'A') << 3);
    memcpy(raw + 1, k.pk, 32);
    uint16_t crc = crc16(raw, 33);
    raw[33] = (unsigned char)(crc & 0xff);
    raw[34] = (unsigned char)(crc >> 8);
    uint32_t acc = 0;
    int bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < sizeof raw; i++) {
        acc = (acc << 8) | raw[i];
        bits += 8;
        while (bits >= 5) {
            bits -= 5;
            k.text[o++] = b32[(acc >> bits) & 31];
        }
    }
    k.text[o] = '\0';
    return k;
}

static void b64(char *out, size_t cap, const void *bin, size_t n)
{
    sodium_bin2base64(out, cap, bin, n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

/* A token of claims (JSON text) signed by signer; the caller frees it. */
static char *sign_token(const struct key *signer, const char *claims)
{
    static const char header[] = "{\"typ\":\"JWT\",\"alg\":\"ed25519-nkey\"}";
    size_t cap = strlen(claims) * 2 + 400;
    char *t = malloc(cap);
    b64(t, cap, header, strlen(header));
    size_t n = strlen(t);
    t[n++] = '.';
    b64(t + n, cap - n, claims, strlen(claims));
    n = strlen(t);
    unsigned char sig[crypto_sign_BYTES];
    crypto_sign_detached(sig, NULL, (unsigned char *)t, n, signer->sk);
    t[n++] = '.';
    b64(t + n, cap - n, sig, sizeof sig);
    return t;
}

/* Claims "iss" signer, "sub" sub, iat, then `more` (JSON members, may be
 * empty) and nats {type, then `nats` members}. */
static char *token(const struct key *signer, const char *sub, const char *type,
                   const char *more, const char *nats)
{
    char claims[4096];
    snprintf(claims, sizeof claims,
             "{\"iss\":\"%s\",\"sub\":\"%s\",\"iat\":%lld,\"name\":\"n\"%s%s,"
             "\"nats\":{\"type\":\"%s\",\"version\":2%s%s}}",
             signer->text, sub, NOW - 100, *more ? "," : "", more, type, *nats ? "," : "", nats);
    return sign_token(signer, claims);
}

static struct jwt *decode_ok(const char *t, enum jwt_type type)
{
    struct jwt *j = NULL;
    char why[200] = "";
    int rc = jwt_decode(t, strlen(t), type, &j, why, sizeof why);
    ck_assert_msg(rc == 0, "decode failed: %s", why);
    return j;
}

static void decode_bad(const char *t, enum jwt_type type, const char *want)
{
    struct jwt *j = NULL;
    char why[200] = "";
    ck_assert_int_eq(jwt_decode(t, strlen(t), type, &j, why, sizeof why), -EINVAL);
    ck_assert_ptr_null(j);
    if (want)
        ck_assert_str_eq(why, want);
}

static struct key op, op_signing, acc, acc_signing, acc2, user, user2;

static void setup(void)
{
    ck_assert_int_ge(sodium_init(), 0);
    op = make_key('O', 1);
    op_signing = make_key('O', 2);
    acc = make_key('A', 3);
    acc_signing = make_key('A', 4);
    acc2 = make_key('A', 5);
    user = make_key('U', 6);
    user2 = make_key('U', 7);
}

START_TEST(test_nkey_roles)
{
    unsigned char k[32];
    ck_assert_int_eq(nkey_decode(op.text, 'O', k), 0);
    ck_assert_mem_eq(k, op.pk, 32);
    ck_assert_int_eq(nkey_decode(op.text, 'A', k), -EINVAL);
    ck_assert_int_eq(nkey_decode(user.text, 'U', k), 0);
    ck_assert_int_eq(nkey_decode_user(acc.text, k), -EINVAL);
}
END_TEST

START_TEST(test_operator_and_account)
{
    char nats[512];
    snprintf(nats, sizeof nats, "\"signing_keys\":[\"%s\"],\"system_account\":\"%s\"",
             op_signing.text, acc.text);
    char *t = token(&op, op.text, "operator", "", nats);
    struct jwt *j = decode_ok(t, JWT_OPERATOR);
    ck_assert_str_eq(j->sub, op.text);
    ck_assert_str_eq(j->system_account, acc.text);
    ck_assert_uint_eq(j->nsigning_keys, 1);
    ck_assert(jwt_signed_by(j, op.text) && jwt_signed_by(j, op_signing.text));
    ck_assert(!jwt_signed_by(j, acc.text));
    decode_bad(t, JWT_ACCOUNT, "not account claim");
    jwt_free(j);
    free(t);

    snprintf(nats, sizeof nats,
             "\"exports\":[{\"subject\":\"svc.>\",\"type\":\"service\","
             "\"response_type\":\"Stream\",\"response_threshold\":3000000000},"
             "{\"subject\":\"feed.>\",\"type\":\"stream\"}],"
             "\"imports\":[{\"subject\":\"x.>\",\"account\":\"%s\",\"type\":\"stream\","
             "\"to\":\"pre\"}],\"revocations\":{\"%s\":%lld,\"*\":%lld},"
             "\"limits\":{\"subs\":5,\"payload\":100,\"conn\":-1,\"mem_storage\":-1}",
             acc2.text, user.text, NOW, NOW - 1000);
    t = token(&op_signing, acc.text, "account", "", nats);
    j = decode_ok(t, JWT_ACCOUNT);
    ck_assert_uint_eq(j->nexports, 2);
    ck_assert(j->exports[0].service);
    ck_assert_int_eq(j->exports[0].response_type, JWT_RESP_STREAM);
    ck_assert_int_eq(j->exports[0].response_threshold_ms, 3000);
    ck_assert(!j->exports[1].service);
    ck_assert_uint_eq(j->nimports, 1);
    ck_assert_str_eq(j->imports[0].to, "pre");
    ck_assert_ptr_null(j->imports[0].local_subject);
    ck_assert_int_eq(j->max_subs, 5);
    ck_assert_int_eq(j->max_payload, 100);
    ck_assert(j->jetstream && !j->jetstream_tiered);
    ck_assert_int_eq(j->js_mem, -1);
    /* revoked: at or before the entry's time, for the key or for "*" */
    ck_assert(jwt_revoked(j, user.text, NOW));
    ck_assert(!jwt_revoked(j, user.text, NOW + 1));
    ck_assert(jwt_revoked(j, user2.text, NOW - 1000));
    ck_assert(!jwt_revoked(j, user2.text, NOW - 999));
    jwt_free(j);
    free(t);
}
END_TEST

START_TEST(test_user_claims)
{
    char more[64], nats[512];
    snprintf(more, sizeof more, "\"exp\":%lld,\"nbf\":%lld", NOW + 10, NOW - 10);
    snprintf(nats, sizeof nats,
             "\"pub\":{\"allow\":[\"a.>\"],\"deny\":[\"a.b\"]},\"sub\":{\"allow\":[\"c\"]},"
             "\"resp\":{\"max\":2,\"ttl\":5000000000},\"subs\":3,\"payload\":-1,"
             "\"issuer_account\":\"%s\"", acc.text);
    char *t = token(&acc_signing, user.text, "user", more, nats);
    struct jwt *j = decode_ok(t, JWT_USER);
    ck_assert(j->has_perms);
    ck_assert_uint_eq(j->perms.pub.nallow, 1);
    ck_assert_str_eq(j->perms.pub.deny[0], "a.b");
    ck_assert(j->perms.has_resp);
    ck_assert_int_eq(j->perms.resp_max, 2);
    ck_assert_int_eq(j->perms.resp_ttl_ms, 5000);
    ck_assert_int_eq(j->max_subs, 3);
    ck_assert_str_eq(j->issuer_account, acc.text);
    ck_assert(!jwt_expired(j, NOW + 10) && jwt_expired(j, NOW + 11));
    ck_assert(!jwt_not_yet_valid(j, NOW - 10) && jwt_not_yet_valid(j, NOW - 11));
    jwt_free(j);
    free(t);
}
END_TEST

START_TEST(test_refusals)
{
    char *t = token(&acc, user.text, "user", "", "");
    struct jwt *j = decode_ok(t, JWT_USER);
    jwt_free(j);
    /* one changed byte of the claims: the signature no longer verifies */
    char *bad = strdup(t);
    char *dot = strchr(bad, '.');
    dot[5] = dot[5] == 'A' ? 'B' : 'A';
    decode_bad(bad, JWT_USER, NULL);
    free(bad);
    /* the signature cut short, a fourth part, two parts */
    bad = strndup(t, strlen(t) - 4);
    decode_bad(bad, JWT_USER, "claim failed V2 signature verification");
    free(bad);
    char four[4096];
    snprintf(four, sizeof four, "%s.e30", t);
    decode_bad(four, JWT_USER, "expected 3 chunks");
    decode_bad("eyJ0eXAiOiJKV1QifQ.e30", JWT_USER, "expected 3 chunks");
    decode_bad("", JWT_USER, "expected 3 chunks");
    decode_bad("a.b.c", JWT_USER, "invalid header");
    free(t);
    /* a user signed by an operator key, an account by an account key */
    t = token(&op, user.text, "user", "", "");
    decode_bad(t, JWT_USER, "issuer is not a valid account key");
    free(t);
    t = token(&acc2, acc.text, "account", "", "");
    decode_bad(t, JWT_ACCOUNT, "issuer is not a valid operator key");
    free(t);
    /* a user whose subject is an account key */
    t = token(&acc, acc2.text, "user", "", "");
    decode_bad(t, JWT_USER, "subject is not a valid user key");
    free(t);
    /* a wrong claim type for a field */
    t = token(&acc, user.text, "user", "", "\"subs\":\"many\"");
    decode_bad(t, JWT_USER, "malformed user claims");
    free(t);
}
END_TEST

START_TEST(test_undecorate)
{
    const char *s;
    size_t n;
    const char text[] = "-----BEGIN NATS OPERATOR JWT-----\neyJabc.def.ghi\n"
                        "------END NATS OPERATOR JWT------\n";
    jwt_undecorate(text, strlen(text), &s, &n);
    ck_assert_int_eq((int)n, 14);
    ck_assert(!strncmp(s, "eyJabc.def.ghi", n));
    jwt_undecorate("  eyJx.y.z\n", 11, &s, &n);
    ck_assert(n == 8 && !strncmp(s, "eyJx.y.z", n));
}
END_TEST

/* ---- logins (auth_jwt.c) ---- */

static struct tern_opts opts;
static struct opts_preload preloads[2];
static struct auth_jwt *trust;

static void trust_setup(void)
{
    setup();
    char nats[512];
    snprintf(nats, sizeof nats, "\"signing_keys\":[\"%s\"]", op_signing.text);
    memset(&opts, 0, sizeof opts);
    opts.operator_jwt = token(&op, op.text, "operator", "", nats);
    snprintf(nats, sizeof nats, "\"signing_keys\":[\"%s\"],\"revocations\":{\"%s\":%lld},"
             "\"limits\":{\"subs\":10,\"payload\":-1}", acc_signing.text, user2.text, NOW);
    preloads[0].key = acc.text;
    preloads[0].jwt = token(&op, acc.text, "account", "", nats);
    preloads[1].key = acc2.text;
    preloads[1].jwt = token(&op_signing, acc2.text, "account",
                            "\"exp\":1700000000", "\"disallow_bearer\":true");
    opts.preloads = preloads;
    opts.npreloads = 2;
    char err[200] = "";
    ck_assert_msg(auth_jwt_new(&opts, &trust, err, sizeof err) == 0, "%s", err);
}

static void trust_teardown(void)
{
    auth_jwt_free(trust);
    free(opts.operator_jwt);
    free(preloads[0].jwt);
    free(preloads[1].jwt);
}

static const char NONCE[] = "Bm9uY2UtdGVzdDA";

static int login(const char *t, const struct key *signer, struct auth_jwt_login *out)
{
    unsigned char sig[crypto_sign_BYTES];
    char sigtext[100];
    crypto_sign_detached(sig, NULL, (const unsigned char *)NONCE, strlen(NONCE), signer->sk);
    b64(sigtext, sizeof sigtext, sig, sizeof sig);
    return auth_jwt_check(trust, t, sigtext, NONCE, false, NOW, out);
}

static void expect_refused(const char *t, const struct key *signer, const char *why)
{
    struct auth_jwt_login l;
    ck_assert_int_eq(login(t, signer, &l), -EACCES);
    ck_assert_ptr_null(l.perms);
    ck_assert_str_eq(l.why, why);
}

START_TEST(test_login)
{
    struct auth_jwt_login l;
    char *t = token(&acc, user.text, "user", "",
                    "\"pub\":{\"allow\":[\"ok.>\"]},\"subs\":20,\"payload\":64");
    ck_assert_int_eq(login(t, &user, &l), 0);
    ck_assert_str_eq(l.account, acc.text);
    ck_assert_str_eq(l.user, user.text);
    ck_assert_int_eq(l.max_subs, 10); /* the account's is lower */
    ck_assert_int_eq(l.max_payload, 64);
    ck_assert_ptr_nonnull(l.perms);
    ck_assert(auth_can_publish(l.perms, "ok.1", 4));
    ck_assert(!auth_can_publish(l.perms, "no", 2));
    ck_assert(auth_can_subscribe(l.perms, "any", 3, NULL, 0));
    perms_free(l.perms);
    expect_refused(t, &user2, "Signature not verified");
    free(t);

    char nats[128];
    snprintf(nats, sizeof nats, "\"issuer_account\":\"%s\"", acc.text);
    t = token(&acc_signing, user.text, "user", "", nats);
    ck_assert_int_eq(login(t, &user, &l), 0);
    ck_assert_ptr_null(l.perms);
    free(t);
    /* a signing key without issuer_account names no known account */
    t = token(&acc_signing, user.text, "user", "", "");
    expect_refused(t, &user, "Account JWT lookup error: account missing");
    free(t);
    /* issuer_account naming an account the key does not sign for */
    snprintf(nats, sizeof nats, "\"issuer_account\":\"%s\"", acc2.text);
    t = token(&acc_signing, user.text, "user", "", nats);
    expect_refused(t, &user, "User JWT issuer is not known");
    free(t);
}
END_TEST

START_TEST(test_login_refusals)
{
    struct auth_jwt_login l;
    ck_assert_int_eq(auth_jwt_check(trust, NULL, NULL, NONCE, false, NOW, &l), -EACCES);
    ck_assert_str_eq(l.why, "Authentication requires a user JWT");
    ck_assert_int_eq(auth_jwt_check(trust, "x.y.z", "", NONCE, false, NOW, &l), -EACCES);
    ck_assert_str_eq(l.why, "User JWT not valid");

    char more[64];
    snprintf(more, sizeof more, "\"exp\":%lld", NOW - 1);
    char *t = token(&acc, user.text, "user", more, "");
    expect_refused(t, &user, "User JWT no longer valid");
    free(t);
    t = token(&acc, user2.text, "user", "", ""); /* iat NOW-100, revoked at NOW */
    expect_refused(t, &user2, "User authentication revoked");
    free(t);
    t = token(&acc2, user.text, "user", "", "");
    expect_refused(t, &user, "Account JWT has expired");
    free(t);
    struct key stranger = make_key('A', 9);
    t = token(&stranger, user.text, "user", "", "");
    expect_refused(t, &user, "Account JWT lookup error: account missing");
    free(t);
    t = token(&acc, user.text, "user", "", "\"allowed_connection_types\":[\"WEBSOCKET\"]");
    expect_refused(t, &user, "Connection type not allowed");
    free(t);
    t = token(&acc, user.text, "user", "", "\"src\":[\"10.0.0.0/8\"]");
    expect_refused(t, &user, "User JWT restricts source addresses or connect times, "
                             "which Tern does not support");
    free(t);
    /* a bearer token needs no signature, unless the account forbids it */
    t = token(&acc, user.text, "user", "", "\"bearer_token\":true");
    ck_assert_int_eq(auth_jwt_check(trust, t, NULL, NONCE, false, NOW, &l), 0);
    free(t);
    t = token(&acc, user.text, "user", "", "");
    ck_assert_int_eq(auth_jwt_check(trust, t, NULL, NONCE, false, NOW, &l), -EACCES);
    ck_assert_str_eq(l.why, "Signature missing");
    free(t);
}
END_TEST

static Suite *jwt_suite(void)
{
    Suite *s = suite_create("jwt");
    TCase *tc = tcase_create("decode");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, test_nkey_roles);
    tcase_add_test(tc, test_operator_and_account);
    tcase_add_test(tc, test_user_claims);
    tcase_add_test(tc, test_refusals);
    tcase_add_test(tc, test_undecorate);
    suite_add_tcase(s, tc);
    tc = tcase_create("login");
    tcase_add_checked_fixture(tc, trust_setup, trust_teardown);
    tcase_add_test(tc, test_login);
    tcase_add_test(tc, test_login_refusals);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(jwt_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
