/*
 * server/ws.h — NATS over WebSocket, as nats-server 2.9 serves it: a
 * listener of its own (websocket {}), the HTTP/1.1 upgrade, then the
 * client protocol carried in binary frames, optionally compressed
 * (permessage-deflate) and optionally inside TLS (wss://).
 *
 * A WebSocket client is an ordinary struct client with c->ws set: it sits
 * behind the same read/write seam as TLS (server/client.c). Bytes read —
 * from the socket or out of the TLS session — go to ws_input(), which
 * answers the upgrade, then decodes frames (proto/ws.h) and feeds their
 * payloads to the protocol parser. Output stays plain NATS protocol in
 * c->out; ws_frame_output() frames (and compresses) it when the owner or
 * a publisher's loop moves it to the write buffer, under write_lock, so
 * framing never reorders bytes and TLS encrypts whole frames.
 */
#ifndef TERN_SERVER_WS_H
#define TERN_SERVER_WS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "server/opts.h"

struct server;
struct client;
struct buf;
struct tls_ctx;
struct auth;

/* worker_add_socket()'s route_url for a socket from the WebSocket
 * listener (a client, not a route: the value only says where from). */
#define WS_ACCEPT_MARK (-2)

struct ws_server;  /* one per node: s->ws, owned by struct server */
struct ws_conn;    /* one per WebSocket client: c->ws, owned by the client */

/* Main thread, at start: builds the TLS context and the authorization
 * WebSocket clients get, and binds the listener on s->main_base. 0 when
 * the block is absent or the listener is up; else negative (logged). */
int ws_server_start(struct server *s);
/* Main thread: stop accepting (lame duck mode, shutdown). */
void ws_server_stop_listening(struct server *s);
/* Main thread, after the loops have stopped. NULL is fine. */
void ws_server_free(struct ws_server *w);
/* The bound port, for /varz and logs; 0 when off. */
int ws_server_port(const struct ws_server *w);

/* SIGHUP, main thread: the block's TLS and the WebSocket authorization
 * are built from next in prepare (nothing changes on failure: -EINVAL with
 * the reason in err), swapped in by commit (live connections keep theirs),
 * or dropped by abort. */
struct ws_reload {
    struct tls_ctx *tls;
    struct auth *auth;
};
int ws_reload_prepare(const struct ws_server *w, const struct tern_opts *next,
                      struct ws_reload *r, char *err, size_t errlen);
void ws_reload_commit(struct server *s, struct ws_reload *r);
void ws_reload_abort(struct ws_reload *r);

/* ---- one connection; every call on the owning loop unless marked ---- */

/* At accept: makes c a WebSocket client (c->ws), replacing c->auth and
 * c->tls_ctx with the listener's. 0 or -ENOMEM. */
int ws_accept(struct client *c);
/* Frees what ws_accept made, never the client. NULL is fine. */
void ws_conn_free(struct ws_conn *ws);
/* Arms the upgrade's deadline (after the client's events exist). */
int ws_arm(struct client *c);
/* Frees the connection's events (client_close, before the socket goes). */
void ws_free_events(struct ws_conn *ws);

/* n bytes from the peer (after TLS), modified in place. */
void ws_input(struct client *c, uint8_t *data, size_t n);

/* True once the upgrade is answered: output is framed from then on. */
bool ws_is_open(const struct ws_conn *ws);

/* Any loop, under c->write_lock: frame n bytes of protocol onto dst.
 * 0 or -ENOMEM (dst unchanged). */
int ws_frame_output(struct client *c, struct buf *dst, const char *src, size_t n);

/* Under c->write_lock, while closing: the close frame nats-server sends
 * for this close reason (once, and only once the upgrade is done). */
void ws_append_close(struct client *c, struct buf *dst, const char *reason);

#endif
