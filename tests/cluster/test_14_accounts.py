"""Accounts across the cluster: routes carry each account's interest and
messages apart (RS+/RMSG name the account), imports are applied once on
the publishing node, service replies find their way back to the node that
holds the request, and the JetStream of one account, replicated by the
three nodes, is used from another account through an import and survives
a leader kill.

Under TERN_REFERENCE=1 the same tests run against three nats-server nodes.
"""

import asyncio

from conftest import REFERENCE, Inbox, async_wait_for, settle, wait_for, wait_interest

ACCOUNTS = """
accounts {
  A: {
    users: [{user: a, password: a}]
    jetstream: enabled
    exports: [{stream: "feed.>"}, {service: "svc.>"}, {service: "$JS.API.>"}]
  }
  B: {
    users: [{user: b, password: b}]
    imports: [
      {stream: {account: A, subject: "feed.>"}, prefix: "from_a"}
      {service: {account: A, subject: "svc.echo"}, to: "echo"}
      {service: {account: A, subject: "$JS.API.>"}, to: "a.api.>"}
    ]
  }
}
"""


def start(cluster, jetstream=False):
    args = [["-js", "-sd", str(cluster.workdir / f"js-{n}")] for n in "ABC"] if jetstream \
        else None
    return cluster.start(3, conf=[ACCOUNTS.splitlines()] * 3, args=args, topology="all",
                         quiet=not (REFERENCE and jetstream))


async def connect(client, node, user):
    return await client(node, user=user, password=user)


async def test_accounts_stay_apart_across_routes(cluster, client):
    a, b, c = start(cluster)
    in_a, in_b = Inbox(), Inbox()
    sub_a = await connect(client, a, "a")
    sub_b = await connect(client, a, "b")
    await sub_a.subscribe("news.>", cb=in_a.cb)
    await sub_b.subscribe("news.>", cb=in_b.cb)
    await settle(sub_a)
    await settle(sub_b)
    wait_interest(c, a, "news.>")
    pub_b = await connect(client, c, "b")
    pub_a = await connect(client, c, "a")
    await pub_b.publish("news.1", b"for b")
    await settle(pub_b)
    await pub_a.publish("news.2", b"for a")
    await settle(pub_a)
    await in_a.wait_count(1)
    await in_b.wait_count(1)
    # One connection's publishes arrive in order: had news.1 leaked into A
    # it would be there before news.2.
    assert in_a.payloads() == [b"for a"]
    assert in_b.payloads() == [b"for b"]


async def test_stream_import_copied_once(cluster, client):
    a, b, c = start(cluster)
    boxes = []
    for node in (a, b):
        nc = await connect(client, node, "b")
        box = Inbox()
        await nc.subscribe("from_a.feed.>", cb=box.cb)
        await settle(nc)
        boxes.append(box)
    # What the importer wants crosses the routes as interest in A.
    for node in (a, b):
        wait_for(lambda node=node: c.remote_interest(node) is not None)
    pub = await connect(client, c, "a")
    await asyncio.sleep(0.2)  # interest settles; asserted by the counts below
    for i in range(20):
        await pub.publish(f"feed.{i}", b"%d" % i)
    await settle(pub)
    for box in boxes:
        await box.wait_count(20)
    await asyncio.sleep(0.2)  # a duplicate copy would have arrived by now
    for box in boxes:
        assert box.payloads() == [b"%d" % i for i in range(20)]
        assert box.msgs[0].subject == "from_a.feed.0"


async def test_service_import_across_nodes(cluster, client):
    a, b, c = start(cluster)
    responder = await connect(client, b, "a")
    seen = []

    async def echo(msg):
        seen.append(msg.subject)
        await msg.respond(b"pong:" + msg.data)

    await responder.subscribe("svc.>", cb=echo)
    await settle(responder)
    wait_interest(c, b, "svc.>")
    requester = await connect(client, c, "b")
    for i in range(10):
        r = await requester.request("echo", b"%d" % i, timeout=3)
        assert r.data == b"pong:%d" % i
    assert seen == ["svc.echo"] * 10


async def test_jetstream_of_another_account_through_leader_kill(cluster, client):
    nodes = start(cluster, jetstream=True)
    b_nc = await connect(client, nodes[2], "b")
    jsb = b_nc.jetstream(prefix="a.api", timeout=5)

    async def create():
        try:
            await jsb.add_stream(name="SHARED", subjects=["shared.>"], num_replicas=3)
            return True
        except Exception:
            return False

    await async_wait_for(create, timeout=30, interval=0.2, what="stream created through B")
    a_nc = await connect(client, nodes[0], "a")
    jsa = a_nc.jetstream(timeout=5)
    for i in range(5):
        await jsa.publish(f"shared.{i}", b"%d" % i)
    info = await jsb.stream_info("SHARED")
    assert info.state.messages == 5
    if REFERENCE:
        return  # nats-server's meta leader is not what /jsz of Tern shows
    def leader():
        names = {(n.http_json("/jsz").get("meta_cluster") or {}).get("leader") for n in nodes}
        return next((n for n in nodes if names == {n.name}), None)

    killed = wait_for(leader, what="the nodes agree on a leader")
    killed.kill9()

    async def count():
        try:
            return (await jsb.stream_info("SHARED")).state.messages == 5
        except Exception:
            return False

    await async_wait_for(count, timeout=30, interval=0.2, what="stream read after the kill")
    survivor = next(n for n in nodes if n is not killed)
    a2 = await connect(client, survivor, "a")

    async def publish():
        try:
            await a2.jetstream(timeout=5).publish("shared.5", b"5")
            return True
        except Exception:
            return False

    await async_wait_for(publish, timeout=30, interval=0.2, what="publish after the kill")
    assert (await jsb.stream_info("SHARED")).state.messages == 6
