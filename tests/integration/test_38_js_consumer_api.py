"""38 the consumer API: the four create forms and which consumers are
durable, the defaults the server fills in, create errors with their codes
and texts (a missing stream before any config rule), create-again
(identical / update / refused; a bound push consumer keeps its deliver
subject, so of clients racing to bind one durable exactly one wins), info,
names, list, delete, and nats-py's add_consumer / consumers_info /
delete_consumer.

spec/jetstream.md §8.1, §8.2, §8.3, §8.10, §3.1.
"""

import asyncio
import re

import nats.errors
import nats.js.errors
import pytest
from nats.js.api import AckPolicy, ConsumerConfig

from conftest import REFERENCE, js_api as api

T = "io.nats.jetstream.api.v1."
TS_RE = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z"


def error(code, err_code, description):
    return {"code": code, "err_code": err_code, "description": description}




@pytest.fixture
async def nc(js_server, nats_connect):
    """Stream EV (ev.>) with ev.a x3 and ev.b x2."""
    nc = await nats_connect(js_server)
    r = await api(nc, "$JS.API.STREAM.CREATE.EV", {"name": "EV", "subjects": ["ev.>"]})
    assert "error" not in r, r
    for s in ("ev.a", "ev.b", "ev.a", "ev.b", "ev.a"):
        await nc.request(s, b"m", timeout=2)
    return nc


@pytest.fixture
def js(nc):
    return nc.jetstream()


def fresh_state(r, num_pending):
    assert r["delivered"] == {"consumer_seq": 0, "stream_seq": 0}
    assert r["ack_floor"] == {"consumer_seq": 0, "stream_seq": 0}
    assert (r["num_ack_pending"], r["num_redelivered"], r["num_waiting"],
            r["num_pending"]) == (0, 0, 0, num_pending)


# ---------------------------------------------------------------- create forms

async def test_durable_create_legacy_form(nc):
    r = await api(nc, "$JS.API.CONSUMER.DURABLE.CREATE.EV.D1",
                  {"stream_name": "EV", "config": {"durable_name": "D1",
                                                   "ack_policy": "explicit",
                                                   "deliver_policy": "all"}})
    assert r["type"] == T + "consumer_create_response"
    assert (r["stream_name"], r["name"]) == ("EV", "D1")
    assert re.fullmatch(TS_RE, r["created"])
    assert r["config"] == {"durable_name": "D1", "deliver_policy": "all",
                           "ack_policy": "explicit", "ack_wait": 30000000000,
                           "max_deliver": -1, "replay_policy": "instant", "max_waiting": 512,
                           "max_ack_pending": 1000, "num_replicas": 0}
    fresh_state(r, 5)


async def test_named_create_form_durable(nc):
    r = await api(nc, "$JS.API.CONSUMER.CREATE.EV.C2",
                  {"stream_name": "EV", "config": {"name": "C2", "durable_name": "C2",
                                                   "ack_policy": "explicit"}})
    assert r["name"] == "C2"
    assert r["config"] == {"durable_name": "C2", "name": "C2", "deliver_policy": "all",
                           "ack_policy": "explicit", "ack_wait": 30000000000,
                           "max_deliver": -1, "replay_policy": "instant", "max_waiting": 512,
                           "max_ack_pending": 1000, "num_replicas": 0}
    fresh_state(r, 5)


async def test_named_create_with_filter_form_is_ephemeral_without_durable(nc):
    r = await api(nc, "$JS.API.CONSUMER.CREATE.EV.C3.ev.a",
                  {"stream_name": "EV", "config": {"name": "C3", "filter_subject": "ev.a",
                                                   "ack_policy": "explicit"}})
    assert r["config"] == {"name": "C3", "deliver_policy": "all", "ack_policy": "explicit",
                           "ack_wait": 30000000000, "max_deliver": -1,
                           "filter_subject": "ev.a", "replay_policy": "instant",
                           "max_waiting": 512, "max_ack_pending": 1000,
                           "inactive_threshold": 5000000000, "num_replicas": 0}
    fresh_state(r, 3)


async def test_ephemeral_create_gets_a_generated_name(nc):
    r = await api(nc, "$JS.API.CONSUMER.CREATE.EV",
                  {"stream_name": "EV", "config": {"ack_policy": "explicit"}})
    assert re.fullmatch(r"[A-Za-z0-9]{4,}", r["name"]), r["name"]
    assert r["config"] == {"deliver_policy": "all", "ack_policy": "explicit",
                           "ack_wait": 30000000000, "max_deliver": -1,
                           "replay_policy": "instant", "max_waiting": 512,
                           "max_ack_pending": 1000, "inactive_threshold": 5000000000,
                           "num_replicas": 0}
    r2 = await api(nc, "$JS.API.CONSUMER.CREATE.EV",
                   {"stream_name": "EV", "config": {"ack_policy": "explicit"}})
    assert r2["name"] != r["name"]


async def test_ephemeral_create_with_a_name_in_the_body(nc):
    r = await api(nc, "$JS.API.CONSUMER.CREATE.EV",
                  {"stream_name": "EV", "config": {"name": "X2"}})
    assert r["name"] == "X2"
    assert r["config"]["inactive_threshold"] == 5000000000
    assert r["config"]["ack_policy"] == "none"
    assert "ack_wait" not in r["config"] and "max_ack_pending" not in r["config"]


async def test_subject_name_wins_over_a_different_body_name(nc):
    r = await api(nc, "$JS.API.CONSUMER.CREATE.EV.C5",
                  {"stream_name": "EV", "config": {"name": "OTHER"}})
    assert r["name"] == "C5" and r["config"]["name"] == "C5"


async def test_push_create_defaults(nc):
    r = await api(nc, "$JS.API.CONSUMER.CREATE.EV.P1",
                  {"stream_name": "EV", "config": {"name": "P1", "durable_name": "P1",
                                                   "deliver_subject": "push.p1",
                                                   "ack_policy": "explicit",
                                                   "idle_heartbeat": 1000000000,
                                                   "flow_control": True}})
    assert r["config"] == {"durable_name": "P1", "name": "P1", "deliver_policy": "all",
                           "ack_policy": "explicit", "ack_wait": 30000000000,
                           "max_deliver": -1, "replay_policy": "instant",
                           "max_ack_pending": 1000, "idle_heartbeat": 1000000000,
                           "flow_control": True, "deliver_subject": "push.p1",
                           "num_replicas": 0}


async def test_create_ignores_unknown_config_fields(nc):
    r = await api(nc, "$JS.API.CONSUMER.CREATE.EV.NEWER",
                  {"stream_name": "EV", "config": {"name": "NEWER", "durable_name": "NEWER",
                                                   "ack_policy": "explicit",
                                                   "priority_groups": ["x"],
                                                   "some_future_field": {"a": 1}},
                   "action": "", "pedantic": False})
    assert "error" not in r, r
    assert "some_future_field" not in r["config"]


# ---------------------------------------------------------------- create errors

CREATE_ERRORS = [
    ("CONSUMER.CREATE.EV.C4.ev.b", {"stream_name": "EV", "config": {"name": "C4",
                                                                    "filter_subject": "ev.a"}},
     error(400, 10131, "Consumer create request did not match filtered subject from "
                       "create subject")),
    ("CONSUMER.DURABLE.CREATE.EV.D9", {"stream_name": "EV", "config": {"durable_name": "D8"}},
     error(400, 10017, "consumer name in subject does not match durable name in request")),
    ("CONSUMER.DURABLE.CREATE.EV.D7", {"stream_name": "EV",
                                       "config": {"ack_policy": "explicit"}},
     error(400, 10018, "consumer expected to be durable but a durable name was not set")),
    ("CONSUMER.CREATE.EV", {"stream_name": "EV", "config": {"durable_name": "X1"}},
     error(400, 10020, "consumer expected to be ephemeral but a durable name was set in "
                       "request")),
    ("CONSUMER.CREATE.EV.C6", {"stream_name": "XX", "config": {"name": "C6"}},
     error(400, 10056, "stream name in subject does not match request")),
    ("CONSUMER.CREATE.NOPE.C6", {"stream_name": "NOPE", "config": {"name": "C6"}},
     error(404, 10059, "stream not found")),
    ("CONSUMER.CREATE.EV.C7", {"stream_name": "EV", "config": {"name": "C7",
                                                               "filter_subject": "zz.>"}},
     error(400, 10093, "consumer filter subject is not a valid subset of the interest "
                       "subjects")),
    ("CONSUMER.CREATE.EV.C8", b"{",
     error(400, 10025, "invalid JSON")),
    ("CONSUMER.CREATE.EV.P3", {"stream_name": "EV", "config": {"name": "P3",
                                                               "idle_heartbeat": 1000000000}},
     error(400, 10088, "consumer idle heartbeat requires a push based consumer")),
    ("CONSUMER.CREATE.EV.P2", {"stream_name": "EV", "config": {"name": "P2",
                                                               "deliver_subject": "push.p2",
                                                               "flow_control": True}},
     error(400, 10108, "consumer with flow control also needs heartbeats")),
    ("CONSUMER.CREATE.EV.BO2", {"stream_name": "EV",
                                "config": {"name": "BO2", "ack_policy": "explicit",
                                           "backoff": [1000000000, 2000000000],
                                           "max_deliver": 2}},
     error(400, 10116, "max deliver is required to be > length of backoff values")),
    ("CONSUMER.CREATE.EV.C9", {"stream_name": "EV",
                               "config": {"name": "C9", "deliver_policy": "by_start_sequence"}},
     error(400, 10094, "consumer delivery policy is deliver by start sequence, but optional "
                       "start sequence is not set")),
    ("CONSUMER.CREATE.EV.BT", {"stream_name": "EV",
                               "config": {"name": "BT", "deliver_policy": "by_start_time"}},
     error(400, 10094, "consumer delivery policy is deliver by start time, but optional "
                       "start time is not set")),
    ("CONSUMER.CREATE.EV.NT", {"stream_name": "EV",
                               "config": {"name": "NT", "deliver_policy": "new",
                                          "opt_start_time": "2020-01-01T00:00:00Z"}},
     error(400, 10094, "consumer delivery policy is deliver new, but optional start time "
                       "is also set")),
    ("CONSUMER.CREATE.EV.X1", {"stream_name": "EV",
                               "config": {"name": "X1", "durable_name": "X2"}},
     error(400, 10017, "consumer name in subject does not match durable name in request")),
    ("CONSUMER.CREATE.EV.PM", {"stream_name": "EV",
                               "config": {"name": "PM", "deliver_subject": "pm.x",
                                          "max_waiting": 3}},
     error(400, 10080, "consumer in push mode can not set max waiting")),
    ("CONSUMER.CREATE.EV.HS", {"stream_name": "EV",
                               "config": {"name": "HS", "deliver_subject": "hs.x",
                                          "idle_heartbeat": 10_000_000}},
     error(400, 10083, "consumer idle heartbeat needs to be >= 100ms")),
    ("CONSUMER.CREATE.EV.DC", {"stream_name": "EV",
                               "config": {"name": "DC", "deliver_subject": "ev.loop"}},
     error(400, 10081, "consumer deliver subject forms a cycle")),
    ("CONSUMER.CREATE.EV.R3", {"stream_name": "EV",
                               "config": {"name": "R3", "num_replicas": 3}},
     error(500, 10074, "replicas > 1 not supported in non-clustered mode")),
]


@pytest.mark.parametrize("subject,body,expected", CREATE_ERRORS,
                         ids=[f'{e["err_code"]}-{s.split(".")[-1]}' for s, _, e in CREATE_ERRORS])
async def test_create_errors_exactly(nc, subject, body, expected):
    r = await api(nc, "$JS.API." + subject, body)
    assert r == {"type": T + "consumer_create_response", "error": expected}
    names = await api(nc, "$JS.API.CONSUMER.NAMES.EV")
    assert names["total"] == 0


async def test_backoff_sets_ack_wait(nc):
    r = await api(nc, "$JS.API.CONSUMER.CREATE.EV.BO",
                  {"stream_name": "EV", "config": {"name": "BO", "ack_policy": "explicit",
                                                   "backoff": [1000000000, 2000000000],
                                                   "max_deliver": 5}})
    assert r["config"]["backoff"] == [1000000000, 2000000000]
    assert r["config"]["ack_wait"] == 1000000000


# ---------------------------------------------------------------- create again

async def test_create_again_identical_returns_the_same_consumer(nc):
    body = {"stream_name": "EV", "config": {"durable_name": "D1", "ack_policy": "explicit",
                                            "deliver_policy": "all"}}
    first = await api(nc, "$JS.API.CONSUMER.DURABLE.CREATE.EV.D1", body)
    again = await api(nc, "$JS.API.CONSUMER.DURABLE.CREATE.EV.D1", body)
    assert "error" not in again
    assert again["created"] == first["created"] and again["config"] == first["config"]


async def test_create_again_updates_updatable_fields(nc):
    await api(nc, "$JS.API.CONSUMER.CREATE.EV.U",
              {"stream_name": "EV", "config": {"name": "U", "durable_name": "U",
                                               "ack_policy": "explicit"}})
    r = await api(nc, "$JS.API.CONSUMER.CREATE.EV.U",
                  {"stream_name": "EV", "config": {"name": "U", "durable_name": "U",
                                                   "ack_policy": "explicit",
                                                   "max_ack_pending": 5, "description": "hi",
                                                   "ack_wait": 10000000000, "max_deliver": 9}})
    assert "error" not in r, r
    c = r["config"]
    assert (c["max_ack_pending"], c["description"], c["ack_wait"], c["max_deliver"]) == \
        (5, "hi", 10000000000, 9)
    info = await api(nc, "$JS.API.CONSUMER.INFO.EV.U")
    assert info["config"]["description"] == "hi"


@pytest.mark.parametrize("change,description", [
    ({"ack_policy": "none"}, "ack policy can not be updated"),
    ({"deliver_policy": "new"}, "deliver policy can not be updated"),
    ({"replay_policy": "original"}, "replay policy can not be updated"),
    ({"max_waiting": 10}, "max waiting can not be updated"),
    # pull -> push: 2.9.10 happens to name max_waiting here too
    ({"deliver_subject": "now.push"}, None),
])
async def test_create_again_refuses_other_changes(nc, change, description):
    base = {"name": "U", "durable_name": "U", "ack_policy": "explicit"}
    await api(nc, "$JS.API.CONSUMER.CREATE.EV.U", {"stream_name": "EV", "config": base})
    r = await api(nc, "$JS.API.CONSUMER.CREATE.EV.U",
                  {"stream_name": "EV", "config": {**base, **change}})
    assert r["error"]["code"] == 500 and r["error"]["err_code"] == 10012, r
    assert set(r["error"]) == {"code", "err_code", "description"}
    if description:
        assert r["error"]["description"] == description


async def test_ack_policy_change_error_text(nc):
    body = {"stream_name": "EV", "config": {"durable_name": "D1", "ack_policy": "explicit"}}
    await api(nc, "$JS.API.CONSUMER.DURABLE.CREATE.EV.D1", body)
    body["config"]["ack_policy"] = "none"
    r = await api(nc, "$JS.API.CONSUMER.DURABLE.CREATE.EV.D1", body)
    assert r == {"type": T + "consumer_create_response",
                 "error": error(500, 10012, "ack policy can not be updated")}


# ---------------------------------------------------------------- info / names / list / delete

async def test_info_and_its_errors(nc):
    await api(nc, "$JS.API.CONSUMER.CREATE.EV.C1",
              {"stream_name": "EV", "config": {"name": "C1", "durable_name": "C1"}})
    r = await api(nc, "$JS.API.CONSUMER.INFO.EV.C1")
    assert r["type"] == T + "consumer_info_response"
    assert (r["stream_name"], r["name"]) == ("EV", "C1")
    fresh_state(r, 5)
    r = await api(nc, "$JS.API.CONSUMER.INFO.EV.C1", b"{}")       # a body is ignored
    assert r["name"] == "C1"
    r = await api(nc, "$JS.API.CONSUMER.INFO.EV.NOPE")
    assert r == {"type": T + "consumer_info_response",
                 "error": error(404, 10014, "consumer not found")}
    r = await api(nc, "$JS.API.CONSUMER.INFO.NOPE.C1")
    assert r == {"type": T + "consumer_info_response",
                 "error": error(404, 10059, "stream not found")}


async def test_names_sorted_and_paged(nc):
    for name in ("c3", "a1", "b2"):
        await api(nc, f"$JS.API.CONSUMER.CREATE.EV.{name}",
                  {"stream_name": "EV", "config": {"name": name, "durable_name": name}})
    r = await api(nc, "$JS.API.CONSUMER.NAMES.EV")
    assert r == {"type": T + "consumer_names_response", "total": 3, "offset": 0,
                 "limit": 1024, "consumers": ["a1", "b2", "c3"]}
    r = await api(nc, "$JS.API.CONSUMER.NAMES.EV", {"offset": 1})
    assert r["consumers"] == ["b2", "c3"] and r["offset"] == 1 and r["total"] == 3
    r = await api(nc, "$JS.API.CONSUMER.NAMES.NOPE")
    assert r["error"]["err_code"] == 10059


async def test_names_empty(nc):
    r = await api(nc, "$JS.API.CONSUMER.NAMES.EV")
    assert r["total"] == 0 and r["consumers"] in ([], None)


async def test_list(nc, js):
    for name in ("b", "a"):
        await api(nc, f"$JS.API.CONSUMER.CREATE.EV.{name}",
                  {"stream_name": "EV", "config": {"name": name, "durable_name": name,
                                                   "ack_policy": "explicit"}})
    r = await api(nc, "$JS.API.CONSUMER.LIST.EV")
    assert r["type"] == T + "consumer_list_response"
    assert (r["total"], r["offset"], r["limit"]) == (2, 0, 256)
    assert [c["name"] for c in r["consumers"]] == ["a", "b"]
    assert all("type" not in c and c["stream_name"] == "EV" for c in r["consumers"])
    assert r["consumers"][0]["num_pending"] == 5
    infos = await js.consumers_info("EV")
    assert sorted(i.name for i in infos) == ["a", "b"]
    r = await api(nc, "$JS.API.CONSUMER.LIST.EV", {"offset": 1})
    assert (r["total"], r["offset"]) == (2, 1)
    assert [c["name"] for c in r["consumers"]] == ["b"]


async def test_delete(nc, js):
    await api(nc, "$JS.API.CONSUMER.CREATE.EV.C2",
              {"stream_name": "EV", "config": {"name": "C2", "durable_name": "C2"}})
    r = await api(nc, "$JS.API.CONSUMER.DELETE.EV.C2")
    assert r == {"type": T + "consumer_delete_response", "success": True}
    r = await api(nc, "$JS.API.CONSUMER.DELETE.EV.C2")
    assert r == {"type": T + "consumer_delete_response",
                 "error": error(404, 10014, "consumer not found")}
    r = await api(nc, "$JS.API.CONSUMER.DELETE.NOPE.C2")
    assert r["error"]["err_code"] == 10059
    await api(nc, "$JS.API.CONSUMER.CREATE.EV.C3",
              {"stream_name": "EV", "config": {"name": "C3", "durable_name": "C3"}})
    r = await api(nc, "$JS.API.CONSUMER.DELETE.EV.C3", b"{}")
    assert r["success"] is True
    si = await api(nc, "$JS.API.STREAM.INFO.EV")
    assert si["state"]["consumer_count"] == 0


async def test_stream_info_counts_consumers(nc, js):
    await js.add_consumer("EV", durable_name="one")
    await js.add_consumer("EV", durable_name="two", deliver_subject="push.two")
    si = await js.stream_info("EV")
    assert si.state.consumer_count == 2


# ---------------------------------------------------------------- nats-py

async def test_nats_py_add_consumer_and_delete(js):
    ci = await js.add_consumer("EV", ConsumerConfig(durable_name="pyd",
                                                    filter_subject="ev.b",
                                                    ack_policy=AckPolicy.EXPLICIT,
                                                    max_deliver=3, ack_wait=2.5,
                                                    description="from python"))
    assert ci.name == "pyd" and ci.stream_name == "EV"
    assert ci.config.durable_name == "pyd"
    assert ci.config.filter_subject == "ev.b"
    assert ci.config.max_deliver == 3 and ci.config.ack_wait == 2.5
    assert ci.config.description == "from python"
    assert ci.num_pending == 2
    ci = await js.consumer_info("EV", "pyd")
    assert ci.num_pending == 2
    assert await js.delete_consumer("EV", "pyd") is True
    with pytest.raises(nats.js.errors.NotFoundError) as e:
        await js.consumer_info("EV", "pyd")
    assert e.value.err_code == 10014
    with pytest.raises(nats.js.errors.NotFoundError):
        await js.delete_consumer("EV", "pyd")


async def test_nats_py_error_classes(js):
    with pytest.raises(nats.js.errors.NotFoundError) as e:
        await js.add_consumer("NOPE", ConsumerConfig(durable_name="x"))
    assert e.value.err_code == 10059
    with pytest.raises(nats.js.errors.BadRequestError) as e:
        await js.add_consumer("EV", ConsumerConfig(durable_name="x", filter_subject="zz"))
    assert e.value.err_code == 10093


# ---------------------------------------------------------------- missing stream

NOPE = {"stream_name": "NOPE"}


@pytest.mark.parametrize("subject,config,expected", [
    # The config rules run after the stream lookup (2.9.10): 10059 first.
    ("CONSUMER.CREATE.NOPE", {"deliver_subject": "a.*"}, 10059),
    ("CONSUMER.CREATE.NOPE", {"ack_policy": "explicit", "backoff": [1, 2], "max_deliver": 1},
     10059),
    ("CONSUMER.CREATE.NOPE", {"deliver_policy": "by_start_sequence"}, 10059),
    ("CONSUMER.CREATE.NOPE", {"num_replicas": -1}, 10059),
    ("CONSUMER.CREATE.NOPE", {"flow_control": True}, 10059),
    ("CONSUMER.CREATE.NOPE", {"sample_freq": "x"}, 10059),
    ("CONSUMER.CREATE.NOPE", {"max_waiting": -1}, 10059),
    ("CONSUMER.CREATE.NOPE", {"deliver_subject": "dx", "max_waiting": 3}, 10059),
    ("CONSUMER.CREATE.NOPE.x", {"durable_name": "x", "name": "y"}, 10059),
    ("CONSUMER.CREATE.NOPE.x", {"description": "d" * 5000}, 10059),
    ("CONSUMER.DURABLE.CREATE.NOPE.a", {"durable_name": "a", "inactive_threshold": -1,
                                        "deliver_policy": "last_per_subject"}, 10059),
    # One token after the name is not a filter in 2.9.10 (it needs two).
    ("CONSUMER.CREATE.NOPE.x.f", {"filter_subject": "g"}, 10059),
    # The request's own checks come before it.
    ("CONSUMER.CREATE.NOPE", {"durable_name": "a"}, 10020),
    ("CONSUMER.CREATE.NOPE.x.f.g", {"filter_subject": "g"}, 10131),
    ("CONSUMER.DURABLE.CREATE.NOPE.a", {"durable_name": "b"}, 10017),
    ("CONSUMER.DURABLE.CREATE.NOPE.a", {}, 10018),
    ("CONSUMER.CREATE.NOPE", {"ack_policy": 7}, 10025),
    ("CONSUMER.CREATE.NOPE", {"num_replicas": 3}, 10074),   # standalone server
])
async def test_missing_stream_answers_before_config_rules(nc, subject, config, expected):
    r = await api(nc, "$JS.API." + subject, dict(NOPE, config=config))
    assert r["error"]["err_code"] == expected, r


async def test_one_token_after_the_name_is_not_a_filter(nc):
    r = await api(nc, "$JS.API.CONSUMER.CREATE.EV.OT.f",
                  {"stream_name": "EV", "config": {"filter_subject": "ev.a"}})
    assert (r["name"], r["config"]["filter_subject"]) == ("OT", "ev.a"), r
    r = await api(nc, "$JS.API.CONSUMER.CREATE.EV.OU.ev",
                  {"stream_name": "EV", "config": {}})
    assert r["name"] == "OU" and "filter_subject" not in r["config"], r


# ---------------------------------------------------------------- bound push consumers

def push(name, deliver, durable=True, **over):
    cfg = {"ack_policy": "explicit", "deliver_subject": deliver}
    cfg["durable_name" if durable else "name"] = name
    cfg.update(over)
    return {"stream_name": "EV", "config": cfg}


IN_USE = error(400, 10013, "consumer name already in use")


async def test_bound_push_consumer_keeps_its_deliver_subject(nc):
    create = "$JS.API.CONSUMER.CREATE.EV.D"
    r = await api(nc, create, push("D", "dx"))
    assert r["config"]["deliver_subject"] == "dx"
    # Nobody listens on dx: the subject may move.
    r = await api(nc, create, push("D", "dy"))
    assert r["config"]["deliver_subject"] == "dy", r
    sub = await nc.subscribe("dy")
    await nc.flush()
    r = await api(nc, create, push("D", "dz"))
    assert r["error"] == IN_USE
    r = await api(nc, "$JS.API.CONSUMER.DURABLE.CREATE.EV.D", push("D", "dz"))
    assert r["error"] == IN_USE
    r = await api(nc, create, push("D", "dz", max_deliver=5))
    assert r["error"] == IN_USE
    # The other "can not be updated" checks come first, as in 2.9.10.
    r = await api(nc, create, push("D", "dz", ack_policy="all"))
    assert r["error"] == error(500, 10012, "ack policy can not be updated")
    # The same subject: an update, or nothing at all.
    r = await api(nc, create, push("D", "dy"))
    assert r["config"]["deliver_subject"] == "dy"
    r = await api(nc, create, push("D", "dy", max_deliver=5))
    assert (r["config"]["deliver_subject"], r["config"]["max_deliver"]) == ("dy", 5)
    # Once nobody listens, it may move again.
    await sub.unsubscribe()
    await nc.flush()
    r = await api(nc, create, push("D", "dz", max_deliver=5))
    assert r["config"]["deliver_subject"] == "dz", r


async def test_queue_subscribers_and_named_ephemerals_bind_too(nc):
    await nc.subscribe("dq", queue="g")
    await nc.subscribe("de")
    await nc.flush()
    r = await api(nc, "$JS.API.CONSUMER.CREATE.EV.Q", push("Q", "dq", deliver_group="g"))
    assert "error" not in r, r
    r = await api(nc, "$JS.API.CONSUMER.CREATE.EV.Q", push("Q", "dq2", deliver_group="g"))
    assert r["error"] == IN_USE
    r = await api(nc, "$JS.API.CONSUMER.CREATE.EV.E", push("E", "de", durable=False))
    assert "error" not in r, r
    r = await api(nc, "$JS.API.CONSUMER.CREATE.EV.E", push("E", "de2", durable=False))
    assert r["error"] == IN_USE


async def test_clients_racing_to_bind_one_durable_exactly_one_wins(js_server, nats_connect, nc):
    # Each client listens on its own deliver subject, then asks for the
    # durable with it: the first create wins, and then its subject is
    # bound, so every other one is 10013. (nats-py's js.subscribe creates
    # before it subscribes, so it cannot bind a race this way, against
    # nats-server either.)
    conns = [await nats_connect(js_server) for _ in range(6)]
    subs = []
    for i, c in enumerate(conns):
        subs.append(await c.subscribe(f"dlv.{i}"))
        await c.flush()
    results = await asyncio.gather(*(
        api(c, "$JS.API.CONSUMER.CREATE.EV.RACE", push("RACE", f"dlv.{i}"))
        for i, c in enumerate(conns)))
    won = [i for i, r in enumerate(results) if "error" not in r]
    assert len(won) == 1, results
    assert all(r["error"] == IN_USE for i, r in enumerate(results) if i != won[0]), results
    info = await api(nc, "$JS.API.CONSUMER.INFO.EV.RACE")
    assert info["config"]["deliver_subject"] == f"dlv.{won[0]}"
    # The winner gets the stream's five messages; nobody else gets any.
    for _ in range(5):
        await subs[won[0]].next_msg(timeout=2)
    for i, sub in enumerate(subs):
        if i != won[0]:
            with pytest.raises(nats.errors.TimeoutError):
                await sub.next_msg(timeout=0.05)
