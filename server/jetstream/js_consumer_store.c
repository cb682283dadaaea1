/*
 * server/jetstream/js_consumer_store.c — a consumer's durable state in its
 * stream's store (store.h blobs), the proposals that carry its progress,
 * and restart.
 *
 * One blob per durable file consumer, "obs.<name>" ("obs..<hex>" when the
 * name has bytes a blob name may not), holding two proto/jscmd.h entries
 * back to back: the CONSUMER_CREATE that made it (normalised config JSON,
 * created time) and the CONSUMER_ACKS of its replicated progress (rep).
 * The blob is written where those change, by apply; restart applies
 * exactly what raft would: js_consumer_apply_create, then
 * js_consumer_apply_acks, and the runtime rebuilds its pending set from rep
 * when it attaches.
 *
 * The runtime's progress (deliveries, acks) reaches rep as a CONSUMER_ACKS
 * proposal, coalesced: a change marks the consumer dirty and a timer
 * proposes at most every FLUSH_MS; an ack that wants a reply (ack_sync),
 * an info request and shutdown propose at once, and the ack-ack is sent
 * only once the proposal is applied and on disk. A blob replace is atomic
 * and survives kill -9, so a restarted consumer resumes at the ack floor
 * of its last applied progress: at worst acks of the last few milliseconds
 * are redelivered, nothing is skipped. Ack deadlines are not stored: after
 * a restart every pending message gets a fresh ack_wait. Runs only on the
 * JetStream loop.
 */
#include <errno.h>
#include <event2/event.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/jscmd.h"
#include "server/jetstream/js_consumer.h"
#include "server/jetstream/js_propose.h"
#include "server/log.h"
#include "server/worker.h"

#define FLUSH_MS 10
#define BLOB_PREFIX "obs."

static bool persisted(const struct js_consumer *c)
{
    return c->durable && !c->cfg.mem_storage;
}

static void blob_name(const char *name, char *out, size_t cap)
{
    bool plain = *name != '\0';
    for (const char *p = name; *p && plain; p++)
        plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                *p == '_' || *p == '-';
    if (plain) {
        snprintf(out, cap, BLOB_PREFIX "%s", name);
        return;
    }
    /* Consumer names never hold '.', so "obs.." cannot clash with a plain one. */
    size_t o = (size_t)snprintf(out, cap, BLOB_PREFIX ".");
    for (const unsigned char *p = (const unsigned char *)name; *p && o + 3 < cap; p++)
        o += (size_t)snprintf(out + o, cap - o, "%02x", *p);
}

static struct jscmd_bytes bytes_of(const char *s)
{
    struct jscmd_bytes b = { s, s ? strlen(s) : 0 };
    return b;
}

static int encode_meta(struct js_consumer *c)
{
    char *json = js_consumer_config_to_json(&c->cfg);
    if (!json)
        return -ENOMEM;
    struct jscmd cmd = {
        .op = JSCMD_CONSUMER_CREATE,
        .stream = bytes_of(c->st->cfg.name),
        .consumer = bytes_of(c->name),
        .config = bytes_of(json),
        .created_ns = (uint64_t)c->created,
    };
    char *out;
    size_t len;
    int rc = jscmd_encode(&cmd, &out, &len);
    free(json);
    if (rc < 0)
        return rc;
    free(c->meta);
    c->meta = out;
    c->meta_len = len;
    return 0;
}

/* The CONSUMER_ACKS entry of c's replicated progress. */
static int encode_rep(struct js_consumer *c, char **out, size_t *len)
{
    const struct js_cprog *p = &c->rep;
    struct jscmd cmd = {
        .op = JSCMD_CONSUMER_ACKS,
        .acks = {
            .stream = bytes_of(c->st->cfg.name),
            .consumer = bytes_of(c->name),
            .ack_floor_sseq = p->floor_sseq,
            .ack_floor_cseq = p->floor_cseq,
            .delivered_sseq = p->delivered_sseq,
            .delivered_cseq = p->delivered_cseq,
            .acked = p->acked,
            .nacked = p->nacked,
            .redelivered = (const uint64_t(*)[2])p->redelivered,
            .nredelivered = p->nredelivered,
            .start_sseq = p->start_sseq,
        },
    };
    return jscmd_encode(&cmd, out, len);
}

/* Propose c's live progress (the runtime's view) as CONSUMER_ACKS. */
static int propose_live(struct js_consumer *c, const char *reply, size_t rlen)
{
    size_t nacked = 0, nred = 0;
    for (size_t i = c->rt.pend_off; i < c->rt.pend_off + c->rt.pend_len; i++) {
        if (c->rt.pend[i].state == JS_PEND_DONE)
            nacked++;
        else if (c->rt.pend[i].dc > 1)
            nred++;
    }
    uint64_t *acked = malloc((nacked ? nacked : 1) * sizeof *acked);
    uint64_t(*red)[2] = malloc((nred ? nred : 1) * sizeof *red);
    if (!acked || !red) {
        free(acked);
        free(red);
        return -ENOMEM;
    }
    size_t a = 0, r = 0;
    for (size_t i = c->rt.pend_off; i < c->rt.pend_off + c->rt.pend_len; i++) {
        const struct js_pending *p = &c->rt.pend[i];
        if (p->state == JS_PEND_DONE) {
            acked[a++] = p->sseq;
        } else if (p->dc > 1) {
            red[r][0] = p->sseq;
            red[r++][1] = p->dc;
        }
    }
    struct jscmd cmd = {
        .op = JSCMD_CONSUMER_ACKS,
        .acks = {
            .stream = bytes_of(c->st->cfg.name),
            .consumer = bytes_of(c->name),
            .ack_floor_sseq = c->rt.floor_sseq,
            .ack_floor_cseq = c->rt.floor_cseq,
            .delivered_sseq = c->rt.sseq ? c->rt.sseq - 1 : 0,
            .delivered_cseq = c->rt.dseq,
            .acked = acked,
            .nacked = nacked,
            .redelivered = (const uint64_t(*)[2])red,
            .nredelivered = nred,
            .start_sseq = c->rt.start_sseq,
        },
    };
    int rc = js_propose(c->st->js, &cmd, reply, rlen);
    free(acked);
    free(red);
    return rc;
}

int js_consumer_save(struct js_consumer *c)
{
    if (!persisted(c))
        return 0;
    int rc = 0;
    if (!c->meta && (rc = encode_meta(c)) < 0)
        return rc;
    char *acks;
    size_t alen;
    if ((rc = encode_rep(c, &acks, &alen)) < 0)
        return rc;
    char *blob = malloc(c->meta_len + alen);
    if (!blob) {
        free(acks);
        return -ENOMEM;
    }
    memcpy(blob, c->meta, c->meta_len);
    memcpy(blob + c->meta_len, acks, alen);
    free(acks);
    char name[600];
    blob_name(c->name, name, sizeof name);
    rc = store_blob_put(c->st->store, name, blob, c->meta_len + alen);
    free(blob);
    return rc;
}

void js_consumer_flush(struct js_consumer *c, const char *reply, size_t rlen)
{
    if (!c->rt.attached || (!c->rt.dirty && !rlen))
        return;
    if (!js_consumer_replicated(c)) {
        /* Nothing outlives the serving node: nothing to wait for. */
        c->rt.dirty = false;
        if (rlen)
            js_send(c->st->js, reply, rlen, NULL, 0, NULL, 0, NULL, 0);
        return;
    }
    c->rt.dirty = false;
    c->rt.flushed_at = js_clock(c->st->js);
    int rc = propose_live(c, reply, rlen);
    if (rc < 0) {
        LOG_WARN("JetStream: consumer '%s > %s': proposing its progress failed: %s",
                 c->st->cfg.name, c->name, strerror(-rc));
        js_consumer_mark_dirty(c); /* try again */
    }
}

static void on_flush(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    js_consumer_flush(arg, NULL, 0);
}

void js_consumer_mark_dirty(struct js_consumer *c)
{
    if (!c->rt.attached || !js_consumer_replicated(c))
        return; /* nothing to propose */
    if (c->rt.dirty && c->rt.flush_ev && event_pending(c->rt.flush_ev, EV_TIMEOUT, NULL))
        return;
    c->rt.dirty = true;
    if (!c->rt.flush_ev && !(c->rt.flush_ev = evtimer_new(c->st->js->env.base, on_flush, c)))
        return;
    int64_t wait = c->rt.flushed_at + FLUSH_MS * 1000000LL - js_clock(c->st->js);
    if (wait < 0)
        wait = 0;
    struct timeval tv = { (time_t)(wait / 1000000000LL), (suseconds_t)(wait % 1000000000LL / 1000) };
    event_add(c->rt.flush_ev, &tv);
}

void js_consumer_flush_state(struct js_stream *st)
{
    int64_t now = js_clock(st->js);
    for (struct js_consumer *c = st->consumers; c; c = js_consumer_next(c))
        if (c->rt.dirty && now - c->rt.flushed_at >= FLUSH_MS * 1000000LL)
            js_consumer_flush(c, NULL, 0);
}

void js_consumer_erase(struct js_consumer *c)
{
    if (!persisted(c))
        return;
    char name[600];
    blob_name(c->name, name, sizeof name);
    int rc = store_blob_delete(c->st->store, name);
    if (rc < 0 && rc != -ENOENT)
        LOG_WARN("JetStream: consumer '%s > %s': removing its state failed: %s", c->st->cfg.name,
                 c->name, strerror(-rc));
}

/* ---- restart ---- */



int js_consumer_live_from_rep(struct js_consumer *c)
{
    const struct js_cprog *a = &c->rep;
    c->rt.pend_off = c->rt.pend_len = 0;
    c->rt.npending = c->rt.nredelivered = 0;
    c->rt.rdq_len = c->rt.rdq_head = 0;
    free(c->rt.lps); /* the progress replaces the start position */
    c->rt.lps = NULL;
    c->rt.lps_len = c->rt.lps_pos = 0;
    c->rt.start_sseq = a->start_sseq;
    c->rt.dseq = a->delivered_cseq;
    c->rt.sseq = a->delivered_sseq + 1;
    c->rt.floor_sseq = a->floor_sseq;
    c->rt.floor_cseq = a->floor_cseq;
    c->rt.np_valid = false;
    if (c->cfg.ack_policy == JS_ACK_NONE || a->floor_sseq >= a->delivered_sseq) {
        js_consumer_settle(c, false);
        return 0;
    }
    /* Pending = what was delivered above the floor (every stored message
     * the filter takes from the start up to delivered_sseq) minus what was
     * acked. */
    uint64_t cseq = a->floor_cseq, seq = a->floor_sseq + 1;
    if (seq < a->start_sseq)
        seq = a->start_sseq;
    int rc = 0;
    while (seq <= a->delivered_sseq &&
           js_filter_load_next(c->st->store, seq, &c->filter, &c->scratch) == 0 &&
           c->scratch.seq <= a->delivered_sseq) {
        uint64_t s = c->scratch.seq;
        if (cseq < c->rt.dseq)
            cseq++;
        uint32_t dc = 1;
        for (size_t i = 0; i < a->nredelivered; i++)
            if (a->redelivered[i][0] == s)
                dc = (uint32_t)a->redelivered[i][1];
        bool done = js_seqs_has(a->acked, a->nacked, s);
        if ((rc = js_consumer_pend_add(c, s, cseq, dc, done ? JS_PEND_DONE : JS_PEND_LIVE)) < 0)
            break;
        seq = s + 1;
    }
    js_consumer_settle(c, false);
    return rc;
}

struct names {
    char **v;
    size_t n, cap;
};

static int collect(void *arg, const char *name)
{
    struct names *ns = arg;
    if (ns->n == ns->cap) {
        size_t cap = ns->cap ? ns->cap * 2 : 16;
        char **v = realloc(ns->v, cap * sizeof *v);
        if (!v)
            return -ENOMEM;
        ns->v = v;
        ns->cap = cap;
    }
    if (!(ns->v[ns->n] = strdup(name)))
        return -ENOMEM;
    ns->n++;
    return 0;
}

static size_t entry_len(const unsigned char *e, size_t avail)
{
    if (avail < JSCMD_ENVELOPE)
        return 0;
    size_t body = (size_t)e[4] | (size_t)e[5] << 8 | (size_t)e[6] << 16 | (size_t)e[7] << 24;
    size_t len = (JSCMD_ENVELOPE + body + 7) & ~(size_t)7;
    return len <= avail ? len : 0;
}

/* One blob: a consumer back, or a logged reason why not (never fatal: the
 * stream comes up with the consumers that could be read). */
static void load_one(struct js_stream *st, const char *bname)
{
    void *data = NULL;
    size_t len = 0;
    struct jscmd cc = { 0 }, ca = { 0 };
    struct js_consumer_config cfg = { 0 };
    struct js_err err = { 0 };
    char *name = NULL, *body = NULL;
    const char *why = "unreadable";
    int rc = store_blob_get(st->store, bname, &data, &len);
    if (rc < 0)
        goto out;
    size_t l1 = entry_len(data, len);
    why = "malformed";
    if (!l1 || jscmd_decode(data, l1, &cc) < 0 || cc.op != JSCMD_CONSUMER_CREATE ||
        !cc.consumer.ptr || !cc.config.ptr)
        goto out;
    name = strndup(cc.consumer.ptr, cc.consumer.len);
    json_t *cfgj = json_loadb(cc.config.ptr, cc.config.len, 0, NULL);
    json_t *req = cfgj ? json_pack("{s:s,s:o}", "stream_name", st->cfg.name, "config", cfgj)
                       : NULL;
    body = req ? json_dumps(req, JSON_COMPACT) : NULL;
    json_decref(req);
    if (!name || !body)
        goto out;
    why = err.description;
    if (js_consumer_config_parse(body, strlen(body), st->cfg.name, JS_CFORM_DURABLE, name, NULL,
                                 &cfg, &err) < 0)
        goto out;
    struct js_consumer *c;
    why = "out of memory";
    if (js_consumer_apply_create(st, name, &cfg, (int64_t)cc.created_ns, false, &c) < 0)
        goto out;
    size_t l2 = entry_len((const unsigned char *)data + l1, len - l1);
    if (l2 && jscmd_decode((const char *)data + l1, l2, &ca) == 0 &&
        ca.op == JSCMD_CONSUMER_ACKS && js_consumer_apply_acks(c, &ca.acks, true) == 0) {
        LOG_DEBUG("JetStream: consumer '%s > %s' restored at ack floor %" PRIu64,
                  st->cfg.name, name, c->rep.floor_sseq);
    } else {
        LOG_WARN("JetStream: consumer '%s > %s': no readable progress, starting over",
                 st->cfg.name, name);
    }
    why = NULL;
out:
    if (why)
        LOG_ERROR("JetStream: stream '%s': consumer state %s %s; skipped", st->cfg.name, bname,
                  why);
    jscmd_free(&cc);
    jscmd_free(&ca);
    js_consumer_config_free(&cfg);
    free(name);
    free(body);
    free(data);
}

int js_consumer_load_all(struct js_stream *st)
{
    struct names ns = { 0 };
    int rc = store_blob_each(st->store, BLOB_PREFIX, collect, &ns);
    for (size_t i = 0; i < ns.n; i++) {
        if (rc >= 0)
            load_one(st, ns.v[i]);
        free(ns.v[i]);
    }
    free(ns.v);
    return rc < 0 ? rc : 0;
}
