/*
 * cluster/raft_transport_accept.c — raft connections adopted from the route
 * listener (see raft_transport.h, "Incoming").
 *
 * Adopted sockets cross threads once: raft_transport_adopt pushes them on a
 * queue under a mutex and wakes the loop with a uv_async_t; the loop parses
 * the preamble, opens the socket as a uv_tcp_t (with cluster TLS: bridges
 * it and its session to a uv_pipe_t), writes RAFTOK and, once that write is
 * done, hands the stream to raft. The async handle lives from raft's init()
 * to close(); `accepting` (under the mutex) is what makes uv_async_send
 * safe: it is cleared before the handle is closed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cluster/raft_transport_impl.h"
#include "server/log.h"
#include "server/tls.h"

static const char raftok[] = RAFT_PREAMBLE_OK;

static void incoming_unlink(struct incoming *in)
{
    struct transport *tr = in->tr;
    if (in->prev)
        in->prev->next = in->next;
    else
        tr->incoming = in->next;
    if (in->next)
        in->next->prev = in->prev;
}

void raft_transport__on_incoming_closed(uv_handle_t *h)
{
    struct incoming *in = h->data;
    struct transport *tr = in->tr;
    raft_free(in->tcp);
    incoming_unlink(in);
    free(in);
    raft_transport__maybe_closed(tr);
}

static void on_raftok_written(uv_write_t *w, int status)
{
    struct incoming *in = w->data;
    struct transport *tr = in->tr;
    if (in->aborted)
        return; /* close() closed the handle; its callback frees in */
    if (status < 0) {
        LOG_DEBUG("Raft connection from %s: %s", in->name, uv_strerror(status));
        uv_close((uv_handle_t *)in->tcp, raft_transport__on_incoming_closed);
        return;
    }
    uv_stream_t *stream = (uv_stream_t *)in->tcp;
    raft_id id = in->id;
    char name[NAME_MAX_LEN];
    memcpy(name, in->name, sizeof name);
    incoming_unlink(in);
    free(in);
    stream->data = NULL;
    tr->accept_cb(tr->t, id, name, stream);
}

/* An adopted plain socket as a uv_tcp_t for raft; NULL (fd closed, the
 * reason logged) on failure. */
static uv_stream_t *adopt_plain(struct transport *tr, int fd, const char *name)
{
    uv_tcp_t *tcp = raft_malloc(sizeof *tcp);
    if (!tcp) {
        LOG_ERROR("Out of memory taking a raft connection from %s", name);
        close(fd);
        return NULL;
    }
    uv_tcp_init(tr->loop, tcp);
    int rc = uv_tcp_open(tcp, fd);
    if (rc < 0) {
        LOG_ERROR("Raft connection from %s: %s", name, uv_strerror(rc));
        close(fd);
        uv_close((uv_handle_t *)tcp, raft_transport__free_handle);
        return NULL;
    }
    uv_tcp_nodelay(tcp, 1);
    return (uv_stream_t *)tcp;
}

/* An adopted TLS connection (handshake done by the route listener) as a
 * bridged uv_pipe_t for raft; NULL (all closed, logged) on failure. */
static uv_stream_t *adopt_tls(struct transport *tr, struct adopted *a, const char *name)
{
    char what[NAME_MAX_LEN + 32];
    snprintf(what, sizeof what, "Raft connection from %s", name);
    uv_pipe_t *pipe = NULL;
    int rc = raft_transport__bridge(tr, a->fd, a->tls, false, what, &pipe);
    if (rc < 0) {
        LOG_ERROR("%s: %s", what, strerror(-rc));
        return NULL;
    }
    return (uv_stream_t *)pipe;
}

static void take_adopted(struct transport *tr, struct adopted *a)
{
    uint64_t id;
    char name[NAME_MAX_LEN];
    int rc = raft_preamble_parse(a->line, a->len, &id, name, sizeof name);
    if (rc < 0) {
        char shown[101];
        size_t n = a->len < sizeof shown - 1 ? a->len : sizeof shown - 1;
        for (size_t i = 0; i < n; i++) /* the log gets no control bytes */
            shown[i] = a->line[i] >= 0x20 && a->line[i] < 0x7f ? a->line[i] : '?';
        shown[n] = '\0';
        LOG_WARN("Closing a cluster-port connection with a bad raft preamble: \"%s\"", shown);
        tls_conn_free(a->tls);
        close(a->fd);
        return;
    }
    struct incoming *in = calloc(1, sizeof *in);
    if (!in) {
        LOG_ERROR("Out of memory taking a raft connection from %s", name);
        tls_conn_free(a->tls);
        close(a->fd);
        return;
    }
    uv_stream_t *tcp = a->tls ? adopt_tls(tr, a, name) : adopt_plain(tr, a->fd, name);
    if (!tcp) {
        free(in);
        return;
    }
    in->tr = tr;
    in->tcp = tcp;
    in->id = id;
    memcpy(in->name, name, sizeof name);
    tcp->data = in;
    in->write.data = in;
    in->next = tr->incoming;
    if (tr->incoming)
        tr->incoming->prev = in;
    tr->incoming = in;
    uv_buf_t b = uv_buf_init((char *)raftok, sizeof raftok - 1);
    rc = uv_write(&in->write, tcp, &b, 1, on_raftok_written);
    if (rc < 0) {
        LOG_DEBUG("Raft connection from %s: %s", name, uv_strerror(rc));
        uv_close((uv_handle_t *)tcp, raft_transport__on_incoming_closed);
        return;
    }
    LOG_TRACE("Raft connection from %s (id %llu) adopted", name, (unsigned long long)id);
}

void raft_transport__on_wake(uv_async_t *h)
{
    struct transport *tr = h->data;
    pthread_mutex_lock(&tr->lock);
    struct adopted *q = tr->queue;
    size_t n = tr->nqueue;
    tr->queue = NULL;
    tr->nqueue = tr->cap = 0;
    pthread_mutex_unlock(&tr->lock);
    for (size_t i = 0; i < n; i++) {
        if (tr->closing) {
            tls_conn_free(q[i].tls);
            close(q[i].fd);
        } else
            take_adopted(tr, &q[i]);
    }
    free(q);
}

void raft_transport_adopt(struct raft_uv_transport *t, int fd, struct tls_conn *tls,
                          const char *line, size_t len)
{
    struct transport *tr = t->impl;
    if (len > RAFT_TRANSPORT_MAX_LINE) {
        LOG_WARN("Closing a cluster-port connection with a raft preamble of %zu bytes", len);
        tls_conn_free(tls);
        close(fd);
        return;
    }
    pthread_mutex_lock(&tr->lock);
    if (!tr->accepting)
        goto err_locked;
    if (tr->nqueue == tr->cap) {
        size_t cap = tr->cap ? tr->cap * 2 : 4;
        struct adopted *q = realloc(tr->queue, cap * sizeof *q);
        if (!q)
            goto err_locked;
        tr->queue = q;
        tr->cap = cap;
    }
    struct adopted *a = &tr->queue[tr->nqueue++];
    a->fd = fd;
    a->tls = tls;
    a->len = len;
    memcpy(a->line, line, len);
    uv_async_send(&tr->wake);
    pthread_mutex_unlock(&tr->lock);
    return;

err_locked:
    pthread_mutex_unlock(&tr->lock);
    LOG_DEBUG("Closing a raft connection: raft is not listening");
    tls_conn_free(tls);
    close(fd);
}
