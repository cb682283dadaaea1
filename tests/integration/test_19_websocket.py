"""NATS over WebSocket (websocket {}), as nats-server 2.9 serves it.

nats-py's WebSocket transport (aiohttp) for pub/sub/request, ws:// and
wss://, together with plain TCP clients; raw sockets for the upgrade's
exact bytes, framing (fragments, ping/pong, close), compression both ways,
origin checks, authorization and bad frames.

Version differences with nats-server 2.9.10 are marked: on a bad frame Tern
sends a 1002 close frame with nats-server's own text before closing, where
2.9.10 builds that frame but closes the socket without sending it; Tern
refuses a compressed frame when compression was not negotiated (2.9.10
inflates it anyway); a plaintext request on a wss:// listener is dropped
without the plaintext 400 Go's TLS server writes.
"""

import asyncio
import base64
import hashlib
import json
import os
import re
import socket
import ssl
import struct
import subprocess
import time
import urllib.request
import zlib

import pytest

import nats
from conftest import REFERENCE, free_port, settle, wait_for

KEY = "dGhlIHNhbXBsZSBub25jZQ=="
ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="   # RFC 6455 §1.3's example


def start_ws(server_factory, ws_extra="no_tls: true", top="", monitor=False):
    port, wsport = free_port(), free_port()
    cfg = (f"host: 127.0.0.1\nport: {port}\n{top}\n"
           f"websocket {{\n  listen: \"127.0.0.1:{wsport}\"\n  {ws_extra}\n}}\n")
    srv = server_factory.start(config=cfg, port=port, addr_args=False, monitor=monitor)
    srv.ws_port = wsport
    wait_port(wsport)
    return srv


def wait_port(port, timeout=5.0):
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def request(port, extra=b"", host=None, key=KEY, method=b"GET"):
    h = host or f"127.0.0.1:{port}"
    return (method + b" / HTTP/1.1\r\nHost: " + h.encode() +
            b"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " +
            key.encode() + b"\r\nSec-WebSocket-Version: 13\r\n" + extra + b"\r\n")


def frame(op, payload, fin=True, mask=True, rsv=0):
    b0 = (0x80 if fin else 0) | rsv | op
    n = len(payload)
    m = 0x80 if mask else 0
    if n < 126:
        hdr = bytes([b0, m | n])
    elif n < 65536:
        hdr = bytes([b0, m | 126]) + struct.pack(">H", n)
    else:
        hdr = bytes([b0, m | 127]) + struct.pack(">Q", n)
    if mask:
        k = os.urandom(4)
        payload = bytes(c ^ k[i % 4] for i, c in enumerate(payload))
        hdr += k
    return hdr + payload


class WsRaw:
    """A raw WebSocket client: the upgrade by hand, then frames."""

    def __init__(self, port, extra=b"", ctx=None, timeout=5.0, upgrade=True):
        s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock = ctx.wrap_socket(s, server_hostname="127.0.0.1") if ctx else s
        self.buf = b""
        self.timeout = timeout
        self.inflater = None
        if upgrade:
            self.sock.sendall(request(port, extra))
            self.head = self.read_head()

    def fill(self):
        d = self.sock.recv(65536)
        if not d:
            raise EOFError
        self.buf += d

    def read_head(self):
        while b"\r\n\r\n" not in self.buf:
            self.fill()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        return head.decode()

    def read_until_eof(self):
        try:
            while True:
                self.fill()
        except EOFError:
            pass
        except ConnectionResetError:
            pass
        out, self.buf = self.buf, b""
        return out

    def read_frame(self):
        while True:
            if len(self.buf) >= 2:
                b0, b1 = self.buf[0], self.buf[1]
                assert b1 & 0x80 == 0, "server frames are never masked"
                n, p = b1 & 0x7F, 2
                if n == 126:
                    n, p = struct.unpack(">H", self.buf[2:4])[0], 4
                elif n == 127:
                    n, p = struct.unpack(">Q", self.buf[2:10])[0], 10
                if len(self.buf) >= p + n:
                    payload, self.buf = self.buf[p:p + n], self.buf[p + n:]
                    return b0, payload
            self.fill()

    def read_message(self):
        """One data message (fragments joined, inflated when RSV1)."""
        parts, compressed = [], False
        while True:
            b0, p = self.read_frame()
            op = b0 & 0x0F
            if op >= 8:
                return b0, p  # a control frame
            if op != 0:
                compressed = bool(b0 & 0x40)
            parts.append(p)
            if b0 & 0x80:
                data = b"".join(parts)
                if compressed:
                    data = zlib.decompressobj(-15).decompress(data + b"\x00\x00\xff\xff")
                return b0 | (0x40 if compressed else 0), data

    def read_proto(self, want):
        """Data messages until `want` (bytes) has arrived; returns them all."""
        got = b""
        while want not in got:
            b0, p = self.read_message()
            assert b0 & 0x0F in (1, 2), (b0, p)
            got += p
        return got

    def send(self, *frames):
        self.sock.sendall(b"".join(frames))

    def close(self):
        self.sock.close()


def connect_line(**kw):
    opts = {"verbose": False, "pedantic": False, "protocol": 1}
    opts.update(kw)
    return b"CONNECT " + json.dumps(opts).encode() + b"\r\n"


# ---------------------------------------------------------------- nats-py

async def test_nats_py_pub_sub_request_over_ws(server_factory):
    srv = start_ws(server_factory)
    nc = await nats.connect(f"ws://127.0.0.1:{srv.ws_port}", allow_reconnect=False)
    try:
        sub = await nc.subscribe("ws.>")

        async def answer(msg):
            await msg.respond(b"re:" + msg.data)
        await nc.subscribe("svc", cb=answer)
        await nc.publish("ws.a", b"hello")
        msg = await sub.next_msg(timeout=2)
        assert (msg.subject, msg.data) == ("ws.a", b"hello")
        big = os.urandom(300000)
        await nc.publish("ws.big", big)
        assert (await sub.next_msg(timeout=5)).data == big
        rep = await nc.request("svc", b"q", timeout=2)
        assert rep.data == b"re:q"
    finally:
        await nc.close()


async def test_ws_and_tcp_clients_talk(server_factory):
    srv = start_ws(server_factory)
    ws = await nats.connect(f"ws://127.0.0.1:{srv.ws_port}", allow_reconnect=False)
    tcp = await nats.connect(f"nats://127.0.0.1:{srv.port}", allow_reconnect=False)
    try:
        s_ws = await ws.subscribe("to.ws")
        s_tcp = await tcp.subscribe("to.tcp")
        # settle(), not flush(): see test_settle_pings_behind_the_sub.
        await settle(ws)
        await settle(tcp)
        await tcp.publish("to.ws", b"from tcp")
        await ws.publish("to.tcp", b"from ws")
        assert (await s_ws.next_msg(timeout=2)).data == b"from tcp"
        assert (await s_tcp.next_msg(timeout=2)).data == b"from ws"

        async def echo(msg):
            await msg.respond(msg.data[::-1])
        await tcp.subscribe("rev", cb=echo)
        await settle(tcp)
        assert (await ws.request("rev", b"abc", timeout=2)).data == b"cba"
    finally:
        await ws.close()
        await tcp.close()


def traced_ops(srv, subject):
    """The client ops ternd (or nats-server) traced, in order: PING and SUBs
    on `subject` (the test has one client connection)."""
    rx = re.compile(r"<<- \[(PING|SUB " + re.escape(subject) + r"\s)")
    return [m.group(1).split()[0] for m in rx.finditer(srv.log_text())]


async def test_settle_pings_behind_the_sub(server_factory):
    """Why the nats-py tests here wait with settle() and never flush() alone.

    nats-py 2.16's flush() hands its PING to the transport at once, while a
    SUB made just before still waits in the client's buffer for the flusher
    task, which puts it behind that PING (over WebSocket each becomes its own
    message). The server traces PING (connect's), PING, SUB: flush()'s PONG is
    answered before the SUB is read, and under CPU load a message another
    connection publishes after that PONG can beat the SUB, with nats-server
    2.9.10 as with Tern. This was the "lost" TCP-to-WebSocket message of
    test_ws_and_tcp_clients_talk and test_wss_with_nats_py. settle()'s
    second PING is queued after the SUB, so its PONG means the SUB is in.
    """
    srv = start_ws(server_factory, top="trace: true")
    nc = await nats.connect(f"ws://127.0.0.1:{srv.ws_port}", allow_reconnect=False)
    try:
        await nc.subscribe("order.check")
        await settle(nc)
    finally:
        await nc.close()
    # The trace of one connection is written in the order its ops are
    # read, each before any later PONG goes out: once the SUB is in the
    # log, so is every PING settle() got a PONG for.
    def ops():
        got = traced_ops(srv, "order.check")
        return got if "SUB" in got else None
    got = wait_for(ops, what="the SUB in the server's trace")
    assert "PING" in got[got.index("SUB"):], got


# How SUB and the PING after it reach the server: one frame, two frames,
# an op cut across two messages, fragments of one message.
ORDER_CUTS = {
    "one frame": [frame(2, b"SUB order 1\r\nPING\r\n")],
    "two frames": [frame(2, b"SUB order 1\r\n"), frame(2, b"PING\r\n")],
    "op across messages": [frame(2, b"SUB ord"), frame(2, b"er 1\r\nPI"),
                           frame(2, b"NG\r\n")],
    "fragments": [frame(2, b"SUB or", fin=False), frame(0, b"der 1\r\nPI", fin=False),
                  frame(0, b"NG\r\n")],
}


@pytest.mark.parametrize("cut", list(ORDER_CUTS))
def test_pong_after_a_sub_means_tcp_publishers_reach_it(server_factory, raw, cut):
    """A PONG answers a PING only after every op before it on the connection,
    whatever the framing: a TCP client (on the other I/O loop with
    --threads 2) that publishes after it must reach the subscription."""
    srv = start_ws(server_factory)
    c = WsRaw(srv.ws_port)
    c.read_message()
    c.send(frame(2, connect_line()), *ORDER_CUTS[cut])
    assert c.read_proto(b"PONG\r\n") == b"PONG\r\n"
    pub = raw(srv)
    pub.read_info()
    pub.send(connect_line() + b"PUB order 2\r\nhi\r\nPING\r\n")
    pub.expect(b"PONG\r\n")
    assert c.read_proto(b"hi\r\n") == b"MSG order 1 2\r\nhi\r\n"
    c.close()


# ---------------------------------------------------------------- wss://

@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    d = tmp_path_factory.mktemp("wscerts")

    def ossl(*a):
        subprocess.run(["openssl", *a], cwd=d, check=True, capture_output=True)
    ossl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-keyout", "ca.key",
         "-out", "ca.pem", "-subj", "/CN=ca")
    ossl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
         "-subj", "/CN=localhost")
    (d / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    ossl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
         "-set_serial", "7", "-days", "2", "-out", "server.pem", "-extfile", "san.ext")
    return d


def ws_tls(certs):
    return (f"tls {{ cert_file: \"{certs}/server.pem\", key_file: \"{certs}/server.key\" }}")


async def test_wss_with_nats_py(server_factory, certs):
    srv = start_ws(server_factory, ws_tls(certs))
    ctx = ssl.create_default_context(cafile=str(certs / "ca.pem"))
    nc = await nats.connect(f"wss://127.0.0.1:{srv.ws_port}", tls=ctx, allow_reconnect=False)
    tcp = await nats.connect(f"nats://127.0.0.1:{srv.port}", allow_reconnect=False)
    try:
        sub = await nc.subscribe("secure")
        await settle(nc)
        await tcp.publish("secure", b"over tls")
        assert (await sub.next_msg(timeout=2)).data == b"over tls"
        assert "tls_required" not in nc._server_info  # the client port has no TLS
    finally:
        await nc.close()
        await tcp.close()
    # A plain ws:// upgrade on the wss:// listener is dropped: Tern without
    # a word, nats-server (Go's TLS server) with a plaintext 400 first.
    s = socket.create_connection(("127.0.0.1", srv.ws_port), timeout=5)
    s.sendall(request(srv.ws_port))
    got = b""
    while True:
        d = s.recv(4096)
        if not d:
            break
        got += d
    if REFERENCE:
        assert got.startswith(b"HTTP/1.0 400 Bad Request")
    else:
        assert got == b""
    s.close()


def test_wss_raw_frames(server_factory, certs):
    srv = start_ws(server_factory, ws_tls(certs))
    ctx = ssl.create_default_context(cafile=str(certs / "ca.pem"))
    c = WsRaw(srv.ws_port, ctx=ctx)
    assert c.head.startswith("HTTP/1.1 101 ")
    b0, info = c.read_message()
    assert info.startswith(b"INFO ")
    c.send(frame(2, connect_line() + b"PING\r\n"))
    assert c.read_proto(b"PONG\r\n").endswith(b"PONG\r\n")
    c.close()


# ---------------------------------------------------------------- the upgrade

def test_upgrade_answer_is_nats_servers(server_factory):
    srv = start_ws(server_factory)
    c = WsRaw(srv.ws_port)
    assert c.head == ("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                      f"Connection: Upgrade\r\nSec-WebSocket-Accept: {ACCEPT}")
    b0, info = c.read_message()
    assert b0 == 0x82 and info.startswith(b"INFO {") and info.endswith(b"} \r\n")
    i = json.loads(info[5:])
    assert i["port"] == srv.port and "connect_urls" not in i
    # The accept key is SHA-1 + base64 of the key and RFC 6455's GUID.
    k = base64.b64encode(os.urandom(16)).decode()
    c2 = socket.create_connection(("127.0.0.1", srv.ws_port), timeout=5)
    c2.sendall(request(srv.ws_port, key=k))
    head = b""
    while b"\r\n\r\n" not in head:
        head += c2.recv(4096)
    head = head.split(b"\r\n\r\n")[0].decode() + "\r\n"
    want = base64.b64encode(hashlib.sha1(
        (k + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()).decode()
    assert f"Sec-WebSocket-Accept: {want}\r\n" in head
    c2.close()
    c.close()


def http_answer(port, data, wait_eof=False):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(data)
    out = b""
    while b"\r\n\r\n" not in out:
        d = s.recv(4096)
        if not d:
            break
        out += d
    if wait_eof:
        s.settimeout(5)
        while True:
            d = s.recv(4096)
            if not d:
                break
            out += d
    head, _, body = out.partition(b"\r\n\r\n")
    clen = re.search(rb"Content-Length: (\d+)", head)
    while clen and len(body) < int(clen.group(1)):
        body += s.recv(4096)
    return s, head.decode(), body


@pytest.mark.parametrize("name,req,status", [
    ("post", lambda p: request(p, method=b"POST"), "405 Method Not Allowed"),
    ("no upgrade", lambda p: request(p).replace(b"Upgrade: websocket\r\n", b""),
     "400 Bad Request"),
    ("no connection", lambda p: request(p).replace(b"Connection: Upgrade", b"Connection: x"),
     "400 Bad Request"),
    ("no key", lambda p: request(p).replace(f"Sec-WebSocket-Key: {KEY}\r\n".encode(), b""),
     "400 Bad Request"),
    ("bad version", lambda p: request(p).replace(b"Version: 13", b"Version: 8"),
     "400 Bad Request"),
])
def test_refused_upgrades_get_go_http_errors(server_factory, name, req, status):
    srv = start_ws(server_factory)
    s, head, body = http_answer(srv.ws_port, req(srv.ws_port))
    lines = head.split("\r\n")
    assert lines[0] == f"HTTP/1.1 {status}"
    text = status.split(" ", 1)[1]
    assert lines[1:4] == ["Content-Type: text/plain; charset=utf-8",
                          "Sec-Websocket-Version: 13", "X-Content-Type-Options: nosniff"]
    assert re.fullmatch(r"Date: \w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT", lines[4])
    assert lines[5] == f"Content-Length: {len(text) + 1}"
    assert body == text.encode() + b"\n"
    # The connection stays usable for a proper request.
    s.sendall(request(srv.ws_port))
    assert s.recv(4096).startswith(b"HTTP/1.1 101 Switching Protocols\r\n")
    s.close()


def test_malformed_requests_get_a_closing_400(server_factory):
    srv = start_ws(server_factory)
    _, head, body = http_answer(srv.ws_port, b"HELLO\r\n\r\n", wait_eof=True)
    assert head == ("HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n"
                    "Connection: close")
    assert body == b"400 Bad Request"
    nohost = request(srv.ws_port).replace(f"Host: 127.0.0.1:{srv.ws_port}\r\n".encode(), b"")
    _, head, body = http_answer(srv.ws_port, nohost, wait_eof=True)
    assert head.startswith("HTTP/1.1 400 Bad Request: missing required Host header\r\n")
    assert body == b"400 Bad Request: missing required Host header"


def test_data_before_the_answer_drops_the_connection(server_factory):
    srv = start_ws(server_factory)
    s = socket.create_connection(("127.0.0.1", srv.ws_port), timeout=5)
    s.sendall(request(srv.ws_port) + frame(2, b"PING\r\n"))
    assert s.recv(4096) == b""
    s.close()


# ---------------------------------------------------------------- framing

def test_fragmented_pub_and_interleaved_ping(server_factory):
    srv = start_ws(server_factory)
    c = WsRaw(srv.ws_port)
    c.read_message()
    c.send(frame(2, connect_line() + b"SUB a 1\r\nPUB a 5\r\nhe", fin=False),
           frame(9, b"pp"),
           frame(0, b"", fin=False),
           frame(0, b"llo\r\nPI", fin=False),
           frame(0, b"NG\r\n"))
    b0, p = c.read_message()
    assert (b0, p) == (0x8A, b"pp")   # the pong, before any answer to the PING
    got = c.read_proto(b"PONG\r\n")
    assert got == b"MSG a 1 5\r\nhello\r\nPONG\r\n"
    # A text frame carries the protocol too.
    c.send(frame(1, b"PING\r\n"))
    assert c.read_proto(b"PONG\r\n") == b"PONG\r\n"
    c.close()


def test_ping_with_payload_and_empty(server_factory):
    srv = start_ws(server_factory)
    c = WsRaw(srv.ws_port)
    c.read_message()
    c.send(frame(9, b"hello"), frame(9, b""), frame(10, b"ignored"))
    assert c.read_frame() == (0x8A, b"hello")
    assert c.read_frame() == (0x8A, b"")
    c.close()


@pytest.mark.parametrize("payload,echo", [
    (struct.pack(">H", 1000) + b"bye", b"\x03\xe8bye"),
    (b"", b"\x03\xed"),                     # no status: nats-server answers 1005
    (b"\x03", b"\x03\xed"),
    (struct.pack(">H", 1000) + b"\xff\xfe", b"\x03\xefinvalid utf8 body in close frame"),
])
def test_close_handshake(server_factory, payload, echo):
    srv = start_ws(server_factory)
    c = WsRaw(srv.ws_port)
    c.read_message()
    c.send(frame(8, payload))
    assert c.read_frame() == (0x88, echo)
    assert c.read_until_eof() == b""
    c.close()


def close_frame_of(data):
    if not data:
        return None
    assert data[0] == 0x88, data
    return data[2:2 + data[1]]


@pytest.mark.parametrize("name,frames,text", [
    ("unmasked", [frame(2, b"PING\r\n", mask=False)], b"mask bit missing"),
    ("big ping", [frame(9, b"x" * 126)],
     b"control frame length bigger than maximum allowed of 125 bytes"),
    ("fragmented ping", [frame(9, b"x", fin=False)],
     b"control frame does not have final bit set"),
    ("reserved opcode", [frame(3, b"x")], b"unknown opcode 3"),
    ("control opcode 11", [frame(11, b"x")], b"unknown opcode 11"),
    ("lone continuation", [frame(0, b"x")], b"invalid continuation frame"),
    ("new before final", [frame(2, b"PI", fin=False), frame(2, b"NG\r\n")],
     b"new message started before final frame for previous message was received"),
])
def test_bad_frames_close_the_connection(server_factory, name, frames, text):
    srv = start_ws(server_factory)
    c = WsRaw(srv.ws_port)
    c.read_message()
    c.send(*frames)
    cf = close_frame_of(c.read_until_eof())
    if REFERENCE:
        assert cf is None  # 2.9.10 closes without sending its close frame
    else:
        assert cf == b"\x03\xea" + text
    c.close()
    # The server is fine: a new client works.
    c = WsRaw(srv.ws_port)
    c.read_message()
    c.send(frame(2, b"PING\r\n"))
    assert c.read_proto(b"PONG\r\n")
    c.close()


def test_reserved_bits_2_and_3_are_ignored(server_factory):
    srv = start_ws(server_factory)
    c = WsRaw(srv.ws_port)
    c.read_message()
    c.send(frame(2, b"PING\r\n", rsv=0x30))
    assert c.read_proto(b"PONG\r\n") == b"PONG\r\n"
    c.close()


def test_protocol_errors_send_err_then_close_codes(server_factory):
    srv = start_ws(server_factory)
    c = WsRaw(srv.ws_port)
    c.read_message()
    c.send(frame(2, connect_line() + b"FOO\r\n"))
    data = c.read_until_eof()
    assert data == (b"\x82\x23-ERR 'Unknown Protocol Operation'\r\n"
                    b"\x88\x14\x03\xeaProtocol Violation")
    c = WsRaw(srv.ws_port)
    c.read_message()
    c.send(frame(2, connect_line() + b"PUB a 2000000\r\n"))
    data = c.read_until_eof()
    assert data == (b"\x82\x22-ERR 'Maximum Payload Violation'\r\n"
                    b"\x88\x22\x03\xf1Maximum Message Payload Exceeded")


def test_large_frames_and_lengths(server_factory):
    srv = start_ws(server_factory)
    c = WsRaw(srv.ws_port)
    c.read_message()
    body = bytes(range(256)) * 400   # 102400 bytes: a 64-bit length both ways
    c.send(frame(2, connect_line() + b"SUB big 1\r\nPUB big %d\r\n" % len(body) + body +
                 b"\r\nPING\r\n"))
    got = c.read_proto(b"PONG\r\n")
    assert got == b"MSG big 1 %d\r\n" % len(body) + body + b"\r\nPONG\r\n"
    c.close()


# ---------------------------------------------------------------- compression

def test_compression_both_ways(server_factory):
    srv = start_ws(server_factory, "no_tls: true\n  compression: true")
    c = WsRaw(srv.ws_port, extra=b"Sec-WebSocket-Extensions: permessage-deflate; "
                                 b"client_max_window_bits\r\n")
    assert ("\r\nSec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; "
            "client_no_context_takeover") in c.head
    b0, info = c.read_message()
    assert b0 & 0x40 and info.startswith(b"INFO ")   # INFO is over 64 bytes: compressed
    body = b"z" * 5000
    proto = connect_line() + b"SUB c 1\r\nPUB c %d\r\n" % len(body) + body + b"\r\nPING\r\n"
    comp = zlib.compressobj(6, zlib.DEFLATED, -15)
    data = comp.compress(proto) + comp.flush(zlib.Z_SYNC_FLUSH)
    assert data.endswith(b"\x00\x00\xff\xff")
    data = data[:-4]
    # Compressed message in three fragments, RSV1 on the first only.
    a, b = len(data) // 3, 2 * len(data) // 3
    c.send(frame(2, data[:a], fin=False, rsv=0x40), frame(0, data[a:b], fin=False),
           frame(9, b"mid"), frame(0, data[b:]))
    assert c.read_frame() == (0x8A, b"mid")
    got, seen_compressed = b"", False
    while b"PONG\r\n" not in got:
        b0, p = c.read_message()
        seen_compressed |= bool(b0 & 0x40)
        got += p
    assert got == b"MSG c 1 %d\r\n" % len(body) + body + b"\r\nPONG\r\n"
    assert seen_compressed
    # A small answer goes uncompressed; a plain frame is still accepted.
    c.send(frame(2, b"PING\r\n"))
    b0, p = c.read_message()
    assert (b0, p) == (0x82, b"PONG\r\n")
    c.close()


def test_no_compression_unless_offered_and_enabled(server_factory):
    srv = start_ws(server_factory, "no_tls: true\n  compression: true")
    c = WsRaw(srv.ws_port)
    assert "Extensions" not in c.head
    b0, _ = c.read_message()
    assert b0 == 0x82
    c.close()
    srv2 = start_ws(server_factory)
    c = WsRaw(srv2.ws_port, extra=b"Sec-WebSocket-Extensions: permessage-deflate\r\n")
    assert "Extensions" not in c.head
    # Without negotiation a compressed frame is refused by Tern; nats-server
    # 2.9.10 inflates it all the same (a version difference).
    if not REFERENCE:
        c.read_message()
        c.send(frame(2, b"\x0a\xf0\xf4\x73\xe7\xe5\x02\x00", rsv=0x40))
        data = c.read_until_eof()
        assert close_frame_of(data) == (b"\x03\xeacompressed frame without negotiated "
                                        b"compression")
    c.close()


async def test_aiohttp_with_compression(server_factory):
    aiohttp = pytest.importorskip("aiohttp")
    srv = start_ws(server_factory, "no_tls: true\n  compression: true")
    async with aiohttp.ClientSession() as sess:
        async with sess.ws_connect(f"ws://127.0.0.1:{srv.ws_port}", compress=15) as ws:
            assert ws.compress  # negotiated
            info = await ws.receive(timeout=5)
            assert info.data.startswith(b"INFO ")
            await ws.send_bytes(connect_line() + b"SUB x 1\r\nPUB x 300\r\n" + b"q" * 300 +
                                b"\r\nPING\r\n")
            got = b""
            while b"PONG" not in got:
                got += (await ws.receive(timeout=5)).data
            assert got == b"MSG x 1 300\r\n" + b"q" * 300 + b"\r\nPONG\r\n"


# ---------------------------------------------------------------- origin

def origin_status(port, origin):
    extra = f"Origin: {origin}\r\n".encode() if origin else b""
    s, head, _ = http_answer(port, request(port, extra))
    s.close()
    return head.split("\r\n")[0]


def test_same_origin(server_factory):
    srv = start_ws(server_factory, "no_tls: true\n  same_origin: true")
    p = srv.ws_port
    assert origin_status(p, f"http://127.0.0.1:{p}").startswith("HTTP/1.1 101")
    assert origin_status(p, None).startswith("HTTP/1.1 101")
    assert origin_status(p, f"http://other.example:{p}") == "HTTP/1.1 403 Forbidden"
    assert origin_status(p, "http://127.0.0.1:1") == "HTTP/1.1 403 Forbidden"


def test_allowed_origins(server_factory):
    srv = start_ws(server_factory, "no_tls: true\n  allowed_origins: "
                                   "[\"https://app.example\", \"http://Dev.Example:8080\"]")
    p = srv.ws_port
    assert origin_status(p, "https://app.example").startswith("HTTP/1.1 101")
    assert origin_status(p, "https://app.example:443").startswith("HTTP/1.1 101")
    assert origin_status(p, "http://dev.example:8080").startswith("HTTP/1.1 101")
    assert origin_status(p, "http://app.example") == "HTTP/1.1 403 Forbidden"
    assert origin_status(p, "https://evil.example") == "HTTP/1.1 403 Forbidden"
    assert origin_status(p, "null") == "HTTP/1.1 403 Forbidden"
    assert origin_status(p, None).startswith("HTTP/1.1 101")


# ---------------------------------------------------------------- auth

async def test_websocket_authorization_override(server_factory):
    srv = start_ws(server_factory, "no_tls: true\n  authorization { user: wsu, password: wsp }",
                   top="authorization { token: tcptoken }")
    nc = await nats.connect(f"ws://wsu:wsp@127.0.0.1:{srv.ws_port}", allow_reconnect=False)
    assert nc.is_connected
    await nc.close()
    with pytest.raises(Exception):
        await nats.connect(f"ws://127.0.0.1:{srv.ws_port}", token="tcptoken",
                           allow_reconnect=False, connect_timeout=2)
    # The TCP port keeps its own token.
    nc = await nats.connect(f"nats://127.0.0.1:{srv.port}", token="tcptoken",
                            allow_reconnect=False)
    await nc.close()


def test_auth_failure_and_timeout_close_codes(server_factory):
    srv = start_ws(server_factory,
                   "no_tls: true\n  authorization { token: s3cret, timeout: 0.5 }")
    c = WsRaw(srv.ws_port)
    _, info = c.read_message()
    assert json.loads(info[5:])["auth_required"] is True
    c.send(frame(2, connect_line(auth_token="wrong")))
    data = c.read_until_eof()
    err = b"-ERR 'Authorization Violation'\r\n"
    assert data.startswith(bytes([0x82, len(err)]) + err)
    assert close_frame_of(data[2 + len(err):]) == b"\x03\xf0Authentication Failure"
    c = WsRaw(srv.ws_port)
    c.read_message()
    data = c.read_until_eof()   # nothing sent: the auth timer fires
    err = b"-ERR 'Authentication Timeout'\r\n"
    assert data.startswith(bytes([0x82, len(err)]) + err)
    assert close_frame_of(data[2 + len(err):]) == b"\x03\xf0Authentication Timeout"


async def test_no_auth_user(server_factory):
    srv = start_ws(server_factory, "no_tls: true\n  no_auth_user: bob",
                   top="authorization { users: [{user: bob, password: pwd, "
                       "permissions: {publish: \"bob.>\"}}, {user: al, password: pw}] }")
    nc = await nats.connect(f"ws://127.0.0.1:{srv.ws_port}", allow_reconnect=False)
    sub = await nc.subscribe("bob.x")
    await nc.publish("bob.x", b"ok")
    assert (await sub.next_msg(timeout=2)).data == b"ok"
    await nc.close()
    # On the TCP port there is no no_auth_user.
    with pytest.raises(Exception):
        await nats.connect(f"nats://127.0.0.1:{srv.port}", allow_reconnect=False,
                           connect_timeout=2)


# ---------------------------------------------------------------- config, varz

def test_varz_websocket(server_factory):
    srv = start_ws(server_factory,
                   "no_tls: true\n  compression: true\n  same_origin: true\n"
                   "  allowed_origins: [\"http://a.example:8080\"]\n  handshake_timeout: \"3s\"\n"
                   "  authorization { timeout: 3 }", monitor=True)
    v = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{srv.http_port}/varz").read())
    assert v["websocket"] == {
        "host": "127.0.0.1", "port": srv.ws_port, "handshake_timeout": 3000000000,
        "auth_timeout": 3, "no_tls": True, "same_origin": True,
        "allowed_origins": ["http://a.example:8080"], "compression": True,
    }


def test_tls_is_required_unless_no_tls(server_factory, tmp_path):
    cfg = tmp_path / "w.conf"
    cfg.write_text(f"port: {free_port()}\nwebsocket {{ port: {free_port()} }}\n")
    from conftest import BINARY
    r = subprocess.run([BINARY, "-c", str(cfg)], capture_output=True, text=True, timeout=10)
    assert r.returncode != 0
    assert "websocket requires TLS configuration" in r.stdout + r.stderr


@pytest.mark.skipif(REFERENCE, reason="nats-server serves these; Tern refuses them")
def test_what_tern_cannot_serve_is_refused(tmp_path):
    from conftest import run_binary
    for text, pattern in [
        ("websocket {\n  no_tls: true\n  port: 1\n  jwt_cookie: c\n}\n",
         r"w\.conf:4:3: websocket jwt_cookie is not supported by Tern"),
        ("websocket {\n  no_tls: true\n  port: 1\n  advertise: \"h:1\"\n}\n",
         r"w\.conf:4:3: websocket advertise is not supported by Tern"),
    ]:
        p = tmp_path / "w.conf"
        p.write_text(text)
        r = run_binary("-t", "-c", str(p))
        assert r.returncode == 1 and re.search(pattern, r.stderr), r.stderr


def test_handshake_timeout_closes_a_silent_connection(server_factory):
    srv = start_ws(server_factory, "no_tls: true\n  handshake_timeout: \"300ms\"")
    s = socket.create_connection(("127.0.0.1", srv.ws_port), timeout=5)
    s.sendall(b"GET / HTTP/1.1\r\n")
    t0 = time.monotonic()
    assert s.recv(4096) == b""
    assert time.monotonic() - t0 < 3
    s.close()
