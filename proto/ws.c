/*
 * proto/ws.c — the WebSocket upgrade request, frame decoder and encoders
 * (see ws.h).
 *
 * The decoder's one rule of cost: a data payload is never copied. It is
 * unmasked where it lies and returned as a slice, so a PUB sent over
 * WebSocket reaches the protocol parser with one extra pass over its bytes
 * (the XOR) and nothing else. Only what must survive between reads is
 * kept: a frame header cut by a read (at most 14 bytes) and a control
 * payload (at most 125), which RFC 6455 bounds.
 */
#include "proto/ws.h"

#include <string.h>
#include <strings.h>

#include "proto/utf8.h"

/* ---- the upgrade request ---- */

static bool is_tchar(unsigned char c)
{
    /* RFC 9110 token characters. */
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

static struct ws_str trim(const char *p, size_t n)
{
    while (n && (*p == ' ' || *p == '\t'))
        p++, n--;
    while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
        n--;
    return (struct ws_str){ p, n };
}

static bool str_ieq(struct ws_str s, const char *lit)
{
    size_t n = strlen(lit);
    return s.len == n && strncasecmp(s.ptr, lit, n) == 0;
}

/* One of the sep-separated items of v, trimmed, equals want (any case). */
static bool has_item(const char *v, size_t n, char sep, const char *want)
{
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || v[i] == sep) {
            if (str_ieq(trim(v + start, i - start), want))
                return true;
            start = i + 1;
        }
    }
    return false;
}

/* permessage-deflate as any ';' parameter of any ',' extension. */
static bool offers_deflate(const char *v, size_t n)
{
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || v[i] == ',') {
            if (has_item(v + start, i - start, ';', "permessage-deflate"))
                return true;
            start = i + 1;
        }
    }
    return false;
}

static bool name_is(const char *name, size_t n, const char *lit)
{
    return strlen(lit) == n && strncasecmp(name, lit, n) == 0;
}

static void header(struct ws_http_req *r, const char *name, size_t nlen, struct ws_str v,
                   bool *seen_origin)
{
    if (name_is(name, nlen, "Host")) {
        if (!r->has_host)
            r->host = v;
        r->has_host = true;
    } else if (name_is(name, nlen, "Upgrade")) {
        r->upgrade_websocket |= has_item(v.ptr, v.len, ',', "websocket");
    } else if (name_is(name, nlen, "Connection")) {
        r->connection_upgrade |= has_item(v.ptr, v.len, ',', "Upgrade");
    } else if (name_is(name, nlen, "Sec-WebSocket-Version")) {
        r->version_13 |= has_item(v.ptr, v.len, ',', "13");
    } else if (name_is(name, nlen, "Sec-WebSocket-Extensions")) {
        r->deflate |= offers_deflate(v.ptr, v.len);
    } else if (name_is(name, nlen, "Sec-WebSocket-Key")) {
        if (!r->key.ptr)
            r->key = v;
    } else if (name_is(name, nlen, "Nats-No-Masking")) {
        if (!r->no_masking && v.len == 4 && memcmp(v.ptr, "true", 4) == 0)
            r->no_masking = true;
    } else if (name_is(name, nlen, "Origin")) {
        if (!*seen_origin)
            r->origin = v;
        *seen_origin = true;
    } else if (name_is(name, nlen, "Sec-WebSocket-Origin")) {
        if (!*seen_origin && !r->origin.ptr)
            r->origin = v;
    } else if (name_is(name, nlen, "User-Agent")) {
        if (!r->user_agent.ptr)
            r->user_agent = v;
    }
}

/* The request line: METHOD SP target SP HTTP/1.x */
static int request_line(const char *p, size_t n, struct ws_http_req *r)
{
    size_t i = 0;
    while (i < n && is_tchar((unsigned char)p[i]))
        i++;
    if (i == 0 || i >= n || p[i] != ' ')
        return WS_HTTP_BAD;
    r->method = (struct ws_str){ p, i };
    size_t t = ++i;
    while (i < n && p[i] != ' ')
        i++;
    if (i == t || i >= n)
        return WS_HTTP_BAD;
    r->target = (struct ws_str){ p + t, i - t };
    i++;
    if (n - i != 8 || memcmp(p + i, "HTTP/1.", 7) != 0 || p[i + 7] < '0' || p[i + 7] > '9')
        return WS_HTTP_BAD;
    r->minor = p[i + 7] - '0';
    return 0;
}

int ws_http_parse(const char *buf, size_t len, struct ws_http_req *r)
{
    memset(r, 0, sizeof *r);
    size_t lim = len < WS_HTTP_MAX_HEAD ? len : WS_HTTP_MAX_HEAD;
    /* Find the end of the head first: nothing is judged on a partial one,
     * so a request cut by a read is never half-answered. */
    size_t end = 0;
    for (size_t i = 0; i < lim; i++) {
        if (buf[i] != '\n')
            continue;
        if (i + 1 < lim && buf[i + 1] == '\n') {
            end = i + 2;
            break;
        }
        if (i + 2 < lim && buf[i + 1] == '\r' && buf[i + 2] == '\n') {
            end = i + 3;
            break;
        }
    }
    if (!end)
        return len >= WS_HTTP_MAX_HEAD ? WS_HTTP_TOO_BIG : 0;

    bool first = true, seen_origin = false;
    size_t pos = 0;
    while (pos < end) {
        const char *nl = memchr(buf + pos, '\n', end - pos);
        size_t ll = (size_t)(nl - (buf + pos));
        const char *line = buf + pos;
        pos += ll + 1;
        if (ll && line[ll - 1] == '\r')
            ll--;
        if (memchr(line, '\r', ll) || memchr(line, '\0', ll))
            return WS_HTTP_BAD;
        if (first) {
            if (request_line(line, ll, r) < 0)
                return WS_HTTP_BAD;
            first = false;
            continue;
        }
        if (ll == 0)
            break; /* the blank line */
        size_t c = 0;
        while (c < ll && is_tchar((unsigned char)line[c]))
            c++;
        if (c == 0 || c >= ll || line[c] != ':')
            return WS_HTTP_BAD; /* also folded lines and "Name :" */
        header(r, line, c, trim(line + c + 1, ll - c - 1), &seen_origin);
    }
    if (!r->has_host && r->minor >= 1)
        return WS_HTTP_NO_HOST;
    return (int)end;
}

static int copy_out(char *dst, size_t cap, const char *s, size_t n, bool lower)
{
    if (n + 1 > cap)
        return -1;
    for (size_t i = 0; i < n; i++)
        dst[i] = lower && s[i] >= 'A' && s[i] <= 'Z' ? (char)(s[i] - 'A' + 'a') : s[i];
    dst[n] = '\0';
    return 0;
}

int ws_host_split(const char *s, size_t len, bool tls, char *host, size_t hcap, char *port,
                  size_t pcap)
{
    const char *def = tls ? "443" : "80";
    const char *hp = s, *pp = NULL;
    size_t hn = len, pn = 0;
    if (len && s[0] == '[') {
        const char *rb = memchr(s, ']', len);
        if (!rb)
            return -1;
        size_t after = len - (size_t)(rb - s) - 1;
        if (after > 0) {
            if (rb[1] != ':')
                return -1;
            hp = s + 1;
            hn = (size_t)(rb - s) - 1;
            pp = rb + 2;
            pn = after - 1;
        }
    } else {
        const char *colon = memchr(s, ':', len);
        if (colon) {
            if (memchr(colon + 1, ':', len - (size_t)(colon - s) - 1))
                return -1; /* "too many colons" */
            hn = (size_t)(colon - s);
            pp = colon + 1;
            pn = len - hn - 1;
        }
    }
    if (copy_out(host, hcap, hp, hn, true) < 0)
        return -1;
    if (!pp)
        return copy_out(port, pcap, def, strlen(def), false);
    return copy_out(port, pcap, pp, pn, false);
}

int ws_origin_split(const char *s, size_t len, char *scheme, size_t scap, char *host,
                    size_t hcap, char *port, size_t pcap)
{
    size_t i = 0;
    while (i < len && s[i] != ':' && s[i] != '/')
        i++;
    if (i == 0 || len - i < 3 || memcmp(s + i, "://", 3) != 0)
        return -1;
    if (copy_out(scheme, scap, s, i, false) < 0)
        return -1;
    const char *a = s + i + 3;
    size_t an = 0;
    while (a + an < s + len && !strchr("/?#", a[an]))
        an++;
    const char *at = NULL;
    for (size_t j = 0; j < an; j++)
        if (a[j] == '@')
            at = a + j;
    if (at) {
        an -= (size_t)(at + 1 - a);
        a = at + 1;
    }
    bool tls = strcmp(scheme, "https") == 0;
    return ws_host_split(a, an, tls, host, hcap, port, pcap);
}

/* ---- the frame decoder ---- */

const char *ws_strerror(int err)
{
    switch (err) {
    case WS_E_MASK: return "mask bit missing";
    case WS_E_CONTROL_LEN: return "control frame length bigger than maximum allowed of 125 bytes";
    case WS_E_CONTROL_FIN: return "control frame does not have final bit set";
    case WS_E_NOT_FINAL:
        return "new message started before final frame for previous message was received";
    case WS_E_CONTINUATION: return "invalid continuation frame";
    case WS_E_OPCODE: return "unknown opcode";
    case WS_E_LENGTH: return "invalid payload length";
    case WS_E_COMPRESSED: return "compressed frame without negotiated compression";
    }
    return NULL;
}

static bool is_control(uint8_t op)
{
    return op >= WS_OP_CLOSE;
}

static void unmask(struct ws_decoder *d, uint8_t *p, size_t n)
{
    if (!d->masked)
        return;
    size_t i = 0;
    unsigned k = d->kpos;
    /* Byte at a time until the key lines up, then eight at a time. */
    for (; i < n && (k & 3); i++, k++)
        p[i] ^= d->key[k & 3];
    if (n - i >= 8) {
        uint64_t k8;
        uint8_t kb[8];
        for (int j = 0; j < 8; j++)
            kb[j] = d->key[j & 3];
        memcpy(&k8, kb, 8);
        for (; n - i >= 8; i += 8) {
            uint64_t v;
            memcpy(&v, p + i, 8);
            v ^= k8;
            memcpy(p + i, &v, 8);
        }
    }
    for (; i < n; i++, k++)
        p[i] ^= d->key[k & 3];
    d->kpos = (uint8_t)(k & 3);
}

/* Bytes the header needs once its first two are known. */
static size_t header_size(const uint8_t *h)
{
    size_t n = 2;
    uint8_t l7 = h[1] & 0x7f;
    if (l7 == 126)
        n += 2;
    else if (l7 == 127)
        n += 8;
    if (h[1] & 0x80)
        n += 4;
    return n;
}

/* Checks made on the first two bytes, in nats-server's order. */
static int check_start(struct ws_decoder *d, const uint8_t *h)
{
    uint8_t op = h[0] & 0x0f;
    bool fin = h[0] & 0x80, rsv1 = h[0] & 0x40;
    if (d->require_mask && !(h[1] & 0x80))
        return WS_E_MASK;
    switch (op) {
    case WS_OP_PING:
    case WS_OP_PONG:
    case WS_OP_CLOSE:
        if ((h[1] & 0x7f) > WS_MAX_CONTROL_PAYLOAD)
            return WS_E_CONTROL_LEN;
        if (!fin)
            return WS_E_CONTROL_FIN;
        break;
    case WS_OP_TEXT:
    case WS_OP_BINARY:
        if (d->in_message)
            return WS_E_NOT_FINAL;
        if (rsv1 && !d->compression)
            return WS_E_COMPRESSED;
        break;
    case WS_OP_CONT:
        if (!d->in_message || rsv1)
            return WS_E_CONTINUATION;
        break;
    default:
        return WS_E_OPCODE;
    }
    return 0;
}

/* The header is complete in d->hdr: take the frame on. */
static int start_frame(struct ws_decoder *d)
{
    const uint8_t *h = d->hdr;
    d->opcode = h[0] & 0x0f;
    d->fin = h[0] & 0x80;
    size_t p = 2;
    uint64_t len = h[1] & 0x7f;
    if (len == 126) {
        len = (uint64_t)h[2] << 8 | h[3];
        p = 4;
    } else if (len == 127) {
        len = 0;
        for (int i = 0; i < 8; i++)
            len = len << 8 | h[2 + i];
        p = 10;
        if (len >> 63)
            return WS_E_LENGTH; /* RFC 6455 §5.2: the top bit must be 0 */
    }
    d->masked = h[1] & 0x80;
    if (d->masked)
        memcpy(d->key, h + p, 4);
    d->kpos = 0;
    d->rem = len;
    d->hlen = 0;
    d->in_payload = true;
    d->ctl_len = 0;
    if (!is_control(d->opcode)) {
        if (d->opcode != WS_OP_CONT)
            d->msg_compressed = h[0] & 0x40;
        d->in_message = !d->fin;
    }
    return 0;
}

static int control_event(struct ws_decoder *d, struct ws_event *ev)
{
    d->in_payload = false;
    ev->kind = d->opcode == WS_OP_PING ? WS_EV_PING
             : d->opcode == WS_OP_PONG ? WS_EV_PONG : WS_EV_CLOSE;
    ev->data = d->ctl;
    ev->len = d->ctl_len;
    ev->compressed = false;
    ev->msg_end = true;
    return 1;
}

int ws_decode(struct ws_decoder *d, uint8_t *buf, size_t len, size_t *used,
              struct ws_event *ev)
{
    size_t pos = 0;
    int rc = 0;
    while (pos < len || (d->in_payload && d->rem == 0)) {
        if (!d->in_payload) {
            /* Gather the header: two bytes say how long it is. */
            size_t need = d->hlen < 2 ? 2 : header_size(d->hdr);
            while (d->hlen < need && pos < len) {
                d->hdr[d->hlen++] = buf[pos++];
                if (d->hlen == 2) {
                    if ((rc = check_start(d, d->hdr)) < 0)
                        goto out;
                    need = header_size(d->hdr);
                }
            }
            if (d->hlen < need)
                break;
            if ((rc = start_frame(d)) < 0)
                goto out;
            continue;
        }
        if (is_control(d->opcode)) {
            size_t n = len - pos < d->rem ? len - pos : (size_t)d->rem;
            memcpy(d->ctl + d->ctl_len, buf + pos, n);
            unmask(d, d->ctl + d->ctl_len, n);
            d->ctl_len = (uint8_t)(d->ctl_len + n);
            d->rem -= n;
            pos += n;
            if (d->rem == 0) {
                rc = control_event(d, ev);
                goto out;
            }
            break;
        }
        /* Data: hand back what is here of the payload. */
        size_t n = len - pos < d->rem ? len - pos : (size_t)d->rem;
        unmask(d, buf + pos, n);
        d->rem -= n;
        bool end = d->rem == 0;
        if (end)
            d->in_payload = false;
        bool msg_end = end && d->fin;
        if (n == 0 && !msg_end)
            continue; /* an empty middle frame: nothing to report */
        ev->kind = WS_EV_DATA;
        ev->data = buf + pos;
        ev->len = n;
        ev->compressed = d->msg_compressed;
        ev->msg_end = msg_end;
        pos += n;
        rc = 1;
        goto out;
    }
out:
    *used = pos;
    return rc;
}

/* ---- encoders ---- */

size_t ws_frame_header(uint8_t out[10], enum ws_opcode op, bool fin, bool rsv1, uint64_t len)
{
    out[0] = (uint8_t)((fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | (op & 0x0f));
    if (len <= 125) {
        out[1] = (uint8_t)len;
        return 2;
    }
    if (len < 65536) {
        out[1] = 126;
        out[2] = (uint8_t)(len >> 8);
        out[3] = (uint8_t)len;
        return 4;
    }
    out[1] = 127;
    for (int i = 0; i < 8; i++)
        out[2 + i] = (uint8_t)(len >> (56 - 8 * i));
    return 10;
}

size_t ws_close_payload(uint8_t out[WS_MAX_CONTROL_PAYLOAD], uint16_t status, const char *text,
                        size_t tlen)
{
    out[0] = (uint8_t)(status >> 8);
    out[1] = (uint8_t)status;
    if (tlen > WS_MAX_CONTROL_PAYLOAD - 2) {
        memcpy(out + 2, text, WS_MAX_CONTROL_PAYLOAD - 5);
        memcpy(out + WS_MAX_CONTROL_PAYLOAD - 3, "...", 3);
        return WS_MAX_CONTROL_PAYLOAD;
    }
    if (tlen)
        memcpy(out + 2, text, tlen);
    return 2 + tlen;
}

size_t ws_close_echo(uint8_t out[WS_MAX_CONTROL_PAYLOAD], const uint8_t *payload, size_t len)
{
    if (len < 2)
        return ws_close_payload(out, WS_CLOSE_NO_STATUS, NULL, 0);
    uint16_t status = (uint16_t)(payload[0] << 8 | payload[1]);
    if (len > 2 && !ws_utf8_valid(payload + 2, len - 2)) {
        static const char bad[] = "invalid utf8 body in close frame";
        return ws_close_payload(out, WS_CLOSE_INVALID_PAYLOAD, bad, sizeof bad - 1);
    }
    if (len > WS_MAX_CONTROL_PAYLOAD)
        len = WS_MAX_CONTROL_PAYLOAD;
    return ws_close_payload(out, status, (const char *)payload + 2, len - 2);
}

bool ws_utf8_valid(const uint8_t *s, size_t len)
{
    return utf8_valid(s, len);
}
