"""22 The system account's requests: $SYS.REQ.SERVER.PING (statsz) and
$SYS.REQ.SERVER.PING.<EP> / $SYS.REQ.SERVER.<id>.<EP> for VARZ, CONNZ,
SUBSZ, ROUTEZ, JSZ, HEALTHZ, ACCOUNTZ: the monitoring endpoint's object
wrapped as {"server":{...},"data":{...}}, options from the request body,
nats-server's filters, its decode errors, and no answer for the users of
other accounts.

spec/server-cli-config.md §4. The same tests run against nats-server 2.9.10
with TERN_REFERENCE=1; where they compare with HTTP monitoring it is the
same server's.
"""

import asyncio
import json

import nats.errors
import pytest

from conftest import REFERENCE, async_wait_for, settle, wait_for

CONFIG = """
accounts {
  SYS: { users: [{user: sys, password: sys}] }
  A: { users: [{user: a, password: a}], jetstream: enabled }
}
system_account: SYS
"""

ENDPOINTS = ["VARZ", "CONNZ", "SUBSZ", "ROUTEZ", "JSZ", "HEALTHZ", "ACCOUNTZ"]


@pytest.fixture
def sys_server(server_factory):
    return server_factory.start(config=CONFIG, monitor=True)


def url(srv, user):
    return f"nats://{user}:{user}@127.0.0.1:{srv.port}"


async def sys_conn(nats_connect, srv):
    return await nats_connect(url(srv, "sys"))


def wait_clients(srv, n):
    """Until srv counts n connections: the harness's readiness probe (a
    TCP connection that reads INFO and goes) may not have gone yet."""
    wait_for(lambda: srv.varz()["connections"] == n, what=f"{n} connections")


def server_id(nc):
    return nc._server_info["server_id"]


async def ask(nc, subject, body=b"", timeout=2):
    if isinstance(body, (dict, list)):
        body = json.dumps(body).encode()
    msg = await nc.request(subject, body, timeout=timeout)
    return json.loads(msg.data)


def check_server_info(info, srv_id):
    """nats-server's ServerInfo of the node that answered."""
    assert info["id"] == srv_id
    assert info["name"] == srv_id            # no server_name: the id
    assert info["host"] == "127.0.0.1"
    # the nats-server level each speaks (INFO's version)
    assert info["ver"] == ("2.9.10" if REFERENCE else "2.10.0")
    assert info["jetstream"] is False
    assert isinstance(info["seq"], int) and info["seq"] > 0
    assert info["time"].endswith("Z")
    assert "cluster" not in info and "domain" not in info


async def test_ping_answers_with_statsz(sys_server, nats_connect):
    nc = await sys_conn(nats_connect, sys_server)
    sid = server_id(nc)
    wait_clients(sys_server, 1)
    for subject in ("$SYS.REQ.SERVER.PING", "$SYS.REQ.SERVER.PING.STATSZ",
                    f"$SYS.REQ.SERVER.{sid}.STATSZ"):
        r = await ask(nc, subject)
        assert list(r) == ["server", "statsz"], r
        check_server_info(r["server"], sid)
        st = r["statsz"]
        varz = sys_server.varz()
        assert st["start"] == varz["start"]
        assert st["cores"] == varz["cores"]
        assert st["connections"] == 1 and st["total_connections"] >= 1
        assert st["active_accounts"] == 1
        assert st["active_servers"] == 1
        assert "routes" not in st                      # omitempty: no routes
        assert "jetstream" not in st
        for k in ("sent", "received"):
            assert set(st[k]) == {"msgs", "bytes"}
        assert st["subscriptions"] > 0
        assert st["slow_consumers"] == 0


async def test_seq_counts_up(sys_server, nats_connect):
    nc = await sys_conn(nats_connect, sys_server)
    a = await ask(nc, "$SYS.REQ.SERVER.PING.HEALTHZ")
    b = await ask(nc, "$SYS.REQ.SERVER.PING.HEALTHZ")
    assert b["server"]["seq"] > a["server"]["seq"]


@pytest.mark.parametrize("ep", ENDPOINTS)
async def test_each_endpoint_by_ping_and_by_id(sys_server, nats_connect, ep):
    nc = await sys_conn(nats_connect, sys_server)
    sid = server_id(nc)
    for subject in (f"$SYS.REQ.SERVER.PING.{ep}", f"$SYS.REQ.SERVER.{sid}.{ep}"):
        r = await ask(nc, subject)
        assert list(r) == ["server", "data"], r
        check_server_info(r["server"], sid)
        if ep != "HEALTHZ":
            assert r["data"]["server_id"] == sid


async def test_varz_is_the_http_varz(sys_server, nats_connect):
    nc = await sys_conn(nats_connect, sys_server)
    wait_clients(sys_server, 1)
    data = (await ask(nc, "$SYS.REQ.SERVER.PING.VARZ"))["data"]
    http = sys_server.varz()
    for k in ("server_id", "server_name", "version", "host", "port", "max_payload",
              "max_connections", "ping_interval", "http_port", "start", "config_load_time",
              "system_account", "cluster", "jetstream"):
        assert data[k] == http[k], k
    assert data["system_account"] == "SYS"
    assert data["connections"] == 1


async def test_varz_without_a_monitoring_port(server_factory, nats_connect):
    srv = server_factory.start(config=CONFIG)
    nc = await sys_conn(nats_connect, srv)
    data = (await ask(nc, "$SYS.REQ.SERVER.PING.VARZ"))["data"]
    assert data["server_id"] == server_id(nc)
    assert data["port"] == srv.port
    assert data["http_port"] == 0 and data["http_host"] == "127.0.0.1"
    assert data["cpu"] >= 0 and data["mem"] > 0


async def test_connz_options(sys_server, nats_connect):
    nc = await sys_conn(nats_connect, sys_server)
    a = await nats_connect(url(sys_server, "a"))
    await a.subscribe("probe.a")
    await nc.subscribe("probe.sys")
    await settle(a)
    await settle(nc)
    wait_clients(sys_server, 2)
    plain = (await ask(nc, "$SYS.REQ.SERVER.PING.CONNZ"))["data"]
    assert plain["num_connections"] == 2 and plain["total"] == 2
    assert plain["limit"] == 1024 and plain["offset"] == 0
    assert all("subscriptions_list" not in c for c in plain["connections"])
    listed = (await ask(nc, "$SYS.REQ.SERVER.PING.CONNZ", {"subscriptions": True}))["data"]
    subs = {s for c in listed["connections"] for s in c.get("subscriptions_list", [])}
    assert {"probe.a", "probe.sys"} <= subs
    http = sys_server.connz("subs=1")
    assert sorted(c["cid"] for c in listed["connections"]) == \
        sorted(c["cid"] for c in http["connections"])
    detail = (await ask(nc, "$SYS.REQ.SERVER.PING.CONNZ",
                        {"subscriptions_detail": True, "subscriptions": True}))["data"]
    details = [d for c in detail["connections"] for d in c.get("subscriptions_list_detail", [])]
    assert {"probe.a", "probe.sys"} <= {d["subject"] for d in details}
    # acc with auth, as /connz?acc=A&auth=1
    only_a = (await ask(nc, "$SYS.REQ.SERVER.PING.CONNZ", {"acc": "A", "auth": True}))["data"]
    assert [c["account"] for c in only_a["connections"]] == ["A"]
    assert only_a["connections"][0]["authorized_user"] == "a"
    paged = (await ask(nc, "$SYS.REQ.SERVER.PING.CONNZ", {"limit": 1, "offset": 1}))["data"]
    assert paged["num_connections"] == 1 and paged["total"] == 2 and paged["limit"] == 1
    assert paged["connections"][0]["cid"] == plain["connections"][1]["cid"]
    a_cid = only_a["connections"][0]["cid"]
    await a.close()
    wait_clients(sys_server, 1)
    closed = (await ask(nc, "$SYS.REQ.SERVER.PING.CONNZ", {"state": 1, "cid": a_cid}))["data"]
    assert [c["cid"] for c in closed["connections"]] == [a_cid]
    assert closed["connections"][0]["reason"] == "Client Closed"


async def test_subsz_options(sys_server, nats_connect):
    nc = await sys_conn(nats_connect, sys_server)
    a = await nats_connect(url(sys_server, "a"))
    await a.subscribe("probe.*")
    await nc.subscribe("probe.sys")
    await settle(a)
    await settle(nc)
    figures = (await ask(nc, "$SYS.REQ.SERVER.PING.SUBSZ"))["data"]
    # The whole object even without a list (HTTP shows only the figures).
    for k in ("server_id", "now", "num_subscriptions", "num_cache", "num_inserts",
              "num_removes", "num_matches", "cache_hit_rate", "max_fanout", "avg_fanout"):
        assert k in figures, k
    assert (figures["total"], figures["offset"], figures["limit"]) == (0, 0, 1024)
    assert "subscriptions_list" not in figures
    tested = (await ask(nc, "$SYS.REQ.SERVER.PING.SUBSZ",
                        {"subscriptions": True, "test": "probe.sys"}))["data"]
    found = {(s["account"], s["subject"]) for s in tested["subscriptions_list"]}
    assert found == {("A", "probe.*"), ("SYS", "probe.sys")}
    assert tested["total"] == 2
    only_a = (await ask(nc, "$SYS.REQ.SERVER.PING.SUBSZ",
                        {"subscriptions": True, "account": "A"}))["data"]
    # (nats-server lists its own imports into A too: $SYS.REQ.ACCOUNT...)
    assert [s["subject"] for s in only_a["subscriptions_list"]
            if s["subject"].startswith("probe.")] == ["probe.*"]
    assert {s["account"] for s in only_a["subscriptions_list"]} == {"A"}
    # The same builder answers /subsz?acc= (as nats-server's handler).
    http = sys_server.http_json("/subsz?subs=1&acc=A")
    assert {s["account"] for s in http["subscriptions_list"]} == {"A"}
    assert "probe.*" in {s["subject"] for s in http["subscriptions_list"]}
    assert http["num_subscriptions"] == only_a["num_subscriptions"]


async def test_routez_jsz_healthz_accountz(sys_server, nats_connect):
    nc = await sys_conn(nats_connect, sys_server)
    routez = (await ask(nc, "$SYS.REQ.SERVER.PING.ROUTEZ", {"subscriptions": True}))["data"]
    assert routez["num_routes"] == 0 and routez["routes"] == []
    jsz = (await ask(nc, "$SYS.REQ.SERVER.PING.JSZ"))["data"]
    assert jsz["disabled"] is True
    assert jsz["streams"] == 0
    healthz = await ask(nc, "$SYS.REQ.SERVER.PING.HEALTHZ", {"js-enabled-only": True})
    assert healthz["data"] == {"status": "ok"}
    accountz = (await ask(nc, "$SYS.REQ.SERVER.PING.ACCOUNTZ"))["data"]
    assert accountz["system_account"] == "SYS"
    assert {"SYS", "A", "$G"} <= set(accountz["accounts"])
    assert set(accountz["accounts"]) == set(sys_server.http_json("/accountz")["accounts"])


async def test_jsz_counts_streams(server_factory, nats_connect):
    srv = server_factory.start(config=CONFIG, jetstream=True)
    a = await nats_connect(url(srv, "a"))
    js = a.jetstream()
    await js.add_stream(name="S", subjects=["s.>"])
    await js.publish("s.1", b"x")
    nc = await sys_conn(nats_connect, srv)
    # The figures are published now and then (as /jsz's, test_39): wait.
    answers = []

    async def counted():
        answers.append(await ask(nc, "$SYS.REQ.SERVER.PING.JSZ", {"accounts": True}))
        return (answers[-1]["data"]["streams"], answers[-1]["data"]["messages"]) == (1, 1)

    for _ in range(250):
        if await counted():
            break
        await asyncio.sleep(0.02)
    r = answers[-1]
    assert r["server"]["jetstream"] is True
    data = r["data"]
    assert "disabled" not in data
    assert (data["streams"], data["messages"]) == (1, 1), data
    assert data["account_details"][0]["name"] == "A"
    leader = await ask(nc, "$SYS.REQ.SERVER.PING.JSZ", {"leader_only": True})
    assert leader["data"]["streams"] == 1      # a lone node leads


async def test_refusals(sys_server, nats_connect):
    nc = await sys_conn(nats_connect, sys_server)
    sid = server_id(nc)
    # A body that is not JSON: 400, no data (the text is the parser's own).
    r = await ask(nc, "$SYS.REQ.SERVER.PING.VARZ", b"{bad")
    assert list(r) == ["server", "error"] and r["error"]["code"] == 400
    assert r["server"]["id"] == sid
    # A value of the wrong type: Go's words.
    r = await ask(nc, "$SYS.REQ.SERVER.PING.CONNZ", {"subscriptions": "yes"})
    assert r["error"] == {"code": 400, "description":
                          "json: cannot unmarshal string into Go struct field "
                          "ConnzEventOptions.subscriptions of type bool"}
    r = await ask(nc, "$SYS.REQ.SERVER.PING.CONNZ", {"cid": -1})
    assert r["error"]["description"] == ("json: cannot unmarshal number -1 into Go struct "
                                         "field ConnzEventOptions.cid of type uint64")
    r = await ask(nc, "$SYS.REQ.SERVER.PING.CONNZ", b'"x"')
    assert r["error"]["description"] == ("json: cannot unmarshal string into Go value of "
                                         "type server.ConnzEventOptions")
    # Options the endpoint refuses: 500 and "data": null.
    r = await ask(nc, "$SYS.REQ.SERVER.PING.CONNZ", {"sort": "bogus"})
    assert r == {"server": r["server"], "data": None,
                 "error": {"code": 500, "description": "invalid sorting option: bogus"}}
    r = await ask(nc, "$SYS.REQ.SERVER.PING.CONNZ", {"sort": "stop"})
    assert r["error"]["description"] == "sort by stop only valid on closed connections"
    r = await ask(nc, "$SYS.REQ.SERVER.PING.ACCOUNTZ", {"account": "NOPE"})
    assert r["data"] is None and r["error"] == {"code": 500,
                                                "description": "Account NOPE does not exist"}
    r = await ask(nc, "$SYS.REQ.SERVER.PING.SUBSZ", {"subscriptions": True, "test": "a.>"})
    assert r["error"]["description"] == \
        "invalid test subject, must be valid publish subject: a.>"
    # Unknown keys, key case and null are as Go decodes them.
    r = await ask(nc, "$SYS.REQ.SERVER.PING.CONNZ", {"nonsense": 1, "LIMIT": 1, "acc": None})
    assert r["data"]["limit"] == 1


async def test_go_escapes_in_the_payload(sys_server, nats_connect):
    nc = await sys_conn(nats_connect, sys_server)
    await nc.subscribe("esc.>")
    await settle(nc)
    msg = await nc.request("$SYS.REQ.SERVER.PING.SUBSZ",
                           json.dumps({"subscriptions": True, "test": "esc.x"}).encode(),
                           timeout=2)
    assert b'"esc.\\u003e"' in msg.data and b"esc.>" not in msg.data
    assert msg.headers is None


async def test_filters_pick_the_node(sys_server, nats_connect):
    nc = await sys_conn(nats_connect, sys_server)
    sid = server_id(nc)
    got = []

    async def cb(msg):
        got.append(json.loads(msg.data))

    inbox = nc.new_inbox()
    await nc.subscribe(inbox, cb=cb)
    await settle(nc)
    # Requests are answered in the order they came: when the last one's
    # answer is in, a filtered-out node would have answered the others.
    skipped = [{"server_name": "not-this-one"}, {"host": "10.9.9.9"}, {"cluster": "x"},
               {"tags": ["t"]}, {"domain": "d"}]
    chosen = [{"server_name": sid[3:20]}, {"host": "127.0"}]
    for body in skipped + chosen:
        await nc.publish("$SYS.REQ.SERVER.PING.VARZ", json.dumps(body).encode(), reply=inbox)
    await nc.publish("$SYS.REQ.SERVER.PING.HEALTHZ", b"", reply=inbox)
    await settle(nc)
    await async_wait_for(lambda: any(r.get("data", {}).get("status") for r in got),
                         what="the last answer")
    assert len(got) == len(chosen) + 1, got
    assert all(r["data"]["server_id"] == sid for r in got[:len(chosen)])


async def test_statsz_without_reply_is_broadcast(sys_server, nats_connect):
    nc = await sys_conn(nats_connect, sys_server)
    sid = server_id(nc)
    sub = await nc.subscribe(f"$SYS.SERVER.{sid}.STATSZ")
    await settle(nc)
    await nc.publish("$SYS.REQ.SERVER.PING", b"")
    msg = await sub.next_msg(timeout=2)
    r = json.loads(msg.data)
    assert r["server"]["id"] == sid and "statsz" in r


async def test_other_accounts_have_no_responders(sys_server, nats_connect):
    nc = await nats_connect(url(sys_server, "a"))
    sid = server_id(nc)
    # CONNZ is left out: nats-server imports it into every account (that
    # account's connections only), which Tern does not do yet.
    subjects = ["$SYS.REQ.SERVER.PING", "$SYS.REQ.SERVER.PING.STATSZ"]
    subjects += [f"$SYS.REQ.SERVER.PING.{ep}" for ep in ENDPOINTS if ep != "CONNZ"]
    subjects += [f"$SYS.REQ.SERVER.{sid}.{ep}" for ep in ENDPOINTS]
    for subject in subjects:
        with pytest.raises(nats.errors.NoRespondersError):
            await nc.request(subject, b"", timeout=2)


async def test_unknown_endpoints_have_no_responders(sys_server, nats_connect):
    nc = await sys_conn(nats_connect, sys_server)
    sid = server_id(nc)
    for subject in ("$SYS.REQ.SERVER.PING.NOPE", f"$SYS.REQ.SERVER.{sid}.NOPE",
                    "$SYS.REQ.SERVER.NOTANID.VARZ"):
        with pytest.raises(nats.errors.NoRespondersError):
            await nc.request(subject, b"", timeout=2)


async def test_http_request_counters_are_http_only(sys_server, nats_connect):
    nc = await sys_conn(nats_connect, sys_server)
    before = sys_server.varz()["http_req_stats"].get("/connz", 0)
    await ask(nc, "$SYS.REQ.SERVER.PING.CONNZ")
    assert sys_server.varz()["http_req_stats"].get("/connz", 0) == before
