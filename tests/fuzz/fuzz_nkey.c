/*
 * tests/fuzz/fuzz_nkey.c — libFuzzer target for server/nkey.c, which reads
 * two strings a client controls: the nkey and the sig of its CONNECT.
 *
 * The input is split at its first NUL: the part before is decoded as a
 * public user key; the part after is a signature checked against a fixed
 * key and nonce (and against the decoded key, when it decodes). Neither may
 * crash or read out of bounds, and a random signature must never verify.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "server/nkey.h"

/* A user key from tests/unit/check_auth.c; its seed is not used here. */
static const char KEY[] = "UAUVWWH67AZVMKANN6CDIMVB5TTP2QVI436VYVPGZUH37RPP4JVA3GJQ";
static const char NONCE[] = "Bm9uY2UtdGVzdDA";

/* SIG's signature of NONCE, standard alphabet, padding stripped. */
static const char SIG[] = "YATI3G/FPkzgWv/viJCEvOUp+jcOeH0p0VAkrFrPKnAsdZICt+q+sQqZoozrcuOINcXdgeu/"
                          "EkV5RcGiy69YBQ";

/* Whether s spells SIG: either alphabet (not mixed), padded or not. */
static int is_real_signature(const char *s)
{
    size_t n = strlen(s);
    while (n > 0 && s[n - 1] == '=')
        n--;
    if (n != sizeof SIG - 1 || strlen(s) - n > 2)
        return 0;
    int url = strpbrk(s, "-_") != NULL, std = strpbrk(s, "+/") != NULL;
    if (url && std)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i] == '-' ? '+' : s[i] == '_' ? '/' : s[i];
        if (c != SIG[i])
            return 0;
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static unsigned char fixed[NKEY_PUBLIC_BYTES];
    static int ready;
    if (!ready) {
        if (sodium_init() < 0 || nkey_decode_user(KEY, fixed) != 0)
            abort();
        ready = 1;
    }
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    size_t first = strlen(text);
    const char *sig = first < size ? text + first + 1 : "";

    unsigned char key[NKEY_PUBLIC_BYTES];
    if (nkey_decode_user(text, key) == 0) {
        if (strlen(text) != 56 || text[0] != 'U')
            abort(); /* accepted something that is not a user key's shape */
        (void)nkey_verify(key, NONCE, sig);
    }
    /* The fuzzer cannot forge an ed25519 signature: a "valid" one means the
     * decoder let a non-signature through. Only the real signature may
     * verify, in any of the four base64 spellings clients use. */
    if (nkey_verify(fixed, NONCE, sig) && !is_real_signature(sig))
        abort();
    free(text);
    return 0;
}
