"""04 request/reply: the guide's api.process service, timeouts, no responders.

spec/client-protocol.md §9 (no responders), §12.3 (muxed inbox).
"""

import asyncio

import nats.errors
import pytest

from conftest import settle


async def test_guide_request_reply(server, nats_connect):
    svc = await nats_connect(server, name="service")
    cli = await nats_connect(server, name="client")

    async def handler(msg):
        await msg.respond(b"processed:" + msg.data)

    await svc.subscribe("api.process", cb=handler)
    await settle(svc)
    reply = await cli.request("api.process", b"job-1", timeout=2)
    assert reply.data == b"processed:job-1"
    reply = await cli.request("api.process", b"job-2", timeout=2)
    assert reply.data == b"processed:job-2"


async def test_many_concurrent_requests_get_their_own_replies(server, nats_connect):
    svc = await nats_connect(server)
    cli = await nats_connect(server)

    async def handler(msg):
        await msg.respond(msg.data[::-1])

    await svc.subscribe("api.rev", cb=handler)
    await settle(svc)
    payloads = [f"req-{i}".encode() for i in range(50)]
    replies = await asyncio.gather(*(cli.request("api.rev", p, timeout=5) for p in payloads))
    assert [r.data for r in replies] == [p[::-1] for p in payloads]


async def test_request_timeout_when_responder_too_slow(server, nats_connect):
    svc = await nats_connect(server)
    cli = await nats_connect(server)
    seen = []

    async def slow(msg):
        seen.append(msg)  # never answers within the requester's timeout

    await svc.subscribe("api.slow", cb=slow)
    await settle(svc)
    with pytest.raises(nats.errors.TimeoutError):
        await cli.request("api.slow", b"x", timeout=0.3)
    assert len(seen) == 1  # it was delivered; only the reply was late


async def test_no_responders_error(server, nats_connect):
    cli = await nats_connect(server)
    with pytest.raises(nats.errors.NoRespondersError):
        await cli.request("api.nobody", b"x", timeout=2)


async def test_queue_group_responders(server, nats_connect):
    svc = await nats_connect(server)
    cli = await nats_connect(server)
    calls = []

    for name in ("a", "b"):
        async def handler(msg, name=name):
            calls.append(name)
            await msg.respond(name.encode())
        await svc.subscribe("api.q", queue="svc", cb=handler)
    await settle(svc)
    for _ in range(10):
        r = await cli.request("api.q", b"", timeout=2)
        assert r.data in (b"a", b"b")
    assert len(calls) == 10  # one responder per request


def test_no_responders_exact_bytes(server, raw):
    c = raw(server)
    c.handshake(headers=True, no_responders=True)
    c.send(b"SUB _INBOX.abc.* 2\r\nPUB nobody.home _INBOX.abc.r1 1\r\nx\r\n")
    c.expect(b"HMSG _INBOX.abc.r1 2 16 16\r\nNATS/1.0 503\r\n\r\n\r\n")


def test_no_responders_nothing_without_reply_subscription(server, raw):
    c = raw(server)
    c.handshake(headers=True, no_responders=True)
    c.send(b"SUB other 1\r\nPUB nobody.home _INBOX.abc.r1 1\r\nx\r\nPING\r\n")
    assert c.read_line() == b"PONG\r\n"
    # The 503 would be queued before the PONG; a short extra look makes sure
    # nothing trails it either.
    assert c.read_for(0.2) == b""


def test_no_responders_needs_the_connect_flag(server, raw):
    c = raw(server)
    c.handshake(headers=True)
    c.send(b"SUB _INBOX.abc.* 2\r\nPUB nobody.home _INBOX.abc.r1 1\r\nx\r\nPING\r\n")
    assert c.read_line() == b"PONG\r\n"


def test_no_503_when_someone_receives(server, raw):
    c = raw(server)
    c.handshake(headers=True, no_responders=True)
    c.send(b"SUB _INBOX.abc.* 2\r\nSUB svc 3\r\nPUB svc _INBOX.abc.r1 1\r\nx\r\nPING\r\n")
    c.expect(b"MSG svc 3 _INBOX.abc.r1 1\r\nx\r\nPONG\r\n")


def test_no_responders_uses_plain_subscription_not_queue(server, raw):
    # Only a plain (non-queue) subscription of the requester on the reply
    # subject gets the 503.
    c = raw(server)
    c.handshake(headers=True, no_responders=True)
    c.send(b"SUB _INBOX.q.* grp 1\r\nPUB nobody _INBOX.q.r 1\r\nx\r\nPING\r\n")
    assert c.read_line() == b"PONG\r\n"
    c.send(b"SUB _INBOX.q.* 2\r\nPUB nobody _INBOX.q.r 1\r\nx\r\n")
    c.expect(b"HMSG _INBOX.q.r 2 16 16\r\nNATS/1.0 503\r\n\r\n\r\n")


def test_reply_reaches_requester_raw(server, raw):
    req = raw(server)
    req.handshake(headers=True, no_responders=True)
    rsp = raw(server)
    rsp.handshake()
    rsp.send(b"SUB api.process 1\r\n")
    rsp.ping_pong()
    req.send(b"SUB _INBOX.X.* 7\r\nPUB api.process _INBOX.X.1 3\r\nabc\r\n")
    m = rsp.read_msg()
    assert m["line"] == b"MSG api.process 1 _INBOX.X.1 3\r\n"
    # The responder's empty reply field as nats-py writes it: two spaces.
    rsp.send(b"PUB _INBOX.X.1  4\r\ndone\r\n")
    req.expect(b"MSG _INBOX.X.1 7 4\r\ndone\r\n")
