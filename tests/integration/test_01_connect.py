"""01 connect: INFO on accept, CONNECT handling, first PING/PONG.

spec/client-protocol.md §2 (lifecycle), §3 (INFO), §4 (CONNECT), §12.1.
"""

import json
import re

REQUIRED_INFO = {
    "server_id": str, "server_name": str, "version": str, "proto": int,
    "go": str, "host": str, "port": int, "headers": bool,
    "max_payload": int, "client_id": int, "client_ip": str,
}


def test_first_bytes_are_info_line(server, raw):
    c = raw(server)
    line = c.read_line()
    # Exactly one line: "INFO " + compact JSON + " \r\n" (note the space).
    assert line.startswith(b"INFO {"), line
    assert line.endswith(b"} \r\n"), line
    assert line.count(b"\n") == 1
    info = json.loads(line[5:-3])
    for key, typ in REQUIRED_INFO.items():
        assert key in info, f"INFO lacks {key}: {info}"
        assert isinstance(info[key], typ), (key, info[key])
    assert info["server_id"]
    assert info["server_name"] == info["server_id"], "server_name defaults to server_id"
    assert re.fullmatch(r"\d+\.\d+\.\d+.*", info["version"]), info["version"]
    assert info["proto"] == 1
    assert info["host"] == "127.0.0.1"
    assert info["port"] == server.port
    assert info["headers"] is True
    assert info["max_payload"] == 1048576
    assert info["client_id"] > 0
    assert info["client_ip"] == "127.0.0.1"
    assert "auth_required" not in info or info["auth_required"] is False
    # INFO is compact JSON on one line.
    assert b": " not in line and b", " not in line


def test_info_comes_without_any_client_bytes(server, raw):
    # The server speaks first; a client that sends nothing still gets INFO.
    c = raw(server)
    assert c.read_line().startswith(b"INFO ")


def test_client_ids_are_distinct_and_increasing(server, raw):
    ids = [raw(server).read_info()["client_id"] for _ in range(3)]
    assert ids == sorted(ids) and len(set(ids)) == 3, ids


def test_connect_empty_object_is_verbose(server, raw):
    # Defaults apply before the JSON is read: verbose=true gives +OK.
    c = raw(server)
    c.read_info()
    c.send(b"CONNECT {}\r\n")
    c.expect(b"+OK\r\n")
    c.send(b"PING\r\n")
    c.expect(b"PONG\r\n")


def test_connect_verbose_false_then_ping_gives_only_pong(server, raw):
    c = raw(server)
    c.read_info()
    c.send(b'CONNECT {"verbose":false}\r\nPING\r\n')
    assert c.read_line() == b"PONG\r\n"


def test_verbose_acks_sub_pub_unsub(server, raw):
    c = raw(server)
    c.read_info()
    c.send(b'CONNECT {"verbose":true}\r\n')
    c.expect(b"+OK\r\n")
    c.send(b"SUB foo 1\r\n")
    c.expect(b"+OK\r\n")
    c.send(b"PUB foo 2\r\nhi\r\n")
    # +OK for the PUB and the MSG for our own subscription, in either order.
    got = {c.read_line(), c.read_line()}
    assert got == {b"+OK\r\n", b"MSG foo 1 2\r\n"}, got
    c.expect(b"hi\r\n")
    c.send(b"UNSUB 1\r\n")
    c.expect(b"+OK\r\n")
    c.send(b"PING\r\n")
    c.expect(b"PONG\r\n")


def test_ping_before_connect_is_answered(server, raw):
    c = raw(server)
    c.read_info()
    c.send(b"PING\r\n")
    c.expect(b"PONG\r\n")


def test_second_connect_overlays_first(server, raw):
    c = raw(server)
    c.read_info()
    c.send(b'CONNECT {"verbose":true}\r\n')
    c.expect(b"+OK\r\n")
    c.send(b'CONNECT {"verbose":false}\r\nSUB foo 1\r\nPING\r\n')
    # The second CONNECT switched verbose off: the first line is PONG.
    assert c.read_line() == b"PONG\r\n"


def test_invalid_protocol_version_is_refused(server, raw):
    c = raw(server)
    c.read_info()
    c.send(b'CONNECT {"verbose":false,"protocol":2}\r\n')
    assert c.assert_closed() == b"-ERR 'invalid client protocol'\r\n"


def test_no_responders_without_headers_is_refused(server, raw):
    c = raw(server)
    c.read_info()
    c.send(b'CONNECT {"verbose":false,"no_responders":true,"headers":false}\r\n')
    assert c.assert_closed() == b"-ERR 'no responders requires headers support'\r\n"


def test_invalid_connect_json_closes_silently(server, raw):
    c = raw(server)
    c.read_info()
    c.send(b"CONNECT {not json\r\n")
    assert c.assert_closed() == b""


def test_connect_unknown_fields_ignored(server, raw):
    c = raw(server)
    c.read_info()
    c.send(b'CONNECT {"verbose":false,"zzz_unknown":[1,2,{"a":null}],'
           b'"name":"x","lang":"raw","version":"9"}\r\nPING\r\n')
    c.expect(b"PONG\r\n")


def test_connect_json_with_whitespace(server, raw):
    # nats-py sends ", " and ": " separators.
    c = raw(server)
    c.read_info()
    c.send(b'CONNECT {"echo": true, "headers": true, "lang": "python3", '
           b'"no_responders": true, "pedantic": false, "protocol": 1, '
           b'"verbose": false}\r\nPING\r\n')
    c.expect(b"PONG\r\n")


def test_no_ping_or_info_before_first_pong(server_factory, raw):
    # Even with a 1 s ping interval the first thing after CONNECT+PING is PONG.
    srv = server_factory.start(config='ping_interval: "1s"\n')
    c = raw(srv)
    c.read_info()
    c.connect()
    c.send(b"PING\r\n")
    assert c.read_line() == b"PONG\r\n"


async def test_nats_py_connects(server, nats_connect):
    nc = await nats_connect(server, name="demo")
    assert nc.is_connected
    assert nc.max_payload == 1048576
    assert nc.client_id > 0
    # Clients gate features on the version: it must parse as semver >= 2.
    assert nc.connected_server_version.major >= 2
    await nc.flush(timeout=2)
    await nc.close()
    assert nc.is_closed


async def test_nats_py_many_connections(server, nats_connect):
    ncs = [await nats_connect(server) for _ in range(20)]
    ids = {nc.client_id for nc in ncs}
    assert len(ids) == 20
    for nc in ncs:
        await nc.flush(timeout=2)


def test_client_eof_mid_line_does_not_hurt_others(server, raw):
    a = raw(server)
    a.handshake()
    b = raw(server)
    b.read_info()
    b.send(b"PUB foo 10\r\nhal")  # then vanish mid-payload
    b.close()
    c = raw(server)
    c.handshake()
    a.assert_open()
    c.assert_open()
