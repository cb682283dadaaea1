/*
 * server/client_ops.h — what a client connection does with each protocol
 * verb: CONNECT, PUB/HPUB, SUB, UNSUB, PING, PONG, INFO.
 *
 * The handlers run on the connection's loop inside proto_parse; the
 * context pointer is the struct client. Behaviour and error strings follow
 * spec/client-protocol.md §4-§9 and §14.
 */
#ifndef TERN_SERVER_CLIENT_OPS_H
#define TERN_SERVER_CLIENT_OPS_H

#include "proto/parser.h"

extern const struct proto_handlers client_proto_handlers;

/* Quote a subject the way nats-server's errors do (Go's %q): wrap in double
 * quotes, escape '"', '\\' and non-printable bytes. Returns the length
 * written (always NUL-terminated, truncated to cap). */
size_t client_quote(char *out, size_t cap, const char *s, size_t len);

#endif
