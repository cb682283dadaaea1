/*
 * server/monitor_url.h — a monitoring request's URL read the way
 * nats-server's Go net/http and strconv read it, so that odd requests get
 * nats-server's answers byte for byte (spec/server-cli-config.md §4):
 *
 * - the path is percent-decoded (a bad escape is Go's 400) and compared
 *   with its length, so "/varz%00x" is not "/varz"; a path that is not
 *   clean ("//varz", "/a/../varz") is redirected to its clean form;
 * - the query is split as url.ParseQuery splits it (pairs with a bad
 *   escape or a ';' dropped, '+' a space, the first value of a key wins);
 * - integer and boolean parameters are parsed as strconv parses them, and
 *   a refusal is nats-server's text: Error decoding int for 'limit':
 *   strconv.Atoi: parsing "abc": invalid syntax.
 *
 * Pure: no I/O; the strings it returns are owned as each function says.
 */
#ifndef TERN_SERVER_MONITOR_URL_H
#define TERN_SERVER_MONITOR_URL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One key=value pair, both decoded (they may hold NULs). */
struct monitor_url_pair {
    char *key, *value;         /* owned, NUL-terminated past their lengths */
    size_t klen, vlen;
};

/* A parsed query; zero it to start. Owned by the caller, freed with
 * monitor_url_query_free. */
struct monitor_url_query {
    struct monitor_url_pair *pairs;  /* owned */
    size_t n;
};

/* Split raw (len bytes, without the '?') into q. 0 or -ENOMEM. */
int monitor_url_query_parse(const char *raw, size_t len, struct monitor_url_query *q);
void monitor_url_query_free(struct monitor_url_query *q);

/* The first value of key, or NULL; *vlen gets its length. Borrowed from q. */
const char *monitor_url_get(const struct monitor_url_query *q, const char *key, size_t *vlen);

/*
 * nats-server's decodeBool, decodeInt and decodeUint64: an absent or empty
 * parameter leaves *out alone and returns 0; a value Go parses is stored;
 * anything else returns -EINVAL with nats-server's 400 text in err.
 */
int monitor_url_bool(const struct monitor_url_query *q, const char *key, bool *out, char *err,
                     size_t cap);
int monitor_url_int(const struct monitor_url_query *q, const char *key, int64_t *out, char *err,
                    size_t cap);
int monitor_url_uint64(const struct monitor_url_query *q, const char *key, uint64_t *out,
                       char *err, size_t cap);

/* Go's strconv.Quote of len bytes of s into out (always terminated; cut
 * short at cap). Non-ASCII runes are kept unless they are controls,
 * spaces, format or private-use characters, which are escaped as Go's
 * unicode.IsPrint says; unassigned code points are kept (Go would escape
 * them: its Unicode tables are not here). Returns the length written. */
size_t monitor_url_quote(char *out, size_t cap, const char *s, size_t len);

/* Percent-decode a raw path into out (at least len + 1 bytes). The
 * decoded length, or -EINVAL for a bad escape (Go answers 400). */
long monitor_url_unescape_path(const char *raw, size_t len, char *out);

/* Go's ServeMux cleanPath: rooted, path.Clean'ed, a trailing slash kept.
 * out holds at least len + 2 bytes; returns the clean length. */
size_t monitor_url_clean_path(const char *p, size_t len, char *out);

/* A decoded path escaped as Go's url.URL.EscapedPath escapes it, into out
 * (at least 3 * len + 1 bytes). Returns the length. */
size_t monitor_url_escape_path(const char *p, size_t len, char *out);

#endif
