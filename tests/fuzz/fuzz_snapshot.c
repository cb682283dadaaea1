/*
 * tests/fuzz/fuzz_snapshot.c — libFuzzer target for js_fsm_restore
 * (server/jetstream/js_snapshot.c), whose input arrives from the network
 * in raft's InstallSnapshot.
 *
 * One replica without runtime (js_fsm_replica_open over a scratch
 * directory, on tmpfs when /dev/shm exists, since restore syncs file
 * streams) takes every input. A refused input must leave it empty: the
 * digest of a replica that holds nothing. An accepted one is a state like
 * any other: its own snapshot must restore to the same digest and snapshot
 * to the same bytes again. Anything else traps; so does any sanitizer
 * report. Seeds (tests/fuzz/corpus/snapshot/) are snapshots of real
 * replicas written by tests/unit/check_js_fsm (TERN_FSM_SEEDS).
 */
#include <errno.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server/jetstream/js_fsm.h"
#include "server/log.h"

static struct js *js;
static uint64_t empty;
static char dir[256];

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    remove(path);
    return 0;
}

/* The replica's files go with the process (a crash leaves them for
 * whoever looks at it). */
static void cleanup(void)
{
    js_fsm_replica_close(js);
    js = NULL;
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    /* Every refused input is logged at [ERR]: keep the fuzzer's output. */
    struct log_config lc = { .file = "/dev/null" };
    if (log_open(&lc) < 0)
        abort();
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm"
                       : getenv("TMPDIR")           ? getenv("TMPDIR")
                                                    : "/tmp";
    snprintf(dir, sizeof dir, "%s/tern-fuzz-snapshot-XXXXXX", base);
    if (!mkdtemp(dir))
        abort();
    char root[300];
    snprintf(root, sizeof root, "%s/streams", dir);
    if (js_fsm_replica_open(root, &js) < 0)
        abort();
    empty = js_fsm_digest(js, true);
    atexit(cleanup);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int rc = js_fsm_restore(js, data, size);
    if (rc < 0) {
        if (rc != -EPROTO || js_fsm_digest(js, true) != empty)
            __builtin_trap();
        return 0;
    }
    void *s1, *s2;
    size_t l1, l2;
    if (js_fsm_snapshot(js, &s1, &l1) < 0)
        __builtin_trap();
    uint64_t d = js_fsm_digest(js, true);
    if (js_fsm_restore(js, s1, l1) < 0 || js_fsm_digest(js, true) != d)
        __builtin_trap();
    if (js_fsm_snapshot(js, &s2, &l2) < 0 || l1 != l2 || memcmp(s1, s2, l1) != 0)
        __builtin_trap();
    free(s1);
    free(s2);
    return 0;
}
