/*
 * server/monitor_connz.c — /connz (spec/server-cli-config.md §4): every
 * connection's figures from a snapshot taken under registry_lock, sorted
 * and paged as nats-server's query parameters ask (auth, subs, offset,
 * limit, cid, state, sort, acc), each decoded and refused as nats-server
 * 2.9.10 decodes and refuses it. The builder (monitor_build.h) takes the
 * decoded options, so the system account's CONNZ request gets the same
 * object. user and mqtt_client are read by nats-server but not filtered
 * on here. Main thread only.
 */
#include <arpa/inet.h>
#include <event2/http.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "server/client.h"
#include "server/monitor_build.h"
#include "server/monitor_impl.h"
#include "server/monitor_url.h"
#include "server/server.h"
#include "server/account.h"
#include "server/sublist.h"
#include "server/ws.h"

/* The options checked and with their defaults in place. */
struct connz_query {
    int state;             /* enum monitor_conn_state */
    enum monitor_subs subs;
    bool auth;
    long offset, limit;
    uint64_t cid;          /* 0 = all */
    const char *sort;      /* static: one of sorts[] */
    const char *acc;       /* borrowed; only this account's connections */
    size_t acc_len;        /* 0: every account's */
};

struct conn_row {
    struct conn_record rec;
    bool closed;
    struct timespec last;
    json_t *subs;          /* owned until moved into the reply */
};

static bool in_account(const char *name, const struct connz_query *cq)
{
    return !cq->acc_len ||
           (strlen(name) == cq->acc_len && memcmp(name, cq->acc, cq->acc_len) == 0);
}

static size_t collect_rows(struct server *s, const struct connz_query *cq, struct conn_row **out)
{
    size_t cap = 64, n = 0;
    struct conn_row *rows = malloc(cap * sizeof *rows);
    if (!rows)
        return 0;
    pthread_mutex_lock(&s->registry_lock);
    if (cq->state == MONITOR_CONN_OPEN || cq->state == MONITOR_CONN_ANY) {
        for (struct client *c = s->clients; c; c = c->reg_next) {
            if (cq->cid && c->cid != cq->cid)
                continue;
            if (n == cap) {
                struct conn_row *nr = realloc(rows, (cap *= 2) * sizeof *rows);
                if (!nr)
                    break;
                rows = nr;
            }
            struct conn_row *r = &rows[n];
            client_fill_record(c, &r->rec);
            if (!in_account(r->rec.account, cq))
                continue;
            n++;
            r->closed = false;
            int64_t ns = atomic_load_explicit(&c->last_activity_ns, memory_order_relaxed);
            r->last.tv_sec = (time_t)(ns / 1000000000);
            r->last.tv_nsec = (long)(ns % 1000000000);
            r->subs = NULL;
            if (cq->subs == MONITOR_SUBS_LIST) {
                r->subs = json_array();
                client_each_sub(c, monitor__sub_name, r->subs);
            } else if (cq->subs == MONITOR_SUBS_DETAIL) {
                struct monitor__sub_detail_ctx d = { json_array(), c->cid };
                client_each_sub(c, monitor__sub_detail, &d);
                r->subs = d.arr;
            }
        }
    }
    if (cq->state == MONITOR_CONN_CLOSED || cq->state == MONITOR_CONN_ANY) {
        for (size_t i = 0; i < s->closed_count; i++) {
            size_t idx = (s->closed_next + s->closed_cap - s->closed_count + i) % s->closed_cap;
            if ((cq->cid && s->closed[idx].cid != cq->cid) ||
                !in_account(s->closed[idx].account, cq))
                continue;
            if (n == cap) {
                struct conn_row *nr = realloc(rows, (cap *= 2) * sizeof *rows);
                if (!nr)
                    break;
                rows = nr;
            }
            rows[n].rec = s->closed[idx];
            rows[n].closed = true;
            rows[n].last = s->closed[idx].stop;
            rows[n].subs = NULL;
            n++;
        }
    }
    pthread_mutex_unlock(&s->registry_lock);
    *out = rows;
    return n;
}

static const char *sort_key;

static int cmp_u64(uint64_t a, uint64_t b) { return a < b ? -1 : a > b; }

static int cmp_rows(const void *pa, const void *pb)
{
    const struct conn_row *a = pa, *b = pb;
    const char *k = sort_key;
    /* Every sort but cid and start is descending, as nats-server's. */
    if (!strcmp(k, "subs"))
        return cmp_u64(b->rec.subs, a->rec.subs);
    if (!strcmp(k, "msgs_to"))
        return cmp_u64(b->rec.out_msgs, a->rec.out_msgs);
    if (!strcmp(k, "msgs_from"))
        return cmp_u64(b->rec.in_msgs, a->rec.in_msgs);
    if (!strcmp(k, "bytes_to"))
        return cmp_u64(b->rec.out_bytes, a->rec.out_bytes);
    if (!strcmp(k, "bytes_from"))
        return cmp_u64(b->rec.in_bytes, a->rec.in_bytes);
    if (!strcmp(k, "stop"))
        return cmp_u64((uint64_t)b->rec.stop.tv_sec, (uint64_t)a->rec.stop.tv_sec);
    if (!strcmp(k, "last"))
        return cmp_u64((uint64_t)b->last.tv_sec, (uint64_t)a->last.tv_sec);
    return cmp_u64(a->rec.cid, b->rec.cid); /* cid, start, others */
}

static json_t *conn_json(const struct conn_row *r, const struct connz_query *cq,
                         const struct timespec *now)
{
    const struct conn_record *c = &r->rec;
    char up[64], idle[64];
    monitor__fmt_uptime(up, sizeof up, monitor__secs_between(&c->start, r->closed ? &c->stop : now));
    monitor__fmt_uptime(idle, sizeof idle, monitor__secs_between(&r->last, now));
    json_t *o = json_object();
    json_object_set_new(o, "cid", json_integer((json_int_t)c->cid));
    json_object_set_new(o, "kind", json_string("Client"));
    json_object_set_new(o, "type", json_string("nats"));
    json_object_set_new(o, "ip", json_string(c->ip));
    json_object_set_new(o, "port", json_integer(c->port));
    json_object_set_new(o, "start", monitor__jtime(&c->start));
    json_object_set_new(o, "last_activity", monitor__jtime(&r->last));
    if (r->closed)
        json_object_set_new(o, "stop", monitor__jtime(&c->stop));
    json_object_set_new(o, "rtt", json_string("0s"));
    json_object_set_new(o, "uptime", json_string(up));
    json_object_set_new(o, "idle", json_string(idle));
    json_object_set_new(o, "pending_bytes", json_integer(0));
    json_object_set_new(o, "in_msgs", json_integer((json_int_t)c->in_msgs));
    json_object_set_new(o, "out_msgs", json_integer((json_int_t)c->out_msgs));
    json_object_set_new(o, "in_bytes", json_integer((json_int_t)c->in_bytes));
    json_object_set_new(o, "out_bytes", json_integer((json_int_t)c->out_bytes));
    json_object_set_new(o, "subscriptions", json_integer((json_int_t)c->subs));
    if (c->tls_version[0]) {
        json_object_set_new(o, "tls_version", json_string(c->tls_version));
        json_object_set_new(o, "tls_cipher_suite", json_string(c->tls_cipher));
    }
    if (c->name[0])
        json_object_set_new(o, "name", json_string(c->name));
    if (c->lang[0])
        json_object_set_new(o, "lang", json_string(c->lang));
    if (c->version[0])
        json_object_set_new(o, "version", json_string(c->version));
    if (cq->auth && c->user[0]) {
        json_object_set_new(o, "authorized_user", json_string(c->user));
        json_object_set_new(o, "account", json_string(c->account));
    }
    if (r->closed && c->reason)
        json_object_set_new(o, "reason", json_string(c->reason));
    return o;
}

/* nats-server's sort options; all but cid and start sort descending. */
static const char *const sorts[] = { "cid", "start", "subs", "pending", "msgs_to", "msgs_from",
                                     "bytes_to", "bytes_from", "last", "idle", "uptime",
                                     "stop", "reason", "rtt" };

/* o checked as nats-server's Connz checks it, its defaults filled in. */
static bool check_opts(const struct monitor_connz_opts *o, struct connz_query *cq, char *err,
                       size_t errlen)
{
    memset(cq, 0, sizeof *cq);
    cq->sort = sorts[0];
    if (o->sort_len) {
        cq->sort = NULL;
        for (size_t i = 0; i < sizeof sorts / sizeof sorts[0] && !cq->sort; i++)
            if (strlen(sorts[i]) == o->sort_len && memcmp(o->sort, sorts[i], o->sort_len) == 0)
                cq->sort = sorts[i];
        if (!cq->sort) {
            snprintf(err, errlen, "invalid sorting option: %.*s",
                     (int)(o->sort_len > 600 ? 600 : o->sort_len), o->sort);
            return false;
        }
    }
    if ((!strcmp(cq->sort, "stop") || !strcmp(cq->sort, "reason")) &&
        o->state != MONITOR_CONN_CLOSED) {
        snprintf(err, errlen, "sort by %s only valid on closed connections", cq->sort);
        return false;
    }
    cq->state = o->state;
    cq->subs = o->subs;
    cq->auth = o->auth;
    cq->offset = o->offset < 0 ? 0 : (long)o->offset;
    cq->limit = o->limit <= 0 ? 1024 : (long)o->limit;
    cq->cid = o->cid;
    if (cq->cid)
        cq->limit = 1; /* one connection asked for, as nats-server says */
    cq->acc = o->acc;
    cq->acc_len = o->acc_len;
    return true;
}

/* An account that does not exist: nats-server's empty, id-less list. */
static json_t *unknown_account(struct monitor *m, const struct connz_query *cq)
{
    bool sys = cq->acc_len == 4 && memcmp(cq->acc, "$SYS", 4) == 0;
    json_t *o = json_object();
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    json_object_set_new(o, "server_id", json_string(sys ? m->srv->server_id : ""));
    json_object_set_new(o, "now", monitor__jtime(&now));
    json_object_set_new(o, "num_connections", json_integer(0));
    json_object_set_new(o, "total", json_integer(0));
    json_object_set_new(o, "offset", json_integer(cq->offset));
    json_object_set_new(o, "limit", json_integer(cq->limit));
    json_object_set_new(o, "connections", sys ? json_array() : json_null());
    return o;
}

json_t *monitor_connz(struct monitor *m, const struct monitor_connz_opts *o, char *err,
                      size_t errlen)
{
    struct connz_query cq;
    if (!check_opts(o, &cq, err, errlen))
        return NULL;
    if (cq.acc_len && !account_find(m->srv->accounts, cq.acc, cq.acc_len))
        return unknown_account(m, &cq);
    struct conn_row *rows = NULL;
    size_t n = collect_rows(m->srv, &cq, &rows);
    sort_key = cq.sort; /* qsort has no context argument; main thread only */
    qsort(rows, n, sizeof *rows, cmp_rows);
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    json_t *conns = json_array();
    for (size_t i = 0; i < n; i++) {
        bool in_page = i >= (size_t)cq.offset && json_array_size(conns) < (size_t)cq.limit;
        if (in_page) {
            json_t *c = conn_json(&rows[i], &cq, &now);
            if (rows[i].subs)
                json_object_set_new(c, cq.subs == MONITOR_SUBS_DETAIL
                                           ? "subscriptions_list_detail"
                                           : "subscriptions_list",
                                    rows[i].subs);
            json_array_append_new(conns, c);
        } else if (rows[i].subs) {
            json_decref(rows[i].subs);
        }
    }
    free(rows);
    json_t *res = monitor__header_object(m);
    json_object_set_new(res, "num_connections", json_integer((json_int_t)json_array_size(conns)));
    json_object_set_new(res, "total", json_integer((json_int_t)n));
    json_object_set_new(res, "offset", json_integer(cq.offset));
    json_object_set_new(res, "limit", json_integer(cq.limit));
    json_object_set_new(res, "connections", conns);
    return res;
}

/* Fill o from the query in nats-server's order (auth, subs, offset,
 * limit, cid, state, sort, acc); the sort's own checks are the
 * builder's. False when refused: the 400 with nats-server's text has gone
 * out. */
static bool read_connz_query(struct evhttp_request *req, const struct monitor_url_query *q,
                             struct monitor_connz_opts *o)
{
    memset(o, 0, sizeof *o);
    int subs = 0;
    size_t n;
    const char *v;
    char err[700];
    if (!monitor__decode_bool(req, q, "auth", &o->auth) ||
        !monitor__decode_subs(req, q, &subs) ||
        !monitor__decode_int(req, q, "offset", &o->offset) ||
        !monitor__decode_int(req, q, "limit", &o->limit))
        return false;
    o->subs = (enum monitor_subs)subs;
    if (monitor_url_uint64(q, "cid", &o->cid, err, sizeof err) < 0)
        goto refuse;
    if ((v = monitor_url_get(q, "state", &n)) && n) {
        if (!strcasecmp(v, "open") && n == 4)
            o->state = MONITOR_CONN_OPEN;
        else if (!strcasecmp(v, "closed") && n == 6)
            o->state = MONITOR_CONN_CLOSED;
        else if ((!strcasecmp(v, "any") || !strcasecmp(v, "all")) && n == 3)
            o->state = MONITOR_CONN_ANY;
        else {
            snprintf(err, sizeof err, "Error decoding state for %.*s", (int)(n > 600 ? 600 : n), v);
            goto refuse;
        }
    }
    o->sort = monitor_url_get(q, "sort", &o->sort_len);
    o->acc = monitor_url_get(q, "acc", &o->acc_len);
    return true;
refuse:
    monitor__reply_text(req, 400, err);
    return false;
}

void monitor__on_connz(struct monitor *m, struct evhttp_request *req,
                       const struct monitor_url_query *q)
{
    struct monitor_connz_opts o;
    if (!read_connz_query(req, q, &o))
        return;
    char err[700];
    json_t *res = monitor_connz(m, &o, err, sizeof err);
    if (!res) {
        monitor__reply_text(req, 400, err);
        return;
    }
    m->req_connz++;
    monitor__reply_json(req, 200, res, false, q);
}
