"""Discovery: routes learned from gossip, self/duplicate routes, connect_urls."""

import json
import socket
import time

import pytest

from conftest import (REFERENCE, Inbox, async_wait_for, fake_info, mesh_state,
                      route_connect, settle, wait_for, wait_interest, wait_mesh)


async def test_seed_only_node_routes_to_peer(cluster, client, raw):
    """B and C are given only A; they must end up routed to each other."""
    a, b, c = cluster.start(3, topology="seed")

    # /routez: C has a route whose remote is B, and B one to C.
    rc_b = c.route_to(b)
    rb_c = b.route_to(c)
    assert rc_b is not None and rb_c is not None, mesh_state([a, b, c])
    # Neither was configured on the other (only A was): the route came from
    # gossip. nats-server reports that as is_configured=false on both sides.
    assert rc_b.get("is_configured") is False, rc_b
    assert rb_c.get("is_configured") is False, rb_c
    assert c.route_to(a).get("is_configured") is True

    # Behaviour: routes never relay (one hop), so a message published on C
    # can reach a subscriber on B only over a direct C-B route.
    sub_nc = await client(b)
    box = Inbox()
    await sub_nc.subscribe("gossip.direct", cb=box.cb)
    await settle(sub_nc)
    wait_interest(c, b, "gossip.direct")
    pub = await client(c)
    c_to_a = c.route_counters(a)[1]
    for i in range(10):
        await pub.publish("gossip.direct", b"%d" % i)
    await settle(pub)
    await box.wait_count(10)
    assert box.payloads() == [b"%d" % i for i in range(10)]
    assert c.route_counters(a)[1] == c_to_a, "C sent B's messages to A"

    # The client URLs of all three nodes reach a client of C.
    conn = raw(c.port)
    info = conn.read_info()
    assert set(info.get("connect_urls") or []) == \
        {a.client_hostport, b.client_hostport, c.client_hostport}, info


async def test_everyone_lists_everyone_including_self(cluster, client):
    """The usual production config: one routes list for all nodes, each
    node's own URL included. Self routes are dropped, duplicate connections
    between two nodes collapse to one route."""
    nodes = cluster.start(3, topology="all")
    before = mesh_state(nodes)
    for n in nodes:
        ids = [r["remote_id"] for r in n.routez()["routes"]]
        assert n.server_id not in ids, f"{n.name} has a route to itself"
    # Proving that no route is added or lost later needs a wait: 1.5 s is
    # longer than the 1 s route redial interval, so a retried self or
    # duplicate route would have shown up (or taken a route down) by then.
    time.sleep(1.5)
    after = mesh_state(nodes)
    assert after == before, (before, after)
    assert all(n.routez()["num_routes"] == 2 for n in nodes)

    # And messaging still works both ways across each pair.
    a, b, c = nodes
    box = Inbox()
    sub_nc = await client(c)
    await sub_nc.subscribe("all.to.c", cb=box.cb)
    await settle(sub_nc)
    wait_interest(a, c, "all.to.c")
    wait_interest(b, c, "all.to.c")
    for src in (a, b):
        pub = await client(src)
        await pub.publish("all.to.c", src.name.encode())
        await settle(pub)
    await box.wait_count(2)
    assert sorted(box.payloads()) == [b"A", b"B"]


async def test_client_discovers_peers(cluster, client):
    """A nats-py client given only A learns B's and C's client URLs."""
    a, b, c = cluster.start(3)
    nc = await client(a)
    want = {b.client_hostport, c.client_hostport}
    found = [f"{u.hostname}:{u.port}" for u in nc.discovered_servers]
    assert set(found) == want, found
    assert {f"{u.hostname}:{u.port}" for u in nc.servers} == want | {a.client_hostport}


async def test_late_joiner_updates_existing_clients(cluster, client):
    """A client connected before a node joins is told the new node's URL."""
    a, b = cluster.start(2)
    nc = await client(a)
    c = cluster.new_node("C")
    c.routes = [a.route_url()]
    c.start()
    wait_mesh([a, b, c])
    await async_wait_for(
        lambda: c.client_hostport in {f"{u.hostname}:{u.port}" for u in nc.discovered_servers},
        what=lambda: f"C's URL in {nc.discovered_servers}")


class CountingListener:
    """A TCP port that accepts connections, counts them and closes each at
    once: a gossiped route that can never complete its handshake."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.05)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0

    def poll(self):
        """Accept whatever is waiting; return the count so far."""
        while True:
            try:
                conn, _ = self.sock.accept()
            except (socket.timeout, BlockingIOError):
                return self.accepted
            conn.close()
            self.accepted += 1

    def close(self):
        self.sock.close()


@pytest.mark.skipif(REFERENCE, reason="tern-only: nats-server counts only failed TCP "
                    "dials against connect_retries, so this accept-then-close peer "
                    "is redialled without limit there")
@pytest.mark.parametrize("retries", [0, 2])
async def test_gossiped_route_dialled_connect_retries_times(cluster, raw, retries):
    """A node told about a peer by gossip dials it once, plus
    --connect_retries more times when that fails, then stops (configured
    routes are the ones retried forever)."""
    a = cluster.start(1)[0]
    b = cluster.new_node("B")
    b.routes = [a.route_url()]
    b.extra_args = ["--connect_retries", str(retries)]
    b.start()
    wait_mesh([a, b])
    dead = CountingListener()
    try:
        # A fake node registers a route with A; A gossips its INFO (with
        # the address to dial, the dead port) to B.
        conn = raw(a.cluster_port)
        conn.read_info()
        conn.send(route_connect("NFAKEGOSSIP") + fake_info(
            "NFAKEGOSSIP", port=dead.port, ip=f"nats-route://127.0.0.1:{dead.port}/"))
        want = 1 + retries
        wait_for(lambda: dead.poll() >= want, timeout=want + 5,
                 what=lambda: f"{want} dials from B, got {dead.accepted}")
        # Proving B gave up needs a wait: 2.5 s is over two of B's 1 s
        # dial ticks, so a further dial would have arrived.
        time.sleep(2.5)
        assert dead.poll() == want, f"B dialled {dead.accepted} times, want {want}"
        assert b.routez()["num_routes"] == 1
    finally:
        dead.close()


async def test_node_leaving_updates_connect_urls(cluster, raw):
    """A client (protocol 1, past its first PONG) is sent a fresh INFO
    without the node that went away, and one with it when it is back."""
    a, b, c = cluster.start(3)
    conn = raw(b.port)
    info = conn.read_info()
    want = {a.client_hostport, b.client_hostport, c.client_hostport}
    assert set(info.get("connect_urls") or []) == want, info
    conn.send(b'CONNECT {"verbose":false,"pedantic":false,"protocol":1}\r\nPING\r\n')
    assert conn.read_line() == b"PONG\r\n"

    def next_urls():
        line = conn.read_line()
        while not line.startswith(b"INFO "):  # skip anything but INFO
            line = conn.read_line()
        return set(json.loads(line[5:]).get("connect_urls") or [])

    a.kill9()
    assert next_urls() == want - {a.client_hostport}
    a.start()
    urls = next_urls()
    while urls != want:  # the mesh may re-form a route at a time
        urls = next_urls()
