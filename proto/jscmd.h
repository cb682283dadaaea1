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

enum jscmd_op {
    JSCMD_STREAM_CREATE = 0x01,
    JSCMD_STREAM_UPDATE = 0x02,
    JSCMD_STREAM_DELETE = 0x03,
    JSCMD_STREAM_PURGE = 0x04,
    JSCMD_MSG_DELETE = 0x05,
    JSCMD_STREAM_EXPIRE = 0x06,
    JSCMD_CONSUMER_CREATE = 0x10,
    JSCMD_CONSUMER_UPDATE = 0x11,
    JSCMD_CONSUMER_DELETE = 0x12,
    JSCMD_PUBLISH = 0x20,
    JSCMD_PUBLISH_BATCH = 0x21,
    JSCMD_CONSUMER_ACKS = 0x30,
    JSCMD_CONSUMER_ACKS_BATCH = 0x31,
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
    uint8_t rollup;                   /* 0 none, 1 sub, 2 all */
    uint64_t req;
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
};

/* A decoded or to-be-encoded command. Arrays (items, acked, redelivered)
 * in a decoded command are owned by the command: free with jscmd_free. In a
 * command the caller builds for jscmd_encode every pointer is borrowed and
 * stays the caller's (never pass such a command to jscmd_free).
 *
 * Each op reads and fills only its own fields (spec/raft.md §8.3 table):
 *   STREAM_CREATE    stream, config, created_ns, req
 *   STREAM_UPDATE    stream, config, req
 *   STREAM_DELETE    stream, req
 *   STREAM_PURGE     stream, filter?, seq? (has_seq), keep? (has_keep), req
 *   MSG_DELETE       stream, seq (has_seq must be set), no_erase?, req
 *   STREAM_EXPIRE    stream, cutoff_ns (no req)
 *   CONSUMER_CREATE  stream, consumer, config, created_ns, req
 *   CONSUMER_UPDATE  stream, consumer, config, req
 *   CONSUMER_DELETE  stream, consumer, req
 *   PUBLISH          pub (stream and req may be given in c or in c->pub;
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
    uint64_t created_ns;
    struct jscmd_bytes filter;        /* purge */
    bool has_seq, has_keep;
    uint64_t seq, keep;               /* purge; msg delete (seq) */
    bool no_erase;                    /* msg delete */
    uint64_t cutoff_ns;               /* expire */
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
