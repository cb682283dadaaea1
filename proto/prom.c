/*
 * proto/prom.c — the text exposition writer (see prom.h).
 *
 * Everything is appended to one buffer that doubles as it grows, so a
 * scrape of a server with thousands of streams makes a few dozen
 * allocations, not one per sample.
 */
#include "proto/prom.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/utf8.h"

void prom_init(struct prom *p)
{
    memset(p, 0, sizeof *p);
}

void prom_free(struct prom *p)
{
    free(p->buf);
    memset(p, 0, sizeof *p);
}

/* Room for need more bytes (and a NUL); false once anything failed. */
static bool room(struct prom *p, size_t need)
{
    if (p->failed)
        return false;
    if (p->cap - p->len > need)
        return true;
    size_t cap = p->cap ? p->cap : 4096;
    while (cap - p->len <= need) {
        if (cap > SIZE_MAX / 2) {
            p->failed = true;
            return false;
        }
        cap *= 2;
    }
    char *b = realloc(p->buf, cap);
    if (!b) {
        p->failed = true;
        return false;
    }
    p->buf = b;
    p->cap = cap;
    return true;
}

static void add(struct prom *p, const char *s, size_t len)
{
    if (!room(p, len))
        return;
    memcpy(p->buf + p->len, s, len);
    p->len += len;
    p->buf[p->len] = '\0';
}

static void add_str(struct prom *p, const char *s)
{
    add(p, s, strlen(s));
}

size_t prom_escape_label(const char *s, size_t len, char *out)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        unsigned char c = u[i];
        if (c == '\\' || c == '"' || c == '\n') {
            out[o++] = '\\';
            out[o++] = c == '\n' ? 'n' : (char)c;
            i++;
            continue;
        }
        size_t n = utf8_seq_len(u + i, len - i);
        if (!n) {
            memcpy(out + o, "\xef\xbf\xbd", 3); /* U+FFFD for the byte */
            o += 3;
            i++;
            continue;
        }
        memcpy(out + o, u + i, n);
        o += n;
        i += n;
    }
    return o;
}

/* HELP text: only backslash and newline are escaped (0.0.4), and it too
 * must be UTF-8; the callers' texts are ASCII constants, so any other byte
 * is dropped rather than carried. */
static void add_help(struct prom *p, const char *help)
{
    for (const char *c = help; *c; c++) {
        if (*c == '\\')
            add(p, "\\\\", 2);
        else if (*c == '\n')
            add(p, "\\n", 2);
        else if ((unsigned char)*c < 0x80)
            add(p, c, 1);
    }
}

void prom_family(struct prom *p, const char *name, enum prom_type type, const char *help)
{
    static const char *const types[] = { "gauge", "counter", "untyped" };
    p->family = name;
    add_str(p, "# HELP ");
    add_str(p, name);
    add(p, " ", 1);
    add_help(p, help);
    add_str(p, "\n# TYPE ");
    add_str(p, name);
    add(p, " ", 1);
    add_str(p, types[type]);
    add(p, "\n", 1);
}

static void sample_head(struct prom *p, const struct prom_label *labels, size_t n)
{
    add_str(p, p->family ? p->family : "");
    for (size_t i = 0; i < n; i++) {
        const char *v = labels[i].value ? labels[i].value : "";
        size_t vlen = strlen(v);
        add(p, i ? "," : "{", 1);
        add_str(p, labels[i].name);
        add(p, "=\"", 2);
        if (vlen > (SIZE_MAX - 4) / 3 || !room(p, 3 * vlen + 4))
            return;
        p->len += prom_escape_label(v, vlen, p->buf + p->len);
        add(p, "\"", 1);
    }
    if (n)
        add(p, "}", 1);
    add(p, " ", 1);
}

void prom_u64(struct prom *p, const struct prom_label *labels, size_t n, uint64_t v)
{
    char num[32];
    sample_head(p, labels, n);
    snprintf(num, sizeof num, "%" PRIu64 "\n", v);
    add_str(p, num);
}

void prom_i64(struct prom *p, const struct prom_label *labels, size_t n, int64_t v)
{
    char num[32];
    sample_head(p, labels, n);
    snprintf(num, sizeof num, "%" PRId64 "\n", v);
    add_str(p, num);
}

void prom_f64(struct prom *p, const struct prom_label *labels, size_t n, double v)
{
    char num[40];
    sample_head(p, labels, n);
    if (isnan(v)) {
        snprintf(num, sizeof num, "NaN");
    } else if (isinf(v)) {
        snprintf(num, sizeof num, "%s", v > 0 ? "+Inf" : "-Inf");
    } else {
        /* The shortest %g that reads back as v: "0.1", not
         * "0.10000000000000001". */
        for (int prec = 1; prec <= 17; prec++) {
            snprintf(num, sizeof num, "%.*g", prec, v);
            if (strtod(num, NULL) == v)
                break;
        }
    }
    add_str(p, num);
    add(p, "\n", 1);
}
