#!/usr/bin/env python3
"""deploy/failover-demo.py — watch a client ride through the loss of a node.

One nats-py client is given all three nodes of the compose (or local)
cluster and reconnects forever; it subscribes to demo.ticks, which a second
client on n3 publishes to every 100 ms, and prints each second how many
ticks arrived and which node it is on, and every disconnect and reconnect
with the time since the start. Kill the node it is on meanwhile
(`docker compose kill n1`) and watch it move.

    python3 deploy/failover-demo.py [--seconds 20] [--ports 4222,4223,4224]

--jetstream: the same client publishes to an R3 stream (demo.js, stream
DEMO) every 50 ms with a Nats-Msg-Id, retrying an unanswered publish with
the same id, and reads it back through a durable pull consumer with acks;
each second it prints how many were acknowledged and read. Kill the
JetStream leader meanwhile (its name is in /jsz meta_cluster.leader, e.g.
`curl -s localhost:8222/jsz`) and watch both counts go on; at the end the
two totals are equal and every acknowledged message was read once.

Needs nats-py (pip install nats-py; tests/install-deps.sh puts it in .venv).
"""
import argparse
import asyncio
import time

import nats


async def main(opts):
    ports = [int(p) for p in opts.ports.split(",")]
    t0 = time.monotonic()

    def say(text):
        print(f"{time.monotonic() - t0:6.2f}s  {text}", flush=True)

    closing = False

    async def disconnected():
        if not closing:
            say("disconnected")

    async def error(e):
        say(f"client error: {type(e).__name__} {e}")

    async def reconnected():
        say(f"reconnected to {nc.connected_url.netloc} "
            f"({nc._server_info.get('server_name')})")

    nc = await nats.connect(servers=[f"nats://127.0.0.1:{p}" for p in ports],
                            dont_randomize=True, max_reconnect_attempts=-1,
                            reconnect_time_wait=0.2, disconnected_cb=disconnected,
                            reconnected_cb=reconnected, error_cb=error)
    say(f"connected to {nc.connected_url.netloc} ({nc._server_info.get('server_name')}); "
        f"cluster nodes it knows: {sorted(u.netloc for u in nc.servers)}")
    pub = await nats.connect(f"nats://127.0.0.1:{ports[-1]}")
    got = []

    async def on_tick(msg):
        got.append(int(msg.data))

    await nc.subscribe("demo.ticks", cb=on_tick)
    await nc.flush()

    async def ticker():
        seq = 0
        while True:
            seq += 1
            await pub.publish("demo.ticks", b"%d" % seq)
            await asyncio.sleep(0.1)

    task = asyncio.create_task(ticker())
    seen = 0
    for _ in range(opts.seconds):
        await asyncio.sleep(1)
        node = nc._server_info.get("server_name") if nc.is_connected else "-"
        say(f"on {node}: {len(got) - seen} ticks this second (last #{got[-1] if got else 0})")
        seen = len(got)
    task.cancel()
    closing = True
    await nc.close()
    await pub.close()


async def jetstream(opts):
    ports = [int(p) for p in opts.ports.split(",")]
    t0 = time.monotonic()

    def say(text):
        print(f"{time.monotonic() - t0:6.2f}s  {text}", flush=True)

    async def disconnected():
        say("disconnected")

    async def reconnected():
        say(f"reconnected to {nc._server_info.get('server_name')}")

    nc = await nats.connect(servers=[f"nats://127.0.0.1:{p}" for p in ports],
                            max_reconnect_attempts=-1, reconnect_time_wait=0.2,
                            disconnected_cb=disconnected, reconnected_cb=reconnected)
    js = nc.jetstream()
    while True:
        try:
            await js.add_stream(name="DEMO", subjects=["demo.js"], num_replicas=3)
            break
        except Exception as e:
            say(f"waiting for JetStream: {type(e).__name__}")
            await asyncio.sleep(0.5)
    sub = await js.pull_subscribe("demo.js", durable="demo-reader", stream="DEMO")
    acked, read = [], []
    stop = asyncio.Event()

    async def publisher():
        n = 0
        while not stop.is_set():
            n += 1
            while not stop.is_set():
                try:
                    await js.publish("demo.js", b"%d" % n, timeout=1,
                                     headers={"Nats-Msg-Id": f"demo-{t0}-{n}"})
                    acked.append(n)
                    break
                except Exception:
                    await asyncio.sleep(0.1)  # the same id again: never twice
            await asyncio.sleep(0.05)

    async def reader():
        while not stop.is_set() or len(read) < len(acked):
            try:
                for m in await sub.fetch(100, timeout=1):
                    read.append(int(m.data))
                    await m.ack()
            except Exception:
                if stop.is_set() and len(read) >= len(acked):
                    break

    tasks = [asyncio.create_task(publisher()), asyncio.create_task(reader())]
    for _ in range(opts.seconds):
        await asyncio.sleep(1)
        node = nc._server_info.get("server_name") if nc.is_connected else "-"
        say(f"on {node}: {len(acked)} acknowledged, {len(read)} read")
    stop.set()
    await asyncio.wait_for(asyncio.gather(*tasks), 60)
    say(f"done: {len(acked)} acknowledged, {len(read)} read, "
        f"{len(read) - len(set(read))} read twice, "
        f"{len(set(acked) - set(read))} acknowledged but not read")
    await nc.close()


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=int, default=20)
    ap.add_argument("--ports", default="4222,4223,4224", help="client ports of the nodes")
    ap.add_argument("--jetstream", action="store_true",
                    help="publish to and consume an R3 stream instead")
    args = ap.parse_args()
    asyncio.run(jetstream(args) if args.jetstream else main(args))
