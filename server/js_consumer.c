/*
 * server/js_consumer.c — one consumer's life and its read position
 * (spec/jetstream.md §8.1, §8.4, §8.5): creation, update and deletion,
 * where it starts for each deliver policy, which message goes next, the
 * accounting of a delivery, num_pending, inactivity, and what it does when
 * the stream appends or removes messages.
 *
 * The read position (sseq) only moves forward. What was delivered and not
 * settled is js_consumer_ack.c's. Delivery itself (pull or push) runs in a
 * deferred "kick", so acks, publishes and stream changes never re-enter it:
 * the stream's notifications only set flags and kick. Runs only on the
 * JetStream loop; never blocks.
 */
#include "server/js_consumer.h"

#include <errno.h>
#include <event2/event.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/subject.h"
#include "server/log.h"
#include "server/worker.h"

#define NS_PER_MS 1000000LL
#define MAX_TOKENS 64

static struct timeval tv_from_ns(int64_t ns)
{
    if (ns < NS_PER_MS)
        ns = NS_PER_MS; /* never spin on a zero timeout */
    struct timeval tv = { .tv_sec = ns / 1000000000LL, .tv_usec = (ns % 1000000000LL) / 1000 };
    return tv;
}

static bool tok_is(const struct proto_slice *t, char c)
{
    return t->len == 1 && t->ptr[0] == c;
}

bool js_subject_covers(const char *p, const char *s)
{
    struct proto_slice pt[MAX_TOKENS], sv[MAX_TOKENS];
    size_t np = subject_tokenize(p, strlen(p), pt, MAX_TOKENS);
    size_t ns = subject_tokenize(s, strlen(s), sv, MAX_TOKENS);
    if (np > MAX_TOKENS || ns > MAX_TOKENS)
        return false;
    for (size_t i = 0; i < np; i++) {
        if (tok_is(&pt[i], '>'))
            return i < ns;
        if (i >= ns || tok_is(&sv[i], '>'))
            return false;
        if (tok_is(&pt[i], '*'))
            continue;
        if (tok_is(&sv[i], '*') || pt[i].len != sv[i].len ||
            memcmp(pt[i].ptr, sv[i].ptr, pt[i].len) != 0)
            return false;
    }
    return np == ns;
}

/* The store is asked with no filter when the consumer's filter takes all
 * the stream's subjects anyway (every KV watchall): counting and scanning
 * unfiltered is O(1) per step in the store. */
static void set_filter(struct js_consumer *c)
{
    const char *f = c->cfg.filter_subject;
    c->filter = NULL;
    c->filter_len = 0;
    if (!f || !*f)
        return;
    const struct js_stream_config *sc = &c->st->cfg;
    bool all = sc->nsubjects > 0;
    for (size_t i = 0; all && i < sc->nsubjects; i++)
        all = js_subject_covers(f, sc->subjects[i]);
    if (!all) {
        c->filter = f;
        c->filter_len = strlen(f);
    }
}

static uint64_t count_from(struct js_consumer *c, uint64_t start)
{
    return store_count_from(c->st->store, start, c->filter, c->filter_len);
}

/* ---- start position (§8.4) ---- */

struct lps_acc {
    uint64_t *seqs;
    size_t n, cap;
    int err;
};

static int lps_add(void *arg, const char *subject, size_t len,
                   const struct store_subject_state *ss)
{
    struct lps_acc *a = arg;
    (void)subject;
    (void)len;
    if (!ss->msgs)
        return 0;
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 64;
        uint64_t *s = realloc(a->seqs, cap * sizeof *s);
        if (!s) {
            a->err = -ENOMEM;
            return 1;
        }
        a->seqs = s;
        a->cap = cap;
    }
    a->seqs[a->n++] = ss->last_seq;
    return 0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void lps_finish(struct js_consumer *c)
{
    if (c->sseq < c->lps_resume)
        c->sseq = c->lps_resume;
    free(c->lps);
    c->lps = NULL;
    c->lps_len = c->lps_pos = 0;
}

/* nats-server's selectStartingSeqNo. */
static int select_start(struct js_consumer *c)
{
    struct store *store = c->st->store;
    struct store_state s;
    store_get_state(store, &s);
    uint64_t seq = s.first_seq;
    switch (c->cfg.deliver_policy) {
    case JS_DELIVER_ALL:
        break;
    case JS_DELIVER_LAST:
        seq = s.last_seq;
        if (c->filter) {
            struct lps_acc a = { 0 };
            store_each_subject(store, c->filter, c->filter_len, lps_add, &a);
            seq = 0;
            for (size_t i = 0; i < a.n; i++)
                if (a.seqs[i] > seq)
                    seq = a.seqs[i];
            free(a.seqs);
        }
        break;
    case JS_DELIVER_NEW:
        seq = s.last_seq + 1;
        break;
    case JS_DELIVER_BY_START_SEQ:
        seq = c->cfg.opt_start_seq;
        break;
    case JS_DELIVER_BY_START_TIME:
        seq = store_seq_at_time(store, c->cfg.opt_start_time);
        if (!seq)
            seq = s.last_seq + 1;
        break;
    case JS_DELIVER_LAST_PER_SUBJECT: {
        struct lps_acc a = { 0 };
        store_each_subject(store, c->filter, c->filter_len, lps_add, &a);
        if (a.err) {
            free(a.seqs);
            return a.err;
        }
        seq = s.last_seq + 1;
        if (a.n) {
            qsort(a.seqs, a.n, sizeof *a.seqs, cmp_u64);
            c->lps = a.seqs;
            c->lps_len = a.n;
            c->lps_resume = s.last_seq + 1;
            seq = a.seqs[0];
        } else {
            free(a.seqs);
        }
        break;
    }
    }
    if (seq < s.first_seq)
        seq = s.first_seq;
    else if (seq > s.last_seq)
        seq = s.last_seq + 1;
    if (!seq)
        seq = 1;
    c->sseq = seq;
    c->dseq = 0;
    /* nats-server starts every floor at zero, whatever the start. */
    c->floor_sseq = 0;
    c->floor_cseq = 0;
    c->np_valid = false;
    return 0;
}

/* ---- num_pending ---- */

uint64_t js_consumer_num_pending(struct js_consumer *c)
{
    struct store_state s;
    store_get_state(c->st->store, &s);
    if (!c->np_valid) {
        if (c->lps)
            c->np = (c->lps_len - c->lps_pos) + count_from(c, c->lps_resume);
        else
            c->np = count_from(c, c->sseq);
        c->np_last = s.last_seq;
        c->np_valid = true;
    } else if (s.last_seq > c->np_last) {
        c->np += count_from(c, c->np_last + 1);
        c->np_last = s.last_seq;
    }
    return c->np;
}

uint64_t js_consumer_available(struct js_consumer *c)
{
    return js_consumer_num_pending(c) + c->rdq_len;
}

/* ---- choosing and accounting a delivery ---- */

static size_t digits(uint64_t v)
{
    size_t n = 1;
    while (v >= 10) {
        v /= 10;
        n++;
    }
    return n;
}

static void fill_next(struct js_consumer *c, struct js_cnext *n)
{
    const struct store_msg *m = n->msg;
    int len = snprintf(n->ack, sizeof n->ack, "$JS.ACK.%s.%s.%" PRIu32 ".%" PRIu64 ".%" PRIu64
                       ".%" PRId64 ".%" PRIu64,
                       c->st->cfg.name, c->name, n->dc, m->seq, n->cseq, m->ts, n->pending);
    n->ack_len = len < 0 ? 0 : (size_t)len >= sizeof n->ack ? sizeof n->ack - 1 : (size_t)len;
    size_t body = m->hdr_len + m->data_len;
    if (c->cfg.headers_only) /* headers + "Nats-Msg-Size: N\r\n", no payload */
        body = (m->hdr_len ? m->hdr_len : 12) + 17 + digits(m->data_len);
    n->size = m->subject_len + n->ack_len + body;
}

int js_consumer_peek(struct js_consumer *c, struct js_cnext *n)
{
    struct store *store = c->st->store;
    bool settled = false;
    int rc = -ENOENT;
    n->msg = &c->scratch;
    /* Redeliveries go before new messages (§8.6). */
    while (c->rdq_len) {
        struct js_pending *p = js_consumer_pend_find(c, c->rdq[c->rdq_head]);
        if (!p || p->state != JS_PEND_QUEUED) {
            js_consumer_rdq_pop(c);
            continue;
        }
        if (c->cfg.max_deliver > 0 && p->dc >= (uint64_t)c->cfg.max_deliver) {
            js_consumer_rdq_pop(c);
            js_consumer_pend_done(c, p, false);
            settled = true;
            continue;
        }
        if (store_load(store, p->sseq, &c->scratch) < 0) {
            js_consumer_rdq_pop(c); /* gone from the stream: nothing left to redeliver */
            js_consumer_pend_done(c, p, true);
            settled = true;
            continue;
        }
        n->redelivery = true;
        n->pidx = (size_t)(p - c->pend);
        n->dc = p->dc + 1;
        n->cseq = c->dseq + 1;
        n->pending = js_consumer_num_pending(c);
        fill_next(c, n);
        rc = 0;
        goto out;
    }
    if (c->cfg.ack_policy != JS_ACK_NONE && c->cfg.max_ack_pending > 0 &&
        c->npending >= (size_t)c->cfg.max_ack_pending) {
        rc = -EAGAIN;
        goto out;
    }
    bool found = false;
    while (c->lps && c->lps_pos < c->lps_len) {
        if (store_load(store, c->lps[c->lps_pos], &c->scratch) == 0) {
            found = true;
            break;
        }
        c->lps_pos++;
    }
    if (c->lps && !found)
        lps_finish(c);
    if (!found && store_load_next(store, c->sseq, c->filter, c->filter_len, &c->scratch) < 0) {
        /* Nothing more: like nats-server, the read position moves past
         * what was scanned (delivered.stream_seq shows the stream's end). */
        struct store_state s;
        store_get_state(store, &s);
        if (c->sseq <= s.last_seq && !c->lps)
            c->sseq = s.last_seq + 1;
        goto out;
    }
    if (c->cfg.replay_policy == JS_REPLAY_ORIGINAL && c->replay_wall) {
        int64_t due = c->replay_wall + (c->scratch.ts - c->replay_ts);
        if (due > js_now() + NS_PER_MS) {
            js_consumer_kick_at(c, due);
            rc = -EBUSY;
            goto out;
        }
    }
    n->redelivery = false;
    n->dc = 1;
    n->cseq = c->dseq + 1;
    uint64_t np = js_consumer_num_pending(c);
    n->pending = np ? np - 1 : 0;
    fill_next(c, n);
    rc = 0;
out:
    if (settled) {
        js_consumer_settle(c, false);
        js_consumer_mark_dirty(c);
    }
    return rc;
}

void js_consumer_take(struct js_consumer *c, struct js_cnext *n)
{
    int64_t now = js_now();
    uint64_t seq = n->msg->seq;
    c->dseq = n->cseq;
    if (n->redelivery) {
        js_consumer_rdq_pop(c);
        struct js_pending *p = &c->pend[n->pidx];
        if (p->dc == 1)
            c->nredelivered++;
        p->dc = n->dc;
        p->cseq = n->cseq;
        p->state = JS_PEND_LIVE;
        p->deadline = now + js_consumer_ack_wait(c, p->dc);
        js_consumer_arm_ack(c, p->deadline);
    } else {
        js_consumer_num_pending(c);
        if (c->np)
            c->np--;
        c->sseq = seq + 1;
        if (c->lps) {
            c->lps_pos++;
            if (c->lps_pos >= c->lps_len)
                lps_finish(c);
        }
        if (c->cfg.replay_policy == JS_REPLAY_ORIGINAL) {
            c->replay_ts = n->msg->ts;
            c->replay_wall = now;
        }
        if (c->cfg.ack_policy == JS_ACK_NONE) {
            c->floor_sseq = seq;
            c->floor_cseq = c->dseq;
        } else if (js_consumer_pend_add(c, seq, n->cseq, 1, JS_PEND_LIVE) < 0) {
            LOG_ERROR("JetStream: consumer '%s > %s': out of memory tracking a delivery",
                      c->st->cfg.name, c->name);
        }
    }
    c->last_delivered = now;
    c->active_at = now;
    js_consumer_mark_dirty(c);
    /* Ack none counts as acknowledged on delivery: interest and work-queue
     * streams may drop the message now (our copy is in c->scratch). */
    if (c->cfg.ack_policy == JS_ACK_NONE && !n->redelivery &&
        c->st->cfg.retention != JS_RETAIN_LIMITS)
        js_stream_acked(c->st, c, seq);
}

void js_consumer_emit(struct js_consumer *c, const struct js_cnext *n, const char *to,
                      size_t tolen)
{
    const struct store_msg *m = n->msg;
    const char *hdr = m->hdr, *data = m->data;
    size_t hlen = m->hdr_len, dlen = m->data_len;
    char small[512];
    char *big = NULL;
    if (c->cfg.headers_only) {
        /* §8.5: the stored headers plus Nats-Msg-Size, no payload. */
        size_t keep = hlen >= 4 ? hlen - 2 : 0; /* drop the final CRLF */
        size_t need = (keep ? keep : 10) + 48;
        char *h = need <= sizeof small ? small : (big = malloc(need));
        if (!h)
            return;
        size_t o = 0;
        if (keep) {
            memcpy(h, m->hdr, keep);
            o = keep;
        } else {
            memcpy(h, "NATS/1.0\r\n", 10);
            o = 10;
        }
        o += (size_t)snprintf(h + o, need - o, "Nats-Msg-Size: %zu\r\n\r\n", m->data_len);
        hdr = h;
        hlen = o;
        data = NULL;
        dlen = 0;
    }
    js_consumer_send(c->st->js, to, tolen, m->subject, m->subject_len, n->ack, n->ack_len, hdr,
                     hlen, data, dlen);
    c->last_emit = js_now();
    free(big);
}

void js_consumer_heartbeat(struct js_consumer *c, const char *to, size_t tolen)
{
    char hdr[512];
    int n = snprintf(hdr, sizeof hdr,
                     "NATS/1.0 100 Idle Heartbeat\r\nNats-Last-Consumer: %" PRIu64
                     "\r\nNats-Last-Stream: %" PRIu64 "\r\n%s%s%s\r\n",
                     c->dseq, c->sseq ? c->sseq - 1 : 0,
                     c->fc_reply[0] ? "Nats-Consumer-Stalled: " : "", c->fc_reply,
                     c->fc_reply[0] ? "\r\n" : "");
    if (n > 0 && (size_t)n < sizeof hdr)
        js_send_status(c->st->js, to, tolen, hdr);
    c->last_emit = js_now();
}

bool js_consumer_wants(const struct js_consumer *c, const char *subject, size_t len)
{
    const char *f = c->cfg.filter_subject;
    if (!f || !*f)
        return true;
    return subject_match(f, strlen(f), subject, len);
}

/* ---- scheduling ---- */

/* The stream removed messages (purge, delete, limits, retention): skip
 * the read position past them and forget pending ones that are gone. */
static void handle_removed(struct js_consumer *c)
{
    c->removed = false;
    c->np_valid = false;
    struct store_state s;
    store_get_state(c->st->store, &s);
    if (c->sseq < s.first_seq)
        c->sseq = s.first_seq;
    bool any = false;
    for (size_t i = c->pend_off; i < c->pend_off + c->pend_len && c->pend[i].sseq < s.first_seq;
         i++) {
        if (c->pend[i].state != JS_PEND_DONE) {
            js_consumer_pend_done(c, &c->pend[i], true);
            any = true;
        }
    }
    js_consumer_settle(c, false);
    /* nats-server's purge: the floor comes up to the new first message. */
    if (c->floor_sseq + 1 < s.first_seq) {
        c->floor_sseq = s.first_seq - 1;
        if (c->dseq > c->floor_cseq)
            c->floor_cseq = c->dseq;
        any = true;
    }
    if (any)
        js_consumer_mark_dirty(c);
}

static void on_kick(evutil_socket_t fd, short what, void *arg)
{
    struct js_consumer *c = arg;
    (void)fd;
    (void)what;
    if (c->removed)
        handle_removed(c);
    if (c->push)
        js_push_deliver(c);
    else
        js_pull_deliver(c);
}

void js_consumer_kick(struct js_consumer *c)
{
    event_active(c->kick_ev, EV_TIMEOUT, 0);
}

void js_consumer_kick_at(struct js_consumer *c, int64_t when)
{
    struct timeval tv = tv_from_ns(when - js_now());
    event_add(c->kick_ev, &tv);
}

/* Pull consumers with an inactive_threshold go once nothing has waited
 * on them and nobody has acked for that long (§8.1); push ones are
 * watched by js_push.c through their interest. */
static void on_inactive(evutil_socket_t fd, short what, void *arg)
{
    struct js_consumer *c = arg;
    (void)fd;
    (void)what;
    int64_t thr = c->cfg.inactive_threshold;
    if (thr <= 0 || c->push)
        return;
    int64_t now = js_now();
    if (c->nwaiting)
        c->active_at = now;
    if (now >= c->active_at + thr) {
        LOG_DEBUG("JetStream: consumer '%s > %s' inactive, deleted", c->st->cfg.name, c->name);
        js_consumer_apply_delete(c, true, true);
        return;
    }
    struct timeval tv = tv_from_ns(c->active_at + thr - now);
    event_add(c->inact_ev, &tv);
}

static void arm_inactive(struct js_consumer *c)
{
    if (c->push || c->cfg.inactive_threshold <= 0) {
        event_del(c->inact_ev);
        return;
    }
    struct timeval tv = tv_from_ns(c->cfg.inactive_threshold);
    event_add(c->inact_ev, &tv);
}

void js_consumer_stream_appended(struct js_stream *st)
{
    for (struct js_consumer *c = st->consumers; c; c = c->next)
        js_consumer_kick(c);
}

void js_consumer_stream_removed(struct js_stream *st)
{
    /* Called from deep inside the stream (even from js_stream_acked on our
     * own ack path): only note it; the kick adjusts. */
    for (struct js_consumer *c = st->consumers; c; c = c->next) {
        c->removed = true;
        c->np_valid = false;
        js_consumer_kick(c);
    }
}

struct js_consumer *js_consumer_next(const struct js_consumer *c)
{
    return c->next;
}

struct js_consumer *js_consumer_find(struct js_stream *st, const char *name, size_t len)
{
    /* A list, moved to front on a hit: the consumer being acked is found
     * first even when a stream has many (e.g. abandoned KV watchers). */
    for (struct js_consumer **pp = &st->consumers; *pp; pp = &(*pp)->next) {
        struct js_consumer *c = *pp;
        if (c->name_len != len || memcmp(c->name, name, len) != 0)
            continue;
        if (pp != &st->consumers) {
            *pp = c->next;
            c->next = st->consumers;
            st->consumers = c;
        }
        return c;
    }
    return NULL;
}

/* ---- life cycle ---- */

static void consumer_free(struct js_consumer *c)
{
    struct event *evs[] = { c->kick_ev, c->ack_ev, c->inact_ev, c->flush_ev,
                            c->pull_ev, c->tick_ev, c->hb_ev };
    for (size_t i = 0; i < sizeof evs / sizeof evs[0]; i++)
        if (evs[i])
            event_free(evs[i]);
    js_pull_cancel_all(c, false);
    free(c->pend);
    free(c->rdq);
    free(c->lps);
    free(c->meta);
    free(c->name);
    js_consumer_config_free(&c->cfg);
    store_msg_free(&c->scratch);
    free(c);
}

int js_consumer_apply_create(struct js_stream *st, const char *name,
                             const struct js_consumer_config *cfg, int64_t created,
                             struct js_consumer **out)
{
    struct event_base *base = st->js->w->base;
    struct js_consumer *c = calloc(1, sizeof *c);
    if (!c)
        return -ENOMEM;
    c->st = st;
    c->created = created;
    c->name = strdup(name);
    c->name_len = c->name ? strlen(c->name) : 0;
    if (!c->name || js_consumer_config_copy(&c->cfg, cfg) < 0)
        goto err_free;
    c->durable = js_consumer_is_durable(&c->cfg);
    c->push = c->cfg.deliver_subject && *c->cfg.deliver_subject;
    c->kick_ev = evtimer_new(base, on_kick, c);
    c->inact_ev = evtimer_new(base, on_inactive, c);
    if (!c->kick_ev || !c->inact_ev || js_consumer_ack_init(c) < 0)
        goto err_free;
    set_filter(c);
    if (select_start(c) < 0)
        goto err_free;
    if ((c->push ? js_push_init(c) : js_pull_init(c)) < 0)
        goto err_free;
    c->active_at = js_now();
    arm_inactive(c);
    struct js_consumer **pp = &st->consumers;
    while (*pp)
        pp = &(*pp)->next;
    *pp = c;
    st->nconsumers++;
    *out = c;
    return 0;

err_free:
    consumer_free(c);
    return -ENOMEM;
}

int js_consumer_apply_update(struct js_consumer *c, const struct js_consumer_config *cfg)
{
    struct js_consumer_config n = { 0 };
    if (js_consumer_config_copy(&n, cfg) < 0)
        return -ENOMEM;
    const char *od = c->cfg.deliver_subject ? c->cfg.deliver_subject : "";
    const char *nd = n.deliver_subject ? n.deliver_subject : "";
    bool moved = strcmp(od, nd) != 0;
    js_consumer_config_free(&c->cfg);
    c->cfg = n;
    free(c->meta); /* re-encoded with the new config on the next save */
    c->meta = NULL;
    set_filter(c);
    c->np_valid = false;
    if (moved && c->push)
        js_push_reset(c);
    c->active_at = js_now();
    arm_inactive(c);
    js_consumer_mark_dirty(c);
    js_consumer_kick(c);
    return 0;
}

void js_consumer_apply_delete(struct js_consumer *c, bool notify, bool erase)
{
    struct js_stream *st = c->st;
    for (struct js_consumer **pp = &st->consumers; *pp; pp = &(*pp)->next) {
        if (*pp == c) {
            *pp = c->next;
            st->nconsumers--;
            break;
        }
    }
    if (!c->push)
        js_pull_cancel_all(c, notify);
    if (erase) {
        js_consumer_erase(c);
        /* Interest retention: what only this consumer still held goes now
         * (nats-server's cleanupNoInterestMessages). */
        if (st->cfg.retention == JS_RETAIN_INTEREST) {
            uint64_t seq = c->floor_sseq + 1;
            while (store_load_next(st->store, seq, c->filter, c->filter_len, &c->scratch) == 0) {
                seq = c->scratch.seq + 1;
                js_stream_acked(st, c, c->scratch.seq);
            }
        }
    }
    consumer_free(c);
}

void js_consumer_free_all(struct js_stream *st)
{
    while (st->consumers)
        js_consumer_apply_delete(st->consumers, true, false);
}

void js_consumer_release_all(struct js_stream *st)
{
    while (st->consumers) {
        js_consumer_flush(st->consumers);
        js_consumer_apply_delete(st->consumers, false, false);
    }
}
