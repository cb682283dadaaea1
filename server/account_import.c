/*
 * server/account_import.c — imports at work: copying a published message
 * into the accounts that import it as a stream, sending a request to the
 * account that exports it as a service, and bringing the replies back
 * (see account.h); plus the answer every account JetStream does not serve
 * gets on $JS.API.> (10039, as nats-server sends it).
 *
 * Each account has one internal connection (account.ic) behind its
 * server-side subscriptions: for each service another account imports from
 * it, "<reply prefix>>" (the prefix unique to this node and that import, so
 * replies come back to the node that holds the pending request); and, when
 * JetStream does not serve it, "$JS.API.>". Deliveries to them run on the
 * loop that matched them, inside that loop's delivery of the reply, so
 * they deliver with a match of their own (deliver.h, nested).
 *
 * The pending replies are one table for the node: a token (an unguessable
 * 64-bit value, written in base 62 after the prefix) to the requester's
 * account and reply subject. A singleton service's entry goes with its
 * first reply; every entry goes when its response threshold passes (the
 * main thread's tick, account_set_sweep).
 */
#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "proto/ack_reply.h"
#include "proto/subject.h"
#include "proto/submap.h"
#include "server/account_impl.h"
#include "cluster/route.h"
#include "server/client.h"
#include "server/deliver.h"
#include "server/log.h"
#include "server/server.h"
#include "server/sublist.h"
#include "server/subs.h"
#include "server/worker.h"

#define RESPONSE_BUCKETS 1024
#define TOKEN_CHARS 11            /* 62^11 > 2^64 */
#define NO_JS_SID "nojs"

/* ---- pending service replies ---- */

/* One request sent through a service import, waiting for its reply. */
struct account_response {
    struct account_response *next;  /* bucket chain */
    uint64_t key;
    struct account *to;             /* borrowed: the requester's account */
    char *reply;                    /* owned: the requester's reply subject */
    size_t reply_len;
    int64_t expires_ns;             /* monotonic */
    bool singleton;
};

struct account_responses {
    pthread_mutex_t lock;
    struct account_response *buckets[RESPONSE_BUCKETS];  /* guarded by lock */
    size_t count;                   /* guarded by lock */
    atomic_uint_fast64_t next;
    uint64_t salt;                  /* random, fixed at creation */
};

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* A bijection of 64-bit values (splitmix64's finaliser): distinct
 * counters give distinct keys that do not show the counter. */
static uint64_t mix(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static const char b62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

static void token_of(uint64_t key, char out[TOKEN_CHARS])
{
    for (int i = TOKEN_CHARS - 1; i >= 0; i--) {
        out[i] = b62[key % 62];
        key /= 62;
    }
}

static bool key_of(const char *t, size_t len, uint64_t *key)
{
    if (len != TOKEN_CHARS)
        return false;
    unsigned __int128 v = 0;
    for (size_t i = 0; i < len; i++) {
        const char *p = memchr(b62, t[i], 62);
        if (!p)
            return false;
        v = v * 62 + (unsigned)(p - b62);
    }
    if (v > UINT64_MAX)
        return false;
    *key = (uint64_t)v;
    return true;
}

struct account_responses *account__responses_new(void)
{
    struct account_responses *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    pthread_mutex_init(&r->lock, NULL);
    randombytes_buf(&r->salt, sizeof r->salt);
    return r;
}

static void response_free(struct account_response *e)
{
    free(e->reply);
    free(e);
}

void account__responses_free(struct account_responses *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < RESPONSE_BUCKETS; i++)
        for (struct account_response *e = r->buckets[i], *n; e; e = n) {
            n = e->next;
            response_free(e);
        }
    pthread_mutex_destroy(&r->lock);
    free(r);
}

/* Remember a request's reply; its token into tok. 0 or -ENOMEM. */
static int response_add(struct account_responses *r, const struct account_service_link *l,
                        struct account *to, struct proto_slice reply, char tok[TOKEN_CHARS],
                        uint64_t *key)
{
    struct account_response *e = calloc(1, sizeof *e);
    if (!e || !(e->reply = malloc(reply.len + 1))) {
        free(e);
        return -ENOMEM;
    }
    memcpy(e->reply, reply.ptr, reply.len);
    e->reply[reply.len] = '\0';
    e->reply_len = reply.len;
    e->to = to;
    e->singleton = l->response_type == OPTS_RESPONSE_SINGLETON;
    e->expires_ns = mono_ns() + l->threshold_ms * 1000000;
    e->key = mix(atomic_fetch_add(&r->next, 1) + r->salt);
    token_of(e->key, tok);
    *key = e->key;
    pthread_mutex_lock(&r->lock);
    struct account_response **b = &r->buckets[e->key % RESPONSE_BUCKETS];
    e->next = *b;
    *b = e;
    r->count++;
    pthread_mutex_unlock(&r->lock);
    return 0;
}

/* Find key's entry: the requester's account and a copy of its reply
 * subject into buf (NUL-terminated). A singleton's entry is taken out
 * (only its first reply goes through). False when there is none. */
static bool response_take(struct account_responses *r, uint64_t key, struct account **to,
                          char *buf, size_t cap, size_t *len)
{
    bool found = false;
    pthread_mutex_lock(&r->lock);
    struct account_response **p = &r->buckets[key % RESPONSE_BUCKETS];
    for (; *p; p = &(*p)->next) {
        struct account_response *e = *p;
        if (e->key != key)
            continue;
        found = e->reply_len < cap;
        if (found) {
            memcpy(buf, e->reply, e->reply_len + 1);
            *len = e->reply_len;
            *to = e->to;
        }
        if (e->singleton || !found) {
            *p = e->next;
            r->count--;
            response_free(e);
        }
        break;
    }
    pthread_mutex_unlock(&r->lock);
    return found;
}

/* A request nobody received: no reply will come. */
static void response_drop(struct account_responses *r, uint64_t key)
{
    pthread_mutex_lock(&r->lock);
    for (struct account_response **p = &r->buckets[key % RESPONSE_BUCKETS]; *p;
         p = &(*p)->next) {
        struct account_response *e = *p;
        if (e->key == key) {
            *p = e->next;
            r->count--;
            response_free(e);
            break;
        }
    }
    pthread_mutex_unlock(&r->lock);
}

void account_set_sweep(struct account_set *set)
{
    struct account_responses *r = set->responses;
    int64_t now = mono_ns();
    pthread_mutex_lock(&r->lock);
    for (size_t i = 0; i < RESPONSE_BUCKETS; i++)
        for (struct account_response **p = &r->buckets[i]; *p;) {
            struct account_response *e = *p;
            if (e->expires_ns > now) {
                p = &e->next;
                continue;
            }
            *p = e->next;
            r->count--;
            response_free(e);
        }
    pthread_mutex_unlock(&r->lock);
}

size_t account_set_pending_replies(struct account_set *set)
{
    pthread_mutex_lock(&set->responses->lock);
    size_t n = set->responses->count;
    pthread_mutex_unlock(&set->responses->lock);
    return n;
}

/* ---- at publish time ---- */

/* m renamed by map (NULL: unchanged). *owned is the new subject the
 * caller frees. False when the subject does not map. */
static bool renamed(const struct submap *map, const struct proto_msg *m, struct proto_msg *out,
                    char **owned)
{
    *out = *m;
    *owned = NULL;
    if (!map)
        return true;
    size_t len;
    if (submap_apply(map, m->subject.ptr, m->subject.len, owned, &len) < 0)
        return false;
    out->subject.ptr = *owned;
    out->subject.len = len;
    /* The sizes as sent still hold; only the subject changed. */
    return true;
}

static size_t send_request(struct worker *w, struct account *acc,
                           const struct account_service_link *l, const struct proto_msg *m)
{
    struct proto_msg req;
    char *subject;
    if (!renamed(l->map, m, &req, &subject))
        return 0;
    char reply[sizeof l->reply_prefix + TOKEN_CHARS];
    uint64_t key = 0;
    bool pending = false;
    if (m->reply.len) {
        size_t plen = strlen(l->reply_prefix);
        memcpy(reply, l->reply_prefix, plen);
        if (response_add(acc->set->responses, l, acc, m->reply, reply + plen, &key) < 0) {
            free(subject);
            return 0;
        }
        pending = true;
        req.reply.ptr = reply;
        req.reply.len = plen + TOKEN_CHARS;
    }
    size_t n = deliver_in_account(w, l->exporter, &req, false);
    if (!n && pending)
        response_drop(acc->set->responses, key);
    free(subject);
    return n;
}

size_t account_import_publish(struct worker *w, struct account *acc, const struct proto_msg *m)
{
    size_t delivered = 0;
    for (size_t i = 0; i < acc->nstreams_out; i++) {
        const struct account_stream_link *l = &acc->streams_out[i];
        if (!subject_match(l->subject, l->subject_len, m->subject.ptr, m->subject.len))
            continue;
        struct proto_msg copy;
        char *subject;
        if (!renamed(l->map, m, &copy, &subject))
            continue;
        delivered += deliver_in_account(w, l->to, &copy, false);
        free(subject);
    }
    for (size_t i = 0; i < acc->nservices; i++) {
        const struct account_service_link *l = &acc->services[i];
        if (subject_match(l->local, l->local_len, m->subject.ptr, m->subject.len))
            delivered += send_request(w, acc, l, m);
    }
    return delivered;
}

size_t account_import_deliver_as(struct worker *w, struct account *acc,
                                 const struct proto_msg *m, const char *to, size_t tolen)
{
    size_t delivered = 0;
    for (size_t i = 0; i < acc->nstreams_out; i++) {
        const struct account_stream_link *l = &acc->streams_out[i];
        if (!subject_match(l->subject, l->subject_len, to, tolen))
            continue;
        char *mapped = NULL;
        size_t len = tolen;
        if (l->map && submap_apply(l->map, to, tolen, &mapped, &len) < 0)
            continue;
        delivered += deliver_as_in_account(w, l->to, m, mapped ? mapped : to, len, false);
        free(mapped);
    }
    return delivered;
}

bool account_import_interest(struct worker *w, struct account *acc, const char *subject,
                             size_t len)
{
    for (size_t i = 0; i < acc->nstreams_out; i++) {
        const struct account_stream_link *l = &acc->streams_out[i];
        if (!subject_match(l->subject, l->subject_len, subject, len))
            continue;
        char *mapped = NULL;
        size_t mlen = len;
        if (l->map && submap_apply(l->map, subject, len, &mapped, &mlen) < 0)
            continue;
        const struct sublist_result *r =
            sublist_cache_match(worker_cache(w, l->to), mapped ? mapped : subject, mlen);
        free(mapped);
        if (r && (r->npsubs || r->nqgroups))
            return true;
    }
    return false;
}

/* ---- the internal subscriptions ---- */

/* A reply under one of this node's prefixes: on to the requester. m is as
 * it travels between nodes: a JetStream delivery's reply is still joined
 * with its stored subject (proto/ack_reply.h), and goes on as one. */
static void on_reply(struct account_set *set, struct worker *w, const struct proto_msg *m)
{
    const char *dot = memchr(m->subject.ptr + 4, '.', m->subject.len - 4);
    uint64_t key;
    if (!dot || !key_of(dot + 1, (size_t)(m->subject.ptr + m->subject.len - dot - 1), &key))
        return;
    char reply[4096];
    size_t len = 0;
    struct account *to = NULL;
    if (!response_take(set->responses, key, &to, reply, sizeof reply, &len))
        return;
    struct proto_msg shown = *m;
    if (m->reply.len && ack_reply_split(m->reply, &shown.reply, &shown.subject)) {
        deliver_as_in_account(w, to, &shown, reply, len, true);
        return;
    }
    shown.subject.ptr = reply;
    shown.subject.len = len;
    deliver_in_account(w, to, &shown, true);
}

/* nats-server's answer per API for an account JetStream does not serve;
 * the others (pull requests, direct gets) get none. */
static const struct {
    const char *api;      /* after "$JS.API." (or the domain's form) */
    bool prefix;          /* api is followed by ".<names>" */
    const char *type;
    const char *tail;     /* fields after "error" */
} no_js_answers[] = {
    { "INFO", false, "account_info_response", "" },
    { "STREAM.CREATE", true, "stream_create_response", "" },
    { "STREAM.UPDATE", true, "stream_update_response", "" },
    { "STREAM.NAMES", false, "stream_names_response",
      ",\"total\":0,\"offset\":0,\"limit\":0,\"streams\":null" },
    { "STREAM.LIST", false, "stream_list_response",
      ",\"total\":0,\"offset\":0,\"limit\":0,\"streams\":[]" },
    { "STREAM.INFO", true, "stream_info_response", ",\"total\":0,\"offset\":0,\"limit\":0" },
    { "STREAM.DELETE", true, "stream_delete_response", "" },
    { "STREAM.PURGE", true, "stream_purge_response", ",\"purged\":0" },
    { "STREAM.MSG.GET", true, "stream_msg_get_response", "" },
    { "STREAM.MSG.DELETE", true, "stream_msg_delete_response", "" },
    { "STREAM.SNAPSHOT", true, "stream_snapshot_response", "" },
    { "STREAM.RESTORE", true, "stream_restore_response", ",\"deliver_subject\":\"\"" },
    { "CONSUMER.CREATE", true, "consumer_create_response", "" },
    { "CONSUMER.DURABLE.CREATE", true, "consumer_create_response", "" },
    { "CONSUMER.NAMES", true, "consumer_names_response",
      ",\"total\":0,\"offset\":0,\"limit\":0,\"consumers\":[]" },
    { "CONSUMER.LIST", true, "consumer_list_response",
      ",\"total\":0,\"offset\":0,\"limit\":0,\"consumers\":[]" },
    { "CONSUMER.INFO", true, "consumer_info_response", "" },
    { "CONSUMER.DELETE", true, "consumer_delete_response", "" },
};

static int no_js_answer(const char *api, size_t len)
{
    for (size_t i = 0; i < sizeof no_js_answers / sizeof no_js_answers[0]; i++) {
        size_t n = strlen(no_js_answers[i].api);
        if (len < n || memcmp(api, no_js_answers[i].api, n) != 0)
            continue;
        if (no_js_answers[i].prefix ? len > n + 1 && api[n] == '.' : len == n)
            return (int)i;
    }
    return -1;
}

static void on_no_js(struct account *acc, struct worker *w, const struct proto_msg *m)
{
    static const char api[] = "$JS.API.";
    if (!m->reply.len || m->subject.len <= sizeof api - 1 ||
        memcmp(m->subject.ptr, api, sizeof api - 1) != 0)
        return;
    int i = no_js_answer(m->subject.ptr + sizeof api - 1, m->subject.len - (sizeof api - 1));
    if (i < 0)
        return;
    char body[512];
    int n = snprintf(body, sizeof body,
                     "{\"type\":\"io.nats.jetstream.api.v1.%s\",\"error\":{\"code\":503,"
                     "\"err_code\":10039,\"description\":\"JetStream not enabled for "
                     "account\"}%s}",
                     no_js_answers[i].type, no_js_answers[i].tail);
    struct proto_msg out = {
        .subject = m->reply,
        .total_len = (size_t)n,
        .data = body,
    };
    deliver_in_account(w, acc, &out, true);
}

static bool on_internal_deliver(void *arg, struct worker *w, const struct sub *s,
                                const struct proto_msg *m)
{
    struct account *acc = arg;
    if (s == acc->no_js_sub)
        on_no_js(acc, w, m);
    else
        on_reply(acc->set, w, m);
    return true;
}

static void on_internal_flush(void *arg, struct worker *w)
{
    (void)arg;
    (void)w;
}

static struct sub *internal_sub(struct account *acc, const char *subject, const char *sid)
{
    struct sub *s = sub_new(acc->ic, subject, strlen(subject), NULL, 0, sid, strlen(sid));
    if (!s)
        return NULL;
    if (sublist_insert(acc->sublist, &s->base) < 0) {
        sub_free(s);
        return NULL;
    }
    return s;
}

int account_set_start(struct account_set *set, struct server *srv)
{
    set->srv = srv;
    for (size_t i = 0; i < set->n; i++)
        if (!(set->accs[i]->ic = client_new_internal(srv, srv->workers[0], set->accs[i],
                                                     on_internal_deliver, on_internal_flush,
                                                     set->accs[i])))
            return -ENOMEM;
    for (size_t i = 0; i < set->n; i++) {
        struct account *acc = set->accs[i];
        if (srv->opts.jetstream && !acc->jetstream &&
            !(acc->no_js_sub = internal_sub(acc, "$JS.API.>", NO_JS_SID)))
            return -ENOMEM;
        for (size_t j = 0; j < acc->nservices; j++) {
            struct account_service_link *l = &acc->services[j];
            /* The server id's characters keep nodes apart, the link's
             * numbers the imports of this node. */
            snprintf(l->reply_prefix, sizeof l->reply_prefix, "_R_.%.6s%xx%x.",
                     srv->server_id + 1, (unsigned)i, (unsigned)j);
            char subject[sizeof l->reply_prefix + 1], sid[48];
            snprintf(subject, sizeof subject, "%s>", l->reply_prefix);
            snprintf(sid, sizeof sid, "r%zu.%zu", i, j);
            if (!(l->reply_sub = internal_sub(l->exporter, subject, sid)))
                return -ENOMEM;
            /* Replies may come from a responder on another node. */
            cluster_local_interest(srv->cluster, srv->workers[0], l->reply_sub, true);
        }
    }
    return 0;
}

static void drop_sub(struct account *acc, struct sub **s)
{
    if (!*s)
        return;
    sublist_remove(acc->sublist, &(*s)->base);
    sub_free(*s);
    *s = NULL;
}

void account_set_stop(struct account_set *set)
{
    for (size_t i = 0; set && i < set->n; i++) {
        struct account *acc = set->accs[i];
        drop_sub(acc, &acc->no_js_sub);
        for (size_t j = 0; j < acc->nservices; j++)
            drop_sub(acc->services[j].exporter, &acc->services[j].reply_sub);
    }
    for (size_t i = 0; set && i < set->n; i++) {
        client_free_internal(set->accs[i]->ic);
        set->accs[i]->ic = NULL;
    }
}
