/*
 * server/log.c — the log sink (see log.h).
 *
 * The level and format flags are atomics so a SIGHUP reload can flip
 * debug/trace (or JSON) while loops log. The FILE pointer only changes on the main thread (open, reopen,
 * close); the lock keeps a line from being split by a concurrent reopen.
 */
#include "server/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "server/log_json.h"

static pthread_mutex_t sink_lock = PTHREAD_MUTEX_INITIALIZER;
static FILE *sink;             /* guarded by sink_lock; NULL = stderr */
static char *sink_path;        /* guarded by sink_lock; owned */
static atomic_bool want_debug, want_trace, want_time = true, want_utc, want_json;

static const char *level_tag[] = { "FTL", "ERR", "WRN", "INF", "DBG", "TRC" };
static const char *level_name[] = { "fatal", "error", "warn", "info", "debug", "trace" };

int log_open(const struct log_config *cfg)
{
    atomic_store(&want_debug, cfg->debug);
    atomic_store(&want_trace, cfg->trace);
    atomic_store(&want_time, cfg->logtime);
    atomic_store(&want_utc, cfg->utc);
    atomic_store(&want_json, cfg->json);
    pthread_mutex_lock(&sink_lock);
    int rc = 0;
    bool same = (cfg->file && sink_path && strcmp(cfg->file, sink_path) == 0);
    if (!same) {
        FILE *f = NULL;
        char *path = NULL;
        if (cfg->file) {
            f = fopen(cfg->file, "a");
            path = strdup(cfg->file);
            if (!f || !path) {
                rc = f ? -ENOMEM : -errno;
                if (f)
                    fclose(f);
                free(path);
                goto out_unlock;
            }
            setvbuf(f, NULL, _IOLBF, 0);
        }
        if (sink)
            fclose(sink);
        free(sink_path);
        sink = f;
        sink_path = path;
    }
out_unlock:
    pthread_mutex_unlock(&sink_lock);
    return rc;
}

int log_reopen(void)
{
    int rc = 0;
    pthread_mutex_lock(&sink_lock);
    if (sink_path) {
        FILE *f = fopen(sink_path, "a");
        if (!f) {
            rc = -errno;
        } else {
            setvbuf(f, NULL, _IOLBF, 0);
            fclose(sink);
            sink = f;
        }
    }
    pthread_mutex_unlock(&sink_lock);
    return rc;
}

void log_close(void)
{
    pthread_mutex_lock(&sink_lock);
    if (sink)
        fclose(sink);
    sink = NULL;
    free(sink_path);
    sink_path = NULL;
    pthread_mutex_unlock(&sink_lock);
}

bool log_enabled(enum log_level lvl)
{
    if (lvl == LOG_DBG)
        return atomic_load_explicit(&want_debug, memory_order_relaxed);
    if (lvl == LOG_TRC)
        return atomic_load_explicit(&want_trace, memory_order_relaxed);
    return true;
}

static size_t format_prefix(char *out, size_t cap, enum log_level lvl)
{
    int n = snprintf(out, cap, "[%d] ", (int)getpid());
    if (n < 0)
        return 0;
    size_t len = (size_t)n;
    if (atomic_load(&want_time) && len < cap) {
        struct timeval tv;
        struct tm tm;
        gettimeofday(&tv, NULL);
        if (atomic_load(&want_utc))
            gmtime_r(&tv.tv_sec, &tm);
        else
            localtime_r(&tv.tv_sec, &tm);
        len += strftime(out + len, cap - len, "%Y/%m/%d %H:%M:%S", &tm);
        n = snprintf(out + len, cap - len, ".%06ld ", (long)tv.tv_usec);
        if (n > 0)
            len += (size_t)n;
    }
    n = snprintf(out + len, cap > len ? cap - len : 0, "[%s] ", level_tag[lvl]);
    if (n > 0)
        len += (size_t)n;
    return len < cap ? len : cap - 1;
}

/* RFC 3339 with microseconds: UTC as "Z", local time with its offset. */
static void rfc3339_now(char *out, size_t cap)
{
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    bool utc = atomic_load(&want_utc);
    if (utc)
        gmtime_r(&tv.tv_sec, &tm);
    else
        localtime_r(&tv.tv_sec, &tm);
    size_t n = strftime(out, cap, "%Y-%m-%dT%H:%M:%S", &tm);
    long off = utc ? 0 : tm.tm_gmtoff / 60;
    if (utc)
        snprintf(out + n, cap - n, ".%06ldZ", (long)tv.tv_usec);
    else
        snprintf(out + n, cap - n, ".%06ld%c%02ld:%02ld", (long)tv.tv_usec, off < 0 ? '-' : '+',
                 labs(off) / 60, labs(off) % 60);
}

static void write_line(const char *line, size_t len)
{
    pthread_mutex_lock(&sink_lock);
    fwrite(line, 1, len, sink ? sink : stderr);
    pthread_mutex_unlock(&sink_lock);
}

/* The same message as one JSON object: the text is formatted first, then
 * escaped into a buffer large enough for the worst case of most lines
 * (log_json cuts, and says so, past it). */
static void log_json_line(enum log_level lvl, const char *fmt, va_list ap)
{
    char msg[2048], line[8192], when[64];
    int n = vsnprintf(msg, sizeof msg, fmt, ap);
    size_t len = n < 0 ? 0 : (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1;
    bool timed = atomic_load(&want_time);
    if (timed)
        rfc3339_now(when, sizeof when);
    size_t out = log_json_format(line, sizeof line, timed ? when : NULL, level_name[lvl],
                                 (int)getpid(), msg, len);
    write_line(line, out);
}

void log_msg(enum log_level lvl, const char *fmt, ...)
{
    if (!log_enabled(lvl))
        return;
    if (atomic_load(&want_json)) {
        va_list ap;
        va_start(ap, fmt);
        log_json_line(lvl, fmt, ap);
        va_end(ap);
        return;
    }
    char line[2048];
    size_t len = format_prefix(line, sizeof line, lvl);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line + len, sizeof line - len - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    len += (size_t)n < sizeof line - len - 1 ? (size_t)n : sizeof line - len - 2;
    line[len++] = '\n';
    write_line(line, len);
}
