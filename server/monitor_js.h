/*
 * server/monitor_js.h — JetStream's part of HTTP monitoring: /jsz, the
 * "jetstream" section of /varz (spec/server-cli-config.md §4) and the
 * JetStream and raft families of /metrics, built from
 * the figures the JetStream loop publishes (jetstream_get_stats), so the
 * main thread never reads the loop's own state.
 */
#ifndef TERN_SERVER_MONITOR_JS_H
#define TERN_SERVER_MONITOR_JS_H

#include <jansson.h>
#include <stdbool.h>

struct server;

/* Add /jsz's fields to o (which already holds server_id and now); with
 * accounts (?accounts=true) the account's own figures too, and with
 * streams (?streams=true, which implies accounts) each stream's, and
 * with consumers (?consumers=true, which implies streams) each stream's
 * "consumer_detail" (empty but on the node that serves JetStream). */
void monitor_js_jsz(struct server *s, json_t *o, bool accounts, bool streams, bool consumers);
/* /varz "jetstream": {} without JetStream, else its config and stats. */
json_t *monitor_js_varz(struct server *s);

struct prom;
/* /metrics: the JetStream (and, clustered, raft) families, appended to p. */
void monitor_js_metrics(struct server *s, struct prom *p);

#endif
