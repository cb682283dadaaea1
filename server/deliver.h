/*
 * server/deliver.h — fan-out of one published message to its subscribers.
 *
 * Runs on the publisher's loop. Matches through the loop's own cache,
 * writes one MSG/HMSG frame into each matching subscription's connection
 * (plain subscriptions all; one member per queue group), and answers a
 * request that reached nobody with the 503 no-responders status
 * (spec/client-protocol.md §8, §9). Never blocks on a subscriber.
 */
#ifndef TERN_SERVER_DELIVER_H
#define TERN_SERVER_DELIVER_H

#include <stdbool.h>

#include "proto/parser.h"

struct worker;
struct client;
struct sub;
struct account;

/* Deliver m, published in acc by pub (NULL for a message with no client
 * behind it): acc's subscribers here and on other nodes, then what acc's
 * imports make of it (server/account.h), unless it came over a route; a
 * request that reached nobody gets no-responders. Returns the number of
 * subscriptions that received it. */
size_t deliver_publish(struct worker *w, struct account *acc, struct client *pub,
                       const struct proto_msg *m);

/* A JetStream delivery in acc: m carries the stored subject and the ack
 * reply, and goes to the subscribers of `to` (the deliver subject or pull
 * reply), plain ones all, one member per queue group, a route as RMSG
 * <account> <to> <reply>@<subject> (spec/cluster-protocol.md; nats-server's
 * form), and to the accounts that import `to`. Returns the number of
 * subscriptions (or routes) that took it. */
size_t deliver_publish_as(struct worker *w, struct account *acc, const struct proto_msg *m,
                          const char *to, size_t tolen);

/* The same within acc alone, without its imports: what an import hands
 * on. nested: called from inside a delivery (an internal subscriber's),
 * which must not disturb the loop's cached match it is iterating, so the
 * subscribers are matched afresh. */
size_t deliver_in_account(struct worker *w, struct account *acc, const struct proto_msg *m,
                          bool nested);
size_t deliver_as_in_account(struct worker *w, struct account *acc, const struct proto_msg *m,
                             const char *to, size_t tolen, bool nested);

/* Queue one frame for one subscription. False when the subscription is
 * dead, at its max, or its connection is closing or too slow. */
bool deliver_to_sub(struct worker *w, struct sub *s, const struct proto_msg *m);

#endif
