/*
 * server/jwt.c — decoding and verifying NATS JWTs (see jwt.h).
 *
 * Order of work, cheapest refusal first: split into three parts, decode
 * and check the header, decode the claims JSON (jansson), check iss and
 * sub are public keys of the right roles, then verify the signature with
 * libsodium. Every claim the server acts on is copied out of the JSON into
 * struct jwt, so the JSON is freed before returning and callers never
 * touch jansson. Unknown claims are ignored, as nats-jwt ignores them.
 */
#include "server/jwt.h"

#include <errno.h>
#include <jansson.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/nkey.h"

static int fail(char *why, size_t whylen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *why, size_t whylen, const char *fmt, ...)
{
    if (why && whylen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, whylen, fmt, ap);
        va_end(ap);
    }
    return -EINVAL;
}

/* ---- base64url ---- */

static bool url_alphabet(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
              ch == '-' || ch == '_'))
            return false;
    }
    return true;
}

/* Decode unpadded base64url (nats-jwt writes it so; a trailing '=' pad is
 * tolerated). Checking the alphabet first keeps bytes above 0x7f away from
 * libsodium's decoder (see server/nkey.c). Caller frees *out. */
static int b64url_decode(const char *s, size_t n, unsigned char **out, size_t *outlen)
{
    while (n > 0 && s[n - 1] == '=')
        n--;
    if (!url_alphabet(s, n))
        return -EINVAL;
    size_t cap = n / 4 * 3 + 3;
    unsigned char *buf = malloc(cap + 1);
    if (!buf)
        return -ENOMEM;
    size_t got = 0;
    const char *end = NULL;
    if (sodium_base642bin(buf, cap, s, n, NULL, &got, &end,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
        end != s + n) {
        free(buf);
        return -EINVAL;
    }
    buf[got] = '\0';
    *out = buf;
    *outlen = got;
    return 0;
}

/* Decode one part and parse it as a JSON object. */
static int part_json(const char *s, size_t n, json_t **out)
{
    unsigned char *raw = NULL;
    size_t len = 0;
    int rc = b64url_decode(s, n, &raw, &len);
    if (rc < 0)
        return rc;
    json_error_t jerr;
    json_t *j = json_loadb((const char *)raw, len, JSON_REJECT_DUPLICATES, &jerr);
    free(raw);
    if (!j || !json_is_object(j)) {
        json_decref(j);
        return -EINVAL;
    }
    *out = j;
    return 0;
}

/* ---- claim fields ---- */

/* A string claim copied out; absent, null and "" give NULL. A claim of
 * another type is an error, as Go's decoder refuses it. */
static int get_str(json_t *o, const char *key, char **dst)
{
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return -EINVAL;
    const char *s = json_string_value(v);
    if (json_string_length(v) != strlen(s))
        return -EINVAL; /* a \u0000 inside: no key or subject has one */
    if (!*s)
        return 0;
    return (*dst = strdup(s)) ? 0 : -ENOMEM;
}

static int get_int(json_t *o, const char *key, int64_t *dst)
{
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v))
        return 0;
    if (json_is_integer(v)) {
        *dst = (int64_t)json_integer_value(v);
        return 0;
    }
    return -EINVAL;
}

static int get_bool(json_t *o, const char *key, bool *dst)
{
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_boolean(v))
        return -EINVAL;
    *dst = json_is_true(v);
    return 0;
}

/* A list of strings; absent or null gives NULL. */
static int get_strv(json_t *o, const char *key, char ***dst, size_t *n)
{
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_array(v))
        return -EINVAL;
    size_t cnt = json_array_size(v);
    if (!(*dst = calloc(cnt + 1, sizeof **dst)))
        return -ENOMEM;
    for (size_t i = 0; i < cnt; i++) {
        json_t *it = json_array_get(v, i);
        if (!json_is_string(it) || json_string_length(it) != strlen(json_string_value(it)))
            return -EINVAL;
        if (!((*dst)[i] = strdup(json_string_value(it))))
            return -ENOMEM;
        (*n)++;
    }
    return 0;
}

static void free_strv(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static int get_perm(json_t *o, const char *key, struct jwt_perm *p)
{
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_object(v))
        return -EINVAL;
    int rc = get_strv(v, "allow", &p->allow, &p->nallow);
    if (rc == 0)
        rc = get_strv(v, "deny", &p->deny, &p->ndeny);
    return rc;
}

/* pub, sub and resp of a user (or of an account's default_permissions).
 * nats-jwt writes resp.ttl as a Go duration in nanoseconds. */
static int get_perms(json_t *o, struct jwt_perms *p, bool *said)
{
    int rc = get_perm(o, "pub", &p->pub);
    if (rc == 0)
        rc = get_perm(o, "sub", &p->sub);
    json_t *resp = json_object_get(o, "resp");
    if (rc == 0 && resp && !json_is_null(resp)) {
        int64_t ttl_ns = 0;
        if (!json_is_object(resp))
            return -EINVAL;
        p->has_resp = true;
        if ((rc = get_int(resp, "max", &p->resp_max)) == 0 &&
            (rc = get_int(resp, "ttl", &ttl_ns)) == 0)
            p->resp_ttl_ms = ttl_ns / 1000000;
    }
    *said = p->pub.nallow || p->pub.ndeny || p->sub.nallow || p->sub.ndeny || p->has_resp;
    return rc;
}

static void free_perms(struct jwt_perms *p)
{
    free_strv(p->pub.allow, p->pub.nallow);
    free_strv(p->pub.deny, p->pub.ndeny);
    free_strv(p->sub.allow, p->sub.nallow);
    free_strv(p->sub.deny, p->sub.ndeny);
}

/* signing_keys: plain key strings, or (accounts) scoped objects, which
 * carry a permission template Tern does not apply: noted, not used. */
static int get_signing_keys(json_t *nats, struct jwt *j)
{
    json_t *v = json_object_get(nats, "signing_keys");
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_array(v))
        return -EINVAL;
    if (!(j->signing_keys = calloc(json_array_size(v) + 1, sizeof *j->signing_keys)))
        return -ENOMEM;
    for (size_t i = 0; i < json_array_size(v); i++) {
        json_t *it = json_array_get(v, i);
        if (json_is_object(it)) {
            j->scoped_keys = true;
            continue;
        }
        if (!json_is_string(it))
            return -EINVAL;
        if (!(j->signing_keys[j->nsigning_keys] = strdup(json_string_value(it))))
            return -ENOMEM;
        j->nsigning_keys++;
    }
    return 0;
}

/* "stream" or "service", as nats-jwt spells ExportType. */
static int get_kind(json_t *o, bool *service)
{
    json_t *t = json_object_get(o, "type");
    const char *s = json_is_string(t) ? json_string_value(t) : "";
    if (!strcmp(s, "service"))
        *service = true;
    else if (!strcmp(s, "stream"))
        *service = false;
    else
        return -EINVAL;
    return 0;
}

static int get_export(json_t *o, struct jwt_export *x)
{
    if (!json_is_object(o))
        return -EINVAL;
    char *rt = NULL;
    int64_t threshold_ns = 0;
    int rc = get_kind(o, &x->service);
    if (rc == 0 && (rc = get_str(o, "subject", &x->subject)) == 0 &&
        (rc = get_bool(o, "token_req", &x->token_req)) == 0 &&
        (rc = get_str(o, "response_type", &rt)) == 0 &&
        (rc = get_int(o, "response_threshold", &threshold_ns)) == 0) {
        if (!x->subject)
            rc = -EINVAL;
        else if (!rt || !strcmp(rt, "Singleton"))
            x->response_type = JWT_RESP_SINGLETON;
        else if (!strcmp(rt, "Stream"))
            x->response_type = JWT_RESP_STREAM;
        else if (!strcmp(rt, "Chunked"))
            x->response_type = JWT_RESP_CHUNKED;
        else
            rc = -EINVAL;
        x->response_threshold_ms = threshold_ns / 1000000;
    }
    free(rt);
    return rc;
}

static int get_import(json_t *o, struct jwt_import *im)
{
    if (!json_is_object(o))
        return -EINVAL;
    char *token = NULL;
    int rc = get_kind(o, &im->service);
    if (rc == 0 && (rc = get_str(o, "account", &im->account)) == 0 &&
        (rc = get_str(o, "subject", &im->subject)) == 0 &&
        (rc = get_str(o, "to", &im->to)) == 0 &&
        (rc = get_str(o, "local_subject", &im->local_subject)) == 0 &&
        (rc = get_str(o, "token", &token)) == 0 && (!im->account || !im->subject))
        rc = -EINVAL;
    im->has_token = token != NULL;
    free(token);
    return rc;
}

/* exports or imports: an array of objects, each decoded by one. */
static int get_list(json_t *nats, const char *key, void **items, size_t *n, size_t size,
                    int (*one)(json_t *, void *))
{
    json_t *v = json_object_get(nats, key);
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_array(v))
        return -EINVAL;
    if (!(*items = calloc(json_array_size(v) + 1, size)))
        return -ENOMEM;
    for (size_t i = 0; i < json_array_size(v); i++) {
        (*n)++;
        int rc = one(json_array_get(v, i), (char *)*items + i * size);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int one_export(json_t *o, void *x) { return get_export(o, x); }
static int one_import(json_t *o, void *x) { return get_import(o, x); }

static int get_revocations(json_t *nats, struct jwt *j)
{
    json_t *v = json_object_get(nats, "revocations");
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_object(v))
        return -EINVAL;
    if (!(j->revocations = calloc(json_object_size(v) + 1, sizeof *j->revocations)))
        return -ENOMEM;
    const char *key;
    json_t *at;
    json_object_foreach(v, key, at) {
        if (!json_is_integer(at))
            return -EINVAL;
        struct jwt_revocation *r = &j->revocations[j->nrevocations];
        if (!(r->key = strdup(key)))
            return -ENOMEM;
        r->at = (int64_t)json_integer_value(at);
        j->nrevocations++;
    }
    return 0;
}

/* Account limits. JetStream is on when memory or disk storage is not 0,
 * in the flat limits or in any tier (nats-jwt's IsJSEnabled). */
static int get_account_limits(json_t *nats, struct jwt *j)
{
    json_t *lim = json_object_get(nats, "limits");
    if (lim && !json_is_null(lim)) {
        int64_t mem = 0, disk = 0, streams = JWT_NO_LIMIT, consumers = JWT_NO_LIMIT;
        if (!json_is_object(lim))
            return -EINVAL;
        int rc;
        if ((rc = get_int(lim, "conn", &j->max_conn)) < 0 ||
            (rc = get_int(lim, "subs", &j->max_subs)) < 0 ||
            (rc = get_int(lim, "payload", &j->max_payload)) < 0 ||
            (rc = get_int(lim, "mem_storage", &mem)) < 0 ||
            (rc = get_int(lim, "disk_storage", &disk)) < 0 ||
            (rc = get_int(lim, "streams", &streams)) < 0 ||
            (rc = get_int(lim, "consumer", &consumers)) < 0)
            return rc;
        j->jetstream = mem != 0 || disk != 0;
        j->js_mem = mem > 0 ? mem : -1;
        j->js_disk = disk > 0 ? disk : -1;
        j->js_streams = streams > 0 ? streams : -1;
        j->js_consumers = consumers > 0 ? consumers : -1;
    }
    json_t *tiers = json_object_get(nats, "tiered_limits");
    if (json_is_object(tiers) && json_object_size(tiers) > 0) {
        j->jetstream = true;
        j->jetstream_tiered = true;
    }
    return 0;
}

static int decode_account(json_t *nats, struct jwt *j)
{
    int rc;
    bool said = false;
    if ((rc = get_signing_keys(nats, j)) < 0 ||
        (rc = get_list(nats, "exports", (void **)&j->exports, &j->nexports,
                       sizeof *j->exports, one_export)) < 0 ||
        (rc = get_list(nats, "imports", (void **)&j->imports, &j->nimports,
                       sizeof *j->imports, one_import)) < 0 ||
        (rc = get_revocations(nats, j)) < 0 || (rc = get_account_limits(nats, j)) < 0 ||
        (rc = get_bool(nats, "disallow_bearer", &j->disallow_bearer)) < 0)
        return rc;
    json_t *dp = json_object_get(nats, "default_permissions");
    if (json_is_object(dp)) {
        if ((rc = get_perms(dp, &j->default_perms, &said)) < 0)
            return rc;
        j->has_default_perms = said;
    }
    return 0;
}

static int decode_user(json_t *nats, struct jwt *j)
{
    int rc;
    if ((rc = get_perms(nats, &j->perms, &j->has_perms)) < 0 ||
        (rc = get_int(nats, "subs", &j->max_subs)) < 0 ||
        (rc = get_int(nats, "payload", &j->max_payload)) < 0 ||
        (rc = get_bool(nats, "bearer_token", &j->bearer_token)) < 0 ||
        (rc = get_str(nats, "issuer_account", &j->issuer_account)) < 0 ||
        (rc = get_strv(nats, "allowed_connection_types", &j->conn_types, &j->nconn_types)) < 0)
        return rc;
    json_t *src = json_object_get(nats, "src"), *times = json_object_get(nats, "times");
    json_t *locale = json_object_get(nats, "locale");
    j->restricted = (json_is_array(src) && json_array_size(src) > 0) ||
                    (json_is_string(src) && json_string_length(src) > 0) ||
                    (json_is_array(times) && json_array_size(times) > 0) ||
                    (json_is_string(locale) && json_string_length(locale) > 0);
    return 0;
}

/* ---- the token ---- */

static const char *const type_names[] = { "operator", "account", "user" };
/* Who may sign each type: operators sign themselves and accounts,
 * accounts sign users; and the role of each type's subject. */
static const char issuer_role[] = { 'O', 'O', 'A' };
static const char subject_role[] = { 'O', 'A', 'U' };

static int check_header(const char *s, size_t n, char *why, size_t whylen)
{
    json_t *h = NULL;
    int rc = part_json(s, n, &h);
    if (rc == -ENOMEM)
        return rc;
    if (rc < 0)
        return fail(why, whylen, "invalid header");
    json_t *typ = json_object_get(h, "typ"), *alg = json_object_get(h, "alg");
    if (!json_is_string(typ) || strcasecmp(json_string_value(typ), "JWT") != 0)
        rc = fail(why, whylen, "not supported type");
    else if (!json_is_string(alg) || strcmp(json_string_value(alg), "ed25519-nkey") != 0)
        rc = fail(why, whylen, "unexpected %s algorithm",
                  json_is_string(alg) ? json_string_value(alg) : "missing");
    json_decref(h);
    return rc;
}

static int decode_claims(json_t *cl, enum jwt_type want, struct jwt *j, char *why,
                         size_t whylen)
{
    json_t *nats = json_object_get(cl, "nats");
    json_t *t = json_is_object(nats) ? json_object_get(nats, "type") : NULL;
    if (!json_is_string(t) || strcmp(json_string_value(t), type_names[want]) != 0)
        return fail(why, whylen, "not %s claim", type_names[want]);
    j->type = want;
    int rc;
    if ((rc = get_str(cl, "iss", &j->iss)) < 0 || (rc = get_str(cl, "sub", &j->sub)) < 0 ||
        (rc = get_str(cl, "name", &j->name)) < 0 || (rc = get_int(cl, "iat", &j->iat)) < 0 ||
        (rc = get_int(cl, "exp", &j->exp)) < 0 || (rc = get_int(cl, "nbf", &j->nbf)) < 0)
        goto out;
    switch (want) {
    case JWT_OPERATOR:
        if ((rc = get_signing_keys(nats, j)) == 0)
            rc = get_str(nats, "system_account", &j->system_account);
        break;
    case JWT_ACCOUNT:
        j->max_conn = j->max_subs = j->max_payload = JWT_NO_LIMIT;
        j->js_mem = j->js_disk = j->js_streams = j->js_consumers = -1;
        rc = decode_account(nats, j);
        break;
    case JWT_USER:
        j->max_subs = j->max_payload = JWT_NO_LIMIT;
        rc = decode_user(nats, j);
        break;
    }
out:
    if (rc == -EINVAL)
        fail(why, whylen, "malformed %s claims", type_names[want]);
    return rc;
}

static int verify(const char *token, size_t signed_len, const char *sig, size_t siglen,
                  const struct jwt *j, char *why, size_t whylen)
{
    unsigned char key[NKEY_PUBLIC_BYTES], sub_key[NKEY_PUBLIC_BYTES];
    if (!j->iss || nkey_decode(j->iss, issuer_role[j->type], key) < 0)
        return fail(why, whylen, "issuer is not a valid %s key",
                    issuer_role[j->type] == 'O' ? "operator" : "account");
    if (!j->sub || nkey_decode(j->sub, subject_role[j->type], sub_key) < 0)
        return fail(why, whylen, "subject is not a valid %s key", type_names[j->type]);
    unsigned char *raw = NULL;
    size_t rawlen = 0;
    int rc = b64url_decode(sig, siglen, &raw, &rawlen);
    if (rc == -ENOMEM)
        return rc;
    bool ok = rc == 0 && rawlen == crypto_sign_BYTES &&
              crypto_sign_verify_detached(raw, (const unsigned char *)token, signed_len,
                                          key) == 0;
    free(raw);
    return ok ? 0 : fail(why, whylen, "claim failed V2 signature verification");
}

int jwt_decode(const char *token, size_t len, enum jwt_type want, struct jwt **out,
               char *why, size_t whylen)
{
    *out = NULL;
    if (sodium_init() < 0)
        return fail(why, whylen, "cannot initialise libsodium");
    if (len == 0 || len > JWT_MAX_TOKEN)
        return fail(why, whylen, "expected 3 chunks");
    const char *dot1 = memchr(token, '.', len);
    const char *dot2 = dot1 ? memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token)) : NULL;
    if (!dot2 || memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - token)))
        return fail(why, whylen, "expected 3 chunks");
    int rc = check_header(token, (size_t)(dot1 - token), why, whylen);
    if (rc < 0)
        return rc;
    json_t *cl = NULL;
    rc = part_json(dot1 + 1, (size_t)(dot2 - dot1 - 1), &cl);
    if (rc < 0)
        return rc == -ENOMEM ? rc : fail(why, whylen, "invalid claims");
    struct jwt *j = calloc(1, sizeof *j);
    if (!j) {
        rc = -ENOMEM;
        goto err_free_json;
    }
    rc = decode_claims(cl, want, j, why, whylen);
    if (rc < 0)
        goto err_free_jwt;
    rc = verify(token, (size_t)(dot2 - token), dot2 + 1, len - (size_t)(dot2 + 1 - token), j,
                why, whylen);
    if (rc < 0)
        goto err_free_jwt;
    json_decref(cl);
    *out = j;
    return 0;

err_free_jwt:
    jwt_free(j);
err_free_json:
    json_decref(cl);
    return rc;
}

void jwt_free(struct jwt *j)
{
    if (!j)
        return;
    free(j->iss);
    free(j->sub);
    free(j->name);
    free_strv(j->signing_keys, j->nsigning_keys);
    free(j->system_account);
    for (size_t i = 0; i < j->nexports; i++)
        free(j->exports[i].subject);
    free(j->exports);
    for (size_t i = 0; i < j->nimports; i++) {
        free(j->imports[i].account);
        free(j->imports[i].subject);
        free(j->imports[i].to);
        free(j->imports[i].local_subject);
    }
    free(j->imports);
    for (size_t i = 0; i < j->nrevocations; i++)
        free(j->revocations[i].key);
    free(j->revocations);
    free_perms(&j->default_perms);
    free_perms(&j->perms);
    free(j->issuer_account);
    free_strv(j->conn_types, j->nconn_types);
    free(j);
}

/* ---- checks ---- */

bool jwt_expired(const struct jwt *j, int64_t now)
{
    return j->exp > 0 && now > j->exp;
}

bool jwt_not_yet_valid(const struct jwt *j, int64_t now)
{
    return j->nbf > 0 && j->nbf > now;
}

/* nats-server's isRevoked: an entry for the key, or for "*", at or after
 * the JWT's issue time revokes it. */
bool jwt_revoked(const struct jwt *a, const char *key, int64_t iat)
{
    for (size_t i = 0; i < a->nrevocations; i++) {
        const struct jwt_revocation *r = &a->revocations[i];
        if ((!strcmp(r->key, key) || !strcmp(r->key, "*")) && r->at >= iat)
            return true;
    }
    return false;
}

bool jwt_signed_by(const struct jwt *a, const char *key)
{
    if (a->sub && !strcmp(a->sub, key))
        return true;
    for (size_t i = 0; i < a->nsigning_keys; i++)
        if (!strcmp(a->signing_keys[i], key))
            return true;
    return false;
}

static bool is_space(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

/* nats-jwt's ParseDecoratedJWT: the first line after a "-----BEGIN"
 * line ending in "JWT-----" (any case of dashes count) is the token; text
 * without such a block is the token itself. */
void jwt_undecorate(const char *text, size_t n, const char **start, size_t *len)
{
    const char *p = text, *end = text + n;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *le = eol ? eol : end;
        size_t ll = (size_t)(le - p);
        while (ll && is_space(p[ll - 1]))
            ll--;
        if (ll >= 13 && !memcmp(p, "-----BEGIN", 10) && !memcmp(p + ll - 8, "JWT-----", 8) &&
            eol) {
            const char *t = eol + 1;
            const char *te = memchr(t, '\n', (size_t)(end - t));
            text = t;
            end = te ? te : end;
            break;
        }
        if (!eol)
            break;
        p = eol + 1;
    }
    while (text < end && is_space(*text))
        text++;
    while (end > text && is_space(end[-1]))
        end--;
    *start = text;
    *len = (size_t)(end - text);
}
