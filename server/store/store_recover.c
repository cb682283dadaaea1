/*
 * server/store/store_recover.c — opening a file store: replay every segment, in
 * order, into the index, checking every record's checksum.
 *
 * What can be found, and what is done (spec: server/store/store.h):
 *  - a bad or short record at the tail of the LAST segment, with nothing
 *    valid after it, is a write torn by a crash: the file is cut there
 *    (report->torn_bytes) and appends continue from that point;
 *  - a bad record anywhere else is corruption: it is counted
 *    (report->corrupt_records, one per damaged region), described in
 *    report->detail, and skipped by scanning forward to the next offset
 *    where a record verifies. The sequences it held are simply missing
 *    (deleted). Its segment is marked broken and never unlinked by us;
 *  - a record that verifies but makes no sense where it is (a message
 *    sequence not above the ones before it, a segment header not at the
 *    start or going backwards, a purge floor past the next sequence) is
 *    treated the same way; so is a segment file that cannot be read;
 *  - the forward scan checksums at most RESYNC_BUDGET bytes per segment
 *    (a damaged region full of record-shaped bytes could otherwise cost
 *    hours); past that the rest of the segment is skipped and reported,
 *    and if it was the last one, appends go to a new segment.
 * A record is only ever indexed after its CRC matched, and store_load
 * checks it again, so a damaged record is never served.
 */
#include "server/store/store_impl.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "server/log.h"

#define RESYNC_BUDGET (256u << 20)

/* One replay, on store__recover's stack. Each segment is read whole into
 * buf (8 MiB by default; a lone record may make one bigger). */
struct replay {
    struct store *st;        /* borrowed */
    struct store_report *rep;/* borrowed */
    uint8_t *buf;            /* owned, reused for every segment */
    size_t cap;
    size_t detail_len;
    bool detail_full;
};

static void note(struct replay *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* One finding, appended to report->detail while it fits. */
static void note(struct replay *r, const char *fmt, ...)
{
    char line[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    char *d = r->rep->detail;
    size_t cap = sizeof r->rep->detail, need = strlen(line) + (r->detail_len ? 2 : 0);
    if (!r->detail_full && r->detail_len + need + 4 >= cap) {
        snprintf(d + r->detail_len, cap - r->detail_len, "%s...", r->detail_len ? "; " : "");
        r->detail_full = true;
    }
    if (r->detail_full) {
        /* The caller logs the detail; what does not fit is logged here. */
        LOG_WARN("store %s: %s", r->st->f.dir, line);
        return;
    }
    r->detail_len += (size_t)snprintf(d + r->detail_len, cap - r->detail_len, "%s%s",
                                      r->detail_len ? "; " : "", line);
}

/* ---- listing ------------------------------------------------------------ */

struct seg_name {
    uint32_t id, nonce;
};

static int by_id(const void *a, const void *b)
{
    uint32_t x = ((const struct seg_name *)a)->id, y = ((const struct seg_name *)b)->id;
    return x < y ? -1 : x > y;
}

/* "<decimal id>-<8 hex>.seg", nothing else. */
static bool parse_name(const char *s, struct seg_name *out)
{
    char *end;
    if (*s < '0' || *s > '9')
        return false;
    unsigned long long id = strtoull(s, &end, 10);
    if (*end != '-' || id == 0 || id > UINT32_MAX || strlen(end) != 13 ||
        strcmp(end + 9, ".seg") != 0)
        return false;
    uint32_t nonce = 0;
    for (int i = 1; i <= 8; i++) {
        char c = end[i];
        int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (v < 0)
            return false;
        nonce = nonce << 4 | (uint32_t)v;
    }
    *out = (struct seg_name){ (uint32_t)id, nonce };
    return true;
}

/* Segment names sorted by id; leftover blob temp files are removed. */
static int list_segments(struct store *st, struct seg_name **out, size_t *n)
{
    /* A descriptor of its own for the DIR stream (closedir closes it):
     * opened afresh rather than dup'd, since ThreadSanitizer's dup
     * bookkeeping aborts when the number was last closed on another
     * library's thread (raft's libuv pool). */
    int dfd = openat(st->f.dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
    if (!d) {
        int rc = -errno;
        if (dfd >= 0)
            close(dfd);
        return rc == -ENOMEM ? rc : -EIO;
    }
    rewinddir(d);
    struct seg_name *v = NULL;
    size_t cnt = 0, cap = 0;
    int rc = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        struct seg_name sn;
        if (store__blob_is_file(e->d_name) == 2) {
            unlinkat(st->f.dirfd, e->d_name, 0);
            continue;
        }
        if (!parse_name(e->d_name, &sn))
            continue;
        if (cnt == cap) {
            cap = cap ? cap * 2 : 16;
            struct seg_name *nv = realloc(v, cap * sizeof *nv);
            if (!nv) {
                rc = -ENOMEM;
                break;
            }
            v = nv;
        }
        v[cnt++] = sn;
    }
    closedir(d);
    if (rc < 0) {
        free(v);
        return rc;
    }
    if (cnt)
        qsort(v, cnt, sizeof *v, by_id);
    *out = v;
    *n = cnt;
    return 0;
}

/* ---- applying records ------------------------------------------------------ */

static void drop(struct store *st, uint64_t seq)
{
    struct store_slot *slot = store__ix_get(&st->ix, seq), old;
    if (!slot)
        return; /* already gone, or lost with a damaged record */
    store__ix_remove(&st->ix, seq, store__slot_size(st, slot), &old);
    struct store_seg *s = store__seg_get(st, old.at.file.seg);
    if (s)
        s->live--; /* no unlinking until every segment is read */
}

/* A SEG record carries the last sequence assigned before it (and its
 * time): after a purge and the unlinking of old segments, the newest
 * segment's SEG record is what keeps sequences from being reused. */
static void raise_last(struct store_index *ix, const struct store_rec *r)
{
    if (r->seq - 1 > ix->last_seq) {
        ix->last_seq = r->seq - 1;
        ix->last_ts = r->ts;
    }
}

/* Apply one verified record at offset off of segment s. 0; 1 when it does
 * not belong there (treated as damage); -ENOMEM. */
static int apply(struct store *st, struct store_seg *s, const uint8_t *p, uint64_t off,
                 const struct store_rec *r)
{
    struct store_index *ix = &st->ix;
    switch (r->type) {
    case STORE_REC_SEG:
        /* A segment starts past everything before it (its base is the
         * next sequence at the time it was created). */
        if (off != 0 || r->seq <= ix->last_seq)
            return 1;
        s->base = r->seq;
        raise_last(ix, r);
        return 0;
    case STORE_REC_MSG: {
        if (r->seq <= ix->last_seq)
            return 1;
        struct store_ix_prep prep;
        int rc = store__ix_prepare(ix, (const char *)p + STORE_REC_HDR, r->subj_len, &prep);
        if (rc < 0)
            return rc;
        size_t data_len = r->len - STORE_REC_HDR - r->subj_len - r->hdr_len;
        struct store_slot *slot =
            store__ix_commit(ix, &prep, r->seq, r->ts,
                             store_msg_size(st, r->subj_len, r->hdr_len, data_len));
        slot->at.file.seg = s->id;
        slot->at.file.off = (uint32_t)off;
        slot->len = r->len;
        slot->hdr_len = r->hdr_len;
        s->live++;
        return 0;
    }
    case STORE_REC_DEL:
        for (uint32_t i = 0; i < (r->len - STORE_REC_HDR) / 8; i++) {
            uint64_t t;
            memcpy(&t, p + STORE_REC_HDR + 8 * i, 8);
            if (t < s->base)
                store__seg_note_removal(s, t);
            drop(st, t);
        }
        return 0;
    case STORE_REC_FLOOR:
        /* A purge never reaches past the next sequence to assign. */
        if (r->seq > ix->last_seq + 1)
            return 1;
        store__seg_note_removal(s, r->seq - 1);
        while (ix->msgs && store__ix_first(ix) < r->seq)
            drop(st, store__ix_first(ix));
        return 0;
    }
    return 1;
}

/* Next offset >= from where a record verifies; size when none. *budget
 * counts down the bytes checksummed; at 0 the scan gives up (*gave_up). */
static size_t resync(const uint8_t *buf, size_t from, size_t size, uint32_t nonce,
                     uint64_t *budget, bool *gave_up)
{
    for (size_t p = from; p + STORE_REC_HDR <= size; p++) {
        struct store_rec r;
        if (store__rec_parse(buf + p, size - p, &r) < 0)
            continue;
        if (*budget < r.len) {
            *gave_up = true;
            return size;
        }
        *budget -= r.len;
        if (store__rec_verify(buf + p, &r, nonce))
            return p;
    }
    return size;
}

/* ---- one segment ---------------------------------------------------------- */

static int read_all(int fd, uint8_t *buf, size_t size)
{
    size_t done = 0;
    while (done < size) {
        ssize_t n = pread(fd, buf + done, size - done, (off_t)done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n < 0 ? -errno : -EIO;
        done += (size_t)n;
    }
    return 0;
}

/* Replay segment s (open as fd, size bytes). *fresh_tail is set when the
 * last segment cannot take appends (its end is unreadable). */
static int replay_segment(struct replay *rp, struct store_seg *s, int fd, size_t size,
                          bool last, bool *fresh_tail)
{
    struct store *st = rp->st;
    char name[64];
    store__seg_name(name, sizeof name, s->id, s->nonce);
    if (size > rp->cap) {
        uint8_t *b = realloc(rp->buf, size);
        if (!b)
            return -ENOMEM;
        rp->buf = b;
        rp->cap = size;
    }
    int rc = read_all(fd, rp->buf, size);
    if (rc < 0) {
        rp->rep->corrupt_records++;
        s->broken = true;
        *fresh_tail = last;
        note(rp, "%s: unreadable (%s), skipped", name, strerror(-rc));
        return 0;
    }
    s->base = st->ix.last_seq + 1; /* unless its SEG record says otherwise */
    uint64_t budget = RESYNC_BUDGET;
    size_t off = 0;
    while (off < size) {
        struct store_rec r;
        if (store__rec_decode(rp->buf + off, size - off, s->nonce, &r) == 0) {
            if ((rc = apply(st, s, rp->buf + off, off, &r)) < 0)
                return rc;
            if (rc == 0) {
                off += r.len;
                continue;
            }
            rp->rep->corrupt_records++;
            s->broken = true;
            note(rp, "%s: record at offset %zu (seq %" PRIu64 ") out of place, skipped", name,
                 off, r.seq);
            off += r.len;
            continue;
        }
        bool gave_up = false;
        size_t next = resync(rp->buf, off + 1, size, s->nonce, &budget, &gave_up);
        if (next == size && last && !gave_up) {
            /* Nothing valid after it: a write the crash cut short. */
            rp->rep->torn_bytes += size - off;
            note(rp, "%s: torn write of %zu bytes at offset %zu cut", name, size - off, off);
            if (ftruncate(fd, (off_t)off) < 0) {
                rc = -errno;
                LOG_ERROR("store %s: truncate %s: %s", st->f.dir, name, strerror(errno));
                return rc;
            }
            if (st->f.dirty_from > s->id)
                st->f.dirty_from = s->id;
            size = off;
            break;
        }
        rp->rep->corrupt_records++;
        s->broken = true;
        if (next == size) {
            note(rp, "%s: %zu bytes from offset %zu %s, rest of segment skipped", name,
                 size - off, off, gave_up ? "unrecoverable" : "fail their checksum");
            *fresh_tail = last;
            off = size;
            break;
        }
        note(rp, "%s: %zu bytes at offset %zu fail their checksum, skipped", name, next - off,
             off);
        off = next;
    }
    s->size = off;
    return 0;
}

int store__recover(struct store *st, struct store_report *rep)
{
    struct replay rp = { .st = st, .rep = rep };
    struct seg_name *names = NULL;
    size_t n = 0;
    bool fresh_tail = false;
    int rc = list_segments(st, &names, &n);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < n; i++) {
        bool last = i + 1 == n;
        char name[64];
        store__seg_name(name, sizeof name, names[i].id, names[i].nonce);
        int fd = openat(st->f.dirfd, name, (last ? O_RDWR : O_RDONLY) | O_CLOEXEC);
        struct stat sb;
        if (fd < 0 || fstat(fd, &sb) < 0) {
            rc = -errno;
            LOG_ERROR("store %s: open %s: %s", st->f.dir, name, strerror(errno));
            if (fd >= 0)
                close(fd);
            goto err_after_list;
        }
        struct store_seg *s;
        if ((rc = store__seg_add(st, names[i].id, names[i].nonce, fd, &s)) < 0) {
            close(fd);
            goto err_after_list;
        }
        if ((uint64_t)sb.st_size > (uint64_t)STORE_SEG_MAX + STORE_REC_MAX) {
            rep->corrupt_records++;
            s->broken = true;
            fresh_tail = last;
            note(&rp, "%s: %lld bytes, larger than any segment we write; skipped", name,
                 (long long)sb.st_size);
        } else if ((rc = replay_segment(&rp, s, fd, (size_t)sb.st_size, last, &fresh_tail)) <
                   0) {
            goto err_after_list;
        }
        if (last && !fresh_tail)
            st->f.active = s;
        else {
            close(s->fd); /* the fd cache reopens it on a read */
            s->fd = -1;
            st->f.open_fds--;
        }
    }
    free(names);
    free(rp.buf);
    rp.buf = NULL;
    if (!st->f.active) {
        if ((rc = store__seg_create(st, st->ix.last_seq + 1)) < 0)
            return rc;
    } else if (st->f.active->size == 0) {
        /* Torn before even its SEG record was whole: write that again. */
        if ((rc = store__seg_start(st, st->f.active, st->ix.last_seq + 1)) < 0)
            return rc;
    }
    store__seg_reap(st);
    return 0;

err_after_list:
    free(names);
    free(rp.buf);
    return rc;
}
