/*
 * cluster/raft_transport.h — canonical/raft's transport (struct
 * raft_uv_transport) carried over the cluster port, so raft needs no port
 * of its own.
 *
 * Outgoing: connect(id, address) takes address as the peer's server name
 * (what the raft configuration stores), asks the cluster module where that
 * peer's route listener is right now (cluster_peer_route_addr: the host it
 * connected from or was dialled at, and the cluster port its INFO gave), so
 * a container that comes back with a new IP is still reached; dials it,
 * sends the preamble line
 *     RAFT <id> <name>\r\n
 * skips the INFO line the route listener sends first, waits for
 *     RAFTOK\r\n
 * and hands the stream to raft.
 *
 * Incoming: the route listener (cluster/route.c, an I/O loop thread) sees a
 * connection whose first line is a RAFT preamble and passes the socket here
 * with raft_transport_adopt (any thread). The transport queues it, wakes
 * the raft loop (uv_async), answers RAFTOK on that loop and calls raft's
 * accept callback with the id and name from the preamble.
 *
 * Raft sees what the stock TCP transport (src/uv_tcp*.c) gives it: the
 * connect callback gets a connected stream allocated with raft_malloc,
 * nothing read from it pending and nothing more to come from the far side
 * (raft only writes on the connections it dials); the accept callback gets
 * the dialler's id, its address (here its server name) and a raft_malloc'd
 * stream that raft reads, closes and frees. The stream is a uv_tcp_t on
 * plain TCP. With cluster TLS it is a uv_pipe_t on one end of a
 * socketpair, and a TLS pump (cluster/tls_pump.h) on the raft loop moves
 * the bytes between the other end and the TLS session on the real socket;
 * raft 0.15 uses only uv_stream_t calls on these streams (uv_read_start,
 * uv_write, uv_close), so it cannot tell. The pump ends the pipe's far
 * side when the peer goes, which raft sees as it sees a dead TCP peer. Failed dials report
 * RAFT_NOCONNECTION, dials cut by close() RAFT_CANCELED. The process must
 * ignore SIGPIPE (libuv writes to sockets whose peer may be gone).
 *
 * The address given to raft_init (and in the raft configuration) is the
 * server name: init() refuses one with spaces or control bytes
 * (RAFT_INVALID), since it travels in the preamble.
 *
 * Cluster TLS, both ways: an accepted connection arrives with its TLS
 * handshake done by the route listener (the dialler's certificate verified
 * against the cluster CA, as for a route); a dial connects, then the pump
 * runs the client handshake, verifying the acceptor's chain against the
 * same CA (not its host name: the address dialled is where the peer's
 * route came from, which its certificate need not name). The preamble,
 * INFO and RAFTOK then travel inside TLS. Without cluster TLS the cluster
 * port's network is trusted as for routes without cluster auth (no
 * authentication of raft connections).
 *
 * Everything but raft_transport_adopt runs on the raft loop's thread (the
 * JetStream thread).
 */
#ifndef TERN_CLUSTER_RAFT_TRANSPORT_H
#define TERN_CLUSTER_RAFT_TRANSPORT_H

#include <stddef.h>

#include <raft.h>
#include <raft/uv.h>
#include <uv.h>

#include "proto/raft_preamble.h"

struct cluster;

#define RAFT_TRANSPORT_PREAMBLE RAFT_PREAMBLE_PREFIX
#define RAFT_TRANSPORT_MAX_LINE RAFT_PREAMBLE_MAX_LINE
/* Each step of a dial (resolve, TCP connect, the RAFTOK answer) must end
 * within this, or the connect fails with RAFT_NOCONNECTION and raft
 * retries after its connect_retry_delay. */
#define RAFT_TRANSPORT_STEP_TIMEOUT_MS 2000

/* Where the peer named name listens now: "host:port" (an IPv6 host in
 * brackets) into out. 0, or a negative errno (the dial fails at once and
 * raft retries later). Called on the raft loop. */
typedef int (*raft_transport_resolve_fn)(void *arg, const char *name, char *out, size_t cap);

struct tls_ctx;

struct raft_transport_config {
    raft_transport_resolve_fn resolve;  /* required */
    void *resolve_arg;                  /* borrowed; must outlive the transport */
    unsigned step_timeout_ms;           /* 0: RAFT_TRANSPORT_STEP_TIMEOUT_MS */
    struct tls_ctx *tls;                /* borrowed, must outlive the transport:
                                           the cluster port's context (dials are
                                           TLS); NULL: plain TCP */
};

/* Fill t (zeroed by the caller) with the cluster-port transport on loop.
 * cl answers "where is the peer named X" at each dial (borrowed; must
 * outlive the transport). 0 or -ENOMEM. Free with raft_transport_free
 * after raft has closed it (raft_close's callback, then raft_uv_close) —
 * or when raft_init failed — and after cluster_set_raft_transport(cl,
 * NULL), so that no route loop is inside raft_transport_adopt. */
int raft_transport_init(struct raft_uv_transport *t, uv_loop_t *loop, struct cluster *cl);
/* The same with a resolver of one's own (tests: a fixed table). cfg is
 * copied. */
int raft_transport_init_config(struct raft_uv_transport *t, uv_loop_t *loop,
                               const struct raft_transport_config *cfg);
void raft_transport_free(struct raft_uv_transport *t);

/* Any thread: an accepted cluster-port connection sent a RAFT preamble.
 * fd (and tls, its TLS session past the handshake, or NULL for plain TCP)
 * now belong to the transport (closed if they cannot be used); line is
 * the preamble line without its CRLF (copied). Connections adopted before
 * listen() or after close() are closed, as are bad preambles (logged).
 * Nothing may have been read from fd past the preamble's CRLF. */
struct tls_conn;
void raft_transport_adopt(struct raft_uv_transport *t, int fd, struct tls_conn *tls,
                          const char *line, size_t len);

#endif
