/*
 * tests/fuzz/fuzz_ws.c — libFuzzer target for proto/ws.c.
 *
 * Input: byte 0 picks the decoder options (bit 0 require_mask, bit 1
 * compression) and the cut size of the feed (high bits); the rest is read
 * twice: as an HTTP upgrade request head, and as a stream of client frames
 * fed to the decoder in cuts. Rules: a parsed head is no longer than the
 * input and its slices lie inside it; the decoder consumes no more than it
 * is given, makes progress or stops, returns data slices inside the buffer
 * and control payloads of at most 125 bytes, and its close echo of any of
 * those fits a control frame. Buffers are heap copies of exactly their
 * length, so AddressSanitizer sees overruns. Aborts (trap) on a broken rule.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/ws.h"

#define CHECK(x)                                                              \
    do {                                                                      \
        if (!(x))                                                             \
            __builtin_trap();                                                 \
    } while (0)

static void inside(struct ws_str s, const char *buf, size_t len)
{
    if (s.ptr)
        CHECK(s.ptr >= buf && s.ptr + s.len <= buf + len);
}

static void http_rules(const uint8_t *data, size_t len)
{
    char *buf = malloc(len ? len : 1);
    CHECK(buf);
    memcpy(buf, data, len);
    struct ws_http_req r;
    int rc = ws_http_parse(buf, len, &r);
    CHECK(rc >= WS_HTTP_TOO_BIG);
    if (rc > 0) {
        CHECK((size_t)rc <= len && (size_t)rc <= WS_HTTP_MAX_HEAD);
        inside(r.method, buf, len);
        inside(r.target, buf, len);
        inside(r.host, buf, len);
        inside(r.key, buf, len);
        inside(r.origin, buf, len);
        inside(r.user_agent, buf, len);
        char s[16], h[256], p[8];
        if (r.origin.ptr)
            ws_origin_split(r.origin.ptr, r.origin.len, s, sizeof s, h, sizeof h, p, sizeof p);
        if (r.host.ptr)
            ws_host_split(r.host.ptr, r.host.len, true, h, sizeof h, p, sizeof p);
    }
    free(buf);
}

static void frame_rules(uint8_t opts, const uint8_t *data, size_t len)
{
    uint8_t *buf = malloc(len ? len : 1);
    CHECK(buf);
    memcpy(buf, data, len);
    struct ws_decoder d = { .require_mask = opts & 1, .compression = opts & 2 };
    size_t step = (size_t)(opts >> 2) + 1;
    size_t pos = 0;
    bool failed = false;
    while (pos < len && !failed) {
        size_t chunk = len - pos < step ? len - pos : step;
        size_t off = 0;
        for (;;) {
            size_t used = 0;
            struct ws_event ev;
            int rc = ws_decode(&d, buf + pos + off, chunk - off, &used, &ev);
            CHECK(used <= chunk - off);
            off += used;
            if (rc < 0) {
                CHECK(ws_strerror(rc) != NULL);
                failed = true;
                break;
            }
            if (rc == 0) {
                CHECK(off == chunk);
                break;
            }
            CHECK(rc == 1);
            if (ev.kind == WS_EV_DATA) {
                CHECK(ev.data >= buf && ev.data + ev.len <= buf + len);
                CHECK(ev.len > 0 || ev.msg_end);
            } else {
                CHECK(ev.len <= WS_MAX_CONTROL_PAYLOAD);
                uint8_t out[WS_MAX_CONTROL_PAYLOAD];
                size_t n = ws_close_echo(out, ev.data, ev.len);
                CHECK(n >= 2 && n <= WS_MAX_CONTROL_PAYLOAD);
            }
        }
        pos += chunk;
    }
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    http_rules(data + 1, size - 1);
    frame_rules(data[0], data + 1, size - 1);
    ws_utf8_valid(data + 1, size - 1);
    return 0;
}
