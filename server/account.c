/*
 * server/account.c — the set of accounts: building each account's subject
 * index and the import links between them from checked options
 * (account_check.c), and finding an account by name (see account.h). What
 * happens to a message at publish time is account_import.c's.
 */
#include "server/account.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/subject.h"
#include "proto/submap.h"
#include "server/account_impl.h"
#include "server/sublist.h"


/* ---- the set ---- */

static void account_free(struct account *a)
{
    if (!a)
        return;
    for (size_t i = 0; i < a->nstreams_out; i++) {
        free(a->streams_out[i].subject);
        submap_free(a->streams_out[i].map);
    }
    free(a->streams_out);
    for (size_t i = 0; i < a->nservices; i++) {
        free(a->services[i].local);
        submap_free(a->services[i].map);
    }
    free(a->services);
    sublist_free(a->sublist);
    free(a->name);
    free(a);
}

static struct account *add_account(struct account_set *set, const char *name)
{
    struct account *a = calloc(1, sizeof *a);
    if (!a || !(a->name = strdup(name)) || !(a->sublist = sublist_new())) {
        account_free(a);
        return NULL;
    }
    a->index = (uint32_t)set->n;
    a->js_limits = OPTS_JS_NO_LIMITS;
    a->set = set;
    set->accs[set->n++] = a;
    return a;
}

static int link_stream(struct account *exporter, struct account *importer,
                       const struct opts_import *im)
{
    struct account_stream_link *n =
        realloc(exporter->streams_out, (exporter->nstreams_out + 1) * sizeof *n);
    if (!n)
        return -ENOMEM;
    exporter->streams_out = n;
    struct account_stream_link *l = &n[exporter->nstreams_out];
    memset(l, 0, sizeof *l);
    if (!(l->subject = strdup(im->subject)))
        return -ENOMEM;
    l->subject_len = strlen(l->subject);
    l->to = importer;
    exporter->nstreams_out++;
    return account__compile(im->subject, im->to, im->prefix, &l->map);
}

static int link_service(const struct tern_opts *o, struct account *importer,
                        struct account *exporter, const struct opts_import *im)
{
    struct account_service_link *n =
        realloc(importer->services, (importer->nservices + 1) * sizeof *n);
    if (!n)
        return -ENOMEM;
    importer->services = n;
    struct account_service_link *l = &n[importer->nservices];
    memset(l, 0, sizeof *l);
    const char *local = im->to ? im->to : im->subject;
    if (!(l->local = strdup(local)))
        return -ENOMEM;
    l->local_len = strlen(local);
    l->exporter = exporter;
    importer->nservices++;
    const struct opts_export *x =
        account__find_export(o, exporter->name, true, im->subject, importer->name);
    if (x) {
        l->response_type = x->response_type;
        l->threshold_ms = x->response_threshold_ms;
    } else {
        l->threshold_ms = 2 * 60 * 1000;
    }
    return account__compile(local, im->subject, NULL, &l->map);
}

static int build_links(struct account_set *set, const struct tern_opts *o)
{
    for (size_t i = 0; i < o->naccounts; i++) {
        const struct opts_account *oa = &o->accounts[i];
        struct account *importer = account_find(set, oa->name, strlen(oa->name));
        for (size_t j = 0; j < oa->nimports; j++) {
            const struct opts_import *im = &oa->imports[j];
            struct account *exporter = account_find(set, im->account, strlen(im->account));
            int rc = im->service ? link_service(o, importer, exporter, im)
                                 : link_stream(exporter, importer, im);
            if (rc < 0)
                return rc;
        }
    }
    return 0;
}

struct account_set *account_set_new(const struct tern_opts *o)
{
    struct account_set *set = calloc(1, sizeof *set);
    if (!set || !(set->accs = calloc(o->naccounts + 2, sizeof *set->accs)) ||
        !(set->responses = account__responses_new()))
        goto fail;
    set->configured = o->naccounts > 0;
    if (!(set->global = add_account(set, GLOBAL_ACCOUNT)))
        goto fail;
    for (size_t i = 0; i < o->naccounts; i++) {
        struct account *a = add_account(set, o->accounts[i].name);
        if (!a)
            goto fail;
        a->jetstream = o->jetstream && o->accounts[i].jetstream == 1;
        a->js_limits = o->accounts[i].js;
        if (a->jetstream)
            set->jetstream = a;
    }
    if (!account_find(set, SYSTEM_ACCOUNT, strlen(SYSTEM_ACCOUNT)) &&
        !add_account(set, SYSTEM_ACCOUNT))
        goto fail;
    const char *sys = o->system_account ? o->system_account : SYSTEM_ACCOUNT;
    set->system = account_find(set, sys, strlen(sys));
    /* Without accounts {} the global account has everything, JetStream
     * included; with them only the account that says so has JetStream
     * (nats-server 2.9 then gives $G none). */
    if (!set->configured && o->jetstream) {
        set->global->jetstream = true;
        set->jetstream = set->global;
    }
    if (build_links(set, o) < 0)
        goto fail;
    return set;
fail:
    account_set_free(set);
    return NULL;
}

void account_set_free(struct account_set *set)
{
    if (!set)
        return;
    for (size_t i = 0; i < set->n; i++)
        account_free(set->accs[i]);
    free(set->accs);
    account__responses_free(set->responses);
    free(set);
}

struct account *account_find(const struct account_set *set, const char *name, size_t len)
{
    /* A handful of accounts: a scan beats a hash here. */
    for (size_t i = 0; i < set->n; i++) {
        const char *n = set->accs[i]->name;
        if (strlen(n) == len && memcmp(n, name, len) == 0)
            return set->accs[i];
    }
    return NULL;
}

void account_set_sublist_stats(struct account_set *set, struct sublist_stats *st)
{
    memset(st, 0, sizeof *st);
    for (size_t i = 0; i < set->n; i++) {
        struct sublist_stats one;
        sublist_get_stats(set->accs[i]->sublist, &one);
        st->count += one.count;
        st->inserts += one.inserts;
        st->removes += one.removes;
        st->matches += one.matches;
    }
}
