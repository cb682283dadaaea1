/*
 * tests/bench/bench_conn.h — one NATS client connection for tern-bench.
 *
 * A connection is a non-blocking socket, an output buffer that many frames
 * are appended to and handed to the kernel in one write(), and Tern's own
 * parser (proto/parser.c, client side) run over 1 MiB reads. conn_open()
 * does the whole handshake (INFO, CONNECT + PING, PONG) before returning.
 * Not thread-safe: one thread at a time uses a connection.
 */
#ifndef TERN_BENCH_CONN_H
#define TERN_BENCH_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/parser.h"
#include "tests/bench/bench_opts.h"

#define CONN_WBATCH (256u << 10) /* bytes of PUB frames handed to one write() */
#define CONN_STOP 1              /* handler stop value; the reason is in conn.err */

/*
 * One client connection. Owner: the mode that opened it with conn_open()
 * frees it with conn_close(). Used by one thread at a time: set up on the
 * main thread, then possibly handed to the receiver thread for the run.
 */
struct ssl_st;

struct conn {
    int fd;
    struct ssl_st *ssl;             /* owned; NULL on a plain connection */
    struct proto_parser parser;
    const struct proto_handlers *h; /* borrowed: a static table */
    void *role;                     /* borrowed: the mode state it serves */
    char *wbuf;                     /* owned: bytes not yet written */
    size_t wlen, woff, wcap;
    uint64_t infos, pings, pongs;   /* INFO seen, PINGs sent, PONGs seen */
    int err;                        /* reason a handler stopped the parse */
};

/* CLOCK_MONOTONIC in nanoseconds: every deadline and measurement uses it. */
int64_t bench_now_ns(void);

/* Connect to o->host:o->port and handshake; *out is the caller's to close.
 * h and role are borrowed for the connection's life. */
int conn_open(const struct bench_opts *o, const struct proto_handlers *h, void *role,
              struct conn **out);
/* The same, to host:port instead (receivers on another cluster node). */
int conn_open_at(const struct bench_opts *o, const char *host, const char *port,
                 const struct proto_handlers *h, void *role, struct conn **out);
void conn_close(struct conn *c); /* NULL is fine */

/* Output: append to the buffer (nothing is written until conn_send). */
char *conn_reserve(struct conn *c, size_t n); /* n bytes to fill; NULL: no memory */
int conn_append(struct conn *c, const void *data, size_t n);
int conn_ping(struct conn *c); /* appends PING and counts it */
int conn_subscribe(struct conn *c, const char *subject, const char *queue, int sid);
bool conn_pending(const struct conn *c);

/* Write what the socket takes now: 0 when drained, 1 when bytes remain. */
int conn_send(struct conn *c);
/* One read and parse: 1 if bytes came, 0 if none were ready, < 0 on error. */
int conn_read(struct conn *c);
/* Block until *counter reaches target, flushing output meanwhile. */
int conn_wait(struct conn *c, const uint64_t *counter, uint64_t target, int timeout_ms,
              const char *what);
/* PING and wait for its PONG: the server has processed everything before. */
int conn_flush(struct conn *c, int timeout_ms);

/* TLS for every later conn_open: trust ca_file. Main thread, before any
 * connection opens; 0 or -EINVAL (reason printed). bench_tls_free() at exit. */
int bench_tls_init(const char *ca_file);
void bench_tls_free(void);

/* Free this thread's read buffer; every thread that called conn_read must. */
void conn_rbuf_release(void);

/* For handlers: record err as the reason (the first one wins) and return
 * CONN_STOP, which makes conn_read() return that reason. */
int conn_fail(struct conn *c, int err);

/* Handlers every connection shares; the mode supplies only on_msg. The
 * parser's ctx is the struct conn. */
int conn_on_info(void *ctx, struct proto_slice json);
int conn_on_ping(void *ctx);
int conn_on_pong(void *ctx);
int conn_on_err(void *ctx, struct proto_slice text);

#define CONN_HANDLERS(msg_fn) \
    { .on_info = conn_on_info, .on_msg = (msg_fn), .on_ping = conn_on_ping, \
      .on_pong = conn_on_pong, .on_err = conn_on_err }

/* For connections that never subscribe: any MSG fails the run. */
extern const struct proto_handlers conn_plain_handlers;

#endif
