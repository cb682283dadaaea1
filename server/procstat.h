/*
 * server/procstat.h — this process's CPU time and memory as Linux's
 * /proc/self/stat tells them (proc(5)), for /varz and /metrics.
 *
 * procstat_parse is pure (the file's text in, figures out) so it can be
 * tested and fuzzed; procstat_read reads the file. Any thread.
 */
#ifndef TERN_SERVER_PROCSTAT_H
#define TERN_SERVER_PROCSTAT_H

#include <stddef.h>
#include <stdint.h>

struct procstat {
    uint64_t utime, stime;     /* CPU time in clock ticks (fields 14, 15) */
    uint64_t vsize;            /* virtual memory, bytes (field 23) */
    uint64_t rss;              /* resident set, pages (field 24) */
};

/* Parse the text of /proc/<pid>/stat. 0, or -EINVAL when it is not one. */
int procstat_parse(const char *text, size_t len, struct procstat *out);
/* Read and parse /proc/self/stat. 0, or a negative errno. */
int procstat_read(struct procstat *out);
/* Descriptors open now (entries of /proc/self/fd), or a negative errno. */
int64_t procstat_open_fds(void);

#endif
