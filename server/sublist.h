/*
 * server/sublist.h — the subject index: which subscriptions match a subject.
 *
 * A trie of subject tokens; each level holds literal children in a hash map
 * plus a '*' child and a '>' child, and each node the plain and queue
 * subscriptions that end there. One sublist is shared by every I/O loop:
 * insert/remove take its write lock, sublist_match its read lock.
 *
 * The hot path does not take that lock: each loop owns a sublist_cache that
 * remembers results per subject and is emptied whenever the sublist's
 * generation (bumped by every insert/remove) moves, checked with one atomic
 * load per lookup.
 *
 * The index never owns subscriptions: it stores pointers to sublist_sub
 * records embedded in the owner's own struct (see server/client.h).
 */
#ifndef TERN_SERVER_SUBLIST_H
#define TERN_SERVER_SUBLIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What the index knows of one subscription. Embedded by its owner, which
 * keeps it alive (and the subject/queue bytes) until after sublist_remove. */
struct sublist_sub {
    const char *subject;  /* borrowed: owned by the embedding struct */
    size_t subject_len;
    const char *queue;    /* borrowed; NULL for a plain subscription */
    size_t queue_len;
    uint32_t weight;      /* queue members this entry stands for: 1 for a
                             client, the peer's count for a route entry */
};

/* All members of one queue group that match a subject, gathered across
 * every matching pattern. Each member is listed once whatever its weight;
 * weighing the pick is the caller's job. */
struct sublist_qgroup {
    const char *name;     /* borrowed from the first member */
    size_t name_len;
    struct sublist_sub **subs;
    size_t nsubs;
};

/* A match result. Owned by whoever got it from sublist_match (free with
 * sublist_result_free) or by the cache that returned it. */
struct sublist_result {
    struct sublist_sub **psubs; /* plain subscriptions */
    size_t npsubs;
    struct sublist_qgroup *qgroups;
    size_t nqgroups;
};

struct sublist_stats {
    uint64_t count;    /* subscriptions now in the index */
    uint64_t inserts;
    uint64_t removes;
    uint64_t matches;  /* sublist_match calls (cache misses) */
};

struct sublist;

struct sublist *sublist_new(void);
/* Frees the index itself; the subscriptions are their owners' to free. */
void sublist_free(struct sublist *sl);

/* 0, -EINVAL for an invalid subject, or -ENOMEM. Thread-safe. */
int sublist_insert(struct sublist *sl, struct sublist_sub *sub);
/* 0, or -ENOENT when the exact pointer is not in the index. Thread-safe. */
int sublist_remove(struct sublist *sl, struct sublist_sub *sub);

/* Match a published subject. *out is a new result (possibly empty) that the
 * caller frees. 0 or -ENOMEM. Thread-safe (read lock). */
int sublist_match(struct sublist *sl, const char *subject, size_t len,
                  struct sublist_result **out);
void sublist_result_free(struct sublist_result *r);

/* Moves on every insert and remove. Atomic load, no lock. */
uint64_t sublist_generation(const struct sublist *sl);
void sublist_get_stats(struct sublist *sl, struct sublist_stats *st);
/* Trie nodes now held (not counting the root): shows that removal prunes.
 * O(nodes) under the read lock; for tests and monitoring, not the hot path. */
size_t sublist_node_count(struct sublist *sl);

/*
 * Per-loop match cache. Not thread-safe: one owner (an I/O loop).
 * sublist_cache_match returns a result owned by the cache, valid until the
 * next sublist_cache_match on the same cache; NULL only when out of memory.
 */
struct sublist_cache;
struct sublist_cache *sublist_cache_new(struct sublist *sl, size_t max_entries);
void sublist_cache_free(struct sublist_cache *c);
const struct sublist_result *sublist_cache_match(struct sublist_cache *c,
                                                 const char *subject, size_t len);
uint64_t sublist_cache_hits(const struct sublist_cache *c);
uint64_t sublist_cache_misses(const struct sublist_cache *c);

#endif
