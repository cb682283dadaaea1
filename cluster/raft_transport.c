/*
 * cluster/raft_transport.c — canonical/raft's transport over the cluster
 * port (see raft_transport.h for the wire and what raft is handed):
 * dialling, and the struct raft_uv_transport operations.
 *
 * A dial is a small state machine on the raft loop: resolve (a literal
 * address skips the thread pool), TCP connect, write the preamble and read
 * lines until RAFTOK, every step under one re-armed timer. Whatever ends a
 * dial (success, failure, timeout, close()) goes through one place that
 * closes the dial's handles; its memory and raft's callback wait for the
 * last close callback, because libuv may still call a connect or write
 * callback (with UV_ECANCELED) until then. On success the TCP handle is
 * raft's and only the timer is left to close.
 *
 * Connections adopted from the route listener are raft_transport_accept.c's;
 * the cluster TLS bridge is raft_transport_tls.c's. With cluster TLS a dial
 * runs the same steps on a bridged uv_pipe_t: it swaps its TCP handle for
 * the pipe once connected (the socket is dup'ed into the TLS pump first),
 * and the preamble it writes waits in the socketpair until the pump's
 * handshake is done, all within the same step timer.
 *
 * close() fails pending dials with RAFT_CANCELED, closes adopted sockets
 * raft has not been given yet, ends the TLS pumps and calls back once
 * every handle is closed.
 */
#include "cluster/raft_transport.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cluster/raft_transport_impl.h"
#include "cluster/route.h"
#include "cluster/tls_pump.h"
#include "server/log.h"
#include "server/tls.h"

/* One outgoing connect request. Allocated by tr_connect, freed by
 * dial_maybe_free once no handle of it is open; lives on tr->dials. */
struct dial {
    struct transport *tr;              /* borrowed */
    struct raft_uv_connect *req;       /* borrowed: raft's; NULL once answered */
    struct dial *prev, *next;
    char peer[NAME_MAX_LEN];           /* the name raft gave */
    char host[256], port[8];
    uv_getaddrinfo_t gai;
    struct addrinfo *ai;               /* owned: what the name resolved to */
    struct addrinfo *ai_next;          /* tried when this address fails */
    uv_timer_t timer;
    uv_tcp_t *tcp;                     /* raft_malloc'd; raft's after success */
    uv_pipe_t *pipe;                   /* cluster TLS: raft_malloc'd, replaces
                                          tcp once connected (tcp_open then
                                          means this handle); raft's after
                                          success */
    uv_connect_t connect;
    uv_write_t write;
    uv_buf_t out;                      /* points into pre */
    char pre[RAFT_TRANSPORT_MAX_LINE + 3];
    char in[DIAL_IN_MAX];
    size_t nin;
    bool resolving;                    /* gai callback still to come */
    bool timer_open, tcp_open;         /* close callback still to come */
    bool written, got_ok;
    bool done;                         /* result decided */
    int result;                        /* for raft's callback */
};

static const char raftok[] = RAFT_PREAMBLE_OK;

void raft_transport__maybe_closed(struct transport *tr)
{
    if (!tr->closing || tr->dials || tr->incoming || tr->pumps || tr->wake_open ||
        !tr->close_cb)
        return;
    raft_uv_transport_close_cb cb = tr->close_cb;
    tr->close_cb = NULL;
    cb(tr->t);
}

void raft_transport__free_handle(uv_handle_t *h)
{
    raft_free(h);
}

/* ---- dialling ---- */

static void dial_unlink(struct dial *d)
{
    struct transport *tr = d->tr;
    if (d->prev)
        d->prev->next = d->next;
    else
        tr->dials = d->next;
    if (d->next)
        d->next->prev = d->prev;
}

/* Free d once libuv has nothing of it left; answer raft if not done yet. */
static void dial_maybe_free(struct dial *d)
{
    if (d->resolving || d->timer_open || d->tcp_open)
        return;
    struct transport *tr = d->tr;
    struct raft_uv_connect *req = d->req;
    int result = d->result;
    dial_unlink(d);
    uv_freeaddrinfo(d->ai);
    free(d);
    if (req)
        req->cb(req, NULL, result);
    raft_transport__maybe_closed(tr);
}

static void on_dial_timer_closed(uv_handle_t *h)
{
    struct dial *d = h->data;
    d->timer_open = false;
    dial_maybe_free(d);
}

static void on_dial_tcp_closed(uv_handle_t *h)
{
    struct dial *d = h->data;
    raft_free(h);
    d->tcp = NULL;
    d->pipe = NULL;
    d->tcp_open = false;
    dial_maybe_free(d);
}

/* The dial's stream: the TCP handle, or with cluster TLS once connected
 * the bridged pipe. */
static uv_stream_t *dial_stream(struct dial *d)
{
    return d->pipe ? (uv_stream_t *)d->pipe : (uv_stream_t *)d->tcp;
}

/* End d with result (RAFT_NOCONNECTION or RAFT_CANCELED); the detail goes
 * to errmsg and the debug log. */
static void dial_fail(struct dial *d, int result, const char *why)
{
    if (d->done)
        return;
    d->done = true;
    d->result = result;
    if (why) {
        snprintf(d->tr->t->errmsg, sizeof d->tr->t->errmsg, "raft dial %.100s: %.100s", d->peer,
                 why);
        LOG_DEBUG("Raft connection to %s (%s:%s) failed: %s", d->peer, d->host, d->port, why);
    }
    if (d->resolving)
        uv_cancel((uv_req_t *)&d->gai); /* if it has not started; else wait */
    if (d->timer_open && !uv_is_closing((uv_handle_t *)&d->timer))
        uv_close((uv_handle_t *)&d->timer, on_dial_timer_closed);
    if (d->tcp_open && !uv_is_closing((uv_handle_t *)dial_stream(d)))
        uv_close((uv_handle_t *)dial_stream(d), on_dial_tcp_closed);
    dial_maybe_free(d);
}

static void on_dial_timeout(uv_timer_t *timer)
{
    dial_fail(timer->data, RAFT_NOCONNECTION, "timed out");
}

static void rearm(struct dial *d)
{
    uv_timer_start(&d->timer, on_dial_timeout, d->tr->cfg.step_timeout_ms, 0);
}

/* Written and answered: the stream is raft's from here. */
static void dial_maybe_done(struct dial *d)
{
    if (!d->written || !d->got_ok || d->done)
        return;
    d->done = true;
    struct raft_uv_connect *req = d->req;
    uv_stream_t *stream = dial_stream(d);
    d->req = NULL;
    d->tcp = NULL;
    d->pipe = NULL;
    d->tcp_open = false;
    stream->data = NULL;
    uv_close((uv_handle_t *)&d->timer, on_dial_timer_closed);
    req->cb(req, stream, 0);
}

static void on_dial_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct dial *d = h->data;
    buf->base = d->in + d->nin;
    buf->len = sizeof d->in - d->nin;
}

/* Consume the complete lines in d->in. 0 to go on, or a failure reason. */
static const char *dial_lines(struct dial *d)
{
    for (;;) {
        char *end = memmem(d->in, d->nin, "\r\n", 2);
        if (!end)
            return d->nin == sizeof d->in ? "answer line too long" : NULL;
        size_t len = (size_t)(end - d->in);
        size_t used = len + 2;
        if (len == sizeof raftok - 3 && memcmp(d->in, raftok, len) == 0) {
            /* The acceptor sends nothing after RAFTOK: raft reads only the
             * connections it accepted. */
            if (used != d->nin)
                return "data after RAFTOK";
            d->got_ok = true;
            return NULL;
        }
        if (len >= 4 && memcmp(d->in, "-ERR", 4) == 0) {
            LOG_DEBUG("Raft connection to %s: %.*s", d->peer, (int)(len < 200 ? len : 200),
                      d->in);
            return "refused by the peer (-ERR)";
        }
        /* The route listener's INFO, or a PING its timer sent before it
         * saw the preamble. */
        bool skip = (len >= 5 && memcmp(d->in, "INFO ", 5) == 0) ||
                    (len == 4 && (memcmp(d->in, "PING", 4) == 0 || memcmp(d->in, "PONG", 4) == 0));
        if (!skip)
            return "unexpected answer (not a Tern route port?)";
        memmove(d->in, d->in + used, d->nin - used);
        d->nin -= used;
    }
}

static void on_dial_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct dial *d = s->data;
    if (d->done || nread == 0)
        return;
    if (nread < 0) {
        dial_fail(d, RAFT_NOCONNECTION, nread == UV_EOF ? "closed by the peer"
                                                        : uv_strerror((int)nread));
        return;
    }
    d->nin += (size_t)nread;
    const char *why = dial_lines(d);
    if (why) {
        dial_fail(d, RAFT_NOCONNECTION, why);
        return;
    }
    if (d->got_ok) {
        uv_read_stop(s);
        dial_maybe_done(d);
    }
}

static void on_dial_written(uv_write_t *w, int status)
{
    struct dial *d = w->data;
    if (d->done)
        return;
    if (status < 0) {
        dial_fail(d, RAFT_NOCONNECTION, uv_strerror(status));
        return;
    }
    d->written = true;
    dial_maybe_done(d);
}

static void dial_tcp(struct dial *d, const struct sockaddr *sa);

/* The last address failed: its handle is closed, try the next one. */
static void on_retry_closed(uv_handle_t *h)
{
    struct dial *d = h->data;
    raft_free(d->tcp);
    d->tcp = NULL;
    d->tcp_open = false;
    if (d->done) {
        dial_maybe_free(d);
        return;
    }
    struct addrinfo *next = d->ai_next;
    d->ai_next = next->ai_next;
    dial_tcp(d, next->ai_addr);
}

/* Connected: move the socket into a TLS pump and give the dial the
 * bridged pipe instead of the TCP handle. The acceptor's chain is verified
 * against the cluster CA, not its host: the address dialled is where its
 * route came from (raft_transport_config.resolve), which its certificate
 * need not name; the acceptor verifies our certificate likewise. */
static int dial_tls(struct dial *d)
{
    uv_os_fd_t fd;
    int rc = uv_fileno((uv_handle_t *)d->tcp, &fd);
    if (rc < 0)
        return rc;
    int nfd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (nfd < 0)
        return -errno;
    struct tls_conn *tc = tls_conn_new_client(d->tr->cfg.tls, nfd, NULL);
    if (!tc) {
        close(nfd);
        return -ENOMEM;
    }
    char what[NAME_MAX_LEN + 32];
    snprintf(what, sizeof what, "Raft connection to %s", d->peer);
    uv_pipe_t *pipe = NULL;
    if ((rc = raft_transport__bridge(d->tr, nfd, tc, true, what, &pipe)) < 0)
        return rc;
    /* The socket lives on in the pump; the TCP handle is done with. */
    uv_close((uv_handle_t *)d->tcp, raft_transport__free_handle);
    d->tcp = NULL;
    d->pipe = pipe;
    pipe->data = d;
    return 0;
}

static void on_dial_connected(uv_connect_t *c, int status)
{
    struct dial *d = c->data;
    if (d->done)
        return;
    if (status < 0 && d->ai_next) {
        /* A name with several addresses (IPv6 and IPv4): the next one,
         * within the same step timeout. */
        uv_close((uv_handle_t *)d->tcp, on_retry_closed);
        return;
    }
    if (status < 0) {
        dial_fail(d, RAFT_NOCONNECTION, uv_strerror(status));
        return;
    }
    rearm(d);
    int rc = d->tr->cfg.tls ? dial_tls(d) : 0;
    /* With TLS the preamble waits in the socketpair until the pump's
     * handshake is done; the step timer covers the handshake too. */
    if (rc == 0)
        rc = uv_write(&d->write, dial_stream(d), &d->out, 1, on_dial_written);
    if (rc == 0)
        rc = uv_read_start(dial_stream(d), on_dial_alloc, on_dial_read);
    if (rc < 0)
        dial_fail(d, RAFT_NOCONNECTION, uv_strerror(rc));
}

static void dial_tcp(struct dial *d, const struct sockaddr *sa)
{
    d->tcp = raft_malloc(sizeof *d->tcp);
    if (!d->tcp) {
        dial_fail(d, RAFT_NOCONNECTION, "out of memory");
        return;
    }
    uv_tcp_init(d->tr->loop, d->tcp);
    d->tcp->data = d;
    d->tcp_open = true;
    uv_tcp_nodelay(d->tcp, 1);
    if (!d->ai || d->ai_next == d->ai->ai_next)
        rearm(d); /* a new step; a next address shares the step's time */
    int rc = uv_tcp_connect(&d->connect, d->tcp, sa, on_dial_connected);
    if (rc < 0)
        dial_fail(d, RAFT_NOCONNECTION, uv_strerror(rc));
}

static void on_resolved(uv_getaddrinfo_t *g, int status, struct addrinfo *res)
{
    struct dial *d = g->data;
    d->resolving = false;
    if (d->done) {
        uv_freeaddrinfo(res);
        dial_maybe_free(d);
        return;
    }
    if (status < 0 || !res) {
        uv_freeaddrinfo(res);
        dial_fail(d, RAFT_NOCONNECTION, status < 0 ? uv_strerror(status) : "no address");
        return;
    }
    d->ai = res;
    d->ai_next = res->ai_next;
    dial_tcp(d, res->ai_addr);
}

/* "host:port" or "[v6]:port" into d->host and d->port. */
static bool split_addr(struct dial *d, const char *addr)
{
    const char *colon = strrchr(addr, ':');
    if (!colon || colon == addr || !colon[1] || strlen(colon + 1) >= sizeof d->port)
        return false;
    const char *h = addr;
    size_t hl = (size_t)(colon - addr);
    if (h[0] == '[' && hl >= 2 && h[hl - 1] == ']') {
        h++;
        hl -= 2;
    }
    if (!hl || hl >= sizeof d->host)
        return false;
    memcpy(d->host, h, hl);
    d->host[hl] = '\0';
    strcpy(d->port, colon + 1);
    return true;
}

static int tr_connect(struct raft_uv_transport *t, struct raft_uv_connect *req, raft_id id,
                      const char *address, raft_uv_connect_cb cb)
{
    struct transport *tr = t->impl;
    char where[320];
    if (tr->closing)
        return RAFT_CANCELED;
    if (strlen(address) >= NAME_MAX_LEN) {
        snprintf(t->errmsg, sizeof t->errmsg, "raft address too long");
        return RAFT_NOCONNECTION;
    }
    int rc = tr->cfg.resolve(tr->cfg.resolve_arg, address, where, sizeof where);
    if (rc < 0) {
        /* No route to it right now: raft tries again after its delay. */
        snprintf(t->errmsg, sizeof t->errmsg, "no route to %.100s: %s", address,
                 strerror(-rc));
        return RAFT_NOCONNECTION;
    }
    struct dial *d = calloc(1, sizeof *d);
    if (!d) {
        snprintf(t->errmsg, sizeof t->errmsg, "out of memory");
        return RAFT_NOMEM;
    }
    d->tr = tr;
    snprintf(d->peer, sizeof d->peer, "%s", address);
    size_t n = raft_preamble_format(d->pre, sizeof d->pre, tr->id, tr->name);
    if (!split_addr(d, where) || !n) {
        snprintf(t->errmsg, sizeof t->errmsg, "bad address %.100s for %.100s", where,
                 address);
        free(d);
        return RAFT_NOCONNECTION;
    }
    d->out = uv_buf_init(d->pre, (unsigned)n);
    d->req = req;
    req->cb = cb;
    uv_timer_init(tr->loop, &d->timer);
    d->gai.data = d->connect.data = d->write.data = d->timer.data = d;
    d->timer_open = true;
    d->next = tr->dials;
    if (tr->dials)
        tr->dials->prev = d;
    tr->dials = d;
    LOG_TRACE("Raft dialling %s (id %llu) at %s", address, (unsigned long long)id, where);

    /* From here every failure is reported through cb, later. */
    union {
        struct sockaddr sa;
        struct sockaddr_in in4;
        struct sockaddr_in6 in6;
    } lit;
    int port = atoi(d->port);
    if (uv_ip4_addr(d->host, port, &lit.in4) == 0 || uv_ip6_addr(d->host, port, &lit.in6) == 0) {
        dial_tcp(d, &lit.sa);
        return 0;
    }
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
    rearm(d);
    d->resolving = true;
    rc = uv_getaddrinfo(tr->loop, &d->gai, on_resolved, d->host, d->port, &hints);
    if (rc < 0) {
        d->resolving = false;
        dial_fail(d, RAFT_NOCONNECTION, uv_strerror(rc));
    }
    return 0;
}

/* ---- struct raft_uv_transport ---- */

static int tr_init(struct raft_uv_transport *t, raft_id id, const char *address)
{
    struct transport *tr = t->impl;
    if (strlen(address) >= sizeof tr->name) {
        snprintf(t->errmsg, sizeof t->errmsg, "raft address too long");
        return RAFT_INVALID;
    }
    char probe[RAFT_TRANSPORT_MAX_LINE + 3];
    if (!raft_preamble_format(probe, sizeof probe, id, address)) {
        snprintf(t->errmsg, sizeof t->errmsg, "raft address \"%.100s\" is not a server name",
                 address);
        return RAFT_INVALID;
    }
    tr->id = id;
    snprintf(tr->name, sizeof tr->name, "%s", address);
    int rc = uv_async_init(tr->loop, &tr->wake, raft_transport__on_wake);
    if (rc < 0) {
        snprintf(t->errmsg, sizeof t->errmsg, "uv_async_init: %s", uv_strerror(rc));
        return RAFT_IOERR;
    }
    tr->wake.data = tr;
    tr->wake_open = true;
    return 0;
}

static int tr_listen(struct raft_uv_transport *t, raft_uv_accept_cb cb)
{
    struct transport *tr = t->impl;
    tr->accept_cb = cb;
    pthread_mutex_lock(&tr->lock);
    tr->accepting = true;
    pthread_mutex_unlock(&tr->lock);
    return 0;
}

static void on_wake_closed(uv_handle_t *h)
{
    struct transport *tr = h->data;
    tr->wake_open = false;
    raft_transport__maybe_closed(tr);
}

static void tr_close(struct raft_uv_transport *t, raft_uv_transport_close_cb cb)
{
    struct transport *tr = t->impl;
    tr->closing = true;
    tr->close_cb = cb;
    pthread_mutex_lock(&tr->lock);
    tr->accepting = false;
    struct adopted *q = tr->queue;
    size_t n = tr->nqueue;
    tr->queue = NULL;
    tr->nqueue = tr->cap = 0;
    pthread_mutex_unlock(&tr->lock);
    for (size_t i = 0; i < n; i++) {
        tls_conn_free(q[i].tls);
        close(q[i].fd);
    }
    free(q);
    /* Pumps end on their own once their close callbacks have run. */
    for (struct pump_link *l = tr->pumps; l; l = l->next)
        tls_pump_close(l->pump);
    /* dial_fail may free the dial (and unlink it): walk with a saved next. */
    for (struct dial *d = tr->dials, *next; d; d = next) {
        next = d->next;
        dial_fail(d, RAFT_CANCELED, NULL);
    }
    for (struct incoming *in = tr->incoming; in; in = in->next) {
        in->aborted = true;
        uv_close((uv_handle_t *)in->tcp, raft_transport__on_incoming_closed);
    }
    if (tr->wake_open && !uv_is_closing((uv_handle_t *)&tr->wake))
        uv_close((uv_handle_t *)&tr->wake, on_wake_closed);
    raft_transport__maybe_closed(tr);
}

static int resolve_route(void *arg, const char *name, char *out, size_t cap)
{
    return cluster_peer_route_addr(arg, name, out, cap);
}

int raft_transport_init_config(struct raft_uv_transport *t, uv_loop_t *loop,
                               const struct raft_transport_config *cfg)
{
    struct transport *tr = calloc(1, sizeof *tr);
    if (!tr)
        return -ENOMEM;
    tr->t = t;
    tr->loop = loop;
    tr->cfg = *cfg;
    if (!tr->cfg.step_timeout_ms)
        tr->cfg.step_timeout_ms = RAFT_TRANSPORT_STEP_TIMEOUT_MS;
    pthread_mutex_init(&tr->lock, NULL);
    t->impl = tr;
    t->init = tr_init;
    t->listen = tr_listen;
    t->connect = tr_connect;
    t->close = tr_close;
    return 0;
}

int raft_transport_init(struct raft_uv_transport *t, uv_loop_t *loop, struct cluster *cl)
{
    struct raft_transport_config cfg = { .resolve = resolve_route, .resolve_arg = cl,
                                         .tls = cluster_tls_ctx(cl) };
    return raft_transport_init_config(t, loop, &cfg);
}

void raft_transport_free(struct raft_uv_transport *t)
{
    struct transport *tr = t ? t->impl : NULL;
    if (!tr)
        return;
    /* Only a transport raft never init()ed can have a queue left here; its
     * sockets were never ours to keep. */
    for (size_t i = 0; i < tr->nqueue; i++) {
        tls_conn_free(tr->queue[i].tls);
        close(tr->queue[i].fd);
    }
    free(tr->queue);
    pthread_mutex_destroy(&tr->lock);
    free(tr);
    t->impl = NULL;
}
