/*
 * server/client.c — a client connection's life: accept, read, write,
 * timers, close (see client.h). The protocol verbs are in client_ops.c.
 *
 * Output path: anyone appends to `out` under out_lock; the owning loop
 * swaps `out` into `wbuf` and writes wbuf without holding the lock, so a
 * slow socket never stalls a publisher on another loop. Pending bytes
 * (out + wbuf) above max_pending make a slow consumer, closed without
 * -ERR (spec/client-protocol.md §2.2); a write that stays blocked past
 * write_deadline does too.
 *
 * TLS sits behind the same seam: on_read() and write_wbuf() call
 * server/tls.c instead of read()/write() once the handshake is done (the
 * handshake and TLS reads are client_tls.c's). A
 * publisher's loop still writes a TLS subscriber directly, as it does a
 * plain one (the session is shared under tls_lock): handing every message
 * to the owner's loop cost a thread wake-up per request/reply hop. When
 * the owner holds the session (reading), the publisher leaves the bytes
 * to it instead of sleeping on the lock.
 *
 * WebSocket (server/ws.c) layers on the same seam, above TLS: what is read
 * (after decryption) goes to ws_input() instead of the parser, and output
 * is framed as it moves from `out` to `wbuf` (take_output), so wbuf holds
 * frames and TLS encrypts them like any other bytes.
 */
#include "server/client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cluster/route.h"
#include "server/account.h"
#include "server/auth.h"
#include "server/client_impl.h"
#include "server/client_ops.h"
#include "server/info.h"
#include "server/log.h"
#include "server/perms.h"
#include "server/reclaim.h"
#include "server/replies.h"
#include "server/server.h"
#include "server/subs.h"
#include "server/tls.h"
#include "server/worker.h"
#include "server/ws.h"

/* A drained buffer keeps up to CLIENT_BUSY_BUF between flushes: freeing
 * and re-faulting a few hundred KiB per read batch dominated fan-out
 * profiles. On each ping tick a drained buffer drops back to
 * CLIENT_IDLE_BUF, so a past burst does not pin memory for long. */
#define CLIENT_BUSY_BUF (1024 * 1024)
#define CLIENT_IDLE_BUF (64 * 1024)

static void on_read(evutil_socket_t fd, short what, void *arg);
static void on_write(evutil_socket_t fd, short what, void *arg);
static void on_auth_timeout(evutil_socket_t fd, short what, void *arg);
static void on_ping_timer(evutil_socket_t fd, short what, void *arg);
static void on_write_deadline(evutil_socket_t fd, short what, void *arg);

static struct timeval ms_to_tv(int64_t ms)
{
    struct timeval tv = { (time_t)(ms / 1000), (suseconds_t)((ms % 1000) * 1000) };
    return tv;
}

static void client_free(void *arg)
{
    struct client *c = arg;
    proto_parser_free(&c->parser);
    buf_free(&c->wbuf);
    buf_free(&c->out);
    free(c->expired);
    replies_free(c->replies);
    perms_free(c->own_perms);
    free(c->name);
    free(c->lang);
    free(c->version);
    route_free(c->route);
    tls_conn_free(c->tls);    /* NULL unless accept failed before a close */
    tls_ctx_unref(c->tls_ctx);
    tls_free_names(c->cert_names, c->ncert_names);
    ws_conn_free(c->ws);
    kmap_clear(&c->sids);
    pthread_mutex_destroy(&c->out_lock);
    pthread_mutex_destroy(&c->subs_lock);
    pthread_mutex_destroy(&c->write_lock);
    pthread_mutex_destroy(&c->tls_lock);
    free(c);
}

static void describe_peer(struct client *c, const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &in->sin_addr, c->ip, sizeof c->ip);
        c->port = ntohs(in->sin_port);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, c->ip, sizeof c->ip);
        c->port = ntohs(in6->sin6_port);
    } else {
        snprintf(c->ip, sizeof c->ip, "unknown");
    }
}

static void link_client(struct client *c)
{
    struct worker *w = c->w;
    c->loop_next = w->clients;
    if (w->clients)
        w->clients->loop_prev = c;
    w->clients = c;
    if (c->kind != CLIENT_KIND_CLIENT)
        return; /* /connz and the closed ring list clients only */

    struct server *s = c->srv;
    pthread_mutex_lock(&s->registry_lock);
    c->reg_next = s->clients;
    if (s->clients)
        s->clients->reg_prev = c;
    s->clients = c;
    pthread_mutex_unlock(&s->registry_lock);
}

static void unlink_client(struct client *c, const char *reason)
{
    struct worker *w = c->w;
    if (c->loop_prev)
        c->loop_prev->loop_next = c->loop_next;
    else
        w->clients = c->loop_next;
    if (c->loop_next)
        c->loop_next->loop_prev = c->loop_prev;
    if (c->kind != CLIENT_KIND_CLIENT)
        return;

    struct server *s = c->srv;
    struct conn_record rec;
    pthread_mutex_lock(&s->registry_lock);
    client_fill_record(c, &rec);
    clock_gettime(CLOCK_REALTIME, &rec.stop);
    rec.reason = reason;
    if (c->reg_prev)
        c->reg_prev->reg_next = c->reg_next;
    else
        s->clients = c->reg_next;
    if (c->reg_next)
        c->reg_next->reg_prev = c->reg_prev;
    pthread_mutex_unlock(&s->registry_lock);
    server_record_closed(s, &rec);
}

void client__arm_auth_timer(struct client *c)
{
    int64_t ms = (int64_t)(auth_timeout(c->auth) * 1000.0);
    struct timeval tv = ms_to_tv(ms > 0 ? ms : 2000);
    event_add(c->auth_timer, &tv);
}

static int make_events(struct client *c)
{
    struct event_base *base = c->w->base;
    c->read_ev = event_new(base, c->fd, EV_READ | EV_PERSIST, on_read, c);
    c->write_ev = event_new(base, c->fd, EV_WRITE | EV_PERSIST, on_write, c);
    c->ping_timer = event_new(base, -1, EV_PERSIST, on_ping_timer, c);
    c->wd_timer = event_new(base, -1, 0, on_write_deadline, c);
    if (!c->read_ev || !c->write_ev || !c->ping_timer || !c->wd_timer)
        return -ENOMEM;
    if (c->kind == CLIENT_KIND_CLIENT && auth_required(c->auth)) {
        c->auth_timer = event_new(base, -1, 0, on_auth_timeout, c);
        if (!c->auth_timer)
            return -ENOMEM;
        /* A TLS client's CONNECT can only come after its handshake, which
         * has its own timeout: its auth clock starts once that is done (for
         * a WebSocket client, once the upgrade is). */
        if (!c->tls && !c->ws)
            client__arm_auth_timer(c);
    }
    if (c->tls) {
        c->tls_timer = event_new(base, -1, 0, client__on_tls_timeout, c);
        if (!c->tls_timer)
            return -ENOMEM;
        struct timeval tv = ms_to_tv((int64_t)(tls_ctx_timeout(c->tls_ctx) * 1000.0));
        event_add(c->tls_timer, &tv);
    }
    if (c->ws && ws_arm(c) < 0)
        return -ENOMEM;
    struct timeval ping = ms_to_tv(atomic_load(&c->srv->ping_interval_ms));
    event_add(c->ping_timer, &ping);
    return event_add(c->read_ev, NULL);
}

static void free_events(struct client *c)
{
    struct event **evs[] = { &c->read_ev, &c->write_ev, &c->auth_timer,
                             &c->ping_timer, &c->wd_timer, &c->tls_timer };
    for (size_t i = 0; i < sizeof evs / sizeof evs[0]; i++) {
        if (*evs[i]) {
            event_free(*evs[i]);
            *evs[i] = NULL;
        }
    }
    ws_free_events(c->ws);
}

int client_accept(struct worker *w, int fd, const struct sockaddr *sa, socklen_t len,
                  enum client_kind kind, int route_url)
{
    struct server *s = w->srv;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (evutil_make_socket_nonblocking(fd) < 0) {
        close(fd);
        return -EIO;
    }
    struct client *c = calloc(1, sizeof *c);
    if (!c) {
        close(fd);
        return -ENOMEM;
    }
    c->srv = s;
    c->w = w;
    c->kind = kind;
    c->fd = fd;
    c->cid = atomic_fetch_add(&s->next_cid, 1);
    c->verbose = c->pedantic = c->echo = true;  /* CONNECT defaults, §4.1 */
    clock_gettime(CLOCK_REALTIME, &c->start);
    atomic_store(&c->last_activity_ns, (int64_t)c->start.tv_sec * 1000000000 + c->start.tv_nsec);
    describe_peer(c, sa);
    (void)len;
    pthread_mutex_init(&c->out_lock, NULL);
    pthread_mutex_init(&c->subs_lock, NULL);
    pthread_mutex_init(&c->write_lock, NULL);
    pthread_mutex_init(&c->tls_lock, NULL);
    c->sid_seed = kmap_seed(c);
    c->auth = auth_ref(atomic_load(&s->auth));
    c->acc = s->accounts->global;
    atomic_init(&c->jwt_max_payload, -1);
    /* From the WebSocket listener: its own authorization and TLS. */
    int ws_rc = kind == CLIENT_KIND_CLIENT && route_url == WS_ACCEPT_MARK ? ws_accept(c) : 0;
    if (kind == CLIENT_KIND_CLIENT && auth_has_nkey_users(c->auth))
        nkey_make_nonce(c->nonce); /* routes have an INFO of their own */
    if (kind == CLIENT_KIND_ROUTE) {
        link_client(c);
        /* Cluster TLS: the handshake comes before any protocol line, either
         * way (spec/cluster-protocol.md §10.3); route_init then sends
         * nothing, and client_tls.c starts the route once it is done. */
        c->tls_ctx = tls_ctx_ref(cluster_tls_ctx(s->cluster));
        if (c->tls_ctx) {
            c->is_tls = true;
            c->tls_state = CLIENT_TLS_HANDSHAKE;
            c->tls = route_url >= 0 ? tls_conn_new_client(c->tls_ctx, fd,
                                                          route_dial_host(s->cluster, route_url))
                                    : tls_conn_new(c->tls_ctx, fd);
        }
        if ((c->is_tls && !c->tls) || make_events(c) < 0 || route_init(c, route_url) < 0) {
            client_close(c, "Server Shutdown", NULL);
            return -ENOMEM;
        }
        if (c->is_tls) {
            LOG_DEBUG("%s:%d - rid:%llu - Starting TLS route %s handshake", c->ip, c->port,
                      (unsigned long long)c->cid, route_url >= 0 ? "client" : "server");
            client__tls_progress(c); /* a dialler speaks first: its ClientHello */
        }
        return 0;
    }
    proto_parser_init(&c->parser, PROTO_SIDE_SERVER);
    c->parser.max_control_line = (size_t)atomic_load(&s->max_control_line);
    c->parser.max_payload = atomic_load(&s->max_payload);
    c->parser.require_connect = auth_required(c->auth);
    atomic_fetch_add(&s->total_connections, 1);
    /* Loaded within this loop iteration: a reload retires the old context
     * through the reclaimer, so it is alive until our reference is taken. */
    if (!c->ws)
        c->tls_ctx = tls_ctx_ref(atomic_load(&s->tls));
    if (c->tls_ctx) {
        c->is_tls = true;
        c->tls_state = CLIENT_TLS_HANDSHAKE;
        c->tls = tls_conn_new(c->tls_ctx, fd);
    }
    atomic_fetch_add(&s->num_clients, 1);

    link_client(c);
    if ((c->is_tls && !c->tls) || ws_rc < 0 || make_events(c) < 0) {
        client_close(c, "Server Shutdown", NULL);
        return -ENOMEM;
    }
    LOG_DEBUG("%s:%d - cid:%llu - Client connection created", c->ip, c->port,
              (unsigned long long)c->cid);
    if (c->is_tls)
        LOG_DEBUG("%s:%d - cid:%llu - Starting TLS client connection handshake", c->ip,
                  c->port, (unsigned long long)c->cid);
    /* A WebSocket client hears INFO once its upgrade is answered. */
    if (!c->ws)
        client_session_start(c);
    return 0;
}

void client_session_start(struct client *c)
{
    struct server *s = c->srv;
    char info[8192];
    size_t n = info_build_client(s, c, info, sizeof info, false);
    client_send(c, info, n);
    if (c->ws && c->auth_timer)
        client__arm_auth_timer(c);
    if (atomic_load(&s->num_clients) > atomic_load(&s->max_connections)) {
        LOG_ERROR("%s:%d - cid:%llu - maximum connections exceeded", c->ip, c->port,
                  (unsigned long long)c->cid);
        client_close(c, "Maximum Connections Exceeded", "maximum connections exceeded");
    }
}

/* Called under c->out_lock. The owner closes it on its next flush. */
static void mark_slow(struct client *c)
{
    c->kill_reason = "Slow Consumer (Pending Bytes)";
    c->closing = true;
    atomic_fetch_add(&c->srv->slow_consumers, 1);
    LOG_INFO("%s:%d - %s:%llu - Slow Consumer Detected: MaxPending of %lld exceeded", c->ip,
             c->port, c->kind == CLIENT_KIND_ROUTE ? "rid" : "cid", (unsigned long long)c->cid,
             (long long)atomic_load(&c->srv->max_pending));
}

/* Under c->out_lock: c's owner must be told once that it has output. */
static bool want_flush(struct client *c)
{
    bool wake = !c->flush_queued;
    c->flush_queued = true;
    return wake;
}

bool client_queue(struct worker *w, struct client *c, const char *bytes, size_t len)
{
    bool note = false, queued = false;
    pthread_mutex_lock(&c->out_lock);
    if (!c->closing && buf_append(&c->out, bytes, len) == 0) {
        queued = true;
        note = want_flush(c);
    }
    pthread_mutex_unlock(&c->out_lock);
    if (note)
        worker_note_output(w, c);
    return queued;
}

char *client_out_reserve(struct client *c, size_t bound, bool *wake)
{
    *wake = false;
    if (c->closing)
        return NULL;
    size_t pending = buf_pending(&c->out) +
                     atomic_load_explicit(&c->wpending, memory_order_relaxed);
    if ((int64_t)(pending + bound) >
        atomic_load_explicit(&c->srv->max_pending, memory_order_relaxed)) {
        mark_slow(c);
        *wake = want_flush(c);
        return NULL;
    }
    if (buf_reserve(&c->out, bound) < 0)
        return NULL;
    return c->out.data + c->out.len;
}

void client_out_commit(struct client *c, size_t n, size_t body, bool *wake)
{
    c->out.len += n;
    c->out_msgs++;
    c->out_bytes += body;
    *wake = want_flush(c);
}

void client_send(struct client *c, const char *bytes, size_t len)
{
    client_queue(c->w, c, bytes, len);
}

void client_send_async_info(struct client *c, bool ldm)
{
    if (c->closed || c->protocol < 1 || !c->first_pong_sent)
        return;
    char info[8192];
    size_t n = info_build_client(c->srv, c, info, sizeof info, ldm);
    if (n)
        client_send(c, info, n);
}

void client_send_err(struct client *c, const char *text)
{
    char line[1024];
    int n = snprintf(line, sizeof line, "-ERR '%s'\r\n", text);
    if (n > 0)
        client_send(c, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}

/* Move queued output into wbuf. Caller holds write_lock. Returns a kill
 * reason, if any, and hands back subscriptions that reached their max. */
static const char *take_output(struct client *c, struct sub ***expired, size_t *nexpired)
{
    pthread_mutex_lock(&c->out_lock);
    c->flush_queued = false;
    const char *kill = c->kill_reason;
    if (buf_pending(&c->out)) {
        if (c->ws && ws_is_open(c->ws)) {
            /* Framed (and maybe compressed) on the way: one frame per batch. */
            if (ws_frame_output(c, &c->wbuf, c->out.data + c->out.off,
                                buf_pending(&c->out)) == 0)
                buf_consume(&c->out, buf_pending(&c->out));
        } else if (!buf_pending(&c->wbuf)) {
            struct buf tmp = c->wbuf;
            c->wbuf = c->out;
            c->out = tmp;
        } else if (buf_append(&c->wbuf, c->out.data + c->out.off, buf_pending(&c->out)) == 0) {
            buf_consume(&c->out, buf_pending(&c->out));
        }
    }
    if (expired) {
        *expired = c->expired;
        *nexpired = c->nexpired;
        c->expired = NULL;
        c->nexpired = c->cap_expired = 0;
    }
    pthread_mutex_unlock(&c->out_lock);
    return kill;
}

/* Write wbuf until empty or EAGAIN. Caller holds write_lock. A caller
 * that is not the owning loop passes borrowed: it gives up rather than
 * wait for a TLS session the owner is reading (sleeping on that lock costs
 * a context switch, the tail of TLS request/reply); what it leaves in wbuf
 * is the owner's to write. 0, or -EIO when the socket failed. */
static int write_wbuf(struct client *c, bool borrowed)
{
    int rc = 0;
    while (buf_pending(&c->wbuf)) {
        if (c->tls_state == CLIENT_TLS_READY) {
            if (!borrowed)
                pthread_mutex_lock(&c->tls_lock);
            else if (pthread_mutex_trylock(&c->tls_lock) != 0)
                break;
            ssize_t n = tls_write(c->tls, c->wbuf.data + c->wbuf.off, buf_pending(&c->wbuf));
            pthread_mutex_unlock(&c->tls_lock);
            if (n > 0) {
                buf_consume(&c->wbuf, (size_t)n);
                continue;
            }
            if (n == TLS_WANT_READ)
                atomic_store(&c->tls_write_wants_read, true);
            else if (n != TLS_WANT_WRITE)
                rc = -EIO;
            break;
        }
        /* Plain TCP, or a TLS connection's plaintext INFO before its
         * handshake begins. */
        ssize_t n = write(c->fd, c->wbuf.data + c->wbuf.off, buf_pending(&c->wbuf));
        if (n > 0) {
            buf_consume(&c->wbuf, (size_t)n);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        rc = -EIO;
        break;
    }
    atomic_store_explicit(&c->wpending, buf_pending(&c->wbuf), memory_order_relaxed);
    if (!buf_pending(&c->wbuf))
        buf_shrink(&c->wbuf, CLIENT_BUSY_BUF);
    return rc;
}

static void arm_write_deadline(struct client *c, bool blocked)
{
    if (blocked) {
        /* A TLS write waiting for input resumes after the next read;
         * EV_WRITE would only spin. */
        if (!atomic_load(&c->tls_write_wants_read) &&
            !event_pending(c->write_ev, EV_WRITE, NULL))
            event_add(c->write_ev, NULL);
        if (!event_pending(c->wd_timer, EV_TIMEOUT, NULL)) {
            struct timeval tv = ms_to_tv(atomic_load(&c->srv->write_deadline_ms));
            event_add(c->wd_timer, &tv);
        }
    } else {
        if (!c->tls_read_wants_write) /* the session's input needs EV_WRITE */
            event_del(c->write_ev);
        event_del(c->wd_timer);
    }
}

bool client_try_flush(struct client *c)
{
    if (c->is_tls && c->tls_state != CLIENT_TLS_READY)
        return false; /* not reachable: a subscriber has finished its handshake */
    if (pthread_mutex_trylock(&c->write_lock) != 0)
        return false;
    pthread_mutex_lock(&c->out_lock);
    bool owner_work = c->closing || c->kill_reason || c->nexpired;
    pthread_mutex_unlock(&c->out_lock);
    bool done = false;
    if (!owner_work) {
        take_output(c, NULL, NULL);
        done = write_wbuf(c, true) == 0 && !buf_pending(&c->wbuf);
    }
    pthread_mutex_unlock(&c->write_lock);
    return done;
}

void client_flush(struct client *c)
{
    if (c->closed)
        return;
    struct sub **expired;
    size_t nexpired;
    pthread_mutex_lock(&c->write_lock);
    const char *kill = take_output(c, &expired, &nexpired);
    int rc = kill ? 0 : write_wbuf(c, false);
    bool blocked = buf_pending(&c->wbuf) > 0;
    pthread_mutex_unlock(&c->write_lock);

    for (size_t i = 0; i < nexpired; i++)
        sub_unsubscribe(c, expired[i]);
    free(expired);
    if (kill) {
        client_close(c, kill, NULL);
        return;
    }
    if (rc < 0) {
        client_close(c, "Write Error", NULL);
        return;
    }
    if (c->write_ev)
        arm_write_deadline(c, blocked);
}

static void on_write(evutil_socket_t fd, short what, void *arg)
{
    struct client *c = arg;
    if (c->tls_read_wants_write) {
        c->tls_read_wants_write = false;
        client__tls_progress(c);
        if (c->closed)
            return;
    }
    client_flush(c);
}

static void on_write_deadline(evutil_socket_t fd, short what, void *arg)
{
    struct client *c = arg;
    LOG_INFO("%s:%d - cid:%llu - Slow Consumer Detected: WriteDeadline of %lldms exceeded",
             c->ip, c->port, (unsigned long long)c->cid,
             (long long)atomic_load(&c->srv->write_deadline_ms));
    atomic_fetch_add(&c->srv->slow_consumers, 1);
    client_close(c, "Slow Consumer (Write Deadline)", NULL);
}

static void on_auth_timeout(evutil_socket_t fd, short what, void *arg)
{
    struct client *c = arg;
    /* After CONNECT the timer is armed only for a user JWT's expiry
     * (client_ops.c); nats-server's authExpired. */
    if (c->connected) {
        if (c->jwt_expires > 0) {
            LOG_DEBUG("%s:%d - cid:%llu - User Authentication Expired", c->ip, c->port,
                      (unsigned long long)c->cid);
            client_close(c, "Authentication Expired", "User Authentication Expired");
        }
        return;
    }
    LOG_ERROR("%s:%d - cid:%llu - Authentication Timeout", c->ip, c->port,
              (unsigned long long)c->cid);
    client_close(c, "Authentication Timeout", "Authentication Timeout");
}

static void shrink_idle_buffers(struct client *c)
{
    pthread_mutex_lock(&c->write_lock);
    buf_shrink(&c->wbuf, CLIENT_IDLE_BUF);
    pthread_mutex_unlock(&c->write_lock);
    pthread_mutex_lock(&c->out_lock);
    buf_shrink(&c->out, CLIENT_IDLE_BUF);
    pthread_mutex_unlock(&c->out_lock);
}

static void on_ping_timer(evutil_socket_t fd, short what, void *arg)
{
    struct client *c = arg;
    shrink_idle_buffers(c);
    if (c->ws && !ws_is_open(c->ws))
        return; /* still an HTTP connection: nothing to ping */
    if (c->kind == CLIENT_KIND_ROUTE && c->tls_state == CLIENT_TLS_HANDSHAKE)
        return; /* a PING must not go before the route's CONNECT; the
                   handshake has its own timeout */
    if (c->pings_out + 1 > atomic_load(&c->srv->ping_max)) {
        LOG_DEBUG("%s:%d - cid:%llu - Stale Client Connection - Closing", c->ip, c->port,
                  (unsigned long long)c->cid);
        client_close(c, "Stale Connection", "Stale Connection");
        return;
    }
    c->pings_out++;
    client_send(c, "PING\r\n", 6);
}

static void run_parser(struct client *c, const char *data, size_t n);

/* Parse n bytes the socket (or the TLS session) gave into w->readbuf. */
void client__parse_input(struct client *c, size_t n)
{
    struct worker *w = c->w;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    atomic_store_explicit(&c->last_activity_ns, (int64_t)now.tv_sec * 1000000000 + now.tv_nsec,
                          memory_order_relaxed);
    if (c->ws) {
        ws_input(c, (uint8_t *)w->readbuf, n);
        return;
    }
    const char *data = w->readbuf;
    if (c->kind == CLIENT_KIND_ROUTE) {
        /* An accepted cluster-port connection may be raft's. */
        struct proto_slice held;
        if (route_sniff(c, data, n, &held))
            return;
        if (held.len) {
            run_parser(c, held.ptr, held.len);
            if (c->closed)
                return;
        }
    }
    run_parser(c, data, n);
}

void client_parse(struct client *c, const char *data, size_t n)
{
    run_parser(c, data, n);
}

void client_send_raw(struct client *c, const void *bytes, size_t len)
{
    if (c->closed)
        return;
    pthread_mutex_lock(&c->write_lock);
    take_output(c, NULL, NULL); /* what was queued goes first */
    int rc = buf_append(&c->wbuf, bytes, len);
    pthread_mutex_unlock(&c->write_lock);
    if (rc < 0) {
        client_close(c, "Server Shutdown", NULL);
        return;
    }
    client_flush(c);
}

/* Feed the protocol parser; close c on a protocol error. */
static void run_parser(struct client *c, const char *data, size_t n)
{
    const struct proto_handlers *h =
        c->kind == CLIENT_KIND_ROUTE ? &route_proto_handlers : &client_proto_handlers;
    int rc = proto_parse(&c->parser, data, n, h, c);
    if (rc == 0 || c->closed)
        return;
    const char *reason = "Protocol Violation";
    if (rc == PROTO_E_CONTROL_LINE)
        reason = "Maximum Control Line Exceeded";
    else if (rc == PROTO_E_MAX_PAYLOAD)
        reason = "Maximum Message Payload Exceeded";
    else if (rc == PROTO_E_AUTH)
        reason = "Authentication Failure";
    else if (rc == PROTO_E_CLIENT_ERR)
        reason = "Parse Error";
    if (rc < 0) {
        const char *why = proto_strerror(rc) ? proto_strerror(rc) : reason;
        /* A peer node never sends bad protocol: on the route port it is an
         * error worth an operator's attention; a client's is routine. */
        if (c->kind == CLIENT_KIND_ROUTE)
            LOG_ERROR("%s:%d - rid:%llu - Route parser error: %s", c->ip, c->port,
                      (unsigned long long)c->cid, why);
        else
            LOG_DEBUG("%s:%d - cid:%llu - Client parser error: %s", c->ip, c->port,
                      (unsigned long long)c->cid, why);
        client_close(c, reason, proto_strerror(rc));
    }
}

static void on_read(evutil_socket_t fd, short what, void *arg)
{
    struct client *c = arg;
    if (c->is_tls) {
        client__tls_progress(c);
        return;
    }
    ssize_t n = read(fd, c->w->readbuf, WORKER_READBUF);
    if (n == 0) {
        client_close(c, "Client Closed", NULL);
        return;
    }
    if (n < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            client_close(c, "Read Error", NULL);
        return;
    }
    client__parse_input(c, (size_t)n);
}

int client_detach_fd(struct client *c, struct tls_conn **tls)
{
    if (tls)
        *tls = NULL;
    if (c->closed || (c->tls && (!tls || c->tls_state != CLIENT_TLS_READY)))
        return -EINVAL;
    pthread_mutex_lock(&c->out_lock);
    c->closing = true;
    pthread_mutex_unlock(&c->out_lock);
    /* Out of this loop's epoll before another loop registers the fd. */
    free_events(c);
    pthread_mutex_lock(&c->write_lock);
    take_output(c, NULL, NULL);
    int fd = -EIO;
    if (write_wbuf(c, false) == 0 && !buf_pending(&c->wbuf)) {
        fd = c->fd;
        c->fd = -1;
        if (tls) {
            *tls = c->tls; /* client_close leaves a NULL session alone */
            c->tls = NULL;
        }
    }
    pthread_mutex_unlock(&c->write_lock);
    return fd;
}

void client_close(struct client *c, const char *reason, const char *err)
{
    if (c->closed)
        return;
    /* Before its upgrade a WebSocket client is an HTTP client: no -ERR. */
    if (err && (!c->ws || ws_is_open(c->ws)))
        client_send_err(c, err);
    bool slow = strncmp(reason, "Slow Consumer", 13) == 0;
    struct sub **expired;
    size_t nexpired;
    pthread_mutex_lock(&c->out_lock);
    c->closing = true;
    pthread_mutex_unlock(&c->out_lock);
    c->closed = true;
    /* Unregister from epoll while the descriptor is still ours: after
     * close() its number may already belong to a new connection. */
    free_events(c);
    /* Holding write_lock keeps other loops off the socket while it closes;
     * after this none will try (closing is set). */
    pthread_mutex_lock(&c->write_lock);
    take_output(c, &expired, &nexpired);
    free(expired); /* subscriptions are all dropped below */
    if (c->ws && !slow)
        ws_append_close(c, &c->wbuf, reason);
    if (!slow) {
        /* Best effort, never blocking: the -ERR and pending data go out if
         * the socket has room (spec: a slow consumer's close skips this). */
        write_wbuf(c, false);
    }
    if (c->tls) {
        if (c->tls_state == CLIENT_TLS_READY && !slow)
            tls_shutdown(c->tls);
        tls_conn_free(c->tls);
        c->tls = NULL;
    }
    if (c->fd >= 0) /* -1: client_detach_fd gave it away */
        close(c->fd);
    c->fd = -1;
    pthread_mutex_unlock(&c->write_lock);
    unlink_client(c, reason); /* records the subscription count first */
    if (c->kind == CLIENT_KIND_ROUTE)
        route_closed(c, reason);
    else
        atomic_fetch_sub(&c->srv->num_clients, 1);
    subs_clear(c, sub_retire);
    if (c->jwt_counted) /* operator mode's per-account connection limit */
        atomic_fetch_sub(&c->jwt_counted->jwt_conns, 1);
    c->jwt_counted = NULL;
    auth_unref(c->auth);
    c->auth = NULL;
    tls_ctx_unref(c->tls_ctx);
    c->tls_ctx = NULL;
    tls_free_names(c->cert_names, c->ncert_names);
    c->cert_names = NULL;
    c->ncert_names = 0;
    c->perms = NULL;
    c->user = NULL;
    LOG_DEBUG("%s:%d - cid:%llu - Client connection closed: %s", c->ip, c->port,
              (unsigned long long)c->cid, reason);
    if (reclaim_retire(c->srv->reclaim, c, client_free, &c->holds) < 0)
        LOG_ERROR("out of memory retiring a connection; leaking it");
}

void client_fill_record(struct client *c, struct conn_record *rec)
{
    memset(rec, 0, sizeof *rec);
    rec->cid = c->cid;
    snprintf(rec->ip, sizeof rec->ip, "%s", c->ip);
    rec->port = c->port;
    rec->start = c->start;
    snprintf(rec->name, sizeof rec->name, "%s", c->name ? c->name : "");
    snprintf(rec->lang, sizeof rec->lang, "%s", c->lang ? c->lang : "");
    snprintf(rec->version, sizeof rec->version, "%s", c->version ? c->version : "");
    const char *user = c->user ? auth_user_name(c->user) : NULL;
    /* a JWT user goes by its public key, as in nats-server's /connz */
    snprintf(rec->user, sizeof rec->user, "%s", user ? user : c->jwt_user);
    snprintf(rec->account, sizeof rec->account, "%s", c->acc ? c->acc->name : "$G");
    snprintf(rec->tls_version, sizeof rec->tls_version, "%s", c->tls_version);
    snprintf(rec->tls_cipher, sizeof rec->tls_cipher, "%s", c->tls_cipher);
    rec->in_msgs = atomic_load_explicit(&c->in_msgs, memory_order_relaxed);
    rec->in_bytes = atomic_load_explicit(&c->in_bytes, memory_order_relaxed);
    pthread_mutex_lock(&c->out_lock);
    rec->out_msgs = c->out_msgs;
    rec->out_bytes = c->out_bytes;
    pthread_mutex_unlock(&c->out_lock);
    rec->subs = atomic_load_explicit(&c->nsubs_pub, memory_order_relaxed);
}

void client_each_sub(struct client *c, void (*fn)(void *arg, const struct sub *s), void *arg)
{
    pthread_mutex_lock(&c->subs_lock);
    for (uint32_t i = 0; i < kmap_capacity(&c->sids); i++) {
        struct kmap_key *k = kmap_slot(&c->sids, i);
        if (k)
            fn(arg, sub_of_sid_key(k));
    }
    pthread_mutex_unlock(&c->subs_lock);
}
