/*
 * server/conf.c — parser of the nats-server configuration format: the
 * value tree, maps and arrays, $variables, includes and error reporting.
 *
 * Recursive descent over one byte buffer, following the states of
 * nats-server's conf lexer (spec/server-cli-config.md §2.1); conf_scan.c
 * reads the tokens. Variables resolve while parsing, against the maps still
 * being built (innermost first), then the environment; includes are parsed
 * as separate files and merged in place. Input is untrusted, so it must
 * never recurse or allocate without the caps of conf.h. libc only.
 */
#include "server/conf.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/conf_impl.h"

#define ENV_CHAIN_MAX 16

static int parse_value(struct parser *p, struct conf_value **out);
static int parse_body(struct parser *p, struct conf_value *map, enum ctx ctx);
static int parse_buffer(struct parser *parent, const char *buf, size_t len,
                        const char *file, int include_depth, const struct env_ref *env,
                        bool bare_errors, struct conf_value **root);

/* ---- errors and positions ---- */

int conf__fail_at(struct parser *p, int line, int col, const char *fmt, ...)
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

int conf__fail_nomem(struct parser *p)
{
    if (p->err && p->errlen)
        snprintf(p->err, p->errlen, "out of memory parsing %s", p->file);
    return -ENOMEM;
}

/* Render one input byte for an error message as nats-server does. */
const char *conf__show(int c, char buf[8])
{
    if (c == CONF_EOF)
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

/* ---- values ---- */

struct conf_value *conf__new_value(struct parser *p, enum conf_type t, int line, int col)
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

/* conf__new_value() failed: say whether it was the budget or malloc. */
int conf__value_fail(struct parser *p)
{
    if (p->bud->values > CONF_MAX_VALUES) {
        fail(p, "config has more than %u values", CONF_MAX_VALUES);
        return -E2BIG;
    }
    return conf__fail_nomem(p);
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
    struct conf_value *v = conf__new_value(p, src->type, src->line, src->col);
    if (!v)
        return conf__value_fail(p);
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
    return rc < 0 ? rc : conf__fail_nomem(p);
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
            return conf__fail_at(p, line, col, "variable reference for '%s' on line %d could "
                                 "not be parsed: variable reference cycle for '%s'",
                                 name, line, name);
    if (depth > ENV_CHAIN_MAX)
        return conf__fail_at(p, line, col, "variable reference for '%s' on line %d could not "
                             "be parsed: too many nested environment references", name, line);
    struct env_ref ref = { .name = name, .up = p->env, .depth = depth };
    size_t n = strlen(env);
    char *text = malloc(n + 4);
    if (!text)
        return conf__fail_nomem(p);
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
        return conf__fail_nomem(p);
    if (rc < 0) {
        conf__fail_at(p, line, col,
                      "variable reference for '%s' on line %d could not be parsed: %s",
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

int conf__resolve_variable(struct parser *p, const char *name, int line, int col,
                           struct conf_value **out)
{
    if (is_bcrypt(name)) {
        struct sbuf b = { 0 };
        if (conf__sbuf_add(&b, "$", 1) < 0 || conf__sbuf_add(&b, name, strlen(name)) < 0) {
            free(b.s);
            return conf__fail_nomem(p);
        }
        return conf__make_string(p, &b, line, col, out);
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
    return conf__fail_at(p, line, col, "variable reference for '%s' on line %d can not be found",
                         name, line);
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
    struct conf_value *arr = conf__new_value(p, CONF_ARRAY, p->line, col_of(p));
    if (!arr)
        return conf__value_fail(p);
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
        if (c == CONF_EOF) {
            rc = fail(p, "Unexpected EOF processing array.");
            goto err_free_array;
        }
        struct conf_value *v;
        if ((rc = parse_value(p, &v)) < 0)
            goto err_free_array;
        if (array_push(arr, v) < 0) {
            free_value(v);
            rc = conf__fail_nomem(p);
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
        rc = c == CONF_EOF ? fail(p, "Unexpected EOF processing array.")
                       : fail(p, "Expected an array value terminator \",\" or an array "
                                 "terminator \"]\", but got '%s' instead.", conf__show(c, cb));
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
    struct conf_value *map = conf__new_value(p, CONF_MAP, p->line, col_of(p));
    if (!map)
        return conf__value_fail(p);
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
        return conf__scan_quoted(p, (char)c, out);
    case '(':
        return conf__scan_block_string(p, out);
    case '.':
        return fail(p, "Floats must start with a digit");
    case '\n':
    case '\r':
        return fail(p, "Expected value but found new line");
    }
    if (c == '-' || is_digit(c))
        return conf__scan_number(p, out);
    return conf__scan_unquoted(p, p->pos, p->line, col_of(p), out);
}

/* ---- includes ---- */

static int read_file(struct parser *p, const char *path, char **buf, size_t *len,
                     int line, int col);

static int include_file(struct parser *p, struct conf_value *map, const char *name,
                        int line, int col)
{
    if (p->popts->no_includes)
        return conf__fail_at(p, line, col, "includes are disabled");
    if (!name[0])
        return conf__fail_at(p, line, col, "Expected include value but found end of line");
    if (p->include_depth >= CONF_MAX_INCLUDE_DEPTH) {
        conf__fail_at(p, line, col, "include nesting deeper than %d files", CONF_MAX_INCLUDE_DEPTH);
        return -E2BIG;
    }
    /* Relative to the including file's directory, joined as Go's
     * filepath.Join does (so even "/x" stays under that directory). */
    const char *slash = strrchr(p->file, '/');
    size_t dl = slash ? (size_t)(slash - p->file) + 1 : 0;
    char *path = malloc(dl + strlen(name) + 1);
    if (!path)
        return conf__fail_nomem(p);
    memcpy(path, p->file, dl);
    while (*name == '/')
        name++;
    strcpy(path + dl, name);
    char **nf = realloc(p->doc->files, (p->doc->nfiles + 1) * sizeof *nf);
    if (!nf) {
        free(path);
        return conf__fail_nomem(p);
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
    return rc < 0 ? conf__fail_nomem(p) : 0;
}

/* lexInclude: the file name after the keyword (conf_scan.c), then the file. */
static int parse_include(struct parser *p, struct conf_value *map)
{
    char *name;
    int line, col;
    int rc = conf__scan_include_name(p, &name, &line, &col);
    if (rc < 0)
        return rc;
    rc = include_file(p, map, name, line, col);
    free(name);
    return rc;
}

/* ---- keys and bodies ---- */

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
        if (c == CONF_EOF) {
            if (ctx == CTX_MAP)
                return fail(p, "Unexpected EOF processing map.");
            return 0;
        }
        if (ctx == CTX_TOP)
            return fail(p, "Expected a top-level value to end with a new line, comment or "
                           "EOF, but got '%s' instead.", conf__show(c, cb));
        if (ctx == CTX_BLOCK)
            return fail(p, "Expected a block-level value to end with a new line, comment or "
                           "EOF, but got '%s' instead.", conf__show(c, cb));
        return fail(p, "Expected a map value terminator \",\" or a map terminator \"}\", "
                       "but got '%s' instead.", conf__show(c, cb));
    }
}

/* One "key [sep] value" (or include) into map. */
static int parse_pair(struct parser *p, struct conf_value *map, enum ctx ctx)
{
    int line = p->line, col = col_of(p);
    char *key = NULL;
    bool include;
    int rc = conf__scan_key(p, ctx, &key, &include);
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
    if ((ctx == CTX_MAP && (c == CONF_EOF || c == '}' || c == ',')) ||
        (!had_sep && c == CONF_EOF)) {
        if (c == ',')
            rc = fail(p, "Unexpected map value terminator \",\".");
        else if (ctx == CTX_MAP && c == CONF_EOF)
            rc = fail(p, "Unexpected EOF processing map.");
        else
            rc = conf__fail_at(p, line, col, "expected a value for key \"%s\"", key);
        free(key);
        return rc;
    }
    struct conf_value *v;
    if ((rc = parse_value(p, &v)) < 0) {
        free(key);
        return rc;
    }
    if (map_set(map, key, p->file, line, col, false, v) < 0)
        return conf__fail_nomem(p);
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
        if (c == CONF_EOF) {
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
                                          "Unexpected key separator '%s'", conf__show(c, cb));
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
        if (conf__sbuf_add(&b, chunk, n) < 0) {
            free(b.s);
            fclose(f);
            return conf__fail_nomem(p);
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
        conf__fail_at(p, line, col, "error parsing include file '%s', %s", path,
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
        conf__fail_at(&p, 1, 1, "config input too large");
        return -E2BIG;
    }
    struct conf_value *map = conf__new_value(&p, CONF_MAP, 1, 1);
    if (!map)
        return conf__value_fail(&p);
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
