/*
 * server/opts_accounts.c — the accounts {} block and system_account
 * (spec/server-cli-config.md §3.2): each account's users (appended to the
 * users array, naming their account), its exports and imports of streams
 * and services, and whether JetStream serves it.
 *
 * Only shapes and names are checked here, with nats-server's texts where it
 * has one; whether an import is covered by an export, and which account
 * JetStream serves, is decided when server/account.c builds the accounts,
 * so the same rules hold for a reload. Keys nats-server knows that Tern
 * does not perform (per-account mappings, limits, default permissions) are
 * refused, never ignored.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/opts_impl.h"

void opts__free_accounts(struct tern_opts *o)
{
    for (size_t i = 0; i < o->naccounts; i++) {
        struct opts_account *a = &o->accounts[i];
        for (size_t j = 0; j < a->nexports; j++) {
            free(a->exports[j].subject);
            opts__free_strv(a->exports[j].accounts, a->exports[j].naccounts);
        }
        free(a->exports);
        for (size_t j = 0; j < a->nimports; j++) {
            struct opts_import *im = &a->imports[j];
            free(im->account);
            free(im->subject);
            free(im->to);
            free(im->prefix);
        }
        free(a->imports);
        free(a->name);
        free(a->where);
    }
    free(o->accounts);
    o->accounts = NULL;
    o->naccounts = 0;
    free(o->system_account);
    o->system_account = NULL;
    free(o->accounts_where);
    o->accounts_where = NULL;
}

/* ---- exports ---- */

static int parse_response_type(struct cfg *c, const struct conf_entry *k,
                               enum opts_response_type *t)
{
    if (k->val->type != CONF_STRING)
        return opts__type_err(c, k, "string");
    const char *s = k->val->u.str.s;
    if (strcasecmp(s, "singleton") == 0)
        *t = OPTS_RESPONSE_SINGLETON;
    else if (strcasecmp(s, "stream") == 0)
        *t = OPTS_RESPONSE_STREAM;
    else if (strcasecmp(s, "chunked") == 0)
        *t = OPTS_RESPONSE_CHUNKED;
    else
        return ent_err(c, k, "Unknown response type: \"%s\"", s);
    return 0;
}

static int parse_threshold(struct cfg *c, const struct conf_entry *k, int64_t *ms)
{
    if (k->val->type != CONF_STRING)
        return opts__type_err(c, k, "string");
    int64_t ns;
    char why[200];
    if (opts__parse_go_duration(k->val->u.str.s, &ns, why, sizeof why) < 0)
        return ent_err(c, k, "Error parsing %s: %s", k->key, why);
    if (ns <= 0)
        return ent_err(c, k, "Error parsing %s: it must be positive", k->key);
    *ms = ns / 1000000;
    return 0;
}

static int parse_name_list(struct cfg *c, const struct conf_entry *k, char ***v, size_t *n)
{
    if (k->val->type != CONF_ARRAY)
        return ent_err(c, k, "Expected accounts field to be an array, got %s",
                       opts__go_type(k->val));
    if (!(*v = calloc(1, sizeof **v)))
        return -ENOMEM;
    for (size_t i = 0; i < k->val->u.arr.n; i++) {
        const struct conf_value *it = k->val->u.arr.items[i];
        if (it->type != CONF_STRING)
            return ent_err(c, k, "Expected account name to be a string, got %s",
                           opts__go_type(it));
        int rc = opts__strv_push(v, n, it->u.str.s);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int parse_export(struct cfg *c, const struct conf_value *v, struct opts_export *x)
{
    if (v->type != CONF_MAP)
        return opts__at_err(c, v->file, v->line, v->col,
                            "Export Items should be a map, got %s", opts__go_type(v));
    x->response_threshold_ms = 2 * 60 * 1000;
    bool have_stream = false, have_service = false, have_rt = false;
    int rc = 0;
    for (size_t i = 0; i < v->u.map.n && rc == 0; i++) {
        const struct conf_entry *k = &v->u.map.items[i];
        if (opts__key_is(k, "stream")) {
            have_stream = true;
            rc = opts__set_str(c, k, &x->subject);
        } else if (opts__key_is(k, "service")) {
            have_service = true;
            rc = opts__set_str(c, k, &x->subject);
        } else if (opts__key_is(k, "accounts")) {
            rc = parse_name_list(c, k, &x->accounts, &x->naccounts);
        } else if (opts__key_is(k, "response response_type")) {
            have_rt = true;
            rc = parse_response_type(c, k, &x->response_type);
        } else if (opts__key_is(k, "threshold response_threshold response_max_time "
                                   "response_time")) {
            rc = parse_threshold(c, k, &x->response_threshold_ms);
        } else if (opts__key_is(k, "latency account_token_position advertise "
                                   "allow_trace")) {
            rc = ent_err(c, k, "export \"%s\" is not supported by Tern", k->key);
        } else {
            rc = opts__unknown_field(c, k);
        }
    }
    if (rc < 0)
        return rc;
    if (have_stream == have_service)
        return opts__at_err(c, v->file, v->line, v->col,
                            have_stream ? "Detected stream \"%s\" but already saw a service"
                                        : "Export needs a stream or a service%s",
                            have_stream ? x->subject : "");
    if (have_stream && have_rt)
        return opts__at_err(c, v->file, v->line, v->col,
                            "Detected response directive on non-service");
    x->service = have_service;
    return 0;
}

/* ---- imports ---- */

static int parse_import_source(struct cfg *c, const struct conf_entry *k, struct opts_import *im)
{
    if (k->val->type != CONF_MAP)
        return ent_err(c, k, "Import Items should be a map, got %s", opts__go_type(k->val));
    int rc = 0;
    for (size_t i = 0; i < k->val->u.map.n && rc == 0; i++) {
        const struct conf_entry *f = &k->val->u.map.items[i];
        if (opts__key_is(f, "account"))
            rc = opts__set_str(c, f, &im->account);
        else if (opts__key_is(f, "subject"))
            rc = opts__set_str(c, f, &im->subject);
        else
            rc = opts__unknown_field(c, f);
    }
    if (rc == 0 && (!im->account || !im->subject))
        rc = ent_err(c, k, "Expect an account name and a subject");
    return rc;
}

static int parse_import(struct cfg *c, const struct conf_value *v, struct opts_import *im)
{
    if (v->type != CONF_MAP)
        return opts__at_err(c, v->file, v->line, v->col,
                            "Import Items should be a map, got %s", opts__go_type(v));
    bool have_stream = false, have_service = false;
    int rc = 0;
    for (size_t i = 0; i < v->u.map.n && rc == 0; i++) {
        const struct conf_entry *k = &v->u.map.items[i];
        if (opts__key_is(k, "stream")) {
            have_stream = true;
            rc = parse_import_source(c, k, im);
        } else if (opts__key_is(k, "service")) {
            have_service = true;
            rc = parse_import_source(c, k, im);
        } else if (opts__key_is(k, "to")) {
            rc = opts__set_str(c, k, &im->to);
        } else if (opts__key_is(k, "prefix")) {
            rc = opts__set_str(c, k, &im->prefix);
        } else if (opts__key_is(k, "share allow_trace")) {
            rc = ent_err(c, k, "import \"%s\" is not supported by Tern", k->key);
        } else {
            rc = opts__unknown_field(c, k);
        }
    }
    if (rc < 0)
        return rc;
    if (have_stream == have_service)
        return opts__at_err(c, v->file, v->line, v->col,
                            "Import needs a stream or a service");
    if (have_service && im->prefix)
        return opts__at_err(c, v->file, v->line, v->col,
                            "Detected prefix on a service import");
    if (im->prefix && im->to)
        return opts__at_err(c, v->file, v->line, v->col,
                            "Detected both a prefix and a to on a stream import");
    im->service = have_service;
    return 0;
}

static int parse_list(struct cfg *c, const struct conf_entry *k, bool exports, void **items,
                      size_t *n)
{
    if (k->val->type != CONF_ARRAY)
        return ent_err(c, k, "%s should be an array, got %s", exports ? "Exports" : "Imports",
                       opts__go_type(k->val));
    size_t cnt = k->val->u.arr.n, size = exports ? sizeof(struct opts_export)
                                                 : sizeof(struct opts_import);
    if (!(*items = calloc(cnt + 1, size)))
        return -ENOMEM;
    for (size_t i = 0; i < cnt; i++) {
        const struct conf_value *it = k->val->u.arr.items[i];
        int rc = exports ? parse_export(c, it, (struct opts_export *)*items + i)
                         : parse_import(c, it, (struct opts_import *)*items + i);
        (*n)++;
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* ---- one account ---- */

/* jetstream { ... } of an account: its limits. */
static int parse_js_limits(struct cfg *c, const struct conf_entry *k, struct opts_account *a)
{
    int rc = 0;
    for (size_t i = 0; i < k->val->u.map.n && rc == 0; i++) {
        const struct conf_entry *f = &k->val->u.map.items[i];
        /* nats-server's names for each */
        int64_t *field =
            opts__key_is(f, "max_mem max_memory mem memory")             ? &a->js.max_memory
            : opts__key_is(f, "max_file max_store max_disk store disk")  ? &a->js.max_store
            : opts__key_is(f, "max_streams streams")                     ? &a->js.max_streams
            : opts__key_is(f, "max_consumers consumers")                 ? &a->js.max_consumers
            : opts__key_is(f, "max_ack_pending")                         ? &a->js.max_ack_pending
            : opts__key_is(f, "mem_max_stream_bytes memory_max_stream_bytes")
                ? &a->js.mem_max_stream_bytes
            : opts__key_is(f, "disk_max_stream_bytes store_max_stream_bytes")
                ? &a->js.disk_max_stream_bytes
                : NULL;
        if (opts__key_is(f, "max_bytes_required max_stream_bytes max_bytes")) {
            rc = f->val->type == CONF_BOOL ? 0 : opts__type_err(c, f, "bool");
            if (rc == 0)
                a->js.max_bytes_required = f->val->u.b;
        } else if (field) {
            rc = opts__as_int(c, f, field);
            if (rc == 0 && *field < -1)
                rc = ent_err(c, f, "%s must be -1 (no limit) or more", f->key);
            if (rc == 0 && *field == 0)
                *field = -1; /* nats-server reads 0 as no limit too */
        } else {
            rc = ent_err(c, f, "account JetStream \"%s\" is not supported by Tern", f->key);
        }
    }
    return rc;
}

static int parse_jetstream(struct cfg *c, const struct conf_entry *k, struct opts_account *a)
{
    int *js = &a->jetstream;
    const struct conf_value *v = k->val;
    if (v->type == CONF_BOOL) {
        *js = v->u.b;
        return 0;
    }
    if (v->type == CONF_STRING) {
        const char *s = v->u.str.s;
        if (!strcasecmp(s, "enabled") || !strcasecmp(s, "enable") || !strcasecmp(s, "true"))
            *js = 1;
        else if (!strcasecmp(s, "disabled") || !strcasecmp(s, "disable") ||
                 !strcasecmp(s, "false"))
            *js = 0;
        else
            return ent_err(c, k, "Expected 'enabled' or 'disabled' for string value, got '%s'",
                           s);
        return 0;
    }
    if (v->type == CONF_MAP) {
        *js = 1;
        return parse_js_limits(c, k, a);
    }
    return opts__type_err(c, k, "map[string]interface {}");
}

/* The account's users go to the users array, each naming the account. */
static int take_users(struct cfg *c, const struct conf_entry *k, const char *account)
{
    struct opts_user *users = NULL;
    size_t n = 0;
    int rc = opts__parse_user_list(c, k, &users, &n);
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = opts__dup_into(&users[i].account, account);
    if (rc == 0) {
        struct tern_opts *o = c->o;
        struct opts_user *grown = realloc(o->users, (o->nusers + n + 1) * sizeof *grown);
        if (!grown) {
            rc = -ENOMEM;
        } else {
            o->users = grown;
            memcpy(o->users + o->nusers, users, n * sizeof *users);
            o->nusers += n;
            n = 0;
        }
    }
    for (size_t i = 0; i < n; i++)
        opts__free_user(&users[i]);
    free(users);
    return rc;
}

static int parse_account(struct cfg *c, const struct conf_entry *e, struct opts_account *a)
{
    a->jetstream = -1;
    a->js = OPTS_JS_NO_LIMITS;
    if (!(a->name = strdup(e->key)) || !(a->where = opts__where(e->file, e->line, e->col)))
        return -ENOMEM;
    if (e->val->type != CONF_MAP)
        return ent_err(c, e, "Expected map entries for accounts, got %s",
                       opts__go_type(e->val));
    int rc = 0;
    for (size_t i = 0; i < e->val->u.map.n && rc == 0; i++) {
        const struct conf_entry *k = &e->val->u.map.items[i];
        if (opts__key_is(k, "users"))
            rc = take_users(c, k, a->name);
        else if (opts__key_is(k, "exports"))
            rc = parse_list(c, k, true, (void **)&a->exports, &a->nexports);
        else if (opts__key_is(k, "imports"))
            rc = parse_list(c, k, false, (void **)&a->imports, &a->nimports);
        else if (opts__key_is(k, "jetstream"))
            rc = parse_jetstream(c, k, a);
        else if (opts__key_is(k, "nkey mappings maps limits default_permissions "
                                 "max_connections max_subscriptions max_payload "
                                 "max_leafnodes trace_dest message_tracing"))
            rc = ent_err(c, k, "account \"%s\" is not supported by Tern", k->key);
        else
            rc = opts__unknown_field(c, k);
    }
    return rc;
}

int opts__apply_accounts(struct cfg *c, const struct conf_entry *e)
{
    struct tern_opts *o = c->o;
    if (e->val->type != CONF_MAP)
        return ent_err(c, e, "Expected map entries for accounts, got %s",
                       opts__go_type(e->val));
    if (o->naccounts)
        return ent_err(c, e, "accounts defined twice");
    size_t n = e->val->u.map.n;
    if (!(o->accounts = calloc(n + 1, sizeof *o->accounts)) ||
        !(o->accounts_where = opts__where(e->file, e->line, e->col)))
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const struct conf_entry *k = &e->val->u.map.items[i];
        int rc = parse_account(c, k, &o->accounts[i]);
        o->naccounts++;
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* ---- reload ---- */

static bool str_same(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static bool export_same(const struct opts_export *a, const struct opts_export *b)
{
    if (a->service != b->service || !str_same(a->subject, b->subject) ||
        a->naccounts != b->naccounts || a->response_type != b->response_type ||
        a->response_threshold_ms != b->response_threshold_ms)
        return false;
    for (size_t i = 0; i < a->naccounts; i++)
        if (!str_same(a->accounts[i], b->accounts[i]))
            return false;
    return true;
}

static bool import_same(const struct opts_import *a, const struct opts_import *b)
{
    return a->service == b->service && str_same(a->account, b->account) &&
           str_same(a->subject, b->subject) && str_same(a->to, b->to) &&
           str_same(a->prefix, b->prefix);
}

static bool js_limits_same(const struct opts_js_limits *a, const struct opts_js_limits *b)
{
    return a->max_memory == b->max_memory && a->max_store == b->max_store &&
           a->max_streams == b->max_streams && a->max_consumers == b->max_consumers &&
           a->max_ack_pending == b->max_ack_pending &&
           a->mem_max_stream_bytes == b->mem_max_stream_bytes &&
           a->disk_max_stream_bytes == b->disk_max_stream_bytes &&
           a->max_bytes_required == b->max_bytes_required;
}

static bool account_same(const struct opts_account *a, const struct opts_account *b)
{
    if (!str_same(a->name, b->name) || a->jetstream != b->jetstream ||
        !js_limits_same(&a->js, &b->js) ||
        a->nexports != b->nexports || a->nimports != b->nimports)
        return false;
    for (size_t i = 0; i < a->nexports; i++)
        if (!export_same(&a->exports[i], &b->exports[i]))
            return false;
    for (size_t i = 0; i < a->nimports; i++)
        if (!import_same(&a->imports[i], &b->imports[i]))
            return false;
    return true;
}

bool opts__accounts_same(const struct tern_opts *a, const struct tern_opts *b)
{
    if (a->naccounts != b->naccounts || !str_same(a->system_account, b->system_account))
        return false;
    for (size_t i = 0; i < a->naccounts; i++)
        if (!account_same(&a->accounts[i], &b->accounts[i]))
            return false;
    return true;
}
