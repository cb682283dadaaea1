/*
 * server/log_json.c — JSON log lines (see log_json.h).
 *
 * The prefix is recognised only in its exact form, "<host:port> - cid:N - "
 * with a host:port free of spaces, so a message that merely mentions
 * "cid:" stays whole. Output is bounded: escaping can make a message six
 * times longer (\u001f for a control byte), so each piece is written only
 * when it fits with room left to close the object.
 */
#include "server/log_json.h"

#include <stdio.h>
#include <string.h>

#include "proto/utf8.h"

/* ---- parsing ---- */

static bool digits(const char *s, size_t len, uint64_t *out)
{
    uint64_t v = 0;
    if (!len)
        return false;
    for (size_t i = 0; i < len; i++) {
        uint64_t d = (uint64_t)(s[i] - '0');
        if (s[i] < '0' || s[i] > '9' || v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

/* "<remote> - cid:N - rest": true with the fields set. */
static bool parse_prefix(const char *s, size_t len, struct log_json_fields *f)
{
    const char *sep = memmem(s, len, " - ", 3);
    if (!sep || sep == s || memchr(s, ' ', (size_t)(sep - s)))
        return false;
    const char *id = sep + 3, *end = s + len;
    if (end - id < 5 || (memcmp(id, "cid:", 4) != 0 && memcmp(id, "rid:", 4) != 0))
        return false;
    const char *num = id + 4, *num_end = num;
    while (num_end < end && *num_end >= '0' && *num_end <= '9')
        num_end++;
    uint64_t v;
    if (!digits(num, (size_t)(num_end - num), &v))
        return false;
    if (num_end != end && (end - num_end < 3 || memcmp(num_end, " - ", 3) != 0))
        return false;
    f->remote = s;
    f->remote_len = (size_t)(sep - s);
    f->id_name = id[0] == 'c' ? "cid" : "rid";
    f->id = v;
    f->msg = num_end == end ? end : num_end + 3;
    f->msg_len = (size_t)(end - f->msg);
    return true;
}

void log_json_parse(const char *msg, size_t len, struct log_json_fields *out)
{
    static const char js[] = "JetStream", st[] = "stream '";
    memset(out, 0, sizeof *out);
    out->msg = msg;
    out->msg_len = len;
    if (parse_prefix(msg, len, out))
        return;
    if (len < sizeof js - 1 || memcmp(msg, js, sizeof js - 1) != 0)
        return;
    const char *at = memmem(msg, len, st, sizeof st - 1);
    if (!at)
        return;
    const char *name = at + sizeof st - 1, *end = msg + len;
    const char *q = memchr(name, '\'', (size_t)(end - name));
    if (q && q > name) {
        out->stream = name;
        out->stream_len = (size_t)(q - name);
    }
}

/* ---- formatting ---- */

struct out {
    char *buf;
    size_t len;
};

/* Append n bytes if they fit below limit; false (nothing written) if not. */
static bool put(struct out *o, const char *s, size_t n, size_t limit)
{
    if (o->len + n > limit)
        return false;
    memcpy(o->buf + o->len, s, n);
    o->len += n;
    return true;
}

/* A JSON string's body. Stops at the first character that would pass
 * limit; returns false then. */
static bool put_escaped(struct out *o, const char *s, size_t len, size_t limit)
{
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < len;) {
        char esc[8];
        size_t n;
        const char *piece = esc;
        unsigned char c = u[i];
        size_t seq = utf8_seq_len(u + i, len - i);
        if (c == '"' || c == '\\') {
            esc[0] = '\\', esc[1] = (char)c, n = 2, seq = 1;
        } else if (c == '\n') {
            memcpy(esc, "\\n", 2), n = 2;
        } else if (c == '\t') {
            memcpy(esc, "\\t", 2), n = 2;
        } else if (c == '\r') {
            memcpy(esc, "\\r", 2), n = 2;
        } else if (c < 0x20 || c == 0x7f) {
            snprintf(esc, sizeof esc, "\\u%04x", c), n = 6;
        } else if (!seq) {
            memcpy(esc, "\\ufffd", 6), n = 6, seq = 1;
        } else {
            piece = s + i, n = seq;
        }
        if (!put(o, piece, n, limit))
            return false;
        i += seq;
    }
    return true;
}

static void put_str_field(struct out *o, const char *key, const char *v, size_t len,
                          size_t limit)
{
    size_t mark = o->len;
    char head[32];
    int n = snprintf(head, sizeof head, ",\"%s\":\"", key);
    if (!put(o, head, (size_t)n, limit) || !put_escaped(o, v, len, limit) ||
        !put(o, "\"", 1, limit))
        o->len = mark; /* a field that does not fit is left out whole */
}

size_t log_json_format(char *buf, size_t cap, const char *time, const char *level, int pid,
                       const char *msg, size_t len)
{
    static const char tail_cut[] = "\",\"truncated\":true}\n";
    struct out o = { buf, 0 };
    /* Room kept for the longest ending, so the object always closes. */
    size_t limit = cap - sizeof tail_cut;
    struct log_json_fields f;
    log_json_parse(msg, len, &f);
    char head[160];
    /* At most 9 + 64 + 11 + 16 + 7 + 11 bytes: it always fits in 256. */
    int n = time ? snprintf(head, sizeof head,
                            "{\"time\":\"%.64s\",\"level\":\"%.16s\",\"pid\":%d", time, level, pid)
                 : snprintf(head, sizeof head, "{\"level\":\"%.16s\",\"pid\":%d", level, pid);
    put(&o, head, (size_t)n, limit);
    /* The optional fields leave room for the message's key, which must
     * come (they are each all or nothing). */
    static const char key[] = ",\"msg\":\"";
    size_t fields_limit = limit - (sizeof key - 1);
    if (f.remote)
        put_str_field(&o, "remote", f.remote, f.remote_len, fields_limit);
    if (f.id_name) {
        n = snprintf(head, sizeof head, ",\"%s\":%llu", f.id_name, (unsigned long long)f.id);
        put(&o, head, (size_t)n, fields_limit);
    }
    if (f.stream)
        put_str_field(&o, "stream", f.stream, f.stream_len, fields_limit);
    put(&o, key, sizeof key - 1, limit);
    bool whole = put_escaped(&o, f.msg, f.msg_len, limit);
    const char *tail = whole ? "\"}\n" : tail_cut;
    size_t tlen = whole ? 3 : sizeof tail_cut - 1;
    memcpy(o.buf + o.len, tail, tlen);
    return o.len + tlen;
}
