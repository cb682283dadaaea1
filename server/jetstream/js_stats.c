/*
 * server/jetstream/js_stats.c — the monitoring snapshot (see js_stats.h).
 *
 * A refresh walks every stream and every consumer this node serves: it
 * reads counters the engine keeps anyway (store state, the consumer's
 * runtime, raft's indexes), so its cost is a few allocations per stream and
 * consumer four times a second, whatever the message rate. A KV user with
 * thousands of buckets pays thousands of small copies per refresh; a
 * snapshot built only when someone asks is the better design once that
 * shows in a profile.
 */
#include "server/jetstream/js_stats.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/jsraft.h"
#include "server/jetstream/js_consumer.h"
#include "server/jetstream/js_internal.h"

/* Peers beyond this are left out of the snapshot (the group holds the
 * cluster's Tern nodes, a handful). */
#define PEERS_MAX 16

static void free_streams(struct jetstream_stream_stats *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i].name);
        free(v[i].state_json);
    }
    free(v);
}

static void free_consumers(struct jetstream_consumer_stats *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i].stream);
        free(v[i].name);
    }
    free(v);
}

static void unref(struct js_snapshot *s)
{
    if (!s || atomic_fetch_sub(&s->refs, 1) != 1)
        return;
    free_streams(s->streams, s->nstreams);
    free_consumers(s->consumers, s->nconsumers);
    free(s->peers);
    free(s);
}

void js_stats_init(struct js_stats *p)
{
    memset(p, 0, sizeof *p);
    pthread_mutex_init(&p->lock, NULL);
}

void js_stats_destroy(struct js_stats *p)
{
    pthread_mutex_destroy(&p->lock);
    unref(p->cur);
    p->cur = NULL;
}

/* Every stream, oldest first (the engine's list is newest first). A stream
 * whose details cannot be copied (no memory) is left out of them. */
static size_t collect_streams(struct js *js, struct jetstream_stream_stats **out)
{
    struct jetstream_stream_stats *v = calloc(js->nstreams ? js->nstreams : 1, sizeof *v);
    size_t n = 0;
    for (struct js_stream *st = js->streams; v && st && n < js->nstreams; st = st->next) {
        struct store_state ss;
        store_get_state(st->store, &ss);
        struct jetstream_stream_stats *d = &v[n];
        *d = (struct jetstream_stream_stats){
            .name = strdup(st->cfg.name),
            .created = st->created,
            .state_json = js_stream_state_json(st, NULL, NULL),
            .msgs = ss.msgs,
            .bytes = ss.bytes,
            /* as STREAM.INFO shows it: last + 1 once emptied, 0 before any */
            .first_seq = ss.last_seq == 0 ? 0 : ss.msgs ? ss.first_seq : ss.last_seq + 1,
            .last_seq = ss.last_seq,
            .num_subjects = ss.num_subjects,
            .consumers = st->nconsumers,
            .max_msgs = st->cfg.max_msgs,
            .max_bytes = st->cfg.max_bytes,
        };
        if (d->name && d->state_json)
            n++;
        else
            free(d->name), free(d->state_json);
    }
    for (size_t i = 0; i < n / 2; i++) {
        struct jetstream_stream_stats tmp = v[i];
        v[i] = v[n - 1 - i];
        v[n - 1 - i] = tmp;
    }
    *out = v;
    return v ? n : 0;
}

/* The consumers this node serves: their runtime holds the live figures
 * (CONSUMER.INFO's); a replica that does not serve has only the progress
 * last proposed, which would read as a stale second copy. */
static size_t collect_consumers(struct js *js, struct jetstream_consumer_stats **out)
{
    size_t total = 0, n = 0;
    for (struct js_stream *st = js->streams; st; st = st->next)
        total += st->nconsumers;
    struct jetstream_consumer_stats *v = calloc(total ? total : 1, sizeof *v);
    for (struct js_stream *st = js->streams; v && st; st = st->next) {
        for (struct js_consumer *c = st->consumers; c && n < total; c = c->next) {
            if (!c->rt.attached || !c->rt.live_valid)
                continue;
            struct jetstream_consumer_stats *d = &v[n];
            *d = (struct jetstream_consumer_stats){
                .stream = strdup(st->cfg.name),
                .name = strndup(c->name, c->name_len),
                .delivered_cseq = c->rt.dseq,
                .delivered_sseq = c->rt.sseq ? c->rt.sseq - 1 : 0,
                .ack_floor_cseq = c->rt.floor_cseq,
                .ack_floor_sseq = c->rt.floor_sseq,
                .num_pending = js_consumer_num_pending(c),
                .num_ack_pending = c->rt.npending,
                .num_redelivered = c->rt.nredelivered + c->rt.nredelivered_dropped,
                .num_waiting = c->rt.nwaiting,
                .last_delivered = c->rt.last_delivered,
                .last_acked = c->rt.last_acked,
            };
            if (d->stream && d->name)
                n++;
            else
                free(d->stream), free(d->name);
        }
    }
    *out = v;
    return v ? n : 0;
}

void js_stats_refresh(struct js_stats *p, struct js *js)
{
    struct js_snapshot *s = calloc(1, sizeof *s);
    if (!s)
        return; /* the last one stays */
    atomic_init(&s->refs, 1);
    struct jetstream_stats *t = &s->stats;
    js_totals(js, t);
    t->clustered = js->clustered;
    t->serve_until_ms = js_cluster_serve_until_ms(js);
    if (js->raft) {
        t->cluster_size = jsraft_size(js->raft);
        snprintf(t->leader, sizeof t->leader, "%s", jsraft_leader_name(js->raft));
        struct jsraft_status rs;
        jsraft_status(js->raft, &rs);
        t->raft_state = rs.state;
        t->raft_term = rs.term;
        t->raft_commit = rs.commit_index;
        t->raft_applied = rs.applied_index;
        t->raft_last = rs.last_index;
        s->peers = calloc(PEERS_MAX, sizeof *s->peers);
        if (s->peers) {
            size_t n = jsraft_peers(js->raft, s->peers, PEERS_MAX);
            s->npeers = n < PEERS_MAX ? n : PEERS_MAX;
        }
    }
    s->nstreams = collect_streams(js, &s->streams);
    s->nconsumers = collect_consumers(js, &s->consumers);

    pthread_mutex_lock(&p->lock);
    struct js_snapshot *old = p->cur;
    p->cur = s;
    pthread_mutex_unlock(&p->lock);
    unref(old);
}

void js_stats_get(struct js_stats *p, struct jetstream_stats *out)
{
    pthread_mutex_lock(&p->lock);
    if (p->cur)
        *out = p->cur->stats;
    else
        memset(out, 0, sizeof *out);
    pthread_mutex_unlock(&p->lock);
}

void js_stats_with(struct js_stats *p, void (*fn)(void *arg, const struct jetstream_view *v),
                   void *arg)
{
    pthread_mutex_lock(&p->lock);
    struct js_snapshot *s = p->cur;
    if (s)
        atomic_fetch_add(&s->refs, 1);
    pthread_mutex_unlock(&p->lock);
    static const struct jetstream_stats none;
    struct jetstream_view v = { .stats = &none };
    if (s)
        v = (struct jetstream_view){
            .stats = &s->stats,
            .streams = s->streams,
            .nstreams = s->nstreams,
            .consumers = s->consumers,
            .nconsumers = s->nconsumers,
            .peers = s->peers,
            .npeers = s->npeers,
        };
    fn(arg, &v);
    unref(s);
}
