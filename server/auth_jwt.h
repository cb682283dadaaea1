/*
 * server/auth_jwt.h — operator mode's logins: a user JWT in CONNECT,
 * checked against the operator and the preloaded account JWTs.
 *
 * struct auth_jwt is the trust table, built from the options with the rest
 * of struct auth (server/auth.h) and, like it, immutable and shared by
 * every I/O loop without locks; a reload builds a new one (so changed
 * revocations apply to the next logins). auth_jwt_check follows
 * nats-server's processClientOrLeafAuthentication for JWT users: the token
 * verifies and is in its time window, its account is known, issued it (or
 * a signing key of it did, naming it in issuer_account) and is not
 * expired, the nonce signature verifies (unless a bearer token the account
 * allows), the user is not revoked. Every refusal is the same
 * "Authorization Violation" to the client; the caller logs the reason at
 * debug. Pure: no I/O, no clock, no logging.
 */
#ifndef TERN_SERVER_AUTH_JWT_H
#define TERN_SERVER_AUTH_JWT_H

#include <stdbool.h>
#include <stdint.h>

#include "server/jwt.h"
#include "server/opts.h"

struct auth_jwt;
struct auth_perms;

/* What a successful login grants. Filled by auth_jwt_check. */
struct auth_jwt_login {
    char account[JWT_KEY_CHARS + 1]; /* the account's public key: its name */
    char user[JWT_KEY_CHARS + 1];    /* the user's public key */
    /* owned by the caller (the connection; perms_free); NULL = the user
     * may publish and subscribe to anything */
    struct auth_perms *perms;
    int64_t expires;                 /* Unix seconds; 0 = never */
    int64_t max_subs, max_payload;   /* the lower of user and account; JWT_NO_LIMIT = none */
    int64_t max_conn;                /* the account's connections; JWT_NO_LIMIT = none */
    const char *why;                 /* on refusal: nats-server's debug line (static) */
};

/* Build the table for o (o->operator_jwt set, options already checked).
 * 0, -EINVAL with err set, or -ENOMEM. */
int auth_jwt_new(const struct tern_opts *o, struct auth_jwt **out, char *err, size_t errlen);
void auth_jwt_free(struct auth_jwt *t);

/* Check a CONNECT's jwt and sig against the nonce this connection was
 * sent, at now (Unix seconds). websocket: the client came through the
 * WebSocket listener (allowed_connection_types). 0 with *out filled,
 * -EACCES when refused, -ENOMEM. */
int auth_jwt_check(const struct auth_jwt *t, const char *jwt, const char *sig, const char *nonce,
                   bool websocket, int64_t now, struct auth_jwt_login *out);

#endif
