/*
 * server/sysacc_answer.c — one system account request answered, on the
 * main thread (see sysacc.h). Its JSON body is decoded as nats-server's Go
 * decoder decodes the endpoint's options type (<EP>EventOptions: the
 * endpoint's options and the filters): keys matched without regard to
 * case, unknown keys ignored, null left alone, a value of the wrong type
 * refused with Go's text (a body that is not JSON gets the parser's own
 * words, which are not Go's). A node the filters do not select stays
 * silent. Then the monitor's builder makes the endpoint's object and it
 * goes out wrapped as nats-server's ServerAPIResponse, written compact
 * with Go's escapes of <, > and &, as json.Marshal writes it:
 *
 *   {"server":{...},"data":{...}}                  answered
 *   {"server":{...},"error":{"code":400,...}}      a body it cannot decode
 *   {"server":{...},"data":null,"error":{"code":500,...}}   options refused
 *
 * ("statsz" instead of "data" for STATSZ, nats-server's ServerStatsMsg.)
 */
#include <errno.h>
#include <jansson.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "server/log.h"
#include "server/monitor_build.h"
#include "server/server.h"
#include "server/sysacc_impl.h"
#include "server/version.h"

/* ---- the options ---- */

/* Every option some endpoint takes; each endpoint decodes only its own.
 * Strings and tags are borrowed from the parsed body. */
struct req_opts {
    /* nats-server's EventFilterOptions */
    const char *server_name, *cluster, *host, *domain;
    json_t *tags;
    /* the endpoints' own */
    bool subscriptions, subscriptions_detail, auth;
    bool accounts, streams, consumer, config, leader_only;
    bool js_enabled_only, js_server_only;
    int64_t offset, limit, state;
    uint64_t cid;
    const char *sort, *acc, *account, *test;
    const char *ignored;       /* read (and type-checked) as nats-server does, not used */
};

enum kind { K_BOOL, K_INT, K_UINT64, K_STRING, K_STRINGS };

struct field {
    const char *key;           /* the JSON key nats-server's struct tag names */
    enum kind kind;
    size_t off;                /* into struct req_opts */
    const char *go_type;       /* as Go's decode errors name it */
};

#define F(key, kind, member, go_type) { key, kind, offsetof(struct req_opts, member), go_type }

static const struct field filter_fields[] = {
    F("server_name", K_STRING, server_name, "string"),
    F("cluster", K_STRING, cluster, "string"),
    F("host", K_STRING, host, "string"),
    F("tags", K_STRINGS, tags, "[]string"),
    F("domain", K_STRING, domain, "string"),
};

static const struct field connz_fields[] = {
    F("sort", K_STRING, sort, "server.SortOpt"),
    F("auth", K_BOOL, auth, "bool"),
    F("subscriptions", K_BOOL, subscriptions, "bool"),
    F("subscriptions_detail", K_BOOL, subscriptions_detail, "bool"),
    F("offset", K_INT, offset, "int"),
    F("limit", K_INT, limit, "int"),
    F("cid", K_UINT64, cid, "uint64"),
    F("mqtt_client", K_STRING, ignored, "string"),
    F("state", K_INT, state, "server.ConnState"),
    F("user", K_STRING, ignored, "string"),
    F("acc", K_STRING, acc, "string"),
    F("filter_subject", K_STRING, ignored, "string"),
};

static const struct field subsz_fields[] = {
    F("offset", K_INT, offset, "int"),
    F("limit", K_INT, limit, "int"),
    F("subscriptions", K_BOOL, subscriptions, "bool"),
    F("account", K_STRING, account, "string"),
    F("test", K_STRING, test, "string"),
};

static const struct field routez_fields[] = {
    F("subscriptions", K_BOOL, subscriptions, "bool"),
    F("subscriptions_detail", K_BOOL, subscriptions_detail, "bool"),
};

static const struct field jsz_fields[] = {
    F("account", K_STRING, ignored, "string"),
    F("accounts", K_BOOL, accounts, "bool"),
    F("streams", K_BOOL, streams, "bool"),
    F("consumer", K_BOOL, consumer, "bool"),
    F("config", K_BOOL, config, "bool"),
    F("leader_only", K_BOOL, leader_only, "bool"),
    F("offset", K_INT, offset, "int"),
    F("limit", K_INT, limit, "int"),
};

static const struct field healthz_fields[] = {
    F("js-enabled-only", K_BOOL, js_enabled_only, "bool"),
    F("js-server-only", K_BOOL, js_server_only, "bool"),
};

static const struct field accountz_fields[] = {
    F("account", K_STRING, account, "string"),
};

/* ---- the endpoints ---- */

enum built {
    BUILT,                     /* *data is the answer */
    REFUSED,                   /* the options are refused: err says why */
    SILENT,                    /* no answer (jsz leader_only, not the leader) */
};

typedef enum built (*build_fn)(struct monitor *m, const struct req_opts *o, json_t **data,
                               char *err, size_t errlen);

static enum built build_statsz(struct monitor *m, const struct req_opts *o, json_t **data,
                               char *err, size_t errlen)
{
    (void)o, (void)err, (void)errlen;
    *data = monitor_statsz(m);
    return BUILT;
}

static enum built build_varz(struct monitor *m, const struct req_opts *o, json_t **data,
                             char *err, size_t errlen)
{
    (void)o, (void)err, (void)errlen;
    *data = monitor_varz(m);
    return BUILT;
}

static enum monitor_subs subs_of(const struct req_opts *o)
{
    /* nats-server: detail wins over the plain list. */
    return o->subscriptions_detail ? MONITOR_SUBS_DETAIL
           : o->subscriptions      ? MONITOR_SUBS_LIST
                                   : MONITOR_SUBS_NONE;
}

static size_t len_of(const char *s)
{
    return s ? strlen(s) : 0;
}

static enum built build_connz(struct monitor *m, const struct req_opts *o, json_t **data,
                              char *err, size_t errlen)
{
    struct monitor_connz_opts c = {
        /* a ConnState other than open, closed and any lists nothing */
        .state = o->state >= MONITOR_CONN_OPEN && o->state <= MONITOR_CONN_ANY ? (int)o->state
                                                                             : -1,
        .subs = subs_of(o),
        .auth = o->auth,
        .offset = o->offset,
        .limit = o->limit,
        .cid = o->cid,
        .sort = o->sort,
        .sort_len = len_of(o->sort),
        .acc = o->acc,
        .acc_len = len_of(o->acc),
    };
    *data = monitor_connz(m, &c, err, errlen);
    return *data ? BUILT : REFUSED;
}

static enum built build_subsz(struct monitor *m, const struct req_opts *o, json_t **data,
                              char *err, size_t errlen)
{
    struct monitor_subsz_opts s = {
        .subs = o->subscriptions,
        .offset = o->offset,
        .limit = o->limit,
        .test = o->test,
        .test_len = len_of(o->test),
        .acc = o->account,
        .acc_len = len_of(o->account),
    };
    *data = monitor_subsz(m, &s, err, errlen);
    return *data ? BUILT : REFUSED;
}

static enum built build_routez(struct monitor *m, const struct req_opts *o, json_t **data,
                               char *err, size_t errlen)
{
    (void)err, (void)errlen;
    *data = monitor_routez(m, subs_of(o));
    return BUILT;
}

/* nats-server sends nothing when leader_only asks a node that does not
 * lead (its errSkipZreq); the config details are not built, as /jsz. */
static enum built build_jsz(struct monitor *m, const struct req_opts *o, json_t **data,
                            char *err, size_t errlen)
{
    (void)err, (void)errlen;
    if (o->leader_only && !monitor_js_leader(m))
        return SILENT;
    *data = monitor_jsz(m, o->accounts, o->streams, o->consumer);
    return BUILT;
}

static enum built build_healthz(struct monitor *m, const struct req_opts *o, json_t **data,
                                char *err, size_t errlen)
{
    (void)err, (void)errlen;
    *data = monitor_healthz(m, o->js_enabled_only);
    return BUILT;
}

static enum built build_accountz(struct monitor *m, const struct req_opts *o, json_t **data,
                                 char *err, size_t errlen)
{
    *data = monitor_accountz(m, o->account, len_of(o->account), err, errlen);
    return *data ? BUILT : REFUSED;
}

#define FIELDS(a) a, sizeof a / sizeof a[0]

static const struct endpoint {
    const char *name;          /* the subject's last token */
    const char *go_type;       /* nats-server's options type, for decode errors */
    const struct field *fields;
    size_t nfields;
    build_fn build;
} endpoints[SYSACC_EP_COUNT] = {
    [SYSACC_EP_STATSZ] = { "STATSZ", "StatszEventOptions", NULL, 0, build_statsz },
    [SYSACC_EP_VARZ] = { "VARZ", "VarzEventOptions", NULL, 0, build_varz },
    [SYSACC_EP_CONNZ] = { "CONNZ", "ConnzEventOptions", FIELDS(connz_fields), build_connz },
    [SYSACC_EP_SUBSZ] = { "SUBSZ", "SubszEventOptions", FIELDS(subsz_fields), build_subsz },
    [SYSACC_EP_ROUTEZ] = { "ROUTEZ", "RoutezEventOptions", FIELDS(routez_fields),
                           build_routez },
    [SYSACC_EP_JSZ] = { "JSZ", "JszEventOptions", FIELDS(jsz_fields), build_jsz },
    [SYSACC_EP_HEALTHZ] = { "HEALTHZ", "HealthzEventOptions", FIELDS(healthz_fields),
                            build_healthz },
    [SYSACC_EP_ACCOUNTZ] = { "ACCOUNTZ", "AccountzEventOptions", FIELDS(accountz_fields),
                             build_accountz },
};

const char *sysacc__ep_name(enum sysacc_ep ep)
{
    return endpoints[ep].name;
}

/* ---- decoding, as Go's encoding/json ---- */

/* How Go's decode errors name a JSON value. */
static const char *kind_word(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_STRING: return "string";
    case JSON_INTEGER:
    case JSON_REAL: return "number";
    case JSON_TRUE:
    case JSON_FALSE: return "bool";
    case JSON_ARRAY: return "array";
    case JSON_OBJECT: return "object";
    default: return "null";
    }
}

/* Go names a number an integer field cannot hold with its text; the
 * parsed value's shortest form stands in for the text as sent. */
static const char *number_word(const json_t *v, char *buf, size_t cap)
{
    if (json_is_integer(v))
        snprintf(buf, cap, "number %lld", (long long)json_integer_value(v));
    else
        snprintf(buf, cap, "number %g", json_real_value(v));
    return buf;
}

static bool store_strings(const struct field *f, json_t *v, json_t **dst, const char *type,
                          char *err, size_t errlen)
{
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e) {
        if (!json_is_string(e) && !json_is_null(e)) {
            snprintf(err, errlen,
                     "json: cannot unmarshal %s into Go struct field %s.%s of type string",
                     kind_word(e), type, f->key);
            return false;
        }
    }
    *dst = v;
    return true;
}

/* v into o's field f; false, with Go's text in err, when it cannot go. */
static bool store(const struct field *f, json_t *v, struct req_opts *o, const char *type,
                  char *err, size_t errlen)
{
    void *dst = (char *)o + f->off;
    const char *got = kind_word(v);
    char num[64];
    if (json_is_null(v))
        return true; /* Go leaves the field as it was */
    switch (f->kind) {
    case K_BOOL:
        if (json_is_boolean(v)) {
            *(bool *)dst = json_is_true(v);
            return true;
        }
        break;
    case K_INT:
        if (json_is_integer(v)) {
            *(int64_t *)dst = json_integer_value(v);
            return true;
        }
        if (json_is_real(v))
            got = number_word(v, num, sizeof num);
        break;
    case K_UINT64:
        if (json_is_integer(v) && json_integer_value(v) >= 0) {
            *(uint64_t *)dst = (uint64_t)json_integer_value(v);
            return true;
        }
        if (json_is_number(v))
            got = number_word(v, num, sizeof num);
        break;
    case K_STRING:
        if (json_is_string(v)) {
            *(const char **)dst = json_string_value(v);
            return true;
        }
        break;
    case K_STRINGS:
        if (json_is_array(v))
            return store_strings(f, v, dst, type, err, errlen);
        break;
    }
    snprintf(err, errlen, "json: cannot unmarshal %s into Go struct field %s.%s of type %s", got,
             type, f->key, f->go_type);
    return false;
}

/* Go matches a key to a field without regard to case. */
static const struct field *find_field(const struct endpoint *e, const char *key)
{
    for (size_t i = 0; i < sizeof filter_fields / sizeof filter_fields[0]; i++)
        if (!strcasecmp(filter_fields[i].key, key))
            return &filter_fields[i];
    for (size_t i = 0; i < e->nfields; i++)
        if (!strcasecmp(e->fields[i].key, key))
            return &e->fields[i];
    return NULL;
}

/* body into o (strings borrowed from *doc, which the caller frees). An
 * empty body is no options. 0, or -EINVAL with the reason in err. */
static int decode(const struct endpoint *e, const char *body, size_t len, json_t **doc,
                  struct req_opts *o, char *err, size_t errlen)
{
    memset(o, 0, sizeof *o);
    *doc = NULL;
    if (!len)
        return 0;
    json_error_t je;
    if (!(*doc = json_loadb(body, len, JSON_DECODE_ANY, &je))) {
        snprintf(err, errlen, "%s", je.text);
        return -EINVAL;
    }
    if (json_is_null(*doc))
        return 0;
    if (!json_is_object(*doc)) {
        snprintf(err, errlen, "json: cannot unmarshal %s into Go value of type server.%s",
                 kind_word(*doc), e->go_type);
        return -EINVAL;
    }
    const char *key;
    json_t *v;
    json_object_foreach(*doc, key, v) {
        const struct field *f = find_field(e, key);
        if (f && !store(f, v, o, e->go_type, err, errlen))
            return -EINVAL;
    }
    return 0;
}

/* nats-server's filterRequest: does the request select this node? Names,
 * hosts and clusters match as substrings; Tern has no server tags, so
 * any tag asked for leaves it out. */
static bool selected(const struct server *s, const struct req_opts *o)
{
    if (o->server_name && *o->server_name && !strstr(s->server_name, o->server_name))
        return false;
    if (o->host && *o->host && !strstr(s->client_host, o->host))
        return false;
    if (o->cluster && *o->cluster && !strstr(s->cluster_name, o->cluster))
        return false;
    if (o->tags && json_array_size(o->tags) > 0)
        return false;
    if (o->domain && *o->domain && strcmp(s->js_domain, o->domain) != 0)
        return false;
    return true;
}

/* ---- the answer ---- */

/* nats-server's ServerInfo, stamped as its send loop stamps each message. */
static json_t *server_info(struct sysacc *sa)
{
    struct server *s = sa->srv;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    json_t *o = json_object();
    json_object_set_new(o, "name", json_string(s->server_name));
    json_object_set_new(o, "host", json_string(s->client_host));
    json_object_set_new(o, "id", json_string(s->server_id));
    if (s->cluster_name[0])
        json_object_set_new(o, "cluster", json_string(s->cluster_name));
    if (s->js_domain[0])
        json_object_set_new(o, "domain", json_string(s->js_domain));
    json_object_set_new(o, "ver", json_string(TERN_PROTO_VERSION));
    json_object_set_new(o, "seq", json_integer((json_int_t)++sa->seq));
    json_object_set_new(o, "jetstream", json_boolean(s->jetstream_on));
    json_object_set_new(o, "time", monitor_json_time(&now));
    return o;
}

static json_t *api_error(int code, const char *description)
{
    json_t *o = json_object();
    json_object_set_new(o, "code", json_integer(code));
    json_object_set_new(o, "description", json_string(description));
    return o;
}

/* U+2028 or U+2029 in UTF-8, which Go escapes as JavaScript needs. */
static bool line_sep(const unsigned char *p, size_t left)
{
    return left >= 3 && p[0] == 0xE2 && p[1] == 0x80 && (p[2] == 0xA8 || p[2] == 0xA9);
}

/* Go's json.Marshal escapes <, > and & (and U+2028, U+2029) inside
 * strings; none can occur outside one, so one pass over the text does.
 * A new string of *len bytes, or NULL out of memory. */
static char *go_escape(const char *text, size_t *len)
{
    const unsigned char *t = (const unsigned char *)text;
    size_t n = strlen(text), grow = 0;
    for (size_t i = 0; i < n; i++)
        grow += t[i] == '<' || t[i] == '>' || t[i] == '&' ? 5 : line_sep(t + i, n - i) ? 3 : 0;
    char *out = malloc(n + grow + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (t[i] == '<' || t[i] == '>' || t[i] == '&') {
            o += (size_t)sprintf(out + o, "\\u%04x", t[i]);
        } else if (line_sep(t + i, n - i)) {
            o += (size_t)sprintf(out + o, "\\u%04x", 0x2000u + t[i + 2] - 0x80u);
            i += 2;
        } else {
            out[o++] = (char)t[i];
        }
    }
    out[o] = '\0';
    *len = o;
    return out;
}

/* resp out to subject (a statsz broadcast's when there is no reply). */
static void send_answer(struct sysacc *sa, struct worker *heard, const char *reply,
                        size_t reply_len, json_t *resp)
{
    char broadcast[128];
    if (!reply_len) {
        reply_len = (size_t)snprintf(broadcast, sizeof broadcast, "$SYS.SERVER.%s.STATSZ",
                                     sa->srv->server_id);
        reply = broadcast;
    }
    char *text = json_dumps(resp, JSON_COMPACT | JSON_PRESERVE_ORDER);
    size_t len = 0;
    char *payload = text ? go_escape(text, &len) : NULL;
    if (payload)
        sysacc__post_reply(sa, heard, reply, reply_len, payload, len);
    else
        LOG_ERROR("out of memory answering a system account request");
    free(payload);
    free(text);
}

/* nats-server's ServerAPIResponse: data (consumed), or the error a body
 * that would not decode (400) or refused options (500) get. */
static json_t *wrap(struct sysacc *sa, enum sysacc_ep ep, int rc, enum built b, json_t *data,
                    const char *err)
{
    json_t *resp = json_object();
    json_object_set_new(resp, "server", server_info(sa));
    if (rc < 0) {
        json_object_set_new(resp, "error", api_error(400, err));
    } else if (b == REFUSED) {
        json_object_set_new(resp, "data", json_null());
        json_object_set_new(resp, "error", api_error(500, err));
    } else {
        json_object_set_new(resp, ep == SYSACC_EP_STATSZ ? "statsz" : "data", data);
    }
    return resp;
}

void sysacc__answer(struct sysacc *sa, enum sysacc_ep ep, struct worker *heard,
                    const char *reply, size_t reply_len, const char *body, size_t body_len)
{
    const struct endpoint *e = &endpoints[ep];
    struct monitor *m = sa->srv->monitor ? sa->srv->monitor : sa->own_monitor;
    struct req_opts o;
    json_t *doc, *data = NULL;
    char err[1024] = "";
    enum built b = REFUSED;
    int rc = decode(e, body, body_len, &doc, &o, err, sizeof err);
    if (rc == 0 && !selected(sa->srv, &o))
        goto out; /* the filters chose other nodes */
    if (rc == 0 && (b = e->build(m, &o, &data, err, sizeof err)) == SILENT)
        goto out;
    json_t *resp = wrap(sa, ep, rc, b, data, err);
    send_answer(sa, heard, reply, reply_len, resp);
    json_decref(resp);
out:
    json_decref(doc);
}
