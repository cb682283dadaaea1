/*
 * server/monitor_js.h — JetStream's part of HTTP monitoring: /jsz and the
 * "jetstream" section of /varz (spec/server-cli-config.md §4), built from
 * the figures the JetStream loop publishes (jetstream_get_stats), so the
 * main thread never reads the loop's own state.
 */
#ifndef TERN_SERVER_MONITOR_JS_H
#define TERN_SERVER_MONITOR_JS_H

#include <jansson.h>

struct server;

/* Add /jsz's fields to o (which already holds server_id and now). */
void monitor_js_jsz(struct server *s, json_t *o);
/* /varz "jetstream": {} without JetStream, else its config and stats. */
json_t *monitor_js_varz(struct server *s);

#endif
