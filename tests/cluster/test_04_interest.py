"""Interest removal: nothing is forwarded into nothing.

Each test removes the last subscriber of a subject on one node, waits until
the other nodes drop that interest from /routez, then publishes to the
subject and checks the route message counters: the only message that may
cross is a marker sent to a subject that still has a subscriber. Because the
marker is published after the others on the same connection and crosses the
same route, any wrongly forwarded message would be counted before the marker
is delivered. Nodes run without nats-server's system account, so route
counters move only for test traffic.
"""

from conftest import Inbox, publish_numbered, settle, wait_interest, wait_no_interest

N = 25


async def publish_and_count(pub, src, dst, others, subject, marker_box, marker_subject):
    """Publish N messages to `subject` and one marker; return how many
    messages crossed src->dst, dst<-src, and src->each of `others`."""
    before_out = src.route_counters(dst)[1]
    before_in = dst.route_counters(src)[0]
    before_others = [src.route_counters(o)[1] for o in others]
    have = len(marker_box.msgs)
    for i in range(N):
        await pub.publish(subject, b"%d" % i)
    await pub.publish(marker_subject, b"marker")
    await settle(pub)
    await marker_box.wait_count(have + 1)
    return (src.route_counters(dst)[1] - before_out,
            dst.route_counters(src)[0] - before_in,
            [src.route_counters(o)[1] - b for o, b in zip(others, before_others)])


async def test_unsubscribe_removes_remote_interest(cluster, client):
    a, b, c = cluster.start(3)
    sub_nc = await client(a)
    box, marker = Inbox(), Inbox()
    sub = await sub_nc.subscribe("gone.unsub", cb=box.cb)
    await sub_nc.subscribe("marker.a", cb=marker.cb)
    await settle(sub_nc)
    wait_interest(c, a, {"gone.unsub", "marker.a"})
    wait_interest(b, a, {"gone.unsub", "marker.a"})
    pub = await client(c)

    # With interest: all N plus the marker cross C->A, none goes to B.
    out, inn, others = await publish_and_count(pub, c, a, [b], "gone.unsub", marker, "marker.a")
    assert (out, inn, others) == (N + 1, N + 1, [0])
    await box.wait_count(N)

    await sub.unsubscribe()
    await settle(sub_nc)
    wait_no_interest(c, a, "gone.unsub")
    wait_no_interest(b, a, "gone.unsub")
    assert "marker.a" in c.remote_interest(a)

    # Without interest: only the marker crosses.
    out, inn, others = await publish_and_count(pub, c, a, [b], "gone.unsub", marker, "marker.a")
    assert (out, inn, others) == (1, 1, [0])
    assert len(box.msgs) == N


async def test_disconnect_removes_remote_interest(cluster, client):
    a, b, c = cluster.start(3)
    leaving = await client(b)
    box = Inbox()
    await leaving.subscribe("gone.disc", cb=box.cb)
    await leaving.subscribe("gone.disc.>", cb=box.cb)
    await leaving.subscribe("gone.q", queue="grp", cb=box.cb)
    await settle(leaving)
    staying = await client(b)
    marker = Inbox()
    await staying.subscribe("marker.b", cb=marker.cb)
    await settle(staying)
    interest = {"gone.disc", "gone.disc.>", ("gone.q", "grp"), "marker.b"}
    wait_interest(a, b, interest)
    wait_interest(c, b, interest)

    await leaving.close()
    for node in (a, c):
        wait_no_interest(node, b, {"gone.disc", "gone.disc.>", "gone.q"})
        assert "marker.b" in node.remote_interest(b)

    pub = await client(a)
    for subject in ("gone.disc", "gone.disc.x.y", "gone.q"):
        out, inn, others = await publish_and_count(pub, a, b, [c], subject, marker, "marker.b")
        assert (out, inn, others) == (1, 1, [0]), subject
    assert box.msgs == []


async def test_auto_unsubscribe_removes_remote_interest(cluster, client):
    """A subscription with a server-side message limit (UNSUB <sid> 5) goes
    away on the remote nodes once the limit is reached. (nats-py's
    subscribe(max_msgs=) only counts client-side; unsubscribe(limit=) sends
    the UNSUB with a limit.)"""
    a, b, c = cluster.start(3)
    sub_nc = await client(a)
    box, marker = Inbox(), Inbox()
    sub = await sub_nc.subscribe("gone.auto", cb=box.cb)
    await sub.unsubscribe(limit=5)
    await sub_nc.subscribe("marker.a", cb=marker.cb)
    await settle(sub_nc)
    wait_interest(c, a, {"gone.auto", "marker.a"})

    pub = await client(c)
    for i in range(5):
        await pub.publish("gone.auto", b"%d" % i)
    await settle(pub)
    await box.wait_count(5)
    wait_no_interest(c, a, "gone.auto")
    wait_no_interest(b, a, "gone.auto")

    out, inn, others = await publish_and_count(pub, c, a, [b], "gone.auto", marker, "marker.a")
    assert (out, inn, others) == (1, 1, [0])
    assert len(box.msgs) == 5


async def test_interest_kept_while_one_subscriber_remains(cluster, client):
    """Two local subscribers of one subject: the first leaving must not
    withdraw the node's interest."""
    a, b, c = cluster.start(3)
    nc1, nc2 = await client(a), await client(a)
    box1, box2 = Inbox(), Inbox()
    s1 = await nc1.subscribe("kept.x", cb=box1.cb)
    await nc2.subscribe("kept.x", cb=box2.cb)
    await settle(nc1)
    await settle(nc2)
    wait_interest(c, a, "kept.x")

    await s1.unsubscribe()
    await settle(nc1)
    # A later subscription from A is announced after anything the UNSUB
    # caused, so once C lists it, C has seen whatever A sent for kept.x.
    await nc1.subscribe("kept.probe", cb=box1.cb)
    await settle(nc1)
    wait_interest(c, a, "kept.probe")
    assert "kept.x" in c.remote_interest(a)

    pub = await client(c)
    await publish_numbered(pub, "kept.x", box2, 10)
    assert box1.msgs == []


async def test_queue_member_leaving(cluster, client):
    """When the only member on B leaves, requests from C go to A's member
    only and nothing more is sent to B."""
    a, b, c = cluster.start(3)
    got = {"A": 0, "B": 0}
    conns = {}
    for node in (a, b):
        nc = await client(node)
        conns[node.name] = nc

        async def cb(msg, name=node.name):
            got[name] += 1
            await msg.respond(name.encode())

        await nc.subscribe("qleave", queue="grp", cb=cb)
        await settle(nc)
    marker = Inbox()
    mark_nc = await client(b)
    await mark_nc.subscribe("marker.b", cb=marker.cb)
    await settle(mark_nc)
    wait_interest(c, a, ("qleave", "grp"))
    wait_interest(c, b, {("qleave", "grp"), "marker.b"})

    req = await client(c)
    for i in range(60):
        await req.request("qleave", b"x", timeout=3)
    assert got["A"] > 0 and got["B"] > 0, got

    await conns["B"].close()
    wait_no_interest(c, b, "qleave")
    before = dict(got)
    out_b = c.route_counters(b)[1]
    answers = [(await req.request("qleave", b"y", timeout=3)).data for _ in range(40)]
    assert answers == [b"A"] * 40
    assert got["B"] == before["B"]
    await req.publish("marker.b", b"m")
    await settle(req)
    await marker.wait_count(1)
    assert c.route_counters(b)[1] - out_b == 1, "C sent B more than the marker"
