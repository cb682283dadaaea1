/*
 * server/jwt.h — NATS JWTs (nats-io/jwt v2): decoding and verifying the
 * operator, account and user claims of operator mode.
 *
 * A token is three base64url parts, "header.payload.signature". The header
 * must be {"typ":"JWT","alg":"ed25519-nkey"}; the payload is the claims
 * JSON; the signature is ed25519 over the bytes "header.payload", made by
 * the key named in the claims' "iss" (a public NKEY, server/nkey.h).
 * jwt_decode checks all of that and the roles of iss and sub (an account
 * is issued by an operator key, a user by an account key), and nothing
 * else: whether the issuer is trusted, times and revocations are the
 * caller's (server/auth_jwt.c), as they depend on the configuration.
 *
 * Pure: no I/O, no globals, no clock. Input is untrusted (a CONNECT's
 * "jwt"); tests/fuzz/fuzz_jwt.c feeds it anything.
 */
#ifndef TERN_SERVER_JWT_H
#define TERN_SERVER_JWT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The longest token accepted: nats-server has no limit of its own but a
 * CONNECT line's; 64 KiB is far above any real user or account JWT. */
#define JWT_MAX_TOKEN (64 * 1024)
/* A public NKEY's text length (server/nkey.h). */
#define JWT_KEY_CHARS 56

enum jwt_type { JWT_OPERATOR = 0, JWT_ACCOUNT, JWT_USER };

/* NATS' "no limit". */
#define JWT_NO_LIMIT (-1)

/* An allow/deny pair of subject lists (user pub/sub permissions). */
struct jwt_perm {
    char **allow;               /* owned array of owned strings; NULL = none */
    size_t nallow;
    char **deny;                /* owned, likewise */
    size_t ndeny;
};

struct jwt_perms {
    struct jwt_perm pub, sub;
    bool has_resp;              /* "resp" present: may answer requests */
    int64_t resp_max;           /* replies per request; 0 = the default */
    int64_t resp_ttl_ms;        /* 0 = the default */
};

enum jwt_response { JWT_RESP_SINGLETON = 0, JWT_RESP_STREAM, JWT_RESP_CHUNKED };

struct jwt_export {
    bool service;               /* else a stream */
    char *subject;              /* owned */
    bool token_req;             /* importers need an activation token */
    enum jwt_response response_type;
    int64_t response_threshold_ms; /* 0 = the default */
};

struct jwt_import {
    bool service;
    char *account;              /* owned: the exporter's public key */
    char *subject;              /* owned: as exported */
    char *to;                   /* owned; NULL when absent or "" */
    char *local_subject;        /* owned; NULL when absent or "" */
    bool has_token;             /* an activation token was given */
};

struct jwt_revocation {
    char *key;                  /* owned: a user's public key, or "*" */
    int64_t at;                 /* JWTs issued at or before this are revoked */
};

/* One decoded token. Allocated by jwt_decode, freed by jwt_free. Every
 * pointer is owned by the struct. Fields of another type stay zero. */
struct jwt {
    enum jwt_type type;
    char *iss, *sub, *name;
    int64_t iat, exp, nbf;      /* Unix seconds; 0 = absent */

    /* operator and account */
    char **signing_keys;        /* plain signing keys */
    size_t nsigning_keys;
    bool scoped_keys;           /* some signing key is a scoped object */

    /* operator */
    char *system_account;       /* NULL = none */

    /* account */
    struct jwt_export *exports;
    size_t nexports;
    struct jwt_import *imports;
    size_t nimports;
    struct jwt_revocation *revocations;
    size_t nrevocations;
    int64_t max_conn, max_subs, max_payload; /* JWT_NO_LIMIT = none */
    bool jetstream;             /* mem_storage or disk_storage not 0 */
    /* its JetStream limits (mem_storage, disk_storage, streams, consumer);
     * -1 = none */
    int64_t js_mem, js_disk, js_streams, js_consumers;
    bool jetstream_tiered;      /* tiered_limits given (not performed) */
    bool disallow_bearer;
    bool has_default_perms;
    struct jwt_perms default_perms;

    /* user (max_subs and max_payload above too) */
    struct jwt_perms perms;
    bool has_perms;             /* pub, sub or resp said something */
    bool bearer_token;
    char *issuer_account;       /* NULL = iss is the account itself */
    bool restricted;            /* src, times or a locale: not performed */
    char **conn_types;          /* allowed_connection_types; NULL = any */
    size_t nconn_types;
};

/*
 * Decode and verify one token of type want. 0 with *out set (the caller
 * frees it with jwt_free); -EINVAL with a short reason in why (nats-jwt's
 * wording where it has one: "not operator claim"); -ENOMEM.
 */
int jwt_decode(const char *token, size_t len, enum jwt_type want, struct jwt **out,
               char *why, size_t whylen);
void jwt_free(struct jwt *j);

/* Whether j is expired or not yet valid at now (Unix seconds), as
 * nats-jwt's ClaimsData.Validate judges it. */
bool jwt_expired(const struct jwt *j, int64_t now);
bool jwt_not_yet_valid(const struct jwt *j, int64_t now);

/* Whether user key, in a JWT issued at iat, is revoked by account a. */
bool jwt_revoked(const struct jwt *a, const char *key, int64_t iat);

/* Whether key is a's own key or one of its plain signing keys. */
bool jwt_signed_by(const struct jwt *a, const char *key);

/* The token inside a decorated file (nsc's "-----BEGIN ... JWT-----"
 * block), or the text itself, trimmed: [*start, *start + *len). */
void jwt_undecorate(const char *text, size_t n, const char **start, size_t *len);

#endif
