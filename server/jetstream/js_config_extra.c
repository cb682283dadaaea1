/*
 * server/jetstream/js_config_extra.c — the parts of a StreamConfig kept as
 * JSON: placement (accepted and echoed: spec/jetstream.md §5.1 "echo back
 * if accepted"), mirror and sources (checked here as nats-server checks
 * them, so its error codes come first; mirrors and sources of streams of
 * this server are performed (js_mirror.c, js_source.c), external ones are
 * refused by the API: js_api.c), subject_transform and republish, which
 * the engine acts on (js_publish.c, js_republish.c). Also the look at a
 * raw stream request for the 2.10 fields the API refuses
 * (js_stream_config_unsupported_field), which reads fields the decoder
 * ignores.
 *
 * Each is decoded with Go's rules, re-encoded the way Go re-encodes it
 * (known fields only, in struct order, omitempty honoured, republish src
 * defaulted to ">"), and checked as far as the request alone allows: the
 * mirror/sources exclusions, external prefixes, a stream sourcing itself,
 * 2.10's subject_transforms of a mirror or a source (js_origin.c applies
 * them), republish source/destination (the mapping itself is proto/submap.h's,
 * which js_republish.c applies). Origin streams are the caller's. Pure.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "proto/subject.h"
#include "proto/submap.h"
#include "server/jetstream/js_config_impl.h"

#define BAD(...) js_err_set(err, 10052, __VA_ARGS__)

void js_extra_free(struct js_cfg_extra *x)
{
    free(x->template_owner);
    json_decref(x->placement);
    json_decref(x->mirror);
    json_decref(x->sources);
    json_decref(x->republish);
    json_decref(x->transform);
    json_decref(x->consumer_limits);
}

static int norm_placement(const json_t *in, json_t **out)
{
    char *cluster = NULL, **tags = NULL;
    size_t ntags = 0;
    bool oom = false;
    int rc = json_is_object(in) ? 0 : -EINVAL;
    if (!rc)
        rc = jf_str(in, "cluster", &cluster);
    if (!rc)
        rc = jf_strarr(in, "tags", &tags, &ntags);
    json_t *o = rc ? NULL : json_object();
    if (!rc && !o)
        rc = -ENOMEM;
    if (!rc) {
        if (cluster)
            js_put(o, "cluster", json_string(cluster), &oom);
        if (ntags) {
            json_t *a = json_array();
            for (size_t i = 0; a && i < ntags; i++)
                oom |= json_array_append_new(a, json_string(tags[i])) != 0;
            js_put(o, "tags", a, &oom);
        }
        rc = oom ? -ENOMEM : 0;
    }
    free(cluster);
    js_strv_free(tags, ntags);
    if (rc)
        json_decref(o);
    else
        *out = o;
    return rc;
}

/* 2.10's subject_transforms of an origin: [{src, dest}], each echoed with
 * both (an empty one stays empty); NULL when absent, null or empty. */
static int norm_transforms(const json_t *in, json_t **out)
{
    *out = NULL;
    if (!in || json_is_null(in))
        return 0;
    if (!json_is_array(in))
        return -EINVAL;
    if (!json_array_size(in))
        return 0;
    json_t *a = json_array();
    int rc = a ? 0 : -ENOMEM;
    for (size_t i = 0; !rc && i < json_array_size(in); i++) {
        const json_t *t = json_array_get(in, i);
        char *src = NULL, *dest = NULL;
        rc = json_is_object(t) ? 0 : -EINVAL;
        if (!rc)
            rc = jf_str(t, "src", &src);
        if (!rc)
            rc = jf_str(t, "dest", &dest);
        if (!rc && json_array_append_new(a, json_pack("{s:s,s:s}", "src", src ? src : "",
                                                      "dest", dest ? dest : "")) != 0)
            rc = -ENOMEM;
        free(src);
        free(dest);
    }
    if (rc)
        json_decref(a);
    else
        *out = a;
    return rc;
}

/* A StreamSource (mirror or one of sources) as Go re-encodes it. */
static int norm_source(const json_t *in, json_t **out)
{
    char *name = NULL, *filter = NULL, *api = NULL, *deliver = NULL;
    uint64_t seq = 0;
    char ts[80] = "";
    bool oom = false;
    json_t *ext = NULL, *o = NULL;
    int rc = json_is_object(in) ? 0 : -EINVAL;
    if (!rc)
        rc = jf_str(in, "name", &name);
    if (!rc)
        rc = jf_uint(in, "opt_start_seq", &seq);
    json_t *tv = rc ? NULL : jf_get(in, "opt_start_time"); /* null: nil pointer */
    if (tv && (!json_is_string(tv) || js_time_normalise(json_string_value(tv), ts, sizeof ts) < 0))
        rc = -EINVAL;
    if (!rc)
        rc = jf_str(in, "filter_subject", &filter);
    json_t *trs = NULL;
    if (!rc)
        rc = norm_transforms(jf_get(in, "subject_transforms"), &trs);
    if (!rc && (ext = jf_get(in, "external")) && !json_is_object(ext))
        rc = -EINVAL;
    if (!rc && ext)
        rc = jf_str(ext, "api", &api);
    if (!rc && ext)
        rc = jf_str(ext, "deliver", &deliver);
    if (!rc && !(o = json_object()))
        rc = -ENOMEM;
    if (!rc) {
        js_put(o, "name", json_string(name ? name : ""), &oom);
        if (seq)
            js_put(o, "opt_start_seq", json_integer((json_int_t)seq), &oom);
        if (*ts)
            js_put(o, "opt_start_time", json_string(ts), &oom);
        if (filter)
            js_put(o, "filter_subject", json_string(filter), &oom);
        if (trs)
            js_put(o, "subject_transforms", json_incref(trs), &oom);
        if (ext)
            js_put(o, "external",
                json_pack("{s:s,s:s}", "api", api ? api : "", "deliver", deliver ? deliver : ""),
                &oom);
        rc = oom ? -ENOMEM : 0;
    }
    free(name);
    free(filter);
    free(api);
    free(deliver);
    json_decref(trs);
    if (rc)
        json_decref(o);
    else
        *out = o;
    return rc;
}

/* A {src, dest} object as Go re-encodes it: a RePublish (with
 * headers_only: omitempty) or a SubjectTransformConfig (without). Both
 * echo src and dest always; an empty src is ">" (checkStreamCfg stores it
 * so for republish, and it means every subject for a transform). */
static int norm_src_dest(const json_t *in, bool with_headers_only, json_t **out)
{
    char *src = NULL, *dest = NULL;
    bool hdrs = false, oom = false;
    json_t *o = NULL;
    int rc = json_is_object(in) ? 0 : -EINVAL;
    if (!rc)
        rc = jf_str(in, "src", &src);
    if (!rc)
        rc = jf_str(in, "dest", &dest);
    if (!rc && with_headers_only)
        rc = jf_bool(in, "headers_only", &hdrs);
    if (!rc && !(o = json_object()))
        rc = -ENOMEM;
    if (!rc) {
        js_put(o, "src", json_string(src ? src : ">"), &oom);
        js_put(o, "dest", json_string(dest ? dest : ""), &oom);
        if (hdrs)
            js_put(o, "headers_only", json_true(), &oom);
        rc = oom ? -ENOMEM : 0;
    }
    free(src);
    free(dest);
    if (rc)
        json_decref(o);
    else
        *out = o;
    return rc;
}

/* 2.10's consumer_limits {inactive_threshold, max_ack_pending}: the
 * defaults and ceilings of the stream's consumers; kept only when one is
 * set (both omitempty in Go). */
static int norm_consumer_limits(const json_t *in, json_t **out)
{
    int64_t inactive = 0, max_ack = 0;
    *out = NULL;
    if (json_is_null(in))
        return 0;
    int rc = json_is_object(in) ? 0 : -EINVAL;
    if (!rc)
        rc = jf_int(in, "inactive_threshold", 0, INT64_MAX, &inactive);
    if (!rc)
        rc = jf_int(in, "max_ack_pending", INT32_MIN, INT32_MAX, &max_ack);
    if (rc || (!inactive && !max_ack))
        return rc;
    json_t *o = json_object();
    bool oom = !o;
    if (o && inactive)
        js_put(o, "inactive_threshold", json_integer(inactive), &oom);
    if (o && max_ack)
        js_put(o, "max_ack_pending", json_integer(max_ack), &oom);
    if (oom) {
        json_decref(o);
        return -ENOMEM;
    }
    *out = o;
    return 0;
}

int js_stream_config_consumer_limits(const struct js_stream_config *c, int64_t *inactive_ns,
                                     int64_t *max_ack_pending)
{
    json_t *o = js_extra_member(c->extra_json, "consumer_limits");
    *inactive_ns = json_integer_value(json_object_get(o, "inactive_threshold"));
    *max_ack_pending = json_integer_value(json_object_get(o, "max_ack_pending"));
    json_decref(o);
    return 0;
}

int js_extra_decode(const json_t *root, struct js_cfg_extra *x)
{
    json_t *v;
    int rc = jf_str(root, "template_owner", &x->template_owner);
    if (!rc && (v = jf_get(root, "placement")))
        rc = norm_placement(v, &x->placement);
    if (!rc && (v = jf_get(root, "mirror")))
        rc = norm_source(v, &x->mirror);
    if (!rc && (v = jf_get(root, "sources"))) {
        /* An empty list is the same as none. */
        if (!json_is_array(v))
            return -EINVAL;
        for (size_t i = 0; !rc && i < json_array_size(v); i++) {
            json_t *s = NULL, *e = json_array_get(v, i);
            if (!x->sources && !(x->sources = json_array()))
                return -ENOMEM;
            if (json_is_null(e))
                s = json_null(); /* a nil *StreamSource, refused in the checks */
            else
                rc = norm_source(e, &s);
            if (!rc && json_array_append_new(x->sources, s) != 0)
                rc = -ENOMEM;
        }
    }
    if (!rc && (v = jf_get(root, "republish")))
        rc = norm_src_dest(v, true, &x->republish);
    if (!rc && (v = jf_get(root, "subject_transform")))
        rc = norm_src_dest(v, false, &x->transform);
    if (!rc && (v = jf_get(root, "consumer_limits")))
        rc = norm_consumer_limits(v, &x->consumer_limits);
    return rc;
}

/* The extra objects as one JSON text in echo order, or NULL if none. */
int js_extra_pack(const struct js_cfg_extra *x, char **out)
{
    bool oom = false;
    *out = NULL;
    if (!x->placement && !x->mirror && !x->sources && !x->republish && !x->transform &&
        !x->consumer_limits)
        return 0;
    json_t *o = json_object();
    if (!o)
        return -ENOMEM;
    if (x->placement)
        js_put(o, "placement", json_incref(x->placement), &oom);
    if (x->mirror)
        js_put(o, "mirror", json_incref(x->mirror), &oom);
    if (x->sources)
        js_put(o, "sources", json_incref(x->sources), &oom);
    if (x->transform)
        js_put(o, "subject_transform", json_incref(x->transform), &oom);
    if (x->republish)
        js_put(o, "republish", json_incref(x->republish), &oom);
    if (x->consumer_limits)
        js_put(o, "consumer_limits", json_incref(x->consumer_limits), &oom);
    if (!oom)
        *out = json_dumps(o, JSON_PRESERVE_ORDER | JSON_COMPACT);
    json_decref(o);
    return *out ? 0 : -ENOMEM;
}

/* One member of extra_json (NULL if absent); a new reference. */
json_t *js_extra_member(const char *extra_json, const char *key)
{
    if (!extra_json)
        return NULL;
    json_t *o = json_loads(extra_json, 0, NULL);
    json_t *v = json_incref(json_object_get(o, key));
    json_decref(o);
    return v;
}

char *js_stream_config_mirror_origin(const struct js_stream_config *c)
{
    json_t *m = js_extra_member(c->extra_json, "mirror");
    const char *name = json_string_value(json_object_get(m, "name"));
    char *out = name && *name ? strdup(name) : NULL;
    json_decref(m);
    return out;
}

const char *js_stream_config_unsupported_origin(const struct js_stream_config *c)
{
    json_t *o = c->extra_json ? json_loads(c->extra_json, 0, NULL) : NULL;
    const char *what = NULL;
    json_t *sources = json_object_get(o, "sources");
    for (size_t i = 0; i < json_array_size(sources) && !what; i++)
        if (json_object_get(json_array_get(sources, i), "external"))
            what = "sources external";
    if (json_object_get(json_object_get(o, "mirror"), "external"))
        what = "mirror external";
    json_decref(o);
    return what;
}

const char *js_stream_config_unsupported_field(const char *json, size_t len)
{
    json_t *root = json_loadb(json, len, 0, NULL);
    const char *z = json_string_value(json_object_get(root, "compression"));
    const char *found = z && !strcmp(z, "s2") ? "compression s2" : NULL;
    json_decref(root);
    return found;
}

/* The {src, dest} pair of extra member key (">" for an empty src), with
 * its headers_only when asked. 0, -ENOENT, -ENOMEM (both NULL). */
static int src_dest_pair(const struct js_stream_config *c, const char *key, char **src,
                         char **dest, bool *headers_only)
{
    json_t *o = js_extra_member(c->extra_json, key);
    if (!o)
        return -ENOENT;
    const char *s = json_string_value(json_object_get(o, "src"));
    const char *d = json_string_value(json_object_get(o, "dest"));
    if (headers_only)
        *headers_only = json_is_true(json_object_get(o, "headers_only"));
    *src = strdup(s && *s ? s : ">");
    *dest = strdup(d ? d : "");
    json_decref(o);
    if (*src && *dest)
        return 0;
    free(*src);
    free(*dest);
    *src = *dest = NULL;
    return -ENOMEM;
}

int js_stream_config_transform(const struct js_stream_config *c, char **src, char **dest)
{
    return src_dest_pair(c, "subject_transform", src, dest, NULL);
}

int js_stream_config_republish(const struct js_stream_config *c, char **src, char **dest,
                               bool *headers_only)
{
    return src_dest_pair(c, "republish", src, dest, headers_only);
}

static bool api_prefix_check(const char *pfx, struct js_err *err, int *rc)
{
    char q[300];
    if (!js_subj_valid(pfx) || !js_subj_literal(pfx)) {
        js_go_quote(q, sizeof q, pfx);
        *rc = BAD("stream external api prefix %s must be a valid subject without wildcards", q);
        return false;
    }
    if (subject_overlap(pfx, strlen(pfx), "$JS.API", 7)) {
        *rc = js_err_set(err, 10021, "stream external api prefix %s must not overlap with $JS.API",
                         pfx);
        return false;
    }
    return true;
}

/* The mirror (if any) then each source: the order Go collects prefixes. */
static const json_t *source_at(const struct js_cfg_extra *x, size_t i, size_t *n)
{
    *n = (x->mirror ? 1 : 0) + (x->sources ? json_array_size(x->sources) : 0);
    if (x->mirror && i == 0)
        return x->mirror;
    return json_array_get(x->sources, i - (x->mirror ? 1 : 0));
}

/* All deliver prefixes first, then all api prefixes (checkStreamCfg). The
 * overlap of a deliver prefix with the origin's subjects needs the origin
 * stream: the caller's. */
static int check_externals(const struct js_cfg_extra *x, struct js_err *err)
{
    size_t n;
    int rc = 0;
    source_at(x, 0, &n);
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < n; i++) {
            json_t *ext = json_object_get(source_at(x, i, &n), "external");
            const char *p = json_string_value(json_object_get(ext, pass ? "api" : "deliver"));
            if (!p || !*p)
                continue;
            if (!pass && (!js_subj_valid(p) || !js_subj_literal(p)))
                return js_err_set(err, 10024,
                                  "stream external delivery prefix %s must not contain wildcards", p);
            if (pass && !api_prefix_check(p, err, &rc))
                return rc;
        }
    }
    return 0;
}

/* newTransform's verdict on the pair (proto/submap.h). */
static bool transform_ok(const char *src, const char *dest)
{
    struct submap *m = NULL;
    if (submap_compile(src, dest, &m) < 0)
        return false; /* out of memory refuses too: the client may retry */
    submap_free(m);
    return true;
}

int js_extra_check_transform(const struct js_cfg_extra *x, struct js_err *err)
{
    if (!x->transform)
        return 0;
    const char *src = json_string_value(json_object_get(x->transform, "src"));
    const char *dest = json_string_value(json_object_get(x->transform, "dest"));
    /* 2.10 finds a bad pair only when it makes the stream: 10049 */
    if (!transform_ok(src, dest))
        return js_err_set(err, 10049, "stream subject transform from '%s' to '%s': %s", src,
                          dest, "invalid subject transform");
    return 0;
}

int js_extra_check_republish(const struct js_stream_config *c, const struct js_cfg_extra *x,
                             struct js_err *err)
{
    const json_t *rp = x->republish;
    if (!rp)
        return 0;
    const char *src = json_string_value(json_object_get(rp, "src"));
    const char *dest = json_string_value(json_object_get(rp, "dest"));
    bool src_ok = false, cycle = false;
    for (size_t i = 0; i < c->nsubjects; i++)
        src_ok |= subject_overlap(src, strlen(src), c->subjects[i], strlen(c->subjects[i]));
    if (!src_ok)
        return BAD("stream configuration for republish source is not valid subset of subjects");
    for (size_t i = 0; i < c->nsubjects; i++)
        cycle |= subject_overlap(dest, strlen(dest), c->subjects[i], strlen(c->subjects[i]));
    if (cycle)
        return BAD("stream configuration for republish destination forms a cycle");
    if (!transform_ok(src, dest))
        return BAD("stream configuration for republish not valid");
    return 0;
}

/* An origin's subject_transforms as 2.10's checkStreamCfg checks them
 * (codes for a mirror, else for a source), then as its addStream makes
 * them (each pair a valid mapping). */
static int check_origin_transforms(const json_t *o, bool mirror, struct js_err *err)
{
    const json_t *trs = json_object_get(o, "subject_transforms");
    size_t n = json_array_size(trs);
    if (!n)
        return 0;
    if (json_object_get(o, "filter_subject"))
        return js_err_set(err, mirror ? 10150 : 10144, NULL);
    for (size_t i = 0; !mirror && i < n; i++) {
        const char *d = json_string_value(json_object_get(json_array_get(trs, i), "dest"));
        if (*d && !subject_valid_sub(d, strlen(d)))
            return js_err_set(err, 10146, NULL);
    }
    for (size_t i = 0; i < n; i++) {
        const char *a = json_string_value(json_object_get(json_array_get(trs, i), "src"));
        if (!subject_valid_sub(a, strlen(a)))
            return js_err_set(err, mirror ? 10151 : 10145, NULL);
        /* a mirror's may not collide at all; a source's may not contain
         * one another */
        for (size_t j = 0; j < n; j++) {
            const char *b = json_string_value(json_object_get(json_array_get(trs, j), "src"));
            bool clash = mirror ? subject_overlap(a, strlen(a), b, strlen(b))
                                : subject_covers(b, strlen(b), a, strlen(a));
            if (i != j && clash)
                return js_err_set(err, mirror ? 10152 : 10147, NULL);
        }
    }
    for (size_t i = 0; i < n; i++) {
        const json_t *t = json_array_get(trs, i);
        const char *a = json_string_value(json_object_get(t, "src"));
        const char *d = json_string_value(json_object_get(t, "dest"));
        if (*d && !transform_ok(a, d))
            return js_err_set(err, 10049, "subject transform from '%s' to '%s' for the %s: %s",
                              a, d, mirror ? "mirror" : "source", "invalid subject transform");
    }
    return 0;
}

/* checkStreamCfg's mirror/sources rules, in its order. */
int js_extra_check_sources(const struct js_stream_config *c, const struct js_cfg_extra *x,
                           struct js_err *err)
{
    size_t nsources = x->sources ? json_array_size(x->sources) : 0;
    int rc;
    if (x->mirror && c->first_seq > 0)
        return js_err_set(err, 10143, NULL);
    if (x->mirror && c->nsubjects > 0)
        return js_err_set(err, 10034, NULL);
    if (x->mirror && nsources > 0)
        return js_err_set(err, 10031, NULL);
    if (x->mirror && (rc = check_origin_transforms(x->mirror, true, err)) < 0)
        return rc;
    for (size_t i = 0; i < nsources; i++) {
        const json_t *s = json_array_get(x->sources, i);
        if (json_is_object(s) && (rc = check_origin_transforms(s, false, err)) < 0)
            return rc;
    }
    /* 2.9.10 dereferences each source here and crashes on a null one */
    for (size_t i = 0; i < nsources; i++)
        if (json_is_null(json_array_get(x->sources, i)))
            return js_err_json(err);
    if ((rc = check_externals(x, err)) < 0)
        return rc;
    /* a cycle needs other streams, except a stream sourcing itself */
    for (size_t i = 0; i < nsources; i++) {
        json_t *s = json_array_get(x->sources, i);
        if (!json_object_get(s, "external") &&
            js_streq(json_string_value(json_object_get(s, "name")), c->name))
            return BAD("detected cycle");
    }
    if (x->mirror && !json_object_get(x->mirror, "external") &&
        js_streq(json_string_value(json_object_get(x->mirror, "name")), c->name))
        return BAD("detected cycle");
    return 0;
}
