/*
 * server/procstat.c — /proc/self/stat (see procstat.h).
 *
 * The second field is the command name in parentheses and may itself
 * hold spaces and parentheses, so the fields are counted from the last
 * ')' of the text, as procps does; each numeric field must be all digits
 * (rss may read as negative on old kernels: clamped to 0).
 */
#include "server/procstat.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

/* Fields after the command: state is field 3, so field k is the
 * (k - 3)th after it, counting the state as 0. */
enum { F_UTIME = 14, F_STIME = 15, F_VSIZE = 23, F_RSS = 24 };

static bool parse_u64(const char *s, size_t len, uint64_t *out)
{
    uint64_t v = 0;
    bool neg = len > 0 && s[0] == '-';
    if (len == (size_t)neg)
        return false;
    for (size_t i = neg; i < len; i++) {
        uint64_t d = (uint64_t)(s[i] - '0');
        if (s[i] < '0' || s[i] > '9' || v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = neg ? 0 : v;
    return true;
}

int procstat_parse(const char *text, size_t len, struct procstat *out)
{
    const char *close = NULL;
    for (size_t i = 0; i < len; i++)
        if (text[i] == ')')
            close = text + i;
    if (!close)
        return -EINVAL;
    const char *p = close + 1, *end = text + len;
    int field = 2; /* the command */
    int found = 0;
    while (p < end) {
        while (p < end && (*p == ' ' || *p == '\n'))
            p++;
        if (p == end)
            break;
        const char *tok = p;
        while (p < end && *p != ' ' && *p != '\n')
            p++;
        size_t tlen = (size_t)(p - tok);
        uint64_t *dst = NULL;
        switch (++field) {
        case F_UTIME: dst = &out->utime; break;
        case F_STIME: dst = &out->stime; break;
        case F_VSIZE: dst = &out->vsize; break;
        case F_RSS: dst = &out->rss; break;
        default: break;
        }
        if (dst) {
            if (!parse_u64(tok, tlen, dst))
                return -EINVAL;
            found++;
        }
        if (field == F_RSS)
            break;
    }
    return found == 4 ? 0 : -EINVAL;
}

int procstat_read(struct procstat *out)
{
    char buf[1024];
    int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t n = read(fd, buf, sizeof buf);
    int err = errno;
    close(fd);
    if (n < 0)
        return -err;
    return procstat_parse(buf, (size_t)n, out);
}

int64_t procstat_open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -errno;
    int64_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n - 1; /* the directory's own descriptor */
}
