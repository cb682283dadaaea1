"""43 consumers with several subject filters (nats-server 2.10's
filter_subjects): the consumer takes exactly the messages one of its
filters takes, in stream order, for pull and push, every deliver policy
that reads filters, num_pending, work-queue partitions, interest
retention, updates, a restart from disk, and the create errors 2.10
answers (10136-10139, and 10093 for a filter outside the stream, as Tern
checks one filter).

nats-server 2.9.10 ignores filter_subjects (its consumer gets every
message), so these run against Tern only.
"""

import asyncio

import nats.errors
import nats.js.errors
import pytest
from nats.js.api import ConsumerConfig, DeliverPolicy, RetentionPolicy, StreamConfig

from conftest import REFERENCE, js_api as api

pytestmark = pytest.mark.skipif(
    REFERENCE, reason="nats-server 2.9.10 ignores filter_subjects (2.10 feature)")

T = "io.nats.jetstream.api.v1."
SUBJECTS = ["ev.a", "ev.b", "ev.c.x", "ev.d", "ev.a", "ev.c.y", "ev.b", "ev.e"]


def error(code, err_code, description):
    return {"code": code, "err_code": err_code, "description": description}


@pytest.fixture
async def nc(js_server, nats_connect):
    """Stream EV (ev.>) holding SUBJECTS (sequences 1..8)."""
    nc = await nats_connect(js_server)
    js = nc.jetstream()
    await js.add_stream(StreamConfig(name="EV", subjects=["ev.>"]))
    for i, s in enumerate(SUBJECTS):
        await js.publish(s, b"m%d" % (i + 1))
    return nc


@pytest.fixture
def js(nc):
    return nc.jetstream()


def taken(filters):
    """(seq, subject) of SUBJECTS that one of the filters takes."""
    def match(f, s):
        ft, st = f.split("."), s.split(".")
        for i, t in enumerate(ft):
            if t == ">":
                return len(st) > i
            if i >= len(st) or (t != "*" and t != st[i]):
                return False
        return len(ft) == len(st)
    return [(i + 1, s) for i, s in enumerate(SUBJECTS) if any(match(f, s) for f in filters)]


async def fetch_all(sub, n):
    out = []
    while len(out) < n:
        msgs = await sub.fetch(n - len(out), timeout=2)
        for m in msgs:
            out.append((m.metadata.sequence.stream, m.subject))
            await m.ack()
    with pytest.raises(nats.errors.TimeoutError):
        await sub.fetch(1, timeout=0.3)
    return out


async def test_pull_takes_only_what_a_filter_takes_in_stream_order(js):
    filters = ["ev.a", "ev.c.*"]
    sub = await js.pull_subscribe("", "MF", stream="EV",
                                  config=ConsumerConfig(filter_subjects=filters))
    info = await js.consumer_info("EV", "MF")
    assert info.config.filter_subjects == filters
    assert info.config.filter_subject is None
    assert info.num_pending == len(taken(filters)) == 4
    assert await fetch_all(sub, 4) == taken(filters)
    # New messages: only the taken ones count and arrive.
    for s in ("ev.b", "ev.c.z", "ev.a", "ev.d"):
        await js.publish(s, b"late")
    info = await js.consumer_info("EV", "MF")
    assert info.num_pending == 2
    assert await fetch_all(sub, 2) == [(10, "ev.c.z"), (11, "ev.a")]
    info = await js.consumer_info("EV", "MF")
    assert (info.num_pending, info.num_ack_pending) == (0, 0)
    # as with one filter, a read that finds nothing more moves the read
    # position to the stream's end
    assert (info.delivered.consumer_seq, info.delivered.stream_seq) == (6, 12)


async def test_push_consumer_with_filter_subjects(js):
    got = []
    done = asyncio.Event()
    want = taken(["ev.b", "ev.e"])

    async def cb(m):
        got.append((m.metadata.sequence.stream, m.subject))
        await m.ack()
        if len(got) == len(want):
            done.set()

    await js.subscribe("", stream="EV", durable="PF", cb=cb, manual_ack=True,
                       config=ConsumerConfig(filter_subjects=["ev.b", "ev.e"]))
    await asyncio.wait_for(done.wait(), 5)
    assert got == want


async def test_last_per_subject_and_last_read_every_filter(js):
    sub = await js.pull_subscribe(
        "", "LPS", stream="EV",
        config=ConsumerConfig(filter_subjects=["ev.a", "ev.c.>"],
                              deliver_policy=DeliverPolicy.LAST_PER_SUBJECT))
    # last ev.a is 5, ev.c.x 3, ev.c.y 6: in stream order
    assert await fetch_all(sub, 3) == [(3, "ev.c.x"), (5, "ev.a"), (6, "ev.c.y")]
    sub = await js.pull_subscribe(
        "", "LAST", stream="EV",
        config=ConsumerConfig(filter_subjects=["ev.a", "ev.b"],
                              deliver_policy=DeliverPolicy.LAST))
    # the newest message either filter takes is ev.b at 7
    assert await fetch_all(sub, 1) == [(7, "ev.b")]


async def test_by_start_sequence_with_filter_subjects(js):
    sub = await js.pull_subscribe(
        "", "SEQ", stream="EV",
        config=ConsumerConfig(filter_subjects=["ev.a", "ev.d"], opt_start_seq=4,
                              deliver_policy=DeliverPolicy.BY_START_SEQUENCE))
    assert (await js.consumer_info("EV", "SEQ")).num_pending == 2
    assert await fetch_all(sub, 2) == [(4, "ev.d"), (5, "ev.a")]


CREATE_ERRORS = [
    ({"filter_subject": "ev.a", "filter_subjects": ["ev.b"]},
     error(400, 10136, "consumer cannot have both FilterSubject and FilterSubjects specified")),
    ({"filter_subjects": ["ev.a", ""]},
     error(400, 10139, "consumer filter in FilterSubjects cannot be empty")),
    ({"filter_subjects": ["ev.>", "ev.a"]},
     error(400, 10138, "consumer subject filters cannot overlap")),
    ({"filter_subjects": ["ev.*.x", "ev.c.*"]},
     error(400, 10138, "consumer subject filters cannot overlap")),
    ({"filter_subjects": ["ev.a", "ev..b"]},
     error(500, 10052, "invalid subject")),
    ({"filter_subjects": ["ev.a", "other.b"]},
     error(400, 10093, "consumer filter subject is not a valid subset of the interest subjects")),
    ({"filter_subjects": ["ev.a", 7]},
     error(400, 10025, "invalid JSON")),
]


@pytest.mark.parametrize("extra,err", CREATE_ERRORS)
async def test_create_errors(nc, extra, err):
    cfg = {"durable_name": "BAD", "ack_policy": "explicit", **extra}
    r = await api(nc, "$JS.API.CONSUMER.DURABLE.CREATE.EV.BAD",
                  {"stream_name": "EV", "config": cfg})
    assert r["error"] == err, r
    assert (await api(nc, "$JS.API.CONSUMER.NAMES.EV"))["consumers"] == []


async def test_subject_form_refuses_several_filters(nc):
    r = await api(nc, "$JS.API.CONSUMER.CREATE.EV.C1.ev.a",
                  {"stream_name": "EV", "config": {"name": "C1",
                                                   "filter_subjects": ["ev.a", "ev.b"]}})
    assert r == {"type": T + "consumer_create_response",
                 "error": error(400, 10137, "consumer with multiple subject filters cannot use "
                                "subject based API")}


async def test_empty_list_is_no_filter(nc):
    r = await api(nc, "$JS.API.CONSUMER.DURABLE.CREATE.EV.ALL",
                  {"stream_name": "EV", "config": {"durable_name": "ALL",
                                                   "filter_subjects": []}})
    assert "error" not in r, r
    assert "filter_subjects" not in r["config"]
    assert r["num_pending"] == len(SUBJECTS)


async def test_update_changes_the_filters(js):
    sub = await js.pull_subscribe("", "UP", stream="EV",
                                  config=ConsumerConfig(filter_subjects=["ev.a", "ev.b"]))
    assert (await js.consumer_info("EV", "UP")).num_pending == 4
    info = await js.add_consumer("EV", ConsumerConfig(durable_name="UP",
                                                      filter_subjects=["ev.d", "ev.e"]))
    assert info.config.filter_subjects == ["ev.d", "ev.e"]
    assert info.num_pending == 2
    assert await fetch_all(sub, 2) == [(4, "ev.d"), (8, "ev.e")]


async def test_work_queue_partitions(nc, js):
    await js.add_stream(StreamConfig(name="WQ", subjects=["q.>"],
                                     retention=RetentionPolicy.WORK_QUEUE))
    await js.add_consumer("WQ", ConsumerConfig(durable_name="W1",
                                               filter_subjects=["q.a", "q.b.>"]))
    for cfg, code in ((ConsumerConfig(durable_name="W2", filter_subject="q.b.x"), 10100),
                      (ConsumerConfig(durable_name="W2", filter_subjects=["q.c", "q.>"]), 10138),
                      (ConsumerConfig(durable_name="W2", filter_subjects=["q.c.x", "q.*"]), 10100),
                      (ConsumerConfig(durable_name="W2"), 10099)):
        with pytest.raises(nats.js.errors.APIError) as e:
            await js.add_consumer("WQ", cfg)
        assert e.value.err_code == code
    await js.add_consumer("WQ", ConsumerConfig(durable_name="W2", filter_subjects=["q.c", "q.d"]))
    for s in ("q.a", "q.c", "q.b.1", "q.d", "q.e"):
        await js.publish(s, b"w")
    s1 = await js.pull_subscribe_bind("W1", "WQ")
    s2 = await js.pull_subscribe_bind("W2", "WQ")
    assert await fetch_all(s1, 2) == [(1, "q.a"), (3, "q.b.1")]
    assert await fetch_all(s2, 2) == [(2, "q.c"), (4, "q.d")]
    # acked work leaves the queue; q.e, which no consumer takes, stays
    r = await api(nc, "$JS.API.STREAM.INFO.WQ")
    assert (r["state"]["messages"], r["state"]["first_seq"]) == (1, 5)


async def test_interest_retention_keeps_only_what_a_filter_takes(nc, js):
    await js.add_stream(StreamConfig(name="IN", subjects=["in.>"],
                                     retention=RetentionPolicy.INTEREST))
    sub = await js.pull_subscribe("", "I1", stream="IN",
                                  config=ConsumerConfig(filter_subjects=["in.a", "in.b"]))
    for s in ("in.a", "in.x", "in.b"):
        await js.publish(s, b"i")
    r = await api(nc, "$JS.API.STREAM.INFO.IN")
    assert r["state"]["messages"] == 2  # in.x had no interest
    assert await fetch_all(sub, 2) == [(1, "in.a"), (3, "in.b")]

    # the acks reach the stream after fetch_all returns: poll for the removal
    for _ in range(200):
        if (await api(nc, "$JS.API.STREAM.INFO.IN"))["state"]["messages"] == 0:
            break
    else:
        pytest.fail("acked messages were not removed")


async def test_filters_survive_a_restart(server_factory, nats_connect):
    srv = server_factory.start(jetstream=True)
    nc = await nats_connect(srv)
    js = nc.jetstream()
    await js.add_stream(StreamConfig(name="EV", subjects=["ev.>"]))
    for s in SUBJECTS:
        await js.publish(s, b"r")
    sub = await js.pull_subscribe("", "RS", stream="EV",
                                  config=ConsumerConfig(filter_subjects=["ev.b", "ev.c.*"]))
    msgs = await sub.fetch(1, timeout=2)
    assert msgs[0].subject == "ev.b"
    await msgs[0].ack_sync()
    await nc.close()
    srv.kill9()
    srv = server_factory.start(jetstream=True, store_dir=srv.store_dir)
    nc = await nats_connect(srv)
    js = nc.jetstream()
    info = await js.consumer_info("EV", "RS")
    assert info.config.filter_subjects == ["ev.b", "ev.c.*"]
    assert info.num_pending == 3
    sub = await js.pull_subscribe_bind("RS", "EV")
    assert await fetch_all(sub, 3) == [(3, "ev.c.x"), (6, "ev.c.y"), (7, "ev.b")]
