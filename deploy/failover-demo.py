#!/usr/bin/env python3
"""deploy/failover-demo.py — watch a client ride through the loss of a node.

One nats-py client is given all three nodes of the compose (or local)
cluster and reconnects forever; it subscribes to demo.ticks, which a second
client on n3 publishes to every 100 ms, and prints each second how many
ticks arrived and which node it is on, and every disconnect and reconnect
with the time since the start. Kill the node it is on meanwhile
(`docker compose kill n1`) and watch it move.

    python3 deploy/failover-demo.py [--seconds 20] [--ports 4222,4223,4224]

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


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=int, default=20)
    ap.add_argument("--ports", default="4222,4223,4224", help="client ports of the nodes")
    asyncio.run(main(ap.parse_args()))
