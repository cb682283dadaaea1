/*
 * server/jetstream/js_pull.c — pull consumers: CONSUMER.MSG.NEXT requests
 * (spec/jetstream.md §8.7).
 *
 * A request says where its messages go (its reply subject), how many
 * (batch), how many bytes (max_bytes), for how long (expires), whether to
 * linger (no_wait) and how often to prove liveness (idle_heartbeat).
 * Requests wait FIFO per consumer; each message goes to the oldest one,
 * which then moves to the back if it wants more, so concurrent fetchers
 * share the stream (nats-server's waitQueue). One timer per consumer fires
 * at the earliest expiry or heartbeat. Every status reply is nats-server
 * 2.9.10's exact header block, including its quirk that a no_wait request
 * with an expiry and nothing to deliver waits until it expires.
 * Runs only on the JetStream loop.
 */
#include <ctype.h>
#include <errno.h>
#include <event2/event.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/jetstream/js_consumer.h"
#include "server/worker.h"

#define DELIVER_BUDGET 1024    /* messages per round before yielding the loop */

static void status(struct js_consumer *c, const char *to, size_t tolen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void status(struct js_consumer *c, const char *to, size_t tolen, const char *fmt, ...)
{
    char hdr[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(hdr, sizeof hdr, fmt, ap);
    va_end(ap);
    if (n > 0 && (size_t)n < sizeof hdr)
        js_send_status(c->st->js, to, tolen, hdr);
}

static void timeout_status(struct js_consumer *c, const struct js_pull_req *r)
{
    status(c, r->reply, r->reply_len,
           "NATS/1.0 408 Request Timeout\r\nNats-Pending-Messages: %" PRId64
           "\r\nNats-Pending-Bytes: %" PRId64 "\r\n\r\n",
           r->n, r->has_max_bytes ? r->b : 0);
}

/* Go's time.Duration.String, for the 409 texts. */
static void go_duration(int64_t d, char *out, size_t cap)
{
    static const struct { int64_t unit; const char *name; } small[] = {
        { 1000LL, "µs" }, { 1000000LL, "ms" },
    };
    char frac[16] = "";
    if (d < 1000) {
        snprintf(out, cap, "%" PRId64 "ns", d);
        return;
    }
    for (size_t i = 0; i < 2; i++) {
        if (d < small[i].unit * 1000) {
            int64_t u = small[i].unit, rem = d % u;
            if (rem) {
                int w = i == 0 ? 3 : 6;
                snprintf(frac, sizeof frac, ".%0*" PRId64, w, rem);
                for (size_t k = strlen(frac); k > 1 && frac[k - 1] == '0'; k--)
                    frac[k - 1] = '\0';
            }
            snprintf(out, cap, "%" PRId64 "%s%s", d / u, frac, small[i].name);
            return;
        }
    }
    int64_t h = d / 3600000000000LL, m = d / 60000000000LL % 60;
    int64_t s = d / 1000000000LL % 60, rem = d % 1000000000LL;
    if (rem) {
        snprintf(frac, sizeof frac, ".%09" PRId64, rem);
        for (size_t k = strlen(frac); k > 1 && frac[k - 1] == '0'; k--)
            frac[k - 1] = '\0';
    }
    if (h)
        snprintf(out, cap, "%" PRId64 "h%" PRId64 "m%" PRId64 "%ss", h, m, s, frac);
    else if (m)
        snprintf(out, cap, "%" PRId64 "m%" PRId64 "%ss", m, s, frac);
    else
        snprintf(out, cap, "%" PRId64 "%ss", s, frac);
}

/* ---- the waiting queue ---- */

static void wq_append(struct js_consumer *c, struct js_pull_req *r)
{
    r->next = NULL;
    r->prev = c->rt.wq_tail;
    if (c->rt.wq_tail)
        c->rt.wq_tail->next = r;
    else
        c->rt.wq_head = r;
    c->rt.wq_tail = r;
    c->rt.nwaiting++;
}

static void wq_unlink(struct js_consumer *c, struct js_pull_req *r)
{
    if (r->prev)
        r->prev->next = r->next;
    else
        c->rt.wq_head = r->next;
    if (r->next)
        r->next->prev = r->prev;
    else
        c->rt.wq_tail = r->prev;
    c->rt.nwaiting--;
}

static void wq_remove(struct js_consumer *c, struct js_pull_req *r)
{
    wq_unlink(c, r);
    free(r);
}

void js_pull_cancel_all(struct js_consumer *c, const char *why)
{
    while (c->rt.wq_head) {
        struct js_pull_req *r = c->rt.wq_head;
        if (why)
            status(c, r->reply, r->reply_len, "%s", why);
        wq_remove(c, r);
    }
}

/* Expiries and heartbeats of every waiting request; eos: the stream has
 * nothing more for this consumer now, so no_wait requests are done. */
static void process_waiting(struct js_consumer *c, bool eos)
{
    struct js *js = c->st->js;
    int64_t now = js_clock(c->st->js), next = 0;
    struct js_pull_req *r = c->rt.wq_head;
    while (r) {
        struct js_pull_req *nx = r->next;
        if (eos && r->no_wait && !r->d && !r->expires) {
            /* Looked available when it came, but nothing was. */
            status(c, r->reply, r->reply_len, "NATS/1.0 404 No Messages\r\n\r\n");
            wq_remove(c, r);
        } else if ((eos && r->no_wait && r->d) || (r->expires && now >= r->expires)) {
            timeout_status(c, r);
            wq_remove(c, r);
        } else if (!js_has_interest(js, r->reply, r->reply_len)) {
            wq_remove(c, r); /* the requester went away */
        } else {
            if (r->hb && now >= r->hb_at) {
                js_consumer_heartbeat(c, r->reply, r->reply_len);
                r->hb_at = now + r->hb;
            }
            if (r->hb && (!next || r->hb_at < next))
                next = r->hb_at;
            if (r->expires && (!next || r->expires < next))
                next = r->expires;
        }
        r = nx;
    }
    if (!next) {
        event_del(c->rt.pull_ev);
        return;
    }
    int64_t wait = next - now;
    if (wait < 1000000)
        wait = 1000000;
    struct timeval tv = { (time_t)(wait / 1000000000LL), (suseconds_t)(wait % 1000000000LL / 1000) };
    event_add(c->rt.pull_ev, &tv);
}

/* A timer fires while nothing could be delivered (an expiry or a
 * heartbeat is due): as nats-server's, that pass is the end of what the
 * stream has now, so a no_wait request that got something (and lingers
 * only because it gave an expires) ends with its 408, even when it is max
 * ack pending that holds the rest back. */
static void on_pull_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    process_waiting(arg, true);
}

int js_pull_init(struct js_consumer *c)
{
    c->rt.pull_ev = evtimer_new(c->st->js->env.base, on_pull_timer, c);
    return c->rt.pull_ev ? 0 : -ENOMEM;
}

/* The oldest request still valid: expired ones get their 408, ones whose
 * requester unsubscribed are dropped (nats-server's nextWaiting). */
static struct js_pull_req *next_waiting(struct js_consumer *c, int64_t now)
{
    struct js_pull_req *r;
    while ((r = c->rt.wq_head)) {
        if (r->expires && now >= r->expires)
            timeout_status(c, r);
        else if (js_has_interest(c->st->js, r->reply, r->reply_len))
            return r;
        wq_remove(c, r);
    }
    return NULL;
}

void js_pull_deliver(struct js_consumer *c)
{
    if (!c->rt.nwaiting)
        return;
    int64_t now = js_clock(c->st->js);
    int rc = 0;
    unsigned budget = DELIVER_BUDGET;
    struct js_cnext n;
    while (c->rt.nwaiting) {
        if (!budget--) {
            js_consumer_kick(c); /* more later: let acks and publishes in */
            return;
        }
        struct js_pull_req *r = next_waiting(c, now);
        if (!r)
            break;
        if ((rc = js_consumer_peek(c, &n)) < 0)
            break;
        if (r->has_max_bytes && (int64_t)n.size > r->b) {
            status(c, r->reply, r->reply_len,
                   "NATS/1.0 409 Message Size Exceeds MaxBytes\r\nNats-Pending-Messages: %" PRId64
                   "\r\nNats-Pending-Bytes: %" PRId64 "\r\n\r\n",
                   r->n, r->b);
            wq_remove(c, r);
            continue;
        }
        js_consumer_take(c, &n);
        js_consumer_emit(c, &n, r->reply, r->reply_len);
        r->d++;
        r->n--;
        if (r->has_max_bytes) {
            r->b -= (int64_t)n.size;
            if (r->b <= 0)
                r->n = 0;
        }
        if (r->hb)
            r->hb_at = now + r->hb;
        if (r->n <= 0) {
            wq_remove(c, r);
        } else if (c->rt.nwaiting > 1) {
            wq_unlink(c, r); /* share with the other requests */
            wq_append(c, r);
        }
    }
    process_waiting(c, rc == -ENOENT);
}

/* ---- a new request ---- */

static const char *trim(const char *p, size_t *len)
{
    while (*len && isspace((unsigned char)*p)) {
        p++;
        (*len)--;
    }
    while (*len && isspace((unsigned char)p[*len - 1]))
        (*len)--;
    return p;
}

/* jansson's syntax error in the words of Go's encoding/json, which the
 * 400 status carries (clients show it as is). */
static void go_json_error(const char *text, char *out, size_t cap)
{
    static const struct { const char *jansson, *go; } map[] = {
        { "string or '}' expected", "looking for beginning of object key string" },
        { "':' expected", "after object key" },
        { "'}' expected", "after object key:value pair" },
        { "']' expected", "after array element" },
        { "end of file expected", "after top-level value" },
    };
    const char *near = strstr(text, "near '");
    if (!near) { /* "... near end of file", "premature end of input" */
        snprintf(out, cap, "unexpected end of JSON input");
        return;
    }
    const char *what = "looking for beginning of value";
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strncmp(text, map[i].jansson, strlen(map[i].jansson)) == 0)
            what = map[i].go;
    snprintf(out, cap, "invalid character '%c' %s", near[6], what);
}

/* nats-server's nextReqFromMsg. 0, or -EINVAL with reason. */
static int parse_request(const char *body, size_t blen, int64_t now, struct js_pull_req *r,
                         char *reason, size_t rcap)
{
    body = trim(body, &blen);
    r->n = 1;
    if (!blen)
        return 0;
    if (body[0] != '{') {
        char num[24];
        size_t k = blen < sizeof num - 1 ? blen : sizeof num - 1;
        memcpy(num, body, k);
        num[k] = '\0';
        char *end;
        long long v = strtoll(num, &end, 10);
        if (end != num && *end == '\0' && k == blen)
            r->n = v;
        if (r->n <= 0)
            r->n = 1;
        return 0;
    }
    json_error_t jerr;
    json_t *j = json_loadb(body, blen, 0, &jerr);
    if (!j || !json_is_object(j)) {
        if (j)
            snprintf(reason, rcap, "json: cannot unmarshal %s into Go value of type "
                     "server.JSApiConsumerGetNextRequest", json_is_array(j) ? "array" : "value");
        else
            go_json_error(jerr.text, reason, rcap);
        json_decref(j);
        return -EINVAL;
    }
    /* Field by field as Go decodes them; a wrong type is Go's error. */
    static const struct { const char *key, *gotype; bool is_bool; } fields[] = {
        { "batch", "int", false }, { "expires", "time.Duration", false },
        { "max_bytes", "int", false }, { "idle_heartbeat", "time.Duration", false },
        { "no_wait", "bool", true },
    };
    int64_t val[4] = { 0 };
    const char *bad = NULL, *badtype = NULL, *have = NULL;
    for (size_t i = 0; i < sizeof fields / sizeof fields[0] && !bad; i++) {
        json_t *v = json_object_get(j, fields[i].key);
        if (!v || json_is_null(v))
            continue;
        if (fields[i].is_bool ? json_is_boolean(v) : json_is_integer(v)) {
            if (fields[i].is_bool)
                r->no_wait = json_is_true(v);
            else
                val[i] = json_integer_value(v);
            continue;
        }
        bad = fields[i].key;
        badtype = fields[i].gotype;
        have = json_is_string(v)    ? "string"
               : json_is_number(v)  ? "number"
               : json_is_boolean(v) ? "bool"
               : json_is_array(v)   ? "array"
                                    : "object";
    }
    json_decref(j);
    if (bad) {
        snprintf(reason, rcap,
                 "json: cannot unmarshal %s into Go struct field "
                 "JSApiConsumerGetNextRequest.%s of type %s",
                 have, bad, badtype);
        return -EINVAL;
    }
    int64_t batch = val[0], expires = val[1], maxb = val[2], hb = val[3];
    if (hb > 0 && hb * 2 > expires) {
        snprintf(reason, rcap, "heartbeat value too large");
        return -EINVAL;
    }
    r->n = batch > 0 ? batch : 1;
    if (maxb > 0) {
        r->has_max_bytes = true;
        r->b = maxb;
    }
    if (expires > 0)
        r->expires = now + expires;
    if (hb > 0) {
        r->hb = hb;
        r->hb_at = now + hb;
    }
    return 0;
}

void js_pull_request(struct js_consumer *c, const char *reply, size_t rlen, const char *body,
                     size_t blen)
{
    if (!reply || !rlen)
        return; /* nowhere to deliver: ignored (§8.7) */
    if (c->push) {
        status(c, reply, rlen, "NATS/1.0 409 Consumer is push based\r\n\r\n");
        return;
    }
    int64_t now = js_clock(c->st->js);
    struct js_pull_req q = { 0 };
    char reason[200];
    if (parse_request(body, blen, now, &q, reason, sizeof reason) < 0) {
        status(c, reply, rlen, "NATS/1.0 400 Bad Request - %s\r\n\r\n", reason);
        return;
    }
    const struct js_consumer_config *cfg = &c->cfg;
    char d[48];
    if (cfg->max_batch > 0 && q.n > cfg->max_batch) {
        status(c, reply, rlen, "NATS/1.0 409 Exceeded MaxRequestBatch of %" PRId64 "\r\n\r\n",
               cfg->max_batch);
        return;
    }
    if (q.expires && cfg->max_expires > 0 && q.expires - now > cfg->max_expires) {
        go_duration(cfg->max_expires, d, sizeof d);
        status(c, reply, rlen, "NATS/1.0 409 Exceeded MaxRequestExpires of %s\r\n\r\n", d);
        return;
    }
    if (q.has_max_bytes && cfg->max_bytes > 0 && q.b > cfg->max_bytes) {
        status(c, reply, rlen, "NATS/1.0 409 Exceeded MaxRequestMaxBytes of %" PRId64 "\r\n\r\n",
               cfg->max_bytes);
        return;
    }
    int64_t maxw = cfg->max_waiting > 0 ? cfg->max_waiting : 512;
    if ((int64_t)c->rt.nwaiting >= maxw) {
        process_waiting(c, false);
        if ((int64_t)c->rt.nwaiting >= maxw) {
            status(c, reply, rlen, "NATS/1.0 409 Exceeded MaxWaiting\r\n\r\n");
            return;
        }
    }
    if (q.no_wait) {
        uint64_t avail = js_consumer_available(c);
        if (!avail && !q.expires) {
            status(c, reply, rlen, "NATS/1.0 404 No Messages\r\n\r\n");
            return;
        }
        if (avail) {
            uint64_t want = 0;
            for (struct js_pull_req *w = c->rt.wq_head; w; w = w->next)
                want += (uint64_t)w->n;
            if (avail < want) {
                status(c, reply, rlen, "NATS/1.0 408 Requests Pending\r\n\r\n");
                return;
            }
        }
        /* Otherwise a one-shot: it waits until it expires, but ends as soon
         * as it got something and the stream ran dry. */
    }
    struct js_pull_req *r = malloc(sizeof *r + rlen + 1);
    if (!r)
        return;
    *r = q;
    r->reply = (char *)(r + 1);
    memcpy(r->reply, reply, rlen);
    r->reply[rlen] = '\0';
    r->reply_len = rlen;
    wq_append(c, r);
    c->rt.active_at = now;
    /* Deferred: a publish earlier in this batch is not synced yet, and
     * nothing is delivered before it is (the engine commits first). */
    js_consumer_kick(c);
}
