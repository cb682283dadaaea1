"""36 the NATS Python guide's JetStream examples, run the way a user writes
them: a stream captures subjects and keeps them on disk; consumers that
start with all messages, from a sequence, or only with new ones; acks;
unacknowledged messages are redelivered; exactly-once publishing with
Nats-Msg-Id; the nats.py README walk-through (pull, push, durable, deliver
group, ordered consumer) and its Key-Value example.

spec/jetstream.md; spec/kv.md.
"""

import asyncio
import time

import nats.errors
import nats.js.errors
import pytest
from nats.errors import TimeoutError
from nats.js.api import ConsumerConfig, DeliverPolicy


@pytest.fixture
async def nc(js_server, nats_connect):
    return await nats_connect(js_server)


async def test_readme_walkthrough(nc):
    # Create JetStream context.
    js = nc.jetstream()

    # Persist messages on 'foo's subject.
    await js.add_stream(name="sample-stream", subjects=["foo"])

    for i in range(0, 10):
        ack = await js.publish("foo", f"hello world: {i}".encode())
        assert ack.stream == "sample-stream" and ack.seq == i + 1

    # Create pull based consumer on 'foo'.
    psub = await js.pull_subscribe("foo", "psub")

    # Fetch and ack messages from consumer.
    for i in range(0, 10):
        msgs = await psub.fetch(1)
        for msg in msgs:
            await msg.ack()
            assert msg.data == f"hello world: {i}".encode()

    # Create single ephemeral push based subscriber.
    sub = await js.subscribe("foo")
    msg = await sub.next_msg()
    await msg.ack()
    assert msg.data == b"hello world: 0"

    # Create single push based subscriber that is durable across restarts.
    sub = await js.subscribe("foo", durable="myapp")
    msg = await sub.next_msg()
    await msg.ack()
    assert msg.data == b"hello world: 0"

    # Create deliver group that will be have load balanced messages.
    seen = []

    async def qsub_a(msg):
        seen.append(("A", msg.data))
        await msg.ack()

    async def qsub_b(msg):
        seen.append(("B", msg.data))
        await msg.ack()

    await js.subscribe("foo", "workers", cb=qsub_a)
    await js.subscribe("foo", "workers", cb=qsub_b)

    for i in range(0, 10):
        ack = await js.publish("foo", f"hello world: {i}".encode())
        assert ack.seq == 11 + i

    # The deliver group gets all 20 messages once between its two members.
    deadline = time.monotonic() + 5
    while len(seen) < 20:
        assert time.monotonic() < deadline, seen
        await asyncio.sleep(0.02)
    assert sorted(d for _, d in seen) == sorted(
        [f"hello world: {i}".encode() for i in range(10)] * 2)

    # Create ordered consumer with flow control and heartbeats
    # that auto resumes on failures.
    osub = await js.subscribe("foo", ordered_consumer=True)
    data = bytearray()

    while True:
        try:
            msg = await osub.next_msg(timeout=0.5)
            data.extend(msg.data)
        except TimeoutError:
            break
    expected = b"".join(f"hello world: {i}".encode() for i in range(10)) * 2
    assert bytes(data) == expected


async def test_stream_captures_subjects_and_stores_them_on_disk(js_server, nc):
    js = nc.jetstream()
    await js.add_stream(name="ORDERS", subjects=["orders.*"])
    # A plain core publish is captured too; so is a JetStream publish.
    await nc.publish("orders.new", b"order 1")
    await nc.flush()
    ack = await js.publish("orders.shipped", b"order 1 shipped")
    assert ack.seq == 2
    info = await js.stream_info("ORDERS")
    assert info.config.storage == "file"
    assert info.state.messages == 2
    # Not captured: a subject outside the stream.
    with pytest.raises(nats.js.errors.NoStreamResponseError):
        await js.publish("invoices.new", b"x")
    # The messages are on disk, under the store directory.
    on_disk = sum(p.stat().st_size for p in js_server.store_dir.rglob("*") if p.is_file())
    assert on_disk >= len(b"order 1") + len(b"order 1 shipped")


@pytest.fixture
async def events(nc):
    js = nc.jetstream()
    await js.add_stream(name="EVENTS", subjects=["events.>"])
    for i in range(1, 6):
        await js.publish(f"events.{i}", f"event {i}".encode())
    return js


async def test_consumer_delivering_all_messages(events):
    js = events
    sub = await js.subscribe("events.>", durable="all-events")
    got = [(await sub.next_msg()).data for _ in range(5)]
    assert got == [f"event {i}".encode() for i in range(1, 6)]


async def test_consumer_starting_from_a_sequence(events):
    js = events
    sub = await js.pull_subscribe(
        "events.>", "from-three",
        config=ConsumerConfig(deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=3))
    msgs = await sub.fetch(3)
    assert [m.data for m in msgs] == [b"event 3", b"event 4", b"event 5"]
    assert [m.metadata.sequence.stream for m in msgs] == [3, 4, 5]


async def test_consumer_with_only_new_messages(events):
    js = events
    sub = await js.subscribe("events.>", deliver_policy=DeliverPolicy.NEW)
    with pytest.raises(TimeoutError):
        await sub.next_msg(timeout=0.3)
    await js.publish("events.6", b"event 6")
    msg = await sub.next_msg()
    assert msg.data == b"event 6" and msg.metadata.sequence.stream == 6


async def test_acks_move_the_consumer_forward(events):
    js = events
    sub = await js.pull_subscribe("events.>", "worker")
    for msg in await sub.fetch(2):
        await msg.ack_sync()
    info = await sub.consumer_info()
    assert info.ack_floor.stream_seq == 2
    assert info.num_pending == 3 and info.num_ack_pending == 0
    # A second subscriber on the same durable continues where it left.
    again = await js.pull_subscribe("events.>", "worker")
    msgs = await again.fetch(1)
    assert msgs[0].data == b"event 3"


async def test_unacknowledged_messages_are_redelivered(events):
    js = events
    sub = await js.pull_subscribe("events.1", "forgetful",
                                  config=ConsumerConfig(ack_wait=0.5))
    first = (await sub.fetch(1))[0]
    assert first.data == b"event 1" and first.metadata.num_delivered == 1
    # No ack: after ack_wait the server hands it out again.
    again = (await sub.fetch(1, timeout=3))[0]
    assert again.data == b"event 1"
    assert again.metadata.num_delivered == 2
    await again.ack_sync()
    with pytest.raises(TimeoutError):
        await sub.fetch(1, timeout=0.8)


async def test_exactly_once_publishing_with_msg_id(nc):
    js = nc.jetstream()
    await js.add_stream(name="PAYMENTS", subjects=["payments"], duplicate_window=60)
    # A producer retries the same payment three times (lost acks, say).
    acks = [await js.publish("payments", b"pay 100 to bob",
                             headers={"Nats-Msg-Id": "payment-42"}) for _ in range(3)]
    assert [a.seq for a in acks] == [1, 1, 1]
    assert [bool(a.duplicate) for a in acks] == [False, True, True]
    await js.publish("payments", b"pay 7 to alice", headers={"Nats-Msg-Id": "payment-43"})
    info = await js.stream_info("PAYMENTS")
    assert info.state.messages == 2
    sub = await js.pull_subscribe("payments", "ledger")
    msgs = await sub.fetch(2)
    assert [m.data for m in msgs] == [b"pay 100 to bob", b"pay 7 to alice"]
    # Exactly once on the consuming side too: double acks change nothing.
    for m in msgs:
        await m.ack_sync()
    info = await sub.consumer_info()
    assert info.num_pending == 0 and info.num_ack_pending == 0


async def test_key_value_readme(nc):
    js = nc.jetstream()
    # Create a KV
    kv = await js.create_key_value(bucket="MY_KV")
    # Set and retrieve a value
    await kv.put("hello", b"world")
    entry = await kv.get("hello")
    assert f"KeyValue.Entry: key={entry.key}, value={entry.value}" == \
        "KeyValue.Entry: key=hello, value=b'world'"
