/*
 * server/jetstream/js_consumer_api.c — the consumer API (spec/jetstream.md §8.1,
 * §8.3, §8.10): CONSUMER.CREATE in its four forms, DURABLE.CREATE, INFO,
 * DELETE, NAMES, LIST and MSG.NEXT; and the two non-API subjects a
 * consumer hears: acks ($JS.ACK.…, §8.6) and flow-control replies
 * ($JS.FC.…, §8.8).
 *
 * Each request is parsed and validated with js_config.h, applied with the
 * js_consumer_apply_* function of its command, and answered with
 * nats-server 2.9.10's JSON, field for field. A request to an unknown
 * endpoint, or MSG.NEXT for a consumer that does not exist, gets no reply
 * at all (§2). Runs only on the JetStream loop.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/subject.h"
#include "server/jetstream/js_consumer.h"
#include "server/jetstream/js_propose.h"
#include "server/jetstream/jtext.h"
#include "server/log.h"

#define T_PREFIX "io.nats.jetstream.api.v1."
#define NAMES_LIMIT 1024
#define LIST_LIMIT 256
#define MAX_TOKENS 64

char *js_consumer_info_json(struct js_consumer *c, const char *type)
{
    struct jtext b = { 0 };
    char t[48];
    char *cfg = js_consumer_config_to_json(&c->cfg);
    if (!cfg)
        return NULL;
    jtext_add(&b, "{", 1);
    if (type)
        jtext_printf(&b, "\"type\":\"" T_PREFIX "%s\",", type);
    jtext_add(&b, "\"stream_name\":", 14);
    jtext_quoted(&b, c->st->cfg.name, strlen(c->st->cfg.name));
    jtext_add(&b, ",\"name\":", 8);
    jtext_quoted(&b, c->name, c->name_len);
    jtext_printf(&b, ",\"created\":\"%s\",\"config\":", js_time_format(c->created, t, sizeof t));
    jtext_add(&b, cfg, strlen(cfg));
    free(cfg);
    jtext_printf(&b, ",\"delivered\":{\"consumer_seq\":%" PRIu64 ",\"stream_seq\":%" PRIu64, c->rt.dseq,
       c->rt.sseq ? c->rt.sseq - 1 : 0);
    if (c->rt.last_delivered)
        jtext_printf(&b, ",\"last_active\":\"%s\"", js_time_format(c->rt.last_delivered, t, sizeof t));
    jtext_printf(&b, "},\"ack_floor\":{\"consumer_seq\":%" PRIu64 ",\"stream_seq\":%" PRIu64,
       c->rt.floor_cseq, c->rt.floor_sseq);
    if (c->rt.last_acked)
        jtext_printf(&b, ",\"last_active\":\"%s\"", js_time_format(c->rt.last_acked, t, sizeof t));
    jtext_printf(&b, "},\"num_ack_pending\":%zu,\"num_redelivered\":%zu,\"num_waiting\":%zu"
           ",\"num_pending\":%" PRIu64,
       c->rt.npending, c->rt.nredelivered + c->rt.nredelivered_dropped, c->rt.nwaiting, js_consumer_num_pending(c));
    js_cluster_append_info(c->st->js, &b);
    if (c->push && js_push_check_interest(c))
        jtext_printf(&b, ",\"push_bound\":true");
    jtext_add(&b, "}", 1);
    return jtext_take(&b);
}

static void reply_info(struct js *js, const struct js_inmsg *m, struct js_consumer *c,
                       const char *type)
{
    char *json = js_consumer_info_json(c, type);
    if (json) {
        js_reply(js, m, json);
        free(json);
    }
}

/* ---- create ---- */

/* Go's time.Duration.String() of whole nanoseconds, as 2.10's limit texts
 * write it ("5s", "1m30s", "1.5s", "250ms"). */
static void go_duration(int64_t ns, char *out, size_t cap)
{
    if (ns < 1000000000) {
        if (ns % 1000000 == 0)
            snprintf(out, cap, "%" PRId64 "ms", ns / 1000000);
        else
            snprintf(out, cap, "%" PRId64 "ns", ns);
        return;
    }
    int64_t h = ns / 3600000000000LL, m = ns / 60000000000LL % 60;
    int64_t s = ns / 1000000000 % 60, frac = ns % 1000000000;
    size_t n = 0;
    if (h)
        n += (size_t)snprintf(out + n, cap - n, "%" PRId64 "h", h);
    if (h || m)
        n += (size_t)snprintf(out + n, cap - n, "%" PRId64 "m", m);
    n += (size_t)snprintf(out + n, cap - n, "%" PRId64, s);
    if (frac) {
        char f[16];
        snprintf(f, sizeof f, "%09" PRId64, frac);
        for (size_t k = strlen(f); k > 0 && f[k - 1] == '0'; k--)
            f[k - 1] = '\0';
        n += (size_t)snprintf(out + n, cap - n, ".%s", f);
    }
    snprintf(out + n, cap - n, "s");
}

/* What a create request says beyond its config, read once: 2.10's
 * "action" ("" create or update, "create", "update"; anything else does
 * not decode, 10025 as Go's decoder makes it), and whether the config
 * names max_ack_pending and inactive_threshold itself (a default the
 * parser put in is not the client's). */
struct create_request {
    uint8_t action;
    bool sets_max_ack_pending;
    bool sets_inactive_threshold;
};

static int read_create_request(const struct js_inmsg *m, struct create_request *q,
                               struct js_err *e)
{
    json_t *o = json_loadb(m->data, m->data_len, 0, NULL);
    const json_t *a = json_object_get(o, "action");
    const json_t *cfg = json_object_get(o, "config");
    const char *s = json_string_value(a);
    int rc = 0;
    q->action = JSCMD_ACTION_CREATE_OR_UPDATE;
    if (s && !strcmp(s, "create"))
        q->action = JSCMD_ACTION_CREATE;
    else if (s && !strcmp(s, "update"))
        q->action = JSCMD_ACTION_UPDATE;
    else if (a && !json_is_null(a) && (!s || *s))
        rc = js_err_set(e, 10025, NULL);
    q->sets_max_ack_pending = json_integer_value(json_object_get(cfg, "max_ack_pending")) != 0;
    q->sets_inactive_threshold =
        json_integer_value(json_object_get(cfg, "inactive_threshold")) != 0;
    json_decref(o);
    return rc;
}

/* The account's max_ack_pending, then 2.10's consumer_limits of the
 * stream: the defaults of a consumer that sets neither, and the most one
 * may set (10121, 10153), in nats-server's order. */
static int apply_consumer_limits(const struct js_stream *st, const struct create_request *q,
                                 struct js_consumer_config *cfg, struct js_err *e)
{
    int64_t inactive, max_ack, acc = st->js->acc.max_ack_pending;
    if (acc > 0) {
        if (!q->sets_max_ack_pending && cfg->max_ack_pending > acc)
            cfg->max_ack_pending = acc;
        else if (cfg->max_ack_pending > acc)
            return js_err_set(e, 10121, "consumer max ack pending exceeds system limit of "
                              "%" PRId64, acc);
    }
    js_stream_config_consumer_limits(&st->cfg, &inactive, &max_ack);
    if (max_ack > 0) {
        if (!q->sets_max_ack_pending)
            cfg->max_ack_pending = cfg->ack_policy == JS_ACK_NONE ? 0 : max_ack;
        else if (cfg->max_ack_pending > max_ack)
            return js_err_set(e, 10121, "consumer max ack pending exceeds system limit of "
                              "%" PRId64, max_ack);
    }
    if (inactive > 0) {
        if (!q->sets_inactive_threshold) {
            cfg->inactive_threshold = inactive;
        } else if (cfg->inactive_threshold > inactive) {
            char d[48];
            go_duration(inactive, d, sizeof d);
            return js_err_set(e, 10153, "consumer inactive threshold exceeds system limit of %s",
                              d);
        }
    }
    return 0;
}

static char *dup_slice(const struct proto_slice *s)
{
    return strndup(s->ptr, s->len);
}

static void api_create(struct js *js, const struct js_inmsg *m, const struct proto_slice *tok,
                       size_t ntok, bool durable_form)
{
    static const char type[] = "consumer_create_response";
    struct js_consumer_config cfg = { 0 };
    struct js_err e = { 0 };
    enum js_consumer_form form;
    char *stream = NULL, *name = NULL, *filter = NULL;
    if (durable_form) {
        if (ntok != 7)
            return;
        form = JS_CFORM_DURABLE;
        stream = dup_slice(&tok[5]);
        name = dup_slice(&tok[6]);
    } else {
        /* 2.9.10 reads a filter from the subject only when it has two
         * tokens or more (more than 7 in all): one token after the name
         * is ignored, and the config's filter_subject stands. */
        form = ntok == 5 ? JS_CFORM_CREATE : ntok <= 7 ? JS_CFORM_CREATE_NAMED
                                                       : JS_CFORM_CREATE_FILTERED;
        stream = dup_slice(&tok[4]);
        if (ntok >= 6)
            name = dup_slice(&tok[5]);
        if (ntok >= 8) /* the filter is every token after the name */
            filter = strndup(tok[6].ptr, m->subject_len - (size_t)(tok[6].ptr - m->subject));
    }
    if (!stream || (ntok >= 6 && !name) || (ntok >= 8 && !durable_form && !filter))
        goto out;
    bool direct;
    if (js_consumer_config_parse_request(m->data, m->data_len, stream, form, name, filter, &cfg,
                                         &direct, &e) < 0)
        goto err;
    /* Replicas are judged before the stream is looked up (§8.1); one node
     * runs every consumer as R1 (clustered, every consumer is on every
     * member). */
    if (cfg.num_replicas > 1 && !js->clustered) {
        js_err_set(&e, 10074, NULL);
        goto err;
    }
    /* The stream before the config rules, as 2.9.10: a faulty config for
     * a stream that is not there is 10059. */
    struct js_stream *st = js_stream_find(js, stream, strlen(stream));
    if (!st) {
        js_err_set(&e, 10059, NULL);
        goto err;
    }
    struct create_request q;
    if (js_consumer_config_check(&cfg, direct, &e) < 0 || read_create_request(m, &q, &e) < 0 ||
        apply_consumer_limits(st, &q, &cfg, &e) < 0)
        goto err;
    /* The remaining admission (existing consumer, 10026, the work-queue
     * rules) is apply's, against the state where the command lands. */
    char gen[9];
    const char *cname = name ? name : cfg.name;
    if (!cname || !*cname) {
        do
            js_random_name(js, gen);
        while (js_consumer_find(st, gen, strlen(gen)));
        cname = gen;
    }
    char *json = js_consumer_config_to_json(&cfg);
    if (!json) {
        js_err_set(&e, 10023, NULL);
        goto err;
    }
    /* Whether the consumer is bound is runtime (interest), so it is
     * looked at here and carried in the command; apply decides, in log
     * order, whether this create may move the deliver subject. */
    struct js_consumer *old = js_consumer_find(st, cname, strlen(cname));
    const char *ods = old && old->cfg.deliver_subject ? old->cfg.deliver_subject : "";
    struct jscmd cmd = {
        .op = JSCMD_CONSUMER_CREATE,
        .stream = { st->cfg.name, strlen(st->cfg.name) },
        .consumer = { cname, strlen(cname) },
        .config = { json, strlen(json) },
        .created_ns = (uint64_t)js_clock(js),
        .deliver_seen = { ods, strlen(ods) },
        .deliver_bound = *ods && js_has_interest(js, ods, strlen(ods)),
        .acct_consumers = js->acc.max_consumers > 0 ? (uint64_t)js->acc.max_consumers : 0,
        .action = q.action,
    };
    js_propose(js, &cmd, m->reply, m->reply ? m->reply_len : 0);
    free(json);
    goto out;
err:
    js_reply_error(js, m, type, &e);
out:
    js_consumer_config_free(&cfg);
    free(stream);
    free(name);
    free(filter);
}

/* ---- info, delete, names, list ---- */

static struct js_consumer *lookup(struct js *js, const struct js_inmsg *m,
                                  const struct proto_slice *tok, const char *type)
{
    struct js_err e = { 0 };
    struct js_stream *st = js_stream_find(js, tok[4].ptr, tok[4].len);
    struct js_consumer *c = st ? js_consumer_find(st, tok[5].ptr, tok[5].len) : NULL;
    if (!st)
        js_err_set(&e, 10059, NULL);
    else if (!c)
        js_err_set(&e, 10014, NULL);
    if (!c)
        js_reply_error(js, m, type, &e);
    return c;
}

static void api_info(struct js *js, const struct js_inmsg *m, const struct proto_slice *tok)
{
    static const char type[] = "consumer_info_response";
    struct js_consumer *c = lookup(js, m, tok, type);
    if (!c)
        return;
    js_consumer_flush(c, NULL, 0); /* what we report is what a restart would find */
    reply_info(js, m, c, type);
}

static void api_delete(struct js *js, const struct js_inmsg *m, const struct proto_slice *tok)
{
    static const char type[] = "consumer_delete_response";
    struct js_consumer *c = lookup(js, m, tok, type);
    if (!c)
        return;
    struct jscmd cmd = {
        .op = JSCMD_CONSUMER_DELETE,
        .stream = { c->st->cfg.name, strlen(c->st->cfg.name) },
        .consumer = { c->name, c->name_len },
    };
    js_propose(js, &cmd, m->reply, m->reply ? m->reply_len : 0);
}

static int cmp_name(const void *a, const void *b)
{
    const struct js_consumer *x = *(struct js_consumer *const *)a;
    const struct js_consumer *y = *(struct js_consumer *const *)b;
    return strcmp(x->name, y->name);
}

static void api_names_list(struct js *js, const struct js_inmsg *m, const struct proto_slice *tok,
                           bool list)
{
    const char *type = list ? "consumer_list_response" : "consumer_names_response";
    struct js_err e = { 0 };
    json_int_t offset = 0;
    size_t blen = m->data_len;
    const char *body = m->data;
    while (blen && isspace((unsigned char)*body)) {
        body++;
        blen--;
    }
    if (blen) {
        json_t *j = json_loadb(body, blen, 0, NULL);
        if (!j || !json_is_object(j)) {
            json_decref(j);
            js_err_set(&e, 10025, NULL);
            js_reply_error(js, m, type, &e);
            return;
        }
        offset = json_integer_value(json_object_get(j, "offset"));
        json_decref(j);
    }
    struct js_stream *st = js_stream_find(js, tok[4].ptr, tok[4].len);
    if (!st) {
        /* 2.9.10 adds empty paging fields to this error (§3). */
        js->api_errors++;
        char buf[256];
        snprintf(buf, sizeof buf,
                 "{\"type\":\"" T_PREFIX "%s\",\"error\":{\"code\":404,\"err_code\":10059,"
                 "\"description\":\"stream not found\"},\"total\":0,\"offset\":0,\"limit\":0,"
                 "\"consumers\":[]}",
                 type);
        js_reply(js, m, buf);
        return;
    }
    size_t n = st->nconsumers, limit = list ? LIST_LIMIT : NAMES_LIMIT;
    struct js_consumer **all = malloc((n ? n : 1) * sizeof *all);
    if (!all)
        return;
    size_t k = 0;
    for (struct js_consumer *c = st->consumers; c && k < n; c = c->next)
        all[k++] = c;
    qsort(all, k, sizeof *all, cmp_name);
    size_t from = offset > 0 ? (size_t)offset : 0;
    struct jtext b = { 0 };
    jtext_printf(&b, "{\"type\":\"" T_PREFIX "%s\",\"total\":%zu,\"offset\":%zu,\"limit\":%zu,\"consumers\":[",
       type, k, from, limit);
    for (size_t i = from, shown = 0; i < k && shown < limit; i++, shown++) {
        if (shown)
            jtext_add(&b, ",", 1);
        if (!list) {
            jtext_quoted(&b, all[i]->name, all[i]->name_len);
            continue;
        }
        char *item = js_consumer_info_json(all[i], NULL);
        if (item) {
            jtext_add(&b, item, strlen(item));
            free(item);
        }
    }
    jtext_add(&b, "]}", 2);
    free(all);
    char *json = jtext_take(&b);
    if (json) {
        js_reply(js, m, json);
        free(json);
    }
}

void js_consumer_api(struct js *js, const struct js_inmsg *m)
{
    struct proto_slice tok[MAX_TOKENS];
    size_t n = subject_tokenize(m->subject, m->subject_len, tok, MAX_TOKENS);
    if (n < 5 || n > MAX_TOKENS)
        return;
#define IS(i, s) (tok[i].len == sizeof(s) - 1 && memcmp(tok[i].ptr, s, sizeof(s) - 1) == 0)
    if (IS(3, "CREATE")) {
        api_create(js, m, tok, n, false);
    } else if (IS(3, "DURABLE") && IS(4, "CREATE")) {
        api_create(js, m, tok, n, true);
    } else if (IS(3, "INFO") && n == 6) {
        api_info(js, m, tok);
    } else if (IS(3, "DELETE") && n == 6) {
        api_delete(js, m, tok);
    } else if (IS(3, "NAMES") && n == 5) {
        api_names_list(js, m, tok, false);
    } else if (IS(3, "LIST") && n == 5) {
        api_names_list(js, m, tok, true);
    } else if (IS(3, "LEADER") && IS(4, "STEPDOWN") && n == 7) {
        static const char type[] = "consumer_leader_stepdown_response";
        struct js_err e = { 0 };
        struct js_stream *st = js_stream_find(js, tok[5].ptr, tok[5].len);
        if (!js->clustered) {
            js_err_set(&e, 10010, NULL); /* before the lookups, as 2.9 */
            js_reply_error(js, m, type, &e);
        } else if (!st || !js_consumer_find(st, tok[6].ptr, tok[6].len)) {
            js_err_set(&e, st ? 10014 : 10059, NULL);
            js_reply_error(js, m, type, &e);
        } else {
            js_cluster_stepdown(js, m, type);
        }
    } else if (IS(3, "MSG") && IS(4, "NEXT") && n == 7) {
        struct js_stream *st = js_stream_find(js, tok[5].ptr, tok[5].len);
        struct js_consumer *c = st ? js_consumer_find(st, tok[6].ptr, tok[6].len) : NULL;
        if (c) /* an unknown consumer gets no reply at all (§8.7) */
            js_pull_request(c, m->reply, m->reply_len, m->data, m->data_len);
    }
#undef IS
}

/* ---- acks ---- */

static bool parse_u64(const struct proto_slice *t, uint64_t *out)
{
    uint64_t v = 0;
    if (!t->len || t->len > 20)
        return false;
    for (size_t i = 0; i < t->len; i++) {
        if (t->ptr[i] < '0' || t->ptr[i] > '9')
            return false;
        v = v * 10 + (uint64_t)(t->ptr[i] - '0');
    }
    *out = v;
    return true;
}

/* Go's time.ParseDuration ("1.5s", "100ms", "1m30s"). 0 or -EINVAL. */
static int go_parse_duration(const char *s, size_t len, int64_t *out)
{
    static const struct { const char *u; double ns; } units[] = {
        { "ns", 1 }, { "us", 1e3 }, { "µs", 1e3 }, { "μs", 1e3 }, { "ms", 1e6 },
        { "s", 1e9 }, { "m", 60e9 }, { "h", 3600e9 },
    };
    char buf[64];
    if (!len || len >= sizeof buf)
        return -EINVAL;
    memcpy(buf, s, len);
    buf[len] = '\0';
    if (strcmp(buf, "0") == 0) {
        *out = 0;
        return 0;
    }
    double total = 0;
    const char *p = buf;
    while (*p) {
        char *end;
        double v = strtod(p, &end);
        if (end == p || *end == '\0')
            return -EINVAL;
        p = end;
        size_t best = 0, bi = 0;
        for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
            size_t ul = strlen(units[i].u);
            if (ul > best && strncmp(p, units[i].u, ul) == 0) {
                best = ul;
                bi = i;
            }
        }
        if (!best)
            return -EINVAL;
        total += v * units[bi].ns;
        p += best;
    }
    *out = (int64_t)total;
    return 0;
}

/* "-NAK", "-NAK {"delay": ns}" or "-NAK <Go duration>": the delay, 0 for
 * "now" (an unreadable delay is a plain NAK, as nats-server does). */
static int64_t nak_delay(const char *p, size_t len)
{
    while (len && isspace((unsigned char)*p)) {
        p++;
        len--;
    }
    while (len && isspace((unsigned char)p[len - 1]))
        len--;
    if (!len)
        return 0;
    int64_t d = 0;
    if (*p == '{') {
        json_t *j = json_loadb(p, len, 0, NULL);
        json_t *v = j ? json_object_get(j, "delay") : NULL;
        d = json_is_integer(v) ? json_integer_value(v) : 0;
        json_decref(j);
        return d;
    }
    return go_parse_duration(p, len, &d) == 0 ? d : 0;
}

static bool starts(const char *p, size_t len, const char *word)
{
    size_t wl = strlen(word);
    return len >= wl && memcmp(p, word, wl) == 0;
}

/* The consumer an ack or FC subject names: $JS.ACK.<s>.<c>.… (9 tokens;
 * the 12-token form puts domain and account hash first). */
static struct js_consumer *addressed(struct js *js, const struct proto_slice *stream,
                                     const struct proto_slice *consumer)
{
    struct js_stream *st = js_stream_find(js, stream->ptr, stream->len);
    return st ? js_consumer_find(st, consumer->ptr, consumer->len) : NULL;
}

void js_consumer_ack(struct js *js, const struct js_inmsg *m)
{
    struct proto_slice tok[16];
    size_t n = subject_tokenize(m->subject, m->subject_len, tok, 16);
    size_t b = n == 9 ? 2 : n == 12 ? 4 : 0;
    if (!b)
        return;
    uint64_t sseq, cseq;
    if (!parse_u64(&tok[b + 3], &sseq) || !parse_u64(&tok[b + 4], &cseq))
        return;
    struct js_consumer *c = addressed(js, &tok[b], &tok[b + 1]);
    if (!c)
        return;
    const char *p = m->data;
    size_t len = m->data_len;
    if (!len || (len == 4 && memcmp(p, "+ACK", 4) == 0) || (len == 3 && memcmp(p, "+OK", 3) == 0)) {
        /* An ack of a copy a former leader sent, which the group never
         * recorded as delivered: not confirmed, so no client is told an
         * ack took that this node did not take. */
        if (!js_consumer_on_ack(c, sseq, cseq))
            return;
    } else if (starts(p, len, "+NXT")) {
        /* Ack, then the ack's reply is a pull request (no ack-ack). */
        js_consumer_on_ack(c, sseq, cseq);
        js_pull_request(c, m->reply, m->reply_len, p + 4, len - 4);
        return;
    } else if (starts(p, len, "-NAK")) {
        js_consumer_on_nak(c, sseq, nak_delay(p + 4, len - 4));
    } else if (len == 4 && memcmp(p, "+WPI", 4) == 0) {
        js_consumer_on_progress(c, sseq);
    } else if (starts(p, len, "+TERM")) {
        js_consumer_on_term(c, sseq);
    }
    if (m->reply && m->reply_len) /* ack_sync: answered once the ack is stored */
        js_consumer_flush(c, m->reply, m->reply_len);
}

void js_consumer_fc(struct js *js, const struct js_inmsg *m)
{
    struct proto_slice tok[8];
    if (subject_tokenize(m->subject, m->subject_len, tok, 8) != 5)
        return;
    struct js_consumer *c = addressed(js, &tok[2], &tok[3]);
    if (c && c->push)
        js_push_fc_reply(c, m->subject, m->subject_len);
}

/* ---- replies rendered from results (js_propose.h) ---- */

void js_consumer_api_render(struct js *js, const char *reply, size_t rlen,
                            const struct js_result *res, const char *consumer)
{
    const struct js_inmsg to = { .reply = reply, .reply_len = rlen };
    switch (res->op) {
    case JSCMD_CONSUMER_CREATE:
    case JSCMD_CONSUMER_UPDATE: {
        static const char type[] = "consumer_create_response";
        if (!js_result_ok(res)) {
            js_reply_error(js, &to, type, &res->err);
            return;
        }
        struct js_stream *st = js_stream_by_id(js, res->stream_id);
        struct js_consumer *c = st && consumer ? js_consumer_find(st, consumer, strlen(consumer))
                                               : NULL;
        if (!c) { /* deleted by a later command of the same batch */
            struct js_err e;
            js_err_set(&e, 10014, NULL);
            js_reply_error(js, &to, type, &e);
            return;
        }
        reply_info(js, &to, c, type);
        return;
    }
    case JSCMD_CONSUMER_DELETE:
        if (!js_result_ok(res))
            js_reply_error(js, &to, "consumer_delete_response", &res->err);
        else
            js_reply(js, &to, "{\"type\":\"" T_PREFIX "consumer_delete_response\",\"success\":true}");
        return;
    case JSCMD_CONSUMER_ACKS:
        /* An ack-ack: an empty message, only once the ack is stored (a
         * client that gets none times out, as on any lost reply). */
        if (js_result_ok(res))
            js_send(js, reply, rlen, NULL, 0, NULL, 0, NULL, 0);
        return;
    default:
        return;
    }
}
