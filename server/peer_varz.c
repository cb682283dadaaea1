/*
 * server/peer_varz.c — reads the web console's per-node figures out of a
 * /varz object (see peer_varz.h). jansson does the parsing (bounded by the
 * caller's length and PEER_VARZ_MAX_BODY); this file only picks fields,
 * checking each one's type, so a hostile or broken peer can make a node
 * show zeros, never crash or mislead it into reading past a buffer.
 */
#include "server/peer_varz.h"

#include <errno.h>
#include <string.h>

static int64_t get_int(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
}

/* Copied only when it fits whole, so that a cut never splits a UTF-8
 * sequence (the value goes back out as JSON). */
static void get_str(const json_t *o, const char *key, char *out, size_t cap)
{
    const json_t *v = json_object_get(o, key);
    out[0] = '\0';
    if (json_is_string(v) && json_string_length(v) < cap &&
        strlen(json_string_value(v)) == json_string_length(v))
        memcpy(out, json_string_value(v), json_string_length(v) + 1);
}

int peer_varz_from_json(const json_t *v, struct peer_varz *out)
{
    memset(out, 0, sizeof *out);
    if (!json_is_object(v))
        return -EINVAL;
    get_str(v, "server_id", out->server_id, sizeof out->server_id);
    get_str(v, "server_name", out->server_name, sizeof out->server_name);
    get_str(v, "version", out->version, sizeof out->version);
    get_str(v, "tern_version", out->tern_version, sizeof out->tern_version);
    get_str(v, "uptime", out->uptime, sizeof out->uptime);
    out->connections = get_int(v, "connections");
    out->total_connections = get_int(v, "total_connections");
    out->routes = get_int(v, "routes");
    out->subscriptions = get_int(v, "subscriptions");
    out->slow_consumers = get_int(v, "slow_consumers");
    out->in_msgs = get_int(v, "in_msgs");
    out->out_msgs = get_int(v, "out_msgs");
    out->in_bytes = get_int(v, "in_bytes");
    out->out_bytes = get_int(v, "out_bytes");
    out->mem = get_int(v, "mem");
    const json_t *cpu = json_object_get(v, "cpu");
    out->cpu = json_is_number(cpu) ? json_number_value(cpu) : 0;
    return 0;
}

int peer_varz_parse(const char *body, size_t len, struct peer_varz *out)
{
    memset(out, 0, sizeof *out);
    if (len > PEER_VARZ_MAX_BODY)
        return -E2BIG;
    json_t *v = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
    int rc = peer_varz_from_json(v, out);
    json_decref(v);
    return rc;
}

json_t *peer_varz_json(const struct peer_varz *v)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    json_object_set_new(o, "server_id", json_string(v->server_id));
    json_object_set_new(o, "server_name", json_string(v->server_name));
    json_object_set_new(o, "version", json_string(v->version));
    json_object_set_new(o, "tern_version", json_string(v->tern_version));
    json_object_set_new(o, "uptime", json_string(v->uptime));
    json_object_set_new(o, "connections", json_integer(v->connections));
    json_object_set_new(o, "total_connections", json_integer(v->total_connections));
    json_object_set_new(o, "routes", json_integer(v->routes));
    json_object_set_new(o, "subscriptions", json_integer(v->subscriptions));
    json_object_set_new(o, "slow_consumers", json_integer(v->slow_consumers));
    json_object_set_new(o, "in_msgs", json_integer(v->in_msgs));
    json_object_set_new(o, "out_msgs", json_integer(v->out_msgs));
    json_object_set_new(o, "in_bytes", json_integer(v->in_bytes));
    json_object_set_new(o, "out_bytes", json_integer(v->out_bytes));
    json_object_set_new(o, "mem", json_integer(v->mem));
    json_object_set_new(o, "cpu", json_real(v->cpu));
    return o;
}
