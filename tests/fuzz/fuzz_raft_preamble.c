/*
 * tests/fuzz/fuzz_raft_preamble.c — libFuzzer target for
 * proto/raft_preamble.c.
 *
 * Input: a preamble line (without CRLF). A parse that succeeds must give a
 * non-zero id and a name of allowed bytes that, formatted again, is the
 * input plus CRLF; a refused line must not be the format of anything. The
 * input is also cut at its first '\n' into an id (its first 8 bytes) and a
 * name to format: what formats must parse back to the same. Buffers are
 * heap copies of exactly their length, so AddressSanitizer sees overruns.
 * Aborts (trap) on a broken rule.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/raft_preamble.h"

#define CHECK(x)                                                              \
    do {                                                                      \
        if (!(x))                                                             \
            __builtin_trap();                                                 \
    } while (0)

#define NAME_CAP 64

static void parse_rules(const char *line, size_t len)
{
    uint64_t id = 0;
    char *name = malloc(NAME_CAP);
    CHECK(name);
    int rc = raft_preamble_parse(line, len, &id, name, NAME_CAP);
    CHECK(rc == 0 || rc == -EPROTO || rc == -ENAMETOOLONG);
    if (rc == 0) {
        size_t nlen = strlen(name);
        CHECK(id != 0 && nlen > 0 && nlen < NAME_CAP);
        for (size_t i = 0; i < nlen; i++)
            CHECK((unsigned char)name[i] > 0x20 && (unsigned char)name[i] != 0x7f);
        char *out = malloc(len + 3);
        CHECK(out);
        size_t n = raft_preamble_format(out, len + 3, id, name);
        CHECK(n == len + 2 && memcmp(out, line, len) == 0 && memcmp(out + len, "\r\n", 2) == 0);
        free(out);
    }
    free(name);
}

static void format_rules(uint64_t id, const char *name)
{
    size_t cap = RAFT_PREAMBLE_MAX_LINE + 3;
    char *out = malloc(cap);
    CHECK(out);
    size_t n = raft_preamble_format(out, cap, id, name);
    if (n) {
        CHECK(n >= 2 && out[n - 2] == '\r' && out[n - 1] == '\n');
        uint64_t back = 0;
        char *nb = malloc(RAFT_PREAMBLE_MAX_LINE);
        CHECK(nb);
        CHECK(raft_preamble_parse(out, n - 2, &back, nb, RAFT_PREAMBLE_MAX_LINE) == 0);
        CHECK(back == id && strcmp(nb, name) == 0);
        free(nb);
    } else {
        /* Refused: id 0, an empty name, a byte the parser refuses, or too long. */
        size_t nlen = strlen(name);
        char digits[24];
        size_t line = 5 + (size_t)snprintf(digits, sizeof digits, "%llu",
                                           (unsigned long long)id) + 1 + nlen;
        bool bad = id == 0 || nlen == 0 || line > RAFT_PREAMBLE_MAX_LINE;
        for (size_t i = 0; i < nlen && !bad; i++)
            bad = (unsigned char)name[i] <= 0x20 || (unsigned char)name[i] == 0x7f;
        CHECK(bad);
    }
    free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *line = malloc(size ? size : 1);
    CHECK(line);
    if (size)
        memcpy(line, data, size);
    parse_rules(line, size);
    free(line);

    uint64_t id = 0;
    memcpy(&id, data, size < 8 ? size : 8);
    const uint8_t *nl = memchr(data, '\n', size);
    const uint8_t *start = nl ? nl + 1 : data + (size < 8 ? size : 8);
    size_t nlen = (size_t)(data + size - start);
    char *name = malloc(nlen + 1);
    CHECK(name);
    memcpy(name, start, nlen);
    name[nlen] = '\0'; /* a NUL inside just ends the name early */
    format_rules(id, name);
    free(name);
    return 0;
}
