/*
 * server/jetstream/js_source.c — sources: other streams of this server
 * copied into a stream under its own sequences (see js_source.h for the
 * design: derived in apply, backlog by STREAM_SYNC, a replicated cursor
 * per source).
 *
 * The apply side (start, reopen, follow, sync, the cycle check) reads only
 * replicated state at this point of the log: the origins' stores, the
 * configs and the cursors. The blob and the header scan are the one-node
 * restart's; a cluster rebuilds cursors from the snapshot and the log.
 * JetStream loop only.
 */
#include "server/jetstream/js_source.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/jetstream/js_internal.h"
#include "server/jetstream/js_mirror.h"
#include "server/log.h"

#define SOURCE_HDR "Nats-Stream-Source"
#define BLOB_NAME "sources"
/* How many of the newest messages a one-node restart reads for their
 * Nats-Stream-Source headers. */
#define SCAN_BACK 10000

/* ---- the links ---- */

static void links_free(struct js_sources *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++) {
        free(s->v[i].origin);
        js_origin_filter_free(&s->v[i].take);
        free(s->v[i].start_time);
    }
    free(s->v);
    free(s);
}

void js_source_close(struct js_stream *st)
{
    links_free(st->sources);
    st->sources = NULL;
}

static int dup_str(const json_t *o, const char *key, char **out)
{
    const char *s = json_string_value(json_object_get(o, key));
    *out = NULL;
    if (!s || !*s)
        return 0;
    return (*out = strdup(s)) ? 0 : -ENOMEM;
}

static int link_parse(const json_t *src, struct js_source_link *l)
{
    /* a source of "" is taken, as 2.9.10 takes it: it never copies */
    const char *name = json_string_value(json_object_get(src, "name"));
    int rc = (l->origin = strdup(name ? name : "")) ? 0 : -ENOMEM;
    if (!rc)
        rc = js_origin_filter_parse(src, &l->take);
    if (!rc)
        rc = dup_str(src, "opt_start_time", &l->start_time);
    if (rc)
        return rc;
    json_t *seq = json_object_get(src, "opt_start_seq");
    l->start_seq = json_is_integer(seq) ? (uint64_t)json_integer_value(seq) : 0;
    return 0;
}

int js_source_open(struct js_stream *st)
{
    js_source_close(st);
    json_t *extra = st->cfg.extra_json ? json_loads(st->cfg.extra_json, 0, NULL) : NULL;
    json_t *arr = json_object_get(extra, "sources");
    size_t n = json_array_size(arr);
    int rc = 0;
    if (n) {
        struct js_sources *s = calloc(1, sizeof *s);
        if (s && !(s->v = calloc(n, sizeof *s->v))) {
            free(s);
            s = NULL;
        }
        rc = s ? 0 : -ENOMEM;
        for (size_t i = 0; !rc && i < n; i++, s->n++)
            rc = link_parse(json_array_get(arr, i), &s->v[i]);
        if (rc)
            links_free(s);
        else
            st->sources = s;
    }
    json_decref(extra);
    return rc;
}

static struct js_stream *origin_of(struct js *js, const struct js_source_link *l)
{
    return js_stream_find(js, l->origin, strlen(l->origin));
}

static uint64_t start_of(struct js *js, const struct js_source_link *l)
{
    return js_origin_start(origin_of(js, l), l->start_seq, l->start_time);
}

void js_source_start(struct js *js, struct js_stream *st)
{
    if (!st->sources)
        return;
    for (size_t i = 0; i < st->sources->n; i++)
        st->sources->v[i].cursor = start_of(js, &st->sources->v[i]);
    st->sources->unsaved = true;
}

static bool same_link(const struct js_source_link *a, const struct js_source_link *b)
{
    const char *x = a->take.key, *y = b->take.key;
    return !strcmp(a->origin, b->origin) && (x ? y && !strcmp(x, y) : !y);
}

int js_source_reopen(struct js *js, struct js_stream *st)
{
    struct js_sources *old = st->sources;
    st->sources = NULL;
    int rc = js_source_open(st);
    for (size_t i = 0; !rc && st->sources && i < st->sources->n; i++) {
        struct js_source_link *l = &st->sources->v[i];
        l->cursor = start_of(js, l);
        for (size_t j = 0; old && j < old->n; j++)
            if (same_link(l, &old->v[j]))
                l->cursor = old->v[j].cursor;
    }
    if (st->sources)
        st->sources->unsaved = true;
    links_free(old);
    return rc;
}

/* ---- cycles ---- */

/* Does following origins from stream `from` reach `target`? Each stream
 * is looked at once per walk (its mark), so shared ancestry costs nothing
 * twice and the walk is linear in streams and links. */
static bool reaches(struct js *js, const char *from, const char *target, uint64_t walk)
{
    if (!strcmp(from, target))
        return true;
    struct js_stream *st = js_stream_find(js, from, strlen(from));
    if (!st || st->walk == walk)
        return false;
    st->walk = walk;
    if (st->mirror && reaches(js, st->mirror->origin, target, walk))
        return true;
    for (size_t i = 0; st->sources && i < st->sources->n; i++)
        if (reaches(js, st->sources->v[i].origin, target, walk))
            return true;
    return false;
}

bool js_source_cycle(struct js *js, const char *name, const struct js_stream_config *c)
{
    json_t *x = c->extra_json ? json_loads(c->extra_json, 0, NULL) : NULL;
    uint64_t walk = ++js->origin_walks;
    const char *m = json_string_value(json_object_get(json_object_get(x, "mirror"), "name"));
    bool hit = m && reaches(js, m, name, walk);
    json_t *arr = json_object_get(x, "sources");
    for (size_t i = 0; !hit && i < json_array_size(arr); i++) {
        const char *s = json_string_value(json_object_get(json_array_get(arr, i), "name"));
        hit = s && reaches(js, s, name, walk);
    }
    json_decref(x);
    return hit;
}

/* ---- copying (apply) ---- */

/* The origin message's header block with "Nats-Stream-Source: <origin>
 * <seq>" added last; malloc'd into *out. */
static int source_header(const struct store_msg *m, const char *origin, char **out, size_t *len)
{
    char line[320];
    int ln = snprintf(line, sizeof line, SOURCE_HDR ": %s %" PRIu64 "\r\n", origin, m->seq);
    if (ln < 0 || (size_t)ln >= sizeof line)
        return -EINVAL;
    bool has = m->hdr_len >= 12 && !memcmp(m->hdr + m->hdr_len - 4, "\r\n\r\n", 4);
    const char *head = has ? m->hdr : "NATS/1.0\r\n";
    size_t hl = has ? m->hdr_len - 2 : 10; /* keep the block's lines, drop its end */
    char *h = malloc(hl + (size_t)ln + 3);
    if (!h)
        return -ENOMEM;
    memcpy(h, head, hl);
    memcpy(h + hl, line, (size_t)ln);
    memcpy(h + hl + (size_t)ln, "\r\n", 2);
    *out = h;
    *len = hl + (size_t)ln + 2;
    return 0;
}

/* Out of memory the copy is not republished: the apply itself goes on. */
static void note_derived(struct js *js, const struct js_result *r)
{
    if (js->nderived == js->cap_derived) {
        size_t cap = js->cap_derived ? js->cap_derived * 2 : 8;
        struct js_result *n = realloc(js->derived, cap * sizeof *n);
        if (!n) {
            LOG_ERROR("JetStream: out of memory noting a sourced copy to republish");
            return;
        }
        js->derived = n;
        js->cap_derived = cap;
    }
    js->derived[js->nderived++] = *r;
}

static int copy_one(struct js *js, struct js_stream *st, struct js_source_link *l,
                    const struct store_msg *m)
{
    l->cursor = m->seq + 1;
    st->sources->unsaved = true;
    char *hdr;
    size_t hlen;
    int rc = source_header(m, l->origin, &hdr, &hlen);
    if (rc == -EINVAL)
        return 0; /* an origin name too long for a header line: not copied */
    if (rc < 0)
        return rc;
    /* Under the origin's subject, or the transformed one (2.10). */
    char *renamed = NULL;
    size_t slen = m->subject_len;
    if (js_origin_rename(&l->take, m->subject, m->subject_len, &renamed, &slen) == -ENOMEM) {
        free(hdr);
        return -ENOMEM;
    }
    struct jscmd_publish p = {
        .stream = { st->cfg.name, strlen(st->cfg.name) },
        .subject = { renamed ? renamed : m->subject, slen },
        .hdr = { hdr, hlen },
        .data = { m->data ? m->data : "", m->data_len },
        .ts_ns = m->ts > 0 ? (uint64_t)m->ts : 0,
    };
    struct js_result r;
    memset(&r, 0, sizeof r);
    rc = js_apply_publish(js, st, &p, &r);
    /* A copy is a stored message like any: republished when the stream
     * says so. The apply only notes it; the proposer sends (js_fsm.h). */
    if (rc == 0 && js_result_ok(&r) && r.republish) {
        r.stream_id = st->id; /* js_apply_publish leaves it to its caller */
        note_derived(js, &r);
    }
    free(hdr);
    free(renamed);
    return rc;
}

int js_source_follow(struct js *js, struct js_stream *origin, uint64_t seq)
{
    if (!origin->nsourced)
        return 0;
    struct store_msg msg = { 0 };
    int rc = 0;
    for (struct js_stream *st = js->streams; st && !rc; st = st->next) {
        for (size_t i = 0; st->sources && i < st->sources->n && !rc; i++) {
            struct js_source_link *l = &st->sources->v[i];
            if (strcmp(l->origin, origin->cfg.name) != 0 || seq < l->cursor ||
                js_origin_next_seq(origin->store, l->cursor, &l->take) != seq)
                continue;
            if (store_load(origin->store, seq, &msg) == 0)
                rc = copy_one(js, st, l, &msg);
        }
    }
    store_msg_free(&msg);
    return rc;
}

int js_source_sync(struct js *js, struct js_stream *st, uint64_t max)
{
    struct store_msg msg = { 0 };
    int rc = 0;
    for (size_t i = 0; st->sources && i < st->sources->n && !rc; i++) {
        struct js_source_link *l = &st->sources->v[i];
        struct js_stream *o = origin_of(js, l);
        for (uint64_t n = 0; o && n < max && !rc &&
                             js_origin_load_next(o->store, l->cursor, &l->take, &msg) == 0;
             n++)
            rc = copy_one(js, st, l, &msg);
    }
    store_msg_free(&msg);
    return rc;
}

void js_source_recount(struct js *js)
{
    bool any = false;
    for (struct js_stream *st = js->streams; st; st = st->next) {
        st->nsourced = 0;
        any |= st->sources != NULL;
    }
    for (struct js_stream *s = js->streams; any && s; s = s->next) {
        for (size_t i = 0; s->sources && i < s->sources->n; i++) {
            struct js_stream *o = origin_of(js, &s->sources->v[i]);
            if (o)
                o->nsourced++;
        }
    }
}

static uint64_t link_lag(struct js *js, const struct js_source_link *l)
{
    struct js_stream *o = origin_of(js, l);
    return o ? js_origin_count_from(o->store, l->cursor, &l->take) : 0;
}

uint64_t js_source_lag(struct js *js, const struct js_stream *st)
{
    uint64_t lag = 0;
    for (size_t i = 0; st->sources && i < st->sources->n; i++)
        lag += link_lag(js, &st->sources->v[i]);
    return lag;
}

/* ---- info ---- */

static void put(json_t *o, const char *k, json_t *v, bool *oom)
{
    if (!v || json_object_set_new(o, k, v) != 0)
        *oom = true;
}

json_t *js_source_info(struct js *js, const struct js_stream *st)
{
    if (!st->sources)
        return NULL;
    json_t *a = json_array();
    bool oom = !a;
    for (size_t i = 0; !oom && i < st->sources->n; i++) {
        const struct js_source_link *l = &st->sources->v[i];
        json_t *o = json_object();
        bool found = origin_of(js, l) != NULL;
        oom |= !o || json_array_append_new(a, o) != 0;
        if (oom)
            break;
        put(o, "name", json_string(l->origin), &oom);
        put(o, "lag", json_integer((json_int_t)link_lag(js, l)), &oom);
        int64_t active = -1;
        if (found && st->rt.mirror_checked)
            active = js_clock(js) - st->rt.mirror_checked;
        put(o, "active", json_integer(active), &oom);
        if (!found)
            put(o, "error",
                json_pack("{s:i,s:i,s:s}", "code", 404, "err_code", 10059, "description",
                          "stream not found"),
                &oom);
    }
    if (oom) {
        json_decref(a);
        return NULL;
    }
    return a;
}

/* ---- one node: the cursors' blob and the header scan ---- */

int js_source_save(struct js_stream *st)
{
    if (!st->sources || !st->sources->unsaved || st->cfg.storage != JS_STORAGE_FILE)
        return 0;
    json_t *a = json_array();
    bool oom = !a;
    for (size_t i = 0; !oom && i < st->sources->n; i++) {
        const struct js_source_link *l = &st->sources->v[i];
        oom |= json_array_append_new(
                   a, json_pack("{s:s,s:s?,s:I}", "name", l->origin, "filter", l->take.key,
                                "cursor", (json_int_t)l->cursor)) != 0;
    }
    char *text = oom ? NULL : json_dumps(a, JSON_COMPACT);
    json_decref(a);
    if (!text)
        return -ENOMEM;
    int rc = store_blob_put(st->store, BLOB_NAME, text, strlen(text));
    free(text);
    if (rc == 0)
        st->sources->unsaved = false;
    return rc;
}

static struct js_source_link *link_named(struct js_stream *st, const char *origin,
                                         const char *filter)
{
    for (size_t i = 0; i < st->sources->n; i++) {
        struct js_source_link *l = &st->sources->v[i];
        const char *key = l->take.key;
        if (!strcmp(l->origin, origin) && (key ? filter && !strcmp(key, filter) : !filter))
            return l;
    }
    return NULL;
}

/* The last Nats-Stream-Source line of a header block (the one this
 * stream added; earlier ones are the hops before): origin and sequence. */
static bool last_source(const char *hdr, size_t len, char *origin, size_t cap, uint64_t *seq)
{
    bool found = false;
    const size_t klen = sizeof SOURCE_HDR - 1;
    for (size_t i = 0; i + klen + 1 < len; i++) {
        if ((i && hdr[i - 1] != '\n') || strncasecmp(hdr + i, SOURCE_HDR ":", klen + 1))
            continue;
        const char *v = hdr + i + klen + 1, *end = memchr(v, '\r', len - (size_t)(v - hdr));
        if (!end)
            break;
        while (v < end && *v == ' ')
            v++;
        const char *sp = memchr(v, ' ', (size_t)(end - v));
        if (!sp || (size_t)(sp - v) >= cap)
            continue;
        memcpy(origin, v, (size_t)(sp - v));
        origin[sp - v] = '\0';
        *seq = strtoull(sp + 1, NULL, 10);
        found = true;
    }
    return found;
}

int js_source_load(struct js_stream *st)
{
    if (!st->sources)
        return 0;
    void *data = NULL;
    size_t len = 0;
    if (store_blob_get(st->store, BLOB_NAME, &data, &len) == 0) {
        json_t *a = json_loadb(data, len, 0, NULL);
        for (size_t i = 0; i < json_array_size(a); i++) {
            json_t *e = json_array_get(a, i);
            const char *name = json_string_value(json_object_get(e, "name"));
            const char *filter = json_string_value(json_object_get(e, "filter"));
            json_t *cur = json_object_get(e, "cursor");
            struct js_source_link *l = name ? link_named(st, name, filter) : NULL;
            if (l && json_is_integer(cur))
                l->cursor = (uint64_t)json_integer_value(cur);
        }
        json_decref(a);
        free(data);
    }
    /* Copies written after the blob: the newest of each source tells. A
     * filter is not in the header, so an origin that two sources (with
     * different filters) read is left to the blob. */
    struct store_state s;
    store_get_state(st->store, &s);
    struct store_msg m = { 0 };
    uint64_t from = s.last_seq > SCAN_BACK ? s.last_seq - SCAN_BACK : 1;
    for (uint64_t seq = from; store_load_next(st->store, seq, NULL, 0, &m) == 0;
         seq = m.seq + 1) {
        char origin[256];
        uint64_t oseq;
        if (!last_source(m.hdr, m.hdr_len, origin, sizeof origin, &oseq))
            continue;
        struct js_source_link *only = NULL;
        size_t n = 0;
        for (size_t i = 0; i < st->sources->n; i++)
            if (!strcmp(st->sources->v[i].origin, origin))
                only = &st->sources->v[i], n++;
        if (n == 1 && only->cursor <= oseq)
            only->cursor = oseq + 1;
    }
    store_msg_free(&m);
    return 0;
}
