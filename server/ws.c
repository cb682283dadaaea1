/*
 * server/ws.c — the WebSocket listener, the upgrade and the framing of a
 * client connection (see ws.h). Frame decoding is proto/ws.c's; this file
 * owns the I/O-facing half: HTTP answers, control frames, compression.
 *
 * Every byte nats-server 2.9.10 puts on the wire here was captured from it
 * and is reproduced: the 101 answer and its headers, the HTTP errors of
 * its Go HTTP server (keep-alive ones for a refused upgrade, a closing
 * 400 for a malformed request), the close codes it maps close reasons to.
 * One deliberate difference: a bad frame gets a 1002 close frame with
 * nats-server's own text before the socket closes; 2.9.10 builds that
 * frame but closes the socket without sending it.
 *
 * Compression (RFC 7692, negotiated with no context takeover both ways, as
 * nats-server answers every offer): each flush of output is one deflate
 * stream flushed and reset, batches of 64 bytes or less go uncompressed;
 * each compressed message from a client is inflated as it arrives, straight
 * into the protocol parser, so memory stays bounded whatever the ratio.
 */
#include "server/ws.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <netdb.h>
#include <openssl/evp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "proto/ws.h"
#include "server/auth.h"
#include "server/buf.h"
#include "server/client.h"
#include "server/log.h"
#include "server/reclaim.h"
#include "server/server.h"
#include "server/tls.h"
#include "server/worker.h"

#define WS_FRAME_SIZE_FOR_BROWSERS 4096  /* nats-server's limit for browsers */
#define WS_COMPRESS_THRESHOLD 64         /* smaller batches go uncompressed */
/* Bytes one compressed client message may inflate to: a bound on the work
 * one small frame can cause (deflate reaches ~1000:1), far above what a
 * client batches (nats.ws sends at most a few hundred KiB). */
#define WS_MAX_INFLATED (64ULL * 1024 * 1024)

struct ws_origin {
    char scheme[16];
    char host[256];
    char port[8];
};

/* Built by ws_server_start, freed by ws_server_free, both on the main
 * thread. Everything but tls and auth is immutable once the listener is
 * up, so loops read it without a lock; tls and auth are swapped on reload
 * and the old ones retired through the reclaimer (a loop may be between
 * loading the pointer and taking its reference). */
struct ws_server {
    struct server *srv;                  /* borrowed */
    struct evconnlistener *listener;     /* owned; NULL once stopped */
    char host[64];
    int port;                            /* bound */
    bool wss, compression, same_origin;
    struct ws_origin *origins;           /* owned array */
    size_t norigins;
    int64_t handshake_timeout_ms;        /* 0 = none, as nats-server */
    _Atomic(struct tls_ctx *) tls;       /* owned reference; NULL = ws:// */
    _Atomic(struct auth *) auth;         /* owned reference */
};

/* One per WebSocket client, made by ws_accept, freed with the client.
 * Fields are the owning loop's, except those marked write_lock: output is
 * framed by whichever loop holds the client's write_lock. */
struct ws_conn {
    struct ws_server *srv;     /* borrowed: outlives every connection */
    bool open;                 /* upgrade answered; set by the owner before
                                  the client can have subscribers, so other
                                  loops read it only after */
    bool compress;             /* permessage-deflate negotiated */
    bool browser, nocompfrag;  /* User-Agent: frame size limits */
    struct ws_decoder dec;
    char *req;                 /* owned: the request head so far */
    size_t req_len;
    z_stream inf;              /* owned once inf_ready */
    bool inf_ready;
    uint64_t inflated;         /* bytes of the current message */
    struct event *hs_timer;    /* owned: the upgrade's deadline */
    bool close_sent;           /* owner loop: a close frame went out */
    /* write_lock */
    z_stream def;
    bool def_ready;
    struct buf zbuf;           /* compressed scratch */
};

/* ---- the listener ---- */

static void on_ws_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
                         int len, void *arg)
{
    struct server *s = arg;
    (void)l;
    if (atomic_load(&s->shutting_down)) {
        close(fd);
        return;
    }
    unsigned idx = atomic_fetch_add(&s->next_worker, 1) % (unsigned)s->nworkers;
    worker_add_socket(s->workers[idx], fd, sa, (socklen_t)len, CLIENT_KIND_CLIENT,
                      WS_ACCEPT_MARK);
}

static void on_ws_accept_error(struct evconnlistener *l, void *arg)
{
    (void)l;
    (void)arg;
    int err = EVUTIL_SOCKET_ERROR();
    LOG_ERROR("Error accepting websocket connection: %s", evutil_socket_error_to_string(err));
}


/* The authorization WebSocket clients get: the node's, with the block's
 * override (nats-server's authOverride: any of user, token, no_auth_user
 * set replaces the node's single user, token and no_auth_user, while the
 * users list stays) and its own timeout. */
static struct auth *build_auth(const struct tern_opts *o, char *err, size_t errlen)
{
    struct tern_opts v = *o; /* shallow: auth_new copies what it keeps */
    if (o->ws_user || o->ws_token || o->ws_no_auth_user) {
        v.user = o->ws_user;
        v.password = o->ws_password;
        v.token = o->ws_token;
        v.no_auth_user = o->ws_no_auth_user;
    }
    if (o->ws_auth_timeout_s > 0)
        v.auth_timeout_s = o->ws_auth_timeout_s;
    return auth_new(&v, err, errlen);
}

int ws_reload_prepare(const struct ws_server *w, const struct tern_opts *next,
                      struct ws_reload *r, char *err, size_t errlen)
{
    r->tls = NULL;
    r->auth = NULL;
    if (!w)
        return 0;
    int trc = 0;
    if (next->ws_tls) {
        r->tls = tls_ctx_new(next->ws_tls, &trc, err, errlen);
        if (trc < 0)
            return -EINVAL;
    }
    r->auth = build_auth(next, err, errlen);
    if (!r->auth) {
        tls_ctx_unref(r->tls);
        r->tls = NULL;
        return -EINVAL;
    }
    return 0;
}

static void retire_tls(void *t)
{
    tls_ctx_unref(t);
}

static void retire_auth(void *a)
{
    auth_unref(a);
}

void ws_reload_commit(struct server *s, struct ws_reload *r)
{
    struct ws_server *w = s->ws;
    if (!w)
        return;
    struct tls_ctx *ot = atomic_exchange(&w->tls, r->tls);
    struct auth *oa = atomic_exchange(&w->auth, r->auth);
    if (ot && reclaim_retire(s->reclaim, ot, retire_tls, NULL) < 0)
        LOG_ERROR("out of memory retiring the old websocket TLS context; leaking it");
    if (oa && reclaim_retire(s->reclaim, oa, retire_auth, NULL) < 0)
        LOG_ERROR("out of memory retiring the old websocket authorization; leaking it");
    r->tls = NULL;
    r->auth = NULL;
}

void ws_reload_abort(struct ws_reload *r)
{
    tls_ctx_unref(r->tls);
    auth_unref(r->auth);
    r->tls = NULL;
    r->auth = NULL;
}

int ws_server_start(struct server *s)
{
    const struct tern_opts *o = &s->opts;
    if (o->ws_port == 0)
        return 0;
    char err[1024] = "";
    struct ws_server *w = calloc(1, sizeof *w);
    if (!w)
        return -ENOMEM;
    s->ws = w;
    w->srv = s;
    w->compression = o->ws_compression;
    w->same_origin = o->ws_same_origin;
    w->handshake_timeout_ms = o->ws_handshake_timeout_ms;
    snprintf(w->host, sizeof w->host, "%s", o->ws_host ? o->ws_host : "0.0.0.0");
    if (o->nws_origins && !(w->origins = calloc(o->nws_origins, sizeof *w->origins)))
        return -ENOMEM;
    for (size_t i = 0; i < o->nws_origins; i++) {
        struct ws_origin *g = &w->origins[w->norigins];
        const char *a = o->ws_origins[i];
        if (ws_origin_split(a, strlen(a), g->scheme, sizeof g->scheme, g->host, sizeof g->host,
                            g->port, sizeof g->port) < 0) {
            LOG_ERROR("error parsing allowed origin: %s", a); /* as nats-server: skipped */
            continue;
        }
        w->norigins++;
    }
    struct ws_reload r;
    if (ws_reload_prepare(w, o, &r, err, sizeof err) < 0) {
        LOG_FATAL("%s", err);
        return -EINVAL;
    }
    atomic_store(&w->tls, r.tls);
    atomic_store(&w->auth, r.auth);
    w->wss = r.tls != NULL;
    w->listener = server_listen(s->main_base, w->host, o->ws_port, on_ws_accept, s, &w->port,
                                "Unable to listen for websocket connections: listen tcp %s:%d: %s");
    if (!w->listener)
        return -EADDRINUSE;
    evconnlistener_set_error_cb(w->listener, on_ws_accept_error);
    LOG_INFO("Listening for websocket clients on %s://%s:%d", w->wss ? "wss" : "ws", w->host,
             w->port);
    if (!w->wss)
        LOG_WARN("Websocket not configured with TLS. DO NOT USE IN PRODUCTION!");
    return 0;
}

void ws_server_stop_listening(struct server *s)
{
    if (s->ws && s->ws->listener) {
        evconnlistener_free(s->ws->listener);
        s->ws->listener = NULL;
    }
}

void ws_server_free(struct ws_server *w)
{
    if (!w)
        return;
    if (w->listener)
        evconnlistener_free(w->listener);
    tls_ctx_unref(atomic_load(&w->tls));
    auth_unref(atomic_load(&w->auth));
    free(w->origins);
    free(w);
}

int ws_server_port(const struct ws_server *w)
{
    return w ? w->port : 0;
}

/* ---- one connection ---- */

static void on_hs_timeout(evutil_socket_t fd, short what, void *arg)
{
    struct client *c = arg;
    (void)fd;
    (void)what;
    if (c->ws->open)
        return;
    LOG_ERROR("%s:%d - websocket handshake error: timeout", c->ip, c->port);
    client_close(c, "Read Error", NULL);
}

int ws_accept(struct client *c)
{
    struct ws_server *w = c->srv->ws;
    struct ws_conn *ws = calloc(1, sizeof *ws);
    if (!ws)
        return -ENOMEM;
    ws->srv = w;
    c->ws = ws;
    /* Loaded within this loop iteration: the reclaimer keeps a swapped-out
     * context alive until our references are taken. */
    auth_unref(c->auth);
    c->auth = auth_ref(atomic_load(&w->auth));
    tls_ctx_unref(c->tls_ctx);
    c->tls_ctx = tls_ctx_ref(atomic_load(&w->tls));
    return 0;
}

void ws_free_events(struct ws_conn *ws)
{
    if (ws && ws->hs_timer) {
        event_free(ws->hs_timer);
        ws->hs_timer = NULL;
    }
}

void ws_conn_free(struct ws_conn *ws)
{
    if (!ws)
        return;
    ws_free_events(ws);
    free(ws->req);
    if (ws->inf_ready)
        inflateEnd(&ws->inf);
    if (ws->def_ready)
        deflateEnd(&ws->def);
    buf_free(&ws->zbuf);
    free(ws);
}

int ws_arm(struct client *c)
{
    struct ws_conn *ws = c->ws;
    if (ws->srv->handshake_timeout_ms <= 0)
        return 0;
    ws->hs_timer = event_new(c->w->base, -1, 0, on_hs_timeout, c);
    if (!ws->hs_timer)
        return -ENOMEM;
    int64_t ms = ws->srv->handshake_timeout_ms;
    struct timeval tv = { (time_t)(ms / 1000), (suseconds_t)((ms % 1000) * 1000) };
    return event_add(ws->hs_timer, &tv);
}

bool ws_is_open(const struct ws_conn *ws)
{
    return ws && ws->open;
}

/* ---- the upgrade ---- */

static const char *status_text(int code)
{
    switch (code) {
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 405: return "Method Not Allowed";
    }
    return "Internal Server Error";
}

/* A refused upgrade, worded as Go's http.Error writes it; the connection
 * stays open for another request, as Go's server keeps it. */
static void http_error(struct client *c, int code, const char *why)
{
    LOG_ERROR("%s:%d - websocket handshake error: %s", c->ip, c->port, why);
    char date[64];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    const char *text = status_text(code);
    char resp[512];
    int n = snprintf(resp, sizeof resp,
                     "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\n"
                     "Sec-Websocket-Version: 13\r\nX-Content-Type-Options: nosniff\r\n"
                     "Date: %s\r\nContent-Length: %zu\r\n\r\n%s\n",
                     code, text, date, strlen(text) + 1, text);
    client_send_raw(c, resp, (size_t)n);
}

/* A request Go's server cannot read: its answer, then the socket closes. */
static void http_fatal(struct client *c, int rc)
{
    const char *resp =
        rc == WS_HTTP_NO_HOST
            ? "HTTP/1.1 400 Bad Request: missing required Host header\r\n"
              "Content-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"
              "400 Bad Request: missing required Host header"
        : rc == WS_HTTP_TOO_BIG
            ? "HTTP/1.1 431 Request Header Fields Too Large\r\n"
              "Content-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"
              "431 Request Header Fields Too Large"
            : "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n"
              "Connection: close\r\n\r\n400 Bad Request";
    LOG_DEBUG("%s:%d - websocket: malformed HTTP request", c->ip, c->port);
    client_send_raw(c, resp, strlen(resp));
    client_close(c, "Read Error", NULL);
}

/* RFC 6455 §4.2.2: base64(SHA-1(key + GUID)). */
static int accept_key(struct ws_str key, char out[32])
{
    static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    char in[256 + sizeof guid];
    if (key.len > 256)
        return -EINVAL;
    memcpy(in, key.ptr, key.len);
    memcpy(in + key.len, guid, sizeof guid - 1);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (EVP_Digest(in, key.len + sizeof guid - 1, md, &mdlen, EVP_sha1(), NULL) != 1)
        return -EIO;
    EVP_EncodeBlock((unsigned char *)out, md, (int)mdlen);
    return 0;
}

/* nats-server's checkOrigin: NULL when allowed, else why not. */
static const char *check_origin(const struct ws_server *w, const struct ws_http_req *r)
{
    if (!w->same_origin && w->norigins == 0)
        return NULL;
    if (!r->origin.ptr || r->origin.len == 0)
        return NULL; /* no Origin: not a browser, nothing to check (RFC 6455 §1.6) */
    struct ws_origin o;
    if (ws_origin_split(r->origin.ptr, r->origin.len, o.scheme, sizeof o.scheme, o.host,
                        sizeof o.host, o.port, sizeof o.port) < 0)
        return "invalid origin";
    if (w->same_origin) {
        char host[256], port[8];
        if (ws_host_split(r->host.ptr, r->host.len, w->wss, host, sizeof host, port,
                          sizeof port) < 0)
            return "invalid host";
        if (strcmp(host, o.host) != 0 || strcmp(port, o.port) != 0)
            return "not same origin";
    }
    if (w->norigins) {
        /* Keyed by host, the last entry for a host wins (a map in nats-server). */
        const struct ws_origin *a = NULL;
        for (size_t i = w->norigins; i-- > 0 && !a;)
            if (strcmp(w->origins[i].host, o.host) == 0)
                a = &w->origins[i];
        if (!a || strcmp(a->scheme, o.scheme) != 0 || strcmp(a->port, o.port) != 0)
            return "not in the allowed list";
    }
    return NULL;
}

static bool has_prefix(struct ws_str s, const char *p)
{
    size_t n = strlen(p);
    return s.ptr && s.len >= n && memcmp(s.ptr, p, n) == 0;
}

static bool contains(struct ws_str s, const char *p)
{
    size_t n = strlen(p);
    for (size_t i = 0; s.ptr && i + n <= s.len; i++)
        if (memcmp(s.ptr + i, p, n) == 0)
            return true;
    return false;
}

/* A complete request head: refuse it (the connection may send another) or
 * switch protocols. The checks and their order are RFC 6455 §4.2.1's, as
 * nats-server makes them. */
static void upgrade(struct client *c, const struct ws_http_req *r)
{
    struct ws_conn *ws = c->ws;
    char why[128];
    if (!(r->method.len == 3 && memcmp(r->method.ptr, "GET", 3) == 0)) {
        http_error(c, 405, "request method must be GET");
        return;
    }
    if (!r->has_host || r->host.len == 0) {
        http_error(c, 400, "'Host' missing in request");
        return;
    }
    if (!r->upgrade_websocket) {
        http_error(c, 400, "invalid value for header 'Upgrade'");
        return;
    }
    if (!r->connection_upgrade) {
        http_error(c, 400, "invalid value for header 'Connection'");
        return;
    }
    if (!r->key.ptr || r->key.len == 0) {
        http_error(c, 400, "key missing");
        return;
    }
    if (!r->version_13) {
        http_error(c, 400, "invalid version");
        return;
    }
    const char *bad = check_origin(ws->srv, r);
    if (bad) {
        snprintf(why, sizeof why, "origin not allowed: %s", bad);
        http_error(c, 403, why);
        return;
    }
    char key[32];
    if (accept_key(r->key, key) < 0) {
        http_error(c, 400, "key missing");
        return;
    }
    ws->compress = ws->srv->compression && r->deflate;
    ws->browser = has_prefix(r->user_agent, "Mozilla/");
    ws->nocompfrag = ws->browser && ws->compress && contains(r->user_agent, "Version/") &&
                     contains(r->user_agent, "Safari/");
    ws->dec.require_mask = !r->no_masking;
    ws->dec.compression = ws->compress;
    char resp[512];
    int n = snprintf(resp, sizeof resp,
                     "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n%s%s\r\n",
                     key,
                     ws->compress ? "Sec-WebSocket-Extensions: permessage-deflate; "
                                    "server_no_context_takeover; client_no_context_takeover\r\n"
                                  : "",
                     r->no_masking ? "Nats-No-Masking: true\r\n" : "");
    client_send_raw(c, resp, (size_t)n);
    ws->open = true;
    if (ws->hs_timer)
        event_del(ws->hs_timer);
    free(ws->req);
    ws->req = NULL;
    ws->req_len = 0;
    LOG_DEBUG("%s:%d - cid:%llu - websocket connection upgraded%s", c->ip, c->port,
              (unsigned long long)c->cid, ws->compress ? " (compression)" : "");
    client_session_start(c);
}

static void handshake_input(struct client *c, const uint8_t *data, size_t n)
{
    struct ws_conn *ws = c->ws;
    /* Keep at most one head's worth: past that the answer is 431 anyway. */
    size_t room = WS_HTTP_MAX_HEAD - ws->req_len;
    size_t take = n < room ? n : room;
    if (!ws->req && !(ws->req = malloc(WS_HTTP_MAX_HEAD))) {
        client_close(c, "Server Shutdown", NULL);
        return;
    }
    memcpy(ws->req + ws->req_len, data, take);
    ws->req_len += take;
    struct ws_http_req r;
    int rc = ws_http_parse(ws->req, ws->req_len, &r);
    if (rc == 0)
        return;
    if (rc < 0) {
        http_fatal(c, rc);
        return;
    }
    if ((size_t)rc < ws->req_len || take < n) {
        /* Frames before the answer: nats-server drops the connection
         * without a word, and so does Tern. */
        LOG_ERROR("%s:%d - websocket handshake error: client sent data before handshake is "
                  "complete", c->ip, c->port);
        client_close(c, "Read Error", NULL);
        return;
    }
    upgrade(c, &r);
    if (!ws->open)
        ws->req_len = 0; /* refused: the next request starts afresh */
}

/* ---- frames in ---- */

static void send_control(struct client *c, enum ws_opcode op, const uint8_t *p, size_t n)
{
    uint8_t f[2 + WS_MAX_CONTROL_PAYLOAD];
    size_t h = ws_frame_header(f, op, true, false, n);
    if (n)
        memcpy(f + h, p, n);
    client_send_raw(c, f, h + n);
}

/* A frame nats-server would refuse: a 1002 close with its text, then the
 * socket closes (see the file comment). */
static void protocol_error(struct client *c, const char *text)
{
    LOG_DEBUG("%s:%d - cid:%llu - websocket protocol error: %s", c->ip, c->port,
              (unsigned long long)c->cid, text);
    uint8_t p[WS_MAX_CONTROL_PAYLOAD];
    size_t n = ws_close_payload(p, WS_CLOSE_PROTOCOL_ERROR, text, strlen(text));
    send_control(c, WS_OP_CLOSE, p, n);
    c->ws->close_sent = true;
    client_close(c, "Read Error", NULL);
}

static int inflate_chunk(struct client *c, const uint8_t *in, size_t n)
{
    struct ws_conn *ws = c->ws;
    if (!ws->inf_ready) {
        memset(&ws->inf, 0, sizeof ws->inf);
        if (inflateInit2(&ws->inf, -15) != Z_OK)
            return -ENOMEM;
        ws->inf_ready = true;
    }
    unsigned char out[16384];
    ws->inf.next_in = (unsigned char *)in;
    ws->inf.avail_in = (uInt)n;
    do {
        ws->inf.next_out = out;
        ws->inf.avail_out = sizeof out;
        int zr = inflate(&ws->inf, Z_SYNC_FLUSH);
        if (zr != Z_OK && zr != Z_STREAM_END && zr != Z_BUF_ERROR)
            return -EPROTO;
        size_t got = sizeof out - ws->inf.avail_out;
        ws->inflated += got;
        if (ws->inflated > WS_MAX_INFLATED)
            return -EMSGSIZE;
        if (got) {
            client_parse(c, (const char *)out, got);
            if (c->closed)
                return 0;
        }
        if (zr == Z_STREAM_END || (zr == Z_BUF_ERROR && got == 0))
            break;
    } while (ws->inf.avail_in > 0 || ws->inf.avail_out == 0);
    return 0;
}

static void data_event(struct client *c, const struct ws_event *ev)
{
    struct ws_conn *ws = c->ws;
    if (!ev->compressed) {
        if (ev->len)
            client_parse(c, (const char *)ev->data, ev->len);
        return;
    }
    static const uint8_t tail[4] = { 0x00, 0x00, 0xff, 0xff };
    int rc = ev->len ? inflate_chunk(c, ev->data, ev->len) : 0;
    if (rc == 0 && !c->closed && ev->msg_end) {
        rc = inflate_chunk(c, tail, sizeof tail);
        ws->inflated = 0;
        if (ws->inf_ready)
            inflateReset(&ws->inf); /* no context takeover */
    }
    if (rc == -EMSGSIZE) {
        LOG_ERROR("%s:%d - cid:%llu - websocket message inflates past %llu bytes", c->ip,
                  c->port, (unsigned long long)c->cid, (unsigned long long)WS_MAX_INFLATED);
        client_close(c, "Maximum Message Payload Exceeded", NULL);
    } else if (rc == -ENOMEM) {
        client_close(c, "Server Shutdown", NULL);
    } else if (rc < 0 && !c->closed) {
        protocol_error(c, "decompression failure");
    }
}

void ws_input(struct client *c, uint8_t *data, size_t n)
{
    struct ws_conn *ws = c->ws;
    if (!ws->open) {
        handshake_input(c, data, n);
        return;
    }
    size_t off = 0;
    while (!c->closed) {
        size_t used = 0;
        struct ws_event ev;
        int rc = ws_decode(&ws->dec, data + off, n - off, &used, &ev);
        off += used;
        if (rc < 0) {
            char text[128];
            snprintf(text, sizeof text, "%s", ws_strerror(rc));
            if (rc == WS_E_OPCODE) /* nats-server names it */
                snprintf(text, sizeof text, "unknown opcode %d", ws->dec.hdr[0] & 0x0f);
            protocol_error(c, text);
            return;
        }
        if (rc == 0)
            return;
        switch (ev.kind) {
        case WS_EV_DATA:
            data_event(c, &ev);
            break;
        case WS_EV_PING:
            send_control(c, WS_OP_PONG, ev.data, ev.len);
            break;
        case WS_EV_PONG:
            break;
        case WS_EV_CLOSE: {
            uint8_t p[WS_MAX_CONTROL_PAYLOAD];
            size_t pn = ws_close_echo(p, ev.data, ev.len);
            send_control(c, WS_OP_CLOSE, p, pn);
            ws->close_sent = true;
            client_close(c, "Client Closed", NULL);
            return;
        }
        }
    }
}

/* ---- frames out (write_lock) ---- */

static int put_frame(struct buf *dst, enum ws_opcode op, bool fin, bool rsv1, const void *p,
                     size_t n)
{
    uint8_t h[10];
    size_t hn = ws_frame_header(h, op, fin, rsv1, n);
    if (buf_reserve(dst, hn + n) < 0)
        return -ENOMEM;
    buf_append(dst, h, hn);
    buf_append(dst, p, n);
    return 0;
}

/* deflate src into ws->zbuf as one flushed stream, minus the 4-byte tail
 * RFC 7692 §7.2.1 says to drop. */
static int deflate_batch(struct ws_conn *ws, const char *src, size_t n, size_t *clen)
{
    if (!ws->def_ready) {
        memset(&ws->def, 0, sizeof ws->def);
        if (deflateInit2(&ws->def, Z_BEST_SPEED, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK)
            return -ENOMEM;
        ws->def_ready = true;
    }
    ws->zbuf.off = ws->zbuf.len = 0;
    size_t want = deflateBound(&ws->def, (uLong)n) + 16;
    if (buf_reserve(&ws->zbuf, want) < 0)
        return -ENOMEM;
    ws->def.next_in = (unsigned char *)src;
    ws->def.avail_in = (uInt)n;
    int zr;
    do {
        if (ws->zbuf.cap - ws->zbuf.len < 64 && buf_reserve(&ws->zbuf, 4096) < 0)
            return -ENOMEM;
        ws->def.next_out = (unsigned char *)ws->zbuf.data + ws->zbuf.len;
        ws->def.avail_out = (uInt)(ws->zbuf.cap - ws->zbuf.len);
        zr = deflate(&ws->def, Z_SYNC_FLUSH);
        ws->zbuf.len = ws->zbuf.cap - ws->def.avail_out;
        if (zr != Z_OK && zr != Z_BUF_ERROR)
            return -EIO;
    } while (ws->def.avail_out == 0 || ws->def.avail_in > 0);
    deflateReset(&ws->def); /* server_no_context_takeover */
    *clen = ws->zbuf.len >= 4 ? ws->zbuf.len - 4 : 0;
    return 0;
}

int ws_frame_output(struct client *c, struct buf *dst, const char *src, size_t n)
{
    struct ws_conn *ws = c->ws;
    size_t mfs = ws->browser ? WS_FRAME_SIZE_FOR_BROWSERS : 0;
    size_t before = dst->len;
    int rc = 0;
    if (ws->compress && n > WS_COMPRESS_THRESHOLD) {
        size_t clen = 0;
        if ((rc = deflate_batch(ws, src, n, &clen)) < 0)
            return rc;
        const char *p = ws->zbuf.data;
        if (mfs && !ws->nocompfrag && clen > mfs) {
            /* Fragments: RSV1 on the first only (RFC 7692 §6.1). */
            for (size_t off = 0; off < clen && rc == 0; off += mfs) {
                size_t k = clen - off < mfs ? clen - off : mfs;
                rc = put_frame(dst, off ? WS_OP_CONT : WS_OP_BINARY, off + k == clen, off == 0,
                               p + off, k);
            }
        } else {
            rc = put_frame(dst, WS_OP_BINARY, true, true, p, clen);
        }
        buf_shrink(&ws->zbuf, 64 * 1024);
    } else if (mfs && n > mfs) {
        for (size_t off = 0; off < n && rc == 0; off += mfs)
            rc = put_frame(dst, WS_OP_BINARY, true, false, src + off,
                           n - off < mfs ? n - off : mfs);
    } else {
        rc = put_frame(dst, WS_OP_BINARY, true, false, src, n);
    }
    if (rc < 0)
        dst->len = before;
    return rc;
}

/* nats-server's wsEnqueueCloseMessage: the close reason picks the code. */
static uint16_t close_status(const char *reason)
{
    static const struct {
        const char *reason;
        uint16_t status;
    } map[] = {
        { "Client Closed", WS_CLOSE_NORMAL },
        { "Authentication Timeout", WS_CLOSE_POLICY_VIOLATION },
        { "Authentication Failure", WS_CLOSE_POLICY_VIOLATION },
        { "Slow Consumer (Pending Bytes)", WS_CLOSE_POLICY_VIOLATION },
        { "Slow Consumer (Write Deadline)", WS_CLOSE_POLICY_VIOLATION },
        { "Maximum Connections Exceeded", WS_CLOSE_POLICY_VIOLATION },
        { "Maximum Control Line Exceeded", WS_CLOSE_POLICY_VIOLATION },
        { "Maximum Subscriptions Exceeded", WS_CLOSE_POLICY_VIOLATION },
        { "TLS Handshake Failure", WS_CLOSE_TLS_HANDSHAKE },
        { "Parse Error", WS_CLOSE_PROTOCOL_ERROR },
        { "Protocol Violation", WS_CLOSE_PROTOCOL_ERROR },
        { "Bad Client Protocol Version", WS_CLOSE_PROTOCOL_ERROR },
        { "Maximum Message Payload Exceeded", WS_CLOSE_MESSAGE_TOO_BIG },
        { "Server Shutdown", WS_CLOSE_GOING_AWAY },
        { "Write Error", WS_CLOSE_ABNORMAL },
        { "Read Error", WS_CLOSE_ABNORMAL },
        { "Stale Connection", WS_CLOSE_ABNORMAL },
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcmp(map[i].reason, reason) == 0)
            return map[i].status;
    return WS_CLOSE_INTERNAL_ERROR;
}

void ws_append_close(struct client *c, struct buf *dst, const char *reason)
{
    struct ws_conn *ws = c->ws;
    if (!ws->open || ws->close_sent)
        return;
    ws->close_sent = true;
    uint8_t p[WS_MAX_CONTROL_PAYLOAD];
    size_t n = ws_close_payload(p, close_status(reason), reason, strlen(reason));
    put_frame(dst, WS_OP_CLOSE, true, false, p, n);
}
