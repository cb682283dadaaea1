/*
 * server/opts_tls.c — the client port's TLS options: the config file's
 * tls {} block (spec/server-cli-config.md §3.6) and the --tls* flags
 * (§1.5), resolved into the tls_* fields of struct tern_opts.
 *
 * Names are translated here, from the Go spellings nats-server configs use
 * (TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, CurveP256) to OpenSSL's, so a bad
 * name is refused at its file:line:col. Every key Tern cannot honour is an
 * error with the reason, never a warning: a TLS setting silently dropped
 * would weaken the connection without anyone noticing. The certificate and
 * key files themselves are read by server/tls.c (this file links no
 * OpenSSL, so the option tests stay pure). cluster { tls {} } goes through
 * the same parser into a struct of its own (cluster_tls), with the keys
 * that make no sense between nodes refused first.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "server/opts_impl.h"

#define TLS_DEFAULT_TIMEOUT_S 2.0

/* Go cipher-suite names (as nats-server's cipher map spells them) and the
 * OpenSSL names of the same suites. tls13 marks a TLS 1.3 suite, which
 * OpenSSL configures apart from the others. */
static const struct {
    const char *go;
    const char *ossl;
    bool tls13;
} ciphers[] = {
    { "TLS_RSA_WITH_3DES_EDE_CBC_SHA", "DES-CBC3-SHA", false },
    { "TLS_RSA_WITH_AES_128_CBC_SHA", "AES128-SHA", false },
    { "TLS_RSA_WITH_AES_256_CBC_SHA", "AES256-SHA", false },
    { "TLS_RSA_WITH_AES_128_CBC_SHA256", "AES128-SHA256", false },
    { "TLS_RSA_WITH_AES_128_GCM_SHA256", "AES128-GCM-SHA256", false },
    { "TLS_RSA_WITH_AES_256_GCM_SHA384", "AES256-GCM-SHA384", false },
    { "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", "ECDHE-ECDSA-AES128-SHA", false },
    { "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", "ECDHE-ECDSA-AES256-SHA", false },
    { "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256", "ECDHE-ECDSA-AES128-SHA256", false },
    { "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA", "ECDHE-RSA-DES-CBC3-SHA", false },
    { "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", "ECDHE-RSA-AES128-SHA", false },
    { "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", "ECDHE-RSA-AES256-SHA", false },
    { "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256", "ECDHE-RSA-AES128-SHA256", false },
    { "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "ECDHE-RSA-AES128-GCM-SHA256", false },
    { "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "ECDHE-ECDSA-AES128-GCM-SHA256", false },
    { "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "ECDHE-RSA-AES256-GCM-SHA384", false },
    { "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "ECDHE-ECDSA-AES256-GCM-SHA384", false },
    { "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305", "ECDHE-RSA-CHACHA20-POLY1305", false },
    { "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", "ECDHE-RSA-CHACHA20-POLY1305", false },
    { "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305", "ECDHE-ECDSA-CHACHA20-POLY1305", false },
    { "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", "ECDHE-ECDSA-CHACHA20-POLY1305", false },
    { "TLS_AES_128_GCM_SHA256", "TLS_AES_128_GCM_SHA256", true },
    { "TLS_AES_256_GCM_SHA384", "TLS_AES_256_GCM_SHA384", true },
    { "TLS_CHACHA20_POLY1305_SHA256", "TLS_CHACHA20_POLY1305_SHA256", true },
};

/* RC4 is in nats-server's map but gone from OpenSSL 3: refused by name. */
static const char rc4_ciphers[] =
    "TLS_RSA_WITH_RC4_128_SHA TLS_ECDHE_ECDSA_WITH_RC4_128_SHA TLS_ECDHE_RSA_WITH_RC4_128_SHA";

static const struct {
    const char *go;
    const char *ossl;
} curves[] = {
    { "CurveP256", "P-256" },
    { "CurveP384", "P-384" },
    { "CurveP521", "P-521" },
    { "X25519", "X25519" },
};

/* Keys nats-server's tls block knows that Tern does not implement, and
 * why each one cannot simply be ignored. */
static const struct {
    const char *key;
    const char *why;
} refused[] = {
    { "insecure", "it applies to outgoing connections only" },
    { "pinned_certs", "certificate pinning is not implemented" },
    { "handshake_first", "the TLS-first handshake (2.10) is not implemented" },
    { "handshake_first_fallback", "the TLS-first handshake (2.10) is not implemented" },
    { "connection_rate_limit", "TLS connection rate limiting is not implemented" },
    { "cert_store", "Windows certificate stores do not exist here" },
    { "cert_match", "Windows certificate stores do not exist here" },
    { "cert_match_by", "Windows certificate stores do not exist here" },
    { "cert_match_skip_invalid", "Windows certificate stores do not exist here" },
    { "ca_certs_match", "Windows certificate stores do not exist here" },
    { "ocsp_peer", "OCSP peer verification is not implemented" },
    { "verify_cert_and_check_known_urls", "it applies to routes and gateways only" },
    { "certs", "several certificates per listener are not implemented" },
};

static void free_tls_lists(struct tern_opts *o)
{
    opts__free_strv(o->tls_ciphers, o->ntls_ciphers);
    opts__free_strv(o->tls_suites13, o->ntls_suites13);
    opts__free_strv(o->tls_curves, o->ntls_curves);
    o->tls_ciphers = o->tls_suites13 = o->tls_curves = NULL;
    o->ntls_ciphers = o->ntls_suites13 = o->ntls_curves = 0;
}

/* Everything TLS back to "off", before a block or the flags define it. */
static void reset_tls(struct tern_opts *o)
{
    char **strs[] = { &o->tls_cert, &o->tls_key, &o->tls_ca, &o->tls_where };
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++) {
        free(*strs[i]);
        *strs[i] = NULL;
    }
    free_tls_lists(o);
    o->tls = o->tls_verify = o->tls_map = false;
    o->tls_min_version = 12;
}

void opts__free_tls(struct tern_opts *o)
{
    reset_tls(o);
    if (o->cluster_tls) {
        opts_free(o->cluster_tls);
        free(o->cluster_tls);
        o->cluster_tls = NULL;
    }
}

static int tls_err(struct cfg *c, const struct conf_entry *k, const char *what)
{
    return ent_err(c, k, "error parsing tls config, %s", what);
}

static int tls_file(struct cfg *c, const struct conf_entry *k, char **field)
{
    char why[96];
    if (k->val->type != CONF_STRING) {
        snprintf(why, sizeof why, "expected '%s' to be filename", k->key);
        return tls_err(c, k, why);
    }
    return opts__dup_into(field, k->val->u.str.s);
}

static int tls_bool(struct cfg *c, const struct conf_entry *k, bool *field)
{
    char why[96];
    if (k->val->type != CONF_BOOL) {
        snprintf(why, sizeof why, "expected '%s' to be a boolean", k->key);
        return tls_err(c, k, why);
    }
    *field = k->val->u.b;
    return 0;
}

/* Seconds as a number, or a Go duration string, as 2.9 takes it. */
static int tls_timeout(struct cfg *c, const struct conf_entry *k, double *out)
{
    const struct conf_value *v = k->val;
    double s;
    if (v->type == CONF_INT) {
        s = (double)v->u.i;
    } else if (v->type == CONF_FLOAT) {
        s = v->u.f;
    } else if (v->type == CONF_STRING) {
        int64_t ns;
        char why[200];
        if (opts__parse_go_duration(v->u.str.s, &ns, why, sizeof why) < 0)
            return ent_err(c, k, "error parsing tls config, %s", why);
        s = (double)ns / 1e9;
    } else {
        return tls_err(c, k, "'timeout' wrong type");
    }
    if (!(s >= 0) || !isfinite(s) || s > 86400.0)
        return ent_err(c, k, "error parsing tls config, 'timeout' must be between 0 and 86400 "
                             "seconds");
    *out = s == 0 ? TLS_DEFAULT_TIMEOUT_S : s; /* 0 means the default, as in nats-server */
    return 0;
}

static int tls_cipher_list(struct cfg *c, const struct conf_entry *k, struct tern_opts *o)
{
    if (k->val->type != CONF_ARRAY)
        return tls_err(c, k, "'cipher_suites' should be an array of strings");
    opts__free_strv(o->tls_ciphers, o->ntls_ciphers);
    opts__free_strv(o->tls_suites13, o->ntls_suites13);
    o->tls_ciphers = o->tls_suites13 = NULL;
    o->ntls_ciphers = o->ntls_suites13 = 0;
    for (size_t i = 0; i < k->val->u.arr.n; i++) {
        const struct conf_value *v = k->val->u.arr.items[i];
        if (v->type != CONF_STRING)
            return opts__at_err(c, v->file, v->line, v->col,
                                "error parsing tls config, 'cipher_suites' should be an array "
                                "of strings");
        const char *name = v->u.str.s;
        size_t j;
        for (j = 0; j < sizeof ciphers / sizeof ciphers[0]; j++)
            if (strcmp(ciphers[j].go, name) == 0)
                break;
        if (j == sizeof ciphers / sizeof ciphers[0]) {
            if (strstr(rc4_ciphers, name) && !strchr(name, ' '))
                return opts__at_err(c, v->file, v->line, v->col,
                                    "cipher %s is not supported by Tern: RC4 is insecure and "
                                    "gone from OpenSSL", name);
            return opts__at_err(c, v->file, v->line, v->col, "unrecognized cipher %s", name);
        }
        int rc = ciphers[j].tls13
                     ? opts__strv_push(&o->tls_suites13, &o->ntls_suites13, ciphers[j].ossl)
                     : opts__strv_push(&o->tls_ciphers, &o->ntls_ciphers, ciphers[j].ossl);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int tls_curve_list(struct cfg *c, const struct conf_entry *k, struct tern_opts *o)
{
    if (k->val->type != CONF_ARRAY)
        return tls_err(c, k, "'curve_preferences' should be an array of strings");
    opts__free_strv(o->tls_curves, o->ntls_curves);
    o->tls_curves = NULL;
    o->ntls_curves = 0;
    for (size_t i = 0; i < k->val->u.arr.n; i++) {
        const struct conf_value *v = k->val->u.arr.items[i];
        if (v->type != CONF_STRING)
            return opts__at_err(c, v->file, v->line, v->col,
                                "error parsing tls config, 'curve_preferences' should be an "
                                "array of strings");
        size_t j;
        for (j = 0; j < sizeof curves / sizeof curves[0]; j++)
            if (strcmp(curves[j].go, v->u.str.s) == 0)
                break;
        if (j == sizeof curves / sizeof curves[0])
            return opts__at_err(c, v->file, v->line, v->col,
                                "unrecognized curve preference %s", v->u.str.s);
        int rc = opts__strv_push(&o->tls_curves, &o->ntls_curves, curves[j].ossl);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* min_version is nats-server 2.10's key; Tern takes it on 2.9 configs too. */
static int tls_min_version(struct cfg *c, const struct conf_entry *k, int *out)
{
    const char *s = k->val->type == CONF_STRING ? k->val->u.str.s : NULL;
    char num[32] = "";
    if (!s && k->val->type == CONF_FLOAT) {
        snprintf(num, sizeof num, "%.1f", k->val->u.f);
        s = num;
    }
    if (s && strcmp(s, "1.2") == 0)
        *out = 12;
    else if (s && strcmp(s, "1.3") == 0)
        *out = 13;
    else if (s)
        return ent_err(c, k, "unsupported TLS min_version \"%s\": Tern accepts \"1.2\" or "
                             "\"1.3\"", s);
    else
        return tls_err(c, k, "expected 'min_version' to be a string");
    return 0;
}

int opts__apply_tls(struct cfg *c, const struct conf_entry *e)
{
    struct tern_opts *o = c->o;
    if (e->val->type != CONF_MAP)
        return opts__type_err(c, e, "map[string]interface {}");
    reset_tls(o);
    o->tls = true;
    o->tls_timeout_s = TLS_DEFAULT_TIMEOUT_S;
    char where[512];
    snprintf(where, sizeof where, "%s:%d:%d", e->file, e->line, e->col);
    int rc = opts__dup_into(&o->tls_where, where);
    const struct conf_value *m = e->val;
    for (size_t i = 0; i < m->u.map.n && rc == 0; i++) {
        const struct conf_entry *k = &m->u.map.items[i];
        if (opts__key_is(k, "cert_file"))
            rc = tls_file(c, k, &o->tls_cert);
        else if (opts__key_is(k, "key_file"))
            rc = tls_file(c, k, &o->tls_key);
        else if (opts__key_is(k, "ca_file"))
            rc = tls_file(c, k, &o->tls_ca);
        else if (opts__key_is(k, "verify"))
            rc = tls_bool(c, k, &o->tls_verify);
        else if (opts__key_is(k, "verify_and_map"))
            rc = tls_bool(c, k, &o->tls_map);
        else if (opts__key_is(k, "timeout"))
            rc = tls_timeout(c, k, &o->tls_timeout_s);
        else if (opts__key_is(k, "cipher_suites"))
            rc = tls_cipher_list(c, k, o);
        else if (opts__key_is(k, "curve_preferences"))
            rc = tls_curve_list(c, k, o);
        else if (opts__key_is(k, "min_version"))
            rc = tls_min_version(c, k, &o->tls_min_version);
        else {
            size_t j;
            for (j = 0; j < sizeof refused / sizeof refused[0]; j++)
                if (strcasecmp(refused[j].key, k->key) == 0)
                    break;
            if (j < sizeof refused / sizeof refused[0])
                rc = ent_err(c, k, "tls option \"%s\" is not supported by Tern: %s", k->key,
                             refused[j].why);
            else if (!k->used_variable)
                rc = ent_err(c, k, "error parsing tls config, unknown field [\"%s\"]", k->key);
        }
    }
    if (rc < 0)
        return rc;
    /* verify_and_map verifies too: a mapped certificate must be trusted. */
    if (o->tls_map)
        o->tls_verify = true;
    if (!o->tls_cert && o->tls_key)
        return ent_err(c, e, "missing 'cert_file' in TLS configuration");
    if (o->tls_cert && !o->tls_key)
        return ent_err(c, e, "missing 'key_file' in TLS configuration");
    if (!o->tls_cert)
        return ent_err(c, e, "missing 'cert_file' in TLS configuration: Tern needs a "
                             "certificate to serve TLS");
    return 0;
}

/* nats-server's overrideTLS: any --tls* flag replaces the file's block with
 * what the flags say (the handshake timeout stays); --tls=false turns TLS
 * off. Runs after the flags' second pass. */
int opts__apply_tls_flags(struct tern_opts *o, const struct flags *f, char *err, size_t errlen)
{
    bool given = false, tls = false, off = false, verify = false;
    const char *cert = NULL, *key = NULL, *ca = NULL;
    for (size_t i = 0; i < f->n; i++) {
        const struct flag_set *s = &f->set[i];
        if (!opts__flag_is_tls(s))
            continue;
        given = true;
        if (s->namelen == 3 && !strncmp(s->name, "tls", 3)) {
            tls = s->b;
            off = !s->b;
        } else if (s->namelen == 9 && !strncmp(s->name, "tlsverify", 9)) {
            verify = s->b;
        } else if (s->namelen == 7 && !strncmp(s->name, "tlscert", 7)) {
            cert = s->str;
        } else if (s->namelen == 6 && !strncmp(s->name, "tlskey", 6)) {
            key = s->str;
        } else {
            ca = s->str;
        }
    }
    if (!given)
        return 0;
    double timeout = o->tls ? o->tls_timeout_s : TLS_DEFAULT_TIMEOUT_S;
    reset_tls(o);
    if (off)
        return 0;
    (void)tls;
    if (!cert || !*cert) {
        snprintf(err, errlen, "TLS Server certificate must be present and valid");
        return -EINVAL;
    }
    if (!key || !*key) {
        snprintf(err, errlen, "TLS Server private key must be present and valid");
        return -EINVAL;
    }
    o->tls = true;
    o->tls_verify = verify;
    o->tls_timeout_s = timeout;
    int rc = opts__dup_into(&o->tls_cert, cert);
    if (rc == 0)
        rc = opts__dup_into(&o->tls_key, key);
    if (rc == 0 && ca && *ca)
        rc = opts__dup_into(&o->tls_ca, ca);
    return rc;
}

/* Keys of the shared block that cannot mean anything between Tern nodes,
 * and why; refused before the shared parser sees them. */
static const struct {
    const char *key;
    const char *why;
} cluster_refused[] = {
    { "insecure", "a route peer's certificate is always verified" },
    { "verify_and_map", "mapping a route's certificate to the cluster user is not "
                        "implemented" },
    { "verify_cert_and_check_known_urls", "checking a route certificate against the known "
                                          "route URLs is not implemented" },
};

int opts__apply_cluster_tls(struct cfg *c, const struct conf_entry *e)
{
    struct tern_opts *o = c->o;
    if (e->val->type == CONF_MAP) {
        for (size_t i = 0; i < e->val->u.map.n; i++) {
            const struct conf_entry *k = &e->val->u.map.items[i];
            for (size_t j = 0; j < sizeof cluster_refused / sizeof cluster_refused[0]; j++)
                if (strcasecmp(cluster_refused[j].key, k->key) == 0)
                    return ent_err(c, k, "cluster tls option \"%s\" is not supported by Tern: "
                                         "%s", k->key, cluster_refused[j].why);
        }
    }
    if (!o->cluster_tls) {
        o->cluster_tls = calloc(1, sizeof *o->cluster_tls);
        if (!o->cluster_tls)
            return -ENOMEM;
    }
    struct cfg sub = *c;
    sub.o = o->cluster_tls;
    int rc = opts__apply_tls(&sub, e);
    c->first_warning = sub.first_warning;
    /* nats-server forces verification on routes whatever `verify` says
     * (RequireAndVerifyClientCert, the CA trusted both ways): so does Tern. */
    o->cluster_tls->tls_verify = true;
    return rc;
}

static bool same_str(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static bool same_strv(char **a, size_t na, char **b, size_t nb)
{
    if (na != nb)
        return false;
    for (size_t i = 0; i < na; i++)
        if (strcmp(a[i], b[i]) != 0)
            return false;
    return true;
}

bool opts__cluster_tls_same(const struct tern_opts *r, const struct tern_opts *n)
{
    const struct tern_opts *a = r->cluster_tls, *b = n->cluster_tls;
    if (!a || !b)
        return !a && !b;
    return same_str(a->tls_cert, b->tls_cert) && same_str(a->tls_key, b->tls_key) &&
           same_str(a->tls_ca, b->tls_ca) && a->tls_timeout_s == b->tls_timeout_s &&
           a->tls_min_version == b->tls_min_version &&
           same_strv(a->tls_ciphers, a->ntls_ciphers, b->tls_ciphers, b->ntls_ciphers) &&
           same_strv(a->tls_suites13, a->ntls_suites13, b->tls_suites13, b->ntls_suites13) &&
           same_strv(a->tls_curves, a->ntls_curves, b->tls_curves, b->ntls_curves);
}
