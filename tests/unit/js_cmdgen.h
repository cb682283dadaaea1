/*
 * tests/unit/js_cmdgen.h — the random JetStream command generator shared by
 * the state-machine tests (check_js_fsm: replicas fed directly; check_js_raft:
 * replicas fed through raft's in-memory fixture).
 *
 * gen_command makes the next command of a random log from the seeded
 * xorshift state rng: stream creates with every retention, discard policy
 * and limit, updates, deletes, publishes with and without msg-ids,
 * expected-* values right and wrong, rollups, purges with filters,
 * sequences and keeps, message deletes, age expiry, consumer creates,
 * deletes and acks. The command's bytes point into struct gen, so they
 * live until the next call. Test support only; header-only so each test
 * binary stays one file.
 */
#ifndef TERN_TESTS_JS_CMDGEN_H
#define TERN_TESTS_JS_CMDGEN_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "proto/jscmd.h"

#define MS 1000000LL

static uint64_t rng;

static inline uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static inline unsigned pick(unsigned n)
{
    return (unsigned)(next() % n);
}

static const char *const streams[] = { "ORDERS", "KV_b", "WQ" };
static const char *const subjects[] = { "a.1", "a.2", "a.3", "b.x", "b.y", "c" };

/* Stream i's subjects never overlap another's, so creates succeed unless
 * the log deliberately asks for an overlap (subjects "a.>" on WQ). */
static const char *const stream_subjects[] = { "[\"a.*\"]", "[\"b.>\"]", "[\"c\"]" };

struct gen {
    char cfg[512];
    char cname[8];
    uint64_t acked[8];
    uint64_t redelivered[3][2];
    char subj[32];
    char hdr[128];
    char data[64];
    char msgid[32];
    char filter[16];
    int64_t clock;       /* the proposer's clock: mostly forward, sometimes back */
    bool file;           /* file storage (restart case) or memory */
    bool durable_only;   /* only durable consumers (they alone survive a
                            restart of a single node) */
};

static inline struct jscmd_bytes B(const char *s)
{
    return (struct jscmd_bytes){ s, strlen(s) };
}

static const char *const consumers[] = { "d1", "d2", "e1" };

static inline void gen_consumer(struct gen *g, struct jscmd *c)
{
    static const char *const acks[] = { "explicit", "all", "none" };
    static const char *const delivers[] = { "all", "last", "new", "by_start_sequence" };
    unsigned k = pick(g->durable_only ? 2 : 3);
    snprintf(g->cname, sizeof g->cname, "%s", consumers[k]);
    c->consumer = B(g->cname);
    /* several filters: pairs that a stream holds together, and one that
     * spans two streams (refused with 10093 wherever it is created) */
    static const char *const pairs[][2] = { { "a.1", "a.3" }, { "a.2", "a.3" },
                                            { "b.x", "b.y" }, { "a.1", "c" } };
    char filter[64] = "";
    unsigned f = pick(6);
    f = f < 3 ? 0 : f < 5 ? 1 : 2; /* none, one, several */
    if (f == 1)
        snprintf(filter, sizeof filter, ",\"filter_subject\":\"%s\"", subjects[pick(6)]);
    else if (f == 2) {
        unsigned p = pick(4);
        snprintf(filter, sizeof filter, ",\"filter_subjects\":[\"%s\",\"%s\"]", pairs[p][0],
                 pairs[p][1]);
    }
    unsigned d = pick(4);
    char start[40] = "";
    if (d == 3)
        snprintf(start, sizeof start, ",\"opt_start_seq\":%u", 1 + pick(20));
    snprintf(g->cfg, sizeof g->cfg,
             "{\"%s\":\"%s\",\"ack_policy\":\"%s\",\"deliver_policy\":\"%s\"%s%s,"
             "\"max_deliver\":%d}",
             k < 2 ? "durable_name" : "name", g->cname, acks[pick(4) == 0 ? pick(3) : 0],
             delivers[d], start, filter, pick(2) ? -1 : 1 + (int)pick(5));
    c->config = B(g->cfg);
}

static inline void gen_acks(struct gen *g, struct jscmd *c)
{
    snprintf(g->cname, sizeof g->cname, "%s", consumers[pick(g->durable_only ? 2 : 3)]);
    struct jscmd_acks *a = &c->acks;
    a->stream = c->stream;
    a->consumer = B(g->cname);
    a->start_sseq = pick(4) ? 0 : 1 + pick(10);
    a->delivered_sseq = pick(40);
    a->delivered_cseq = a->delivered_sseq + pick(3);
    a->ack_floor_sseq = a->delivered_sseq ? pick((unsigned)a->delivered_sseq + 1) : 0;
    a->ack_floor_cseq = a->ack_floor_sseq;
    size_t n = 0;
    for (uint64_t s = a->ack_floor_sseq + 1; s <= a->delivered_sseq && n < 8; s++)
        if (pick(2))
            g->acked[n++] = s;
    a->acked = g->acked;
    a->nacked = n;
    size_t r = 0;
    for (uint64_t s = a->ack_floor_sseq + 1; s <= a->delivered_sseq && r < 3; s++)
        if (pick(5) == 0)
            g->redelivered[r][0] = s, g->redelivered[r++][1] = 2 + pick(3);
    a->redelivered = (const uint64_t(*)[2])g->redelivered;
    a->nredelivered = r;
}

static inline void gen_config(struct gen *g, int s)
{
    static const char *const retention[] = { "limits", "interest", "workqueue" };
    const char *subj = stream_subjects[s];
    if (s == 2 && pick(8) == 0)
        subj = "[\"a.>\"]"; /* overlaps ORDERS: 10065 when both exist */
    int n = snprintf(g->cfg, sizeof g->cfg,
                     "{\"name\":\"%s\",\"subjects\":%s,\"retention\":\"%s\",\"storage\":\"%s\","
                     "\"discard\":\"%s\",\"max_msgs\":%d,\"max_bytes\":%d,"
                     "\"max_msgs_per_subject\":%d,\"duplicate_window\":%lld,"
                     "\"allow_rollup_hdrs\":%s,\"max_age\":%lld",
                     streams[s], subj, retention[pick(3) == 0 ? pick(3) : 0],
                     g->file ? "file" : "memory", pick(3) ? "old" : "new",
                     pick(2) ? -1 : 3 + (int)pick(20), pick(3) ? -1 : 200 + (int)pick(2000),
                     pick(3) ? -1 : 1 + (int)pick(4), (100 + (long long)pick(50000)) * MS,
                     pick(2) ? "true" : "false",
                     pick(3) ? 0LL : (2000 + (long long)pick(40000)) * MS);
    if (s == 1) /* 2.10's first_seq, the same in every create and update */
        n += snprintf(g->cfg + n, sizeof g->cfg - (size_t)n, ",\"first_seq\":7");
    if (s == 2 && pick(2)) /* 2.10's subject transform: stored as "c.t" */
        n += snprintf(g->cfg + n, sizeof g->cfg - (size_t)n,
                      ",\"subject_transform\":{\"src\":\"c\",\"dest\":\"c.t\"}");
    snprintf(g->cfg + n, sizeof g->cfg - (size_t)n, "}");
}

/* Mirrors: MIR follows ORDERS (sometimes filtered, sometimes from a start
 * sequence), MIR2 follows MIR; created, deleted and synced now and then. */
/* A mirror's or a source's optional filter or start sequence, as JSON
 * members to append (or nothing). */
static inline void gen_origin_extra(char *extra, size_t cap)
{
    extra[0] = '\0';
    if (pick(3) == 0)
        snprintf(extra, cap, ",\"filter_subject\":\"a.%u\"", 1 + pick(3));
    else if (pick(3) == 0)
        snprintf(extra, cap, ",\"opt_start_seq\":%u", 1 + pick(30));
}

static inline void gen_sources(struct gen *g, struct jscmd *c)
{
    c->stream = B("SRC");
    unsigned r = pick(20);
    if (r < 8) {
        char extra[64];
        gen_origin_extra(extra, sizeof extra);
        c->op = pick(3) ? JSCMD_STREAM_CREATE : JSCMD_STREAM_UPDATE;
        snprintf(g->cfg, sizeof g->cfg,
                 "{\"name\":\"SRC\",\"subjects\":[\"src\"],\"storage\":\"%s\","
                 "\"max_msgs\":%d,\"sources\":[{\"name\":\"ORDERS\"%s}%s]}",
                 g->file ? "file" : "memory", pick(3) ? -1 : 2 + (int)pick(10), extra,
                 pick(2) ? ",{\"name\":\"KV_b\"}" : "");
        c->config = B(g->cfg);
        c->created_ns = (uint64_t)g->clock;
    } else if (r < 10) {
        c->op = JSCMD_STREAM_DELETE;
    } else {
        c->op = JSCMD_STREAM_SYNC;
        c->has_seq = true;
        c->seq = 1 + pick(6);
    }
}

static inline void gen_mirror(struct gen *g, struct jscmd *c)
{
    if (pick(3) == 0) {
        gen_sources(g, c);
        return;
    }
    bool second = pick(3) == 0;
    c->stream = B(second ? "MIR2" : "MIR");
    unsigned r = pick(20);
    if (r < 8) {
        char extra[64];
        gen_origin_extra(extra, sizeof extra);
        c->op = JSCMD_STREAM_CREATE;
        snprintf(g->cfg, sizeof g->cfg,
                 "{\"name\":\"%s\",\"storage\":\"%s\",\"max_msgs\":%d,"
                 "\"mirror\":{\"name\":\"%s\"%s}}",
                 second ? "MIR2" : "MIR", g->file ? "file" : "memory",
                 pick(3) ? -1 : 2 + (int)pick(10), second ? "MIR" : "ORDERS", extra);
        c->config = B(g->cfg);
        c->created_ns = (uint64_t)g->clock;
    } else if (r < 11) {
        c->op = JSCMD_STREAM_DELETE;
    } else {
        c->op = JSCMD_STREAM_SYNC;
        c->has_seq = true;
        c->seq = 1 + pick(6);
    }
}

/* The next command of the log into *c (pointing into g). */
static inline void gen_command(struct gen *g, struct jscmd *c)
{
    memset(c, 0, sizeof *c);
    if (pick(30) == 0) {
        gen_mirror(g, c);
        return;
    }
    int s = (int)pick(3);
    c->stream = B(streams[s]);
    g->clock += (pick(10) == 0 ? -(int64_t)pick(3000) : (int64_t)pick(4000)) * MS;
    unsigned r = pick(100);
    if (r < 6) {
        c->op = JSCMD_STREAM_CREATE;
        gen_config(g, s);
        c->config = B(g->cfg);
        c->created_ns = (uint64_t)g->clock;
        c->acct_max = pick(6) == 0 ? 1500 : 0;
    } else if (r < 9) {
        c->op = JSCMD_STREAM_UPDATE;
        gen_config(g, s);
        c->config = B(g->cfg);
    } else if (r < 11) {
        c->op = JSCMD_STREAM_DELETE;
    } else if (r < 15) {
        c->op = JSCMD_STREAM_PURGE;
        if (pick(2)) {
            snprintf(g->filter, sizeof g->filter, "%s", subjects[pick(6)]);
            c->filter = B(g->filter);
        }
        if (pick(3) == 0)
            c->has_seq = true, c->seq = pick(30);
        else if (pick(3) == 0)
            c->has_keep = true, c->keep = pick(4);
    } else if (r < 19) {
        c->op = JSCMD_MSG_DELETE;
        c->has_seq = true;
        c->seq = pick(40);
    } else if (r < 26) {
        c->op = JSCMD_CONSUMER_CREATE;
        gen_consumer(g, c);
        c->created_ns = (uint64_t)g->clock;
    } else if (r < 28) {
        c->op = JSCMD_CONSUMER_DELETE;
        snprintf(g->cname, sizeof g->cname, "%s", consumers[pick(3)]);
        c->consumer = B(g->cname);
    } else if (r < 36) {
        c->op = JSCMD_CONSUMER_ACKS;
        gen_acks(g, c);
    } else if (r < 39) {
        c->op = JSCMD_STREAM_EXPIRE;
        c->cutoff_ns = (uint64_t)(g->clock - (int64_t)pick(60000) * MS);
        c->now_ns = pick(2) ? (uint64_t)g->clock : 0;
    } else {
        c->op = JSCMD_PUBLISH;
        struct jscmd_publish *p = &c->pub;
        p->stream = c->stream;
        snprintf(g->subj, sizeof g->subj, "%s", subjects[pick(6)]);
        p->subject = B(g->subj);
        snprintf(g->data, sizeof g->data, "payload-%u", pick(1000000));
        p->data = pick(10) ? B(g->data) : (struct jscmd_bytes){ NULL, 0 };
        p->ts_ns = (uint64_t)g->clock;
        if (pick(3) == 0) {
            snprintf(g->msgid, sizeof g->msgid, "id-%u", pick(40));
            p->msg_id = B(g->msgid);
            snprintf(g->hdr, sizeof g->hdr, "NATS/1.0\r\nNats-Msg-Id: %s\r\n\r\n", g->msgid);
            p->hdr = B(g->hdr);
        }
        if (pick(12) == 0)
            p->exp_stream = B(pick(2) ? streams[s] : "OTHER");
        if (pick(12) == 0)
            p->has_exp_last_seq = true, p->exp_last_seq = pick(30);
        if (pick(12) == 0)
            p->has_exp_last_subj_seq = true, p->exp_last_subj_seq = pick(30);
        if (pick(15) == 0)
            p->exp_last_msg_id = B(pick(2) ? g->msgid : "");
        if (pick(15) == 0)
            p->rollup = (uint8_t)(1 + pick(3));
        if (pick(20) == 0)
            p->acct_max = 800 + pick(2000);
    }
}

#endif
