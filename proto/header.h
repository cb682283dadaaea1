/*
 * proto/header.h — reading a NATS header block.
 *
 * A header block is what HPUB/HMSG carry before the payload: a status line
 * "NATS/1.0[ code[ text]]\r\n", then "Name: value\r\n" lines, then "\r\n"
 * (spec/client-protocol.md: HPUB). Pure functions over a byte range (not
 * NUL-terminated); nothing is copied or allocated.
 */
#ifndef TERN_PROTO_HEADER_H
#define TERN_PROTO_HEADER_H

#include <stddef.h>

/*
 * The value of the first header line whose name is exactly `name` (a NUL-
 * terminated string), as nats-server 2.9 reads it for Nats-Msg-Id and the
 * Nats-Expected-* checks: names compare byte for byte (case matters), the
 * name is followed directly by ':', leading spaces of the value are dropped
 * and everything else up to the line's end is kept (tabs, trailing spaces).
 * Lines end at '\n', a '\r' just before it is not part of the value. The
 * status line is never read as a header. Returns a pointer into hdr and sets
 * *vlen, or NULL when hdr has no such header.
 */
const char *header_get(const char *hdr, size_t hlen, const char *name, size_t *vlen);

#endif
