/*
 * server/log_json.h — log lines as JSON objects, one a line, for machines
 * (--log_json / log_json: true). nats-server's text lines stay the default.
 *
 *   {"time":"2026-12-07T06:36:00.123456Z","level":"info","pid":4711,
 *    "remote":"127.0.0.1:52144","cid":5,"msg":"Client connection created"}
 *
 * The fields come from the text every log call already writes: the
 * "<host>:<port> - cid:N - " (or rid:N) prefix of connection lines becomes
 * remote and cid (rid) and leaves the message, and the stream named in a
 * "JetStream: stream '<name>'..." line becomes stream. Pure: the caller
 * (server/log.c) formats the time and writes the line.
 */
#ifndef TERN_SERVER_LOG_JSON_H
#define TERN_SERVER_LOG_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What a message's text carries. Pointers borrow the message. */
struct log_json_fields {
    const char *remote;        /* "host:port", or NULL */
    size_t remote_len;
    const char *id_name;       /* "cid" or "rid", or NULL */
    uint64_t id;
    const char *stream;        /* or NULL */
    size_t stream_len;
    const char *msg;           /* the message without the prefix */
    size_t msg_len;
};

/* Find the fields in msg (len bytes; need not be NUL-terminated). */
void log_json_parse(const char *msg, size_t len, struct log_json_fields *out);

/* One line: the object and a newline, into out (cap bytes, at least 256);
 * returns its length. time is an RFC 3339 timestamp (at most 64 bytes
 * used) or NULL (no "time" field: -T=false); level is the level's name
 * (at most 16). Always valid JSON: a
 * message that does not fit is cut (at a character boundary) and
 * "truncated":true added. Invalid UTF-8 becomes U+FFFD. */
size_t log_json_format(char *out, size_t cap, const char *time, const char *level, int pid,
                       const char *msg, size_t len);

#endif
