/*
 * server/store/store_blob.c — named blobs beside a stream's messages (its
 * metadata, each durable consumer's state), replaced whole and atomically.
 *
 * File stores keep blob <name> in "blob.<name>": a 16-byte header (magic
 * "TBL1", CRC32C of the rest, u64 length) and the bytes. A put writes
 * ".tmp-blob.<name>" and renames it over the old file, so after kill -9 a
 * reader finds the old blob or the new one, whole. The put does not sync
 * (a consumer's state is put often, an fsync costs milliseconds): the
 * written fd is kept and store_sync fdatasyncs it, then the directory.
 * Should power fail before that sync, a filesystem that does not order the
 * rename after the data may leave a damaged file; the CRC then makes
 * store_blob_get answer -EIO, never a mix of old and new. Temp files left
 * by a crash are removed at open (store_recover.c). Names start with a
 * letter or digit, so "blob." and ".tmp-" can never collide with segment
 * files or each other. Memory stores keep blobs in a kmap.
 */
#include "server/store/store_impl.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "server/log.h"

#define BLOB_HDR 16
#define BLOB_NAME_MAX 200
static const char blob_magic[4] = { 'T', 'B', 'L', '1' };

static bool name_ok(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > BLOB_NAME_MAX || name[0] == '.')
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-'))
            return false;
    }
    return true;
}

int store__blob_is_file(const char *fname)
{
    if (strncmp(fname, "blob.", 5) == 0)
        return 1;
    if (strncmp(fname, ".tmp-blob.", 10) == 0)
        return 2;
    return 0;
}

/* ---- memory ------------------------------------------------------------- */

static struct store_blob_mem *mem_of(const struct kmap_key *k)
{
    return (struct store_blob_mem *)((char *)k - offsetof(struct store_blob_mem, key));
}

static struct store_blob_mem *mem_find(const struct store *st, const char *name)
{
    size_t n = strlen(name);
    struct kmap_key *k = kmap_find(&st->b.mem, kmap_hash(st->b.seed, name, n), name, n);
    return k ? mem_of(k) : NULL;
}

static int mem_put(struct store *st, const char *name, const void *data, size_t len)
{
    void *copy = malloc(len ? len : 1);
    if (!copy)
        return -ENOMEM;
    memcpy(copy, data, len);
    struct store_blob_mem *b = mem_find(st, name);
    if (b) {
        free(b->data);
        b->data = copy;
        b->len = len;
        return 0;
    }
    size_t n = strlen(name);
    if (!(b = calloc(1, sizeof *b + n + 1))) {
        free(copy);
        return -ENOMEM;
    }
    memcpy(b->name, name, n);
    b->key = (struct kmap_key){ kmap_hash(st->b.seed, name, n), b->name, n };
    b->data = copy;
    b->len = len;
    if (kmap_add(&st->b.mem, &b->key) < 0) {
        free(copy);
        free(b);
        return -ENOMEM;
    }
    return 0;
}

static void mem_free(struct store *st, struct store_blob_mem *b)
{
    kmap_del(&st->b.mem, &b->key);
    free(b->data);
    free(b);
}

/* ---- files ---------------------------------------------------------------- */

static void pending_drop(struct store *st, const char *name)
{
    struct store_blobs *bl = &st->b;
    for (size_t i = 0; i < bl->npending; i++)
        if (strcmp(bl->pending[i].name, name) == 0) {
            close(bl->pending[i].fd);
            free(bl->pending[i].name);
            bl->pending[i] = bl->pending[--bl->npending];
            return;
        }
}

/* Remember fd for the next store_sync; a later put of the same name
 * replaces the entry (the older file is gone from the directory). */
static int pending_add(struct store *st, const char *name, int fd)
{
    struct store_blobs *bl = &st->b;
    pending_drop(st, name);
    if (bl->npending == bl->cap) {
        size_t cap = bl->cap ? bl->cap * 2 : 8;
        struct store_blob_pending *v = realloc(bl->pending, cap * sizeof *v);
        if (!v)
            return -ENOMEM;
        bl->pending = v;
        bl->cap = cap;
    }
    char *copy = strdup(name);
    if (!copy)
        return -ENOMEM;
    bl->pending[bl->npending++] = (struct store_blob_pending){ fd, copy };
    return 0;
}

static int write_all(int fd, struct iovec *iov, int n)
{
    while (n) {
        ssize_t w = writev(fd, iov, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return w < 0 ? -errno : -EIO;
        store__iov_skip(&iov, &n, (size_t)w);
    }
    return 0;
}

static int file_put(struct store *st, const char *name, const void *data, size_t len)
{
    char tmp[BLOB_NAME_MAX + 16], final[BLOB_NAME_MAX + 16];
    snprintf(tmp, sizeof tmp, ".tmp-blob.%s", name);
    snprintf(final, sizeof final, "blob.%s", name);
    uint8_t hdr[BLOB_HDR];
    uint64_t len64 = len;
    memcpy(hdr, blob_magic, 4);
    memcpy(hdr + 8, &len64, 8);
    uint32_t crc = store__crc32c(store__crc32c(0, hdr + 8, 8), data, len);
    memcpy(hdr + 4, &crc, 4);
    struct iovec iov[2] = { { hdr, sizeof hdr }, { (void *)data, len } };

    int fd = openat(st->f.dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644), rc;
    if (fd < 0) {
        rc = -errno;
        goto err_log;
    }
    if ((rc = write_all(fd, iov, 2)) < 0)
        goto err_after_open;
    if (renameat(st->f.dirfd, tmp, st->f.dirfd, final) < 0) {
        rc = -errno;
        goto err_after_open;
    }
    st->f.dir_dirty = true;
    if (pending_add(st, name, fd) < 0) {
        /* Cannot defer the sync: do it now rather than lose track. */
        if (fdatasync(fd) < 0)
            st->f.failed = -EIO;
        close(fd);
    }
    return 0;

err_after_open:
    close(fd);
    unlinkat(st->f.dirfd, tmp, 0);
err_log:
    LOG_ERROR("store %s: writing blob %s: %s", st->f.dir, name, strerror(-rc));
    return rc;
}

static int file_get(struct store *st, const char *name, void **out, size_t *out_len)
{
    char fname[BLOB_NAME_MAX + 16];
    snprintf(fname, sizeof fname, "blob.%s", name);
    int fd = openat(st->f.dirfd, fname, O_RDONLY | O_CLOEXEC), rc = -EIO;
    if (fd < 0)
        return errno == ENOENT ? -ENOENT : -errno;
    struct stat sb;
    uint8_t *buf = NULL;
    if (fstat(fd, &sb) < 0 || sb.st_size < BLOB_HDR || sb.st_size > (off_t)1 << 40)
        goto out;
    size_t size = (size_t)sb.st_size;
    if (!(buf = malloc(size))) {
        rc = -ENOMEM;
        goto out;
    }
    for (size_t done = 0; done < size;) {
        ssize_t n = pread(fd, buf + done, size - done, (off_t)done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            goto out;
        done += (size_t)n;
    }
    uint64_t len;
    uint32_t crc;
    memcpy(&len, buf + 8, 8);
    memcpy(&crc, buf + 4, 4);
    if (memcmp(buf, blob_magic, 4) != 0 || len != size - BLOB_HDR ||
        store__crc32c(0, buf + 8, size - 8) != crc)
        goto out;
    memmove(buf, buf + BLOB_HDR, len);
    *out = buf;
    *out_len = len;
    buf = NULL;
    rc = 0;
out:
    if (rc == -EIO)
        LOG_ERROR("store %s: blob %s is damaged", st->f.dir, name);
    free(buf);
    close(fd);
    return rc;
}

int store__blob_sync(struct store *st)
{
    struct store_blobs *bl = &st->b;
    int rc = 0;
    for (size_t i = 0; i < bl->npending; i++) {
        if (fdatasync(bl->pending[i].fd) < 0 && !rc) {
            rc = -errno;
            LOG_ERROR("store %s: fdatasync blob %s: %s", st->f.dir, bl->pending[i].name,
                      strerror(errno));
        }
        close(bl->pending[i].fd);
        free(bl->pending[i].name);
    }
    bl->npending = 0;
    return rc;
}

void store__blob_close(struct store *st)
{
    struct store_blobs *bl = &st->b;
    for (size_t i = 0; i < bl->npending; i++) {
        close(bl->pending[i].fd);
        free(bl->pending[i].name);
    }
    free(bl->pending);
    for (uint32_t i = 0; i < kmap_capacity(&bl->mem); i++) {
        struct kmap_key *k = kmap_slot(&bl->mem, i);
        if (k) {
            free(mem_of(k)->data);
            free(mem_of(k));
        }
    }
    kmap_clear(&bl->mem);
    memset(bl, 0, sizeof *bl);
}

/* ---- public ------------------------------------------------------------- */

int store_blob_put(struct store *st, const char *name, const void *data, size_t len)
{
    if (!st || !name_ok(name) || (len && !data))
        return -EINVAL;
    return st->kind == STORE_MEMORY ? mem_put(st, name, data, len)
                                    : file_put(st, name, data, len);
}

int store_blob_get(struct store *st, const char *name, void **data, size_t *len)
{
    if (!st || !name_ok(name) || !data || !len)
        return -EINVAL;
    if (st->kind == STORE_FILE)
        return file_get(st, name, data, len);
    struct store_blob_mem *b = mem_find(st, name);
    if (!b)
        return -ENOENT;
    if (!(*data = malloc(b->len ? b->len : 1)))
        return -ENOMEM;
    memcpy(*data, b->data, b->len);
    *len = b->len;
    return 0;
}

int store_blob_delete(struct store *st, const char *name)
{
    if (!st || !name_ok(name))
        return -EINVAL;
    if (st->kind == STORE_MEMORY) {
        struct store_blob_mem *b = mem_find(st, name);
        if (!b)
            return -ENOENT;
        mem_free(st, b);
        return 0;
    }
    char fname[BLOB_NAME_MAX + 16];
    snprintf(fname, sizeof fname, "blob.%s", name);
    pending_drop(st, name);
    if (unlinkat(st->f.dirfd, fname, 0) < 0)
        return -errno;
    st->f.dir_dirty = true;
    return 0;
}

/* Names are collected first, so fn may put or delete blobs. */
int store_blob_each(struct store *st, const char *prefix,
                    int (*fn)(void *arg, const char *name), void *arg)
{
    if (!st || !fn)
        return -EINVAL;
    size_t plen = prefix ? strlen(prefix) : 0, n = 0, cap = 0;
    char **names = NULL;
    int rc = 0;
    DIR *d = NULL;
    if (st->kind == STORE_FILE) {
        int dfd = openat(st->f.dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0 || !(d = fdopendir(dfd))) {
            rc = -errno;
            if (dfd >= 0)
                close(dfd);
            return rc;
        }
        rewinddir(d);
    }
    for (uint32_t i = 0;; i++) {
        const char *name;
        if (d) {
            struct dirent *e = readdir(d);
            if (!e)
                break;
            if (store__blob_is_file(e->d_name) != 1)
                continue;
            name = e->d_name + 5;
        } else {
            if (i >= kmap_capacity(&st->b.mem))
                break;
            if (!kmap_slot(&st->b.mem, i))
                continue;
            name = mem_of(kmap_slot(&st->b.mem, i))->name;
        }
        if (strncmp(name, prefix ? prefix : "", plen) != 0)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            char **v = realloc(names, cap * sizeof *v);
            if (!v) {
                rc = -ENOMEM;
                break;
            }
            names = v;
        }
        if (!(names[n] = strdup(name))) {
            rc = -ENOMEM;
            break;
        }
        n++;
    }
    if (d)
        closedir(d);
    for (size_t i = 0; i < n; i++) {
        if (!rc)
            rc = fn(arg, names[i]);
        free(names[i]);
    }
    free(names);
    return rc;
}
