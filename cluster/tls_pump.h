/*
 * cluster/tls_pump.h — a TLS session bridged to a plain local stream, so
 * that canonical/raft, which reads and writes its libuv streams itself,
 * can talk over an encrypted cluster-port connection without knowing it.
 *
 * The transport (cluster/raft_transport.c) makes a socketpair, gives raft
 * one end as a uv_pipe_t and the other end to a pump, together with the
 * TCP socket and its TLS session (server/tls.h). The pump moves plaintext
 * from its local end into the session and what the session decrypts back
 * to the local end, on the raft loop, never blocking. Whatever ends one
 * side ends the other: the peer's close_notify, end of file or a TLS error
 * closes the local end, so raft reads end of file (a stream it accepted)
 * or has its next write fail (a stream it dialled) — what it sees when a
 * plain TCP peer goes away; raft closing its end makes the pump send
 * close_notify (best effort) and close the socket. The pump never touches
 * raft's handle, so raft's stream keeps the semantics it has on plain TCP.
 *
 * Everything runs on the loop the pump was started on.
 */
#ifndef TERN_CLUSTER_TLS_PUMP_H
#define TERN_CLUSTER_TLS_PUMP_H

#include <stdbool.h>
#include <uv.h>

struct tls_conn;
struct tls_pump;

/* Called once, on the loop, when the pump has closed everything and is
 * about to free itself (the pointer must not be used afterwards). */
typedef void (*tls_pump_closed_cb)(void *arg);

/*
 * Start a pump on loop. net_fd: a connected TCP socket; tc: its TLS
 * session; local_fd: the pump's end of a socketpair. All three are the
 * pump's from this call on, whatever it returns. handshake: the session
 * still has to complete its handshake (a dial: the pump drives it before
 * reading the local end); false when the caller already completed it (an
 * adopted route connection). what names the connection in logs ("raft
 * connection to B"; copied). 0, or a negative errno (everything given is
 * then closed and freed, and closed is not called).
 */
int tls_pump_start(uv_loop_t *loop, int net_fd, struct tls_conn *tc, bool handshake,
                   int local_fd, const char *what, tls_pump_closed_cb closed, void *arg,
                   struct tls_pump **out);

/* End the pump now (transport shutdown); closed follows from the loop. */
void tls_pump_close(struct tls_pump *p);

#endif
