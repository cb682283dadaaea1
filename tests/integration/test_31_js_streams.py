"""31 streams: the $JS.API.STREAM.* surface (create, update, info, delete,
names, list, purge, msg get, msg delete), DIRECT.GET in both forms, config
validation with its error codes and texts, file and memory storage,
retention and limits, deny/rollup/sealed flags.

spec/jetstream.md §3 (reply rules, error table), §5 (streams), §6 (what a
publish does to a stream), §7 (reading single messages).
"""

import asyncio
import base64
import json
import re

import nats.errors
import nats.js.errors
import pytest

from conftest import REFERENCE, js_api as api


TS_RE = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z"
ZERO_TS = "0001-01-01T00:00:00Z"
T = "io.nats.jetstream.api.v1."


def normalised(name, **over):
    """The config 2.9.10 echoes for a stream created with only name/subjects."""
    cfg = {"name": name, "subjects": [name], "retention": "limits", "max_consumers": -1,
           "max_msgs": -1, "max_bytes": -1, "max_age": 0, "max_msgs_per_subject": -1,
           "max_msg_size": -1, "discard": "old", "storage": "file", "num_replicas": 1,
           "duplicate_window": 120000000000, "allow_direct": False, "mirror_direct": False,
           "sealed": False, "deny_delete": False, "deny_purge": False,
           "allow_rollup_hdrs": False}
    cfg.update(over)
    return cfg


def error(code, err_code, description):
    return {"code": code, "err_code": err_code, "description": description}




async def create(nc, name, **cfg):
    body = {"name": name, **cfg}
    return await api(nc, f"$JS.API.STREAM.CREATE.{name}", body)


async def pub(nc, subject, data=b"x", headers=None):
    msg = await nc.request(subject, data, timeout=2, headers=headers)
    return json.loads(msg.data)


async def no_reply(nc, subject, body=b"", window=0.5):
    """The server must stay silent (2.9.10 has a catch-all on $JS.API.>)."""
    with pytest.raises(nats.errors.TimeoutError):
        await nc.request(subject, body, timeout=window)


async def info(nc, name, body=b""):
    r = await api(nc, f"$JS.API.STREAM.INFO.{name}", body)
    assert "error" not in r, r
    return r


async def state(nc, name):
    return (await info(nc, name))["state"]


@pytest.fixture
async def nc(js_server, nats_connect):
    return await nats_connect(js_server)


@pytest.fixture
def js(nc):
    return nc.jetstream()


# ---------------------------------------------------------------- create

async def test_create_minimal_echoes_the_normalised_config(nc):
    r = await create(nc, "ORDERS", subjects=["orders.>"])
    assert r["type"] == T + "stream_create_response"
    assert list(r)[0] == "type"
    assert "error" not in r
    assert r["config"] == normalised("ORDERS", subjects=["orders.>"])
    assert re.fullmatch(TS_RE, r["created"]), r["created"]
    assert r["state"] == {"messages": 0, "bytes": 0, "first_seq": 0, "first_ts": ZERO_TS,
                          "last_seq": 0, "last_ts": ZERO_TS, "consumer_count": 0}
    assert r["did_create"] is True


async def test_create_without_subjects_uses_the_name(nc):
    r = await create(nc, "NOSUBJ")
    assert r["config"]["subjects"] == ["NOSUBJ"]
    assert (await pub(nc, "NOSUBJ")) == {"stream": "NOSUBJ", "seq": 1}


async def test_create_same_config_again_succeeds_different_config_is_refused(nc):
    first = await create(nc, "ORDERS", subjects=["orders.>"])
    again = await create(nc, "ORDERS", subjects=["orders.>"])
    assert "error" not in again, again
    assert again["config"] == first["config"]
    assert again["created"] == first["created"]
    # Normalisation happens before the comparison: explicit defaults are equal.
    again = await create(nc, "ORDERS", subjects=["orders.>"], max_msgs=-1, storage="file",
                         duplicate_window=120000000000, retention="limits")
    assert "error" not in again, again
    r = await create(nc, "ORDERS", subjects=["orders.*"])
    assert r == {"type": T + "stream_create_response",
                 "error": error(400, 10058,
                                "stream name already in use with a different configuration")}


async def test_create_with_nats_py(js):
    si = await js.add_stream(name="PY", subjects=["py.a", "py.b"], storage="memory",
                             max_msgs=10, description="made by nats-py")
    assert si.config.name == "PY"
    assert si.config.subjects == ["py.a", "py.b"]
    assert si.config.storage == "memory"
    assert si.config.max_msgs == 10
    assert si.config.description == "made by nats-py"
    assert si.state.messages == 0
    assert si.did_create is True


async def test_create_ignores_unknown_fields(nc):
    r = await create(nc, "NEWER", subjects=["newer"], allow_msg_ttl=True,
                     subject_delete_marker_ttl=1000000000,
                     some_future_field={"nested": [1, 2, {"x": None}]}, metadata={"a": "b"})
    assert "error" not in r, r
    assert "some_future_field" not in r["config"]
    assert r["config"]["name"] == "NEWER"
    assert (await pub(nc, "newer")) == {"stream": "NEWER", "seq": 1}


async def test_create_defaults_duplicate_window_to_max_age_when_smaller(nc):
    r = await create(nc, "AGE", subjects=["age"], max_age=1000000000)
    assert r["config"]["max_age"] == 1000000000
    assert r["config"]["duplicate_window"] == 1000000000
    r = await create(nc, "AGE2", subjects=["age2"], max_age=3600 * 10**9)
    assert r["config"]["duplicate_window"] == 120000000000


async def test_create_zero_limits_mean_unlimited(nc):
    r = await create(nc, "Z", subjects=["z"], max_msgs=0, max_bytes=0, max_consumers=0,
                     max_msgs_per_subject=0, max_msg_size=0, num_replicas=0)
    assert r["config"] == normalised("Z", subjects=["z"])


@pytest.mark.parametrize("name,body,expected", [
    ("ORDERS", b'{"name": "OTHER", "subjects": ["x"]}',
     error(400, 10056, "stream name in subject does not match request")),
    ("ORDERS", b'{"subjects": ["x"]}',
     error(400, 10056, "stream name in subject does not match request")),
    ("ORDERS", b"{bad json",
     error(400, 10025, "invalid JSON")),
    ("ORDERS", b"",
     error(400, 10025, "invalid JSON")),
    ("BR", b'{"name": "BR", "subjects": ["br"], "retention": "bogus"}',
     error(400, 10025, "invalid JSON")),
    ("BS", b'{"name": "BS", "subjects": ["bs"], "storage": "tape"}',
     error(400, 10025, "invalid JSON")),
    ("BD", b'{"name": "BD", "subjects": ["bd"], "discard": "sideways"}',
     error(400, 10025, "invalid JSON")),
    ("A*B", b'{"name": "A*B"}',
     error(500, 10052, "stream name is required and can not contain '.', '*', '>'")),
    ("A>", b'{"name": "A>"}',
     error(500, 10052, "stream name is required and can not contain '.', '*', '>'")),
    ("R3", b'{"name": "R3", "subjects": ["r3"], "num_replicas": 3}',
     error(500, 10074, "replicas > 1 not supported in non-clustered mode")),
    ("SE", b'{"name": "SE", "subjects": ["se"], "sealed": true}',
     error(500, 10052, "stream configuration for create can not be sealed")),
    ("RP", b'{"name": "RP", "subjects": ["rp"], "deny_purge": true, "allow_rollup_hdrs": true}',
     error(500, 10052, "roll-ups require the purge permission")),
])
async def test_create_errors_exactly(nc, name, body, expected):
    r = await api(nc, f"$JS.API.STREAM.CREATE.{name}", body)
    assert r == {"type": T + "stream_create_response", "error": expected}
    r = await api(nc, "$JS.API.STREAM.NAMES")
    assert r["total"] == 0


async def test_origin_config_rules(nc, js):
    """Performed in tests 46 (mirrors) and 48 (sources); here the rules of
    the config alone."""
    await js.add_stream(name="ORIG", subjects=["orig.>"])
    r = await api(nc, "$JS.API.STREAM.CREATE.MS",
                  {"name": "MS", "subjects": ["ms"], "mirror": {"name": "ORIG"}})
    assert r["error"]["err_code"] == 10034
    # An empty sources list is no source at all.
    r = await api(nc, "$JS.API.STREAM.CREATE.NONE",
                  {"name": "NONE", "subjects": ["none"], "sources": []})
    assert "error" not in r
    info = await js.stream_info("NONE")
    assert not info.config.sources
    names = (await api(nc, "$JS.API.STREAM.NAMES"))["streams"]
    assert sorted(names) == ["NONE", "ORIG"]


@pytest.mark.skipif(REFERENCE, reason="nats-server 2.9.10 ignores this 2.10 field; "
                    "Tern refuses what it would silently not do")
@pytest.mark.parametrize("field,value,what", [
    ("compression", "s2", "compression s2"),
])
async def test_2_10_fields_that_change_messages_are_refused(nc, field, value, what):
    r = await api(nc, "$JS.API.STREAM.CREATE.TEN", {"name": "TEN", "subjects": ["tr.>"],
                                                   field: value})
    assert r == {"type": T + "stream_create_response",
                 "error": error(500, 10052, f"stream {what} is not supported yet")}
    # Their defaults are no change, and an update is judged the same way.
    r = await api(nc, "$JS.API.STREAM.CREATE.TEN", {"name": "TEN", "subjects": ["tr.>"],
                                                   "compression": "none",
                                                   "subject_transform": None})
    assert "error" not in r, r
    r = await api(nc, "$JS.API.STREAM.UPDATE.TEN", {"name": "TEN", "subjects": ["tr.>"],
                                                   field: value})
    assert r == {"type": T + "stream_update_response",
                 "error": error(500, 10052, f"stream {what} is not supported yet")}


@pytest.mark.skipif(REFERENCE, reason="nats-server 2.9.10 ignores compression")
@pytest.mark.parametrize("value", ["S2", "zstd", None, 1])
async def test_unknown_compression_is_invalid_json(nc, value):
    r = await api(nc, "$JS.API.STREAM.CREATE.Z", {"name": "Z", "compression": value})
    assert r["error"] == error(400, 10025, "invalid JSON")


@pytest.mark.parametrize("cfg,description", [
    ({"max_age": 50_000_000}, "max age needs to be >= 100ms"),
    ({"duplicate_window": 50_000_000}, "duplicates window needs to be >= 100ms"),
    ({"max_age": 10**9, "duplicate_window": 2 * 10**9},
     "duplicates window can not be larger then max age"),
    ({"subjects": ["v", "v"]}, "duplicate subjects detected"),
    ({"subjects": ["v.*", "v.b"]}, 'subject "v.*" overlaps with "v.b"'),
    ({"subjects": ["$JS.API.>"]}, "subjects overlap with jetstream api"),
    ({"subjects": ["v w"]}, "invalid subject"),
    ({"subjects": [""]}, "invalid subject"),
    ({"discard_new_per_subject": True},
     "discard new per subject requires discard new policy to be set"),
    ({"num_replicas": 6}, "maximum replicas is 5"),
])
async def test_create_invalid_config_is_10052(nc, cfg, description):
    # Texts as nats-server 2.9.10 words them (spec §5.1 lists a few).
    body = {"name": "V", "subjects": ["v"], **cfg}
    r = await api(nc, "$JS.API.STREAM.CREATE.V", body)
    assert r == {"type": T + "stream_create_response",
                 "error": error(500, 10052, description)}


async def test_create_name_with_path_separators_is_refused(nc):
    for name in ("a/b", "a\\b"):
        r = await api(nc, f"$JS.API.STREAM.CREATE.{name}", {"name": name, "subjects": ["ab"]})
        assert r == {"type": T + "stream_create_response",
                     "error": error(400, 10128, "Stream name can not contain path separators")}


async def test_create_with_an_extra_subject_token_gets_no_reply(nc):
    await no_reply(nc, "$JS.API.STREAM.CREATE.a.b", b'{"name": "a.b"}')


async def test_create_overlapping_another_stream_is_refused(nc):
    await create(nc, "ORDERS", subjects=["orders.>"])
    for subjects in (["orders.new"], ["orders.*"], [">"], ["*.x"]):
        r = await create(nc, "OTHER", subjects=subjects)
        assert r == {"type": T + "stream_create_response",
                     "error": error(400, 10065, "subjects overlap with an existing stream")}
    r = await create(nc, "OTHER", subjects=["order.new", "ordersx"])
    assert "error" not in r, r


async def test_nats_py_add_stream_error_classes(js):
    await js.add_stream(name="A", subjects=["a"])
    with pytest.raises(nats.js.errors.BadRequestError) as e:
        await js.add_stream(name="A", subjects=["b"])
    assert e.value.err_code == 10058
    with pytest.raises(nats.js.errors.ServerError) as e:
        await js.add_stream(name="B", subjects=["b"], num_replicas=3)
    assert e.value.err_code == 10074
    with pytest.raises(nats.js.errors.NotFoundError) as e:
        await js.stream_info("NOPE")
    assert e.value.err_code == 10059


# ---------------------------------------------------------------- info / names / list

async def test_info_state_after_publishes(nc):
    await create(nc, "ORDERS", subjects=["orders.>"])
    for i in range(5):
        await pub(nc, "orders.new", b"m%d" % i)
    await pub(nc, "orders.old", b"o")
    await pub(nc, "orders.hdr", b"", headers={"Foo": "bar"})
    r = await info(nc, "ORDERS")
    assert r["type"] == T + "stream_info_response"
    assert r["config"] == normalised("ORDERS", subjects=["orders.>"])
    st = r["state"]
    assert st["messages"] == 7
    assert st["first_seq"] == 1 and st["last_seq"] == 7
    assert re.fullmatch(TS_RE, st["first_ts"]) and st["first_ts"] != ZERO_TS
    assert re.fullmatch(TS_RE, st["last_ts"]) and st["last_ts"] >= st["first_ts"]
    assert st["num_subjects"] == 3
    assert st["consumer_count"] == 0
    assert st["bytes"] >= 5 * len("orders.new") + len("orders.old") + 7
    assert "subjects" not in st and "deleted" not in st and "num_deleted" not in st


async def test_info_subjects_filter(nc):
    await create(nc, "ORDERS", subjects=["orders.>"])
    for s in ("orders.a", "orders.a", "orders.b", "orders.c.x"):
        await pub(nc, s)
    r = await info(nc, "ORDERS", {"subjects_filter": ">"})
    assert r["state"]["subjects"] == {"orders.a": 2, "orders.b": 1, "orders.c.x": 1}
    assert r["total"] == 3 and r["offset"] == 0
    r = await info(nc, "ORDERS", {"subjects_filter": "orders.*"})
    assert r["state"]["subjects"] == {"orders.a": 2, "orders.b": 1}
    r = await info(nc, "ORDERS", {"subjects_filter": "orders.a"})
    assert r["state"]["subjects"] == {"orders.a": 2}


async def test_info_subjects_filter_is_paged_by_offset(nc):
    await create(nc, "S", subjects=["s.>"])
    for subj in ("s.e", "s.c", "s.a", "s.d", "s.b", "s.c"):
        await pub(nc, subj)
    r = await info(nc, "S", {"subjects_filter": ">", "offset": 1})
    # Sorted by subject, the first `offset` left out; total counts them all.
    assert (r["total"], r["offset"], r["limit"]) == (5, 1, 100000)
    assert r["state"]["subjects"] == {"s.b": 1, "s.c": 2, "s.d": 1, "s.e": 1}
    r = await info(nc, "S", {"subjects_filter": "s.*", "offset": 3})
    assert r["state"]["subjects"] == {"s.d": 1, "s.e": 1}
    r = await info(nc, "S", {"subjects_filter": ">", "offset": 5})
    assert r["total"] == 5 and r["state"].get("subjects") in (None, {})


@pytest.mark.parametrize("storage,overhead", [("file", 30), ("memory", 16)])
async def test_state_bytes_accounting(nc, storage, overhead):
    # What 2.9.10 counts per message (it decides where max_bytes cuts):
    # subject + headers + payload + 30 (file) or 16 (memory); a file store
    # record with headers has 4 bytes more (their length).
    await create(nc, "B", subjects=["bsub"], storage=storage)
    await pub(nc, "bsub", b"hello")
    assert (await state(nc, "B"))["bytes"] == 4 + 5 + overhead
    await pub(nc, "bsub", b"hello", headers={"A": "b"})
    hdr = len(b"NATS/1.0\r\nA: b\r\n\r\n")
    extra = 4 if storage == "file" else 0
    assert (await state(nc, "B"))["bytes"] == 2 * (4 + 5 + overhead) + hdr + extra
    await api(nc, "$JS.API.STREAM.MSG.DELETE.B", {"seq": 1})
    assert (await state(nc, "B"))["bytes"] == 4 + 5 + overhead + hdr + extra


async def test_info_subjects_filter_with_nats_py(js):
    await js.add_stream(name="S", subjects=["s.>"])
    await js.publish("s.1", b"")
    await js.publish("s.2", b"")
    await js.publish("s.2", b"")
    si = await js.stream_info("S", subjects_filter="s.>")
    assert si.state.subjects == {"s.1": 1, "s.2": 2}


async def test_info_errors(nc):
    r = await api(nc, "$JS.API.STREAM.INFO.NOPE")
    assert r["type"] == T + "stream_info_response"
    assert r["error"] == error(404, 10059, "stream not found")
    await create(nc, "S", subjects=["s"])
    r = await api(nc, "$JS.API.STREAM.INFO.S", b"{bad")
    assert r["error"] == error(400, 10025, "invalid JSON")


async def test_names_sorted_filtered_and_paged(nc):
    for name in ("C", "A", "B"):
        await create(nc, name, subjects=[f"{name.lower()}.>"])
    r = await api(nc, "$JS.API.STREAM.NAMES")
    assert r == {"type": T + "stream_names_response", "total": 3, "offset": 0,
                 "limit": 1024, "streams": ["A", "B", "C"]}
    r = await api(nc, "$JS.API.STREAM.NAMES", {"subject": "b.x"})
    assert r["streams"] == ["B"] and r["total"] == 1
    r = await api(nc, "$JS.API.STREAM.NAMES", {"subject": "*.x"})
    assert r["streams"] == ["A", "B", "C"]
    r = await api(nc, "$JS.API.STREAM.NAMES", {"subject": "zzz"})
    assert r["total"] == 0 and r["streams"] in (None, [])
    r = await api(nc, "$JS.API.STREAM.NAMES", {"offset": 1})
    assert r["streams"] == ["B", "C"] and r["offset"] == 1 and r["total"] == 3
    r = await api(nc, "$JS.API.STREAM.NAMES", b"{bad")
    assert r["error"] == error(400, 10025, "invalid JSON")


async def test_names_and_list_with_an_empty_subject_list_everything(nc):
    for name in ("B", "A"):
        await create(nc, name, subjects=[f"{name.lower()}.>"])
    for body in ({"subject": ""}, {"subject": None}, {"subject": "", "offset": 0}):
        r = await api(nc, "$JS.API.STREAM.NAMES", body)
        assert (r["total"], r["streams"]) == (2, ["A", "B"]), body
        r = await api(nc, "$JS.API.STREAM.LIST", body)
        assert [si["config"]["name"] for si in r["streams"]] == ["A", "B"], body
    r = await api(nc, "$JS.API.STREAM.NAMES", {"subject": "", "offset": 1})
    assert (r["total"], r["offset"], r["streams"]) == (2, 1, ["B"])


async def test_names_and_list_paging_past_the_end_and_bad_types(nc):
    await create(nc, "A", subjects=["a"])
    # An offset past the end is echoed as the total (2.9.10 clamps it).
    r = await api(nc, "$JS.API.STREAM.NAMES", {"offset": 5})
    assert r == {"type": T + "stream_names_response", "total": 1, "offset": 1,
                 "limit": 1024, "streams": None}
    r = await api(nc, "$JS.API.STREAM.LIST", {"offset": 5})
    assert r == {"type": T + "stream_list_response", "total": 1, "offset": 1,
                 "limit": 256, "streams": []}
    # Go decodes {subject string, offset int}: another type is invalid
    # JSON, answered with the response's zero paging fields.
    for body in ({"subject": 5}, {"subject": ["a"]}, {"offset": "1"}, {"offset": 1.5},
                 b"{bad"):
        r = await api(nc, "$JS.API.STREAM.NAMES", body)
        assert r == {"type": T + "stream_names_response",
                     "error": error(400, 10025, "invalid JSON"),
                     "total": 0, "offset": 0, "limit": 0, "streams": None}, body
        r = await api(nc, "$JS.API.STREAM.LIST", body)
        assert r == {"type": T + "stream_list_response",
                     "error": error(400, 10025, "invalid JSON"),
                     "total": 0, "offset": 0, "limit": 0, "streams": []}, body


@pytest.mark.skipif(REFERENCE, reason="nats-server 2.9.10 panics on a negative offset and "
                    "drops the connection; Tern reads it as 0")
async def test_names_and_list_take_a_negative_offset_as_zero(nc):
    await create(nc, "A", subjects=["a"])
    r = await api(nc, "$JS.API.STREAM.NAMES", {"offset": -1})
    assert (r["offset"], r["streams"]) == (0, ["A"])
    r = await api(nc, "$JS.API.STREAM.LIST", {"offset": -5})
    assert r["offset"] == 0 and len(r["streams"]) == 1


async def test_names_when_there_are_none(nc):
    r = await api(nc, "$JS.API.STREAM.NAMES")
    assert r["total"] == 0 and r["streams"] in (None, [])


async def test_find_stream_by_subject_with_nats_py(js):
    await js.add_stream(name="A", subjects=["a.>"])
    await js.add_stream(name="B", subjects=["b.*"])
    assert await js.find_stream_name_by_subject("b.x") == "B"
    assert await js.find_stream_name_by_subject("a.x.y") == "A"
    with pytest.raises(nats.js.errors.NotFoundError):
        await js.find_stream_name_by_subject("c")


async def test_list_returns_infos(nc, js):
    await create(nc, "B", subjects=["b"])
    await create(nc, "A", subjects=["a"], storage="memory")
    await pub(nc, "a")
    r = await api(nc, "$JS.API.STREAM.LIST")
    assert r["type"] == T + "stream_list_response"
    assert r["total"] == 2 and r["offset"] == 0 and r["limit"] == 256
    byname = {s["config"]["name"]: s for s in r["streams"]}
    assert set(byname) == {"A", "B"}
    assert byname["A"]["state"]["messages"] == 1
    assert byname["A"]["config"] == normalised("A", subjects=["a"], storage="memory")
    assert all("type" not in s for s in r["streams"])
    infos = await js.streams_info()
    assert sorted(si.config.name for si in infos) == ["A", "B"]
    r = await api(nc, "$JS.API.STREAM.LIST", {"offset": 1})
    assert (r["total"], r["offset"]) == (2, 1)
    assert [si["config"]["name"] for si in r["streams"]] == ["B"]


# ---------------------------------------------------------------- update

async def test_update_changes_allowed_fields(nc, js):
    await create(nc, "ORDERS", subjects=["orders.>"])
    await pub(nc, "orders.a")
    r = await api(nc, "$JS.API.STREAM.UPDATE.ORDERS",
                  {"name": "ORDERS", "subjects": ["orders.>", "more"],
                   "max_msgs_per_subject": 5, "allow_direct": True, "allow_rollup_hdrs": True,
                   "description": "updated"})
    assert r["type"] == T + "stream_update_response"
    assert r["config"] == normalised("ORDERS", subjects=["orders.>", "more"],
                                     max_msgs_per_subject=5, allow_direct=True,
                                     allow_rollup_hdrs=True, description="updated")
    assert r["state"]["messages"] == 1
    assert "did_create" not in r
    assert (await pub(nc, "more")) == {"stream": "ORDERS", "seq": 2}
    si = await js.update_stream(name="ORDERS", subjects=["orders.>"], max_msgs=100)
    assert si.config.max_msgs == 100 and si.config.subjects == ["orders.>"]
    with pytest.raises(nats.errors.NoRespondersError):
        await nc.request("more", b"", timeout=1)


async def test_update_lowered_max_msgs_applies_to_existing_data(nc):
    await create(nc, "L", subjects=["l"])
    for i in range(10):
        await pub(nc, "l", b"%d" % i)
    r = await api(nc, "$JS.API.STREAM.UPDATE.L", {"name": "L", "subjects": ["l"], "max_msgs": 3})
    assert "error" not in r, r
    st = await state(nc, "L")
    assert st["messages"] == 3 and st["first_seq"] == 8 and st["last_seq"] == 10


@pytest.mark.parametrize("name,body,expected", [
    ("NOPE", {"name": "NOPE", "subjects": ["nope"]},
     error(404, 10059, "stream not found")),
    ("ORDERS", {"name": "ORDERS", "subjects": ["orders.>"], "storage": "memory"},
     error(500, 10052, "stream configuration update can not change storage type")),
    ("ORDERS", {"name": "OTHER", "subjects": ["orders.>"]},
     error(400, 10056, "stream name in subject does not match request")),
    ("ORDERS", b"{",
     error(400, 10025, "invalid JSON")),
])
async def test_update_errors_exactly(nc, name, body, expected):
    await create(nc, "ORDERS", subjects=["orders.>"])
    r = await api(nc, f"$JS.API.STREAM.UPDATE.{name}", body)
    assert r == {"type": T + "stream_update_response", "error": expected}


@pytest.mark.parametrize("change,description", [
    ({"retention": "workqueue"}, "can not change retention policy"),
    ({"max_consumers": 3}, "can not change MaxConsumers"),
    ({"deny_delete": False}, "can not cancel deny message deletes"),
    ({"deny_purge": False}, "can not cancel deny purge"),
])
async def test_update_refuses_unchangeable_fields(nc, change, description):
    await create(nc, "U", subjects=["u"], deny_delete=True, deny_purge=True)
    body = {"name": "U", "subjects": ["u"], "deny_delete": True, "deny_purge": True, **change}
    r = await api(nc, "$JS.API.STREAM.UPDATE.U", body)
    assert r == {"type": T + "stream_update_response",
                 "error": error(500, 10052, "stream configuration update " + description)}


async def test_update_to_sealed_forces_flags_and_refuses_changes(nc):
    await create(nc, "S", subjects=["s.>"], max_age=3600 * 10**9, allow_rollup_hdrs=True)
    await pub(nc, "s.a", b"1")
    await pub(nc, "s.a", b"2")
    r = await api(nc, "$JS.API.STREAM.UPDATE.S", {"name": "S", "subjects": ["s.>"],
                                                  "max_age": 3600 * 10**9,
                                                  "allow_rollup_hdrs": True, "sealed": True})
    cfg = r["config"]
    assert cfg["sealed"] is True
    assert cfg["discard"] == "new" and cfg["deny_delete"] is True and cfg["deny_purge"] is True
    assert cfg["max_age"] == 0 and cfg["allow_rollup_hdrs"] is False
    assert r["state"]["messages"] == 2
    r = await pub(nc, "s.a", b"3")
    assert r == {"error": error(400, 10109, "invalid operation on sealed stream"),
                 "stream": "S", "seq": 0}
    r = await api(nc, "$JS.API.STREAM.UPDATE.S", {"name": "S", "subjects": ["s.>"],
                                                  "sealed": False})
    assert r["error"] == error(500, 10052,
                               "stream configuration update can not unseal a sealed stream")
    # No purge or delete on a sealed stream: 2.9.10 checks "sealed" first
    # and answers 10109 for both (not deny_purge's 10110 / deny_delete's 10057).
    sealed = error(400, 10109, "invalid operation on sealed stream")
    r = await api(nc, "$JS.API.STREAM.PURGE.S")
    assert r["error"] == sealed
    r = await api(nc, "$JS.API.STREAM.MSG.DELETE.S", {"seq": 1})
    assert r["error"] == sealed
    st = await state(nc, "S")
    assert st["messages"] == 2 and st["last_seq"] == 2
    # The messages remain readable; the stream can still be deleted.
    r = await api(nc, "$JS.API.STREAM.MSG.GET.S", {"seq": 2})
    assert base64.b64decode(r["message"]["data"]) == b"2"
    r = await api(nc, "$JS.API.STREAM.DELETE.S")
    assert r == {"type": T + "stream_delete_response", "success": True}


# ---------------------------------------------------------------- delete

async def test_delete_stream(nc, js):
    await create(nc, "ORDERS", subjects=["orders.>"])
    await pub(nc, "orders.a")
    await js.add_consumer("ORDERS", durable_name="C1")
    r = await api(nc, "$JS.API.STREAM.DELETE.ORDERS")
    assert r == {"type": T + "stream_delete_response", "success": True}
    r = await api(nc, "$JS.API.STREAM.INFO.ORDERS")
    assert r["error"] == error(404, 10059, "stream not found")
    r = await api(nc, "$JS.API.CONSUMER.INFO.ORDERS.C1")
    assert r["error"]["err_code"] == 10059
    r = await api(nc, "$JS.API.STREAM.DELETE.ORDERS")
    assert r == {"type": T + "stream_delete_response",
                 "error": error(404, 10059, "stream not found")}
    # Its subjects are free again; no stream means no responders.
    with pytest.raises(nats.errors.NoRespondersError):
        await nc.request("orders.a", b"", timeout=1)
    r = await create(nc, "ORDERS", subjects=["orders.>"])
    assert r["state"]["messages"] == 0 and r["state"]["last_seq"] == 0
    assert await js.delete_stream("ORDERS") is True


async def test_delete_ignores_a_body(nc):
    await create(nc, "D", subjects=["d"])
    r = await api(nc, "$JS.API.STREAM.DELETE.D", b"{}")
    assert r == {"type": T + "stream_delete_response", "success": True}


# ---------------------------------------------------------------- purge

async def fill(nc, stream, pairs):
    await create(nc, stream, subjects=[f"{stream.lower()}.>"])
    for subj in pairs:
        await pub(nc, f"{stream.lower()}.{subj}", subj.encode())


async def test_purge_all(nc):
    await fill(nc, "P", ["a", "b", "a", "c"])
    r = await api(nc, "$JS.API.STREAM.PURGE.P")
    assert r == {"type": T + "stream_purge_response", "success": True, "purged": 4}
    st = await state(nc, "P")
    assert st["messages"] == 0 and st["bytes"] == 0
    assert st["first_seq"] == 5 and st["last_seq"] == 4
    assert st["first_ts"] == ZERO_TS
    assert (await pub(nc, "p.a")) == {"stream": "P", "seq": 5}
    st = await state(nc, "P")
    assert st["messages"] == 1 and st["first_seq"] == 5


async def test_purge_by_subject(nc):
    await fill(nc, "P", ["a", "b", "a", "c", "a"])
    r = await api(nc, "$JS.API.STREAM.PURGE.P", {"filter": "p.a"})
    assert r == {"type": T + "stream_purge_response", "success": True, "purged": 3}
    r = await info(nc, "P", {"subjects_filter": ">"})
    assert r["state"]["subjects"] == {"p.b": 1, "p.c": 1}
    assert r["state"]["messages"] == 2 and r["state"]["last_seq"] == 5


async def test_purge_by_wildcard_subject(nc):
    await create(nc, "W", subjects=["w.>"])
    for s in ("w.a.1", "w.a.2", "w.b.1", "w.a.3"):
        await pub(nc, s)
    r = await api(nc, "$JS.API.STREAM.PURGE.W", {"filter": "w.a.*"})
    assert r["purged"] == 3
    assert (await state(nc, "W"))["messages"] == 1


async def test_purge_by_subject_keep(nc):
    await fill(nc, "P", ["a", "a", "b", "a", "a", "a"])
    r = await api(nc, "$JS.API.STREAM.PURGE.P", {"filter": "p.a", "keep": 2})
    assert r == {"type": T + "stream_purge_response", "success": True, "purged": 3}
    r = await api(nc, "$JS.API.STREAM.MSG.GET.P", {"seq": 4})
    assert r["error"]["err_code"] == 10037
    r = await api(nc, "$JS.API.STREAM.MSG.GET.P", {"seq": 5})
    assert r["message"]["seq"] == 5
    r = await api(nc, "$JS.API.STREAM.MSG.GET.P", {"seq": 3})
    assert r["message"]["subject"] == "p.b"


async def test_purge_keep_whole_stream(nc):
    await fill(nc, "P", ["a", "b", "c", "d", "e"])
    r = await api(nc, "$JS.API.STREAM.PURGE.P", {"keep": 2})
    assert r["purged"] == 3
    st = await state(nc, "P")
    assert st["messages"] == 2 and st["first_seq"] == 4


async def test_purge_up_to_sequence(nc):
    await fill(nc, "P", ["a", "b", "c", "d", "e"])
    r = await api(nc, "$JS.API.STREAM.PURGE.P", {"seq": 4})
    assert r == {"type": T + "stream_purge_response", "success": True, "purged": 3}
    st = await state(nc, "P")
    assert st["messages"] == 2 and st["first_seq"] == 4 and st["last_seq"] == 5


async def test_purge_errors(nc, js):
    await fill(nc, "P", ["a"])
    r = await api(nc, "$JS.API.STREAM.PURGE.P", {"seq": 3, "keep": 1})
    assert r["type"] == T + "stream_purge_response"
    assert r["error"] == error(400, 10003, "bad request")
    r = await api(nc, "$JS.API.STREAM.PURGE.NOPE")
    assert r["error"] == error(404, 10059, "stream not found")
    assert (await state(nc, "P"))["messages"] == 1


async def test_purge_with_nats_py(js):
    await js.add_stream(name="P", subjects=["p.>"])
    for s in ("p.a", "p.b", "p.a"):
        await js.publish(s, b"")
    assert await js.purge_stream("P", subject="p.a") is True
    assert (await js.stream_info("P")).state.messages == 1
    assert await js.purge_stream("P") is True
    assert (await js.stream_info("P")).state.messages == 0


# ---------------------------------------------------------------- msg get

async def headered_stream(nc):
    await create(nc, "ORDERS", subjects=["orders.>"])
    await pub(nc, "orders.new", b"hello")                                  # 1
    await pub(nc, "orders.new", b"m1", headers={"Nats-Msg-Id": "abc"})     # 2
    await pub(nc, "orders.other", b"x")                                    # 3
    await pub(nc, "orders.new", b"")                                       # 4
    await pub(nc, "orders.other", b"y")                                    # 5


async def test_msg_get_by_sequence(nc):
    await headered_stream(nc)
    r = await api(nc, "$JS.API.STREAM.MSG.GET.ORDERS", {"seq": 1})
    assert r["type"] == T + "stream_msg_get_response"
    m = r["message"]
    assert set(m) == {"subject", "seq", "data", "time"}
    assert m["subject"] == "orders.new" and m["seq"] == 1
    assert base64.b64decode(m["data"]) == b"hello"
    assert re.fullmatch(TS_RE, m["time"])


async def test_msg_get_returns_stored_headers(nc):
    await headered_stream(nc)
    m = (await api(nc, "$JS.API.STREAM.MSG.GET.ORDERS", {"seq": 2}))["message"]
    assert base64.b64decode(m["hdrs"]) == b"NATS/1.0\r\nNats-Msg-Id: abc\r\n\r\n"
    assert base64.b64decode(m["data"]) == b"m1"


async def test_msg_get_empty_payload_has_no_data(nc):
    await headered_stream(nc)
    m = (await api(nc, "$JS.API.STREAM.MSG.GET.ORDERS", {"seq": 4}))["message"]
    assert "data" not in m or m["data"] in ("", None)
    assert "hdrs" not in m


async def test_msg_get_last_and_next_by_subject(nc):
    await headered_stream(nc)
    m = (await api(nc, "$JS.API.STREAM.MSG.GET.ORDERS", {"last_by_subj": "orders.other"}))
    assert m["message"]["seq"] == 5
    m = await api(nc, "$JS.API.STREAM.MSG.GET.ORDERS", {"seq": 1, "next_by_subj": "orders.other"})
    assert m["message"]["seq"] == 3
    m = await api(nc, "$JS.API.STREAM.MSG.GET.ORDERS", {"seq": 4, "next_by_subj": "orders.other"})
    assert m["message"]["seq"] == 5
    m = await api(nc, "$JS.API.STREAM.MSG.GET.ORDERS", {"seq": 3, "next_by_subj": "orders.*"})
    assert m["message"]["seq"] == 3


async def test_msg_get_last_by_subject_with_wildcards(nc):
    await headered_stream(nc)
    await pub(nc, "orders.x.deep", b"d")                                   # 6
    get = "$JS.API.STREAM.MSG.GET.ORDERS"
    for pattern, seq in (("orders.*", 5), ("orders.>", 6), (">", 6), ("*.new", 4),
                         ("orders.*.deep", 6), ("orders.new", 4)):
        m = (await api(nc, get, {"last_by_subj": pattern}))["message"]
        assert m["seq"] == seq, pattern
    r = await api(nc, get, {"last_by_subj": "orders.none.*"})
    assert r["error"] == error(404, 10037, "no message found")
    # Removed messages are not found: the newest left that matches is.
    await api(nc, "$JS.API.STREAM.MSG.DELETE.ORDERS", {"seq": 6})
    await api(nc, "$JS.API.STREAM.PURGE.ORDERS", {"filter": "orders.other"})
    m = (await api(nc, get, {"last_by_subj": "orders.>"}))["message"]
    assert (m["seq"], m["subject"]) == (4, "orders.new")
    # "" is Go's zero value: the same as leaving it out.
    m = (await api(nc, get, {"last_by_subj": "", "seq": 2}))["message"]
    assert m["seq"] == 2
    r = await api(nc, get, {"last_by_subj": ""})
    assert r["error"] == error(400, 10003, "bad request")
    r = await api(nc, get, {"last_by_subj": "orders.*", "seq": 1})
    assert r["error"] == error(400, 10003, "bad request")


async def test_get_last_msg_with_a_wildcard_with_nats_py(js):
    await js.add_stream(name="W", subjects=["w.>"])
    await js.publish("w.a.1", b"one")
    await js.publish("w.b.1", b"two")
    await js.publish("w.a.2", b"three")
    m = await js.get_last_msg("W", "w.a.*")
    assert (m.subject, m.seq, m.data) == ("w.a.2", 3, b"three")
    m = await js.get_last_msg("W", "w.*.1")
    assert (m.subject, m.seq) == ("w.b.1", 2)


@pytest.mark.parametrize("stream,body,expected", [
    ("ORDERS", {"seq": 999}, error(404, 10037, "no message found")),
    ("ORDERS", {"last_by_subj": "orders.none"}, error(404, 10037, "no message found")),
    ("ORDERS", {"seq": 6, "next_by_subj": "orders.new"}, error(404, 10037, "no message found")),
    ("ORDERS", b"", error(400, 10003, "bad request")),
    ("ORDERS", {"seq": 1, "last_by_subj": "orders.new"}, error(400, 10003, "bad request")),
    ("NOPE", {"seq": 1}, error(404, 10059, "stream not found")),
])
async def test_msg_get_errors_exactly(nc, stream, body, expected):
    await headered_stream(nc)
    r = await api(nc, f"$JS.API.STREAM.MSG.GET.{stream}", body)
    assert r == {"type": T + "stream_msg_get_response", "error": expected}


async def test_get_msg_with_nats_py(js):
    await js.add_stream(name="G", subjects=["g.>"])
    await js.publish("g.a", b"one", headers={"X-Tag": "t1"})
    await js.publish("g.b", b"two")
    m = await js.get_msg("G", 1)
    assert (m.subject, m.seq, m.data) == ("g.a", 1, b"one")
    assert m.headers == {"X-Tag": "t1"}
    m = await js.get_last_msg("G", "g.b")
    assert (m.subject, m.seq, m.data) == ("g.b", 2, b"two")
    with pytest.raises(nats.js.errors.NotFoundError):
        await js.get_msg("G", 5)


# ---------------------------------------------------------------- msg delete

async def test_msg_delete(nc, js):
    await fill(nc, "D", ["a", "b", "c", "d", "e"])
    r = await api(nc, "$JS.API.STREAM.MSG.DELETE.D", {"seq": 2})
    assert r == {"type": T + "stream_msg_delete_response", "success": True}
    r = await api(nc, "$JS.API.STREAM.MSG.DELETE.D", {"seq": 2})
    assert r == {"type": T + "stream_msg_delete_response",
                 "error": error(400, 10043, "sequence 2 not found")}
    r = await api(nc, "$JS.API.STREAM.MSG.DELETE.D", {"seq": 4, "no_erase": True})
    assert r == {"type": T + "stream_msg_delete_response", "success": True}
    r = await api(nc, "$JS.API.STREAM.MSG.GET.D", {"seq": 2})
    assert r["error"]["err_code"] == 10037
    r = await info(nc, "D", {"deleted_details": True})
    st = r["state"]
    assert st["messages"] == 3 and st["first_seq"] == 1 and st["last_seq"] == 5
    assert st["num_deleted"] == 2 and st["deleted"] == [2, 4]
    st = await state(nc, "D")
    assert st["num_deleted"] == 2 and "deleted" not in st
    # Deleting the first message moves first_seq; it is no interior gap.
    assert await js.delete_msg("D", 1) is True
    st = await state(nc, "D")
    assert st["first_seq"] == 3 and st["messages"] == 2
    # Past the last sequence 2.9.10 says 500/10057 "stream store EOF".
    r = await api(nc, "$JS.API.STREAM.MSG.DELETE.D", {"seq": 99})
    assert r["error"]["err_code"] in (10043, 10057), r
    r = await api(nc, "$JS.API.STREAM.MSG.DELETE.NOPE", {"seq": 1})
    assert r["error"] == error(404, 10059, "stream not found")


# ---------------------------------------------------------------- direct get

def direct_hdrs(stream, subject, seq, stored=b""):
    """Header block of a DIRECT.GET reply, timestamp left open."""
    return re.compile(re.escape(b"NATS/1.0\r\n" + stored
                                + f"Nats-Stream: {stream}\r\nNats-Subject: {subject}\r\n"
                                  f"Nats-Sequence: {seq}\r\n".encode())
                      + rb"Nats-Time-Stamp: " + TS_RE.encode() + rb"\r\n\r\n")


@pytest.fixture
async def direct_raw(js_server, raw, nc):
    await create(nc, "ORDERS", subjects=["orders.>"], allow_direct=True)
    await pub(nc, "orders.new", b"hello")                                  # 1
    await pub(nc, "orders.new", b"m1", headers={"Nats-Msg-Id": "abc"})     # 2
    await pub(nc, "orders.other", b"x")                                    # 3
    await pub(nc, "orders.other", b"y")                                    # 4
    c = raw(js_server)
    c.handshake(headers=True, no_responders=True)
    c.send(b"SUB r.> 1\r\nPING\r\n")
    c.expect(b"PONG\r\n")
    return c


def direct_get(c, subject, body=b""):
    c.pub(subject, body, reply="r.1")
    m = c.read_msg(answer_pings=True)
    assert m["op"] == "HMSG" and m["subject"] == "r.1" and not m["reply"], m
    return m


async def test_direct_get_by_sequence(direct_raw):
    m = direct_get(direct_raw, "$JS.API.DIRECT.GET.ORDERS", b'{"seq": 1}')
    assert direct_hdrs("ORDERS", "orders.new", 1).fullmatch(m["headers"]), m["headers"]
    assert m["payload"] == b"hello"


async def test_direct_get_keeps_stored_headers_first(direct_raw):
    m = direct_get(direct_raw, "$JS.API.DIRECT.GET.ORDERS", b'{"seq":2}')
    assert direct_hdrs("ORDERS", "orders.new", 2,
                       b"Nats-Msg-Id: abc\r\n").fullmatch(m["headers"]), m["headers"]
    assert m["payload"] == b"m1"


async def test_direct_get_last_by_subject_both_forms(direct_raw):
    m = direct_get(direct_raw, "$JS.API.DIRECT.GET.ORDERS", b'{"last_by_subj": "orders.other"}')
    assert direct_hdrs("ORDERS", "orders.other", 4).fullmatch(m["headers"])
    assert m["payload"] == b"y"
    m = direct_get(direct_raw, "$JS.API.DIRECT.GET.ORDERS.orders.other")
    assert direct_hdrs("ORDERS", "orders.other", 4).fullmatch(m["headers"])
    assert m["payload"] == b"y"
    m = direct_get(direct_raw, "$JS.API.DIRECT.GET.ORDERS",
                   b'{"seq": 1, "next_by_subj": "orders.other"}')
    assert direct_hdrs("ORDERS", "orders.other", 3).fullmatch(m["headers"])
    assert m["payload"] == b"x"


async def test_direct_get_last_by_subject_with_wildcards(direct_raw):
    m = direct_get(direct_raw, "$JS.API.DIRECT.GET.ORDERS", b'{"last_by_subj": "orders.*"}')
    assert direct_hdrs("ORDERS", "orders.other", 4).fullmatch(m["headers"])
    m = direct_get(direct_raw, "$JS.API.DIRECT.GET.ORDERS", b'{"last_by_subj": "*.new"}')
    assert direct_hdrs("ORDERS", "orders.new", 2,
                       b"Nats-Msg-Id: abc\r\n").fullmatch(m["headers"])
    m = direct_get(direct_raw, "$JS.API.DIRECT.GET.ORDERS.orders.>")
    assert direct_hdrs("ORDERS", "orders.other", 4).fullmatch(m["headers"])


@pytest.mark.parametrize("subject,body,status", [
    ("$JS.API.DIRECT.GET.ORDERS", b'{"seq": 999}', b"NATS/1.0 404 Message Not Found\r\n\r\n"),
    ("$JS.API.DIRECT.GET.ORDERS.orders.none", b"", b"NATS/1.0 404 Message Not Found\r\n\r\n"),
    ("$JS.API.DIRECT.GET.ORDERS", b"", b"NATS/1.0 408 Empty Request\r\n\r\n"),
    ("$JS.API.DIRECT.GET.ORDERS", b"{bad", b"NATS/1.0 408 Malformed Request\r\n\r\n"),
    ("$JS.API.DIRECT.GET.ORDERS.orders.other", b"{}", b"NATS/1.0 408 Bad Request\r\n\r\n"),
    ("$JS.API.DIRECT.GET.ORDERS", b'{"seq": 1, "last_by_subj": "orders.new"}',
     b"NATS/1.0 408 Bad Request\r\n\r\n"),
])
async def test_direct_get_status_replies_exactly(direct_raw, subject, body, status):
    m = direct_get(direct_raw, subject, body)
    assert m["headers"] == status
    assert m["payload"] == b""


async def no_direct_get(nc, subject, body):
    """Nobody serves it: 2.9.10 stays silent (its catch-all on $JS.API.>
    takes the request), 2.10 and Tern answer no responders."""
    if REFERENCE:
        await no_reply(nc, subject, body, window=0.3)
        return
    with pytest.raises(nats.errors.NoRespondersError):
        await nc.request(subject, body, timeout=2)


async def test_direct_get_without_allow_direct_or_stream_gets_no_responders(nc, js):
    await create(nc, "ND", subjects=["nd"])
    await pub(nc, "nd")
    await no_direct_get(nc, "$JS.API.DIRECT.GET.ND", b'{"seq": 1}')
    await no_direct_get(nc, "$JS.API.DIRECT.GET.NOPE", b'{"seq": 1}')
    await no_direct_get(nc, "$JS.API.DIRECT.GET.ND.nd", b"")
    if not REFERENCE:
        with pytest.raises(nats.errors.NoRespondersError):
            await js.get_msg("ND", seq=1, direct=True)


async def test_direct_get_with_nats_py(js):
    await js.add_stream(name="DG", subjects=["dg.>"], allow_direct=True)
    await js.publish("dg.a", b"first", headers={"H": "1"})
    await js.publish("dg.b", b"second")
    m = await js.get_msg("DG", seq=1, direct=True)
    assert (m.subject, m.seq, m.data) == ("dg.a", 1, b"first")
    m = await js.get_msg("DG", subject="dg.b", direct=True)
    assert (m.subject, m.seq, m.data) == ("dg.b", 2, b"second")
    with pytest.raises(nats.js.errors.NotFoundError):
        await js.get_msg("DG", subject="dg.none", direct=True)


async def test_update_enables_direct_get(nc):
    await create(nc, "E", subjects=["e"])
    await pub(nc, "e", b"v")
    await no_direct_get(nc, "$JS.API.DIRECT.GET.E", b'{"seq": 1}')
    r = await api(nc, "$JS.API.STREAM.UPDATE.E", {"name": "E", "subjects": ["e"],
                                                  "allow_direct": True})
    assert r["config"]["allow_direct"] is True
    msg = await nc.request("$JS.API.DIRECT.GET.E.e", b"", timeout=2)
    assert msg.data == b"v"
    assert msg.headers["Nats-Sequence"] == "1"


# ---------------------------------------------------------------- storage

@pytest.mark.parametrize("storage", ["file", "memory"])
async def test_storage_types_store_and_serve(js, storage):
    await js.add_stream(name="ST", subjects=["st.>"], storage=storage)
    payloads = [bytes([i]) * (i * 37 % 1000) for i in range(50)]
    for i, p in enumerate(payloads):
        ack = await js.publish(f"st.{i % 3}", p)
        assert ack.seq == i + 1
    si = await js.stream_info("ST")
    assert si.config.storage == storage
    assert si.state.messages == 50
    for seq in (1, 17, 50):
        m = await js.get_msg("ST", seq)
        assert (m.data or b"") == payloads[seq - 1]
        assert m.subject == f"st.{(seq - 1) % 3}"


# ---------------------------------------------------------------- limits

async def test_max_msgs_discard_old_evicts_oldest(nc):
    await create(nc, "L", subjects=["l"], max_msgs=3)
    for i in range(5):
        assert (await pub(nc, "l", b"%d" % i))["seq"] == i + 1
    st = await state(nc, "L")
    assert st["messages"] == 3 and st["first_seq"] == 3 and st["last_seq"] == 5


async def test_max_msgs_discard_new_refuses_without_using_a_sequence(nc):
    await create(nc, "L", subjects=["l.>"], max_msgs=2, discard="new")
    assert await pub(nc, "l.a", b"1") == {"stream": "L", "seq": 1}
    assert await pub(nc, "l.a", b"2") == {"stream": "L", "seq": 2}
    r = await pub(nc, "l.a", b"3")
    assert r == {"error": error(503, 10077, "maximum messages exceeded"),
                 "stream": "L", "seq": 0}
    st = await state(nc, "L")
    assert st["messages"] == 2 and st["last_seq"] == 2
    await api(nc, "$JS.API.STREAM.MSG.DELETE.L", {"seq": 1})
    assert await pub(nc, "l.a", b"4") == {"stream": "L", "seq": 3}


async def test_max_bytes_discard_new(nc):
    await create(nc, "LB", subjects=["lb.>"], max_bytes=100, discard="new")
    assert await pub(nc, "lb.a", b"x" * 40) == {"stream": "LB", "seq": 1}
    r = await pub(nc, "lb.a", b"x" * 40)
    assert r == {"error": error(503, 10077, "maximum bytes exceeded"),
                 "stream": "LB", "seq": 0}
    assert (await state(nc, "LB"))["messages"] == 1


async def test_max_bytes_discard_old_keeps_under_the_limit(nc):
    await create(nc, "LB", subjects=["lb"], max_bytes=1000)
    for i in range(30):
        assert (await pub(nc, "lb", b"%02d" % i + b"x" * 98))["seq"] == i + 1
    st = await state(nc, "LB")
    assert 0 < st["bytes"] <= 1000
    assert st["last_seq"] == 30
    assert st["messages"] == 30 - st["first_seq"] + 1
    assert 3 <= st["messages"] < 10


async def test_max_msgs_per_subject_keeps_newest(nc):
    await create(nc, "H", subjects=["h.>"], max_msgs_per_subject=2)
    for i in range(4):
        await pub(nc, "h.a", b"a%d" % i)
    await pub(nc, "h.b", b"b0")
    r = await info(nc, "H", {"subjects_filter": ">"})
    assert r["state"]["subjects"] == {"h.a": 2, "h.b": 1}
    assert r["state"]["messages"] == 3
    r = await api(nc, "$JS.API.STREAM.MSG.GET.H", {"seq": 2})
    assert r["error"]["err_code"] == 10037
    r = await api(nc, "$JS.API.STREAM.MSG.GET.H", {"seq": 3})
    assert base64.b64decode(r["message"]["data"]) == b"a2"


async def test_max_msgs_per_subject_with_discard_new_still_evicts(nc):
    # The KV layout: history with discard new keeps the newest revisions.
    await create(nc, "KVL", subjects=["kvl.>"], max_msgs_per_subject=2, discard="new")
    for i in range(3):
        assert (await pub(nc, "kvl.a", b"%d" % i))["seq"] == i + 1
    st = await state(nc, "KVL")
    assert st["messages"] == 2 and st["first_seq"] == 2 and st["last_seq"] == 3


async def test_discard_new_per_subject_refuses(nc):
    r = await create(nc, "KVN", subjects=["kvn.>"], max_msgs_per_subject=1, discard="new",
                     discard_new_per_subject=True)
    assert r["config"]["discard_new_per_subject"] is True
    assert await pub(nc, "kvn.a", b"1") == {"stream": "KVN", "seq": 1}
    r = await pub(nc, "kvn.a", b"2")
    assert r == {"error": error(503, 10077, "maximum messages per subject exceeded"),
                 "stream": "KVN", "seq": 0}
    assert await pub(nc, "kvn.b", b"3") == {"stream": "KVN", "seq": 2}


async def test_max_age_expires_messages(nc):
    await create(nc, "AGE", subjects=["age"], max_age=500_000_000)
    for i in range(3):
        await pub(nc, "age", b"%d" % i)
    assert (await state(nc, "AGE"))["messages"] == 3
    deadline = asyncio.get_running_loop().time() + 5
    while (s := await state(nc, "AGE"))["messages"] != 0:
        assert asyncio.get_running_loop().time() < deadline, s
        await asyncio.sleep(0.05)
    assert s["last_seq"] == 3 and s["first_seq"] == 4
    assert await pub(nc, "age") == {"stream": "AGE", "seq": 4}


async def test_max_msg_size_counts_headers_and_payload(nc):
    await create(nc, "MS", subjects=["ms"], max_msg_size=10)
    assert await pub(nc, "ms", b"0123456789") == {"stream": "MS", "seq": 1}
    expected = {"error": error(400, 10054, "message size exceeds maximum allowed"),
                "stream": "MS", "seq": 0}
    assert await pub(nc, "ms", b"01234567890") == expected
    assert await pub(nc, "ms", b"01234", headers={"A": "b"}) == expected
    assert await pub(nc, "ms", b"ok") == {"stream": "MS", "seq": 2}


async def test_max_consumers(nc, js):
    await create(nc, "MC", subjects=["mc"], max_consumers=1)
    await js.add_consumer("MC", durable_name="c1")
    r = await api(nc, "$JS.API.CONSUMER.CREATE.MC.c2",
                  {"stream_name": "MC", "config": {"name": "c2", "durable_name": "c2"}})
    assert r == {"type": T + "consumer_create_response",
                 "error": error(400, 10026, "maximum consumers limit reached")}
    await js.delete_consumer("MC", "c1")
    await js.add_consumer("MC", durable_name="c2")


async def test_deny_delete_and_deny_purge(nc):
    await create(nc, "DN", subjects=["dn"], deny_delete=True, deny_purge=True)
    await pub(nc, "dn")
    r = await api(nc, "$JS.API.STREAM.MSG.DELETE.DN", {"seq": 1})
    assert r == {"type": T + "stream_msg_delete_response",
                 "error": error(500, 10057, "message delete not permitted")}
    r = await api(nc, "$JS.API.STREAM.PURGE.DN")
    assert r["type"] == T + "stream_purge_response"
    assert r["error"] == error(500, 10110, "stream purge not permitted")
    assert (await state(nc, "DN"))["messages"] == 1


# ---------------------------------------------------------------- rollup

async def test_rollup_subject(nc):
    await create(nc, "RU", subjects=["ru.>"], allow_rollup_hdrs=True)
    for i in range(3):
        await pub(nc, "ru.a", b"a%d" % i)
    await pub(nc, "ru.b", b"b")
    r = await pub(nc, "ru.a", b"rolled", headers={"Nats-Rollup": "sub"})
    assert r == {"stream": "RU", "seq": 5}
    r = await info(nc, "RU", {"subjects_filter": ">"})
    assert r["state"]["subjects"] == {"ru.a": 1, "ru.b": 1}
    assert r["state"]["messages"] == 2 and r["state"]["last_seq"] == 5
    m = (await api(nc, "$JS.API.STREAM.MSG.GET.RU", {"last_by_subj": "ru.a"}))["message"]
    assert base64.b64decode(m["data"]) == b"rolled"
    assert base64.b64decode(m["hdrs"]) == b"NATS/1.0\r\nNats-Rollup: sub\r\n\r\n"


async def test_rollup_all(nc):
    await create(nc, "RA", subjects=["ra.>"], allow_rollup_hdrs=True)
    await pub(nc, "ra.a", b"1")
    await pub(nc, "ra.b", b"2")
    assert await pub(nc, "ra.c", b"3", headers={"Nats-Rollup": "all"}) == {"stream": "RA",
                                                                           "seq": 3}
    st = await state(nc, "RA")
    assert st["messages"] == 1 and st["first_seq"] == 3 and st["num_subjects"] == 1


async def test_rollup_not_permitted(nc):
    await create(nc, "NR", subjects=["nr"])
    await pub(nc, "nr", b"1")
    r = await pub(nc, "nr", b"2", headers={"Nats-Rollup": "sub"})
    assert r == {"error": error(500, 10111, "rollup not permitted"), "stream": "NR", "seq": 0}
    st = await state(nc, "NR")
    assert st["messages"] == 1 and st["last_seq"] == 1


async def test_rollup_with_a_bad_value_is_dropped_silently(nc):
    await create(nc, "RB", subjects=["rb"], allow_rollup_hdrs=True)
    await pub(nc, "rb", b"1")
    with pytest.raises(nats.errors.TimeoutError):
        await nc.request("rb", b"2", headers={"Nats-Rollup": "bogus"}, timeout=0.5)
    st = await state(nc, "RB")
    assert st["messages"] == 1 and st["last_seq"] == 1


# ---------------------------------------------------------------- retention

async def test_workqueue_removes_on_ack_and_allows_one_unfiltered_consumer(nc, js):
    await create(nc, "WQ", subjects=["wq.>"], retention="workqueue")
    sub = await js.pull_subscribe("wq.>", durable="w1", stream="WQ")
    r = await api(nc, "$JS.API.CONSUMER.CREATE.WQ.w2",
                  {"stream_name": "WQ", "config": {"name": "w2", "durable_name": "w2",
                                                   "ack_policy": "explicit"}})
    assert r == {"type": T + "consumer_create_response",
                 "error": error(400, 10099,
                                "multiple non-filtered consumers not allowed on workqueue stream")}
    r = await api(nc, "$JS.API.CONSUMER.CREATE.WQ.w3",
                  {"stream_name": "WQ", "config": {"name": "w3", "durable_name": "w3",
                                                   "ack_policy": "none",
                                                   "filter_subject": "wq.x"}})
    assert r["error"] == error(400, 10084, "consumer in pull mode requires ack policy")
    await js.publish("wq.a", b"job1")
    await js.publish("wq.b", b"job2")
    msgs = await sub.fetch(1, timeout=2)
    assert msgs[0].data == b"job1"
    await msgs[0].ack_sync()
    st = await state(nc, "WQ")
    assert st["messages"] == 1 and st["first_seq"] == 2 and st["last_seq"] == 2


async def test_workqueue_filtered_consumers_share_the_stream(nc, js):
    await create(nc, "WQ", subjects=["wq.>"], retention="workqueue")
    a = await js.pull_subscribe("wq.a", durable="wa", stream="WQ")
    b = await js.pull_subscribe("wq.b", durable="wb", stream="WQ")
    await js.publish("wq.a", b"for a")
    await js.publish("wq.b", b"for b")
    ma = await a.fetch(1, timeout=2)
    mb = await b.fetch(1, timeout=2)
    assert ma[0].data == b"for a" and mb[0].data == b"for b"
    await ma[0].ack_sync()
    await mb[0].ack_sync()
    assert (await state(nc, "WQ"))["messages"] == 0


async def test_interest_retention_without_consumers_keeps_nothing(nc):
    await create(nc, "IN", subjects=["in.>"], retention="interest")
    assert await pub(nc, "in.a") == {"stream": "IN", "seq": 1}
    st = await state(nc, "IN")
    assert st["messages"] == 0 and st["last_seq"] == 1 and st["first_seq"] == 2


async def test_interest_retention_removes_once_every_consumer_acked(nc, js):
    await create(nc, "IN", subjects=["in.>"], retention="interest")
    c1 = await js.pull_subscribe("in.>", durable="c1", stream="IN")
    c2 = await js.pull_subscribe("in.>", durable="c2", stream="IN")
    await js.publish("in.a", b"m")
    assert (await state(nc, "IN"))["messages"] == 1
    m = (await c1.fetch(1, timeout=2))[0]
    await m.ack_sync()
    assert (await state(nc, "IN"))["messages"] == 1
    m = (await c2.fetch(1, timeout=2))[0]
    await m.ack_sync()
    st = await state(nc, "IN")
    assert st["messages"] == 0 and st["last_seq"] == 1
