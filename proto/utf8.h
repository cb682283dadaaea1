/*
 * proto/utf8.h — the one UTF-8 decoder every text codec uses (CONNECT's
 * JSON, WebSocket close reasons, Prometheus labels, JSON log lines).
 *
 * Go's rules (utf8.DecodeRune), which nats-server applies: no overlong
 * forms, no surrogates, nothing past U+10FFFF. Pure; no allocation.
 */
#ifndef TERN_PROTO_UTF8_H
#define TERN_PROTO_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* Length (1-4) of the valid sequence at p, which has avail > 0 bytes; 0
 * when it is not one (the byte then stands for U+FFFD on its own). */
size_t utf8_seq_len(const unsigned char *p, size_t avail);
/* The same, and the code point it encodes into *rune. */
size_t utf8_decode(const unsigned char *p, size_t avail, unsigned long *rune);
/* Whether all len bytes are valid UTF-8. */
bool utf8_valid(const unsigned char *p, size_t len);

#endif
