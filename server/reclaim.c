/*
 * server/reclaim.c — epoch-based deferred freeing (see reclaim.h).
 *
 * Correctness argument: an object is unlinked from every shared structure
 * before reclaim_retire reads the epoch E into its tag. A loop that stores
 * seen > E did so at the end of an iteration, after the epoch moved past E,
 * so after the unlink; any pointer it took before the unlink was dropped by
 * then, and later iterations cannot find the object. So once every slot
 * has seen > E, nobody can reach the object. Sequentially consistent
 * atomics keep the unlink, the tag and the slot stores in one order.
 */
#include "server/reclaim.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

struct retired {
    void *obj;
    void (*free_fn)(void *);
    atomic_int *holds;     /* borrowed: lives inside obj */
    uint64_t tag;
    struct retired *next;
};

struct reclaim {
    atomic_uint_fast64_t epoch;
    int nslots;
    atomic_uint_fast64_t *seen;  /* owned; one per loop */
    pthread_mutex_t lock;        /* guards list */
    struct retired *list;        /* owned */
};

struct reclaim *reclaim_new(int nslots)
{
    struct reclaim *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->seen = calloc((size_t)nslots, sizeof *r->seen);
    if (!r->seen) {
        free(r);
        return NULL;
    }
    r->nslots = nslots;
    atomic_init(&r->epoch, 1);
    for (int i = 0; i < nslots; i++)
        atomic_init(&r->seen[i], 1);
    pthread_mutex_init(&r->lock, NULL);
    return r;
}

void reclaim_free(struct reclaim *r)
{
    if (!r)
        return;
    struct retired *it = r->list;
    while (it) {
        struct retired *next = it->next;
        it->free_fn(it->obj);
        free(it);
        it = next;
    }
    pthread_mutex_destroy(&r->lock);
    free(r->seen);
    free(r);
}

void reclaim_quiescent(struct reclaim *r, int slot)
{
    atomic_store(&r->seen[slot], atomic_load(&r->epoch));
}

int reclaim_retire(struct reclaim *r, void *obj, void (*free_fn)(void *),
                   atomic_int *holds)
{
    struct retired *it = malloc(sizeof *it);
    if (!it)
        return -ENOMEM;
    it->obj = obj;
    it->free_fn = free_fn;
    it->holds = holds;
    it->tag = atomic_load(&r->epoch);
    pthread_mutex_lock(&r->lock);
    it->next = r->list;
    r->list = it;
    pthread_mutex_unlock(&r->lock);
    return 0;
}

static uint64_t oldest_seen(struct reclaim *r)
{
    uint64_t min = UINT64_MAX;
    for (int i = 0; i < r->nslots; i++) {
        uint64_t s = atomic_load(&r->seen[i]);
        if (s < min)
            min = s;
    }
    return min;
}

int reclaim_tick(struct reclaim *r)
{
    atomic_fetch_add(&r->epoch, 1);
    uint64_t safe_below = oldest_seen(r);

    pthread_mutex_lock(&r->lock);
    struct retired *ready = NULL, **link = &r->list;
    while (*link) {
        struct retired *it = *link;
        bool held = it->holds && atomic_load(it->holds) > 0;
        if (it->tag < safe_below && !held) {
            *link = it->next;
            it->next = ready;
            ready = it;
        } else {
            link = &it->next;
        }
    }
    pthread_mutex_unlock(&r->lock);

    int freed = 0;
    while (ready) {
        struct retired *next = ready->next;
        ready->free_fn(ready->obj);
        free(ready);
        ready = next;
        freed++;
    }
    return freed;
}
