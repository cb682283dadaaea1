/*
 * server/opts_ws.c — the websocket {} block (spec/server-cli-config.md
 * §3.7) resolved into the ws_* fields of struct tern_opts, and nats-server
 * 2.9's checks of it (validateWebsocketOptions), run once the whole file
 * is read.
 *
 * Keys and aliases are nats-server's. What Tern cannot honour (advertise,
 * jwt_cookie, users inside the block) is refused at its file:line:col with
 * the reason, never dropped: a WebSocket listener quietly missing a
 * setting would serve clients differently from what the file says. The
 * block's tls {} goes through opts_tls.c into a struct tern_opts of its
 * own (ws_tls), so both listeners' TLS is read and checked the same way.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/opts_impl.h"

void opts__free_ws(struct tern_opts *o)
{
    char **strs[] = { &o->ws_host, &o->ws_no_auth_user, &o->ws_user, &o->ws_password,
                      &o->ws_token, &o->ws_where };
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++) {
        free(*strs[i]);
        *strs[i] = NULL;
    }
    opts__free_strv(o->ws_origins, o->nws_origins);
    o->ws_origins = NULL;
    o->nws_origins = 0;
    if (o->ws_tls) {
        opts_free(o->ws_tls);
        free(o->ws_tls);
        o->ws_tls = NULL;
    }
}

static int ws_bool(struct cfg *c, const struct conf_entry *k, bool *out)
{
    if (k->val->type != CONF_BOOL)
        return opts__type_err(c, k, "bool");
    *out = k->val->u.b;
    return 0;
}

static int ws_listen(struct cfg *c, const struct conf_entry *k, struct tern_opts *o)
{
    if (k->val->type == CONF_INT) {
        if (k->val->u.i < -1 || k->val->u.i > 65535)
            return ent_err(c, k, "%s value is out of range", k->key);
        o->ws_port = (int)k->val->u.i;
        return opts__dup_into(&o->ws_host, "0.0.0.0");
    }
    if (k->val->type != CONF_STRING)
        return ent_err(c, k, "could not parse address string %s", opts__go_type(k->val));
    char why[300];
    int rc = opts__split_host_port(k->val->u.str.s, &o->ws_host, &o->ws_port, why, sizeof why);
    if (rc == -EINVAL)
        return ent_err(c, k, "%s", why);
    return rc;
}

static int ws_origins(struct cfg *c, const struct conf_entry *k, struct tern_opts *o)
{
    opts__free_strv(o->ws_origins, o->nws_origins);
    o->ws_origins = NULL;
    o->nws_origins = 0;
    if (k->val->type == CONF_STRING)
        return opts__strv_push(&o->ws_origins, &o->nws_origins, k->val->u.str.s);
    if (k->val->type != CONF_ARRAY)
        return ent_err(c, k, "error parsing allowed origins: unsupported type %s",
                       opts__go_type(k->val));
    for (size_t i = 0; i < k->val->u.arr.n; i++) {
        const struct conf_value *v = k->val->u.arr.items[i];
        if (v->type != CONF_STRING)
            return opts__at_err(c, v->file, v->line, v->col,
                                "error parsing allowed origins: unsupported type %s",
                                opts__go_type(v));
        int rc = opts__strv_push(&o->ws_origins, &o->nws_origins, v->u.str.s);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* A number of seconds or a Go duration string, as nats-server takes it. */
static int ws_handshake_timeout(struct cfg *c, const struct conf_entry *k, int64_t *ms)
{
    if (k->val->type == CONF_INT) {
        if (k->val->u.i < 0 || k->val->u.i > INT64_MAX / 1000)
            return ent_err(c, k, "handshake_timeout value is out of range");
        *ms = k->val->u.i * 1000;
        return 0;
    }
    if (k->val->type != CONF_STRING)
        return ent_err(c, k, "error parsing handshake timeout: unsupported type %s",
                       opts__go_type(k->val));
    int64_t ns;
    char why[200];
    if (opts__parse_go_duration(k->val->u.str.s, &ns, why, sizeof why) < 0)
        return ent_err(c, k, "error parsing handshake timeout: %s", why);
    if (ns < 0)
        return ent_err(c, k, "handshake_timeout must not be negative");
    *ms = ns / 1000000;
    return 0;
}

/* authorization {} inside the block: one user/password or a token, and a
 * timeout (nats-server's parseSimpleAuth). */
static int ws_auth(struct cfg *c, const struct conf_entry *e, struct tern_opts *o)
{
    if (e->val->type != CONF_MAP)
        return opts__type_err(c, e, "map[string]interface {}");
    int rc = 0;
    for (size_t i = 0; i < e->val->u.map.n && rc == 0; i++) {
        const struct conf_entry *k = &e->val->u.map.items[i];
        if (opts__key_is(k, "user username"))
            rc = opts__set_str(c, k, &o->ws_user);
        else if (opts__key_is(k, "pass password"))
            rc = opts__set_str(c, k, &o->ws_password);
        else if (opts__key_is(k, "token"))
            rc = opts__set_str(c, k, &o->ws_token);
        else if (opts__key_is(k, "timeout")) {
            double s = k->val->type == CONF_INT     ? (double)k->val->u.i
                     : k->val->type == CONF_FLOAT ? k->val->u.f : -1;
            if (k->val->type != CONF_INT && k->val->type != CONF_FLOAT)
                return ent_err(c, k, "error parsing authorization config, 'timeout' wrong type");
            if (!(s >= 0) || !isfinite(s) || s > 86400.0)
                return ent_err(c, k, "authorization timeout must be between 0 and 86400 seconds");
            o->ws_auth_timeout_s = s;
        } else if (opts__key_is(k, "users nkeys permissions")) {
            rc = ent_err(c, k, "websocket authorization \"%s\" is not supported by Tern: "
                               "WebSocket clients use the top-level users", k->key);
        } else {
            rc = opts__unknown_field(c, k);
        }
    }
    return rc;
}

static int ws_tls(struct cfg *c, const struct conf_entry *k, struct tern_opts *o)
{
    if (!o->ws_tls) {
        o->ws_tls = calloc(1, sizeof *o->ws_tls);
        if (!o->ws_tls)
            return -ENOMEM;
        o->ws_tls->tls_min_version = 12;
    }
    struct cfg sub = *c;
    sub.o = o->ws_tls;
    int rc = opts__apply_tls(&sub, k);
    c->first_warning = sub.first_warning;
    return rc;
}

int opts__apply_websocket(struct cfg *c, const struct conf_entry *e)
{
    struct tern_opts *o = c->o;
    if (e->val->type != CONF_MAP)
        return opts__type_err(c, e, "map[string]interface {}");
    opts__free_ws(o);
    o->ws_port = 0;
    o->ws_no_tls = o->ws_compression = o->ws_same_origin = false;
    o->ws_handshake_timeout_ms = 0;
    o->ws_auth_timeout_s = 0;
    char where[512];
    snprintf(where, sizeof where, "%s:%d:%d", e->file, e->line, e->col);
    int rc = opts__dup_into(&o->ws_where, where);
    for (size_t i = 0; i < e->val->u.map.n && rc == 0; i++) {
        const struct conf_entry *k = &e->val->u.map.items[i];
        if (opts__key_is(k, "listen")) {
            rc = ws_listen(c, k, o);
        } else if (opts__key_is(k, "port")) {
            int64_t v = 0;
            if ((rc = opts__as_int(c, k, &v)) == 0 && (v < -1 || v > 65535))
                rc = ent_err(c, k, "port value is out of range");
            o->ws_port = (int)v;
        } else if (opts__key_is(k, "host net")) {
            rc = opts__set_str(c, k, &o->ws_host);
        } else if (opts__key_is(k, "no_tls")) {
            rc = ws_bool(c, k, &o->ws_no_tls);
        } else if (opts__key_is(k, "tls")) {
            rc = ws_tls(c, k, o);
        } else if (opts__key_is(k, "same_origin")) {
            rc = ws_bool(c, k, &o->ws_same_origin);
        } else if (opts__key_is(k, "allowed_origins allowed_origin allow_origins allow_origin "
                                   "origins origin")) {
            rc = ws_origins(c, k, o);
        } else if (opts__key_is(k, "handshake_timeout")) {
            rc = ws_handshake_timeout(c, k, &o->ws_handshake_timeout_ms);
        } else if (opts__key_is(k, "compress compression")) {
            rc = ws_bool(c, k, &o->ws_compression);
        } else if (opts__key_is(k, "authorization authentication")) {
            rc = ws_auth(c, k, o);
        } else if (opts__key_is(k, "no_auth_user")) {
            rc = opts__set_str(c, k, &o->ws_no_auth_user);
        } else if (opts__key_is(k, "advertise")) {
            rc = ent_err(c, k, "websocket advertise is not supported by Tern: WebSocket clients "
                               "are given no connect_urls");
        } else if (opts__key_is(k, "jwt_cookie")) {
            rc = ent_err(c, k, "websocket jwt_cookie is not supported by Tern: JWT "
                               "authentication is not implemented");
        } else {
            rc = opts__unknown_field(c, k);
        }
    }
    if (rc == 0 && !o->ws_host)
        rc = opts__dup_into(&o->ws_host, "0.0.0.0");
    return rc;
}

/* Checks of nats-server's validateWebsocketOptions, in its order; the
 * messages are its own, prefixed with where the block is. */
int opts__validate_ws(const struct tern_opts *o, char *err, size_t errlen)
{
    if (o->ws_port == 0)
        return 0;
    const char *at = o->ws_where ? o->ws_where : "websocket";
    if (!o->ws_tls && !o->ws_no_tls) {
        snprintf(err, errlen, "%s: websocket requires TLS configuration", at);
        return -EINVAL;
    }
    for (size_t i = 0; i < o->nws_origins; i++) {
        const char *s = o->ws_origins[i];
        if (!strstr(s, "://") || strstr(s, "://") == s) {
            snprintf(err, errlen, "%s: unable to parse allowed origin \"%s\": Tern needs "
                     "scheme://host[:port]", at, s);
            return -EINVAL;
        }
    }
    if (o->ws_no_auth_user) {
        if (o->nusers == 0) {
            snprintf(err, errlen, "%s: no_auth_user: \"%s\" present, but users are not defined",
                     at, o->ws_no_auth_user);
            return -EINVAL;
        }
        if (!opts__has_user(o, o->ws_no_auth_user)) {
            snprintf(err, errlen, "%s: no_auth_user: \"%s\" not present as user or nkey in "
                     "authorization block or account configuration", at, o->ws_no_auth_user);
            return -EINVAL;
        }
    }
    if (o->nusers > 0 && o->ws_user) {
        snprintf(err, errlen, "%s: websocket authentication username not compatible with "
                 "presence of users/nkeys", at);
        return -EINVAL;
    }
    if (o->nusers > 0 && o->ws_token) {
        snprintf(err, errlen, "%s: websocket authentication token not compatible with presence "
                 "of users/nkeys", at);
        return -EINVAL;
    }
    if (o->ws_user && o->ws_token) {
        snprintf(err, errlen, "%s: Cannot have a user/pass and token", at);
        return -EINVAL;
    }
    return 0;
}

static bool str_eq(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* As nats-server, only the block's TLS may change on reload (its
 * certificates are read again); anything else needs a restart. */
bool opts__ws_reloadable(const struct tern_opts *r, const struct tern_opts *n)
{
    if (r->ws_port != n->ws_port || !str_eq(r->ws_host, n->ws_host) ||
        r->ws_no_tls != n->ws_no_tls || r->ws_compression != n->ws_compression ||
        r->ws_same_origin != n->ws_same_origin ||
        r->ws_handshake_timeout_ms != n->ws_handshake_timeout_ms ||
        !str_eq(r->ws_no_auth_user, n->ws_no_auth_user) || !str_eq(r->ws_user, n->ws_user) ||
        !str_eq(r->ws_password, n->ws_password) || !str_eq(r->ws_token, n->ws_token) ||
        r->ws_auth_timeout_s != n->ws_auth_timeout_s || (r->ws_tls == NULL) != (n->ws_tls == NULL) ||
        r->nws_origins != n->nws_origins)
        return false;
    for (size_t i = 0; i < r->nws_origins; i++)
        if (strcmp(r->ws_origins[i], n->ws_origins[i]) != 0)
            return false;
    return true;
}
