"""46 mirrors: a stream that mirrors another of the same server holds the
origin's messages at the origin's sequence numbers (subject, headers,
payload), from the origin's start, an opt_start_seq or an opt_start_time,
optionally only those a filter_subject takes; it keeps following as the
origin grows, catches up a backlog, reports its mirror info (lag, active,
the origin missing), goes on after a kill -9 without a duplicate or a
gap, serves consumers, and refuses subjects and changes to its mirror as
nats-server does. A mirror of another domain is refused by Tern (not
performed yet).
"""

import asyncio
import datetime

import pytest
from nats.js.api import ConsumerConfig, StreamConfig

from conftest import REFERENCE, js_api as api, wait_stream_messages


def error(code, err_code, description):
    return {"code": code, "err_code": err_code, "description": description}


@pytest.fixture
async def nc(js_server, nats_connect):
    return await nats_connect(js_server)


async def origin(nc, n, name="O"):
    """Stream name on o.> (name.lower() for other names) with n messages
    alternating between two subjects; the third carries a header."""
    js = nc.jetstream()
    prefix = "o" if name == "O" else name.lower()
    await js.add_stream(StreamConfig(name=name, subjects=[f"{prefix}.>"]))
    for i in range(n):
        await js.publish(f"{prefix}.{i % 2}", b"m%d" % (i + 1),
                         headers={"H": "v"} if i == 2 else None)
    return js


async def messages(nc, stream, upto):
    """(seq, subject, hdrs, data) of every message 1..upto (None gaps out)."""
    out = []
    for seq in range(1, upto + 1):
        r = await api(nc, f"$JS.API.STREAM.MSG.GET.{stream}", {"seq": seq})
        if "message" in r:
            m = r["message"]
            out.append((m["seq"], m["subject"], m.get("hdrs"), m.get("data")))
    return out


async def test_mirror_copies_the_origin_and_keeps_following(nc):
    js = await origin(nc, 5)
    r = await api(nc, "$JS.API.STREAM.CREATE.M", {"name": "M", "mirror": {"name": "O"}})
    assert "error" not in r, r
    assert r["config"]["mirror"] == {"name": "O"}
    assert "subjects" not in r["config"]
    await wait_stream_messages(nc, "M", 5)
    assert await messages(nc, "M", 5) == await messages(nc, "O", 5)
    for i in range(5, 8):
        await js.publish(f"o.{i % 2}", b"m%d" % (i + 1))
    info = await wait_stream_messages(nc, "M", 8)
    assert await messages(nc, "M", 8) == await messages(nc, "O", 8)
    assert info["mirror"]["name"] == "O" and info["mirror"]["lag"] == 0
    assert info["mirror"]["active"] >= 0
    # the origin's times, too
    o = await api(nc, "$JS.API.STREAM.INFO.O")
    assert (info["state"]["first_ts"], info["state"]["last_ts"]) == \
        (o["state"]["first_ts"], o["state"]["last_ts"])


async def test_mirror_from_a_start_sequence_keeps_sequences(nc):
    await origin(nc, 6)
    await api(nc, "$JS.API.STREAM.MSG.DELETE.O", {"seq": 3})
    r = await api(nc, "$JS.API.STREAM.CREATE.M", {"name": "M",
                                                   "mirror": {"name": "O", "opt_start_seq": 3}})
    assert r["config"]["mirror"] == {"name": "O", "opt_start_seq": 3}
    info = await wait_stream_messages(nc, "M", 3)
    assert [m[0] for m in await messages(nc, "M", 6)] == [4, 5, 6]
    assert (info["state"]["first_seq"], info["state"]["last_seq"]) == (4, 6)


async def test_mirror_from_a_start_time(nc):
    js = await origin(nc, 3)
    await asyncio.sleep(0.05)
    start = datetime.datetime.now(datetime.timezone.utc)
    await asyncio.sleep(0.05)
    for i in range(3, 5):
        await js.publish("o.x", b"late")
    r = await api(nc, "$JS.API.STREAM.CREATE.M",
                  {"name": "M", "mirror": {"name": "O",
                                           "opt_start_time": start.isoformat().replace(
                                               "+00:00", "Z")}})
    assert "error" not in r, r
    await wait_stream_messages(nc, "M", 2)
    assert [m[0] for m in await messages(nc, "M", 5)] == [4, 5]


async def test_filtered_mirror_takes_only_its_subject(nc):
    js = await origin(nc, 6)
    await api(nc, "$JS.API.STREAM.CREATE.M", {"name": "M",
                                               "mirror": {"name": "O", "filter_subject": "o.1"}})
    await wait_stream_messages(nc, "M", 3)
    await js.publish("o.1", b"more")
    await js.publish("o.0", b"not this")
    await wait_stream_messages(nc, "M", 4)
    got = await messages(nc, "M", 8)
    assert [(m[0], m[1]) for m in got] == [(2, "o.1"), (4, "o.1"), (6, "o.1"), (7, "o.1")]


async def test_a_backlog_larger_than_one_sync_is_copied_in_order(nc):
    js = nc.jetstream()
    await js.add_stream(StreamConfig(name="O", subjects=["o.>"]))
    n = 1500  # several STREAM_SYNC entries' worth
    for i in range(n):
        await js.publish("o.x", b"%d" % i)
    await api(nc, "$JS.API.STREAM.CREATE.M", {"name": "M", "mirror": {"name": "O"}})
    # and the origin keeps growing while the mirror catches up
    for i in range(n, n + 100):
        await js.publish("o.y", b"%d" % i)
    info = await wait_stream_messages(nc, "M", n + 100, timeout=30)
    assert (info["state"]["first_seq"], info["state"]["last_seq"]) == (1, n + 100)
    sub = await js.pull_subscribe("", "C", stream="M", config=ConsumerConfig())
    seen = []
    while len(seen) < n + 100:
        for m in await sub.fetch(500, timeout=5):
            seen.append(int(m.data))
            await m.ack()
    assert seen == list(range(n + 100))


async def test_mirror_of_a_missing_stream_waits_for_it(nc):
    r = await api(nc, "$JS.API.STREAM.CREATE.M", {"name": "M", "mirror": {"name": "O"}})
    assert "error" not in r, r
    r = await api(nc, "$JS.API.STREAM.INFO.M")
    assert r["mirror"] == {"name": "O", "lag": 0, "active": -1,
                           "error": error(404, 10059, "stream not found")}
    await origin(nc, 3)
    await wait_stream_messages(nc, "M", 3)
    assert [m[0] for m in await messages(nc, "M", 3)] == [1, 2, 3]


async def test_mirror_config_rules(nc):
    await origin(nc, 1)
    await api(nc, "$JS.API.STREAM.CREATE.M", {"name": "M", "mirror": {"name": "O"}})
    r = await api(nc, "$JS.API.STREAM.UPDATE.M", {"name": "M", "mirror": {"name": "O"},
                                                   "subjects": ["m.x"]})
    assert r["error"] == error(400, 10034, "stream mirrors can not contain subjects")
    r = await api(nc, "$JS.API.STREAM.UPDATE.M", {"name": "M", "mirror": {"name": "O2"}})
    assert r["error"] == error(400, 10055, "stream mirror configuration can not be updated")
    # what a mirror may change: its own limits
    r = await api(nc, "$JS.API.STREAM.UPDATE.M", {"name": "M", "mirror": {"name": "O"},
                                                   "max_msgs": 10})
    assert "error" not in r, r


async def test_mirror_limits_apply_to_the_copies(nc):
    js = await origin(nc, 10)
    await api(nc, "$JS.API.STREAM.CREATE.M", {"name": "M", "mirror": {"name": "O"},
                                               "max_msgs": 4})

    async def settled():
        r = await api(nc, "$JS.API.STREAM.INFO.M")
        return r if r["state"]["last_seq"] == 10 else None
    for _ in range(500):
        r = await settled()
        if r:
            break
        await asyncio.sleep(0.02)
    assert (r["state"]["messages"], r["state"]["first_seq"]) == (4, 7)
    await js.publish("o.x", b"11")
    await wait_stream_messages(nc, "M", 4)
    r = await api(nc, "$JS.API.STREAM.INFO.M")
    assert (r["state"]["first_seq"], r["state"]["last_seq"]) == (8, 11)


async def test_mirror_goes_on_after_kill_9(server_factory, nats_connect):
    srv = server_factory.start(jetstream=True)
    nc = await nats_connect(srv)
    js = await origin(nc, 50)
    await api(nc, "$JS.API.STREAM.CREATE.M", {"name": "M", "mirror": {"name": "O"}})
    await wait_stream_messages(nc, "M", 50)
    await nc.close()
    srv.kill9()
    srv = server_factory.start(jetstream=True, store_dir=srv.store_dir)
    nc = await nats_connect(srv)
    js = nc.jetstream()
    for i in range(50, 60):
        await js.publish("o.x", b"m%d" % (i + 1))
    await wait_stream_messages(nc, "M", 60)
    assert await messages(nc, "M", 60) == await messages(nc, "O", 60)


@pytest.mark.skipif(REFERENCE, reason="nats-server mirrors other domains")
async def test_a_mirror_of_another_domain_is_refused(nc):
    r = await api(nc, "$JS.API.STREAM.CREATE.S",
                  {"name": "S", "mirror": {"name": "O", "external": {"api": "$JS.hub.API"}}})
    assert r["error"] == error(500, 10052, "stream mirror external is not supported yet")
    assert (await api(nc, "$JS.API.STREAM.NAMES"))["streams"] is None


async def test_mirror_inherits_and_serves_direct_gets(nc):
    js = nc.jetstream()
    await js.add_stream(StreamConfig(name="O", subjects=["o.>"], allow_direct=True))
    await js.publish("o.a", b"one")
    r = await api(nc, "$JS.API.STREAM.CREATE.M", {"name": "M", "mirror": {"name": "O"}})
    assert r["config"]["mirror_direct"] is True  # the origin's allow_direct
    await wait_stream_messages(nc, "M", 1)
    r = await api(nc, "$JS.API.STREAM.CREATE.P", {"name": "P", "subjects": ["p.>"]})
    r = await api(nc, "$JS.API.STREAM.CREATE.PM", {"name": "PM", "mirror": {"name": "P"}})
    assert r["config"]["mirror_direct"] is False
    # direct gets of the origin are answered (by the origin or the mirror)
    msg = await nc.request("$JS.API.DIRECT.GET.O", b'{"seq":1}', timeout=2)
    assert msg.data == b"one" and msg.headers["Nats-Sequence"] == "1"


@pytest.mark.skipif(REFERENCE, reason="which member answers is nats-server's choice")
async def test_a_mirror_answers_direct_gets_of_a_deleted_origin(nc):
    js = nc.jetstream()
    await js.add_stream(StreamConfig(name="O", subjects=["o.>"], allow_direct=True))
    await js.publish("o.a", b"kept")
    await api(nc, "$JS.API.STREAM.CREATE.M", {"name": "M", "mirror": {"name": "O"}})
    await wait_stream_messages(nc, "M", 1)
    await js.delete_stream("O")
    msg = await nc.request("$JS.API.DIRECT.GET.O", b'{"seq":1}', timeout=2)
    assert msg.data == b"kept"
    assert (msg.headers["Nats-Stream"], msg.headers["Nats-Subject"]) == ("M", "o.a")


async def test_a_mirror_of_no_name_is_taken_and_stays_empty(nc):
    """As nats-server 2.9.10: a mirror (or source) naming no stream is
    created and never fills (it once stopped a Tern replica's apply)."""
    for name, cfg in (("M", {"mirror": {}}), ("S", {"subjects": ["s"], "sources": [{}]})):
        r = await api(nc, f"$JS.API.STREAM.CREATE.{name}", {"name": name, **cfg})
        assert "error" not in r, r
    await nc.jetstream().publish("s", b"own")
    assert (await api(nc, "$JS.API.STREAM.INFO.M"))["state"]["messages"] == 0
    assert (await api(nc, "$JS.API.STREAM.INFO.S"))["state"]["messages"] == 1
