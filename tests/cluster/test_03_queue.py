"""Queue groups spanning the cluster."""

import asyncio
from collections import Counter

from conftest import Inbox, async_wait_for, settle, wait_interest

MEMBERS_PER_NODE = 2


async def start_members(client, nodes, subject, queue, handled, observers, reply=True):
    """MEMBERS_PER_NODE queue members on each of `nodes`, each on its own
    connection; `handled[member]` collects the payloads a member got.
    Returns once every node in `observers` lists the group from each of
    `nodes` in its /routez."""
    for node in nodes:
        for k in range(MEMBERS_PER_NODE):
            member = f"{node.name}{k}"
            handled[member] = []
            nc = await client(node)

            async def cb(msg, member=member):
                handled[member].append(msg.data)
                if reply:
                    await msg.respond(member.encode() + b":" + msg.data)

            await nc.subscribe(subject, queue=queue, cb=cb)
            await settle(nc)
    for node in observers:
        for origin in nodes:
            if origin is not node:
                wait_interest(node, origin, (subject, queue))


async def test_queue_requests_from_every_node(cluster, client):
    """3000 requests, 1000 from each node, to a group with members on all
    three nodes: every request is answered by exactly one member, and every
    member takes part."""
    nodes = cluster.start(3)
    handled = {}
    await start_members(client, nodes, "work.q", "workers", handled, nodes)

    async def requester(node, count):
        nc = await client(node)
        sem = asyncio.Semaphore(100)
        answers = {}

        async def one(i):
            body = f"{node.name}-{i}".encode()
            async with sem:
                resp = await nc.request("work.q", body, timeout=5)
            answers[body] = resp.data

        await asyncio.gather(*(one(i) for i in range(count)))
        return answers

    results = await asyncio.gather(*(requester(n, 1000) for n in nodes))
    answers = {}
    for r in results:
        answers.update(r)
    assert len(answers) == 3000
    for body, resp in answers.items():
        member, _, echoed = resp.partition(b":")
        assert echoed == body, (body, resp)
        assert body in handled[member.decode()]

    seen = Counter(p for got in handled.values() for p in got)
    assert sum(seen.values()) == 3000, "some request was handled more than once"
    assert max(seen.values()) == 1
    assert set(seen) == set(answers)
    unused = [m for m, got in handled.items() if not got]
    assert not unused, f"members never used: {unused}; counts " \
        f"{ {m: len(g) for m, g in handled.items()} }"


async def test_queue_publish_without_reply(cluster, client):
    """Plain publishes to a group on A and B, plus a plain subscriber on B:
    the group gets each message once, the plain subscriber every message."""
    a, b, c = cluster.start(3)
    handled = {}
    await start_members(client, [a, b], "jobs.x", "g", handled, [c], reply=False)
    plain = Inbox()
    watcher = await client(b)
    await watcher.subscribe("jobs.x", cb=plain.cb)
    await settle(watcher)
    wait_interest(c, b, "jobs.x")

    pub = await client(c)
    n = 300
    for i in range(n):
        await pub.publish("jobs.x", b"%d" % i)
    await settle(pub)
    await plain.wait_count(n)
    assert plain.payloads() == [b"%d" % i for i in range(n)]

    async def all_handled():
        return sum(len(g) for g in handled.values()) >= n
    await async_wait_for(all_handled, what=lambda: f"{n} queue deliveries, have "
                         f"{ {m: len(g) for m, g in handled.items()} }")
    seen = Counter(p for got in handled.values() for p in got)
    assert sorted(seen) == sorted(b"%d" % i for i in range(n))
    assert max(seen.values()) == 1, "a message reached two members of one group"
    assert all(handled[m] for m in handled), handled.keys()


async def test_two_groups_one_subject(cluster, client):
    """Two groups on the same subject, members on different nodes: every
    message reaches exactly one member of each group."""
    a, b, c = cluster.start(3)
    g1, g2 = {}, {}
    await start_members(client, [a, b], "multi.q", "one", g1, [a], reply=False)
    await start_members(client, [b, c], "multi.q", "two", g2, [a], reply=False)
    pub = await client(a)
    n = 200
    for i in range(n):
        await pub.publish("multi.q", b"%d" % i)
    await settle(pub)
    await async_wait_for(lambda: sum(map(len, g1.values())) >= n
                         and sum(map(len, g2.values())) >= n,
                         what="every message delivered to both groups")
    for group in (g1, g2):
        seen = Counter(p for got in group.values() for p in got)
        assert len(seen) == n and max(seen.values()) == 1
