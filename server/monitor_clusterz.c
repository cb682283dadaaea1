/*
 * server/monitor_clusterz.c — /clusterz, Tern's own endpoint behind the
 * web console's cluster view: every node this node knows of, whether it
 * answers, its route, its part in the JetStream raft group, and its own
 * /varz figures (server/peer_varz.h).
 *
 * A browser cannot be assumed to reach the other nodes' monitoring ports
 * (in docker compose they go by service names only the nodes resolve), so
 * this node asks them: each Tern peer announces its plain-HTTP monitoring
 * port in its route INFO ("tern_monitor", cluster/route.h), and a request
 * here sends one GET <base>/varz to each known peer with evhttp's client
 * on the main loop, answering when all have answered or failed, within
 * FETCH_TIMEOUT_S. A peer that does not answer is shown down; nothing ever
 * waits on the loop. Peers are remembered from their routes (and the raft
 * group's member names), so a node that died stays listed, as down.
 * Addresses are the routes' numeric peer IPs: no name is resolved here.
 * A finished GET's connection is freed from a zero-delay event after its
 * callback, never inside it (libevent 2.1 still uses it on return, and
 * its free-on-completion misses a refused connect). Main thread only.
 */
#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/jsraft.h"
#include "cluster/route.h"
#include "server/jetstream/jetstream.h"
#include "server/log.h"
#include "server/monitor_build.h"
#include "server/monitor_impl.h"
#include "server/peer_varz.h"
#include "server/server.h"

#define MAX_NODES 32          /* far above a cluster's size; more are left out */
#define FETCH_TIMEOUT_S 1     /* a peer slower than this is shown down */

/* A peer seen on a route or in the raft group: where its /varz is. */
struct known_peer {
    char name[128];
    char ip[64];               /* "" when only raft named it */
    int mport;                 /* 0: no plain-HTTP monitoring announced */
    char mbase[128];
};

/* A finished GET's connection, waiting for the reaper. */
struct spent {
    struct evhttp_connection *conn; /* owned */
    struct spent *next;
};

/* Owned by struct monitor (m->cz); main thread only. */
struct monitor__clusterz {
    struct known_peer known[MAX_NODES];
    size_t nknown;
    struct answer *answers;    /* owned list: requests still gathering */
    struct spent *spent;       /* owned list: connections to free */
    struct event *reaper;      /* owned: frees them, run once when armed */
};

struct node {
    char name[128];
    bool self, route, answered;
    bool figures;              /* v holds what it says of itself */
    bool raft_member, raft_seen; /* raft_seen: this node leads, so
                                    current/offline are meaningful */
    bool raft_current, raft_offline;
    char error[96];
    struct peer_varz v;
};

/* One GET of a peer's /varz. */
struct fetch {
    struct answer *a;          /* borrowed: the answer it is part of */
    struct evhttp_connection *conn; /* owned until done, then handed to
                                       the reaper with slot; NULL after */
    struct spent *slot;        /* owned: allocated up front so that the
                                  hand-over cannot fail */
    size_t node;
};

/* One /clusterz request while its peers are asked. Owned by the list in
 * struct monitor__clusterz; freed when answered (or at monitor_stop). */
struct answer {
    struct monitor *m;         /* borrowed */
    struct evhttp_request *req; /* borrowed from evhttp; NULL once the
                                   browser's connection closed */
    struct answer *next;
    bool clustered;
    int cluster_size;
    char leader[128];
    struct node nodes[MAX_NODES];
    size_t nnodes;
    struct fetch fetches[MAX_NODES];
    size_t pending;
};

static struct node *node_named(struct answer *a, const char *name)
{
    for (size_t i = 0; i < a->nnodes; i++)
        if (strcmp(a->nodes[i].name, name) == 0)
            return &a->nodes[i];
    if (a->nnodes == MAX_NODES || !*name)
        return NULL;
    struct node *n = &a->nodes[a->nnodes++];
    snprintf(n->name, sizeof n->name, "%s", name);
    return n;
}

static struct known_peer *remember(struct monitor__clusterz *cz, const char *name)
{
    for (size_t i = 0; i < cz->nknown; i++)
        if (strcmp(cz->known[i].name, name) == 0)
            return &cz->known[i];
    if (cz->nknown == MAX_NODES || !*name)
        return NULL;
    struct known_peer *k = &cz->known[cz->nknown++];
    snprintf(k->name, sizeof k->name, "%s", name);
    return k;
}

/* The raft group as this node sees it (JetStream's snapshot, under its
 * callback only). */
static void read_raft(void *arg, const struct jetstream_view *v)
{
    struct answer *a = arg;
    const struct jetstream_stats *st = v->stats;
    a->clustered = st->clustered;
    a->cluster_size = st->cluster_size;
    snprintf(a->leader, sizeof a->leader, "%s", st->leader);
    bool leading = st->raft_state && strcmp(st->raft_state, "leader") == 0;
    for (size_t i = 0; i < v->npeers; i++) {
        remember(a->m->cz, v->peers[i].name);
        struct node *n = node_named(a, v->peers[i].name);
        if (!n)
            continue;
        n->raft_member = true;
        n->raft_seen = leading;
        n->raft_current = v->peers[i].current;
        n->raft_offline = v->peers[i].offline;
    }
}

static void browser_gone(struct evhttp_connection *conn, void *arg)
{
    struct answer *a = arg;
    a->req = NULL;
}

static json_t *node_json(const struct answer *a, const struct node *n)
{
    json_t *o = json_object();
    bool up = n->self || n->answered;
    json_object_set_new(o, "name", json_string(n->name));
    json_object_set_new(o, "self", json_boolean(n->self));
    json_object_set_new(o, "health", json_string(up ? "up" : "down"));
    json_object_set_new(o, "route", json_boolean(n->route));
    if (a->clustered) {
        const char *role = !*a->leader ? "" : strcmp(a->leader, n->name) == 0 ? "leader"
                                                                               : "follower";
        json_object_set_new(o, "raft", json_string(n->raft_member || n->self ? role : ""));
    }
    if (n->raft_seen) {
        json_object_set_new(o, "raft_current", json_boolean(n->raft_current));
        json_object_set_new(o, "raft_offline", json_boolean(n->raft_offline));
    }
    if (n->error[0])
        json_object_set_new(o, "error", json_string(n->error));
    if (n->figures)
        json_object_set_new(o, "varz", peer_varz_json(&n->v));
    return o;
}

static void unlink_answer(struct answer *a)
{
    for (struct answer **p = &a->m->cz->answers; *p; p = &(*p)->next) {
        if (*p == a) {
            *p = a->next;
            return;
        }
    }
}

static void finish(struct answer *a)
{
    if (a->req) {
        struct monitor *m = a->m;
        evhttp_connection_set_closecb(evhttp_request_get_connection(a->req), NULL, NULL);
        json_t *o = monitor__header_object(m);
        json_object_set_new(o, "server_name", json_string(m->srv->server_name));
        json_object_set_new(o, "cluster", json_string(m->srv->cluster ? cluster_name(m->srv->cluster)
                                                                       : ""));
        json_t *js = json_object();
        json_object_set_new(js, "clustered", json_boolean(a->clustered));
        json_object_set_new(js, "cluster_size", json_integer(a->cluster_size));
        json_object_set_new(js, "leader", json_string(a->leader));
        json_object_set_new(o, "jetstream", js);
        json_t *arr = json_array();
        for (size_t i = 0; i < a->nnodes; i++)
            json_array_append_new(arr, node_json(a, &a->nodes[i]));
        json_object_set_new(o, "nodes", arr);
        monitor__reply_json(a->req, 200, o, false, NULL);
    }
    unlink_answer(a);
    free(a);
}

static void reap(evutil_socket_t fd, short what, void *arg)
{
    struct monitor__clusterz *cz = arg;
    while (cz->spent) {
        struct spent *s = cz->spent;
        cz->spent = s->next;
        evhttp_connection_free(s->conn);
        free(s);
    }
}

static void fetched(struct evhttp_request *r, void *arg)
{
    struct fetch *f = arg;
    struct answer *a = f->a;
    struct node *n = &a->nodes[f->node];
    struct monitor__clusterz *cz = a->m->cz;
    f->slot->conn = f->conn;
    f->slot->next = cz->spent;
    cz->spent = f->slot;
    event_active(cz->reaper, EV_TIMEOUT, 0);
    f->conn = NULL;
    f->slot = NULL;
    int code = r ? evhttp_request_get_response_code(r) : 0;
    struct evbuffer *body = r ? evhttp_request_get_input_buffer(r) : NULL;
    size_t len = body ? evbuffer_get_length(body) : 0;
    if (code != 200) {
        snprintf(n->error, sizeof n->error, code ? "its /varz answered HTTP %d" : "no answer",
                 code);
    } else if (len > PEER_VARZ_MAX_BODY ||
               peer_varz_parse((const char *)evbuffer_pullup(body, -1), len, &n->v) < 0) {
        snprintf(n->error, sizeof n->error, "its /varz is not a JSON object");
    } else {
        n->answered = n->figures = true;
    }
    if (--a->pending == 0)
        finish(a);
}

/* GET <base>/varz from a peer; 0, or -ENOMEM/-EIO (the node stays down). */
static int fetch_start(struct answer *a, size_t idx, const struct known_peer *k)
{
    struct fetch *f = &a->fetches[idx];
    char path[300], host[96];
    const char *base = k->mbase;
    size_t blen = strlen(base);
    while (*base == '/')
        base++, blen--;
    while (blen && base[blen - 1] == '/')
        blen--;
    snprintf(path, sizeof path, "%s%.*s/varz", blen ? "/" : "", (int)blen, base);
    snprintf(host, sizeof host, strchr(k->ip, ':') ? "[%s]:%d" : "%s:%d", k->ip, k->mport);
    f->a = a;
    f->node = idx;
    f->slot = malloc(sizeof *f->slot);
    if (!f->slot)
        return -ENOMEM;
    f->conn = evhttp_connection_base_new(a->m->srv->main_base, NULL, k->ip,
                                         (ev_uint16_t)k->mport);
    if (!f->conn)
        goto err_after_slot;
    struct timeval tv = { FETCH_TIMEOUT_S, 0 };
    evhttp_connection_set_timeout_tv(f->conn, &tv);
    evhttp_connection_set_retries(f->conn, 0);
    evhttp_connection_set_max_body_size(f->conn, PEER_VARZ_MAX_BODY);
    struct evhttp_request *r = evhttp_request_new(fetched, f);
    if (!r)
        goto err_after_conn;
    /* One request per connection: the peer need not keep it open. */
    evhttp_add_header(evhttp_request_get_output_headers(r), "Host", host);
    evhttp_add_header(evhttp_request_get_output_headers(r), "Connection", "close");
    /* On failure evhttp_make_request has freed r. */
    if (evhttp_make_request(f->conn, r, EVHTTP_REQ_GET, path) < 0)
        goto err_after_conn;
    a->pending++;
    return 0;

err_after_conn:
    evhttp_connection_free(f->conn);
    f->conn = NULL;
err_after_slot:
    free(f->slot);
    f->slot = NULL;
    return -EIO;
}

/* This node's own figures, from the object its /varz would answer. */
static void add_self(struct answer *a)
{
    struct node *n = node_named(a, a->m->srv->server_name);
    if (!n)
        return;
    n->self = n->figures = true;
    json_t *v = monitor_varz(a->m);
    peer_varz_from_json(v, &n->v);
    json_decref(v);
}

/* The live routes: remembered with their monitoring addresses. */
static void add_routes(struct answer *a)
{
    struct route_snapshot rs[MAX_NODES];
    struct server *s = a->m->srv;
    size_t n = s->cluster ? cluster_routes_snapshot(s->cluster, rs, MAX_NODES) : 0;
    for (size_t i = 0; i < n && i < MAX_NODES; i++) {
        struct known_peer *k = remember(a->m->cz, rs[i].remote_name);
        struct node *nd = node_named(a, rs[i].remote_name);
        if (nd)
            nd->route = true;
        if (!k)
            continue;
        snprintf(k->ip, sizeof k->ip, "%s", rs[i].ip);
        k->mport = rs[i].monitor_port;
        snprintf(k->mbase, sizeof k->mbase, "%s", rs[i].monitor_base);
    }
}

static int clusterz_new(struct monitor *m)
{
    struct monitor__clusterz *cz = calloc(1, sizeof *cz);
    if (!cz)
        return -ENOMEM;
    cz->reaper = event_new(m->srv->main_base, -1, 0, reap, cz);
    if (!cz->reaper) {
        free(cz);
        return -ENOMEM;
    }
    m->cz = cz;
    return 0;
}

void monitor__on_clusterz(struct monitor *m, struct evhttp_request *req,
                          const struct monitor_url_query *q)
{
    if (!m->cz && clusterz_new(m) < 0) {
        evhttp_send_error(req, 500, NULL);
        return;
    }
    struct answer *a = calloc(1, sizeof *a);
    if (!a) {
        evhttp_send_error(req, 500, NULL);
        return;
    }
    a->m = m;
    a->req = req;
    a->next = m->cz->answers;
    m->cz->answers = a;
    add_self(a);
    if (m->srv->jetstream)
        jetstream_with_stats(m->srv->jetstream, read_raft, a);
    add_routes(a);
    for (size_t i = 0; i < m->cz->nknown; i++) {
        const struct known_peer *k = &m->cz->known[i];
        struct node *n = node_named(a, k->name);
        if (!n || n->self)
            continue;
        if (!k->mport || !k->ip[0]) {
            /* A nats-server peer, or one whose monitoring is off or HTTPS:
             * its route is all there is to go by. */
            n->answered = n->route;
            snprintf(n->error, sizeof n->error, "%s",
                     k->ip[0] ? "its figures are not announced" : "never seen on a route");
            continue;
        }
        if (fetch_start(a, (size_t)(n - a->nodes), k) < 0)
            snprintf(n->error, sizeof n->error, "could not ask it (out of memory)");
    }
    evhttp_connection_set_closecb(evhttp_request_get_connection(req), browser_gone, a);
    if (a->pending == 0)
        finish(a);
}

void monitor__clusterz_stop(struct monitor *m)
{
    if (!m->cz)
        return;
    while (m->cz->answers) {
        struct answer *a = m->cz->answers;
        /* The requests still out go with their connections, without their
         * callbacks; the browser's request goes with evhttp_free. */
        for (size_t i = 0; i < a->nnodes; i++) {
            if (a->fetches[i].conn)
                evhttp_connection_free(a->fetches[i].conn);
            free(a->fetches[i].slot);
        }
        if (a->req)
            evhttp_connection_set_closecb(evhttp_request_get_connection(a->req), NULL, NULL);
        m->cz->answers = a->next;
        free(a);
    }
    reap(-1, 0, m->cz);
    event_free(m->cz->reaper);
    free(m->cz);
    m->cz = NULL;
}
