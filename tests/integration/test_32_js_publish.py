"""32 publishing into streams: the PubAck bytes, Nats-Msg-Id de-duplication
inside the duplicate window, the Nats-Expected-* checks with their exact
errors (a failed check stores nothing and uses no sequence), headers stored
verbatim, no-responders when no stream captures the subject; republish
(a copy of every stored message to the config's dest, with nats-server's
headers, byte for byte; nothing for refused or duplicate publishes; the
config's validation, echo and update rules; a restart).

spec/jetstream.md §5.1 (republish), §6; spec/client-protocol.md (no
responders).
"""

import asyncio
import json

import nats.errors
import nats.js.errors
import pytest

from conftest import REFERENCE, js_api as api



def error(code, err_code, description):
    return {"code": code, "err_code": err_code, "description": description}




async def pub(nc, subject, data=b"x", headers=None):
    return json.loads((await nc.request(subject, data, headers=headers, timeout=2)).data)


async def stream_state(nc, name):
    return (await api(nc, f"$JS.API.STREAM.INFO.{name}"))["state"]


@pytest.fixture
async def nc(js_server, nats_connect):
    nc = await nats_connect(js_server)
    r = await api(nc, "$JS.API.STREAM.CREATE.ORDERS",
                  {"name": "ORDERS", "subjects": ["orders.>"]})
    assert "error" not in r, r
    return nc


@pytest.fixture
def js(nc):
    return nc.jetstream()


@pytest.fixture
def rc(js_server, raw, nc):
    """Raw client (headers + no_responders) subscribed to reply subject r.>."""
    c = raw(js_server)
    c.handshake(headers=True, no_responders=True)
    c.send(b"SUB r.> 1\r\nPING\r\n")
    c.expect(b"PONG\r\n")
    return c


def raw_pub(c, subject, payload=b"x", headers=None, reply="r.1"):
    c.pub(subject, payload, reply=reply, headers=headers)
    m = c.read_msg(answer_pings=True)
    assert m["subject"] == reply and not m["reply"], m
    return m


# ---------------------------------------------------------------- PubAck bytes

def test_puback_bytes_exactly(rc):
    m = raw_pub(rc, "orders.new", b"hello")
    assert m["op"] == "MSG"
    assert m["payload"] == b'{"stream":"ORDERS", "seq":1}'
    m = raw_pub(rc, "orders.new", b"hello2")
    assert m["payload"] == b'{"stream":"ORDERS", "seq":2}'


def test_duplicate_puback_bytes_exactly(rc):
    assert raw_pub(rc, "orders.new", b"m1",
                   {"Nats-Msg-Id": "abc"})["payload"] == b'{"stream":"ORDERS", "seq":1}'
    m = raw_pub(rc, "orders.new", b"m1", {"Nats-Msg-Id": "abc"})
    assert m["payload"] == b'{"stream":"ORDERS", "seq":1,"duplicate": true}'


def test_msg_id_header_read_as_nats_server_reads_it(rc):
    # Names are case-sensitive; a value loses its leading spaces only, so a
    # trailing space or a tab makes another id (nats-server 2.9.10).
    def seq(headers):
        m = json.loads(raw_pub(rc, "orders.new", b"x", headers)["payload"])
        return m["seq"], m.get("duplicate", False)
    assert seq([("Nats-Msg-Id", "a")]) == (1, False)
    assert seq([("Nats-Msg-Id", "a")]) == (1, True)
    assert seq([("nats-msg-id", "a")]) == (2, False)
    assert seq([("NATS-MSG-ID", "a")]) == (3, False)
    assert seq([("Nats-Msg-Id", "a ")]) == (4, False)
    assert seq([("Nats-Msg-Id", "a ")]) == (4, True)
    assert seq([("Nats-Msg-Id", "\ta")]) == (5, False)
    assert seq([("Nats-Msg-Id", "   a")]) == (1, True)
    assert seq([("Foo", "1"), ("Nats-Msg-Id", "a")]) == (1, True)


def test_error_puback_bytes_exactly(rc):
    raw_pub(rc, "orders.new")
    m = raw_pub(rc, "orders.new", b"x", {"Nats-Expected-Last-Sequence": "7"})
    assert m["payload"] == (b'{"error":{"code":400,"err_code":10071,'
                            b'"description":"wrong last sequence: 1"},"stream":"ORDERS","seq":0}')


def test_publish_to_no_stream_gets_no_responders_status(rc):
    m = raw_pub(rc, "nostream.x")
    assert m["op"] == "HMSG"
    assert m["headers"] == b"NATS/1.0 503\r\n\r\n" and m["payload"] == b""


def test_header_only_publish_with_empty_payload(rc):
    m = raw_pub(rc, "orders.hdr", b"", {"Foo": "bar"})
    assert m["payload"] == b'{"stream":"ORDERS", "seq":1}'


async def test_publish_without_reply_is_stored_silently(nc, rc):
    rc.pub("orders.silent", b"quiet")
    rc.sync()
    st = await stream_state(nc, "ORDERS")
    assert st["messages"] == 1 and st["last_seq"] == 1
    m = raw_pub(rc, "orders.loud")
    assert m["payload"] == b'{"stream":"ORDERS", "seq":2}'


# ---------------------------------------------------------------- nats-py

async def test_js_publish_returns_puback(js):
    ack = await js.publish("orders.new", b"hello")
    assert (ack.stream, ack.seq, ack.duplicate) == ("ORDERS", 1, None)
    ack = await js.publish("orders.new", b"again")
    assert ack.seq == 2


async def test_js_publish_without_stream_raises_no_stream_response(js):
    with pytest.raises(nats.js.errors.NoStreamResponseError):
        await js.publish("nostream.x", b"x")


async def test_js_publish_async_window(js, nc):
    futs = [await js.publish_async("orders.async", b"%d" % i) for i in range(200)]
    await asyncio.wait_for(js.publish_async_completed(), 10)
    seqs = [f.result().seq for f in futs]
    assert sorted(seqs) == list(range(1, 201))
    assert seqs == list(range(1, 201))      # one connection, one stream: in order
    st = await stream_state(nc, "ORDERS")
    assert st["messages"] == 200


async def test_headers_are_stored_verbatim(js):
    hdrs = {"Nats-Msg-Id": "id-1", "Nats-Expected-Stream": "ORDERS", "X-Custom": "v1",
            "Nats-Expected-Last-Sequence": "0"}
    await js.publish("orders.h", b"body", headers=dict(hdrs))
    m = await js.get_msg("ORDERS", 1)
    assert m.headers == hdrs
    assert m.data == b"body"


async def test_large_payload_round_trip(js):
    big = bytes(range(256)) * 4000      # ~1 MB, under max_payload
    ack = await js.publish("orders.big", big)
    m = await js.get_msg("ORDERS", ack.seq)
    assert m.data == big


# ---------------------------------------------------------------- de-duplication

async def test_msg_id_dedupe(js, nc):
    a1 = await js.publish("orders.new", b"m1", headers={"Nats-Msg-Id": "abc"})
    a2 = await js.publish("orders.new", b"m1", headers={"Nats-Msg-Id": "abc"})
    a3 = await js.publish("orders.new", b"other payload", headers={"Nats-Msg-Id": "abc"})
    assert a1.seq == 1 and not a1.duplicate
    assert a2.seq == 1 and a2.duplicate is True
    assert a3.seq == 1 and a3.duplicate is True
    a4 = await js.publish("orders.new", b"m2", headers={"Nats-Msg-Id": "def"})
    assert a4.seq == 2 and not a4.duplicate
    # The id is per stream, not per subject.
    a5 = await js.publish("orders.elsewhere", b"m1", headers={"Nats-Msg-Id": "abc"})
    assert a5.seq == 1 and a5.duplicate is True
    st = await stream_state(nc, "ORDERS")
    assert st["messages"] == 2 and st["last_seq"] == 2


async def test_msg_id_is_forgotten_after_the_duplicate_window(nc, js):
    await js.add_stream(name="DW", subjects=["dw"], duplicate_window=0.3)
    assert (await js.publish("dw", b"1", headers={"Nats-Msg-Id": "a"})).seq == 1
    assert (await js.publish("dw", b"1", headers={"Nats-Msg-Id": "a"})).duplicate is True
    t0 = asyncio.get_running_loop().time()
    while True:
        ack = await js.publish("dw", b"1", headers={"Nats-Msg-Id": "a"})
        if not ack.duplicate:
            break
        assert asyncio.get_running_loop().time() - t0 < 5, "id still remembered after 5 s"
        await asyncio.sleep(0.02)
    assert ack.seq == 2
    assert asyncio.get_running_loop().time() - t0 >= 0.15


async def test_duplicate_wins_over_later_checks(rc):
    # Check order (2.9.10): sealed, expected stream, msg id, then the
    # expected-last checks; a duplicate is answered before those.
    raw_pub(rc, "orders.a", b"1", {"Nats-Msg-Id": "m1"})
    m = raw_pub(rc, "orders.a", b"1", {"Nats-Msg-Id": "m1", "Nats-Expected-Last-Sequence": "7"})
    assert m["payload"] == b'{"stream":"ORDERS", "seq":1,"duplicate": true}'
    m = raw_pub(rc, "orders.a", b"1", {"Nats-Msg-Id": "m1",
                                      "Nats-Expected-Last-Subject-Sequence": "7"})
    assert m["payload"] == b'{"stream":"ORDERS", "seq":1,"duplicate": true}'
    m = raw_pub(rc, "orders.a", b"1", {"Nats-Msg-Id": "m1", "Nats-Expected-Stream": "X"})
    assert json.loads(m["payload"])["error"]["err_code"] == 10060


# ---------------------------------------------------------------- expected-* checks

EXPECTED_CASES = [
    # (headers, subject, expected error or None) after the setup below:
    # seq 1 orders.new (msg id "abc"), seq 2 orders.other, seq 3 orders.new
    ({"Nats-Expected-Stream": "OTHER"}, "orders.new",
     error(400, 10060, "expected stream does not match")),
    ({"Nats-Expected-Stream": "ORDERS"}, "orders.new", None),
    ({"Nats-Expected-Last-Sequence": "1"}, "orders.new",
     error(400, 10071, "wrong last sequence: 3")),
    ({"Nats-Expected-Last-Sequence": "3"}, "orders.new", None),
    ({"Nats-Expected-Last-Sequence": "abc"}, "orders.new",
     error(400, 10071, "wrong last sequence: 3")),
    ({"Nats-Expected-Last-Subject-Sequence": "3"}, "orders.none",
     error(400, 10071, "wrong last sequence: 0")),
    ({"Nats-Expected-Last-Subject-Sequence": "0"}, "orders.none", None),
    ({"Nats-Expected-Last-Subject-Sequence": "0"}, "orders.other",
     error(400, 10071, "wrong last sequence: 2")),
    ({"Nats-Expected-Last-Subject-Sequence": "1"}, "orders.new",
     error(400, 10071, "wrong last sequence: 3")),
    ({"Nats-Expected-Last-Subject-Sequence": "2"}, "orders.other", None),
    ({"Nats-Expected-Last-Msg-Id": "zzz"}, "orders.new",
     error(400, 10070, "wrong last msg ID: ")),
]


@pytest.mark.parametrize("headers,subject,expected", EXPECTED_CASES)
async def test_expected_header_checks(nc, headers, subject, expected):
    await pub(nc, "orders.new", b"1", {"Nats-Msg-Id": "abc"})
    await pub(nc, "orders.other", b"2")
    await pub(nc, "orders.new", b"3")
    r = await pub(nc, subject, b"checked", headers)
    if expected is None:
        assert r == {"stream": "ORDERS", "seq": 4}
        st = await stream_state(nc, "ORDERS")
        assert st["messages"] == 4
    else:
        assert r == {"error": expected, "stream": "ORDERS", "seq": 0}
        # Nothing stored, no sequence used.
        st = await stream_state(nc, "ORDERS")
        assert st["messages"] == 3 and st["last_seq"] == 3
        assert await pub(nc, "orders.new", b"next") == {"stream": "ORDERS", "seq": 4}


SUBJ = "Nats-Expected-Last-Subject-Sequence-Subject"


@pytest.mark.skipif(REFERENCE, reason="nats-server 2.11's header; 2.9.10 ignores it")
@pytest.mark.parametrize("headers,subject,expected", [
    # seq 1 orders.new, seq 2 orders.other, seq 3 orders.new
    ({"Nats-Expected-Last-Subject-Sequence": "2", SUBJ: "orders.other"}, "orders.new", None),
    ({"Nats-Expected-Last-Subject-Sequence": "3", SUBJ: "orders.other"}, "orders.new",
     error(400, 10071, "wrong last sequence: 2")),
    # a wildcard: the newest message it matches
    ({"Nats-Expected-Last-Subject-Sequence": "3", SUBJ: "orders.*"}, "orders.x", None),
    ({"Nats-Expected-Last-Subject-Sequence": "2", SUBJ: "orders.*"}, "orders.x",
     error(400, 10071, "wrong last sequence: 3")),
    ({"Nats-Expected-Last-Subject-Sequence": "0", SUBJ: "orders.none.>"}, "orders.new", None),
    # alone it checks nothing
    ({SUBJ: "orders.other"}, "orders.new", None),
])
async def test_expected_last_subject_sequence_on_another_subject(nc, headers, subject,
                                                                 expected):
    await pub(nc, "orders.new", b"1")
    await pub(nc, "orders.other", b"2")
    await pub(nc, "orders.new", b"3")
    r = await pub(nc, subject, b"checked", headers)
    if expected is None:
        assert r == {"stream": "ORDERS", "seq": 4}
    else:
        assert r == {"error": expected, "stream": "ORDERS", "seq": 0}


async def test_expected_last_msg_id(nc):
    await pub(nc, "orders.new", b"1", {"Nats-Msg-Id": "id1"})
    r = await pub(nc, "orders.new", b"2", {"Nats-Expected-Last-Msg-Id": "id1",
                                           "Nats-Msg-Id": "id2"})
    assert r == {"stream": "ORDERS", "seq": 2}
    r = await pub(nc, "orders.new", b"3", {"Nats-Expected-Last-Msg-Id": "id1"})
    assert r == {"error": error(400, 10070, "wrong last msg ID: id2"),
                 "stream": "ORDERS", "seq": 0}
    r = await pub(nc, "orders.new", b"3", {"Nats-Expected-Last-Msg-Id": "id2"})
    assert r == {"stream": "ORDERS", "seq": 3}
    # The last message now has no id.
    r = await pub(nc, "orders.new", b"4", {"Nats-Expected-Last-Msg-Id": "id2"})
    assert r == {"error": error(400, 10070, "wrong last msg ID: "),
                 "stream": "ORDERS", "seq": 0}


async def test_expected_last_sequence_zero_on_empty_stream(nc):
    assert await pub(nc, "orders.a", b"", {"Nats-Expected-Last-Sequence": "0"}) == \
        {"stream": "ORDERS", "seq": 1}
    r = await pub(nc, "orders.a", b"", {"Nats-Expected-Last-Sequence": "0"})
    assert r["error"] == error(400, 10071, "wrong last sequence: 1")


async def test_expected_last_subject_sequence_zero_after_subject_purge(nc):
    await pub(nc, "orders.a", b"1")
    await pub(nc, "orders.b", b"2")
    await pub(nc, "orders.a", b"3")
    r = await api(nc, "$JS.API.STREAM.PURGE.ORDERS", {"filter": "orders.a"})
    assert r["purged"] == 2
    r = await pub(nc, "orders.a", b"4", {"Nats-Expected-Last-Subject-Sequence": "0"})
    assert r == {"stream": "ORDERS", "seq": 4}


async def test_many_failed_checks_use_no_sequences(nc):
    await pub(nc, "orders.a")
    for i in range(20):
        r = await pub(nc, "orders.a", b"no", {"Nats-Expected-Last-Sequence": "99"})
        assert r["seq"] == 0 and r["error"]["err_code"] == 10071
        r = await pub(nc, "orders.a", b"no", {"Nats-Expected-Stream": "NOPE"})
        assert r["error"]["err_code"] == 10060
    assert await pub(nc, "orders.a") == {"stream": "ORDERS", "seq": 2}
    m = await api(nc, "$JS.API.STREAM.MSG.GET.ORDERS", {"seq": 2})
    assert "hdrs" not in m["message"]


async def test_nats_py_error_classes_on_failed_checks(js):
    await js.publish("orders.a", b"")
    with pytest.raises(nats.js.errors.BadRequestError) as e:
        await js.publish("orders.a", b"", stream="OTHER")
    assert e.value.err_code == 10060
    assert e.value.description == "expected stream does not match"
    with pytest.raises(nats.js.errors.BadRequestError) as e:
        await js.publish("orders.a", b"", headers={"Nats-Expected-Last-Sequence": "5"})
    assert e.value.err_code == 10071
    assert e.value.description == "wrong last sequence: 1"
    ack = await js.publish("orders.a", b"", stream="ORDERS")
    assert ack.seq == 2


# ---------------------------------------------------------------- no_ack

async def test_no_ack_stream_stores_without_replying(nc, js):
    await js.add_stream(name="NA", subjects=["na"], no_ack=True)
    with pytest.raises(nats.errors.TimeoutError):
        await nc.request("na", b"quiet", timeout=0.5)
    st = await stream_state(nc, "NA")
    assert st["messages"] == 1


# ---------------------------------------------------------------- republish

def republish_rc(js_server, raw):
    """Raw client (headers) listening on rp.> (copies) and r.> (replies)."""
    c = raw(js_server)
    c.handshake(headers=True, no_responders=True)
    c.send(b"SUB rp.> 1\r\nSUB r.> 2\r\nPING\r\n")
    c.expect(b"PONG\r\n")
    return c


def publish_and_collect(c, subject, payload=b"x", headers=None, reply="r.1"):
    """Publish; return (copies, puback) once the PubAck is in. The copy is
    sent before the PubAck (nats-server and Tern alike)."""
    c.pub(subject, payload, reply=reply, headers=headers)
    copies = []
    while True:
        m = c.read_msg(answer_pings=True)
        if m["subject"] == reply:
            return copies, json.loads(m["payload"])
        copies.append(m)


async def test_republish_copy_bytes_exactly(nc, js_server, raw):
    r = await api(nc, "$JS.API.STREAM.CREATE.RP",
                  {"name": "RP", "subjects": ["rpin.>"], "republish": {"dest": "rp.>"}})
    assert r["config"]["republish"] == {"src": ">", "dest": "rp.>"}, r
    c = republish_rc(js_server, raw)
    copies, ack = publish_and_collect(c, "rpin.a", b"hello")
    assert ack == {"stream": "RP", "seq": 1}
    [m] = copies
    assert (m["op"], m["subject"]) == ("HMSG", "rp.rpin.a") and not m["reply"]
    assert m["headers"] == (b"NATS/1.0\r\nNats-Stream: RP\r\nNats-Subject: rpin.a\r\n"
                            b"Nats-Sequence: 1\r\nNats-Last-Sequence: 0\r\n\r\n")
    assert m["payload"] == b"hello"
    # The message's own headers come first, the four after them.
    copies, _ = publish_and_collect(c, "rpin.b", b"abc",
                                    [("Foo", "bar"), ("Nats-Msg-Id", "m1")])
    assert copies[0]["headers"] == (b"NATS/1.0\r\nFoo: bar\r\nNats-Msg-Id: m1\r\n"
                                    b"Nats-Stream: RP\r\nNats-Subject: rpin.b\r\n"
                                    b"Nats-Sequence: 2\r\nNats-Last-Sequence: 0\r\n\r\n")
    assert copies[0]["payload"] == b"abc"
    # Nats-Last-Sequence: the last one on the same subject, not the stream's.
    copies, _ = publish_and_collect(c, "rpin.a", b"")
    assert b"Nats-Sequence: 3\r\nNats-Last-Sequence: 1\r\n" in copies[0]["headers"]
    assert copies[0]["payload"] == b""


async def test_republish_headers_only_and_mapped_wildcards(nc, js_server, raw):
    r = await api(nc, "$JS.API.STREAM.CREATE.HO",
                  {"name": "HO", "subjects": ["ho.*.*"],
                   "republish": {"src": "ho.*.*", "dest": "rp.$2.{{wildcard(1)}}",
                                 "headers_only": True}})
    assert r["config"]["republish"] == {"src": "ho.*.*", "dest": "rp.$2.{{wildcard(1)}}",
                                        "headers_only": True}, r
    c = republish_rc(js_server, raw)
    copies, ack = publish_and_collect(c, "ho.x.y", b"four")
    [m] = copies
    assert m["subject"] == "rp.y.x"
    assert m["headers"] == (b"NATS/1.0\r\nNats-Stream: HO\r\nNats-Subject: ho.x.y\r\n"
                            b"Nats-Sequence: 1\r\nNats-Last-Sequence: 0\r\n"
                            b"Nats-Msg-Size: 4\r\n\r\n")
    assert m["payload"] == b""


async def test_republish_only_what_src_takes(nc, js_server, raw):
    await api(nc, "$JS.API.STREAM.CREATE.SRC",
              {"name": "SRC", "subjects": ["src.>"],
               "republish": {"src": "src.yes.*", "dest": "rp.$1"}})
    c = republish_rc(js_server, raw)
    copies, ack = publish_and_collect(c, "src.no.a")
    assert copies == [] and ack["seq"] == 1
    copies, ack = publish_and_collect(c, "src.yes.a")
    assert [m["subject"] for m in copies] == ["rp.a"] and ack["seq"] == 2
    assert b"Nats-Sequence: 2\r\n" in copies[0]["headers"]


async def test_nothing_republished_for_refused_or_duplicate_publishes(nc, js_server, raw):
    await api(nc, "$JS.API.STREAM.CREATE.NR",
              {"name": "NR", "subjects": ["nr.>"], "republish": {"dest": "rp.>"}})
    await api(nc, "$JS.API.STREAM.CREATE.NI",
              {"name": "NI", "subjects": ["ni.>"], "retention": "interest",
               "republish": {"dest": "rp.>"}})
    c = republish_rc(js_server, raw)
    copies, ack = publish_and_collect(c, "nr.a", b"1", {"Nats-Msg-Id": "one"})
    assert len(copies) == 1 and ack == {"stream": "NR", "seq": 1}
    # A duplicate, a failed expectation, a wrong expected stream.
    copies, ack = publish_and_collect(c, "nr.a", b"1", {"Nats-Msg-Id": "one"})
    assert copies == [] and ack["duplicate"] is True
    copies, ack = publish_and_collect(c, "nr.a", b"2", {"Nats-Expected-Last-Sequence": "7"})
    assert copies == [] and ack["error"]["err_code"] == 10071
    copies, ack = publish_and_collect(c, "nr.a", b"3", {"Nats-Expected-Stream": "X"})
    assert copies == [] and ack["error"]["err_code"] == 10060
    # Interest retention with nobody interested keeps nothing (2.9.10
    # stores nothing then): no copy either, though a sequence is used.
    copies, ack = publish_and_collect(c, "ni.a", b"4")
    assert copies == [] and ack == {"stream": "NI", "seq": 1}
    # The next stored one is republished with its own sequence.
    copies, ack = publish_and_collect(c, "nr.b", b"5")
    assert len(copies) == 1 and b"Nats-Sequence: 2\r\n" in copies[0]["headers"]


async def test_republish_with_nats_py(js, nc):
    from nats.js.api import RePublish, StreamConfig
    sub = await nc.subscribe("rp.>")
    si = await js.add_stream(StreamConfig(name="PY", subjects=["py.>"],
                                          republish=RePublish(dest="rp.>")))
    assert si.config.republish.src == ">" and si.config.republish.dest == "rp.>"
    ack = await js.publish("py.a", b"v", headers={"X": "1"})
    m = await sub.next_msg(timeout=2)
    assert m.subject == "rp.py.a" and m.data == b"v"
    assert m.headers == {"X": "1", "Nats-Stream": "PY", "Nats-Subject": "py.a",
                         "Nats-Sequence": str(ack.seq), "Nats-Last-Sequence": "0"}
    info = await js.stream_info("PY")
    assert info.config.republish.dest == "rp.>"


@pytest.mark.parametrize("subjects,republish,description", [
    (["v.>"], {"src": "zz", "dest": "rp"},
     "stream configuration for republish source is not valid subset of subjects"),
    (["v.>"], {"dest": "v.x"}, "stream configuration for republish destination forms a cycle"),
    (["v.>"], {"dest": ">"}, "stream configuration for republish destination forms a cycle"),
    (["v.>"], {"dest": ""}, "stream configuration for republish not valid"),
    (["v.>"], {"dest": "rp"}, "stream configuration for republish not valid"),
    (["v.*"], {"src": "v.*", "dest": "rp.x"}, "stream configuration for republish not valid"),
    (["v.*.*"], {"src": "v.*.*", "dest": "rp.$2"}, "stream configuration for republish not valid"),
    (["v.*"], {"src": "v.*", "dest": "rp.$2"}, "stream configuration for republish not valid"),
    (["v.*"], {"src": "v.*", "dest": "rp.{{nope(1)}}"},
     "stream configuration for republish not valid"),
    (["v.*"], {"src": "v.*", "dest": "rp.*"}, "stream configuration for republish not valid"),
])
async def test_republish_config_errors_exactly(nc, subjects, republish, description):
    r = await api(nc, "$JS.API.STREAM.CREATE.V",
                  {"name": "V", "subjects": subjects, "republish": republish})
    assert r == {"type": "io.nats.jetstream.api.v1.stream_create_response",
                 "error": error(500, 10052, description)}


async def test_republish_survives_update_but_cannot_change(nc, js_server, raw):
    cfg = {"name": "UP", "subjects": ["up.>"], "republish": {"src": "up.>", "dest": "rp.>"}}
    await api(nc, "$JS.API.STREAM.CREATE.UP", cfg)
    # Another field changes; republish stays and goes on working.
    r = await api(nc, "$JS.API.STREAM.UPDATE.UP", dict(cfg, max_msgs=10))
    assert r["config"]["republish"] == {"src": "up.>", "dest": "rp.>"} and r["config"]["max_msgs"] == 10
    for change in ({"src": "up.>", "dest": "rp2.>"}, {"dest": "rp.>", "headers_only": True}, None):
        body = dict(cfg)
        if change is None:
            del body["republish"]
        else:
            body["republish"] = change
        r = await api(nc, "$JS.API.STREAM.UPDATE.UP", body)
        assert r["error"] == error(500, 10052,
                                   "stream configuration update can not change RePublish"), change
    info = await api(nc, "$JS.API.STREAM.INFO.UP")
    assert info["config"]["republish"] == {"src": "up.>", "dest": "rp.>"}
    c = republish_rc(js_server, raw)
    copies, ack = publish_and_collect(c, "up.a")
    assert [m["subject"] for m in copies] == ["rp.a"]


async def test_republish_goes_on_after_a_restart(server_factory, nats_connect, raw):
    srv = server_factory.start(jetstream=True)
    nc = await nats_connect(srv)
    await api(nc, "$JS.API.STREAM.CREATE.RS",
              {"name": "RS", "subjects": ["rs.>"], "republish": {"dest": "rp.>"}})
    c = republish_rc(srv, raw)
    publish_and_collect(c, "rs.a")
    await nc.close()
    c.close()
    srv.stop()
    srv = server_factory.start(jetstream=True, store_dir=srv.store_dir)
    c = republish_rc(srv, raw)
    copies, ack = publish_and_collect(c, "rs.a")
    assert ack == {"stream": "RS", "seq": 2}
    assert b"Nats-Sequence: 2\r\nNats-Last-Sequence: 1\r\n" in copies[0]["headers"]
