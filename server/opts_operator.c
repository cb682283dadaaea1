/*
 * server/opts_operator.c — operator mode's options: `operator` (a JWT file
 * or the token inline), `resolver: MEMORY` and `resolver_preload` (account
 * public key -> account JWT), with nats-server's checks and texts.
 *
 * Each preloaded account JWT, verified against the operator and its
 * signing keys, is turned into an ordinary accounts[] entry (its public key
 * as name, its exports, imports and JetStream switch), so server/account.c
 * builds and account_check.c checks JWT accounts exactly as configured ones.
 * The trust that logins need (signing keys, revocations, limits) is read
 * again from the same tokens by server/auth_jwt.c when auth is built.
 *
 * Tern's differences, all refusals rather than silent changes: only the
 * MEMORY resolver; an account JWT not signed by the operator, or filed
 * under another key, stops start-up (nats-server starts and refuses its
 * users later); activation tokens and scoped signing keys are refused.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "server/jwt.h"
#include "server/account_impl.h"
#include "server/opts_impl.h"

void opts__free_operator(struct tern_opts *o)
{
    free(o->operator_jwt);
    o->operator_jwt = NULL;
    free(o->operator_where);
    o->operator_where = NULL;
    for (size_t i = 0; i < o->npreloads; i++) {
        free(o->preloads[i].key);
        free(o->preloads[i].jwt);
        free(o->preloads[i].where);
    }
    free(o->preloads);
    o->preloads = NULL;
    o->npreloads = 0;
}

/* The file's contents, or NULL (errno set). Operator JWTs are small. */
static char *read_small_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = JWT_MAX_TOKEN + 4096, n;
    char *buf = malloc(cap + 1);
    if (buf) {
        n = fread(buf, 1, cap, f);
        buf[n] = '\0';
        *len = n;
    }
    fclose(f);
    return buf;
}

/* nats-server's readOperatorJWT: a file, else an inline token ("eyJ"). */
int opts__apply_operator(struct cfg *c, const struct conf_entry *e)
{
    struct tern_opts *o = c->o;
    if (e->val->type == CONF_ARRAY) /* as 2.9.10, which cannot read the list */
        return ent_err(c, e, "error parsing operators: unsupported type []interface {}");
    if (e->val->type != CONF_STRING)
        return ent_err(c, e, "error parsing operators: unsupported type %s",
                       opts__go_type(e->val));
    const char *arg = e->val->u.str.s;
    size_t len = 0;
    char *text = read_small_file(arg, &len);
    if (!text) {
        if (strncmp(arg, "eyJ", 3) != 0)
            return ent_err(c, e, "error parsing operator JWT: open %s: %s", arg,
                           strerror(errno));
        if (!(text = strdup(arg)))
            return -ENOMEM;
        len = strlen(text);
    }
    const char *tok;
    size_t toklen;
    jwt_undecorate(text, len, &tok, &toklen);
    struct jwt *j = NULL;
    char why[200];
    int rc = jwt_decode(tok, toklen, JWT_OPERATOR, &j, why, sizeof why);
    if (rc == -EINVAL)
        rc = ent_err(c, e, "error parsing operator JWT: %s", why);
    if (rc == 0) {
        free(o->operator_jwt);
        free(o->operator_where);
        o->operator_jwt = strndup(tok, toklen);
        o->operator_where = opts__where(e->file, e->line, e->col);
        if (!o->operator_jwt || !o->operator_where)
            rc = -ENOMEM;
    }
    jwt_free(j);
    free(text);
    return rc;
}

int opts__apply_resolver(struct cfg *c, const struct conf_entry *e)
{
    if (e->val->type == CONF_MAP)
        return ent_err(c, e, "resolver {dir, type} (the NATS account resolver) is not "
                             "supported by Tern: use resolver: MEMORY");
    if (e->val->type != CONF_STRING)
        return ent_err(c, e, "error parsing operator resolver, wrong type %s",
                       opts__go_type(e->val));
    const char *s = e->val->u.str.s;
    if (!strcasecmp(s, "MEM") || !strcasecmp(s, "MEMORY")) {
        c->o->resolver_memory = true;
        return 0;
    }
    if (!strncasecmp(s, "URL", 3))
        return ent_err(c, e, "resolver URL is not supported by Tern: use resolver: MEMORY");
    return ent_err(c, e, "error parsing account resolver, should be MEM or  URL(\"url\") or "
                         "a map containing dir and type state=[FULL|CACHE])");
}

int opts__apply_preload(struct cfg *c, const struct conf_entry *e)
{
    struct tern_opts *o = c->o;
    if (e->val->type != CONF_MAP)
        return ent_err(c, e, "preload should be a map of account_public_key:account_jwt");
    size_t n = e->val->u.map.n;
    struct opts_preload *grown = realloc(o->preloads, (o->npreloads + n + 1) * sizeof *grown);
    if (!grown)
        return -ENOMEM;
    o->preloads = grown;
    for (size_t i = 0; i < n; i++) {
        const struct conf_entry *k = &e->val->u.map.items[i];
        if (k->val->type != CONF_STRING)
            return opts__at_err(c, k->val->file, k->val->line, k->val->col,
                                "preload map value should be a string JWT");
        const char *tok = k->val->u.str.s;
        struct jwt *j = NULL;
        int rc = jwt_decode(tok, strlen(tok), JWT_ACCOUNT, &j, NULL, 0);
        jwt_free(j);
        if (rc == -EINVAL)
            return opts__at_err(c, k->val->file, k->val->line, k->val->col,
                                "invalid account JWT");
        if (rc < 0)
            return rc;
        struct opts_preload *p = &o->preloads[o->npreloads++];
        memset(p, 0, sizeof *p);
        if (!(p->key = strdup(k->key)) || !(p->jwt = strdup(tok)) ||
            !(p->where = opts__where(k->file, k->line, k->col)))
            return -ENOMEM;
    }
    return 0;
}

/* ---- preloaded accounts into accounts[] ---- */


static int take_export(const struct jwt_export *x, struct opts_export *ox)
{
    static const enum opts_response_type types[] = {
        [JWT_RESP_SINGLETON] = OPTS_RESPONSE_SINGLETON,
        [JWT_RESP_STREAM] = OPTS_RESPONSE_STREAM,
        [JWT_RESP_CHUNKED] = OPTS_RESPONSE_CHUNKED,
    };
    ox->service = x->service;
    ox->response_type = types[x->response_type];
    ox->response_threshold_ms = x->response_threshold_ms > 0 ? x->response_threshold_ms
                                                             : 2 * 60 * 1000;
    return opts__dup_into(&ox->subject, x->subject); /* accounts NULL: public */
}

/* nats-server's reading of a JWT import (updateAccountClaimsWithRefresh):
 * a stream's local_subject renames it, else `to` is a prefix; a service's
 * local_subject is what the importer publishes, else `subject` is and `to`
 * (if any) is the exporter's subject. */
static int take_import(const struct jwt_import *im, struct opts_import *oi)
{
    int rc;
    oi->service = im->service;
    if ((rc = opts__dup_into(&oi->account, im->account)) < 0)
        return rc;
    if (!im->service) {
        if ((rc = opts__dup_into(&oi->subject, im->subject)) < 0)
            return rc;
        if (im->local_subject)
            return opts__dup_into(&oi->to, im->local_subject);
        return im->to ? opts__dup_into(&oi->prefix, im->to) : 0;
    }
    if (im->local_subject) {
        if ((rc = opts__dup_into(&oi->subject, im->subject)) < 0)
            return rc;
        return opts__dup_into(&oi->to, im->local_subject);
    }
    if ((rc = opts__dup_into(&oi->subject, im->to ? im->to : im->subject)) < 0)
        return rc;
    return im->to ? opts__dup_into(&oi->to, im->subject) : 0;
}

static int take_account(struct tern_opts *o, const struct opts_preload *p, const struct jwt *j,
                        struct opts_account *a, char *err, size_t errlen)
{
    int rc;
    a->jetstream = j->jetstream ? 1 : -1;
    /* The JWT's JetStream limits are the account's own (opts_account) */
    a->js = OPTS_JS_NO_LIMITS;
    a->js.max_memory = j->js_mem;
    a->js.max_store = j->js_disk;
    a->js.max_streams = j->js_streams;
    a->js.max_consumers = j->js_consumers;
    if ((rc = opts__dup_into(&a->name, p->key)) < 0 ||
        (rc = opts__dup_into(&a->where, p->where)) < 0)
        return rc;
    if (j->jetstream_tiered &&
        (rc = opts_add_warning(o, "account %s: the tiered JetStream limits of its JWT are "
                                  "not enforced by Tern", p->key)) < 0)
        return rc;
    if (!(a->exports = calloc(j->nexports + 1, sizeof *a->exports)) ||
        !(a->imports = calloc(j->nimports + 1, sizeof *a->imports)))
        return -ENOMEM;
    for (size_t i = 0; i < j->nexports; i++) {
        if (j->exports[i].token_req)
            return account__fail(err, errlen, p->where, "account %s: export \"%s\" requires activation "
                        "tokens, which Tern does not support", p->key, j->exports[i].subject);
        a->nexports++;
        if ((rc = take_export(&j->exports[i], &a->exports[i])) < 0)
            return rc;
    }
    for (size_t i = 0; i < j->nimports; i++) {
        if (j->imports[i].has_token)
            return account__fail(err, errlen, p->where, "account %s: import \"%s\" carries an "
                        "activation token, which Tern does not support", p->key,
                        j->imports[i].subject);
        a->nimports++;
        if ((rc = take_import(&j->imports[i], &a->imports[i])) < 0)
            return rc;
    }
    return 0;
}

/* Verify one preload against the operator's keys and add its account. */
static int add_preload(struct tern_opts *o, const struct jwt *op, const struct opts_preload *p,
                       char *err, size_t errlen)
{
    struct jwt *j = NULL;
    char why[200];
    int rc = jwt_decode(p->jwt, strlen(p->jwt), JWT_ACCOUNT, &j, why, sizeof why);
    if (rc == -EINVAL)
        return account__fail(err, errlen, p->where, "preload account error for \"%s\": %s", p->key, why);
    if (rc < 0)
        return rc;
    if (strcmp(j->sub, p->key) != 0)
        rc = account__fail(err, errlen, p->where, "preload account error for \"%s\": the JWT is "
                  "account %s's", p->key, j->sub);
    else if (!jwt_signed_by(op, j->iss))
        rc = account__fail(err, errlen, p->where, "preload account error for \"%s\": not signed by the "
                  "operator or one of its signing keys", p->key);
    else if (j->scoped_keys)
        rc = account__fail(err, errlen, p->where, "preload account error for \"%s\": scoped signing "
                  "keys are not supported by Tern", p->key);
    if (rc == 0) {
        struct opts_account *a = &o->accounts[o->naccounts++];
        rc = take_account(o, p, j, a, err, errlen);
    }
    jwt_free(j);
    return rc;
}

/* nats-server's validateTrustedOperators, for one operator. */
static int check_operator(struct tern_opts *o, const struct jwt *op, char *err, size_t errlen)
{
    if (!o->resolver_memory)
        return account__fail(err, errlen, NULL, "operators require an account resolver to be configured");
    if (o->naccounts > 0)
        return account__fail(err, errlen, NULL, "operators do not allow Accounts to be configured "
                                       "directly");
    if (o->nusers > 0)
        return account__fail(err, errlen, NULL, "operators do not allow users to be configured directly");
    if (o->system_account && op->system_account &&
        strcmp(o->system_account, op->system_account) != 0)
        return account__fail(err, errlen, NULL, "system_account in config and operator JWT must be "
                                       "identical");
    if (!o->system_account && op->system_account)
        return opts__dup_into(&o->system_account, op->system_account);
    return 0;
}

int opts__finish_operator(struct tern_opts *o, char *err, size_t errlen)
{
    if (!o->operator_jwt) {
        if (o->resolver_memory || o->npreloads)
            return account__fail(err, errlen, NULL, "resolver and resolver_preload need an operator "
                                           "(Tern has no other use for them)");
        return 0;
    }
    struct jwt *op = NULL;
    int rc = jwt_decode(o->operator_jwt, strlen(o->operator_jwt), JWT_OPERATOR, &op, NULL, 0);
    if (rc < 0)
        return rc == -ENOMEM ? rc : account__fail(err, errlen, o->operator_where, "invalid operator");
    rc = check_operator(o, op, err, errlen);
    if (rc == 0 && !(o->accounts = calloc(o->npreloads + 1, sizeof *o->accounts)))
        rc = -ENOMEM;
    if (rc == 0 && !(o->accounts_where = strdup(o->operator_where)))
        rc = -ENOMEM;
    for (size_t i = 0; i < o->npreloads && rc == 0; i++)
        rc = add_preload(o, op, &o->preloads[i], err, errlen);
    /* nats-server looks the system account up at start; $SYS is made
     * when no account is named. */
    if (rc == 0 && o->system_account && strcmp(o->system_account, "$SYS") != 0) {
        bool found = false;
        for (size_t i = 0; i < o->naccounts && !found; i++)
            found = !strcmp(o->accounts[i].name, o->system_account);
        if (!found)
            rc = account__fail(err, errlen, NULL, "error resolving system account: account missing");
    }
    jwt_free(op);
    return rc;
}
