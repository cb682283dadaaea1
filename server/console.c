/*
 * server/console.c — serves the web console's embedded files (see
 * console.h). The files are the generated console_assets table; the only
 * change made to one on the way out is the page's <base href>, written
 * from the configured base path (HTML-escaped) where the page says
 * "@BASE@", so the same bytes work under any http_base_path. Every answer
 * sets the security headers below; nothing here reads the server's state.
 */
#include "server/console.h"

#include <event2/buffer.h>
#include <event2/http.h>
#include <string.h>

/* Scripts and styles from this origin only (no inline code, no eval), the
 * endpoints of this origin and any WebSocket listener (the live tab's: its
 * port differs from the monitoring port, and the browser may know the
 * host by another name than the server does), no frames, no forms. */
static const char CSP[] =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self' ws: wss:; base-uri 'self'; form-action 'none'; "
    "frame-ancestors 'none'";

static const char BASE_MARK[] = "@BASE@";

const char *console_content_type(const char *name)
{
    static const struct {
        const char *ext, *type;
    } types[] = {
        { ".html", "text/html; charset=utf-8" },
        { ".js", "text/javascript; charset=utf-8" },
        { ".css", "text/css; charset=utf-8" },
        { ".png", "image/png" },
        { ".svg", "image/svg+xml" },
    };
    const char *dot = strrchr(name, '.');
    for (size_t i = 0; dot && i < sizeof types / sizeof types[0]; i++)
        if (strcmp(dot, types[i].ext) == 0)
            return types[i].type;
    return "application/octet-stream";
}

static const struct console_asset *find(const char *name, size_t len)
{
    for (size_t i = 0; i < console_nassets; i++)
        if (strlen(console_assets[i].name) == len && memcmp(console_assets[i].name, name, len) == 0)
            return &console_assets[i];
    return NULL;
}

static void reply(struct evhttp_request *req, const char *type, struct evbuffer *body)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Content-Type", type);
    evhttp_add_header(h, "Content-Security-Policy", CSP);
    evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
    evhttp_add_header(h, "X-Frame-Options", "DENY");
    evhttp_add_header(h, "Referrer-Policy", "no-referrer");
    /* Small files: revalidating each load costs little and a new ternd's
     * console is never mixed with an old one's script. */
    evhttp_add_header(h, "Cache-Control", "no-cache");
    evhttp_send_reply(req, 200, "OK", body);
}

/* base as an href ending in '/', with the characters that could leave the
 * attribute escaped. */
static void add_base(struct evbuffer *b, const char *base)
{
    if (!base || !*base)
        base = "/";
    if (base[0] != '/')
        evbuffer_add(b, "/", 1);
    for (const char *p = base; *p; p++) {
        switch (*p) {
        case '&': evbuffer_add_printf(b, "&amp;"); break;
        case '<': evbuffer_add_printf(b, "&lt;"); break;
        case '>': evbuffer_add_printf(b, "&gt;"); break;
        case '"': evbuffer_add_printf(b, "&#34;"); break;
        case '\'': evbuffer_add_printf(b, "&#39;"); break;
        default: evbuffer_add(b, p, 1);
        }
    }
    if (base[strlen(base) - 1] != '/')
        evbuffer_add(b, "/", 1);
}

void console_serve_index(struct evhttp_request *req, const char *base)
{
    const struct console_asset *a = find("index.html", 10);
    struct evbuffer *b = evbuffer_new();
    if (!a || !b) {
        if (b)
            evbuffer_free(b);
        evhttp_send_error(req, 500, NULL);
        return;
    }
    const char *text = (const char *)a->data, *end = text + a->len;
    const char *mark = memmem(text, a->len, BASE_MARK, sizeof BASE_MARK - 1);
    if (mark) {
        evbuffer_add(b, text, (size_t)(mark - text));
        add_base(b, base);
        text = mark + sizeof BASE_MARK - 1;
    }
    evbuffer_add(b, text, (size_t)(end - text));
    reply(req, console_content_type(a->name), b);
    evbuffer_free(b);
}

bool console_serve_asset(struct evhttp_request *req, const char *name, size_t len)
{
    const struct console_asset *a = find(name, len);
    if (!a || strcmp(a->name, "index.html") == 0)
        return false;
    struct evbuffer *b = evbuffer_new();
    if (!b) {
        evhttp_send_error(req, 500, NULL);
        return true;
    }
    /* Static bytes: referenced, not copied. */
    evbuffer_add_reference(b, a->data, a->len, NULL, NULL);
    reply(req, console_content_type(a->name), b);
    evbuffer_free(b);
    return true;
}
