"""/metrics on a three-node JetStream cluster: the raft group as each node
sees it, the leader's view of its peers, routes, and which node reports
what (streams on every replica, consumers on the node that serves them).

Read with prometheus-client's parser, the one Prometheus's text format
tests use (tests/integration/test_41_metrics.py). Figures come from the
snapshot each node's JetStream loop refreshes every 250 ms, so every check
polls until the figures settle. Tern's own: nats-server has no /metrics.
"""

import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from conftest import REFERENCE, wait_for
from test_09_js_replicated import (connect_all, js_args, publish_until_acked, ready, retry,
                                   wait_leader, wait_same_state)

pytestmark = pytest.mark.skipif(REFERENCE, reason="Tern's own: nats-server has no /metrics")

STATES = ("follower", "candidate", "leader", "unavailable")


@pytest.fixture
def nodes(cluster):
    return cluster.start(3, args=js_args(cluster), topology="all", quiet=True)


def scrape(node):
    """{family: [(labels, value)]} of one GET /metrics on node."""
    url = f"http://127.0.0.1:{node.http_port}/metrics"
    with urllib.request.urlopen(url, timeout=5) as r:
        assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = r.read().decode()
    return {f.name: [(s.labels, s.value) for s in f.samples]
            for f in text_string_to_metric_families(text)}


def find(fams, name, **labels):
    return [v for lab, v in fams.get(name, []) if all(lab.get(k) == x for k, x in labels.items())]


def one(fams, name, **labels):
    hits = find(fams, name, **labels)
    assert len(hits) == 1, f"{name}{labels}: {fams.get(name)}"
    return hits[0]


def raft(node):
    """This node's raft figures: (state, term, commit, applied, last, leader,
    all families), or None before its raft group has started."""
    f = scrape(node)
    if "jetstream_raft_state" not in f:
        return None
    states = [lab["state"] for lab, v in f["jetstream_raft_state"] if v == 1]
    assert len(states) == 1 and states[0] in STATES, f["jetstream_raft_state"]
    assert [lab["state"] for lab, _ in f["jetstream_raft_state"]] == list(STATES)
    leader = [lab["leader"] for lab, _ in f["jetstream_raft_leader_info"]]
    return (states[0], one(f, "jetstream_raft_term"), one(f, "jetstream_raft_commit_index"),
            one(f, "jetstream_raft_applied_index"), one(f, "jetstream_raft_last_index"),
            leader[0], f)


def settled_group(nodes):
    """Wait until one node leads and every node agrees on it and the term;
    return {node name: raft(node)}."""
    def ok():
        figs = {n.name: raft(n) for n in nodes}
        if None in figs.values():
            return None
        leaders = [name for name, r in figs.items() if r[0] == "leader"]
        if len(leaders) != 1:
            return None
        if {r[0] for name, r in figs.items() if name != leaders[0]} != {"follower"}:
            return None
        if len({r[1] for r in figs.values()}) != 1 or {r[5] for r in figs.values()} != \
                {leaders[0]}:
            return None
        return figs

    return wait_for(ok, 20, 0.1, what=lambda: "one raft leader every node names: "
                    + str({n.name: (raft(n) or ())[:6] for n in nodes}))


async def test_raft_figures_on_three_nodes(nodes):
    leader_node = wait_leader(nodes)
    figs = settled_group(nodes)
    leader = next(n for n in nodes if figs[n.name][0] == "leader")
    assert leader.name == leader_node.name  # /jsz's meta leader is raft's
    for n in nodes:
        f = figs[n.name][6]
        assert one(f, "jetstream_raft_is_leader") == (1 if n is leader else 0)
        assert one(f, "jetstream_raft_cluster_size") == 3
        # the exporter's meta labels agree
        lab = f["jetstream_server_total_streams"][0][0]
        assert lab["meta_leader"] == leader.name and lab["cluster"] == "TERNC"
        assert lab["is_meta_leader"] == ("true" if n is leader else "false")

    # Publishes commit entries: every node's commit index moves past where
    # the leader's was, and each node applies up to it.
    before = figs[leader.name][2]
    nc = await connect_all(nodes)
    js = nc.jetstream()
    await ready(js)
    await retry(lambda: js.add_stream(name="M", subjects=["m.>"], num_replicas=3))
    for i in range(20):
        await publish_until_acked(js, "m.x", f"p{i}".encode(), f"id{i}")
    wait_same_state(nodes, "M", 20)

    def advanced():
        figs = settled_group(nodes)
        lead = figs[leader.name]
        if lead[0] != "leader":
            pytest.fail("leadership moved during the test")
        for name, (_, _, commit, applied, last, _, _) in figs.items():
            if not (before < commit == applied <= last):
                return None
        return figs
    figs = wait_for(advanced, 10, 0.1, what="commit and applied indexes past " + str(before))
    commit = figs[leader.name][2]
    assert commit > before  # (publishes are batched: fewer entries than messages)

    # The leader's view of each peer: caught up, active, heard from lately.
    def peers_caught_up():
        f = scrape(leader)
        last = one(f, "jetstream_raft_last_index")
        names = sorted(lab["peer"] for lab, _ in f.get("jetstream_raft_peer_match_index", []))
        if names != sorted(n.name for n in nodes if n is not leader):
            return None
        for p in names:
            if (one(f, "jetstream_raft_peer_match_index", peer=p) != last
                    or one(f, "jetstream_raft_peer_lag", peer=p) != 0
                    or one(f, "jetstream_raft_peer_active", peer=p) != 1
                    or one(f, "jetstream_raft_peer_current", peer=p) != 1):
                return None
        return f
    f = wait_for(peers_caught_up, 10, 0.1, what="peers caught up on the leader")
    for p in (n.name for n in nodes if n is not leader):
        # heartbeats go every 100 ms
        assert 0 <= one(f, "jetstream_raft_peer_last_contact_seconds", peer=p) < 2
    # Followers have no peers to report.
    for n in nodes:
        if n is not leader:
            assert "jetstream_raft_peer_match_index" not in scrape(n)
    await nc.close()


async def test_streams_everywhere_consumers_where_served(nodes):
    wait_leader(nodes)
    nc = await connect_all(nodes)
    js = nc.jetstream()
    await ready(js)
    await retry(lambda: js.add_stream(name="S", subjects=["s.>"], num_replicas=3))
    for i in range(5):
        await publish_until_acked(js, "s.x", b"x", f"s{i}")
    sub = await retry(lambda: js.pull_subscribe("s.>", durable="d", stream="S"))
    msgs = await sub.fetch(2, timeout=5)
    for m in msgs:
        await m.ack_sync()
    figs = settled_group(nodes)
    leader = next(n for n in nodes if figs[n.name][0] == "leader")

    def stream_everywhere():
        out = {}
        for n in nodes:
            f = scrape(n)
            if find(f, "jetstream_stream_total_messages", stream_name="S") != [5]:
                return None
            out[n.name] = f
        return out
    fams = wait_for(stream_everywhere, 10, 0.1, what="stream S on every node")
    for n in nodes:
        f = fams[n.name]
        assert one(f, "jetstream_stream_last_seq", stream_name="S") == 5
        assert one(f, "jetstream_stream_consumer_count", stream_name="S") == 1
        lab = [lab for lab, _ in f["jetstream_stream_total_messages"]][0]
        assert lab["stream_leader"] == leader.name
        assert lab["is_stream_leader"] == ("true" if n is leader else "false")

    def consumer_on_leader():
        f = scrape(leader)
        if find(f, "jetstream_consumer_ack_floor_stream_seq", consumer_name="d") != [2]:
            return None
        return f
    f = wait_for(consumer_on_leader, 10, 0.1, what="the consumer's acks on the leader")
    assert one(f, "jetstream_consumer_num_pending", consumer_name="d") == 3
    assert one(f, "jetstream_consumer_num_ack_pending", consumer_name="d") == 0
    # The live figures are the serving node's: the replicas report none,
    # so a sum over the cluster counts each consumer once.
    for n in nodes:
        if n is not leader:
            assert "jetstream_consumer_num_pending" not in scrape(n)
    await nc.close()


def test_routes(nodes):
    """Each node's routes to the other two, with /routez's counters."""
    for n in nodes:
        def agree():
            f = scrape(n)
            rz = n.routez()
            if one(f, "gnatsd_routez_num_routes") != rz["num_routes"] or rz["num_routes"] != 2:
                return None
            for r in rz["routes"]:
                lab = dict(remote_name=r["remote_name"], rid=str(r["rid"]))
                # counters move with raft and lease traffic: never below
                # what /routez showed a moment before
                if one(f, "gnatsd_routez_out_msgs", **lab) < r["out_msgs"] or \
                        one(f, "gnatsd_routez_in_msgs", **lab) < r["in_msgs"]:
                    return None
            return f
        f = wait_for(agree, 10, 0.1, what=f"{n.name}'s routes")
        assert sorted(lab["remote_name"] for lab, _ in f["gnatsd_routez_in_msgs"]) == \
            sorted(o.name for o in nodes if o is not n)
        assert one(f, "gnatsd_varz_routes") == 2
