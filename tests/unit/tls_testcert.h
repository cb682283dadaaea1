/*
 * tests/unit/tls_testcert.h — a throwaway certificate for the tests that
 * need real TLS sessions (check_tls_pump, check_raft_transport): one
 * self-signed P-256 certificate, CA:TRUE, written with its key to a temp
 * directory, so it serves as its own CA and both sides of a session
 * verify each other, and the cluster-port context built from it
 * (server/tls.h). Test support only; header-only so each test binary
 * stays one file.
 */
#ifndef TERN_TESTS_TLS_TESTCERT_H
#define TERN_TESTS_TLS_TESTCERT_H

#include <check.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server/opts.h"
#include "server/tls.h"

struct testcert {
    char dir[64];
    char cert[128], key[128];
};

static void testcert_write(struct testcert *tc)
{
    snprintf(tc->dir, sizeof tc->dir, "/tmp/tern_testcert.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tc->dir));
    snprintf(tc->cert, sizeof tc->cert, "%s/node.pem", tc->dir);
    snprintf(tc->key, sizeof tc->key, "%s/node.key", tc->dir);
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    ck_assert(key && x);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
    X509_gmtime_adj(X509_getm_notBefore(x), -60);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, key);
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"node", -1,
                               -1, 0);
    X509_set_issuer_name(x, name);
    X509V3_CTX v3;
    X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &v3, NID_basic_constraints, "CA:TRUE");
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    ck_assert_int_gt(X509_sign(x, key, EVP_sha256()), 0);
    FILE *f = fopen(tc->cert, "w");
    ck_assert_ptr_nonnull(f);
    PEM_write_X509(f, x);
    fclose(f);
    f = fopen(tc->key, "w");
    ck_assert_ptr_nonnull(f);
    PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL);
    fclose(f);
    X509_free(x);
    EVP_PKEY_free(key);
}

/* The cluster-port context for tc's certificate (also its CA). */
static struct tls_ctx *testcert_cluster_ctx(const struct testcert *tc)
{
    struct tern_opts ct;
    memset(&ct, 0, sizeof ct);
    ct.tls = ct.tls_verify = true;
    ct.tls_cert = (char *)tc->cert;
    ct.tls_key = (char *)tc->key;
    ct.tls_ca = (char *)tc->cert;
    ct.tls_min_version = 12;
    ct.tls_timeout_s = 2;
    int rc;
    char err[512] = "";
    struct tls_ctx *ctx = tls_ctx_new_cluster(&ct, &rc, err, sizeof err);
    ck_assert_msg(ctx != NULL, "%s", err);
    return ctx;
}

static void testcert_remove(struct testcert *tc)
{
    unlink(tc->cert);
    unlink(tc->key);
    rmdir(tc->dir);
}

#endif
