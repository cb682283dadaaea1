"""Node loss: client failover through connect_urls, and a node rejoining."""

import asyncio
import json
import signal
import time

from conftest import (Inbox, async_wait_for, publish_numbered, report, settle, wait_for,
                      wait_interest, wait_mesh)

FAILOVER_LIMIT = 5.0  # seconds from kill -9 to the reconnected callback


def hostports(urls):
    return {f"{u.hostname}:{u.port}" for u in urls}


class Publisher:
    """Publishes orders.<node>.<seq> every few ms until stopped."""

    def __init__(self, nc, name):
        self.nc = nc
        self.name = name
        self.seq = 0
        self.errors = []
        self.running = True
        self.task = asyncio.create_task(self.run())

    async def run(self):
        while self.running:
            self.seq += 1
            try:
                await self.nc.publish(f"orders.{self.name}.{self.seq}", b"%d" % self.seq)
            except Exception as e:  # a publisher must not notice the failover
                self.errors.append(e)
            await asyncio.sleep(0.005)

    async def stop(self):
        self.running = False
        await self.task


async def test_failover_after_kill(cluster, client):
    a, b, c = cluster.start(3)
    sub_nc = await client(a)
    received = []  # (time, node name, seq)

    async def cb(msg):
        _, node, seq = msg.subject.split(".")
        received.append((time.monotonic(), node, int(seq)))

    await sub_nc.subscribe("orders.>", cb=cb)
    await settle(sub_nc)
    # The client was given only A; it learned B and C from connect_urls.
    await async_wait_for(lambda: hostports(sub_nc.discovered_servers)
                         == {b.client_hostport, c.client_hostport},
                         what=lambda: f"B and C in {sub_nc.discovered_servers}")
    wait_interest(b, a, "orders.>")
    wait_interest(c, a, "orders.>")

    pub_b, pub_c = await client(b), await client(c)
    pubs = [Publisher(pub_b, "B"), Publisher(pub_c, "C")]
    # A steady flow first: 50 messages from each publisher (at least 250 ms,
    # so the kill does not land within reconnect_time_wait of the client's
    # first connect, which would make nats-py wait before retrying A).
    await async_wait_for(
        lambda: all(sum(1 for _, n, _ in received if n == x) >= 50 for x in "BC"),
        what="50 messages from each publisher before the kill")

    t_kill = a.kill9()
    await async_wait_for(lambda: sub_nc.events.reconnected >= 1, timeout=10,
                         what="the reconnected callback")
    failover = sub_nc.events.reconnected_at[0] - t_kill
    report(f"failover kill -9 -> reconnected callback: {failover * 1000:.0f} ms "
           f"({a.kind} node A, reconnect_time_wait=0.2)")
    assert failover < FAILOVER_LIMIT, f"failover took {failover:.2f}s"
    landed = sub_nc.connected_url
    assert f"{landed.hostname}:{landed.port}" in {b.client_hostport, c.client_hostport}

    # The subscription was restored on the new node: messages published
    # after the reconnect arrive from both surviving nodes.
    t_back = sub_nc.events.reconnected_at[0]
    await async_wait_for(
        lambda: {n for t, n, _ in received if t > t_back} == {"B", "C"}, timeout=10,
        what=lambda: f"messages from B and C after reconnecting to {landed}")
    for p in pubs:
        await p.stop()
        await settle(p.nc)

    # A last, known message from each publisher arrives (nothing stuck).
    for p in pubs:
        await p.nc.publish(f"orders.{p.name}.{p.seq + 1}", b"last")
        await settle(p.nc)
    await async_wait_for(
        lambda: all((p.name, p.seq + 1) in {(n, s) for _, n, s in received} for p in pubs),
        what="the last message of each publisher")
    # Per publisher, what arrived is in order and without duplicates.
    for p in pubs:
        seqs = [s for _, n, s in received if n == p.name]
        assert seqs == sorted(set(seqs)), f"{p.name}: out of order or duplicated"

    assert sub_nc.events.disconnected == 1
    assert sub_nc.events.reconnected == 1
    for p in pubs:
        assert p.errors == [], p.errors
        assert p.nc.events.disconnected == 0 and p.nc.events.reconnected == 0
        assert p.nc.is_connected
    # Only B and C are left, each with one route to the other.
    wait_mesh([b, c])


async def test_restart_rejoins_and_regains_interest(cluster, client):
    a, b, c = cluster.start(3)
    on_b = await client(b)
    box_b = Inbox()
    await on_b.subscribe("rejoin.b", cb=box_b.cb)
    await settle(on_b)
    wait_interest(a, b, "rejoin.b")

    a.kill9()
    wait_mesh([b, c])

    # Same ports, same arguments (A lists no routes itself: B and C redial
    # their configured route to A).
    a.start()
    wait_mesh([a, b, c])
    # B's subscription is announced to the new A without B's client doing
    # anything.
    wait_interest(a, b, "rejoin.b")
    pub_a = await client(a)
    await publish_numbered(pub_a, "rejoin.b", box_b, 10)

    # A's new interest reaches the others too.
    on_a = await client(a)
    box_a = Inbox()
    await on_a.subscribe("rejoin.a", cb=box_a.cb)
    await settle(on_a)
    wait_interest(c, a, "rejoin.a")
    pub_c = await client(c)
    await pub_c.publish("rejoin.a", b"hello A")
    await settle(pub_c)
    await box_a.wait_count(1)
    assert box_a.payloads() == [b"hello A"]

    # The restarted A's client URL list holds all three nodes again.
    await async_wait_for(
        lambda: hostports(on_a.servers) == {a.client_hostport, b.client_hostport,
                                             c.client_hostport},
        what=lambda: f"all three URLs in {on_a.servers}")


async def test_restart_seed_node_with_gossip(cluster, client):
    """Seed topology: B and C list only A. After A restarts, the full mesh is
    back and B-C never broke (their route does not go through A)."""
    a, b, c = cluster.start(3, topology="seed")
    b_c = b.route_to(c)
    a.kill9()
    wait_mesh([b, c])
    assert b.route_to(c)["start"] == b_c["start"], "the B-C route was re-made"
    a.start()
    wait_mesh([a, b, c])
    wait_for(lambda: b.route_to(c) is not None)
    nc = await client(c)
    box = Inbox()
    await nc.subscribe("seed.back", cb=box.cb)
    await settle(nc)
    wait_interest(a, c, "seed.back")
    pub = await client(a)
    await pub.publish("seed.back", b"ok")
    await settle(pub)
    await box.wait_count(1)


async def test_lame_duck_node_hands_clients_over(cluster, client, raw):
    """SIGUSR2 on A: its peers stop offering A's client URL (a client on B
    is sent INFO without it) while the routes stay up; A's own client is
    told (ldm INFO, nats-py's lame duck callback), closed after the grace
    period, reconnects to B or C and its subscription works there."""
    names = "ABC"
    nodes = [cluster.new_node(n) for n in names]
    for i, node in enumerate(nodes):
        node.routes = [p.route_url() for p in nodes[:i]]
        # nats-server wants the grace period shorter than the duration.
        node.extra_conf = ['lame_duck_duration: "30s"', 'lame_duck_grace_period: "1s"']
        node.start()
    a, b, c = nodes
    wait_mesh(nodes)

    watcher = raw(b.port)
    watcher.read_info()
    watcher.send(b'CONNECT {"verbose":false,"pedantic":false,"protocol":1}\r\nPING\r\n')
    assert watcher.read_line() == b"PONG\r\n"

    ldm_seen = []

    async def on_ldm():
        ldm_seen.append(time.monotonic())

    on_a = await client(a, lame_duck_mode_cb=on_ldm)
    box = Inbox()
    await on_a.subscribe("ldm.x", cb=box.cb)
    await settle(on_a)
    wait_interest(c, a, "ldm.x")

    a.expected_exit = True  # it exits by itself once its clients are gone
    t0 = time.monotonic()
    a.proc.send_signal(signal.SIGUSR2)

    line = watcher.read_line()
    while not line.startswith(b"INFO "):
        line = watcher.read_line()
    urls = set(json.loads(line[5:]).get("connect_urls") or [])
    assert urls == {b.client_hostport, c.client_hostport}, urls
    assert a.alive() and b.route_to(a) is not None, "the route to A must stay up"

    await async_wait_for(lambda: on_a.events.reconnected >= 1, timeout=10,
                         what="A's client reconnecting elsewhere")
    report(f"lame duck: A's client reconnected {on_a.events.reconnected_at[0] - t0:.2f} s "
           f"after SIGUSR2 ({a.kind}, grace period 1 s)")
    assert ldm_seen and ldm_seen[0] < on_a.events.reconnected_at[0]
    landed = on_a.connected_url
    assert f"{landed.hostname}:{landed.port}" in {b.client_hostport, c.client_hostport}
    other = b if landed.port == c.port else c
    pub = await client(other)

    async def delivered():
        await pub.publish("ldm.x", b"after")
        await settle(pub)
        return bool(box.msgs)

    # Until the resubscription has crossed the route, a publish may miss.
    await async_wait_for(delivered, interval=0.05,
                         what="a message from the other node after the handover")


def test_shutdown_sends_no_info_that_forgets_the_peers(cluster, raw):
    """A node stopped with SIGTERM closes its routes on the way out; it must
    not push its clients an INFO whose connect_urls names only itself (a
    client that believes it forgets the other nodes and keeps dialling the
    dead one). nats-server sends no INFO while shutting down."""
    a, b, c = cluster.start(3)
    conn = raw(a.port)
    info = conn.read_info()
    assert len(info.get("connect_urls") or []) >= 2, info
    conn.send(b'CONNECT {"protocol":1,"verbose":false,"pedantic":false}\r\nPING\r\n')
    assert conn.read_line().startswith(b"PONG")
    assert a.stop() is None
    data = conn.read_until_closed()
    for line in data.split(b"\r\n"):
        if line.startswith(b"INFO "):
            urls = json.loads(line[5:]).get("connect_urls") or []
            assert len(urls) != 1, f"an INFO at shutdown left the client one URL: {urls}"
