/*
 * server/kmap.c — seeding and the mutating half of the byte-keyed table
 * (lookups are inline in server/kmap.h).
 *
 * Adds double the slot array before it passes half full; deletes pull later
 * entries of the probe run back into the hole instead of leaving tombstones,
 * and halve the array once it is under 1/8 full. Never touches the objects
 * beyond their struct kmap_key, never frees one, never locks.
 */
#include "server/kmap.h"

#include <errno.h>
#include <stdlib.h>
#include <time.h>

uint64_t kmap_seed(const void *salt)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return kmap_hash((uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 32),
                     (const char *)&salt, sizeof salt);
}

static void kmap_place(struct kmap_key **slots, uint32_t mask, struct kmap_key *k)
{
    uint32_t i = (uint32_t)k->hash & mask;
    while (slots[i])
        i = (i + 1) & mask;
    slots[i] = k;
}

static int kmap_resize(struct kmap *m, uint32_t cap)
{
    struct kmap_key **slots = calloc(cap, sizeof *slots);
    if (!slots)
        return -ENOMEM;
    for (uint32_t i = 0; m->slots && i <= m->mask; i++)
        if (m->slots[i])
            kmap_place(slots, cap - 1, m->slots[i]);
    free(m->slots);
    m->slots = slots;
    m->mask = cap - 1;
    return 0;
}

int kmap_add(struct kmap *m, struct kmap_key *k)
{
    if (!m->slots || (m->n + 1) * 2 > m->mask + 1) {
        int rc = kmap_resize(m, m->slots ? (m->mask + 1) * 2 : 4);
        if (rc < 0)
            return rc;
    }
    kmap_place(m->slots, m->mask, k);
    m->n++;
    return 0;
}

void kmap_del(struct kmap *m, const struct kmap_key *k)
{
    uint32_t hole = (uint32_t)k->hash & m->mask;
    while (m->slots[hole] != k)
        hole = (hole + 1) & m->mask;
    /* Pull back every later entry of the run that may live in the hole. */
    for (uint32_t j = (hole + 1) & m->mask; m->slots[j]; j = (j + 1) & m->mask) {
        uint32_t home = (uint32_t)m->slots[j]->hash & m->mask;
        if (((j - home) & m->mask) >= ((j - hole) & m->mask)) {
            m->slots[hole] = m->slots[j];
            hole = j;
        }
    }
    m->slots[hole] = NULL;
    if (--m->n == 0) {
        free(m->slots);
        m->slots = NULL;
    } else if (m->mask + 1 > 8 && m->n * 8 < m->mask + 1) {
        kmap_resize(m, (m->mask + 1) / 2); /* failing to shrink is harmless */
    }
}

void kmap_clear(struct kmap *m)
{
    free(m->slots);
    m->slots = NULL;
    m->mask = 0;
    m->n = 0;
}
