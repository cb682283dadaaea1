/*
 * tests/unit/check_ws.c — unit tests of proto/ws.c: the upgrade request,
 * the frame decoder (fed whole, byte by byte and in random cuts), the
 * encoders and the close payload rules nats-server follows.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/ws.h"

static const char good_req[] =
    "GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUpgrade: websocket\r\n"
    "Connection: keep-alive, Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Extensions: x-foo, permessage-deflate; "
    "client_max_window_bits\r\nOrigin: http://Example.com:8080\r\n"
    "User-Agent: Mozilla/5.0\r\n\r\n";

static bool str_is(struct ws_str s, const char *lit)
{
    return s.ptr && s.len == strlen(lit) && memcmp(s.ptr, lit, s.len) == 0;
}

START_TEST(http_good_request)
{
    struct ws_http_req r;
    size_t n = strlen(good_req);
    ck_assert_int_eq(ws_http_parse(good_req, n, &r), (int)n);
    ck_assert(str_is(r.method, "GET") && str_is(r.target, "/") && r.minor == 1);
    ck_assert(r.has_host && str_is(r.host, "127.0.0.1:8080"));
    ck_assert(r.upgrade_websocket && r.connection_upgrade && r.version_13 && r.deflate);
    ck_assert(str_is(r.key, "dGhlIHNhbXBsZSBub25jZQ=="));
    ck_assert(str_is(r.origin, "http://Example.com:8080"));
    ck_assert(str_is(r.user_agent, "Mozilla/5.0"));
    ck_assert(!r.no_masking);
    /* Every cut short of the blank line asks for more. */
    for (size_t i = 0; i < n; i++)
        ck_assert_int_eq(ws_http_parse(good_req, i, &r), 0);
}
END_TEST

START_TEST(http_tokens_and_case)
{
    struct ws_http_req r;
    const char *q = "GET /x HTTP/1.1\nhost: h\nUPGRADE: WebSocket\nconnection: upgrade\n"
                    "sec-websocket-version: 8, 13\nNats-No-Masking: true\n\n";
    ck_assert_int_eq(ws_http_parse(q, strlen(q), &r), (int)strlen(q));
    ck_assert(r.upgrade_websocket && r.connection_upgrade && r.version_13 && r.no_masking);
    ck_assert(!r.deflate && !r.key.ptr && !r.origin.ptr);
    q = "GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocketx\r\nConnection: Upgraded\r\n"
        "Sec-WebSocket-Version: 131\r\n\r\n";
    ck_assert_int_gt(ws_http_parse(q, strlen(q), &r), 0);
    ck_assert(!r.upgrade_websocket && !r.connection_upgrade && !r.version_13);
    /* Sec-WebSocket-Origin stands in for a missing Origin only. */
    q = "GET / HTTP/1.1\r\nHost: h\r\nSec-WebSocket-Origin: http://b\r\nOrigin: http://a\r\n\r\n";
    ck_assert_int_gt(ws_http_parse(q, strlen(q), &r), 0);
    ck_assert(str_is(r.origin, "http://a"));
    q = "GET / HTTP/1.1\r\nHost: h\r\nSec-WebSocket-Origin: http://b\r\n\r\n";
    ck_assert_int_gt(ws_http_parse(q, strlen(q), &r), 0);
    ck_assert(str_is(r.origin, "http://b"));
}
END_TEST

START_TEST(http_bad_requests)
{
    struct ws_http_req r;
    const char *bad[] = {
        "HELLO\r\n\r\n",
        "GET / HTTP/2.0\r\nHost: h\r\n\r\n",
        "GET  HTTP/1.1\r\nHost: h\r\n\r\n",
        "GET / HTTP/1.1\r\nHost : h\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: h\r\n folded\r\n\r\n",
        "GET / HTTP/1.1\r\nNoColon\r\n\r\n",
        "G(T / HTTP/1.1\r\nHost: h\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_int_eq(ws_http_parse(bad[i], strlen(bad[i]), &r), WS_HTTP_BAD);
    const char *nohost = "GET / HTTP/1.1\r\nUpgrade: websocket\r\n\r\n";
    ck_assert_int_eq(ws_http_parse(nohost, strlen(nohost), &r), WS_HTTP_NO_HOST);
    const char *old = "GET / HTTP/1.0\r\nUpgrade: websocket\r\n\r\n";
    ck_assert_int_gt(ws_http_parse(old, strlen(old), &r), 0);
    ck_assert(!r.has_host);
    char *big = malloc(WS_HTTP_MAX_HEAD + 10);
    memset(big, 'a', WS_HTTP_MAX_HEAD + 10);
    memcpy(big, "GET / HTTP/1.1\r\nX: ", 19);
    ck_assert_int_eq(ws_http_parse(big, WS_HTTP_MAX_HEAD + 10, &r), WS_HTTP_TOO_BIG);
    ck_assert_int_eq(ws_http_parse(big, WS_HTTP_MAX_HEAD - 1, &r), 0);
    free(big);
}
END_TEST

START_TEST(origin_and_host_split)
{
    char s[16], h[64], p[8];
    ck_assert_int_eq(ws_origin_split("http://Example.com:8080", 23, s, sizeof s, h, sizeof h, p,
                                     sizeof p), 0);
    ck_assert_str_eq(s, "http");
    ck_assert_str_eq(h, "example.com");
    ck_assert_str_eq(p, "8080");
    const char *o = "https://user@a.b/path?q";
    ck_assert_int_eq(ws_origin_split(o, strlen(o), s, sizeof s, h, sizeof h, p, sizeof p), 0);
    ck_assert_str_eq(h, "a.b");
    ck_assert_str_eq(p, "443");
    o = "http://[::1]:99";
    ck_assert_int_eq(ws_origin_split(o, strlen(o), s, sizeof s, h, sizeof h, p, sizeof p), 0);
    ck_assert_str_eq(h, "::1");
    ck_assert_str_eq(p, "99");
    ck_assert_int_lt(ws_origin_split("null", 4, s, sizeof s, h, sizeof h, p, sizeof p), 0);
    ck_assert_int_lt(ws_origin_split("http://a:b:c", 12, s, sizeof s, h, sizeof h, p, sizeof p),
                     0);
    ck_assert_int_eq(ws_host_split("Host.X", 6, false, h, sizeof h, p, sizeof p), 0);
    ck_assert_str_eq(h, "host.x");
    ck_assert_str_eq(p, "80");
    ck_assert_int_eq(ws_host_split("h", 1, true, h, sizeof h, p, sizeof p), 0);
    ck_assert_str_eq(p, "443");
}
END_TEST

/* A client frame: masked with a fixed key unless mask is false. */
static size_t client_frame(uint8_t *out, uint8_t b0, const void *payload, size_t n, bool mask)
{
    static const uint8_t key[4] = { 0x11, 0x22, 0x33, 0x44 };
    size_t h = ws_frame_header(out, (enum ws_opcode)(b0 & 0x0f), b0 & 0x80, b0 & 0x40, n);
    out[0] = b0;
    if (mask) {
        out[1] |= 0x80;
        memcpy(out + h, key, 4);
        h += 4;
    }
    for (size_t i = 0; i < n; i++)
        out[h + i] = ((const uint8_t *)payload)[i] ^ (mask ? key[i & 3] : 0);
    return h + n;
}

/* Collects what a decoder reports over a stream fed in cuts of `step`
 * bytes (0: all at once). Returns the error, or 0. */
struct seen {
    char data[70000];
    size_t ndata;
    int pings, pongs, closes, msg_ends;
    uint8_t ctl[WS_MAX_CONTROL_PAYLOAD];
    size_t nctl;
    bool compressed;
};

static int feed(struct ws_decoder *d, uint8_t *buf, size_t len, size_t step, struct seen *s)
{
    memset(s, 0, sizeof *s);
    size_t pos = 0;
    while (pos < len) {
        size_t chunk = step && len - pos > step ? step : len - pos;
        size_t off = 0;
        for (;;) {
            size_t used = 0;
            struct ws_event ev;
            int rc = ws_decode(d, buf + pos + off, chunk - off, &used, &ev);
            off += used;
            ck_assert_uint_le(off, chunk);
            if (rc < 0)
                return rc;
            if (rc == 0) {
                ck_assert_uint_eq(off, chunk);
                break;
            }
            if (ev.kind == WS_EV_DATA) {
                memcpy(s->data + s->ndata, ev.data, ev.len);
                s->ndata += ev.len;
                s->msg_ends += ev.msg_end;
                s->compressed |= ev.compressed;
            } else {
                s->pings += ev.kind == WS_EV_PING;
                s->pongs += ev.kind == WS_EV_PONG;
                s->closes += ev.kind == WS_EV_CLOSE;
                memcpy(s->ctl, ev.data, ev.len);
                s->nctl = ev.len;
            }
        }
        pos += chunk;
    }
    return 0;
}

START_TEST(decode_fragmented_with_interleaved_ping)
{
    static uint8_t stream[80000];
    size_t n = 0;
    n += client_frame(stream + n, 0x02, "PUB a 5\r\nhe", 11, true);          /* binary, !fin */
    n += client_frame(stream + n, 0x89, "pp", 2, true);                     /* ping */
    n += client_frame(stream + n, 0x00, "", 0, true);                       /* empty middle */
    n += client_frame(stream + n, 0x80, "llo\r\n", 5, true);                /* cont, fin */
    static char big[70000];
    for (size_t i = 0; i < sizeof big - 2; i++)
        big[i] = (char)('a' + i % 26);
    size_t bigoff = n;
    n += client_frame(stream + n, 0x82, big, 66000, true);                  /* 64-bit length */
    n += client_frame(stream + n, 0x81, "x", 1, true);                      /* text */
    n += client_frame(stream + n, 0x8a, "", 0, true);                       /* pong */
    (void)bigoff;
    size_t steps[] = { 0, 1, 2, 3, 7, 13, 4096 };
    static uint8_t copy[sizeof stream];
    for (size_t k = 0; k < sizeof steps / sizeof steps[0]; k++) {
        memcpy(copy, stream, n);
        struct ws_decoder d = { .require_mask = true };
        static struct seen s;
        ck_assert_int_eq(feed(&d, copy, n, steps[k], &s), 0);
        ck_assert_uint_eq(s.ndata, 16 + 66000 + 1);
        ck_assert(memcmp(s.data, "PUB a 5\r\nhello\r\n", 16) == 0);
        ck_assert(memcmp(s.data + 16, big, 66000) == 0);
        ck_assert_int_eq(s.data[16 + 66000], 'x');
        ck_assert_int_eq(s.msg_ends, 3);
        ck_assert_int_eq(s.pings, 1);
        ck_assert_int_eq(s.pongs, 1);
        ck_assert(!s.compressed);
        ck_assert(!d.in_message && !d.in_payload && d.hlen == 0);
    }
}
END_TEST

static int decode_one(uint8_t b0, const void *p, size_t n, bool mask, bool compression)
{
    uint8_t f[300];
    size_t len = client_frame(f, b0, p, n, mask);
    struct ws_decoder d = { .require_mask = true, .compression = compression };
    static struct seen s;
    return feed(&d, f, len, 0, &s);
}

START_TEST(decode_errors)
{
    char big[200];
    memset(big, 'x', sizeof big);
    ck_assert_int_eq(decode_one(0x82, "a", 1, false, false), WS_E_MASK);
    ck_assert_int_eq(decode_one(0x89, big, 126, true, false), WS_E_CONTROL_LEN);
    ck_assert_int_eq(decode_one(0x09, "a", 1, true, false), WS_E_CONTROL_FIN);
    ck_assert_int_eq(decode_one(0x80, "a", 1, true, false), WS_E_CONTINUATION);
    ck_assert_int_eq(decode_one(0x83, "a", 1, true, false), WS_E_OPCODE);
    ck_assert_int_eq(decode_one(0x8b, "a", 1, true, false), WS_E_OPCODE);
    ck_assert_int_eq(decode_one(0xc2, "a", 1, true, false), WS_E_COMPRESSED);
    ck_assert_int_eq(decode_one(0xc2, "a", 1, true, true), 0);
    /* RSV2/RSV3 are ignored, as nats-server 2.9 ignores them. */
    ck_assert_int_eq(decode_one(0xb2, "a", 1, true, false), 0);
    ck_assert_str_eq(ws_strerror(WS_E_MASK), "mask bit missing");

    /* A new message inside a fragmented one; RSV1 on a continuation. */
    uint8_t f[64];
    size_t n = client_frame(f, 0x02, "a", 1, true);
    n += client_frame(f + n, 0x82, "b", 1, true);
    struct ws_decoder d = { .require_mask = true };
    static struct seen s;
    ck_assert_int_eq(feed(&d, f, n, 0, &s), WS_E_NOT_FINAL);
    n = client_frame(f, 0x42, "a", 1, true);
    n += client_frame(f + n, 0xc0, "b", 1, true);
    struct ws_decoder d2 = { .require_mask = true, .compression = true };
    ck_assert_int_eq(feed(&d2, f, n, 0, &s), WS_E_CONTINUATION);

    /* A 64-bit length with the top bit set. */
    uint8_t h[14] = { 0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4 };
    struct ws_decoder d3 = { .require_mask = true };
    ck_assert_int_eq(feed(&d3, h, sizeof h, 0, &s), WS_E_LENGTH);

    /* Without masking required (Nats-No-Masking), unmasked frames pass. */
    n = client_frame(f, 0x82, "ok", 2, false);
    struct ws_decoder d4 = { .require_mask = false };
    ck_assert_int_eq(feed(&d4, f, n, 1, &s), 0);
    ck_assert_uint_eq(s.ndata, 2);
}
END_TEST

START_TEST(compressed_flag_follows_the_message)
{
    uint8_t f[64];
    size_t n = client_frame(f, 0x42, "ab", 2, true);
    n += client_frame(f + n, 0x89, "", 0, true);
    n += client_frame(f + n, 0x80, "c", 1, true);
    struct ws_decoder d = { .require_mask = true, .compression = true };
    static struct seen s;
    ck_assert_int_eq(feed(&d, f, n, 0, &s), 0);
    ck_assert(s.compressed);
    ck_assert_int_eq(s.msg_ends, 1);
    ck_assert_int_eq(s.pings, 1);
}
END_TEST

START_TEST(frame_headers)
{
    uint8_t h[10];
    ck_assert_uint_eq(ws_frame_header(h, WS_OP_BINARY, true, false, 125), 2);
    ck_assert(h[0] == 0x82 && h[1] == 125);
    ck_assert_uint_eq(ws_frame_header(h, WS_OP_BINARY, true, true, 126), 4);
    ck_assert(h[0] == 0xc2 && h[1] == 126 && h[2] == 0 && h[3] == 126);
    ck_assert_uint_eq(ws_frame_header(h, WS_OP_CONT, false, false, 65536), 10);
    ck_assert(h[0] == 0x00 && h[1] == 127 && h[7] == 1 && h[8] == 0 && h[9] == 0);
}
END_TEST

START_TEST(close_payloads)
{
    uint8_t p[WS_MAX_CONTROL_PAYLOAD];
    size_t n = ws_close_payload(p, 1002, "Protocol Violation", 18);
    ck_assert_uint_eq(n, 20);
    ck_assert(p[0] == 0x03 && p[1] == 0xea && memcmp(p + 2, "Protocol Violation", 18) == 0);
    char longtext[200];
    memset(longtext, 'y', sizeof longtext);
    n = ws_close_payload(p, 1000, longtext, sizeof longtext);
    ck_assert_uint_eq(n, 125);
    ck_assert(memcmp(p + 122, "...", 3) == 0 && p[121] == 'y');
    n = ws_close_payload(p, 1000, longtext, 123);
    ck_assert_uint_eq(n, 125);
    ck_assert_int_eq(p[124], 'y');

    /* Echoes: the status and text, 1005 without one, 1007 for bad UTF-8. */
    const uint8_t bye[] = { 0x03, 0xe8, 'b', 'y', 'e' };
    n = ws_close_echo(p, bye, sizeof bye);
    ck_assert(n == 5 && memcmp(p, bye, 5) == 0);
    n = ws_close_echo(p, bye, 1);
    ck_assert(n == 2 && p[0] == 0x03 && p[1] == 0xed);
    n = ws_close_echo(p, NULL, 0);
    ck_assert(n == 2 && p[1] == 0xed);
    const uint8_t bad[] = { 0x03, 0xe8, 0xff, 0xfe };
    n = ws_close_echo(p, bad, sizeof bad);
    ck_assert(p[0] == 0x03 && p[1] == 0xef);
    ck_assert(memcmp(p + 2, "invalid utf8 body in close frame", n - 2) == 0);
}
END_TEST

START_TEST(utf8)
{
    ck_assert(ws_utf8_valid((const uint8_t *)"h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80", 15));
    ck_assert(!ws_utf8_valid((const uint8_t *)"\xc0\x80", 2));         /* overlong */
    ck_assert(!ws_utf8_valid((const uint8_t *)"\xed\xa0\x80", 3));     /* surrogate */
    ck_assert(!ws_utf8_valid((const uint8_t *)"\xf4\x90\x80\x80", 4)); /* > U+10FFFF */
    ck_assert(!ws_utf8_valid((const uint8_t *)"\xe2\x82", 2));         /* cut */
    ck_assert(ws_utf8_valid(NULL, 0));
}
END_TEST

static Suite *ws_suite(void)
{
    Suite *s = suite_create("ws");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, http_good_request);
    tcase_add_test(tc, http_tokens_and_case);
    tcase_add_test(tc, http_bad_requests);
    tcase_add_test(tc, origin_and_host_split);
    tcase_add_test(tc, decode_fragmented_with_interleaved_ping);
    tcase_add_test(tc, decode_errors);
    tcase_add_test(tc, compressed_flag_follows_the_message);
    tcase_add_test(tc, frame_headers);
    tcase_add_test(tc, close_payloads);
    tcase_add_test(tc, utf8);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(ws_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
