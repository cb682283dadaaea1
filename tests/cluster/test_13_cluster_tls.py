"""Cluster TLS: cluster { tls {} } on routes (and the raft connections that
share the cluster port).

Certificates are made here with the `openssl` command: one CA, a
certificate per node (IP SAN 127.0.0.1, usable as TLS server and client,
since a node both accepts and dials routes), and one from another CA.
What is checked: the mesh forms and messages cross it; the cluster port
speaks TLS first (a plain route or a plain RAFT preamble gets nothing and
is closed, the route INFO arrives only inside TLS and says
tls_required/tls_verify); a node whose certificate another CA signed
cannot join, and the refusal is logged; a Tern node and nats-server 2.9
form TLS routes both ways; R3 JetStream works over it and survives the
raft leader's kill -9.
"""

import signal
import socket
import ssl
import subprocess
import time

import pytest

from conftest import (NATS_KIND, REFERENCE, TERND_KIND, Inbox, RawConn, publish_numbered,
                      report, settle, wait_for, wait_interest, wait_mesh)
from test_09_js_replicated import (js_args, leader_name, publish_until_acked, read_all,
                                   stream_on, wait_leader, wait_same_state)


def _openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def _make_ca(d, name):
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
             "-keyout", f"{name}.key", "-out", f"{name}.pem", "-subj", f"/CN={name}", cwd=d)


def _make_cert(d, name, ca, serial, san="IP:127.0.0.1,DNS:localhost"):
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key",
             "-out", f"{name}.csr", "-subj", f"/CN={name}", cwd=d)
    (d / f"{name}.ext").write_text(
        f"subjectAltName={san}\n"
        "extendedKeyUsage=serverAuth,clientAuth\n")
    _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key",
             "-set_serial", str(serial), "-days", "2", "-out", f"{name}.pem",
             "-extfile", f"{name}.ext", cwd=d)


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    d = tmp_path_factory.mktemp("clustercerts")
    _make_ca(d, "ca")
    _make_ca(d, "otherca")
    for i, name in enumerate("ABCDE"):
        _make_cert(d, name, "ca", 0x100 + i)
    _make_cert(d, "rogue", "otherca", 0x999)
    _make_cert(d, "elsewhere", "ca", 0x998, san="DNS:elsewhere.test")
    return d


def tls_lines(certs, cert=None, verify=True):
    def lines(node):
        name = cert or node.name
        return [f'cert_file: "{certs / (name + ".pem")}"',
                f'key_file: "{certs / (name + ".key")}"',
                f'ca_file: "{certs / "ca.pem"}"',
                f"verify: {'true' if verify else 'false'}",
                "timeout: 2"]
    return lines


def client_ctx(certs, cert="A"):
    ctx = ssl.create_default_context(cafile=str(certs / "ca.pem"))
    ctx.check_hostname = False
    if cert:
        ctx.load_cert_chain(str(certs / f"{cert}.pem"), str(certs / f"{cert}.key"))
    return ctx


@pytest.fixture
def tls_nodes(cluster, certs):
    return cluster.start(3, cluster_tls=tls_lines(certs))


async def test_mesh_forms_and_messages_cross_it(tls_nodes, client):
    a, b, c = tls_nodes
    box_a, box_b = Inbox(), Inbox()
    sub = await client(c)
    await sub.subscribe("tls.a", cb=box_a.cb)
    await sub.subscribe("tls.b", cb=box_b.cb)
    await settle(sub)
    wait_interest(a, c, "tls.a")
    wait_interest(b, c, "tls.b")
    pa, pb = await client(a), await client(b)
    await publish_numbered(pa, "tls.a", box_a, 50)
    await publish_numbered(pb, "tls.b", box_b, 50)
    # Request/reply across the mesh, the reply back over another route.
    async def answer(msg):
        await msg.respond(b"re:" + msg.data)
    responder = await client(b)
    await responder.subscribe("svc", cb=answer)
    await settle(responder)
    wait_interest(a, b, "svc")
    reply = await pa.request("svc", b"ping", timeout=5)
    assert reply.data == b"re:ping"


def test_cluster_port_speaks_tls_first(tls_nodes, certs):
    a = tls_nodes[0]
    vc = a.varz()["cluster"]
    assert vc["tls_required"] is True and vc["tls_verify"] is True and vc["tls_timeout"] == 2
    # Plain text: no INFO, the connection is closed, the node says why.
    plain = RawConn(a.cluster_port)
    plain.send(b'CONNECT {"echo":true}\r\n')
    assert plain.read_until_closed() == b""
    plain.close()
    raft = RawConn(a.cluster_port)
    raft.send(b"RAFT 1 Z\r\n")
    assert raft.read_until_closed() == b""
    raft.close()
    a.wait_for_log(r"TLS route handshake error: tls: first record does not look like a "
                   r"TLS handshake")
    # Inside TLS, with a certificate of the CA: the route INFO, saying TLS.
    with socket.create_connection(("127.0.0.1", a.cluster_port), timeout=5) as s:
        with client_ctx(certs, "D").wrap_socket(s) as t:
            line = b""
            while not line.endswith(b"\r\n"):
                line += t.recv(1)
            assert line.startswith(b"INFO ")
            info = __import__("json").loads(line[5:])
            assert info["tls_required"] is True and info["tls_verify"] is True


def test_dialler_speaks_tls_first(cluster, certs):
    # A route URL pointing at a listener of the test's: the node's first
    # bytes are a TLS handshake record (0x16, version 3.x), nothing in
    # plaintext, and it does not wait for an INFO.
    lst = socket.socket()
    lst.bind(("127.0.0.1", 0))
    lst.listen(4)
    node = cluster.new_node("A")
    node.routes = [f"nats-route://127.0.0.1:{lst.getsockname()[1]}"]
    node.cluster_tls = tls_lines(certs)(node)
    node.start()
    lst.settimeout(5)
    conn, _ = lst.accept()
    conn.settimeout(5)
    first = b""
    while len(first) < 3:
        chunk = conn.recv(3 - len(first))
        assert chunk, "closed before a TLS record"
        first += chunk
    assert first[0] == 0x16 and first[1] == 3, first
    conn.close()
    lst.close()


def test_peer_without_a_certificate_is_refused(cluster, certs):
    # verify: false changes nothing on routes: the peer is always verified.
    a = cluster.start(1, cluster_tls=tls_lines(certs, verify=False))[0]
    with socket.create_connection(("127.0.0.1", a.cluster_port), timeout=5) as s:
        with pytest.raises((ssl.SSLError, ConnectionError, OSError)):
            with client_ctx(certs, None).wrap_socket(s) as t:
                t.recv(100)  # TLS 1.3: the refusal arrives after the handshake
                t.recv(100)
    a.wait_for_log(r"TLS route handshake error: .*(certificate|cert)")


def test_node_signed_by_another_ca_cannot_join(cluster, certs):
    a, b = cluster.start(2, cluster_tls=tls_lines(certs))
    rogue = cluster.new_node("R")
    rogue.routes = [a.route_url(), b.route_url()]
    rogue.cluster_tls = tls_lines(certs, cert="rogue")(rogue)
    rogue.start()
    # A and B do not trust R's certificate; R (TLS 1.3: its side of the
    # handshake ends first) sees the connection closed before any INFO.
    a.wait_for_log(r"TLS route handshake error: .*(certificate verify failed|failed to verify|didn't provide a certificate)")
    b.wait_for_log(r"TLS route handshake error: .*(certificate verify failed|failed to verify|didn't provide a certificate)")
    rogue.wait_for_log(r"Route(r)? connection closed")
    assert a.varz()["routes"] == 1 and b.varz()["routes"] == 1
    assert rogue.varz()["routes"] == 0
    wait_mesh([a, b])


def test_dialler_checks_the_route_url_host(cluster, certs):
    # A's certificate is from the cluster CA but names another host than
    # the 127.0.0.1 that B dials: B refuses it, as nats-server's dialler does.
    a = cluster.new_node("A")
    a.cluster_tls = tls_lines(certs, cert="elsewhere")(a)
    a.start()
    b = cluster.new_node("B")
    b.routes = [a.route_url()]
    b.cluster_tls = tls_lines(certs)(b)
    b.start()
    b.wait_for_log(r"TLS route handshake error: .*(IP address mismatch|doesn't contain any "
                   r"IP SANs|not valid for)")
    assert a.varz()["routes"] == 0 and b.varz()["routes"] == 0


def test_sighup_keeps_the_block_or_refuses_a_change(cluster, certs):
    # Tern only: nats-server reloads cluster TLS (and here refuses the
    # reload anyway, over the -n flag); Tern reads the block at start.
    a = cluster.start(1, cluster_tls=tls_lines(certs))[0]
    cfg = cluster.workdir / "A.conf"
    a.proc.send_signal(signal.SIGHUP)
    if not REFERENCE:
        a.wait_for_log(r"Reloaded server configuration")
    cfg.write_text(cfg.read_text().replace("timeout: 2", "timeout: 3"))
    a.proc.send_signal(signal.SIGHUP)
    if not REFERENCE:
        a.wait_for_log(r"Failed to reload server configuration: config reload not "
                       r"supported for cluster TLS")
    a.check_alive()


def test_plain_node_cannot_join_a_tls_cluster(cluster, certs):
    a, b = cluster.start(2, cluster_tls=tls_lines(certs))
    plain = cluster.new_node("P")
    plain.cluster_tls = None
    plain.routes = [a.route_url()]
    plain.start()
    a.wait_for_log(r"TLS route handshake error")
    assert plain.varz()["routes"] == 0 and a.varz()["routes"] == 1


@pytest.mark.parametrize("kinds", [[NATS_KIND, TERND_KIND], [TERND_KIND, NATS_KIND]],
                         ids=["tern-dials-nats", "nats-dials-tern"])
async def test_mixed_tls_routes(cluster, certs, client, kinds):
    if REFERENCE:
        kinds = [NATS_KIND, NATS_KIND]
    # The second node dials the first (topology "earlier").
    first, second = cluster.start(2, kinds=kinds, cluster_tls=tls_lines(certs))
    box = Inbox()
    sub = await client(first)
    await sub.subscribe("mix.>", cb=box.cb)
    await settle(sub)
    wait_interest(second, first, "mix.>")
    await publish_numbered(await client(second), "mix.x", box, 20)
    box2 = Inbox()
    sub2 = await client(second)
    await sub2.subscribe("back.>", cb=box2.cb)
    await settle(sub2)
    wait_interest(first, second, "back.>")
    await publish_numbered(await client(first), "back.x", box2, 20)


# --------------------------------------------------------------------------
# JetStream: raft's connections share the cluster port, so they are TLS too
# --------------------------------------------------------------------------

@pytest.fixture
def js_tls_nodes(cluster, certs):
    return cluster.start(3, args=js_args(cluster), topology="all", quiet=not REFERENCE,
                         cluster_tls=tls_lines(certs))


async def test_r3_jetstream_over_tls_survives_leader_kill(js_tls_nodes):
    nodes = js_tls_nodes
    nc, js = await stream_on(nodes, "T", "t.>")
    acks = [await publish_until_acked(js, "t.x", f"m{i}".encode(), f"id{i}")
            for i in range(30)]
    assert [a.seq for a in acks] == list(range(1, 31))
    wait_same_state(nodes, "T", 30)
    leader = wait_leader(nodes)
    t_kill = leader.kill9()
    first = await publish_until_acked(js, "t.x", b"m30", "id30")
    failover = time.monotonic() - t_kill
    more = [first] + [await publish_until_acked(js, "t.x", f"m{i}".encode(), f"id{i}")
                      for i in range(31, 60)]
    report(f"cluster TLS: raft leader kill -9 -> first PubAck from the new leader after "
           f"{failover:.2f} s")
    assert sorted(a.seq for a in more) == list(range(31, 61))
    live = [n for n in nodes if n is not leader]
    wait_for(lambda: {leader_name(n) for n in live} - {None, "", leader.name} and
             len({leader_name(n) for n in live}) == 1,
             what=lambda: "a new leader: " + str({n.name: leader_name(n) for n in live}))
    leader.start()
    wait_same_state(nodes, "T", 60, timeout=30)
    msgs = await read_all(js, "T", 60)
    assert [m[1] for m in msgs] == [f"m{i}".encode() for i in range(60)]
    await nc.close()
    if not REFERENCE:
        # Raft's own connections went through the pump, in both directions.
        for n in nodes:
            assert "Raft connection" not in "".join(
                ln for ln in n.log_text().splitlines(True) if "TLS handshake error" in ln)


def test_plain_raft_preamble_is_refused_by_a_tls_node(js_tls_nodes):
    a = js_tls_nodes[0]
    wait_leader(js_tls_nodes)
    conn = RawConn(a.cluster_port)
    conn.send(b"RAFT 12345 intruder\r\n")
    assert conn.read_until_closed() == b""
    conn.close()
    a.wait_for_log(r"TLS route handshake error: tls: first record does not look like a "
                   r"TLS handshake")
    a.check_alive()
