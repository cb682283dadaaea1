/*
 * server/jetstream/js_consumer_ack.c — what a consumer has delivered and not yet
 * settled, and how acks settle it (spec/jetstream.md §8.6).
 *
 * c->rt.pend holds one entry per delivered message still open, sorted by
 * stream sequence (a new delivery always comes from further along the
 * stream, so appending keeps the order; lookups bisect). Settled entries
 * stay until everything before them is settled, so the array is exactly
 * "pending and acked above the floor" (a CONSUMER_ACKS command). One
 * timer per consumer fires at the earliest ack deadline; expired entries
 * join a FIFO redelivery queue that js_consumer_peek serves before new
 * messages. The ack floor moves as nats-server 2.9 moves it: only when an
 * ack settles what is at the floor (explicit), or to the acked pair (all).
 * What acks settle here is the runtime's live view; it reaches the
 * replicated progress and the stream (retention) through the CONSUMER_ACKS
 * the next flush proposes (js_consumer_store.c, js_consumer_fsm.c).
 * Runs only on the JetStream loop.
 */
#include <errno.h>
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

#include "server/jetstream/js_consumer.h"
#include "server/worker.h"

#define NS_PER_MS 1000000LL
#define DEFAULT_ACK_WAIT (30LL * 1000 * NS_PER_MS)

static struct timeval tv_from_ns(int64_t ns)
{
    if (ns < NS_PER_MS)
        ns = NS_PER_MS; /* never spin on a zero timeout */
    struct timeval tv = { .tv_sec = ns / 1000000000LL, .tv_usec = (ns % 1000000000LL) / 1000 };
    return tv;
}

/* ---- the pending array and the redelivery queue ---- */

struct js_pending *js_consumer_pend_find(struct js_consumer *c, uint64_t sseq)
{
    size_t lo = c->rt.pend_off, hi = c->rt.pend_off + c->rt.pend_len;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (c->rt.pend[mid].sseq < sseq)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < c->rt.pend_off + c->rt.pend_len && c->rt.pend[lo].sseq == sseq)
        return &c->rt.pend[lo];
    return NULL;
}

int js_consumer_pend_add(struct js_consumer *c, uint64_t sseq, uint64_t cseq, uint32_t dc,
                         enum js_pend_state state)
{
    if (c->rt.pend_off + c->rt.pend_len == c->rt.pend_cap) {
        if (c->rt.pend_off > c->rt.pend_cap / 2) {
            memmove(c->rt.pend, c->rt.pend + c->rt.pend_off, c->rt.pend_len * sizeof *c->rt.pend);
            c->rt.pend_off = 0;
        } else {
            size_t cap = c->rt.pend_cap ? c->rt.pend_cap * 2 : 64;
            struct js_pending *p = realloc(c->rt.pend, cap * sizeof *p);
            if (!p)
                return -ENOMEM;
            c->rt.pend = p;
            c->rt.pend_cap = cap;
        }
    }
    struct js_pending *p = &c->rt.pend[c->rt.pend_off + c->rt.pend_len++];
    p->sseq = sseq;
    p->cseq = cseq;
    p->dc = dc;
    p->state = (uint8_t)state;
    p->deadline = 0;
    if (state != JS_PEND_DONE) {
        c->rt.npending++;
        if (dc > 1)
            c->rt.nredelivered++;
    }
    if (state == JS_PEND_LIVE) {
        p->deadline = js_clock(c->st->js) + js_consumer_ack_wait(c, dc);
        js_consumer_arm_ack(c, p->deadline);
    }
    return 0;
}

void js_consumer_pend_done(struct js_consumer *c, struct js_pending *p, bool acked)
{
    if (p->state == JS_PEND_DONE)
        return;
    c->rt.npending--;
    if (p->dc > 1) {
        c->rt.nredelivered--;
        /* nats-server forgets a delivery count only when the message is
         * acked; num_redelivered keeps counting dropped ones. */
        if (!acked)
            c->rt.nredelivered_dropped++;
    }
    p->state = JS_PEND_DONE;
}

static int rdq_push(struct js_consumer *c, uint64_t sseq)
{
    if (c->rt.rdq_len == c->rt.rdq_cap) {
        size_t cap = c->rt.rdq_cap ? c->rt.rdq_cap * 2 : 16;
        uint64_t *q = malloc(cap * sizeof *q);
        if (!q)
            return -ENOMEM;
        for (size_t i = 0; i < c->rt.rdq_len; i++)
            q[i] = c->rt.rdq[(c->rt.rdq_head + i) % c->rt.rdq_cap];
        free(c->rt.rdq);
        c->rt.rdq = q;
        c->rt.rdq_cap = cap;
        c->rt.rdq_head = 0;
    }
    c->rt.rdq[(c->rt.rdq_head + c->rt.rdq_len++) % c->rt.rdq_cap] = sseq;
    return 0;
}

void js_consumer_rdq_pop(struct js_consumer *c)
{
    c->rt.rdq_head = (c->rt.rdq_head + 1) % c->rt.rdq_cap;
    c->rt.rdq_len--;
}

/* Queue p for redelivery. One that used up max_deliver is dropped only
 * when its turn comes (js_consumer_peek), as nats-server does, so a late
 * ack still counts until then. */
static bool requeue(struct js_consumer *c, struct js_pending *p)
{
    if (rdq_push(c, p->sseq) < 0)
        return false; /* stays LIVE; the next timer run retries */
    p->state = JS_PEND_QUEUED;
    return true;
}

void js_consumer_settle(struct js_consumer *c, bool by_ack)
{
    bool popped = false;
    while (c->rt.pend_len && c->rt.pend[c->rt.pend_off].state == JS_PEND_DONE) {
        c->rt.pend_off++;
        c->rt.pend_len--;
        popped = true;
    }
    if (!c->rt.pend_len)
        c->rt.pend_off = 0;
    /* nats-server moves the floor only when an ack settles what is at it:
     * up to just below the oldest entry still open, or to the read
     * position when nothing is open. Drops (max_deliver, messages gone)
     * leave it where it is until the next ack. */
    if (!by_ack || (c->rt.pend_len && !popped))
        return;
    uint64_t fs = c->rt.sseq ? c->rt.sseq - 1 : 0, fc = c->rt.dseq;
    if (c->rt.pend_len) {
        const struct js_pending *p = &c->rt.pend[c->rt.pend_off];
        fs = p->sseq - 1;
        fc = p->cseq ? p->cseq - 1 : 0;
    }
    /* A redelivered head carries a late consumer sequence: keep the floor
     * monotonic. */
    if (fs > c->rt.floor_sseq)
        c->rt.floor_sseq = fs;
    if (fc > c->rt.floor_cseq)
        c->rt.floor_cseq = fc;
}

int64_t js_consumer_ack_wait(const struct js_consumer *c, uint32_t dc)
{
    if (c->cfg.nbackoff) {
        size_t i = dc ? dc - 1 : 0;
        if (i >= c->cfg.nbackoff)
            i = c->cfg.nbackoff - 1;
        return c->cfg.backoff[i];
    }
    return c->cfg.ack_wait > 0 ? c->cfg.ack_wait : DEFAULT_ACK_WAIT;
}

void js_consumer_arm_ack(struct js_consumer *c, int64_t deadline)
{
    if (!c->rt.ack_ev || (c->rt.ack_at && c->rt.ack_at <= deadline))
        return;
    c->rt.ack_at = deadline;
    struct timeval tv = tv_from_ns(deadline - js_clock(c->st->js));
    event_add(c->rt.ack_ev, &tv);
}

/* Ack deadlines passed: those messages go to the redelivery queue. */
static void on_ack_timer(evutil_socket_t fd, short what, void *arg)
{
    struct js_consumer *c = arg;
    (void)fd;
    (void)what;
    c->rt.ack_at = 0;
    int64_t now = js_clock(c->st->js), next = 0;
    bool queued = false;
    for (size_t i = c->rt.pend_off; i < c->rt.pend_off + c->rt.pend_len; i++) {
        struct js_pending *p = &c->rt.pend[i];
        if (p->state != JS_PEND_LIVE)
            continue;
        if (p->deadline <= now) {
            if (requeue(c, p))
                queued = true;
            else if (!next || now + 100 * NS_PER_MS < next)
                next = now + 100 * NS_PER_MS; /* out of memory: retry */
        } else if (!next || p->deadline < next) {
            next = p->deadline;
        }
    }
    if (next)
        js_consumer_arm_ack(c, next);
    if (queued)
        js_consumer_kick(c);
}

/* ---- acks (§8.6) ---- */

static void settle_acked(struct js_consumer *c, struct js_pending *p)
{
    js_consumer_pend_done(c, p, true);
}

static void after_ack(struct js_consumer *c, bool move_floor)
{
    int64_t now = js_clock(c->st->js);
    c->rt.last_acked = now;
    c->rt.active_at = now;
    js_consumer_settle(c, move_floor);
    js_consumer_mark_dirty(c);
    js_consumer_kick(c); /* max_ack_pending may have made room */
}

bool js_consumer_on_ack(struct js_consumer *c, uint64_t sseq, uint64_t cseq)
{
    if (c->cfg.ack_policy == JS_ACK_NONE)
        return true;
    if (sseq >= c->rt.sseq)
        return false; /* never delivered as far as this node knows */
    if (c->cfg.ack_policy == JS_ACK_ALL) {
        /* Everything up to sseq; the floor becomes exactly the acked pair
         * (nats-server's AckAll). */
        if (sseq <= c->rt.floor_sseq || cseq <= c->rt.floor_cseq)
            return true;
        for (size_t i = c->rt.pend_off; i < c->rt.pend_off + c->rt.pend_len && c->rt.pend[i].sseq <= sseq;
             i++)
            if (c->rt.pend[i].state != JS_PEND_DONE)
                settle_acked(c, &c->rt.pend[i]);
        c->rt.floor_sseq = sseq;
        c->rt.floor_cseq = cseq;
        after_ack(c, false);
        return true;
    }
    struct js_pending *p = js_consumer_pend_find(c, sseq);
    if (!p || p->state == JS_PEND_DONE)
        return true;
    settle_acked(c, p);
    after_ack(c, true);
    return true;
}

void js_consumer_on_nak(struct js_consumer *c, uint64_t sseq, int64_t delay)
{
    struct js_pending *p = c->cfg.ack_policy == JS_ACK_NONE ? NULL : js_consumer_pend_find(c, sseq);
    if (!p || p->state != JS_PEND_LIVE)
        return;
    c->rt.active_at = js_clock(c->st->js);
    if (delay > 0) {
        p->deadline = c->rt.active_at + delay;
        js_consumer_arm_ack(c, p->deadline);
        return;
    }
    requeue(c, p);
    js_consumer_kick(c);
}

void js_consumer_on_progress(struct js_consumer *c, uint64_t sseq)
{
    struct js_pending *p = c->cfg.ack_policy == JS_ACK_NONE ? NULL : js_consumer_pend_find(c, sseq);
    if (!p || p->state == JS_PEND_DONE)
        return;
    /* A queued one is taken back: the rdq entry is skipped when reached. */
    p->state = JS_PEND_LIVE;
    c->rt.active_at = js_clock(c->st->js);
    p->deadline = c->rt.active_at + js_consumer_ack_wait(c, p->dc);
    js_consumer_arm_ack(c, p->deadline);
}

void js_consumer_on_term(struct js_consumer *c, uint64_t sseq)
{
    struct js_pending *p = c->cfg.ack_policy == JS_ACK_NONE ? NULL : js_consumer_pend_find(c, sseq);
    if (!p || p->state == JS_PEND_DONE)
        return;
    settle_acked(c, p);
    after_ack(c, true);
}

int js_consumer_ack_init(struct js_consumer *c)
{
    c->rt.ack_ev = evtimer_new(c->st->js->env.base, on_ack_timer, c);
    return c->rt.ack_ev ? 0 : -ENOMEM;
}
