"""Faults on a node's files: damage while it is down, and crashes that lose
what was written but not synced (lazyfs.py under the node's store).

damage_fault: every few seconds a follower is killed, one of its files is
damaged (the tail of its newest raft log segment cut; a bit flipped in a
closed segment or in a snapshot), and it is started again. It must either
start and hold what its peers hold (the final read-back and the per-node
comparison check that) or refuse to start with a log line that says why;
a node that refused is healed the way an operator would: its store is
wiped and it rejoins empty.

LazyMounts: the store of one node (or of all three) is a lazyfs mount;
the fault kills the node(s) with SIGKILL, drops every unsynced write, and
restarts them after a random delay.
"""

import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from cluster import on_cleanup, run

LAZYFS = Path(__file__).resolve().parent / "lazyfs.py"
CLOSED = re.compile(r"^\d{16}-\d{16}$")


def raft_files(store, kind, mode):
    """Candidate files to damage, best first."""
    js = Path(store) / "jetstream"
    if kind == "tern":
        raft = js / "raft"
        files = [p for p in raft.iterdir() if p.is_file()] if raft.exists() else []
        if mode == "tail":
            segs = [p for p in files if CLOSED.match(p.name) or p.name.startswith("open-")]
            return sorted(segs, key=lambda p: p.stat().st_mtime, reverse=True)
        if mode == "segment":
            return sorted((p for p in files if CLOSED.match(p.name)), key=lambda p: p.name)
        return sorted((p for p in files if p.name.startswith("snapshot-")
                       and not p.name.endswith(".meta")), key=lambda p: p.stat().st_mtime,
                      reverse=True)
    # nats-server: the stream group's raft directory under the system account
    groups = [g for g in (js / "$SYS" / "_js_").glob("S-R3F-*")] if (js / "$SYS").exists() else []
    files = []
    for g in groups:
        if mode == "snapshot":
            files += list((g / "snapshots").glob("snap.*"))
        else:
            files += list((g / "msgs").glob("*.blk"))
    files = [p for p in files if p.stat().st_size > 0]
    if mode == "tail":
        return sorted(files, key=lambda p: p.stat().st_mtime, reverse=True)
    return sorted(files, key=lambda p: p.name)


def damage_file(path, mode, rng):
    size = path.stat().st_size
    if mode == "tail":
        cut = rng.randint(1, max(1, min(4096, size // 2)))
        with open(path, "r+b") as f:
            f.truncate(size - cut)
        return f"cut {cut} of {size} bytes off {path.name}"
    off = rng.randrange(size // 4, max(size // 4 + 1, 3 * size // 4))
    bit = rng.randrange(8)
    with open(path, "r+b") as f:
        f.seek(off)
        b = f.read(1)[0]
        f.seek(off)
        f.write(bytes([b ^ (1 << bit)]))
    return f"flipped bit {bit} at byte {off} of {size} in {path.name}"


def damage_fault(ctx, mode, kind):
    c = ctx.cluster
    ctx.sleep(ctx.rng.uniform(4.0, 6.0))
    while not ctx.stop.is_set():
        n = ctx.follower()
        ctx.log("fault", f"damage-{mode} {n.name}")
        n.kill()
        files = raft_files(n.store, kind, mode)
        if not files:
            ctx.log("outcome", f"{n.name}: no file to damage for {mode}")
        else:
            ctx.log("damage", damage_file(files[0], mode, ctx.rng))
        ctx.sleep(0.5)
        n.start()
        deadline = time.monotonic() + 8.0
        while n.alive() and time.monotonic() < deadline and not ctx.stop.is_set():
            time.sleep(0.1)
        if not n.alive():
            lines = [ln for ln in n.log_text().splitlines()[-8:] if ln.strip()]
            ctx.log("outcome", f"{n.name} refused to start (rc={n.proc.returncode}): "
                    + " | ".join(lines[-3:]))
            shutil.rmtree(n.store, ignore_errors=True)
            n.start()
            ctx.log("outcome", f"{n.name} store wiped, restarted empty")
        else:
            ctx.log("outcome", f"{n.name} started with the damaged file")
        ctx.log("healed", f"damage-{mode}")
        ctx.sleep(ctx.rng.uniform(5.0, 8.0))


class LazyMounts:
    def __init__(self, cluster, all_nodes, log):
        self.cluster = cluster
        self.nodes = cluster.nodes if all_nodes else [cluster.node("C")]
        self.procs = {}
        for n in self.nodes:
            backing = cluster.workdir / f"lazy-backing-{n.name}"
            backing.mkdir(parents=True, exist_ok=True)
            n.store.mkdir(parents=True, exist_ok=True)
            p = subprocess.Popen([sys.executable, str(LAZYFS), str(backing), str(n.store)],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                 stderr=open(cluster.workdir / f"lazyfs-{n.name}.log", "wb"),
                                 text=True)
            self.procs[n.name] = p

            def unmount(p=p, mnt=n.store):
                run("fusermount3", "-u", "-z", mnt, check=False)
                try:
                    p.wait(5)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(5)

            on_cleanup(f"lazyfs {n.store}", unmount)
            deadline = time.monotonic() + 10
            while f" {n.store} fuse" not in Path("/proc/mounts").read_text():
                if p.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"lazyfs did not mount {n.store}")
                time.sleep(0.05)

    def fault(self, ctx):
        ctx.sleep(ctx.rng.uniform(3.0, 5.0))
        while not ctx.stop.is_set():
            names = " ".join(n.name for n in self.nodes)
            ctx.log("fault", f"lazyfs-crash {names}")
            undone = []
            for n in self.nodes:
                n.kill()
            for n in self.nodes:
                p = self.procs[n.name]
                p.stdin.write("crash\n")
                p.stdin.flush()
                undone.append(f"{n.name}: {p.stdout.readline().strip()}")
            ctx.log("damage", "; ".join(undone))
            ctx.restart_later(self.nodes, 0.5, 3.0)
            ctx.log("healed", "lazyfs-crash")
            ctx.sleep(ctx.rng.uniform(*(5.0, 8.0)))
