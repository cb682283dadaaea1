"""42 JetStream domain: `jetstream { domain: hub }`.

As nats-server 2.9: the API answers on $JS.hub.API.> as well as on
$JS.API.>, which is how nats-py's `jetstream(domain="hub")` addresses it;
another domain's API has no responders; INFO, the $JS.API.INFO answer,
/varz and /jsz name the domain; a domain that would not make a plain
subject is refused. Passes against nats-server too.
"""

import json

import nats
import pytest

from conftest import REFERENCE, free_port, run_binary


def start_domain(server_factory, tmp_path, domain="hub"):
    cfg = f'jetstream {{ store_dir: "{tmp_path}/js", domain: "{domain}" }}\n'
    return server_factory.start(config=cfg, monitor=True)


async def test_nats_py_through_the_domain(server_factory, tmp_path, nats_connect):
    srv = start_domain(server_factory, tmp_path)
    nc = await nats_connect(srv)
    js = nc.jetstream(domain="hub")
    await js.add_stream(name="ORDERS", subjects=["orders.>"])
    for i in range(3):
        ack = await js.publish("orders.new", f"o{i}".encode())
        assert ack.stream == "ORDERS" and ack.seq == i + 1
    sub = await js.pull_subscribe("orders.>", durable="worker", stream="ORDERS")
    msgs = await sub.fetch(3, timeout=3)
    assert [m.data for m in msgs] == [b"o0", b"o1", b"o2"]
    for m in msgs:
        await m.ack_sync(timeout=3)
    info = await js.consumer_info("ORDERS", "worker")
    assert info.ack_floor.stream_seq == 3 and info.num_pending == 0
    # Key-Value through the domain.
    kv = await js.create_key_value(bucket="cfg")
    rev = await kv.put("colour", b"blue")
    assert (await kv.get("colour")).value == b"blue" and rev == 1
    # The same state through the plain API.
    plain = nc.jetstream()
    assert (await plain.stream_info("ORDERS")).state.messages == 3
    assert sorted(await plain.streams_info(), key=lambda s: s.config.name)[0].config.name \
        == "KV_cfg"


async def test_another_domain_has_no_responders(server_factory, tmp_path, nats_connect):
    srv = start_domain(server_factory, tmp_path)
    nc = await nats_connect(srv)
    with pytest.raises(nats.errors.NoRespondersError):
        await nc.request("$JS.other.API.INFO", b"", timeout=2)
    with pytest.raises(nats.errors.NoRespondersError):
        await nc.request("$JS.hubx.API.INFO", b"", timeout=2)
    reply = await nc.request("$JS.hub.API.INFO", b"", timeout=2)
    assert json.loads(reply.data)["type"] == "io.nats.jetstream.api.v1.account_info_response"


async def test_the_domain_is_named(server_factory, tmp_path, nats_connect):
    srv = start_domain(server_factory, tmp_path)
    c = srv.raw()
    assert c.read_info()["domain"] == "hub"
    c.close()
    nc = await nats_connect(srv)
    for subject in ("$JS.API.INFO", "$JS.hub.API.INFO"):
        info = json.loads((await nc.request(subject, b"", timeout=2)).data)
        assert info["domain"] == "hub"
        assert list(info)[-2:] == ["domain", "api"], list(info)
    assert srv.varz()["jetstream"]["config"]["domain"] == "hub"
    if not REFERENCE:  # nats-server serves no /metrics (its exporter names the label)
        text = srv.http_get("/metrics")[2].decode()
        assert 'domain="hub"' in text and "jetstream_server_total_streams{" in text
    assert srv.http_json("/jsz")["config"]["domain"] == "hub"
    assert "Domain:          hub" in srv.log_text()


async def test_no_domain_no_field(server_factory, nats_connect):
    srv = server_factory.start(jetstream=True)
    c = srv.raw()
    assert "domain" not in c.read_info()
    c.close()
    nc = await nats_connect(srv)
    info = json.loads((await nc.request("$JS.API.INFO", b"", timeout=2)).data)
    assert "domain" not in info


@pytest.mark.parametrize("domain, text", [
    ("a.b", "invalid domain name: may not contain ., * or >"),
    ("a*", "invalid domain name: may not contain ., * or >"),
    ("a>", "invalid domain name: may not contain ., * or >"),
    ("a b", 'invalid domain name: derived "$JS.a b.API.>" is not a valid subject'),
])
def test_bad_domains_are_refused(tmp_path, domain, text):
    conf = tmp_path / "d.conf"
    conf.write_text(f'jetstream {{ store_dir: "{tmp_path}/js", domain: "{domain}" }}\n')
    r = run_binary("-a", "127.0.0.1", "-p", str(free_port()), "-c", str(conf))
    assert r.returncode != 0, r.stderr
    assert text in r.stderr, r.stderr
