/*
 * server/worker.h — one I/O loop: a thread running a libevent event_base.
 *
 * A connection belongs to exactly one worker for its whole life; only that
 * worker reads or writes its socket, runs its timers and frees it. Other
 * threads talk to a worker through its inbox (new sockets, connections with
 * output to flush, functions to run there, stop), guarded by inbox_lock
 * and announced with one eventfd write. Output produced while handling
 * events is flushed once at the end of each loop iteration, so a
 * publisher's whole read batch costs one write per subscriber and one
 * wakeup per other loop.
 */
#ifndef TERN_SERVER_WORKER_H
#define TERN_SERVER_WORKER_H

#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "server/account.h"
#include "server/client.h"

struct server;
struct client;
struct event_base;
struct event;
struct sublist_cache;

/* Bytes read from a socket per read call: one parse batch. */
#define WORKER_READBUF (256 * 1024)

/* A function posted to a loop (worker_post); arg is the poster's. */
struct worker_job {
    void (*fn)(struct worker *w, void *arg);
    void *arg;
};

struct worker_accept {
    int fd;
    enum client_kind kind;
    int route_url;        /* configured route dialled, or -1 */
    struct sockaddr_storage addr;
    socklen_t addrlen;
};

struct worker {
    struct server *srv;             /* borrowed */
    int index;                      /* also the reclaim slot */
    pthread_t thread;
    struct event_base *base;        /* owned */
    /* owned array, one per account (by account.index), each owned; loop
     * thread only */
    struct sublist_cache **caches;
    size_t ncaches;
    int wake_fd;                    /* owned eventfd */
    struct event *wake_ev;          /* owned */
    struct event *tick_ev;          /* owned: keeps reclamation moving when idle */
    char *readbuf;                  /* owned; loop thread only */

    pthread_mutex_t inbox_lock;
    struct worker_accept *accepts;  /* guarded by inbox_lock; owned array */
    size_t naccepts, cap_accepts;
    struct client **flushes;        /* guarded by inbox_lock; each holds a ref */
    size_t nflushes, cap_flushes;
    struct worker_job *jobs;        /* guarded by inbox_lock; owned array (worker_post) */
    size_t njobs, cap_jobs;
    bool stop;                      /* guarded by inbox_lock */
    bool announce_ldm;              /* guarded: send the lame-duck INFO */
    bool announce_info;             /* guarded: connect_urls changed */
    bool announce_route_info;       /* guarded: our route INFO changed */
    unsigned close_some;            /* guarded: clients to close (lame duck) */
    bool wake_armed;                /* guarded by inbox_lock: eventfd written */

    /* Loop thread only. */
    struct client **pending;        /* clients with output this iteration */
    size_t npending, cap_pending;
    struct client *clients;         /* open connections of this loop */
    uint64_t rng;
    bool running;

    /* Counters: written by the loop thread only, read by the monitor. */
    atomic_uint_fast64_t in_msgs, in_bytes, out_msgs, out_bytes;
};

struct worker *worker_new(struct server *srv, int index);
int worker_start(struct worker *w);
/* Ask the loop to close its connections and exit; then join it. */
void worker_stop(struct worker *w);
void worker_free(struct worker *w);

/* Main thread, lame duck mode (spec/client-protocol.md §2.3): tell this
 * loop's clients with an INFO carrying "ldm":true; later close them one by
 * one. Both only queue the request; the loop acts on its next wakeup. */
void worker_announce_ldm(struct worker *w);
/* Main or any thread: connect_urls changed; send eligible clients an INFO. */
void worker_announce_info(struct worker *w);
void worker_close_one(struct worker *w);
/* Any thread: this node's route INFO changed ("tern_raft"); send it again
 * on this loop's registered routes. */
void worker_announce_route_info(struct worker *w);

/* Main thread: hand over a connected socket: a client, or a route
 * (route_url: the configured route it was dialled for, -1 if accepted).
 * 0 or -ENOMEM (fd closed). */
int worker_add_socket(struct worker *w, int fd, const struct sockaddr *sa, socklen_t len,
                      enum client_kind kind, int route_url);

/* Any thread: run fn(w, arg) on w's loop thread at its next wakeup, jobs
 * in the order posted, outside any delivery (so fn may deliver with the
 * loop's own match cache). fn is called exactly once: on the loop; or,
 * when the loop stops before running it, with w NULL (on the stopping loop
 * or in worker_free), so that it can release arg. Never after
 * worker_free. 0, or -ENOMEM (fn is not called). */
int worker_post(struct worker *w, void (*fn)(struct worker *w, void *arg), void *arg);

/* Loop thread: client c has new output; flush it at the end of this
 * iteration (directly when c is ours, else through c's worker inbox). */
void worker_note_output(struct worker *w, struct client *c);

/* Random numbers for queue-group choice; loop thread only. */
uint32_t worker_rand(struct worker *w);

/* This loop's match cache of acc's subject index. */
static inline struct sublist_cache *worker_cache(struct worker *w, const struct account *acc)
{
    return w->caches[acc->index];
}

/* Single-writer counter bump: a plain add, no locked instruction. */
static inline void worker_count(atomic_uint_fast64_t *ctr, uint64_t n)
{
    atomic_store_explicit(ctr, atomic_load_explicit(ctr, memory_order_relaxed) + n,
                          memory_order_relaxed);
}

#endif
