/*
 * cluster/tls_pump.c — moves bytes between a TLS session and a local
 * socketpair end (see tls_pump.h for why raft needs it).
 *
 * Two uv_poll_t watch the two descriptors; every event runs the same step:
 * first net → local (decrypt into `down`, write it to the local end), then
 * local → net (read the local end into `up`, encrypt it out). Each
 * direction holds at most one buffer: a direction whose buffer cannot be
 * written stops reading its source, so a slow reader on either side slows
 * the writer on the other (backpressure through the socket buffers), and
 * memory stays two buffers per connection. The polls are re-armed after
 * each step with exactly what the step stopped on, so nothing spins.
 *
 * While the handshake runs (a dial), the local end is watched for a hang-up
 * only: the preamble raft's transport has written waits in the socketpair
 * until the session can carry it.
 */
#include "cluster/tls_pump.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "server/log.h"
#include "server/tls.h"

#define PUMP_BUF (64 * 1024)

/* Allocated by tls_pump_start, freed when its last handle has closed. */
struct tls_pump {
    uv_poll_t net_poll, local_poll;
    int net_fd, local_fd;          /* owned */
    struct tls_conn *tc;           /* owned */
    bool handshaking;
    bool local_eof;                /* raft closed its end: flush up, then end */
    bool ending;                   /* handles are closing */
    int open_handles;
    tls_pump_closed_cb closed;
    void *arg;
    char what[128];
    size_t up_off, up_len;         /* local → net, plaintext not yet in the session */
    size_t down_off, down_len;     /* net → local, plaintext not yet written */
    char up[PUMP_BUF], down[PUMP_BUF];
};

static void on_handle_closed(uv_handle_t *h)
{
    struct tls_pump *p = h->data;
    if (--p->open_handles > 0)
        return;
    /* The polls are gone from the loop: the descriptors can go now. */
    close(p->net_fd);
    close(p->local_fd);
    tls_conn_free(p->tc);
    tls_pump_closed_cb cb = p->closed;
    void *arg = p->arg;
    free(p);
    if (cb)
        cb(arg);
}

/* End both sides; why (or NULL for an orderly end) goes to the debug log. */
static void end(struct tls_pump *p, const char *why)
{
    if (p->ending)
        return;
    p->ending = true;
    if (why)
        LOG_DEBUG("%s closed: %s", p->what, why);
    uv_close((uv_handle_t *)&p->net_poll, on_handle_closed);
    uv_close((uv_handle_t *)&p->local_poll, on_handle_closed);
}

static void on_poll(uv_poll_t *h, int status, int events);

static void arm(struct tls_pump *p, bool net_r, bool net_w, bool loc_r, bool loc_w)
{
    int ne = (net_r ? UV_READABLE : 0) | (net_w ? UV_WRITABLE : 0);
    int le = (loc_r ? UV_READABLE : 0) | (loc_w ? UV_WRITABLE : 0);
    if (p->handshaking)
        le = UV_DISCONNECT;
    int rc = ne ? uv_poll_start(&p->net_poll, ne, on_poll) : uv_poll_stop(&p->net_poll);
    if (rc == 0)
        rc = le ? uv_poll_start(&p->local_poll, le, on_poll) : uv_poll_stop(&p->local_poll);
    if (rc < 0)
        end(p, uv_strerror(rc));
}

/* Net → local until a side would block. False when the pump ended. */
static bool pump_down(struct tls_pump *p, bool *net_r, bool *net_w, bool *loc_w)
{
    for (;;) {
        if (p->down_off < p->down_len) {
            ssize_t n = send(p->local_fd, p->down + p->down_off, p->down_len - p->down_off,
                             MSG_NOSIGNAL);
            if (n > 0) {
                p->down_off += (size_t)n;
                continue;
            }
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                *loc_w = true;
                return true;
            }
            end(p, "the local end is gone");
            return false;
        }
        p->down_off = p->down_len = 0;
        ssize_t n = tls_read(p->tc, p->down, sizeof p->down);
        if (n > 0) {
            p->down_len = (size_t)n;
            continue;
        }
        if (n == TLS_WANT_READ) {
            *net_r = true;
            return true;
        }
        if (n == TLS_WANT_WRITE) {
            *net_w = true;
            return true;
        }
        end(p, n == 0 ? "the peer closed the session" : "the peer's connection ended");
        return false;
    }
}

/* Local → net until a side would block. False when the pump ended. */
static bool pump_up(struct tls_pump *p, bool *net_r, bool *net_w, bool *loc_r)
{
    for (;;) {
        if (p->up_off < p->up_len) {
            ssize_t n = tls_write(p->tc, p->up + p->up_off, p->up_len - p->up_off);
            if (n > 0) {
                p->up_off += (size_t)n;
                continue;
            }
            if (n == TLS_WANT_WRITE) {
                *net_w = true;
                return true;
            }
            if (n == TLS_WANT_READ) {
                *net_r = true;
                return true;
            }
            end(p, "write error");
            return false;
        }
        p->up_off = p->up_len = 0;
        if (p->local_eof) {
            /* Everything raft wrote before closing is in the session. */
            tls_shutdown(p->tc);
            end(p, NULL);
            return false;
        }
        ssize_t n = recv(p->local_fd, p->up, sizeof p->up, 0);
        if (n > 0) {
            p->up_len = (size_t)n;
            continue;
        }
        if (n == 0) {
            p->local_eof = true;
            continue;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            *loc_r = true;
            return true;
        }
        end(p, "the local end is gone");
        return false;
    }
}

/* One step: the handshake, or both directions; then re-arm. */
static void step(struct tls_pump *p)
{
    bool net_r = false, net_w = false, loc_r = false, loc_w = false;
    if (p->handshaking) {
        char why[256] = "";
        int rc = tls_handshake(p->tc, why, sizeof why);
        if (rc == TLS_WANT_READ || rc == TLS_WANT_WRITE) {
            arm(p, rc == TLS_WANT_READ, rc == TLS_WANT_WRITE, false, false);
            return;
        }
        if (rc != 1) {
            LOG_ERROR("%s: TLS handshake error: %s", p->what, why);
            end(p, NULL);
            return;
        }
        p->handshaking = false;
        char version[8], cipher[64];
        tls_describe(p->tc, version, sizeof version, cipher, sizeof cipher);
        LOG_DEBUG("%s: TLS handshake complete (TLS %s, %s)", p->what, version, cipher);
    }
    if (!pump_down(p, &net_r, &net_w, &loc_w) || !pump_up(p, &net_r, &net_w, &loc_r))
        return;
    arm(p, net_r, net_w, loc_r, loc_w);
}

static void on_poll(uv_poll_t *h, int status, int events)
{
    struct tls_pump *p = h->data;
    if (p->ending)
        return;
    if (status < 0) {
        end(p, uv_strerror(status));
        return;
    }
    /* Only armed during the handshake: whoever dialled gave up. */
    if (h == &p->local_poll && (events & UV_DISCONNECT) && p->handshaking) {
        end(p, "closed during the TLS handshake");
        return;
    }
    step(p);
}

static int nonblocking(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    return fl >= 0 && fcntl(fd, F_SETFL, fl | O_NONBLOCK) == 0 ? 0 : -errno;
}

int tls_pump_start(uv_loop_t *loop, int net_fd, struct tls_conn *tc, bool handshake,
                   int local_fd, const char *what, tls_pump_closed_cb closed, void *arg,
                   struct tls_pump **out)
{
    int rc = -ENOMEM;
    struct tls_pump *p = malloc(sizeof *p);
    if (!p)
        goto err_close_fds;
    if ((rc = nonblocking(net_fd)) < 0 || (rc = nonblocking(local_fd)) < 0)
        goto err_free_pump;
    memset(p, 0, offsetof(struct tls_pump, up));
    p->net_fd = net_fd;
    p->local_fd = local_fd;
    p->tc = tc;
    p->handshaking = handshake;
    p->closed = closed;
    p->arg = arg;
    snprintf(p->what, sizeof p->what, "%s", what);
    if ((rc = uv_poll_init(loop, &p->net_poll, net_fd)) < 0)
        goto err_free_pump;
    p->net_poll.data = p;
    p->open_handles = 1;
    if ((rc = uv_poll_init(loop, &p->local_poll, local_fd)) < 0) {
        /* The one handle closes first; its callback frees the rest. */
        p->closed = NULL;
        uv_close((uv_handle_t *)&p->net_poll, on_handle_closed);
        return rc;
    }
    p->local_poll.data = p;
    p->open_handles = 2;
    *out = p;
    step(p); /* a dial's ClientHello goes now */
    return 0;

err_free_pump:
    free(p);
err_close_fds:
    close(net_fd);
    close(local_fd);
    tls_conn_free(tc);
    return rc;
}

void tls_pump_close(struct tls_pump *p)
{
    end(p, NULL);
}
