/*
 * tests/fuzz/fuzz_jwt.c — libFuzzer target for server/jwt.c, which reads
 * a CONNECT's "jwt" (any client's bytes) and the operator mode options'
 * tokens.
 *
 * The first input byte picks the claim type wanted (operator, account,
 * user); the rest is the token, also fed to jwt_undecorate as file text.
 * Nothing may crash, leak or read out of bounds; a decoded token must
 * carry the type asked for and keys of the right roles, and its checks
 * (times, revocations, issuers) must run on it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "server/jwt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    enum jwt_type want = (enum jwt_type)(data[0] % 3);
    const char *text = (const char *)data + 1;
    size_t n = size - 1;

    const char *tok;
    size_t toklen;
    jwt_undecorate(text, n, &tok, &toklen);
    if (toklen > n || (toklen && (tok < text || tok + toklen > text + n)))
        abort();

    struct jwt *j = NULL;
    char why[200];
    if (jwt_decode(text, n, want, &j, why, sizeof why) == 0) {
        if (!j || j->type != want || !j->iss || !j->sub ||
            strlen(j->iss) != JWT_KEY_CHARS || strlen(j->sub) != JWT_KEY_CHARS)
            abort();
        (void)jwt_expired(j, 1800000000);
        (void)jwt_not_yet_valid(j, 1800000000);
        (void)jwt_revoked(j, j->sub, j->iat);
        (void)jwt_signed_by(j, j->iss);
        jwt_free(j);
    } else if (j) {
        abort();
    }
    return 0;
}
