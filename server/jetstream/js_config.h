/*
 * server/jetstream/js_config.h — JetStream stream and consumer configurations: JSON
 * in, validation with nats-server's exact error codes and texts, the
 * normalised form (defaults filled in), and JSON out in the field order
 * nats-server 2.9 echoes (spec/jetstream.md §5.1, §8.1, §8.2).
 *
 * Pure: jansson and libc only; no server state. What needs the server's
 * state (does the stream exist, do subjects overlap another stream, is the
 * consumer already there) is the caller's; everything that can be decided
 * from the request alone is decided here. Durations are int64 ns,
 * timestamps int64 ns since the Unix epoch.
 *
 * Ownership: every char * and array inside a config is owned by the config
 * and released by its *_free function.
 */
#ifndef TERN_SERVER_JS_CONFIG_H
#define TERN_SERVER_JS_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* An API error: the three fields nats-py turns into its exception
 * (spec/jetstream.md §3, §3.1). code 0 = no error. */
struct js_err {
    int code;            /* HTTP-like: 400, 404, 500, 503 */
    int err_code;        /* JetStream code, e.g. 10059 */
    char description[256];
};

/* Fill e from a JetStream code whose text is fixed (see the table in
 * js_config.c), or with a formatted text for the codes whose text varies
 * ("wrong last sequence: 4"). Returns -EINVAL so a caller can
 * `return js_err_set(...)`. fmt NULL: the table's text (for a variable
 * code, Go's template, e.g. "sequence {seq} not found" — pass a format).
 * code always comes from the table (500 for an unknown err_code). */
int js_err_set(struct js_err *e, int err_code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Added: the fixed text of err_code, or NULL when 2.9.10's text varies
 * (10012, 10043, 10052, 10071...) or the code is unknown. */
const char *js_err_text(int err_code);
/* Added: the HTTP-like code that goes with err_code (500 if unknown). */
int js_err_http(int err_code);

enum js_retention { JS_RETAIN_LIMITS = 0, JS_RETAIN_INTEREST, JS_RETAIN_WORKQUEUE };
enum js_discard { JS_DISCARD_OLD = 0, JS_DISCARD_NEW };
enum js_storage { JS_STORAGE_FILE = 0, JS_STORAGE_MEMORY };

struct js_stream_config {
    char *name;
    char *description;            /* NULL when absent */
    char **subjects;              /* normalised: [name] when absent */
    size_t nsubjects;
    enum js_retention retention;
    int64_t max_consumers;        /* -1 = unlimited */
    int64_t max_msgs;             /* -1 */
    int64_t max_bytes;            /* -1 */
    int64_t max_age;              /* ns; 0 = unlimited */
    int64_t max_msgs_per_subject; /* -1 */
    int64_t max_msg_size;         /* -1 */
    enum js_discard discard;
    bool discard_new_per_subject;
    enum js_storage storage;
    int64_t num_replicas;         /* 1 when 0 */
    bool no_ack;
    int64_t duplicate_window;     /* ns; normalised per §5.1 */
    bool allow_direct;
    bool mirror_direct;
    bool sealed;
    bool deny_delete;
    bool deny_purge;
    bool allow_rollup_hdrs;
    uint64_t first_seq;           /* 2.10's: the sequence a new stream
                                     starts at; 0 = 1 */
    char *extra_json;             /* accepted optional objects we echo back
                                     untouched (placement, republish...), as
                                     a JSON object text, or NULL */
    char *metadata;               /* 2.10's metadata: a JSON object of
                                     strings, keys sorted; NULL when none */
};

/* Parse a STREAM.CREATE / STREAM.UPDATE body. subject_name is the stream
 * name from the request subject (10056 when the body's differs; NULL skips
 * that check, e.g. to re-read a stored config). Unknown fields are ignored.
 * On success 0 and *out is normalised (defaults per §5.1); on failure
 * -EINVAL and *err says why (10025, 10056, 10128, 10052 texts, 10133,
 * 10034/10031/10024/10021 for mirrors and sources...), or -ENOMEM (*err
 * 10023). The order of the checks is 2.9.10's: for create the name,
 * sealed and mirror_direct checks come first, for update the config rules
 * come before the name check.
 * for_create: refuse a sealed config (update may seal); 10074 when not
 * clustered and replicas > 1 — create only, as 2.9.10 takes replicas > 1
 * on a standalone update; 10005 when clustered and replicas > cluster_size
 * (cluster_size <= 0: not checked here; 2.9.10 answers 10058/10065 first,
 * so a caller that checks those after parsing may prefer to pass 0 and
 * check peers itself). A mirror or sourcing stream keeps nsubjects 0, a
 * mirror duplicate_window 0. Still the caller's: 10058, 10065, 10059, and
 * whatever needs other streams (origin streams, deeper source cycles; a
 * mirror's mirror_direct is the origin's allow_direct). */
int js_stream_config_parse(const char *json, size_t len, const char *subject_name,
                           bool for_create, bool clustered, int cluster_size,
                           struct js_stream_config *out, struct js_err *err);
/* Rules for STREAM.UPDATE that need the old config (storage, retention,
 * max_consumers, sealed/deny flags one way only, mirror 10055, republish;
 * sealing forces its settings into upd). 0 or -EINVAL with *err (10052
 * texts). Call after the stream lookup (10059), as 2.9.10 does. */
int js_stream_config_check_update(const struct js_stream_config *old,
                                  struct js_stream_config *upd, struct js_err *err);
/* Equal as normalised configs (idempotent create, §5.1 step 2). */
bool js_stream_config_equal(const struct js_stream_config *a, const struct js_stream_config *b);
/* The config as nats-server echoes it: a malloc'd JSON object text (free
 * it with free()), compact, '>' not escaped; NULL on ENOMEM. */
char *js_stream_config_to_json(const struct js_stream_config *c);
/* The name of c's mirror's origin (malloc'd; free it), NULL when c is not
 * a mirror (or on ENOMEM). */
char *js_stream_config_mirror_origin(const struct js_stream_config *c);
/* What of c's mirror and sources Tern does not perform yet, as the words
 * of "stream %s is not supported yet" ("sources external", "mirror
 * external"), or NULL: mirrors and sources of streams of this server are
 * performed (js_mirror.h, js_source.h). */
const char *js_stream_config_unsupported_origin(const struct js_stream_config *c);
/* 2.10's consumer_limits of c: the default and ceiling of its consumers'
 * inactive_threshold (ns) and max_ack_pending; 0 when not set. */
int js_stream_config_consumer_limits(const struct js_stream_config *c, int64_t *inactive_ns,
                                     int64_t *max_ack_pending);
/* What of nats-server 2.10's that the stream config in json asks for and
 * Tern does not perform yet, or NULL: "compression s2" ("none" is what
 * Tern does).
 * 2.9.10's way of ignoring unknown fields would silently store otherwise
 * than asked; the API refuses them instead. */
const char *js_stream_config_unsupported_field(const char *json, size_t len);
/* c's subject_transform, when it has one: *src and *dest malloc'd (free
 * both). 0, -ENOENT (none), -ENOMEM. */
int js_stream_config_transform(const struct js_stream_config *c, char **src, char **dest);
/* c's republish, when it has one: its src (">" when it was left empty),
 * dest and headers_only; *src and *dest are malloc'd (free both). 0,
 * -ENOENT (none), -ENOMEM. */
int js_stream_config_republish(const struct js_stream_config *c, char **src, char **dest,
                               bool *headers_only);
int js_stream_config_copy(struct js_stream_config *dst, const struct js_stream_config *src);
void js_stream_config_free(struct js_stream_config *c);

enum js_deliver_policy {
    JS_DELIVER_ALL = 0, JS_DELIVER_LAST, JS_DELIVER_NEW, JS_DELIVER_BY_START_SEQ,
    JS_DELIVER_BY_START_TIME, JS_DELIVER_LAST_PER_SUBJECT,
};
enum js_ack_policy { JS_ACK_NONE = 0, JS_ACK_ALL, JS_ACK_EXPLICIT };
enum js_replay_policy { JS_REPLAY_INSTANT = 0, JS_REPLAY_ORIGINAL };

struct js_consumer_config {
    char *durable_name;           /* NULL = ephemeral (unless the create
                                     form makes it durable, §8.1) */
    char *name;                   /* NULL when absent */
    char *description;
    enum js_deliver_policy deliver_policy;
    uint64_t opt_start_seq;       /* 0 = absent */
    int64_t opt_start_time;       /* ns; 0 = absent */
    bool has_opt_start_time;
    enum js_ack_policy ack_policy;
    int64_t ack_wait;             /* ns; normalised: 30 s for explicit/all */
    int64_t max_deliver;          /* -1 = unlimited */
    int64_t *backoff;             /* ns each; NULL when absent */
    size_t nbackoff;
    char *filter_subject;         /* NULL = whole stream */
    char **filter_subjects;       /* 2.10's several filters: none of them
                                     empty, no two overlapping; never set
                                     together with filter_subject */
    size_t nfilter_subjects;
    enum js_replay_policy replay_policy;
    uint64_t rate_limit_bps;
    char *sample_freq;
    int64_t max_waiting;          /* pull: 512 default; push: 0 (absent) */
    int64_t max_ack_pending;      /* 1000 default for explicit/all; 0 absent */
    int64_t idle_heartbeat;       /* ns; 0 = none */
    bool flow_control;
    bool headers_only;
    int64_t max_batch, max_expires, max_bytes; /* pull request caps; 0 = none */
    char *deliver_subject;        /* NULL = pull consumer */
    char *deliver_group;
    int64_t inactive_threshold;   /* ns; 0 = none (ephemerals get 5 s) */
    int64_t num_replicas;
    bool mem_storage;
    char *metadata;               /* 2.10's metadata, as the stream's */
    size_t metadata_size;         /* its keys' and values' bytes (the
                                     10135 limit) */
    int opt_start_time_tz;        /* added: the UTC offset (s east) the
                                     client wrote opt_start_time with; 2.9.10
                                     echoes the time in that offset */
};

/* The create request forms of §8.1. */
enum js_consumer_form {
    JS_CFORM_CREATE = 0,         /* CONSUMER.CREATE.<s> */
    JS_CFORM_CREATE_NAMED,       /* CONSUMER.CREATE.<s>.<name> */
    JS_CFORM_CREATE_FILTERED,    /* CONSUMER.CREATE.<s>.<name>.<filter...> */
    JS_CFORM_DURABLE,            /* CONSUMER.DURABLE.CREATE.<s>.<durable> */
};

/* Parse a consumer create body {"stream_name":..,"config":{..}}. stream and
 * name/filter come from the request subject (name NULL for the plain form,
 * filter NULL unless FILTERED; stream NULL skips the 10056 check). Checks,
 * in §8.1's order, everything that does not need the stream (10025, 10056,
 * 10127, 10017, 10018, 10020, 10131, 10133, 10116, 10107, 10079, 10112,
 * 10080, 10082, 10083, 10086-10089, 10114, 10115, 10094 and 10095 texts,
 * 10108, 10132, 10102, 10103) and normalises (§8.2 defaults; ephemerals get
 * inactive_threshold 5 s; the subject's name wins over config.name). 0 or
 * -EINVAL with *err (-ENOMEM: 10023).
 * The caller's, in 2.9.10's order: 10016 for DURABLE.CREATE with other
 * than 7 tokens (before parsing); after the request checks, 10074 when
 * standalone and num_replicas > 1, then 10059; after the config rules,
 * check_stream; then the existing
 * consumer (check_update), 10026, 10099/10100. For a server-named
 * consumer leave name NULL in the stored config: 2.9.10 does not echo the
 * generated name inside "config". 2.9.10 runs its config rules after the
 * stream lookup: the API calls the two halves below, with the lookup
 * between them. */
int js_consumer_config_parse(const char *json, size_t len, const char *stream,
                             enum js_consumer_form form, const char *name,
                             const char *filter, struct js_consumer_config *out,
                             struct js_err *err);
/* js_consumer_config_parse in its two halves. _request decodes and runs
 * what jsConsumerCreateRequest checks before it looks the stream up
 * (10025, 10056, 10127, 10018, 10017, 10020, 10131); *out is decoded,
 * not yet defaulted, and *direct is the request's internal "direct" flag
 * for _check. _check sets the defaults and runs the config rules (10133
 * ... 10103); on failure the caller still owns and frees *c. Each: 0 or
 * -EINVAL with *err (-ENOMEM: 10023). */
int js_consumer_config_parse_request(const char *json, size_t len, const char *stream,
                                     enum js_consumer_form form, const char *name,
                                     const char *filter, struct js_consumer_config *out,
                                     bool *direct, struct js_err *err);
int js_consumer_config_check(struct js_consumer_config *c, bool direct, struct js_err *err);
/* Checks against the stream's config: replicas (10126), deliver subject
 * inside the stream (10081), pull+none on a work queue (10084), filter
 * subset of the stream's subjects (10093, for each of several filters;
 * let through for mirrors and sourcing streams, whose subjects live in
 * other streams, and for a subject transform's own subjects), then the
 * single-consumer work-queue rules (10098, 10101; 10099/10100 need the
 * other consumers). 0 or -EINVAL with *err. Note: 2.9.10 applies the
 * work-queue rules only to a new consumer, after the existing-consumer
 * step and 10026; here they simply come last. */
int js_consumer_config_check_stream(const struct js_consumer_config *c,
                                    const struct js_stream_config *s, struct js_err *err);
/* Two consumer configs the same in every field (2.10's action "create"
 * accepts an existing consumer only with the same config). */
bool js_consumer_config_equal(const struct js_consumer_config *a,
                              const struct js_consumer_config *b);
/* Creating an existing consumer with cfg: 0 when equal or an allowed
 * update (then *changed is true), -EINVAL with 10012 "<field> can not
 * be updated" (code 500) otherwise. As in 2.9.10, any change to a config
 * with an opt_start_time is "start time can not be updated". A new
 * deliver subject for a push consumer is 10013 "consumer name already in
 * use" when bound (the caller knows whether the old one has interest),
 * in 2.9.10's place among the checks. */
int js_consumer_config_check_update(const struct js_consumer_config *old,
                                    const struct js_consumer_config *upd, bool bound,
                                    bool *changed, struct js_err *err);
bool js_consumer_is_durable(const struct js_consumer_config *c);
/* As nats-server echoes it (§8.2: zero/false optional fields omitted);
 * free() it. */
char *js_consumer_config_to_json(const struct js_consumer_config *c);
int js_consumer_config_copy(struct js_consumer_config *dst, const struct js_consumer_config *src);
void js_consumer_config_free(struct js_consumer_config *c);

/* RFC 3339 UTC with up to 9 fractional digits, trailing zeros trimmed as
 * Go's RFC3339Nano does, and 'Z' ("0001-01-01T00:00:00Z" for 0), into out
 * (at least 40 bytes). Returns out. */
char *js_time_format(int64_t ns, char *out, size_t cap);
/* Parse an RFC 3339 time as Go's time.Parse(RFC3339) does (any fraction,
 * '.' or ',', 'Z' or ±hh:mm). 0, -EINVAL, or -ERANGE outside int64 ns. */
int js_time_parse(const char *s, int64_t *ns);

#endif
