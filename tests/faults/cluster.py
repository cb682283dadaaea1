"""Three-node clusters for the fault campaign, and everything that must be
undone when a run ends.

A Cluster starts three nodes of one kind (ternd or nats-server) with
JetStream and the same flags (-js -sd DIR -n NAME --cluster --cluster_name
--routes), each in its own cgroup (v2) so that the nemesis can drop the
packets one node sends to another's cluster port with iptables on loopback
(see nemesis.py). Client ports are never touched by a fault.

Cleanup is global and idempotent: every resource (process, iptables chain,
cgroup, mount, FUSE process) is registered in CLEANUP when it is made, and
undone in reverse order by cleanup_all(), which runs from try/finally,
SIGINT/SIGTERM/SIGHUP handlers and atexit. A run killed with SIGKILL leaves
its chain behind: the next run removes chains and cgroups of dead runs
(sweep_stale) before it starts.
"""

import atexit
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup/unified")
if not (CGROUP_ROOT / "cgroup.procs").exists():
    CGROUP_ROOT = Path("/sys/fs/cgroup")
PREFIX = "tern-faults"

# ----------------------------------------------------------------------------
# cleanup registry
# ----------------------------------------------------------------------------

CLEANUP = []   # (description, callable), undone last-first


def on_cleanup(what, fn):
    CLEANUP.append((what, fn))
    return fn


def cleanup_to(mark):
    """Undo what was registered after mark (= len(CLEANUP) back then)."""
    while len(CLEANUP) > mark:
        what, fn = CLEANUP.pop()
        try:
            fn()
        except Exception as e:
            print(f"cleanup: {what}: {e}", file=sys.stderr)


def cleanup_all():
    while CLEANUP:
        what, fn = CLEANUP.pop()
        try:
            fn()
        except Exception as e:  # keep undoing the rest
            print(f"cleanup: {what}: {e}", file=sys.stderr)


def _on_signal(signum, _frame):
    cleanup_all()
    sys.stderr.write(f"interrupted by {signal.Signals(signum).name}; cleaned up\n")
    os._exit(128 + signum)


def install_handlers():
    atexit.register(cleanup_all)
    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, _on_signal)


def run(*cmd, check=True):
    return subprocess.run([str(c) for c in cmd], check=check, capture_output=True, text=True)


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def sweep_stale():
    """Remove iptables chains, mounts, node processes and cgroups left by
    runs that died without cleaning up (their pid is part of every name)."""
    out = run("iptables", "-S", check=False).stdout
    for chain in sorted(set(re.findall(rf"-N ({PREFIX}-(\d+))", out))):
        name, pid = chain
        if _pid_alive(int(pid)):
            continue
        for jump in ("INPUT", "OUTPUT"):
            while run("iptables", "-D", jump, "-j", name, check=False).returncode == 0:
                pass
            while run("iptables", "-D", jump, "-o", "lo", "-j", name, check=False).returncode == 0:
                pass
        run("iptables", "-F", name, check=False)
        run("iptables", "-X", name, check=False)
    for m in Path("/proc/mounts").read_text().splitlines():
        mnt = m.split()[1]
        g = re.search(rf"/{PREFIX}-(\d+)-", mnt)
        if g and not _pid_alive(int(g.group(1))):
            run("umount", "-l", mnt, check=False)
    for d in CGROUP_ROOT.glob(f"{PREFIX}-*"):
        g = re.match(rf"{PREFIX}-(\d+)-", d.name)
        if g and not _pid_alive(int(g.group(1))):
            # the dead run's nodes: exactly the processes in its cgroups
            try:
                remove_cgroup(d)
            except OSError:
                pass


def remove_cgroup(d):
    """Kill what is left in cgroup d, wait until the kernel has let every
    process go (rmdir fails with EBUSY until then), remove it."""
    if not d.exists():
        return
    deadline = time.monotonic() + 5
    while True:
        pids = (d / "cgroup.procs").read_text().split()
        for pid in pids:
            try:
                os.kill(int(pid), signal.SIGKILL)
            except ProcessLookupError:
                pass
        if not pids or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    d.rmdir()


# ----------------------------------------------------------------------------
# ports and HTTP
# ----------------------------------------------------------------------------

_given = set()


def free_port():
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            p = s.getsockname()[1]
        if p not in _given:
            _given.add(p)
            return p


def http_get(port, path, timeout=1.0):
    """(status, parsed JSON or None); (None, None) when nothing answers."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as r:
            status, body = r.status, r.read()
    except urllib.error.HTTPError as e:
        status, body = e.code, e.read()
    except (OSError, ValueError):
        return None, None
    try:
        return status, json.loads(body)
    except ValueError:
        return status, None


# ----------------------------------------------------------------------------
# nodes
# ----------------------------------------------------------------------------

class Node:
    def __init__(self, cluster, name):
        self.cluster = cluster
        self.name = name
        self.port = free_port()
        self.cport = free_port()
        self.mport = free_port()
        self.pport = free_port()   # its delay proxy's port (delaynet.py), when proxied
        self.store = cluster.workdir / f"store-{name}"
        self.env = {}          # extra environment (faketime)
        self.proc = None
        self.starts = 0
        self.paused = False
        self.cgroup = CGROUP_ROOT / f"{PREFIX}-{os.getpid()}-{cluster.kind}-{name}"
        self.cgroup.mkdir(exist_ok=True)
        cg = self.cgroup
        on_cleanup(f"cgroup {cg}", lambda: remove_cgroup(cg))

    @property
    def cgroup_path(self):
        return "/" + self.cgroup.relative_to(CGROUP_ROOT).as_posix()

    @property
    def url(self):
        return f"nats://127.0.0.1:{self.port}"

    @property
    def log_path(self):
        return self.cluster.workdir / f"{self.name}.{self.starts}.log"

    def command(self):
        c = self.cluster
        # Proxied: the others are reached through their proxies only, and
        # each node advertises its own, so gossip and raft's dials use them.
        routes = ",".join(f"nats://127.0.0.1:{n.pport if c.proxied else n.cport}"
                          for n in c.nodes)
        cmd = [c.binary, "-a", "127.0.0.1", "-p", self.port, "-m", self.mport,
               "-n", self.name, "-js", "-sd", self.store,
               "--cluster", f"nats://127.0.0.1:{self.cport}",
               "--cluster_name", "FAULTS", "--routes", routes]
        if c.proxied:
            cmd += ["--cluster_advertise", f"127.0.0.1:{self.pport}"]
        if c.config:
            cmd += ["-c", c.config]
        return [str(x) for x in cmd]

    def start(self):
        assert not self.alive()
        self.starts += 1
        self.paused = False
        procs = self.cgroup / "cgroup.procs"
        out = open(self.log_path, "wb")

        def enter_cgroup():
            procs.write_text(str(os.getpid()))

        self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL, stdout=out,
                                     stderr=subprocess.STDOUT, cwd=self.cluster.workdir,
                                     env=dict(os.environ, **self.env), preexec_fn=enter_cgroup)
        out.close()
        self.cluster.log_event("start", self.name)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig):
        if self.alive():
            self.proc.send_signal(sig)

    def kill(self):
        if self.alive():
            if self.paused:
                self.proc.send_signal(signal.SIGCONT)
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
            self.cluster.log_event("kill", self.name)
        self.paused = False

    def pause(self):
        if self.alive() and not self.paused:
            self.proc.send_signal(signal.SIGSTOP)
            self.paused = True
            self.cluster.log_event("stop", self.name)

    def resume(self):
        if self.alive() and self.paused:
            self.proc.send_signal(signal.SIGCONT)
            self.paused = False
            self.cluster.log_event("cont", self.name)

    def terminate(self):
        if self.proc is None:
            return
        if self.alive():
            self.resume()
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def log_text(self):
        parts = []
        for i in range(1, self.starts + 1):
            p = self.cluster.workdir / f"{self.name}.{i}.log"
            if p.exists():
                parts.append(f"--- {p.name}\n" + p.read_text(errors="replace"))
        return "\n".join(parts)

    # monitoring
    def jsz(self, timeout=1.0):
        st, body = http_get(self.mport, "/jsz?streams=true&consumers=true", timeout)
        return body if st == 200 else None

    def healthz(self, timeout=0.5):
        st, _ = http_get(self.mport, "/healthz", timeout)
        return st

    def streams(self, timeout=1.0):
        """{stream name: detail} as this node holds them (its own /jsz)."""
        j = self.jsz(timeout)
        if j is None:
            return None
        out = {}
        for acct in j.get("account_details") or []:
            for sd in acct.get("stream_detail") or []:
                out[sd["name"]] = sd
        return out


def node_state(detail):
    """What must be equal on every replica of a stream: the state, and
    each consumer's replicated progress."""
    st = detail.get("state") or {}
    cons = {}
    for c in detail.get("consumer_detail") or []:
        cons[c.get("name")] = (
            (c.get("delivered") or {}).get("stream_seq"),
            (c.get("ack_floor") or {}).get("stream_seq"))
    return ((st.get("messages"), st.get("bytes"), st.get("first_seq"), st.get("last_seq")),
            tuple(sorted(cons.items())))


class Cluster:
    """Three nodes A, B, C of one kind in workdir."""

    def __init__(self, kind, binary, workdir, config_lines=None):
        self.kind = kind
        self.binary = binary
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.events = []          # (monotonic time, what, node)
        self.proxied = False      # cluster traffic through delay proxies
        self.config = None
        if config_lines:
            self.config = self.workdir / "extra.conf"
            self.config.write_text("\n".join(config_lines) + "\n")
        self.nodes = []
        self.nodes = [Node(self, n) for n in "ABC"]
        on_cleanup(f"{kind} nodes", self.stop_all)

    def log_event(self, what, node):
        self.events.append((time.monotonic(), what, node))

    def node(self, name):
        return next(n for n in self.nodes if n.name == name)

    @property
    def urls(self):
        return [n.url for n in self.nodes]

    def start_all(self):
        for n in self.nodes:
            if not n.alive():
                n.start()

    def stop_all(self):
        for n in self.nodes:
            n.terminate()

    def leader(self, stream="F"):
        """The node that the live, running nodes name as the leader of
        stream (each node's own /jsz; Tern has one group, so its meta
        leader), or None when they do not agree on one."""
        names = []
        for n in self.nodes:
            if not n.alive() or n.paused:
                continue
            j = n.jsz(0.5)
            if j is None:
                continue
            name = None
            for acct in j.get("account_details") or []:
                for sd in acct.get("stream_detail") or []:
                    if sd.get("name") == stream:
                        name = (sd.get("cluster") or {}).get("leader")
            # Tern's stream_detail names its own server id as leader (a
            # one-node leftover); its one group's leader is the meta leader.
            if name not in ("A", "B", "C"):
                name = (j.get("meta_cluster") or {}).get("leader")
            if name:
                names.append(name)
        if not names:
            return None
        best = max(set(names), key=names.count)
        if names.count(best) * 2 <= len([n for n in self.nodes if n.alive()]):
            return None
        return self.node(best) if best in "ABC" else None

    def wait_leader(self, timeout=30.0, stream="F"):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ld = self.leader(stream)
            if ld is not None:
                return ld
            time.sleep(0.1)
        return None

    def states(self, streams):
        """{node: {stream: node_state}} for every live node."""
        out = {}
        for n in self.nodes:
            if not n.alive():
                continue
            s = n.streams(2.0)
            out[n.name] = None if s is None else {
                k: node_state(s[k]) if k in s else None for k in streams}
        return out

    def remove_stores(self):
        for n in self.nodes:
            shutil.rmtree(n.store, ignore_errors=True)
