/*
 * server/client_tls.c — a TLS client's handshake and reads (see client.h;
 * writes go through client.c's write_wbuf, which calls server/tls.c).
 *
 * The handshake runs after the plaintext INFO is on the wire, as nats-server
 * 2.9 does it (a route's, with cluster TLS, before any line: the route
 * starts once it is done), on the connection's own loop, never waiting:
 * each readable (or, when the session asks, writable) event pushes it on,
 * and a timer ends one that takes too long. Once done, reads take what the session has,
 * up to one read buffer per pass, and hand it to the parser.
 */
#include <event2/event.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>

#include "cluster/route.h"
#include "server/client.h"
#include "server/client_impl.h"
#include "server/log.h"
#include "server/server.h"
#include "server/tls.h"
#include "server/worker.h"

static void tls_failed(struct client *c, const char *why)
{
    if (c->kind == CLIENT_KIND_ROUTE) {
        /* nats-server's words; /varz counts the client port's only. */
        LOG_ERROR("%s:%d - rid:%llu - TLS route handshake error: %s", c->ip, c->port,
                  (unsigned long long)c->cid, why);
        client_close(c, "TLS Handshake Failure", NULL);
        return;
    }
    LOG_ERROR("%s:%d - cid:%llu - TLS handshake error: %s", c->ip, c->port,
              (unsigned long long)c->cid, why);
    atomic_fetch_add(&c->srv->tls_handshake_failures, 1);
    /* As nats-server: no -ERR, the client is not speaking our TLS. */
    client_close(c, "TLS Handshake Failure", NULL);
}

void client__on_tls_timeout(evutil_socket_t fd, short what, void *arg)
{
    struct client *c = arg;
    if (c->tls_state != CLIENT_TLS_HANDSHAKE)
        return;
    LOG_ERROR("%s:%d - %s:%llu - TLS handshake timeout", c->ip, c->port,
              c->kind == CLIENT_KIND_ROUTE ? "rid" : "cid", (unsigned long long)c->cid);
    tls_failed(c, "timeout");
}

static void tls_done(struct client *c)
{
    event_del(c->tls_timer);
    char version[8], cipher[64];
    tls_describe(c->tls, version, sizeof version, cipher, sizeof cipher);
    pthread_mutex_lock(&c->srv->registry_lock);
    snprintf(c->tls_version, sizeof c->tls_version, "%s", version);
    snprintf(c->tls_cipher, sizeof c->tls_cipher, "%s", cipher);
    pthread_mutex_unlock(&c->srv->registry_lock);
    c->tls_state = CLIENT_TLS_READY;
    const char *kind = c->kind == CLIENT_KIND_ROUTE ? "rid" : "cid";
    LOG_DEBUG("%s:%d - %s:%llu - TLS handshake complete", c->ip, c->port, kind,
              (unsigned long long)c->cid);
    LOG_DEBUG("%s:%d - %s:%llu - TLS version %s, cipher suite %s", c->ip, c->port, kind,
              (unsigned long long)c->cid, version, cipher);
    if (c->kind == CLIENT_KIND_ROUTE) {
        /* Only now the route's INFO (and CONNECT when we dialled). */
        if (route_tls_ready(c) < 0)
            client_close(c, "Server Shutdown", NULL);
        return;
    }
    if (tls_ctx_map(c->tls_ctx) && tls_peer_names(c->tls, &c->cert_names, &c->ncert_names) < 0)
        LOG_ERROR("out of memory reading the client certificate of cid %llu",
                  (unsigned long long)c->cid);
    if (c->auth_timer && !c->ws)
        client__arm_auth_timer(c);
}

/* Reads what the session has, up to one read buffer, and parses it. */
static void tls_read_batch(struct client *c)
{
    char *rb = c->w->readbuf;
    size_t got = 0;
    ssize_t n = 0;
    /* Released before parsing: handlers may write (and so lock) or close. */
    pthread_mutex_lock(&c->tls_lock);
    while (got < WORKER_READBUF && (n = tls_read(c->tls, rb + got, WORKER_READBUF - got)) > 0)
        got += (size_t)n;
    bool more = got == WORKER_READBUF && tls_has_pending(c->tls);
    pthread_mutex_unlock(&c->tls_lock);
    if (got) {
        client__parse_input(c, got);
        if (c->closed)
            return;
    }
    if (got == WORKER_READBUF) {
        /* Records already pulled off the socket will not make it readable
         * again: come back on this loop's next pass. */
        if (more)
            event_active(c->read_ev, EV_READ, 1);
        return;
    }
    if (n == 0) {
        client_close(c, "Client Closed", NULL);
        return;
    }
    if (n == TLS_FAILED) {
        client_close(c, "Read Error", NULL);
        return;
    }
    if (n == TLS_WANT_WRITE) {
        c->tls_read_wants_write = true;
        event_add(c->write_ev, NULL);
    }
    if (atomic_exchange(&c->tls_write_wants_read, false))
        client_flush(c);
}

/* The socket moved (readable, or writable when the session asked): push
 * the handshake on, or read. Never waits. */
void client__tls_progress(struct client *c)
{
    if (c->tls_state == CLIENT_TLS_READY) {
        tls_read_batch(c);
        return;
    }
    /* The plaintext INFO must be on the wire before the session writes. */
    if (atomic_load_explicit(&c->wpending, memory_order_relaxed) > 0)
        return;
    char why[256] = "";
    int rc = tls_handshake(c->tls, why, sizeof why);
    if (rc == TLS_WANT_READ)
        return;
    if (rc == TLS_WANT_WRITE) {
        c->tls_read_wants_write = true;
        event_add(c->write_ev, NULL);
        return;
    }
    if (rc != 1) {
        tls_failed(c, why);
        return;
    }
    tls_done(c);
    tls_read_batch(c); /* the CONNECT may have come with the last flight */
}
