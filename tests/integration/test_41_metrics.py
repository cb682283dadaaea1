"""41 /metrics: the Prometheus text exposition (format 0.0.4) of the figures
/varz, /routez, /healthz and /jsz show, read with prometheus-client's own
parser, so a scrape Prometheus would refuse fails here too.

The names are the NATS Prometheus exporter's where it has one (README.md,
"Prometheus metrics", lists every metric). JetStream's figures come from
the snapshot the JetStream loop refreshes every 250 ms, so tests wait for
them rather than read once. A last test runs a real Prometheus against
ternd when the machine has one (Debian's prometheus package).
"""

import asyncio
import json
import shutil
import subprocess
import time
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from conftest import REFERENCE, async_wait_for, free_port, js_api, settle, wait_for

pytestmark = pytest.mark.skipif(REFERENCE, reason="Tern's own: nats-server has no /metrics "
                                "(the NATS Prometheus exporter reads its /varz and /jsz)")


def scrape(srv):
    """{family name: Metric} of one GET /metrics, after checking the reply."""
    status, ctype, body = srv.http_get("/metrics")
    assert status == 200, body[:300]
    assert ctype.startswith("text/plain; version=0.0.4"), ctype
    text = body.decode("utf-8")  # the format is UTF-8, labels included
    families = {}
    for fam in text_string_to_metric_families(text):
        # Each family once, with its HELP and TYPE before its samples.
        assert fam.name not in families, f"{fam.name} twice"
        assert fam.type in ("counter", "gauge"), (fam.name, fam.type)
        assert fam.documentation, fam.name
        families[fam.name] = fam
    return families


def value(families, name, **labels):
    """The one sample of family `name` whose labels include `labels`.

    prometheus-client files a counter `x` (no _total suffix, as the
    exporter's names have none) under family `x` with sample `x_total`.
    """
    fam = families.get(name) or families.get(name.removesuffix("_total"))
    assert fam is not None, f"no family {name}; have {sorted(families)}"
    hits = [s for s in fam.samples if all(s.labels.get(k) == v for k, v in labels.items())]
    assert len(hits) == 1, f"{name}{labels}: {fam.samples}"
    return hits[0].value


def samples(families, name):
    fam = families.get(name)
    return fam.samples if fam else []


def test_format_and_the_server_figures_without_clients(server_factory):
    srv = server_factory.start(monitor=True)
    sid = srv.varz()["server_id"]
    # (The start-up probe's connection may still be closing.)
    fams = wait_for(lambda: (f := scrape(srv)) and
                    value(f, "gnatsd_varz_connections", server_id=sid) == 0 and f,
                    what="no connections")
    assert value(fams, "gnatsd_varz_routes") == 0
    assert value(fams, "gnatsd_routez_num_routes") == 0
    assert value(fams, "gnatsd_healthz_status") == 0
    assert value(fams, "gnatsd_healthz_status_value", value="ok") == 1
    # JetStream off: the exporter's one figure for that, and nothing else.
    assert value(fams, "jetstream_server_jetstream_disabled") == 1
    assert not [n for n in fams if n.startswith(("jetstream_stream", "jetstream_raft",
                                                 "gnatsd_varz_jetstream"))]
    assert fams["gnatsd_varz_in_msgs"].type == "counter"
    assert fams["gnatsd_varz_connections"].type == "gauge"


async def test_connections_subscriptions_and_messages(server_factory, nats_connect):
    srv = server_factory.start(monitor=True)
    # The start-up probe connected once, and may still be closing.
    wait_for(lambda: srv.varz()["connections"] == 0, what="no connections")
    base = srv.varz()["total_connections"]
    clients = [await nats_connect(srv) for _ in range(3)]
    got = []

    async def cb(msg):
        got.append(msg)

    # One subscriber on "m", two other subscriptions nobody publishes to.
    await clients[0].subscribe("m", cb=cb)
    await clients[1].subscribe("other.a")
    await clients[2].subscribe("other.b")
    for nc in clients:
        await settle(nc)
    payload = b"x" * 25
    for _ in range(10):
        await clients[1].publish("m", payload)
    await settle(clients[1])
    await async_wait_for(lambda: len(got) == 10, what="10 deliveries")

    def settled():
        f = scrape(srv)
        return f if value(f, "gnatsd_varz_out_msgs") == 10 else None

    fams = await asyncio.get_running_loop().run_in_executor(
        None, lambda: wait_for(settled, what="out_msgs 10"))
    varz = srv.varz()
    assert value(fams, "gnatsd_varz_connections") == 3 == varz["connections"]
    assert value(fams, "gnatsd_varz_total_connections") == base + 3 == varz["total_connections"]
    assert value(fams, "gnatsd_varz_in_msgs") == 10 == varz["in_msgs"]
    assert value(fams, "gnatsd_varz_out_msgs") == 10 == varz["out_msgs"]
    assert value(fams, "gnatsd_varz_in_bytes") == 250 == varz["in_bytes"]
    assert value(fams, "gnatsd_varz_out_bytes") == 250 == varz["out_bytes"]
    assert value(fams, "gnatsd_varz_subscriptions") == varz["subscriptions"] >= 3
    assert value(fams, "gnatsd_varz_slow_consumers") == 0 == varz["slow_consumers"]
    assert value(fams, "gnatsd_varz_max_payload") == varz["max_payload"]
    # The exporter turns /varz "start" into epoch milliseconds.
    start = varz["start"]
    assert abs(value(fams, "gnatsd_varz_start") / 1000 -
               value(fams, "process_start_time_seconds")) < 0.002
    assert start.startswith(time.strftime("%Y-%m-%dT", time.gmtime(
        value(fams, "process_start_time_seconds"))))
    # The exporter's server_id label is on every gnatsd_ sample.
    for name, fam in fams.items():
        if name.startswith("gnatsd_"):
            assert all(s.labels.get("server_id") == varz["server_id"] for s in fam.samples)

    await clients[2].close()
    fams = await asyncio.get_running_loop().run_in_executor(
        None, lambda: wait_for(lambda: (f := scrape(srv)) and
                               value(f, "gnatsd_varz_connections") == 2 and f,
                               what="2 connections"))
    assert value(fams, "gnatsd_varz_total_connections") == base + 3


def test_process_figures(server_factory):
    srv = server_factory.start(monitor=True)
    fams = scrape(srv)
    varz = srv.varz()
    assert value(fams, "process_open_fds") > 3
    assert value(fams, "process_max_fds") >= value(fams, "process_open_fds")
    rss = value(fams, "process_resident_memory_bytes")
    assert rss > 1 << 20
    assert abs(rss - varz["mem"]) < 16 << 20  # read moments apart
    assert value(fams, "gnatsd_varz_mem") > 1 << 20
    assert value(fams, "process_virtual_memory_bytes") >= rss
    assert value(fams, "process_cpu_seconds_total") >= 0
    assert fams["process_cpu_seconds"].type == "counter"
    assert abs(value(fams, "process_start_time_seconds") - time.time()) < 60
    # /varz "cpu" is sampled once a second, as nats-server's is: a number
    # now, and /metrics shows the same sample.
    assert isinstance(varz["cpu"], (int, float)) and varz["cpu"] >= 0
    assert value(fams, "gnatsd_varz_cpu") >= 0


async def test_cpu_follows_load(server_factory, nats_connect):
    """Load the server for two seconds: the CPU figures move."""
    srv = server_factory.start(monitor=True)
    before = value(scrape(srv), "process_cpu_seconds_total")
    nc = await nats_connect(srv)
    await nc.subscribe("load")
    deadline = time.monotonic() + 2.2
    while time.monotonic() < deadline:
        for _ in range(2000):
            await nc.publish("load", b"y" * 64)
        await nc.flush()
    fams = scrape(srv)
    assert value(fams, "process_cpu_seconds_total") > before
    assert srv.varz()["cpu"] > 0 or value(fams, "gnatsd_varz_cpu") > 0


async def test_jetstream_streams_and_consumers(server_factory, nats_connect):
    srv = server_factory.start(monitor=True, jetstream=True)
    nc = await nats_connect(srv)
    js = nc.jetstream()
    await js.add_stream(name="S", subjects=["s.>"])
    for i in range(7):
        await js.publish(f"s.{i % 2}", b"hello")
    await js.add_stream(name="M", subjects=["m.>"], storage="memory", max_bytes=4096,
                        max_msgs=100)
    await js.publish("m.x", b"abc")
    sub = await js.pull_subscribe("s.>", durable="d1")
    msgs = await sub.fetch(3)
    await msgs[0].ack_sync()

    sid = srv.varz()["server_id"]
    want = {("jetstream_stream_total_messages", "S"): 7,
            ("jetstream_consumer_num_pending", "S"): 4,
            ("jetstream_consumer_num_ack_pending", "S"): 2}

    def settled():
        f = scrape(srv)
        for (name, stream), v in want.items():
            hits = [s for s in samples(f, name) if s.labels["stream_name"] == stream]
            if [s.value for s in hits] != [v]:
                return None
        return f

    fams = await asyncio.get_running_loop().run_in_executor(
        None, lambda: wait_for(settled, what=f"/metrics to show {want}"))
    jsz = srv.http_json("/jsz")
    S = dict(stream_name="S")
    assert value(fams, "jetstream_stream_total_messages", **S) == 7
    assert value(fams, "jetstream_stream_first_seq", **S) == 1
    assert value(fams, "jetstream_stream_last_seq", **S) == 7
    assert value(fams, "jetstream_stream_consumer_count", **S) == 1
    assert value(fams, "jetstream_stream_subject_count", **S) == 2
    assert value(fams, "jetstream_stream_limit_messages", **S) == -1
    assert value(fams, "jetstream_stream_total_messages", stream_name="M") == 1
    assert value(fams, "jetstream_stream_limit_bytes", stream_name="M") == 4096
    assert value(fams, "jetstream_stream_limit_messages", stream_name="M") == 100
    # The stream's bytes, as STREAM.INFO counts them.
    info = await js.stream_info("S")
    assert value(fams, "jetstream_stream_total_bytes", **S) == info.state.bytes

    C = dict(stream_name="S", consumer_name="d1")
    assert value(fams, "jetstream_consumer_delivered_stream_seq", **C) == 3
    assert value(fams, "jetstream_consumer_delivered_consumer_seq", **C) == 3
    assert value(fams, "jetstream_consumer_ack_floor_stream_seq", **C) == 1
    assert value(fams, "jetstream_consumer_ack_floor_consumer_seq", **C) == 1
    assert value(fams, "jetstream_consumer_num_pending", **C) == 4
    assert value(fams, "jetstream_consumer_num_ack_pending", **C) == 2
    assert value(fams, "jetstream_consumer_num_redelivered", **C) == 0
    assert value(fams, "jetstream_consumer_num_waiting", **C) == 0
    assert 0 <= value(fams, "jetstream_consumer_last_delivery_seconds", **C) < 30
    ci = await js.consumer_info("S", "d1")
    assert (ci.num_pending, ci.num_ack_pending) == (4, 2)

    # The exporter's labels: a single node is its own leader and names none.
    labels = [s for s in samples(fams, "jetstream_consumer_num_pending")][0].labels
    assert labels == {"server_id": sid, "server_name": sid, "cluster": "", "domain": "",
                      "meta_leader": "", "is_meta_leader": "true", "account": "$G",
                      "account_name": "$G",
                      "account_id": "$G", "stream_name": "S", "stream_leader": sid,
                      "is_stream_leader": "true", "consumer_name": "d1",
                      "consumer_leader": sid, "is_consumer_leader": "true"}

    # Server and account totals agree with /jsz and /varz.
    assert value(fams, "jetstream_server_jetstream_disabled") == 0
    assert value(fams, "jetstream_server_total_streams") == jsz["streams"] == 2
    assert value(fams, "jetstream_server_total_consumers") == jsz["consumers"] == 1
    assert value(fams, "jetstream_server_total_messages") == jsz["messages"] == 8
    assert value(fams, "jetstream_server_total_message_bytes") == jsz["bytes"]
    assert value(fams, "jetstream_server_max_memory") == jsz["config"]["max_memory"]
    assert value(fams, "jetstream_server_max_storage") == jsz["config"]["max_storage"]
    assert value(fams, "jetstream_account_memory_used") == jsz["memory"]
    assert value(fams, "jetstream_account_storage_used") == jsz["storage"]
    assert value(fams, "gnatsd_varz_jetstream_stats_memory") == jsz["memory"]
    assert value(fams, "gnatsd_varz_jetstream_stats_storage") == jsz["storage"]
    assert value(fams, "gnatsd_varz_jetstream_stats_reserved_memory") == \
        jsz["reserved_memory"] == 4096
    assert value(fams, "gnatsd_varz_jetstream_stats_api_total") == jsz["api"]["total"]
    assert value(fams, "gnatsd_varz_jetstream_stats_api_errors") == jsz["api"]["errors"]
    assert value(fams, "gnatsd_varz_jetstream_config_max_memory") == \
        srv.varz()["jetstream"]["config"]["max_memory"]
    # One node has no raft group.
    assert not [n for n in fams if n.startswith("jetstream_raft")]

    # Acks move the figures; a deleted consumer's go.
    for m in msgs[1:]:
        await m.ack_sync()
    await js.delete_consumer("S", "d1")
    fams = await asyncio.get_running_loop().run_in_executor(
        None, lambda: wait_for(lambda: (f := scrape(srv)) and
                               not samples(f, "jetstream_consumer_num_pending") and f,
                               what="the consumer's figures to go"))
    assert value(fams, "jetstream_stream_consumer_count", **S) == 0


async def test_label_values_are_escaped(server_factory, nats_connect):
    """A stream name may hold quotes and any UTF-8: the label is escaped so
    the scrape still parses, and reads back the same. (Backslashes, the
    other escape, are path separators no stream name may hold: the unit
    test check_prom covers them.)"""
    srv = server_factory.start(monitor=True, jetstream=True)
    nc = await nats_connect(srv)
    js = nc.jetstream()
    name = 'we"ird|näme'
    # (nats-py refuses such a name itself; the server takes it.)
    r = await js_api(nc, "$JS.API.STREAM.CREATE." + name, {"name": name, "subjects": ["w.>"]})
    assert "error" not in r, r
    await js.publish("w.1", b"x")

    def seen():
        f = scrape(srv)
        return [s for s in samples(f, "jetstream_stream_total_messages")
                if s.labels["stream_name"] == name and s.value == 1]

    await asyncio.get_running_loop().run_in_executor(
        None, lambda: wait_for(seen, what="the stream's figures"))
    _, _, body = srv.http_get("/metrics")
    assert 'stream_name="we\\"ird|näme"'.encode() in body


async def test_scrapes_do_not_disturb_traffic(server_factory, nats_connect):
    """Scraping while messages flow: every message arrives, counters only grow."""
    srv = server_factory.start(monitor=True, jetstream=True)
    nc = await nats_connect(srv)
    got = 0

    async def cb(msg):
        nonlocal got
        got += 1

    await nc.subscribe("t", cb=cb)
    await settle(nc)
    last = 0
    for round_ in range(10):
        for _ in range(500):
            await nc.publish("t", b"z")
        fams = await asyncio.get_running_loop().run_in_executor(None, scrape, srv)
        v = value(fams, "gnatsd_varz_in_msgs")
        assert v >= last
        last = v
    await settle(nc)
    await async_wait_for(lambda: got == 5000, what="5000 deliveries")


# --------------------------------------------------------------------------
# a real Prometheus
# --------------------------------------------------------------------------

PROMETHEUS = shutil.which("prometheus")


@pytest.mark.skipif(not PROMETHEUS, reason="no prometheus binary (Debian package prometheus)")
def test_prometheus_ingests_the_scrape(server_factory, tmp_path):
    srv = server_factory.start(monitor=True, jetstream=True)
    port = free_port()
    cfg = tmp_path / "prometheus.yml"
    cfg.write_text(f"""
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: ternd
    static_configs:
      - targets: ["127.0.0.1:{srv.http_port}"]
""")
    log = open(tmp_path / "prometheus.log", "wb")
    proc = subprocess.Popen([PROMETHEUS, f"--config.file={cfg}",
                             f"--web.listen-address=127.0.0.1:{port}",
                             f"--storage.tsdb.path={tmp_path / 'tsdb'}"],
                            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                            cwd=tmp_path)
    try:
        def api(path):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as r:
                    return json.loads(r.read())
            except OSError:
                return None

        def target_up():
            t = api("/api/v1/targets")
            active = t and t["data"]["activeTargets"]
            return active and active[0]["health"] == "up" and active[0]

        target = wait_for(target_up, timeout=30, interval=0.25,
                          what="Prometheus to scrape ternd: "
                          + (tmp_path / "prometheus.log").read_text(errors="replace")[-2000:])
        assert target["lastError"] == ""

        def ingested():
            r = api("/api/v1/query?query=gnatsd_varz_connections")
            res = r and r["status"] == "success" and r["data"]["result"]
            return res and res[0]

        res = wait_for(ingested, timeout=15, interval=0.25, what="gnatsd_varz_connections")
        assert res["metric"]["server_id"] == srv.varz()["server_id"]
        assert res["metric"]["job"] == "ternd"
        assert float(res["value"][1]) == 0
        # The type metadata came through too.
        meta = api("/api/v1/metadata?metric=gnatsd_varz_in_msgs")
        assert meta["data"]["gnatsd_varz_in_msgs"][0]["type"] == "counter"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
