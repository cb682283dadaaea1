/*
 * tests/unit/jscmd_equal.h — deep equality of decoded JetStream commands,
 * shared by the codec's unit tests and its fuzzer (both check that an
 * entry decodes, re-encodes and decodes back to the same command).
 * Test support only; header-only so each test binary stays one file.
 */
#ifndef TERN_TESTS_JSCMD_EQUAL_H
#define TERN_TESTS_JSCMD_EQUAL_H

#include <stdbool.h>
#include <string.h>

#include "proto/jscmd.h"

static inline bool jscmd_bytes_eq(struct jscmd_bytes a, struct jscmd_bytes b)
{
    if (!a.ptr != !b.ptr || a.len != b.len)
        return false;
    return a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0;
}

static inline bool jscmd_pub_eq(const struct jscmd_publish *a, const struct jscmd_publish *b)
{
    return jscmd_bytes_eq(a->stream, b->stream) && jscmd_bytes_eq(a->subject, b->subject) &&
           jscmd_bytes_eq(a->hdr, b->hdr) && a->data.len == b->data.len &&
           (a->data.len == 0 || !memcmp(a->data.ptr, b->data.ptr, a->data.len)) &&
           a->ts_ns == b->ts_ns && jscmd_bytes_eq(a->msg_id, b->msg_id) &&
           jscmd_bytes_eq(a->exp_stream, b->exp_stream) &&
           jscmd_bytes_eq(a->exp_last_msg_id, b->exp_last_msg_id) &&
           jscmd_bytes_eq(a->exp_last_subj_seq_subj, b->exp_last_subj_seq_subj) &&
           a->has_exp_last_seq == b->has_exp_last_seq &&
           a->has_exp_last_subj_seq == b->has_exp_last_subj_seq &&
           a->exp_last_seq == b->exp_last_seq && a->exp_last_subj_seq == b->exp_last_subj_seq &&
           a->rollup == b->rollup && a->acct_max == b->acct_max &&
           a->acct_limit == b->acct_limit && a->req == b->req;
}

static inline bool jscmd_acks_eq(const struct jscmd_acks *a, const struct jscmd_acks *b)
{
    if (!jscmd_bytes_eq(a->stream, b->stream) || !jscmd_bytes_eq(a->consumer, b->consumer) ||
        a->ack_floor_sseq != b->ack_floor_sseq || a->ack_floor_cseq != b->ack_floor_cseq ||
        a->delivered_sseq != b->delivered_sseq || a->delivered_cseq != b->delivered_cseq ||
        a->start_sseq != b->start_sseq ||
        a->nacked != b->nacked || a->nredelivered != b->nredelivered)
        return false;
    for (size_t i = 0; i < a->nacked; i++)
        if (a->acked[i] != b->acked[i])
            return false;
    for (size_t i = 0; i < a->nredelivered; i++)
        if (a->redelivered[i][0] != b->redelivered[i][0] ||
            a->redelivered[i][1] != b->redelivered[i][1])
            return false;
    return true;
}

static inline bool jscmd_cmd_eq(const struct jscmd *a, const struct jscmd *b)
{
    if (a->op != b->op || a->req != b->req || !jscmd_bytes_eq(a->stream, b->stream) ||
        !jscmd_bytes_eq(a->consumer, b->consumer) || !jscmd_bytes_eq(a->config, b->config) ||
        a->created_ns != b->created_ns || !jscmd_bytes_eq(a->deliver_seen, b->deliver_seen) ||
        a->deliver_bound != b->deliver_bound || !jscmd_bytes_eq(a->filter, b->filter) ||
        a->has_seq != b->has_seq || a->has_keep != b->has_keep || a->seq != b->seq ||
        a->keep != b->keep || a->no_erase != b->no_erase || a->cutoff_ns != b->cutoff_ns || a->now_ns != b->now_ns ||
        a->acct_max != b->acct_max || a->acct_streams != b->acct_streams ||
        a->acct_consumers != b->acct_consumers || a->action != b->action ||
        !jscmd_pub_eq(&a->pub, &b->pub) || !jscmd_acks_eq(&a->acks, &b->acks) || a->npubs != b->npubs ||
        a->nackss != b->nackss)
        return false;
    for (size_t i = 0; i < a->npubs; i++)
        if (!jscmd_pub_eq(&a->pubs[i], &b->pubs[i]))
            return false;
    for (size_t i = 0; i < a->nackss; i++)
        if (!jscmd_acks_eq(&a->ackss[i], &b->ackss[i]))
            return false;
    return true;
}

#endif
