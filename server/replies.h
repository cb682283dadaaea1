/*
 * server/replies.h — the reply subjects a client with allow_responses was
 * sent, so that it may answer them (spec/server-cli-config.md §3.2:
 * allow_responses) where its publish permissions would refuse the subject.
 *
 * As nats-server 2.9: every message delivered to the client with a reply
 * subject opens that subject for `max` answers (counting restarts when the
 * same reply is delivered again) until `expires` after the delivery; a
 * reply is looked up only when the permissions refused the publish.
 *
 * Unlike nats-server, whose table only sheds spent and expired entries
 * (past 4096 of them) and otherwise grows, this one is bounded: past
 * REPLIES_MAX_ENTRIES entries or REPLIES_MAX_BYTES of subjects the oldest
 * delivery's entry goes first, so a service that holds more requests than
 * that unanswered loses the right to answer the oldest.
 *
 * No locking here: the client's out_lock guards a table (server/client.h),
 * since deliveries note entries from any loop and publishes use them from
 * the owner's. Times are milliseconds on any monotonic clock.
 */
#ifndef TERN_SERVER_REPLIES_H
#define TERN_SERVER_REPLIES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* nats-server prunes at 4096 entries; twice that before anything that
 * could still be answered is dropped. */
#define REPLIES_MAX_ENTRIES 8192
#define REPLIES_MAX_BYTES (1u << 20)

struct replies;  /* allocated by replies_new, freed by replies_free */

/* max_msgs: answers allowed per delivery (<= 0: no limit); expires_ms: how
 * long after its delivery a reply may be answered (<= 0: forever). NULL
 * when memory runs out. */
struct replies *replies_new(int64_t max_msgs, int64_t expires_ms);
void replies_free(struct replies *r);

/* A message with reply subject s was delivered at now: s may be answered
 * max_msgs times from now on. 0, or -ENOMEM (the table is unchanged). */
int replies_note(struct replies *r, const char *s, size_t len, int64_t now);

/* The client publishes to s, which its permissions refuse: true when s is
 * a reply it was sent and may still answer (the answer is counted). */
bool replies_use(struct replies *r, const char *s, size_t len, int64_t now);

/* CLOCK_MONOTONIC in milliseconds, the clock the server's callers use. */
int64_t replies_now(void);

/* Entries held and bytes of subjects in them (tests, bounds). */
size_t replies_count(const struct replies *r);
size_t replies_bytes(const struct replies *r);

#endif
