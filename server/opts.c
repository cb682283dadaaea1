/*
 * server/opts.c — nats-server's options resolved into struct tern_opts:
 * defaults, the order flags and the config file are applied in,
 * validation, the reload check and the -h text; also the small helpers
 * the opts_*.c files share (string vectors, Go durations, host:port).
 *
 * Precedence copies nats-server (spec/server-cli-config.md §1.8, §3, §6):
 * defaults, flags (opts_flags.c), the config file (opts_conf.c, with
 * opts_auth.c), the flags again so a flag beats the file, then validate().
 * Error texts copy nats-server's. Never touches the network or the running
 * server: reload compares two structs and nothing else.
 */
#include "server/opts.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/account.h"
#include "server/opts_impl.h"

#define DEFAULT_CLUSTER_PORT 6222
#define MAX_PAYLOAD_WARN (8LL << 20)

/* ---- helpers shared by the opts_*.c files ---- */

int opts__dup_into(char **dst, const char *s)
{
    char *n = NULL;
    if (s && !(n = strdup(s)))
        return -ENOMEM;
    free(*dst);
    *dst = n;
    return 0;
}

void opts__free_strv(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

int opts__strv_push(char ***v, size_t *n, const char *s)
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
    return opts__strv_push(&o->warnings, &o->nwarnings, line);
}

/* Go's time.Duration.String() for a whole number of milliseconds, used in
 * messages copied from nats-server ("2m0s", "1h30m0s", "250ms"). */
const char *opts__fmt_ms(int64_t ms, char buf[48])
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
int opts__parse_go_duration(const char *orig, int64_t *ns, char *why, size_t whylen)
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

/* "host:port", "[v6]:port" or a bare port (net.SplitHostPort rules). */
int opts__split_host_port(const char *s, char **host, int *port, char *why, size_t whylen)
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

/* ---- defaults, validation, the whole resolution ---- */

int opts_init_defaults(struct tern_opts *o)
{
    memset(o, 0, sizeof *o);
    o->port = 4222;
    o->max_connections = 65536;
    o->max_payload = 1048576;
    o->max_pending = 67108864;
    o->max_control_line = 4096;
    o->ping_interval_ms = 2 * 60 * OPTS_MS_PER_S;
    o->ping_max = 2;
    o->write_deadline_ms = 10 * OPTS_MS_PER_S;
    o->lame_duck_duration_ms = 2 * 60 * OPTS_MS_PER_S;
    o->lame_duck_grace_ms = 10 * OPTS_MS_PER_S;
    o->max_closed_clients = 10000;
    o->logtime = true;
    o->auth_timeout_s = 2;
    o->cluster_auth_timeout_s = 2;
    o->max_memory_store = -1;
    o->max_file_store = -1;
    o->tls_timeout_s = 2;
    o->tls_min_version = 12;
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
        &o->js_domain, &o->config_file, &o->signal_cmd,
    };
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
        free(*strs[i]);
    for (size_t i = 0; i < o->nusers; i++)
        opts__free_user(&o->users[i]);
    free(o->users);
    opts__free_permissions(&o->default_permissions);
    opts__free_strv(o->routes, o->nroutes);
    opts__free_strv(o->warnings, o->nwarnings);
    opts__free_tls(o);
    opts__free_ws(o);
    opts__free_accounts(o);
    opts__free_operator(o);
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
        return opts__dup_into(&o->cluster_host, "0.0.0.0");
    if (o->cluster_host && o->cluster_port == 0)
        o->cluster_port = DEFAULT_CLUSTER_PORT;
    return 0;
}

char *opts__where(const char *file, int line, int col)
{
    char buf[600];
    snprintf(buf, sizeof buf, "%s:%d:%d", file, line, col);
    return strdup(buf);
}

bool opts__has_user(const struct tern_opts *o, const char *name)
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
                 "duck duration (%s)", opts__fmt_ms(o->lame_duck_grace_ms, a),
                 opts__fmt_ms(o->lame_duck_duration_ms, b));
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
    if (o->no_auth_user && !opts__has_user(o, o->no_auth_user)) {
        snprintf(err, errlen, "no_auth_user: \"%s\" not present as user or nkey in authorization "
                 "block or account configuration", o->no_auth_user);
        return -EINVAL;
    }
    /* Operator mode first: it adds the preloaded accounts to check. */
    int rc = opts__finish_operator(o, err, errlen);
    if (rc == 0)
        rc = account_check(o, err, errlen);
    if (rc < 0)
        return rc;
    if (o->max_payload > MAX_PAYLOAD_WARN)
        return opts_add_warning(o, "Maximum payloads over 8.00 MB are generally discouraged "
                                   "and could lead to poor performance");
    return 0;
}

static int resolve(struct tern_opts *o, int argc, char **argv, enum opts_action *action,
                   char *err, size_t errlen)
{
    struct flags f;
    int rc = opts__parse_flags(argc, argv, &f, err, errlen);
    if (rc < 0)
        goto out;
    if (f.help || f.version) {
        *action = f.help ? OPTS_HELP : OPTS_VERSION;
        goto out;
    }
    if ((rc = opts__apply_flags(o, &f, true, err, errlen)) < 0)
        goto out;
    if (f.signal) {
        *action = OPTS_SIGNAL;
        rc = opts__dup_into(&o->signal_cmd, f.signal);
        goto out;
    }
    if (f.config && *f.config) {
        if ((rc = opts__dup_into(&o->config_file, f.config)) < 0 ||
            (rc = opts__load_config(o, f.config, f.test, err, errlen)) < 0 ||
            (rc = opts__apply_flags(o, &f, false, err, errlen)) < 0)
            goto out;
    } else if (f.test) {
        snprintf(err, errlen, "must specify [-c, --config] option to check configuration file syntax");
        rc = -EINVAL;
        goto out;
    }
    if ((rc = opts__apply_tls_flags(o, &f, err, errlen)) < 0 ||
        (rc = finish_cluster(o)) < 0 || (rc = validate(o, &f, err, errlen)) < 0 ||
        (rc = opts__validate_ws(o, err, errlen)) < 0)
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
        { "jetstream domain", r->js_domain, n->js_domain },
    };
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
        if (str_changed(strs[i].old, strs[i].new))
            return no_reload(err, errlen, strs[i].field, strs[i].old ? strs[i].old : "",
                             strs[i].new ? strs[i].new : "");
    const struct { const char *field; int64_t old, new; } ints[] = {
        { "Port", r->port, n->port },
        { "HTTPPort", r->http_port, n->http_port },
        { "HTTPSPort", r->https_port, n->https_port },
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
        return no_reload(err, errlen, "LameDuckDuration",
                         opts__fmt_ms(r->lame_duck_duration_ms, a),
                         opts__fmt_ms(n->lame_duck_duration_ms, b));
    if (r->lame_duck_grace_ms != n->lame_duck_grace_ms)
        return no_reload(err, errlen, "LameDuckGracePeriod",
                         opts__fmt_ms(r->lame_duck_grace_ms, a),
                         opts__fmt_ms(n->lame_duck_grace_ms, b));
    if (!opts__cluster_tls_same(r, n)) {
        snprintf(err, errlen, "config reload not supported for cluster TLS: its certificates "
                 "are read at start");
        return -EINVAL;
    }
    if (!opts__accounts_same(r, n)) {
        snprintf(err, errlen, "config reload not supported for accounts: they are built at "
                 "start (their users may change)");
        return -EINVAL;
    }
    if (!opts__ws_reloadable(r, n)) {
        snprintf(err, errlen, "config reload not supported for Websocket: only its tls block "
                 "may change");
        return -EINVAL;
    }
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
        "    -ms,--https_port <port>          The same over HTTPS (the tls options' certificate)\n"
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
        "        --log_json                   Write each log line as a JSON object\n"
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
        "TLS Options (client connections):\n"
        "        --tls                        Require TLS of every client (--tls=false: no TLS)\n"
        "        --tlscert <file>             Server certificate (PEM, may hold the chain)\n"
        "        --tlskey <file>              Private key of that certificate\n"
        "        --tlsverify                  Require and verify client certificates\n"
        "        --tlscacert <file>           CA bundle client certificates are checked against\n"
        "                                     (any --tls* flag replaces the config's tls block)\n"
        "\n"
        "Common Options:\n"
        "    -h, --help                       Print this text\n"
        "    -v, --version                    Print the version\n"
        "\n"
        "Accepted for compatibility but ignored for now: --profile (--help_tls prints\n"
        "this text).\n";
}
