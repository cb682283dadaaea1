/*
 * server/client.h — one client connection and its subscriptions.
 *
 * A client is created, read, written, timed and closed only by its worker
 * loop. Other loops touch it in exactly one way: delivering a message into
 * its outbound buffer, under out_lock. Its memory is freed through the
 * reclaimer after close, because other loops may still hold a pointer from
 * a match result or a flush list until the end of their iteration.
 */
#ifndef TERN_SERVER_CLIENT_H
#define TERN_SERVER_CLIENT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

#include "proto/parser.h"
#include "server/buf.h"
#include "server/kmap.h"
#include "server/nkey.h"
#include "server/sublist.h"

struct server;
struct worker;
struct event;
struct auth;
struct auth_user;
struct auth_perms;
struct conn_record;
struct tls_ctx;
struct tls_conn;
struct ws_conn;
struct replies;
struct account;

/* Where a TLS connection is (server/tls.h). */
enum client_tls_state {
    CLIENT_TLS_NONE = 0,       /* plain TCP */
    CLIENT_TLS_HANDSHAKE,      /* handshake running (a client has had its
                                  INFO in plaintext; a route nothing yet) */
    CLIENT_TLS_READY,          /* every byte now goes through the session */
};

/* One subscription. Allocated by its client's loop on SUB; unlinked on
 * UNSUB, auto-unsubscribe or close, then retired (freed via the reclaimer). */
struct sub {
    struct sublist_sub base;   /* what the index sees; must stay first */
    struct client *client;     /* borrowed: the owner */
    struct account *acc;       /* borrowed: whose index holds it (server/account.h) */
    char *subject;             /* owned (one allocation with queue and sid) */
    char *queue;               /* points into the same allocation, or NULL */
    char *sid;
    size_t sid_len;
    struct kmap_key sid_key;   /* entry in client->sids (bytes = sid) */
    uint64_t max;              /* auto-unsubscribe after max; 0 = none; out_lock */
    uint64_t delivered;        /* guarded by client->out_lock */
    bool dead;                 /* guarded by client->out_lock: no more deliveries */
};

/* What is on the other end: a client, or a route to another node (a route
 * connection reuses the whole I/O path; cluster/route.c adds its state). */
enum client_kind {
    CLIENT_KIND_CLIENT = 0,
    CLIENT_KIND_ROUTE = 1,
    CLIENT_KIND_INTERNAL = 2,  /* a subscriber inside the server (JetStream) */
};

struct route_conn;

enum client_stop {
    CLIENT_STOP = 1,           /* a handler closed the connection */
};

struct client {
    struct server *srv;        /* borrowed */
    struct worker *w;          /* borrowed: the owning loop */
    uint64_t cid;
    enum client_kind kind;
    struct route_conn *route;  /* owned; routes only (cluster/route.c) */
    int fd;                    /* owned */
    bool is_tls;               /* fixed at accept */
    char ip[64];
    int port;
    struct timespec start;     /* wall clock */

    /* Loop thread only. */
    char nonce[NKEY_NONCE_CHARS + 1];           /* sent in INFO while nkey
                                                   users exist; "" after
                                                   CONNECT (used once) */
    struct event *read_ev, *write_ev;           /* owned */
    struct event *auth_timer, *ping_timer, *wd_timer; /* owned */
    struct proto_parser parser;                 /* owned */
    bool connected;            /* CONNECT accepted */
    bool verbose, pedantic, echo, headers, no_responders;
    int protocol;
    bool first_pong_sent;      /* answered the first PING after CONNECT:
                                  async INFOs may go out from now (§3.3) */
    bool closed;
    int pings_out;
    /* TLS: as nats-server 2.9, INFO goes out in plaintext, then the
     * client's ClientHello starts the handshake (this loop only); after
     * it every read and write goes through the session. An SSL object
     * must never be used by two threads at once, so once READY the session
     * is used under tls_lock: this loop's reads, and writes by any loop
     * (which hold write_lock first: the order is write_lock, tls_lock).
     * tls_state and tls are fixed while READY; tls is freed by
     * client_close under write_lock after closing is set. */
    struct tls_ctx *tls_ctx;   /* owned reference, taken at accept; NULL = plain */
    struct tls_conn *tls;      /* owned; freed by client_close */
    enum client_tls_state tls_state;
    pthread_mutex_t tls_lock;
    bool tls_read_wants_write; /* a read stopped on WANT_WRITE: retry on EV_WRITE */
    atomic_bool tls_write_wants_read; /* a write stopped on WANT_READ: flush after a read */
    struct event *tls_timer;   /* owned: handshake timeout */
    char **cert_names;         /* owned: verify_and_map candidates, in order */
    struct ws_conn *ws;        /* owned; set at accept for a client of the
                                  WebSocket listener (server/ws.h) */
    size_t ncert_names;
    struct auth *auth;         /* owned reference, taken at accept */
    /* borrowed from srv->accounts: $G until CONNECT names another; set
     * by the loop under srv->registry_lock (the monitor reads it) */
    struct account *acc;
    const struct auth_perms *perms;   /* borrowed from auth */
    const struct auth_user *user;     /* borrowed from auth */
    /* Operator mode (server/auth_jwt.h): what the user JWT granted. Loop
     * thread only, except own_perms, which other loops read through perms:
     * freed by client_free after the reclaimer, a replaced one retired. */
    struct auth_perms *own_perms;     /* owned; perms points at it */
    int64_t jwt_max_subs;             /* from the JWTs; < 0 = none */
    int64_t jwt_expires;              /* Unix s; 0 = never; auth_timer
                                         closes the connection then */
    /* The payload limit the JWTs set (< 0 = the server's), which INFO
     * then announces; written by the loop, read by any (async INFO). */
    _Atomic int64_t jwt_max_payload;
    char jwt_user[57];                /* the user JWT's public key ("" for
                                         none); written under
                                         srv->registry_lock (/connz reads it) */
    struct account *jwt_counted;      /* borrowed: the account whose
                                         jwt_conns counts this connection */
    bool deny_filter;          /* set once a SUB overlapped a deny entry:
                                  deliveries are checked against it; read
                                  by other loops, so written under out_lock */
    /* The sid table (server/subs.c): written by the loop under subs_lock,
     * read by the monitor under it. */
    pthread_mutex_t subs_lock;
    struct kmap sids;          /* sid -> struct sub; slot array owned */
    uint64_t sid_seed;
    size_t nsubs;
    struct client *loop_prev, *loop_next;   /* worker's list */

    /* Guarded by srv->registry_lock (read by the monitor). */
    char *name, *lang, *version;              /* owned */
    char tls_version[8], tls_cipher[64];      /* written once, at handshake */
    struct client *reg_prev, *reg_next;

    /* The socket's write side: any loop may write to fd while holding
     * write_lock (a publisher's loop flushes directly instead of waking the
     * owner); only the owner arms events, closes, or frees. */
    pthread_mutex_t write_lock;
    struct buf wbuf;           /* guarded by write_lock: being written */

    /* Guarded by out_lock: the one place other loops append. */
    pthread_mutex_t out_lock;
    struct buf out;
    bool flush_queued;         /* on some loop's flush list already */
    bool closing;              /* no more appends */
    const char *kill_reason;   /* set by another loop: close on next flush */
    uint64_t out_msgs, out_bytes;
    struct sub **expired;      /* owned array: reached their max elsewhere */
    size_t nexpired, cap_expired;
    /* owned; allow_responses users only (server/replies.h): reply subjects
     * noted by deliveries on any loop, used by the owner's publishes */
    struct replies *replies;

    atomic_size_t wpending;    /* bytes in wbuf; written by the loop */
    atomic_int holds;          /* queued cross-loop flushes; reclaimer waits */
    atomic_uint_fast64_t in_msgs, in_bytes;   /* loop writes, monitor reads */
    atomic_uint_fast64_t nsubs_pub;           /* nsubs for the monitor */
    atomic_int_fast64_t last_activity_ns;     /* wall clock of the last read */

    /* CLIENT_KIND_INTERNAL only: a delivery to one of its subscriptions
     * calls internal_deliver on the publisher's loop w instead of writing
     * to a socket; it must copy what it keeps. What it stages per loop is
     * handed on by internal_flush, which that loop calls at the end of its
     * iteration once internal_deliver has noted the client as having
     * output (worker_note_output), as it flushes sockets. */
    bool (*internal_deliver)(void *arg, struct worker *w, const struct sub *s,
                             const struct proto_msg *m);
    void (*internal_flush)(void *arg, struct worker *w);
    void *internal_arg;        /* borrowed: the engine behind it */
};

/* Loop thread: adopt an accepted socket (sends INFO, arms timers).
 * Returns 0 or negative (the socket is closed). For a route, route_url is
 * the configured route it was dialled for, or -1 when it was accepted. */
int client_accept(struct worker *w, int fd, const struct sockaddr *sa, socklen_t len,
                  enum client_kind kind, int route_url);

/* Owner loop: write out what is queued (called at the end of an iteration
 * or from the inbox). Closes the client if another loop marked it. */
void client_flush(struct client *c);

/* Any loop: try to write c's queued output to its socket now. True when
 * nothing is left for the owner to do; false when the owner must flush
 * (socket full, write error, close pending, expired subscriptions, or
 * another thread is writing). */
bool client_try_flush(struct client *c);

/* Loop thread: close now. err: -ERR text (without quotes) or NULL;
 * reason: the /connz close reason. Idempotent. */
void client_close(struct client *c, const char *reason, const char *err);

/* Loop thread: take the socket away from c, which the caller then closes
 * with client_close (which then leaves the socket alone): c stops taking
 * output and leaves the loop's poll set; what it had queued is written
 * first. Returns the fd, now the caller's, or a negative errno when the
 * queued output could not all be written (c keeps the socket). A TLS
 * connection past its handshake gives its session too, into *tls (NULL
 * for a plain one), which the caller then owns; for TLS and tls NULL, or
 * a handshake not done, -EINVAL. */
int client_detach_fd(struct client *c, struct tls_conn **tls);

/* Owner loop: a client's session begins: INFO goes out, the auth clock
 * starts (for a WebSocket client, once its upgrade is answered), and the
 * connection limit is checked. */
void client_session_start(struct client *c);

/* Owner loop: bytes read on c's behalf go to the protocol parser (the
 * WebSocket layer's payloads); c may be closed on return. */
void client_parse(struct client *c, const char *data, size_t n);

/* Owner loop: bytes for the socket as they are, after what is queued
 * (the WebSocket upgrade's HTTP answer, control frames); flushed now. */
void client_send_raw(struct client *c, const void *bytes, size_t len);

/* Queue raw bytes to c from its own loop (PONG, +OK, -ERR, INFO). */
void client_send(struct client *c, const char *bytes, size_t len);

/* Queue raw bytes to c from loop w, which need not be c's (route lines
 * produced while handling another connection). False if c is closing. */
bool client_queue(struct worker *w, struct client *c, const char *bytes, size_t len);

/*
 * The one path a message frame takes into c->out, from any loop (a
 * subscriber's MSG in server/deliver.c, a route's RMSG in
 * cluster/route_ops.c). The caller holds c->out_lock across both calls and
 * writes the frame between them with memcpy, so a frame costs one lock, its
 * copies and no formatting. When *wake comes back true the caller calls
 * worker_note_output(w, c) once it has unlocked, so c's owner flushes it.
 */

/* Where to write a frame of at most bound bytes at the end of c->out; NULL
 * when c is closing, memory ran out, or the frame would take c's pending
 * bytes (out and wbuf) past max_pending. In that last case c is a slow
 * consumer, client or route alike: counted in srv->slow_consumers, logged,
 * and closed by its owner on the flush *wake asks for. */
char *client_out_reserve(struct client *c, size_t bound, bool *wake);

/* The frame of n bytes written where client_out_reserve said is queued;
 * body of them is payload (counted in out_bytes). */
void client_out_commit(struct client *c, size_t n, size_t body, bool *wake);

/* Queue "-ERR '<text>'\r\n" from c's own loop; the connection stays open. */
void client_send_err(struct client *c, const char *text);

/* Owner loop: send an async INFO if this client may receive one
 * (protocol >= 1 and its first PONG sent, spec/client-protocol.md §3.3). */
void client_send_async_info(struct client *c, bool ldm);

/* A CLIENT_KIND_INTERNAL client (server/client_internal.c) for acc's
 * server-side subscriptions: deliveries call deliver(arg, ...), and flush
 * as described at internal_deliver; w is the loop named its owner. The
 * caller owns it and frees it with client_free_internal once nothing can
 * deliver to its subscriptions. NULL out of memory. */
struct client *client_new_internal(struct server *srv, struct worker *w, struct account *acc,
                                   bool (*deliver)(void *arg, struct worker *w,
                                                   const struct sub *s,
                                                   const struct proto_msg *m),
                                   void (*flush)(void *arg, struct worker *w), void *arg);
void client_free_internal(struct client *c);

/* Fill a monitor record; caller holds srv->registry_lock. */
void client_fill_record(struct client *c, struct conn_record *rec);

/* For /connz?subs=1: calls fn on each subscription under subs_lock.
 * Caller holds registry_lock. */
void client_each_sub(struct client *c, void (*fn)(void *arg, const struct sub *s), void *arg);

#endif
