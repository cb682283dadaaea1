"""15 log lines: the startup lines scripts wait for, in nats-server's format
`[pid] yyyy/mm/dd hh:mm:ss.uuuuuu [INF] ...`; and Tern's JSON lines
(--log_json, `log_json: true`), one object a line, for machines.

spec/server-cli-config.md §1.2.
"""

import json
import re
import signal

import pytest

from conftest import REFERENCE, wait_for


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


# ---- JSON lines (Tern's own: nats-server has no such option) ----

RFC3339_US = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}(Z|[+-]\d\d:\d\d)$")
LEVELS = {"fatal", "error", "warn", "info", "debug", "trace"}


def _json_lines(text):
    """Every line of text as a JSON object, checking the fields each has."""
    out = []
    for line in text.splitlines():
        assert line.strip(), "an empty line"
        obj = json.loads(line)
        assert isinstance(obj, dict), line
        assert set(obj) <= {"time", "level", "pid", "remote", "cid", "rid", "stream", "msg",
                            "truncated"}, line
        assert obj["level"] in LEVELS, line
        assert isinstance(obj["msg"], str), line
        out.append(obj)
    return out


@pytest.mark.skipif(REFERENCE, reason="Tern's own option")
def test_json_lines_on_stderr(server_factory, raw):
    srv = server_factory.start("--log_json", "-DV")
    srv.wait_for_log(r'"msg":"Server is ready"')
    c = raw(srv)
    c.handshake()
    c.send("SUB foo 1\r\nPUB foo 2\r\nhi\r\n")
    c.expect(b"MSG foo 1 2\r\nhi\r\n")
    c.close()
    srv.wait_for_log(r'"msg":"Client connection closed')
    lines = _json_lines(srv.log_text())
    assert all(RFC3339_US.match(o["time"]) for o in lines)
    assert all(o["pid"] == srv.pid for o in lines)
    msgs = [o["msg"] for o in lines]
    assert f"Listening for client connections on 127.0.0.1:{srv.port}" in msgs
    assert msgs.index("Server is ready") > msgs.index(
        f"Listening for client connections on 127.0.0.1:{srv.port}")
    # The connection's lines carry its address and cid as fields, not text.
    conn = [o for o in lines if o.get("cid") is not None]
    # (The first is the start-up probe's; ours is the last.)
    created = [o for o in conn if o["msg"] == "Client connection created"]
    assert created and all(o["level"] == "debug" for o in created)
    cid = created[-1]["cid"]
    assert isinstance(cid, int) and re.match(r"^127\.0\.0\.1:\d+$", created[-1]["remote"])
    # -V traces the protocol, each line with the same fields.
    traced = [o for o in conn if o["cid"] == cid and o["level"] == "trace"]
    assert any("SUB foo 1" in o["msg"] for o in traced), traced
    assert all(o["remote"] == created[-1]["remote"] for o in conn if o["cid"] == cid)


@pytest.mark.skipif(REFERENCE, reason="Tern's own option")
async def test_json_lines_in_a_log_file_from_the_config(server_factory, tmp_path, nats_connect):
    log = tmp_path / "tern.log"
    srv = server_factory.start(jetstream=True, config=f"""
log_json: true
logtime_utc: true
debug: true
log_file: "{log}"
""")
    wait_for(lambda: "Server is ready" in srv.log_text(log), what="the ready line in the file")
    nc = await nats_connect(srv)
    js = nc.jetstream()
    await js.add_stream(name="ORDERS", subjects=["o.>"])
    await js.publish("o.1", b"x")
    await nc.close()

    def closed_line():
        # The start-up readiness probe's connection closes too (with
        # another reason): wait for this client's line itself.
        return [o for o in _json_lines(srv.log_text(log))
                if o.get("cid") and o["msg"] == "Client connection closed: Client Closed"]
    wait_for(closed_line, what="the client's close line, with its cid")
    lines = _json_lines(srv.log_text(log))
    assert all(RFC3339_US.match(o["time"]) and o["time"].endswith("Z") for o in lines)
    msgs = [o["msg"] for o in lines]
    assert "Server is ready" in msgs and "Starting JetStream" in msgs
    assert srv.log_text().strip() == "", "stderr stays empty when logging to a file"


@pytest.mark.skipif(REFERENCE, reason="Tern's own option")
def test_json_lines_without_time(server_factory):
    srv = server_factory.start("--log_json", "-T=false")
    srv.wait_for_log(r'"msg":"Server is ready"')
    lines = _json_lines(srv.log_text())
    assert lines and all("time" not in o for o in lines)


@pytest.mark.skipif(REFERENCE, reason="Tern's own option")
def test_sighup_switches_to_json_lines(server_factory):
    srv = server_factory.start(config="log_json: false\n")
    srv.wait_for_log(r"\[INF\] Server is ready")
    srv.config_path.write_text("log_json: true\n")
    srv.send_signal(signal.SIGHUP)
    srv.wait_for_log(r'"msg":"Reloaded server configuration"')
    lines = srv.log_text().splitlines()
    first_json = next(i for i, line in enumerate(lines) if line.startswith("{"))
    assert all(line.startswith("[") for line in lines[:first_json])
    _json_lines("\n".join(lines[first_json:]))
