/*
 * tests/unit/check_js_config.c — JetStream stream/consumer configs
 * (server/js_config*.c, server/jetstream/js_consumer_config.c).
 *
 * Every expected reply below was produced by nats-server 2.9.10: the
 * bodies and echoes of the files in spec/captures/, plus probes sent to
 * /usr/sbin/nats-server for the rules the captures do not show (go's '>'
 * escape \u003e is written as '>' here; both are the same JSON). Links the
 * js_config files and jansson only.
 */
#include <check.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/jetstream/js_config.h"

static struct js_err err;
static struct js_stream_config sc, sc2;
static struct js_consumer_config cc, cc2;

static void teardown(void)
{
    js_stream_config_free(&sc);
    js_stream_config_free(&sc2);
    js_consumer_config_free(&cc);
    js_consumer_config_free(&cc2);
}

static int sparse(struct js_stream_config *c, const char *subj, const char *body, bool create)
{
    js_stream_config_free(c);
    return js_stream_config_parse(body, strlen(body), subj, create, false, 0, c, &err);
}

/* Parse and compare the echoed config with 2.9.10's, then check that the
 * echo parses back to an equal config. */
static void stream_echo(const char *subj, const char *body, const char *want)
{
    int rc = sparse(&sc, subj, body, true);
    ck_assert_msg(rc == 0, "%s: %d %s", body, err.err_code, err.description);
    char *got = js_stream_config_to_json(&sc);
    ck_assert_str_eq(got, want);
    ck_assert_int_eq(sparse(&sc2, subj, got, false), 0);
    ck_assert(js_stream_config_equal(&sc, &sc2));
    free(got);
}

static void stream_fails(const char *subj, const char *body, bool create, int code, int err_code,
                         const char *text)
{
    int rc = sparse(&sc, subj, body, create);
    ck_assert_msg(rc == -EINVAL, "%s parsed", body);
    ck_assert_msg(err.err_code == err_code && err.code == code && strcmp(err.description, text) == 0,
                  "%s: got %d %d '%s', want %d %d '%s'", body, err.code, err.err_code,
                  err.description, code, err_code, text);
    ck_assert_ptr_null(sc.name);
}

static int cparse(struct js_consumer_config *c, const char *subj_tail, const char *body)
{
    char buf[600];
    enum js_consumer_form form;
    char *stream, *name = NULL, *filter = NULL;
    snprintf(buf, sizeof buf, "%s", subj_tail);
    if (strncmp(buf, "DURABLE.", 8) == 0) {
        form = JS_CFORM_DURABLE;
        stream = buf + 8;
        name = strchr(stream, '.');
        *name++ = 0;
    } else {
        stream = buf;
        name = strchr(stream, '.');
        form = JS_CFORM_CREATE;
        if (name) {
            *name++ = 0;
            form = JS_CFORM_CREATE_NAMED;
            if ((filter = strchr(name, '.'))) {
                *filter++ = 0;
                form = JS_CFORM_CREATE_FILTERED;
            }
        }
    }
    js_consumer_config_free(c);
    return js_consumer_config_parse(body, strlen(body), stream, form, name, filter, c, &err);
}

/* subj_tail: what follows "CONSUMER.CREATE." (or "DURABLE.<s>.<d>" for
 * CONSUMER.DURABLE.CREATE.<s>.<d>). */
static void consumer_echo(const char *subj_tail, const char *body, const char *want)
{
    int rc = cparse(&cc, subj_tail, body);
    ck_assert_msg(rc == 0, "%s: %d %s", body, err.err_code, err.description);
    char *got = js_consumer_config_to_json(&cc);
    ck_assert_str_eq(got, want);
    /* round trip: the echo, sent back as a create of the same form */
    char *stream = strdup(subj_tail), *dot = strchr(stream + (strncmp(stream, "DURABLE.", 8) ? 0 : 8), '.');
    if (dot)
        *dot = 0;
    char *req = malloc(strlen(got) + 100);
    sprintf(req, "{\"stream_name\":\"%s\",\"config\":%s}",
            strncmp(stream, "DURABLE.", 8) ? stream : stream + 8, got);
    ck_assert_int_eq(cparse(&cc2, subj_tail, req), 0);
    bool changed = true;
    ck_assert_int_eq(js_consumer_config_check_update(&cc, &cc2, false, &changed, &err), 0);
    ck_assert(!changed);
    free(req);
    free(stream);
    free(got);
}

static void consumer_fails(const char *subj_tail, const char *body, int err_code, const char *text)
{
    int rc = cparse(&cc, subj_tail, body);
    ck_assert_msg(rc == -EINVAL, "%s parsed", body);
    ck_assert_msg(err.err_code == err_code && strcmp(err.description, text) == 0,
                  "%s: got %d '%s', want %d '%s'", body, err.err_code, err.description, err_code,
                  text);
    ck_assert_int_eq(err.code, js_err_http(err_code));
}

/* ---- errors ---- */

START_TEST(error_table)
{
    static const struct { int err_code, code; const char *text; } fixed[] = {
        { 10003, 400, "bad request" },
        { 10005, 400, "no suitable peers for placement" },
        { 10008, 503, "JetStream system temporarily unavailable" },
        { 10013, 400, "consumer name already in use" },
        { 10014, 404, "consumer not found" },
        { 10017, 400, "consumer name in subject does not match durable name in request" },
        { 10018, 400, "consumer expected to be durable but a durable name was not set" },
        { 10020, 400, "consumer expected to be ephemeral but a durable name was set in request" },
        { 10023, 503, "insufficient resources" },
        { 10025, 400, "invalid JSON" },
        { 10026, 400, "maximum consumers limit reached" },
        { 10027, 400, "maximum number of streams reached" },
        { 10037, 404, "no message found" },
        { 10039, 503, "JetStream not enabled for account" },
        { 10054, 400, "message size exceeds maximum allowed" },
        { 10056, 400, "stream name in subject does not match request" },
        { 10057, 500, "message delete not permitted" },
        { 10058, 400, "stream name already in use with a different configuration" },
        { 10059, 404, "stream not found" },
        { 10060, 400, "expected stream does not match" },
        { 10065, 400, "subjects overlap with an existing stream" },
        { 10074, 500, "replicas > 1 not supported in non-clustered mode" },
        { 10084, 400, "consumer in pull mode requires ack policy" },
        { 10088, 400, "consumer idle heartbeat requires a push based consumer" },
        { 10093, 400, "consumer filter subject is not a valid subset of the interest subjects" },
        { 10098, 400, "workqueue stream requires explicit ack" },
        { 10099, 400, "multiple non-filtered consumers not allowed on workqueue stream" },
        { 10100, 400, "filtered consumer not unique on workqueue stream" },
        { 10101, 400, "consumer must be deliver all on workqueue stream" },
        { 10103, 400, "durable name can not contain '.', '*', '>'" },
        { 10105, 400, "consumer already exists and is still active" },
        { 10108, 400, "consumer with flow control also needs heartbeats" },
        { 10109, 400, "invalid operation on sealed stream" },
        { 10110, 500, "stream purge not permitted" },
        { 10111, 500, "rollup not permitted" },
        { 10116, 400, "max deliver is required to be > length of backoff values" },
        { 10131, 400, "Consumer create request did not match filtered subject from create subject" },
        { 10132, 400, "Consumer Durable and Name have to be equal if both are provided" },
    };
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
        ck_assert_int_eq(js_err_set(&err, fixed[i].err_code, NULL), -EINVAL);
        ck_assert_int_eq(err.err_code, fixed[i].err_code);
        ck_assert_int_eq(err.code, fixed[i].code);
        ck_assert_str_eq(err.description, fixed[i].text);
        ck_assert_str_eq(js_err_text(fixed[i].err_code), fixed[i].text);
        ck_assert_int_eq(js_err_http(fixed[i].err_code), fixed[i].code);
    }
    /* the variable ones: text from the caller, code from the table */
    static const struct { int err_code, code; } var[] = {
        { 10012, 500 }, { 10043, 400 }, { 10052, 500 }, { 10070, 400 },
        { 10071, 400 }, { 10077, 503 }, { 10094, 400 }, { 10095, 400 },
    };
    for (size_t i = 0; i < sizeof var / sizeof var[0]; i++) {
        ck_assert_ptr_null(js_err_text(var[i].err_code));
        ck_assert_int_eq(js_err_http(var[i].err_code), var[i].code);
    }
    js_err_set(&err, 10043, "sequence %llu not found", 2ULL);
    ck_assert_str_eq(err.description, "sequence 2 not found");
    ck_assert_int_eq(err.code, 400);
    js_err_set(&err, 10071, "wrong last sequence: %llu", 4ULL);
    ck_assert_str_eq(err.description, "wrong last sequence: 4");
    js_err_set(&err, 10070, "wrong last msg ID: %s", "");
    ck_assert_str_eq(err.description, "wrong last msg ID: ");
    js_err_set(&err, 10077, "%s", "maximum messages per subject exceeded");
    ck_assert_int_eq(err.code, 503);
    js_err_set(&err, 10057, NULL);
    ck_assert_str_eq(err.description, "message delete not permitted");
    ck_assert_int_eq(js_err_http(99999), 500);
    ck_assert_ptr_null(js_err_text(99999));
}
END_TEST

/* ---- times ---- */

START_TEST(time_format)
{
    char b[64];
    ck_assert_str_eq(js_time_format(0, b, sizeof b), "0001-01-01T00:00:00Z");
    /* 2.9.10 trims trailing zeros ("...31.15970902Z" in the captures) */
    ck_assert_int_eq(js_time_parse("2026-11-22T00:32:31.15970902Z", &(int64_t){ 0 }), 0);
    int64_t ns;
    ck_assert_int_eq(js_time_parse("2026-11-22T00:32:31.15970902Z", &ns), 0);
    ck_assert_str_eq(js_time_format(ns, b, sizeof b), "2026-11-22T00:32:31.15970902Z");
    ck_assert_str_eq(js_time_format(ns + 80, b, sizeof b), "2026-11-22T00:32:31.1597091Z");
    ck_assert_str_eq(js_time_format(1795306985037091209, b, sizeof b),
                     "2026-11-22T00:23:05.037091209Z");
    ck_assert_str_eq(js_time_format(1577836800LL * 1000000000, b, sizeof b),
                     "2020-01-01T00:00:00Z");
    ck_assert_str_eq(js_time_format(500000000, b, sizeof b), "1970-01-01T00:00:00.5Z");
    ck_assert_str_eq(js_time_format(-1, b, sizeof b), "1969-12-31T23:59:59.999999999Z");
    ck_assert_str_eq(js_time_format(INT64_MAX, b, sizeof b), "2262-04-11T23:47:16.854775807Z");
    ck_assert_str_eq(js_time_format(INT64_MIN, b, sizeof b), "1677-09-21T00:12:43.145224192Z");
    ck_assert_str_eq(js_time_format(951782400LL * 1000000000, b, sizeof b),
                     "2000-02-29T00:00:00Z");
}
END_TEST

START_TEST(time_parse)
{
    int64_t ns;
    static const struct { const char *s; int64_t ns; } ok[] = {
        { "2020-01-01T00:00:00Z", 1577836800LL * 1000000000 },
        /* nats-py: datetime.isoformat() with Z */
        { "2020-01-01T00:00:00.123456Z", 1577836800LL * 1000000000 + 123456000 },
        /* nats.c: nine digits */
        { "2020-01-01T00:00:00.000000001Z", 1577836800LL * 1000000000 + 1 },
        { "2020-01-01T00:00:00.123456789123Z", 1577836800LL * 1000000000 + 123456789 },
        { "2020-01-01T00:00:00,5Z", 1577836800LL * 1000000000 + 500000000 },
        { "2020-01-01T02:00:00+02:00", 1577836800LL * 1000000000 },
        { "2019-12-31T18:30:00-05:30", 1577836800LL * 1000000000 },
        { "2020-01-01T00:00:00+00:00", 1577836800LL * 1000000000 },
        { "2020-02-29T1:02:03Z", 1582938123LL * 1000000000 }, /* Go takes a 1-digit hour */
        /* and a fraction in place of the seconds (probes Q1, Q2, Q4) */
        { "2020-02-29T01:02:,5Z", 1582938120LL * 1000000000 + 500000000 },
        { "2020-02-29T01:02:.55Z", 1582938120LL * 1000000000 + 550000000 },
        { "1970-01-01T00:00:00Z", 0 },
        { "1969-12-31T23:59:59.5Z", -500000000 },
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        ck_assert_msg(js_time_parse(ok[i].s, &ns) == 0, "%s", ok[i].s);
        ck_assert_msg(ns == ok[i].ns, "%s: %lld", ok[i].s, (long long)ns);
    }
    static const char *const bad[] = {
        "", "2020-01-01", "2020-01-01t00:00:00Z", "2020-01-01T00:00:00z",
        "2020-01-01T00:00:00", "2020-02-30T00:00:00Z", "2021-02-29T00:00:00Z",
        "2020-13-01T00:00:00Z", "2020-01-01T24:00:00Z", "2020-01-01T00:60:00Z",
        "2020-01-01T00:00:60Z", "2020-01-01T00:00:00.Z", "2020-01-01T00:00:00+0530",
        "2020-01-01T00:00:00+05:30x", "20-01-01T00:00:00Z", "2020-1-01T00:00:00Z",
        "2020-01-01 00:00:00Z", "+020-01-01T00:00:00Z", "1600-01-01T00:00:00Z",
        "2300-01-01T00:00:00Z",
        "2020-02-29T01:02Z", "2020-02-29T01:02:Z", "2020-02-29T01:02:0Z", "2020-02-29T01:2:03Z",
        "2020-02-29T01:02:,Z", "2020-02-29T01:02:5Z", "2020-02-29T01:02:.5", "2020-02-29T01::03Z",
        "2020-02-29T:02:03Z", "2020-02-29T01:02:.5.5Z", "2020-02-29T01:02:03.5x5Z",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(js_time_parse(bad[i], &ns) < 0, "%s parsed", bad[i]);
    /* round trip over a spread of instants */
    char b[64];
    for (int64_t t = INT64_MIN / 2; t < INT64_MAX / 2; t += INT64_MAX / 977) {
        int64_t back;
        js_time_format(t, b, sizeof b);
        ck_assert_int_eq(js_time_parse(b, &back), 0);
        ck_assert_msg(back == t, "%s", b);
    }
}
END_TEST

/* ---- streams ---- */

#define DEFAULTS_TAIL                                                                         \
    "\"allow_direct\":false,\"mirror_direct\":false,\"sealed\":false,\"deny_delete\":false,"  \
    "\"deny_purge\":false,\"allow_rollup_hdrs\":false}"

START_TEST(stream_defaults)
{
    /* spec/captures/raw-api-probes.txt "stream create minimal" */
    stream_echo("ORDERS", "{\"name\": \"ORDERS\", \"subjects\": [\"orders.>\"]}",
                "{\"name\":\"ORDERS\",\"subjects\":[\"orders.>\"],\"retention\":\"limits\","
                "\"max_consumers\":-1,\"max_msgs\":-1,\"max_bytes\":-1,\"max_age\":0,"
                "\"max_msgs_per_subject\":-1,\"max_msg_size\":-1,\"discard\":\"old\","
                "\"storage\":\"file\",\"num_replicas\":1,\"duplicate_window\":120000000000,"
                DEFAULTS_TAIL);
    ck_assert_int_eq(sc.max_msgs, -1);
    ck_assert_int_eq(sc.duplicate_window, 120000000000LL);
    /* no subjects: [name] */
    stream_echo("NOSUBJ", "{\"name\": \"NOSUBJ\"}",
                "{\"name\":\"NOSUBJ\",\"subjects\":[\"NOSUBJ\"],\"retention\":\"limits\","
                "\"max_consumers\":-1,\"max_msgs\":-1,\"max_bytes\":-1,\"max_age\":0,"
                "\"max_msgs_per_subject\":-1,\"max_msg_size\":-1,\"discard\":\"old\","
                "\"storage\":\"file\",\"num_replicas\":1,\"duplicate_window\":120000000000,"
                DEFAULTS_TAIL);
    /* max_age below 2 min becomes the duplicate window ("max_age stream 1s") */
    stream_echo("AGE", "{\"name\": \"AGE\", \"subjects\": [\"age.>\"], \"max_age\": 1000000000}",
                "{\"name\":\"AGE\",\"subjects\":[\"age.>\"],\"retention\":\"limits\","
                "\"max_consumers\":-1,\"max_msgs\":-1,\"max_bytes\":-1,\"max_age\":1000000000,"
                "\"max_msgs_per_subject\":-1,\"max_msg_size\":-1,\"discard\":\"old\","
                "\"storage\":\"file\",\"num_replicas\":1,\"duplicate_window\":1000000000,"
                DEFAULTS_TAIL);
    /* a longer max_age keeps 2 min */
    ck_assert_int_eq(sparse(&sc, "E2", "{\"name\":\"E2\",\"max_age\":300000000000}", true), 0);
    ck_assert_int_eq(sc.duplicate_window, 120000000000LL);
    /* discard_new_per_subject sits between mirror_direct and sealed (KVN) */
    stream_echo("KVN",
                "{\"name\": \"KVN\", \"subjects\": [\"kvn.>\"], \"max_msgs_per_subject\": 1, "
                "\"discard\": \"new\", \"discard_new_per_subject\": true}",
                "{\"name\":\"KVN\",\"subjects\":[\"kvn.>\"],\"retention\":\"limits\","
                "\"max_consumers\":-1,\"max_msgs\":-1,\"max_bytes\":-1,\"max_age\":0,"
                "\"max_msgs_per_subject\":1,\"max_msg_size\":-1,\"discard\":\"new\","
                "\"storage\":\"file\",\"num_replicas\":1,\"duplicate_window\":120000000000,"
                "\"allow_direct\":false,\"mirror_direct\":false,\"discard_new_per_subject\":true,"
                "\"sealed\":false,\"deny_delete\":false,\"deny_purge\":false,"
                "\"allow_rollup_hdrs\":false}");
    /* nats-py's KV create: 2.11 fields such as allow_msg_ttl are ignored */
    stream_echo("KV_dk",
                "{\"name\": \"KV_dk\", \"subjects\": [\"$KV.dk.>\"], \"max_consumers\": -1, "
                "\"max_msgs\": -1, \"discard\": \"new\", \"discard_new_per_subject\": false, "
                "\"max_msgs_per_subject\": 1, \"num_replicas\": 1, \"no_ack\": false, "
                "\"duplicate_window\": 120000000000, \"sealed\": false, \"deny_delete\": true, "
                "\"deny_purge\": false, \"allow_rollup_hdrs\": true, \"allow_direct\": true, "
                "\"allow_msg_ttl\": true, \"max_age\": 0}",
                "{\"name\":\"KV_dk\",\"subjects\":[\"$KV.dk.>\"],\"retention\":\"limits\","
                "\"max_consumers\":-1,\"max_msgs\":-1,\"max_bytes\":-1,\"max_age\":0,"
                "\"max_msgs_per_subject\":1,\"max_msg_size\":-1,\"discard\":\"new\","
                "\"storage\":\"file\",\"num_replicas\":1,\"duplicate_window\":120000000000,"
                "\"allow_direct\":true,\"mirror_direct\":false,\"sealed\":false,"
                "\"deny_delete\":true,\"deny_purge\":false,\"allow_rollup_hdrs\":true}");
    /* optional fields in Go's order; negative limits kept (probes D2, C5) */
    stream_echo("D2",
                "{\"name\":\"D2\",\"description\":\"hi\",\"no_ack\":true,\"placement\":{},"
                "\"republish\":{\"dest\":\"rp.>\"},\"subjects\":[\"d2.>\"],\"max_msgs\":-7,"
                "\"max_msg_size\":-2,\"storage\":\"memory\",\"retention\":\"workqueue\"}",
                "{\"name\":\"D2\",\"description\":\"hi\",\"subjects\":[\"d2.>\"],"
                "\"retention\":\"workqueue\",\"max_consumers\":-1,\"max_msgs\":-7,\"max_bytes\":-1,"
                "\"max_age\":0,\"max_msgs_per_subject\":-1,\"max_msg_size\":-2,\"discard\":\"old\","
                "\"storage\":\"memory\",\"num_replicas\":1,\"no_ack\":true,"
                "\"duplicate_window\":120000000000,\"placement\":{},"
                "\"republish\":{\"src\":\">\",\"dest\":\"rp.>\"}," DEFAULTS_TAIL);
    /* keys match ignoring case, as Go's decoder does ({"NAME":...} works) */
    ck_assert_int_eq(sparse(&sc, "CI", "{\"NAME\":\"CI\",\"Subjects\":[\"ci\"],\"DISCARD\":\"NEW\"}",
                            true), 0);
    ck_assert_str_eq(sc.subjects[0], "ci");
    ck_assert_int_eq(sc.discard, JS_DISCARD_NEW);
    /* null leaves a scalar alone, resets a list; JSON null body = {} */
    ck_assert_int_eq(sparse(&sc, "G1", "{\"name\":\"G1\",\"max_msgs\":5,\"MAX_MSGS\":null}", true), 0);
    ck_assert_int_eq(sc.max_msgs, 5);
    ck_assert_int_eq(sparse(&sc, "G2", "{\"name\":\"G2\",\"subjects\":[\"a\"],\"Subjects\":null}",
                            true), 0);
    ck_assert_str_eq(sc.subjects[0], "G2");
    /* 2.9.10 takes replicas > 1 on a standalone update */
    ck_assert_int_eq(sparse(&sc, "U1", "{\"name\":\"U1\",\"num_replicas\":3}", false), 0);
    ck_assert_int_eq(sc.num_replicas, 3);
}
END_TEST

START_TEST(stream_mirror_sources)
{
    /* captures: MIR and SRC */
    stream_echo("MIR", "{\"name\": \"MIR\", \"mirror\": {\"name\": \"EV\"}}",
                "{\"name\":\"MIR\",\"retention\":\"limits\",\"max_consumers\":-1,\"max_msgs\":-1,"
                "\"max_bytes\":-1,\"max_age\":0,\"max_msgs_per_subject\":-1,\"max_msg_size\":-1,"
                "\"discard\":\"old\",\"storage\":\"file\",\"num_replicas\":1,"
                "\"mirror\":{\"name\":\"EV\"}," DEFAULTS_TAIL);
    ck_assert_uint_eq(sc.nsubjects, 0);
    ck_assert_int_eq(sc.duplicate_window, 0);
    stream_echo("SRC", "{\"name\": \"SRC\", \"subjects\": [\"src.>\"], \"sources\": [{\"name\": \"EV\"}]}",
                "{\"name\":\"SRC\",\"subjects\":[\"src.>\"],\"retention\":\"limits\","
                "\"max_consumers\":-1,\"max_msgs\":-1,\"max_bytes\":-1,\"max_age\":0,"
                "\"max_msgs_per_subject\":-1,\"max_msg_size\":-1,\"discard\":\"old\","
                "\"storage\":\"file\",\"num_replicas\":1,\"duplicate_window\":120000000000,"
                "\"sources\":[{\"name\":\"EV\"}]," DEFAULTS_TAIL);
    /* Go keeps the offset a time was written with; zero fields dropped,
     * external kept whole (probe E7) */
    stream_echo("E7",
                "{\"name\":\"E7\",\"mirror\":{\"name\":\"E1\",\"opt_start_time\":"
                "\"2020-01-01T00:00:00.5+01:00\",\"filter_subject\":\"\",\"opt_start_seq\":0,"
                "\"external\":{\"api\":\"\",\"deliver\":\"\"}}}",
                "{\"name\":\"E7\",\"retention\":\"limits\",\"max_consumers\":-1,\"max_msgs\":-1,"
                "\"max_bytes\":-1,\"max_age\":0,\"max_msgs_per_subject\":-1,\"max_msg_size\":-1,"
                "\"discard\":\"old\",\"storage\":\"file\",\"num_replicas\":1,\"mirror\":{\"name\":"
                "\"E1\",\"opt_start_time\":\"2020-01-01T00:00:00.5+01:00\",\"external\":{\"api\":"
                "\"\",\"deliver\":\"\"}}," DEFAULTS_TAIL);
    /* probes V2, V6 */
    stream_echo("V6",
                "{\"name\":\"V6\",\"sources\":[{\"name\":\"E1\",\"external\":{\"api\":\"a\"}}],"
                "\"placement\":{\"cluster\":\"c\",\"tags\":[\"x\",\"y\"]}}",
                "{\"name\":\"V6\",\"retention\":\"limits\",\"max_consumers\":-1,\"max_msgs\":-1,"
                "\"max_bytes\":-1,\"max_age\":0,\"max_msgs_per_subject\":-1,\"max_msg_size\":-1,"
                "\"discard\":\"old\",\"storage\":\"file\",\"num_replicas\":1,"
                "\"duplicate_window\":120000000000,\"placement\":{\"cluster\":\"c\",\"tags\":"
                "[\"x\",\"y\"]},\"sources\":[{\"name\":\"E1\",\"external\":{\"api\":\"a\","
                "\"deliver\":\"\"}}]," DEFAULTS_TAIL);
    stream_echo("V2",
                "{\"name\":\"V2\",\"sources\":[{\"name\":\"E1\",\"opt_start_seq\":5,"
                "\"filter_subject\":\"x\",\"external\":{\"api\":\"a.b\",\"deliver\":\"d.e\"}},"
                "{\"name\":\"E2\"}]}",
                "{\"name\":\"V2\",\"retention\":\"limits\",\"max_consumers\":-1,\"max_msgs\":-1,"
                "\"max_bytes\":-1,\"max_age\":0,\"max_msgs_per_subject\":-1,\"max_msg_size\":-1,"
                "\"discard\":\"old\",\"storage\":\"file\",\"num_replicas\":1,"
                "\"duplicate_window\":120000000000,\"sources\":[{\"name\":\"E1\","
                "\"opt_start_seq\":5,\"filter_subject\":\"x\",\"external\":{\"api\":\"a.b\","
                "\"deliver\":\"d.e\"}},{\"name\":\"E2\"}]," DEFAULTS_TAIL);
    /* null or empty extras are absent (F5, F6) */
    ck_assert_int_eq(sparse(&sc, "F5", "{\"name\":\"F5\",\"mirror\":null,\"sources\":[],"
                                       "\"placement\":null,\"republish\":null}", true), 0);
    ck_assert_ptr_null(sc.extra_json);
    /* republish with wildcard references (E9, J1, J3) */
    ck_assert_int_eq(sparse(&sc, "E9", "{\"name\":\"E9\",\"subjects\":[\"e9.>\"],\"republish\":"
                                       "{\"src\":\"e9.*\",\"dest\":\"rp9.$1\"}}", true), 0);
    ck_assert_int_eq(sparse(&sc, "J1", "{\"name\":\"J1\",\"subjects\":[\"j1.*.*\"],\"republish\":"
                                       "{\"src\":\"j1.*.*\",\"dest\":\"o.$2.$1\"}}", true), 0);
    ck_assert_int_eq(sparse(&sc, "J3", "{\"name\":\"J3\",\"subjects\":[\"j3.*\"],\"republish\":"
                                       "{\"src\":\"j3.*\",\"dest\":\"o.{{wildcard(1)}}\"}}", true), 0);
}
END_TEST

START_TEST(stream_errors)
{
    static char longname[300], longbody[700], longdesc[4200], descbody[4300];
    memset(longname, 'N', 256);
    snprintf(longbody, sizeof longbody, "{\"name\":\"%s\"}", longname);
    memset(longdesc, 'd', 4097);
    snprintf(descbody, sizeof descbody, "{\"name\":\"I1\",\"description\":\"%s\"}", longdesc);
    static const struct {
        const char *subj, *body;
        bool create;
        int code, err_code;
        const char *text;
    } t[] = {
#define J 400, 10025, "invalid JSON"
#define C(text) 500, 10052, text
        { "A1", "{\"name\":\"A1\",\"max_msgs\":\"abc\"}", true, J },
        { "A2", "{\"name\":\"A2\",\"retention\":null}", true, J },
        { "A3", "null", true, 400, 10056, "stream name in subject does not match request" },
        { "A4", "{\"name\":\"A4\",\"max_msg_size\":3000000000}", true, J },
        { "A5", "{\"name\":\"A5\",\"max_msgs\":1.0}", true, J },
        { "A6", "{\"name\":\"A6\",\"max_age\":50000000}", true, C("max age needs to be >= 100ms") },
        { "A7", "{\"name\":\"A7\",\"max_age\":1000000000,\"duplicate_window\":2000000000}", true,
          C("duplicates window can not be larger then max age") },
        { "A8", "{\"name\":\"A8\",\"duplicate_window\":50000000}", true,
          C("duplicates window needs to be >= 100ms") },
        { "A9", "{\"name\":\"A9\",\"duplicate_window\":-5}", true,
          C("duplicates window can not be negative") },
        { "B1", "{\"name\":\"B1\",\"deny_purge\":true,\"allow_rollup_hdrs\":true}", true,
          C("roll-ups require the purge permission") },
        { "B2", "{\"name\":\"B2\",\"discard_new_per_subject\":true}", true,
          C("discard new per subject requires discard new policy to be set") },
        { "B3", "{\"name\":\"B3\",\"discard_new_per_subject\":true,\"discard\":\"new\"}", true,
          C("discard new per subject requires max msgs per subject > 0") },
        { "B4", "{\"name\":\"B4\",\"subjects\":[\"a\",\"a\"]}", true, C("duplicate subjects detected") },
        { "B5", "{\"name\":\"B5\",\"subjects\":[\"$JS.API.>\"]}", true,
          C("subjects overlap with jetstream api") },
        { "F8", "{\"name\":\"F8\",\"subjects\":[\"$JS.API.STREAM.INFO.x\"]}", true,
          C("subjects overlap with jetstream api") },
        { "B6", "{\"name\":\"B6\",\"subjects\":[\"a..b\"]}", true, C("invalid subject") },
        { "F7", "{\"name\":\"F7\",\"subjects\":[\"f7 x\"]}", true, C("invalid subject") },
        { "H8", "{\"name\":\"H8\",\"subjects\":[\"a.>.b\"]}", true, C("invalid subject") },
        { "D1", "{\"name\":\"D1\",\"subjects\":[\"d1\",null]}", true, C("invalid subject") },
        { "B7", "{\"name\":\"B7\",\"subjects\":[\"x.*\",\"x.>\"]}", true,
          C("subject \"x.*\" overlaps with \"x.>\"") },
        { "G9", "{\"name\":\"G9\",\"subjects\":[\"g9.*.b\",\"g9.a.*\"]}", true,
          C("subject \"g9.*.b\" overlaps with \"g9.a.*\"") },
        { "G8", "{\"name\":\"G8\",\"subjects\":[\"g8.\xc3\xa9.*\",\"g8.\xc3\xa9.x\"]}", true,
          C("subject \"g8.\xc3\xa9.*\" overlaps with \"g8.\xc3\xa9.x\"") },
        { "B8", "{\"name\":\"B8\",\"num_replicas\":6}", true, C("maximum replicas is 5") },
        { "B9", "{\"name\":\"B9\",\"num_replicas\":-1}", true, 400, 10133,
          "replicas count cannot be negative" },
        { "C1", "{\"name\":\"C1\",\"mirror_direct\":true}", true,
          C("stream has no mirror but does have mirror direct") },
        { "C2", "{\"name\":\"C/2\"}", true, 400, 10056, "stream name in subject does not match request" },
        { "C/3", "{\"name\":\"C/3\"}", true, 400, 10128, "Stream name can not contain path separators" },
        { "A*B", "{\"name\":\"A*B\"}", true,
          C("stream name is required and can not contain '.', '*', '>'") },
        { longname, longbody, true, C("stream name is too long, maximum allowed is 255") },
        { "I1", descbody, true, C("stream description is too long, maximum allowed is 4096") },
        { "C6", "{\"name\":\"C6\",\"max_age\":-1}", true, C("duplicates window can not be negative") },
        { "C7", "{\"name\":\"C7\",\"storage\":\"any\"}", true, J }, /* crashes 2.9.10 */
        { "J9", "{\"name\":\"J9\",\"storage\":\"File\"}", true, J },
        { "C9", "{\"name\":\"C9\",\"subjects\":[\"c9\",5]}", true, J },
        { "D3", "{\"name\":\"D3\",\"retention\":\"Limits\"}", true, J },
        { "BR", "{\"name\": \"BR\", \"subjects\": [\"br.>\"], \"retention\": \"bogus\"}", true, J },
        { "D6", "{\"name\":\"D6\",\"max_msgs\":123456789012345678901234567890}", true, J },
        { "D7", "{\"name\":\"D7\",\"sealed\":false,\"deny_delete\":1}", true, J },
        { "D8", "[]", true, J },
        { "D9", "{\"name\":\"D9\"} x", true, J },
        { "E0", "", true, J },
        { "E0", "{", true, J },
        { "E0", "\"E0\"", true, J },
        { "K3", "{\"name\":\"K3\",\"num_replicas\":1.5}", true, J },
        { "K5", "{\"name\":\"K5\",\"subjects\":\"k5\"}", true, J },
        { "K6", "{\"name\":5}", true, J },
        { "I6", "{\"name\":\"I6\",\"mirror\":\"x\"}", true, J },
        { "I7", "{\"name\":\"I7\",\"sources\":{\"name\":\"x\"}}", true, J },
        { "I8", "{\"name\":\"I8\",\"placement\":{\"tags\":\"x\"}}", true, J },
        { "J8", "{\"name\":\"J8\",\"mirror\":{\"name\":\"X\",\"opt_start_time\":\"bad\"}}", true, J },
        { "V3", "{\"name\":\"V3\",\"sources\":[null]}", true, J }, /* crashes 2.9.10 */
        { "E3", "{\"name\":\"E3\",\"mirror\":{\"name\":\"E1\",\"external\":{\"api\":\"$JS.API\","
                "\"deliver\":\"x.*\"}}}", true, 400, 10024,
          "stream external delivery prefix x.* must not contain wildcards" },
        { "V4", "{\"name\":\"V4\",\"sources\":[{\"name\":\"E1\",\"external\":{\"api\":\"$JS.API.>\"}}]}",
          true, C("stream external api prefix \"$JS.API.>\" must be a valid subject without wildcards") },
        { "V5", "{\"name\":\"V5\",\"sources\":[{\"name\":\"E1\",\"external\":{\"api\":\"$JS.API\"}}]}",
          true, 400, 10021, "stream external api prefix $JS.API must not overlap with $JS.API" },
        { "E4", "{\"name\":\"E4\",\"sources\":[{\"name\":\"E4\"}]}", true, C("detected cycle") },
        { "I5", "{\"name\":\"I5\",\"mirror\":{\"name\":\"I5\"}}", true, C("detected cycle") },
        { "E5", "{\"name\":\"E5\",\"mirror\":{\"name\":\"E1\"},\"subjects\":[\"e5\"]}", true, 400,
          10034, "stream mirrors can not contain subjects" },
        { "E6", "{\"name\":\"E6\",\"mirror\":{\"name\":\"E1\"},\"sources\":[{\"name\":\"E2\"}]}", true,
          400, 10031, "stream mirrors can not also contain other sources" },
        { "E8", "{\"name\":\"E8\",\"subjects\":[\"e8.a\",\"e8.b\"],\"template_owner\":\"x\"}", true,
          500, 10049, "stream not owned by template" },
        { "F1", "{\"name\":\"F1\",\"subjects\":[\"f1.>\"],\"republish\":{\"src\":\"zz\",\"dest\":\"rp\"}}",
          true, C("stream configuration for republish source is not valid subset of subjects") },
        { "F2", "{\"name\":\"F2\",\"subjects\":[\"f2.>\"],\"republish\":{\"dest\":\"f2.x\"}}", true,
          C("stream configuration for republish destination forms a cycle") },
        { "F3", "{\"name\":\"F3\",\"subjects\":[\"f3.>\"],\"republish\":{\"dest\":\"\"}}", true,
          C("stream configuration for republish not valid") },
        { "F4", "{\"name\":\"F4\",\"subjects\":[\"f4.*\"],\"republish\":{\"dest\":\"rp.x\"}}", true,
          C("stream configuration for republish not valid") },
        { "J2", "{\"name\":\"J2\",\"subjects\":[\"j2.*.*\"],\"republish\":{\"src\":\"j2.*.*\","
                "\"dest\":\"o.$2\"}}", true, C("stream configuration for republish not valid") },
        { "J4", "{\"name\":\"J4\",\"subjects\":[\"j4.*\"],\"republish\":{\"src\":\"j4.*\","
                "\"dest\":\"o.$3\"}}", true, C("stream configuration for republish not valid") },
        { "SE", "{\"name\": \"SE\", \"subjects\": [\"se.>\"], \"sealed\": true}", true,
          C("stream configuration for create can not be sealed") },
        { "R3", "{\"name\": \"R3\", \"subjects\": [\"r3.>\"], \"num_replicas\": 3}", true, 500,
          10074, "replicas > 1 not supported in non-clustered mode" },
        /* update: the config rules come before the name check */
        { "U2", "{\"name\":\"U1\",\"max_age\":5}", false, C("max age needs to be >= 100ms") },
        { "U2", "{\"name\":\"U1\"}", false, 400, 10056, "stream name in subject does not match request" },
        { "U1", "{\"name\":\"U1\",\"template_owner\":\"t\"}", false,
          C("stream configuration update can not be owned by a template") },
        /* create: the name check and the create-only rules first */
        { "U4", "{\"name\":\"U4x\",\"max_age\":5}", true, 400, 10056,
          "stream name in subject does not match request" },
        { "U6", "{\"name\":\"U6\",\"max_age\":5,\"sealed\":true}", true,
          C("stream configuration for create can not be sealed") },
#undef J
#undef C
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        stream_fails(t[i].subj, t[i].body, t[i].create, t[i].code, t[i].err_code, t[i].text);
    /* clustered: more replicas than servers */
    const char *r3 = "{\"name\":\"R3\",\"num_replicas\":3}";
    ck_assert_int_eq(js_stream_config_parse(r3, strlen(r3), "R3", true, true, 2, &sc, &err), -EINVAL);
    ck_assert_int_eq(err.err_code, 10005);
    ck_assert_str_eq(err.description, "no suitable peers for placement");
    ck_assert_int_eq(js_stream_config_parse(r3, strlen(r3), "R3", true, true, 3, &sc, &err), 0);
    ck_assert_int_eq(sc.num_replicas, 3);
}
END_TEST

START_TEST(stream_equal)
{
    /* the normalised forms compare, so nats.c's repeated KV create is idempotent */
    ck_assert_int_eq(sparse(&sc, "U3", "{\"name\":\"U3\",\"subjects\":[\"u3\"],\"max_msgs\":0,"
                                       "\"description\":\"\"}", true), 0);
    ck_assert_int_eq(sparse(&sc2, "U3", "{\"name\":\"U3\",\"subjects\":[\"u3\"],\"max_msgs\":-1,"
                                        "\"duplicate_window\":120000000000,\"num_replicas\":1}",
                            true), 0);
    ck_assert(js_stream_config_equal(&sc, &sc2));
    /* order of subjects matters (DeepEqual) */
    ck_assert_int_eq(sparse(&sc, "O", "{\"name\":\"O\",\"subjects\":[\"a\",\"b\"]}", true), 0);
    ck_assert_int_eq(sparse(&sc2, "O", "{\"name\":\"O\",\"subjects\":[\"b\",\"a\"]}", true), 0);
    ck_assert(!js_stream_config_equal(&sc, &sc2));
    ck_assert_int_eq(sparse(&sc2, "O", "{\"name\":\"O\",\"subjects\":[\"a\",\"b\"],\"placement\":{}}",
                            true), 0);
    ck_assert(!js_stream_config_equal(&sc, &sc2));
    /* copy is deep and equal */
    struct js_stream_config cp;
    ck_assert_int_eq(js_stream_config_copy(&cp, &sc2), 0);
    ck_assert(js_stream_config_equal(&cp, &sc2));
    ck_assert_ptr_ne(cp.subjects, sc2.subjects);
    ck_assert_ptr_ne(cp.extra_json, sc2.extra_json);
    js_stream_config_free(&cp);
}
END_TEST

static void update_fails(const char *old, const char *upd, const char *text, int err_code)
{
    ck_assert_int_eq(sparse(&sc, "U1", old, true), 0);
    ck_assert_int_eq(sparse(&sc2, "U1", upd, false), 0);
    ck_assert_int_eq(js_stream_config_check_update(&sc, &sc2, &err), -EINVAL);
    ck_assert_int_eq(err.err_code, err_code);
    ck_assert_str_eq(err.description, text);
}

START_TEST(stream_update)
{
    const char *old = "{\"name\":\"U1\",\"subjects\":[\"u1.a\",\"u1.b\"],\"deny_delete\":true,"
                      "\"deny_purge\":true}";
    update_fails(old, "{\"name\":\"U1\",\"deny_delete\":true,\"deny_purge\":true,\"retention\":\"interest\"}",
                 "stream configuration update can not change retention policy", 10052);
    update_fails(old, "{\"name\":\"U1\",\"deny_delete\":true,\"deny_purge\":true,\"max_consumers\":4}",
                 "stream configuration update can not change MaxConsumers", 10052);
    update_fails(old, "{\"name\":\"U1\",\"deny_delete\":true,\"deny_purge\":true,\"storage\":\"memory\"}",
                 "stream configuration update can not change storage type", 10052);
    update_fails(old, "{\"name\":\"U1\",\"deny_purge\":true}",
                 "stream configuration update can not cancel deny message deletes", 10052);
    update_fails(old, "{\"name\":\"U1\",\"deny_delete\":true}",
                 "stream configuration update can not cancel deny purge", 10052);
    update_fails(old, "{\"name\":\"U1\",\"deny_delete\":true,\"deny_purge\":true,\"republish\":"
                      "{\"dest\":\"rr.>\"}}",
                 "stream configuration update can not change RePublish", 10052);
    update_fails("{\"name\":\"U1\",\"mirror\":{\"name\":\"X\"}}",
                 "{\"name\":\"U1\",\"mirror\":{\"name\":\"Y\"}}",
                 "stream mirror configuration can not be updated", 10055);
}
END_TEST

START_TEST(stream_update_allowed)
{
    /* sealing forces its settings (probe "update to sealed") */
    ck_assert_int_eq(sparse(&sc, "MC", "{\"name\": \"MC\", \"subjects\": [\"mc.>\"], \"max_consumers\": 1}",
                            true), 0);
    ck_assert_int_eq(sparse(&sc2, "MC", "{\"name\": \"MC\", \"subjects\": [\"mc.>\"], "
                                        "\"max_consumers\": 1, \"sealed\": true, "
                                        "\"max_age\":600000000000}", false), 0);
    ck_assert_int_eq(js_stream_config_check_update(&sc, &sc2, &err), 0);
    char *j = js_stream_config_to_json(&sc2);
    ck_assert_str_eq(j, "{\"name\":\"MC\",\"subjects\":[\"mc.>\"],\"retention\":\"limits\","
                        "\"max_consumers\":1,\"max_msgs\":-1,\"max_bytes\":-1,\"max_age\":0,"
                        "\"max_msgs_per_subject\":-1,\"max_msg_size\":-1,\"discard\":\"new\","
                        "\"storage\":\"file\",\"num_replicas\":1,\"duplicate_window\":120000000000,"
                        "\"allow_direct\":false,\"mirror_direct\":false,\"sealed\":true,"
                        "\"deny_delete\":true,\"deny_purge\":true,\"allow_rollup_hdrs\":false}");
    free(j);
    /* and a sealed stream stays sealed */
    js_stream_config_free(&sc);
    ck_assert_int_eq(js_stream_config_copy(&sc, &sc2), 0);
    ck_assert_int_eq(sparse(&sc2, "MC", "{\"name\":\"MC\",\"subjects\":[\"mc.>\"],\"max_consumers\":1,"
                                        "\"deny_delete\":true,\"deny_purge\":true}", false), 0);
    ck_assert_int_eq(js_stream_config_check_update(&sc, &sc2, &err), -EINVAL);
    ck_assert_str_eq(err.description, "stream configuration update can not unseal a sealed stream");
    /* limits, direct, rollups, replicas may change (capture "stream update") */
    ck_assert_int_eq(sparse(&sc, "ORDERS", "{\"name\":\"ORDERS\",\"subjects\":[\"orders.>\"]}", true), 0);
    ck_assert_int_eq(sparse(&sc2, "ORDERS", "{\"name\": \"ORDERS\", \"subjects\": [\"orders.>\"], "
                                            "\"max_msgs_per_subject\": 5, \"allow_direct\": true, "
                                            "\"allow_rollup_hdrs\": true, \"num_replicas\": 3}",
                            false), 0);
    ck_assert_int_eq(js_stream_config_check_update(&sc, &sc2, &err), 0);
    ck_assert_int_eq(sc2.max_msgs_per_subject, 5);
}
END_TEST

/* ---- consumers ---- */

START_TEST(consumer_forms)
{
    /* DURABLE.CREATE (capture D1) */
    consumer_echo("DURABLE.EV.D1",
                  "{\"stream_name\": \"EV\", \"config\": {\"durable_name\": \"D1\", \"ack_policy\": "
                  "\"explicit\", \"deliver_policy\": \"all\"}}",
                  "{\"durable_name\":\"D1\",\"deliver_policy\":\"all\",\"ack_policy\":\"explicit\","
                  "\"ack_wait\":30000000000,\"max_deliver\":-1,\"replay_policy\":\"instant\","
                  "\"max_waiting\":512,\"max_ack_pending\":1000,\"num_replicas\":0}");
    ck_assert(js_consumer_is_durable(&cc));
    /* CREATE.<s>.<name> with durable (C2) */
    consumer_echo("EV.C2",
                  "{\"stream_name\": \"EV\", \"config\": {\"name\": \"C2\", \"durable_name\": \"C2\", "
                  "\"ack_policy\": \"explicit\"}}",
                  "{\"durable_name\":\"C2\",\"name\":\"C2\",\"deliver_policy\":\"all\","
                  "\"ack_policy\":\"explicit\",\"ack_wait\":30000000000,\"max_deliver\":-1,"
                  "\"replay_policy\":\"instant\",\"max_waiting\":512,\"max_ack_pending\":1000,"
                  "\"num_replicas\":0}");
    /* CREATE.<s>.<name>.<filter>: ephemeral with a name gets 5 s (C3) */
    consumer_echo("EV.C3.ev.a",
                  "{\"stream_name\": \"EV\", \"config\": {\"name\": \"C3\", \"filter_subject\": "
                  "\"ev.a\", \"ack_policy\": \"explicit\"}}",
                  "{\"name\":\"C3\",\"deliver_policy\":\"all\",\"ack_policy\":\"explicit\","
                  "\"ack_wait\":30000000000,\"max_deliver\":-1,\"filter_subject\":\"ev.a\","
                  "\"replay_policy\":\"instant\",\"max_waiting\":512,\"max_ack_pending\":1000,"
                  "\"inactive_threshold\":5000000000,\"num_replicas\":0}");
    ck_assert(!js_consumer_is_durable(&cc));
    /* CREATE.<s>: the server names it; no name in the config */
    consumer_echo("EV", "{\"stream_name\": \"EV\", \"config\": {\"ack_policy\": \"explicit\"}}",
                  "{\"deliver_policy\":\"all\",\"ack_policy\":\"explicit\",\"ack_wait\":30000000000,"
                  "\"max_deliver\":-1,\"replay_policy\":\"instant\",\"max_waiting\":512,"
                  "\"max_ack_pending\":1000,\"inactive_threshold\":5000000000,\"num_replicas\":0}");
    ck_assert_ptr_null(cc.name);
    consumer_echo("EV", "{\"stream_name\": \"EV\", \"config\": {\"name\": \"X2\"}}",
                  "{\"name\":\"X2\",\"deliver_policy\":\"all\",\"ack_policy\":\"none\","
                  "\"max_deliver\":-1,\"replay_policy\":\"instant\",\"max_waiting\":512,"
                  "\"inactive_threshold\":5000000000,\"num_replicas\":0}");
    /* the subject's name wins (C5) */
    consumer_echo("EV.C5", "{\"stream_name\": \"EV\", \"config\": {\"name\": \"OTHER\"}}",
                  "{\"name\":\"C5\",\"deliver_policy\":\"all\",\"ack_policy\":\"none\","
                  "\"max_deliver\":-1,\"replay_policy\":\"instant\",\"max_waiting\":512,"
                  "\"inactive_threshold\":5000000000,\"num_replicas\":0}");
    /* push durable with flow control (P1) */
    consumer_echo("EV.P1",
                  "{\"stream_name\": \"EV\", \"config\": {\"name\": \"P1\", \"durable_name\": \"P1\", "
                  "\"deliver_subject\": \"push.p1\", \"ack_policy\": \"explicit\", "
                  "\"idle_heartbeat\": 1000000000, \"flow_control\": true}}",
                  "{\"durable_name\":\"P1\",\"name\":\"P1\",\"deliver_policy\":\"all\","
                  "\"ack_policy\":\"explicit\",\"ack_wait\":30000000000,\"max_deliver\":-1,"
                  "\"replay_policy\":\"instant\",\"max_ack_pending\":1000,"
                  "\"idle_heartbeat\":1000000000,\"flow_control\":true,"
                  "\"deliver_subject\":\"push.p1\",\"num_replicas\":0}");
    /* backoff sets ack_wait (BO) */
    consumer_echo("EV.BO",
                  "{\"stream_name\": \"EV\", \"config\": {\"name\": \"BO\", \"ack_policy\": "
                  "\"explicit\", \"backoff\": [1000000000, 2000000000], \"max_deliver\": 5}}",
                  "{\"name\":\"BO\",\"deliver_policy\":\"all\",\"ack_policy\":\"explicit\","
                  "\"ack_wait\":1000000000,\"max_deliver\":5,\"backoff\":[1000000000,2000000000],"
                  "\"replay_policy\":\"instant\",\"max_waiting\":512,\"max_ack_pending\":1000,"
                  "\"inactive_threshold\":5000000000,\"num_replicas\":0}");
    /* by_start_time (T1) */
    consumer_echo("EV.T1",
                  "{\"stream_name\": \"EV\", \"config\": {\"name\": \"T1\", \"deliver_policy\": "
                  "\"by_start_time\", \"opt_start_time\": \"2020-01-01T00:00:00Z\"}}",
                  "{\"name\":\"T1\",\"deliver_policy\":\"by_start_time\",\"opt_start_time\":"
                  "\"2020-01-01T00:00:00Z\",\"ack_policy\":\"none\",\"max_deliver\":-1,"
                  "\"replay_policy\":\"instant\",\"max_waiting\":512,"
                  "\"inactive_threshold\":5000000000,\"num_replicas\":0}");
    /* the offset is echoed, the fraction cut to 9 digits (probe K5) */
    consumer_echo("CS.K5",
                  "{\"stream_name\":\"CS\",\"config\":{\"name\":\"K5\",\"deliver_policy\":"
                  "\"by_start_time\",\"opt_start_time\":\"2020-01-01T00:00:00.123456789123+02:00\"}}",
                  "{\"name\":\"K5\",\"deliver_policy\":\"by_start_time\",\"opt_start_time\":"
                  "\"2020-01-01T00:00:00.123456789+02:00\",\"ack_policy\":\"none\","
                  "\"max_deliver\":-1,\"replay_policy\":\"instant\",\"max_waiting\":512,"
                  "\"inactive_threshold\":5000000000,\"num_replicas\":0}");
    /* a 1970 start time is a real time, not "absent" */
    consumer_echo("CS.T6",
                  "{\"stream_name\":\"CS\",\"config\":{\"name\":\"T6\",\"deliver_policy\":"
                  "\"by_start_time\",\"opt_start_time\":\"1970-01-01T00:00:00Z\"}}",
                  "{\"name\":\"T6\",\"deliver_policy\":\"by_start_time\",\"opt_start_time\":"
                  "\"1970-01-01T00:00:00Z\",\"ack_policy\":\"none\",\"max_deliver\":-1,"
                  "\"replay_policy\":\"instant\",\"max_waiting\":512,"
                  "\"inactive_threshold\":5000000000,\"num_replicas\":0}");
    /* nats-py ordered consumer (wire-natspy-js.txt) */
    consumer_echo("PY",
                  "{\"stream_name\": \"PY\", \"config\": {\"deliver_policy\": \"all\", \"ack_policy\": "
                  "\"none\", \"ack_wait\": 79200000000000, \"max_deliver\": 1, \"filter_subject\": "
                  "\"py.>\", \"replay_policy\": \"instant\", \"flow_control\": true, "
                  "\"idle_heartbeat\": 5000000000, \"deliver_subject\": \"_INBOX.IZuQ0QLHBjZWwkkz6T4hsv\", "
                  "\"num_replicas\": 1, \"mem_storage\": true, \"inactive_threshold\": 0}}",
                  "{\"deliver_policy\":\"all\",\"ack_policy\":\"none\",\"ack_wait\":79200000000000,"
                  "\"max_deliver\":1,\"filter_subject\":\"py.>\",\"replay_policy\":\"instant\","
                  "\"idle_heartbeat\":5000000000,\"flow_control\":true,\"deliver_subject\":"
                  "\"_INBOX.IZuQ0QLHBjZWwkkz6T4hsv\",\"inactive_threshold\":5000000000,"
                  "\"num_replicas\":1,\"mem_storage\":true}");
    /* nats-py pull_subscribe(durable) with the filter in the subject */
    consumer_echo("PY.dur.py.a",
                  "{\"stream_name\": \"PY\", \"config\": {\"name\": \"dur\", \"durable_name\": \"dur\", "
                  "\"deliver_policy\": \"all\", \"ack_policy\": \"explicit\", \"filter_subject\": "
                  "\"py.a\", \"replay_policy\": \"instant\", \"ack_wait\": 0, \"idle_heartbeat\": 0, "
                  "\"inactive_threshold\": 0}}",
                  "{\"durable_name\":\"dur\",\"name\":\"dur\",\"deliver_policy\":\"all\","
                  "\"ack_policy\":\"explicit\",\"ack_wait\":30000000000,\"max_deliver\":-1,"
                  "\"filter_subject\":\"py.a\",\"replay_policy\":\"instant\",\"max_waiting\":512,"
                  "\"max_ack_pending\":1000,\"num_replicas\":0}");
    /* nats.c KV watch (wire-natsc.txt) */
    consumer_echo("KV_ckv",
                  "{\"stream_name\":\"KV_ckv\",\"config\":{\"deliver_policy\":\"last_per_subject\","
                  "\"deliver_subject\":\"_INBOX.FXTFB2MS495SJN2QNIG5LU\",\"ack_policy\":\"none\","
                  "\"ack_wait\":86400000000000,\"max_deliver\":1,\"filter_subject\":\"$KV.ckv.>\","
                  "\"replay_policy\":\"instant\",\"flow_control\":true,\"idle_heartbeat\":5000000000,"
                  "\"headers_only\":true,\"num_replicas\":1,\"mem_storage\":true}}",
                  "{\"deliver_policy\":\"last_per_subject\",\"ack_policy\":\"none\","
                  "\"ack_wait\":86400000000000,\"max_deliver\":1,\"filter_subject\":\"$KV.ckv.>\","
                  "\"replay_policy\":\"instant\",\"idle_heartbeat\":5000000000,\"flow_control\":true,"
                  "\"headers_only\":true,\"deliver_subject\":\"_INBOX.FXTFB2MS495SJN2QNIG5LU\","
                  "\"inactive_threshold\":5000000000,\"num_replicas\":1,\"mem_storage\":true}");
    /* every optional field, in Go's order (probe N2, N3) */
    consumer_echo("CS.N2",
                  "{\"stream_name\":\"CS\",\"config\":{\"name\":\"N2\",\"deliver_policy\":"
                  "\"by_start_time\",\"opt_start_time\":\"2020-01-01T00:00:00+00:00\",\"max_batch\":5,"
                  "\"max_expires\":5000000,\"max_bytes\":7,\"mem_storage\":true,\"headers_only\":true,"
                  "\"description\":\"d\",\"sample_freq\":\"7\",\"direct\":false}}",
                  "{\"name\":\"N2\",\"description\":\"d\",\"deliver_policy\":\"by_start_time\","
                  "\"opt_start_time\":\"2020-01-01T00:00:00Z\",\"ack_policy\":\"none\","
                  "\"max_deliver\":-1,\"replay_policy\":\"instant\",\"sample_freq\":\"7\","
                  "\"max_waiting\":512,\"headers_only\":true,\"max_batch\":5,\"max_expires\":5000000,"
                  "\"max_bytes\":7,\"inactive_threshold\":5000000000,\"num_replicas\":0,"
                  "\"mem_storage\":true}");
    consumer_echo("CS.N3",
                  "{\"stream_name\":\"CS\",\"config\":{\"name\":\"N3\",\"deliver_subject\":\"dl.n3\","
                  "\"deliver_group\":\"g\",\"idle_heartbeat\":100000000,\"flow_control\":true,"
                  "\"rate_limit_bps\":9,\"ack_policy\":\"all\",\"ack_wait\":-5,\"max_deliver\":-3,"
                  "\"replay_policy\":\"original\",\"max_ack_pending\":-2}}",
                  "{\"name\":\"N3\",\"deliver_policy\":\"all\",\"ack_policy\":\"all\",\"ack_wait\":-5,"
                  "\"max_deliver\":-3,\"replay_policy\":\"original\",\"rate_limit_bps\":9,"
                  "\"max_ack_pending\":-2,\"idle_heartbeat\":100000000,\"flow_control\":true,"
                  "\"deliver_subject\":\"dl.n3\",\"deliver_group\":\"g\","
                  "\"inactive_threshold\":5000000000,\"num_replicas\":0}");
    /* a durable keeps even a negative threshold; an ephemeral gets 5 s (M2) */
    consumer_echo("DURABLE.CS.M2",
                  "{\"stream_name\":\"CS\",\"config\":{\"durable_name\":\"M2\",\"inactive_threshold\":-5}}",
                  "{\"durable_name\":\"M2\",\"deliver_policy\":\"all\",\"ack_policy\":\"none\","
                  "\"max_deliver\":-1,\"replay_policy\":\"instant\",\"max_waiting\":512,"
                  "\"inactive_threshold\":-5,\"num_replicas\":0}");
    ck_assert_int_eq(cparse(&cc, "CS", "{\"stream_name\":\"CS\",\"config\":{\"inactive_threshold\":-5}}"), 0);
    ck_assert_int_eq(cc.inactive_threshold, 5000000000LL);
    /* "config": null is an empty config; deliver_policy "undefined" is all */
    ck_assert_int_eq(cparse(&cc, "CS.L8", "{\"stream_name\":\"CS\",\"config\":null}"), 0);
    ck_assert_str_eq(cc.name, "L8");
    ck_assert_int_eq(cparse(&cc, "CS.M3", "{\"stream_name\":\"CS\",\"config\":{\"deliver_policy\":"
                                          "\"undefined\"}}"), 0);
    ck_assert_int_eq(cc.deliver_policy, JS_DELIVER_ALL);
    /* case-insensitive keys at both levels; the last match wins (W6) */
    ck_assert_int_eq(cparse(&cc, "DURABLE.CS.W6", "{\"stream_name\":\"CS\",\"config\":{\"name\":\"W6\"},"
                                                  "\"Config\":{\"Durable_Name\":\"W6\"}}"), 0);
    ck_assert_str_eq(cc.durable_name, "W6");
    ck_assert_ptr_null(cc.name);
}
END_TEST

START_TEST(consumer_errors)
{
    static char desc[4300], dur[700], dsubj[400];
    char longd[300];
    memset(longd, 'd', 256);
    longd[256] = 0;
    snprintf(desc, sizeof desc, "{\"stream_name\":\"CS\",\"config\":{\"name\":\"P7\",\"description\":\"%0*d\"}}",
             4097, 0);
    snprintf(dur, sizeof dur, "{\"stream_name\":\"CS\",\"config\":{\"durable_name\":\"%s\"}}", longd);
    snprintf(dsubj, sizeof dsubj, "DURABLE.CS.%s", longd);
    const struct { const char *subj, *body; int err_code; const char *text; } t[] = {
#define J 10025, "invalid JSON"
#define P(text) 10094, "consumer delivery policy is deliver " text
#define SF "failed to parse consumer sampling configuration: "
        { "EV.C8", "{", J },
        { "EV.C8", "", J },
        { "EV.C8", "[]", J },
        { "CS.L9", "{\"stream_name\":\"CS\",\"config\":{\"deliver_policy\":\"bogus\"}}", J },
        { "CS.M1", "{\"stream_name\":\"CS\",\"config\":{\"ack_policy\":\"Explicit\"}}", J },
        { "CS.M9", "{\"stream_name\":\"CS\",\"config\":{\"name\":\"M9\",\"opt_start_time\":"
                   "\"2020-01-01T00:00:00z\"}}", J },
        { "CS.T1", "{\"stream_name\":\"CS\",\"config\":{\"opt_start_time\":\"2020-02-30T00:00:00Z\"}}", J },
        { "CS.W7", "{\"stream_name\":\"CS\",\"config\":[]}", J },
        { "CS.W9", "{\"stream_name\":\"CS\",\"config\":{\"mem_storage\":1}}", J },
        { "CS.V5", "{\"stream_name\":\"CS\",\"config\":{\"direct\":\"x\"}}", J },
        { "CS.V6", "{\"stream_name\":\"CS\",\"config\":{\"backoff\":[1,\"x\"],\"max_deliver\":5}}", J },
        { "CS.X2", "{\"stream_name\":\"CS\",\"config\":{\"rate_limit_bps\":-1}}", J },
        { "CS.X4", "{\"stream_name\":\"CS\",\"config\":{\"replay_policy\":null}}", J },
        { "EV.C6", "{\"stream_name\": \"XX\", \"config\": {\"name\": \"C6\"}}", 10056,
          "stream name in subject does not match request" },
        { "CS.L7", "{\"config\":{\"name\":\"L7\"}}", 10056, "stream name in subject does not match request" },
        { "CS.X4", "null", 10056, "stream name in subject does not match request" },
        { "CS.a/b", "{\"stream_name\":\"CS\"}", 10127, "Consumer name can not contain path separators" },
        { "DURABLE.EV.D7", "{\"stream_name\": \"EV\", \"config\": {\"ack_policy\": \"explicit\"}}",
          10018, "consumer expected to be durable but a durable name was not set" },
        { "DURABLE.EV.D9", "{\"stream_name\": \"EV\", \"config\": {\"durable_name\": \"D8\"}}", 10017,
          "consumer name in subject does not match durable name in request" },
        { "EV.N1", "{\"stream_name\": \"EV\", \"config\": {\"durable_name\": \"N2\"}}", 10017,
          "consumer name in subject does not match durable name in request" },
        { "EV", "{\"stream_name\": \"EV\", \"config\": {\"durable_name\": \"X1\"}}", 10020,
          "consumer expected to be ephemeral but a durable name was set in request" },
        { "EV.C4.ev.b", "{\"stream_name\": \"EV\", \"config\": {\"name\": \"C4\", \"filter_subject\": \"ev.a\"}}",
          10131, "Consumer create request did not match filtered subject from create subject" },
        { "CS.P5.cs.a", "{\"stream_name\":\"CS\",\"config\":{\"durable_name\":\"P5\"}}", 10131,
          "Consumer create request did not match filtered subject from create subject" },
        { "CS.L5", "{\"stream_name\":\"CS\",\"config\":{\"num_replicas\":-1}}", 10133,
          "replicas count cannot be negative" },
        { "CS.K1", "{\"stream_name\":\"CS\",\"config\":{\"backoff\":[1000000000]}}", 10116,
          "max deliver is required to be > length of backoff values" },
        { "EV.BO2", "{\"stream_name\": \"EV\", \"config\": {\"name\": \"BO2\", \"ack_policy\": \"explicit\", "
                    "\"backoff\": [1000000000, 2000000000], \"max_deliver\": 2}}",
          10116, "max deliver is required to be > length of backoff values" },
        { "CS.P7", desc, 10107, "consumer description is too long, maximum allowed is 4096" },
        { "CS.K6", "{\"stream_name\":\"CS\",\"config\":{\"deliver_subject\":\"dl.*\"}}", 10079,
          "consumer deliver subject has wildcards" },
        { "CS.N5", "{\"stream_name\":\"CS\",\"config\":{\"deliver_subject\":\"a..b\"}}", 10112,
          "invalid push consumer deliver subject" },
        { "CS.K7", "{\"stream_name\":\"CS\",\"config\":{\"deliver_subject\":\"dl.x\",\"max_waiting\":5}}",
          10080, "consumer in push mode can not set max waiting" },
        { "CS.Q1", "{\"stream_name\":\"CS\",\"config\":{\"deliver_subject\":\"dl.q1\",\"max_waiting\":3,"
                   "\"flow_control\":true}}", 10080, "consumer in push mode can not set max waiting" },
        { "CS.K8", "{\"stream_name\":\"CS\",\"config\":{\"deliver_subject\":\"dl.x\",\"max_ack_pending\":5}}",
          10082, "consumer requires ack policy for max ack pending" },
        { "CS.K9", "{\"stream_name\":\"CS\",\"config\":{\"deliver_subject\":\"dl.x\",\"idle_heartbeat\":50000000}}",
          10083, "consumer idle heartbeat needs to be >= 100ms" },
        { "CS.L1", "{\"stream_name\":\"CS\",\"config\":{\"rate_limit_bps\":5}}", 10086,
          "consumer in pull mode can not have rate limit set" },
        { "CS.L2", "{\"stream_name\":\"CS\",\"config\":{\"max_waiting\":-1}}", 10087,
          "consumer max waiting needs to be positive" },
        { "EV.P3", "{\"stream_name\": \"EV\", \"config\": {\"name\": \"P3\", \"idle_heartbeat\": 1000000000}}",
          10088, "consumer idle heartbeat requires a push based consumer" },
        { "CS.L3", "{\"stream_name\":\"CS\",\"config\":{\"flow_control\":true}}", 10089,
          "consumer flow control requires a push based consumer" },
        { "CS.M3", "{\"stream_name\":\"CS\",\"config\":{\"max_expires\":500000,\"max_batch\":-1}}", 10114,
          "consumer max request batch needs to be > 0" },
        { "CS.M4", "{\"stream_name\":\"CS\",\"config\":{\"max_expires\":500000}}", 10115,
          "consumer max request expires needs to be >= 1ms" },
        { "CS.M5", "{\"stream_name\":\"CS\",\"config\":{\"max_expires\":-5}}", 10115,
          "consumer max request expires needs to be >= 1ms" },
        { "CS.V4", "{\"stream_name\":\"CS\",\"config\":{\"direct\":true}}", 10090,
          "consumer direct requires a push based consumer" },
        { "EV.C9", "{\"stream_name\": \"EV\", \"config\": {\"name\": \"C9\", \"deliver_policy\": \"by_start_sequence\"}}",
          P("by start sequence, but optional start sequence is not set") },
        { "EV.C10", "{\"stream_name\": \"EV\", \"config\": {\"name\": \"C10\", \"deliver_policy\": \"last_per_subject\"}}",
          P("last per subject, but optional filter subject is not set") },
        { "CS.M6", "{\"stream_name\":\"CS\",\"config\":{\"deliver_policy\":\"all\",\"opt_start_seq\":5}}",
          P("all, but optional start sequence is also set") },
        { "CS.M7", "{\"stream_name\":\"CS\",\"config\":{\"deliver_policy\":\"by_start_time\"}}",
          P("by start time, but optional start time is not set") },
        { "CS.M8", "{\"stream_name\":\"CS\",\"config\":{\"deliver_policy\":\"new\",\"opt_start_time\":"
                   "\"2020-01-01T00:00:00Z\"}}", P("new, but optional start time is also set") },
        { "CS.U8", "{\"stream_name\":\"CS\",\"config\":{\"deliver_policy\":\"last\",\"opt_start_seq\":1,"
                   "\"opt_start_time\":\"2020-01-01T00:00:00Z\"}}",
          P("last, but optional start sequence is also set") },
        { "CS.U9", "{\"stream_name\":\"CS\",\"config\":{\"deliver_policy\":\"by_start_sequence\","
                   "\"opt_start_seq\":1,\"opt_start_time\":\"2020-01-01T00:00:00Z\"}}",
          P("by start sequence, but optional start time is also set") },
        { "CS.V1", "{\"stream_name\":\"CS\",\"config\":{\"deliver_policy\":\"by_start_time\","
                   "\"opt_start_seq\":1,\"opt_start_time\":\"2020-01-01T00:00:00Z\"}}",
          P("by start time, but optional start start sequence is also set") },
        { "CS.V2", "{\"stream_name\":\"CS\",\"config\":{\"deliver_policy\":\"last_per_subject\","
                   "\"opt_start_time\":\"2020-01-01T00:00:00Z\"}}",
          P("last per subject, but optional start time is also set") },
        { "CS.K2", "{\"stream_name\":\"CS\",\"config\":{\"sample_freq\":\"abc\"}}", 10095,
          SF "strconv.Atoi: parsing \"abc\": invalid syntax" },
        { "CS.K3", "{\"stream_name\":\"CS\",\"config\":{\"sample_freq\":\"-5%\"}}", 10095, SF "<nil>" },
        { "CS.U2", "{\"stream_name\":\"CS\",\"config\":{\"sample_freq\":\"%\"}}", 10095,
          SF "strconv.Atoi: parsing \"\": invalid syntax" },
        { "CS.U4", "{\"stream_name\":\"CS\",\"config\":{\"sample_freq\":\"5%%\"}}", 10095,
          SF "strconv.Atoi: parsing \"5%\": invalid syntax" },
        { "CS.U5", "{\"stream_name\":\"CS\",\"config\":{\"sample_freq\":\"99999999999999999999\"}}", 10095,
          SF "strconv.Atoi: parsing \"99999999999999999999\": value out of range" },
        { "CS.U7", "{\"stream_name\":\"CS\",\"config\":{\"sample_freq\":\"a\\\"b\\\\c\\t\xc3\xa9\"}}", 10095,
          SF "strconv.Atoi: parsing \"a\\\"b\\\\c\\t\xc3\xa9\": invalid syntax" },
        { "EV.P2", "{\"stream_name\": \"EV\", \"config\": {\"name\": \"P2\", \"deliver_subject\": "
                   "\"push.p2\", \"flow_control\": true}}",
          10108, "consumer with flow control also needs heartbeats" },
        { "DURABLE.CS.L4", "{\"stream_name\":\"CS\",\"config\":{\"durable_name\":\"L4\",\"name\":\"X4\"}}",
          10132, "Consumer Durable and Name have to be equal if both are provided" },
        { "CS", "{\"stream_name\":\"CS\",\"config\":{\"name\":\"a.b\"}}", 10103,
          "durable name can not contain '.', '*', '>'" },
        { "CS.*", "{\"stream_name\":\"CS\",\"config\":{\"name\":\"x\"}}", 10103,
          "durable name can not contain '.', '*', '>'" },
        { dsubj, dur, 10102, "consumer name is too long, maximum allowed is 255" },
#undef J
#undef P
#undef SF
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        consumer_fails(t[i].subj, t[i].body, t[i].err_code, t[i].text);
    /* sample_freq that parses */
    ck_assert_int_eq(cparse(&cc, "CS.U3", "{\"stream_name\":\"CS\",\"config\":{\"sample_freq\":\"+5%\"}}"), 0);
    ck_assert_int_eq(cparse(&cc, "CS.K4", "{\"stream_name\":\"CS\",\"config\":{\"sample_freq\":\"50%\"}}"), 0);
}
END_TEST

static void stream_for(const char *body)
{
    const char *name = strstr(body, "\"name\":\"") + 8;
    char n[32];
    snprintf(n, sizeof n, "%.*s", (int)(strchr(name, '"') - name), name);
    ck_assert_int_eq(sparse(&sc, n, body, true), 0);
}

static void check_stream_fails(const char *subj, const char *body, int err_code, const char *text)
{
    ck_assert_int_eq(cparse(&cc, subj, body), 0);
    ck_assert_int_eq(js_consumer_config_check_stream(&cc, &sc, &err), -EINVAL);
    ck_assert_int_eq(err.err_code, err_code);
    ck_assert_str_eq(err.description, text);
}

START_TEST(consumer_vs_stream)
{
    stream_for("{\"name\":\"CS\",\"subjects\":[\"cs.>\"]}");
    check_stream_fails("CS.N4", "{\"stream_name\":\"CS\",\"config\":{\"deliver_subject\":\"cs.x\"}}",
                       10081, "consumer deliver subject forms a cycle");
    check_stream_fails("CS.N6", "{\"stream_name\":\"CS\",\"config\":{\"filter_subject\":\"cs..x\"}}",
                       10093, "consumer filter subject is not a valid subset of the interest subjects");
    check_stream_fails("CS.C7", "{\"stream_name\":\"CS\",\"config\":{\"filter_subject\":\"zz.>\"}}",
                       10093, "consumer filter subject is not a valid subset of the interest subjects");
    check_stream_fails("CS.V9", "{\"stream_name\":\"CS\",\"config\":{\"filter_subject\":\"cs\"}}",
                       10093, "consumer filter subject is not a valid subset of the interest subjects");
    /* a wider wildcard filter must still reach the stream's subjects (W1) */
    check_stream_fails("CS.W1", "{\"stream_name\":\"CS\",\"config\":{\"filter_subject\":\"*.x\"}}",
                       10093, "consumer filter subject is not a valid subset of the interest subjects");
    check_stream_fails("CS.R", "{\"stream_name\":\"CS\",\"config\":{\"num_replicas\":3}}", 10126,
                       "consumer config replica count exceeds parent stream");
    static const char *const ok[] = {
        "{\"stream_name\":\"CS\",\"config\":{\"filter_subject\":\">\"}}",
        "{\"stream_name\":\"CS\",\"config\":{\"filter_subject\":\"cs.>\"}}",
        "{\"stream_name\":\"CS\",\"config\":{\"filter_subject\":\"cs.*.>\"}}",
        "{\"stream_name\":\"CS\",\"config\":{\"deliver_subject\":\"cs\"}}",
        "{\"stream_name\":\"CS\",\"config\":{\"num_replicas\":1}}",
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        ck_assert_int_eq(cparse(&cc, "CS.OK", ok[i]), 0);
        ck_assert_msg(js_consumer_config_check_stream(&cc, &sc, &err) == 0, "%s: %s", ok[i],
                      err.description);
    }
    /* work queue (probe "wq ack none") */
    stream_for("{\"name\":\"WQ\",\"subjects\":[\"wq.>\"],\"retention\":\"workqueue\"}");
    check_stream_fails("WQ.w3", "{\"stream_name\": \"WQ\", \"config\": {\"name\": \"w3\", \"durable_name\": "
                                "\"w3\", \"ack_policy\": \"none\", \"filter_subject\": \"wq.x\"}}",
                       10084, "consumer in pull mode requires ack policy");
    check_stream_fails("WQ.w4", "{\"stream_name\":\"WQ\",\"config\":{\"deliver_subject\":\"x\"}}", 10098,
                       "workqueue stream requires explicit ack");
    check_stream_fails("WQ.w5", "{\"stream_name\":\"WQ\",\"config\":{\"ack_policy\":\"explicit\","
                                "\"deliver_policy\":\"new\"}}",
                       10101, "consumer must be deliver all on workqueue stream");
    ck_assert_int_eq(cparse(&cc, "WQ.w1", "{\"stream_name\": \"WQ\", \"config\": {\"name\": \"w1\", "
                                          "\"durable_name\": \"w1\", \"ack_policy\": \"explicit\"}}"), 0);
    ck_assert_int_eq(js_consumer_config_check_stream(&cc, &sc, &err), 0);
    /* a mirror's subjects are another stream's: filters pass */
    stream_for("{\"name\":\"MIR\",\"mirror\":{\"name\":\"EV\"}}");
    ck_assert_int_eq(cparse(&cc, "MIR.m", "{\"stream_name\":\"MIR\",\"config\":{\"filter_subject\":\"ev.a\"}}"), 0);
    ck_assert_int_eq(js_consumer_config_check_stream(&cc, &sc, &err), 0);
}
END_TEST

static void cupdate(const char *subj, const char *old, const char *upd, int rc, bool changed,
                    const char *text)
{
    bool ch = !changed;
    ck_assert_int_eq(cparse(&cc, subj, old), 0);
    ck_assert_int_eq(cparse(&cc2, subj, upd), 0);
    ck_assert_int_eq(js_consumer_config_check_update(&cc, &cc2, false, &ch, &err), rc);
    if (rc == 0) {
        ck_assert(ch == changed);
    } else {
        ck_assert_int_eq(err.err_code, 10012);
        ck_assert_int_eq(err.code, 500);
        ck_assert_str_eq(err.description, text);
    }
}

START_TEST(consumer_update)
{
#define B(cfg) "{\"stream_name\":\"CS\",\"config\":{" cfg "}}"
    const char *p2 = B("\"name\":\"P2\",\"durable_name\":\"P2\"");
    cupdate("CS.P2", p2, p2, 0, false, NULL);
    cupdate("CS.P2", p2, B("\"name\":\"P2\",\"durable_name\":\"P2\",\"max_waiting\":7"), -EINVAL, false,
            "max waiting can not be updated");
    cupdate("CS.P2", p2, B("\"name\":\"P2\",\"durable_name\":\"P2\",\"deliver_subject\":\"dl.p2\""),
            -EINVAL, false, "max waiting can not be updated");
    cupdate("CS.P2", p2, B("\"name\":\"P2\",\"durable_name\":\"P2\",\"replay_policy\":\"original\""),
            -EINVAL, false, "replay policy can not be updated");
    cupdate("CS.P2", p2, B("\"name\":\"P2\",\"durable_name\":\"P2\",\"ack_policy\":\"explicit\""),
            -EINVAL, false, "ack policy can not be updated");
    cupdate("CS.P2", p2, B("\"name\":\"P2\",\"durable_name\":\"P2\",\"deliver_policy\":\"new\""),
            -EINVAL, false, "deliver policy can not be updated");
    /* what may change (probe P2, capture ACKT) */
    cupdate("CS.P2", p2,
            B("\"name\":\"P2\",\"durable_name\":\"P2\",\"max_deliver\":5,\"ack_wait\":5,\"backoff\":[1],"
              "\"max_ack_pending\":3,\"sample_freq\":\"1\",\"headers_only\":true,"
              "\"inactive_threshold\":9,\"description\":\"z\",\"max_batch\":3,\"max_expires\":3000000,"
              "\"max_bytes\":4,\"mem_storage\":true,\"num_replicas\":1,\"filter_subject\":\"cs.a\""),
            0, true, NULL);
    const char *p3 = B("\"name\":\"P3\",\"durable_name\":\"P3\",\"deliver_subject\":\"dl.p3\"");
    cupdate("CS.P3", p3, B("\"name\":\"P3\",\"durable_name\":\"P3\",\"deliver_subject\":\"dl.p3b\","
                           "\"idle_heartbeat\":1000000000"), -EINVAL, false, "heart beats can not be updated");
    cupdate("CS.P3", p3, B("\"name\":\"P3\",\"durable_name\":\"P3\""), -EINVAL, false,
            "max waiting can not be updated");
    cupdate("CS.P3", p3, B("\"name\":\"P3\",\"durable_name\":\"P3\",\"deliver_subject\":\"dl.p3b\","
                           "\"deliver_group\":\"q\",\"filter_subject\":\"cs.a\",\"rate_limit_bps\":5,"
                           "\"mem_storage\":true"), 0, true, NULL);
    cupdate("CS.P3", B("\"name\":\"P3\",\"deliver_subject\":\"d\",\"idle_heartbeat\":1000000000"),
            B("\"name\":\"P3\",\"deliver_subject\":\"d\",\"idle_heartbeat\":1000000000,\"flow_control\":true"),
            -EINVAL, false, "flow control can not be updated");
    cupdate("CS.P4", B("\"deliver_policy\":\"by_start_sequence\",\"opt_start_seq\":3"),
            B("\"deliver_policy\":\"by_start_sequence\",\"opt_start_seq\":4"), -EINVAL, false,
            "start sequence can not be updated");
    /* 2.9.10 compares opt_start_time pointers: equal configs pass, any
     * other change is refused as a start time change (probe P1) */
    const char *p1 = B("\"name\":\"P1\",\"durable_name\":\"P1\",\"deliver_policy\":\"by_start_time\","
                       "\"opt_start_time\":\"2020-01-01T00:00:00Z\"");
    cupdate("CS.P1", p1, p1, 0, false, NULL);
    cupdate("CS.P1", p1, B("\"name\":\"P1\",\"durable_name\":\"P1\",\"deliver_policy\":\"by_start_time\","
                           "\"opt_start_time\":\"2020-01-01T00:00:00Z\",\"description\":\"x\""),
            -EINVAL, false, "start time can not be updated");
    /* capture: ack policy on D1 */
    cupdate("DURABLE.EV.D1",
            "{\"stream_name\": \"EV\", \"config\": {\"durable_name\": \"D1\", \"ack_policy\": \"explicit\", "
            "\"deliver_policy\": \"all\"}}",
            "{\"stream_name\": \"EV\", \"config\": {\"durable_name\": \"D1\", \"ack_policy\": \"none\", "
            "\"deliver_policy\": \"all\"}}", -EINVAL, false, "ack policy can not be updated");
#undef B
    /* push <-> pull on hand-made configs (parsed ones differ in max_waiting first) */
    struct js_consumer_config a = { 0 }, b = { 0 };
    bool ch;
    a.max_deliver = b.max_deliver = -1;
    b.deliver_subject = "x";
    ck_assert_int_eq(js_consumer_config_check_update(&a, &b, false, &ch, &err), -EINVAL);
    ck_assert_str_eq(err.description, "can not update pull consumer to push based");
    ck_assert_int_eq(js_consumer_config_check_update(&b, &a, false, &ch, &err), -EINVAL);
    ck_assert_str_eq(err.description, "can not update push consumer to pull based");
    /* copy */
    ck_assert_int_eq(cparse(&cc, "EV.BO", "{\"stream_name\":\"EV\",\"config\":{\"backoff\":[1,2],"
                                          "\"max_deliver\":5,\"description\":\"d\",\"deliver_subject\":\"x\"}}"), 0);
    js_consumer_config_free(&cc2);
    ck_assert_int_eq(js_consumer_config_copy(&cc2, &cc), 0);
    ck_assert_ptr_ne(cc2.backoff, cc.backoff);
    ck_assert_int_eq(js_consumer_config_check_update(&cc, &cc2, false, &ch, &err), 0);
    ck_assert(!ch);
    /* A bound push consumer keeps its deliver subject: 10013, after the
     * "can not be updated" checks and before the backoff one (2.9.10). */
    free(cc2.deliver_subject);
    cc2.deliver_subject = strdup("y");
    ck_assert_int_eq(js_consumer_config_check_update(&cc, &cc2, false, &ch, &err), 0);
    ck_assert(ch);
    ck_assert_int_eq(js_consumer_config_check_update(&cc, &cc2, true, &ch, &err), -EINVAL);
    ck_assert_int_eq(err.err_code, 10013);
    ck_assert_str_eq(err.description, "consumer name already in use");
    cc2.ack_policy = JS_ACK_ALL;
    ck_assert_int_eq(js_consumer_config_check_update(&cc, &cc2, true, &ch, &err), -EINVAL);
    ck_assert_str_eq(err.description, "ack policy can not be updated");
    cc2.ack_policy = cc.ack_policy;
    cc2.max_deliver = 1;
    ck_assert_int_eq(js_consumer_config_check_update(&cc, &cc2, true, &ch, &err), -EINVAL);
    ck_assert_int_eq(err.err_code, 10013);
}
END_TEST

/* The API's two halves: the request's own checks, the stream lookup (the
 * caller's), then the config rules. */
START_TEST(consumer_parse_in_two_halves)
{
    struct js_consumer_config c;
    bool direct = true;
    /* A rule fault passes the request half ... */
    const char *body = "{\"stream_name\":\"EV\",\"config\":{\"deliver_subject\":\"a.*\"}}";
    ck_assert_int_eq(js_consumer_config_parse_request(body, strlen(body), "EV", JS_CFORM_CREATE,
                                                      NULL, NULL, &c, &direct, &err), 0);
    ck_assert(!direct);
    ck_assert_str_eq(c.deliver_subject, "a.*");
    ck_assert_int_eq(c.max_deliver, 0); /* not defaulted yet */
    /* ... and is found by the second. */
    ck_assert_int_eq(js_consumer_config_check(&c, direct, &err), -EINVAL);
    ck_assert_int_eq(err.err_code, 10079);
    js_consumer_config_free(&c);
    /* The request's own faults are the first half's. */
    body = "{\"stream_name\":\"EV\",\"config\":{\"durable_name\":\"x\"}}";
    ck_assert_int_eq(js_consumer_config_parse_request(body, strlen(body), "EV", JS_CFORM_CREATE,
                                                      NULL, NULL, &c, &direct, &err), -EINVAL);
    ck_assert_int_eq(err.err_code, 10020);
    body = "{\"stream_name\":\"XX\",\"config\":{}}";
    ck_assert_int_eq(js_consumer_config_parse_request(body, strlen(body), "EV", JS_CFORM_CREATE,
                                                      NULL, NULL, &c, &direct, &err), -EINVAL);
    ck_assert_int_eq(err.err_code, 10056);
    /* A good one comes out of both as parse() gives it. */
    struct js_consumer_config whole;
    body = "{\"stream_name\":\"EV\",\"config\":{\"ack_policy\":\"explicit\"}}";
    ck_assert_int_eq(js_consumer_config_parse_request(body, strlen(body), "EV", JS_CFORM_CREATE,
                                                      NULL, NULL, &c, &direct, &err), 0);
    ck_assert_int_eq(js_consumer_config_check(&c, direct, &err), 0);
    ck_assert_int_eq(js_consumer_config_parse(body, strlen(body), "EV", JS_CFORM_CREATE, NULL,
                                              NULL, &whole, &err), 0);
    char *a = js_consumer_config_to_json(&c), *b = js_consumer_config_to_json(&whole);
    ck_assert_str_eq(a, b);
    free(a);
    free(b);
    js_consumer_config_free(&c);
    js_consumer_config_free(&whole);
}
END_TEST

/* A stream's republish as the engine reads it back. */
START_TEST(stream_republish_accessor)
{
    char *src, *dest;
    bool ho;
    const char *body = "{\"name\":\"R\",\"subjects\":[\"r.>\"],\"republish\":"
                       "{\"dest\":\"rp.>\",\"headers_only\":true}}";
    ck_assert_int_eq(js_stream_config_parse(body, strlen(body), "R", true, false, 0, &sc, &err), 0);
    ck_assert_int_eq(js_stream_config_republish(&sc, &src, &dest, &ho), 0);
    ck_assert_str_eq(src, ">");
    ck_assert_str_eq(dest, "rp.>");
    ck_assert(ho);
    free(src);
    free(dest);
    js_stream_config_free(&sc);
    body = "{\"name\":\"R\",\"subjects\":[\"r.>\"]}";
    ck_assert_int_eq(js_stream_config_parse(body, strlen(body), "R", true, false, 0, &sc, &err), 0);
    ck_assert_int_eq(js_stream_config_republish(&sc, &src, &dest, &ho), -ENOENT);
    js_stream_config_free(&sc);
}
END_TEST

static Suite *js_config_suite(void)
{
    Suite *s = suite_create("js_config");
    TCase *tc = tcase_create("errors_times");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, error_table);
    tcase_add_test(tc, time_format);
    tcase_add_test(tc, time_parse);
    suite_add_tcase(s, tc);
    tc = tcase_create("stream");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, stream_defaults);
    tcase_add_test(tc, stream_mirror_sources);
    tcase_add_test(tc, stream_errors);
    tcase_add_test(tc, stream_equal);
    tcase_add_test(tc, stream_update);
    tcase_add_test(tc, stream_update_allowed);
    suite_add_tcase(s, tc);
    tc = tcase_create("consumer");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, consumer_forms);
    tcase_add_test(tc, consumer_errors);
    tcase_add_test(tc, consumer_vs_stream);
    tcase_add_test(tc, consumer_update);
    tcase_add_test(tc, consumer_parse_in_two_halves);
    tcase_add_test(tc, stream_republish_accessor);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(js_config_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
