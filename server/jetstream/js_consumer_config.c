/*
 * server/jetstream/js_consumer_config.c — JetStream consumer configurations
 * (spec/jetstream.md §8.1, §8.2): the four create forms, defaults,
 * validation with 2.9.10's codes and texts, the update rules, and the
 * config as 2.9.10 echoes it.
 *
 * The checks follow jsConsumerCreateRequest (parse_request), then
 * setConsumerConfigDefaults and checkConsumerCfg (check) in order, minus
 * what needs the stream (check_stream) or the other consumers and the
 * server (the caller: 10074 and the stream lookup, 10059, between the two
 * halves as in 2.9.10, so a config fault for a missing stream is 10059;
 * then the existing-consumer path, 10026, 10099/10100). Pure; never
 * blocks.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/subject.h"
#include "server/jetstream/js_config_impl.h"

/* "undefined" decodes as all (DeliverPolicy.UnmarshalJSON). */
static const char *const deliver_names[] = { "all", "last", "new", "by_start_sequence",
                                             "by_start_time", "last_per_subject",
                                             "undefined", NULL };
static const char *const ack_names[] = { "none", "all", "explicit", NULL };
static const char *const replay_names[] = { "instant", "original", NULL };

#define JS_DEFAULT_ACK_WAIT (30 * JS_NS_PER_S)   /* JsAckWaitDefault */
#define JS_DEFAULT_INACTIVE (5 * JS_NS_PER_S)    /* JsDeleteWaitTimeDefault */
#define JS_DEFAULT_MAX_WAITING 512               /* JSWaitQueueDefaultMax */
#define JS_DEFAULT_MAX_ACK_PENDING 1000          /* JsDefaultMaxAckPending */

static int decode_backoff(const json_t *cfg, struct js_consumer_config *c)
{
    json_t *v = jf_get(cfg, "backoff"), *e;
    size_t i;
    free(c->backoff);
    c->backoff = NULL;
    c->nbackoff = 0;
    if (!v)
        return 0; /* absent or null: nil slice */
    if (!json_is_array(v))
        return -EINVAL;
    if (json_array_size(v) == 0)
        return 0;
    if (!(c->backoff = calloc(json_array_size(v), sizeof *c->backoff)))
        return -ENOMEM;
    json_array_foreach(v, i, e) {
        if (json_is_integer(e))
            c->backoff[i] = json_integer_value(e);
        else if (!json_is_null(e)) /* null: a zero duration, as in Go */
            return -EINVAL;
    }
    c->nbackoff = json_array_size(v);
    return 0;
}

/* ConsumerConfig's fields; *direct is the internal "direct" flag, which is
 * type-checked and refused when it would matter, never stored. */
static int decode(const json_t *cfg, struct js_consumer_config *c, bool *direct)
{
    int dp = 0, ap = 0, rp = 0;
    uint64_t rate = 0;
    int rc = jf_str(cfg, "durable_name", &c->durable_name);
    if (!rc)
        rc = jf_str(cfg, "name", &c->name);
    if (!rc)
        rc = jf_str(cfg, "description", &c->description);
    if (!rc)
        rc = jf_enum(cfg, "deliver_policy", deliver_names, false, &dp);
    if (!rc)
        rc = jf_uint(cfg, "opt_start_seq", &c->opt_start_seq);
    if (!rc)
        rc = jf_time(cfg, "opt_start_time", &c->opt_start_time, &c->opt_start_time_tz,
                     &c->has_opt_start_time);
    if (!rc)
        rc = jf_enum(cfg, "ack_policy", ack_names, false, &ap);
    if (!rc)
        rc = jf_int(cfg, "ack_wait", INT64_MIN, INT64_MAX, &c->ack_wait);
    if (!rc)
        rc = jf_int(cfg, "max_deliver", INT64_MIN, INT64_MAX, &c->max_deliver);
    if (!rc)
        rc = decode_backoff(cfg, c);
    if (!rc)
        rc = jf_str(cfg, "filter_subject", &c->filter_subject);
    if (!rc)
        rc = jf_strarr(cfg, "filter_subjects", &c->filter_subjects, &c->nfilter_subjects);
    if (!rc)
        rc = jf_enum(cfg, "replay_policy", replay_names, false, &rp);
    if (!rc)
        rc = jf_uint(cfg, "rate_limit_bps", &rate);
    if (!rc)
        rc = jf_str(cfg, "sample_freq", &c->sample_freq);
    if (!rc)
        rc = jf_int(cfg, "max_waiting", INT64_MIN, INT64_MAX, &c->max_waiting);
    if (!rc)
        rc = jf_int(cfg, "max_ack_pending", INT64_MIN, INT64_MAX, &c->max_ack_pending);
    if (!rc)
        rc = jf_int(cfg, "idle_heartbeat", INT64_MIN, INT64_MAX, &c->idle_heartbeat);
    if (!rc)
        rc = jf_bool(cfg, "flow_control", &c->flow_control);
    if (!rc)
        rc = jf_bool(cfg, "headers_only", &c->headers_only);
    if (!rc)
        rc = jf_int(cfg, "max_batch", INT64_MIN, INT64_MAX, &c->max_batch);
    if (!rc)
        rc = jf_int(cfg, "max_expires", INT64_MIN, INT64_MAX, &c->max_expires);
    if (!rc)
        rc = jf_int(cfg, "max_bytes", INT64_MIN, INT64_MAX, &c->max_bytes);
    if (!rc)
        rc = jf_str(cfg, "deliver_subject", &c->deliver_subject);
    if (!rc)
        rc = jf_str(cfg, "deliver_group", &c->deliver_group);
    if (!rc)
        rc = jf_int(cfg, "inactive_threshold", INT64_MIN, INT64_MAX, &c->inactive_threshold);
    if (!rc)
        rc = jf_int(cfg, "num_replicas", INT64_MIN, INT64_MAX, &c->num_replicas);
    if (!rc)
        rc = jf_bool(cfg, "mem_storage", &c->mem_storage);
    if (!rc)
        rc = jf_bool(cfg, "direct", direct);
    if (!rc)
        rc = jf_strmap(cfg, "metadata", &c->metadata, &c->metadata_size);
    c->deliver_policy = (enum js_deliver_policy)(dp == 6 ? 0 : dp);
    c->ack_policy = (enum js_ack_policy)ap;
    c->replay_policy = (enum js_replay_policy)rp;
    c->rate_limit_bps = rate;
    return rc;
}

/* strconv.Atoi's verdict on s: NULL when it parses (*v set), else Go's
 * reason. Short strings take Go's fast path (sign and digits only). */
static const char *go_atoi(const char *s, long long *v)
{
    const char *p = s;
    bool neg = false;
    unsigned long long n = 0;
    if (*p == '-' || *p == '+')
        neg = *p++ == '-';
    if (!*p)
        return "invalid syntax";
    for (; *p; p++) {
        if (*p < '0' || *p > '9')
            return "invalid syntax";
        if (n > (ULLONG_MAX - 9) / 10)
            return "value out of range";
        n = n * 10 + (unsigned)(*p - '0');
    }
    if (n > (neg ? (unsigned long long)INT64_MAX + 1 : (unsigned long long)INT64_MAX))
        return "value out of range";
    *v = neg ? (long long)(0 - n) : (long long)n;
    return NULL;
}

static int check_sample_freq(const char *freq, struct js_err *err)
{
    char s[200], q[220];
    long long v = 0;
    size_t n = strlen(freq);
    snprintf(s, sizeof s, "%.*s", (int)(n && freq[n - 1] == '%' ? n - 1 : n), freq);
    const char *why = go_atoi(s, &v);
    if (why) {
        js_go_quote(q, sizeof q, s);
        return js_err_set(err, 10095,
                          "failed to parse consumer sampling configuration: strconv.Atoi: "
                          "parsing %s: %s", q, why);
    }
    if (v < 0) /* err is nil here: Go prints it as <nil> */
        return js_err_set(err, 10095, "failed to parse consumer sampling configuration: <nil>");
    return 0;
}

static int check_policy(const struct js_consumer_config *c, struct js_err *err)
{
    static const char *const dp[] = { "all", "last", "new", "by start sequence", "by start time",
                                      "last per subject" };
    const char *p = dp[c->deliver_policy];
#define ALSO(what) \
    js_err_set(err, 10094, "consumer delivery policy is deliver %s, but optional start %s is also set", p, what)
#define NOTSET(what) \
    js_err_set(err, 10094, "consumer delivery policy is deliver %s, but optional %s is not set", p, what)
    switch (c->deliver_policy) {
    case JS_DELIVER_ALL:
    case JS_DELIVER_LAST:
    case JS_DELIVER_NEW:
    case JS_DELIVER_LAST_PER_SUBJECT:
        if (c->opt_start_seq > 0)
            return ALSO("sequence");
        if (c->has_opt_start_time)
            return ALSO("time");
        if (c->deliver_policy == JS_DELIVER_LAST_PER_SUBJECT && !c->filter_subject &&
            !c->nfilter_subjects)
            return NOTSET("filter subject");
        return 0;
    case JS_DELIVER_BY_START_SEQ:
        if (c->opt_start_seq == 0)
            return NOTSET("start sequence");
        return c->has_opt_start_time ? ALSO("time") : 0;
    case JS_DELIVER_BY_START_TIME:
        if (!c->has_opt_start_time)
            return NOTSET("start time");
        return c->opt_start_seq ? ALSO("start sequence") : 0;
    }
#undef ALSO
#undef NOTSET
    return 0;
}

/* setConsumerConfigDefaults (no server or account limits configured). */
static void set_defaults(struct js_consumer_config *c)
{
    bool acks = c->ack_policy == JS_ACK_EXPLICIT || c->ack_policy == JS_ACK_ALL;
    if (!c->deliver_subject && c->max_waiting == 0)
        c->max_waiting = JS_DEFAULT_MAX_WAITING;
    if (c->ack_wait == 0 && acks)
        c->ack_wait = JS_DEFAULT_ACK_WAIT;
    if (c->max_deliver == 0)
        c->max_deliver = -1;
    if (c->nbackoff > 0)
        c->ack_wait = c->backoff[0];
    if (acks && c->max_ack_pending == 0)
        c->max_ack_pending = JS_DEFAULT_MAX_ACK_PENDING;
}

/* nats-server 2.10's rules for several filters: not beside filter_subject
 * (10136), none empty (10139), each a valid subject (10052), no two that
 * one subject could match (10138) — so a message is taken by at most one
 * filter, which is what lets the runtime add up per-filter counts. */
static int check_filters(const struct js_consumer_config *c, struct js_err *err)
{
    if (!c->nfilter_subjects)
        return 0;
    if (c->filter_subject && *c->filter_subject)
        return js_err_set(err, 10136, NULL);
    for (size_t i = 0; i < c->nfilter_subjects; i++)
        if (!*c->filter_subjects[i])
            return js_err_set(err, 10139, NULL);
    for (size_t i = 0; i < c->nfilter_subjects; i++) {
        const char *a = c->filter_subjects[i];
        if (!js_subj_valid(a))
            return js_err_set(err, 10052, "invalid subject");
        for (size_t j = 0; j < c->nfilter_subjects; j++) {
            const char *b = c->filter_subjects[j];
            if (i != j && subject_overlap(a, strlen(a), b, strlen(b)))
                return js_err_set(err, 10138, NULL);
        }
    }
    return 0;
}

/* checkConsumerCfg, the parts that need no stream, in its order. */
static int check_cfg(const struct js_consumer_config *c, bool direct, struct js_err *err)
{
    int rc;
    if (c->num_replicas < 0)
        return js_err_set(err, 10133, NULL);
    if (c->nbackoff > 0 && c->max_deliver <= (int64_t)c->nbackoff)
        return js_err_set(err, 10116, NULL);
    if (c->description && strlen(c->description) > JS_MAX_DESCRIPTION_LEN)
        return js_err_set(err, 10107, "consumer description is too long, maximum allowed is %d",
                          JS_MAX_DESCRIPTION_LEN);
    if (c->deliver_subject) {
        if (!js_subj_literal(c->deliver_subject))
            return js_err_set(err, 10079, NULL);
        if (!js_subj_valid(c->deliver_subject))
            return js_err_set(err, 10112, NULL);
        /* deliver subject forming a cycle (10081) needs the stream */
        if (c->max_waiting != 0)
            return js_err_set(err, 10080, NULL);
        if (c->max_ack_pending > 0 && c->ack_policy == JS_ACK_NONE)
            return js_err_set(err, 10082, NULL);
        if (c->idle_heartbeat > 0 && c->idle_heartbeat < 100 * JS_NS_PER_MS)
            return js_err_set(err, 10083, NULL);
    } else {
        /* pull + ack none on a work queue (10084) needs the stream */
        if (c->rate_limit_bps > 0)
            return js_err_set(err, 10086, NULL);
        if (c->max_waiting < 0)
            return js_err_set(err, 10087, NULL);
        if (c->idle_heartbeat > 0)
            return js_err_set(err, 10088, NULL);
        if (c->flow_control)
            return js_err_set(err, 10089, NULL);
        if (c->max_batch < 0)
            return js_err_set(err, 10114, NULL);
        if (c->max_expires != 0 && c->max_expires < JS_NS_PER_MS)
            return js_err_set(err, 10115, NULL);
    }
    if (direct && !c->deliver_subject)
        return js_err_set(err, 10090, NULL);
    if (direct && js_consumer_is_durable(c))
        return js_err_set(err, 10091, NULL);
    if ((rc = check_filters(c, err)) < 0)
        return rc;
    /* filter subject within the stream's subjects (10093) needs the stream */
    if ((rc = check_policy(c, err)) < 0)
        return rc;
    if (c->sample_freq && (rc = check_sample_freq(c->sample_freq, err)) < 0)
        return rc;
    if (c->flow_control && c->idle_heartbeat == 0)
        return js_err_set(err, 10108, NULL);
    if (c->durable_name && c->name && strcmp(c->durable_name, c->name) != 0)
        return js_err_set(err, 10132, NULL);
    if (c->metadata_size > JS_MAX_METADATA_LEN)
        return js_err_set(err, 10135, "consumer metadata exceeds maximum size of %dKB",
                          JS_MAX_METADATA_LEN / 1024);
    return 0;
}

/* The request's form rules (jsConsumerCreateRequest), in its order. */
static int check_form(struct js_consumer_config *c, enum js_consumer_form form, const char *name,
                      const char *filter, struct js_err *err)
{
    if (form != JS_CFORM_CREATE && name && strpbrk(name, "/\\"))
        return js_err_set(err, 10127, NULL);
    switch (form) {
    case JS_CFORM_DURABLE:
        if (!c->durable_name)
            return js_err_set(err, 10018, NULL);
        if (!js_streq(name, c->durable_name))
            return js_err_set(err, 10017, NULL);
        break;
    case JS_CFORM_CREATE_NAMED:
    case JS_CFORM_CREATE_FILTERED:
        if (c->durable_name && !js_streq(name, c->durable_name))
            return js_err_set(err, 10017, NULL);
        /* the subject's name wins over config.name (seen on 2.9.10) */
        free(c->name);
        if (js_strdup_opt(&c->name, name) < 0)
            return -ENOMEM;
        break;
    case JS_CFORM_CREATE:
        if (c->durable_name)
            return js_err_set(err, 10020, NULL);
        break;
    }
    if (form == JS_CFORM_CREATE_FILTERED && filter && *filter && c->nfilter_subjects)
        return js_err_set(err, 10137, NULL);
    if (form == JS_CFORM_CREATE_FILTERED && filter && *filter &&
        !js_streq(c->filter_subject, filter))
        return js_err_set(err, 10131, NULL);
    return 0;
}

int js_consumer_config_parse_request(const char *json, size_t len, const char *stream,
                                     enum js_consumer_form form, const char *name,
                                     const char *filter, struct js_consumer_config *out,
                                     bool *direct, struct js_err *err)
{
    json_t *root = js_config_load(json, len), *cfg;
    char *stream_name = NULL;
    int rc;

    memset(out, 0, sizeof *out);
    memset(err, 0, sizeof *err);
    *direct = false;
    if (!root) {
        rc = js_err_json(err);
        goto err_after_load;
    }
    cfg = jf_get(root, "config");
    if (cfg && !json_is_object(cfg)) {
        rc = js_err_json(err);
        goto err_after_load;
    }
    rc = jf_str(root, "stream_name", &stream_name);
    if (!rc && cfg)
        rc = decode(cfg, out, direct);
    if (rc < 0) {
        if (rc == -EINVAL)
            js_err_json(err);
        goto err_after_load;
    }
    if (stream && !js_streq(stream_name ? stream_name : "", stream)) {
        rc = js_err_set(err, 10056, NULL);
        goto err_after_load;
    }
    if ((rc = check_form(out, form, name, filter, err)) < 0)
        goto err_after_load;
    free(stream_name);
    json_decref(root);
    return 0;

err_after_load:
    if (rc == -ENOMEM)
        js_err_set(err, 10023, NULL);
    free(stream_name);
    json_decref(root);
    js_consumer_config_free(out);
    return rc;
}

int js_consumer_config_check(struct js_consumer_config *c, bool direct, struct js_err *err)
{
    int rc;
    set_defaults(c);
    if ((rc = check_cfg(c, direct, err)) < 0)
        return rc;
    /* Ephemerals always get a threshold (updateInactiveThreshold); a
     * durable keeps what it asked for, even a negative one. */
    if (!js_consumer_is_durable(c) && c->inactive_threshold <= 0)
        c->inactive_threshold = JS_DEFAULT_INACTIVE;
    /* checked by 2.9.10 after the stream's own rules and the
     * existing-consumer lookup */
    if (c->durable_name && strlen(c->durable_name) > JS_MAX_NAME_LEN)
        return js_err_set(err, 10102, "consumer name is too long, maximum allowed is %d",
                          JS_MAX_NAME_LEN);
    const char *cname = c->durable_name ? c->durable_name : c->name;
    if (cname && !js_name_valid(cname))
        return js_err_set(err, 10103, NULL);
    return 0;
}

int js_consumer_config_parse(const char *json, size_t len, const char *stream,
                             enum js_consumer_form form, const char *name,
                             const char *filter, struct js_consumer_config *out,
                             struct js_err *err)
{
    bool direct;
    int rc = js_consumer_config_parse_request(json, len, stream, form, name, filter, out,
                                              &direct, err);
    if (rc == 0 && (rc = js_consumer_config_check(out, direct, err)) < 0)
        js_consumer_config_free(out);
    return rc;
}

/* validFilteredSubject: can f take a subject the stream holds? */
static bool filter_in_stream(const char *f, const struct js_stream_config *s)
{
    bool ok = false, wc = !js_subj_literal(f);
    for (size_t i = 0; js_subj_valid(f) && !ok && i < s->nsubjects; i++)
        ok = js_subj_subset(f, s->subjects[i]) || (wc && js_subj_subset(s->subjects[i], f));
    return ok;
}

int js_consumer_config_check_stream(const struct js_consumer_config *c,
                                    const struct js_stream_config *s, struct js_err *err)
{
    if (c->num_replicas > 0 && c->num_replicas > s->num_replicas)
        return js_err_set(err, 10126, NULL);
    if (c->deliver_subject) {
        for (size_t i = 0; i < s->nsubjects; i++)
            if (js_subj_subset(c->deliver_subject, s->subjects[i]))
                return js_err_set(err, 10081, NULL);
    } else if (c->ack_policy == JS_ACK_NONE && s->retention == JS_RETAIN_WORKQUEUE) {
        return js_err_set(err, 10084, NULL);
    }
    /* validFilteredSubject. A mirror's or sourcing stream's subjects come
     * from streams we cannot see here, and a subject transform stores
     * subjects of its own making, so those filters are let through. */
    json_t *mirror = js_extra_member(s->extra_json, "mirror");
    json_t *sources = js_extra_member(s->extra_json, "sources");
    json_t *transform = js_extra_member(s->extra_json, "subject_transform");
    bool external = mirror || sources || transform;
    json_decref(mirror);
    json_decref(sources);
    json_decref(transform);
    if (c->filter_subject && !external && !filter_in_stream(c->filter_subject, s))
        return js_err_set(err, 10093, NULL);
    /* 2.10 dropped this check; Tern keeps it for each of several filters
     * as for one: a filter outside the stream is a mistake that would
     * deliver nothing */
    for (size_t i = 0; !external && i < c->nfilter_subjects; i++)
        if (!filter_in_stream(c->filter_subjects[i], s))
            return js_err_set(err, 10093, NULL);
    /* The single-consumer work-queue rules. 2.9.10 checks them after the
     * existing-consumer and max-consumers steps, and 10099/10100 (the
     * caller's) between these two. */
    if (s->retention == JS_RETAIN_WORKQUEUE) {
        if (c->ack_policy != JS_ACK_EXPLICIT)
            return js_err_set(err, 10098, NULL);
        if (c->deliver_policy != JS_DELIVER_ALL)
            return js_err_set(err, 10101, NULL);
    }
    return 0;
}

static bool strv_equal(char *const *a, size_t na, char *const *b, size_t nb)
{
    if (na != nb)
        return false;
    for (size_t i = 0; i < na; i++)
        if (strcmp(a[i], b[i]) != 0)
            return false;
    return true;
}

static bool backoff_equal(const struct js_consumer_config *a, const struct js_consumer_config *b)
{
    return a->nbackoff == b->nbackoff &&
           (a->nbackoff == 0 || memcmp(a->backoff, b->backoff, a->nbackoff * sizeof *a->backoff) == 0);
}

/* reflect.DeepEqual of two normalised configs. */
bool js_consumer_config_equal(const struct js_consumer_config *a,
                              const struct js_consumer_config *b)
{
    return js_streq(a->durable_name, b->durable_name) && js_streq(a->name, b->name) &&
           js_streq(a->description, b->description) && a->deliver_policy == b->deliver_policy &&
           a->opt_start_seq == b->opt_start_seq &&
           a->has_opt_start_time == b->has_opt_start_time &&
           a->opt_start_time == b->opt_start_time &&
           a->opt_start_time_tz == b->opt_start_time_tz && a->ack_policy == b->ack_policy &&
           a->ack_wait == b->ack_wait && a->max_deliver == b->max_deliver && backoff_equal(a, b) &&
           js_streq(a->filter_subject, b->filter_subject) &&
           strv_equal(a->filter_subjects, a->nfilter_subjects, b->filter_subjects,
                      b->nfilter_subjects) &&
           a->replay_policy == b->replay_policy &&
           a->rate_limit_bps == b->rate_limit_bps && js_streq(a->sample_freq, b->sample_freq) &&
           a->max_waiting == b->max_waiting && a->max_ack_pending == b->max_ack_pending &&
           a->idle_heartbeat == b->idle_heartbeat && a->flow_control == b->flow_control &&
           a->headers_only == b->headers_only && a->max_batch == b->max_batch &&
           a->max_expires == b->max_expires && a->max_bytes == b->max_bytes &&
           js_streq(a->deliver_subject, b->deliver_subject) &&
           js_streq(a->deliver_group, b->deliver_group) &&
           a->inactive_threshold == b->inactive_threshold && a->num_replicas == b->num_replicas &&
           a->mem_storage == b->mem_storage && js_streq(a->metadata, b->metadata);
}

/* checkNewConsumerConfig. Its start-time test compares Go pointers, so any
 * difference at all in a config that has an opt_start_time is refused
 * with "start time can not be updated" (seen on 2.9.10). */
int js_consumer_config_check_update(const struct js_consumer_config *old,
                                    const struct js_consumer_config *upd, bool bound,
                                    bool *changed, struct js_err *err)
{
#define NOPE(what) js_err_set(err, 10012, "%s can not be updated", what)
    *changed = false;
    if (js_consumer_config_equal(old, upd))
        return 0;
    if (old->deliver_policy != upd->deliver_policy)
        return NOPE("deliver policy");
    if (old->opt_start_seq != upd->opt_start_seq)
        return NOPE("start sequence");
    if (old->has_opt_start_time || upd->has_opt_start_time)
        return NOPE("start time");
    if (old->ack_policy != upd->ack_policy)
        return NOPE("ack policy");
    if (old->replay_policy != upd->replay_policy)
        return NOPE("replay policy");
    if (old->idle_heartbeat != upd->idle_heartbeat)
        return NOPE("heart beats");
    if (old->flow_control != upd->flow_control)
        return NOPE("flow control");
    if (old->max_waiting != upd->max_waiting)
        return NOPE("max waiting");
#undef NOPE
    if (!js_streq(old->deliver_subject, upd->deliver_subject)) {
        if (!old->deliver_subject)
            return js_err_set(err, 10012, "can not update pull consumer to push based");
        if (!upd->deliver_subject)
            return js_err_set(err, 10012, "can not update push consumer to pull based");
        /* a bound push consumer keeps its subject (someone listens on
         * it): of several clients racing to bind one, one wins */
        if (bound)
            return js_err_set(err, 10013, NULL);
    }
    if (upd->nbackoff > 0 && upd->max_deliver <= (int64_t)upd->nbackoff)
        return js_err_set(err, 10116, NULL);
    *changed = true;
    return 0;
}

bool js_consumer_is_durable(const struct js_consumer_config *c)
{
    return c->durable_name && *c->durable_name;
}

/* Go's ConsumerConfig field order; zero optional fields left out. */
char *js_consumer_config_to_json(const struct js_consumer_config *c)
{
    json_t *o = json_object(), *a;
    bool oom = !o;
    char *text = NULL, ts[64];
    if (oom)
        return NULL;
#define STR(k, v) if (v) js_put(o, k, json_string(v), &oom)
#define INT(k, v) if (v) js_put(o, k, json_integer((json_int_t)(v)), &oom)
#define BOOL(k, v) if (v) js_put(o, k, json_true(), &oom)
    STR("durable_name", c->durable_name);
    STR("name", c->name);
    STR("description", c->description);
    js_put(o, "deliver_policy", json_string(deliver_names[c->deliver_policy]), &oom);
    INT("opt_start_seq", c->opt_start_seq);
    if (c->has_opt_start_time)
        js_put(o, "opt_start_time", json_string(js_time_format_tz(c->opt_start_time, c->opt_start_time_tz, ts, sizeof ts)),
               &oom);
    js_put(o, "ack_policy", json_string(ack_names[c->ack_policy]), &oom);
    INT("ack_wait", c->ack_wait);
    INT("max_deliver", c->max_deliver);
    if (c->nbackoff) {
        js_put(o, "backoff", a = json_array(), &oom);
        for (size_t i = 0; a && i < c->nbackoff; i++)
            oom |= json_array_append_new(a, json_integer(c->backoff[i])) != 0;
    }
    STR("filter_subject", c->filter_subject);
    if (c->nfilter_subjects) {
        js_put(o, "filter_subjects", a = json_array(), &oom);
        for (size_t i = 0; a && i < c->nfilter_subjects; i++)
            oom |= json_array_append_new(a, json_string(c->filter_subjects[i])) != 0;
    }
    js_put(o, "replay_policy", json_string(replay_names[c->replay_policy]), &oom);
    INT("rate_limit_bps", c->rate_limit_bps);
    STR("sample_freq", c->sample_freq);
    INT("max_waiting", c->max_waiting);
    INT("max_ack_pending", c->max_ack_pending);
    INT("idle_heartbeat", c->idle_heartbeat);
    BOOL("flow_control", c->flow_control);
    BOOL("headers_only", c->headers_only);
    INT("max_batch", c->max_batch);
    INT("max_expires", c->max_expires);
    INT("max_bytes", c->max_bytes);
    STR("deliver_subject", c->deliver_subject);
    STR("deliver_group", c->deliver_group);
    INT("inactive_threshold", c->inactive_threshold);
    js_put(o, "num_replicas", json_integer(c->num_replicas), &oom);
    BOOL("mem_storage", c->mem_storage);
    js_put_metadata(o, c->metadata, &oom);
#undef STR
#undef INT
#undef BOOL
    if (!oom)
        text = json_dumps(o, JSON_PRESERVE_ORDER | JSON_COMPACT);
    json_decref(o);
    return text;
}

int js_consumer_config_copy(struct js_consumer_config *dst, const struct js_consumer_config *src)
{
    *dst = *src;
    dst->durable_name = dst->name = dst->description = dst->filter_subject = NULL;
    dst->sample_freq = dst->deliver_subject = dst->deliver_group = dst->metadata = NULL;
    dst->backoff = NULL;
    dst->nbackoff = 0;
    dst->filter_subjects = NULL;
    dst->nfilter_subjects = 0;
    if (js_strdup_opt(&dst->durable_name, src->durable_name) < 0 ||
        js_strdup_opt(&dst->name, src->name) < 0 ||
        js_strdup_opt(&dst->description, src->description) < 0 ||
        js_strdup_opt(&dst->filter_subject, src->filter_subject) < 0 ||
        js_strdup_opt(&dst->sample_freq, src->sample_freq) < 0 ||
        js_strdup_opt(&dst->deliver_subject, src->deliver_subject) < 0 ||
        js_strdup_opt(&dst->deliver_group, src->deliver_group) < 0 ||
        js_strdup_opt(&dst->metadata, src->metadata) < 0)
        goto err_after_copy;
    if (src->nfilter_subjects) {
        if (js_strv_copy(&dst->filter_subjects, src->filter_subjects, src->nfilter_subjects) < 0)
            goto err_after_copy;
        dst->nfilter_subjects = src->nfilter_subjects;
    }
    if (src->nbackoff) {
        if (!(dst->backoff = malloc(src->nbackoff * sizeof *dst->backoff)))
            goto err_after_copy;
        memcpy(dst->backoff, src->backoff, src->nbackoff * sizeof *dst->backoff);
        dst->nbackoff = src->nbackoff;
    }
    return 0;

err_after_copy:
    js_consumer_config_free(dst);
    return -ENOMEM;
}

void js_consumer_config_free(struct js_consumer_config *c)
{
    if (!c)
        return;
    free(c->durable_name);
    free(c->name);
    free(c->description);
    free(c->backoff);
    free(c->filter_subject);
    js_strv_free(c->filter_subjects, c->nfilter_subjects);
    free(c->sample_freq);
    free(c->deliver_subject);
    free(c->deliver_group);
    free(c->metadata);
    memset(c, 0, sizeof *c);
}
