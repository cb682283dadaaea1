/*
 * server/monitor_metrics.c — /metrics: the Prometheus text exposition
 * (version 0.0.4, proto/prom.h) of what /varz, /routez, /healthz and /jsz
 * show, plus the process figures Prometheus clients name process_*.
 *
 * Names are those of the NATS Prometheus exporter wherever it has one for
 * the same figure (gnatsd_varz_*, gnatsd_routez_*, gnatsd_healthz_*,
 * jetstream_*), so its dashboards work against ternd directly; the rest
 * are Tern's own and README.md lists every one. A scrape reads only what
 * the loops count anyway (atomics, the route registry, the JetStream
 * loop's published snapshot): it costs the broker nothing per message.
 * Main thread only, like every endpoint.
 */
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "cluster/route.h"
#include "proto/prom.h"
#include "server/monitor_impl.h"
#include "server/monitor_js.h"
#include "server/procstat.h"
#include "server/server.h"
#include "server/account.h"
#include "server/sublist.h"

/* ---- CPU use, sampled as nats-server samples it ---- */

/* nats-server's /varz "cpu" is the percentage of one core used over the
 * last second (pse_linux.go samples once a second); a scrape every 15 s
 * then sees a recent figure, not an average since start. */
#define CPU_SAMPLE_MS 1000

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void cpu_sample(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct monitor *m = arg;
    struct procstat ps;
    if (procstat_read(&ps) < 0)
        return;
    uint64_t ticks = ps.utime + ps.stime;
    double at = now_s();
    long hz = sysconf(_SC_CLK_TCK);
    if (m->cpu_at > 0 && at > m->cpu_at && hz > 0 && ticks >= m->cpu_ticks)
        m->cpu_pct = (double)(ticks - m->cpu_ticks) / (double)hz / (at - m->cpu_at) * 100.0;
    m->cpu_ticks = ticks;
    m->cpu_at = at;
}

void monitor__cpu_stop(struct monitor *m)
{
    if (m->cpu_ev)
        event_free(m->cpu_ev);
    m->cpu_ev = NULL;
}

int monitor__cpu_start(struct monitor *m)
{
    m->cpu_ev = event_new(m->srv->main_base, -1, EV_PERSIST, cpu_sample, m);
    struct timeval tv = { CPU_SAMPLE_MS / 1000, (CPU_SAMPLE_MS % 1000) * 1000 };
    if (!m->cpu_ev || event_add(m->cpu_ev, &tv) < 0) {
        monitor__cpu_stop(m);
        return -ENOMEM;
    }
    cpu_sample(-1, 0, m);
    return 0;
}

/* ---- the server's own figures (gnatsd_varz_*) ---- */

static void one_u64(struct prom *p, const struct prom_label *l, const char *name,
                    enum prom_type t, const char *help, uint64_t v)
{
    prom_family(p, name, t, help);
    prom_u64(p, l, 1, v);
}

static void varz_families(struct monitor *m, struct prom *p, const struct prom_label *id,
                          const struct procstat *ps)
{
    struct server *s = m->srv;
    struct server_counters ctr;
    server_get_counters(s, &ctr);
    struct sublist_stats st;
    account_set_sublist_stats(s->accounts, &st);
    size_t nroutes = s->cluster ? cluster_route_count(s->cluster) : 0;
    one_u64(p, id, "gnatsd_varz_connections", PROM_GAUGE, "Client connections open now",
            (uint64_t)atomic_load(&s->num_clients));
    one_u64(p, id, "gnatsd_varz_total_connections", PROM_COUNTER,
            "Client connections accepted since start",
            (uint64_t)atomic_load(&s->total_connections));
    one_u64(p, id, "gnatsd_varz_subscriptions", PROM_GAUGE,
            "Subscriptions in the subject index (clients, routes and internal)", st.count);
    one_u64(p, id, "gnatsd_varz_slow_consumers", PROM_COUNTER,
            "Connections closed as slow consumers since start",
            (uint64_t)atomic_load(&s->slow_consumers));
    one_u64(p, id, "gnatsd_varz_in_msgs", PROM_COUNTER,
            "Messages received from clients and routes", ctr.in_msgs);
    one_u64(p, id, "gnatsd_varz_out_msgs", PROM_COUNTER,
            "Messages sent to clients and routes", ctr.out_msgs);
    one_u64(p, id, "gnatsd_varz_in_bytes", PROM_COUNTER,
            "Payload bytes received from clients and routes", ctr.in_bytes);
    one_u64(p, id, "gnatsd_varz_out_bytes", PROM_COUNTER,
            "Payload bytes sent to clients and routes", ctr.out_bytes);
    one_u64(p, id, "gnatsd_varz_routes", PROM_GAUGE, "Routes to other cluster nodes", nroutes);
    one_u64(p, id, "gnatsd_varz_remotes", PROM_GAUGE, "Remote cluster nodes connected",
            nroutes);
    one_u64(p, id, "gnatsd_varz_max_connections", PROM_GAUGE,
            "Configured limit of client connections",
            (uint64_t)atomic_load(&s->max_connections));
    one_u64(p, id, "gnatsd_varz_max_payload", PROM_GAUGE, "Configured largest payload, bytes",
            (uint64_t)atomic_load(&s->max_payload));
    one_u64(p, id, "gnatsd_varz_mem", PROM_GAUGE, "Resident memory, bytes",
            ps->rss * (uint64_t)sysconf(_SC_PAGESIZE));
    prom_family(p, "gnatsd_varz_cpu", PROM_GAUGE,
                "CPU used over the last second, percent of one core");
    prom_f64(p, id, 1, m->cpu_pct);
    /* The exporter turns /varz "start" into epoch milliseconds. */
    prom_family(p, "gnatsd_varz_start", PROM_GAUGE, "When the server started, ms since the epoch");
    prom_u64(p, id, 1, (uint64_t)s->start_time.tv_sec * 1000 +
                           (uint64_t)s->start_time.tv_nsec / 1000000);
}

/* ---- routes (gnatsd_routez_*) ---- */

#define ROUTES_MAX 64

static void route_families(struct monitor *m, struct prom *p, const struct prom_label *id)
{
    struct route_snapshot rs[ROUTES_MAX];
    size_t n = m->srv->cluster ? cluster_routes_snapshot(m->srv->cluster, rs, ROUTES_MAX) : 0;
    one_u64(p, id, "gnatsd_routez_num_routes", PROM_GAUGE, "Routes to other cluster nodes", n);
    static const struct {
        const char *name, *help;
        enum prom_type type;
        size_t off;
    } per[] = {
        { "gnatsd_routez_in_msgs", "Messages received over the route", PROM_COUNTER,
          offsetof(struct route_snapshot, in_msgs) },
        { "gnatsd_routez_out_msgs", "Messages sent over the route", PROM_COUNTER,
          offsetof(struct route_snapshot, out_msgs) },
        { "gnatsd_routez_in_bytes", "Payload bytes received over the route", PROM_COUNTER,
          offsetof(struct route_snapshot, in_bytes) },
        { "gnatsd_routez_out_bytes", "Payload bytes sent over the route", PROM_COUNTER,
          offsetof(struct route_snapshot, out_bytes) },
        { "gnatsd_routez_subscriptions", "Interest the remote node announced over the route",
          PROM_GAUGE, offsetof(struct route_snapshot, subs) },
    };
    if (!n)
        return;
    for (size_t f = 0; f < sizeof per / sizeof per[0]; f++) {
        prom_family(p, per[f].name, per[f].type, per[f].help);
        for (size_t i = 0; i < n; i++) {
            char rid[24];
            snprintf(rid, sizeof rid, "%llu", rs[i].rid);
            struct prom_label l[] = { id[0], { "rid", rid }, { "remote_id", rs[i].remote_id },
                                      { "remote_name", rs[i].remote_name } };
            const unsigned long long *v =
                (const unsigned long long *)((const char *)&rs[i] + per[f].off);
            prom_u64(p, l, 4, *v);
        }
    }
}

/* ---- health and the process ---- */

static void health_families(struct monitor *m, struct prom *p, const struct prom_label *id)
{
    const char *err = NULL;
    bool ok = monitor__health(m, false, &err) == 200;
    /* The exporter's two forms: 0 when ok, and 1 labelled with the status. */
    one_u64(p, id, "gnatsd_healthz_status", PROM_GAUGE, "0 when /healthz answers ok, else 1",
            ok ? 0 : 1);
    prom_family(p, "gnatsd_healthz_status_value", PROM_GAUGE,
                "1 when /healthz answers ok, else 0; value: its status");
    struct prom_label l[] = { id[0], { "value", ok ? "ok" : "unavailable" } };
    prom_u64(p, l, 2, ok ? 1 : 0);
}

static void process_families(struct monitor *m, struct prom *p, const struct procstat *ps)
{
    long hz = sysconf(_SC_CLK_TCK);
    prom_family(p, "process_cpu_seconds_total", PROM_COUNTER,
                "User and system CPU time spent, seconds");
    prom_f64(p, NULL, 0, hz > 0 ? (double)(ps->utime + ps->stime) / (double)hz : 0);
    prom_family(p, "process_resident_memory_bytes", PROM_GAUGE, "Resident memory, bytes");
    prom_u64(p, NULL, 0, ps->rss * (uint64_t)sysconf(_SC_PAGESIZE));
    prom_family(p, "process_virtual_memory_bytes", PROM_GAUGE, "Virtual memory, bytes");
    prom_u64(p, NULL, 0, ps->vsize);
    prom_family(p, "process_start_time_seconds", PROM_GAUGE,
                "When the process started, seconds since the epoch");
    prom_f64(p, NULL, 0, (double)m->srv->start_time.tv_sec +
                             (double)(m->srv->start_time.tv_nsec / 1000000) / 1e3);
    int64_t fds = procstat_open_fds();
    if (fds >= 0) {
        prom_family(p, "process_open_fds", PROM_GAUGE, "Open file descriptors");
        prom_i64(p, NULL, 0, fds);
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        prom_family(p, "process_max_fds", PROM_GAUGE, "Limit of open file descriptors");
        prom_u64(p, NULL, 0, rl.rlim_cur == RLIM_INFINITY ? UINT64_MAX : (uint64_t)rl.rlim_cur);
    }
}

/* ---- the endpoint ---- */

void monitor__on_metrics(struct monitor *m, struct evhttp_request *req,
                         const struct monitor_url_query *q)
{
    (void)q; /* no parameters: every figure, every time */
    m->req_metrics++;
    struct prom p;
    prom_init(&p);
    const struct prom_label id[] = { { "server_id", m->srv->server_id } };
    struct procstat ps = { 0 };
    procstat_read(&ps); /* zeros if /proc cannot be read */
    varz_families(m, &p, id, &ps);
    route_families(m, &p, id);
    health_families(m, &p, id);
    monitor_js_metrics(m->srv, &p);
    process_families(m, &p, &ps);
    if (p.failed) {
        prom_free(&p);
        evhttp_send_error(req, 500, NULL);
        return;
    }
    struct evbuffer *b = evbuffer_new();
    if (!b) {
        prom_free(&p);
        evhttp_send_error(req, 500, NULL);
        return;
    }
    evbuffer_add(b, p.buf, p.len);
    prom_free(&p);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", PROM_CONTENT_TYPE);
    evhttp_send_reply(req, 200, "OK", b);
    evbuffer_free(b);
}
