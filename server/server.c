/*
 * server/server.c — bring a node up, run it, bring it down (see server.h).
 *
 * Start order matters to test harnesses: the client listener is bound and
 * the I/O loops are running before the monitoring port answers and before
 * "Server is ready" is logged, so whoever waits on either can connect at
 * once. Signals are handled on the main loop (libevent turns them into
 * events), never in async context.
 */
#include "server/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <netdb.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cluster/route.h"
#include "server/auth.h"
#include "server/client.h"
#include "server/jetstream/jetstream.h"
#include "server/log.h"
#include "server/monitor.h"
#include "server/reclaim.h"
#include "server/account.h"
#include "server/sublist.h"
#include "server/sysacc.h"
#include "server/tls.h"
#include "server/ws.h"
#include "server/version.h"
#include "server/worker.h"

/* A server id looks like a server NKEY: 'N' and 55 base32 characters.
 * It is random per start; only its shape matters to peers and clients. */
static void make_server_id(char out[57])
{
    static const char b32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    unsigned char rnd[55];
    randombytes_buf(rnd, sizeof rnd);
    out[0] = 'N';
    for (int i = 0; i < 55; i++)
        out[i + 1] = b32[rnd[i] & 31];
    out[56] = '\0';
}

static void load_limits(struct server *s, const struct tern_opts *o)
{
    atomic_store(&s->max_payload, o->max_payload);
    atomic_store(&s->max_pending, o->max_pending);
    atomic_store(&s->max_control_line, o->max_control_line);
    atomic_store(&s->max_connections, o->max_connections);
    atomic_store(&s->max_subscriptions, o->max_subscriptions);
    atomic_store(&s->ping_interval_ms, o->ping_interval_ms > 0 ? o->ping_interval_ms : 120000);
    atomic_store(&s->ping_max, o->ping_max);
    atomic_store(&s->write_deadline_ms, o->write_deadline_ms > 0 ? o->write_deadline_ms : 10000);
}

static int apply_logging(const struct tern_opts *o)
{
    struct log_config lc = {
        .debug = o->debug,
        .trace = o->trace || o->trace_verbose,
        .logtime = o->logtime,
        .utc = o->logtime_utc,
        .json = o->log_json,
        .file = o->log_file,
    };
    return log_open(&lc);
}

void server_record_closed(struct server *s, const struct conn_record *rec)
{
    pthread_mutex_lock(&s->registry_lock);
    if (s->closed_cap) {
        s->closed[s->closed_next] = *rec;
        s->closed_next = (s->closed_next + 1) % s->closed_cap;
        if (s->closed_count < s->closed_cap)
            s->closed_count++;
    }
    pthread_mutex_unlock(&s->registry_lock);
}

void server_get_counters(struct server *s, struct server_counters *out)
{
    memset(out, 0, sizeof *out);
    for (int i = 0; i < s->nworkers; i++) {
        struct worker *w = s->workers[i];
        out->in_msgs += atomic_load_explicit(&w->in_msgs, memory_order_relaxed);
        out->in_bytes += atomic_load_explicit(&w->in_bytes, memory_order_relaxed);
        out->out_msgs += atomic_load_explicit(&w->out_msgs, memory_order_relaxed);
        out->out_bytes += atomic_load_explicit(&w->out_bytes, memory_order_relaxed);
    }
}

/* ---- listener ---- */

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
                      int len, void *arg)
{
    struct server *s = arg;
    if (atomic_load(&s->shutting_down)) {
        close(fd);
        return;
    }
    unsigned idx = atomic_fetch_add(&s->next_worker, 1) % (unsigned)s->nworkers;
    worker_add_socket(s->workers[idx], fd, sa, (socklen_t)len, CLIENT_KIND_CLIENT, -1);
}

static void on_accept_error(struct evconnlistener *l, void *arg)
{
    int err = EVUTIL_SOCKET_ERROR();
    LOG_ERROR("Error accepting client connection: %s", evutil_socket_error_to_string(err));
}

struct evconnlistener *server_listen(struct event_base *base, const char *host, int port,
                                     evconnlistener_cb cb, void *arg, int *bound_port,
                                     const char *fail_fmt)
{
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                              .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
    struct addrinfo *res = NULL;
    char portstr[16];
    snprintf(portstr, sizeof portstr, "%d", port < 0 ? 0 : port);
    int gai = getaddrinfo(host, portstr, &hints, &res);
    if (gai != 0) {
        LOG_FATAL(fail_fmt, host, port, gai_strerror(gai));
        return NULL;
    }
    struct evconnlistener *l = evconnlistener_new_bind(
        base, cb, arg, LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC,
        1024, res->ai_addr, (int)res->ai_addrlen);
    freeaddrinfo(res);
    if (!l) {
        LOG_FATAL(fail_fmt, host, port, strerror(errno));
        return NULL;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (getsockname(evconnlistener_get_fd(l), (struct sockaddr *)&ss, &sl) == 0) {
        if (ss.ss_family == AF_INET)
            *bound_port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
        else if (ss.ss_family == AF_INET6)
            *bound_port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    }
    return l;
}

static void log_warnings(const struct tern_opts *o)
{
    for (size_t i = 0; i < o->nwarnings; i++)
        LOG_WARN("%s", o->warnings[i]);
}

/* ---- signals ---- */

static void shutdown_now(struct server *s, int code)
{
    if (atomic_exchange(&s->shutting_down, true))
        return;
    LOG_INFO("Initiating Shutdown...");
    s->exit_code = code;
    event_base_loopbreak(s->main_base);
}

static void retire_tls_ctx(void *t)
{
    tls_ctx_unref(t);
}

static void reload(struct server *s)
{
    struct tern_opts next;
    enum opts_action action;
    char err[1024] = "";
    if (opts_from_command_line(&next, s->argc, s->argv, &action, err, sizeof err) < 0) {
        LOG_ERROR("Failed to reload server configuration: %s", err);
        return;
    }
    struct auth *na = NULL;
    struct tls_ctx *nt = NULL;
    struct ws_reload wr = { 0 };
    int trc = 0;
    if (opts_check_reload(&s->opts, &next, err, sizeof err) < 0 ||
        (nt = tls_ctx_new(&next, &trc, err, sizeof err), trc < 0) ||
        !(na = auth_new(&next, err, sizeof err)) ||
        ws_reload_prepare(s->ws, &next, &wr, err, sizeof err) < 0) {
        LOG_ERROR("Failed to reload server configuration: %s", err);
        tls_ctx_unref(nt);
        auth_unref(na);
        opts_free(&next);
        return;
    }
    ws_reload_commit(s, &wr);
    struct auth *old = atomic_exchange(&s->auth, na);
    auth_unref(old);
    /* The certificate files are read again on every reload, so a renewed
     * certificate is served to new connections; live ones keep theirs. */
    struct tls_ctx *old_tls = atomic_exchange(&s->tls, nt);
    if (old_tls && reclaim_retire(s->reclaim, old_tls, retire_tls_ctx, NULL) < 0)
        LOG_ERROR("out of memory retiring the old TLS context; leaking it");
    load_limits(s, &next);
    apply_logging(&next);
    log_warnings(&next);
    if (nt || old_tls)
        LOG_INFO("Reloaded: tls");
    LOG_INFO("Reloaded: authorization");
    LOG_INFO("Reloaded server configuration");
    clock_gettime(CLOCK_REALTIME, &s->config_load_time);
    /* Loops read only the atomics above and the start-time copies in
     * struct server, so the options can be replaced here, on the main
     * thread. */
    opts_free(&s->opts);
    s->opts = next;
}

/* ---- lame duck mode (spec/client-protocol.md §2.3) ---- */

static int64_t ms_until(const struct timespec *deadline)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)(deadline->tv_sec - now.tv_sec) * 1000 +
           (deadline->tv_nsec - now.tv_nsec) / 1000000;
}

static void arm_ms(struct event *ev, int64_t ms)
{
    struct timeval tv = { (time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000 };
    event_add(ev, &tv);
}

/* After the grace period: close clients one at a time, spread over what is
 * left of lame_duck_duration (at most one a second), then shut down. */
static void on_ldm_timer(evutil_socket_t fd, short what, void *arg)
{
    struct server *s = arg;
    int clients = atomic_load(&s->num_clients);
    if (clients == 0 || ms_until(&s->ldm_deadline) <= 0) {
        shutdown_now(s, 0);
        return;
    }
    if (!s->ldm_interval_ms) {
        LOG_INFO("Closing existing clients");
        int64_t si = ms_until(&s->ldm_deadline) / clients;
        s->ldm_interval_ms = si < 1 ? 1 : si > 1000 ? 1000 : si;
    }
    worker_close_one(s->workers[s->ldm_next_worker++ % s->nworkers]);
    /* After what may be the last close, look again soon rather than a
     * whole interval later. */
    arm_ms(s->ldm_ev, clients <= 1 ? 20 : s->ldm_interval_ms);
}

static void enter_lame_duck(struct server *s)
{
    if (s->in_ldm || atomic_load(&s->shutting_down))
        return;
    s->in_ldm = true;
    LOG_INFO("Entering lame duck mode, stop accepting new clients");
    if (s->listener) {
        evconnlistener_free(s->listener);
        s->listener = NULL;
    }
    ws_server_stop_listening(s);
    for (int i = 0; i < s->nworkers; i++)
        worker_announce_ldm(s->workers[i]);
    int64_t duration = s->opts.lame_duck_duration_ms > 0 ? s->opts.lame_duck_duration_ms : 120000;
    int64_t grace = s->opts.lame_duck_grace_ms >= 0 ? s->opts.lame_duck_grace_ms : 10000;
    clock_gettime(CLOCK_MONOTONIC, &s->ldm_deadline);
    s->ldm_deadline.tv_sec += (time_t)(duration / 1000);
    s->ldm_deadline.tv_nsec += (long)(duration % 1000) * 1000000;
    if (s->ldm_deadline.tv_nsec >= 1000000000) {
        s->ldm_deadline.tv_sec++;
        s->ldm_deadline.tv_nsec -= 1000000000;
    }
    s->ldm_ev = evtimer_new(s->main_base, on_ldm_timer, s);
    if (!s->ldm_ev) {
        shutdown_now(s, 0);
        return;
    }
    arm_ms(s->ldm_ev, grace);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    struct server *s = arg;
    switch (sig) {
    case SIGINT:
        shutdown_now(s, 0);
        break;
    case SIGTERM:
        if (!s->in_ldm) /* ignored while in lame duck mode, as nats-server */
            shutdown_now(s, 1);
        break;
    case SIGHUP:
        reload(s);
        break;
    case SIGUSR1:
        if (log_reopen() == 0)
            LOG_INFO("File log re-opened");
        break;
    case SIGUSR2:
        enter_lame_duck(s);
        break;
    }
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    struct server *s = arg;
    reclaim_tick(s->reclaim);
    account_set_sweep(s->accounts);
}

static int add_signals(struct server *s)
{
    static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGUSR1, SIGUSR2 };
    signal(SIGPIPE, SIG_IGN);
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
        s->sig_events[i] = evsignal_new(s->main_base, sigs[i], on_signal, s);
        if (!s->sig_events[i] || event_add(s->sig_events[i], NULL) < 0)
            return -ENOMEM;
    }
    s->tick_ev = event_new(s->main_base, -1, EV_PERSIST, on_tick, s);
    struct timeval tv = { 0, RECLAIM_TICK_MS * 1000 };
    if (!s->tick_ev || event_add(s->tick_ev, &tv) < 0)
        return -ENOMEM;
    return 0;
}

/* ---- files ---- */

static void write_pid_file(const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        LOG_ERROR("Could not write pidfile: %s", strerror(errno));
        return;
    }
    fprintf(f, "%d", (int)getpid());
    fclose(f);
}

static void write_ports_file(struct server *s)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/ternd_%d.ports", s->opts.ports_file_dir, (int)getpid());
    FILE *f = fopen(path, "w");
    if (!f) {
        LOG_ERROR("Error writing ports file %s: %s", path, strerror(errno));
        return;
    }
    fprintf(f, "{\"nats\":[\"%s://%s:%d\"]", atomic_load(&s->tls) ? "tls" : "nats",
            s->client_host, s->client_port);
    if (s->monitor)
        fprintf(f, ",\"monitoring\":[\"%s://%s:%d\"]", monitor_https(s->monitor) ? "https" : "http",
                s->client_host, monitor_port(s->monitor));
    fprintf(f, "}");
    fclose(f);
}

/* ---- lifecycle ---- */

/* One monitoring port, HTTP or HTTPS, refused as nats-server refuses it. */
static int start_monitor(struct server *s)
{
    const struct tern_opts *o = &s->opts;
    if (o->http_port && o->https_port) {
        LOG_FATAL("Can't start monitoring: can't specify both HTTP (%d) and HTTPs (%d) ports",
                  o->http_port, o->https_port);
        return -EINVAL;
    }
    if (o->https_port && !atomic_load(&s->tls)) {
        LOG_FATAL("Can't start monitoring: TLS cert and key required for HTTPS");
        return -EINVAL;
    }
    const char *mhost = o->http_host ? o->http_host : s->client_host;
    s->monitor = o->https_port ? monitor_start(s, mhost, o->https_port, true)
                               : monitor_start(s, mhost, o->http_port, false);
    return s->monitor ? 0 : -EADDRINUSE;
}

static int start_workers(struct server *s)
{
    int n = s->opts.threads > 0 ? s->opts.threads : (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1)
        n = 1;
    s->workers = calloc((size_t)n, sizeof *s->workers);
    /* One more reclaim slot for the JetStream loop, which reads shared
     * subscriptions too. */
    s->reclaim = reclaim_new(n + (s->opts.jetstream ? 1 : 0));
    if (!s->workers || !s->reclaim)
        return -ENOMEM;
    s->nworkers = n;
    for (int i = 0; i < n; i++) {
        s->workers[i] = worker_new(s, i);
        if (!s->workers[i])
            return -ENOMEM;
    }
    for (int i = 0; i < n; i++) {
        int rc = worker_start(s->workers[i]);
        if (rc < 0) {
            for (int j = 0; j < i; j++)
                worker_stop(s->workers[j]);
            return rc;
        }
    }
    s->workers_running = true;
    return 0;
}

static void log_startup(struct server *s)
{
    LOG_INFO("Starting ternd");
    LOG_INFO("  Version:  %s (nats-server protocol level %s)", TERN_VERSION, TERN_PROTO_VERSION);
    LOG_INFO("  ID:       %s", s->server_id);
    LOG_INFO("  Name:     %s", s->server_name);
    LOG_INFO("  I/O loops: %d", s->opts.threads > 0 ? s->opts.threads
                                                    : (int)sysconf(_SC_NPROCESSORS_ONLN));
    if (s->opts.config_file)
        LOG_INFO("Using configuration file: %s", s->opts.config_file);
    log_warnings(&s->opts);
}

int server_init(struct server *s, struct tern_opts *opts, int argc, char **argv)
{
    char err[1024] = "";
    memset(s, 0, sizeof *s);
    s->opts = *opts;
    memset(opts, 0, sizeof *opts);
    s->argc = argc;
    s->argv = argv;
    pthread_mutex_init(&s->registry_lock, NULL);
    pthread_mutex_init(&s->urls_lock, NULL);
    atomic_init(&s->next_cid, 1);
    clock_gettime(CLOCK_REALTIME, &s->start_time);
    s->config_load_time = s->start_time;
    if (apply_logging(&s->opts) < 0) {
        fprintf(stderr, "ternd: cannot open log file %s: %s\n", s->opts.log_file, strerror(errno));
        return -EIO;
    }
    if (sodium_init() < 0)
        return -EIO;
    make_server_id(s->server_id);
    s->server_name = strdup(s->opts.server_name ? s->opts.server_name : s->server_id);
    snprintf(s->client_host, sizeof s->client_host, "%s", s->opts.host ? s->opts.host : "0.0.0.0");
    load_limits(s, &s->opts);
    s->no_header_support = s->opts.no_header_support;
    s->jetstream_on = s->opts.jetstream;
    if (s->opts.jetstream && s->opts.js_domain)
        snprintf(s->js_domain, sizeof s->js_domain, "%s", s->opts.js_domain);
    s->max_sub_tokens = s->opts.max_sub_tokens;
    s->closed_cap = s->opts.max_closed_clients > 0 ? (size_t)s->opts.max_closed_clients : 0;
    s->closed = s->closed_cap ? calloc(s->closed_cap, sizeof *s->closed) : NULL;
    struct auth *a = auth_new(&s->opts, err, sizeof err);
    if (!a) {
        LOG_FATAL("%s", err);
        return -EINVAL;
    }
    atomic_store(&s->auth, a);
    int trc = 0;
    struct tls_ctx *t = tls_ctx_new(&s->opts, &trc, err, sizeof err);
    if (trc < 0) {
        LOG_FATAL("%s", err);
        return -EINVAL;
    }
    atomic_store(&s->tls, t);
    s->accounts = account_set_new(&s->opts);
    s->main_base = event_base_new();
    if (!s->server_name || !s->accounts || !s->main_base || (s->closed_cap && !s->closed))
        return -ENOMEM;
    log_startup(s);
    if (start_workers(s) < 0)
        return -ENOMEM;
    s->listener = server_listen(s->main_base, s->client_host, s->opts.port, on_accept, s,
                                &s->client_port, "Error listening on port: %s:%d, \"%s\"");
    if (!s->listener)
        return -EADDRINUSE;
    evconnlistener_set_error_cb(s->listener, on_accept_error);
    LOG_INFO("Listening for client connections on %s:%d", s->client_host, s->client_port);
    if (t)
        LOG_INFO("TLS required for client connections");
    server_init_client_urls(s);
    int wrc = ws_server_start(s);
    if (wrc < 0)
        return wrc;
    if (s->opts.cluster_host)
        snprintf(s->cluster_name, sizeof s->cluster_name, "%s",
                 s->opts.cluster_name ? s->opts.cluster_name : "");
    int cerr = 0;
    s->cluster = cluster_new(s, &cerr);
    if (cerr < 0)
        return -EINVAL;
    /* The accounts' own subscriptions before any route: a new route is
     * told of them with the rest of the interest. */
    if (account_set_start(s->accounts, s) < 0)
        return -ENOMEM;
    int src = sysacc_start(s, &s->sysacc);
    if (src < 0)
        return src;
    /* JetStream first: a clustered node's raft state is then in its very
     * first route INFO, so no peer mistakes it for a node without
     * JetStream while the group forms. */
    if (s->opts.jetstream && !s->accounts->jetstream)
        LOG_WARN("JetStream is enabled, but no account enables it: every account is "
                 "answered \"JetStream not enabled for account\"");
    if (s->accounts->jetstream && jetstream_start(s, s->nworkers, &s->jetstream) < 0)
        return -EIO;
    if (s->cluster && cluster_start(s->cluster) < 0)
        return -EINVAL;
    if (s->opts.http_port || s->opts.https_port) {
        int rc = start_monitor(s);
        if (rc < 0)
            return rc;
        if (s->cluster && !monitor_https(s->monitor))
            cluster_set_monitor(s->cluster, monitor_port(s->monitor), s->opts.http_base_path);
    }
    if (add_signals(s) < 0)
        return -ENOMEM;
    if (s->opts.pid_file)
        write_pid_file(s->opts.pid_file);
    if (s->opts.ports_file_dir)
        write_ports_file(s);
    LOG_INFO("Server is ready");
    return 0;
}

static void stop_workers(struct server *s)
{
    if (!s->workers_running)
        return;
    for (int i = 0; i < s->nworkers; i++)
        worker_stop(s->workers[i]);
    s->workers_running = false;
}

int server_run(struct server *s)
{
    event_base_dispatch(s->main_base);
    if (s->listener) {
        evconnlistener_free(s->listener);
        s->listener = NULL;
    }
    ws_server_stop_listening(s);
    cluster_stop(s->cluster);
    jetstream_stop(s->jetstream);
    stop_workers(s);
    LOG_INFO("Server Exiting..");
    return s->exit_code;
}

void server_destroy(struct server *s)
{
    if (s->listener)
        evconnlistener_free(s->listener);
    jetstream_stop(s->jetstream);
    stop_workers(s);
    jetstream_free(s->jetstream);
    s->jetstream = NULL;
    cluster_free(s->cluster); /* after the loops: closing routes use it */
    monitor_stop(s->monitor);
    sysacc_stop(s->sysacc); /* after the loops, which call into it */
    s->sysacc = NULL;
    account_set_stop(s->accounts);
    for (int i = 0; i < s->nworkers; i++)
        worker_free(s->workers[i]);
    free(s->workers);
    reclaim_free(s->reclaim);
    account_set_free(s->accounts); /* after the loops' caches and retired subs */
    s->accounts = NULL;
    for (size_t i = 0; i < sizeof s->sig_events / sizeof s->sig_events[0]; i++)
        if (s->sig_events[i])
            event_free(s->sig_events[i]);
    if (s->tick_ev)
        event_free(s->tick_ev);
    if (s->ldm_ev)
        event_free(s->ldm_ev);
    if (s->main_base)
        event_base_free(s->main_base);
    auth_unref(atomic_load(&s->auth));
    tls_ctx_unref(atomic_load(&s->tls));
    ws_server_free(s->ws); /* after the loops and the reclaimer: clients point at it */
    s->ws = NULL;
    if (s->opts.pid_file)
        unlink(s->opts.pid_file);
    free(s->closed);
    server_free_urls(s);
    pthread_mutex_destroy(&s->urls_lock);
    free(s->server_name);
    opts_free(&s->opts);
    pthread_mutex_destroy(&s->registry_lock);
    log_close();
}
