/*
 * tests/fuzz/fuzz_connect.c — libFuzzer target for proto/connect.c.
 *
 * Input: a CONNECT's JSON text, decoded from a heap copy of exactly its
 * length (AddressSanitizer sees any overrun). Rules: a decoded string is
 * NUL-terminated at its length and is valid UTF-8, as Go's decoding makes
 * it; decoding is deterministic; and text accepted as CONNECT is valid
 * JSON, so it is also accepted as the value of an unknown key (the typed
 * decoder and the skipper agree) while that stays within the depth limit. Aborts (trap) on a broken rule.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/connect.h"

#define CHECK(x)                                                              \
    do {                                                                      \
        if (!(x))                                                             \
            __builtin_trap();                                                 \
    } while (0)

static bool valid_utf8(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n;) {
        unsigned char b = p[i];
        size_t k = b < 0x80 ? 1 : b >= 0xc2 && b <= 0xdf ? 2 : b >= 0xe0 && b <= 0xef ? 3
                 : b >= 0xf0 && b <= 0xf4 ? 4 : 0;
        if (!k || i + k > n)
            return false;
        for (size_t j = 1; j < k; j++)
            if ((p[i + j] & 0xc0) != 0x80)
                return false;
        if ((b == 0xe0 && p[i + 1] < 0xa0) || (b == 0xed && p[i + 1] > 0x9f) ||
            (b == 0xf0 && p[i + 1] < 0x90) || (b == 0xf4 && p[i + 1] > 0x8f))
            return false;
        i += k;
    }
    return true;
}

static void check_str(const struct connect_str *s)
{
    if (!s->s)
        return;
    CHECK(s->s[s->len] == '\0');
    CHECK(valid_utf8((const unsigned char *)s->s, s->len));
}

static int run(const char *js, size_t n, struct connect_opts *o)
{
    *o = (struct connect_opts){ .verbose = true, .pedantic = true, .echo = true };
    return connect_decode(js, n, o);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *js = malloc(size ? size : 1);
    CHECK(js);
    if (size)
        memcpy(js, data, size);
    struct connect_opts a, b;
    int ra = run(js, size, &a), rb = run(js, size, &b);
    CHECK(ra == rb && a.verbose == b.verbose && a.protocol == b.protocol);
    CHECK((a.user.s == NULL) == (b.user.s == NULL));
    if (a.user.s)
        CHECK(a.user.len == b.user.len && memcmp(a.user.s, b.user.s, a.user.len) == 0);
    const struct connect_str *all[] = { &a.user, &a.pass, &a.auth_token, &a.nkey, &a.sig,
                                        &a.jwt, &a.name, &a.lang, &a.version, &a.account };
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        check_str(all[i]);
    connect_opts_free(&a);
    connect_opts_free(&b);
    /* Wrapped, the text is one level deeper: below the limit only. */
    if (ra == 0 && size < CONNECT_MAX_DEPTH) {
        static const char head[] = "{\"zz\":";
        char *w = malloc(sizeof head - 1 + size + 1);
        CHECK(w);
        memcpy(w, head, sizeof head - 1);
        if (size)
            memcpy(w + sizeof head - 1, js, size);
        w[sizeof head - 1 + size] = '}';
        struct connect_opts o;
        CHECK(run(w, sizeof head - 1 + size + 1, &o) == 0);
        connect_opts_free(&o);
        free(w);
    }
    free(js);
    return 0;
}
