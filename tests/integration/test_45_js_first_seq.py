"""45 a stream's first sequence (nats-server 2.10's first_seq): a new
stream starts empty just below it, its first message and every consumer
start there, it survives a restart, an update may not change it (Tern
refuses what 2.10 would take and do nothing with), and a mirror may not
have one (10143).

nats-server 2.9.10 ignores first_seq, so these run against Tern only.
"""

import pytest
from nats.js.api import ConsumerConfig, StreamConfig

from conftest import REFERENCE, js_api as api

pytestmark = pytest.mark.skipif(
    REFERENCE, reason="nats-server 2.9.10 ignores first_seq (2.10 feature)")


@pytest.fixture
async def nc(js_server, nats_connect):
    return await nats_connect(js_server)


@pytest.mark.parametrize("storage", ["file", "memory"])
async def test_new_stream_starts_at_first_seq(nc, storage):
    r = await api(nc, "$JS.API.STREAM.CREATE.F", {"name": "F", "subjects": ["f.>"],
                                                   "storage": storage, "first_seq": 100})
    assert r["config"]["first_seq"] == 100
    st = r["state"]
    assert (st["messages"], st["first_seq"], st["last_seq"]) == (0, 100, 99)
    js = nc.jetstream()
    assert (await js.publish("f.a", b"1")).seq == 100
    assert (await js.publish("f.b", b"2")).seq == 101
    sub = await js.pull_subscribe("", "C", stream="F", config=ConsumerConfig())
    msgs = await sub.fetch(2, timeout=2)
    assert [m.metadata.sequence.stream for m in msgs] == [100, 101]
    r = await api(nc, "$JS.API.STREAM.MSG.GET.F", {"seq": 99})
    assert r["error"]["err_code"] == 10037
    # a purge of everything goes on from the last sequence, as any stream
    await js.purge_stream("F")
    assert (await js.publish("f.a", b"3")).seq == 102


async def test_update_may_keep_but_not_change_first_seq(nc):
    cfg = {"name": "F", "subjects": ["f.>"], "first_seq": 10}
    await api(nc, "$JS.API.STREAM.CREATE.F", cfg)
    same = await api(nc, "$JS.API.STREAM.UPDATE.F", {**cfg, "max_msgs": 5})
    assert "error" not in same, same
    other = await api(nc, "$JS.API.STREAM.UPDATE.F", {**cfg, "first_seq": 20})
    assert other["error"] == {"code": 500, "err_code": 10052, "description":
                              "stream configuration update can not change first sequence"}
    again = await api(nc, "$JS.API.STREAM.CREATE.F", {**cfg, "first_seq": 11})
    assert again["error"]["err_code"] == 10058


async def test_mirror_with_first_seq_is_refused(nc):
    r = await api(nc, "$JS.API.STREAM.CREATE.M", {"name": "M", "first_seq": 5,
                                                   "mirror": {"name": "F"}})
    assert r["error"] == {"code": 400, "err_code": 10143, "description":
                          "stream mirrors can not have first sequence configured"}


async def test_first_seq_survives_a_restart(server_factory, nats_connect):
    srv = server_factory.start(jetstream=True)
    nc = await nats_connect(srv)
    js = nc.jetstream()
    await api(nc, "$JS.API.STREAM.CREATE.F", {"name": "F", "subjects": ["f.>"],
                                               "first_seq": 1000})
    await nc.close()
    srv.kill9()
    srv = server_factory.start(jetstream=True, store_dir=srv.store_dir)
    nc = await nats_connect(srv)
    js = nc.jetstream()
    info = await js.stream_info("F")
    assert (info.state.first_seq, info.state.last_seq) == (1000, 999)
    assert (await js.publish("f.a", b"x")).seq == 1000
    await nc.close()
    srv.kill9()
    srv = server_factory.start(jetstream=True, store_dir=srv.store_dir)
    nc = await nats_connect(srv)
    js = nc.jetstream()
    assert (await js.publish("f.a", b"y")).seq == 1001
    assert (await js.stream_info("F")).config.first_seq == 1000
