/*
 * server/client_ops.c — the protocol verbs of a client connection
 * (see client_ops.h).
 *
 * Each handler validates, checks permissions, acts, and answers +OK in
 * verbose mode. Errors that keep the connection open are queued as -ERR;
 * errors that close it return CLIENT_STOP after client_close, which ends
 * the parse of the current read batch.
 */
#include "server/client_ops.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <event2/event.h>

#include "cluster/route.h"
#include "proto/connect.h"
#include "proto/subject.h"
#include "server/account.h"
#include "server/auth.h"
#include "server/auth_jwt.h"
#include "server/client.h"
#include "server/deliver.h"
#include "server/log.h"
#include "server/perms.h"
#include "server/reclaim.h"
#include "server/replies.h"
#include "server/server.h"
#include "server/sublist.h"
#include "server/subs.h"
#include "server/tls.h"
#include "server/worker.h"

#define OK_LINE "+OK\r\n"

static void send_ok(struct client *c)
{
    if (c->verbose)
        client_send(c, OK_LINE, sizeof OK_LINE - 1);
}

size_t client_quote(char *out, size_t cap, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    if (cap < 3) {
        if (cap)
            out[0] = '\0';
        return 0;
    }
    out[o++] = '"';
    for (size_t i = 0; i < len && o + 5 < cap; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '"' || ch == '\\') {
            out[o++] = '\\';
            out[o++] = (char)ch;
        } else if (ch < 0x20 || ch == 0x7f) {
            out[o++] = '\\';
            out[o++] = 'x';
            out[o++] = hex[ch >> 4];
            out[o++] = hex[ch & 15];
        } else {
            out[o++] = (char)ch;
        }
    }
    out[o++] = '"';
    out[o] = '\0';
    return o;
}

static void trace_op(struct client *c, const char *op, struct proto_slice a,
                     struct proto_slice b, struct proto_slice d)
{
    LOG_TRACE("%s:%d - cid:%llu - <<- [%s %.*s%s%.*s%s%.*s]", c->ip, c->port,
              (unsigned long long)c->cid, op, (int)a.len, a.ptr, b.len ? " " : "",
              (int)b.len, b.ptr, d.len ? " " : "", (int)d.len, d.ptr);
}

static int stop_with(struct client *c, const char *reason, const char *err)
{
    client_close(c, reason, err);
    return CLIENT_STOP;
}

/* ---- CONNECT (§4) ---- */

/* A decoded string as a C string for the rest of the server; a \u0000
 * inside it would cut it short, so such a string is "unusable" (false). */
static bool cstr(const struct connect_str *s, const char **out)
{
    *out = s->s;
    return !s->s || strlen(s->s) == s->len;
}

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

/* name, lang and version as /connz shows them: up to a NUL, if any. */
static void set_identity(struct client *c, const struct connect_opts *o)
{
    char *name = dup_or_null(o->name.s);
    char *lang = dup_or_null(o->lang.s);
    char *version = dup_or_null(o->version.s);
    pthread_mutex_lock(&c->srv->registry_lock);
    free(c->name);
    free(c->lang);
    free(c->version);
    c->name = name;
    c->lang = lang;
    c->version = version;
    pthread_mutex_unlock(&c->srv->registry_lock);
}

/* authenticate()'s refusals besides -1 (an authorization violation). */
#define AUTH_MAX_ACCOUNT_CONNS (-2)

static void retire_perms(void *p)
{
    perms_free(p);
}

/* The connection's account by name; one the set lacks cannot happen (the
 * options were checked), but would leave the connection in $G. */
static void join_account(struct client *c, const char *acc)
{
    struct account *a = acc ? account_find(c->srv->accounts, acc, strlen(acc)) : NULL;
    pthread_mutex_lock(&c->srv->registry_lock);
    c->acc = a ? a : c->srv->accounts->global;
    pthread_mutex_unlock(&c->srv->registry_lock);
}

/* Operator mode: the user JWT decides (server/auth_jwt.h). The
 * permissions it grants are this connection's own; ones a previous
 * CONNECT left are retired, since other loops may still be reading them. */
static int authenticate_jwt(struct client *c, const struct auth_jwt *trust,
                            const struct connect_opts *o)
{
    const char *jwt = NULL, *sig = NULL;
    struct auth_jwt_login login;
    if (!cstr(&o->jwt, &jwt) || !cstr(&o->sig, &sig))
        return -1;
    int rc = auth_jwt_check(trust, jwt, sig, c->nonce, c->ws != NULL, (int64_t)time(NULL),
                            &login);
    if (rc < 0) {
        LOG_DEBUG("%s:%d - cid:%llu - %s", c->ip, c->port, (unsigned long long)c->cid,
                  login.why ? login.why : "out of memory checking a user JWT");
        return -1;
    }
    if (c->own_perms && reclaim_retire(c->srv->reclaim, c->own_perms, retire_perms, NULL) < 0)
        LOG_ERROR("out of memory retiring permissions; leaking them");
    c->own_perms = login.perms;
    c->perms = login.perms;
    c->user = NULL;
    c->jwt_max_subs = login.max_subs;
    c->jwt_expires = login.expires;
    if (c->jwt_counted) { /* a repeated CONNECT counts afresh */
        atomic_fetch_sub(&c->jwt_counted->jwt_conns, 1);
        c->jwt_counted = NULL;
    }
    if (login.max_payload >= 0 && (c->parser.max_payload < 0 ||
                                   login.max_payload < c->parser.max_payload)) {
        c->parser.max_payload = login.max_payload;
        atomic_store(&c->jwt_max_payload, login.max_payload);
    }
    join_account(c, login.account);
    pthread_mutex_lock(&c->srv->registry_lock);
    snprintf(c->jwt_user, sizeof c->jwt_user, "%s", login.user);
    pthread_mutex_unlock(&c->srv->registry_lock);
    /* The account JWT's "conn" limit: nats-server's own error, not an
     * authorization violation. */
    if (atomic_fetch_add(&c->acc->jwt_conns, 1) >= login.max_conn && login.max_conn >= 0) {
        atomic_fetch_sub(&c->acc->jwt_conns, 1);
        return AUTH_MAX_ACCOUNT_CONNS;
    }
    c->jwt_counted = c->acc;
    LOG_DEBUG("%s:%d - cid:%llu - Authenticated JWT: Client \"%s\" by Account \"%s\"",
              c->ip, c->port, (unsigned long long)c->cid, login.user, login.account);
    return 0;
}

static int authenticate(struct client *c, const struct connect_opts *o)
{
    c->jwt_max_subs = -1;
    c->jwt_expires = 0;
    if (o->account_key || o->new_account_key)
        return -1;
    const struct auth_jwt *trust = auth_operator(c->auth);
    if (trust) {
        int rc = authenticate_jwt(c, trust, o);
        c->nonce[0] = '\0'; /* signed once; later INFOs carry none */
        return rc;
    }
    struct auth_creds creds = {
        .nonce = c->nonce,
        .cert_names = c->cert_names,
        .ncert_names = c->ncert_names,
        .tls_map = c->tls_ctx && tls_ctx_map(c->tls_ctx),
    };
    /* A credential with a NUL in it matches nothing configured (config
     * strings have none), as in nats-server; cut short, it might. */
    int usable = 1; /* every field is looked at: each call fills creds */
    usable &= cstr(&o->user, &creds.user);
    usable &= cstr(&o->pass, &creds.pass);
    usable &= cstr(&o->auth_token, &creds.token);
    usable &= cstr(&o->nkey, &creds.nkey);
    usable &= cstr(&o->sig, &creds.sig);
    const struct auth_user *user = NULL;
    const struct auth_perms *perms = NULL;
    int rc = usable ? auth_check(c->auth, &creds, &user, &perms) : -EACCES;
    c->nonce[0] = '\0'; /* signed once; later INFOs carry none */
    if (rc < 0)
        return -1;
    c->user = user;
    c->perms = perms;
    join_account(c, auth_user_account(user));
    return 0;
}

/* A user JWT with an expiry closes the connection then, with nats-server's
 * "User Authentication Expired" (client.c on_auth_timeout). */
static void arm_expiry(struct client *c)
{
    if (c->jwt_expires <= 0)
        return;
    int64_t left = c->jwt_expires - (int64_t)time(NULL);
    struct timeval tv = { (time_t)(left > 0 ? left : 0), 0 };
    event_add(c->auth_timer, &tv);
}

/* allow_responses: from now on, deliveries to c note their replies
 * (server/replies.h). A CONNECT that admits a user without it stops that.
 * Out of memory the user may answer nothing it is not allowed anyway. */
static void track_replies(struct client *c)
{
    struct replies *r = NULL, *old;
    if (auth_allows_responses(c->perms)) {
        int64_t max_msgs, expires_ms;
        auth_response_limits(c->perms, &max_msgs, &expires_ms);
        if (!(r = replies_new(max_msgs, expires_ms)))
            LOG_ERROR("%s:%d - cid:%llu - no memory to track reply permissions", c->ip,
                      c->port, (unsigned long long)c->cid);
    }
    pthread_mutex_lock(&c->out_lock);
    old = c->replies;
    c->replies = r;
    pthread_mutex_unlock(&c->out_lock);
    replies_free(old);
}

/* Fields decode as nats-server's Go struct does (proto/connect.h); text
 * it would not decode closes the connection without an -ERR, as its
 * read loop closes on a parse error. A repeated CONNECT starts from the
 * values the last one left, as nats-server decodes into the same struct. */
static int on_connect(void *ctx, struct proto_slice js)
{
    struct client *c = ctx;
    LOG_TRACE("%s:%d - cid:%llu - <<- [CONNECT %.*s]", c->ip, c->port,
              (unsigned long long)c->cid, (int)js.len, js.ptr);
    struct connect_opts o = {
        .verbose = c->verbose,
        .pedantic = c->pedantic,
        .echo = c->echo,
        .headers = c->headers,
        .no_responders = c->no_responders,
        .protocol = c->protocol,
    };
    int rc = 0;
    if (connect_decode(js.ptr, js.len, &o) < 0) {
        if (o.bad_field)
            LOG_ERROR("%s:%d - cid:%llu - CONNECT: wrong JSON type for field \"%s\"", c->ip,
                      c->port, (unsigned long long)c->cid, o.bad_field);
        else
            LOG_ERROR("%s:%d - cid:%llu - CONNECT: invalid JSON", c->ip, c->port,
                      (unsigned long long)c->cid);
        rc = stop_with(c, "Protocol Violation", NULL);
        goto out_free_opts;
    }
    c->verbose = o.verbose;
    c->pedantic = o.pedantic;
    c->echo = o.echo;
    c->headers = o.headers && !c->srv->no_header_support;
    c->no_responders = o.no_responders;
    /* Any version but 0 and 1 is refused below (-1 stands for the rest). */
    c->protocol = o.protocol == 0 || o.protocol == 1 ? (int)o.protocol : -1;
    set_identity(c, &o);

    int arc = authenticate(c, &o);
    if (arc == AUTH_MAX_ACCOUNT_CONNS) {
        LOG_ERROR("%s:%d - cid:%llu - maximum account active connections exceeded", c->ip,
                  c->port, (unsigned long long)c->cid);
        rc = stop_with(c, "Maximum Account Connections Exceeded",
                       "maximum account active connections exceeded");
        goto out_free_opts;
    }
    if (arc < 0) {
        LOG_ERROR("%s:%d - cid:%llu - authentication error", c->ip, c->port,
                  (unsigned long long)c->cid);
        rc = stop_with(c, "Authentication Failure", "Authorization Violation");
        goto out_free_opts;
    }
    if (c->protocol < 0 || c->protocol > 1) {
        rc = stop_with(c, "Bad Client Protocol Version", "invalid client protocol");
        goto out_free_opts;
    }
    if (c->no_responders && !o.headers) {
        rc = stop_with(c, "No Responders Requires Headers",
                       "no responders requires headers support");
        goto out_free_opts;
    }
    track_replies(c);
    c->connected = true;
    c->parser.require_connect = false;
    if (c->auth_timer) {
        event_del(c->auth_timer);
        arm_expiry(c);
    }
    send_ok(c);
out_free_opts:
    connect_opts_free(&o);
    return rc;
}

/* ---- PUB / HPUB (§5, §6) ---- */

static bool reserved_reply(struct proto_slice r)
{
    static const char *const prefixes[] = { "_R_.", "$JS.ACK.", "_GR_." };
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
        size_t n = strlen(prefixes[i]);
        if (r.len >= n && memcmp(r.ptr, prefixes[i], n) == 0)
            return true;
    }
    return false;
}

static void permission_error(struct client *c, const char *what, struct proto_slice subj)
{
    char quoted[600], text[700];
    client_quote(quoted, sizeof quoted, subj.ptr, subj.len);
    snprintf(text, sizeof text, "Permissions Violation for %s %s", what, quoted);
    client_send_err(c, text);
}

/* Publish permissions, then (as nats-server, only when they refuse) the
 * replies this client was sent and may answer. */
static bool may_publish(struct client *c, struct proto_slice subj)
{
    if (!c->perms || auth_can_publish(c->perms, subj.ptr, subj.len))
        return true;
    if (!c->replies)
        return false;
    pthread_mutex_lock(&c->out_lock);
    bool ok = replies_use(c->replies, subj.ptr, subj.len, replies_now());
    pthread_mutex_unlock(&c->out_lock);
    return ok;
}

static int on_msg(void *ctx, const struct proto_msg *m)
{
    struct client *c = ctx;
    if (log_enabled(LOG_TRC))
        trace_op(c, m->has_headers ? "HPUB" : "PUB", m->subject, m->reply, m->size_arg);
    if (m->has_headers && !c->headers)
        return stop_with(c, "Protocol Violation", NULL);
    worker_count(&c->in_msgs, 1);
    worker_count(&c->in_bytes, m->total_len);
    worker_count(&c->w->in_msgs, 1);
    worker_count(&c->w->in_bytes, m->total_len);

    if (c->pedantic && !subject_valid_literal(m->subject.ptr, m->subject.len))
        client_send_err(c, "Invalid Publish Subject");
    if (m->reply.len && reserved_reply(m->reply)) {
        permission_error(c, "Publish with Reply of", m->reply);
        return 0;
    }
    /* $TERN. carries the cluster's own traffic (join requests, the
     * leader's lease): no client speaks for a member there. */
    if ((m->subject.len >= 5 && memcmp(m->subject.ptr, "_GR_.", 5) == 0) ||
        (m->subject.len >= 6 && memcmp(m->subject.ptr, "$TERN.", 6) == 0) ||
        !may_publish(c, m->subject)) {
        permission_error(c, "Publish to", m->subject);
        return 0;
    }
    send_ok(c); /* before delivery: a verbose client sees +OK, then its own MSG */
    deliver_publish(c->w, c->acc, c, m);
    return 0;
}

/* ---- SUB (§7.1) ---- */

static size_t count_tokens(struct proto_slice s)
{
    size_t n = 1;
    for (size_t i = 0; i < s.len; i++)
        n += s.ptr[i] == '.';
    return n;
}

static bool may_subscribe(struct client *c, struct proto_slice subj, struct proto_slice q)
{
    if (!c->perms || auth_can_subscribe(c->perms, subj.ptr, subj.len, q.ptr, q.len))
        return true;
    char qs[600], qq[300], text[1000];
    client_quote(qs, sizeof qs, subj.ptr, subj.len);
    if (q.len) {
        client_quote(qq, sizeof qq, q.ptr, q.len);
        snprintf(text, sizeof text,
                 "Permissions Violation for Subscription to %s using queue %s", qs, qq);
    } else {
        snprintf(text, sizeof text, "Permissions Violation for Subscription to %s", qs);
    }
    client_send_err(c, text);
    return false;
}

static bool within_limits(struct client *c, struct proto_slice subj)
{
    int64_t max_subs = atomic_load(&c->srv->max_subscriptions);
    /* A user JWT's limit (the lower of user and account) applies too. */
    bool jwt_full = c->jwt_max_subs >= 0 && (int64_t)c->nsubs >= c->jwt_max_subs;
    if (jwt_full || (max_subs > 0 && (int64_t)c->nsubs >= max_subs)) {
        client_send_err(c, "maximum subscriptions exceeded");
        return false;
    }
    int64_t max_tokens = c->srv->max_sub_tokens;
    if (max_tokens > 0 && (int64_t)count_tokens(subj) > max_tokens) {
        char qs[600], text[700];
        client_quote(qs, sizeof qs, subj.ptr, subj.len);
        snprintf(text, sizeof text,
                 "Permissions Violation for Subscription to %s, too many tokens", qs);
        client_send_err(c, text);
        return false;
    }
    return true;
}

static int on_sub(void *ctx, struct proto_slice subj, struct proto_slice q,
                  struct proto_slice sid)
{
    struct client *c = ctx;
    if (log_enabled(LOG_TRC))
        trace_op(c, "SUB", subj, q, sid);
    if (!subject_valid_sub(subj.ptr, subj.len)) {
        client_send_err(c, "Invalid Subject");
        return 0;
    }
    if (!may_subscribe(c, subj, q) || !within_limits(c, subj))
        return 0;
    if (subs_find(c, sid.ptr, sid.len)) {
        send_ok(c); /* a duplicate sid is ignored, §7.1 */
        return 0;
    }
    struct sub *s = sub_new(c, subj.ptr, subj.len, q.ptr, q.len, sid.ptr, sid.len);
    if (!s)
        return stop_with(c, "Server Shutdown", NULL);
    if (subs_add(c, s) < 0) {
        sub_free(s);
        return stop_with(c, "Server Shutdown", NULL);
    }
    if (c->perms && !c->deny_filter &&
        auth_sub_needs_deny_filter(c->perms, subj.ptr, subj.len)) {
        pthread_mutex_lock(&c->out_lock);
        c->deny_filter = true;
        pthread_mutex_unlock(&c->out_lock);
    }
    int rc = sublist_insert(s->acc->sublist, &s->base);
    if (rc < 0) {
        subs_remove(c, s);
        sub_free(s);
        if (rc == -EINVAL) {
            client_send_err(c, "Invalid Subject");
            return 0;
        }
        return stop_with(c, "Server Shutdown", NULL);
    }
    cluster_local_interest(c->srv->cluster, c->w, s, true);
    send_ok(c);
    return 0;
}

/* ---- UNSUB (§7.2) ---- */

static int on_unsub(void *ctx, struct proto_slice sid, struct proto_slice max)
{
    struct client *c = ctx;
    if (log_enabled(LOG_TRC)) {
        struct proto_slice none = { NULL, 0 };
        trace_op(c, "UNSUB", sid, max, none);
    }
    struct sub *s = subs_find(c, sid.ptr, sid.len);
    if (s) {
        /* nats-server reads at most 9 digits; a longer max counts as
         * invalid, which removes the subscription now (§7.2). */
        int64_t n = max.len && max.len <= 9 ? proto_parse_size(max.ptr, max.len) : -1;
        bool keep = false;
        pthread_mutex_lock(&c->out_lock);
        if (n > 0 && (uint64_t)n > s->delivered) {
            s->max = (uint64_t)n;
            keep = true;
        }
        pthread_mutex_unlock(&c->out_lock);
        if (!keep)
            sub_unsubscribe(c, s);
    }
    send_ok(c);
    return 0;
}

/* ---- PING / PONG / INFO ---- */

static int on_ping(void *ctx)
{
    struct client *c = ctx;
    LOG_TRACE("%s:%d - cid:%llu - <<- [PING]", c->ip, c->port, (unsigned long long)c->cid);
    client_send(c, "PONG\r\n", 6);
    /* nats-server follows the first PONG after CONNECT with a fresh INFO
     * when the JWTs lowered max_payload, so the client learns it. */
    if (c->connected && !c->first_pong_sent && atomic_load(&c->jwt_max_payload) >= 0) {
        c->first_pong_sent = true;
        client_send_async_info(c, false);
    }
    if (c->connected)
        c->first_pong_sent = true;
    return 0;
}

static int on_pong(void *ctx)
{
    struct client *c = ctx;
    LOG_TRACE("%s:%d - cid:%llu - <<- [PONG]", c->ip, c->port, (unsigned long long)c->cid);
    c->pings_out = 0;
    return 0;
}

static int on_info(void *ctx, struct proto_slice js)
{
    /* Tolerated and ignored from clients, but it must be JSON (§1). */
    json_error_t jerr;
    json_t *o = json_loadb(js.ptr, js.len, 0, &jerr);
    if (!o)
        return stop_with(ctx, "Protocol Violation", NULL);
    json_decref(o);
    return 0;
}

const struct proto_handlers client_proto_handlers = {
    .on_connect = on_connect,
    .on_info = on_info,
    .on_msg = on_msg,
    .on_sub = on_sub,
    .on_unsub = on_unsub,
    .on_ping = on_ping,
    .on_pong = on_pong,
};
