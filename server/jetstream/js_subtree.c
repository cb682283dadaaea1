/*
 * server/jetstream/js_subtree.c — the subject-pattern tree (js_subtree.h).
 *
 * One node per token position, as the subject index has (server/sublist.c),
 * but without locks or subscriptions: literal children in a kmap, one
 * "wild" child for every token that begins with '*' or '>' (the exact
 * wildcards and the odd literals like "*x" that Go's SubjectsCollide also
 * skips over), and at each node the entries that end there ("here") and
 * those whose last token is a '>' after it ("fwc"). Lumping the wild
 * tokens together only ever adds candidates, which the caller weeds out.
 *
 * Walks use an explicit stack, not recursion: a subject may have hundreds
 * of thousands of tokens (the API takes a megabyte), too deep for a
 * thread's stack.
 */
#include "server/jetstream/js_subtree.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "server/kmap.h"

struct node {
    struct kmap_key key;        /* token in the parent's kids; bytes follow */
    struct node *parent;        /* NULL for the root */
    struct kmap kids;           /* literal children (owned) */
    struct node *wild;          /* owned, may be NULL */
    struct js_subent *here;     /* owned list: subjects ending here */
    struct js_subent *fwc;      /* owned list: subjects ending in '>' here */
};

struct js_subent {
    struct node *node;          /* borrowed: where it hangs */
    bool fwc;                   /* in node->fwc, not node->here */
    void *owner;                /* borrowed */
    struct js_subent *prev, *next;
    char subject[];             /* owned copy, NUL-terminated */
};

struct js_subtree {
    struct node root;
    uint64_t seed;
};

static struct node *node_of(const struct kmap_key *k)
{
    return (struct node *)((char *)k - offsetof(struct node, key));
}

static bool is_wild(const char *tok, size_t n)
{
    return n > 0 && (tok[0] == '*' || tok[0] == '>');
}

/* The token at p (up to end) and where the next one starts (NULL: last). */
static size_t token(const char *p, const char *end, const char **next)
{
    const char *dot = memchr(p, '.', (size_t)(end - p));
    *next = dot ? dot + 1 : NULL;
    return dot ? (size_t)(dot - p) : (size_t)(end - p);
}

struct js_subtree *js_subtree_new(void)
{
    struct js_subtree *t = calloc(1, sizeof *t);
    if (t)
        t->seed = kmap_seed(t);
    return t;
}

static void free_list(struct js_subent *e)
{
    while (e) {
        struct js_subent *next = e->next;
        free(e);
        e = next;
    }
}

/* Frees n's lists and everything below n (not n itself), without recursion:
 * children are detached one at a time and freed once childless. */
static void free_below(struct node *top)
{
    struct node *n = top;
    while (n) {
        struct node *child = n->wild;
        if (child) {
            n->wild = NULL;
        } else {
            for (uint32_t i = 0; !child && i < kmap_capacity(&n->kids); i++)
                if (kmap_slot(&n->kids, i))
                    child = node_of(kmap_slot(&n->kids, i));
            if (child)
                kmap_del(&n->kids, &child->key);
        }
        if (child) {
            n = child;
            continue;
        }
        free_list(n->here);
        free_list(n->fwc);
        n->here = n->fwc = NULL;
        kmap_clear(&n->kids);
        struct node *up = n->parent;
        bool done = n == top;
        if (!done)
            free(n);
        n = done ? NULL : up;
    }
}

void js_subtree_free(struct js_subtree *t)
{
    if (!t)
        return;
    free_below(&t->root);
    free(t);
}

static bool node_empty(const struct node *n)
{
    return !n->here && !n->fwc && !n->wild && n->kids.n == 0;
}

/* Drop n and its empty ancestors (never the root). */
static void prune(struct node *n)
{
    while (n->parent && node_empty(n)) {
        struct node *up = n->parent;
        if (up->wild == n)
            up->wild = NULL;
        else
            kmap_del(&up->kids, &n->key);
        kmap_clear(&n->kids);
        free(n);
        n = up;
    }
}

static const struct node *find_child(const struct js_subtree *t, const struct node *n,
                                     const char *tok, size_t len)
{
    if (is_wild(tok, len))
        return n->wild;
    struct kmap_key *k = kmap_find(&n->kids, kmap_hash(t->seed, tok, len), tok, len);
    return k ? node_of(k) : NULL;
}

/* The child of n for tok, made when absent; NULL when out of memory. */
static struct node *child(struct js_subtree *t, struct node *n, const char *tok, size_t len)
{
    if (is_wild(tok, len)) {
        if (!n->wild) {
            n->wild = calloc(1, sizeof *n->wild);
            if (n->wild)
                n->wild->parent = n;
        }
        return n->wild;
    }
    uint64_t h = kmap_hash(t->seed, tok, len);
    struct kmap_key *k = kmap_find(&n->kids, h, tok, len);
    if (k)
        return node_of(k);
    struct node *c = calloc(1, sizeof *c + len + 1);
    if (!c)
        return NULL;
    char *bytes = (char *)(c + 1);
    memcpy(bytes, tok, len);
    c->key = (struct kmap_key){ .hash = h, .bytes = bytes, .len = len };
    c->parent = n;
    if (kmap_add(&n->kids, &c->key) < 0) {
        free(c);
        return NULL;
    }
    return c;
}

static void list_push(struct js_subent **head, struct js_subent *e)
{
    e->prev = NULL;
    e->next = *head;
    if (*head)
        (*head)->prev = e;
    *head = e;
}

int js_subtree_add(struct js_subtree *t, const char *subject, size_t len, void *owner,
                   struct js_subent **out)
{
    struct js_subent *e = malloc(sizeof *e + len + 1);
    if (!e)
        return -ENOMEM;
    memcpy(e->subject, subject, len);
    e->subject[len] = '\0';
    e->owner = owner;
    struct node *n = &t->root;
    const char *p = subject, *end = subject + len;
    e->fwc = false;
    while (p) {
        const char *next;
        size_t tl = token(p, end, &next);
        if (!next && tl == 1 && p[0] == '>') {
            e->fwc = true;
            break;
        }
        struct node *c = child(t, n, p, tl);
        if (!c) {
            free(e);
            prune(n); /* the nodes made on the way */
            return -ENOMEM;
        }
        n = c;
        p = next;
    }
    e->node = n;
    list_push(e->fwc ? &n->fwc : &n->here, e);
    *out = e;
    return 0;
}

void js_subtree_remove(struct js_subtree *t, struct js_subent *e)
{
    (void)t;
    if (!e)
        return;
    struct node *n = e->node;
    if (e->prev)
        e->prev->next = e->next;
    else if (e->fwc)
        n->fwc = e->next;
    else
        n->here = e->next;
    if (e->next)
        e->next->prev = e->prev;
    free(e);
    prune(n);
}

/* ---- the overlap walk ---- */

/* A node still to visit: with the rest of the pattern from off, or (all)
 * every entry at and below it. */
struct visit {
    const struct node *n;
    const char *rest;   /* NULL with all, or at the pattern's end */
    bool all, at_end;
};

struct walk {
    struct visit *v;
    size_t n, cap;
};

static int push(struct walk *w, const struct node *n, const char *rest, bool all, bool at_end)
{
    if (!n)
        return 0;
    if (w->n == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 64;
        struct visit *v = realloc(w->v, cap * sizeof *v);
        if (!v)
            return -ENOMEM;
        w->v = v;
        w->cap = cap;
    }
    w->v[w->n++] = (struct visit){ n, rest, all, at_end };
    return 0;
}

static int report(const struct js_subent *e,
                  int (*fn)(void *arg, const char *subject, void *owner), void *arg)
{
    for (; e; e = e->next) {
        int rc = fn(arg, e->subject, e->owner);
        if (rc)
            return rc;
    }
    return 0;
}

/* Push every child of n, each with the same rest (or all). */
static int push_children(struct walk *w, const struct node *n, const char *rest, bool all,
                         bool at_end)
{
    int rc = push(w, n->wild, rest, all, at_end);
    for (uint32_t i = 0; rc == 0 && i < kmap_capacity(&n->kids); i++)
        if (kmap_slot(&n->kids, i))
            rc = push(w, node_of(kmap_slot(&n->kids, i)), rest, all, at_end);
    return rc;
}

int js_subtree_each_overlap(const struct js_subtree *t, const char *pattern, size_t len,
                            int (*fn)(void *arg, const char *subject, void *owner), void *arg)
{
    struct walk w = { 0 };
    const char *end = pattern + len;
    int rc = push(&w, &t->root, pattern, false, len == 0);
    while (rc == 0 && w.n) {
        struct visit v = w.v[--w.n];
        const struct node *n = v.n;
        if (v.all) { /* everything here and below */
            rc = report(n->here, fn, arg);
            if (rc == 0)
                rc = report(n->fwc, fn, arg);
            if (rc == 0)
                rc = push_children(&w, n, NULL, true, false);
            continue;
        }
        if (v.at_end) { /* the pattern ends at n: what ends here too */
            rc = report(n->here, fn, arg);
            continue;
        }
        const char *next;
        size_t tl = token(v.rest, end, &next);
        /* A stored '>' here takes this token and whatever follows. */
        rc = report(n->fwc, fn, arg);
        if (rc)
            break;
        if (!next && tl == 1 && v.rest[0] == '>') { /* every longer subject */
            rc = push_children(&w, n, NULL, true, false);
            continue;
        }
        if (is_wild(v.rest, tl)) {
            rc = push_children(&w, n, next, false, !next);
            continue;
        }
        rc = push(&w, find_child(t, n, v.rest, tl), next, false, !next);
        if (rc == 0)
            rc = push(&w, n->wild, next, false, !next);
    }
    free(w.v);
    return rc;
}
