/*
 * server/nkey.c — NKEY public keys, nonces and signatures (see nkey.h).
 */
#include "server/nkey.h"

#include <errno.h>
#include <sodium.h>
#include <stdint.h>
#include <string.h>

#define RAW_BYTES (1 + NKEY_PUBLIC_BYTES + 2) /* prefix, key, CRC-16 */
#define TEXT_CHARS 56                         /* ceil(35 * 8 / 5) */
#define NONCE_BYTES 11

static int base32_value(char ch)
{
    if (ch >= 'A' && ch <= 'Z')
        return ch - 'A';
    if (ch >= '2' && ch <= '7')
        return ch - '2' + 26;
    return -1;
}

/* CRC-16 with polynomial 0x1021 and initial value 0 (the XMODEM variant),
 * the checksum NKEYs carry, stored little-endian after the key. */
static uint16_t crc16(const unsigned char *p, size_t n)
{
    uint16_t crc = 0;
    for (size_t i = 0; i < n; i++) {
        crc ^= (uint16_t)(p[i] << 8);
        for (int b = 0; b < 8; b++)
            crc = (uint16_t)(crc & 0x8000 ? (crc << 1) ^ 0x1021 : crc << 1);
    }
    return crc;
}

int nkey_decode_user(const char *text, unsigned char key[NKEY_PUBLIC_BYTES])
{
    return nkey_decode(text, 'U', key);
}

int nkey_decode(const char *text, char role, unsigned char key[NKEY_PUBLIC_BYTES])
{
    /* The role byte holds the role letter's base32 value in its top 5 bits. */
    int rv = base32_value(role);
    if (text == NULL || rv < 0 || strlen(text) != TEXT_CHARS)
        return -EINVAL;
    unsigned char raw[RAW_BYTES];
    uint32_t acc = 0;
    int bits = 0;
    size_t n = 0;
    for (size_t i = 0; i < TEXT_CHARS; i++) {
        int v = base32_value(text[i]);
        if (v < 0)
            return -EINVAL;
        acc = (acc << 5) | (uint32_t)v;
        bits += 5;
        if (bits >= 8) {
            bits -= 8;
            raw[n++] = (unsigned char)(acc >> bits);
        }
    }
    /* 56 characters carry 280 bits: 35 bytes exactly, nothing left over
     * but the low bits of the last character, which must be zero. */
    if (n != RAW_BYTES || (acc & ((1u << bits) - 1)) != 0)
        return -EINVAL;
    uint16_t want = (uint16_t)(raw[RAW_BYTES - 2] | raw[RAW_BYTES - 1] << 8);
    if (raw[0] != (unsigned char)(rv << 3) || crc16(raw, RAW_BYTES - 2) != want)
        return -EINVAL;
    memcpy(key, raw + 1, NKEY_PUBLIC_BYTES);
    return 0;
}

void nkey_make_nonce(char out[NKEY_NONCE_CHARS + 1])
{
    unsigned char raw[NONCE_BYTES];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2base64(out, NKEY_NONCE_CHARS + 1, raw, sizeof raw,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

/* Only base64 alphabet bytes (either variant) and trailing padding.
 * libsodium 1.0.18's decoder maps some bytes above 0x7f onto alphabet
 * values (found by tests/fuzz/fuzz_nkey.c), so it never sees any. */
static bool base64_text(const char *s, size_t len)
{
    size_t n = len;
    while (n > 0 && s[n - 1] == '=')
        n--;
    if (len - n > 2)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
              ch == '+' || ch == '/' || ch == '-' || ch == '_'))
            return false;
    }
    return true;
}

bool nkey_verify(const unsigned char key[NKEY_PUBLIC_BYTES], const char *nonce,
                 const char *sig)
{
    static const int variants[] = {
        sodium_base64_VARIANT_URLSAFE_NO_PADDING, sodium_base64_VARIANT_URLSAFE,
        sodium_base64_VARIANT_ORIGINAL, sodium_base64_VARIANT_ORIGINAL_NO_PADDING,
    };
    if (nonce == NULL || nonce[0] == '\0' || sig == NULL)
        return false;
    unsigned char bin[crypto_sign_BYTES];
    size_t len = strlen(sig);
    if (!base64_text(sig, len))
        return false;
    for (size_t i = 0; i < sizeof variants / sizeof variants[0]; i++) {
        size_t got = 0;
        const char *end = NULL;
        if (sodium_base642bin(bin, sizeof bin, sig, len, NULL, &got, &end, variants[i]) != 0 ||
            got != sizeof bin || end != sig + len)
            continue;
        return crypto_sign_verify_detached(bin, (const unsigned char *)nonce, strlen(nonce),
                                           key) == 0;
    }
    return false;
}
