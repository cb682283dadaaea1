/*
 * proto/parser.c — incremental parser for the NATS text protocol.
 *
 * A command is a control line ended by LF, plus, for PUB/HPUB/MSG/HMSG, a
 * payload of the announced size followed by CRLF. A line that lies whole in
 * the caller's buffer is found with one memchr and parsed where it lies; only
 * a line or payload cut by the end of a read is copied into the parser's
 * scratch and finished on a later call. The op table below says which side
 * accepts each op name and which function checks its arguments; the route
 * side is rows whose run functions live in proto/route_parser.c.
 * Must never allocate for a command that arrives whole, read past len, keep
 * a pointer into the caller's buffer once proto_parse() has returned, or,
 * without a max_payload, reserve more for a payload than its bytes so far.
 */
#include "proto/parser.h"
#include "proto/parser_impl.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum parse_state {
    ST_START = 0, /* at a command boundary */
    ST_OP,        /* inside an op name cut by a read (bytes in op_name) */
    ST_NEED_SEP,  /* op name complete, one SP/TAB must follow */
    ST_SEP,       /* skipping SP/TAB before the argument part */
    ST_ARG,       /* copying a cut argument part into scratch */
    ST_SKIP,      /* ignoring the rest of a PING/PONG/+OK line */
    ST_PAYLOAD,   /* copying a cut payload into scratch */
    ST_FAILED,    /* a protocol error was returned; it is in p->failed */
};

/* How an op name is followed (spec §1, "Op → first arg" and "No-arg ops"). */
enum op_form {
    FORM_ARGS, /* at least one SP/TAB, then arguments: PUB, SUB, MSG, -ERR */
    FORM_BLOB, /* zero or more SP/TAB, then one text: CONNECT, INFO */
    FORM_BARE, /* everything up to LF ignored: PING, PONG, +OK */
};

#define SIDE_BIT(side) (1u << (side))
#define SIDE_SERVER SIDE_BIT(PROTO_SIDE_SERVER)
#define SIDE_CLIENT SIDE_BIT(PROTO_SIDE_CLIENT)
#define SIDE_ROUTE SIDE_BIT(PROTO_SIDE_ROUTE)
#define SIDE_ALL (SIDE_SERVER | SIDE_CLIENT | SIDE_ROUTE)
#define SIDE_COUNT 3

#define OP_NONE (-1) /* no op name starts with these bytes */
#define OP_MORE (-2) /* the bytes are a proper prefix of an op name */

/* nats-server refuses message sizes longer than this (999 MB), even "0...01". */
#define MAX_SIZE_DIGITS 9
/* A scratch buffer grown past this by a big split payload is freed after it. */
#define SCRATCH_KEEP (64 * 1024)
/* Without a max_payload, a split payload larger than this gets its buffer as
 * its bytes arrive (doubling), not all at once: a route peer may announce
 * 999 MB and then send nothing. Up to it, one exact allocation, as before. */
#define PAYLOAD_RESERVE (1024 * 1024)
#define MAX_ARGS PROTO__MAX_ARGS

typedef proto__run_fn run_fn;

struct op_def {
    char name[8];  /* upper case */
    unsigned char len;
    unsigned char sides;
    unsigned char form;
    bool payload;  /* run() fills p->pending; a payload follows the line */
    run_fn run;
};

const char proto__empty[1] = "";

static int run_connect(struct proto_parser *p, struct proto_slice arg, const struct run_ctx *rc);
static int run_info(struct proto_parser *p, struct proto_slice arg, const struct run_ctx *rc);
static int run_pub(struct proto_parser *p, struct proto_slice arg, const struct run_ctx *rc);
static int run_hpub(struct proto_parser *p, struct proto_slice arg, const struct run_ctx *rc);
static int run_msg(struct proto_parser *p, struct proto_slice arg, const struct run_ctx *rc);
static int run_hmsg(struct proto_parser *p, struct proto_slice arg, const struct run_ctx *rc);
static int run_sub(struct proto_parser *p, struct proto_slice arg, const struct run_ctx *rc);
static int run_unsub(struct proto_parser *p, struct proto_slice arg, const struct run_ctx *rc);
static int run_ping(struct proto_parser *p, struct proto_slice arg, const struct run_ctx *rc);
static int run_pong(struct proto_parser *p, struct proto_slice arg, const struct run_ctx *rc);
static int run_ok(struct proto_parser *p, struct proto_slice arg, const struct run_ctx *rc);
static int run_err(struct proto_parser *p, struct proto_slice arg, const struct run_ctx *rc);

/* The hot ops come first: lookup stops at the first full match. No name is a
 * prefix of another name of the same side, so the first match is the only one.
 * HMSG has two rows: a client's carries a sid, a route's an account. */
static const struct op_def ops[] = {
    { "PUB", 3, SIDE_SERVER, FORM_ARGS, true, run_pub },
    { "MSG", 3, SIDE_CLIENT, FORM_ARGS, true, run_msg },
    { "RMSG", 4, SIDE_ROUTE, FORM_ARGS, true, proto__run_rmsg },
    { "HPUB", 4, SIDE_SERVER, FORM_ARGS, true, run_hpub },
    { "HMSG", 4, SIDE_CLIENT, FORM_ARGS, true, run_hmsg },
    { "HMSG", 4, SIDE_ROUTE, FORM_ARGS, true, proto__run_route_hmsg },
    { "RS+", 3, SIDE_ROUTE, FORM_ARGS, false, proto__run_rs_plus },
    { "RS-", 3, SIDE_ROUTE, FORM_ARGS, false, proto__run_rs_minus },
    { "SUB", 3, SIDE_SERVER, FORM_ARGS, false, run_sub },
    { "UNSUB", 5, SIDE_SERVER, FORM_ARGS, false, run_unsub },
    { "PING", 4, SIDE_ALL, FORM_BARE, false, run_ping },
    { "PONG", 4, SIDE_ALL, FORM_BARE, false, run_pong },
    { "CONNECT", 7, SIDE_SERVER | SIDE_ROUTE, FORM_BLOB, false, run_connect },
    { "INFO", 4, SIDE_ALL, FORM_BLOB, false, run_info },
    { "+OK", 3, SIDE_ALL, FORM_BARE, false, run_ok },
    { "-ERR", 4, SIDE_ALL, FORM_ARGS, false, run_err },
};
#define NOPS (sizeof ops / sizeof ops[0])

/* ---- small helpers ---- */

int proto__fail(struct proto_parser *p, int err)
{
    p->state = ST_FAILED;
    p->failed = err;
    return err;
}

static bool is_sep(char c)
{
    return c == ' ' || c == '\t';
}

/* nats-server splits arguments on CR too (a stray CR inside a line is a
 * separator: `SUB foo\r1` subscribes sid 1), so this does the same. A table,
 * because proto__split_args asks for every byte of every control line. */
const bool proto__arg_sep[256] = { [' '] = true, ['\t'] = true, ['\r'] = true };

static char upper(char c)
{
    return (c >= 'a' && c <= 'z') ? (char)(c - 'a' + 'A') : c;
}

static struct proto_slice trim_right(struct proto_slice s)
{
    while (s.len && proto__is_arg_sep(s.ptr[s.len - 1]))
        s.len--;
    return s;
}

/* Fields of a control line (parser_impl.h). */
size_t proto__split_args(struct proto_slice arg, struct proto_slice *out)
{
    size_t n = 0, i = 0;
    while (i < arg.len) {
        while (i < arg.len && proto__is_arg_sep(arg.ptr[i]))
            i++;
        if (i == arg.len)
            break;
        size_t start = i;
        while (i < arg.len && !proto__is_arg_sep(arg.ptr[i]))
            i++;
        if (n == MAX_ARGS)
            return MAX_ARGS + 1;
        out[n++] = (struct proto_slice){ arg.ptr + start, i - start };
    }
    return n;
}

/* Case-insensitive compare of wire bytes with an upper-case name. Names are
 * at most 7 bytes: an open loop beats a call to memcmp, and this runs for
 * every command. */
static bool name_eq(const char *wire, const char *name, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (upper(wire[i]) != name[i])
            return false;
    return true;
}

/* Row of the op named by the wire bytes name[0..n), OP_MORE when they are a
 * proper prefix of a name, OP_NONE when no name of this side fits. */
static int lookup_op(enum proto_side side, const char *name, size_t n)
{
    bool more = false;
    if ((unsigned)side >= SIDE_COUNT || n == 0)
        return OP_NONE;
    char first = upper(name[0]);
    for (size_t r = 0; r < NOPS; r++) {
        const struct op_def *d = &ops[r];
        if (d->name[0] != first || !(d->sides & SIDE_BIT(side)))
            continue;
        if (n >= d->len) {
            if (name_eq(name, d->name, d->len))
                return (int)r;
        } else if (name_eq(name, d->name, n)) {
            more = true;
        }
    }
    return more ? OP_MORE : OP_NONE;
}

/* Lines grow by doubling; a split payload asks for its exact size (exact). */
static int grow_scratch(struct proto_parser *p, size_t cap, bool exact)
{
    if (cap <= p->scratch_cap)
        return 0;
    size_t want = p->scratch_cap ? p->scratch_cap : 256;
    while (want < cap)
        want = want > SIZE_MAX / 2 ? cap : want * 2;
    if (exact)
        want = cap;
    char *n = realloc(p->scratch, want);
    if (!n)
        return proto__fail(p, PROTO_E_NOMEM);
    p->scratch = n;
    p->scratch_cap = want;
    return 0;
}

/* After a command that used scratch: keep a small buffer for the next split
 * line, but do not let one big split payload pin its memory for the life of
 * the connection. */
static void reset_scratch(struct proto_parser *p)
{
    p->scratch_len = 0;
    p->arg_len = 0;
    if (p->scratch_cap > SCRATCH_KEEP) {
        free(p->scratch);
        p->scratch = NULL;
        p->scratch_cap = 0;
    }
}

/* ---- public small functions ---- */

const char *proto_strerror(int err)
{
    switch (err) {
    case PROTO_E_UNKNOWN_OP:
        return "Unknown Protocol Operation";
    case PROTO_E_CONTROL_LINE:
        return "maximum control line exceeded"; /* lower case, spec §14.1 */
    case PROTO_E_MAX_PAYLOAD:
        return "Maximum Payload Violation";
    case PROTO_E_AUTH:
        return "Authorization Violation";
    default:
        return NULL; /* BAD_ARGS, CLIENT_ERR, NOMEM: silent close */
    }
}

int64_t proto_parse_size(const char *s, size_t len)
{
    int64_t v = 0;
    if (len == 0)
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        int d = s[i] - '0';
        if (v > (INT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    return v;
}

size_t proto_put_size(char *dst, uint64_t v)
{
    char tmp[20];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++)
        dst[i] = tmp[n - 1 - i];
    return n;
}

void proto_parser_init(struct proto_parser *p, enum proto_side side)
{
    memset(p, 0, sizeof *p);
    p->side = side;
    p->state = ST_START;
    if (side == PROTO_SIDE_SERVER) {
        p->max_control_line = 4096;
        p->max_payload = 1048576;
    } else { /* client; route: no limits, cluster-protocol.md §1 */
        p->max_control_line = 0;
        p->max_payload = -1;
    }
}

void proto_parser_free(struct proto_parser *p)
{
    free(p->scratch);
    p->scratch = NULL;
    p->scratch_cap = 0;
    p->scratch_len = 0;
}

size_t proto_parse_consumed(const struct proto_parser *p)
{
    return p->consumed;
}

bool proto_next_field(struct proto_slice *rest, struct proto_slice *field)
{
    size_t i = 0, n = rest->len;
    while (i < n && proto__is_arg_sep(rest->ptr[i]))
        i++;
    size_t start = i;
    while (i < n && !proto__is_arg_sep(rest->ptr[i]))
        i++;
    *field = (struct proto_slice){ rest->ptr + start, i - start };
    *rest = (struct proto_slice){ rest->ptr + i, n - i };
    return field->len > 0;
}

/* ---- per-op argument checks (spec §4-§8) ---- */

static int run_connect(struct proto_parser *p, struct proto_slice arg, const struct run_ctx *rc)
{
    (void)p;
    return rc->h->on_connect ? rc->h->on_connect(rc->ctx, trim_right(arg)) : 0;
}

static int run_info(struct proto_parser *p, struct proto_slice arg, const struct run_ctx *rc)
{
    (void)p;
    return rc->h->on_info ? rc->h->on_info(rc->ctx, trim_right(arg)) : 0;
}

static int run_ping(struct proto_parser *p, struct proto_slice arg, const struct run_ctx *rc)
{
    (void)p, (void)arg;
    return rc->h->on_ping ? rc->h->on_ping(rc->ctx) : 0;
}

static int run_pong(struct proto_parser *p, struct proto_slice arg, const struct run_ctx *rc)
{
    (void)p, (void)arg;
    return rc->h->on_pong ? rc->h->on_pong(rc->ctx) : 0;
}

static int run_ok(struct proto_parser *p, struct proto_slice arg, const struct run_ctx *rc)
{
    (void)p, (void)arg;
    return rc->h->on_ok ? rc->h->on_ok(rc->ctx) : 0;
}

/* A client's -ERR closes its connection with reason "Parse Error" (spec §1):
 * the parser fails even when the handler stopped it first. From a server it
 * is news for the client's error callback; from a route peer it is logged
 * and the route goes on (cluster-protocol.md §1). */
static int run_err(struct proto_parser *p, struct proto_slice arg, const struct run_ctx *rc)
{
    int r = rc->h->on_err ? rc->h->on_err(rc->ctx, trim_right(arg)) : 0;
    if (p->side == PROTO_SIDE_SERVER) {
        proto__fail(p, PROTO_E_CLIENT_ERR);
        return r ? r : PROTO_E_CLIENT_ERR;
    }
    return r;
}

static int run_sub(struct proto_parser *p, struct proto_slice arg, const struct run_ctx *rc)
{
    struct proto_slice a[MAX_ARGS];
    size_t n = proto__split_args(arg, a);
    if (n != 2 && n != 3)
        return proto__fail(p, PROTO_E_BAD_ARGS); /* spec §7.1: silent close */
    struct proto_slice queue = n == 3 ? a[1] : proto__none();
    return rc->h->on_sub ? rc->h->on_sub(rc->ctx, a[0], queue, a[n - 1]) : 0;
}

static int run_unsub(struct proto_parser *p, struct proto_slice arg, const struct run_ctx *rc)
{
    struct proto_slice a[MAX_ARGS];
    size_t n = proto__split_args(arg, a);
    if (n != 1 && n != 2)
        return proto__fail(p, PROTO_E_BAD_ARGS); /* spec §7.2 */
    struct proto_slice max = n == 2 ? a[1] : proto__none();
    return rc->h->on_unsub ? rc->h->on_unsub(rc->ctx, a[0], max) : 0;
}

/* Nine digits cannot overflow, so this needs none of proto_parse_size's
 * overflow checks: it runs for every message. */
static int64_t msg_size(struct proto_slice s)
{
    int64_t v = 0;
    if (s.len == 0 || s.len > MAX_SIZE_DIGITS)
        return -1;
    for (size_t i = 0; i < s.len; i++) {
        unsigned d = (unsigned)(unsigned char)s.ptr[i] - '0';
        if (d > 9)
            return -1;
        v = v * 10 + d;
    }
    return v;
}

/* Check the sizes of p->pending (spec §5, §6): a bad size or a header block
 * larger than the total closes silently; a total over the limit is reported,
 * and is checked here, before any payload byte is read. */
int proto__check_sizes(struct proto_parser *p)
{
    struct proto_msg *m = &p->pending;
    int64_t hdr = m->has_headers ? msg_size(m->hdr_arg) : 0;
    int64_t total = msg_size(m->size_arg);
    if (hdr < 0 || total < 0 || hdr > total)
        return proto__fail(p, PROTO_E_BAD_ARGS);
    if (p->max_payload >= 0 && total > p->max_payload)
        return proto__fail(p, PROTO_E_MAX_PAYLOAD);
    m->hdr_len = (size_t)hdr;
    m->total_len = (size_t)total;
    return 0;
}

void proto__clear_pending(struct proto_msg *m, bool has_headers)
{
    m->subject = m->reply = m->sid = m->size_arg = m->hdr_arg = proto__none();
    m->account = m->queues = proto__none();
    m->reply_indicator = 0;
    m->hdr_len = m->total_len = 0;
    m->has_headers = has_headers;
    m->data = proto__empty;
}

/* PUB <subject> [reply] <size> */
static int run_pub(struct proto_parser *p, struct proto_slice arg, const struct run_ctx *rc)
{
    struct proto_msg *m = &p->pending;
    struct proto_slice a[MAX_ARGS];
    size_t n = proto__split_args(arg, a);
    (void)rc;
    if (n != 2 && n != 3)
        return proto__fail(p, PROTO_E_BAD_ARGS);
    proto__clear_pending(m, false);
    m->subject = a[0];
    if (n == 3)
        m->reply = a[1];
    m->size_arg = a[n - 1];
    return proto__check_sizes(p);
}

/* HPUB <subject> [reply] <hdr size> <total size> */
static int run_hpub(struct proto_parser *p, struct proto_slice arg, const struct run_ctx *rc)
{
    struct proto_msg *m = &p->pending;
    struct proto_slice a[MAX_ARGS];
    size_t n = proto__split_args(arg, a);
    (void)rc;
    if (n != 3 && n != 4)
        return proto__fail(p, PROTO_E_BAD_ARGS);
    proto__clear_pending(m, true);
    m->subject = a[0];
    if (n == 4)
        m->reply = a[1];
    m->hdr_arg = a[n - 2];
    m->size_arg = a[n - 1];
    return proto__check_sizes(p);
}

/* MSG <subject> <sid> [reply] <size> */
static int run_msg(struct proto_parser *p, struct proto_slice arg, const struct run_ctx *rc)
{
    struct proto_msg *m = &p->pending;
    struct proto_slice a[MAX_ARGS];
    size_t n = proto__split_args(arg, a);
    (void)rc;
    if (n != 3 && n != 4)
        return proto__fail(p, PROTO_E_BAD_ARGS);
    proto__clear_pending(m, false);
    m->subject = a[0];
    m->sid = a[1];
    if (n == 4)
        m->reply = a[2];
    m->size_arg = a[n - 1];
    return proto__check_sizes(p);
}

/* HMSG <subject> <sid> [reply] <hdr size> <total size> */
static int run_hmsg(struct proto_parser *p, struct proto_slice arg, const struct run_ctx *rc)
{
    struct proto_msg *m = &p->pending;
    struct proto_slice a[MAX_ARGS];
    size_t n = proto__split_args(arg, a);
    (void)rc;
    if (n != 4 && n != 5)
        return proto__fail(p, PROTO_E_BAD_ARGS);
    proto__clear_pending(m, true);
    m->subject = a[0];
    m->sid = a[1];
    if (n == 5)
        m->reply = a[2];
    m->hdr_arg = a[n - 2];
    m->size_arg = a[n - 1];
    return proto__check_sizes(p);
}

/* ---- the line and payload machinery ---- */

/*
 * Walk the op name and the separators after it in s[0..n) (no LF inside),
 * moving p->state from ST_OP to ST_ARG/ST_SKIP. *used is where the argument
 * part starts (or n). The same walk serves whole and cut lines, so a command
 * parses alike whatever the read boundaries were.
 */
static int scan_head(struct proto_parser *p, const char *s, size_t n, size_t *used)
{
    size_t i = 0;
    while (i < n) {
        switch (p->state) {
        case ST_OP: {
            size_t take = sizeof p->op_name - p->op_len;
            if (take > n - i)
                take = n - i;
            const char *name = s + i;
            if (p->op_len) { /* the name was cut: join its parts */
                memcpy(p->op_name + p->op_len, s + i, take);
                name = p->op_name;
            }
            int r = lookup_op(p->side, name, p->op_len + take);
            if (r == OP_NONE)
                return proto__fail(p, PROTO_E_UNKNOWN_OP);
            if (r == OP_MORE) {
                if (!p->op_len)
                    memcpy(p->op_name, s + i, take);
                p->op_len = (unsigned char)(p->op_len + take);
                i += take;
                break;
            }
            i += ops[r].len - p->op_len;
            p->op_len = ops[r].len;
            p->op = r;
            p->state = ops[r].form == FORM_BARE ? ST_SKIP
                     : ops[r].form == FORM_ARGS ? ST_NEED_SEP : ST_SEP;
            break;
        }
        case ST_NEED_SEP:
            if (!is_sep(s[i]))
                return proto__fail(p, PROTO_E_UNKNOWN_OP); /* `PUBfoo`, `UNSUB\r\n` */
            i++;
            p->state = ST_SEP;
            break;
        case ST_SEP:
            while (i < n && is_sep(s[i]))
                i++;
            if (i < n)
                p->state = ST_ARG;
            break;
        default: /* ST_ARG, ST_SKIP: the rest is not ours to walk */
            *used = i;
            return 0;
        }
    }
    *used = i;
    return 0;
}

/* max_control_line counts the argument part only (spec §1). */
static bool over_limit(const struct proto_parser *p, size_t arg_len)
{
    return p->max_control_line && arg_len > p->max_control_line;
}

/* The payload of p->pending is d[0..total+2): check its CRLF (spec §1
 * "Payload end") and hand the message over. */
static int deliver(struct proto_parser *p, const char *d, const struct run_ctx *rc)
{
    struct proto_msg *m = &p->pending;
    if (d[m->total_len] != '\r' || d[m->total_len + 1] != '\n')
        return proto__fail(p, PROTO_E_UNKNOWN_OP);
    m->data = d;
    p->state = ST_START;
    int r = rc->h->on_msg ? rc->h->on_msg(rc->ctx, m) : 0;
    if (p->scratch_len) /* after the handler: its slices may point there */
        reset_scratch(p);
    return r;
}

#define NSLICES 7 /* the slices of a struct proto_msg that view its line */

static void msg_slices(struct proto_msg *m, struct proto_slice **sl)
{
    sl[0] = &m->subject, sl[1] = &m->reply, sl[2] = &m->sid, sl[3] = &m->size_arg;
    sl[4] = &m->hdr_arg, sl[5] = &m->account, sl[6] = &m->queues;
}

/* Offsets from base of the slices of p->pending, so they survive a move of
 * the bytes they view (into scratch, or scratch's own realloc). */
static void slice_offsets(struct proto_msg *m, const char *base, size_t *off)
{
    struct proto_slice *sl[NSLICES];
    msg_slices(m, sl);
    for (size_t k = 0; k < NSLICES; k++)
        off[k] = sl[k]->len ? (size_t)(sl[k]->ptr - base) : 0;
}

static void slice_rebase(struct proto_msg *m, const char *base, const size_t *off)
{
    struct proto_slice *sl[NSLICES];
    msg_slices(m, sl);
    for (size_t k = 0; k < NSLICES; k++)
        if (sl[k]->len)
            sl[k]->ptr = base + off[k];
}

/*
 * Room in scratch for upto bytes of a split message: its arguments
 * (p->arg_len), then its payload and CRLF. With a max_payload the size was
 * checked, so the whole is reserved at once, the cheapest; without one, a
 * payload over PAYLOAD_RESERVE gets room doubling from that, never past its
 * full size, so memory follows the bytes really sent. With rebase, the
 * slices of p->pending already view scratch and move with it.
 */
static int payload_room(struct proto_parser *p, size_t upto, bool rebase)
{
    size_t full = p->arg_len + p->pending.total_len + 2;
    size_t cap = full, off[NSLICES];
    if (upto <= p->scratch_cap)
        return 0;
    if (p->max_payload < 0 && p->pending.total_len + 2 > PAYLOAD_RESERVE) {
        cap = p->arg_len + PAYLOAD_RESERVE;
        if (cap < p->scratch_cap)
            cap = p->scratch_cap;
        while (cap < upto)
            cap = cap > full / 2 ? full : cap * 2;
    }
    if (rebase)
        slice_offsets(&p->pending, p->scratch, off);
    int r = grow_scratch(p, cap, true);
    if (r)
        return r;
    if (rebase)
        slice_rebase(&p->pending, p->scratch, off);
    return 0;
}

/*
 * The payload was cut by the end of the read: move the arguments (arg, in
 * the caller's buffer or already at the start of scratch) and the avail
 * payload bytes at d into scratch, and repoint the slices of p->pending there.
 */
static int stash_payload(struct proto_parser *p, struct proto_slice arg, const char *d,
                         size_t avail)
{
    struct proto_msg *m = &p->pending;
    size_t off[NSLICES];
    if (m->total_len > SIZE_MAX - 2 - arg.len)
        return proto__fail(p, PROTO_E_NOMEM);
    size_t want = m->total_len + 2;
    bool args_in_scratch = p->scratch && arg.ptr == p->scratch;
    slice_offsets(m, arg.ptr, off);
    p->arg_len = arg.len;
    int r = payload_room(p, arg.len + avail, false);
    if (r)
        return r;
    if (!args_in_scratch)
        memcpy(p->scratch, arg.ptr, arg.len);
    slice_rebase(m, p->scratch, off);
    memcpy(p->scratch + arg.len, d, avail);
    p->scratch_len = arg.len + avail;
    p->need = want - avail;
    p->state = ST_PAYLOAD;
    return 0;
}

/* The control line of p->pending is done and its payload starts at buf[*pos]:
 * zero copy when all of it is there, else keep what we have. */
static int start_payload(struct proto_parser *p, struct proto_slice arg, const char *buf,
                         size_t len, size_t *pos, const struct run_ctx *rc)
{
    size_t want = p->pending.total_len + 2;
    size_t avail = len - *pos;
    const char *d = buf + *pos;
    if (avail >= want) {
        *pos += want;
        return deliver(p, d, rc);
    }
    *pos = len;
    return stash_payload(p, arg, d, avail);
}

/* More bytes of a stashed payload. */
static int copy_payload(struct proto_parser *p, const char *buf, size_t len, size_t *pos,
                        const struct run_ctx *rc)
{
    size_t take = len - *pos < p->need ? len - *pos : p->need;
    int r = payload_room(p, p->scratch_len + take, true);
    if (r)
        return r;
    memcpy(p->scratch + p->scratch_len, buf + *pos, take);
    p->scratch_len += take;
    p->need -= take;
    *pos += take;
    if (p->need)
        return 0;
    return deliver(p, p->scratch + p->arg_len, rc);
}

/* A control line is complete; arg is its argument part without CR. */
static int end_line(struct proto_parser *p, struct proto_slice arg, const char *buf, size_t len,
                    size_t *pos, const struct run_ctx *rc)
{
    const struct op_def *d;
    int r;
    switch (p->state) {
    case ST_OP:
    case ST_NEED_SEP:
        return proto__fail(p, PROTO_E_UNKNOWN_OP); /* line ended inside the op name */
    case ST_SKIP:
        p->state = ST_START;
        reset_scratch(p);
        return ops[p->op].run(p, proto__none(), rc);
    default:
        break;
    }
    if (over_limit(p, arg.len))
        return proto__fail(p, PROTO_E_CONTROL_LINE);
    d = &ops[p->op];
    p->state = ST_START;
    r = d->run(p, arg, rc);
    if (r || !d->payload) {
        if (p->state == ST_START && p->scratch_len)
            reset_scratch(p);
        return r;
    }
    return start_payload(p, arg, buf, len, pos, rc);
}

/* Append a cut argument part; refuse it as soon as it is over the limit, so a
 * client cannot make us buffer an endless line (spec §1). A CR at the very
 * end is not counted: it may be the CR of CRLF. */
static int keep_arg(struct proto_parser *p, const char *s, size_t n)
{
    if (n == 0)
        return 0;
    size_t counted = p->scratch_len + n - (s[n - 1] == '\r');
    if (over_limit(p, counted))
        return proto__fail(p, PROTO_E_CONTROL_LINE);
    if (n > SIZE_MAX - p->scratch_len)
        return proto__fail(p, PROTO_E_NOMEM);
    int r = grow_scratch(p, p->scratch_len + n, false);
    if (r)
        return r;
    memcpy(p->scratch + p->scratch_len, s, n);
    p->scratch_len += n;
    return 0;
}

/* Bytes s[0..n) of a control line whose LF has not been seen yet. */
static int feed_cut_line(struct proto_parser *p, const char *s, size_t n)
{
    size_t used;
    int r = scan_head(p, s, n, &used);
    if (r)
        return r;
    if (p->state == ST_ARG)
        return keep_arg(p, s + used, n - used);
    return 0;
}

/* Continue a control line cut by an earlier read. */
static int continue_line(struct proto_parser *p, const char *buf, size_t len, size_t *pos,
                         const struct run_ctx *rc)
{
    const char *s = buf + *pos;
    const char *nl = memchr(s, '\n', len - *pos);
    size_t chunk = nl ? (size_t)(nl - s) : len - *pos;
    int r = feed_cut_line(p, s, chunk);
    if (r)
        return r;
    *pos += chunk;
    if (!nl)
        return 0;
    *pos += 1;
    struct proto_slice arg = proto__none();
    if (p->state == ST_ARG) {
        arg = (struct proto_slice){ p->scratch, p->scratch_len };
        if (arg.len && arg.ptr[arg.len - 1] == '\r')
            arg.len--;
    }
    return end_line(p, arg, buf, len, pos, rc);
}

/* First byte of a command at buf[*pos]. */
static int start_command(struct proto_parser *p, const char *buf, size_t len, size_t *pos,
                         const struct run_ctx *rc)
{
    const char *s = buf + *pos;
    size_t n = len - *pos;
    /* Awaiting auth, only CONNECT may come (spec §1.1); the flag is read per
     * command because on_connect clears it. */
    if (p->require_connect && s[0] != 'C' && s[0] != 'c')
        return proto__fail(p, PROTO_E_AUTH);
    p->state = ST_OP;
    p->op_len = 0;
    p->scratch_len = 0;
    p->arg_len = 0;

    const char *nl = memchr(s, '\n', n);
    if (!nl) {
        *pos = len;
        return feed_cut_line(p, s, n);
    }
    size_t line = (size_t)(nl - s);
    *pos += line + 1;
    if (line && s[line - 1] == '\r')
        line--;
    size_t used;
    int r = scan_head(p, s, line, &used);
    if (r)
        return r;
    struct proto_slice arg = { s + used, line - used };
    return end_line(p, arg, buf, len, pos, rc);
}

int proto_parse(struct proto_parser *p, const char *buf, size_t len,
                const struct proto_handlers *h, void *ctx)
{
    static const struct proto_handlers no_handlers;
    const struct run_ctx rc = { h ? h : &no_handlers, ctx };
    size_t pos = 0;
    int r = 0;

    p->consumed = 0;
    if (p->state == ST_FAILED)
        return p->failed;
    while (pos < len && r == 0) {
        switch (p->state) {
        case ST_START:
            r = start_command(p, buf, len, &pos, &rc);
            break;
        case ST_PAYLOAD:
            r = copy_payload(p, buf, len, &pos, &rc);
            break;
        default:
            r = continue_line(p, buf, len, &pos, &rc);
            break;
        }
    }
    p->consumed = pos;
    return r;
}
