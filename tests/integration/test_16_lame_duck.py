"""16 lame duck mode (SIGUSR2) on one node: clients that may hear async INFO
get one with "ldm":true, the listener closes at once, the clients are closed
after the grace period, and the server exits 0 when none is left. Clients
that have not seen their first PONG, or speak protocol 0, get no INFO.

spec/client-protocol.md §2.3 and §3.3; spec/server-cli-config.md §5.
"""

import json
import signal
import socket
import time

from conftest import async_wait_for, wait_for

# The shortest duration nats-server accepts, and a short grace period so the
# whole sequence fits in a few seconds.
LDM_CONF = 'lame_duck_duration: "30s"\nlame_duck_grace_period: "1s"\n'


def refused(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return False
    except ConnectionRefusedError:
        return True


def test_sigusr2_announces_stops_accepting_closes_and_exits(server_factory, raw):
    srv = server_factory.start(config=LDM_CONF)
    ready = raw(srv)
    ready.handshake()                       # protocol 1, first PONG seen
    old = raw(srv)
    old.handshake(protocol=0)               # protocol 0: never async INFO
    t0 = time.monotonic()
    srv.send_signal(signal.SIGUSR2)

    line = ready.read_line(timeout=5)
    assert line.startswith(b"INFO {") and line.endswith(b"} \r\n"), line
    info = json.loads(line[5:-3])
    assert info["ldm"] is True
    assert "connect_urls" not in info       # alone: no other node to offer
    wait_for(lambda: refused(srv.port), timeout=5, what="listener closed")

    # Both clients are closed once the grace period is over, and then the
    # node exits on its own with status 0.
    assert ready.read_until_closed(timeout=10) == b""
    assert old.read_until_closed(timeout=10) == b""   # and it got no INFO
    assert time.monotonic() - t0 >= 0.9, "closed before the grace period"
    rc = srv.wait_exit(10)
    srv.stopped = True
    assert rc == 0
    srv.wait_for_log("Entering lame duck mode")


def test_no_async_info_before_the_first_pong(server_factory, raw):
    srv = server_factory.start(config=LDM_CONF)
    c = raw(srv)
    c.read_info()
    c.connect()                             # CONNECT, but no PING yet
    srv.send_signal(signal.SIGUSR2)
    srv.wait_for_log("Entering lame duck mode")
    c.send(b"PING\r\n")
    # Its first PONG must come with no INFO ahead of it (nats-py reads the
    # line after CONNECT+PING and expects PONG).
    assert c.read_line(timeout=5) == b"PONG\r\n"
    # After that PONG the client may hear async INFO, so the announcement
    # may follow if the PING won the race with it; nothing else may.
    rest = c.read_until_closed(timeout=10)
    assert rest == b"" or (rest.startswith(b"INFO {") and rest.count(b"\r\n") == 1
                           and b'"ldm":true' in rest), rest
    srv.wait_exit(10)
    srv.stopped = True


def test_sigterm_is_ignored_in_lame_duck_mode(server_factory, raw):
    srv = server_factory.start(config=LDM_CONF)
    c = raw(srv)
    c.handshake()
    srv.send_signal(signal.SIGUSR2)
    assert json.loads(c.read_line(timeout=5)[5:-3])["ldm"] is True
    srv.send_signal(signal.SIGTERM)
    # Still in lame duck mode: the client is closed after the grace period,
    # not at once, and the exit status is lame duck's 0, not SIGTERM's 1.
    c.read_until_closed(timeout=10)
    assert srv.wait_exit(10) == 0
    srv.stopped = True


async def test_nats_py_lame_duck_callback_fires(server_factory, nats_connect):
    srv = server_factory.start(config=LDM_CONF)
    calls = []

    async def on_ldm():
        calls.append(time.monotonic())

    await nats_connect(srv, lame_duck_mode_cb=on_ldm)
    srv.send_signal(signal.SIGUSR2)
    await async_wait_for(lambda: calls, timeout=5, what="lame duck callback")
    assert len(calls) == 1
    srv.wait_exit(10)
    srv.stopped = True
