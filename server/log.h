/*
 * server/log.h — nats-server-style log lines.
 *
 * "[pid] 2026/11/22 00:23:50.851747 [INF] message" to stderr or a file
 * (-l), with debug (-D) and trace (-V) levels; or, with log_json, one JSON
 * object a line (server/log_json.h). Any thread may log: each line is
 * written with one locked stdio call. The sink is process-wide state
 * owned by this module; log_open/log_reopen/log_close change it.
 */
#ifndef TERN_SERVER_LOG_H
#define TERN_SERVER_LOG_H

#include <stdbool.h>

enum log_level { LOG_FTL, LOG_ERR, LOG_WRN, LOG_INF, LOG_DBG, LOG_TRC };

struct log_config {
    bool debug;
    bool trace;
    bool logtime;     /* timestamps (default true) */
    bool utc;
    bool json;        /* JSON lines instead of nats-server's */
    const char *file; /* NULL: stderr */
};

/* Configure the sink. 0, or -errno when the log file cannot be opened. */
int log_open(const struct log_config *cfg);
/* SIGUSR1: reopen the same file after rotation. */
int log_reopen(void);
void log_close(void);
bool log_enabled(enum log_level lvl);

void log_msg(enum log_level lvl, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define LOG_FATAL(...) log_msg(LOG_FTL, __VA_ARGS__)
#define LOG_ERROR(...) log_msg(LOG_ERR, __VA_ARGS__)
#define LOG_WARN(...) log_msg(LOG_WRN, __VA_ARGS__)
#define LOG_INFO(...) log_msg(LOG_INF, __VA_ARGS__)
#define LOG_DEBUG(...) do { if (log_enabled(LOG_DBG)) log_msg(LOG_DBG, __VA_ARGS__); } while (0)
#define LOG_TRACE(...) do { if (log_enabled(LOG_TRC)) log_msg(LOG_TRC, __VA_ARGS__); } while (0)

#endif
