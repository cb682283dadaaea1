/*
 * server/subs.h — a client's subscriptions, keyed by sid.
 *
 * A chained hash table of struct sub per connection. Written only by the
 * client's loop under the client's subs_lock; the monitor reads it under
 * the same lock. Subscriptions leave the table here but are freed through
 * the reclaimer (sub_retire), since other loops may still deliver to them.
 */
#ifndef TERN_SERVER_SUBS_H
#define TERN_SERVER_SUBS_H

#include <stddef.h>

#include "server/kmap.h"

#include "server/client.h"

/* A new unlinked subscription copying subject, queue (qlen 0 = none), sid. */
struct sub *sub_new(struct client *c, const char *subject, size_t slen,
                    const char *queue, size_t qlen, const char *sid, size_t sidlen);
void sub_free(void *sub);

/* The subscription whose sid_key this is. */
static inline struct sub *sub_of_sid_key(struct kmap_key *k)
{
    return (struct sub *)((char *)k - offsetof(struct sub, sid_key));
}

struct sub *subs_find(struct client *c, const char *sid, size_t sidlen);
/* 0 or -ENOMEM. The sid must not be present. Takes subs_lock. */
int subs_add(struct client *c, struct sub *s);
/* Unlink from the table (takes subs_lock); the caller retires it. */
void subs_remove(struct client *c, struct sub *s);
/* Unlink every subscription, calling fn on each; frees the table. */
void subs_clear(struct client *c, void (*fn)(struct client *c, struct sub *s));

/* Stop deliveries to s, unlink it from the index and retire it; the
 * caller has already taken it out of the table. */
void sub_retire(struct client *c, struct sub *s);
/* Unlink s from the index and the table, stop deliveries, retire it. */
void sub_unsubscribe(struct client *c, struct sub *s);

#endif
