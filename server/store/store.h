/*
 * server/store/store.h — one stream's messages: an append-only log with an index.
 *
 * A store holds the messages of exactly one JetStream stream, in files
 * (STORE_FILE: segment files under the store's directory) or in memory
 * (STORE_MEMORY). Sequences are assigned by the store: 1, 2, 3... and never
 * reused, even after a purge (store_append_at and store_set_last let a
 * rebuilt stream skip ahead, never back). Every record on disk carries a checksum; on
 * open the log is replayed, a torn tail (a crash mid-write) is cut, and a
 * corrupt record elsewhere is reported in struct store_report, never
 * silently served or silently dropped.
 *
 * Durability contract: store_append writes the record (write(2), so it
 * survives kill -9 of the process) but does not sync; store_sync makes
 * everything appended so far durable (fdatasync) — the JetStream layer
 * calls it once per batch of publishes and only then sends their PubAcks
 * (group commit). Removals (delete, purge, expiry) are logged too and
 * survive a restart.
 *
 * The store also keeps small named blobs beside the messages: the stream's
 * metadata (config, created time) and each durable consumer's state. They
 * are replaced whole, atomically: after a crash either the old or the new
 * blob is read back, never a mix.
 *
 * On-disk formats (segment files, blob files, the directory layout and the
 * blobs JetStream keeps): server/store/FORMAT.md.
 *
 * Not thread-safe: one owner (the JetStream thread) calls everything.
 * Pure storage: no limits policy (the stream layer decides what to remove),
 * no JSON, no NATS headers parsing.
 */
#ifndef TERN_SERVER_STORE_H
#define TERN_SERVER_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum store_kind {
    STORE_FILE = 0,
    STORE_MEMORY = 1,
};

/* What store_open found while replaying a file store. */
struct store_report {
    uint64_t torn_bytes;      /* bytes cut from the tail of the last segment */
    uint64_t corrupt_records; /* records in the middle of the log that failed
                                 their checksum: their sequences are missing
                                 (counted as deleted) and logged */
    char detail[256];         /* human-readable summary, "" when all was clean */
};

/* One message as read back. The slices point into buf, which the store
 * grows as needed and the caller owns: zero it before first use, reuse it
 * across calls, release it with store_msg_free. */
struct store_msg {
    uint64_t seq;
    int64_t ts;               /* ns since the Unix epoch, as appended */
    const char *subject;
    size_t subject_len;
    const char *hdr;          /* raw NATS header block; hdr_len 0 = none */
    size_t hdr_len;
    const char *data;
    size_t data_len;
    char *buf;                /* owned by the caller (see above) */
    size_t buf_cap;
};
void store_msg_free(struct store_msg *m);

/* A snapshot of the counters JetStream reports in stream info
 * (spec/jetstream.md §5.2). */
struct store_state {
    uint64_t msgs;
    uint64_t bytes;           /* sum of store_msg_size() of stored messages */
    uint64_t first_seq;       /* lowest stored; last_seq + 1 when empty */
    int64_t first_ts;         /* 0 when empty */
    uint64_t last_seq;        /* highest ever assigned (survives purge); 0 = none yet */
    int64_t last_ts;          /* time of last_seq; 0 when none */
    uint64_t num_subjects;    /* distinct subjects stored */
    uint64_t num_deleted;     /* gaps between first_seq and last_seq */
};

/* Per-subject counters. */
struct store_subject_state {
    uint64_t msgs;
    uint64_t first_seq;
    uint64_t last_seq;
};

struct store_options {
    enum store_kind kind;
    const char *dir;          /* STORE_FILE: created if missing; borrowed */
    size_t segment_bytes;     /* 0 = default (8 MiB) */
    uint64_t *usage;          /* borrowed, may be NULL: a running total the
                                 store adds store_msg_size() of every message
                                 it holds to (replayed ones included) and
                                 takes it back from as messages go and when
                                 the store closes, so an owner of many
                                 stores knows their sum in O(1). Must
                                 outlive the store. */
};

struct store;

/* Open (or create) a store; for files, replay what is on disk and fill
 * *report (may be NULL). 0, or -errno (-EIO for an unreadable directory,
 * -EBUSY when another open store holds the directory (flock), -ENOMEM...).
 * A report with corrupt records is not an error: the store opens with what
 * could be read, and the caller logs report->detail (findings that do not
 * fit in it the store logs itself at [WRN]; I/O failures are logged at
 * [ERR] where they happen). */
int store_open(const struct store_options *opt, struct store **out, struct store_report *report);
/* Close files and free memory; data stays on disk. NULL is fine. */
void store_close(struct store *st);
/* Close and remove every file of the store (stream deleted). */
int store_destroy(struct store *st);

/* The accounted size of a message: subject + headers + payload + a fixed
 * per-record overhead (30 for files, 16 for memory, as nats-server counts). */
uint64_t store_msg_size(const struct store *st, size_t subject_len, size_t hdr_len,
                        size_t data_len);

/* Append one message with the next sequence (returned in *seq). Written but
 * not synced. -ENOSPC / -EIO (any write error, e.g. -EFBIG) leave the store
 * exactly as before the call (a partial record is cut back), so the caller
 * can answer with an error and nothing acknowledged is affected. -EINVAL
 * for an empty subject or one over 65535 bytes; -EMSGSIZE past 1 GiB. */
int store_append(struct store *st, const char *subject, size_t subject_len, const char *hdr,
                 size_t hdr_len, const char *data, size_t data_len, int64_t ts, uint64_t *seq);
/* Rebuilding a stream elsewhere (a replica restored from a snapshot) must
 * reproduce its sequences exactly, gaps and all. store_append_at appends
 * with a given sequence, which must be above every sequence assigned so
 * far (seq > last_seq, else -EINVAL); the sequences it skips were never
 * stored here, so they read as removed: -ENOENT, and counted in
 * num_deleted once they lie between first_seq and last_seq. Otherwise as
 * store_append (same errors, same durability).
 * store_set_last assigns every sequence up to last_seq without storing a
 * message and makes last_ts the time of last_seq, as if messages up to it
 * had been appended and removed: the next append gets last_seq + 1, and an
 * empty store reports first_seq last_seq + 1 (a stream after a purge).
 * last_seq must be above the last sequence assigned (-EINVAL), or equal
 * to it with the same last_ts (a no-op). A file store starts a new segment
 * whose SEG record carries both (FORMAT.md), so they survive a restart;
 * written, not synced, like an append. */
int store_append_at(struct store *st, uint64_t seq, const char *subject, size_t subject_len,
                    const char *hdr, size_t hdr_len, const char *data, size_t data_len,
                    int64_t ts);
int store_set_last(struct store *st, uint64_t last_seq, int64_t last_ts);
/* Make everything appended and removed so far durable. 0 or -errno.
 * Cheap when nothing changed. Memory stores: no-op. After a failed sync
 * every later append, removal and sync fails with -EIO: the kernel may
 * have dropped the unsynced pages, and a second fdatasync would report
 * success for data that is gone. Close and reopen to go on with what is
 * really on disk. */
int store_sync(struct store *st);

/* Read message seq. 0, -ENOENT (never stored, or removed), -EIO. */
int store_load(struct store *st, uint64_t seq, struct store_msg *m);
/* First stored message with sequence >= start whose subject matches
 * filter (a subject pattern with wildcards; NULL or ">" = any).
 * 0, -ENOENT when there is none. */
int store_load_next(struct store *st, uint64_t start, const char *filter, size_t filter_len,
                    struct store_msg *m);
/* The sequence store_load_next would load, without loading it; 0 when
 * there is none. */
uint64_t store_next_seq(const struct store *st, uint64_t start, const char *filter,
                        size_t filter_len);
/* Newest message on this subject; with wildcards ('*', '>'), the newest
 * whose subject matches it (a pass over the stored subjects). 0 or
 * -ENOENT. */
int store_load_last(struct store *st, const char *subject, size_t subject_len,
                    struct store_msg *m);

/* Remove one message. 0, -ENOENT when it is not stored. */
int store_remove(struct store *st, uint64_t seq);
/* Remove messages matching filter (NULL = all): when upto_seq > 0 only
 * those with seq < upto_seq; when keep > 0 keep the newest keep of all
 * the matching messages taken together. *purged gets the count.
 * With no filter, no upto_seq and no keep, first_seq becomes last_seq + 1. */
int store_purge(struct store *st, const char *filter, size_t filter_len, uint64_t upto_seq,
                uint64_t keep, uint64_t *purged);

void store_get_state(const struct store *st, struct store_state *out);
/* State of one literal subject; all zero when it has no message. */
void store_subject_state(const struct store *st, const char *subject, size_t subject_len,
                         struct store_subject_state *out);
/* Call fn for every stored subject that matches filter (NULL = all), with
 * its state, in no particular order. fn may remove messages (a subject
 * emptied before its turn is skipped); subject points into a copy, valid
 * during the call. Stops early when fn returns non-zero and returns that
 * value; -ENOMEM. */
int store_each_subject(const struct store *st, const char *filter, size_t filter_len,
                       int (*fn)(void *arg, const char *subject, size_t len,
                                 const struct store_subject_state *ss),
                       void *arg);
/* Number of stored messages with seq >= start matching filter (NULL = any).
 * Exact; O(1) when unfiltered, else at worst one pass over the index. */
uint64_t store_count_from(const struct store *st, uint64_t start, const char *filter,
                          size_t filter_len);
/* Deleted sequences between first_seq and last_seq, ascending, at most max
 * of them written to out; returns how many there are in total. */
uint64_t store_deleted(const struct store *st, uint64_t *out, uint64_t max);
/* Sequence of the first stored message with ts >= ts (0 when none).
 * Bisects, so it assumes timestamps ascend with sequences (the JetStream
 * layer stamps them at append); after a clock step back the answer is a
 * sequence near the step. */
uint64_t store_seq_at_time(const struct store *st, int64_t ts);

/* Named blobs beside the messages (stream metadata, consumer state).
 * name: [A-Za-z0-9_.-]+, not starting with '.'. Replace atomically;
 * durable against kill -9 at once, against power loss after the next
 * store_sync. Memory stores keep them in memory. */
int store_blob_put(struct store *st, const char *name, const void *data, size_t len);
/* *data is malloc'd (caller frees). 0, -ENOENT, -EIO (checksum failed). */
int store_blob_get(struct store *st, const char *name, void **data, size_t *len);
int store_blob_delete(struct store *st, const char *name);
/* Names of all blobs whose name starts with prefix (NULL = all); fn per
 * name, in no particular order; fn may put or delete blobs. Stops early
 * when fn returns non-zero and returns that value. */
int store_blob_each(struct store *st, const char *prefix,
                    int (*fn)(void *arg, const char *name), void *arg);

#endif
