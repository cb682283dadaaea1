/*
 * proto/parser.h — incremental parser for the NATS text protocol.
 *
 * Owns no I/O and no globals: the caller feeds byte buffers as they arrive
 * (any split, many commands per buffer) and gets one handler call per
 * complete command. Slices handed to handlers point into the caller's buffer
 * when the command arrived whole, or into the parser's own scratch when it
 * was split across reads; either way they are valid only during the call.
 *
 * Three sides are parsed: what a client sends to a server (CONNECT, PUB,
 * HPUB, SUB, UNSUB, PING, PONG, tolerated INFO/+OK/-ERR), what a server sends
 * to a client (INFO, MSG, HMSG, PING, PONG, +OK, -ERR; used by tests/bench),
 * and what a peer server sends on a route (INFO, CONNECT, PING, PONG, +OK,
 * -ERR, RS+, RS-, RMSG, route HMSG).
 *
 * Exact rules: ../shared/spec/client-protocol.md §1 (framing), §5-§8;
 * ../shared/spec/cluster-protocol.md §1, §4.1, §5.1 (routes).
 */
#ifndef TERN_PROTO_PARSER_H
#define TERN_PROTO_PARSER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A view of bytes owned by someone else. Not NUL-terminated. */
struct proto_slice {
    const char *ptr;
    size_t len;
};

enum proto_side {
    PROTO_SIDE_SERVER = 0, /* we are the server: parse client → server */
    PROTO_SIDE_CLIENT = 1, /* we are the client: parse server → client */
    PROTO_SIDE_ROUTE = 2,  /* a route: parse what a peer server sends us */
};

/*
 * Parser errors. proto_parse() returns one of these (all negative, far from
 * errno values) when the input breaks the protocol; the connection must then
 * be closed, after sending proto_strerror()'s text as -ERR when it is not NULL.
 */
enum proto_error {
    PROTO_E_UNKNOWN_OP = -1001,   /* 'Unknown Protocol Operation', close */
    PROTO_E_CONTROL_LINE = -1002, /* 'maximum control line exceeded', close */
    PROTO_E_MAX_PAYLOAD = -1003,  /* 'Maximum Payload Violation', close */
    PROTO_E_AUTH = -1004,         /* 'Authorization Violation': non-CONNECT op
                                     while require_connect is set; close */
    PROTO_E_BAD_ARGS = -1005,     /* wrong argument count, bad size, header
                                     size > total: close silently (no -ERR) */
    PROTO_E_CLIENT_ERR = -1006,   /* client sent -ERR: close silently,
                                     reason "Parse Error" */
    PROTO_E_NOMEM = -1007,        /* allocation failed: close silently */
};

/* The -ERR text (without quotes) for an error, or NULL for a silent close. */
const char *proto_strerror(int err);

/*
 * One message: PUB/HPUB (server side), MSG/HMSG (client side) or RMSG/HMSG
 * (route side). data holds total_len bytes: the header block (hdr_len bytes,
 * 0 for PUB/MSG/RMSG) followed by the payload. The trailing CRLF is not
 * included. Every slice is borrowed (see the top of this file).
 */
struct proto_msg {
    struct proto_slice subject;
    struct proto_slice reply;    /* len 0 when absent */
    struct proto_slice sid;      /* MSG/HMSG only; len 0 otherwise */
    struct proto_slice size_arg; /* total size digits as sent (reusable in MSG) */
    struct proto_slice hdr_arg;  /* header size digits as sent; len 0 for PUB/MSG/RMSG */
    size_t hdr_len;
    size_t total_len;
    bool has_headers;            /* HPUB / HMSG (even when hdr_len is 0) */
    const char *data;
    struct proto_slice account;  /* route only: the account; len 0 otherwise */
    struct proto_slice queues;   /* route only: the queue names exactly as sent,
                                    from the first name's first byte to the last
                                    name's last byte ("q1 q2"; separators kept
                                    as they came, so walk it with
                                    proto_next_field); len 0 when none */
    char reply_indicator;        /* route only: '+' (reply, then queues), '|'
                                    (queues, no reply), or 0 (no queue list) */
};

/*
 * Handlers. Each returns 0 to go on; any other value stops parsing at once
 * and proto_parse() returns that value unchanged (use values outside the
 * proto_error range, e.g. a positive "connection closed" code). A NULL
 * handler means the command is accepted and ignored. When a handler stops
 * the parse, the command it was called for counts as consumed.
 */
struct proto_handlers {
    int (*on_connect)(void *ctx, struct proto_slice json);        /* server, route */
    int (*on_info)(void *ctx, struct proto_slice json);           /* all sides */
    int (*on_msg)(void *ctx, const struct proto_msg *msg); /* PUB/HPUB, MSG/HMSG, RMSG/HMSG */
    int (*on_sub)(void *ctx, struct proto_slice subject,
                  struct proto_slice queue /* len 0 if none */,
                  struct proto_slice sid);                        /* server side */
    int (*on_unsub)(void *ctx, struct proto_slice sid,
                    struct proto_slice max /* len 0 if absent */); /* server side */
    int (*on_ping)(void *ctx);
    int (*on_pong)(void *ctx);
    int (*on_ok)(void *ctx);
    int (*on_err)(void *ctx, struct proto_slice text);  /* quotes kept; on the server
                                                           side it may log the text,
                                                           then the parse fails with
                                                           PROTO_E_CLIENT_ERR; on the
                                                           client and route sides the
                                                           parse goes on */
    /* Route side (cluster-protocol.md §4.1). RS+ with 2 fields is plain
     * interest (queue len 0, weight 1); with 4 it is a queue group and its
     * weight, where a weight < 1 or not a number arrives as 1. */
    int (*on_rs_plus)(void *ctx, struct proto_slice account, struct proto_slice subject,
                      struct proto_slice queue /* len 0 = plain */, int64_t weight);
    int (*on_rs_minus)(void *ctx, struct proto_slice account, struct proto_slice subject,
                       struct proto_slice queue /* len 0 = plain */);
};

/*
 * Parser state. Embed it in the connection (owner: the connection) and set
 * it up with proto_parser_init(); release with proto_parser_free().
 * The public fields may be changed between proto_parse() calls.
 * proto_parser_init() sets nats-server's defaults for the server side
 * (max_control_line 4096, max_payload 1048576, spec §1 and §3) and no limits
 * for the client and route sides (0 and -1; routes: cluster-protocol.md §1).
 * Without a max_payload, a split payload is not given its announced size up
 * front: past 1 MiB its buffer grows as the bytes arrive, so a peer that
 * announces a 999 MB message costs only the memory of what it really sends.
 */
struct proto_parser {
    enum proto_side side;
    size_t max_control_line; /* arg bytes of one control line; 0 = no limit */
    int64_t max_payload;     /* PUB/HPUB (and MSG/HMSG) total size limit; < 0 = no limit */
    bool require_connect;    /* first op must be CONNECT (auth pending) */

    /* Private: the state machine of proto/parser.c. */
    int state;
    int op;                   /* op table row of the command being parsed */
    int failed;               /* the error returned once the parse failed */
    unsigned char op_len;     /* bytes of a split op name kept in op_name */
    char op_name[8];          /* op name bytes of a cut line seen so far */
    char *scratch;            /* owned: split argument part, then split payload */
    size_t scratch_len;       /* bytes in use in scratch */
    size_t scratch_cap;
    size_t arg_len;           /* argument bytes at the start of scratch */
    struct proto_msg pending; /* message whose split payload is being copied;
                                 its slices point into scratch (and move with
                                 it when scratch grows) */
    size_t need;              /* payload + CRLF bytes still to copy */
    size_t consumed;          /* bytes used by the last proto_parse() call */
};

void proto_parser_init(struct proto_parser *p, enum proto_side side);
void proto_parser_free(struct proto_parser *p);

/*
 * Feed len bytes. Returns 0 when all were consumed (a trailing partial
 * command is kept for the next call), a proto_error, or a handler's stop value.
 * After an error the parser must not be fed again.
 */
int proto_parse(struct proto_parser *p, const char *buf, size_t len,
                const struct proto_handlers *h, void *ctx);

/*
 * Bytes of buf the last proto_parse() call used. Equal to len when it
 * returned 0; when a handler stopped the parse, the offset just after the
 * command that handler was called for, so the caller may resume with the rest.
 */
size_t proto_parse_consumed(const struct proto_parser *p);

/* Parse an unsigned decimal size as the protocol does: -1 if empty, non-digit,
 * or overflowing int64. The parser itself is stricter for message sizes, as
 * nats-server is: more than 9 digits (even leading zeros) is PROTO_E_BAD_ARGS. */
int64_t proto_parse_size(const char *s, size_t len);

/* The other way, for frame lines built without printf: v in decimal at
 * dst (at most 20 bytes, no NUL); returns the number of bytes. */
size_t proto_put_size(char *dst, uint64_t v);

/*
 * Take the next field of *rest (fields are split on runs of SP, TAB and CR,
 * the parser's own rule) into *field and advance *rest past it. Returns false
 * when only separators are left. Meant for proto_msg.queues:
 *     struct proto_slice rest = msg->queues, q;
 *     while (proto_next_field(&rest, &q)) ...
 */
bool proto_next_field(struct proto_slice *rest, struct proto_slice *field);

#endif
