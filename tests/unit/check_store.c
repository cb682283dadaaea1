/*
 * tests/unit/check_store.c — the message store (server/store/store.h), file and
 * memory kinds side by side.
 *
 * Most cases run twice through tcase_add_loop_test (_i 0 = STORE_FILE,
 * 1 = STORE_MEMORY) so the two kinds are held to the same answers; the
 * file-only ones damage segment files the way crashes and bad disks do,
 * reading the record format documented in server/store/store_impl.h with a
 * parser of their own. The randomized case checks every answer against a
 * naive model and prints its seed; TERN_STORE_SEED replays one. Stores live
 * in a mkdtemp directory under /tmp, removed when each test case ends.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "server/store/store.h"

/* Only for the CRC's known-answer test. */
uint32_t store__crc32c(uint32_t crc, const void *p, size_t n);
uint32_t store__crc32c_sw(uint32_t crc, const void *p, size_t n);

#define REQUIRE(cond, ...)             \
    do {                               \
        if (!(cond))                   \
            ck_abort_msg(__VA_ARGS__); \
    } while (0)

/* ---- directories ---------------------------------------------------------- */

static char base_dir[64]; /* "/tmp/tern-store-XXXXXX" */
static int dir_count;

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    remove(path);
    return 0;
}

static void rm_rf(const char *path)
{
    nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Unchecked fixture: runs in the parent, so it cleans up after a test
 * that died in its forked child. */
static void base_setup(void)
{
    snprintf(base_dir, sizeof base_dir, "/tmp/tern-store-XXXXXX");
    if (!mkdtemp(base_dir))
        abort();
}

static void base_teardown(void)
{
    char mnt[PATH_MAX + 8];
    snprintf(mnt, sizeof mnt, "%s/mnt", base_dir);
    umount2(mnt, MNT_DETACH);
    rm_rf(base_dir);
}

static void new_dir(char *out)
{
    snprintf(out, PATH_MAX, "%s/s%d-%d", base_dir, (int)getpid(), ++dir_count);
}

/* ---- store helpers ---------------------------------------------------------- */

static struct store *open_at(int kind, const char *dir, size_t seg, struct store_report *rep)
{
    struct store_options o = { .kind = kind ? STORE_MEMORY : STORE_FILE, .dir = dir,
                               .segment_bytes = seg };
    struct store *st = NULL;
    struct store_report scratch;
    int rc = store_open(&o, &st, rep ? rep : &scratch);
    REQUIRE(rc == 0, "store_open %s: %s", dir, strerror(-rc));
    return st;
}

/* File stores are closed and replayed; a memory store is kept as it is. */
static struct store *reopen(struct store *st, int kind, const char *dir, size_t seg,
                            struct store_report *rep)
{
    if (kind)
        return st;
    store_close(st);
    struct store_report scratch;
    st = open_at(kind, dir, seg, rep ? rep : &scratch);
    if (!rep)
        REQUIRE(scratch.torn_bytes == 0 && scratch.corrupt_records == 0,
                "clean reopen reported: %s", scratch.detail);
    return st;
}

static uint64_t put(struct store *st, const char *subj, const char *data, int64_t ts)
{
    uint64_t seq = 0;
    int rc = store_append(st, subj, strlen(subj), NULL, 0, data, strlen(data), ts, &seq);
    REQUIRE(rc == 0, "append %s: %s", subj, strerror(-rc));
    return seq;
}

static void expect_msg(struct store *st, uint64_t seq, const char *subj, const char *data)
{
    struct store_msg m = { 0 };
    int rc = store_load(st, seq, &m);
    REQUIRE(rc == 0, "load %" PRIu64 ": %s", seq, strerror(-rc));
    REQUIRE(m.seq == seq, "seq %" PRIu64 " != %" PRIu64, m.seq, seq);
    REQUIRE(m.subject_len == strlen(subj) && memcmp(m.subject, subj, m.subject_len) == 0,
            "seq %" PRIu64 ": subject '%.*s', want '%s'", seq, (int)m.subject_len, m.subject,
            subj);
    REQUIRE(m.data_len == strlen(data) && memcmp(m.data, data, m.data_len) == 0,
            "seq %" PRIu64 ": data '%.*s', want '%s'", seq, (int)m.data_len, m.data, data);
    store_msg_free(&m);
}

static int load_rc(struct store *st, uint64_t seq)
{
    struct store_msg m = { 0 };
    int rc = store_load(st, seq, &m);
    store_msg_free(&m);
    return rc;
}

static struct store_state state(struct store *st)
{
    struct store_state s;
    store_get_state(st, &s);
    return s;
}

/* ---- segment files, read with the documented format --------------------- */

static int seg_files(const char *dir, char names[][64], int max)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (strlen(e->d_name) > 4 && strcmp(e->d_name + strlen(e->d_name) - 4, ".seg") == 0 &&
            n < max)
            snprintf(names[n++], 64, "%s", e->d_name);
    if (d)
        closedir(d);
    qsort(names, (size_t)n, 64, (int (*)(const void *, const void *))strcmp);
    return n;
}

static void seg_path(const char *dir, int idx, char *out)
{
    char names[256][64];
    int n = seg_files(dir, names, 256);
    if (idx < 0)
        idx += n;
    REQUIRE(idx >= 0 && idx < n, "no segment %d of %d", idx, n);
    snprintf(out, PATH_MAX, "%s/%s", dir, names[idx]);
}

static off_t file_size(const char *path)
{
    struct stat sb;
    REQUIRE(stat(path, &sb) == 0, "stat %s", path);
    return sb.st_size;
}

/* Offset of the MSG record of seq in a segment file, -1 when absent. Looks
 * at every offset, so damage earlier in the file does not hide it. */
static off_t find_record(const char *path, uint64_t seq, uint32_t *len_out)
{
    int fd = open(path, O_RDONLY);
    REQUIRE(fd >= 0, "open %s", path);
    off_t size = lseek(fd, 0, SEEK_END), found = -1;
    uint8_t *buf = malloc((size_t)size + 1);
    REQUIRE(pread(fd, buf, (size_t)size, 0) == size, "read %s", path);
    close(fd);
    for (off_t off = 0; off + 32 <= size; off++) {
        uint32_t len;
        uint64_t s;
        memcpy(&len, buf + off + 4, 4);
        memcpy(&s, buf + off + 16, 8);
        if (buf[off + 8] == 2 && buf[off + 9] == 1 && s == seq && len >= 32 &&
            off + len <= size) {
            found = off;
            *len_out = len;
            break;
        }
    }
    free(buf);
    return found;
}

static void flip_byte(const char *path, off_t at)
{
    int fd = open(path, O_RDWR);
    uint8_t b;
    REQUIRE(fd >= 0 && pread(fd, &b, 1, at) == 1, "read %s", path);
    b ^= 0x5a;
    REQUIRE(pwrite(fd, &b, 1, at) == 1, "write %s", path);
    close(fd);
}

/* ---- the CRC ------------------------------------------------------------------ */

START_TEST(crc32c_known_answers)
{
    ck_assert_uint_eq(store__crc32c(0, "123456789", 9), 0xE3069283u);
    ck_assert_uint_eq(store__crc32c_sw(0, "123456789", 9), 0xE3069283u);
    ck_assert_uint_eq(store__crc32c(0, "", 0), 0);
    uint8_t buf[1024];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (uint8_t)(i * 131 + 7);
    for (size_t off = 0; off < 9; off++)
        for (size_t n = 0; n + off <= sizeof buf; n += 37) {
            uint32_t a = store__crc32c(0, buf + off, n), b = store__crc32c_sw(0, buf + off, n);
            REQUIRE(a == b, "hw/sw differ at off %zu len %zu", off, n);
            /* Chaining pieces gives the CRC of the whole. */
            uint32_t c = store__crc32c(store__crc32c(0, buf + off, n / 3), buf + off + n / 3,
                                       n - n / 3);
            REQUIRE(a == c, "chained CRC differs at off %zu len %zu", off, n);
        }
}
END_TEST

/* ---- basics, both kinds ------------------------------------------------------ */

START_TEST(append_and_load)
{
    char dir[PATH_MAX];
    new_dir(dir);
    struct store *st = open_at(_i, dir, 0, NULL);
    struct store_state s = state(st);
    ck_assert_uint_eq(s.msgs, 0);
    ck_assert_uint_eq(s.first_seq, 1);
    ck_assert_uint_eq(s.last_seq, 0);
    ck_assert_int_eq(s.first_ts, 0);

    const char *hdr = "NATS/1.0\r\nNats-Msg-Id: abc\r\n\r\n";
    uint64_t seq;
    ck_assert_int_eq(store_append(st, "orders.new", 10, hdr, strlen(hdr), "m1", 2, 1000, &seq), 0);
    ck_assert_uint_eq(seq, 1);
    ck_assert_uint_eq(put(st, "orders.old", "m2", 2000), 2);
    ck_assert_uint_eq(put(st, "orders.new", "", 3000), 3);
    ck_assert_int_eq(store_append(st, "x", 1, NULL, 0, NULL, 0, 4000, &seq), 0);
    ck_assert_int_eq(store_append(st, "", 0, NULL, 0, "d", 1, 0, &seq), -EINVAL);

    for (int pass = 0; pass < 2; pass++) {
        struct store_msg m = { 0 };
        ck_assert_int_eq(store_load(st, 1, &m), 0);
        ck_assert_int_eq(m.ts, 1000);
        ck_assert_uint_eq(m.hdr_len, strlen(hdr));
        ck_assert(memcmp(m.hdr, hdr, m.hdr_len) == 0);
        ck_assert_uint_eq(m.data_len, 2);
        ck_assert(memcmp(m.data, "m1", 2) == 0);
        expect_msg(st, 2, "orders.old", "m2");
        expect_msg(st, 3, "orders.new", "");
        expect_msg(st, 4, "x", "");
        ck_assert_int_eq(store_load(st, 0, &m), -ENOENT);
        ck_assert_int_eq(store_load(st, 5, &m), -ENOENT);

        ck_assert_int_eq(store_load_next(st, 2, "orders.new", 10, &m), 0);
        ck_assert_uint_eq(m.seq, 3);
        ck_assert_int_eq(store_load_next(st, 0, "orders.*", 8, &m), 0);
        ck_assert_uint_eq(m.seq, 1);
        ck_assert_int_eq(store_load_next(st, 2, NULL, 0, &m), 0);
        ck_assert_uint_eq(m.seq, 2);
        ck_assert_int_eq(store_load_next(st, 4, "orders.>", 8, &m), -ENOENT);
        ck_assert_int_eq(store_load_next(st, 4, "orders.new", 10, &m), -ENOENT);
        ck_assert_int_eq(store_load_next(st, 9, NULL, 0, &m), -ENOENT);
        ck_assert_int_eq(store_load_last(st, "orders.new", 10, &m), 0);
        ck_assert_uint_eq(m.seq, 3);
        ck_assert_int_eq(store_load_last(st, "orders", 6, &m), -ENOENT);
        store_msg_free(&m);

        s = state(st);
        ck_assert_uint_eq(s.msgs, 4);
        ck_assert_uint_eq(s.first_seq, 1);
        ck_assert_int_eq(s.first_ts, 1000);
        ck_assert_uint_eq(s.last_seq, 4);
        ck_assert_int_eq(s.last_ts, 4000);
        ck_assert_uint_eq(s.num_subjects, 3);
        ck_assert_uint_eq(s.num_deleted, 0);
        ck_assert_uint_eq(s.bytes, store_msg_size(st, 10, strlen(hdr), 2) +
                                       store_msg_size(st, 10, 0, 2) +
                                       store_msg_size(st, 10, 0, 0) + store_msg_size(st, 1, 0, 0));
        /* nats-server's accounting: +16 in memory; +30 on file, and +4 more
         * for the header length when a file record has headers. */
        ck_assert_uint_eq(store_msg_size(st, 1, 2, 3), _i ? 22 : 40);
        ck_assert_uint_eq(store_msg_size(st, 1, 0, 3), _i ? 20 : 34);
        st = reopen(st, _i, dir, 0, NULL);
    }
    ck_assert_int_eq(store_sync(st), 0);
    ck_assert_int_eq(store_sync(st), 0);
    store_close(st);
}
END_TEST

/* Removing a message gives back exactly what appending it counted, with
 * and without headers, before and after a replay. */
START_TEST(bytes_accounting_is_symmetric)
{
    char dir[PATH_MAX];
    new_dir(dir);
    struct store *st = open_at(_i, dir, 0, NULL);
    const char *hdr = "NATS/1.0\r\nA: b\r\n\r\n";
    uint64_t seq;
    ck_assert_int_eq(store_append(st, "k.1", 3, hdr, strlen(hdr), "v1", 2, 1, &seq), 0);
    ck_assert_uint_eq(put(st, "k.2", "v2", 2), 2);
    ck_assert_int_eq(store_append(st, "k.3", 3, hdr, strlen(hdr), "v3", 2, 3, &seq), 0);
    uint64_t with = store_msg_size(st, 3, strlen(hdr), 2), without = store_msg_size(st, 3, 0, 2);
    ck_assert_uint_eq(state(st).bytes, 2 * with + without);
    ck_assert_int_eq(store_remove(st, 1), 0);
    ck_assert_uint_eq(state(st).bytes, with + without);
    st = reopen(st, _i, dir, 0, NULL);
    ck_assert_uint_eq(state(st).bytes, with + without);
    ck_assert_int_eq(store_remove(st, 3), 0);
    ck_assert_int_eq(store_remove(st, 2), 0);
    ck_assert_uint_eq(state(st).bytes, 0);
    store_close(st);
}
END_TEST

START_TEST(sequences_survive_purge)
{
    char dir[PATH_MAX];
    new_dir(dir);
    struct store *st = open_at(_i, dir, 0, NULL);
    for (int i = 0; i < 5; i++)
        put(st, "a", "x", 10 + i);
    uint64_t purged = 0;
    ck_assert_int_eq(store_purge(st, NULL, 0, 0, 0, &purged), 0);
    ck_assert_uint_eq(purged, 5);
    struct store_state s = state(st);
    ck_assert_uint_eq(s.msgs, 0);
    ck_assert_uint_eq(s.bytes, 0);
    ck_assert_uint_eq(s.first_seq, 6);
    ck_assert_uint_eq(s.last_seq, 5);
    ck_assert_int_eq(s.first_ts, 0);
    ck_assert_int_eq(s.last_ts, 14);
    ck_assert_uint_eq(s.num_subjects, 0);
    st = reopen(st, _i, dir, 0, NULL);
    s = state(st);
    ck_assert_uint_eq(s.first_seq, 6);
    ck_assert_uint_eq(s.last_seq, 5);
    ck_assert_int_eq(s.last_ts, 14);
    ck_assert_uint_eq(put(st, "a", "y", 20), 6);
    st = reopen(st, _i, dir, 0, NULL);
    expect_msg(st, 6, "a", "y");
    ck_assert_int_eq(load_rc(st, 5), -ENOENT);
    /* Removing the only message leaves last_seq where it was. */
    ck_assert_int_eq(store_remove(st, 6), 0);
    st = reopen(st, _i, dir, 0, NULL);
    ck_assert_uint_eq(state(st).last_seq, 6);
    ck_assert_uint_eq(state(st).first_seq, 7);
    ck_assert_uint_eq(put(st, "a", "z", 30), 7);
    store_close(st);
}
END_TEST

START_TEST(remove_and_deleted)
{
    char dir[PATH_MAX];
    new_dir(dir);
    struct store *st = open_at(_i, dir, 0, NULL);
    for (int i = 1; i <= 10; i++)
        put(st, i % 2 ? "odd" : "even", "v", i * 100);
    ck_assert_int_eq(store_remove(st, 3), 0);
    ck_assert_int_eq(store_remove(st, 5), 0);
    ck_assert_int_eq(store_remove(st, 10), 0);
    ck_assert_int_eq(store_remove(st, 3), -ENOENT);
    ck_assert_int_eq(store_remove(st, 11), -ENOENT);
    ck_assert_int_eq(store_remove(st, 0), -ENOENT);
    for (int pass = 0; pass < 2; pass++) {
        struct store_state s = state(st);
        ck_assert_uint_eq(s.msgs, 7);
        ck_assert_uint_eq(s.first_seq, 1);
        ck_assert_uint_eq(s.last_seq, 10);
        ck_assert_uint_eq(s.num_deleted, 3);
        uint64_t del[8];
        ck_assert_uint_eq(store_deleted(st, del, 8), 3);
        ck_assert_uint_eq(del[0], 3);
        ck_assert_uint_eq(del[1], 5);
        ck_assert_uint_eq(del[2], 10);
        ck_assert_uint_eq(store_deleted(st, del, 1), 3);
        ck_assert_int_eq(load_rc(st, 5), -ENOENT);
        struct store_msg m = { 0 };
        ck_assert_int_eq(store_load_next(st, 3, NULL, 0, &m), 0);
        ck_assert_uint_eq(m.seq, 4);
        ck_assert_int_eq(store_load_next(st, 3, "odd", 3, &m), 0);
        ck_assert_uint_eq(m.seq, 7);
        store_msg_free(&m);
        struct store_subject_state ss;
        store_subject_state(st, "odd", 3, &ss);
        ck_assert_uint_eq(ss.msgs, 3);
        ck_assert_uint_eq(ss.first_seq, 1);
        ck_assert_uint_eq(ss.last_seq, 9);
        store_subject_state(st, "even", 4, &ss);
        ck_assert_uint_eq(ss.msgs, 4);
        ck_assert_uint_eq(ss.last_seq, 8);
        st = reopen(st, _i, dir, 0, NULL);
    }
    /* Removing the first skips over removed ones behind it. */
    ck_assert_int_eq(store_remove(st, 1), 0);
    ck_assert_int_eq(store_remove(st, 2), 0);
    ck_assert_uint_eq(state(st).first_seq, 4);
    ck_assert_int_eq(state(st).first_ts, 400);
    ck_assert_uint_eq(state(st).num_deleted, 2);
    ck_assert_uint_eq(store_seq_at_time(st, 0), 4);
    ck_assert_uint_eq(store_seq_at_time(st, 450), 6);
    ck_assert_uint_eq(store_seq_at_time(st, 500), 6);
    ck_assert_uint_eq(store_seq_at_time(st, 901), 0);
    store_close(st);
}
END_TEST

static uint64_t survivors(struct store *st, uint64_t *out, size_t max)
{
    struct store_msg m = { 0 };
    uint64_t n = 0;
    for (uint64_t seq = 1; store_load_next(st, seq, NULL, 0, &m) == 0; seq = m.seq + 1)
        if (n < max)
            out[n++] = m.seq;
    store_msg_free(&m);
    return n;
}

START_TEST(purge_variants)
{
    char dir[PATH_MAX];
    new_dir(dir);
    struct store *st = open_at(_i, dir, 0, NULL);
    /* 1 a.x, 2 b.x, 3 a.y, 4 b.y, ... 20 */
    for (int i = 1; i <= 20; i++) {
        char subj[8];
        snprintf(subj, sizeof subj, "%c.%c", i % 2 ? 'a' : 'b', (i - 1) / 2 % 2 ? 'y' : 'x');
        put(st, subj, "p", i);
    }
    uint64_t purged, got[32];
    /* literal with keep: a.x is 1,5,9,13,17 -> keep 13,17 */
    ck_assert_int_eq(store_purge(st, "a.x", 3, 0, 2, &purged), 0);
    ck_assert_uint_eq(purged, 3);
    struct store_subject_state ss;
    store_subject_state(st, "a.x", 3, &ss);
    ck_assert_uint_eq(ss.msgs, 2);
    ck_assert_uint_eq(ss.first_seq, 13);
    /* literal below a sequence: b.y is 4,8,12,16,20 -> 12 and up stay */
    ck_assert_int_eq(store_purge(st, "b.y", 3, 12, 0, &purged), 0);
    ck_assert_uint_eq(purged, 2);
    /* wildcard with keep: *.x is 2,6,10,14,18 (b.x) + 13,17 (a.x) -> keep 17,18 */
    ck_assert_int_eq(store_purge(st, "*.x", 3, 0, 2, &purged), 0);
    ck_assert_uint_eq(purged, 5);
    store_subject_state(st, "b.x", 3, &ss);
    ck_assert_uint_eq(ss.msgs, 1);
    ck_assert_uint_eq(ss.first_seq, 18);
    /* wildcard below a sequence */
    ck_assert_int_eq(store_purge(st, "a.>", 3, 8, 0, &purged), 0);
    ck_assert_uint_eq(purged, 2); /* 3 and 7 (a.y); 1 and 5 already gone */
    ck_assert_int_eq(store_purge(st, "zzz", 3, 0, 0, &purged), 0);
    ck_assert_uint_eq(purged, 0);
    ck_assert_int_eq(store_purge(st, "q.*", 3, 0, 0, &purged), 0);
    ck_assert_uint_eq(purged, 0);
    uint64_t want1[] = { 11, 12, 15, 16, 17, 18, 19, 20 };
    for (int pass = 0; pass < 2; pass++) {
        ck_assert_uint_eq(survivors(st, got, 32), 8);
        for (int i = 0; i < 8; i++)
            ck_assert_uint_eq(got[i], want1[i]);
        ck_assert_uint_eq(state(st).first_seq, 11);
        ck_assert_uint_eq(state(st).num_deleted, 2);
        st = reopen(st, _i, dir, 0, NULL);
    }
    /* everything, keep 3 */
    ck_assert_int_eq(store_purge(st, ">", 1, 0, 3, &purged), 0);
    ck_assert_uint_eq(purged, 5);
    /* everything below 20 */
    ck_assert_int_eq(store_purge(st, NULL, 0, 20, 0, &purged), 0);
    ck_assert_uint_eq(purged, 2);
    ck_assert_int_eq(store_purge(st, NULL, 0, 20, 0, &purged), 0);
    ck_assert_uint_eq(purged, 0);
    st = reopen(st, _i, dir, 0, NULL);
    ck_assert_uint_eq(survivors(st, got, 32), 1);
    ck_assert_uint_eq(got[0], 20);
    ck_assert_uint_eq(state(st).first_seq, 20);
    ck_assert_uint_eq(state(st).num_subjects, 1);
    store_close(st);
}
END_TEST

static int count_subject(void *arg, const char *s, size_t len,
                         const struct store_subject_state *ss)
{
    (void)s, (void)len;
    uint64_t *acc = arg;
    acc[0]++;
    acc[1] += ss->msgs;
    return acc[0] == acc[2] ? 7 : 0;
}

START_TEST(subjects_and_counts)
{
    char dir[PATH_MAX];
    new_dir(dir);
    struct store *st = open_at(_i, dir, 0, NULL);
    const char *subj[] = { "kv.a", "kv.b", "kv.c.d", "other" };
    for (int i = 0; i < 40; i++)
        put(st, subj[i % 4], "v", i);
    ck_assert_int_eq(store_remove(st, 2), 0); /* kv.b */
    ck_assert_int_eq(store_remove(st, 21), 0); /* kv.a */
    uint64_t acc[3] = { 0, 0, 0 };
    ck_assert_int_eq(store_each_subject(st, NULL, 0, count_subject, acc), 0);
    ck_assert_uint_eq(acc[0], 4);
    ck_assert_uint_eq(acc[1], 38);
    memset(acc, 0, sizeof acc);
    ck_assert_int_eq(store_each_subject(st, "kv.*", 4, count_subject, acc), 0);
    ck_assert_uint_eq(acc[0], 2);
    ck_assert_uint_eq(acc[1], 18);
    acc[0] = acc[1] = 0;
    acc[2] = 1;
    ck_assert_int_eq(store_each_subject(st, "kv.>", 4, count_subject, acc), 7);
    ck_assert_uint_eq(acc[0], 1);

    ck_assert_uint_eq(store_count_from(st, 0, NULL, 0), 38);
    ck_assert_uint_eq(store_count_from(st, 1, ">", 1), 38);
    ck_assert_uint_eq(store_count_from(st, 3, NULL, 0), 37);
    ck_assert_uint_eq(store_count_from(st, 22, NULL, 0), 19);
    ck_assert_uint_eq(store_count_from(st, 41, NULL, 0), 0);
    ck_assert_uint_eq(store_count_from(st, 1, "kv.a", 4), 9);
    ck_assert_uint_eq(store_count_from(st, 30, "kv.a", 4), 2); /* seq 1+4k: 33, 37 */
    ck_assert_uint_eq(store_count_from(st, 1, "kv.>", 4), 28);
    ck_assert_uint_eq(store_count_from(st, 39, "kv.>", 4), 1); /* 39 = kv.c.d */
    ck_assert_uint_eq(store_count_from(st, 1, "*", 1), 10);
    ck_assert_uint_eq(store_count_from(st, 1, "nope", 4), 0);
    struct store_subject_state ss;
    store_subject_state(st, "nope", 4, &ss);
    ck_assert_uint_eq(ss.msgs + ss.first_seq + ss.last_seq, 0);
    store_close(st);
}
END_TEST

struct trim_arg {
    struct store *st;
    int calls;
    bool saw_victim;
};

/* Trims its subject to one message and empties "victim" whenever it can. */
static int trim_and_kill(void *arg, const char *s, size_t len,
                         const struct store_subject_state *ss)
{
    struct trim_arg *t = arg;
    t->calls++;
    if (len == 6 && memcmp(s, "victim", 6) == 0)
        t->saw_victim = true;
    uint64_t purged;
    ck_assert_int_eq(store_purge(t->st, s, len, 0, 1, &purged), 0);
    ck_assert_uint_eq(purged, ss->msgs - 1);
    ck_assert_int_eq(store_purge(t->st, "victim", 6, 0, 0, &purged), 0);
    return 0;
}

/* The JetStream layer trims subjects from inside store_each_subject. */
START_TEST(each_subject_callback_may_remove)
{
    char dir[PATH_MAX], subj[32];
    new_dir(dir);
    struct store *st = open_at(_i, dir, 0, NULL);
    for (int i = 0; i < 600; i++) {
        snprintf(subj, sizeof subj, "k.%d", i % 150);
        put(st, subj, "v", i);
    }
    put(st, "victim", "v", 1000);
    struct trim_arg t = { st, 0, false };
    ck_assert_int_eq(store_each_subject(st, NULL, 0, trim_and_kill, &t), 0);
    ck_assert_int_le(t.calls, 151);
    ck_assert_int_ge(t.calls, 150);
    ck_assert_uint_eq(state(st).num_subjects, 150);
    ck_assert_uint_eq(state(st).msgs, 150);
    st = reopen(st, _i, dir, 0, NULL);
    ck_assert_uint_eq(state(st).msgs, 150);
    store_close(st);
}
END_TEST

/* A wildcard consumer far behind on a subject that is rarely published. */
START_TEST(wildcard_next_skips_far)
{
    char dir[PATH_MAX];
    new_dir(dir);
    struct store *st = open_at(_i, dir, 0, NULL);
    char subj[32];
    for (int i = 0; i < 3000; i++) {
        snprintf(subj, sizeof subj, "noise.%d", i % 7);
        put(st, subj, "n", i);
    }
    put(st, "rare.one", "r1", 5000);
    for (int i = 0; i < 500; i++)
        put(st, "noise.x", "n", 6000 + i);
    put(st, "rare.two", "r2", 7000);
    struct store_msg m = { 0 };
    ck_assert_int_eq(store_load_next(st, 1, "rare.*", 6, &m), 0);
    ck_assert_uint_eq(m.seq, 3001);
    ck_assert_int_eq(store_load_next(st, 3002, "rare.*", 6, &m), 0);
    ck_assert_uint_eq(m.seq, 3502);
    ck_assert_int_eq(store_load_next(st, 3503, "rare.*", 6, &m), -ENOENT);
    ck_assert_uint_eq(store_count_from(st, 2, "rare.>", 6), 2);
    store_msg_free(&m);
    store_close(st);
}
END_TEST

/* A work queue: append at the back, remove at the front and sometimes in
 * the middle, long enough for the index to slide and compact many times. */
START_TEST(queue_churn)
{
    char dir[PATH_MAX];
    new_dir(dir);
    struct store *st = open_at(_i, dir, 4096, NULL);
    uint64_t removed = 0;
    for (uint64_t i = 1; i <= 20000; i++) {
        char d[32];
        snprintf(d, sizeof d, "job %" PRIu64, i);
        put(st, i % 3 ? "q.work" : "q.other", d, (int64_t)i);
        if (i > 300) {
            struct store_state s = state(st);
            ck_assert_int_eq(store_remove(st, s.first_seq), 0);
            removed++;
            if (i % 5 == 0 && store_remove(st, i - 100) == 0)
                removed++;
        }
    }
    struct store_state s = state(st);
    ck_assert_uint_eq(s.msgs, 20000 - removed);
    ck_assert_uint_eq(store_count_from(st, 0, NULL, 0), s.msgs);
    ck_assert_uint_eq(store_count_from(st, 19950, NULL, 0), 51);
    ck_assert_uint_eq(s.num_deleted, s.last_seq - s.first_seq + 1 - s.msgs);
    st = reopen(st, _i, dir, 4096, NULL);
    struct store_state s2 = state(st);
    ck_assert_uint_eq(s2.msgs, s.msgs);
    ck_assert_uint_eq(s2.first_seq, s.first_seq);
    ck_assert_uint_eq(s2.bytes, s.bytes);
    expect_msg(st, 20000, "q.work", "job 20000");
    expect_msg(st, 19902, "q.other", "job 19902");
    ck_assert_int_eq(load_rc(st, 19900), -ENOENT);
    expect_msg(st, 19901, "q.work", "job 19901");
    store_close(st);
}
END_TEST

/* A segment that lost its tail while a newer one exists is damage, not a
 * torn write: reported, the rest of it skipped, nothing cut. */
START_TEST(damaged_tail_of_older_segment)
{
    char dir[PATH_MAX], seg[PATH_MAX];
    new_dir(dir);
    struct store *st = open_at(0, dir, 512, NULL);
    for (int i = 1; i <= 20; i++)
        put(st, "d", "twenty-byte payload.", i);
    store_close(st);
    seg_path(dir, 0, seg);
    off_t size = file_size(seg);
    ck_assert_int_eq(truncate(seg, size - 10), 0);
    struct store_report rep;
    st = open_at(0, dir, 512, &rep);
    ck_assert_uint_eq(rep.torn_bytes, 0);
    ck_assert_uint_eq(rep.corrupt_records, 1);
    ck_assert(strstr(rep.detail, "rest of segment skipped"));
    ck_assert_int_eq(file_size(seg), size - 10);
    struct store_state s = state(st);
    ck_assert_uint_eq(s.msgs, 19);
    ck_assert_uint_eq(s.last_seq, 20);
    ck_assert_uint_eq(s.num_deleted, 1);
    ck_assert_uint_eq(put(st, "d", "21", 21), 21);
    store_close(st);
}
END_TEST

/* ---- randomized, against a model ------------------------------------------- */

#define MODEL_MAX 6000
struct model_msg {
    bool present;
    int subj;
};

static const char *model_subj[] = { "a.1", "a.2", "b.1", "b.2.x", "c", "d.e.f" };
static const char *model_filter[] = { NULL, ">", "a.1", "a.*", "b.>", "*.1", "c", "zz", "*.*.*" };
#define NSUBJ (int)(sizeof model_subj / sizeof *model_subj)
#define NFILT (int)(sizeof model_filter / sizeof *model_filter)

static bool model_match(int f, int s)
{
    static const bool tab[NFILT][NSUBJ] = {
        { 1, 1, 1, 1, 1, 1 }, { 1, 1, 1, 1, 1, 1 }, { 1, 0, 0, 0, 0, 0 },
        { 1, 1, 0, 0, 0, 0 }, { 0, 0, 1, 1, 0, 0 }, { 1, 0, 1, 0, 0, 0 },
        { 0, 0, 0, 0, 1, 0 }, { 0, 0, 0, 0, 0, 0 }, { 0, 0, 0, 1, 0, 1 },
    };
    return tab[f][s];
}

static void payload(uint64_t seq, char *out)
{
    snprintf(out, 64, "payload-%" PRIu64 "-%.*s", seq, (int)(seq % 23), "xxxxxxxxxxxxxxxxxxxxxxxx");
}

static void model_check(struct store *st, const struct model_msg *mm, uint64_t last, int kind)
{
    uint64_t msgs = 0, bytes = 0, first = 0, ndel = 0;
    for (uint64_t s = 1; s <= last; s++)
        if (mm[s].present) {
            char p[64];
            payload(s, p);
            msgs++;
            bytes += strlen(model_subj[mm[s].subj]) + strlen(p) + (kind ? 16 : 30);
            if (!first)
                first = s;
        }
    if (!first)
        first = last + 1;
    else
        for (uint64_t s = first; s <= last; s++)
            ndel += !mm[s].present;
    struct store_state s = state(st);
    REQUIRE(s.msgs == msgs && s.bytes == bytes && s.first_seq == first && s.last_seq == last &&
                s.num_deleted == ndel,
            "state %" PRIu64 "/%" PRIu64 "/%" PRIu64 "/%" PRIu64 "/%" PRIu64 " want %" PRIu64
            "/%" PRIu64 "/%" PRIu64 "/%" PRIu64 "/%" PRIu64,
            s.msgs, s.bytes, s.first_seq, s.last_seq, s.num_deleted, msgs, bytes, first, last,
            ndel);
    REQUIRE(s.first_ts == (msgs ? (int64_t)first * 10 : 0), "first_ts");
    uint64_t *del = malloc((ndel + 1) * sizeof *del), k = 0;
    REQUIRE(store_deleted(st, del, ndel + 1) == ndel, "deleted count");
    for (uint64_t q = first; msgs && q <= last; q++)
        if (!mm[q].present)
            REQUIRE(del[k++] == q, "deleted[%" PRIu64 "]", k - 1);
    free(del);
    struct store_msg m = { 0 };
    for (int t = 0; t < 6; t++) {
        uint64_t start = (uint64_t)rand() % (last + 3);
        int f = rand() % NFILT;
        const char *fs = model_filter[f];
        size_t fl = fs ? strlen(fs) : 0;
        uint64_t want_next = 0, want_count = 0;
        for (uint64_t q = start ? start : 1; q <= last; q++)
            if (mm[q].present && model_match(f, mm[q].subj)) {
                want_count++;
                if (!want_next)
                    want_next = q;
            }
        uint64_t got = store_count_from(st, start, fs, fl);
        REQUIRE(got == want_count, "count_from(%" PRIu64 ", %s) = %" PRIu64 ", want %" PRIu64,
                start, fs ? fs : "NULL", got, want_count);
        int rc = store_load_next(st, start, fs, fl, &m);
        REQUIRE(want_next ? rc == 0 && m.seq == want_next : rc == -ENOENT,
                "load_next(%" PRIu64 ", %s): rc %d seq %" PRIu64 " want %" PRIu64, start,
                fs ? fs : "NULL", rc, rc ? 0 : m.seq, want_next);
        if (want_next) {
            char p[64];
            payload(want_next, p);
            REQUIRE(m.data_len == strlen(p) && memcmp(m.data, p, m.data_len) == 0 &&
                        m.ts == (int64_t)want_next * 10,
                    "payload of %" PRIu64, want_next);
        }
        int sj = rand() % NSUBJ;
        uint64_t want_last = 0;
        for (uint64_t q = 1; q <= last; q++)
            if (mm[q].present && mm[q].subj == sj)
                want_last = q;
        rc = store_load_last(st, model_subj[sj], strlen(model_subj[sj]), &m);
        REQUIRE(want_last ? rc == 0 && m.seq == want_last : rc == -ENOENT, "load_last");
        int64_t ts = (int64_t)(rand() % (int)(last * 10 + 20));
        uint64_t want_t = 0;
        for (uint64_t q = 1; q <= last && !want_t; q++)
            if (mm[q].present && (int64_t)q * 10 >= ts)
                want_t = q;
        REQUIRE(store_seq_at_time(st, ts) == want_t, "seq_at_time(%" PRId64 ")", ts);
    }
    store_msg_free(&m);
}

START_TEST(random_against_model)
{
    unsigned seed = (unsigned)time(NULL) ^ (unsigned)getpid();
    if (getenv("TERN_STORE_SEED"))
        seed = (unsigned)strtoul(getenv("TERN_STORE_SEED"), NULL, 10);
    printf("check_store random_against_model kind %d seed %u\n", _i, seed);
    srand(seed);
    char dir[PATH_MAX];
    new_dir(dir);
    struct store *st = open_at(_i, dir, 2048, NULL);
    struct model_msg *mm = calloc(MODEL_MAX + 2, sizeof *mm);
    uint64_t last = 0;
    for (int op = 0; op < 5000 && last < MODEL_MAX; op++) {
        int r = rand() % 100;
        if (r < 55) {
            int sj = rand() % NSUBJ;
            char p[64];
            payload(last + 1, p);
            uint64_t seq = put(st, model_subj[sj], p, (int64_t)(last + 1) * 10);
            REQUIRE(seq == last + 1, "append gave %" PRIu64, seq);
            mm[++last] = (struct model_msg){ true, sj };
        } else if (r < 85 && last) {
            /* Mostly near the front, as retention does, sometimes anywhere. */
            uint64_t q = rand() % 3 ? 1 + (uint64_t)rand() % (last < 40 ? last : 40)
                                    : 1 + (uint64_t)rand() % last;
            for (uint64_t s = 1; s <= last && rand() % 2; s++)
                if (mm[s].present) {
                    q = s;
                    break;
                }
            int rc = store_remove(st, q);
            REQUIRE(rc == (mm[q].present ? 0 : -ENOENT), "remove %" PRIu64 ": %d", q, rc);
            mm[q].present = false;
        } else if (r < 88) {
            int f = rand() % NFILT;
            uint64_t upto = rand() % 2 ? (uint64_t)rand() % (last + 2) : 0;
            uint64_t keep = rand() % 2 ? (uint64_t)rand() % 30 : 0;
            uint64_t nmatch = 0, bound = upto ? upto : UINT64_MAX, purged, want = 0;
            for (uint64_t s = 1; s <= last; s++)
                nmatch += mm[s].present && model_match(f, mm[s].subj);
            if (keep && nmatch <= keep)
                bound = 0;
            else if (keep)
                for (uint64_t s = last, seen = 0; s >= 1; s--)
                    if (mm[s].present && model_match(f, mm[s].subj) && ++seen == keep) {
                        bound = s < bound ? s : bound;
                        break;
                    }
            for (uint64_t s = 1; s <= last && s < bound; s++)
                if (mm[s].present && model_match(f, mm[s].subj)) {
                    mm[s].present = false;
                    want++;
                }
            const char *fs = model_filter[f];
            ck_assert_int_eq(store_purge(st, fs, fs ? strlen(fs) : 0, upto, keep, &purged), 0);
            REQUIRE(purged == want, "purge %s upto %" PRIu64 " keep %" PRIu64 ": %" PRIu64
                    " want %" PRIu64, fs ? fs : "NULL", upto, keep, purged, want);
        } else if (r < 90) {
            st = reopen(st, _i, dir, 2048, NULL);
        } else {
            model_check(st, mm, last, _i);
        }
    }
    model_check(st, mm, last, _i);
    st = reopen(st, _i, dir, 2048, NULL);
    model_check(st, mm, last, _i);
    free(mm);
    store_close(st);
}
END_TEST

/* ---- blobs ------------------------------------------------------------------- */

static int collect_name(void *arg, const char *name)
{
    char *acc = arg;
    strcat(acc, name);
    strcat(acc, ",");
    return 0;
}

static int stop_at_first(void *arg, const char *name)
{
    (void)arg, (void)name;
    return 42;
}

START_TEST(blobs)
{
    char dir[PATH_MAX];
    new_dir(dir);
    struct store *st = open_at(_i, dir, 0, NULL);
    void *data;
    size_t len;
    ck_assert_int_eq(store_blob_get(st, "meta", &data, &len), -ENOENT);
    ck_assert_int_eq(store_blob_put(st, "meta", "{\"v\":1}", 7), 0);
    ck_assert_int_eq(store_blob_put(st, "c.durable-1", "state-a", 7), 0);
    ck_assert_int_eq(store_blob_put(st, "c.durable-2", "", 0), 0);
    ck_assert_int_eq(store_blob_put(st, "meta", "{\"v\":2,\"x\":true}", 16), 0);
    ck_assert_int_eq(store_blob_put(st, ".hidden", "x", 1), -EINVAL);
    ck_assert_int_eq(store_blob_put(st, "a/b", "x", 1), -EINVAL);
    ck_assert_int_eq(store_blob_put(st, "", "x", 1), -EINVAL);
    ck_assert_int_eq(store_sync(st), 0);
    for (int pass = 0; pass < 2; pass++) {
        ck_assert_int_eq(store_blob_get(st, "meta", &data, &len), 0);
        ck_assert_uint_eq(len, 16);
        ck_assert(memcmp(data, "{\"v\":2,\"x\":true}", 16) == 0);
        free(data);
        ck_assert_int_eq(store_blob_get(st, "c.durable-2", &data, &len), 0);
        ck_assert_uint_eq(len, 0);
        free(data);
        char names[256] = "";
        ck_assert_int_eq(store_blob_each(st, "c.", collect_name, names), 0);
        ck_assert(strstr(names, "c.durable-1,") && strstr(names, "c.durable-2,") &&
                  !strstr(names, "meta"));
        ck_assert_int_eq(store_blob_each(st, NULL, stop_at_first, NULL), 42);
        st = reopen(st, _i, dir, 0, NULL);
    }
    ck_assert_int_eq(store_blob_delete(st, "c.durable-1"), 0);
    ck_assert_int_eq(store_blob_delete(st, "c.durable-1"), -ENOENT);
    st = reopen(st, _i, dir, 0, NULL);
    ck_assert_int_eq(store_blob_get(st, "c.durable-1", &data, &len), -ENOENT);
    /* Blobs and messages do not see each other. */
    put(st, "blob.meta", "m", 1);
    ck_assert_uint_eq(state(st).msgs, 1);
    store_close(st);
}
END_TEST

START_TEST(blob_damage_reads_as_eio)
{
    char dir[PATH_MAX], path[PATH_MAX + 32];
    new_dir(dir);
    struct store *st = open_at(0, dir, 0, NULL);
    ck_assert_int_eq(store_blob_put(st, "cons", "0123456789abcdef", 16), 0);
    ck_assert_int_eq(store_blob_put(st, "short", "0123456789abcdef", 16), 0);
    store_close(st);
    snprintf(path, sizeof path, "%s/blob.cons", dir);
    flip_byte(path, 16 + 5);
    snprintf(path, sizeof path, "%s/blob.short", dir);
    ck_assert_int_eq(truncate(path, 20), 0);
    /* A crash between writing the temp file and renaming it. */
    snprintf(path, sizeof path, "%s/.tmp-blob.cons", dir);
    FILE *f = fopen(path, "w");
    fputs("half written", f);
    fclose(f);
    st = open_at(0, dir, 0, NULL);
    ck_assert_int_eq(access(path, F_OK), -1);
    void *data;
    size_t len;
    ck_assert_int_eq(store_blob_get(st, "cons", &data, &len), -EIO);
    ck_assert_int_eq(store_blob_get(st, "short", &data, &len), -EIO);
    /* A put replaces the damaged one whole. */
    ck_assert_int_eq(store_blob_put(st, "cons", "new", 3), 0);
    ck_assert_int_eq(store_blob_get(st, "cons", &data, &len), 0);
    ck_assert_uint_eq(len, 3);
    free(data);
    store_close(st);
}
END_TEST

/* ---- segments and recovery (files) ---------------------------------------------- */

START_TEST(segment_rollover_and_unlink)
{
    char dir[PATH_MAX], names[256][64], data[200];
    new_dir(dir);
    struct store *st = open_at(0, dir, 1024, NULL);
    memset(data, 'd', sizeof data - 1);
    data[sizeof data - 1] = 0;
    for (int i = 0; i < 100; i++)
        put(st, i % 2 ? "s.odd" : "s.even", data, i);
    int nseg = seg_files(dir, names, 256);
    ck_assert_int_ge(nseg, 20);
    /* One message larger than a segment gets a segment of its own. */
    char *big = malloc(5000);
    memset(big, 'B', 4999);
    big[4999] = 0;
    ck_assert_uint_eq(put(st, "big", big, 100), 101);
    st = reopen(st, 0, dir, 1024, NULL);
    for (uint64_t s = 1; s <= 100; s++)
        expect_msg(st, s, s % 2 ? "s.even" : "s.odd", data);
    expect_msg(st, 101, "big", big);
    uint64_t purged;
    ck_assert_int_eq(store_purge(st, NULL, 0, 90, 0, &purged), 0);
    ck_assert_uint_eq(purged, 89);
    ck_assert_int_eq(store_sync(st), 0);
    ck_assert_int_lt(seg_files(dir, names, 256), 6);
    st = reopen(st, 0, dir, 1024, NULL);
    ck_assert_uint_eq(state(st).msgs, 12);
    ck_assert_uint_eq(state(st).first_seq, 90);
    expect_msg(st, 90, "s.odd", data);
    ck_assert_uint_eq(put(st, "after", "x", 200), 102);
    free(big);
    store_close(st);
}
END_TEST

/* A removal record must outlive the message it removes even when the
 * segment holding the record has nothing else left. */
START_TEST(removal_outlives_its_segment)
{
    char dir[PATH_MAX], names[256][64], data[100];
    new_dir(dir);
    memset(data, 'r', sizeof data - 1);
    data[sizeof data - 1] = 0;
    struct store *st = open_at(0, dir, 1024, NULL);
    for (int i = 0; i < 8; i++)
        put(st, "old", data, i); /* 1-7 fill segment 1 (134-byte records) */
    for (int i = 0; i < 30; i++)
        put(st, "new", data, i); /* 9-38: segments 2-6 */
    ck_assert_int_eq(store_remove(st, 3), 0); /* DEL(3) goes to segment 6 */
    uint64_t purged;
    ck_assert_int_eq(store_purge(st, "new", 3, 0, 0, &purged), 0);
    ck_assert_uint_eq(purged, 30);
    /* Move on: segment 6 is no longer the active one and holds no
     * message, but DEL(3) in it still matters while segment 1 lives. */
    for (int i = 0; i < 20; i++)
        put(st, "more", data, i);
    ck_assert_int_eq(store_purge(st, "more", 4, 0, 0, &purged), 0);
    int mid = seg_files(dir, names, 256);
    st = reopen(st, 0, dir, 1024, NULL);
    ck_assert_int_eq(load_rc(st, 3), -ENOENT);
    ck_assert_uint_eq(state(st).msgs, 7);
    ck_assert_uint_eq(state(st).last_seq, 58);
    /* Once segment 1 is gone, so is everything that only guarded it. */
    ck_assert_int_eq(store_purge(st, "old", 3, 0, 0, &purged), 0);
    ck_assert_uint_eq(purged, 7);
    ck_assert_int_lt(seg_files(dir, names, 256), mid);
    ck_assert_int_le(seg_files(dir, names, 256), 2);
    st = reopen(st, 0, dir, 1024, NULL);
    ck_assert_uint_eq(state(st).msgs, 0);
    ck_assert_uint_eq(put(st, "x", "y", 1), 59);
    store_close(st);
}
END_TEST

START_TEST(torn_tail_is_cut)
{
    char dir[PATH_MAX], seg[PATH_MAX];
    new_dir(dir);
    struct store *st = open_at(0, dir, 0, NULL);
    for (int i = 1; i <= 10; i++) {
        char d[32];
        snprintf(d, sizeof d, "message %d", i);
        put(st, "t", d, i);
    }
    store_close(st);
    seg_path(dir, -1, seg);
    off_t size = file_size(seg);
    ck_assert_int_eq(truncate(seg, size - 5), 0); /* mid-record */
    struct store_report rep;
    st = open_at(0, dir, 0, &rep);
    ck_assert_uint_gt(rep.torn_bytes, 0);
    ck_assert_uint_eq(rep.corrupt_records, 0);
    ck_assert(strstr(rep.detail, "torn"));
    ck_assert_uint_eq(state(st).msgs, 9);
    ck_assert_uint_eq(state(st).last_seq, 9);
    ck_assert_int_eq(load_rc(st, 10), -ENOENT);
    expect_msg(st, 9, "t", "message 9");
    ck_assert_uint_eq(put(st, "t", "again 10", 11), 10);
    store_close(st);
    /* Garbage after the last record (a torn write of zeros or junk). */
    int fd = open(seg, O_WRONLY | O_APPEND);
    ck_assert(write(fd, "\x07\x00\x00\x00\x40\x00\x00\x00\x02\x01junk", 14) == 14);
    close(fd);
    st = open_at(0, dir, 0, &rep);
    ck_assert_uint_eq(rep.torn_bytes, 14);
    ck_assert_uint_eq(rep.corrupt_records, 0);
    expect_msg(st, 10, "t", "again 10");
    ck_assert_uint_eq(put(st, "t", "11", 12), 11);
    st = reopen(st, 0, dir, 0, NULL); /* clean now */
    ck_assert_uint_eq(state(st).msgs, 11);
    store_close(st);
}
END_TEST

START_TEST(torn_segment_header)
{
    char dir[PATH_MAX], seg[PATH_MAX + 64];
    new_dir(dir);
    struct store *st = open_at(0, dir, 0, NULL);
    put(st, "a", "1", 1);
    store_close(st);
    /* A crash right after creating the next segment: 10 bytes of its header. */
    snprintf(seg, sizeof seg, "%s/00000002-0badcafe.seg", dir);
    int fd = open(seg, O_CREAT | O_WRONLY, 0644);
    ck_assert(write(fd, "0123456789", 10) == 10);
    close(fd);
    struct store_report rep;
    st = open_at(0, dir, 0, &rep);
    ck_assert_uint_eq(rep.torn_bytes, 10);
    ck_assert_uint_eq(put(st, "a", "2", 2), 2);
    st = reopen(st, 0, dir, 0, NULL);
    expect_msg(st, 1, "a", "1");
    expect_msg(st, 2, "a", "2");
    store_close(st);
}
END_TEST

START_TEST(corrupt_record_reported_not_served)
{
    char dir[PATH_MAX], seg[PATH_MAX];
    new_dir(dir);
    struct store *st = open_at(0, dir, 512, NULL);
    for (int i = 1; i <= 30; i++) {
        char d[40];
        snprintf(d, sizeof d, "body of message %02d", i);
        put(st, "c", d, i);
    }
    store_close(st);
    /* Damage seq 4 (an early segment) and seq 28 (the last segment, with
     * records after it, so not a torn tail). */
    uint32_t len;
    off_t at = -1;
    char names[64][64];
    int n = seg_files(dir, names, 64);
    ck_assert_int_ge(n, 3);
    for (int k = 0; k < n && at < 0; k++) {
        seg_path(dir, k, seg);
        at = find_record(seg, 4, &len);
    }
    ck_assert_int_ge(at, 0);
    flip_byte(seg, at + len - 3);
    seg_path(dir, -1, seg);
    at = find_record(seg, 28, &len);
    ck_assert_int_ge(at, 0);
    flip_byte(seg, at + 6); /* its length field */
    struct store_report rep;
    st = open_at(0, dir, 512, &rep);
    ck_assert_uint_eq(rep.corrupt_records, 2);
    ck_assert_uint_eq(rep.torn_bytes, 0);
    ck_assert(strstr(rep.detail, "checksum"));
    ck_assert_int_eq(load_rc(st, 4), -ENOENT);
    ck_assert_int_eq(load_rc(st, 28), -ENOENT);
    struct store_state s = state(st);
    ck_assert_uint_eq(s.msgs, 28);
    ck_assert_uint_eq(s.last_seq, 30);
    ck_assert_uint_eq(s.num_deleted, 2);
    for (uint64_t q = 1; q <= 30; q++)
        if (q != 4 && q != 28) {
            char d[40];
            snprintf(d, sizeof d, "body of message %02d", (int)q);
            expect_msg(st, q, "c", d);
        }
    ck_assert_uint_eq(put(st, "c", "31", 31), 31);
    /* Rot after open: the record fails its checksum on read, never served. */
    seg_path(dir, -1, seg);
    at = find_record(seg, 31, &len);
    ck_assert_int_ge(at, 0);
    flip_byte(seg, at + len - 1);
    ck_assert_int_eq(load_rc(st, 31), -EIO);
    store_close(st);
    st = open_at(0, dir, 512, &rep);
    ck_assert_uint_eq(rep.corrupt_records, 2);
    ck_assert_uint_eq(rep.torn_bytes, len); /* seq 31 was the tail: now torn */
    store_close(st);
}
END_TEST

/* A payload that contains a well-formed record must not be taken for one
 * when recovery resyncs past damage in front of it. */
START_TEST(embedded_record_not_resurrected)
{
    char dir[PATH_MAX], seg[PATH_MAX];
    new_dir(dir);
    struct store *st = open_at(0, dir, 0, NULL);
    put(st, "x", "first", 1);
    put(st, "x", "second", 2);
    store_close(st);
    /* Copy the second record (valid in this file) into a third payload. */
    seg_path(dir, -1, seg);
    uint32_t len;
    off_t at = find_record(seg, 2, &len);
    char rec[128];
    int fd = open(seg, O_RDONLY);
    ck_assert(pread(fd, rec, len, at) == (ssize_t)len);
    close(fd);
    /* Rewrite its seq to 99 and... the CRC would fail anyway, but keep it
     * verbatim: same file, same nonce, so only the seq check stops it. */
    st = open_at(0, dir, 0, NULL);
    uint64_t seq;
    ck_assert_int_eq(store_append(st, "y", 1, NULL, 0, rec, len, 3, &seq), 0);
    store_close(st);
    at = find_record(seg, 3, &len);
    flip_byte(seg, at + 20); /* damage seq 3's header */
    struct store_report rep;
    st = open_at(0, dir, 0, &rep);
    ck_assert_int_eq(load_rc(st, 3), -ENOENT);
    ck_assert_uint_eq(state(st).msgs, 2);
    ck_assert_uint_eq(state(st).last_seq, 2);
    store_close(st);
}
END_TEST

/* Writes that fail part-way (disk full) leave the store as it was: fill
 * until an append fails, check nothing moved, return how many went in. */
static uint64_t fill(const char *dir, size_t seg, int expect_err)
{
    struct store *st = open_at(0, dir, seg, NULL);
    char data[1000];
    memset(data, 'f', sizeof data);
    uint64_t ok = 0, seq;
    int rc;
    while (!(rc = store_append(st, "f", 1, NULL, 0, data, sizeof data, (int64_t)ok, &seq))) {
        ok++;
        REQUIRE(ok < 100000, "the disk never filled");
    }
    ck_assert_int_eq(rc, expect_err);
    struct store_state s = state(st);
    ck_assert_uint_eq(s.msgs, ok);
    ck_assert_uint_eq(s.last_seq, ok);
    ck_assert_int_eq(store_append(st, "f", 1, NULL, 0, data, sizeof data, 0, &seq), rc);
    ck_assert_uint_eq(state(st).last_seq, ok);
    ck_assert_int_eq(store_sync(st), 0);
    ck_assert_int_eq(load_rc(st, ok), 0);
    store_close(st);
    return ok;
}

/* Once there is room again: everything acknowledged is there, nothing torn,
 * and sequences carry on. */
static void after_fill(const char *dir, size_t seg, uint64_t ok)
{
    struct store_report rep;
    struct store *st = open_at(0, dir, seg, &rep);
    ck_assert_uint_eq(rep.torn_bytes, 0);
    ck_assert_uint_eq(rep.corrupt_records, 0);
    ck_assert_uint_eq(state(st).msgs, ok);
    for (uint64_t q = 1; q <= ok; q += ok / 7 + 1) {
        struct store_msg m = { 0 };
        ck_assert_int_eq(store_load(st, q, &m), 0);
        ck_assert_uint_eq(m.data_len, 1000);
        store_msg_free(&m);
    }
    uint64_t purged, seq;
    ck_assert_int_eq(store_purge(st, NULL, 0, 0, 0, &purged), 0);
    ck_assert_uint_eq(purged, ok);
    ck_assert_int_eq(store_append(st, "f", 1, NULL, 0, "x", 1, 0, &seq), 0);
    ck_assert_uint_eq(seq, ok + 1);
    store_close(st);
}

START_TEST(full_disk_tmpfs)
{
    char mnt[PATH_MAX + 8], dir[PATH_MAX + 16], ballast[PATH_MAX + 16];
    snprintf(mnt, sizeof mnt, "%s/mnt", base_dir);
    ck_assert_int_eq(mkdir(mnt, 0755), 0);
    if (mount("tmpfs", mnt, "tmpfs", 0, "size=512k") < 0) {
        printf("check_store: cannot mount a tmpfs (%s); full_disk_tmpfs skipped, "
               "full_disk_rlimit covers the same path\n", strerror(errno));
        return;
    }
    /* Room to free once the disk is full. */
    snprintf(ballast, sizeof ballast, "%s/ballast", mnt);
    int fd = open(ballast, O_CREAT | O_WRONLY, 0644);
    char zero[64 * 1024] = { 0 };
    ck_assert(write(fd, zero, sizeof zero) == (ssize_t)sizeof zero);
    close(fd);
    snprintf(dir, sizeof dir, "%s/st", mnt);
    uint64_t ok = fill(dir, 64 * 1024, -ENOSPC);
    ck_assert_uint_gt(ok, 100);
    unlink(ballast);
    after_fill(dir, 64 * 1024, ok);
    umount2(mnt, MNT_DETACH);
}
END_TEST

/* Without root: RLIMIT_FSIZE makes write(2) fail with EFBIG past the limit
 * (SIGXFSZ ignored), after a short write, as a full disk does. Check runs
 * each test in a child, and the limit is restored anyway. */
START_TEST(full_disk_rlimit)
{
    char dir[PATH_MAX], seg[PATH_MAX];
    new_dir(dir);
    struct rlimit old, lim;
    ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
    lim = old;
    lim.rlim_cur = 200 * 1024 + 517;
    signal(SIGXFSZ, SIG_IGN);
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
    uint64_t ok = fill(dir, 1 << 20, -EFBIG);
    seg_path(dir, -1, seg);
    ck_assert_int_eq(file_size(seg), 32 + (off_t)ok * (32 + 1 + 1000));
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &old), 0);
    after_fill(dir, 1 << 20, ok);
}
END_TEST

START_TEST(second_open_is_refused)
{
    char dir[PATH_MAX];
    new_dir(dir);
    struct store *st = open_at(0, dir, 0, NULL), *st2 = NULL;
    struct store_options o = { .kind = STORE_FILE, .dir = dir };
    ck_assert_int_eq(store_open(&o, &st2, NULL), -EBUSY);
    store_close(st);
    ck_assert_int_eq(store_open(&o, &st2, NULL), 0);
    store_close(st2);
}
END_TEST

START_TEST(destroy_removes_everything)
{
    char dir[PATH_MAX];
    new_dir(dir);
    struct store *st = open_at(_i, dir, 0, NULL);
    put(st, "a", "b", 1);
    ck_assert_int_eq(store_blob_put(st, "meta", "m", 1), 0);
    ck_assert_int_eq(store_destroy(st), 0);
    if (_i == 0)
        ck_assert_int_eq(access(dir, F_OK), -1);
    store_close(NULL);
    ck_assert_int_eq(store_destroy(NULL), 0);
}
END_TEST

/* ---- sequences given by the caller (rebuilding a stream) ------------------ */

static void check_gapped(struct store *st)
{
    struct store_state s = state(st);
    ck_assert_uint_eq(s.msgs, 3);
    ck_assert_uint_eq(s.first_seq, 3);
    ck_assert_int_eq(s.first_ts, 30);
    ck_assert_uint_eq(s.last_seq, 8);
    ck_assert_int_eq(s.last_ts, 80);
    ck_assert_uint_eq(s.num_deleted, 3);
    uint64_t del[8];
    ck_assert_uint_eq(store_deleted(st, del, 8), 3);
    ck_assert_uint_eq(del[0], 4);
    ck_assert_uint_eq(del[1], 5);
    ck_assert_uint_eq(del[2], 6);
    ck_assert_int_eq(load_rc(st, 1), -ENOENT);
    ck_assert_int_eq(load_rc(st, 5), -ENOENT);
    expect_msg(st, 3, "a", "three");
    expect_msg(st, 7, "b", "seven");
    expect_msg(st, 8, "a", "eight");
    struct store_subject_state ss;
    store_subject_state(st, "a", 1, &ss);
    ck_assert_uint_eq(ss.msgs, 2);
    ck_assert_uint_eq(ss.first_seq, 3);
    ck_assert_uint_eq(ss.last_seq, 8);
    ck_assert_uint_eq(store_seq_at_time(st, 31), 7);
}

START_TEST(append_at_skips_sequences)
{
    char dir[PATH_MAX];
    new_dir(dir);
    struct store *st = open_at(_i, dir, 0, NULL);
    ck_assert_int_eq(store_append_at(st, 3, "a", 1, NULL, 0, "three", 5, 30), 0);
    ck_assert_int_eq(store_append_at(st, 7, "b", 1, NULL, 0, "seven", 5, 70), 0);
    /* Never back, never the same sequence again. */
    ck_assert_int_eq(store_append_at(st, 7, "b", 1, NULL, 0, "x", 1, 71), -EINVAL);
    ck_assert_int_eq(store_append_at(st, 5, "b", 1, NULL, 0, "x", 1, 71), -EINVAL);
    ck_assert_int_eq(store_append_at(st, 9, "", 0, NULL, 0, "x", 1, 71), -EINVAL);
    ck_assert_uint_eq(put(st, "a", "eight", 80), 8); /* the next one follows */
    check_gapped(st);
    st = reopen(st, _i, dir, 0, NULL);
    check_gapped(st);
    ck_assert_int_eq(store_remove(st, 3), 0);
    ck_assert_uint_eq(state(st).first_seq, 7);
    ck_assert_uint_eq(state(st).num_deleted, 0);
    store_close(st);
}
END_TEST

START_TEST(set_last_moves_the_next_sequence)
{
    char dir[PATH_MAX];
    new_dir(dir);
    struct store *st = open_at(_i, dir, 0, NULL);
    ck_assert_int_eq(store_set_last(st, 0, 0), 0); /* nothing assigned: no-op */
    ck_assert_int_eq(store_set_last(st, 100, 555), 0);
    for (int pass = 0; pass < 2; pass++) {
        struct store_state s = state(st);
        ck_assert_uint_eq(s.msgs, 0);
        ck_assert_uint_eq(s.first_seq, 101);
        ck_assert_uint_eq(s.last_seq, 100);
        ck_assert_int_eq(s.last_ts, 555);
        ck_assert_uint_eq(s.num_deleted, 0);
        ck_assert_int_eq(load_rc(st, 100), -ENOENT);
        st = reopen(st, _i, dir, 0, NULL);
    }
    if (_i == 0) {
        char names[8][64];
        ck_assert_int_eq(seg_files(dir, names, 8), 1); /* the first one was emptied */
    }
    ck_assert_int_eq(store_set_last(st, 100, 555), 0);
    ck_assert_int_eq(store_set_last(st, 100, 556), -EINVAL);
    ck_assert_int_eq(store_set_last(st, 99, 555), -EINVAL);
    ck_assert_uint_eq(put(st, "a", "x", 600), 101);
    /* A stored tail removed: last_seq stays above the newest message. */
    ck_assert_int_eq(store_set_last(st, 105, 650), 0);
    ck_assert_int_eq(store_append_at(st, 105, "a", 1, NULL, 0, "y", 1, 700), -EINVAL);
    st = reopen(st, _i, dir, 0, NULL);
    struct store_state s = state(st);
    ck_assert_uint_eq(s.msgs, 1);
    ck_assert_uint_eq(s.first_seq, 101);
    ck_assert_uint_eq(s.last_seq, 105);
    ck_assert_int_eq(s.last_ts, 650);
    ck_assert_uint_eq(s.num_deleted, 4);
    expect_msg(st, 101, "a", "x");
    ck_assert_uint_eq(put(st, "b", "z", 700), 106);
    st = reopen(st, _i, dir, 0, NULL);
    ck_assert_uint_eq(state(st).num_deleted, 4);
    /* A purge of it all keeps the skipped-to sequences. */
    uint64_t purged;
    ck_assert_int_eq(store_purge(st, NULL, 0, 0, 0, &purged), 0);
    ck_assert_uint_eq(purged, 2);
    st = reopen(st, _i, dir, 0, NULL);
    ck_assert_uint_eq(state(st).first_seq, 107);
    ck_assert_int_eq(state(st).last_ts, 700);
    store_close(st);
}
END_TEST

/* A process that rebuilds a store with gaps and is killed (no sync, no
 * close): what it wrote reads back, with the same counters, and the
 * store goes on from there. */
START_TEST(rebuilt_store_survives_kill)
{
    char dir[PATH_MAX];
    new_dir(dir);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        struct store_options o = { .kind = STORE_FILE, .dir = dir, .segment_bytes = 512 };
        struct store *st;
        if (store_open(&o, &st, NULL) < 0)
            _exit(1);
        uint64_t seq = 0;
        for (int i = 0; i < 40; i++) {
            seq += 1 + (uint64_t)(i % 4); /* gaps of 0..3 */
            char data[32];
            snprintf(data, sizeof data, "m%" PRIu64, seq);
            if (store_append_at(st, seq, i % 2 ? "odd" : "even", i % 2 ? 3 : 4, NULL, 0, data,
                                strlen(data), (int64_t)seq * 10) < 0)
                _exit(2);
        }
        if (store_set_last(st, seq + 5, (int64_t)seq * 10 + 7) < 0)
            _exit(3);
        raise(SIGKILL);
        _exit(4);
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    struct store_report rep;
    struct store *st = open_at(0, dir, 512, &rep);
    ck_assert_uint_eq(rep.torn_bytes, 0);
    ck_assert_uint_eq(rep.corrupt_records, 0);
    uint64_t seq = 0;
    for (int i = 0; i < 40; i++) {
        uint64_t prev = seq;
        seq += 1 + (uint64_t)(i % 4);
        char data[32];
        snprintf(data, sizeof data, "m%" PRIu64, seq);
        expect_msg(st, seq, i % 2 ? "odd" : "even", data);
        for (uint64_t g = prev + 1; g < seq; g++)
            ck_assert_int_eq(load_rc(st, g), -ENOENT);
    }
    struct store_state s = state(st);
    ck_assert_uint_eq(s.msgs, 40);
    ck_assert_uint_eq(s.first_seq, 1);
    ck_assert_uint_eq(s.last_seq, seq + 5);
    ck_assert_int_eq(s.last_ts, (int64_t)seq * 10 + 7);
    ck_assert_uint_eq(s.num_deleted, seq + 5 - 40);
    ck_assert_uint_eq(put(st, "odd", "after", 9999), seq + 6);
    st = reopen(st, 0, dir, 512, NULL);
    expect_msg(st, seq + 6, "odd", "after");
    store_close(st);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("store");
    TCase *tc = tcase_create("core");
    tcase_add_unchecked_fixture(tc, base_setup, base_teardown);
    tcase_add_test(tc, crc32c_known_answers);
    tcase_add_loop_test(tc, append_and_load, 0, 2);
    tcase_add_loop_test(tc, bytes_accounting_is_symmetric, 0, 2);
    tcase_add_loop_test(tc, sequences_survive_purge, 0, 2);
    tcase_add_loop_test(tc, remove_and_deleted, 0, 2);
    tcase_add_loop_test(tc, purge_variants, 0, 2);
    tcase_add_loop_test(tc, subjects_and_counts, 0, 2);
    tcase_add_loop_test(tc, wildcard_next_skips_far, 0, 2);
    tcase_add_loop_test(tc, queue_churn, 0, 2);
    tcase_add_loop_test(tc, each_subject_callback_may_remove, 0, 2);
    tcase_add_loop_test(tc, blobs, 0, 2);
    tcase_add_loop_test(tc, destroy_removes_everything, 0, 2);
    tcase_add_loop_test(tc, append_at_skips_sequences, 0, 2);
    tcase_add_loop_test(tc, set_last_moves_the_next_sequence, 0, 2);
    suite_add_tcase(s, tc);

    TCase *files = tcase_create("files");
    tcase_add_unchecked_fixture(files, base_setup, base_teardown);
    tcase_add_test(files, blob_damage_reads_as_eio);
    tcase_add_test(files, segment_rollover_and_unlink);
    tcase_add_test(files, removal_outlives_its_segment);
    tcase_add_test(files, torn_tail_is_cut);
    tcase_add_test(files, torn_segment_header);
    tcase_add_test(files, damaged_tail_of_older_segment);
    tcase_add_test(files, corrupt_record_reported_not_served);
    tcase_add_test(files, embedded_record_not_resurrected);
    tcase_add_test(files, full_disk_tmpfs);
    tcase_add_test(files, full_disk_rlimit);
    tcase_add_test(files, second_open_is_refused);
    tcase_add_test(files, rebuilt_store_survives_kill);
    suite_add_tcase(s, files);

    TCase *rnd = tcase_create("random");
    tcase_add_unchecked_fixture(rnd, base_setup, base_teardown);
    tcase_add_loop_test(rnd, random_against_model, 0, 2);
    tcase_set_timeout(rnd, 120);
    suite_add_tcase(s, rnd);

    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
