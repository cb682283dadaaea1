/*
 * cluster/jsraft_io.c — libuv's raft_io passed through, vote requests held
 * back after a restart and handed over when the time is up (see
 * jsraft_io.h).
 *
 * Every call raft makes on the wrapper goes to libuv's io with libuv's own
 * pointer; a synchronous failure copies libuv's error text to where raft
 * reads it (the wrapper's errmsg). libuv calls back through the wrapper's
 * tick, recv and close functions, found from libuv's io->data, which raft
 * never touches (raft only knows the wrapper).
 */
#include "cluster/jsraft_io.h"

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

/* ---- libuv's callbacks, on to raft ---- */

static void on_tick(struct raft_io *uv)
{
    struct jsraft_io *g = uv->data;
    g->tick(&g->io);
}

/* Keep msg (a RequestVote: nothing in it is owned by the receiver but the
 * address, copied) in place of any earlier one from the same candidate.
 * One that cannot be kept is dropped: its candidate tries again. */
static void hold(struct jsraft_io *g, const struct raft_message *msg)
{
    struct jsraft_io_held *slot = NULL;
    for (size_t i = 0; i < JSRAFT_IO_HELD && !slot; i++)
        if (g->held[i].used && g->held[i].msg.server_id == msg->server_id)
            slot = &g->held[i];
    for (size_t i = 0; i < JSRAFT_IO_HELD && !slot; i++)
        if (!g->held[i].used)
            slot = &g->held[i];
    size_t alen = msg->server_address ? strlen(msg->server_address) : 0;
    if (!slot || alen >= sizeof slot->address)
        return;
    slot->msg = *msg;
    memcpy(slot->address, msg->server_address ? msg->server_address : "", alen + 1);
    slot->msg.server_address = slot->address;
    slot->used = true;
}

static void on_recv(struct raft_io *uv, struct raft_message *msg)
{
    struct jsraft_io *g = uv->data;
    if (msg->type == RAFT_IO_REQUEST_VOTE && g->votes_from &&
        uv->time(uv) < g->votes_from) {
        if (g->votes_held++ == 0)
            LOG_INFO("JetStream cluster: vote requests held back for an election timeout "
                     "after start (a lease may count on this member's earlier promise)");
        hold(g, msg);
        return;
    }
    g->recv(&g->io, msg);
}

int jsraft_io_release_votes(struct jsraft_io *g)
{
    if (!g->votes_from || g->uv->time(g->uv) < g->votes_from)
        return 0;
    g->votes_from = 0;
    int n = 0;
    for (size_t i = 0; i < JSRAFT_IO_HELD; i++) {
        if (!g->held[i].used)
            continue;
        g->held[i].used = false;
        if (g->recv) {
            g->recv(&g->io, &g->held[i].msg);
            n++;
        }
    }
    return n;
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

void jsraft_io_hold_votes(struct jsraft_io *g, unsigned ms)
{
    g->votes_from = g->uv->time(g->uv) + ms;
}
