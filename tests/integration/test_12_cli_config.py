"""12 command line and config file: the nats-server flags and conf format
that ternd accepts, checked by their effect on a running server.

spec/server-cli-config.md §1 (flags), §2 (config syntax), §3 (keys used here).
"""

import os
import re
import socket
import time

import pytest

from conftest import IS_TERND, free_port, run_binary, server_cmd_extra, wait_for

VERSION_RE = re.compile(r"^[\w.-]+: v\d+\.\d+\.\d+\S*$", re.M)
LOG_LINE_RE = r"\[\d+\] \d{4}/\d\d/\d\d \d\d:\d\d:\d\d\.\d{6} \[INF\] "


def listening(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


# ---- one-shot commands -----------------------------------------------------

def test_version_flag():
    for flag in ("-v", "--version"):
        r = run_binary(flag)
        assert r.returncode == 0, r
        # "<name>: v<semver>": nats-server prints nats-server: v2.9.10,
        # ternd prints ternd: v...
        assert VERSION_RE.search(r.stdout + r.stderr), (r.stdout, r.stderr)


def test_help_flag():
    for flag in ("-h", "--help"):
        r = run_binary(flag)
        assert r.returncode == 0, r
        out = r.stdout + r.stderr
        assert "Usage" in out or "usage" in out
        for opt in ("--port", "--addr", "--config", "--http_port"):
            assert opt in out, opt


def test_bad_flag_is_refused():
    port = free_port()
    r = run_binary("-a", "127.0.0.1", "-p", str(port), "--no-such-flag")
    out = r.stdout + r.stderr
    assert "no-such-flag" in out, out
    # It exited (run_binary returned) rather than serving.
    assert not listening(port)
    if IS_TERND:
        # nats-server 2.9.10 exits 0 here; Tern's contract is non-zero.
        assert r.returncode != 0


def test_bad_flag_value_is_refused():
    r = run_binary("-p", "notanumber")
    out = r.stdout + r.stderr
    assert "notanumber" in out, out
    if IS_TERND:
        assert r.returncode != 0


def test_check_config_good(tmp_path):
    conf = tmp_path / "good.conf"
    conf.write_text("port: 4222\nmax_payload: 1MB\n")
    r = run_binary("-t", "-c", str(conf))
    assert r.returncode == 0, (r.stdout, r.stderr)


def test_check_config_unknown_key(tmp_path):
    conf = tmp_path / "bad.conf"
    conf.write_text("port: 4222\nbogus_key: 1\n")
    r = run_binary("-t", "-c", str(conf))
    assert r.returncode != 0
    out = r.stdout + r.stderr
    assert re.search(r"bad\.conf:2:1: .*bogus_key", out), out


def test_start_with_unknown_key_fails(tmp_path):
    conf = tmp_path / "bad.conf"
    conf.write_text("# header\n\nmax_payload: 2048\n  bogus_key = 1\n")
    r = run_binary("-c", str(conf), *server_cmd_extra())
    assert r.returncode != 0
    out = r.stdout + r.stderr
    assert re.search(r"bad\.conf:4:3: .*bogus_key", out), out


def test_start_with_unknown_variable_fails(tmp_path):
    conf = tmp_path / "var.conf"
    conf.write_text("server_name: $NOT_DEFINED_ANYWHERE_XYZ\n")
    env = {k: v for k, v in os.environ.items() if k != "NOT_DEFINED_ANYWHERE_XYZ"}
    r = run_binary("-c", str(conf), *server_cmd_extra(), env=env)
    assert r.returncode != 0
    assert "NOT_DEFINED_ANYWHERE_XYZ" in r.stdout + r.stderr


def test_max_payload_above_max_pending_fails(tmp_path):
    conf = tmp_path / "mp.conf"
    conf.write_text("max_payload: 1MB\nmax_pending: 100KB\n")
    r = run_binary("-c", str(conf), *server_cmd_extra())
    assert r.returncode != 0
    assert "max_pending" in r.stdout + r.stderr


# ---- flags on a running server ---------------------------------------------

@pytest.mark.parametrize("form", ["short", "long", "equals"])
def test_addr_and_port_flags(server_factory, raw, form):
    port = free_port()
    args = {"short": ["-a", "127.0.0.1", "-p", str(port)],
            "long": ["--addr", "127.0.0.1", "--port", str(port)],
            "equals": ["--addr=127.0.0.1", f"--port={port}"]}[form]
    srv = server_factory.start(*args, port=port, addr_args=False)
    info = raw(srv).read_info()
    assert info["port"] == port
    assert info["host"] == "127.0.0.1"


@pytest.mark.parametrize("flag", ["-n", "--name", "--server_name"])
def test_name_flag(server_factory, raw, flag):
    srv = server_factory.start(flag, "tern-node-7")
    assert raw(srv).read_info()["server_name"] == "tern-node-7"


@pytest.mark.parametrize("flag", ["-P", "--pid"])
def test_pid_file(server_factory, tmp_path, flag):
    pidfile = tmp_path / "srv.pid"
    srv = server_factory.start(flag, str(pidfile))
    text = wait_for(lambda: pidfile.exists() and pidfile.read_text().strip(),
                    what="pid file")
    assert int(text) == srv.pid


@pytest.mark.parametrize("flag", ["-l", "--log"])
def test_log_file(server_factory, tmp_path, flag):
    logfile = tmp_path / "srv.log"
    srv = server_factory.start(flag, str(logfile))
    srv.wait_for_log(LOG_LINE_RE + "Server is ready", path=logfile)
    text = logfile.read_text()
    assert f"Listening for client connections on 127.0.0.1:{srv.port}" in text


@pytest.mark.parametrize("flag", ["-m", "--http_port"])
def test_http_port_flag(server_factory, flag):
    hport = free_port()
    srv = server_factory.start(flag, str(hport))
    srv.http_port = hport
    wait_for(lambda: listening(hport), what="monitor port")
    assert srv.varz()["port"] == srv.port


def test_http_port_equals_form(server_factory):
    hport = free_port()
    srv = server_factory.start(f"--http_port={hport}")
    srv.http_port = hport
    wait_for(lambda: listening(hport), what="monitor port")
    assert srv.http_get("/healthz")[0] == 200


def _exchange(srv, raw):
    c = raw(srv)
    c.handshake()
    c.send(b"SUB foo 1\r\nPUB foo 2\r\nhi\r\n")
    c.expect(b"MSG foo 1 2\r\nhi\r\n")
    c.close()


@pytest.mark.parametrize("flag", ["-D", "--debug"])
def test_debug_flag(server_factory, raw, flag):
    srv = server_factory.start(flag)
    _exchange(srv, raw)
    srv.wait_for_log(r"\[\d+\] \S+ \S+ \[DBG\] ")


@pytest.mark.parametrize("flag", ["-V", "--trace"])
def test_trace_flag(server_factory, raw, flag):
    srv = server_factory.start(flag)
    _exchange(srv, raw)
    srv.wait_for_log(r"\[\d+\] \S+ \S+ \[TRC\] .*PING")
    srv.wait_for_log(r"\[TRC\] .*SUB foo 1")


def test_no_debug_or_trace_by_default(server_factory, raw):
    srv = server_factory.start()
    _exchange(srv, raw)
    # Proving an absence: give the logger a short moment after the exchange.
    time.sleep(0.2)
    text = srv.log_text()
    assert "[DBG]" not in text and "[TRC]" not in text, text


def test_flags_override_config(server_factory, raw):
    cfg_port, flag_port = free_port(), free_port()
    srv = server_factory.start("-p", str(flag_port), port=flag_port, addr_args=False,
                               config=f"host: 127.0.0.1\nport: {cfg_port}\n"
                                      f"server_name: from-config\n")
    assert raw(srv).read_info()["server_name"] == "from-config"
    assert not listening(cfg_port)


# ---- config file syntax ----------------------------------------------------

def test_config_separators_comments_and_terminators(server_factory, raw):
    port = free_port()
    conf = f"""
# hash comment
// slash comment
host = 127.0.0.1          # equals
port: {port}              // colon
server_name   spaced-key  # whitespace only
max_payload: 4096, max_control_line: 2048; ping_max 3
"""
    srv = server_factory.start(config=conf, port=port, addr_args=False)
    c = raw(srv)
    info = c.handshake()
    assert info["port"] == port
    assert info["server_name"] == "spaced-key"
    assert info["max_payload"] == 4096
    c.send(b"SUB " + b"x" * 2100 + b" 1\r\n")
    assert c.assert_closed() == b"-ERR 'maximum control line exceeded'\r\n"


def test_config_listen_and_quoted_strings(server_factory, raw):
    port = free_port()
    conf = f'listen: "127.0.0.1:{port}"\nserver_name: \'single-quoted\'\n'
    srv = server_factory.start(config=conf, port=port, addr_args=False)
    info = raw(srv).read_info()
    assert info["port"] == port and info["server_name"] == "single-quoted"


def test_config_wrapped_in_braces(server_factory, raw):
    srv = server_factory.start(config="{\n  server_name: braced\n}\n")
    assert raw(srv).read_info()["server_name"] == "braced"


@pytest.mark.parametrize("value,expected", [
    ("512", 512), ("1k", 1000), ("1kb", 1024), ("2KB", 2048), ("3KiB", 3072),
    ("1m", 1000000), ("1MB", 1048576), ("2mib", 2097152),
])
def test_size_units(server_factory, raw, value, expected):
    srv = server_factory.start(config=f"max_payload: {value}\n")
    assert raw(srv).read_info()["max_payload"] == expected


def test_variables_include_blocks_and_arrays(server_factory, raw, tmp_path):
    # Variables (from the file and from the environment), an included file,
    # nested blocks and arrays, all taking effect.
    (tmp_path / "extra.conf").write_text("""
# included: its own variable and a top-level key
NAME: named-by-variable
server_name: $NAME
""")
    conf = """
SECRET = "s3cr3t-from-var"
authorization {
  users = [
    { user: $ENV_USER, password: $SECRET }
    { user: "second", password: 'pw2',
      permissions: { publish: ["allowed.>"], subscribe: ["allowed.>", "_INBOX.>"] } }
  ]
}
include ./extra.conf
"""
    srv = server_factory.start(config=conf, env={"ENV_USER": "envuser"})
    c = raw(srv)
    info = c.read_info()
    assert info["server_name"] == "named-by-variable"
    assert info.get("auth_required") is True
    c.connect(user="envuser", **{"pass": "s3cr3t-from-var"})
    c.ping_pong()
    d = raw(srv)
    d.read_info()
    d.connect(user="second", **{"pass": "pw2"})
    d.send(b"PUB denied 1\r\nx\r\n")
    d.expect(b"-ERR 'Permissions Violation for Publish to \"denied\"'\r\n")
    bad = raw(srv)
    bad.read_info()
    bad.connect(user="envuser", **{"pass": "$SECRET"})
    assert bad.assert_closed() == b"-ERR 'Authorization Violation'\r\n"


def test_environment_variable_values(server_factory, raw):
    srv = server_factory.start(config="max_payload: $TERN_TEST_MAXPAY\n",
                               env={"TERN_TEST_MAXPAY": "2048"})
    assert raw(srv).read_info()["max_payload"] == 2048


def test_booleans_and_nested_blocks(server_factory, raw):
    conf = """
debug: true
trace: off
logtime: yes
authorization {
  token: "blocktoken"
  timeout: 1
}
"""
    srv = server_factory.start(config=conf)
    c = raw(srv)
    assert c.read_info()["auth_required"] is True
    c.connect(auth_token="blocktoken")
    c.ping_pong()
    srv.wait_for_log(r"\[DBG\] ")
