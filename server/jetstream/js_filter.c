/*
 * server/jetstream/js_filter.c — a consumer's subject filters against the
 * store (see js_filter.h). Pure over the store's read functions; runs on
 * the JetStream loop like its consumer.
 */
#include "server/jetstream/js_filter.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "proto/subject.h"

void js_filter_clear(struct js_filter *f)
{
    free(f->subj);
    free(f->len);
    f->subj = NULL;
    f->len = NULL;
    f->n = 0;
}

/* Does some filter cover every subject the stream is configured with? A
 * stream with no subjects (a mirror) is never taken to be covered. */
static bool covers_stream(char *const *fs, size_t nfs, const struct js_stream_config *sc)
{
    if (!sc->nsubjects)
        return false;
    for (size_t i = 0; i < sc->nsubjects; i++) {
        const char *s = sc->subjects[i];
        bool covered = false;
        for (size_t j = 0; j < nfs && !covered; j++)
            covered = subject_covers(fs[j], strlen(fs[j]), s, strlen(s));
        if (!covered)
            return false;
    }
    return true;
}

int js_filter_set(struct js_filter *f, const struct js_consumer_config *cfg,
                  const struct js_stream_config *sc)
{
    js_filter_clear(f);
    char *one[1] = { cfg->filter_subject };
    char *const *fs = cfg->nfilter_subjects ? cfg->filter_subjects : one;
    size_t nfs = cfg->nfilter_subjects ? cfg->nfilter_subjects
                                       : (cfg->filter_subject && *cfg->filter_subject);
    if (!nfs || covers_stream(fs, nfs, sc))
        return 0;
    f->subj = calloc(nfs, sizeof *f->subj);
    f->len = calloc(nfs, sizeof *f->len);
    if (!f->subj || !f->len) {
        js_filter_clear(f);
        return -ENOMEM;
    }
    for (size_t i = 0; i < nfs; i++) {
        f->subj[i] = fs[i];
        f->len[i] = strlen(fs[i]);
    }
    f->n = nfs;
    return 0;
}

bool js_filter_takes(const struct js_filter *f, const char *subject, size_t len)
{
    if (!f->n)
        return true;
    for (size_t i = 0; i < f->n; i++)
        if (subject_match(f->subj[i], f->len[i], subject, len))
            return true;
    return false;
}

int js_filter_load_next(struct store *store, uint64_t start, const struct js_filter *f,
                        struct store_msg *m)
{
    if (f->n <= 1)
        return store_load_next(store, start, f->n ? f->subj[0] : NULL, f->n ? f->len[0] : 0, m);
    /* The lowest of each filter's next sequence, loaded once. */
    uint64_t best = 0;
    for (size_t i = 0; i < f->n; i++) {
        uint64_t seq = store_next_seq(store, start, f->subj[i], f->len[i]);
        if (seq && (!best || seq < best))
            best = seq;
    }
    return best ? store_load(store, best, m) : -ENOENT;
}

uint64_t js_filter_count_from(const struct store *store, uint64_t start,
                              const struct js_filter *f)
{
    if (!f->n)
        return store_count_from(store, start, NULL, 0);
    uint64_t n = 0;
    for (size_t i = 0; i < f->n; i++)
        n += store_count_from(store, start, f->subj[i], f->len[i]);
    return n;
}

int js_filter_each_subject(const struct store *store, const struct js_filter *f,
                           int (*fn)(void *arg, const char *subject, size_t len,
                                     const struct store_subject_state *ss),
                           void *arg)
{
    if (!f->n)
        return store_each_subject(store, NULL, 0, fn, arg);
    for (size_t i = 0; i < f->n; i++) {
        int rc = store_each_subject(store, f->subj[i], f->len[i], fn, arg);
        if (rc)
            return rc;
    }
    return 0;
}
