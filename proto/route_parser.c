/*
 * proto/route_parser.c — the field rules of the route verbs: RS+, RS-, RMSG
 * and the route form of HMSG (cluster-protocol.md §4.1, §5.1).
 *
 * proto/parser.c finds lines and payloads for every side; the functions here
 * get one complete argument part and check its fields. A routed message may
 * name any number of queue groups, so its fields are not split into an
 * array: the first few and the last few are kept, and the queue names go to
 * the handler as the one run of bytes between them (proto_msg.queues).
 * Never allocates; every slice borrows the line.
 */
#include "proto/parser_impl.h"

#include <string.h>

#define FRONT 5 /* acc subj IND reply q1: the most fields read from the front */
#define BACK 3  /* last-queue hdr total: the most read from the back */

/* The ends of a field list of any length. */
struct fields {
    size_t n;                        /* fields in all */
    struct proto_slice front[FRONT]; /* fields 0 .. FRONT-1, those that exist */
    struct proto_slice back[BACK];   /* the last BACK fields; back[BACK-1] is the last */
};

/* Split on runs of separators, as proto__split_args does, but with no limit
 * on the count. */
static void split_ends(struct proto_slice arg, struct fields *f)
{
    size_t i = 0;
    f->n = 0;
    for (size_t k = 0; k < BACK; k++)
        f->back[k] = proto__none();
    while (i < arg.len) {
        while (i < arg.len && proto__is_arg_sep(arg.ptr[i]))
            i++;
        if (i == arg.len)
            break;
        size_t start = i;
        while (i < arg.len && !proto__is_arg_sep(arg.ptr[i]))
            i++;
        struct proto_slice s = { arg.ptr + start, i - start };
        if (f->n < FRONT)
            f->front[f->n] = s;
        memmove(f->back, f->back + 1, (BACK - 1) * sizeof *f->back);
        f->back[BACK - 1] = s;
        f->n++;
    }
}

/* Field i, which must be among the first FRONT or the last BACK. */
static struct proto_slice field_at(const struct fields *f, size_t i)
{
    return i < FRONT ? f->front[i] : f->back[BACK - (f->n - i)];
}

/*
 * RMSG and route HMSG (§5.1): acc subj, then nothing, a reply, or a reply
 * indicator ('+' reply queues... or '|' queues...), then nsizes size fields
 * (RMSG: total; HMSG: hdr total). The field count picks the layout, as in
 * nats-server: one field more than the minimum is a reply, even "+" or "|".
 */
static int routed_msg(struct proto_parser *p, struct proto_slice arg, size_t nsizes)
{
    struct proto_msg *m = &p->pending;
    size_t min = 2 + nsizes;
    struct fields f;
    split_ends(arg, &f);
    if (f.n < min)
        return proto__fail(p, PROTO_E_BAD_ARGS);
    proto__clear_pending(m, nsizes == 2);
    m->account = f.front[0];
    m->subject = f.front[1];
    if (f.n == min + 1) {
        m->reply = f.front[2];
    } else if (f.n > min + 1) {
        struct proto_slice ind = f.front[2];
        if (ind.len != 1 || (ind.ptr[0] != '+' && ind.ptr[0] != '|'))
            return proto__fail(p, PROTO_E_BAD_ARGS); /* "Bad or Missing Reply Indicator" */
        m->reply_indicator = ind.ptr[0];
        size_t first = 3, last = f.n - nsizes - 1; /* queue names: fields first..last */
        if (ind.ptr[0] == '+')
            m->reply = f.front[first++];
        if (first <= last) { /* "+ reply" with no queue is let through, as the reference does */
            struct proto_slice a = field_at(&f, first), b = field_at(&f, last);
            m->queues = (struct proto_slice){ a.ptr, (size_t)(b.ptr + b.len - a.ptr) };
        }
    }
    if (nsizes == 2)
        m->hdr_arg = f.back[BACK - 2];
    m->size_arg = f.back[BACK - 1];
    return proto__check_sizes(p);
}

int proto__run_rmsg(struct proto_parser *p, struct proto_slice arg, const struct run_ctx *rc)
{
    (void)rc;
    return routed_msg(p, arg, 1);
}

int proto__run_route_hmsg(struct proto_parser *p, struct proto_slice arg,
                          const struct run_ctx *rc)
{
    (void)rc;
    return routed_msg(p, arg, 2);
}

/* RS+ acc subj | RS+ acc subj queue weight (§4.1). nats-server keeps an
 * unparsable weight as -1, which makes the entry unselectable; the spec has
 * Tern clamp anything below 1 to 1 instead. */
int proto__run_rs_plus(struct proto_parser *p, struct proto_slice arg, const struct run_ctx *rc)
{
    struct proto_slice a[PROTO__MAX_ARGS];
    size_t n = proto__split_args(arg, a);
    if (n != 2 && n != 4)
        return proto__fail(p, PROTO_E_BAD_ARGS); /* a queue without weight too */
    struct proto_slice queue = proto__none();
    int64_t weight = 1;
    if (n == 4) {
        queue = a[2];
        weight = proto_parse_size(a[3].ptr, a[3].len);
        if (weight < 1)
            weight = 1;
    }
    return rc->h->on_rs_plus ? rc->h->on_rs_plus(rc->ctx, a[0], a[1], queue, weight) : 0;
}

/* RS- acc subj [queue] (§4.1): a queue group goes without its weight. */
int proto__run_rs_minus(struct proto_parser *p, struct proto_slice arg, const struct run_ctx *rc)
{
    struct proto_slice a[PROTO__MAX_ARGS];
    size_t n = proto__split_args(arg, a);
    if (n != 2 && n != 3)
        return proto__fail(p, PROTO_E_BAD_ARGS);
    struct proto_slice queue = n == 3 ? a[2] : proto__none();
    return rc->h->on_rs_minus ? rc->h->on_rs_minus(rc->ctx, a[0], a[1], queue) : 0;
}
