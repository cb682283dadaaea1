/*
 * server/monitor.h — HTTP monitoring: /varz, /connz, /healthz, /subsz,
 * /routez, /accountz, /jsz (spec/server-cli-config.md §4; JetStream's part
 * in server/monitor_js.c).
 *
 * Runs on the main thread's event_base; reads the server through atomics
 * and registry_lock only. Owned by struct server.
 */
#ifndef TERN_SERVER_MONITOR_H
#define TERN_SERVER_MONITOR_H

struct server;
struct monitor;

/* Bind host:port (0 or -1 = any free port). NULL on failure (logged). */
struct monitor *monitor_start(struct server *s, const char *host, int port);
int monitor_port(const struct monitor *m);
void monitor_stop(struct monitor *m);

#endif
