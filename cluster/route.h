/*
 * cluster/route.h — routes: connections between the nodes of a cluster.
 *
 * A route connection is a struct client of kind CLIENT_KIND_ROUTE, so it
 * shares the I/O path (loop ownership, output buffers, direct flushes,
 * reclamation); this module adds the route handshake, the registry of live
 * routes, remote interest (RS+/RS-) kept in the shared subject index as
 * subscriptions owned by the route, and forwarding (RMSG/HMSG).
 * Wire rules: spec/cluster-protocol.md (2.9-style single route per pair).
 * With cluster { tls {} } a route is a TLS connection of the client seam
 * (server/tls.h), handshake first, the peer's certificate always verified.
 * The main thread owns listening and dialling; everything per connection
 * runs on the connection's loop.
 */
#ifndef TERN_CLUSTER_ROUTE_H
#define TERN_CLUSTER_ROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "proto/parser.h"

struct cluster;
struct route_conn;
struct server;
struct client;
struct worker;
struct sub;

/* Main thread. NULL when clustering is not configured (no cluster listen). */
struct cluster *cluster_new(struct server *s, int *err);
/* Bind the route listener and start dialling configured routes. 0 or <0. */
int cluster_start(struct cluster *cl);
/* Stop accepting and dialling (shutdown); routes close with the loops. */
void cluster_stop(struct cluster *cl);
void cluster_free(struct cluster *cl);
/* The bound route port (for logs and /varz). */
int cluster_port(const struct cluster *cl);
/* Registered routes now (for /varz). */
size_t cluster_route_count(struct cluster *cl);

/* What /routez shows of one route. */
struct route_snapshot {
    unsigned long long rid;
    char remote_id[64];
    char remote_name[128];
    bool did_solicit;
    bool is_configured;
    char ip[64];
    int port;
    unsigned long long in_msgs, out_msgs, in_bytes, out_bytes, subs;
    struct timespec start;      /* wall clock: the connection was made */
    long long last_activity_ns; /* wall clock of the last read */
    int monitor_port;
    char monitor_base[128];
};

/* Copy up to max registered routes; returns how many. Any thread. */
/* (monitor_port/monitor_base: the peer's plain-HTTP monitoring port and
 * base path as its route INFO's "tern_monitor" gives them; 0 and "" when
 * it gives none, as nats-server peers do not.) */
size_t cluster_routes_snapshot(struct cluster *cl, struct route_snapshot *out, size_t max);
/* Call fn for each interest the peer of route rid announced (its RS+ as
 * route-owned subscriptions), for /routez?subs. Any thread; fn runs under
 * the registry and subscription locks, so it must not call back in.
 * Returns false when no route rid is registered. */
bool cluster_route_each_sub(struct cluster *cl, unsigned long long rid,
                            void (*fn)(void *arg, const struct sub *s), void *arg);
const char *cluster_name(const struct cluster *cl);
/* Main thread, once, while the loops run: announce this node's plain-HTTP
 * monitoring port and base path (NULL: none) in every route INFO from now
 * on as "tern_monitor" (and again to the routes it has), so peers' web
 * consoles can read its /varz. nats-server peers ignore the field. */
void cluster_set_monitor(struct cluster *cl, int port, const char *base_path);

/* A local client's subscription appeared or went away: tell every route
 * (RS+/RS-). No-op when cl is NULL or for route-owned subscriptions.
 * w is the loop running this. */
void cluster_local_interest(struct cluster *cl, struct worker *w, const struct sub *s,
                            bool added);

/* Loop of c: set up a new route connection (send INFO, and CONNECT when we
 * dialled it). route_url: configured route index, or -1 when accepted.
 * With cluster TLS (c->is_tls) nothing is sent until route_tls_ready. */
int route_init(struct client *c, int route_url);
/* Loop of c: its TLS handshake is done; send what route_init held back.
 * 0 or -ENOMEM (c must then close). */
int route_tls_ready(struct client *c);
/* The cluster port's TLS context (borrowed; lives as long as cl), or NULL
 * when routes are plain TCP or cl is NULL. Any thread. */
struct tls_ctx *cluster_tls_ctx(const struct cluster *cl);
/* The host a dialled route's URL names (borrowed), which the peer's
 * certificate must carry. Any thread. */
const char *route_dial_host(const struct cluster *cl, int route_url);
/* Loop of c: c is closing; drop it from the registry, let the dialler retry. */
void route_closed(struct client *c, const char *reason);
void route_free(struct route_conn *r);
/* Loop of c: this node entered lame duck mode; tell the peer with its
 * route INFO plus "ldm":true, so it stops offering our client URLs
 * (spec/client-protocol.md §2.3). */
void route_send_ldm(struct client *c);

/* Loop of c: send the route INFO again (our "tern_raft" changed). */
void route_send_info(struct client *c);

/* Loop of c, before parsing: an accepted cluster-port connection whose
 * first line is a RAFT preamble goes to the raft transport (see the end
 * of this header). True: buf was taken (held until the line is complete,
 * or c was handed over or closed). False: parse buf as route protocol,
 * after *held when it is not empty (bytes an earlier call held). */
bool route_sniff(struct client *c, const char *buf, size_t n, struct proto_slice *held);

extern const struct proto_handlers route_proto_handlers;

/* Any loop: send one message of an account to a route, with the queue
 * groups (names separated by single spaces, qlen 0 for none) it must
 * reach there. False when the route is closing or too slow. */
bool route_forward(struct worker *w, struct client *route, const char *account,
                   const struct proto_msg *m, const char *queues, size_t qlen);

/* ---- what the JetStream raft group needs of the cluster ---- */

struct raft_uv_transport;

/* A peer this node has a live route to, as its route INFO described it. */
struct cluster_peer {
    char name[128];       /* its server name (its server id when unnamed) */
    char id[64];          /* its server id */
    bool tern;            /* a Tern node: its INFO carries "tern_raft" */
    int raft_state;       /* its "tern_raft": CLUSTER_RAFT_* */
};

enum {
    CLUSTER_RAFT_UNKNOWN = 0, /* not a Tern node, or JetStream clustering off */
    CLUSTER_RAFT_EMPTY = 1,   /* its raft directory was empty at start */
    CLUSTER_RAFT_MEMBER = 2,  /* it has raft state (bootstrapped or joined) */
    CLUSTER_RAFT_FRESH = 3,   /* it has just bootstrapped the initial group
                                 and not yet seen a leader: a peer still
                                 empty may bootstrap the same group */
};

/* Any thread: the peers with a live route now; fills at most max, returns
 * how many there are. */
size_t cluster_peers(struct cluster *cl, struct cluster_peer *out, size_t max);
/* Any thread: how many Tern peers this node should see before a first
 * bootstrap: the configured routes, less a route that turned out to be
 * this node, less routes that turned out to be other servers than Tern;
 * -1 while some configured route has never connected (unknown yet). */
int cluster_expected_tern_peers(struct cluster *cl);
/* Any thread: "host:port" of the route listener of the peer named name,
 * as reachable now: the host of the URL we dialled (solicited route) or
 * the address it came from (accepted), an IPv6 one in brackets, and the
 * port its INFO gives. 0, -ENOENT (no live route to it), -ENOSPC. */
int cluster_peer_route_addr(struct cluster *cl, const char *name, char *out, size_t cap);
/* Any thread while the server's loops run: the "tern_raft" value this
 * node's route INFO carries from now on (sent again to the routes it has,
 * through each loop's inbox; a no-op when unchanged). Every Tern INFO
 * carries it, 0 (CLUSTER_RAFT_UNKNOWN) until set. */
void cluster_set_raft_state(struct cluster *cl, int state);
/* Any thread: the transport that adopts RAFT connections arriving on the
 * cluster port (NULL: they are closed). Borrowed. Set it back to NULL
 * before raft_transport_free: this call waits for a route loop that is
 * inside raft_transport_adopt. */
void cluster_set_raft_transport(struct cluster *cl, struct raft_uv_transport *t);

#endif
