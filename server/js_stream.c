/*
 * server/js_stream.c — streams: their lifecycle, the publish path with its
 * checks and limits, retention, and their state as stream info shows it.
 *
 * Every change is one apply function (js_apply_*) that takes what the
 * matching proto/jscmd.h command carries; on one node the API calls them
 * directly. A stream owns its store (server/store.h) and the internal
 * subscriptions on its subjects. Limits are enforced here, after each
 * append, by removing the oldest messages (discard old) or by refusing the
 * publish before anything is stored (discard new), as spec/jetstream.md §6
 * orders the checks. Runs only on the JetStream loop.
 */
#include <dirent.h>
#include <errno.h>
#include <event2/event.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/subject.h"
#include "server/js_internal.h"
#include "server/log.h"
#include "server/worker.h"

#define META_BLOB "meta.json"

/* ---- lookup ---- */

struct js_stream *js_stream_find(struct js *js, const char *name, size_t len)
{
    for (struct js_stream *st = js->streams; st; st = st->next)
        if (strlen(st->cfg.name) == len && memcmp(st->cfg.name, name, len) == 0)
            return st;
    return NULL;
}

struct js_stream *js_stream_by_id(struct js *js, uint64_t id)
{
    for (struct js_stream *st = js->streams; st; st = st->next)
        if (st->id == id)
            return st;
    return NULL;
}

struct js_stream *js_stream_for_subject(struct js *js, const char *subject, size_t len)
{
    for (struct js_stream *st = js->streams; st; st = st->next)
        for (size_t i = 0; i < st->cfg.nsubjects; i++)
            if (subject_match(st->cfg.subjects[i], strlen(st->cfg.subjects[i]), subject, len))
                return st;
    return NULL;
}

/* Can some subject match both patterns? Token by token: '*' takes any one
 * token, '>' any non-empty rest. */
bool js_subjects_overlap(const char *a, const char *b)
{
    for (;;) {
        const char *ae = strchr(a, '.'), *be = strchr(b, '.');
        size_t al = ae ? (size_t)(ae - a) : strlen(a);
        size_t bl = be ? (size_t)(be - b) : strlen(b);
        bool afwc = al == 1 && a[0] == '>', bfwc = bl == 1 && b[0] == '>';
        if (afwc || bfwc)
            return true;
        bool apwc = al == 1 && a[0] == '*', bpwc = bl == 1 && b[0] == '*';
        if (!apwc && !bpwc && (al != bl || memcmp(a, b, al) != 0))
            return false;
        if (!ae || !be)
            return !ae && !be;
        a = ae + 1;
        b = be + 1;
    }
}

static bool overlaps_other(struct js *js, const struct js_stream_config *cfg,
                           const struct js_stream *self)
{
    for (struct js_stream *st = js->streams; st; st = st->next) {
        if (st == self)
            continue;
        for (size_t i = 0; i < st->cfg.nsubjects; i++)
            for (size_t j = 0; j < cfg->nsubjects; j++)
                if (js_subjects_overlap(st->cfg.subjects[i], cfg->subjects[j]))
                    return true;
    }
    return false;
}

void js_totals(struct js *js, struct jetstream_stats *t)
{
    *t = (struct jetstream_stats){
        .max_memory = js->max_memory, .max_storage = js->max_store,
        .streams = js->nstreams, .api_total = js->api_total, .api_errors = js->api_errors,
    };
    for (struct js_stream *st = js->streams; st; st = st->next) {
        struct store_state ss;
        store_get_state(st->store, &ss);
        bool mem = st->cfg.storage == JS_STORAGE_MEMORY;
        *(mem ? &t->memory : &t->storage) += ss.bytes;
        if (st->cfg.max_bytes > 0)
            *(mem ? &t->reserved_memory : &t->reserved_storage) += (uint64_t)st->cfg.max_bytes;
        t->consumers += st->nconsumers;
        t->messages += ss.msgs;
        t->bytes += ss.bytes;
    }
}

uint64_t js_usage(struct js *js, enum js_storage kind)
{
    uint64_t total = 0;
    for (struct js_stream *st = js->streams; st; st = st->next) {
        if (st->cfg.storage != kind)
            continue;
        struct store_state s;
        store_get_state(st->store, &s);
        total += s.bytes;
    }
    return total;
}

/* The server's max_memory_store / max_file_store as a reservation: a
 * stream's max_bytes must fit beside the others' (10028 / 10047). */
static int check_reservation(struct js *js, const struct js_stream_config *cfg,
                             const struct js_stream *self, struct js_err *err)
{
    bool mem = cfg->storage == JS_STORAGE_MEMORY;
    int64_t limit = mem ? js->max_memory : js->max_store;
    if (limit <= 0 || cfg->max_bytes <= 0)
        return 0;
    int64_t reserved = 0;
    for (struct js_stream *st = js->streams; st; st = st->next)
        if (st != self && st->cfg.storage == cfg->storage && st->cfg.max_bytes > 0)
            reserved += st->cfg.max_bytes;
    if (reserved + cfg->max_bytes > limit)
        return js_err_set(err, mem ? 10028 : 10047, NULL);
    return 0;
}

/* ---- dedupe window ---- */

static void msgid_expire(struct js_stream *st, int64_t now)
{
    int64_t window = st->cfg.duplicate_window;
    while (st->msgid_head && (window <= 0 || now - st->msgid_head->ts > window)) {
        struct js_msgid *e = st->msgid_head;
        st->msgid_head = e->next;
        if (!st->msgid_head)
            st->msgid_tail = NULL;
        kmap_del(&st->msgids, &e->key);
        free(e);
    }
}

static struct js_msgid *msgid_find(struct js_stream *st, const char *id, size_t len)
{
    uint64_t h = kmap_hash(0, id, len);
    struct kmap_key *k = kmap_find(&st->msgids, h, id, len);
    return k ? (struct js_msgid *)((char *)k - offsetof(struct js_msgid, key)) : NULL;
}

static void msgid_add(struct js_stream *st, const char *id, size_t len, uint64_t seq, int64_t ts)
{
    if (msgid_find(st, id, len))
        return;
    struct js_msgid *e = malloc(sizeof *e + len);
    if (!e)
        return; /* dedupe is best effort under memory pressure */
    memcpy(e + 1, id, len);
    e->key.bytes = (const char *)(e + 1);
    e->key.len = len;
    e->key.hash = kmap_hash(0, id, len);
    e->seq = seq;
    e->ts = ts;
    e->next = NULL;
    if (kmap_add(&st->msgids, &e->key) < 0) {
        free(e);
        return;
    }
    if (st->msgid_tail)
        st->msgid_tail->next = e;
    else
        st->msgid_head = e;
    st->msgid_tail = e;
}

static void set_last_msg_id(struct js_stream *st, const char *id, size_t len)
{
    free(st->last_msg_id);
    st->last_msg_id = id ? strndup(id, len) : NULL;
}

/* ---- removal and limits ---- */

static void removed(struct js_stream *st)
{
    st->dirty = true;
    js_consumer_stream_removed(st);
}

static void remove_oldest(struct js_stream *st)
{
    struct store_state s;
    store_get_state(st->store, &s);
    struct store_msg m = { 0 };
    if (store_load_next(st->store, s.first_seq, NULL, 0, &m) == 0)
        store_remove(st->store, m.seq);
    store_msg_free(&m);
}

/* Discard-old limits after an append (and after an update lowers them). */
static bool enforce_limits(struct js_stream *st, const char *subject, size_t slen)
{
    bool any = false;
    struct store_state s;
    const struct js_stream_config *c = &st->cfg;
    if (c->max_msgs_per_subject > 0 && subject) {
        struct store_subject_state ss;
        store_subject_state(st->store, subject, slen, &ss);
        while (ss.msgs > (uint64_t)c->max_msgs_per_subject) {
            if (store_remove(st->store, ss.first_seq) < 0)
                break;
            any = true;
            store_subject_state(st->store, subject, slen, &ss);
        }
    }
    if (c->discard == JS_DISCARD_OLD) {
        store_get_state(st->store, &s);
        while ((c->max_msgs > 0 && s.msgs > (uint64_t)c->max_msgs) ||
               (c->max_bytes > 0 && s.bytes > (uint64_t)c->max_bytes)) {
            uint64_t before = s.msgs;
            remove_oldest(st);
            any = true;
            store_get_state(st->store, &s);
            if (s.msgs == before)
                break;
        }
    }
    return any;
}

static int per_subject_trim(void *arg, const char *subject, size_t len,
                            const struct store_subject_state *ss)
{
    struct js_stream *st = arg;
    if (ss->msgs > (uint64_t)st->cfg.max_msgs_per_subject) {
        /* Copy: removal may free the subject's entry. */
        char *copy = strndup(subject, len);
        if (copy) {
            enforce_limits(st, copy, len);
            free(copy);
        }
    }
    return 0;
}

static void expire_tick(evutil_socket_t fd, short what, void *arg)
{
    struct js_stream *st = arg;
    (void)fd;
    (void)what;
    int64_t now = js_now();
    msgid_expire(st, now);
    if (st->cfg.max_age > 0) {
        struct store_state s;
        store_get_state(st->store, &s);
        if (s.msgs && s.first_ts < now - st->cfg.max_age) {
            uint64_t keep_from = store_seq_at_time(st->store, now - st->cfg.max_age);
            uint64_t purged = 0;
            store_purge(st->store, NULL, 0, keep_from ? keep_from : s.last_seq + 1, 0, &purged);
            if (purged)
                removed(st);
        }
    }
}

static void arm_expiry(struct js_stream *st)
{
    if (st->expire_ev) {
        event_free(st->expire_ev);
        st->expire_ev = NULL;
    }
    int64_t period = 1000000000; /* 1 s, or finer for short ages */
    if (st->cfg.max_age > 0 && st->cfg.max_age / 2 < period)
        period = st->cfg.max_age / 2 > 10000000 ? st->cfg.max_age / 2 : 10000000;
    st->expire_ev = event_new(st->js->w->base, -1, EV_PERSIST, expire_tick, st);
    if (!st->expire_ev)
        return;
    struct timeval tv = { (time_t)(period / 1000000000), (suseconds_t)(period % 1000000000 / 1000) };
    event_add(st->expire_ev, &tv);
}

/* ---- lifecycle ---- */

static int subscribe_all(struct js_stream *st)
{
    st->subs = calloc(st->cfg.nsubjects ? st->cfg.nsubjects : 1, sizeof *st->subs);
    if (!st->subs)
        return -ENOMEM;
    for (size_t i = 0; i < st->cfg.nsubjects; i++) {
        st->subs[i] = js_subscribe(st->js, st->cfg.subjects[i], JS_SUB_STREAM, st->id);
        if (!st->subs[i])
            return -ENOMEM;
        st->nsubs++;
    }
    return 0;
}

static void unsubscribe_all(struct js_stream *st)
{
    for (size_t i = 0; i < st->nsubs; i++)
        js_unsubscribe(st->js, st->subs[i]);
    free(st->subs);
    st->subs = NULL;
    st->nsubs = 0;
}

static int save_meta(struct js_stream *st)
{
    char *cfg = js_stream_config_to_json(&st->cfg);
    if (!cfg)
        return -ENOMEM;
    char *buf = NULL;
    int n = asprintf(&buf, "{\"created\":%" PRId64 ",\"config\":%s}", st->created, cfg);
    free(cfg);
    if (n < 0)
        return -ENOMEM;
    int rc = store_blob_put(st->store, META_BLOB, buf, (size_t)n);
    free(buf);
    return rc;
}

/* Rebuild the dedupe table and last msg id from the stored messages. */
static void rebuild_msgids(struct js_stream *st)
{
    struct store_state s;
    store_get_state(st->store, &s);
    if (!s.msgs)
        return;
    struct store_msg m = { 0 };
    int64_t since = js_now() - st->cfg.duplicate_window;
    uint64_t from = store_seq_at_time(st->store, since);
    for (uint64_t seq = from; from && store_load_next(st->store, seq, NULL, 0, &m) == 0;
         seq = m.seq + 1) {
        size_t vlen;
        const char *id = js_header(m.hdr, m.hdr_len, "Nats-Msg-Id", &vlen);
        if (id && vlen)
            msgid_add(st, id, vlen, m.seq, m.ts);
    }
    if (store_load(st->store, s.last_seq, &m) == 0) {
        size_t vlen;
        const char *id = js_header(m.hdr, m.hdr_len, "Nats-Msg-Id", &vlen);
        set_last_msg_id(st, id, vlen);
    }
    store_msg_free(&m);
}

/* The store of a stream: opened here for a new stream; handed over (store
 * not NULL) when start-up already opened it to read the metadata. */
static int open_store(struct js_stream *st, struct store *store)
{
    if (store) {
        st->store = store;
        return 0;
    }
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/%s", st->js->root, st->cfg.name);
    struct store_options so = {
        .kind = st->cfg.storage == JS_STORAGE_MEMORY ? STORE_MEMORY : STORE_FILE,
        .dir = dir,
    };
    struct store_report rep = { 0 };
    int rc = store_open(&so, &st->store, &rep);
    if (rc < 0) {
        LOG_ERROR("JetStream: cannot open the store of stream '%s': %s", st->cfg.name,
                  strerror(-rc));
        return rc;
    }
    if (rep.detail[0])
        LOG_ERROR("JetStream: stream '%s': %s", st->cfg.name, rep.detail);
    return 0;
}

/* Takes over cfg (zeroed) and store (may be NULL: opened here); on failure
 * both are released. */
static int open_stream(struct js *js, struct js_stream_config *cfg, int64_t created,
                       struct store *store, struct js_stream **out)
{
    struct js_stream *st = calloc(1, sizeof *st);
    if (!st) {
        store_close(store);
        return -ENOMEM;
    }
    st->js = js;
    st->id = ++js->next_id;
    st->created = created;
    st->cfg = *cfg;
    memset(cfg, 0, sizeof *cfg); /* taken over */
    int rc = open_store(st, store);
    if (rc < 0)
        goto err_after_alloc;
    rc = subscribe_all(st);
    if (rc < 0)
        goto err_after_alloc;
    rebuild_msgids(st);
    arm_expiry(st);
    st->next = js->streams;
    js->streams = st;
    js->nstreams++;
    *out = st;
    return 0;

err_after_alloc:
    js_stream_free(st);
    return rc;
}

int js_apply_stream_create(struct js *js, struct js_stream_config *cfg, int64_t created,
                           struct js_stream **out, struct js_err *err)
{
    struct js_stream *old = js_stream_find(js, cfg->name, strlen(cfg->name));
    if (old) {
        if (!js_stream_config_equal(&old->cfg, cfg))
            return js_err_set(err, 10058, NULL);
        *out = old;
        return 0;
    }
    if (overlaps_other(js, cfg, NULL))
        return js_err_set(err, 10065, NULL);
    if (check_reservation(js, cfg, NULL, err) < 0)
        return -EINVAL;
    struct js_stream *st;
    if (open_stream(js, cfg, created, NULL, &st) < 0)
        return js_err_set(err, 10023, NULL);
    if (st->cfg.storage == JS_STORAGE_FILE && save_meta(st) < 0) {
        js_apply_stream_delete(js, st);
        return js_err_set(err, 10023, NULL);
    }
    *out = st;
    return 0;
}

int js_apply_stream_update(struct js *js, struct js_stream *st, struct js_stream_config *cfg,
                           struct js_err *err)
{
    if (js_stream_config_check_update(&st->cfg, cfg, err) < 0)
        return -EINVAL;
    if (overlaps_other(js, cfg, st))
        return js_err_set(err, 10065, NULL);
    if (check_reservation(js, cfg, st, err) < 0)
        return -EINVAL;
    struct js_stream_config old = st->cfg;
    st->cfg = *cfg;
    memset(cfg, 0, sizeof *cfg);
    bool resub = old.nsubjects != st->cfg.nsubjects;
    for (size_t i = 0; !resub && i < old.nsubjects; i++)
        resub = strcmp(old.subjects[i], st->cfg.subjects[i]) != 0;
    if (resub) {
        unsubscribe_all(st);
        if (subscribe_all(st) < 0)
            LOG_ERROR("JetStream: stream '%s': resubscribing failed", st->cfg.name);
    }
    bool trim_per_subject = old.max_msgs_per_subject > 0 && st->cfg.max_msgs_per_subject > 0 &&
                            st->cfg.max_msgs_per_subject < old.max_msgs_per_subject;
    js_stream_config_free(&old);
    bool any = enforce_limits(st, NULL, 0);
    if (trim_per_subject)
        store_each_subject(st->store, NULL, 0, per_subject_trim, st);
    if (any || trim_per_subject)
        removed(st);
    arm_expiry(st);
    if (st->cfg.storage == JS_STORAGE_FILE && save_meta(st) < 0)
        return js_err_set(err, 10023, NULL);
    return 0;
}

int js_apply_stream_delete(struct js *js, struct js_stream *st)
{
    for (struct js_stream **pp = &js->streams; *pp; pp = &(*pp)->next) {
        if (*pp == st) {
            *pp = st->next;
            js->nstreams--;
            break;
        }
    }
    js_consumer_free_all(st);
    int rc = store_destroy(st->store);
    st->store = NULL;
    js_stream_free(st);
    return rc;
}

int js_apply_stream_purge(struct js_stream *st, const char *filter, uint64_t seq, uint64_t keep,
                          uint64_t *purged, struct js_err *err)
{
    if (st->cfg.sealed) /* checked first, as 2.9 */
        return js_err_set(err, 10109, NULL);
    if (st->cfg.deny_purge)
        return js_err_set(err, 10110, NULL);
    int rc = store_purge(st->store, filter, filter ? strlen(filter) : 0, seq, keep, purged);
    if (rc < 0)
        return js_err_set(err, 10023, NULL);
    if (*purged)
        removed(st);
    return 0;
}

int js_apply_msg_delete(struct js_stream *st, uint64_t seq, struct js_err *err)
{
    if (st->cfg.sealed)
        return js_err_set(err, 10109, NULL);
    if (st->cfg.deny_delete)
        return js_err_set(err, 10057, "message delete not permitted");
    if (store_remove(st->store, seq) < 0)
        return js_err_set(err, 10043, "sequence %" PRIu64 " not found", seq);
    removed(st);
    return 0;
}

void js_stream_free(struct js_stream *st)
{
    if (!st)
        return;
    js_consumer_release_all(st);
    unsubscribe_all(st);
    if (st->expire_ev)
        event_free(st->expire_ev);
    if (st->store) {
        store_sync(st->store);
        store_close(st->store);
    }
    while (st->msgid_head) {
        struct js_msgid *e = st->msgid_head;
        st->msgid_head = e->next;
        free(e);
    }
    kmap_clear(&st->msgids);
    free(st->last_msg_id);
    js_stream_config_free(&st->cfg);
    free(st);
}

/* ---- publish (spec/jetstream.md §6) ---- */

static void ack_error(struct js_stream *st, const struct js_inmsg *m, const struct js_err *e)
{
    if (!m->reply)
        return;
    char buf[640];
    snprintf(buf, sizeof buf,
             "{\"error\":{\"code\":%d,\"err_code\":%d,\"description\":\"%s\"},"
             "\"stream\":\"%s\",\"seq\":0}",
             e->code, e->err_code, e->description, st->cfg.name);
    js_queue_ack(st->js, st->id, m->reply, m->reply_len, buf);
}

static void ack_ok(struct js_stream *st, const struct js_inmsg *m, uint64_t seq, bool dup)
{
    if (!m->reply || st->cfg.no_ack)
        return;
    char buf[320];
    snprintf(buf, sizeof buf, "{\"stream\":\"%s\", \"seq\":%" PRIu64 "%s}", st->cfg.name, seq,
             dup ? ",\"duplicate\": true" : "");
    js_queue_ack(st->js, st->id, m->reply, m->reply_len, buf);
}

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

/* The checks of §6 that may refuse the message, in 2.9's order. 0 to
 * store; 1 when answered (duplicate) or dropped; -EINVAL with *e. */
static int check_publish(struct js_stream *st, const struct js_inmsg *m, int *rollup,
                         struct js_err *e)
{
    const struct js_stream_config *c = &st->cfg;
    const char *h = m->hdr;
    size_t hl = m->hdr_len, vl;
    const char *v;
    if (c->sealed)
        return js_err_set(e, 10109, NULL);
    if ((v = js_header(h, hl, "Nats-Expected-Stream", &vl)) &&
        (vl != strlen(c->name) || memcmp(v, c->name, vl) != 0))
        return js_err_set(e, 10060, NULL);
    if ((v = js_header(h, hl, "Nats-Msg-Id", &vl)) && vl) {
        msgid_expire(st, js_now());
        struct js_msgid *d = msgid_find(st, v, vl);
        if (d) {
            ack_ok(st, m, d->seq, true);
            return 1;
        }
    }
    if ((v = js_header(h, hl, "Nats-Expected-Last-Subject-Sequence", &vl))) {
        struct store_subject_state ss;
        store_subject_state(st->store, m->subject, m->subject_len, &ss);
        if (header_u64(v, vl) != ss.last_seq)
            return js_err_set(e, 10071, "wrong last sequence: %" PRIu64, ss.last_seq);
    }
    struct store_state s;
    store_get_state(st->store, &s);
    if ((v = js_header(h, hl, "Nats-Expected-Last-Sequence", &vl)) &&
        header_u64(v, vl) != s.last_seq)
        return js_err_set(e, 10071, "wrong last sequence: %" PRIu64, s.last_seq);
    if ((v = js_header(h, hl, "Nats-Expected-Last-Msg-Id", &vl))) {
        const char *last = st->last_msg_id ? st->last_msg_id : "";
        if (vl != strlen(last) || memcmp(v, last, vl) != 0)
            return js_err_set(e, 10070, "wrong last msg ID: %s", last);
    }
    if ((v = js_header(h, hl, "Nats-Rollup", &vl))) {
        if (!c->allow_rollup_hdrs || c->deny_purge)
            return js_err_set(e, 10111, NULL);
        if (vl == 3 && memcmp(v, "sub", 3) == 0)
            *rollup = 1;
        else if (vl == 3 && memcmp(v, "all", 3) == 0)
            *rollup = 2;
        else
            return 1; /* unknown rollup: dropped without a reply, as 2.9 */
    }
    if (c->max_msg_size > 0 && m->hdr_len + m->data_len > (uint64_t)c->max_msg_size)
        return js_err_set(e, 10054, NULL);
    /* The server-wide max_memory_store / max_file_store (§6 #9 family). */
    int64_t limit = c->storage == JS_STORAGE_MEMORY ? st->js->max_memory : st->js->max_store;
    if (limit > 0 && js_usage(st->js, c->storage) +
                             store_msg_size(st->store, m->subject_len, m->hdr_len, m->data_len) >
                         (uint64_t)limit)
        return js_err_set(e, 10023, NULL);
    if (c->discard == JS_DISCARD_NEW) {
        uint64_t size = store_msg_size(st->store, m->subject_len, m->hdr_len, m->data_len);
        if (c->max_msgs > 0 && s.msgs >= (uint64_t)c->max_msgs)
            return js_err_set(e, 10077, "maximum messages exceeded");
        if (c->max_bytes > 0 && s.bytes + size > (uint64_t)c->max_bytes)
            return js_err_set(e, 10077, "maximum bytes exceeded");
        if (c->discard_new_per_subject && c->max_msgs_per_subject > 0) {
            struct store_subject_state ss;
            store_subject_state(st->store, m->subject, m->subject_len, &ss);
            if (ss.msgs >= (uint64_t)c->max_msgs_per_subject)
                return js_err_set(e, 10077, "maximum messages per subject exceeded");
        }
    }
    return 0;
}

static bool interest_kept(struct js_stream *st, const char *subject, size_t len)
{
    for (struct js_consumer *c = st->consumers; c; c = js_consumer_next(c))
        if (js_consumer_wants(c, subject, len))
            return true;
    return false;
}

void js_stream_publish(struct js_stream *st, const struct js_inmsg *m)
{
    struct js_err e = { 0 };
    int rollup = 0;
    int rc = check_publish(st, m, &rollup, &e);
    if (rc > 0)
        return;
    if (rc < 0) {
        ack_error(st, m, &e);
        return;
    }
    int64_t ts = js_now();
    uint64_t seq = 0;
    rc = store_append(st->store, m->subject, m->subject_len, m->hdr, m->hdr_len, m->data,
                      m->data_len, ts, &seq);
    if (rc < 0) {
        LOG_ERROR("JetStream: stream '%s': storing a message failed: %s", st->cfg.name,
                  strerror(-rc));
        js_err_set(&e, 10023, NULL);
        ack_error(st, m, &e);
        return;
    }
    st->dirty = true;
    size_t vl;
    const char *id = js_header(m->hdr, m->hdr_len, "Nats-Msg-Id", &vl);
    set_last_msg_id(st, id && vl ? id : NULL, vl);
    if (id && vl)
        msgid_add(st, id, vl, seq, ts);
    bool any = false;
    if (rollup) {
        uint64_t purged = 0;
        store_purge(st->store, rollup == 1 ? m->subject : NULL, rollup == 1 ? m->subject_len : 0,
                    seq, 0, &purged);
        any = purged > 0;
    }
    /* Interest retention with nobody interested: the sequence is used,
     * the message is not kept (§6). */
    if (st->cfg.retention == JS_RETAIN_INTEREST && !interest_kept(st, m->subject, m->subject_len)) {
        store_remove(st->store, seq);
        any = true;
    }
    any |= enforce_limits(st, m->subject, m->subject_len);
    if (any)
        js_consumer_stream_removed(st);
    ack_ok(st, m, seq, false);
}

void js_stream_acked(struct js_stream *st, struct js_consumer *c, uint64_t seq)
{
    (void)c;
    if (st->cfg.retention == JS_RETAIN_LIMITS)
        return;
    if (st->cfg.retention == JS_RETAIN_INTEREST) {
        struct store_msg m = { 0 };
        if (store_load(st->store, seq, &m) < 0) {
            store_msg_free(&m);
            return;
        }
        bool keep = false;
        for (struct js_consumer *o = st->consumers; o && !keep; o = js_consumer_next(o))
            keep = js_consumer_wants(o, m.subject, m.subject_len) && !js_consumer_acked(o, seq);
        store_msg_free(&m);
        if (keep)
            return;
    }
    if (store_remove(st->store, seq) == 0)
        st->dirty = true;
}

/* ---- state as JSON (§5.2) ---- */

char *js_stream_state_json(struct js_stream *st, const char *subjects, const char *deleted)
{
    struct store_state s;
    store_get_state(st->store, &s);
    char fts[48], lts[48];
    uint64_t first = s.last_seq == 0 ? 0 : s.msgs ? s.first_seq : s.last_seq + 1;
    js_time_format(s.msgs ? s.first_ts : 0, fts, sizeof fts);
    js_time_format(s.last_ts, lts, sizeof lts);
    char nsub[48] = "", ndel[48] = "";
    if (s.num_subjects)
        snprintf(nsub, sizeof nsub, "\"num_subjects\":%" PRIu64 ",", s.num_subjects);
    if (s.num_deleted)
        snprintf(ndel, sizeof ndel, "\"num_deleted\":%" PRIu64 ",", s.num_deleted);
    char *out = NULL;
    if (asprintf(&out,
                 "{\"messages\":%" PRIu64 ",\"bytes\":%" PRIu64 ",\"first_seq\":%" PRIu64
                 ",\"first_ts\":\"%s\",\"last_seq\":%" PRIu64 ",\"last_ts\":\"%s\",%s%s%s%s%s%s%s%s"
                 "\"consumer_count\":%zu}",
                 s.msgs, s.bytes, first, fts, s.last_seq, lts, nsub,
                 subjects ? "\"subjects\":" : "", subjects ? subjects : "",
                 subjects ? "," : "", ndel, deleted ? "\"deleted\":" : "",
                 deleted ? deleted : "", deleted ? "," : "", st->nconsumers) < 0)
        return NULL;
    return out;
}

/* ---- start-up ---- */

static int load_one(struct js *js, const char *name)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/%s", js->root, name);
    /* Only file streams are on disk; their metadata says the rest. */
    struct store_options so = { .kind = STORE_FILE, .dir = dir };
    struct store *store;
    struct store_report rep = { 0 };
    int rc = store_open(&so, &store, &rep);
    if (rc < 0) {
        LOG_ERROR("JetStream: cannot open the store in %s: %s", dir, strerror(-rc));
        return rc;
    }
    if (rep.detail[0])
        LOG_ERROR("JetStream: stream '%s': %s", name, rep.detail);
    void *blob = NULL;
    size_t len = 0;
    rc = store_blob_get(store, META_BLOB, &blob, &len);
    if (rc < 0) {
        LOG_ERROR("JetStream: %s has no readable metadata (%s); skipped", dir, strerror(-rc));
        store_close(store);
        return 0;
    }
    json_error_t jerr;
    json_t *root = json_loadb(blob, len, 0, &jerr);
    free(blob);
    json_t *cfgj = root ? json_object_get(root, "config") : NULL;
    char *cfgtext = cfgj ? json_dumps(cfgj, JSON_COMPACT) : NULL;
    int64_t created = root ? json_integer_value(json_object_get(root, "created")) : 0;
    json_decref(root);
    struct js_stream_config cfg = { 0 };
    struct js_err e = { 0 };
    if (!cfgtext || js_stream_config_parse(cfgtext, strlen(cfgtext), name, false, false, 1,
                                           &cfg, &e) < 0) {
        LOG_ERROR("JetStream: %s: bad stream metadata (%s); skipped", dir, e.description);
        free(cfgtext);
        js_stream_config_free(&cfg);
        store_close(store);
        return 0;
    }
    free(cfgtext);
    struct js_stream *st;
    rc = open_stream(js, &cfg, created, store, &st);
    js_stream_config_free(&cfg);
    if (rc < 0)
        return rc;
    rc = js_consumer_load_all(st);
    struct store_state s;
    store_get_state(st->store, &s);
    LOG_INFO("  Restored %" PRIu64 " messages for stream '$G > %s'", s.msgs, st->cfg.name);
    return rc;
}

int js_stream_load_all(struct js *js)
{
    DIR *d = opendir(js->root);
    if (!d)
        return errno == ENOENT ? 0 : -errno;
    struct dirent *de;
    int rc = 0;
    while (rc == 0 && (de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        rc = load_one(js, de->d_name);
    }
    closedir(d);
    return rc;
}
