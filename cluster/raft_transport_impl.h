/*
 * cluster/raft_transport_impl.h — what raft_transport.c (dialling and the
 * struct raft_uv_transport operations), raft_transport_accept.c (connections
 * adopted from the route listener) and raft_transport_tls.c (the cluster
 * TLS bridge) share. Private to those three files.
 *
 * Everything here runs on the raft loop's thread, except the fields of
 * struct transport under its lock (raft_transport_adopt's queue).
 */
#ifndef TERN_CLUSTER_RAFT_TRANSPORT_IMPL_H
#define TERN_CLUSTER_RAFT_TRANSPORT_IMPL_H

#include <pthread.h>
#include <stdbool.h>

#include "cluster/raft_transport.h"

/* Lines read back while dialling: the route INFO (a few hundred bytes for
 * Tern and nats-server 2.9), then RAFTOK. A longer line fails the dial. */
#define DIAL_IN_MAX 8192
#define NAME_MAX_LEN RAFT_TRANSPORT_MAX_LINE

struct transport;
struct dial;
struct tls_conn;
struct tls_pump;

/* An adopted socket between RAFTOK and raft's accept callback. Allocated
 * on the loop, freed when handed over or closed; lives on tr->incoming. */
struct incoming {
    struct transport *tr;              /* borrowed */
    struct incoming *prev, *next;
    uv_stream_t *tcp;                  /* raft_malloc'd uv_tcp_t, or a uv_pipe_t
                                          bridged by a TLS pump; raft's once
                                          accepted */
    uv_write_t write;
    raft_id id;
    char name[NAME_MAX_LEN];
    bool aborted;                      /* close() closed it */
};

/* A socket queued by raft_transport_adopt. */
struct adopted {
    int fd;
    struct tls_conn *tls;              /* owned; NULL: plain TCP */
    size_t len;
    char line[RAFT_TRANSPORT_MAX_LINE];
};

/* t->impl. Allocated by raft_transport_init*, freed by raft_transport_free.
 * Loop thread only, except the fields under lock. */
struct transport {
    struct raft_uv_transport *t;       /* borrowed: the owner */
    uv_loop_t *loop;                   /* borrowed */
    struct raft_transport_config cfg;
    raft_id id;                        /* ours, from init() */
    char name[NAME_MAX_LEN];           /* our address (server name) */
    raft_uv_accept_cb accept_cb;
    uv_async_t wake;
    bool wake_open;                    /* from init() until its close callback */
    bool closing;
    raft_uv_transport_close_cb close_cb;
    struct dial *dials;
    struct incoming *incoming;
    struct pump_link *pumps;           /* TLS pumps still running */

    pthread_mutex_t lock;              /* guards the three below */
    bool accepting;                    /* listen() done, close() not yet */
    struct adopted *queue;             /* owned array */
    size_t nqueue, cap;
};

/* One TLS pump of the transport's (cluster TLS only). Allocated with the
 * pump, freed by its closed callback; lives on tr->pumps. */
struct pump_link {
    struct transport *tr;              /* borrowed */
    struct tls_pump *pump;             /* the pump's own; valid until freed */
    struct pump_link *prev, *next;
};

/* raft_transport.c: raft's close callback once nothing is left open. */
void raft_transport__maybe_closed(struct transport *tr);
/* A uv close callback that raft_free()s the handle. */
void raft_transport__free_handle(uv_handle_t *h);

/* raft_transport_accept.c: the adopt queue's wake-up, and the close
 * callback of an incoming connection's handle (frees it). */
void raft_transport__on_wake(uv_async_t *h);
void raft_transport__on_incoming_closed(uv_handle_t *h);

/* raft_transport_tls.c: bridge net_fd and its session tc (both taken,
 * whatever happens) to a new uv_pipe_t on the loop, raft_malloc'd and open,
 * for raft, through a TLS pump on tr->pumps; handshake: the pump completes
 * the handshake first. what names the connection in logs. 0 or a negative
 * errno. */
int raft_transport__bridge(struct transport *tr, int net_fd, struct tls_conn *tc,
                           bool handshake, const char *what, uv_pipe_t **out);

#endif
