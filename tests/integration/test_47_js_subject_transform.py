"""47 a stream's subject transform (nats-server 2.10's subject_transform
{src, dest}): a message whose subject src takes is stored, checked,
counted and delivered under the subject dest maps it to; others keep
their own. Echoed (both fields; an empty src is ">"), changed or removed
by an update, kept across a restart; a pair that does not compile is
10049, as 2.10 answers when it makes the stream.

nats-server 2.9.10 ignores subject_transform, so these run against Tern
only.
"""

import pytest
from nats.js.api import ConsumerConfig, StreamConfig, SubjectTransform

from conftest import REFERENCE, js_api as api

pytestmark = pytest.mark.skipif(
    REFERENCE, reason="nats-server 2.9.10 ignores subject_transform (2.10 feature)")


@pytest.fixture
async def nc(js_server, nats_connect):
    return await nats_connect(js_server)


async def stored(nc, stream, upto):
    out = []
    for seq in range(1, upto + 1):
        r = await api(nc, f"$JS.API.STREAM.MSG.GET.{stream}", {"seq": seq})
        if "message" in r:
            out.append(r["message"]["subject"])
    return out


async def test_matching_subjects_are_stored_under_the_mapped_subject(nc):
    js = nc.jetstream()
    info = await js.add_stream(StreamConfig(
        name="T", subjects=["tr.>"],
        subject_transform=SubjectTransform(src="tr.*", dest="moved.{{wildcard(1)}}")))
    assert (info.config.subject_transform.src, info.config.subject_transform.dest) == \
        ("tr.*", "moved.{{wildcard(1)}}")
    for s in ("tr.a", "tr.a.b", "tr.c"):
        await js.publish(s, b"x")
    assert await stored(nc, "T", 3) == ["moved.a", "tr.a.b", "moved.c"]
    # everything after the transform sees the new subject
    ack = await js.publish("tr.a", b"y", headers={"Nats-Expected-Last-Subject-Sequence": "1"})
    assert ack.seq == 4
    r = await api(nc, "$JS.API.STREAM.MSG.GET.T", {"last_by_subj": "moved.a"})
    assert r["message"]["seq"] == 4
    # a filter on the mapped subjects is taken (they are not the stream's)
    await js.add_consumer("T", ConsumerConfig(durable_name="C", filter_subject="moved.>"))
    sub = await js.pull_subscribe_bind("C", "T")
    msgs = await sub.fetch(3, timeout=2)
    assert [(m.subject, m.metadata.sequence.stream) for m in msgs] == \
        [("moved.a", 1), ("moved.c", 3), ("moved.a", 4)]


async def test_empty_src_takes_every_subject(nc):
    r = await api(nc, "$JS.API.STREAM.CREATE.T", {"name": "T", "subjects": ["tr.>"],
                                                   "subject_transform": {"dest": "all.>"}})
    assert r["config"]["subject_transform"] == {"src": ">", "dest": "all.>"}
    await nc.jetstream().publish("tr.a.b", b"x")
    assert await stored(nc, "T", 1) == ["all.tr.a.b"]


async def test_update_changes_and_removes_the_transform(nc):
    js = nc.jetstream()
    await api(nc, "$JS.API.STREAM.CREATE.T", {"name": "T", "subjects": ["tr.>"],
                                               "subject_transform": {"src": "tr.>",
                                                                     "dest": "one.>"}})
    await js.publish("tr.a", b"1")
    r = await api(nc, "$JS.API.STREAM.UPDATE.T", {"name": "T", "subjects": ["tr.>"],
                                                   "subject_transform": {"src": "tr.>",
                                                                         "dest": "two.>"}})
    assert r["config"]["subject_transform"]["dest"] == "two.>"
    await js.publish("tr.a", b"2")
    r = await api(nc, "$JS.API.STREAM.UPDATE.T", {"name": "T", "subjects": ["tr.>"]})
    assert "subject_transform" not in r["config"]
    await js.publish("tr.a", b"3")
    assert await stored(nc, "T", 3) == ["one.a", "two.a", "tr.a"]


@pytest.mark.parametrize("tr", [
    {"src": "tr.*", "dest": "x.$2"},
    {"src": "tr.*", "dest": "x.*"},
    {"src": "tr..a", "dest": "x"},
])
async def test_a_pair_that_does_not_compile_is_refused(nc, tr):
    r = await api(nc, "$JS.API.STREAM.CREATE.T", {"name": "T", "subjects": ["tr.>"],
                                                   "subject_transform": tr})
    assert r["error"] == {"code": 500, "err_code": 10049, "description":
                          f"stream subject transform from '{tr['src']}' to '{tr['dest']}': "
                          "invalid subject transform"}


async def test_transform_survives_a_restart(server_factory, nats_connect):
    srv = server_factory.start(jetstream=True)
    nc = await nats_connect(srv)
    await api(nc, "$JS.API.STREAM.CREATE.T", {"name": "T", "subjects": ["tr.>"],
                                               "subject_transform": {"src": "tr.*",
                                                                     "dest": "m.$1"}})
    await nc.close()
    srv.kill9()
    srv = server_factory.start(jetstream=True, store_dir=srv.store_dir)
    nc = await nats_connect(srv)
    await nc.jetstream().publish("tr.z", b"x")
    assert await stored(nc, "T", 1) == ["m.z"]
