/*
 * server/monitor_js.c — /jsz, /varz "jetstream" and the JetStream and raft
 * families of /metrics (see monitor_js.h). Field names and order follow
 * nats-server 2.9's. Of the details /jsz gives on request, the account's,
 * each stream's (name, created, state) and, with ?consumers, each
 * consumer's live figures (on the node that serves JetStream: the only one
 * that has them) are built; config details (?config) not yet. Metric and label names follow the
 * NATS Prometheus exporter's jsz collector; the raft ones are Tern's own.
 */
#include "server/monitor_js.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cluster/jsraft.h"
#include "proto/prom.h"

#include "server/jetstream/js_config.h"
#include "server/jetstream/jetstream.h"
#include "server/account.h"
#include "server/server.h"

static json_t *jint(uint64_t v)
{
    return json_integer((json_int_t)v);
}

/* "config": the limits, and where the store lives when enabled. */
static json_t *config_json(struct server *s, const struct jetstream_stats *st)
{
    json_t *c = json_object();
    json_object_set_new(c, "max_memory", json_integer(st->max_memory));
    json_object_set_new(c, "max_storage", json_integer(st->max_storage));
    if (s->jetstream)
        json_object_set_new(c, "store_dir", json_string(jetstream_store_dir(s->jetstream)));
    if (s->js_domain[0])
        json_object_set_new(c, "domain", json_string(s->js_domain));
    return c;
}

/* The account JetStream serves: $G without accounts {}. */
static const char *js_account_name(const struct server *s)
{
    return s->accounts->jetstream ? s->accounts->jetstream->name : "$G";
}

/* The usage fields /jsz lists at its top level and /varz under "stats". */
static void usage_fields(json_t *o, const struct jetstream_stats *st, bool enabled)
{
    json_object_set_new(o, "memory", jint(st->memory));
    json_object_set_new(o, "storage", jint(st->storage));
    json_object_set_new(o, "reserved_memory", jint(st->reserved_memory));
    json_object_set_new(o, "reserved_storage", jint(st->reserved_storage));
    json_object_set_new(o, "accounts", json_integer(enabled ? 1 : 0)); /* one at most */
    json_object_set_new(o, "ha_assets", json_integer(0)); /* nothing replicated yet */
    json_t *api = json_object();
    json_object_set_new(api, "total", jint(st->api_total));
    json_object_set_new(api, "errors", jint(st->api_errors));
    json_object_set_new(o, "api", api);
}

struct jsz_build {
    struct server *s;
    json_t *o;
    bool accounts, streams, consumers;
};

static json_t *seq_pair(uint64_t cseq, uint64_t sseq)
{
    json_t *o = json_object();
    json_object_set_new(o, "consumer_seq", jint(cseq));
    json_object_set_new(o, "stream_seq", jint(sseq));
    return o;
}

/* ?consumers=true: the stream's consumers as nats-server's consumer_detail
 * lists them (their figures; the config is left out without ?config). */
static json_t *consumer_details(const struct jetstream_view *v, const char *stream)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < v->nconsumers; i++) {
        const struct jetstream_consumer_stats *c = &v->consumers[i];
        if (strcmp(c->stream, stream) != 0)
            continue;
        json_t *e = json_object();
        json_object_set_new(e, "stream_name", json_string(c->stream));
        json_object_set_new(e, "name", json_string(c->name));
        json_object_set_new(e, "delivered", seq_pair(c->delivered_cseq, c->delivered_sseq));
        json_object_set_new(e, "ack_floor", seq_pair(c->ack_floor_cseq, c->ack_floor_sseq));
        json_object_set_new(e, "num_ack_pending", jint(c->num_ack_pending));
        json_object_set_new(e, "num_redelivered", jint(c->num_redelivered));
        json_object_set_new(e, "num_waiting", jint(c->num_waiting));
        json_object_set_new(e, "num_pending", jint(c->num_pending));
        json_array_append_new(arr, e);
    }
    return arr;
}

/* One stream of ?streams=true: nats-server's stream_detail entry. */
static json_t *stream_detail(struct server *s, const struct jetstream_stats *st,
                             const struct jetstream_stream_stats *d)
{
    char created[48];
    json_t *e = json_object();
    json_object_set_new(e, "name", json_string(d->name));
    json_object_set_new(e, "created", json_string(js_time_format(d->created, created,
                                                                 sizeof created)));
    /* One node leads every stream: this one alone, the group's leader in a
     * cluster (nothing while there is none). */
    json_t *cluster = json_object();
    if (st->clustered)
        json_object_set_new(cluster, "name", json_string(s->cluster_name));
    const char *leader = st->clustered ? st->leader : s->server_id;
    if (*leader)
        json_object_set_new(cluster, "leader", json_string(leader));
    json_object_set_new(e, "cluster", cluster);
    json_t *state = json_loads(d->state_json, 0, NULL);
    json_object_set_new(e, "state", state ? state : json_object());
    return e;
}

/* The one account JetStream serves (server/account.h: $G without
 * accounts {}); it counts no accounts of its own. nats-server shows its
 * reservations as 2^64 - 1 (its "no limit" cast to unsigned),
 * which a JSON integer here cannot hold: the account's actual
 * reservations are shown instead, the same as the server's. */
static json_t *account_detail(struct jsz_build *b, const struct jetstream_view *v)
{
    const struct jetstream_stats *st = v->stats;
    const char *name = js_account_name(b->s);
    json_t *a = json_object();
    json_object_set_new(a, "name", json_string(name));
    json_object_set_new(a, "id", json_string(name));
    usage_fields(a, st, false);
    if (b->streams) {
        json_t *arr = json_array();
        for (size_t i = 0; i < v->nstreams; i++) {
            json_t *e = stream_detail(b->s, st, &v->streams[i]);
            if (b->consumers)
                json_object_set_new(e, "consumer_detail", consumer_details(v, v->streams[i].name));
            json_array_append_new(arr, e);
        }
        json_object_set_new(a, "stream_detail", arr);
    }
    return a;
}

static void jsz_fields(void *arg, const struct jetstream_view *v)
{
    struct jsz_build *b = arg;
    const struct jetstream_stats *st = v->stats;
    json_t *o = b->o;
    bool enabled = b->s->jetstream != NULL;
    if (!enabled)
        json_object_set_new(o, "disabled", json_true());
    json_object_set_new(o, "config", config_json(b->s, st));
    usage_fields(o, st, enabled);
    json_object_set_new(o, "streams", jint(st->streams));
    json_object_set_new(o, "consumers", jint(st->consumers));
    json_object_set_new(o, "messages", jint(st->messages));
    json_object_set_new(o, "bytes", jint(st->bytes));
    if (enabled && st->clustered) {
        /* nats-server's meta_cluster: the group holding every stream. */
        json_t *m = json_object();
        json_object_set_new(m, "name", json_string(b->s->cluster_name));
        if (st->leader[0])
            json_object_set_new(m, "leader", json_string(st->leader));
        json_object_set_new(m, "cluster_size", jint(st->cluster_size));
        json_object_set_new(o, "meta_cluster", m);
    }
    if (enabled && (b->accounts || b->streams)) {
        json_t *arr = json_array();
        json_array_append_new(arr, account_detail(b, v));
        json_object_set_new(o, "account_details", arr);
    }
}

void monitor_js_jsz(struct server *s, json_t *o, bool accounts, bool streams, bool consumers)
{
    struct jsz_build b = { s, o, accounts, streams, consumers };
    if (s->jetstream) {
        jetstream_with_stats(s->jetstream, jsz_fields, &b);
    } else {
        struct jetstream_stats none = { 0 };
        struct jetstream_view v = { .stats = &none };
        jsz_fields(&b, &v);
    }
}

json_t *monitor_js_varz(struct server *s)
{
    json_t *o = json_object();
    if (!s->jetstream)
        return o;
    struct jetstream_stats st;
    jetstream_get_stats(s->jetstream, &st);
    json_object_set_new(o, "config", config_json(s, &st));
    json_t *stats = json_object();
    usage_fields(stats, &st, true);
    json_object_set_new(o, "stats", stats);
    return o;
}

/* ---- /metrics ---- */

/* The exporter's label sets: the server's, then the account's, the
 * stream's and the consumer's added in that order. Tern has no per-stream
 * raft groups, so "stream_raft_group" is left out, and "domain" is empty
 * without one (an empty label is no label to Prometheus). */
#define SERVER_LABELS 6
#define ACCOUNT_LABELS (SERVER_LABELS + 3)
#define STREAM_LABELS (ACCOUNT_LABELS + 3)
#define CONSUMER_LABELS (STREAM_LABELS + 3)

struct js_metrics {
    struct server *s;
    struct prom *p;
    struct prom_label l[CONSUMER_LABELS]; /* labels borrow the snapshot */
    const char *leader;        /* who serves streams and consumers */
    const char *is_leader;     /* "true" / "false" */
};

/* One field of a stream's or consumer's snapshot. */
struct field_metric {
    const char *name, *help;
    size_t off;
    bool is_signed;            /* int64_t, else uint64_t */
};

static const struct field_metric stream_fields[] = {
    { "jetstream_stream_total_messages", "Messages stored in the stream",
      offsetof(struct jetstream_stream_stats, msgs), false },
    { "jetstream_stream_total_bytes", "Bytes stored in the stream",
      offsetof(struct jetstream_stream_stats, bytes), false },
    { "jetstream_stream_first_seq", "The stream's first sequence",
      offsetof(struct jetstream_stream_stats, first_seq), false },
    { "jetstream_stream_last_seq", "The stream's last sequence",
      offsetof(struct jetstream_stream_stats, last_seq), false },
    { "jetstream_stream_consumer_count", "Consumers of the stream",
      offsetof(struct jetstream_stream_stats, consumers), false },
    { "jetstream_stream_subject_count", "Distinct subjects stored in the stream",
      offsetof(struct jetstream_stream_stats, num_subjects), false },
    { "jetstream_stream_limit_messages", "The stream's max_msgs; -1: no limit",
      offsetof(struct jetstream_stream_stats, max_msgs), true },
    { "jetstream_stream_limit_bytes", "The stream's max_bytes; -1: no limit",
      offsetof(struct jetstream_stream_stats, max_bytes), true },
};

static const struct field_metric consumer_fields[] = {
    { "jetstream_consumer_delivered_consumer_seq", "The consumer sequence last delivered",
      offsetof(struct jetstream_consumer_stats, delivered_cseq), false },
    { "jetstream_consumer_delivered_stream_seq", "The stream sequence last delivered",
      offsetof(struct jetstream_consumer_stats, delivered_sseq), false },
    { "jetstream_consumer_ack_floor_consumer_seq",
      "The consumer sequence below which every delivery is acknowledged",
      offsetof(struct jetstream_consumer_stats, ack_floor_cseq), false },
    { "jetstream_consumer_ack_floor_stream_seq",
      "The stream sequence below which every delivery is acknowledged",
      offsetof(struct jetstream_consumer_stats, ack_floor_sseq), false },
    { "jetstream_consumer_num_pending", "Messages of the stream not yet delivered",
      offsetof(struct jetstream_consumer_stats, num_pending), false },
    { "jetstream_consumer_num_ack_pending", "Deliveries awaiting an acknowledgement",
      offsetof(struct jetstream_consumer_stats, num_ack_pending), false },
    { "jetstream_consumer_num_redelivered", "Messages delivered more than once",
      offsetof(struct jetstream_consumer_stats, num_redelivered), false },
    { "jetstream_consumer_num_waiting", "Pull requests waiting",
      offsetof(struct jetstream_consumer_stats, num_waiting), false },
};

static void field_sample(struct prom *p, const struct prom_label *l, size_t n,
                         const void *base, const struct field_metric *f)
{
    const char *at = (const char *)base + f->off;
    if (f->is_signed)
        prom_i64(p, l, n, *(const int64_t *)at);
    else
        prom_u64(p, l, n, *(const uint64_t *)at);
}

static void server_gauge(struct js_metrics *x, const char *name, const char *help, uint64_t v)
{
    prom_family(x->p, name, PROM_GAUGE, help);
    prom_u64(x->p, x->l, SERVER_LABELS, v);
}

/* /varz "jetstream" as the exporter flattens it (gnatsd_varz_jetstream_*). */
static void varz_js_families(struct js_metrics *x, const struct jetstream_stats *st)
{
    static const struct {
        const char *name, *help;
        enum prom_type type;
        size_t off;
    } f[] = {
        { "gnatsd_varz_jetstream_stats_memory", "JetStream memory storage used, bytes",
          PROM_GAUGE, offsetof(struct jetstream_stats, memory) },
        { "gnatsd_varz_jetstream_stats_storage", "JetStream file storage used, bytes",
          PROM_GAUGE, offsetof(struct jetstream_stats, storage) },
        { "gnatsd_varz_jetstream_stats_reserved_memory",
          "Memory the streams' max_bytes reserve, bytes", PROM_GAUGE,
          offsetof(struct jetstream_stats, reserved_memory) },
        { "gnatsd_varz_jetstream_stats_reserved_storage",
          "File storage the streams' max_bytes reserve, bytes", PROM_GAUGE,
          offsetof(struct jetstream_stats, reserved_storage) },
        { "gnatsd_varz_jetstream_stats_api_total", "JetStream API requests since start",
          PROM_COUNTER, offsetof(struct jetstream_stats, api_total) },
        { "gnatsd_varz_jetstream_stats_api_errors",
          "JetStream API requests answered with an error since start", PROM_COUNTER,
          offsetof(struct jetstream_stats, api_errors) },
    };
    const struct prom_label *id = &x->l[0]; /* server_id */
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
        prom_family(x->p, f[i].name, f[i].type, f[i].help);
        prom_u64(x->p, id, 1, *(const uint64_t *)((const char *)st + f[i].off));
    }
    prom_family(x->p, "gnatsd_varz_jetstream_config_max_memory", PROM_GAUGE,
                "Configured JetStream memory limit, bytes; -1: none");
    prom_i64(x->p, id, 1, st->max_memory);
    prom_family(x->p, "gnatsd_varz_jetstream_config_max_storage", PROM_GAUGE,
                "Configured JetStream file storage limit, bytes; -1: none");
    prom_i64(x->p, id, 1, st->max_storage);
}

static void stream_families(struct js_metrics *x, const struct jetstream_view *v)
{
    x->l[ACCOUNT_LABELS + 1] = (struct prom_label){ "stream_leader", x->leader };
    x->l[ACCOUNT_LABELS + 2] = (struct prom_label){ "is_stream_leader", x->is_leader };
    for (size_t f = 0; v->nstreams && f < sizeof stream_fields / sizeof stream_fields[0]; f++) {
        prom_family(x->p, stream_fields[f].name, PROM_GAUGE, stream_fields[f].help);
        for (size_t i = 0; i < v->nstreams; i++) {
            x->l[ACCOUNT_LABELS] = (struct prom_label){ "stream_name", v->streams[i].name };
            field_sample(x->p, x->l, STREAM_LABELS, &v->streams[i], &stream_fields[f]);
        }
    }
}

static void consumer_labels(struct js_metrics *x, const struct jetstream_consumer_stats *c)
{
    x->l[ACCOUNT_LABELS] = (struct prom_label){ "stream_name", c->stream };
    x->l[STREAM_LABELS] = (struct prom_label){ "consumer_name", c->name };
}

/* Seconds since a consumer's last delivery or ack, the exporter's
 * *_seconds; consumers that never had one are left out. */
static void since_family(struct js_metrics *x, const struct jetstream_view *v, const char *name,
                         const char *help, size_t off)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    int64_t now_ns = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
    bool any = false;
    for (size_t i = 0; i < v->nconsumers; i++) {
        int64_t at = *(const int64_t *)((const char *)&v->consumers[i] + off);
        if (!at)
            continue;
        if (!any)
            prom_family(x->p, name, PROM_GAUGE, help);
        any = true;
        consumer_labels(x, &v->consumers[i]);
        prom_f64(x->p, x->l, CONSUMER_LABELS, at < now_ns ? (double)(now_ns - at) / 1e9 : 0);
    }
}

static void consumer_families(struct js_metrics *x, const struct jetstream_view *v)
{
    x->l[STREAM_LABELS + 1] = (struct prom_label){ "consumer_leader", x->leader };
    x->l[STREAM_LABELS + 2] = (struct prom_label){ "is_consumer_leader", x->is_leader };
    for (size_t f = 0; v->nconsumers && f < sizeof consumer_fields / sizeof consumer_fields[0];
         f++) {
        prom_family(x->p, consumer_fields[f].name, PROM_GAUGE, consumer_fields[f].help);
        for (size_t i = 0; i < v->nconsumers; i++) {
            consumer_labels(x, &v->consumers[i]);
            field_sample(x->p, x->l, CONSUMER_LABELS, &v->consumers[i], &consumer_fields[f]);
        }
    }
    since_family(x, v, "jetstream_consumer_last_delivery_seconds",
                 "Seconds since the consumer's last delivery",
                 offsetof(struct jetstream_consumer_stats, last_delivered));
    since_family(x, v, "jetstream_consumer_last_ack_seconds",
                 "Seconds since the consumer's ack floor last moved",
                 offsetof(struct jetstream_consumer_stats, last_acked));
}

/* What the leader knows of each other member (cluster/jsraft.h). Values
 * are doubles only for the table's sake: indexes stay far below 2^53. */
static double peer_match(const struct jsraft_peer *pe) { return (double)pe->match_index; }
static double peer_lag(const struct jsraft_peer *pe) { return (double)pe->lag; }
static double peer_sent(const struct jsraft_peer *pe) { return (double)pe->active_ns / 1e9; }
static double peer_active(const struct jsraft_peer *pe) { return !pe->offline; }
static double peer_current(const struct jsraft_peer *pe) { return pe->current; }

static const struct {
    const char *name, *help;
    double (*get)(const struct jsraft_peer *pe);
} peer_metrics[] = {
    { "jetstream_raft_peer_match_index", "The highest log entry the peer has acknowledged",
      peer_match },
    { "jetstream_raft_peer_lag", "Log entries the peer lacks", peer_lag },
    /* raft 0.15 keeps when the leader last sent, not when it last heard */
    { "jetstream_raft_peer_last_contact_seconds",
      "Seconds since the leader last sent to the peer (entries or heartbeat)", peer_sent },
    { "jetstream_raft_peer_active",
      "1 when the leader heard from the peer within an election timeout", peer_active },
    { "jetstream_raft_peer_current",
      "1 when the peer has every entry the leader has and is active", peer_current },
};

/* This node's raft figures, and on the leader each peer's (Tern's own
 * names: the exporter has none for raft). */
static void raft_families(struct js_metrics *x, const struct jetstream_view *v)
{
    const struct jetstream_stats *st = v->stats;
    struct prom *p = x->p;
    struct prom_label l[4] = { x->l[0], x->l[1], x->l[2] }; /* server_id, server_name, cluster */
    static const char *const states[] = { "follower", "candidate", "leader", "unavailable" };
    prom_family(p, "jetstream_raft_state", PROM_GAUGE,
                "1 for this node's raft state (label state), 0 for the others");
    for (size_t i = 0; i < sizeof states / sizeof states[0]; i++) {
        l[3] = (struct prom_label){ "state", states[i] };
        prom_u64(p, l, 4, strcmp(st->raft_state, states[i]) == 0);
    }
    prom_family(p, "jetstream_raft_is_leader", PROM_GAUGE, "1 when this node leads the group");
    prom_u64(p, l, 3, strcmp(st->raft_state, "leader") == 0);
    prom_family(p, "jetstream_raft_leader_info", PROM_GAUGE,
                "1, labelled with the leader this node knows (\"\" when none)");
    l[3] = (struct prom_label){ "leader", st->leader };
    prom_u64(p, l, 4, 1);
    static const struct {
        const char *name, *help;
        size_t off;
    } f[] = {
        { "jetstream_raft_term", "The raft term this node is in",
          offsetof(struct jetstream_stats, raft_term) },
        { "jetstream_raft_commit_index", "The highest log entry known committed",
          offsetof(struct jetstream_stats, raft_commit) },
        { "jetstream_raft_applied_index", "The highest log entry JetStream has applied here",
          offsetof(struct jetstream_stats, raft_applied) },
        { "jetstream_raft_last_index", "The highest log entry in this node's log",
          offsetof(struct jetstream_stats, raft_last) },
    };
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
        prom_family(p, f[i].name, PROM_GAUGE, f[i].help);
        prom_u64(p, l, 3, *(const uint64_t *)((const char *)st + f[i].off));
    }
    prom_family(p, "jetstream_raft_cluster_size", PROM_GAUGE, "Voters in the group");
    prom_u64(p, l, 3, (uint64_t)(st->cluster_size > 0 ? st->cluster_size : 0));
    if (strcmp(st->raft_state, "leader") != 0 || !v->npeers)
        return;
    /* The leader's view of each other member (raft's progress). */
    for (size_t m = 0; m < sizeof peer_metrics / sizeof peer_metrics[0]; m++) {
        prom_family(p, peer_metrics[m].name, PROM_GAUGE, peer_metrics[m].help);
        for (size_t i = 0; i < v->npeers; i++) {
            l[3] = (struct prom_label){ "peer", v->peers[i].name };
            prom_f64(p, l, 4, peer_metrics[m].get(&v->peers[i]));
        }
    }
}

/* The server's label set after server_id: with JetStream on or off. */
static void server_labels(struct js_metrics *x, const char *meta_leader, const char *is_leader)
{
    struct server *s = x->s;
    x->l[1] = (struct prom_label){ "server_name", s->server_name };
    x->l[2] = (struct prom_label){ "cluster", s->cluster_name };
    x->l[3] = (struct prom_label){ "domain", s->js_domain };
    x->l[4] = (struct prom_label){ "meta_leader", meta_leader };
    x->l[5] = (struct prom_label){ "is_meta_leader", is_leader };
}

static void metrics_fields(void *arg, const struct jetstream_view *v)
{
    struct js_metrics *x = arg;
    const struct jetstream_stats *st = v->stats;
    struct server *s = x->s;
    /* The exporter's meta labels: a single node is its own leader and
     * names none. */
    const char *meta = st->clustered ? st->leader : "";
    bool leads = !st->clustered || strcmp(st->leader, s->server_name) == 0;
    x->leader = st->clustered ? st->leader : s->server_name;
    x->is_leader = leads ? "true" : "false";
    server_labels(x, meta, x->is_leader);
    const char *acc_name = js_account_name(s);
    x->l[SERVER_LABELS] = (struct prom_label){ "account", acc_name };
    x->l[SERVER_LABELS + 1] = (struct prom_label){ "account_name", acc_name };
    x->l[SERVER_LABELS + 2] = (struct prom_label){ "account_id", acc_name };

    varz_js_families(x, st);
    server_gauge(x, "jetstream_server_jetstream_disabled", "1 when JetStream is off", 0);
    server_gauge(x, "jetstream_server_total_streams", "Streams", st->streams);
    server_gauge(x, "jetstream_server_total_consumers", "Consumers", st->consumers);
    server_gauge(x, "jetstream_server_total_messages", "Messages stored", st->messages);
    server_gauge(x, "jetstream_server_total_message_bytes", "Bytes stored", st->bytes);
    prom_family(x->p, "jetstream_server_max_memory", PROM_GAUGE,
                "Configured memory storage limit, bytes; -1: none");
    prom_i64(x->p, x->l, SERVER_LABELS, st->max_memory);
    prom_family(x->p, "jetstream_server_max_storage", PROM_GAUGE,
                "Configured file storage limit, bytes; -1: none");
    prom_i64(x->p, x->l, SERVER_LABELS, st->max_storage);

    /* The JetStream account holds everything the server holds. */
    static const struct {
        const char *name, *help;
        size_t off;
    } acc[] = {
        { "jetstream_account_memory_used", "Memory storage the account uses, bytes",
          offsetof(struct jetstream_stats, memory) },
        { "jetstream_account_storage_used", "File storage the account uses, bytes",
          offsetof(struct jetstream_stats, storage) },
        { "jetstream_account_max_memory", "Memory the account's streams reserve, bytes",
          offsetof(struct jetstream_stats, reserved_memory) },
        { "jetstream_account_max_storage", "File storage the account's streams reserve, bytes",
          offsetof(struct jetstream_stats, reserved_storage) },
    };
    for (size_t i = 0; i < sizeof acc / sizeof acc[0]; i++) {
        prom_family(x->p, acc[i].name, PROM_GAUGE, acc[i].help);
        prom_u64(x->p, x->l, ACCOUNT_LABELS, *(const uint64_t *)((const char *)st + acc[i].off));
    }
    stream_families(x, v);
    consumer_families(x, v);
    if (st->clustered && st->raft_state)
        raft_families(x, v);
}

void monitor_js_metrics(struct server *s, struct prom *p)
{
    struct js_metrics x = { .s = s, .p = p };
    x.l[0] = (struct prom_label){ "server_id", s->server_id };
    if (s->jetstream) {
        jetstream_with_stats(s->jetstream, metrics_fields, &x);
        return;
    }
    server_labels(&x, "", "true");
    server_gauge(&x, "jetstream_server_jetstream_disabled", "1 when JetStream is off", 1);
}
