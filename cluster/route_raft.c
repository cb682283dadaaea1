/*
 * cluster/route_raft.c — what the JetStream raft group needs of the cluster
 * (route.h, last section): raft connections arriving on the cluster port,
 * the peers raft may talk to, and this node's "tern_raft" in route INFO.
 *
 * An accepted cluster-port connection is a route unless its first line is
 * a RAFT preamble (proto/raft_preamble.h). route_sniff looks at the first
 * bytes before the route parser does: the first byte that differs from
 * "RAFT " ends the look (a route's CONNECT costs one compare); a match is
 * held until its CRLF and the socket, taken from its connection without
 * being closed, goes to the raft transport. With cluster TLS the sniff sees
 * the decrypted bytes (the route's handshake came first, the dialler's
 * certificate verified), and the session goes to the transport with the
 * socket, so a plaintext RAFT line never reaches raft. The dialler sends
 * nothing after the preamble until it reads RAFTOK, so anything after the
 * CRLF is a protocol violation and the connection is closed.
 *
 * Peer queries read the route registry under cl->lock; raft_lock orders a
 * route loop's raft_transport_adopt against cluster_set_raft_transport.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cluster/raft_transport.h"
#include "cluster/route.h"
#include "cluster/route_impl.h"
#include "server/client.h"
#include "server/log.h"
#include "server/server.h"
#include "server/worker.h"

/* ---- raft connections on the cluster port ---- */

#define SNIFF_CAP (RAFT_TRANSPORT_MAX_LINE + 2)

static void hand_to_raft(struct client *c, const char *line, size_t len)
{
    struct cluster *cl = c->route->cl;
    int fd = -1;
    struct tls_conn *tls = NULL;
    c->route->raft = true;
    pthread_mutex_lock(&cl->raft_lock);
    struct raft_uv_transport *t = cl->raft_transport;
    if (t)
        fd = client_detach_fd(c, &tls);
    if (fd >= 0)
        raft_transport_adopt(t, fd, tls, line, len);
    pthread_mutex_unlock(&cl->raft_lock);
    if (!t)
        LOG_DEBUG("%s:%d - rid:%llu - Raft connection refused: raft is not running", c->ip,
                  c->port, (unsigned long long)c->cid);
    client_close(c, fd >= 0 ? "Handed to Raft" : t ? "Write Error" : "No Raft Transport", NULL);
}

static void sniff_violation(struct client *c, const char *why)
{
    LOG_ERROR("%s:%d - rid:%llu - Raft preamble: %s", c->ip, c->port,
              (unsigned long long)c->cid, why);
    c->route->raft = true; /* not a route: no route log line */
    client_close(c, "Protocol Violation", NULL);
}

bool route_sniff(struct client *c, const char *buf, size_t n, struct proto_slice *held)
{
    struct route_conn *r = c->route;
    *held = (struct proto_slice){ NULL, 0 };
    if (!r || !r->sniffing)
        return false;
    const char *prefix = RAFT_TRANSPORT_PREAMBLE;
    size_t plen = strlen(prefix);
    for (size_t i = r->nsniff; i < plen && i - r->nsniff < n; i++) {
        if (buf[i - r->nsniff] != prefix[i]) {
            /* A route after all: the bytes held so far go first. */
            r->sniffing = false;
            *held = (struct proto_slice){ r->sniff, r->nsniff };
            return false;
        }
    }
    if (!r->sniff && !(r->sniff = malloc(SNIFF_CAP))) {
        client_close(c, "Server Shutdown", NULL);
        return true;
    }
    size_t take = n < SNIFF_CAP - r->nsniff ? n : SNIFF_CAP - r->nsniff;
    memcpy(r->sniff + r->nsniff, buf, take);
    r->nsniff += take;
    const char *end = memmem(r->sniff, r->nsniff, "\r\n", 2);
    if (!end) {
        if (r->nsniff == SNIFF_CAP)
            sniff_violation(c, "line too long");
        return true;
    }
    size_t len = (size_t)(end - r->sniff);
    if (len + 2 != r->nsniff || take != n) {
        sniff_violation(c, "data after the preamble");
        return true;
    }
    r->sniffing = false;
    hand_to_raft(c, r->sniff, len);
    return true;
}

void cluster_set_raft_transport(struct cluster *cl, struct raft_uv_transport *t)
{
    pthread_mutex_lock(&cl->raft_lock);
    cl->raft_transport = t;
    pthread_mutex_unlock(&cl->raft_lock);
}

/* ---- peers ---- */

size_t cluster_peers(struct cluster *cl, struct cluster_peer *out, size_t max)
{
    pthread_rwlock_rdlock(&cl->lock);
    size_t n = cl->nroutes;
    for (size_t i = 0; i < n && i < max; i++) {
        const struct route_conn *r = cl->routes[i]->route;
        struct cluster_peer *p = &out[i];
        snprintf(p->name, sizeof p->name, "%s", r->remote_name);
        snprintf(p->id, sizeof p->id, "%s", r->remote_id);
        p->tern = r->remote_tern;
        p->raft_state = r->remote_tern ? r->remote_raft : CLUSTER_RAFT_UNKNOWN;
    }
    pthread_rwlock_unlock(&cl->lock);
    return n;
}

/* Does the live route to the node with this id say it takes part in
 * clustered JetStream? (cl->lock held.) */
static bool raft_member(struct cluster *cl, const char *id)
{
    for (size_t i = 0; i < cl->nroutes; i++) {
        const struct route_conn *r = cl->routes[i]->route;
        if (!strcmp(r->remote_id, id))
            return r->remote_raft != CLUSTER_RAFT_UNKNOWN;
    }
    return true; /* no live route: assume it does, so nobody starts early */
}

int cluster_expected_tern_peers(struct cluster *cl)
{
    /* Configured routes only: a peer learned by gossip was named by one of
     * them. Several URLs may reach one node (a name and an address): count
     * each server id once. Linear in the routes squared; a handful. */
    int count = 0;
    pthread_rwlock_rdlock(&cl->lock);
    for (size_t i = 0; i < cl->nurls; i++) {
        const struct route_url *u = &cl->urls[i];
        if (u->implicit || atomic_load(&u->state) == URL_SELF)
            continue;
        if (!u->remote_id[0]) {
            count = -1;
            break;
        }
        /* A Tern node without clustered JetStream says 0 from its first
         * INFO on (its JetStream starts before its routes): not a member. */
        if (!u->remote_tern || !raft_member(cl, u->remote_id))
            continue;
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++)
            seen = !cl->urls[j].implicit && cl->urls[j].remote_tern &&
                   atomic_load(&cl->urls[j].state) != URL_SELF &&
                   strcmp(cl->urls[j].remote_id, u->remote_id) == 0;
        count += !seen;
    }
    pthread_rwlock_unlock(&cl->lock);
    return count;
}

int cluster_peer_route_addr(struct cluster *cl, const char *name, char *out, size_t cap)
{
    int rc = -ENOENT;
    pthread_rwlock_rdlock(&cl->lock);
    for (size_t i = 0; i < cl->nroutes; i++) {
        const struct client *c = cl->routes[i];
        const struct route_conn *r = c->route;
        if (strcmp(r->remote_name, name) != 0 || r->remote_port <= 0)
            continue;
        /* The host we dialled reaches its listener; for a route it dialled,
         * the address it came from does (its INFO's host may be 0.0.0.0). */
        const char *host = r->url >= 0 ? cl->urls[r->url].host : c->ip;
        bool v6 = strchr(host, ':') != NULL;
        int n = snprintf(out, cap, v6 ? "[%s]:%d" : "%s:%d", host, r->remote_port);
        rc = n > 0 && (size_t)n < cap ? 0 : -ENOSPC;
        break;
    }
    pthread_rwlock_unlock(&cl->lock);
    return rc;
}

void cluster_set_raft_state(struct cluster *cl, int state)
{
    if (atomic_exchange(&cl->raft_state, state) == state)
        return;
    /* Each loop sends its routes the new INFO (route_send_info). */
    for (int i = 0; i < cl->srv->nworkers; i++)
        worker_announce_route_info(cl->srv->workers[i]);
}

void route_send_info(struct client *c)
{
    char line[4096];
    if (!c->route || !c->route->registered)
        return;
    size_t n = route_info(c, line, sizeof line, false);
    if (n)
        client_send(c, line, n);
}
