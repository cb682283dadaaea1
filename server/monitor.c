/*
 * server/monitor.c — the monitoring HTTP server (see monitor.h).
 *
 * evhttp on the main loop. Each endpoint builds a jansson object from a
 * snapshot taken under registry_lock and answers indented JSON (compact for
 * /healthz), or JSONP with ?callback=. Field names, units (nanosecond
 * durations, RFC 3339 times, Go-style uptime strings) and query parameters
 * follow spec/server-cli-config.md §4. Never touches a loop's private state.
 */
#include "server/monitor.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cluster/route.h"
#include "server/client.h"
#include "server/log.h"
#include "server/monitor_js.h"
#include "server/server.h"
#include "server/sublist.h"
#include "server/version.h"

struct monitor {
    struct server *srv;        /* borrowed */
    struct evhttp *http;       /* owned */
    int port;
    char host[64];
    uint64_t req_varz, req_connz, req_healthz, req_subsz, req_routez, req_jsz, req_root;
};

/* ---- formatting helpers ---- */

static void fmt_time(char *out, size_t cap, const struct timespec *ts)
{
    struct tm tm;
    gmtime_r(&ts->tv_sec, &tm);
    size_t n = strftime(out, cap, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, cap - n, ".%09ldZ", (long)ts->tv_nsec);
}

/* nats-server's uptime style: 1d2h3m4s, leading zero units dropped. */
static void fmt_uptime(char *out, size_t cap, int64_t secs)
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

static int64_t secs_between(const struct timespec *a, const struct timespec *b)
{
    return (int64_t)(b->tv_sec - a->tv_sec);
}

static json_t *jtime(const struct timespec *ts)
{
    char buf[64];
    fmt_time(buf, sizeof buf, ts);
    return json_string(buf);
}

static int64_t rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, resident = 0;
    if (!f)
        return 0;
    if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
        resident = 0;
    fclose(f);
    return (int64_t)resident * sysconf(_SC_PAGESIZE);
}

/* ---- query parsing ---- */

static const char *qparam(struct evkeyvalq *q, const char *key)
{
    return evhttp_find_header(q, key);
}

/* Go's ParseBool forms; -1 when not a boolean. */
static int parse_bool(const char *v)
{
    static const char *yes[] = { "1", "t", "T", "true", "TRUE", "True" };
    static const char *no[] = { "0", "f", "F", "false", "FALSE", "False" };
    for (size_t i = 0; i < 6; i++) {
        if (strcmp(v, yes[i]) == 0)
            return 1;
        if (strcmp(v, no[i]) == 0)
            return 0;
    }
    return -1;
}

/* ---- replies ---- */

static void reply_text(struct evhttp_request *req, int code, const char *text)
{
    struct evbuffer *b = evbuffer_new();
    evbuffer_add_printf(b, "%s", text);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "text/plain");
    evhttp_send_reply(req, code, code == 200 ? "OK" : "Bad Request", b);
    evbuffer_free(b);
}

static void reply_json(struct evhttp_request *req, int code, json_t *body, bool compact,
                       struct evkeyvalq *q)
{
    char *text = json_dumps(body, JSON_PRESERVE_ORDER | (compact ? JSON_COMPACT : JSON_INDENT(2)));
    json_decref(body);
    struct evbuffer *b = evbuffer_new();
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    const char *cb = q ? qparam(q, "callback") : NULL;
    if (cb) {
        evhttp_add_header(h, "Content-Type", "application/javascript");
        evbuffer_add_printf(b, "%s(%s)", cb, text ? text : "{}");
    } else {
        evhttp_add_header(h, "Content-Type", "application/json");
        evbuffer_add_printf(b, "%s", text ? text : "{}");
    }
    evhttp_add_header(h, "Access-Control-Allow-Origin", "*");
    free(text);
    evhttp_send_reply(req, code, code == 200 ? "OK" : "Error", b);
    evbuffer_free(b);
}

static bool parse_query(struct evhttp_request *req, struct evkeyvalq *q)
{
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *query = uri ? evhttp_uri_get_query(uri) : NULL;
    if (!query) {
        /* An empty list: parse the empty string rather than reach into
         * libevent's queue macros. */
        return evhttp_parse_query_str("", q) == 0;
    }
    return evhttp_parse_query_str(query, q) == 0;
}

/* Answer one JSON endpoint: parse the query, build the body, reply
 * (indented, or compact for /healthz), release the query. */
static void serve_json(struct evhttp_request *req, struct monitor *m, bool compact,
                       json_t *(*build)(struct monitor *m))
{
    struct evkeyvalq q;
    parse_query(req, &q);
    reply_json(req, 200, build(m), compact, &q);
    evhttp_clear_headers(&q);
}

static json_t *header_object(struct monitor *m)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    json_t *o = json_object();
    json_object_set_new(o, "server_id", json_string(m->srv->server_id));
    json_object_set_new(o, "now", jtime(&now));
    return o;
}

/* ---- /varz ---- */

static json_t *varz(struct monitor *m)
{
    struct server *s = m->srv;
    struct server_counters ctr;
    server_get_counters(s, &ctr);
    struct sublist_stats st;
    sublist_get_stats(s->sublist, &st);
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    char up[64];
    fmt_uptime(up, sizeof up, secs_between(&s->start_time, &now));
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
    json_object_set_new(o, "http_port", json_integer(m->port));
    json_object_set_new(o, "http_base_path", json_string(s->opts.http_base_path ? s->opts.http_base_path : ""));
    json_object_set_new(o, "https_port", json_integer(0));
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
    }
    json_object_set_new(o, "cluster", cluster);
    json_object_set_new(o, "gateway", json_object());
    json_object_set_new(o, "leaf", json_object());
    json_object_set_new(o, "mqtt", json_object());
    json_object_set_new(o, "websocket", json_object());
    json_object_set_new(o, "jetstream", monitor_js_varz(s));
    json_object_set_new(o, "tls_timeout", json_real(2));
    json_object_set_new(o, "write_deadline", json_integer(atomic_load(&s->write_deadline_ms) * 1000000));
    json_object_set_new(o, "start", jtime(&s->start_time));
    json_object_set_new(o, "now", jtime(&now));
    json_object_set_new(o, "uptime", json_string(up));
    json_object_set_new(o, "mem", json_integer(rss_bytes()));
    json_object_set_new(o, "cores", json_integer(cores));
    json_object_set_new(o, "gomaxprocs", json_integer(s->nworkers));
    json_object_set_new(o, "cpu", json_real(0));
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
    json_object_set_new(o, "config_load_time", jtime(&s->config_load_time));
    json_object_set_new(o, "system_account", json_string("$SYS"));
    return o;
}

static void on_varz(struct evhttp_request *req, void *arg)
{
    struct monitor *m = arg;
    m->req_varz++;
    serve_json(req, m, false, varz);
}

/* ---- /connz ---- */

enum conn_state { CONN_OPEN, CONN_CLOSED, CONN_ANY };

struct connz_query {
    enum conn_state state;
    int subs;              /* 0 none, 1 list, 2 detail */
    bool auth;
    long offset, limit;
    uint64_t cid;          /* 0 = all */
    const char *sort;
};

struct conn_row {
    struct conn_record rec;
    bool closed;
    struct timespec last;
    json_t *subs;          /* owned until moved into the reply */
};

static void add_sub_name(void *arg, const struct sub *s)
{
    json_array_append_new(arg, json_string(s->subject));
}

struct detail_ctx {
    json_t *arr;
    uint64_t cid;
};

static void add_sub_detail(void *arg, const struct sub *s)
{
    struct detail_ctx *d = arg;
    json_t *o = json_object();
    json_object_set_new(o, "account", json_string("$G"));
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

static size_t collect_rows(struct server *s, const struct connz_query *cq, struct conn_row **out)
{
    size_t cap = 64, n = 0;
    struct conn_row *rows = malloc(cap * sizeof *rows);
    if (!rows)
        return 0;
    pthread_mutex_lock(&s->registry_lock);
    if (cq->state != CONN_CLOSED) {
        for (struct client *c = s->clients; c; c = c->reg_next) {
            if (cq->cid && c->cid != cq->cid)
                continue;
            if (n == cap) {
                struct conn_row *nr = realloc(rows, (cap *= 2) * sizeof *rows);
                if (!nr)
                    break;
                rows = nr;
            }
            struct conn_row *r = &rows[n++];
            client_fill_record(c, &r->rec);
            r->closed = false;
            int64_t ns = atomic_load_explicit(&c->last_activity_ns, memory_order_relaxed);
            r->last.tv_sec = (time_t)(ns / 1000000000);
            r->last.tv_nsec = (long)(ns % 1000000000);
            r->subs = NULL;
            if (cq->subs == 1) {
                r->subs = json_array();
                client_each_sub(c, add_sub_name, r->subs);
            } else if (cq->subs == 2) {
                struct detail_ctx d = { json_array(), c->cid };
                client_each_sub(c, add_sub_detail, &d);
                r->subs = d.arr;
            }
        }
    }
    if (cq->state != CONN_OPEN) {
        for (size_t i = 0; i < s->closed_count; i++) {
            size_t idx = (s->closed_next + s->closed_cap - s->closed_count + i) % s->closed_cap;
            if (cq->cid && s->closed[idx].cid != cq->cid)
                continue;
            if (n == cap) {
                struct conn_row *nr = realloc(rows, (cap *= 2) * sizeof *rows);
                if (!nr)
                    break;
                rows = nr;
            }
            rows[n].rec = s->closed[idx];
            rows[n].closed = true;
            rows[n].last = s->closed[idx].stop;
            rows[n].subs = NULL;
            n++;
        }
    }
    pthread_mutex_unlock(&s->registry_lock);
    *out = rows;
    return n;
}

static const char *sort_key;

static int cmp_u64(uint64_t a, uint64_t b) { return a < b ? -1 : a > b; }

static int cmp_rows(const void *pa, const void *pb)
{
    const struct conn_row *a = pa, *b = pb;
    const char *k = sort_key;
    /* Every sort but cid and start is descending, as nats-server's. */
    if (!strcmp(k, "subs"))
        return cmp_u64(b->rec.subs, a->rec.subs);
    if (!strcmp(k, "msgs_to"))
        return cmp_u64(b->rec.out_msgs, a->rec.out_msgs);
    if (!strcmp(k, "msgs_from"))
        return cmp_u64(b->rec.in_msgs, a->rec.in_msgs);
    if (!strcmp(k, "bytes_to"))
        return cmp_u64(b->rec.out_bytes, a->rec.out_bytes);
    if (!strcmp(k, "bytes_from"))
        return cmp_u64(b->rec.in_bytes, a->rec.in_bytes);
    if (!strcmp(k, "stop"))
        return cmp_u64((uint64_t)b->rec.stop.tv_sec, (uint64_t)a->rec.stop.tv_sec);
    if (!strcmp(k, "last"))
        return cmp_u64((uint64_t)b->last.tv_sec, (uint64_t)a->last.tv_sec);
    return cmp_u64(a->rec.cid, b->rec.cid); /* cid, start, others */
}

static json_t *conn_json(const struct conn_row *r, const struct connz_query *cq,
                         const struct timespec *now)
{
    const struct conn_record *c = &r->rec;
    char up[64], idle[64];
    fmt_uptime(up, sizeof up, secs_between(&c->start, r->closed ? &c->stop : now));
    fmt_uptime(idle, sizeof idle, secs_between(&r->last, now));
    json_t *o = json_object();
    json_object_set_new(o, "cid", json_integer((json_int_t)c->cid));
    json_object_set_new(o, "kind", json_string("Client"));
    json_object_set_new(o, "type", json_string("nats"));
    json_object_set_new(o, "ip", json_string(c->ip));
    json_object_set_new(o, "port", json_integer(c->port));
    json_object_set_new(o, "start", jtime(&c->start));
    json_object_set_new(o, "last_activity", jtime(&r->last));
    if (r->closed)
        json_object_set_new(o, "stop", jtime(&c->stop));
    json_object_set_new(o, "rtt", json_string("0s"));
    json_object_set_new(o, "uptime", json_string(up));
    json_object_set_new(o, "idle", json_string(idle));
    json_object_set_new(o, "pending_bytes", json_integer(0));
    json_object_set_new(o, "in_msgs", json_integer((json_int_t)c->in_msgs));
    json_object_set_new(o, "out_msgs", json_integer((json_int_t)c->out_msgs));
    json_object_set_new(o, "in_bytes", json_integer((json_int_t)c->in_bytes));
    json_object_set_new(o, "out_bytes", json_integer((json_int_t)c->out_bytes));
    json_object_set_new(o, "subscriptions", json_integer((json_int_t)c->subs));
    if (c->name[0])
        json_object_set_new(o, "name", json_string(c->name));
    if (c->lang[0])
        json_object_set_new(o, "lang", json_string(c->lang));
    if (c->version[0])
        json_object_set_new(o, "version", json_string(c->version));
    if (cq->auth && c->user[0]) {
        json_object_set_new(o, "authorized_user", json_string(c->user));
        json_object_set_new(o, "account", json_string("$G"));
    }
    if (r->closed && c->reason)
        json_object_set_new(o, "reason", json_string(c->reason));
    return o;
}

/* Fill cq from the query string; NULL or an error text for a 400. */
static const char *read_connz_query(struct evkeyvalq *q, struct connz_query *cq, char *err, size_t cap)
{
    memset(cq, 0, sizeof *cq);
    cq->limit = 1024;
    cq->sort = "cid";
    const char *v;
    if ((v = qparam(q, "state"))) {
        if (!strcasecmp(v, "open"))
            cq->state = CONN_OPEN;
        else if (!strcasecmp(v, "closed"))
            cq->state = CONN_CLOSED;
        else if (!strcasecmp(v, "any") || !strcasecmp(v, "all"))
            cq->state = CONN_ANY;
        else {
            snprintf(err, cap, "Error decoding state for %s", v);
            return err;
        }
    }
    if ((v = qparam(q, "subs"))) {
        if (!strcmp(v, "detail"))
            cq->subs = 2;
        else if (parse_bool(v) >= 0)
            cq->subs = parse_bool(v);
        else {
            snprintf(err, cap, "Error decoding subs for %s", v);
            return err;
        }
    }
    if ((v = qparam(q, "auth")))
        cq->auth = parse_bool(v) == 1;
    if ((v = qparam(q, "offset")))
        cq->offset = strtol(v, NULL, 10);
    if ((v = qparam(q, "limit")))
        cq->limit = strtol(v, NULL, 10);
    if ((v = qparam(q, "cid")))
        cq->cid = strtoull(v, NULL, 10);
    if ((v = qparam(q, "sort"))) {
        static const char *ok[] = { "cid", "start", "subs", "pending", "msgs_to", "msgs_from",
                                    "bytes_to", "bytes_from", "last", "idle", "uptime",
                                    "stop", "reason", "rtt" };
        bool found = false;
        for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
            found |= strcmp(v, ok[i]) == 0;
        if (!found) {
            snprintf(err, cap, "Invalid sorting option: %s", v);
            return err;
        }
        cq->sort = v;
    }
    if (cq->offset < 0)
        cq->offset = 0;
    if (cq->limit <= 0)
        cq->limit = 1024;
    return NULL;
}

static void on_connz(struct evhttp_request *req, void *arg)
{
    struct monitor *m = arg;
    struct evkeyvalq q;
    char err[256];
    struct connz_query cq;
    m->req_connz++;
    const char *bad = parse_query(req, &q) ? read_connz_query(&q, &cq, err, sizeof err)
                                           : "Error parsing query";
    if (bad) {
        reply_text(req, 400, bad);
        evhttp_clear_headers(&q);
        return;
    }
    struct conn_row *rows = NULL;
    size_t n = collect_rows(m->srv, &cq, &rows);
    sort_key = cq.sort; /* qsort has no context argument; main thread only */
    qsort(rows, n, sizeof *rows, cmp_rows);
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    json_t *conns = json_array();
    for (size_t i = 0; i < n; i++) {
        bool in_page = i >= (size_t)cq.offset && json_array_size(conns) < (size_t)cq.limit;
        if (in_page) {
            json_t *o = conn_json(&rows[i], &cq, &now);
            if (rows[i].subs)
                json_object_set_new(o, cq.subs == 2 ? "subscriptions_list_detail"
                                                    : "subscriptions_list", rows[i].subs);
            json_array_append_new(conns, o);
        } else if (rows[i].subs) {
            json_decref(rows[i].subs);
        }
    }
    free(rows);
    json_t *o = header_object(m);
    json_object_set_new(o, "num_connections", json_integer((json_int_t)json_array_size(conns)));
    json_object_set_new(o, "total", json_integer((json_int_t)n));
    json_object_set_new(o, "offset", json_integer(cq.offset));
    json_object_set_new(o, "limit", json_integer(cq.limit));
    json_object_set_new(o, "connections", conns);
    reply_json(req, 200, o, false, &q);
    evhttp_clear_headers(&q);
}

/* ---- /healthz, /subsz, /routez, /accountz, / ---- */

static json_t *healthz(struct monitor *m)
{
    json_t *o = json_object();
    json_object_set_new(o, "status", json_string("ok"));
    return o;
}

static json_t *subsz(struct monitor *m)
{
    struct sublist_stats st;
    sublist_get_stats(m->srv->sublist, &st);
    json_t *o = json_object();
    json_object_set_new(o, "num_subscriptions", json_integer((json_int_t)st.count));
    json_object_set_new(o, "num_cache", json_integer(0));
    json_object_set_new(o, "num_inserts", json_integer((json_int_t)st.inserts));
    json_object_set_new(o, "num_removes", json_integer((json_int_t)st.removes));
    json_object_set_new(o, "num_matches", json_integer((json_int_t)st.matches));
    json_object_set_new(o, "cache_hit_rate", json_real(0));
    json_object_set_new(o, "max_fanout", json_integer(0));
    json_object_set_new(o, "avg_fanout", json_integer(0));
    return o;
}

/* subs: 0 none, 1 subjects ("subscriptions_list"), 2 detail
 * ("subscriptions_list_detail"): what each peer announced over its route. */
static json_t *routez(struct monitor *m, int subs)
{
    json_t *o = header_object(m);
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
        fmt_uptime(up, sizeof up, secs_between(&rs[i].start, &now));
        fmt_uptime(idle, sizeof idle, secs_between(&last, &now));
        json_object_set_new(r, "start", jtime(&rs[i].start));
        json_object_set_new(r, "last_activity", jtime(&last));
        json_object_set_new(r, "rtt", json_string("0s"));
        json_object_set_new(r, "uptime", json_string(up));
        json_object_set_new(r, "idle", json_string(idle));
        json_object_set_new(r, "pending_size", json_integer(0));
        json_object_set_new(r, "in_msgs", json_integer((json_int_t)rs[i].in_msgs));
        json_object_set_new(r, "out_msgs", json_integer((json_int_t)rs[i].out_msgs));
        json_object_set_new(r, "in_bytes", json_integer((json_int_t)rs[i].in_bytes));
        json_object_set_new(r, "out_bytes", json_integer((json_int_t)rs[i].out_bytes));
        json_object_set_new(r, "subscriptions", json_integer((json_int_t)rs[i].subs));
        if (subs == 1) {
            json_t *list = json_array();
            cluster_route_each_sub(m->srv->cluster, rs[i].rid, add_sub_name, list);
            json_object_set_new(r, "subscriptions_list", list);
        } else if (subs == 2) {
            struct detail_ctx d = { json_array(), rs[i].rid };
            cluster_route_each_sub(m->srv->cluster, rs[i].rid, add_sub_detail, &d);
            json_object_set_new(r, "subscriptions_list_detail", d.arr);
        }
        json_array_append_new(arr, r);
    }
    json_object_set_new(o, "server_name", json_string(m->srv->server_name));
    json_object_set_new(o, "num_routes", json_integer((json_int_t)n));
    json_object_set_new(o, "routes", arr);
    return o;
}

static json_t *accountz(struct monitor *m)
{
    json_t *o = header_object(m);
    json_object_set_new(o, "system_account", json_string("$SYS"));
    json_t *accs = json_array();
    json_array_append_new(accs, json_string("$G"));
    json_object_set_new(o, "accounts", accs);
    return o;
}

static void on_healthz(struct evhttp_request *req, void *arg)
{
    struct monitor *m = arg;
    m->req_healthz++;
    serve_json(req, m, true, healthz);
}

static void on_subsz(struct evhttp_request *req, void *arg)
{
    struct monitor *m = arg;
    m->req_subsz++;
    serve_json(req, m, false, subsz);
}

static void on_routez(struct evhttp_request *req, void *arg)
{
    struct monitor *m = arg;
    struct evkeyvalq q;
    m->req_routez++;
    parse_query(req, &q);
    int subs = 0;
    const char *v = qparam(&q, "subs");
    if (v) {
        subs = !strcmp(v, "detail") ? 2 : parse_bool(v);
        if (subs < 0) {
            char err[256];
            snprintf(err, sizeof err, "Error decoding subs for %s", v);
            reply_text(req, 400, err);
            evhttp_clear_headers(&q);
            return;
        }
    }
    reply_json(req, 200, routez(m, subs), false, &q);
    evhttp_clear_headers(&q);
}

static void on_jsz(struct evhttp_request *req, void *arg)
{
    struct monitor *m = arg;
    struct evkeyvalq q;
    m->req_jsz++;
    parse_query(req, &q);
    int opt[2] = { 0, 0 };
    static const char *names[2] = { "accounts", "streams" };
    for (int i = 0; i < 2; i++) {
        const char *v = qparam(&q, names[i]);
        if (v && (opt[i] = parse_bool(v)) < 0) {
            char err[256];
            snprintf(err, sizeof err, "Error decoding %s for %s", names[i], v);
            reply_text(req, 400, err);
            evhttp_clear_headers(&q);
            return;
        }
    }
    json_t *o = header_object(m);
    monitor_js_jsz(m->srv, o, opt[0] > 0, opt[1] > 0);
    reply_json(req, 200, o, false, &q);
    evhttp_clear_headers(&q);
}

static void on_accountz(struct evhttp_request *req, void *arg)
{
    serve_json(req, arg, false, accountz);
}

static void on_root(struct evhttp_request *req, void *arg)
{
    struct monitor *m = arg;
    const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
    const char *base = m->srv->opts.http_base_path ? m->srv->opts.http_base_path : "/";
    if (path && strcmp(path, base) != 0 && strcmp(path, "/") != 0) {
        evhttp_send_error(req, 404, "Not Found");
        return;
    }
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
                           "</ul></body></html>\n", TERN_VERSION);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "text/html");
    evhttp_send_reply(req, 200, "OK", b);
    evbuffer_free(b);
}

/* ---- lifecycle ---- */

static int route(struct monitor *m, const char *name, void (*cb)(struct evhttp_request *, void *))
{
    const char *base = m->srv->opts.http_base_path;
    char path[512];
    if (base && *base && strcmp(base, "/") != 0)
        snprintf(path, sizeof path, "%s%s/%s", base[0] == '/' ? "" : "/", base, name);
    else
        snprintf(path, sizeof path, "/%s", name);
    /* Strip a doubled slash from "base/" + "/name". */
    char *dbl;
    while ((dbl = strstr(path, "//")))
        memmove(dbl, dbl + 1, strlen(dbl));
    return evhttp_set_cb(m->http, path, cb, m);
}

struct monitor *monitor_start(struct server *s, const char *host, int port)
{
    struct monitor *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->srv = s;
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
    route(m, "varz", on_varz);
    route(m, "connz", on_connz);
    route(m, "healthz", on_healthz);
    route(m, "subsz", on_subsz);
    route(m, "subscriptionsz", on_subsz);
    route(m, "routez", on_routez);
    route(m, "accountz", on_accountz);
    route(m, "jsz", on_jsz);
    evhttp_set_gencb(m->http, on_root, m);
    LOG_INFO("Starting http monitor on %s:%d", host, m->port);
    return m;

err_after_http:
    evhttp_free(m->http);
err_after_alloc:
    free(m);
    return NULL;
}

int monitor_port(const struct monitor *m)
{
    return m->port;
}

void monitor_stop(struct monitor *m)
{
    if (!m)
        return;
    evhttp_free(m->http);
    free(m);
}
