/*
 * server/replies.c — reply subjects a client may answer (see replies.h).
 *
 * A kmap finds an entry by subject; a list keeps entries in the order of
 * their latest delivery, so the oldest (first to expire, first to give
 * way at the bounds) is always at the head and pruning never scans.
 */
#include "server/replies.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server/kmap.h"

/* One reply subject; owned by its table. */
struct reply {
    struct kmap_key key;       /* bytes = subject below */
    struct reply *prev, *next; /* delivery order, oldest first */
    int64_t delivered;         /* when it was last delivered */
    int64_t answers;           /* answers since then */
    char subject[];
};

struct replies {
    int64_t max_msgs, expires_ms;
    uint64_t seed;
    struct kmap index;         /* subject -> struct reply */
    struct reply *head, *tail;
    size_t n, bytes;
};

struct replies *replies_new(int64_t max_msgs, int64_t expires_ms)
{
    struct replies *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->max_msgs = max_msgs;
    r->expires_ms = expires_ms;
    r->seed = kmap_seed(r);
    return r;
}

static void unlink_reply(struct replies *r, struct reply *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        r->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        r->tail = e->prev;
    e->prev = e->next = NULL;
}

static void append_reply(struct replies *r, struct reply *e)
{
    e->prev = r->tail;
    e->next = NULL;
    if (r->tail)
        r->tail->next = e;
    else
        r->head = e;
    r->tail = e;
}

static void drop_reply(struct replies *r, struct reply *e)
{
    unlink_reply(r, e);
    kmap_del(&r->index, &e->key);
    r->n--;
    r->bytes -= e->key.len;
    free(e);
}

void replies_free(struct replies *r)
{
    if (!r)
        return;
    while (r->head)
        drop_reply(r, r->head);
    kmap_clear(&r->index);
    free(r);
}

static bool expired(const struct replies *r, const struct reply *e, int64_t now)
{
    return r->expires_ms > 0 && now - e->delivered > r->expires_ms;
}

/* Shed what can no longer be answered, then the oldest while over the
 * bounds. Spent entries never wait here: replies_use drops them. */
static void prune(struct replies *r, int64_t now)
{
    while (r->head && (expired(r, r->head, now) || r->n > REPLIES_MAX_ENTRIES ||
                       r->bytes > REPLIES_MAX_BYTES))
        drop_reply(r, r->head);
}

int replies_note(struct replies *r, const char *s, size_t len, int64_t now)
{
    uint64_t h = kmap_hash(r->seed, s, len);
    struct kmap_key *k = kmap_find(&r->index, h, s, len);
    if (k) {
        struct reply *e = (struct reply *)((char *)k - offsetof(struct reply, key));
        e->delivered = now;
        e->answers = 0;
        unlink_reply(r, e);
        append_reply(r, e);
        prune(r, now);
        return 0;
    }
    struct reply *e = malloc(sizeof *e + len + 1);
    if (!e)
        return -ENOMEM;
    memcpy(e->subject, s, len);
    e->subject[len] = '\0';
    e->key = (struct kmap_key){ h, e->subject, len };
    e->delivered = now;
    e->answers = 0;
    if (kmap_add(&r->index, &e->key) < 0) {
        free(e);
        return -ENOMEM;
    }
    append_reply(r, e);
    r->n++;
    r->bytes += len;
    prune(r, now);
    return 0;
}

bool replies_use(struct replies *r, const char *s, size_t len, int64_t now)
{
    struct kmap_key *k = kmap_find(&r->index, kmap_hash(r->seed, s, len), s, len);
    if (!k)
        return false;
    struct reply *e = (struct reply *)((char *)k - offsetof(struct reply, key));
    if (expired(r, e, now)) {
        drop_reply(r, e);
        return false;
    }
    /* The answer that reaches max is allowed and spends the entry:
     * nats-server keeps it until the next try, which it refuses, so
     * dropping it now answers every later try the same. */
    if (r->max_msgs > 0 && ++e->answers >= r->max_msgs)
        drop_reply(r, e);
    return true;
}

int64_t replies_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

size_t replies_count(const struct replies *r)
{
    return r->n;
}

size_t replies_bytes(const struct replies *r)
{
    return r->bytes;
}
