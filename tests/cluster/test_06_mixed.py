"""Mixed cluster: one ternd node (B) between two nats-server nodes (A, C).

Under TERN_REFERENCE=1 all three nodes are nats-server, which validates the
tests themselves. The nats-server nodes keep their system account here (no
`quiet`), so the ternd node also has to cope with the `$SYS` interest and
events real nodes exchange.
"""

import asyncio
import time
from collections import Counter

import pytest

from conftest import (DEFAULT_KIND, NATS_KIND, Inbox, fake_info, mesh_state, publish_numbered,
                      route_connect, settle, wait_for, wait_interest, wait_mesh)


@pytest.fixture
def mixed(cluster):
    kinds = [NATS_KIND, DEFAULT_KIND, NATS_KIND]
    return cluster.start(3, kinds=kinds, quiet=False)


async def test_mixed_pubsub_every_direction(mixed, client):
    nodes = mixed
    boxes = {}
    for node in nodes:
        nc = await client(node)
        box = Inbox()
        await nc.subscribe(f"mixed.{node.name}.*", cb=box.cb)
        await nc.subscribe(f"mixed.{node.name}.hdr.>", cb=box.cb)
        await settle(nc)
        boxes[node.name] = box
    for dst in nodes:
        for src in nodes:
            if src is not dst:
                wait_interest(src, dst, {f"mixed.{dst.name}.*", f"mixed.{dst.name}.hdr.>"})

    pubs = {n.name: await client(n) for n in nodes}
    for src in nodes:
        for dst in nodes:
            nc = pubs[src.name]
            for i in range(10):
                await nc.publish(f"mixed.{dst.name}.{src.name}", b"%s%d" % (src.name.encode(), i))
            await nc.publish(f"mixed.{dst.name}.hdr.{src.name}", b"h",
                             headers={"From": src.name}, reply=f"r.{src.name}")
        await settle(pubs[src.name])
    for dst in nodes:
        box = boxes[dst.name]
        await box.wait_count(33)
        for src in nodes:
            plain = [m.data for m in box.msgs if m.subject == f"mixed.{dst.name}.{src.name}"]
            assert plain == [b"%s%d" % (src.name.encode(), i) for i in range(10)], (src, dst)
            hdr = [m for m in box.msgs if m.subject == f"mixed.{dst.name}.hdr.{src.name}"]
            assert len(hdr) == 1, (src, dst)
            assert hdr[0].headers == {"From": src.name} and hdr[0].reply == f"r.{src.name}"
        assert len(box.msgs) == 33


async def test_mixed_queue_group(mixed, client):
    nodes = mixed
    handled = {}
    for node in nodes:
        for k in range(2):
            member = f"{node.name}{k}"
            handled[member] = []
            nc = await client(node)

            async def cb(msg, member=member):
                handled[member].append(msg.data)
                await msg.respond(member.encode())

            await nc.subscribe("mixed.work", queue="grp", cb=cb)
            await settle(nc)
    for node in nodes:
        for origin in nodes:
            if origin is not node:
                wait_interest(node, origin, ("mixed.work", "grp"))

    async def requester(node, count):
        nc = await client(node)
        sem = asyncio.Semaphore(50)

        async def one(i):
            async with sem:
                resp = await nc.request("mixed.work", f"{node.name}-{i}".encode(), timeout=5)
            return f"{node.name}-{i}".encode(), resp.data.decode()

        return await asyncio.gather(*(one(i) for i in range(count)))

    results = [r for part in await asyncio.gather(*(requester(n, 300) for n in nodes))
               for r in part]
    assert len(results) == 900
    for body, member in results:
        assert body in handled[member]
    seen = Counter(p for got in handled.values() for p in got)
    assert len(seen) == 900 and max(seen.values()) == 1
    assert all(handled.values()), {m: len(g) for m, g in handled.items()}


async def test_mixed_request_reply(mixed, client):
    nodes = mixed
    for svc_node in nodes:
        svc = await client(svc_node)

        async def handler(msg, name=svc_node.name):
            await msg.respond(name.encode() + b":" + msg.data)

        subject = f"mixed.svc.{svc_node.name}"
        await svc.subscribe(subject, cb=handler)
        await settle(svc)
        for other in nodes:
            if other is not svc_node:
                wait_interest(other, svc_node, subject)
        for req_node in nodes:
            if req_node is svc_node:
                continue
            req = await client(req_node)
            for i in range(10):
                resp = await req.request(subject, b"%d" % i, timeout=3)
                assert resp.data == svc_node.name.encode() + b":%d" % i
            resp = await req.request(subject, b"hh", headers={"A": "b"}, timeout=3)
            assert resp.data == svc_node.name.encode() + b":hh"


@pytest.mark.parametrize("first_kind,second_kind", [
    (DEFAULT_KIND, NATS_KIND), (NATS_KIND, DEFAULT_KIND), (DEFAULT_KIND, DEFAULT_KIND)],
    ids=["tern-first", "nats-first", "tern-tern"])
async def test_crossed_dials_keep_one_route(cluster, client, first_kind, second_kind):
    """Two nodes that list each other, started one after the other: the
    first one's dial is refused and retried while the second one dials it,
    so two connections cross. Both sides must keep the same one (nats-server
    keeps the one it registered first); a node with any other rule closes
    the connection its peer kept, both routes die, and the pair flaps on
    every retry."""
    x = cluster.new_node("X", first_kind)
    y = cluster.new_node("Y", second_kind)
    x.routes, y.routes = [y.route_url()], [x.route_url()]
    x.launch()
    x.wait_ready()
    y.launch()
    y.wait_ready()
    wait_mesh([x, y])
    # The crossing closes one connection as a duplicate on at least one side.
    wait_for(lambda: any("closed: Duplicate Route" in n.log_text() for n in (x, y)),
             what=lambda: f"a duplicate route closed: {mesh_state([x, y])}")
    # Proving the survivor stays needs a wait: 2.5 s spans two route redial
    # periods (1 s + up to 0.1 s jitter), in which a flapping pair would have
    # closed and re-created its route. Dials that cross within a round trip
    # may legitimately close both connections once (each side kept the
    # other's); the jittered redial then settles it, so a later window may
    # be the stable one. A pair that flaps on every retry never has one.
    windows = []
    for _ in range(3):
        wait_mesh([x, y])
        rids = {n.name: [r["rid"] for r in n.routez()["routes"]] for n in (x, y)}
        time.sleep(2.5)
        after = {n.name: [r["rid"] for r in n.routez()["routes"]] for n in (x, y)}
        windows.append((rids, after))
        if after == rids and all(len(v) == 1 for v in after.values()):
            break
    else:
        raise AssertionError(f"the route never stayed up for 2.5 s: {windows}")
    # Each side listed the other, so whichever connection survived counts
    # as configured and solicited on both (the survivor inherits that from
    # the duplicate it replaced), and would be redialled if it dropped.
    for n in (x, y):
        r = n.routez()["routes"][0]
        assert r["is_configured"] is True and r["did_solicit"] is True, (n.name, r)

    box = Inbox()
    sub = await client(y)
    await sub.subscribe("crossed.to.y", cb=box.cb)
    await settle(sub)
    wait_interest(x, y, "crossed.to.y")
    await publish_numbered(await client(x), "crossed.to.y", box, 5)


async def test_nats_server_keeps_a_route_whose_info_updates_tern_raft(cluster, client, raw):
    """A Tern node's route INFO carries "tern_raft" and is sent again when
    that changes (cluster_set_raft_state). A nats-server 2.9 node must take
    both as any INFO: keep the route, keep sending it messages."""
    (a,) = cluster.start(1, kinds=[NATS_KIND])
    peer = raw(a.cluster_port)
    peer.read_info()
    peer.send(route_connect("NFAKETERN") + fake_info("NFAKETERN", tern_raft=0) +
              b"RS+ $G tern.raft.check\r\nPING\r\n")
    while peer.read_line() != b"PONG\r\n":
        pass
    wait_for(lambda: a.routez()["num_routes"] == 1, what="the fake Tern route registered")
    # The update, as route_send_info sends it (same server_id).
    peer.send(fake_info("NFAKETERN", tern_raft=2) + b"PING\r\n")
    while peer.read_line() != b"PONG\r\n":
        pass
    pub = await client(a)
    await pub.publish("tern.raft.check", b"after update")
    await settle(pub)
    while True:
        line = peer.read_line()
        if line.startswith(b"RMSG $G tern.raft.check"):
            assert peer.read_line() == b"after update\r\n"
            break
    assert a.routez()["num_routes"] == 1
