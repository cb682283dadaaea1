"""15 log lines: the startup lines scripts wait for, in nats-server's format
`[pid] yyyy/mm/dd hh:mm:ss.uuuuuu [INF] ...`.

spec/server-cli-config.md §1.2.
"""

import re


def _line(srv, text):
    rx = rf"^\[(\d+)\] (\d{{4}}/\d\d/\d\d \d\d:\d\d:\d\d\.\d{{6}}) \[INF\] {re.escape(text)}$"
    m = srv.wait_for_log(rx.replace("^", "(?m)^", 1))
    assert int(m.group(1)) == srv.pid
    return m


def test_listening_line(server):
    _line(server, f"Listening for client connections on 127.0.0.1:{server.port}")


def test_server_is_ready_line(server):
    _line(server, "Server is ready")


def test_ready_comes_after_listening(server):
    _line(server, "Server is ready")
    text = server.log_text()
    assert text.index("Listening for client connections") < text.index("Server is ready")


def test_every_log_line_has_the_prefix(server_factory, raw):
    srv = server_factory.start("-D")
    c = raw(srv)
    c.handshake()
    c.close()
    _line(srv, "Server is ready")
    srv.wait_for_log(r"\[DBG\]")
    for line in srv.log_text().splitlines():
        if not line.strip():
            continue
        assert re.match(r"^\[\d+\] \d{4}/\d\d/\d\d \d\d:\d\d:\d\d\.\d{6} \[(INF|WRN|ERR|DBG|TRC|FTL)\] ",
                        line), line
