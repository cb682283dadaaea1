/*
 * proto/parser_impl.h — what the line machinery (proto/parser.c) shares with
 * the route verbs' argument rules (proto/route_parser.c) and nobody else; the
 * public API is proto/parser.h.
 *
 * A "run" function gets the argument part of one complete control line,
 * checks it against its verb's field rules, and either calls the handler or,
 * for a verb with a payload, fills p->pending and leaves the payload to
 * parser.c. Slices it hands out borrow the line, as everywhere in proto/.
 */
#ifndef TERN_PROTO_PARSER_IMPL_H
#define TERN_PROTO_PARSER_IMPL_H

#include "proto/parser.h"

/* The most fields split by proto__split_args: HMSG subject sid reply hdr total. */
#define PROTO__MAX_ARGS 5

struct run_ctx {
    const struct proto_handlers *h; /* borrowed: the caller's, never NULL */
    void *ctx;
};

typedef int (*proto__run_fn)(struct proto_parser *p, struct proto_slice arg,
                             const struct run_ctx *rc);

/* Argument separators: SP, TAB and, as in nats-server, a stray CR. */
extern const bool proto__arg_sep[256];
extern const char proto__empty[1];

static inline bool proto__is_arg_sep(char c)
{
    return proto__arg_sep[(unsigned char)c];
}

static inline struct proto_slice proto__none(void)
{
    return (struct proto_slice){ proto__empty, 0 };
}

/* Put the parser in its failed state; returns err. */
int proto__fail(struct proto_parser *p, int err);

/* Split on runs of separators into out[PROTO__MAX_ARGS]. Returns the count,
 * or PROTO__MAX_ARGS + 1 as soon as there are more. */
size_t proto__split_args(struct proto_slice arg, struct proto_slice *out);

/* Reset p->pending for a new message (every slice empty). */
void proto__clear_pending(struct proto_msg *m, bool has_headers);

/* Check and convert the size fields of p->pending; fails the parser with
 * PROTO_E_BAD_ARGS or PROTO_E_MAX_PAYLOAD. */
int proto__check_sizes(struct proto_parser *p);

/* Route verbs (proto/route_parser.c). */
int proto__run_rs_plus(struct proto_parser *p, struct proto_slice arg, const struct run_ctx *rc);
int proto__run_rs_minus(struct proto_parser *p, struct proto_slice arg, const struct run_ctx *rc);
int proto__run_rmsg(struct proto_parser *p, struct proto_slice arg, const struct run_ctx *rc);
int proto__run_route_hmsg(struct proto_parser *p, struct proto_slice arg,
                          const struct run_ctx *rc);

#endif
