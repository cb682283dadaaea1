/*
 * server/sublist_impl.h — what the trie (server/sublist.c) offers the
 * per-loop cache (server/sublist_cache.c) and nobody else; the public API
 * is server/sublist.h.
 *
 * The cache keeps each entry's key bytes inside its result block, saving
 * one allocation per entry, so it needs a match that leaves room for them.
 */
#ifndef TERN_SERVER_SUBLIST_IMPL_H
#define TERN_SERVER_SUBLIST_IMPL_H

#include "server/sublist.h"

/*
 * sublist_match, with `extra` spare bytes for the caller at
 * (char *)(*out + 1), 8-byte aligned, before the result's own arrays. The
 * result is one allocation, spare bytes included, freed with
 * sublist_result_free. Nothing in it points into the trie, so it stays valid
 * after later removals for as long as the subscriptions themselves live.
 */
int sublist__match_extra(struct sublist *sl, const char *subject, size_t len, size_t extra,
                         struct sublist_result **out);

#endif
