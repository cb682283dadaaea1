"""Republish and bound push consumers on a three-node JetStream group.

A stream with republish sends one copy of each stored message, from the
serving node only (never once per replica), and goes on after its leader
is killed. Around the kill Tern promises at least once: a new leader
republishes what it commits itself (the old leader's uncommitted tail
included) and, on taking over, again what it applied as a follower in the
last 250 ms before, so nothing stored is skipped and a message may come
twice (server/jetstream/js_republish.c). Subscribers here sit on the two
nodes that stay up, each connected to its own node without reconnecting,
so every copy routed to them is seen.

Clients racing to bind one durable push consumer from different nodes:
exactly one wins, the others get 10013, decided in log order.

Under TERN_REFERENCE=1 the same tests run against three nats-server nodes
(R3 streams), which pass them too (it republished nothing twice in the
runs made; it does not promise that either way).
"""

import asyncio
import json
import time

import nats

from conftest import REFERENCE, report, wait_interest
from test_09_js_replicated import (connect_all, nodes, publish_until_acked,  # noqa: F401
                                   ready, retry, wait_leader, wait_same_state)


async def listeners(nodes, subject):
    """One subscriber per node, each connected to that node only."""
    subs = {}
    for n in nodes:
        nc = await nats.connect(n.url, allow_reconnect=False, max_reconnect_attempts=0)
        subs[n.name] = (nc, await nc.subscribe(subject, pending_msgs_limit=-1))
        await nc.flush()
    # Every node knows every other node's subscription before anything is sent.
    for n in nodes:
        for o in nodes:
            if n is not o and not REFERENCE:
                wait_interest(n, o, subject)
    return subs


async def collect(sub, into, want, timeout=20):
    """Copies into `into` (seq -> list of (subject, headers, data)) until
    every sequence in `want` is there."""
    deadline = time.monotonic() + timeout
    while not want <= set(into):
        left = deadline - time.monotonic()
        assert left > 0, f"copies missing: {sorted(want - set(into))[:20]}"
        try:
            m = await sub.next_msg(timeout=min(left, 1))
        except nats.errors.TimeoutError:
            continue
        into.setdefault(int(m.headers["Nats-Sequence"]), []).append(
            (m.subject, dict(m.headers), m.data))


async def quiet(sub, into, seconds):
    """Whatever else arrives within `seconds` (to see that nothing does)."""
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        try:
            m = await sub.next_msg(timeout=left)
        except nats.errors.TimeoutError:
            return
        into.setdefault(int(m.headers["Nats-Sequence"]), []).append(
            (m.subject, dict(m.headers), m.data))


async def republish_stream(nodes, name):
    wait_leader(nodes)
    nc = await connect_all(nodes)
    js = nc.jetstream()
    await ready(js)
    r = await retry(lambda: nc.request(
        f"$JS.API.STREAM.CREATE.{name}",
        json.dumps({"name": name, "subjects": [f"{name.lower()}.>"], "num_replicas": 3,
                    "republish": {"dest": "rp.>"}}).encode(), timeout=2))
    info = json.loads(r.data)
    assert info["config"]["republish"] == {"src": ">", "dest": "rp.>"}, info
    return nc, js


async def close_all(*conns):
    for nc in conns:
        try:
            await nc.close()
        except Exception:
            pass


async def test_republished_once_per_message_not_once_per_replica(nodes):
    nc, js = await republish_stream(nodes, "ONCE")
    subs = await listeners(nodes, "rp.>")
    acks = [await publish_until_acked(js, f"once.k{i % 3}", f"v{i}".encode(), f"id{i}")
            for i in range(60)]
    assert [a.seq for a in acks] == list(range(1, 61))
    seqs = set(range(1, 61))
    for name, (_, sub) in subs.items():
        got = {}
        await collect(sub, got, seqs)
        await quiet(sub, got, 0.3)
        assert {s: len(v) for s, v in got.items()} == {s: 1 for s in seqs}, name
        for s, [(subject, hdrs, data)] in got.items():
            k = (s - 1) % 3
            assert subject == f"rp.once.k{k}" and data == f"v{s - 1}".encode()
            assert hdrs["Nats-Stream"] == "ONCE" and hdrs["Nats-Subject"] == f"once.k{k}"
            assert hdrs["Nats-Last-Sequence"] == str(s - 3 if s > 3 else 0)
            assert hdrs["Nats-Msg-Id"] == f"id{s - 1}"
    wait_same_state(nodes, "ONCE", 60)
    await close_all(nc, *(c for c, _ in subs.values()))


async def test_republish_goes_on_through_a_leader_kill(nodes):
    nc, js = await republish_stream(nodes, "KILL")
    leader = wait_leader(nodes)
    survivors = [n for n in nodes if n is not leader]
    subs = await listeners(survivors, "rp.>")
    got = {n.name: {} for n in survivors}

    # Before: each copy exactly once.
    for i in range(30):
        await publish_until_acked(js, "kill.a", f"pre{i}".encode(), f"pre{i}")
    for n in survivors:
        await collect(subs[n.name][1], got[n.name], set(range(1, 31)))
    # The followers forget what they remembered once the leader's lease
    # probes show it lived on past the 250 ms window; no client can see
    # that, so give it a second (otherwise the last of these would rightly
    # be sent again at the takeover, and "exactly once" below would not
    # hold for them).
    await asyncio.sleep(1.0)

    # During: publishes in flight when the leader is killed, retried with
    # their ids until acknowledged.
    tasks = []
    for i in range(60):
        tasks.append(asyncio.ensure_future(
            publish_until_acked(js, "kill.b", f"mid{i}".encode(), f"mid{i}")))
        if i == 20:
            await asyncio.sleep(0.05)
            leader.kill9()
    mid = await asyncio.gather(*tasks)
    assert len({a.seq for a in mid}) == 60

    # After: a new leader serves and republishes what it stores.
    post = [await publish_until_acked(js, "kill.c", f"post{i}".encode(), f"post{i}")
            for i in range(30)]
    last = max(a.seq for a in post)
    wait_same_state(survivors, "KILL", last)

    for n in survivors:
        # Nothing stored is skipped ...
        await collect(subs[n.name][1], got[n.name], set(range(1, last + 1)))
        await quiet(subs[n.name][1], got[n.name], 0.5)
        counts = {s: len(v) for s, v in got[n.name].items()}
        assert set(counts) == set(range(1, last + 1)), n.name
        # ... the messages stored well before the kill came once, and the
        # ones the new leader stored after it took over come once ...
        assert all(counts[s] == 1 for s in range(1, 31)), (n.name, counts)
        assert all(counts[a.seq] == 1 for a in post), (n.name, counts)
        # ... and around the kill at most twice (at least once).
        assert max(counts.values()) <= 2, (n.name, counts)
        # Every copy carries its message, whoever sent it.
        for s, copies in got[n.name].items():
            assert len({(subj, h["Nats-Subject"], d) for subj, h, d in copies}) == 1, s
    doubled = sorted(s for s, v in got[survivors[0].name].items() if len(v) > 1)
    report(f"republish through a leader kill: {last} stored, {len(doubled)} republished "
           f"twice around the kill")
    await close_all(nc, *(c for c, _ in subs.values()))


async def test_racing_binds_from_different_nodes_one_wins(nodes):
    wait_leader(nodes)
    nc = await connect_all(nodes)
    js = nc.jetstream()
    await ready(js)
    await retry(lambda: js.add_stream(name="BIND", subjects=["bind.>"], num_replicas=3))
    for i in range(5):
        await publish_until_acked(js, "bind.x", f"{i}".encode(), f"b{i}")
    # Two clients on each node, each listening on its own deliver subject,
    # known everywhere before they race.
    clients = []
    for k in range(6):
        n = nodes[k % 3]
        c = await nats.connect(n.url, allow_reconnect=False, max_reconnect_attempts=0)
        sub = await c.subscribe(f"dlv.{k}")
        await c.flush()
        clients.append((n, c, sub))
    for k, (n, _, _) in enumerate(clients):
        for o in nodes:
            if o is not n:
                wait_interest(o, n, f"dlv.{k}")
    body = lambda k: json.dumps({"stream_name": "BIND", "config": {  # noqa: E731
        "durable_name": "D", "ack_policy": "explicit", "deliver_subject": f"dlv.{k}"}}).encode()
    replies = await asyncio.gather(*(
        c.request("$JS.API.CONSUMER.CREATE.BIND.D", body(k), timeout=5)
        for k, (_, c, _) in enumerate(clients)))
    results = [json.loads(r.data) for r in replies]
    won = [k for k, r in enumerate(results) if "error" not in r]
    assert len(won) == 1, results
    for k, r in enumerate(results):
        if k != won[0]:
            assert r["error"] == {"code": 400, "err_code": 10013,
                                  "description": "consumer name already in use"}, r
    info = await retry(lambda: js.consumer_info("BIND", "D"))
    assert info.config.deliver_subject == f"dlv.{won[0]}"
    winner = clients[won[0]][2]
    for _ in range(5):
        await winner.next_msg(timeout=5)
    await close_all(nc, *(c for _, c, _ in clients))


async def test_key_value_republish_on_the_cluster(nodes):
    wait_leader(nodes)
    nc = await connect_all(nodes)
    js = nc.jetstream()
    await ready(js)
    from nats.js.api import KeyValueConfig, RePublish
    kv = await retry(lambda: js.create_key_value(KeyValueConfig(
        bucket="rk", replicas=3, republish=RePublish(src="$KV.rk.>", dest="kvrp.>"))))
    subs = await listeners(nodes, "kvrp.>")
    revs = [await retry(lambda i=i: kv.put(f"k{i}", f"{i}".encode())) for i in range(10)]
    for name, (_, sub) in subs.items():
        got = {}
        await collect(sub, got, set(revs))
        await quiet(sub, got, 0.3)
        assert sorted(got) == sorted(revs), name
        assert all(len(v) == 1 for v in got.values()), name
        assert {v[0][0] for v in got.values()} == {f"kvrp.k{i}" for i in range(10)}
    await close_all(nc, *(c for c, _ in subs.values()))


async def test_a_restarted_member_does_not_republish_its_log_again(nodes):
    nc, js = await republish_stream(nodes, "REPLAY")
    for i in range(20):
        await publish_until_acked(js, "replay.a", f"{i}".encode(), f"r{i}")
    wait_same_state(nodes, "REPLAY", 20)
    await nc.close()
    # Every node killed and started again: each replays its log and the
    # new leader commits it anew; none of it is sent again.
    for n in nodes:
        n.kill9()
    for n in nodes:
        n.launch()
    for n in nodes:
        n.wait_ready()
    subs = await listeners(nodes, "rp.>")
    wait_leader(nodes)
    nc = await connect_all(nodes)
    js = nc.jetstream()
    await ready(js)
    wait_same_state(nodes, "REPLAY", 20)
    ack = await publish_until_acked(js, "replay.a", b"new", "r-new")
    assert ack.seq == 21
    for name, (_, sub) in subs.items():
        got = {}
        await collect(sub, got, {21})
        await quiet(sub, got, 0.5)
        assert {s: len(v) for s, v in got.items()} == {21: 1}, name
    await close_all(nc, *(c for c, _ in subs.values()))


async def test_sourced_copies_republished_once(nodes):
    """Copies a source stores are republished like the stream's own
    messages: once each, by the serving node, not by every replica."""
    nc, js = await republish_stream(nodes, "ORIG")  # ORIG republishes too: rp.orig.>
    r = await retry(lambda: nc.request(
        "$JS.API.STREAM.CREATE.AGG",
        json.dumps({"name": "AGG", "subjects": ["agg.>"], "num_replicas": 3,
                    "sources": [{"name": "ORIG"}],
                    "republish": {"src": ">", "dest": "agg-rp.>"}}).encode(),
        timeout=2))
    assert "error" not in json.loads(r.data), r.data
    subs = await listeners(nodes, "agg-rp.>")
    for i in range(20):
        await publish_until_acked(js, f"orig.k{i}", f"v{i}".encode(), f"src{i}")
    seqs = set(range(1, 21))
    for name, (_, sub) in subs.items():
        got = {}
        await collect(sub, got, seqs)
        await quiet(sub, got, 0.3)
        assert {s: len(v) for s, v in got.items()} == {s: 1 for s in seqs}, name
        for s, [(subject, hdrs, data)] in got.items():
            assert hdrs["Nats-Stream"] == "AGG" and subject == f"agg-rp.orig.k{s - 1}"
    await close_all(nc, *(c for c, _ in subs.values()))
