/*
 * server/monitor_build.h — the monitoring endpoints' JSON from typed
 * options, for callers other than HTTP: the system account's
 * $SYS.REQ.SERVER requests (server/sysacc.h) ask for the same objects
 * /varz, /connz, ... serve, with options decoded from a JSON body instead
 * of a query string. The HTTP handlers (monitor*.c) decode their query
 * into the same structs and call the same builders, so both answer alike.
 *
 * Main thread only, like the monitor itself: the builders read the server
 * through atomics and registry_lock, and the monitor's own counters.
 * Each builder returns a new reference, or NULL when nats-server refuses
 * the options, with its reason in err (the HTTP endpoint's 400 text).
 */
#ifndef TERN_SERVER_MONITOR_BUILD_H
#define TERN_SERVER_MONITOR_BUILD_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct monitor;
struct server;

/* nats-server's ConnState values (its JSON "state" is this number). */
enum monitor_conn_state {
    MONITOR_CONN_OPEN = 0,
    MONITOR_CONN_CLOSED = 1,
    MONITOR_CONN_ANY = 2,
};

/* Subscription lists asked for: none, subjects, or detail objects. */
enum monitor_subs {
    MONITOR_SUBS_NONE = 0,
    MONITOR_SUBS_LIST = 1,
    MONITOR_SUBS_DETAIL = 2,
};

/* Strings are borrowed for the call and counted (an HTTP value may hold
 * any byte); a length of 0 means "not given". */
struct monitor_connz_opts {
    int state;                 /* enum monitor_conn_state; others list nothing */
    enum monitor_subs subs;
    bool auth;
    int64_t offset, limit;     /* offset < 0 is 0; limit <= 0 is 1024 */
    uint64_t cid;              /* 0 = all; one asks for a page of 1 */
    const char *sort;          /* empty: by cid */
    size_t sort_len;
    const char *acc;           /* only this account's connections */
    size_t acc_len;
};

struct monitor_subsz_opts {
    bool subs;                 /* list the subscriptions */
    int64_t offset, limit;     /* as connz's */
    const char *test;          /* only those a publish to it would reach */
    size_t test_len;
    const char *acc;           /* only this account's, and its figures */
    size_t acc_len;
};

/* None of them counts a request: nats-server's http_req_stats count what
 * came over HTTP only, which the HTTP handlers do. */
json_t *monitor_varz(struct monitor *m);
json_t *monitor_connz(struct monitor *m, const struct monitor_connz_opts *o, char *err,
                      size_t errlen);
/* The whole object, with a page of subscriptions when there is one (HTTP
 * then shows only the figures, as nats-server's handler does). */
json_t *monitor_subsz(struct monitor *m, const struct monitor_subsz_opts *o, char *err,
                      size_t errlen);
json_t *monitor_routez(struct monitor *m, enum monitor_subs subs);
/* The account list; an account named (acc_len > 0) must exist. */
json_t *monitor_accountz(struct monitor *m, const char *acc, size_t acc_len, char *err,
                         size_t errlen);
/* {"status":"ok"}, or "unavailable" with the reason in "error". */
json_t *monitor_healthz(struct monitor *m, bool js_enabled_only);
/* /jsz's object; consumers implies streams, which implies accounts. */
json_t *monitor_jsz(struct monitor *m, bool accounts, bool streams, bool consumers);
/* Whether this node serves JetStream (jsz's leader-only filter). */
bool monitor_js_leader(struct monitor *m);
/* A time as every endpoint writes one: RFC 3339, UTC, nanoseconds. */
json_t *monitor_json_time(const struct timespec *ts);

/* What nats-server publishes as its statsz (monitor_statsz.c): start,
 * memory, CPU, connections, message counters, routes, JetStream. */
json_t *monitor_statsz(struct monitor *m);

#endif
