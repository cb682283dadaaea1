"""The web console's files and /clusterz on one node (Tern's own; the
browser test against three nodes is tests/cluster/test_12_console.py).

The page, script and style sheet are served from ternd's memory with their
types and a strict Content-Security-Policy, under http_base_path when one
is set; "console: false" brings back the plain endpoint list at the base
path and the asset paths answer 404; /clusterz lists this node with its
own figures; /jsz?consumers=1 gives each consumer's live figures.
"""

import json
import re

import pytest

from conftest import REFERENCE, run_binary, wait_for

pytestmark = pytest.mark.skipif(REFERENCE, reason="Tern's own: nats-server has no web console")

ASSETS = {
    "/console/console.js": "text/javascript; charset=utf-8",
    "/console/console.css": "text/css; charset=utf-8",
}


def headers(srv, path):
    import urllib.request
    with urllib.request.urlopen(f"http://127.0.0.1:{srv.http_port}{path}", timeout=5) as r:
        return r.status, dict(r.headers), r.read()


def csp_directives(value):
    out = {}
    for part in value.split(";"):
        words = part.split()
        if words:
            out[words[0]] = words[1:]
    return out


def test_page_and_assets(server_factory):
    srv = server_factory.start(monitor=True)
    status, h, body = headers(srv, "/")
    assert status == 200 and h["Content-Type"] == "text/html; charset=utf-8"
    page = body.decode()
    assert '<base href="/">' in page
    assert '<script src="console/console.js" defer></script>' in page
    # No inline script or style anywhere: the policy would block them.
    assert not re.search(r"<script(?![^>]*\bsrc=)", page)
    assert "<style" not in page and " style=" not in page
    for path, ctype in ASSETS.items():
        status, h2, body2 = headers(srv, path)
        assert status == 200, path
        assert h2["Content-Type"] == ctype
        assert h2["X-Content-Type-Options"] == "nosniff"
        assert body2.startswith(b"/*"), body2[:40]
    # The page itself is not an asset path; nor is anything unknown.
    for path in ("/console/index.html", "/console/nope.js", "/console/"):
        assert srv.http_get(path)[0] == 404, path


def test_content_security_policy(server_factory):
    srv = server_factory.start(monitor=True)
    for path in ["/", *ASSETS]:
        _, h, _ = headers(srv, path)
        d = csp_directives(h["Content-Security-Policy"])
        assert d["default-src"] == ["'none'"], path
        assert d["script-src"] == ["'self'"]
        assert d["style-src"] == ["'self'"]
        assert d["connect-src"] == ["'self'", "ws:", "wss:"]
        assert d["frame-ancestors"] == ["'none'"]
        assert h["X-Frame-Options"] == "DENY"


@pytest.mark.parametrize("base,href", [("/mon", "/mon/"), ("/mon/", "/mon/"),
                                       ("/a&b", "/a&amp;b/")])
def test_base_path(server_factory, base, href):
    srv = server_factory.start(monitor=True, config=f"http_base_path: {json.dumps(base)}\n")
    clean = base.rstrip("/")
    status, ctype, body = srv.http_get(base)
    assert status == 200 and ctype.startswith("text/html")
    assert f'<base href="{href}">' in body.decode()
    status, ctype, _ = srv.http_get(clean + "/console/console.js")
    assert status == 200 and ctype.startswith("text/javascript")
    # The assets live under the base path only.
    assert srv.http_get("/console/console.js")[0] == 404
    assert srv.http_json(clean + "/clusterz")["nodes"][0]["self"] is True


def test_turned_off(server_factory):
    srv = server_factory.start(monitor=True, config="console: false\n")
    status, ctype, body = srv.http_get("/")
    assert status == 200 and ctype.startswith("text/html")
    page = body.decode()
    assert "<h1>ternd" in page and '<a href="varz">varz</a>' in page
    assert "console.js" not in page
    for path in ASSETS:
        assert srv.http_get(path)[0] == 404, path
    # The endpoints stay, /clusterz included: it shows nothing /varz and
    # /routez do not.
    assert srv.http_json("/clusterz")["nodes"]


def test_reload_turns_it_off(server_factory):
    import signal
    cfg = server_factory.write_config("console: true\n")
    srv = server_factory.start(monitor=True, config=cfg)
    assert b"console.js" in srv.http_get("/")[2]
    cfg.write_text("console: false\n")
    srv.send_signal(signal.SIGHUP)
    wait_for(lambda: b"<h1>ternd" in srv.http_get("/")[2], what="the endpoint list after SIGHUP")
    assert srv.http_get("/console/console.js")[0] == 404


def test_config_value_checked(tmp_path):
    conf = tmp_path / "c.conf"
    conf.write_text("port: 4222\nconsole: \"off\"\n")
    r = run_binary("-t", "-c", str(conf))
    assert r.returncode != 0
    assert re.search(r"c\.conf:2:1: .*not bool", r.stdout + r.stderr), r.stdout + r.stderr
    conf.write_text("console: true\n")
    assert run_binary("-t", "-c", str(conf)).returncode == 0


async def test_clusterz_single_node(server_factory, nats_connect):
    srv = server_factory.start(monitor=True, jetstream=True)
    nc = await nats_connect(srv)
    await nc.flush()
    # The harness's readiness probe is a connection too; its close is
    # handled by whichever I/O loop owns it, so wait until it is gone.
    wait_for(lambda: srv.varz()["connections"] == 1, what="probe closed")
    cz = srv.http_json("/clusterz")
    varz = srv.varz()
    assert cz["server_id"] == varz["server_id"]
    assert cz["jetstream"] == {"clustered": False, "cluster_size": 0, "leader": ""}
    [node] = cz["nodes"]
    assert node["self"] is True and node["health"] == "up" and node["route"] is False
    assert node["name"] == varz["server_name"]
    v = node["varz"]
    assert v["server_id"] == varz["server_id"]
    assert v["connections"] == 1
    assert v["tern_version"] == varz["tern_version"]
    for key in ("in_msgs", "out_msgs", "in_bytes", "out_bytes", "subscriptions", "mem"):
        assert isinstance(v[key], int), key


async def test_jsz_consumer_detail(server_factory, nats_connect):
    srv = server_factory.start(monitor=True, jetstream=True)
    nc = await nats_connect(srv)
    js = nc.jetstream()
    await js.add_stream(name="CD", subjects=["cd.>"])
    for i in range(4):
        await js.publish(f"cd.{i}", b"x")
    await js.add_consumer("CD", durable_name="d1", ack_policy="explicit")
    psub = await js.pull_subscribe("cd.>", durable="d1", stream="CD")
    msgs = await psub.fetch(1)
    await msgs[0].ack_sync()

    def detail():
        # The figures are a snapshot the JetStream loop refreshes.
        j = srv.http_json("/jsz?consumers=1")
        streams = j["account_details"][0]["stream_detail"]
        cs = streams[0]["consumer_detail"] if streams else []
        return cs if cs and cs[0]["ack_floor"]["stream_seq"] == 1 else None
    [c] = wait_for(detail, what="d1's figures after one ack")
    assert c["stream_name"] == "CD" and c["name"] == "d1"
    assert c["num_pending"] == 3 and c["num_ack_pending"] == 0
    assert c["delivered"]["stream_seq"] == 1 and c["ack_floor"]["stream_seq"] == 1
    # Without ?consumers the list is not there (nats-server's omitempty).
    j = srv.http_json("/jsz?streams=1")
    assert "consumer_detail" not in j["account_details"][0]["stream_detail"][0]
