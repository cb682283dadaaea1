/*
 * server/server.h — one Tern node: options, listeners, I/O loops, the
 * shared subject index, the connection registry and node-wide counters.
 *
 * The main thread owns struct server: it runs the accept listener, signals,
 * the monitoring HTTP server and the reclamation tick on main_base, and
 * hands each accepted socket to one worker loop for its whole life.
 * Fields shared with the loops are either immutable after start, atomic, or
 * guarded by registry_lock as marked.
 */
#ifndef TERN_SERVER_SERVER_H
#define TERN_SERVER_SERVER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "server/opts.h"

struct event_base;
struct evconnlistener;
struct sockaddr;
struct event;
struct auth;
struct account_set;
struct reclaim;
struct worker;
struct client;
struct monitor;
struct cluster;
struct url_ref;
struct jetstream;
struct tls_ctx;
struct ws_server;
struct sysacc;

/* What /connz shows of a connection, kept after it closes. */
struct conn_record {
    uint64_t cid;
    char ip[64];
    int port;
    struct timespec start;
    struct timespec stop;
    char name[128];
    char lang[32];
    char version[32];
    char user[128];
    char account[128];       /* the connection's account */
    char tls_version[8];     /* "1.3"; empty for a plain connection */
    char tls_cipher[64];     /* IANA name of the negotiated suite */
    uint64_t in_msgs, out_msgs, in_bytes, out_bytes;
    uint64_t subs;
    const char *reason;  /* static string */
};

struct server {
    struct tern_opts opts;          /* owned; main thread only (replaced on reload) */
    int argc;                       /* the command line, kept for reload */
    char **argv;                    /* borrowed from main */
    char server_id[57];
    char *server_name;              /* owned; opts.server_name or server_id */

    struct event_base *main_base;   /* owned */
    struct evconnlistener *listener;/* owned */
    struct event *sig_events[6];    /* owned */
    struct event *tick_ev;          /* owned: reclamation tick */
    struct event *ldm_ev;           /* owned: lame duck's close timer */
    bool in_ldm;                    /* main thread only */
    int ldm_next_worker;            /* main thread only */
    int64_t ldm_interval_ms;        /* main thread only; 0 until closing */
    struct timespec ldm_deadline;   /* main thread only (monotonic) */
    int client_port;                /* actual bound port */
    char client_host[64];

    struct worker **workers;        /* owned array of nworkers */
    int nworkers;
    bool workers_running;
    atomic_uint next_worker;

    struct account_set *accounts;   /* owned: every account and its subject
                                       index (server/account.h); fixed at start */
    struct reclaim *reclaim;        /* owned */
    struct monitor *monitor;        /* owned; NULL when -m is off */
    struct sysacc *sysacc;          /* owned: the system account's
                                       requests (server/sysacc.h) */
    struct cluster *cluster;        /* owned; NULL when clustering is off */
    struct jetstream *jetstream;    /* owned; NULL when JetStream is off */
    _Atomic(struct auth *) auth;    /* owned reference; swapped on reload */
    /* The client port's TLS context (server/tls.h); NULL when TLS is off.
     * A reference owned by the server; swapped on reload, the old one
     * retired through the reclaimer because a loop may be between loading
     * the pointer and taking its own reference. */
    _Atomic(struct tls_ctx *) tls;
    atomic_uint_fast64_t tls_handshake_failures;  /* failed or timed out */
    struct ws_server *ws;           /* owned; NULL without websocket {} */

    /* Settings loops read, fixed at start. The loops never read opts,
     * which a reload replaces on the main thread. */
    bool no_header_support;
    bool jetstream_on;              /* INFO "jetstream":true */
    char js_domain[512];            /* INFO "domain"; empty when none (fixed at start) */
    int64_t max_sub_tokens;
    char cluster_name[128];         /* empty when clustering is off */

    /* Limits loops read per connection (changed by reload). */
    atomic_llong max_payload;
    atomic_llong max_pending;
    atomic_llong max_control_line;
    atomic_llong max_connections;
    atomic_llong max_subscriptions;
    atomic_llong ping_interval_ms;
    atomic_llong ping_max;
    atomic_llong write_deadline_ms;

    atomic_uint_fast64_t next_cid;
    atomic_int num_clients;
    atomic_uint_fast64_t total_connections;
    atomic_uint_fast64_t slow_consumers;

    /* Client URLs of this node and of every routed peer, as INFO's
     * connect_urls fragment; NULL until the first change (a lone node sends
     * none). Rebuilt by server_client_urls_changed. */
    pthread_mutex_t urls_lock;
    char own_client_urls[512];      /* immutable after start: "\"h:p\",..." */
    char *connect_urls_json;        /* guarded by urls_lock; owned */
    struct url_ref *peer_urls;      /* guarded by urls_lock; owned list */

    pthread_mutex_t registry_lock;
    struct client *clients;         /* guarded by registry_lock: open list */
    struct conn_record *closed;     /* guarded: ring of max_closed_clients */
    size_t closed_cap, closed_next, closed_count;

    struct timespec start_time;     /* wall clock, for /varz start */
    struct timespec config_load_time;
    atomic_bool shutting_down;
    int exit_code;
};

/* Build everything from resolved options; 0 or negative (logged). */
int server_init(struct server *s, struct tern_opts *opts, int argc, char **argv);
/* Run until a shutdown signal; returns the process exit code. */
int server_run(struct server *s);
void server_destroy(struct server *s);

/* Bind a listener on host:port (port 0 or less: any) on base; the port
 * bound into *bound_port. NULL on failure, logged with fail_fmt (host, port,
 * the error text). Main thread. */
struct evconnlistener *server_listen(struct event_base *base, const char *host, int port,
                                     void (*cb)(struct evconnlistener *, int, struct sockaddr *,
                                                int, void *),
                                     void *arg, int *bound_port, const char *fail_fmt);

/* Record a closed connection for /connz?state=closed. Any thread. */
void server_record_closed(struct server *s, const struct conn_record *rec);

/* A peer's client URLs (a JSON array from its route INFO) join or leave
 * the connect_urls clients are told about; clients that may hear async
 * INFO get a fresh one. Any thread. */
void server_peer_urls(struct server *s, const char *const *urls, size_t n, bool add);

/* Compute this node's own client URLs (after the listener is bound);
 * release the peer list at the end. */
void server_init_client_urls(struct server *s);
void server_free_urls(struct server *s);

/* Copy the current connect_urls fragment (e.g. ,"connect_urls":[...]) into
 * out; empty when there is none. */
void server_connect_urls(struct server *s, char *out, size_t cap);
/* The same with only the peers' URLs (a node in lame duck mode offers the
 * others, not itself); empty when alone. */
void server_peer_connect_urls(struct server *s, char *out, size_t cap);

/* Sum of the per-loop message counters. */
struct server_counters {
    uint64_t in_msgs, out_msgs, in_bytes, out_bytes;
};
void server_get_counters(struct server *s, struct server_counters *out);

#endif
