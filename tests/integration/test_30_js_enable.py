"""30 enabling JetStream: -js/--jetstream, -sd/--store_dir, the config
`jetstream { store_dir, max_memory_store, max_file_store }` block and the
bare `jetstream: enabled`; INFO advertises it; $JS.API.INFO answers with
the account info nats-py needs.

spec/jetstream.md §1 (INFO), §4 (account info), §3.1 (10023);
spec/server-cli-config.md §1.3, §3.5.
"""

import asyncio
import json
import re

import nats.errors
import pytest

from conftest import IS_TERND, REFERENCE, free_port, js_api as api, run_binary


ACCOUNT_INFO_FRESH = {
    "type": "io.nats.jetstream.api.v1.account_info_response",
    "memory": 0, "storage": 0, "streams": 0, "consumers": 0,
    "limits": {"max_memory": -1, "max_storage": -1, "max_streams": -1,
               "max_consumers": -1, "max_ack_pending": -1,
               "memory_max_stream_bytes": -1, "storage_max_stream_bytes": -1,
               "max_bytes_required": False},
    "api": {"total": 0, "errors": 0},
}




def files_under(path):
    return [p for p in path.rglob("*") if p.is_file() and p.stat().st_size > 0]


async def file_stream_lands_in(nc, store_dir):
    """Create a file stream, store a message; its data must be under store_dir."""
    js = nc.jetstream()
    await js.add_stream(name="ONDISK", subjects=["ondisk"])
    ack = await js.publish("ondisk", b"persist me")
    assert ack.stream == "ONDISK" and ack.seq == 1
    assert files_under(store_dir), f"nothing written under {store_dir}"


# ---------------------------------------------------------------- enabling

def test_info_advertises_jetstream_and_its_version(js_server, raw):
    c = raw(js_server)
    info = c.read_info()
    assert info["jetstream"] is True
    assert info["headers"] is True
    assert info["max_payload"] == 1048576
    # Clients pick requests by the version: Tern's JetStream is at 2.10's
    # level (the reference, 2.9.10, at its own).
    want = r"2\.9\.\d+" if REFERENCE else r"2\.10\.\d+"
    assert re.fullmatch(want, info["version"]), info["version"]


async def test_without_jetstream_info_says_so_and_the_api_is_silent(server, raw, nats_connect):
    c = raw(server)
    info = c.read_info()
    assert info.get("jetstream") in (None, False)
    nc = await nats_connect(server)
    with pytest.raises(nats.errors.NoRespondersError):
        await nc.request("$JS.API.INFO", b"", timeout=2)


async def test_short_flags_js_sd(js_server, nats_connect):
    assert "-js" in js_server.args and "-sd" in js_server.args
    nc = await nats_connect(js_server)
    await file_stream_lands_in(nc, js_server.store_dir)


async def test_long_flags_jetstream_store_dir(server_factory, nats_connect, tmp_path):
    sd = tmp_path / "long-flags"
    srv = server_factory.start("--jetstream", "--store_dir", sd)
    nc = await nats_connect(srv)
    assert nc._server_info.get("jetstream") is True
    await file_stream_lands_in(nc, sd)


async def test_config_block_store_dir(server_factory, nats_connect, tmp_path):
    sd = tmp_path / "conf-store"
    srv = server_factory.start(config=f'jetstream {{\n  store_dir: "{sd}"\n}}\n')
    nc = await nats_connect(srv)
    assert nc._server_info.get("jetstream") is True
    await file_stream_lands_in(nc, sd)


async def test_config_jetstream_enabled_with_store_dir_flag(server_factory, nats_connect, tmp_path):
    sd = tmp_path / "enabled-store"
    srv = server_factory.start("-sd", sd, config="jetstream: enabled\n")
    nc = await nats_connect(srv)
    assert nc._server_info.get("jetstream") is True
    await file_stream_lands_in(nc, sd)


async def test_config_jetstream_enabled_with_top_level_store_dir(server_factory, nats_connect,
                                                                 tmp_path):
    sd = tmp_path / "top-store"
    srv = server_factory.start(config=f'jetstream: enabled\nstore_dir: "{sd}"\n')
    nc = await nats_connect(srv)
    assert nc._server_info.get("jetstream") is True
    await file_stream_lands_in(nc, sd)


# ---------------------------------------------------------------- limits

LIMITS_CONF = """jetstream {{
  store_dir: "{sd}"
  max_memory_store: 1048576
  max_file_store: 2097152
}}
"""


async def test_max_memory_store_and_max_file_store_refuse_bigger_streams(
        server_factory, nats_connect, tmp_path):
    srv = server_factory.start(config=LIMITS_CONF.format(sd=tmp_path / "lim"))
    nc = await nats_connect(srv)
    # A stream that reserves more than the server may store is refused.
    r = await api(nc, "$JS.API.STREAM.CREATE.M", {"name": "M", "subjects": ["m"],
                                                  "storage": "memory",
                                                  "max_bytes": 2 * 1048576})
    assert r["error"]["code"] == 500 and r["error"]["err_code"] == 10028, r
    assert r["error"]["description"] == "insufficient memory resources available"
    r = await api(nc, "$JS.API.STREAM.CREATE.F", {"name": "F", "subjects": ["f"],
                                                  "storage": "file",
                                                  "max_bytes": 3 * 1048576})
    assert r["error"]["code"] == 500 and r["error"]["err_code"] == 10047, r
    assert r["error"]["description"] == "insufficient storage resources available"
    # Within the limit it is fine.
    r = await api(nc, "$JS.API.STREAM.CREATE.F", {"name": "F", "subjects": ["f"],
                                                  "max_bytes": 1048576})
    assert "error" not in r, r


@pytest.mark.parametrize("storage,limit", [("memory", 1048576), ("file", 2097152)])
async def test_publishing_past_the_server_limit_is_refused(server_factory, nats_connect,
                                                           tmp_path, storage, limit):
    srv = server_factory.start(config=LIMITS_CONF.format(sd=tmp_path / "lim"))
    nc = await nats_connect(srv)
    js = nc.jetstream()
    await js.add_stream(name="BIG", subjects=["big"], storage=storage)
    chunk = b"x" * 100_000
    stored = 0
    err = None
    for i in range(2 * limit // len(chunk) + 2):
        msg = await nc.request("big", chunk, timeout=5)
        r = json.loads(msg.data)
        if "error" in r:
            err = r
            break
        assert r == {"stream": "BIG", "seq": i + 1}
        stored += 1
    assert err is not None, f"{stored} x 100 kB accepted with a {limit} byte limit"
    assert err["error"] == {"code": 503, "err_code": 10023,
                            "description": "insufficient resources"}, err
    assert stored >= 1
    # Nothing was stored by the refused publish and what is stored is about
    # the limit (a server may overshoot by the one message it checked).
    si = await js.stream_info("BIG")
    assert si.state.messages == stored and si.state.last_seq == stored
    assert si.state.bytes <= limit + len(chunk) + 1000


# ---------------------------------------------------------------- $JS.API.INFO

async def test_account_info_of_a_fresh_server_exactly(js_server, nats_connect):
    nc = await nats_connect(js_server)
    assert await api(nc, "$JS.API.INFO") == ACCOUNT_INFO_FRESH


async def test_account_info_counts_streams_consumers_usage_and_api_calls(js_server, nats_connect):
    nc = await nats_connect(js_server)
    js = nc.jetstream()
    info = await js.account_info()
    assert (info.streams, info.consumers, info.memory, info.storage) == (0, 0, 0, 0)
    total0 = info.api.total

    await js.add_stream(name="FS", subjects=["fs.>"])
    await js.add_stream(name="MS", subjects=["ms.>"], storage="memory")
    for i in range(5):
        await js.publish("fs.x", b"file-data-%d" % i)
        await js.publish("ms.x", b"memory-data-%d" % i)
    await js.pull_subscribe("fs.x", durable="d1", stream="FS")

    info = await js.account_info()
    assert info.streams == 2
    assert info.consumers == 1
    fs = await js.stream_info("FS")
    ms = await js.stream_info("MS")
    assert info.storage == fs.state.bytes > 0
    assert info.memory == ms.state.bytes > 0
    assert info.api.total > total0

    errors0 = info.api.errors
    r = await api(nc, "$JS.API.STREAM.INFO.NOPE")
    assert r["error"]["err_code"] == 10059
    info = await js.account_info()
    assert info.api.errors == errors0 + 1

    await js.delete_stream("MS")
    info = await js.account_info()
    assert info.streams == 1 and info.memory == 0


async def test_account_info_with_nats_py(js_server, nats_connect):
    nc = await nats_connect(js_server)
    info = await nc.jetstream().account_info()
    assert info.limits.max_memory == -1 and info.limits.max_storage == -1
    assert info.limits.max_streams == -1 and info.limits.max_consumers == -1
    assert info.api.errors == 0


# ---------------------------------------------------------------- clustered

def test_clustered_jetstream_needs_server_and_cluster_names(tmp_path):
    """JetStream in a cluster is addressed by server name (the raft group's
    members) within a named cluster: without either the server refuses to
    start, with nats-server's messages."""
    base = ["-a", "127.0.0.1", "-p", str(free_port()), "-js", "-sd", str(tmp_path / "s"),
            "--cluster", f"nats://127.0.0.1:{free_port()}"]
    p = run_binary(*base, "--cluster_name", "c", timeout=10)
    assert "jetstream cluster requires `server_name` to be set" in p.stdout + p.stderr
    assert p.returncode != 0
    p = run_binary(*base, "-n", "a", timeout=10)
    assert "jetstream cluster requires `cluster.name` to be set" in p.stdout + p.stderr
    assert p.returncode != 0


@pytest.mark.skipif(not IS_TERND, reason="nats-server 2.9 refuses clustered JetStream "
                                         "without configured routes; Tern runs a group of one")
async def test_clustered_jetstream_alone_is_a_group_of_one(server_factory, nats_connect):
    """A named node with clustering on and no routes forms a group of one
    and serves JetStream (its /jsz names it as the leader)."""
    srv = server_factory.start("-n", "solo", "--cluster", f"nats://127.0.0.1:{free_port()}",
                               "--cluster_name", "one", jetstream=True, monitor=True)
    nc = await nats_connect(srv)
    js = nc.jetstream()
    deadline = asyncio.get_running_loop().time() + 15
    while True:
        try:
            await js.add_stream(name="ONE", subjects=["one"], num_replicas=1)
            break
        except Exception:
            assert asyncio.get_running_loop().time() < deadline
            await asyncio.sleep(0.1)
    ack = await js.publish("one", b"x")
    assert ack.seq == 1
    # /jsz is refreshed a few times a second.
    while (srv.http_json("/jsz").get("meta_cluster") or {}).get("leader") != "solo":
        assert asyncio.get_running_loop().time() < deadline, srv.http_json("/jsz")
        await asyncio.sleep(0.05)


async def test_cluster_requests_on_a_single_node(server_factory, nats_connect):
    """Without clustering the stepdown and peer-removal requests answer
    10010 before looking the stream up; the system-account ones answer
    nothing (nats-server 2.9.10)."""
    srv = server_factory.start(jetstream=True)
    nc = await nats_connect(srv)
    await nc.jetstream().add_stream(name="S", subjects=["s"])
    for subject, body, rtype in [
            ("$JS.API.STREAM.LEADER.STEPDOWN.S", b"", "stream_leader_stepdown_response"),
            ("$JS.API.STREAM.LEADER.STEPDOWN.NOPE", b"", "stream_leader_stepdown_response"),
            ("$JS.API.STREAM.PEER.REMOVE.S", b'{"peer":"x"}', "stream_remove_peer_response")]:
        r = json.loads((await nc.request(subject, body, timeout=2)).data)
        assert r == {"type": f"io.nats.jetstream.api.v1.{rtype}",
                     "error": {"code": 503, "err_code": 10010,
                               "description": "JetStream clustering support required"}}, r
    for subject in ("$JS.API.META.LEADER.STEPDOWN", "$JS.API.SERVER.REMOVE"):
        with pytest.raises(nats.errors.TimeoutError):
            await nc.request(subject, b'{"peer":"x"}', timeout=0.5)
