/*
 * server/jetstream/js_stream_index.c — finding streams without walking
 * them: by name (API requests) and by id (every publish: the sid of the
 * subscription that heard it) through kmaps, by subject and for overlap
 * checks through a tree of every stream's subjects (js_subtree.h), and the
 * usage the server limits are checked against as running sums the stores
 * keep (store_options.usage). A Key-Value user with 1,000 buckets has
 * 1,000 streams; nothing here costs per publish what it costs per stream.
 * The stream lifecycle (js_stream.c) keeps the maps in step through
 * js_stream_index / js_stream_unindex. Runs only on the JetStream loop.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "proto/subject.h"
#include "server/jetstream/js_internal.h"
#include "server/jetstream/js_subtree.h"

static struct js_stream *of_name_key(const struct kmap_key *k)
{
    return (struct js_stream *)((char *)k - offsetof(struct js_stream, name_key));
}

static struct js_stream *of_id_key(const struct kmap_key *k)
{
    return (struct js_stream *)((char *)k - offsetof(struct js_stream, id_key));
}

int js_streams_init(struct js *js)
{
    js->map_seed = kmap_seed(js);
    js->subjects = js_subtree_new();
    return js->subjects ? 0 : -ENOMEM;
}

void js_streams_close(struct js *js)
{
    while (js->streams) {
        struct js_stream *st = js->streams;
        js->streams = st->next;
        js_stream_free(st);
    }
    js->nstreams = 0;
    js_streams_fini(js);
}

void js_streams_fini(struct js *js)
{
    kmap_clear(&js->by_name);
    kmap_clear(&js->by_id);
    js_subtree_free(js->subjects);
    js->subjects = NULL;
}

struct js_stream *js_stream_find(struct js *js, const char *name, size_t len)
{
    struct kmap_key *k = kmap_find(&js->by_name, kmap_hash(js->map_seed, name, len), name, len);
    return k ? of_name_key(k) : NULL;
}

struct js_stream *js_stream_by_id(struct js *js, uint64_t id)
{
    char key[sizeof id];
    memcpy(key, &id, sizeof id);
    struct kmap_key *k = kmap_find(&js->by_id, kmap_hash(js->map_seed, key, sizeof key), key,
                                   sizeof key);
    return k ? of_id_key(k) : NULL;
}

void js_stream_unindex_subjects(struct js_stream *st)
{
    for (size_t i = 0; i < st->nsubents; i++)
        js_subtree_remove(st->js->subjects, st->subents[i]);
    free(st->subents);
    st->subents = NULL;
    st->nsubents = 0;
}

int js_stream_index_subjects(struct js_stream *st)
{
    st->subents = calloc(st->cfg.nsubjects ? st->cfg.nsubjects : 1, sizeof *st->subents);
    if (!st->subents)
        return -ENOMEM;
    for (size_t i = 0; i < st->cfg.nsubjects; i++) {
        const char *subj = st->cfg.subjects[i];
        if (js_subtree_add(st->js->subjects, subj, strlen(subj), st, &st->subents[i]) < 0) {
            js_stream_unindex_subjects(st);
            return -ENOMEM;
        }
        st->nsubents++;
    }
    return 0;
}

void js_stream_unindex(struct js_stream *st)
{
    if (!st->indexed)
        return;
    kmap_del(&st->js->by_name, &st->name_key);
    kmap_del(&st->js->by_id, &st->id_key);
    js_stream_unindex_subjects(st);
    st->indexed = false;
}

int js_stream_index(struct js_stream *st)
{
    struct js *js = st->js;
    st->key_name = strdup(st->cfg.name);
    if (!st->key_name)
        return -ENOMEM;
    size_t len = strlen(st->key_name);
    st->name_key = (struct kmap_key){ kmap_hash(js->map_seed, st->key_name, len), st->key_name,
                                      len };
    st->id_key = (struct kmap_key){ kmap_hash(js->map_seed, (const char *)&st->id, sizeof st->id),
                                    (const char *)&st->id, sizeof st->id };
    if (kmap_add(&js->by_name, &st->name_key) < 0)
        return -ENOMEM;
    if (kmap_add(&js->by_id, &st->id_key) < 0) {
        kmap_del(&js->by_name, &st->name_key);
        return -ENOMEM;
    }
    if (js_stream_index_subjects(st) < 0) {
        kmap_del(&js->by_name, &st->name_key);
        kmap_del(&js->by_id, &st->id_key);
        return -ENOMEM;
    }
    st->indexed = true;
    return 0;
}

struct subject_find {
    const char *subject;
    size_t len;
    struct js_stream *found;
};

static int captures(void *arg, const char *pattern, void *owner)
{
    struct subject_find *f = arg;
    if (!subject_match(pattern, strlen(pattern), f->subject, f->len))
        return 0;
    f->found = owner;
    return 1;
}

struct js_stream *js_stream_for_subject(struct js *js, const char *subject, size_t len)
{
    struct subject_find f = { subject, len, NULL };
    js_subtree_each_overlap(js->subjects, subject, len, captures, &f);
    return f.found;
}

struct overlap_find {
    const char *subject;
    const struct js_stream *self;
    const struct js_stream *other;   /* out */
};

static int overlaps(void *arg, const char *pattern, void *owner)
{
    struct overlap_find *f = arg;
    if (owner == f->self ||
        !subject_overlap(pattern, strlen(pattern), f->subject, strlen(f->subject)))
        return 0;
    f->other = owner;
    return 1;
}

bool js_stream_overlaps_other(struct js *js, const struct js_stream_config *cfg,
                              const struct js_stream *self, const char **other)
{
    for (size_t j = 0; j < cfg->nsubjects; j++) {
        struct overlap_find f = { cfg->subjects[j], self, NULL };
        if (js_subtree_each_overlap(js->subjects, f.subject, strlen(f.subject), overlaps, &f) != 0) {
            if (other)
                *other = f.other ? f.other->cfg.name : NULL;
            return true; /* -ENOMEM too: refusing is the safe answer */
        }
    }
    return false;
}

/* Usage and limits for $JS.API.INFO and monitoring. The bytes are the
 * running sums; the counts walk every stream, O(streams) per call — once
 * per INFO request and per monitoring refresh (4 a second), never per
 * message. */
void js_totals(struct js *js, struct jetstream_stats *t)
{
    *t = (struct jetstream_stats){
        .max_memory = js->max_memory, .max_storage = js->max_store,
        .streams = js->nstreams, .api_total = js->api_total, .api_errors = js->api_errors,
        .memory = js->usage[JS_STORAGE_MEMORY], .storage = js->usage[JS_STORAGE_FILE],
    };
    for (struct js_stream *st = js->streams; st; st = st->next) {
        struct store_state ss;
        store_get_state(st->store, &ss);
        bool mem = st->cfg.storage == JS_STORAGE_MEMORY;
        if (st->cfg.max_bytes > 0)
            *(mem ? &t->reserved_memory : &t->reserved_storage) += (uint64_t)st->cfg.max_bytes;
        t->consumers += st->nconsumers;
        t->messages += ss.msgs;
    }
    t->bytes = t->memory + t->storage;
}

/* O(1): every store adds and takes back its bytes (store_options.usage). */
uint64_t js_usage(struct js *js, enum js_storage kind)
{
    return js->usage[kind == JS_STORAGE_MEMORY ? JS_STORAGE_MEMORY : JS_STORAGE_FILE];
}
