"""13 monitoring: /varz, /connz (open and closed), /healthz over HTTP (-m).

spec/server-cli-config.md §4; close reasons: spec/client-protocol.md §15.
"""

import json

import pytest

from conftest import settle, wait_for


@pytest.fixture
def msrv(server_factory):
    srv = server_factory.start(monitor=True)
    # The factory's readiness probe was a client connection; start from a
    # server that has released it.
    wait_for(lambda: srv.varz()["connections"] == 0, what="probe connection gone")
    return srv


def test_varz_fields(msrv, raw):
    status, ctype, body = msrv.http_get("/varz")
    assert status == 200
    assert ctype.startswith("application/json")
    v = json.loads(body)
    info = raw(msrv).read_info()
    assert v["server_id"] == info["server_id"]
    assert v["version"] == info["version"]
    assert v["host"] == "127.0.0.1"
    assert v["port"] == msrv.port
    assert v["max_payload"] == 1048576
    for key in ("connections", "in_msgs", "out_msgs", "in_bytes", "out_bytes",
                "subscriptions", "total_connections", "slow_consumers"):
        assert isinstance(v[key], int) and v[key] >= 0, (key, v.get(key))
    assert isinstance(v["server_name"], str)
    assert v["max_connections"] == 65536
    assert v["ping_max"] == 2
    assert v["ping_interval"] == 120 * 10**9  # nanoseconds
    assert v["max_control_line"] == 4096
    assert v["max_pending"] == 67108864
    assert v["http_port"] == msrv.http_port


def test_varz_counters_move_with_traffic(msrv, raw):
    base = msrv.varz()
    a = raw(msrv)
    a.handshake()
    b = raw(msrv)
    b.handshake()
    a.send(b"SUB t.x 1\r\nSUB t.* 2\r\n")
    a.ping_pong()
    assert wait_for(lambda: msrv.varz()["connections"] == base["connections"] + 2)
    assert msrv.varz()["subscriptions"] == base["subscriptions"] + 2
    # 3 messages in (5 + 5 + 10 payload bytes); t.x matches both of a's
    # subscriptions and t.y one: 5 messages out (5+5 + 5+5 + 10 bytes).
    b.send(b"PUB t.x 5\r\nhello\r\nPUB t.x 5\r\nworld\r\nPUB t.y 10\r\n0123456789\r\n")
    for _ in range(5):
        a.read_msg()

    def counters():
        v = msrv.varz()
        return (v["in_msgs"] - base["in_msgs"], v["out_msgs"] - base["out_msgs"],
                v["in_bytes"] - base["in_bytes"], v["out_bytes"] - base["out_bytes"])

    wait_for(lambda: counters() == (3, 5, 20, 30), what=f"counters, last {counters()}")
    a.close()
    b.close()
    wait_for(lambda: msrv.varz()["connections"] == base["connections"])
    v = msrv.varz()
    assert v["subscriptions"] == base["subscriptions"]
    assert v["total_connections"] >= base["total_connections"] + 2


async def test_connz_lists_connections(msrv, nats_connect, raw):
    nc = await nats_connect(msrv, name="watcher")
    await nc.subscribe("foo")
    await nc.subscribe("bar")
    await settle(nc)
    c = raw(msrv)
    info = c.handshake(name="rawclient", lang="rawlang", version="1.2.3")
    c.send(b"SUB baz 9\r\n")
    c.ping_pong()

    cz = msrv.connz()
    assert cz["num_connections"] == len(cz["connections"]) >= 2
    by_cid = {x["cid"]: x for x in cz["connections"]}
    py = by_cid[nc.client_id]
    assert py["name"] == "watcher"
    assert py["lang"] == "python3"
    assert py["subscriptions"] == 2
    assert py["ip"] == "127.0.0.1"
    assert isinstance(py["port"], int)
    rc = by_cid[info["client_id"]]
    assert (rc["name"], rc["lang"], rc["version"]) == ("rawclient", "rawlang", "1.2.3")
    assert rc["subscriptions"] == 1
    assert "subscriptions_list" not in rc

    cz = msrv.connz("subs=1")
    by_cid = {x["cid"]: x for x in cz["connections"]}
    assert sorted(by_cid[nc.client_id]["subscriptions_list"]) == ["bar", "foo"]
    assert by_cid[info["client_id"]]["subscriptions_list"] == ["baz"]


def test_connz_message_counters(msrv, raw):
    a = raw(msrv)
    ia = a.handshake()
    a.send(b"SUB m 1\r\n")
    a.ping_pong()
    b = raw(msrv)
    ib = b.handshake()
    b.send(b"PUB m 3\r\nabc\r\nPUB m 4\r\nabcd\r\n")
    a.read_msg()
    a.read_msg()

    def entries():
        by = {x["cid"]: x for x in msrv.connz()["connections"]}
        return by[ia["client_id"]], by[ib["client_id"]]

    wait_for(lambda: entries()[0]["out_msgs"] == 2 and entries()[1]["in_msgs"] == 2)
    ea, eb = entries()
    assert (ea["out_msgs"], ea["out_bytes"]) == (2, 7)
    assert (eb["in_msgs"], eb["in_bytes"]) == (2, 7)


def closed_entry(srv, cid):
    def find():
        for x in srv.connz("state=closed")["connections"]:
            if x["cid"] == cid:
                return x
        return None
    return wait_for(find, what=f"closed connection {cid}")


@pytest.mark.parametrize("send,reason", [
    (b"", "Client Closed"),
    (b"PUB foo 2000000\r\n", "Maximum Message Payload Exceeded"),
    (b"FOO\r\n", "Protocol Violation"),
    (b"SUB " + b"a" * 5000 + b" 1\r\n", "Maximum Control Line Exceeded"),
], ids=["eof", "max_payload", "unknown_op", "control_line"])
def test_connz_closed_reasons(msrv, raw, send, reason):
    c = raw(msrv)
    cid = c.handshake(name="doomed")["client_id"]
    if send:
        c.send(send)
        c.read_until_closed()
    else:
        c.close()
    entry = closed_entry(msrv, cid)
    assert entry["reason"] == reason
    assert entry["name"] == "doomed"
    assert "stop" in entry
    # Closed connections are not listed as open.
    assert cid not in {x["cid"] for x in msrv.connz()["connections"]}


def test_connz_closed_reason_auth(server_factory, raw):
    srv = server_factory.start("--user", "u", "--pass", "p", monitor=True)
    c = raw(srv)
    cid = c.read_info()["client_id"]
    c.connect(user="u", **{"pass": "wrong"})
    c.read_until_closed()
    assert closed_entry(srv, cid)["reason"] == "Authentication Failure"


def test_healthz(msrv):
    status, ctype, body = msrv.http_get("/healthz")
    assert status == 200
    assert ctype.startswith("application/json")
    assert json.loads(body) == {"status": "ok"}


def test_connz_bad_state_is_400(msrv):
    assert msrv.http_get("/connz?state=bogus")[0] == 400


def test_monitor_binds_the_client_host(msrv):
    # -a 127.0.0.1 also bounds the monitor listener to 127.0.0.1.
    assert msrv.varz()["http_host"] == "127.0.0.1"
