"""44 stream and consumer metadata (nats-server 2.10): kept, echoed with
the config (keys sorted, as Go encodes a map), changed by an update, part
of the config an idempotent create compares, kept across a restart, and
refused past 128 KiB or when a value is not a string.

nats-server 2.9.10 ignores metadata, so these run against Tern only.
"""

import pytest
from nats.js.api import ConsumerConfig, StreamConfig

from conftest import REFERENCE, js_api as api

pytestmark = pytest.mark.skipif(
    REFERENCE, reason="nats-server 2.9.10 ignores metadata (2.10 feature)")


def error(code, err_code, description):
    return {"code": code, "err_code": err_code, "description": description}


@pytest.fixture
async def nc(js_server, nats_connect):
    return await nats_connect(js_server)


async def test_stream_metadata_is_kept_echoed_and_updated(nc):
    js = nc.jetstream()
    info = await js.add_stream(StreamConfig(name="M", subjects=["m.>"],
                                            metadata={"team": "ops", "env": "prod"}))
    assert info.config.metadata == {"team": "ops", "env": "prod"}
    r = await api(nc, "$JS.API.STREAM.INFO.M")
    assert list(r["config"]["metadata"]) == ["env", "team"]  # sorted, as Go's map
    # the same create again is idempotent; other metadata is another config
    again = await api(nc, "$JS.API.STREAM.CREATE.M", {"name": "M", "subjects": ["m.>"],
                                                       "metadata": {"env": "prod",
                                                                    "team": "ops"}})
    assert "error" not in again, again
    other = await api(nc, "$JS.API.STREAM.CREATE.M", {"name": "M", "subjects": ["m.>"],
                                                       "metadata": {"env": "dev"}})
    assert other["error"]["err_code"] == 10058
    info = await js.update_stream(StreamConfig(name="M", subjects=["m.>"],
                                               metadata={"env": "dev"}))
    assert info.config.metadata == {"env": "dev"}
    info = await js.update_stream(StreamConfig(name="M", subjects=["m.>"]))
    assert info.config.metadata is None
    assert "metadata" not in (await api(nc, "$JS.API.STREAM.INFO.M"))["config"]


async def test_consumer_metadata_is_kept_echoed_and_updated(nc):
    js = nc.jetstream()
    await js.add_stream(StreamConfig(name="M", subjects=["m.>"]))
    info = await js.add_consumer("M", ConsumerConfig(durable_name="C",
                                                     metadata={"owner": "billing"}))
    assert info.config.metadata == {"owner": "billing"}
    info = await js.add_consumer("M", ConsumerConfig(durable_name="C",
                                                     metadata={"owner": "audit", "v": "2"}))
    assert info.config.metadata == {"owner": "audit", "v": "2"}
    assert (await js.consumer_info("M", "C")).config.metadata == {"owner": "audit", "v": "2"}


BIG = "x" * (128 * 1024)


@pytest.mark.parametrize("metadata,err", [
    ({"k": BIG}, error(500, 10052, "stream metadata exceeds maximum size of 131072 bytes")),
    ({"k": 1}, error(400, 10025, "invalid JSON")),
    (["k"], error(400, 10025, "invalid JSON")),
])
async def test_stream_metadata_refused(nc, metadata, err):
    r = await api(nc, "$JS.API.STREAM.CREATE.M", {"name": "M", "subjects": ["m.>"],
                                                   "metadata": metadata})
    assert r["error"] == err
    assert (await api(nc, "$JS.API.STREAM.NAMES"))["streams"] is None


async def test_consumer_metadata_refused(nc):
    await nc.jetstream().add_stream(StreamConfig(name="M", subjects=["m.>"]))
    for metadata, err in (({"k": BIG}, error(400, 10135, "consumer metadata exceeds maximum "
                                                         "size of 128KB")),
                          ({"k": {"a": "b"}}, error(400, 10025, "invalid JSON"))):
        r = await api(nc, "$JS.API.CONSUMER.DURABLE.CREATE.M.C",
                      {"stream_name": "M", "config": {"durable_name": "C",
                                                      "metadata": metadata}})
        assert r["error"] == err
    # just under the limit (keys and values together) is fine
    ok = {"k": "x" * (128 * 1024 - 1)}
    r = await api(nc, "$JS.API.CONSUMER.DURABLE.CREATE.M.C",
                  {"stream_name": "M", "config": {"durable_name": "C", "metadata": ok}})
    assert r["config"]["metadata"] == ok


async def test_metadata_survives_a_restart(server_factory, nats_connect):
    srv = server_factory.start(jetstream=True)
    nc = await nats_connect(srv)
    js = nc.jetstream()
    await js.add_stream(StreamConfig(name="M", subjects=["m.>"], metadata={"a": "1"}))
    await js.add_consumer("M", ConsumerConfig(durable_name="C", metadata={"b": "2"}))
    await nc.close()
    srv.kill9()
    srv = server_factory.start(jetstream=True, store_dir=srv.store_dir)
    nc = await nats_connect(srv)
    js = nc.jetstream()
    assert (await js.stream_info("M")).config.metadata == {"a": "1"}
    assert (await js.consumer_info("M", "C")).config.metadata == {"b": "2"}
