#!/usr/bin/env python3
"""tests/bench/run.py — Tern benchmark runner: ternd against nats-server.

Every measurement gets a fresh server on a free loopback port; each round
runs every case on both servers, swapping which goes first on odd rounds so
slow drift of the machine hits both alike. The load comes from tern-bench
(tests/bench/loadgen.c) with the same flow-control settings for both
servers. Cluster cases start two servers of the same kind, routed together,
with the publisher on one and the subscribers on the other; replicated
JetStream cases start three with JetStream, create an R3 stream, find its
leader and put the client on it or on another node. Prints a markdown
table of medians; exits non-zero when a server dies, a loadgen count check
fails, or anything else goes wrong.
"""
import argparse
import datetime
import fnmatch
import json
import os
import platform
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
NATS_SERVER = "/usr/sbin/nats-server"

# Message counts give each throughput case about 2-3 s on nats-server on a
# 2-core machine: long enough to swamp start-up, short enough for 5 rounds.
# Each case: name, label, kind, tern-bench mode and arguments, metrics
# (result key, unit, True when higher is better).
CASES = [
    ("pub_16", "pub 16 B", "load", ["pub", "-z", "16", "-n", "8000000"],
     [("msgs_per_sec", "msgs/s", True)]),
    ("pub_128", "pub 128 B", "load", ["pub", "-z", "128", "-n", "5000000"],
     [("msgs_per_sec", "msgs/s", True)]),
    ("pubsub_16x1", "pubsub 16 B, 1 sub", "load",
     ["pubsub", "-z", "16", "-k", "1", "-n", "3000000"],
     [("recv_msgs_per_sec", "msgs/s delivered", True)]),
    ("pubsub_128x1", "pubsub 128 B, 1 sub", "load",
     ["pubsub", "-z", "128", "-k", "1", "-n", "3000000"],
     [("recv_msgs_per_sec", "msgs/s delivered", True)]),
    ("pubsub_16x4", "pubsub 16 B, 4 subs", "load",
     ["pubsub", "-z", "16", "-k", "4", "-n", "1500000"],
     [("recv_msgs_per_sec", "msgs/s delivered", True)]),
    ("pubsub_128x4", "pubsub 128 B, 4 subs", "load",
     ["pubsub", "-z", "128", "-k", "4", "-n", "1500000"],
     [("recv_msgs_per_sec", "msgs/s delivered", True)]),
    ("cross_128x1", "cross-node pubsub 128 B, 1 sub", "cluster",
     ["pubsub", "-z", "128", "-k", "1", "-n", "3000000"],
     [("recv_msgs_per_sec", "msgs/s delivered", True)]),
    ("queue_128x4", "queue group of 4, 128 B", "load",
     ["queue", "-z", "128", "-k", "4", "-n", "2000000"],
     [("recv_msgs_per_sec", "msgs/s delivered", True)]),
    ("reqrep_128", "request/reply 128 B", "load", ["reqrep", "-z", "128", "-d", "3"],
     [("p50_us", "p50 µs", False), ("p99_us", "p99 µs", False),
      ("req_per_sec", "req/s", True)]),
    # TLS on the client port: both servers get the same certificate (made
    # once per run with the openssl command) and tern-bench upgrades every
    # connection after INFO.
    ("tls_pubsub_128x1", "TLS pubsub 128 B, 1 sub", "tls",
     ["pubsub", "-z", "128", "-k", "1", "-n", "3000000"],
     [("recv_msgs_per_sec", "msgs/s delivered", True)]),
    ("tls_reqrep_128", "TLS request/reply 128 B", "tls", ["reqrep", "-z", "128", "-d", "3"],
     [("p50_us", "p50 µs", False), ("p99_us", "p99 µs", False),
      ("req_per_sec", "req/s", True)]),
    # JetStream: a file stream on a fresh store directory; Tern syncs to disk
    # before every PubAck, nats-server (by default) does not.
    ("js_pub_async", "JetStream async publish 128 B, 1000 in flight", "js",
     ["jspub", "-z", "128", "-n", "600000", "--window", "1000"],
     [("msgs_per_sec", "msgs/s acked", True)]),
    ("js_pub_sync", "JetStream sync publish 128 B", "js",
     ["jssync", "-z", "128", "-n", "2000"],
     [("p50_us", "p50 µs", False), ("p99_us", "p99 µs", False)]),
    ("js_fetch", "JetStream pull consume + ack 128 B, batch 256", "js",
     ["jsfetch", "-z", "128", "-n", "600000", "--window", "1000"],
     [("msgs_per_sec", "msgs/s acked", True)]),
    # Replicated JetStream: three nodes of one server with JetStream, an R3
    # file stream (run.py creates it and finds its leader: Tern's raft
    # leader, nats-server's stream leader), the client on the node the kind
    # names. Tern acknowledges once a majority has the entry on disk
    # (O_DSYNC) and applied it; nats-server 2.9 once a majority has it in
    # memory, before any sync.
    ("js3_pub_async_follower", "R3 async publish 128 B, 1000 in flight, client on a follower",
     "js3-follower",
     ["jspub", "-z", "128", "-n", "300000", "--window", "1000"],
     [("msgs_per_sec", "msgs/s acked", True)]),
    ("js3_pub_async_leader", "R3 async publish 128 B, 1000 in flight, client on the leader",
     "js3-leader",
     ["jspub", "-z", "128", "-n", "300000", "--window", "1000"],
     [("msgs_per_sec", "msgs/s acked", True)]),
    ("js3_pub_sync", "R3 sync publish 128 B, client on the leader", "js3-leader",
     ["jssync", "-z", "128", "-n", "2000"],
     [("p50_us", "p50 µs", False), ("p99_us", "p99 µs", False)]),
    ("js3_fetch", "R3 pull consume + ack 128 B, batch 256, client on the leader", "js3-leader",
     ["jsfetch", "-z", "128", "-n", "300000", "--window", "1000"],
     [("msgs_per_sec", "msgs/s acked", True)]),
    ("rss_idle", "idle server RSS", "idle", [],
     [("rss_kib", "KiB", False)]),
    ("rss_conn", "RSS per idle connection (1000)", "hold", ["conns", "-c", "1000"],
     [("bytes_per_item", "bytes", False)]),
    ("rss_sub", "RSS per subscription (100k)", "hold", ["subs", "-m", "100000"],
     [("bytes_per_item", "bytes", False)]),
]


class BenchError(Exception):
    """A failed measurement: the message says which server, case and why."""


def quick_args(args):
    """Shrink a case's work by 20x for smoke runs."""
    out, it = [], iter(args)
    for a in it:
        out.append(a)
        if a in ("-n", "-c", "-m"):
            out.append(str(max(int(next(it)) // 20, 50)))
        elif a == "-d":
            out.append(str(float(next(it)) / 6))
    return out


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_kib(server):
    """VmRSS of a live server; a dead one is reported as a crash."""
    server.check_alive("before reading its RSS")
    try:
        with open(f"/proc/{server.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    server.check_alive("while reading its RSS")
    raise BenchError(f"{server.name}: no VmRSS in /proc/{server.proc.pid}/status")


class Server:
    """One server process on a free port; started fresh per measurement."""

    def __init__(self, name, cmd, logdir, extra=()):
        self.name = name
        self.port = free_port()
        self.log_path = os.path.join(logdir, f"{name.replace(' ', '-')}-{self.port}.log")
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(cmd + ["-a", "127.0.0.1", "-p", str(self.port)]
                                     + list(extra),
                                     stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            self._wait_ready()
        except BaseException:
            self._kill_group(signal.SIGKILL)
            self.proc.wait()
            self.log.close()
            raise

    def _wait_ready(self):
        """Ready once a connection gets the INFO line."""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            self.check_alive("while starting")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                    if s.recv(4096).startswith(b"INFO"):
                        return
            except OSError:
                time.sleep(0.05)
        raise BenchError(f"{self.name} did not accept connections within 10 s")

    def log_tail(self):
        self.log.flush()
        with open(self.log_path, "rb") as f:
            return f.read()[-2000:].decode(errors="replace")

    def check_alive(self, when):
        rc = self.proc.poll()
        if rc is not None:
            raise BenchError(f"{self.name} exited with status {rc} {when}; log tail:\n"
                             + self.log_tail())

    def _kill_group(self, sig):
        """Signal the server's own process group, so a wrapper script's
        children go too."""
        try:
            os.killpg(self.proc.pid, sig)
        except ProcessLookupError:
            pass

    def stop(self):
        """Stop it; a death by a signal other than ours is a crash."""
        if self.proc.poll() is None:
            self._kill_group(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self._kill_group(signal.SIGKILL)
                self.proc.wait()
                self.log.close()
                raise BenchError(f"{self.name} ignored SIGTERM for 10 s")
        self._kill_group(signal.SIGKILL)  # leftovers of a wrapper, if any
        self.log.close()
        rc = self.proc.returncode
        if rc < 0 and -rc not in (signal.SIGTERM, signal.SIGKILL):
            raise BenchError(f"{self.name} died of signal {-rc} while stopping")


def check_all_alive(servers, when):
    for srv in servers:
        srv.check_alive(when)


def start_cluster(server_name, cmd, logdir):
    """Two servers of one kind in cluster "bench": node 2 routes to node 1."""
    route = free_port()
    nodes = [Server(f"{server_name} node 1", cmd, logdir,
                    ["--cluster", f"nats://127.0.0.1:{route}", "--cluster_name", "bench"])]
    try:
        nodes.append(Server(f"{server_name} node 2", cmd, logdir,
                            ["--cluster", f"nats://127.0.0.1:{free_port()}",
                             "--cluster_name", "bench", "--routes", f"nats://127.0.0.1:{route}"]))
        # No wait for the route here: tern-bench probes node 1 until it has
        # the subscribers' interest (up to 10 s), which covers the route
        # forming too.
        check_all_alive(nodes, "while forming the cluster")
    except BaseException:
        stop_all(nodes, quiet=True)
        raise
    return nodes


JS3_STREAM = "BENCH"
JS3_SUBJECT = "bench.js3"


def start_js_cluster(server_name, cmd, logdir):
    """Three servers of one kind with JetStream, each its own store, server
    name and cluster port, every node routing to all three (itself too, as
    a production config does). nats-server keeps its default system
    account, which its JetStream cluster needs."""
    names = ["N1", "N2", "N3"]
    cports = []
    while len(cports) < 3:
        p = free_port()
        if p not in cports:
            cports.append(p)
    routes = ",".join(f"nats://127.0.0.1:{p}" for p in cports)
    nodes = []
    try:
        for name, cp in zip(names, cports):
            store = tempfile.mkdtemp(prefix=f"bench-js3-{name}-", dir=logdir)
            srv = Server(f"{server_name} {name}", cmd, logdir,
                         ["-js", "-sd", store, "-n", name,
                          "--cluster", f"nats://127.0.0.1:{cp}", "--cluster_name", "bench",
                          "--routes", routes])
            srv.server_name = name
            nodes.append(srv)
        check_all_alive(nodes, "while forming the cluster")
    except BaseException:
        stop_all(nodes, quiet=True)
        raise
    return nodes


class MiniClient:
    """Just enough of the client protocol for run.py's JetStream API calls
    (creating the R3 stream, reading its info): requests on a private
    inbox, replies matched by their reply subject."""

    def __init__(self, port, timeout=2.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""
        self.seq = 0
        self._line()  # INFO
        self.sock.sendall(b'CONNECT {"verbose":false,"pedantic":false,"protocol":1,'
                          b'"headers":true,"no_responders":true}\r\n'
                          b"SUB _INBOX.run.* 1\r\nPING\r\n")
        while self._line() != b"PONG":
            pass

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise OSError("connection closed")
        self.buf += chunk

    def _line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        if line == b"PING":
            self.sock.sendall(b"PONG\r\n")
        return line

    def _take(self, n):
        while len(self.buf) < n + 2:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def request(self, subject, body):
        """The JSON reply, or None for no responders / no reply in time."""
        self.seq += 1
        inbox = f"_INBOX.run.{self.seq}".encode()
        data = json.dumps(body).encode() if body is not None else b""
        self.sock.sendall(b"PUB %s %s %d\r\n%s\r\n" % (subject.encode(), inbox, len(data),
                                                          data))
        try:
            while True:
                parts = self._line().split()
                if not parts or parts[0] not in (b"MSG", b"HMSG"):
                    continue
                hdr = self._take(int(parts[-1]))
                hlen = int(parts[-2]) if parts[0] == b"HMSG" else 0
                if parts[1] != inbox:
                    continue  # a late reply to an earlier attempt
                if hlen and b" 503" in hdr[:hlen].split(b"\r\n", 1)[0]:
                    return None
                return json.loads(hdr[hlen:] or b"null")
        except socket.timeout:
            return None

    def close(self):
        self.sock.close()


def js3_prepare(nodes, where, timeout=30.0):
    """Create the R3 stream through node 1 (retried while the cluster
    forms), wait until its leader is known and every replica is current,
    and return the node the client is to use: the leader, or a follower."""
    deadline = time.monotonic() + timeout
    cfg = {"name": JS3_STREAM, "subjects": [JS3_SUBJECT], "storage": "file",
           "num_replicas": 3}
    last = None
    client = None
    try:
        while True:
            check_all_alive(nodes, "while forming the JetStream cluster")
            try:
                if client is None:
                    client = MiniClient(nodes[0].port)
                if last is None or "error" in last:
                    last = client.request(f"$JS.API.STREAM.CREATE.{JS3_STREAM}", cfg) or \
                        {"error": "no reply"}
                if "error" not in last:
                    info = client.request(f"$JS.API.STREAM.INFO.{JS3_STREAM}", None) or {}
                    cl = info.get("cluster") or {}
                    reps = cl.get("replicas") or []
                    if cl.get("leader") and len(reps) == 2 and \
                            all(r.get("current") for r in reps):
                        leader = cl["leader"]
                        break
                    last = {"stream_info": info}
            except OSError as e:
                last = {"error": str(e)}
                if client:
                    client.close()
                client = None
            if time.monotonic() > deadline:
                raise BenchError(f"{nodes[0].name}: no R3 stream with a leader and current "
                                 f"replicas within {timeout:.0f} s; last answer: {last}")
            time.sleep(0.1)
    finally:
        if client:
            client.close()
    by_name = {n.server_name: n for n in nodes}
    if leader not in by_name:
        raise BenchError(f"stream leader {leader!r} is none of {sorted(by_name)}")
    if where == "leader":
        return by_name[leader], leader
    follower = next(n for n in nodes if n.server_name != leader)
    return follower, leader


def stop_all(servers, quiet=False):
    """Stop every server; raise the first failure afterwards unless quiet."""
    first = None
    for srv in servers:
        try:
            srv.stop()
        except BenchError as e:
            first = first or e
    if first and not quiet:
        raise first


def loadgen(opts, servers, args, timeout, flow=True):
    """Run tern-bench against servers[0] to completion (any other servers
    only have to stay alive); return its JSON result line. JetStream cases
    bring their own window (PubAcks in flight), so they skip opts.flow."""
    cmd = [opts.loadgen] + args + ["-s", f"127.0.0.1:{servers[0].port}"] + \
        (opts.flow if flow else [])
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        check_all_alive(servers, "during the run")
        raise BenchError(f"tern-bench {' '.join(args)} took over {timeout} s")
    check_all_alive(servers, "during the run")
    if p.returncode != 0:
        raise BenchError(f"tern-bench {' '.join(args)} failed (status {p.returncode}):\n"
                         + p.stderr.strip())
    return json.loads(p.stdout.strip().splitlines()[-1])


def hold_rss(opts, server, args):
    """RSS growth per held connection/subscription, in bytes."""
    time.sleep(0.3)
    before = rss_kib(server)
    cmd = [opts.loadgen] + args + ["-s", f"127.0.0.1:{server.port}"]
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        line = p.stdout.readline()
        if not line:
            p.wait(30)
            server.check_alive("during the run")
            raise BenchError(f"tern-bench {' '.join(args)} failed:\n" + p.stderr.read())
        ready = json.loads(line)
        count = ready.get("conns") or ready.get("subs")
        time.sleep(0.5)  # let the server finish its bookkeeping
        server.check_alive("while holding")
        after = rss_kib(server)
    finally:
        p.stdin.close()
        try:
            p.wait(30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    server.check_alive("after release")
    if p.returncode != 0:
        raise BenchError(f"tern-bench {' '.join(args)} failed while holding:\n"
                         + p.stderr.read())
    ready.update(rss_before_kib=before, rss_after_kib=after,
                 bytes_per_item=(after - before) * 1024.0 / count)
    return ready


def make_certs(logdir):
    """A CA and a server certificate for 127.0.0.1, shared by both servers."""
    d = os.path.join(logdir, "certs")
    os.makedirs(d, exist_ok=True)

    def ossl(*args):
        subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True)
    ossl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-keyout", "ca.key",
         "-out", "ca.pem", "-subj", "/CN=bench CA")
    ossl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out",
         "server.csr", "-subj", "/CN=127.0.0.1")
    with open(os.path.join(d, "san.ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    ossl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
         "-set_serial", "1", "-days", "2", "-out", "server.pem", "-extfile", "san.ext")
    return {"ca": os.path.join(d, "ca.pem"), "server": os.path.join(d, "server.pem"),
            "key": os.path.join(d, "server.key")}


def measure(opts, server_name, cmd, case):
    name, _label, kind, args, _metrics = case
    if opts.quick:
        args = quick_args(args)
    if kind == "cluster":
        srvs = start_cluster(server_name, cmd, opts.logdir)
    elif kind == "js":
        store = tempfile.mkdtemp(prefix="bench-js-", dir=opts.logdir)
        srvs = [Server(server_name, cmd, opts.logdir, ["-js", "-sd", store])]
    elif kind.startswith("js3"):
        srvs = start_js_cluster(server_name, cmd, opts.logdir)
    elif kind == "tls":
        if not getattr(opts, "certs", None):
            opts.certs = make_certs(opts.logdir)
        srvs = [Server(server_name, cmd, opts.logdir,
                       ["--tls", "--tlscert", opts.certs["server"],
                        "--tlskey", opts.certs["key"]])]
        args = args + ["--tls-ca", opts.certs["ca"]]
    else:
        srvs = [Server(server_name, cmd, opts.logdir)]
    srv = srvs[0]
    try:
        if kind == "idle":
            time.sleep(0.5)
            result = {"rss_kib": rss_kib(srv)}
        elif kind == "hold":
            result = hold_rss(opts, srv, args)
        elif kind.startswith("js3"):  # the client on the leader or a follower
            node, leader = js3_prepare(srvs, kind.split("-", 1)[1])
            order = [node] + [n for n in srvs if n is not node]
            result = loadgen(opts, order, args + ["--subject", JS3_SUBJECT, "--no-create"],
                             timeout=180, flow=False)
            result.update(client_node=node.server_name, stream_leader=leader)
        elif kind == "cluster":  # publisher on node 1, subscribers on node 2
            result = loadgen(opts, srvs, args + ["--sub-server", f"127.0.0.1:{srvs[1].port}"],
                             timeout=120)
        else:
            result = loadgen(opts, srvs, args, timeout=120, flow=kind != "js")
        check_all_alive(srvs, "after the run")
    except BaseException:
        stop_all(srvs, quiet=True)  # the first error is the one to report
        raise
    stop_all(srvs)
    return result


def machine():
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{os.cpu_count()} × {model} (nproc {len(os.sched_getaffinity(0))}), " \
           f"Linux {platform.release()}"


def fmt(v):
    if v is None:
        return "FAILED"
    if abs(v) >= 1e3 or v == int(v):
        return f"{v:,.0f}"
    return f"{v:,.1f}"


def table(opts, servers, results, cases, started):
    """Markdown table of medians; ratio ≥ 1.0 means Tern as good or better."""
    out = []
    out.append(f"## Tern vs nats-server — {started:%Y-%m-%d %H:%M} UTC")
    out.append("")
    out.append(f"- machine: {machine()}")
    out.append(f"- servers: {', '.join(f'{n}: `{shlex.join(c)}`' for n, c in servers)}")
    out.append(f"- rounds: {opts.rounds} (median shown){', quick mode' if opts.quick else ''}; "
               f"fresh server per measurement; loadgen flow control: {' '.join(opts.flow)}")
    out.append("")
    names = [n for n, _ in servers]
    head = ["case", "unit"] + names
    if len(names) == 2:
        head.append("ratio (≥ 1.0 = Tern as good or better: throughput Tern/nats, "
                    "latency and memory nats/Tern)")
    out.append("| " + " | ".join(head) + " |")
    out.append("|" + "---|" * 2 + "---:|" * (len(head) - 2))
    for name, label, _kind, _args, metrics in cases:
        for key, unit, higher in metrics:
            med = {}
            for srv in names:
                vals = [r[key] for r in results.get((srv, name), [])]
                ok = vals and len(vals) == opts.rounds
                med[srv] = statistics.median(vals) if ok else None
            row = [label, unit] + [fmt(med[s]) for s in names]
            if len(names) == 2:
                t, n = med["Tern"], med["nats-server"]
                if t is None or n is None or (t if higher else n) == 0:
                    row.append("—" if t is None or n is None else "0")
                else:
                    ratio = t / n if higher else n / t if t else float("inf")
                    row.append(f"{ratio:.2f}")
            out.append("| " + " | ".join(row) + " |")
    return "\n".join(out)


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ternd", help="path of the ternd binary")
    ap.add_argument("--ternd-args", default="", help='extra ternd flags, e.g. "--threads 2"')
    ap.add_argument("--nats-server", default=NATS_SERVER, help="reference server binary")
    ap.add_argument("--loadgen", default=os.path.join(HERE, "tern-bench"),
                    help="tern-bench binary (default: next to this script)")
    ap.add_argument("--only-reference", action="store_true",
                    help="measure nats-server alone (no ternd)")
    ap.add_argument("--rounds", type=int, help="rounds per case (default 5, 1 with --quick)")
    ap.add_argument("--quick", action="store_true", help="20x shorter runs, for smoke tests")
    ap.add_argument("--cases", default="*",
                    help="comma-separated case names or globs: " +
                    ",".join(c[0] for c in CASES))
    ap.add_argument("--json", metavar="FILE", help="write every raw result here")
    ap.add_argument("--flow", default="--ping-every 8192 --max-pings 4 --window 65536 "
                    "--window-bytes 16777216",
                    help="tern-bench flow-control flags, same for both servers")
    opts = ap.parse_args()
    opts.flow = shlex.split(opts.flow)
    if opts.rounds is None:
        opts.rounds = 1 if opts.quick else 5
    return opts


def main():
    opts = parse_args()
    pats = [p.strip() for p in opts.cases.split(",") if p.strip()]
    cases = [c for c in CASES if any(fnmatch.fnmatch(c[0], p) for p in pats)]
    if not cases:
        sys.exit(f"run.py: no case matches {opts.cases!r}")
    for path, what in ((opts.loadgen, "tern-bench (make tests/bench/tern-bench)"),
                       (opts.nats_server, "nats-server")):
        if not os.access(path, os.X_OK):
            sys.exit(f"run.py: {what} not found at {path}")
    servers = []
    if not opts.only_reference:
        if not opts.ternd or not os.access(opts.ternd, os.X_OK):
            sys.exit("run.py: give --ternd PATH (or --only-reference)")
        servers.append(("Tern", [os.path.abspath(opts.ternd)] + shlex.split(opts.ternd_args)))
    servers.append(("nats-server", [opts.nats_server]))

    started = datetime.datetime.now(datetime.timezone.utc)
    results, raw, failures = {}, [], []
    with tempfile.TemporaryDirectory(prefix="tern-bench-") as logdir:
        opts.logdir = logdir
        for rnd in range(opts.rounds):
            order = servers if rnd % 2 == 0 else servers[::-1]
            for case in cases:
                for srv, cmd in order:
                    t0 = time.monotonic()
                    try:
                        res = measure(opts, srv, cmd, case)
                    except BenchError as e:
                        failures.append(f"{srv} / {case[0]} / round {rnd + 1}: {e}")
                        print(f"FAILED {failures[-1]}", file=sys.stderr, flush=True)
                        continue
                    results.setdefault((srv, case[0]), []).append(res)
                    raw.append({"round": rnd + 1, "server": srv, "case": case[0], "result": res})
                    brief = ", ".join(f"{k}={fmt(res[k])}" for k, _, _ in case[4])
                    print(f"[round {rnd + 1}/{opts.rounds}] {case[0]:<13} {srv:<11} {brief} "
                          f"({time.monotonic() - t0:.1f} s)", file=sys.stderr, flush=True)
    print(table(opts, servers, results, cases, started))
    if opts.json:
        with open(opts.json, "w") as f:
            json.dump({"started": started.isoformat(), "machine": machine(),
                       "servers": servers, "rounds": opts.rounds, "quick": opts.quick,
                       "flow": opts.flow, "results": raw, "failures": failures}, f, indent=1)
    if failures:
        print(f"\n**{len(failures)} measurement(s) FAILED:**", file=sys.stderr)
        for f in failures:
            print(f"- {f.splitlines()[0]}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
