/*
 * server/js_consumer_ack.c — what a consumer has delivered and not yet
 * settled, and how acks settle it (spec/jetstream.md §8.6).
 *
 * c->pend holds one entry per delivered message still open, sorted by
 * stream sequence (a new delivery always comes from further along the
 * stream, so appending keeps the order; lookups bisect). Settled entries
 * stay until everything before them is settled, so the array is exactly
 * "pending and acked above the floor" (a CONSUMER_ACKS command). One
 * timer per consumer fires at the earliest ack deadline; expired entries
 * join a FIFO redelivery queue that js_consumer_peek serves before new
 * messages. The ack floor moves as nats-server 2.9 moves it: only when an
 * ack settles what is at the floor (explicit), or to the acked pair (all).
 * Runs only on the JetStream loop.
 */
#include <errno.h>
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

#include "server/js_consumer.h"
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
    size_t lo = c->pend_off, hi = c->pend_off + c->pend_len;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (c->pend[mid].sseq < sseq)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < c->pend_off + c->pend_len && c->pend[lo].sseq == sseq)
        return &c->pend[lo];
    return NULL;
}

int js_consumer_pend_add(struct js_consumer *c, uint64_t sseq, uint64_t cseq, uint32_t dc,
                         enum js_pend_state state)
{
    if (c->pend_off + c->pend_len == c->pend_cap) {
        if (c->pend_off > c->pend_cap / 2) {
            memmove(c->pend, c->pend + c->pend_off, c->pend_len * sizeof *c->pend);
            c->pend_off = 0;
        } else {
            size_t cap = c->pend_cap ? c->pend_cap * 2 : 64;
            struct js_pending *p = realloc(c->pend, cap * sizeof *p);
            if (!p)
                return -ENOMEM;
            c->pend = p;
            c->pend_cap = cap;
        }
    }
    struct js_pending *p = &c->pend[c->pend_off + c->pend_len++];
    p->sseq = sseq;
    p->cseq = cseq;
    p->dc = dc;
    p->state = (uint8_t)state;
    p->deadline = 0;
    if (state != JS_PEND_DONE) {
        c->npending++;
        if (dc > 1)
            c->nredelivered++;
    }
    if (state == JS_PEND_LIVE) {
        p->deadline = js_now() + js_consumer_ack_wait(c, dc);
        js_consumer_arm_ack(c, p->deadline);
    }
    return 0;
}

void js_consumer_pend_done(struct js_consumer *c, struct js_pending *p, bool acked)
{
    if (p->state == JS_PEND_DONE)
        return;
    c->npending--;
    if (p->dc > 1) {
        c->nredelivered--;
        /* nats-server forgets a delivery count only when the message is
         * acked; num_redelivered keeps counting dropped ones. */
        if (!acked)
            c->nredelivered_dropped++;
    }
    p->state = JS_PEND_DONE;
}

static int rdq_push(struct js_consumer *c, uint64_t sseq)
{
    if (c->rdq_len == c->rdq_cap) {
        size_t cap = c->rdq_cap ? c->rdq_cap * 2 : 16;
        uint64_t *q = malloc(cap * sizeof *q);
        if (!q)
            return -ENOMEM;
        for (size_t i = 0; i < c->rdq_len; i++)
            q[i] = c->rdq[(c->rdq_head + i) % c->rdq_cap];
        free(c->rdq);
        c->rdq = q;
        c->rdq_cap = cap;
        c->rdq_head = 0;
    }
    c->rdq[(c->rdq_head + c->rdq_len++) % c->rdq_cap] = sseq;
    return 0;
}

void js_consumer_rdq_pop(struct js_consumer *c)
{
    c->rdq_head = (c->rdq_head + 1) % c->rdq_cap;
    c->rdq_len--;
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
    while (c->pend_len && c->pend[c->pend_off].state == JS_PEND_DONE) {
        c->pend_off++;
        c->pend_len--;
        popped = true;
    }
    if (!c->pend_len)
        c->pend_off = 0;
    /* nats-server moves the floor only when an ack settles what is at it:
     * up to just below the oldest entry still open, or to the read
     * position when nothing is open. Drops (max_deliver, messages gone)
     * leave it where it is until the next ack. */
    if (!by_ack || (c->pend_len && !popped))
        return;
    uint64_t fs = c->sseq ? c->sseq - 1 : 0, fc = c->dseq;
    if (c->pend_len) {
        const struct js_pending *p = &c->pend[c->pend_off];
        fs = p->sseq - 1;
        fc = p->cseq ? p->cseq - 1 : 0;
    }
    /* A redelivered head carries a late consumer sequence: keep the floor
     * monotonic. */
    if (fs > c->floor_sseq)
        c->floor_sseq = fs;
    if (fc > c->floor_cseq)
        c->floor_cseq = fc;
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
    if (c->ack_at && c->ack_at <= deadline)
        return;
    c->ack_at = deadline;
    struct timeval tv = tv_from_ns(deadline - js_now());
    event_add(c->ack_ev, &tv);
}

/* Ack deadlines passed: those messages go to the redelivery queue. */
static void on_ack_timer(evutil_socket_t fd, short what, void *arg)
{
    struct js_consumer *c = arg;
    (void)fd;
    (void)what;
    c->ack_at = 0;
    int64_t now = js_now(), next = 0;
    bool queued = false;
    for (size_t i = c->pend_off; i < c->pend_off + c->pend_len; i++) {
        struct js_pending *p = &c->pend[i];
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
    if (c->st->cfg.retention != JS_RETAIN_LIMITS)
        js_stream_acked(c->st, c, p->sseq);
}

static void after_ack(struct js_consumer *c, bool move_floor)
{
    int64_t now = js_now();
    c->last_acked = now;
    c->active_at = now;
    js_consumer_settle(c, move_floor);
    js_consumer_mark_dirty(c);
    js_consumer_kick(c); /* max_ack_pending may have made room */
}

void js_consumer_apply_ack(struct js_consumer *c, uint64_t sseq, uint64_t cseq)
{
    if (c->cfg.ack_policy == JS_ACK_NONE)
        return;
    if (c->cfg.ack_policy == JS_ACK_ALL) {
        /* Everything up to sseq; the floor becomes exactly the acked pair
         * (nats-server's AckAll). */
        if (sseq <= c->floor_sseq || cseq <= c->floor_cseq || sseq >= c->sseq)
            return;
        for (size_t i = c->pend_off; i < c->pend_off + c->pend_len && c->pend[i].sseq <= sseq;
             i++)
            if (c->pend[i].state != JS_PEND_DONE)
                settle_acked(c, &c->pend[i]);
        c->floor_sseq = sseq;
        c->floor_cseq = cseq;
        after_ack(c, false);
        return;
    }
    struct js_pending *p = js_consumer_pend_find(c, sseq);
    if (!p || p->state == JS_PEND_DONE)
        return;
    settle_acked(c, p);
    after_ack(c, true);
}

void js_consumer_apply_nak(struct js_consumer *c, uint64_t sseq, int64_t delay)
{
    struct js_pending *p = c->cfg.ack_policy == JS_ACK_NONE ? NULL : js_consumer_pend_find(c, sseq);
    if (!p || p->state != JS_PEND_LIVE)
        return;
    c->active_at = js_now();
    if (delay > 0) {
        p->deadline = c->active_at + delay;
        js_consumer_arm_ack(c, p->deadline);
        return;
    }
    requeue(c, p);
    js_consumer_kick(c);
}

void js_consumer_apply_progress(struct js_consumer *c, uint64_t sseq)
{
    struct js_pending *p = c->cfg.ack_policy == JS_ACK_NONE ? NULL : js_consumer_pend_find(c, sseq);
    if (!p || p->state == JS_PEND_DONE)
        return;
    /* A queued one is taken back: the rdq entry is skipped when reached. */
    p->state = JS_PEND_LIVE;
    c->active_at = js_now();
    p->deadline = c->active_at + js_consumer_ack_wait(c, p->dc);
    js_consumer_arm_ack(c, p->deadline);
}

void js_consumer_apply_term(struct js_consumer *c, uint64_t sseq)
{
    struct js_pending *p = c->cfg.ack_policy == JS_ACK_NONE ? NULL : js_consumer_pend_find(c, sseq);
    if (!p || p->state == JS_PEND_DONE)
        return;
    settle_acked(c, p);
    after_ack(c, true);
}

bool js_consumer_acked(const struct js_consumer *c, uint64_t seq)
{
    if (seq <= c->floor_sseq)
        return true;
    if (seq >= c->sseq)
        return false; /* not reached yet */
    if (c->cfg.ack_policy == JS_ACK_NONE)
        return true;
    /* Between the floor and the read position: either tracked, or skipped
     * (filtered out, or passed over by last_per_subject). */
    const struct js_pending *p = js_consumer_pend_find((struct js_consumer *)c, seq);
    return !p || p->state == JS_PEND_DONE;
}


int js_consumer_ack_init(struct js_consumer *c)
{
    c->ack_ev = evtimer_new(c->st->js->w->base, on_ack_timer, c);
    return c->ack_ev ? 0 : -ENOMEM;
}
