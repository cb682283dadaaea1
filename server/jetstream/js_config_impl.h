/*
 * server/jetstream/js_config_impl.h — internals shared by js_config.c (streams, the
 * error table, times) and js_consumer_config.c (consumers). Not for use
 * outside those two files.
 *
 * The jf_* helpers read one field of a JSON object the way Go's
 * encoding/json fills a struct field in nats-server 2.9.10: keys match
 * case-insensitively (the last matching key wins), JSON null leaves the
 * field as it was, and a value of the wrong type is an error (the caller
 * answers 10025 "invalid JSON"). Each returns 0, or -EINVAL for a type
 * error, or -ENOMEM.
 */
#ifndef TERN_SERVER_JS_CONFIG_IMPL_H
#define TERN_SERVER_JS_CONFIG_IMPL_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "server/jetstream/js_config.h"

#define JS_NS_PER_MS INT64_C(1000000)
#define JS_NS_PER_S INT64_C(1000000000)
#define JS_MAX_NAME_LEN 255         /* JSMaxNameLen */
#define JS_MAX_DESCRIPTION_LEN 4096 /* JSMaxDescriptionLen */

/* The value for key in obj (NULL when absent or JSON null); borrowed. */
json_t *jf_get(const json_t *obj, const char *key);
/* A string field; "" and absent leave *out NULL. *out is malloc'd. */
int jf_str(const json_t *obj, const char *key, char **out);
/* An integer field within [min, max] (Go's int64/int32/int range). */
int jf_int(const json_t *obj, const char *key, int64_t min, int64_t max, int64_t *out);
/* A uint64 field (jansson stops at INT64_MAX; see js_config.c). */
int jf_uint(const json_t *obj, const char *key, uint64_t *out);
int jf_bool(const json_t *obj, const char *key, bool *out);
/* An enum string: index into names[] (NULL-terminated), or -EINVAL.
 * icase: compare ignoring ASCII case (DiscardPolicy does). JSON null is
 * an error too: Go calls the type's UnmarshalJSON with "null". */
int jf_enum(const json_t *obj, const char *key, const char *const *names, bool icase,
            int *out);
/* A map[string]string (metadata): *out the object with its keys sorted,
 * as Go encodes a map, compact (NULL when absent, null or empty); *size
 * the sum of its keys' and values' lengths (nats-server's measure). A
 * null value becomes "" as in Go; any other non-string is -EINVAL. */
int jf_strmap(const json_t *obj, const char *key, char **out, size_t *size);
/* Put a metadata text (jf_strmap's) into o as "metadata"; nothing when
 * NULL. A text that does not parse counts as out of memory: it was made
 * by jf_strmap. */
void js_put_metadata(json_t *o, const char *metadata, bool *oom);
/* nats-server 2.10's cap on that size (JSMaxMetadataLen). */
#define JS_MAX_METADATA_LEN (128 * 1024)
/* An array of strings; a null element becomes "" as in Go. */
int jf_strarr(const json_t *obj, const char *key, char ***out, size_t *n);
/* An RFC 3339 time string (Go's time.Time UnmarshalJSON); *tz: the
 * offset it was written with, seconds east of UTC. */
int jf_time(const json_t *obj, const char *key, int64_t *ns, int *tz, bool *has);
/* js_time_parse that also reports the offset; js_time_format at that
 * offset, and with no special case for 0 (a real 1970 instant). */
int js_time_parse_tz(const char *s, int64_t *ns, int *tz);
char *js_time_format_tz(int64_t ns, int tz, char *out, size_t cap);
/* s re-printed as Go prints the time it parses from s (no int64 ns limit:
 * years 0000-9999, for the times kept only as JSON). 0 or -EINVAL. */
int js_time_normalise(const char *s, char *out, size_t cap);

void js_strv_free(char **v, size_t n);
int js_strv_copy(char ***dst, char *const *src, size_t n);
int js_strdup_opt(char **dst, const char *src); /* NULL stays NULL */
bool js_streq(const char *a, const char *b);    /* NULL equals NULL only */

/* Subject rules as nats-server's sublist.go has them. */
bool js_subj_valid(const char *s);            /* IsValidSubject */
bool js_subj_literal(const char *s);          /* subjectIsLiteral */
bool js_subj_subset(const char *subject, const char *test); /* subjectIsSubsetMatch */
/* isValidName: non-empty, none of " \t\r\n\f.*>" */
bool js_name_valid(const char *name);

/* Go's %q of s (strconv.Quote), into out; truncates to cap. */
void js_go_quote(char *out, size_t cap, const char *s);

/* json_object_set_new that records a failure in *oom (v is freed). */
void js_put(json_t *o, const char *k, json_t *v, bool *oom);
/* A request body as a JSON object; JSON null gives an empty object, as
 * Go's Unmarshal of null into a struct is a no-op. NULL: not an object or
 * not JSON (10025). */
json_t *js_config_load(const char *json, size_t len);

/* The StreamConfig members kept as JSON (js_config_extra.c). */
struct js_cfg_extra {
    char *template_owner;                             /* owned */
    bool storage_any;                                 /* "storage":"any" */
    json_t *placement, *mirror, *sources, *republish; /* Go-normalised, owned */
    json_t *transform;                                /* subject_transform, too */
    json_t *consumer_limits;                          /* 2.10's, when not empty */
    size_t metadata_size;                             /* see jf_strmap */
};
int js_extra_decode(const json_t *root, struct js_cfg_extra *x);
void js_extra_free(struct js_cfg_extra *x);
/* x as the extra_json text (echo order), *out NULL when x is empty. */
int js_extra_pack(const struct js_cfg_extra *x, char **out);
/* A new reference to member key of an extra_json text, or NULL. */
json_t *js_extra_member(const char *extra_json, const char *key);
int js_extra_check_sources(const struct js_stream_config *c, const struct js_cfg_extra *x,
                           struct js_err *err);
/* subject_transform's pair compiles (10049 as 2.10 answers it). */
int js_extra_check_transform(const struct js_cfg_extra *x, struct js_err *err);
int js_extra_check_republish(const struct js_stream_config *c, const struct js_cfg_extra *x,
                             struct js_err *err);

/* Sets e to 10025 "invalid JSON" and returns -EINVAL. */
int js_err_json(struct js_err *e);

#endif
