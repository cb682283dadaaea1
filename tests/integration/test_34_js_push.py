"""34 push consumers: delivery to deliver_subject only while it has a
subscriber, deliver groups, idle heartbeats, flow control, ordered
consumers as nats-py runs them (including a reset), the deliver policies
all / last / new / by_start_sequence / by_start_time / last_per_subject,
headers_only, redelivery and max_ack_pending for push, and
inactive_threshold removing an ephemeral.

spec/jetstream.md §8.1, §8.4, §8.5, §8.8, §8.9.
"""

import asyncio
import re
import time

import nats.errors
import pytest
from nats.js.api import ConsumerConfig, DeliverPolicy

from conftest import js_api as api

ACK_RE = r"\$JS\.ACK\.EV\.{c}\.(\d+)\.(\d+)\.(\d+)\.(\d+)\.(\d+)"
PAYLOADS = [("ev.a", b"msg1"), ("ev.b", b"msg2"), ("ev.a", b"msg3"), ("ev.b", b"msg4"),
            ("ev.a", b"msg5")]


def ack_tokens(reply, consumer):
    m = re.fullmatch(ACK_RE.format(c=re.escape(consumer)), reply or "")
    assert m, f"not a 9-token ack subject for EV/{consumer}: {reply!r}"
    return tuple(int(g) for g in m.groups())




async def create_consumer(nc, name, durable=True, stream="EV", **cfg):
    config = dict(cfg)
    if name:
        config["name"] = name
        if durable:
            config["durable_name"] = name
        subject = f"$JS.API.CONSUMER.CREATE.{stream}.{name}"
    else:
        subject = f"$JS.API.CONSUMER.CREATE.{stream}"
    r = await api(nc, subject, {"stream_name": stream, "config": config})
    assert "error" not in r, r
    return r


async def consumer_exists(nc, name, stream="EV"):
    r = await api(nc, f"$JS.API.CONSUMER.INFO.{stream}.{name}")
    if "error" in r:
        assert r["error"]["err_code"] == 10014, r
        return None
    return r


@pytest.fixture
async def nc(js_server, nats_connect):
    """Stream EV (ev.>) holding the five PAYLOADS."""
    nc = await nats_connect(js_server)
    r = await api(nc, "$JS.API.STREAM.CREATE.EV", {"name": "EV", "subjects": ["ev.>"]})
    assert "error" not in r, r
    for subj, data in PAYLOADS:
        await nc.request(subj, data, timeout=2)
    return nc


@pytest.fixture
def js(nc):
    return nc.jetstream()


@pytest.fixture
def rc(js_server, raw, nc):
    c = raw(js_server)
    c.handshake(headers=True, no_responders=True)
    return c


def sub(c, subject, sid, queue=None, sync=False):
    """SUB; with sync, also wait until the server has it (PING/PONG) - only
    where no delivery can race the PONG."""
    q = f" {queue}" if queue else ""
    c.send(f"SUB {subject}{q} {sid}\r\n".encode())
    if sync:
        c.sync()


def hb(last_consumer, last_stream):
    return (f"NATS/1.0 100 Idle Heartbeat\r\nNats-Last-Consumer: {last_consumer}\r\n"
            f"Nats-Last-Stream: {last_stream}\r\n\r\n").encode()


# ---------------------------------------------------------------- interest-gated delivery

async def test_delivery_waits_for_a_subscriber(nc, rc):
    r = await create_consumer(nc, "P1", deliver_subject="push.p1", ack_policy="explicit")
    assert r["num_pending"] == 5
    assert "push_bound" not in r
    # Non-event window: with nobody on push.p1 nothing is delivered.
    await asyncio.sleep(0.3)
    info = await consumer_exists(nc, "P1")
    assert info["delivered"]["consumer_seq"] == 0 and info["num_pending"] == 5
    sub(rc, "push.p1", 7)
    msgs = [rc.read_msg(answer_pings=True) for _ in range(5)]
    assert [(m["subject"], m["payload"]) for m in msgs] == PAYLOADS
    assert all(m["sid"] == "7" for m in msgs)
    assert [ack_tokens(m["reply"], "P1")[:3] for m in msgs] == [(1, i, i) for i in range(1, 6)]
    assert [ack_tokens(m["reply"], "P1")[4] for m in msgs] == [4, 3, 2, 1, 0]
    info = await consumer_exists(nc, "P1")
    assert info["push_bound"] is True
    assert info["delivered"]["consumer_seq"] == 5 and info["num_ack_pending"] == 5
    rc.send(b"UNSUB 7\r\n")
    rc.sync()
    info = await consumer_exists(nc, "P1")
    assert "push_bound" not in info or info["push_bound"] is False
    # Live messages are delivered as they are stored.
    sub(rc, "push.p1", 8, sync=True)
    await nc.request("ev.c", b"live", timeout=2)
    m = rc.read_msg(answer_pings=True)
    assert (m["subject"], m["sid"], m["payload"]) == ("ev.c", "8", b"live")
    assert ack_tokens(m["reply"], "P1")[:3] == (1, 6, 6)


async def test_push_durable_with_nats_py(nc, js):
    psub = await js.subscribe("ev.>", durable="pd", stream="EV", manual_ack=True)
    got = []
    for _ in range(5):
        m = await psub.next_msg(timeout=2)
        got.append(m.data)
        await m.ack()
    assert got == [b"msg1", b"msg2", b"msg3", b"msg4", b"msg5"]
    info = await psub.consumer_info()
    assert info.config.durable_name == "pd"
    assert info.config.deliver_subject.startswith("_INBOX.")
    assert info.push_bound is True
    deadline = time.monotonic() + 5
    while info.ack_floor.stream_seq != 5:
        assert time.monotonic() < deadline, info
        await asyncio.sleep(0.02)
        info = await psub.consumer_info()
    await js.publish("ev.z", b"after")
    m = await psub.next_msg(timeout=2)
    assert m.data == b"after" and m.metadata.sequence.stream == 6


async def test_push_durable_resumes_after_resubscribe(nc, js):
    psub = await js.subscribe("ev.>", durable="again", stream="EV", manual_ack=True)
    for _ in range(5):
        await (await psub.next_msg(timeout=2)).ack_sync()
    await psub.unsubscribe()
    await js.publish("ev.z", b"msg6")           # stored while nobody is bound
    psub = await js.subscribe("ev.>", durable="again", stream="EV", manual_ack=True)
    m = await psub.next_msg(timeout=2)
    assert m.data == b"msg6"
    assert (m.metadata.sequence.stream, m.metadata.sequence.consumer) == (6, 6)
    assert m.metadata.num_delivered == 1


async def test_push_redelivery_after_ack_wait(nc, rc):
    await create_consumer(nc, "RD", deliver_subject="push.rd", ack_policy="explicit",
                          ack_wait=500_000_000, filter_subject="ev.b")
    sub(rc, "push.rd", 1)
    first = [rc.read_msg(answer_pings=True) for _ in range(2)]
    rc.pub(first[1]["reply"], b"+ACK")
    t0 = time.monotonic()
    again = rc.read_msg(timeout=5, answer_pings=True)
    assert again["payload"] == b"msg2"
    dc, sseq, cseq, ts, _ = ack_tokens(again["reply"], "RD")
    assert (dc, sseq, cseq) == (2, 2, 3)
    assert ts == ack_tokens(first[0]["reply"], "RD")[3]
    assert time.monotonic() - t0 >= 0.3
    rc.pub(again["reply"], b"+ACK")
    info = await consumer_exists(nc, "RD")
    assert info["num_redelivered"] in (0, 1)


async def test_push_max_ack_pending(nc, rc):
    await create_consumer(nc, "MAP", deliver_subject="push.map", ack_policy="explicit",
                          max_ack_pending=2)
    sub(rc, "push.map", 1)
    msgs = [rc.read_msg(answer_pings=True) for _ in range(2)]
    assert [m["payload"] for m in msgs] == [b"msg1", b"msg2"]
    # Non-event window: the limit holds delivery.
    assert rc.read_for(0.3).replace(b"PING\r\n", b"") == b""
    rc.pub(msgs[0]["reply"], b"+ACK")
    assert rc.read_msg(answer_pings=True)["payload"] == b"msg3"


# ---------------------------------------------------------------- deliver groups

async def test_deliver_group_spreads_over_the_queue(nc, js):
    got = {"a": [], "b": []}

    def collector(key):
        async def cb(msg):
            got[key].append(msg.data)
            await msg.ack()
        return cb

    await js.subscribe("ev.q", queue="workers", cb=collector("a"), stream="EV")
    await js.subscribe("ev.q", queue="workers", cb=collector("b"), stream="EV")
    info = await js.consumer_info("EV", "workers")
    assert info.config.deliver_group == "workers"
    for i in range(40):
        await js.publish("ev.q", b"%d" % i)
    deadline = time.monotonic() + 5
    while len(got["a"]) + len(got["b"]) < 40:
        assert time.monotonic() < deadline, got
        await asyncio.sleep(0.02)
    assert sorted(got["a"] + got["b"], key=int) == [b"%d" % i for i in range(40)]
    assert got["a"] and got["b"], got


async def test_deliver_group_raw(nc, rc, js_server, raw):
    r = await create_consumer(nc, "QG", deliver_subject="push.qg", deliver_group="workers",
                              ack_policy="explicit", deliver_policy="new")
    assert r["config"]["deliver_group"] == "workers"
    other = raw(js_server)
    other.handshake()
    sub(rc, "push.qg", 1, queue="workers", sync=True)
    sub(other, "push.qg", 1, queue="workers", sync=True)
    for i in range(20):
        await nc.request("ev.q", b"%d" % i, timeout=2)
    data = {rc: b"", other: b""}
    deadline = time.monotonic() + 5
    while True:
        for c in data:
            data[c] += c.read_for(0.05)
        got = [re.findall(rb"MSG ev\.q 1 \S+ \d+\r\n(\d+)\r\n", d) for d in data.values()]
        if sum(map(len, got)) >= 20 or time.monotonic() > deadline:
            break
    assert sorted(got[0] + got[1], key=int) == [b"%d" % i for i in range(20)]


# ---------------------------------------------------------------- heartbeats and flow control

async def test_idle_heartbeats_exactly(nc, rc):
    await create_consumer(nc, "HB", deliver_subject="push.hb", ack_policy="none",
                          idle_heartbeat=200_000_000)
    sub(rc, "push.hb", 1)
    assert [rc.read_msg(answer_pings=True)["payload"] for _ in range(5)] == [p for _, p in PAYLOADS]
    t0 = time.monotonic()
    m = rc.read_msg(timeout=3, answer_pings=True)
    assert m["op"] == "HMSG" and m["subject"] == "push.hb" and not m["reply"], m
    assert m["headers"] == hb(5, 5)
    assert m["payload"] == b""
    assert time.monotonic() - t0 >= 0.1
    # A delivery restarts the interval; the next heartbeat names it.
    await nc.request("ev.c", b"six", timeout=2)
    while (m := rc.read_msg(timeout=3, answer_pings=True))["op"] == "HMSG" and m["headers"] == hb(5, 5):
        pass
    assert m["payload"] == b"six"
    assert rc.read_msg(timeout=3, answer_pings=True)["headers"] == hb(6, 6)


async def test_idle_heartbeats_on_an_empty_stream(nc, rc):
    await create_consumer(nc, "HB0", deliver_subject="push.hb0", ack_policy="none",
                          idle_heartbeat=150_000_000, deliver_policy="new")
    sub(rc, "push.hb0", 1)
    for _ in range(2):
        m = rc.read_msg(timeout=3, answer_pings=True)
        assert m["headers"] == hb(0, 5)


async def test_consumer_config_errors_for_heartbeats_and_flow_control(nc):
    r = await api(nc, "$JS.API.CONSUMER.CREATE.EV.P2",
                  {"stream_name": "EV", "config": {"name": "P2", "deliver_subject": "push.p2",
                                                   "flow_control": True}})
    assert r["error"] == {"code": 400, "err_code": 10108,
                          "description": "consumer with flow control also needs heartbeats"}


async def test_flow_control_with_nats_py_delivers_everything(nc, js):
    await js.add_stream(name="BIG", subjects=["big.>"], storage="memory")
    chunk = b"z" * 60000
    for i in range(60):                 # 3.6 MB: more than one 2 MiB window
        await js.publish("big.x", b"%04d" % i + chunk)
    psub = await js.subscribe("big.x", stream="BIG", flow_control=True, idle_heartbeat=0.5,
                              manual_ack=True)
    for i in range(60):
        m = await psub.next_msg(timeout=5)
        assert m.data[:4] == b"%04d" % i
        assert len(m.data) == 60004


async def test_flow_control_requests_are_answerable(nc, rc):
    await api(nc, "$JS.API.STREAM.CREATE.BIG", {"name": "BIG", "subjects": ["big.>"],
                                               "storage": "memory"})
    for i in range(60):
        await nc.request("big.x", b"%04d" % i + b"z" * 60000, timeout=2)
    await create_consumer(nc, "FC", stream="BIG", deliver_subject="push.fc", ack_policy="none",
                          idle_heartbeat=500_000_000, flow_control=True)
    sub(rc, "push.fc", 1)
    data_msgs = 0
    fc_requests = 0
    deadline = time.monotonic() + 10
    while data_msgs < 60:
        assert time.monotonic() < deadline, (data_msgs, fc_requests)
        m = rc.read_msg(timeout=5, answer_pings=True)
        if m["op"] == "HMSG" and m["headers"].startswith(b"NATS/1.0 100 "):
            assert m["payload"] == b""
            if m["headers"] == b"NATS/1.0 100 FlowControl Request\r\n\r\n":
                assert re.fullmatch(r"\$JS\.FC\.BIG\.FC\.\S+", m["reply"] or ""), m
                fc_requests += 1
                rc.pub(m["reply"], b"")
            else:
                assert m["headers"].startswith(b"NATS/1.0 100 Idle Heartbeat\r\n"), m
                stalled = re.search(rb"Nats-Consumer-Stalled: (\S+)\r\n", m["headers"])
                if stalled:
                    rc.pub(stalled.group(1).decode(), b"")
            continue
        assert m["payload"][:4] == b"%04d" % data_msgs
        data_msgs += 1


# ---------------------------------------------------------------- ordered consumers

async def test_ordered_consumer_receives_everything_in_order(nc, js):
    osub = await js.subscribe("ev.>", stream="EV", ordered_consumer=True)
    got = [(await osub.next_msg(timeout=2)).data for _ in range(5)]
    assert got == [p for _, p in PAYLOADS]
    for i in range(20):
        await js.publish("ev.live", b"live%d" % i)
    got = [(await osub.next_msg(timeout=2)).data for _ in range(20)]
    assert got == [b"live%d" % i for i in range(20)]
    info = await osub.consumer_info()
    assert info.config.ack_policy == "none"
    assert info.config.flow_control is True
    assert info.config.max_deliver == 1
    assert info.config.durable_name is None


async def test_ordered_consumer_resets_when_its_consumer_vanishes(nc, js):
    osub = await js.subscribe("ev.>", stream="EV", ordered_consumer=True, idle_heartbeat=0.3)
    got = [(await osub.next_msg(timeout=2)).data for _ in range(5)]
    assert got == [p for _, p in PAYLOADS]
    first = (await osub.consumer_info()).name
    assert await js.delete_consumer("EV", first) is True
    for i in range(3):
        await js.publish("ev.after", b"after%d" % i)
    # nats-py notices the missing heartbeats and recreates the consumer
    # with by_start_sequence at the next stream sequence.
    got = [(await osub.next_msg(timeout=5)).data for _ in range(3)]
    assert got == [b"after0", b"after1", b"after2"]
    # (nats-py learns the new consumer's name from the create reply, which
    # may come after the first deliveries: look at the stream's list.)
    infos = await js.consumers_info("EV")
    assert first not in [i.name for i in infos]
    assert len(infos) == 1, [i.name for i in infos]
    assert infos[0].config.deliver_policy == DeliverPolicy.BY_START_SEQUENCE
    assert infos[0].config.opt_start_seq == 6


# ---------------------------------------------------------------- deliver policies

async def stream_seqs(nc, rc, name, n, **cfg):
    r = await create_consumer(nc, name, deliver_subject=f"dp.{name}", ack_policy="none", **cfg)
    sub(rc, f"dp.{name}", name)
    msgs = [rc.read_msg(answer_pings=True) for _ in range(n)]
    # Non-event window: nothing beyond the expected ones.
    rest = rc.read_for(0.2).replace(b"PING\r\n", b"")
    assert rest == b"", rest
    return r, [(ack_tokens(m["reply"], name)[1], m["payload"]) for m in msgs], msgs


async def test_deliver_all(nc, rc):
    r, got, _ = await stream_seqs(nc, rc, "ALL", 5, deliver_policy="all")
    assert r["config"]["deliver_policy"] == "all"
    assert r["delivered"]["stream_seq"] == 0 and r["num_pending"] == 5
    assert [s for s, _ in got] == [1, 2, 3, 4, 5]


async def test_deliver_last(nc, rc):
    r, got, _ = await stream_seqs(nc, rc, "LAST", 1, deliver_policy="last")
    assert r["delivered"]["stream_seq"] == 4 and r["num_pending"] == 1
    assert got == [(5, b"msg5")]


async def test_deliver_last_with_filter(nc, rc):
    r, got, _ = await stream_seqs(nc, rc, "LASTB", 1, deliver_policy="last",
                                  filter_subject="ev.b")
    assert r["num_pending"] == 1
    assert got == [(4, b"msg4")]


async def test_deliver_new(nc, rc):
    r, got, _ = await stream_seqs(nc, rc, "NEW", 0, deliver_policy="new")
    assert r["delivered"]["stream_seq"] == 5 and r["num_pending"] == 0
    await nc.request("ev.n", b"fresh", timeout=2)
    m = rc.read_msg(answer_pings=True)
    assert m["payload"] == b"fresh" and ack_tokens(m["reply"], "NEW")[1:3] == (6, 1)


async def test_deliver_by_start_sequence(nc, rc):
    r, got, _ = await stream_seqs(nc, rc, "SEQ", 3, deliver_policy="by_start_sequence",
                                  opt_start_seq=3)
    assert r["config"]["opt_start_seq"] == 3
    assert r["delivered"]["stream_seq"] == 2 and r["num_pending"] == 3
    assert got == [(3, b"msg3"), (4, b"msg4"), (5, b"msg5")]


async def test_deliver_by_start_time(nc, rc):
    t3 = (await api(nc, "$JS.API.STREAM.MSG.GET.EV", {"seq": 3}))["message"]["time"]
    r, got, _ = await stream_seqs(nc, rc, "TIME", 3, deliver_policy="by_start_time",
                                  opt_start_time=t3)
    assert r["num_pending"] == 3
    assert [s for s, _ in got] == [3, 4, 5]
    r, got, _ = await stream_seqs(nc, rc, "OLD", 5, deliver_policy="by_start_time",
                                  opt_start_time="2020-01-01T00:00:00Z")
    assert r["config"]["opt_start_time"] == "2020-01-01T00:00:00Z"
    assert [s for s, _ in got] == [1, 2, 3, 4, 5]


async def test_deliver_last_per_subject(nc, rc):
    await nc.request("ev.c", b"msg6", timeout=2)
    await nc.request("ev.a", b"msg7", timeout=2)
    r, got, msgs = await stream_seqs(nc, rc, "LPS", 3, deliver_policy="last_per_subject",
                                     filter_subject="ev.>")
    assert r["num_pending"] == 3 and r["delivered"]["stream_seq"] == 3
    # Each subject's newest, in stream order, pending counting down to 0.
    assert got == [(4, b"msg4"), (6, b"msg6"), (7, b"msg7")]
    assert [ack_tokens(m["reply"], "LPS")[2] for m in msgs] == [1, 2, 3]
    assert [ack_tokens(m["reply"], "LPS")[4] for m in msgs] == [2, 1, 0]
    # Then new messages follow.
    await nc.request("ev.b", b"msg8", timeout=2)
    m = rc.read_msg(answer_pings=True)
    assert m["payload"] == b"msg8" and ack_tokens(m["reply"], "LPS")[1:3] == (8, 4)


async def test_deliver_policy_errors(nc):
    cases = [
        ({"deliver_policy": "by_start_sequence"},
         "consumer delivery policy is deliver by start sequence, but optional start "
         "sequence is not set"),
        ({"deliver_policy": "last_per_subject"},
         "consumer delivery policy is deliver last per subject, but optional filter "
         "subject is not set"),
        ({"deliver_policy": "all", "opt_start_seq": 3},
         "consumer delivery policy is deliver all, but optional start sequence is also set"),
    ]
    for i, (cfg, text) in enumerate(cases):
        r = await api(nc, f"$JS.API.CONSUMER.CREATE.EV.E{i}",
                      {"stream_name": "EV", "config": {"name": f"E{i}",
                                                       "deliver_subject": f"x.{i}", **cfg}})
        assert r["error"] == {"code": 400, "err_code": 10094, "description": text}, r


async def test_deliver_policies_with_nats_py(nc, js):
    psub = await js.subscribe("ev.a", stream="EV", deliver_policy=DeliverPolicy.LAST)
    m = await psub.next_msg(timeout=2)
    assert m.data == b"msg5"
    psub = await js.subscribe("ev.>", stream="EV",
                              config=ConsumerConfig(deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
                                                    opt_start_seq=4))
    assert [(await psub.next_msg(timeout=2)).data for _ in range(2)] == [b"msg4", b"msg5"]
    psub = await js.subscribe("ev.>", stream="EV", deliver_policy=DeliverPolicy.NEW)
    with pytest.raises(nats.errors.TimeoutError):
        await psub.next_msg(timeout=0.2)
    await js.publish("ev.n", b"new one")
    assert (await psub.next_msg(timeout=2)).data == b"new one"


# ---------------------------------------------------------------- headers_only

async def test_headers_only(nc, rc):
    await nc.request("ev.h", b"body!", headers={"X-Keep": "yes"}, timeout=2)
    await create_consumer(nc, "HO", deliver_subject="push.ho", ack_policy="none",
                          headers_only=True, deliver_policy="last_per_subject",
                          filter_subject="ev.>")
    sub(rc, "push.ho", 1)
    msgs = [rc.read_msg(answer_pings=True) for _ in range(3)]
    assert [m["subject"] for m in msgs] == ["ev.b", "ev.a", "ev.h"]
    assert msgs[0]["op"] == "HMSG"
    assert msgs[0]["headers"] == b"NATS/1.0\r\nNats-Msg-Size: 4\r\n\r\n"
    assert msgs[0]["payload"] == b""
    assert msgs[2]["headers"] == b"NATS/1.0\r\nX-Keep: yes\r\nNats-Msg-Size: 5\r\n\r\n"
    assert msgs[2]["payload"] == b""


# ---------------------------------------------------------------- inactive_threshold

async def test_ephemeral_push_without_subscriber_is_removed(nc):
    r = await create_consumer(nc, None, deliver_subject="push.nobody", ack_policy="none",
                              inactive_threshold=500_000_000)
    name = r["name"]
    assert r["config"]["inactive_threshold"] == 500_000_000
    assert "durable_name" not in r["config"]
    deadline = time.monotonic() + 5
    while await consumer_exists(nc, name):
        assert time.monotonic() < deadline, "ephemeral push consumer still there after 5 s"
        await asyncio.sleep(0.05)


async def test_ephemeral_push_with_subscriber_stays(nc, rc):
    sub(rc, "push.somebody", 1, sync=True)
    r = await create_consumer(nc, None, deliver_subject="push.somebody", ack_policy="none",
                              inactive_threshold=300_000_000, deliver_policy="new")
    name = r["name"]
    # Non-event window, several thresholds long: it must survive while bound.
    await asyncio.sleep(1.0)
    assert await consumer_exists(nc, name)
    rc.send(b"UNSUB 1\r\n")
    rc.sync()
    deadline = time.monotonic() + 5
    while await consumer_exists(nc, name):
        assert time.monotonic() < deadline, "not removed after its subscriber left"
        await asyncio.sleep(0.05)


async def test_ephemeral_default_inactive_threshold_is_5s(nc):
    r = await create_consumer(nc, None, deliver_subject="push.x", ack_policy="none")
    assert r["config"]["inactive_threshold"] == 5_000_000_000
    assert re.fullmatch(r"[A-Za-z0-9]+", r["name"]), r["name"]
