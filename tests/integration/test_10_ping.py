"""10 ping: server PINGs on ping_interval; ping_max unanswered -> stale.

spec/client-protocol.md §2.1 (timers, verified timeline with 1 s / 2).
"""

import asyncio
import time

from conftest import async_wait_for, settle

CONF = """
ping_interval: "1s"
ping_max: 2
"""


def silent_client(srv, raw):
    """Never answers PING: gets PING, PING, -ERR 'Stale Connection', EOF."""
    c = raw(srv)
    c.handshake()
    t_first = None
    lines = []
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        line = c.read_line(timeout=5)
        lines.append(line)
        if line == b"PING\r\n" and t_first is None:
            t_first = time.monotonic()
        if line.startswith(b"-ERR"):
            break
    t_err = time.monotonic()
    assert lines == [b"PING\r\n", b"PING\r\n", b"-ERR 'Stale Connection'\r\n"], lines
    assert c.assert_closed() == b""
    # Two whole intervals between the first PING and the verdict.
    assert t_err - t_first >= 1.5, f"stale after {t_err - t_first:.2f}s"


def answering_client(srv, raw, seconds):
    """Answers every PING: still connected after several intervals."""
    c = raw(srv)
    c.handshake()
    pings = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            line = c.read_line(timeout=max(0.05, deadline - time.monotonic()))
        except AssertionError:
            break  # nothing more before the deadline
        assert line == b"PING\r\n", line
        pings += 1
        c.send(b"PONG\r\n")
    # Servers may skip a PING to a client that was recently active (its
    # PONG counts), so only "pinged at least once and still connected long
    # after ping_max intervals" is required.
    assert pings >= 1, f"no server PING in {seconds}s"
    c.assert_open()


async def test_stale_connection_and_live_clients(server_factory, raw, nats_connect):
    srv = server_factory.start(config=CONF)
    disconnects = []

    async def on_disconnect():
        disconnects.append(time.monotonic())

    nc = await nats_connect(srv, disconnected_cb=on_disconnect)
    # The silent raw client is cut after ~3 s while one that answers and the
    # nats-py client (which answers the server's PINGs itself) stay.
    await asyncio.gather(asyncio.to_thread(silent_client, srv, raw),
                         asyncio.to_thread(answering_client, srv, raw, 4.0))
    assert nc.is_connected and not disconnects
    got = []

    async def cb(msg):
        got.append(msg.data)

    await nc.subscribe("alive", cb=cb)
    await settle(nc)
    await nc.publish("alive", b"yes")
    await async_wait_for(lambda: got == [b"yes"])
    assert not nc.test_errors
