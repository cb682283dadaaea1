"""03 queue groups: one delivery per group per message, spread over members.

spec/client-protocol.md §7.1, §8.2, §8.4; the nats-py guide's worker example.
"""

import collections

from conftest import async_wait_for, settle


async def test_guide_three_workers_share_tasks(server, nats_connect):
    # Three workers in group "workers" on "tasks"; 300 tasks published.
    # Every task is handled exactly once and each worker gets about a third.
    # The server picks a member at random: 60..140 is over 4.8 standard
    # deviations from 100 (binomial n=300, p=1/3), so this never flakes.
    handled = collections.defaultdict(list)
    workers = []
    for w in range(3):
        nc = await nats_connect(server, name=f"worker{w}")

        async def cb(msg, w=w):
            handled[w].append(int(msg.data))

        await nc.subscribe("tasks", queue="workers", cb=cb)
        await settle(nc)
        workers.append(nc)
    pub = await nats_connect(server)
    for i in range(300):
        await pub.publish("tasks", str(i).encode())
    await settle(pub)
    await async_wait_for(lambda: sum(map(len, handled.values())) >= 300,
                         timeout=10, what="300 tasks handled")
    everything = sorted(i for lst in handled.values() for i in lst)
    assert everything == list(range(300)), "each task exactly once"
    for w in range(3):
        assert 60 <= len(handled[w]) <= 140, {k: len(v) for k, v in handled.items()}


async def test_queue_group_and_plain_subscriber(server, nats_connect):
    nc = await nats_connect(server)
    plain, group = [], []

    async def on_plain(msg):
        plain.append(msg.data)

    async def on_group(msg):
        group.append(msg.data)

    await nc.subscribe("jobs", cb=on_plain)
    await nc.subscribe("jobs", queue="q", cb=on_group)
    await nc.subscribe("jobs", queue="q", cb=on_group)
    await settle(nc)
    for i in range(50):
        await nc.publish("jobs", str(i).encode())
    await async_wait_for(lambda: len(plain) == 50 and len(group) == 50)
    assert sorted(group, key=int) == sorted(plain, key=int)
    assert len(set(group)) == 50


async def test_two_groups_each_get_every_message(server, nats_connect):
    nc = await nats_connect(server)
    got = collections.defaultdict(list)
    for q in ("g1", "g2"):
        for _ in range(2):
            async def cb(msg, q=q):
                got[q].append(int(msg.data))
            await nc.subscribe("multi", queue=q, cb=cb)
    await settle(nc)
    for i in range(40):
        await nc.publish("multi", str(i).encode())
    await async_wait_for(lambda: len(got["g1"]) == 40 and len(got["g2"]) == 40)
    assert sorted(got["g1"]) == sorted(got["g2"]) == list(range(40))


def test_queue_sub_raw_format_and_single_delivery(server, raw):
    c = raw(server)
    c.handshake()
    c.send(b"SUB tasks workers 1\r\nSUB tasks workers 2\r\nSUB tasks 3\r\n")
    c.send(b"PUB tasks 2\r\nt1\r\n")
    a, b = c.read_msg(), c.read_msg()
    assert sorted([a["sid"], b["sid"]])[1] == "3", (a, b)
    assert {a["sid"], b["sid"]} & {"1", "2"}
    c.assert_open()  # exactly two copies: one plain, one for the group


def test_queue_names_are_not_validated_as_subjects(server, raw):
    c = raw(server)
    c.read_info()
    c.send(b'CONNECT {"verbose":true}\r\n')
    c.expect(b"+OK\r\n")
    for sid, q in enumerate((b"q.*", b"q*", b"*"), 1):
        c.send(b"SUB foo %s %d\r\n" % (q, sid))
        c.expect(b"+OK\r\n")
    c.send(b"PUB foo 1\r\nx\r\n")
    c.expect(b"+OK\r\n")
    sids = sorted(c.read_msg()["sid"] for _ in range(3))
    assert sids == ["1", "2", "3"]


async def test_queue_member_leaving_gets_nothing_more(server, nats_connect):
    a = await nats_connect(server)
    b = await nats_connect(server)
    got_a, got_b = [], []

    async def on_a(msg):
        got_a.append(msg.data)

    async def on_b(msg):
        got_b.append(msg.data)

    sub_a = await a.subscribe("lq", queue="w", cb=on_a)
    await b.subscribe("lq", queue="w", cb=on_b)
    await settle(a)
    await settle(b)
    await sub_a.unsubscribe()
    await settle(a)
    for i in range(30):
        await a.publish("lq", b"x")
    await async_wait_for(lambda: len(got_b) == 30)
    assert got_a == []
