/*
 * server/client_impl.h — what client.c and client_tls.c share (private to
 * them; the contract is client.h).
 */
#ifndef TERN_SERVER_CLIENT_IMPL_H
#define TERN_SERVER_CLIENT_IMPL_H

#include <event2/util.h>
#include <stddef.h>

struct client;

/* client.c: parse n bytes the socket (or the TLS session) put in the
 * loop's read buffer; arm the auth timeout. */
void client__parse_input(struct client *c, size_t n);
void client__arm_auth_timer(struct client *c);

/* client_tls.c: the socket moved (readable, or writable when the session
 * asked): push the handshake on, or read. Never waits. The handshake's
 * timer callback. */
void client__tls_progress(struct client *c);
void client__on_tls_timeout(evutil_socket_t fd, short what, void *arg);

#endif
