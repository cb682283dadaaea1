/*
 * server/jetstream/jtext.c — JSON reply text (see jtext.h).
 *
 * printf-style pieces are formatted straight into the buffer's free space,
 * once more after growing it when they did not fit; quoting escapes what
 * JSON requires and passes every other byte through.
 */
#include "server/jetstream/jtext.h"

#include <errno.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool room(struct jtext *t, size_t n)
{
    if (t->failed)
        return false;
    if (t->b.cap - t->b.len < n && buf_reserve(&t->b, n) < 0) {
        t->failed = true;
        return false;
    }
    return true;
}

void jtext_add(struct jtext *t, const char *s, size_t n)
{
    if (n && room(t, n)) {
        memcpy(t->b.data + t->b.len, s, n);
        t->b.len += n;
    }
}

void jtext_str(struct jtext *t, const char *s)
{
    jtext_add(t, s, strlen(s));
}

void jtext_printf(struct jtext *t, const char *fmt, ...)
{
    if (!room(t, 64))
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(t->b.data + t->b.len, t->b.cap - t->b.len, fmt, ap);
    va_end(ap);
    if (n < 0) {
        t->failed = true;
        return;
    }
    if ((size_t)n >= t->b.cap - t->b.len) {
        if (!room(t, (size_t)n + 1))
            return;
        va_start(ap, fmt);
        vsnprintf(t->b.data + t->b.len, t->b.cap - t->b.len, fmt, ap);
        va_end(ap);
    }
    t->b.len += (size_t)n;
}

void jtext_quoted(struct jtext *t, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    jtext_add(t, "\"", 1);
    size_t run = 0; /* bytes passed through since the last escape */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c != '"' && c != '\\' && c >= 0x20)
            continue;
        jtext_add(t, s + run, i - run);
        run = i + 1;
        char esc[6] = { '\\', (char)c, 0 };
        size_t elen = 2;
        if (c < 0x20) {
            memcpy(esc, "\\u00", 4);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            elen = 6;
        }
        jtext_add(t, esc, elen);
    }
    jtext_add(t, s + run, n - run);
    jtext_add(t, "\"", 1);
}

void jtext_base64(struct jtext *t, const void *p, size_t n)
{
    size_t cap = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
    if (!room(t, cap))
        return;
    sodium_bin2base64(t->b.data + t->b.len, cap, p, n, sodium_base64_VARIANT_ORIGINAL);
    t->b.len += cap - 1; /* without the NUL */
}

char *jtext_take(struct jtext *t)
{
    jtext_add(t, "", 1);
    if (t->failed) {
        jtext_free(t);
        return NULL;
    }
    char *s = t->b.data;
    memset(t, 0, sizeof *t);
    return s;
}

void jtext_free(struct jtext *t)
{
    free(t->b.data);
    memset(t, 0, sizeof *t);
}
