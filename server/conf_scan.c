/*
 * server/conf_scan.c — the lexer half of the config parser: quoted,
 * unquoted and block strings with their escapes, booleans, integers with
 * size suffixes, floats, Zulu datetimes, map keys and include file names.
 *
 * Each scanner starts at the first byte of its token and copies the
 * decision points of nats-server's conf lexer (spec/server-cli-config.md
 * §2.1), so a token ends exactly where nats-server ends it. It builds
 * scalar values only: maps, arrays, variables and includes belong to
 * conf.c. It must never read past p->len or allocate without the budget
 * (conf__new_value); libc only, since the fuzzer links it.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/civil.h"
#include "server/conf_impl.h"

/* ---- growable string ---- */

int conf__sbuf_add(struct sbuf *b, const char *s, size_t n)
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
                        h == CONF_EOF ? "" : conf__show(h, cb),
                        l == CONF_EOF ? "" : conf__show(l, cb2));
        out = (char)(hexval(h) * 16 + hexval(l));
        break;
    }
    case CONF_EOF:
        return fail(p, "Unexpected EOF.");
    default:
        return fail(p, "Invalid escape character '%s'. Only the following escape "
                       "characters are allowed: \\xXX, \\t, \\n, \\r, \\\", \\\\.",
                    conf__show(c, cb));
    }
    return conf__sbuf_add(b, &out, 1) < 0 ? conf__fail_nomem(p) : 0;
}

int conf__make_string(struct parser *p, struct sbuf *b, int line, int col,
                      struct conf_value **out)
{
    if (!b->s && conf__sbuf_add(b, "", 0) < 0)
        return conf__fail_nomem(p);
    struct conf_value *v = conf__new_value(p, CONF_STRING, line, col);
    if (!v) {
        free(b->s);
        return conf__value_fail(p);
    }
    v->u.str.s = b->s;
    v->u.str.len = b->len;
    *out = v;
    return 0;
}

int conf__scan_quoted(struct parser *p, char quote, struct conf_value **out)
{
    int line = p->line, col = col_of(p);
    struct sbuf b = { 0 };
    next(p); /* the opening quote */
    for (;;) {
        int c = peek(p);
        if (c == CONF_EOF) {
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
            rc = conf__sbuf_add(&b, &ch, 1) < 0 ? conf__fail_nomem(p) : 0;
        if (rc < 0) {
            free(b.s);
            return rc;
        }
    }
    return conf__make_string(p, &b, line, col, out);
}

/* ( newline ... newline ) — raw text; the ')' must start its own line and
 * end it. The value is everything between the parentheses. */
int conf__scan_block_string(struct parser *p, struct conf_value **out)
{
    int line = p->line, col = col_of(p);
    next(p); /* '(' */
    size_t start = p->pos;
    for (;;) {
        int c = next(p);
        if (c == CONF_EOF)
            return fail(p, "Unexpected EOF processing block.");
        size_t close = p->pos - 1; /* index of this byte */
        bool alone = c == ')' && close >= start + 1 && p->buf[close - 1] == '\n';
        int after = peek(p);
        if (alone && (after == '\n' || after == '\r' || after == CONF_EOF)) {
            struct sbuf b = { 0 };
            if (conf__sbuf_add(&b, p->buf + start, close - start) < 0)
                return conf__fail_nomem(p);
            return conf__make_string(p, &b, line, col, out);
        }
    }
}

/* ---- unquoted strings, booleans, numbers, datetimes ---- */

static bool ends_unquoted(int c)
{
    return is_nl(c) || c == CONF_EOF || c == ';' || c == ',' || c == ']' || c == '}' || is_ws(c);
}

/* Where a number may end; anything else turns it into an unquoted string.
 * nats-server leaves ']' out, so "[1, 2]" gave a string "2"; Tern ends the
 * number there so integer arrays work. */
static bool ends_number(int c)
{
    return is_nl(c) || c == CONF_EOF || c == '}' || c == ';' || c == ',' || c == ']' || is_ws(c);
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
int conf__scan_unquoted(struct parser *p, size_t start, int line, int col,
                        struct conf_value **out)
{
    struct sbuf b = { 0 };
    bool escaped = false;
    size_t run = start;
    int rc = 0;
    for (;;) {
        int c = peek(p);
        if (ends_unquoted(c) || c == '\'' || c == '\\') {
            if (conf__sbuf_add(&b, p->buf + run, p->pos - run) < 0)
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
    if (!b.s && conf__sbuf_add(&b, "", 0) < 0)
        goto err_nomem;
    bool bv;
    if (!escaped && is_bool_word(b.s, &bv)) {
        free(b.s);
        struct conf_value *v = conf__new_value(p, CONF_BOOL, line, col);
        if (!v)
            return conf__value_fail(p);
        v->u.b = bv;
        *out = v;
        return 0;
    }
    if (!escaped && b.s[0] == '$') {
        rc = conf__resolve_variable(p, b.s + 1, line, col, out);
        free(b.s);
        return rc;
    }
    return conf__make_string(p, &b, line, col, out);

err_nomem:
    rc = conf__fail_nomem(p);
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
        return conf__fail_at(p, line, col, "integer '%s' is out of the range", tok);
    memcpy(digits, text, nd);
    digits[nd] = '\0';
    errno = 0;
    char *end;
    long long num = strtoll(digits, &end, 10);
    if (errno == ERANGE)
        return conf__fail_at(p, line, col, "integer '%s' is out of the range", tok);
    if (*end || end == digits)
        return conf__fail_at(p, line, col, "expected integer, but got '%s'", tok);
    char suf[8] = "";
    if (n - nd >= sizeof suf)
        return conf__fail_at(p, line, col, "invalid size suffix in '%s'", tok);
    for (size_t i = nd; i < n; i++)
        suf[i - nd] = (char)tolower((unsigned char)text[i]);
    int64_t mult = 1;
    if (suf[0]) {
        static const char units[] = "kmgtpe";
        const char *u = strchr(units, suf[0]);
        bool binary = suf[1] != '\0';
        if (!u || (binary && strcmp(suf + 1, "b") && strcmp(suf + 1, "i") && strcmp(suf + 1, "ib")))
            return conf__fail_at(p, line, col, "invalid size suffix in '%s'", tok);
        for (long k = 0; k <= u - units; k++)
            mult *= binary ? 1024 : 1000;
    }
    if (mul_overflows(num, mult))
        return conf__fail_at(p, line, col, "integer '%s' is out of the range", tok);
    struct conf_value *v = conf__new_value(p, CONF_INT, line, col);
    if (!v)
        return conf__value_fail(p);
    v->u.i = (int64_t)num * mult;
    *out = v;
    return 0;
}

static int make_float(struct parser *p, size_t start, int line, int col, struct conf_value **out)
{
    char tok[64];
    size_t n = p->pos - start;
    if (n >= sizeof tok)
        return conf__fail_at(p, line, col, "float '%.*s' is out of the range", (int)n,
                             p->buf + start);
    memcpy(tok, p->buf + start, n);
    tok[n] = '\0';
    errno = 0;
    double d = strtod(tok, NULL);
    if (errno == ERANGE && (d == HUGE_VAL || d == -HUGE_VAL))
        return conf__fail_at(p, line, col, "float '%s' is out of the range", tok);
    struct conf_value *v = conf__new_value(p, CONF_FLOAT, line, col);
    if (!v)
        return conf__value_fail(p);
    v->u.f = d;
    *out = v;
    return 0;
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
            return fail(p, "Expected digit in ISO8601 datetime, but found '%s' instead.",
                        conf__show(c, cb));
        if (*f != '0' && c != *f)
            return fail(p, "Expected '%c' in ISO8601 datetime, but found '%s' instead.", *f,
                        conf__show(c, cb));
    }
    const char *s = p->buf + start;
    int y = atoi(s), mo = atoi(s + 5), d = atoi(s + 8);
    int h = atoi(s + 11), mi = atoi(s + 14), se = atoi(s + 17);
    static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || (mo == 2 && d == 29 && !leap) ||
        h > 23 || mi > 59 || se > 59)
        return conf__fail_at(p, line, col, "expected Zulu formatted DateTime, but got '%.20s'", s);
    struct conf_value *v = conf__new_value(p, CONF_DATETIME, line, col);
    if (!v)
        return conf__value_fail(p);
    v->u.unix_secs = civil_days_from_date(y, mo, d) * 86400 + h * 3600 + mi * 60 + se;
    *out = v;
    return 0;
}

static bool is_suffix(int c)
{
    return c != CONF_EOF && strchr("kKmMgGtTpPeE", c) != NULL;
}

/* A value starting with a digit or '-': integer, sized integer, float,
 * datetime, or (as nats-server) an IP address or other string. */
int conf__scan_number(struct parser *p, struct conf_value **out)
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
        return fail(p, "Expected a digit but got '%s'.", conf__show(peek(p), cb));
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
                        conf__show(peek(p), cb));
        while (is_digit(peek(p)))
            next(p);
        if (peek(p) != '.')
            return make_float(p, start, line, col, out);
        while (is_digit(peek(p)) || peek(p) == '.' || peek(p) == ':' || peek(p) == '-')
            next(p);
        struct sbuf b = { 0 };
        if (conf__sbuf_add(&b, p->buf + start, p->pos - start) < 0)
            return conf__fail_nomem(p);
        return conf__make_string(p, &b, line, col, out);
    }
    if (is_suffix(c)) {
        next(p);
        while (peek(p) != CONF_EOF && strchr("bBiI", peek(p)))
            next(p);
        if (ends_number(peek(p)) || is_digit(peek(p)))
            return make_integer(p, p->buf + start, p->pos - start, line, col, out);
        return conf__scan_unquoted(p, start, line, col, out);
    }
    if (neg || ends_number(c))
        return make_integer(p, p->buf + start, p->pos - start, line, col, out);
    return conf__scan_unquoted(p, start, line, col, out);
}

/* ---- keys and include names ---- */

/* A key: quoted, or bare up to whitespace, '=', ':' or EOF. *include says
 * it was the bare keyword "include" followed by whitespace. */
int conf__scan_key(struct parser *p, enum ctx ctx, char **key, bool *include)
{
    int q = peek(p);
    size_t start;
    *include = false;
    if (q == '"' || q == '\'') {
        next(p);
        start = p->pos;
        while (peek(p) != q) {
            if (next(p) == CONF_EOF) {
                if (ctx != CTX_MAP)
                    return fail(p, "Unexpected EOF.");
                return fail(p, q == '"' ? "Unexpected EOF processing double quoted map key."
                                        : "Unexpected EOF processing quoted map key.");
            }
        }
    } else {
        start = p->pos;
        while (peek(p) != CONF_EOF && !is_space(peek(p)) && !is_sep(peek(p)))
            next(p);
        if (peek(p) == CONF_EOF && ctx == CTX_MAP)
            return fail(p, "Unexpected EOF processing map key.");
        *include = is_space(peek(p)) && p->pos - start == 7 &&
                   strncasecmp(p->buf + start, "include", 7) == 0;
    }
    *key = strndup(p->buf + start, p->pos - start);
    if (!*key)
        return conf__fail_nomem(p);
    if (q == '"' || q == '\'')
        next(p);
    return 0;
}

/* lexInclude: the file name after the keyword. */
int conf__scan_include_name(struct parser *p, char **name, int *line, int *col)
{
    skip_ws(p);
    *line = p->line;
    *col = col_of(p);
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
            if (next(p) == CONF_EOF)
                return fail(p, c == '"' ? "Unexpected EOF in double quoted include"
                                        : "Unexpected EOF in quoted include");
        }
        if (conf__sbuf_add(&b, p->buf + start, p->pos - start) < 0)
            return conf__fail_nomem(p);
        next(p);
    } else {
        start = p->pos;
        while (!is_nl(peek(p)) && peek(p) != CONF_EOF && peek(p) != ';' && peek(p) != '}' &&
               !is_ws(peek(p)) && peek(p) != '\'')
            next(p);
        if (conf__sbuf_add(&b, p->buf + start, p->pos - start) < 0)
            return conf__fail_nomem(p);
        if (peek(p) == '\'')
            next(p);
    }
    *name = b.s;
    return 0;
}
