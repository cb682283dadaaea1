"""Fixtures for Tern's cluster (route) tests.

Every test starts real server processes on 127.0.0.1 that form a cluster
over real route connections, and talks to them with nats-py and raw sockets.
The binary is chosen per node:

  TERN_REFERENCE=1   every node is /usr/sbin/nats-server (or $NATS_SERVER);
                     this is how the suite itself is validated;
  otherwise          every node is ternd ($TERND, else the ternd of the top
                     source directory), except where a test asks for
                     nats-server nodes explicitly (test_06_mixed).

`cluster` is the one way to start nodes. `cluster.start(n)` picks free
client, cluster and monitoring ports for n nodes named A, B, C, ...,
starts them with nats-server-style flags (`-a 127.0.0.1 -p -m -n --cluster
--cluster_name --routes`, plus `-c` for a config file), waits until each
accepts clients, accepts TCP on its cluster port and answers /varz, then
polls /routez until the full mesh is formed. Nothing waits a fixed time.

At teardown every node still running is stopped (SIGTERM, then SIGKILL),
and the test fails if a node exited by itself during the test, or died
from a signal the test did not send (a crash).

This module is deliberately independent of tests/integration/conftest.py:
the two suites share ideas, not code.
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
NATS_SERVER = os.environ.get("NATS_SERVER", "/usr/sbin/nats-server")
TERND = os.environ.get("TERND") or str(HERE.parent.parent / "ternd")

TERND_KIND = "ternd"
NATS_KIND = "nats-server"
DEFAULT_KIND = NATS_KIND if REFERENCE else TERND_KIND

CLUSTER_NAME = "TERNC"
START_TIMEOUT = 10.0   # a node accepts clients, routes and HTTP
MESH_TIMEOUT = 15.0    # routes are redialled every second; allow a few rounds
STOP_TIMEOUT = 5.0     # SIGTERM to SIGKILL
IO_TIMEOUT = 5.0       # waiting for an expected message or state

# TERN_CLUSTER_TLS=1: every node gets cluster { tls {} } with a certificate
# of one CA made here (unless a test gives it a block of its own), so the
# suites run with routes and raft over TLS. Tests that speak plain TCP to
# the route port (test_07_route_port.py, parts of test_13_cluster_tls.py)
# cannot run in this mode.
ALL_TLS = os.environ.get("TERN_CLUSTER_TLS") == "1"
_all_tls_dir = None


def all_tls_lines(node):
    """The cluster { tls {} } lines of TERN_CLUSTER_TLS=1 for node."""
    global _all_tls_dir
    import atexit
    import shutil
    import tempfile
    if _all_tls_dir is None:
        d = Path(tempfile.mkdtemp(prefix="tern-cluster-tls."))
        atexit.register(shutil.rmtree, d, True)

        def ossl(*args):
            subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True)
        ossl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-keyout",
             "ca.key", "-out", "ca.pem", "-subj", "/CN=tern-test-ca")
        ossl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "node.key", "-out",
             "node.csr", "-subj", "/CN=node")
        (d / "node.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n"
                                    "extendedKeyUsage=serverAuth,clientAuth\n")
        ossl("x509", "-req", "-in", "node.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
             "-set_serial", "1", "-days", "2", "-out", "node.pem", "-extfile", "node.ext")
        _all_tls_dir = d
    d = _all_tls_dir
    return [f'cert_file: "{d / "node.pem"}"', f'key_file: "{d / "node.key"}"',
            f'ca_file: "{d / "ca.pem"}"']


ROUTE_USER = "ruser"
ROUTE_PASS = "rpass"

# Measurements reported at the end of the run (see pytest_terminal_summary).
REPORT = []


def report(line):
    REPORT.append(line)


# --------------------------------------------------------------------------
# polling helpers (never a fixed sleep)
# --------------------------------------------------------------------------

def wait_for(cond, timeout=IO_TIMEOUT, interval=0.02, what="condition"):
    """Poll `cond()` until it returns something truthy; return that."""
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() >= deadline:
            detail = what() if callable(what) else what
            raise AssertionError(f"timed out after {timeout}s waiting for {detail}")
        time.sleep(interval)


async def async_wait_for(cond, timeout=IO_TIMEOUT, interval=0.02, what="condition"):
    """Like wait_for, but lets the event loop run between polls.

    `cond` may be a plain function or return an awaitable.
    """
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if asyncio.iscoroutine(v):
            v = await v
        if v:
            return v
        if time.monotonic() >= deadline:
            detail = what() if callable(what) else what
            raise AssertionError(f"timed out after {timeout}s waiting for {detail}")
        await asyncio.sleep(interval)


# --------------------------------------------------------------------------
# raw sockets (route port tests)
# --------------------------------------------------------------------------

class Closed(Exception):
    """The peer closed the connection."""


class RawConn:
    """A plain TCP connection with timeout-bound readers."""

    def __init__(self, port, timeout=IO_TIMEOUT):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.timeout = timeout
        self.buf = b""
        self.eof = False

    @property
    def local_port(self):
        return self.sock.getsockname()[1]

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def _fill(self, deadline):
        if self.eof:
            raise Closed(f"closed; unread {self.buf[:200]!r}")
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
            raise Closed(f"closed; unread {self.buf[:200]!r}")
        self.buf += chunk

    def read_line(self, timeout=None):
        deadline = time.monotonic() + (timeout or self.timeout)
        while b"\n" not in self.buf:
            self._fill(deadline)
        i = self.buf.index(b"\n") + 1
        line, self.buf = self.buf[:i], self.buf[i:]
        return line

    def read_info(self):
        """The INFO line a route port sends on accept, parsed."""
        line = self.read_line()
        assert line.startswith(b"INFO ") and line.endswith(b"\r\n"), line
        return json.loads(line[5:].strip())

    def read_until_closed(self, timeout=None):
        """Everything sent until EOF; fails if the peer keeps it open."""
        deadline = time.monotonic() + (timeout or self.timeout)
        try:
            while True:
                self._fill(deadline)
        except Closed:
            pass
        data, self.buf = self.buf, b""
        return data

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def route_connect(name="NFAKEROUTE", cluster=CLUSTER_NAME, **extra):
    """A route CONNECT line as a node dialling a route sends it."""
    obj = {"echo": True, "verbose": False, "pedantic": False, "tls_required": False,
           "headers": True, "name": name, "cluster": cluster}
    obj.update(extra)
    return b"CONNECT " + json.dumps(obj).encode() + b"\r\n"


def fake_info(server_id="NFAKEROUTE", cluster_name=CLUSTER_NAME, port=1, **extra):
    """A route INFO line for a node that does not exist."""
    obj = {"server_id": server_id, "server_name": "fake", "version": "2.9.10",
           "proto": 2, "go": "x", "host": "127.0.0.1", "port": port, "headers": True,
           "max_payload": 1048576, "cluster": cluster_name}
    obj.update(extra)
    return b"INFO " + json.dumps(obj).encode() + b"\r\n"


@pytest.fixture
def raw():
    """Factory for RawConn connections to a port, closed at teardown."""
    conns = []

    def make(port, **kw):
        c = RawConn(port, **kw)
        conns.append(c)
        return c

    yield make
    for c in conns:
        c.close()


# --------------------------------------------------------------------------
# nodes
# --------------------------------------------------------------------------

class Node:
    """One cluster node: fixed name and ports, restartable."""

    def __init__(self, factory, name, kind):
        self.factory = factory
        self.name = name
        self.kind = kind
        self.binary = TERND if kind == TERND_KIND else NATS_SERVER
        self.port = free_port()
        self.cluster_port = free_port()
        self.http_port = free_port()
        self.cluster_name = CLUSTER_NAME
        self.routes = []          # route URLs (strings)
        self.route_auth = None    # (user, password) for cluster authorization
        # lines of a cluster { tls {} } block (None: plain routes)
        self.cluster_tls = all_tls_lines(self) if ALL_TLS else None
        self.quiet = True         # nats-server: no system account traffic
        self.extra_args = []
        self.extra_conf = []      # more config-file lines
        self.env = {}             # more environment variables
        self.proc = None
        self.starts = 0
        self.log_path = None
        self.args = []
        self.server_id = None
        self.expected_exit = False  # set when the test stops/kills the node
        self.problems = []

    # ---- addressing
    @property
    def url(self):
        return f"nats://127.0.0.1:{self.port}"

    @property
    def client_hostport(self):
        return f"127.0.0.1:{self.port}"

    def route_url(self, auth=None):
        cred = f"{auth[0]}:{auth[1]}@" if auth else ""
        return f"nats-route://{cred}127.0.0.1:{self.cluster_port}"

    def __repr__(self):
        return f"<{self.name} {self.kind} c={self.port} r={self.cluster_port} m={self.http_port}>"

    # ---- command line
    def _config_text(self):
        lines = []
        if self.quiet:
            # Only nats-server has a system account that sends periodic
            # events over routes; without it, route message counters move
            # only for test traffic. ternd accepts (and ignores) the key.
            lines.append("no_system_account: true")
        if self.cluster_in_config():
            # nats-server's --cluster flag would reset cluster credentials
            # taken from a config file, so the whole cluster block lives here.
            routes = ", ".join(json.dumps(r) for r in self.routes)
            lines += [
                "cluster {",
                f"  name: {self.cluster_name}",
                f"  listen: \"127.0.0.1:{self.cluster_port}\"",
            ]
            if self.route_auth:
                lines += [
                    "  authorization {",
                    f"    user: {self.route_auth[0]}",
                    f"    password: {self.route_auth[1]}",
                    "  }",
                ]
            if self.cluster_tls:
                lines += ["  tls {"] + [f"    {ln}" for ln in self.cluster_tls] + ["  }"]
            lines += [
                f"  routes: [{routes}]",
                "}",
            ]
        lines += self.extra_conf
        return "\n".join(lines) + "\n"

    def cluster_in_config(self):
        return bool(self.route_auth or self.cluster_tls)

    def command(self):
        cmd = [self.binary, "-a", "127.0.0.1", "-p", str(self.port),
               "-m", str(self.http_port), "-n", self.name]
        if not self.cluster_in_config():
            cmd += ["--cluster", f"nats://127.0.0.1:{self.cluster_port}",
                    "--cluster_name", self.cluster_name]
            if self.routes:
                cmd += ["--routes", ",".join(self.routes)]
        text = self._config_text()
        if text.strip():
            cfg = self.factory.workdir / f"{self.name}.conf"
            cfg.write_text(text)
            cmd += ["-c", str(cfg)]
        threads = os.environ.get("TERN_THREADS")
        if self.kind == TERND_KIND and threads:
            cmd += ["--threads", threads]
        return cmd + [str(a) for a in self.extra_args]

    # ---- life cycle
    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def launch(self):
        """Start the process (ports fixed), not waiting for readiness."""
        assert not self.alive(), f"{self.name} is already running"
        self.starts += 1
        self.log_path = self.factory.workdir / f"{self.name}.{self.starts}.log"
        self.args = self.command()
        self.expected_exit = False
        self.server_id = None
        with open(self.log_path, "wb") as out:
            self.proc = subprocess.Popen(self.args, stdin=subprocess.DEVNULL,
                                         stdout=out, stderr=subprocess.STDOUT,
                                         cwd=self.factory.workdir,
                                         env=dict(os.environ, **self.env))

    def wait_ready(self, timeout=START_TIMEOUT):
        """Client port sends INFO, cluster port accepts, /varz answers 200."""
        deadline = time.monotonic() + timeout

        def check():
            if self.proc.poll() is not None:
                raise AssertionError(f"{self.name} exited (rc={self.proc.returncode}) "
                                     f"while starting: {' '.join(self.args)}\n"
                                     + self.log_tail())
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                    s.settimeout(1)
                    if s.recv(5) != b"INFO ":
                        return False
                with socket.create_connection(("127.0.0.1", self.cluster_port), timeout=1):
                    pass
                varz = self.http_json("/varz", timeout=1)
            except (OSError, AssertionError):
                return False
            return varz

        varz = wait_for(check, max(0.1, deadline - time.monotonic()), 0.02,
                        what=lambda: f"{self.name} to start: {' '.join(self.args)}\n"
                        + self.log_tail())
        self.server_id = varz["server_id"]
        return self

    def start(self):
        self.launch()
        return self.wait_ready()

    def kill9(self):
        """SIGKILL the node; returns time.monotonic() of the kill."""
        self.expected_exit = True
        t = time.monotonic()
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(STOP_TIMEOUT)
        return t

    def stop(self):
        """Stop a running node; returns a problem description or None."""
        if self.proc is None:
            return None
        rc = self.proc.poll()
        if rc is not None:
            if self.expected_exit:
                return None
            self.expected_exit = True
            if rc < 0:
                return f"{self.name} ({self.kind}) died from signal {signal.Signals(-rc).name}"
            return f"{self.name} ({self.kind}) exited by itself during the test (rc={rc})"
        self.expected_exit = True
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return f"{self.name} ({self.kind}) ignored SIGTERM for {STOP_TIMEOUT}s"
        if rc < 0 and rc != -signal.SIGTERM:
            return (f"{self.name} ({self.kind}) died from signal "
                    f"{signal.Signals(-rc).name} while stopping")
        # SIGTERM's exit status is 1 (spec/server-cli-config.md, signals);
        # any other status is a failure at shutdown (a sanitizer report:
        # ThreadSanitizer exits 66).
        if rc > 1:
            return f"{self.name} ({self.kind}) exited with status {rc} after SIGTERM"
        return None

    def check_alive(self):
        """Fail now if the node is gone (used after hostile input)."""
        assert self.alive(), (f"{self.name} ({self.kind}) is not running "
                              f"(rc={self.proc.returncode})\n" + self.log_tail())

    # ---- logs
    def log_text(self):
        try:
            return Path(self.log_path).read_text(errors="replace")
        except (FileNotFoundError, TypeError):
            return ""

    def log_tail(self, n=60):
        return "\n".join(self.log_text().splitlines()[-n:])

    def wait_for_log(self, pattern, timeout=IO_TIMEOUT):
        rx = re.compile(pattern)
        return wait_for(lambda: rx.search(self.log_text()), timeout,
                        what=f"log line /{pattern}/ from {self.name}")

    # ---- monitoring
    def http_json(self, path, timeout=IO_TIMEOUT):
        url = f"http://127.0.0.1:{self.http_port}{path}"
        try:
            with urllib.request.urlopen(url, timeout=timeout) as r:
                status, body = r.status, r.read()
        except urllib.error.HTTPError as e:
            status, body = e.code, e.read()
        assert status == 200, f"GET {path} on {self.name} -> {status} {body[:300]!r}"
        return json.loads(body)

    def varz(self):
        return self.http_json("/varz")

    def routez(self, subs=False):
        return self.http_json("/routez" + ("?subs=1" if subs else ""))

    def route_to(self, other, subs=False):
        """This node's /routez entry for its route to `other`, or None."""
        for r in self.routez(subs).get("routes") or []:
            if r.get("remote_id") == other.server_id:
                return r
        return None

    def remote_interest(self, other, queues=False):
        """What `other` has announced to this node, or None without a route:
        its subjects (from /routez?subs=1) and, with `queues`, also
        (subject, queue) pairs for queue interest (from /routez?subs=detail).
        """
        r = self.route_to(other, subs=True)
        if r is None:
            return None
        got = set(r.get("subscriptions_list") or [])
        if queues:
            for d in self.http_json("/routez?subs=detail").get("routes") or []:
                if d.get("remote_id") != other.server_id:
                    continue
                for sub in d.get("subscriptions_list_detail") or []:
                    if sub.get("qgroup"):
                        got.add((sub["subject"], sub["qgroup"]))
        return got

    def route_counters(self, other):
        """(in_msgs, out_msgs) on this node's route to `other`."""
        r = self.route_to(other)
        assert r is not None, f"{self.name} has no route to {other.name}"
        return r["in_msgs"], r["out_msgs"]


class ClusterFactory:
    def __init__(self, workdir):
        self.workdir = workdir
        self.nodes = []

    def new_node(self, name, kind=None):
        node = Node(self, name, kind or DEFAULT_KIND)
        self.nodes.append(node)
        return node

    def start(self, n=3, kinds=None, topology="earlier", names=None,
              quiet=True, route_auth=None, mesh=True, args=None, env=None, conf=None,
              cluster_tls=None):
        """Start n nodes and (by default) wait for the full mesh.

        kinds      per-node binary kind list; default DEFAULT_KIND for all
        topology   "earlier": each node lists every node started before it
                   (the mesh forms without relying on gossip);
                   "seed": every node lists only the first node (the rest of
                   the mesh must come from gossip);
                   "all": every node lists every node, itself included (the
                   common production config: self and duplicate routes)
        quiet      nats-server nodes run without their system account
        route_auth (user, password): cluster authorization on every node,
                   route URLs carry those credentials
        args       per-node lists of extra command-line arguments
        env        extra environment variables for every node
        conf       per-node lists of extra config-file lines (e.g. a
                   websocket block)
        cluster_tls  function(node) -> lines of its cluster { tls {} } block
                   (or None for plain routes)
        """
        names = names or "ABCDEFGH"[:n]
        kinds = kinds or [None] * n
        nodes = [self.new_node(names[i], kinds[i]) for i in range(n)]
        for i, node in enumerate(nodes):
            if topology == "earlier":
                peers = nodes[:i]
            elif topology == "seed":
                peers = nodes[:1] if i else []
            elif topology == "all":
                peers = nodes
            else:
                raise ValueError(topology)
            node.routes = [p.route_url(route_auth) for p in peers]
            node.route_auth = route_auth
            if cluster_tls:
                node.cluster_tls = cluster_tls(node)
            node.quiet = quiet
            if args and args[i]:
                node.extra_args = list(args[i])
            if conf and conf[i]:
                node.extra_conf = list(conf[i])
            node.env = dict(env or {})
        for attempt in range(3):
            for node in nodes:
                node.launch()
            try:
                for node in nodes:
                    node.wait_ready()
                break
            except AssertionError:
                # A port picked as free may have been taken by another
                # process meanwhile (the node then exits, unable to bind);
                # pick new ports only in that case, and at most twice.
                bind_failed = ("in use", "bind failed", "Error listening")
                if attempt == 2 or not any(
                        not nd.alive() and any(b in nd.log_text() for b in bind_failed)
                        for nd in nodes):
                    raise
                for node in nodes:
                    node.stop()
                    node.port, node.cluster_port, node.http_port = \
                        free_port(), free_port(), free_port()
                for i, node in enumerate(nodes):
                    peers = {"earlier": nodes[:i], "seed": nodes[:1] if i else [],
                             "all": nodes}[topology]
                    node.routes = [p.route_url(route_auth) for p in peers]
        if mesh:
            wait_mesh(nodes)
        return nodes

    def stop_all(self):
        return [p for p in (n.stop() for n in self.nodes) if p]


def mesh_state(nodes):
    """Per node: sorted names of the nodes its /routez shows routes to."""
    by_id = {n.server_id: n.name for n in nodes}
    state = {}
    for n in nodes:
        try:
            rz = n.routez()
        except (OSError, AssertionError) as e:
            state[n.name] = f"error {e}"
            continue
        ids = [r.get("remote_id") for r in rz.get("routes") or []]
        state[n.name] = sorted(by_id.get(i, f"?{i}") for i in ids)
    return state


def wait_mesh(nodes, timeout=MESH_TIMEOUT):
    """Until every node shows exactly one route to each other node."""
    want = {n.name: sorted(m.name for m in nodes if m is not n) for n in nodes}

    def ok():
        for n in nodes:
            rz = n.routez()
            ids = [r.get("remote_id") for r in rz.get("routes") or []]
            if rz.get("num_routes") != len(nodes) - 1:
                return False
            if sorted(ids) != sorted(m.server_id for m in nodes if m is not n):
                return False
        return True

    wait_for(ok, timeout, 0.05,
             what=lambda: f"full mesh {want}; /routez shows {mesh_state(nodes)}")


def _describe_interest(node, origin, queues):
    got = node.remote_interest(origin, queues)
    if got is None:
        return f"{node.name} has no route to {origin.name}"
    return f"{node.name} lists {sorted(map(str, got))} from {origin.name}"


def _interest_set(items):
    if isinstance(items, (str, tuple)):
        return {items}
    return set(items)


def wait_interest(node, origin, items, timeout=IO_TIMEOUT):
    """Until `node`'s /routez shows every item announced by `origin`.

    An item is a subject (any interest on it) or a (subject, queue) pair.
    """
    items = _interest_set(items)
    queues = any(isinstance(i, tuple) for i in items)
    wait_for(lambda: items <= (node.remote_interest(origin, queues) or set()), timeout,
             what=lambda: f"{node.name} to list {sorted(map(str, items))} from "
             f"{origin.name}; {_describe_interest(node, origin, queues)}")


def wait_no_interest(node, origin, items, timeout=IO_TIMEOUT):
    """Until `node` no longer lists any of `items` for `origin`."""
    items = _interest_set(items)
    queues = any(isinstance(i, tuple) for i in items)
    wait_for(lambda: not (items & (node.remote_interest(origin, queues) or set())), timeout,
             what=lambda: f"{node.name} to drop {sorted(map(str, items))} from "
             f"{origin.name}; {_describe_interest(node, origin, queues)}")


@pytest.fixture
def cluster(tmp_path, request):
    factory = ClusterFactory(tmp_path)
    request.node.tern_nodes = factory.nodes
    yield factory
    problems = factory.stop_all()
    if problems:
        logs = "\n".join(f"--- {n.name}: {' '.join(n.args)}\n{n.log_tail()}"
                         for n in factory.nodes)
        pytest.fail("; ".join(problems) + "\n" + logs)


# --------------------------------------------------------------------------
# nats-py clients
# --------------------------------------------------------------------------

class Events:
    """Counts of nats-py callbacks for one connection."""

    def __init__(self):
        self.disconnected = 0
        self.reconnected = 0
        self.reconnected_at = []
        self.errors = []

    async def on_disconnected(self):
        self.disconnected += 1

    async def on_reconnected(self):
        self.reconnected += 1
        self.reconnected_at.append(time.monotonic())

    async def on_error(self, e):
        self.errors.append(e)


@pytest.fixture
async def client(cluster):
    """Factory for nats-py connections to one node, closed at teardown.

    Defaults follow the cluster use case: only the given node in the server
    list, reconnect forever with a short wait, callbacks counted in
    `nc.events`. Depends on `cluster` so clients close before nodes stop.
    """
    import nats

    conns = []

    async def make(node, **kw):
        ev = Events()
        kw.setdefault("max_reconnect_attempts", -1)
        kw.setdefault("reconnect_time_wait", 0.2)
        kw.setdefault("connect_timeout", 2)
        kw.setdefault("disconnected_cb", ev.on_disconnected)
        kw.setdefault("reconnected_cb", ev.on_reconnected)
        kw.setdefault("error_cb", ev.on_error)
        nc = await nats.connect(servers=[node.url], **kw)
        nc.events = ev
        conns.append(nc)
        return nc

    yield make
    for nc in conns:
        if not nc.is_closed:
            try:
                await asyncio.wait_for(nc.close(), 5)
            except Exception:
                pass


async def settle(nc):
    """Return once every command `nc` queued has been processed by its server.

    nats-py writes a flush()'s PING directly while other commands may still
    sit in its pending buffer; the second PING goes out after that buffer,
    so its PONG proves the server has seen everything before it.
    """
    await nc.flush(timeout=5)
    await nc.flush(timeout=5)


class Inbox:
    """Collects messages delivered to a subscription callback."""

    def __init__(self):
        self.msgs = []

    async def cb(self, msg):
        self.msgs.append(msg)

    def payloads(self):
        return [m.data for m in self.msgs]

    async def wait_count(self, n, timeout=IO_TIMEOUT):
        await async_wait_for(lambda: len(self.msgs) >= n, timeout,
                             what=lambda: f"{n} messages, have {len(self.msgs)}: "
                             f"{[m.subject for m in self.msgs[-10:]]}")
        return self.msgs


async def publish_numbered(pub, subject, box, n):
    """Publish b"0" .. b"n-1" on subject from pub and check that box (a
    subscriber elsewhere) gets exactly those, in order."""
    for i in range(n):
        await pub.publish(subject, b"%d" % i)
    await settle(pub)
    await box.wait_count(n)
    assert box.payloads() == [b"%d" % i for i in range(n)]


# --------------------------------------------------------------------------
# reporting
# --------------------------------------------------------------------------

@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Attach every node's log to a failed test's report."""
    outcome = yield
    rep = outcome.get_result()
    if rep.failed:
        for n in getattr(item, "tern_nodes", []):
            rep.sections.append((f"{n.name} {n.kind}: {' '.join(n.args)}", n.log_tail(80)))


def pytest_report_header(config):
    tls = "; routes and raft over TLS (TERN_CLUSTER_TLS=1)" if ALL_TLS else ""
    if REFERENCE:
        return f"tern cluster tests: every node is {NATS_SERVER}{tls}"
    return f"tern cluster tests: ternd nodes are {TERND}; mixed test adds {NATS_SERVER}{tls}"


def pytest_terminal_summary(terminalreporter):
    for line in REPORT:
        terminalreporter.write_line(f"tern-cluster: {line}")
