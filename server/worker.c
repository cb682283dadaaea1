/*
 * server/worker.c — an I/O loop thread (see worker.h).
 *
 * The loop runs event_base_loop(EVLOOP_ONCE) repeatedly: libevent dispatches
 * every ready socket, then control comes back here to flush the output that
 * those callbacks queued. That is the batching point: a subscriber gets one
 * write per iteration however many messages landed in its buffer, and a
 * subscriber owned by another loop costs that loop one wakeup per
 * iteration. After the flush the loop reports quiescence to the reclaimer.
 * Never blocks except in the poll itself.
 */
#include "server/worker.h"

#include <errno.h>
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "cluster/route.h"
#include "server/client.h"
#include "server/log.h"
#include "server/reclaim.h"
#include "server/server.h"
#include "server/sublist.h"

#define WORKER_CACHE_ENTRIES 4096

static int grow(void **arr, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t ncap = *cap ? *cap * 2 : 16;
    while (ncap < need)
        ncap *= 2;
    void *n = realloc(*arr, ncap * elem);
    if (!n)
        return -ENOMEM;
    *arr = n;
    *cap = ncap;
    return 0;
}

/* Called with inbox_lock held: write the eventfd once per batch of requests. */
static void arm_wake(struct worker *w)
{
    if (w->wake_armed)
        return;
    w->wake_armed = true;
    uint64_t one = 1;
    ssize_t n = write(w->wake_fd, &one, sizeof one);
    (void)n; /* an eventfd write only fails on counter overflow */
}

int worker_add_socket(struct worker *w, int fd, const struct sockaddr *sa, socklen_t len,
                      enum client_kind kind, int route_url)
{
    pthread_mutex_lock(&w->inbox_lock);
    int rc = grow((void **)&w->accepts, &w->cap_accepts, w->naccepts + 1,
                  sizeof *w->accepts);
    if (rc == 0) {
        struct worker_accept *a = &w->accepts[w->naccepts++];
        a->fd = fd;
        a->kind = kind;
        a->route_url = route_url;
        memset(&a->addr, 0, sizeof a->addr);
        if (len > sizeof a->addr)
            len = sizeof a->addr;
        memcpy(&a->addr, sa, len);
        a->addrlen = len;
        arm_wake(w);
    }
    pthread_mutex_unlock(&w->inbox_lock);
    if (rc < 0)
        close(fd);
    return rc;
}

void worker_announce_ldm(struct worker *w)
{
    pthread_mutex_lock(&w->inbox_lock);
    w->announce_ldm = true;
    arm_wake(w);
    pthread_mutex_unlock(&w->inbox_lock);
}

void worker_announce_info(struct worker *w)
{
    pthread_mutex_lock(&w->inbox_lock);
    w->announce_info = true;
    arm_wake(w);
    pthread_mutex_unlock(&w->inbox_lock);
}

void worker_announce_route_info(struct worker *w)
{
    pthread_mutex_lock(&w->inbox_lock);
    w->announce_route_info = true;
    arm_wake(w);
    pthread_mutex_unlock(&w->inbox_lock);
}

void worker_close_one(struct worker *w)
{
    pthread_mutex_lock(&w->inbox_lock);
    w->close_some++;
    arm_wake(w);
    pthread_mutex_unlock(&w->inbox_lock);
}

int worker_post(struct worker *w, void (*fn)(struct worker *w, void *arg), void *arg)
{
    pthread_mutex_lock(&w->inbox_lock);
    int rc = grow((void **)&w->jobs, &w->cap_jobs, w->njobs + 1, sizeof *w->jobs);
    if (rc == 0) {
        w->jobs[w->njobs++] = (struct worker_job){ fn, arg };
        arm_wake(w);
    }
    pthread_mutex_unlock(&w->inbox_lock);
    return rc;
}

/* A stopped loop runs no more jobs: each is told (w NULL) to let go. */
static void run_jobs(struct worker *w, struct worker_job *jobs, size_t n, bool stop)
{
    for (size_t i = 0; i < n; i++)
        jobs[i].fn(stop ? NULL : w, jobs[i].arg);
    free(jobs);
}

void worker_note_output(struct worker *w, struct client *c)
{
    if (grow((void **)&w->pending, &w->cap_pending, w->npending + 1,
             sizeof *w->pending) < 0) {
        /* Cannot remember it: flush now rather than lose the wakeup. */
        if (c->kind == CLIENT_KIND_INTERNAL) {
            c->internal_flush(c->internal_arg, w);
            return;
        }
        if (c->w == w) {
            client_flush(c);
            return;
        }
        LOG_ERROR("out of memory queueing a flush for cid %llu",
                  (unsigned long long)c->cid);
        return;
    }
    w->pending[w->npending++] = c;
}

/* Hand c to its own loop for flushing; c stays alive until that loop drops
 * the hold. */
static void send_flush(struct worker *target, struct client *c)
{
    atomic_fetch_add(&c->holds, 1);
    pthread_mutex_lock(&target->inbox_lock);
    int rc = grow((void **)&target->flushes, &target->cap_flushes,
                  target->nflushes + 1, sizeof *target->flushes);
    if (rc == 0) {
        target->flushes[target->nflushes++] = c;
        arm_wake(target);
    }
    pthread_mutex_unlock(&target->inbox_lock);
    if (rc < 0) {
        atomic_fetch_sub(&c->holds, 1);
        LOG_ERROR("out of memory handing a flush to loop %d", target->index);
    }
}

static void flush_pending(struct worker *w)
{
    /* A flush can queue more output (e.g. a close notice), so index live. */
    for (size_t i = 0; i < w->npending; i++) {
        struct client *c = w->pending[i];
        if (c->kind == CLIENT_KIND_INTERNAL)
            c->internal_flush(c->internal_arg, w); /* this loop's share only */
        else if (c->w == w)
            client_flush(c);
        else if (!client_try_flush(c))
            send_flush(c->w, c);
    }
    w->npending = 0;
}

static void close_all(struct worker *w)
{
    while (w->clients)
        client_close(w->clients, "Server Shutdown", NULL);
}

static void drain_inbox(struct worker *w)
{
    pthread_mutex_lock(&w->inbox_lock);
    struct worker_accept *accepts = w->accepts;
    size_t naccepts = w->naccepts;
    struct client **flushes = w->flushes;
    size_t nflushes = w->nflushes;
    struct worker_job *jobs = w->jobs;
    size_t njobs = w->njobs;
    bool stop = w->stop;
    bool announce_ldm = w->announce_ldm;
    bool announce_info = w->announce_info;
    w->announce_info = false;
    bool announce_route_info = w->announce_route_info;
    w->announce_route_info = false;
    unsigned close_some = w->close_some;
    w->announce_ldm = false;
    w->close_some = 0;
    w->accepts = NULL;
    w->naccepts = w->cap_accepts = 0;
    w->flushes = NULL;
    w->nflushes = w->cap_flushes = 0;
    w->jobs = NULL;
    w->njobs = w->cap_jobs = 0;
    w->wake_armed = false;
    pthread_mutex_unlock(&w->inbox_lock);

    for (size_t i = 0; i < nflushes; i++) {
        client_flush(flushes[i]);
        atomic_fetch_sub(&flushes[i]->holds, 1);
    }
    free(flushes);
    for (size_t i = 0; i < naccepts; i++) {
        if (stop) {
            close(accepts[i].fd);
            continue;
        }
        client_accept(w, accepts[i].fd, (struct sockaddr *)&accepts[i].addr,
                      accepts[i].addrlen, accepts[i].kind, accepts[i].route_url);
    }
    free(accepts);
    run_jobs(w, jobs, njobs, stop);
    if (announce_ldm || announce_info || announce_route_info)
        for (struct client *c = w->clients; c; c = c->loop_next) {
            if (c->kind == CLIENT_KIND_CLIENT && (announce_ldm || announce_info))
                client_send_async_info(c, announce_ldm);
            else if (c->kind == CLIENT_KIND_ROUTE && announce_ldm)
                route_send_ldm(c); /* peers stop offering our URLs */
            else if (c->kind == CLIENT_KIND_ROUTE && announce_route_info)
                route_send_info(c); /* our "tern_raft" changed */
        }
    /* Lame duck mode closes clients only: routes stay until exit, so the
     * clients still here keep reaching the rest of the cluster. */
    while (close_some--) {
        struct client *c = w->clients;
        while (c && c->kind != CLIENT_KIND_CLIENT)
            c = c->loop_next;
        if (!c)
            break;
        client_close(c, "Server Shutdown", NULL);
    }
    if (stop) {
        close_all(w);
        flush_pending(w);
        w->running = false;
    }
}

static void on_wake(evutil_socket_t fd, short what, void *arg)
{
    struct worker *w = arg;
    uint64_t v;
    ssize_t n = read(fd, &v, sizeof v);
    (void)n; /* EAGAIN just means another wake already drained it */
    drain_inbox(w);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    /* Nothing to do: waking up is the point, so the loop reports
     * quiescence even when idle and retired objects get freed. */
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    w->running = true;
    while (w->running) {
        if (event_base_loop(w->base, EVLOOP_ONCE) < 0) {
            LOG_ERROR("loop %d: event loop failed", w->index);
            break;
        }
        flush_pending(w);
        reclaim_quiescent(w->srv->reclaim, w->index);
    }
    /* Final flush of anything closing produced; then drop flush requests
     * that arrived after stop. */
    flush_pending(w);
    drain_inbox(w);
    reclaim_quiescent(w->srv->reclaim, w->index);
    return NULL;
}

uint32_t worker_rand(struct worker *w)
{
    /* xorshift64*: fast, per-loop, no locking; quality is ample for
     * picking a queue member. */
    uint64_t x = w->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    w->rng = x;
    return (uint32_t)((x * 0x2545F4914F6CDD1DULL) >> 32);
}

/* One match cache per account: the accounts are fixed at start. */
static int worker_new_caches(struct worker *w)
{
    const struct account_set *set = w->srv->accounts;
    if (!(w->caches = calloc(set->n, sizeof *w->caches)))
        return -ENOMEM;
    w->ncaches = set->n;
    for (size_t i = 0; i < set->n; i++)
        if (!(w->caches[i] = sublist_cache_new(set->accs[i]->sublist, WORKER_CACHE_ENTRIES)))
            return -ENOMEM;
    return 0;
}

struct worker *worker_new(struct server *srv, int index)
{
    struct worker *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->srv = srv;
    w->index = index;
    w->wake_fd = -1;
    pthread_mutex_init(&w->inbox_lock, NULL);
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    w->rng = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)(index + 1) * 0x9E3779B97F4A7C15ULL;
    if (!w->rng)
        w->rng = 88172645463325252ULL;

    struct event_config *cfg = event_config_new();
    if (!cfg)
        goto err_after_alloc;
    /* Only this loop's thread touches its base: skip libevent's locking. */
    event_config_set_flag(cfg, EVENT_BASE_FLAG_NOLOCK);
    w->base = event_base_new_with_config(cfg);
    event_config_free(cfg);
    if (!w->base)
        goto err_after_alloc;
    w->readbuf = malloc(WORKER_READBUF);
    w->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (!w->readbuf || w->wake_fd < 0 || worker_new_caches(w) < 0)
        goto err_after_alloc;
    w->wake_ev = event_new(w->base, w->wake_fd, EV_READ | EV_PERSIST, on_wake, w);
    w->tick_ev = event_new(w->base, -1, EV_PERSIST, on_tick, w);
    if (!w->wake_ev || !w->tick_ev)
        goto err_after_alloc;
    struct timeval tick = { 0, RECLAIM_TICK_MS * 1000 };
    if (event_add(w->wake_ev, NULL) < 0 || event_add(w->tick_ev, &tick) < 0)
        goto err_after_alloc;
    return w;

err_after_alloc:
    worker_free(w);
    return NULL;
}

int worker_start(struct worker *w)
{
    int rc = pthread_create(&w->thread, NULL, worker_main, w);
    return rc ? -rc : 0;
}

void worker_stop(struct worker *w)
{
    pthread_mutex_lock(&w->inbox_lock);
    w->stop = true;
    arm_wake(w);
    pthread_mutex_unlock(&w->inbox_lock);
    pthread_join(w->thread, NULL);
}

void worker_free(struct worker *w)
{
    if (!w)
        return;
    if (w->wake_ev)
        event_free(w->wake_ev);
    if (w->tick_ev)
        event_free(w->tick_ev);
    if (w->base)
        event_base_free(w->base);
    if (w->wake_fd >= 0)
        close(w->wake_fd);
    for (size_t i = 0; i < w->naccepts; i++)
        close(w->accepts[i].fd);
    for (size_t i = 0; i < w->nflushes; i++)
        atomic_fetch_sub(&w->flushes[i]->holds, 1);
    run_jobs(w, w->jobs, w->njobs, true);
    free(w->accepts);
    free(w->flushes);
    free(w->pending);
    for (size_t i = 0; i < w->ncaches; i++)
        sublist_cache_free(w->caches[i]);
    free(w->caches);
    free(w->readbuf);
    pthread_mutex_destroy(&w->inbox_lock);
    free(w);
}
