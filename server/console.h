/*
 * server/console.h — the web console: the static page, script and style
 * sheet the monitoring server serves at its base path ("/" by default) and
 * under "<base>/console/", built into ternd (server/console/embed.c turns
 * the files of server/console/ into the console_assets table at build
 * time), so nothing is read from disk and nothing is fetched from outside.
 *
 * The page only reads what the monitoring port already serves (/varz,
 * /connz, /jsz, /routez and /clusterz) and talks NATS to the WebSocket
 * listener like any other client, with the credentials its user types.
 * Every answer carries a strict Content-Security-Policy: scripts and
 * styles from this origin only, no inline code, connections to this
 * origin and to WebSocket listeners. "console: false" turns it off: the
 * base path serves the plain endpoint list again and the asset paths 404.
 * Main thread only (called from the monitoring server's dispatch).
 */
#ifndef TERN_SERVER_CONSOLE_H
#define TERN_SERVER_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>

struct evhttp_request;

/* One embedded file (generated table; the bytes are static). */
struct console_asset {
    const char *name;           /* base name: "index.html", "console.js" */
    const unsigned char *data;
    size_t len;
};
extern const struct console_asset console_assets[];
extern const size_t console_nassets;

/* The page itself, with its <base href> set to base ("/" or the
 * http_base_path, NULL meaning "/") so that its relative URLs reach the
 * endpoints wherever they are mounted. */
void console_serve_index(struct evhttp_request *req, const char *base);

/* "<base>/console/<name>": serve the file named name (len bytes, not
 * NUL-terminated) and return true, or return false when there is none
 * (index.html is served only through console_serve_index). */
bool console_serve_asset(struct evhttp_request *req, const char *name, size_t len);

/* The Content-Type for a file name, by its extension. */
const char *console_content_type(const char *name);

#endif
