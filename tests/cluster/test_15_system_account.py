"""The system account's requests across the cluster: routes carry
$SYS.REQ.SERVER.PING to every node, so one request collects one answer per
node, and $SYS.REQ.SERVER.<id>.<EP> reaches only the node it names, from
whichever node the requester is connected to.

Under TERN_REFERENCE=1 the same tests run against three nats-server nodes.
"""

import json

import nats.errors
import pytest

from conftest import Inbox, settle

CONF = """
accounts {
  SYS: { users: [{user: sys, password: sys}] }
  A: { users: [{user: a, password: a}] }
}
system_account: SYS
""".splitlines()


def start(cluster):
    # quiet=False: nats-server keeps its system account (ternd always does).
    return cluster.start(3, conf=[CONF] * 3, topology="all", quiet=False)


async def sys_client(client, node):
    return await client(node, user="sys", password="sys")


def answers(box):
    return [json.loads(m.data) for m in box.msgs]


async def test_ping_is_answered_once_by_every_node(cluster, client):
    nodes = start(cluster)
    nc = await sys_client(client, nodes[0])
    box = Inbox()
    inbox = nc.new_inbox()
    await nc.subscribe(inbox, cb=box.cb)
    await settle(nc)
    await nc.publish("$SYS.REQ.SERVER.PING", b"", reply=inbox)
    await box.wait_count(3)
    # Each node answers what it hears in order, and its answers come back
    # over one route in order: once every node has answered a second
    # request too, a second answer to the PING would be in.
    for n in nodes:
        await nc.publish(f"$SYS.REQ.SERVER.{n.server_id}.HEALTHZ", b"", reply=inbox)
    await box.wait_count(6)
    got = answers(box)
    pings = [r for r in got if "statsz" in r]
    assert sorted(r["server"]["id"] for r in pings) == sorted(n.server_id for n in nodes)
    assert len(got) == 6, got
    by_id = {n.server_id: n for n in nodes}
    for r in pings:
        node = by_id[r["server"]["id"]]
        assert r["server"]["name"] == node.name
        assert r["server"]["cluster"] == node.cluster_name
        st = r["statsz"]
        assert st["active_servers"] == 3
        assert sorted(rt["name"] for rt in st["routes"]) == \
            sorted(m.name for m in nodes if m is not node)
        assert st["start"] == node.varz()["start"]


async def test_ping_endpoints_from_every_node(cluster, client):
    nodes = start(cluster)
    nc = await sys_client(client, nodes[1])
    box = Inbox()
    inbox = nc.new_inbox()
    await nc.subscribe(inbox, cb=box.cb)
    await settle(nc)
    await nc.publish("$SYS.REQ.SERVER.PING.ROUTEZ", b"", reply=inbox)
    await box.wait_count(3)
    for r in answers(box):
        node = next(n for n in nodes if n.server_id == r["server"]["id"])
        data = r["data"]
        assert data["server_id"] == node.server_id
        assert data["num_routes"] == 2
        assert sorted(rt["remote_id"] for rt in data["routes"]) == \
            sorted(m.server_id for m in nodes if m is not node)


async def test_per_server_request_reaches_the_named_node(cluster, client):
    a, b, c = start(cluster)
    nc = await sys_client(client, a)
    for node in (c, b, a):
        msg = await nc.request(f"$SYS.REQ.SERVER.{node.server_id}.VARZ", b"", timeout=3)
        r = json.loads(msg.data)
        assert r["server"]["id"] == node.server_id
        assert r["server"]["name"] == node.name
        data = r["data"]
        http = node.varz()
        for k in ("server_id", "server_name", "port", "start", "cluster", "system_account"):
            assert data[k] == http[k], (node.name, k)
        assert data["routes"] == 2
        assert data["system_account"] == "SYS"
    # With options, from the node named, about its own clients only.
    msg = await nc.request(f"$SYS.REQ.SERVER.{c.server_id}.CONNZ",
                           json.dumps({"subscriptions": True}).encode(), timeout=3)
    data = json.loads(msg.data)["data"]
    assert data["server_id"] == c.server_id
    assert data["num_connections"] == 0


async def test_other_accounts_cannot_ping(cluster, client):
    a, b, c = start(cluster)
    nc = await client(a, user="a", password="a")
    for subject in ("$SYS.REQ.SERVER.PING", f"$SYS.REQ.SERVER.{c.server_id}.VARZ"):
        with pytest.raises(nats.errors.NoRespondersError):
            await nc.request(subject, b"", timeout=3)
