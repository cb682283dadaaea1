/*
 * server/jetstream/jtext.h — JSON reply text assembled piece by piece.
 *
 * The JetStream API answers with JSON whose field order must be
 * nats-server's, so replies are written as text rather than built as
 * jansson trees. A jtext appends into a growable buffer (server/buf.h) and
 * remembers the first allocation failure, so a builder checks once, when it
 * takes the text, instead of after every piece. One owner; not thread-safe.
 */
#ifndef TERN_SERVER_JTEXT_H
#define TERN_SERVER_JTEXT_H

#include <stdbool.h>
#include <stddef.h>

#include "server/buf.h"

/* Zero it to start empty. Owns its buffer until jtext_take or jtext_free. */
struct jtext {
    struct buf b;
    bool failed;
};

void jtext_add(struct jtext *t, const char *s, size_t n);
void jtext_str(struct jtext *t, const char *s);
void jtext_printf(struct jtext *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* s as a JSON string literal, quotes and escapes included. */
void jtext_quoted(struct jtext *t, const char *s, size_t n);
/* Standard base64 of n bytes (the encoding of "hdrs" and "data"). */
void jtext_base64(struct jtext *t, const void *p, size_t n);
/* The NUL-terminated text, now the caller's to free; NULL when any append
 * failed (the buffer is released either way). */
char *jtext_take(struct jtext *t);
void jtext_free(struct jtext *t);

#endif
