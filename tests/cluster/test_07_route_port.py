"""Hostile or mistaken input on the route (cluster) port.

Each case is refused with the reference's exact -ERR (where it sends one),
the connection is closed, the node logs an error line naming the offending
connection, and the node keeps serving clients and its existing route.
Teardown fails the test if a node crashed.
"""

import pytest

from conftest import (CLUSTER_NAME, ROUTE_PASS, ROUTE_USER, Inbox, fake_info, mesh_state,
                      route_connect, settle, wait_interest, wait_mesh)


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
