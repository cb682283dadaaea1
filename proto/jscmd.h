/*
 * proto/jscmd.h — JetStream state changes as commands: the msgpack entry
 * format every change of JetStream state is encoded in, so that the same
 * command can be applied locally (one node) or proposed to raft and
 * applied on every node (spec/raft.md §8.3).
 *
 * An entry is an 8-byte envelope (magic 'J', version 1, opcode, flags,
 * little-endian body length), a msgpack map with small integer keys, and
 * zero padding to a multiple of 8 bytes (libraft 0.15 needs that, §5).
 * Decoders ignore unknown keys; optional keys are absent when unset.
 *
 * Pure codec: msgpack-c and libc, no I/O, no globals. Decoded slices point
 * into the caller's entry buffer (borrowed; valid while it is).
 *
 * The codec checks shape (envelope, padding, key types, required keys), not
 * meaning: names, subjects, configs and rollup modes are judged by apply.
 */
#ifndef TERN_PROTO_JSCMD_H
#define TERN_PROTO_JSCMD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JSCMD_MAGIC 0x4A
#define JSCMD_VERSION 1
#define JSCMD_ENVELOPE 8
#define JSCMD_FLAG_BATCH 0x01 /* set exactly on the *_BATCH ops */

#define JSCMD_ROLLUP_SUB 1
#define JSCMD_ROLLUP_ALL 2
/* A Nats-Rollup header with another value: 2.9 drops such a publish
 * without a reply, but only after the checks before the rollup check, so
 * the proposer carries it to apply rather than judging it. */
#define JSCMD_ROLLUP_UNKNOWN 3

enum jscmd_op {
    JSCMD_STREAM_CREATE = 0x01,
    JSCMD_STREAM_UPDATE = 0x02,
    JSCMD_STREAM_DELETE = 0x03,
    JSCMD_STREAM_PURGE = 0x04,
    JSCMD_MSG_DELETE = 0x05,
    JSCMD_STREAM_EXPIRE = 0x06,
    JSCMD_STREAM_SYNC = 0x07,     /* a mirror copies what it lacks */
    JSCMD_CONSUMER_CREATE = 0x10,
    JSCMD_CONSUMER_UPDATE = 0x11,
    JSCMD_CONSUMER_DELETE = 0x12,
    JSCMD_PUBLISH = 0x20,
    JSCMD_PUBLISH_BATCH = 0x21,
    JSCMD_CONSUMER_ACKS = 0x30,
    JSCMD_CONSUMER_ACKS_BATCH = 0x31,
};

/* A consumer create's action (nats-server 2.10): create or update
 * (absent, 0), only create (an existing consumer with another config is
 * 10148), only update (a missing consumer is 10149). */
enum {
    JSCMD_ACTION_CREATE_OR_UPDATE = 0,
    JSCMD_ACTION_UPDATE = 1,
    JSCMD_ACTION_CREATE = 2,
};

/* Borrowed bytes (not NUL-terminated). ptr NULL = absent. */
struct jscmd_bytes {
    const char *ptr;
    size_t len;
};

/* One PUBLISH (alone or inside a batch). has_* mark the optional keys. */
struct jscmd_publish {
    struct jscmd_bytes stream, subject, hdr, data;
    uint64_t ts_ns;
    struct jscmd_bytes msg_id, exp_stream, exp_last_msg_id;
    bool has_exp_last_seq, has_exp_last_subj_seq;
    uint64_t exp_last_seq, exp_last_subj_seq;
    uint8_t rollup;                   /* 0 none, 1 sub, 2 all, 3 unknown */
    uint64_t acct_max;                /* key 12: the account's limit for the
                                         stream's storage kind in bytes
                                         (max_file_store / max_memory_store,
                                         chosen by the proposer); 0 = none */
    uint64_t acct_limit;              /* key 14: the JetStream account's own
                                         limit (accounts {} jetstream
                                         max_mem / max_file) for that kind,
                                         past which 10002; 0 = none */
    uint64_t req;
    struct jscmd_bytes exp_last_subj_seq_subj; /* key 13: the subject (maybe
                                         a wildcard) the expected last
                                         subject sequence is checked on,
                                         instead of the message's own */
};

/* One durable consumer's coalesced progress (op 0x30). */
struct jscmd_acks {
    struct jscmd_bytes stream, consumer;
    uint64_t ack_floor_sseq, ack_floor_cseq;
    uint64_t delivered_sseq, delivered_cseq;
    const uint64_t *acked;            /* stream seqs above the floor */
    size_t nacked;
    const uint64_t (*redelivered)[2]; /* [sseq, count] pairs */
    size_t nredelivered;
    uint64_t start_sseq;              /* key 9: where the consumer started
                                         (resolved by CONSUMER_CREATE's
                                         apply); messages before it were
                                         never its to deliver. 0 = 1 */
};

/* A decoded or to-be-encoded command. Arrays (items, acked, redelivered)
 * in a decoded command are owned by the command: free with jscmd_free. In a
 * command the caller builds for jscmd_encode every pointer is borrowed and
 * stays the caller's (never pass such a command to jscmd_free).
 *
 * Each op reads and fills only its own fields (spec/raft.md §8.3 table):
 *   STREAM_CREATE    stream, config, created_ns, acct_max?, acct_streams?, req
 *   STREAM_UPDATE    stream, config, acct_max?, req
 *   STREAM_DELETE    stream, req
 *   STREAM_PURGE     stream, filter?, seq? (has_seq), keep? (has_keep), req
 *   MSG_DELETE       stream, seq (has_seq must be set), no_erase?, req
 *   STREAM_EXPIRE    stream, cutoff_ns, now_ns? (no req)
 *   STREAM_SYNC      stream, seq (has_seq must be set: the most messages
 *                    to copy) (no req)
 *   CONSUMER_CREATE  stream, consumer, config, created_ns, deliver_seen?,
 *                    deliver_bound?, acct_consumers?, action?, req
 *   CONSUMER_UPDATE  stream, consumer, config, req
 *   CONSUMER_DELETE  stream, consumer, req
 *   PUBLISH          pub (acct_max?, acct_limit? in pub; stream and req may be given in c or in c->pub;
 *                    if in both they must be equal; decode fills both)
 *   PUBLISH_BATCH    pubs/npubs (npubs >= 1; each item has its own req)
 *   CONSUMER_ACKS    acks (stream and consumer likewise in c or c->acks)
 *   ACKS_BATCH       ackss/nackss (nackss >= 1)
 * Optional keys are encoded when set: bytes with a non-NULL ptr, u64s with
 * their has_* flag, req and rollup when non-zero, no_erase when true.
 * pub.data is required but may be empty (ptr NULL, len 0 encodes as an
 * empty bin). acked and redelivered are always encoded (maybe empty). */
struct jscmd {
    enum jscmd_op op;
    uint64_t req;                     /* proposer's correlation id; 0 = none */
    struct jscmd_bytes stream;        /* every op but the *_BATCH ones */
    struct jscmd_bytes consumer;      /* consumer ops */
    struct jscmd_bytes config;        /* normalised config JSON (create/update) */
    uint64_t acct_max;                /* stream create/update, key 12: the
                                         account's limit for the stream's
                                         storage kind (max_bytes reservations
                                         must fit in it); 0 = none */
    uint64_t acct_streams;            /* stream create, key 13: the account's
                                         max_streams (10027); 0 = none */
    uint64_t acct_consumers;          /* consumer create, key 7: the
                                         account's max_consumers per stream
                                         (10026); 0 = none */
    uint8_t action;                   /* consumer create, key 8: 2.10's
                                         request action (JSCMD_ACTION_*) */
    uint64_t created_ns;
    struct jscmd_bytes deliver_seen;  /* consumer create, key 5 (Tern's, not
                                         in the spec's table yet): the
                                         deliver subject the proposer saw on
                                         the consumer, "" when there was none
                                         (no consumer, or a pull one); absent:
                                         no binding check (older entries) */
    bool deliver_bound;               /* key 6: and that subject had interest:
                                         apply refuses to move a push consumer
                                         whose old subject is bound (10013),
                                         or that another create moved since */
    struct jscmd_bytes filter;        /* purge */
    bool has_seq, has_keep;
    uint64_t seq, keep;               /* purge; msg delete (seq) */
    bool no_erase;                    /* msg delete */
    uint64_t cutoff_ns;               /* expire: remove messages older */
    uint64_t now_ns;                  /* expire, key 9: the proposer's clock;
                                         msg-ids older than now_ns minus
                                         the duplicate window are pruned
                                         (0 = prune none) */
    struct jscmd_publish pub;         /* JSCMD_PUBLISH */
    struct jscmd_publish *pubs;       /* JSCMD_PUBLISH_BATCH */
    size_t npubs;
    struct jscmd_acks acks;           /* JSCMD_CONSUMER_ACKS */
    struct jscmd_acks *ackss;         /* JSCMD_CONSUMER_ACKS_BATCH */
    size_t nackss;
};

/* Encode into a malloc'd buffer whose length is a multiple of 8 (*out,
 * *len; caller frees with free()). Keys are packed in ascending order, so
 * equal commands give equal bytes. 0, -EINVAL (unknown op, missing required
 * field, ptr NULL with len > 0, empty batch, a length or count over
 * UINT32_MAX, stream/req/consumer given twice and different), -ENOMEM.
 * *out and *len are untouched on failure. */
int jscmd_encode(const struct jscmd *c, char **out, size_t *len);
/* Decode one entry of exactly len bytes (envelope + body + padding). 0, or
 * -EPROTO for anything malformed (bad magic, version, opcode, flags, length,
 * non-zero padding, msgpack that is not exactly one map, containers nested
 * over 16 deep, wrong key types, a known key twice, missing required keys,
 * an empty batch), -ENOMEM, -EINVAL (out NULL). Keys of other numbers or
 * types are ignored. Never reads past len. On failure *out is zeroed (and
 * owns nothing); on success free it with jscmd_free. */
int jscmd_decode(const char *buf, size_t len, struct jscmd *out);
/* Free the arrays of a decoded command and zero it. NULL is a no-op. */
void jscmd_free(struct jscmd *c);
/* The spec's name ("PUBLISH", ...), "UNKNOWN" for other values; static. */
const char *jscmd_op_name(enum jscmd_op op);

#endif
