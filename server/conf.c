/*
 * server/conf.c — parser of the nats-server configuration format.
 *
 * A recursive-descent reader over one byte buffer, following the states of
 * nats-server's conf lexer (spec/server-cli-config.md §2.1) so the same
 * files mean the same thing: what ends a key, a value or a block is decided
 * exactly where nats-server decides it. Variables are resolved while
 * parsing, against the maps still being built (innermost first), then the
 * environment; includes are parsed as separate files and merged in place.
 * It must never recurse or allocate without bound: nesting, include depth,
 * input size and the number of values are capped (conf.h), because the
 * input is untrusted. libc only.
 */
#include "server/conf.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EOFC (-1)
#define ENV_CHAIN_MAX 16

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

enum ctx { CTX_TOP, CTX_BLOCK, CTX_MAP };

static int parse_value(struct parser *p, struct conf_value **out);
static int parse_body(struct parser *p, struct conf_value *map, enum ctx ctx);
static int parse_buffer(struct parser *parent, const char *buf, size_t len,
                        const char *file, int include_depth, const struct env_ref *env,
                        bool bare_errors, struct conf_value **root);

/* ---- errors and positions ---- */

static int col_of(const struct parser *p)
{
    return (int)(p->pos - p->line_start) + 1;
}

static int fail_at(struct parser *p, int line, int col, const char *fmt, ...)
{
    char reason[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    if (!p->err || !p->errlen)
        return -EINVAL;
    if (p->bare_errors)
        snprintf(p->err, p->errlen, "%s", reason);
    else
        snprintf(p->err, p->errlen, "%s:%d:%d: %s", p->file, line, col, reason);
    return -EINVAL;
}

#define fail(p, ...) fail_at((p), (p)->line, col_of(p), __VA_ARGS__)

static int fail_nomem(struct parser *p)
{
    if (p->err && p->errlen)
        snprintf(p->err, p->errlen, "out of memory parsing %s", p->file);
    return -ENOMEM;
}

/* Render one input byte for an error message as nats-server does. */
static const char *show(int c, char buf[8])
{
    if (c == EOFC)
        return "EOF";
    if (c == '\n')
        return "\\n";
    if (c == '\r')
        return "\\r";
    if (isprint(c) || c >= 0x80)
        snprintf(buf, 8, "%c", c);
    else
        snprintf(buf, 8, "\\x%02x", c);
    return buf;
}

/* ---- reading ---- */

static int peek(const struct parser *p)
{
    return p->pos < p->len ? (unsigned char)p->buf[p->pos] : EOFC;
}

static int peek2(const struct parser *p)
{
    return p->pos + 1 < p->len ? (unsigned char)p->buf[p->pos + 1] : EOFC;
}

static int next(struct parser *p)
{
    if (p->pos >= p->len)
        return EOFC;
    int c = (unsigned char)p->buf[p->pos++];
    if (c == '\n') {
        p->line++;
        p->line_start = p->pos;
    }
    return c;
}

static bool is_ws(int c) { return c == ' ' || c == '\t'; }
static bool is_nl(int c) { return c == '\n' || c == '\r'; }
static bool is_space(int c) { return is_ws(c) || is_nl(c) || c == '\v' || c == '\f'; }
static bool is_sep(int c) { return c == '=' || c == ':'; }
static bool is_digit(int c) { return c >= '0' && c <= '9'; }

static void skip_ws(struct parser *p)
{
    while (is_ws(peek(p)))
        next(p);
}

static void skip_space(struct parser *p)
{
    while (is_space(peek(p)))
        next(p);
}

/* At '#' or "//": true and the comment is consumed up to its newline. */
static bool skip_comment(struct parser *p)
{
    int c = peek(p);
    if (c != '#' && !(c == '/' && peek2(p) == '/'))
        return false;
    while (peek(p) != EOFC && !is_nl(peek(p)))
        next(p);
    return true;
}

/* ---- growable string ---- */

struct sbuf {
    char *s;
    size_t len, cap;
};

static int sbuf_add(struct sbuf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 32;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *ns = realloc(b->s, cap);
        if (!ns)
            return -ENOMEM;
        b->s = ns;
        b->cap = cap;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
    return 0;
}

/* ---- values ---- */

static struct conf_value *new_value(struct parser *p, enum conf_type t, int line, int col)
{
    if (++p->bud->values > CONF_MAX_VALUES)
        return NULL;
    struct conf_value *v = calloc(1, sizeof *v);
    if (!v)
        return NULL;
    v->type = t;
    v->file = p->file;
    v->line = line;
    v->col = col;
    return v;
}

/* new_value() failed: say whether it was the budget or malloc. */
static int value_fail(struct parser *p)
{
    if (p->bud->values > CONF_MAX_VALUES) {
        fail(p, "config has more than %u values", CONF_MAX_VALUES);
        return -E2BIG;
    }
    return fail_nomem(p);
}

static void free_value(struct conf_value *v)
{
    if (!v)
        return;
    switch (v->type) {
    case CONF_STRING:
        free(v->u.str.s);
        break;
    case CONF_MAP:
        for (size_t i = 0; i < v->u.map.n; i++) {
            free(v->u.map.items[i].key);
            free_value(v->u.map.items[i].val);
        }
        free(v->u.map.items);
        break;
    case CONF_ARRAY:
        for (size_t i = 0; i < v->u.arr.n; i++)
            free_value(v->u.arr.items[i]);
        free(v->u.arr.items);
        break;
    default:
        break;
    }
    free(v);
}

static int array_push(struct conf_value *arr, struct conf_value *v)
{
    if (arr->u.arr.n == arr->u.arr.cap) {
        size_t cap = arr->u.arr.cap ? arr->u.arr.cap * 2 : 4;
        struct conf_value **ni = realloc(arr->u.arr.items, cap * sizeof *ni);
        if (!ni)
            return -ENOMEM;
        arr->u.arr.items = ni;
        arr->u.arr.cap = cap;
    }
    arr->u.arr.items[arr->u.arr.n++] = v;
    return 0;
}

/* Keys are exact (case-sensitive) here as in nats-server's map; a repeated
 * key replaces the earlier value in place: the last one wins. Takes
 * ownership of key and val in every case. */
static int map_set(struct conf_value *map, char *key, const char *file, int line, int col,
                   bool used, struct conf_value *val)
{
    for (size_t i = 0; i < map->u.map.n; i++) {
        struct conf_entry *e = &map->u.map.items[i];
        if (strcmp(e->key, key) == 0) {
            free(key);
            free_value(e->val);
            e->val = val;
            e->file = file;
            e->line = line;
            e->col = col;
            e->used_variable = used;
            return 0;
        }
    }
    if (map->u.map.n == map->u.map.cap) {
        size_t cap = map->u.map.cap ? map->u.map.cap * 2 : 8;
        struct conf_entry *ni = realloc(map->u.map.items, cap * sizeof *ni);
        if (!ni) {
            free(key);
            free_value(val);
            return -ENOMEM;
        }
        map->u.map.items = ni;
        map->u.map.cap = cap;
    }
    map->u.map.items[map->u.map.n++] = (struct conf_entry){
        .key = key, .file = file, .line = line, .col = col,
        .used_variable = used, .val = val,
    };
    return 0;
}

static int copy_value(struct parser *p, const struct conf_value *src, struct conf_value **out)
{
    struct conf_value *v = new_value(p, src->type, src->line, src->col);
    if (!v)
        return value_fail(p);
    v->file = src->file;
    int rc = 0;
    switch (src->type) {
    case CONF_STRING:
        v->u.str.s = malloc(src->u.str.len + 1);
        if (!v->u.str.s)
            goto err_free_copy;
        memcpy(v->u.str.s, src->u.str.s, src->u.str.len + 1);
        v->u.str.len = src->u.str.len;
        break;
    case CONF_MAP:
        for (size_t i = 0; i < src->u.map.n; i++) {
            const struct conf_entry *e = &src->u.map.items[i];
            struct conf_value *c;
            if ((rc = copy_value(p, e->val, &c)) < 0)
                goto err_free_copy;
            char *k = strdup(e->key);
            if (!k) {
                free_value(c);
                goto err_free_copy;
            }
            if ((rc = map_set(v, k, e->file, e->line, e->col, e->used_variable, c)) < 0)
                goto err_free_copy;
        }
        break;
    case CONF_ARRAY:
        for (size_t i = 0; i < src->u.arr.n; i++) {
            struct conf_value *c;
            if ((rc = copy_value(p, src->u.arr.items[i], &c)) < 0)
                goto err_free_copy;
            if (array_push(v, c) < 0) {
                free_value(c);
                goto err_free_copy;
            }
        }
        break;
    default:
        v->u = src->u;
        break;
    }
    *out = v;
    return 0;

err_free_copy:
    free_value(v);
    return rc < 0 ? rc : fail_nomem(p);
}

/* ---- strings ---- */

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* After a backslash: the escapes of double-quoted (and unquoted) strings. */
static int read_escape(struct parser *p, struct sbuf *b)
{
    char cb[8], cb2[8];
    int c = next(p);
    char out;
    switch (c) {
    case 't': out = '\t'; break;
    case 'n': out = '\n'; break;
    case 'r': out = '\r'; break;
    case '"': out = '"'; break;
    case '\\': out = '\\'; break;
    case 'x': {
        int h = next(p), l = is_nl(h) ? h : next(p);
        if (is_nl(h) || is_nl(l))
            return fail(p, "Expected two hexadecimal digits after '\\x', but hit end of line");
        if (hexval(h) < 0 || hexval(l) < 0)
            return fail(p, "Expected two hexadecimal digits after '\\x', but got '%s%s'",
                        h == EOFC ? "" : show(h, cb), l == EOFC ? "" : show(l, cb2));
        out = (char)(hexval(h) * 16 + hexval(l));
        break;
    }
    case EOFC:
        return fail(p, "Unexpected EOF.");
    default:
        return fail(p, "Invalid escape character '%s'. Only the following escape "
                       "characters are allowed: \\xXX, \\t, \\n, \\r, \\\", \\\\.", show(c, cb));
    }
    return sbuf_add(b, &out, 1) < 0 ? fail_nomem(p) : 0;
}

static int make_string(struct parser *p, struct sbuf *b, int line, int col,
                       struct conf_value **out)
{
    if (!b->s && sbuf_add(b, "", 0) < 0)
        return fail_nomem(p);
    struct conf_value *v = new_value(p, CONF_STRING, line, col);
    if (!v) {
        free(b->s);
        return value_fail(p);
    }
    v->u.str.s = b->s;
    v->u.str.len = b->len;
    *out = v;
    return 0;
}

static int parse_quoted(struct parser *p, char quote, struct conf_value **out)
{
    int line = p->line, col = col_of(p);
    struct sbuf b = { 0 };
    next(p); /* the opening quote */
    for (;;) {
        int c = peek(p);
        if (c == EOFC) {
            free(b.s);
            return fail(p, "Unexpected EOF.");
        }
        next(p);
        if (c == quote)
            break;
        int rc;
        char ch = (char)c;
        if (c == '\\' && quote == '"')
            rc = read_escape(p, &b);
        else
            rc = sbuf_add(&b, &ch, 1) < 0 ? fail_nomem(p) : 0;
        if (rc < 0) {
            free(b.s);
            return rc;
        }
    }
    return make_string(p, &b, line, col, out);
}

/* ( newline ... newline ) — raw text; the ')' must start its own line and
 * end it. The value is everything between the parentheses. */
static int parse_block_string(struct parser *p, struct conf_value **out)
{
    int line = p->line, col = col_of(p);
    next(p); /* '(' */
    size_t start = p->pos;
    for (;;) {
        int c = next(p);
        if (c == EOFC)
            return fail(p, "Unexpected EOF processing block.");
        size_t close = p->pos - 1; /* index of this byte */
        bool alone = c == ')' && close >= start + 1 && p->buf[close - 1] == '\n';
        int after = peek(p);
        if (alone && (after == '\n' || after == '\r' || after == EOFC)) {
            struct sbuf b = { 0 };
            if (sbuf_add(&b, p->buf + start, close - start) < 0)
                return fail_nomem(p);
            return make_string(p, &b, line, col, out);
        }
    }
}

/* ---- variables ---- */

static bool is_bcrypt(const char *name)
{
    /* "$2a$", "$2b$", "$2x$", "$2y$" open a bcrypt hash, never a variable. */
    return name[0] == '2' && name[1] && strchr("abxy", name[1]) && name[2] == '$';
}

static struct conf_entry *scope_lookup(struct parser *p, const char *name)
{
    for (int i = p->nscopes - 1; i >= 0; i--) {
        struct conf_value *m = p->scopes[i];
        for (size_t j = m->u.map.n; j-- > 0;)
            if (strcmp(m->u.map.items[j].key, name) == 0)
                return &m->u.map.items[j];
    }
    return NULL;
}

/* An environment value is parsed as the value of "pk=<value>". */
static int env_lookup(struct parser *p, const char *name, int line, int col,
                      struct conf_value **out)
{
    const char *env = p->popts->no_env ? NULL : getenv(name);
    if (!env)
        return 1;
    int depth = p->env ? p->env->depth + 1 : 1;
    for (const struct env_ref *r = p->env; r; r = r->up)
        if (strcmp(r->name, name) == 0)
            return fail_at(p, line, col, "variable reference for '%s' on line %d could not be "
                           "parsed: variable reference cycle for '%s'", name, line, name);
    if (depth > ENV_CHAIN_MAX)
        return fail_at(p, line, col, "variable reference for '%s' on line %d could not be "
                       "parsed: too many nested environment references", name, line);
    struct env_ref ref = { .name = name, .up = p->env, .depth = depth };
    size_t n = strlen(env);
    char *text = malloc(n + 4);
    if (!text)
        return fail_nomem(p);
    memcpy(text, "pk=", 3);
    memcpy(text + 3, env, n + 1);
    char reason[400] = "";
    struct parser sub = *p;
    sub.err = reason;
    sub.errlen = sizeof reason;
    struct conf_value *root = NULL;
    int rc = parse_buffer(&sub, text, n + 3, p->file, p->include_depth, &ref, true, &root);
    free(text);
    if (rc == -ENOMEM)
        return fail_nomem(p);
    if (rc < 0) {
        fail_at(p, line, col, "variable reference for '%s' on line %d could not be parsed: %s",
                name, line, reason);
        return rc;
    }
    int found = 1;
    for (size_t i = 0; i < root->u.map.n; i++) {
        if (strcmp(root->u.map.items[i].key, "pk") == 0) {
            *out = root->u.map.items[i].val;
            root->u.map.items[i].val = NULL;
            (*out)->file = p->file;
            (*out)->line = line;
            (*out)->col = col;
            found = 0;
        }
    }
    free_value(root);
    return found;
}

static int resolve_variable(struct parser *p, const char *name, int line, int col,
                            struct conf_value **out)
{
    if (is_bcrypt(name)) {
        struct sbuf b = { 0 };
        if (sbuf_add(&b, "$", 1) < 0 || sbuf_add(&b, name, strlen(name)) < 0) {
            free(b.s);
            return fail_nomem(p);
        }
        return make_string(p, &b, line, col, out);
    }
    struct conf_entry *e = scope_lookup(p, name);
    if (e) {
        int rc = copy_value(p, e->val, out);
        if (rc < 0)
            return rc;
        e->used_variable = true;
        (*out)->file = p->file;
        (*out)->line = line;
        (*out)->col = col;
        return 0;
    }
    int rc = env_lookup(p, name, line, col, out);
    if (rc <= 0)
        return rc;
    return fail_at(p, line, col, "variable reference for '%s' on line %d can not be found",
                   name, line);
}

/* ---- unquoted strings, booleans, numbers, datetimes ---- */

static bool ends_unquoted(int c)
{
    return is_nl(c) || c == EOFC || c == ';' || c == ',' || c == ']' || c == '}' || is_ws(c);
}

/* Where a number may end; anything else turns it into an unquoted string.
 * nats-server leaves ']' out, so "[1, 2]" gave a string "2"; Tern ends the
 * number there so integer arrays work. */
static bool ends_number(int c)
{
    return is_nl(c) || c == EOFC || c == '}' || c == ';' || c == ',' || c == ']' || is_ws(c);
}

static bool is_bool_word(const char *s, bool *val)
{
    static const char *const yes[] = { "true", "yes", "on" }, *const no[] = { "false", "no", "off" };
    for (int i = 0; i < 3; i++) {
        if (strcasecmp(s, yes[i]) == 0)
            return (*val = true);
        if (strcasecmp(s, no[i]) == 0)
            return !(*val = false);
    }
    return false;
}

/* An unquoted string starting at start (the caller may already have read
 * part of it as a number). Becomes a bool, a $variable or a string. */
static int parse_unquoted(struct parser *p, size_t start, int line, int col,
                          struct conf_value **out)
{
    struct sbuf b = { 0 };
    bool escaped = false;
    size_t run = start;
    int rc = 0;
    for (;;) {
        int c = peek(p);
        if (ends_unquoted(c) || c == '\'' || c == '\\') {
            if (sbuf_add(&b, p->buf + run, p->pos - run) < 0)
                goto err_nomem;
            if (c == '\'')
                next(p); /* nats-server ends the word at a quote and drops it */
            if (c != '\\')
                break;
            next(p);
            escaped = true;
            if ((rc = read_escape(p, &b)) < 0)
                goto err_free;
            run = p->pos;
            continue;
        }
        next(p);
    }
    if (!b.s && sbuf_add(&b, "", 0) < 0)
        goto err_nomem;
    bool bv;
    if (!escaped && is_bool_word(b.s, &bv)) {
        free(b.s);
        struct conf_value *v = new_value(p, CONF_BOOL, line, col);
        if (!v)
            return value_fail(p);
        v->u.b = bv;
        *out = v;
        return 0;
    }
    if (!escaped && b.s[0] == '$') {
        rc = resolve_variable(p, b.s + 1, line, col, out);
        free(b.s);
        return rc;
    }
    return make_string(p, &b, line, col, out);

err_nomem:
    rc = fail_nomem(p);
err_free:
    free(b.s);
    return rc;
}

static bool mul_overflows(int64_t a, int64_t m)
{
    return a > INT64_MAX / m || a < INT64_MIN / m;
}

/* "1MB", "-3k", "64": digits with an optional size suffix (§2.1). */
static int make_integer(struct parser *p, const char *text, size_t n, int line, int col,
                        struct conf_value **out)
{
    char digits[32], tok[48];
    size_t nd = 0;
    snprintf(tok, sizeof tok, "%.*s", (int)n, text);
    while (nd < n && (is_digit(text[nd]) || text[nd] == '-'))
        nd++;
    if (nd >= sizeof digits)
        return fail_at(p, line, col, "integer '%s' is out of the range", tok);
    memcpy(digits, text, nd);
    digits[nd] = '\0';
    errno = 0;
    char *end;
    long long num = strtoll(digits, &end, 10);
    if (errno == ERANGE)
        return fail_at(p, line, col, "integer '%s' is out of the range", tok);
    if (*end || end == digits)
        return fail_at(p, line, col, "expected integer, but got '%s'", tok);
    char suf[8] = "";
    if (n - nd >= sizeof suf)
        return fail_at(p, line, col, "invalid size suffix in '%s'", tok);
    for (size_t i = nd; i < n; i++)
        suf[i - nd] = (char)tolower((unsigned char)text[i]);
    int64_t mult = 1;
    if (suf[0]) {
        static const char units[] = "kmgtpe";
        const char *u = strchr(units, suf[0]);
        bool binary = suf[1] != '\0';
        if (!u || (binary && strcmp(suf + 1, "b") && strcmp(suf + 1, "i") && strcmp(suf + 1, "ib")))
            return fail_at(p, line, col, "invalid size suffix in '%s'", tok);
        for (long k = 0; k <= u - units; k++)
            mult *= binary ? 1024 : 1000;
    }
    if (mul_overflows(num, mult))
        return fail_at(p, line, col, "integer '%s' is out of the range", tok);
    struct conf_value *v = new_value(p, CONF_INT, line, col);
    if (!v)
        return value_fail(p);
    v->u.i = (int64_t)num * mult;
    *out = v;
    return 0;
}

static int make_float(struct parser *p, size_t start, int line, int col, struct conf_value **out)
{
    char tok[64];
    size_t n = p->pos - start;
    if (n >= sizeof tok)
        return fail_at(p, line, col, "float '%.*s' is out of the range", (int)n, p->buf + start);
    memcpy(tok, p->buf + start, n);
    tok[n] = '\0';
    errno = 0;
    double d = strtod(tok, NULL);
    if (errno == ERANGE && (d == HUGE_VAL || d == -HUGE_VAL))
        return fail_at(p, line, col, "float '%s' is out of the range", tok);
    struct conf_value *v = new_value(p, CONF_FLOAT, line, col);
    if (!v)
        return value_fail(p);
    v->u.f = d;
    *out = v;
    return 0;
}

static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* After "YYYY-": the rest of "YYYY-MM-DDTHH:MM:SSZ". */
static int parse_datetime(struct parser *p, size_t start, int line, int col,
                          struct conf_value **out)
{
    static const char shape[] = "00-00T00:00:00Z";
    char cb[8];
    for (const char *f = shape; *f; f++, next(p)) {
        int c = peek(p);
        if (*f == '0' && !is_digit(c))
            return fail(p, "Expected digit in ISO8601 datetime, but found '%s' instead.", show(c, cb));
        if (*f != '0' && c != *f)
            return fail(p, "Expected '%c' in ISO8601 datetime, but found '%s' instead.", *f, show(c, cb));
    }
    const char *s = p->buf + start;
    int y = atoi(s), mo = atoi(s + 5), d = atoi(s + 8);
    int h = atoi(s + 11), mi = atoi(s + 14), se = atoi(s + 17);
    static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || (mo == 2 && d == 29 && !leap) ||
        h > 23 || mi > 59 || se > 59)
        return fail_at(p, line, col, "expected Zulu formatted DateTime, but got '%.20s'", s);
    struct conf_value *v = new_value(p, CONF_DATETIME, line, col);
    if (!v)
        return value_fail(p);
    v->u.unix_secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se;
    *out = v;
    return 0;
}

static bool is_suffix(int c)
{
    return c != EOFC && strchr("kKmMgGtTpPeE", c) != NULL;
}

/* A value starting with a digit or '-': integer, sized integer, float,
 * datetime, or (as nats-server) an IP address or other string. */
static int parse_number(struct parser *p, struct conf_value **out)
{
    char cb[8];
    int line = p->line, col = col_of(p);
    size_t start = p->pos;
    bool neg = peek(p) == '-';
    if (neg)
        next(p);
    if (!is_digit(peek(p))) {
        if (peek(p) == '.')
            return fail(p, "Floats must start with a digit, not '.'.");
        return fail(p, "Expected a digit but got '%s'.", show(peek(p), cb));
    }
    while (is_digit(peek(p)))
        next(p);
    int c = peek(p);
    if (c == '-' && !neg) {
        if (p->pos - start != 4)
            return fail(p, "All ISO8601 dates must be in full Zulu form.");
        next(p);
        return parse_datetime(p, start, line, col, out);
    }
    if (c == '.') {
        next(p);
        if (!is_digit(peek(p)))
            return fail(p, "Floats must have a digit after the '.', but got '%s' instead.",
                        show(peek(p), cb));
        while (is_digit(peek(p)))
            next(p);
        if (peek(p) != '.')
            return make_float(p, start, line, col, out);
        while (is_digit(peek(p)) || peek(p) == '.' || peek(p) == ':' || peek(p) == '-')
            next(p);
        struct sbuf b = { 0 };
        if (sbuf_add(&b, p->buf + start, p->pos - start) < 0)
            return fail_nomem(p);
        return make_string(p, &b, line, col, out);
    }
    if (is_suffix(c)) {
        next(p);
        while (peek(p) != EOFC && strchr("bBiI", peek(p)))
            next(p);
        if (ends_number(peek(p)) || is_digit(peek(p)))
            return make_integer(p, p->buf + start, p->pos - start, line, col, out);
        return parse_unquoted(p, start, line, col, out);
    }
    if (neg || ends_number(c))
        return make_integer(p, p->buf + start, p->pos - start, line, col, out);
    return parse_unquoted(p, start, line, col, out);
}

/* ---- arrays and maps ---- */

static int enter(struct parser *p)
{
    if (p->depth >= CONF_MAX_DEPTH) {
        fail(p, "nesting deeper than %d levels", CONF_MAX_DEPTH);
        return -E2BIG;
    }
    p->depth++;
    return 0;
}

static int parse_array(struct parser *p, struct conf_value **out)
{
    char cb[8];
    int rc = enter(p);
    if (rc < 0)
        return rc;
    struct conf_value *arr = new_value(p, CONF_ARRAY, p->line, col_of(p));
    if (!arr)
        return value_fail(p);
    next(p); /* '[' */
    for (;;) {
        skip_space(p);
        if (skip_comment(p))
            continue;
        int c = peek(p);
        if (c == ']')
            break;
        if (c == ',') {
            rc = fail(p, "Unexpected array value terminator ','.");
            goto err_free_array;
        }
        if (c == EOFC) {
            rc = fail(p, "Unexpected EOF processing array.");
            goto err_free_array;
        }
        struct conf_value *v;
        if ((rc = parse_value(p, &v)) < 0)
            goto err_free_array;
        if (array_push(arr, v) < 0) {
            free_value(v);
            rc = fail_nomem(p);
            goto err_free_array;
        }
        for (;;) {
            skip_ws(p);
            if (!skip_comment(p))
                break;
        }
        c = peek(p);
        if (c == ']')
            break;
        if (c == ',' || is_nl(c)) {
            next(p);
            continue;
        }
        rc = c == EOFC ? fail(p, "Unexpected EOF processing array.")
                       : fail(p, "Expected an array value terminator \",\" or an array "
                                 "terminator \"]\", but got '%s' instead.", show(c, cb));
        goto err_free_array;
    }
    next(p); /* ']' */
    p->depth--;
    *out = arr;
    return 0;

err_free_array:
    free_value(arr);
    return rc;
}

static int parse_map(struct parser *p, struct conf_value **out)
{
    int rc = enter(p);
    if (rc < 0)
        return rc;
    struct conf_value *map = new_value(p, CONF_MAP, p->line, col_of(p));
    if (!map)
        return value_fail(p);
    next(p); /* '{' */
    if ((rc = parse_body(p, map, CTX_MAP)) < 0) {
        free_value(map);
        return rc;
    }
    p->depth--;
    *out = map;
    return 0;
}

/* lexValue: what the first byte of a value decides. */
static int parse_value(struct parser *p, struct conf_value **out)
{
    skip_ws(p);
    int c = peek(p);
    switch (c) {
    case '[':
        return parse_array(p, out);
    case '{':
        return parse_map(p, out);
    case '\'':
    case '"':
        return parse_quoted(p, (char)c, out);
    case '(':
        return parse_block_string(p, out);
    case '.':
        return fail(p, "Floats must start with a digit");
    case '\n':
    case '\r':
        return fail(p, "Expected value but found new line");
    }
    if (c == '-' || is_digit(c))
        return parse_number(p, out);
    return parse_unquoted(p, p->pos, p->line, col_of(p), out);
}

/* ---- includes ---- */

static int read_file(struct parser *p, const char *path, char **buf, size_t *len, int line, int col);

static int include_file(struct parser *p, struct conf_value *map, const char *name,
                        int line, int col)
{
    if (p->popts->no_includes)
        return fail_at(p, line, col, "includes are disabled");
    if (!name[0])
        return fail_at(p, line, col, "Expected include value but found end of line");
    if (p->include_depth >= CONF_MAX_INCLUDE_DEPTH) {
        fail_at(p, line, col, "include nesting deeper than %d files", CONF_MAX_INCLUDE_DEPTH);
        return -E2BIG;
    }
    /* Relative to the including file's directory, joined as Go's
     * filepath.Join does (so even "/x" stays under that directory). */
    const char *slash = strrchr(p->file, '/');
    size_t dl = slash ? (size_t)(slash - p->file) + 1 : 0;
    char *path = malloc(dl + strlen(name) + 1);
    if (!path)
        return fail_nomem(p);
    memcpy(path, p->file, dl);
    while (*name == '/')
        name++;
    strcpy(path + dl, name);
    char **nf = realloc(p->doc->files, (p->doc->nfiles + 1) * sizeof *nf);
    if (!nf) {
        free(path);
        return fail_nomem(p);
    }
    p->doc->files = nf;
    nf[p->doc->nfiles++] = path;

    char *text;
    size_t len;
    int rc = read_file(p, path, &text, &len, line, col);
    if (rc < 0)
        return rc;
    struct conf_value *root = NULL;
    rc = parse_buffer(p, text, len, path, p->include_depth + 1, p->env, p->bare_errors, &root);
    free(text);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < root->u.map.n && rc == 0; i++) {
        struct conf_entry *e = &root->u.map.items[i];
        rc = map_set(map, e->key, e->file, e->line, e->col, e->used_variable, e->val);
        e->key = NULL;
        e->val = NULL;
    }
    free_value(root); /* frees whatever a failed map_set left unmoved */
    return rc < 0 ? fail_nomem(p) : 0;
}

/* lexInclude: the file name after the keyword. */
static int parse_include(struct parser *p, struct conf_value *map)
{
    skip_ws(p);
    int line = p->line, col = col_of(p);
    int c = peek(p);
    static const struct { char c; const char *what; } bad[] = {
        { '[', "start of an array" }, { '{', "start of a map" }, { '(', "start of a block" },
        { '-', "start of a number" }, { '\\', "escape sequence" },
        { '\n', "new line" }, { '\r', "new line" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (c == bad[i].c || (is_digit(c) && i == 3))
            return fail(p, "Expected include value but found %s", bad[i].what);
    struct sbuf b = { 0 };
    size_t start;
    if (c == '"' || c == '\'') {
        next(p);
        start = p->pos;
        while (peek(p) != c) {
            if (next(p) == EOFC)
                return fail(p, c == '"' ? "Unexpected EOF in double quoted include"
                                        : "Unexpected EOF in quoted include");
        }
        if (sbuf_add(&b, p->buf + start, p->pos - start) < 0)
            return fail_nomem(p);
        next(p);
    } else {
        start = p->pos;
        while (!is_nl(peek(p)) && peek(p) != EOFC && peek(p) != ';' && peek(p) != '}' &&
               !is_ws(peek(p)) && peek(p) != '\'')
            next(p);
        if (sbuf_add(&b, p->buf + start, p->pos - start) < 0)
            return fail_nomem(p);
        if (peek(p) == '\'')
            next(p);
    }
    int rc = include_file(p, map, b.s, line, col);
    free(b.s);
    return rc;
}

/* ---- keys and bodies ---- */

/* A key: quoted, or bare up to whitespace, '=', ':' or EOF. *include says
 * it was the bare keyword "include" followed by whitespace. */
static int parse_key(struct parser *p, enum ctx ctx, char **key, bool *include)
{
    int q = peek(p);
    size_t start;
    *include = false;
    if (q == '"' || q == '\'') {
        next(p);
        start = p->pos;
        while (peek(p) != q) {
            if (next(p) == EOFC) {
                if (ctx != CTX_MAP)
                    return fail(p, "Unexpected EOF.");
                return fail(p, q == '"' ? "Unexpected EOF processing double quoted map key."
                                        : "Unexpected EOF processing quoted map key.");
            }
        }
    } else {
        start = p->pos;
        while (peek(p) != EOFC && !is_space(peek(p)) && !is_sep(peek(p)))
            next(p);
        if (peek(p) == EOFC && ctx == CTX_MAP)
            return fail(p, "Unexpected EOF processing map key.");
        *include = is_space(peek(p)) && p->pos - start == 7 &&
                   strncasecmp(p->buf + start, "include", 7) == 0;
    }
    *key = strndup(p->buf + start, p->pos - start);
    if (!*key)
        return fail_nomem(p);
    if (q == '"' || q == '\'')
        next(p);
    return 0;
}

/* After a value: what may end it in this context (lexTopValueEnd,
 * lexBlockValueEnd, lexMapValueEnd). 1 = the block's '}' is next. */
static int value_end(struct parser *p, enum ctx ctx)
{
    char cb[8];
    for (;;) {
        skip_ws(p);
        if (skip_comment(p)) {
            if (ctx == CTX_TOP)
                return 0;
            continue;
        }
        int c = peek(p);
        if (is_nl(c) || c == ';' || c == ',') {
            next(p);
            return 0;
        }
        if (c == '}') {
            if (ctx == CTX_TOP) {
                next(p);
                return 0;
            }
            return 1;
        }
        if (c == EOFC) {
            if (ctx == CTX_MAP)
                return fail(p, "Unexpected EOF processing map.");
            return 0;
        }
        if (ctx == CTX_TOP)
            return fail(p, "Expected a top-level value to end with a new line, comment or "
                           "EOF, but got '%s' instead.", show(c, cb));
        if (ctx == CTX_BLOCK)
            return fail(p, "Expected a block-level value to end with a new line, comment or "
                           "EOF, but got '%s' instead.", show(c, cb));
        return fail(p, "Expected a map value terminator \",\" or a map terminator \"}\", "
                       "but got '%s' instead.", show(c, cb));
    }
}

/* One "key [sep] value" (or include) into map. */
static int parse_pair(struct parser *p, struct conf_value *map, enum ctx ctx)
{
    int line = p->line, col = col_of(p);
    char *key = NULL;
    bool include;
    int rc = parse_key(p, ctx, &key, &include);
    if (rc < 0)
        return rc;
    if (include) {
        free(key);
        return parse_include(p, map);
    }
    skip_space(p);
    bool had_sep = is_sep(peek(p));
    if (had_sep)
        next(p);
    if (ctx == CTX_MAP)
        skip_space(p);
    /* nats-server reads "key =" at EOF at top level as an empty string. */
    int c = peek(p);
    if ((ctx == CTX_MAP && (c == EOFC || c == '}' || c == ',')) || (!had_sep && c == EOFC)) {
        if (c == ',')
            rc = fail(p, "Unexpected map value terminator \",\".");
        else if (ctx == CTX_MAP && c == EOFC)
            rc = fail(p, "Unexpected EOF processing map.");
        else
            rc = fail_at(p, line, col, "expected a value for key \"%s\"", key);
        free(key);
        return rc;
    }
    struct conf_value *v;
    if ((rc = parse_value(p, &v)) < 0) {
        free(key);
        return rc;
    }
    if (map_set(map, key, p->file, line, col, false, v) < 0)
        return fail_nomem(p);
    return 0;
}

/* The keys of a map: the whole file (CTX_TOP), the optional braces around
 * it (CTX_BLOCK), or a nested map (CTX_MAP), up to its closing '}'. */
static int parse_body(struct parser *p, struct conf_value *map, enum ctx ctx)
{
    char cb[8];
    int rc;
    if (p->nscopes >= (int)(sizeof p->scopes / sizeof p->scopes[0])) {
        fail(p, "nesting deeper than %d levels", CONF_MAX_DEPTH);
        return -E2BIG;
    }
    p->scopes[p->nscopes++] = map;
    for (;;) {
        skip_space(p);
        if (skip_comment(p))
            continue;
        int c = peek(p);
        if (c == EOFC) {
            if (ctx == CTX_MAP) {
                rc = fail(p, "Unexpected EOF processing map.");
                goto out;
            }
            break;
        }
        if (c == '}' && ctx != CTX_TOP) {
            next(p);
            break;
        }
        if (c == '{' && ctx != CTX_MAP) {
            if ((rc = enter(p)) < 0)
                goto out;
            next(p);
            rc = parse_body(p, map, CTX_BLOCK);
            p->depth--;
            if (rc < 0)
                goto out;
            continue;
        }
        if (is_sep(c)) {
            rc = fail(p, ctx == CTX_MAP ? "Unexpected key separator '%s'." :
                                          "Unexpected key separator '%s'", show(c, cb));
            goto out;
        }
        if (c == ']' && ctx == CTX_MAP) {
            rc = fail(p, "Unexpected array end ']' processing map.");
            goto out;
        }
        if ((rc = parse_pair(p, map, ctx)) < 0 || (rc = value_end(p, ctx)) < 0)
            goto out;
    }
    rc = 0;
out:
    p->nscopes--;
    return rc;
}

/* ---- entry points ---- */

static int read_file(struct parser *p, const char *path, char **buf, size_t *len, int line, int col)
{
    FILE *f = fopen(path, "rb");
    int rc;
    if (!f) {
        rc = -errno;
        goto err_report;
    }
    struct sbuf b = { 0 };
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (b.len + n > CONF_MAX_INPUT || p->bud->bytes + b.len + n > CONF_MAX_TOTAL_INPUT) {
            free(b.s);
            fclose(f);
            rc = -E2BIG;
            goto err_report;
        }
        if (sbuf_add(&b, chunk, n) < 0) {
            free(b.s);
            fclose(f);
            return fail_nomem(p);
        }
    }
    rc = ferror(f) ? -EIO : 0;
    fclose(f);
    if (rc < 0) {
        free(b.s);
        goto err_report;
    }
    *buf = b.s;
    *len = b.len;
    return 0;

err_report:
    if (line > 0)
        fail_at(p, line, col, "error parsing include file '%s', %s", path,
                rc == -E2BIG ? "config input too large" : strerror(-rc));
    else if (p->err && p->errlen)
        snprintf(p->err, p->errlen, "error opening config file: %s: %s", path,
                 rc == -E2BIG ? "config input too large" : strerror(-rc));
    return rc;
}

/* Parse buf as one file into a fresh root map; parent supplies the shared
 * state (document, budget, options, error buffer). */
static int parse_buffer(struct parser *parent, const char *buf, size_t len,
                        const char *file, int include_depth, const struct env_ref *env,
                        bool bare_errors, struct conf_value **root)
{
    struct parser p = {
        .buf = buf, .len = len, .line = 1, .file = file, .doc = parent->doc,
        .bud = parent->bud, .popts = parent->popts, .include_depth = include_depth,
        .env = env, .bare_errors = bare_errors, .depth = parent->depth,
        .err = parent->err, .errlen = parent->errlen,
    };
    if (len > CONF_MAX_INPUT || (p.bud->bytes += len) > CONF_MAX_TOTAL_INPUT) {
        fail_at(&p, 1, 1, "config input too large");
        return -E2BIG;
    }
    struct conf_value *map = new_value(&p, CONF_MAP, 1, 1);
    if (!map)
        return value_fail(&p);
    int rc = parse_body(&p, map, CTX_TOP);
    if (rc < 0) {
        free_value(map);
        return rc;
    }
    *root = map;
    return 0;
}

static int parse_doc(const char *text, size_t len, char *name, const struct conf_parse_opts *popts,
                     bool from_file, struct conf_doc **out, char *err, size_t errlen)
{
    static const struct conf_parse_opts defaults = { 0 };
    struct budget bud = { 0 };
    int rc = -ENOMEM;
    if (err && errlen)
        err[0] = '\0';
    struct conf_doc *doc = calloc(1, sizeof *doc);
    if (!doc || !name || !(doc->files = malloc(sizeof *doc->files)))
        goto err_free_doc;
    doc->files[doc->nfiles++] = name;
    name = NULL;
    struct parser top = {
        .doc = doc, .bud = &bud, .popts = popts ? popts : &defaults, .err = err,
        .errlen = errlen, .file = doc->files[0],
    };
    char *owned = NULL;
    if (from_file) {
        if ((rc = read_file(&top, doc->files[0], &owned, &len, 0, 0)) < 0)
            goto err_free_doc;
        text = owned;
    }
    rc = parse_buffer(&top, text, len, doc->files[0], 0, NULL, false, &doc->root);
    free(owned);
    if (rc < 0)
        goto err_free_doc;
    *out = doc;
    return 0;

err_free_doc:
    if (rc == -ENOMEM && err && errlen && !err[0])
        snprintf(err, errlen, "out of memory");
    free(name);
    conf_free(doc);
    return rc;
}

int conf_parse_file(const char *path, const struct conf_parse_opts *popts,
                    struct conf_doc **out, char *err, size_t errlen)
{
    return parse_doc(NULL, 0, strdup(path), popts, true, out, err, errlen);
}

int conf_parse_string(const char *text, size_t len, const char *name,
                      const struct conf_parse_opts *popts,
                      struct conf_doc **out, char *err, size_t errlen)
{
    return parse_doc(text, len, strdup(name ? name : "config"), popts, false, out, err, errlen);
}

void conf_free(struct conf_doc *doc)
{
    if (!doc)
        return;
    free_value(doc->root);
    for (size_t i = 0; i < doc->nfiles; i++)
        free(doc->files[i]);
    free(doc->files);
    free(doc);
}

const struct conf_entry *conf_map_find(const struct conf_value *map, const char *key)
{
    if (!map || map->type != CONF_MAP)
        return NULL;
    for (size_t i = map->u.map.n; i-- > 0;)
        if (strcasecmp(map->u.map.items[i].key, key) == 0)
            return &map->u.map.items[i];
    return NULL;
}

const char *conf_type_name(enum conf_type t)
{
    static const char *const names[] = {
        [CONF_MAP] = "map", [CONF_ARRAY] = "array", [CONF_STRING] = "string",
        [CONF_INT] = "integer", [CONF_FLOAT] = "float", [CONF_BOOL] = "bool",
        [CONF_DATETIME] = "datetime",
    };
    return (unsigned)t < sizeof names / sizeof names[0] ? names[t] : "unknown";
}
