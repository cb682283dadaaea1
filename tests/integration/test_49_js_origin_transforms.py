"""49 nats-server 2.10's subject_transforms of a mirror and of a source:
each {src, dest} pair takes the origin's messages its src matches and
stores them under dest's mapping of their subject (an empty dest keeps
it); the mirror keeps the origin's sequences, a source renumbers; the
config rules and error codes are 2.10's (10144-10147, 10150-10152). A
Key-Value bucket that sources or mirrors another this way is used through
nats-py as any bucket.

2.9.10 ignores these keys, so the tests are Tern's (2.10 behaviour) and
do not run against it.
"""

import asyncio

import nats.js.errors
import pytest

from conftest import REFERENCE, js_api as api, stored_messages, wait_stream_messages

pytestmark = pytest.mark.skipif(REFERENCE, reason="2.10 feature; nats-server 2.9.10 "
                                "ignores subject_transforms of an origin")


@pytest.fixture
async def nc(js_server, nats_connect):
    return await nats_connect(js_server)


async def stored(nc, stream, upto):
    return [(seq, m.subject, m.data) for seq, m in await stored_messages(nc, stream, upto)]


async def origin(nc):
    r = await api(nc, "$JS.API.STREAM.CREATE.ORD", {"name": "ORD", "subjects": ["ord.>"]})
    assert "error" not in r, r
    js = nc.jetstream()
    for subject in ("ord.eu.1", "ord.us.2", "ord.as.3", "ord.eu.4"):
        await js.publish(subject, subject.encode())


async def test_source_transforms_take_and_rename(nc):
    await origin(nc)
    r = await api(nc, "$JS.API.STREAM.CREATE.AGG", {
        "name": "AGG", "subjects": ["agg.own"],
        "sources": [{"name": "ORD", "subject_transforms": [
            {"src": "ord.eu.*", "dest": "agg.eu.$1"},
            {"src": "ord.us.*", "dest": ""}]}]})
    assert "error" not in r, r
    assert r["config"]["sources"][0]["subject_transforms"] == [
        {"src": "ord.eu.*", "dest": "agg.eu.$1"}, {"src": "ord.us.*", "dest": ""}]
    await wait_stream_messages(nc, "AGG", 3)
    # Later messages follow as they are stored.
    await nc.jetstream().publish("ord.eu.5", b"ord.eu.5")
    await nc.jetstream().publish("ord.as.6", b"ord.as.6")
    await wait_stream_messages(nc, "AGG", 4)
    got = await stored(nc, "AGG", 4)
    assert [(s, d) for _, s, d in got] == [
        ("agg.eu.1", b"ord.eu.1"), ("ord.us.2", b"ord.us.2"), ("agg.eu.4", b"ord.eu.4"),
        ("agg.eu.5", b"ord.eu.5")]


async def test_mirror_transforms_keep_the_origin_sequences(nc):
    await origin(nc)
    r = await api(nc, "$JS.API.STREAM.CREATE.M", {
        "name": "M", "mirror": {"name": "ORD", "subject_transforms": [
            {"src": "ord.eu.>", "dest": "m.eu.>"}]}})
    assert "error" not in r, r
    await wait_stream_messages(nc, "M", 2)
    got = await stored(nc, "M", 4)
    assert got == [(1, "m.eu.1", b"ord.eu.1"), (4, "m.eu.4", b"ord.eu.4")]
    info = await api(nc, "$JS.API.STREAM.INFO.M")
    assert info["mirror"]["lag"] == 0


@pytest.mark.parametrize("cfg,want", [
    ({"sources": [{"name": "ORD", "filter_subject": "ord.eu.*",
                   "subject_transforms": [{"src": "ord.us.*", "dest": ""}]}]},
     (10144, "source with multiple subject transforms cannot also have a single subject "
             "filter")),
    ({"sources": [{"name": "ORD", "subject_transforms": [{"src": "ord..x", "dest": ""}]}]},
     (10145, "source subject filter is invalid")),
    ({"sources": [{"name": "ORD", "subject_transforms": [{"src": "ord.x", "dest": "a..b"}]}]},
     (10146, "source transform destination is invalid")),
    ({"sources": [{"name": "ORD", "subject_transforms": [{"src": "ord.>", "dest": ""},
                                                         {"src": "ord.eu.*", "dest": ""}]}]},
     (10147, "source filters can not overlap")),
    ({"mirror": {"name": "ORD", "filter_subject": "ord.eu.*",
                 "subject_transforms": [{"src": "ord.us.*", "dest": ""}]}},
     (10150, "mirror with multiple subject transforms cannot also have a single subject "
             "filter")),
    ({"mirror": {"name": "ORD", "subject_transforms": [{"src": "", "dest": ""}]}},
     (10151, "mirror subject filter is invalid")),
    ({"mirror": {"name": "ORD", "subject_transforms": [{"src": "ord.*.x", "dest": ""},
                                                       {"src": "ord.eu.*", "dest": ""}]}},
     (10152, "mirror subject filters can not overlap")),
])
async def test_transform_rules(nc, cfg, want):
    await origin(nc)
    r = await api(nc, "$JS.API.STREAM.CREATE.BAD", dict(name="BAD", **cfg))
    assert r["error"] == {"code": 400, "err_code": want[0], "description": want[1]}, r


def kv_stream(bucket, **extra):
    """The stream nats-py makes for a bucket, as a raw config."""
    return dict({"name": f"KV_{bucket}", "subjects": [f"$KV.{bucket}.>"],
                 "max_msgs_per_subject": 1, "discard": "new", "allow_rollup_hdrs": True,
                 "deny_delete": True, "allow_direct": True}, **extra)


async def test_key_value_bucket_sourced_from_another(nc):
    """A bucket B that sources bucket A under its own prefix is read and
    written through nats-py as any bucket (what nats.go's KV sources are)."""
    js = nc.jetstream()
    kv_a = await js.create_key_value(bucket="A")
    await kv_a.put("k1", b"v1")
    r = await api(nc, "$JS.API.STREAM.CREATE.KV_B", kv_stream("B", sources=[
        {"name": "KV_A", "subject_transforms": [{"src": "$KV.A.>", "dest": "$KV.B.>"}]}]))
    assert "error" not in r, r
    await kv_a.put("k2", b"v2")
    kv_b = await js.key_value("B")
    await wait_stream_messages(nc, "KV_B", 2)
    assert (await kv_b.get("k1")).value == b"v1"
    assert (await kv_b.get("k2")).value == b"v2"
    await kv_b.put("own", b"b")
    assert sorted(await kv_b.keys()) == ["k1", "k2", "own"]
    await kv_a.put("k1", b"v1b")
    await wait_stream_messages(nc, "KV_B", 3)
    assert (await kv_b.get("k1")).value == b"v1b"


async def test_key_value_bucket_mirrored(nc):
    """A read-only mirror bucket M of A, renamed to its own prefix."""
    js = nc.jetstream()
    kv_a = await js.create_key_value(bucket="A")
    await kv_a.put("k", b"v")
    cfg = kv_stream("M", mirror={"name": "KV_A", "subject_transforms": [
        {"src": "$KV.A.>", "dest": "$KV.M.>"}]})
    del cfg["subjects"]
    r = await api(nc, "$JS.API.STREAM.CREATE.KV_M", cfg)
    assert "error" not in r, r
    await wait_stream_messages(nc, "KV_M", 1)
    kv_m = await js.key_value("M")
    assert (await kv_m.get("k")).value == b"v"
    await kv_a.delete("k")
    # The delete marker takes the key's place (one per subject).
    for _ in range(500):
        info = await api(nc, "$JS.API.STREAM.INFO.KV_M")
        if info["state"]["last_seq"] == 2:
            break
        await asyncio.sleep(0.01)
    with pytest.raises(nats.js.errors.KeyNotFoundError):
        await kv_m.get("k")
