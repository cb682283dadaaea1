"""06 payload: max_payload at and past the limit, binary payloads, framing.

spec/client-protocol.md §1, §5, §6, §14; the nats-py guide's 1 MB example.
"""

import os

import nats.errors
import pytest

from conftest import async_wait_for, settle

MAX = 1048576


async def test_exactly_max_payload_passes(server, nats_connect):
    sub_nc = await nats_connect(server)
    pub_nc = await nats_connect(server)
    assert pub_nc.max_payload == MAX
    got = []

    async def cb(msg):
        got.append(msg.data)

    await sub_nc.subscribe("big", cb=cb)
    await settle(sub_nc)
    data = os.urandom(MAX)
    await pub_nc.publish("big", data)
    await settle(pub_nc)
    await async_wait_for(lambda: got, what="1 MB message")
    assert got[0] == data


async def test_larger_than_max_payload_refused_by_nats_py(server, nats_connect):
    nc = await nats_connect(server)
    with pytest.raises(nats.errors.MaxPayloadError):
        await nc.publish("big", b"x" * (MAX + 1))
    await nc.flush(timeout=2)  # still connected and usable
    assert nc.is_connected


def test_raw_pub_over_max_payload(server, raw):
    c = raw(server)
    c.handshake()
    # Checked on the control line, before any payload byte arrives.
    c.send(b"PUB foo %d\r\n" % (MAX + 1))
    assert c.assert_closed() == b"-ERR 'Maximum Payload Violation'\r\n"


def test_raw_pub_far_over_max_payload(server, raw):
    c = raw(server)
    c.handshake()
    c.send(b"PUB foo 2000000\r\n")
    assert c.assert_closed() == b"-ERR 'Maximum Payload Violation'\r\n"


def test_raw_hpub_total_over_max_payload(server, raw):
    c = raw(server)
    c.handshake(headers=True)
    c.send(b"HPUB foo 12 %d\r\n" % (MAX + 1))
    assert c.assert_closed() == b"-ERR 'Maximum Payload Violation'\r\n"


def test_raw_exactly_max_payload_delivered(server, raw):
    c = raw(server)
    c.handshake()
    data = bytes(range(256)) * (MAX // 256)
    c.send(b"SUB foo 1\r\nPUB foo %d\r\n" % MAX + data + b"\r\n")
    c.expect(b"MSG foo 1 %d\r\n" % MAX)
    assert c.read_exact(MAX + 2) == data + b"\r\n"


def test_configured_max_payload(server_factory, raw):
    srv = server_factory.start(config="max_payload: 1k\n")
    c = raw(srv)
    assert c.handshake()["max_payload"] == 1000
    c.send(b"SUB foo 1\r\nPUB foo 1000\r\n" + b"a" * 1000 + b"\r\n")
    c.expect(b"MSG foo 1 1000\r\n" + b"a" * 1000 + b"\r\n")
    c.send(b"PUB foo 1001\r\n")
    assert c.assert_closed() == b"-ERR 'Maximum Payload Violation'\r\n"


def test_payload_may_contain_crlf_and_binary(server, raw):
    c = raw(server)
    c.handshake()
    data = b"PING\r\nPUB x 1\r\n\x00\xff\r\n"
    c.send(b"SUB foo 1\r\nPUB foo %d\r\n" % len(data) + data + b"\r\n")
    c.expect(b"MSG foo 1 %d\r\n" % len(data) + data + b"\r\n")
    c.assert_open()


def test_protocol_split_into_single_bytes(server, raw):
    c = raw(server)
    c.handshake(headers=True)
    stream = (b"SUB foo 1\r\nPUB foo bar 11\r\nhello world\r\n"
              b"HPUB foo 12 14\r\nNATS/1.0\r\n\r\nhi\r\nPING\r\n")
    for b in stream:
        c.send(bytes([b]))
    c.expect(b"MSG foo 1 bar 11\r\nhello world\r\n"
             b"HMSG foo 1 12 14\r\nNATS/1.0\r\n\r\nhi\r\nPONG\r\n")


def test_large_payload_in_uneven_chunks(server, raw):
    c = raw(server)
    c.handshake()
    data = os.urandom(300000)
    stream = b"SUB foo 1\r\nPUB foo %d\r\n" % len(data) + data + b"\r\nPING\r\n"
    i, step = 0, 1
    while i < len(stream):
        c.send(stream[i:i + step])
        i += step
        step = step * 3 % 65521 + 1
    c.expect(b"MSG foo 1 %d\r\n" % len(data))
    assert c.read_exact(len(data) + 2) == data + b"\r\n"
    c.expect(b"PONG\r\n")


def test_many_messages_in_one_write(server, raw):
    c = raw(server)
    c.handshake()
    n = 5000
    c.send(b"SUB foo 1\r\n" + b"PUB foo 3\r\nabc\r\n" * n + b"PING\r\n")
    frame = b"MSG foo 1 3\r\nabc\r\n"
    assert c.read_exact(len(frame) * n, timeout=10) == frame * n
    c.expect(b"PONG\r\n")
