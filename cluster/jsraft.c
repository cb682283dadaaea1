/*
 * cluster/jsraft.c — the JetStream raft group (contract in jsraft.h).
 *
 * Driving libuv from libevent: raft's loop is never run on its own thread.
 * The engine's event_base watches uv_backend_fd (readable whenever libuv
 * has I/O, timers' wake-ups aside) and a timer set to uv_backend_timeout;
 * either runs uv_run(UV_RUN_NOWAIT) once and re-arms the timer. A
 * proposal kicks the timer to zero so raft starts writing at once. This
 * keeps raft, its disk and network callbacks, and the state machine on the
 * one thread that owns JetStream's state: no locks.
 *
 * A 50 ms poll (0.15 has no state-change callback) forms the group when
 * it can (see jsraft.h), and follows raft's state: a new leader first
 * appends a barrier and becomes the serving node only once that is
 * applied; a node that stops leading, or learns of another leader or of
 * none, tells the engine at once. RAFT_UNAVAILABLE after start, an I/O
 * error in a proposal's callback, a state machine that cannot apply or
 * restore: the node logs why and exits (0.15's failure paths are where its
 * later safety fixes landed; spec/raft.md §11), and its peers go on.
 *
 * A follower applies after it answers. 0.15 applies the entries a leader's
 * AppendEntries declares committed before it sends that message's result,
 * so applying one publish batch (a store write per message) used to delay
 * the next entry's commit on the leader by as long. A follower's apply
 * answers nobody, so fsm_apply on a follower only copies the entry into a
 * queue that an event drains right after raft's callbacks return; in log
 * order, always before this node applies anything as leader, serves
 * (becomes leader after its barrier), takes or restores a snapshot.
 *
 * Each entry reaches the engine marked REPLAY (it was in the log when raft
 * started), FOLLOWING or LEADING (jsraft.h): the engine's side effects of
 * an entry (republish) belong to the node that commits it, once, and not
 * to a restart replaying its log.
 *
 * The leader serves only under a lease (cluster/jslease.h, glue in
 * jsraft_lease.c): no deliveries or reads once it cannot be sure that no
 * other member was elected. Two things the lease rests on are kept here: a
 * member with raft state holds vote requests back for one election timeout
 * after it starts (it forgot which leader it promised not to vote against;
 * jsraft_io.c), and a leadership transfer, which lets a follower vote at
 * once, suspends the lease. The group's other files: jsraft_members.c
 * (forming, ids, joining), jsraft_lease.c, jsraft_io.c.
 */
#include "cluster/jsraft_impl.h"

#include <errno.h>
#include <event2/event.h>
#include <inttypes.h>
#include <raft.h>
#include <raft/uv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "cluster/raft_transport.h"
#include "cluster/route.h"
#include "server/fsutil.h"
#include "server/log.h"

void jsraft__die(struct jsraft *r, const char *what, int rc)
{
    LOG_FATAL("JetStream cluster: %s: %s (%s); stopping this node", what, raft_strerror(rc),
              r->raft_inited ? raft_errmsg(&r->raft) : "");
    _exit(1);
}

/* ---- libuv inside libevent ---- */

static void run_uv(struct jsraft *r)
{
    uv_run(&r->loop, UV_RUN_NOWAIT);
    int t = uv_backend_timeout(&r->loop);
    if (t < 0) {
        evtimer_del(r->timer_ev);
        return;
    }
    struct timeval tv = { t / 1000, (t % 1000) * 1000 };
    evtimer_add(r->timer_ev, &tv);
}

static void on_uv(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    run_uv(arg);
}

void jsraft__kick(struct jsraft *r)
{
    event_active(r->timer_ev, EV_TIMEOUT, 0);
}

/* ---- the state machine ---- */

static void apply_now(struct jsraft *r, raft_index index, const char *data, size_t len,
                      bool leading, void **result)
{
    enum jsraft_apply_as as = index <= r->start_index ? JSRAFT_APPLY_REPLAY
                              : leading              ? JSRAFT_APPLY_LEADING
                                                     : JSRAFT_APPLY_FOLLOWING;
    int rc = r->engine.apply(r->engine.arg, data, len, as, result);
    if (rc < 0) {
        LOG_FATAL("JetStream cluster: entry %llu cannot be applied here: %s; stopping this node",
                  (unsigned long long)index, strerror(-rc));
        _exit(1);
    }
}

/* Apply every deferred entry, in log order. */
static void drain(struct jsraft *r)
{
    while (r->def_head) {
        struct deferred *d = r->def_head;
        r->def_head = d->next;
        void *result = NULL;
        apply_now(r, d->index, d->data, d->len, false, &result);
        free(d);
    }
    r->def_tail = &r->def_head;
    r->def_bytes = 0;
}

static void on_drain(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    drain(arg);
}

static int fsm_apply(struct raft_fsm *fsm, const struct raft_buffer *buf, void **result)
{
    struct jsraft *r = fsm->data;
    /* Inside apply, raft_last_applied + 1 is this entry (spec/raft.md §4). */
    raft_index index = raft_last_applied(&r->raft) + 1;
    if (raft_state(&r->raft) == RAFT_FOLLOWER && r->def_bytes + buf->len <= DEFER_MAX_BYTES) {
        struct deferred *d = malloc(sizeof *d + buf->len);
        if (d) {
            d->next = NULL;
            d->index = index;
            d->len = buf->len;
            memcpy(d->data, buf->base, buf->len);
            *r->def_tail = d;
            r->def_tail = &d->next;
            r->def_bytes += buf->len;
            event_active(r->drain_ev, EV_TIMEOUT, 0);
            *result = NULL; /* a follower has no proposer waiting for it */
            return 0;
        }
    }
    drain(r);
    /* The leader applies what it has just committed, before any follower
     * can know it is committed; a follower's entries were applied (and
     * their side effects done) by the leader that committed them. */
    apply_now(r, index, buf->base, buf->len, raft_state(&r->raft) == RAFT_LEADER, result);
    return 0;
}

static int fsm_snapshot(struct raft_fsm *fsm, struct raft_buffer *bufs[], unsigned *n)
{
    struct jsraft *r = fsm->data;
    drain(r); /* the snapshot is of everything applied */
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    void *data = NULL;
    size_t len = 0;
    int rc = r->engine.snapshot ? r->engine.snapshot(r->engine.arg, &data, &len) : -ENOTSUP;
    if (rc < 0) {
        LOG_WARN("JetStream cluster: no snapshot taken: %s", strerror(-rc));
        return RAFT_BUSY; /* skipped; tried again after more entries */
    }
    *bufs = raft_malloc(sizeof **bufs);
    void *copy = raft_malloc(len ? len : 1);
    if (!*bufs || !copy) {
        raft_free(*bufs);
        raft_free(copy);
        free(data);
        return RAFT_NOMEM;
    }
    memcpy(copy, data, len);
    free(data);
    (*bufs)[0].base = copy;
    (*bufs)[0].len = len;
    *n = 1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    LOG_INFO("JetStream cluster: snapshot at entry %llu: %zu bytes in %.1f ms",
             (unsigned long long)raft_last_applied(&r->raft), len,
             (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
    return 0;
}

static int fsm_restore(struct raft_fsm *fsm, struct raft_buffer *buf)
{
    struct jsraft *r = fsm->data;
    drain(r); /* earlier entries, which the snapshot then replaces */
    int rc = r->engine.restore ? r->engine.restore(r->engine.arg, buf->base, buf->len) : -ENOTSUP;
    size_t len = buf->len;
    raft_free(buf->base);
    if (rc < 0) {
        LOG_FATAL("JetStream cluster: restoring a snapshot of %zu bytes failed: %s; stopping "
                  "this node",
                  len, strerror(-rc));
        _exit(1);
    }
    LOG_INFO("JetStream cluster: restored a snapshot of %zu bytes", len);
    return 0;
}

/* ---- proposals ---- */

static void on_applied(struct raft_apply *req, int status, void *result)
{
    struct jsraft_req *q = req->data;
    struct jsraft *r = q->r;
    if (status == 0)
        jsraft__lease_committed(r, q->term, q->appended_ms);
    r->engine.done(r->engine.arg, q->ctx, status, status == 0 ? result : NULL);
    free(q);
    /* Our own disk failed to take the entry: 0.15 keeps leading after that
     * and may leave a hole in its log (spec/raft.md §11). */
    if (status == RAFT_IOERR || status == RAFT_NOSPACE || status == RAFT_CORRUPT)
        jsraft__die(r, "writing the log failed", status);
}

int jsraft_propose(struct jsraft *r, const char *entry, size_t len, void *ctx)
{
    if (!r->started || r->role != JSRAFT_LEADER || raft_state(&r->raft) != RAFT_LEADER)
        return -EAGAIN;
    if (!len || len % 8) {
        /* 0.15 garbles batches with unpadded entries (spec/raft.md §9 #1). */
        LOG_ERROR("JetStream cluster: refusing an entry of %zu bytes (not a multiple of 8)",
                  len);
        return -EINVAL;
    }
    struct jsraft_req *q = calloc(1, sizeof *q);
    struct raft_buffer b = { .base = raft_malloc(len), .len = len };
    if (!q || !b.base) {
        free(q);
        raft_free(b.base);
        return -ENOMEM;
    }
    memcpy(b.base, entry, len);
    q->r = r;
    q->ctx = ctx;
    q->req.data = q;
    q->term = r->raft.current_term;
    q->appended_ms = jsraft__now_ms();
    int rc = raft_apply(&r->raft, &q->req, &b, 1, on_applied);
    if (rc != 0) {
        raft_free(b.base);
        free(q);
        return -EAGAIN;
    }
    jsraft__kick(r);
    return 0;
}

/* ---- leadership ---- */

static void tell(struct jsraft *r, enum jsraft_role role)
{
    if (r->role == role)
        return;
    drain(r); /* a new role starts from everything committed so far */
    r->role = role;
    r->engine.role(r->engine.arg, role);
}

static void on_barrier(struct raft_barrier *req, int status)
{
    struct jsraft *r = req->data;
    r->barrier_pending = false;
    if (status == 0 && raft_state(&r->raft) == RAFT_LEADER) {
        jsraft__lease_committed(r, r->raft.current_term, r->barrier_at_ms);
        LOG_INFO("JetStream cluster: this node serves JetStream (earlier terms applied)");
        tell(r, JSRAFT_LEADER);
    }
}

static void follow_state(struct jsraft *r)
{
    int st = raft_state(&r->raft);
    if (st == RAFT_UNAVAILABLE)
        jsraft__die(r, "raft became unavailable", RAFT_IOERR);
    raft_id lid = 0;
    const char *laddr = NULL;
    raft_leader(&r->raft, &lid, &laddr);
    if (r->joining) {
        /* In only once this id votes in the configuration raft replicated
         * to us: hearing a leader is not enough (it still addresses our
         * name while our old incarnation is being removed). */
        if (jsraft__is_voter(r, r->id)) {
            r->joining = false;
            cluster_set_raft_state(r->cl, CLUSTER_RAFT_MEMBER);
            LOG_INFO("JetStream cluster: joined the group as a voter (leader %s)",
                     laddr ? laddr : "?");
        } else if (r->join_asked++ % (1000 / POLL_MS) == 0 && r->engine.ask_join) {
            r->engine.ask_join(r->engine.arg, r->name, r->id);
        }
    }
    if (lid && r->fresh) {
        /* The group has a leader: a node that comes now with no state is
         * not part of a first bootstrap (a wiped node must be added). */
        r->fresh = false;
        cluster_set_raft_state(r->cl, CLUSTER_RAFT_MEMBER);
    }
    if (lid != r->leader_seen) {
        r->leader_seen = lid;
        snprintf(r->leader_name, sizeof r->leader_name, "%s", lid && laddr ? laddr : "");
        if (lid)
            LOG_INFO("JetStream cluster new metadata leader: %s/%s", r->leader_name,
                     r->cluster_name);
        else
            LOG_WARN("JetStream cluster has NO leader: JetStream is unavailable until one is "
                     "elected");
    }
    if (st == RAFT_LEADER) {
        if (r->role != JSRAFT_LEADER && !r->barrier_pending) {
            r->barrier.data = r;
            jsraft__lease_follow(r);
            r->barrier_at_ms = jsraft__now_ms();
            if (raft_barrier(&r->raft, &r->barrier, on_barrier) == 0) {
                r->barrier_pending = true;
                jsraft__kick(r);
            }
        }
        return;
    }
    tell(r, lid ? JSRAFT_FOLLOWER : JSRAFT_NO_LEADER);
}

static void on_poll(evutil_socket_t fd, short what, void *arg)
{
    struct jsraft *r = arg;
    (void)fd;
    (void)what;
    if (!r->started) {
        if (r->had_state) {
            /* Before this process a leader may hold a lease that counts on
             * this member's promise not to vote; a restart forgets it, so
             * it is kept by holding vote requests back for a while. */
            uv_update_time(&r->loop);
            jsraft_io_hold_votes(&r->guard, ELECTION_MS);
            jsraft__start_raft(r, CLUSTER_RAFT_MEMBER);
        } else {
            jsraft__try_bootstrap(r);
        }
    }
    if (r->started) {
        uv_update_time(&r->loop); /* the held votes are judged by it */
        if (jsraft_io_release_votes(&r->guard))
            jsraft__kick(r); /* raft's answers go out now */
        follow_state(r);
        jsraft__lease_follow(r);
        jsraft__lease_probe(r);
    }
    run_uv(r);
}

int jsraft__init_raft(struct jsraft *r, raft_id id)
{
    r->id = id;
    int rc = raft_init(&r->raft, &r->guard.io, &r->fsm, r->id, r->name);
    if (rc != 0) {
        LOG_ERROR("JetStream cluster: raft cannot start in %s: %s (%s)", r->dir,
                  raft_strerror(rc), r->io.errmsg);
        return -EIO;
    }
    r->raft_inited = true;
    jsraft_io_watch(&r->guard, &r->raft);
    raft_set_election_timeout(&r->raft, ELECTION_MS);
    raft_set_heartbeat_timeout(&r->raft, HEARTBEAT_MS);
    /* Pre-vote off: with it, 0.15's handling of a deposed leader's
     * uncommitted tail (a follower left matched at an index holding another
     * term's entry) failed far more often in check_js_raft's runs; without
     * it a node back from a partition may force an election, which costs
     * a second of availability, not data. */
    raft_set_pre_vote(&r->raft, false);
    /* TERN_RAFT_SNAPSHOT_EVERY=N (tests): snapshot every N entries and
     * keep N behind, so catch-up by InstallSnapshot happens within a test. */
    const char *every = getenv("TERN_RAFT_SNAPSHOT_EVERY");
    unsigned n = every && atoi(every) > 0 ? (unsigned)atoi(every) : 0;
    raft_set_snapshot_threshold(&r->raft, n ? n : SNAPSHOT_EVERY);
    raft_set_snapshot_trailing(&r->raft, n ? n : SNAPSHOT_TRAILING);
    raft_set_install_snapshot_timeout(&r->raft, INSTALL_SNAPSHOT_MS);
    return 0;
}

/* ---- life cycle ---- */

static bool has_raft_state(const char *dir)
{
    char p[4096];
    struct stat sb;
    snprintf(p, sizeof p, "%s/metadata1", dir);
    if (stat(p, &sb) == 0)
        return true;
    snprintf(p, sizeof p, "%s/metadata2", dir);
    return stat(p, &sb) == 0;
}


int jsraft_start(const struct jsraft_config *cfg, struct jsraft **out)
{
    struct jsraft *r = calloc(1, sizeof *r);
    if (!r)
        return -ENOMEM;
    r->def_tail = &r->def_head;
    r->engine = cfg->engine;
    r->cl = cfg->cluster;
    r->base = cfg->base;
    r->dir = strdup(cfg->dir);
    r->name = strdup(cfg->name);
    r->cluster_name = strdup(cfg->cluster_name ? cfg->cluster_name : "");
    int rc = -ENOMEM;
    if (!r->dir || !r->name || !r->cluster_name)
        goto err;
    if ((rc = fsutil_mkdir_p(r->dir)) < 0) {
        LOG_ERROR("JetStream cluster: cannot create %s: %s", r->dir, strerror(-rc));
        goto err;
    }
    r->had_state = has_raft_state(r->dir);
    jslease_init(&r->lease, ELECTION_MS);
    rc = -EIO;
    if (uv_loop_init(&r->loop) != 0)
        goto err;
    r->loop_inited = true;
    rc = raft_transport_init(&r->transport, &r->loop, r->cl);
    if (rc < 0)
        goto err;
    r->transport_inited = true;
    if ((rc = raft_uv_init(&r->io, &r->loop, r->dir, &r->transport)) != 0) {
        LOG_ERROR("JetStream cluster: raft cannot use %s: %s", r->dir, raft_strerror(rc));
        rc = -EIO;
        goto err;
    }
    r->io_inited = true;
    jsraft_io_init(&r->guard, &r->io);
    /* A segment that does not load stops the node instead of being renamed
     * aside with what it acknowledged (spec/raft.md §9 #7). */
    raft_uv_set_auto_recovery(&r->io, false);
    raft_uv_set_segment_size(&r->io, SEGMENT_SIZE);
    r->fsm = (struct raft_fsm){ .version = 1, .data = r, .apply = fsm_apply,
                                .snapshot = fsm_snapshot, .restore = fsm_restore };
    /* With raft state, this node's id is the one it had; without, it is
     * decided when the node bootstraps or joins (try_bootstrap). */
    if (r->had_state && (rc = jsraft__init_raft(r, jsraft__read_id(r))) < 0)
        goto err;
    rc = -ENOMEM;
    r->io_ev = event_new(r->base, uv_backend_fd(&r->loop), EV_READ | EV_PERSIST, on_uv, r);
    r->timer_ev = evtimer_new(r->base, on_uv, r);
    r->poll_ev = event_new(r->base, -1, EV_PERSIST, on_poll, r);
    r->drain_ev = event_new(r->base, -1, 0, on_drain, r);
    struct timeval poll = { 0, POLL_MS * 1000 };
    if (!r->io_ev || !r->timer_ev || !r->poll_ev || !r->drain_ev ||
        event_add(r->io_ev, NULL) < 0 || event_add(r->poll_ev, &poll) < 0)
        goto err;
    cluster_set_raft_transport(r->cl, &r->transport);
    cluster_set_raft_state(r->cl, r->had_state ? CLUSTER_RAFT_MEMBER : CLUSTER_RAFT_EMPTY);
    LOG_INFO("JetStream cluster: raft directory %s (%s)", r->dir,
             r->had_state ? "existing state" : "new: the group forms when the peers are here");
    jsraft__kick(r);
    *out = r;
    return 0;

err:
    jsraft_stop(r);
    return rc;
}

static void on_raft_closed(struct raft *raft)
{
    struct jsraft *r = raft->data;
    r->closed = true;
}

void jsraft_stop(struct jsraft *r)
{
    if (!r)
        return;
    if (r->cl)
        cluster_set_raft_transport(r->cl, NULL);
    if (r->raft_inited) {
        r->raft.data = r;
        raft_close(&r->raft, on_raft_closed);
        while (!r->closed && uv_run(&r->loop, UV_RUN_ONCE))
            ;
    }
    if (r->io_inited)
        raft_uv_close(&r->io);
    if (r->transport_inited)
        raft_transport_free(&r->transport);
    if (r->loop_inited) {
        uv_run(&r->loop, UV_RUN_DEFAULT); /* let closed handles finish */
        uv_loop_close(&r->loop);
    }
    if (r->io_ev)
        event_free(r->io_ev);
    if (r->timer_ev)
        event_free(r->timer_ev);
    if (r->poll_ev)
        event_free(r->poll_ev);
    if (r->drain_ev)
        event_free(r->drain_ev);
    /* Not applied: the store is rebuilt from the log at the next start. */
    while (r->def_head) {
        struct deferred *d = r->def_head;
        r->def_head = d->next;
        free(d);
    }
    free(r->dir);
    free(r->name);
    free(r->cluster_name);
    free(r);
}

const char *jsraft_leader_name(const struct jsraft *r)
{
    return r->leader_name;
}

enum jsraft_role jsraft_role(const struct jsraft *r)
{
    return r->role;
}

/* Owned by jsraft_transfer's caller until the callback. */
struct transfer_req {
    struct raft_transfer req;
    struct jsraft *r;
    void (*cb)(void *arg, bool moved);
    void *arg;
};

static void on_transferred(struct raft_transfer *req)
{
    struct transfer_req *t = req->data;
    raft_id lid = 0;
    const char *addr = NULL;
    raft_leader(&t->r->raft, &lid, &addr);
    /* 0.15 may report done without a transfer (spec/raft.md §11): look. */
    t->cb(t->arg, lid != 0 && lid != t->r->id);
    free(t);
}

int jsraft_transfer(struct jsraft *r, void (*cb)(void *arg, bool moved), void *arg)
{
    if (!r->started || raft_state(&r->raft) != RAFT_LEADER)
        return -EAGAIN;
    struct transfer_req *t = calloc(1, sizeof *t);
    if (!t)
        return -ENOMEM;
    t->r = r;
    t->cb = cb;
    t->arg = arg;
    t->req.data = t;
    int rc = raft_transfer(&r->raft, &t->req, 0, on_transferred);
    if (rc != 0) {
        free(t);
        return -EAGAIN;
    }
    jsraft__lease_transfer(r);
    jsraft__kick(r);
    return 0;
}

