/*
 * server/monitor_impl.h — what the monitoring server's files share (private
 * to server/monitor*.c; the contract is monitor.h): the server's state, the
 * query and reply helpers every endpoint uses, and the endpoints that live
 * in files of their own (monitor_connz.c, monitor_metrics.c); the HTTP
 * layer that routes requests to them (monitor_http.c).
 */
#ifndef TERN_SERVER_MONITOR_IMPL_H
#define TERN_SERVER_MONITOR_IMPL_H

#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct event;
struct server;

/* Owned by the server (monitor_start / monitor_stop), or, headless, by
 * server/sysacc.c (monitor_new_headless); main thread only. */
struct monitor {
    struct server *srv;        /* borrowed */
    struct evhttp *http;       /* owned; NULL when headless */
    int port;
    bool https;                /* TLS on every connection (s->tls) */
    char host[64];
    uint64_t req_varz, req_connz, req_healthz, req_subsz, req_routez, req_jsz, req_root;
    uint64_t req_metrics;
    /* CPU use over the last second (monitor_metrics.c samples it). */
    struct event *cpu_ev;      /* owned */
    double cpu_pct;            /* percent of one core, as /varz "cpu" */
    uint64_t cpu_ticks;        /* user + system at the last sample */
    double cpu_at;             /* CLOCK_MONOTONIC seconds of it; 0 = none */
    /* /clusterz: peers seen and answers in progress (monitor_clusterz.c). */
    struct monitor__clusterz *cz; /* owned; NULL until the first request */
};

/* The resident set size in bytes (0 when unknown), /varz "mem". */
int64_t monitor__rss_bytes(void);

/* Formatting: RFC 3339 with nanoseconds, Go-style uptime ("1d2h3m4s"). */
void monitor__fmt_time(char *out, size_t cap, const struct timespec *ts);
void monitor__fmt_uptime(char *out, size_t cap, int64_t secs);
int64_t monitor__secs_between(const struct timespec *a, const struct timespec *b);
json_t *monitor__jtime(const struct timespec *ts);

struct monitor_url_query;

/* Parameters decoded as nats-server decodes them (server/monitor_url.h):
 * true with *out set (left alone when absent or empty); false when the
 * value is refused, after the 400 with nats-server's text went out. subs:
 * 0 none, 1 list, 2 detail ("detail" in any case). */
bool monitor__decode_bool(struct evhttp_request *req, const struct monitor_url_query *q,
                          const char *key, bool *out);
bool monitor__decode_int(struct evhttp_request *req, const struct monitor_url_query *q,
                         const char *key, int64_t *out);
bool monitor__decode_subs(struct evhttp_request *req, const struct monitor_url_query *q,
                          int *subs);

/* Replies: plain text (400s and 404s, as Go's labelled), or body as JSON
 * (indented unless compact; JSONP with ?callback=) — body is consumed. */
void monitor__reply_text(struct evhttp_request *req, int code, const char *text);
void monitor__reply_json(struct evhttp_request *req, int code, json_t *body, bool compact,
                         const struct monitor_url_query *q);
/* server_id and now, the fields every endpoint starts with. */
json_t *monitor__header_object(struct monitor *m);

/* Subscription lists: names into a json array (arg), or detail objects. */
struct sub;
struct monitor__sub_detail_ctx {
    json_t *arr;
    uint64_t cid;
};
void monitor__sub_name(void *arg, const struct sub *s);
void monitor__sub_detail(void *arg, const struct sub *s);

/* The endpoints under the base path (monitor.c), and "/" itself. */
struct monitor__endpoint {
    const char *name;          /* "varz": served at <base>/varz */
    void (*fn)(struct monitor *m, struct evhttp_request *req, const struct monitor_url_query *q);
};
extern const struct monitor__endpoint monitor__endpoints[];
extern const size_t monitor__nendpoints;
void monitor__on_root(struct monitor *m, struct evhttp_request *req);

/* monitor_http.c: evhttp's generic callback (arg: the monitor). */
void monitor__dispatch(struct evhttp_request *req, void *arg);

/* monitor_connz.c */
void monitor__on_connz(struct monitor *m, struct evhttp_request *req,
                       const struct monitor_url_query *q);

/* monitor_clusterz.c: /clusterz, the web console's cluster view, and the
 * end of its answers in progress (at monitor_stop, before evhttp_free). */
void monitor__on_clusterz(struct monitor *m, struct evhttp_request *req,
                          const struct monitor_url_query *q);
void monitor__clusterz_stop(struct monitor *m);

/* /healthz's verdict (monitor.c): 200, or 503 with *err the reason. */
int monitor__health(struct monitor *m, bool enabled_only, const char **err);

/* monitor_metrics.c: /metrics, and the once-a-second CPU sample behind
 * /varz "cpu" (start: 0 or -ENOMEM). */
void monitor__on_metrics(struct monitor *m, struct evhttp_request *req,
                         const struct monitor_url_query *q);
int monitor__cpu_start(struct monitor *m);
void monitor__cpu_stop(struct monitor *m);

#endif
