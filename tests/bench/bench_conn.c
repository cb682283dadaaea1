/*
 * tests/bench/bench_conn.c — tern-bench's client connections.
 *
 * Owns the socket side of every mode: dial, the INFO / CONNECT + PING /
 * PONG handshake, a growable output buffer flushed with few large writes,
 * and reads of up to 1 MiB into a per-thread buffer that proto/parser.c
 * (client side) parses in place, calling the mode's handlers. Blocking
 * waits are poll() with a deadline so a stalled server fails the run
 * instead of hanging it. Never shares a connection between threads.
 *
 * TLS (--tls-ca): after the plaintext INFO the connection does a client
 * handshake, then conn_send/conn_read use SSL_write/SSL_read. conn_read
 * drains the session until OpenSSL wants the socket again, so callers can
 * keep waiting on poll(): no decrypted byte is left behind unseen.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "tests/bench/bench_conn.h"

#define RBUF_SIZE (1u << 20) /* one read; big reads keep syscalls rare */

/* Sent by every connection; headers/no_responders as modern clients do. */
static const char CONNECT_LINE[] =
    "CONNECT {\"verbose\":false,\"pedantic\":false,\"protocol\":1,"
    "\"name\":\"tern-bench\",\"lang\":\"C\",\"headers\":true,"
    "\"no_responders\":true}\r\nPING\r\n";

static _Thread_local char *tl_rbuf; /* per thread; freed by conn_rbuf_release() */
static SSL_CTX *tls_ctx;            /* set once before any connection; read-only after */

int bench_tls_init(const char *ca_file)
{
    tls_ctx = SSL_CTX_new(TLS_client_method());
    if (!tls_ctx || SSL_CTX_load_verify_locations(tls_ctx, ca_file, NULL) != 1) {
        fprintf(stderr, "tern-bench: cannot load CA file %s\n", ca_file);
        return -EINVAL;
    }
    SSL_CTX_set_verify(tls_ctx, SSL_VERIFY_PEER, NULL);
    SSL_CTX_set_mode(tls_ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
                                  SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_read_ahead(tls_ctx, 1);
    SSL_CTX_set_default_read_buffer_len(tls_ctx, 64 * 1024);
    return 0;
}

void bench_tls_free(void)
{
    SSL_CTX_free(tls_ctx);
    tls_ctx = NULL;
}

/* OpenSSL's verdict on a call that returned n <= 0: 1 = wants the socket
 * (wait and retry), 0 = peer closed, < 0 = failed. */
static int tls_retry(struct conn *c, int n, const char *what)
{
    int e = SSL_get_error(c->ssl, n);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
        return 1;
    if (e == SSL_ERROR_ZERO_RETURN)
        return 0;
    char buf[256];
    ERR_error_string_n(ERR_get_error(), buf, sizeof buf);
    fprintf(stderr, "tern-bench: TLS %s: %s\n", what, buf);
    return -EIO;
}

int64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void conn_rbuf_release(void)
{
    free(tl_rbuf);
    tl_rbuf = NULL;
}

/* ---- connection I/O ---- */

int conn_fail(struct conn *c, int err)
{
    if (!c->err)
        c->err = err;
    return CONN_STOP;
}

char *conn_reserve(struct conn *c, size_t n)
{
    if (c->wlen + n > c->wcap && c->woff > 0) {
        memmove(c->wbuf, c->wbuf + c->woff, c->wlen - c->woff);
        c->wlen -= c->woff;
        c->woff = 0;
    }
    if (c->wlen + n > c->wcap) {
        size_t cap = c->wcap ? c->wcap * 2 : CONN_WBATCH + 4096;
        while (cap < c->wlen + n)
            cap *= 2;
        char *nb = realloc(c->wbuf, cap);
        if (!nb) {
            fprintf(stderr, "tern-bench: out of memory\n");
            return NULL;
        }
        c->wbuf = nb;
        c->wcap = cap;
    }
    char *p = c->wbuf + c->wlen;
    c->wlen += n;
    return p;
}

int conn_append(struct conn *c, const void *data, size_t n)
{
    char *p = conn_reserve(c, n);
    if (!p)
        return -ENOMEM;
    memcpy(p, data, n);
    return 0;
}

int conn_ping(struct conn *c)
{
    c->pings++;
    return conn_append(c, "PING\r\n", 6);
}

bool conn_pending(const struct conn *c)
{
    return c->woff < c->wlen;
}

/* Write what the socket takes now: 0 when drained, 1 when bytes remain. */
int conn_send(struct conn *c)
{
    while (c->ssl && c->woff < c->wlen) {
        size_t put = 0;
        int n = SSL_write_ex(c->ssl, c->wbuf + c->woff, c->wlen - c->woff, &put);
        if (n == 1) {
            c->woff += put;
            continue;
        }
        int r = tls_retry(c, n, "write");
        return r == 1 ? 1 : -EIO;
    }
    while (c->woff < c->wlen) {
        ssize_t n = write(c->fd, c->wbuf + c->woff, c->wlen - c->woff);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN)
                return 1;
            fprintf(stderr, "tern-bench: write: %s\n", strerror(errno));
            return -errno;
        }
        c->woff += (size_t)n;
    }
    c->woff = c->wlen = 0;
    return 0;
}

/* One read and parse: 1 if bytes came, 0 if none were ready, < 0 on error. */
static int parse_chunk(struct conn *c, size_t n);

/* TLS: read and parse until the session wants the socket again. */
static int tls_read(struct conn *c)
{
    int got_any = 0;
    for (;;) {
        size_t got = 0, n = 0;
        int r = 1;
        while (got < RBUF_SIZE && SSL_read_ex(c->ssl, tl_rbuf + got, RBUF_SIZE - got, &n) == 1)
            got += n;
        if (got < RBUF_SIZE)
            r = tls_retry(c, 0, "read");
        if (got) {
            int rc = parse_chunk(c, got);
            if (rc < 0)
                return rc;
            got_any = 1;
        }
        if (r == 0) {
            fprintf(stderr, "tern-bench: server closed the connection\n");
            return -ECONNRESET;
        }
        if (r < 0)
            return r;
        if (got < RBUF_SIZE)
            return got_any; /* wants the socket: poll() will say when */
    }
}

int conn_read(struct conn *c)
{
    if (!tl_rbuf && !(tl_rbuf = malloc(RBUF_SIZE)))
        return -ENOMEM;
    if (c->ssl)
        return tls_read(c);
    ssize_t n = read(c->fd, tl_rbuf, RBUF_SIZE);
    if (n < 0) {
        if (errno == EAGAIN || errno == EINTR)
            return 0;
        fprintf(stderr, "tern-bench: read: %s\n", strerror(errno));
        return -errno;
    }
    if (n == 0) {
        fprintf(stderr, "tern-bench: server closed the connection\n");
        return -ECONNRESET;
    }
    return parse_chunk(c, (size_t)n);
}

static int parse_chunk(struct conn *c, size_t n)
{
    int rc = proto_parse(&c->parser, tl_rbuf, n, c->h, c);
    if (rc == CONN_STOP)
        return c->err; /* the handler logged why */
    if (rc != 0) {
        const char *why = proto_strerror(rc);
        fprintf(stderr, "tern-bench: bad server output (parser %d%s%s)\n", rc,
                why ? ": " : "", why ? why : "");
        return -EPROTO;
    }
    return 1;
}

/* Block until *counter reaches target, flushing output meanwhile. */
int conn_wait(struct conn *c, const uint64_t *counter, uint64_t target,
              int timeout_ms, const char *what)
{
    int64_t deadline = bench_now_ns() + (int64_t)timeout_ms * 1000000;
    while (*counter < target) {
        int rc = conn_send(c);
        if (rc < 0)
            return rc;
        int left = (int)((deadline - bench_now_ns()) / 1000000);
        if (left <= 0) {
            fprintf(stderr, "tern-bench: timed out waiting for %s\n", what);
            return -ETIMEDOUT;
        }
        struct pollfd p = {c->fd, (short)(POLLIN | (rc ? POLLOUT : 0)), 0};
        if (poll(&p, 1, left) < 0 && errno != EINTR)
            return -errno;
        if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
            rc = conn_read(c);
            if (rc < 0)
                return rc;
        }
    }
    return conn_send(c) < 0 ? -EIO : 0;
}

/* PING and wait for its PONG: the server has processed everything before. */
int conn_flush(struct conn *c, int timeout_ms)
{
    int rc = conn_ping(c);
    if (rc)
        return rc;
    return conn_wait(c, &c->pongs, c->pings, timeout_ms, "PONG");
}

static int dial(const char *host, const char *port, int *fd_out)
{
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc) {
        fprintf(stderr, "tern-bench: %s:%s: %s\n", host, port, gai_strerror(rc));
        return -EINVAL;
    }
    int fd = -1, err = ECONNREFUSED;
    for (struct addrinfo *a = res; a && fd < 0; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd >= 0 && connect(fd, a->ai_addr, a->ai_addrlen) < 0) {
            err = errno;
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    if (fd < 0) {
        fprintf(stderr, "tern-bench: connect %s:%s: %s\n", host, port, strerror(err));
        return -err;
    }
    /* Small requests and replies must leave at once (reqrep latency). */
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    *fd_out = fd;
    return 0;
}

/* The client side of the upgrade after INFO; the server's certificate must
 * chain to --tls-ca (the host name is not checked: bench servers listen on
 * loopback addresses). */
static int tls_handshake(struct conn *c, const char *host, int timeout_ms)
{
    (void)host;
    if (!(c->ssl = SSL_new(tls_ctx)) || SSL_set_fd(c->ssl, c->fd) != 1)
        return -ENOMEM;
    SSL_set_connect_state(c->ssl);
    int64_t deadline = bench_now_ns() + (int64_t)timeout_ms * 1000000;
    for (;;) {
        int n = SSL_do_handshake(c->ssl);
        if (n == 1)
            return 0;
        int r = tls_retry(c, n, "handshake");
        if (r != 1)
            return r < 0 ? r : -ECONNRESET;
        int left = (int)((deadline - bench_now_ns()) / 1000000);
        if (left <= 0) {
            fprintf(stderr, "tern-bench: timed out in the TLS handshake\n");
            return -ETIMEDOUT;
        }
        bool wr = SSL_get_error(c->ssl, n) == SSL_ERROR_WANT_WRITE;
        struct pollfd p = {c->fd, (short)(wr ? POLLOUT : POLLIN), 0};
        if (poll(&p, 1, left) < 0 && errno != EINTR)
            return -errno;
    }
}

void conn_close(struct conn *c)
{
    if (!c)
        return;
    SSL_free(c->ssl);
    if (c->fd >= 0)
        close(c->fd);
    proto_parser_free(&c->parser);
    free(c->wbuf);
    free(c);
}

int conn_open(const struct bench_opts *o, const struct proto_handlers *h, void *role,
              struct conn **out)
{
    return conn_open_at(o, o->host, o->port, h, role, out);
}

/* Connect and handshake: INFO, then CONNECT + PING, then wait for PONG. */
int conn_open_at(const struct bench_opts *o, const char *host, const char *port,
                 const struct proto_handlers *h, void *role, struct conn **out)
{
    struct conn *c = calloc(1, sizeof *c);
    if (!c)
        return -ENOMEM;
    c->fd = -1;
    c->h = h;
    c->role = role;
    proto_parser_init(&c->parser, PROTO_SIDE_CLIENT);
    int rc = dial(host, port, &c->fd);
    if (rc)
        goto err_after_alloc;
    rc = conn_wait(c, &c->infos, 1, o->timeout_ms, "INFO");
    if (rc)
        goto err_after_alloc;
    if (tls_ctx && (rc = tls_handshake(c, host, o->timeout_ms)))
        goto err_after_alloc;
    c->pings++; /* the PING inside CONNECT_LINE */
    rc = conn_append(c, CONNECT_LINE, sizeof CONNECT_LINE - 1);
    if (rc)
        goto err_after_alloc;
    rc = conn_wait(c, &c->pongs, c->pings, o->timeout_ms, "PONG after CONNECT");
    if (rc)
        goto err_after_alloc;
    *out = c;
    return 0;
err_after_alloc:
    conn_close(c);
    return rc;
}

int conn_subscribe(struct conn *c, const char *subject, const char *queue, int sid)
{
    char line[512];
    int n = snprintf(line, sizeof line, "SUB %s%s%s %d\r\n", subject, queue ? " " : "",
                     queue ? queue : "", sid);
    if (n < 0 || (size_t)n >= sizeof line)
        return -EINVAL;
    return conn_append(c, line, (size_t)n);
}

/* ---- handlers shared by every connection ---- */

int conn_on_info(void *ctx, struct proto_slice json)
{
    (void)json;
    ((struct conn *)ctx)->infos++;
    return 0;
}

int conn_on_ping(void *ctx)
{
    struct conn *c = ctx;
    return conn_append(c, "PONG\r\n", 6) ? conn_fail(c, -ENOMEM) : 0;
}

int conn_on_pong(void *ctx)
{
    ((struct conn *)ctx)->pongs++;
    return 0;
}

int conn_on_err(void *ctx, struct proto_slice text)
{
    fprintf(stderr, "tern-bench: server sent -ERR %.*s\n", (int)text.len, text.ptr);
    return conn_fail(ctx, -EPROTO);
}

static int on_unexpected_msg(void *ctx, const struct proto_msg *m)
{
    fprintf(stderr, "tern-bench: unexpected MSG on %.*s\n", (int)m->subject.len, m->subject.ptr);
    return conn_fail(ctx, -EPROTO);
}

const struct proto_handlers conn_plain_handlers = CONN_HANDLERS(on_unexpected_msg);
