"""What a run's history and the read-back say, classified as Jepsen does.

check_stream: every acknowledged value must be read back once. Lost ones
are split by where they fall among the acknowledged values in ack order:
prefix (before the first one read back), suffix (after the last one read
back), middle (the rest). Also: values read that were never published
(unexpected), values stored at more than one sequence (duplicates),
values whose every publish was definitely refused but that are stored
(failed-but-present), and unknown outcomes that landed (recovered, not an
error).

check_consumers: a message whose ack-ack arrived must never be delivered
to the same durable again.

check_kv: the bucket's stream keeps every revision; each stored revision
of a key must be based on the key's previous stored revision (its value
names the revision it read), which is what compare-and-set promises
whatever the clients heard; every acknowledged update must be stored at
the revision it was acknowledged with; a refused update must not be
stored.

windows: per fault, the longest stretch without a PubAck from the fault
until the next one (the write-unavailability window) and the time from the
fault's heal to the first PubAck after it (time until writable).

health: how long a node answered /healthz 200 while the cluster took no
writes (and the reverse), compared with what the publishers saw.
"""

import re
import statistics

UNWRITABLE_GAP = 1.5   # seconds without a PubAck that count as not writable


def check_stream(hist, stored):
    """stored: {seq: (subject, data)} of stream F."""
    where = {}
    for seq, (_subj, data) in stored.items():
        v = data.split(b".", 1)[0].decode(errors="replace")
        where.setdefault(v, []).append(seq)
    by_value = {p["value"]: p for p in hist.pubs}
    acked = sorted((p for p in hist.pubs if p["outcome"] == "ok"), key=lambda p: p["t1"])
    present = [p["value"] in where for p in acked]
    lost = [p["value"] for p, ok in zip(acked, present) if not ok]
    if any(present):
        first = present.index(True)
        last = len(present) - 1 - present[::-1].index(True)
    else:
        first, last = len(present), -1
    prefix = [p["value"] for i, p in enumerate(acked) if not present[i] and i < first]
    suffix = [p["value"] for i, p in enumerate(acked) if not present[i] and i > last]
    middle = [v for v in lost if v not in prefix and v not in suffix]
    wrong_seq = [p["value"] for p in acked
                 if p["value"] in where and p["seq"] not in where[p["value"]]]
    return dict(
        attempted=len(hist.pubs), acked=len(acked), stored=len(stored),
        lost=len(lost), lost_prefix=len(prefix), lost_middle=len(middle),
        lost_suffix=len(suffix), lost_values=lost[:20],
        unexpected=sorted(v for v in where if v not in by_value)[:20],
        duplicates={v: s for v, s in where.items() if len(s) > 1},
        failed_present=[v for v, p in by_value.items() if p["outcome"] == "failed" and v in where],
        unknown=sum(1 for p in hist.pubs if p["outcome"] == "unknown"),
        unknown_present=sum(1 for p in hist.pubs if p["outcome"] == "unknown" and p["value"] in where),
        wrong_seq=wrong_seq[:20],
    )


def check_consumers(hist):
    """A delivery is a violation when the pull request that brought it left
    the client after the message's ack-ack came back: the server then
    delivered a message it had confirmed as acknowledged. A copy that
    arrives after the ack-ack but answers an earlier request (sent by a
    leader that had not yet seen the ack, delayed in the network) is
    counted apart: no server can call back a message already on the wire."""
    acked_at = {}
    for t, durable, seq, _v, outcome in hist.acks:
        if outcome == "ok":
            acked_at.setdefault((durable, seq), t)
    again, late = [], 0
    for t, durable, seq, value, nd, t_req in hist.deliveries:
        ta = acked_at.get((durable, seq))
        if ta is None or t <= ta:
            continue
        if t_req > ta:
            again.append((durable, seq, value, nd))
        else:
            late += 1
    return dict(deliveries=len(hist.deliveries),
                acks_ok=sum(1 for a in hist.acks if a[4] == "ok"),
                redelivered_after_ack=again[:20], n_redelivered_after_ack=len(again),
                late_copies=late)


KV_VALUE = re.compile(r"^w(\d+)-(\d+)@(\d+)$")


def check_kv(hist, stored):
    """stored: {seq: (subject, data)} of the bucket's stream."""
    chains = {}
    by_rev = {}
    violations = []
    for seq in sorted(stored):
        subj, data = stored[seq]
        key = subj.rsplit(".", 1)[-1]
        v = data.decode(errors="replace")
        by_rev[seq] = (key, v)
        m = KV_VALUE.match(v)
        if not m:
            violations.append(f"rev {seq}: unreadable value {v!r}")
            continue
        base = int(m.group(3))
        prev = chains.get(key, 0)
        if base != prev:
            violations.append(f"{key} rev {seq} ({v}) based on rev {base}, "
                              f"but the key's previous revision is {prev}")
        chains[key] = seq
    lost, failed_present = [], []
    stored_values = {v for _k, v in by_rev.values()}
    for r in hist.kv:
        if r["outcome"] == "ok" and by_rev.get(r["rev"]) != (r["key"], r["value"]):
            lost.append(f"{r['key']}={r['value']} acked at rev {r['rev']}, "
                        f"stored there: {by_rev.get(r['rev'])}")
        if r["outcome"] == "failed" and r["value"] in stored_values:
            failed_present.append(r["value"])
    return dict(updates=len(hist.kv), ok=sum(1 for r in hist.kv if r["outcome"] == "ok"),
                stored=len(stored), cas_violations=violations[:20],
                n_cas_violations=len(violations), lost=lost[:20], n_lost=len(lost),
                failed_present=failed_present[:20])


def ack_times(hist):
    return sorted(p["t1"] for p in hist.pubs if p["outcome"] == "ok")


def windows(hist, faults, end):
    """faults: [(t_fault, t_healed, name)]; returns one dict per fault."""
    acks = ack_times(hist)
    out = []
    for i, (tf, th, name) in enumerate(faults):
        tn = faults[i + 1][0] if i + 1 < len(faults) else end
        pts = [tf] + [a for a in acks if tf < a <= tn] + [tn]
        gap = max(b - a for a, b in zip(pts, pts[1:]))
        after = [a for a in acks if a >= th]
        ttw = (after[0] - th) if after else None
        out.append(dict(fault=name, t=tf, unavailable=gap, writable_after_heal=ttw))
    return out


def unwritable_intervals(hist, t_start, t_end):
    acks = [t_start] + [a for a in ack_times(hist) if t_start < a < t_end] + [t_end]
    return [(a + 1.0, b) for a, b in zip(acks, acks[1:]) if b - a > UNWRITABLE_GAP]


def health(samples, hist, t_start, t_end):
    """samples: [(t, node, status)]. Longest run of 200s from one node
    while the cluster took no writes, and total such time per node."""
    bad = unwritable_intervals(hist, t_start, t_end)

    def unwritable(t):
        return any(a <= t <= b for a, b in bad)

    longest = 0.0
    per_node = {}
    for node in sorted({s[1] for s in samples}):
        run_start = None
        prev_t = None
        for t, n, st in samples:
            if n != node:
                continue
            if st == 200 and unwritable(t):
                if run_start is None:
                    run_start = t
                longest = max(longest, t - run_start)
                per_node[node] = per_node.get(node, 0.0) + (t - prev_t if prev_t else 0.0)
            else:
                run_start = None
            prev_t = t
    return dict(healthy_while_unwritable_max=longest,
                healthy_while_unwritable_total={k: round(v, 1) for k, v in per_node.items()},
                unwritable_s=sum(b - a for a, b in bad))


def summarize_windows(ws):
    un = [w["unavailable"] for w in ws]
    tw = [w["writable_after_heal"] for w in ws if w["writable_after_heal"] is not None]
    never = sum(1 for w in ws if w["writable_after_heal"] is None)
    return dict(unavail_median=statistics.median(un) if un else 0.0,
                unavail_max=max(un) if un else 0.0,
                writable_median=statistics.median(tw) if tw else None,
                writable_max=max(tw) if tw else None, never_writable=never)
