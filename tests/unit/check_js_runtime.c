/*
 * tests/unit/check_js_runtime.c — a whole JetStream engine, runtime
 * included, in one process with no server and no socket: its environment
 * (struct js_env) is this test's. Subscriptions are recorded and messages
 * routed to them by a few lines here; what the engine publishes (PubAcks,
 * API replies, consumer deliveries, ack-acks) is captured; its timers run
 * on this test's event_base.
 *
 * It drives the paths a client drives: stream create through the API,
 * publishes with PubAcks after the commit, a durable pull consumer's
 * MSG.NEXT, acks and an ack_sync, redelivery after ack_wait, and the
 * progress surviving a reopen of the engine from its directory; the
 * republished copies (after the commit, before the PubAcks, never for a
 * refused publish); a bound push consumer refusing another deliver
 * subject.
 */
#include <check.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "proto/parser.h"
#include "proto/subject.h"
#include "server/jetstream/js_internal.h"
#include "server/jetstream/js_propose.h"

#define MAX_SUBS 64
#define MAX_OUT 128

struct fake_sub {
    char subject[256];
    char sid[32];
    bool live;
};

struct out_msg {
    char to[256];       /* where it went (the deliver/reply subject) */
    char subject[256];  /* the subject on its MSG line */
    char reply[256];
    char hdr[512];
    char data[4096];
};

/* The world around the engine. */
struct world {
    struct event_base *base;
    struct fake_sub subs[MAX_SUBS];
    struct out_msg out[MAX_OUT];
    size_t nout;
};

static struct world W;

static int64_t now_ns(void *arg)
{
    (void)arg;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void copy(char *dst, size_t cap, const char *src, size_t n)
{
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, src ? src : "", n);
    dst[n] = '\0';
}

static size_t publish(void *arg, const struct proto_msg *m, const char *to, size_t tolen)
{
    (void)arg;
    ck_assert_uint_lt(W.nout, MAX_OUT);
    struct out_msg *o = &W.out[W.nout++];
    copy(o->subject, sizeof o->subject, m->subject.ptr, m->subject.len);
    copy(o->to, sizeof o->to, to ? to : m->subject.ptr, to ? tolen : m->subject.len);
    copy(o->reply, sizeof o->reply, m->reply.ptr, m->reply.len);
    copy(o->hdr, sizeof o->hdr, m->data, m->hdr_len);
    copy(o->data, sizeof o->data, m->data + m->hdr_len, m->total_len - m->hdr_len);
    return 1;
}

/* Clients listen on inbox.* and deliver.* (pull replies, push subjects). */
static bool interest(void *arg, const char *subject, size_t len)
{
    (void)arg;
    return (len > 6 && !memcmp(subject, "inbox.", 6)) ||
           (len > 8 && !memcmp(subject, "deliver.", 8));
}

static struct sub *subscribe(void *arg, const char *subject, const char *sid, size_t sid_len)
{
    (void)arg;
    for (size_t i = 0; i < MAX_SUBS; i++) {
        if (W.subs[i].live)
            continue;
        W.subs[i].live = true;
        copy(W.subs[i].subject, sizeof W.subs[i].subject, subject, strlen(subject));
        copy(W.subs[i].sid, sizeof W.subs[i].sid, sid, sid_len);
        return (struct sub *)&W.subs[i]; /* opaque to the engine */
    }
    return NULL;
}

static void unsubscribe(void *arg, struct sub *s)
{
    (void)arg;
    ((struct fake_sub *)s)->live = false;
}

static struct js_env fake_env(void)
{
    return (struct js_env){ .arg = &W, .base = W.base, .now = now_ns, .publish = publish,
                            .has_interest = interest, .subscribe = subscribe,
                            .unsubscribe = unsubscribe };
}

/* Let the engine's deferred work and due timers run. */
static void run(struct js *js)
{
    for (int i = 0; i < 20; i++)
        event_base_loop(W.base, EVLOOP_NONBLOCK);
    (void)js;
}

/* What a client's publish does: routed to every matching internal
 * subscription, handled as one inbound batch. Returns how many took it. */
static int send_msg(struct js *js, const char *subject, const char *reply, const char *hdr,
                    const char *data)
{
    int n = 0;
    js_propose_batch_begin(js);
    for (size_t i = 0; i < MAX_SUBS; i++) {
        struct fake_sub *s = &W.subs[i];
        if (!s->live || !subject_match(s->subject, strlen(s->subject), subject, strlen(subject)))
            continue;
        struct js_inmsg m = {
            .kind = (enum js_sub_kind)s->sid[0],
            .id = strtoull(s->sid + 1, NULL, 10),
            .subject = subject, .subject_len = strlen(subject),
            .reply = reply, .reply_len = reply ? strlen(reply) : 0,
            .hdr = hdr, .hdr_len = hdr ? strlen(hdr) : 0,
            .data = data ? data : "", .data_len = data ? strlen(data) : 0,
        };
        js_dispatch(js, &m);
        n++;
    }
    js_propose_commit(js);
    run(js);
    return n;
}

/* The captured messages sent to `to`, from index from on. */
static size_t count_to(const char *to, size_t from)
{
    size_t n = 0;
    for (size_t i = from; i < W.nout; i++)
        n += !strcmp(W.out[i].to, to);
    return n;
}

static const struct out_msg *last_to(const char *to)
{
    for (size_t i = W.nout; i-- > 0;)
        if (!strcmp(W.out[i].to, to))
            return &W.out[i];
    return NULL;
}

static char dir[128];

static void setup(void)
{
    memset(&W, 0, sizeof W);
    W.base = event_base_new();
    snprintf(dir, sizeof dir, "%s/tern-runtime-%d", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp",
             (int)getpid());
}

static void teardown(void)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
    event_base_free(W.base);
}

START_TEST(stream_publish_pull_ack_redeliver_restart)
{
    struct js_env env = fake_env();
    struct js *js;
    ck_assert_int_eq(js_engine_open(dir, &env, &js), 0);
    /* The API subscription is the engine's own. */
    ck_assert_int_eq(send_msg(js, "$JS.API.STREAM.CREATE.S", "inbox.api",
                              NULL, "{\"name\":\"S\",\"subjects\":[\"s.>\"]}"), 1);
    ck_assert_ptr_nonnull(strstr(last_to("inbox.api")->data, "\"did_create\":true"));
    /* Publishes: a PubAck each, after the commit, in order. */
    size_t mark = W.nout;
    for (int i = 1; i <= 6; i++) {
        char body[16], reply[32];
        snprintf(body, sizeof body, "m%d", i);
        snprintf(reply, sizeof reply, "inbox.pub%d", i);
        ck_assert_int_eq(send_msg(js, "s.x", reply, NULL, body), 1);
        char want[64];
        snprintf(want, sizeof want, "{\"stream\":\"S\", \"seq\":%d}", i);
        ck_assert_str_eq(last_to(reply)->data, want);
    }
    ck_assert_uint_eq(W.nout - mark, 6);
    /* A durable pull consumer with a short ack_wait. */
    send_msg(js, "$JS.API.CONSUMER.DURABLE.CREATE.S.d", "inbox.api", NULL,
             "{\"stream_name\":\"S\",\"config\":{\"durable_name\":\"d\","
             "\"ack_policy\":\"explicit\",\"ack_wait\":200000000}}");
    ck_assert_ptr_nonnull(strstr(last_to("inbox.api")->data, "\"name\":\"d\""));
    /* MSG.NEXT for 4: delivered to the request's reply with ack subjects. */
    mark = W.nout;
    send_msg(js, "$JS.API.CONSUMER.MSG.NEXT.S.d", "inbox.pull1", NULL, "{\"batch\":4}");
    ck_assert_uint_eq(count_to("inbox.pull1", mark), 4);
    char acks[4][256];
    size_t k = 0;
    for (size_t i = mark; i < W.nout && k < 4; i++) {
        if (strcmp(W.out[i].to, "inbox.pull1"))
            continue;
        ck_assert_str_eq(W.out[i].subject, "s.x"); /* the stored subject */
        snprintf(acks[k++], sizeof acks[0], "%s", W.out[i].reply);
    }
    ck_assert_ptr_nonnull(strstr(acks[0], "$JS.ACK.S.d.1.1.1."));
    /* Ack the first two; ack_sync the third: its empty reply comes once
     * the progress is stored. The fourth stays unacknowledged. */
    send_msg(js, acks[0], NULL, NULL, "+ACK");
    send_msg(js, acks[1], NULL, NULL, "+ACK");
    mark = W.nout;
    send_msg(js, acks[2], "inbox.acksync", NULL, "+ACK");
    ck_assert_uint_eq(count_to("inbox.acksync", mark), 1);
    ck_assert_str_eq(last_to("inbox.acksync")->data, "");
    /* After ack_wait the fourth comes again, with delivery count 2. */
    struct timespec wait = { 0, 250 * 1000000 };
    nanosleep(&wait, NULL);
    run(js);
    mark = W.nout;
    send_msg(js, "$JS.API.CONSUMER.MSG.NEXT.S.d", "inbox.pull2", NULL, "{\"batch\":1}");
    ck_assert_uint_eq(count_to("inbox.pull2", mark), 1);
    const struct out_msg *again = last_to("inbox.pull2");
    ck_assert_str_eq(again->data, "m4");
    ck_assert_ptr_nonnull(strstr(again->reply, "$JS.ACK.S.d.2.4."));
    send_msg(js, again->reply, "inbox.acksync2", NULL, "+ACK");
    js_engine_close(js);

    /* Reopened from its directory: the floor is where the acks left it,
     * so the next pull starts at message 5. */
    memset(W.subs, 0, sizeof W.subs);
    ck_assert_int_eq(js_engine_open(dir, &env, &js), 0);
    mark = W.nout;
    send_msg(js, "$JS.API.CONSUMER.MSG.NEXT.S.d", "inbox.pull3", NULL, "{\"batch\":1}");
    ck_assert_uint_eq(count_to("inbox.pull3", mark), 1);
    ck_assert_str_eq(last_to("inbox.pull3")->data, "m5");
    js_engine_close(js);
}
END_TEST

/* The index in W.out of the first message sent to `to` from `from` on. */
static size_t index_to(const char *to, size_t from)
{
    for (size_t i = from; i < W.nout; i++)
        if (!strcmp(W.out[i].to, to))
            return i;
    ck_abort_msg("nothing sent to %s", to);
    return 0;
}

START_TEST(republish_after_the_commit_once_per_stored_message)
{
    struct js_env env = fake_env();
    struct js *js;
    ck_assert_int_eq(js_engine_open(dir, &env, &js), 0);
    send_msg(js, "$JS.API.STREAM.CREATE.R", "inbox.api", NULL,
             "{\"name\":\"R\",\"subjects\":[\"r.*\"],"
             "\"republish\":{\"src\":\"r.*\",\"dest\":\"rp.$1\"}}");
    ck_assert_ptr_nonnull(strstr(last_to("inbox.api")->data, "\"did_create\":true"));
    /* The copy goes out after the commit, before the PubAck, with the
     * message's headers first and nats-server's four after them. */
    size_t mark = W.nout;
    send_msg(js, "r.a", "inbox.p1", "NATS/1.0\r\nFoo: 1\r\nNats-Msg-Id: one\r\n\r\n", "body");
    ck_assert_uint_eq(count_to("rp.a", mark), 1);
    ck_assert_uint_lt(index_to("rp.a", mark), index_to("inbox.p1", mark));
    const struct out_msg *c = last_to("rp.a");
    ck_assert_str_eq(c->subject, "rp.a");
    ck_assert_str_eq(c->hdr, "NATS/1.0\r\nFoo: 1\r\nNats-Msg-Id: one\r\nNats-Stream: R\r\n"
                             "Nats-Subject: r.a\r\nNats-Sequence: 1\r\nNats-Last-Sequence: 0\r\n\r\n");
    ck_assert_str_eq(c->data, "body");
    /* A duplicate and a refused publish store nothing: no copy. */
    mark = W.nout;
    send_msg(js, "r.a", "inbox.p2", "NATS/1.0\r\nNats-Msg-Id: one\r\n\r\n", "again");
    send_msg(js, "r.a", "inbox.p3", "NATS/1.0\r\nNats-Expected-Last-Sequence: 9\r\n\r\n", "x");
    ck_assert_uint_eq(count_to("rp.a", mark), 0);
    ck_assert_uint_eq(count_to("inbox.p2", mark) + count_to("inbox.p3", mark), 2);
    /* Nats-Last-Sequence is the subject's, not the stream's. */
    send_msg(js, "r.b", NULL, NULL, "b1");
    send_msg(js, "r.a", NULL, NULL, "a2");
    ck_assert_ptr_nonnull(strstr(last_to("rp.b")->hdr, "Nats-Sequence: 2\r\nNats-Last-Sequence: 0\r\n"));
    ck_assert_ptr_nonnull(strstr(last_to("rp.a")->hdr, "Nats-Sequence: 3\r\nNats-Last-Sequence: 1\r\n"));
    js_engine_close(js);

    /* Reopened: the config comes back from disk and republishing goes on. */
    memset(W.subs, 0, sizeof W.subs);
    ck_assert_int_eq(js_engine_open(dir, &env, &js), 0);
    mark = W.nout;
    send_msg(js, "r.a", NULL, NULL, "a3");
    ck_assert_uint_eq(count_to("rp.a", mark), 1);
    ck_assert_ptr_nonnull(strstr(last_to("rp.a")->hdr, "Nats-Sequence: 4\r\nNats-Last-Sequence: 3\r\n"));
    js_engine_close(js);
}
END_TEST

START_TEST(a_bound_push_consumer_keeps_its_deliver_subject)
{
    struct js_env env = fake_env();
    struct js *js;
    ck_assert_int_eq(js_engine_open(dir, &env, &js), 0);
    send_msg(js, "$JS.API.STREAM.CREATE.P", "inbox.api", NULL,
             "{\"name\":\"P\",\"subjects\":[\"p\"]}");
#define PUSH(ds)                                                                          \
    send_msg(js, "$JS.API.CONSUMER.CREATE.P.D", "inbox.api", NULL,                        \
             "{\"stream_name\":\"P\",\"config\":{\"durable_name\":\"D\",\"ack_policy\":"  \
             "\"explicit\",\"deliver_subject\":\"" ds "\"}}")
    /* Nobody listens on free.*: the subject may move. deliver.* is
     * listened to (this world's interest): once there, it stays. */
    PUSH("free.a");
    ck_assert_ptr_nonnull(strstr(last_to("inbox.api")->data, "\"deliver_subject\":\"free.a\""));
    PUSH("deliver.a");
    ck_assert_ptr_nonnull(strstr(last_to("inbox.api")->data, "\"deliver_subject\":\"deliver.a\""));
    PUSH("deliver.b");
    ck_assert_str_eq(last_to("inbox.api")->data,
                     "{\"type\":\"io.nats.jetstream.api.v1.consumer_create_response\","
                     "\"error\":{\"code\":400,\"err_code\":10013,"
                     "\"description\":\"consumer name already in use\"}}");
    PUSH("deliver.a"); /* the same config again is fine */
    ck_assert_ptr_nonnull(strstr(last_to("inbox.api")->data, "\"deliver_subject\":\"deliver.a\""));
#undef PUSH
    js_engine_close(js);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("js_runtime");
    TCase *t = tcase_create("fake_env");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_add_test(t, stream_publish_pull_ack_redeliver_restart);
    tcase_add_test(t, republish_after_the_commit_once_per_stored_message);
    tcase_add_test(t, a_bound_push_consumer_keeps_its_deliver_subject);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
