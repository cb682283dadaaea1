"""JetStream reached from another node of the cluster.

The JetStream API, publishes and acks cross routes like any request; a
consumer's deliveries cross them too, as RMSG <deliver subject>
<ack reply>@<stored subject>, so a client on any node sees the stored
subject, headers and ack reply exactly as a client of the JetStream node
does (spec/jetstream.md §8.5). With ternd only node A runs JetStream (it is
not replicated yet); under TERN_REFERENCE=1 every nats-server node runs it
(nats-server refuses JetStream on one node of a cluster), so the stream may
land anywhere and the tests still hold. The mixed variant puts a nats-server
node between the client and a ternd JetStream node: the wire form is
nats-server's.
"""

import asyncio

import pytest

from conftest import DEFAULT_KIND, NATS_KIND, REFERENCE


def js_args(cluster, nodes):
    """-js with a store directory for each node that runs JetStream."""
    out = []
    for i, name in enumerate(nodes):
        if REFERENCE or i == 0:
            out.append(["-js", "-sd", str(cluster.workdir / f"js-{name}")])
        else:
            out.append([])
    return out


@pytest.fixture(params=["tern", "mixed"])
def js_nodes(request, cluster):
    if request.param == "mixed" and REFERENCE:
        pytest.skip("the mixed variant needs a ternd JetStream node")
    kinds = [DEFAULT_KIND, DEFAULT_KIND, DEFAULT_KIND]
    if request.param == "mixed":
        kinds = [DEFAULT_KIND, NATS_KIND, DEFAULT_KIND]
    # nats-server's clustered JetStream needs its system account and every
    # node to know a route at start.
    return cluster.start(3, kinds=kinds, args=js_args(cluster, "ABC"),
                         topology="all" if REFERENCE else "earlier", quiet=not REFERENCE)


async def wait_for_jetstream(js, timeout=10):
    """Until the JetStream API answers through this node (interest in
    $JS.API.> has to reach it over the route first)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        try:
            return await js.account_info()
        except Exception:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.05)


async def test_pull_push_ordered_and_acks_from_another_node(js_nodes, client):
    nc = await client(js_nodes[1])
    js = nc.jetstream()
    await wait_for_jetstream(js)
    await js.add_stream(name="S", subjects=["s.>"])
    a1 = await js.publish("s.one", b"hello", headers={"H": "v"})
    a2 = await js.publish("s.two", b"world")
    assert (a1.stream, a1.seq, a2.seq) == ("S", 1, 2)

    pull = await js.pull_subscribe("s.>", durable="d")
    msgs = await pull.fetch(2, timeout=5)
    assert [(m.subject, m.data) for m in msgs] == [("s.one", b"hello"), ("s.two", b"world")]
    assert msgs[0].headers == {"H": "v"}
    assert msgs[0].reply.startswith("$JS.ACK.S.d.1.1.1.") and "@" not in msgs[0].reply
    assert msgs[0].metadata.sequence.stream == 1
    for m in msgs:
        await m.ack_sync(timeout=5)  # the ack and its empty reply cross too
    info = await js.consumer_info("S", "d")
    assert info.ack_floor.stream_seq == 2 and info.num_ack_pending == 0

    push = await js.subscribe("s.>", durable="p")
    m = await push.next_msg(timeout=5)
    assert (m.subject, m.data) == ("s.one", b"hello")
    await m.ack()

    ordered = await js.subscribe("s.>", ordered_consumer=True)
    got = [await ordered.next_msg(timeout=5) for _ in range(2)]
    assert [m.subject for m in got] == ["s.one", "s.two"]


async def test_key_value_from_another_node(js_nodes, client):
    nc = await client(js_nodes[2])
    js = nc.jetstream()
    await wait_for_jetstream(js)
    kv = await js.create_key_value(bucket="cfg", history=3)
    await kv.put("mode", b"fast")
    await kv.put("mode", b"safe")
    await kv.put("level", b"3")
    entry = await kv.get("mode")
    assert (entry.value, entry.revision) == (b"safe", 2)
    assert sorted(await kv.keys()) == ["level", "mode"]
    assert [e.value for e in await kv.history("mode")] == [b"fast", b"safe"]
    watcher = await kv.watch("mode")
    first = await watcher.updates(timeout=5)
    assert (first.key, first.value) == ("mode", b"safe")
    await kv.put("mode", b"off")
    nxt = await watcher.updates(timeout=5)
    while nxt is None:  # the end-of-initial-values marker
        nxt = await watcher.updates(timeout=5)
    assert (nxt.key, nxt.value) == ("mode", b"off")
    await watcher.stop()
