/*
 * server/jetstream/js_consumer_fsm.c — the apply side of the consumer
 * commands (CONSUMER_CREATE, UPDATE, DELETE, ACKS) and of what acks do to
 * interest and work-queue streams.
 *
 * Admission is decided here, against the replicated state at this point of
 * the log, in nats-server 2.9.10's order after the request checks the API
 * already made: the stream (10059), the consumer config against the stream
 * (js_consumer_config_check_stream), create-or-update of an existing
 * consumer (10012, and 10013 for a bound push consumer, from what the
 * proposer saw), max_consumers (10026), the work-queue rules that need
 * the other consumers (10099, 10100). So two creates interleaved in a log
 * get the answers a single server would give them.
 *
 * A consumer's replicated progress (struct js_cprog) is exactly its last
 * CONSUMER_ACKS. Applying one removes, from a work-queue stream, what it
 * newly acknowledges, and from an interest stream what every interested
 * consumer has now acknowledged by its replicated progress, so every
 * replica removes the same messages at the same point of the log. All of
 * it keeps js_fsm.h's contract: no clock, no send, no timer.
 * Runs only on the JetStream loop.
 */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "proto/subject.h"
#include "server/jetstream/js_consumer.h"
#include "server/jetstream/js_fsm.h"
#include "server/kmap.h"
#include "server/log.h"

/* ---- the replicated progress ---- */

bool js_seqs_has(const uint64_t *v, size_t n, uint64_t x)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v[mid] < x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && v[lo] == x;
}

static bool prog_acked(const struct js_cprog *p, enum js_ack_policy ack, uint64_t seq)
{
    if (seq < (p->start_sseq ? p->start_sseq : 1) || seq <= p->floor_sseq)
        return true;
    if (seq > p->delivered_sseq)
        return false;
    if (ack == JS_ACK_NONE)
        return true;
    return js_seqs_has(p->acked, p->nacked, seq);
}

bool js_consumer_rep_acked(const struct js_consumer *c, uint64_t seq)
{
    return prog_acked(&c->rep, c->cfg.ack_policy, seq);
}

bool js_consumer_replicated(const struct js_consumer *c)
{
    return c->durable || c->st->cfg.retention != JS_RETAIN_LIMITS;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void prog_free(struct js_cprog *p)
{
    free(p->acked);
    free(p->redelivered);
    memset(p, 0, sizeof *p);
}

static int prog_from(struct js_cprog *p, const struct jscmd_acks *a)
{
    memset(p, 0, sizeof *p);
    p->start_sseq = a->start_sseq;
    p->floor_sseq = a->ack_floor_sseq;
    p->floor_cseq = a->ack_floor_cseq;
    p->delivered_sseq = a->delivered_sseq;
    p->delivered_cseq = a->delivered_cseq;
    if (a->nacked) {
        if (!(p->acked = malloc(a->nacked * sizeof *p->acked)))
            return -ENOMEM;
        size_t n = 0;
        for (size_t i = 0; i < a->nacked; i++)
            if (a->acked[i] > p->floor_sseq)
                p->acked[n++] = a->acked[i];
        qsort(p->acked, n, sizeof *p->acked, cmp_u64);
        p->nacked = n;
    }
    if (a->nredelivered) {
        p->redelivered = malloc(a->nredelivered * sizeof *p->redelivered);
        if (!p->redelivered) {
            prog_free(p);
            return -ENOMEM;
        }
        memcpy(p->redelivered, a->redelivered, a->nredelivered * sizeof *p->redelivered);
        p->nredelivered = a->nredelivered;
    }
    return 0;
}

/* ---- retention ---- */

/* Interest retention: does a consumer that wants seq's subject still need
 * it, by replicated progress? (skip: the consumer being deleted) */
static bool still_needed(struct js_stream *st, const struct js_consumer *skip,
                         const struct store_msg *m)
{
    for (struct js_consumer *o = st->consumers; o; o = js_consumer_next(o))
        if (o != skip && js_consumer_wants(o, m->subject, m->subject_len) &&
            !js_consumer_rep_acked(o, m->seq))
            return true;
    return false;
}

/* What c's progress moved from old to c->rep acknowledges leaves the
 * stream when retention says so. Only stored messages the filter takes
 * are visited, from the old floor up to the newest acknowledged. */
static void retire(struct js_consumer *c, const struct js_cprog *old)
{
    struct js_stream *st = c->st;
    const struct js_cprog *p = &c->rep;
    uint64_t upto = p->floor_sseq;
    if (p->nacked && p->acked[p->nacked - 1] > upto)
        upto = p->acked[p->nacked - 1];
    if (c->cfg.ack_policy == JS_ACK_NONE && p->delivered_sseq > upto)
        upto = p->delivered_sseq;
    struct store_msg m = { 0 };
    bool any = false;
    for (uint64_t seq = old->floor_sseq + 1;
         seq <= upto && js_filter_load_next(st->store, seq, &c->filter, &m) == 0 &&
         m.seq <= upto;
         seq = m.seq + 1) {
        if (!js_consumer_rep_acked(c, m.seq) || prog_acked(old, c->cfg.ack_policy, m.seq))
            continue;
        if (st->cfg.retention == JS_RETAIN_INTEREST && still_needed(st, NULL, &m))
            continue;
        if (store_remove(st->store, m.seq) == 0)
            any = true;
    }
    store_msg_free(&m);
    if (any)
        st->dirty = true; /* the consumers learn it from their own acks */
}

/* Interest retention when c goes: what only c still held goes too
 * (nats-server's cleanupNoInterestMessages). */
static void retire_on_delete(struct js_consumer *c)
{
    struct js_stream *st = c->st;
    struct store_msg m = { 0 };
    bool any = false;
    for (uint64_t seq = c->rep.floor_sseq + 1;
         js_filter_load_next(st->store, seq, &c->filter, &m) == 0; seq = m.seq + 1) {
        if (!still_needed(st, c, &m) && store_remove(st->store, m.seq) == 0)
            any = true;
    }
    store_msg_free(&m);
    if (any) {
        st->dirty = true;
        st->removed = true;
    }
}

int js_consumer_apply_acks(struct js_consumer *c, const struct jscmd_acks *a, bool restore)
{
    struct js_cprog old = c->rep;
    int rc = prog_from(&c->rep, a);
    if (rc < 0) {
        c->rep = old;
        return rc;
    }
    /* The serving node's live state runs ahead of what it proposed; any
     * other replica's is rebuilt from rep when it starts serving. */
    if (!c->rt.attached)
        c->rt.live_valid = false;
    /* Restoring reads back what was applied before: its removals are
     * already in the store. */
    if (!restore && c->st->cfg.retention != JS_RETAIN_LIMITS)
        retire(c, &old);
    prog_free(&old);
    return restore ? 0 : js_consumer_save(c);
}

void js_consumer_apply_delete(struct js_consumer *c, bool erase)
{
    struct js_stream *st = c->st;
    for (struct js_consumer **pp = &st->consumers; *pp; pp = &(*pp)->next) {
        if (*pp == c) {
            *pp = c->next;
            st->nconsumers--;
            break;
        }
    }
    if (erase) {
        js_consumer_erase(c);
        if (st->cfg.retention == JS_RETAIN_INTEREST)
            retire_on_delete(c);
    }
    prog_free(&c->rep);
    js_consumer_free(c);
}

/* ---- the commands ---- */

static struct js_stream *stream_of(struct js *js, struct jscmd_bytes name, struct js_result *res)
{
    struct js_stream *st = name.ptr ? js_stream_find(js, name.ptr, name.len) : NULL;
    if (!st)
        js_err_set(&res->err, 10059, NULL);
    else
        res->stream_id = st->id;
    return st;
}

static struct js_consumer *consumer_of(struct js_stream *st, struct jscmd_bytes name,
                                       struct js_result *res)
{
    struct js_consumer *c = name.ptr ? js_consumer_find(st, name.ptr, name.len) : NULL;
    if (!c)
        js_err_set(&res->err, 10014, NULL);
    return c;
}

int js_consumer_config_from_json(const struct js_stream *st, const char *json, size_t len,
                                 const char *name, struct js_consumer_config *cfg,
                                 struct js_err *e)
{
    json_t *cj = json_loadb(json, len, 0, NULL);
    json_t *req = cj ? json_pack("{s:s,s:o}", "stream_name", st->cfg.name, "config", cj) : NULL;
    char *body = req ? json_dumps(req, JSON_COMPACT) : NULL;
    json_decref(req);
    if (!body)
        return js_err_set(e, 10025, NULL);
    int rc = js_consumer_config_parse(body, strlen(body), st->cfg.name, JS_CFORM_CREATE, NULL,
                                      NULL, cfg, e);
    if (rc < 0 && e->err_code == 10020) {
        js_consumer_config_free(cfg);
        rc = js_consumer_config_parse(body, strlen(body), st->cfg.name, JS_CFORM_DURABLE, name,
                                      NULL, cfg, e);
    }
    free(body);
    return rc;
}

static int parse_config(struct js_stream *st, const struct jscmd *cmd, const char *name,
                        struct js_consumer_config *cfg, struct js_err *e)
{
    return js_consumer_config_from_json(st, cmd->config.ptr, cmd->config.len, name, cfg, e);
}

/* Would f and one of o's filters (or o's lack of one) share a partition
 * of a work queue: one a subset of the other, either way (2.9.10's
 * partitionUnique)? */
static bool nested(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    return subject_covers(a, la, b, lb) || subject_covers(b, lb, a, la);
}

static bool shares_partition(const struct js_consumer_config *o, const char *f)
{
    for (size_t i = 0; i < o->nfilter_subjects; i++)
        if (nested(o->filter_subjects[i], f))
            return true;
    if (o->nfilter_subjects)
        return false;
    const char *of = o->filter_subject;
    return !of || !*of || nested(of, f);
}

/* Work-queue rules that need the other consumers (nats-server's
 * partitionUnique); the single-consumer ones are js_config's. */
static int check_workqueue(struct js_stream *st, const struct js_consumer_config *cfg,
                           struct js_err *e)
{
    if (st->cfg.retention != JS_RETAIN_WORKQUEUE || !st->consumers)
        return 0;
    char *one[1] = { cfg->filter_subject };
    char *const *fs = cfg->nfilter_subjects ? cfg->filter_subjects : one;
    size_t nfs = cfg->nfilter_subjects ? cfg->nfilter_subjects
                                       : (cfg->filter_subject && *cfg->filter_subject);
    if (!nfs)
        return js_err_set(e, 10099, NULL);
    for (struct js_consumer *o = st->consumers; o; o = o->next)
        for (size_t i = 0; i < nfs; i++)
            if (shares_partition(&o->cfg, fs[i]))
                return js_err_set(e, 10100, NULL);
    return 0;
}

/* May this create move c to another deliver subject? Not when the
 * proposer found c's subject bound (someone listens), nor when c's
 * subject is no longer the one the proposer looked at: another create,
 * earlier in the log, bound c in between (the race of several clients
 * binding one durable: the first in the log wins, the others get 10013).
 * Entries without the proposer's look (older logs) are not checked. */
static bool bound(const struct jscmd *cmd, const struct js_consumer *c)
{
    if (!cmd->deliver_seen.ptr)
        return false;
    const char *ds = c->cfg.deliver_subject ? c->cfg.deliver_subject : "";
    bool same = cmd->deliver_seen.len == strlen(ds) &&
                memcmp(cmd->deliver_seen.ptr, ds, cmd->deliver_seen.len) == 0;
    return cmd->deliver_bound || !same;
}

/* Create, or (same name) leave alone or update: the result says which. */
int js_consumer_fsm_create(struct js *js, const struct jscmd *cmd, struct js_result *res)
{
    struct js_stream *st = stream_of(js, cmd->stream, res);
    if (!st)
        return 0;
    char *name = strndup(cmd->consumer.ptr ? cmd->consumer.ptr : "", cmd->consumer.len);
    struct js_consumer_config cfg = { 0 };
    struct js_err *e = &res->err;
    int rc = 0;
    if (!name) {
        rc = -ENOMEM;
        js_err_set(e, 10023, NULL);
        goto out;
    }
    if (parse_config(st, cmd, name, &cfg, e) < 0 ||
        js_consumer_config_check_stream(&cfg, &st->cfg, e) < 0)
        goto out;
    struct js_consumer *c = js_consumer_find(st, name, strlen(name));
    if (!c && cmd->action == JSCMD_ACTION_UPDATE) {
        js_err_set(e, 10149, NULL);
        goto out;
    }
    if (c) {
        bool changed = false;
        if (cmd->action == JSCMD_ACTION_CREATE && !js_consumer_config_equal(&c->cfg, &cfg)) {
            js_err_set(e, 10148, NULL);
            goto out;
        }
        if (js_consumer_config_check_update(&c->cfg, &cfg, bound(cmd, c), &changed, e) < 0 ||
            !changed)
            goto out;
        rc = js_consumer_apply_update(c, &cfg);
        if (rc < 0)
            js_err_set(e, 10023, NULL);
        else
            res->updated = true;
        goto out;
    }
    /* The stream's max_consumers, then the account's (per stream, as
     * nats-server counts it). */
    if ((st->cfg.max_consumers > 0 && (int64_t)st->nconsumers >= st->cfg.max_consumers) ||
        (cmd->acct_consumers && st->nconsumers >= cmd->acct_consumers)) {
        js_err_set(e, 10026, NULL);
        goto out;
    }
    if (check_workqueue(st, &cfg, e) < 0)
        goto out;
    rc = js_consumer_apply_create(st, name, &cfg, (int64_t)cmd->created_ns, true, &c);
    if (rc < 0) {
        LOG_ERROR("JetStream: consumer '%s > %s': creating it failed: %s", st->cfg.name, name,
                  strerror(-rc));
        js_err_set(e, 10023, NULL);
    } else {
        res->created = true;
    }
out:
    js_consumer_config_free(&cfg);
    free(name);
    return rc;
}

int js_consumer_fsm_update(struct js *js, const struct jscmd *cmd, struct js_result *res)
{
    struct js_stream *st = stream_of(js, cmd->stream, res);
    struct js_consumer *c = st ? consumer_of(st, cmd->consumer, res) : NULL;
    if (!c)
        return 0;
    struct js_consumer_config cfg = { 0 };
    bool changed = false;
    int rc = 0;
    if (parse_config(st, cmd, c->name, &cfg, &res->err) == 0 &&
        js_consumer_config_check_update(&c->cfg, &cfg, false, &changed, &res->err) == 0 &&
        changed) {
        rc = js_consumer_apply_update(c, &cfg);
        if (rc < 0)
            js_err_set(&res->err, 10023, NULL);
        else
            res->updated = true;
    }
    js_consumer_config_free(&cfg);
    return rc;
}

int js_consumer_fsm_delete(struct js *js, const struct jscmd *cmd, struct js_result *res)
{
    struct js_stream *st = stream_of(js, cmd->stream, res);
    struct js_consumer *c = st ? consumer_of(st, cmd->consumer, res) : NULL;
    if (c)
        js_consumer_apply_delete(c, true);
    return 0;
}

int js_consumer_fsm_acks(struct js *js, const struct jscmd_acks *a, struct js_result *res)
{
    struct js_stream *st = stream_of(js, a->stream, res);
    struct js_consumer *c = st ? consumer_of(st, a->consumer, res) : NULL;
    if (!c)
        return 0; /* deleted earlier in the log: nothing to record */
    int rc = js_consumer_apply_acks(c, a, false);
    if (rc < 0) {
        LOG_ERROR("JetStream: consumer '%s > %s': saving its state failed: %s", st->cfg.name,
                  c->name, strerror(-rc));
        js_err_set(&res->err, 10023, NULL);
    }
    return rc;
}

/* ---- digest ---- */

uint64_t js_consumer_digest(const struct js_consumer *c, uint64_t h)
{
    const struct js_cprog *p = &c->rep;
    h = kmap_hash(h, c->name, c->name_len);
    char *cfg = js_consumer_config_to_json(&c->cfg);
    if (cfg)
        h = kmap_hash(h, cfg, strlen(cfg));
    free(cfg);
    uint64_t v[6] = { (uint64_t)c->created, p->start_sseq, p->floor_sseq, p->floor_cseq,
                      p->delivered_sseq, p->delivered_cseq };
    h = kmap_hash(h, (const char *)v, sizeof v);
    if (p->nacked)
        h = kmap_hash(h, (const char *)p->acked, p->nacked * sizeof *p->acked);
    if (p->nredelivered)
        h = kmap_hash(h, (const char *)p->redelivered, p->nredelivered * sizeof *p->redelivered);
    return h;
}
