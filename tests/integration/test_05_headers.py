"""05 headers: HPUB/HMSG bytes, nats-py headers, stripping for old clients.

spec/client-protocol.md §6, §8.1, §8.3, §13.
"""

from conftest import async_wait_for, settle


async def test_headers_round_trip_nats_py(server, nats_connect):
    sub_nc = await nats_connect(server)
    pub_nc = await nats_connect(server)
    got = []

    async def cb(msg):
        got.append(msg)

    await sub_nc.subscribe("hdr.test", cb=cb)
    await settle(sub_nc)
    hdrs = {"X-Trace-Id": "abc-123", "Content-Type": "application/json",
            "X-Empty-Body": "yes"}
    await pub_nc.publish("hdr.test", b'{"a":1}', headers=hdrs)
    await pub_nc.publish("hdr.test", b"", headers={"Only": "headers"})
    await async_wait_for(lambda: len(got) == 2)
    assert got[0].data == b'{"a":1}'
    assert got[0].headers == hdrs
    assert got[1].data == b""
    assert got[1].headers == {"Only": "headers"}


async def test_headers_on_request_and_reply(server, nats_connect):
    svc = await nats_connect(server)
    cli = await nats_connect(server)

    async def handler(msg):
        await svc.publish(msg.reply, b"ok",
                          headers={"Echo": msg.headers.get("Ask", "")})

    await svc.subscribe("hdr.svc", cb=handler)
    await settle(svc)
    r = await cli.request("hdr.svc", b"q", timeout=2, headers={"Ask": "v1"})
    assert r.data == b"ok"
    assert r.headers == {"Echo": "v1"}


def test_hpub_to_hmsg_exact(server, raw):
    c = raw(server)
    c.handshake(headers=True)
    c.send(b"SUB foo 1\r\nHPUB foo 18 23\r\nNATS/1.0\r\nA: b\r\n\r\nhello\r\n")
    c.expect(b"HMSG foo 1 18 23\r\nNATS/1.0\r\nA: b\r\n\r\nhello\r\n")


def test_hpub_with_reply_exact(server, raw):
    c = raw(server)
    c.handshake(headers=True)
    c.send(b"SUB foo 1\r\nHPUB foo rep.ly 18 23\r\nNATS/1.0\r\nA: b\r\n\r\nhello\r\n")
    c.expect(b"HMSG foo 1 rep.ly 18 23\r\nNATS/1.0\r\nA: b\r\n\r\nhello\r\n")


def test_hpub_nats_py_form_with_double_space(server, raw):
    c = raw(server)
    c.handshake(headers=True)
    c.send(b"SUB foo 1\r\nHPUB foo  20 23\r\nNATS/1.0\r\nX-A: 1\r\n\r\nbar\r\n")
    c.expect(b"HMSG foo 1 20 23\r\nNATS/1.0\r\nX-A: 1\r\n\r\nbar\r\n")


def test_hpub_headers_and_empty_payload(server, raw):
    c = raw(server)
    c.handshake(headers=True)
    c.send(b"SUB NOTIFY 1\r\nHPUB NOTIFY 22 22\r\nNATS/1.0\r\nBar: Baz\r\n\r\n\r\n")
    c.expect(b"HMSG NOTIFY 1 22 22\r\nNATS/1.0\r\nBar: Baz\r\n\r\n\r\n")


def test_headers_stripped_for_client_without_headers(server, raw):
    old = raw(server)
    old.handshake()  # no headers:true
    old.send(b"SUB foo 1\r\n")
    old.ping_pong()
    new = raw(server)
    new.handshake(headers=True)
    new.send(b"HPUB foo 18 23\r\nNATS/1.0\r\nA: b\r\n\r\nhello\r\n")
    new.send(b"HPUB foo rep 18 23\r\nNATS/1.0\r\nA: b\r\n\r\nhello\r\n")
    old.expect(b"MSG foo 1 5\r\nhello\r\nMSG foo 1 rep 5\r\nhello\r\n")


def test_header_block_is_not_validated(server, raw):
    c = raw(server)
    c.handshake(headers=True)
    c.send(b"SUB foo 1\r\nHPUB foo 5 7\r\nXXXXXab\r\n")
    c.expect(b"HMSG foo 1 5 7\r\nXXXXXab\r\n")


def test_hpub_zero_header_bytes_is_plain_msg(server, raw):
    c = raw(server)
    c.handshake(headers=True)
    c.send(b"SUB foo 1\r\nHPUB foo 0 5\r\nhello\r\n")
    c.expect(b"MSG foo 1 5\r\nhello\r\n")


def test_hpub_without_headers_negotiated_closes_silently(server, raw):
    c = raw(server)
    c.handshake()  # headers not negotiated
    c.send(b"HPUB foo 18 23\r\nNATS/1.0\r\nA: b\r\n\r\nhello\r\n")
    assert c.assert_closed() == b""


def test_hpub_header_size_larger_than_total_closes_silently(server, raw):
    c = raw(server)
    c.handshake(headers=True)
    c.send(b"HPUB foo 24 23\r\n")
    assert c.assert_closed() == b""


def test_plain_msg_to_header_client_stays_msg(server, raw):
    c = raw(server)
    c.handshake(headers=True)
    c.send(b"SUB foo 1\r\nPUB foo 2\r\nhi\r\n")
    c.expect(b"MSG foo 1 2\r\nhi\r\n")
