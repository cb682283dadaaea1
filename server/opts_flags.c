/*
 * server/opts_flags.c — ternd's command-line flags (spec/server-cli-config.md
 * §1), parsed as Go's flag package parses them so nats-server command
 * lines and their error texts carry over ("flag provided but not defined").
 *
 * opts__parse_flags() only records what was typed, pointing into argv;
 * opts__apply_flags() copies it into struct tern_opts and runs twice,
 * before and after the config file, so a flag beats the file. It never
 * reads files, and nothing it stores in struct tern_opts points into argv.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/opts_impl.h"

/* ---- command-line flags (§1), parsed as Go's flag package does ---- */

enum flag_kind { FK_BOOL, FK_INT, FK_STR };

enum flag_id {
    F_HELP, F_VERSION, F_HELP_TLS, F_PORT, F_NAME, F_ADDR, F_CLIENT_ADV, F_DEBUG, F_TRACE,
    F_VV, F_DV, F_DVV, F_LOGTIME, F_LOGTIME_UTC, F_USER, F_PASS, F_AUTH, F_HTTP_PORT,
    F_HTTPS_PORT, F_CONFIG, F_TEST, F_SIGNAL, F_PID, F_PORTS_DIR, F_LOG, F_LOG_SIZE, F_SYSLOG,
    F_REMOTE_SYSLOG, F_PROFILE, F_ROUTES, F_CLUSTER, F_CLUSTER_ADV, F_NO_ADV, F_RETRIES,
    F_CLUSTER_NAME, F_TLS, F_TLS_FILE, F_TRACED_LEN, F_JS, F_STORE_DIR, F_THREADS, F_LOG_JSON,
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
    { "log_json", FK_BOOL, F_LOG_JSON },
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

bool opts__flag_is_tls(const struct flag_set *s)
{
    return s->def->id == F_TLS || s->def->id == F_TLS_FILE;
}

int opts__parse_flags(int argc, char **argv, struct flags *f, char *err, size_t errlen)
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
    rc = opts__split_host_port(hostport, &o->cluster_host, &o->cluster_port, why, sizeof why);
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
    opts__free_strv(o->routes, o->nroutes);
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
        int rc = r ? opts__strv_push(&o->routes, &o->nroutes, r) : -ENOMEM;
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
    case F_NAME: return opts__dup_into(&o->server_name, s->str);
    case F_ADDR: return opts__dup_into(&o->host, s->str);
    case F_CLIENT_ADV: return opts__dup_into(&o->client_advertise, s->str);
    case F_DEBUG: o->debug = s->b; return 0;
    case F_TRACE: o->trace = s->b; return 0;
    case F_VV: o->trace = o->trace_verbose = s->b; return 0;
    case F_DV: o->debug = o->trace = s->b; return 0;
    case F_DVV: o->debug = o->trace = o->trace_verbose = s->b; return 0;
    case F_LOGTIME: o->logtime = s->b; return 0;
    case F_LOGTIME_UTC: o->logtime_utc = s->b; return 0;
    case F_LOG_JSON: o->log_json = s->b; return 0;
    case F_USER: return opts__dup_into(&o->user, s->str);
    case F_PASS: return opts__dup_into(&o->password, s->str);
    case F_AUTH: return opts__dup_into(&o->token, s->str);
    case F_HTTP_PORT: o->http_port = (int)s->i; return 0;
    case F_PID: return opts__dup_into(&o->pid_file, s->str);
    case F_PORTS_DIR: return opts__dup_into(&o->ports_file_dir, s->str);
    case F_LOG: return opts__dup_into(&o->log_file, s->str);
    case F_LOG_SIZE: o->log_size_limit = s->i; return 0;
    case F_SYSLOG: o->syslog = s->b; return 0;
    case F_REMOTE_SYSLOG: return opts__dup_into(&o->remote_syslog, s->str);
    case F_ROUTES: return apply_routes_flag(o, s->str);
    case F_CLUSTER: return apply_cluster_url(o, s->str, err, errlen);
    case F_CLUSTER_ADV: return opts__dup_into(&o->cluster_advertise, s->str);
    case F_NO_ADV: o->no_advertise = s->b; return 0;
    case F_RETRIES: o->connect_retries = s->i; return 0;
    case F_CLUSTER_NAME: return opts__dup_into(&o->cluster_name, s->str);
    case F_TRACED_LEN: o->max_traced_msg_len = s->i; return 0;
    case F_JS: o->jetstream = s->b; return 0;
    case F_STORE_DIR: return opts__dup_into(&o->store_dir, s->str);
    case F_THREADS:
        if (s->i < 0) {
            snprintf(err, errlen, "invalid value \"%s\" for flag -threads: must be >= 0", s->str);
            return -EINVAL;
        }
        o->threads = (int)s->i;
        return 0;
    case F_HTTPS_PORT: o->https_port = (int)s->i; return 0;
    case F_TLS:
    case F_TLS_FILE:
        return 0; /* opts__apply_tls_flags() reads them once all is applied */
    case F_PROFILE:
        return first ? opts_add_warning(o, "flag -%.*s is not supported by Tern yet and is ignored",
                                        (int)s->namelen, s->name) : 0;
    case F_HELP: case F_VERSION: case F_HELP_TLS: case F_CONFIG: case F_TEST: case F_SIGNAL:
        return 0;
    }
    return 0;
}

int opts__apply_flags(struct tern_opts *o, const struct flags *f, bool first, char *err,
                      size_t errlen)
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
