/*
 * proto/submap.c — subject mappings (contract in submap.h).
 *
 * Compiling reads each destination token once into a small table (copy
 * it, take source token k, or run one of the cutting functions on source
 * token k), the way nats-server's newTransform indexes its placeholders;
 * applying walks that table over the subject's tokens. The function
 * syntax is Go regular expressions there ("{{\s*[wW]ildcard\s*\((.*)\)\s*}}",
 * arguments split on ",\s*"); it is parsed by hand here with the same
 * outcome for every token a subject can hold, and numbers are read as
 * strconv.Atoi reads them. nats-server's quirks are kept on purpose, since
 * a republish destination must come out byte for byte as it makes it: an
 * index of 0 or below names the subject's first token (a Go map miss),
 * and a function's number is cut to 32 bits.
 */
#include "proto/submap.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/subject.h"

/* Arguments one function may take; nats-server has no bound, but a
 * partition over more than 31 tokens is not a real configuration. */
#define MAX_ARGS 32

enum fn {
    FN_TEXT = 0,      /* copy the token */
    FN_FWC,           /* the trailing '>': the rest of the subject */
    FN_WILDCARD,      /* $N, {{wildcard(N)}} */
    FN_PARTITION,     /* {{partition(n, N...)}} */
    FN_SPLIT_LEFT,    /* {{splitFromLeft(N, pos)}} */
    FN_SPLIT_RIGHT,   /* {{splitFromRight(N, pos)}} */
    FN_SLICE_LEFT,    /* {{sliceFromLeft(N, size)}} */
    FN_SLICE_RIGHT,   /* {{sliceFromRight(N, size)}} */
    FN_SPLIT,         /* {{split(N, delimiter)}} */
};

/* One destination token. text points into the map's dest copy. */
struct dtok {
    enum fn fn;
    const char *text;       /* FN_TEXT: the token; FN_SPLIT: the delimiter */
    size_t len;
    int32_t n;              /* partition buckets; split position; slice size */
    size_t nsrc;
    size_t src[MAX_ARGS];   /* positions of the source tokens it reads */
};

/* Owned by the caller of submap_compile. */
struct submap {
    char *src, *dest;       /* owned copies */
    bool identity;          /* ">" -> ">": every subject maps to itself */
    bool match_all;         /* src is ">" */
    size_t nstoks;          /* tokens in src */
    struct dtok *d;         /* owned; NULL with a literal src (dest as is) */
    size_t nd;
};

/* ---- reading the templates ---- */

/* subjectInfo: valid (no empty token, nothing after '>'), the '*' count,
 * and whether it ends in '>'. */
static bool subj_info(const char *s, int *npwc, bool *fwc, size_t *ntoks)
{
    *npwc = 0;
    *fwc = false;
    *ntoks = 0;
    if (!*s)
        return false;
    for (const char *t = s;;) {
        const char *dot = strchr(t, '.');
        size_t n = dot ? (size_t)(dot - t) : strlen(t);
        if (n == 0 || *fwc)
            return false;
        ++*ntoks;
        if (n == 1 && *t == '>')
            *fwc = true;
        if (n == 1 && *t == '*')
            ++*npwc;
        if (!dot)
            return true;
        t = dot + 1;
    }
}

/* strconv.Atoi: an optional sign, then decimal digits, within int64. */
static bool go_atoi(const char *s, size_t n, long long *v)
{
    bool neg = false;
    unsigned long long x = 0;
    if (n && (*s == '+' || *s == '-')) {
        neg = *s == '-';
        s++, n--;
    }
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        if (x > (ULLONG_MAX - 9) / 10)
            return false;
        x = x * 10 + (unsigned)(s[i] - '0');
    }
    if (x > (neg ? (unsigned long long)LLONG_MAX + 1 : (unsigned long long)LLONG_MAX))
        return false;
    *v = neg ? (long long)(0 - x) : (long long)x;
    return true;
}

/* strings.Trim(s, " ") then strconv.Atoi. */
static bool atoi_trim(const char *s, size_t n, long long *v)
{
    while (n && *s == ' ')
        s++, n--;
    while (n && s[n - 1] == ' ')
        n--;
    return go_atoi(s, n, v);
}

static bool go_space(char c) /* Go regexp's \s */
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r';
}

/* name matches pat, where an upper-case letter in pat takes either case
 * (Go's [wW]ildcard, [sS]plit[fF]rom[lL]eft...). */
static bool fn_is(const char *name, size_t n, const char *pat)
{
    if (strlen(pat) != n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (name[i] != pat[i] && !(pat[i] >= 'A' && pat[i] <= 'Z' && name[i] == pat[i] + 32))
            return false;
    return true;
}

/* The index arguments are ints; the number one is int32(n) in Go. */
static int32_t go_int32(long long v)
{
    return (int32_t)(uint32_t)(unsigned long long)v;
}

/* indexPlaceHolders for one destination token: 0 plain text, 1 a
 * function (d filled, d->src holding wildcard indexes for now), -1 bad. */
static int placeholder(const char *t, size_t n, struct dtok *d, long long *idx)
{
    static const struct {
        const char *name;
        enum fn fn;
    } fns[] = {
        { "Wildcard", FN_WILDCARD },         { "Partition", FN_PARTITION },
        { "SplitFromLeft", FN_SPLIT_LEFT },  { "SplitFromRight", FN_SPLIT_RIGHT },
        { "SliceFromLeft", FN_SLICE_LEFT },  { "SliceFromRight", FN_SLICE_RIGHT },
        { "Split", FN_SPLIT },
    };
    long long v;
    d->nsrc = 0;
    if (n > 1 && t[0] == '$') {
        /* $N; "$x" is just text (other things start with '$') */
        if (!go_atoi(t + 1, n - 1, &idx[0]))
            return 0;
        d->fn = FN_WILDCARD;
        d->nsrc = 1;
        return 1;
    }
    if (n <= 4 || t[0] != '{' || t[1] != '{' || t[n - 2] != '}' || t[n - 1] != '}')
        return 0;
    /* {{ \s* name \s* ( args ) \s* }} */
    const char *p = t + 2, *end = t + n - 2, *name, *open, *close;
    while (p < end && go_space(*p))
        p++;
    for (name = p; p < end && ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z'));)
        p++;
    size_t namelen = (size_t)(p - name);
    while (p < end && go_space(*p))
        p++;
    for (close = end; close > p && go_space(close[-1]);)
        close--;
    if (p >= end || *p != '(' || close <= p + 1 || close[-1] != ')')
        return -1;
    open = p + 1;
    close--;
    d->fn = FN_TEXT;
    for (size_t i = 0; i < sizeof fns / sizeof fns[0] && d->fn == FN_TEXT; i++)
        if (fn_is(name, namelen, fns[i].name))
            d->fn = fns[i].fn;
    if (d->fn == FN_TEXT)
        return -1; /* unknown mapping function */
    /* the arguments, split on ",\s*" */
    const char *args[MAX_ARGS + 1];
    size_t alen[MAX_ARGS + 1], na = 0;
    for (const char *a = open;;) {
        const char *comma = memchr(a, ',', (size_t)(close - a));
        if (na == MAX_ARGS + 1)
            return -1;
        args[na] = a;
        alen[na++] = comma ? (size_t)(comma - a) : (size_t)(close - a);
        if (!comma)
            break;
        for (a = comma + 1; a < close && go_space(*a);)
            a++;
    }
    switch (d->fn) {
    case FN_WILDCARD:
        if (na != 1 || !atoi_trim(args[0], alen[0], &idx[0]))
            return -1;
        d->nsrc = 1;
        return 1;
    case FN_PARTITION:
        if (na < 2 || !atoi_trim(args[0], alen[0], &v))
            return -1;
        d->n = go_int32(v);
        for (size_t i = 1; i < na; i++)
            if (!atoi_trim(args[i], alen[i], &idx[d->nsrc++]))
                return -1;
        return 1;
    case FN_SPLIT:
        if (na != 2 || !atoi_trim(args[0], alen[0], &idx[0]) || memchr(args[1], ' ', alen[1]) ||
            memchr(args[1], '.', alen[1]))
            return -1;
        d->text = args[1];
        d->len = alen[1];
        d->nsrc = 1;
        return 1;
    default: /* split/slice from left/right (N, number) */
        if (na != 2 || !atoi_trim(args[0], alen[0], &idx[0]) || !atoi_trim(args[1], alen[1], &v))
            return -1;
        d->n = go_int32(v);
        d->nsrc = 1;
        return 1;
    }
}

/* Position in src of its k-th '*' (1-based); 0 when there is none, as a
 * Go map lookup of a missing key gives. */
static size_t pwc_position(const char *src, long long k)
{
    long long seen = 0;
    size_t pos = 0;
    for (const char *t = src;; pos++) {
        const char *dot = strchr(t, '.');
        size_t n = dot ? (size_t)(dot - t) : strlen(t);
        if (n == 1 && *t == '*' && ++seen == k)
            return pos;
        if (!dot)
            return 0;
        t = dot + 1;
    }
}

int submap_compile(const char *src, const char *dest, struct submap **out)
{
    int snp, dnp;
    bool sfwc, dfwc;
    size_t nst, ndt;
    if (!src || !dest || !subj_info(src, &snp, &sfwc, &nst) ||
        !subj_info(dest, &dnp, &dfwc, &ndt) || dnp > 0 || sfwc != dfwc)
        return -EINVAL;
    struct submap *m = calloc(1, sizeof *m);
    if (!m || !(m->src = strdup(src)) || !(m->dest = strdup(dest)))
        goto err_nomem;
    m->match_all = strcmp(src, ">") == 0;
    m->identity = m->match_all && strcmp(dest, ">") == 0;
    m->nstoks = nst;
    if (snp == 0 && !sfwc) {
        *out = m; /* a literal source: the destination as it is */
        return 0;
    }
    if (!(m->d = calloc(ndt, sizeof *m->d)))
        goto err_nomem;
    int nphs = 0;
    for (const char *t = m->dest;;) {
        const char *dot = strchr(t, '.');
        size_t n = dot ? (size_t)(dot - t) : strlen(t);
        struct dtok *d = &m->d[m->nd++];
        long long idx[MAX_ARGS];
        int k = placeholder(t, n, d, idx);
        if (k < 0)
            goto err_invalid;
        if (k == 0) {
            d->fn = n == 1 && *t == '>' ? FN_FWC : FN_TEXT;
            d->text = t;
            d->len = n;
        }
        for (size_t i = 0; i < d->nsrc; i++) {
            if (idx[i] > snp)
                goto err_invalid; /* a wildcard the source does not have */
            d->src[i] = pwc_position(m->src, idx[i]);
        }
        nphs += k;
        if (!dot)
            break;
        t = dot + 1;
    }
    if (nphs < snp)
        goto err_invalid; /* not every '*' of the source is used */
    *out = m;
    return 0;

err_invalid:
    submap_free(m);
    return -EINVAL;
err_nomem:
    submap_free(m);
    return -ENOMEM;
}

void submap_free(struct submap *m)
{
    if (!m)
        return;
    free(m->src);
    free(m->dest);
    free(m->d);
    free(m);
}

/* ---- applying ---- */

/* The mapped subject as it grows; oom remembers a failed append. */
struct out {
    char *p;
    size_t n, cap;
    bool oom;
};

static void put(struct out *o, const char *s, size_t n)
{
    if (o->oom)
        return;
    if (o->n + n + 1 > o->cap) {
        size_t cap = o->cap ? o->cap * 2 : 64;
        while (cap < o->n + n + 1)
            cap *= 2;
        char *p = realloc(o->p, cap);
        if (!p) {
            o->oom = true;
            return;
        }
        o->p = p;
        o->cap = cap;
    }
    memcpy(o->p + o->n, s, n);
    o->n += n;
    o->p[o->n] = '\0';
}

static void put_dot(struct out *o)
{
    put(o, ".", 1);
}

struct tok {
    const char *s;
    size_t n;
};

/* Length of the UTF-8 sequence at s (1 for a byte that starts none), as
 * Go's strings.Split(s, "") cuts a string into runes. */
static size_t rune_len(const unsigned char *s, size_t n)
{
    size_t want = s[0] < 0x80 ? 1 : s[0] >= 0xC2 && s[0] <= 0xDF ? 2
                : s[0] >= 0xE0 && s[0] <= 0xEF ? 3 : s[0] >= 0xF0 && s[0] <= 0xF4 ? 4 : 1;
    if (want > n)
        return 1;
    unsigned char lo = 0x80, hi = 0xBF;
    if (s[0] == 0xE0)
        lo = 0xA0;
    else if (s[0] == 0xED)
        hi = 0x9F;
    else if (s[0] == 0xF0)
        lo = 0x90;
    else if (s[0] == 0xF4)
        hi = 0x8F;
    for (size_t i = 1; i < want; i++) {
        if (s[i] < (i == 1 ? lo : 0x80) || s[i] > (i == 1 ? hi : 0xBF))
            return 1;
    }
    return want;
}

/* The piece of t that starts at *off when t is cut at every delim (at
 * every rune when delim is empty, as strings.Split does); *off moves past
 * it. True when another piece follows (maybe an empty one). */
static bool piece_at(struct tok t, size_t *off, const char *delim, size_t dl, struct tok *p)
{
    const char *at = t.s + *off;
    size_t left = t.n - *off;
    if (!dl) {
        size_t n = rune_len((const unsigned char *)at, left);
        *p = (struct tok){ at, n };
        *off += n;
        return *off < t.n;
    }
    const char *hit = memmem(at, left, delim, dl);
    *p = (struct tok){ at, hit ? (size_t)(hit - at) : left };
    *off += p->n + (hit ? dl : 0);
    return hit != NULL;
}

/* strings.Split(t, delim), then nats-server's joining: empty pieces
 * vanish, and a dot goes before a piece that is not empty unless the
 * first piece was empty. */
static void put_split(struct out *o, struct tok t, const char *delim, size_t dl)
{
    if (!dl && t.n == 0)
        return; /* Split("", "") has no pieces at all */
    size_t off = 0;
    struct tok cur, next = { 0 };
    bool more = piece_at(t, &off, delim, dl, &cur);
    for (size_t j = 0;; j++) {
        bool after = more ? piece_at(t, &off, delim, dl, &next) : false;
        if (cur.n)
            put(o, cur.s, cur.n);
        if (more && next.n && !(j == 0 && cur.n == 0))
            put_dot(o);
        if (!more)
            break;
        cur = next;
        more = after;
    }
}

static uint32_t fnv1a32(const struct tok *toks, const struct dtok *d)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < d->nsrc; i++) {
        const struct tok *t = &toks[d->src[i]];
        for (size_t j = 0; j < t->n; j++) {
            h ^= (unsigned char)t->s[j];
            h *= 16777619u;
        }
    }
    return h;
}

/* One function token over the subject's tokens. -EINVAL: 0 buckets. */
static int put_fn(struct out *o, const struct dtok *d, const struct tok *toks)
{
    struct tok t = toks[d->src[0]];
    int32_t n = d->n;
    switch (d->fn) {
    case FN_WILDCARD:
        put(o, t.s, t.n);
        return 0;
    case FN_PARTITION: {
        if (n == 0)
            return -EINVAL;
        char num[16];
        int k = snprintf(num, sizeof num, "%u", fnv1a32(toks, d) % (uint32_t)n);
        put(o, num, (size_t)k);
        return 0;
    }
    case FN_SPLIT_LEFT:
    case FN_SPLIT_RIGHT:
        if (n > 0 && (size_t)n < t.n) {
            size_t at = d->fn == FN_SPLIT_LEFT ? (size_t)n : t.n - (size_t)n;
            put(o, t.s, at);
            put_dot(o);
            put(o, t.s + at, t.n - at);
        } else {
            put(o, t.s, t.n); /* too short to split there */
        }
        return 0;
    case FN_SLICE_LEFT:
        if (n > 0 && (size_t)n < t.n) {
            size_t sz = (size_t)n;
            for (size_t i = 0; i + sz <= t.n; i += sz) {
                if (i)
                    put_dot(o);
                put(o, t.s + i, sz);
                if (i + sz != t.n && i + 2 * sz > t.n) {
                    put_dot(o);
                    put(o, t.s + i + sz, t.n - i - sz);
                    break;
                }
            }
        } else {
            put(o, t.s, t.n);
        }
        return 0;
    case FN_SLICE_RIGHT:
        if (n > 0 && (size_t)n < t.n) {
            size_t sz = (size_t)n, rem = t.n % sz;
            if (rem) {
                put(o, t.s, rem);
                put_dot(o);
            }
            for (size_t i = rem; i + sz <= t.n; i += sz) {
                put(o, t.s + i, sz);
                if (i + sz < t.n)
                    put_dot(o);
            }
        } else {
            put(o, t.s, t.n);
        }
        return 0;
    case FN_SPLIT:
        put_split(o, t, d->text, d->len);
        return 0;
    default:
        return 0;
    }
}

static int transform(const struct submap *m, const struct tok *toks, size_t ntoks,
                     struct out *o)
{
    for (size_t i = 0; i < m->nd; i++) {
        const struct dtok *d = &m->d[i];
        if (d->fn == FN_FWC)
            break;
        if (d->fn == FN_TEXT)
            put(o, d->text, d->len);
        else if (put_fn(o, d, toks) < 0)
            return -EINVAL;
        if (i + 1 < m->nd)
            put_dot(o);
    }
    if (m->nd && m->d[m->nd - 1].fn == FN_FWC) {
        /* the rest, from where src has its '>' */
        for (size_t i = m->nstoks - 1; i < ntoks; i++) {
            put(o, toks[i].s, toks[i].n);
            if (i + 1 < ntoks)
                put_dot(o);
        }
    }
    return 0;
}

int submap_apply(const struct submap *m, const char *subject, size_t len, char **out,
                 size_t *outlen)
{
    struct out o = { 0 };
    struct tok stack[32], *toks = stack;
    size_t ntoks = 1;
    int rc = 0;
    if (m->identity) {
        put(&o, subject, len);
        goto done;
    }
    for (size_t i = 0; i < len; i++)
        ntoks += subject[i] == '.';
    if (ntoks > sizeof stack / sizeof stack[0] && !(toks = malloc(ntoks * sizeof *toks)))
        return -ENOMEM;
    /* tokens, which must make a valid literal subject */
    for (size_t i = 0, k = 0, start = 0; i <= len; i++) {
        if (i < len && subject[i] != '.')
            continue;
        toks[k] = (struct tok){ subject + start, i - start };
        if (toks[k].n == 0 || (toks[k].n == 1 && (*toks[k].s == '*' || *toks[k].s == '>'))) {
            rc = -EINVAL;
            goto done;
        }
        k++;
        start = i + 1;
    }
    if (!m->match_all && !subject_match(m->src, strlen(m->src), subject, len)) {
        rc = -ENOENT;
        goto done;
    }
    if (!m->d)
        put(&o, m->dest, strlen(m->dest));
    else
        rc = transform(m, toks, ntoks, &o);
done:
    if (toks != stack)
        free(toks);
    if (rc == 0 && o.oom)
        rc = -ENOMEM;
    if (rc == 0 && !o.p)
        put(&o, "", 0); /* an empty result is still a string */
    if (rc < 0 || o.oom) {
        free(o.p);
        return rc < 0 ? rc : -ENOMEM;
    }
    *out = o.p;
    *outlen = o.n;
    return 0;
}
