/*
 * server/jetstream.c — the JetStream engine: its loop, its internal
 * subscriptions, the inbound queue, and group commit.
 *
 * The engine runs on one extra worker loop (server/worker.c) that has no
 * sockets of its own. Internal subscriptions belong to an internal client
 * whose deliveries (server/deliver.c) are copied into a batch on the
 * publisher's loop, queued for the engine once per loop iteration; one
 * eventfd write per queue wakes the engine. The
 * engine handles a whole batch, then syncs every stream it appended to
 * (one fdatasync per stream per batch: group commit), and only then sends
 * the batch's PubAcks and lets consumers deliver. So a PubAck always means
 * "on disk", and a slow disk makes batches larger instead of slower.
 * Replies and deliveries go out through ordinary routing from this loop.
 */
#include "server/jetstream.h"

#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cluster/route.h"
#include "server/client.h"
#include "server/deliver.h"
#include "server/js_internal.h"
#include "server/log.h"
#include "server/reclaim.h"
#include "server/server.h"
#include "server/subs.h"
#include "server/sublist.h"
#include "server/worker.h"

/* Bytes the inbound queue may hold before publishes are refused (the
 * publisher then gets no PubAck and retries): bounds memory when clients
 * publish faster than the disk syncs. */
#define JS_INBOUND_MAX (512u << 20)

/* How often the JetStream loop refreshes what monitoring reads. */
#define STATS_REFRESH_MS 250

struct jetstream {
    struct js js;
    bool running;   /* main thread: the loop was started and not stopped */
    char *store_dir;                /* owned: "<store_dir>/jetstream" */
    struct event *stats_ev;         /* owned; JetStream loop */
    pthread_mutex_t stats_lock;     /* guards stats and streams */
    struct jetstream_stats stats;
    struct jetstream_stream_stats *streams; /* owned array of nstreams */
    size_t nstreams;
};

int64_t js_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- the inbound queue: any I/O loop → the engine ---- */

/* The inbound path. A delivery to an internal subscription is appended,
 * on the publisher's loop and without a lock, to that loop's stage: one
 * growing batch of packed records. At the end of the loop's iteration (the
 * same point where it flushes sockets) the batch joins the engine's queue
 * under one lock with at most one eventfd write. So a read of many
 * publishes costs one allocation and one lock, not one per message. */

/* A record's fixed part; subject, reply and headers+payload follow, each
 * NUL-terminated, and the record is padded to JS_REC_ALIGN. Offsets, not
 * pointers, so the batch may move while it grows. */
struct js_inrec {
    uint64_t id;
    size_t subject_len, reply_len, hdr_len, total_len;
    enum js_sub_kind kind;
};

#define JS_REC_ALIGN 8u
#define JS_BATCH_FIRST (4u << 10) /* grows by doubling within an iteration */

/* Owned by a stage while it grows, then by the queue, then by the engine,
 * which frees it after handling every record. */
struct js_batch {
    struct js_batch *next;
    size_t len, cap;          /* bytes of data used / allocated */
    size_t bytes;             /* what it counts in js->in_bytes */
    unsigned char data[];
};

/* One per loop (indexed by worker index); touched by that loop only. */
struct js_stage {
    struct js_batch *batch;   /* owned; NULL when nothing is staged */
};

static size_t rec_size(size_t subject_len, size_t reply_len, size_t total_len)
{
    size_t n = sizeof(struct js_inrec) + subject_len + 1 + reply_len + 1 + total_len + 1;
    return (n + JS_REC_ALIGN - 1) & ~(size_t)(JS_REC_ALIGN - 1);
}

/* Room for need more bytes in the stage's batch; NULL when out of memory. */
static struct js_batch *stage_room(struct js_stage *st, size_t need)
{
    struct js_batch *b = st->batch;
    if (b && b->cap - b->len >= need)
        return b;
    size_t cap = b ? b->cap : JS_BATCH_FIRST;
    while (cap - (b ? b->len : 0) < need)
        cap *= 2;
    struct js_batch *n = realloc(b, sizeof *n + cap);
    if (!n)
        return NULL;
    if (!b)
        n->next = NULL, n->len = 0, n->bytes = 0;
    n->cap = cap;
    st->batch = n;
    return n;
}

static uint64_t parse_id(const char *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n && p[i] >= '0' && p[i] <= '9'; i++)
        v = v * 10 + (uint64_t)(p[i] - '0');
    return v;
}

/* Runs on the publisher's loop w (server/deliver.c). Copies m whole into
 * w's stage; false (the message is dropped, the publisher gets no PubAck
 * and retries) when the engine is too far behind or memory is short. */
static bool on_internal_deliver(void *arg, struct worker *w, const struct sub *s,
                                const struct proto_msg *m)
{
    struct js *js = arg;
    size_t need = rec_size(m->subject.len, m->reply.len, m->total_len);
    if (atomic_fetch_add(&js->in_bytes, need) + need > JS_INBOUND_MAX) {
        atomic_fetch_sub(&js->in_bytes, need);
        return false;
    }
    struct js_stage *st = &js->stages[w->index];
    bool first = st->batch == NULL;
    struct js_batch *b = stage_room(st, need);
    if (!b) {
        atomic_fetch_sub(&js->in_bytes, need);
        return false;
    }
    struct js_inrec *r = (struct js_inrec *)(b->data + b->len);
    r->kind = (enum js_sub_kind)s->sid[0];
    r->id = parse_id(s->sid + 1, s->sid_len - 1);
    r->subject_len = m->subject.len;
    r->reply_len = m->reply.len;
    r->hdr_len = m->has_headers ? m->hdr_len : 0;
    r->total_len = m->total_len;
    char *p = (char *)(r + 1);
    memcpy(p, m->subject.ptr, m->subject.len);
    p[m->subject.len] = '\0';
    p += m->subject.len + 1;
    if (m->reply.len)
        memcpy(p, m->reply.ptr, m->reply.len);
    p[m->reply.len] = '\0';
    p += m->reply.len + 1;
    memcpy(p, m->data, m->total_len);
    p[m->total_len] = '\0';
    b->len += need;
    b->bytes += need;
    if (first)
        worker_note_output(w, js->ic); /* → on_internal_flush this iteration */
    return true;
}

/* End of loop w's iteration (server/worker.c): hand its batch over. */
static void on_internal_flush(void *arg, struct worker *w)
{
    struct js *js = arg;
    struct js_stage *st = &js->stages[w->index];
    struct js_batch *b = st->batch;
    if (!b)
        return;
    st->batch = NULL;
    bool wake = false;
    pthread_mutex_lock(&js->in_lock);
    *js->in_tail = b;
    js->in_tail = &b->next;
    if (!js->in_armed)
        js->in_armed = wake = true;
    pthread_mutex_unlock(&js->in_lock);
    if (wake) {
        uint64_t one = 1;
        ssize_t n = write(js->in_fd, &one, sizeof one);
        (void)n; /* only fails on counter overflow */
    }
}

/* The handlers' view of the record at off in b; returns the next offset. */
static size_t record_at(const struct js_batch *b, size_t off, struct js_inmsg *m)
{
    const struct js_inrec *r = (const struct js_inrec *)(b->data + off);
    const char *p = (const char *)(r + 1);
    m->kind = r->kind;
    m->id = r->id;
    m->subject = p;
    m->subject_len = r->subject_len;
    p += r->subject_len + 1;
    m->reply = r->reply_len ? p : NULL;
    m->reply_len = r->reply_len;
    p += r->reply_len + 1;
    m->hdr = r->hdr_len ? p : NULL;
    m->hdr_len = r->hdr_len;
    m->data = p + r->hdr_len;
    m->data_len = r->total_len - r->hdr_len;
    return off + rec_size(r->subject_len, r->reply_len, r->total_len);
}

static void free_batches(struct js_batch *b)
{
    while (b) {
        struct js_batch *next = b->next;
        free(b);
        b = next;
    }
}

static void dispatch(struct js *js, const struct js_inmsg *m)
{
    switch (m->kind) {
    case JS_SUB_API:
        if (m->subject_len > 17 && memcmp(m->subject, "$JS.API.CONSUMER.", 17) == 0)
            js_consumer_api(js, m);
        else
            js_api_dispatch(js, m);
        js->api_total++; /* after: INFO does not count itself, as 2.9 */
        break;
    case JS_SUB_STREAM: {
        struct js_stream *st = js_stream_by_id(js, m->id);
        if (st)
            js_stream_publish(st, m);
        break;
    }
    case JS_SUB_ACK:
        js_consumer_ack(js, m);
        break;
    case JS_SUB_FC:
        js_consumer_fc(js, m);
        break;
    }
}

static void send_acks(struct js *js, size_t from, size_t to)
{
    for (size_t i = from; i < to; i++) {
        struct js_pending_ack *a = &js->acks[i];
        js_send(js, a->reply, strlen(a->reply), NULL, 0, NULL, 0, a->json, strlen(a->json));
        free(a->reply);
        free(a->json);
    }
}

/* End of a batch: make it durable, then answer and deliver. */
static void commit(struct js *js)
{
    for (struct js_stream *st = js->streams; st; st = st->next) {
        if (!st->dirty)
            continue;
        int rc = store_sync(st->store);
        if (rc < 0) {
            LOG_ERROR("JetStream: syncing stream '%s' failed: %s", st->cfg.name,
                      strerror(-rc));
            /* Unknown durability: the publishers must not hear "stored". */
            for (size_t i = 0; i < js->nacks; i++) {
                struct js_pending_ack *a = &js->acks[i];
                if (a->stream_id != st->id || strstr(a->json, "\"error\""))
                    continue;
                free(a->json);
                struct js_err e;
                js_err_set(&e, 10023, NULL);
                char buf[512];
                snprintf(buf, sizeof buf,
                         "{\"error\":{\"code\":%d,\"err_code\":%d,\"description\":\"%s\"},"
                         "\"stream\":\"%s\",\"seq\":0}",
                         e.code, e.err_code, e.description, st->cfg.name);
                a->json = strdup(buf);
                if (!a->json)
                    a->json = strdup("{}");
            }
        }
        js_consumer_flush_state(st);
    }
    size_t n = js->nacks;
    js->nacks = 0;
    send_acks(js, 0, n);
    for (struct js_stream *st = js->streams; st; st = st->next) {
        if (!st->dirty)
            continue;
        st->dirty = false;
        js_consumer_stream_appended(st);
    }
}

static void on_inbound(evutil_socket_t fd, short what, void *arg)
{
    struct js *js = arg;
    (void)what;
    uint64_t v;
    ssize_t rn = read(fd, &v, sizeof v);
    (void)rn; /* EAGAIN: already drained */
    pthread_mutex_lock(&js->in_lock);
    struct js_batch *head = js->in_head;
    js->in_head = NULL;
    js->in_tail = &js->in_head;
    js->in_armed = false;
    pthread_mutex_unlock(&js->in_lock);
    for (struct js_batch *b = head; b; b = b->next) {
        for (size_t off = 0; off < b->len;) {
            struct js_inmsg m;
            off = record_at(b, off, &m);
            dispatch(js, &m);
        }
        atomic_fetch_sub(&js->in_bytes, b->bytes);
    }
    free_batches(head);
    commit(js);
}

/* ---- helpers for the other JetStream modules ---- */

size_t js_send(struct js *js, const char *subject, size_t slen, const char *reply,
               size_t rlen, const char *hdr, size_t hlen, const char *data, size_t dlen)
{
    /* deliver_publish wants headers and payload in one block; it copies
     * the block out before returning, so one scratch buffer serves all. */
    const char *block = data;
    if (hlen && dlen) {
        if (hlen + dlen > js->scratch_cap) {
            size_t cap = js->scratch_cap ? js->scratch_cap : 4096;
            while (cap < hlen + dlen)
                cap *= 2;
            char *n = realloc(js->scratch, cap);
            if (!n)
                return 0;
            js->scratch = n;
            js->scratch_cap = cap;
        }
        memcpy(js->scratch, hdr, hlen);
        memcpy(js->scratch + hlen, data, dlen);
        block = js->scratch;
    } else if (hlen) {
        block = hdr;
    }
    struct proto_msg m = {
        .subject = { subject, slen },
        .reply = { reply, rlen },
        .hdr_len = hlen,
        .total_len = hlen + dlen,
        .has_headers = hlen > 0,
        .data = block ? block : "",
    };
    return deliver_publish(js->w, NULL, &m);
}

void js_reply(struct js *js, const struct js_inmsg *req, const char *json)
{
    if (!req->reply || !json)
        return;
    js_send(js, req->reply, req->reply_len, NULL, 0, NULL, 0, json, strlen(json));
}

void js_reply_error(struct js *js, const struct js_inmsg *req, const char *type,
                    const struct js_err *e)
{
    js->api_errors++;
    char buf[640];
    /* The description comes from our own table or numbers; escape quotes
     * and backslashes anyway, since some texts carry user input. */
    char desc[520];
    size_t o = 0;
    for (const char *p = e->description; *p && o + 2 < sizeof desc; p++) {
        if (*p == '"' || *p == '\\')
            desc[o++] = '\\';
        desc[o++] = *p;
    }
    desc[o] = '\0';
    snprintf(buf, sizeof buf,
             "{\"type\":\"io.nats.jetstream.api.v1.%s\",\"error\":{\"code\":%d,"
             "\"err_code\":%d,\"description\":\"%s\"}}",
             type, e->code, e->err_code, desc);
    js_reply(js, req, buf);
}

void js_send_status(struct js *js, const char *subject, size_t slen, const char *hdr)
{
    js_send(js, subject, slen, NULL, 0, hdr, strlen(hdr), NULL, 0);
}

bool js_has_interest(struct js *js, const char *subject, size_t len)
{
    const struct sublist_result *r = sublist_cache_match(js->w->cache, subject, len);
    return r && (r->npsubs || r->nqgroups);
}

struct sub *js_subscribe(struct js *js, const char *subject, enum js_sub_kind kind, uint64_t id)
{
    char sid[24];
    int n = snprintf(sid, sizeof sid, "%c%llu", (char)kind, (unsigned long long)id);
    struct sub *s = sub_new(js->ic, subject, strlen(subject), NULL, 0, sid, (size_t)n);
    if (!s)
        return NULL;
    if (sublist_insert(js->srv->sublist, &s->base) < 0) {
        sub_free(s);
        return NULL;
    }
    cluster_local_interest(js->srv->cluster, js->w, s, true);
    return s;
}

void js_unsubscribe(struct js *js, struct sub *s)
{
    if (!s)
        return;
    sublist_remove(js->srv->sublist, &s->base);
    cluster_local_interest(js->srv->cluster, js->w, s, false);
    /* A loop may still hold it in a match result: free it only once every
     * loop has moved on. A delivery that still arrives finds no stream. */
    if (reclaim_retire(js->srv->reclaim, s, sub_free, NULL) < 0)
        LOG_ERROR("JetStream: out of memory retiring a subscription (leaked)");
}

int js_queue_ack(struct js *js, uint64_t stream_id, const char *reply, size_t rlen,
                 const char *json)
{
    if (js->nacks == js->cap_acks) {
        size_t cap = js->cap_acks ? js->cap_acks * 2 : 256;
        struct js_pending_ack *n = realloc(js->acks, cap * sizeof *n);
        if (!n)
            return -ENOMEM;
        js->acks = n;
        js->cap_acks = cap;
    }
    struct js_pending_ack *a = &js->acks[js->nacks];
    a->stream_id = stream_id;
    a->reply = strndup(reply, rlen);
    a->json = strdup(json);
    if (!a->reply || !a->json) {
        free(a->reply);
        free(a->json);
        return -ENOMEM;
    }
    js->nacks++;
    return 0;
}

void js_random_name(struct js *js, char out[9])
{
    static const char alpha[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    for (int i = 0; i < 8; i++) {
        uint64_t x = js->rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        js->rng = x;
        out[i] = alpha[((x * 0x2545F4914F6CDD1DULL) >> 33) % (sizeof alpha - 1)];
    }
    out[8] = '\0';
}

const char *js_header(const char *hdr, size_t hlen, const char *name, size_t *vlen)
{
    size_t nlen = strlen(name);
    if (!hdr || !hlen)
        return NULL;
    /* Skip the status line; each header line is "Name: value\r\n". */
    const char *p = memchr(hdr, '\n', hlen);
    const char *end = hdr + hlen;
    while (p && p + 1 < end) {
        const char *line = p + 1;
        const char *eol = memchr(line, '\n', (size_t)(end - line));
        if (!eol)
            eol = end;
        if ((size_t)(eol - line) > nlen && memcmp(line, name, nlen) == 0 && line[nlen] == ':') {
            const char *v = line + nlen + 1;
            const char *ve = eol;
            while (v < ve && (*v == ' ' || *v == '\t'))
                v++;
            while (ve > v && (ve[-1] == '\r' || ve[-1] == ' ' || ve[-1] == '\t'))
                ve--;
            *vlen = (size_t)(ve - v);
            return v;
        }
        p = eol < end ? eol : NULL;
    }
    return NULL;
}

/* ---- lifecycle ---- */

static int mkdir_p(const char *path)
{
    char tmp[4096];
    int n = snprintf(tmp, sizeof tmp, "%s", path);
    if (n <= 0 || (size_t)n >= sizeof tmp)
        return -ENAMETOOLONG;
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0750) < 0 && errno != EEXIST)
            return -errno;
        *p = '/';
    }
    if (mkdir(tmp, 0750) < 0 && errno != EEXIST)
        return -errno;
    return 0;
}

static int make_root(struct js *js, const struct tern_opts *o)
{
    char root[4096];
    const char *base = o->store_dir;
    char deflt[512];
    if (!base || !*base) {
        const char *tmp = getenv("TMPDIR");
        snprintf(deflt, sizeof deflt, "%s/tern", tmp && *tmp ? tmp : "/tmp");
        base = deflt;
    }
    int n = snprintf(root, sizeof root, "%s/jetstream/$G/streams", base);
    if (n <= 0 || (size_t)n >= sizeof root)
        return -ENAMETOOLONG;
    int rc = mkdir_p(root);
    if (rc < 0) {
        LOG_ERROR("JetStream: cannot create store directory %s: %s", root, strerror(-rc));
        return rc;
    }
    js->root = strdup(root);
    if (!js->root)
        return -ENOMEM;
    LOG_INFO("Starting JetStream");
    LOG_INFO("    Store Directory: \"%s/jetstream\"", base);
    LOG_INFO("    Max Memory:      %lld", (long long)js->max_memory);
    LOG_INFO("    Max Storage:     %lld", (long long)js->max_store);
    return 0;
}

static struct client *internal_client(struct js *js)
{
    struct client *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->srv = js->srv;
    c->w = js->w;
    c->kind = CLIENT_KIND_INTERNAL;
    c->fd = -1;
    c->cid = atomic_fetch_add(&js->srv->next_cid, 1);
    c->internal_deliver = on_internal_deliver;
    c->internal_flush = on_internal_flush;
    c->internal_arg = js;
    snprintf(c->ip, sizeof c->ip, "internal");
    pthread_mutex_init(&c->out_lock, NULL);
    pthread_mutex_init(&c->write_lock, NULL);
    pthread_mutex_init(&c->subs_lock, NULL);
    return c;
}

/* ---- monitoring figures ---- */

static void free_stream_stats(struct jetstream_stream_stats *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i].name);
        free(v[i].state_json);
    }
    free(v);
}

/* JetStream loop (or start-up, before it runs): recount and publish. A
 * stream whose details cannot be copied (no memory) is left out of them. */
static void refresh_stats(struct jetstream *j)
{
    struct js *js = &j->js;
    struct jetstream_stats t;
    js_totals(js, &t);
    struct jetstream_stream_stats *v = calloc(js->nstreams ? js->nstreams : 1, sizeof *v);
    size_t n = 0;
    for (struct js_stream *st = js->streams; v && st && n < js->nstreams; st = st->next) {
        v[n] = (struct jetstream_stream_stats){ .name = strdup(st->cfg.name),
                                                .created = st->created,
                                                .state_json = js_stream_state_json(st, NULL, NULL) };
        if (v[n].name && v[n].state_json)
            n++;
        else
            free(v[n].name), free(v[n].state_json);
    }
    for (size_t i = 0; i < n / 2; i++) { /* the list is newest first */
        struct jetstream_stream_stats tmp = v[i];
        v[i] = v[n - 1 - i];
        v[n - 1 - i] = tmp;
    }
    pthread_mutex_lock(&j->stats_lock);
    j->stats = t;
    struct jetstream_stream_stats *old = j->streams;
    size_t nold = j->nstreams;
    j->streams = v;
    j->nstreams = v ? n : 0;
    pthread_mutex_unlock(&j->stats_lock);
    free_stream_stats(old, nold);
}

static void on_stats_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    refresh_stats(arg);
}

void jetstream_get_stats(struct jetstream *j, struct jetstream_stats *out)
{
    pthread_mutex_lock(&j->stats_lock);
    *out = j->stats;
    pthread_mutex_unlock(&j->stats_lock);
}

void jetstream_with_stats(struct jetstream *j,
                          void (*fn)(void *arg, const struct jetstream_stats *st,
                                     const struct jetstream_stream_stats *streams, size_t n),
                          void *arg)
{
    pthread_mutex_lock(&j->stats_lock);
    fn(arg, &j->stats, j->streams, j->nstreams);
    pthread_mutex_unlock(&j->stats_lock);
}

const char *jetstream_store_dir(const struct jetstream *j)
{
    return j->store_dir;
}

int jetstream_start(struct server *s, int slot, struct jetstream **out)
{
    struct jetstream *j = calloc(1, sizeof *j);
    if (!j)
        return -ENOMEM;
    struct js *js = &j->js;
    js->srv = s;
    js->in_fd = -1;
    js->in_tail = &js->in_head;
    js->max_memory = s->opts.max_memory_store > 0 ? s->opts.max_memory_store : -1;
    js->max_store = s->opts.max_file_store > 0 ? s->opts.max_file_store : -1;
    js->rng = (uint64_t)js_now() ^ 0x9E3779B97F4A7C15ULL;
    pthread_mutex_init(&js->in_lock, NULL);
    pthread_mutex_init(&j->stats_lock, NULL);
    int rc = make_root(js, &s->opts);
    if (rc < 0)
        goto err_after_alloc;
    rc = -ENOMEM;
    /* root is "<store_dir>/jetstream/$G/streams" */
    j->store_dir = strndup(js->root, strlen(js->root) - strlen("/$G/streams"));
    if (!j->store_dir)
        goto err_after_alloc;
    rc = -ENOMEM;
    js->nstages = (size_t)slot + 1; /* the client loops, then ours */
    js->stages = calloc(js->nstages, sizeof *js->stages);
    if (!js->stages)
        goto err_after_alloc;
    js->w = worker_new(s, slot);
    if (!js->w)
        goto err_after_alloc;
    js->ic = internal_client(js);
    js->in_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (!js->ic || js->in_fd < 0)
        goto err_after_alloc;
    js->in_ev = event_new(js->w->base, js->in_fd, EV_READ | EV_PERSIST, on_inbound, js);
    if (!js->in_ev || event_add(js->in_ev, NULL) < 0)
        goto err_after_alloc;
    rc = js_stream_load_all(js);
    if (rc < 0)
        goto err_after_alloc;
    js->api_sub = js_subscribe(js, "$JS.API.>", JS_SUB_API, 0);
    js->ack_sub = js_subscribe(js, "$JS.ACK.>", JS_SUB_ACK, 0);
    js->fc_sub = js_subscribe(js, "$JS.FC.>", JS_SUB_FC, 0);
    rc = -ENOMEM;
    if (!js->api_sub || !js->ack_sub || !js->fc_sub)
        goto err_after_alloc;
    refresh_stats(j);
    j->stats_ev = event_new(js->w->base, -1, EV_PERSIST, on_stats_tick, j);
    struct timeval tick = { 0, STATS_REFRESH_MS * 1000 };
    if (!j->stats_ev || event_add(j->stats_ev, &tick) < 0)
        goto err_after_alloc;
    rc = worker_start(js->w);
    if (rc < 0)
        goto err_after_alloc;
    j->running = true;
    LOG_INFO("JetStream is ready: %zu stream(s) loaded", js->nstreams);
    *out = j;
    return 0;

err_after_alloc:
    jetstream_free(j);
    return rc;
}

void jetstream_stop(struct jetstream *j)
{
    if (!j || !j->running)
        return;
    worker_stop(j->js.w);
    j->running = false;
}

void jetstream_free(struct jetstream *j)
{
    if (!j)
        return;
    struct js *js = &j->js;
    while (js->streams) {
        struct js_stream *st = js->streams;
        js->streams = st->next;
        js_stream_free(st);
    }
    js_unsubscribe(js, js->api_sub);
    js_unsubscribe(js, js->ack_sub);
    js_unsubscribe(js, js->fc_sub);
    for (size_t i = 0; i < js->nacks; i++) {
        free(js->acks[i].reply);
        free(js->acks[i].json);
    }
    free(js->acks);
    /* Batches the loops staged or queued after the engine stopped. */
    free_batches(js->in_head);
    for (size_t i = 0; js->stages && i < js->nstages; i++)
        free_batches(js->stages[i].batch);
    free(js->stages);
    if (js->in_ev)
        event_free(js->in_ev);
    if (j->stats_ev)
        event_free(j->stats_ev);
    if (js->in_fd >= 0)
        close(js->in_fd);
    worker_free(js->w);
    if (js->ic) {
        pthread_mutex_destroy(&js->ic->out_lock);
        pthread_mutex_destroy(&js->ic->write_lock);
        pthread_mutex_destroy(&js->ic->subs_lock);
        free(js->ic);
    }
    free(js->root);
    free(js->scratch);
    pthread_mutex_destroy(&js->in_lock);
    pthread_mutex_destroy(&j->stats_lock);
    free_stream_stats(j->streams, j->nstreams);
    free(j->store_dir);
    free(j);
}
