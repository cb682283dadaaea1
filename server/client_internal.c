/*
 * server/client_internal.c — clients no socket backs (CLIENT_KIND_INTERNAL):
 * the owners of the server's own subscriptions (JetStream's, the system
 * account's requests, ...). A delivery to one of their subscriptions
 * calls their internal_deliver on the delivering loop instead of writing
 * a frame (deliver.c); nothing else of struct client is used, but the
 * locks are initialised so that any path that takes one stays safe.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "server/client.h"
#include "server/server.h"

struct client *client_new_internal(struct server *srv, struct worker *w, struct account *acc,
                                   bool (*deliver)(void *arg, struct worker *w,
                                                   const struct sub *s,
                                                   const struct proto_msg *m),
                                   void (*flush)(void *arg, struct worker *w), void *arg)
{
    struct client *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->srv = srv;
    c->w = w;
    c->acc = acc;
    c->kind = CLIENT_KIND_INTERNAL;
    c->fd = -1;
    c->cid = atomic_fetch_add(&srv->next_cid, 1);
    c->internal_deliver = deliver;
    c->internal_flush = flush;
    c->internal_arg = arg;
    snprintf(c->ip, sizeof c->ip, "internal");
    pthread_mutex_init(&c->out_lock, NULL);
    pthread_mutex_init(&c->write_lock, NULL);
    pthread_mutex_init(&c->subs_lock, NULL);
    return c;
}

void client_free_internal(struct client *c)
{
    if (!c)
        return;
    pthread_mutex_destroy(&c->out_lock);
    pthread_mutex_destroy(&c->write_lock);
    pthread_mutex_destroy(&c->subs_lock);
    free(c);
}
