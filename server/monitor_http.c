/*
 * server/monitor_http.c — the monitoring server's HTTP layer (private to
 * server/monitor*.c): each request's path matched as nats-server's Go
 * ServeMux matches it (server/monitor_url.h: decoded, compared with its
 * length, unclean paths redirected, the rest Go's 404), query parameters
 * decoded with nats-server's 400 texts, and the replies every endpoint
 * sends. The endpoints themselves are monitor.c's and monitor_connz.c's;
 * the base path and "<base>/console/" serve the web console (console.h)
 * unless "console: false".
 * Main thread only.
 */
#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "server/console.h"
#include "server/monitor_impl.h"
#include "server/monitor_url.h"
#include "server/server.h"

/* ---- replies ---- */

/* Go's http.Error-like text answers: nats-server's 400s are plain text
 * written after WriteHeader, which Go labels as sniffed. */
void monitor__reply_text(struct evhttp_request *req, int code, const char *text)
{
    struct evbuffer *b = evbuffer_new();
    evbuffer_add(b, text, strlen(text));
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                      "text/plain; charset=utf-8");
    evhttp_send_reply(req, code, code == 404 ? "Not Found" : "Bad Request", b);
    evbuffer_free(b);
}

void monitor__reply_json(struct evhttp_request *req, int code, json_t *body, bool compact,
                         const struct monitor_url_query *q)
{
    char *text = json_dumps(body, JSON_PRESERVE_ORDER | (compact ? JSON_COMPACT : JSON_INDENT(2)));
    json_decref(body);
    struct evbuffer *b = evbuffer_new();
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    size_t cblen = 0;
    const char *cb = q ? monitor_url_get(q, "callback", &cblen) : NULL;
    if (cb && cblen) {
        evhttp_add_header(h, "Content-Type", "application/javascript");
        evbuffer_add(b, cb, cblen);
        evbuffer_add_printf(b, "(%s)", text ? text : "{}");
    } else {
        evhttp_add_header(h, "Content-Type", "application/json");
        evbuffer_add_printf(b, "%s", text ? text : "{}");
    }
    evhttp_add_header(h, "Access-Control-Allow-Origin", "*");
    free(text);
    evhttp_send_reply(req, code, code == 200 ? "OK" : "Error", b);
    evbuffer_free(b);
}

/* Answer one JSON endpoint that takes no parameters but ?callback=. */
/* Parameters are decoded in nats-server's order: the first it refuses
 * is the answer. */
bool monitor__decode_bool(struct evhttp_request *req, const struct monitor_url_query *q,
                          const char *key, bool *out)
{
    char err[1024];
    if (monitor_url_bool(q, key, out, err, sizeof err) == 0)
        return true;
    monitor__reply_text(req, 400, err);
    return false;
}

bool monitor__decode_int(struct evhttp_request *req, const struct monitor_url_query *q,
                         const char *key, int64_t *out)
{
    char err[1024];
    if (monitor_url_int(q, key, out, err, sizeof err) == 0)
        return true;
    monitor__reply_text(req, 400, err);
    return false;
}

/* ?subs=detail (any case) or a boolean: 0 none, 1 list, 2 detail. */
bool monitor__decode_subs(struct evhttp_request *req, const struct monitor_url_query *q,
                          int *subs)
{
    size_t n;
    const char *v = monitor_url_get(q, "subs", &n);
    bool b = false;
    if (v && n == 6 && strncasecmp(v, "detail", 6) == 0) {
        *subs = 2;
        return true;
    }
    if (!monitor__decode_bool(req, q, "subs", &b))
        return false;
    *subs = b ? 1 : 0;
    return true;
}

/* base + "/" + name with doubled slashes squeezed, as path.Join would. */
static void full_path(const struct monitor *m, const char *name, char *out, size_t cap)
{
    const char *base = m->srv->opts.http_base_path;
    if (base && *base && strcmp(base, "/") != 0)
        snprintf(out, cap, "%s%s/%s", base[0] == '/' ? "" : "/", base, name);
    else
        snprintf(out, cap, "/%s", name);
    char *dbl;
    while ((dbl = strstr(out, "//")))
        memmove(dbl, dbl + 1, strlen(dbl));
}

/* What Go's server answers a request line it cannot parse. */
static void bad_request(struct evhttp_request *req)
{
    evhttp_add_header(evhttp_request_get_output_headers(req), "Connection", "close");
    monitor__reply_text(req, 400, "400 Bad Request");
}

/* http.NotFound */
static void not_found(struct evhttp_request *req)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
    monitor__reply_text(req, 404, "404 page not found\n");
}

/* ServeMux's redirect of an unclean path to its clean form (query kept). */
static void redirect(struct evhttp_request *req, const char *clean, size_t len,
                     const char *query, size_t qlen)
{
    char *loc = malloc(3 * len + qlen + 2);
    struct evbuffer *b = evbuffer_new();
    if (!loc || !b) {
        free(loc);
        if (b)
            evbuffer_free(b);
        evhttp_send_error(req, 500, NULL);
        return;
    }
    size_t n = monitor_url_escape_path(clean, len, loc);
    if (qlen) {
        loc[n++] = '?';
        memcpy(loc + n, query, qlen);
        n += qlen;
    }
    loc[n] = '\0';
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Content-Type", "text/html; charset=utf-8");
    evhttp_add_header(h, "Location", loc);
    if (evhttp_request_get_command(req) == EVHTTP_REQ_GET) {
        evbuffer_add_printf(b, "<a href=\"");
        for (size_t i = 0; i < n; i++) {
            static const char *const esc[] = { ['&'] = "&amp;", ['\''] = "&#39;",
                                               ['<'] = "&lt;", ['>'] = "&gt;",
                                               ['"'] = "&#34;" };
            unsigned char c = (unsigned char)loc[i];
            if (c < sizeof esc / sizeof esc[0] && esc[c])
                evbuffer_add_printf(b, "%s", esc[c]);
            else
                evbuffer_add(b, &loc[i], 1);
        }
        evbuffer_add_printf(b, "\">Moved Permanently</a>.\n\n");
    }
    evhttp_send_reply(req, 301, "Moved Permanently", b);
    evbuffer_free(b);
    free(loc);
}

/*
 * Every request comes here (evhttp's generic callback), so that the path
 * is matched as Go matches it: the raw request target split at its first
 * '?' (a '#' stays where it is, Go's server does not cut fragments),
 * control bytes and bad escapes refused, the path decoded and compared
 * with its length (a %00 is part of it), an unclean path redirected.
 */
void monitor__dispatch(struct evhttp_request *req, void *arg)
{
    struct monitor *m = arg;
    const char *target = evhttp_request_get_uri(req);
    const char *path = target, *query = NULL;
    size_t tlen = target ? strlen(target) : 0;
    if (!target) {
        bad_request(req);
        return;
    }
    for (size_t i = 0; i < tlen; i++) {
        if ((unsigned char)target[i] < 0x20 || target[i] == 0x7f) {
            bad_request(req);
            return;
        }
    }
    /* Absolute form (http://host/path): the path starts after the host. */
    if (target[0] != '/') {
        const char *sep = strstr(target, "://");
        if (!sep) {
            bad_request(req);
            return;
        }
        path = sep + 3;
        path += strcspn(path, "/?");
    }
    const char *q = strchr(path, '?');
    size_t plen = q ? (size_t)(q - path) : strlen(path);
    size_t qlen = q ? strlen(q + 1) : 0;
    if (q)
        query = q + 1;

    char *decoded = malloc(plen + 1), *clean = malloc(plen + 3);
    struct monitor_url_query params = { 0 };
    if (!decoded || !clean) {
        evhttp_send_error(req, 500, NULL);
        goto out_free;
    }
    long dlen = monitor_url_unescape_path(path, plen, decoded);
    if (dlen < 0) {
        bad_request(req);
        goto out_free;
    }
    size_t clen = monitor_url_clean_path(decoded, (size_t)dlen, clean);
    if (clen != (size_t)dlen || memcmp(clean, decoded, clen) != 0) {
        redirect(req, clean, clen, query, qlen);
        goto out_free;
    }
    if (query && monitor_url_query_parse(query, qlen, &params) < 0) {
        evhttp_send_error(req, 500, NULL);
        goto out_free;
    }
    char want[512];
    for (size_t i = 0; i < monitor__nendpoints; i++) {
        full_path(m, monitor__endpoints[i].name, want, sizeof want);
        if (strlen(want) == clen && memcmp(want, clean, clen) == 0) {
            monitor__endpoints[i].fn(m, req, &params);
            goto out_free;
        }
    }
    const char *base = m->srv->opts.http_base_path ? m->srv->opts.http_base_path : "/";
    bool console = !m->srv->opts.console_off;
    full_path(m, "console/", want, sizeof want);
    size_t wlen = strlen(want);
    if ((strlen(base) == clen && memcmp(base, clean, clen) == 0) ||
        (clen == 1 && clean[0] == '/')) {
        if (console) {
            m->req_root++;
            console_serve_index(req, base);
        } else {
            monitor__on_root(m, req);
        }
    } else if (!(console && clen > wlen && memcmp(want, clean, wlen) == 0 &&
                 console_serve_asset(req, clean + wlen, clen - wlen))) {
        not_found(req);
    }
out_free:
    monitor_url_query_free(&params);
    free(decoded);
    free(clean);
}

