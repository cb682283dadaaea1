"""49 nats-server 2.10's subject_transforms of a mirror and of a source:
each {src, dest} pair takes the origin's messages its src matches and
stores them under dest's mapping of their subject (an empty dest keeps
it); the mirror keeps the origin's sequences, a source renumbers; the
config rules and error codes are 2.10's (10144-10147, 10150-10152).

2.9.10 ignores these keys, so the tests are Tern's (2.10 behaviour) and
do not run against it.
"""

import pytest

from conftest import REFERENCE, js_api as api, wait_stream_messages

pytestmark = pytest.mark.skipif(REFERENCE, reason="2.10 feature; nats-server 2.9.10 "
                                "ignores subject_transforms of an origin")


@pytest.fixture
async def nc(js_server, nats_connect):
    return await nats_connect(js_server)


async def stored(nc, stream, upto):
    js = nc.jetstream()
    out = []
    for seq in range(1, upto + 1):
        try:
            m = await js.get_msg(stream, seq)
        except Exception:
            continue
        out.append((seq, m.subject, m.data))
    return out


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
