/*
 * server/buf.c — growable byte buffer (see buf.h).
 *
 * Growth doubles, and compacts away consumed bytes first, so appending is
 * amortised O(1) and a buffer that is drained as fast as it fills never
 * grows past its working size.
 */
#include "server/buf.h"

#include <errno.h>
#include <stdlib.h>

int buf_reserve(struct buf *b, size_t n)
{
    if (b->off > 0 && b->off == b->len) {
        b->off = b->len = 0;
    }
    if (b->cap - b->len >= n)
        return 0;
    if (b->off > 0 && b->cap - (b->len - b->off) >= n) {
        memmove(b->data, b->data + b->off, b->len - b->off);
        b->len -= b->off;
        b->off = 0;
        return 0;
    }
    size_t need = b->len - b->off + n;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < need)
        cap *= 2;
    char *nd = malloc(cap);
    if (!nd)
        return -ENOMEM;
    if (b->len > b->off)
        memcpy(nd, b->data + b->off, b->len - b->off);
    free(b->data);
    b->data = nd;
    b->len -= b->off;
    b->off = 0;
    b->cap = cap;
    return 0;
}

void buf_consume(struct buf *b, size_t n)
{
    b->off += n;
    if (b->off >= b->len)
        b->off = b->len = 0;
}

void buf_shrink(struct buf *b, size_t keep_cap)
{
    if (b->off == b->len && b->cap > keep_cap) {
        free(b->data);
        b->data = NULL;
        b->off = b->len = b->cap = 0;
    }
}

void buf_free(struct buf *b)
{
    free(b->data);
    b->data = NULL;
    b->off = b->len = b->cap = 0;
}
