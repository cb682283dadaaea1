"""Added delay and jitter between the nodes, without `tc netem`.

This machine's kernel has no sch_netem, so the delay scenario puts a TCP
proxy in front of each node's cluster port instead: the nodes list the
proxies in --routes and advertise them (--cluster_advertise), so every
connection one node makes to another — routes, and raft's, which Tern dials
to the port a peer advertises — passes through the proxy of the node it
goes to, both directions. Each chunk read is written out `delay ± jitter`
later, never before the chunk ahead of it (a TCP stream is never
reordered), so a link behaves like a slow, jittery wire. A connection
closed on one side is closed on the other, as a kill would close it.

The proxies run on an asyncio loop in a thread of their own; the nemesis
thread changes the delay with set(), and heal() takes it away.
"""

import asyncio
import random
import threading


class DelayNet:
    def __init__(self, seed):
        self.delay = 0.0       # seconds, every link
        self.jitter = 0.0      # +- seconds around it
        self.rng = random.Random(seed)
        self.loop = asyncio.new_event_loop()
        self.servers = []
        self.writers = set()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    # ---- control (any thread)
    def set(self, delay, jitter):
        self.delay, self.jitter = delay, jitter

    def heal(self):
        self.set(0.0, 0.0)

    def add(self, listen_port, target_port):
        """A proxy on 127.0.0.1:listen_port for 127.0.0.1:target_port."""
        fut = asyncio.run_coroutine_threadsafe(self._listen(listen_port, target_port), self.loop)
        self.servers.append(fut.result(timeout=10))

    def close(self):
        if not self.loop.is_running():
            return
        asyncio.run_coroutine_threadsafe(self._close(), self.loop).result(timeout=10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)

    # ---- the proxies (the loop's thread)
    def _sample(self):
        if self.delay <= 0 and self.jitter <= 0:
            return 0.0
        return max(0.0, self.delay + self.rng.uniform(-self.jitter, self.jitter))

    async def _listen(self, listen_port, target_port):
        async def accept(r, w):
            await self._connection(r, w, target_port)
        return await asyncio.start_server(accept, "127.0.0.1", listen_port, reuse_address=True)

    async def _connection(self, r, w, target_port):
        try:
            tr, tw = await asyncio.open_connection("127.0.0.1", target_port)
        except OSError:
            w.close()
            return
        self.writers.update((w, tw))
        try:
            # The first direction to end (EOF, reset) ends both.
            pumps = [asyncio.ensure_future(self._pump(r, tw)),
                     asyncio.ensure_future(self._pump(tr, w))]
            await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
            for p in pumps:
                p.cancel()
        finally:
            for x in (w, tw):
                self.writers.discard(x)
                x.close()

    async def _pump(self, r, w):
        queue = asyncio.Queue()
        writer = asyncio.ensure_future(self._deliver(queue, w))
        last_due = 0.0
        try:
            while True:
                data = await r.read(65536)
                due = max(last_due, self.loop.time() + self._sample())
                last_due = due
                queue.put_nowait((due, data))
                if not data:
                    break
            await writer
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.cancel()

    async def _deliver(self, queue, w):
        while True:
            due, data = await queue.get()
            wait = due - self.loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            if not data:
                return
            w.write(data)
            await w.drain()

    async def _close(self):
        for s in self.servers:
            s.close()
        for w in list(self.writers):
            w.close()
        self.writers.clear()
