/*
 * tests/fuzz/fuzz_log_json.c — libFuzzer target for server/log_json.c.
 *
 * Input: a log message (any bytes) and, in its first byte, the buffer's
 * size past the 256 minimum. The fields found must lie inside the message,
 * a prefix only when remote has no space and the message follows it; the
 * line must fit its buffer, end in its only newline, and be one JSON
 * object jansson (which refuses invalid UTF-8) reads back, with "msg" the
 * message itself unless the line says it was truncated. (\u0000 is
 * allowed, and numbers read as reals: a cid past 2^63 is JSON but not a
 * jansson integer.) Aborts (trap) on a broken rule.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/utf8.h"
#include "server/log_json.h"

#define CHECK(x)                                                              \
    do {                                                                      \
        if (!(x))                                                             \
            __builtin_trap();                                                 \
    } while (0)

static int inside(const char *p, size_t n, const char *base, size_t len)
{
    return p >= base && p + n <= base + len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!size)
        return 0;
    size_t cap = 256 + (size_t)data[0] * 16;
    size_t len = size - 1;
    char *msg = malloc(len ? len : 1);
    char *line = malloc(cap);
    CHECK(msg && line);
    memcpy(msg, data + 1, len);

    struct log_json_fields f;
    log_json_parse(msg, len, &f);
    CHECK(inside(f.msg, f.msg_len, msg, len));
    if (f.remote) {
        CHECK(f.id_name && inside(f.remote, f.remote_len, msg, len) && f.remote == msg);
        CHECK(f.remote_len > 0 && !memchr(f.remote, ' ', f.remote_len));
        CHECK(f.msg + f.msg_len == msg + len);
    }
    if (f.stream)
        CHECK(f.stream_len > 0 && inside(f.stream, f.stream_len, msg, len));

    size_t n = log_json_format(line, cap, "2026-12-07T06:36:00.123456Z", "info", 1, msg, len);
    CHECK(n > 0 && n <= cap && line[n - 1] == '\n' && !memchr(line, '\n', n - 1));
    json_error_t err;
    json_t *o = json_loadb(line, n, JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL, &err);
    CHECK(json_is_object(o));
    json_t *m = json_object_get(o, "msg");
    CHECK(json_is_string(m));
    if (!json_object_get(o, "truncated") && utf8_valid((const unsigned char *)f.msg, f.msg_len))
        CHECK(json_string_length(m) == f.msg_len &&
              memcmp(json_string_value(m), f.msg, f.msg_len) == 0);
    json_decref(o);
    free(msg);
    free(line);
    return 0;
}
