/*
 * server/jetstream/js_publish.c — the apply side of PUBLISH: the stream's
 * subject transform (2.10) first, the checks of spec/jetstream.md §6 in
 * nats-server 2.9's order, the append, and what follows it (dedupe table,
 * rollup, interest retention, discard-old limits, the copies its mirrors
 * and sourcing streams take: js_mirror.h, js_source.h); and the dedupe
 * table itself.
 *
 * Everything here is part of js_fsm_apply and keeps its contract
 * (js_fsm.h): the message's time, its Nats-Msg-Id, expected values and
 * rollup mode, and the account's storage limit all come from the command,
 * which the proposer (js_propose.c) built from the NATS headers and the
 * node's options. Outcomes go in the result; the PubAck is rendered from it
 * later, after the group commit, and so is a republished copy
 * (js_republish.c: the result says the message was stored on a stream
 * with republish, and what came before it on its subject). Runs only on
 * the JetStream loop.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "proto/subject.h"
#include "proto/submap.h"
#include "server/jetstream/js_consumer.h"
#include "server/jetstream/js_internal.h"
#include "server/jetstream/js_mirror.h"
#include "server/jetstream/js_source.h"
#include "server/log.h"

/* ---- the dedupe window (Nats-Msg-Id → sequence) ---- */

void js_msgid_expire(struct js_stream *st, int64_t now)
{
    int64_t window = st->cfg.duplicate_window;
    while (st->msgid_head && (window <= 0 || now - st->msgid_head->ts > window)) {
        struct js_msgid *e = st->msgid_head;
        st->msgid_head = e->next;
        if (!st->msgid_head)
            st->msgid_tail = NULL;
        kmap_del(&st->msgids, &e->key);
        free(e);
    }
}

struct js_msgid *js_msgid_find(struct js_stream *st, const char *id, size_t len)
{
    uint64_t h = kmap_hash(0, id, len);
    struct kmap_key *k = kmap_find(&st->msgids, h, id, len);
    return k ? (struct js_msgid *)((char *)k - offsetof(struct js_msgid, key)) : NULL;
}

int js_msgid_add(struct js_stream *st, const char *id, size_t len, uint64_t seq, int64_t ts)
{
    if (js_msgid_find(st, id, len))
        return -EEXIST;
    struct js_msgid *e = malloc(sizeof *e + len);
    if (!e)
        return -ENOMEM; /* publish: dedupe is best effort under memory pressure */
    memcpy(e + 1, id, len);
    e->key.bytes = (const char *)(e + 1);
    e->key.len = len;
    e->key.hash = kmap_hash(0, id, len);
    e->seq = seq;
    e->ts = ts;
    e->next = NULL;
    if (kmap_add(&st->msgids, &e->key) < 0) {
        free(e);
        return -ENOMEM;
    }
    if (st->msgid_tail)
        st->msgid_tail->next = e;
    else
        st->msgid_head = e;
    st->msgid_tail = e;
    return 0;
}

void js_msgid_set_last(struct js_stream *st, const char *id, size_t len)
{
    free(st->last_msg_id);
    st->last_msg_id = id ? strndup(id, len) : NULL;
}

/* ---- checks ---- */

static bool bytes_is(struct jscmd_bytes b, const char *s)
{
    return b.len == strlen(s) && (b.len == 0 || memcmp(b.ptr, s, b.len) == 0);
}

/* The last sequence on the subject Nats-Expected-Last-Subject-Sequence
 * is checked against: the message's own, or the one
 * Nats-Expected-Last-Subject-Sequence-Subject names (nats-server 2.11; it
 * may be a wildcard: the newest message it matches). 0 when none. */
static uint64_t last_on_subject(struct js_stream *st, const struct jscmd_publish *p)
{
    const struct jscmd_bytes *on = p->exp_last_subj_seq_subj.ptr ? &p->exp_last_subj_seq_subj
                                                                 : &p->subject;
    if (!subject_has_wildcard(on->ptr, on->len)) {
        struct store_subject_state ss;
        store_subject_state(st->store, on->ptr, on->len, &ss);
        return ss.last_seq;
    }
    struct store_msg m = { 0 };
    uint64_t last = store_load_last(st->store, on->ptr, on->len, &m) == 0 ? m.seq : 0;
    store_msg_free(&m);
    return last;
}

/* The checks of §6 that may refuse the message, in 2.9's order. 0 to
 * store; 1 when settled without storing (a duplicate, with res->seq of the
 * original; or dropped: an unknown rollup value); -EINVAL with res->err. */
static int check(struct js_stream *st, const struct jscmd_publish *p, int64_t ts,
                 struct js_result *res)
{
    const struct js_stream_config *c = &st->cfg;
    struct js_err *e = &res->err;
    if (c->sealed)
        return js_err_set(e, 10109, NULL);
    if (p->exp_stream.ptr && !bytes_is(p->exp_stream, c->name))
        return js_err_set(e, 10060, NULL);
    if (p->msg_id.ptr && p->msg_id.len) {
        js_msgid_expire(st, ts);
        struct js_msgid *d = js_msgid_find(st, p->msg_id.ptr, p->msg_id.len);
        if (d) {
            res->seq = d->seq;
            res->duplicate = true;
            return 1;
        }
    }
    if (p->has_exp_last_subj_seq) {
        uint64_t last = last_on_subject(st, p);
        if (p->exp_last_subj_seq != last)
            return js_err_set(e, 10071, "wrong last sequence: %" PRIu64, last);
    }
    struct store_state s;
    store_get_state(st->store, &s);
    if (p->has_exp_last_seq && p->exp_last_seq != s.last_seq)
        return js_err_set(e, 10071, "wrong last sequence: %" PRIu64, s.last_seq);
    if (p->exp_last_msg_id.ptr) {
        const char *last = st->last_msg_id ? st->last_msg_id : "";
        if (!bytes_is(p->exp_last_msg_id, last))
            return js_err_set(e, 10070, "wrong last msg ID: %s", last);
    }
    if (p->rollup) {
        if (!c->allow_rollup_hdrs || c->deny_purge)
            return js_err_set(e, 10111, NULL);
        if (p->rollup != JSCMD_ROLLUP_SUB && p->rollup != JSCMD_ROLLUP_ALL) {
            res->dropped = true; /* no reply at all, as 2.9 */
            return 1;
        }
    }
    size_t hl = p->hdr.len, dl = p->data.len;
    if (c->max_msg_size > 0 && hl + dl > (uint64_t)c->max_msg_size)
        return js_err_set(e, 10054, NULL);
    uint64_t size = store_msg_size(st->store, p->subject.len, hl, dl);
    /* The JetStream account's own limit (10002, as nats-server's "resource
     * limits exceeded for account"), then the server's max_memory_store /
     * max_file_store, both as the proposer saw them (§6 #9 family). */
    if (p->acct_limit && js_usage(st->js, c->storage) + size > p->acct_limit)
        return js_err_set(e, 10002, NULL);
    if (p->acct_max && js_usage(st->js, c->storage) + size > p->acct_max)
        return js_err_set(e, 10023, NULL);
    if (c->discard == JS_DISCARD_NEW) {
        if (c->max_msgs > 0 && s.msgs >= (uint64_t)c->max_msgs)
            return js_err_set(e, 10077, "maximum messages exceeded");
        if (c->max_bytes > 0 && s.bytes + size > (uint64_t)c->max_bytes)
            return js_err_set(e, 10077, "maximum bytes exceeded");
        if (c->discard_new_per_subject && c->max_msgs_per_subject > 0) {
            struct store_subject_state ss;
            store_subject_state(st->store, p->subject.ptr, p->subject.len, &ss);
            if (ss.msgs >= (uint64_t)c->max_msgs_per_subject)
                return js_err_set(e, 10077, "maximum messages per subject exceeded");
        }
    }
    return 0;
}

/* Interest retention: does some consumer's filter take the subject? */
static bool interest_kept(struct js_stream *st, const char *subject, size_t len)
{
    for (struct js_consumer *c = st->consumers; c; c = js_consumer_next(c))
        if (js_consumer_wants(c, subject, len))
            return true;
    return false;
}

/* ---- apply ---- */

int js_transform_open(struct js_stream *st)
{
    js_transform_close(st);
    char *src = NULL, *dest = NULL;
    int rc = js_stream_config_transform(&st->cfg, &src, &dest);
    if (rc == -ENOENT)
        return 0;
    if (rc == 0 && (rc = submap_compile(src, dest, &st->itr)) == -EINVAL)
        rc = 0;
    free(src);
    free(dest);
    return rc;
}

void js_transform_close(struct js_stream *st)
{
    submap_free(st->itr);
    st->itr = NULL;
}

static int apply_publish(struct js *js, struct js_stream *st, const struct jscmd_publish *p,
                         struct js_result *res);

/* 2.10's subject_transform comes before everything else: the message is
 * checked, stored, counted and delivered under the subject it maps to (a
 * subject the source does not take keeps its own). */
int js_apply_publish(struct js *js, struct js_stream *st, const struct jscmd_publish *p,
                     struct js_result *res)
{
    char *mapped = NULL;
    size_t mlen = 0;
    if (!st->itr || submap_apply(st->itr, p->subject.ptr, p->subject.len, &mapped, &mlen) != 0)
        return apply_publish(js, st, p, res);
    struct jscmd_publish q = *p;
    q.subject = (struct jscmd_bytes){ mapped, mlen };
    int rc = apply_publish(js, st, &q, res);
    free(mapped);
    return rc;
}

static int apply_publish(struct js *js, struct js_stream *st, const struct jscmd_publish *p,
                         struct js_result *res)
{
    /* Per stream, time never goes backwards: a new leader's clock may be
     * behind the old one's, and max_age, the dedupe window and
     * by_start_time all assume order. */
    int64_t ts = (int64_t)p->ts_ns > st->clock ? (int64_t)p->ts_ns : st->clock;
    st->clock = ts;
    if (check(st, p, ts, res) != 0)
        return 0;
    /* Republish tells what came before on the subject (Nats-Last-Sequence). */
    struct store_subject_state before = { 0 };
    if (st->repub)
        store_subject_state(st->store, p->subject.ptr, p->subject.len, &before);
    uint64_t seq = 0;
    int rc = store_append(st->store, p->subject.ptr, p->subject.len, p->hdr.ptr, p->hdr.len,
                          p->data.ptr ? p->data.ptr : "", p->data.len, ts, &seq);
    if (rc < 0) {
        LOG_ERROR("JetStream: stream '%s': storing a message failed: %s", st->cfg.name,
                  strerror(-rc));
        js_err_set(&res->err, 10023, NULL);
        return rc;
    }
    st->dirty = true;
    res->seq = seq;
    bool has_id = p->msg_id.ptr && p->msg_id.len;
    js_msgid_set_last(st, has_id ? p->msg_id.ptr : NULL, p->msg_id.len);
    if (has_id)
        (void)js_msgid_add(st, p->msg_id.ptr, p->msg_id.len, seq, ts);
    bool any = false;
    if (p->rollup) {
        uint64_t purged = 0;
        bool sub = p->rollup == JSCMD_ROLLUP_SUB;
        store_purge(st->store, sub ? p->subject.ptr : NULL, sub ? p->subject.len : 0, seq, 0,
                    &purged);
        any = purged > 0;
    }
    /* Interest retention with nobody interested: the sequence is used,
     * the message is not kept (§6). */
    bool kept = true;
    if (st->cfg.retention == JS_RETAIN_INTEREST &&
        !interest_kept(st, p->subject.ptr, p->subject.len)) {
        store_remove(st->store, seq);
        any = true;
        kept = false;
    }
    res->republish = st->repub && kept;
    res->last_subj_seq = before.last_seq;
    any |= js_stream_enforce_limits(st, p->subject.ptr, p->subject.len);
    if (any)
        st->removed = true;
    /* mirrors and sources copy it in the same apply (limits may have
     * removed it already: then there is nothing to copy, as for a
     * consumer) */
    int rc2 = kept ? js_mirror_follow(js, st, seq) : 0;
    return rc2 == 0 && kept ? js_source_follow(js, st, seq) : rc2;
}
