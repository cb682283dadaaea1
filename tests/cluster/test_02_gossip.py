"""Discovery: routes learned from gossip, self/duplicate routes, connect_urls."""

import time

from conftest import (Inbox, async_wait_for, mesh_state, settle, wait_interest,
                      wait_mesh)


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
