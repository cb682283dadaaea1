/*
 * server/monitor_js.c — /jsz and /varz "jetstream" (see monitor_js.h).
 * Field names and order follow nats-server 2.9's; the per-account and
 * per-stream details it adds on request (?accounts, ?streams) are not
 * built yet.
 */
#include "server/monitor_js.h"

#include "server/jetstream.h"
#include "server/server.h"

static json_t *jint(uint64_t v)
{
    return json_integer((json_int_t)v);
}

/* "config": the limits, and where the store lives when enabled. */
static json_t *config_json(struct server *s, const struct jetstream_stats *st)
{
    json_t *c = json_object();
    json_object_set_new(c, "max_memory", json_integer(st->max_memory));
    json_object_set_new(c, "max_storage", json_integer(st->max_storage));
    if (s->jetstream)
        json_object_set_new(c, "store_dir", json_string(jetstream_store_dir(s->jetstream)));
    return c;
}

/* The usage fields /jsz lists at its top level and /varz under "stats". */
static void usage_fields(json_t *o, const struct jetstream_stats *st, bool enabled)
{
    json_object_set_new(o, "memory", jint(st->memory));
    json_object_set_new(o, "storage", jint(st->storage));
    json_object_set_new(o, "reserved_memory", jint(st->reserved_memory));
    json_object_set_new(o, "reserved_storage", jint(st->reserved_storage));
    json_object_set_new(o, "accounts", json_integer(enabled ? 1 : 0)); /* $G only */
    json_object_set_new(o, "ha_assets", json_integer(0)); /* nothing replicated yet */
    json_t *api = json_object();
    json_object_set_new(api, "total", jint(st->api_total));
    json_object_set_new(api, "errors", jint(st->api_errors));
    json_object_set_new(o, "api", api);
}

void monitor_js_jsz(struct server *s, json_t *o)
{
    struct jetstream_stats st = { 0 };
    if (s->jetstream)
        jetstream_get_stats(s->jetstream, &st);
    else
        json_object_set_new(o, "disabled", json_true());
    json_object_set_new(o, "config", config_json(s, &st));
    usage_fields(o, &st, s->jetstream != NULL);
    json_object_set_new(o, "streams", jint(st.streams));
    json_object_set_new(o, "consumers", jint(st.consumers));
    json_object_set_new(o, "messages", jint(st.messages));
    json_object_set_new(o, "bytes", jint(st.bytes));
}

json_t *monitor_js_varz(struct server *s)
{
    json_t *o = json_object();
    if (!s->jetstream)
        return o;
    struct jetstream_stats st;
    jetstream_get_stats(s->jetstream, &st);
    json_object_set_new(o, "config", config_json(s, &st));
    json_t *stats = json_object();
    usage_fields(stats, &st, true);
    json_object_set_new(o, "stats", stats);
    return o;
}
