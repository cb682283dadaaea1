"""Docker deployment test: build the Tern image, start the three-node compose
cluster from docker-compose.yml, and use each node.

What it checks, when a Docker engine is present:
  * the image builds from deploy/Dockerfile (base image debian:bookworm-slim;
    where it is missing it is made with deploy/build-base-image.sh, since no
    registry may be reachable);
  * `compose up` starts n1, n2, n3 and each becomes healthy (its /healthz);
  * the runtime image runs ternd as a non-root user, holds no compiler, and
    /data is writable by that user;
  * a nats-py client on each published client port publishes and receives on
    that same node (INFO names the node);
  * the nodes form a full mesh of routes (/routez) and a message published
    on n3 reaches a subscriber on n1;
  * a client given all three nodes with max_reconnect_attempts=-1, on n1,
    publishes to n2 and subscribes to n3's stream; `compose kill n1`
    mid-stream: it reconnects by itself (the time from the kill to the
    reconnected callback is reported), nothing it publishes after the
    reconnect is lost, and its subscription works again;
  * `compose start n1`: n1 is healthy again, back in the mesh, and reached
    across the routes;
  * JetStream is replicated: an R3 stream takes 50 publishes, the container
    of the raft leader is killed (`compose kill`), 50 more are acknowledged
    by the new leader (the time is reported), the old node comes back
    (`compose start`) and a durable consumer reads all 100 back, once each,
    in order;
  * `compose down -v` leaves no container, volume or network of the project.

Compose v2 (`docker compose`) is used where present, else Compose v1
(`docker-compose`). Everything is skipped, with the reason, when Docker is
absent or the base image cannot be had.

Environment: TERN_DOCKER_KEEP=1 keeps the cluster up after the run.
"""

import asyncio
import json
import os
import shutil
import socket
import subprocess
import time
import urllib.request
import uuid

import pytest

from conftest import report

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BASE_IMAGE = os.environ.get("BASE_IMAGE", "debian:bookworm-slim")
NODES = ("n1", "n2", "n3")
# (clients, monitoring and console, WebSocket) per node
DEFAULT_PORTS = {"n1": (4222, 8222, 8080), "n2": (4223, 8223, 8081),
                 "n3": (4224, 8224, 8082)}
BUILD_TIMEOUT = 1800
HEALTHY_TIMEOUT = 90


def run(cmd, timeout=120, check=True, env=None, nice=False):
    """Run a command from the repository root; return CompletedProcess."""
    if nice:
        cmd = ["nice", "-n", "10"] + cmd
    p = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True,
                       timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError(
            "command failed (%d): %s\n--- stdout\n%s\n--- stderr\n%s"
            % (p.returncode, " ".join(cmd), p.stdout[-4000:], p.stderr[-4000:]))
    return p


def docker_ok():
    if shutil.which("docker") is None:
        return "the docker command is not installed"
    try:
        p = subprocess.run(["docker", "info"], capture_output=True, text=True,
                           timeout=30)
    except subprocess.TimeoutExpired:
        return "`docker info` timed out"
    if p.returncode != 0:
        return "the Docker engine is not reachable: " + p.stderr.strip()[:300]
    return None


def compose_cmd():
    """`docker compose` (v2) if present, else `docker-compose` (v1)."""
    try:
        p = subprocess.run(["docker", "compose", "version"],
                           capture_output=True, text=True, timeout=30)
        if p.returncode == 0:
            return ["docker", "compose"]
    except subprocess.TimeoutExpired:
        pass
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return None


def ensure_base_image():
    """None if BASE_IMAGE is there (or was just built), else why not."""
    if run(["docker", "image", "inspect", BASE_IMAGE], check=False).returncode == 0:
        return None
    script = os.path.join(ROOT, "deploy", "build-base-image.sh")
    if os.geteuid() != 0:
        return ("base image %s is missing and deploy/build-base-image.sh needs "
                "root (or run `docker pull %s` where a registry is reachable)"
                % (BASE_IMAGE, BASE_IMAGE))
    p = run([script, "--tag", BASE_IMAGE], timeout=BUILD_TIMEOUT, check=False)
    if p.returncode != 0:
        return ("base image %s is missing and could not be built with "
                "deploy/build-base-image.sh: %s"
                % (BASE_IMAGE, (p.stderr.strip().splitlines() or ["?"])[-1]))
    return None


def port_free(port):
    with socket.socket() as s:
        try:
            s.bind(("0.0.0.0", port))
        except OSError:
            return False
    return True


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pick_ports():
    """The compose file's default host ports if all are free, else others."""
    wanted = [p for pair in DEFAULT_PORTS.values() for p in pair]
    if all(port_free(p) for p in wanted):
        return dict(DEFAULT_PORTS)
    return {n: (free_port(), free_port(), free_port()) for n in NODES}


def http_get(port, path):
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path),
                                    timeout=3) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


class Cluster:
    def __init__(self):
        self.compose = compose_cmd()
        self.project = "terndockertest" + uuid.uuid4().hex[:8]
        self.image = "tern:" + self.project
        self.ports = pick_ports()
        self.env = dict(os.environ, TERN_IMAGE=self.image, BASE_IMAGE=BASE_IMAGE)
        for n, (client, http, ws) in self.ports.items():
            self.env["TERN_%s_PORT" % n.upper()] = str(client)
            self.env["TERN_%s_HTTP_PORT" % n.upper()] = str(http)
            self.env["TERN_%s_WS_PORT" % n.upper()] = str(ws)
        self.down_done = False

    def c(self, *args, timeout=300, check=True, nice=False):
        return run(self.compose + ["-p", self.project] + list(args),
                   timeout=timeout, check=check, env=self.env, nice=nice)

    def container(self, node):
        ids = self.c("ps", "-q", node).stdout.split()
        assert len(ids) == 1, "expected one container for %s, got %r" % (node, ids)
        return ids[0]

    def health(self, node):
        p = run(["docker", "inspect", "--format", "{{json .State}}",
                 self.container(node)])
        state = json.loads(p.stdout)
        return state.get("Health", {}).get("Status"), state

    def leftovers(self):
        label = "label=com.docker.compose.project=" + self.project
        return {
            "containers": run(["docker", "ps", "-aq", "--filter", label]).stdout.split(),
            "volumes": run(["docker", "volume", "ls", "-q", "--filter", label]).stdout.split(),
            "networks": run(["docker", "network", "ls", "-q", "--filter", label]).stdout.split(),
        }

    def down(self):
        self.c("down", "-v", "--remove-orphans", timeout=180, check=False)
        self.down_done = True

    def remove_image(self):
        run(["docker", "image", "rm", self.image], check=False)


@pytest.fixture(scope="module")
def cluster():
    why = docker_ok()
    if why:
        pytest.skip("Docker is absent: " + why)
    cl = Cluster()
    if cl.compose is None:
        pytest.skip("neither `docker compose` nor `docker-compose` is installed")
    why = ensure_base_image()
    if why:
        pytest.skip(why)
    started = False
    try:
        # n1, n2 and n3 share one image: building it once through n1 tests
        # the compose build section, and `up` then finds the image (Compose
        # v1 would otherwise build it three times).
        cl.c("build", "n1", timeout=BUILD_TIMEOUT, nice=True)
        started = True
        cl.c("up", "-d", timeout=300)
        yield cl
    finally:
        if started and os.environ.get("TERN_DOCKER_KEEP") != "1":
            cl.down()
            cl.remove_image()


def wait_healthy(cl):
    deadline = time.monotonic() + HEALTHY_TIMEOUT
    status = {}
    while time.monotonic() < deadline:
        status = {n: cl.health(n)[0] for n in NODES}
        if all(s == "healthy" for s in status.values()):
            return status
        if any(s == "unhealthy" for s in status.values()):
            break
        time.sleep(1)
    logs = cl.c("logs", "--no-color", "--tail", "40", check=False)
    raise AssertionError("nodes not healthy: %r\n%s" % (status, logs.stdout[-6000:]))


def test_compose_up_all_nodes_healthy(cluster):
    wait_healthy(cluster)
    for n in NODES:
        status, body = http_get(cluster.ports[n][1], "/healthz")
        assert status == 200, (n, status, body)
        assert json.loads(body) == {"status": "ok"}, (n, body)
        status, body = http_get(cluster.ports[n][1], "/varz")
        assert status == 200, (n, status)
        varz = json.loads(body)
        assert varz["server_name"] == n, varz.get("server_name")


def test_runtime_image_non_root_and_small(cluster):
    wait_healthy(cluster)
    p = run(["docker", "image", "inspect", "--format", "{{json .Config}}", cluster.image])
    cfg = json.loads(p.stdout)
    assert cfg["User"] not in ("", "root", "0"), cfg["User"]
    exposed = set(cfg.get("ExposedPorts") or {})
    assert {"4222/tcp", "6222/tcp", "8222/tcp"} <= exposed, exposed
    assert "/data" in (cfg.get("Volumes") or {}), cfg.get("Volumes")
    out = cluster.c("exec", "-T", "n1", "sh", "-c",
                    "id -u; touch /data/.w && rm /data/.w && echo writable; "
                    "command -v gcc cc make || echo no-compiler").stdout.split()
    assert out[0] != "0", out
    assert "writable" in out and "no-compiler" in out, out


async def pubsub_on_node(node, port):
    import nats

    nc = await nats.connect("nats://127.0.0.1:%d" % port, connect_timeout=5,
                            allow_reconnect=False)
    try:
        assert nc._server_info.get("server_name") == node, nc._server_info
        subject = "docker.test.%s" % node
        sub = await nc.subscribe(subject)
        await nc.flush()
        for i in range(10):
            await nc.publish(subject, b"hello %s %d" % (node.encode(), i))
        await nc.flush()
        got = [(await sub.next_msg(timeout=5)).data for _ in range(10)]
        assert got == [b"hello %s %d" % (node.encode(), i) for i in range(10)]

        async def echo(msg):
            await msg.respond(b"echo:" + msg.data)

        await nc.subscribe("docker.echo", cb=echo)
        await nc.flush()
        reply = await nc.request("docker.echo", b"ping", timeout=5)
        assert reply.data == b"echo:ping"
    finally:
        await nc.close()


@pytest.mark.parametrize("node", NODES)
def test_pubsub_on_same_node(cluster, node):
    wait_healthy(cluster)
    asyncio.run(pubsub_on_node(node, cluster.ports[node][0]))


async def websocket_pubsub(node, port):
    import nats

    nc = await nats.connect("ws://127.0.0.1:%d" % port, connect_timeout=5,
                            allow_reconnect=False)
    try:
        assert nc._server_info.get("server_name") == node, nc._server_info
        sub = await nc.subscribe("docker.ws.>")
        await nc.flush()
        await nc.publish("docker.ws.%s" % node, b"over websocket")
        msg = await sub.next_msg(timeout=5)
        assert (msg.subject, msg.data) == ("docker.ws.%s" % node, b"over websocket")
    finally:
        await nc.close()


def test_console_and_websocket_on_each_node(cluster):
    """The web console at / of each node's monitoring port, /clusterz with
    three nodes up and one raft leader, and the WebSocket port /varz
    reports being the one mapped on the host (the console's Live tab
    connects there), carrying nats-py's ws:// client."""
    wait_healthy(cluster)
    wait_mesh(cluster)
    for n in NODES:
        client, http, ws = cluster.ports[n]
        status, body = http_get(http, "/")
        assert status == 200 and "<title>Tern console</title>" in body, (n, status, body[:200])
        varz = json.loads(http_get(http, "/varz")[1])
        assert varz["websocket"]["port"] == ws, (n, varz.get("websocket"))
        deadline = time.monotonic() + 30
        while True:
            nodes = json.loads(http_get(http, "/clusterz")[1])["nodes"]
            up = sorted(x["name"] for x in nodes if x["health"] == "up")
            leaders = [x["name"] for x in nodes if x.get("raft") == "leader"]
            if up == list(NODES) and len(leaders) == 1:
                break
            assert time.monotonic() < deadline, (n, nodes)
            time.sleep(0.2)
        asyncio.run(websocket_pubsub(n, ws))


def routes_of(cl, node):
    status, body = http_get(cl.ports[node][1], "/routez")
    return json.loads(body)["num_routes"] if status == 200 else -1


def wait_mesh(cl, nodes=NODES, timeout=30):
    """Every node has a route to every other one."""
    deadline = time.monotonic() + timeout
    seen = {}
    while time.monotonic() < deadline:
        seen = {n: routes_of(cl, n) for n in nodes}
        if all(v == len(nodes) - 1 for v in seen.values()):
            return
        time.sleep(0.2)
    raise AssertionError("routes not formed: %r" % seen)


async def cross_node(cl):
    import nats

    sub_nc = await nats.connect("nats://127.0.0.1:%d" % cl.ports["n1"][0])
    pub_nc = await nats.connect("nats://127.0.0.1:%d" % cl.ports["n3"][0])
    try:
        sub = await sub_nc.subscribe("docker.cross.>")
        await sub_nc.flush()
        # Interest crosses the route asynchronously: publish until it lands.
        deadline = time.monotonic() + 10
        while True:
            await pub_nc.publish("docker.cross.x", b"probe")
            await pub_nc.flush()
            try:
                msg = await sub.next_msg(timeout=0.2)
                break
            except nats.errors.TimeoutError:
                assert time.monotonic() < deadline, "no cross-node delivery"
        assert msg.subject == "docker.cross.x"
    finally:
        await sub_nc.close()
        await pub_nc.close()


def test_cross_node_pubsub(cluster):
    wait_healthy(cluster)
    wait_mesh(cluster)
    asyncio.run(cross_node(cluster))


async def failover(cl):
    """A client given all three nodes (it lands on n1) publishes a numbered
    stream to a subscriber on n2 and subscribes to a stream published on
    n3; n1 is killed mid-stream. The client must reconnect by itself and
    carry on both ways, and every message it publishes after the reconnect
    must arrive. Returns seconds: (kill command started, kill command
    returned, disconnected callback) each to the reconnected callback."""
    import nats

    urls = ["nats://127.0.0.1:%d" % cl.ports[n][0] for n in NODES]
    events = {"disconnected": 0, "reconnected": 0}
    reconnected_at = []
    disconnected_at = []

    async def on_disc():
        events["disconnected"] += 1
        disconnected_at.append(time.monotonic())

    async def on_reco():
        events["reconnected"] += 1
        reconnected_at.append(time.monotonic())

    nc = await nats.connect(servers=urls, dont_randomize=True, max_reconnect_attempts=-1,
                            reconnect_time_wait=0.2, disconnected_cb=on_disc,
                            reconnected_cb=on_reco)
    assert nc._server_info["server_name"] == "n1"
    sub_nc = await nats.connect("nats://127.0.0.1:%d" % cl.ports["n2"][0])
    pub_nc = await nats.connect("nats://127.0.0.1:%d" % cl.ports["n3"][0])
    got = []      # on n2: what the client published
    back = []     # on the client: (arrival time, seq) published on n3

    async def collect(msg):
        got.append(int(msg.data))

    async def collect_back(msg):
        back.append((time.monotonic(), int(msg.data)))

    await sub_nc.subscribe("docker.stream", cb=collect)
    await sub_nc.flush()
    await nc.subscribe("docker.back", cb=collect_back)
    await nc.flush()
    back_seq = 0
    stop = asyncio.Event()

    async def publish_back():
        nonlocal back_seq
        while not stop.is_set():
            back_seq += 1
            await pub_nc.publish("docker.back", b"%d" % back_seq)
            await asyncio.sleep(0.02)

    back_task = asyncio.create_task(publish_back())
    try:
        seq = 0
        # Until each subscription has crossed its route, the first ones
        # may miss: publish until both directions deliver.
        deadline = time.monotonic() + 15
        while not (got and back):
            assert time.monotonic() < deadline, "no cross-node delivery before the kill"
            seq += 1
            await nc.publish("docker.stream", b"%d" % seq)
            await nc.flush()
            await asyncio.sleep(0.05)
        killed_at = time.monotonic()
        run(cl.compose + ["-p", cl.project, "kill", "n1"], env=cl.env)
        kill_returned_at = time.monotonic()
        while not reconnected_at and time.monotonic() - killed_at < 30:
            seq += 1
            try:
                await nc.publish("docker.stream", b"%d" % seq)
            except Exception:
                pass  # buffered or refused while disconnected; not counted
            await asyncio.sleep(0.05)
        assert reconnected_at, "no reconnect within 30 s"
        took = (reconnected_at[0] - killed_at, reconnected_at[0] - kill_returned_at,
                reconnected_at[0] - disconnected_at[0])
        first_after = seq + 1
        for _ in range(50):
            seq += 1
            await nc.publish("docker.stream", b"%d" % seq)
        await nc.flush()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not set(range(first_after, seq + 1)) <= set(got):
            await asyncio.sleep(0.05)
        missing = set(range(first_after, seq + 1)) - set(got)
        assert not missing, "lost after reconnect: %r" % sorted(missing)[:10]
        # Its subscription was restored on the new node and crossed the
        # route to n3 again: n3's stream reaches it once more.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not any(t > reconnected_at[0] for t, _ in back):
            await asyncio.sleep(0.05)
        assert any(t > reconnected_at[0] for t, _ in back), "no message from n3 after reconnect"
        seqs = [s for _, s in back]
        assert seqs == sorted(set(seqs)), "n3's stream duplicated or reordered"
        assert events == {"disconnected": 1, "reconnected": 1}, events
        assert nc._server_info["server_name"] in ("n2", "n3")
        return took
    finally:
        stop.set()
        await back_task
        await nc.close()
        await sub_nc.close()
        await pub_nc.close()


def test_kill_node_client_fails_over(cluster):
    wait_healthy(cluster)
    wait_mesh(cluster)
    took = asyncio.run(failover(cluster))
    # The compose command's own start-up (Compose v1 is a Python program)
    # is part of the first figure; the last is the client's own failover.
    report("compose kill n1 -> client reconnected: %.0f ms from issuing the command, "
           "%.0f ms from its return, %.0f ms from the disconnected callback "
           "(reconnect_time_wait=0.2)" % tuple(t * 1000 for t in took))


def test_killed_node_rejoins(cluster):
    cluster.c("start", "n1")
    wait_healthy(cluster)
    wait_mesh(cluster)
    asyncio.run(cross_node(cluster))


def js_leader(cluster, nodes=NODES):
    """The node that every given node names as JetStream leader (/jsz)."""
    deadline = time.monotonic() + 30
    seen = {}
    while time.monotonic() < deadline:
        seen = {}
        for n in nodes:
            status, body = http_get(cluster.ports[n][1], "/jsz")
            seen[n] = (json.loads(body).get("meta_cluster") or {}).get("leader") \
                if status == 200 else None
        names = set(seen.values())
        if len(names) == 1 and None not in names and "" not in names:
            return names.pop()
        time.sleep(0.2)
    raise AssertionError("no JetStream leader all nodes agree on: %r" % seen)


async def jetstream_through_leader_kill(cluster):
    """An R3 stream and a durable pull consumer through `compose kill` of
    the leader's container and `compose start` of it again: every
    acknowledged publish is read back once, in order."""
    import nats
    servers = ["nats://127.0.0.1:%d" % cluster.ports[n][0] for n in NODES]
    nc = await nats.connect(servers=servers, max_reconnect_attempts=-1,
                            reconnect_time_wait=0.2, connect_timeout=2)
    js = nc.jetstream()
    deadline = time.monotonic() + 30
    while True:
        try:
            await js.add_stream(name="DOCKER", subjects=["docker.js.>"], num_replicas=3)
            break
        except Exception:
            assert time.monotonic() < deadline, "the JetStream API never answered"
            await asyncio.sleep(0.2)

    async def publish(i):
        end = time.monotonic() + 60
        while True:
            try:
                return await js.publish("docker.js.x", b"%d" % i, timeout=1,
                                        headers={"Nats-Msg-Id": "d%d" % i})
            except Exception:
                assert time.monotonic() < end, "publish %d never acknowledged" % i
                await asyncio.sleep(0.1)

    acked = [await publish(i) for i in range(50)]
    leader = js_leader(cluster)
    killed_at = time.monotonic()
    cluster.c("kill", leader)
    acked += [await publish(i) for i in range(50, 100)]
    first_after = time.monotonic() - killed_at
    cluster.c("start", leader)
    wait_healthy(cluster)
    js_leader(cluster)
    sub = await js.pull_subscribe("docker.js.x", durable="reader", stream="DOCKER")
    got = []
    end = time.monotonic() + 60
    while len(got) < 100 and time.monotonic() < end:
        try:
            for m in await sub.fetch(50, timeout=2):
                got.append(int(m.data))
                await m.ack_sync(timeout=5)
        except Exception:
            continue
    await nc.close()
    assert len({a.seq for a in acked}) == 100, "a publish acknowledged twice"
    assert got == list(range(100)), "read back: %r" % got[:20]
    return first_after


def test_jetstream_r3_survives_leader_container_kill(cluster):
    wait_healthy(cluster)
    wait_mesh(cluster)
    took = asyncio.run(jetstream_through_leader_kill(cluster))
    report("compose kill of the JetStream leader -> 50 more publishes acknowledged "
           "%.1f s after the kill; 100 acknowledged = 100 read" % took)


def test_compose_down_leaves_nothing(cluster):
    if os.environ.get("TERN_DOCKER_KEEP") == "1":
        pytest.skip("TERN_DOCKER_KEEP=1: the cluster is left running")
    cluster.down()
    left = cluster.leftovers()
    assert left == {"containers": [], "volumes": [], "networks": []}, left
