/*
 * server/tls.h — TLS on client connections, on the cluster port (routes
 * and raft, both sides) and in the sessions of the HTTPS monitor, with
 * OpenSSL.
 *
 * Two objects. struct tls_ctx wraps one SSL_CTX built from the options
 * (certificate, key, CA, verify, ciphers, curves, minimum version); it is
 * immutable once built and refcounted, so a SIGHUP swaps in a new one for
 * new connections while live connections keep the one they started with.
 * struct tls_conn is one connection's SSL object, created, driven and freed
 * by the connection's owning loop only (OpenSSL allows no concurrent use of
 * one SSL object, so no other loop may write a TLS socket).
 *
 * Everything is non-blocking: each call does what the socket allows and
 * says whether it wants the socket readable or writable before it can go
 * on; it never waits. Errors: 0 or a negative errno code; I/O results use
 * the TLS_* codes below.
 */
#ifndef TERN_SERVER_TLS_H
#define TERN_SERVER_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "server/opts.h"

struct tls_ctx;    /* refcounted; see tls_ctx_new() */
struct tls_conn;   /* one per connection; owned by the connection */

/* I/O results besides a byte count (> 0) and 0 (the peer closed). */
enum {
    TLS_WANT_READ = -10001,   /* call again once the socket is readable */
    TLS_WANT_WRITE = -10002,  /* call again once the socket is writable */
    TLS_FAILED = -10003,      /* the session is dead: close the connection */
};

/*
 * Build from o's tls_* options; NULL when o->tls is off (not an error:
 * check *rc). On failure *rc < 0 and err holds one line, prefixed with the
 * tls block's file:line:col when the settings came from a config file,
 * e.g. "a.conf:3:1: error loading certificate /x.pem: No such file". Reads
 * the certificate, key and CA files (so call it on the main thread, at
 * start and on reload). The result has one reference.
 */
struct tls_ctx *tls_ctx_new(const struct tern_opts *o, int *rc, char *err, size_t errlen);
/* The cluster port's context from ct = opts->cluster_tls (NULL, or ct->tls
 * off: NULL, not an error). It serves both sides of a connection: accepted
 * routes (server side, the dialler's certificate required and verified)
 * and dialled ones (client side, see tls_conn_new_client). */
struct tls_ctx *tls_ctx_new_cluster(const struct tern_opts *ct, int *rc, char *err,
                                    size_t errlen);
struct tls_ctx *tls_ctx_ref(struct tls_ctx *t);
void tls_ctx_unref(struct tls_ctx *t);

bool tls_ctx_verify(const struct tls_ctx *t);   /* client certificates required */
bool tls_ctx_map(const struct tls_ctx *t);      /* verify_and_map */
double tls_ctx_timeout(const struct tls_ctx *t);/* handshake timeout, seconds */

/* A server-side session on socket fd (non-blocking, still owned by the
 * caller). NULL on out of memory. */
struct tls_conn *tls_conn_new(struct tls_ctx *t, int fd);
/* A client-side session on fd, for a context from tls_ctx_new_cluster.
 * host: the name or address literal dialled, which the acceptor's
 * certificate must carry (a DNS name, or an IP SAN for a literal), or NULL
 * to verify its chain only. NULL on out of memory or a bad host. */
struct tls_conn *tls_conn_new_client(struct tls_ctx *t, int fd, const char *host);
/* A bare server-side OpenSSL session (SSL *) for the HTTPS monitor, whose
 * bufferevents drive the handshake and I/O. It never asks for a client
 * certificate, whatever `verify` says (nats-server's monitor does not
 * either), and reads no more than each record (read-ahead could leave a
 * request the bufferevent never sees in the session's buffer). It holds
 * its own reference to the SSL_CTX, so t may be released afterwards. NULL
 * on out of memory. */
struct ssl_st *tls_ssl_new_monitor(struct tls_ctx *t);
/* Frees the session; never touches the socket. NULL is fine. */
void tls_conn_free(struct tls_conn *tc);

/* Drive the handshake: 1 when complete, TLS_WANT_READ/TLS_WANT_WRITE, or
 * TLS_FAILED with OpenSSL's reason in why. */
int tls_handshake(struct tls_conn *tc, char *why, size_t whylen);

/* Plaintext out of / into the session: bytes (> 0), 0 when the peer closed
 * the session, or a TLS_* code. A write that wanted the socket must be
 * retried with the same bytes at the front of buf (it may have moved). */
ssize_t tls_read(struct tls_conn *tc, void *buf, size_t len);
ssize_t tls_write(struct tls_conn *tc, const void *buf, size_t len);
/* Decrypted or received bytes buffered inside the session: a read would
 * return data without the socket becoming readable again. */
bool tls_has_pending(struct tls_conn *tc);
/* Best effort close_notify, never blocking. */
void tls_shutdown(struct tls_conn *tc);

/* After the handshake: "1.3"-style version and the IANA cipher name, for
 * logs and /connz. */
void tls_describe(struct tls_conn *tc, char *version, size_t vlen, char *cipher, size_t clen);

/*
 * verify_and_map: the names a verified client certificate may map to a
 * user by, in nats-server's order: the e-mail SANs, else the DNS SANs, else
 * the URI SANs; then the subject DN in RFC 2253 form ("CN=bob,OU=ops,O=Tern").
 * Fills *names with a malloc'd array of malloc'd strings; 0 or -ENOMEM
 * (*n is 0 without a certificate). Free with tls_free_names().
 */
int tls_peer_names(struct tls_conn *tc, char ***names, size_t *n);
void tls_free_names(char **names, size_t n);

#endif
