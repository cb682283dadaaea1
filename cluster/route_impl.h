/*
 * cluster/route_impl.h — state shared by cluster/route.c (listener,
 * dialler, registry) and cluster/route_ops.c (route verbs, forwarding).
 * Private to cluster/.
 */
#ifndef TERN_CLUSTER_ROUTE_IMPL_H
#define TERN_CLUSTER_ROUTE_IMPL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

struct server;
struct client;
struct event;
struct evconnlistener;
struct interest;
struct cluster;
struct raft_uv_transport;
struct tls_ctx;

enum route_url_state {
    URL_IDLE = 0,      /* dial on the first tick after not_before_ms */
    URL_DIALLING,      /* TCP connect in progress (main thread) */
    URL_CONNECTED,     /* handed to a loop, handshaking or registered */
    URL_SELF,          /* it is us: never dial again */
    URL_DONE,          /* an implicit route out of tries: dialled again
                          only when gossip names it anew */
};

/* Configured routes plus room for implicit ones learned by gossip; the
 * array never moves, so route_url pointers stay valid. */
#define CLUSTER_MAX_IMPLICIT 32

/* One configured route (--routes / cluster.routes). Owned by the cluster. */
struct route_url {
    struct cluster *cl;       /* borrowed */
    char *host, *user, *pass; /* owned */
    int port;
    atomic_int state;         /* enum route_url_state */
    atomic_llong not_before_ms; /* monotonic ms: no dial before this (the
                                   redial delay and jitter) */
    struct event *dial_ev;    /* owned; main thread */
    int failures;             /* main thread */
    bool implicit;            /* learned by gossip, not configured */
    atomic_int tries_left;    /* implicit only: dials left before giving
                                 up, 1 + connect_retries when learned or
                                 lost (spec/cluster-protocol.md §10.1) */
    char remote_id[64];       /* set by the loop that registered it; read
                                 by the dialler under cl->lock */
    bool remote_tern;         /* with remote_id: its INFO had "tern_raft" */
};

struct cluster {
    struct server *srv;               /* borrowed */
    struct evconnlistener *listener;  /* owned; main thread */
    struct event *dial_tick;          /* owned; main thread */
    char host[64];
    int port;
    char name[128];
    bool no_advertise;                /* keep peers out of client connect_urls */
    char advertise_host[256];         /* what peers dial, when advertised */
    int advertise_port;
    char *user, *pass;                /* owned: cluster authorization, copied
                                         at start (loops never read opts) */
    struct tls_ctx *tls;              /* owned reference; NULL = plain TCP.
                                         Built at start, never swapped */
    int connect_retries;              /* --connect_retries, for implicit routes */
    struct route_url *urls;           /* owned array, room for nurls +
                                         CLUSTER_MAX_IMPLICIT */
    size_t nurls;                     /* written by the main thread (the
                                         dialler) under lock; other threads
                                         read it under lock */
    pthread_mutex_t gossip_lock;      /* guards gossip[] */
    char *gossip[CLUSTER_MAX_IMPLICIT * 2]; /* owned "id host:port" to dial */
    size_t ngossip;
    struct interest *interest;        /* owned; thread-safe */
    atomic_uint next_worker;
    pthread_rwlock_t lock;            /* guards routes/nroutes/cap */
    struct client **routes;           /* registered routes (borrowed) */
    size_t nroutes, cap;
    atomic_int raft_state;            /* our "tern_raft" (CLUSTER_RAFT_*) */
    /* Where this node's plain-HTTP monitoring answers, for peers' web
     * consoles (route INFO "tern_monitor"), set once by the main thread
     * (cluster_set_monitor): monitor_base first, then monitor_port with
     * release order, so a loop that reads the port non-zero (acquire)
     * reads the base whole. Port 0: not announced (off, or HTTPS only). */
    atomic_int monitor_port;
    char monitor_base[256];           /* JSON-encoded string, quotes included */
    atomic_bool ldm;                  /* lame duck announced: every later
                                         route INFO carries "ldm" too */
    pthread_mutex_t raft_lock;        /* guards raft_transport; held across
                                         raft_transport_adopt so the
                                         transport is not freed under it */
    struct raft_uv_transport *raft_transport; /* borrowed; NULL: RAFT
                                         connections are closed */
};

/* Per route connection. Owned by its struct client (freed with it). */
struct route_conn {
    struct cluster *cl;       /* borrowed */
    int url;                  /* configured route index, -1 if accepted */
    bool registered;          /* in cl->routes; written under cl->lock */
    bool registered_once;     /* written under cl->lock */
    bool is_self;             /* the peer turned out to be us */
    bool duplicate;           /* closed: a route to the peer was registered first */
    bool got_info;
    bool headers;             /* both sides support HMSG */
    char remote_id[64];
    char remote_name[128];
    char *info_json;          /* owned: the peer's INFO as gossiped on (§7.1) */
    char **peer_urls;         /* owned: the peer's connect_urls, added to
                                 the server's list while registered */
    size_t npeer_urls;
    bool urls_listed;         /* peer_urls are in the server's list now;
                                 written under cl->lock */
    /* What the raft group reads (cluster_peers): set before registration,
     * remote_raft rewritten by later INFOs under cl->lock. */
    bool remote_tern;         /* its INFO carries "tern_raft" */
    int remote_raft;          /* that value: CLUSTER_RAFT_* */
    int remote_port;          /* the cluster port its INFO gives */
    int remote_monitor_port;  /* its "tern_monitor" port; 0: none */
    char remote_monitor_base[128]; /* and base path ("" when none) */
    /* An accepted connection's first bytes, until they show whether it is
     * a route or raft's (route_sniff). Loop of the connection only. */
    bool sniffing;
    bool raft;                /* handed to the raft transport */
    char *sniff;              /* owned: held bytes of a RAFT line */
    size_t nsniff;
};

int route_register(struct client *c);
void route_list_urls(struct client *c, bool add);
/* Loop of c: the route INFO this node sends, with "ldm" when asked or
 * once lame duck mode was announced. Its length, 0 if it did not fit. */
size_t route_info(struct client *c, char *out, size_t cap, bool ldm);
/* A gossiped INFO named node id at host:port: dial it unless known. */
void route_gossip_learned(struct cluster *cl, const char *id, const char *host, int port);

#endif
