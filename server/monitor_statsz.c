/*
 * server/monitor_statsz.c — the statsz object nats-server answers
 * $SYS.REQ.SERVER.PING with (its ServerStats: monitor_build.h). It has no
 * HTTP endpoint; the figures are /varz's, read the same way (atomics, the
 * route registry, registry_lock, the JetStream loop's published
 * snapshot), plus a route list. Main thread only, like every endpoint.
 *
 * "active_accounts" counts the accounts with a client connection here;
 * nats-server also counts those only routes made active. "active_servers"
 * is this node and its routed peers, which is what nats-server's statsz
 * heartbeats amount to in a full mesh.
 */
#include <jansson.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "cluster/route.h"
#include "server/account.h"
#include "server/client.h"
#include "server/monitor_build.h"
#include "server/monitor_impl.h"
#include "server/monitor_js.h"
#include "server/server.h"
#include "server/sublist.h"

#define STATSZ_MAX_ROUTES 64

static json_t *data_stats(uint64_t msgs, uint64_t bytes)
{
    json_t *o = json_object();
    json_object_set_new(o, "msgs", json_integer((json_int_t)msgs));
    json_object_set_new(o, "bytes", json_integer((json_int_t)bytes));
    return o;
}

/* A handful of accounts: a flag per account, set while walking the
 * connections, costs one pass over the registry. */
static size_t active_accounts(struct server *s)
{
    const struct account_set *set = s->accounts;
    bool *seen = calloc(set->n, sizeof *seen);
    size_t n = 0;
    if (!seen)
        return 0;
    pthread_mutex_lock(&s->registry_lock);
    for (struct client *c = s->clients; c; c = c->reg_next) {
        if (c->acc && c->acc->index < set->n && !seen[c->acc->index]) {
            seen[c->acc->index] = true;
            n++;
        }
    }
    pthread_mutex_unlock(&s->registry_lock);
    free(seen);
    return n;
}

/* nats-server's RouteStat: what went each way on each route. */
static json_t *route_stats(struct server *s, size_t *nroutes)
{
    struct route_snapshot rs[STATSZ_MAX_ROUTES];
    size_t n = s->cluster ? cluster_routes_snapshot(s->cluster, rs, STATSZ_MAX_ROUTES) : 0;
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *r = json_object();
        json_object_set_new(r, "rid", json_integer((json_int_t)rs[i].rid));
        if (rs[i].remote_name[0])
            json_object_set_new(r, "name", json_string(rs[i].remote_name));
        json_object_set_new(r, "sent", data_stats(rs[i].out_msgs, rs[i].out_bytes));
        json_object_set_new(r, "received", data_stats(rs[i].in_msgs, rs[i].in_bytes));
        json_object_set_new(r, "pending", json_integer(0));
        json_array_append_new(arr, r);
    }
    *nroutes = n;
    return arr;
}

json_t *monitor_statsz(struct monitor *m)
{
    struct server *s = m->srv;
    struct server_counters ctr;
    server_get_counters(s, &ctr);
    struct sublist_stats st;
    account_set_sublist_stats(s->accounts, &st);

    json_t *o = json_object();
    json_object_set_new(o, "start", monitor__jtime(&s->start_time));
    json_object_set_new(o, "mem", json_integer(monitor__rss_bytes()));
    json_object_set_new(o, "cores", json_integer(sysconf(_SC_NPROCESSORS_ONLN)));
    json_object_set_new(o, "cpu", json_real(m->cpu_pct));
    json_object_set_new(o, "connections", json_integer(atomic_load(&s->num_clients)));
    json_object_set_new(o, "total_connections",
                        json_integer((json_int_t)atomic_load(&s->total_connections)));
    json_object_set_new(o, "active_accounts", json_integer((json_int_t)active_accounts(s)));
    json_object_set_new(o, "subscriptions", json_integer((json_int_t)st.count));
    json_object_set_new(o, "sent", data_stats(ctr.out_msgs, ctr.out_bytes));
    json_object_set_new(o, "received", data_stats(ctr.in_msgs, ctr.in_bytes));
    json_object_set_new(o, "slow_consumers",
                        json_integer((json_int_t)atomic_load(&s->slow_consumers)));
    size_t nroutes;
    json_t *routes = route_stats(s, &nroutes);
    if (nroutes) /* omitempty */
        json_object_set_new(o, "routes", routes);
    else
        json_decref(routes);
    json_object_set_new(o, "active_servers", json_integer((json_int_t)(1 + nroutes)));
    if (s->jetstream) /* omitempty: /varz's "jetstream" section */
        json_object_set_new(o, "jetstream", monitor_js_varz(s));
    return o;
}
