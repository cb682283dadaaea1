/*
 * server/info.h — the INFO line a client receives on connect.
 *
 * Field order, framing ("INFO {json} \r\n", note the space before CRLF)
 * and omitempty rules follow nats-server (spec/client-protocol.md §3).
 */
#ifndef TERN_SERVER_INFO_H
#define TERN_SERVER_INFO_H

#include <stdbool.h>
#include <stddef.h>

struct server;
struct client;

/* Write the full INFO line for c into out; returns its length (0 if it
 * did not fit in cap). ldm adds "ldm":true (lame duck mode, §2.3). */
size_t info_build_client(struct server *s, struct client *c, char *out, size_t cap, bool ldm);

/* Append a JSON string literal (with quotes) for s; returns bytes written,
 * or 0 if it did not fit. */
size_t info_json_string(char *out, size_t cap, const char *s);

#endif
