"""48 sources: a stream that sources other streams of the same server
holds their messages under its own sequences, each with a
Nats-Stream-Source header ("<origin> <seq>", added after the message's
own headers), beside what is published to it; each source has its own
start and filter; a backlog is copied in order; sources can be added and
removed by an update; stream info lists each with its lag; a kill -9
restart goes on with no duplicate and no gap, also when the copies were
consumed from a work queue. Cycles and sources of another domain are
refused by Tern. (2.10's subject_transforms of an origin: test_49.)
"""

import asyncio
import base64

import pytest
from nats.js.api import ConsumerConfig, RetentionPolicy, StreamConfig, StreamSource

from conftest import REFERENCE, js_api as api, stored_messages, wait_stream_messages


def error(code, err_code, description):
    return {"code": code, "err_code": err_code, "description": description}


@pytest.fixture
async def nc(js_server, nats_connect):
    return await nats_connect(js_server)


async def sourced(nc, stream, upto):
    """(subject, data, Nats-Stream-Source or None) of messages 1..upto."""
    return [(m.subject, m.data, (m.headers or {}).get("Nats-Stream-Source"))
            for _, m in await stored_messages(nc, stream, upto)]


async def test_sources_aggregate_with_their_origin_in_a_header(nc):
    js = nc.jetstream()
    await js.add_stream(StreamConfig(name="A", subjects=["a.>"]))
    await js.add_stream(StreamConfig(name="B", subjects=["b.>"]))
    await js.publish("a.1", b"a1")
    await js.publish("b.x", b"bx", headers={"H": "v"})
    await js.publish("b.y", b"by")
    r = await api(nc, "$JS.API.STREAM.CREATE.S",
                  {"name": "S", "subjects": ["s.>"],
                   "sources": [{"name": "A"}, {"name": "B", "filter_subject": "b.x"}]})
    assert "error" not in r, r
    await wait_stream_messages(nc, "S", 2)
    await js.publish("s.own", b"own")
    await js.publish("a.2", b"a2")
    await js.publish("b.x", b"bx2")
    info = await wait_stream_messages(nc, "S", 5)
    got = await sourced(nc, "S", 5)
    assert sorted(got) == sorted([("a.1", b"a1", "A 1"), ("b.x", b"bx", "B 1"),
                                  ("s.own", b"own", None), ("a.2", b"a2", "A 2"),
                                  ("b.x", b"bx2", "B 3")])
    assert sorted((s["name"], s["lag"]) for s in info["sources"]) == [("A", 0), ("B", 0)]
    # the header block, byte for byte: the message's own header, then ours
    raw = await api(nc, "$JS.API.STREAM.MSG.GET.S", {"last_by_subj": "b.x"})
    assert base64.b64decode(raw["message"]["hdrs"]) == \
        b"NATS/1.0\r\nNats-Stream-Source: B 3\r\n\r\n"
    first_bx = None
    for seq in range(1, 6):
        r = await api(nc, "$JS.API.STREAM.MSG.GET.S", {"seq": seq})
        if r["message"]["data"] == base64.b64encode(b"bx").decode():
            first_bx = seq
    r = await api(nc, "$JS.API.STREAM.MSG.GET.S", {"seq": first_bx})
    assert base64.b64decode(r["message"]["hdrs"]) == \
        b"NATS/1.0\r\nH: v\r\nNats-Stream-Source: B 1\r\n\r\n"


async def test_each_source_has_its_own_start(nc):
    js = nc.jetstream()
    await js.add_stream(StreamConfig(name="A", subjects=["a.>"]))
    for i in range(5):
        await js.publish("a.x", b"%d" % (i + 1))
    await api(nc, "$JS.API.STREAM.CREATE.S",
              {"name": "S", "sources": [{"name": "A", "opt_start_seq": 4}]})
    await wait_stream_messages(nc, "S", 2)
    assert [d for _, d, _ in await sourced(nc, "S", 2)] == [b"4", b"5"]


async def test_a_backlog_is_copied_in_order(nc):
    js = nc.jetstream()
    await js.add_stream(StreamConfig(name="A", subjects=["a.>"]))
    n = 1300
    for i in range(n):
        await js.publish("a.x", b"%d" % i)
    await api(nc, "$JS.API.STREAM.CREATE.S", {"name": "S", "sources": [{"name": "A"}]})
    for i in range(n, n + 50):
        await js.publish("a.x", b"%d" % i)
    await wait_stream_messages(nc, "S", n + 50, timeout=30)
    sub = await js.pull_subscribe("", "C", stream="S", config=ConsumerConfig())
    seen = []
    while len(seen) < n + 50:
        for m in await sub.fetch(500, timeout=5):
            seen.append(int(m.data))
            await m.ack()
    assert seen == list(range(n + 50))


async def test_update_adds_and_removes_sources(nc):
    js = nc.jetstream()
    await js.add_stream(StreamConfig(name="A", subjects=["a.>"]))
    await js.add_stream(StreamConfig(name="B", subjects=["b.>"]))
    await api(nc, "$JS.API.STREAM.CREATE.S", {"name": "S", "sources": [{"name": "A"}]})
    await js.publish("a.x", b"1")
    await js.publish("b.x", b"not yet")
    await wait_stream_messages(nc, "S", 1)
    r = await api(nc, "$JS.API.STREAM.UPDATE.S", {"name": "S", "sources": [{"name": "A"},
                                                                           {"name": "B"}]})
    assert "error" not in r, r
    await wait_stream_messages(nc, "S", 2)  # B from its start: the earlier b.x too
    r = await api(nc, "$JS.API.STREAM.UPDATE.S", {"name": "S", "sources": [{"name": "B"}]})
    assert "error" not in r, r
    await js.publish("a.x", b"2")
    await js.publish("b.x", b"3")
    await wait_stream_messages(nc, "S", 3)
    assert sorted(d for _, d, _ in await sourced(nc, "S", 3)) == [b"1", b"3", b"not yet"]


async def test_sources_go_on_after_kill_9_without_duplicates(server_factory, nats_connect):
    srv = server_factory.start(jetstream=True)
    nc = await nats_connect(srv)
    js = nc.jetstream()
    await js.add_stream(StreamConfig(name="A", subjects=["a.>"]))
    await js.add_stream(StreamConfig(name="S", subjects=["s.>"],
                                     retention=RetentionPolicy.WORK_QUEUE,
                                     sources=[StreamSource(name="A")]))
    for i in range(40):
        await js.publish("a.x", b"%d" % i)
    await wait_stream_messages(nc, "S", 40)
    # the work queue is consumed: the copies leave S, their positions stay
    sub = await js.pull_subscribe("", "W", stream="S", config=ConsumerConfig())
    got = []
    while len(got) < 40:
        for m in await sub.fetch(40, timeout=5):
            got.append(int(m.data))
            await m.ack_sync()
    await wait_stream_messages(nc, "S", 0)
    await nc.close()
    srv.kill9()
    srv = server_factory.start(jetstream=True, store_dir=srv.store_dir)
    nc = await nats_connect(srv)
    js = nc.jetstream()
    for i in range(40, 45):
        await js.publish("a.x", b"%d" % i)
    await wait_stream_messages(nc, "S", 5)
    sub = await js.pull_subscribe_bind("W", "S")
    for m in await sub.fetch(10, timeout=5):
        got.append(int(m.data))
    assert got == list(range(45))


@pytest.mark.skipif(REFERENCE, reason="Tern refuses cycles through other streams")
async def test_a_cycle_of_sources_is_refused(nc):
    await api(nc, "$JS.API.STREAM.CREATE.X", {"name": "X", "subjects": ["x"],
                                               "sources": [{"name": "Y"}]})
    r = await api(nc, "$JS.API.STREAM.CREATE.Y", {"name": "Y", "subjects": ["y"],
                                                   "sources": [{"name": "X"}]})
    assert r["error"] == error(500, 10052, "detected cycle")
    r = await api(nc, "$JS.API.STREAM.CREATE.Y", {"name": "Y", "mirror": {"name": "X"}})
    assert r["error"] == error(500, 10052, "detected cycle")


@pytest.mark.skipif(REFERENCE, reason="nats-server sources from other domains")
async def test_external_sources_are_refused(nc):
    r = await api(nc, "$JS.API.STREAM.CREATE.S",
                  {"name": "S", "sources": [{"name": "A", "external": {"api": "$JS.hub.API"}}]})
    assert r["error"] == error(500, 10052, "stream sources external is not supported yet")


@pytest.mark.skipif(REFERENCE, reason="Tern refuses cycles through other streams")
async def test_many_shared_origins_are_checked_quickly(nc):
    """Stream i sources i-1 and i-2: the number of paths grows like the
    Fibonacci numbers, the cycle check's walk only with the streams."""
    await api(nc, "$JS.API.STREAM.CREATE.D0", {"name": "D0", "subjects": ["d0"]})
    await api(nc, "$JS.API.STREAM.CREATE.D1", {"name": "D1", "subjects": ["d1"],
                                                "sources": [{"name": "D0"}]})
    for i in range(2, 60):
        r = await api(nc, f"$JS.API.STREAM.CREATE.D{i}",
                      {"name": f"D{i}", "subjects": [f"d{i}"],
                       "sources": [{"name": f"D{i - 1}"}, {"name": f"D{i - 2}"}]}, timeout=2)
        assert "error" not in r, r
    # closing the loop anywhere is refused, at once
    r = await api(nc, "$JS.API.STREAM.UPDATE.D0", {"name": "D0", "subjects": ["d0"],
                                                    "sources": [{"name": "D59"}]}, timeout=2)
    assert r["error"] == error(500, 10052, "detected cycle")
    # (nothing is published: each message would reach D59 once per path)


async def test_sourced_copies_are_republished(nc):
    """A copy a source stores is a stored message of the stream: republished
    as any, once, with the stream's own sequence."""
    js = nc.jetstream()
    await js.add_stream(StreamConfig(name="A", subjects=["a.>"]))
    r = await api(nc, "$JS.API.STREAM.CREATE.S",
                  {"name": "S", "subjects": ["s.>"], "sources": [{"name": "A"}],
                   "republish": {"src": ">", "dest": "rp.>"}})
    assert "error" not in r, r
    got = []

    async def cb(msg):
        got.append((msg.subject, msg.headers.get("Nats-Stream"),
                    msg.headers.get("Nats-Sequence")))
    await nc.subscribe("rp.>", cb=cb)
    await nc.flush()
    await js.publish("a.1", b"x")
    await js.publish("s.own", b"y")
    await wait_stream_messages(nc, "S", 2)
    for _ in range(300):
        if len(got) >= 2:
            break
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.05)  # a second copy of either would be here by now
    assert sorted(got) == [("rp.a.1", "S", "1"), ("rp.s.own", "S", "2")], got
