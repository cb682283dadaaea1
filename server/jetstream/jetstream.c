/*
 * server/jetstream/jetstream.c — the JetStream engine: its loop, its internal
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
#include "server/jetstream/jetstream.h"

#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "cluster/jsraft.h"
#include "cluster/route.h"
#include "server/client.h"
#include "server/deliver.h"
#include "server/jetstream/js_internal.h"
#include "server/jetstream/js_propose.h"
#include "server/jetstream/js_stats.h"
#include "server/fsutil.h"
#include "server/log.h"
#include "server/reclaim.h"
#include "server/server.h"
#include "server/subs.h"
#include "server/account.h"
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
    struct js_stats stats;          /* what monitoring reads (js_stats.h) */
};

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

static void api_request_canonical(struct js *js, const struct js_inmsg *m)
{
    if (!js->active) {
        /* Clustered, with no leader: an answer, not silence. */
        js_cluster_unavailable(js, m);
        return;
    }
    /* A leader that lost its lease would answer from state another
     * leader may have moved past. A pull request only waits (its
     * deliveries are held back), so it is taken. */
    if (!js_cluster_may_serve(js) && !js_is_pull_request(m)) {
        js_cluster_unavailable(js, m);
        return;
    }
    if (m->subject_len > 17 && memcmp(m->subject, "$JS.API.CONSUMER.", 17) == 0)
        js_consumer_api(js, m);
    else
        js_api_dispatch(js, m);
    js->api_total++; /* after: INFO does not count itself, as 2.9 */
}

/* The length of "$JS.<domain>.API." when m's subject starts with it, else
 * 0 (no domain, or the plain $JS.API form). */
static size_t domain_prefix_len(const struct js *js, const struct js_inmsg *m)
{
    if (!js->domain)
        return 0;
    size_t d = strlen(js->domain);
    const char *s = m->subject;
    bool ours = m->subject_len > d + 9 && memcmp(s, "$JS.", 4) == 0 &&
                memcmp(s + 4, js->domain, d) == 0 && memcmp(s + 4 + d, ".API.", 5) == 0;
    return ours ? d + 9 : 0;
}

/* A request on $JS.<domain>.API.<x> is the same request as $JS.API.<x>:
 * everything past this point reads the one form. */
static void api_request(struct js *js, const struct js_inmsg *m)
{
    size_t dlen = domain_prefix_len(js, m);
    if (!dlen) {
        api_request_canonical(js, m);
        return;
    }
    size_t rest = m->subject_len - dlen;
    char *canon = malloc(sizeof "$JS.API." + rest);
    if (!canon) {
        LOG_ERROR("JetStream: out of memory reading an API request on %.*s",
                  (int)m->subject_len, m->subject);
        return;
    }
    memcpy(canon, "$JS.API.", 8);
    memcpy(canon + 8, m->subject + dlen, rest);
    canon[8 + rest] = '\0';
    struct js_inmsg local = *m;
    local.subject = canon;
    local.subject_len = 8 + rest;
    api_request_canonical(js, &local);
    free(canon);
}

void js_dispatch(struct js *js, const struct js_inmsg *m)
{
    switch (m->kind) {
    case JS_SUB_API:
        api_request(js, m);
        break;
    case JS_SUB_STREAM: {
        struct js_stream *st = js_stream_by_id(js, m->id);
        if (st)
            js_propose_publish(js, st, m);
        break;
    }
    case JS_SUB_ACK:
        js_consumer_ack(js, m);
        break;
    case JS_SUB_FC:
        js_consumer_fc(js, m);
        break;
    case JS_SUB_JOIN:
        js_cluster_join(js, m);
        break;
    case JS_SUB_PROBE:
        js_cluster_probe(js, m);
        break;
    case JS_SUB_GRANT:
        js_cluster_grant(js, m);
        break;
    }
}

/* Records handled per loop turn at most: raft's heartbeats and timers run
 * on this loop too, so a flood of publishes is taken in slices of a few
 * milliseconds rather than all at once. */
#define INBOUND_TURN_MAX 4096

/* Handle what the loops queued, at most INBOUND_TURN_MAX records, in
 * arrival order; what is left waits for the next turn (resume_ev). The
 * commit ends every turn, and a batch is freed only after the commit that
 * followed its last record (gathered publishes borrow its bytes). */
static void process_inbound(struct js *js)
{
    pthread_mutex_lock(&js->in_lock);
    struct js_batch *fresh = js->in_head;
    js->in_head = NULL;
    js->in_tail = &js->in_head;
    js->in_armed = false;
    pthread_mutex_unlock(&js->in_lock);
    struct js_batch **tail = &js->work;
    while (*tail)
        tail = &(*tail)->next;
    *tail = fresh;

    js_propose_batch_begin(js);
    struct js_batch *done = NULL;
    size_t budget = INBOUND_TURN_MAX;
    while (js->work && budget) {
        struct js_batch *b = js->work;
        size_t off = js->work_off;
        for (; off < b->len && budget; budget--) {
            struct js_inmsg m;
            off = record_at(b, off, &m);
            js_dispatch(js, &m);
        }
        if (off < b->len) {
            js->work_off = off;
            break;
        }
        js->work = b->next;
        js->work_off = 0;
        atomic_fetch_sub(&js->in_bytes, b->bytes);
        b->next = done;
        done = b;
    }
    js_propose_commit(js);
    free_batches(done);
    if (js->work)
        event_active(js->resume_ev, EV_TIMEOUT, 0);
}

static void on_inbound(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    uint64_t v;
    ssize_t rn = read(fd, &v, sizeof v);
    (void)rn; /* EAGAIN: already drained */
    process_inbound(arg);
}

static void on_resume(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    process_inbound(arg);
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
    return js->env.publish(js->env.arg, &m, NULL, 0);
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

bool js_is_pull_request(const struct js_inmsg *m)
{
    static const char prefix[] = "$JS.API.CONSUMER.MSG.NEXT.";
    return m->subject_len > sizeof prefix - 1 &&
           memcmp(m->subject, prefix, sizeof prefix - 1) == 0;
}

bool js_has_interest(struct js *js, const char *subject, size_t len)
{
    return js->env.has_interest(js->env.arg, subject, len);
}

struct sub *js_subscribe(struct js *js, const char *subject, enum js_sub_kind kind, uint64_t id)
{
    char sid[24];
    int n = snprintf(sid, sizeof sid, "%c%llu", (char)kind, (unsigned long long)id);
    return js->env.subscribe(js->env.arg, subject, sid, (size_t)n);
}

void js_unsubscribe(struct js *js, struct sub *s)
{
    if (s)
        js->env.unsubscribe(js->env.arg, s);
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

/* ---- lifecycle ---- */


/* n bytes as nats-server's start-up banner shows them: "1.00 MB",
 * "59.42 GB" (powers of 1024), or "512 B". */
static const char *friendly_bytes(int64_t n, char *buf, size_t cap)
{
    static const char units[] = "KMGTPE";
    if (n < 1024) {
        snprintf(buf, cap, "%lld B", (long long)n);
        return buf;
    }
    double v = (double)n;
    int u = -1;
    while (v >= 1024 && u < (int)sizeof units - 2) {
        v /= 1024;
        u++;
    }
    snprintf(buf, cap, "%.2f %cB", v, units[u]);
    return buf;
}

/* The limits when the configuration sets none, as nats-server 2.9 takes
 * them at start: three quarters of the machine's memory, and three
 * quarters of what the store directory's file system has free (for an
 * unprivileged user) — so a full disk refuses publishes with an error
 * instead of filling to the last byte. Fixed for the run, as there. */
static void default_limits(struct js *js, const char *dir)
{
    if (js->max_memory <= 0) {
        long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGESIZE);
        if (pages > 0 && psize > 0)
            js->max_memory = (int64_t)((uint64_t)pages * (uint64_t)psize / 4 * 3);
    }
    if (js->max_store <= 0) {
        struct statvfs fs;
        if (statvfs(dir, &fs) == 0)
            js->max_store = (int64_t)((uint64_t)fs.f_bavail * (uint64_t)fs.f_frsize / 4 * 3);
        else
            LOG_ERROR("JetStream: cannot read the free space of %s (%s): storage unlimited",
                      dir, strerror(errno));
    }
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
    int rc = fsutil_mkdir_p(root);
    if (rc < 0) {
        LOG_ERROR("JetStream: cannot create store directory %s: %s", root, strerror(-rc));
        return rc;
    }
    js->root = strdup(root);
    if (!js->root)
        return -ENOMEM;
    default_limits(js, root);
    char mem[32] = "unlimited", sto[32] = "unlimited";
    LOG_INFO("Starting JetStream");
    LOG_INFO("    Store Directory: \"%s/jetstream\"", base);
    LOG_INFO("    Max Memory:      %s",
             js->max_memory > 0 ? friendly_bytes(js->max_memory, mem, sizeof mem) : mem);
    LOG_INFO("    Max Storage:     %s",
             js->max_store > 0 ? friendly_bytes(js->max_store, sto, sizeof sto) : sto);
    if (o->js_domain)
        LOG_INFO("    Domain:          %s", o->js_domain);
    return 0;
}

static struct client *internal_client(struct js *js)
{
    /* its subscriptions are in the account JetStream serves */
    return client_new_internal(js->srv, js->w, js->srv->accounts->jetstream,
                               on_internal_deliver, on_internal_flush, js);
}

/* ---- monitoring figures (js_stats.c) ---- */

static void on_stats_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct jetstream *j = arg;
    js_stats_refresh(&j->stats, &j->js);
}

void jetstream_get_stats(struct jetstream *j, struct jetstream_stats *out)
{
    js_stats_get(&j->stats, out);
}

void jetstream_with_stats(struct jetstream *j,
                          void (*fn)(void *arg, const struct jetstream_view *v), void *arg)
{
    js_stats_with(&j->stats, fn, arg);
}

const char *jetstream_store_dir(const struct jetstream *j)
{
    return j->store_dir;
}

/* ---- the leader-only runtime: on one node, active from start to stop ---- */

int js_subscribe_api(struct js *js)
{
    js->api_sub = js_subscribe(js, "$JS.API.>", JS_SUB_API, 0);
    if (!js->api_sub)
        return -ENOMEM;
    if (js->domain) {
        char pattern[600];
        snprintf(pattern, sizeof pattern, "$JS.%s.API.>", js->domain);
        js->api_domain_sub = js_subscribe(js, pattern, JS_SUB_API, 0);
        if (!js->api_domain_sub)
            return -ENOMEM;
    }
    return 0;
}

void js_unsubscribe_api(struct js *js)
{
    js_unsubscribe(js, js->api_sub);
    js_unsubscribe(js, js->api_domain_sub);
    js->api_sub = js->api_domain_sub = NULL;
}

/* Serve: the API, acks and flow-control subjects, and every stream's
 * subjects and expiry timer. */
int js_activate(struct js *js)
{
    js->ack_sub = js_subscribe(js, "$JS.ACK.>", JS_SUB_ACK, 0);
    js->fc_sub = js_subscribe(js, "$JS.FC.>", JS_SUB_FC, 0);
    if (js_subscribe_api(js) < 0 || !js->ack_sub || !js->fc_sub)
        return -ENOMEM;
    if (js->raft && !(js->join_sub = js_subscribe(js, JS_JOIN_SUBJECT, JS_SUB_JOIN, 0)))
        return -ENOMEM;
    for (struct js_stream *st = js->streams; st; st = st->next) {
        int rc = js_stream_attach(st);
        if (rc < 0)
            return rc;
        js_consumer_attach_all(st);
    }
    js->active = true;
    return 0;
}

/* Stop serving; the replicated state stays as it is. */
void js_deactivate(struct js *js)
{
    js->active = false;
    for (struct js_stream *st = js->streams; st; st = st->next) {
        js_consumer_detach_all(st, js->raft ? JS_STATUS_LEADERSHIP : NULL);
        js_stream_detach(st);
    }
    js_unsubscribe_api(js);
    js_unsubscribe(js, js->ack_sub);
    js_unsubscribe(js, js->fc_sub);
    js_unsubscribe(js, js->join_sub);
    js->ack_sub = js->fc_sub = js->join_sub = NULL;
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
    js->clustered = s->opts.cluster_host != NULL;
    js->cluster_size = 1;
    js->max_memory = s->opts.max_memory_store > 0 ? s->opts.max_memory_store : -1;
    js->max_store = s->opts.max_file_store > 0 ? s->opts.max_file_store : -1;
    const struct account *acc = s->accounts->jetstream;
    js->acc = acc->js_limits;
    js->rng = (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)js ^ 0x9E3779B97F4A7C15ULL;
    pthread_mutex_init(&js->in_lock, NULL);
    js_stats_init(&j->stats);
    int rc = js_streams_init(js);
    if (rc < 0)
        goto err_after_alloc;
    rc = make_root(js, &s->opts);
    if (rc < 0)
        goto err_after_alloc;
    rc = -ENOMEM;
    if (s->opts.js_domain && !(js->domain = strdup(s->opts.js_domain)))
        goto err_after_alloc;
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
    js_env_server(js);
    js->ic = internal_client(js);
    js->in_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (!js->ic || js->in_fd < 0)
        goto err_after_alloc;
    js->in_ev = event_new(js->w->base, js->in_fd, EV_READ | EV_PERSIST, on_inbound, js);
    js->resume_ev = evtimer_new(js->w->base, on_resume, js);
    if (!js->in_ev || !js->resume_ev || event_add(js->in_ev, NULL) < 0)
        goto err_after_alloc;
    rc = js_propose_init(js);
    if (rc < 0)
        goto err_after_alloc;
    if (js->clustered) {
        /* The group's log and snapshots are the record: the state is
         * rebuilt from them, and the node serves once raft says so. */
        rc = js_cluster_start(js);
    } else {
        rc = js_stream_load_all(js);
        if (rc == 0)
            rc = js_activate(js);
    }
    if (rc < 0)
        goto err_after_alloc;
    js_stats_refresh(&j->stats, js);
    j->stats_ev = event_new(js->w->base, -1, EV_PERSIST, on_stats_tick, j);
    struct timeval tick = { 0, STATS_REFRESH_MS * 1000 };
    if (!j->stats_ev || event_add(j->stats_ev, &tick) < 0)
        goto err_after_alloc;
    /* Counted before the loop starts: from then on only it touches the
     * streams (clustered, raft may already be restoring them). */
    size_t loaded = js->nstreams;
    rc = worker_start(js->w);
    if (rc < 0)
        goto err_after_alloc;
    j->running = true;
    LOG_INFO("JetStream is ready: %zu stream(s) loaded", loaded);
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
    js_cluster_stop(js); /* before the state it feeds goes */
    js_streams_close(js);
    js_deactivate(js);
    js_propose_free(js);
    /* Batches the loops staged or queued after the engine stopped. */
    free_batches(js->work);
    free_batches(js->in_head);
    for (size_t i = 0; js->stages && i < js->nstages; i++)
        free_batches(js->stages[i].batch);
    free(js->stages);
    if (js->in_ev)
        event_free(js->in_ev);
    if (js->resume_ev)
        event_free(js->resume_ev);
    if (j->stats_ev)
        event_free(j->stats_ev);
    if (js->in_fd >= 0)
        close(js->in_fd);
    worker_free(js->w);
    client_free_internal(js->ic);
    free(js->root);
    free(js->domain);
    free(js->scratch);
    free(js->derived);
    pthread_mutex_destroy(&js->in_lock);
    js_stats_destroy(&j->stats);
    free(j->store_dir);
    free(j);
}

/* ---- an engine without a server (tests) ---- */

int js_engine_open(const char *root, const struct js_env *env, struct js **out)
{
    struct js *js = calloc(1, sizeof *js);
    if (!js)
        return -ENOMEM;
    js->env = *env;
    js->max_memory = js->max_store = -1;
    js->acc = OPTS_JS_NO_LIMITS;
    js->cluster_size = 1;
    js->rng = (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)js;
    js->in_fd = -1;
    int rc = -ENOMEM;
    if (!(js->root = strdup(root)))
        goto err;
    if ((rc = fsutil_mkdir_p(root)) < 0 || (rc = js_streams_init(js)) < 0 ||
        (rc = js_propose_init(js)) < 0 || (rc = js_stream_load_all(js)) < 0 ||
        (rc = js_activate(js)) < 0)
        goto err;
    *out = js;
    return 0;
err:
    js_engine_close(js);
    return rc;
}

void js_engine_close(struct js *js)
{
    if (!js)
        return;
    js_streams_close(js);
    js_deactivate(js);
    js_propose_free(js);
    free(js->root);
    free(js->scratch);
    free(js->derived);
    free(js);
}
