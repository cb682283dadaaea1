/*
 * server/jetstream/js_fsm.c — js_fsm_apply: one command in, one typed result
 * out (contract in js_fsm.h).
 *
 * The dispatcher finds the stream a command names and hands it to the apply
 * function of its op (js_stream.c for stream life cycle, purge, deletes and
 * expiry; js_publish.c for publishes). Configs travel as the normalised
 * JSON the API echoes, so a create or update parses that text here: every
 * replica reads the same bytes into the same struct. A command for a
 * stream that does not exist is a business outcome (10059), never a
 * failure: in a replicated log a delete may legitimately come first.
 * Runs only on the JetStream loop.
 */
#include "server/jetstream/js_fsm.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "server/jetstream/js_consumer.h"
#include "server/jetstream/js_internal.h"
#include "server/jetstream/js_mirror.h"
#include "server/jetstream/js_source.h"
#include "server/jetstream/js_propose.h"
#include "server/kmap.h"

static struct js_stream *named(struct js *js, struct jscmd_bytes name, struct js_result *res)
{
    struct js_stream *st = name.ptr ? js_stream_find(js, name.ptr, name.len) : NULL;
    if (!st)
        js_err_set(&res->err, 10059, NULL);
    return st;
}

/* STREAM_CREATE / STREAM_UPDATE: the config's name must be the command's. */
static int parse_config(struct js *js, const struct jscmd *cmd, bool create,
                        struct js_stream_config *cfg,
                        struct js_result *res)
{
    char name[256];
    if (cmd->stream.len >= sizeof name)
        return js_err_set(&res->err, 10058, NULL);
    memcpy(name, cmd->stream.ptr, cmd->stream.len);
    name[cmd->stream.len] = '\0';
    /* Replicas against the group's size are the proposer's check (a
     * restarting member may not know the size yet): apply only must not
     * refuse what the API took. */
    return js_stream_config_parse(cmd->config.ptr, cmd->config.len, name, create,
                                  js->clustered, js->clustered ? 0 : 1, cfg,
                                  &res->err);
}

static int apply_create_or_update(struct js *js, const struct jscmd *cmd, struct js_result *res)
{
    bool create = cmd->op == JSCMD_STREAM_CREATE;
    struct js_stream_config cfg = { 0 };
    int rc = 0;
    if (parse_config(js, cmd, create, &cfg, res) == 0) {
        bool exists = js_stream_find(js, cfg.name, strlen(cfg.name)) != NULL;
        if (create && !exists && cmd->acct_streams && js->nstreams >= cmd->acct_streams) {
            /* The account's max_streams, as the proposer saw it. */
            js_err_set(&res->err, 10027, NULL);
        } else if (create) {
            rc = js_apply_stream_create(js, &cfg, (int64_t)cmd->created_ns, cmd->acct_max, res);
            /* Where a new stream starts (first_seq, a mirror's start) is
             * decided here only, from the state at this point of the log: a
             * snapshot restore re-creates streams with their sequences. */
            if (rc == 0 && res->created)
                rc = js_apply_stream_start(js, js_stream_by_id(js, res->stream_id), res);
        } else {
            struct js_stream *st = named(js, cmd->stream, res);
            if (st)
                rc = js_apply_stream_update(js, st, &cfg, cmd->acct_max, res);
        }
    }
    js_stream_config_free(&cfg);
    return rc;
}

static int apply_publish(struct js *js, const struct jscmd_publish *p, struct js_result *res)
{
    struct js_stream *st = named(js, p->stream, res);
    if (!st)
        return 0;
    res->stream_id = st->id;
    return js_apply_publish(js, st, p, res);
}

int js_fsm_apply(struct js *js, const struct jscmd *cmd, struct js_result *res)
{
    js->nderived = 0;
    memset(res, 0, sizeof *res);
    res->op = cmd->op;
    struct js_stream *st;
    switch (cmd->op) {
    case JSCMD_STREAM_CREATE:
    case JSCMD_STREAM_UPDATE:
        return apply_create_or_update(js, cmd, res);
    case JSCMD_STREAM_DELETE:
        if (!(st = named(js, cmd->stream, res)))
            return 0;
        res->stream_id = st->id;
        /* The stream is gone from the state either way; a directory the
         * store could not remove is logged there and harms no replica. */
        (void)js_apply_stream_delete(js, st);
        return 0;
    case JSCMD_STREAM_PURGE:
        if (!(st = named(js, cmd->stream, res)))
            return 0;
        return js_apply_stream_purge(st, cmd, res);
    case JSCMD_MSG_DELETE:
        if (!(st = named(js, cmd->stream, res)))
            return 0;
        return js_apply_msg_delete(st, cmd->seq, res);
    case JSCMD_STREAM_EXPIRE:
        if (!(st = named(js, cmd->stream, res)))
            return 0;
        return js_apply_stream_expire(st, (int64_t)cmd->cutoff_ns, (int64_t)cmd->now_ns, res);
    case JSCMD_STREAM_SYNC:
        if (!(st = named(js, cmd->stream, res)))
            return 0;
        res->stream_id = st->id;
        {
            int rc = js_mirror_sync(js, st, cmd->seq);
            return rc ? rc : js_source_sync(js, st, cmd->seq);
        }
    case JSCMD_PUBLISH:
        return apply_publish(js, &cmd->pub, res);
    case JSCMD_CONSUMER_CREATE:
        return js_consumer_fsm_create(js, cmd, res);
    case JSCMD_CONSUMER_UPDATE:
        return js_consumer_fsm_update(js, cmd, res);
    case JSCMD_CONSUMER_DELETE:
        return js_consumer_fsm_delete(js, cmd, res);
    case JSCMD_CONSUMER_ACKS:
        return js_consumer_fsm_acks(js, &cmd->acks, res);
    default:
        /* Ops whose apply is not here yet (consumers, batches) are applied
         * by their own modules; reaching this is a proposer bug. */
        js_err_set(&res->err, 10003, NULL);
        return 0;
    }
}

/* ---- digest ---- */

static uint64_t mix(uint64_t h, const void *p, size_t n)
{
    return kmap_hash(h, p, n);
}

static uint64_t mix_u64(uint64_t h, uint64_t v)
{
    return mix(h, &v, sizeof v);
}

static uint64_t stream_digest(struct js_stream *st, bool dedupe)
{
    uint64_t h = mix(0, st->cfg.name, strlen(st->cfg.name));
    char *cfg = js_stream_config_to_json(&st->cfg);
    if (cfg)
        h = mix(h, cfg, strlen(cfg));
    free(cfg);
    h = mix_u64(h, (uint64_t)st->created);
    struct store_state s;
    store_get_state(st->store, &s);
    h = mix_u64(h, s.msgs);
    h = mix_u64(h, s.bytes);
    h = mix_u64(h, s.first_seq);
    h = mix_u64(h, s.last_seq);
    h = mix_u64(h, (uint64_t)s.last_ts);
    for (size_t i = 0; st->sources && i < st->sources->n; i++)
        h = mix_u64(h, st->sources->v[i].cursor);
    struct store_msg m = { 0 };
    for (uint64_t seq = s.first_seq; s.msgs && store_load_next(st->store, seq, NULL, 0, &m) == 0;
         seq = m.seq + 1) {
        h = mix_u64(h, m.seq);
        h = mix_u64(h, (uint64_t)m.ts);
        h = mix(h, m.subject, m.subject_len);
        h = mix(h, m.hdr ? m.hdr : "", m.hdr_len);
        h = mix(h, m.data ? m.data : "", m.data_len);
    }
    store_msg_free(&m);
    /* Consumers combined order-free: their list order is creation order,
     * which a restart does not keep. */
    uint64_t ch = 0;
    for (struct js_consumer *c = st->consumers; c; c = js_consumer_next(c))
        ch ^= js_consumer_digest(c, 0);
    h = mix_u64(h, ch);
    h = mix_u64(h, st->nconsumers);
    if (!dedupe)
        return h;
    /* The clock, like the dedupe table, is rebuilt from the stored
     * messages at a restart (js_stream.c), so it counts only here. */
    h = mix_u64(h, (uint64_t)st->clock);
    for (struct js_msgid *e = st->msgid_head; e; e = e->next) {
        h = mix(h, e->key.bytes, e->key.len);
        h = mix_u64(h, e->seq);
        h = mix_u64(h, (uint64_t)e->ts);
    }
    h = mix(h, st->last_msg_id ? st->last_msg_id : "", st->last_msg_id ? strlen(st->last_msg_id) : 0);
    return h;
}

uint64_t js_fsm_digest(struct js *js, bool dedupe)
{
    /* Streams are combined order-free (XOR of per-stream digests): replicas
     * list streams in the order they opened them, which a restart changes. */
    uint64_t h = mix_u64(0, js->nstreams);
    for (struct js_stream *st = js->streams; st; st = st->next)
        h ^= stream_digest(st, dedupe);
    return h;
}

/* ---- a replica without runtime ---- */

int js_fsm_replica_open(const char *root, struct js **out)
{
    struct js *js = calloc(1, sizeof *js);
    if (!js)
        return -ENOMEM;
    js->max_memory = js->max_store = -1;
    js->acc = OPTS_JS_NO_LIMITS;
    js->root = strdup(root);
    int rc = js->root ? js_streams_init(js) : -ENOMEM;
    /* A proposer without a loop, so that committed raft entries can reach
     * the replica the way they reach a member (js_propose_apply_entry). */
    if (rc == 0)
        rc = js_propose_init(js);
    if (rc == 0 && mkdir(root, 0750) < 0 && errno != EEXIST)
        rc = -errno;
    if (rc == 0)
        rc = js_stream_load_all(js);
    if (rc < 0) {
        js_fsm_replica_close(js);
        return rc;
    }
    *out = js;
    return 0;
}

void js_fsm_replica_close(struct js *js)
{
    if (!js)
        return;
    js_streams_close(js);
    js_propose_free(js);
    free(js->root);
    free(js->derived);
    free(js);
}
