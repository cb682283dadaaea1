/*
 * server/jetstream/js_config.c — JetStream stream configurations (spec/jetstream.md
 * §5.1) and the API error table (§3.1).
 *
 * A STREAM.CREATE/UPDATE body is decoded with Go's rules (js_config_json.c),
 * then checked in the order nats-server 2.9.10 checks it
 * (jsStreamCreateRequest, checkStreamCfg, configUpdateCheck), so a request
 * with several faults gets the same first error as from the real server.
 * Mirror, sources, placement and republish are kept as JSON (extra_json),
 * validated as far as the request alone allows and echoed back in Go's
 * normalised form; republish is acted on (js_republish.c), placement only
 * echoed, and a config with a mirror or sources is refused by the API
 * (js_api.c) until Tern performs them. What needs other streams (overlaps,
 * origin streams, source cycles through other streams) is the caller's.
 * Pure: no server state, never blocks.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/subject.h"
#include "server/jetstream/js_config_impl.h"
#include "server/jetstream/js_subtree.h"
#include "server/kmap.h"

/* ---- errors ---- */

/* Every JetStream error of 2.9.10 (server/errors.json). fixed: text is the
 * whole description; otherwise it is Go's template, and js_err_set needs a
 * format. 10005/10057/10110/10111 are templates in Go but only ever carry
 * the one text given here. */
static const struct errdef {
    int err_code;
    int http;
    bool fixed;
    const char *text;
} errs[] = {
    { 10002, 400, true, "resource limits exceeded for account" },
    { 10003, 400, true, "bad request" },
    { 10004, 503, true, "incomplete results" },
    { 10005, 400, true, "no suitable peers for placement" },
    { 10006, 500, true, "JetStream not in clustered mode" },
    { 10007, 500, true, "JetStream cluster not assigned to this server" },
    { 10008, 503, true, "JetStream system temporarily unavailable" },
    { 10009, 500, true, "JetStream cluster can not handle request" },
    { 10010, 503, true, "JetStream clustering support required" },
    { 10011, 400, true, "tags placement not supported for operation" },
    { 10012, 500, false, "{err}" },
    { 10013, 400, true, "consumer name already in use" },
    { 10014, 404, true, "consumer not found" },
    { 10015, 400, true, "deliver subject not valid" },
    { 10016, 400, true, "consumer expected to be durable but no durable name set in subject" },
    { 10017, 400, true, "consumer name in subject does not match durable name in request" },
    { 10018, 400, true, "consumer expected to be durable but a durable name was not set" },
    { 10019, 400, true, "consumer expected to be ephemeral but detected a durable name set in subject" },
    { 10020, 400, true, "consumer expected to be ephemeral but a durable name was set in request" },
    { 10021, 400, false, "stream external api prefix {prefix} must not overlap with {subject}" },
    { 10022, 400, false, "stream external delivery prefix {prefix} overlaps with stream subject {subject}" },
    { 10023, 503, true, "insufficient resources" },
    { 10024, 400, false, "stream external delivery prefix {prefix} must not contain wildcards" },
    { 10025, 400, true, "invalid JSON" },
    { 10026, 400, true, "maximum consumers limit reached" },
    { 10027, 400, true, "maximum number of streams reached" },
    { 10028, 500, true, "insufficient memory resources available" },
    { 10029, 500, false, "{err}" },
    { 10030, 400, true, "stream mirror must have max message size >= source" },
    { 10031, 400, true, "stream mirrors can not also contain other sources" },
    { 10032, 400, true, "stream mirrors can not have both start seq and start time configured" },
    { 10033, 400, true, "stream mirrors can not contain filtered subjects" },
    { 10034, 400, true, "stream mirrors can not contain subjects" },
    { 10035, 503, true, "account not found" },
    { 10036, 503, true, "not currently supported in clustered mode" },
    { 10037, 404, true, "no message found" },
    { 10038, 400, true, "expected an empty request payload" },
    { 10039, 503, true, "JetStream not enabled for account" },
    { 10040, 400, true, "peer not a member" },
    { 10041, 500, false, "{err}" },
    { 10042, 500, false, "JetStream unable to subscribe to restore snapshot {subject}: {err}" },
    { 10043, 400, false, "sequence {seq} not found" },
    { 10044, 400, true, "server is not a member of the cluster" },
    { 10045, 500, false, "{err}" },
    { 10046, 400, true, "stream source must have max message size >= target" },
    { 10047, 500, true, "insufficient storage resources available" },
    { 10048, 500, false, "{err}" },
    { 10049, 500, false, "{err}" },
    { 10050, 500, false, "{err}" },
    { 10051, 500, false, "{err}" },
    { 10052, 500, false, "{err}" },
    { 10053, 500, false, "{err}" },
    { 10054, 400, true, "message size exceeds maximum allowed" },
    { 10055, 400, true, "stream mirror configuration can not be updated" },
    { 10056, 400, true, "stream name in subject does not match request" },
    { 10057, 500, true, "message delete not permitted" },
    { 10058, 400, true, "stream name already in use with a different configuration" },
    { 10059, 404, true, "stream not found" },
    { 10060, 400, true, "expected stream does not match" },
    { 10061, 400, true, "Replicas configuration can not be updated" },
    { 10062, 500, false, "restore failed: {err}" },
    { 10063, 503, true, "expected stream sequence does not match" },
    { 10064, 500, false, "snapshot failed: {err}" },
    { 10065, 400, true, "subjects overlap with an existing stream" },
    { 10066, 500, false, "{err}" },
    { 10067, 500, false, "{err}" },
    { 10068, 404, true, "template not found" },
    { 10069, 500, false, "{err}" },
    { 10070, 400, false, "wrong last msg ID: {id}" },
    { 10071, 400, false, "wrong last sequence: {seq}" },
    { 10072, 500, true, "JetStream unable to open temp storage for restore" },
    { 10073, 400, true, "template name in subject does not match request" },
    { 10074, 500, true, "replicas > 1 not supported in non-clustered mode" },
    { 10075, 503, true, "peer remap failed" },
    { 10076, 503, true, "JetStream not enabled" },
    { 10077, 503, false, "{err}" },
    { 10078, 400, true, "consumer config required" },
    { 10079, 400, true, "consumer deliver subject has wildcards" },
    { 10080, 400, true, "consumer in push mode can not set max waiting" },
    { 10081, 400, true, "consumer deliver subject forms a cycle" },
    { 10082, 400, true, "consumer requires ack policy for max ack pending" },
    { 10083, 400, true, "consumer idle heartbeat needs to be >= 100ms" },
    { 10084, 400, true, "consumer in pull mode requires ack policy" },
    { 10085, 400, true, "consumer in pull mode requires a durable name" },
    { 10086, 400, true, "consumer in pull mode can not have rate limit set" },
    { 10087, 400, true, "consumer max waiting needs to be positive" },
    { 10088, 400, true, "consumer idle heartbeat requires a push based consumer" },
    { 10089, 400, true, "consumer flow control requires a push based consumer" },
    { 10090, 400, true, "consumer direct requires a push based consumer" },
    { 10091, 400, true, "consumer direct requires an ephemeral consumer" },
    { 10092, 400, true, "consumer direct on a mapped consumer" },
    { 10093, 400, true, "consumer filter subject is not a valid subset of the interest subjects" },
    { 10094, 400, false, "{err}" },
    { 10095, 400, false, "failed to parse consumer sampling configuration: {err}" },
    { 10096, 500, true, "stream not valid" },
    { 10097, 400, true, "header size exceeds maximum allowed of 64k" },
    { 10098, 400, true, "workqueue stream requires explicit ack" },
    { 10099, 400, true, "multiple non-filtered consumers not allowed on workqueue stream" },
    { 10100, 400, true, "filtered consumer not unique on workqueue stream" },
    { 10101, 400, true, "consumer must be deliver all on workqueue stream" },
    { 10102, 400, false, "consumer name is too long, maximum allowed is {max}" },
    { 10103, 400, true, "durable name can not contain '.', '*', '>'" },
    { 10104, 500, false, "error creating store for consumer: {err}" },
    { 10105, 400, true, "consumer already exists and is still active" },
    { 10106, 400, true, "consumer replacement durable config not the same" },
    { 10107, 400, false, "consumer description is too long, maximum allowed is {max}" },
    { 10108, 400, true, "consumer with flow control also needs heartbeats" },
    { 10109, 400, true, "invalid operation on sealed stream" },
    { 10110, 500, true, "stream purge not permitted" },
    { 10111, 500, true, "rollup not permitted" },
    { 10112, 400, true, "invalid push consumer deliver subject" },
    { 10113, 400, true, "account requires a stream config to have max bytes set" },
    { 10114, 400, true, "consumer max request batch needs to be > 0" },
    { 10115, 400, true, "consumer max request expires needs to be >= 1ms" },
    { 10116, 400, true, "max deliver is required to be > length of backoff values" },
    { 10117, 500, true, "subject details would exceed maximum allowed" },
    { 10118, 500, true, "stream is offline" },
    { 10119, 500, true, "consumer is offline" },
    { 10120, 400, true, "no JetStream default or applicable tiered limit present" },
    { 10121, 400, false, "consumer max ack pending exceeds system limit of {limit}" },
    { 10122, 400, true, "stream max bytes exceeds account limit max stream bytes" },
    { 10123, 400, true, "can not move and scale a stream in a single update" },
    { 10124, 400, false, "stream move already in progress: {msg}" },
    { 10125, 400, false, "consumer max request batch exceeds server limit of {limit}" },
    { 10126, 400, true, "consumer config replica count exceeds parent stream" },
    { 10127, 400, true, "Consumer name can not contain path separators" },
    { 10128, 400, true, "Stream name can not contain path separators" },
    { 10129, 400, true, "stream move not in progress" },
    { 10130, 400, true, "stream name already in use, cannot restore" },
    { 10131, 400, true, "Consumer create request did not match filtered subject from create subject" },
    { 10132, 400, true, "Consumer Durable and Name have to be equal if both are provided" },
    { 10133, 400, true, "replicas count cannot be negative" },
    /* nats-server 2.10's: consumer metadata, several consumer filters,
     * a mirror's first sequence */
    { 10135, 400, false, "consumer metadata exceeds maximum size of {limit}" },
    { 10136, 400, true, "consumer cannot have both FilterSubject and FilterSubjects specified" },
    { 10137, 400, true, "consumer with multiple subject filters cannot use subject based API" },
    { 10138, 400, true, "consumer subject filters cannot overlap" },
    { 10139, 400, true, "consumer filter in FilterSubjects cannot be empty" },
    { 10143, 400, true, "stream mirrors can not have first sequence configured" },
    { 10144, 400, true, "source with multiple subject transforms cannot also have a single "
                        "subject filter" },
    { 10145, 400, true, "source subject filter is invalid" },
    { 10146, 400, true, "source transform destination is invalid" },
    { 10147, 400, true, "source filters can not overlap" },
    { 10148, 400, true, "consumer already exists" },
    { 10149, 400, true, "consumer does not exist" },
    { 10150, 400, true, "mirror with multiple subject transforms cannot also have a single "
                        "subject filter" },
    { 10151, 400, true, "mirror subject filter is invalid" },
    { 10152, 400, true, "mirror subject filters can not overlap" },
    { 10153, 400, false, "consumer inactive threshold exceeds system limit of {limit}" },
};

static const struct errdef *errdef(int err_code)
{
    size_t lo = 0, hi = sizeof errs / sizeof errs[0];
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (errs[mid].err_code == err_code)
            return &errs[mid];
        if (errs[mid].err_code < err_code)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

const char *js_err_text(int err_code)
{
    const struct errdef *d = errdef(err_code);
    return d && d->fixed ? d->text : NULL;
}

int js_err_http(int err_code)
{
    const struct errdef *d = errdef(err_code);
    return d ? d->http : 500;
}

int js_err_set(struct js_err *e, int err_code, const char *fmt, ...)
{
    const struct errdef *d = errdef(err_code);
    e->code = d ? d->http : 500;
    e->err_code = err_code;
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->description, sizeof e->description, fmt, ap);
        va_end(ap);
    } else {
        snprintf(e->description, sizeof e->description, "%s", d ? d->text : "unknown error");
    }
    return -EINVAL;
}

/* 10052 with a formatted text: checkStreamCfg's NewJSStreamInvalidConfigError. */
#define BAD(...) js_err_set(err, 10052, __VA_ARGS__)

/* Go's SubjectsCollide(b, a) for b the candidate (see the pair loop). */
struct collide_find {
    const char *a;
    size_t min_j;        /* smallest colliding index so far; SIZE_MAX: none */
};

static int collides(void *arg, const char *b, void *owner)
{
    struct collide_find *f = arg;
    size_t j = (size_t)(uintptr_t)owner;
    if (j < f->min_j && strcmp(f->a, b) != 0 && subject_overlap(b, strlen(b), f->a, strlen(f->a)))
        f->min_j = j;
    return 0;
}

/* checkStreamCfg on the subjects of one stream: in order, a duplicate of
 * an earlier one, one inside $JS.API, one invalid; then, as 2.9 compares
 * every pair (for each subject a, each b in order), the first a with a
 * colliding b names both. The same answers, found through a hash set and
 * a subject tree instead of every pair: 20,000 subjects used to take
 * seconds. The pair search still costs O(n) for an a whose first token is
 * a wildcard; it stops at the first a that collides. */
static int check_own_subjects(const struct js_stream_config *c, struct js_err *err)
{
    size_t n = c->nsubjects;
    int rc = -ENOMEM;
    struct kmap seen = { 0 };
    struct kmap_key *keys = calloc(n ? n : 1, sizeof *keys);
    struct js_subtree *tree = js_subtree_new();
    struct js_subent *unused;
    if (!keys || !tree)
        goto out;
    uint64_t seed = kmap_seed(&seen);
    for (size_t i = 0; i < n; i++) {
        const char *s = c->subjects[i];
        size_t len = strlen(s);
        keys[i] = (struct kmap_key){ kmap_hash(seed, s, len), s, len };
        if (kmap_find(&seen, keys[i].hash, s, len)) {
            rc = BAD("duplicate subjects detected");
            goto out;
        }
        if (kmap_add(&seen, &keys[i]) < 0)
            goto out;
        if (js_subj_subset(s, "$JS.API.>")) {
            rc = BAD("subjects overlap with jetstream api");
            goto out;
        }
        if (!js_subj_valid(s)) {
            rc = BAD("invalid subject");
            goto out;
        }
    }
    for (size_t i = 0; n > 1 && i < n; i++)
        if (js_subtree_add(tree, keys[i].bytes, keys[i].len, (void *)(uintptr_t)i, &unused) < 0)
            goto out;
    for (size_t i = 0; n > 1 && i < n; i++) {
        struct collide_find f = { c->subjects[i], SIZE_MAX };
        if (js_subtree_each_overlap(tree, keys[i].bytes, keys[i].len, collides, &f) < 0)
            goto out;
        if (f.min_j != SIZE_MAX) {
            char qa[300], qb[300];
            js_go_quote(qa, sizeof qa, f.a);
            js_go_quote(qb, sizeof qb, c->subjects[f.min_j]);
            rc = BAD("subject %s overlaps with %s", qa, qb);
            goto out;
        }
    }
    rc = 0;
out:
    js_subtree_free(tree);
    kmap_clear(&seen);
    free(keys);
    return rc;
}

/* ---- stream config: decoding ---- */

static const char *const retention_names[] = { "limits", "interest", "workqueue", NULL };
/* DiscardPolicy is the one enum 2.9.10 matches ignoring case. */
static const char *const discard_names[] = { "old", "new", NULL };
static const char *const storage_names[] = { "file", "memory", NULL };
/* 2.10's StoreCompression: another value is a decode error (10025). */
static const char *const compression_names[] = { "none", "s2", NULL };
/* 2.9.10's decoder also takes "any", then crashes creating the store (seen
 * on the real server): decoded, checked like the rest, refused at the end. */
static const char *const storage_decode[] = { "file", "memory", "any", NULL };

static int decode(const json_t *root, struct js_stream_config *c, struct js_cfg_extra *x)
{
    int r = 0, d = 0, s = 0, z = 0;
    int rc = jf_str(root, "name", &c->name);
    if (!rc)
        rc = jf_str(root, "description", &c->description);
    if (!rc)
        rc = jf_strarr(root, "subjects", &c->subjects, &c->nsubjects);
    if (!rc)
        rc = jf_enum(root, "retention", retention_names, false, &r);
    if (!rc)
        rc = jf_int(root, "max_consumers", INT64_MIN, INT64_MAX, &c->max_consumers);
    if (!rc)
        rc = jf_int(root, "max_msgs", INT64_MIN, INT64_MAX, &c->max_msgs);
    if (!rc)
        rc = jf_int(root, "max_bytes", INT64_MIN, INT64_MAX, &c->max_bytes);
    if (!rc)
        rc = jf_int(root, "max_age", INT64_MIN, INT64_MAX, &c->max_age);
    if (!rc)
        rc = jf_int(root, "max_msgs_per_subject", INT64_MIN, INT64_MAX, &c->max_msgs_per_subject);
    if (!rc)
        rc = jf_int(root, "max_msg_size", INT32_MIN, INT32_MAX, &c->max_msg_size);
    if (!rc)
        rc = jf_enum(root, "discard", discard_names, true, &d);
    if (!rc)
        rc = jf_enum(root, "storage", storage_decode, false, &s);
    if (!rc)
        rc = jf_int(root, "num_replicas", INT64_MIN, INT64_MAX, &c->num_replicas);
    if (!rc)
        rc = jf_bool(root, "no_ack", &c->no_ack);
    if (!rc)
        rc = jf_int(root, "duplicate_window", INT64_MIN, INT64_MAX, &c->duplicate_window);
    if (!rc)
        rc = jf_bool(root, "allow_direct", &c->allow_direct);
    if (!rc)
        rc = jf_bool(root, "mirror_direct", &c->mirror_direct);
    if (!rc)
        rc = jf_bool(root, "discard_new_per_subject", &c->discard_new_per_subject);
    if (!rc)
        rc = jf_bool(root, "sealed", &c->sealed);
    if (!rc)
        rc = jf_bool(root, "deny_delete", &c->deny_delete);
    if (!rc)
        rc = jf_bool(root, "deny_purge", &c->deny_purge);
    if (!rc)
        rc = jf_bool(root, "allow_rollup_hdrs", &c->allow_rollup_hdrs);
    if (!rc)
        rc = jf_uint(root, "first_seq", &c->first_seq);
    if (!rc) /* checked only: "s2" is refused by the API (not performed) */
        rc = jf_enum(root, "compression", compression_names, false, &z);
    if (!rc)
        rc = jf_strmap(root, "metadata", &c->metadata, &x->metadata_size);
    if (!rc)
        rc = js_extra_decode(root, x);
    (void)z;
    c->retention = (enum js_retention)r;
    c->discard = (enum js_discard)d;
    x->storage_any = s == 2;
    c->storage = s == 2 ? JS_STORAGE_FILE : (enum js_storage)s;
    return rc;
}

/* ---- stream config: validation ---- */

/* checkStreamCfg: defaults, then every rule that needs no other stream. */
static int check_cfg(struct js_stream_config *c, const struct js_cfg_extra *x, struct js_err *err)
{
    size_t nsources = x->sources ? json_array_size(x->sources) : 0;
    int rc;
    if (!js_name_valid(c->name))
        return BAD("stream name is required and can not contain '.', '*', '>'");
    if (strlen(c->name) > JS_MAX_NAME_LEN)
        return BAD("stream name is too long, maximum allowed is %d", JS_MAX_NAME_LEN);
    if (c->description && strlen(c->description) > JS_MAX_DESCRIPTION_LEN)
        return BAD("stream description is too long, maximum allowed is %d",
                   JS_MAX_DESCRIPTION_LEN);
    if (x->metadata_size > JS_MAX_METADATA_LEN)
        return BAD("stream metadata exceeds maximum size of %d bytes", JS_MAX_METADATA_LEN);
    if (c->num_replicas == 0)
        c->num_replicas = 1;
    if (c->num_replicas > 5)
        return BAD("maximum replicas is %d", 5);
    if (c->num_replicas < 0)
        return js_err_set(err, 10133, NULL);
    if (c->max_msgs == 0)
        c->max_msgs = -1;
    if (c->max_msgs_per_subject == 0)
        c->max_msgs_per_subject = -1;
    if (c->max_bytes == 0)
        c->max_bytes = -1;
    if (c->max_msg_size == 0)
        c->max_msg_size = -1;
    if (c->max_consumers == 0)
        c->max_consumers = -1;
    /* §5.1: 2 min, or max_age when that is shorter; a mirror keeps 0 */
    if (c->duplicate_window == 0 && !x->mirror) {
        int64_t w = 120 * JS_NS_PER_S;
        c->duplicate_window = c->max_age != 0 && c->max_age < w ? c->max_age : w;
    }
    if (c->max_age > 0 && c->max_age < 100 * JS_NS_PER_MS)
        return BAD("max age needs to be >= 100ms");
    if (c->duplicate_window < 0)
        return BAD("duplicates window can not be negative");
    if (c->max_age != 0 && c->duplicate_window > c->max_age)
        return BAD("duplicates window can not be larger then max age");
    if (c->duplicate_window > 0 && c->duplicate_window < 100 * JS_NS_PER_MS)
        return BAD("duplicates window needs to be >= 100ms");
    if (c->deny_purge && c->allow_rollup_hdrs)
        return BAD("roll-ups require the purge permission");
    if (c->discard_new_per_subject && c->discard != JS_DISCARD_NEW)
        return BAD("discard new per subject requires discard new policy to be set");
    if (c->discard_new_per_subject && c->max_msgs_per_subject <= 0)
        return BAD("discard new per subject requires max msgs per subject > 0");
    if ((rc = js_extra_check_sources(c, x, err)) < 0)
        return rc;
    if (c->nsubjects == 0 && !x->mirror && nsources == 0) {
        if (!(c->subjects = calloc(1, sizeof *c->subjects)) || !(c->subjects[0] = strdup(c->name)))
            return -ENOMEM;
        c->nsubjects = 1;
    } else if ((rc = check_own_subjects(c, err)) < 0) {
        return rc;
    }
    if ((rc = js_extra_check_transform(x, err)) < 0)
        return rc;
    return js_extra_check_republish(c, x, err);
}

/* ---- stream config: public ---- */

/* The body as a JSON object (JSON null: an empty one, as Go's Unmarshal of
 * null into a struct is a no-op). */
json_t *js_config_load(const char *json, size_t len)
{
    json_t *root = json ? json_loadb(json, len, JSON_DECODE_ANY, NULL) : NULL;
    if (json_is_null(root)) {
        json_decref(root);
        return json_object();
    }
    if (!json_is_object(root)) {
        json_decref(root);
        return NULL;
    }
    return root;
}

int js_stream_config_parse(const char *json, size_t len, const char *subject_name,
                           bool for_create, bool clustered, int cluster_size,
                           struct js_stream_config *out, struct js_err *err)
{
    struct js_cfg_extra x = { 0 };
    json_t *root = js_config_load(json, len);
    int rc;

    memset(out, 0, sizeof *out);
    memset(err, 0, sizeof *err);
    if (!root) {
        rc = js_err_json(err);
        goto err_after_load;
    }
    if ((rc = decode(root, out, &x)) < 0) {
        if (rc == -EINVAL)
            js_err_json(err);
        goto err_after_load;
    }
    /* create: name and flags before the config rules; update: after */
    if (for_create) {
        if (subject_name && !js_streq(out->name ? out->name : "", subject_name)) {
            rc = js_err_set(err, 10056, NULL);
            goto err_after_load;
        }
        if (out->name && strpbrk(out->name, "/\\")) {
            rc = js_err_set(err, 10128, NULL);
            goto err_after_load;
        }
        if (out->sealed) {
            rc = BAD("stream configuration for create can not be sealed");
            goto err_after_load;
        }
        if (out->mirror_direct && !x.mirror) {
            rc = BAD("stream has no mirror but does have mirror direct");
            goto err_after_load;
        }
    }
    if ((rc = check_cfg(out, &x, err)) < 0)
        goto err_after_load;
    if (!for_create) {
        if (subject_name && !js_streq(out->name, subject_name)) {
            rc = js_err_set(err, 10056, NULL);
            goto err_after_load;
        }
        /* configUpdateCheck: no stream has storage "any"; templates are
         * not supported */
        if (x.storage_any) {
            rc = BAD("stream configuration update can not change storage type");
            goto err_after_load;
        }
        if (x.template_owner) {
            rc = BAD("stream configuration update can not be owned by a template");
            goto err_after_load;
        }
    } else {
        /* 2.9.10 accepts replicas > 1 on a standalone UPDATE (seen on the
         * real server); only create refuses it. */
        if (!clustered && out->num_replicas > 1) {
            rc = js_err_set(err, 10074, NULL);
            goto err_after_load;
        }
        if (clustered && cluster_size > 0 && out->num_replicas > cluster_size) {
            rc = js_err_set(err, 10005, NULL);
            goto err_after_load;
        }
        if (x.template_owner) {
            rc = js_err_set(err, 10049, "stream not owned by template");
            goto err_after_load;
        }
        if (x.storage_any) { /* where 2.9.10 crashes */
            rc = js_err_json(err);
            goto err_after_load;
        }
    }
    if ((rc = js_extra_pack(&x, &out->extra_json)) < 0)
        goto err_after_load;
    js_extra_free(&x);
    json_decref(root);
    return 0;

err_after_load:
    if (rc == -ENOMEM)
        js_err_set(err, 10023, NULL);
    js_extra_free(&x);
    json_decref(root);
    js_stream_config_free(out);
    return rc;
}

int js_stream_config_check_update(const struct js_stream_config *old,
                                  struct js_stream_config *upd, struct js_err *err)
{
    int rc = 0;
    if (!js_streq(old->name, upd->name))
        return BAD("stream configuration name must match original");
    if (upd->max_consumers != old->max_consumers)
        return BAD("stream configuration update can not change MaxConsumers");
    if (upd->storage != old->storage)
        return BAD("stream configuration update can not change storage type");
    if (upd->retention != old->retention)
        return BAD("stream configuration update can not change retention policy");
    if (!upd->sealed && old->sealed)
        return BAD("stream configuration update can not unseal a sealed stream");
    if (!upd->deny_delete && old->deny_delete)
        return BAD("stream configuration update can not cancel deny message deletes");
    if (!upd->deny_purge && old->deny_purge)
        return BAD("stream configuration update can not cancel deny purge");
    /* 2.10 takes a new first_seq and does nothing with it (it acts only
     * when a store is made); Tern says so instead */
    if (upd->first_seq != old->first_seq)
        return BAD("stream configuration update can not change first sequence");
    const char *keys[] = { "mirror", "republish" };
    for (int i = 0; i < 2 && rc == 0; i++) {
        json_t *a = js_extra_member(old->extra_json, keys[i]);
        json_t *b = js_extra_member(upd->extra_json, keys[i]);
        if ((a || b) && !json_equal(a, b))
            rc = i == 0 ? js_err_set(err, 10055, NULL)
                        : BAD("stream configuration update can not change RePublish");
        json_decref(a);
        json_decref(b);
    }
    if (rc)
        return rc;
    /* the discard-new-per-subject rules again, as configUpdateCheck has them */
    if (upd->discard_new_per_subject && upd->discard != JS_DISCARD_NEW)
        return BAD("discard new per subject requires discard new policy to be set");
    if (upd->discard_new_per_subject && upd->max_msgs_per_subject <= 0)
        return BAD("discard new per subject requires max msgs per subject > 0");
    if (upd->sealed) {
        upd->max_age = 0;
        upd->discard = JS_DISCARD_NEW;
        upd->deny_delete = upd->deny_purge = true;
        upd->allow_rollup_hdrs = false;
    }
    return 0;
}

bool js_stream_config_equal(const struct js_stream_config *a, const struct js_stream_config *b)
{
    if (!js_streq(a->name, b->name) || !js_streq(a->description, b->description) ||
        a->nsubjects != b->nsubjects || !js_streq(a->extra_json, b->extra_json) ||
        !js_streq(a->metadata, b->metadata) || a->first_seq != b->first_seq)
        return false;
    for (size_t i = 0; i < a->nsubjects; i++) /* order matters, as in DeepEqual */
        if (strcmp(a->subjects[i], b->subjects[i]) != 0)
            return false;
    return a->retention == b->retention && a->max_consumers == b->max_consumers &&
           a->max_msgs == b->max_msgs && a->max_bytes == b->max_bytes &&
           a->max_age == b->max_age && a->max_msgs_per_subject == b->max_msgs_per_subject &&
           a->max_msg_size == b->max_msg_size && a->discard == b->discard &&
           a->discard_new_per_subject == b->discard_new_per_subject &&
           a->storage == b->storage && a->num_replicas == b->num_replicas &&
           a->no_ack == b->no_ack && a->duplicate_window == b->duplicate_window &&
           a->allow_direct == b->allow_direct && a->mirror_direct == b->mirror_direct &&
           a->sealed == b->sealed && a->deny_delete == b->deny_delete &&
           a->deny_purge == b->deny_purge && a->allow_rollup_hdrs == b->allow_rollup_hdrs;
}

/* Go's StreamConfig field order; omitempty fields only when set. */
char *js_stream_config_to_json(const struct js_stream_config *c)
{
    static const char *const extras[] = { "placement", "mirror", "sources", "subject_transform",
                                          "republish" };
    json_t *o = json_object(), *x = NULL, *subs;
    bool oom = !o;
    char *text = NULL;

    if (oom)
        return NULL;
    if (c->extra_json && !(x = json_loads(c->extra_json, 0, NULL)))
        oom = true;
    js_put(o, "name", json_string(c->name ? c->name : ""), &oom);
    if (c->description)
        js_put(o, "description", json_string(c->description), &oom);
    if (c->nsubjects) {
        js_put(o, "subjects", subs = json_array(), &oom);
        for (size_t i = 0; subs && i < c->nsubjects; i++)
            oom |= json_array_append_new(subs, json_string(c->subjects[i])) != 0;
    }
    js_put(o, "retention", json_string(retention_names[c->retention]), &oom);
    js_put(o, "max_consumers", json_integer(c->max_consumers), &oom);
    js_put(o, "max_msgs", json_integer(c->max_msgs), &oom);
    js_put(o, "max_bytes", json_integer(c->max_bytes), &oom);
    js_put(o, "max_age", json_integer(c->max_age), &oom);
    js_put(o, "max_msgs_per_subject", json_integer(c->max_msgs_per_subject), &oom);
    if (c->max_msg_size)
        js_put(o, "max_msg_size", json_integer(c->max_msg_size), &oom);
    js_put(o, "discard", json_string(discard_names[c->discard]), &oom);
    js_put(o, "storage", json_string(storage_names[c->storage]), &oom);
    js_put(o, "num_replicas", json_integer(c->num_replicas), &oom);
    if (c->no_ack)
        js_put(o, "no_ack", json_true(), &oom);
    if (c->duplicate_window)
        js_put(o, "duplicate_window", json_integer(c->duplicate_window), &oom);
    for (int i = 0; i < 5; i++) {
        json_t *v = json_object_get(x, extras[i]);
        if (i == 3 && c->first_seq) /* Go's place: after sources */
            js_put(o, "first_seq", json_integer((json_int_t)c->first_seq), &oom);
        if (v)
            js_put(o, extras[i], json_incref(v), &oom);
    }
    js_put(o, "allow_direct", json_boolean(c->allow_direct), &oom);
    js_put(o, "mirror_direct", json_boolean(c->mirror_direct), &oom);
    if (c->discard_new_per_subject)
        js_put(o, "discard_new_per_subject", json_true(), &oom);
    js_put(o, "sealed", json_boolean(c->sealed), &oom);
    js_put(o, "deny_delete", json_boolean(c->deny_delete), &oom);
    js_put(o, "deny_purge", json_boolean(c->deny_purge), &oom);
    js_put(o, "allow_rollup_hdrs", json_boolean(c->allow_rollup_hdrs), &oom);
    json_t *limits = json_object_get(x, "consumer_limits"); /* 2.10, when set */
    if (limits)
        js_put(o, "consumer_limits", json_incref(limits), &oom);
    js_put_metadata(o, c->metadata, &oom);
    if (!oom)
        text = json_dumps(o, JSON_PRESERVE_ORDER | JSON_COMPACT);
    json_decref(x);
    json_decref(o);
    return text;
}

int js_stream_config_copy(struct js_stream_config *dst, const struct js_stream_config *src)
{
    *dst = *src;
    dst->name = dst->description = dst->extra_json = dst->metadata = NULL;
    dst->subjects = NULL;
    if (js_strdup_opt(&dst->name, src->name) < 0 ||
        js_strdup_opt(&dst->description, src->description) < 0 ||
        js_strdup_opt(&dst->extra_json, src->extra_json) < 0 ||
        js_strdup_opt(&dst->metadata, src->metadata) < 0 ||
        js_strv_copy(&dst->subjects, src->subjects, src->nsubjects) < 0) {
        dst->nsubjects = 0;
        js_stream_config_free(dst);
        return -ENOMEM;
    }
    return 0;
}

void js_stream_config_free(struct js_stream_config *c)
{
    if (!c)
        return;
    free(c->name);
    free(c->description);
    js_strv_free(c->subjects, c->nsubjects);
    free(c->extra_json);
    free(c->metadata);
    memset(c, 0, sizeof *c);
}
