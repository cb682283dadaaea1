/*
 * server/auth.h — client authentication and subject permissions.
 *
 * Built once from the options (and again on SIGHUP) into an immutable
 * struct auth that every I/O loop reads without locks. A connection keeps a
 * reference to the auth it was admitted under, so a reload never frees
 * permissions a live connection still points at (refcounted, atomic).
 *
 * Modes (spec/server-cli-config.md §3.2): none; single user/password;
 * token; a users list with per-user permissions, whose entries are named
 * users or NKEY users (server/nkey.h: the client signs this connection's
 * INFO nonce); operator mode, where users bring JWTs (server/auth_jwt.h). Passwords may be bcrypt hashes ($2a$/$2b$/$2x$/$2y$),
 * checked with libxcrypt; comparisons of plain secrets are constant-time.
 */
#ifndef TERN_SERVER_AUTH_H
#define TERN_SERVER_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "server/opts.h"

struct auth;        /* opaque; refcounted */
struct auth_user;   /* one configured user; owned by its struct auth */
struct auth_perms;  /* compiled permissions; owned by its struct auth */

/* Credentials from a CONNECT. Every field borrowed, NULL when absent. */
struct auth_creds {
    const char *user;
    const char *pass;
    const char *token;
    const char *nkey;
    const char *sig;
    const char *nonce;  /* the nonce this server sent in INFO, if any */
    /* verify_and_map: the names of the client's verified certificate, in
     * the order they are tried (server/tls.h tls_peer_names). When set,
     * users are found by these names alone: no password is asked. */
    char *const *cert_names;
    size_t ncert_names;
    bool tls_map;
};

/* Build from options. NULL on error with the reason in err (e.g.
 * "Duplicate user \"bob\" detected"). The result has one reference. */
struct auth *auth_new(const struct tern_opts *o, char *err, size_t errlen);
struct auth *auth_ref(struct auth *a);
void auth_unref(struct auth *a);

/* True when clients must authenticate (INFO auth_required). */
bool auth_required(const struct auth *a);
/* Seconds a new connection has to send CONNECT when auth is required. */
double auth_timeout(const struct auth *a);

/*
 * Check CONNECT credentials. 0 when admitted; *user is the matched user
 * (borrowed from a, NULL in modes without users) and *perms the permissions
 * that apply (borrowed, NULL = everything allowed). -EACCES when refused.
 */
int auth_check(const struct auth *a, const struct auth_creds *c,
               const struct auth_user **user, const struct auth_perms **perms);

/* The name of the account the user was defined in (accounts {}); NULL for
 * the global account ($G) and for modes without users. */
const char *auth_user_account(const struct auth_user *u);

/* The user's name for logs and /connz; NULL for none. */
const char *auth_user_name(const struct auth_user *u);

/* Permission checks; perms NULL allows everything. Deny beats allow. */
bool auth_can_publish(const struct auth_perms *p, const char *subject, size_t len);
bool auth_can_subscribe(const struct auth_perms *p, const char *subject, size_t len,
                        const char *queue, size_t qlen);
/* Whether this user may answer requests it received (allow_responses). */
bool auth_allows_responses(const struct auth_perms *p);

/* --- Additions beyond the first API (same conventions). --- */

/* Limits for allow_responses: replies allowed per request (<0 = no limit)
 * and how long a reply subject stays usable in ms (<0 = forever). Both 0
 * when p is NULL or allow_responses is off. */
void auth_response_limits(const struct auth_perms *p, int64_t *max_msgs, int64_t *expires_ms);

/*
 * Subscribe deny entries narrower than a wildcard SUB do not refuse it
 * (deny "foo.secret" admits SUB "foo.*"); as in nats-server, the messages
 * are filtered at delivery instead. Call after admitting a SUB: when this
 * returns true the connection must, from then on and for all of its
 * subscriptions, drop every message for which auth_can_deliver() is false.
 */
bool auth_sub_needs_deny_filter(const struct auth_perms *p, const char *subject, size_t len);
bool auth_can_deliver(const struct auth_perms *p, const char *subject, size_t len);

/* True when some configured user is an NKEY user: INFO then carries a
 * nonce, and a CONNECT naming an nkey is admitted by its signature of that
 * nonce alone. Without nkey users the field is ignored, as nats-server
 * ignores it. True in operator mode too, where user JWTs sign the nonce. */
bool auth_has_nkey_users(const struct auth *a);

/* Operator mode (an `operator` option): the trust table that admits user
 * JWTs (server/auth_jwt.h), borrowed from a; NULL in every other mode.
 * auth_check admits nobody in operator mode. */
struct auth_jwt;
const struct auth_jwt *auth_operator(const struct auth *a);

/* Constant-time equality of two secrets of any lengths. */
bool auth_secret_equal(const char *a, size_t alen, const char *b, size_t blen);

/* Successful bcrypt checks answered from the cache (for tests and /varz). */
size_t auth_bcrypt_cache_hits(const struct auth *a);

#endif
