/*
 * tests/fuzz/fuzz_ack_reply.c — libFuzzer target for proto/ack_reply.c.
 *
 * Input: a routed reply to split; also, cut at its first '\n', an ack reply
 * and a stored subject to join. A split must give two slices inside the
 * reply that, joined again with '@', are the reply, with the prefix on the
 * ack and no '@' in the subject; a join of a "$JS.ACK." reply and a
 * non-empty subject without '@' must split back into the same two. Every
 * buffer is a heap copy of exactly its length, so AddressSanitizer sees any
 * overrun. Aborts (trap) on a broken rule.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/ack_reply.h"

#define CHECK(x)                                                              \
    do {                                                                      \
        if (!(x))                                                             \
            __builtin_trap();                                                 \
    } while (0)

#define PLEN (sizeof ACK_REPLY_PREFIX - 1)

static char *copy(const void *p, size_t n)
{
    char *c = malloc(n ? n : 1);
    CHECK(c);
    if (n)
        memcpy(c, p, n);
    return c;
}

static void split_rules(const char *r, size_t n)
{
    struct proto_slice ack, subj;
    if (!ack_reply_split((struct proto_slice){ r, n }, &ack, &subj)) {
        /* Refused: not the prefix, no '@' after it, or nothing after the last. */
        const char *at = n > PLEN ? memrchr(r + PLEN, '@', n - PLEN) : NULL;
        CHECK(n <= PLEN || memcmp(r, ACK_REPLY_PREFIX, PLEN) != 0 || !at || at == r + n - 1);
        return;
    }
    CHECK(ack.ptr == r && ack.len >= PLEN && memcmp(ack.ptr, ACK_REPLY_PREFIX, PLEN) == 0);
    CHECK(subj.len > 0 && subj.ptr == r + ack.len + 1 && subj.ptr + subj.len == r + n);
    CHECK(r[ack.len] == '@' && !memchr(subj.ptr, '@', subj.len));
    char *j = malloc(ack_reply_joined_len(ack.len, subj.len));
    CHECK(j);
    size_t jn = ack_reply_join(j, ack.ptr, ack.len, subj.ptr, subj.len);
    CHECK(jn == n && memcmp(j, r, n) == 0);
    free(j);
}

static void join_rules(const char *tail, size_t tn, const char *s, size_t sn)
{
    /* The ack reply is the prefix and the first part of the input. */
    size_t rn = PLEN + tn;
    char *reply = malloc(rn);
    CHECK(reply);
    memcpy(reply, ACK_REPLY_PREFIX, PLEN);
    if (tn)
        memcpy(reply + PLEN, tail, tn);
    size_t jn = ack_reply_joined_len(rn, sn);
    char *j = malloc(jn);
    CHECK(j);
    CHECK(ack_reply_join(j, reply, rn, s, sn) == jn);
    struct proto_slice ack, subj;
    bool ok = ack_reply_split((struct proto_slice){ j, jn }, &ack, &subj);
    if (sn && !memchr(s, '@', sn)) {
        CHECK(ok && ack.len == rn && memcmp(ack.ptr, reply, rn) == 0);
        CHECK(subj.len == sn && memcmp(subj.ptr, s, sn) == 0);
    }
    split_rules(j, jn);
    free(j);
    free(reply);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *r = copy(data, size);
    split_rules(r, size);
    free(r);
    const uint8_t *nl = memchr(data, '\n', size);
    size_t tn = nl ? (size_t)(nl - data) : size;
    size_t sn = nl ? size - tn - 1 : 0;
    char *tail = copy(data, tn), *s = copy(nl ? nl + 1 : data, sn);
    join_rules(tail, tn, s, sn);
    free(tail);
    free(s);
    return 0;
}
