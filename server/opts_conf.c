/*
 * server/opts_conf.c — applies a parsed config file (conf.c's tree) to
 * struct tern_opts: the top-level keys (spec/server-cli-config.md §3.1),
 * cluster (§3.4) and JetStream (§3.5), and the typed accessors every key
 * uses. The authorization block is opts_auth.c's, tls {} opts_tls.c's.
 *
 * opts__load_config() walks the root map in file order, so a later key wins.
 * Keys nats-server knows but Tern does not implement are refused at their
 * file:line:col when they would change what the server does, and noted and
 * ignored when they only tune or describe it; any other key is an error,
 * worded as nats-server words it. It never reads config text itself (conf.c does).
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "proto/subject.h"
#include "server/opts_impl.h"

/* ---- config context and errors ---- */

int opts__at_err(struct cfg *c, const char *file, int line, int col, const char *fmt, ...)
{
    char reason[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    snprintf(c->err, c->errlen, "%s:%d:%d: %s", file, line, col, reason);
    return -EINVAL;
}

/* A warning nats-server also gives ("invalid use of field ..."). */
static int nats_warning(struct cfg *c, const struct conf_entry *e, const char *reason)
{
    char line[600];
    snprintf(line, sizeof line, "%s:%d:%d: invalid use of field \"%s\": %s",
             e->file, e->line, e->col, e->key, reason);
    if (!c->first_warning && !(c->first_warning = strdup(line)))
        return -ENOMEM;
    return opts_add_warning(c->o, "%s", line);
}

/* A key nats-server knows that Tern accepts and ignores for now. */
int opts__ignored(struct cfg *c, const struct conf_entry *e)
{
    return opts_add_warning(c->o, "%s:%d:%d: \"%s\" is not supported by Tern yet and is ignored",
                            e->file, e->line, e->col, e->key);
}

int opts__unknown_field(struct cfg *c, const struct conf_entry *e)
{
    if (e->used_variable)
        return 0; /* a variable definition, not an option */
    return ent_err(c, e, "unknown field \"%s\"", e->key);
}

/* The Go type nats-server would name in its conversion errors. */
const char *opts__go_type(const struct conf_value *v)
{
    switch (v->type) {
    case CONF_MAP: return "map[string]interface {}";
    case CONF_ARRAY: return "[]interface {}";
    case CONF_STRING: return "string";
    case CONF_INT: return "int64";
    case CONF_FLOAT: return "float64";
    case CONF_BOOL: return "bool";
    case CONF_DATETIME: return "time.Time";
    }
    return "interface {}";
}

int opts__type_err(struct cfg *c, const struct conf_entry *e, const char *want)
{
    return ent_err(c, e, "interface conversion: interface {} is %s, not %s",
                   opts__go_type(e->val), want);
}

int opts__as_int(struct cfg *c, const struct conf_entry *e, int64_t *out)
{
    if (e->val->type != CONF_INT)
        return opts__type_err(c, e, "int64");
    *out = e->val->u.i;
    return 0;
}

static int as_int32(struct cfg *c, const struct conf_entry *e, int *out)
{
    int64_t v = 0;
    int rc = opts__as_int(c, e, &v);
    if (rc < 0)
        return rc;
    if (v < INT_MIN || v > INT_MAX)
        return ent_err(c, e, "%s value is out of range", e->key);
    *out = (int)v;
    return 0;
}

static int as_bool(struct cfg *c, const struct conf_entry *e, bool *out)
{
    if (e->val->type != CONF_BOOL)
        return opts__type_err(c, e, "bool");
    *out = e->val->u.b;
    return 0;
}

static int as_str(struct cfg *c, const struct conf_entry *e, const char **out)
{
    if (e->val->type != CONF_STRING)
        return opts__type_err(c, e, "string");
    *out = e->val->u.str.s;
    return 0;
}

int opts__set_str(struct cfg *c, const struct conf_entry *e, char **field)
{
    const char *s = NULL;
    int rc = as_str(c, e, &s);
    return rc < 0 ? rc : opts__dup_into(field, s);
}

bool opts__key_is(const struct conf_entry *e, const char *names)
{
    /* names: space-separated aliases, e.g. "host net". */
    size_t kl = strlen(e->key);
    for (const char *n = names; *n;) {
        size_t l = strcspn(n, " ");
        if (l == kl && strncasecmp(n, e->key, l) == 0)
            return true;
        n += l;
        while (*n == ' ')
            n++;
    }
    return false;
}

/* §2.2: a Go duration string; a plain integer is seconds with a warning. */
static int as_duration(struct cfg *c, const struct conf_entry *e, const char *field, int64_t *ms)
{
    if (e->val->type == CONF_STRING) {
        int64_t ns;
        char why[200];
        if (opts__parse_go_duration(e->val->u.str.s, &ns, why, sizeof why) < 0)
            return ent_err(c, e, "error parsing %s: %s", field, why);
        *ms = ns / 1000000;
        return 0;
    }
    if (e->val->type != CONF_INT)
        return opts__type_err(c, e, "int64");
    char reason[128];
    snprintf(reason, sizeof reason, "%s should be converted to a duration", field);
    if (e->val->u.i > INT64_MAX / OPTS_MS_PER_S || e->val->u.i < INT64_MIN / OPTS_MS_PER_S)
        return ent_err(c, e, "%s value is out of range", field);
    *ms = e->val->u.i * OPTS_MS_PER_S;
    return nats_warning(c, e, reason);
}

/* listen/http: host:port string or a port number. */
static int parse_listen(struct cfg *c, const struct conf_entry *e, char **host, int *port)
{
    if (e->val->type == CONF_INT) {
        if (e->val->u.i < INT_MIN || e->val->u.i > INT_MAX)
            return ent_err(c, e, "%s value is out of range", e->key);
        *port = (int)e->val->u.i;
        return opts__dup_into(host, "0.0.0.0");
    }
    if (e->val->type != CONF_STRING)
        return ent_err(c, e, "expected port or host:port, got %s", opts__go_type(e->val));
    char why[300];
    int rc = opts__split_host_port(e->val->u.str.s, host, port, why, sizeof why);
    if (rc == -EINVAL)
        return ent_err(c, e, "%s", why);
    return rc;
}

/* ---- cluster (§3.4) ---- */

static int parse_routes_value(struct cfg *c, const struct conf_entry *e)
{
    struct tern_opts *o = c->o;
    if (e->val->type != CONF_ARRAY)
        return opts__type_err(c, e, "[]interface {}");
    char **routes = NULL;
    size_t n = 0;
    int rc = 0;
    for (size_t i = 0; i < e->val->u.arr.n && rc == 0; i++) {
        const struct conf_value *r = e->val->u.arr.items[i];
        if (r->type != CONF_STRING)
            rc = opts__at_err(c, r->file, r->line, r->col, "error parsing route url [%s]",
                              opts__go_type(r));
        else if (!strstr(r->u.str.s, "://"))
            rc = opts__at_err(c, r->file, r->line, r->col, "error parsing route url [\"%s\"]",
                              r->u.str.s);
        else
            rc = opts__strv_push(&routes, &n, r->u.str.s);
    }
    if (rc < 0) {
        opts__free_strv(routes, n);
        return rc;
    }
    opts__free_strv(o->routes, o->nroutes);
    o->routes = routes;
    o->nroutes = n;
    return 0;
}

static int apply_cluster(struct cfg *c, const struct conf_entry *e)
{
    struct tern_opts *o = c->o;
    if (e->val->type != CONF_MAP)
        return ent_err(c, e, "Expected map to define cluster, got %s", opts__go_type(e->val));
    const struct conf_value *m = e->val;
    int rc = 0;
    for (size_t i = 0; i < m->u.map.n && rc == 0; i++) {
        const struct conf_entry *k = &m->u.map.items[i];
        if (opts__key_is(k, "name")) {
            if ((rc = opts__set_str(c, k, &o->cluster_name)) == 0 && strchr(o->cluster_name, ' '))
                rc = ent_err(c, k, "cluster name cannot contain spaces");
        } else if (opts__key_is(k, "listen")) {
            rc = parse_listen(c, k, &o->cluster_host, &o->cluster_port);
        } else if (opts__key_is(k, "port")) {
            rc = as_int32(c, k, &o->cluster_port);
        } else if (opts__key_is(k, "host net")) {
            rc = opts__set_str(c, k, &o->cluster_host);
        } else if (opts__key_is(k, "authorization")) {
            rc = opts__apply_cluster_auth(c, k);
        } else if (opts__key_is(k, "routes")) {
            rc = parse_routes_value(c, k);
        } else if (opts__key_is(k, "cluster_advertise advertise")) {
            rc = opts__set_str(c, k, &o->cluster_advertise);
        } else if (opts__key_is(k, "no_advertise")) {
            rc = as_bool(c, k, &o->no_advertise);
        } else if (opts__key_is(k, "connect_retries")) {
            rc = opts__as_int(c, k, &o->connect_retries);
        } else if (opts__key_is(k, "tls")) {
            rc = opts__apply_cluster_tls(c, k);
        } else if (opts__key_is(k, "permissions pool_size accounts compression ping_interval "
                             "ping_max write_deadline write_timeout connect_backoff")) {
            rc = opts__ignored(c, k);
        } else {
            rc = opts__unknown_field(c, k);
        }
    }
    return rc;
}

/* ---- JetStream (§3.5) ---- */

/* getStorageSize: an integer as is; a string "<n>K|M|G|T" in powers of
 * 1024 (so quoted "1G" is 2^30 while unquoted 1G is 10^9). */
static int storage_size(struct cfg *c, const struct conf_entry *k, const char *what, int64_t *out)
{
    const struct conf_value *v = k->val;
    if (v->type == CONF_INT) {
        *out = v->u.i;
        return 0;
    }
    if (v->type != CONF_STRING)
        return ent_err(c, k, "%s must be int64 or string", what);
    const char *s = v->u.str.s;
    size_t n = strlen(s);
    if (n == 0) {
        *out = 0;
        return 0;
    }
    char num[32];
    if (n - 1 >= sizeof num)
        return ent_err(c, k, "%s strconv.ParseInt: parsing \"%.*s\": value out of range", what,
                       (int)(n - 1), s);
    memcpy(num, s, n - 1);
    num[n - 1] = '\0';
    char *end;
    errno = 0;
    long long base = strtoll(num, &end, 10);
    if (!num[0] || *end || errno)
        return ent_err(c, k, "%s strconv.ParseInt: parsing \"%s\": %s", what, num,
                       errno == ERANGE ? "value out of range" : "invalid syntax");
    const char *suffixes = "KMGT", *p = strchr(suffixes, s[n - 1]);
    if (!p || !s[n - 1])
        return ent_err(c, k, "%s sizes defined as strings must end in K, M, G, T", what);
    int shift = 10 * (int)(p - suffixes + 1);
    if (base > (INT64_MAX >> shift) || base < (INT64_MIN >> shift))
        return ent_err(c, k, "%s strconv.ParseInt: parsing \"%s\": value out of range", what, num);
    *out = (int64_t)((uint64_t)base << shift);
    return 0;
}

static int set_store_dir(struct cfg *c, const struct conf_entry *k)
{
    if (c->store_dir_seen)
        return ent_err(c, k, "Duplicate 'store_dir' configuration");
    c->store_dir_seen = true;
    return opts__set_str(c, k, &c->o->store_dir);
}

/* jetstream { domain }: its API prefix $JS.<domain>.API must be a plain
 * subject; nats-server's texts. An empty domain is none. */
static int set_js_domain(struct cfg *c, const struct conf_entry *k)
{
    char **dom = &c->o->js_domain;
    int rc = opts__set_str(c, k, dom);
    if (rc < 0)
        return rc;
    if (!**dom) {
        free(*dom);
        *dom = NULL;
        return 0;
    }
    if (strpbrk(*dom, ".*>"))
        return ent_err(c, k, "invalid domain name: may not contain ., * or >");
    char api[512];
    int n = snprintf(api, sizeof api, "$JS.%s.API.>", *dom);
    if (n < 0 || (size_t)n >= sizeof api || !subject_valid_sub(api, (size_t)n))
        return ent_err(c, k, "invalid domain name: derived \"$JS.%s.API.>\" is not a valid "
                             "subject", *dom);
    return 0;
}

static int apply_jetstream(struct cfg *c, const struct conf_entry *e)
{
    struct tern_opts *o = c->o;
    const struct conf_value *v = e->val;
    if (v->type == CONF_BOOL) {
        o->jetstream = v->u.b;
        return 0;
    }
    if (v->type == CONF_STRING) {
        const char *s = v->u.str.s;
        if (!strcasecmp(s, "enabled") || !strcasecmp(s, "enable"))
            o->jetstream = true;
        else if (!strcasecmp(s, "disabled") || !strcasecmp(s, "disable"))
            o->jetstream = false;
        else
            return ent_err(c, e, "Expected 'enabled' or 'disabled' for string value, got '%s'", s);
        return 0;
    }
    if (v->type != CONF_MAP)
        return ent_err(c, e, "Expected map, bool or string to define JetStream, got %s",
                       opts__go_type(v));
    bool enable = true;
    int rc = 0;
    for (size_t i = 0; i < v->u.map.n && rc == 0; i++) {
        const struct conf_entry *k = &v->u.map.items[i];
        if (opts__key_is(k, "store store_dir storedir"))
            rc = set_store_dir(c, k);
        else if (opts__key_is(k, "max_memory_store max_mem_store max_mem"))
            rc = storage_size(c, k, "max_mem_store", &o->max_memory_store);
        else if (opts__key_is(k, "max_file_store max_file"))
            rc = storage_size(c, k, "max_file_store", &o->max_file_store);
        else if (opts__key_is(k, "enable enabled"))
            rc = as_bool(c, k, &enable);
        else if (opts__key_is(k, "domain"))
            rc = set_js_domain(c, k);
        else if (opts__key_is(k, "strict sync sync_interval key ek encryption_key prev_key "
                           "prev_ek prev_encryption_key cipher extension_hint limits tpm "
                           "unique_tag max_outstanding_catchup max_buffered_size "
                           "max_buffered_msgs request_queue_limit info_queue_limit"))
            rc = opts__ignored(c, k);
        else
            rc = opts__unknown_field(c, k);
    }
    if (rc == 0)
        o->jetstream = enable;
    return rc;
}

/* ---- top-level keys (§3.1) ---- */

static int size_limited(struct cfg *c, const struct conf_entry *e, int64_t *field)
{
    int64_t v = 0;
    int rc = opts__as_int(c, e, &v);
    if (rc < 0)
        return rc;
    if (v > INT32_MAX)
        return ent_err(c, e, "%s value is too big", e->key);
    *field = v;
    return 0;
}

static int lame_duck_value(struct cfg *c, const struct conf_entry *e, const char *field, int64_t *ns)
{
    const char *s = NULL;
    char why[200];
    int rc = as_str(c, e, &s);
    if (rc < 0)
        return rc;
    if (opts__parse_go_duration(s, ns, why, sizeof why) < 0)
        return ent_err(c, e, "error parsing %s: %s", field, why);
    return 0;
}

static int apply_lame_duck(struct cfg *c, const struct conf_entry *e)
{
    int64_t ns;
    char b[48];
    bool grace = opts__key_is(e, "lame_duck_grace_period");
    int rc = lame_duck_value(c, e, grace ? "lame_duck_grace_period" : "lame_duck_duration", &ns);
    if (rc < 0)
        return rc;
    if (grace) {
        if (ns < 0)
            return ent_err(c, e, "invalid lame_duck_grace_period, needs to be positive");
        c->o->lame_duck_grace_ms = ns / 1000000;
        return 0;
    }
    if (ns < 30LL * 1000000000)
        return ent_err(c, e, "invalid lame_duck_duration of %s, minimum is 30 seconds",
                       opts__fmt_ms(ns / 1000000, b));
    c->o->lame_duck_duration_ms = ns / 1000000;
    return 0;
}

static int apply_sub_tokens(struct cfg *c, const struct conf_entry *e)
{
    int64_t v = 0;
    int rc = opts__as_int(c, e, &v);
    if (rc < 0)
        return rc;
    if (v > 255)
        return ent_err(c, e, "%s value is too big", e->key);
    if (v <= 0)
        return ent_err(c, e, "%s value can not be negative", e->key);
    c->o->max_sub_tokens = v;
    return 0;
}

static int apply_max_conn(struct cfg *c, const struct conf_entry *e)
{
    int64_t v = 0;
    int rc = opts__as_int(c, e, &v);
    if (rc == 0)
        c->o->max_connections = v == 0 ? 65536 : v; /* 2.9: 0 means the default */
    return rc;
}

static int apply_threads(struct cfg *c, const struct conf_entry *e)
{
    int rc = as_int32(c, e, &c->o->threads);
    if (rc == 0 && c->o->threads < 0)
        return ent_err(c, e, "threads value can not be negative");
    return rc;
}

static int apply_server_name(struct cfg *c, const struct conf_entry *e)
{
    int rc = opts__set_str(c, e, &c->o->server_name);
    if (rc == 0 && strchr(c->o->server_name, ' '))
        return ent_err(c, e, "server name cannot contain spaces");
    return rc;
}

/* Keys nats-server accepts that change what a server does and Tern cannot
 * do yet: refused, since running without them would be a different server
 * than the one configured (open ports that are not there, operator JWTs
 * not checked, subjects not mapped, OCSP not checked). */
static const char refused_keys[] =
    "mappings maps resolver_tls resolver_pinned_accounts trusted trusted_keys "
    "ocsp proxy_protocol default_js_domain";

/* Leaf nodes, gateways, MQTT: a block that opens nothing (no port, no
 * listen address, no remotes or gateways to dial) is accepted as the
 * disabled feature it describes; anything else is refused. */
static const char listener_blocks[] = "leafnodes leaf gateway mqtt";

static int apply_listener_block(struct cfg *c, const struct conf_entry *e)
{
    if (e->val->type == CONF_MAP) {
        for (size_t i = 0; i < e->val->u.map.n; i++)
            if (opts__key_is(&e->val->u.map.items[i], "port listen host net remotes gateways"))
                return ent_err(c, e, "\"%s\" is not supported by Tern", e->key);
        return opts__ignored(c, e);
    }
    return ent_err(c, e, "\"%s\" is not supported by Tern", e->key);
}

/* Keys that only tune or describe (profiling, reports, tags, caches):
 * noted and ignored. */
static const char ignored_keys[] =
    "server_tags server_metadata no_system_account no_system no_sys_acc "
    "connect_error_reports reconnect_error_reports prof_port prof_block_rate ocsp_cache "
    "default_sentinel disable_sublist_cache no_sublist_cache trace_headers write_timeout "
    "feature_flags no_fast_producer_stall proxies";

/* Tern's own "console: <bool>" (server/console.h): on unless false. */
static int apply_console(struct cfg *c, const struct conf_entry *e)
{
    bool on = true;
    int rc = as_bool(c, e, &on);
    c->o->console_off = !on;
    return rc;
}

static int apply_key(struct cfg *c, const struct conf_entry *e)
{
    struct tern_opts *o = c->o;
    if (opts__key_is(e, "listen"))
        return parse_listen(c, e, &o->host, &o->port);
    if (opts__key_is(e, "port"))
        return as_int32(c, e, &o->port);
    if (opts__key_is(e, "host net"))
        return opts__set_str(c, e, &o->host);
    if (opts__key_is(e, "server_name"))
        return apply_server_name(c, e);
    if (opts__key_is(e, "client_advertise"))
        return opts__set_str(c, e, &o->client_advertise);
    if (opts__key_is(e, "threads"))
        return apply_threads(c, e);
    if (opts__key_is(e, "http"))
        return parse_listen(c, e, &o->http_host, &o->http_port);
    if (opts__key_is(e, "http_port monitor_port"))
        return as_int32(c, e, &o->http_port);
    if (opts__key_is(e, "http_base_path"))
        return opts__set_str(c, e, &o->http_base_path);
    if (opts__key_is(e, "console"))
        return apply_console(c, e);
    if (opts__key_is(e, "max_connections max_conn"))
        return apply_max_conn(c, e);
    if (opts__key_is(e, "max_payload"))
        return size_limited(c, e, &o->max_payload);
    if (opts__key_is(e, "max_control_line"))
        return size_limited(c, e, &o->max_control_line);
    if (opts__key_is(e, "max_pending"))
        return opts__as_int(c, e, &o->max_pending);
    if (opts__key_is(e, "max_subscriptions max_subs"))
        return opts__as_int(c, e, &o->max_subscriptions);
    if (opts__key_is(e, "max_sub_tokens max_subscription_tokens"))
        return apply_sub_tokens(c, e);
    if (opts__key_is(e, "ping_interval"))
        return as_duration(c, e, "ping_interval", &o->ping_interval_ms);
    if (opts__key_is(e, "ping_max"))
        return opts__as_int(c, e, &o->ping_max);
    if (opts__key_is(e, "write_deadline"))
        return as_duration(c, e, "write_deadline", &o->write_deadline_ms);
    if (opts__key_is(e, "lame_duck_duration lame_duck_grace_period"))
        return apply_lame_duck(c, e);
    if (opts__key_is(e, "no_header_support"))
        return as_bool(c, e, &o->no_header_support);
    if (opts__key_is(e, "max_closed_clients"))
        return opts__as_int(c, e, &o->max_closed_clients);
    if (opts__key_is(e, "debug"))
        return as_bool(c, e, &o->debug);
    if (opts__key_is(e, "trace"))
        return as_bool(c, e, &o->trace);
    if (opts__key_is(e, "trace_verbose")) {
        int rc = as_bool(c, e, &o->trace_verbose);
        o->trace = o->trace_verbose;
        return rc;
    }
    if (opts__key_is(e, "logtime"))
        return as_bool(c, e, &o->logtime);
    if (opts__key_is(e, "logtime_utc"))
        return as_bool(c, e, &o->logtime_utc);
    if (opts__key_is(e, "log_json"))
        return as_bool(c, e, &o->log_json);
    if (opts__key_is(e, "logfile log_file"))
        return opts__set_str(c, e, &o->log_file);
    if (opts__key_is(e, "logfile_size_limit log_size_limit"))
        return opts__as_int(c, e, &o->log_size_limit);
    if (opts__key_is(e, "logfile_max_num log_max_num"))
        return opts__as_int(c, e, &o->log_max_num);
    if (opts__key_is(e, "max_traced_msg_len"))
        return opts__as_int(c, e, &o->max_traced_msg_len);
    if (opts__key_is(e, "syslog"))
        return as_bool(c, e, &o->syslog);
    if (opts__key_is(e, "remote_syslog"))
        return opts__set_str(c, e, &o->remote_syslog);
    if (opts__key_is(e, "pidfile pid_file"))
        return opts__set_str(c, e, &o->pid_file);
    if (opts__key_is(e, "ports_file_dir"))
        return opts__set_str(c, e, &o->ports_file_dir);
    if (opts__key_is(e, "authorization"))
        return opts__apply_authorization(c, e);
    if (opts__key_is(e, "no_auth_user"))
        return opts__set_str(c, e, &o->no_auth_user);
    if (opts__key_is(e, "accounts"))
        return opts__apply_accounts(c, e);
    /* Operator mode: server/opts_operator.c. */
    if (opts__key_is(e, "operator operators roots root root_operators root_operator"))
        return opts__apply_operator(c, e);
    if (opts__key_is(e, "resolver account_resolver accounts_resolver"))
        return opts__apply_resolver(c, e);
    if (opts__key_is(e, "resolver_preload"))
        return opts__apply_preload(c, e);
    if (opts__key_is(e, "system_account system"))
        return opts__set_str(c, e, &o->system_account);
    if (opts__key_is(e, "cluster"))
        return apply_cluster(c, e);
    if (opts__key_is(e, "jetstream"))
        return apply_jetstream(c, e);
    if (opts__key_is(e, "store_dir storedir"))
        return set_store_dir(c, e);
    if (opts__key_is(e, "tls"))
        return opts__apply_tls(c, e);
    if (opts__key_is(e, "allow_non_tls"))
        return ent_err(c, e, "allow_non_tls is not supported by Tern: with a tls block every "
                             "client must use TLS");
    if (opts__key_is(e, "https"))
        return parse_listen(c, e, &o->http_host, &o->https_port);
    if (opts__key_is(e, "https_port"))
        return as_int32(c, e, &o->https_port);
    if (opts__key_is(e, "websocket ws"))
        return opts__apply_websocket(c, e);
    if (opts__key_is(e, listener_blocks))
        return apply_listener_block(c, e);
    if (opts__key_is(e, refused_keys))
        return ent_err(c, e, "\"%s\" is not supported by Tern", e->key);
    if (opts__key_is(e, ignored_keys))
        return opts__ignored(c, e);
    return opts__unknown_field(c, e);
}

int opts__load_config(struct tern_opts *o, const char *path, bool check, char *err,
                      size_t errlen)
{
    struct conf_doc *doc = NULL;
    struct cfg c = { .o = o, .err = err, .errlen = errlen, .check = check };
    int rc = conf_parse_file(path, NULL, &doc, err, errlen);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < doc->root->u.map.n && rc == 0; i++)
        rc = apply_key(&c, &doc->root->u.map.items[i]);
    if (rc == -ENOMEM)
        snprintf(err, errlen, "out of memory reading %s", path);
    /* nats-server -t fails on its warnings too (§1.1). */
    if (rc == 0 && check && c.first_warning) {
        snprintf(err, errlen, "%s", c.first_warning);
        rc = -EINVAL;
    }
    free(c.first_warning);
    conf_free(doc);
    return rc;
}
