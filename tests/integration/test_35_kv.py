"""35 Key-Value: everything nats-py's KeyValue does against the server —
create_key_value with history and ttl, bind, put, get (latest and by
revision, with and without direct get), create, update with a revision,
delete, purge, purge_deletes, keys, history, watch (initial values, the
end-of-initial-data marker, live updates), status, delete bucket, and the
errors KeyNotFoundError, KeyWrongLastSequenceError, NoKeysError,
BucketNotFoundError; a bucket with republish (every put, delete and purge
copied to its destination, headers_only too).

spec/kv.md (all of it); spec/jetstream.md §5.1 (republish), §8.9 (ordered
consumers).
"""

import asyncio
import datetime
import time

import nats.js.errors
import pytest
from nats.js.api import KeyValueConfig, RePublish
from nats.js.kv import KV_DEL, KV_PURGE


@pytest.fixture
async def js(js_server, nats_connect):
    nc = await nats_connect(js_server)
    return nc.jetstream()


@pytest.fixture
async def kv(js):
    return await js.create_key_value(bucket="cfg", history=5)


# nats-py decides that a watcher's initial data is complete when the
# CONSUMER.INFO it sends after subscribing says num_pending 0 while nothing
# has arrived yet. Against nats-server 2.9.10 that reply now and then
# overtakes deliveries already counted (about 1 run in 100 here), and the
# client then puts its end marker (None) first. So the helpers below take
# the initial entries by count, and history()/keys() are retried when they
# come back short; a server whose num_pending is wrong fails every attempt.

async def drain_watch(w, n, timeout=3):
    """The first n entries of a watcher, skipping its one None marker."""
    out, markers = [], 0
    while len(out) < n:
        e = await w.updates(timeout=timeout)
        if e is None:
            markers += 1
            assert markers == 1, "two end-of-initial-data markers"
            continue
        out.append(e)
    if not markers:
        assert await w.updates(timeout=timeout) is None
    return out


async def settled(op, *args, want):
    """history()/keys() result with at least `want` items (see above)."""
    for _ in range(3):
        try:
            res = await op(*args)
        except nats.js.errors.NoKeysError:
            res = []
        if len(res) >= want:
            break
    return res


# ---------------------------------------------------------------- buckets

async def test_create_key_value_makes_the_kv_stream(js):
    kv = await js.create_key_value(bucket="cfg", history=5, ttl=3600)
    si = await js.stream_info("KV_cfg")
    c = si.config
    assert c.subjects == ["$KV.cfg.>"]
    assert c.max_msgs_per_subject == 5
    assert c.max_age == 3600
    assert c.discard == "new"
    assert c.deny_delete is True and c.allow_rollup_hdrs is True
    assert c.allow_direct is False             # nats-py leaves it out unless asked
    assert c.duplicate_window == 120
    assert c.max_consumers == -1 and c.max_msgs == -1
    st = await kv.status()
    assert st.bucket == "cfg" and st.values == 0 and st.history == 5 and st.ttl == 3600


async def test_create_key_value_twice_is_idempotent(js):
    kv1 = await js.create_key_value(bucket="twice", history=3)
    await kv1.put("k", b"v")
    kv2 = await js.create_key_value(bucket="twice", history=3)
    assert (await kv2.get("k")).value == b"v"
    with pytest.raises(nats.js.errors.BadRequestError) as e:
        await js.create_key_value(bucket="twice", history=4)
    assert e.value.err_code == 10058


async def test_bind_to_existing_bucket_and_missing_bucket(js, kv):
    await kv.put("a", b"1")
    kv2 = await js.key_value("cfg")
    assert (await kv2.get("a")).value == b"1"
    with pytest.raises(nats.js.errors.BucketNotFoundError):
        await js.key_value("nope")


async def test_delete_bucket(js, kv):
    await kv.put("a", b"1")
    assert await js.delete_key_value("cfg") is True
    with pytest.raises(nats.js.errors.BucketNotFoundError):
        await js.key_value("cfg")
    with pytest.raises(nats.js.errors.NoStreamResponseError):
        await kv.put("a", b"2")


async def test_status(js):
    kv = await js.create_key_value(bucket="st", history=2)
    for i in range(3):
        await kv.put("a", b"v%d" % i)
    await kv.put("b", b"x")
    st = await kv.status()
    assert st.values == 3                       # history 2 for a, 1 for b
    assert st.history == 2
    assert st.ttl in (None, 0)
    assert st.stream_info.state.bytes > 0


# ---------------------------------------------------------------- put / get

async def test_put_get_and_global_revisions(kv):
    assert await kv.put("a", b"1") == 1
    assert await kv.put("b", b"2") == 2
    assert await kv.put("a", b"3") == 3
    assert await kv.put("x.y.z", b"dotted") == 4
    e = await kv.get("a")
    assert (e.bucket, e.key, e.value, e.revision) == ("cfg", "a", b"3", 3)
    assert (await kv.get("b")).value == b"2"
    assert (await kv.get("x.y.z")).value == b"dotted"
    assert (await kv.get("a", revision=1)).value == b"1"


async def test_empty_value(kv):
    rev = await kv.put("empty", b"")
    e = await kv.get("empty")
    assert e.revision == rev and not e.value


async def test_get_missing_key(kv):
    with pytest.raises(nats.js.errors.KeyNotFoundError):
        await kv.get("missing")


async def test_get_by_revision_of_another_key_is_not_found(kv):
    await kv.put("a", b"1")
    await kv.put("b", b"2")
    with pytest.raises(nats.js.errors.KeyNotFoundError):
        await kv.get("a", revision=2)
    with pytest.raises(nats.js.errors.KeyNotFoundError):
        await kv.get("a", revision=99)


async def test_history_limit_evicts_oldest_revision(js):
    kv = await js.create_key_value(bucket="h3", history=3)
    for i in range(5):
        await kv.put("k", b"v%d" % i)
    hist = await settled(kv.history, "k", want=3)
    assert [(e.revision, e.value) for e in hist] == [(3, b"v2"), (4, b"v3"), (5, b"v4")]
    with pytest.raises(nats.js.errors.KeyNotFoundError):
        await kv.get("k", revision=1)
    assert (await kv.status()).values == 3


async def test_default_history_is_one(js):
    kv = await js.create_key_value(bucket="h1")
    for i in range(3):
        await kv.put("k", b"v%d" % i)
    assert (await kv.status()).values == 1
    assert [e.value for e in await settled(kv.history, "k", want=1)] == [b"v2"]


# ---------------------------------------------------------------- create / update

async def test_create_only_if_absent(kv):
    assert await kv.create("c", b"first") == 1
    with pytest.raises(nats.js.errors.KeyWrongLastSequenceError):
        await kv.create("c", b"second")
    assert (await kv.get("c")).value == b"first"
    # A failed create burned no revision.
    assert await kv.put("d", b"x") == 2


async def test_create_after_delete_and_after_purge(kv):
    await kv.put("c", b"1")                  # 1
    await kv.delete("c")                     # 2
    assert await kv.create("c", b"again") == 3
    await kv.purge("c")                      # 4
    assert await kv.create("c", b"third") == 5
    assert (await kv.get("c")).value == b"third"


async def test_update_with_revision(kv):
    r1 = await kv.put("u", b"1")
    r2 = await kv.update("u", b"2", last=r1)
    assert r2 == r1 + 1
    with pytest.raises(nats.js.errors.KeyWrongLastSequenceError):
        await kv.update("u", b"3", last=r1)
    await kv.put("other", b"x")              # another key's revision does not matter
    r3 = await kv.update("u", b"3", last=r2)
    assert (await kv.get("u")).value == b"3" and (await kv.get("u")).revision == r3
    with pytest.raises(nats.js.errors.KeyWrongLastSequenceError):
        await kv.update("never", b"x", last=5)


async def test_wrong_last_sequence_error_carries_10071(js, kv):
    await kv.put("k", b"1")
    with pytest.raises(nats.js.errors.KeyWrongLastSequenceError) as e:
        await kv.create("k", b"2")
    assert "wrong last sequence" in (e.value.description or "")


# ---------------------------------------------------------------- delete / purge

async def test_delete_leaves_a_marker(kv):
    await kv.put("d", b"1")
    await kv.put("d", b"2")
    assert await kv.delete("d") is True
    with pytest.raises(nats.js.errors.KeyNotFoundError):
        await kv.get("d")
    hist = await settled(kv.history, "d", want=3)
    assert [(e.value or b"", e.operation) for e in hist] == [(b"1", None), (b"2", None),
                                                             (b"", KV_DEL)]
    # A delete with the wrong expected revision is refused.
    with pytest.raises(nats.js.errors.APIError) as e:
        await kv.delete("d", last=1)
    assert e.value.err_code == 10071


async def test_purge_keeps_only_the_marker(kv):
    for i in range(4):
        await kv.put("p", b"%d" % i)
    await kv.put("other", b"o")
    assert await kv.purge("p") is True
    with pytest.raises(nats.js.errors.KeyNotFoundError):
        await kv.get("p")
    hist = await settled(kv.history, "p", want=1)
    assert len(hist) == 1 and hist[0].operation == KV_PURGE and hist[0].revision == 6
    assert (await kv.status()).values == 2
    assert (await kv.get("other")).value == b"o"


async def test_purge_deletes_removes_markers(kv):
    await kv.put("a", b"1")
    await kv.put("b", b"2")
    await kv.delete("a")
    await kv.purge("b")
    await kv.put("c", b"3")
    assert (await kv.status()).values == 4       # a, a's DEL, b's PURGE, c
    for _ in range(3):          # it reads the markers with a watcher (see above)
        await kv.purge_deletes(olderthan=-1)
        if (await kv.status()).values == 1:
            break
    assert (await kv.status()).values == 1
    assert await settled(kv.keys, want=1) == ["c"]
    with pytest.raises(nats.js.errors.NoKeysError):
        await kv.history("a")


# ---------------------------------------------------------------- keys / history

async def test_keys(kv):
    with pytest.raises(nats.js.errors.NoKeysError):
        await kv.keys()
    await kv.put("a", b"1")
    await kv.put("b.c", b"2")
    await kv.put("a", b"3")
    await kv.put("gone", b"4")
    await kv.delete("gone")
    await kv.put("purged", b"5")
    await kv.purge("purged")
    assert sorted(await settled(kv.keys, want=2)) == ["a", "b.c"]


async def test_keys_when_everything_is_deleted(kv):
    await kv.put("a", b"1")
    await kv.delete("a")
    with pytest.raises(nats.js.errors.NoKeysError):
        await kv.keys()


async def test_history(kv):
    for i in range(3):
        await kv.put("h", b"v%d" % i)
    await kv.put("other", b"x")
    hist = await settled(kv.history, "h", want=3)
    assert [(e.key, e.value, e.revision) for e in hist] == [("h", b"v0", 1), ("h", b"v1", 2),
                                                            ("h", b"v2", 3)]
    assert [e.delta for e in hist] == [2, 1, 0]
    now = datetime.datetime.now(datetime.timezone.utc)
    for e in hist:
        assert abs((now - e.created).total_seconds()) < 60
    with pytest.raises(nats.js.errors.NoKeysError):
        await kv.history("nothing")


# ---------------------------------------------------------------- watch

async def test_watch_all_initial_values_then_updates(kv):
    await kv.put("a.b", b"1")          # 1
    await kv.put("a.b", b"2")          # 2
    await kv.put("c", b"3")            # 3
    await kv.put("p", b"4")            # 4
    await kv.purge("p")                # 5
    w = await kv.watchall()
    init = await drain_watch(w, 3)
    assert [(e.key, e.value or b"", e.revision, e.operation) for e in init] == [
        ("a.b", b"2", 2, None), ("c", b"3", 3, None), ("p", b"", 5, KV_PURGE)]
    assert [e.delta for e in init] == [2, 1, 0]
    await kv.put("a.b", b"live")
    e = await w.updates(timeout=3)
    assert (e.key, e.value, e.revision, e.delta) == ("a.b", b"live", 6, 0)
    await kv.delete("c")
    e = await w.updates(timeout=3)
    assert (e.key, e.revision, e.operation) == ("c", 7, KV_DEL)
    await w.stop()


async def test_watch_empty_bucket_signals_at_once(kv):
    w = await kv.watchall()
    assert await w.updates(timeout=2) is None
    await kv.put("first", b"1")
    e = await w.updates(timeout=3)
    assert (e.key, e.value, e.revision) == ("first", b"1", 1)
    await w.stop()


async def test_watch_key_pattern(kv):
    await kv.put("cfg.a", b"1")
    await kv.put("cfg.b", b"2")
    await kv.put("other", b"3")
    w = await kv.watch("cfg.*")
    assert sorted(e.key for e in await drain_watch(w, 2)) == ["cfg.a", "cfg.b"]
    await kv.put("other", b"ignored")
    await kv.put("cfg.c", b"new")
    e = await w.updates(timeout=3)
    assert (e.key, e.value) == ("cfg.c", b"new")
    await w.stop()


async def test_watch_include_history(kv):
    for i in range(3):
        await kv.put("k", b"v%d" % i)
    w = await kv.watch("k", include_history=True)
    assert [e.value for e in await drain_watch(w, 3)] == [b"v0", b"v1", b"v2"]
    await w.stop()


async def test_watch_many_updates_in_order(kv):
    w = await kv.watchall()
    assert await w.updates(timeout=2) is None
    for i in range(100):
        await kv.put("seq", b"%d" % i)
    got = [(await w.updates(timeout=3)).value for _ in range(100)]
    assert got == [b"%d" % i for i in range(100)]
    await w.stop()


# ---------------------------------------------------------------- ttl, direct, limits

async def test_ttl_expires_values_and_create_works_after(js):
    kv = await js.create_key_value(bucket="ttl", ttl=0.5)
    si = await js.stream_info("KV_ttl")
    assert si.config.max_age == 0.5 and si.config.duplicate_window == 0.5
    await kv.put("t", b"short-lived")
    assert (await kv.get("t")).value == b"short-lived"
    deadline = time.monotonic() + 5
    while True:
        try:
            await kv.get("t")
        except nats.js.errors.KeyNotFoundError:
            break
        assert time.monotonic() < deadline, "value still there 5 s after its 0.5 s ttl"
        await asyncio.sleep(0.05)
    assert (await kv.status()).values == 0
    assert await kv.create("t", b"again") == 2


async def test_direct_bucket(js):
    kv = await js.create_key_value(KeyValueConfig(bucket="dk", history=3, direct=True))
    si = await js.stream_info("KV_dk")
    assert si.config.allow_direct is True
    await kv.put("k", b"1")
    await kv.put("k", b"2")
    e = await kv.get("k")
    assert (e.value, e.revision) == (b"2", 2)
    assert (await kv.get("k", revision=1)).value == b"1"
    with pytest.raises(nats.js.errors.KeyNotFoundError):
        await kv.get("none")
    await kv.delete("k")
    with pytest.raises(nats.js.errors.KeyNotFoundError):
        await kv.get("k")
    assert await kv.create("k", b"3") == 4


async def test_full_bucket_refuses_puts(js):
    kv = await js.create_key_value(bucket="small", max_bytes=300)
    await kv.put("a", b"x" * 100)
    with pytest.raises(nats.js.errors.APIError) as e:
        for i in range(10):
            await kv.put("k%d" % i, b"y" * 100)
    assert e.value.err_code == 10077
    assert (await kv.get("a")).value == b"x" * 100


async def test_readme_example(js):
    kv = await js.create_key_value(bucket="MY_KV")
    await kv.put("hello", b"world")
    entry = await kv.get("hello")
    assert (entry.key, entry.value) == ("hello", b"world")


async def test_bucket_with_republish(js):
    nc = js._nc
    sub = await nc.subscribe("repub.>")
    kv = await js.create_key_value(KeyValueConfig(
        bucket="rp", history=2,
        republish=RePublish(src="$KV.rp.>", dest="repub.rp.>")))
    si = await js.stream_info("KV_rp")
    assert (si.config.republish.src, si.config.republish.dest) == ("$KV.rp.>", "repub.rp.>")
    r1 = await kv.put("a.b", b"one")
    m = await sub.next_msg(timeout=2)
    assert m.subject == "repub.rp.a.b" and m.data == b"one"
    assert m.headers == {"Nats-Stream": "KV_rp", "Nats-Subject": "$KV.rp.a.b",
                         "Nats-Sequence": str(r1), "Nats-Last-Sequence": "0"}
    r2 = await kv.update("a.b", b"two", last=r1)
    m = await sub.next_msg(timeout=2)
    assert m.data == b"two" and m.headers["Nats-Last-Sequence"] == str(r1)
    assert m.headers["Nats-Sequence"] == str(r2)
    # A refused update stores nothing and copies nothing.
    with pytest.raises(nats.js.errors.KeyWrongLastSequenceError):
        await kv.update("a.b", b"stale", last=r1)
    await kv.delete("a.b")
    m = await sub.next_msg(timeout=2)
    assert m.data == b"" and m.headers["KV-Operation"] == "DEL"
    assert m.headers["Nats-Last-Sequence"] == str(r2)
    await kv.purge("a.b")
    m = await sub.next_msg(timeout=2)
    assert m.headers["KV-Operation"] == "PURGE" and m.headers["Nats-Rollup"] == "sub"
    with pytest.raises(nats.errors.TimeoutError):
        await sub.next_msg(timeout=0.2)  # only the stored ones, once each


async def test_bucket_republishing_headers_only(js):
    nc = js._nc
    sub = await nc.subscribe("meta.>")
    kv = await js.create_key_value(KeyValueConfig(
        bucket="ho", republish=RePublish(dest="meta.>", headers_only=True)))
    await kv.put("k", b"12345")
    m = await sub.next_msg(timeout=2)
    assert m.subject == "meta.$KV.ho.k" and m.data == b""
    assert m.headers["Nats-Msg-Size"] == "5"
    assert (await kv.get("k")).value == b"12345"
