/*
 * server/js_consumer_store.c — durable consumers' state in their stream's
 * store (store.h blobs), and restart.
 *
 * One blob per durable consumer, "obs.<name>" ("obs..<hex>" when the name
 * has bytes a blob name may not), holding two proto/jscmd.h entries back
 * to back: the CONSUMER_CREATE that made it (normalised config JSON,
 * created time) and a CONSUMER_ACKS with its progress (delivered, ack
 * floor, acked above the floor, redelivery counts). Restart applies exactly
 * what raft would: js_consumer_apply_create, then js_consumer_apply_acks.
 *
 * Writes are coalesced: a change marks the consumer dirty and a timer
 * writes at most every FLUSH_MS; an ack that wants a reply (ack_sync), an
 * info request and shutdown write at once. A blob replace is atomic and
 * survives kill -9, so a restarted consumer resumes at the ack floor of its
 * last write: at worst acks of the last few milliseconds are redelivered,
 * nothing is skipped. Ack deadlines are not stored: after a restart every
 * pending message gets a fresh ack_wait. Runs only on the JetStream loop.
 */
#include <errno.h>
#include <event2/event.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/jscmd.h"
#include "server/js_consumer.h"
#include "server/log.h"
#include "server/worker.h"

#define FLUSH_MS 10
#define RETRY_MS 1000
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

/* The CONSUMER_ACKS command of c's current progress. */
static int encode_acks(struct js_consumer *c, char **out, size_t *len)
{
    size_t nacked = 0, nred = 0;
    for (size_t i = c->pend_off; i < c->pend_off + c->pend_len; i++) {
        if (c->pend[i].state == JS_PEND_DONE)
            nacked++;
        else if (c->pend[i].dc > 1)
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
    for (size_t i = c->pend_off; i < c->pend_off + c->pend_len; i++) {
        const struct js_pending *p = &c->pend[i];
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
            .ack_floor_sseq = c->floor_sseq,
            .ack_floor_cseq = c->floor_cseq,
            .delivered_sseq = c->sseq ? c->sseq - 1 : 0,
            .delivered_cseq = c->dseq,
            .acked = acked,
            .nacked = nacked,
            .redelivered = (const uint64_t(*)[2])red,
            .nredelivered = nred,
        },
    };
    int rc = jscmd_encode(&cmd, out, len);
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
    if ((rc = encode_acks(c, &acks, &alen)) < 0)
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
    c->flushed_at = js_now();
    if (rc < 0)
        return rc;
    c->dirty = false;
    return 0;
}

void js_consumer_flush(struct js_consumer *c)
{
    if (!c->dirty || !persisted(c))
        return;
    int rc = js_consumer_save(c);
    if (rc < 0) {
        LOG_WARN("JetStream: consumer '%s > %s': saving its state failed: %s", c->st->cfg.name,
                 c->name, strerror(-rc));
        struct timeval tv = { 0, RETRY_MS * 1000 };
        if (c->flush_ev)
            event_add(c->flush_ev, &tv);
    }
}

static void on_flush(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    js_consumer_flush(arg);
}

void js_consumer_mark_dirty(struct js_consumer *c)
{
    if (!persisted(c)) /* nothing to write; the flag is only a hint here */
        return;
    if (c->dirty && c->flush_ev && event_pending(c->flush_ev, EV_TIMEOUT, NULL))
        return;
    c->dirty = true;
    if (!c->flush_ev && !(c->flush_ev = evtimer_new(c->st->js->w->base, on_flush, c)))
        return;
    int64_t wait = c->flushed_at + FLUSH_MS * 1000000LL - js_now();
    if (wait < 0)
        wait = 0;
    struct timeval tv = { (time_t)(wait / 1000000000LL), (suseconds_t)(wait % 1000000000LL / 1000) };
    event_add(c->flush_ev, &tv);
}

void js_consumer_flush_state(struct js_stream *st)
{
    int64_t now = js_now();
    for (struct js_consumer *c = st->consumers; c; c = js_consumer_next(c))
        if (c->dirty && now - c->flushed_at >= FLUSH_MS * 1000000LL)
            js_consumer_flush(c);
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
    c->dirty = false;
}

/* ---- restart ---- */

static bool has_u64(const uint64_t *v, size_t n, uint64_t x)
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

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int js_consumer_apply_acks(struct js_consumer *c, const struct jscmd_acks *a)
{
    c->pend_off = c->pend_len = 0;
    c->npending = c->nredelivered = 0;
    c->rdq_len = c->rdq_head = 0;
    free(c->lps); /* the progress replaces the start position */
    c->lps = NULL;
    c->lps_len = c->lps_pos = 0;
    c->dseq = a->delivered_cseq;
    c->sseq = a->delivered_sseq + 1;
    c->floor_sseq = a->ack_floor_sseq;
    c->floor_cseq = a->ack_floor_cseq;
    c->np_valid = false;
    if (c->cfg.ack_policy == JS_ACK_NONE || a->ack_floor_sseq >= a->delivered_sseq) {
        js_consumer_settle(c, false);
        return 0;
    }
    uint64_t *acked = malloc((a->nacked ? a->nacked : 1) * sizeof *acked);
    if (!acked)
        return -ENOMEM;
    if (a->nacked)
        memcpy(acked, a->acked, a->nacked * sizeof *acked);
    qsort(acked, a->nacked, sizeof *acked, cmp_u64);
    /* Pending = what was delivered above the floor (every stored message
     * the filter takes up to delivered_sseq) minus what was acked. */
    uint64_t cseq = a->ack_floor_cseq, seq = a->ack_floor_sseq + 1;
    int rc = 0;
    while (seq <= a->delivered_sseq &&
           store_load_next(c->st->store, seq, c->filter, c->filter_len, &c->scratch) == 0 &&
           c->scratch.seq <= a->delivered_sseq) {
        uint64_t s = c->scratch.seq;
        if (cseq < c->dseq)
            cseq++;
        uint32_t dc = 1;
        for (size_t i = 0; i < a->nredelivered; i++)
            if (a->redelivered[i][0] == s)
                dc = (uint32_t)a->redelivered[i][1];
        bool done = has_u64(acked, a->nacked, s);
        if ((rc = js_consumer_pend_add(c, s, cseq, dc, done ? JS_PEND_DONE : JS_PEND_LIVE)) < 0)
            break;
        seq = s + 1;
    }
    free(acked);
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
    if (js_consumer_apply_create(st, name, &cfg, (int64_t)cc.created_ns, &c) < 0)
        goto out;
    size_t l2 = entry_len((const unsigned char *)data + l1, len - l1);
    if (l2 && jscmd_decode((const char *)data + l1, l2, &ca) == 0 &&
        ca.op == JSCMD_CONSUMER_ACKS && js_consumer_apply_acks(c, &ca.acks) == 0) {
        LOG_DEBUG("JetStream: consumer '%s > %s' restored at ack floor %" PRIu64,
                  st->cfg.name, name, c->floor_sseq);
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
