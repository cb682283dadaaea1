/*
 * proto/header.c — reading a NATS header block (see header.h).
 *
 * One pass over the lines with memchr. The value is read the way
 * nats-server 2.9.10 reads it (leading spaces only are dropped), so a
 * Nats-Msg-Id "a " and "a" are two ids here as there. Where nats-server
 * looks for the name anywhere in the block and gives up when its first
 * occurrence is not at a line start ("X-Nats-Msg-Id" before "Nats-Msg-Id"),
 * this matches whole names at line starts only: that is the rule its code
 * means, and a header value cannot hide a later header.
 */
#include "proto/header.h"

#include <string.h>

const char *header_get(const char *hdr, size_t hlen, const char *name, size_t *vlen)
{
    size_t nlen = strlen(name);
    if (!hdr || !hlen)
        return NULL;
    const char *end = hdr + hlen;
    const char *p = memchr(hdr, '\n', hlen); /* end of the status line */
    while (p && p + 1 < end) {
        const char *line = p + 1;
        const char *eol = memchr(line, '\n', (size_t)(end - line));
        const char *le = eol ? eol : end;
        if ((size_t)(le - line) > nlen && memcmp(line, name, nlen) == 0 && line[nlen] == ':') {
            const char *v = line + nlen + 1;
            const char *ve = eol && eol[-1] == '\r' ? eol - 1 : le;
            while (v < ve && *v == ' ')
                v++;
            *vlen = (size_t)(ve - v);
            return v;
        }
        p = eol;
    }
    return NULL;
}
