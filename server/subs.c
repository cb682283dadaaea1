/*
 * server/subs.c — per-client subscription table (see subs.h).
 *
 * The table doubles when its load passes 1, so SUB and UNSUB stay O(1)
 * even for one connection holding 100k subscriptions (bench: subs case).
 */
#include "server/subs.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "server/log.h"
#include "server/reclaim.h"
#include "server/server.h"
#include "server/sublist.h"

static size_t hash_sid(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ULL;
    }
    return (size_t)h;
}

struct sub *sub_new(struct client *c, const char *subject, size_t slen,
                    const char *queue, size_t qlen, const char *sid, size_t sidlen)
{
    struct sub *s = calloc(1, sizeof *s);
    char *mem = malloc(slen + 1 + qlen + 1 + sidlen + 1);
    if (!s || !mem) {
        free(s);
        free(mem);
        return NULL;
    }
    s->subject = mem;
    memcpy(s->subject, subject, slen);
    s->subject[slen] = '\0';
    s->queue = NULL;
    char *p = mem + slen + 1;
    if (qlen) {
        s->queue = p;
        memcpy(p, queue, qlen);
        p[qlen] = '\0';
    }
    p += qlen + 1;
    s->sid = p;
    memcpy(p, sid, sidlen);
    p[sidlen] = '\0';
    s->sid_len = sidlen;
    s->client = c;
    s->base.subject = s->subject;
    s->base.subject_len = slen;
    s->base.queue = s->queue;
    s->base.queue_len = qlen;
    s->base.weight = 1;
    return s;
}

void sub_free(void *arg)
{
    struct sub *s = arg;
    free(s->subject);
    free(s);
}

struct sub *subs_find(struct client *c, const char *sid, size_t sidlen)
{
    if (!c->sid_nbuckets)
        return NULL;
    struct sub *s = c->sid_buckets[hash_sid(sid, sidlen) & (c->sid_nbuckets - 1)];
    for (; s; s = s->next_in_bucket)
        if (s->sid_len == sidlen && memcmp(s->sid, sid, sidlen) == 0)
            return s;
    return NULL;
}

static int rehash(struct client *c, size_t nb)
{
    struct sub **nt = calloc(nb, sizeof *nt);
    if (!nt)
        return -ENOMEM;
    for (size_t i = 0; i < c->sid_nbuckets; i++) {
        struct sub *s = c->sid_buckets[i];
        while (s) {
            struct sub *next = s->next_in_bucket;
            size_t b = hash_sid(s->sid, s->sid_len) & (nb - 1);
            s->next_in_bucket = nt[b];
            nt[b] = s;
            s = next;
        }
    }
    free(c->sid_buckets);
    c->sid_buckets = nt;
    c->sid_nbuckets = nb;
    return 0;
}

int subs_add(struct client *c, struct sub *s)
{
    int rc = 0;
    pthread_mutex_lock(&c->subs_lock);
    if (c->nsubs + 1 > c->sid_nbuckets) {
        rc = rehash(c, c->sid_nbuckets ? c->sid_nbuckets * 2 : 8);
        if (rc < 0)
            goto out_unlock;
    }
    size_t b = hash_sid(s->sid, s->sid_len) & (c->sid_nbuckets - 1);
    s->next_in_bucket = c->sid_buckets[b];
    c->sid_buckets[b] = s;
    c->nsubs++;
    atomic_store_explicit(&c->nsubs_pub, c->nsubs, memory_order_relaxed);
out_unlock:
    pthread_mutex_unlock(&c->subs_lock);
    return rc;
}

void subs_remove(struct client *c, struct sub *s)
{
    pthread_mutex_lock(&c->subs_lock);
    struct sub **link = &c->sid_buckets[hash_sid(s->sid, s->sid_len) & (c->sid_nbuckets - 1)];
    while (*link && *link != s)
        link = &(*link)->next_in_bucket;
    if (*link) {
        *link = s->next_in_bucket;
        c->nsubs--;
        atomic_store_explicit(&c->nsubs_pub, c->nsubs, memory_order_relaxed);
    }
    pthread_mutex_unlock(&c->subs_lock);
}

void subs_clear(struct client *c, void (*fn)(struct client *c, struct sub *s))
{
    pthread_mutex_lock(&c->subs_lock);
    struct sub **table = c->sid_buckets;
    size_t nb = c->sid_nbuckets;
    c->sid_buckets = NULL;
    c->sid_nbuckets = 0;
    c->nsubs = 0;
    atomic_store_explicit(&c->nsubs_pub, 0, memory_order_relaxed);
    pthread_mutex_unlock(&c->subs_lock);
    for (size_t i = 0; i < nb; i++) {
        struct sub *s = table[i];
        while (s) {
            struct sub *next = s->next_in_bucket;
            fn(c, s);
            s = next;
        }
    }
    free(table);
}

void sub_retire(struct client *c, struct sub *s)
{
    pthread_mutex_lock(&c->out_lock);
    s->dead = true;
    pthread_mutex_unlock(&c->out_lock);
    sublist_remove(c->srv->sublist, &s->base);
    if (reclaim_retire(c->srv->reclaim, s, sub_free, NULL) < 0)
        LOG_ERROR("out of memory retiring a subscription; leaking it");
}

void sub_unsubscribe(struct client *c, struct sub *s)
{
    subs_remove(c, s);
    sub_retire(c, s);
}
