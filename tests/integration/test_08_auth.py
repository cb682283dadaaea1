"""08 auth: user/password, token, users in a config file, auth timeout,
publish/subscribe permissions.

spec/client-protocol.md §1.1, §2, §4.2, §5, §7.1, §14;
spec/server-cli-config.md §1.4, §3.2.
"""

import json
import time

import nats.errors
import pytest

from conftest import async_wait_for, settle

USERS_CONF = """
authorization {
  users = [
    { user: alice, password: alicepw }
    { user: bob, password: "bob pw" }
  ]
}
"""

PERMS_CONF = """
authorization {
  users = [
    { user: limited, password: pw, permissions: {
        publish:   { allow: ["allowed.>", "feed.>"], deny: ["allowed.secret"] }
        subscribe: { allow: ["feed.>", "_INBOX.>"], deny: ["feed.private"] }
      } }
    { user: oldstyle, password: pw, permissions: {
        publish: ["only.this", "bar"]
        subscribe: "bar"
      } }
    { user: admin, password: pw }
  ]
}
"""


def connect_line(**fields):
    obj = {"verbose": False, "pedantic": False, "protocol": 1}
    obj.update(fields)
    return b"CONNECT " + json.dumps(obj).encode() + b"\r\n"


def raw_login(raw, srv, **creds):
    c = raw(srv)
    info = c.read_info()
    assert info.get("auth_required") is True
    c.send(connect_line(**creds) + b"PING\r\n")
    return c


def assert_auth_violation(c):
    assert c.assert_closed() == b"-ERR 'Authorization Violation'\r\n"


async def assert_nats_py_refused(nats_connect, srv, **kw):
    with pytest.raises(nats.errors.Error) as ei:
        await nats_connect(srv, **kw)
    assert "Authorization Violation" in str(ei.value)


# ---- user/password from the command line ---------------------------------

def test_user_pass_flags_raw(server_factory, raw):
    srv = server_factory.start("--user", "alice", "--pass", "s3cret")
    assert_auth_violation(raw_login(raw, srv, user="alice", **{"pass": "wrong"}))
    assert_auth_violation(raw_login(raw, srv, user="mallory", **{"pass": "s3cret"}))
    assert_auth_violation(raw_login(raw, srv))  # no credentials at all
    ok = raw_login(raw, srv, user="alice", **{"pass": "s3cret"})
    ok.expect(b"PONG\r\n")


async def test_user_pass_flags_nats_py(server_factory, nats_connect):
    srv = server_factory.start("--user", "alice", "--pass", "s3cret")
    await assert_nats_py_refused(nats_connect, srv, user="alice", password="nope")
    await assert_nats_py_refused(nats_connect, srv)
    nc = await nats_connect(srv, user="alice", password="s3cret")
    await nc.flush()
    nc2 = await nats_connect(f"nats://alice:s3cret@127.0.0.1:{srv.port}")
    await nc2.flush()


def test_op_before_connect_with_auth_is_violation(server_factory, raw):
    srv = server_factory.start("--user", "alice", "--pass", "s3cret")
    c = raw(srv)
    c.read_info()
    c.send(b"PING\r\n")
    assert_auth_violation(c)


# ---- token -----------------------------------------------------------------

def test_token_flag_raw(server_factory, raw):
    srv = server_factory.start("--auth", "t0ken")
    assert_auth_violation(raw_login(raw, srv, auth_token="wrong"))
    assert_auth_violation(raw_login(raw, srv, user="t0ken", **{"pass": "t0ken"}))
    raw_login(raw, srv, auth_token="t0ken").expect(b"PONG\r\n")


async def test_token_flag_nats_py(server_factory, nats_connect):
    srv = server_factory.start("--auth", "t0ken")
    await assert_nats_py_refused(nats_connect, srv, token="bad")
    nc = await nats_connect(srv, token="t0ken")
    await nc.flush()


def test_token_in_config(server_factory, raw):
    srv = server_factory.start(config='authorization { token: "cfgtok" }\n')
    assert_auth_violation(raw_login(raw, srv, auth_token="x"))
    raw_login(raw, srv, auth_token="cfgtok").expect(b"PONG\r\n")


# ---- users in a config file ------------------------------------------------

async def test_users_from_config(server_factory, nats_connect, raw):
    srv = server_factory.start(config=USERS_CONF)
    await assert_nats_py_refused(nats_connect, srv, user="alice", password="bob pw")
    await assert_nats_py_refused(nats_connect, srv, user="carol", password="alicepw")
    a = await nats_connect(srv, user="alice", password="alicepw")
    b = await nats_connect(srv, user="bob", password="bob pw")
    got = []

    async def cb(msg):
        got.append(msg.data)

    await a.subscribe("shared", cb=cb)
    await settle(a)
    await b.publish("shared", b"hi")
    await async_wait_for(lambda: got == [b"hi"])


def test_single_user_in_config(server_factory, raw):
    srv = server_factory.start(config="authorization { user: u1, password: p1 }\n")
    assert_auth_violation(raw_login(raw, srv, user="u1", **{"pass": "p2"}))
    raw_login(raw, srv, user="u1", **{"pass": "p1"}).expect(b"PONG\r\n")


def test_auth_timeout(server_factory, raw):
    srv = server_factory.start(config="authorization { user: u, password: p, timeout: 1 }\n")
    c = raw(srv)
    t0 = time.monotonic()
    c.read_info()
    data = c.assert_closed(timeout=5)
    elapsed = time.monotonic() - t0
    assert data == b"-ERR 'Authentication Timeout'\r\n"
    assert elapsed >= 0.8, f"auth timeout fired after only {elapsed:.2f}s"


def test_no_auth_timeout_once_connected(server_factory, raw):
    srv = server_factory.start(config="authorization { user: u, password: p, timeout: 1 }\n")
    c = raw_login(raw, srv, user="u", **{"pass": "p"})
    c.expect(b"PONG\r\n")
    # Stay past the auth timeout (1 s): the logged-in connection must
    # survive. A fixed wait is the point here.
    time.sleep(1.3)
    c.assert_open()


# ---- permissions -----------------------------------------------------------

def test_publish_permission_violation(server_factory, raw):
    srv = server_factory.start(config=PERMS_CONF)
    admin = raw_login(raw, srv, user="admin", **{"pass": "pw"})
    admin.expect(b"PONG\r\n")
    admin.send(b"SUB > 1\r\n")
    admin.ping_pong()

    c = raw_login(raw, srv, user="limited", **{"pass": "pw"})
    c.expect(b"PONG\r\n")
    c.send(b"PUB denied.x 1\r\na\r\n")
    c.expect(b"-ERR 'Permissions Violation for Publish to \"denied.x\"'\r\n")
    c.send(b"PUB allowed.secret 1\r\nb\r\n")
    c.expect(b"-ERR 'Permissions Violation for Publish to \"allowed.secret\"'\r\n")
    c.assert_open()
    c.send(b"PUB allowed.ok 1\r\nc\r\n")
    # Same publisher, so order holds: had a refused message been routed it
    # would arrive before this one.
    admin.expect(b"MSG allowed.ok 1 1\r\nc\r\n")


def test_subscribe_permission_violation(server_factory, raw):
    srv = server_factory.start(config=PERMS_CONF)
    c = raw_login(raw, srv, user="limited", **{"pass": "pw"})
    c.expect(b"PONG\r\n")
    c.send(b"SUB other 1\r\n")
    c.expect(b"-ERR 'Permissions Violation for Subscription to \"other\"'\r\n")
    c.send(b"SUB feed.private 2\r\n")
    c.expect(b"-ERR 'Permissions Violation for Subscription to \"feed.private\"'\r\n")
    c.send(b"SUB other grp 3\r\n")
    c.expect(b"-ERR 'Permissions Violation for Subscription to \"other\" using queue \"grp\"'\r\n")
    c.send(b"SUB feed.ok 4\r\n")
    c.assert_open()

    admin = raw_login(raw, srv, user="admin", **{"pass": "pw"})
    admin.expect(b"PONG\r\n")
    admin.send(b"PUB other 1\r\nx\r\nPUB feed.private 1\r\ny\r\nPUB feed.ok 1\r\nz\r\n")
    # Refused subscriptions do not exist: the first delivery is sid 4's.
    c.expect(b"MSG feed.ok 4 1\r\nz\r\n")


def test_old_style_permission_lists(server_factory, raw):
    srv = server_factory.start(config=PERMS_CONF)
    c = raw_login(raw, srv, user="oldstyle", **{"pass": "pw"})
    c.expect(b"PONG\r\n")
    c.send(b"SUB bar 1\r\nSUB foo 3\r\n")
    c.expect(b"-ERR 'Permissions Violation for Subscription to \"foo\"'\r\n")
    c.send(b"PUB only.that 1\r\nx\r\n")
    c.expect(b"-ERR 'Permissions Violation for Publish to \"only.that\"'\r\n")
    c.send(b"PUB only.this 1\r\nx\r\nPUB bar 1\r\ny\r\n")
    c.expect(b"MSG bar 1 1\r\ny\r\n")


async def test_permission_errors_reach_nats_py_and_connection_stays(server_factory,
                                                                     nats_connect):
    srv = server_factory.start(config=PERMS_CONF)
    nc = await nats_connect(srv, user="limited", password="pw")
    got = []

    async def cb(msg):
        got.append(msg.data)

    await nc.subscribe("feed.news", cb=cb)
    await nc.publish("denied.topic", b"nope")
    await async_wait_for(lambda: nc.test_errors, what="permission error")
    # nats-py lower-cases the text; the exact case is checked on raw sockets.
    assert 'permissions violation for publish to "denied.topic"' in str(nc.test_errors[0]).lower()
    await nc.subscribe("secret.stuff")
    await async_wait_for(lambda: len(nc.test_errors) == 2, what="second error")
    assert ('permissions violation for subscription to "secret.stuff"'
            in str(nc.test_errors[1]).lower())
    # Still connected and working.
    await nc.publish("feed.news", b"ok")
    await async_wait_for(lambda: got == [b"ok"])
    assert nc.is_connected


def test_verbose_no_ok_for_refused_operations(server_factory, raw):
    srv = server_factory.start(config=PERMS_CONF)
    c = raw(srv)
    c.read_info()
    c.send(connect_line(verbose=True, user="limited", **{"pass": "pw"}))
    c.expect(b"+OK\r\n")
    c.send(b"PUB denied.x 1\r\na\r\nSUB other 1\r\nSUB feed.ok 2\r\n")
    # Refused PUB and SUB get their error and no +OK; the good SUB gets +OK.
    c.expect(b"-ERR 'Permissions Violation for Publish to \"denied.x\"'\r\n"
             b"-ERR 'Permissions Violation for Subscription to \"other\"'\r\n"
             b"+OK\r\n")
    c.assert_open()


# bcrypt("bcpw") with cost 10, made once with libxcrypt ($2a$ form: an
# unquoted value with that prefix is not a $variable). The server must
# accept the plain password against it and refuse the hash text itself.
BCRYPT_PW = "$2a$10$CE3nABxkf4CQ3tCljvNGWumR6OuOwhOzm/eqZ1OG04RRbblMSa6Ha"


def test_bcrypt_password_in_config(server_factory, raw):
    srv = server_factory.start(config=f"authorization {{ users = [ "
                                      f"{{ user: hashed, password: {BCRYPT_PW} }} ] }}\n")
    assert_auth_violation(raw_login(raw, srv, user="hashed", **{"pass": BCRYPT_PW}))
    raw_login(raw, srv, user="hashed", **{"pass": "bcpw"}).expect(b"PONG\r\n")


# ---- allow_responses ---------------------------------------------------------
# A user with allow_responses may publish to the reply subject of a message
# it was delivered, though its publish permissions refuse the subject: max
# answers (default 1) within expires (default 2m) of the delivery. Without
# a publish allow list it may publish nowhere else.

RESP_CONF = """
authorization {
  users = [
    { user: svc, password: pw, permissions: {
        publish: { deny: ["_INBOX.>"] }, subscribe: "req.>", allow_responses: true } }
    { user: svc2, password: pw, permissions: {
        publish: { allow: ["notes.>"], deny: ["_INBOX.>"] }, subscribe: "req.>",
        allow_responses: { max: 2, expires: "1s" } } }
    { user: svcinf, password: pw, permissions: {
        subscribe: "req.>", allow_responses: { max: -1 } } }
    { user: plain, password: pw, permissions: {
        publish: { deny: ["_INBOX.>"] }, subscribe: "req.>" } }
    { user: client, password: pw }
  ]
}
"""


def resp_service(raw, srv, user):
    c = raw_login(raw, srv, user=user, **{"pass": "pw"})
    c.expect(b"PONG\r\n")
    c.send(b"SUB req.> 1\r\n")
    c.ping_pong()
    return c


def resp_client(raw, srv):
    c = raw_login(raw, srv, user="client", **{"pass": "pw"})
    c.expect(b"PONG\r\n")
    c.send(b"SUB _INBOX.> 9\r\n")
    c.ping_pong()
    return c


def refused(subject):
    return f"-ERR 'Permissions Violation for Publish to \"{subject}\"'\r\n".encode()


async def test_allow_responses_nats_py_service_answers(server_factory, nats_connect):
    srv = server_factory.start(config=RESP_CONF)
    svc = await nats_connect(srv, user="svc", password="pw")

    async def answer(msg):
        await msg.respond(b"pong:" + msg.data)

    await svc.subscribe("req.ping", cb=answer)
    await settle(svc)
    cli = await nats_connect(srv, user="client", password="pw")
    for i in range(3):
        got = await cli.request("req.ping", b"%d" % i, timeout=3)
        assert got.data == b"pong:%d" % i
    assert svc.test_errors == []
    # Nothing but answers: the blanket publish allow is off.
    await svc.publish("elsewhere", b"x")
    await async_wait_for(lambda: svc.test_errors, what="permission error")
    assert 'permissions violation for publish to "elsewhere"' in str(svc.test_errors[0]).lower()


async def test_without_allow_responses_the_request_times_out(server_factory, nats_connect):
    srv = server_factory.start(config=RESP_CONF)
    svc = await nats_connect(srv, user="plain", password="pw")

    async def answer(msg):
        await msg.respond(b"never")

    await svc.subscribe("req.ping", cb=answer)
    await settle(svc)
    cli = await nats_connect(srv, user="client", password="pw")
    with pytest.raises(nats.errors.TimeoutError):
        await cli.request("req.ping", b"x", timeout=1)
    await async_wait_for(lambda: svc.test_errors, what="permission error")
    assert "permissions violation for publish to \"_inbox." in str(svc.test_errors[0]).lower()


def test_allow_responses_one_answer_by_default(server_factory, raw):
    srv = server_factory.start(config=RESP_CONF)
    svc = resp_service(raw, srv, "svc")
    cli = resp_client(raw, srv)
    cli.send(b"PUB req.a _INBOX.r1 1\r\nq\r\n")
    assert svc.read_msg()["reply"] == "_INBOX.r1"
    svc.send(b"PUB _INBOX.r1 2\r\nr1\r\nPUB _INBOX.r1 2\r\nr2\r\n")
    svc.expect(refused("_INBOX.r1"))
    cli.expect(b"MSG _INBOX.r1 9 2\r\nr1\r\n")
    # A reply never delivered to the service is refused, and so is its own
    # inbox-like subject that no request named.
    svc.send(b"PUB _INBOX.other 1\r\nx\r\n")
    svc.expect(refused("_INBOX.other"))
    # The same reply delivered again may be answered once more.
    cli.send(b"PUB req.b _INBOX.r1 1\r\nq\r\n")
    assert svc.read_msg()["reply"] == "_INBOX.r1"
    svc.send(b"PUB _INBOX.r1 2\r\nr3\r\n")
    cli.expect(b"MSG _INBOX.r1 9 2\r\nr3\r\n")
    svc.ping_pong()  # no -ERR before the PONG
    svc.assert_open()


def test_allow_responses_max_and_expires(server_factory, raw):
    srv = server_factory.start(config=RESP_CONF)
    svc = resp_service(raw, srv, "svc2")
    cli = resp_client(raw, srv)
    cli.send(b"PUB req.a _INBOX.m 1\r\nq\r\n")
    assert svc.read_msg()["reply"] == "_INBOX.m"
    svc.send(b"PUB _INBOX.m 1\r\n1\r\nPUB _INBOX.m 1\r\n2\r\nPUB _INBOX.m 1\r\n3\r\n")
    svc.expect(refused("_INBOX.m"))
    cli.expect(b"MSG _INBOX.m 9 1\r\n1\r\nMSG _INBOX.m 9 1\r\n2\r\n")
    # Its allow list still applies as usual.
    svc.send(b"PUB notes.x 1\r\nn\r\n")
    svc.ping_pong()

    cli.send(b"PUB req.b _INBOX.late 1\r\nq\r\n")
    assert svc.read_msg()["reply"] == "_INBOX.late"
    time.sleep(1.3)  # past expires: 1s
    svc.send(b"PUB _INBOX.late 1\r\nx\r\n")
    svc.expect(refused("_INBOX.late"))
    cli.send(b"PING\r\n")
    cli.expect(b"PONG\r\n")  # nothing arrived before it


def test_allow_responses_no_limit(server_factory, raw):
    srv = server_factory.start(config=RESP_CONF)
    svc = resp_service(raw, srv, "svcinf")
    cli = resp_client(raw, srv)
    cli.send(b"PUB req.a _INBOX.n 1\r\nq\r\n")
    assert svc.read_msg()["reply"] == "_INBOX.n"
    svc.send(b"PUB _INBOX.n 1\r\nx\r\n" * 5)
    for _ in range(5):
        cli.expect(b"MSG _INBOX.n 9 1\r\nx\r\n")
    svc.send(b"PUB req.a 1\r\nx\r\n")  # no allow list: nothing else
    svc.expect(refused("req.a"))
