/*
 * server/jetstream/js_stream.c — streams: their lifecycle, the publish path with its
 * checks and limits, retention, and their state as stream info shows it.
 *
 * Every change is one apply function (js_apply_*) that takes what the
 * matching proto/jscmd.h command carries; on one node the API calls them
 * directly. A stream owns its store (server/store/store.h) and the internal
 * subscriptions on its subjects. Limits are enforced here, after each
 * append, by removing the oldest messages (discard old) or by refusing the
 * publish before anything is stored (discard new), as spec/jetstream.md §6
 * orders the checks. At start-up each stream directory is loaded on its
 * own: one that cannot be is logged and left aside, its files untouched,
 * so that one bad stream never keeps the others (or the node) down.
 * Finding streams is js_stream_index.c's. Runs only on the JetStream loop.
 */
#include <dirent.h>
#include <errno.h>
#include <event2/event.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "proto/header.h"
#include "proto/subject.h"
#include "server/jetstream/js_internal.h"
#include "server/jetstream/js_mirror.h"
#include "server/jetstream/js_source.h"
#include "server/jetstream/js_propose.h"
#include "server/log.h"
#include "server/worker.h"

#define META_BLOB "meta.json"

/* The server's max_memory_store / max_file_store as a reservation: a
 * stream's max_bytes must fit beside the others' (10028 / 10047). */
static int check_reservation(struct js *js, const struct js_stream_config *cfg,
                             const struct js_stream *self, uint64_t acct_max,
                             struct js_err *err)
{
    bool mem = cfg->storage == JS_STORAGE_MEMORY;
    int64_t limit = acct_max > INT64_MAX ? INT64_MAX : (int64_t)acct_max;
    if (limit <= 0 || cfg->max_bytes <= 0)
        return 0;
    /* O(streams), on create and update only. */
    int64_t reserved = 0;
    for (struct js_stream *st = js->streams; st; st = st->next)
        if (st != self && st->cfg.storage == cfg->storage && st->cfg.max_bytes > 0)
            reserved += st->cfg.max_bytes;
    if (reserved + cfg->max_bytes > limit)
        return js_err_set(err, mem ? 10028 : 10047, NULL);
    return 0;
}

/* ---- removal and limits ---- */

/* Messages left the stream: the store needs a sync and the runtime tells
 * the consumers after the apply (js_propose.c). */
static void removed(struct js_stream *st)
{
    st->dirty = true;
    st->removed = true;
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

bool js_stream_enforce_limits(struct js_stream *st, const char *subject, size_t slen)
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
            js_stream_enforce_limits(st, copy, len);
            free(copy);
        }
    }
    return 0;
}

/* ---- leader-only runtime: subscriptions and the expiry proposer ---- */

/* Age expiry is the leader's decision, not each replica's clock: the
 * timer proposes STREAM_EXPIRE with a cutoff, and every replica removes
 * the same messages when it applies it. It proposes only when there is
 * something to expire, so an idle stream adds nothing to the log. */
static void expire_tick(evutil_socket_t fd, short what, void *arg)
{
    struct js_stream *st = arg;
    (void)fd;
    (void)what;
    int64_t now = js_clock(st->js);
    bool due = st->msgid_head && (st->cfg.duplicate_window <= 0 ||
                                  now - st->msgid_head->ts > st->cfg.duplicate_window);
    int64_t cutoff = 0;
    if (st->cfg.max_age > 0) {
        struct store_state s;
        store_get_state(st->store, &s);
        cutoff = now - st->cfg.max_age;
        due |= s.msgs && s.first_ts < cutoff;
    }
    if (!due)
        return;
    struct jscmd cmd = {
        .op = JSCMD_STREAM_EXPIRE,
        .stream = { st->cfg.name, strlen(st->cfg.name) },
        .cutoff_ns = cutoff > 0 ? (uint64_t)cutoff : 0,
        .now_ns = (uint64_t)now,
    };
    js_propose(st->js, &cmd, NULL, 0);
}

static void arm_expiry(struct js_stream *st)
{
    if (st->rt.expire_ev) {
        event_free(st->rt.expire_ev);
        st->rt.expire_ev = NULL;
    }
    int64_t period = 1000000000; /* 1 s, or finer for short ages */
    if (st->cfg.max_age > 0 && st->cfg.max_age / 2 < period)
        period = st->cfg.max_age / 2 > 10000000 ? st->cfg.max_age / 2 : 10000000;
    st->rt.expire_ev = event_new(st->js->env.base, -1, EV_PERSIST, expire_tick, st);
    if (!st->rt.expire_ev)
        return;
    struct timeval tv = { (time_t)(period / 1000000000), (suseconds_t)(period % 1000000000 / 1000) };
    event_add(st->rt.expire_ev, &tv);
}

static int subscribe_all(struct js_stream *st)
{
    st->rt.subs = calloc(st->cfg.nsubjects ? st->cfg.nsubjects : 1, sizeof *st->rt.subs);
    if (!st->rt.subs)
        return -ENOMEM;
    for (size_t i = 0; i < st->cfg.nsubjects; i++) {
        st->rt.subs[i] = js_subscribe(st->js, st->cfg.subjects[i], JS_SUB_STREAM, st->id);
        if (!st->rt.subs[i])
            return -ENOMEM;
        st->rt.nsubs++;
    }
    return 0;
}

static void unsubscribe_all(struct js_stream *st)
{
    for (size_t i = 0; i < st->rt.nsubs; i++)
        js_unsubscribe(st->js, st->rt.subs[i]);
    free(st->rt.subs);
    st->rt.subs = NULL;
    st->rt.nsubs = 0;
}

int js_stream_attach(struct js_stream *st)
{
    js_stream_detach(st);
    arm_expiry(st);
    js_mirror_attach(st);
    int rc = subscribe_all(st);
    if (rc < 0)
        LOG_ERROR("JetStream: stream '%s': subscribing to its subjects failed", st->cfg.name);
    return rc;
}

void js_stream_detach(struct js_stream *st)
{
    unsubscribe_all(st);
    js_mirror_detach(st);
    if (st->rt.expire_ev) {
        event_free(st->rt.expire_ev);
        st->rt.expire_ev = NULL;
    }
}

/* ---- lifecycle (apply side) ---- */

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

/* Rebuild the dedupe table and last msg id from the stored messages, as of
 * the stream's own clock (its newest message), so every replica rebuilds
 * the same table. */
static void rebuild_msgids(struct js_stream *st)
{
    struct store_state s;
    store_get_state(st->store, &s);
    st->clock = s.last_ts;
    if (!s.msgs)
        return;
    struct store_msg m = { 0 };
    int64_t since = st->clock - st->cfg.duplicate_window;
    uint64_t from = store_seq_at_time(st->store, since);
    for (uint64_t seq = from; from && store_load_next(st->store, seq, NULL, 0, &m) == 0;
         seq = m.seq + 1) {
        size_t vlen;
        const char *id = header_get(m.hdr, m.hdr_len, "Nats-Msg-Id", &vlen);
        if (id && vlen)
            (void)js_msgid_add(st, id, vlen, m.seq, m.ts);
    }
    if (store_load(st->store, s.last_seq, &m) == 0) {
        size_t vlen;
        const char *id = header_get(m.hdr, m.hdr_len, "Nats-Msg-Id", &vlen);
        js_msgid_set_last(st, id, vlen);
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
    bool mem = st->cfg.storage == JS_STORAGE_MEMORY;
    struct store_options so = {
        .kind = mem ? STORE_MEMORY : STORE_FILE,
        .dir = dir,
        .usage = &st->js->usage[mem ? JS_STORAGE_MEMORY : JS_STORAGE_FILE],
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
    int rc = js_republish_open(st);
    if (rc == 0)
        rc = js_mirror_open(st);
    if (rc == 0)
        rc = js_transform_open(st);
    if (rc == 0)
        rc = js_source_open(st);
    if (rc < 0) {
        store_close(store);
        goto err_after_alloc;
    }
    rc = open_store(st, store);
    if (rc < 0)
        goto err_after_alloc;
    rc = js_stream_index(st);
    if (rc < 0)
        goto err_after_alloc;
    rebuild_msgids(st);
    st->next = js->streams;
    js->streams = st;
    js->nstreams++;
    js_mirror_recount(js);
    js_source_recount(js);
    *out = st;
    return 0;

err_after_alloc:
    js_stream_free(st);
    return rc;
}

/* A new stream with a first_seq starts empty just below it; a store
 * taken over with messages already past it is left as it is. A mirror
 * starts where its origin stands (js_mirror_start). */
int js_apply_stream_start(struct js *js, struct js_stream *st, struct js_result *res)
{
    struct store_state s;
    store_get_state(st->store, &s);
    int rc = 0;
    if (st->cfg.first_seq > 1 && s.last_seq < st->cfg.first_seq - 1)
        rc = store_set_last(st->store, st->cfg.first_seq - 1, 0);
    if (rc == 0 && st->mirror)
        rc = js_mirror_start(js, st);
    js_source_start(js, st);
    if (rc < 0)
        js_err_set(&res->err, 10023, NULL);
    return rc;
}

int js_apply_stream_create(struct js *js, struct js_stream_config *cfg, int64_t created,
                           uint64_t acct_max, struct js_result *res)
{
    struct js_stream *old = js_stream_find(js, cfg->name, strlen(cfg->name));
    if (old) {
        if (!js_stream_config_equal(&old->cfg, cfg))
            return js_err_set(&res->err, 10058, NULL), 0;
        res->stream_id = old->id;
        return 0;
    }
    if (js_stream_overlaps_other(js, cfg, NULL, NULL))
        return js_err_set(&res->err, 10065, NULL), 0;
    if (js_source_cycle(js, cfg->name, cfg))
        return js_err_set(&res->err, 10052, "detected cycle"), 0;
    if (check_reservation(js, cfg, NULL, acct_max, &res->err) < 0)
        return 0;
    /* A directory already there (a stream left aside at start-up) is
     * taken over, as nats-server does; if that fails, its files stay. */
    char dir[4096];
    struct stat sb;
    snprintf(dir, sizeof dir, "%s/%s", js->root, cfg->name);
    bool had_dir = cfg->storage == JS_STORAGE_FILE && stat(dir, &sb) == 0;
    struct js_stream *st;
    int rc = open_stream(js, cfg, created, NULL, &st);
    bool opened = rc == 0;
    if (rc == 0 && st->cfg.storage == JS_STORAGE_FILE)
        rc = save_meta(st);
    if (rc < 0 && opened) {
        if (had_dir) {
            js->streams = st->next; /* open_stream put it first */
            js->nstreams--;
            js_stream_free(st);
        } else {
            js_apply_stream_delete(js, st);
        }
    }
    if (rc < 0) {
        /* Nothing of the stream is left in the state; a refusal here is
         * this node's disk, so the caller decides whether it can go on. */
        js_err_set(&res->err, 10023, NULL);
        return rc;
    }
    res->stream_id = st->id;
    res->created = true;
    return 0;
}

int js_apply_stream_update(struct js *js, struct js_stream *st, struct js_stream_config *cfg,
                           uint64_t acct_max, struct js_result *res)
{
    res->stream_id = st->id;
    if (js_stream_config_check_update(&st->cfg, cfg, &res->err) < 0)
        return 0;
    if (js_stream_overlaps_other(js, cfg, st, NULL))
        return js_err_set(&res->err, 10065, NULL), 0;
    if (js_source_cycle(js, st->cfg.name, cfg))
        return js_err_set(&res->err, 10052, "detected cycle"), 0;
    if (check_reservation(js, cfg, st, acct_max, &res->err) < 0)
        return 0;
    struct js_stream_config old = st->cfg;
    st->cfg = *cfg;
    memset(cfg, 0, sizeof *cfg);
    bool resub = old.nsubjects != st->cfg.nsubjects;
    for (size_t i = 0; !resub && i < old.nsubjects; i++)
        resub = strcmp(old.subjects[i], st->cfg.subjects[i]) != 0;
    res->subjects_changed = resub;
    if (resub) {
        js_stream_unindex_subjects(st);
        if (js_stream_index_subjects(st) < 0)
            LOG_ERROR("JetStream: stream '%s': out of memory indexing its subjects",
                      st->cfg.name);
    }
    bool trim_per_subject = old.max_msgs_per_subject > 0 && st->cfg.max_msgs_per_subject > 0 &&
                            st->cfg.max_msgs_per_subject < old.max_msgs_per_subject;
    js_stream_config_free(&old);
    /* an update may change the transform and the sources */
    if (js_transform_open(st) < 0 || js_source_reopen(js, st) < 0) {
        js_err_set(&res->err, 10023, NULL);
        return -ENOMEM;
    }
    js_source_recount(js);
    /* Whether a filter takes the whole stream depends on the stream's
     * subjects: every replica decides it again here, at the same point of
     * the log, and so the same way. */
    if (resub && js_consumer_refilter_all(st) < 0) {
        js_err_set(&res->err, 10023, NULL);
        return -ENOMEM;
    }
    bool any = js_stream_enforce_limits(st, NULL, 0);
    if (trim_per_subject)
        store_each_subject(st->store, NULL, 0, per_subject_trim, st);
    if (any || trim_per_subject)
        removed(st);
    if (st->cfg.storage == JS_STORAGE_FILE) {
        int rc = save_meta(st);
        if (rc < 0) {
            js_err_set(&res->err, 10023, NULL);
            return rc;
        }
    }
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
    js_mirror_recount(js);
    js_source_recount(js);
    return rc;
}

/* After a store purge: its outcome in the result (a store failure is this
 * replica's disk: negative), and the runtime told of removals. */
static int purged(struct js_stream *st, int rc, struct js_result *res)
{
    if (rc < 0) {
        js_err_set(&res->err, 10023, NULL);
        return rc;
    }
    if (res->purged)
        removed(st);
    return 0;
}

int js_apply_stream_purge(struct js_stream *st, const struct jscmd *cmd, struct js_result *res)
{
    res->stream_id = st->id;
    if (st->cfg.sealed) /* checked first, as 2.9 */
        return js_err_set(&res->err, 10109, NULL), 0;
    if (st->cfg.deny_purge)
        return js_err_set(&res->err, 10110, NULL), 0;
    int rc = store_purge(st->store, cmd->filter.ptr, cmd->filter.len,
                         cmd->has_seq ? cmd->seq : 0, cmd->has_keep ? cmd->keep : 0,
                         &res->purged);
    return purged(st, rc, res);
}

int js_apply_msg_delete(struct js_stream *st, uint64_t seq, struct js_result *res)
{
    res->stream_id = st->id;
    if (st->cfg.sealed)
        return js_err_set(&res->err, 10109, NULL), 0;
    if (st->cfg.deny_delete)
        return js_err_set(&res->err, 10057, "message delete not permitted"), 0;
    if (store_remove(st->store, seq) < 0)
        return js_err_set(&res->err, 10043, "sequence %" PRIu64 " not found", seq), 0;
    removed(st);
    return 0;
}

int js_apply_stream_expire(struct js_stream *st, int64_t cutoff, int64_t now,
                           struct js_result *res)
{
    res->stream_id = st->id;
    if (now > st->clock)
        st->clock = now;
    if (now)
        js_msgid_expire(st, now);
    if (cutoff <= 0)
        return 0;
    struct store_state s;
    store_get_state(st->store, &s);
    if (!s.msgs || s.first_ts >= cutoff)
        return 0;
    uint64_t keep_from = store_seq_at_time(st->store, cutoff);
    int rc = store_purge(st->store, NULL, 0, keep_from ? keep_from : s.last_seq + 1, 0,
                         &res->purged);
    return purged(st, rc, res);
}

void js_stream_free(struct js_stream *st)
{
    if (!st)
        return;
    js_consumer_release_all(st);
    js_stream_detach(st);
    js_stream_unindex(st);
    free(st->key_name);
    if (st->store) {
        js_source_save(st); /* a clean stop leaves the cursors exact */
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
    js_republish_close(st);
    js_mirror_close(st);
    js_transform_close(st);
    js_source_close(st);
    js_stream_config_free(&st->cfg);
    free(st);
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

/* Why a stream directory could not be loaded, logged once by load_all. */
struct aside {
    char why[400];
};

static int set_aside(struct aside *a, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int set_aside(struct aside *a, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(a->why, sizeof a->why, fmt, ap);
    va_end(ap);
    return rc;
}

/* The stream in directory name: 0 when it serves, negative with a->why
 * when it cannot (nothing opened stays open). */
static int load_one(struct js *js, const char *name, struct aside *a)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/%s", js->root, name);
    struct stat sb;
    if (stat(dir, &sb) < 0)
        return set_aside(a, -errno, "%s", strerror(errno));
    if (!S_ISDIR(sb.st_mode))
        return set_aside(a, -ENOTDIR, "not a directory");
    /* Only file streams are on disk; their metadata says the rest. */
    struct store_options so = { .kind = STORE_FILE, .dir = dir,
                                .usage = &js->usage[JS_STORAGE_FILE] };
    struct store *store;
    struct store_report rep = { 0 };
    int rc = store_open(&so, &store, &rep);
    if (rc < 0)
        return set_aside(a, rc, "cannot open its store: %s", strerror(-rc));
    if (rep.detail[0])
        LOG_ERROR("JetStream: stream '%s': %s", name, rep.detail);
    void *blob = NULL;
    size_t len = 0;
    rc = store_blob_get(store, META_BLOB, &blob, &len);
    if (rc < 0) {
        store_close(store);
        return set_aside(a, rc, "no readable metadata (%s)",
                         rc == -ENOENT ? "none" : rc == -EIO ? "damaged" : strerror(-rc));
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
        free(cfgtext);
        js_stream_config_free(&cfg);
        store_close(store);
        return set_aside(a, -EINVAL, "bad metadata (%s)",
                         e.description[0] ? e.description : "not a stream config");
    }
    free(cfgtext);
    /* Streams never overlap; two directories that do (copied in by hand)
     * cannot both serve: the one loaded first wins. */
    const char *other = NULL;
    if (js_stream_overlaps_other(js, &cfg, NULL, &other)) {
        rc = set_aside(a, -EEXIST, "its subjects overlap stream '%s'", other ? other : "?");
        js_stream_config_free(&cfg);
        store_close(store);
        return rc;
    }
    struct js_stream *st;
    rc = open_stream(js, &cfg, created, store, &st);
    js_stream_config_free(&cfg);
    if (rc < 0)
        return set_aside(a, rc, "%s", strerror(-rc));
    rc = js_consumer_load_all(st);
    if (rc < 0) {
        /* Without its consumers, retention could drop what they still
         * need: the stream stays out rather than serve wrongly. */
        js->streams = st->next;
        js->nstreams--;
        js_stream_free(st);
        return set_aside(a, rc, "cannot load its consumers: %s", strerror(-rc));
    }
    js_source_load(st);
    struct store_state s;
    store_get_state(st->store, &s);
    LOG_INFO("  Restored %" PRIu64 " messages for stream '$G > %s'", s.msgs, st->cfg.name);
    return 0;
}

int js_stream_load_all(struct js *js)
{
    DIR *d = opendir(js->root);
    if (!d)
        return errno == ENOENT ? 0 : -errno;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        struct aside a = { "" };
        if (load_one(js, de->d_name, &a) < 0)
            LOG_ERROR("JetStream: stream '%s' left aside (%s/%s): %s; the other streams serve",
                      de->d_name, js->root, de->d_name, a.why);
    }
    closedir(d);
    return 0;
}
