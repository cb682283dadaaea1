"""Faults, applied to a Cluster on a schedule from a thread of their own.

Each fault is a function fault(ctx) that applies one fault, holds it for a
random while, and heals it; ctx carries the cluster, the random generator
(seeded: a run is reproducible up to timing), the network and the clock
controls. ctx.heal_all() undoes whatever a fault left (every fault stops
early when the campaign stops).

Partitions are iptables rules in a chain of this run's own
(tern-faults-<pid>), jumped to from OUTPUT for loopback only: a rule drops
the TCP packets that the processes of one node's cgroup send to another
node's cluster port. Every connection between two nodes was dialled by one
of them to the other's cluster port, so dropping both directions cuts all
of them; dropping one direction stops what the one node sends on the
connections it dialled (raft's transport dials to send, so its messages one
way are lost, the other way's still arrive). Client ports are never touched.
"""

import os
import threading
import time
from pathlib import Path

from cluster import PREFIX, on_cleanup, run

ELECTION_PAST = (4.0, 7.0)  # pauses outlast both servers' election timeouts


class Net:
    def __init__(self):
        self.chain = f"{PREFIX}-{os.getpid()}"
        run("iptables", "-N", self.chain)
        on_cleanup("iptables chain", self.remove)
        run("iptables", "-I", "OUTPUT", "-o", "lo", "-j", self.chain)
        self.rules = 0

    def drop(self, src, dst):
        """Drop what node src sends to node dst's cluster port."""
        path = src.cgroup.name
        run("iptables", "-A", self.chain, "-p", "tcp", "--dport", dst.cport,
            "-m", "cgroup", "--path", path, "-j", "DROP")
        self.rules += 1

    def cut(self, a, b):
        self.drop(a, b)
        self.drop(b, a)

    def heal(self):
        if self.rules:
            run("iptables", "-F", self.chain)
            self.rules = 0

    def remove(self):
        while run("iptables", "-D", "OUTPUT", "-o", "lo", "-j", self.chain,
                  check=False).returncode == 0:
            pass
        run("iptables", "-F", self.chain, check=False)
        run("iptables", "-X", self.chain, check=False)


class Ctx:
    def __init__(self, cluster, rng, net, stop_event, log):
        self.cluster = cluster
        self.rng = rng
        self.net = net
        self.stop = stop_event
        self.log = log               # log(kind, detail): the fault history
        self.clock_files = {}        # node name -> FAKETIME file (clock faults)
        self.filler = None           # file filling a node's tmpfs store
        self.after_heal = []         # extra heal steps a scenario adds
        self.delay = None            # delaynet.DelayNet (the delay scenario)

    def sleep(self, s):
        self.stop.wait(s)

    def leader(self):
        return self.cluster.leader() or self.rng.choice(self.cluster.nodes)

    def follower(self, leader=None):
        leader = leader or self.leader()
        return self.rng.choice([n for n in self.cluster.nodes if n is not leader])

    def restart_later(self, nodes, lo=0.5, hi=4.0):
        """Restart each dead node after its own random delay."""
        delays = sorted((self.rng.uniform(lo, hi), n.name) for n in nodes)
        t0 = time.monotonic()
        for d, name in delays:
            self.sleep(max(0.0, t0 + d - time.monotonic()))
            n = self.cluster.node(name)
            if not n.alive():
                n.start()

    def set_clock(self, node, offset_s):
        f = self.clock_files.get(node.name)
        if f is not None:
            Path(f).write_text(f"{offset_s:+d}\n")

    def heal_all(self):
        self.net.heal()
        if self.delay is not None:
            self.delay.heal()
        for n in self.cluster.nodes:
            n.resume()
            self.set_clock(n, 0)
        if self.filler is not None:
            try:
                os.unlink(self.filler)
            except FileNotFoundError:
                pass
            self.filler = None
        for step in self.after_heal:
            step(self)
        for n in self.cluster.nodes:
            if not n.alive():
                n.start()


# ----------------------------------------------------------------------------
# faults
# ----------------------------------------------------------------------------

def kill_leader(ctx):
    n = ctx.leader()
    ctx.log("kill", n.name + " (leader)")
    n.kill()
    ctx.restart_later([n], 0.5, 4.0)


def kill_follower(ctx):
    n = ctx.follower()
    ctx.log("kill", n.name + " (follower)")
    n.kill()
    ctx.restart_later([n], 0.5, 4.0)


def kill_two(ctx):
    ld = ctx.leader()
    f = ctx.follower(ld)
    ctx.log("kill", f"{ld.name} (leader) + {f.name}")
    ld.kill()
    f.kill()
    ctx.restart_later([ld, f], 0.5, 5.0)


def kill_all(ctx):
    ctx.log("kill", "A B C")
    for n in ctx.cluster.nodes:
        n.kill()
    ctx.restart_later(ctx.cluster.nodes, 0.2, 4.0)


def _pause(ctx, n, what):
    hold = ctx.rng.uniform(*ELECTION_PAST)
    ctx.log("pause", f"{n.name} ({what}) {hold:.1f}s")
    n.pause()
    ctx.sleep(hold)
    n.resume()


def pause_leader(ctx):
    _pause(ctx, ctx.leader(), "leader")


def pause_follower(ctx):
    _pause(ctx, ctx.follower(), "follower")


def _isolate(ctx, n, what, oneway=False):
    hold = ctx.rng.uniform(5.0, 8.0)
    others = [o for o in ctx.cluster.nodes if o is not n]
    ctx.log("partition", f"{n.name} ({what}){' one-way out' if oneway else ''} {hold:.1f}s")
    for o in others:
        if oneway:
            ctx.net.drop(n, o)
        else:
            ctx.net.cut(n, o)
    ctx.sleep(hold)
    ctx.net.heal()


def partition_leader(ctx):
    _isolate(ctx, ctx.leader(), "leader")


def partition_follower(ctx):
    _isolate(ctx, ctx.follower(), "follower")


def partition_oneway(ctx):
    _isolate(ctx, ctx.leader(), "leader", oneway=True)


def partition_ring(ctx):
    """A majorities ring: A-B and B-C connected, A-C cut (no node sees all
    others; B can always win, A and C each see a majority with B)."""
    a, b, c = ctx.rng.sample(ctx.cluster.nodes, 3)
    hold = ctx.rng.uniform(5.0, 8.0)
    ctx.log("partition", f"{a.name}-{c.name} cut, {b.name} bridges {hold:.1f}s")
    ctx.net.cut(a, c)
    ctx.sleep(hold)
    ctx.net.heal()


def clock_jump(ctx):
    """Jump one node's wall clock (libfaketime; monotonic clocks untouched,
    as an NTP step) forward or back, hold, and jump it back."""
    n = ctx.rng.choice([ctx.leader(), ctx.follower()])
    off = ctx.rng.choice([600, 1800, -600, -1800])
    hold = ctx.rng.uniform(4.0, 7.0)
    ctx.log("clock", f"{n.name} {off:+d}s for {hold:.1f}s")
    ctx.set_clock(n, off)
    ctx.sleep(hold)
    ctx.set_clock(n, 0)


def disk_full(ctx):
    """Fill the tmpfs that holds node C's store, hold, free it again; a
    node that stopped on the write error is restarted."""
    n = ctx.cluster.node("C")
    hold = ctx.rng.uniform(4.0, 7.0)
    ctx.log("disk-full", f"{n.name} {hold:.1f}s")
    ctx.filler = str(n.store / "filler")
    with open(ctx.filler, "wb") as f:
        try:
            while True:
                f.write(b"\0" * (1 << 20))
                f.flush()
        except OSError:
            pass
    ctx.sleep(hold)
    os.unlink(ctx.filler)
    ctx.filler = None
    if not n.alive():
        ctx.log("disk-full", f"{n.name} had stopped (rc={n.proc.returncode}); restarted")
        n.start()


def delay(ctx):
    """Every link between the nodes slowed by 20-250 ms with up to half of
    that as jitter, both directions (delaynet.py: this kernel has no netem),
    held 5-8 s, then taken away."""
    d = ctx.rng.uniform(0.020, 0.250)
    j = ctx.rng.uniform(0.0, d / 2)
    hold = ctx.rng.uniform(5.0, 8.0)
    ctx.log("delay", f"{d * 1000:.0f} ms +- {j * 1000:.0f} ms for {hold:.1f}s")
    ctx.delay.set(d, j)
    ctx.sleep(hold)
    ctx.delay.heal()


FAULTS = {
    "kill-leader": kill_leader, "kill-follower": kill_follower, "kill-two": kill_two,
    "kill-all": kill_all, "pause-leader": pause_leader, "pause-follower": pause_follower,
    "partition-leader": partition_leader, "partition-follower": partition_follower,
    "partition-oneway": partition_oneway, "partition-ring": partition_ring,
    "clock-jump": clock_jump, "disk-full": disk_full, "delay": delay,
}


class Nemesis(threading.Thread):
    """Applies faults from `names` (one at random each time) every
    `every` = (lo, hi) seconds until stopped, then heals everything."""

    def __init__(self, ctx, names, every, first_after=2.0):
        super().__init__(daemon=True)
        self.ctx = ctx
        self.names = names
        self.every = every
        self.first_after = first_after
        self.error = None

    def run(self):
        ctx = self.ctx
        try:
            ctx.sleep(self.first_after)
            while not ctx.stop.is_set():
                name = ctx.rng.choice(self.names)
                ctx.log("fault", name)
                FAULTS[name](ctx)
                ctx.log("healed", name)
                if ctx.stop.is_set():
                    break
                ctx.sleep(ctx.rng.uniform(*self.every))
        except Exception as e:  # reported by the campaign
            self.error = repr(e)
        finally:
            try:
                ctx.heal_all()
            except Exception as e:
                self.error = (self.error or "") + f" heal: {e!r}"
            ctx.log("healed", "all")

