/*
 * cluster/jsraft_io.c — libuv's raft_io passed through; vote requests held
 * back after a restart and while this member's promise to its leader runs,
 * and handed over when the time is up; a candidate's own sent again until
 * answered (see jsraft_io.h).
 *
 * Every call raft makes on the wrapper goes to libuv's io with libuv's own
 * pointer; a synchronous failure copies libuv's error text to where raft
 * reads it (the wrapper's errmsg). libuv calls back through the wrapper's
 * tick, recv and close functions, found from libuv's io->data, which raft
 * never touches (raft only knows the wrapper).
 */
#include "cluster/jsraft_io.h"

#include <stdlib.h>
#include <string.h>

#include "server/log.h"

static struct jsraft_io *of(struct raft_io *io)
{
    return io->impl;
}

static int pass(struct jsraft_io *g, int rc)
{
    if (rc != 0)
        memcpy(g->io.errmsg, g->uv->errmsg, sizeof g->io.errmsg);
    return rc;
}

/* ---- when raft sees a vote request (jsraft_io.h) ---- */

enum verdict { HOLD, PASS, PASS_PAST_LEADER };

/* Does raft follow a leader? (0.15 refuses every vote while it does.) */
static bool following(const struct raft *raft)
{
    return raft && raft->state == RAFT_FOLLOWER && raft->follower_state.current_leader.id != 0;
}

static enum verdict judge(const struct jsraft_io *g, const struct raft_message *msg,
                          raft_time now)
{
    if (msg->type != RAFT_IO_REQUEST_VOTE || msg->request_vote.disrupt_leader)
        return PASS;
    if (g->votes_from && now < g->votes_from)
        return HOLD;
    if (!following(g->raft))
        return PASS;
    /* A candidate asking again for a vote this member gave it in this term
     * (0.15 still names the old leader after granting): the same vote. */
    if (g->raft->voted_for == msg->request_vote.candidate_id &&
        g->raft->current_term == msg->request_vote.term)
        return PASS_PAST_LEADER;
    if (now < g->raft->election_timer_start + g->raft->election_timeout)
        return HOLD; /* its promise to the leader still runs */
    return PASS_PAST_LEADER;
}

static void deliver(struct jsraft_io *g, struct raft_message *msg, enum verdict v)
{
    if (v == PASS_PAST_LEADER) {
        msg->request_vote.disrupt_leader = true;
        g->votes_passed_leader++;
    }
    g->recv(&g->io, msg);
}

/* Keep msg (a RequestVote: nothing in it is owned but the address,
 * copied) in slots, in place of any earlier one with the same peer. One
 * that cannot be kept is dropped: its candidate tries again. */
static void keep(struct jsraft_io_kept *slots, const struct raft_message *msg, raft_time now)
{
    struct jsraft_io_kept *slot = NULL;
    for (size_t i = 0; i < JSRAFT_IO_HELD && !slot; i++)
        if (slots[i].used && slots[i].msg.server_id == msg->server_id)
            slot = &slots[i];
    for (size_t i = 0; i < JSRAFT_IO_HELD && !slot; i++)
        if (!slots[i].used)
            slot = &slots[i];
    size_t alen = msg->server_address ? strlen(msg->server_address) : 0;
    if (!slot || alen >= sizeof slot->address)
        return;
    slot->msg = *msg;
    memcpy(slot->address, msg->server_address ? msg->server_address : "", alen + 1);
    slot->msg.server_address = slot->address;
    slot->at = now;
    slot->answered = false;
    slot->used = true;
}

static int release(struct jsraft_io *g, raft_time now)
{
    if (g->votes_from && now >= g->votes_from)
        g->votes_from = 0;
    int n = 0;
    for (size_t i = 0; i < JSRAFT_IO_HELD && g->recv; i++) {
        struct jsraft_io_kept *h = &g->held[i];
        if (!h->used)
            continue;
        if (g->raft && now > h->at + 2 * (raft_time)g->raft->election_timeout) {
            h->used = false; /* stale: its candidate asked again or gave up */
            continue;
        }
        /* Judged one by one: a vote granted to the first resets raft's
         * timer, and the next waits again. */
        enum verdict v = judge(g, &h->msg, now);
        if (v == HOLD)
            continue;
        h->used = false;
        deliver(g, &h->msg, v);
        n++;
    }
    return n;
}

int jsraft_io_release_votes(struct jsraft_io *g)
{
    return release(g, g->uv->time(g->uv));
}

/* ---- a candidate's vote requests, sent again until answered ---- */

/* Keep m if it is this member's vote request (the newest per voter). */
static void remember_asked(struct jsraft_io *g, const struct raft_message *m)
{
    if (m->type == RAFT_IO_REQUEST_VOTE && !m->request_vote.pre_vote)
        keep(g->asked, m, g->uv->time(g->uv));
}

static void note_answer(struct jsraft_io *g, const struct raft_message *m)
{
    if (m->type != RAFT_IO_REQUEST_VOTE_RESULT)
        return;
    for (size_t i = 0; i < JSRAFT_IO_HELD; i++)
        if (g->asked[i].used && g->asked[i].msg.server_id == m->server_id)
            g->asked[i].answered = true;
}

static void resent_cb(struct raft_io_send *req, int status)
{
    (void)status; /* a failed one goes again at the next tick */
    free(req);
}

static void resend(struct jsraft_io *g, raft_time now)
{
    const struct raft *raft = g->raft;
    bool standing = raft && raft->state == RAFT_CANDIDATE;
    for (size_t i = 0; i < JSRAFT_IO_HELD; i++) {
        struct jsraft_io_kept *a = &g->asked[i];
        if (!a->used)
            continue;
        if (!standing || a->answered || a->msg.request_vote.term != raft->current_term) {
            a->used = false;
            continue;
        }
        if (now < a->at + JSRAFT_IO_RESEND_MS)
            continue;
        struct raft_io_send *req = malloc(sizeof *req); /* owned by libuv until resent_cb */
        if (!req)
            continue;
        req->data = NULL;
        if (g->uv->send(g->uv, req, &a->msg, resent_cb) != 0) {
            free(req);
            continue;
        }
        a->at = now;
        g->votes_resent++;
    }
}

/* ---- libuv's callbacks, on to raft ---- */

static void on_tick(struct raft_io *uv)
{
    struct jsraft_io *g = uv->data;
    /* Before raft's own tick: at the timeout a held candidate gets the
     * vote before this member's timer makes it stand itself. */
    raft_time now = uv->time(uv);
    release(g, now);
    resend(g, now);
    g->tick(&g->io);
}

static void on_recv(struct raft_io *uv, struct raft_message *msg)
{
    struct jsraft_io *g = uv->data;
    raft_time now = uv->time(uv);
    note_answer(g, msg);
    enum verdict v = judge(g, msg, now);
    if (v != HOLD) {
        deliver(g, msg, v);
        return;
    }
    if (g->votes_from && now < g->votes_from && g->votes_held++ == 0)
        LOG_INFO("JetStream cluster: vote requests held back for an election timeout "
                 "after start (a lease may count on this member's earlier promise)");
    keep(g->held, msg, now);
}

static void on_closed(struct raft_io *uv)
{
    struct jsraft_io *g = uv->data;
    if (g->close_cb)
        g->close_cb(&g->io);
}

/* ---- raft's calls, on to libuv ---- */

static int w_init(struct raft_io *io, raft_id id, const char *address)
{
    struct jsraft_io *g = of(io);
    return pass(g, g->uv->init(g->uv, id, address));
}

static void w_close(struct raft_io *io, raft_io_close_cb cb)
{
    struct jsraft_io *g = of(io);
    g->close_cb = cb;
    g->uv->close(g->uv, on_closed);
}

static int w_load(struct raft_io *io, raft_term *term, raft_id *voted_for,
                  struct raft_snapshot **snapshot, raft_index *start_index,
                  struct raft_entry *entries[], size_t *n_entries)
{
    struct jsraft_io *g = of(io);
    return pass(g, g->uv->load(g->uv, term, voted_for, snapshot, start_index, entries,
                               n_entries));
}

static int w_start(struct raft_io *io, unsigned msecs, raft_io_tick_cb tick,
                   raft_io_recv_cb recv)
{
    struct jsraft_io *g = of(io);
    g->tick = tick;
    g->recv = recv;
    return pass(g, g->uv->start(g->uv, msecs, on_tick, on_recv));
}

static int w_bootstrap(struct raft_io *io, const struct raft_configuration *conf)
{
    struct jsraft_io *g = of(io);
    return pass(g, g->uv->bootstrap(g->uv, conf));
}

static int w_recover(struct raft_io *io, const struct raft_configuration *conf)
{
    struct jsraft_io *g = of(io);
    return pass(g, g->uv->recover(g->uv, conf));
}

static int w_set_term(struct raft_io *io, raft_term term)
{
    struct jsraft_io *g = of(io);
    return pass(g, g->uv->set_term(g->uv, term));
}

static int w_set_vote(struct raft_io *io, raft_id server_id)
{
    struct jsraft_io *g = of(io);
    return pass(g, g->uv->set_vote(g->uv, server_id));
}

static int w_send(struct raft_io *io, struct raft_io_send *req, const struct raft_message *m,
                  raft_io_send_cb cb)
{
    struct jsraft_io *g = of(io);
    remember_asked(g, m);
    return pass(g, g->uv->send(g->uv, req, m, cb));
}

static int w_append(struct raft_io *io, struct raft_io_append *req,
                    const struct raft_entry entries[], unsigned n, raft_io_append_cb cb)
{
    struct jsraft_io *g = of(io);
    return pass(g, g->uv->append(g->uv, req, entries, n, cb));
}

static int w_truncate(struct raft_io *io, raft_index index)
{
    struct jsraft_io *g = of(io);
    return pass(g, g->uv->truncate(g->uv, index));
}

static int w_snapshot_put(struct raft_io *io, unsigned trailing, struct raft_io_snapshot_put *req,
                          const struct raft_snapshot *snapshot, raft_io_snapshot_put_cb cb)
{
    struct jsraft_io *g = of(io);
    return pass(g, g->uv->snapshot_put(g->uv, trailing, req, snapshot, cb));
}

static int w_snapshot_get(struct raft_io *io, struct raft_io_snapshot_get *req,
                          raft_io_snapshot_get_cb cb)
{
    struct jsraft_io *g = of(io);
    return pass(g, g->uv->snapshot_get(g->uv, req, cb));
}

static raft_time w_time(struct raft_io *io)
{
    struct jsraft_io *g = of(io);
    return g->uv->time(g->uv);
}

static int w_random(struct raft_io *io, int min, int max)
{
    struct jsraft_io *g = of(io);
    return g->uv->random(g->uv, min, max);
}

static int w_async_work(struct raft_io *io, struct raft_io_async_work *req,
                        raft_io_async_work_cb cb)
{
    struct jsraft_io *g = of(io);
    return pass(g, g->uv->async_work(g->uv, req, cb));
}

void jsraft_io_init(struct jsraft_io *g, struct raft_io *uv)
{
    memset(g, 0, sizeof *g);
    g->uv = uv;
    uv->data = g;
    g->io = (struct raft_io){
        .version = uv->version,
        .impl = g,
        .init = w_init,
        .close = w_close,
        .load = w_load,
        .start = w_start,
        .bootstrap = w_bootstrap,
        .recover = w_recover,
        .set_term = w_set_term,
        .set_vote = w_set_vote,
        .send = w_send,
        .append = w_append,
        .truncate = w_truncate,
        .snapshot_put = w_snapshot_put,
        .snapshot_get = w_snapshot_get,
        .time = w_time,
        .random = w_random,
        .async_work = uv->async_work ? w_async_work : NULL,
    };
}

void jsraft_io_watch(struct jsraft_io *g, const struct raft *raft)
{
    g->raft = raft;
}

void jsraft_io_hold_votes(struct jsraft_io *g, unsigned ms)
{
    g->votes_from = g->uv->time(g->uv) + ms;
}
