/*
 * server/monitor.h — HTTP (or HTTPS) monitoring: /varz, /connz, /healthz, /subsz,
 * /routez, /accountz, /jsz (spec/server-cli-config.md §4; JetStream's part
 * in server/monitor_js.c), /metrics for Prometheus
 * (server/monitor_metrics.c), and Tern's own /clusterz and web console
 * (server/monitor_clusterz.c, server/console.h).
 *
 * Runs on the main thread's event_base; reads the server through atomics
 * and registry_lock only. Owned by struct server; a headless one, without
 * a port, by server/sysacc.c, which answers the system account's requests
 * with the same objects (monitor_build.h).
 */
#ifndef TERN_SERVER_MONITOR_H
#define TERN_SERVER_MONITOR_H

#include <stdbool.h>

struct server;
struct monitor;

/* Bind host:port (0 or -1 = any free port); with https, every connection
 * is TLS with the server's current client certificate (s->tls, so a
 * SIGHUP's new certificate serves new connections). NULL on failure
 * (logged). */
struct monitor *monitor_start(struct server *s, const char *host, int port, bool https);
/* A monitor with no port, for answering the system account's requests
 * (server/sysacc.h) when -m is off: the endpoints' builders
 * (monitor_build.h) and the CPU sample, no HTTP. monitor_stop frees it.
 * NULL out of memory. */
struct monitor *monitor_new_headless(struct server *s);
int monitor_port(const struct monitor *m);
bool monitor_https(const struct monitor *m);
void monitor_stop(struct monitor *m);

#endif
