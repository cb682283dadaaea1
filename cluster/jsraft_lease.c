/*
 * cluster/jsraft_lease.c — the leader's lease on canonical/raft 0.15 (the
 * bookkeeping is cluster/jslease.c; why and on what it rests:
 * cluster/jslease.h), and what /healthz learns from it.
 *
 * The leader sends a probe through the engine every poll (50 ms); each
 * follower answers from raft's own view of itself: the leader it follows,
 * the term, and when its election timer was last reset (0.15 keeps these
 * in struct raft, read here on the JetStream thread that runs raft). The
 * barrier that starts a term and every committed proposal count too. Times
 * are CLOCK_MONOTONIC milliseconds (libuv's clock, which raft's timers use
 * as well).
 */
#include <stdint.h>

#include "cluster/jsraft_impl.h"

/* A follower says it can serve while it heard from its leader this
 * recently (heartbeats come every 100 ms). */
#define FOLLOWER_CONTACT_MS 500
/* A transfer's target may win an election for this long after it began
 * (the transfer waits an election timeout; its votes may be late). */
#define TRANSFER_HOLD_MS (3 * ELECTION_MS)

int64_t jsraft__now_ms(void)
{
    return (int64_t)(uv_hrtime() / 1000000u);
}

static bool leading(struct jsraft *r)
{
    return r->started && raft_state(&r->raft) == RAFT_LEADER;
}

void jsraft__lease_follow(struct jsraft *r)
{
    if (leading(r)) {
        if (r->lease.term != r->raft.current_term)
            jslease_reset(&r->lease, r->raft.current_term);
    } else if (r->lease.term) {
        jslease_reset(&r->lease, 0);
    }
}

void jsraft__lease_committed(struct jsraft *r, raft_term term, int64_t appended_ms)
{
    jsraft__lease_follow(r);
    if (leading(r))
        jslease_committed(&r->lease, term, appended_ms);
}

void jsraft__lease_transfer(struct jsraft *r)
{
    jslease_reset(&r->lease, r->raft.current_term);
    r->transfer_term = r->raft.current_term;
    r->transfer_until_ms = jsraft__now_ms() + TRANSFER_HOLD_MS;
}

void jsraft__lease_probe(struct jsraft *r)
{
    if (!leading(r) || r->role != JSRAFT_LEADER || !r->engine.lease_probe)
        return;
    char line[JSLEASE_LINE_MAX];
    size_t n = jslease_probe(&r->lease, r->raft.current_term, r->id, jsraft__now_ms(), line,
                             sizeof line);
    if (n)
        r->engine.lease_probe(r->engine.arg, line, n);
}

/* Until when this leader holds its lease (0: it does not). */
static int64_t lease_until(struct jsraft *r, int64_t now)
{
    if (!leading(r) || r->role != JSRAFT_LEADER)
        return 0;
    if (r->transfer_term == r->raft.current_term && now < r->transfer_until_ms)
        return 0;
    jsraft__lease_follow(r);
    const struct raft_configuration *c = &r->raft.configuration;
    uint64_t voters[JSLEASE_MAX_PEERS];
    size_t n = 0;
    for (unsigned i = 0; i < c->n && n < JSLEASE_MAX_PEERS; i++)
        if (c->servers[i].role == RAFT_VOTER)
            voters[n++] = c->servers[i].id;
    return jslease_until(&r->lease, r->raft.current_term, r->id, voters, n);
}

bool jsraft_lease_valid(struct jsraft *r)
{
    int64_t now = jsraft__now_ms();
    return lease_until(r, now) > now;
}

size_t jsraft_lease_answer(struct jsraft *r, const char *probe, size_t len, char *out,
                           size_t cap)
{
    if (!r->started)
        return 0;
    uv_update_time(&r->loop); /* uv_now is cached at each loop turn */
    struct jslease_follower f = {
        .following = raft_state(&r->raft) == RAFT_FOLLOWER &&
                     r->raft.follower_state.current_leader.id != 0,
        .term = r->raft.current_term,
        .leader_id = r->raft.follower_state.current_leader.id,
        .self_id = r->id,
        .last_contact_ms = (int64_t)r->raft.election_timer_start,
        .now_ms = (int64_t)uv_now(&r->loop),
        .election_ms = r->raft.election_timeout,
    };
    return jslease_answer(&f, probe, len, out, cap);
}

bool jsraft_lease_take(struct jsraft *r, const char *answer, size_t len)
{
    if (!leading(r))
        return false;
    int64_t now = jsraft__now_ms();
    bool before = lease_until(r, now) > now;
    if (jslease_take(&r->lease, answer, len) < 0)
        return false;
    return !before && lease_until(r, now) > now;
}

int64_t jsraft_serve_until_ms(struct jsraft *r)
{
    int64_t now = jsraft__now_ms();
    if (leading(r))
        return lease_until(r, now);
    if (!r->started || raft_state(&r->raft) != RAFT_FOLLOWER ||
        !r->raft.follower_state.current_leader.id)
        return 0;
    uv_update_time(&r->loop);
    int64_t since = (int64_t)uv_now(&r->loop) - (int64_t)r->raft.election_timer_start;
    return now - since + FOLLOWER_CONTACT_MS;
}
