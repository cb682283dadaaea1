/*
 * tests/unit/check_js_fsm.c — the JetStream state machine as replicas see
 * it: three replicas in one process, no sockets, no loop.
 *
 * Each case generates random command logs from a seed (js_cmdgen.h: stream
 * creates with every retention, discard policy and limit, updates,
 * deletes, publishes with and without msg-ids, expected-* values right and
 * wrong, rollups, purges with filters, sequences and keeps, message
 * deletes, age expiry, consumers and their acks), passes every command through the msgpack codec (so only what the entry
 * format carries can reach apply), applies it to three replicas, and
 * checks that every replica gave the same result and holds the same state
 * digest. The file-store case then restarts each replica from its
 * directory and compares again. A failing seed is printed so it can be
 * replayed.
 *
 * The snapshot cases (js_snapshot.c) restore one replica's snapshot into
 * a fresh replica and into one holding other state, and require the same
 * digest, the same snapshot bytes, the same behaviour under further
 * commands, and (file stores) the same state after a restart; damaged,
 * cut and foreign snapshots must be refused and leave the replica empty.
 */
#include <check.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proto/jscmd.h"
#include "server/jetstream/js_consumer.h"
#include "server/jetstream/js_fsm.h"
#include "server/jetstream/js_internal.h"
#include "tests/unit/js_cmdgen.h"

#define NREPLICAS 3

struct replicas {
    char dir[NREPLICAS][128];
    struct js *r[NREPLICAS];
};

static void open_all(struct replicas *rs)
{
    for (int i = 0; i < NREPLICAS; i++)
        ck_assert_int_eq(js_fsm_replica_open(rs->dir[i], &rs->r[i]), 0);
}

static void close_all(struct replicas *rs)
{
    for (int i = 0; i < NREPLICAS; i++) {
        js_fsm_replica_close(rs->r[i]);
        rs->r[i] = NULL;
    }
}

static void make_dirs(struct replicas *rs, uint64_t seed)
{
    for (int i = 0; i < NREPLICAS; i++) {
        snprintf(rs->dir[i], sizeof rs->dir[i], "%s/tern-fsm-%d-%" PRIu64 "-%d",
                 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid(), seed, i);
    }
}

static void remove_dirs(struct replicas *rs)
{
    for (int i = 0; i < NREPLICAS; i++) {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", rs->dir[i]);
        ck_assert_int_eq(system(cmd), 0);
    }
}

static bool same_result(const struct js_result *a, const struct js_result *b)
{
    return a->op == b->op && a->err.err_code == b->err.err_code &&
           strcmp(a->err.description, b->err.description) == 0 && a->seq == b->seq &&
           a->duplicate == b->duplicate && a->dropped == b->dropped &&
           a->created == b->created && a->updated == b->updated && a->purged == b->purged;
}

/* How often each op succeeded across a test (so a generator that only
 * produces refusals is noticed). */
static unsigned op_ok[256];

/* Apply one command, through the codec, to every replica. */
static void apply_everywhere(struct replicas *rs, const struct jscmd *c, uint64_t seed, int step,
                             unsigned *ok)
{
    char *entry;
    size_t len;
    ck_assert_int_eq(jscmd_encode(c, &entry, &len), 0);
    struct jscmd d;
    ck_assert_int_eq(jscmd_decode(entry, len, &d), 0);
    struct js_result res[NREPLICAS];
    for (int i = 0; i < NREPLICAS; i++)
        ck_assert_int_eq(js_fsm_apply(rs->r[i], &d, &res[i]), 0);
    for (int i = 1; i < NREPLICAS; i++)
        ck_assert_msg(same_result(&res[0], &res[i]), "seed %" PRIu64 " step %d (%s): results differ",
                      seed, step, jscmd_op_name(c->op));
    if (js_result_ok(&res[0])) {
        (*ok)++;
        op_ok[c->op & 0xff]++;
    }
    jscmd_free(&d);
    free(entry);
}

static void check_digests(struct replicas *rs, uint64_t seed, int step, bool dedupe)
{
    uint64_t d0 = js_fsm_digest(rs->r[0], dedupe);
    for (int i = 1; i < NREPLICAS; i++)
        ck_assert_msg(js_fsm_digest(rs->r[i], dedupe) == d0,
                      "seed %" PRIu64 " step %d: replica %d diverged", seed, step, i);
}

/* One random log of n commands; returns how many succeeded. */
static unsigned run_log(uint64_t seed, int n, bool file, bool restart)
{
    struct replicas rs;
    make_dirs(&rs, seed);
    open_all(&rs);
    rng = seed * 2654435761u + 1;
    struct gen g = { .clock = 1700000000000000000LL, .file = file, .durable_only = restart };
    unsigned ok = 0;
    for (int step = 0; step < n; step++) {
        struct jscmd c;
        gen_command(&g, &c);
        apply_everywhere(&rs, &c, seed, step, &ok);
        if (step % 16 == 15)
            check_digests(&rs, seed, step, true);
    }
    check_digests(&rs, seed, n, true);
    if (restart) {
        uint64_t before = js_fsm_digest(rs.r[0], false);
        close_all(&rs);
        open_all(&rs);
        ck_assert_msg(js_fsm_digest(rs.r[0], false) == before,
                      "seed %" PRIu64 ": state differs after a restart", seed);
        check_digests(&rs, seed, n, true);
        /* The restarted replicas go on applying the same log identically. */
        for (int step = n; step < n + 40; step++) {
            struct jscmd c;
            gen_command(&g, &c);
            apply_everywhere(&rs, &c, seed, step, &ok);
        }
        check_digests(&rs, seed, n + 40, true);
    }
    close_all(&rs);
    remove_dirs(&rs);
    return ok;
}

/* TERN_FSM_SEED=N starts a case at seed N, to replay a reported failure. */
static uint64_t first_seed(uint64_t dflt)
{
    const char *v = getenv("TERN_FSM_SEED");
    return v && *v ? strtoull(v, NULL, 10) : dflt;
}

START_TEST(memory_logs_converge)
{
    unsigned ok = 0;
    for (uint64_t seed = first_seed(1); seed <= 2000; seed++)
        ok += run_log(seed, 80, false, false);
    /* The generator must exercise success paths too, not only refusals. */
    if (first_seed(1) != 1)
        return; /* a replay: the coverage figures below are for whole runs */
    ck_assert_uint_gt(ok, 2000u * 20);
    static const enum jscmd_op ops[] = { JSCMD_STREAM_CREATE, JSCMD_STREAM_UPDATE,
                                         JSCMD_STREAM_DELETE, JSCMD_STREAM_PURGE,
                                         JSCMD_MSG_DELETE, JSCMD_STREAM_EXPIRE,
                                         JSCMD_CONSUMER_CREATE, JSCMD_CONSUMER_DELETE,
                                         JSCMD_CONSUMER_ACKS, JSCMD_PUBLISH,
                                         JSCMD_STREAM_SYNC };
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        ck_assert_msg(op_ok[ops[i]] > 100, "%s succeeded only %u times", jscmd_op_name(ops[i]),
                      op_ok[ops[i]]);
}
END_TEST

START_TEST(file_logs_converge_and_survive_restart)
{
    unsigned ok = 0;
    for (uint64_t seed = first_seed(5001); seed <= 5150; seed++)
        ok += run_log(seed, 120, true, true);
    if (first_seed(5001) == 5001)
        ck_assert_uint_gt(ok, 150u * 30);
}
END_TEST

/* Determinism that does not depend on the generator: the same publish with
 * an earlier clock does not move the stream's time backwards, and a
 * duplicate within the window answers the original sequence. */
START_TEST(clock_and_dedupe)
{
    struct replicas rs;
    make_dirs(&rs, 1);
    open_all(&rs);
    unsigned ok = 0;
    struct jscmd c = { .op = JSCMD_STREAM_CREATE, .stream = B("S"),
                       .config = B("{\"name\":\"S\",\"subjects\":[\"s\"],\"storage\":\"memory\","
                                   "\"duplicate_window\":1000000000}"),
                       .created_ns = 5 };
    apply_everywhere(&rs, &c, 0, 0, &ok);
    struct jscmd p = { .op = JSCMD_PUBLISH };
    p.pub = (struct jscmd_publish){ .stream = B("S"), .subject = B("s"), .data = B("x"),
                                    .ts_ns = 3000000000ULL, .msg_id = B("m1") };
    apply_everywhere(&rs, &p, 0, 1, &ok);
    p.pub.ts_ns = 1000000000ULL; /* a clock behind the last entry */
    p.pub.msg_id = B("m2");
    struct js_result r;
    ck_assert_int_eq(js_fsm_apply(rs.r[0], &p, &r), 0);
    ck_assert(js_result_ok(&r) && r.seq == 2);
    p.pub.msg_id = B("m1");
    p.pub.ts_ns = 3500000000ULL; /* within the window of m1 */
    ck_assert_int_eq(js_fsm_apply(rs.r[0], &p, &r), 0);
    ck_assert(js_result_ok(&r) && r.duplicate && r.seq == 1);
    p.pub.ts_ns = 4500000000ULL; /* m1 has left the window */
    ck_assert_int_eq(js_fsm_apply(rs.r[0], &p, &r), 0);
    ck_assert(js_result_ok(&r) && !r.duplicate && r.seq == 3);
    close_all(&rs);
    remove_dirs(&rs);
}
END_TEST

/* ---- snapshot and restore ---- */

/* Apply one command, through the codec, to one replica. */
static void apply_one(struct js *js, const struct jscmd *c)
{
    char *entry;
    size_t len;
    ck_assert_int_eq(jscmd_encode(c, &entry, &len), 0);
    struct jscmd d;
    ck_assert_int_eq(jscmd_decode(entry, len, &d), 0);
    struct js_result res;
    ck_assert_int_eq(js_fsm_apply(js, &d, &res), 0);
    jscmd_free(&d);
    free(entry);
}

static void take_snapshot(struct js *js, void **buf, size_t *len)
{
    *buf = NULL;
    ck_assert_int_eq(js_fsm_snapshot(js, buf, len), 0);
    ck_assert_ptr_nonnull(*buf);
}

/* Is another snapshot of js the same bytes? */
static bool same_snapshot(struct js *js, const void *buf, size_t len)
{
    void *again;
    size_t alen;
    take_snapshot(js, &again, &alen);
    bool same = alen == len && memcmp(again, buf, len) == 0;
    free(again);
    return same;
}

/* TERN_FSM_SEEDS=<dir>: write some of the snapshots there, as seeds for
 * tests/fuzz/fuzz_snapshot (tests/fuzz/corpus/snapshot/). */
static void write_seed(const char *name, const void *buf, size_t len)
{
    const char *dir = getenv("TERN_FSM_SEEDS");
    if (!dir || !*dir)
        return;
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
    ck_assert_uint_eq(fwrite(buf, 1, len, f), len);
    ck_assert_int_eq(fclose(f), 0);
}

/* What the snapshots of a whole run held, so a generator that stops
 * producing the hard states (gaps, purged streams, consumers with
 * progress, a dedupe window) is noticed. */
struct snap_cover {
    unsigned gaps, emptied, tail_removed, consumers_with_acks, msgids, sealed_or_files;
};

static void cover(struct js *js, struct snap_cover *cv)
{
    for (struct js_stream *st = js->streams; st; st = st->next) {
        struct store_state s;
        store_get_state(st->store, &s);
        cv->gaps += s.num_deleted > 0;
        cv->emptied += !s.msgs && s.last_seq > 0;
        if (s.msgs) {
            struct store_msg m = { 0 };
            cv->tail_removed += store_load(st->store, s.last_seq, &m) == -ENOENT;
            store_msg_free(&m);
        }
        cv->msgids += st->msgid_head != NULL;
        cv->sealed_or_files += st->cfg.storage == JS_STORAGE_FILE;
        for (struct js_consumer *c = st->consumers; c; c = js_consumer_next(c))
            cv->consumers_with_acks += c->rep.nacked > 0 || c->rep.floor_sseq > 0;
    }
}

/* One seed: replica 0 applies a log; replica 2 first applies a different
 * log of its own; then replica 0's snapshot is restored into replica 1
 * (fresh) and replica 2 (holding other state). All three must hold the
 * same state, give the same snapshot bytes, and go on applying the same
 * further commands identically. A file replica restored from it is then
 * restarted and must read back the same state. */
static void snapshot_case(uint64_t seed, int n, bool file, struct snap_cover *cv)
{
    struct replicas rs;
    make_dirs(&rs, seed);
    open_all(&rs);
    struct gen g = { .clock = 1700000000000000000LL, .file = file, .durable_only = file };
    rng = (seed + 7777) * 2654435761u + 1;
    for (int step = 0; step < n / 2; step++) {
        struct jscmd c;
        gen_command(&g, &c);
        apply_one(rs.r[2], &c);
    }
    rng = seed * 2654435761u + 1;
    g.clock = 1700000000000000000LL;
    for (int step = 0; step < n; step++) {
        struct jscmd c;
        gen_command(&g, &c);
        apply_one(rs.r[0], &c);
    }
    cover(rs.r[0], cv);
    void *snap;
    size_t len;
    take_snapshot(rs.r[0], &snap, &len);
    if (seed % 50 == 1) {
        char name[64];
        snprintf(name, sizeof name, "%s-log-%" PRIu64, file ? "file" : "memory", seed);
        write_seed(name, snap, len);
    }
    ck_assert_msg(js_fsm_restore(rs.r[1], snap, len) == 0, "seed %" PRIu64 ": restore", seed);
    ck_assert_msg(js_fsm_restore(rs.r[2], snap, len) == 0, "seed %" PRIu64 ": restore over", seed);
    check_digests(&rs, seed, n, true);
    ck_assert_msg(same_snapshot(rs.r[1], snap, len) && same_snapshot(rs.r[2], snap, len),
                  "seed %" PRIu64 ": a restored replica's snapshot differs", seed);
    unsigned ok = 0;
    for (int step = n; step < n + 40; step++) {
        struct jscmd c;
        gen_command(&g, &c);
        apply_everywhere(&rs, &c, seed, step, &ok);
    }
    check_digests(&rs, seed, n + 40, true);
    if (file) {
        uint64_t before = js_fsm_digest(rs.r[1], false);
        js_fsm_replica_close(rs.r[1]);
        ck_assert_int_eq(js_fsm_replica_open(rs.dir[1], &rs.r[1]), 0);
        ck_assert_msg(js_fsm_digest(rs.r[1], false) == before,
                      "seed %" PRIu64 ": a restored replica differs after a restart", seed);
        ck_assert_msg(js_fsm_digest(rs.r[0], false) == before, "seed %" PRIu64, seed);
    }
    free(snap);
    close_all(&rs);
    remove_dirs(&rs);
}

START_TEST(memory_snapshots_restore)
{
    struct snap_cover cv = { 0 };
    for (uint64_t seed = first_seed(1); seed <= 400; seed++)
        snapshot_case(seed, 80, false, &cv);
    if (first_seed(1) != 1)
        return;
    ck_assert_uint_gt(cv.gaps, 50);
    ck_assert_uint_gt(cv.emptied, 50);
    ck_assert_uint_gt(cv.tail_removed, 2);
    ck_assert_uint_gt(cv.consumers_with_acks, 50);
    ck_assert_uint_gt(cv.msgids, 50);
}
END_TEST

START_TEST(file_snapshots_restore_and_survive_restart)
{
    struct snap_cover cv = { 0 };
    for (uint64_t seed = first_seed(6001); seed <= 6060; seed++)
        snapshot_case(seed, 120, true, &cv);
    if (first_seed(6001) != 6001)
        return;
    ck_assert_uint_gt(cv.gaps, 10);
    ck_assert_uint_gt(cv.emptied, 5);
    ck_assert_uint_gt(cv.consumers_with_acks, 10);
    ck_assert_uint_gt(cv.sealed_or_files, 50);
}
END_TEST

static void cmd_create(struct js *js, const char *name, const char *cfg, int64_t created)
{
    struct jscmd c = { .op = JSCMD_STREAM_CREATE, .stream = B(name), .config = B(cfg),
                       .created_ns = (uint64_t)created };
    struct js_result r;
    ck_assert_int_eq(js_fsm_apply(js, &c, &r), 0);
    ck_assert_msg(js_result_ok(&r), "create %s: %s", name, r.err.description);
}

static uint64_t cmd_publish(struct js *js, const char *stream, const char *subj, int64_t ts,
                            const char *msgid)
{
    static char hdr[128];
    struct jscmd c = { .op = JSCMD_PUBLISH };
    c.pub = (struct jscmd_publish){ .stream = B(stream), .subject = B(subj), .data = B("body"),
                                    .ts_ns = (uint64_t)ts };
    if (msgid) {
        snprintf(hdr, sizeof hdr, "NATS/1.0\r\nNats-Msg-Id: %s\r\n\r\n", msgid);
        c.pub.msg_id = B(msgid);
        c.pub.hdr = B(hdr);
    }
    struct js_result r;
    ck_assert_int_eq(js_fsm_apply(js, &c, &r), 0);
    ck_assert(js_result_ok(&r));
    return r.seq;
}

static void cmd_simple(struct js *js, enum jscmd_op op, const char *stream, uint64_t seq)
{
    struct jscmd c = { .op = op, .stream = B(stream), .has_seq = seq != 0, .seq = seq };
    struct js_result r;
    ck_assert_int_eq(js_fsm_apply(js, &c, &r), 0);
    ck_assert_msg(js_result_ok(&r), "%s: %s", jscmd_op_name(op), r.err.description);
}

/* The states a log reaches only by chance, built on purpose: a stream
 * whose newest message was deleted (last_seq above the last stored), one
 * purged empty (first_seq = last_seq + 1), a sealed one (which a create
 * would refuse), gaps, msg ids, a consumer with acks and redeliveries.
 * Each restored replica, and each restarted one, goes on with the same
 * sequences. */
static struct js *edge_states(const char *dir)
{
    struct js *js;
    ck_assert_int_eq(js_fsm_replica_open(dir, &js), 0);
    const char *f = "\"storage\":\"file\",\"duplicate_window\":60000000000";
    char cfg[256];
    snprintf(cfg, sizeof cfg, "{\"name\":\"A\",\"subjects\":[\"a.>\"],%s}", f);
    cmd_create(js, "A", cfg, 100);
    snprintf(cfg, sizeof cfg, "{\"name\":\"B\",\"subjects\":[\"b\"],%s}", f);
    cmd_create(js, "B", cfg, 200);
    snprintf(cfg, sizeof cfg, "{\"name\":\"C\",\"subjects\":[\"c\"],%s}", f);
    cmd_create(js, "C", cfg, 300);
    int64_t t = 1000000000000LL;
    for (int i = 0; i < 6; i++) {
        char id[16];
        snprintf(id, sizeof id, "id-%d", i);
        cmd_publish(js, "A", i % 2 ? "a.odd" : "a.even", t += 1000, id);
    }
    cmd_simple(js, JSCMD_MSG_DELETE, "A", 6);
    cmd_simple(js, JSCMD_MSG_DELETE, "A", 3);
    for (int i = 0; i < 3; i++)
        cmd_publish(js, "B", "b", t += 1000, NULL);
    cmd_simple(js, JSCMD_STREAM_PURGE, "B", 0);
    cmd_publish(js, "C", "c", t += 1000, "only");
    struct jscmd u = { .op = JSCMD_STREAM_UPDATE, .stream = B("C") };
    snprintf(cfg, sizeof cfg, "{\"name\":\"C\",\"subjects\":[\"c\"],\"sealed\":true,%s}", f);
    u.config = B(cfg);
    struct js_result r;
    ck_assert_int_eq(js_fsm_apply(js, &u, &r), 0);
    ck_assert_msg(js_result_ok(&r), "seal: %s", r.err.description);
    struct jscmd cc = { .op = JSCMD_CONSUMER_CREATE, .stream = B("A"), .consumer = B("d"),
                        .config = B("{\"durable_name\":\"d\",\"ack_policy\":\"explicit\"}"),
                        .created_ns = 400 };
    ck_assert_int_eq(js_fsm_apply(js, &cc, &r), 0);
    ck_assert(js_result_ok(&r) && r.created);
    /* A command may name a sequence twice; apply keeps what it is given
     * (sorted), and so must a restore. */
    static const uint64_t acked[] = { 4, 4 };
    static const uint64_t redelivered[][2] = { { 2, 3 } };
    struct jscmd ca = { .op = JSCMD_CONSUMER_ACKS };
    ca.acks = (struct jscmd_acks){ .stream = B("A"), .consumer = B("d"), .ack_floor_sseq = 1,
                                   .ack_floor_cseq = 1, .delivered_sseq = 5,
                                   .delivered_cseq = 6, .acked = acked, .nacked = 2,
                                   .redelivered = redelivered, .nredelivered = 1 };
    ck_assert_int_eq(js_fsm_apply(js, &ca, &r), 0);
    ck_assert(js_result_ok(&r));
    return js;
}

/* A version 1 snapshot (written before source cursors; the committed fuzz
 * seed of the edge states) is still read, into the same state. */
START_TEST(version_1_snapshot_is_read)
{
    const char *top = getenv("TERN_SRCDIR"); /* make check's; "." by hand from the top */
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/fuzz/corpus/snapshot/edge-states",
             top && *top ? top : ".");
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
    static char buf[1 << 16];
    size_t len = fread(buf, 1, sizeof buf, f);
    fclose(f);
    ck_assert_uint_eq((uint8_t)buf[18], 1);
    struct replicas rs = { 0 };
    make_dirs(&rs, 90003);
    rs.r[0] = edge_states(rs.dir[0]);
    ck_assert_int_eq(js_fsm_replica_open(rs.dir[1], &rs.r[1]), 0);
    ck_assert_int_eq(js_fsm_replica_open(rs.dir[2], &rs.r[2]), 0);
    ck_assert_int_eq(js_fsm_restore(rs.r[1], buf, len), 0);
    ck_assert_uint_eq(js_fsm_digest(rs.r[1], true), js_fsm_digest(rs.r[0], true));
    close_all(&rs);
    remove_dirs(&rs);
}
END_TEST

START_TEST(edge_states_restore)
{
    struct replicas rs = { 0 };
    make_dirs(&rs, 90001);
    rs.r[0] = edge_states(rs.dir[0]);
    void *snap;
    size_t len;
    take_snapshot(rs.r[0], &snap, &len);
    write_seed("edge-states", snap, len);
    ck_assert_int_eq(js_fsm_replica_open(rs.dir[1], &rs.r[1]), 0);
    ck_assert_int_eq(js_fsm_restore(rs.r[1], snap, len), 0);
    ck_assert_uint_eq(js_fsm_digest(rs.r[1], true), js_fsm_digest(rs.r[0], true));
    ck_assert(same_snapshot(rs.r[1], snap, len));
    /* The restored replica, then also after a restart: the next sequences
     * are those of the original. */
    for (int pass = 0; pass < 2; pass++) {
        ck_assert_uint_eq(js_fsm_digest(rs.r[1], false), js_fsm_digest(rs.r[0], false));
        struct js *js = rs.r[1];
        struct js_stream *a = js_stream_find(js, "A", 1), *b = js_stream_find(js, "B", 1);
        ck_assert_ptr_nonnull(a);
        ck_assert_ptr_nonnull(b);
        struct store_state s;
        store_get_state(a->store, &s);
        ck_assert_uint_eq(s.msgs, 4);
        ck_assert_uint_eq(s.last_seq, 6);
        ck_assert_uint_eq(s.num_deleted, 2); /* 3 and 6 */
        ck_assert_int_eq(s.last_ts, 1000000006000LL);
        store_get_state(b->store, &s);
        ck_assert_uint_eq(s.msgs, 0);
        ck_assert_uint_eq(s.first_seq, 4);
        ck_assert_int_eq(s.last_ts, 1000000009000LL);
        js_fsm_replica_close(rs.r[1]);
        ck_assert_int_eq(js_fsm_replica_open(rs.dir[1], &rs.r[1]), 0);
    }
    ck_assert_uint_eq(cmd_publish(rs.r[1], "A", "a.x", 2000000000000LL, NULL), 7);
    ck_assert_uint_eq(cmd_publish(rs.r[0], "A", "a.x", 2000000000000LL, NULL), 7);
    ck_assert_uint_eq(cmd_publish(rs.r[1], "B", "b", 2000000000000LL, NULL), 4);
    ck_assert_uint_eq(cmd_publish(rs.r[0], "B", "b", 2000000000000LL, NULL), 4);
    ck_assert_uint_eq(js_fsm_digest(rs.r[1], false), js_fsm_digest(rs.r[0], false));
    free(snap);
    close_all(&rs);
    remove_dirs(&rs);
}
END_TEST

/* A snapshot that is cut short, has bytes after it, is damaged or of
 * another version is refused with -EPROTO and leaves the replica empty
 * (the digest of a replica with nothing) and usable; a damage that still
 * decodes is a state like any other. Never a crash or a leak (run under
 * the sanitizers). */
START_TEST(malformed_snapshots_leave_empty)
{
    struct replicas rs = { 0 };
    make_dirs(&rs, 90002);
    rs.r[0] = edge_states(rs.dir[0]);
    ck_assert_int_eq(js_fsm_replica_open(rs.dir[1], &rs.r[1]), 0);
    ck_assert_int_eq(js_fsm_replica_open(rs.dir[2], &rs.r[2]), 0);
    uint64_t empty = js_fsm_digest(rs.r[2], true);
    void *snap;
    size_t len;
    take_snapshot(rs.r[0], &snap, &len);
    uint8_t *b = malloc(len + 1);
    ck_assert_ptr_nonnull(b);
    /* Every strict prefix is incomplete. */
    for (size_t cut = 0; cut < len; cut += 1 + cut / 16) {
        ck_assert_int_eq(js_fsm_restore(rs.r[1], snap, len), 0);
        memcpy(b, snap, cut);
        ck_assert_msg(js_fsm_restore(rs.r[1], b, cut) == -EPROTO, "prefix of %zu", cut);
        ck_assert_uint_eq(js_fsm_digest(rs.r[1], true), empty);
    }
    memcpy(b, snap, len);
    b[len] = 0xc0;
    ck_assert_int_eq(js_fsm_restore(rs.r[1], b, len + 1), -EPROTO);
    ck_assert_int_eq(js_fsm_restore(rs.r[1], NULL, 0), -EPROTO);
    b[18] = 3; /* the version, after 93 b0 "tern.js.snapshot" */
    ck_assert_int_eq(js_fsm_restore(rs.r[1], b, len), -EPROTO);
    b[18] = 1; /* version 1's streams have 11 items, these 12 */
    ck_assert_int_eq(js_fsm_restore(rs.r[1], b, len), -EPROTO);
    b[18] = 2;
    b[5] ^= 0x20; /* the magic */
    ck_assert_int_eq(js_fsm_restore(rs.r[1], b, len), -EPROTO);
    /* Every single-byte damage: refused (empty) or taken whole (and then
     * its own snapshot restores to the same state). */
    unsigned refused = 0;
    for (size_t i = 0; i < len; i++) {
        memcpy(b, snap, len);
        b[i] ^= (uint8_t)(1 + i % 255);
        int rc = js_fsm_restore(rs.r[1], b, len);
        if (rc < 0) {
            ck_assert_int_eq(rc, -EPROTO);
            ck_assert_uint_eq(js_fsm_digest(rs.r[1], true), empty);
            refused++;
            continue;
        }
        void *again;
        size_t alen;
        take_snapshot(rs.r[1], &again, &alen);
        ck_assert_int_eq(js_fsm_restore(rs.r[2], again, alen), 0);
        ck_assert_uint_eq(js_fsm_digest(rs.r[2], true), js_fsm_digest(rs.r[1], true));
        free(again);
    }
    ck_assert_uint_gt(refused, len / 4);
    /* And it still works after all that. */
    ck_assert_int_eq(js_fsm_restore(rs.r[1], snap, len), 0);
    ck_assert_uint_eq(js_fsm_digest(rs.r[1], true), js_fsm_digest(rs.r[0], true));
    /* Not while the node serves: refused, nothing changed. */
    rs.r[1]->active = true;
    ck_assert_int_eq(js_fsm_restore(rs.r[1], NULL, 0), -EBUSY);
    rs.r[1]->active = false;
    ck_assert_uint_eq(js_fsm_digest(rs.r[1], true), js_fsm_digest(rs.r[0], true));
    free(b);
    free(snap);
    close_all(&rs);
    remove_dirs(&rs);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("js_fsm");
    TCase *t = tcase_create("replicas");
    tcase_set_timeout(t, 600);
    tcase_add_test(t, clock_and_dedupe);
    tcase_add_test(t, memory_logs_converge);
    tcase_add_test(t, file_logs_converge_and_survive_restart);
    suite_add_tcase(s, t);
    TCase *snap = tcase_create("snapshot");
    tcase_set_timeout(snap, 600);
    tcase_add_test(snap, edge_states_restore);
    tcase_add_test(snap, version_1_snapshot_is_read);
    tcase_add_test(snap, malformed_snapshots_leave_empty);
    tcase_add_test(snap, memory_snapshots_restore);
    tcase_add_test(snap, file_snapshots_restore_and_survive_restart);
    suite_add_tcase(s, snap);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
