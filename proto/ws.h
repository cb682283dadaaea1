/*
 * proto/ws.h — WebSocket (RFC 6455) as nats-server 2.9 speaks it to
 * clients: the HTTP/1.1 upgrade request, the frame decoder and the frame
 * and close-payload encoders. Pure: no I/O, no allocation, no globals;
 * compression (RFC 7692 permessage-deflate) is the caller's, this module
 * only reports which frames carry it.
 *
 * The decoder is incremental and zero-copy: it is fed whatever the socket
 * gave, keeps at most one frame header (14 bytes) and one control payload
 * (125 bytes) between calls, and hands data payloads back as slices of the
 * caller's buffer, unmasked in place. Where RFC 6455 and nats-server 2.9.10
 * differ, nats-server is followed and the place says so (spec: the reserved
 * bits RSV2/RSV3 are ignored; an empty close is answered with 1005).
 */
#ifndef TERN_PROTO_WS_H
#define TERN_PROTO_WS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum ws_opcode {
    WS_OP_CONT = 0,
    WS_OP_TEXT = 1,
    WS_OP_BINARY = 2,
    WS_OP_CLOSE = 8,
    WS_OP_PING = 9,
    WS_OP_PONG = 10,
};

/* Close status codes nats-server sends (RFC 6455 §7.4.1). */
enum ws_close_status {
    WS_CLOSE_NORMAL = 1000,
    WS_CLOSE_GOING_AWAY = 1001,
    WS_CLOSE_PROTOCOL_ERROR = 1002,
    WS_CLOSE_NO_STATUS = 1005,
    WS_CLOSE_ABNORMAL = 1006,
    WS_CLOSE_INVALID_PAYLOAD = 1007,
    WS_CLOSE_POLICY_VIOLATION = 1008,
    WS_CLOSE_MESSAGE_TOO_BIG = 1009,
    WS_CLOSE_INTERNAL_ERROR = 1011,
    WS_CLOSE_TLS_HANDSHAKE = 1015,
};

#define WS_MAX_CONTROL_PAYLOAD 125
#define WS_MAX_FRAME_HEADER 14     /* 2 + 8 (length) + 4 (mask key) */
/* The HTTP request head Tern reads before answering 431 (Go's server takes
 * up to 1 MiB; no WebSocket client sends more than a few hundred bytes). */
#define WS_HTTP_MAX_HEAD 8192

/* ---- the upgrade request ---- */

/* A slice of the request buffer; ptr NULL when absent. */
struct ws_str {
    const char *ptr;
    size_t len;
};

/* What the upgrade needs from one request head. Filled by ws_http_parse;
 * every slice points into its buffer (borrowed). Header names match
 * without regard to case; a value is trimmed of spaces and tabs. Where
 * several headers share a name, the checks that look for a token look at
 * all of them (nats-server's wsHeaderContains) and the single-value
 * fields keep the first. */
struct ws_http_req {
    struct ws_str method, target;
    int minor;                 /* HTTP/1.<minor> */
    bool has_host;
    struct ws_str host;
    bool upgrade_websocket;    /* Upgrade has the token "websocket" */
    bool connection_upgrade;   /* Connection has the token "Upgrade" */
    bool version_13;           /* Sec-WebSocket-Version has the token "13" */
    bool deflate;              /* permessage-deflate offered */
    bool no_masking;           /* Nats-No-Masking: true */
    struct ws_str key;         /* Sec-WebSocket-Key */
    struct ws_str origin;      /* Origin, else Sec-WebSocket-Origin */
    struct ws_str user_agent;
};

enum {
    WS_HTTP_BAD = -1,          /* malformed: 400, then close */
    WS_HTTP_NO_HOST = -2,      /* HTTP/1.1 without Host: 400, then close */
    WS_HTTP_TOO_BIG = -3,      /* no head end within WS_HTTP_MAX_HEAD: 431 */
};

/* Parse one request head from buf[0..len). Returns its length including
 * the blank line (> 0), 0 when more bytes are needed, or a WS_HTTP_*
 * code. Only the head is read; a body is not expected. */
int ws_http_parse(const char *buf, size_t len, struct ws_http_req *r);

/* An Origin (or allowed_origins entry) "scheme://host[:port]" split as
 * nats-server does: host lower-cased, port defaulting to 443 for https and
 * 80 otherwise. Outputs are NUL-terminated. -1 when it does not parse or a
 * part does not fit. */
int ws_origin_split(const char *s, size_t len, char *scheme, size_t scap, char *host,
                    size_t hcap, char *port, size_t pcap);
/* The same for a Host header (no scheme); tls picks the default port. */
int ws_host_split(const char *s, size_t len, bool tls, char *host, size_t hcap, char *port,
                  size_t pcap);

/* ---- frames from the client ---- */

enum ws_error {
    WS_E_MASK = -1,            /* "mask bit missing" */
    WS_E_CONTROL_LEN = -2,     /* control payload over 125 bytes */
    WS_E_CONTROL_FIN = -3,     /* fragmented control frame */
    WS_E_NOT_FINAL = -4,       /* a new message inside a fragmented one */
    WS_E_CONTINUATION = -5,    /* continuation with nothing to continue, or with RSV1 */
    WS_E_OPCODE = -6,          /* reserved opcode */
    WS_E_LENGTH = -7,          /* 64-bit length with its top bit set */
    WS_E_COMPRESSED = -8,      /* RSV1 without negotiated compression */
};
const char *ws_strerror(int err);

enum ws_event_kind {
    WS_EV_DATA = 1,            /* payload bytes of a text or binary message */
    WS_EV_PING,
    WS_EV_PONG,
    WS_EV_CLOSE,
};

/* One decoded thing. data points into the caller's buffer for WS_EV_DATA
 * (unmasked in place) and into the decoder for control frames (valid
 * until the next call). */
struct ws_event {
    enum ws_event_kind kind;
    uint8_t *data;
    size_t len;
    bool compressed;           /* the message was sent with RSV1 */
    bool msg_end;              /* the last bytes of the message (len may be 0) */
};

/* Decoder state of one connection; zero it, then set the two options. */
struct ws_decoder {
    bool require_mask;         /* clients must mask (all but Nats-No-Masking) */
    bool compression;          /* permessage-deflate was negotiated */

    /* Everything below is the decoder's own. */
    uint8_t hdr[WS_MAX_FRAME_HEADER];
    uint8_t hlen;              /* header bytes held; 0 between frames */
    bool in_payload;           /* header done, rem payload bytes to come */
    uint8_t opcode;
    bool fin;
    uint64_t rem;
    bool masked;
    uint8_t key[4];
    uint8_t kpos;
    bool in_message;           /* a fragmented data message is open */
    bool msg_compressed;
    uint8_t ctl[WS_MAX_CONTROL_PAYLOAD];
    uint8_t ctl_len;
};

/*
 * Decode from buf[0..len) (modified: payloads are unmasked in place).
 * Returns 1 with *ev filled, 0 once everything given has been consumed
 * with nothing more to report, or a WS_E_* code (the connection must be
 * closed). *used is how many bytes were consumed either way; call again
 * with the rest after an event. Never reads past len, never stores a
 * pointer into buf.
 */
int ws_decode(struct ws_decoder *d, uint8_t *buf, size_t len, size_t *used,
              struct ws_event *ev);

/* ---- frames to the client ---- */

/* A server frame header (never masked) for a payload of len bytes; rsv1
 * marks a compressed first frame. Returns its size (2, 4 or 10). */
size_t ws_frame_header(uint8_t out[10], enum ws_opcode op, bool fin, bool rsv1, uint64_t len);

/* A close payload: the status, then text cut to fit a control frame the
 * way nats-server cuts it (past 123 bytes: the first 120 and "..."). */
size_t ws_close_payload(uint8_t out[WS_MAX_CONTROL_PAYLOAD], uint16_t status, const char *text,
                        size_t tlen);

/* nats-server's answer to a client's close payload: its status (1005 when
 * under 2 bytes) and its text, or 1007 when the text is not UTF-8. */
size_t ws_close_echo(uint8_t out[WS_MAX_CONTROL_PAYLOAD], const uint8_t *payload, size_t len);

bool ws_utf8_valid(const uint8_t *s, size_t len);

#endif
