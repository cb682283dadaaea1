/*
 * server/store/store.c — the public face of a stream's store (server/store/store.h):
 * argument checks, the order of every change (write first, then index),
 * purge, filtered reads and the counters JetStream reports.
 *
 * Every change is a write through the backend (store_file.c or
 * store_mem.c) followed by an index update that cannot fail, so an I/O
 * error leaves the store exactly as it was. Filters are handled three
 * ways: none (or ">") uses the index alone; a literal subject uses that
 * subject's own sequence list (store_index.c) and never scans; a wildcard
 * scans the stream from the start position, and when that does not find a
 * match soon, asks every matching subject instead, so a consumer whose
 * filter matches rarely does not walk the whole stream per message.
 * Not thread-safe: the store's owner calls everything.
 */
#include "server/store/store_impl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "proto/subject.h"

/* ---- helpers -------------------------------------------------------------- */

int store__msg_grow(struct store_msg *m, size_t need)
{
    if (m->buf_cap >= need && m->buf)
        return 0;
    size_t cap = m->buf_cap > 512 ? m->buf_cap : 512;
    while (cap < need)
        cap *= 2;
    char *b = realloc(m->buf, cap);
    if (!b)
        return -ENOMEM;
    m->buf = b;
    m->buf_cap = cap;
    return 0;
}

void store_msg_free(struct store_msg *m)
{
    if (!m)
        return;
    free(m->buf);
    memset(m, 0, sizeof *m);
}

/* NULL, "" and ">" all mean every message. */
static bool match_all(const char *filter, size_t len)
{
    return !filter || len == 0 || (len == 1 && filter[0] == '>');
}

static bool subj_matches(const struct store_subj *sj, const char *filter, size_t len)
{
    return subject_match(filter, len, sj->name, sj->key.len);
}

static struct store_subj *subj_at(const struct kmap *m, uint32_t i)
{
    struct kmap_key *k = kmap_slot(m, i);
    return k ? (struct store_subj *)((char *)k - offsetof(struct store_subj, key)) : NULL;
}

uint64_t store_msg_size(const struct store *st, size_t subject_len, size_t hdr_len,
                        size_t data_len)
{
    /* nats-server's file store also counts the 4-byte header length of a
     * record that has headers; its memory store does not. */
    if (st && st->kind == STORE_MEMORY)
        return subject_len + hdr_len + data_len + 16;
    return subject_len + hdr_len + data_len + 30 + (hdr_len ? 4 : 0);
}

uint64_t store__slot_size(const struct store *st, const struct store_slot *s)
{
    if (st->kind == STORE_FILE)
        return s->len - STORE_REC_HDR + 30 + (s->hdr_len ? 4 : 0);
    return s->subj->key.len + s->len + 16;
}

/* Drop a stored seq whose removal is already logged. */
static void forget(struct store *st, uint64_t seq)
{
    struct store_slot old;
    store__ix_remove(&st->ix, seq, store__slot_size(st, store__ix_get(&st->ix, seq)), &old);
    st->be->release(st, &old);
}

/* ---- open and close -------------------------------------------------------- */

static void release_mem(void *arg, struct store_slot *s)
{
    store__mem_backend.release(arg, s);
}

static void free_store(struct store *st)
{
    if (st->ix.total) /* the messages leave the owner's running total */
        *st->ix.total -= st->ix.bytes;
    store__ix_free(&st->ix, st->kind == STORE_MEMORY ? release_mem : NULL, st);
    if (st->kind == STORE_FILE)
        store__file_close(st);
    store__blob_close(st);
    free(st);
}

int store_open(const struct store_options *opt, struct store **out, struct store_report *report)
{
    struct store_report scratch;
    if (!report)
        report = &scratch;
    memset(report, 0, sizeof *report);
    if (!opt || !out || (opt->kind != STORE_FILE && opt->kind != STORE_MEMORY))
        return -EINVAL;
    struct store *st = calloc(1, sizeof *st);
    if (!st)
        return -ENOMEM;
    st->kind = opt->kind;
    st->be = opt->kind == STORE_FILE ? &store__file_backend : &store__mem_backend;
    size_t seg = opt->segment_bytes ? opt->segment_bytes : STORE_SEG_DEFAULT;
    st->segment_bytes = seg < STORE_SEG_MIN ? STORE_SEG_MIN : seg > STORE_SEG_MAX ? STORE_SEG_MAX : seg;
    store__ix_init(&st->ix);
    st->ix.total = opt->usage;
    st->b.seed = kmap_seed(&st->b);
    st->f.dirfd = -1;
    if (st->kind == STORE_FILE) {
        int rc = store__file_open(st, opt->dir, report);
        if (rc < 0) {
            free_store(st);
            return rc;
        }
    }
    *out = st;
    return 0;
}

void store_close(struct store *st)
{
    if (st)
        free_store(st);
}

int store_destroy(struct store *st)
{
    if (!st)
        return 0;
    int rc = st->kind == STORE_FILE ? store__file_destroy(st) : 0;
    free_store(st);
    return rc;
}

/* ---- append and sync ------------------------------------------------------- */

/* Append with sequence seq (> last_seq, checked by the callers). */
static int append_seq(struct store *st, uint64_t seq, const char *subject, size_t subject_len,
                      const char *hdr, size_t hdr_len, const char *data, size_t data_len,
                      int64_t ts)
{
    if (!subject || !subject_len || subject_len > UINT16_MAX || (hdr_len && !hdr) ||
        (data_len && !data))
        return -EINVAL;
    if (hdr_len > STORE_REC_MAX || data_len > STORE_REC_MAX ||
        STORE_REC_HDR + subject_len + hdr_len + data_len > STORE_REC_MAX)
        return -EMSGSIZE;
    struct store_ix_prep prep;
    int rc = store__ix_prepare(&st->ix, subject, subject_len, &prep);
    if (rc < 0)
        return rc;
    struct store_slot at = { 0 };
    rc = st->be->append(st, &at, seq, ts, subject, subject_len, hdr, hdr_len, data, data_len);
    if (rc < 0) {
        store__ix_abort(&st->ix, &prep);
        return rc;
    }
    uint64_t size = store_msg_size(st, subject_len, hdr_len, data_len);
    struct store_slot *slot = store__ix_commit(&st->ix, &prep, seq, ts, size);
    slot->at = at.at;
    slot->len = at.len;
    slot->hdr_len = at.hdr_len;
    return 0;
}

int store_append(struct store *st, const char *subject, size_t subject_len, const char *hdr,
                 size_t hdr_len, const char *data, size_t data_len, int64_t ts, uint64_t *seq)
{
    if (!st)
        return -EINVAL;
    uint64_t next = st->ix.last_seq + 1;
    int rc = append_seq(st, next, subject, subject_len, hdr, hdr_len, data, data_len, ts);
    if (rc == 0 && seq)
        *seq = next;
    return rc;
}

/* The index takes any ascending sequences (it bisects where there are
 * holes), and replay only asks a MSG record to be above the ones before
 * it, so a skip needs nothing new on disk. */
int store_append_at(struct store *st, uint64_t seq, const char *subject, size_t subject_len,
                    const char *hdr, size_t hdr_len, const char *data, size_t data_len,
                    int64_t ts)
{
    if (!st || seq <= st->ix.last_seq)
        return -EINVAL;
    return append_seq(st, seq, subject, subject_len, hdr, hdr_len, data, data_len, ts);
}

int store_set_last(struct store *st, uint64_t last_seq, int64_t last_ts)
{
    if (!st || last_seq < st->ix.last_seq)
        return -EINVAL;
    if (last_seq == st->ix.last_seq)
        return st->ix.last_ts == last_ts ? 0 : -EINVAL;
    return st->be->set_last(st, last_seq, last_ts);
}

int store_sync(struct store *st)
{
    return st ? st->be->sync(st) : -EINVAL;
}

/* ---- reads ----------------------------------------------------------------- */

int store_load(struct store *st, uint64_t seq, struct store_msg *m)
{
    if (!st || !m)
        return -EINVAL;
    struct store_slot *slot = store__ix_get(&st->ix, seq);
    if (!slot)
        return -ENOENT;
    return st->be->read(st, slot, seq, m);
}

/* First stored seq >= start on a subject matching a wildcard filter. */
static uint64_t next_match(const struct store *st, uint64_t start, const char *filter,
                           size_t len)
{
    const struct store_index *ix = &st->ix;
    size_t budget = ix->subjects.n + 64;
    uint64_t seq = store__ix_next(ix, start);
    for (; seq && budget; budget--, seq = store__ix_next(ix, seq + 1))
        if (subj_matches(store__ix_get(ix, seq)->subj, filter, len))
            return seq;
    if (!seq)
        return 0;
    uint64_t best = 0;
    for (uint32_t i = 0; i < kmap_capacity(&ix->subjects); i++) {
        struct store_subj *sj = subj_at(&ix->subjects, i);
        if (!sj || !subj_matches(sj, filter, len))
            continue;
        uint64_t s = store__subj_next(sj, seq);
        if (s && (!best || s < best))
            best = s;
    }
    return best;
}

uint64_t store_next_seq(const struct store *st, uint64_t start, const char *filter,
                        size_t filter_len)
{
    if (match_all(filter, filter_len))
        return store__ix_next(&st->ix, start);
    if (!subject_has_wildcard(filter, filter_len)) {
        struct store_subj *sj = store__ix_subject(&st->ix, filter, filter_len);
        return sj ? store__subj_next(sj, start) : 0;
    }
    return next_match(st, start, filter, filter_len);
}

int store_load_next(struct store *st, uint64_t start, const char *filter, size_t filter_len,
                    struct store_msg *m)
{
    if (!st || !m)
        return -EINVAL;
    uint64_t seq = store_next_seq(st, start, filter, filter_len);
    return seq ? store_load(st, seq, m) : -ENOENT;
}

int store_load_last(struct store *st, const char *subject, size_t subject_len,
                    struct store_msg *m)
{
    if (!st || !m || !subject)
        return -EINVAL;
    if (!subject_has_wildcard(subject, subject_len)) {
        struct store_subj *sj = store__ix_subject(&st->ix, subject, subject_len);
        if (!sj)
            return -ENOENT;
        return store_load(st, sj->seqs[sj->head + sj->n - 1], m);
    }
    /* A pattern: the newest of every matching subject's newest. One pass
     * over the stored subjects per call, which only API gets make (never
     * per message); a per-pattern index is not worth it for them. */
    uint64_t best = 0;
    for (uint32_t i = 0; i < kmap_capacity(&st->ix.subjects); i++) {
        struct store_subj *sj = subj_at(&st->ix.subjects, i);
        if (sj && sj->n && sj->seqs[sj->head + sj->n - 1] > best &&
            subj_matches(sj, subject, subject_len))
            best = sj->seqs[sj->head + sj->n - 1];
    }
    return best ? store_load(st, best, m) : -ENOENT;
}

/* ---- removal --------------------------------------------------------------- */

int store_remove(struct store *st, uint64_t seq)
{
    if (!st)
        return -EINVAL;
    if (!store__ix_get(&st->ix, seq))
        return -ENOENT;
    int rc = st->be->log_del(st, &seq, 1);
    if (rc < 0)
        return rc;
    forget(st, seq);
    return 0;
}

/* Everything below floor: one FLOOR record, however many messages. */
static int purge_below(struct store *st, uint64_t floor, uint64_t *purged)
{
    uint64_t n = st->ix.msgs - store__ix_count_from(&st->ix, floor);
    if (!n)
        return 0;
    int rc = st->be->log_floor(st, floor);
    if (rc < 0)
        return rc;
    while (st->ix.msgs && store__ix_first(&st->ix) < floor)
        forget(st, store__ix_first(&st->ix));
    *purged = n;
    return 0;
}

/* Log and drop a batch of stored sequences. */
static int purge_batch(struct store *st, const uint64_t *seqs, size_t n, uint64_t *purged)
{
    int rc = st->be->log_del(st, seqs, n);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < n; i++)
        forget(st, seqs[i]);
    *purged += n;
    return 0;
}

/* A literal subject: its oldest sequences below bound, a batch at a time
 * (the subject is freed when its last message goes, so look it up again). */
static int purge_subject(struct store *st, const char *subj, size_t len, uint64_t bound,
                         uint64_t keep, uint64_t *chunk, uint64_t *purged)
{
    struct store_subj *sj = store__ix_subject(&st->ix, subj, len);
    if (!sj)
        return 0;
    if (keep) {
        if (sj->n <= keep)
            return 0;
        uint64_t cut = sj->seqs[sj->head + sj->n - keep];
        bound = cut < bound ? cut : bound;
    }
    while ((sj = store__ix_subject(&st->ix, subj, len))) {
        size_t k = 0;
        while (k < STORE_DEL_CHUNK && k < sj->n && sj->seqs[sj->head + k] < bound) {
            chunk[k] = sj->seqs[sj->head + k];
            k++;
        }
        if (!k)
            break;
        int rc = purge_batch(st, chunk, k, purged);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* A wildcard: mark the matching subjects, find where keep cuts, then
 * sweep the stream. */
static int purge_matching(struct store *st, const char *filter, size_t len, uint64_t bound,
                          uint64_t keep, uint64_t *chunk, uint64_t *purged)
{
    struct store_index *ix = &st->ix;
    uint64_t total = 0;
    for (uint32_t i = 0; i < kmap_capacity(&ix->subjects); i++) {
        struct store_subj *sj = subj_at(&ix->subjects, i);
        if (sj && (sj->mark = subj_matches(sj, filter, len)))
            total += sj->n;
    }
    if (keep) {
        if (total <= keep)
            return 0;
        uint64_t seq = ix->last_seq + 1, seen = 0;
        while ((seq = store__ix_prev(ix, seq)))
            if (store__ix_get(ix, seq)->subj->mark && ++seen == keep)
                break;
        bound = seq < bound ? seq : bound;
    }
    uint64_t seq = store__ix_next(ix, 0);
    while (seq && seq < bound) {
        size_t k = 0;
        for (; seq && seq < bound && k < STORE_DEL_CHUNK; seq = store__ix_next(ix, seq + 1))
            if (store__ix_get(ix, seq)->subj->mark)
                chunk[k++] = seq;
        if (!k)
            break;
        int rc = purge_batch(st, chunk, k, purged);
        if (rc < 0)
            return rc;
        seq = seq ? store__ix_next(ix, seq) : 0; /* the batch may have moved slots */
    }
    return 0;
}

int store_purge(struct store *st, const char *filter, size_t filter_len, uint64_t upto_seq,
                uint64_t keep, uint64_t *purged)
{
    uint64_t scratch;
    if (!purged)
        purged = &scratch;
    *purged = 0;
    if (!st)
        return -EINVAL;
    uint64_t bound = upto_seq ? upto_seq : UINT64_MAX;
    if (match_all(filter, filter_len)) {
        uint64_t floor = st->ix.last_seq + 1;
        if (bound < floor)
            floor = bound;
        if (keep) {
            if (st->ix.msgs <= keep)
                return 0;
            uint64_t cut = store__ix_nth_newest(&st->ix, keep - 1);
            floor = cut < floor ? cut : floor;
        }
        return purge_below(st, floor, purged);
    }
    uint64_t *chunk = malloc(STORE_DEL_CHUNK * sizeof *chunk);
    if (!chunk)
        return -ENOMEM;
    int rc = subject_has_wildcard(filter, filter_len)
                 ? purge_matching(st, filter, filter_len, bound, keep, chunk, purged)
                 : purge_subject(st, filter, filter_len, bound, keep, chunk, purged);
    free(chunk);
    return rc;
}

/* ---- counters -------------------------------------------------------------- */

void store_get_state(const struct store *st, struct store_state *out)
{
    const struct store_index *ix = &st->ix;
    memset(out, 0, sizeof *out);
    out->msgs = ix->msgs;
    out->bytes = ix->bytes;
    out->first_seq = store__ix_first(ix);
    out->last_seq = ix->last_seq;
    out->last_ts = ix->last_seq ? ix->last_ts : 0;
    out->num_subjects = ix->subjects.n;
    if (ix->msgs) {
        out->first_ts = store__ix_get(ix, out->first_seq)->ts;
        out->num_deleted = ix->last_seq - out->first_seq + 1 - ix->msgs;
    }
}

void store_subject_state(const struct store *st, const char *subject, size_t subject_len,
                         struct store_subject_state *out)
{
    memset(out, 0, sizeof *out);
    struct store_subj *sj = subject ? store__ix_subject(&st->ix, subject, subject_len) : NULL;
    if (!sj)
        return;
    out->msgs = sj->n;
    out->first_seq = sj->seqs[sj->head];
    out->last_seq = sj->seqs[sj->head + sj->n - 1];
}

/* The matching names are copied out first (length-prefixed, one buffer),
 * so fn may remove messages, and with them subjects, as it goes: the
 * JetStream layer trims each subject to max_msgs_per_subject from here. */
int store_each_subject(const struct store *st, const char *filter, size_t filter_len,
                       int (*fn)(void *arg, const char *subject, size_t len,
                                 const struct store_subject_state *ss),
                       void *arg)
{
    bool all = match_all(filter, filter_len);
    char *names = NULL;
    size_t used = 0, cap = 0;
    for (uint32_t i = 0; i < kmap_capacity(&st->ix.subjects); i++) {
        struct store_subj *sj = subj_at(&st->ix.subjects, i);
        if (!sj || (!all && !subj_matches(sj, filter, filter_len)))
            continue;
        size_t need = sizeof(size_t) + sj->key.len;
        if (used + need > cap) {
            size_t ncap = cap ? cap * 2 : 4096;
            while (ncap < used + need)
                ncap *= 2;
            char *n = realloc(names, ncap);
            if (!n) {
                free(names);
                return -ENOMEM;
            }
            names = n;
            cap = ncap;
        }
        memcpy(names + used, &sj->key.len, sizeof(size_t));
        memcpy(names + used + sizeof(size_t), sj->name, sj->key.len);
        used += need;
    }
    int rc = 0;
    for (size_t off = 0; off < used && !rc;) {
        size_t len;
        memcpy(&len, names + off, sizeof len);
        const char *name = names + off + sizeof len;
        off += sizeof len + len;
        struct store_subj *sj = store__ix_subject(&st->ix, name, len);
        if (!sj)
            continue; /* removed by an earlier call of fn */
        struct store_subject_state ss = { sj->n, sj->seqs[sj->head],
                                          sj->seqs[sj->head + sj->n - 1] };
        rc = fn(arg, name, len, &ss);
    }
    free(names);
    return rc;
}

uint64_t store_count_from(const struct store *st, uint64_t start, const char *filter,
                          size_t filter_len)
{
    const struct store_index *ix = &st->ix;
    if (match_all(filter, filter_len))
        return store__ix_count_from(ix, start);
    if (!subject_has_wildcard(filter, filter_len)) {
        struct store_subj *sj = store__ix_subject(ix, filter, filter_len);
        return sj ? store__subj_count_from(sj, start) : 0;
    }
    uint64_t n = 0;
    if (start > ix->last_seq)
        return 0;
    if (store__ix_count_from(ix, start) < ix->subjects.n) {
        /* Fewer messages left than subjects: look at each message. */
        for (uint64_t seq = store__ix_next(ix, start); seq; seq = store__ix_next(ix, seq + 1))
            n += subj_matches(store__ix_get(ix, seq)->subj, filter, filter_len);
        return n;
    }
    for (uint32_t i = 0; i < kmap_capacity(&ix->subjects); i++) {
        struct store_subj *sj = subj_at(&ix->subjects, i);
        if (sj && subj_matches(sj, filter, filter_len))
            n += store__subj_count_from(sj, start);
    }
    return n;
}

uint64_t store_deleted(const struct store *st, uint64_t *out, uint64_t max)
{
    return store__ix_deleted(&st->ix, out, max);
}

uint64_t store_seq_at_time(const struct store *st, int64_t ts)
{
    return store__ix_seq_at_time(&st->ix, ts);
}
