"""18 TLS: client connections over TLS (spec/server-cli-config.md §1.5, §3.6).

As nats-server 2.9: the server sends INFO in plaintext (with tls_required,
and tls_verify when client certificates are required), then expects the
client's ClientHello; a plaintext CONNECT is a failed handshake, closed
without a word. Certificates are made here with the `openssl` command: a
CA, a server certificate for 127.0.0.1/localhost, client certificates, and
a second CA whose certificates must be refused.

Monitoring over HTTPS (`https_port`, `-ms`) uses the same certificate,
as nats-server's does.

Version differences with nats-server 2.9.10 are marked: `min_version` is a
2.10 key (2.9 refuses it), and Tern refuses what it cannot serve (cluster
tls's insecure, pinned_certs) where nats-server serves it. Routes over TLS
are tested in tests/cluster/test_13_cluster_tls.py.
"""

import asyncio
import http.client
import json
import signal
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request

import nats
import pytest

from conftest import REFERENCE, RawClient, free_port, run_binary, settle, wait_for

tern_only = pytest.mark.skipif(
    REFERENCE, reason="Tern refuses or adds this; nats-server 2.9 behaves differently")


# ---------------------------------------------------------------- certificates

def _openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def _make_ca(d, name):
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
             "-keyout", f"{name}.key", "-out", f"{name}.pem", "-subj", f"/CN={name}", cwd=d)


def _make_cert(d, name, ca, subj, serial, ext=None):
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key",
             "-out", f"{name}.csr", "-subj", subj, cwd=d)
    args = ["x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key",
            "-set_serial", str(serial), "-days", "2", "-out", f"{name}.pem"]
    if ext:
        (d / f"{name}.ext").write_text(ext + "\n")
        args += ["-extfile", f"{name}.ext"]
    _openssl(*args, cwd=d)


SERVER_SERIAL = 0x1001
SERVER2_SERIAL = 0x2002


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    d = tmp_path_factory.mktemp("certs")
    _make_ca(d, "ca")
    _make_ca(d, "otherca")
    san = "subjectAltName=IP:127.0.0.1,DNS:localhost"
    _make_cert(d, "server", "ca", "/CN=localhost", SERVER_SERIAL, san)
    _make_cert(d, "server2", "ca", "/CN=localhost", SERVER2_SERIAL, san)
    _make_cert(d, "bob", "ca", "/O=Tern/OU=ops/CN=bob", 0x3003)
    _make_cert(d, "alice", "ca", "/O=Tern/CN=alice", 0x4004,
               "subjectAltName=email:alice@tern.test")
    _make_cert(d, "carol", "ca", "/O=Tern/CN=carol", 0x5005)
    _make_cert(d, "mallory", "otherca", "/O=Tern/OU=ops/CN=bob", 0x6006)
    return d


def tls_block(certs, extra="", cert="server"):
    return (f"tls {{\n  cert_file: \"{certs}/{cert}.pem\"\n  key_file: \"{certs}/{cert}.key\"\n"
            f"  ca_file: \"{certs}/ca.pem\"\n{extra}}}\n")


def client_ctx(certs, cert=None, max_version=None):
    ctx = ssl.create_default_context(cafile=str(certs / "ca.pem"))
    if cert:
        ctx.load_cert_chain(str(certs / f"{cert}.pem"), str(certs / f"{cert}.key"))
    if max_version:
        ctx.maximum_version = max_version
    return ctx


def start_tls(server_factory, certs, extra="", top="", cert="server"):
    port = free_port()
    cfg = f"host: 127.0.0.1\nport: {port}\n{top}" + tls_block(certs, extra, cert)
    return server_factory.start(config=cfg, port=port, addr_args=False)


class TlsClient(RawClient):
    """RawClient that reads the plaintext INFO, then upgrades to TLS."""

    def __init__(self, port, ctx, **kw):
        super().__init__(port, **kw)
        self.info = self.read_info()
        self.sock = ctx.wrap_socket(self.sock, server_hostname="127.0.0.1")

    def _fill(self, deadline):
        try:
            super()._fill(deadline)
        except ssl.SSLError as e:
            # TLS 1.3: the server judges the client certificate after the
            # client's side of the handshake is done; the refusal (an
            # alert) arrives on the first read.
            self.eof = True
            raise ConnectionRefusedByTls(str(e))


class ConnectionRefusedByTls(Exception):
    pass


def tls_session_works(port, ctx, connect=None):
    """True when a TLS client gets through the handshake and a PING/PONG."""
    try:
        c = TlsClient(port, ctx)
    except (ssl.SSLError, ConnectionError):
        return False
    try:
        c.connect(**(connect or {}))
        c.send(b"PING\r\n")
        line = c.read_line()
        return line == b"PONG\r\n"
    except (ConnectionRefusedByTls, ConnectionError, ssl.SSLError, OSError):
        return False
    except Exception as e:  # Closed: EOF without a PONG
        if type(e).__name__ == "Closed":
            return False
        raise
    finally:
        c.close()


# ---------------------------------------------------------------- the handshake

def test_info_in_plaintext_then_tls(server_factory, certs):
    srv = start_tls(server_factory, certs)
    c = TlsClient(srv.port, client_ctx(certs))
    assert c.info["tls_required"] is True
    assert "tls_verify" not in c.info
    c.connect()
    c.send(b"PING\r\n")
    c.expect(b"PONG\r\n")
    # The session is real: the server's certificate is the one configured.
    assert int(c.sock.getpeercert()["serialNumber"], 16) == SERVER_SERIAL
    c.close()


def test_plaintext_connect_is_refused(server_factory, certs):
    srv = start_tls(server_factory, certs)
    c = RawClient(srv.port)
    assert c.read_info()["tls_required"] is True
    c.send(b'CONNECT {"verbose":false}\r\nPING\r\n')
    # nats-server closes without answering: the bytes were not a ClientHello.
    assert c.read_until_closed() == b""
    srv.wait_for_log(r"TLS handshake error: tls: first record does not look like a TLS "
                     r"handshake")
    assert tls_session_works(srv.port, client_ctx(certs))


async def test_nats_py_pub_sub_and_request_over_tls(server_factory, certs):
    srv = start_tls(server_factory, certs)
    url = f"tls://127.0.0.1:{srv.port}"
    sub_nc = await nats.connect(url, tls=client_ctx(certs))
    pub_nc = await nats.connect(url, tls=client_ctx(certs))
    try:
        sub = await sub_nc.subscribe("tls.>")

        async def answer(msg):
            await msg.respond(b"re:" + msg.data)
        await sub_nc.subscribe("svc", cb=answer)
        await settle(sub_nc)   # not flush(): see conftest.settle
        # Sizes around the 16 KiB record size and a large one.
        payloads = [b"x" * n for n in (0, 1, 128, 16383, 16384, 16385, 500_000)]
        for i, p in enumerate(payloads):
            await pub_nc.publish(f"tls.{i}", p)
        for i, p in enumerate(payloads):
            m = await sub.next_msg(timeout=5)
            assert m.subject == f"tls.{i}" and m.data == p
        for i in range(200):
            await pub_nc.publish("tls.many", str(i).encode())
        for i in range(200):
            assert (await sub.next_msg(timeout=5)).data == str(i).encode()
        r = await pub_nc.request("svc", b"ping", timeout=5)
        assert r.data == b"re:ping"
    finally:
        await pub_nc.close()
        await sub_nc.close()


async def test_plain_nats_py_client_cannot_connect(server_factory, certs):
    srv = start_tls(server_factory, certs)
    errors = []

    async def on_err(e):
        errors.append(e)
    # Without a context that trusts our CA the client's own check fails.
    with pytest.raises(Exception):
        await nats.connect(f"nats://127.0.0.1:{srv.port}", allow_reconnect=False,
                           max_reconnect_attempts=0, connect_timeout=2, error_cb=on_err)


# ---------------------------------------------------------------- client certificates

def test_verify_requires_a_client_certificate(server_factory, certs):
    srv = start_tls(server_factory, certs, extra="  verify: true\n")
    info = TlsClient(srv.port, client_ctx(certs, "bob")).info
    assert info["tls_required"] is True and info["tls_verify"] is True
    assert tls_session_works(srv.port, client_ctx(certs, "bob"))
    assert not tls_session_works(srv.port, client_ctx(certs))
    srv.wait_for_log(r"TLS handshake error")


def test_verify_refuses_a_certificate_from_another_ca(server_factory, certs):
    srv = start_tls(server_factory, certs, extra="  verify: true\n")
    assert not tls_session_works(srv.port, client_ctx(certs, "mallory"))
    assert tls_session_works(srv.port, client_ctx(certs, "alice"))


def test_without_verify_a_client_certificate_is_not_needed(server_factory, certs):
    srv = start_tls(server_factory, certs)
    assert tls_session_works(srv.port, client_ctx(certs))
    assert tls_session_works(srv.port, client_ctx(certs, "bob"))


MAP_USERS = """authorization {
  users = [
    { user: "CN=bob,OU=ops,O=Tern", permissions: { publish: "bob.>", subscribe: "bob.>" } }
    { user: "alice@tern.test" }
  ]
}
"""


def test_verify_and_map_takes_the_user_from_the_certificate(server_factory, certs):
    srv = start_tls(server_factory, certs, extra="  verify_and_map: true\n", top=MAP_USERS)
    # bob: mapped by his subject DN; his permissions apply.
    c = TlsClient(srv.port, client_ctx(certs, "bob"))
    assert c.info["tls_verify"] is True and c.info["auth_required"] is True
    c.connect()
    c.send(b"SUB bob.in 1\r\nPUB bob.in 2\r\nhi\r\nPING\r\n")
    m = c.read_msg()
    assert m["subject"] == "bob.in" and m["payload"] == b"hi"
    c.expect(b"PONG\r\n")
    c.send(b"PUB other 1\r\nx\r\nPING\r\n")
    c.expect(b"-ERR 'Permissions Violation for Publish to \"other\"'\r\n")
    c.expect(b"PONG\r\n")
    c.close()
    # alice: mapped by the e-mail address in her certificate's SAN.
    assert tls_session_works(srv.port, client_ctx(certs, "alice"))
    # The user comes from the certificate only: a CONNECT naming one too is
    # refused (nats-server: "user required from cert").
    c = TlsClient(srv.port, client_ctx(certs, "alice"))
    c.connect(user="alice@tern.test", **{"pass": "x"})
    c.send(b"PING\r\n")
    assert c.read_line() == b"-ERR 'Authorization Violation'\r\n"
    c.close()
    # carol: a trusted certificate whose names are no user.
    c = TlsClient(srv.port, client_ctx(certs, "carol"))
    c.connect()
    c.send(b"PING\r\n")
    assert c.read_line() == b"-ERR 'Authorization Violation'\r\n"
    c.close()
    # No certificate at all: refused in the handshake.
    assert not tls_session_works(srv.port, client_ctx(certs))


# ---------------------------------------------------------------- ciphers and versions

def test_cipher_suites_and_curves_are_applied(server_factory, certs):
    srv = start_tls(server_factory, certs,
                    extra="  cipher_suites: [TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256]\n"
                          "  curve_preferences: [CurveP256]\n")
    c = TlsClient(srv.port, client_ctx(certs, max_version=ssl.TLSVersion.TLSv1_2))
    assert c.sock.version() == "TLSv1.2"
    assert c.sock.cipher()[0] == "ECDHE-RSA-AES128-GCM-SHA256"
    c.connect()
    c.ping_pong()
    c.close()


@tern_only  # min_version is nats-server 2.10's key; 2.9 refuses it
def test_min_version_refuses_older_clients(server_factory, certs):
    srv = start_tls(server_factory, certs, extra="  min_version: \"1.3\"\n")
    assert not tls_session_works(srv.port, client_ctx(certs, max_version=ssl.TLSVersion.TLSv1_2))
    assert tls_session_works(srv.port, client_ctx(certs))


# ---------------------------------------------------------------- timeout, reload

def test_handshake_timeout_closes_a_silent_client_only(server_factory, certs):
    srv = start_tls(server_factory, certs, extra="  timeout: 0.5\n")
    silent = RawClient(srv.port)
    silent.read_info()
    t0 = time.monotonic()
    # While the silent one waits, another client connects and works: the
    # pending handshake holds no I/O loop.
    assert tls_session_works(srv.port, client_ctx(certs))
    assert silent.read_until_closed(timeout=5) == b""
    took = time.monotonic() - t0
    assert 0.3 < took < 2.5, took
    # nats-server logs the timer or the read deadline, whichever fires first.
    srv.wait_for_log(r"TLS handshake (timeout|error: .*timeout)")


def test_sighup_reloads_the_certificate(server_factory, certs):
    srv = start_tls(server_factory, certs)
    old = TlsClient(srv.port, client_ctx(certs))
    old.connect()
    old.ping_pong()
    assert int(old.sock.getpeercert()["serialNumber"], 16) == SERVER_SERIAL
    srv.config_path.write_text(f"host: 127.0.0.1\nport: {srv.port}\n"
                               + tls_block(certs, cert="server2"))
    srv.send_signal(signal.SIGHUP)

    def serial():
        c = TlsClient(srv.port, client_ctx(certs))
        s = int(c.sock.getpeercert()["serialNumber"], 16)
        c.close()
        return s
    wait_for(lambda: serial() == SERVER2_SERIAL, what="new certificate served")
    old.ping_pong()  # the live session keeps going
    old.close()


@tern_only  # nats-server has no counter of failed handshakes
def test_failed_handshakes_are_counted_in_varz(server_factory, certs):
    port, http = free_port(), free_port()
    srv = server_factory.start(config=f"host: 127.0.0.1\nport: {port}\nhttp_port: {http}\n"
                               + tls_block(certs), port=port, http_port=http, addr_args=False)
    # The start-up readiness probe is itself a connection that never does
    # TLS: wait until its failure (if counted) is in, then count ours.
    def settled():
        a = srv.varz()["tls_handshake_failures"]
        time.sleep(0.3)
        return (a,) if a == srv.varz()["tls_handshake_failures"] else None
    (before,) = wait_for(settled, what="a settled count")
    c = RawClient(srv.port)
    c.read_info()
    c.send(b"CONNECT {}\r\n")
    c.read_until_closed()
    wait_for(lambda: srv.varz()["tls_handshake_failures"] == before + 1,
             what="failure counted")
    v = srv.varz()
    assert v["tls_required"] is True and v["tls_timeout"] == 2


def test_connz_shows_the_tls_session(server_factory, certs):
    port, http = free_port(), free_port()
    srv = server_factory.start(config=f"host: 127.0.0.1\nport: {port}\nhttp_port: {http}\n"
                               + tls_block(certs), port=port, http_port=http, addr_args=False)
    c = TlsClient(srv.port, client_ctx(certs))
    c.connect(name="tls-client")
    c.ping_pong()
    conns = [x for x in srv.connz()["connections"] if x.get("name") == "tls-client"]
    assert len(conns) == 1
    assert conns[0]["tls_version"] == "1.3"
    assert conns[0]["tls_cipher_suite"].startswith("TLS_")
    assert srv.varz()["tls_required"] is True
    c.close()


# ---------------------------------------------------------------- flags and config errors

def test_tls_flags(server_factory, certs):
    srv = server_factory.start("--tlsverify", "--tlscert", str(certs / "server.pem"),
                               "--tlskey", str(certs / "server.key"),
                               "--tlscacert", str(certs / "ca.pem"))
    info = TlsClient(srv.port, client_ctx(certs, "bob")).info
    assert info["tls_required"] is True and info["tls_verify"] is True
    assert tls_session_works(srv.port, client_ctx(certs, "bob"))
    assert not tls_session_works(srv.port, client_ctx(certs))


def test_flags_override_the_config_block(server_factory, certs):
    port = free_port()
    # The file asks for client certificates; the flags do not.
    srv = server_factory.start("--tls", "--tlscert", str(certs / "server2.pem"),
                               "--tlskey", str(certs / "server2.key"),
                               config=f"host: 127.0.0.1\nport: {port}\n"
                                      + tls_block(certs, extra="  verify: true\n"),
                               port=port, addr_args=False)
    c = TlsClient(srv.port, client_ctx(certs))
    assert "tls_verify" not in c.info
    assert int(c.sock.getpeercert()["serialNumber"], 16) == SERVER2_SERIAL
    c.close()


def check_conf(tmp_path, text):
    p = tmp_path / "t.conf"
    p.write_text(text)
    return run_binary("-t", "-c", str(p))


def test_config_errors_for_bad_files(tmp_path, certs):
    cases = [
        (tls_block(certs).replace(f"{certs}/server.pem", f"{certs}/nope.pem"),
         r"t\.conf:1:\d+: error parsing X509 certificate/key pair: open .*nope\.pem"),
        (tls_block(certs).replace(f"{certs}/server.key", f"{certs}/bob.key"),
         r"t\.conf:1:\d+: error parsing X509 certificate/key pair: .*private key does not "
         r"match public key"),
        (tls_block(certs).replace(f"{certs}/ca.pem", f"{certs}/nope-ca.pem"),
         r"t\.conf:1:\d+: open .*nope-ca\.pem"),
        (f"tls {{ cert_file: \"{certs}/server.pem\" }}\n",
         r"t\.conf:1:\d+: missing 'key_file' in TLS configuration"),
        (tls_block(certs, extra="  bogus: 1\n"),
         r"t\.conf:5:3: error parsing tls config, unknown field \[\"bogus\"\]"),
        (tls_block(certs, extra="  cipher_suites: [NOT_A_CIPHER]\n"),
         r"t\.conf:5:\d+: unrecognized cipher NOT_A_CIPHER"),
    ]
    import re
    for text, pattern in cases:
        r = check_conf(tmp_path, text)
        assert r.returncode == 1, (text, r.stderr)
        assert re.search(pattern, r.stderr), (pattern, r.stderr)
    # A good block passes -t.
    assert check_conf(tmp_path, tls_block(certs)).returncode == 0


@tern_only  # nats-server serves these; Tern refuses rather than ignore them
def test_what_tern_cannot_serve_is_refused(tmp_path, certs):
    cases = [
        ("cluster {\n  port: 6222\n  tls { cert_file: x, key_file: y, insecure: true }\n}\n",
         r"t\.conf:3:36: cluster tls option \"insecure\" is not supported by Tern"),
        ("cluster {\n  port: 6222\n  tls { cert_file: /nonexistent.pem, key_file: y }\n}\n",
         r"t\.conf:3:3: error parsing X509 certificate/key pair: open /nonexistent.pem"),
        (tls_block(certs, extra="  pinned_certs: [abc]\n"),
         r"t\.conf:5:3: tls option \"pinned_certs\" is not supported by Tern"),
        (tls_block(certs) + "allow_non_tls: true\n", r"t\.conf:6:1: allow_non_tls is not"),
    ]
    import re
    for text, pattern in cases:
        r = check_conf(tmp_path, text)
        assert r.returncode == 1, (text, r.stderr)
        assert re.search(pattern, r.stderr), (pattern, r.stderr)


# ---------------------------------------------------------------- monitoring over HTTPS

def https_get(port, path, ctx):
    """(status, body) of GET over HTTPS; the handshake's failure raises."""
    url = f"https://127.0.0.1:{port}{path}"
    try:
        with urllib.request.urlopen(url, context=ctx, timeout=5) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def start_https(server_factory, certs, *args, extra=""):
    """A TLS server whose monitoring port is HTTPS; (server, https port)."""
    port, https = free_port(), free_port()
    cfg = f"host: 127.0.0.1\nport: {port}\nhttps_port: {https}\n" + tls_block(certs, extra)
    srv = server_factory.start(*args, config=cfg, port=port, addr_args=False)
    wait_for(lambda: _answers(https, client_ctx(certs, "bob")), what="the https monitor")
    return srv, https


def _answers(port, ctx):
    try:
        return https_get(port, "/healthz", ctx)[0] == 200
    except (OSError, ssl.SSLError):
        return False


def test_https_monitoring_serves_over_tls_only(server_factory, certs):
    srv, https = start_https(server_factory, certs)
    status, body = https_get(https, "/varz", client_ctx(certs))
    v = json.loads(body)
    assert status == 200 and v["https_port"] == https and v["http_port"] == 0
    assert v["tls_required"] is True
    # A client that does not trust the CA refuses the server's certificate.
    with pytest.raises(urllib.error.URLError) as e:
        https_get(https, "/varz", ssl.create_default_context())
    assert isinstance(e.value.reason, ssl.SSLCertVerificationError)
    # Plain HTTP on that port gets no monitoring data (nats-server answers
    # a 400; Tern's handshake fails and the connection closes).
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{https}/varz", timeout=5) as r:
            pytest.fail(f"plain HTTP answered {r.status}")
    except urllib.error.HTTPError as e:
        assert e.code == 400
    except (urllib.error.URLError, http.client.HTTPException, ConnectionError):
        pass


def test_https_monitor_asks_no_client_certificate(server_factory, certs):
    # As nats-server: `verify` is for NATS clients; the monitor serves any
    # HTTPS client, with or without a certificate.
    srv, https = start_https(server_factory, certs, extra="  verify: true\n")
    assert https_get(https, "/healthz", client_ctx(certs, "bob"))[0] == 200
    assert _answers(https, client_ctx(certs))
    assert not tls_session_works(srv.port, client_ctx(certs))  # NATS clients still need one


def test_https_port_flag(server_factory, certs):
    https = free_port()
    srv = server_factory.start("--tls", "--tlscert", str(certs / "server.pem"),
                               "--tlskey", str(certs / "server.key"), "-ms", str(https))
    wait_for(lambda: _answers(https, client_ctx(certs)), what="the https monitor")
    assert json.loads(https_get(https, "/varz", client_ctx(certs))[1])["https_port"] == https


def test_https_monitor_takes_the_reloaded_certificate(server_factory, certs):
    srv, https = start_https(server_factory, certs)
    srv.config_path.write_text(f"host: 127.0.0.1\nport: {srv.port}\nhttps_port: {https}\n"
                               + tls_block(certs, cert="server2"))
    srv.send_signal(signal.SIGHUP)

    def serial():
        with socket.create_connection(("127.0.0.1", https), timeout=5) as raw_sock:
            with client_ctx(certs).wrap_socket(raw_sock, server_hostname="127.0.0.1") as t:
                return int(t.getpeercert()["serialNumber"], 16)
    wait_for(lambda: serial() == SERVER2_SERIAL, what="new certificate on the https port")


def test_https_refused_without_tls_or_beside_http(certs):
    # nats-server's texts, at start-up, exit status 1.
    r = run_binary("-a", "127.0.0.1", "-p", "-1", "-ms", str(free_port()))
    assert r.returncode == 1, r.stderr
    assert "Can't start monitoring: TLS cert and key required for HTTPS" in r.stderr
    ms, m = free_port(), free_port()
    r = run_binary("-a", "127.0.0.1", "-p", "-1", "-ms", str(ms), "-m", str(m), "--tls",
                   "--tlscert", str(certs / "server.pem"), "--tlskey", str(certs / "server.key"))
    assert r.returncode == 1, r.stderr
    assert f"can't specify both HTTP ({m}) and HTTPs ({ms}) ports" in r.stderr
