/*
 * tests/fuzz/fuzz_store.c — libFuzzer target for file-store recovery.
 *
 * The input is a set of segment files: one byte n (n % 4 + 1 files), then
 * per file a u32 nonce and a u32 length (little-endian) and that many
 * bytes; the last file takes whatever is left. They are written under a
 * scratch directory with the names the store gives its segments, and the
 * store is opened on them. Then every stored message is read back, the
 * counters are checked against what was read, one message is appended and
 * the store is reopened: the second replay must find no torn tail and the
 * same messages plus the new one. Any crash, sanitizer report or abort()
 * is a bug in server/store*.c. Seeds (tests/fuzz/corpus/store/) are real
 * stores: rollover, removals, purges, a torn tail, a damaged record.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server/log.h"
#include "server/store/store.h"

static char dir[64];

static void clean_dir(void)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            unlinkat(dirfd(d), e->d_name, 0);
    if (d)
        closedir(d);
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void write_segments(const uint8_t *data, size_t size)
{
    unsigned n = size ? data[0] % 4 + 1 : 1;
    size_t off = size ? 1 : 0;
    for (unsigned i = 0; i < n && off + 8 <= size; i++) {
        uint32_t nonce = get32(data + off), len = get32(data + off + 4);
        off += 8;
        if (i + 1 == n || len > size - off)
            len = (uint32_t)(size - off);
        char name[64];
        snprintf(name, sizeof name, "%s/%08u-%08x.seg", dir, i + 1, nonce);
        int fd = open(name, O_CREAT | O_WRONLY | O_TRUNC, 0644);
        if (fd < 0)
            abort();
        if (len && write(fd, data + off, len) != (ssize_t)len)
            abort();
        close(fd);
        off += len;
    }
}

struct seen {
    uint64_t msgs, first, last, bytes;
};

/* Read every message; check the counters agree with what was read. */
static struct seen walk(struct store *st)
{
    struct store_state s;
    struct store_msg m = { 0 };
    struct seen w = { 0 };
    store_get_state(st, &s);
    for (uint64_t seq = 1; store_load_next(st, seq, NULL, 0, &m) == 0; seq = m.seq + 1) {
        if (m.seq < seq || m.seq > s.last_seq || m.subject_len == 0)
            abort();
        if (!w.first)
            w.first = m.seq;
        w.last = m.seq;
        w.msgs++;
        w.bytes += store_msg_size(st, m.subject_len, m.hdr_len, m.data_len);
        struct store_msg again = { 0 };
        if (store_load_last(st, m.subject, m.subject_len, &again) != 0 || again.seq < m.seq)
            abort();
        store_msg_free(&again);
    }
    store_msg_free(&m);
    if (w.msgs != s.msgs || w.bytes != s.bytes || (w.msgs && w.first != s.first_seq) ||
        (!w.msgs && s.first_seq != s.last_seq + 1) ||
        store_count_from(st, 0, NULL, 0) != s.msgs ||
        store_deleted(st, NULL, 0) != s.num_deleted ||
        (w.msgs && s.num_deleted != s.last_seq - s.first_seq + 1 - s.msgs))
        abort();
    return w;
}

static void remove_dir(void)
{
    clean_dir();
    rmdir(dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!dir[0]) {
        static const struct log_config quiet = { .file = "/dev/null" };
        log_open(&quiet);
        snprintf(dir, sizeof dir, "/tmp/tern-fuzz-store-XXXXXX");
        if (!mkdtemp(dir))
            abort();
        atexit(remove_dir);
    }
    clean_dir();
    write_segments(data, size);

    struct store_options opt = { .kind = STORE_FILE, .dir = dir, .segment_bytes = 4096 };
    struct store_report rep;
    struct store *st = NULL;
    if (store_open(&opt, &st, &rep) != 0)
        return 0;
    struct seen before = walk(st);
    struct store_state s;
    store_get_state(st, &s);
    uint64_t seq = 0;
    int appended = store_append(st, "fuzz.new", 8, NULL, 0, "x", 1, 1, &seq) == 0;
    if (appended && seq != s.last_seq + 1)
        abort();
    store_close(st);

    if (store_open(&opt, &st, &rep) != 0)
        abort();
    if (rep.torn_bytes)
        abort();
    struct seen after = walk(st);
    if (after.msgs != before.msgs + (uint64_t)appended)
        abort();
    store_get_state(st, &s);
    if (appended && s.last_seq != seq)
        abort();
    store_close(st);
    return 0;
}
