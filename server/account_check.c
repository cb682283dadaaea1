/*
 * server/account_check.c — the accounts {} options checked as nats-server
 * checks them (every account named is defined, each import is covered by
 * an export that allows the importer, mappings are valid, system_account
 * exists) plus Tern's own limit: JetStream serves at most one account.
 * Pure: options in, a message out; used by the option loader (so -t and a
 * reload refuse what start-up would) and by account.c.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/subject.h"
#include "proto/submap.h"
#include "server/account_impl.h"


int account__fail(char *err, size_t errlen, const char *where, const char *fmt, ...)
{
    char why[800];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    snprintf(err, errlen, "%s%s%s", where ? where : "", where ? ": " : "", why);
    return -EINVAL;
}

static const struct opts_account *opts_find(const struct tern_opts *o, const char *name)
{
    for (size_t i = 0; i < o->naccounts; i++)
        if (strcmp(o->accounts[i].name, name) == 0)
            return &o->accounts[i];
    return NULL;
}

static bool named(const struct tern_opts *o, const char *name)
{
    return opts_find(o, name) || strcmp(name, GLOBAL_ACCOUNT) == 0 ||
           strcmp(name, SYSTEM_ACCOUNT) == 0;
}

/* nats-server turns each '*' of an import's subject into the positional
 * "$N" its mapping refers to; the mapping itself is proto/submap.h's. */
char *account__tokenize(const char *pattern, const char *prefix)
{
    size_t n = strlen(pattern), stars = 0;
    for (size_t i = 0; i < n; i++)
        stars += pattern[i] == '*';
    size_t plen = prefix ? strlen(prefix) + 1 : 0;
    char *out = malloc(plen + n + stars * 8 + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    if (prefix) {
        memcpy(out, prefix, plen - 1);
        out[plen - 1] = '.';
        o = plen;
    }
    unsigned k = 0;
    for (size_t i = 0; i < n; i++) {
        bool star = pattern[i] == '*' && (i == 0 || pattern[i - 1] == '.') &&
                    (i + 1 == n || pattern[i + 1] == '.');
        if (star)
            o += (size_t)sprintf(out + o, "$%u", ++k);
        else
            out[o++] = pattern[i];
    }
    out[o] = '\0';
    return out;
}

/* The mapping src -> dest of an import, or NULL for none (dest NULL, or
 * equal to src). 0, -EINVAL (nats-server refuses it) or -ENOMEM. */
int account__compile(const char *src, const char *dest_pattern, const char *prefix,
                     struct submap **out)
{
    *out = NULL;
    if (!prefix && (!dest_pattern || strcmp(src, dest_pattern) == 0))
        return 0;
    char *dest = account__tokenize(prefix ? src : dest_pattern, prefix);
    if (!dest)
        return -ENOMEM;
    int rc = submap_compile(src, dest, out);
    free(dest);
    return rc;
}

const struct opts_export *account__find_export(const struct tern_opts *o, const char *exporter,
                                               bool service, const char *subject,
                                               const char *importer)
{
    const struct opts_account *exp = opts_find(o, exporter);
    for (size_t i = 0; exp && i < exp->nexports; i++) {
        const struct opts_export *x = &exp->exports[i];
        if (x->service != service ||
            !subject_covers(x->subject, strlen(x->subject), subject, strlen(subject)))
            continue;
        if (!x->accounts)
            return x;
        for (size_t j = 0; j < x->naccounts; j++)
            if (strcmp(x->accounts[j], importer) == 0)
                return x;
    }
    return NULL;
}

static int check_import(const struct tern_opts *o, const struct opts_account *a,
                        const struct opts_import *im, char *err, size_t errlen)
{
    const char *kind = im->service ? "service" : "stream";
    const char *where = o->accounts_where;
    if (!named(o, im->account))
        return account__fail(err, errlen, where, "\"%s\" account not defined for %s import",
                    im->account, kind);
    if (strcmp(im->account, a->name) == 0)
        return account__fail(err, errlen, where, "Error adding %s import \"%s\": an account cannot "
                    "import from itself", kind, im->subject);
    if (!subject_valid_sub(im->subject, strlen(im->subject)) ||
        (im->to && !subject_valid_sub(im->to, strlen(im->to))) ||
        (im->prefix && !subject_valid_literal(im->prefix, strlen(im->prefix))))
        return account__fail(err, errlen, where, "Error adding %s import \"%s\": invalid subject",
                    kind, im->subject);
    if (!account__find_export(o, im->account, im->service, im->subject, a->name))
        return account__fail(err, errlen, where, "Error adding %s import \"%s\": %s import not "
                    "authorized", kind, im->subject, kind);
    struct submap *m = NULL;
    int rc = im->service ? account__compile(im->to ? im->to : im->subject, im->subject, NULL, &m)
                         : account__compile(im->subject, im->to, im->prefix, &m);
    submap_free(m);
    if (rc == -EINVAL)
        return account__fail(err, errlen, where, "Error adding %s import \"%s\": failed to create "
                    "mapping transform for %s import subject \"%s\" to \"%s\": invalid "
                    "subject", kind, im->subject, kind,
                    im->service ? (im->to ? im->to : im->subject) : im->subject,
                    im->service ? im->subject : (im->to ? im->to : im->prefix));
    return rc;
}

static int check_account(const struct tern_opts *o, const struct opts_account *a, char *err,
                         size_t errlen)
{
    if (!strcmp(a->name, GLOBAL_ACCOUNT))
        return account__fail(err, errlen, a->where, "account name \"%s\" is reserved", a->name);
    for (size_t i = 0; i < a->nexports; i++) {
        const struct opts_export *x = &a->exports[i];
        const char *kind = x->service ? "service" : "stream";
        if (!subject_valid_sub(x->subject, strlen(x->subject)))
            return account__fail(err, errlen, o->accounts_where, "Error adding %s export \"%s\": "
                        "invalid subject", kind, x->subject);
        for (size_t j = 0; j < x->naccounts; j++)
            if (!named(o, x->accounts[j]))
                return account__fail(err, errlen, o->accounts_where,
                            "\"%s\" account not defined for %s export", x->accounts[j], kind);
    }
    for (size_t i = 0; i < a->nimports; i++) {
        int rc = check_import(o, a, &a->imports[i], err, errlen);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int account_check(const struct tern_opts *o, char *err, size_t errlen)
{
    const struct opts_account *js = NULL;
    for (size_t i = 0; i < o->naccounts; i++) {
        const struct opts_account *a = &o->accounts[i];
        int rc = check_account(o, a, err, errlen);
        if (rc < 0)
            return rc;
        if (a->jetstream == 1 && js)
            return account__fail(err, errlen, a->where, "JetStream is enabled for accounts \"%s\" and "
                        "\"%s\": Tern's JetStream serves one account", js->name, a->name);
        if (a->jetstream == 1)
            js = a;
    }
    if (o->system_account && !named(o, o->system_account))
        return account__fail(err, errlen, NULL, "system account \"%s\" not defined",
                    o->system_account);
    for (size_t i = 0; i < o->nusers; i++)
        if (o->users[i].account && !opts_find(o, o->users[i].account))
            return account__fail(err, errlen, NULL, "user's account \"%s\" not defined",
                        o->users[i].account);
    return 0;
}

