/*
 * server/jetstream/js_filter.h — a consumer's subject filters as the store
 * is asked with them: none (the whole stream), one (filter_subject, or one
 * of filter_subjects), or several (nats-server 2.10's filter_subjects).
 *
 * Several filters never overlap (js_consumer_config.c refuses that), so a
 * stored message is taken by at most one of them: counts add up and a
 * walk over each filter's subjects visits every subject once. The next
 * message is the lowest sequence any filter finds. Filters that together
 * take every subject the stream holds are dropped, so the store answers
 * unfiltered (O(1) counts; every KV watch-all).
 */
#ifndef TERN_SERVER_JS_FILTER_H
#define TERN_SERVER_JS_FILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "server/jetstream/js_config.h"
#include "server/store/store.h"

/* Owned by its consumer; the subjects are borrowed from the consumer's
 * config, so js_filter_set runs again whenever the config is replaced. */
struct js_filter {
    size_t n;              /* 0: every subject */
    const char **subj;     /* owned array (n entries) of borrowed strings */
    size_t *len;           /* owned */
};

/* Build f from cfg's filters against the stream config sc (replacing what
 * f held). 0 or -ENOMEM (f is then empty, i.e. takes everything: the
 * caller fails the operation). */
int js_filter_set(struct js_filter *f, const struct js_consumer_config *cfg,
                  const struct js_stream_config *sc);
void js_filter_clear(struct js_filter *f);

/* Does f take this subject? */
bool js_filter_takes(const struct js_filter *f, const char *subject, size_t len);
/* First stored message with seq >= start that f takes, into m. 0 or
 * -ENOENT (as store_load_next). */
int js_filter_load_next(struct store *store, uint64_t start, const struct js_filter *f,
                        struct store_msg *m);
/* Stored messages with seq >= start that f takes. */
uint64_t js_filter_count_from(const struct store *store, uint64_t start,
                              const struct js_filter *f);
/* store_each_subject over the subjects f takes (each once). */
int js_filter_each_subject(const struct store *store, const struct js_filter *f,
                           int (*fn)(void *arg, const char *subject, size_t len,
                                     const struct store_subject_state *ss),
                           void *arg);

#endif
