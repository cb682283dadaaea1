/*
 * server/monitor_url.c — monitoring URLs read as Go reads them (see
 * monitor_url.h). Each function copies one piece of Go's behaviour that
 * nats-server's answers show: net/url's ParseQuery and unescaping,
 * net/http's cleanPath, strconv's ParseBool, Atoi and ParseUint with their
 * error texts, and strconv.Quote for the value inside those texts.
 */
#include "server/monitor_url.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/utf8.h"

/* ---- query ---- */

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* url.QueryUnescape: '+' is a space; '%' must be followed by two hex
 * digits. A new string, or NULL with *bad set (or not, out of memory). */
static char *query_unescape(const char *s, size_t n, size_t *outlen, bool *bad)
{
    char *o = malloc(n + 1);
    size_t k = 0;
    if (!o)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '%') {
            if (i + 2 >= n) {
                free(o);
                *bad = true;
                return NULL;
            }
            int a = hexval((unsigned char)s[i + 1]), b = hexval((unsigned char)s[i + 2]);
            if (a < 0 || b < 0) {
                free(o);
                *bad = true;
                return NULL;
            }
            o[k++] = (char)(a << 4 | b);
            i += 2;
        } else {
            o[k++] = c == '+' ? ' ' : (char)c;
        }
    }
    o[k] = '\0';
    *outlen = k;
    return o;
}

int monitor_url_query_parse(const char *raw, size_t len, struct monitor_url_query *q)
{
    const char *p = raw, *end = raw + len;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *seg_end = amp ? amp : end;
        const char *seg = p;
        size_t slen = (size_t)(seg_end - seg);
        p = amp ? amp + 1 : end;
        /* Go 1.17+ refuses ';' as a separator: the pair is dropped. */
        if (slen == 0 || memchr(seg, ';', slen))
            continue;
        const char *eq = memchr(seg, '=', slen);
        size_t klen_raw = eq ? (size_t)(eq - seg) : slen;
        const char *vraw = eq ? eq + 1 : seg_end;
        size_t vlen_raw = (size_t)(seg_end - vraw);
        bool bad = false;
        struct monitor_url_pair pr;
        pr.key = query_unescape(seg, klen_raw, &pr.klen, &bad);
        if (!pr.key) {
            if (bad)
                continue;
            return -ENOMEM;
        }
        pr.value = query_unescape(vraw, vlen_raw, &pr.vlen, &bad);
        if (!pr.value) {
            free(pr.key);
            if (bad)
                continue;
            return -ENOMEM;
        }
        struct monitor_url_pair *np = realloc(q->pairs, (q->n + 1) * sizeof *np);
        if (!np) {
            free(pr.key);
            free(pr.value);
            return -ENOMEM;
        }
        q->pairs = np;
        q->pairs[q->n++] = pr;
    }
    return 0;
}

void monitor_url_query_free(struct monitor_url_query *q)
{
    for (size_t i = 0; i < q->n; i++) {
        free(q->pairs[i].key);
        free(q->pairs[i].value);
    }
    free(q->pairs);
    q->pairs = NULL;
    q->n = 0;
}

const char *monitor_url_get(const struct monitor_url_query *q, const char *key, size_t *vlen)
{
    size_t klen = strlen(key);
    for (size_t i = 0; i < q->n; i++) {
        if (q->pairs[i].klen == klen && memcmp(q->pairs[i].key, key, klen) == 0) {
            if (vlen)
                *vlen = q->pairs[i].vlen;
            return q->pairs[i].value;
        }
    }
    return NULL;
}

/* ---- strconv ---- */

/* Go's unicode.IsPrint for a rune past ASCII, as far as it can be told
 * without Unicode's tables (see monitor_url.h). */
static bool rune_printable(unsigned long r)
{
    if (r < 0xa1 || r == 0xad)
        return false; /* C1 controls, no-break space, soft hyphen */
    if ((r >= 0x600 && r <= 0x605) || r == 0x61c || r == 0x6dd || r == 0x70f || r == 0x1680 ||
        r == 0x180e || (r >= 0x2000 && r <= 0x200f) || (r >= 0x2028 && r <= 0x202f) ||
        (r >= 0x205f && r <= 0x206f) || r == 0x3000 || (r >= 0xe000 && r <= 0xf8ff) ||
        r == 0xfeff || (r >= 0xfff9 && r <= 0xfffb) || r == 0xfffe || r == 0xffff ||
        (r >= 0xe0000 && r <= 0xe007f) || r >= 0xf0000)
        return false;
    return true;
}

size_t monitor_url_quote(char *out, size_t cap, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    char tmp[32];
    size_t o = 0;
    const unsigned char *p = (const unsigned char *)s;
    if (cap == 0)
        return 0;
#define PUT(str, n)                                                           \
    do {                                                                      \
        if (o + (n) >= cap)                                                   \
            goto full;                                                        \
        memcpy(out + o, (str), (n));                                          \
        o += (n);                                                             \
    } while (0)
    PUT("\"", 1);
    for (size_t i = 0; i < len;) {
        unsigned char c = p[i];
        unsigned long r = c;
        size_t w = 1;
        if (c >= 0x80 && !(w = utf8_decode(p + i, len - i, &r))) {
            tmp[0] = '\\', tmp[1] = 'x', tmp[2] = hex[c >> 4], tmp[3] = hex[c & 15];
            PUT(tmp, 4);
            i++;
            continue;
        }
        if (c == '"' || c == '\\') {
            tmp[0] = '\\', tmp[1] = (char)c;
            PUT(tmp, 2);
        } else if (c >= 0x20 && c < 0x7f) {
            PUT(&p[i], 1);
        } else if (c >= 0x80 && rune_printable(r)) {
            PUT(&p[i], w);
        } else if (r < 0x80 && strchr("\a\b\f\n\r\t\v", (int)r) && r) {
            static const char from[] = "\a\b\f\n\r\t\v", to[] = "abfnrtv";
            tmp[0] = '\\', tmp[1] = to[strchr(from, (int)r) - from];
            PUT(tmp, 2);
        } else if (r < 0x20 || r == 0x7f) {
            tmp[0] = '\\', tmp[1] = 'x', tmp[2] = hex[r >> 4], tmp[3] = hex[r & 15];
            PUT(tmp, 4);
        } else if (r < 0x10000) {
            snprintf(tmp, sizeof tmp, "\\u%04lx", r);
            PUT(tmp, 6);
        } else {
            snprintf(tmp, sizeof tmp, "\\U%08lx", r);
            PUT(tmp, 10);
        }
        i += w;
    }
    PUT("\"", 1);
#undef PUT
full:
    out[o] = '\0';
    return o;
}

/* strconv's NumError text: strconv.<fn>: parsing "<s>": <why>. */
static int num_error(char *err, size_t cap, const char *kind, const char *key, const char *fn,
                     const char *v, size_t vlen, const char *why)
{
    char quoted[512];
    monitor_url_quote(quoted, sizeof quoted, v, vlen);
    snprintf(err, cap, "Error decoding %s for '%s': strconv.%s: parsing %s: %s", kind, key, fn,
             quoted, why);
    return -EINVAL;
}

int monitor_url_bool(const struct monitor_url_query *q, const char *key, bool *out, char *err,
                     size_t cap)
{
    static const char *const yes[] = { "1", "t", "T", "TRUE", "true", "True" };
    static const char *const no[] = { "0", "f", "F", "FALSE", "false", "False" };
    size_t n;
    const char *v = monitor_url_get(q, key, &n);
    if (!v || n == 0)
        return 0;
    for (size_t i = 0; i < 6; i++) {
        if (n == strlen(yes[i]) && memcmp(v, yes[i], n) == 0) {
            *out = true;
            return 0;
        }
        if (n == strlen(no[i]) && memcmp(v, no[i], n) == 0) {
            *out = false;
            return 0;
        }
    }
    return num_error(err, cap, "boolean", key, "ParseBool", v, n, "invalid syntax");
}

/* strconv.ParseUint(s, 10, 64)'s loop: 0, -EINVAL (syntax) or -ERANGE,
 * which it reports at the first digit that overflows, before looking at
 * what follows. */
static int parse_u64(const char *s, size_t n, uint64_t *out)
{
    uint64_t v = 0;
    if (n == 0)
        return -EINVAL;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -EINVAL;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -ERANGE;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

int monitor_url_int(const struct monitor_url_query *q, const char *key, int64_t *out, char *err,
                    size_t cap)
{
    size_t n;
    const char *v = monitor_url_get(q, key, &n);
    if (!v || n == 0)
        return 0;
    bool neg = v[0] == '-';
    size_t skip = (v[0] == '-' || v[0] == '+') ? 1 : 0;
    uint64_t u = 0;
    int rc = parse_u64(v + skip, n - skip, &u);
    if (rc == 0 && u > (neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX))
        rc = -ERANGE;
    if (rc < 0)
        return num_error(err, cap, "int", key, "Atoi", v, n,
                         rc == -ERANGE ? "value out of range" : "invalid syntax");
    *out = neg ? (int64_t)(0 - u) : (int64_t)u;
    return 0;
}

int monitor_url_uint64(const struct monitor_url_query *q, const char *key, uint64_t *out,
                       char *err, size_t cap)
{
    size_t n;
    const char *v = monitor_url_get(q, key, &n);
    if (!v || n == 0)
        return 0;
    int rc = parse_u64(v, n, out);
    if (rc < 0)
        return num_error(err, cap, "uint64", key, "ParseUint", v, n,
                         rc == -ERANGE ? "value out of range" : "invalid syntax");
    return 0;
}

/* ---- path ---- */

long monitor_url_unescape_path(const char *raw, size_t len, char *out)
{
    size_t k = 0;
    for (size_t i = 0; i < len; i++) {
        if (raw[i] != '%') {
            out[k++] = raw[i];
            continue;
        }
        if (i + 2 >= len)
            return -EINVAL;
        int a = hexval((unsigned char)raw[i + 1]), b = hexval((unsigned char)raw[i + 2]);
        if (a < 0 || b < 0)
            return -EINVAL;
        out[k++] = (char)(a << 4 | b);
        i += 2;
    }
    out[k] = '\0';
    return (long)k;
}

size_t monitor_url_clean_path(const char *p, size_t len, char *out)
{
    /* Rooted: a leading '/' is added when missing, as cleanPath does. */
    size_t r = 0, w = 1, dotdot = 1;
    bool trailing = len > 0 && p[len - 1] == '/';
    out[0] = '/';
    if (len > 0 && p[0] == '/')
        r = 1;
    while (r < len) {
        if (p[r] == '/') {
            r++;
        } else if (p[r] == '.' && (r + 1 == len || p[r + 1] == '/')) {
            r++;
        } else if (p[r] == '.' && p[r + 1] == '.' && (r + 2 == len || p[r + 2] == '/')) {
            r += 2;
            if (w > dotdot) {
                w--;
                while (w > dotdot && out[w] != '/')
                    w--;
            }
        } else {
            if (w != 1)
                out[w++] = '/';
            while (r < len && p[r] != '/')
                out[w++] = p[r++];
        }
    }
    if (trailing && w != 1)
        out[w++] = '/';
    out[w] = '\0';
    return w;
}

size_t monitor_url_escape_path(const char *p, size_t len, char *out)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)p[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            (c != 0 && strchr("-_.~$&+,/:;=@", c) != NULL)) {
            out[o++] = (char)c;
            continue;
        }
        out[o++] = '%';
        out[o++] = hex[c >> 4];
        out[o++] = hex[c & 15];
    }
    out[o] = '\0';
    return o;
}
