"""09 slow consumers: a subscriber that never reads is cut off at
max_pending; fast subscribers and the publisher carry on.

spec/client-protocol.md §2.2, §14 (closed without -ERR), §15.
"""

import asyncio
import time

from conftest import async_wait_for, settle, wait_for

# One 40 000-byte message fits in max_pending (64 KiB), two do not, so the
# stuck subscriber crosses the limit as soon as the kernel buffers between
# it and the server are full. write_deadline is shortened because the
# reference server keeps a closed slow consumer's blocked write (and stalls
# producers a little) until that deadline; 2 s leaves a wide margin for the
# pending-bytes limit to trip first.
CONF = """
max_payload: 64KB
max_pending: 64KB
write_deadline: "2s"
"""
MSG_SIZE = 40000
COUNT = 300           # 12 MB in all: far beyond max_pending plus what the
                      # kernel socket buffers on both ends can absorb


async def test_slow_consumer_cut_fast_consumer_gets_all(server_factory, nats_connect, raw):
    srv = server_factory.start(config=CONF, monitor=True)

    # The slow one: a raw socket with a tiny receive window that subscribes
    # and then never reads.
    slow = raw(srv, rcvbuf=4096)
    info = slow.handshake()
    slow_cid = info["client_id"]
    slow.send(b"SUB firehose 1\r\n")
    slow.ping_pong()

    fast = await nats_connect(srv, name="fast")
    got = []
    arrived = asyncio.Event()

    async def on_msg(msg):
        got.append(msg.data[:8])
        arrived.set()

    await fast.subscribe("firehose", cb=on_msg, pending_bytes_limit=64 * 1024 * 1024)
    await settle(fast)
    pub = await nats_connect(srv, name="publisher")

    body = b"x" * (MSG_SIZE - 8)
    t0 = time.monotonic()
    for n in range(COUNT):
        await pub.publish("firehose", b"%08d" % n + body)
        # Pace on the fast subscriber so it never falls max_pending behind.
        while len(got) <= n:
            arrived.clear()
            await asyncio.wait_for(arrived.wait(), 10)
    await settle(pub)
    elapsed = time.monotonic() - t0

    # The publisher was not blocked by the stuck subscriber (the reference
    # stalls it for at most about write_deadline; Tern should not at all).
    assert elapsed < 15, f"publishing took {elapsed:.1f}s"
    assert pub.is_connected and not pub.test_errors
    # The fast subscriber got every message, in order.
    assert got == [b"%08d" % i for i in range(COUNT)]
    assert fast.is_connected

    # The slow one was disconnected: its stream ends (EOF) long before all
    # the data was delivered, and no -ERR is sent.
    data = await asyncio.to_thread(slow.read_until_closed, 20)
    assert len(data) < COUNT * MSG_SIZE / 2, len(data)
    assert data.startswith(b"MSG firehose 1 %d\r\n" % MSG_SIZE), data[:64]
    assert b"-ERR" not in data

    def closed_reason():
        for c in srv.connz("state=closed").get("connections", []):
            if c.get("cid") == slow_cid:
                return c.get("reason")
        return None

    reason = await asyncio.to_thread(wait_for, closed_reason, 5, 0.05, "closed entry")
    assert reason == "Slow Consumer (Pending Bytes)"
    assert srv.varz()["slow_consumers"] >= 1


async def test_burst_to_reading_subscriber_is_not_slow(server_factory, nats_connect):
    # A subscriber that keeps reading is never cut, even when a burst is
    # several times max_pending.
    srv = server_factory.start(config="max_pending: 1MB\n")
    sub = await nats_connect(srv)
    got = []

    async def cb(msg):
        got.append(len(msg.data))

    await sub.subscribe("burst", cb=cb, pending_bytes_limit=64 * 1024 * 1024)
    await settle(sub)
    pub = await nats_connect(srv)
    for _ in range(256):  # 4 MiB in one go
        await pub.publish("burst", b"y" * 16384)
    await settle(pub)
    await async_wait_for(lambda: len(got) == 256, timeout=10)
    assert sub.is_connected
