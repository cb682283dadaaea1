/*
 * server/jetstream/js_push.c — push consumers (spec/jetstream.md §8.8, §8.9):
 * delivery to deliver_subject only while it has a subscriber, idle
 * heartbeats, flow control; and js_consumer_send, the delivery primitive
 * both modes use.
 *
 * Nothing tells the engine when subscriptions come and go, so a push
 * consumer looks: on every delivery round and heartbeat, and on a timer
 * while nobody listens (every 5 ms for 300 ms, then doubling to 100 ms, so
 * nats-py's "create the consumer, then SUB" ordered consumers start within
 * milliseconds), or
 * every 250 ms while an inactive_threshold must notice the listener
 * leaving. A look is one lookup in the loop's match cache (sublist.h).
 * Runs only on the JetStream loop.
 */
#include <errno.h>
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

#include "server/client.h"
#include "server/deliver.h"
#include "server/jetstream/js_consumer.h"
#include "server/log.h"
#include "server/sublist.h"
#include "server/worker.h"

#define NS_PER_MS 1000000LL
#define TICK_MIN_MS 5
#define TICK_MAX_MS 100
#define TICK_FAST_FOR_MS 300       /* polling at TICK_MIN_MS this long */
#define TICK_BOUND_MS 250
#define DELIVER_BUDGET 1024          /* messages per round before yielding */
#define FC_WINDOW_START (2u << 20)   /* §8.8: 32 MiB / 16 */
#define FC_WINDOW_MAX (32u << 20)

static const char FC_REQUEST[] = "NATS/1.0 100 FlowControl Request\r\n\r\n";

static void arm(struct event *ev, int64_t ns)
{
    if (ns < NS_PER_MS)
        ns = NS_PER_MS;
    struct timeval tv = { (time_t)(ns / 1000000000LL), (suseconds_t)(ns % 1000000000LL / 1000) };
    event_add(ev, &tv);
}

size_t js_consumer_send(struct js *js, const char *to, size_t tolen, const char *subj,
                        size_t slen, const char *reply, size_t rlen, const char *hdr,
                        size_t hlen, const char *data, size_t dlen)
{
    /* A frame wants headers and payload in one block. */
    const char *block = hlen ? hdr : data;
    char *joined = NULL;
    if (hlen && dlen && hdr + hlen != data) {
        if (!(joined = malloc(hlen + dlen)))
            return 0;
        memcpy(joined, hdr, hlen);
        memcpy(joined + hlen, data, dlen);
        block = joined;
    }
    struct proto_msg m = {
        .subject = { subj, slen },
        .reply = { reply, rlen },
        .hdr_len = hlen,
        .total_len = hlen + dlen,
        .has_headers = hlen > 0,
        .data = block ? block : "",
    };
    /* Subscribers of `to` here and, over routes, on other nodes. */
    size_t n = js->env.publish(js->env.arg, &m, to, tolen);
    free(joined);
    return n;
}

/* ---- interest ---- */

bool js_push_check_interest(struct js_consumer *c)
{
    const char *ds = c->cfg.deliver_subject;
    bool b = js_has_interest(c->st->js, ds, strlen(ds));
    if (b) {
        /* The listener may leave right after this look: inactivity counts
         * from the last time one was seen, not from when we noticed. */
        c->rt.active_at = js_clock(c->st->js);
        if (!c->rt.bound)
            js_consumer_kick(c); /* whoever looked, deliver what waited */
    } else if (c->rt.bound) {
        c->rt.unbound_since = c->rt.active_at;
    }
    if (b != c->rt.bound) {
        c->rt.bound = b;
        c->rt.tick_ms = TICK_MIN_MS;
    }
    return b;
}

static void arm_tick(struct js_consumer *c)
{
    if (c->rt.bound) {
        if (c->cfg.inactive_threshold > 0)
            arm(c->rt.tick_ev, TICK_BOUND_MS * NS_PER_MS);
        return;
    }
    arm(c->rt.tick_ev, c->rt.tick_ms * NS_PER_MS);
    /* Clients subscribe right after creating (or re-creating) the
     * consumer: look often at first, then back off. */
    if (js_clock(c->st->js) - c->rt.unbound_since >= TICK_FAST_FOR_MS * NS_PER_MS)
        c->rt.tick_ms = c->rt.tick_ms * 2 > TICK_MAX_MS ? TICK_MAX_MS : c->rt.tick_ms * 2;
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    struct js_consumer *c = arg;
    (void)fd;
    (void)what;
    bool b = js_push_check_interest(c);
    int64_t thr = c->cfg.inactive_threshold;
    if (!b && thr > 0 && js_clock(c->st->js) - c->rt.unbound_since >= thr) {
        LOG_DEBUG("JetStream: consumer '%s > %s' has no interest, deleted", c->st->cfg.name,
                  c->name);
        js_consumer_propose_delete(c);
        return;
    }
    arm_tick(c);
}

/* ---- heartbeats and flow control ---- */

static void on_heartbeat(evutil_socket_t fd, short what, void *arg)
{
    struct js_consumer *c = arg;
    (void)fd;
    (void)what;
    int64_t hb = c->cfg.idle_heartbeat, now = js_clock(c->st->js);
    int64_t due = c->rt.last_emit + hb;
    if (now + NS_PER_MS >= due) {
        if (js_push_check_interest(c)) {
            const char *ds = c->cfg.deliver_subject;
            js_consumer_heartbeat(c, ds, strlen(ds));
        } else {
            arm_tick(c);
        }
        due = now + hb;
    }
    arm(c->rt.hb_ev, due - now);
}

static void send_fc(struct js_consumer *c)
{
    char id[9];
    js_random_name(c->st->js, id);
    id[4] = '\0';
    int n = snprintf(c->rt.fc_reply, sizeof c->rt.fc_reply, "$JS.FC.%s.%s.%s", c->st->cfg.name,
                     c->name, id);
    if (n < 0 || (size_t)n >= sizeof c->rt.fc_reply) {
        c->rt.fc_reply[0] = '\0'; /* names too long for a request: no flow control */
        return;
    }
    c->rt.fc_sz = c->rt.fc_bytes;
    const char *ds = c->cfg.deliver_subject;
    js_send(c->st->js, ds, strlen(ds), c->rt.fc_reply, (size_t)n, FC_REQUEST, sizeof FC_REQUEST - 1,
            NULL, 0);
}

void js_push_fc_reply(struct js_consumer *c, const char *subject, size_t len)
{
    if (!c->rt.fc_reply[0] || strlen(c->rt.fc_reply) != len || memcmp(c->rt.fc_reply, subject, len) != 0)
        return;
    c->rt.fc_bytes = c->rt.fc_bytes > c->rt.fc_sz ? c->rt.fc_bytes - c->rt.fc_sz : 0;
    c->rt.fc_window = c->rt.fc_window * 2 > FC_WINDOW_MAX ? FC_WINDOW_MAX : c->rt.fc_window * 2;
    c->rt.fc_reply[0] = '\0';
    c->rt.active_at = js_clock(c->st->js);
    js_consumer_kick(c);
}

static bool stalled(const struct js_consumer *c)
{
    return c->cfg.flow_control && c->rt.fc_bytes >= c->rt.fc_window;
}

/* ---- delivery ---- */

void js_push_deliver(struct js_consumer *c)
{
    if (!js_push_check_interest(c)) {
        if (!event_pending(c->rt.tick_ev, EV_TIMEOUT, NULL))
            arm_tick(c);
        return;
    }
    const char *ds = c->cfg.deliver_subject;
    size_t dlen = strlen(ds);
    struct js_cnext n;
    for (unsigned budget = DELIVER_BUDGET; !stalled(c); budget--) {
        if (!budget) {
            js_consumer_kick(c); /* more later: let acks and publishes in */
            break;
        }
        if (js_consumer_peek(c, &n) < 0)
            break;
        js_consumer_take(c, &n);
        js_consumer_emit(c, &n, ds, dlen);
        if (c->cfg.flow_control) {
            c->rt.fc_bytes += n.size;
            if (!c->rt.fc_reply[0] && c->rt.fc_bytes > c->rt.fc_window / 2)
                send_fc(c);
        }
    }
}

/* ---- life cycle ---- */

void js_push_reset(struct js_consumer *c)
{
    c->rt.bound = false;
    c->rt.unbound_since = js_clock(c->st->js);
    c->rt.tick_ms = TICK_MIN_MS;
    c->rt.fc_reply[0] = '\0';
    c->rt.fc_bytes = c->rt.fc_sz = 0;
    c->rt.fc_window = FC_WINDOW_START;
    arm_tick(c);
}

int js_push_init(struct js_consumer *c)
{
    struct event_base *base = c->st->js->env.base;
    if (!(c->rt.tick_ev = evtimer_new(base, on_tick, c)))
        return -ENOMEM;
    if (c->cfg.idle_heartbeat > 0) {
        if (!(c->rt.hb_ev = evtimer_new(base, on_heartbeat, c)))
            return -ENOMEM;
        arm(c->rt.hb_ev, c->cfg.idle_heartbeat);
    }
    c->rt.last_emit = js_clock(c->st->js);
    js_push_reset(c);
    return 0;
}
