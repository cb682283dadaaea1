/*
 * server/jetstream/js_mirror.c — mirrors of a stream of this server (see
 * js_mirror.h for the design: derived in apply, backlog by STREAM_SYNC,
 * position = the mirror's last sequence).
 *
 * Apply side (js_mirror_start, _follow, _sync) keeps js_fsm.h's contract:
 * everything it reads is replicated state at this point of the log (the
 * origin's store, the mirror's config and last sequence), so every
 * replica copies the same messages. Runtime side (attach, the timer, info)
 * runs on the serving node only. JetStream loop only.
 */
#include "server/jetstream/js_mirror.h"

#include <errno.h>
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

#include "server/jetstream/js_internal.h"
#include "server/jetstream/js_propose.h"
#include "server/jetstream/js_source.h"
#include "server/log.h"

#define SYNC_PERIOD_US 100000 /* how often a lagging mirror asks for more */

/* ---- the link ---- */

void js_mirror_close(struct js_stream *st)
{
    struct js_mirror *m = st->mirror;
    if (!m)
        return;
    free(m->origin);
    js_origin_filter_free(&m->take);
    free(m->start_time);
    free(m);
    st->mirror = NULL;
}

static void put(json_t *o, const char *k, json_t *v, bool *oom)
{
    if (!v || json_object_set_new(o, k, v) != 0)
        *oom = true;
}

static int dup_member(const json_t *o, const char *key, char **out)
{
    const char *s = json_string_value(json_object_get(o, key));
    *out = NULL;
    if (!s || !*s)
        return 0;
    return (*out = strdup(s)) ? 0 : -ENOMEM;
}

int js_mirror_open(struct js_stream *st)
{
    json_t *extra = st->cfg.extra_json ? json_loads(st->cfg.extra_json, 0, NULL) : NULL;
    json_t *src = json_incref(json_object_get(extra, "mirror"));
    json_decref(extra);
    if (!src)
        return 0;
    struct js_mirror *m = calloc(1, sizeof *m);
    int rc = m ? 0 : -ENOMEM;
    if (!rc) { /* a mirror of "" is taken, as 2.9.10 takes it: it never fills */
        const char *name = json_string_value(json_object_get(src, "name"));
        rc = (m->origin = strdup(name ? name : "")) ? 0 : -ENOMEM;
    }
    if (!rc)
        rc = js_origin_filter_parse(src, &m->take);
    if (!rc)
        rc = dup_member(src, "opt_start_time", &m->start_time);
    if (!rc) {
        json_t *seq = json_object_get(src, "opt_start_seq");
        m->start_seq = json_is_integer(seq) ? (uint64_t)json_integer_value(seq) : 0;
    }
    json_decref(src);
    st->mirror = m;
    if (rc)
        js_mirror_close(st);
    return rc;
}

static struct js_stream *origin_of(struct js *js, const struct js_stream *st)
{
    const char *name = st->mirror->origin;
    return js_stream_find(js, name, strlen(name));
}

static uint64_t last_seq(const struct js_stream *st)
{
    struct store_state s;
    store_get_state(st->store, &s);
    return s.last_seq;
}

/* ---- apply ---- */

uint64_t js_origin_start(const struct js_stream *origin, uint64_t start_seq,
                         const char *start_time)
{
    if (start_seq)
        return start_seq;
    if (!origin)
        return 1;
    struct store_state s;
    store_get_state(origin->store, &s);
    uint64_t start = s.msgs ? s.first_seq : s.last_seq + 1;
    int64_t t;
    if (start_time && js_time_parse(start_time, &t) == 0) {
        uint64_t at = store_seq_at_time(origin->store, t);
        start = at ? at : s.last_seq + 1;
    }
    return start ? start : 1;
}

int js_mirror_start(struct js *js, struct js_stream *st)
{
    struct js_mirror *m = st->mirror;
    uint64_t start = js_origin_start(origin_of(js, st), m->start_seq, m->start_time);
    if (start <= 1 || last_seq(st) >= start - 1)
        return 0;
    return store_set_last(st->store, start - 1, 0);
}

/* Store origin message msg in mirror st at its own sequence. */
static int copy_one(struct js *js, struct js_stream *st, const struct store_msg *msg)
{
    /* Under the origin's sequence; under its subject, or the transformed
     * one (2.10's subject_transforms). */
    char *renamed = NULL;
    size_t slen = msg->subject_len;
    int rc = js_origin_rename(&st->mirror->take, msg->subject, msg->subject_len, &renamed,
                              &slen);
    if (rc == -ENOMEM)
        return rc;
    const char *subject = renamed ? renamed : msg->subject;
    rc = store_append_at(st->store, msg->seq, subject, slen, msg->hdr, msg->hdr_len,
                         msg->data ? msg->data : "", msg->data_len, msg->ts);
    if (rc < 0) {
        LOG_ERROR("JetStream: mirror '%s': storing message %llu failed: %s", st->cfg.name,
                  (unsigned long long)msg->seq, strerror(-rc));
        free(renamed);
        return rc;
    }
    if (msg->ts > st->clock)
        st->clock = msg->ts;
    st->dirty = true;
    if (js_stream_enforce_limits(st, subject, slen))
        st->removed = true;
    free(renamed);
    /* a mirror of this mirror follows in the same apply */
    return js_mirror_follow(js, st, msg->seq);
}

void js_mirror_recount(struct js *js)
{
    bool any = false;
    for (struct js_stream *st = js->streams; st; st = st->next) {
        st->nmirrors = 0;
        any |= st->mirror != NULL;
    }
    for (struct js_stream *m = js->streams; any && m; m = m->next) {
        struct js_stream *o = m->mirror ? origin_of(js, m) : NULL;
        if (o)
            o->nmirrors++;
    }
}

int js_mirror_follow(struct js *js, struct js_stream *origin, uint64_t seq)
{
    if (!origin->nmirrors)
        return 0;
    struct store_msg msg = { 0 };
    int rc = 0;
    for (struct js_stream *st = js->streams; st && !rc; st = st->next) {
        struct js_mirror *m = st->mirror;
        if (!m || strcmp(m->origin, origin->cfg.name) != 0)
            continue;
        /* Caught up: seq is the first message the filter takes past what
         * the mirror has. Otherwise a sync copies it, in order. */
        uint64_t from = last_seq(st) + 1;
        if (seq < from || js_origin_next_seq(origin->store, from, &m->take) != seq)
            continue;
        if (store_load(origin->store, seq, &msg) == 0)
            rc = copy_one(js, st, &msg);
    }
    store_msg_free(&msg);
    return rc;
}

int js_mirror_sync(struct js *js, struct js_stream *st, uint64_t max)
{
    struct js_mirror *m = st->mirror;
    struct js_stream *o = m ? origin_of(js, st) : NULL;
    if (!o)
        return 0;
    struct store_msg msg = { 0 };
    int rc = 0;
    uint64_t seq = last_seq(st) + 1;
    for (uint64_t n = 0; n < max && !rc &&
                         js_origin_load_next(o->store, seq, &m->take, &msg) == 0;
         n++) {
        seq = msg.seq + 1;
        rc = copy_one(js, st, &msg);
    }
    store_msg_free(&msg);
    return rc;
}

uint64_t js_mirror_lag(struct js *js, const struct js_stream *st)
{
    struct js_stream *o = st->mirror ? origin_of(js, st) : NULL;
    if (!o)
        return 0;
    return js_origin_count_from(o->store, last_seq(st) + 1, &st->mirror->take);
}

/* ---- runtime (serving node) ---- */

static void sync_tick(evutil_socket_t fd, short what, void *arg)
{
    struct js_stream *st = arg;
    (void)fd;
    (void)what;
    struct js *js = st->js;
    if (st->mirror && !origin_of(js, st)) {
        st->rt.mirror_checked = 0; /* "active" is -1 until it is back */
        return;
    }
    st->rt.mirror_checked = js_clock(js);
    if (!js_mirror_lag(js, st) && !js_source_lag(js, st))
        return;
    struct jscmd cmd = {
        .op = JSCMD_STREAM_SYNC,
        .stream = { st->cfg.name, strlen(st->cfg.name) },
        .has_seq = true,
        .seq = JS_MIRROR_SYNC_MAX,
    };
    js_propose(js, &cmd, NULL, 0);
}

void js_mirror_attach(struct js_stream *st)
{
    js_mirror_detach(st);
    if (!st->mirror && !st->sources)
        return;
    st->rt.mirror_checked = 0;
    st->rt.mirror_ev = event_new(st->js->env.base, -1, EV_PERSIST, sync_tick, st);
    if (!st->rt.mirror_ev)
        return;
    struct timeval tv = { 0, SYNC_PERIOD_US };
    event_add(st->rt.mirror_ev, &tv);
    event_active(st->rt.mirror_ev, EV_TIMEOUT, 0); /* a new mirror starts at once */
}

void js_mirror_detach(struct js_stream *st)
{
    if (st->rt.mirror_ev) {
        event_free(st->rt.mirror_ev);
        st->rt.mirror_ev = NULL;
    }
}

json_t *js_mirror_info(struct js *js, const struct js_stream *st)
{
    if (!st->mirror)
        return NULL;
    json_t *o = json_object();
    bool oom = !o;
    if (oom)
        return NULL;
    bool found = origin_of(js, st) != NULL;
    put(o, "name", json_string(st->mirror->origin), &oom);
    put(o, "lag", json_integer((json_int_t)js_mirror_lag(js, st)), &oom);
    int64_t active = -1;
    if (found && st->rt.mirror_checked)
        active = js_clock(js) - st->rt.mirror_checked;
    put(o, "active", json_integer(active), &oom);
    if (!found) {
        json_t *e = json_object();
        put(e, "code", json_integer(404), &oom);
        put(e, "err_code", json_integer(10059), &oom);
        put(e, "description", json_string("stream not found"), &oom);
        put(o, "error", e, &oom);
    }
    if (oom) {
        json_decref(o);
        return NULL;
    }
    return o;
}
