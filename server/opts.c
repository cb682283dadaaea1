/*
 * server/opts.c — nats-server's command-line flags and config keys,
 * resolved into struct tern_opts.
 *
 * Flags are parsed as Go's flag package parses them, applied, then the
 * config file (parsed by conf.c into a tree) is applied key by key, then
 * the flags are applied again so a flag beats the file, then the result
 * is validated (spec/server-cli-config.md §1.8, §3, §6). Error texts copy
 * nats-server's so scripts that grep them keep working. Never touches the
 * network or the running server: reload compares two structs and nothing
 * else.
 */
#include "server/opts.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "server/conf.h"

#define MS_PER_S 1000LL
#define DEFAULT_CLUSTER_PORT 6222
#define MAX_PAYLOAD_WARN (8LL << 20)

/* ---- small helpers ---- */

static int dup_into(char **dst, const char *s)
{
    char *n = NULL;
    if (s && !(n = strdup(s)))
        return -ENOMEM;
    free(*dst);
    *dst = n;
    return 0;
}

static void free_strv(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static int strv_push(char ***v, size_t *n, const char *s)
{
    char *d = strdup(s);
    char **nv = d ? realloc(*v, (*n + 2) * sizeof *nv) : NULL;
    if (!nv) {
        free(d);
        return -ENOMEM;
    }
    nv[(*n)++] = d;
    nv[*n] = NULL;
    *v = nv;
    return 0;
}

int opts_add_warning(struct tern_opts *o, const char *fmt, ...)
{
    char line[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    return strv_push(&o->warnings, &o->nwarnings, line);
}

/* Go's time.Duration.String() for a whole number of milliseconds, used in
 * messages copied from nats-server ("2m0s", "1h30m0s", "250ms"). */
static const char *fmt_ms(int64_t ms, char buf[48])
{
    bool neg = ms < 0;
    uint64_t u = neg ? -(uint64_t)ms : (uint64_t)ms;
    const char *sign = neg ? "-" : "";
    if (u == 0)
        return "0s";
    if (u < 1000) {
        snprintf(buf, 48, "%s%llums", sign, (unsigned long long)u);
        return buf;
    }
    unsigned long long h = u / 3600000, m = u / 60000 % 60, s = u / 1000 % 60, f = u % 1000;
    char sec[24];
    if (f) {
        snprintf(sec, sizeof sec, "%llu.%03llu", s, f);
        for (size_t n = strlen(sec); sec[n - 1] == '0'; n--)
            sec[n - 1] = '\0';
    } else {
        snprintf(sec, sizeof sec, "%llu", s);
    }
    if (h)
        snprintf(buf, 48, "%s%lluh%llum%ss", sign, h, m, sec);
    else if (m)
        snprintf(buf, 48, "%s%llum%ss", sign, m, sec);
    else
        snprintf(buf, 48, "%s%ss", sign, sec);
    return buf;
}

/* Go's time.ParseDuration: "1h30m", "250ms", "1.5s", "-2m"; "0" alone
 * needs no unit. Result in nanoseconds; on error why holds Go's text. */
static int parse_go_duration(const char *orig, int64_t *ns, char *why, size_t whylen)
{
    static const struct { const char *unit; double ns; } units[] = {
        { "ns", 1 }, { "us", 1e3 }, { "\xc2\xb5s", 1e3 }, { "\xce\xbcs", 1e3 },
        { "ms", 1e6 }, { "s", 1e9 }, { "m", 60e9 }, { "h", 3600e9 },
    };
    const char *s = orig;
    bool neg = *s == '-';
    if (*s == '-' || *s == '+')
        s++;
    if (strcmp(s, "0") == 0) {
        *ns = 0;
        return 0;
    }
    if (!*s)
        goto err_invalid;
    double total = 0;
    while (*s) {
        const char *start = s;
        double v = 0;
        while (*s >= '0' && *s <= '9')
            v = v * 10 + (*s++ - '0');
        bool pre = s > start, post = false;
        if (*s == '.') {
            double scale = 0.1;
            for (s++; *s >= '0' && *s <= '9'; s++, scale /= 10, post = true)
                v += (*s - '0') * scale;
        }
        if (!pre && !post)
            goto err_invalid;
        const char *u = s;
        while (*s && *s != '.' && !(*s >= '0' && *s <= '9'))
            s++;
        size_t ul = (size_t)(s - u);
        if (ul == 0) {
            snprintf(why, whylen, "time: missing unit in duration \"%s\"", orig);
            return -EINVAL;
        }
        size_t i;
        for (i = 0; i < sizeof units / sizeof units[0]; i++)
            if (strlen(units[i].unit) == ul && strncmp(units[i].unit, u, ul) == 0)
                break;
        if (i == sizeof units / sizeof units[0]) {
            snprintf(why, whylen, "time: unknown unit \"%.*s\" in duration \"%s\"", (int)ul, u, orig);
            return -EINVAL;
        }
        total += v * units[i].ns;
        if (total > 9.2233720368547e18)
            goto err_invalid;
    }
    *ns = (int64_t)(neg ? -total : total);
    return 0;

err_invalid:
    snprintf(why, whylen, "time: invalid duration \"%s\"", orig);
    return -EINVAL;
}

/* ---- config context and errors ---- */

/* State of one config-file pass. Stack-allocated by load_config(). */
struct cfg {
    struct tern_opts *o;     /* borrowed */
    char *err;               /* borrowed: the caller's buffer */
    size_t errlen;
    bool check;              /* -t: nats-server's warnings are fatal */
    char *first_warning;     /* owned: first of those warnings */
    bool store_dir_seen;
};

static int at_err(struct cfg *c, const char *file, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static int at_err(struct cfg *c, const char *file, int line, int col, const char *fmt, ...)
{
    char reason[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    snprintf(c->err, c->errlen, "%s:%d:%d: %s", file, line, col, reason);
    return -EINVAL;
}

#define ent_err(c, e, ...) at_err((c), (e)->file, (e)->line, (e)->col, __VA_ARGS__)

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
static int ignored(struct cfg *c, const struct conf_entry *e)
{
    return opts_add_warning(c->o, "%s:%d:%d: \"%s\" is not supported by Tern yet and is ignored",
                            e->file, e->line, e->col, e->key);
}

static int unknown_field(struct cfg *c, const struct conf_entry *e)
{
    if (e->used_variable)
        return 0; /* a variable definition, not an option */
    return ent_err(c, e, "unknown field \"%s\"", e->key);
}

/* The Go type nats-server would name in its conversion errors. */
static const char *go_type(const struct conf_value *v)
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

static int type_err(struct cfg *c, const struct conf_entry *e, const char *want)
{
    return ent_err(c, e, "interface conversion: interface {} is %s, not %s", go_type(e->val), want);
}

static int as_int(struct cfg *c, const struct conf_entry *e, int64_t *out)
{
    if (e->val->type != CONF_INT)
        return type_err(c, e, "int64");
    *out = e->val->u.i;
    return 0;
}

static int as_int32(struct cfg *c, const struct conf_entry *e, int *out)
{
    int64_t v = 0;
    int rc = as_int(c, e, &v);
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
        return type_err(c, e, "bool");
    *out = e->val->u.b;
    return 0;
}

static int as_str(struct cfg *c, const struct conf_entry *e, const char **out)
{
    if (e->val->type != CONF_STRING)
        return type_err(c, e, "string");
    *out = e->val->u.str.s;
    return 0;
}

static int set_str(struct cfg *c, const struct conf_entry *e, char **field)
{
    const char *s = NULL;
    int rc = as_str(c, e, &s);
    return rc < 0 ? rc : dup_into(field, s);
}

static bool key_is(const struct conf_entry *e, const char *names)
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
        if (parse_go_duration(e->val->u.str.s, &ns, why, sizeof why) < 0)
            return ent_err(c, e, "error parsing %s: %s", field, why);
        *ms = ns / 1000000;
        return 0;
    }
    if (e->val->type != CONF_INT)
        return type_err(c, e, "int64");
    char reason[128];
    snprintf(reason, sizeof reason, "%s should be converted to a duration", field);
    if (e->val->u.i > INT64_MAX / MS_PER_S || e->val->u.i < INT64_MIN / MS_PER_S)
        return ent_err(c, e, "%s value is out of range", field);
    *ms = e->val->u.i * MS_PER_S;
    return nats_warning(c, e, reason);
}

/* "host:port", "[v6]:port" or a bare port (net.SplitHostPort rules). */
static int split_host_port(const char *s, char **host, int *port, char *why, size_t whylen)
{
    const char *colon = strrchr(s, ':');
    if (!colon) {
        snprintf(why, whylen, "could not parse address string \"%s\"", s);
        return -EINVAL;
    }
    const char *h = s, *he = colon;
    if (*s == '[') {
        const char *rb = strchr(s, ']');
        if (!rb || rb + 1 != colon) {
            snprintf(why, whylen, "could not parse address string \"%s\"", s);
            return -EINVAL;
        }
        h = s + 1;
        he = rb;
    } else if (memchr(s, ':', (size_t)(colon - s))) {
        snprintf(why, whylen, "could not parse address string \"%s\"", s);
        return -EINVAL; /* too many colons: IPv6 needs brackets */
    }
    char *end;
    errno = 0;
    long p = strtol(colon + 1, &end, 10);
    if (!colon[1] || *end || errno || p < INT_MIN || p > INT_MAX) {
        snprintf(why, whylen, "could not parse port \"%s\"", colon + 1);
        return -EINVAL;
    }
    char *hs = strndup(h, (size_t)(he - h));
    if (!hs)
        return -ENOMEM;
    free(*host);
    *host = hs;
    *port = (int)p;
    return 0;
}

/* listen/http: host:port string or a port number. */
static int parse_listen(struct cfg *c, const struct conf_entry *e, char **host, int *port)
{
    if (e->val->type == CONF_INT) {
        if (e->val->u.i < INT_MIN || e->val->u.i > INT_MAX)
            return ent_err(c, e, "%s value is out of range", e->key);
        *port = (int)e->val->u.i;
        return dup_into(host, "0.0.0.0");
    }
    if (e->val->type != CONF_STRING)
        return ent_err(c, e, "expected port or host:port, got %s", go_type(e->val));
    char why[300];
    int rc = split_host_port(e->val->u.str.s, host, port, why, sizeof why);
    if (rc == -EINVAL)
        return ent_err(c, e, "%s", why);
    return rc;
}

/* ---- authorization (§3.2) ---- */

static bool valid_subject(const char *s)
{
    if (!*s)
        return false;
    for (const char *t = s;;) {
        size_t l = strcspn(t, ".");
        if (l == 0)
            return false;
        for (size_t i = 0; i < l; i++)
            if (t[i] == ' ' || t[i] == '\t' || t[i] == '\r' || t[i] == '\n')
                return false;
        if (t[l] == '\0')
            return true;
        if (l == 1 && t[0] == '>')
            return false; /* '>' must be the last token */
        t += l + 1;
    }
}

/* checkPermSubjectArray: subscribe entries may be "subject queue". */
static int check_subject(struct cfg *c, const struct conf_entry *e, const char *s, bool queue_ok)
{
    if (valid_subject(s))
        return 0;
    char subj[256], queue[256], extra[2];
    int n = queue_ok ? sscanf(s, "%255s %255s %1s", subj, queue, extra) : 0;
    if (n != 2)
        return ent_err(c, e, "subject \"%s\" is not a valid subject", s);
    if (!valid_subject(subj))
        return ent_err(c, e, "subject \"%s\" is not a valid subject", subj);
    if (!valid_subject(queue))
        return ent_err(c, e, "queue \"%s\" is not a valid queue", queue);
    return 0;
}

static int parse_subjects(struct cfg *c, const struct conf_entry *e, bool queue_ok,
                          char ***list, size_t *n)
{
    const struct conf_value *v = e->val;
    char **out = calloc(1, sizeof *out); /* non-NULL even when empty: an explicit list */
    size_t cnt = 0;
    int rc = 0;
    if (!out)
        return -ENOMEM;
    if (v->type == CONF_STRING) {
        rc = strv_push(&out, &cnt, v->u.str.s);
    } else if (v->type == CONF_ARRAY) {
        for (size_t i = 0; i < v->u.arr.n && rc == 0; i++) {
            if (v->u.arr.items[i]->type != CONF_STRING)
                rc = ent_err(c, e, "Subject in permissions array cannot be cast to string");
            else
                rc = strv_push(&out, &cnt, v->u.arr.items[i]->u.str.s);
        }
    } else {
        rc = ent_err(c, e, "Expected subject permissions to be a subject, or array of subjects, "
                           "got %s", go_type(v));
    }
    for (size_t i = 0; i < cnt && rc == 0; i++)
        rc = check_subject(c, e, out[i], queue_ok);
    if (rc < 0) {
        free_strv(out, cnt);
        return rc;
    }
    free_strv(*list, *n);
    *list = out;
    *n = cnt;
    return 0;
}

static void free_perm(struct opts_perm *p)
{
    free_strv(p->allow, p->nallow);
    free_strv(p->deny, p->ndeny);
    memset(p, 0, sizeof *p);
}

static void free_permissions(struct opts_permissions *p)
{
    free_perm(&p->publish);
    free_perm(&p->subscribe);
}

/* publish/subscribe: a subject, an array (= allow), or { allow, deny }. */
static int parse_perm(struct cfg *c, const struct conf_entry *e, bool queue_ok, struct opts_perm *p)
{
    if (e->val->type != CONF_MAP)
        return parse_subjects(c, e, queue_ok, &p->allow, &p->nallow);
    const struct conf_value *m = e->val;
    for (size_t i = 0; i < m->u.map.n; i++) {
        const struct conf_entry *k = &m->u.map.items[i];
        int rc;
        if (key_is(k, "allow"))
            rc = parse_subjects(c, k, queue_ok, &p->allow, &p->nallow);
        else if (key_is(k, "deny"))
            rc = parse_subjects(c, k, queue_ok, &p->deny, &p->ndeny);
        else if (k->used_variable)
            rc = 0;
        else
            rc = ent_err(c, k, "Unknown field name \"%s\" parsing subject permissions, only "
                               "'allow' or 'deny' are permitted", k->key);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int parse_allow_responses(struct cfg *c, const struct conf_entry *e, struct opts_permissions *p)
{
    p->responses_max = 1;
    p->responses_expires_ms = 2 * 60 * MS_PER_S;
    if (e->val->type == CONF_BOOL) {
        p->allow_responses = e->val->u.b;
        return 0;
    }
    if (e->val->type != CONF_MAP)
        return ent_err(c, e, "error parsing response permissions, expected a boolean or a map");
    p->allow_responses = true;
    const struct conf_value *m = e->val;
    for (size_t i = 0; i < m->u.map.n; i++) {
        const struct conf_entry *k = &m->u.map.items[i];
        int rc = 0;
        if (key_is(k, "max max_msgs max_messages max_responses")) {
            int64_t v = 0;
            if ((rc = as_int(c, k, &v)) == 0 && v != 0)
                p->responses_max = v;
        } else if (key_is(k, "expires expiration ttl")) {
            int64_t ns;
            char why[200];
            if (k->val->type != CONF_STRING)
                rc = ent_err(c, k, "error parsing expires, not a duration string");
            else if (parse_go_duration(k->val->u.str.s, &ns, why, sizeof why) < 0)
                rc = ent_err(c, k, "error parsing expires: %s", why);
            else if (ns != 0)
                p->responses_expires_ms = ns / 1000000;
        } else if (!k->used_variable) {
            rc = ent_err(c, k, "Unknown field \"%s\" parsing permissions", k->key);
        }
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int parse_permissions(struct cfg *c, const struct conf_entry *e, struct opts_permissions *p)
{
    if (e->val->type != CONF_MAP)
        return ent_err(c, e, "Expected permissions to be a map/struct, got %s", go_type(e->val));
    const struct conf_value *m = e->val;
    int rc = 0;
    for (size_t i = 0; i < m->u.map.n && rc == 0; i++) {
        const struct conf_entry *k = &m->u.map.items[i];
        if (key_is(k, "pub publish import"))
            rc = parse_perm(c, k, true, &p->publish); /* 2.9 accepts "subject queue" here too */
        else if (key_is(k, "sub subscribe export"))
            rc = parse_perm(c, k, true, &p->subscribe);
        else if (key_is(k, "publish_allow_responses allow_responses"))
            rc = parse_allow_responses(c, k, p);
        else if (!k->used_variable)
            rc = ent_err(c, k, "Unknown field \"%s\" parsing permissions", k->key);
    }
    /* As nats-server: responses without a publish allow list mean "publish
     * only to reply subjects", an explicit empty allow list. */
    if (rc == 0 && p->allow_responses && !p->publish.allow &&
        !(p->publish.allow = calloc(1, sizeof(char *))))
        rc = -ENOMEM;
    return rc;
}

/* A public user NKEY: 'U' and 55 more base32 characters. The checksum is
 * left to auth.c, which decodes the key anyway. */
static bool plausible_user_nkey(const char *k)
{
    if (k[0] != 'U' || strlen(k) != 56)
        return false;
    for (const char *p = k; *p; p++)
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= '2' && *p <= '7')))
            return false;
    return true;
}

static void free_user(struct opts_user *u)
{
    free(u->user);
    free(u->password);
    free(u->nkey);
    free_permissions(&u->permissions);
}

static int parse_user(struct cfg *c, const struct conf_entry *arr_e, const struct conf_value *v,
                      struct opts_user *u)
{
    if (v->type != CONF_MAP)
        return at_err(c, v->file, v->line, v->col, "Expected user entry to be a map/struct, got %s",
                      go_type(v));
    int rc = 0;
    for (size_t i = 0; i < v->u.map.n && rc == 0; i++) {
        const struct conf_entry *k = &v->u.map.items[i];
        if (key_is(k, "nkey"))
            rc = set_str(c, k, &u->nkey);
        else if (key_is(k, "user username"))
            rc = set_str(c, k, &u->user);
        else if (key_is(k, "pass password"))
            rc = set_str(c, k, &u->password);
        else if (key_is(k, "permission permissions authorization")) {
            free_permissions(&u->permissions);
            rc = parse_permissions(c, k, &u->permissions);
            u->has_permissions = true;
        } else if (key_is(k, "allowed_connection_types connection_types clients proxy_required"))
            rc = ignored(c, k);
        else
            rc = unknown_field(c, k);
    }
    if (rc < 0)
        return rc;
    (void)arr_e;
    if (!u->nkey && !u->user)
        return at_err(c, v->file, v->line, v->col, "User entry requires a user");
    if (u->nkey && !plausible_user_nkey(u->nkey))
        return at_err(c, v->file, v->line, v->col, "Not a valid public nkey for a user");
    if (u->nkey && (u->user || u->password))
        return at_err(c, v->file, v->line, v->col, "Nkey users do not take usernames or passwords");
    return 0;
}

/* Everything an authorization block may hold, before it is applied. */
struct auth_block {
    char *user, *password, *token;
    double timeout_s;
    bool has_timeout;
    bool has_users;              /* "users" present, even empty */
    struct opts_user *users;     /* owned */
    size_t nusers;
    bool has_default_permissions;
    struct opts_permissions default_permissions;
};

static void free_auth_block(struct auth_block *a)
{
    free(a->user);
    free(a->password);
    free(a->token);
    for (size_t i = 0; i < a->nusers; i++)
        free_user(&a->users[i]);
    free(a->users);
    free_permissions(&a->default_permissions);
    memset(a, 0, sizeof *a);
}

static int parse_users(struct cfg *c, const struct conf_entry *e, struct auth_block *a)
{
    if (e->val->type != CONF_ARRAY)
        return ent_err(c, e, "Expected users field to be an array, got %s", go_type(e->val));
    const struct conf_value *arr = e->val;
    for (size_t i = 0; i < a->nusers; i++)
        free_user(&a->users[i]);
    free(a->users);
    a->nusers = 0;
    a->has_users = true;
    if (!(a->users = calloc(arr->u.arr.n + 1, sizeof *a->users)))
        return -ENOMEM;
    for (size_t i = 0; i < arr->u.arr.n; i++) {
        int rc = parse_user(c, e, arr->u.arr.items[i], &a->users[a->nusers]);
        a->nusers++;
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int parse_auth_timeout(struct cfg *c, const struct conf_entry *k, struct auth_block *a)
{
    const struct conf_value *v = k->val;
    if (v->type == CONF_INT) {
        a->timeout_s = (double)v->u.i;
    } else if (v->type == CONF_FLOAT) {
        a->timeout_s = v->u.f;
    } else if (v->type == CONF_STRING) {
        int64_t ns;
        char why[200];
        if (parse_go_duration(v->u.str.s, &ns, why, sizeof why) < 0)
            return ent_err(c, k, "error parsing authorization config, 'timeout' %s", why);
        a->timeout_s = (double)ns / 1e9;
    } else {
        return ent_err(c, k, "error parsing authorization config, 'timeout' wrong type");
    }
    a->has_timeout = true;
    /* Newer nats-servers warn here; 2.9 does not, so -t must not fail. */
    if (a->timeout_s > 60)
        return opts_add_warning(c->o, "%s:%d:%d: authorization timeout of %g seconds is high; "
                                "an unquoted duration such as 1m is read as 1000000 seconds",
                                k->file, k->line, k->col, a->timeout_s);
    return 0;
}

static int parse_auth_block(struct cfg *c, const struct conf_entry *e, struct auth_block *a)
{
    if (e->val->type != CONF_MAP)
        return type_err(c, e, "map[string]interface {}");
    const struct conf_value *m = e->val;
    int rc = 0;
    for (size_t i = 0; i < m->u.map.n && rc == 0; i++) {
        const struct conf_entry *k = &m->u.map.items[i];
        if (key_is(k, "user username"))
            rc = set_str(c, k, &a->user);
        else if (key_is(k, "pass password"))
            rc = set_str(c, k, &a->password);
        else if (key_is(k, "token"))
            rc = set_str(c, k, &a->token);
        else if (key_is(k, "timeout"))
            rc = parse_auth_timeout(c, k, a);
        else if (key_is(k, "users"))
            rc = parse_users(c, k, a);
        else if (key_is(k, "default_permission default_permissions permissions")) {
            free_permissions(&a->default_permissions);
            rc = parse_permissions(c, k, &a->default_permissions);
            a->has_default_permissions = true;
        } else if (key_is(k, "auth_callout auth_hook proxy_required"))
            rc = ignored(c, k);
        else
            rc = unknown_field(c, k);
    }
    return rc;
}

static int apply_authorization(struct cfg *c, const struct conf_entry *e)
{
    struct tern_opts *o = c->o;
    struct auth_block a = { 0 };
    int rc = parse_auth_block(c, e, &a);
    if (rc < 0)
        goto out;
    if ((a.user || a.password) && a.token) {
        rc = ent_err(c, e, "Cannot have a user/pass and token");
        goto out;
    }
    if (a.has_users && a.user) {
        rc = ent_err(c, e, "Can not have a single user/pass and a users array");
        goto out;
    }
    if (a.has_users && a.token) {
        rc = ent_err(c, e, "Can not have a token and a users array");
        goto out;
    }
    for (size_t i = 0; i < a.nusers; i++)
        for (size_t j = 0; j < i; j++) {
            const char *x = a.users[i].user ? a.users[i].user : a.users[i].nkey;
            const char *y = a.users[j].user ? a.users[j].user : a.users[j].nkey;
            if (strcmp(x, y) == 0) {
                rc = ent_err(c, e, a.users[i].user ? "Duplicate user \"%s\" detected"
                                                   : "Duplicate nkey \"%s\" detected", x);
                goto out;
            }
        }
    /* The block replaces whatever auth an earlier block set. */
    free(o->user);
    free(o->password);
    free(o->token);
    o->user = a.user;
    o->password = a.password;
    o->token = a.token;
    a.user = a.password = a.token = NULL;
    o->auth_timeout_s = a.has_timeout ? a.timeout_s : 2;
    for (size_t i = 0; i < o->nusers; i++)
        free_user(&o->users[i]);
    free(o->users);
    o->users = a.users;
    o->nusers = a.nusers;
    a.users = NULL;
    a.nusers = 0;
    free_permissions(&o->default_permissions);
    o->has_default_permissions = a.has_default_permissions;
    o->default_permissions = a.default_permissions;
    memset(&a.default_permissions, 0, sizeof a.default_permissions);
out:
    free_auth_block(&a);
    return rc;
}

/* ---- cluster (§3.4) ---- */

static int parse_routes_value(struct cfg *c, const struct conf_entry *e)
{
    struct tern_opts *o = c->o;
    if (e->val->type != CONF_ARRAY)
        return type_err(c, e, "[]interface {}");
    char **routes = NULL;
    size_t n = 0;
    int rc = 0;
    for (size_t i = 0; i < e->val->u.arr.n && rc == 0; i++) {
        const struct conf_value *r = e->val->u.arr.items[i];
        if (r->type != CONF_STRING)
            rc = at_err(c, r->file, r->line, r->col, "error parsing route url [%s]", go_type(r));
        else if (!strstr(r->u.str.s, "://"))
            rc = at_err(c, r->file, r->line, r->col, "error parsing route url [\"%s\"]", r->u.str.s);
        else
            rc = strv_push(&routes, &n, r->u.str.s);
    }
    if (rc < 0) {
        free_strv(routes, n);
        return rc;
    }
    free_strv(o->routes, o->nroutes);
    o->routes = routes;
    o->nroutes = n;
    return 0;
}

static int apply_cluster_auth(struct cfg *c, const struct conf_entry *k)
{
    struct auth_block a = { 0 };
    int rc = parse_auth_block(c, k, &a);
    if (rc == 0 && a.has_users)
        rc = ent_err(c, k, "Cluster authorization does not allow multiple users");
    if (rc == 0 && a.token)
        rc = ent_err(c, k, "Cluster authorization does not support tokens");
    if (rc == 0) {
        free(c->o->cluster_user);
        free(c->o->cluster_password);
        c->o->cluster_user = a.user;
        c->o->cluster_password = a.password;
        a.user = a.password = NULL;
        c->o->cluster_auth_timeout_s = a.has_timeout ? a.timeout_s : 2;
    }
    free_auth_block(&a);
    return rc;
}

static int apply_cluster(struct cfg *c, const struct conf_entry *e)
{
    struct tern_opts *o = c->o;
    if (e->val->type != CONF_MAP)
        return ent_err(c, e, "Expected map to define cluster, got %s", go_type(e->val));
    const struct conf_value *m = e->val;
    int rc = 0;
    for (size_t i = 0; i < m->u.map.n && rc == 0; i++) {
        const struct conf_entry *k = &m->u.map.items[i];
        if (key_is(k, "name")) {
            if ((rc = set_str(c, k, &o->cluster_name)) == 0 && strchr(o->cluster_name, ' '))
                rc = ent_err(c, k, "cluster name cannot contain spaces");
        } else if (key_is(k, "listen")) {
            rc = parse_listen(c, k, &o->cluster_host, &o->cluster_port);
        } else if (key_is(k, "port")) {
            rc = as_int32(c, k, &o->cluster_port);
        } else if (key_is(k, "host net")) {
            rc = set_str(c, k, &o->cluster_host);
        } else if (key_is(k, "authorization")) {
            rc = apply_cluster_auth(c, k);
        } else if (key_is(k, "routes")) {
            rc = parse_routes_value(c, k);
        } else if (key_is(k, "cluster_advertise advertise")) {
            rc = set_str(c, k, &o->cluster_advertise);
        } else if (key_is(k, "no_advertise")) {
            rc = as_bool(c, k, &o->no_advertise);
        } else if (key_is(k, "connect_retries")) {
            rc = as_int(c, k, &o->connect_retries);
        } else if (key_is(k, "tls permissions pool_size accounts compression ping_interval "
                             "ping_max write_deadline write_timeout connect_backoff")) {
            rc = ignored(c, k);
        } else {
            rc = unknown_field(c, k);
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
    return set_str(c, k, &c->o->store_dir);
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
        return ent_err(c, e, "Expected map, bool or string to define JetStream, got %s", go_type(v));
    bool enable = true;
    int rc = 0;
    for (size_t i = 0; i < v->u.map.n && rc == 0; i++) {
        const struct conf_entry *k = &v->u.map.items[i];
        if (key_is(k, "store store_dir storedir"))
            rc = set_store_dir(c, k);
        else if (key_is(k, "max_memory_store max_mem_store max_mem"))
            rc = storage_size(c, k, "max_mem_store", &o->max_memory_store);
        else if (key_is(k, "max_file_store max_file"))
            rc = storage_size(c, k, "max_file_store", &o->max_file_store);
        else if (key_is(k, "enable enabled"))
            rc = as_bool(c, k, &enable);
        else if (key_is(k, "strict sync sync_interval domain key ek encryption_key prev_key "
                           "prev_ek prev_encryption_key cipher extension_hint limits tpm "
                           "unique_tag max_outstanding_catchup max_buffered_size "
                           "max_buffered_msgs request_queue_limit info_queue_limit"))
            rc = ignored(c, k);
        else
            rc = unknown_field(c, k);
    }
    if (rc == 0)
        o->jetstream = enable;
    return rc;
}

/* ---- top-level keys (§3.1) ---- */

static int size_limited(struct cfg *c, const struct conf_entry *e, int64_t *field)
{
    int64_t v = 0;
    int rc = as_int(c, e, &v);
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
    if (parse_go_duration(s, ns, why, sizeof why) < 0)
        return ent_err(c, e, "error parsing %s: %s", field, why);
    return 0;
}

static int apply_lame_duck(struct cfg *c, const struct conf_entry *e)
{
    int64_t ns;
    char b[48];
    bool grace = key_is(e, "lame_duck_grace_period");
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
                       fmt_ms(ns / 1000000, b));
    c->o->lame_duck_duration_ms = ns / 1000000;
    return 0;
}

static int apply_sub_tokens(struct cfg *c, const struct conf_entry *e)
{
    int64_t v = 0;
    int rc = as_int(c, e, &v);
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
    int rc = as_int(c, e, &v);
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
    int rc = set_str(c, e, &c->o->server_name);
    if (rc == 0 && strchr(c->o->server_name, ' '))
        return ent_err(c, e, "server name cannot contain spaces");
    return rc;
}

/* Keys nats-server accepts that Tern does not implement yet. */
static const char ignored_keys[] =
    "tls allow_non_tls https https_port websocket ws leafnodes leaf gateway mqtt accounts "
    "mappings maps server_tags server_metadata operator operators roots root root_operators "
    "root_operator resolver account_resolver accounts_resolver resolver_tls resolver_preload "
    "resolver_pinned_accounts trusted trusted_keys system_account system no_system_account "
    "no_system no_sys_acc connect_error_reports reconnect_error_reports prof_port "
    "prof_block_rate ocsp ocsp_cache default_sentinel disable_sublist_cache no_sublist_cache "
    "trace_headers proxy_protocol write_timeout feature_flags default_js_domain "
    "no_fast_producer_stall proxies";

static int apply_key(struct cfg *c, const struct conf_entry *e)
{
    struct tern_opts *o = c->o;
    if (key_is(e, "listen"))
        return parse_listen(c, e, &o->host, &o->port);
    if (key_is(e, "port"))
        return as_int32(c, e, &o->port);
    if (key_is(e, "host net"))
        return set_str(c, e, &o->host);
    if (key_is(e, "server_name"))
        return apply_server_name(c, e);
    if (key_is(e, "client_advertise"))
        return set_str(c, e, &o->client_advertise);
    if (key_is(e, "threads"))
        return apply_threads(c, e);
    if (key_is(e, "http"))
        return parse_listen(c, e, &o->http_host, &o->http_port);
    if (key_is(e, "http_port monitor_port"))
        return as_int32(c, e, &o->http_port);
    if (key_is(e, "http_base_path"))
        return set_str(c, e, &o->http_base_path);
    if (key_is(e, "max_connections max_conn"))
        return apply_max_conn(c, e);
    if (key_is(e, "max_payload"))
        return size_limited(c, e, &o->max_payload);
    if (key_is(e, "max_control_line"))
        return size_limited(c, e, &o->max_control_line);
    if (key_is(e, "max_pending"))
        return as_int(c, e, &o->max_pending);
    if (key_is(e, "max_subscriptions max_subs"))
        return as_int(c, e, &o->max_subscriptions);
    if (key_is(e, "max_sub_tokens max_subscription_tokens"))
        return apply_sub_tokens(c, e);
    if (key_is(e, "ping_interval"))
        return as_duration(c, e, "ping_interval", &o->ping_interval_ms);
    if (key_is(e, "ping_max"))
        return as_int(c, e, &o->ping_max);
    if (key_is(e, "write_deadline"))
        return as_duration(c, e, "write_deadline", &o->write_deadline_ms);
    if (key_is(e, "lame_duck_duration lame_duck_grace_period"))
        return apply_lame_duck(c, e);
    if (key_is(e, "no_header_support"))
        return as_bool(c, e, &o->no_header_support);
    if (key_is(e, "max_closed_clients"))
        return as_int(c, e, &o->max_closed_clients);
    if (key_is(e, "debug"))
        return as_bool(c, e, &o->debug);
    if (key_is(e, "trace"))
        return as_bool(c, e, &o->trace);
    if (key_is(e, "trace_verbose")) {
        int rc = as_bool(c, e, &o->trace_verbose);
        o->trace = o->trace_verbose;
        return rc;
    }
    if (key_is(e, "logtime"))
        return as_bool(c, e, &o->logtime);
    if (key_is(e, "logtime_utc"))
        return as_bool(c, e, &o->logtime_utc);
    if (key_is(e, "logfile log_file"))
        return set_str(c, e, &o->log_file);
    if (key_is(e, "logfile_size_limit log_size_limit"))
        return as_int(c, e, &o->log_size_limit);
    if (key_is(e, "logfile_max_num log_max_num"))
        return as_int(c, e, &o->log_max_num);
    if (key_is(e, "max_traced_msg_len"))
        return as_int(c, e, &o->max_traced_msg_len);
    if (key_is(e, "syslog"))
        return as_bool(c, e, &o->syslog);
    if (key_is(e, "remote_syslog"))
        return set_str(c, e, &o->remote_syslog);
    if (key_is(e, "pidfile pid_file"))
        return set_str(c, e, &o->pid_file);
    if (key_is(e, "ports_file_dir"))
        return set_str(c, e, &o->ports_file_dir);
    if (key_is(e, "authorization"))
        return apply_authorization(c, e);
    if (key_is(e, "no_auth_user"))
        return set_str(c, e, &o->no_auth_user);
    if (key_is(e, "cluster"))
        return apply_cluster(c, e);
    if (key_is(e, "jetstream"))
        return apply_jetstream(c, e);
    if (key_is(e, "store_dir storedir"))
        return set_store_dir(c, e);
    if (key_is(e, ignored_keys))
        return ignored(c, e);
    return unknown_field(c, e);
}

static int load_config(struct tern_opts *o, const char *path, bool check, char *err, size_t errlen)
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

/* ---- command-line flags (§1), parsed as Go's flag package does ---- */

enum flag_kind { FK_BOOL, FK_INT, FK_STR };

enum flag_id {
    F_HELP, F_VERSION, F_HELP_TLS, F_PORT, F_NAME, F_ADDR, F_CLIENT_ADV, F_DEBUG, F_TRACE,
    F_VV, F_DV, F_DVV, F_LOGTIME, F_LOGTIME_UTC, F_USER, F_PASS, F_AUTH, F_HTTP_PORT,
    F_HTTPS_PORT, F_CONFIG, F_TEST, F_SIGNAL, F_PID, F_PORTS_DIR, F_LOG, F_LOG_SIZE, F_SYSLOG,
    F_REMOTE_SYSLOG, F_PROFILE, F_ROUTES, F_CLUSTER, F_CLUSTER_ADV, F_NO_ADV, F_RETRIES,
    F_CLUSTER_NAME, F_TLS, F_TLS_FILE, F_TRACED_LEN, F_JS, F_STORE_DIR, F_THREADS,
};

struct flag_def {
    const char *names;   /* space-separated */
    enum flag_kind kind;
    enum flag_id id;
};

static const struct flag_def flag_defs[] = {
    { "h help", FK_BOOL, F_HELP },
    { "v version", FK_BOOL, F_VERSION },
    { "help_tls", FK_BOOL, F_HELP_TLS },
    { "p port", FK_INT, F_PORT },
    { "n name server_name", FK_STR, F_NAME },
    { "a addr net", FK_STR, F_ADDR },
    { "client_advertise", FK_STR, F_CLIENT_ADV },
    { "D debug", FK_BOOL, F_DEBUG },
    { "V trace", FK_BOOL, F_TRACE },
    { "VV", FK_BOOL, F_VV },
    { "DV", FK_BOOL, F_DV },
    { "DVV", FK_BOOL, F_DVV },
    { "T logtime", FK_BOOL, F_LOGTIME },
    { "logtime_utc", FK_BOOL, F_LOGTIME_UTC },
    { "user", FK_STR, F_USER },
    { "pass", FK_STR, F_PASS },
    { "auth", FK_STR, F_AUTH },
    { "m http_port", FK_INT, F_HTTP_PORT },
    { "ms https_port", FK_INT, F_HTTPS_PORT },
    { "c config", FK_STR, F_CONFIG },
    { "t", FK_BOOL, F_TEST },
    { "sl signal", FK_STR, F_SIGNAL },
    { "P pid", FK_STR, F_PID },
    { "ports_file_dir", FK_STR, F_PORTS_DIR },
    { "l log", FK_STR, F_LOG },
    { "log_size_limit", FK_INT, F_LOG_SIZE },
    { "s syslog", FK_BOOL, F_SYSLOG },
    { "r remote_syslog", FK_STR, F_REMOTE_SYSLOG },
    { "profile", FK_INT, F_PROFILE },
    { "routes", FK_STR, F_ROUTES },
    { "cluster cluster_listen", FK_STR, F_CLUSTER },
    { "cluster_advertise", FK_STR, F_CLUSTER_ADV },
    { "no_advertise", FK_BOOL, F_NO_ADV },
    { "connect_retries", FK_INT, F_RETRIES },
    { "cluster_name", FK_STR, F_CLUSTER_NAME },
    { "tls tlsverify", FK_BOOL, F_TLS },
    { "tlscert tlskey tlscacert", FK_STR, F_TLS_FILE },
    { "max_traced_msg_len", FK_INT, F_TRACED_LEN },
    { "js jetstream", FK_BOOL, F_JS },
    { "sd store_dir", FK_STR, F_STORE_DIR },
    { "threads", FK_INT, F_THREADS },
};

/* One flag as given on the command line. */
struct flag_set {
    const struct flag_def *def;
    const char *name;    /* borrowed from argv: the name as typed */
    size_t namelen;
    const char *str;     /* borrowed from argv */
    bool b;
    long long i;
};

/* The parsed command line. Allocated by parse_flags(), freed by the caller. */
struct flags {
    struct flag_set *set;
    size_t n;
    bool help, version, test, routes_given;
    const char *config;  /* borrowed from argv */
    const char *signal;  /* borrowed from argv */
};

static const struct flag_def *find_flag(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof flag_defs / sizeof flag_defs[0]; i++) {
        for (const char *n = flag_defs[i].names; *n;) {
            size_t l = strcspn(n, " ");
            if (l == len && strncmp(n, name, len) == 0)
                return &flag_defs[i];
            n += l;
            while (*n == ' ')
                n++;
        }
    }
    return NULL;
}

static bool go_parse_bool(const char *s, bool *out)
{
    static const char *const t[] = { "1", "t", "T", "TRUE", "true", "True" };
    static const char *const f[] = { "0", "f", "F", "FALSE", "false", "False" };
    for (int i = 0; i < 6; i++) {
        if (strcmp(s, t[i]) == 0)
            return (*out = true);
        if (strcmp(s, f[i]) == 0)
            return !(*out = false);
    }
    return false;
}

/* One argument (and maybe its value). Returns 1 at the first non-flag. */
static int parse_one_flag(int argc, char **argv, int *i, struct flag_set *fs, char *err, size_t errlen)
{
    const char *s = argv[*i];
    if (strlen(s) < 2 || s[0] != '-')
        return 1;
    int dashes = s[1] == '-' ? 2 : 1;
    if (dashes == 2 && s[2] == '\0') {
        (*i)++;
        return 1; /* "--" ends the flags */
    }
    const char *name = s + dashes;
    if (name[0] == '-' || name[0] == '=') {
        snprintf(err, errlen, "bad flag syntax: %s", s);
        return -EINVAL;
    }
    const char *eq = strchr(name, '=');
    size_t len = eq ? (size_t)(eq - name) : strlen(name);
    const struct flag_def *def = find_flag(name, len);
    if (!def) {
        snprintf(err, errlen, "flag provided but not defined: -%.*s", (int)len, name);
        return -EINVAL;
    }
    *fs = (struct flag_set){ .def = def, .name = name, .namelen = len };
    (*i)++;
    if (def->kind == FK_BOOL) {
        fs->b = true;
        if (eq && !go_parse_bool(eq + 1, &fs->b)) {
            snprintf(err, errlen, "invalid boolean value \"%s\" for -%.*s: parse error", eq + 1,
                     (int)len, name);
            return -EINVAL;
        }
        return 0;
    }
    const char *val = eq ? eq + 1 : NULL;
    if (!val && *i < argc)
        val = argv[(*i)++];
    if (!val) {
        snprintf(err, errlen, "flag needs an argument: -%.*s", (int)len, name);
        return -EINVAL;
    }
    fs->str = val;
    if (def->kind == FK_INT) {
        char *end;
        errno = 0;
        fs->i = strtoll(val, &end, 0);
        if (!*val || *end || errno || fs->i < INT_MIN || fs->i > INT_MAX) {
            snprintf(err, errlen, "invalid value \"%s\" for flag -%.*s: %s", val, (int)len, name,
                     errno == ERANGE || (!*end && *val) ? "value out of range" : "parse error");
            return -EINVAL;
        }
    }
    return 0;
}

static int parse_flags(int argc, char **argv, struct flags *f, char *err, size_t errlen)
{
    memset(f, 0, sizeof *f);
    if (argc > 1 && !(f->set = calloc((size_t)argc, sizeof *f->set)))
        return -ENOMEM;
    int i = 1;
    while (i < argc) {
        int rc = parse_one_flag(argc, argv, &i, &f->set[f->n], err, errlen);
        if (rc < 0)
            return rc;
        if (rc == 1)
            break;
        const struct flag_set *s = &f->set[f->n++];
        switch (s->def->id) {
        case F_HELP:
        case F_HELP_TLS:
            f->help = s->b || f->help;
            break;
        case F_VERSION: f->version = s->b; break;
        case F_TEST: f->test = s->b; break;
        case F_CONFIG: f->config = s->str; break;
        case F_SIGNAL: f->signal = s->str; break;
        case F_ROUTES: f->routes_given = true; break;
        default: break;
        }
    }
    /* Positional commands, as nats-server's ProcessCommandLineArgs. */
    for (; i < argc && !f->help && !f->version; i++) {
        if (strcmp(argv[i], "version") == 0)
            f->version = true;
        else if (strcmp(argv[i], "help") == 0)
            f->help = true;
        else {
            snprintf(err, errlen, "unrecognized command: \"%s\"", argv[i]);
            return -EINVAL;
        }
    }
    return 0;
}

/* --cluster nats://[user:pass@]host:port; "" turns clustering off. */
static int apply_cluster_url(struct tern_opts *o, const char *url, char *err, size_t errlen)
{
    if (!*url) {
        free(o->cluster_host);
        o->cluster_host = NULL;
        o->cluster_port = 0;
        return 0;
    }
    const char *hp = strstr(url, "://");
    hp = hp ? hp + 3 : url;
    const char *at = strrchr(hp, '@');
    char *user = NULL, *pass = NULL;
    if (at) {
        const char *colon = memchr(hp, ':', (size_t)(at - hp));
        if (!colon) {
            snprintf(err, errlen, "expected cluster password to be set");
            return -EINVAL;
        }
        user = strndup(hp, (size_t)(colon - hp));
        pass = strndup(colon + 1, (size_t)(at - colon - 1));
        hp = at + 1;
    }
    char *hostport = strndup(hp, strcspn(hp, "/?#"));
    int rc = -ENOMEM;
    if (!hostport || (at && (!user || !pass)))
        goto out;
    char why[300];
    rc = split_host_port(hostport, &o->cluster_host, &o->cluster_port, why, sizeof why);
    if (rc == -EINVAL)
        snprintf(err, errlen, "address %s: missing port in address", hostport);
    if (rc < 0)
        goto out;
    free(o->cluster_user);
    free(o->cluster_password);
    o->cluster_user = user;
    o->cluster_password = pass;
    user = pass = NULL;
out:
    free(user);
    free(pass);
    free(hostport);
    return rc;
}

static int apply_routes_flag(struct tern_opts *o, const char *list)
{
    free_strv(o->routes, o->nroutes);
    o->routes = NULL;
    o->nroutes = 0;
    for (const char *p = list; *list && *p;) {
        size_t l = strcspn(p, ",");
        const char *s = p, *e = p + l;
        while (s < e && (*s == ' ' || *s == '\t'))
            s++;
        while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        char *r = strndup(s, (size_t)(e - s));
        int rc = r ? strv_push(&o->routes, &o->nroutes, r) : -ENOMEM;
        free(r);
        if (rc < 0)
            return rc;
        p += l + (p[l] == ',');
    }
    return 0;
}

static int apply_flag(struct tern_opts *o, const struct flag_set *s, bool first,
                      char *err, size_t errlen)
{
    switch (s->def->id) {
    case F_PORT: o->port = (int)s->i; return 0;
    case F_NAME: return dup_into(&o->server_name, s->str);
    case F_ADDR: return dup_into(&o->host, s->str);
    case F_CLIENT_ADV: return dup_into(&o->client_advertise, s->str);
    case F_DEBUG: o->debug = s->b; return 0;
    case F_TRACE: o->trace = s->b; return 0;
    case F_VV: o->trace = o->trace_verbose = s->b; return 0;
    case F_DV: o->debug = o->trace = s->b; return 0;
    case F_DVV: o->debug = o->trace = o->trace_verbose = s->b; return 0;
    case F_LOGTIME: o->logtime = s->b; return 0;
    case F_LOGTIME_UTC: o->logtime_utc = s->b; return 0;
    case F_USER: return dup_into(&o->user, s->str);
    case F_PASS: return dup_into(&o->password, s->str);
    case F_AUTH: return dup_into(&o->token, s->str);
    case F_HTTP_PORT: o->http_port = (int)s->i; return 0;
    case F_PID: return dup_into(&o->pid_file, s->str);
    case F_PORTS_DIR: return dup_into(&o->ports_file_dir, s->str);
    case F_LOG: return dup_into(&o->log_file, s->str);
    case F_LOG_SIZE: o->log_size_limit = s->i; return 0;
    case F_SYSLOG: o->syslog = s->b; return 0;
    case F_REMOTE_SYSLOG: return dup_into(&o->remote_syslog, s->str);
    case F_ROUTES: return apply_routes_flag(o, s->str);
    case F_CLUSTER: return apply_cluster_url(o, s->str, err, errlen);
    case F_CLUSTER_ADV: return dup_into(&o->cluster_advertise, s->str);
    case F_NO_ADV: o->no_advertise = s->b; return 0;
    case F_RETRIES: o->connect_retries = s->i; return 0;
    case F_CLUSTER_NAME: return dup_into(&o->cluster_name, s->str);
    case F_TRACED_LEN: o->max_traced_msg_len = s->i; return 0;
    case F_JS: o->jetstream = s->b; return 0;
    case F_STORE_DIR: return dup_into(&o->store_dir, s->str);
    case F_THREADS:
        if (s->i < 0) {
            snprintf(err, errlen, "invalid value \"%s\" for flag -threads: must be >= 0", s->str);
            return -EINVAL;
        }
        o->threads = (int)s->i;
        return 0;
    case F_HTTPS_PORT:
    case F_PROFILE:
    case F_TLS:
    case F_TLS_FILE:
        return first ? opts_add_warning(o, "flag -%.*s is not supported by Tern yet and is ignored",
                                        (int)s->namelen, s->name) : 0;
    case F_HELP: case F_VERSION: case F_HELP_TLS: case F_CONFIG: case F_TEST: case F_SIGNAL:
        return 0;
    }
    return 0;
}

static int apply_flags(struct tern_opts *o, const struct flags *f, bool first, char *err, size_t errlen)
{
    for (size_t i = 0; i < f->n; i++) {
        int rc = apply_flag(o, &f->set[i], first, err, errlen);
        if (rc < 0) {
            if (rc == -ENOMEM)
                snprintf(err, errlen, "out of memory");
            return rc;
        }
    }
    return 0;
}

/* ---- defaults, validation, the whole resolution ---- */

int opts_init_defaults(struct tern_opts *o)
{
    memset(o, 0, sizeof *o);
    o->port = 4222;
    o->max_connections = 65536;
    o->max_payload = 1048576;
    o->max_pending = 67108864;
    o->max_control_line = 4096;
    o->ping_interval_ms = 2 * 60 * MS_PER_S;
    o->ping_max = 2;
    o->write_deadline_ms = 10 * MS_PER_S;
    o->lame_duck_duration_ms = 2 * 60 * MS_PER_S;
    o->lame_duck_grace_ms = 10 * MS_PER_S;
    o->max_closed_clients = 10000;
    o->logtime = true;
    o->auth_timeout_s = 2;
    o->cluster_auth_timeout_s = 2;
    o->max_memory_store = -1;
    o->max_file_store = -1;
    if (!(o->host = strdup("0.0.0.0"))) {
        opts_free(o);
        return -ENOMEM;
    }
    return 0;
}

void opts_free(struct tern_opts *o)
{
    char **strs[] = {
        &o->host, &o->server_name, &o->client_advertise, &o->http_host, &o->http_base_path,
        &o->log_file, &o->remote_syslog, &o->pid_file, &o->ports_file_dir, &o->user,
        &o->password, &o->token, &o->no_auth_user, &o->cluster_name, &o->cluster_host,
        &o->cluster_advertise, &o->cluster_user, &o->cluster_password, &o->store_dir,
        &o->config_file, &o->signal_cmd,
    };
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
        free(*strs[i]);
    for (size_t i = 0; i < o->nusers; i++)
        free_user(&o->users[i]);
    free(o->users);
    free_permissions(&o->default_permissions);
    free_strv(o->routes, o->nroutes);
    free_strv(o->warnings, o->nwarnings);
    memset(o, 0, sizeof *o);
}

/* Cluster host/port defaults: a port alone listens on all interfaces; a
 * host alone uses the customary 6222 (§6). */
static int finish_cluster(struct tern_opts *o)
{
    if (o->cluster_host && !*o->cluster_host && o->cluster_port == 0) {
        free(o->cluster_host);
        o->cluster_host = NULL;
    }
    if (o->cluster_port != 0 && (!o->cluster_host || !*o->cluster_host))
        return dup_into(&o->cluster_host, "0.0.0.0");
    if (o->cluster_host && o->cluster_port == 0)
        o->cluster_port = DEFAULT_CLUSTER_PORT;
    return 0;
}

static bool has_user(const struct tern_opts *o, const char *name)
{
    for (size_t i = 0; i < o->nusers; i++)
        if ((o->users[i].user && !strcmp(o->users[i].user, name)) ||
            (o->users[i].nkey && !strcmp(o->users[i].nkey, name)))
            return true;
    return false;
}

/* validateOptions() of nats-server, for the options Tern has. */
static int validate(struct tern_opts *o, const struct flags *f, char *err, size_t errlen)
{
    char a[48], b[48];
    if (f->routes_given && o->nroutes > 0 && !o->cluster_host) {
        snprintf(err, errlen, "solicited routes require cluster capabilities, e.g. --cluster");
        return -EINVAL;
    }
    if (o->lame_duck_duration_ms > 0 && o->lame_duck_grace_ms >= o->lame_duck_duration_ms) {
        snprintf(err, errlen, "lame duck grace period (%s) should be strictly lower than lame "
                 "duck duration (%s)", fmt_ms(o->lame_duck_grace_ms, a),
                 fmt_ms(o->lame_duck_duration_ms, b));
        return -EINVAL;
    }
    if (o->max_payload > o->max_pending) {
        snprintf(err, errlen, "max_payload (%lld) cannot be higher than max_pending (%lld)",
                 (long long)o->max_payload, (long long)o->max_pending);
        return -EINVAL;
    }
    if (o->server_name && strchr(o->server_name, ' ')) {
        snprintf(err, errlen, "server name cannot contain spaces");
        return -EINVAL;
    }
    if (o->no_auth_user && o->nusers == 0) {
        snprintf(err, errlen, "no_auth_user: \"%s\" present, but users are not defined",
                 o->no_auth_user);
        return -EINVAL;
    }
    if (o->no_auth_user && !has_user(o, o->no_auth_user)) {
        snprintf(err, errlen, "no_auth_user: \"%s\" not present as user or nkey in authorization "
                 "block or account configuration", o->no_auth_user);
        return -EINVAL;
    }
    if (o->max_payload > MAX_PAYLOAD_WARN)
        return opts_add_warning(o, "Maximum payloads over 8.00 MB are generally discouraged "
                                   "and could lead to poor performance");
    return 0;
}

static int resolve(struct tern_opts *o, int argc, char **argv, enum opts_action *action,
                   char *err, size_t errlen)
{
    struct flags f;
    int rc = parse_flags(argc, argv, &f, err, errlen);
    if (rc < 0)
        goto out;
    if (f.help || f.version) {
        *action = f.help ? OPTS_HELP : OPTS_VERSION;
        goto out;
    }
    if ((rc = apply_flags(o, &f, true, err, errlen)) < 0)
        goto out;
    if (f.signal) {
        *action = OPTS_SIGNAL;
        rc = dup_into(&o->signal_cmd, f.signal);
        goto out;
    }
    if (f.config && *f.config) {
        if ((rc = dup_into(&o->config_file, f.config)) < 0 ||
            (rc = load_config(o, f.config, f.test, err, errlen)) < 0 ||
            (rc = apply_flags(o, &f, false, err, errlen)) < 0)
            goto out;
    } else if (f.test) {
        snprintf(err, errlen, "must specify [-c, --config] option to check configuration file syntax");
        rc = -EINVAL;
        goto out;
    }
    if ((rc = finish_cluster(o)) < 0 || (rc = validate(o, &f, err, errlen)) < 0)
        goto out;
    if (f.test)
        *action = OPTS_TEST_CONFIG;
out:
    if (rc == -ENOMEM)
        snprintf(err, errlen, "out of memory");
    free(f.set);
    return rc;
}

int opts_from_command_line(struct tern_opts *o, int argc, char **argv,
                           enum opts_action *action, char *err, size_t errlen)
{
    *action = OPTS_RUN;
    if (errlen)
        err[0] = '\0';
    int rc = opts_init_defaults(o);
    if (rc < 0) {
        snprintf(err, errlen, "out of memory");
        return rc;
    }
    rc = resolve(o, argc, argv, action, err, errlen);
    if (rc < 0)
        opts_free(o); /* callers do not free after a failure */
    return rc;
}

/* ---- reload (§5) ---- */

static bool str_changed(const char *a, const char *b)
{
    return (a == NULL) != (b == NULL) || (a && strcmp(a, b) != 0);
}

static int no_reload(char *err, size_t errlen, const char *field, const char *old, const char *new)
{
    snprintf(err, errlen, "config reload not supported for %s: old=%s, new=%s", field, old, new);
    return -EINVAL;
}

int opts_check_reload(const struct tern_opts *r, const struct tern_opts *n, char *err, size_t errlen)
{
    char a[48], b[48];
    const struct { const char *field; const char *old, *new; } strs[] = {
        { "Host", r->host, n->host },
        { "ServerName", r->server_name, n->server_name },
        { "HTTPHost", r->http_host, n->http_host },
        { "HTTPBasePath", r->http_base_path, n->http_base_path },
        { "cluster host", r->cluster_host, n->cluster_host },
        { "cluster name", r->cluster_name, n->cluster_name },
        { "jetstream storage directory", r->store_dir, n->store_dir },
    };
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
        if (str_changed(strs[i].old, strs[i].new))
            return no_reload(err, errlen, strs[i].field, strs[i].old ? strs[i].old : "",
                             strs[i].new ? strs[i].new : "");
    const struct { const char *field; int64_t old, new; } ints[] = {
        { "Port", r->port, n->port },
        { "HTTPPort", r->http_port, n->http_port },
        { "cluster port", r->cluster_port, n->cluster_port },
        { "Threads", r->threads, n->threads },
        { "MaxPending", r->max_pending, n->max_pending },
        { "MaxSubs", r->max_subscriptions, n->max_subscriptions },
        { "MaxSubTokens", r->max_sub_tokens, n->max_sub_tokens },
        { "MaxClosedClients", r->max_closed_clients, n->max_closed_clients },
        { "NoHeaderSupport", r->no_header_support, n->no_header_support },
        { "JetStreamMaxMemory", r->max_memory_store, n->max_memory_store },
        { "JetStreamMaxStore", r->max_file_store, n->max_file_store },
    };
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        if (ints[i].old == ints[i].new)
            continue;
        if (!strcmp(ints[i].field, "NoHeaderSupport"))
            return no_reload(err, errlen, ints[i].field, ints[i].old ? "true" : "false",
                             ints[i].new ? "true" : "false");
        snprintf(a, sizeof a, "%lld", (long long)ints[i].old);
        snprintf(b, sizeof b, "%lld", (long long)ints[i].new);
        return no_reload(err, errlen, ints[i].field, a, b);
    }
    if (r->lame_duck_duration_ms != n->lame_duck_duration_ms)
        return no_reload(err, errlen, "LameDuckDuration", fmt_ms(r->lame_duck_duration_ms, a),
                         fmt_ms(n->lame_duck_duration_ms, b));
    if (r->lame_duck_grace_ms != n->lame_duck_grace_ms)
        return no_reload(err, errlen, "LameDuckGracePeriod", fmt_ms(r->lame_duck_grace_ms, a),
                         fmt_ms(n->lame_duck_grace_ms, b));
    return 0;
}

/* ---- usage ---- */

const char *opts_usage(void)
{
    /* Laid out like nats-server's help so muscle memory carries over; the
     * flags are the same, the wording is Tern's. */
    return
        "\n"
        "Usage: ternd [options]\n"
        "\n"
        "Server Options:\n"
        "    -a, --addr, --net <host>         Client listen address (default: 0.0.0.0)\n"
        "    -p, --port <port>                Client listen port, -1 for any free port (default: 4222)\n"
        "    -n, --name\n"
        "        --server_name <name>         Name of this node, unique in its cluster (default: the server id)\n"
        "    -P, --pid <file>                 Write the process id to this file\n"
        "    -m, --http_port <port>           Serve monitoring endpoints over HTTP on this port\n"
        "    -c, --config <file>              Read this configuration file\n"
        "    -t                               Check the configuration file, then exit\n"
        "    -sl,--signal <cmd>=<pid|file>    Signal a running ternd and exit; cmd is one of\n"
        "                                     ldm, stop, quit, term, reopen, reload\n"
        "        --client_advertise <url>     Client address given to other nodes and clients\n"
        "        --ports_file_dir <dir>       Write <executable>_<pid>.ports with the listen URLs here\n"
        "        --threads <n>                Number of I/O loops (default: 0 = one per core)\n"
        "\n"
        "Logging Options:\n"
        "    -l, --log <file>                 Log to this file instead of stderr\n"
        "    -T, --logtime                    Prefix log lines with the time (default: true)\n"
        "    -s, --syslog                     Log to the local syslog\n"
        "    -r, --remote_syslog <addr>       Log to a syslog server, e.g. udp://localhost:514\n"
        "    -D, --debug                      Log debug lines\n"
        "    -V, --trace                      Log every protocol line\n"
        "    -VV                              Like -V, including system account traffic\n"
        "    -DV                              Same as -D -V\n"
        "    -DVV                             Same as -D -VV\n"
        "        --log_size_limit <bytes>     Rotate the log file at this size\n"
        "        --max_traced_msg_len <n>     Cut traced payloads after n bytes (default: no limit)\n"
        "\n"
        "JetStream Options:\n"
        "    -js, --jetstream                 Turn JetStream on\n"
        "    -sd, --store_dir <dir>           Keep JetStream data under <dir>/jetstream\n"
        "\n"
        "Authorization Options:\n"
        "        --user <user>                Clients must log in as this user\n"
        "        --pass <password>            ... with this password\n"
        "        --auth <token>               Clients must present this token\n"
        "\n"
        "Cluster Options:\n"
        "        --cluster <url>              Listen for routes here, e.g. nats://0.0.0.0:6222\n"
        "                                     (nats://user:pass@host:port also sets route auth)\n"
        "        --cluster_listen <url>       Same as --cluster\n"
        "        --cluster_name <name>        Cluster name (default: generated)\n"
        "        --routes <url,url,...>       Seed routes to connect to\n"
        "        --cluster_advertise <addr>   Route address given to the other nodes\n"
        "        --no_advertise               Keep other nodes' client URLs out of INFO\n"
        "        --connect_retries <n>        Retries for routes learned from peers\n"
        "\n"
        "Common Options:\n"
        "    -h, --help                       Print this text\n"
        "    -v, --version                    Print the version\n"
        "\n"
        "Accepted for compatibility but ignored for now: -ms/--https_port, --tls,\n"
        "--tlscert, --tlskey, --tlsverify, --tlscacert, --profile (--help_tls prints this text).\n";
}
