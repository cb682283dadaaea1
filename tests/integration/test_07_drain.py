"""07 drain: what was in flight is still handled, then the interest goes.

The nats-py guide: publish N, drain the subscription, all N handled.
"""

import asyncio

import nats.errors
import pytest

from conftest import async_wait_for, settle

N = 500


async def test_guide_drain_subscription_handles_in_flight(server, nats_connect):
    sub_nc = await nats_connect(server)
    pub_nc = await nats_connect(server)
    handled = []

    async def slow_worker(msg):
        await asyncio.sleep(0)  # yield, so messages pile up in the client
        handled.append(int(msg.data))

    sub = await sub_nc.subscribe("work", cb=slow_worker)
    await settle(sub_nc)
    for i in range(N):
        await pub_nc.publish("work", str(i).encode())
    # All N are queued to the subscriber's connection once the server has
    # processed them; the drain's UNSUB comes after.
    await settle(pub_nc)
    await sub.drain()
    await async_wait_for(lambda: len(handled) >= N, what="drained messages")
    assert handled == list(range(N))
    # The server removed the interest: a request now has no responder.
    await settle(sub_nc)
    with pytest.raises(nats.errors.NoRespondersError):
        await pub_nc.request("work", b"after", timeout=2)
    assert len(handled) == N


async def test_connection_drain_then_closed(server, nats_connect):
    sub_nc = await nats_connect(server)
    pub_nc = await nats_connect(server)
    handled = []

    async def worker(msg):
        await asyncio.sleep(0)
        handled.append(int(msg.data))

    await sub_nc.subscribe("jobs", cb=worker)
    await sub_nc.subscribe("jobs.q", queue="g", cb=worker)
    await settle(sub_nc)
    for i in range(N):
        await pub_nc.publish("jobs" if i % 2 else "jobs.q", b"%d" % i)
    await settle(pub_nc)
    await sub_nc.drain()
    await async_wait_for(lambda: sub_nc.is_closed, what="closed after drain")
    assert sorted(handled) == list(range(N))
    # The drained connection is gone from the server, and its interest too.
    with pytest.raises(nats.errors.NoRespondersError):
        await pub_nc.request("jobs", b"", timeout=2)


async def test_drained_subscription_no_longer_receives(server, nats_connect):
    nc = await nats_connect(server)
    got, marker = [], []

    async def cb(msg):
        got.append(msg.data)

    async def on_marker(msg):
        marker.append(msg.data)

    sub = await nc.subscribe("d.x", cb=cb)
    await nc.subscribe("d.marker", cb=on_marker)
    await settle(nc)
    await nc.publish("d.x", b"1")
    await async_wait_for(lambda: got == [b"1"])
    await sub.drain()
    await settle(nc)
    await nc.publish("d.x", b"2")
    await nc.publish("d.marker", b"m")
    await async_wait_for(lambda: marker)
    assert got == [b"1"]
