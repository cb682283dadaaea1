"""Shared fixtures for Tern's integration tests.

Every test talks to a real server process on 127.0.0.1 over real sockets.
Which binary runs is chosen once per session:

  TERN_REFERENCE=1   /usr/sbin/nats-server (or $NATS_SERVER), the reference
                     the suite is validated against;
  TERND=<path>       the ternd binary under test (set by `make check`);
  neither            the ternd in the top build directory.

`server_factory` is the one way to start a server: it picks free ports,
passes nats-server-style flags (`-a 127.0.0.1 -p N`, `-m N`, `-c file`),
adds `--threads $TERN_THREADS` when the binary is ternd, waits until the
port accepts connections, keeps stderr in a file for failure reports, and at
teardown stops the process and fails the test if it died from a signal
(SIGSEGV, SIGABRT from a sanitizer, ...) or exited on its own.

`server_factory.start(jetstream=True)` adds `-js -sd <dir>` with a store
directory under the test's tmp_path (`store_dir=` reuses one, e.g. for a
restart after `Server.kill9()`); the `js_server` fixture is one such server.

Clients: `nats_connect` makes nats-py connections that are closed at
teardown; `raw` opens plain sockets with line/byte readers that never block
for longer than their timeout.
"""

import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

import sys

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from ports import free_port  # noqa: E402  (tests/ports.py; re-exported to the tests)

HERE = Path(__file__).resolve().parent

REFERENCE = os.environ.get("TERN_REFERENCE") == "1"
if REFERENCE:
    BINARY = os.environ.get("NATS_SERVER", "/usr/sbin/nats-server")
else:
    BINARY = os.environ.get("TERND") or str(HERE.parent.parent / "ternd")
IS_TERND = not REFERENCE

START_TIMEOUT = 10.0   # seconds for a server to accept connections
STOP_TIMEOUT = 5.0     # seconds between SIGTERM and SIGKILL
IO_TIMEOUT = 5.0       # default wait for an expected byte on a raw socket


# --------------------------------------------------------------------------
# small helpers
# --------------------------------------------------------------------------

def wait_for(cond, timeout=IO_TIMEOUT, interval=0.01, what="condition"):
    """Poll `cond()` until it returns a truthy value; return that value."""
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


async def js_api(nc, subject, body=b"", timeout=2):
    """One JetStream API request: body may be bytes, str, or a dict/list sent
    as JSON; returns the JSON reply as a dict."""
    if isinstance(body, (dict, list)):
        body = json.dumps(body).encode()
    elif isinstance(body, str):
        body = body.encode()
    msg = await nc.request(subject, body, timeout=timeout)
    return json.loads(msg.data)


async def stored_messages(nc, stream, upto):
    """The messages 1..upto a stream holds (gaps skipped), as nats-py's
    get_msg returns them, each with its sequence: [(seq, msg)]."""
    js = nc.jetstream()
    out = []
    for seq in range(1, upto + 1):
        try:
            out.append((seq, await js.get_msg(stream, seq)))
        except Exception:
            continue
    return out


async def wait_stream_messages(nc, stream, count, timeout=15):
    """Poll STREAM.INFO until the stream holds count messages (copies made
    by mirrors and sources arrive after the publish returns); its info."""
    deadline = time.monotonic() + timeout
    while True:
        r = await js_api(nc, f"$JS.API.STREAM.INFO.{stream}")
        if r["state"]["messages"] == count:
            return r
        if time.monotonic() > deadline:
            raise AssertionError(f"{stream} holds {r['state']['messages']}, want {count}: {r}")
        await asyncio.sleep(0.02)


async def async_wait_for(cond, timeout=IO_TIMEOUT, interval=0.01, what="condition"):
    """Like wait_for, but yields to the event loop between polls."""
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(interval)


# Sanitizer builds (run-all.sh sets their options) run several times
# slower: time bounds that separate "near-linear" from "quadratic" scale by
# this, and still fail the slow algorithm by a wide margin.
SLOW = 5 if (os.environ.get("TSAN_OPTIONS") or os.environ.get("ASAN_OPTIONS")) else 1


def server_cmd_extra():
    """Flags added to every server start: the I/O thread count for ternd."""
    threads = os.environ.get("TERN_THREADS")
    if IS_TERND and threads:
        return ["--threads", threads]
    return []


def run_binary(*args, timeout=10, env=None):
    """Run the server binary for a one-shot command (-v, -h, -t, bad flag)."""
    return subprocess.run([BINARY, *args], capture_output=True, text=True,
                          timeout=timeout, env=env)


# --------------------------------------------------------------------------
# raw protocol client
# --------------------------------------------------------------------------

class Closed(Exception):
    """The server closed the connection (EOF or reset)."""


class RawClient:
    """A plain TCP connection with buffered, timeout-bound readers.

    All reads raise AssertionError on timeout and Closed on EOF, so a test
    never hangs and a missing byte is a clear failure.
    """

    def __init__(self, port, host="127.0.0.1", timeout=IO_TIMEOUT, rcvbuf=None):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf is not None:
            # Must be set before connect so the TCP window starts small.
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect((host, port))
        self.timeout = timeout
        self.buf = b""
        self.eof = False

    # ---- writing
    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def pub(self, subject, payload=b"", reply=None, headers=None):
        """PUB, or HPUB when `headers` (dict or (name, value) pairs) is given."""
        if isinstance(payload, str):
            payload = payload.encode()
        rep = f" {reply}" if reply else ""
        if headers is None:
            self.send(f"PUB {subject}{rep} {len(payload)}\r\n".encode() + payload + b"\r\n")
            return
        items = headers.items() if isinstance(headers, dict) else headers
        hdr = b"NATS/1.0\r\n" + b"".join(f"{k}: {v}\r\n".encode() for k, v in items) + b"\r\n"
        self.send(f"HPUB {subject}{rep} {len(hdr)} {len(hdr) + len(payload)}\r\n".encode()
                  + hdr + payload + b"\r\n")

    # ---- reading
    def _fill(self, deadline):
        if self.eof:
            raise Closed(f"connection closed; unread bytes {self.buf[:200]!r}")
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"timed out waiting for data; have {self.buf[:300]!r}")
        self.sock.settimeout(left)
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            raise AssertionError(f"timed out waiting for data; have {self.buf[:300]!r}")
        except (ConnectionResetError, BrokenPipeError):
            chunk = b""
        if not chunk:
            self.eof = True
            raise Closed(f"connection closed; unread bytes {self.buf[:200]!r}")
        self.buf += chunk

    def read_line(self, timeout=None):
        """One line including its CRLF."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while b"\n" not in self.buf:
            self._fill(deadline)
        i = self.buf.index(b"\n") + 1
        line, self.buf = self.buf[:i], self.buf[i:]
        return line

    def read_exact(self, n, timeout=None):
        deadline = time.monotonic() + (timeout or self.timeout)
        while len(self.buf) < n:
            self._fill(deadline)
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def expect(self, data, timeout=None):
        """The next bytes on the wire are exactly `data`."""
        if isinstance(data, str):
            data = data.encode()
        got = self.read_exact(len(data), timeout)
        assert got == data, f"expected {data!r}, got {got!r} (+ {self.buf[:200]!r})"

    def read_info(self):
        line = self.read_line()
        assert line.startswith(b"INFO {") and line.endswith(b"} \r\n"), line
        return json.loads(line[5:-3])

    def read_msg(self, timeout=None, answer_pings=False):
        """Parse one MSG or HMSG frame; returns a dict with the raw line.

        answer_pings: a server PING before the frame is answered and skipped
        (for long-lived connections that wait on timers).
        """
        line = self.read_line(timeout)
        while answer_pings and line == b"PING\r\n":
            self.send(b"PONG\r\n")
            line = self.read_line(timeout)
        parts = line[:-2].split(b" ")
        if parts[0] == b"MSG":
            assert len(parts) in (4, 5), line
            hdr_len, total = 0, int(parts[-1])
        elif parts[0] == b"HMSG":
            assert len(parts) in (5, 6), line
            hdr_len, total = int(parts[-2]), int(parts[-1])
        else:
            raise AssertionError(f"expected MSG/HMSG, got {line!r}")
        body = self.read_exact(total + 2, timeout)
        assert body.endswith(b"\r\n"), body
        nargs = 4 if parts[0] == b"MSG" else 5
        return {
            "op": parts[0].decode(),
            "line": line,
            "subject": parts[1].decode(),
            "sid": parts[2].decode(),
            "reply": parts[3].decode() if len(parts) > nargs else None,
            "headers": body[:hdr_len],
            "payload": body[hdr_len:total],
        }

    def read_until_closed(self, timeout=None):
        """Everything the server still sends, then EOF (asserted)."""
        deadline = time.monotonic() + (timeout or self.timeout)
        try:
            while True:
                self._fill(deadline)
        except Closed:
            pass
        data, self.buf = self.buf, b""
        return data

    def read_for(self, seconds):
        """Whatever arrives within `seconds` (EOF ends it early).

        Only for proving that something does NOT arrive; callers keep
        `seconds` short and say why in a comment.
        """
        deadline = time.monotonic() + seconds
        try:
            while time.monotonic() < deadline:
                try:
                    self._fill(deadline)
                except AssertionError:
                    break
        except Closed:
            pass
        data, self.buf = self.buf, b""
        return data

    # ---- protocol shortcuts
    def handshake(self, **opts):
        """Read INFO, send CONNECT (quiet by default) and PING, expect PONG."""
        info = self.read_info()
        self.connect(**opts)
        self.send(b"PING\r\n")
        self.expect(b"PONG\r\n")
        return info

    def connect(self, **opts):
        obj = {"verbose": False, "pedantic": False, "protocol": 1}
        obj.update(opts)
        self.send(b"CONNECT " + json.dumps(obj).encode() + b"\r\n")

    def ping_pong(self):
        self.send(b"PING\r\n")
        self.expect(b"PONG\r\n")

    def sync(self):
        """PING/PONG round trip that answers and skips PINGs from the server."""
        self.send(b"PING\r\n")
        line = self.read_line()
        while line == b"PING\r\n":
            self.send(b"PONG\r\n")
            line = self.read_line()
        assert line == b"PONG\r\n", f"expected PONG, got {line!r}"

    def assert_open(self):
        """Open both ways: the server still reads and answers. A server
        PING may cross ours (ping_interval timers); it is answered."""
        self.sync()

    def assert_closed(self, timeout=None):
        """The server closes the connection; returns bytes sent before EOF."""
        return self.read_until_closed(timeout)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


# --------------------------------------------------------------------------
# server processes
# --------------------------------------------------------------------------

class Server:
    """One server process started by `server_factory`."""

    def __init__(self, workdir, name):
        self.workdir = workdir
        self.name = name
        self.proc = None
        self.port = None
        self.http_port = None
        self.config_path = None
        self.log_path = workdir / f"{name}.stderr"
        self.args = []
        self.stopped = False
        self.store_dir = None       # JetStream store directory (-sd), if any

    # ---- addressing
    @property
    def url(self):
        return f"nats://127.0.0.1:{self.port}"

    @property
    def pid(self):
        return self.proc.pid

    def raw(self, **kw):
        return RawClient(self.port, **kw)

    # ---- logs
    def log_text(self, path=None):
        try:
            return Path(path or self.log_path).read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def wait_for_log(self, pattern, timeout=IO_TIMEOUT, path=None):
        rx = re.compile(pattern)
        return wait_for(lambda: rx.search(self.log_text(path)), timeout,
                        what=f"log line /{pattern}/ in {path or self.log_path}")

    # ---- monitoring
    def http_get(self, path, timeout=IO_TIMEOUT):
        """(status, content_type, body bytes) for GET on the monitor port."""
        url = f"http://127.0.0.1:{self.http_port}{path}"
        try:
            with urllib.request.urlopen(url, timeout=timeout) as r:
                return r.status, r.headers.get("Content-Type", ""), r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.headers.get("Content-Type", ""), e.read()

    def http_json(self, path):
        status, _, body = self.http_get(path)
        assert status == 200, f"GET {path} -> {status} {body[:300]!r}"
        return json.loads(body)

    def varz(self):
        return self.http_json("/varz")

    def connz(self, query=""):
        return self.http_json("/connz" + (("?" + query) if query else ""))

    # ---- life cycle
    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def send_signal(self, sig):
        self.proc.send_signal(sig)

    def wait_exit(self, timeout):
        """Wait for the process to exit by itself; return its exit code."""
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"{self.name} still running {timeout}s later\n"
                                 + self.log_tail())

    def signal_and_wait(self, sig, timeout=STOP_TIMEOUT):
        """Send `sig`, wait for the exit the test expects; return the code.

        A death by another signal (a crash while shutting down) fails.
        """
        self.proc.send_signal(sig)
        rc = self.wait_exit(timeout)
        self.stopped = True
        assert rc >= 0 or rc == -sig, \
            f"{self.name} died from signal {signal.Signals(-rc).name}\n" + self.log_tail()
        return rc

    def kill9(self, timeout=STOP_TIMEOUT):
        """SIGKILL (a crash the process cannot see coming); wait for it to go."""
        self.proc.send_signal(signal.SIGKILL)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"{self.name} survived SIGKILL for {timeout}s")
        self.stopped = True

    def log_tail(self, n=60):
        lines = self.log_text().splitlines()
        return "\n".join(lines[-n:])

    def stop(self):
        """Stop the process; returns a problem description or None."""
        if self.proc is None or self.stopped:
            return None
        self.stopped = True
        problem = None
        rc = self.proc.poll()
        if rc is not None:
            problem = f"{self.name} exited by itself during the test (rc={rc})"
        else:
            self.proc.send_signal(signal.SIGTERM)
            try:
                rc = self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                return f"{self.name} ignored SIGTERM for {STOP_TIMEOUT}s; killed"
        # Dying from the SIGTERM sent just above is not a crash (test_14
        # checks the handled shutdown); any other signal is.
        if rc is not None and rc < 0 and (problem or rc != -signal.SIGTERM):
            problem = f"{self.name} died from signal {signal.Signals(-rc).name}"
        return problem


def _wait_ready(srv, ports, deadline):
    """Until every port accepts a TCP connection; the client port must send INFO."""
    for port in ports:
        while True:
            if srv.proc.poll() is not None:
                return "exited"
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                    if port == srv.port:
                        s.settimeout(2)
                        first = s.recv(5)
                        if first != b"INFO ":
                            raise AssertionError(f"first bytes {first!r}, not INFO")
                break
            except (ConnectionRefusedError, socket.timeout, ConnectionResetError):
                if time.monotonic() > deadline:
                    return "timeout"
                time.sleep(0.01)
    return "ready"


class ServerFactory:
    def __init__(self, workdir):
        self.workdir = workdir
        self.servers = []
        self.count = 0
        self.stores = 0

    def write_config(self, text, name=None):
        self.count += 1
        path = self.workdir / (name or f"server{self.count}.conf")
        path.write_text(text)
        return path

    def start(self, *args, config=None, port=None, monitor=False, http_port=None,
              addr_args=True, wait=True, env=None, jetstream=False, store_dir=None):
        """Start a server and wait until it accepts connections.

        args       extra command line arguments (nats-server syntax)
        config     config file text (written to tmp_path) or a Path
        port       client port; chosen free when None
        monitor    also pass `-m <free port>` (or use http_port)
        addr_args  pass `-a 127.0.0.1 -p <port>`; False when the test sets
                   address/port itself (then `port` must name it)
        wait       wait for readiness (False: caller checks startup itself)
        jetstream  also pass `-js -sd <store_dir>`; the store directory is a
                   fresh one under tmp_path unless `store_dir` names one
        """
        cfg_path = None
        if isinstance(config, Path):
            cfg_path = config
        elif config is not None:
            cfg_path = self.write_config(config)
        pick_port = port is None
        pick_http = monitor and http_port is None
        if jetstream and store_dir is None:
            self.stores += 1
            store_dir = self.workdir / f"store{self.stores}"
        for attempt in range(5):
            self.count += 1
            srv = Server(self.workdir, f"server{self.count}")
            srv.config_path = cfg_path
            srv.port = free_port() if pick_port else port
            srv.http_port = free_port() if pick_http else http_port
            cmd = [BINARY]
            if addr_args:
                cmd += ["-a", "127.0.0.1", "-p", str(srv.port)]
            if srv.http_port and (monitor or http_port):
                cmd += ["-m", str(srv.http_port)]
            if cfg_path is not None:
                cmd += ["-c", str(cfg_path)]
            if jetstream:
                srv.store_dir = Path(store_dir)
                cmd += ["-js", "-sd", str(store_dir)]
            cmd += [str(a) for a in args]
            cmd += server_cmd_extra()
            srv.args = cmd
            full_env = dict(os.environ)
            if env:
                full_env.update(env)
            with open(srv.log_path, "wb") as errf:
                srv.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                            stdout=errf, stderr=subprocess.STDOUT,
                                            cwd=self.workdir, env=full_env)
            self.servers.append(srv)
            if not wait:
                return srv
            ports = [srv.port] + ([srv.http_port] if srv.http_port else [])
            state = _wait_ready(srv, ports, time.monotonic() + START_TIMEOUT)
            if state == "ready":
                return srv
            srv.stop()
            text = srv.log_text()
            if (pick_port or pick_http) and ("in use" in text or "bind failed" in text):
                continue  # lost the race for a free port; try other ports
            raise AssertionError(f"server did not start ({state}): {' '.join(cmd)}\n"
                                 + text[-3000:])
        raise AssertionError("could not find free ports after 5 attempts")

    def stop_all(self):
        return [p for p in (s.stop() for s in self.servers) if p]


@pytest.fixture
def server_factory(tmp_path, request):
    factory = ServerFactory(tmp_path)
    request.node.tern_servers = factory.servers
    yield factory
    problems = factory.stop_all()
    if problems:
        logs = "\n".join(f"--- {s.name} ({' '.join(s.args)})\n{s.log_tail()}"
                         for s in factory.servers)
        pytest.fail("; ".join(problems) + "\n" + logs)


@pytest.fixture
def server(server_factory):
    """A plain server with default options on a free port."""
    return server_factory.start()


@pytest.fixture
def js_server(server_factory):
    """A server with JetStream enabled and a store directory under tmp_path."""
    return server_factory.start(jetstream=True)


@pytest.fixture
def raw(request):
    """Factory for RawClient connections, closed at teardown."""
    clients = []

    def make(port_or_server, **kw):
        port = getattr(port_or_server, "port", port_or_server)
        c = RawClient(port, **kw)
        clients.append(c)
        return c

    yield make
    for c in clients:
        c.close()


async def settle(nc):
    """Return once everything `nc` has queued (SUB, PUB, UNSUB) reached the server.

    nats-py 2.16 hands a flush()'s PING to its transport at once (over TCP
    and TLS the socket; over WebSocket the transport's queue of messages)
    while other commands wait in a buffer for its flusher task, so the server
    reads that PING before an earlier SUB and one PONG does not prove the SUB
    was processed. The flusher, woken when the SUB was queued, moves the
    buffer to the transport before the first PONG can be read, so the second
    PING goes out after those commands and its PONG comes after the server
    processed them (test_19's test_settle_pings_behind_the_sub checks this
    over WebSocket, where losing the race cost a message under CPU load).
    """
    await nc.flush(timeout=5)
    await nc.flush(timeout=5)


class ErrorLog(list):
    """Collects errors handed to nats-py's error_cb."""

    async def cb(self, err):
        self.append(err)


@pytest.fixture
async def nats_connect():
    """Factory for nats-py connections, closed at teardown.

    Defaults suit tests: no reconnect (a drop must be visible), errors
    collected in `nc.test_errors` instead of being logged.
    """
    import nats

    conns = []

    async def make(server_or_url, **kw):
        url = getattr(server_or_url, "url", server_or_url)
        errs = ErrorLog()
        kw.setdefault("allow_reconnect", False)
        kw.setdefault("max_reconnect_attempts", 0)
        kw.setdefault("connect_timeout", 3)
        kw.setdefault("error_cb", errs.cb)
        nc = await nats.connect(url, **kw)
        nc.test_errors = errs
        conns.append(nc)
        return nc

    yield make
    for nc in conns:
        if not nc.is_closed:
            try:
                await asyncio.wait_for(nc.close(), 5)
            except Exception:
                pass


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Attach the server logs to a failed test's report."""
    outcome = yield
    rep = outcome.get_result()
    if rep.failed and call.when == "call":
        for s in getattr(item, "tern_servers", []):
            rep.sections.append((f"{s.name}: {' '.join(s.args)}", s.log_tail(80)))
