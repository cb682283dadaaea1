/*
 * cluster/interest.c — local interest counting for routes (see
 * interest.h).
 *
 * A kmap (server/kmap.h) keyed by "acc subject[ queue]" (the route line's
 * own argument text without the weight, so a key is also what the peer keys
 * its remote subscription by). Plain keys emit only on 0→1 and 1→0; queue keys
 * emit on every change, because the weight is the member count.
 */
#include "cluster/interest.h"

#include <stddef.h>

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/kmap.h"

/* One key with a count. Owned by the interest table. */
struct entry {
    struct kmap_key k;   /* bytes = key */
    char *key;           /* owned: "acc subject[ queue]" */
    size_t key_len;
    uint64_t count;
};

struct interest {
    pthread_mutex_t lock;
    struct kmap entries;     /* guarded by lock; the entries are owned */
    uint64_t seed;
};

static struct entry *entry_of(struct kmap_key *k)
{
    return (struct entry *)((char *)k - offsetof(struct entry, k));
}

static void entry_free(struct entry *e)
{
    free(e->key);
    free(e);
}

struct interest *interest_new(void)
{
    struct interest *in = calloc(1, sizeof *in);
    if (!in)
        return NULL;
    in->seed = kmap_seed(in);
    pthread_mutex_init(&in->lock, NULL);
    return in;
}

void interest_free(struct interest *in)
{
    if (!in)
        return;
    for (uint32_t i = 0; i < kmap_capacity(&in->entries); i++) {
        struct kmap_key *k = kmap_slot(&in->entries, i);
        if (k)
            entry_free(entry_of(k));
    }
    kmap_clear(&in->entries);
    pthread_mutex_destroy(&in->lock);
    free(in);
}

/* "acc subject[ queue]" into a new string; NULL on ENOMEM. */
static char *make_key(const char *acc, const char *subject, const char *queue, size_t *len)
{
    int n = queue ? snprintf(NULL, 0, "%s %s %s", acc, subject, queue)
                  : snprintf(NULL, 0, "%s %s", acc, subject);
    char *k = malloc((size_t)n + 1);
    if (!k)
        return NULL;
    if (queue)
        snprintf(k, (size_t)n + 1, "%s %s %s", acc, subject, queue);
    else
        snprintf(k, (size_t)n + 1, "%s %s", acc, subject);
    *len = (size_t)n;
    return k;
}

static struct entry *find(struct interest *in, const char *key, size_t len)
{
    struct kmap_key *k = kmap_find(&in->entries, kmap_hash(in->seed, key, len), key, len);
    return k ? entry_of(k) : NULL;
}

/* Emit "RS+ key[ weight]\r\n" or "RS- key\r\n". */
static void emit_line(const char *op, const struct entry *e, int queue, uint64_t weight,
                      interest_emit_fn emit, void *arg)
{
    char stack[512];
    size_t need = e->key_len + 40;
    char *line = need <= sizeof stack ? stack : malloc(need);
    if (!line)
        return;
    int n = queue && weight ? snprintf(line, need, "%s %s %llu\r\n", op, e->key,
                                       (unsigned long long)weight)
                            : snprintf(line, need, "%s %s\r\n", op, e->key);
    if (n > 0)
        emit(arg, line, (size_t)n);
    if (line != stack)
        free(line);
}

int interest_add(struct interest *in, const char *acc, const char *subject,
                 const char *queue, interest_emit_fn emit, void *arg)
{
    size_t len;
    char *key = make_key(acc, subject, queue, &len);
    if (!key)
        return -ENOMEM;
    int rc = 0;
    pthread_mutex_lock(&in->lock);
    struct entry *e = find(in, key, len);
    if (!e) {
        e = calloc(1, sizeof *e);
        if (!e) {
            rc = -ENOMEM;
            goto out_unlock;
        }
        e->key = key;
        e->key_len = len;
        e->k = (struct kmap_key){ kmap_hash(in->seed, key, len), key, len };
        if (kmap_add(&in->entries, &e->k) < 0) {
            free(e);
            rc = -ENOMEM;
            goto out_unlock;
        }
        key = NULL;
    }
    e->count++;
    if (queue || e->count == 1)
        emit_line("RS+", e, queue != NULL, e->count, emit, arg);
out_unlock:
    pthread_mutex_unlock(&in->lock);
    free(key);
    return rc;
}

int interest_remove(struct interest *in, const char *acc, const char *subject,
                    const char *queue, interest_emit_fn emit, void *arg)
{
    size_t len;
    char *key = make_key(acc, subject, queue, &len);
    if (!key)
        return -ENOMEM;
    int rc = 0;
    pthread_mutex_lock(&in->lock);
    struct entry *e = find(in, key, len);
    if (!e) {
        rc = -ENOENT;
        goto out_unlock;
    }
    e->count--;
    if (e->count == 0) {
        emit_line("RS-", e, 0, 0, emit, arg);
        kmap_del(&in->entries, &e->k);
        entry_free(e);
    } else if (queue) {
        emit_line("RS+", e, 1, e->count, emit, arg);
    }
out_unlock:
    pthread_mutex_unlock(&in->lock);
    free(key);
    return rc;
}

size_t interest_dump(struct interest *in, interest_emit_fn emit, void *arg)
{
    size_t n = 0;
    pthread_mutex_lock(&in->lock);
    for (uint32_t i = 0; i < kmap_capacity(&in->entries); i++) {
        struct kmap_key *k = kmap_slot(&in->entries, i);
        if (k) {
            struct entry *e = entry_of(k);
            /* A queue key has three fields: acc, subject, queue. */
            const char *sp = memchr(e->key, ' ', e->key_len);
            int queue = sp && memchr(sp + 1, ' ', e->key_len - (size_t)(sp + 1 - e->key)) != NULL;
            emit_line("RS+", e, queue, e->count, emit, arg);
            n++;
        }
    }
    pthread_mutex_unlock(&in->lock);
    return n;
}

size_t interest_count(struct interest *in)
{
    pthread_mutex_lock(&in->lock);
    size_t n = in->entries.n;
    pthread_mutex_unlock(&in->lock);
    return n;
}
