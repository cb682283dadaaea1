"""Cross-node messaging over routes: subscriber on A, publisher on C.

The mesh is formed from explicit routes only (topology "earlier"), so these
tests do not depend on gossip (test_02 covers that).
"""

import asyncio

from conftest import Inbox, fake_info, route_connect, settle, wait_for, wait_interest


async def test_mesh_and_routez(cluster):
    a, b, c = cluster.start(3)
    for node in (a, b, c):
        rz = node.routez()
        assert rz["num_routes"] == 2
        assert rz["server_id"] == node.server_id
        others = {m.server_id for m in (a, b, c) if m is not node}
        assert {r["remote_id"] for r in rz["routes"]} == others
        for r in rz["routes"]:
            assert r["ip"] == "127.0.0.1", r
            assert r["in_msgs"] >= 0 and r["out_msgs"] >= 0


async def test_plain_and_wildcard_subjects(cluster, client):
    a, b, c = cluster.start(3)
    sub_nc = await client(a)
    plain, star, full = Inbox(), Inbox(), Inbox()
    await sub_nc.subscribe("shop.plain", cb=plain.cb)
    await sub_nc.subscribe("shop.*.item", cb=star.cb)
    await sub_nc.subscribe("shop.events.>", cb=full.cb)
    await settle(sub_nc)
    subjects = {"shop.plain", "shop.*.item", "shop.events.>"}
    wait_interest(c, a, subjects)

    pub = await client(c)
    # Non-matching subjects first: publishes from one connection reach A in
    # order over the one C->A route, so when the matching message arrives
    # anything wrongly forwarded before it would already be there.
    await pub.publish("shop.plain.extra", b"no")
    await pub.publish("shop.x.y.item", b"no")
    await pub.publish("shop.events", b"no")
    await pub.publish("shop.plainer", b"no")
    for i in range(20):
        await pub.publish("shop.plain", b"p%d" % i)
        await pub.publish(f"shop.n{i}.item", b"s%d" % i)
        await pub.publish(f"shop.events.e{i}.deep.er", b"f%d" % i)
    await settle(pub)

    await plain.wait_count(20)
    await star.wait_count(20)
    await full.wait_count(20)
    assert plain.payloads() == [b"p%d" % i for i in range(20)]
    assert [m.subject for m in plain.msgs] == ["shop.plain"] * 20
    assert star.payloads() == [b"s%d" % i for i in range(20)]
    assert [m.subject for m in star.msgs] == [f"shop.n{i}.item" for i in range(20)]
    assert full.payloads() == [b"f%d" % i for i in range(20)]
    assert [m.subject for m in full.msgs] == [f"shop.events.e{i}.deep.er" for i in range(20)]


async def test_headers_and_reply_cross_node(cluster, client):
    a, b, c = cluster.start(3)
    sub_nc = await client(a)
    inbox = Inbox()
    await sub_nc.subscribe("hdr.test", cb=inbox.cb)
    await settle(sub_nc)
    wait_interest(c, a, "hdr.test")

    pub = await client(c)
    await pub.publish("hdr.test", b"body-1", headers={"X-Tern": "one", "Trace": "a b c"})
    await pub.publish("hdr.test", b"body-2", reply="reply.to.me",
                      headers={"X-Tern": "two"})
    await pub.publish("hdr.test", b"plain")
    await pub.publish("hdr.test", b"", headers={"Only": "headers"})
    await settle(pub)

    msgs = await inbox.wait_count(4)
    assert msgs[0].data == b"body-1"
    assert msgs[0].headers == {"X-Tern": "one", "Trace": "a b c"}
    assert msgs[0].reply == ""
    assert msgs[1].data == b"body-2"
    assert msgs[1].headers == {"X-Tern": "two"}
    assert msgs[1].reply == "reply.to.me"
    assert msgs[2].data == b"plain" and not msgs[2].headers
    assert msgs[3].data == b"" and msgs[3].headers == {"Only": "headers"}


async def test_request_reply_cross_node(cluster, client):
    a, b, c = cluster.start(3)
    svc = await client(a)

    async def handler(msg):
        await msg.respond(b"re:" + msg.data)

    await svc.subscribe("svc.echo", cb=handler)
    await settle(svc)
    wait_interest(b, a, "svc.echo")
    wait_interest(c, a, "svc.echo")

    for node in (c, b):
        req = await client(node)
        for i in range(25):
            resp = await req.request("svc.echo", b"%s-%d" % (node.name.encode(), i),
                                     timeout=3)
            assert resp.data == b"re:%s-%d" % (node.name.encode(), i)
        # With headers too.
        resp = await req.request("svc.echo", b"h", headers={"K": "v"}, timeout=3)
        assert resp.data == b"re:h"


async def test_one_copy_per_route(cluster, client):
    """Overlapping subscriptions on A get one copy each; C sends A one RMSG
    per message however many of A's subscriptions match, and B, which has
    no interest, is sent nothing."""
    a, b, c = cluster.start(3)
    sub_nc = await client(a)
    exact, star, full = Inbox(), Inbox(), Inbox()
    await sub_nc.subscribe("fan.x", cb=exact.cb)
    await sub_nc.subscribe("fan.*", cb=star.cb)
    await sub_nc.subscribe("fan.>", cb=full.cb)
    local = Inbox()
    pub = await client(c)
    await pub.subscribe("fan.x", cb=local.cb)
    await settle(sub_nc)
    await settle(pub)
    wait_interest(c, a, {"fan.x", "fan.*", "fan.>"})

    c_to_a = c.route_counters(a)
    c_to_b = c.route_counters(b)
    a_from_c = a.route_counters(c)
    n = 30
    for i in range(n):
        await pub.publish("fan.x", b"%d" % i)
    await settle(pub)
    for box in (exact, star, full, local):
        await box.wait_count(n)
    for box in (exact, star, full, local):
        assert box.payloads() == [b"%d" % i for i in range(n)]

    assert c.route_counters(a)[1] - c_to_a[1] == n, "C->A out_msgs"
    assert a.route_counters(c)[0] - a_from_c[0] == n, "A<-C in_msgs"
    assert c.route_counters(b)[1] - c_to_b[1] == 0, "C->B out_msgs (B has no interest)"


async def test_every_pair(cluster, client):
    """Each node reaches each other node (and its own local subscriber)."""
    nodes = cluster.start(3)
    subs = {}
    for node in nodes:
        nc = await client(node)
        box = Inbox()
        await nc.subscribe(f"pair.to.{node.name}", cb=box.cb)
        await settle(nc)
        subs[node.name] = box
    for dst in nodes:
        for src in nodes:
            if src is not dst:
                wait_interest(src, dst, f"pair.to.{dst.name}")
    pubs = {node.name: await client(node) for node in nodes}
    for src in nodes:
        for dst in nodes:
            await pubs[src.name].publish(f"pair.to.{dst.name}", f"from {src.name}".encode())
        await settle(pubs[src.name])
    for dst in nodes:
        box = subs[dst.name]
        await box.wait_count(3)
        assert sorted(box.payloads()) == [b"from A", b"from B", b"from C"]


async def test_stuck_route_is_cut_as_a_slow_consumer(cluster, client, raw):
    """A route whose peer stops reading is cut at max_pending like a client
    (spec/client-protocol.md §2.2): counted in /varz slow_consumers, logged,
    closed; the publisher carries on."""
    a = cluster.new_node("A")
    # write_deadline is short because nats-server stalls the publisher on a
    # blocked route write and cuts the route at that deadline instead
    # (also counted as a slow consumer); Tern trips max_pending first and
    # never blocks the publisher.
    a.extra_conf = ["max_payload: 64KB", "max_pending: 64KB", 'write_deadline: "2s"']
    a.start()
    # A fake node registers a route, asks for "firehose", then never reads.
    peer = raw(a.cluster_port)
    peer.read_info()
    peer.send(route_connect("NFAKESLOW") + fake_info("NFAKESLOW") +
              b"RS+ $G firehose\r\nPING\r\n")
    while peer.read_line() != b"PONG\r\n":
        pass
    wait_for(lambda: a.routez()["num_routes"] == 1, what="the fake route registered")

    pub = await client(a)
    body = b"x" * 40000
    # 12 MB in all: far beyond max_pending plus the kernel socket buffers.
    for n in range(300):
        await pub.publish("firehose", body)
        if n % 20 == 0:
            await settle(pub)
        if a.varz()["slow_consumers"]:
            break
    await settle(pub)
    wait_for(lambda: a.varz()["slow_consumers"] >= 1, what="a slow consumer counted")
    a.wait_for_log(r"(?i)Slow Consumer Detected")
    wait_for(lambda: a.routez()["num_routes"] == 0, what="the stuck route closed")
    await asyncio.to_thread(peer.read_until_closed, 10)
    assert pub.is_connected
