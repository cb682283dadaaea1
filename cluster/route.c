/*
 * cluster/route.c — route listener, dialler, handshake and registry (see
 * route.h). Forwarding and the route verbs are in cluster/route_ops.c.
 *
 * Dialling: each configured route has a state and a not-before time the
 * main thread's short tick acts on (IDLE and due → dial). A dialled socket
 * is handed to a loop like an accepted one. Configured routes are redialled
 * every second forever; routes learned by gossip get 1 + --connect_retries
 * dials each time they are learned or lost, as nats-server's (a peer that
 * is gone for good is not dialled forever). A route to ourselves (compose
 * gives every node all three URLs) is recognised by its server_id and never
 * dialled again.
 *
 * Duplicates: between two nodes that dial each other, each side keeps the
 * connection it registered first and closes the later one, which is what
 * nats-server does (spec/cluster-protocol.md §8) — any other rule closes
 * both connections whenever a Go peer kept the opposite one. When two dials
 * cross so closely that each side kept the other's, both close; the redial
 * after a lost route waits a random 0–100 ms on top of its delay, so the
 * next pair of dials no longer crosses.
 */
#include "cluster/route.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <jansson.h>
#include <stdint.h>
#include <netdb.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cluster/interest.h"
#include "cluster/route_impl.h"
#include "server/account.h"
#include "server/client.h"
#include "server/info.h"
#include "server/log.h"
#include "server/server.h"
#include "server/tls.h"
#include "server/version.h"
#include "server/worker.h"

/* ---- configured routes ---- */

static int parse_url(struct route_url *u, const char *url)
{
    const char *p = strstr(url, "://");
    p = p ? p + 3 : url;
    const char *at = strrchr(p, '@');
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        if (colon) {
            u->user = strndup(p, (size_t)(colon - p));
            u->pass = strndup(colon + 1, (size_t)(at - colon - 1));
        } else {
            u->user = strndup(p, (size_t)(at - p));
        }
        p = at + 1;
    }
    const char *colon = strrchr(p, ':');
    if (!colon)
        return -EINVAL;
    u->host = strndup(p, (size_t)(colon - p));
    u->port = atoi(colon + 1);
    char *slash = strchr(u->host, '/');
    if (slash)
        *slash = '\0';
    return u->host && u->port > 0 ? 0 : -EINVAL;
}

/* How often the dialler looks at its URLs: fine enough for the 0–100 ms
 * redial jitter to mean something. */
#define DIAL_TICK_MS 20
/* A refused or failed dial is retried after this long (nats-server's). */
#define REDIAL_DELAY_MS 1000
/* Random spread added to a redial after a lost route. */
#define REDIAL_JITTER_MS 100

static long long monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Any thread: make u due for a dial after delay_ms (+ jitter), then idle. */
static void redial_after(struct route_url *u, long long delay_ms, bool jitter)
{
    if (jitter)
        delay_ms += (long long)randombytes_uniform(REDIAL_JITTER_MS + 1);
    atomic_store(&u->not_before_ms, monotonic_ms() + delay_ms);
    atomic_store(&u->state, URL_IDLE);
}

/* Any thread: a dial or handshake for u failed. A configured route is
 * dialled again a second later; an implicit one only while it has tries
 * left, then it waits for gossip to name it again (take_gossip). */
static void dial_failed(struct route_url *u)
{
    if (u->implicit && atomic_fetch_sub(&u->tries_left, 1) <= 1)
        atomic_store(&u->state, URL_DONE);
    else
        redial_after(u, REDIAL_DELAY_MS, false);
}

static void on_dialled(evutil_socket_t fd, short what, void *arg)
{
    struct route_url *u = arg;
    struct cluster *cl = u->cl;
    int err = 0;
    socklen_t len = sizeof err;
    if (what & EV_TIMEOUT)
        err = ETIMEDOUT;
    else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        err = errno;
    event_free(u->dial_ev);
    u->dial_ev = NULL;
    if (err) {
        if (u->failures++ % 30 == 0)
            LOG_DEBUG("Error trying to connect to route (attempt %d): dial %s:%d: %s",
                      u->failures, u->host, u->port, strerror(err));
        close(fd);
        dial_failed(u);
        return;
    }
    u->failures = 0;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    getpeername(fd, (struct sockaddr *)&ss, &sl);
    unsigned idx = atomic_fetch_add(&cl->next_worker, 1) % (unsigned)cl->srv->nworkers;
    if (worker_add_socket(cl->srv->workers[idx], fd, (struct sockaddr *)&ss, sl,
                          CLIENT_KIND_ROUTE, (int)(u - cl->urls)) < 0)
        dial_failed(u);
}

static void dial(struct cluster *cl, struct route_url *u)
{
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
    struct addrinfo *res = NULL;
    char port[16];
    snprintf(port, sizeof port, "%d", u->port);
    if (getaddrinfo(u->host, port, &hints, &res) != 0) {
        /* Name not resolvable yet (a container not up): a configured route
         * tries again next tick. */
        dial_failed(u);
        return;
    }
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        goto err_after_resolve;
    if (connect(fd, res->ai_addr, res->ai_addrlen) < 0 && errno != EINPROGRESS)
        goto err_after_socket;
    u->dial_ev = event_new(cl->srv->main_base, fd, EV_WRITE, on_dialled, u);
    struct timeval tv = { 1, 0 };
    if (!u->dial_ev || event_add(u->dial_ev, &tv) < 0) {
        if (u->dial_ev)
            event_free(u->dial_ev);
        u->dial_ev = NULL;
        goto err_after_socket;
    }
    atomic_store(&u->state, URL_DIALLING);
    freeaddrinfo(res);
    return;

err_after_socket:
    close(fd);
err_after_resolve:
    freeaddrinfo(res);
    dial_failed(u);
}

/* A route to this URL's node may already exist (dialled by the peer). */
static bool peer_connected(struct cluster *cl, const struct route_url *u)
{
    bool found = false;
    pthread_rwlock_rdlock(&cl->lock);
    for (size_t i = 0; i < cl->nroutes && u->remote_id[0]; i++)
        found |= strcmp(cl->routes[i]->route->remote_id, u->remote_id) == 0;
    pthread_rwlock_unlock(&cl->lock);
    return found;
}

/* A configured or implicit URL for the same node, or NULL. */
static struct route_url *known_url(struct cluster *cl, const char *id, const char *host,
                                   int port)
{
    for (size_t i = 0; i < cl->nurls; i++) {
        struct route_url *u = &cl->urls[i];
        if ((u->port == port && strcmp(u->host, host) == 0) || strcmp(u->remote_id, id) == 0)
            return u;
    }
    return NULL;
}

/* Main thread: turn gossip the loops collected into implicit routes. */
static void take_gossip(struct cluster *cl)
{
    char *items[CLUSTER_MAX_IMPLICIT * 2];
    pthread_mutex_lock(&cl->gossip_lock);
    size_t n = cl->ngossip;
    memcpy(items, cl->gossip, n * sizeof *items);
    cl->ngossip = 0;
    pthread_mutex_unlock(&cl->gossip_lock);
    for (size_t i = 0; i < n; i++) {
        char id[64], host[256];
        int port = 0;
        if (sscanf(items[i], "%63s %255[^:]:%d", id, host, &port) != 3) {
            free(items[i]);
            continue;
        }
        struct route_url *u = known_url(cl, id, host, port);
        if (u && u->implicit && atomic_load(&u->state) == URL_DONE) {
            /* Out of tries, and a peer names it again (it rejoined): a
             * fresh round of dials, to whatever id it has now. */
            pthread_rwlock_wrlock(&cl->lock);
            snprintf(u->remote_id, sizeof u->remote_id, "%s", id);
            pthread_rwlock_unlock(&cl->lock);
            atomic_store(&u->tries_left, 1 + cl->connect_retries);
            redial_after(u, 0, true);
        } else if (!u && cl->nurls < cl->srv->opts.nroutes + CLUSTER_MAX_IMPLICIT) {
            /* Loop threads read urls[0..nurls) under cl->lock (the raft
             * bootstrap counts configured peers): fill the slot and
             * publish it by growing nurls inside the write lock. */
            pthread_rwlock_wrlock(&cl->lock);
            u = &cl->urls[cl->nurls];
            u->cl = cl;
            u->host = strdup(host);
            u->port = port;
            u->implicit = true;
            atomic_store(&u->tries_left, 1 + cl->connect_retries);
            snprintf(u->remote_id, sizeof u->remote_id, "%s", id);
            if (u->host)
                cl->nurls++;
            pthread_rwlock_unlock(&cl->lock);
            if (u->host)
                LOG_DEBUG("Learned route to %s at %s:%d by gossip", id, host, port);
        }
        free(items[i]);
    }
}

void route_gossip_learned(struct cluster *cl, const char *id, const char *host, int port)
{
    char *item = NULL;
    if (asprintf(&item, "%s %s:%d", id, host, port) < 0)
        return;
    pthread_mutex_lock(&cl->gossip_lock);
    if (cl->ngossip < sizeof cl->gossip / sizeof cl->gossip[0]) {
        cl->gossip[cl->ngossip++] = item;
        item = NULL;
    }
    pthread_mutex_unlock(&cl->gossip_lock);
    free(item);
}

static void on_dial_tick(evutil_socket_t fd, short what, void *arg)
{
    struct cluster *cl = arg;
    take_gossip(cl);
    long long now = monotonic_ms();
    for (size_t i = 0; i < cl->nurls; i++) {
        struct route_url *u = &cl->urls[i];
        if (atomic_load(&u->state) == URL_IDLE && now >= atomic_load(&u->not_before_ms) &&
            !peer_connected(cl, u))
            dial(cl, u);
    }
}

/* ---- listener ---- */

static void on_route_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
                            int len, void *arg)
{
    struct cluster *cl = arg;
    unsigned idx = atomic_fetch_add(&cl->next_worker, 1) % (unsigned)cl->srv->nworkers;
    worker_add_socket(cl->srv->workers[idx], fd, sa, (socklen_t)len, CLIENT_KIND_ROUTE, -1);
}

/* ---- lifecycle ---- */

struct cluster *cluster_new(struct server *s, int *err)
{
    *err = 0;
    if (!s->opts.cluster_host)
        return NULL;
    struct cluster *cl = calloc(1, sizeof *cl);
    if (!cl) {
        *err = -ENOMEM;
        return NULL;
    }
    cl->srv = s;
    pthread_rwlock_init(&cl->lock, NULL);
    pthread_mutex_init(&cl->raft_lock, NULL);
    cl->interest = interest_new();
    cl->urls = calloc(s->opts.nroutes + CLUSTER_MAX_IMPLICIT, sizeof *cl->urls);
    pthread_mutex_init(&cl->gossip_lock, NULL);
    if (!cl->interest || !cl->urls)
        goto err_after_alloc;
    for (size_t i = 0; i < s->opts.nroutes; i++) {
        cl->urls[i].cl = cl;
        if (parse_url(&cl->urls[i], s->opts.routes[i]) < 0) {
            LOG_FATAL("Error parsing route URL %s", s->opts.routes[i]);
            *err = -EINVAL;
            cl->nurls = i + 1;
            goto err_after_alloc;
        }
        cl->nurls = i + 1;
    }
    snprintf(cl->name, sizeof cl->name, "%s",
             s->opts.cluster_name ? s->opts.cluster_name : "");
    cl->no_advertise = s->opts.no_advertise;
    if (s->opts.cluster_advertise) {
        /* host:port (a bare host keeps the listen port) */
        snprintf(cl->advertise_host, sizeof cl->advertise_host, "%s", s->opts.cluster_advertise);
        char *colon = strrchr(cl->advertise_host, ':');
        if (colon) {
            *colon = '\0';
            cl->advertise_port = atoi(colon + 1);
        }
    }
    cl->connect_retries = s->opts.connect_retries > 0 && s->opts.connect_retries < 1000000
                              ? (int)s->opts.connect_retries : 0;
    char terr[1024];
    int trc = 0;
    cl->tls = tls_ctx_new_cluster(s->opts.cluster_tls, &trc, terr, sizeof terr);
    if (trc < 0) {
        LOG_FATAL("%s", terr);
        *err = -EINVAL;
        goto err_after_alloc;
    }
    cl->user = s->opts.cluster_user ? strdup(s->opts.cluster_user) : NULL;
    cl->pass = s->opts.cluster_password ? strdup(s->opts.cluster_password) : NULL;
    return cl;

err_after_alloc:
    if (!*err)
        *err = -ENOMEM;
    cluster_free(cl);
    return NULL;
}

int cluster_start(struct cluster *cl)
{
    struct server *s = cl->srv;
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                              .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
    struct addrinfo *res = NULL;
    char port[16];
    snprintf(port, sizeof port, "%d", s->opts.cluster_port < 0 ? 0 : s->opts.cluster_port);
    if (getaddrinfo(s->opts.cluster_host, port, &hints, &res) != 0) {
        LOG_FATAL("Error listening on router port: %s:%s", s->opts.cluster_host, port);
        return -EINVAL;
    }
    cl->listener = evconnlistener_new_bind(s->main_base, on_route_accept, cl,
                                           LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_FREE |
                                               LEV_OPT_CLOSE_ON_EXEC,
                                           128, res->ai_addr, (int)res->ai_addrlen);
    freeaddrinfo(res);
    if (!cl->listener) {
        LOG_FATAL("Error listening on router port: %s:%s: %s", s->opts.cluster_host, port,
                  strerror(errno));
        return -EADDRINUSE;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    cl->port = s->opts.cluster_port;
    if (getsockname(evconnlistener_get_fd(cl->listener), (struct sockaddr *)&ss, &sl) == 0)
        cl->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    snprintf(cl->host, sizeof cl->host, "%s", s->opts.cluster_host);
    LOG_INFO("Cluster name is %s", cl->name[0] ? cl->name : "(none)");
    LOG_INFO("Listening for route connections on %s:%d", cl->host, cl->port);
    cl->dial_tick = event_new(s->main_base, -1, EV_PERSIST, on_dial_tick, cl);
    struct timeval tv = { 0, DIAL_TICK_MS * 1000 };
    if (!cl->dial_tick || event_add(cl->dial_tick, &tv) < 0)
        return -ENOMEM;
    on_dial_tick(-1, 0, cl); /* dial at once, not a tick from now */
    return 0;
}

void cluster_stop(struct cluster *cl)
{
    if (!cl)
        return;
    if (cl->listener) {
        evconnlistener_free(cl->listener);
        cl->listener = NULL;
    }
    if (cl->dial_tick) {
        event_free(cl->dial_tick);
        cl->dial_tick = NULL;
    }
    for (size_t i = 0; i < cl->nurls; i++) {
        if (cl->urls[i].dial_ev) {
            close(event_get_fd(cl->urls[i].dial_ev));
            event_free(cl->urls[i].dial_ev);
            cl->urls[i].dial_ev = NULL;
        }
    }
}

void cluster_free(struct cluster *cl)
{
    if (!cl)
        return;
    cluster_stop(cl);
    for (size_t i = 0; i < cl->nurls; i++) {
        free(cl->urls[i].host);
        free(cl->urls[i].user);
        free(cl->urls[i].pass);
    }
    free(cl->urls);
    free(cl->routes);
    for (size_t i = 0; i < cl->ngossip; i++)
        free(cl->gossip[i]);
    pthread_mutex_destroy(&cl->gossip_lock);
    free(cl->user);
    free(cl->pass);
    tls_ctx_unref(cl->tls);
    interest_free(cl->interest);
    pthread_mutex_destroy(&cl->raft_lock);
    pthread_rwlock_destroy(&cl->lock);
    free(cl);
}

int cluster_port(const struct cluster *cl)
{
    return cl->port;
}

const char *cluster_name(const struct cluster *cl)
{
    return cl->name;
}

void cluster_set_monitor(struct cluster *cl, int port, const char *base_path)
{
    /* A base path too long to announce announces no port either: a peer
     * would read the wrong URL. */
    if (port <= 0 || atomic_load(&cl->monitor_port) > 0 ||
        !info_json_string(cl->monitor_base, sizeof cl->monitor_base, base_path ? base_path : ""))
        return;
    atomic_store_explicit(&cl->monitor_port, port, memory_order_release);
    /* Routes dialled at cluster_start may have sent their INFO already:
     * each loop sends its routes the INFO again (route_send_info). */
    for (int i = 0; i < cl->srv->nworkers; i++)
        worker_announce_route_info(cl->srv->workers[i]);
}

/* A configured route resolved to node id: a route to it counts as one we
 * dialled, whichever connection survived (nats-server's survivor inherits
 * that from the duplicate it replaced, spec/cluster-protocol.md §8).
 * Caller holds cl->lock. */
static bool configured_for(const struct cluster *cl, const char *id)
{
    for (size_t i = 0; i < cl->nurls; i++)
        if (!cl->urls[i].implicit && strcmp(cl->urls[i].remote_id, id) == 0)
            return true;
    return false;
}

size_t cluster_routes_snapshot(struct cluster *cl, struct route_snapshot *out, size_t max)
{
    size_t n = 0;
    pthread_rwlock_rdlock(&cl->lock);
    for (size_t i = 0; i < cl->nroutes && n < max; i++, n++) {
        struct client *c = cl->routes[i];
        struct route_snapshot *r = &out[n];
        memset(r, 0, sizeof *r);
        r->rid = (unsigned long long)c->cid;
        snprintf(r->remote_id, sizeof r->remote_id, "%s", c->route->remote_id);
        snprintf(r->remote_name, sizeof r->remote_name, "%s", c->route->remote_name);
        bool configured = configured_for(cl, c->route->remote_id);
        r->did_solicit = c->route->url >= 0 || configured;
        r->is_configured = configured;
        snprintf(r->ip, sizeof r->ip, "%s", c->ip);
        r->port = c->port;
        r->in_msgs = atomic_load_explicit(&c->in_msgs, memory_order_relaxed);
        r->in_bytes = atomic_load_explicit(&c->in_bytes, memory_order_relaxed);
        pthread_mutex_lock(&c->out_lock);
        r->out_msgs = c->out_msgs;
        r->out_bytes = c->out_bytes;
        pthread_mutex_unlock(&c->out_lock);
        r->subs = atomic_load_explicit(&c->nsubs_pub, memory_order_relaxed);
        r->start = c->start;
        r->last_activity_ns = atomic_load_explicit(&c->last_activity_ns, memory_order_relaxed);
        r->monitor_port = c->route->remote_monitor_port;
        snprintf(r->monitor_base, sizeof r->monitor_base, "%s", c->route->remote_monitor_base);
    }
    pthread_rwlock_unlock(&cl->lock);
    return n;
}

bool cluster_route_each_sub(struct cluster *cl, unsigned long long rid,
                            void (*fn)(void *arg, const struct sub *s), void *arg)
{
    bool found = false;
    /* Holding the registry lock keeps the route from being freed; its own
     * subs_lock (taken by client_each_sub) keeps the table stable. No path
     * takes cl->lock while holding a subs_lock, so the order is safe. */
    pthread_rwlock_rdlock(&cl->lock);
    for (size_t i = 0; i < cl->nroutes && !found; i++) {
        if ((unsigned long long)cl->routes[i]->cid == rid) {
            client_each_sub(cl->routes[i], fn, arg);
            found = true;
        }
    }
    pthread_rwlock_unlock(&cl->lock);
    return found;
}

size_t cluster_route_count(struct cluster *cl)
{
    pthread_rwlock_rdlock(&cl->lock);
    size_t n = cl->nroutes;
    pthread_rwlock_unlock(&cl->lock);
    return n;
}

/* ---- interest out ---- */

struct emit_ctx {
    struct cluster *cl;
    struct worker *w;
    struct client *only;   /* a new route's dump; NULL = every route */
};

static void emit_line(void *arg, const char *line, size_t len)
{
    struct emit_ctx *e = arg;
    if (e->only) {
        client_queue(e->w, e->only, line, len);
        return;
    }
    pthread_rwlock_rdlock(&e->cl->lock);
    for (size_t i = 0; i < e->cl->nroutes; i++)
        client_queue(e->w, e->cl->routes[i], line, len);
    pthread_rwlock_unlock(&e->cl->lock);
}

void cluster_local_interest(struct cluster *cl, struct worker *w, const struct sub *s,
                            bool added)
{
    if (!cl)
        return;
    struct emit_ctx e = { cl, w, NULL };
    if (added)
        interest_add(cl->interest, s->acc->name, s->subject, s->queue, emit_line, &e);
    else
        interest_remove(cl->interest, s->acc->name, s->subject, s->queue, emit_line, &e);
}

/* ---- registry ---- */

/* Add c's peer client URLs to the server's connect_urls when it is
 * registered, or take them out (once: it closed, or its peer entered lame
 * duck mode). Only c's own loop calls this; the caller holds cl->lock for
 * writing, which orders it against registrations on other loops; the
 * server's URL lock nests inside it. */
void route_list_urls(struct client *c, bool add)
{
    struct route_conn *r = c->route;
    if (add == r->urls_listed || !r->npeer_urls || r->cl->no_advertise)
        return;
    r->urls_listed = add;
    server_peer_urls(c->srv, (const char *const *)r->peer_urls, r->npeer_urls, add);
}

/* Register c after its INFO. Returns 0, or -EEXIST when a route to the
 * same node is registered already and c must close as its duplicate. */
int route_register(struct client *c)
{
    struct cluster *cl = c->route->cl;
    int rc = 0;
    pthread_rwlock_wrlock(&cl->lock);
    for (size_t i = 0; i < cl->nroutes; i++) {
        if (strcmp(cl->routes[i]->route->remote_id, c->route->remote_id) == 0) {
            rc = -EEXIST; /* the first one registered stays (see the top) */
            goto out_unlock;
        }
    }
    if (cl->nroutes == cl->cap) {
        size_t cap = cl->cap ? cl->cap * 2 : 4;
        struct client **n = realloc(cl->routes, cap * sizeof *n);
        if (!n) {
            rc = -ENOMEM;
            goto out_unlock;
        }
        cl->routes = n;
        cl->cap = cap;
    }
    cl->routes[cl->nroutes++] = c;
    c->route->registered = true;
    c->route->registered_once = true;
    route_list_urls(c, true);
    /* Tell the other routes about the new peer (§7.1), so nodes that only
     * know a seed reach the full mesh. */
    if (c->route->info_json) {
        for (size_t i = 0; i + 1 < cl->nroutes; i++) {
            client_queue(c->w, cl->routes[i], "INFO ", 5);
            client_queue(c->w, cl->routes[i], c->route->info_json, strlen(c->route->info_json));
            client_queue(c->w, cl->routes[i], "\r\n", 2);
        }
    }
out_unlock:
    pthread_rwlock_unlock(&cl->lock);
    if (rc == 0) {
        /* Registered first, then the dump: a change racing with it is sent
         * twice at worst, which the peer ignores (spec §4.3). */
        struct emit_ctx e = { cl, c->w, c };
        interest_dump(cl->interest, emit_line, &e);
        if (c->route->url >= 0) {
            struct route_url *u = &cl->urls[c->route->url];
            atomic_store(&u->state, URL_CONNECTED);
        }
        LOG_INFO("%s:%d - rid:%llu - Route connection created (%s, %s)", c->ip, c->port,
                 (unsigned long long)c->cid, c->route->remote_name,
                 c->route->url >= 0 ? "solicited" : "accepted");
    }
    return rc;
}

void route_closed(struct client *c, const char *reason)
{
    struct route_conn *r = c->route;
    if (!r)
        return;
    struct cluster *cl = r->cl;
    pthread_rwlock_wrlock(&cl->lock);
    for (size_t i = 0; i < cl->nroutes; i++) {
        if (cl->routes[i] == c) {
            cl->routes[i] = cl->routes[--cl->nroutes];
            break;
        }
    }
    r->registered = false;
    route_list_urls(c, false);
    pthread_rwlock_unlock(&cl->lock);
    if (r->url >= 0) {
        struct route_url *u = &cl->urls[r->url];
        if (r->is_self) {
            atomic_store(&u->state, URL_SELF);
        } else if (atomic_load(&u->state) == URL_SELF) {
            /* stays: another connection found it is us */
        } else if (u->implicit && !r->registered_once && !r->duplicate) {
            dial_failed(u); /* refused or broken in the handshake */
        } else {
            /* A lost route (or a duplicate of a registered one, so the
             * peer was reached): an implicit one gets a fresh round of tries,
             * at once; a configured one is redialled a second later. Both
             * with jitter, and the tick dials only while no other route
             * reaches the peer. */
            if (u->implicit)
                atomic_store(&u->tries_left, 1 + cl->connect_retries);
            redial_after(u, u->implicit ? 0 : REDIAL_DELAY_MS, true);
        }
    }
    if (r->raft)
        LOG_DEBUG("%s:%d - rid:%llu - Cluster-port connection is raft's: %s", c->ip, c->port,
                  (unsigned long long)c->cid, reason);
    else if (!r->is_self)
        LOG_INFO("%s:%d - rid:%llu - Route connection closed: %s", c->ip, c->port,
                 (unsigned long long)c->cid, reason);
}

/* ---- handshake out ---- */

size_t route_info(struct client *c, char *out, size_t cap, bool ldm)
{
    struct server *s = c->srv;
    struct cluster *cl = c->route->cl;
    char name[300], host[160], cname[300];
    const char *ahost = cl->advertise_host[0] ? cl->advertise_host : cl->host;
    int aport = cl->advertise_port > 0 ? cl->advertise_port : cl->port;
    char monitor[320] = "";
    int mport = atomic_load_explicit(&cl->monitor_port, memory_order_acquire);
    if (mport > 0)
        snprintf(monitor, sizeof monitor, ",\"tern_monitor\":{\"port\":%d,\"base_path\":%s}",
                 mport, cl->monitor_base);
    if (!info_json_string(name, sizeof name, s->server_name) ||
        !info_json_string(host, sizeof host, ahost) ||
        !info_json_string(cname, sizeof cname, cl->name))
        return 0;
    int n = snprintf(out, cap,
                     "INFO {\"server_id\":\"%s\",\"server_name\":%s,\"version\":\"%s\","
                     "\"proto\":2,\"go\":\"%s\",\"host\":%s,\"port\":%d,\"headers\":true,"
                     "%s%s\"max_payload\":%lld,\"cluster\":%s%s%s%s%s,\"tern_raft\":%d%s} \r\n",
                     s->server_id, name, TERN_ROUTE_PROTO_VERSION, TERN_GO_FIELD, host, aport,
                     cl->user ? "\"auth_required\":true," : "",
                     /* nats-server sets both from one flag: routes always verify */
                     cl->tls ? "\"tls_required\":true,\"tls_verify\":true," : "",
                     (long long)atomic_load(&s->max_payload), cname,
                     s->own_client_urls[0] ? ",\"connect_urls\":[" : "", s->own_client_urls,
                     s->own_client_urls[0] ? "]" : "",
                     ldm || atomic_load(&cl->ldm) ? ",\"ldm\":true" : "",
                     atomic_load(&cl->raft_state), monitor);
    return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

static size_t route_connect(struct client *c, char *out, size_t cap)
{
    struct server *s = c->srv;
    struct cluster *cl = c->route->cl;
    const struct route_url *u = &cl->urls[c->route->url];
    const char *user = u->user ? u->user : cl->user;
    const char *pass = u->pass ? u->pass : cl->pass;
    json_t *o = json_object();
    json_object_set_new(o, "echo", json_true());
    json_object_set_new(o, "verbose", json_false());
    json_object_set_new(o, "pedantic", json_false());
    if (user)
        json_object_set_new(o, "user", json_string(user));
    if (pass)
        json_object_set_new(o, "pass", json_string(pass));
    json_object_set_new(o, "tls_required", cl->tls ? json_true() : json_false());
    json_object_set_new(o, "headers", json_true());
    json_object_set_new(o, "name", json_string(s->server_id));
    json_object_set_new(o, "cluster", json_string(cl->name));
    char *js = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    int n = js ? snprintf(out, cap, "CONNECT %s\r\n", js) : -1;
    free(js);
    return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

int route_init(struct client *c, int route_url)
{
    struct cluster *cl = c->srv->cluster;
    if (!cl)
        return -EINVAL;
    c->route = calloc(1, sizeof *c->route);
    if (!c->route)
        return -ENOMEM;
    c->route->cl = cl;
    c->route->url = route_url;
    proto_parser_init(&c->parser, PROTO_SIDE_ROUTE);
    /* An accepted connection may be raft's (route_sniff). */
    c->route->sniffing = route_url < 0;
    /* An accepted route must authenticate first when cluster auth is on. */
    c->parser.require_connect = route_url < 0 && cl->user != NULL;
    return c->is_tls ? 0 : route_tls_ready(c);
}

int route_tls_ready(struct client *c)
{
    char line[4096];
    if (c->route->url >= 0) {
        size_t n = route_connect(c, line, sizeof line);
        if (!n)
            return -ENOMEM;
        client_send(c, line, n);
    }
    size_t n = route_info(c, line, sizeof line, false);
    if (!n)
        return -ENOMEM;
    client_send(c, line, n);
    return 0;
}

struct tls_ctx *cluster_tls_ctx(const struct cluster *cl)
{
    return cl ? cl->tls : NULL;
}

const char *route_dial_host(const struct cluster *cl, int route_url)
{
    return cl->urls[route_url].host;
}

void route_send_ldm(struct client *c)
{
    char line[4096];
    if (!c->route || !c->route->registered)
        return;
    atomic_store(&c->route->cl->ldm, true);
    size_t n = route_info(c, line, sizeof line, true);
    if (n)
        client_send(c, line, n);
}

void route_free(struct route_conn *r)
{
    if (!r)
        return;
    free(r->info_json);
    for (size_t i = 0; i < r->npeer_urls; i++)
        free(r->peer_urls[i]);
    free(r->peer_urls);
    free(r->sniff);
    free(r);
}
