/*
 * tests/unit/check_raft_transport.c — cluster/raft_transport.c with real
 * sockets, a real libuv loop and real canonical/raft instances.
 *
 * A fake route listener (one thread, one listening socket per node) plays
 * cluster/route.c's part: it accepts, sends an INFO line, reads the
 * preamble line byte by byte and calls raft_transport_adopt from its own
 * thread, as a route loop does. Names resolve through a table the test
 * changes, so a node that comes back on another port is still found.
 *
 * Cases: three raft members on one loop elect a leader, commit a few
 * hundred entries on all members, survive the leader being closed, and
 * take the old leader back on a new port; bad preambles are closed without
 * an answer and a good one reaches raft's accept callback; dials that
 * cannot complete (no name, refused, silent peer, -ERR, close()) report
 * the right status, each within its step timeout, also with cluster TLS
 * (a plaintext or silent peer, close() while the pump's handshake runs).
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cluster/raft_transport.h"
#include "tests/unit/tls_testcert.h"

#define NNODES 3
#define STEP_MS 300

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int listen_local(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(fd, 0);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t sl = sizeof sa;
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    ck_assert_int_eq(listen(fd, 16), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
    *port = ntohs(sa.sin_port);
    return fd;
}

/* A connected pair over loopback TCP: *a dialled, *b accepted. */
static void tcp_pair(int *a, int *b)
{
    int port;
    int l = listen_local(&port);
    *a = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    ck_assert_int_eq(connect(*a, (struct sockaddr *)&sa, sizeof sa), 0);
    *b = accept(l, NULL, NULL);
    ck_assert_int_ge(*b, 0);
    close(l);
}

/* ---- the fake route listener ---- */

enum route_mode {
    ROUTE_ADOPT = 0,   /* INFO, read the preamble, raft_transport_adopt */
    ROUTE_ERR,         /* INFO, then -ERR and close */
};

struct fake_route {
    pthread_t thread;
    pthread_mutex_t lock;
    bool stop;                                   /* under lock */
    int lfd[NNODES];                             /* under lock; -1: none */
    int port[NNODES];                            /* under lock */
    enum route_mode mode[NNODES];                /* under lock */
    struct raft_uv_transport *t[NNODES];         /* under lock; NULL: close */
    int adopted, refused;                        /* under lock */
};

static void serve(struct fake_route *fr, int i, int fd)
{
    static const char info[] =
        "INFO {\"server_id\":\"NFAKE\",\"server_name\":\"fake\",\"version\":\"2.9.10\","
        "\"proto\":2,\"host\":\"127.0.0.1\",\"port\":1,\"headers\":true,"
        "\"max_payload\":1048576,\"cluster\":\"C\",\"tern_raft\":2} \r\n";
    struct timeval tv = { 2, 0 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    pthread_mutex_lock(&fr->lock);
    enum route_mode mode = fr->mode[i];
    pthread_mutex_unlock(&fr->lock);
    if (write(fd, info, sizeof info - 1) != (ssize_t)sizeof info - 1)
        goto close_fd;
    if (mode == ROUTE_ERR) {
        static const char err[] = "-ERR 'Authorization Violation'\r\n";
        if (write(fd, err, sizeof err - 1) < 0)
            goto close_fd;
        goto close_fd;
    }
    /* Byte by byte, so nothing past the CRLF is read (route.c keeps to
     * that too: the dialler sends nothing more before RAFTOK). */
    char line[RAFT_TRANSPORT_MAX_LINE + 2];
    size_t n = 0;
    while (n < sizeof line) {
        if (read(fd, &line[n], 1) != 1)
            goto close_fd;
        n++;
        if (n >= 2 && line[n - 2] == '\r' && line[n - 1] == '\n')
            break;
    }
    if (n < 2 || line[n - 1] != '\n')
        goto close_fd;
    pthread_mutex_lock(&fr->lock);
    struct raft_uv_transport *t = fr->t[i];
    if (t) {
        raft_transport_adopt(t, fd, NULL, line, n - 2);
        fr->adopted++;
    } else {
        fr->refused++;
    }
    pthread_mutex_unlock(&fr->lock);
    if (t)
        return;
close_fd:
    close(fd);
}

static void *fake_route_main(void *arg)
{
    struct fake_route *fr = arg;
    for (;;) {
        struct pollfd p[NNODES];
        int who[NNODES];
        nfds_t np = 0;
        pthread_mutex_lock(&fr->lock);
        bool stop = fr->stop;
        for (int i = 0; i < NNODES; i++) {
            if (fr->lfd[i] >= 0) {
                p[np] = (struct pollfd){ .fd = fr->lfd[i], .events = POLLIN };
                who[np++] = i;
            }
        }
        pthread_mutex_unlock(&fr->lock);
        if (stop)
            return NULL;
        /* A short timeout picks up listeners the test swapped. */
        if (poll(p, np, 20) <= 0)
            continue;
        for (nfds_t k = 0; k < np; k++) {
            if (!(p[k].revents & POLLIN))
                continue;
            int fd = accept4(p[k].fd, NULL, NULL, SOCK_CLOEXEC);
            if (fd >= 0)
                serve(fr, who[k], fd);
        }
    }
}

static void fake_route_start(struct fake_route *fr)
{
    memset(fr, 0, sizeof *fr);
    pthread_mutex_init(&fr->lock, NULL);
    for (int i = 0; i < NNODES; i++)
        fr->lfd[i] = listen_local(&fr->port[i]);
    ck_assert_int_eq(pthread_create(&fr->thread, NULL, fake_route_main, fr), 0);
}

/* Node i listens on a new port from now on (a container back with a new
 * address); dials made before keep failing on the old one. */
static void fake_route_move(struct fake_route *fr, int i)
{
    int port;
    int fd = listen_local(&port);
    pthread_mutex_lock(&fr->lock);
    int old = fr->lfd[i];
    fr->lfd[i] = fd;
    fr->port[i] = port;
    pthread_mutex_unlock(&fr->lock);
    /* The thread may be polling old: it only accepts from it, never
     * closes it, and a closed listener just ends that poll. */
    close(old);
}

static void fake_route_set(struct fake_route *fr, int i, struct raft_uv_transport *t)
{
    pthread_mutex_lock(&fr->lock);
    fr->t[i] = t;
    pthread_mutex_unlock(&fr->lock);
}

static void fake_route_stop(struct fake_route *fr)
{
    pthread_mutex_lock(&fr->lock);
    fr->stop = true;
    pthread_mutex_unlock(&fr->lock);
    pthread_join(fr->thread, NULL);
    for (int i = 0; i < NNODES; i++)
        if (fr->lfd[i] >= 0)
            close(fr->lfd[i]);
    pthread_mutex_destroy(&fr->lock);
}

/* "n1".."n3" → 127.0.0.1:<its listener now>; anything else: no route. */
static int resolve_table(void *arg, const char *name, char *out, size_t cap)
{
    struct fake_route *fr = arg;
    if (strlen(name) != 2 || name[0] != 'n' || name[1] < '1' || name[1] > '0' + NNODES)
        return -ENOENT;
    int i = name[1] - '1';
    pthread_mutex_lock(&fr->lock);
    int port = fr->port[i];
    pthread_mutex_unlock(&fr->lock);
    snprintf(out, cap, "127.0.0.1:%d", port);
    return 0;
}

/* ---- running the loop ---- */

static uv_loop_t loop;
static uv_timer_t ticker;

static void on_tick(uv_timer_t *t)
{
    (void)t; /* only makes UV_RUN_ONCE return */
}

static void loop_open(void)
{
    signal(SIGPIPE, SIG_IGN);
    ck_assert_int_eq(uv_loop_init(&loop), 0);
    uv_timer_init(&loop, &ticker);
    uv_timer_start(&ticker, on_tick, 5, 5);
}

static void loop_close(void)
{
    uv_close((uv_handle_t *)&ticker, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    /* Fails with UV_EBUSY if the transport left a handle open. */
    ck_assert_int_eq(uv_loop_close(&loop), 0);
}

static bool run_until(bool (*cond)(void *), void *arg, int ms)
{
    long long deadline = now_ms() + ms;
    while (!cond(arg)) {
        if (now_ms() > deadline)
            return false;
        uv_run(&loop, UV_RUN_ONCE);
    }
    return true;
}

/* ---- raft members ---- */

#define ENTRY_LEN 16 /* a multiple of 8: spec/raft.md §9 #1 */
#define MAGIC 0x7465726e72616674ULL

struct node {
    int idx;
    raft_id id;
    char name[8];
    char dir[64];
    struct raft_uv_transport t;
    struct raft_io io;
    struct raft_fsm fsm;
    struct raft r;
    bool running;        /* raft_start done, raft_close not yet */
    bool closed;         /* raft_close's callback came */
    uint64_t last_seq;   /* the FSM: entries carry 1, 2, 3, ... in order */
    bool out_of_order;
};

static struct node nodes[NNODES];
static struct fake_route fr;

static int fsm_apply(struct raft_fsm *fsm, const struct raft_buffer *buf, void **result)
{
    struct node *n = fsm->data;
    uint64_t v[2];
    *result = NULL;
    if (buf->len != ENTRY_LEN) {
        n->out_of_order = true;
        return 0;
    }
    memcpy(v, buf->base, sizeof v);
    if (v[1] != MAGIC || v[0] != n->last_seq + 1)
        n->out_of_order = true;
    n->last_seq = v[0];
    return 0;
}

static int fsm_snapshot(struct raft_fsm *fsm, struct raft_buffer *bufs[], unsigned *n_bufs)
{
    struct node *n = fsm->data;
    *bufs = raft_malloc(sizeof **bufs);
    if (!*bufs)
        return RAFT_NOMEM;
    (*bufs)[0].len = 8;
    (*bufs)[0].base = raft_malloc(8);
    if (!(*bufs)[0].base) {
        raft_free(*bufs);
        return RAFT_NOMEM;
    }
    memcpy((*bufs)[0].base, &n->last_seq, 8);
    *n_bufs = 1;
    return 0;
}

static int fsm_restore(struct raft_fsm *fsm, struct raft_buffer *buf)
{
    struct node *n = fsm->data;
    if (buf->len == 8)
        memcpy(&n->last_seq, buf->base, 8);
    else
        n->out_of_order = true;
    raft_free(buf->base);
    return 0;
}

static void node_start(struct node *n, bool bootstrap)
{
    struct raft_transport_config cfg = { .resolve = resolve_table, .resolve_arg = &fr,
                                         .step_timeout_ms = STEP_MS };
    memset(&n->t, 0, sizeof n->t);
    ck_assert_int_eq(raft_transport_init_config(&n->t, &loop, &cfg), 0);
    ck_assert_int_eq(raft_uv_init(&n->io, &loop, n->dir, &n->t), 0);
    raft_uv_set_segment_size(&n->io, 64 * 1024);
    raft_uv_set_connect_retry_delay(&n->io, 50);
    raft_uv_set_auto_recovery(&n->io, false);
    n->fsm = (struct raft_fsm){ .version = 1, .data = n, .apply = fsm_apply,
                                .snapshot = fsm_snapshot, .restore = fsm_restore };
    int rc = raft_init(&n->r, &n->io, &n->fsm, n->id, n->name);
    ck_assert_msg(rc == 0, "raft_init: %s", raft_errmsg(&n->r));
    if (bootstrap) {
        struct raft_configuration conf;
        raft_configuration_init(&conf);
        for (int i = 0; i < NNODES; i++)
            ck_assert_int_eq(raft_configuration_add(&conf, nodes[i].id, nodes[i].name,
                                                    RAFT_VOTER), 0);
        ck_assert_int_eq(raft_bootstrap(&n->r, &conf), 0);
        raft_configuration_close(&conf);
    }
    raft_set_election_timeout(&n->r, 300);
    raft_set_heartbeat_timeout(&n->r, 50);
    raft_set_snapshot_threshold(&n->r, 64);
    raft_set_snapshot_trailing(&n->r, 32);
    raft_set_pre_vote(&n->r, true);
    /* A member busy taking its own snapshot refuses an InstallSnapshot
     * without an answer (RAFT_BUSY in 0.15); the leader retries only after
     * this timeout, 30 s by default. */
    raft_set_install_snapshot_timeout(&n->r, 1000);
    ck_assert_int_eq(raft_start(&n->r), 0);
    n->running = true;
    n->closed = false;
    fake_route_set(&fr, n->idx, &n->t);
}

static void on_raft_closed(struct raft *r)
{
    struct node *n = r->data;
    raft_uv_close(&n->io);
    raft_transport_free(&n->t);
    n->closed = true;
}

static void node_close(struct node *n)
{
    /* As cluster_set_raft_transport(cl, NULL): no adopt after this. */
    fake_route_set(&fr, n->idx, NULL);
    n->running = false;
    n->r.data = n;
    raft_close(&n->r, on_raft_closed);
}

static struct node *leader(void)
{
    for (int i = 0; i < NNODES; i++)
        if (nodes[i].running && raft_state(&nodes[i].r) == RAFT_LEADER)
            return &nodes[i];
    return NULL;
}

static bool has_leader(void *arg)
{
    struct node *l = leader();
    return l && l != arg;
}

static bool all_applied(void *arg)
{
    uint64_t want = *(uint64_t *)arg;
    for (int i = 0; i < NNODES; i++)
        if (nodes[i].running && nodes[i].last_seq < want)
            return false;
    return true;
}

static bool all_closed(void *arg)
{
    (void)arg;
    for (int i = 0; i < NNODES; i++)
        if (!nodes[i].closed)
            return false;
    return true;
}

struct batch {
    struct raft_apply *reqs;
    int done, failed;
};

static void on_applied(struct raft_apply *req, int status, void *result)
{
    struct batch *b = req->data;
    (void)result;
    b->done++;
    if (status != 0)
        b->failed++;
}

/* Propose entries first..last on the leader, all in flight at once. */
static void propose(struct node *l, struct batch *b, uint64_t first, uint64_t last)
{
    size_t count = (size_t)(last - first + 1);
    b->reqs = calloc(count, sizeof *b->reqs);
    b->done = b->failed = 0;
    ck_assert_ptr_nonnull(b->reqs);
    for (uint64_t s = first; s <= last; s++) {
        struct raft_buffer buf = { .base = raft_malloc(ENTRY_LEN), .len = ENTRY_LEN };
        uint64_t v[2] = { s, MAGIC };
        ck_assert_ptr_nonnull(buf.base);
        memcpy(buf.base, v, sizeof v);
        struct raft_apply *req = &b->reqs[s - first];
        req->data = b;
        int rc = raft_apply(&l->r, req, &buf, 1, on_applied);
        ck_assert_msg(rc == 0, "raft_apply %llu: %s", (unsigned long long)s, raft_strerror(rc));
    }
}

static void nodes_setup(void)
{
    loop_open();
    fake_route_start(&fr);
    for (int i = 0; i < NNODES; i++) {
        struct node *n = &nodes[i];
        memset(n, 0, sizeof *n);
        n->idx = i;
        n->id = (raft_id)(i + 1);
        snprintf(n->name, sizeof n->name, "n%d", i + 1);
        snprintf(n->dir, sizeof n->dir, "/tmp/tern-raft-XXXXXX");
        ck_assert_ptr_nonnull(mkdtemp(n->dir));
        n->closed = true;
    }
}

static void rm_dir(const char *dir)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

START_TEST(three_members_elect_commit_and_fail_over)
{
    nodes_setup();
    for (int i = 0; i < NNODES; i++)
        node_start(&nodes[i], true);

    ck_assert_msg(run_until(has_leader, NULL, 10000), "no leader elected");
    struct node *first = leader();

    /* A few hundred entries, all in flight, applied on every member. */
    struct batch b1;
    propose(first, &b1, 1, 300);
    uint64_t want = 300;
    ck_assert_msg(run_until(all_applied, &want, 20000), "300 entries not applied everywhere");
    for (int i = 0; i < NNODES; i++) {
        ck_assert_msg(!nodes[i].out_of_order, "n%d applied out of order", i + 1);
        ck_assert_int_eq(nodes[i].last_seq, 300);
    }
    ck_assert_int_eq(b1.done, 300);
    ck_assert_int_eq(b1.failed, 0);
    free(b1.reqs);

    /* The leader goes away; the other two elect one of themselves. */
    node_close(first);
    ck_assert_msg(run_until(has_leader, first, 10000), "no new leader after close");
    struct node *second = leader();
    ck_assert_ptr_ne(second, first);
    struct batch b2;
    propose(second, &b2, 301, 400);
    want = 400;
    ck_assert_msg(run_until(all_applied, &want, 20000), "entries after fail-over not applied");
    ck_assert_int_eq(b2.failed, 0);
    free(b2.reqs);
    ck_assert_msg(first->closed, "closed member's close callback never came");

    /* It comes back listening on another port: peers find it through the
     * resolver at their next dial and it catches up (by log or snapshot). */
    fake_route_move(&fr, first->idx);
    node_start(first, false);
    ck_assert_msg(run_until(all_applied, &want, 20000), "restarted member did not catch up");
    for (int i = 0; i < NNODES; i++)
        ck_assert_msg(!nodes[i].out_of_order, "n%d applied out of order", i + 1);

    for (int i = 0; i < NNODES; i++)
        if (nodes[i].running)
            node_close(&nodes[i]);
    ck_assert_msg(run_until(all_closed, NULL, 10000), "members did not close");
    pthread_mutex_lock(&fr.lock);
    int adopted = fr.adopted;
    pthread_mutex_unlock(&fr.lock);
    ck_assert_int_ge(adopted, 4); /* every pair dialled, plus the comeback */
    fake_route_stop(&fr);
    loop_close();
    for (int i = 0; i < NNODES; i++)
        rm_dir(nodes[i].dir);
}
END_TEST

/* ---- one transport, driven by hand ---- */

struct accepted {
    int calls;
    raft_id id;
    char name[64];
    uv_stream_t *stream;
};

static void on_accept(struct raft_uv_transport *t, raft_id id, const char *address,
                      uv_stream_t *stream)
{
    struct accepted *a = t->data;
    a->calls++;
    a->id = id;
    snprintf(a->name, sizeof a->name, "%s", address);
    a->stream = stream;
}

static bool accept_called(void *arg)
{
    return ((struct accepted *)arg)->calls > 0;
}

static void free_stream(uv_handle_t *h)
{
    raft_free(h);
}

static bool transport_closed_flag;

static void on_transport_closed(struct raft_uv_transport *t)
{
    (void)t;
    transport_closed_flag = true;
}

static bool flag_set(void *arg)
{
    return *(bool *)arg;
}

/* The far end of an adopted socket: closed (EOF) without a byte, or
 * answered RAFTOK. */
struct far_end {
    int fd;
    int state; /* 0 waiting, 1 EOF, 2 RAFTOK, 3 other bytes */
    char got[16];
    size_t ngot;
};

static bool far_settled(void *arg)
{
    struct far_end *f = arg;
    char c[16];
    ssize_t n = recv(f->fd, c, sizeof c, MSG_DONTWAIT);
    if (n == 0) {
        f->state = f->ngot ? f->state : 1;
        return true;
    }
    if (n < 0)
        return errno != EAGAIN && errno != EWOULDBLOCK ? (f->state = 1, true) : false;
    if (f->ngot + (size_t)n > sizeof f->got) {
        f->state = 3;
        return true;
    }
    memcpy(f->got + f->ngot, c, (size_t)n);
    f->ngot += (size_t)n;
    if (f->ngot == 8 && memcmp(f->got, "RAFTOK\r\n", 8) == 0) {
        f->state = 2;
        return true;
    }
    if (f->ngot >= 8) {
        f->state = 3;
        return true;
    }
    return false;
}

static int adopt_line(struct raft_uv_transport *t, const char *line, size_t len)
{
    int a, b;
    tcp_pair(&a, &b);
    raft_transport_adopt(t, b, NULL, line, len);
    struct far_end f = { .fd = a };
    ck_assert_msg(run_until(far_settled, &f, 3000), "adopted socket neither closed nor answered");
    close(a);
    return f.state;
}

static int no_resolve(void *arg, const char *name, char *out, size_t cap)
{
    return -ENOENT;
}

START_TEST(bad_preambles_are_closed)
{
    loop_open();
    struct raft_uv_transport t = { 0 };
    struct accepted acc = { 0 };
    struct raft_transport_config cfg = { .resolve = no_resolve };
    ck_assert_int_eq(raft_transport_init_config(&t, &loop, &cfg), 0);
    t.data = &acc;
    ck_assert_int_eq(t.init(&t, 9, "me"), 0);

    /* Before listen(): raft does not want connections yet. */
    ck_assert_int_eq(adopt_line(&t, "RAFT 1 early", 12), 1);
    ck_assert_int_eq(t.listen(&t, on_accept), 0);

    static const char *const bad[] = {
        "RAFT x n1", "RAFT 1", "RAFT 1 ", "RAFT 0 n1", "RAFT 01 n1", "RAFT 1 a b",
        "RAFT 18446744073709551616 n1", "RAFT -1 n1", "RAFT +1 n1", "raft 1 n1",
        "RAFT  1 n1", "RAFT 1  n1", "RAFT 1 n1 ", "RAFT 1 n\x01", "RAFT 1 n\x7f", "RAFT",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(adopt_line(&t, bad[i], strlen(bad[i])) == 1, "\"%s\" was not closed",
                      bad[i]);
    /* Over RAFT_TRANSPORT_MAX_LINE. */
    char longline[RAFT_TRANSPORT_MAX_LINE + 16];
    memset(longline, 'x', sizeof longline);
    memcpy(longline, "RAFT 1 ", 7);
    ck_assert_int_eq(adopt_line(&t, longline, sizeof longline), 1);
    ck_assert_int_eq(acc.calls, 0);

    /* A good one: RAFTOK, then raft's accept callback with id and name. */
    const char *good = "RAFT 18446744073709551615 peer-x.example";
    ck_assert_int_eq(adopt_line(&t, good, strlen(good)), 2);
    ck_assert_int_eq(acc.calls, 1);
    ck_assert_uint_eq(acc.id, UINT64_MAX);
    ck_assert_str_eq(acc.name, "peer-x.example");
    ck_assert_ptr_nonnull(acc.stream);
    uv_close((uv_handle_t *)acc.stream, free_stream);

    /* One still being answered when close() comes is closed with it. */
    int a, b;
    tcp_pair(&a, &b);
    raft_transport_adopt(&t, b, NULL, "RAFT 5 late", 11);
    transport_closed_flag = false;
    t.close(&t, on_transport_closed);
    ck_assert(run_until(flag_set, &transport_closed_flag, 3000));
    ck_assert_int_eq(acc.calls, 1);
    close(a);

    /* After close(): closed at once. */
    tcp_pair(&a, &b);
    raft_transport_adopt(&t, b, NULL, "RAFT 6 after", 12);
    struct far_end f = { .fd = a };
    ck_assert(run_until(far_settled, &f, 3000));
    ck_assert_int_eq(f.state, 1);
    close(a);
    raft_transport_free(&t);
    loop_close();
}
END_TEST

/* ---- dials that fail ---- */

struct dial_result {
    bool called;
    int status;
    uv_stream_t *stream;
    long long at_ms;
};

static void on_dialled(struct raft_uv_connect *req, uv_stream_t *stream, int status)
{
    struct dial_result *r = req->data;
    r->called = true;
    r->status = status;
    r->stream = stream;
    r->at_ms = now_ms();
}

static bool dial_called(void *arg)
{
    return ((struct dial_result *)arg)->called;
}

/* Resolves "silent" to a listener that never accepts (the kernel completes
 * the TCP handshake from the backlog, then nobody answers), "silent-name"
 * to the same port by host name (through getaddrinfo), "refused" to a
 * closed port, "n1" to the fake route in ROUTE_ERR mode, "ok" to the fake
 * route in ROUTE_ADOPT mode. */
struct dial_env {
    int silent_port, refused_port;
};
static struct dial_env denv;

static int resolve_dial(void *arg, const char *name, char *out, size_t cap)
{
    if (!strcmp(name, "silent"))
        snprintf(out, cap, "127.0.0.1:%d", denv.silent_port);
    else if (!strcmp(name, "silent-name"))
        snprintf(out, cap, "localhost:%d", denv.silent_port);
    else if (!strcmp(name, "refused"))
        snprintf(out, cap, "[::1]:%d", denv.refused_port);
    else if (!strcmp(name, "err"))
        return resolve_table(&fr, "n1", out, cap);
    else if (!strcmp(name, "ok"))
        return resolve_table(&fr, "n2", out, cap);
    else
        return -ENOENT;
    return 0;
}

static void dial(struct raft_uv_transport *t, const char *name, struct dial_result *r,
                 struct raft_uv_connect *req)
{
    memset(r, 0, sizeof *r);
    req->data = r;
    ck_assert_int_eq(t->connect(t, req, 7, name, on_dialled), 0);
}

START_TEST(dials_fail_in_time)
{
    loop_open();
    fake_route_start(&fr);
    pthread_mutex_lock(&fr.lock);
    fr.mode[0] = ROUTE_ERR;
    pthread_mutex_unlock(&fr.lock);

    int silent = listen_local(&denv.silent_port);
    int refused = listen_local(&denv.refused_port);
    close(refused);

    struct raft_uv_transport t = { 0 }, peer = { 0 };
    struct accepted acc = { 0 };
    struct raft_transport_config cfg = { .resolve = resolve_dial, .step_timeout_ms = STEP_MS };
    ck_assert_int_eq(raft_transport_init_config(&t, &loop, &cfg), 0);
    ck_assert_int_eq(t.init(&t, 1, "dialler"), 0);
    ck_assert_int_eq(t.listen(&t, on_accept), 0);
    ck_assert_int_eq(raft_transport_init_config(&peer, &loop, &cfg), 0);
    peer.data = &acc;
    ck_assert_int_eq(peer.init(&peer, 2, "ok"), 0);
    ck_assert_int_eq(peer.listen(&peer, on_accept), 0);
    fake_route_set(&fr, 1, &peer);

    /* No route to the name: refused at once, raft retries later. */
    struct raft_uv_connect req;
    req.data = NULL;
    ck_assert_int_eq(t.connect(&t, &req, 7, "nobody", on_dialled), RAFT_NOCONNECTION);

    struct dial_result r;
    static const char *const failing[] = { "silent", "silent-name", "refused", "err" };
    for (size_t i = 0; i < sizeof failing / sizeof failing[0]; i++) {
        long long start = now_ms();
        dial(&t, failing[i], &r, &req);
        ck_assert_msg(run_until(dial_called, &r, 5 * STEP_MS), "%s: no callback", failing[i]);
        ck_assert_msg(r.status == RAFT_NOCONNECTION, "%s: status %d", failing[i], r.status);
        ck_assert_ptr_null(r.stream);
        /* Only a silent peer takes the step timeout; the others fail fast. */
        long long took = r.at_ms - start;
        if (!strncmp(failing[i], "silent", 6))
            ck_assert_msg(took >= STEP_MS - 20, "%s failed after %lld ms", failing[i], took);
        else
            ck_assert_msg(took < STEP_MS, "%s took %lld ms", failing[i], took);
    }

    /* Through the fake route: INFO skipped, RAFTOK, a stream for raft, and
     * the peer transport's accept callback with our id and name. */
    dial(&t, "ok", &r, &req);
    ck_assert(run_until(dial_called, &r, 5 * STEP_MS));
    ck_assert_int_eq(r.status, 0);
    ck_assert_ptr_nonnull(r.stream);
    ck_assert(uv_is_writable(r.stream));
    ck_assert(run_until(accept_called, &acc, 3000));
    ck_assert_int_eq(acc.calls, 1);
    ck_assert_uint_eq(acc.id, 1);
    ck_assert_str_eq(acc.name, "dialler");
    uv_close((uv_handle_t *)r.stream, free_stream);
    uv_close((uv_handle_t *)acc.stream, free_stream);

    /* close() with a dial pending: RAFT_CANCELED, before close's callback. */
    dial(&t, "silent", &r, &req);
    transport_closed_flag = false;
    t.close(&t, on_transport_closed);
    ck_assert(run_until(flag_set, &transport_closed_flag, 3000));
    ck_assert(r.called);
    ck_assert_int_eq(r.status, RAFT_CANCELED);

    fake_route_set(&fr, 1, NULL);
    transport_closed_flag = false;
    peer.close(&peer, on_transport_closed);
    ck_assert(run_until(flag_set, &transport_closed_flag, 3000));
    raft_transport_free(&t);
    raft_transport_free(&peer);
    fake_route_stop(&fr);
    close(silent);
    loop_close();
}
END_TEST

/* Cluster TLS on the dialling side: the connect succeeds, then the pump's
 * handshake meets a peer that does not speak TLS (the fake route writes
 * its INFO in plaintext) and the dial fails at once; a silent peer takes
 * the step timeout, the handshake included; close() with such a dial
 * pending cancels it and calls back only once its pump is gone. */
START_TEST(tls_dials_fail_in_time)
{
    struct testcert cert;
    testcert_write(&cert);
    struct tls_ctx *ctx = testcert_cluster_ctx(&cert);
    loop_open();
    fake_route_start(&fr);
    pthread_mutex_lock(&fr.lock);
    fr.mode[0] = ROUTE_ERR;
    pthread_mutex_unlock(&fr.lock);
    int silent = listen_local(&denv.silent_port);

    struct raft_uv_transport t = { 0 };
    struct raft_transport_config cfg = { .resolve = resolve_dial, .step_timeout_ms = STEP_MS,
                                         .tls = ctx };
    ck_assert_int_eq(raft_transport_init_config(&t, &loop, &cfg), 0);
    ck_assert_int_eq(t.init(&t, 1, "dialler"), 0);
    ck_assert_int_eq(t.listen(&t, on_accept), 0);

    struct raft_uv_connect req;
    struct dial_result r;
    long long start = now_ms();
    dial(&t, "err", &r, &req);
    ck_assert(run_until(dial_called, &r, 5 * STEP_MS));
    ck_assert_int_eq(r.status, RAFT_NOCONNECTION);
    ck_assert_ptr_null(r.stream);
    ck_assert_msg(r.at_ms - start < STEP_MS, "plaintext peer took %lld ms", r.at_ms - start);

    start = now_ms();
    dial(&t, "silent", &r, &req);
    ck_assert(run_until(dial_called, &r, 5 * STEP_MS));
    ck_assert_int_eq(r.status, RAFT_NOCONNECTION);
    ck_assert_msg(r.at_ms - start >= STEP_MS - 20, "silent peer failed after %lld ms",
                  r.at_ms - start);

    dial(&t, "silent", &r, &req);
    transport_closed_flag = false;
    t.close(&t, on_transport_closed);
    ck_assert(run_until(flag_set, &transport_closed_flag, 3000));
    ck_assert(r.called);
    ck_assert_int_eq(r.status, RAFT_CANCELED);
    raft_transport_free(&t);
    fake_route_stop(&fr);
    close(silent);
    loop_close();
    tls_ctx_unref(ctx);
    testcert_remove(&cert);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("raft_transport");
    TCase *t = tcase_create("transport");
    tcase_set_timeout(t, 120);
    tcase_add_test(t, bad_preambles_are_closed);
    tcase_add_test(t, dials_fail_in_time);
    tcase_add_test(t, tls_dials_fail_in_time);
    tcase_add_test(t, three_members_elect_commit_and_fail_over);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
