/*
 * server/sublist_cache.c — the per-loop match cache in front of the sublist.
 *
 * Results by subject in a dense entry array (eviction picks a random victim
 * in O(1)) plus an open-addressing index into it. Each lookup first drops
 * every entry if the sublist's generation moved, so a hit costs one atomic
 * load, one hash and a short probe, and takes no lock. Owned by one I/O loop,
 * never shared; reaches the trie only through sublist__match_extra.
 */
#include "server/sublist.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "server/kmap.h"
#include "server/sublist_impl.h"

/* Caps the table so that a careless max_entries cannot overflow uint32. */
#define CACHE_MAX_ENTRIES (1u << 24)
#define CACHE_MIN_ENTRIES 16u

/* One cached subject. The result block also holds the key bytes. */
struct centry {
    uint64_t hash;
    const char *key;               /* borrowed: inside res */
    size_t len;
    struct sublist_result *res;    /* owned */
    uint32_t slot;                 /* where idx points at this entry */
};

/* Allocated by sublist_cache_new, freed by sublist_cache_free. Touched only
 * by its owning loop; nothing here is locked. Entries are dense (eviction
 * picks a random one in O(1)); idx maps a hash to a position + 1. */
struct sublist_cache {
    struct sublist *sl;            /* borrowed: outlives the cache */
    uint64_t gen;                  /* generation the entries belong to */
    uint64_t seed;
    uint64_t rng;                  /* xorshift state for eviction */
    struct centry *ents;           /* owned */
    uint32_t n, cap, max;
    uint32_t *idx;                 /* owned; 0 = empty slot */
    uint32_t mask;
    uint64_t hits, misses;
};

static void cache_idx_put(struct sublist_cache *c, uint32_t pos)
{
    uint32_t i = (uint32_t)c->ents[pos].hash & c->mask;
    while (c->idx[i])
        i = (i + 1) & c->mask;
    c->idx[i] = pos + 1;
    c->ents[pos].slot = i;
}

static int cache_grow(struct sublist_cache *c)
{
    uint32_t cap = c->cap ? c->cap * 2 : CACHE_MIN_ENTRIES;
    if (cap > c->max)
        cap = c->max;
    struct centry *ents = realloc(c->ents, cap * sizeof *ents);
    if (!ents)
        return -ENOMEM;
    c->ents = ents;
    c->cap = cap;
    /* Keep the index at most half full. */
    uint32_t slots = 1;
    while (slots < cap * 2)
        slots *= 2;
    if (c->idx && slots == c->mask + 1)
        return 0;
    uint32_t *idx = calloc(slots, sizeof *idx);
    if (!idx)
        return -ENOMEM;
    free(c->idx);
    c->idx = idx;
    c->mask = slots - 1;
    for (uint32_t pos = 0; pos < c->n; pos++)
        cache_idx_put(c, pos);
    return 0;
}

struct sublist_cache *sublist_cache_new(struct sublist *sl, size_t max_entries)
{
    struct sublist_cache *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->sl = sl;
    c->max = max_entries < 1 ? 1 : max_entries > CACHE_MAX_ENTRIES ? CACHE_MAX_ENTRIES
                                                                     : (uint32_t)max_entries;
    c->seed = kmap_seed(c);
    c->rng = c->seed | 1;
    c->gen = sublist_generation(sl);
    if (cache_grow(c) < 0)
        goto err_free_cache;
    return c;
err_free_cache:
    free(c->ents);
    free(c);
    return NULL;
}

/* Drops every entry: O(entries), not O(table size), so that a busy loop
 * flushing after each SUB pays only for what it had cached. */
static void cache_flush(struct sublist_cache *c)
{
    for (uint32_t pos = 0; pos < c->n; pos++) {
        c->idx[c->ents[pos].slot] = 0;
        sublist_result_free(c->ents[pos].res);
    }
    c->n = 0;
}

void sublist_cache_free(struct sublist_cache *c)
{
    if (!c)
        return;
    cache_flush(c);
    free(c->idx);
    free(c->ents);
    free(c);
}

static void cache_idx_clear(struct sublist_cache *c, uint32_t hole)
{
    for (uint32_t j = (hole + 1) & c->mask; c->idx[j]; j = (j + 1) & c->mask) {
        struct centry *e = &c->ents[c->idx[j] - 1];
        if (((j - ((uint32_t)e->hash & c->mask)) & c->mask) >= ((j - hole) & c->mask)) {
            c->idx[hole] = c->idx[j];
            e->slot = hole;
            hole = j;
        }
    }
    c->idx[hole] = 0;
}

static void cache_evict_one(struct sublist_cache *c)
{
    c->rng ^= c->rng << 13;
    c->rng ^= c->rng >> 7;
    c->rng ^= c->rng << 17;
    uint32_t pos = (uint32_t)(c->rng % c->n);
    cache_idx_clear(c, c->ents[pos].slot);
    sublist_result_free(c->ents[pos].res);
    uint32_t last = --c->n;
    if (pos != last) {
        c->ents[pos] = c->ents[last];
        c->idx[c->ents[pos].slot] = pos + 1;
    }
}

static const struct sublist_result *cache_fill(struct sublist_cache *c, uint64_t hash,
                                               const char *subject, size_t len)
{
    struct sublist_result *r;
    if (sublist__match_extra(c->sl, subject, len, len, &r) < 0)
        return NULL;
    if (c->n == c->cap && (c->cap == c->max || cache_grow(c) < 0))
        cache_evict_one(c);
    char *key = (char *)(r + 1);
    if (len)
        memcpy(key, subject, len);
    c->ents[c->n] = (struct centry){ .hash = hash, .key = key, .len = len, .res = r };
    cache_idx_put(c, c->n++);
    return r;
}

const struct sublist_result *sublist_cache_match(struct sublist_cache *c, const char *subject,
                                                 size_t len)
{
    uint64_t gen = sublist_generation(c->sl);
    if (gen != c->gen) {
        /* Load before matching: a result built after a later insert is
         * then tagged too old and dropped at the next look, never kept. */
        cache_flush(c);
        c->gen = gen;
    }
    uint64_t h = kmap_hash(c->seed, subject, len);
    for (uint32_t i = (uint32_t)h & c->mask; c->idx[i]; i = (i + 1) & c->mask) {
        const struct centry *e = &c->ents[c->idx[i] - 1];
        if (e->hash == h && e->len == len && (!len || memcmp(e->key, subject, len) == 0)) {
            c->hits++;
            return e->res;
        }
    }
    c->misses++;
    return cache_fill(c, h, subject, len);
}

uint64_t sublist_cache_hits(const struct sublist_cache *c)
{
    return c->hits;
}

uint64_t sublist_cache_misses(const struct sublist_cache *c)
{
    return c->misses;
}
