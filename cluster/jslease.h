/*
 * cluster/jslease.h — the raft leader's lease: how long this leader can be
 * sure that no other member has been elected, so that what it serves from
 * its own state (deliveries to consumers, stream and message reads) is not
 * stale.
 *
 * Why: a leader cut off from the others keeps believing it leads until
 * raft's check-quorum notices, up to two election timeouts later, while
 * the others elect a new leader after one. In between it would deliver
 * messages that were acknowledged through the new leader (the fault
 * campaign saw exactly that). Raft writes are safe without a lease (they
 * need a majority); reads and deliveries are not.
 *
 * The guarantee a lease rests on is canonical/raft's own: a follower that
 * has a current leader grants no vote and starts no election until an
 * election timeout has passed since it last heard from that leader. So:
 *
 *  - a probe the leader sends at time s, answered by a follower that still
 *    follows it in the same term and has `remaining` ms left before its
 *    election timer could fire, proves that follower votes for nobody else
 *    before s + remaining (it answered after s);
 *  - an entry the leader appended at time a and saw committed proves that a
 *    majority heard from it at a or later: nobody else before a + timeout.
 *
 * The lease holds while this node and enough grants form a majority of the
 * voters. Durations cross machines, so each is shortened by a tenth plus a
 * fixed margin for clock-rate drift and coarse clocks. Two things a lease
 * cannot see are handled by the caller (cluster/jsraft.c): a member that
 * restarts forgets it had a leader (so a member with raft state holds vote
 * requests back for one election timeout after it starts: jsraft_io.h),
 * and a leadership transfer lets a
 * follower vote at once (so no lease while one runs).
 *
 * Pure bookkeeping: no raft, no clock, no I/O; times are milliseconds of
 * one monotonic clock, supplied by the caller. Probes and answers travel as
 * short text lines, whose formats are private to this module.
 */
#ifndef TERN_CLUSTER_JSLEASE_H
#define TERN_CLUSTER_JSLEASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JSLEASE_RING 64        /* probes whose send time is remembered */
#define JSLEASE_MAX_PEERS 16
#define JSLEASE_MARGIN_MS 20   /* subtracted from every duration, with a tenth */
#define JSLEASE_LINE_MAX 96    /* longest probe or answer line */

struct jslease_grant {
    uint64_t id;               /* the follower's raft id */
    int64_t until_ms;          /* it votes for nobody else before this */
};

/* Owned by its leader (embedded in struct jsraft). */
struct jslease {
    unsigned election_ms;      /* the group's (minimum) election timeout */
    uint64_t term;             /* the leader term grants belong to; 0: none */
    uint64_t next_seq;         /* the next probe's number */
    uint64_t ring_seq[JSLEASE_RING];
    int64_t ring_sent_ms[JSLEASE_RING];
    struct jslease_grant grant[JSLEASE_MAX_PEERS];
    size_t ngrant;
    int64_t quorum_until_ms;   /* from committed entries: a majority at once */
};

/* What a follower knows of itself when a probe arrives. */
struct jslease_follower {
    bool following;            /* a raft follower with a current leader */
    uint64_t term;             /* its current term */
    uint64_t leader_id;        /* the leader it follows */
    uint64_t self_id;
    int64_t last_contact_ms;   /* when its election timer was last reset */
    int64_t now_ms;            /* the same clock, read fresh */
    unsigned election_ms;      /* its (minimum) election timeout */
};

void jslease_init(struct jslease *l, unsigned election_ms);
/* Forget every grant (a new term, lost leadership, a transfer). */
void jslease_reset(struct jslease *l, uint64_t term);

/* Leader in term, at now: the next probe line into buf (cap at least
 * JSLEASE_LINE_MAX). Returns its length. */
size_t jslease_probe(struct jslease *l, uint64_t term, uint64_t leader_id, int64_t now_ms,
                     char *buf, size_t cap);
/* Follower: the answer to a probe line into out (cap at least
 * JSLEASE_LINE_MAX), or 0 when there is nothing to promise (not following
 * that leader in that term, or its timer already ran out, or a malformed
 * line). */
size_t jslease_answer(const struct jslease_follower *f, const char *probe, size_t len,
                      char *out, size_t cap);
/* Leader: a follower's answer. Ignored unless it is for this term and a
 * probe still remembered. 0 taken, negative ignored. */
int jslease_take(struct jslease *l, const char *answer, size_t len);
/* Leader: an entry it appended at appended_ms in this term is committed. */
void jslease_committed(struct jslease *l, uint64_t term, int64_t appended_ms);

/* Leader in term, with these voters (this node's id among them or not):
 * until when it holds the lease; a time at or before now means none. */
int64_t jslease_until(const struct jslease *l, uint64_t term, uint64_t self_id,
                      const uint64_t *voters, size_t nvoters);

#endif
