/*
 * server/jetstream/js_republish.c — republish: a stream whose config has
 * "republish": {src, dest, headers_only} sends a copy of every message it
 * stores to dest, with src's wildcards mapped in (proto/submap.h) and
 * nats-server 2.9's headers added after the message's own: Nats-Stream,
 * Nats-Subject, Nats-Sequence, Nats-Last-Sequence (the last sequence on the
 * same subject before it) and, with headers_only, Nats-Msg-Size and no
 * body (spec/jetstream.md §5.1).
 *
 * Who sends, and when. The copy is a side effect, so it never happens in
 * the apply (js_fsm.h): the apply only says, in the result, that a message
 * was stored on such a stream (a client's, or a copy its sources stored
 * inside another command's apply) and what came before it on its subject; the
 * proposer (js_propose.c) queues the copy here when this node is the one
 * that republishes, and sends the queue when the message is durable. One
 * node: the serving one, after the group commit's fdatasync, just before
 * the PubAcks (a stream whose sync failed drops its copies as its PubAcks
 * turn into errors). Clustered: only the raft leader, for the entries it
 * applies as leader (cluster/jsraft.h), right after each entry, which is
 * committed on a majority by then; followers apply the same entries and
 * send nothing, so a message is republished once, not once per replica.
 *
 * Around a change of leader: at least once, not exactly once. A new
 * leader republishes every entry it commits itself, which includes the
 * tail of the old leader's term; and, on taking over, once more what it
 * applied as a follower in the last 250 ms before (read back from its
 * store), since the old leader may have died between queueing those copies
 * and writing them out, after this node learned they were committed. So a
 * message stored around a leader change may be republished twice (same
 * Nats-Stream and Nats-Sequence: subscribers can tell); one is lost only
 * if the dead leader held its copy unsent for longer than that window, or
 * if the message was removed (limits, purge) before the new leader took
 * over. A follower forgets what it remembered once the leader shows it
 * was still running well after (its lease probes), so a takeover after a
 * quiet spell sends nothing again. A restart replaying its log
 * republishes nothing: those entries were republished when first applied
 * (or, an old tail that no leader had committed before the restart, not
 * at all). nats-server 2.9 republishes from the stream leader as it
 * applies, and promises nothing either.
 *
 * Copies wait in one list in struct js, each in one allocation (subject,
 * headers, body). Runs only on the JetStream loop.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/parser.h"
#include "proto/subject.h"
#include "proto/submap.h"
#include "server/jetstream/js_internal.h"
#include "server/jetstream/jtext.h"
#include "server/log.h"

/* One copy waiting to be sent. Owned by struct js's list. */
struct js_repub {
    struct js_repub *next;
    uint64_t stream_id;
    size_t slen, hlen, dlen;
    char bytes[];           /* subject, then headers, then body */
};

int js_republish_open(struct js_stream *st)
{
    char *src = NULL, *dest = NULL;
    int rc = js_stream_config_republish(&st->cfg, &src, &dest, &st->repub_headers_only);
    if (rc == -ENOENT)
        return 0;
    if (rc == 0 && (rc = submap_compile(src, dest, &st->repub)) == -EINVAL) {
        LOG_ERROR("JetStream: stream '%s': republish %s -> %s does not compile; nothing "
                  "will be republished",
                  st->cfg.name, src, dest);
        rc = 0;
    }
    free(src);
    free(dest);
    return rc;
}

void js_republish_close(struct js_stream *st)
{
    submap_free(st->repub);
    st->repub = NULL;
}

/* "Key: value\r\n" appended to a header block under construction. */
static void hdr_line(struct jtext *h, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void hdr_line(struct jtext *h, const char *key, const char *fmt, ...)
{
    char v[64];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v, sizeof v, fmt, ap);
    va_end(ap);
    jtext_printf(h, "%s: %s\r\n", key, v);
}

/* Build the copy of message seq (subject, headers, body as stored) and
 * queue it; nothing when the subject is not under the republish source. */
static void queue_copy(struct js_stream *st, const char *subj, size_t slen, const char *hdr,
                       size_t hlen, const char *data, size_t dlen, uint64_t seq, uint64_t last)
{
    struct js *js = st->js;
    char *dest = NULL;
    size_t destlen = 0;
    int rc = st->repub ? submap_apply(st->repub, subj, slen, &dest, &destlen) : -ENOENT;
    if (rc == -ENOENT)
        return; /* not under src */
    if (rc == 0 && !subject_valid_literal(dest, destlen))
        rc = -EINVAL; /* e.g. a split that left an empty token: nobody can hear it */
    if (rc < 0) {
        /* A mapping that fails for one subject may fail for every message:
         * warn once per stream, then at debug level. */
        const char *why = rc == -ENOMEM ? "out of memory"
                                        : "its subject does not map to a valid one";
        if (!st->repub_warned)
            LOG_WARN("JetStream: stream '%s': message %" PRIu64 " not republished: %s (more "
                     "such at debug level)",
                     st->cfg.name, seq, why);
        else
            LOG_DEBUG("JetStream: stream '%s': message %" PRIu64 " not republished: %s",
                      st->cfg.name, seq, why);
        st->repub_warned = true;
        free(dest);
        return;
    }
    /* The message's own header block without its closing blank line (as
     * Go's genHeader cuts the last CRLF), or a fresh status line. */
    struct jtext h = { 0 };
    if (hlen > 2)
        jtext_add(&h, hdr, hlen - 2);
    else
        jtext_str(&h, "NATS/1.0\r\n");
    jtext_str(&h, "Nats-Stream: ");
    jtext_str(&h, st->cfg.name);
    jtext_str(&h, "\r\nNats-Subject: ");
    jtext_add(&h, subj, slen);
    jtext_str(&h, "\r\n");
    hdr_line(&h, "Nats-Sequence", "%" PRIu64, seq);
    hdr_line(&h, "Nats-Last-Sequence", "%" PRIu64, last);
    if (st->repub_headers_only)
        hdr_line(&h, "Nats-Msg-Size", "%zu", dlen);
    jtext_str(&h, "\r\n");
    size_t body = st->repub_headers_only ? 0 : dlen;
    struct js_repub *e = h.failed ? NULL : malloc(sizeof *e + destlen + h.b.len + body);
    if (!e) {
        LOG_ERROR("JetStream: stream '%s': message %" PRIu64 " not republished: out of memory",
                  st->cfg.name, seq);
        jtext_free(&h);
        free(dest);
        return;
    }
    *e = (struct js_repub){ .stream_id = st->id, .slen = destlen, .hlen = h.b.len, .dlen = body };
    memcpy(e->bytes, dest, destlen);
    memcpy(e->bytes + destlen, h.b.data, h.b.len);
    if (body)
        memcpy(e->bytes + destlen + h.b.len, data, body);
    jtext_free(&h);
    free(dest);
    if (js->repub_tail)
        js->repub_tail->next = e;
    else
        js->repub_head = e;
    js->repub_tail = e;
}

void js_republish_queue(struct js_stream *st, const struct jscmd_publish *p,
                        const struct js_result *res)
{
    queue_copy(st, p->subject.ptr, p->subject.len, p->hdr.ptr, p->hdr.len,
               p->data.ptr ? p->data.ptr : "", p->data.len, res->seq, res->last_subj_seq);
}

void js_republish_queue_stored(struct js_stream *st, const struct js_result *res)
{
    struct store_msg m = { 0 };
    if (store_load(st->store, res->seq, &m) == 0)
        queue_copy(st, m.subject, m.subject_len, m.hdr, m.hdr_len, m.data ? m.data : "",
                   m.data_len, res->seq, res->last_subj_seq);
    store_msg_free(&m);
}

/* ---- taking over from a leader that died ---- */

/* How far back a new leader republishes again what it applied as a
 * follower. Such an entry was applied, and its copy queued, by the old
 * leader before this node could learn it was committed; the copy is lost
 * only if the old leader died before writing it out, which takes it
 * microseconds and, on a loaded machine, a few milliseconds. 250 ms covers
 * that with room, and costs, at a leader change, duplicates of at most
 * the last 250 ms of messages. */
#define TAKEOVER_NS (250 * INT64_C(1000000))
/* Entries remembered at most (oldest dropped first): past 262,000
 * republished messages a second the window is shorter than 250 ms. */
#define RECENT_MAX 65536

/* A follower's recently applied republishable message. */
struct recent {
    uint64_t stream_id, seq, last;
    int64_t at;                /* when this node applied it (env clock) */
};

/* Owned by struct js (js->repub_recent): a ring, oldest first, grown by
 * doubling up to RECENT_MAX. */
struct js_repub_recent {
    struct recent *v;          /* owned */
    size_t head, n, cap;
};

static struct recent *recent_at(const struct js_repub_recent *r, size_t i)
{
    return &r->v[(r->head + i) % r->cap];
}

/* Room for one more: the ring grows (its entries laid out from 0 again)
 * or, at its largest, drops its oldest. */
static void recent_room(struct js_repub_recent *r)
{
    if (r->n < r->cap)
        return;
    size_t cap = r->cap ? r->cap * 2 : 256;
    struct recent *v = cap <= RECENT_MAX ? malloc(cap * sizeof *v) : NULL;
    if (!v) {
        if (r->n) { /* full at its largest (or no memory): the oldest goes */
            r->head = (r->head + 1) % r->cap;
            r->n--;
        }
        return;
    }
    for (size_t i = 0; i < r->n; i++)
        v[i] = *recent_at(r, i);
    free(r->v);
    r->v = v;
    r->cap = cap;
    r->head = 0;
}

void js_republish_remember(struct js_stream *st, const struct js_result *res)
{
    struct js *js = st->js;
    if (!js->env.now || !st->repub)
        return; /* a replica without a clock (tests), or nothing to send */
    struct js_repub_recent *r = js->repub_recent;
    if (!r && !(r = js->repub_recent = calloc(1, sizeof *r)))
        return; /* best effort: a takeover then sends only what it commits */
    int64_t now = js_clock(js);
    while (r->n && now - recent_at(r, 0)->at > TAKEOVER_NS) {
        r->head = (r->head + 1) % r->cap;
        r->n--;
    }
    recent_room(r);
    if (r->n == r->cap)
        return; /* no memory for the first slots either */
    r->n++;
    *recent_at(r, r->n - 1) = (struct recent){
        .stream_id = st->id, .seq = res->seq, .last = res->last_subj_seq, .at = now };
}

void js_republish_leader_alive(struct js *js)
{
    struct js_repub_recent *r = js->repub_recent;
    /* A leader still running a window after it queued the last copy has
     * written them out: nothing remembered is at risk any more. */
    if (r && r->n && js_clock(js) - recent_at(r, r->n - 1)->at > TAKEOVER_NS)
        r->head = r->n = 0;
}

void js_republish_takeover(struct js *js)
{
    struct js_repub_recent *r = js->repub_recent;
    if (!r || !r->n)
        return;
    /* The window ends at the last entry this node applied as a follower,
     * which is when it last heard from the old leader. */
    int64_t newest = recent_at(r, r->n - 1)->at;
    struct store_msg m = { 0 };
    size_t sent = 0;
    for (size_t i = 0; i < r->n; i++) {
        const struct recent *e = recent_at(r, i);
        struct js_stream *st = newest - e->at <= TAKEOVER_NS ? js_stream_by_id(js, e->stream_id)
                                                             : NULL;
        /* Gone since (a limit, a purge, a deleted stream): nothing left to
         * send, and none of nats-server's copies would carry it either. */
        if (!st || store_load(st->store, e->seq, &m) < 0)
            continue;
        queue_copy(st, m.subject, m.subject_len, m.hdr, m.hdr_len, m.data ? m.data : "",
                   m.data_len, e->seq, e->last);
        sent++;
    }
    store_msg_free(&m);
    r->head = r->n = 0;
    if (sent)
        LOG_INFO("JetStream: taking over, %zu message(s) republished again (the last leader "
                 "may have died before sending them)",
                 sent);
    js_republish_send(js, 0);
}

/* Take out of the list every copy of stream_id (0: all), calling send or
 * not; the others keep their order. */
static void take(struct js *js, uint64_t stream_id, bool send)
{
    struct js_repub **pp = &js->repub_head, *last = NULL;
    while (*pp) {
        struct js_repub *e = *pp;
        if (stream_id && e->stream_id != stream_id) {
            last = e;
            pp = &e->next;
            continue;
        }
        *pp = e->next;
        if (send && js->env.publish) {
            struct proto_msg m = {
                .subject = { e->bytes, e->slen },
                .hdr_len = e->hlen,
                .total_len = e->hlen + e->dlen,
                .has_headers = true,
                .data = e->bytes + e->slen,
            };
            js->env.publish(js->env.arg, &m, NULL, 0);
        }
        free(e);
    }
    js->repub_tail = last;
}

void js_republish_send(struct js *js, uint64_t stream_id)
{
    take(js, stream_id, true);
}

void js_republish_drop(struct js *js, uint64_t stream_id)
{
    take(js, stream_id, false);
}

void js_republish_fini(struct js *js)
{
    take(js, 0, false);
    if (js->repub_recent)
        free(js->repub_recent->v);
    free(js->repub_recent);
    js->repub_recent = NULL;
}
