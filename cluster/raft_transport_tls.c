/*
 * cluster/raft_transport_tls.c — cluster TLS for raft's transport: raft is
 * given one end of a socketpair as a uv_pipe_t, and a TLS pump
 * (cluster/tls_pump.h) the other end with the socket and its session.
 * The transport keeps its pumps on a list, so that close() can end them
 * and call back only once they are gone. Raft loop only.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cluster/raft_transport_impl.h"
#include "cluster/tls_pump.h"
#include "server/tls.h"

static void on_pump_closed(void *arg)
{
    struct pump_link *l = arg;
    struct transport *tr = l->tr;
    if (l->prev)
        l->prev->next = l->next;
    else
        tr->pumps = l->next;
    if (l->next)
        l->next->prev = l->prev;
    free(l);
    raft_transport__maybe_closed(tr);
}

int raft_transport__bridge(struct transport *tr, int net_fd, struct tls_conn *tc,
                           bool handshake, const char *what, uv_pipe_t **out)
{
    int sp[2] = { -1, -1 };
    int rc = -ENOMEM;
    struct pump_link *l = calloc(1, sizeof *l);
    uv_pipe_t *pipe = raft_malloc(sizeof *pipe);
    if (!l || !pipe)
        goto err_free;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0) {
        rc = -errno;
        goto err_free;
    }
    uv_pipe_init(tr->loop, pipe, 0);
    if ((rc = uv_pipe_open(pipe, sp[1])) < 0) {
        close(sp[1]);
        uv_close((uv_handle_t *)pipe, raft_transport__free_handle);
        pipe = NULL;
        goto err_close_pair;
    }
    l->tr = tr;
    /* The pump takes net_fd, tc and sp[0] from here, also on failure. */
    rc = tls_pump_start(tr->loop, net_fd, tc, handshake, sp[0], what, on_pump_closed, l,
                        &l->pump);
    if (rc < 0) {
        free(l);
        uv_close((uv_handle_t *)pipe, raft_transport__free_handle);
        return rc;
    }
    l->next = tr->pumps;
    if (tr->pumps)
        tr->pumps->prev = l;
    tr->pumps = l;
    *out = pipe;
    return 0;

err_close_pair:
    close(sp[0]);
err_free:
    free(l);
    raft_free(pipe);
    close(net_fd);
    tls_conn_free(tc);
    return rc;
}
