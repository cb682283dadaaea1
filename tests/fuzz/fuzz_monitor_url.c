/*
 * tests/fuzz/fuzz_monitor_url.c — libFuzzer target for server/monitor_url.c.
 *
 * Input: a query string, and (the same bytes) a request path. Rules: every
 * pair is NUL-terminated at its length and found again by its key unless
 * an earlier pair has that key; the parameter decoders either succeed or
 * give nats-server's "Error decoding" text, quoted by a quote that leaves
 * no control byte raw; a decoded path is never longer than the raw one;
 * cleaning is idempotent and leaves no empty, "." or ".." segment; and a
 * path escaped as Go escapes it decodes back to itself. Buffers are heap
 * copies of exactly their length. Aborts (trap) on a broken rule.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "server/monitor_url.h"

#define CHECK(x)                                                              \
    do {                                                                      \
        if (!(x))                                                             \
            __builtin_trap();                                                 \
    } while (0)

static void query_rules(const char *raw, size_t n)
{
    struct monitor_url_query q = { 0 };
    if (monitor_url_query_parse(raw, n, &q) < 0)
        return;
    for (size_t i = 0; i < q.n; i++) {
        const struct monitor_url_pair *p = &q.pairs[i];
        CHECK(p->key[p->klen] == '\0' && p->value[p->vlen] == '\0');
        CHECK(p->klen <= n && p->vlen <= n);
        if (strlen(p->key) != p->klen)
            continue; /* a key with a NUL cannot be asked for */
        size_t vlen;
        const char *v = monitor_url_get(&q, p->key, &vlen);
        CHECK(v);
        bool first = true;
        for (size_t j = 0; j < i; j++)
            if (q.pairs[j].klen == p->klen && memcmp(q.pairs[j].key, p->key, p->klen) == 0)
                first = false;
        if (first)
            CHECK(v == p->value && vlen == p->vlen);
        char err[2048];
        bool b;
        int64_t s;
        uint64_t u;
        int rcs[3] = { monitor_url_bool(&q, p->key, &b, err, sizeof err),
                       monitor_url_int(&q, p->key, &s, err, sizeof err),
                       monitor_url_uint64(&q, p->key, &u, err, sizeof err) };
        for (int k = 0; k < 3; k++)
            CHECK(rcs[k] == 0 || rcs[k] == -22);
        if (rcs[2] < 0) {
            /* The key is the caller's own name; the value is quoted. */
            CHECK(strncmp(err, "Error decoding uint64 for '", 27) == 0);
            const char *val = strstr(err + 27 + p->klen, ": parsing \"");
            CHECK(val);
            for (const char *c = val; *c; c++)
                CHECK((unsigned char)*c >= 0x20 && *c != 0x7f);
        }
    }
    monitor_url_query_free(&q);
}

static void path_rules(const char *raw, size_t n)
{
    char *dec = malloc(n + 1), *c1 = malloc(n + 3), *c2 = malloc(n + 5), *esc = malloc(3 * n + 7);
    char *back = malloc(3 * n + 7);
    CHECK(dec && c1 && c2 && esc && back);
    long d = monitor_url_unescape_path(raw, n, dec);
    if (d >= 0) {
        CHECK((size_t)d <= n);
        size_t l1 = monitor_url_clean_path(dec, (size_t)d, c1);
        CHECK(l1 >= 1 && c1[0] == '/' && l1 <= (size_t)d + 2);
        size_t l2 = monitor_url_clean_path(c1, l1, c2);
        CHECK(l2 == l1 && memcmp(c1, c2, l1) == 0);
        for (size_t i = 0; i + 1 < l1; i++) {
            if (c1[i] != '/')
                continue;
            CHECK(c1[i + 1] != '/' || i + 2 == l1 + 0);
            CHECK(!(c1[i + 1] == '.' && (i + 2 == l1 || c1[i + 2] == '/')));
            CHECK(!(c1[i + 1] == '.' && i + 2 < l1 && c1[i + 2] == '.' &&
                    (i + 3 == l1 || c1[i + 3] == '/')));
        }
        size_t el = monitor_url_escape_path(c1, l1, esc);
        CHECK(el <= 3 * l1);
        long bl = monitor_url_unescape_path(esc, el, back);
        CHECK(bl == (long)l1 && memcmp(back, c1, l1) == 0);
    }
    free(dec);
    free(c1);
    free(c2);
    free(esc);
    free(back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *raw = malloc(size ? size : 1);
    CHECK(raw);
    if (size)
        memcpy(raw, data, size);
    query_rules(raw, size);
    path_rules(raw, size);
    char q[512];
    size_t qn = monitor_url_quote(q, sizeof q, raw, size);
    CHECK(qn < sizeof q && q[qn] == '\0' && q[0] == '"');
    free(raw);
    return 0;
}
