/*
 * server/auth_jwt.c — operator mode's trust table and user logins (see
 * auth_jwt.h). The table holds the decoded operator and account JWTs; a
 * login decodes the user JWT, runs the checks in nats-server's order, and
 * compiles the user's permissions (or the account's default ones) into a
 * struct auth_perms the connection then owns.
 */
#include "server/auth_jwt.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/nkey.h"
#include "server/perms.h"

/* Allocated by auth_jwt_new, freed by auth_jwt_free (by struct auth's
 * owner). Immutable once built. */
struct auth_jwt {
    struct jwt *op;              /* owned: the operator */
    struct jwt **accs;           /* owned array of owned account JWTs */
    size_t naccs;
};

void auth_jwt_free(struct auth_jwt *t)
{
    if (!t)
        return;
    jwt_free(t->op);
    for (size_t i = 0; i < t->naccs; i++)
        jwt_free(t->accs[i]);
    free(t->accs);
    free(t);
}

int auth_jwt_new(const struct tern_opts *o, struct auth_jwt **out, char *err, size_t errlen)
{
    char why[200];
    struct auth_jwt *t = calloc(1, sizeof *t);
    if (!t || !(t->accs = calloc(o->npreloads + 1, sizeof *t->accs))) {
        free(t);
        return -ENOMEM;
    }
    int rc = jwt_decode(o->operator_jwt, strlen(o->operator_jwt), JWT_OPERATOR, &t->op, why,
                        sizeof why);
    for (size_t i = 0; i < o->npreloads && rc == 0; i++) {
        const char *tok = o->preloads[i].jwt;
        rc = jwt_decode(tok, strlen(tok), JWT_ACCOUNT, &t->accs[i], why, sizeof why);
        if (rc == 0)
            t->naccs++;
    }
    if (rc < 0) {
        if (rc == -EINVAL) /* the option loader decoded the same tokens */
            snprintf(err, errlen, "operator mode: %s", why);
        auth_jwt_free(t);
        return rc;
    }
    *out = t;
    return 0;
}

/* A linear scan: accounts are preloaded by hand, a handful. A map keyed
 * by public key is the structure once a resolver can hold thousands. */
static const struct jwt *find_account(const struct auth_jwt *t, const char *key)
{
    for (size_t i = 0; i < t->naccs; i++)
        if (!strcmp(t->accs[i]->sub, key))
            return t->accs[i];
    return NULL;
}

static bool conn_type_allowed(const struct jwt *u, bool websocket)
{
    if (!u->nconn_types)
        return true;
    const char *mine = websocket ? "WEBSOCKET" : "STANDARD";
    for (size_t i = 0; i < u->nconn_types; i++)
        if (!strcmp(u->conn_types[i], mine))
            return true;
    return false;
}

/* nats-server's buildPermissionsFromJwt: pub and sub as given, resp
 * turning on allow_responses (0 meaning the defaults, set by perms.c). */
static int compile_perms(const struct jwt_perms *jp, struct auth_perms **out)
{
    static char *none[1];
    struct opts_permissions op = {
        .publish = { jp->pub.allow, jp->pub.nallow, jp->pub.deny, jp->pub.ndeny },
        .subscribe = { jp->sub.allow, jp->sub.nallow, jp->sub.deny, jp->sub.ndeny },
        .allow_responses = jp->has_resp,
        .responses_max = jp->resp_max,
        .responses_expires_ms = jp->resp_ttl_ms,
    };
    /* With resp, an absent publish allow list means "nothing" beyond the
     * replies, as nats-server's validateResponsePermissions sets it. */
    if (jp->has_resp && !op.publish.allow)
        op.publish.allow = none;
    return perms_new(&op, out);
}

static int64_t lower_limit(int64_t a, int64_t b)
{
    if (a < 0)
        return b;
    if (b < 0)
        return a;
    return a < b ? a : b;
}

static int refuse(struct auth_jwt_login *out, const char *why)
{
    out->why = why;
    return -EACCES;
}

/* The checks on a decoded, verified user JWT u of account a. */
static int check_user(const struct jwt *a, const struct jwt *u, const char *sig,
                      const char *nonce, int64_t now, struct auth_jwt_login *out)
{
    if (u->issuer_account ? !jwt_signed_by(a, u->iss) || !strcmp(u->iss, a->sub)
                          : strcmp(u->iss, a->sub) != 0)
        return refuse(out, "User JWT issuer is not known");
    if (jwt_expired(a, now))
        return refuse(out, "Account JWT has expired");
    if (u->bearer_token && a->disallow_bearer)
        return refuse(out, "Account does not allow bearer token");
    if (!u->bearer_token) {
        unsigned char key[NKEY_PUBLIC_BYTES];
        if (!sig || !*sig)
            return refuse(out, "Signature missing");
        if (nkey_decode(u->sub, 'U', key) < 0 || !nkey_verify(key, nonce, sig))
            return refuse(out, "Signature not verified");
    }
    if (jwt_revoked(a, u->sub, u->iat))
        return refuse(out, "User authentication revoked");
    /* src and times restrict where and when a user may connect; Tern does
     * not evaluate them, and admitting such a user would grant more than
     * its JWT does. */
    if (u->restricted)
        return refuse(out, "User JWT restricts source addresses or connect times, "
                           "which Tern does not support");
    return 0;
}

int auth_jwt_check(const struct auth_jwt *t, const char *token, const char *sig,
                   const char *nonce, bool websocket, int64_t now, struct auth_jwt_login *out)
{
    memset(out, 0, sizeof *out);
    if (!token || !*token)
        return refuse(out, "Authentication requires a user JWT");
    struct jwt *u = NULL;
    int rc = jwt_decode(token, strlen(token), JWT_USER, &u, NULL, 0);
    if (rc == -ENOMEM)
        return rc;
    if (rc < 0)
        return refuse(out, "User JWT not valid");
    const struct jwt *a = NULL;
    if (jwt_expired(u, now) || jwt_not_yet_valid(u, now))
        rc = refuse(out, "User JWT no longer valid");
    else if (!conn_type_allowed(u, websocket))
        rc = refuse(out, "Connection type not allowed");
    else if (!(a = find_account(t, u->issuer_account ? u->issuer_account : u->iss)))
        rc = refuse(out, "Account JWT lookup error: account missing");
    else
        rc = check_user(a, u, sig, nonce, now, out);
    if (rc == 0) {
        const struct jwt_perms *jp = u->has_perms ? &u->perms
                                     : a->has_default_perms ? &a->default_perms : NULL;
        if (jp)
            rc = compile_perms(jp, &out->perms);
    }
    if (rc == 0) {
        snprintf(out->account, sizeof out->account, "%s", a->sub);
        snprintf(out->user, sizeof out->user, "%s", u->sub);
        out->expires = u->exp;
        out->max_subs = lower_limit(u->max_subs, a->max_subs);
        out->max_payload = lower_limit(u->max_payload, a->max_payload);
        out->max_conn = a->max_conn;
    }
    jwt_free(u);
    return rc;
}
