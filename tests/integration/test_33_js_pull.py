"""33 pull consumers: CONSUMER.MSG.NEXT with batch / expires / no_wait /
max_bytes / idle_heartbeat and the 404/408/409/400/100 status replies,
9-token ack subjects, acks of every kind (+ACK, empty, ack_sync, -NAK with
and without delay, +WPI, +TERM, +NXT), redelivery after ack_wait,
max_deliver, max_ack_pending, filter subjects, ack policies, the consumer
info counters, and nats-py's pull_subscribe/fetch on top of it.

spec/jetstream.md §8.3, §8.5, §8.6, §8.7.
"""

import asyncio
import datetime
import json
import re
import time

import nats.errors
import nats.js.errors
import pytest
from nats.js.api import AckPolicy, ConsumerConfig

from conftest import REFERENCE, js_api as api


ACK_RE = r"\$JS\.ACK\.{s}\.{c}\.(\d+)\.(\d+)\.(\d+)\.(\d+)\.(\d+)"


def ack_tokens(reply, stream="EV", consumer="PULL"):
    """(delivery count, stream seq, consumer seq, timestamp ns, pending)."""
    m = re.fullmatch(ACK_RE.format(s=re.escape(stream), c=re.escape(consumer)), reply)
    assert m, f"not a 9-token ack subject for {stream}/{consumer}: {reply!r}"
    return tuple(int(g) for g in m.groups())


def rfc3339_ns(ts):
    """RFC 3339 with up to 9 fractional digits -> ns since the epoch."""
    m = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?Z", ts)
    assert m, ts
    base = datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S").replace(
        tzinfo=datetime.timezone.utc)
    return int(base.timestamp()) * 10**9 + int((m.group(2) or "0").ljust(9, "0"))




async def add_consumer(nc, stream, name, **cfg):
    body = {"stream_name": stream, "config": {"name": name, "durable_name": name, **cfg}}
    r = await api(nc, f"$JS.API.CONSUMER.CREATE.{stream}.{name}", body)
    assert "error" not in r, r
    return r


async def cinfo(nc, stream, name):
    r = await api(nc, f"$JS.API.CONSUMER.INFO.{stream}.{name}")
    assert "error" not in r, r
    return r


PAYLOADS = [("ev.a", b"msg1"), ("ev.b", b"msg2"), ("ev.a", b"msg3"), ("ev.b", b"msg4"),
            ("ev.a", b"msg5")]


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
    """Raw client subscribed to pi.> (pull replies) with sid 1."""
    c = raw(js_server)
    c.handshake(headers=True, no_responders=True)
    c.send(b"SUB pi.> 1\r\nPING\r\n")
    c.expect(b"PONG\r\n")
    return c


def next_req(c, body, consumer="PULL", reply="pi.1", stream="EV"):
    if isinstance(body, dict):
        body = json.dumps(body)
    c.pub(f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{consumer}", body, reply=reply)


def read_status(c, reply="pi.1", timeout=None):
    m = c.read_msg(timeout, answer_pings=True)
    assert m["op"] == "HMSG" and m["subject"] == reply, m
    assert not m["reply"], m
    assert m["payload"] == b"", m
    return m["headers"]


def pending_status(code, text, msgs, nbytes=0):
    return (f"NATS/1.0 {code} {text}\r\nNats-Pending-Messages: {msgs}\r\n"
            f"Nats-Pending-Bytes: {nbytes}\r\n\r\n").encode()


NO_MESSAGES = b"NATS/1.0 404 No Messages\r\n\r\n"


# ---------------------------------------------------------------- raw MSG.NEXT

async def test_batch_delivers_with_9_token_ack_subjects(nc, rc):
    await add_consumer(nc, "EV", "PULL", ack_policy="explicit")
    next_req(rc, {"batch": 2})
    m1, m2 = rc.read_msg(answer_pings=True), rc.read_msg(answer_pings=True)
    assert (m1["op"], m1["subject"], m1["sid"], m1["payload"]) == ("MSG", "ev.a", "1", b"msg1")
    assert (m2["subject"], m2["payload"]) == ("ev.b", b"msg2")
    dc, sseq, cseq, ts, pending = ack_tokens(m1["reply"])
    assert (dc, sseq, cseq, pending) == (1, 1, 1, 4)
    assert ack_tokens(m2["reply"])[:3] == (1, 2, 2) and ack_tokens(m2["reply"])[4] == 3
    # The timestamp token is the message's stored time, in ns.
    stored = await api(nc, "$JS.API.STREAM.MSG.GET.EV", {"seq": 1})
    assert ts == rfc3339_ns(stored["message"]["time"])
    assert abs(ts - time.time_ns()) < 60 * 10**9


async def test_integer_and_empty_bodies(nc, rc):
    await add_consumer(nc, "EV", "PULL", ack_policy="none")
    next_req(rc, "1")
    assert rc.read_msg(answer_pings=True)["payload"] == b"msg1"
    next_req(rc, "")
    assert rc.read_msg(answer_pings=True)["payload"] == b"msg2"
    next_req(rc, "2")
    assert [rc.read_msg(answer_pings=True)["payload"] for _ in range(2)] == [b"msg3", b"msg4"]
    next_req(rc, {})
    assert rc.read_msg(answer_pings=True)["payload"] == b"msg5"
    rc.sync()      # and nothing more than asked for


async def test_no_wait_with_nothing_pending_is_404(nc, rc):
    await add_consumer(nc, "EV", "NONE", ack_policy="none", deliver_policy="new")
    next_req(rc, {"batch": 5, "no_wait": True}, consumer="NONE")
    assert read_status(rc) == NO_MESSAGES


async def test_no_wait_with_some_pending_delivers_then_408(nc, rc):
    await add_consumer(nc, "EV", "PULL", ack_policy="explicit")
    next_req(rc, {"batch": 3})
    for _ in range(3):
        rc.read_msg(answer_pings=True)
    next_req(rc, {"batch": 10, "no_wait": True})
    assert [rc.read_msg(answer_pings=True)["payload"] for _ in range(2)] == [b"msg4", b"msg5"]
    assert read_status(rc) == pending_status(408, "Request Timeout", 8)


async def test_expires_with_nothing_pending_is_408_after_expiry(nc, rc):
    await add_consumer(nc, "EV", "NONE", ack_policy="none", deliver_policy="new")
    t0 = time.monotonic()
    next_req(rc, {"batch": 5, "expires": 300_000_000}, consumer="NONE")
    assert read_status(rc, timeout=5) == pending_status(408, "Request Timeout", 5)
    assert time.monotonic() - t0 >= 0.25


async def test_waiting_request_gets_messages_published_later(nc, rc):
    await add_consumer(nc, "EV", "NEW", ack_policy="none", deliver_policy="new")
    next_req(rc, {"batch": 2, "expires": 3_000_000_000}, consumer="NEW")
    rc.sync()
    r = await api(nc, "$JS.API.CONSUMER.INFO.EV.NEW")
    assert r["num_waiting"] == 1
    await nc.request("ev.late", b"late1", timeout=2)
    await nc.request("ev.late", b"late2", timeout=2)
    t0 = time.monotonic()
    assert [rc.read_msg(answer_pings=True)["payload"] for _ in range(2)] == [b"late1", b"late2"]
    assert time.monotonic() - t0 < 1.5


async def test_concurrent_requests_share_messages(js_server, raw, nc):
    await add_consumer(nc, "EV", "NEW", ack_policy="none", deliver_policy="new")
    c = raw(js_server)
    c.handshake(headers=True, no_responders=True)
    c.send(b"SUB q.one 1\r\nSUB q.two 2\r\n")
    next_req(c, {"batch": 1, "expires": 3_000_000_000}, consumer="NEW", reply="q.one")
    next_req(c, {"batch": 1, "expires": 3_000_000_000}, consumer="NEW", reply="q.two")
    c.sync()
    await nc.request("ev.x", b"first", timeout=2)
    await nc.request("ev.x", b"second", timeout=2)
    # One message per request, the oldest request first.
    got = sorted((m["sid"], m["payload"]) for m in (c.read_msg(answer_pings=True), c.read_msg(answer_pings=True)))
    assert got == [("1", b"first"), ("2", b"second")]


async def test_max_bytes_smaller_than_the_next_message_is_409(nc, rc):
    await nc.request("ev.big", b"x" * 300, timeout=2)
    await add_consumer(nc, "EV", "MB", ack_policy="none", deliver_policy="last")
    next_req(rc, {"batch": 5, "max_bytes": 100}, consumer="MB")
    assert read_status(rc) == pending_status(409, "Message Size Exceeds MaxBytes", 5, 100)


async def test_max_bytes_caps_a_batch(nc, rc):
    await add_consumer(nc, "EV", "MB", ack_policy="none")
    # Each delivery is ~50 bytes (subject, ack reply, payload): 120 fits two.
    next_req(rc, {"batch": 10, "max_bytes": 120, "expires": 1_000_000_000}, consumer="MB")
    assert [rc.read_msg(answer_pings=True)["payload"] for _ in range(2)] == [b"msg1", b"msg2"]
    hdr = read_status(rc)
    assert hdr.startswith(b"NATS/1.0 409 Message Size Exceeds MaxBytes\r\n"), hdr
    assert b"\r\nNats-Pending-Messages: 8\r\n" in hdr


async def test_pull_on_a_push_consumer_is_409(nc, rc):
    await add_consumer(nc, "EV", "P", deliver_subject="push.nobody", ack_policy="none")
    next_req(rc, {"batch": 1}, consumer="P")
    assert read_status(rc) == b"NATS/1.0 409 Consumer is push based\r\n\r\n"


async def test_pull_on_a_missing_consumer_gets_no_reply(nc, rc):
    next_req(rc, {"batch": 1}, consumer="NOPE")
    next_req(rc, {"batch": 1}, consumer="NOPE", stream="NOSTREAM")
    # Proving a non-event: a short window in which nothing may arrive.
    assert rc.read_for(0.4).replace(b"PING\r\n", b"") == b""
    with pytest.raises(nats.errors.TimeoutError):
        await nc.request("$JS.API.CONSUMER.MSG.NEXT.EV.NOPE", b'{"batch": 1}', timeout=0.3)


async def test_request_limits_of_the_consumer_are_409(nc, rc):
    r = await add_consumer(nc, "EV", "LIM", ack_policy="explicit", deliver_policy="new",
                           max_waiting=1, max_batch=2, max_expires=1_000_000_000,
                           max_bytes=1000)
    c = r["config"]
    assert (c["max_waiting"], c["max_batch"], c["max_expires"], c["max_bytes"]) == \
        (1, 2, 1_000_000_000, 1000)
    next_req(rc, {"batch": 1, "expires": 500_000_000}, consumer="LIM", reply="pi.1")
    next_req(rc, {"batch": 1, "expires": 500_000_000}, consumer="LIM", reply="pi.2")
    next_req(rc, {"batch": 5}, consumer="LIM", reply="pi.3")
    next_req(rc, {"batch": 1, "expires": 5_000_000_000}, consumer="LIM", reply="pi.4")
    next_req(rc, {"batch": 1, "max_bytes": 5000}, consumer="LIM", reply="pi.5")
    got = {}
    for _ in range(5):
        m = rc.read_msg(timeout=3, answer_pings=True)
        assert m["op"] == "HMSG" and m["payload"] == b"" and not m["reply"], m
        got[m["subject"]] = m["headers"]
    assert got == {
        "pi.1": pending_status(408, "Request Timeout", 1),
        "pi.2": b"NATS/1.0 409 Exceeded MaxWaiting\r\n\r\n",
        "pi.3": b"NATS/1.0 409 Exceeded MaxRequestBatch of 2\r\n\r\n",
        "pi.4": b"NATS/1.0 409 Exceeded MaxRequestExpires of 1s\r\n\r\n",
        "pi.5": b"NATS/1.0 409 Exceeded MaxRequestMaxBytes of 1000\r\n\r\n",
    }


async def test_request_whose_reply_has_no_subscriber_is_dropped(nc, rc):
    await add_consumer(nc, "EV", "PULL", ack_policy="explicit")
    next_req(rc, {"batch": 1, "expires": 5_000_000_000}, reply="nobody.listens")
    rc.sync()
    info = await cinfo(nc, "EV", "PULL")
    # Not queued, and no message was handed out into the void.
    assert info["num_waiting"] == 0
    assert info["delivered"]["stream_seq"] == 0 and info["num_pending"] == 5
    next_req(rc, "1")
    assert ack_tokens(rc.read_msg(answer_pings=True)["reply"])[:3] == (1, 1, 1)


async def test_request_without_reply_is_ignored(nc, rc):
    await add_consumer(nc, "EV", "PULL", ack_policy="explicit")
    rc.pub("$JS.API.CONSUMER.MSG.NEXT.EV.PULL", b'{"batch": 1}')
    rc.sync()
    next_req(rc, {"batch": 1})
    m = rc.read_msg(answer_pings=True)
    assert m["payload"] == b"msg1" and ack_tokens(m["reply"])[:3] == (1, 1, 1)


async def test_consumer_deleted_while_waiting_is_409(nc, rc):
    await add_consumer(nc, "EV", "NEW", ack_policy="none", deliver_policy="new")
    next_req(rc, {"batch": 1, "expires": 5_000_000_000}, consumer="NEW")
    rc.sync()
    r = await api(nc, "$JS.API.CONSUMER.DELETE.EV.NEW")
    assert r["success"] is True
    assert read_status(rc) == b"NATS/1.0 409 Consumer Deleted\r\n\r\n"


async def test_stream_deleted_while_waiting_is_409(nc, rc):
    await add_consumer(nc, "EV", "NEW", ack_policy="none", deliver_policy="new")
    next_req(rc, {"batch": 1, "expires": 5_000_000_000}, consumer="NEW")
    rc.sync()
    assert (await api(nc, "$JS.API.STREAM.DELETE.EV"))["success"] is True
    assert read_status(rc) == b"NATS/1.0 409 Consumer Deleted\r\n\r\n"


async def test_bad_requests_are_400(nc, rc):
    await add_consumer(nc, "EV", "PULL", ack_policy="explicit")
    next_req(rc, "{bad")
    hdr = read_status(rc)
    assert hdr.startswith(b"NATS/1.0 400 Bad Request"), hdr
    next_req(rc, {"batch": 5, "expires": 1_000_000_000, "idle_heartbeat": 800_000_000})
    assert read_status(rc) == b"NATS/1.0 400 Bad Request - heartbeat value too large\r\n\r\n"
    # Nothing was consumed by the bad requests.
    next_req(rc, "1")
    assert ack_tokens(rc.read_msg(answer_pings=True)["reply"])[:3] == (1, 1, 1)


async def test_idle_heartbeats_while_waiting(nc, rc):
    await add_consumer(nc, "EV", "PULL", ack_policy="none")
    next_req(rc, {"batch": 5})
    for _ in range(5):
        rc.read_msg(answer_pings=True)
    next_req(rc, {"batch": 5, "expires": 900_000_000, "idle_heartbeat": 200_000_000})
    hb = b"NATS/1.0 100 Idle Heartbeat\r\nNats-Last-Consumer: 5\r\nNats-Last-Stream: 5\r\n\r\n"
    seen = 0
    while True:
        hdr = read_status(rc, timeout=3)
        if hdr == hb:
            seen += 1
            continue
        assert hdr == pending_status(408, "Request Timeout", 5), hdr
        break
    assert 1 <= seen <= 5


# ---------------------------------------------------------------- raw acks

async def test_ack_kinds_and_ack_floor(nc, rc):
    await add_consumer(nc, "EV", "PULL", ack_policy="explicit")
    next_req(rc, {"batch": 5})
    msgs = [rc.read_msg(answer_pings=True) for _ in range(5)]
    rc.pub(msgs[0]["reply"], b"+ACK")
    rc.pub(msgs[1]["reply"], b"")
    rc.pub(msgs[2]["reply"], b"+TERM")
    rc.pub(msgs[3]["reply"], b"+WPI")
    # An ack with a reply subject is answered with an empty message.
    rc.pub(msgs[4]["reply"], b"+ACK", reply="pi.ackack")
    m = rc.read_msg(answer_pings=True)
    assert (m["op"], m["subject"], m["payload"]) == ("MSG", "pi.ackack", b"")
    info = await cinfo(nc, "EV", "PULL")
    assert info["delivered"]["consumer_seq"] == 5 and info["delivered"]["stream_seq"] == 5
    assert info["ack_floor"]["consumer_seq"] == 3 and info["ack_floor"]["stream_seq"] == 3
    assert info["num_ack_pending"] == 1
    assert info["num_pending"] == 0
    # Double ack: answered, ignored.
    rc.pub(msgs[0]["reply"], b"+ACK", reply="pi.ackack")
    assert rc.read_msg(answer_pings=True)["payload"] == b""
    assert (await cinfo(nc, "EV", "PULL"))["num_ack_pending"] == 1


async def test_plain_nak_redelivers_at_once(nc, rc):
    await add_consumer(nc, "EV", "PULL", ack_policy="explicit")
    next_req(rc, "5")
    msgs = [rc.read_msg(answer_pings=True) for _ in range(5)]
    m = msgs[0]
    rc.pub(m["reply"], b"-NAK")
    next_req(rc, {"batch": 1, "expires": 2_000_000_000})
    m2 = rc.read_msg(timeout=2, answer_pings=True)
    assert m2["payload"] == b"msg1"
    dc, sseq, cseq, ts, _ = ack_tokens(m2["reply"])
    assert (dc, sseq, cseq) == (2, 1, 6)
    assert ts == ack_tokens(m["reply"])[3]


async def test_nak_with_delay_holds_the_redelivery(nc, rc):
    await add_consumer(nc, "EV", "ONE", ack_policy="explicit", filter_subject="ev.b")
    next_req(rc, "1", consumer="ONE")
    m = rc.read_msg(answer_pings=True)
    assert m["payload"] == b"msg2"
    rc.pub(m["reply"], b'-NAK {"delay": 700000000}')
    t0 = time.monotonic()
    rc.sync()
    # The other ev.b message may come, the NAKed one not before its delay.
    next_req(rc, {"batch": 3, "expires": 400_000_000}, consumer="ONE")
    first = rc.read_msg(answer_pings=True)
    assert first["payload"] == b"msg4", first
    assert read_status(rc) == pending_status(408, "Request Timeout", 2)
    next_req(rc, {"batch": 1, "expires": 3_000_000_000}, consumer="ONE")
    m2 = rc.read_msg(timeout=4, answer_pings=True)
    assert m2["payload"] == b"msg2"
    assert ack_tokens(m2["reply"], consumer="ONE")[0] == 2
    assert time.monotonic() - t0 >= 0.6


async def test_ack_next_acks_and_pulls_to_the_ack_reply(nc, rc):
    await add_consumer(nc, "EV", "PULL", ack_policy="explicit")
    next_req(rc, "1")
    m = rc.read_msg(answer_pings=True)
    rc.pub(m["reply"], b"+NXT", reply="pi.nxt")
    m2 = rc.read_msg(answer_pings=True)
    assert (m2["subject"], m2["payload"]) == ("ev.b", b"msg2")
    assert ack_tokens(m2["reply"])[:3] == (1, 2, 2)
    rc.pub(m2["reply"], b'+NXT {"batch": 2}', reply="pi.nxt2")
    assert [rc.read_msg(answer_pings=True)["payload"] for _ in range(2)] == [b"msg3", b"msg4"]
    info = await cinfo(nc, "EV", "PULL")
    assert info["ack_floor"]["stream_seq"] == 2


async def test_ack_policy_all_acks_everything_below(nc, rc):
    await add_consumer(nc, "EV", "ALL", ack_policy="all")
    next_req(rc, {"batch": 4}, consumer="ALL")
    msgs = [rc.read_msg(answer_pings=True) for _ in range(4)]
    rc.pub(msgs[2]["reply"], b"+ACK", reply="pi.ackack")
    rc.read_msg(answer_pings=True)
    info = await cinfo(nc, "EV", "ALL")
    assert info["ack_floor"]["consumer_seq"] == 3 and info["ack_floor"]["stream_seq"] == 3
    assert info["num_ack_pending"] == 1
    assert info["num_pending"] == 1


async def test_ack_policy_none_counts_deliveries_as_acked(nc, rc):
    await add_consumer(nc, "EV", "NONE", ack_policy="none")
    next_req(rc, {"batch": 2}, consumer="NONE")
    rc.read_msg(answer_pings=True), rc.read_msg(answer_pings=True)
    info = await cinfo(nc, "EV", "NONE")
    assert info["delivered"]["stream_seq"] == 2
    assert info["ack_floor"]["stream_seq"] == 2 and info["ack_floor"]["consumer_seq"] == 2
    assert info["num_ack_pending"] == 0 and info["num_pending"] == 3
    assert "ack_wait" not in info["config"] and "max_ack_pending" not in info["config"]


# ---------------------------------------------------------------- nats-py

async def test_durable_pull_subscribe_fetch_and_ack(nc, js):
    sub = await js.pull_subscribe("ev.>", durable="dur", stream="EV")
    msgs = await sub.fetch(3, timeout=2)
    assert [m.data for m in msgs] == [b"msg1", b"msg2", b"msg3"]
    md = msgs[0].metadata
    assert (md.stream, md.consumer) == ("EV", "dur")
    assert (md.sequence.stream, md.sequence.consumer, md.num_delivered) == (1, 1, 1)
    assert md.num_pending == 4
    for m in msgs:
        await m.ack()
    info = await js.consumer_info("EV", "dur")
    assert info.config.durable_name == "dur"
    assert info.config.ack_policy == AckPolicy.EXPLICIT
    assert info.delivered.stream_seq == 3 and info.delivered.consumer_seq == 3
    assert info.num_pending == 2
    deadline = time.monotonic() + 5
    while info.ack_floor.stream_seq != 3:      # plain acks are fire-and-forget
        assert time.monotonic() < deadline, info
        await asyncio.sleep(0.02)
        info = await js.consumer_info("EV", "dur")
    assert info.num_ack_pending == 0
    msgs = await sub.fetch(10, timeout=1)
    assert [m.data for m in msgs] == [b"msg4", b"msg5"]


@pytest.mark.skipif(REFERENCE, reason="Tern-only: nats-server 2.9.10 answers an ack_sync of a "
                    "message it never delivered and ignores the ack")
async def test_ack_sync_of_an_undelivered_message_is_not_confirmed(nc, js):
    # Clustered, a copy a former leader sent may be acked to a leader that
    # never recorded it as delivered: it must not say the ack took, since
    # the message will come again. Alone the same rule shows: ack message 4
    # before anything was delivered.
    await add_consumer(nc, "EV", "UND", ack_policy="explicit")
    with pytest.raises(nats.errors.TimeoutError):
        await nc.request("$JS.ACK.EV.UND.1.4.4.0.0", b"+ACK", timeout=0.5)
    sub = await js.pull_subscribe_bind("UND", "EV")
    msgs = await sub.fetch(4, timeout=2)
    assert [(m.data, m.metadata.num_delivered) for m in msgs] == \
        [(b"msg1", 1), (b"msg2", 1), (b"msg3", 1), (b"msg4", 1)]
    for m in msgs:
        await m.ack_sync(timeout=2)   # delivered now: every one confirmed
    info = await cinfo(nc, "EV", "UND")
    assert info["ack_floor"]["stream_seq"] == 4


async def test_fetch_one_and_timeout_when_empty(nc, js):
    sub = await js.pull_subscribe("ev.a", durable="one", stream="EV")
    for expected in (b"msg1", b"msg3", b"msg5"):
        msgs = await sub.fetch(1, timeout=2)
        assert [m.data for m in msgs] == [expected]
        await msgs[0].ack_sync()
    t0 = time.monotonic()
    with pytest.raises(nats.errors.TimeoutError):
        await sub.fetch(1, timeout=0.5)
    with pytest.raises(nats.errors.TimeoutError):
        await sub.fetch(5, timeout=0.5)
    assert time.monotonic() - t0 < 3


async def test_ephemeral_pull_subscribe(nc, js):
    sub = await js.pull_subscribe("ev.b", stream="EV")
    msgs = await sub.fetch(2, timeout=2)
    assert [m.data for m in msgs] == [b"msg2", b"msg4"]
    info = await sub.consumer_info()
    assert info.config.durable_name is None
    assert info.config.filter_subject == "ev.b"
    assert info.config.inactive_threshold == 5.0


async def test_ephemeral_pull_consumer_goes_after_inactive_threshold(nc, js):
    sub = await js.pull_subscribe("ev.a", stream="EV",
                                  config=ConsumerConfig(inactive_threshold=0.5))
    info = await sub.consumer_info()
    name = info.name
    assert info.config.inactive_threshold == 0.5
    await sub.unsubscribe()
    deadline = time.monotonic() + 5
    while True:
        r = await api(nc, f"$JS.API.CONSUMER.INFO.EV.{name}")
        if "error" in r:
            assert r["error"]["err_code"] == 10014
            break
        assert time.monotonic() < deadline, "ephemeral still there 5 s later"
        await asyncio.sleep(0.05)


async def test_durable_with_inactive_threshold_also_goes(nc, js):
    await add_consumer(nc, "EV", "DURI", ack_policy="explicit", inactive_threshold=500_000_000)
    deadline = time.monotonic() + 5
    while "error" not in await api(nc, "$JS.API.CONSUMER.INFO.EV.DURI"):
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)


async def test_redelivery_after_ack_wait(nc, js):
    sub = await js.pull_subscribe("ev.a", durable="rd", stream="EV",
                                  config=ConsumerConfig(ack_wait=0.5))
    msgs = await sub.fetch(3, timeout=2)
    assert [(m.data, m.metadata.num_delivered) for m in msgs] == [
        (b"msg1", 1), (b"msg3", 1), (b"msg5", 1)]
    t0 = time.monotonic()
    await msgs[1].ack_sync()
    await msgs[2].ack_sync()
    again = (await sub.fetch(1, timeout=3))[0]
    assert again.data == b"msg1"
    assert again.metadata.num_delivered == 2
    assert again.metadata.sequence.stream == 1
    assert again.metadata.sequence.consumer == 4
    assert again.metadata.timestamp == msgs[0].metadata.timestamp
    assert time.monotonic() - t0 >= 0.3
    await again.ack_sync()
    info = await js.consumer_info("EV", "rd")
    assert info.ack_floor.stream_seq == 5 and info.num_ack_pending == 0


async def test_in_progress_extends_ack_wait(nc, js):
    sub = await js.pull_subscribe("ev.b", durable="wpi", stream="EV",
                                  config=ConsumerConfig(ack_wait=0.6, max_ack_pending=1))
    m = (await sub.fetch(1, timeout=2))[0]
    for _ in range(4):                      # 1.2 s: twice the ack wait
        await asyncio.sleep(0.3)
        await m.in_progress()
    # max_ack_pending 1: anything fetched now would be a redelivery.
    with pytest.raises(nats.errors.TimeoutError):
        await sub.fetch(1, timeout=0.2)
    info = await js.consumer_info("EV", "wpi")
    assert info.num_redelivered == 0 and info.num_ack_pending == 1
    # Once the work-in-progress signals stop, it is redelivered.
    again = (await sub.fetch(1, timeout=3))[0]
    assert again.data == b"msg2" and again.metadata.num_delivered == 2


async def test_term_stops_redelivery(nc, js):
    sub = await js.pull_subscribe("ev.b", durable="term", stream="EV",
                                  config=ConsumerConfig(ack_wait=0.3))
    msgs = await sub.fetch(2, timeout=2)
    await msgs[0].term()
    await msgs[1].ack_sync()
    # Non-event window: longer than ack_wait, nothing may come back.
    with pytest.raises(nats.errors.TimeoutError):
        await sub.fetch(1, timeout=0.7)
    info = await js.consumer_info("EV", "term")
    assert info.num_ack_pending == 0 and info.ack_floor.stream_seq == 4


async def test_nak_and_nak_with_delay_with_nats_py(nc, js):
    sub = await js.pull_subscribe("ev.a", durable="nak", stream="EV")
    msgs = await sub.fetch(3, timeout=2)
    assert [m.data for m in msgs] == [b"msg1", b"msg3", b"msg5"]
    await msgs[1].ack()
    await msgs[2].ack()
    await msgs[0].nak()
    m = (await sub.fetch(1, timeout=2))[0]
    assert m.data == b"msg1" and m.metadata.num_delivered == 2
    await m.nak(delay=0.6)
    t0 = time.monotonic()
    with pytest.raises(nats.errors.TimeoutError):
        await sub.fetch(1, timeout=0.3)
    m = (await sub.fetch(1, timeout=3))[0]
    assert m.data == b"msg1" and m.metadata.num_delivered == 3
    assert time.monotonic() - t0 >= 0.5


async def test_max_deliver_stops_redelivery(nc, js):
    sub = await js.pull_subscribe("ev.b", durable="md", stream="EV",
                                  config=ConsumerConfig(ack_wait=0.3, max_deliver=2))
    seen = []
    deadline = time.monotonic() + 4
    while time.monotonic() < deadline and len(seen) < 4:
        try:
            for m in await sub.fetch(2, timeout=1):
                seen.append((m.data, m.metadata.num_delivered))
        except nats.errors.TimeoutError:
            pass
    assert sorted(seen) == [(b"msg2", 1), (b"msg2", 2), (b"msg4", 1), (b"msg4", 2)]
    # Non-event window: no third delivery.
    with pytest.raises(nats.errors.TimeoutError):
        await sub.fetch(1, timeout=0.6)
    info = await js.consumer_info("EV", "md")
    assert info.num_pending == 0 and info.num_ack_pending == 0
    assert info.delivered.consumer_seq == 4


async def test_max_ack_pending_pauses_delivery(nc, js):
    sub = await js.pull_subscribe("ev.>", durable="map", stream="EV",
                                  config=ConsumerConfig(max_ack_pending=2))
    msgs = await sub.fetch(5, timeout=0.5)
    assert [m.data for m in msgs] == [b"msg1", b"msg2"]
    info = await js.consumer_info("EV", "map")
    assert info.num_ack_pending == 2 and info.num_pending == 3
    with pytest.raises(nats.errors.TimeoutError):
        await sub.fetch(1, timeout=0.3)
    await msgs[0].ack_sync()
    more = await sub.fetch(5, timeout=0.5)
    assert [m.data for m in more] == [b"msg3"]


async def test_filter_subject_and_num_pending(nc, js):
    sub = await js.pull_subscribe("ev.a", durable="fa", stream="EV")
    info = await sub.consumer_info()
    assert info.num_pending == 3 and info.config.filter_subject == "ev.a"
    msgs = await sub.fetch(10, timeout=1)
    assert [m.data for m in msgs] == [b"msg1", b"msg3", b"msg5"]
    assert [m.metadata.num_pending for m in msgs] == [2, 1, 0]
    assert [m.metadata.sequence.consumer for m in msgs] == [1, 2, 3]
    assert [m.metadata.sequence.stream for m in msgs] == [1, 3, 5]
    await js.publish("ev.b", b"not for me")
    await js.publish("ev.a", b"for me")
    info = await sub.consumer_info()
    assert info.num_pending == 1
    msgs = await sub.fetch(1, timeout=1)
    assert msgs[0].data == b"for me" and msgs[0].metadata.sequence.stream == 7


async def test_consumer_info_counters(nc, js):
    sub = await js.pull_subscribe("ev.>", durable="ctr", stream="EV",
                                  config=ConsumerConfig(ack_wait=0.4))
    info = await sub.consumer_info()
    assert (info.num_pending, info.num_ack_pending, info.num_redelivered) == (5, 0, 0)
    assert info.delivered.stream_seq == 0 and info.ack_floor.stream_seq == 0
    msgs = await sub.fetch(3, timeout=2)
    await msgs[0].ack_sync()
    await msgs[2].ack_sync()
    info = await sub.consumer_info()
    assert info.num_pending == 2 and info.num_ack_pending == 1
    assert info.delivered.stream_seq == 3 and info.delivered.consumer_seq == 3
    assert info.ack_floor.stream_seq == 1 and info.ack_floor.consumer_seq == 1
    rest = await sub.fetch(2, timeout=2)
    assert [m.data for m in rest] == [b"msg4", b"msg5"]
    for m in rest:
        await m.ack_sync()
    again = (await sub.fetch(1, timeout=3))[0]      # msg2 after ack_wait
    assert again.data == b"msg2" and again.metadata.num_delivered == 2
    info = await sub.consumer_info()
    assert info.num_redelivered == 1 and info.num_pending == 0
    assert info.delivered.consumer_seq == 6 and info.delivered.stream_seq == 5
    await again.ack_sync()
    info = await sub.consumer_info()
    assert info.ack_floor.stream_seq == 5 and info.ack_floor.consumer_seq == 6
    assert info.num_ack_pending == 0 and info.num_redelivered == 0


async def test_no_wait_with_expires_ends_once_nothing_more_can_come(js_server, nats_connect):
    """A no_wait request that gave an expires lingers until something is
    delivered; once it got messages and nothing more can come now (here
    max_ack_pending holds the rest back) it ends with 408 at the next timer
    tick (its heartbeat), as nats-server's — not with heartbeats until it
    expires. nats-py's fetch(n, heartbeat=...) relies on it."""
    nc = await nats_connect(js_server)
    js = nc.jetstream()
    await js.add_stream(name="NW", subjects=["nw.>"])
    await js.add_consumer("NW", durable_name="d", max_ack_pending=2, ack_policy="explicit")
    for i in range(5):
        await js.publish(f"nw.{i}", b"x")
    inbox = nc.new_inbox()
    sub = await nc.subscribe(inbox)
    await nc.publish("$JS.API.CONSUMER.MSG.NEXT.NW.d",
                     json.dumps({"batch": 5, "expires": 2_000_000_000,
                                 "idle_heartbeat": 100_000_000, "no_wait": True}).encode(),
                     reply=inbox)
    got = []
    while True:
        m = await sub.next_msg(timeout=1.5)
        status = (m.headers or {}).get("Status")
        got.append(status or m.subject)
        if status == "408":
            break
    assert got == ["nw.0", "nw.1", "408"], got
