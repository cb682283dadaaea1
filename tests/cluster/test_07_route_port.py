"""Hostile or mistaken input on the route (cluster) port.

Each case is refused with the reference's exact -ERR (where it sends one),
the connection is closed, the node logs an error line naming the offending
connection, and the node keeps serving clients and its existing route.
Teardown fails the test if a node crashed.
"""

import time

import pytest

from conftest import (CLUSTER_NAME, REFERENCE, ROUTE_PASS, ROUTE_USER, Inbox, fake_info,
                      mesh_state, route_connect, settle, wait_interest, wait_mesh)


def assert_logged(node, conn):
    """The node logged an error line naming this connection's address."""
    node.wait_for_log(r"\[ERR\][^\n]*127\.0\.0\.1:%d\b" % conn.local_port)


async def assert_still_serving(a, b, client, subject):
    """A new client on A gets messages published on B, over the route."""
    nc = await client(a)
    box = Inbox()
    await nc.subscribe(subject, cb=box.cb)
    await settle(nc)
    wait_interest(b, a, subject)
    pub = await client(b)
    await pub.publish(subject, b"still here")
    await settle(pub)
    await box.wait_count(1)
    a.check_alive()
    wait_mesh([a, b])


def open_route_port(raw, node):
    conn = raw(node.cluster_port)
    info = conn.read_info()
    assert info["server_id"] == node.server_id
    assert info["cluster"] == CLUSTER_NAME
    assert info["port"] == node.cluster_port
    return conn, info


GARBAGE = [
    b"\x00\xff\xfe\x80garbage\r\n",
    b"HELLO world\r\n",
    b"\xde\xad\xbe\xef" * 256 + b"\r\n",
]


@pytest.mark.parametrize("junk", GARBAGE, ids=["binary", "word", "long-binary"])
async def test_garbage_is_refused(cluster, client, raw, junk):
    a, b = cluster.start(2)
    conn, _ = open_route_port(raw, a)
    conn.send(junk)
    data = conn.read_until_closed()
    assert data == b"-ERR 'Unknown Protocol Operation'\r\n"
    assert_logged(a, conn)
    assert a.routez()["num_routes"] == 1, mesh_state([a, b])
    await assert_still_serving(a, b, client, "after.garbage")


async def test_bad_message_size_closes(cluster, client, raw):
    a, b = cluster.start(2)
    conn, _ = open_route_port(raw, a)
    conn.send(b"RMSG $G foo notanumber\r\n")
    conn.read_until_closed()  # closed; the reference sends no -ERR here
    assert_logged(a, conn)
    await assert_still_serving(a, b, client, "after.badsize")


async def test_wrong_cluster_name_is_refused(cluster, client, raw):
    a, b = cluster.start(2)
    conn, _ = open_route_port(raw, a)
    conn.send(route_connect(cluster="WRONG") + fake_info(cluster_name="WRONG"))
    data = conn.read_until_closed()
    assert data == (b"-ERR 'Rejecting connection, cluster name \"WRONG\" does not match \"%s\"'\r\n"
                    % CLUSTER_NAME.encode())
    assert_logged(a, conn)
    assert a.routez()["num_routes"] == 1
    await assert_still_serving(a, b, client, "after.cluster")


async def test_node_with_wrong_cluster_name_never_joins(cluster, client):
    """A real node named into another cluster keeps dialling A and is
    refused each time; it never becomes a route on either side."""
    a, b = cluster.start(2)
    d = cluster.new_node("D")
    d.cluster_name = "OTHER"
    d.routes = [a.route_url()]
    d.start()
    # A names the rejected cluster in its log (the reference logs the -ERR
    # text); two refusals prove D kept trying and was refused again.
    a.wait_for_log(r'(?s)\[ERR\][^\n]*"OTHER".*\[ERR\][^\n]*"OTHER"', timeout=10)
    assert a.routez()["num_routes"] == 1, mesh_state([a, b, d])
    assert d.routez()["num_routes"] == 0
    wait_mesh([a, b])
    await assert_still_serving(a, b, client, "after.othercluster")


async def test_client_on_route_port(cluster, client, raw):
    a, b = cluster.start(2)
    conn, _ = open_route_port(raw, a)
    conn.send(b'CONNECT {"verbose":false,"pedantic":false,"lang":"python3",'
              b'"version":"2.16.0","protocol":1}\r\nPING\r\n')
    data = conn.read_until_closed()
    assert data == b"-ERR 'attempted to connect to route port'\r\n"
    assert_logged(a, conn)

    # nats-py pointed at the route port gets the same error and gives up.
    import nats
    errors = []

    async def on_error(e):
        errors.append(e)

    with pytest.raises(nats.errors.Error, match="attempted to connect to route port"):
        await nats.connect(f"nats://127.0.0.1:{a.cluster_port}", allow_reconnect=False,
                           max_reconnect_attempts=0, connect_timeout=2, error_cb=on_error)
    assert a.routez()["num_routes"] == 1
    await assert_still_serving(a, b, client, "after.client")


async def test_route_credentials(cluster, client, raw):
    """Cluster authorization: nodes with the right credentials form the
    mesh; a route CONNECT with wrong or no credentials is refused."""
    # Positive control: the mesh forms through authenticated routes
    # (start() waits for it; messaging over it is checked at the end).
    a, b = cluster.start(2, route_auth=(ROUTE_USER, ROUTE_PASS))

    cases = [
        route_connect(user=ROUTE_USER, **{"pass": "wrong"}),
        route_connect(user="nobody", **{"pass": ROUTE_PASS}),
        route_connect(),
    ]
    for connect in cases:
        conn, info = open_route_port(raw, a)
        assert info.get("auth_required") is True, info
        conn.send(connect + fake_info())
        data = conn.read_until_closed()
        assert data == b"-ERR 'Authorization Violation'\r\n", connect
        assert_logged(a, conn)
        assert a.routez()["num_routes"] == 1
    await assert_still_serving(a, b, client, "auth.after")


async def test_node_with_wrong_credentials_never_joins(cluster, client):
    a, b = cluster.start(2, route_auth=(ROUTE_USER, ROUTE_PASS))
    d = cluster.new_node("D")
    d.route_auth = (ROUTE_USER, ROUTE_PASS)
    d.routes = [a.route_url((ROUTE_USER, "wrong"))]
    d.start()
    # D logs the -ERR A answered with, twice (D redials every second).
    d.wait_for_log(r"(?s)Authorization Violation.*Authorization Violation", timeout=10)
    assert a.routez()["num_routes"] == 1, mesh_state([a, b, d])
    assert d.routez()["num_routes"] == 0
    await assert_still_serving(a, b, client, "auth.otherdial")


# ---- raft connections on the cluster port (cluster/route_raft.c) ----
#
# A Tern node takes a connection whose first line is "RAFT <id> <name>" for
# its raft transport instead of a route. With no raft running (JetStream
# clustering off) it closes it without a word; a route is never affected.


@pytest.mark.skipif(REFERENCE, reason="tern-only: raft connections on the cluster port")
async def test_raft_preamble_without_raft_is_closed(cluster, client, raw):
    a, b = cluster.start(2)
    conn, info = open_route_port(raw, a)
    assert info["tern_raft"] == 0  # a Tern node, raft off
    conn.send(b"RAFT 7 B\r\n")
    assert conn.read_until_closed() == b""
    assert a.routez()["num_routes"] == 1, mesh_state([a, b])
    await assert_still_serving(a, b, client, "after.raft")


@pytest.mark.skipif(REFERENCE, reason="tern-only: raft connections on the cluster port")
async def test_raft_preamble_in_pieces_and_with_trailing_data(cluster, client, raw):
    a, b = cluster.start(2)
    # Cut inside the prefix and inside the line: held until the CRLF.
    conn, _ = open_route_port(raw, a)
    for piece in (b"RA", b"FT 7", b" B\r\n"):
        conn.send(piece)
        time.sleep(0.05)  # separate reads on the node, most likely
    assert conn.read_until_closed() == b""
    # The dialler waits for RAFTOK, so bytes after the preamble break the
    # protocol: closed and logged.
    conn, _ = open_route_port(raw, a)
    conn.send(b"RAFT 7 B\r\nPING\r\n")
    assert conn.read_until_closed() == b""
    assert_logged(a, conn)
    # An over-long preamble line is refused before its end arrives.
    conn, _ = open_route_port(raw, a)
    conn.send(b"RAFT 7 " + b"x" * 600)
    assert conn.read_until_closed() == b""
    assert_logged(a, conn)
    assert a.routez()["num_routes"] == 1, mesh_state([a, b])
    await assert_still_serving(a, b, client, "after.raft.pieces")


async def test_route_verb_starting_like_raft_is_a_route_error(cluster, client, raw):
    """Bytes held as a possible RAFT prefix go to the route parser once
    they differ: the same -ERR as any unknown verb (as nats-server)."""
    a, b = cluster.start(2)
    conn, _ = open_route_port(raw, a)
    conn.send(b"RAF")
    time.sleep(0.05)  # "RAF" held on its own, most likely
    conn.send(b"X 1 2\r\n")
    assert conn.read_until_closed() == b"-ERR 'Unknown Protocol Operation'\r\n"
    assert_logged(a, conn)
    assert a.routez()["num_routes"] == 1, mesh_state([a, b])
    await assert_still_serving(a, b, client, "after.raf")
