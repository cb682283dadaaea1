/*
 * proto/connect.h — a client's CONNECT JSON, decoded as nats-server 2.9
 * decodes it into its ClientOpts struct with Go's encoding/json
 * (spec/client-protocol.md §4): the whole text must be valid JSON; each
 * known field must have its Go type (a bool, a string, an integer without
 * fraction or exponent, import/export an object of string arrays), or be
 * null, which leaves the field as it was; keys match their field
 * case-insensitively, as Go's do; a later key wins; unknown keys are
 * skipped. A top-level null changes nothing. Anything else is refused, and
 * nats-server then closes the connection without an -ERR.
 *
 * Pure: no I/O, no allocation beyond the decoded strings.
 */
#ifndef TERN_PROTO_CONNECT_H
#define TERN_PROTO_CONNECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Go's nesting limit: deeper JSON is refused. */
#define CONNECT_MAX_DEPTH 10000

/* A decoded string: owned (malloc'd, NUL-terminated), s NULL when the key
 * was absent or null. len counts every byte: a \u0000 escape decodes to a
 * NUL inside it, and invalid UTF-8 to U+FFFD, as Go decodes them. */
struct connect_str {
    char *s;
    size_t len;
};

/* The caller fills the fields with their values before this CONNECT (a
 * first CONNECT: nats-server's defaults, verbose, pedantic and echo true)
 * and frees the strings with connect_opts_free, whatever decode returned. */
struct connect_opts {
    bool verbose, pedantic, echo, tls_required, headers, no_responders, new_account;
    int64_t protocol;
    struct connect_str user, pass, auth_token, nkey, sig, jwt, name, lang, version, account;
    /* The key appeared (any value, null too): Tern has no accounts to
     * select, and refuses a CONNECT that names one. */
    bool account_key, new_account_key;
    /* On a refusal: the field whose value had the wrong type, or NULL
     * when the text was not valid JSON (static; for the log). */
    const char *bad_field;
};

/* Decode len bytes of js into o. 0, or -EPROTO when nats-server would
 * refuse the text (fields decoded before the fault may have been set). */
int connect_decode(const char *js, size_t len, struct connect_opts *o);

/* Frees the decoded strings and sets them to NULL. */
void connect_opts_free(struct connect_opts *o);

#endif
