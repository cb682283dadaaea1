/*
 * server/jetstream/js_stats.h — the figures the JetStream loop publishes for
 * monitoring (/jsz, /varz, /metrics): totals, each stream, each consumer
 * this node serves, and the raft group as this node sees it.
 *
 * The loop rebuilds the whole snapshot every few hundred ms and swaps a
 * pointer to it in under the lock; a reader takes a reference under the
 * same lock and reads without it, and whoever drops the last reference
 * frees it. So a scrape costs the loop nothing per message and never makes
 * it wait while a large /metrics page is written (thousands of streams and
 * consumers make a page of megabytes), and a reader sees one coherent
 * snapshot for as long as it holds it (js_stats_with).
 */
#ifndef TERN_SERVER_JS_STATS_H
#define TERN_SERVER_JS_STATS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>

#include "server/jetstream/jetstream.h"

struct js;

/* One refresh's figures. Built by the JetStream loop, then shared: freed
 * by whoever drops the last reference (js_stats.c). Never changed once
 * published; the arrays and their strings are owned. */
struct js_snapshot {
    atomic_int refs;
    struct jetstream_stats stats;
    struct jetstream_stream_stats *streams;
    size_t nstreams;
    struct jetstream_consumer_stats *consumers;
    size_t nconsumers;
    struct jsraft_peer *peers;
    size_t npeers;
};

/* Embedded in struct jetstream (jetstream.c), which inits and destroys it. */
struct js_stats {
    pthread_mutex_t lock;      /* guards cur (the pointer, not its target) */
    struct js_snapshot *cur;   /* one reference held; NULL before the first */
};

void js_stats_init(struct js_stats *p);
void js_stats_destroy(struct js_stats *p);
/* JetStream loop (or start-up, before it runs): recount and publish. */
void js_stats_refresh(struct js_stats *p, struct js *js);
/* Any thread. */
void js_stats_get(struct js_stats *p, struct jetstream_stats *out);
void js_stats_with(struct js_stats *p, void (*fn)(void *arg, const struct jetstream_view *v),
                   void *arg);

#endif
