"""50 nats-server 2.10's consumer create "action" and a stream's
"consumer_limits".

action "create" refuses an existing consumer whose config differs (10148)
and returns it unchanged when the config is the same; "update" refuses a
consumer that does not exist (10149); no action creates or updates, as
before. consumer_limits {inactive_threshold, max_ack_pending} are the
defaults of the stream's consumers and the most one may ask (10121,
10153). 2.9.10 ignores both keys, so these are Tern's (2.10 behaviour).
"""

import pytest

from conftest import REFERENCE, js_api as api

pytestmark = pytest.mark.skipif(REFERENCE, reason="2.10 feature; nats-server 2.9.10 "
                                "ignores action and consumer_limits")


@pytest.fixture
async def nc(js_server, nats_connect):
    nc = await nats_connect(js_server)
    r = await api(nc, "$JS.API.STREAM.CREATE.S", {"name": "S", "subjects": ["s.>"]})
    assert "error" not in r, r
    return nc


def create(name, action=None, **cfg):
    body = {"stream_name": "S", "config": {"durable_name": name, "ack_policy": "explicit",
                                           **cfg}}
    if action is not None:
        body["action"] = action
    return f"$JS.API.CONSUMER.CREATE.S.{name}", body


async def test_action_create(nc):
    r = await api(nc, *create("d", "create"))
    assert r["config"]["durable_name"] == "d", r
    # The same config again: the consumer as it is.
    r = await api(nc, *create("d", "create"))
    assert "error" not in r, r
    r = await api(nc, *create("d", "create", description="other"))
    assert r["error"] == {"code": 400, "err_code": 10148,
                          "description": "consumer already exists"}
    # Without an action the same request updates it.
    r = await api(nc, *create("d", description="other"))
    assert r["config"]["description"] == "other", r


async def test_action_update(nc):
    r = await api(nc, *create("u", "update"))
    assert r["error"] == {"code": 400, "err_code": 10149,
                          "description": "consumer does not exist"}
    names = await api(nc, "$JS.API.CONSUMER.NAMES.S")
    assert names["consumers"] == []
    await api(nc, *create("u"))
    r = await api(nc, *create("u", "update", description="new"))
    assert r["config"]["description"] == "new", r


async def test_unknown_action_is_invalid_json(nc):
    r = await api(nc, *create("x", "upsert"))
    assert r["error"]["err_code"] == 10025, r


async def test_consumer_limits(nc):
    r = await api(nc, "$JS.API.STREAM.CREATE.L", {
        "name": "L", "subjects": ["l.>"],
        "consumer_limits": {"inactive_threshold": 5_000_000_000, "max_ack_pending": 10}})
    assert r["config"]["consumer_limits"] == {"inactive_threshold": 5_000_000_000,
                                              "max_ack_pending": 10}, r

    def body(**cfg):
        return {"stream_name": "L", "config": {"ack_policy": "explicit", **cfg}}

    # The defaults of a consumer that sets neither.
    r = await api(nc, "$JS.API.CONSUMER.CREATE.L.c1", body(name="c1"))
    assert (r["config"]["max_ack_pending"], r["config"]["inactive_threshold"]) == (
        10, 5_000_000_000), r
    # Within the limits: as asked.
    r = await api(nc, "$JS.API.CONSUMER.CREATE.L.c2",
                  body(name="c2", max_ack_pending=5, inactive_threshold=1_000_000_000))
    assert (r["config"]["max_ack_pending"], r["config"]["inactive_threshold"]) == (
        5, 1_000_000_000), r
    r = await api(nc, "$JS.API.CONSUMER.CREATE.L.c3", body(name="c3", max_ack_pending=11))
    assert r["error"] == {"code": 400, "err_code": 10121, "description":
                          "consumer max ack pending exceeds system limit of 10"}
    r = await api(nc, "$JS.API.CONSUMER.CREATE.L.c4",
                  body(name="c4", inactive_threshold=90_000_000_000))
    assert r["error"] == {"code": 400, "err_code": 10153, "description":
                          "consumer inactive threshold exceeds system limit of 5s"}
    # A stream without them echoes none (2.9 clients see the config they know).
    info = await api(nc, "$JS.API.STREAM.INFO.S")
    assert "consumer_limits" not in info["config"]
