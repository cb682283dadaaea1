/*
 * server/buf.h — a growable byte buffer with a read offset.
 *
 * Used for outbound data: producers append at the end, the socket writer
 * consumes from the front. Not thread-safe; whoever embeds one says what
 * guards it. The buffer owns its storage; buf_free releases it.
 */
#ifndef TERN_SERVER_BUF_H
#define TERN_SERVER_BUF_H

#include <stddef.h>
#include <string.h>

struct buf {
    char *data;   /* owned */
    size_t off;   /* first unconsumed byte */
    size_t len;   /* end of valid bytes */
    size_t cap;
};

static inline size_t buf_pending(const struct buf *b) { return b->len - b->off; }

/* Make room for n more bytes. 0 or -ENOMEM. */
int buf_reserve(struct buf *b, size_t n);

static inline int buf_append(struct buf *b, const void *p, size_t n)
{
    if (b->cap - b->len < n) {
        int rc = buf_reserve(b, n);
        if (rc < 0)
            return rc;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

/* Drop n bytes from the front; resets to empty when all are consumed. */
void buf_consume(struct buf *b, size_t n);
/* Release the storage; shrink back when a burst made the buffer large. */
void buf_free(struct buf *b);
void buf_shrink(struct buf *b, size_t keep_cap);

#endif
