/*
 * server/conf_impl.h — private to server/conf.c and server/conf_scan.c.
 *
 * The state of one parse (struct parser), the byte readers both files lex
 * with, and the calls each file makes into the other: conf_scan.c turns
 * bytes into scalar values and keys; conf.c owns the tree, the error
 * buffer, $variables and includes. Names with a double underscore
 * (conf__*) are internal; nothing outside server/conf*.c may include this
 * header. Like conf.h it depends on libc only.
 */
#ifndef TERN_SERVER_CONF_IMPL_H
#define TERN_SERVER_CONF_IMPL_H

#include <stdbool.h>
#include <stddef.h>

#include "server/conf.h"

#define CONF_EOF (-1)

/* Limits shared by a file, its includes and its environment values. */
struct budget {
    size_t values;
    size_t bytes;
};

/* A $NAME being resolved from the environment, for cycle detection;
 * lives on the stack of the resolving call. */
struct env_ref {
    const char *name;
    const struct env_ref *up;
    int depth;
};

/* One parse of one buffer. Stack-allocated; everything it creates is
 * either handed to the document or freed before it returns. */
struct parser {
    const char *buf;             /* borrowed */
    size_t len, pos;
    int line;
    size_t line_start;           /* offset of the current line's first byte */
    const char *file;            /* borrowed: owned by doc->files */
    struct conf_doc *doc;        /* borrowed */
    struct budget *bud;          /* borrowed */
    const struct conf_parse_opts *popts; /* borrowed, never NULL */
    int include_depth;
    const struct env_ref *env;   /* borrowed */
    bool bare_errors;            /* env values: reason only, no position */
    int depth;
    struct conf_value *scopes[CONF_MAX_DEPTH + 2]; /* borrowed: maps being built */
    int nscopes;
    char *err;
    size_t errlen;
};

/* Which map is being read: the whole file, the optional braces around it,
 * or a nested map. Decides what may end a key or a value (nats-server's
 * lexTop*, lexBlock*, lexMap* states). */
enum ctx { CTX_TOP, CTX_BLOCK, CTX_MAP };

/* ---- reading (inline: they run once per input byte) ---- */

static inline int col_of(const struct parser *p)
{
    return (int)(p->pos - p->line_start) + 1;
}

static inline int peek(const struct parser *p)
{
    return p->pos < p->len ? (unsigned char)p->buf[p->pos] : CONF_EOF;
}

static inline int peek2(const struct parser *p)
{
    return p->pos + 1 < p->len ? (unsigned char)p->buf[p->pos + 1] : CONF_EOF;
}

static inline int next(struct parser *p)
{
    if (p->pos >= p->len)
        return CONF_EOF;
    int c = (unsigned char)p->buf[p->pos++];
    if (c == '\n') {
        p->line++;
        p->line_start = p->pos;
    }
    return c;
}

static inline bool is_ws(int c) { return c == ' ' || c == '\t'; }
static inline bool is_nl(int c) { return c == '\n' || c == '\r'; }
static inline bool is_space(int c) { return is_ws(c) || is_nl(c) || c == '\v' || c == '\f'; }
static inline bool is_sep(int c) { return c == '=' || c == ':'; }
static inline bool is_digit(int c) { return c >= '0' && c <= '9'; }

static inline void skip_ws(struct parser *p)
{
    while (is_ws(peek(p)))
        next(p);
}

static inline void skip_space(struct parser *p)
{
    while (is_space(peek(p)))
        next(p);
}

/* At '#' or "//": true and the comment is consumed up to its newline. */
static inline bool skip_comment(struct parser *p)
{
    int c = peek(p);
    if (c != '#' && !(c == '/' && peek2(p) == '/'))
        return false;
    while (peek(p) != CONF_EOF && !is_nl(peek(p)))
        next(p);
    return true;
}

/* ---- conf.c: errors, values, variables ---- */

/* Writes "<file>:<line>:<col>: <reason>" to p->err; returns -EINVAL. */
int conf__fail_at(struct parser *p, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
#define fail(p, ...) conf__fail_at((p), (p)->line, col_of(p), __VA_ARGS__)
int conf__fail_nomem(struct parser *p);

/* Render one input byte for an error message as nats-server does. */
const char *conf__show(int c, char buf[8]);

/* A value charged to the parse's budget; NULL when over it or out of
 * memory, which conf__value_fail() then reports. Owned by the caller
 * until it is linked into the tree. */
struct conf_value *conf__new_value(struct parser *p, enum conf_type t, int line, int col);
int conf__value_fail(struct parser *p);

/* $name at line:col: a copy of the innermost definition, else the
 * environment's value, else an error. */
int conf__resolve_variable(struct parser *p, const char *name, int line, int col,
                           struct conf_value **out);

/* ---- conf_scan.c: strings, keys, scalar values ---- */

/* A growable NUL-terminated string; s is owned by whoever holds the sbuf. */
struct sbuf {
    char *s;
    size_t len, cap;
};

int conf__sbuf_add(struct sbuf *b, const char *s, size_t n);

/* A CONF_STRING value taking ownership of b->s (freed on failure too). */
int conf__make_string(struct parser *p, struct sbuf *b, int line, int col,
                      struct conf_value **out);

/* Each starts at its first byte (the quote, '(', digit or '-') and
 * leaves p after the value; 0 and *out set, or a negative code with the
 * error written. */
int conf__scan_quoted(struct parser *p, char quote, struct conf_value **out);
int conf__scan_block_string(struct parser *p, struct conf_value **out);
int conf__scan_number(struct parser *p, struct conf_value **out);
/* An unquoted word from start (which may lie before p->pos): a bool, a
 * $variable or a string. */
int conf__scan_unquoted(struct parser *p, size_t start, int line, int col,
                        struct conf_value **out);

/* A map key; *key is malloc'd. *include says it was the bare keyword
 * "include" followed by whitespace. */
int conf__scan_key(struct parser *p, enum ctx ctx, char **key, bool *include);
/* After "include": the file name (malloc'd) and where it starts. */
int conf__scan_include_name(struct parser *p, char **name, int *line, int *col);

#endif
