#!/usr/bin/env python3
"""The fault campaign: a Jepsen-style workload, faults on a schedule and a
checker, against three ternd nodes and, side by side, three nats-server
nodes.

  tests/faults/campaign.py                     every scenario, both servers
  tests/faults/campaign.py --short             the CI version (~2 min, Tern)
  tests/faults/campaign.py --servers tern --scenarios kill-leader,mixed
  tests/faults/campaign.py --seed 7            reproduce a run's fault choices

Each scenario starts a fresh cluster, creates the R3 stream F (two durable
pull consumers) and the R3 Key-Value bucket FKV, runs publishers,
consumers and KV writers while the nemesis applies its faults every few
seconds, heals everything, lets the clients run on for a while, reads
everything back (the stream through the API, each node's own state from
its /jsz) and checks (checker.py). One summary table per run, one row per
scenario and server; exit status 1 on any loss, divergence or violation of
Tern (nats-server's findings are reported, not failed on). The last line
is "N passed, M failed" (scenarios).

Needs root: iptables (partitions), cgroup v2 (which node sent a packet),
tmpfs mounts (full disk), FUSE (lazyfs, unsynced-data loss).
"""

import argparse
import asyncio
import json
import os
import random
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import cluster as cl            # noqa: E402
import checker                  # noqa: E402
import damage                   # noqa: E402
import delaynet                 # noqa: E402
import nemesis as nm            # noqa: E402
import workload as wl           # noqa: E402

NATS_SERVER = os.environ.get("NATS_SERVER", "/usr/sbin/nats-server")
FAKETIME_LIB = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"

KILLS = ["kill-leader", "kill-follower", "kill-two", "kill-all"]
PAUSES = ["pause-leader", "pause-follower"]
PARTS = ["partition-leader", "partition-follower", "partition-oneway", "partition-ring"]

# name: dict(faults=[...], plus options)
SCENARIOS = {
    "kill-leader": dict(faults=["kill-leader"]),
    "kill-follower": dict(faults=["kill-follower"]),
    "kill-two": dict(faults=["kill-two"]),
    "kill-all": dict(faults=["kill-all"]),
    "pause-leader": dict(faults=["pause-leader"]),
    "pause-follower": dict(faults=["pause-follower"]),
    "partition-leader": dict(faults=["partition-leader"]),
    "partition-follower": dict(faults=["partition-follower"]),
    "partition-oneway": dict(faults=["partition-oneway"]),
    "partition-ring": dict(faults=["partition-ring"]),
    "clock-jump": dict(faults=["clock-jump"], clock=True, max_age=3600),
    "disk-full": dict(faults=["disk-full"], tmpfs_c="48m", pad=512),
    "delay": dict(faults=["delay"], proxied=True),
    "mixed": dict(faults=KILLS + PAUSES + PARTS),
    "damage-tail": dict(damage="tail", pad=2048, snapshot_every=1000),
    "damage-segment": dict(damage="segment", pad=2048, snapshot_every=1000),
    "damage-snapshot": dict(damage="snapshot", pad=2048, snapshot_every=1000),
    "lazyfs-one": dict(lazyfs="one"),
    "lazyfs-all": dict(lazyfs="all"),
}
SHORT = ["kill-leader", "kill-two", "pause-leader", "partition-leader",
         "partition-oneway", "delay", "mixed"]


def now():
    return time.monotonic()


class Run:
    """One scenario against one server kind."""

    def __init__(self, args, kind, name, spec, seed, base):
        self.args = args
        self.kind = kind
        self.name = name
        self.spec = spec
        self.seed = seed
        self.rng = random.Random(seed)
        # A scenario named twice in one run gets a directory of its own each
        # time: a cluster must never start on the stores of an earlier one.
        self.workdir = base / kind / name
        n = 2
        while self.workdir.exists():
            self.workdir = base / kind / f"{name}.{n}"
            n += 1
        self.fault_log = []    # (t, kind, detail)
        self.health = []       # (t, node, status)
        self.notes = []

    def log(self, what, detail):
        self.fault_log.append((now(), what, detail))
        if self.args.verbose:
            print(f"  {now() - self.t0:6.1f}s {what}: {detail}", flush=True)

    # ---- cluster set-up
    def make_cluster(self):
        binary = self.args.ternd if self.kind == "tern" else NATS_SERVER
        c = cl.Cluster(self.kind, binary, self.workdir)
        if self.spec.get("tmpfs_c"):
            n = c.node("C")
            n.store.mkdir(parents=True, exist_ok=True)
            cl.run("mount", "-t", "tmpfs", "-o", f"size={self.spec['tmpfs_c']}", "tmpfs", n.store)
            cl.on_cleanup(f"tmpfs {n.store}", lambda p=n.store: cl.run("umount", "-l", p, check=False))
        if self.spec.get("clock"):
            for n in c.nodes:
                f = self.workdir / f"faketime-{n.name}"
                f.write_text("+0\n")
                n.env = {"LD_PRELOAD": FAKETIME_LIB, "FAKETIME_TIMESTAMP_FILE": str(f),
                         "FAKETIME_NO_CACHE": "1", "FAKETIME_DONT_FAKE_MONOTONIC": "1",
                         "FAKETIME_DONT_RESET": "1"}
        if self.spec.get("proxied"):
            self.delay = delaynet.DelayNet(self.seed)
            cl.on_cleanup("delay proxies", self.delay.close)
            c.proxied = True
            for n in c.nodes:
                self.delay.add(n.pport, n.cport)
        if self.kind == "tern" and self.spec.get("snapshot_every"):
            for n in c.nodes:
                n.env["TERN_RAFT_SNAPSHOT_EVERY"] = str(self.spec["snapshot_every"])
        return c

    def health_sampler(self, c, stop):
        while not stop.is_set():
            for n in c.nodes:
                st = n.healthz(0.3) if n.alive() and not n.paused else None
                self.health.append((now(), n.name, st))
            stop.wait(0.25)

    # ---- the run
    async def workload(self, c, duration, nemesis_names=None, during=None):
        """Clients run for `duration`; the nemesis (or `during`, a blocking
        function run in a thread) acts meanwhile; then everything is healed
        and the clients go on for --recover seconds."""
        hist = wl.History()
        stop = asyncio.Event()
        pad = self.spec.get("pad", 0)
        tasks = [asyncio.ensure_future(wl.publisher(c.urls, i, hist, stop, pad))
                 for i in range(3)]
        tasks += [asyncio.ensure_future(wl.consumer(c.urls, i, hist, stop)) for i in range(2)]
        tasks += [asyncio.ensure_future(wl.kv_writer(c.urls, i, hist, stop,
                                                     random.Random(self.seed + i)))
                  for i in range(2)]
        nstop = threading.Event()
        ctx = nm.Ctx(c, self.rng, self.net, nstop, self.log)
        ctx.delay = getattr(self, "delay", None)
        if self.spec.get("clock"):
            ctx.clock_files = {n.name: str(self.workdir / f"faketime-{n.name}") for n in c.nodes}
        if nemesis_names:
            thread = nm.Nemesis(ctx, nemesis_names, self.args.every, first_after=2.0)
        else:
            thread = threading.Thread(target=during, args=(ctx,), daemon=True)
        self.t_work = now()
        thread.start()
        await asyncio.sleep(duration)
        nstop.set()
        while thread.is_alive():
            await asyncio.sleep(0.1)
        if not nemesis_names:
            await asyncio.to_thread(ctx.heal_all)
        if getattr(thread, "error", None):
            self.notes.append(f"nemesis: {thread.error}")
        self.t_healed = now()
        await asyncio.sleep(self.args.recover)
        stop.set()
        self.log("phase", "stopping clients")
        done, pending = await asyncio.wait(tasks, timeout=15)
        for t in pending:
            t.cancel()
        for t in done:
            if t.exception() is not None:
                self.notes.append(f"client: {t.exception()!r}")
        self.t_end = now()
        return hist

    async def read_back(self, c):
        """Wait for one leader, read everything through the API, then wait
        for every node to hold what the API served. The API's answer comes
        first: a node's /jsz is a figure it refreshes on a timer (Tern: every
        250 ms), so equal figures on three nodes read before the last
        commits reached them are not yet the final state."""
        result = dict(converged=False)
        ld = c.wait_leader(30)
        result["leader"] = ld.name if ld else None
        self.log("phase", f"leader {result['leader']}")
        nc = await wl.connect(c.urls, "checker")
        js = nc.jetstream()
        try:
            info, f = await wl.read_stream(js, "F")
            _kinfo, kv = await wl.read_stream(js, f"KV_{wl.KV}")
        finally:
            await nc.close()
        result["api_state"] = (info.state.messages, info.state.first_seq, info.state.last_seq)
        deadline = now() + 30
        states = None
        while now() < deadline:
            states = c.states(["F", f"KV_{wl.KV}"])
            # streams' states (consumers' progress is compared apart: only
            # nats-server's /jsz lists it)
            vals = [None if v is None else {k: (x[0] if x else None) for k, x in v.items()}
                    for v in states.values()]
            if len(vals) == 3 and None not in vals and all(v == vals[0] for v in vals) \
                    and None not in vals[0].values():
                st = vals[0]["F"]
                if st[0] == info.state.messages and st[3] == info.state.last_seq:
                    result["converged"] = True
                    break
            await asyncio.sleep(0.25)
        result["states"] = states
        self.log("phase", f"converged {result['converged']}")
        return result, f, kv

    async def main(self):
        self.t0 = now()
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.net = self.args.net
        c = self.make_cluster()
        self.cluster = c
        if self.spec.get("lazyfs"):
            self.lazy = damage.LazyMounts(c, self.spec["lazyfs"] == "all", self.log)
        c.start_all()
        c.wait_leader(30)
        nc = await wl.connect(c.urls, "setup")
        try:
            await wl.setup(nc.jetstream(), max_age=self.spec.get("max_age", 0))
        finally:
            await nc.close()
        hstop = threading.Event()
        hthread = threading.Thread(target=self.health_sampler, args=(c, hstop), daemon=True)
        hthread.start()
        try:
            if self.spec.get("damage"):
                hist = await self.workload(c, self.args.duration, during=lambda ctx:
                                           damage.damage_fault(ctx, self.spec["damage"],
                                                               self.kind))
            elif self.spec.get("lazyfs"):
                hist = await self.workload(c, self.args.duration, during=self.lazy.fault)
            else:
                hist = await self.workload(c, self.args.duration, self.spec["faults"])
        finally:
            hstop.set()
            hthread.join(2)
        self.log("phase", "clients stopped; reading back")
        rb, f, kv = await self.read_back(c)
        self.log("phase", "read back")
        return self.check(hist, rb, f, kv)

    def check(self, hist, rb, f, kv):
        s = checker.check_stream(hist, f)
        cons = checker.check_consumers(hist)
        for durable, seq, _v, _nd in cons["redelivered_after_ack"][:3]:
            # The whole story of a message delivered after its ack-ack, in
            # the fault log's time (seconds since the run began).
            ev = [(round(t - self.t0, 3), f"delivered nd={nd} (asked {t_req - self.t0:.3f})")
                  for t, d, sq, _x, nd, t_req in hist.deliveries if d == durable and sq == seq]
            ev += [(round(t - self.t0, 3), f"ack {o}") for t, d, sq, _x, o in hist.acks
                   if d == durable and sq == seq]
            self.notes.append(f"{durable} seq {seq}: {sorted(ev)}")
        k = checker.check_kv(hist, kv)
        faults = []
        starts = [(t, d) for t, w, d in self.fault_log if w == "fault"]
        heals = [t for t, w, d in self.fault_log if w == "healed" and d != "all"]
        for i, (t, d) in enumerate(starts):
            faults.append((t, heals[i] if i < len(heals) else self.t_healed, d))
        ws = checker.windows(hist, faults, self.t_end)
        h = checker.health(self.health, hist, self.t_work, self.t_healed)
        states = rb["states"] or {}
        divergence = not rb["converged"]
        if not rb["converged"]:
            self.notes.append(f"after 30 s the nodes hold {states}, the API served "
                              f"{len(f)} up to {rb['api_state']}")
        else:
            st = next(iter(states.values()))["F"][0]
            if st[0] != len(f) or st[3] != rb["api_state"][2]:
                divergence = True
                self.notes.append(f"nodes hold {st}, the API served {len(f)} up to {rb['api_state']}")
        cons_states = {n: tuple(x[1] for x in v.values() if x) for n, v in states.items() if v}
        cons_div = len(set(cons_states.values())) > 1
        if cons_div:
            self.notes.append(f"consumer progress differs between nodes: {cons_states}")
        res = dict(kind=self.kind, consumer_divergence=cons_div, scenario=self.name, seed=self.seed, stream=s,
                   consumers=cons, kv=k, windows=ws, window_summary=checker.summarize_windows(ws),
                   health=h, divergence=divergence, states=states, read=rb,
                   fault_log=[(round(t - self.t0, 2), w, d) for t, w, d in self.fault_log],
                   errors=hist.errors, notes=self.notes, workdir=str(self.workdir))
        res["outcomes"] = [d for _t, w, d in self.fault_log if w in ("outcome", "damage")]
        res["problems"] = problems(res)
        return res


def problems(r):
    s, k, c = r["stream"], r["kv"], r["consumers"]
    p = []
    if s["lost"]:
        p.append(f"{s['lost']} acknowledged lost (prefix {s['lost_prefix']}, middle "
                 f"{s['lost_middle']}, suffix {s['lost_suffix']}): {s['lost_values'][:5]}")
    if s["unexpected"]:
        p.append(f"unexpected values {s['unexpected'][:5]}")
    if s["duplicates"]:
        p.append(f"{len(s['duplicates'])} duplicated values {list(s['duplicates'].items())[:3]}")
    if s["failed_present"]:
        p.append(f"refused publishes stored: {s['failed_present'][:5]}")
    if s["wrong_seq"]:
        p.append(f"stored at another sequence than acked: {s['wrong_seq'][:5]}")
    if c["n_redelivered_after_ack"]:
        p.append(f"{c['n_redelivered_after_ack']} redelivered after ack-ack "
                 f"{c['redelivered_after_ack'][:3]}")
    if k["n_cas_violations"]:
        p.append(f"{k['n_cas_violations']} KV compare-and-set violations {k['cas_violations'][:3]}")
    if k["n_lost"]:
        p.append(f"{k['n_lost']} acknowledged KV updates lost {k['lost'][:3]}")
    if k["failed_present"]:
        p.append(f"refused KV updates stored {k['failed_present'][:3]}")
    if r["divergence"]:
        p.append(f"nodes diverge: {r['states']}")
    if r["window_summary"]["never_writable"]:
        p.append(f"{r['window_summary']['never_writable']} faults after which no write succeeded")
    return p


def fmt(x, unit="s"):
    if x is None:
        return "-"
    if isinstance(x, float):
        return f"{x:.1f}{unit}"
    return str(x)


def table(results):
    cols = ["scenario", "server", "acked", "lost(p/m/s)", "dup", "unexp", "redeliv", "late",
            "kv-cas", "diverge", "cons-div", "unavail med/max", "writable med/max", "healthz-lie", "verdict"]
    rows = []
    for r in results:
        if r.get("skipped"):
            rows.append([r["scenario"], r["kind"]] + ["-"] * 12 + [f"n/a: {r['skipped']}"])
            continue
        if r.get("crashed"):
            rows.append([r["scenario"], r["kind"]] + ["-"] * 12 + [f"ERROR {r['crashed'][:60]}"])
            continue
        s, w = r["stream"], r["window_summary"]
        rows.append([
            r["scenario"], r["kind"], str(s["acked"]),
            f"{s['lost']}({s['lost_prefix']}/{s['lost_middle']}/{s['lost_suffix']})",
            str(len(s["duplicates"])), str(len(s["unexpected"])),
            str(r["consumers"]["n_redelivered_after_ack"]),
            str(r["consumers"].get("late_copies", 0)), str(r["kv"]["n_cas_violations"]),
            "YES" if r["divergence"] else "no",
            "YES" if r.get("consumer_divergence") else "no",
            f"{fmt(w['unavail_median'])}/{fmt(w['unavail_max'])}",
            f"{fmt(w['writable_median'])}/{fmt(w['writable_max'])}",
            fmt(r["health"]["healthy_while_unwritable_max"]),
            "ok" if not r["problems"] else "FAIL"])
    widths = [max(len(c), *(len(row[i]) for row in rows)) if rows else len(c)
              for i, c in enumerate(cols)]
    line = "| " + " | ".join(c.ljust(widths[i]) for i, c in enumerate(cols)) + " |"
    out = [line, "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    for row in rows:
        out.append("| " + " | ".join(v.ljust(widths[i]) for i, v in enumerate(row)) + " |")
    return "\n".join(out)


def side_by_side(results):
    """Markdown: per scenario, Tern and nats-server in adjacent columns."""
    by = {}
    for r in results:
        by.setdefault(r["scenario"], {})[r["kind"]] = r

    def cell(r, f):
        if r is None:
            return "-"
        if r.get("skipped"):
            return "n/a"
        if r.get("crashed"):
            return "error"
        return f(r)

    fields = [
        ("acked lost", lambda r: str(r["stream"]["lost"])),
        ("dup", lambda r: str(len(r["stream"]["duplicates"]))),
        ("diverge", lambda r: "yes" if r["divergence"] else "no"),
        ("redelivered after ack-ack", lambda r: str(r["consumers"]["n_redelivered_after_ack"])),
        ("KV CAS viol. / lost", lambda r: f"{r['kv']['n_cas_violations']} / {r['kv']['n_lost']}"),
        ("unavail. med / max (s)", lambda r: f"{r['window_summary']['unavail_median']:.1f} / "
                                             f"{r['window_summary']['unavail_max']:.1f}"),
        ("writable after heal med / max (s)", lambda r: (
            "-" if r["window_summary"]["writable_median"] is None else
            f"{r['window_summary']['writable_median']:.1f} / {r['window_summary']['writable_max']:.1f}")
         + (f" ({r['window_summary']['never_writable']} not in run)"
            if r["window_summary"]["never_writable"] else "")),
        ("healthz 200 while unwritable (s)",
         lambda r: f"{r['health']['healthy_while_unwritable_max']:.1f}"),
    ]
    head = "| scenario | " + " | ".join(f"{n}: Tern | nats" for n, _ in fields) + " |"
    out = [head, "|---|" + "---:|---:|" * len(fields)]
    for name, rs in by.items():
        cells = []
        for _n, f in fields:
            cells += [cell(rs.get("tern"), f), cell(rs.get("nats"), f)]
        out.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(out)


def run_one(args, kind, name, seed, base):
    spec = SCENARIOS[name]
    if kind == "nats" and spec.get("clock"):
        return dict(kind=kind, scenario=name, skipped="libfaketime cannot reach a Go binary's clock")
    mark = len(cl.CLEANUP)
    r = Run(args, kind, name, spec, seed, base)
    t0 = now()
    try:
        res = asyncio.run(asyncio.wait_for(r.main(), args.duration + args.recover + 120))
    except Exception as e:
        import traceback
        traceback.print_exc()
        res = dict(kind=kind, scenario=name, seed=seed, crashed=repr(e), problems=[repr(e)],
                   workdir=str(r.workdir), fault_log=r.fault_log, notes=r.notes)
    finally:
        if getattr(r, "cluster", None):
            r.cluster.stop_all()
        cl.cleanup_to(mark)
    res["elapsed"] = now() - t0
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--servers", default="tern,nats")
    ap.add_argument("--scenarios", default=None)
    ap.add_argument("--short", action="store_true")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--duration", type=float, default=None, help="seconds of faults per scenario")
    ap.add_argument("--recover", type=float, default=5.0)
    ap.add_argument("--every", default=None, help="lo,hi seconds between faults")
    ap.add_argument("--ternd", default=os.environ.get("TERND") or str(HERE.parent.parent / "build" / "ternd"))
    ap.add_argument("--workdir", default=None)
    ap.add_argument("--json", default=None, help="write every result here")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    ap.add_argument("-v", "--verbose", action="store_true")
    ap.add_argument("--table-from", default=None, help="print the side-by-side table of a --json file")
    args = ap.parse_args()
    if args.table_from:
        print(side_by_side(json.loads(Path(args.table_from).read_text())))
        return
    if args.short:
        args.servers = args.servers if "--servers" in sys.argv else "tern"
        names = SHORT
        args.duration = args.duration or 12.0
        args.every = args.every or "3,5"
        args.recover = 3.0 if "--recover" not in sys.argv else args.recover
    else:
        names = list(SCENARIOS)
        args.duration = args.duration or 35.0
        args.every = args.every or "5,10"
    if args.scenarios:
        names = args.scenarios.split(",")
    args.every = tuple(float(x) for x in args.every.split(","))
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    kinds = args.servers.split(",")
    if "tern" in kinds and not os.access(args.ternd, os.X_OK):
        sys.exit(f"campaign: no ternd at {args.ternd} (build first or pass --ternd)")
    if os.geteuid() != 0:
        sys.exit("campaign: needs root (iptables, cgroups, mounts)")

    cl.install_handlers()
    cl.sweep_stale()
    base = Path(args.workdir or tempfile.mkdtemp(prefix=f"{cl.PREFIX}-{os.getpid()}-"))
    print(f"campaign: seed {seed}, scenarios {','.join(names)}, servers {','.join(kinds)}, "
          f"work dir {base}", flush=True)
    args.net = nm.Net()
    results = []
    for i, name in enumerate(names):
        for kind in kinds:
            s = seed + i
            print(f"== {name} on {kind} (seed {s})", flush=True)
            res = run_one(args, kind, name, s, base)
            results.append(res)
            for p in res.get("problems") or []:
                print(f"   PROBLEM: {p}", flush=True)
            for n in res.get("notes") or []:
                print(f"   note: {n}", flush=True)
            for n in res.get("outcomes") or []:
                print(f"   {n[:300]}", flush=True)
            if not res.get("skipped") and not res.get("crashed"):
                s_ = res["stream"]
                print(f"   {s_['acked']} acked of {s_['attempted']}, {s_['unknown']} unknown "
                      f"({s_['unknown_present']} stored), kv {res['kv']['ok']} ok, "
                      f"{res['consumers']['acks_ok']} acks, {res['elapsed']:.0f}s", flush=True)
    print()
    print(table(results))
    if len(kinds) > 1:
        print()
        print(side_by_side(results))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1, default=str))
    tern_bad = [r for r in results if r["kind"] == "tern" and r.get("problems")]
    for r in tern_bad:
        print(f"\nTern {r['scenario']} (seed {r['seed']}, logs in {r['workdir']}):")
        for p in r["problems"]:
            print(f"  {p}")
        for t, w, d in r.get("fault_log") or []:
            print(f"    {t:7.2f}s {w}: {d}")
    nats_bad = [r for r in results if r["kind"] == "nats" and r.get("problems")]
    for r in nats_bad:
        print(f"\nnats-server {r['scenario']}: " + "; ".join(p[:200] for p in r["problems"]))
    ran = [r for r in results if r["kind"] == "tern" and not r.get("skipped")]
    cl.cleanup_all()
    if not tern_bad and not args.keep:
        shutil.rmtree(base, ignore_errors=True)
    print(f"{len(ran) - len(tern_bad)} passed, {len(tern_bad)} failed")
    sys.exit(1 if tern_bad else 0)


if __name__ == "__main__":
    main()
