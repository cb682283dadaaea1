/*
 * tests/bench/sublist_bench.c — how fast the subject index is.
 *
 * Builds an index of 100k distinct literal subjects plus a few thousand
 * wildcards and queue members, then times inserts, uncached matches, cached
 * matches (a hot working set through one per-loop cache) and removes.
 * Standalone; prints one line per measure. Not a test: it checks nothing
 * beyond a sanity count, and must never be run by `make check`.
 * Usage: sublist-bench [literal-subscriptions] [seed]
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server/sublist.h"

#define WILDCARDS 2000
#define QUEUE_MEMBERS 2000
#define HOT_SUBJECTS 1000
#define CACHE_ENTRIES 4096

static uint64_t rng = 88172645463325252ull;

static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void report(const char *what, size_t n, double secs)
{
    printf("%-28s %10zu ops %8.3f s %12.0f ops/s %8.1f ns/op\n", what, n, secs, (double)n / secs,
           secs * 1e9 / (double)n);
}

/* One subscription and the bytes it borrows; the bench owns both. */
struct bsub {
    struct sublist_sub s;
    char subject[48];
};

static void fill(struct bsub *b, const char *queue)
{
    b->s = (struct sublist_sub){
        .subject = b->subject,
        .subject_len = strlen(b->subject),
        .queue = queue,
        .queue_len = queue ? strlen(queue) : 0,
        .weight = 1,
    };
}

/* Literal subjects look like traffic: region.service.instance.event. */
static void literal_subject(char *out, size_t cap, size_t i)
{
    snprintf(out, cap, "r%zu.svc%zu.i%zu.evt", i % 10, (i / 10) % 100, i);
}

static void shuffle(struct bsub **v, size_t n)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = rnd() % i;
        struct bsub *t = v[i - 1];
        v[i - 1] = v[j];
        v[j] = t;
    }
}

int main(int argc, char **argv)
{
    size_t nlit = argc > 1 ? strtoull(argv[1], NULL, 0) : 100000;
    if (argc > 2)
        rng = strtoull(argv[2], NULL, 0) | 1;
    size_t total = nlit + WILDCARDS + QUEUE_MEMBERS;
    struct bsub *subs = calloc(total, sizeof *subs);
    struct bsub **order = calloc(total, sizeof *order);
    struct sublist *sl = sublist_new();
    if (!subs || !order || !sl || nlit == 0) {
        fprintf(stderr, "sublist-bench: out of memory or no subscriptions\n");
        return 1;
    }
    for (size_t i = 0; i < nlit; i++) {
        literal_subject(subs[i].subject, sizeof subs[i].subject, i);
        fill(&subs[i], NULL);
    }
    for (size_t k = 0; k < WILDCARDS; k++) {
        struct bsub *b = &subs[nlit + k];
        switch (k % 4) {
        case 0: snprintf(b->subject, sizeof b->subject, "r%zu.svc%zu.*.evt", k % 10, k % 100); break;
        case 1: snprintf(b->subject, sizeof b->subject, "r%zu.svc%zu.>", k % 10, k % 100); break;
        case 2: snprintf(b->subject, sizeof b->subject, "*.svc%zu.*.evt", k % 100); break;
        default: snprintf(b->subject, sizeof b->subject, "r%zu.>", k % 10); break;
        }
        fill(b, NULL);
    }
    for (size_t k = 0; k < QUEUE_MEMBERS; k++) {
        struct bsub *b = &subs[nlit + WILDCARDS + k];
        snprintf(b->subject, sizeof b->subject, "r%zu.svc%zu.*.evt", k % 10, k % 100);
        fill(b, k % 2 ? "workers" : "auditors");
    }
    for (size_t i = 0; i < total; i++)
        order[i] = &subs[i];
    shuffle(order, total);

    printf("sublist-bench: %zu literal + %d wildcard + %d queue subscriptions\n", nlit,
           WILDCARDS, QUEUE_MEMBERS);
    double t0 = now();
    for (size_t i = 0; i < total; i++) {
        if (sublist_insert(sl, &order[i]->s) != 0) {
            fprintf(stderr, "insert '%s' failed\n", order[i]->subject);
            return 1;
        }
    }
    report("insert", total, now() - t0);
    printf("trie nodes: %zu\n", sublist_node_count(sl));

    /* Uncached: every publish goes to the index under its read lock. */
    size_t nmatch = 1000000, delivered = 0;
    char subj[64];
    t0 = now();
    for (size_t i = 0; i < nmatch; i++) {
        literal_subject(subj, sizeof subj, rnd() % nlit);
        struct sublist_result *r;
        if (sublist_match(sl, subj, strlen(subj), &r) != 0)
            return 1;
        delivered += r->npsubs + r->nqgroups;
        sublist_result_free(r);
    }
    report("match (uncached)", nmatch, now() - t0);

    /* The subject formatting above is part of the loop; time it alone so
     * the numbers can be read net of it. */
    t0 = now();
    size_t sink = 0;
    for (size_t i = 0; i < nmatch; i++) {
        literal_subject(subj, sizeof subj, rnd() % nlit);
        sink += (unsigned char)subj[3];
    }
    report("  (subject formatting only)", nmatch, now() - t0);

    /* Cached: a hot working set smaller than the cache, pre-formatted. */
    static char hot[HOT_SUBJECTS][48];
    static size_t hot_len[HOT_SUBJECTS];
    for (size_t i = 0; i < HOT_SUBJECTS; i++) {
        literal_subject(hot[i], sizeof hot[i], rnd() % nlit);
        hot_len[i] = strlen(hot[i]);
    }
    struct sublist_cache *c = sublist_cache_new(sl, CACHE_ENTRIES);
    if (!c)
        return 1;
    size_t ncached = 10000000;
    t0 = now();
    for (size_t i = 0; i < ncached; i++) {
        size_t h = i % HOT_SUBJECTS;
        const struct sublist_result *r = sublist_cache_match(c, hot[h], hot_len[h]);
        if (!r)
            return 1;
        delivered += r->npsubs + r->nqgroups;
    }
    report("match (cached, 1k hot)", ncached, now() - t0);
    printf("cache hits %" PRIu64 " misses %" PRIu64 "\n", sublist_cache_hits(c),
           sublist_cache_misses(c));
    sublist_cache_free(c);

    shuffle(order, total);
    t0 = now();
    for (size_t i = 0; i < total; i++) {
        if (sublist_remove(sl, &order[i]->s) != 0) {
            fprintf(stderr, "remove '%s' failed\n", order[i]->subject);
            return 1;
        }
    }
    report("remove", total, now() - t0);

    /* Many subscribers of one subject leaving in random order: the case a
     * linear list would make quadratic. */
    size_t same = 50000;
    struct bsub *one = calloc(same, sizeof *one);
    struct bsub **oorder = calloc(same, sizeof *oorder);
    if (!one || !oorder)
        return 1;
    for (size_t i = 0; i < same; i++) {
        strcpy(one[i].subject, "one.hot.subject");
        fill(&one[i], i % 2 ? "q" : NULL);
        oorder[i] = &one[i];
        if (sublist_insert(sl, &one[i].s) != 0)
            return 1;
    }
    shuffle(oorder, same);
    t0 = now();
    for (size_t i = 0; i < same; i++)
        if (sublist_remove(sl, &oorder[i]->s) != 0)
            return 1;
    report("remove (50k on one subject)", same, now() - t0);

    struct sublist_stats st;
    sublist_get_stats(sl, &st);
    printf("stats: count %" PRIu64 " inserts %" PRIu64 " removes %" PRIu64 " matches %" PRIu64
           " (checksum %zu)\n", st.count, st.inserts, st.removes, st.matches, delivered + sink);
    sublist_free(sl);
    free(one);
    free(oorder);
    free(subs);
    free(order);
    return st.count == 0 ? 0 : 1;
}
