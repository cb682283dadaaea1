/*
 * proto/ack_reply.h — the ack reply of a JetStream delivery as it crosses a
 * route: "<ack reply>@<stored subject>".
 *
 * A consumer delivers a stored message to its deliver subject with the
 * stream's subject on it. A route frame has one subject, the deliver
 * subject the far node matches on, so the stored subject rides behind the
 * ack reply: RMSG $G <deliver subject> $JS.ACK.<...>@<stored subject>. The
 * far node splits it again and shows its subscribers the stored subject
 * and the bare ack reply, as nats-server does (its client.go splits a
 * "$JS.ACK." reply at the last '@'). Pure functions; nothing allocated.
 */
#ifndef TERN_PROTO_ACK_REPLY_H
#define TERN_PROTO_ACK_REPLY_H

#include <stdbool.h>
#include <stddef.h>

#include "proto/parser.h"

/* Only a reply that starts with this is ever split. */
#define ACK_REPLY_PREFIX "$JS.ACK."

/* Bytes ack_reply_join writes for a reply and a subject of these lengths. */
static inline size_t ack_reply_joined_len(size_t rlen, size_t slen)
{
    return rlen + 1 + slen;
}

/* Write "<reply>@<subject>" to dst, which holds ack_reply_joined_len bytes;
 * returns that length. */
size_t ack_reply_join(char *dst, const char *reply, size_t rlen, const char *subject,
                      size_t slen);

/* A routed reply in the joined form: it starts with ACK_REPLY_PREFIX and
 * has a non-empty subject after its last '@'. Then *ack (the reply before
 * that '@') and *subject point into reply and the result is true; else
 * false and neither is written. A stored subject that itself holds '@'
 * does not come back whole (the last '@' splits), as with nats-server. */
bool ack_reply_split(struct proto_slice reply, struct proto_slice *ack,
                     struct proto_slice *subject);

#endif
