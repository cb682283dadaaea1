/*
 * server/store/store_impl.h — what the store's files share and nobody else sees;
 * the public API and its contract are server/store/store.h.
 *
 * The store is split along its seams: store.c (the public calls: argument
 * checks, purge, queries), store_index.c (which sequence lives where, and
 * each subject's sequences), store_file.c (segment files: append, read,
 * removal records, sync), store_recover.c (replay on open), store_mem.c
 * (the same in RAM), store_blob.c (named blobs), store_crc.c (CRC32C).
 * store.c reaches the two kinds of storage only through struct
 * store_backend, so the logic above them is the same for both.
 *
 * Everything here runs on the store's one owner thread: no locks anywhere.
 * Internal functions carry the store__ prefix. Every on-disk format (the
 * directory, segment records, blob files, and the blobs JetStream keeps)
 * is written down byte for byte in server/store/FORMAT.md; a change to
 * the constants below changes that file in the same commit.
 */
#ifndef TERN_SERVER_STORE_IMPL_H
#define TERN_SERVER_STORE_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "server/kmap.h"
#include "server/store/store.h"

/* ---- on-disk record format (store_file.c writes, store_recover.c reads) ----
 * (the whole table, with each type's rules: FORMAT.md, "Segment files")
 *
 * A segment file "<id>-<nonce>.seg" (id: 8+ decimal digits, nonce: 8 hex)
 * is a run of records, each a 32-byte little-endian header and a body:
 *
 *    0 u32 crc     CRC32C of bytes [4, len), seeded with the file's nonce
 *    4 u32 len     whole record, header included
 *    8 u8  type    STORE_REC_*
 *    9 u8  version STORE_FORMAT_VERSION
 *   10 u16 subject length (MSG)
 *   12 u32 header-block length (MSG)
 *   16 u64 seq     MSG: its sequence; SEG: the first sequence the segment
 *                  may hold; FLOOR: every sequence below it is removed
 *   24 i64 ts      MSG: ns since the epoch; SEG: that of seq - 1; others 0
 *   32 body        MSG: subject, header block, payload; DEL: u64 sequences
 *
 * The nonce (random per file, kept in its name) makes a record copied into
 * a message payload fail its checksum: when recovery scans forward past
 * corruption it can only land on records this store wrote to this file.
 */
#define STORE_REC_HDR 32u
#define STORE_FORMAT_VERSION 1u
#define STORE_REC_MAX (1u << 30) /* larger messages: -EMSGSIZE */
#define STORE_SEG_DEFAULT (8u << 20)
#define STORE_SEG_MIN 256u
#define STORE_SEG_MAX (1u << 30) /* keeps every offset in a uint32_t */
#define STORE_DEL_CHUNK 8192u    /* sequences per DEL record (64 KiB body) */

enum store_rec_type {
    STORE_REC_SEG = 1,   /* first record of every segment */
    STORE_REC_MSG = 2,
    STORE_REC_DEL = 3,   /* these sequences are removed */
    STORE_REC_FLOOR = 4, /* every sequence below seq is removed (purge) */
};

/* A decoded record header; the body pointers borrow the buffer it was
 * parsed from. */
struct store_rec {
    uint32_t len;
    uint8_t type;
    uint16_t subj_len;
    uint32_t hdr_len;
    uint64_t seq;
    int64_t ts;
};

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
               "the store writes host integers as its little-endian format");

void store__rec_encode(uint8_t out[STORE_REC_HDR], const struct store_rec *r);
/* The header at p (avail bytes there) read and checked for shape, not
 * checksum: 0 or -EBADMSG. Cheap, so recovery can try every offset. */
int store__rec_parse(const uint8_t *p, size_t avail, struct store_rec *r);
/* Does the parsed record's CRC, seeded with the file's nonce, match? */
bool store__rec_verify(const uint8_t *p, const struct store_rec *r, uint32_t nonce);
/* Both: 0, or -EBADMSG when short, malformed or failing its CRC. */
int store__rec_decode(const uint8_t *p, size_t avail, uint32_t nonce, struct store_rec *r);
/* CRC of a record whose header is encoded but whose crc field is not yet:
 * header bytes [4, 32) then the body pieces. */
uint32_t store__rec_crc(uint32_t nonce, const uint8_t *hdr, const struct iovec *body, int n);

/* CRC32C (Castagnoli). crc is the running value: start with a seed (0 for
 * a plain CRC32C), feed pieces in order. Uses SSE4.2 when the CPU has it. */
uint32_t store__crc32c(uint32_t crc, const void *p, size_t n);
uint32_t store__crc32c_sw(uint32_t crc, const void *p, size_t n); /* table only (tests) */

/* ---- the index (store_index.c) ----------------------------------------- */

struct store_subj;

/* One stored message: where it lives. The index keeps these sorted by
 * seq; a removed one stays in place (subj == NULL, ts kept so that
 * seq_at_time can bisect over it) until the array is compacted. */
struct store_slot {
    uint64_t seq;
    int64_t ts;
    struct store_subj *subj; /* borrowed: owned by the subject map; NULL = removed */
    union {
        struct {
            uint32_t seg;    /* segment id */
            uint32_t off;    /* record offset in it */
        } file;
        char *mem;           /* memory store: owned; header block then payload */
    } at;
    uint32_t len;            /* file: record length; memory: hdr + payload */
    uint32_t hdr_len;        /* header block bytes (the file store's size
                                accounting counts 4 more when non-zero) */
};

/* The accounted size of a stored slot (store_msg_size of its message). */
uint64_t store__slot_size(const struct store *st, const struct store_slot *s);

/* One stored subject and the ascending sequences stored on it. Allocated
 * (with its name behind it) by the index when its first message arrives,
 * freed when its last goes. Small subjects (one key of a KV bucket) keep
 * their sequences inline. */
struct store_subj {
    struct kmap_key key;     /* bytes borrowed from name below */
    uint64_t *seqs;          /* owned, or == inl; live range [head, head + n) */
    size_t head, n, cap;
    uint64_t inl[2];
    bool mark;               /* scratch for one purge; meaningless otherwise */
    char name[];
};

/* Sequence bookkeeping and the counters of store_state. Embedded in struct
 * store; every array is owned. slots[head, head + n) is sorted by seq;
 * ntomb of them are removed ones awaiting compaction, never the first or
 * the last. live[] is a Fenwick tree over slot positions (1 = stored), so
 * "how many stored from here on" is O(log n) however the removals fell.
 * Memory is proportional to stored messages, not to the span of
 * sequences: a KV bucket keeps one old key and churns the others forever. */
struct store_index {
    struct store_slot *slots;
    uint32_t *live;          /* Fenwick tree, 1-based, cap + 1 entries */
    size_t head, n, cap, ntomb;
    struct kmap subjects;    /* of struct store_subj; the index owns them */
    uint64_t seed;
    uint64_t msgs, bytes, last_seq;
    int64_t last_ts;
    uint64_t *total;         /* borrowed (store_options.usage) or NULL: moved
                                with bytes, so the owner's sum over many
                                stores never needs a pass over them */
};

/* An append in two steps, so that nothing can fail after the record is on
 * disk: prepare reserves memory (and may create the subject, with no
 * messages yet), commit cannot fail, abort undoes prepare. Removal never
 * allocates, so it has one step. */
struct store_ix_prep {
    struct store_subj *subj; /* borrowed */
    bool created;
};

void store__ix_init(struct store_index *ix);
/* Frees slots and subjects; release is called on every stored slot. */
void store__ix_free(struct store_index *ix, void (*release)(void *arg, struct store_slot *s),
                    void *arg);
int store__ix_prepare(struct store_index *ix, const char *subj, size_t len,
                      struct store_ix_prep *p);
void store__ix_abort(struct store_index *ix, struct store_ix_prep *p);
/* Adds seq, which must be > last_seq. Returns the slot for the caller to
 * fill in its location; valid until the next change to the index. */
struct store_slot *store__ix_commit(struct store_index *ix, struct store_ix_prep *p,
                                    uint64_t seq, int64_t ts, uint64_t size);
/* The stored slot of seq, or NULL. Valid until the next change. */
struct store_slot *store__ix_get(const struct store_index *ix, uint64_t seq);
/* Remove a stored seq; *out gets its slot as it was. */
void store__ix_remove(struct store_index *ix, uint64_t seq, uint64_t size, struct store_slot *out);
/* First stored seq >= start (0 = none). */
uint64_t store__ix_next(const struct store_index *ix, uint64_t start);
/* Last stored seq < before (0 = none). */
uint64_t store__ix_prev(const struct store_index *ix, uint64_t before);
/* Stored seq number k (0-based) counting back from the newest (0 = none). */
uint64_t store__ix_nth_newest(const struct store_index *ix, uint64_t k);
uint64_t store__ix_first(const struct store_index *ix);
struct store_subj *store__ix_subject(const struct store_index *ix, const char *s, size_t len);
/* First of the subject's sequences >= start (0 = none); how many are >= start. */
uint64_t store__subj_next(const struct store_subj *sj, uint64_t start);
uint64_t store__subj_count_from(const struct store_subj *sj, uint64_t start);
/* Stored messages with seq >= start, no filter. O(log n). */
uint64_t store__ix_count_from(const struct store_index *ix, uint64_t start);
uint64_t store__ix_seq_at_time(const struct store_index *ix, int64_t ts);
/* Removed sequences between the first stored and last_seq (see store.h). */
uint64_t store__ix_deleted(const struct store_index *ix, uint64_t *out, uint64_t max);

/* ---- backends (store_file.c, store_mem.c) ------------------------------ */

/* What store.c needs from a kind of storage. Each function gets the whole
 * store. Writes happen before the index changes, so a failed write leaves
 * both as they were. */
struct store_backend {
    /* Write one message; fill slot->at/len. -errno leaves nothing behind. */
    int (*append)(struct store *st, struct store_slot *slot, uint64_t seq, int64_t ts,
                  const char *subj, size_t subj_len, const char *hdr, size_t hdr_len,
                  const char *data, size_t data_len);
    int (*read)(struct store *st, const struct store_slot *slot, uint64_t seq,
                struct store_msg *m);
    /* Log that these stored sequences are being removed. */
    int (*log_del)(struct store *st, const uint64_t *seqs, size_t n);
    /* Log that every sequence below floor is being removed. */
    int (*log_floor)(struct store *st, uint64_t floor);
    /* A removed message's storage is no longer needed. */
    void (*release)(struct store *st, struct store_slot *slot);
    int (*sync)(struct store *st);
    /* Sequences up to last_seq are assigned, last_ts is the time of
     * last_seq (store_set_last; last_seq > the index's last_seq): set
     * both in the index, and make them survive a restart. -errno leaves
     * the index as it was. */
    int (*set_last)(struct store *st, uint64_t last_seq, int64_t last_ts);
};

extern const struct store_backend store__file_backend;
extern const struct store_backend store__mem_backend;

/* ---- file-store state (store_file.c, store_recover.c) ------------------ */

/* One segment file. Allocated and freed by store_file.c; owned through
 * struct store_files.segs. */
struct store_seg {
    uint32_t id;
    uint32_t nonce;
    int fd;                  /* owned; -1 while closed by the fd cache */
    uint64_t size;           /* bytes of good records: the next append goes here */
    uint64_t base;           /* first sequence it may hold (its SEG record) */
    uint64_t live;           /* stored messages in it */
    uint64_t ext_del_max;    /* highest seq below base named by a removal
                                record in it (0 none): it must outlive every
                                older segment that may hold such a seq */
    uint64_t last_use;       /* fd cache clock */
    bool broken;             /* recovery could not read all of it: never
                                unlinked by us, kept for whoever inspects it */
};

/* Embedded in struct store for STORE_FILE. */
struct store_files {
    char *dir;               /* owned copy of the path */
    int dirfd;               /* owned; holds the store's flock */
    struct store_seg **segs; /* owned; segs[i] has id first_id + i; NULL once unlinked */
    size_t nsegs, cap_segs;
    uint32_t first_id;
    struct store_seg *active;/* borrowed from segs: the last one; appends go here */
    uint32_t dirty_from;     /* lowest segment id written since the last sync;
                                UINT32_MAX = none (only the newest can be dirty) */
    bool dir_dirty;          /* a file was created, renamed or unlinked */
    unsigned open_fds;
    uint64_t clock;
    int failed;              /* sticky -EIO after a failed fdatasync: the page
                                cache may have dropped what we wrote, so no
                                later sync may claim success (reopen to retry) */
};

/* A blob: memory stores keep them in a kmap; file stores remember those
 * written since the last sync so store_sync can flush them. */
struct store_blob_mem {
    struct kmap_key key;     /* bytes borrowed from name */
    void *data;              /* owned */
    size_t len;
    char name[];
};

struct store_blob_pending {
    int fd;                  /* owned: the written file, to fdatasync */
    char *name;              /* owned */
};

struct store_blobs {
    struct kmap mem;         /* memory stores; owns its store_blob_mem */
    uint64_t seed;
    struct store_blob_pending *pending; /* file stores; owned array */
    size_t npending, cap;
};

/* Allocated by store_open, freed by store_close/store_destroy. */
struct store {
    enum store_kind kind;
    const struct store_backend *be;
    size_t segment_bytes;
    struct store_index ix;
    struct store_files f;    /* STORE_FILE only */
    struct store_blobs b;
};

/* store_file.c */
int store__file_open(struct store *st, const char *dir, struct store_report *rep);
void store__file_close(struct store *st);
int store__file_destroy(struct store *st);
/* store_file.c, for store_recover.c */
struct store_seg *store__seg_get(const struct store *st, uint32_t id);
int store__seg_add(struct store *st, uint32_t id, uint32_t nonce, int fd, struct store_seg **out);
int store__seg_create(struct store *st, uint64_t base);
int store__seg_start(struct store *st, struct store_seg *s, uint64_t base);
void store__seg_reap(struct store *st);
/* A removal record in s names target (for a floor: target = floor - 1). */
void store__seg_note_removal(struct store_seg *s, uint64_t target);
void store__seg_name(char *buf, size_t cap, uint32_t id, uint32_t nonce);
/* After a short (p)writev of w bytes: step the iovec array and its count
 * past what went out and trim the first iovec left (the iovecs are the
 * caller's scratch copy). */
void store__iov_skip(struct iovec **iov, int *n, size_t w);
void store__file_release(struct store *st, struct store_slot *slot);
/* store_recover.c: replay every segment into the index. */
int store__recover(struct store *st, struct store_report *rep);

/* store.c: make m->buf hold at least need bytes. */
int store__msg_grow(struct store_msg *m, size_t need);

/* store_blob.c */
int store__blob_sync(struct store *st);
void store__blob_close(struct store *st);
int store__blob_is_file(const char *fname);

#endif
