/*
 * server/monitor.c — the monitoring HTTP server (see monitor.h).
 *
 * evhttp on the main loop; monitor_http.c routes each request here as
 * nats-server's Go mux would and decodes its parameters with nats-server's
 * 400 texts. Each endpoint builds a jansson object from a snapshot taken
 * under registry_lock and answers indented JSON (compact for /healthz), or
 * JSONP with ?callback=. The objects come from builders that take decoded
 * options (monitor_build.h), so the system account's requests over NATS
 * (server/sysacc.h) get the same ones. Field names, units (nanosecond durations, RFC 3339
 * times, Go-style uptime strings) and query parameters follow
 * spec/server-cli-config.md §4; /metrics is monitor_metrics.c's. Never
 * touches a loop's private state.
 */
#include "server/monitor.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/http.h>
#include <jansson.h>
#include <openssl/ssl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cluster/route.h"
#include "proto/subject.h"
#include "server/client.h"
#include "server/jetstream/jetstream.h"
#include "server/log.h"
#include "server/monitor_build.h"
#include "server/monitor_impl.h"
#include "server/monitor_js.h"
#include "server/monitor_url.h"
#include "server/procstat.h"
#include "server/server.h"
#include "server/account.h"
#include "server/sublist.h"
#include "server/tls.h"
#include "server/version.h"
#include "server/ws.h"


/* ---- formatting helpers ---- */

void monitor__fmt_time(char *out, size_t cap, const struct timespec *ts)
{
    struct tm tm;
    gmtime_r(&ts->tv_sec, &tm);
    size_t n = strftime(out, cap, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, cap - n, ".%09ldZ", (long)ts->tv_nsec);
}

/* nats-server's uptime style: 1d2h3m4s, leading zero units dropped. */
void monitor__fmt_uptime(char *out, size_t cap, int64_t secs)
{
    if (secs < 0)
        secs = 0;
    int64_t d = secs / 86400, h = secs % 86400 / 3600, m = secs % 3600 / 60, s = secs % 60;
    if (d)
        snprintf(out, cap, "%lldd%lldh%lldm%llds", (long long)d, (long long)h, (long long)m, (long long)s);
    else if (h)
        snprintf(out, cap, "%lldh%lldm%llds", (long long)h, (long long)m, (long long)s);
    else if (m)
        snprintf(out, cap, "%lldm%llds", (long long)m, (long long)s);
    else
        snprintf(out, cap, "%llds", (long long)s);
}

int64_t monitor__secs_between(const struct timespec *a, const struct timespec *b)
{
    return (int64_t)(b->tv_sec - a->tv_sec);
}

json_t *monitor_json_time(const struct timespec *ts)
{
    return monitor__jtime(ts);
}

json_t *monitor__jtime(const struct timespec *ts)
{
    char buf[64];
    monitor__fmt_time(buf, sizeof buf, ts);
    return json_string(buf);
}

int64_t monitor__rss_bytes(void)
{
    struct procstat ps;
    if (procstat_read(&ps) < 0)
        return 0;
    return (int64_t)ps.rss * sysconf(_SC_PAGESIZE);
}

json_t *monitor__header_object(struct monitor *m)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    json_t *o = json_object();
    json_object_set_new(o, "server_id", json_string(m->srv->server_id));
    json_object_set_new(o, "now", monitor__jtime(&now));
    return o;
}

/* ---- /varz ---- */

/* /varz "websocket", the fields nats-server shows (empty ones left out,
 * as its omitempty leaves them). */
static json_t *ws_varz(struct server *s)
{
    json_t *o = json_object();
    const struct tern_opts *op = &s->opts;
    if (!s->ws)
        return o;
    json_object_set_new(o, "host", json_string(op->ws_host ? op->ws_host : "0.0.0.0"));
    json_object_set_new(o, "port", json_integer(ws_server_port(s->ws)));
    if (op->ws_no_auth_user)
        json_object_set_new(o, "no_auth_user", json_string(op->ws_no_auth_user));
    if (op->ws_handshake_timeout_ms > 0)
        json_object_set_new(o, "handshake_timeout",
                            json_integer((json_int_t)op->ws_handshake_timeout_ms * 1000000));
    if (op->ws_auth_timeout_s > 0)
        json_object_set_new(o, "auth_timeout", json_real(op->ws_auth_timeout_s));
    if (op->ws_no_tls)
        json_object_set_new(o, "no_tls", json_true());
    if (op->ws_tls && op->ws_tls->tls_map)
        json_object_set_new(o, "tls_map", json_true());
    if (op->ws_same_origin)
        json_object_set_new(o, "same_origin", json_true());
    if (op->nws_origins) {
        json_t *a = json_array();
        for (size_t i = 0; i < op->nws_origins; i++)
            json_array_append_new(a, json_string(op->ws_origins[i]));
        json_object_set_new(o, "allowed_origins", a);
    }
    if (op->ws_compression)
        json_object_set_new(o, "compression", json_true());
    return o;
}

json_t *monitor_varz(struct monitor *m)
{
    struct server *s = m->srv;
    struct server_counters ctr;
    server_get_counters(s, &ctr);
    struct sublist_stats st;
    account_set_sublist_stats(s->accounts, &st);
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    char up[64];
    monitor__fmt_uptime(up, sizeof up, monitor__secs_between(&s->start_time, &now));
    long cores = sysconf(_SC_NPROCESSORS_ONLN);

    json_t *o = json_object();
    json_object_set_new(o, "server_id", json_string(s->server_id));
    json_object_set_new(o, "server_name", json_string(s->server_name));
    json_object_set_new(o, "version", json_string(TERN_PROTO_VERSION));
    json_object_set_new(o, "tern_version", json_string(TERN_VERSION));
    json_object_set_new(o, "proto", json_integer(1));
    json_object_set_new(o, "go", json_string(TERN_GO_FIELD));
    json_object_set_new(o, "host", json_string(s->client_host));
    json_object_set_new(o, "port", json_integer(s->client_port));
    json_object_set_new(o, "max_connections", json_integer(atomic_load(&s->max_connections)));
    json_object_set_new(o, "ping_interval", json_integer(atomic_load(&s->ping_interval_ms) * 1000000));
    json_object_set_new(o, "ping_max", json_integer(atomic_load(&s->ping_max)));
    json_object_set_new(o, "http_host", json_string(m->host));
    json_object_set_new(o, "http_port", json_integer(m->https ? 0 : m->port));
    json_object_set_new(o, "http_base_path", json_string(s->opts.http_base_path ? s->opts.http_base_path : ""));
    json_object_set_new(o, "https_port", json_integer(m->https ? m->port : 0));
    json_object_set_new(o, "auth_timeout", json_real(s->opts.auth_timeout_s));
    json_object_set_new(o, "max_control_line", json_integer(atomic_load(&s->max_control_line)));
    json_object_set_new(o, "max_payload", json_integer(atomic_load(&s->max_payload)));
    json_object_set_new(o, "max_pending", json_integer(atomic_load(&s->max_pending)));
    json_t *cluster = json_object();
    if (s->cluster) {
        json_object_set_new(cluster, "name", json_string(cluster_name(s->cluster)));
        json_object_set_new(cluster, "addr", json_string(s->opts.cluster_host));
        json_object_set_new(cluster, "cluster_port", json_integer(cluster_port(s->cluster)));
        json_object_set_new(cluster, "auth_timeout", json_integer(2));
        const struct tern_opts *ct = s->opts.cluster_tls;
        json_object_set_new(cluster, "tls_timeout", json_real(ct ? ct->tls_timeout_s : 2.0));
        if (ct) { /* routes always verify, as nats-server's */
            json_object_set_new(cluster, "tls_required", json_true());
            json_object_set_new(cluster, "tls_verify", json_true());
        }
    }
    json_object_set_new(o, "cluster", cluster);
    json_object_set_new(o, "gateway", json_object());
    json_object_set_new(o, "leaf", json_object());
    json_object_set_new(o, "mqtt", json_object());
    json_object_set_new(o, "websocket", ws_varz(s));
    json_object_set_new(o, "jetstream", monitor_js_varz(s));
    json_object_set_new(o, "tls_timeout", json_real(s->opts.tls_timeout_s));
    if (s->opts.tls) {
        json_object_set_new(o, "tls_required", json_true());
        if (s->opts.tls_verify || s->opts.tls_map)
            json_object_set_new(o, "tls_verify", json_true());
        /* Tern's own: failed and timed-out handshakes since start. */
        json_object_set_new(o, "tls_handshake_failures",
                            json_integer((json_int_t)atomic_load(&s->tls_handshake_failures)));
    }
    json_object_set_new(o, "write_deadline", json_integer(atomic_load(&s->write_deadline_ms) * 1000000));
    json_object_set_new(o, "start", monitor__jtime(&s->start_time));
    json_object_set_new(o, "now", monitor__jtime(&now));
    json_object_set_new(o, "uptime", json_string(up));
    json_object_set_new(o, "mem", json_integer(monitor__rss_bytes()));
    json_object_set_new(o, "cores", json_integer(cores));
    json_object_set_new(o, "gomaxprocs", json_integer(s->nworkers));
    json_object_set_new(o, "cpu", json_real(m->cpu_pct));
    json_object_set_new(o, "connections", json_integer(atomic_load(&s->num_clients)));
    json_object_set_new(o, "total_connections", json_integer((json_int_t)atomic_load(&s->total_connections)));
    size_t nroutes = s->cluster ? cluster_route_count(s->cluster) : 0;
    json_object_set_new(o, "routes", json_integer((json_int_t)nroutes));
    json_object_set_new(o, "remotes", json_integer((json_int_t)nroutes));
    json_object_set_new(o, "leafnodes", json_integer(0));
    json_object_set_new(o, "in_msgs", json_integer((json_int_t)ctr.in_msgs));
    json_object_set_new(o, "out_msgs", json_integer((json_int_t)ctr.out_msgs));
    json_object_set_new(o, "in_bytes", json_integer((json_int_t)ctr.in_bytes));
    json_object_set_new(o, "out_bytes", json_integer((json_int_t)ctr.out_bytes));
    json_object_set_new(o, "slow_consumers", json_integer((json_int_t)atomic_load(&s->slow_consumers)));
    json_object_set_new(o, "subscriptions", json_integer((json_int_t)st.count));
    json_t *reqs = json_object();
    json_object_set_new(reqs, "/varz", json_integer((json_int_t)m->req_varz));
    json_object_set_new(reqs, "/connz", json_integer((json_int_t)m->req_connz));
    json_object_set_new(reqs, "/healthz", json_integer((json_int_t)m->req_healthz));
    json_object_set_new(o, "http_req_stats", reqs);
    json_object_set_new(o, "config_load_time", monitor__jtime(&s->config_load_time));
    json_object_set_new(o, "system_account", json_string(s->accounts->system->name));
    return o;
}

static void on_varz(struct monitor *m, struct evhttp_request *req,
                    const struct monitor_url_query *q)
{
    m->req_varz++;
    monitor__reply_json(req, 200, monitor_varz(m), false, q);
}

/* ---- subscription lists (/connz, /routez) ---- */

void monitor__sub_name(void *arg, const struct sub *s)
{
    json_array_append_new(arg, json_string(s->subject));
}


void monitor__sub_detail(void *arg, const struct sub *s)
{
    struct monitor__sub_detail_ctx *d = arg;
    json_t *o = json_object();
    json_object_set_new(o, "account", json_string(s->acc ? s->acc->name : "$G"));
    json_object_set_new(o, "subject", json_string(s->subject));
    if (s->queue)
        json_object_set_new(o, "qgroup", json_string(s->queue));
    json_object_set_new(o, "sid", json_string(s->sid));
    json_object_set_new(o, "msgs", json_integer((json_int_t)s->delivered));
    if (s->max)
        json_object_set_new(o, "max", json_integer((json_int_t)s->max));
    json_object_set_new(o, "cid", json_integer((json_int_t)d->cid));
    json_array_append_new(d->arr, o);
}

/* ---- /healthz, /subsz, /routez, /accountz, / ---- */

/* The subject index's figures, nats-server's SublistStats fields: every
 * account's, or only those of the account named acc (none when it does
 * not exist, as nats-server sums the accounts that match). */
static void sublist_fields(struct monitor *m, const char *acc, size_t acc_len, json_t *o)
{
    struct sublist_stats st;
    if (!acc_len) {
        account_set_sublist_stats(m->srv->accounts, &st);
    } else {
        memset(&st, 0, sizeof st);
        struct account *a = account_find(m->srv->accounts, acc, acc_len);
        if (a)
            sublist_get_stats(a->sublist, &st);
    }
    json_object_set_new(o, "num_subscriptions", json_integer((json_int_t)st.count));
    json_object_set_new(o, "num_cache", json_integer(0));
    json_object_set_new(o, "num_inserts", json_integer((json_int_t)st.inserts));
    json_object_set_new(o, "num_removes", json_integer((json_int_t)st.removes));
    json_object_set_new(o, "num_matches", json_integer((json_int_t)st.matches));
    json_object_set_new(o, "cache_hit_rate", json_real(0));
    json_object_set_new(o, "max_fanout", json_integer(0));
    json_object_set_new(o, "avg_fanout", json_integer(0));
}

struct subs_walk {
    struct monitor__sub_detail_ctx d;
    const char *test;          /* borrowed: the test subject, or NULL */
    size_t test_len;
    const char *acc;           /* borrowed: the account filter */
    size_t acc_len;            /* 0: none */
};

static void sub_if_matches(void *arg, const struct sub *s)
{
    struct subs_walk *w = arg;
    if (w->acc_len && (!s->acc || strlen(s->acc->name) != w->acc_len ||
                       memcmp(s->acc->name, w->acc, w->acc_len) != 0))
        return;
    if (!w->test || subject_match(s->subject, strlen(s->subject), w->test, w->test_len))
        monitor__sub_detail(&w->d, s);
}

/* With subs, every client subscription (those test would receive), paged
 * by offset and limit; "total" is the page's size, as nats-server counts
 * it. */
json_t *monitor_subsz(struct monitor *m, const struct monitor_subsz_opts *o, char *err,
                      size_t errlen)
{
    const char *test = o->test_len ? o->test : NULL;
    if (test && !subject_valid_literal(test, o->test_len)) {
        snprintf(err, errlen, "invalid test subject, must be valid publish subject: %.*s",
                 (int)(o->test_len > 600 ? 600 : o->test_len), test);
        return NULL;
    }
    int64_t offset = o->offset < 0 ? 0 : o->offset, limit = o->limit <= 0 ? 1024 : o->limit;
    json_t *all = json_array();
    if (o->subs) {
        struct server *s = m->srv;
        struct subs_walk w = { { all, 0 }, test, o->test_len, o->acc, o->acc_len };
        pthread_mutex_lock(&s->registry_lock);
        for (struct client *c = s->clients; c; c = c->reg_next) {
            w.d.cid = c->cid;
            client_each_sub(c, sub_if_matches, &w);
        }
        pthread_mutex_unlock(&s->registry_lock);
    }
    size_t n = json_array_size(all);
    size_t lo = (size_t)offset < n ? (size_t)offset : n;
    size_t hi = (uint64_t)limit < n - lo ? lo + (size_t)limit : n;
    json_t *res = monitor__header_object(m);
    sublist_fields(m, o->acc, o->acc_len, res);
    json_object_set_new(res, "total", json_integer((json_int_t)(hi - lo)));
    json_object_set_new(res, "offset", json_integer(offset));
    json_object_set_new(res, "limit", json_integer(limit));
    if (lo < hi) {
        json_t *page = json_array();
        for (size_t i = lo; i < hi; i++)
            json_array_append(page, json_array_get(all, i));
        json_object_set_new(res, "subscriptions_list", page);
    }
    json_decref(all);
    return res;
}

/* What each peer announced over its route: subjects or detail objects. */
json_t *monitor_routez(struct monitor *m, enum monitor_subs subs)
{
    json_t *o = monitor__header_object(m);
    json_t *arr = json_array();
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    struct route_snapshot rs[64];
    size_t n = m->srv->cluster ? cluster_routes_snapshot(m->srv->cluster, rs, 64) : 0;
    for (size_t i = 0; i < n; i++) {
        json_t *r = json_object();
        json_object_set_new(r, "rid", json_integer((json_int_t)rs[i].rid));
        json_object_set_new(r, "remote_id", json_string(rs[i].remote_id));
        json_object_set_new(r, "remote_name", json_string(rs[i].remote_name));
        json_object_set_new(r, "did_solicit", json_boolean(rs[i].did_solicit));
        json_object_set_new(r, "is_configured", json_boolean(rs[i].is_configured));
        json_object_set_new(r, "ip", json_string(rs[i].ip));
        json_object_set_new(r, "port", json_integer(rs[i].port));
        struct timespec last = { (time_t)(rs[i].last_activity_ns / 1000000000),
                                 (long)(rs[i].last_activity_ns % 1000000000) };
        char up[64], idle[64];
        monitor__fmt_uptime(up, sizeof up, monitor__secs_between(&rs[i].start, &now));
        monitor__fmt_uptime(idle, sizeof idle, monitor__secs_between(&last, &now));
        json_object_set_new(r, "start", monitor__jtime(&rs[i].start));
        json_object_set_new(r, "last_activity", monitor__jtime(&last));
        json_object_set_new(r, "rtt", json_string("0s"));
        json_object_set_new(r, "uptime", json_string(up));
        json_object_set_new(r, "idle", json_string(idle));
        json_object_set_new(r, "pending_size", json_integer(0));
        json_object_set_new(r, "in_msgs", json_integer((json_int_t)rs[i].in_msgs));
        json_object_set_new(r, "out_msgs", json_integer((json_int_t)rs[i].out_msgs));
        json_object_set_new(r, "in_bytes", json_integer((json_int_t)rs[i].in_bytes));
        json_object_set_new(r, "out_bytes", json_integer((json_int_t)rs[i].out_bytes));
        json_object_set_new(r, "subscriptions", json_integer((json_int_t)rs[i].subs));
        if (subs == MONITOR_SUBS_LIST) {
            json_t *list = json_array();
            cluster_route_each_sub(m->srv->cluster, rs[i].rid, monitor__sub_name, list);
            json_object_set_new(r, "subscriptions_list", list);
        } else if (subs == MONITOR_SUBS_DETAIL) {
            struct monitor__sub_detail_ctx d = { json_array(), rs[i].rid };
            cluster_route_each_sub(m->srv->cluster, rs[i].rid, monitor__sub_detail, &d);
            json_object_set_new(r, "subscriptions_list_detail", d.arr);
        }
        json_array_append_new(arr, r);
    }
    json_object_set_new(o, "server_name", json_string(m->srv->server_name));
    json_object_set_new(o, "num_routes", json_integer((json_int_t)n));
    json_object_set_new(o, "routes", arr);
    return o;
}

/* An account that does not exist is refused, as nats-server refuses it.
 * Its details are not built: the list answers for each. */
json_t *monitor_accountz(struct monitor *m, const char *acc, size_t acc_len, char *err,
                         size_t errlen)
{
    const struct account_set *set = m->srv->accounts;
    if (acc_len && !account_find(set, acc, acc_len)) {
        snprintf(err, errlen, "Account %.*s does not exist", (int)(acc_len > 600 ? 600 : acc_len),
                 acc);
        return NULL;
    }
    json_t *o = monitor__header_object(m);
    json_object_set_new(o, "system_account", json_string(set->system->name));
    json_t *accs = json_array();
    for (size_t i = 0; i < set->n; i++)
        json_array_append_new(accs, json_string(set->accs[i]->name));
    json_object_set_new(o, "accounts", accs);
    return o;
}

/* Clustered JetStream: healthy only while this node knows the group's
 * leader (it applies what the leader commits and can reach it), as
 * nats-server's "JetStream is not current with the meta leader".
 * ?js-enabled-only=true checks only that JetStream runs. */
static int64_t now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

int monitor__health(struct monitor *m, bool enabled_only, const char **err)
{
    struct jetstream_stats st = { 0 };
    if (m->srv->jetstream)
        jetstream_get_stats(m->srv->jetstream, &st);
    /* Clustered: healthy only while this node can serve JetStream writes
     * now (a leader under its lease, a follower that hears its leader), so
     * a cut-off node or a group that lost its leader says so within half
     * a second, not after an election. */
    if (st.clustered && !enabled_only && (!st.leader[0] || now_ms() >= st.serve_until_ms)) {
        *err = "JetStream is not current with the meta leader";
        return 503;
    }
    return 200;
}

json_t *monitor_healthz(struct monitor *m, bool js_enabled_only)
{
    json_t *o = json_object();
    const char *err = NULL;
    if (monitor__health(m, js_enabled_only, &err) == 200) {
        json_object_set_new(o, "status", json_string("ok"));
    } else {
        json_object_set_new(o, "status", json_string("unavailable"));
        json_object_set_new(o, "error", json_string(err));
    }
    return o;
}

static void on_healthz(struct monitor *m, struct evhttp_request *req,
                       const struct monitor_url_query *q)
{
    m->req_healthz++;
    /* js-enabled is the deprecated name of js-enabled-only; js-server-only
     * skips per-stream checks, which Tern's health has none of. */
    bool js_enabled = false, enabled_only = false, server_only = false;
    if (!monitor__decode_bool(req, q, "js-enabled", &js_enabled))
        return;
    if (js_enabled)
        LOG_WARN("Healthcheck: js-enabled deprecated, use js-enabled-only instead");
    if (!monitor__decode_bool(req, q, "js-enabled-only", &enabled_only) ||
        !monitor__decode_bool(req, q, "js-server-only", &server_only))
        return;
    enabled_only |= js_enabled;
    json_t *o = monitor_healthz(m, enabled_only);
    int code = json_object_get(o, "error") ? 503 : 200;
    monitor__reply_json(req, code, o, true, q);
}

/* Without subscriptions in the page, nats-server's handler shows only the
 * figures. */
static void on_subsz(struct monitor *m, struct evhttp_request *req,
                     const struct monitor_url_query *q)
{
    struct monitor_subsz_opts o = { 0 };
    m->req_subsz++;
    if (!monitor__decode_bool(req, q, "subs", &o.subs) ||
        !monitor__decode_int(req, q, "offset", &o.offset) ||
        !monitor__decode_int(req, q, "limit", &o.limit))
        return;
    o.test = monitor_url_get(q, "test", &o.test_len);
    o.acc = monitor_url_get(q, "acc", &o.acc_len);
    char err[700];
    json_t *res = monitor_subsz(m, &o, err, sizeof err);
    if (!res) {
        monitor__reply_text(req, 400, err);
        return;
    }
    if (!json_object_get(res, "subscriptions_list")) {
        static const char *const header[] = { "server_id", "now", "total", "offset", "limit" };
        for (size_t i = 0; i < sizeof header / sizeof header[0]; i++)
            json_object_del(res, header[i]);
    }
    monitor__reply_json(req, 200, res, false, q);
}

static void on_routez(struct monitor *m, struct evhttp_request *req,
                      const struct monitor_url_query *q)
{
    int subs = 0;
    if (!monitor__decode_subs(req, q, &subs))
        return;
    m->req_routez++;
    monitor__reply_json(req, 200, monitor_routez(m, (enum monitor_subs)subs), false, q);
}

bool monitor_js_leader(struct monitor *m)
{
    struct jetstream_stats st = { 0 };
    if (!m->srv->jetstream)
        return false;
    jetstream_get_stats(m->srv->jetstream, &st);
    return !st.clustered || strcmp(st.leader, m->srv->server_id) == 0;
}

/* consumers implies streams, which implies accounts (nats-server's Jsz);
 * the config details are not built. */
json_t *monitor_jsz(struct monitor *m, bool accounts, bool streams, bool consumers)
{
    streams |= consumers;
    accounts |= streams;
    json_t *o = monitor__header_object(m);
    monitor_js_jsz(m->srv, o, accounts, streams, consumers);
    return o;
}

static void on_jsz(struct monitor *m, struct evhttp_request *req,
                   const struct monitor_url_query *q)
{
    bool accounts = false, streams = false, consumers = false, config = false, leader = false;
    int64_t offset = 0, limit = 0;
    m->req_jsz++;
    if (!monitor__decode_bool(req, q, "accounts", &accounts) ||
        !monitor__decode_bool(req, q, "streams", &streams) ||
        !monitor__decode_bool(req, q, "consumers", &consumers) ||
        !monitor__decode_bool(req, q, "config", &config) ||
        !monitor__decode_int(req, q, "offset", &offset) ||
        !monitor__decode_int(req, q, "limit", &limit) ||
        !monitor__decode_bool(req, q, "leader-only", &leader))
        return;
    if (leader && !monitor_js_leader(m)) {
        monitor__reply_text(req, 400, "filtered response: not leader");
        return;
    }
    monitor__reply_json(req, 200, monitor_jsz(m, accounts, streams, consumers), false, q);
}

static void on_accountz(struct monitor *m, struct evhttp_request *req,
                        const struct monitor_url_query *q)
{
    size_t n = 0;
    const char *acc = monitor_url_get(q, "acc", &n);
    char err[700];
    json_t *o = monitor_accountz(m, acc, n, err, sizeof err);
    if (!o) {
        monitor__reply_text(req, 400, err);
        return;
    }
    monitor__reply_json(req, 200, o, false, q);
}

void monitor__on_root(struct monitor *m, struct evhttp_request *req)
{
    m->req_root++;
    struct evbuffer *b = evbuffer_new();
    evbuffer_add_printf(b, "<html><head><title>ternd monitoring</title></head><body>"
                           "<h1>ternd %s</h1><ul>"
                           "<li><a href=\"varz\">varz</a></li>"
                           "<li><a href=\"connz\">connz</a></li>"
                           "<li><a href=\"routez\">routez</a></li>"
                           "<li><a href=\"subsz\">subsz</a></li>"
                           "<li><a href=\"accountz\">accountz</a></li>"
                           "<li><a href=\"healthz\">healthz</a></li>"
                           "<li><a href=\"metrics\">metrics</a></li>"
                           "</ul></body></html>\n", TERN_VERSION);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                      "text/html; charset=utf-8");
    evhttp_send_reply(req, 200, "OK", b);
    evbuffer_free(b);
}

/* ---- the endpoints, for monitor_http.c's routing ---- */

const struct monitor__endpoint monitor__endpoints[] = {
    { "varz", on_varz },       { "connz", monitor__on_connz }, { "healthz", on_healthz },
    { "subsz", on_subsz },     { "subscriptionsz", on_subsz }, { "routez", on_routez },
    { "accountz", on_accountz }, { "jsz", on_jsz }, { "metrics", monitor__on_metrics },
    { "clusterz", monitor__on_clusterz },
};
const size_t monitor__nendpoints = sizeof monitor__endpoints / sizeof monitor__endpoints[0];

/* ---- lifecycle ---- */

/* evhttp's hook for each accepted connection: a TLS bufferevent that
 * handshakes as a server before evhttp reads the request. The main thread
 * both runs this and swaps s->tls on SIGHUP, so the load needs no guard. */
static struct bufferevent *https_bev(struct event_base *base, void *arg)
{
    struct monitor *m = arg;
    struct tls_ctx *t = atomic_load(&m->srv->tls);
    SSL *ssl = t ? tls_ssl_new_monitor(t) : NULL;
    struct bufferevent *bev = ssl ? bufferevent_openssl_socket_new(base, -1, ssl,
                                                                   BUFFEREVENT_SSL_ACCEPTING,
                                                                   BEV_OPT_CLOSE_ON_FREE)
                                  : NULL;
    if (bev)
        return bev;
    LOG_ERROR("https monitor: cannot make a TLS session (out of memory)");
    /* evhttp would take NULL as "plain HTTP". One end of a pair instead:
     * evhttp cannot give it the socket, so it drops the connection at once
     * (CLOSE_ON_FREE leaves the closing of the socket to its one caller
     * that does it; libevent 2.1.12's http.c). */
    struct bufferevent *pair[2];
    if (bufferevent_pair_new(base, BEV_OPT_CLOSE_ON_FREE, pair) < 0)
        return NULL;
    bufferevent_free(pair[1]);
    return pair[0];
}

struct monitor *monitor_start(struct server *s, const char *host, int port, bool https)
{
    struct monitor *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->srv = s;
    m->https = https;
    snprintf(m->host, sizeof m->host, "%s", host);
    m->http = evhttp_new(s->main_base);
    if (!m->http)
        goto err_after_alloc;
    struct evhttp_bound_socket *bs = evhttp_bind_socket_with_handle(m->http, host,
                                                                    (ev_uint16_t)(port < 0 ? 0 : port));
    if (!bs) {
        LOG_FATAL("Can't listen to the monitor port: listen tcp %s:%d: bind failed", host, port);
        goto err_after_http;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    m->port = port;
    if (getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&ss, &sl) == 0)
        m->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    evhttp_set_gencb(m->http, monitor__dispatch, m);
    if (https)
        evhttp_set_bevcb(m->http, https_bev, m);
    if (monitor__cpu_start(m) < 0) {
        LOG_FATAL("Can't start the http monitor: out of memory");
        goto err_after_http;
    }
    LOG_INFO("Starting %s monitor on %s:%d", https ? "https" : "http", host, m->port);
    return m;

err_after_http:
    evhttp_free(m->http);
err_after_alloc:
    free(m);
    return NULL;
}

struct monitor *monitor_new_headless(struct server *s)
{
    struct monitor *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->srv = s;
    /* nats-server's /varz without a monitoring port: its host is the
     * client host unless http is given an address. */
    const char *host = s->opts.http_host ? s->opts.http_host : s->client_host;
    snprintf(m->host, sizeof m->host, "%s", host);
    if (monitor__cpu_start(m) < 0) {
        free(m);
        return NULL;
    }
    return m;
}

int monitor_port(const struct monitor *m)
{
    return m->port;
}

bool monitor_https(const struct monitor *m)
{
    return m->https;
}

void monitor_stop(struct monitor *m)
{
    if (!m)
        return;
    monitor__cpu_stop(m);
    monitor__clusterz_stop(m);
    if (m->http)
        evhttp_free(m->http);
    free(m);
}
