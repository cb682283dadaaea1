/*
 * server/jetstream/js_propose.c — the single-node proposer (contract in
 * js_propose.h): apply at once, keep the typed result, sync the batch,
 * then render and send.
 *
 * Results wait in one array in arrival order. The commit syncs each stream
 * the batch changed (one fdatasync per stream: group commit); a stream whose
 * sync failed turns its waiting successes into 10023 errors, because the
 * publisher must not hear "stored" when durability is unknown. Only then
 * are republished copies sent (js_republish.c), PubAcks and API replies
 * rendered from the results and sent, and the consumers of streams that
 * appended or removed messages woken.
 *
 * What the runtime does around an apply (js_fsm.h keeps apply free of it):
 * a deleted stream's subscriptions and expiry timer are dropped and its
 * waiting replies released first; a created stream is attached (its
 * subjects subscribed) after; an update that changed the subjects or the
 * max_age re-attaches. Runs only on the JetStream loop.
 */
#include "proto/header.h"
#include "server/jetstream/js_propose.h"
#include "server/jetstream/js_source.h"

#include <errno.h>
#include <event2/event.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/jetstream/js_consumer.h"
#include "server/jetstream/js_fsm.h"
#include "server/jetstream/js_internal.h"
#include "server/log.h"
#include "server/worker.h"

/* A result waiting for the commit. */
struct js_waiting {
    char *reply;              /* owned; NULL: nothing to send */
    size_t reply_len;
    char *consumer;           /* owned: a consumer command's consumer */
    struct js_result res;
};

/* Owned by struct js (js->prop). */
struct js_proposer {
    struct js_waiting *v;     /* owned array; entries own their strings */
    size_t n, cap;
    uint64_t lost;            /* replies dropped for want of memory */
    bool in_batch;            /* an inbound batch runs: it commits at its end */
    struct event *commit_ev;  /* owned: commits what a timer proposed */

    /* Replicated mode (js_propose_set_log). */
    struct js_log log;        /* log.propose NULL: single node */
    struct jscmd_publish *pubs; /* owned array: the publish batch gathering;
                                   its bytes borrow the inbound batch, which
                                   lives until js_propose_commit */
    struct js_waiting *pubw;  /* owned array: their replies (reply NULL: none) */
    size_t npubs, cap_pubs, pub_bytes;
    struct js_result *results; /* owned: what the last applied entry gave */
    size_t cap_results;
    enum js_apply_as as;      /* how the entry being applied is applied */
};

/* What this node proposed in one entry and waits for: handed to the log as
 * the entry's context, back in js_propose_done. */
struct js_inflight {
    size_t n;
    struct js_waiting w[];    /* one per command of the entry */
};

/* A publish batch is proposed at the end of the inbound batch, or earlier
 * when it reaches either bound (entries stay well below what raft sends in
 * one message). */
#define PUB_BATCH_MAX 4096
#define PUB_BATCH_BYTES (8u << 20)

static void on_commit(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    js_propose_commit(arg);
}

int js_propose_init(struct js *js)
{
    js->prop = calloc(1, sizeof *js->prop);
    if (!js->prop)
        return -ENOMEM;
    if (js->env.base && !(js->prop->commit_ev = evtimer_new(js->env.base, on_commit, js)))
        return -ENOMEM;
    return 0;
}

void js_propose_batch_begin(struct js *js)
{
    js->prop->in_batch = true;
}

uint64_t js_propose_lost(const struct js *js)
{
    return js->prop ? js->prop->lost : 0;
}

static void lose(struct js_proposer *p, const struct js_result *res)
{
    p->lost++;
    LOG_ERROR("JetStream: out of memory holding the reply of a %s (seq %" PRIu64
              "); the client will time out and retry",
              jscmd_op_name(res->op), res->seq);
}

/* Keep a result for the commit. cn (owned, taken; NULL: none) is the
 * consumer a consumer command named, copied before the apply, which may
 * have freed the bytes the command borrowed (a delete). */
static void hold(struct js *js, const char *reply, size_t rlen, const struct js_result *res,
                 char *cn)
{
    struct js_proposer *p = js->prop;
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 256;
        struct js_waiting *v = realloc(p->v, cap * sizeof *v);
        if (!v) {
            free(cn);
            lose(p, res);
            return;
        }
        p->v = v;
        p->cap = cap;
    }
    char *r = strndup(reply, rlen);
    if (!r) {
        free(cn);
        lose(p, res);
        return;
    }
    p->v[p->n++] = (struct js_waiting){ .reply = r, .reply_len = rlen, .consumer = cn,
                                        .res = *res };
}

/* ---- rendering ---- */

/* A stream's name as the body of a JSON string: a name may hold '"' and
 * control bytes (js_name_valid refuses only whitespace, '.', '*' and '>'),
 * which nats-server's json.Marshal escapes. Most names need nothing, and
 * the scan is over a few bytes per PubAck. */
static const char *json_name(const char *name, char *out, size_t cap)
{
    size_t o = 0;
    for (const char *c = name; *c && o + 7 < cap; c++) {
        unsigned char u = (unsigned char)*c;
        if (u == '"' || u == '\\') {
            out[o++] = '\\';
            out[o++] = (char)u;
        } else if (u < 0x20) {
            o += (size_t)snprintf(out + o, cap - o, "\\u%04x", u);
        } else {
            out[o++] = (char)u;
        }
    }
    out[o] = '\0';
    return out;
}

static void send_puback(struct js *js, const struct js_waiting *w, struct js_stream *st)
{
    const struct js_result *r = &w->res;
    char buf[2048], esc[6 * 256 + 8]; /* names are at most 255 bytes */
    const char *name = json_name(st ? st->cfg.name : "", esc, sizeof esc);
    if (!js_result_ok(r)) {
        snprintf(buf, sizeof buf,
                 "{\"error\":{\"code\":%d,\"err_code\":%d,\"description\":\"%s\"},"
                 "\"stream\":\"%s\",\"seq\":0}",
                 r->err.code, r->err.err_code, r->err.description, name);
    } else {
        if (st && st->cfg.no_ack)
            return;
        snprintf(buf, sizeof buf, "{\"stream\":\"%s\", \"seq\":%" PRIu64 "%s}", name, r->seq,
                 r->duplicate ? ",\"duplicate\": true" : "");
    }
    js_send(js, w->reply, w->reply_len, NULL, 0, NULL, 0, buf, strlen(buf));
}

/* Render and send waiting results [from, to), then free them. A run of
 * results for one stream (the common case) looks the stream up once. */
static void render_one(struct js *js, struct js_waiting *w, struct js_stream **st)
{
    if (w->reply) {
        if (w->res.op == JSCMD_PUBLISH) {
            if (!*st || (*st)->id != w->res.stream_id)
                *st = js_stream_by_id(js, w->res.stream_id);
            send_puback(js, w, *st);
        } else if (w->res.op >= JSCMD_CONSUMER_CREATE && w->res.op != JSCMD_PUBLISH_BATCH) {
            js_consumer_api_render(js, w->reply, w->reply_len, &w->res, w->consumer);
        } else {
            js_api_render(js, w->reply, w->reply_len, &w->res);
        }
    }
    free(w->reply);
    free(w->consumer);
}

static void release(struct js *js, size_t from, size_t to)
{
    struct js_proposer *p = js->prop;
    struct js_stream *st = NULL;
    for (size_t i = from; i < to; i++)
        render_one(js, &p->v[i], &st);
}

/* Sync st, then send its republished copies; on failure its waiting
 * successes become 10023 errors and its copies are dropped: what a client
 * cannot be told is stored is not announced either. */
static void sync_stream(struct js *js, struct js_stream *st)
{
    int rc = store_sync(st->store);
    if (rc >= 0) {
        js_republish_send(js, st->id);
        return;
    }
    js_republish_drop(js, st->id);
    LOG_ERROR("JetStream: syncing stream '%s' failed: %s", st->cfg.name, strerror(-rc));
    struct js_proposer *p = js->prop;
    for (size_t i = 0; i < p->n; i++) {
        struct js_result *r = &p->v[i].res;
        if (r->stream_id == st->id && js_result_ok(r) && !r->duplicate)
            js_err_set(&r->err, 10023, NULL);
    }
}

static void flush_publishes(struct js *js);
static void settle_effects(struct js *js);

void js_propose_commit(struct js *js)
{
    struct js_proposer *p = js->prop;
    p->in_batch = false;
    if (p->log.propose) {
        /* The log makes it durable and answers; here only the gathered
         * publishes leave as one entry. */
        flush_publishes(js);
        return;
    }
    for (struct js_stream *st = js->streams; st; st = st->next) {
        if (!st->dirty)
            continue;
        js_consumer_flush_state(st); /* may remove messages: before the sync */
        sync_stream(js, st);
        /* after the copies are on disk: a cursor never runs ahead of them
         * (js_source.h) */
        if (js_source_save(st) < 0)
            LOG_WARN("JetStream: stream '%s': saving its sources' positions failed",
                     st->cfg.name);
    }
    size_t n = p->n;
    p->n = 0;
    release(js, 0, n);
    for (struct js_stream *st = js->streams; st; st = st->next) {
        if (st->removed) {
            st->removed = false;
            js_consumer_stream_removed(st);
        }
        if (!st->dirty)
            continue;
        st->dirty = false;
        js_consumer_stream_appended(st);
    }
}

/* A stream about to be deleted: its waiting replies go out now (their
 * messages were stored; the stream's end does not undo that) and its
 * runtime stops. */
static void before_delete(struct js *js, struct js_stream *st)
{
    js_consumer_detach_all(st, JS_STATUS_DELETED);
    js_stream_detach(st);
    sync_stream(js, st);
    struct js_proposer *p = js->prop;
    size_t keep = 0;
    for (size_t i = 0; i < p->n; i++) {
        if (p->v[i].res.stream_id == st->id) {
            release(js, i, i + 1);
            continue;
        }
        p->v[keep++] = p->v[i];
    }
    p->n = keep;
}

static struct js_consumer *consumer_of(struct js_stream *st, const struct jscmd *cmd)
{
    return cmd->consumer.ptr ? js_consumer_find(st, cmd->consumer.ptr, cmd->consumer.len) : NULL;
}

static void after_apply(struct js *js, const struct jscmd *cmd, const struct js_result *res)
{
    if (!js->active || !js_result_ok(res))
        return;
    struct js_stream *st;
    struct js_consumer *c;
    switch (res->op) {
    case JSCMD_STREAM_CREATE:
        if (res->created && (st = js_stream_by_id(js, res->stream_id)))
            js_stream_attach(st);
        break;
    case JSCMD_STREAM_UPDATE:
        /* Subjects or max_age may have changed: attach afresh. */
        if ((st = js_stream_by_id(js, res->stream_id)))
            js_stream_attach(st);
        break;
    case JSCMD_CONSUMER_CREATE:
    case JSCMD_CONSUMER_UPDATE:
        if (!(st = js_stream_by_id(js, res->stream_id)) || !(c = consumer_of(st, cmd)))
            break;
        if (res->created)
            js_consumer_attach(c);
        else if (res->updated)
            js_consumer_updated(c);
        break;
    default:
        break;
    }
}

/* Apply cmd here, with what the runtime does around it (single node: at
 * once; replicated: when the log delivers it, on every member). */
/* The copy is built now, while the command's bytes live (p; NULL: read
 * back from st's store), and sent once the message is durable: after the
 * sync here, after the entry with a log (js_republish.c). Only the node
 * that republishes builds it; a follower remembers it briefly, in case the
 * leader died with it. */
static void republish(struct js *js, struct js_stream *st, const struct jscmd_publish *p,
                      const struct js_result *res)
{
    if (js->prop->log.propose ? js->prop->as == JS_APPLY_LEADING : js->active) {
        if (p)
            js_republish_queue(st, p, res);
        else
            js_republish_queue_stored(st, res);
    } else if (js->prop->log.propose && js->prop->as == JS_APPLY_FOLLOWING) {
        js_republish_remember(st, res);
    }
}

static int apply_local(struct js *js, const struct jscmd *cmd, struct js_result *res)
{
    struct js_stream *st = NULL;
    if (cmd->op == JSCMD_STREAM_DELETE || cmd->op == JSCMD_CONSUMER_DELETE)
        st = js_stream_find(js, cmd->stream.ptr, cmd->stream.len);
    if (st && cmd->op == JSCMD_STREAM_DELETE) {
        before_delete(js, st);
    } else if (st) {
        struct js_consumer *c = consumer_of(st, cmd);
        if (c) /* its waiting pulls hear 409 Consumer Deleted */
            js_consumer_detach(c, JS_STATUS_DELETED);
    }
    int rc = js_fsm_apply(js, cmd, res);
    if (rc < 0 && js_result_ok(res))
        js_err_set(&res->err, 10023, NULL);
    after_apply(js, cmd, res);
    if (res->republish && (st = js_stream_by_id(js, res->stream_id)))
        republish(js, st, &cmd->pub, res);
    /* Copies the streams' sources stored in this apply, read back from
     * their stores (the origin's bytes are the command's no longer). */
    for (size_t i = 0; i < js->nderived; i++)
        if ((st = js_stream_by_id(js, js->derived[i].stream_id)))
            republish(js, st, NULL, &js->derived[i]);
    js->nderived = 0;
    return rc;
}

static struct jscmd_bytes consumer_named(const struct jscmd *cmd)
{
    return cmd->op == JSCMD_CONSUMER_ACKS ? cmd->acks.consumer : cmd->consumer;
}

static int propose_to_log(struct js *js, const struct jscmd *cmd, const char *reply,
                          size_t rlen);

int js_propose(struct js *js, const struct jscmd *cmd, const char *reply, size_t rlen)
{
    struct js_proposer *p = js->prop;
    if (p->log.propose)
        return propose_to_log(js, cmd, reply, rlen);
    struct jscmd_bytes c = consumer_named(cmd);
    char *cn = NULL;
    if (reply && rlen && c.ptr && !(cn = strndup(c.ptr, c.len))) {
        struct js_result r = { .op = cmd->op };
        lose(p, &r);
        return -ENOMEM;
    }
    struct js_result res;
    int rc = apply_local(js, cmd, &res);
    if (reply && rlen && !res.dropped)
        hold(js, reply, rlen, &res, cn);
    else
        free(cn);
    /* Outside an inbound batch (a timer proposed it), commit right after
     * this event, so replies and consumers do not wait for traffic. */
    if (!p->in_batch && p->commit_ev)
        event_active(p->commit_ev, EV_TIMEOUT, 0);
    return rc;
}

/* ---- replicated mode: commands go to the log, results come back ---- */

void js_propose_set_log(struct js *js, const struct js_log *log)
{
    js->prop->log = log ? *log : (struct js_log){ 0 };
}

static struct js_inflight *inflight_new(size_t n)
{
    return calloc(1, sizeof(struct js_inflight) + n * sizeof(struct js_waiting));
}

static void inflight_free(struct js_inflight *f)
{
    for (size_t i = 0; f && i < f->n; i++) {
        free(f->w[i].reply);
        free(f->w[i].consumer);
    }
    free(f);
}

/* An answer that is not definitive for requests the log would not take:
 * the API's 10008; a publish gets none (its client retries, and
 * Nats-Msg-Id makes the retry safe). */
static void unavailable(struct js *js, struct js_inflight *f)
{
    struct js_stream *st = NULL;
    for (size_t i = 0; i < f->n; i++) {
        struct js_waiting *w = &f->w[i];
        if (w->res.op == JSCMD_PUBLISH || w->res.op == JSCMD_CONSUMER_ACKS) {
            free(w->reply);
            w->reply = NULL;
        } else {
            js_err_set(&w->res.err, 10008, NULL);
        }
        render_one(js, w, &st);
        w->reply = NULL;
        w->consumer = NULL;
    }
    free(f);
}

/* Encode c and hand it to the log with f as its context (taken). */
static int submit(struct js *js, const struct jscmd *c, struct js_inflight *f)
{
    char *entry = NULL;
    size_t len = 0;
    int rc = jscmd_encode(c, &entry, &len);
    if (rc == 0)
        rc = js->prop->log.propose(js->prop->log.arg, entry, len, f);
    free(entry);
    if (rc < 0)
        unavailable(js, f);
    return rc;
}

static int set_waiting(struct js_waiting *w, enum jscmd_op op, const char *reply, size_t rlen,
                       struct jscmd_bytes consumer)
{
    w->res.op = op;
    if (reply && rlen && !(w->reply = strndup(reply, rlen)))
        return -ENOMEM;
    w->reply_len = rlen;
    if (consumer.ptr && !(w->consumer = strndup(consumer.ptr, consumer.len)))
        return -ENOMEM;
    return 0;
}

static void flush_publishes(struct js *js)
{
    struct js_proposer *p = js->prop;
    if (!p->npubs)
        return;
    struct js_inflight *f = inflight_new(p->npubs);
    if (!f) {
        for (size_t i = 0; i < p->npubs; i++) {
            lose(p, &p->pubw[i].res);
            free(p->pubw[i].reply);
        }
        p->npubs = p->pub_bytes = 0;
        return;
    }
    f->n = p->npubs;
    memcpy(f->w, p->pubw, p->npubs * sizeof *p->pubw);
    struct jscmd c = { .op = JSCMD_PUBLISH_BATCH, .pubs = p->pubs, .npubs = p->npubs };
    p->npubs = p->pub_bytes = 0;
    submit(js, &c, f);
}

static int gather_publish(struct js *js, const struct jscmd_publish *pub, const char *reply,
                          size_t rlen)
{
    struct js_proposer *p = js->prop;
    if (p->npubs == p->cap_pubs) {
        size_t cap = p->cap_pubs ? p->cap_pubs * 2 : 64;
        struct jscmd_publish *v = realloc(p->pubs, cap * sizeof *v);
        if (v)
            p->pubs = v;
        struct js_waiting *w = v ? realloc(p->pubw, cap * sizeof *w) : NULL;
        if (w)
            p->pubw = w;
        if (!v || !w) {
            struct js_result r = { .op = JSCMD_PUBLISH };
            lose(p, &r);
            return -ENOMEM;
        }
        p->cap_pubs = cap;
    }
    struct js_waiting *w = &p->pubw[p->npubs];
    memset(w, 0, sizeof *w);
    if (set_waiting(w, JSCMD_PUBLISH, reply, rlen, (struct jscmd_bytes){ 0 }) < 0) {
        lose(p, &w->res);
        return -ENOMEM;
    }
    p->pubs[p->npubs++] = *pub;
    p->pub_bytes += pub->hdr.len + pub->data.len + pub->subject.len;
    if (p->npubs >= PUB_BATCH_MAX || p->pub_bytes >= PUB_BATCH_BYTES)
        flush_publishes(js);
    return 0;
}

static int propose_to_log(struct js *js, const struct jscmd *cmd, const char *reply,
                          size_t rlen)
{
    if (cmd->op == JSCMD_PUBLISH)
        return gather_publish(js, &cmd->pub, reply, rlen);
    /* The log keeps the order things were asked in: publishes gathered
     * before this command go first. */
    flush_publishes(js);
    struct js_inflight *f = inflight_new(1);
    if (!f || set_waiting(&f->w[0], cmd->op, reply, rlen, consumer_named(cmd)) < 0) {
        struct js_result r = { .op = cmd->op };
        lose(js->prop, &r);
        inflight_free(f);
        return -ENOMEM;
    }
    f->n = 1;
    return submit(js, cmd, f);
}

/* After an entry: the consumers of streams it changed hear of it (serving
 * node), and the flags are cleared everywhere. The log is the durable
 * record, so nothing is synced here. Costs a pass over the streams per
 * entry; entries are batches. */
static void settle_effects(struct js *js)
{
    for (struct js_stream *st = js->streams; st; st = st->next) {
        if (st->removed) {
            st->removed = false;
            if (js->active)
                js_consumer_stream_removed(st);
        }
        if (st->dirty) {
            st->dirty = false;
            if (js->active)
                js_consumer_stream_appended(st);
        }
    }
}

static struct js_result *results_room(struct js_proposer *p, size_t n)
{
    if (n > p->cap_results) {
        struct js_result *v = realloc(p->results, n * sizeof *v);
        if (!v)
            return NULL;
        p->results = v;
        p->cap_results = n;
    }
    return p->results;
}

int js_propose_apply_entry(struct js *js, const char *entry, size_t len, enum js_apply_as as,
                           const struct js_result **results, size_t *n)
{
    struct js_proposer *p = js->prop;
    struct jscmd c;
    int rc = jscmd_decode(entry, len, &c);
    if (rc < 0) {
        /* Every member decodes the same bytes: skipping it keeps them
         * equal. Only a bug or damage gets here. */
        LOG_ERROR("JetStream: a replicated entry of %zu bytes does not decode (%s); skipped",
                  len, strerror(-rc));
        *results = NULL;
        *n = 0;
        return 0;
    }
    size_t count = c.op == JSCMD_PUBLISH_BATCH ? c.npubs : 1;
    struct js_result *res = results_room(p, count);
    if (!res) {
        jscmd_free(&c);
        return -ENOMEM;
    }
    p->as = as;
    if (as == JS_APPLY_LEADING)
        js_republish_takeover(js); /* first what the last leader may not have sent */
    if (c.op == JSCMD_PUBLISH_BATCH) {
        for (size_t i = 0; i < c.npubs && rc >= 0; i++) {
            struct jscmd one = { .op = JSCMD_PUBLISH, .pub = c.pubs[i] };
            rc = apply_local(js, &one, &res[i]);
        }
    } else {
        rc = apply_local(js, &c, &res[0]);
    }
    p->as = JS_APPLY_REPLAY;
    jscmd_free(&c);
    /* Committed on a majority before it was applied: the copies go now. */
    js_republish_send(js, 0);
    settle_effects(js);
    *results = res;
    *n = count;
    return rc;
}

void js_propose_done(struct js *js, void *ctx, int status, const struct js_result *res,
                     size_t n)
{
    struct js_inflight *f = ctx;
    struct js_stream *st = NULL;
    for (size_t i = 0; i < f->n; i++) {
        struct js_waiting *w = &f->w[i];
        if (status == 0 && res && i < n) {
            w->res = res[i];
            if (w->res.dropped) {
                free(w->reply);
                w->reply = NULL;
            }
            render_one(js, w, &st);
        } else {
            /* Not known to be applied (leadership lost, shutdown): no
             * definitive answer; publishes are retried with their ids. */
            free(w->reply);
            free(w->consumer);
        }
    }
    free(f);
}

/* ---- the publish proposer ---- */

static uint64_t header_u64(const char *v, size_t n)
{
    uint64_t x = 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9')
            return 0; /* non-numeric behaves like 0 (§6 #5) */
        x = x * 10 + (uint64_t)(v[i] - '0');
    }
    return x;
}

static uint8_t rollup_mode(const char *v, size_t n)
{
    if (n == 3 && memcmp(v, "sub", 3) == 0)
        return JSCMD_ROLLUP_SUB;
    if (n == 3 && memcmp(v, "all", 3) == 0)
        return JSCMD_ROLLUP_ALL;
    return JSCMD_ROLLUP_UNKNOWN;
}

void js_propose_publish(struct js *js, struct js_stream *st, const struct js_inmsg *m)
{
    const char *h = m->hdr, *v;
    size_t hl = m->hdr_len, vl;
    bool mem = st->cfg.storage == JS_STORAGE_MEMORY;
    int64_t limit = mem ? js->max_memory : js->max_store;
    int64_t acc_limit = mem ? js->acc.max_memory : js->acc.max_store;
    struct jscmd cmd = {
        .op = JSCMD_PUBLISH,
        .pub = {
            .stream = { st->cfg.name, strlen(st->cfg.name) },
            .subject = { m->subject, m->subject_len },
            .hdr = { m->hdr, m->hdr_len },
            .data = { m->data, m->data_len },
            .ts_ns = (uint64_t)js_clock(js),
            .acct_max = limit > 0 ? (uint64_t)limit : 0,
            .acct_limit = acc_limit > 0 ? (uint64_t)acc_limit : 0,
        },
    };
    struct jscmd_publish *p = &cmd.pub;
    if (hl) {
        if ((v = header_get(h, hl, "Nats-Msg-Id", &vl)) && vl)
            p->msg_id = (struct jscmd_bytes){ v, vl };
        if ((v = header_get(h, hl, "Nats-Expected-Stream", &vl)))
            p->exp_stream = (struct jscmd_bytes){ v, vl };
        if ((v = header_get(h, hl, "Nats-Expected-Last-Sequence", &vl)))
            p->has_exp_last_seq = true, p->exp_last_seq = header_u64(v, vl);
        if ((v = header_get(h, hl, "Nats-Expected-Last-Subject-Sequence", &vl)))
            p->has_exp_last_subj_seq = true, p->exp_last_subj_seq = header_u64(v, vl);
        if ((v = header_get(h, hl, "Nats-Expected-Last-Subject-Sequence-Subject", &vl)) && vl)
            p->exp_last_subj_seq_subj = (struct jscmd_bytes){ v, vl };
        if ((v = header_get(h, hl, "Nats-Expected-Last-Msg-Id", &vl)))
            p->exp_last_msg_id = (struct jscmd_bytes){ v, vl };
        if ((v = header_get(h, hl, "Nats-Rollup", &vl)))
            p->rollup = rollup_mode(v, vl);
    }
    js_propose(js, &cmd, m->reply, m->reply ? m->reply_len : 0);
}

void js_propose_free(struct js *js)
{
    struct js_proposer *p = js->prop;
    if (!p)
        return;
    for (size_t i = 0; i < p->n; i++) {
        free(p->v[i].reply);
        free(p->v[i].consumer);
    }
    free(p->v);
    for (size_t i = 0; i < p->npubs; i++)
        free(p->pubw[i].reply);
    free(p->pubs);
    free(p->pubw);
    free(p->results);
    js_republish_fini(js); /* queued copies are not known durable: never sent */
    if (p->commit_ev)
        event_free(p->commit_ev);
    free(p);
    js->prop = NULL;
}
