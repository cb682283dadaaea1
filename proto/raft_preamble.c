/*
 * proto/raft_preamble.c — the raft connection's first line (see
 * raft_preamble.h). One left-to-right pass; the id is accumulated with an
 * overflow check rather than strtoull, which would accept a sign, leading
 * blanks and "0x".
 */
#include "proto/raft_preamble.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static bool name_byte(unsigned char ch)
{
    return ch > 0x20 && ch != 0x7f;
}

int raft_preamble_parse(const char *line, size_t len, uint64_t *id, char *name,
                        size_t name_cap)
{
    size_t plen = sizeof RAFT_PREAMBLE_PREFIX - 1;
    if (len > RAFT_PREAMBLE_MAX_LINE || len < plen ||
        memcmp(line, RAFT_PREAMBLE_PREFIX, plen) != 0)
        return -EPROTO;
    size_t i = plen;
    uint64_t v = 0;
    size_t digits = 0;
    while (i < len && line[i] >= '0' && line[i] <= '9') {
        unsigned d = (unsigned)(line[i] - '0');
        if (digits == 1 && v == 0)
            return -EPROTO; /* a leading zero: one spelling per id */
        if (v > (UINT64_MAX - d) / 10)
            return -EPROTO;
        v = v * 10 + d;
        digits++;
        i++;
    }
    if (!digits || v == 0 || i >= len || line[i] != ' ')
        return -EPROTO;
    i++;
    size_t start = i;
    while (i < len && name_byte((unsigned char)line[i]))
        i++;
    size_t nlen = i - start;
    if (!nlen || i != len)
        return -EPROTO;
    if (nlen >= name_cap)
        return -ENAMETOOLONG;
    memcpy(name, line + start, nlen);
    name[nlen] = '\0';
    *id = v;
    return 0;
}

size_t raft_preamble_format(char *out, size_t cap, uint64_t id, const char *name)
{
    size_t nlen = strlen(name);
    if (!id || !nlen)
        return 0;
    for (size_t i = 0; i < nlen; i++)
        if (!name_byte((unsigned char)name[i]))
            return 0;
    int n = snprintf(out, cap, RAFT_PREAMBLE_PREFIX "%llu %s\r\n", (unsigned long long)id, name);
    if (n < 0 || (size_t)n >= cap || (size_t)n - 2 > RAFT_PREAMBLE_MAX_LINE)
        return 0;
    return (size_t)n;
}
