/*
 * tests/unit/check_tls_pump.c — cluster/tls_pump.c with real TLS sessions
 * (server/tls.c), a real libuv loop and socketpairs.
 *
 * Two pumps face each other over a "network" socketpair: one dials (client
 * session), one accepts (server session), both run the handshake. Each
 * pump's local end is a uv_pipe_t, as raft's stream is. The certificate is
 * tls_testcert.h's self-signed one, its own CA, so both sides verify each
 * other.
 *
 * Cases: a megabyte each way at once arrives intact (backpressure through
 * full buffers); closing one local end makes the far local end read end of
 * file and both pumps report closed; a plaintext peer fails the handshake
 * and the local end reads end of file; tls_pump_close ends a live pump.
 */
#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "cluster/tls_pump.h"
#include "server/tls.h"
#include "tests/unit/tls_testcert.h"

#define BIG (1024 * 1024 + 17)

static struct testcert cert;
static struct tls_ctx *ctx;

static void setup(void)
{
    testcert_write(&cert);
    ctx = testcert_cluster_ctx(&cert);
}

static void teardown(void)
{
    tls_ctx_unref(ctx);
    testcert_remove(&cert);
}

/* One side: the raft end of its socketpair as a pipe, what it reads. */
struct side {
    uv_pipe_t pipe;
    char *got;
    size_t ngot;
    bool eof;
    bool pipe_closed;
    int pump_closed;
    uv_write_t w;
};

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct side *s = h->data;
    buf->base = s->got + s->ngot;
    buf->len = BIG + 64 - s->ngot;
    (void)suggested;
}

static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
    struct side *s = st->data;
    (void)buf;
    if (n > 0)
        s->ngot += (size_t)n;
    else if (n < 0) {
        s->eof = true;
        uv_read_stop(st);
    }
}

static void on_pipe_closed(uv_handle_t *h)
{
    ((struct side *)h->data)->pipe_closed = true;
}

static void on_pump_closed(void *arg)
{
    ((struct side *)arg)->pump_closed++;
}

/* A pump for one side: net_fd with a client or server session. */
static struct tls_pump *start_side(uv_loop_t *loop, struct side *s, int net_fd, bool client)
{
    int sp[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
    memset(s, 0, sizeof *s);
    s->got = malloc(BIG + 64);
    ck_assert_int_eq(uv_pipe_init(loop, &s->pipe, 0), 0);
    ck_assert_int_eq(uv_pipe_open(&s->pipe, sp[1]), 0);
    s->pipe.data = s;
    struct tls_conn *tc = client ? tls_conn_new_client(ctx, net_fd, NULL)
                                 : tls_conn_new(ctx, net_fd);
    ck_assert_ptr_nonnull(tc);
    struct tls_pump *p = NULL;
    ck_assert_int_eq(tls_pump_start(loop, net_fd, tc, true, sp[0], client ? "dialler" : "acceptor",
                                    on_pump_closed, s, &p), 0);
    ck_assert_int_eq(uv_read_start((uv_stream_t *)&s->pipe, on_alloc, on_read), 0);
    return p;
}

static void fill(char *b, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        b[i] = (char)((i * 31 + seed) & 0xff);
}

/* Run the loop until cond holds or 10 s pass. */
#define RUN_UNTIL(loop, cond)                                                      \
    do {                                                                           \
        for (int spin = 0; spin < 100000 && !(cond); spin++)                       \
            uv_run((loop), UV_RUN_NOWAIT), usleep(100);                            \
        ck_assert_msg((cond), "timed out waiting for " #cond);                     \
    } while (0)

START_TEST(both_ways_at_once)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    int net[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, net), 0);
    struct side a, b;
    start_side(&loop, &a, net[0], true);
    start_side(&loop, &b, net[1], false);
    char *out_a = malloc(BIG), *out_b = malloc(BIG);
    fill(out_a, BIG, 1);
    fill(out_b, BIG, 2);
    uv_buf_t ba = uv_buf_init(out_a, BIG), bb = uv_buf_init(out_b, BIG);
    ck_assert_int_eq(uv_write(&a.w, (uv_stream_t *)&a.pipe, &ba, 1, NULL), 0);
    ck_assert_int_eq(uv_write(&b.w, (uv_stream_t *)&b.pipe, &bb, 1, NULL), 0);
    RUN_UNTIL(&loop, a.ngot == BIG && b.ngot == BIG);
    ck_assert(memcmp(b.got, out_a, BIG) == 0);
    ck_assert(memcmp(a.got, out_b, BIG) == 0);
    /* Raft closes one end: the other end reads end of file, both pumps
     * close. */
    uv_close((uv_handle_t *)&a.pipe, on_pipe_closed);
    RUN_UNTIL(&loop, b.eof && a.pump_closed == 1 && b.pump_closed == 1);
    uv_close((uv_handle_t *)&b.pipe, on_pipe_closed);
    RUN_UNTIL(&loop, a.pipe_closed && b.pipe_closed);
    ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
    free(out_a);
    free(out_b);
    free(a.got);
    free(b.got);
}
END_TEST

START_TEST(plaintext_peer_fails_the_handshake)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    int net[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, net), 0);
    struct side b;
    start_side(&loop, &b, net[1], false);
    ck_assert_int_eq(write(net[0], "RAFT 1 x\r\n", 10), 10);
    RUN_UNTIL(&loop, b.eof && b.pump_closed == 1);
    ck_assert_uint_eq(b.ngot, 0);
    close(net[0]);
    uv_close((uv_handle_t *)&b.pipe, on_pipe_closed);
    ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
    free(b.got);
}
END_TEST

START_TEST(close_ends_a_live_pump)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    int net[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, net), 0);
    struct side a, b;
    struct tls_pump *pa = start_side(&loop, &a, net[0], true);
    start_side(&loop, &b, net[1], false);
    uv_buf_t hi = uv_buf_init("hello", 5);
    ck_assert_int_eq(uv_write(&a.w, (uv_stream_t *)&a.pipe, &hi, 1, NULL), 0);
    RUN_UNTIL(&loop, b.ngot == 5);
    /* The transport shuts down: both raft ends see end of file. */
    tls_pump_close(pa);
    RUN_UNTIL(&loop, a.eof && b.eof && a.pump_closed == 1 && b.pump_closed == 1);
    uv_close((uv_handle_t *)&a.pipe, on_pipe_closed);
    uv_close((uv_handle_t *)&b.pipe, on_pipe_closed);
    ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
    free(a.got);
    free(b.got);
}
END_TEST

int main(void)
{
    signal(SIGPIPE, SIG_IGN); /* as ternd: a write to a closed peer is an error */
    Suite *s = suite_create("tls_pump");
    TCase *tc = tcase_create("pump");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, both_ways_at_once);
    tcase_add_test(tc, plaintext_peer_fails_the_handshake);
    tcase_add_test(tc, close_ends_a_live_pump);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
