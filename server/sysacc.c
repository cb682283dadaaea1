/*
 * server/sysacc.c — the system account's request subjects (see sysacc.h):
 * their subscriptions and the trip each request makes across threads.
 *
 * 1. An I/O loop delivers a request to one of the subscriptions (an
 *    internal client's, in the middle of that loop's delivery): on_request
 *    copies the reply subject and body onto the pending list under `lock`
 *    and writes the eventfd once per batch. Nothing else happens on the
 *    loop, so a flood of requests costs it a copy each, never a build.
 * 2. The main thread (the eventfd is watched by main_base) takes the whole
 *    list and answers each request with the monitor's builders, which are
 *    main-thread only like the HTTP endpoints (sysacc_answer.c).
 * 3. The reply goes back to the loop that heard the request through
 *    worker_post, which delivers it in the system account from its inbox:
 *    outside any delivery, so with the loop's own match cache (deliver.h).
 *
 * Every hand-over is under a mutex (lock, then the loop's inbox_lock), so
 * what one thread wrote the next reads after it; the eventfd only wakes.
 */
#include "server/sysacc.h"

#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "cluster/route.h"
#include "server/account.h"
#include "server/client.h"
#include "server/deliver.h"
#include "server/log.h"
#include "server/monitor.h"
#include "server/server.h"
#include "server/sublist.h"
#include "server/subs.h"
#include "server/sysacc_impl.h"
#include "server/worker.h"

/* Requests the main thread has not taken yet, at most (and their bytes:
 * a body may be max_payload long): past either a loop drops them, and the
 * main thread says so, rather than grow without bound while it is busy. */
#define SYSACC_MAX_PENDING 4096
#define SYSACC_MAX_PENDING_BYTES (64u << 20)

/* One request heard by a loop, on its way to the main thread. Allocated
 * by on_request, freed by the main thread once answered (or sysacc_stop). */
struct sysacc_req {
    struct sysacc_req *next;
    enum sysacc_ep ep;
    struct worker *w;          /* borrowed: where the reply goes out */
    size_t reply_len, body_len;
    size_t size;               /* the allocation, for the pending bytes */
    char *reply;               /* points into data */
    char *body;                /* points into data, after the reply's NUL */
    char data[];               /* owned with the struct */
};

/* ---- on a loop ---- */

static enum sysacc_ep endpoint_of(const struct sysacc *sa, const struct sub *s, bool *found)
{
    /* Seventeen pointers, compared once per request: a scan is enough. */
    for (size_t i = 0; i < SYSACC_NSUBS; i++)
        if (sa->subs[i] == s) {
            *found = true;
            return sa->sub_ep[i];
        }
    *found = false;
    return SYSACC_EP_STATSZ;
}

static struct sysacc_req *req_new(enum sysacc_ep ep, struct worker *w, const struct proto_msg *m)
{
    size_t body_len = m->total_len - m->hdr_len;
    size_t size = sizeof(struct sysacc_req) + m->reply.len + 1 + body_len + 1;
    struct sysacc_req *r = malloc(size);
    if (!r)
        return NULL;
    r->next = NULL;
    r->size = size;
    r->ep = ep;
    r->w = w;
    r->reply = r->data;
    r->reply_len = m->reply.len;
    memcpy(r->reply, m->reply.ptr, m->reply.len);
    r->reply[m->reply.len] = '\0';
    r->body = r->data + m->reply.len + 1;
    r->body_len = body_len;
    memcpy(r->body, m->data + m->hdr_len, body_len); /* the headers are not read */
    r->body[body_len] = '\0';
    return r;
}

static void enqueue(struct sysacc *sa, struct sysacc_req *r)
{
    pthread_mutex_lock(&sa->lock);
    /* One request alone always goes, however large max_payload is. */
    if (sa->npending >= SYSACC_MAX_PENDING ||
        (sa->npending && sa->pending_bytes + r->size > SYSACC_MAX_PENDING_BYTES)) {
        sa->dropped++;
        free(r);
    } else {
        if (sa->tail)
            sa->tail->next = r;
        else
            sa->head = r;
        sa->tail = r;
        sa->npending++;
        sa->pending_bytes += r->size;
    }
    if (!sa->wake_armed) {
        sa->wake_armed = true;
        uint64_t one = 1;
        ssize_t n = write(sa->wake_fd, &one, sizeof one);
        (void)n; /* an eventfd write fails only on counter overflow */
    }
    pthread_mutex_unlock(&sa->lock);
}

/* The internal client's delivery: on the loop w, inside its delivery. */
static bool on_request(void *arg, struct worker *w, const struct sub *s,
                       const struct proto_msg *m)
{
    struct sysacc *sa = arg;
    bool found;
    enum sysacc_ep ep = endpoint_of(sa, s, &found);
    /* Without a reply only statsz is sent (to its broadcast subject), as
     * nats-server's handlers do. */
    if (!found || (!m->reply.len && ep != SYSACC_EP_STATSZ))
        return found;
    struct sysacc_req *r = req_new(ep, w, m);
    if (!r) {
        LOG_ERROR("out of memory taking a system account request");
        return true;
    }
    enqueue(sa, r);
    return true;
}

static void on_flush(void *arg, struct worker *w)
{
    (void)arg; /* on_request hands each request over at once */
    (void)w;
}

/* ---- back on a loop: the reply ---- */

/* A reply built on the main thread, delivered by a loop. Owned by the
 * posted job, freed by send_reply. */
struct sysacc_reply {
    struct account *acc;       /* borrowed: the system account */
    size_t subject_len, len;
    char *subject;             /* points into data */
    char data[];               /* the payload, then the subject */
};

static void send_reply(struct worker *w, void *arg)
{
    struct sysacc_reply *r = arg;
    if (w) { /* NULL: the loop stopped first */
        struct proto_msg m = {
            .subject = { r->subject, r->subject_len },
            .total_len = r->len,
            .data = r->data,
        };
        deliver_in_account(w, r->acc, &m, false);
    }
    free(r);
}

/* The loop that heard the request, if it is one of the I/O loops (a
 * JetStream delivery has a loop of its own); otherwise the first. */
static struct worker *reply_loop(struct server *s, struct worker *w)
{
    if (w->index >= 0 && w->index < s->nworkers && s->workers[w->index] == w)
        return w;
    return s->workers[0];
}

void sysacc__post_reply(struct sysacc *sa, struct worker *heard, const char *subject,
                        size_t subject_len, const char *payload, size_t len)
{
    struct sysacc_reply *r = malloc(sizeof *r + len + subject_len);
    if (!r) {
        LOG_ERROR("out of memory answering a system account request");
        return;
    }
    r->acc = sa->acc;
    r->len = len;
    r->subject_len = subject_len;
    memcpy(r->data, payload, len);
    r->subject = r->data + len;
    memcpy(r->subject, subject, subject_len);
    if (worker_post(reply_loop(sa->srv, heard), send_reply, r) < 0) {
        LOG_ERROR("out of memory answering a system account request");
        free(r);
    }
}

/* ---- on the main thread ---- */

static void on_wake(evutil_socket_t fd, short what, void *arg)
{
    struct sysacc *sa = arg;
    uint64_t v;
    ssize_t n = read(fd, &v, sizeof v);
    (void)n; /* EAGAIN: nothing more to read */
    (void)what;
    pthread_mutex_lock(&sa->lock);
    struct sysacc_req *r = sa->head;
    uint64_t dropped = sa->dropped;
    sa->head = sa->tail = NULL;
    sa->npending = 0;
    sa->pending_bytes = 0;
    sa->dropped = 0;
    sa->wake_armed = false;
    pthread_mutex_unlock(&sa->lock);
    if (dropped)
        LOG_WARN("%llu system account requests dropped: too many were waiting",
                 (unsigned long long)dropped);
    while (r) {
        struct sysacc_req *next = r->next;
        sysacc__answer(sa, r->ep, r->w, r->reply, r->reply_len, r->body, r->body_len);
        free(r);
        r = next;
    }
}

/* ---- start and stop ---- */

static int subscribe(struct sysacc *sa, size_t i, const char *middle, enum sysacc_ep ep)
{
    char subject[128], sid[16];
    if (middle)
        snprintf(subject, sizeof subject, "$SYS.REQ.SERVER.%s.%s", middle, sysacc__ep_name(ep));
    else
        snprintf(subject, sizeof subject, "$SYS.REQ.SERVER.PING");
    snprintf(sid, sizeof sid, "sys%zu", i);
    struct sub *s = sub_new(sa->ic, subject, strlen(subject), NULL, 0, sid, strlen(sid));
    if (!s)
        return -ENOMEM;
    if (sublist_insert(sa->acc->sublist, &s->base) < 0) {
        sub_free(s);
        return -ENOMEM;
    }
    sa->subs[i] = s;
    sa->sub_ep[i] = ep;
    /* Routes carry it: every node hears a PING, the named node its own. */
    cluster_local_interest(sa->srv->cluster, sa->srv->workers[0], s, true);
    return 0;
}

static int subscribe_all(struct sysacc *sa)
{
    size_t i = 0;
    int rc = subscribe(sa, i++, NULL, SYSACC_EP_STATSZ);
    for (int ep = 0; rc == 0 && ep < SYSACC_EP_COUNT; ep++) {
        rc = subscribe(sa, i++, "PING", (enum sysacc_ep)ep);
        if (rc == 0)
            rc = subscribe(sa, i++, sa->srv->server_id, (enum sysacc_ep)ep);
    }
    return rc;
}

int sysacc_start(struct server *srv, struct sysacc **out)
{
    int rc = -ENOMEM;
    struct sysacc *sa = calloc(1, sizeof *sa);
    *out = NULL;
    if (!sa)
        return -ENOMEM;
    sa->srv = srv;
    sa->acc = srv->accounts->system;
    sa->wake_fd = -1;
    pthread_mutex_init(&sa->lock, NULL);
    /* The monitoring port starts later; without one, answers come from a
     * monitor of our own (whose CPU sample starts now). */
    if (!srv->opts.http_port && !srv->opts.https_port &&
        !(sa->own_monitor = monitor_new_headless(srv)))
        goto err_after_alloc;
    sa->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (sa->wake_fd < 0) {
        rc = -errno;
        goto err_after_alloc;
    }
    sa->wake_ev = event_new(srv->main_base, sa->wake_fd, EV_READ | EV_PERSIST, on_wake, sa);
    if (!sa->wake_ev || event_add(sa->wake_ev, NULL) < 0)
        goto err_after_alloc;
    /* The subscriptions' owner; any loop may deliver to them. */
    sa->ic = client_new_internal(srv, srv->workers[0], sa->acc, on_request, on_flush, sa);
    if (!sa->ic || (rc = subscribe_all(sa)) < 0)
        goto err_after_alloc;
    *out = sa;
    return 0;

err_after_alloc:
    sysacc_stop(sa);
    return rc < 0 ? rc : -ENOMEM;
}

void sysacc_stop(struct sysacc *sa)
{
    if (!sa)
        return;
    for (size_t i = 0; i < SYSACC_NSUBS; i++) {
        if (!sa->subs[i])
            continue;
        /* The loops have stopped: nothing holds it any more. */
        sublist_remove(sa->acc->sublist, &sa->subs[i]->base);
        sub_free(sa->subs[i]);
    }
    for (struct sysacc_req *r = sa->head, *next; r; r = next) {
        next = r->next;
        free(r);
    }
    client_free_internal(sa->ic);
    if (sa->wake_ev)
        event_free(sa->wake_ev);
    if (sa->wake_fd >= 0)
        close(sa->wake_fd);
    monitor_stop(sa->own_monitor);
    pthread_mutex_destroy(&sa->lock);
    free(sa);
}
