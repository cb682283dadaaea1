/*
 * cluster/jslease.c — the raft leader's lease (see jslease.h for why and on
 * what it rests).
 *
 * Lines: a probe is "P <seq> <term> <leader id>", an answer
 * "A <seq> <term> <follower id> <remaining ms>", decimal numbers.
 */
#include "cluster/jslease.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void jslease_init(struct jslease *l, unsigned election_ms)
{
    memset(l, 0, sizeof *l);
    l->election_ms = election_ms;
    l->next_seq = 1;
}

void jslease_reset(struct jslease *l, uint64_t term)
{
    l->term = term;
    l->ngrant = 0;
    l->quorum_until_ms = 0;
    memset(l->ring_seq, 0, sizeof l->ring_seq);
}

/* A duration promised by another machine (or by raft's timer), shortened
 * for clock-rate drift and coarse clocks. */
static int64_t shorten(int64_t ms)
{
    int64_t v = ms - ms / 10 - JSLEASE_MARGIN_MS;
    return v > 0 ? v : 0;
}

size_t jslease_probe(struct jslease *l, uint64_t term, uint64_t leader_id, int64_t now_ms,
                     char *buf, size_t cap)
{
    if (term != l->term)
        jslease_reset(l, term);
    uint64_t seq = l->next_seq++;
    l->ring_seq[seq % JSLEASE_RING] = seq;
    l->ring_sent_ms[seq % JSLEASE_RING] = now_ms;
    int n = snprintf(buf, cap, "P %" PRIu64 " %" PRIu64 " %" PRIu64, seq, term, leader_id);
    return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

/* Reads n decimal numbers after a one-letter tag; false on anything else. */
static bool parse_line(const char *s, size_t len, char tag, uint64_t *v, int n)
{
    char line[JSLEASE_LINE_MAX];
    if (len < 2 || len >= sizeof line || s[0] != tag || s[1] != ' ')
        return false;
    memcpy(line, s, len);
    line[len] = '\0';
    const char *p = line + 1;
    for (int i = 0; i < n; i++) {
        if (*p != ' ' || p[1] < '0' || p[1] > '9')
            return false;
        char *end;
        v[i] = strtoull(p + 1, &end, 10);
        p = end;
    }
    return *p == '\0';
}

size_t jslease_answer(const struct jslease_follower *f, const char *probe, size_t len,
                      char *out, size_t cap)
{
    uint64_t v[3]; /* seq, term, leader id */
    if (!parse_line(probe, len, 'P', v, 3))
        return 0;
    if (!f->following || f->term != v[1] || f->leader_id != v[2] || f->self_id == v[2])
        return 0;
    /* Raft's follower timer fires no sooner than its election timeout after
     * the last reset (its randomized timeout is at least that long). */
    int64_t remaining = f->last_contact_ms + (int64_t)f->election_ms - f->now_ms;
    if (remaining <= 0)
        return 0;
    int n = snprintf(out, cap, "A %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRId64, v[0], v[1],
                     f->self_id, remaining);
    return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

int jslease_take(struct jslease *l, const char *answer, size_t len)
{
    uint64_t v[4]; /* seq, term, follower id, remaining ms */
    if (!parse_line(answer, len, 'A', v, 4) || v[1] != l->term || !l->term)
        return -1;
    uint64_t seq = v[0];
    if (!seq || l->ring_seq[seq % JSLEASE_RING] != seq)
        return -1; /* not a probe of this term, or too old to place */
    if (v[3] > (uint64_t)l->election_ms * 2)
        return -1; /* more than raft could promise: not trusted */
    int64_t until = l->ring_sent_ms[seq % JSLEASE_RING] + shorten((int64_t)v[3]);
    for (size_t i = 0; i < l->ngrant; i++) {
        if (l->grant[i].id == v[2]) {
            if (until > l->grant[i].until_ms)
                l->grant[i].until_ms = until;
            return 0;
        }
    }
    if (l->ngrant == JSLEASE_MAX_PEERS)
        return -1;
    l->grant[l->ngrant++] = (struct jslease_grant){ v[2], until };
    return 0;
}

void jslease_committed(struct jslease *l, uint64_t term, int64_t appended_ms)
{
    if (term != l->term || !term)
        return;
    int64_t until = appended_ms + shorten(l->election_ms);
    if (until > l->quorum_until_ms)
        l->quorum_until_ms = until;
}

static int cmp_desc(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

int64_t jslease_until(const struct jslease *l, uint64_t term, uint64_t self_id,
                      const uint64_t *voters, size_t nvoters)
{
    if (term != l->term || !term || !nvoters)
        return 0;
    size_t need = nvoters / 2 + 1;
    int64_t until[JSLEASE_MAX_PEERS];
    size_t n = 0;
    for (size_t i = 0; i < nvoters; i++) {
        if (voters[i] == self_id) {
            need--; /* the leader votes for itself */
            continue;
        }
        for (size_t j = 0; j < l->ngrant && n < JSLEASE_MAX_PEERS; j++)
            if (l->grant[j].id == voters[i])
                until[n++] = l->grant[j].until_ms;
    }
    if (need == 0)
        return INT64_MAX; /* a group of one: nobody else can be elected */
    int64_t best = l->quorum_until_ms;
    if (n >= need) {
        qsort(until, n, sizeof *until, cmp_desc);
        if (until[need - 1] > best)
            best = until[need - 1];
    }
    return best;
}
