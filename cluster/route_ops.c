/*
 * cluster/route_ops.c — the verbs a peer sends on a route, and forwarding
 * a message to a route (spec/cluster-protocol.md §2-§5). A forwarded frame
 * goes into the route's out-buffer through client_out_reserve/commit, as a
 * subscriber's does, so a route that falls max_pending behind is cut as a
 * slow consumer too.
 *
 * Remote interest is kept as struct sub records owned by the route
 * connection, keyed in its sid table by "subject[ queue]", so RS- and the
 * route's close reuse the ordinary unsubscribe path. Interest and
 * messages name their account; one this node does not have (a nats-server
 * peer's $SYS traffic, a peer configured with other accounts) is ignored.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/route.h"
#include "cluster/route_impl.h"
#include "server/account.h"
#include "server/client.h"
#include "server/deliver.h"
#include "server/log.h"
#include "server/server.h"
#include "server/sublist.h"
#include "server/subs.h"
#include "server/worker.h"

static struct account *account_of(struct client *c, struct proto_slice acc)
{
    return account_find(c->srv->accounts, acc.ptr, acc.len);
}

static int stop_with(struct client *c, const char *reason, const char *err)
{
    client_close(c, reason, err);
    return CLIENT_STOP;
}

/* ---- CONNECT: the dialling side introduces itself ---- */

static bool secret_ok(const char *want, const char *got)
{
    if (!want)
        return true;
    if (!got || strlen(want) != strlen(got))
        return false;
    unsigned char diff = 0;
    for (size_t i = 0; want[i]; i++)
        diff |= (unsigned char)(want[i] ^ got[i]);
    return diff == 0;
}

static int on_connect(void *ctx, struct proto_slice js)
{
    struct client *c = ctx;
    json_error_t jerr;
    json_t *o = json_loadb(js.ptr, js.len, 0, &jerr);
    if (!o || !json_is_object(o)) {
        json_decref(o);
        return stop_with(c, "Protocol Violation", NULL);
    }
    int rc = 0;
    const char *cluster = json_string_value(json_object_get(o, "cluster"));
    struct cluster *cl = c->route->cl;
    if (json_object_get(o, "lang")) {
        /* A client dialled the route port (spec §2.3). */
        LOG_ERROR("%s:%d - rid:%llu - attempted to connect to route port", c->ip, c->port,
                  (unsigned long long)c->cid);
        rc = stop_with(c, "Incorrect Port", "attempted to connect to route port");
    } else if (!secret_ok(cl->user, json_string_value(json_object_get(o, "user"))) ||
               !secret_ok(cl->pass, json_string_value(json_object_get(o, "pass")))) {
        LOG_ERROR("%s:%d - rid:%llu - authentication error", c->ip, c->port,
                  (unsigned long long)c->cid);
        rc = stop_with(c, "Authentication Failure", "Authorization Violation");
    } else if (cluster && cl->name[0] && strcmp(cluster, cl->name) != 0) {
        /* The dialler is told why (spec §2.3), so its log names the clash. */
        char err[400];
        snprintf(err, sizeof err, "Rejecting connection, cluster name \"%.128s\" does not "
                 "match \"%s\"", cluster, cl->name);
        LOG_ERROR("%s:%d - rid:%llu - %s", c->ip, c->port, (unsigned long long)c->cid, err);
        rc = stop_with(c, "Cluster Name Conflict", err);
    } else {
        c->parser.require_connect = false;
    }
    json_decref(o);
    return rc;
}

/* ---- INFO: the peer's identity (first one) or gossip (later ones) ---- */

/* The peer's INFO as other routes should hear it: "ip" names where to
 * dial it (its own host, or the address it came from when it listens on
 * all addresses), and the nonce is dropped (spec §7.1). */
static char *gossip_form(struct client *c, json_t *o)
{
    json_t *g = json_deep_copy(o);
    if (!g)
        return NULL;
    json_object_del(g, "nonce");
    if (!json_string_value(json_object_get(g, "ip"))) {
        const char *host = json_string_value(json_object_get(g, "host"));
        json_int_t port = json_integer_value(json_object_get(g, "port"));
        if (!host || !*host || !strcmp(host, "0.0.0.0") || !strcmp(host, "::"))
            host = c->ip;
        char ip[300];
        snprintf(ip, sizeof ip, "nats-route://%s:%lld/", host, (long long)port);
        json_object_set_new(g, "ip", json_string(ip));
    }
    char *text = json_dumps(g, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(g);
    return text;
}

/* host and port to dial from a gossiped INFO's "ip" (or host/port). */
static bool gossip_address(json_t *o, char *host, size_t cap, int *port)
{
    const char *ip = json_string_value(json_object_get(o, "ip"));
    if (ip) {
        const char *p = strstr(ip, "://");
        p = p ? p + 3 : ip;
        const char *colon = strrchr(p, ':');
        if (!colon || (size_t)(colon - p) >= cap)
            return false;
        memcpy(host, p, (size_t)(colon - p));
        host[colon - p] = '\0';
        *port = atoi(colon + 1);
        return *port > 0;
    }
    const char *h = json_string_value(json_object_get(o, "host"));
    *port = (int)json_integer_value(json_object_get(o, "port"));
    if (!h || *port <= 0)
        return false;
    snprintf(host, cap, "%s", h);
    return true;
}

/* A Tern peer's "tern_monitor": {"port":N,"base_path":"..."} (set with
 * cluster_set_monitor); anything else leaves none. */
static void monitor_from_info(struct route_conn *r, json_t *m)
{
    json_t *port = json_object_get(m, "port");
    const char *base = json_string_value(json_object_get(m, "base_path"));
    json_int_t p = json_is_integer(port) ? json_integer_value(port) : 0;
    if (p <= 0 || p > 65535 || (base && strlen(base) >= sizeof r->remote_monitor_base))
        return;
    r->remote_monitor_port = (int)p;
    snprintf(r->remote_monitor_base, sizeof r->remote_monitor_base, "%s", base ? base : "");
}

/* A later INFO on a registered route: an update from the peer itself, or
 * gossip about another node (§7.2). */
static void later_info(struct client *c, json_t *o)
{
    struct cluster *cl = c->route->cl;
    const char *id = json_string_value(json_object_get(o, "server_id"));
    json_t *raft = json_object_get(o, "tern_raft");
    if (id && !strcmp(id, c->route->remote_id) && json_is_integer(raft)) {
        /* A Tern peer's raft state changed (cluster_set_raft_state). */
        pthread_rwlock_wrlock(&cl->lock);
        c->route->remote_tern = true;
        c->route->remote_raft = (int)json_integer_value(raft);
        monitor_from_info(c->route, json_object_get(o, "tern_monitor"));
        pthread_rwlock_unlock(&cl->lock);
    }
    if (id && !strcmp(id, c->route->remote_id) && json_is_true(json_object_get(o, "ldm"))) {
        /* The peer is draining its clients: stop sending ours there
         * (spec/cluster-protocol.md §7.3). The route itself stays. */
        LOG_INFO("%s:%d - rid:%llu - Route peer %s entered lame duck mode", c->ip, c->port,
                 (unsigned long long)c->cid, c->route->remote_name);
        pthread_rwlock_wrlock(&cl->lock);
        route_list_urls(c, false);
        pthread_rwlock_unlock(&cl->lock);
        return;
    }
    if (!id || !strcmp(id, c->route->remote_id) || !strcmp(id, c->srv->server_id))
        return;
    bool known = false;
    pthread_rwlock_rdlock(&cl->lock);
    for (size_t i = 0; i < cl->nroutes; i++)
        known |= strcmp(cl->routes[i]->route->remote_id, id) == 0;
    pthread_rwlock_unlock(&cl->lock);
    char host[256];
    int port;
    if (!known && gossip_address(o, host, sizeof host, &port))
        route_gossip_learned(cl, id, host, port);
}

static int first_info(struct client *c, json_t *o)
{
    struct route_conn *r = c->route;
    const char *id = json_string_value(json_object_get(o, "server_id"));
    const char *name = json_string_value(json_object_get(o, "server_name"));
    const char *cluster = json_string_value(json_object_get(o, "cluster"));
    if (!id)
        return stop_with(c, "Protocol Violation", NULL);
    if (strcmp(id, c->srv->server_id) == 0) {
        r->is_self = true; /* our own URL in the routes list */
        return stop_with(c, "Duplicate Route", NULL);
    }
    if (cluster && r->cl->name[0] && strcmp(cluster, r->cl->name) != 0)
        return stop_with(c, "Cluster Name Conflict", NULL);
    snprintf(r->remote_id, sizeof r->remote_id, "%s", id);
    snprintf(r->remote_name, sizeof r->remote_name, "%s", name ? name : id);
    r->headers = json_is_true(json_object_get(o, "headers"));
    json_t *raft = json_object_get(o, "tern_raft");
    r->remote_tern = json_is_integer(raft);
    r->remote_raft = r->remote_tern ? (int)json_integer_value(raft) : 0;
    r->remote_port = (int)json_integer_value(json_object_get(o, "port"));
    monitor_from_info(r, json_object_get(o, "tern_monitor"));
    r->got_info = true;
    r->info_json = gossip_form(c, o);
    json_t *urls = json_object_get(o, "connect_urls");
    size_t nurls = json_is_array(urls) ? json_array_size(urls) : 0;
    r->peer_urls = nurls ? calloc(nurls, sizeof *r->peer_urls) : NULL;
    for (size_t i = 0; r->peer_urls && i < nurls; i++) {
        const char *u = json_string_value(json_array_get(urls, i));
        if (u && (r->peer_urls[r->npeer_urls] = strdup(u)))
            r->npeer_urls++;
    }
    if (r->url >= 0) {
        pthread_rwlock_wrlock(&r->cl->lock);
        snprintf(r->cl->urls[r->url].remote_id, sizeof r->cl->urls[r->url].remote_id, "%s", id);
        r->cl->urls[r->url].remote_tern = r->remote_tern;
        pthread_rwlock_unlock(&r->cl->lock);
    }
    if (route_register(c) < 0) {
        r->duplicate = true; /* the peer was reached: not a failed dial */
        return stop_with(c, "Duplicate Route", NULL);
    }
    return 0;
}

static int on_info(void *ctx, struct proto_slice js)
{
    struct client *c = ctx;
    json_error_t jerr;
    json_t *o = json_loadb(js.ptr, js.len, 0, &jerr);
    if (!o || !json_is_object(o)) {
        json_decref(o);
        return stop_with(c, "Protocol Violation", NULL);
    }
    int rc = 0;
    if (!c->route->got_info)
        rc = first_info(c, o);
    else if (c->route->registered)
        later_info(c, o);
    json_decref(o);
    return rc;
}

/* ---- RS+ / RS-: the peer's interest ---- */

/* The route's sid table key: "account subject[ queue]". */
static size_t make_key(char *out, size_t cap, struct proto_slice acc, struct proto_slice subj,
                       struct proto_slice q)
{
    if (acc.len + subj.len + q.len + 3 > cap)
        return 0;
    memcpy(out, acc.ptr, acc.len);
    size_t n = acc.len;
    out[n++] = ' ';
    memcpy(out + n, subj.ptr, subj.len);
    n += subj.len;
    if (q.len) {
        out[n++] = ' ';
        memcpy(out + n, q.ptr, q.len);
        n += q.len;
    }
    return n;
}

static int on_rs_plus(void *ctx, struct proto_slice acc, struct proto_slice subj,
                      struct proto_slice q, int64_t weight)
{
    struct client *c = ctx;
    char key[4096];
    size_t klen = make_key(key, sizeof key, acc, subj, q);
    struct account *a = account_of(c, acc);
    if (!c->route->registered || !a || !klen)
        return 0;
    struct sub *s = subs_find(c, key, klen);
    if (s) {
        if (q.len && s->base.weight != (uint32_t)weight) {
            /* The index reads weights without a lock: re-insert. */
            sublist_remove(a->sublist, &s->base);
            s->base.weight = (uint32_t)weight;
            sublist_insert(a->sublist, &s->base);
        }
        return 0;
    }
    s = sub_new(c, subj.ptr, subj.len, q.ptr, q.len, key, klen);
    if (!s)
        return stop_with(c, "Server Shutdown", NULL);
    s->acc = a;
    s->base.weight = (uint32_t)(weight > 0 ? weight : 1);
    if (subs_add(c, s) < 0) {
        sub_free(s);
        return stop_with(c, "Server Shutdown", NULL);
    }
    if (sublist_insert(a->sublist, &s->base) < 0) {
        subs_remove(c, s);
        sub_free(s); /* an invalid subject from the peer: ignore it */
    }
    return 0;
}

static int on_rs_minus(void *ctx, struct proto_slice acc, struct proto_slice subj,
                       struct proto_slice q)
{
    struct client *c = ctx;
    char key[4096];
    size_t klen = make_key(key, sizeof key, acc, subj, q);
    if (!klen)
        return 0;
    struct sub *s = subs_find(c, key, klen);
    if (s)
        sub_unsubscribe(c, s);
    return 0;
}

/* ---- RMSG / HMSG: a message for our local subscribers ---- */

static int on_msg(void *ctx, const struct proto_msg *m)
{
    struct client *c = ctx;
    struct account *a = c->route->registered ? account_of(c, m->account) : NULL;
    if (!a)
        return 0;
    worker_count(&c->in_msgs, 1);
    worker_count(&c->in_bytes, m->total_len);
    deliver_publish(c->w, a, c, m);
    return 0;
}

static int on_ping(void *ctx)
{
    client_send(ctx, "PONG\r\n", 6);
    return 0;
}

static int on_pong(void *ctx)
{
    ((struct client *)ctx)->pings_out = 0;
    return 0;
}

static int on_err(void *ctx, struct proto_slice text)
{
    struct client *c = ctx;
    LOG_ERROR("%s:%d - rid:%llu - Route error: %.*s", c->ip, c->port,
              (unsigned long long)c->cid, (int)text.len, text.ptr);
    /* A peer only sends -ERR on a route it is about to drop (spec §10.4):
     * close our side now rather than wait for its FIN. */
    return stop_with(c, "Route Error", NULL);
}

const struct proto_handlers route_proto_handlers = {
    .on_connect = on_connect,
    .on_info = on_info,
    .on_msg = on_msg,
    .on_rs_plus = on_rs_plus,
    .on_rs_minus = on_rs_minus,
    .on_ping = on_ping,
    .on_pong = on_pong,
    .on_err = on_err,
};

/* ---- forwarding (spec §5.1-§5.2) ---- */

static size_t put(char *dst, const void *src, size_t n)
{
    memcpy(dst, src, n);
    return n;
}

/* The size as the sender wrote it when there is one, else in decimal. */
static size_t put_size(char *dst, struct proto_slice digits, size_t value)
{
    if (digits.len)
        return put(dst, digits.ptr, digits.len);
    return proto_put_size(dst, value);
}

bool route_forward(struct worker *w, struct client *rc, const char *account,
                   const struct proto_msg *m, const char *queues, size_t qlen)
{
    size_t alen = strlen(account);
    bool hmsg = m->has_headers && m->hdr_len > 0 && rc->route->headers;
    size_t skip = m->has_headers && !hmsg ? m->hdr_len : 0;
    size_t body = m->total_len - skip;
    size_t bound = alen + m->subject.len + m->reply.len + qlen + 80 + body;
    bool queued = false, note = false;

    pthread_mutex_lock(&rc->out_lock);
    char *d = client_out_reserve(rc, bound, &note);
    if (!d)
        goto out_unlock;
    size_t n = hmsg ? put(d, "HMSG ", 5) : put(d, "RMSG ", 5);
    n += put(d + n, account, alen);
    d[n++] = ' ';
    n += put(d + n, m->subject.ptr, m->subject.len);
    d[n++] = ' ';
    if (qlen) {
        if (m->reply.len) {
            n += put(d + n, "+ ", 2);
            n += put(d + n, m->reply.ptr, m->reply.len);
            d[n++] = ' ';
        } else {
            n += put(d + n, "| ", 2);
        }
        n += put(d + n, queues, qlen);
        d[n++] = ' ';
    } else if (m->reply.len) {
        n += put(d + n, m->reply.ptr, m->reply.len);
        d[n++] = ' ';
    }
    if (hmsg) {
        n += put_size(d + n, m->hdr_arg, m->hdr_len);
        d[n++] = ' ';
        n += put_size(d + n, m->size_arg, m->total_len);
    } else {
        struct proto_slice none = { NULL, 0 };
        n += put_size(d + n, skip ? none : m->size_arg, body);
    }
    n += put(d + n, "\r\n", 2);
    n += put(d + n, m->data + skip, body);
    n += put(d + n, "\r\n", 2);
    client_out_commit(rc, n, body, &note);
    queued = true;
out_unlock:
    pthread_mutex_unlock(&rc->out_lock);
    if (note)
        worker_note_output(w, rc);
    return queued;
}
