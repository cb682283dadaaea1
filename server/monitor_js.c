/*
 * server/monitor_js.c — /jsz and /varz "jetstream" (see monitor_js.h).
 * Field names and order follow nats-server 2.9's. Of the details /jsz
 * gives on request, the account's and each stream's (name, created, state)
 * are built; consumer and config details (?consumers, ?config) not yet.
 */
#include "server/monitor_js.h"

#include <stdlib.h>

#include "server/js_config.h"
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

struct jsz_build {
    struct server *s;
    json_t *o;
    bool accounts, streams;
};

/* One stream of ?streams=true: nats-server's stream_detail entry. */
static json_t *stream_detail(struct server *s, const struct jetstream_stream_stats *d)
{
    char created[48];
    json_t *e = json_object();
    json_object_set_new(e, "name", json_string(d->name));
    json_object_set_new(e, "created", json_string(js_time_format(d->created, created,
                                                                 sizeof created)));
    json_t *cluster = json_object(); /* one node: it leads every stream */
    json_object_set_new(cluster, "leader", json_string(s->server_id));
    json_object_set_new(e, "cluster", cluster);
    json_t *state = json_loads(d->state_json, 0, NULL);
    json_object_set_new(e, "state", state ? state : json_object());
    return e;
}

/* The only account, $G; it counts no accounts of its own. nats-server
 * shows its reservations as 2^64 - 1 (its "no limit" cast to unsigned),
 * which a JSON integer here cannot hold: the account's actual
 * reservations are shown instead, the same as the server's. */
static json_t *account_detail(struct jsz_build *b, const struct jetstream_stats *st,
                              const struct jetstream_stream_stats *streams, size_t n)
{
    json_t *a = json_object();
    json_object_set_new(a, "name", json_string("$G"));
    json_object_set_new(a, "id", json_string("$G"));
    usage_fields(a, st, false);
    if (b->streams) {
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(arr, stream_detail(b->s, &streams[i]));
        json_object_set_new(a, "stream_detail", arr);
    }
    return a;
}

static void jsz_fields(void *arg, const struct jetstream_stats *st,
                       const struct jetstream_stream_stats *streams, size_t n)
{
    struct jsz_build *b = arg;
    json_t *o = b->o;
    bool enabled = b->s->jetstream != NULL;
    if (!enabled)
        json_object_set_new(o, "disabled", json_true());
    json_object_set_new(o, "config", config_json(b->s, st));
    usage_fields(o, st, enabled);
    json_object_set_new(o, "streams", jint(st->streams));
    json_object_set_new(o, "consumers", jint(st->consumers));
    json_object_set_new(o, "messages", jint(st->messages));
    json_object_set_new(o, "bytes", jint(st->bytes));
    if (enabled && (b->accounts || b->streams)) {
        json_t *arr = json_array();
        json_array_append_new(arr, account_detail(b, st, streams, n));
        json_object_set_new(o, "account_details", arr);
    }
}

void monitor_js_jsz(struct server *s, json_t *o, bool accounts, bool streams)
{
    struct jsz_build b = { s, o, accounts, streams };
    if (s->jetstream) {
        jetstream_with_stats(s->jetstream, jsz_fields, &b);
    } else {
        struct jetstream_stats none = { 0 };
        jsz_fields(&b, &none, NULL, 0);
    }
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
