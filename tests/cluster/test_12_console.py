"""The web console in a real browser, against a three-node cluster.

Headless Chromium (Debian's chromium and chromium-driver packages, driven
by selenium through /usr/bin/chromedriver, so nothing is downloaded) opens
node A's console. Every node runs JetStream and a WebSocket listener. The
test checks what a user would see: the three nodes up and the raft leader
marked; a message published by nats-py on another node arriving in the
Live tab after subscribing there to a wildcard; a request sent from the
page answered by a nats-py responder, and "no responders" when there is
none; a stream made by nats-py listed with its message count; a node
killed with SIGKILL shown down within a few seconds.

Screenshots go to $TERN_SCREENSHOTS, else ./console-screenshots under the
directory the tests run in (the build directory under `make check`).

Tern's own page and endpoint: there is nothing to compare with on
nats-server, so this file runs against ternd only.
"""

import asyncio
import os
import time
from pathlib import Path

import pytest

from conftest import REFERENCE, async_wait_for, free_port, wait_for, wait_interest

pytestmark = pytest.mark.skipif(REFERENCE, reason="Tern's own web console")

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")
DOWN_WITHIN = 5.0          # seconds from SIGKILL to "down" on the page
UI_TIMEOUT = 15.0          # the page polls once a second


def shots_dir():
    d = Path(os.environ.get("TERN_SCREENSHOTS") or Path.cwd() / "console-screenshots")
    d.mkdir(parents=True, exist_ok=True)
    return d


@pytest.fixture
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--window-size=1400,1000", "--hide-scrollbars"):
        opts.add_argument(a)
    drv = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=opts)
    drv.set_script_timeout(10)
    yield drv
    drv.quit()


@pytest.fixture
def nodes(cluster):
    ws_ports = [free_port() for _ in range(3)]
    conf = [[f"websocket {{\n  listen: \"127.0.0.1:{p}\"\n  no_tls: true\n}}"] for p in ws_ports]
    args = [["-js", "-sd", str(cluster.workdir / f"js-{n}")] for n in "ABC"]
    ns = cluster.start(3, args=args, conf=conf, topology="all")
    return ns


def leader_of(node):
    try:
        return (node.http_json("/jsz").get("meta_cluster") or {}).get("leader") or None
    except (OSError, AssertionError):
        return None


def wait_leader(nodes):
    def agreed():
        names = {leader_of(n) for n in nodes if n.alive()}
        return names.pop() if len(names) == 1 and None not in names else None
    return wait_for(agreed, 20, 0.05, what="a raft leader every node agrees on")


def js(drv, script, *args):
    return drv.execute_script(script, *args)


def node_rows(drv):
    """{name: (health, raft)} of the cluster table as shown."""
    rows = js(drv, "return [...document.querySelectorAll('#nodes tbody tr')]"
                   ".map(r => [r.dataset.node, r.dataset.health, r.dataset.raft]);")
    return {name: (health, raft) for name, health, raft in rows or []}


def click_tab(drv, name):
    drv.find_element("css selector", f"#tabs button[data-tab='{name}']").click()


def fill_and_submit(drv, form, values):
    for field, value in values.items():
        e = drv.find_element("id", field)
        e.clear()
        e.send_keys(value)
    drv.find_element("css selector", f"#{form} button[type='submit']").click()


def log_texts(drv, cls):
    return js(drv, f"return [...document.querySelectorAll('#log li.{cls}')]"
                   ".map(li => li.textContent);") or []


async def test_console_in_browser(nodes, browser, client):
    a, b, c = nodes
    leader = wait_leader(nodes)
    shots = shots_dir()
    drv = browser

    # -- the page loads and shows three nodes, all up, and the leader
    drv.get(f"http://127.0.0.1:{a.http_port}/")
    assert drv.title == "Tern console"
    want = {n.name: ("up", "leader" if n.name == leader else "follower") for n in nodes}
    wait_for(lambda: node_rows(drv) == want, UI_TIMEOUT, 0.1,
             what=lambda: f"the cluster table to show {want}; shows {node_rows(drv)}")
    summary = drv.find_element("id", "cluster-summary").text
    assert "3 nodes, 3 up" in summary and f"raft leader {leader}" in summary, summary
    # The rate charts have a few samples to draw before the screenshot.
    wait_for(lambda: js(drv, "return samples.length;") >= 3, UI_TIMEOUT, 0.1,
             what="three /varz samples")
    drv.save_screenshot(str(shots / "cluster.png"))

    # -- Live tab: subscribe to a wildcard, see nats-py's message from node B
    click_tab(drv, "live")
    wait_for(lambda: "over WebSocket" in drv.find_element("id", "live-status").text, UI_TIMEOUT,
             0.05, what=lambda: "the Live tab to connect: "
             + drv.find_element("id", "live-status").text)
    fill_and_submit(drv, "sub-form", {"sub-subject": "console.>"})
    wait_interest(b, a, "console.>")
    nb = await client(b)
    await nb.publish("console.hello", b"hello from nats-py")
    await nb.flush()
    await async_wait_for(lambda: any("console.hello" in t and "hello from nats-py" in t
                                     for t in log_texts(drv, "msg")), UI_TIMEOUT,
                         what=lambda: f"the message in the Live tab; log: {log_texts(drv, 'msg')}")

    # -- the page publishes; nats-py on node C receives it
    nc = await client(c)
    got = asyncio.get_running_loop().create_future()

    async def keep(m):
        if not got.done():
            got.set_result(m.data)
    sub = await nc.subscribe("console.from-page", cb=keep)
    await nc.flush()
    wait_interest(a, c, "console.from-page")
    fill_and_submit(drv, "pub-form", {"pub-subject": "console.from-page",
                                      "pub-payload": "hi from the browser"})
    assert await asyncio.wait_for(got, 5) == b"hi from the browser"
    await sub.unsubscribe()

    # -- request/reply: answered by a nats-py responder; then no responders
    async def answer(m):
        await m.respond(b"pong:" + m.data)
    svc = await nc.subscribe("console.svc", cb=answer)
    await nc.flush()
    wait_interest(a, c, "console.svc")
    fill_and_submit(drv, "req-form", {"req-subject": "console.svc", "req-payload": "ping"})
    await async_wait_for(lambda: any("pong:ping" in t for t in log_texts(drv, "reply")),
                         UI_TIMEOUT, what=lambda: f"the reply; log: {log_texts(drv, 'reply')}")
    await svc.unsubscribe()
    await nc.flush()
    fill_and_submit(drv, "req-form", {"req-subject": "nobody.home", "req-payload": "x"})
    await async_wait_for(lambda: any("no responders for nobody.home" in t
                                     for t in log_texts(drv, "err")), UI_TIMEOUT,
                         what=lambda: f"no responders; log: {log_texts(drv, 'err')}")
    drv.save_screenshot(str(shots / "live.png"))

    # -- joining a queue group from the page: the page's member gets it
    fill_and_submit(drv, "sub-form", {"sub-subject": "work.*", "sub-queue": "workers"})
    wait_interest(b, a, ("work.*", "workers"))
    await nb.publish("work.1", b"job one")
    await nb.flush()
    await async_wait_for(lambda: any("work.1 [work.* / workers]" in t and "job one" in t
                                     for t in log_texts(drv, "msg")), UI_TIMEOUT,
                         what=lambda: f"the queued message; log: {log_texts(drv, 'msg')}")

    # -- connections: the page's own WebSocket client is listed on A
    click_tab(drv, "connections")

    def conn_names():
        return js(drv, "return [...document.querySelectorAll('#connections tbody tr')]"
                       ".map(r => r.cells[1].textContent);") or []
    wait_for(lambda: "tern-console" in conn_names(), UI_TIMEOUT, 0.1,
             what=lambda: f"the page's connection; names {conn_names()}")
    drv.save_screenshot(str(shots / "connections.png"))

    # -- a stream made by nats-py shows with its message count
    jsctx = nb.jetstream()
    await jsctx.add_stream(name="ORDERS", subjects=["orders.>"])
    for i in range(5):
        await jsctx.publish(f"orders.{i}", b"order %d" % i)
    await jsctx.add_consumer("ORDERS", durable_name="shipper")
    click_tab(drv, "streams")

    def stream_row():
        return js(drv, "const r = document.querySelector(\"#streams tr[data-stream='ORDERS']\");"
                       "return r ? r.dataset.messages : null;")
    wait_for(lambda: stream_row() == "5", UI_TIMEOUT, 0.1,
             what=lambda: f"ORDERS with 5 messages; row shows {stream_row()}")
    drv.save_screenshot(str(shots / "streams.png"))

    # -- consumers' live figures, on the console of the node serving them
    ln = next(n for n in nodes if n.name == leader)
    drv.get(f"http://127.0.0.1:{ln.http_port}/#streams")

    def consumer_row():
        return js(drv, "return [...document.querySelectorAll('#consumers tbody tr')]"
                       ".map(r => [...r.cells].map(c => c.textContent));")
    wait_for(lambda: consumer_row() == [["ORDERS", "shipper", "5", "0", "0", "0", "0", "0"]],
             UI_TIMEOUT, 0.1, what=lambda: f"shipper's figures; table {consumer_row()}")
    drv.get(f"http://127.0.0.1:{a.http_port}/")

    # -- a node killed with SIGKILL shows down within seconds
    click_tab(drv, "cluster")
    victim = next(n for n in (b, c) if n.name != leader) if leader != a.name else b
    # Its nats-py client goes first (one reconnecting to a dead node
    # cannot be closed cleanly at teardown).
    await (nb if victim is b else nc).close()
    killed_at = victim.kill9()
    wait_for(lambda: node_rows(drv).get(victim.name, ("",))[0] == "down", DOWN_WITHIN, 0.05,
             what=lambda: f"{victim.name} shown down; table {node_rows(drv)}")
    took = time.monotonic() - killed_at
    # The others stay up.
    rows = node_rows(drv)
    assert all(rows[n.name][0] == "up" for n in nodes if n is not victim), rows
    drv.save_screenshot(str(shots / "node-down.png"))
    from conftest import report
    report(f"console: a killed node was shown down after {took:.2f}s")


# --------------------------------------------------------------------------
# /clusterz without a browser
# --------------------------------------------------------------------------

def test_route_info_announces_monitor(cluster, raw):
    """A ternd node's route INFO says where its /varz is (tern_monitor)."""
    (a,) = cluster.start(1)
    info = raw(a.cluster_port).read_info()
    assert info["tern_monitor"] == {"port": a.http_port, "base_path": ""}


def test_clusterz_with_nats_server_peers(cluster):
    """nats-server peers announce no monitoring port: /clusterz shows them
    by their routes (up while routed, no figures), and one that is killed
    as down at once; the ternd node's own figures are there."""
    from conftest import NATS_KIND, TERND_KIND
    a, b, c = cluster.start(3, kinds=[TERND_KIND, NATS_KIND, NATS_KIND], quiet=False)

    def nodes():
        return {n["name"]: n for n in a.http_json("/clusterz")["nodes"]}
    ns = nodes()
    assert set(ns) == {"A", "B", "C"}
    assert ns["A"]["self"] and ns["A"]["health"] == "up" and "varz" in ns["A"]
    for name in "BC":
        assert ns[name]["health"] == "up" and ns[name]["route"] is True
        assert "varz" not in ns[name] and ns[name]["error"] == "its figures are not announced"
    c.kill9()
    wait_for(lambda: nodes()["C"]["health"] == "down", DOWN_WITHIN, 0.05,
             what=lambda: f"C down in /clusterz: {nodes()['C']}")
    assert nodes()["C"]["route"] is False and nodes()["B"]["health"] == "up"


def test_clusterz_stopped_peer_times_out(cluster):
    """A peer that stops answering (SIGSTOP: its socket stays open) is shown
    down after the one-second fetch timeout, and /clusterz still answers."""
    import signal
    a, b = cluster.start(2)
    assert {n["name"]: n["health"] for n in a.http_json("/clusterz")["nodes"]} == \
        {"A": "up", "B": "up"}
    b.proc.send_signal(signal.SIGSTOP)
    try:
        t0 = time.monotonic()
        ns = {n["name"]: n for n in a.http_json("/clusterz")["nodes"]}
        took = time.monotonic() - t0
        assert ns["B"]["health"] == "down" and ns["B"]["error"] == "no answer", ns["B"]
        assert 0.5 < took < 3, took
        # A browser that goes away while its answer is gathered: the
        # node carries on and answers the next request.
        import socket
        for _ in range(3):
            with socket.create_connection(("127.0.0.1", a.http_port)) as sk:
                sk.sendall(b"GET /clusterz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert a.http_json("/clusterz")["nodes"][0]["name"] == "A"
        # Stopping while an answer is still gathered (B cannot answer)
        # frees it and its request to B: a clean exit.
        with socket.create_connection(("127.0.0.1", a.http_port)) as sk:
            sk.sendall(b"GET /clusterz HTTP/1.1\r\nHost: x\r\n\r\n")
            a.varz()  # answered after the loop has read the request above
            assert a.stop() is None
    finally:
        b.proc.send_signal(signal.SIGCONT)


def test_live_tab_asks_for_credentials(cluster, browser):
    """With authorization on, the Live tab asks for credentials, says so
    when they are refused and asks again, and connects with the right ones
    (the monitoring pages themselves need none, as the monitoring port)."""
    ws = free_port()
    (a,) = cluster.start(1, conf=[[
        "authorization { user: alice, password: s3cret }",
        f"websocket {{\n  listen: \"127.0.0.1:{ws}\"\n  no_tls: true\n}}"]])
    drv = browser
    drv.get(f"http://127.0.0.1:{a.http_port}/#live")
    form = drv.find_element("id", "auth-form")
    wait_for(form.is_displayed, UI_TIMEOUT, 0.05, what="the credentials form")
    fill_and_submit(drv, "auth-form", {"auth-user": "alice", "auth-pass": "wrong"})

    def refused():
        return form.is_displayed() and "Authorization Violation" in \
            drv.find_element("id", "auth-error").text
    wait_for(refused, UI_TIMEOUT, 0.05,
             what=lambda: "the refusal: " + drv.find_element("id", "auth-error").text)
    # The password field was emptied; nothing was stored by the page.
    assert drv.find_element("id", "auth-pass").get_attribute("value") == ""
    assert js(drv, "return window.localStorage.length + window.sessionStorage.length;") == 0
    drv.save_screenshot(str(shots_dir() / "live-auth.png"))
    fill_and_submit(drv, "auth-form", {"auth-user": "alice", "auth-pass": "s3cret"})
    wait_for(lambda: "over WebSocket" in drv.find_element("id", "live-status").text, UI_TIMEOUT,
             0.05, what=lambda: drv.find_element("id", "live-status").text)
    assert not form.is_displayed()
