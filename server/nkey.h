/*
 * server/nkey.h — NKEY user authentication: public user keys, the nonce a
 * client signs, and checking its ed25519 signature (libsodium).
 *
 * A public NKEY is base32 (RFC 4648, no padding) of one prefix byte (the
 * key's role: 'U' for users), the 32-byte ed25519 public key and a CRC-16
 * of those 33 bytes; 56 characters. The server sends each connection a
 * fresh nonce in INFO; the client returns its key and the signature of
 * the nonce's characters in CONNECT (`nkey`, `sig`). Owned here so auth.c
 * only asks "is this key valid" and "does this signature verify".
 */
#ifndef TERN_SERVER_NKEY_H
#define TERN_SERVER_NKEY_H

#include <stdbool.h>
#include <stddef.h>

#define NKEY_PUBLIC_BYTES 32
/* 11 random bytes in unpadded URL-safe base64, as nats-server sends. */
#define NKEY_NONCE_CHARS 15

/* Decode a public user NKEY ("U" + 55 base32 characters, valid checksum)
 * into its ed25519 key. 0, or -EINVAL for anything else. */
int nkey_decode_user(const char *text, unsigned char key[NKEY_PUBLIC_BYTES]);

/* The same for any role: 'U' user, 'A' account, 'O' operator (operator
 * mode's JWTs, server/jwt.h). */
int nkey_decode(const char *text, char role, unsigned char key[NKEY_PUBLIC_BYTES]);

/* A fresh random nonce, NUL-terminated. */
void nkey_make_nonce(char out[NKEY_NONCE_CHARS + 1]);

/* Whether sig (base64 of a 64-byte ed25519 signature: URL-safe or
 * standard alphabet, padded or not, as clients send either) signs the
 * nonce's characters under key. */
bool nkey_verify(const unsigned char key[NKEY_PUBLIC_BYTES], const char *nonce,
                 const char *sig);

#endif
