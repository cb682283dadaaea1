/*
 * server/jetstream/js_cluster.c — the engine's side of replication: what the
 * raft group (cluster/jsraft.h) calls, and what the engine does with its
 * role.
 *
 * Clustered (JetStream on, clustering configured), the engine never applies
 * a command where it is proposed: the proposer hands entries to the group
 * (js_propose_set_log), every member applies committed entries through
 * js_propose_apply_entry, and the member that proposed an entry answers
 * its requests from the results (js_propose_done) — so a PubAck means the
 * message is in the log on a majority, with O_DSYNC, and applied.
 *
 * Roles: the leader (after its barrier) serves: it activates, which
 * subscribes the API, stream, ack and flow-control subjects and attaches
 * every stream and consumer, rebuilding their runtime from the replicated
 * state. A follower holds the same state and serves nothing; ordinary
 * routing takes requests to the leader. With no leader known, a member
 * subscribes the API alone to answer 10008 at once, rather than letting
 * clients wait for a timeout. The leader delivers to consumers and answers
 * reads only while its lease holds (cluster/jslease.h): every member
 * answers its probes; requests that would read meanwhile get 10008 and
 * deliveries wait. Runs on the JetStream loop (start and stop:
 * the main thread, while that loop does not run).
 */
#include <errno.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <jansson.h>
#include <string.h>
#include <sodium.h>

#include "cluster/jslease.h"
#include "cluster/jsraft.h"
#include "server/jetstream/js_consumer.h"
#include "server/jetstream/js_internal.h"
#include "server/jetstream/js_mirror.h"
#include "server/jetstream/jtext.h"
#include "server/jetstream/js_propose.h"
#include "server/log.h"
#include "server/server.h"
#include "server/worker.h"

/* What an applied entry gave, for the done callback of its proposer. */
struct applied {
    const struct js_result *res;
    size_t n;
};

static int engine_apply(void *arg, const char *entry, size_t len, enum jsraft_apply_as as,
                        void **result)
{
    struct js *js = arg;
    static struct applied a; /* JetStream thread only; read right after */
    enum js_apply_as how = as == JSRAFT_APPLY_LEADING     ? JS_APPLY_LEADING
                           : as == JSRAFT_APPLY_FOLLOWING ? JS_APPLY_FOLLOWING
                                                          : JS_APPLY_REPLAY;
    int rc = js_propose_apply_entry(js, entry, len, how, &a.res, &a.n);
    *result = &a;
    return rc;
}

static void engine_done(void *arg, void *ctx, int status, void *result)
{
    const struct applied *a = result;
    js_propose_done(arg, ctx, status, a ? a->res : NULL, a ? a->n : 0);
}

static int engine_snapshot(void *arg, void **buf, size_t *len)
{
    return js_fsm_snapshot(arg, buf, len);
}

static int engine_restore(void *arg, const void *buf, size_t len)
{
    /* Raft installs snapshots on members that do not serve, and at start;
     * a serving node's runtime would point into the state it replaces. */
    struct js *js = arg;
    if (js->active)
        js_deactivate(js);
    return js_fsm_restore(js, buf, len);
}

static void engine_ask_join(void *arg, const char *name, unsigned long long id)
{
    struct js *js = arg;
    char body[256];
    /* The id as a string: raft ids use all 64 bits, past JSON integers. */
    int n = snprintf(body, sizeof body, "{\"name\":\"%s\",\"id\":\"%llu\"}", name, id);
    if (n > 0 && (size_t)n < sizeof body)
        js_send(js, JS_JOIN_SUBJECT, strlen(JS_JOIN_SUBJECT), NULL, 0, NULL, 0, body,
                (size_t)n);
}

void js_cluster_join(struct js *js, const struct js_inmsg *m)
{
    if (!js->raft)
        return;
    json_error_t err;
    json_t *j = json_loadb(m->data, m->data_len, 0, &err);
    const char *name = j ? json_string_value(json_object_get(j, "name")) : NULL;
    const char *id = j ? json_string_value(json_object_get(j, "id")) : NULL;
    char *end = NULL;
    unsigned long long v = id ? strtoull(id, &end, 10) : 0;
    if (name && v && end && !*end)
        jsraft_admit(js->raft, name, v);
    else
        LOG_WARN("JetStream cluster: a malformed join request was ignored");
    json_decref(j);
}

/* ---- the leader's lease (cluster/jslease.h) ---- */

static void engine_lease_probe(void *arg, const char *line, size_t len)
{
    struct js *js = arg;
    char reply[256];
    int n = snprintf(reply, sizeof reply, JS_GRANT_PREFIX "%s", js->srv->server_name);
    if (n > 0 && (size_t)n < sizeof reply)
        js_send(js, JS_PROBE_SUBJECT, strlen(JS_PROBE_SUBJECT), reply, (size_t)n, NULL, 0, line,
                len);
}

void js_cluster_probe(struct js *js, const struct js_inmsg *m)
{
    js_republish_leader_alive(js);
    char out[JSLEASE_LINE_MAX];
    size_t n = js->raft && m->reply ? jsraft_lease_answer(js->raft, m->data, m->data_len, out,
                                                           sizeof out)
                                     : 0;
    if (n)
        js_send(js, m->reply, m->reply_len, NULL, 0, NULL, 0, out, n);
}

/* Deliveries wait while the lease is lost (js_consumer.c): once it is
 * back, every consumer looks again. */
static void kick_all(struct js *js)
{
    for (struct js_stream *st = js->streams; st; st = st->next)
        for (struct js_consumer *c = st->consumers; c; c = c->next)
            js_consumer_kick(c);
}

void js_cluster_grant(struct js *js, const struct js_inmsg *m)
{
    if (js->raft && jsraft_lease_take(js->raft, m->data, m->data_len) && js->active)
        kick_all(js);
}

bool js_cluster_may_serve(struct js *js)
{
    return !js->raft || jsraft_lease_valid(js->raft);
}

int64_t js_cluster_serve_until_ms(struct js *js)
{
    return js->raft ? jsraft_serve_until_ms(js->raft) : INT64_MAX;
}

static int log_propose(void *arg, const char *entry, size_t len, void *ctx)
{
    struct js *js = arg;
    return jsraft_propose(js->raft, entry, len, ctx);
}

static void engine_role(void *arg, enum jsraft_role role)
{
    struct js *js = arg;
    int size = jsraft_size(js->raft);
    if (size > 0)
        js->cluster_size = size;
    js_deactivate(js);
    if (role == JSRAFT_LEADER) {
        /* What the last leader may have had no time to republish. */
        js_republish_takeover(js);
        if (js_activate(js) < 0) {
            LOG_ERROR("JetStream: out of memory starting to serve; stepping back");
            js_deactivate(js);
        }
        return;
    }
    if (role == JSRAFT_NO_LEADER && js_subscribe_api(js) < 0)
        LOG_ERROR("JetStream: out of memory subscribing the API while there is no leader");
}

void js_cluster_unavailable(struct js *js, const struct js_inmsg *m)
{
    /* A pull request's reply subject is its subscription's inbox, where a
     * JSON error would be taken for a message: seen from the client, a
     * consumer with no leader has no responders, as with nats-server. */
    if (js_is_pull_request(m)) {
        if (m->reply && m->reply_len)
            js_send_status(js, m->reply, m->reply_len, "NATS/1.0 503\r\n\r\n");
        return;
    }
    /* nats-server's answer, without its 10 s wait. */
    js_reply(js, m,
             "{\"error\":{\"code\":503,\"err_code\":10008,"
             "\"description\":\"JetStream system temporarily unavailable\"}}");
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    if (ftw->level == 0)
        return 0;
    return remove(path) < 0 ? -1 : 0;
}

int js_cluster_start(struct js *js)
{
    /* The group addresses members by server name: a name that changes at
     * every start (the server id) would lose the node its place. */
    if (!js->srv->opts.server_name || !*js->srv->opts.server_name) {
        LOG_ERROR("jetstream cluster requires `server_name` to be set");
        return -EINVAL;
    }
    if (!js->srv->cluster_name[0]) {
        LOG_ERROR("jetstream cluster requires `cluster.name` to be set");
        return -EINVAL;
    }
    /* Streams on disk from an earlier run are not trusted (their files may
     * be behind or ahead of the log): the group's snapshot and log rebuild
     * them. */
    if (nftw(js->root, remove_entry, 16, FTW_DEPTH | FTW_PHYS) < 0 && errno != ENOENT) {
        LOG_ERROR("JetStream: cannot clear %s: %s", js->root, strerror(errno));
        return -errno;
    }
    char dir[4096];
    /* root is "<store_dir>/jetstream/$G/streams"; raft lives beside $G. */
    size_t base = strlen(js->root) - strlen("/$G/streams");
    int n = snprintf(dir, sizeof dir, "%.*s/raft", (int)base, js->root);
    if (n <= 0 || (size_t)n >= sizeof dir)
        return -ENAMETOOLONG;
    struct jsraft_config cfg = {
        .base = js->env.base,
        .cluster = js->srv->cluster,
        .dir = dir,
        .name = js->srv->server_name,
        .cluster_name = js->srv->cluster_name,
        .engine = { .arg = js, .apply = engine_apply, .done = engine_done,
                    .role = engine_role, .snapshot = engine_snapshot,
                    .restore = engine_restore, .ask_join = engine_ask_join,
                    .lease_probe = engine_lease_probe },
    };
    char grant[256];
    n = snprintf(grant, sizeof grant, JS_GRANT_PREFIX "%s", js->srv->server_name);
    if (n <= 0 || (size_t)n >= sizeof grant)
        return -ENAMETOOLONG;
    /* Every member answers probes and hears answers to its own, whatever
     * its role: a leader's first probe goes out at once. */
    js->probe_sub = js_subscribe(js, JS_PROBE_SUBJECT, JS_SUB_PROBE, 0);
    js->grant_sub = js_subscribe(js, grant, JS_SUB_GRANT, 0);
    if (!js->probe_sub || !js->grant_sub)
        return -ENOMEM;
    int rc = jsraft_start(&cfg, &js->raft);
    if (rc < 0)
        return rc;
    struct js_log log = { .arg = js, .propose = log_propose };
    js_propose_set_log(js, &log);
    engine_role(js, JSRAFT_NO_LEADER);
    return 0;
}

void js_cluster_stop(struct js *js)
{
    js_unsubscribe(js, js->probe_sub);
    js_unsubscribe(js, js->grant_sub);
    js->probe_sub = js->grant_sub = NULL;
    if (!js->raft)
        return;
    jsraft_stop(js->raft);
    js->raft = NULL;
    js_propose_set_log(js, NULL);
}

/* ---- what the API shows of the group ---- */

/* nats-server's peer id: the server name's SHA-256, base64url, 8 chars. */
static void peer_hash(const char *name, char out[9])
{
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, (const unsigned char *)name, strlen(name));
    char b64[64];
    sodium_bin2base64(b64, sizeof b64, h, sizeof h, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    memcpy(out, b64, 8);
    out[8] = '\0';
}

static void append_alternate(struct js *js, struct jtext *b, const struct js_stream *s,
                             bool first)
{
    jtext_str(b, first ? ",\"alternates\":[{\"name\":" : ",{\"name\":");
    jtext_quoted(b, s->cfg.name, strlen(s->cfg.name));
    if (js->domain) {
        jtext_str(b, ",\"domain\":");
        jtext_quoted(b, js->domain, strlen(js->domain));
    }
    jtext_str(b, ",\"cluster\":");
    jtext_quoted(b, js->srv->cluster_name, strlen(js->srv->cluster_name));
    jtext_str(b, "}");
}

/* STREAM.INFO's alternates, as 2.9.10 gives them: clustered only, when a
 * stream has mirrors: itself and each mirror (every member holds them
 * all, so one cluster; the mirrors in creation order). */
void js_cluster_append_alternates(struct js *js, struct jtext *b, const struct js_stream *st)
{
    if (!js->raft || !st->nmirrors || !js->srv)
        return;
    append_alternate(js, b, st, true);
    const struct js_stream *v[64];
    size_t n = 0;
    for (const struct js_stream *m = js->streams; m && n < 64; m = m->next)
        if (m->mirror && !strcmp(m->mirror->origin, st->cfg.name))
            v[n++] = m;
    while (n--) /* the list is newest first */
        append_alternate(js, b, v[n], false);
    jtext_str(b, "]");
}

void js_cluster_append_info(struct js *js, struct jtext *b)
{
    if (!js->raft)
        return;
    jtext_str(b, ",\"cluster\":{\"name\":");
    jtext_quoted(b, js->srv->cluster_name, strlen(js->srv->cluster_name));
    const char *leader = jsraft_leader_name(js->raft);
    if (*leader) {
        jtext_str(b, ",\"leader\":");
        jtext_quoted(b, leader, strlen(leader));
    }
    struct jsraft_peer peers[16];
    size_t n = jsraft_peers(js->raft, peers, 16);
    if (n > 16)
        n = 16;
    for (size_t i = 0; i < n; i++) {
        char hash[9];
        peer_hash(peers[i].name, hash);
        jtext_str(b, i ? "," : ",\"replicas\":[");
        jtext_str(b, "{\"name\":");
        jtext_quoted(b, peers[i].name, strlen(peers[i].name));
        jtext_printf(b, ",\"current\":%s", peers[i].current ? "true" : "false");
        if (peers[i].offline)
            jtext_str(b, ",\"offline\":true");
        jtext_printf(b, ",\"active\":%lld", (long long)peers[i].active_ns);
        if (peers[i].lag)
            jtext_printf(b, ",\"lag\":%llu", (unsigned long long)peers[i].lag);
        jtext_printf(b, ",\"peer\":\"%s\"}", hash);
    }
    jtext_str(b, n ? "]}" : "}");
}

/* ---- stepdown ---- */

/* Owned until the transfer's callback. */
struct stepdown {
    struct js *js;
    char type[64];
    char reply[];
};

static void stepped_down(void *arg, bool moved)
{
    struct stepdown *sd = arg;
    const struct js_inmsg to = { .reply = sd->reply, .reply_len = strlen(sd->reply) };
    if (moved) {
        char buf[160];
        snprintf(buf, sizeof buf,
                 "{\"type\":\"io.nats.jetstream.api.v1.%s\",\"success\":true}", sd->type);
        js_reply(sd->js, &to, buf);
    } else {
        struct js_err e;
        js_err_set(&e, 10008, NULL);
        js_reply_error(sd->js, &to, sd->type, &e);
    }
    free(sd);
}

void js_cluster_stepdown(struct js *js, const struct js_inmsg *m, const char *type)
{
    struct js_err e;
    if (!js->raft) {
        js_err_set(&e, 10010, NULL);
        js_reply_error(js, m, type, &e);
        return;
    }
    size_t rlen = m->reply ? m->reply_len : 0;
    struct stepdown *sd = calloc(1, sizeof *sd + rlen + 1);
    if (!sd)
        return;
    sd->js = js;
    snprintf(sd->type, sizeof sd->type, "%s", type);
    if (rlen)
        memcpy(sd->reply, m->reply, rlen);
    /* Every stream and consumer lives in the one group: a stepdown of any
     * of them moves the group's leadership. */
    if (jsraft_transfer(js->raft, stepped_down, sd) < 0) {
        free(sd);
        js_err_set(&e, 10008, NULL);
        js_reply_error(js, m, type, &e);
    }
}

bool js_cluster_has_member(struct js *js, const char *name)
{
    if (!js->raft)
        return false;
    if (!strcmp(name, js->srv->server_name))
        return true;
    struct jsraft_peer peers[16];
    size_t n = jsraft_peers(js->raft, peers, 16);
    for (size_t i = 0; i < n && i < 16; i++)
        if (!strcmp(peers[i].name, name))
            return true;
    return false;
}
