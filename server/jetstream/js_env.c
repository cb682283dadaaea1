/*
 * server/jetstream/js_env.c — the engine's environment on a real server
 * (struct js_env in js_internal.h): the wall clock, publishing into the
 * server's ordinary routing from the JetStream loop, the subject index for
 * interest and internal subscriptions, and that loop for timers.
 *
 * This is the only JetStream file that reaches the connection layer,
 * the subject index and the cluster directly; tests give an engine an
 * environment of their own instead. Runs on the JetStream loop.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cluster/route.h"
#include "server/deliver.h"
#include "server/jetstream/js_internal.h"
#include "server/log.h"
#include "server/reclaim.h"
#include "server/server.h"
#include "server/subs.h"
#include "server/account.h"
#include "server/account_impl.h"
#include "server/sublist.h"
#include "server/worker.h"

static int64_t wall_now(void *arg)
{
    (void)arg;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static size_t route_publish(void *arg, const struct proto_msg *m, const char *to, size_t tolen)
{
    struct js *js = arg;
    /* Subscribers of `to` here and, over routes, on other nodes; or
     * ordinary routing of m's own subject. */
    struct account *acc = js->srv->accounts->jetstream;
    return to ? deliver_publish_as(js->w, acc, m, to, tolen)
              : deliver_publish(js->w, acc, NULL, m);
}

static bool index_interest(void *arg, const char *subject, size_t len)
{
    struct js *js = arg;
    struct account *acc = js->srv->accounts->jetstream;
    const struct sublist_result *r = sublist_cache_match(worker_cache(js->w, acc), subject, len);
    if (r && (r->npsubs || r->nqgroups))
        return true;
    /* or an account that imports it as a stream (deliver_publish_as
     * copies there) */
    return acc->nstreams_out && account_import_interest(js->w, acc, subject, len);
}

static struct sub *index_subscribe(void *arg, const char *subject, const char *sid,
                                   size_t sid_len)
{
    struct js *js = arg;
    struct sub *s = sub_new(js->ic, subject, strlen(subject), NULL, 0, sid, sid_len);
    if (!s)
        return NULL;
    if (sublist_insert(s->acc->sublist, &s->base) < 0) {
        sub_free(s);
        return NULL;
    }
    cluster_local_interest(js->srv->cluster, js->w, s, true);
    return s;
}

static void index_unsubscribe(void *arg, struct sub *s)
{
    struct js *js = arg;
    sublist_remove(s->acc->sublist, &s->base);
    cluster_local_interest(js->srv->cluster, js->w, s, false);
    /* A loop may still hold it in a match result: free it only once every
     * loop has moved on. A delivery that still arrives finds no stream. */
    if (reclaim_retire(js->srv->reclaim, s, sub_free, NULL) < 0)
        LOG_ERROR("JetStream: out of memory retiring a subscription (leaked)");
}

void js_env_server(struct js *js)
{
    js->env = (struct js_env){
        .arg = js,
        .base = js->w->base,
        .now = wall_now,
        .publish = route_publish,
        .has_interest = index_interest,
        .subscribe = index_subscribe,
        .unsubscribe = index_unsubscribe,
    };
}
