/*
 * server/jetstream/js_snapshot.c — the state machine's snapshot and restore
 * (js_fsm.h): the whole replicated state as one msgpack value, and the
 * state rebuilt from one.
 *
 * The snapshot is written with msgpack-c, shortest encodings throughout,
 * and read back by a strict cursor of its own (below) rather than by
 * msgpack_unpack: the bytes come from the network, msgpack-c allocates an
 * array's objects from the count in its header before reading them, and a
 * stream of 100,000 messages would become 600,000 objects. The cursor
 * allocates nothing; every count is checked against the bytes left, every
 * type against the one the format puts there, and any doubt is -EPROTO.
 *
 * Format, version 2 (version 1, still read, is the same without a
 * stream's 11th item). msgpack throughout (big-endian lengths and integers).
 * "uint" is a non-negative integer, written in the shortest form (positive
 * fixint 00-7f, cc u8, cd u16, ce u32, cf u64); "int" an int64, written as
 * uint when >= 0 and else in the shortest of negative fixint e0-ff, d0 i8,
 * d1 i16, d2 i32, d3 i64; the reader accepts any width of either. "str" is
 * a0-bf fixstr, d9 str8, da str16 or db str32; "bin" c4 bin8, c5 bin16,
 * c6 bin32 (an empty one is c4 00); "[n]" an array of exactly n items
 * (90-9f fixarray, dc array16, dd array32); "[*]" one of any length.
 *
 *   snapshot  = [3] magic version streams
 *     magic     str "tern.js.snapshot": the bytes begin 93 b0 74 65 72 6e
 *               2e 6a 73 2e 73 6e 61 70 73 68 6f 74
 *     version   uint 2 (the byte 02)
 *     streams   [*] stream, in creation order
 *   stream    = [12]
 *     0 name        str, 1-255 bytes, no '/', '\\' or NUL (it names the
 *                   directory of a file stream)
 *     1 config      str: the normalised StreamConfig JSON
 *                   (js_stream_config_to_json)
 *     2 created     int, ns since the Unix epoch
 *     3 clock       int, ns: the latest time apply has seen for it
 *     4 first_seq   uint: the first stored, or last_seq + 1 when empty
 *     5 last_seq    uint: the last sequence assigned, 0 none
 *     6 last_ts     int: the time of last_seq (0 when none)
 *     7 messages    [*] message, ascending sequence
 *     8 msg ids     [*] msgid, in arrival order (the dedupe window)
 *     9 last msg id bin (no NUL), or nil c0 when it had none
 *    10 consumers   [*] consumer, in creation order
 *    11 sources     [*] uint: each source's cursor (the next origin
 *                   sequence it considers), in config order; [] when none
 *   message   = [5] seq (uint), ts (int), subject (str), header block (bin,
 *               empty when none), payload (bin)
 *   msgid     = [3] id (bin, 1 byte or more), seq (uint), ts (int)
 *   consumer  = [10] name (str, no NUL), config (str: the normalised
 *               ConsumerConfig JSON), created (int), then its js_cprog:
 *               start_sseq, floor_sseq, floor_cseq, delivered_sseq,
 *               delivered_cseq (uint each), acked ([*] uint, ascending,
 *               repeats kept, each above floor_sseq), redelivered ([*]
 *               [2] sseq (uint), count (uint))
 *
 * (server/store/FORMAT.md has the same tables.) Nothing follows the
 * snapshot value; a new field or meaning needs version 3. Restore also
 * checks what the state itself implies: sequences ascend and stay within
 * last_seq, first_seq matches, the last message's time is last_ts, no
 * stream, consumer or msg id twice, configs that parse, stream subjects
 * that do not overlap. Runs on the JetStream loop only.
 */
#include <errno.h>
#include <inttypes.h>
#include <msgpack.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "server/jetstream/js_consumer.h"
#include "server/jetstream/js_fsm.h"
#include "server/jetstream/js_source.h"
#include "server/jetstream/js_internal.h"
#include "server/log.h"

#define SNAP_MAGIC "tern.js.snapshot"
#define SNAP_VERSION 2 /* written; 1 is read too (no source cursors) */
#define NAME_MAX_LEN 255

/* ---- writing ---- */

/* The packer's output: one malloc'd buffer, sized up front from the
 * stores' byte counts and doubled when that was short. */
struct wbuf {
    char *data;     /* owned until handed to the caller */
    size_t len, cap;
    int err;        /* first failure (-ENOMEM); later writes are dropped */
};

static int wbuf_write(void *arg, const char *p, size_t n)
{
    struct wbuf *w = arg;
    if (w->err)
        return -1;
    if (!n)
        return 0;
    if (n > w->cap - w->len) {
        size_t cap = w->cap ? w->cap : 4096;
        while (n > cap - w->len) {
            if (cap > SIZE_MAX / 2) {
                w->err = -ENOMEM;
                return -1;
            }
            cap *= 2;
        }
        char *d = realloc(w->data, cap);
        if (!d) {
            w->err = -ENOMEM;
            return -1;
        }
        w->data = d;
        w->cap = cap;
    }
    memcpy(w->data + w->len, p, n);
    w->len += n;
    return 0;
}

static void put_str(msgpack_packer *pk, const char *s, size_t n)
{
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

static void put_bin(msgpack_packer *pk, const char *s, size_t n)
{
    msgpack_pack_bin(pk, n);
    msgpack_pack_bin_body(pk, s, n);
}

static int put_consumer(msgpack_packer *pk, const struct js_consumer *c)
{
    const struct js_cprog *p = &c->rep;
    if (p->nacked > UINT32_MAX || p->nredelivered > UINT32_MAX)
        return -EFBIG;
    char *cfg = js_consumer_config_to_json(&c->cfg);
    if (!cfg)
        return -ENOMEM;
    msgpack_pack_array(pk, 10);
    put_str(pk, c->name, c->name_len);
    put_str(pk, cfg, strlen(cfg));
    free(cfg);
    msgpack_pack_int64(pk, c->created);
    msgpack_pack_uint64(pk, p->start_sseq);
    msgpack_pack_uint64(pk, p->floor_sseq);
    msgpack_pack_uint64(pk, p->floor_cseq);
    msgpack_pack_uint64(pk, p->delivered_sseq);
    msgpack_pack_uint64(pk, p->delivered_cseq);
    msgpack_pack_array(pk, (size_t)p->nacked);
    for (size_t i = 0; i < p->nacked; i++)
        msgpack_pack_uint64(pk, p->acked[i]);
    msgpack_pack_array(pk, (size_t)p->nredelivered);
    for (size_t i = 0; i < p->nredelivered; i++) {
        msgpack_pack_array(pk, 2);
        msgpack_pack_uint64(pk, p->redelivered[i][0]);
        msgpack_pack_uint64(pk, p->redelivered[i][1]);
    }
    return 0;
}

/* The stored messages, read back one by one (a file store preads each). */
static int put_messages(msgpack_packer *pk, struct js_stream *st, const struct store_state *s)
{
    if (s->msgs > UINT32_MAX)
        return -EFBIG;
    msgpack_pack_array(pk, (size_t)s->msgs);
    struct store_msg m = { 0 };
    uint64_t n = 0;
    int rc = 0;
    for (uint64_t seq = s->first_seq; n < s->msgs &&
                                      (rc = store_load_next(st->store, seq, NULL, 0, &m)) == 0;
         seq = m.seq + 1, n++) {
        msgpack_pack_array(pk, 5);
        msgpack_pack_uint64(pk, m.seq);
        msgpack_pack_int64(pk, m.ts);
        put_str(pk, m.subject, m.subject_len);
        put_bin(pk, m.hdr, m.hdr_len);
        put_bin(pk, m.data, m.data_len);
    }
    store_msg_free(&m);
    if (n == s->msgs)
        return 0;
    LOG_ERROR("JetStream: snapshot: stream '%s': message %" PRIu64 " of %" PRIu64
              " could not be read: %s", st->cfg.name, n + 1, s->msgs, strerror(-rc));
    return rc == -ENOENT ? -EIO : rc;
}

static int put_stream(msgpack_packer *pk, struct js_stream *st)
{
    struct store_state s;
    store_get_state(st->store, &s);
    size_t nids = 0, ncons = 0;
    for (struct js_msgid *e = st->msgid_head; e; e = e->next)
        nids++;
    for (struct js_consumer *c = st->consumers; c; c = js_consumer_next(c))
        ncons++;
    if (nids > UINT32_MAX || ncons > UINT32_MAX)
        return -EFBIG;
    char *cfg = js_stream_config_to_json(&st->cfg);
    if (!cfg)
        return -ENOMEM;
    msgpack_pack_array(pk, 12);
    put_str(pk, st->cfg.name, strlen(st->cfg.name));
    put_str(pk, cfg, strlen(cfg));
    free(cfg);
    msgpack_pack_int64(pk, st->created);
    msgpack_pack_int64(pk, st->clock);
    msgpack_pack_uint64(pk, s.first_seq);
    msgpack_pack_uint64(pk, s.last_seq);
    msgpack_pack_int64(pk, s.last_ts);
    int rc = put_messages(pk, st, &s);
    if (rc < 0)
        return rc;
    msgpack_pack_array(pk, nids);
    for (struct js_msgid *e = st->msgid_head; e; e = e->next) {
        msgpack_pack_array(pk, 3);
        put_bin(pk, e->key.bytes, e->key.len);
        msgpack_pack_uint64(pk, e->seq);
        msgpack_pack_int64(pk, e->ts);
    }
    if (st->last_msg_id)
        put_bin(pk, st->last_msg_id, strlen(st->last_msg_id));
    else
        msgpack_pack_nil(pk);
    msgpack_pack_array(pk, ncons);
    for (struct js_consumer *c = st->consumers; c; c = js_consumer_next(c))
        if ((rc = put_consumer(pk, c)) < 0)
            return rc;
    size_t nsrc = st->sources ? st->sources->n : 0;
    msgpack_pack_array(pk, nsrc);
    for (size_t i = 0; i < nsrc; i++)
        msgpack_pack_uint64(pk, st->sources->v[i].cursor);
    return 0;
}

int js_fsm_snapshot(struct js *js, void **buf, size_t *len)
{
    /* Streams in creation order: the list is newest first, and restore
     * creates them in snapshot order, so a restored engine lists them as
     * the original did and its own snapshot is the same bytes. */
    struct js_stream **v = calloc(js->nstreams ? js->nstreams : 1, sizeof *v);
    if (!v)
        return -ENOMEM;
    size_t n = 0;
    uint64_t hint = 64;
    for (struct js_stream *st = js->streams; st && n < js->nstreams; st = st->next) {
        v[n++] = st;
        struct store_state s;
        store_get_state(st->store, &s);
        hint += 4096 + s.bytes + 8 * s.msgs;
    }
    struct wbuf w = { 0 };
    w.cap = hint < (64u << 20) ? (size_t)hint : (64u << 20);
    w.data = malloc(w.cap);
    int rc = w.data ? 0 : -ENOMEM;
    msgpack_packer pk;
    msgpack_packer_init(&pk, &w, wbuf_write);
    if (rc == 0) {
        msgpack_pack_array(&pk, 3);
        put_str(&pk, SNAP_MAGIC, strlen(SNAP_MAGIC));
        msgpack_pack_uint64(&pk, SNAP_VERSION);
        msgpack_pack_array(&pk, n);
    }
    for (size_t i = n; rc == 0 && i-- > 0;)
        if ((rc = put_stream(&pk, v[i])) == 0)
            rc = w.err;
    free(v);
    if (rc == 0)
        rc = w.err;
    if (rc < 0) {
        free(w.data);
        return rc;
    }
    *buf = w.data;
    *len = w.len;
    return 0;
}

/* ---- reading: a strict msgpack cursor ---- */

/* Over the borrowed snapshot bytes. why keeps the first fault. */
struct rd {
    const uint8_t *base, *p, *end;
    char why[200];
};

static int bad(struct rd *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int bad(struct rd *r, const char *fmt, ...)
{
    if (!r->why[0]) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(r->why, sizeof r->why, fmt, ap);
        va_end(ap);
    }
    return -EPROTO;
}

static size_t left(const struct rd *r)
{
    return (size_t)(r->end - r->p);
}

static uint64_t be(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

/* A length or value of n big-endian bytes after the type byte. */
static int rd_follow(struct rd *r, int n, uint64_t *v, const char *what)
{
    if (left(r) < 1 + (size_t)n)
        return bad(r, "%s: truncated", what);
    *v = be(r->p + 1, n);
    r->p += 1 + n;
    return 0;
}

static int rd_array(struct rd *r, size_t *n, const char *what)
{
    if (!left(r))
        return bad(r, "%s: truncated", what);
    uint8_t t = *r->p;
    uint64_t v = 0;
    if ((t & 0xf0) == 0x90) {
        v = t & 0x0f;
        r->p++;
    } else if (t == 0xdc || t == 0xdd) {
        if (rd_follow(r, t == 0xdc ? 2 : 4, &v, what) < 0)
            return -EPROTO;
    } else {
        return bad(r, "%s: not an array (type byte 0x%02x)", what, t);
    }
    /* Every item takes a byte at least: a count past the end is a lie. */
    if (v > left(r))
        return bad(r, "%s: %" PRIu64 " items in %zu bytes", what, v, left(r));
    *n = (size_t)v;
    return 0;
}

static int rd_tuple(struct rd *r, size_t want, const char *what)
{
    size_t n;
    if (rd_array(r, &n, what) < 0)
        return -EPROTO;
    if (n != want)
        return bad(r, "%s: %zu items, not %zu", what, n, want);
    return 0;
}

static int rd_uint(struct rd *r, uint64_t *v, const char *what)
{
    if (!left(r))
        return bad(r, "%s: truncated", what);
    uint8_t t = *r->p;
    if (t <= 0x7f) {
        *v = t;
        r->p++;
        return 0;
    }
    if (t >= 0xcc && t <= 0xcf)
        return rd_follow(r, 1 << (t - 0xcc), v, what);
    return bad(r, "%s: not an unsigned integer (type byte 0x%02x)", what, t);
}

static int rd_int(struct rd *r, int64_t *v, const char *what)
{
    if (!left(r))
        return bad(r, "%s: truncated", what);
    uint8_t t = *r->p;
    uint64_t u = 0;
    if (t >= 0xe0) {
        *v = (int8_t)t;
        r->p++;
        return 0;
    }
    if (t >= 0xd0 && t <= 0xd3) {
        int n = 1 << (t - 0xd0);
        if (rd_follow(r, n, &u, what) < 0)
            return -EPROTO;
        /* Sign-extend from n bytes. */
        *v = n == 8 ? (int64_t)u : (int64_t)(u ^ (1ULL << (8 * n - 1))) - (int64_t)(1ULL << (8 * n - 1));
        return 0;
    }
    if (rd_uint(r, &u, what) < 0)
        return -EPROTO;
    if (u > INT64_MAX)
        return bad(r, "%s: %" PRIu64 " is past int64", what, u);
    *v = (int64_t)u;
    return 0;
}

static int rd_bytes(struct rd *r, bool bin, const char **s, size_t *n, const char *what)
{
    if (!left(r))
        return bad(r, "%s: truncated", what);
    uint8_t t = *r->p;
    uint64_t v = 0;
    if (!bin && (t & 0xe0) == 0xa0) {
        v = t & 0x1f;
        r->p++;
    } else if (!bin && t >= 0xd9 && t <= 0xdb) {
        if (rd_follow(r, 1 << (t - 0xd9), &v, what) < 0)
            return -EPROTO;
    } else if (bin && t >= 0xc4 && t <= 0xc6) {
        if (rd_follow(r, 1 << (t - 0xc4), &v, what) < 0)
            return -EPROTO;
    } else {
        return bad(r, "%s: not a %s (type byte 0x%02x)", what, bin ? "bin" : "str", t);
    }
    if (v > left(r))
        return bad(r, "%s: %" PRIu64 " bytes, %zu left", what, v, left(r));
    *s = (const char *)r->p;
    *n = (size_t)v;
    r->p += v;
    return 0;
}

static int rd_str(struct rd *r, const char **s, size_t *n, const char *what)
{
    return rd_bytes(r, false, s, n, what);
}

static int rd_bin(struct rd *r, const char **s, size_t *n, const char *what)
{
    return rd_bytes(r, true, s, n, what);
}

/* A name kept as a C string: 1-255 bytes, no NUL. */
static int rd_name(struct rd *r, char out[NAME_MAX_LEN + 1], const char *what)
{
    const char *s;
    size_t n;
    if (rd_str(r, &s, &n, what) < 0)
        return -EPROTO;
    if (!n || n > NAME_MAX_LEN || memchr(s, '\0', n))
        return bad(r, "%s: not a name (%zu bytes)", what, n);
    memcpy(out, s, n);
    out[n] = '\0';
    return 0;
}

/* ---- restoring ---- */

static void clear_all(struct js *js)
{
    while (js->streams) {
        struct js_stream *st = js->streams;
        char name[NAME_MAX_LEN + 1];
        snprintf(name, sizeof name, "%s", st->cfg.name);
        int rc = js_apply_stream_delete(js, st);
        if (rc < 0)
            LOG_WARN("JetStream: stream '%s': removing its files: %s", name, strerror(-rc));
    }
}

/* A directory of this name that no stream owned (left by a stream whose
 * metadata could not be read at start-up) would hand its messages to the
 * stream rebuilt there: the snapshot is the state, so it goes. */
static int clear_leftover(struct js *js, const char *name)
{
    char dir[4096];
    struct stat sb;
    snprintf(dir, sizeof dir, "%s/%s", js->root, name);
    if (stat(dir, &sb) < 0)
        return errno == ENOENT ? 0 : -errno;
    LOG_WARN("JetStream: %s belonged to no stream; the snapshot's stream '%s' replaces it", dir,
             name);
    struct store_options so = { .kind = STORE_FILE, .dir = dir };
    struct store *old;
    int rc = store_open(&so, &old, NULL);
    if (rc == 0)
        rc = store_destroy(old);
    if (rc < 0)
        LOG_ERROR("JetStream: cannot remove %s: %s", dir, strerror(-rc));
    return rc;
}

/* A js_cprog as a CONSUMER_ACKS command carries it, so restore applies
 * exactly what the log would; the arrays are malloc'd here. */
static int rd_progress(struct rd *r, struct jscmd_acks *a, uint64_t **acked,
                       uint64_t (**redelivered)[2])
{
    if (rd_uint(r, &a->start_sseq, "consumer start") < 0 ||
        rd_uint(r, &a->ack_floor_sseq, "consumer floor") < 0 ||
        rd_uint(r, &a->ack_floor_cseq, "consumer floor") < 0 ||
        rd_uint(r, &a->delivered_sseq, "consumer delivered") < 0 ||
        rd_uint(r, &a->delivered_cseq, "consumer delivered") < 0)
        return -EPROTO;
    size_t n;
    if (rd_array(r, &n, "consumer acked") < 0)
        return -EPROTO;
    /* n <= bytes left (rd_array), so this is bounded by the input. */
    if (n && !(*acked = malloc(n * sizeof **acked)))
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        if (rd_uint(r, &(*acked)[i], "consumer acked") < 0)
            return -EPROTO;
        /* As apply keeps them (sorted, above the floor; a command that
         * named one twice keeps it twice). */
        if ((*acked)[i] <= a->ack_floor_sseq || (i && (*acked)[i] < (*acked)[i - 1]))
            return bad(r, "consumer acked: %" PRIu64 " out of order", (*acked)[i]);
    }
    a->acked = *acked;
    a->nacked = n;
    if (rd_array(r, &n, "consumer redelivered") < 0)
        return -EPROTO;
    if (n && !(*redelivered = malloc(n * sizeof **redelivered)))
        return -ENOMEM;
    for (size_t i = 0; i < n; i++)
        if (rd_tuple(r, 2, "consumer redelivered") < 0 ||
            rd_uint(r, &(*redelivered)[i][0], "consumer redelivered") < 0 ||
            rd_uint(r, &(*redelivered)[i][1], "consumer redelivered") < 0)
            return -EPROTO;
    a->redelivered = (const uint64_t(*)[2]) * redelivered;
    a->nredelivered = n;
    return 0;
}

static int restore_consumer(struct rd *r, struct js_stream *st)
{
    char *name = NULL;
    const char *json, *nm;
    size_t jlen, nlen;
    int64_t created;
    struct jscmd_acks a = { 0 };
    uint64_t *acked = NULL;
    uint64_t(*redelivered)[2] = NULL;
    struct js_consumer_config cfg = { 0 };
    struct js_err e = { 0 };
    int rc;
    if (rd_tuple(r, 10, "consumer") < 0 || rd_str(r, &nm, &nlen, "consumer name") < 0 ||
        rd_str(r, &json, &jlen, "consumer config") < 0 ||
        rd_int(r, &created, "consumer created") < 0) {
        rc = -EPROTO;
        goto out;
    }
    /* Apply takes a consumer's name as the command gives it (the API
     * limits it, apply does not), so only what a C string cannot hold is
     * refused here. */
    if (memchr(nm, '\0', nlen)) {
        rc = bad(r, "consumer name with a NUL");
        goto out;
    }
    if (!(name = strndup(nm, nlen))) {
        rc = -ENOMEM;
        goto out;
    }
    if ((rc = rd_progress(r, &a, &acked, &redelivered)) < 0)
        goto out;
    if (js_consumer_find(st, name, strlen(name))) {
        rc = bad(r, "consumer '%s > %s' twice", st->cfg.name, name);
        goto out;
    }
    if (js_consumer_config_from_json(st, json, jlen, name, &cfg, &e) < 0) {
        rc = bad(r, "consumer '%s > %s': config: %s", st->cfg.name, name, e.description);
        goto out;
    }
    struct js_consumer *c;
    if ((rc = js_consumer_apply_create(st, name, &cfg, created, false, &c)) < 0)
        goto out;
    a.stream = (struct jscmd_bytes){ st->cfg.name, strlen(st->cfg.name) };
    a.consumer = (struct jscmd_bytes){ name, strlen(name) };
    /* restore: no removal (the snapshot's messages are what was kept) and
     * no write; the state is written once, below. */
    if ((rc = js_consumer_apply_acks(c, &a, true)) == 0)
        rc = js_consumer_save(c);
out:
    js_consumer_config_free(&cfg);
    free(acked);
    free(redelivered);
    free(name);
    return rc;
}

/* The stream's messages, with their sequences, and its last sequence. */
static int restore_messages(struct rd *r, struct js_stream *st, uint64_t first_seq,
                            uint64_t last_seq, int64_t last_ts)
{
    size_t n;
    if (rd_array(r, &n, "messages") < 0)
        return -EPROTO;
    uint64_t prev = 0;
    int64_t prev_ts = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t seq;
        int64_t ts;
        const char *subj, *hdr, *data;
        size_t slen, hlen, dlen;
        if (rd_tuple(r, 5, "message") < 0 || rd_uint(r, &seq, "message seq") < 0 ||
            rd_int(r, &ts, "message ts") < 0 || rd_str(r, &subj, &slen, "message subject") < 0 ||
            rd_bin(r, &hdr, &hlen, "message header") < 0 ||
            rd_bin(r, &data, &dlen, "message payload") < 0)
            return -EPROTO;
        if (seq <= prev || seq > last_seq || (i == 0 && seq != first_seq))
            return bad(r, "stream '%s': message sequence %" PRIu64 " out of place",
                       st->cfg.name, seq);
        int rc = store_append_at(st->store, seq, subj, slen, hlen ? hdr : NULL, hlen, data,
                                 dlen, ts);
        if (rc == -EINVAL || rc == -EMSGSIZE)
            return bad(r, "stream '%s': message %" PRIu64 ": %s", st->cfg.name, seq,
                       strerror(-rc));
        if (rc < 0)
            return rc;
        prev = seq;
        prev_ts = ts;
    }
    if (!n && first_seq != last_seq + 1)
        return bad(r, "stream '%s': empty, yet first sequence %" PRIu64 " after %" PRIu64,
                   st->cfg.name, first_seq, last_seq);
    if (n && prev == last_seq) {
        if (prev_ts != last_ts)
            return bad(r, "stream '%s': last message's time is not last_ts", st->cfg.name);
        return 0;
    }
    int rc = store_set_last(st->store, last_seq, last_ts);
    return rc == -EINVAL ? bad(r, "stream '%s': last_ts %" PRId64 " without a last sequence",
                               st->cfg.name, last_ts)
                         : rc;
}

static int restore_msgids(struct rd *r, struct js_stream *st)
{
    size_t n;
    if (rd_array(r, &n, "msg ids") < 0)
        return -EPROTO;
    for (size_t i = 0; i < n; i++) {
        const char *id;
        size_t len;
        uint64_t seq;
        int64_t ts;
        if (rd_tuple(r, 3, "msg id") < 0 || rd_bin(r, &id, &len, "msg id") < 0 ||
            rd_uint(r, &seq, "msg id seq") < 0 || rd_int(r, &ts, "msg id ts") < 0)
            return -EPROTO;
        if (!len)
            return bad(r, "stream '%s': an empty msg id", st->cfg.name);
        int rc = js_msgid_add(st, id, len, seq, ts);
        if (rc == -EEXIST)
            return bad(r, "stream '%s': msg id '%.*s' twice", st->cfg.name,
                       (int)(len < 64 ? len : 64), id);
        if (rc < 0)
            return rc;
    }
    if (left(r) && *r->p == 0xc0) {
        r->p++;
        return 0;
    }
    const char *id;
    size_t len;
    if (rd_bin(r, &id, &len, "last msg id") < 0)
        return -EPROTO;
    /* The engine keeps it as a C string (strndup), so it never held a
     * NUL, and may be empty (an id that began with one). */
    if (memchr(id, '\0', len))
        return bad(r, "stream '%s': last msg id with a NUL", st->cfg.name);
    js_msgid_set_last(st, id, len);
    return st->last_msg_id ? 0 : -ENOMEM;
}

/* Version 2's source cursors, in the order of the stream's sources. */
static int restore_cursors(struct rd *r, struct js_stream *st)
{
    size_t n;
    if (rd_array(r, &n, "source cursors") < 0)
        return -EPROTO;
    if (n != (st->sources ? st->sources->n : 0))
        return bad(r, "stream '%s': %zu source cursors for %zu sources", st->cfg.name, n,
                   st->sources ? st->sources->n : 0);
    for (size_t i = 0; i < n; i++)
        if (rd_uint(r, &st->sources->v[i].cursor, "source cursor") < 0)
            return -EPROTO;
    return 0;
}

static int restore_stream(struct rd *r, struct js *js, uint64_t version)
{
    char name[NAME_MAX_LEN + 1];
    const char *json;
    size_t jlen;
    int64_t created, clock, last_ts;
    uint64_t first_seq, last_seq;
    if (rd_tuple(r, version >= 2 ? 12 : 11, "stream") < 0 ||
        rd_name(r, name, "stream name") < 0 ||
        rd_str(r, &json, &jlen, "stream config") < 0 ||
        rd_int(r, &created, "stream created") < 0 || rd_int(r, &clock, "stream clock") < 0 ||
        rd_uint(r, &first_seq, "first_seq") < 0 || rd_uint(r, &last_seq, "last_seq") < 0 ||
        rd_int(r, &last_ts, "last_ts") < 0)
        return -EPROTO;
    /* The name becomes a directory: the create path refuses separators
     * (10128) and the config check refuses '.', so no state has them. */
    if (strpbrk(name, "/\\"))
        return bad(r, "stream name '%s' has a path separator", name);
    if (js_stream_find(js, name, strlen(name)))
        return bad(r, "stream '%s' twice", name);
    if (last_seq == UINT64_MAX)
        return bad(r, "stream '%s': last_seq at the end of the sequence space", name);
    struct js_stream_config cfg = { 0 };
    struct js_err e = { 0 };
    /* As start-up reads meta.json: the update form, since a sealed stream
     * (which a create refuses) is a state like any other. */
    if (js_stream_config_parse(json, jlen, name, false, false, 1, &cfg, &e) < 0) {
        js_stream_config_free(&cfg);
        return bad(r, "stream '%s': config: %s", name, e.description);
    }
    int rc = clear_leftover(js, name);
    struct js_result res = { 0 };
    if (rc == 0)
        rc = js_apply_stream_create(js, &cfg, created, 0, &res);
    js_stream_config_free(&cfg);
    if (rc < 0)
        return rc;
    if (!js_result_ok(&res))
        return bad(r, "stream '%s': %s", name, res.err.description);
    struct js_stream *st = js_stream_by_id(js, res.stream_id);
    if ((rc = restore_messages(r, st, first_seq, last_seq, last_ts)) < 0 ||
        (rc = restore_msgids(r, st)) < 0)
        return rc;
    st->clock = clock;
    size_t n;
    if (rd_array(r, &n, "consumers") < 0)
        return -EPROTO;
    for (size_t i = 0; i < n; i++)
        if ((rc = restore_consumer(r, st)) < 0)
            return rc;
    if (version >= 2 && (rc = restore_cursors(r, st)) < 0)
        return rc;
    if (st->sources)
        st->sources->unsaved = true;
    if ((rc = js_source_save(st)) < 0)
        return rc;
    /* On disk before it counts as restored: raft may drop the log entries
     * this snapshot stands for. */
    if ((rc = store_sync(st->store)) < 0)
        return rc;
    st->dirty = st->removed = false;
    return 0;
}

static int restore_all(struct rd *r, struct js *js, size_t *nstreams)
{
    const char *magic;
    size_t mlen, n;
    uint64_t version;
    if (rd_tuple(r, 3, "snapshot") < 0 || rd_str(r, &magic, &mlen, "magic") < 0)
        return -EPROTO;
    if (mlen != strlen(SNAP_MAGIC) || memcmp(magic, SNAP_MAGIC, mlen) != 0)
        return bad(r, "not a JetStream snapshot (magic)");
    if (rd_uint(r, &version, "version") < 0)
        return -EPROTO;
    if (version < 1 || version > SNAP_VERSION)
        return bad(r, "snapshot version %" PRIu64 ", this server reads 1 to %d", version,
                   SNAP_VERSION);
    if (rd_array(r, &n, "streams") < 0)
        return -EPROTO;
    for (size_t i = 0; i < n; i++) {
        int rc = restore_stream(r, js, version);
        if (rc < 0)
            return rc;
    }
    if (left(r))
        return bad(r, "%zu bytes after the snapshot", left(r));
    *nstreams = n;
    return 0;
}

int js_fsm_restore(struct js *js, const void *buf, size_t len)
{
    if (js->active) {
        LOG_ERROR("JetStream: a snapshot cannot be restored while this node serves JetStream");
        return -EBUSY;
    }
    if (!buf && len)
        return -EINVAL;
    clear_all(js);
    static const uint8_t none[1];
    const uint8_t *p = buf ? buf : none;
    struct rd r = { .base = p, .p = p, .end = p + len };
    size_t n = 0;
    int rc = restore_all(&r, js, &n);
    if (rc < 0) {
        if (rc == -EPROTO)
            LOG_ERROR("JetStream: snapshot of %zu bytes rejected at byte %zu: %s; no stream is "
                      "left", len, (size_t)(r.p - r.base), r.why);
        else
            LOG_ERROR("JetStream: restoring a snapshot of %zu bytes failed: %s; no stream is "
                      "left", len, strerror(-rc));
        clear_all(js);
        return rc;
    }
    LOG_INFO("JetStream: restored %zu streams from a snapshot of %zu bytes", n, len);
    return 0;
}
