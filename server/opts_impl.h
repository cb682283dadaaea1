/*
 * server/opts_impl.h — private to server/opts*.c: what opts.c,
 * opts_flags.c, opts_conf.c and opts_auth.c call in one another.
 *
 * Each helper lives in exactly one file, named in the comment above its
 * group. Names with a double underscore (opts__*) are internal; nothing
 * outside server/opts*.c may include this header (the public API is
 * server/opts.h). Those returning int give 0 or a negative errno code.
 */
#ifndef TERN_SERVER_OPTS_IMPL_H
#define TERN_SERVER_OPTS_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "server/conf.h"
#include "server/opts.h"

#define OPTS_MS_PER_S 1000LL

/* ---- opts.c: small helpers ---- */

/* *dst = strdup(s) (NULL when s is NULL), freeing the old *dst. */
int opts__dup_into(char **dst, const char *s);
/* "file:line:col" of a config entry, malloc'd; NULL on out of memory. */
char *opts__where(const char *file, int line, int col);
/* A user (by name or nkey) of the authorization block. */
bool opts__has_user(const struct tern_opts *o, const char *name);
/* Frees n strings and the array. */
void opts__free_strv(char **v, size_t n);
/* Appends a copy of s; the array stays NULL-terminated. */
int opts__strv_push(char ***v, size_t *n, const char *s);
/* Go's time.Duration.String() of ms into buf; returns buf or a literal. */
const char *opts__fmt_ms(int64_t ms, char buf[48]);
/* Go's time.ParseDuration into nanoseconds; -EINVAL with Go's text in why. */
int opts__parse_go_duration(const char *orig, int64_t *ns, char *why, size_t whylen);
/* "host:port", "[v6]:port" (net.SplitHostPort); *host is replaced on success. */
int opts__split_host_port(const char *s, char **host, int *port, char *why, size_t whylen);

/* ---- opts_conf.c: one config-file pass and its typed accessors ---- */

/* State of one config-file pass. Stack-allocated by opts__load_config(). */
struct cfg {
    struct tern_opts *o;     /* borrowed */
    char *err;               /* borrowed: the caller's buffer */
    size_t errlen;
    bool check;              /* -t: nats-server's warnings are fatal */
    char *first_warning;     /* owned: first of those warnings */
    bool store_dir_seen;
};

/* Parses path and applies every key to o; check is -t. */
int opts__load_config(struct tern_opts *o, const char *path, bool check, char *err,
                      size_t errlen);

/* "<file>:<line>:<col>: <reason>" into c->err; returns -EINVAL. */
int opts__at_err(struct cfg *c, const char *file, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
#define ent_err(c, e, ...) opts__at_err((c), (e)->file, (e)->line, (e)->col, __VA_ARGS__)

/* A key nats-server knows that Tern accepts and ignores for now: a warning. */
int opts__ignored(struct cfg *c, const struct conf_entry *e);
/* An error, unless the key only defines a $variable. */
int opts__unknown_field(struct cfg *c, const struct conf_entry *e);
/* The Go type nats-server would name in its conversion errors. */
const char *opts__go_type(const struct conf_value *v);
int opts__type_err(struct cfg *c, const struct conf_entry *e, const char *want);
int opts__as_int(struct cfg *c, const struct conf_entry *e, int64_t *out);
/* A string value copied into *field (replacing it). */
int opts__set_str(struct cfg *c, const struct conf_entry *e, char **field);
/* The key, ignoring case, is one of names (space-separated aliases). */
bool opts__key_is(const struct conf_entry *e, const char *names);

/* ---- opts_auth.c: authorization blocks ---- */

/* The top-level "authorization" block: replaces o's client auth. */
int opts__apply_authorization(struct cfg *c, const struct conf_entry *e);
/* cluster { authorization { ... } }: one user/password for routes. */
int opts__apply_cluster_auth(struct cfg *c, const struct conf_entry *k);
/* Free what the structs own (not the structs themselves). */
void opts__free_user(struct opts_user *u);
/* A users array (as in authorization {}) into a new owned array. */
int opts__parse_user_list(struct cfg *c, const struct conf_entry *e, struct opts_user **users,
                          size_t *n);

/* ---- opts_accounts.c: accounts {} ---- */

int opts__apply_accounts(struct cfg *c, const struct conf_entry *e);
void opts__free_accounts(struct tern_opts *o);
/* ---- opts_operator.c: operator mode ---- */

int opts__apply_operator(struct cfg *c, const struct conf_entry *e);
int opts__apply_resolver(struct cfg *c, const struct conf_entry *e);
int opts__apply_preload(struct cfg *c, const struct conf_entry *e);
/* After the whole file: nats-server's operator checks, then each preloaded
 * account becomes an accounts[] entry. 0 or -EINVAL with err set. */
int opts__finish_operator(struct tern_opts *o, char *err, size_t errlen);
void opts__free_operator(struct tern_opts *o);

/* Whether two option sets describe the same accounts (users aside). */
bool opts__accounts_same(const struct tern_opts *a, const struct tern_opts *b);
void opts__free_permissions(struct opts_permissions *p);

/* ---- opts_tls.c: the client port's TLS ---- */

/* The top-level "tls" block: replaces o's TLS settings. */
int opts__apply_tls(struct cfg *c, const struct conf_entry *e);
/* cluster { tls {} }: the same keys into o->cluster_tls, less those that
 * make no sense between nodes (refused with the reason). */
int opts__apply_cluster_tls(struct cfg *c, const struct conf_entry *e);
/* False when a reload changes cluster { tls {} } (read once, at start). */
bool opts__cluster_tls_same(const struct tern_opts *running, const struct tern_opts *next);
struct flags;
/* Any --tls* flag replaces the TLS settings (after the flags' last pass). */
int opts__apply_tls_flags(struct tern_opts *o, const struct flags *f, char *err, size_t errlen);
/* Frees the TLS strings and lists and cluster_tls (not o). */
void opts__free_tls(struct tern_opts *o);

/* ---- opts_ws.c: the websocket block ---- */

/* The top-level "websocket" (or "ws") block. */
int opts__apply_websocket(struct cfg *c, const struct conf_entry *e);
/* nats-server's validateWebsocketOptions, after the whole file is read. */
int opts__validate_ws(const struct tern_opts *o, char *err, size_t errlen);
/* False when a reload changes the block beyond its tls {}. */
bool opts__ws_reloadable(const struct tern_opts *running, const struct tern_opts *next);
/* Frees the ws_* strings, lists and ws_tls (not o). */
void opts__free_ws(struct tern_opts *o);

/* ---- opts_flags.c: the command line ---- */

struct flag_def;

/* One flag as given on the command line. */
struct flag_set {
    const struct flag_def *def;  /* borrowed: opts_flags.c's static table */
    const char *name;    /* borrowed from argv: the name as typed */
    size_t namelen;
    const char *str;     /* borrowed from argv */
    bool b;
    long long i;
};

/* The parsed command line. Filled by opts__parse_flags(); set is malloc'd
 * and the caller frees it (also after a failure). */
struct flags {
    struct flag_set *set;
    size_t n;
    bool help, version, test, routes_given;
    const char *config;  /* borrowed from argv */
    const char *signal;  /* borrowed from argv */
};

/* One of --tls, --tlsverify, --tlscert, --tlskey, --tlscacert. */
bool opts__flag_is_tls(const struct flag_set *s);

int opts__parse_flags(int argc, char **argv, struct flags *f, char *err, size_t errlen);
/* Writes the flags into o; first is the pass before the config file. */
int opts__apply_flags(struct tern_opts *o, const struct flags *f, bool first, char *err,
                      size_t errlen);

#endif
