/*
 * server/store/store_index.c — which sequence lives where, and each subject's
 * sequences: the in-memory half of a store, the same for files and memory.
 *
 * The index is an array of 40-byte slots sorted by sequence, used as a
 * queue: appends go at the end, removals of the oldest advance head, and a
 * removal anywhere else leaves a tombstone that the next compaction drops
 * (compaction runs once tombstones are half the array, so it is amortised
 * O(1) per removal). A Fenwick tree over slot positions counts stored
 * messages from any point in O(log n); each subject keeps its own
 * ascending sequence array, so a literal filter is a binary search, never
 * a scan of the stream. Lookup by sequence guesses the position (exact
 * while there are no holes before it) and bisects otherwise.
 *
 * Pure bookkeeping: no I/O. Only prepare allocates (commit and remove
 * cannot fail), so a caller does its I/O in between and is never left with
 * a record it cannot index. Slot pointers handed out are valid until the
 * next change.
 */
#include "server/store/store_impl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void store__ix_init(struct store_index *ix)
{
    memset(ix, 0, sizeof *ix);
    ix->seed = kmap_seed(ix);
}

static struct store_subj *subj_of(const struct kmap_key *k)
{
    return (struct store_subj *)((char *)k - offsetof(struct store_subj, key));
}

static void subj_free(struct store_subj *sj)
{
    if (sj->seqs != sj->inl)
        free(sj->seqs);
    free(sj);
}

void store__ix_free(struct store_index *ix, void (*release)(void *arg, struct store_slot *s),
                    void *arg)
{
    for (size_t i = ix->head; release && i < ix->head + ix->n; i++)
        if (ix->slots[i].subj)
            release(arg, &ix->slots[i]);
    for (uint32_t i = 0; i < kmap_capacity(&ix->subjects); i++)
        if (kmap_slot(&ix->subjects, i))
            subj_free(subj_of(kmap_slot(&ix->subjects, i)));
    kmap_clear(&ix->subjects);
    free(ix->slots);
    free(ix->live);
    memset(ix, 0, sizeof *ix);
}

/* ---- the Fenwick tree of stored slots ------------------------------------ */

/* Stored messages in positions [0, pos). */
static uint64_t live_before(const struct store_index *ix, size_t pos)
{
    uint64_t sum = 0;
    for (size_t i = pos; i > 0; i -= i & -i)
        sum += ix->live[i];
    return sum;
}

/* Entries past head + n are stale; append recomputes each as it is reached. */
static void live_drop(struct store_index *ix, size_t pos)
{
    for (size_t i = pos + 1; i <= ix->head + ix->n; i += i & -i)
        ix->live[i]--;
}

static void live_append(struct store_index *ix, size_t pos)
{
    size_t i = pos + 1;
    ix->live[i] = (uint32_t)(1 + live_before(ix, pos) - live_before(ix, i - (i & -i)));
}

/* Drop tombstones and the removed prefix: every slot left is stored, so
 * each tree node counts exactly the positions it covers. */
static void compact(struct store_index *ix)
{
    size_t w = 0;
    for (size_t r = ix->head; r < ix->head + ix->n; r++)
        if (ix->slots[r].subj)
            ix->slots[w++] = ix->slots[r];
    ix->head = 0;
    ix->n = w;
    ix->ntomb = 0;
    for (size_t i = 1; i <= w; i++)
        ix->live[i] = (uint32_t)(i & -i);
}

/* Room for one more slot at the end. */
static int slots_room(struct store_index *ix)
{
    if (ix->head + ix->n < ix->cap)
        return 0;
    if (ix->head + ix->ntomb >= ix->cap / 2 && ix->cap) {
        compact(ix);
        return 0;
    }
    size_t cap = ix->cap ? ix->cap * 2 : 1024;
    struct store_slot *s = realloc(ix->slots, cap * sizeof *s);
    if (!s)
        return -ENOMEM;
    ix->slots = s;
    uint32_t *l = realloc(ix->live, (cap + 1) * sizeof *l);
    if (!l)
        return -ENOMEM; /* the bigger slot array is kept; harmless */
    ix->live = l;
    ix->cap = cap;
    return 0;
}

/* ---- positions -------------------------------------------------------- */

/* Position of the first slot with seq >= key, in [head, head + n]. */
static size_t pos_of(const struct store_index *ix, uint64_t key)
{
    size_t lo = ix->head, hi = ix->head + ix->n;
    if (lo == hi || key <= ix->slots[lo].seq)
        return lo;
    uint64_t guess = key - ix->slots[lo].seq;
    if (guess < ix->n && ix->slots[lo + guess].seq == key)
        return lo + guess; /* no holes before it: the common case */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ix->slots[mid].seq < key)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* First stored position >= pos (head + n = none). */
static size_t stored_from(const struct store_index *ix, size_t pos)
{
    while (pos < ix->head + ix->n && !ix->slots[pos].subj)
        pos++;
    return pos;
}

struct store_slot *store__ix_get(const struct store_index *ix, uint64_t seq)
{
    size_t p = pos_of(ix, seq);
    if (p == ix->head + ix->n || ix->slots[p].seq != seq || !ix->slots[p].subj)
        return NULL;
    return &ix->slots[p];
}

uint64_t store__ix_first(const struct store_index *ix)
{
    return ix->msgs ? ix->slots[ix->head].seq : ix->last_seq + 1;
}

uint64_t store__ix_next(const struct store_index *ix, uint64_t start)
{
    size_t p = stored_from(ix, pos_of(ix, start));
    return p < ix->head + ix->n ? ix->slots[p].seq : 0;
}

uint64_t store__ix_prev(const struct store_index *ix, uint64_t before)
{
    for (size_t p = pos_of(ix, before); p-- > ix->head;)
        if (ix->slots[p].subj)
            return ix->slots[p].seq;
    return 0;
}

uint64_t store__ix_nth_newest(const struct store_index *ix, uint64_t k)
{
    for (size_t p = ix->head + ix->n; p-- > ix->head;)
        if (ix->slots[p].subj && k-- == 0)
            return ix->slots[p].seq;
    return 0;
}

uint64_t store__ix_count_from(const struct store_index *ix, uint64_t start)
{
    if (!ix->msgs)
        return 0;
    return ix->msgs - live_before(ix, pos_of(ix, start));
}

/* Timestamps are the JetStream layer's clock at append and so ascending;
 * after a clock step back this finds a sequence near the step. */
uint64_t store__ix_seq_at_time(const struct store_index *ix, int64_t ts)
{
    size_t lo = ix->head, hi = ix->head + ix->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ix->slots[mid].ts < ts)
            lo = mid + 1;
        else
            hi = mid;
    }
    lo = stored_from(ix, lo);
    return lo < ix->head + ix->n ? ix->slots[lo].seq : 0;
}

/* The total is arithmetic; only the first max are walked, so a huge gap
 * (one old message kept, millions removed after it) costs only max. */
uint64_t store__ix_deleted(const struct store_index *ix, uint64_t *out, uint64_t max)
{
    if (!ix->msgs)
        return 0;
    uint64_t first = ix->slots[ix->head].seq, got = 0, prev = first;
    uint64_t total = ix->last_seq - first + 1 - ix->msgs;
    for (size_t p = ix->head + 1; got < max && got < total && p <= ix->head + ix->n; p++) {
        uint64_t next;
        if (p < ix->head + ix->n) {
            if (!ix->slots[p].subj)
                continue;
            next = ix->slots[p].seq;
        } else {
            next = ix->last_seq + 1; /* removed ones after the newest stored */
        }
        for (uint64_t s = prev + 1; s < next && got < max; s++)
            out[got++] = s;
        prev = next;
    }
    return total;
}

/* ---- subjects ------------------------------------------------------------ */

struct store_subj *store__ix_subject(const struct store_index *ix, const char *s, size_t len)
{
    struct kmap_key *k = kmap_find(&ix->subjects, kmap_hash(ix->seed, s, len), s, len);
    return k ? subj_of(k) : NULL;
}

/* Index of the first element >= key in v[0..n). */
static size_t lower_bound(const uint64_t *v, size_t n, uint64_t key)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v[mid] < key)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

uint64_t store__subj_next(const struct store_subj *sj, uint64_t start)
{
    const uint64_t *v = sj->seqs + sj->head;
    size_t i = lower_bound(v, sj->n, start);
    return i < sj->n ? v[i] : 0;
}

uint64_t store__subj_count_from(const struct store_subj *sj, uint64_t start)
{
    return sj->n - lower_bound(sj->seqs + sj->head, sj->n, start);
}

/* Room for one more sequence on a subject: slide or grow. */
static int subj_room(struct store_subj *sj)
{
    if (sj->head + sj->n < sj->cap)
        return 0;
    if (sj->head >= sj->cap / 2) {
        memmove(sj->seqs, sj->seqs + sj->head, sj->n * sizeof *sj->seqs);
        sj->head = 0;
        return 0;
    }
    uint64_t *v = malloc(sj->cap * 2 * sizeof *v);
    if (!v)
        return -ENOMEM;
    memcpy(v, sj->seqs + sj->head, sj->n * sizeof *v);
    if (sj->seqs != sj->inl)
        free(sj->seqs);
    sj->seqs = v;
    sj->cap *= 2;
    sj->head = 0;
    return 0;
}

/* Drop seq from its subject; oldest-first is the common case and O(1). */
static void subj_drop(struct store_subj *sj, uint64_t seq)
{
    uint64_t *v = sj->seqs + sj->head;
    if (v[0] == seq) {
        sj->head++;
    } else if (v[sj->n - 1] != seq) {
        size_t i = lower_bound(v, sj->n, seq);
        memmove(v + i, v + i + 1, (sj->n - i - 1) * sizeof *v);
    }
    if (--sj->n == 0)
        sj->head = 0;
}

/* ---- append and remove ---------------------------------------------------- */

int store__ix_prepare(struct store_index *ix, const char *subj, size_t len,
                      struct store_ix_prep *p)
{
    int rc = slots_room(ix);
    if (rc < 0)
        return rc;
    p->created = false;
    p->subj = store__ix_subject(ix, subj, len);
    if (!p->subj) {
        struct store_subj *sj = calloc(1, sizeof *sj + len + 1);
        if (!sj)
            return -ENOMEM;
        memcpy(sj->name, subj, len);
        sj->key = (struct kmap_key){ kmap_hash(ix->seed, subj, len), sj->name, len };
        sj->seqs = sj->inl;
        sj->cap = sizeof sj->inl / sizeof sj->inl[0];
        if ((rc = kmap_add(&ix->subjects, &sj->key)) < 0) {
            free(sj);
            return rc;
        }
        p->subj = sj;
        p->created = true;
    }
    if ((rc = subj_room(p->subj)) < 0) {
        store__ix_abort(ix, p);
        return rc;
    }
    return 0;
}

void store__ix_abort(struct store_index *ix, struct store_ix_prep *p)
{
    if (p->subj && p->created && p->subj->n == 0) {
        kmap_del(&ix->subjects, &p->subj->key);
        subj_free(p->subj);
    }
    p->subj = NULL;
    p->created = false;
}

struct store_slot *store__ix_commit(struct store_index *ix, struct store_ix_prep *p,
                                    uint64_t seq, int64_t ts, uint64_t size)
{
    size_t pos = ix->head + ix->n;
    struct store_slot *slot = &ix->slots[pos];
    *slot = (struct store_slot){ .seq = seq, .ts = ts, .subj = p->subj };
    ix->n++;
    live_append(ix, pos);
    struct store_subj *sj = p->subj;
    sj->seqs[sj->head + sj->n++] = seq;
    ix->msgs++;
    ix->bytes += size;
    if (ix->total)
        *ix->total += size;
    ix->last_seq = seq;
    ix->last_ts = ts;
    p->subj = NULL;
    return slot;
}

void store__ix_remove(struct store_index *ix, uint64_t seq, uint64_t size, struct store_slot *out)
{
    size_t pos = pos_of(ix, seq);
    struct store_slot *s = &ix->slots[pos];
    *out = *s;
    struct store_subj *sj = s->subj;
    subj_drop(sj, seq);
    if (!sj->n) {
        kmap_del(&ix->subjects, &sj->key);
        subj_free(sj);
    }
    s->subj = NULL;
    live_drop(ix, pos);
    ix->bytes -= size;
    if (ix->total)
        *ix->total -= size;
    if (--ix->msgs == 0) {
        ix->head = ix->n = ix->ntomb = 0;
        if (ix->total) /* what removals did not account for (none, normally) */
            *ix->total -= ix->bytes;
        ix->bytes = 0;
        return;
    }
    if (pos == ix->head) {
        /* The oldest: advance past it and any tombstones behind it. */
        do {
            ix->head++;
            ix->n--;
            if (!ix->slots[ix->head].subj)
                ix->ntomb--;
        } while (!ix->slots[ix->head].subj);
    } else if (pos == ix->head + ix->n - 1) {
        do {
            ix->n--;
            if (!ix->slots[ix->head + ix->n - 1].subj)
                ix->ntomb--;
        } while (!ix->slots[ix->head + ix->n - 1].subj);
    } else {
        ix->ntomb++;
        if (ix->ntomb > 32 && ix->ntomb * 2 > ix->n)
            compact(ix);
    }
}
