/*
 * cluster/interest.h — this node's local interest as its routes must hear
 * it (spec/cluster-protocol.md §4.2).
 *
 * Counts local subscriptions per (account, subject[, queue]) key and turns
 * each change into at most one route line: RS+ when a key appears or a
 * queue key's weight changes, RS- when a key disappears. Subscriptions that
 * came from routes are never counted here; that is what keeps routing to
 * one hop. Thread-safe: any I/O loop may call it; the lock is held while
 * the caller's emit callback runs, so lines reach every route in the order
 * the changes happened, and a new route's full dump cannot interleave with
 * a concurrent change.
 */
#ifndef TERN_CLUSTER_INTEREST_H
#define TERN_CLUSTER_INTEREST_H

#include <stddef.h>

struct interest;

/* Called with one complete protocol line (CRLF included) to send. */
typedef void (*interest_emit_fn)(void *arg, const char *line, size_t len);

struct interest *interest_new(void);
void interest_free(struct interest *in);

/* A local subscription on acc/subject (queue NULL for a plain one) was
 * added or removed. emit runs zero or one time under the lock.
 * 0, -ENOMEM, or -ENOENT (remove of a key with no count). */
int interest_add(struct interest *in, const char *acc, const char *subject,
                 const char *queue, interest_emit_fn emit, void *arg);
int interest_remove(struct interest *in, const char *acc, const char *subject,
                    const char *queue, interest_emit_fn emit, void *arg);

/* Emit one RS+ per key with a count (queue keys with their total weight),
 * for a newly registered route. Returns the number of lines emitted. */
size_t interest_dump(struct interest *in, interest_emit_fn emit, void *arg);

/* Keys with a count (for tests and /routez). */
size_t interest_count(struct interest *in);

#endif
