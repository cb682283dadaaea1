/*
 * server/deliver.c — message fan-out (see deliver.h).
 *
 * The frame is written straight into the subscriber's outbound buffer
 * (client_out_reserve/commit, the path route_forward takes too): the MSG
 * line is assembled with memcpy from the publisher's own slices (the size
 * digits are reused as sent), so a delivery costs one lock, a few copies,
 * and no formatting. Queue members are chosen uniformly at random
 * among the matching members, then the next ones in turn if the chosen one
 * cannot take it (§8.4).
 */
#include "server/deliver.h"

#include <stdlib.h>
#include <string.h>

#include "cluster/route.h"
#include "proto/ack_reply.h"
#include "server/account.h"
#include "server/account_impl.h"
#include "server/auth.h"
#include "server/client.h"
#include "server/replies.h"
#include "server/sublist.h"
#include "server/worker.h"

static size_t put(char *dst, const void *src, size_t n)
{
    memcpy(dst, src, n);
    return n;
}

/* Build "MSG subj sid [reply] size\r\n" or the HMSG form into line (which
 * must hold the subject, reply, sid and 64 bytes more: two sizes of at
 * most 20 digits, the verb, spaces and CRLF). Sets *skip to the
 * number of leading data bytes not sent (headers stripped). */
static size_t frame_line(char *line, const struct sub *s, const struct proto_msg *m,
                         bool with_headers, size_t *skip)
{
    size_t n = 0;
    bool hmsg = with_headers && m->has_headers && m->hdr_len > 0;
    n += hmsg ? put(line, "HMSG ", 5) : put(line, "MSG ", 4);
    n += put(line + n, m->subject.ptr, m->subject.len);
    line[n++] = ' ';
    n += put(line + n, s->sid, s->sid_len);
    line[n++] = ' ';
    if (m->reply.len) {
        n += put(line + n, m->reply.ptr, m->reply.len);
        line[n++] = ' ';
    }
    *skip = 0;
    if (hmsg) {
        n += m->hdr_arg.len ? put(line + n, m->hdr_arg.ptr, m->hdr_arg.len)
                            : proto_put_size(line + n, m->hdr_len);
        line[n++] = ' ';
        n += m->size_arg.len ? put(line + n, m->size_arg.ptr, m->size_arg.len)
                             : proto_put_size(line + n, m->total_len);
    } else if (m->hdr_len > 0) {
        /* Receiver did not negotiate headers: payload only, §8.3. */
        *skip = m->hdr_len;
        n += proto_put_size(line + n, m->total_len - m->hdr_len);
    } else {
        n += m->size_arg.len ? put(line + n, m->size_arg.ptr, m->size_arg.len)
                             : proto_put_size(line + n, m->total_len);
    }
    line[n++] = '\r';
    line[n++] = '\n';
    return n;
}

static void note_expired(struct client *c, struct sub *s)
{
    /* Called under c->out_lock: the owner loop unsubscribes it. */
    if (c->nexpired == c->cap_expired) {
        size_t cap = c->cap_expired ? c->cap_expired * 2 : 4;
        struct sub **n = realloc(c->expired, cap * sizeof *n);
        if (!n)
            return; /* stays dead in the index until close; harmless */
        c->expired = n;
        c->cap_expired = cap;
    }
    c->expired[c->nexpired++] = s;
}

bool deliver_to_sub(struct worker *w, struct sub *s, const struct proto_msg *m)
{
    struct client *c = s->client;
    /* Upper bound of the frame: the line's fixed parts fit in 64 bytes. */
    size_t bound = m->subject.len + m->reply.len + s->sid_len + 64 + m->total_len + 2;
    size_t body = 0;
    bool queued = false, note = false;

    if (c->kind == CLIENT_KIND_INTERNAL)
        return c->internal_deliver(c->internal_arg, w, s, m);
    pthread_mutex_lock(&c->out_lock);
    if (c->closing || s->dead || (s->max && s->delivered >= s->max))
        goto out_unlock;
    /* A wildcard SUB that overlaps a deny entry still must not see the
     * denied subjects (auth.h: auth_sub_needs_deny_filter). */
    if (c->deny_filter && !auth_can_deliver(c->perms, m->subject.ptr, m->subject.len))
        goto out_unlock;
    char *dst = client_out_reserve(c, bound, &note);
    if (!dst)
        goto out_unlock;
    size_t skip;
    size_t n = frame_line(dst, s, m, c->headers, &skip);
    body = m->total_len - skip;
    memcpy(dst + n, m->data + skip, body);
    dst[n + body] = '\r';
    dst[n + body + 1] = '\n';
    client_out_commit(c, n + body + 2, body, &note);
    s->delivered++;
    /* allow_responses: the reply this client now holds may be answered.
     * Out of memory it is not noted, and the answer is refused. */
    if (c->replies && m->reply.len)
        (void)replies_note(c->replies, m->reply.ptr, m->reply.len, replies_now());
    if (s->max && s->delivered >= s->max) {
        s->dead = true;
        note_expired(c, s);
    }
    queued = true;
out_unlock:
    pthread_mutex_unlock(&c->out_lock);
    if (note)
        worker_note_output(w, c);
    if (queued) {
        worker_count(&w->out_msgs, 1);
        worker_count(&w->out_bytes, body);
    }
    return queued;
}

static bool skip_echo(const struct client *pub, const struct sub *s)
{
    return pub && !pub->echo && s->client == pub;
}

static bool is_route(const struct sub *s)
{
    return s->client->kind == CLIENT_KIND_ROUTE;
}

static bool is_internal(const struct sub *s)
{
    return s->client->kind == CLIENT_KIND_INTERNAL;
}

/* Routes a message goes to, each once, with the queue groups it must reach
 * there (spec/cluster-protocol.md §5.2). A cluster has a handful of nodes. */
#define DELIVER_MAX_ROUTES 64

struct fwd_target {
    struct client *route;   /* borrowed */
    char queues[512];       /* "q1 q2" */
    size_t qlen;
};

struct fwd_set {
    struct fwd_target t[DELIVER_MAX_ROUTES];
    size_t n;
};

static struct fwd_target *fwd_mark(struct fwd_set *f, struct client *route)
{
    for (size_t i = 0; i < f->n; i++)
        if (f->t[i].route == route)
            return &f->t[i];
    if (f->n == DELIVER_MAX_ROUTES)
        return NULL;
    struct fwd_target *t = &f->t[f->n++];
    t->route = route;
    t->qlen = 0;
    return t;
}

static void fwd_add_queue(struct fwd_target *t, const char *name, size_t len)
{
    if (!t || t->qlen + len + 1 > sizeof t->queues)
        return;
    if (t->qlen)
        t->queues[t->qlen++] = ' ';
    memcpy(t->queues + t->qlen, name, len);
    t->qlen += len;
}

/* A route's message names the queue groups it must reach here (§5.3). */
static bool queue_listed(const struct proto_msg *m, const struct sublist_qgroup *g)
{
    struct proto_slice rest = m->queues, q;
    while (proto_next_field(&rest, &q))
        if (q.len == g->name_len && memcmp(q.ptr, g->name, q.len) == 0)
            return true;
    return false;
}

/* Any local member that takes it, starting at a random one. */
static size_t deliver_queue_local(struct worker *w, struct client *pub,
                                  const struct sublist_qgroup *g, const struct proto_msg *m)
{
    size_t start = worker_rand(w) % g->nsubs;
    for (size_t i = 0; i < g->nsubs; i++) {
        struct sub *s = (struct sub *)g->subs[(start + i) % g->nsubs];
        if (is_route(s) || skip_echo(pub, s))
            continue;
        if (deliver_to_sub(w, s, m))
            return 1;
    }
    return 0;
}

/* A locally published message: one member cluster-wide, uniformly over all
 * members, a route entry counting as many members as its weight (§8.4). */
static size_t deliver_queue(struct worker *w, struct client *pub,
                            const struct sublist_qgroup *g, const struct proto_msg *m,
                            struct fwd_set *fwd)
{
    uint64_t total = 0;
    for (size_t i = 0; i < g->nsubs; i++)
        if (!skip_echo(pub, (struct sub *)g->subs[i]))
            total += g->subs[i]->weight ? g->subs[i]->weight : 1;
    if (!total)
        return 0;
    uint64_t pick = worker_rand(w) % total;
    for (size_t i = 0; i < g->nsubs; i++) {
        struct sub *s = (struct sub *)g->subs[i];
        if (skip_echo(pub, s))
            continue;
        uint64_t wt = s->base.weight ? s->base.weight : 1;
        if (pick >= wt) {
            pick -= wt;
            continue;
        }
        if (is_route(s)) {
            fwd_add_queue(fwd_mark(fwd, s->client), g->name, g->name_len);
            return 1;
        }
        if (deliver_to_sub(w, s, m))
            return 1;
        break; /* the chosen member cannot take it: any other local one */
    }
    return deliver_queue_local(w, pub, g, m);
}

/* §9: a request nobody received gets a 503 status on the requester's own
 * subscription to the reply subject, if it has one. */
static void no_responders(struct worker *w, struct account *acc, struct client *pub,
                          const struct proto_msg *m)
{
    const struct sublist_result *r =
        sublist_cache_match(worker_cache(w, acc), m->reply.ptr, m->reply.len);
    if (!r)
        return;
    for (size_t i = 0; i < r->npsubs; i++) {
        struct sub *s = (struct sub *)r->psubs[i];
        if (s->client != pub)
            continue;
        static const char status[] = "NATS/1.0 503\r\n\r\n";
        struct proto_msg st = {
            .subject = m->reply,
            .hdr_len = sizeof status - 1,
            .total_len = sizeof status - 1,
            .has_headers = true,
            .data = status,
        };
        deliver_to_sub(w, s, &st);
        return;
    }
}

/* The fan-out of one matched message in acc. Local subscribers are sent
 * local; routes, and the server's own subscribers, which see a message as
 * it travels between nodes, are sent routed. The two differ only for a
 * JetStream consumer delivery (deliver_publish_as). in is the message as
 * it arrived (a route's queue list). */
static size_t fan_out(struct worker *w, struct account *acc, struct client *pub,
                      const struct sublist_result *r, const struct proto_msg *in,
                      const struct proto_msg *local, const struct proto_msg *routed)
{
    /* A message from a route goes to local subscribers only: one hop. */
    bool from_route = pub && pub->kind == CLIENT_KIND_ROUTE;
    struct fwd_set fwd;
    fwd.n = 0;
    size_t delivered = 0;
    for (size_t i = 0; i < r->npsubs; i++) {
        struct sub *s = (struct sub *)r->psubs[i];
        if (is_route(s)) {
            if (!from_route)
                fwd_mark(&fwd, s->client);
            continue;
        }
        if (!skip_echo(pub, s) && deliver_to_sub(w, s, is_internal(s) ? routed : local))
            delivered++;
    }
    for (size_t i = 0; i < r->nqgroups; i++) {
        const struct sublist_qgroup *g = &r->qgroups[i];
        if (from_route)
            delivered += queue_listed(in, g) ? deliver_queue_local(w, pub, g, local) : 0;
        else
            delivered += deliver_queue(w, pub, g, local, &fwd);
    }
    for (size_t i = 0; i < fwd.n; i++)
        if (route_forward(w, fwd.t[i].route, acc->name, routed, fwd.t[i].queues,
                          fwd.t[i].qlen))
            delivered++; /* forwarding counts as delivered (§5.2) */
    return delivered;
}

/* A JetStream delivery that crossed a route arrives as RMSG <deliver
 * subject> <ack reply>@<stored subject> (proto/ack_reply.h): its
 * subscribers show the stored subject and the bare ack reply, as
 * nats-server's do. */
static bool js_delivery_from_route(const struct proto_msg *m, struct proto_msg *shown)
{
    *shown = *m;
    return ack_reply_split(m->reply, &shown->reply, &shown->subject);
}

/* acc's subscribers of subject: the loop's cached match, or, nested, one
 * of its own in *owned (freed by the caller). NULL out of memory. */
static const struct sublist_result *match(struct worker *w, struct account *acc,
                                          const char *subject, size_t len, bool nested,
                                          struct sublist_result **owned)
{
    *owned = NULL;
    if (!nested)
        return sublist_cache_match(worker_cache(w, acc), subject, len);
    return sublist_match(acc->sublist, subject, len, owned) < 0 ? NULL : *owned;
}

size_t deliver_publish(struct worker *w, struct account *acc, struct client *pub,
                       const struct proto_msg *m)
{
    bool from_route = pub && pub->kind == CLIENT_KIND_ROUTE;
    size_t delivered = 0;
    const struct sublist_result *r =
        sublist_cache_match(worker_cache(w, acc), m->subject.ptr, m->subject.len);
    if (r) {
        struct proto_msg shown;
        const struct proto_msg *local = m;
        if (from_route && js_delivery_from_route(m, &shown))
            local = &shown;
        delivered = fan_out(w, acc, pub, r, m, local, m);
    }
    /* Imports happen where the message was published (account.h). */
    if (!from_route && (acc->nstreams_out || acc->nservices))
        delivered += account_import_publish(w, acc, m);
    if (!delivered && pub && !from_route && pub->no_responders && m->reply.len)
        no_responders(w, acc, pub, m);
    return delivered;
}

size_t deliver_in_account(struct worker *w, struct account *acc, const struct proto_msg *m,
                          bool nested)
{
    struct sublist_result *owned;
    const struct sublist_result *r = match(w, acc, m->subject.ptr, m->subject.len, nested, &owned);
    size_t delivered = r ? fan_out(w, acc, NULL, r, m, m, m) : 0;
    sublist_result_free(owned);
    return delivered;
}

size_t deliver_as_in_account(struct worker *w, struct account *acc, const struct proto_msg *m,
                             const char *to, size_t tolen, bool nested)
{
    struct sublist_result *owned;
    const struct sublist_result *r = match(w, acc, to, tolen, nested, &owned);
    size_t delivered = 0;
    if (!r || (!r->npsubs && !r->nqgroups))
        goto out;
    /* Over a route: matched there by `to`, the stored subject behind '@'
     * (proto/ack_reply.h). */
    struct proto_msg routed = *m;
    routed.subject.ptr = to;
    routed.subject.len = tolen;
    char stack[512], *reply = NULL;
    if (m->reply.len) {
        size_t n = ack_reply_joined_len(m->reply.len, m->subject.len);
        reply = n <= sizeof stack ? stack : malloc(n);
        if (!reply)
            goto out;
        routed.reply.ptr = reply;
        routed.reply.len = ack_reply_join(reply, m->reply.ptr, m->reply.len, m->subject.ptr,
                                          m->subject.len);
    }
    delivered = fan_out(w, acc, NULL, r, m, m, &routed);
    if (reply != stack)
        free(reply);
out:
    sublist_result_free(owned);
    return delivered;
}

size_t deliver_publish_as(struct worker *w, struct account *acc, const struct proto_msg *m,
                          const char *to, size_t tolen)
{
    size_t delivered = deliver_as_in_account(w, acc, m, to, tolen, false);
    if (acc->nstreams_out)
        delivered += account_import_deliver_as(w, acc, m, to, tolen);
    return delivered;
}
