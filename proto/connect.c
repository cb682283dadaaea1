/*
 * proto/connect.c — CONNECT's JSON decoded with Go's rules (see connect.h).
 *
 * A scanner of its own rather than jansson, because the two disagree with
 * Go exactly where a hostile client probes: jansson refuses integers past
 * 64 bits, invalid UTF-8, lone surrogates and \u0000 anywhere in the text,
 * which Go accepts in fields it skips or keeps; and it cannot tell 1 from
 * 1.0 without losing precision. The known fields are decoded by their
 * type; every other value is only validated, iteratively, with one bit of
 * nesting state per level (Go's limit of 10000 levels: 1250 bytes).
 */
#include "proto/connect.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "proto/utf8.h"

enum ftype { F_BOOL, F_STR, F_INT, F_PERM };

struct field {
    const char *name;
    enum ftype type;
    size_t off;                /* offset of the value in struct connect_opts */
    size_t key_off;            /* offset of a "key appeared" flag, or 0 */
};

#define OFF(m) offsetof(struct connect_opts, m)

/* nats-server 2.9's ClientOpts. import/export are for routes and leaf
 * nodes; a client's are type-checked and dropped, as nats-server ignores
 * them for clients. */
static const struct field fields[] = {
    { "echo", F_BOOL, OFF(echo), 0 },
    { "verbose", F_BOOL, OFF(verbose), 0 },
    { "pedantic", F_BOOL, OFF(pedantic), 0 },
    { "tls_required", F_BOOL, OFF(tls_required), 0 },
    { "nkey", F_STR, OFF(nkey), 0 },
    { "jwt", F_STR, OFF(jwt), 0 },
    { "sig", F_STR, OFF(sig), 0 },
    { "auth_token", F_STR, OFF(auth_token), 0 },
    { "user", F_STR, OFF(user), 0 },
    { "pass", F_STR, OFF(pass), 0 },
    { "name", F_STR, OFF(name), 0 },
    { "lang", F_STR, OFF(lang), 0 },
    { "version", F_STR, OFF(version), 0 },
    { "protocol", F_INT, OFF(protocol), 0 },
    { "account", F_STR, OFF(account), OFF(account_key) },
    { "new_account", F_BOOL, OFF(new_account), OFF(new_account_key) },
    { "headers", F_BOOL, OFF(headers), 0 },
    { "no_responders", F_BOOL, OFF(no_responders), 0 },
    { "import", F_PERM, 0, 0 },
    { "export", F_PERM, 0, 0 },
};

struct cur {
    const char *p, *end;
};

static void ws(struct cur *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\r' || *c->p == '\n'))
        c->p++;
}

static bool eat(struct cur *c, char ch)
{
    if (c->p < c->end && *c->p == ch) {
        c->p++;
        return true;
    }
    return false;
}

static bool literal(struct cur *c, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(c->end - c->p) < n || memcmp(c->p, word, n) != 0)
        return false;
    c->p += n;
    return true;
}

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* The four hex digits at p (which has at least 4 bytes), or -1. */
static long hex4(const char *p)
{
    long v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hexval(p[i]);
        if (h < 0)
            return -1;
        v = v << 4 | h;
    }
    return v;
}

/* The string at c->p (its opening quote): moves past the closing quote
 * and returns the raw bytes between the quotes, or false when Go's scanner
 * refuses it (a control byte, a bad escape, no end). */
static bool scan_string(struct cur *c, const char **raw, size_t *rawlen)
{
    if (!eat(c, '"'))
        return false;
    const char *start = c->p;
    while (c->p < c->end) {
        unsigned char ch = (unsigned char)*c->p;
        if (ch == '"') {
            *raw = start;
            *rawlen = (size_t)(c->p - start);
            c->p++;
            return true;
        }
        if (ch < 0x20)
            return false;
        if (ch == '\\') {
            if (c->end - c->p < 2)
                return false;
            char e = c->p[1];
            if (e == 'u') {
                if (c->end - c->p < 6 || hex4(c->p + 2) < 0)
                    return false;
                c->p += 6;
                continue;
            }
            if (!strchr("\"\\/bfnrt", e) || e == '\0')
                return false;
            c->p += 2;
            continue;
        }
        c->p++;
    }
    return false;
}

static size_t put_rune(char *out, unsigned long r)
{
    if (r < 0x80) {
        out[0] = (char)r;
        return 1;
    }
    if (r < 0x800) {
        out[0] = (char)(0xc0 | r >> 6);
        out[1] = (char)(0x80 | (r & 0x3f));
        return 2;
    }
    if (r < 0x10000) {
        out[0] = (char)(0xe0 | r >> 12);
        out[1] = (char)(0x80 | (r >> 6 & 0x3f));
        out[2] = (char)(0x80 | (r & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | r >> 18);
    out[1] = (char)(0x80 | (r >> 12 & 0x3f));
    out[2] = (char)(0x80 | (r >> 6 & 0x3f));
    out[3] = (char)(0x80 | (r & 0x3f));
    return 4;
}

/* Decode raw string bytes (already scanned) into out, which holds at
 * least 3 * rawlen + 1 bytes: each raw byte grows to at most 3 (an invalid
 * one becomes U+FFFD), an escape never grows. Returns the length. */
static size_t decode_string(const char *raw, size_t rawlen, char *out)
{
    const unsigned char *p = (const unsigned char *)raw, *end = p + rawlen;
    size_t o = 0;
    while (p < end) {
        if (*p == '\\') {
            char e = (char)p[1];
            if (e != 'u') {
                static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
                out[o++] = to[strchr(from, e) - from];
                p += 2;
                continue;
            }
            unsigned long r = (unsigned long)hex4((const char *)p + 2);
            p += 6;
            if (r >= 0xd800 && r < 0xe000) {
                /* A high surrogate followed by a low one is one rune;
                 * anything else is U+FFFD, and what follows stands alone. */
                long r2 = end - p >= 6 && p[0] == '\\' && p[1] == 'u' ? hex4((const char *)p + 2) : -1;
                if (r < 0xdc00 && r2 >= 0xdc00 && r2 < 0xe000) {
                    r = 0x10000 + ((r - 0xd800) << 10) + ((unsigned long)r2 - 0xdc00);
                    p += 6;
                } else {
                    r = 0xfffd;
                }
            }
            o += put_rune(out + o, r);
            continue;
        }
        size_t n = utf8_seq_len(p, (size_t)(end - p));
        if (n == 0) {
            o += put_rune(out + o, 0xfffd);
            p++;
            continue;
        }
        memcpy(out + o, p, n);
        o += n;
        p += n;
    }
    out[o] = '\0';
    return o;
}

/* Go's number grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?.
 * *integral: no fraction and no exponent. */
static bool scan_number(struct cur *c, bool *integral)
{
    const char *p = c->p, *e = c->end;
    *integral = true;
    if (p < e && *p == '-')
        p++;
    if (p < e && *p == '0') {
        p++;
    } else if (p < e && *p >= '1' && *p <= '9') {
        while (p < e && *p >= '0' && *p <= '9')
            p++;
    } else {
        return false;
    }
    if (p < e && *p == '.') {
        *integral = false;
        if (++p >= e || *p < '0' || *p > '9')
            return false;
        while (p < e && *p >= '0' && *p <= '9')
            p++;
    }
    if (p < e && (*p == 'e' || *p == 'E')) {
        *integral = false;
        p++;
        if (p < e && (*p == '+' || *p == '-'))
            p++;
        if (p >= e || *p < '0' || *p > '9')
            return false;
        while (p < e && *p >= '0' && *p <= '9')
            p++;
    }
    c->p = p;
    return true;
}

/* Skip one value of any kind, validating it; depth is the number of
 * containers already open around it. Iterative: bit i of kinds says
 * whether open container i is an object. */
static bool skip_value(struct cur *c, int depth)
{
    unsigned char kinds[CONNECT_MAX_DEPTH / 8 + 1];
    int top = 0; /* containers opened here */
    const char *raw;
    size_t rawlen;
    bool integral;

value:
    ws(c);
    if (c->p >= c->end)
        return false;
    switch (*c->p) {
    case '{':
    case '[': {
        bool obj = *c->p == '{';
        c->p++;
        if (depth + top + 1 > CONNECT_MAX_DEPTH)
            return false;
        if (obj)
            kinds[top / 8] |= (unsigned char)(1u << (top % 8));
        else
            kinds[top / 8] &= (unsigned char)~(1u << (top % 8));
        top++;
        ws(c);
        if (eat(c, obj ? '}' : ']')) {
            top--;
            goto after;
        }
        if (!obj)
            goto value;
        if (!scan_string(c, &raw, &rawlen))
            return false;
        ws(c);
        if (!eat(c, ':'))
            return false;
        goto value;
    }
    case '"':
        if (!scan_string(c, &raw, &rawlen))
            return false;
        break;
    case 't':
        if (!literal(c, "true"))
            return false;
        break;
    case 'f':
        if (!literal(c, "false"))
            return false;
        break;
    case 'n':
        if (!literal(c, "null"))
            return false;
        break;
    default:
        if (!scan_number(c, &integral))
            return false;
        break;
    }
after:
    if (top == 0)
        return true;
    ws(c);
    bool obj = kinds[(top - 1) / 8] >> ((top - 1) % 8) & 1;
    if (eat(c, ',')) {
        if (!obj)
            goto value;
        ws(c);
        if (!scan_string(c, &raw, &rawlen))
            return false;
        ws(c);
        if (!eat(c, ':'))
            return false;
        goto value;
    }
    if (!eat(c, obj ? '}' : ']'))
        return false;
    top--;
    goto after;
}

/* Go's case-insensitive key match (encoding/json's equalFoldRight): ASCII
 * letters in either case, and U+017F (long s) for 's', U+212A (Kelvin)
 * for 'k'. name is lower case ASCII. */
static bool key_matches(const char *name, const char *key, size_t klen)
{
    size_t j = 0;
    for (const char *s = name; *s; s++) {
        if (j >= klen)
            return false;
        unsigned char t = (unsigned char)key[j];
        if (t < 0x80) {
            if ((t >= 'A' && t <= 'Z' ? t + 32 : t) != (unsigned char)*s)
                return false;
            j++;
        } else if (*s == 's' && klen - j >= 2 && memcmp(key + j, "\xc5\xbf", 2) == 0) {
            j += 2;
        } else if (*s == 'k' && klen - j >= 3 && memcmp(key + j, "\xe2\x84\xaa", 3) == 0) {
            j += 3;
        } else {
            return false;
        }
    }
    return j == klen;
}

/* The field a raw key names, or NULL. The longest name, 13 characters,
 * takes at most 78 raw bytes (each one a \u escape); longer keys name
 * nothing. */
static const struct field *find_field(const char *raw, size_t rawlen)
{
    char key[3 * 128 + 1];
    if (rawlen > 128)
        return NULL;
    size_t klen = decode_string(raw, rawlen, key);
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        if (key_matches(fields[i].name, key, klen))
            return &fields[i];
    return NULL;
}

/* import/export: null, or an object whose "allow" and "deny" are null or
 * arrays of strings (or nulls); other keys skipped. */
static bool check_perm(struct cur *c)
{
    const char *raw;
    size_t rawlen;
    if (literal(c, "null"))
        return true;
    if (!eat(c, '{'))
        return false;
    ws(c);
    if (eat(c, '}'))
        return true;
    for (;;) {
        ws(c);
        if (!scan_string(c, &raw, &rawlen))
            return false;
        char key[3 * 32 + 1];
        bool list = false;
        if (rawlen <= 32) {
            size_t klen = decode_string(raw, rawlen, key);
            list = key_matches("allow", key, klen) || key_matches("deny", key, klen);
        }
        ws(c);
        if (!eat(c, ':'))
            return false;
        ws(c);
        if (!list) {
            if (!skip_value(c, 2))
                return false;
        } else if (!literal(c, "null")) {
            if (!eat(c, '['))
                return false;
            ws(c);
            if (!eat(c, ']')) {
                do {
                    ws(c);
                    if (!literal(c, "null") && !scan_string(c, &raw, &rawlen))
                        return false;
                    ws(c);
                } while (eat(c, ','));
                if (!eat(c, ']'))
                    return false;
            }
        }
        ws(c);
        if (eat(c, '}'))
            return true;
        if (!eat(c, ','))
            return false;
    }
}

/* Go's strconv.ParseInt(s, 10, 64) of a scanned integral number. */
static bool parse_int64(const char *s, size_t n, int64_t *out)
{
    bool neg = n && s[0] == '-';
    uint64_t v = 0, limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (size_t i = neg; i < n; i++) {
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (limit - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return true;
}

static bool set_field(struct cur *c, const struct field *f, struct connect_opts *o)
{
    char *base = (char *)o;
    if (f->key_off)
        *(bool *)(base + f->key_off) = true;
    if (f->type == F_PERM)
        return check_perm(c);
    if (literal(c, "null"))
        return true; /* Go leaves the field as it was */
    switch (f->type) {
    case F_BOOL:
        if (literal(c, "true"))
            *(bool *)(base + f->off) = true;
        else if (literal(c, "false"))
            *(bool *)(base + f->off) = false;
        else
            return false;
        return true;
    case F_STR: {
        const char *raw;
        size_t rawlen;
        if (c->p >= c->end || *c->p != '"' || !scan_string(c, &raw, &rawlen))
            return false;
        struct connect_str *dst = (struct connect_str *)(base + f->off);
        char *s = malloc(3 * rawlen + 1);
        if (!s)
            return false;
        free(dst->s);
        dst->len = decode_string(raw, rawlen, s);
        dst->s = s;
        return true;
    }
    case F_INT: {
        const char *start = c->p;
        bool integral;
        int64_t v;
        if (!scan_number(c, &integral) || !integral ||
            !parse_int64(start, (size_t)(c->p - start), &v))
            return false;
        *(int64_t *)(base + f->off) = v;
        return true;
    }
    default:
        return false;
    }
}

int connect_decode(const char *js, size_t len, struct connect_opts *o)
{
    struct cur c = { js, js + len };
    const char *raw;
    size_t rawlen;

    o->bad_field = NULL;
    ws(&c);
    if (literal(&c, "null"))
        goto end;
    if (!eat(&c, '{'))
        return -EPROTO; /* an array, a string...: not a struct */
    ws(&c);
    if (eat(&c, '}'))
        goto end;
    for (;;) {
        ws(&c);
        if (!scan_string(&c, &raw, &rawlen))
            return -EPROTO;
        const struct field *f = find_field(raw, rawlen);
        ws(&c);
        if (!eat(&c, ':'))
            return -EPROTO;
        ws(&c);
        if (f) {
            const char *at = c.p;
            if (!set_field(&c, f, o)) {
                /* A value of the wrong type, or bad JSON in it: which,
                 * only the log cares, so look again. */
                struct cur again = { at, c.end };
                if (skip_value(&again, 1))
                    o->bad_field = f->name;
                return -EPROTO;
            }
        } else if (!skip_value(&c, 1)) {
            return -EPROTO;
        }
        ws(&c);
        if (eat(&c, '}'))
            break;
        if (!eat(&c, ','))
            return -EPROTO;
    }
end:
    ws(&c);
    return c.p == c.end ? 0 : -EPROTO;
}

void connect_opts_free(struct connect_opts *o)
{
    struct connect_str *all[] = { &o->user, &o->pass, &o->auth_token, &o->nkey, &o->sig,
                                  &o->jwt, &o->name, &o->lang, &o->version, &o->account };
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        free(all[i]->s);
        all[i]->s = NULL;
        all[i]->len = 0;
    }
}
