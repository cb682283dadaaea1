"""21 Accounts: separate subject spaces, users and permissions per account,
stream and service exports and imports with their subject mappings, the
no-JetStream answer (10039) and another account's JetStream used through
an import, no_auth_user in an account, /connz and /accountz.

spec/server-cli-config.md §3.2. The same tests run against nats-server
2.9.10 with TERN_REFERENCE=1, except where they check Tern's own refusals.
"""

import asyncio
import json
import signal

import nats.errors
import pytest

from conftest import REFERENCE, run_binary, settle

ACCOUNTS = """
accounts {
  A: {
    users: [
      {user: a, password: a}
      {user: a_limited, password: a, permissions: {publish: ["svc.>", "_INBOX.>"],
                                                  subscribe: ["_INBOX.>"]}}
    ]
    jetstream: enabled
    exports: [
      {stream: "feed.>"}
      {stream: "wide.*.x"}
      {service: "svc.>"}
      {service: "many.>", response_type: stream, response_threshold: "3s"}
      {service: "$JS.API.>"}
      {service: "$KV.>"}
      {stream: "private.>", accounts: [C]}
    ]
  }
  B: {
    users: [{user: b, password: b}]
    imports: [
      {stream: {account: A, subject: "feed.>"}, prefix: "from_a"}
      {stream: {account: A, subject: "wide.*.x"}, to: "narrow.$1"}
      {service: {account: A, subject: "svc.echo"}, to: "echo"}
      {service: {account: A, subject: "svc.*.twice"}, to: "twice.*"}
      {service: {account: A, subject: "many.>"}}
      {service: {account: A, subject: "$JS.API.>"}, to: "a.api.>"}
      {service: {account: A, subject: "$KV.>"}}
    ]
  }
  C: {
    users: [{user: c, password: c}]
    imports: [{stream: {account: A, subject: "private.>"}}]
  }
}
authorization { users: [{user: g, password: g}] }
"""


@pytest.fixture
def acc_server(server_factory):
    return server_factory.start(config=ACCOUNTS, monitor=True, jetstream=True)


def url(srv, user):
    return f"nats://{user}:{user if user != 'a_limited' else 'a'}@127.0.0.1:{srv.port}"


async def collect(nc, subject, into):
    async def cb(msg):
        into.append((msg.subject, msg.data, msg.reply))
    await nc.subscribe(subject, cb=cb)


async def test_subjects_are_separate_per_account(acc_server, nats_connect):
    a, b, g = [await nats_connect(url(acc_server, u)) for u in "abg"]
    got = {k: [] for k in "abg"}
    for k, nc in zip("abg", (a, b, g)):
        await collect(nc, "iso.>", got[k])
        await settle(nc)
    await a.publish("iso.1", b"from a")
    await g.publish("iso.2", b"from g")
    await b.publish("iso.3", b"from b")
    for nc in (a, b, g):
        await settle(nc)
    await asyncio.sleep(0.1)  # a copy into the wrong account would be here by now
    assert got["a"] == [("iso.1", b"from a", "")]
    assert got["g"] == [("iso.2", b"from g", "")]
    assert got["b"] == [("iso.3", b"from b", "")]


async def test_stream_import_with_prefix_and_mapping(acc_server, nats_connect):
    a, b, c = [await nats_connect(url(acc_server, u)) for u in "abc"]
    got_b, got_c = [], []
    await collect(b, ">", got_b)
    await collect(c, ">", got_c)
    await settle(b)
    await settle(c)
    await a.publish("feed.news", b"1")
    await a.publish("wide.k.x", b"2")
    await a.publish("private.p", b"3")
    await a.publish("other", b"4")
    await settle(a)

    def subjects(got):
        return sorted(s for s, _, _ in got)

    for _ in range(200):
        if len(got_b) >= 2 and len(got_c) >= 1:
            break
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.05)
    assert subjects(got_b) == ["from_a.feed.news", "narrow.k"]
    # The export limited to C reaches C only.
    assert subjects(got_c) == ["private.p"]


async def test_service_import_request_reply(acc_server, nats_connect):
    a, b = [await nats_connect(url(acc_server, u)) for u in "ab"]
    seen = []

    async def responder(msg):
        seen.append((msg.subject, msg.reply))
        await msg.respond(b"pong:" + msg.data)

    await a.subscribe("svc.>", cb=responder)
    await settle(a)
    r = await b.request("echo", b"hi", timeout=2)
    assert r.data == b"pong:hi"
    r = await b.request("twice.go", b"x", timeout=2)
    assert r.data == b"pong:x"
    assert [s for s, _ in seen] == ["svc.echo", "svc.go.twice"]
    # The responder answers a reply subject of the server's, not the
    # requester's inbox.
    assert all(reply.startswith("_R_.") for _, reply in seen)
    # A subject B has not imported goes nowhere in A.
    with pytest.raises(nats.errors.NoRespondersError):
        await b.request("svc.echo", b"", timeout=2)


async def test_singleton_service_delivers_one_reply(acc_server, nats_connect):
    a1, a2, b = [await nats_connect(url(acc_server, u)) for u in "aab"]
    for nc, tag in ((a1, b"one"), (a2, b"two")):
        async def cb(msg, tag=tag):
            await msg.respond(tag)
        await nc.subscribe("svc.echo", cb=cb)
        await settle(nc)
    inbox = b.new_inbox()
    got = []
    await collect(b, inbox, got)
    await settle(b)
    await b.publish("echo", b"?", reply=inbox)
    for _ in range(200):
        if got:
            break
        await asyncio.sleep(0.01)
    await settle(a1)
    await settle(a2)
    await asyncio.sleep(0.1)  # a second reply would have arrived
    assert len(got) == 1 and got[0][1] in (b"one", b"two")


async def test_streamed_service_delivers_every_reply(acc_server, nats_connect):
    a, b = [await nats_connect(url(acc_server, u)) for u in "ab"]

    async def cb(msg):
        for i in range(3):
            await a.publish(msg.reply, str(i).encode())

    await a.subscribe("many.>", cb=cb)
    await settle(a)
    inbox = b.new_inbox()
    got = []
    await collect(b, inbox, got)
    await settle(b)
    await b.publish("many.x", b"?", reply=inbox)
    for _ in range(300):
        if len(got) == 3:
            break
        await asyncio.sleep(0.01)
    assert [d for _, d, _ in got] == [b"0", b"1", b"2"]


async def test_service_import_without_responder(acc_server, nats_connect):
    """Nobody in A serves it: Tern says so at once (no responders), as for
    any request; nats-server 2.9 lets the request time out."""
    b = await nats_connect(url(acc_server, "b"))
    want = nats.errors.TimeoutError if REFERENCE else nats.errors.NoRespondersError
    with pytest.raises(want):
        await b.request("echo", b"", timeout=1)


async def test_permissions_inside_an_account(acc_server, nats_connect):
    lim = await nats_connect(url(acc_server, "a_limited"))
    await lim.publish("feed.x", b"")
    await settle(lim)
    for _ in range(200):
        if lim.test_errors:
            break
        await asyncio.sleep(0.01)
    assert any("permissions violation for publish to \"feed.x\"" in str(e).lower()
               for e in lim.test_errors), lim.test_errors


async def test_jetstream_only_where_enabled(acc_server, nats_connect):
    for user in "bcg":
        nc = await nats_connect(url(acc_server, user))
        r = json.loads((await nc.request("$JS.API.INFO", b"", timeout=2)).data)
        assert r == {"type": "io.nats.jetstream.api.v1.account_info_response",
                     "error": {"code": 503, "err_code": 10039,
                               "description": "JetStream not enabled for account"}}, user
        r = json.loads((await nc.request("$JS.API.STREAM.NAMES", b"", timeout=2)).data)
        assert r["error"]["err_code"] == 10039 and r["streams"] is None
        with pytest.raises(nats.errors.Error):
            await nc.jetstream().account_info()
    a = await nats_connect(url(acc_server, "a"))
    info = await a.jetstream().account_info()
    assert info.streams == 0


async def test_jetstream_of_another_account_through_an_import(acc_server, nats_connect):
    a, b = [await nats_connect(url(acc_server, u)) for u in "ab"]
    jsb = b.jetstream(prefix="a.api")
    await jsb.add_stream(name="SHARED", subjects=["shared.>"])
    await a.jetstream().publish("shared.1", b"hello")
    info = await jsb.stream_info("SHARED")
    assert info.state.messages == 1
    msg = await jsb.get_msg("SHARED", 1)
    assert msg.data == b"hello"
    # A pull consumer whose batch of three comes back through the import.
    for i in range(2, 4):
        await a.jetstream().publish(f"shared.{i}", str(i).encode())
    await jsb.add_consumer("SHARED", durable_name="d", ack_policy="none")
    r = json.loads((await b.request("a.api.CONSUMER.INFO.SHARED.d", b"", timeout=2)).data)
    assert r["num_pending"] == 3
    # Key-Value: the bucket lives in A; B reads and writes it through the
    # $JS.API and $KV imports.
    kv_a = await a.jetstream().create_key_value(bucket="shared_kv")
    await kv_a.put("k", b"from a")
    kv_b = await jsb.key_value("shared_kv")
    assert (await kv_b.get("k")).value == b"from a"
    await kv_b.put("k", b"from b")
    assert (await kv_a.get("k")).value == b"from b"


async def test_no_auth_user_in_an_account(server_factory, nats_connect):
    conf = ACCOUNTS + "no_auth_user: b\n"
    srv = server_factory.start(config=conf)
    anon = await nats_connect(f"nats://127.0.0.1:{srv.port}")
    a = await nats_connect(url(srv, "a"))
    seen = []

    async def responder(msg):
        seen.append(msg.subject)
        await msg.respond(b"ok")

    await a.subscribe("svc.>", cb=responder)
    await settle(a)
    # The anonymous client is b: its "echo" is B's import.
    assert (await anon.request("echo", b"", timeout=2)).data == b"ok"
    assert seen == ["svc.echo"]


async def test_connz_and_accountz_name_accounts(acc_server, nats_connect):
    await nats_connect(url(acc_server, "a"), name="in-a")
    await nats_connect(url(acc_server, "b"), name="in-b")
    cz = acc_server.http_json("/connz?auth=1")
    by_name = {c.get("name"): c for c in cz["connections"]}
    assert by_name["in-a"]["account"] == "A"
    assert by_name["in-b"]["account"] == "B"
    only_b = acc_server.http_json("/connz?acc=B")
    assert [c["name"] for c in only_b["connections"]] == ["in-b"]
    az = acc_server.http_json("/accountz")
    assert {"A", "B", "C", "$G", "$SYS"} <= set(az["accounts"])
    jsz = acc_server.http_json("/jsz?accounts=true")
    assert [a["name"] for a in jsz["account_details"]] == ["A"]


@pytest.mark.skipif(REFERENCE, reason="Tern's own refusals")
def test_config_refusals(tmp_path):
    cases = {
        "accounts {\n A: { jetstream: enabled }\n B: { jetstream: enabled }\n}\n":
            "Tern's JetStream serves one account",
        "accounts {\n A: { mappings: { a: b } }\n}\n": "account \"mappings\" is not supported",
        "accounts {\n B: { imports: [{stream: {account: A, subject: x}}] }\n}\n":
            "\"A\" account not defined for stream import",
    }
    for text, want in cases.items():
        conf = tmp_path / "c.conf"
        conf.write_text("jetstream: enabled\n" + text)
        r = run_binary("-t", "-c", str(conf))
        assert r.returncode != 0 and want in r.stdout + r.stderr, (text, r.stdout + r.stderr)


def test_reload_may_not_change_accounts(server_factory):
    if REFERENCE:
        pytest.skip("nats-server reloads accounts; Tern refuses the change")
    srv = server_factory.start(config=ACCOUNTS)
    srv.config_path.write_text(ACCOUNTS.replace('"3s"', '"4s"'))
    srv.send_signal(signal.SIGHUP)
    srv.wait_for_log(r"config reload not supported for accounts")
    # Users inside the accounts may change.
    srv.config_path.write_text(ACCOUNTS.replace("{user: b, password: b}",
                                                "{user: b, password: b2}"))
    srv.send_signal(signal.SIGHUP)
    srv.wait_for_log(r"Reloaded: authorization")


LIMITS = """
accounts {
  L: {
    users: [{user: l, password: l}]
    jetstream: { max_mem: 1M, max_file: 64K, max_streams: 2, max_consumers: 1 }
  }
}
"""


STREAM_LIMITS = """
accounts {
  M: {
    users: [{user: m, password: m}]
    jetstream: { max_ack_pending: 100, memory_max_stream_bytes: 2048,
                 store_max_stream_bytes: 4096, max_stream_bytes: true }
  }
}
"""


async def test_account_stream_and_consumer_limits(server_factory, nats_connect):
    """max_bytes_required (10113), the most a stream's max_bytes may be
    (10122), the account's max_ack_pending (the default is at most it,
    more is 10121), as nats-py's own account-limits test uses them."""
    srv = server_factory.start(config=STREAM_LIMITS, jetstream=True)
    nc = await nats_connect(f"nats://m:m@127.0.0.1:{srv.port}")

    async def api(subject, body):
        return json.loads((await nc.request(subject, json.dumps(body).encode(),
                                            timeout=2)).data)

    limits = (await api("$JS.API.INFO", {}))["limits"]
    assert (limits["max_ack_pending"], limits["memory_max_stream_bytes"],
            limits["storage_max_stream_bytes"], limits["max_bytes_required"]) == (
        100, 2048, 4096, True)
    r = await api("$JS.API.STREAM.CREATE.X", {"name": "X", "subjects": ["x"]})
    assert r["error"] == {"code": 400, "err_code": 10113, "description":
                          "account requires a stream config to have max bytes set"}
    r = await api("$JS.API.STREAM.CREATE.X", {"name": "X", "subjects": ["x"],
                                              "max_bytes": 65536})
    assert r["error"] == {"code": 400, "err_code": 10122, "description":
                          "stream max bytes exceeds account limit max stream bytes"}
    r = await api("$JS.API.STREAM.CREATE.X", {"name": "X", "subjects": ["x"],
                                              "max_bytes": 4096})
    assert "error" not in r, r
    r = await api("$JS.API.CONSUMER.CREATE.X.c1", {"stream_name": "X", "config": {
        "name": "c1", "ack_policy": "explicit"}})
    assert r["config"]["max_ack_pending"] == 100, r
    r = await api("$JS.API.CONSUMER.CREATE.X.c2", {"stream_name": "X", "config": {
        "name": "c2", "ack_policy": "explicit", "max_ack_pending": 101}})
    assert r["error"] == {"code": 400, "err_code": 10121, "description":
                          "consumer max ack pending exceeds system limit of 100"}


async def test_account_jetstream_limits(server_factory, nats_connect):
    srv = server_factory.start(config=LIMITS, jetstream=True)
    nc = await nats_connect(f"nats://l:l@127.0.0.1:{srv.port}")

    async def api(subject, body):
        return json.loads((await nc.request(subject, json.dumps(body).encode(),
                                            timeout=2)).data)

    info = await api("$JS.API.INFO", {})
    assert {k: info["limits"][k] for k in ("max_memory", "max_storage", "max_streams",
                                           "max_consumers")} == {
        "max_memory": 1000000, "max_storage": 64000, "max_streams": 2, "max_consumers": 1}
    big = await api("$JS.API.STREAM.CREATE.M", {"name": "M", "subjects": ["m"],
                                                "storage": "memory", "max_bytes": 2000000})
    assert big["error"]["err_code"] == 10028
    for name in ("S1", "S2"):
        r = await api(f"$JS.API.STREAM.CREATE.{name}", {"name": name,
                                                       "subjects": [name.lower() + ".>"]})
        assert "error" not in r, r
    r = await api("$JS.API.STREAM.CREATE.S3", {"name": "S3", "subjects": ["s3.>"]})
    assert r["error"] == {"code": 400, "err_code": 10027,
                          "description": "maximum number of streams reached"}
    for durable, want in (("c1", None), ("c2", 10026)):
        r = await api(f"$JS.API.CONSUMER.DURABLE.CREATE.S1.{durable}",
                      {"stream_name": "S1", "config": {"durable_name": durable,
                                                       "ack_policy": "explicit"}})
        assert (r.get("error") or {}).get("err_code") == want, r
    # File storage past 64 KB: the account's limit, nats-server's 10002.
    for k in range(100):
        r = json.loads((await nc.request("s1.x", b"x" * 1000, timeout=2)).data)
        if "error" in r:
            break
    assert r["error"] == {"code": 400, "err_code": 10002,
                          "description": "resource limits exceeded for account"}, r
    assert 50 < k < 70


async def test_push_consumer_delivers_into_an_importing_account(acc_server, nats_connect):
    """A push consumer of A whose deliver subject only B listens on (through
    a stream import) has somebody to deliver to: B gets the messages."""
    a, b = [await nats_connect(url(acc_server, u)) for u in "ab"]
    got = []

    async def cb(msg):
        got.append((msg.subject, msg.data))
    await b.subscribe("from_a.feed.push", cb=cb)
    await settle(b)
    js = a.jetstream()
    await js.add_stream(name="PUSHED", subjects=["pushed.>"])
    await js.add_consumer("PUSHED", durable_name="p", deliver_subject="feed.push",
                          ack_policy="none")
    for i in range(3):
        await js.publish(f"pushed.{i}", b"%d" % i)
    for _ in range(300):
        if len(got) == 3:
            break
        await asyncio.sleep(0.01)
    assert got == [(f"pushed.{i}", b"%d" % i) for i in range(3)]
