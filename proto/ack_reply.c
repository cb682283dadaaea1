/*
 * proto/ack_reply.c — "<ack reply>@<stored subject>", the form a JetStream
 * delivery's reply takes on a route (see ack_reply.h).
 *
 * Joining is two copies; splitting is one backward scan for the last '@',
 * which stops at the prefix, so a reply without one costs a compare.
 */
#include "proto/ack_reply.h"

#include <string.h>

size_t ack_reply_join(char *dst, const char *reply, size_t rlen, const char *subject,
                      size_t slen)
{
    memcpy(dst, reply, rlen);
    dst[rlen] = '@';
    memcpy(dst + rlen + 1, subject, slen);
    return ack_reply_joined_len(rlen, slen);
}

bool ack_reply_split(struct proto_slice reply, struct proto_slice *ack,
                     struct proto_slice *subject)
{
    size_t plen = sizeof ACK_REPLY_PREFIX - 1;
    if (reply.len <= plen || memcmp(reply.ptr, ACK_REPLY_PREFIX, plen) != 0)
        return false;
    size_t at = reply.len;
    while (at-- > plen)
        if (reply.ptr[at] == '@')
            break;
    if (at < plen || at + 1 == reply.len)
        return false;
    *ack = (struct proto_slice){ reply.ptr, at };
    *subject = (struct proto_slice){ reply.ptr + at + 1, reply.len - at - 1 };
    return true;
}
