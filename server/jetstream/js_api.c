/*
 * server/jetstream/js_api.c — the JetStream API requests about the account, streams
 * and single messages ($JS.API.INFO, STREAM.*, DIRECT.GET.*), with the
 * replies of spec/jetstream.md §4, §5, §7. Consumer requests are
 * js_consumer_api's.
 *
 * Each handler parses the request, validates what needs no state, calls
 * the apply function of the matching command, and answers. A request to
 * an unknown endpoint gets no reply at all, as nats-server's catch-all
 * subscription does (§2). Runs only on the JetStream loop.
 */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/subject.h"
#include "server/jetstream/js_internal.h"
#include "server/jetstream/js_mirror.h"
#include "server/jetstream/js_source.h"
#include "server/jetstream/js_propose.h"
#include "server/jetstream/jtext.h"
#include "server/log.h"

#define T_PREFIX "io.nats.jetstream.api.v1."
#define NAMES_LIMIT 1024
#define LIST_LIMIT 256
#define SUBJECTS_LIMIT 100000
#define DELETED_MAX 1000000

/* ---- small builders ---- */

/* Send the text built in t (if it could be built) and release it. */
static void reply_text(struct js *js, const struct js_inmsg *m, struct jtext *t)
{
    char *text = jtext_take(t);
    if (text)
        js_reply(js, m, text);
    free(text);
}

/* An error whose text is fixed by its code. */
static void fail(struct js *js, const struct js_inmsg *m, const char *type, int code)
{
    struct js_err e;
    js_err_set(&e, code, NULL);
    js_reply_error(js, m, type, &e);
}

/* The request body as JSON: NULL for an empty body (*bad false) or for
 * unparsable JSON (*bad true). */
static json_t *body_json(const struct js_inmsg *m, bool *bad)
{
    *bad = false;
    if (!m->data_len)
        return NULL;
    json_error_t err;
    json_t *j = json_loadb(m->data, m->data_len, 0, &err);
    if (!j || !json_is_object(j)) {
        json_decref(j);
        *bad = true;
        return NULL;
    }
    return j;
}

/* The start every stream-scoped request shares: the stream named in the
 * subject (10059 when there is none) and, when req is not NULL, the JSON
 * body (10025 when it does not parse; *req NULL for an empty body; with
 * need_body an empty body is 10003). Returns the stream, or NULL when the
 * request has been answered with an error. */
static struct js_stream *begin(struct js *js, const struct js_inmsg *m, const char *type,
                               const char *name, json_t **req, bool need_body)
{
    struct js_stream *st = js_stream_find(js, name, strlen(name));
    if (!st) {
        fail(js, m, type, 10059);
        return NULL;
    }
    if (!req)
        return st;
    bool bad;
    *req = body_json(m, &bad);
    if (bad || (need_body && !*req)) {
        fail(js, m, type, bad ? 10025 : 10003);
        return NULL;
    }
    return st;
}

/* A stream name taken from the subject: one token, nothing after it. */
static bool single_token(const char *s)
{
    return *s && !strchr(s, '.');
}

/* ---- stream info bodies ---- */

static void append_stream_body(struct jtext *b, struct js_stream *st, const char *subjects,
                               const char *deleted)
{
    char *cfg = js_stream_config_to_json(&st->cfg);
    char *state = js_stream_state_json(st, subjects, deleted);
    char created[48];
    js_time_format(st->created, created, sizeof created);
    if (!cfg || !state)
        b->failed = true;
    else
        jtext_printf(b, "\"config\":%s,\"created\":\"%s\",\"state\":", cfg, created);
    if (state)
        jtext_str(b, state);
    free(cfg);
    free(state);
    js_cluster_append_info(st->js, b);
    json_t *origins[2] = { st->mirror ? js_mirror_info(st->js, st) : NULL,
                           st->sources ? js_source_info(st->js, st) : NULL };
    static const char *const keys[2] = { "mirror", "sources" };
    for (int i = 0; i < 2; i++) {
        bool want = i == 0 ? st->mirror != NULL : st->sources != NULL;
        char *text = origins[i] ? json_dumps(origins[i], JSON_COMPACT) : NULL;
        if (text)
            jtext_printf(b, ",\"%s\":%s", keys[i], text);
        else if (want)
            b->failed = true;
        free(text);
        json_decref(origins[i]);
    }
}

/* The subjects of a stream info's subjects_filter, sorted by subject so
 * that "offset" pages through them as nats-server does. */
struct subj_entry {
    char *subject; /* owned */
    uint64_t msgs;
};

struct subj_collect {
    struct subj_entry *v; /* owned array */
    size_t n, cap;
    bool failed;
};

static int collect_subject(void *arg, const char *subject, size_t len,
                           const struct store_subject_state *ss)
{
    struct subj_collect *c = arg;
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 64;
        struct subj_entry *nv = realloc(c->v, cap * sizeof *nv);
        if (!nv) {
            c->failed = true;
            return 1;
        }
        c->v = nv;
        c->cap = cap;
    }
    char *copy = strndup(subject, len);
    if (!copy) {
        c->failed = true;
        return 1;
    }
    c->v[c->n].subject = copy;
    c->v[c->n++].msgs = ss->msgs;
    return 0;
}

static int by_subject(const void *a, const void *b)
{
    return strcmp(((const struct subj_entry *)a)->subject,
                  ((const struct subj_entry *)b)->subject);
}

/* The "subjects" object for entries [offset, offset + limit), or NULL when
 * that page is empty. */
static char *subjects_page(struct subj_collect *c, uint64_t offset, bool *failed)
{
    qsort(c->v, c->n, sizeof *c->v, by_subject);
    struct jtext b = { 0 };
    uint64_t shown = 0;
    for (uint64_t i = offset; i < c->n && shown < SUBJECTS_LIMIT; i++, shown++) {
        jtext_str(&b, shown ? "," : "{");
        jtext_quoted(&b, c->v[i].subject, strlen(c->v[i].subject));
        jtext_printf(&b, ":%" PRIu64, c->v[i].msgs);
    }
    if (!shown) {
        jtext_free(&b);
        *failed = c->failed;
        return NULL;
    }
    jtext_str(&b, "}");
    char *text = jtext_take(&b);
    *failed = c->failed || !text;
    return text;
}

static void subj_collect_free(struct subj_collect *c)
{
    for (size_t i = 0; i < c->n; i++)
        free(c->v[i].subject);
    free(c->v);
}

/* The JetStream account's rules for a stream's max_bytes (accounts {}
 * jetstream { max_bytes_required, memory_/store_max_stream_bytes }), as
 * nats-server checks them when it adds or updates the stream. */
static int account_stream_limits(const struct js *js, const struct js_stream_config *cfg,
                                 struct js_err *e)
{
    if (js->acc.max_bytes_required && cfg->max_bytes <= 0)
        return js_err_set(e, 10113, NULL);
    int64_t most = cfg->storage == JS_STORAGE_MEMORY ? js->acc.mem_max_stream_bytes
                                                     : js->acc.disk_max_stream_bytes;
    if (most > 0 && cfg->max_bytes > most)
        return js_err_set(e, 10122, NULL);
    return 0;
}

/* ---- endpoints ---- */

static void account_info(struct js *js, const struct js_inmsg *m)
{
    struct jetstream_stats t;
    js_totals(js, &t);
    struct jtext b = { 0 };
    /* The limits are the account's own (its jetstream { } in accounts {};
     * none, -1, for $G), as 2.9 answers: the server's (max_memory_store /
     * max_file_store, or their defaults) show in /jsz and /varz, and
     * refuse publishes with 10023. */
    jtext_printf(&b,
                 "{\"type\":\"" T_PREFIX "account_info_response\",\"memory\":%" PRIu64
                 ",\"storage\":%" PRIu64 ",\"streams\":%zu,\"consumers\":%" PRIu64
                 ",\"limits\":{\"max_memory\":%" PRId64 ",\"max_storage\":%" PRId64
                 ",\"max_streams\":%" PRId64 ",\"max_consumers\":%" PRId64
                 ",\"max_ack_pending\":%" PRId64 ",\"memory_max_stream_bytes\":%" PRId64
                 ",\"storage_max_stream_bytes\":%" PRId64 ",\"max_bytes_required\":%s},",
                 t.memory, t.storage, js->nstreams, t.consumers, js->acc.max_memory,
                 js->acc.max_store, js->acc.max_streams, js->acc.max_consumers,
                 js->acc.max_ack_pending, js->acc.mem_max_stream_bytes,
                 js->acc.disk_max_stream_bytes, js->acc.max_bytes_required ? "true" : "false");
    if (js->domain) {
        jtext_str(&b, "\"domain\":");
        jtext_quoted(&b, js->domain, strlen(js->domain));
        jtext_str(&b, ",");
    }
    jtext_printf(&b, "\"api\":{\"total\":%" PRIu64 ",\"errors\":%" PRIu64 "}}", js->api_total,
                 js->api_errors);
    char *text = jtext_take(&b);
    if (!text) {
        LOG_ERROR("JetStream: out of memory answering %s", m->subject);
        return;
    }
    js_reply(js, m, text);
    free(text);
}

static struct jscmd_bytes bytes_of(const char *s)
{
    return (struct jscmd_bytes){ s, s ? strlen(s) : 0 };
}

/* A mirror inherits direct gets from its origin as it is now (2.9.10's
 * checkStreamCfg: mirror_direct = the origin's allow_direct), decided here
 * by the proposer so that the config in the log says it. */
static void inherit_direct(struct js *js, struct js_stream_config *cfg)
{
    char *origin = js_stream_config_mirror_origin(cfg);
    struct js_stream *o = origin ? js_stream_find(js, origin, strlen(origin)) : NULL;
    if (o)
        cfg->mirror_direct = o->cfg.allow_direct;
    free(origin);
}

/* Parse and validate (no state needed), then propose the normalised config;
 * the checks against other streams are apply's (js_fsm.h). */
static void stream_create_or_update(struct js *js, const struct js_inmsg *m, const char *name,
                                    bool create)
{
    const char *type = create ? "stream_create_response" : "stream_update_response";
    struct js_stream_config cfg = { 0 };
    struct js_err e = { 0 };
    /* Clustered: every stream lives on every member, so num_replicas up to
     * the group's size is taken (and echoed); more is 10005. */
    if (js_stream_config_parse(m->data, m->data_len, name, create, js->clustered,
                               js->clustered ? js->cluster_size : 1, &cfg, &e) < 0) {
        js_stream_config_free(&cfg);
        js_reply_error(js, m, type, &e);
        return;
    }
    /* Past nats-server's own checks (above), but not performed: a mirror
     * or source of another domain or account would never fill, s2
     * compression be ignored. Refused, not kept. */
    const char *unsupported = js_stream_config_unsupported_field(m->data, m->data_len);
    if (!unsupported)
        unsupported = js_stream_config_unsupported_origin(&cfg);
    if (unsupported) {
        js_stream_config_free(&cfg);
        js_err_set(&e, 10052, "stream %s is not supported yet", unsupported);
        js_reply_error(js, m, type, &e);
        return;
    }
    if (account_stream_limits(js, &cfg, &e) < 0) {
        js_stream_config_free(&cfg);
        js_reply_error(js, m, type, &e);
        return;
    }
    inherit_direct(js, &cfg);
    char *json = js_stream_config_to_json(&cfg);
    /* Reservations fit in the server's limit and the account's. */
    bool mem = cfg.storage == JS_STORAGE_MEMORY;
    int64_t limit = mem ? js->max_memory : js->max_store;
    int64_t acc_limit = mem ? js->acc.max_memory : js->acc.max_store;
    if (acc_limit > 0 && (limit <= 0 || acc_limit < limit))
        limit = acc_limit;
    js_stream_config_free(&cfg);
    if (!json) {
        fail(js, m, type, 10023);
        return;
    }
    struct jscmd cmd = {
        .op = create ? JSCMD_STREAM_CREATE : JSCMD_STREAM_UPDATE,
        .stream = bytes_of(name),
        .config = bytes_of(json),
        .created_ns = (uint64_t)js_clock(js),
        .acct_max = limit > 0 ? (uint64_t)limit : 0,
        .acct_streams = js->acc.max_streams > 0 ? (uint64_t)js->acc.max_streams : 0,
    };
    js_propose(js, &cmd, m->reply, m->reply ? m->reply_len : 0);
    free(json);
}

static void stream_info(struct js *js, const struct js_inmsg *m, const char *name)
{
    const char *type = "stream_info_response";
    json_t *req = NULL;
    struct js_stream *st = begin(js, m, type, name, &req, false);
    if (!st)
        return;
    const char *filter = req ? json_string_value(json_object_get(req, "subjects_filter")) : NULL;
    bool details = req && json_is_true(json_object_get(req, "deleted_details"));
    json_int_t offset = req ? json_integer_value(json_object_get(req, "offset")) : 0;
    struct subj_collect sc = { 0 };
    char *subjects = NULL;
    bool failed = false;
    if (filter) {
        bool all = !strcmp(filter, ">");
        store_each_subject(st->store, all ? NULL : filter, all ? 0 : strlen(filter),
                           collect_subject, &sc);
        subjects = subjects_page(&sc, offset > 0 ? (uint64_t)offset : 0, &failed);
    }
    struct jtext del = { 0 };
    if (details) {
        struct store_state s;
        store_get_state(st->store, &s);
        /* One old message can pin a huge gap: list at most DELETED_MAX. */
        uint64_t max = s.num_deleted < DELETED_MAX ? s.num_deleted : DELETED_MAX;
        uint64_t *seqs = max ? calloc(max, sizeof *seqs) : NULL;
        uint64_t n = seqs ? store_deleted(st->store, seqs, max) : 0;
        jtext_str(&del, "[");
        for (uint64_t i = 0; i < n && i < max; i++)
            jtext_printf(&del, "%s%" PRIu64, i ? "," : "", seqs[i]);
        jtext_str(&del, "]");
        free(seqs);
    }
    char *deleted = details ? jtext_take(&del) : NULL;
    failed |= details && !deleted;
    struct jtext b = { 0 };
    jtext_printf(&b, "{\"type\":\"" T_PREFIX "%s\",\"total\":%zu,\"offset\":%lld,\"limit\":%d,",
                 type, sc.n, filter ? (long long)offset : 0LL, filter ? SUBJECTS_LIMIT : 0);
    append_stream_body(&b, st, subjects, deleted);
    js_cluster_append_alternates(js, &b, st);
    jtext_str(&b, "}");
    b.failed |= failed;
    reply_text(js, m, &b);
    subj_collect_free(&sc);
    free(subjects);
    free(deleted);
    json_decref(req);
}

static int cmp_names(const void *a, const void *b)
{
    const struct js_stream *x = *(struct js_stream *const *)a;
    const struct js_stream *y = *(struct js_stream *const *)b;
    return strcmp(x->cfg.name, y->cfg.name);
}

/* The STREAM.NAMES / LIST subject filter: a pass over every stream's
 * subjects, once per such request (never per message). */
static bool stream_takes(const struct js_stream *st, const char *subject)
{
    for (size_t i = 0; i < st->cfg.nsubjects; i++)
        if (subject_overlap(st->cfg.subjects[i], strlen(st->cfg.subjects[i]), subject, strlen(subject)))
            return true;
    return false;
}

/* A paged response's 10025: nats-server sends its zero paging fields
 * along with the error (its response struct, marshalled whole). */
static void paged_invalid_json(struct js *js, const struct js_inmsg *m, bool list)
{
    js->api_errors++;
    char buf[320];
    snprintf(buf, sizeof buf,
             "{\"type\":\"" T_PREFIX "%s\",\"error\":{\"code\":400,\"err_code\":10025,"
             "\"description\":\"%s\"},\"total\":0,\"offset\":0,\"limit\":0,\"streams\":%s}",
             list ? "stream_list_response" : "stream_names_response", js_err_text(10025),
             list ? "[]" : "null");
    js_reply(js, m, buf);
}

/* STREAM.NAMES and STREAM.LIST: sorted, filtered by subject, paged. */
static void stream_names_or_list(struct js *js, const struct js_inmsg *m, bool list)
{
    const char *type = list ? "stream_list_response" : "stream_names_response";
    bool bad;
    json_t *req = body_json(m, &bad);
    if (bad) {
        paged_invalid_json(js, m, list);
        return;
    }
    /* Go decodes {subject string, offset int}: another type is invalid
     * JSON, null and "" leave the zero value, and "" filters nothing. */
    json_t *js_subject = req ? json_object_get(req, "subject") : NULL;
    json_t *js_offset = req ? json_object_get(req, "offset") : NULL;
    if ((js_subject && !json_is_string(js_subject) && !json_is_null(js_subject)) ||
        (js_offset && !json_is_integer(js_offset) && !json_is_null(js_offset))) {
        json_decref(req);
        paged_invalid_json(js, m, list);
        return;
    }
    const char *subject = json_string_value(js_subject);
    if (subject && !*subject)
        subject = NULL;
    json_int_t offset = json_integer_value(js_offset);
    if (offset < 0)
        offset = 0;
    struct js_stream **all = calloc(js->nstreams + 1, sizeof *all);
    size_t n = 0;
    for (struct js_stream *st = js->streams; all && st; st = st->next)
        if (!subject || stream_takes(st, subject))
            all[n++] = st;
    qsort(all, n, sizeof *all, cmp_names);
    if ((size_t)offset > n)
        offset = (json_int_t)n; /* echoed as nats-server clamps it */
    int limit = list ? LIST_LIMIT : NAMES_LIMIT;
    struct jtext b = { 0 };
    jtext_printf(&b, "{\"type\":\"" T_PREFIX "%s\",\"total\":%zu,\"offset\":%lld,\"limit\":%d,"
               "\"streams\":",
           type, n, (long long)offset, limit);
    size_t shown = 0;
    for (size_t i = (size_t)offset; i < n && shown < (size_t)limit; i++, shown++) {
        jtext_str(&b, shown ? "," : "[");
        if (list) {
            jtext_str(&b, "{");
            append_stream_body(&b, all[i], NULL, NULL);
            jtext_str(&b, "}");
        } else {
            jtext_quoted(&b, all[i]->cfg.name, strlen(all[i]->cfg.name));
        }
    }
    jtext_str(&b, shown ? "]}" : list ? "[]}" : "null}");
    reply_text(js, m, &b);
    free(all);
    json_decref(req);
}

static void stream_delete(struct js *js, const struct js_inmsg *m, const char *name)
{
    if (!begin(js, m, "stream_delete_response", name, NULL, false))
        return;
    struct jscmd cmd = { .op = JSCMD_STREAM_DELETE, .stream = bytes_of(name) };
    js_propose(js, &cmd, m->reply, m->reply ? m->reply_len : 0);
}

static void stream_purge(struct js *js, const struct js_inmsg *m, const char *name)
{
    const char *type = "stream_purge_response";
    json_t *req = NULL;
    if (!begin(js, m, type, name, &req, false))
        return;
    const char *filter = req ? json_string_value(json_object_get(req, "filter")) : NULL;
    json_t *jseq = req ? json_object_get(req, "seq") : NULL;
    json_t *jkeep = req ? json_object_get(req, "keep") : NULL;
    uint64_t seq = jseq ? (uint64_t)json_integer_value(jseq) : 0;
    uint64_t keep = jkeep ? (uint64_t)json_integer_value(jkeep) : 0;
    if (seq && keep) {
        json_decref(req);
        fail(js, m, type, 10003);
        return;
    }
    if (filter && (!*filter || !strcmp(filter, ">")))
        filter = NULL;
    struct jscmd cmd = {
        .op = JSCMD_STREAM_PURGE, .stream = bytes_of(name), .filter = bytes_of(filter),
        .has_seq = seq != 0, .seq = seq, .has_keep = keep != 0, .keep = keep,
    };
    js_propose(js, &cmd, m->reply, m->reply ? m->reply_len : 0);
    json_decref(req);
}

/* STREAM.PEER.REMOVE: every stream lives on every member of the one
 * group, so there is no peer to move a stream off alone: a member is
 * answered as nats-server answers when it finds no replacement (10075). */
static void peer_remove(struct js *js, const struct js_inmsg *m, const char *name)
{
    const char *type = "stream_remove_peer_response";
    if (!js->clustered) {
        fail(js, m, type, 10010);
        return;
    }
    json_t *req = NULL;
    if (!begin(js, m, type, name, &req, true))
        return;
    const char *peer = json_string_value(json_object_get(req, "peer"));
    if (!peer || !*peer)
        fail(js, m, type, 10003);
    else
        fail(js, m, type, js_cluster_has_member(js, peer) ? 10075 : 10040);
    json_decref(req);
}

/* SERVER.REMOVE: removing a member from the group is not done through the
 * API (yet): a non-member is 10044, a member 10036. */
static void server_remove(struct js *js, const struct js_inmsg *m)
{
    const char *type = "meta_server_remove_response";
    if (!js->clustered)
        return; /* a system-account request in nats-server: no answer alone */
    bool bad;
    json_t *req = body_json(m, &bad);
    const char *peer = req ? json_string_value(json_object_get(req, "peer")) : NULL;
    if (bad || !peer || !*peer)
        fail(js, m, type, bad ? 10025 : 10003);
    else
        fail(js, m, type, js_cluster_has_member(js, peer) ? 10036 : 10044);
    json_decref(req);
}

static void msg_delete(struct js *js, const struct js_inmsg *m, const char *name)
{
    json_t *req = NULL;
    if (!begin(js, m, "stream_msg_delete_response", name, &req, true))
        return;
    uint64_t seq = (uint64_t)json_integer_value(json_object_get(req, "seq"));
    json_decref(req);
    struct jscmd cmd = {
        .op = JSCMD_MSG_DELETE, .stream = bytes_of(name), .has_seq = true, .seq = seq,
    };
    js_propose(js, &cmd, m->reply, m->reply ? m->reply_len : 0);
}

/* ---- replies rendered from results (js_propose.h) ---- */

void js_api_render(struct js *js, const char *reply, size_t rlen, const struct js_result *res)
{
    const struct js_inmsg to = { .reply = reply, .reply_len = rlen };
    const char *type;
    switch (res->op) {
    case JSCMD_STREAM_CREATE: type = "stream_create_response"; break;
    case JSCMD_STREAM_UPDATE: type = "stream_update_response"; break;
    case JSCMD_STREAM_DELETE: type = "stream_delete_response"; break;
    case JSCMD_STREAM_PURGE: type = "stream_purge_response"; break;
    case JSCMD_MSG_DELETE: type = "stream_msg_delete_response"; break;
    default: return; /* no API reply (expiry) */
    }
    if (!js_result_ok(res)) {
        js_reply_error(js, &to, type, &res->err);
        return;
    }
    struct jtext b = { 0 };
    jtext_printf(&b, "{\"type\":\"" T_PREFIX "%s\",", type);
    switch (res->op) {
    case JSCMD_STREAM_CREATE:
    case JSCMD_STREAM_UPDATE: {
        struct js_stream *st = js_stream_by_id(js, res->stream_id);
        if (!st) { /* deleted by a later command of the same batch */
            jtext_free(&b);
            fail(js, &to, type, 10059);
            return;
        }
        append_stream_body(&b, st, NULL, NULL);
        jtext_str(&b, res->op == JSCMD_STREAM_CREATE ? ",\"did_create\":true}" : "}");
        break;
    }
    case JSCMD_STREAM_PURGE:
        jtext_printf(&b, "\"success\":true,\"purged\":%" PRIu64 "}", res->purged);
        break;
    default:
        jtext_str(&b, "\"success\":true}");
        break;
    }
    reply_text(js, &to, &b);
}

/* A get request's target (§7.1): by seq, last on a subject, or the next
 * on a subject from seq. 0 with *msg filled, -ENOENT, or -EINVAL (bad
 * combination). */
static int find_msg(struct js_stream *st, json_t *req, struct store_msg *msg)
{
    json_t *jseq = json_object_get(req, "seq");
    const char *last = json_string_value(json_object_get(req, "last_by_subj"));
    const char *next = json_string_value(json_object_get(req, "next_by_subj"));
    /* "" is Go's zero value: the same as absent. Either may hold
     * wildcards (the newest, or the next, matching message). */
    if (last && !*last)
        last = NULL;
    if (next && !*next)
        next = NULL;
    uint64_t seq = jseq ? (uint64_t)json_integer_value(jseq) : 0;
    if ((seq && last) || (last && next) || (!seq && !last && !next))
        return -EINVAL;
    if (last)
        return store_load_last(st->store, last, strlen(last), msg);
    if (next)
        return store_load_next(st->store, seq ? seq : 1, next, strlen(next), msg);
    return store_load(st->store, seq, msg);
}

static void msg_get(struct js *js, const struct js_inmsg *m, const char *name)
{
    const char *type = "stream_msg_get_response";
    json_t *req = NULL;
    struct js_stream *st = begin(js, m, type, name, &req, true);
    if (!st)
        return;
    struct store_msg msg = { 0 };
    int rc = find_msg(st, req, &msg);
    json_decref(req);
    if (rc == -EINVAL) {
        store_msg_free(&msg);
        fail(js, m, type, 10003);
        return;
    }
    if (rc < 0) {
        store_msg_free(&msg);
        fail(js, m, type, 10037);
        return;
    }
    char ts[48];
    js_time_format(msg.ts, ts, sizeof ts);
    struct jtext b = { 0 };
    jtext_str(&b, "{\"type\":\"" T_PREFIX "stream_msg_get_response\",\"message\":{\"subject\":");
    jtext_quoted(&b, msg.subject, msg.subject_len);
    jtext_printf(&b, ",\"seq\":%" PRIu64, msg.seq);
    if (msg.hdr_len) {
        jtext_str(&b, ",\"hdrs\":\"");
        jtext_base64(&b, msg.hdr, msg.hdr_len);
        jtext_str(&b, "\"");
    }
    if (msg.data_len) {
        jtext_str(&b, ",\"data\":\"");
        jtext_base64(&b, msg.data, msg.data_len);
        jtext_str(&b, "\"");
    }
    jtext_printf(&b, ",\"time\":\"%s\"}}", ts);
    reply_text(js, m, &b);
    store_msg_free(&msg);
}

/* The raw reply of a direct get (§7.2): stored headers plus four more. */
static void direct_reply(struct js *js, const struct js_inmsg *m, struct js_stream *st,
                         const struct store_msg *msg)
{
    struct jtext h = { 0 };
    if (msg->hdr_len > 4 && memcmp(msg->hdr + msg->hdr_len - 4, "\r\n\r\n", 4) == 0)
        jtext_add(&h, msg->hdr, msg->hdr_len - 2); /* drop the blank line */
    else
        jtext_str(&h, "NATS/1.0\r\n");
    char ts[48];
    js_time_format(msg->ts, ts, sizeof ts);
    jtext_printf(&h, "Nats-Stream: %s\r\nNats-Subject: ", st->cfg.name);
    jtext_add(&h, msg->subject, msg->subject_len);
    jtext_printf(&h, "\r\nNats-Sequence: %" PRIu64 "\r\nNats-Time-Stamp: %s\r\n\r\n", msg->seq, ts);
    if (!h.failed)
        js_send(js, m->reply, m->reply_len, NULL, 0, h.b.data, h.b.len, msg->data, msg->data_len);
    jtext_free(&h);
}

/* A mirror of stream name that answers its direct gets (mirror_direct),
 * for when the stream itself does not (gone, or no allow_direct). */
static struct js_stream *direct_mirror(struct js *js, const char *name, size_t len)
{
    for (struct js_stream *st = js->streams; st; st = st->next)
        if (st->mirror && st->cfg.mirror_direct && strlen(st->mirror->origin) == len &&
            !memcmp(st->mirror->origin, name, len))
            return st;
    return NULL;
}

static void direct_get(struct js *js, const struct js_inmsg *m, const char *rest)
{
    if (!m->reply)
        return;
    const char *dot = strchr(rest, '.');
    size_t nlen = dot ? (size_t)(dot - rest) : strlen(rest);
    struct js_stream *st = js_stream_find(js, rest, nlen);
    if (!st || !st->cfg.allow_direct)
        st = direct_mirror(js, rest, nlen);
    if (!st) {
        /* Nobody serves these direct gets: "no responders", as 2.10 answers
         * (its API catch-all no longer takes them; 2.9.10 stayed silent and
         * the requester timed out) */
        js_send_status(js, m->reply, m->reply_len, "NATS/1.0 503\r\n\r\n");
        return;
    }
    struct store_msg msg = { 0 };
    int rc;
    if (dot) {
        if (m->data_len) {
            js_send_status(js, m->reply, m->reply_len, "NATS/1.0 408 Bad Request\r\n\r\n");
            return;
        }
        rc = store_load_last(st->store, dot + 1, strlen(dot + 1), &msg);
    } else {
        bool bad;
        json_t *req = body_json(m, &bad);
        if (!req) {
            js_send_status(js, m->reply, m->reply_len,
                           bad ? "NATS/1.0 408 Malformed Request\r\n\r\n"
                               : "NATS/1.0 408 Empty Request\r\n\r\n");
            return;
        }
        rc = find_msg(st, req, &msg);
        json_decref(req);
        if (rc == -EINVAL) {
            store_msg_free(&msg);
            js_send_status(js, m->reply, m->reply_len, "NATS/1.0 408 Bad Request\r\n\r\n");
            return;
        }
    }
    if (rc < 0)
        js_send_status(js, m->reply, m->reply_len, "NATS/1.0 404 Message Not Found\r\n\r\n");
    else
        direct_reply(js, m, st, &msg);
    store_msg_free(&msg);
}

/* Longest prefix first where one is a prefix of another. */
static const char *after(const char *s, const char *prefix)
{
    size_t n = strlen(prefix);
    return strncmp(s, prefix, n) == 0 ? s + n : NULL;
}

void js_api_dispatch(struct js *js, const struct js_inmsg *m)
{
    const char *s = after(m->subject, "$JS.API.");
    const char *a;
    if (!s)
        return;
    if (!strcmp(s, "INFO"))
        account_info(js, m);
    else if ((a = after(s, "STREAM.CREATE.")) && single_token(a))
        stream_create_or_update(js, m, a, true);
    else if ((a = after(s, "STREAM.UPDATE.")) && single_token(a))
        stream_create_or_update(js, m, a, false);
    else if ((a = after(s, "STREAM.INFO.")) && single_token(a))
        stream_info(js, m, a);
    else if ((a = after(s, "STREAM.DELETE.")) && single_token(a))
        stream_delete(js, m, a);
    else if ((a = after(s, "STREAM.PURGE.")) && single_token(a))
        stream_purge(js, m, a);
    else if ((a = after(s, "STREAM.MSG.GET.")) && single_token(a))
        msg_get(js, m, a);
    else if ((a = after(s, "STREAM.MSG.DELETE.")) && single_token(a))
        msg_delete(js, m, a);
    else if (!strcmp(s, "STREAM.NAMES"))
        stream_names_or_list(js, m, false);
    else if (!strcmp(s, "STREAM.LIST"))
        stream_names_or_list(js, m, true);
    else if ((a = after(s, "DIRECT.GET.")) && *a)
        direct_get(js, m, a);
    else if ((a = after(s, "STREAM.LEADER.STEPDOWN.")) && single_token(a)) {
        if (!js->clustered) /* before the stream lookup, as 2.9 */
            fail(js, m, "stream_leader_stepdown_response", 10010);
        else if (m->data_len)
            fail(js, m, "stream_leader_stepdown_response", 10003);
        else if (begin(js, m, "stream_leader_stepdown_response", a, NULL, false))
            js_cluster_stepdown(js, m, "stream_leader_stepdown_response");
    } else if (!strcmp(s, "META.LEADER.STEPDOWN")) {
        /* A system-account request in nats-server: alone, no answer. */
        if (js->clustered)
            js_cluster_stepdown(js, m, "meta_leader_stepdown_response");
    }
    else if ((a = after(s, "STREAM.PEER.REMOVE.")) && single_token(a))
        peer_remove(js, m, a);
    else if (!strcmp(s, "SERVER.REMOVE"))
        server_remove(js, m);
}
