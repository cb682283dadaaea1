"""The clients of the campaign: publishers, pull consumers, Key-Value
compare-and-set writers, each recording every operation with its outcome
(ok / failed / unknown) in a History; and the final read-back.

- A publisher sends unique values "p<i>-<n>" to the R3 stream F with the
  value as Nats-Msg-Id, and retries an unanswered publish with the same id
  until a PubAck or its deadline: ok = a PubAck (its sequence kept),
  failed = every attempt definitely refused (no responders, an API error),
  unknown = otherwise.
- A consumer pulls from its durable pull consumer, each request on an
  inbox of its own (so every delivery is known to answer a request sent
  at a known time), and acks each message with ack_sync; every delivery
  and every ack-ack is recorded.
- A KV writer reads a key, then updates it with last=<revision read>,
  writing "w<i>-<n>@<revision read>": the stream then tells for every
  stored revision which revision it was based on.

Publishes, fetches and updates carry 1 s timeouts, so a client never waits
long on a node that is gone.
"""

import asyncio
import json
import random
import time

import nats
from nats.errors import NoRespondersError, TimeoutError as NatsTimeout
from nats.js.api import AckPolicy, ConsumerConfig, StreamConfig, StorageType
from nats.js.errors import APIError, KeyNotFoundError, NotFoundError

STREAM = "F"
SUBJECT = "f.x"
KV = "FKV"
KEYS = [f"k{i}" for i in range(6)]


class History:
    def __init__(self):
        self.pubs = []        # dict(value, t0, t1, outcome, seq, attempts)
        # (t received, durable, stream seq, value, num_delivered, t the pull
        # request that brought it was sent)
        self.deliveries = []
        self.acks = []        # (t, durable, stream seq, value, outcome)
        self.kv = []          # dict(key, value, base, t0, t1, outcome, rev)
        self.errors = {}      # error kind -> count (for the report)

    def err(self, e):
        code = getattr(e, "err_code", None)
        k = type(e).__name__ + (f"/{code}" if code else "")
        self.errors[k] = self.errors.get(k, 0) + 1


async def connect(urls, name):
    urls = list(urls)
    random.shuffle(urls)

    async def quiet(_e):
        pass

    return await nats.connect(servers=urls, name=name, max_reconnect_attempts=-1,
                              reconnect_time_wait=0.1, connect_timeout=1,
                              allow_reconnect=True, error_cb=quiet,
                              disconnected_cb=None, ping_interval=2, max_outstanding_pings=2)


async def retry_api(make, deadline_s=30.0):
    deadline = time.monotonic() + deadline_s
    while True:
        try:
            return await make()
        except APIError as e:
            if e.err_code not in (10008, None) and e.code not in (503, 408) \
                    or time.monotonic() > deadline:
                raise
        except Exception:
            if time.monotonic() > deadline:
                raise
        await asyncio.sleep(0.1)


async def setup(js, max_age=0, consumers=2):
    cfg = StreamConfig(name=STREAM, subjects=["f.>"], num_replicas=3,
                       storage=StorageType.FILE, duplicate_window=120.0,
                       max_age=float(max_age) if max_age else None)
    await retry_api(lambda: js.add_stream(cfg))
    for i in range(consumers):
        await retry_api(lambda: js.add_consumer(STREAM, ConsumerConfig(
            durable_name=f"c{i}", ack_policy=AckPolicy.EXPLICIT, ack_wait=4.0,
            max_ack_pending=1000)))
    # The KV bucket's stream keeps every revision, so the checker can walk
    # each key's whole chain of compare-and-set updates.
    kv = StreamConfig(name=f"KV_{KV}", subjects=[f"$KV.{KV}.>"], num_replicas=3,
                      storage=StorageType.FILE, max_msgs_per_subject=1000000,
                      allow_rollup_hdrs=True, deny_delete=True, deny_purge=False,
                      allow_direct=False, discard="new")
    await retry_api(lambda: js.add_stream(kv))


async def publisher(urls, i, hist, stop, payload_pad, retry_s=10.0, pace=0.01):
    nc = await connect(urls, f"pub{i}")
    js = nc.jetstream()
    n = 0
    pad = b"." * payload_pad
    try:
        while not stop.is_set():
            n += 1
            value = f"p{i}-{n}"
            rec = dict(value=value, t0=time.monotonic(), t1=None, outcome=None,
                       seq=None, attempts=0)
            hist.pubs.append(rec)
            ambiguous = False
            deadline = rec["t0"] + retry_s
            while True:
                rec["attempts"] += 1
                try:
                    ack = await js.publish(SUBJECT, value.encode() + pad, timeout=1.0,
                                           headers={"Nats-Msg-Id": value})
                    rec.update(outcome="ok", seq=ack.seq, t1=time.monotonic())
                    await asyncio.sleep(pace)
                    break
                except (NoRespondersError, APIError) as e:
                    hist.err(e)
                except Exception as e:  # timeout, connection lost: it may have landed
                    hist.err(e)
                    ambiguous = True
                if time.monotonic() > deadline or stop.is_set():
                    rec.update(outcome="unknown" if ambiguous else "failed",
                               t1=time.monotonic())
                    break
                await asyncio.sleep(0.05)
    finally:
        await nc.close()


async def pull(nc, durable, batch, expires):
    """One pull request on an inbox of its own: (time the request left,
    [messages]). nats-py's fetch shares one inbox between its requests, so
    a message the server sent for an earlier request (late, say held in a
    TCP retransmission through a partition) comes out of a later fetch, and
    when the server sent it could not be told. Here every message belongs
    to the request it answers, and late ones go nowhere."""
    inbox = nc.new_inbox()
    sub = await nc.subscribe(inbox)
    msgs = []
    t_req = time.monotonic()
    try:
        await nc.publish(f"$JS.API.CONSUMER.MSG.NEXT.{STREAM}.{durable}",
                         json.dumps({"batch": batch, "expires": int(expires * 1e9)}).encode(),
                         reply=inbox)
        deadline = t_req + expires + 0.2
        while len(msgs) < batch:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                m = await sub.next_msg(timeout=left)
            except NatsTimeout:
                break
            status = (m.headers or {}).get("Status")
            if status == "100":
                continue  # an idle heartbeat
            if status or not m.reply:
                break     # 404 no messages, 408 expired, 409 leadership change ...
            msgs.append(m)
    finally:
        try:
            await sub.unsubscribe()
        except Exception:
            pass
    return t_req, msgs


async def consumer(urls, i, hist, stop):
    nc = await connect(urls, f"con{i}")
    durable = f"c{i}"
    try:
        while not stop.is_set():
            try:
                t_req, msgs = await pull(nc, durable, 20, 0.9)
            except Exception as e:
                hist.err(e)
                await asyncio.sleep(0.1)
                continue
            for m in msgs:
                try:
                    md = m.metadata
                except Exception as e:  # not a delivery
                    hist.err(e)
                    continue
                value = m.data.split(b".", 1)[0].decode(errors="replace")
                seq = md.sequence.stream
                hist.deliveries.append((time.monotonic(), durable, seq, value, md.num_delivered,
                                        t_req))
                try:
                    await m.ack_sync(timeout=1.0)
                    hist.acks.append((time.monotonic(), durable, seq, value, "ok"))
                except Exception as e:
                    hist.err(e)
                    hist.acks.append((time.monotonic(), durable, seq, value, "unknown"))
    finally:
        await nc.close()


async def kv_writer(urls, i, hist, stop, rng):
    nc = await connect(urls, f"kv{i}")
    js = nc.jetstream()
    kv = None
    n = 0
    try:
        while not stop.is_set():
            try:
                if kv is None:
                    kv = await js.key_value(KV)
                key = rng.choice(KEYS)
                try:
                    e = await kv.get(key)
                    base = e.revision
                except KeyNotFoundError:
                    base = 0
            except Exception as e:
                hist.err(e)
                await asyncio.sleep(0.1)
                continue
            n += 1
            value = f"w{i}-{n}@{base}"
            rec = dict(key=key, value=value, base=base, t0=time.monotonic(), t1=None,
                       outcome=None, rev=None)
            hist.kv.append(rec)
            try:
                if base == 0:
                    rev = await kv.create(key, value.encode())
                else:
                    rev = await kv.update(key, value.encode(), last=base)
                rec.update(outcome="ok", rev=rev)
            except (APIError, NoRespondersError) as e:  # wrong last sequence, refused
                hist.err(e)
                rec["outcome"] = "failed"
            except Exception as e:
                hist.err(e)
                rec["outcome"] = "unknown"
            rec["t1"] = time.monotonic()
            await asyncio.sleep(0.02)
    finally:
        await nc.close()


async def read_stream(js, stream, batch=256):
    """{seq: (subject, data)} of every message the leader serves, read by
    sequence through the API (retried through leader changes)."""
    info = await retry_api(lambda: js.stream_info(stream))
    first, last = info.state.first_seq, info.state.last_seq
    out = {}

    async def one(seq):
        try:
            m = await retry_api(lambda: js.get_msg(stream, seq))
            out[seq] = (m.subject, m.data)
        except NotFoundError:
            pass
        except APIError as e:
            if e.err_code != 10037:
                raise

    for lo in range(first, last + 1, batch):
        await asyncio.gather(*(one(s) for s in range(lo, min(last, lo + batch - 1) + 1)))
    return info, out
