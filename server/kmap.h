/*
 * server/kmap.h — seeded hashing and a table of objects keyed by byte
 * strings: the subject index's trie and cache, each connection's sid table
 * (server/subs.c) and the cluster's local-interest counts
 * (cluster/interest.c). Internal to Tern; not a general container API.
 *
 * Open addressing, linear probing, backward-shift deletion. A kmap never
 * owns the objects it indexes and never locks: its owner guards it.
 * Lookups are inline because match runs one per subject token.
 */
#ifndef TERN_SERVER_KMAP_H
#define TERN_SERVER_KMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Keyed so that subscribers cannot cheaply pick colliding tokens; this is
 * a fast mixer, not SipHash, which would cost more than the lookup itself. */
static inline uint64_t kmap_hash(uint64_t seed, const char *p, size_t n)
{
    uint64_t h = seed ^ (n * 0x9e3779b97f4a7c15ull);
    uint64_t w;
    for (; n >= 8; p += 8, n -= 8) {
        memcpy(&w, p, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdull;
        h ^= h >> 32;
    }
    w = 0;
    if (n) /* p may be NULL for an empty string */
        memcpy(&w, p, n);
    h = (h ^ w) * 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 29;
    h *= 0x94d049bb133111ebull;
    return h ^ (h >> 31);
}

/* A fresh seed for kmap_hash, from the clock and the salt's address. */
uint64_t kmap_seed(const void *salt);

/* A hashed byte string embedded in every object a kmap holds (owners get
 * back to their object with offsetof). */
struct kmap_key {
    uint64_t hash;
    const char *bytes;  /* borrowed: points into the containing object */
    size_t len;
};

/* Load kept at or below 1/2, no tombstones. Embedded by its owner, zeroed
 * to start empty. The slot array is owned; the objects are not. */
struct kmap {
    struct kmap_key **slots;
    uint32_t mask;      /* capacity - 1; meaningless while slots is NULL */
    uint32_t n;
};

static inline bool kmap_key_eq(const struct kmap_key *k, uint64_t hash, const char *p,
                               size_t len)
{
    return k->hash == hash && k->len == len && memcmp(k->bytes, p, len) == 0;
}

static inline struct kmap_key *kmap_find(const struct kmap *m, uint64_t hash, const char *p,
                                         size_t len)
{
    if (!m->n)
        return NULL;
    for (uint32_t i = (uint32_t)hash & m->mask; m->slots[i]; i = (i + 1) & m->mask)
        if (kmap_key_eq(m->slots[i], hash, p, len))
            return m->slots[i];
    return NULL;
}

/* Walking every object: slots 0 .. kmap_capacity() - 1, skipping NULLs.
 * The map must not change during the walk. */
static inline uint32_t kmap_capacity(const struct kmap *m)
{
    return m->slots ? m->mask + 1 : 0;
}

static inline struct kmap_key *kmap_slot(const struct kmap *m, uint32_t i)
{
    return m->slots[i];
}

/* Release the slot array (not the objects); the map is empty again. */
void kmap_clear(struct kmap *m);

/* Adds an object not yet in the map. 0 or -ENOMEM (the map unchanged). */
int kmap_add(struct kmap *m, struct kmap_key *k);
/* Removes an object that must be in the map; frees the slots when empty. */
void kmap_del(struct kmap *m, const struct kmap_key *k);

#endif
