/*
 * server/tls.c — OpenSSL behind the client connection's read/write seam
 * (see tls.h).
 *
 * The context is built on the main thread and then only read (OpenSSL lets
 * many SSL objects share one SSL_CTX across threads). Each session runs on
 * its socket's descriptor directly with non-blocking I/O: OpenSSL reports
 * WANT_READ/WANT_WRITE and the caller waits on its libevent loop, so no
 * call here ever blocks. Three settings carry the performance: read-ahead
 * with a 64 KiB buffer (one read syscall brings several records, instead
 * of two syscalls per record), partial writes (a big output buffer goes out
 * record by record and a full socket stops it cleanly) and moving write
 * buffers (the output buffer may grow and move between retries). Session
 * resumption is off: clients of a broker connect once and stay, so caches
 * and tickets would only cost work per handshake.
 *
 * The cluster port's context (tls_ctx_new_cluster) is one SSL_CTX for both
 * sides, since a node accepts routes and dials them with the same
 * certificate, and always verifies the peer against the block's CA, as
 * nats-server does for routes.
 */
#include "server/tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TLS_READ_AHEAD_BYTES (64 * 1024)

/* Built by tls_ctx_new(); freed by the last tls_ctx_unref(). Immutable
 * after tls_ctx_new() returns, so every loop reads it without a lock. */
struct tls_ctx {
    atomic_int refs;
    SSL_CTX *ssl_ctx;       /* owned */
    bool verify, map;
    double timeout_s;
};

/* Created, used and freed by the connection's owning loop only. */
struct tls_conn {
    SSL *ssl;               /* owned */
};

/* OpenSSL's latest reason from this thread's queue, or a fallback. */
static void last_reason(char *why, size_t whylen, const char *fallback)
{
    unsigned long e = ERR_peek_last_error();
    const char *r = e ? ERR_reason_error_string(e) : NULL;
    snprintf(why, whylen, "%s", r ? r : fallback);
    ERR_clear_error();
}

static void ctx_err(const struct tern_opts *o, char *err, size_t errlen, const char *fmt,
                    const char *a, const char *b)
{
    char reason[768];
    snprintf(reason, sizeof reason, fmt, a, b);
    if (o->tls_where)
        snprintf(err, errlen, "%s: %s", o->tls_where, reason);
    else
        snprintf(err, errlen, "%s", reason);
}

/* nats-server reports a file it cannot open before anything else. */
static int check_readable(const struct tern_opts *o, const char *path, const char *what,
                          char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (f) {
        fclose(f);
        return 0;
    }
    char why[300];
    snprintf(why, sizeof why, "open %s: %s", path, strerror(errno));
    ctx_err(o, err, errlen, "%s%s", what, why);
    return -EINVAL;
}

static char *join(char **v, size_t n)
{
    size_t len = 1;
    for (size_t i = 0; i < n; i++)
        len += strlen(v[i]) + 1;
    char *s = malloc(len), *p = s;
    if (!s)
        return NULL;
    *p = '\0';
    for (size_t i = 0; i < n; i++)
        p += sprintf(p, "%s%s", i ? ":" : "", v[i]);
    return s;
}

/* One list setter (ciphers, TLS 1.3 suites, groups); 0 or -EINVAL. */
static int set_list(SSL_CTX *ctx, char **v, size_t n, int (*set)(SSL_CTX *, const char *))
{
    if (n == 0)
        return 0;
    char *s = join(v, n);
    if (!s)
        return -ENOMEM;
    int ok = set(ctx, s);
    free(s);
    return ok == 1 ? 0 : -EINVAL;
}

static int set_groups(SSL_CTX *ctx, const char *list)
{
    return (int)SSL_CTX_set1_groups_list(ctx, list);
}

static int load_identity(SSL_CTX *ctx, const struct tern_opts *o, char *err, size_t errlen)
{
    char why[256];
    static const char pair[] = "error parsing X509 certificate/key pair: ";
    if (check_readable(o, o->tls_cert, pair, err, errlen) < 0 ||
        check_readable(o, o->tls_key, pair, err, errlen) < 0)
        return -EINVAL;
    if (SSL_CTX_use_certificate_chain_file(ctx, o->tls_cert) != 1) {
        last_reason(why, sizeof why, "no certificate found");
        ctx_err(o, err, errlen, "error parsing X509 certificate/key pair: %s (%s)", why,
                o->tls_cert);
        return -EINVAL;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, o->tls_key, SSL_FILETYPE_PEM) != 1) {
        if (ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH) {
            ERR_clear_error();
            ctx_err(o, err, errlen, "error parsing X509 certificate/key pair: %s%s",
                    "private key does not match public key", "");
            return -EINVAL;
        }
        last_reason(why, sizeof why, "no private key found");
        ctx_err(o, err, errlen, "error parsing X509 certificate/key pair: %s (%s)", why,
                o->tls_key);
        return -EINVAL;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        ERR_clear_error();
        ctx_err(o, err, errlen, "error parsing X509 certificate/key pair: %s%s",
                "private key does not match public key", "");
        return -EINVAL;
    }
    return 0;
}

static int load_trust(SSL_CTX *ctx, const struct tern_opts *o, char *err, size_t errlen)
{
    if (o->tls_ca) {
        if (check_readable(o, o->tls_ca, "", err, errlen) < 0)
            return -EINVAL;
        STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(o->tls_ca);
        if (!names || SSL_CTX_load_verify_locations(ctx, o->tls_ca, NULL) != 1) {
            sk_X509_NAME_pop_free(names, X509_NAME_free);
            ERR_clear_error();
            ctx_err(o, err, errlen, "failed to parse root ca certificate%s%s", "", "");
            return -EINVAL;
        }
        /* Tells clients which CAs to pick a certificate for. */
        SSL_CTX_set_client_CA_list(ctx, names);
    } else if (o->tls_verify) {
        /* No ca_file: the system's trust store, as nats-server does. */
        SSL_CTX_set_default_verify_paths(ctx);
    }
    if (o->tls_verify)
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    return 0;
}

static int configure(SSL_CTX *ctx, const struct tern_opts *o, char *err, size_t errlen)
{
    SSL_CTX_set_min_proto_version(ctx, o->tls_min_version == 13 ? TLS1_3_VERSION
                                                                : TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
                                 SSL_OP_NO_COMPRESSION);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_read_ahead(ctx, 1);
    SSL_CTX_set_default_read_buffer_len(ctx, TLS_READ_AHEAD_BYTES);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_num_tickets(ctx, 0);
    int rc = set_list(ctx, o->tls_ciphers, o->ntls_ciphers, SSL_CTX_set_cipher_list);
    if (rc == -EINVAL)
        ctx_err(o, err, errlen, "none of the cipher_suites is available in this OpenSSL%s%s",
                "", "");
    if (rc == 0) {
        rc = set_list(ctx, o->tls_suites13, o->ntls_suites13, SSL_CTX_set_ciphersuites);
        if (rc == -EINVAL)
            ctx_err(o, err, errlen, "the TLS 1.3 cipher_suites are not available in this "
                    "OpenSSL%s%s", "", "");
    }
    if (rc == 0) {
        rc = set_list(ctx, o->tls_curves, o->ntls_curves, set_groups);
        if (rc == -EINVAL)
            ctx_err(o, err, errlen, "the curve_preferences are not available in this "
                    "OpenSSL%s%s", "", "");
    }
    ERR_clear_error();
    return rc;
}

/* One context from o's tls_* fields; method is the server's or, for the
 * cluster port, either side's (a node dials routes as a TLS client). */
static struct tls_ctx *ctx_build(const struct tern_opts *o, const SSL_METHOD *method, int *rc,
                                 char *err, size_t errlen)
{
    *rc = 0;
    struct tls_ctx *t = calloc(1, sizeof *t);
    if (!t)
        goto err_no_memory;
    atomic_init(&t->refs, 1);
    t->verify = o->tls_verify || o->tls_map;
    t->map = o->tls_map;
    t->timeout_s = o->tls_timeout_s > 0 ? o->tls_timeout_s : 2.0;
    t->ssl_ctx = SSL_CTX_new(method);
    if (!t->ssl_ctx)
        goto err_free_ctx;
    if ((*rc = configure(t->ssl_ctx, o, err, errlen)) < 0 ||
        (*rc = load_identity(t->ssl_ctx, o, err, errlen)) < 0 ||
        (*rc = load_trust(t->ssl_ctx, o, err, errlen)) < 0)
        goto err_free_ctx;
    return t;

err_free_ctx:
    if (t)
        SSL_CTX_free(t->ssl_ctx);
    free(t);
    ERR_clear_error();
    if (*rc < 0 && *rc != -ENOMEM)
        return NULL;
err_no_memory:
    *rc = -ENOMEM;
    snprintf(err, errlen, "out of memory building the TLS context");
    return NULL;
}

struct tls_ctx *tls_ctx_new(const struct tern_opts *o, int *rc, char *err, size_t errlen)
{
    *rc = 0;
    if (!o->tls)
        return NULL;
    return ctx_build(o, TLS_server_method(), rc, err, errlen);
}

struct tls_ctx *tls_ctx_new_cluster(const struct tern_opts *ct, int *rc, char *err,
                                    size_t errlen)
{
    *rc = 0;
    if (!ct || !ct->tls)
        return NULL;
    /* The peer is verified whatever the block says: ct->tls_verify is
     * forced by the option parser, and load_trust turns it into
     * SSL_VERIFY_PEER | FAIL_IF_NO_PEER_CERT, which on the dialling side
     * means "verify the acceptor's chain". */
    return ctx_build(ct, TLS_method(), rc, err, errlen);
}

struct tls_ctx *tls_ctx_ref(struct tls_ctx *t)
{
    if (t)
        atomic_fetch_add_explicit(&t->refs, 1, memory_order_relaxed);
    return t;
}

void tls_ctx_unref(struct tls_ctx *t)
{
    if (t && atomic_fetch_sub_explicit(&t->refs, 1, memory_order_acq_rel) == 1) {
        SSL_CTX_free(t->ssl_ctx);
        free(t);
    }
}

bool tls_ctx_verify(const struct tls_ctx *t) { return t->verify; }
bool tls_ctx_map(const struct tls_ctx *t) { return t->map; }
double tls_ctx_timeout(const struct tls_ctx *t) { return t->timeout_s; }

struct tls_conn *tls_conn_new(struct tls_ctx *t, int fd)
{
    struct tls_conn *tc = calloc(1, sizeof *tc);
    if (!tc)
        return NULL;
    tc->ssl = SSL_new(t->ssl_ctx);
    if (!tc->ssl || SSL_set_fd(tc->ssl, fd) != 1) {
        SSL_free(tc->ssl);
        free(tc);
        ERR_clear_error();
        return NULL;
    }
    SSL_set_accept_state(tc->ssl);
    return tc;
}

struct tls_conn *tls_conn_new_client(struct tls_ctx *t, int fd, const char *host)
{
    struct tls_conn *tc = tls_conn_new(t, fd);
    if (!tc)
        return NULL;
    SSL_set_connect_state(tc->ssl);
    if (host && *host) {
        /* As Go's client does with ServerName: an address literal must be
         * one of the certificate's IP SANs, a name one of its DNS names. */
        unsigned char addr[16];
        int ok;
        if (inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1) {
            ok = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(tc->ssl), host);
        } else {
            /* SANs only, never the subject's CN, as Go checks names. */
            SSL_set_hostflags(tc->ssl, X509_CHECK_FLAG_NEVER_CHECK_SUBJECT);
            ok = SSL_set1_host(tc->ssl, host) == 1 &&
                 SSL_set_tlsext_host_name(tc->ssl, host) == 1;
        }
        if (ok != 1) {
            tls_conn_free(tc);
            ERR_clear_error();
            return NULL;
        }
    }
    return tc;
}

struct ssl_st *tls_ssl_new_monitor(struct tls_ctx *t)
{
    SSL *ssl = SSL_new(t->ssl_ctx);
    if (!ssl) {
        ERR_clear_error();
        return NULL;
    }
    SSL_set_verify(ssl, SSL_VERIFY_NONE, NULL);
    /* libevent's OpenSSL bufferevent reads again only when the socket is
     * readable: a request that read-ahead pulled in with the handshake's
     * last record would wait there for ever. */
    SSL_set_read_ahead(ssl, 0);
    return ssl;
}

void tls_conn_free(struct tls_conn *tc)
{
    if (!tc)
        return;
    SSL_free(tc->ssl);
    free(tc);
}

/* Map an SSL_get_error() result for a call that returned n <= 0. */
static int io_result(struct tls_conn *tc, int n)
{
    switch (SSL_get_error(tc->ssl, n)) {
    case SSL_ERROR_WANT_READ:
        return TLS_WANT_READ;
    case SSL_ERROR_WANT_WRITE:
        return TLS_WANT_WRITE;
    case SSL_ERROR_ZERO_RETURN:
        return 0;
    case SSL_ERROR_SYSCALL:
        if (errno == EINTR || errno == EAGAIN)
            return TLS_WANT_READ;
        /* fallthrough */
    default:
        return TLS_FAILED;
    }
}

int tls_handshake(struct tls_conn *tc, char *why, size_t whylen)
{
    ERR_clear_error();
    errno = 0;
    int n = SSL_do_handshake(tc->ssl);
    if (n == 1)
        return 1;
    int err = SSL_get_error(tc->ssl, n);
    if (err == SSL_ERROR_WANT_READ)
        return TLS_WANT_READ;
    if (err == SSL_ERROR_WANT_WRITE)
        return TLS_WANT_WRITE;
    long vr = SSL_get_verify_result(tc->ssl);
    unsigned long last = ERR_peek_last_error();
    if (err == SSL_ERROR_SYSCALL && last == 0)
        snprintf(why, whylen, "%s", errno ? strerror(errno) : "EOF");
    else if (ERR_GET_REASON(last) == SSL_R_UNEXPECTED_EOF_WHILE_READING)
        /* Closed mid-handshake, or before a byte (a port probe): Go's word. */
        snprintf(why, whylen, "EOF");
    else if (SSL_get_state(tc->ssl) == TLS_ST_BEFORE)
        /* Not even a ClientHello: a plaintext client, as nats-server words it. */
        snprintf(why, whylen, "tls: first record does not look like a TLS handshake");
    else if (vr != X509_V_OK)
        snprintf(why, whylen, "certificate verify failed: %s",
                 X509_verify_cert_error_string(vr));
    else
        last_reason(why, whylen, "handshake failed");
    ERR_clear_error();
    return TLS_FAILED;
}

ssize_t tls_read(struct tls_conn *tc, void *buf, size_t len)
{
    ERR_clear_error();
    size_t got = 0;
    int n = SSL_read_ex(tc->ssl, buf, len, &got);
    if (n == 1)
        return (ssize_t)got;
    int r = io_result(tc, n);
    ERR_clear_error();
    return r;
}

ssize_t tls_write(struct tls_conn *tc, const void *buf, size_t len)
{
    ERR_clear_error();
    size_t put = 0;
    int n = SSL_write_ex(tc->ssl, buf, len, &put);
    if (n == 1)
        return (ssize_t)put;
    int r = io_result(tc, n);
    ERR_clear_error();
    return r == 0 ? TLS_FAILED : r;
}

bool tls_has_pending(struct tls_conn *tc)
{
    return SSL_has_pending(tc->ssl) == 1;
}

void tls_shutdown(struct tls_conn *tc)
{
    /* One non-blocking attempt: the alert goes out if the socket has room;
     * a peer that never reads it costs nothing. */
    if (SSL_is_init_finished(tc->ssl))
        SSL_shutdown(tc->ssl);
    ERR_clear_error();
}

void tls_describe(struct tls_conn *tc, char *version, size_t vlen, char *cipher, size_t clen)
{
    const char *v = SSL_get_version(tc->ssl);   /* "TLSv1.3" */
    snprintf(version, vlen, "%s", strncmp(v, "TLSv", 4) == 0 ? v + 4 : v);
    const SSL_CIPHER *c = SSL_get_current_cipher(tc->ssl);
    const char *name = c ? SSL_CIPHER_standard_name(c) : NULL;
    snprintf(cipher, clen, "%s", name ? name : "");
}

void tls_free_names(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

static int push_name(char ***names, size_t *n, const char *s, size_t len)
{
    char **nv = realloc(*names, (*n + 1) * sizeof *nv);
    if (!nv)
        return -ENOMEM;
    *names = nv;
    if (!(nv[*n] = strndup(s, len)))
        return -ENOMEM;
    (*n)++;
    return 0;
}

/* The SANs of one kind (GEN_EMAIL, GEN_DNS, GEN_URI); how many were added. */
static int push_sans(GENERAL_NAMES *sans, int type, char ***names, size_t *n)
{
    int added = 0;
    for (int i = 0; sans && i < sk_GENERAL_NAME_num(sans); i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(sans, i);
        if (g->type != type)
            continue;
        const ASN1_IA5STRING *s = g->d.ia5;
        if (push_name(names, n, (const char *)ASN1_STRING_get0_data(s),
                      (size_t)ASN1_STRING_length(s)) < 0)
            return -ENOMEM;
        added++;
    }
    return added;
}

static int push_subject(X509 *cert, char ***names, size_t *n)
{
    BIO *b = BIO_new(BIO_s_mem());
    if (!b)
        return -ENOMEM;
    /* RFC 2253 order (most specific first), UTF-8 kept as is: the form Go's
     * pkix.Name.String() gives nats-server for the same certificate. */
    X509_NAME_print_ex(b, X509_get_subject_name(cert), 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
    char *data = NULL;
    long len = BIO_get_mem_data(b, &data);
    int rc = len > 0 ? push_name(names, n, data, (size_t)len) : 0;
    BIO_free(b);
    return rc;
}

int tls_peer_names(struct tls_conn *tc, char ***names, size_t *n)
{
    *names = NULL;
    *n = 0;
    X509 *cert = SSL_get1_peer_certificate(tc->ssl);
    if (!cert)
        return 0;
    GENERAL_NAMES *sans = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
    static const int order[] = { GEN_EMAIL, GEN_DNS, GEN_URI };
    int rc = 0;
    for (size_t i = 0; i < sizeof order / sizeof order[0] && rc == 0; i++) {
        rc = push_sans(sans, order[i], names, n);
        if (rc > 0)
            rc = 1; /* the first kind present is the only one tried */
    }
    if (rc >= 0)
        rc = push_subject(cert, names, n);
    GENERAL_NAMES_free(sans);
    X509_free(cert);
    ERR_clear_error();
    if (rc < 0) {
        tls_free_names(*names, *n);
        *names = NULL;
        *n = 0;
        return -ENOMEM;
    }
    return 0;
}
