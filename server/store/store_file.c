/*
 * server/store/store_file.c — the file store: segment files under the store's
 * directory, appended with one pwritev(2) per record and read with pread.
 *
 * Records (format in store_impl.h) go at the end of the newest segment;
 * past segment_bytes a new segment starts. Nothing is ever rewritten in
 * place: a removal is a DEL or FLOOR record appended like a message, and a
 * segment file is unlinked once none of its messages is stored and no
 * older segment could hold a sequence one of its removal records names.
 * Appends do not sync; store_sync fdatasyncs the segments written since the
 * last sync (only the newest ones can be) and the directory when files came
 * or went, so an idle store_sync costs a few compares.
 *
 * A failed write is cut back with ftruncate, so the file and the index are
 * exactly as before. A failed fdatasync poisons the store (every later
 * write and sync fails with -EIO): after one, Linux may have dropped the
 * dirty pages, and a second fsync would report success for data that is
 * gone. Reopening replays what really is on disk.
 *
 * Segment fds are opened on demand and at most STORE_FDS stay open per
 * store, least recently used closed first, so a long stream does not eat
 * the process's fd limit. Runs on the store's owner thread only.
 */
#include "server/store/store_impl.h"

#include <dirent.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "server/log.h"

#define STORE_FDS 16

/* ---- records ------------------------------------------------------------ */

static void put32(uint8_t *p, uint32_t v)
{
    v = htole32(v);
    memcpy(p, &v, 4);
}

static void put64(uint8_t *p, uint64_t v)
{
    v = htole64(v);
    memcpy(p, &v, 8);
}

static uint32_t get32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return le32toh(v);
}

static uint64_t get64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return le64toh(v);
}

void store__rec_encode(uint8_t out[STORE_REC_HDR], const struct store_rec *r)
{
    put32(out, 0);
    put32(out + 4, r->len);
    out[8] = r->type;
    out[9] = STORE_FORMAT_VERSION;
    out[10] = (uint8_t)r->subj_len;
    out[11] = (uint8_t)(r->subj_len >> 8);
    put32(out + 12, r->hdr_len);
    put64(out + 16, r->seq);
    put64(out + 24, (uint64_t)r->ts);
}

uint32_t store__rec_crc(uint32_t nonce, const uint8_t *hdr, const struct iovec *body, int n)
{
    uint32_t crc = store__crc32c(nonce, hdr + 4, STORE_REC_HDR - 4);
    for (int i = 0; i < n; i++)
        crc = store__crc32c(crc, body[i].iov_base, body[i].iov_len);
    return crc;
}

int store__rec_parse(const uint8_t *p, size_t avail, struct store_rec *r)
{
    if (avail < STORE_REC_HDR)
        return -EBADMSG;
    r->len = get32(p + 4);
    r->type = p[8];
    r->subj_len = (uint16_t)(p[10] | p[11] << 8);
    r->hdr_len = get32(p + 12);
    r->seq = get64(p + 16);
    r->ts = (int64_t)get64(p + 24);
    if (r->len < STORE_REC_HDR || r->len > avail || r->len > STORE_REC_MAX ||
        p[9] != STORE_FORMAT_VERSION || r->type < STORE_REC_SEG || r->type > STORE_REC_FLOOR)
        return -EBADMSG;
    uint32_t body = r->len - STORE_REC_HDR;
    switch (r->type) {
    case STORE_REC_MSG:
        if (r->subj_len == 0 || (uint64_t)r->subj_len + r->hdr_len > body || r->seq == 0)
            return -EBADMSG;
        break;
    case STORE_REC_DEL:
        if (r->subj_len || r->hdr_len || body % 8 || body == 0 || r->seq || r->ts)
            return -EBADMSG;
        break;
    default:
        if (r->subj_len || r->hdr_len || body || r->seq == 0 ||
            (r->type == STORE_REC_FLOOR && r->ts))
            return -EBADMSG;
        break;
    }
    return 0;
}

bool store__rec_verify(const uint8_t *p, const struct store_rec *r, uint32_t nonce)
{
    return store__crc32c(nonce, p + 4, r->len - 4) == get32(p);
}

int store__rec_decode(const uint8_t *p, size_t avail, uint32_t nonce, struct store_rec *r)
{
    int rc = store__rec_parse(p, avail, r);
    if (rc < 0)
        return rc;
    return store__rec_verify(p, r, nonce) ? 0 : -EBADMSG;
}

/* ---- segments ------------------------------------------------------------- */

void store__seg_name(char *buf, size_t cap, uint32_t id, uint32_t nonce)
{
    snprintf(buf, cap, "%08" PRIu32 "-%08" PRIx32 ".seg", id, nonce);
}

void store__iov_skip(struct iovec **iov, int *n, size_t w)
{
    while (*n && w >= (*iov)->iov_len) {
        w -= (*iov)->iov_len;
        (*iov)++;
        (*n)--;
    }
    if (*n) {
        (*iov)->iov_base = (char *)(*iov)->iov_base + w;
        (*iov)->iov_len -= w;
    }
}

struct store_seg *store__seg_get(const struct store *st, uint32_t id)
{
    const struct store_files *f = &st->f;
    if (id < f->first_id || id - f->first_id >= f->nsegs)
        return NULL;
    return f->segs[id - f->first_id];
}

/* Take ownership of fd (may be -1) as segment id, the newest so far. */
int store__seg_add(struct store *st, uint32_t id, uint32_t nonce, int fd, struct store_seg **out)
{
    struct store_files *f = &st->f;
    if (!f->nsegs)
        f->first_id = id;
    size_t i = id - f->first_id;
    if (i >= f->cap_segs) {
        size_t cap = f->cap_segs ? f->cap_segs * 2 : 16;
        while (cap <= i)
            cap *= 2;
        struct store_seg **v = realloc(f->segs, cap * sizeof *v);
        if (!v)
            return -ENOMEM;
        f->segs = v;
        f->cap_segs = cap;
    }
    struct store_seg *s = calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    *s = (struct store_seg){ .id = id, .nonce = nonce, .fd = fd, .last_use = ++f->clock };
    for (size_t k = f->nsegs; k < i; k++)
        f->segs[k] = NULL;
    f->segs[i] = s;
    f->nsegs = i + 1;
    if (fd >= 0)
        f->open_fds++;
    *out = s;
    return 0;
}

static void seg_close_fd(struct store *st, struct store_seg *s)
{
    if (s->fd >= 0) {
        close(s->fd);
        s->fd = -1;
        st->f.open_fds--;
    }
}

/* Unlink a segment and forget it; drop leading holes from the table. */
static void seg_unlink(struct store *st, struct store_seg *s)
{
    struct store_files *f = &st->f;
    char name[64];
    store__seg_name(name, sizeof name, s->id, s->nonce);
    seg_close_fd(st, s);
    if (unlinkat(f->dirfd, name, 0) < 0 && errno != ENOENT)
        LOG_WARN("store %s: unlink %s: %s", f->dir, name, strerror(errno));
    f->dir_dirty = true;
    f->segs[s->id - f->first_id] = NULL;
    free(s);
    size_t drop = 0;
    while (drop < f->nsegs && !f->segs[drop])
        drop++;
    if (drop) {
        memmove(f->segs, f->segs + drop, (f->nsegs - drop) * sizeof *f->segs);
        f->nsegs -= drop;
        f->first_id += (uint32_t)drop;
    }
}

/* Unlink every segment that holds nothing needed any more (see the file
 * comment). One pass, oldest first, by id (unlinking shifts the table): a
 * segment's removal records only name sequences in itself or older ones. */
void store__seg_reap(struct store *st)
{
    struct store_files *f = &st->f;
    uint64_t oldest_kept = UINT64_MAX; /* base of the oldest segment kept */
    for (uint32_t id = f->first_id; id < f->first_id + f->nsegs; id++) {
        struct store_seg *s = store__seg_get(st, id);
        if (!s)
            continue;
        bool needed = s == f->active || s->live || s->broken ||
                      (s->ext_del_max && oldest_kept <= s->ext_del_max);
        if (!needed)
            seg_unlink(st, s);
        else if (oldest_kept == UINT64_MAX)
            oldest_kept = s->base;
    }
}

/* An fd to read the segment with, opening it (and closing the least
 * recently used other one) when the cache had dropped it. */
static int seg_fd(struct store *st, struct store_seg *s)
{
    struct store_files *f = &st->f;
    s->last_use = ++f->clock;
    if (s->fd >= 0)
        return s->fd;
    if (f->open_fds >= STORE_FDS) {
        struct store_seg *lru = NULL;
        for (size_t i = 0; i < f->nsegs; i++) {
            struct store_seg *c = f->segs[i];
            if (c && c->fd >= 0 && c != f->active && c->id < f->dirty_from &&
                (!lru || c->last_use < lru->last_use))
                lru = c;
        }
        if (lru)
            seg_close_fd(st, lru);
    }
    char name[64];
    store__seg_name(name, sizeof name, s->id, s->nonce);
    s->fd = openat(f->dirfd, name, O_RDONLY | O_CLOEXEC);
    if (s->fd < 0) {
        int rc = -errno;
        LOG_ERROR("store %s: open %s: %s", f->dir, name, strerror(errno));
        return rc;
    }
    f->open_fds++;
    return s->fd;
}

/* Write a whole record at the end of the active segment, or leave it as
 * it was. pwritev at an explicit offset: a short write (the disk filling
 * up mid-record) is retried for the rest, and any error truncates back. */
static int seg_write(struct store *st, struct store_seg *s, struct iovec *iov, int n, size_t len)
{
    struct store_files *f = &st->f;
    uint64_t start = s->size;
    size_t done = 0;
    while (done < len) {
        ssize_t w = pwritev(s->fd, iov, n, (off_t)(start + done));
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            int rc = w < 0 ? -errno : -EIO;
            LOG_ERROR("store %s: write segment %" PRIu32 " at %" PRIu64 ": %s", f->dir, s->id,
                      start, strerror(-rc));
            if (done && ftruncate(s->fd, (off_t)start) < 0)
                LOG_ERROR("store %s: cutting back segment %" PRIu32 ": %s", f->dir, s->id,
                          strerror(errno));
            return rc;
        }
        done += (size_t)w;
        store__iov_skip(&iov, &n, (size_t)w);
    }
    s->size += len;
    if (s->id < f->dirty_from)
        f->dirty_from = s->id;
    return 0;
}

/* Header + body pieces -> one record at the end of segment s. */
static int write_rec(struct store *st, struct store_seg *s, struct store_rec *r,
                     struct iovec *body, int nbody)
{
    uint8_t hdr[STORE_REC_HDR];
    struct iovec iov[5];
    store__rec_encode(hdr, r);
    put32(hdr, store__rec_crc(s->nonce, hdr, body, nbody));
    iov[0] = (struct iovec){ hdr, sizeof hdr };
    if (nbody)
        memcpy(iov + 1, body, (size_t)nbody * sizeof *body);
    return seg_write(st, s, iov, nbody + 1, r->len);
}

/* Write the SEG record that opens an empty segment. */
int store__seg_start(struct store *st, struct store_seg *s, uint64_t base)
{
    s->base = base;
    struct store_rec r = { .len = STORE_REC_HDR, .type = STORE_REC_SEG, .seq = base,
                           .ts = st->ix.last_ts };
    return write_rec(st, s, &r, NULL, 0);
}

/* Start a new segment whose first sequence will be base and make it the
 * active one. Its name goes into the directory at the next store_sync. */
int store__seg_create(struct store *st, uint64_t base)
{
    struct store_files *f = &st->f;
    uint32_t id = f->nsegs ? f->first_id + (uint32_t)f->nsegs : 1;
    uint32_t nonce;
    if (getrandom(&nonce, sizeof nonce, GRND_NONBLOCK) != sizeof nonce)
        nonce = (uint32_t)time(NULL) ^ (uint32_t)getpid() * 2654435761u ^ id;
    char name[64];
    store__seg_name(name, sizeof name, id, nonce);
    int fd = openat(f->dirfd, name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        int rc = -errno;
        LOG_ERROR("store %s: create %s: %s", f->dir, name, strerror(errno));
        return rc;
    }
    struct store_seg *s;
    int rc = store__seg_add(st, id, nonce, fd, &s);
    if (rc < 0) {
        close(fd);
        unlinkat(f->dirfd, name, 0);
        return rc;
    }
    if ((rc = store__seg_start(st, s, base)) < 0) {
        seg_unlink(st, s);
        return rc;
    }
    struct store_seg *prev = f->active;
    f->active = s;
    f->dir_dirty = true;
    if (prev && !prev->live)
        store__seg_reap(st);
    return 0;
}

/* The segment the next record of len bytes goes to: the active one, or a
 * new one when it would pass segment_bytes (a record alone may exceed it). */
static int seg_for(struct store *st, size_t len, struct store_seg **out)
{
    struct store_seg *a = st->f.active;
    if (a->size > STORE_REC_HDR && a->size + len > st->segment_bytes) {
        int rc = store__seg_create(st, st->ix.last_seq + 1);
        if (rc < 0)
            return rc;
        a = st->f.active;
    }
    *out = a;
    return 0;
}

/* ---- the backend ---------------------------------------------------------- */

static int file_append(struct store *st, struct store_slot *slot, uint64_t seq, int64_t ts,
                       const char *subj, size_t subj_len, const char *hdr, size_t hdr_len,
                       const char *data, size_t data_len)
{
    if (st->f.failed)
        return st->f.failed;
    size_t len = STORE_REC_HDR + subj_len + hdr_len + data_len;
    struct store_seg *s;
    int rc = seg_for(st, len, &s);
    if (rc < 0)
        return rc;
    struct store_rec r = { .len = (uint32_t)len, .type = STORE_REC_MSG,
                           .subj_len = (uint16_t)subj_len, .hdr_len = (uint32_t)hdr_len,
                           .seq = seq, .ts = ts };
    struct iovec body[3] = { { (void *)subj, subj_len }, { (void *)hdr, hdr_len },
                             { (void *)data, data_len } };
    uint32_t off = (uint32_t)s->size;
    if ((rc = write_rec(st, s, &r, body, 3)) < 0)
        return rc;
    slot->at.file.seg = s->id;
    slot->at.file.off = off;
    slot->len = (uint32_t)len;
    slot->hdr_len = (uint32_t)hdr_len;
    s->live++;
    return 0;
}

/* Read the record back and verify it again: the disk may have rotted since
 * recovery checked it, and a bad record is never served. */
static int file_read(struct store *st, const struct store_slot *slot, uint64_t seq,
                     struct store_msg *m)
{
    struct store_seg *s = store__seg_get(st, slot->at.file.seg);
    if (!s)
        return -EIO;
    int rc = store__msg_grow(m, slot->len), fd;
    if (rc < 0)
        return rc;
    if ((fd = seg_fd(st, s)) < 0)
        return fd;
    size_t done = 0;
    while (done < slot->len) {
        ssize_t r = pread(fd, m->buf + done, slot->len - done, (off_t)slot->at.file.off + done);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            rc = r < 0 ? -errno : -EIO;
            LOG_ERROR("store %s: read seq %" PRIu64 ": %s", st->f.dir, seq,
                      r < 0 ? strerror(errno) : "short read");
            return rc;
        }
        done += (size_t)r;
    }
    struct store_rec rec;
    if (store__rec_decode((const uint8_t *)m->buf, slot->len, s->nonce, &rec) < 0 ||
        rec.type != STORE_REC_MSG || rec.seq != seq || rec.len != slot->len) {
        LOG_ERROR("store %s: seq %" PRIu64 " fails its checksum on read", st->f.dir, seq);
        return -EIO;
    }
    m->seq = seq;
    m->ts = rec.ts;
    m->subject = m->buf + STORE_REC_HDR;
    m->subject_len = rec.subj_len;
    m->hdr = m->subject + rec.subj_len;
    m->hdr_len = rec.hdr_len;
    m->data = m->hdr + rec.hdr_len;
    m->data_len = rec.len - STORE_REC_HDR - rec.subj_len - rec.hdr_len;
    return 0;
}

void store__seg_note_removal(struct store_seg *s, uint64_t target)
{
    if (target >= s->base) /* in s itself, or (for a floor) in every older one */
        target = s->base - 1;
    if (target > s->ext_del_max)
        s->ext_del_max = target;
}

static int file_log_del(struct store *st, const uint64_t *seqs, size_t n)
{
    if (st->f.failed)
        return st->f.failed;
    size_t len = STORE_REC_HDR + n * 8;
    struct store_seg *s;
    int rc = seg_for(st, len, &s);
    if (rc < 0)
        return rc;
    /* Little-endian host (see store_impl.h): the array is the body. */
    struct store_rec r = { .len = (uint32_t)len, .type = STORE_REC_DEL };
    struct iovec body = { (void *)seqs, n * 8 };
    if ((rc = write_rec(st, s, &r, &body, 1)) < 0)
        return rc;
    for (size_t i = 0; i < n; i++)
        if (seqs[i] < s->base)
            store__seg_note_removal(s, seqs[i]);
    return 0;
}

static int file_log_floor(struct store *st, uint64_t floor)
{
    if (st->f.failed)
        return st->f.failed;
    struct store_seg *s;
    int rc = seg_for(st, STORE_REC_HDR, &s);
    if (rc < 0)
        return rc;
    struct store_rec r = { .len = STORE_REC_HDR, .type = STORE_REC_FLOOR, .seq = floor };
    if ((rc = write_rec(st, s, &r, NULL, 0)) < 0)
        return rc;
    store__seg_note_removal(s, floor - 1);
    return 0;
}

void store__file_release(struct store *st, struct store_slot *slot)
{
    struct store_seg *s = store__seg_get(st, slot->at.file.seg);
    if (s && --s->live == 0 && s != st->f.active)
        store__seg_reap(st);
}

static int file_sync(struct store *st)
{
    struct store_files *f = &st->f;
    if (f->failed)
        return f->failed;
    int rc = 0;
    for (uint32_t id = f->dirty_from; f->dirty_from != UINT32_MAX && id < f->first_id + f->nsegs;
         id++) {
        struct store_seg *s = store__seg_get(st, id);
        if (s && s->fd >= 0 && fdatasync(s->fd) < 0 && !rc) {
            rc = -errno;
            LOG_ERROR("store %s: fdatasync segment %" PRIu32 ": %s", f->dir, id, strerror(errno));
        }
    }
    f->dirty_from = UINT32_MAX;
    int brc = store__blob_sync(st);
    if (!rc)
        rc = brc;
    if (f->dir_dirty) {
        if (fsync(f->dirfd) < 0 && !rc) {
            rc = -errno;
            LOG_ERROR("store %s: fsync directory: %s", f->dir, strerror(errno));
        }
        f->dir_dirty = false;
    }
    if (rc < 0)
        f->failed = -EIO;
    return rc;
}

/* A new segment whose SEG record says "the next sequence is last_seq + 1,
 * and last_seq was stored at last_ts": replay raises the index to it
 * (raise_last, store_recover.c), exactly as it does after old segments
 * were unlinked. The record is written from the index, so the index moves
 * first and moves back if the write fails. The segment it leaves, when it
 * holds no message, is unlinked. */
static int file_set_last(struct store *st, uint64_t last_seq, int64_t last_ts)
{
    if (st->f.failed)
        return st->f.failed;
    uint64_t old_seq = st->ix.last_seq;
    int64_t old_ts = st->ix.last_ts;
    st->ix.last_seq = last_seq;
    st->ix.last_ts = last_ts;
    int rc = store__seg_create(st, last_seq + 1);
    if (rc < 0) {
        st->ix.last_seq = old_seq;
        st->ix.last_ts = old_ts;
    }
    return rc;
}

const struct store_backend store__file_backend = {
    .append = file_append,
    .read = file_read,
    .log_del = file_log_del,
    .log_floor = file_log_floor,
    .release = store__file_release,
    .sync = file_sync,
    .set_last = file_set_last,
};

/* ---- open, close, destroy ---------------------------------------------- */

/* mkdir -p; a directory we create is made durable in its parent at once
 * (opening a store is rare; losing the directory would lose everything). */
static int make_dirs(const char *path)
{
    char *p = strdup(path);
    if (!p)
        return -ENOMEM;
    int rc = 0;
    for (char *s = p + 1;; s++) {
        if (*s != '/' && *s != '\0')
            continue;
        char c = *s;
        *s = '\0';
        if (mkdir(p, 0755) == 0) {
            char *slash = strrchr(p, '/');
            char *parent = !slash ? strdup(".")
                           : slash == p ? strdup("/") : strndup(p, (size_t)(slash - p));
            int pfd = parent ? open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
            if (pfd >= 0) {
                fsync(pfd);
                close(pfd);
            }
            free(parent);
        } else if (errno != EEXIST) {
            rc = -errno;
            LOG_ERROR("store: mkdir %s: %s", p, strerror(errno));
            break;
        }
        *s = c;
        if (!c)
            break;
    }
    free(p);
    return rc;
}

int store__file_open(struct store *st, const char *dir, struct store_report *rep)
{
    struct store_files *f = &st->f;
    f->dirfd = -1;
    f->dirty_from = UINT32_MAX;
    if (!dir || !*dir)
        return -EINVAL;
    if (!(f->dir = strdup(dir)))
        return -ENOMEM;
    int rc = make_dirs(dir);
    if (rc < 0)
        return rc;
    f->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (f->dirfd < 0) {
        rc = errno == ENOENT || errno == ENOTDIR ? -errno : -EIO;
        LOG_ERROR("store %s: open: %s", dir, strerror(errno));
        return rc;
    }
    /* Two owners appending to one log would interleave records. */
    if (flock(f->dirfd, LOCK_EX | LOCK_NB) < 0) {
        rc = errno == EWOULDBLOCK ? -EBUSY : -errno;
        LOG_ERROR("store %s: already open elsewhere", dir);
        return rc;
    }
    return store__recover(st, rep);
}

void store__file_close(struct store *st)
{
    struct store_files *f = &st->f;
    store__blob_close(st);
    for (size_t i = 0; i < f->nsegs; i++)
        if (f->segs[i]) {
            seg_close_fd(st, f->segs[i]);
            free(f->segs[i]);
        }
    free(f->segs);
    if (f->dirfd >= 0)
        close(f->dirfd); /* releases the flock */
    free(f->dir);
    memset(f, 0, sizeof *f);
    f->dirfd = -1;
}

/* Remove our files (segments, blobs, leftovers of either), then the
 * directory itself; a file we do not know keeps the directory. */
int store__file_destroy(struct store *st)
{
    struct store_files *f = &st->f;
    int rc = 0;
    int dfd = openat(f->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
    if (!d) {
        if (dfd >= 0)
            close(dfd);
        return -errno;
    }
    rewinddir(d); /* the offset is shared with every dup of dirfd */
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t n = strlen(e->d_name);
        bool ours = (n > 4 && strcmp(e->d_name + n - 4, ".seg") == 0) ||
                    store__blob_is_file(e->d_name);
        if (ours && unlinkat(f->dirfd, e->d_name, 0) < 0 && errno != ENOENT && !rc)
            rc = -errno;
    }
    closedir(d);
    char *path = strdup(f->dir);
    store__file_close(st);
    if (path && rmdir(path) < 0 && errno != ENOENT && !rc)
        rc = -errno;
    free(path);
    return rc;
}
