/*
 * server/opts_auth.c — the authorization block (spec/server-cli-config.md
 * §3.2): a single user or a token, the users array, per-user and default
 * permissions with response permissions, and cluster authorization.
 *
 * A block is parsed into a struct auth_block first and moved into struct
 * tern_opts only once it is consistent, so a rejected block leaves the
 * options untouched. Only shapes and subjects are checked here; it never
 * verifies credentials (bcrypt hashes and NKEY signatures are auth.c's).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/nkey.h"
#include "server/opts_impl.h"

/* ---- authorization (§3.2) ---- */

static bool valid_subject(const char *s)
{
    if (!*s)
        return false;
    for (const char *t = s;;) {
        size_t l = strcspn(t, ".");
        if (l == 0)
            return false;
        for (size_t i = 0; i < l; i++)
            if (t[i] == ' ' || t[i] == '\t' || t[i] == '\r' || t[i] == '\n')
                return false;
        if (t[l] == '\0')
            return true;
        if (l == 1 && t[0] == '>')
            return false; /* '>' must be the last token */
        t += l + 1;
    }
}

/* checkPermSubjectArray: subscribe entries may be "subject queue". */
static int check_subject(struct cfg *c, const struct conf_entry *e, const char *s, bool queue_ok)
{
    if (valid_subject(s))
        return 0;
    char subj[256], queue[256], extra[2];
    int n = queue_ok ? sscanf(s, "%255s %255s %1s", subj, queue, extra) : 0;
    if (n != 2)
        return ent_err(c, e, "subject \"%s\" is not a valid subject", s);
    if (!valid_subject(subj))
        return ent_err(c, e, "subject \"%s\" is not a valid subject", subj);
    if (!valid_subject(queue))
        return ent_err(c, e, "queue \"%s\" is not a valid queue", queue);
    return 0;
}

static int parse_subjects(struct cfg *c, const struct conf_entry *e, bool queue_ok,
                          char ***list, size_t *n)
{
    const struct conf_value *v = e->val;
    char **out = calloc(1, sizeof *out); /* non-NULL even when empty: an explicit list */
    size_t cnt = 0;
    int rc = 0;
    if (!out)
        return -ENOMEM;
    if (v->type == CONF_STRING) {
        rc = opts__strv_push(&out, &cnt, v->u.str.s);
    } else if (v->type == CONF_ARRAY) {
        for (size_t i = 0; i < v->u.arr.n && rc == 0; i++) {
            if (v->u.arr.items[i]->type != CONF_STRING)
                rc = ent_err(c, e, "Subject in permissions array cannot be cast to string");
            else
                rc = opts__strv_push(&out, &cnt, v->u.arr.items[i]->u.str.s);
        }
    } else {
        rc = ent_err(c, e, "Expected subject permissions to be a subject, or array of subjects, "
                           "got %s", opts__go_type(v));
    }
    for (size_t i = 0; i < cnt && rc == 0; i++)
        rc = check_subject(c, e, out[i], queue_ok);
    if (rc < 0) {
        opts__free_strv(out, cnt);
        return rc;
    }
    opts__free_strv(*list, *n);
    *list = out;
    *n = cnt;
    return 0;
}

static void free_perm(struct opts_perm *p)
{
    opts__free_strv(p->allow, p->nallow);
    opts__free_strv(p->deny, p->ndeny);
    memset(p, 0, sizeof *p);
}

void opts__free_permissions(struct opts_permissions *p)
{
    free_perm(&p->publish);
    free_perm(&p->subscribe);
}

/* publish/subscribe: a subject, an array (= allow), or { allow, deny }. */
static int parse_perm(struct cfg *c, const struct conf_entry *e, bool queue_ok, struct opts_perm *p)
{
    if (e->val->type != CONF_MAP)
        return parse_subjects(c, e, queue_ok, &p->allow, &p->nallow);
    const struct conf_value *m = e->val;
    for (size_t i = 0; i < m->u.map.n; i++) {
        const struct conf_entry *k = &m->u.map.items[i];
        int rc;
        if (opts__key_is(k, "allow"))
            rc = parse_subjects(c, k, queue_ok, &p->allow, &p->nallow);
        else if (opts__key_is(k, "deny"))
            rc = parse_subjects(c, k, queue_ok, &p->deny, &p->ndeny);
        else if (k->used_variable)
            rc = 0;
        else
            rc = ent_err(c, k, "Unknown field name \"%s\" parsing subject permissions, only "
                               "'allow' or 'deny' are permitted", k->key);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int parse_allow_responses(struct cfg *c, const struct conf_entry *e, struct opts_permissions *p)
{
    p->responses_max = 1;
    p->responses_expires_ms = 2 * 60 * OPTS_MS_PER_S;
    if (e->val->type == CONF_BOOL) {
        p->allow_responses = e->val->u.b;
        return 0;
    }
    if (e->val->type != CONF_MAP)
        return ent_err(c, e, "error parsing response permissions, expected a boolean or a map");
    p->allow_responses = true;
    const struct conf_value *m = e->val;
    for (size_t i = 0; i < m->u.map.n; i++) {
        const struct conf_entry *k = &m->u.map.items[i];
        int rc = 0;
        if (opts__key_is(k, "max max_msgs max_messages max_responses")) {
            int64_t v = 0;
            if ((rc = opts__as_int(c, k, &v)) == 0 && v != 0)
                p->responses_max = v;
        } else if (opts__key_is(k, "expires expiration ttl")) {
            int64_t ns;
            char why[200];
            if (k->val->type != CONF_STRING)
                rc = ent_err(c, k, "error parsing expires, not a duration string");
            else if (opts__parse_go_duration(k->val->u.str.s, &ns, why, sizeof why) < 0)
                rc = ent_err(c, k, "error parsing expires: %s", why);
            else if (ns != 0)
                p->responses_expires_ms = ns / 1000000;
        } else if (!k->used_variable) {
            rc = ent_err(c, k, "Unknown field \"%s\" parsing permissions", k->key);
        }
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int parse_permissions(struct cfg *c, const struct conf_entry *e, struct opts_permissions *p)
{
    if (e->val->type != CONF_MAP)
        return ent_err(c, e, "Expected permissions to be a map/struct, got %s",
                       opts__go_type(e->val));
    const struct conf_value *m = e->val;
    int rc = 0;
    for (size_t i = 0; i < m->u.map.n && rc == 0; i++) {
        const struct conf_entry *k = &m->u.map.items[i];
        if (opts__key_is(k, "pub publish import"))
            rc = parse_perm(c, k, true, &p->publish); /* 2.9 accepts "subject queue" here too */
        else if (opts__key_is(k, "sub subscribe export"))
            rc = parse_perm(c, k, true, &p->subscribe);
        else if (opts__key_is(k, "publish_allow_responses allow_responses"))
            rc = parse_allow_responses(c, k, p);
        else if (!k->used_variable)
            rc = ent_err(c, k, "Unknown field \"%s\" parsing permissions", k->key);
    }
    /* As nats-server: responses without a publish allow list mean "publish
     * only to reply subjects", an explicit empty allow list. */
    if (rc == 0 && p->allow_responses && !p->publish.allow &&
        !(p->publish.allow = calloc(1, sizeof(char *))))
        rc = -ENOMEM;
    return rc;
}

void opts__free_user(struct opts_user *u)
{
    free(u->user);
    free(u->password);
    free(u->nkey);
    free(u->account);
    opts__free_permissions(&u->permissions);
}

static int parse_user(struct cfg *c, const struct conf_entry *arr_e, const struct conf_value *v,
                      struct opts_user *u)
{
    if (v->type != CONF_MAP)
        return opts__at_err(c, v->file, v->line, v->col,
                            "Expected user entry to be a map/struct, got %s", opts__go_type(v));
    int rc = 0;
    for (size_t i = 0; i < v->u.map.n && rc == 0; i++) {
        const struct conf_entry *k = &v->u.map.items[i];
        if (opts__key_is(k, "nkey"))
            rc = opts__set_str(c, k, &u->nkey);
        else if (opts__key_is(k, "user username"))
            rc = opts__set_str(c, k, &u->user);
        else if (opts__key_is(k, "pass password"))
            rc = opts__set_str(c, k, &u->password);
        else if (opts__key_is(k, "permission permissions authorization")) {
            opts__free_permissions(&u->permissions);
            rc = parse_permissions(c, k, &u->permissions);
            u->has_permissions = true;
        } else if (opts__key_is(k, "allowed_connection_types connection_types clients "
                                   "proxy_required"))
            rc = opts__ignored(c, k);
        else
            rc = opts__unknown_field(c, k);
    }
    if (rc < 0)
        return rc;
    (void)arr_e;
    if (!u->nkey && !u->user)
        return opts__at_err(c, v->file, v->line, v->col, "User entry requires a user");
    unsigned char key[NKEY_PUBLIC_BYTES];
    if (u->nkey && nkey_decode_user(u->nkey, key) < 0) /* role, length, checksum */
        return opts__at_err(c, v->file, v->line, v->col, "Not a valid public nkey for a user");
    if (u->nkey && (u->user || u->password))
        return opts__at_err(c, v->file, v->line, v->col,
                            "Nkey users do not take usernames or passwords");
    return 0;
}

/* Everything an authorization block may hold, before it is applied. */
struct auth_block {
    char *user, *password, *token;
    double timeout_s;
    bool has_timeout;
    bool has_users;              /* "users" present, even empty */
    struct opts_user *users;     /* owned */
    size_t nusers;
    bool has_default_permissions;
    struct opts_permissions default_permissions;
};

static void free_auth_block(struct auth_block *a)
{
    free(a->user);
    free(a->password);
    free(a->token);
    for (size_t i = 0; i < a->nusers; i++)
        opts__free_user(&a->users[i]);
    free(a->users);
    opts__free_permissions(&a->default_permissions);
    memset(a, 0, sizeof *a);
}

static int parse_users(struct cfg *c, const struct conf_entry *e, struct auth_block *a)
{
    if (e->val->type != CONF_ARRAY)
        return ent_err(c, e, "Expected users field to be an array, got %s", opts__go_type(e->val));
    const struct conf_value *arr = e->val;
    for (size_t i = 0; i < a->nusers; i++)
        opts__free_user(&a->users[i]);
    free(a->users);
    a->nusers = 0;
    a->has_users = true;
    if (!(a->users = calloc(arr->u.arr.n + 1, sizeof *a->users)))
        return -ENOMEM;
    for (size_t i = 0; i < arr->u.arr.n; i++) {
        int rc = parse_user(c, e, arr->u.arr.items[i], &a->users[a->nusers]);
        a->nusers++;
        if (rc < 0)
            return rc;
    }
    return 0;
}

int opts__parse_user_list(struct cfg *c, const struct conf_entry *e, struct opts_user **users,
                          size_t *n)
{
    struct auth_block a = { 0 };
    int rc = parse_users(c, e, &a);
    *users = a.users;
    *n = a.nusers;
    a.users = NULL;
    a.nusers = 0;
    free_auth_block(&a);
    return rc;
}

static int parse_auth_timeout(struct cfg *c, const struct conf_entry *k, struct auth_block *a)
{
    const struct conf_value *v = k->val;
    if (v->type == CONF_INT) {
        a->timeout_s = (double)v->u.i;
    } else if (v->type == CONF_FLOAT) {
        a->timeout_s = v->u.f;
    } else if (v->type == CONF_STRING) {
        int64_t ns;
        char why[200];
        if (opts__parse_go_duration(v->u.str.s, &ns, why, sizeof why) < 0)
            return ent_err(c, k, "error parsing authorization config, 'timeout' %s", why);
        a->timeout_s = (double)ns / 1e9;
    } else {
        return ent_err(c, k, "error parsing authorization config, 'timeout' wrong type");
    }
    a->has_timeout = true;
    /* Newer nats-servers warn here; 2.9 does not, so -t must not fail. */
    if (a->timeout_s > 60)
        return opts_add_warning(c->o, "%s:%d:%d: authorization timeout of %g seconds is high; "
                                "an unquoted duration such as 1m is read as 1000000 seconds",
                                k->file, k->line, k->col, a->timeout_s);
    return 0;
}

static int parse_auth_block(struct cfg *c, const struct conf_entry *e, struct auth_block *a)
{
    if (e->val->type != CONF_MAP)
        return opts__type_err(c, e, "map[string]interface {}");
    const struct conf_value *m = e->val;
    int rc = 0;
    for (size_t i = 0; i < m->u.map.n && rc == 0; i++) {
        const struct conf_entry *k = &m->u.map.items[i];
        if (opts__key_is(k, "user username"))
            rc = opts__set_str(c, k, &a->user);
        else if (opts__key_is(k, "pass password"))
            rc = opts__set_str(c, k, &a->password);
        else if (opts__key_is(k, "token"))
            rc = opts__set_str(c, k, &a->token);
        else if (opts__key_is(k, "timeout"))
            rc = parse_auth_timeout(c, k, a);
        else if (opts__key_is(k, "users"))
            rc = parse_users(c, k, a);
        else if (opts__key_is(k, "default_permission default_permissions permissions")) {
            opts__free_permissions(&a->default_permissions);
            rc = parse_permissions(c, k, &a->default_permissions);
            a->has_default_permissions = true;
        } else if (opts__key_is(k, "auth_callout auth_hook proxy_required"))
            rc = opts__ignored(c, k);
        else
            rc = opts__unknown_field(c, k);
    }
    return rc;
}

int opts__apply_authorization(struct cfg *c, const struct conf_entry *e)
{
    struct tern_opts *o = c->o;
    struct auth_block a = { 0 };
    int rc = parse_auth_block(c, e, &a);
    if (rc < 0)
        goto out;
    if ((a.user || a.password) && a.token) {
        rc = ent_err(c, e, "Cannot have a user/pass and token");
        goto out;
    }
    if (a.has_users && a.user) {
        rc = ent_err(c, e, "Can not have a single user/pass and a users array");
        goto out;
    }
    if (a.has_users && a.token) {
        rc = ent_err(c, e, "Can not have a token and a users array");
        goto out;
    }
    for (size_t i = 0; i < a.nusers; i++)
        for (size_t j = 0; j < i; j++) {
            const char *x = a.users[i].user ? a.users[i].user : a.users[i].nkey;
            const char *y = a.users[j].user ? a.users[j].user : a.users[j].nkey;
            if (strcmp(x, y) == 0) {
                rc = ent_err(c, e, a.users[i].user ? "Duplicate user \"%s\" detected"
                                                   : "Duplicate nkey \"%s\" detected", x);
                goto out;
            }
        }
    /* The block replaces whatever auth an earlier block set. */
    free(o->user);
    free(o->password);
    free(o->token);
    o->user = a.user;
    o->password = a.password;
    o->token = a.token;
    a.user = a.password = a.token = NULL;
    o->auth_timeout_s = a.has_timeout ? a.timeout_s : 2;
    /* The block's users replace the earlier block's; those an accounts {}
     * entry defined stay, after them. */
    size_t kept = 0;
    for (size_t i = 0; i < o->nusers; i++)
        kept += o->users[i].account != NULL;
    if (kept) {
        struct opts_user *all = realloc(a.users, (a.nusers + kept + 1) * sizeof *all);
        if (!all) {
            rc = -ENOMEM;
            goto out;
        }
        a.users = all;
    }
    for (size_t i = 0; i < o->nusers; i++) {
        if (o->users[i].account)
            a.users[a.nusers++] = o->users[i];
        else
            opts__free_user(&o->users[i]);
    }
    free(o->users);
    o->users = a.users;
    o->nusers = a.nusers;
    a.users = NULL;
    a.nusers = 0;
    opts__free_permissions(&o->default_permissions);
    o->has_default_permissions = a.has_default_permissions;
    o->default_permissions = a.default_permissions;
    memset(&a.default_permissions, 0, sizeof a.default_permissions);
out:
    free_auth_block(&a);
    return rc;
}

/* ---- cluster authorization (§3.4) ---- */

int opts__apply_cluster_auth(struct cfg *c, const struct conf_entry *k)
{
    struct auth_block a = { 0 };
    int rc = parse_auth_block(c, k, &a);
    if (rc == 0 && a.has_users)
        rc = ent_err(c, k, "Cluster authorization does not allow multiple users");
    if (rc == 0 && a.token)
        rc = ent_err(c, k, "Cluster authorization does not support tokens");
    if (rc == 0) {
        free(c->o->cluster_user);
        free(c->o->cluster_password);
        c->o->cluster_user = a.user;
        c->o->cluster_password = a.password;
        a.user = a.password = NULL;
        c->o->cluster_auth_timeout_s = a.has_timeout ? a.timeout_s : 2;
    }
    free_auth_block(&a);
    return rc;
}
