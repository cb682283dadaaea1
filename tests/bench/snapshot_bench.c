/*
 * tests/bench/snapshot_bench.c — what a state-machine snapshot costs: its
 * size, and the time to take it and to restore it (js_snapshot.c).
 *
 * Usage: snapshot-bench [messages (100000)] [payload bytes (100)]
 *                       [file|memory (file)] [ids|noids (noids)]
 * (replicas under $TMPDIR, else /tmp; removed at the end)
 *
 * One replica without runtime (js_fsm_replica_open) gets one stream and
 * that many PUBLISH commands through js_fsm_apply (subjects bench.0 to
 * bench.9; with "ids" a Nats-Msg-Id header on every message and a 2-minute
 * dedupe window, so the msg-id table holds them all); the snapshot is
 * then taken, restored into a
 * second, fresh replica (for file streams that includes writing and
 * fdatasyncing every message), and the two digests compared. Wall-clock
 * times, one run each: a measurement to quote, not a test.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "proto/jscmd.h"
#include "server/jetstream/js_fsm.h"
#include "server/log.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct jscmd_bytes B(const char *s, size_t n)
{
    return (struct jscmd_bytes){ s, n };
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 100000;
    long size = argc > 2 ? atol(argv[2]) : 100;
    const char *kind = argc > 3 ? argv[3] : "file";
    bool ids = argc > 4 && strcmp(argv[4], "ids") == 0;
    const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    if (n <= 0 || size < 0 || (strcmp(kind, "file") && strcmp(kind, "memory"))) {
        fprintf(stderr, "usage: %s [messages] [payload bytes] [file|memory] [ids|noids]\n",
                argv[0]);
        return 2;
    }
    struct log_config lc = { .file = "/dev/null" };
    log_open(&lc);
    char dir[512], a[600], b[600];
    snprintf(dir, sizeof dir, "%s/tern-snapbench-XXXXXX", base);
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(a, sizeof a, "%s/a", dir);
    snprintf(b, sizeof b, "%s/b", dir);
    struct js *src, *dst;
    if (js_fsm_replica_open(a, &src) < 0 || js_fsm_replica_open(b, &dst) < 0) {
        fprintf(stderr, "cannot open replicas under %s\n", dir);
        return 1;
    }
    char cfg[256];
    snprintf(cfg, sizeof cfg,
             "{\"name\":\"BENCH\",\"subjects\":[\"bench.*\"],\"storage\":\"%s\","
             "\"duplicate_window\":120000000000}",
             kind);
    struct jscmd c = { .op = JSCMD_STREAM_CREATE, .stream = B("BENCH", 5),
                       .config = B(cfg, strlen(cfg)), .created_ns = 1 };
    struct js_result r;
    if (js_fsm_apply(src, &c, &r) < 0 || !js_result_ok(&r)) {
        fprintf(stderr, "create: %s\n", r.err.description);
        return 1;
    }
    char *payload = malloc((size_t)size + 1);
    memset(payload, 'x', (size_t)size);
    int64_t t = 1700000000000000000LL;
    double t0 = now_s();
    for (long i = 0; i < n; i++) {
        char subj[16], id[32], hdr[64];
        int sl = snprintf(subj, sizeof subj, "bench.%ld", i % 10);
        int il = snprintf(id, sizeof id, "m-%ld", i);
        int hl = snprintf(hdr, sizeof hdr, "NATS/1.0\r\nNats-Msg-Id: %s\r\n\r\n", id);
        struct jscmd p = { .op = JSCMD_PUBLISH };
        p.pub = (struct jscmd_publish){ .stream = B("BENCH", 5), .subject = B(subj, (size_t)sl),
                                        .data = B(payload, (size_t)size),
                                        .ts_ns = (uint64_t)(t += 1000) };
        if (ids) {
            p.pub.hdr = B(hdr, (size_t)hl);
            p.pub.msg_id = B(id, (size_t)il);
        }
        if (js_fsm_apply(src, &p, &r) < 0 || !js_result_ok(&r)) {
            fprintf(stderr, "publish %ld: %s\n", i, r.err.description);
            return 1;
        }
    }
    double t1 = now_s();
    void *snap;
    size_t len;
    if (js_fsm_snapshot(src, &snap, &len) < 0) {
        fprintf(stderr, "snapshot failed\n");
        return 1;
    }
    double t2 = now_s();
    int rc = js_fsm_restore(dst, snap, len);
    double t3 = now_s();
    bool same = rc == 0 && js_fsm_digest(src, true) == js_fsm_digest(dst, true);
    printf("%ld messages of %ld bytes on 10 subjects%s, %s storage\n", n, size,
           ids ? ", each with a Nats-Msg-Id header (all in the dedupe window)" : "", kind);
    printf("  apply:    %.3f s\n", t1 - t0);
    printf("  snapshot: %zu bytes (%.1f per message), taken in %.3f s\n", len,
           (double)len / (double)n, t2 - t1);
    printf("  restore:  %.3f s into a fresh replica (rc %d, digest %s)\n", t3 - t2, rc,
           same ? "equal" : "DIFFERENT");
    free(snap);
    free(payload);
    js_fsm_replica_close(src);
    js_fsm_replica_close(dst);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return same ? 0 : 1;
}
