/*
 * server/sublist.c — the subject index: the trie, its updates and match.
 *
 * A trie of subject tokens: each node is one pattern prefix, with literal
 * children in a kmap (server/kmap.c), '*' and '>' children in pointers,
 * and the subscriptions ending there in a pointer set (plain) and a kmap of
 * queue groups. Insert/remove cost O(tokens) and prune empty nodes; match
 * walks every branch a published subject can take into one allocation.
 * One rwlock guards the trie. Never touches a subscription beyond its subject
 * and queue, never frees one, never calls out while holding the lock.
 * The per-loop match cache is server/sublist_cache.c.
 */
#include "server/sublist.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "server/kmap.h"
#include "server/sublist_impl.h"

/* ---- pset: a set of subscription pointers ----------------------------- */

static uint32_t hash_ptr(const void *p)
{
    uint64_t x = (uintptr_t)p;
    x = (x ^ (x >> 29)) * 0xbf58476d1ce4e5b9ull;
    return (uint32_t)(x ^ (x >> 32));
}

/* Below this size removal scans the array; above it a position index makes
 * removal O(1), so thousands of clients on one subject leave cheaply. */
#define PSET_INDEX_MIN 16

/* Dense array (what match copies) plus, once large, an open-addressing
 * index from pointer to position + 1. Both arrays owned; pointers borrowed. */
struct pset {
    struct sublist_sub **v;
    uint32_t n, cap;
    uint32_t *idx;
    uint32_t idx_mask;
};

/* Index slot holding sub's position, or UINT32_MAX when absent. */
static uint32_t pset_slot_of(const struct pset *s, const struct sublist_sub *sub)
{
    for (uint32_t i = hash_ptr(sub) & s->idx_mask; s->idx[i]; i = (i + 1) & s->idx_mask)
        if (s->v[s->idx[i] - 1] == sub)
            return i;
    return UINT32_MAX;
}

static void pset_index_put(struct pset *s, uint32_t pos)
{
    uint32_t i = hash_ptr(s->v[pos]) & s->idx_mask;
    while (s->idx[i])
        i = (i + 1) & s->idx_mask;
    s->idx[i] = pos + 1;
}

static void pset_index_clear_slot(struct pset *s, uint32_t hole)
{
    uint32_t mask = s->idx_mask;
    for (uint32_t j = (hole + 1) & mask; s->idx[j]; j = (j + 1) & mask) {
        uint32_t home = hash_ptr(s->v[s->idx[j] - 1]) & mask;
        if (((j - home) & mask) >= ((j - hole) & mask)) {
            s->idx[hole] = s->idx[j];
            hole = j;
        }
    }
    s->idx[hole] = 0;
}

static int pset_reindex(struct pset *s, uint32_t cap)
{
    uint32_t *idx = calloc(cap, sizeof *idx);
    if (!idx)
        return -ENOMEM;
    free(s->idx);
    s->idx = idx;
    s->idx_mask = cap - 1;
    for (uint32_t pos = 0; pos < s->n; pos++)
        pset_index_put(s, pos);
    return 0;
}

static int pset_add(struct pset *s, struct sublist_sub *sub)
{
    if (s->n == s->cap) {
        uint32_t cap = s->cap ? s->cap * 2 : 2;
        struct sublist_sub **v = realloc(s->v, cap * sizeof *v);
        if (!v)
            return -ENOMEM;
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n++] = sub;
    if (s->n <= PSET_INDEX_MIN && !s->idx)
        return 0;
    if (s->idx && s->n * 2 <= s->idx_mask + 1) {
        pset_index_put(s, s->n - 1);
        return 0;
    }
    /* Build or double the index, keeping it at most half full. */
    int rc = pset_reindex(s, s->idx ? (s->idx_mask + 1) * 2 : PSET_INDEX_MIN * 4);
    if (rc < 0)
        s->n--;
    return rc;
}

/* Gives memory back after a crowd has left; failures leave it as it was. */
static void pset_shrink(struct pset *s)
{
    if (!s->n) {
        free(s->v);
        free(s->idx);
        *s = (struct pset){ 0 };
        return;
    }
    if (s->idx && s->n < PSET_INDEX_MIN / 2) {
        free(s->idx);
        s->idx = NULL;
    } else if (s->idx && s->idx_mask + 1 > PSET_INDEX_MIN * 4 && s->n * 8 < s->idx_mask + 1) {
        pset_reindex(s, (s->idx_mask + 1) / 2);
    }
    if (s->cap > 8 && s->n * 4 < s->cap) {
        struct sublist_sub **v = realloc(s->v, (s->cap / 2) * sizeof *v);
        if (v) {
            s->v = v;
            s->cap /= 2;
        }
    }
}

/* Swap-remove: the last member takes the leaver's place. */
static int pset_del(struct pset *s, const struct sublist_sub *sub)
{
    uint32_t pos;
    if (s->idx) {
        uint32_t slot = pset_slot_of(s, sub);
        if (slot == UINT32_MAX)
            return -ENOENT;
        pos = s->idx[slot] - 1;
        pset_index_clear_slot(s, slot);
    } else {
        for (pos = 0; pos < s->n && s->v[pos] != sub; pos++)
            ;
        if (pos == s->n)
            return -ENOENT;
    }
    uint32_t last = --s->n;
    if (pos != last) {
        s->v[pos] = s->v[last];
        if (s->idx)
            s->idx[pset_slot_of(s, s->v[pos])] = pos + 1;
    }
    pset_shrink(s);
    return 0;
}

/* ---- the trie --------------------------------------------------------- */

/* Members of one queue group ending at one node. Allocated by insert, freed
 * by remove when its last member leaves (or by sublist_free). */
struct qgroup {
    struct kmap_key key;    /* the queue name, in name[]; must stay first */
    struct pset members;
    char name[];
};

/* One pattern prefix. Allocated by insert, freed by pruning or sublist_free;
 * the root lives as long as the sublist. */
struct node {
    struct kmap_key key;    /* token in parent->children; must stay first */
    struct node *parent;    /* borrowed; NULL at the root */
    struct node *pwc;       /* owned: the '*' child */
    struct node *fwc;       /* owned: the '>' child */
    struct kmap children;   /* owned literal children */
    struct pset psubs;      /* plain subscriptions ending here */
    struct kmap groups;     /* owned struct qgroup, by queue name */
    char tok[];
};

/* Allocated by sublist_new, freed by sublist_free; shared by every loop. */
struct sublist {
    pthread_rwlock_t lock;
    struct node *root;          /* guarded by lock */
    uint64_t seed;              /* immutable after sublist_new */
    uint64_t count;             /* guarded by lock */
    uint64_t inserts;           /* guarded by lock */
    uint64_t removes;           /* guarded by lock */
    atomic_uint_fast64_t matches; /* relaxed: bumped by concurrent readers */
    _Atomic uint64_t gen;       /* bumped under the write lock, release */
};

enum tok_kind { TOK_LITERAL, TOK_PWC, TOK_FWC };

static enum tok_kind tok_kind(const char *p, size_t len)
{
    if (len == 1 && p[0] == '*')
        return TOK_PWC;
    if (len == 1 && p[0] == '>')
        return TOK_FWC;
    return TOK_LITERAL;
}

static struct node *node_new(struct node *parent, uint64_t hash, const char *tok, size_t len)
{
    struct node *n = calloc(1, sizeof *n + len);
    if (!n)
        return NULL;
    memcpy(n->tok, tok, len);
    n->key = (struct kmap_key){ .hash = hash, .bytes = n->tok, .len = len };
    n->parent = parent;
    return n;
}

static bool node_empty(const struct node *n)
{
    return !n->pwc && !n->fwc && !n->children.n && !n->psubs.n && !n->groups.n;
}

static void qgroup_free(struct qgroup *g)
{
    free(g->members.v);
    free(g->members.idx);
    free(g);
}

/* Frees a whole subtree without recursion or allocation: the parent field,
 * no longer needed once a node is doomed, threads a stack of nodes to free. */
static void node_free_tree(struct node *root)
{
    root->parent = NULL;
    struct node *todo = root;
    while (todo) {
        struct node *n = todo;
        todo = n->parent;
        struct node *kids[2] = { n->pwc, n->fwc };
        for (int k = 0; k < 2; k++) {
            if (kids[k]) {
                kids[k]->parent = todo;
                todo = kids[k];
            }
        }
        for (uint32_t i = 0; n->children.slots && i <= n->children.mask; i++) {
            struct node *c = (struct node *)n->children.slots[i];
            if (c) {
                c->parent = todo;
                todo = c;
            }
        }
        for (uint32_t i = 0; n->groups.slots && i <= n->groups.mask; i++)
            if (n->groups.slots[i])
                qgroup_free((struct qgroup *)n->groups.slots[i]);
        free(n->groups.slots);
        free(n->children.slots);
        free(n->psubs.v);
        free(n->psubs.idx);
        free(n);
    }
}

/* Frees n and its empty ancestors, stopping at the root. */
static void prune(struct node *n)
{
    while (n->parent && node_empty(n)) {
        struct node *up = n->parent;
        if (up->pwc == n)
            up->pwc = NULL;
        else if (up->fwc == n)
            up->fwc = NULL;
        else
            kmap_del(&up->children, &n->key);
        free(n);
        n = up;
    }
}

/* Walks the path of a subscription subject, validating it token by token
 * and, with create, building missing nodes. Returns the end node, or NULL
 * with *err = -EINVAL (bad subject), -ENOENT (no such path) or -ENOMEM.
 * *last is the deepest node reached, for the caller to prune on failure. */
static struct node *descend(struct sublist *sl, const char *s, size_t len, bool create,
                            struct node **last, int *err)
{
    struct node *n = sl->root;
    size_t start = 0;
    *last = n;
    if (!len)
        goto invalid;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && s[i] != '.')
            continue;
        const char *tok = s + start;
        size_t tlen = i - start;
        start = i + 1;
        if (!tlen)
            goto invalid;
        enum tok_kind kind = tok_kind(tok, tlen);
        if (kind == TOK_FWC && i != len)
            goto invalid;
        struct node **slot = kind == TOK_PWC ? &n->pwc : kind == TOK_FWC ? &n->fwc : NULL;
        uint64_t h = slot ? 0 : kmap_hash(sl->seed, tok, tlen);
        struct node *next = slot ? *slot : (struct node *)kmap_find(&n->children, h, tok, tlen);
        if (!next && create) {
            next = node_new(n, h, tok, tlen);
            if (!next)
                goto nomem;
            if (slot) {
                *slot = next;
            } else if (kmap_add(&n->children, &next->key) < 0) {
                free(next);
                goto nomem;
            }
        }
        if (!next) {
            *err = -ENOENT;
            return NULL;
        }
        n = *last = next;
    }
    return n;
invalid:
    *err = -EINVAL;
    return NULL;
nomem:
    *err = -ENOMEM;
    return NULL;
}

static int add_queue_member(struct sublist *sl, struct node *n, struct sublist_sub *sub)
{
    uint64_t h = kmap_hash(sl->seed, sub->queue, sub->queue_len);
    struct qgroup *g = (struct qgroup *)kmap_find(&n->groups, h, sub->queue, sub->queue_len);
    bool fresh = !g;
    if (fresh) {
        g = calloc(1, sizeof *g + sub->queue_len);
        if (!g)
            return -ENOMEM;
        memcpy(g->name, sub->queue, sub->queue_len);
        g->key = (struct kmap_key){ .hash = h, .bytes = g->name, .len = sub->queue_len };
    }
    int rc = pset_add(&g->members, sub);
    if (rc < 0)
        goto err_free_group;
    if (fresh && (rc = kmap_add(&n->groups, &g->key)) < 0)
        goto err_free_group;
    return 0;
err_free_group:
    if (fresh)
        qgroup_free(g);
    return rc;
}

static int del_queue_member(struct sublist *sl, struct node *n, const struct sublist_sub *sub)
{
    uint64_t h = kmap_hash(sl->seed, sub->queue, sub->queue_len);
    struct qgroup *g = (struct qgroup *)kmap_find(&n->groups, h, sub->queue, sub->queue_len);
    if (!g || pset_del(&g->members, sub) < 0)
        return -ENOENT;
    if (!g->members.n) {
        kmap_del(&n->groups, &g->key);
        qgroup_free(g);
    }
    return 0;
}

struct sublist *sublist_new(void)
{
    struct sublist *sl = calloc(1, sizeof *sl);
    if (!sl)
        return NULL;
    pthread_rwlockattr_t attr;
    if (pthread_rwlockattr_init(&attr) != 0)
        goto err_free_sl;
    /* glibc prefers readers by default; under a steady publish load that
     * would starve SUB/UNSUB forever. */
    pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    int rc = pthread_rwlock_init(&sl->lock, &attr);
    pthread_rwlockattr_destroy(&attr);
    if (rc != 0)
        goto err_free_sl;
    sl->seed = kmap_seed(sl);
    sl->root = node_new(NULL, 0, "", 0);
    if (!sl->root)
        goto err_destroy_lock;
    atomic_init(&sl->matches, 0);
    atomic_init(&sl->gen, 0);
    return sl;
err_destroy_lock:
    pthread_rwlock_destroy(&sl->lock);
err_free_sl:
    free(sl);
    return NULL;
}

void sublist_free(struct sublist *sl)
{
    if (!sl)
        return;
    node_free_tree(sl->root);
    pthread_rwlock_destroy(&sl->lock);
    free(sl);
}

static void bump_generation(struct sublist *sl)
{
    atomic_fetch_add_explicit(&sl->gen, 1, memory_order_release);
}

int sublist_insert(struct sublist *sl, struct sublist_sub *sub)
{
    int rc = 0;
    struct node *last;
    pthread_rwlock_wrlock(&sl->lock);
    struct node *n = descend(sl, sub->subject, sub->subject_len, true, &last, &rc);
    if (!n)
        goto err_prune;
    rc = sub->queue ? add_queue_member(sl, n, sub) : pset_add(&n->psubs, sub);
    if (rc < 0)
        goto err_prune;
    sl->count++;
    sl->inserts++;
    bump_generation(sl);
    pthread_rwlock_unlock(&sl->lock);
    return 0;
err_prune:
    prune(last); /* drop nodes built for a subject that turned out bad */
    pthread_rwlock_unlock(&sl->lock);
    return rc;
}

int sublist_remove(struct sublist *sl, struct sublist_sub *sub)
{
    int rc = 0;
    struct node *last;
    pthread_rwlock_wrlock(&sl->lock);
    struct node *n = descend(sl, sub->subject, sub->subject_len, false, &last, &rc);
    if (!n) {
        rc = -ENOENT; /* an invalid subject can never have been inserted */
        goto out_unlock;
    }
    rc = sub->queue ? del_queue_member(sl, n, sub) : pset_del(&n->psubs, sub);
    if (rc < 0)
        goto out_unlock;
    prune(n);
    sl->count--;
    sl->removes++;
    bump_generation(sl);
out_unlock:
    pthread_rwlock_unlock(&sl->lock);
    return rc;
}

uint64_t sublist_generation(const struct sublist *sl)
{
    /* C11 atomic_load takes a non-const pointer; the object itself is not const. */
    return atomic_load_explicit((_Atomic uint64_t *)&sl->gen, memory_order_acquire);
}

void sublist_get_stats(struct sublist *sl, struct sublist_stats *st)
{
    pthread_rwlock_rdlock(&sl->lock);
    st->count = sl->count;
    st->inserts = sl->inserts;
    st->removes = sl->removes;
    pthread_rwlock_unlock(&sl->lock);
    st->matches = atomic_load_explicit(&sl->matches, memory_order_relaxed);
}

size_t sublist_node_count(struct sublist *sl)
{
    size_t count = 0, depth = 0, cap = 64;
    struct node **stack = malloc(cap * sizeof *stack);
    if (!stack)
        return 0;
    pthread_rwlock_rdlock(&sl->lock);
    stack[depth++] = sl->root;
    while (depth) {
        struct node *n = stack[--depth];
        count++;
        size_t need = depth + 2 + n->children.n;
        if (need > cap) {
            while (need > cap)
                cap *= 2;
            struct node **grown = realloc(stack, cap * sizeof *stack);
            if (!grown) {
                count = 1;
                break;
            }
            stack = grown;
        }
        if (n->pwc)
            stack[depth++] = n->pwc;
        if (n->fwc)
            stack[depth++] = n->fwc;
        for (uint32_t i = 0; n->children.n && i <= n->children.mask; i++)
            if (n->children.slots[i])
                stack[depth++] = (struct node *)n->children.slots[i];
    }
    pthread_rwlock_unlock(&sl->lock);
    free(stack);
    return count - 1; /* the root stands for no subject */
}

/* ---- match ------------------------------------------------------------ */

/* Room on the stack for typical subjects; longer ones spill to the heap. */
#define MATCH_STACK_TOKENS 32
#define MATCH_STACK_ITEMS 32

struct token {
    const char *p;
    size_t len;
    uint64_t hash;
};

/* A growable array of fixed-size items that starts in stack storage owned
 * by the caller and moves to the heap (owned) once it outgrows it. */
struct vec {
    void *v;
    size_t n, cap, size;
    bool heap;
};

static void *vec_push(struct vec *a)
{
    if (a->n == a->cap) {
        size_t cap = a->cap * 2;
        void *v = a->heap ? realloc(a->v, cap * a->size) : malloc(cap * a->size);
        if (!v)
            return NULL;
        if (!a->heap)
            memcpy(v, a->v, a->n * a->size);
        a->v = v;
        a->cap = cap;
        a->heap = true;
    }
    return (char *)a->v + a->n++ * a->size;
}

static void vec_release(struct vec *a)
{
    if (a->heap)
        free(a->v);
}

/* A node still to visit and the index of the token it must consume. */
struct frame {
    struct node *n;
    size_t i;
};

/* One walk of the trie: the published subject's tokens, and the nodes whose
 * subscriptions match. Lives on the matching thread's stack. */
struct walk {
    const struct token *toks;  /* borrowed */
    size_t ntoks;
    struct vec todo;           /* struct frame */
    struct vec hits;           /* struct node *, each at most once */
    size_t npsubs, ngroups;
};

static int collect(struct walk *w, struct node *n)
{
    if (!n->psubs.n && !n->groups.n)
        return 0;
    struct node **slot = vec_push(&w->hits);
    if (!slot)
        return -ENOMEM;
    *slot = n;
    w->npsubs += n->psubs.n;
    w->ngroups += n->groups.n;
    return 0;
}

static int visit_later(struct walk *w, struct node *n, size_t i)
{
    struct frame *f = vec_push(&w->todo);
    if (!f)
        return -ENOMEM;
    *f = (struct frame){ n, i };
    return 0;
}

/* Each node is reached by one path only (its own pattern), so none is
 * collected twice. Iterative: subscribers choose the trie's depth, and a
 * deep one must not be able to exhaust an I/O thread's stack. */
static int walk_trie(struct walk *w, struct node *root)
{
    int rc = visit_later(w, root, 0);
    while (rc == 0 && w->todo.n) {
        struct frame f = ((struct frame *)w->todo.v)[--w->todo.n];
        if (f.i == w->ntoks) {
            rc = collect(w, f.n);
            continue;
        }
        const struct token *t = &w->toks[f.i];
        struct node *lit = (struct node *)kmap_find(&f.n->children, t->hash, t->p, t->len);
        if (f.n->fwc)
            rc = collect(w, f.n->fwc);
        if (rc == 0 && f.n->pwc)
            rc = visit_later(w, f.n->pwc, f.i + 1);
        if (rc == 0 && lit)
            rc = visit_later(w, lit, f.i + 1);
    }
    return rc;
}

/* Splits a published subject. A subject with an empty token matches
 * nothing (spec/client-protocol.md §10.1), reported as 0 tokens. */
static int split_subject(struct sublist *sl, const char *s, size_t len, struct token *stack_toks,
                         struct token **toks, size_t *ntoks)
{
    size_t n = 1;
    *toks = stack_toks;
    *ntoks = 0;
    if (!len)
        return 0;
    for (const char *p = s, *end = s + len; (p = memchr(p, '.', (size_t)(end - p))); p++)
        n++;
    if (n > MATCH_STACK_TOKENS && !(*toks = malloc(n * sizeof **toks)))
        return -ENOMEM;
    size_t start = 0, k = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && s[i] != '.')
            continue;
        if (i == start)
            return 0;
        (*toks)[k++] = (struct token){ s + start, i - start,
                                       kmap_hash(sl->seed, s + start, i - start) };
        start = i + 1;
    }
    *ntoks = k;
    return 0;
}

static int cmp_group(const void *a, const void *b)
{
    const struct qgroup *x = *(struct qgroup *const *)a, *y = *(struct qgroup *const *)b;
    if (x->key.hash != y->key.hash)
        return x->key.hash < y->key.hash ? -1 : 1;
    if (x->key.len != y->key.len)
        return x->key.len < y->key.len ? -1 : 1;
    return memcmp(x->name, y->name, x->key.len);
}

static bool same_name(const struct qgroup *x, const struct qgroup *y)
{
    return kmap_key_eq(&x->key, y->key.hash, y->name, y->key.len);
}

/* Lists the queue groups of every hit node, sorted so that groups of the
 * same name found under different patterns sit side by side. */
static int gather_groups(struct walk *w, struct qgroup **stack_gs, struct qgroup ***out,
                         size_t *ndistinct, size_t *nmembers)
{
    *out = stack_gs;
    *ndistinct = *nmembers = 0;
    if (!w->ngroups)
        return 0;
    struct qgroup **gs = stack_gs;
    if (w->ngroups > MATCH_STACK_ITEMS && !(gs = malloc(w->ngroups * sizeof *gs)))
        return -ENOMEM;
    size_t k = 0;
    for (size_t h = 0; h < w->hits.n; h++) {
        struct node *n = ((struct node **)w->hits.v)[h];
        for (uint32_t i = 0; n->groups.n && i <= n->groups.mask; i++)
            if (n->groups.slots[i])
                gs[k++] = (struct qgroup *)n->groups.slots[i];
    }
    if (k > 1)
        qsort(gs, k, sizeof *gs, cmp_group);
    for (size_t i = 0; i < k; i++) {
        *nmembers += gs[i]->members.n;
        if (i == 0 || !same_name(gs[i - 1], gs[i]))
            (*ndistinct)++;
    }
    *out = gs;
    return 0;
}

static size_t round8(size_t n)
{
    return (n + 7) & ~(size_t)7;
}

/* Lays the result out in one block: header, `extra` bytes for the caller
 * (padded), plain subscriptions, queue groups, then all group members.
 * Nothing in it points into the trie (group names come from a member), so
 * a cached result outlives later removals as long as the subscriptions do. */
static struct sublist_result *build_result(struct walk *w, struct qgroup **gs, size_t ndistinct,
                                           size_t nmembers, size_t extra)
{
    size_t size = sizeof(struct sublist_result) + round8(extra) +
                  w->npsubs * sizeof(struct sublist_sub *) +
                  ndistinct * sizeof(struct sublist_qgroup) + nmembers * sizeof(struct sublist_sub *);
    struct sublist_result *r = malloc(size);
    if (!r)
        return NULL;
    char *p = (char *)(r + 1) + round8(extra);
    r->psubs = (struct sublist_sub **)p;
    r->npsubs = 0;
    for (size_t h = 0; h < w->hits.n; h++) {
        const struct pset *ps = &((struct node **)w->hits.v)[h]->psubs;
        if (!ps->n)
            continue; /* ps->v is NULL then, which memcpy may not be given */
        memcpy(r->psubs + r->npsubs, ps->v, ps->n * sizeof *ps->v);
        r->npsubs += ps->n;
    }
    r->qgroups = (struct sublist_qgroup *)(r->psubs + r->npsubs);
    r->nqgroups = 0;
    struct sublist_sub **m = (struct sublist_sub **)(r->qgroups + ndistinct);
    for (size_t i = 0; i < w->ngroups; i++) {
        if (i == 0 || !same_name(gs[i - 1], gs[i])) {
            r->qgroups[r->nqgroups++] = (struct sublist_qgroup){
                .name = gs[i]->members.v[0]->queue,
                .name_len = gs[i]->key.len,
                .subs = m,
                .nsubs = 0,
            };
        }
        struct sublist_qgroup *g = &r->qgroups[r->nqgroups - 1];
        memcpy(m, gs[i]->members.v, gs[i]->members.n * sizeof *m);
        m += gs[i]->members.n;
        g->nsubs += gs[i]->members.n;
    }
    return r;
}

/* For the cache: see server/sublist_impl.h. */
int sublist__match_extra(struct sublist *sl, const char *subject, size_t len, size_t extra,
                         struct sublist_result **out)
{
    struct token stack_toks[MATCH_STACK_TOKENS];
    struct node *stack_hits[MATCH_STACK_ITEMS];
    struct frame stack_todo[MATCH_STACK_ITEMS];
    struct token *toks;
    struct qgroup *stack_gs[MATCH_STACK_ITEMS];
    struct qgroup **gs = stack_gs;
    size_t ndistinct, nmembers;
    struct walk w = {
        .hits = { .v = stack_hits, .cap = MATCH_STACK_ITEMS, .size = sizeof stack_hits[0] },
        .todo = { .v = stack_todo, .cap = MATCH_STACK_ITEMS, .size = sizeof stack_todo[0] },
    };
    *out = NULL;
    atomic_fetch_add_explicit(&sl->matches, 1, memory_order_relaxed);
    int rc = split_subject(sl, subject, len, stack_toks, &toks, &w.ntoks);
    if (rc < 0)
        return rc;
    w.toks = toks;
    pthread_rwlock_rdlock(&sl->lock);
    rc = w.ntoks ? walk_trie(&w, sl->root) : 0;
    if (rc < 0)
        goto out_unlock;
    rc = gather_groups(&w, stack_gs, &gs, &ndistinct, &nmembers);
    if (rc < 0)
        goto out_unlock;
    *out = build_result(&w, gs, ndistinct, nmembers, extra);
    if (!*out)
        rc = -ENOMEM;
out_unlock:
    pthread_rwlock_unlock(&sl->lock);
    if (gs != stack_gs)
        free(gs);
    vec_release(&w.hits);
    vec_release(&w.todo);
    if (toks != stack_toks)
        free(toks);
    return rc;
}

int sublist_match(struct sublist *sl, const char *subject, size_t len, struct sublist_result **out)
{
    return sublist__match_extra(sl, subject, len, 0, out);
}

void sublist_result_free(struct sublist_result *r)
{
    free(r);
}
