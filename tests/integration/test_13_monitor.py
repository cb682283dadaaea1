"""13 monitoring: /varz, /connz (open and closed), /healthz over HTTP (-m).

spec/server-cli-config.md §4; close reasons: spec/client-protocol.md §15.
"""

import json

import pytest

from conftest import REFERENCE, settle, wait_for


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


# ---- query parameters and paths as nats-server 2.9.10 answers them ----------
# nats-server decodes each parameter with Go's strconv in a fixed order and
# answers the first refusal as a plain-text 400 with Go's error text; its Go
# mux matches the decoded path exactly, redirects unclean paths, and
# answers anything else with Go's 404.

def bool_err(key, val):
    return (f"Error decoding boolean for '{key}': strconv.ParseBool: parsing "
            f"{val}: invalid syntax")


def int_err(key, val, why="invalid syntax"):
    return f"Error decoding int for '{key}': strconv.Atoi: parsing {val}: {why}"


BAD_QUERIES = [
    ("/connz?limit=abc", int_err("limit", '"abc"')),
    ("/connz?offset=1.5", int_err("offset", '"1.5"')),
    ("/connz?limit=99999999999999999999", int_err("limit", '"99999999999999999999"',
                                                  "value out of range")),
    ("/connz?limit=-9223372036854775809", int_err("limit", '"-9223372036854775809"',
                                                  "value out of range")),
    ("/connz?offset=99999999999999999999x", int_err("offset", '"99999999999999999999x"',
                                                    "value out of range")),
    ("/connz?limit=+1", int_err("limit", '" 1"')),            # '+' is a space
    ("/connz?limit=%00", int_err("limit", '"\\x00"')),
    ("/connz?limit=%ff", int_err("limit", '"\\xff"')),
    ("/connz?limit=a%0Ab", int_err("limit", '"a\\nb"')),
    ("/connz?limit=%22%5c", int_err("limit", '"\\"\\\\"')),
    ("/connz?limit=%E2%82%AC", int_err("limit", '"\u20ac"')),
    ("/connz?limit=%C2%A0", int_err("limit", '"\\u00a0"')),
    ("/connz?limit=%zz&limit=x", int_err("limit", '"x"')),    # bad pair dropped
    ("/connz?li%6dit=x", int_err("limit", '"x"')),
    ("/connz?cid=abc", "Error decoding uint64 for 'cid': strconv.ParseUint: parsing "
                       "\"abc\": invalid syntax"),
    ("/connz?cid=-1", "Error decoding uint64 for 'cid': strconv.ParseUint: parsing "
                      "\"-1\": invalid syntax"),
    ("/connz?cid=18446744073709551616", "Error decoding uint64 for 'cid': strconv.ParseUint: "
                                        "parsing \"18446744073709551616\": value out of range"),
    ("/connz?auth=x", bool_err("auth", '"x"')),
    ("/connz?subs=maybe", bool_err("subs", '"maybe"')),
    ("/connz?subs=y&auth=x", bool_err("auth", '"x"')),        # auth is decoded first
    ("/connz?state=x", "Error decoding state for x"),
    ("/connz?sort=bad", "invalid sorting option: bad"),
    ("/connz?sort=stop", "sort by stop only valid on closed connections"),
    ("/connz?sort=reason&state=any", "sort by reason only valid on closed connections"),
    ("/routez?subs=x", bool_err("subs", '"x"')),
    ("/subsz?subs=abc", bool_err("subs", '"abc"')),
    ("/subsz?limit=abc", int_err("limit", '"abc"')),
    ("/subsz?offset=x", int_err("offset", '"x"')),
    ("/subsz?test=foo.*", "invalid test subject, must be valid publish subject: foo.*"),
    ("/subscriptionsz?subs=2", bool_err("subs", '"2"')),
    ("/healthz?js-enabled-only=abc", bool_err("js-enabled-only", '"abc"')),
    ("/healthz?js-enabled=x", bool_err("js-enabled", '"x"')),
    ("/healthz?js-server-only=x", bool_err("js-server-only", '"x"')),
    ("/jsz?accounts=abc", bool_err("accounts", '"abc"')),
    ("/jsz?streams=x", bool_err("streams", '"x"')),
    ("/jsz?consumers=x", bool_err("consumers", '"x"')),
    ("/jsz?config=x", bool_err("config", '"x"')),
    ("/jsz?offset=x", int_err("offset", '"x"')),
    ("/jsz?limit=1.5", int_err("limit", '"1.5"')),
    ("/jsz?leader-only=x", bool_err("leader-only", '"x"')),
    ("/jsz?leader-only=true", "filtered response: not leader"),   # JetStream is off
    ("/accountz?acc=foo", "Account foo does not exist"),
]


@pytest.mark.parametrize("path,text", BAD_QUERIES, ids=[p for p, _ in BAD_QUERIES])
def test_bad_query_is_400_with_nats_server_text(msrv, path, text):
    status, ctype, body = msrv.http_get(path)
    assert (status, body.decode()) == (400, text)
    assert ctype == "text/plain; charset=utf-8"


GOOD_QUERIES = [
    "/connz?limit=", "/connz?limit", "/connz?limit;x=1", "/connz?limit=1&limit=x",
    "/connz?limit=%2B1", "/connz?subs=DETAIL", "/connz?subs=T", "/connz?auth=False",
    "/connz?state=CLOSED&sort=stop", "/connz?cid=18446744073709551615",
    "/connz?limit=-9223372036854775808", "/subsz?subs=1&test=a.b", "/healthz?js-enabled=true",
    "/jsz?accounts=1&streams=0&consumers=f", "/accountz?acc=$G", "/routez?subs=detail",
    "/%76arz", "/varz?",
]


@pytest.mark.parametrize("path", GOOD_QUERIES)
def test_odd_but_valid_queries_are_200(msrv, path):
    status, ctype, _ = msrv.http_get(path)
    assert status == 200 and ctype.startswith("application/json")


def test_connz_cid_sets_limit_one(msrv):
    assert msrv.connz("cid=5")["limit"] == 1


def raw_http(srv, target):
    """(status line, headers dict, body) for GET target sent as is."""
    import socket
    s = socket.create_connection(("127.0.0.1", srv.http_port), timeout=5)
    s.sendall(b"GET " + target + b" HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    headers = dict(line.split(b": ", 1) for line in lines[1:])
    return lines[0], headers, body


@pytest.mark.parametrize("target", [b"/varz%00x", b"/varz%00", b"/varz/", b"/VARZ", b"/foo",
                                    b"/varz%2f", b"/varz#x"])
def test_other_paths_are_gos_404(msrv, target):
    line, headers, body = raw_http(msrv, target)
    assert line == b"HTTP/1.1 404 Not Found"
    assert headers[b"Content-Type"] == b"text/plain; charset=utf-8"
    assert body == b"404 page not found\n"


@pytest.mark.skipif(REFERENCE, reason="nats-server serves these; Tern has no gateways, "
                    "leaf nodes, account statistics, stacks or internal queues to show")
@pytest.mark.parametrize("target", [b"/gatewayz", b"/leafz", b"/accstatz", b"/stacksz",
                                    b"/ipqueuesz"])
def test_endpoints_tern_does_not_serve_are_404(msrv, target):
    line, _, body = raw_http(msrv, target)
    assert (line, body) == (b"HTTP/1.1 404 Not Found", b"404 page not found\n")


@pytest.mark.parametrize("target,location", [
    (b"//varz", b"/varz"), (b"/a/../varz", b"/varz"), (b"/./varz?x=1", b"/varz?x=1"),
    (b"/varz/.", b"/varz"), (b"/varz/..", b"/"), (b"/a/%2e%2e/connz", b"/connz"),
    (b"/x/../<a>\"/y", b"/%3Ca%3E%22/y"),
])
def test_unclean_paths_redirect(msrv, target, location):
    line, headers, body = raw_http(msrv, target)
    assert line == b"HTTP/1.1 301 Moved Permanently"
    assert headers[b"Location"] == location
    assert headers[b"Content-Type"] == b"text/html; charset=utf-8"
    assert body == b'<a href="' + location + b'">Moved Permanently</a>.\n\n'


@pytest.mark.parametrize("target", [b"/varz%zz", b"/varz%4", b"/varz\x01", b"/varz\x7f",
                                    b"/varz\x00x"])
def test_unparsable_request_targets_are_400(msrv, target):
    line, headers, body = raw_http(msrv, target)
    assert line == b"HTTP/1.1 400 Bad Request"
    if b"\x00" not in target:
        # libevent refuses a raw NUL itself, with its own HTML body.
        assert body == b"400 Bad Request"
        assert headers[b"Content-Type"] == b"text/plain; charset=utf-8"


async def test_subsz_lists_subscriptions(msrv, nats_connect):
    nc = await nats_connect(msrv)
    await nc.subscribe("sz.a")
    await nc.subscribe("sz.*", queue="q")
    await settle(nc)
    cid = nc._client_id
    got = msrv.http_json("/subsz?subs=1&test=sz.a")
    mine = sorted((s["subject"], s.get("qgroup")) for s in got["subscriptions_list"]
                  if s["cid"] == cid)
    assert mine == [("sz.*", "q"), ("sz.a", None)]
    for s in got["subscriptions_list"]:
        assert s["account"] == "$G" and isinstance(s["sid"], str)
    assert got["total"] == len(got["subscriptions_list"])
    assert (got["offset"], got["limit"]) == (0, 1024)
    paged = msrv.http_json("/subsz?subs=1&test=sz.a&offset=1&limit=1")
    assert paged["total"] == 1 and len(paged["subscriptions_list"]) == 1
    # No match: the figures only, as nats-server answers an empty page.
    empty = msrv.http_json("/subsz?subs=1&test=nothing.here")
    assert "subscriptions_list" not in empty and "num_subscriptions" in empty


def test_connz_unknown_account_is_an_empty_anonymous_list(msrv):
    # nats-server cannot look the account up and answers what it had built
    # so far: no server id, no connection array.
    got = msrv.connz("acc=nosuch")
    assert (got["server_id"], got["connections"], got["total"]) == ("", None, 0)
    assert msrv.connz("acc=$G")["server_id"] != ""
