/*
 * server/jetstream/js_subtree.h — a tree of subject patterns, each with an
 * owner, that answers "which stored patterns might overlap this one?"
 * without looking at the others.
 *
 * The engine keeps one for every stream's subjects (the stream that
 * captures a subject, the overlap check of a new stream) and the config
 * check builds one for a stream's own subjects; both used to compare every
 * pair, which made a stream of 20,000 subjects take seconds while every
 * publish waited.
 *
 * The answer is a superset: the caller confirms each candidate with its
 * own predicate (proto/subject.h's match, or Go's SubjectsCollide as
 * js_config copies it), so the tree need not reproduce their edge cases.
 * Not thread-safe: one owner calls everything.
 */
#ifndef TERN_SERVER_JS_SUBTREE_H
#define TERN_SERVER_JS_SUBTREE_H

#include <stddef.h>

struct js_subtree;
struct js_subent;  /* one stored pattern; owned by the tree */

/* NULL when out of memory. */
struct js_subtree *js_subtree_new(void);
/* Frees the tree and every entry still in it (not the owners). NULL is fine. */
void js_subtree_free(struct js_subtree *t);

/* Store subject (copied) for owner (borrowed, only handed back). The same
 * subject may be stored more than once. 0 or -ENOMEM (tree unchanged);
 * *out is the handle to remove it with. */
int js_subtree_add(struct js_subtree *t, const char *subject, size_t len, void *owner,
                   struct js_subent **out);
/* Remove one entry (NULL is fine); prunes the nodes it alone needed. */
void js_subtree_remove(struct js_subtree *t, struct js_subent *e);

/* Call fn for every stored pattern that may overlap pattern (literal or
 * with '*' / '>' tokens): each one that really does, and perhaps a few
 * more. Stops when fn returns non-zero and returns that; -ENOMEM.
 * Cost: the nodes on the paths pattern can match — one path for a literal
 * against literals; a '*' token visits every child of its level and a
 * final '>' every node below it. */
int js_subtree_each_overlap(const struct js_subtree *t, const char *pattern, size_t len,
                            int (*fn)(void *arg, const char *subject, void *owner), void *arg);

#endif
