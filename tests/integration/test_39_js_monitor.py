"""39 JetStream monitoring: /jsz and the "jetstream" section of /varz.

The figures are a snapshot the server refreshes a few times a second, so
tests wait for them to reach the expected values rather than read once.
spec/server-cli-config.md §4; sizes as spec/jetstream.md accounts them.
"""

from conftest import async_wait_for

JSZ_KEYS = ["server_id", "now", "config", "memory", "storage", "reserved_memory",
            "reserved_storage", "accounts", "ha_assets", "api", "streams", "consumers",
            "messages", "bytes"]


def test_jsz_without_jetstream(server_factory):
    srv = server_factory.start(monitor=True)
    jsz = srv.http_json("/jsz")
    assert jsz["disabled"] is True
    assert jsz["config"] == {"max_memory": 0, "max_storage": 0}
    for key in ("memory", "storage", "streams", "consumers", "messages", "bytes", "accounts"):
        assert jsz[key] == 0, key
    assert jsz["api"] == {"total": 0, "errors": 0}
    assert srv.varz()["jetstream"] == {}


async def test_jsz_counts_streams_consumers_messages_and_api(server_factory, nats_connect):
    srv = server_factory.start(monitor=True, jetstream=True)
    jsz = srv.http_json("/jsz")
    assert list(jsz) == JSZ_KEYS, list(jsz)
    assert "disabled" not in jsz
    assert jsz["config"]["store_dir"] == str(srv.store_dir / "jetstream")
    assert (jsz["streams"], jsz["messages"], jsz["accounts"]) == (0, 0, 1)

    nc = await nats_connect(srv)
    js = nc.jetstream()
    await js.add_stream(name="S", subjects=["s.>"])
    for _ in range(3):
        await js.publish("s.x", b"hello")
    await js.add_stream(name="M", subjects=["m.>"], storage="memory", max_bytes=4096)
    await js.publish("m.x", b"abc")
    await js.pull_subscribe("s.>", durable="d1")

    # File records count 30 bytes beyond subject and payload, memory ones 16
    # (3 x (30 + 3 + 5) and 16 + 3 + 3), as nats-server 2.9 counts them.
    want = {"streams": 2, "consumers": 1, "messages": 4, "storage": 114, "memory": 22,
            "bytes": 136, "reserved_memory": 4096, "reserved_storage": 0}

    def settled():
        got = srv.http_json("/jsz")
        return got if all(got[k] == v for k, v in want.items()) else None

    jsz = await async_wait_for(settled, what=lambda: f"/jsz to show {want}: "
                               f"{srv.http_json('/jsz')}")
    # add_stream x2, the consumer lookup nats-py makes first (a 404, so one
    # error) and the consumer create; publishes are not API calls.
    assert jsz["api"]["total"] >= 4 and jsz["api"]["errors"] >= 1, jsz["api"]

    varz = srv.varz()["jetstream"]
    assert varz["config"] == jsz["config"]
    stats = varz["stats"]
    for key in ("memory", "storage", "reserved_memory", "reserved_storage", "accounts",
                "ha_assets"):
        assert stats[key] == jsz[key], key


async def test_jsz_limits_from_the_config(server_factory, tmp_path):
    store = tmp_path / "limited"
    srv = server_factory.start(monitor=True, config=f"""
jetstream {{
  store_dir: "{store}"
  max_memory_store: 1048576
  max_file_store: 2097152
}}
""")
    config = srv.http_json("/jsz")["config"]
    # (nats-server also shows "compress_ok" here; Tern has no compression.)
    assert {k: config[k] for k in ("max_memory", "max_storage", "store_dir")} == \
        {"max_memory": 1048576, "max_storage": 2097152, "store_dir": str(store / "jetstream")}



async def test_jsz_account_and_stream_details(server_factory, nats_connect):
    srv = server_factory.start(monitor=True, jetstream=True)
    nc = await nats_connect(srv)
    js = nc.jetstream()
    await js.add_stream(name="S", subjects=["s.>"])
    for _ in range(3):
        await js.publish("s.x", b"hello")
    await js.add_stream(name="E", subjects=["e.>"])
    await js.pull_subscribe("s.>", durable="d1")

    def details(query):
        got = srv.http_json("/jsz?" + query)
        ok = got["streams"] == 2 and got["consumers"] == 1 and got["messages"] == 3
        return got if ok else None

    plain = await async_wait_for(lambda: details(""), what="/jsz to count both streams")
    assert "account_details" not in plain

    acc = details("accounts=true")["account_details"]
    assert len(acc) == 1
    account = acc[0]
    assert (account["name"], account["id"], account["accounts"]) == ("$G", "$G", 0)
    assert (account["storage"], account["memory"]) == (114, 0)
    assert account["api"] == plain["api"]
    assert "stream_detail" not in account

    account = details("streams=true")["account_details"][0]
    by_name = {d["name"]: d for d in account["stream_detail"]}
    assert set(by_name) == {"S", "E"}
    s_info = await js.stream_info("S")
    s = by_name["S"]
    assert s["cluster"]["leader"] == srv.http_json("/varz")["server_id"]
    # The stream's creation time, as STREAM.INFO gives it (to the second).
    assert s["created"].endswith("Z")
    assert s["created"][:19] == s_info.created.strftime("%Y-%m-%dT%H:%M:%S"), \
        (s["created"], s_info.created)
    assert s["state"]["messages"] == 3 and s["state"]["bytes"] == 114
    assert (s["state"]["first_seq"], s["state"]["last_seq"]) == (1, 3)
    assert s["state"]["num_subjects"] == 1 and s["state"]["consumer_count"] == 1
    e = by_name["E"]["state"]
    assert (e["messages"], e["first_seq"], e["last_seq"], e["consumer_count"]) == (0, 0, 0, 0)
    assert e["first_ts"] == "0001-01-01T00:00:00Z"


def test_jsz_bad_option_value(server_factory):
    srv = server_factory.start(monitor=True, jetstream=True)
    status, _, body = srv.http_get("/jsz?streams=maybe")
    assert status == 400 and b"maybe" in body, (status, body)
