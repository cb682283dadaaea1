/*
 * server/js_api.c — the JetStream API requests about the account, streams
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

#include "server/js_internal.h"
#include "server/jtext.h"
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

/* ---- endpoints ---- */

static void account_info(struct js *js, const struct js_inmsg *m)
{
    struct jetstream_stats t;
    js_totals(js, &t);
    char buf[768];
    snprintf(buf, sizeof buf,
             "{\"type\":\"" T_PREFIX "account_info_response\",\"memory\":%" PRIu64
             ",\"storage\":%" PRIu64 ",\"streams\":%zu,\"consumers\":%" PRIu64
             ",\"limits\":{\"max_memory\":%lld,\"max_storage\":%lld,\"max_streams\":-1,"
             "\"max_consumers\":-1,\"max_ack_pending\":-1,\"memory_max_stream_bytes\":-1,"
             "\"storage_max_stream_bytes\":-1,\"max_bytes_required\":false},"
             "\"api\":{\"total\":%" PRIu64 ",\"errors\":%" PRIu64 "}}",
             t.memory, t.storage, js->nstreams, t.consumers, (long long)js->max_memory,
             (long long)js->max_store, js->api_total, js->api_errors);
    js_reply(js, m, buf);
}

static void stream_create_or_update(struct js *js, const struct js_inmsg *m, const char *name,
                                    bool create)
{
    const char *type = create ? "stream_create_response" : "stream_update_response";
    struct js_stream_config cfg = { 0 };
    struct js_err e = { 0 };
    if (js_stream_config_parse(m->data, m->data_len, name, create, false, 1, &cfg, &e) < 0) {
        js_stream_config_free(&cfg);
        js_reply_error(js, m, type, &e);
        return;
    }
    struct js_stream *st = NULL;
    int rc;
    if (create) {
        rc = js_apply_stream_create(js, &cfg, js_now(), &st, &e);
    } else {
        st = js_stream_find(js, name, strlen(name));
        rc = st ? js_apply_stream_update(js, st, &cfg, &e) : js_err_set(&e, 10059, NULL);
    }
    js_stream_config_free(&cfg);
    if (rc < 0) {
        js_reply_error(js, m, type, &e);
        return;
    }
    struct jtext b = { 0 };
    jtext_printf(&b, "{\"type\":\"" T_PREFIX "%s\",", type);
    append_stream_body(&b, st, NULL, NULL);
    jtext_str(&b, create ? ",\"did_create\":true}" : "}");
    reply_text(js, m, &b);
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

static bool stream_takes(const struct js_stream *st, const char *subject)
{
    for (size_t i = 0; i < st->cfg.nsubjects; i++)
        if (js_subjects_overlap(st->cfg.subjects[i], subject))
            return true;
    return false;
}

/* STREAM.NAMES and STREAM.LIST: sorted, filtered by subject, paged. */
static void stream_names_or_list(struct js *js, const struct js_inmsg *m, bool list)
{
    const char *type = list ? "stream_list_response" : "stream_names_response";
    bool bad;
    json_t *req = body_json(m, &bad);
    if (bad) {
        fail(js, m, type, 10025);
        return;
    }
    const char *subject = req ? json_string_value(json_object_get(req, "subject")) : NULL;
    json_int_t offset = req ? json_integer_value(json_object_get(req, "offset")) : 0;
    if (offset < 0)
        offset = 0;
    struct js_stream **all = calloc(js->nstreams + 1, sizeof *all);
    size_t n = 0;
    for (struct js_stream *st = js->streams; all && st; st = st->next)
        if (!subject || stream_takes(st, subject))
            all[n++] = st;
    qsort(all, n, sizeof *all, cmp_names);
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
    const char *type = "stream_delete_response";
    struct js_stream *st = begin(js, m, type, name, NULL, false);
    if (!st)
        return;
    js_apply_stream_delete(js, st);
    js_reply(js, m, "{\"type\":\"" T_PREFIX "stream_delete_response\",\"success\":true}");
}

static void stream_purge(struct js *js, const struct js_inmsg *m, const char *name)
{
    const char *type = "stream_purge_response";
    json_t *req = NULL;
    struct js_stream *st = begin(js, m, type, name, &req, false);
    if (!st)
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
    struct js_err e = { 0 };
    uint64_t purged = 0;
    if (js_apply_stream_purge(st, filter, seq, keep, &purged, &e) < 0) {
        js_reply_error(js, m, type, &e);
    } else {
        char buf[160];
        snprintf(buf, sizeof buf,
                 "{\"type\":\"" T_PREFIX "stream_purge_response\",\"success\":true,"
                 "\"purged\":%" PRIu64 "}",
                 purged);
        js_reply(js, m, buf);
    }
    json_decref(req);
}

static void msg_delete(struct js *js, const struct js_inmsg *m, const char *name)
{
    const char *type = "stream_msg_delete_response";
    json_t *req = NULL;
    struct js_stream *st = begin(js, m, type, name, &req, true);
    if (!st)
        return;
    uint64_t seq = (uint64_t)json_integer_value(json_object_get(req, "seq"));
    json_decref(req);
    struct js_err e = { 0 };
    if (js_apply_msg_delete(st, seq, &e) < 0)
        { js_reply_error(js, m, type, &e); return; }
    js_reply(js, m, "{\"type\":\"" T_PREFIX "stream_msg_delete_response\",\"success\":true}");
}

/* A get request's target (§7.1): by seq, last on a subject, or the next
 * on a subject from seq. 0 with *msg filled, -ENOENT, or -EINVAL (bad
 * combination). */
static int find_msg(struct js_stream *st, json_t *req, struct store_msg *msg)
{
    json_t *jseq = json_object_get(req, "seq");
    const char *last = json_string_value(json_object_get(req, "last_by_subj"));
    const char *next = json_string_value(json_object_get(req, "next_by_subj"));
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

static void direct_get(struct js *js, const struct js_inmsg *m, const char *rest)
{
    if (!m->reply)
        return;
    const char *dot = strchr(rest, '.');
    size_t nlen = dot ? (size_t)(dot - rest) : strlen(rest);
    struct js_stream *st = js_stream_find(js, rest, nlen);
    if (!st || !st->cfg.allow_direct)
        return; /* no reply at all, as 2.9 */
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
}
