/*
 * server/jetstream/js_consumer.c — one consumer's life and its read position
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
#include "server/jetstream/js_consumer.h"
#include "server/jetstream/js_propose.h"

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

static struct timeval tv_from_ns(int64_t ns)
{
    if (ns < NS_PER_MS)
        ns = NS_PER_MS; /* never spin on a zero timeout */
    struct timeval tv = { .tv_sec = ns / 1000000000LL, .tv_usec = (ns % 1000000000LL) / 1000 };
    return tv;
}

static uint64_t count_from(struct js_consumer *c, uint64_t start)
{
    return js_filter_count_from(c->st->store, start, &c->filter);
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
    if (c->rt.sseq < c->rt.lps_resume)
        c->rt.sseq = c->rt.lps_resume;
    free(c->rt.lps);
    c->rt.lps = NULL;
    c->rt.lps_len = c->rt.lps_pos = 0;
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
        if (c->filter.n) {
            struct lps_acc a = { 0 };
            js_filter_each_subject(store, &c->filter, lps_add, &a);
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
        js_filter_each_subject(store, &c->filter, lps_add, &a);
        if (a.err) {
            free(a.seqs);
            return a.err;
        }
        seq = s.last_seq + 1;
        if (a.n) {
            qsort(a.seqs, a.n, sizeof *a.seqs, cmp_u64);
            c->rt.lps = a.seqs;
            c->rt.lps_len = a.n;
            c->rt.lps_resume = s.last_seq + 1;
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
    c->rt.sseq = seq;
    c->rt.start_sseq = seq;
    c->rt.dseq = 0;
    /* nats-server starts every floor at zero, whatever the start. */
    c->rt.floor_sseq = 0;
    c->rt.floor_cseq = 0;
    c->rt.np_valid = false;
    return 0;
}

/* ---- num_pending ---- */

uint64_t js_consumer_num_pending(struct js_consumer *c)
{
    struct store_state s;
    store_get_state(c->st->store, &s);
    if (!c->rt.np_valid) {
        if (c->rt.lps)
            c->rt.np = (c->rt.lps_len - c->rt.lps_pos) + count_from(c, c->rt.lps_resume);
        else
            c->rt.np = count_from(c, c->rt.sseq);
        c->rt.np_last = s.last_seq;
        c->rt.np_valid = true;
    } else if (s.last_seq > c->rt.np_last) {
        c->rt.np += count_from(c, c->rt.np_last + 1);
        c->rt.np_last = s.last_seq;
    }
    return c->rt.np;
}

uint64_t js_consumer_available(struct js_consumer *c)
{
    return js_consumer_num_pending(c) + c->rt.rdq_len;
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
    while (c->rt.rdq_len) {
        struct js_pending *p = js_consumer_pend_find(c, c->rt.rdq[c->rt.rdq_head]);
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
        n->pidx = (size_t)(p - c->rt.pend);
        n->dc = p->dc + 1;
        n->cseq = c->rt.dseq + 1;
        n->pending = js_consumer_num_pending(c);
        fill_next(c, n);
        rc = 0;
        goto out;
    }
    if (c->cfg.ack_policy != JS_ACK_NONE && c->cfg.max_ack_pending > 0 &&
        c->rt.npending >= (size_t)c->cfg.max_ack_pending) {
        rc = -EAGAIN;
        goto out;
    }
    bool found = false;
    while (c->rt.lps && c->rt.lps_pos < c->rt.lps_len) {
        if (store_load(store, c->rt.lps[c->rt.lps_pos], &c->scratch) == 0) {
            found = true;
            break;
        }
        c->rt.lps_pos++;
    }
    if (c->rt.lps && !found)
        lps_finish(c);
    if (!found && js_filter_load_next(store, c->rt.sseq, &c->filter, &c->scratch) < 0) {
        /* Nothing more: like nats-server, the read position moves past
         * what was scanned (delivered.stream_seq shows the stream's end). */
        struct store_state s;
        store_get_state(store, &s);
        if (c->rt.sseq <= s.last_seq && !c->rt.lps)
            c->rt.sseq = s.last_seq + 1;
        goto out;
    }
    if (c->cfg.replay_policy == JS_REPLAY_ORIGINAL && c->rt.replay_wall) {
        int64_t due = c->rt.replay_wall + (c->scratch.ts - c->rt.replay_ts);
        if (due > js_clock(c->st->js) + NS_PER_MS) {
            js_consumer_kick_at(c, due);
            rc = -EBUSY;
            goto out;
        }
    }
    n->redelivery = false;
    n->dc = 1;
    n->cseq = c->rt.dseq + 1;
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
    int64_t now = js_clock(c->st->js);
    uint64_t seq = n->msg->seq;
    c->rt.dseq = n->cseq;
    if (n->redelivery) {
        js_consumer_rdq_pop(c);
        struct js_pending *p = &c->rt.pend[n->pidx];
        if (p->dc == 1)
            c->rt.nredelivered++;
        p->dc = n->dc;
        p->cseq = n->cseq;
        p->state = JS_PEND_LIVE;
        p->deadline = now + js_consumer_ack_wait(c, p->dc);
        js_consumer_arm_ack(c, p->deadline);
    } else {
        js_consumer_num_pending(c);
        if (c->rt.np)
            c->rt.np--;
        c->rt.sseq = seq + 1;
        if (c->rt.lps) {
            c->rt.lps_pos++;
            if (c->rt.lps_pos >= c->rt.lps_len)
                lps_finish(c);
        }
        if (c->cfg.replay_policy == JS_REPLAY_ORIGINAL) {
            c->rt.replay_ts = n->msg->ts;
            c->rt.replay_wall = now;
        }
        if (c->cfg.ack_policy == JS_ACK_NONE) {
            c->rt.floor_sseq = seq;
            c->rt.floor_cseq = c->rt.dseq;
        } else if (js_consumer_pend_add(c, seq, n->cseq, 1, JS_PEND_LIVE) < 0) {
            LOG_ERROR("JetStream: consumer '%s > %s': out of memory tracking a delivery",
                      c->st->cfg.name, c->name);
        }
    }
    c->rt.last_delivered = now;
    c->rt.active_at = now;
    /* Ack none counts as acknowledged on delivery: the CONSUMER_ACKS this
     * leads to removes it from interest and work-queue streams. */
    js_consumer_mark_dirty(c);
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
    c->rt.last_emit = js_clock(c->st->js);
    free(big);
}

void js_consumer_heartbeat(struct js_consumer *c, const char *to, size_t tolen)
{
    char hdr[512];
    int n = snprintf(hdr, sizeof hdr,
                     "NATS/1.0 100 Idle Heartbeat\r\nNats-Last-Consumer: %" PRIu64
                     "\r\nNats-Last-Stream: %" PRIu64 "\r\n%s%s%s\r\n",
                     c->rt.dseq, c->rt.sseq ? c->rt.sseq - 1 : 0,
                     c->rt.fc_reply[0] ? "Nats-Consumer-Stalled: " : "", c->rt.fc_reply,
                     c->rt.fc_reply[0] ? "\r\n" : "");
    if (n > 0 && (size_t)n < sizeof hdr)
        js_send_status(c->st->js, to, tolen, hdr);
    c->rt.last_emit = js_clock(c->st->js);
}

int js_consumer_refilter_all(struct js_stream *st)
{
    for (struct js_consumer *c = st->consumers; c; c = c->next) {
        int rc = js_filter_set(&c->filter, &c->cfg, &st->cfg);
        if (rc < 0)
            return rc;
        c->rt.np_valid = false;
    }
    return 0;
}

bool js_consumer_wants(const struct js_consumer *c, const char *subject, size_t len)
{
    return js_filter_takes(&c->filter, subject, len);
}

/* ---- scheduling ---- */

/* The stream removed messages (purge, delete, limits, retention): skip
 * the read position past them and forget pending ones that are gone. */
static void handle_removed(struct js_consumer *c)
{
    c->rt.removed = false;
    c->rt.np_valid = false;
    struct store_state s;
    store_get_state(c->st->store, &s);
    if (c->rt.sseq < s.first_seq)
        c->rt.sseq = s.first_seq;
    bool any = false;
    for (size_t i = c->rt.pend_off; i < c->rt.pend_off + c->rt.pend_len && c->rt.pend[i].sseq < s.first_seq;
         i++) {
        if (c->rt.pend[i].state != JS_PEND_DONE) {
            js_consumer_pend_done(c, &c->rt.pend[i], true);
            any = true;
        }
    }
    js_consumer_settle(c, false);
    /* nats-server's purge: the floor comes up to the new first message. */
    if (c->rt.floor_sseq + 1 < s.first_seq) {
        c->rt.floor_sseq = s.first_seq - 1;
        if (c->rt.dseq > c->rt.floor_cseq)
            c->rt.floor_cseq = c->rt.dseq;
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
    /* Without its lease the leader may have been replaced: what it would
     * deliver may be acknowledged already. Kicked again when it is back
     * (js_cluster_grant), or the consumer detaches with the role. */
    if (!js_cluster_may_serve(c->st->js))
        return;
    if (c->rt.removed)
        handle_removed(c);
    if (c->push)
        js_push_deliver(c);
    else
        js_pull_deliver(c);
}

void js_consumer_kick(struct js_consumer *c)
{
    if (c->rt.kick_ev)
        event_active(c->rt.kick_ev, EV_TIMEOUT, 0);
}

void js_consumer_kick_at(struct js_consumer *c, int64_t when)
{
    if (!c->rt.kick_ev)
        return;
    struct timeval tv = tv_from_ns(when - js_clock(c->st->js));
    event_add(c->rt.kick_ev, &tv);
}

/* The runtime's way to delete a consumer (inactivity, lost interest): a
 * CONSUMER_DELETE like the API's, with no one to answer. */
void js_consumer_propose_delete(struct js_consumer *c)
{
    struct jscmd cmd = {
        .op = JSCMD_CONSUMER_DELETE,
        .stream = { c->st->cfg.name, strlen(c->st->cfg.name) },
        .consumer = { c->name, c->name_len },
    };
    js_propose(c->st->js, &cmd, NULL, 0);
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
    int64_t now = js_clock(c->st->js);
    if (c->rt.nwaiting)
        c->rt.active_at = now;
    if (now >= c->rt.active_at + thr) {
        LOG_DEBUG("JetStream: consumer '%s > %s' inactive, deleted", c->st->cfg.name, c->name);
        js_consumer_propose_delete(c);
        return;
    }
    struct timeval tv = tv_from_ns(c->rt.active_at + thr - now);
    event_add(c->rt.inact_ev, &tv);
}

static void arm_inactive(struct js_consumer *c)
{
    if (!c->rt.inact_ev)
        return;
    if (c->push || c->cfg.inactive_threshold <= 0) {
        event_del(c->rt.inact_ev);
        return;
    }
    struct timeval tv = tv_from_ns(c->cfg.inactive_threshold);
    event_add(c->rt.inact_ev, &tv);
}

void js_consumer_stream_appended(struct js_stream *st)
{
    for (struct js_consumer *c = st->consumers; c; c = c->next)
        js_consumer_kick(c);
}

void js_consumer_stream_removed(struct js_stream *st)
{
    /* Called after an apply removed messages: only note it; the kick
     * adjusts. */
    for (struct js_consumer *c = st->consumers; c; c = c->next) {
        c->rt.removed = true;
        c->rt.np_valid = false;
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

static void free_events(struct js_consumer *c)
{
    struct event **evs[] = { &c->rt.kick_ev, &c->rt.ack_ev, &c->rt.inact_ev, &c->rt.flush_ev,
                             &c->rt.pull_ev, &c->rt.tick_ev, &c->rt.hb_ev };
    for (size_t i = 0; i < sizeof evs / sizeof evs[0]; i++) {
        if (*evs[i])
            event_free(*evs[i]);
        *evs[i] = NULL;
    }
    c->rt.ack_at = 0;
}

void js_consumer_free(struct js_consumer *c)
{
    free_events(c);
    js_pull_cancel_all(c, NULL);
    free(c->rt.pend);
    free(c->rt.rdq);
    free(c->rt.lps);
    js_filter_clear(&c->filter);
    free(c->meta);
    free(c->name);
    free(c->rep.acked);
    free(c->rep.redelivered);
    js_consumer_config_free(&c->cfg);
    store_msg_free(&c->scratch);
    free(c);
}

int js_consumer_apply_create(struct js_stream *st, const char *name,
                             const struct js_consumer_config *cfg, int64_t created, bool persist,
                             struct js_consumer **out)
{
    struct js_consumer *c = calloc(1, sizeof *c);
    if (!c)
        return -ENOMEM;
    c->st = st;
    c->created = created;
    c->name = strdup(name);
    c->name_len = c->name ? strlen(c->name) : 0;
    int rc = -ENOMEM;
    if (!c->name || js_consumer_config_copy(&c->cfg, cfg) < 0)
        goto err_free;
    c->durable = js_consumer_is_durable(&c->cfg);
    c->push = c->cfg.deliver_subject && *c->cfg.deliver_subject;
    if ((rc = js_filter_set(&c->filter, &c->cfg, &st->cfg)) < 0 || (rc = select_start(c)) < 0)
        goto err_free;
    c->rt.live_valid = true;
    c->rep.start_sseq = c->rt.start_sseq;
    c->rep.delivered_sseq = c->rt.sseq ? c->rt.sseq - 1 : 0;
    if (persist && (rc = js_consumer_save(c)) < 0)
        goto err_free;
    struct js_consumer **pp = &st->consumers;
    while (*pp)
        pp = &(*pp)->next;
    *pp = c;
    st->nconsumers++;
    *out = c;
    return 0;

err_free:
    js_consumer_erase(c);
    js_consumer_free(c);
    return rc;
}

int js_consumer_apply_update(struct js_consumer *c, const struct js_consumer_config *cfg)
{
    struct js_consumer_config n = { 0 };
    if (js_consumer_config_copy(&n, cfg) < 0)
        return -ENOMEM;
    const char *od = c->cfg.deliver_subject ? c->cfg.deliver_subject : "";
    const char *nd = n.deliver_subject ? n.deliver_subject : "";
    c->rt.deliver_moved |= strcmp(od, nd) != 0;
    js_consumer_config_free(&c->cfg);
    c->cfg = n;
    free(c->meta); /* re-encoded with the new config on the next save */
    c->meta = NULL;
    c->rt.np_valid = false;
    int rc = js_filter_set(&c->filter, &c->cfg, &c->st->cfg);
    return rc < 0 ? rc : js_consumer_save(c);
}

/* ---- runtime ---- */

int js_consumer_attach(struct js_consumer *c)
{
    if (c->rt.attached)
        return 0;
    struct event_base *base = c->st->js->env.base;
    c->rt.kick_ev = evtimer_new(base, on_kick, c);
    c->rt.inact_ev = evtimer_new(base, on_inactive, c);
    if (!c->rt.kick_ev || !c->rt.inact_ev || js_consumer_ack_init(c) < 0 ||
        (c->push ? js_push_init(c) : js_pull_init(c)) < 0) {
        free_events(c);
        LOG_ERROR("JetStream: consumer '%s > %s': out of memory starting it", c->st->cfg.name,
                  c->name);
        return -ENOMEM;
    }
    c->rt.attached = true;
    if (!c->rt.live_valid) {
        int rc = js_consumer_live_from_rep(c);
        if (rc < 0)
            LOG_ERROR("JetStream: consumer '%s > %s': rebuilding its pending set failed: %s",
                      c->st->cfg.name, c->name, strerror(-rc));
        c->rt.live_valid = true;
    }
    c->rt.active_at = js_clock(c->st->js);
    arm_inactive(c);
    js_consumer_kick(c);
    return 0;
}

void js_consumer_detach(struct js_consumer *c, const char *status)
{
    if (!c->push)
        js_pull_cancel_all(c, status);
    free_events(c);
    c->rt.attached = false;
    c->rt.dirty = false;
}

void js_consumer_updated(struct js_consumer *c)
{
    if (!c->rt.attached)
        return;
    if (c->rt.deliver_moved && c->push)
        js_push_reset(c);
    c->rt.deliver_moved = false;
    c->rt.active_at = js_clock(c->st->js);
    arm_inactive(c);
    js_consumer_mark_dirty(c);
    js_consumer_kick(c);
}

void js_consumer_attach_all(struct js_stream *st)
{
    for (struct js_consumer *c = st->consumers; c; c = c->next)
        js_consumer_attach(c);
}

void js_consumer_detach_all(struct js_stream *st, const char *status)
{
    for (struct js_consumer *c = st->consumers; c; c = c->next)
        js_consumer_detach(c, status);
}

void js_consumer_free_all(struct js_stream *st)
{
    while (st->consumers)
        js_consumer_apply_delete(st->consumers, false);
}

void js_consumer_release_all(struct js_stream *st)
{
    while (st->consumers) {
        struct js_consumer *c = st->consumers;
        if (c->rt.attached)
            js_consumer_flush(c, NULL, 0);
        js_consumer_detach(c, NULL);
        js_consumer_apply_delete(c, false);
    }
}
