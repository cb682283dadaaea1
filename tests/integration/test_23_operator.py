"""23 Operator mode: JWT authentication with `operator`, `resolver: MEMORY`
and `resolver_preload`.

The operator, account and user keys are made here with the `nkeys` package
and the JWTs built here too (nats-io/jwt v2's format: base64url header and
claims, ed25519 signature of "header.payload" by the issuer), so no NATS
tool is needed. Logins go through nats-py's `user_credentials=` (.creds
files) or raw CONNECTs signing the INFO nonce.

spec/server-cli-config.md §3.2. The same tests run against nats-server
2.9.10 with TERN_REFERENCE=1, except Tern's own refusals.
"""

import asyncio
import base64
import hashlib
import json
import os
import signal
import time

import nkeys
import nats.errors
import pytest

from conftest import REFERENCE, run_binary, settle

AUTH_VIOLATION = b"-ERR 'Authorization Violation'"


# ---- keys and JWTs ----

def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def keypair(prefix):
    return nkeys.from_seed(nkeys.encode_seed(os.urandom(32), prefix))


def pub(kp):
    return kp.public_key.decode()


def encode(signer, sub, nats, **extra):
    """One JWT: claims with iss = the signer's key, a jti over the claims,
    signed by signer."""
    claims = {"iat": int(time.time()), "iss": pub(signer), "name": "t", "sub": sub}
    claims.update(extra)
    claims["nats"] = nats
    claims["jti"] = ""
    digest = hashlib.sha256(json.dumps(claims, separators=(",", ":")).encode()).digest()
    claims["jti"] = base64.b32encode(digest).decode().rstrip("=")
    header = b64(json.dumps({"typ": "JWT", "alg": "ed25519-nkey"}).encode())
    payload = b64(json.dumps(claims).encode())
    sig = signer.sign(f"{header}.{payload}".encode())
    return f"{header}.{payload}.{b64(sig)}"


def operator_jwt(okp, **nats):
    return encode(okp, pub(okp), dict({"type": "operator", "version": 2}, **nats))


NO_LIMITS = {"subs": -1, "data": -1, "payload": -1, "imports": -1, "exports": -1,
             "wildcards": True, "conn": -1, "leaf": -1}


def account_jwt(signer, akp, claims=None, **nats):
    body = {"type": "account", "version": 2, "limits": dict(NO_LIMITS)}
    body.update(nats)
    return encode(signer, pub(akp), body, **(claims or {}))


def user_jwt(signer, ukp, claims=None, **nats):
    body = {"pub": {}, "sub": {}, "subs": -1, "data": -1, "payload": -1,
            "type": "user", "version": 2}
    body.update(nats)
    return encode(signer, pub(ukp), body, **(claims or {}))


def creds_text(jwt, ukp):
    return ("-----BEGIN NATS USER JWT-----\n" + jwt + "\n------END NATS USER JWT------\n\n"
            "************************* IMPORTANT *************************\n\n"
            "-----BEGIN USER NKEY SEED-----\n" + ukp.seed.decode() +
            "\n------END USER NKEY SEED------\n")


class Trust:
    """An operator with accounts A (exports) and B (imports from A)."""

    def __init__(self, tmp_path):
        self.tmp = tmp_path
        self.op = keypair(nkeys.PREFIX_BYTE_OPERATOR)
        self.op_signing = keypair(nkeys.PREFIX_BYTE_OPERATOR)
        self.a = keypair(nkeys.PREFIX_BYTE_ACCOUNT)
        self.a_signing = keypair(nkeys.PREFIX_BYTE_ACCOUNT)
        self.b = keypair(nkeys.PREFIX_BYTE_ACCOUNT)
        self.revoked = keypair(nkeys.PREFIX_BYTE_USER)
        self.count = 0

    def preloads(self, revoke=()):
        revocations = {pub(k): int(time.time()) + 5 for k in (self.revoked, *revoke)}
        a = account_jwt(self.op, self.a, signing_keys=[pub(self.a_signing)],
                        exports=[{"name": "feed", "subject": "feed.>", "type": "stream"},
                                 {"name": "svc", "subject": "svc.>", "type": "service"}],
                        revocations=revocations)
        # B is signed by one of the operator's signing keys.
        b = account_jwt(self.op_signing, self.b,
                        imports=[{"name": "feed", "subject": "feed.>", "account": pub(self.a),
                                  "to": "from_a", "type": "stream"},
                                 {"name": "svc", "subject": "svc.echo", "account": pub(self.a),
                                  "local_subject": "echo", "type": "service"}])
        return {pub(self.a): a, pub(self.b): b}

    def config(self, extra="", revoke=()):
        op = self.tmp / "operator.jwt"
        op.write_text("-----BEGIN NATS OPERATOR JWT-----\n" +
                      operator_jwt(self.op, signing_keys=[pub(self.op_signing)]) +
                      "\n------END NATS OPERATOR JWT------\n")
        lines = "\n".join(f"  {k}: {v}" for k, v in self.preloads(revoke).items())
        return (f"operator: {op}\nresolver: MEMORY\nresolver_preload: {{\n{lines}\n}}\n"
                + extra)

    def user(self, account=None, signer=None, ukp=None, claims=None, **nats):
        """A .creds file for a new user of account (default A); returns
        (path, user keypair, jwt)."""
        account = account or self.a
        ukp = ukp or keypair(nkeys.PREFIX_BYTE_USER)
        jwt = user_jwt(signer or account, ukp, claims, **nats)
        self.count += 1
        path = self.tmp / f"user{self.count}.creds"
        path.write_text(creds_text(jwt, ukp))
        return path, ukp, jwt


@pytest.fixture
def trust(tmp_path):
    return Trust(tmp_path)


@pytest.fixture
def op_server(server_factory, trust):
    return server_factory.start(config=trust.config())


def raw_login(srv, raw, jwt, ukp, sign_with=None, verbose=True):
    """A raw CONNECT with jwt and the nonce signed; returns (INFO, first line)."""
    rc = raw(srv)
    info = rc.read_info()
    nonce = info.get("nonce", "")
    sig = b64((sign_with or ukp).sign(nonce.encode()))
    rc.send(b"CONNECT " + json.dumps({"jwt": jwt, "sig": sig, "verbose": verbose,
                                      "protocol": 1}).encode() + b"\r\nPING\r\n")
    return rc, info, rc.read_line()


# ---- logins ----

async def test_creds_file_login(op_server, trust, nats_connect):
    creds, _, _ = trust.user()
    nc = await nats_connect(op_server, user_credentials=str(creds))
    got = []

    async def cb(msg):
        got.append(msg.data)
    await nc.subscribe("hello", cb=cb)
    await settle(nc)
    await nc.publish("hello", b"world")
    await nc.flush()
    await asyncio.sleep(0.1)
    assert got == [b"world"]


def test_info_carries_a_nonce(op_server, raw):
    info = raw(op_server).read_info()
    assert info["auth_required"] is True
    assert len(info["nonce"]) > 0


def test_raw_login_and_verbose_ok(op_server, trust, raw):
    _, ukp, jwt = trust.user()
    rc, _, line = raw_login(op_server, raw, jwt, ukp)
    assert line.startswith(b"+OK")
    assert rc.read_line().startswith(b"PONG")


def test_user_issued_by_account_signing_key(op_server, trust, raw):
    _, ukp, jwt = trust.user(signer=trust.a_signing, issuer_account=pub(trust.a))
    _, _, line = raw_login(op_server, raw, jwt, ukp)
    assert line.startswith(b"+OK")


def test_bearer_token_needs_no_signature(op_server, trust, raw):
    _, ukp, jwt = trust.user(bearer_token=True)
    rc = raw(op_server)
    rc.read_info()
    rc.send(b'CONNECT {"jwt":"' + jwt.encode() + b'","verbose":true}\r\n')
    assert rc.read_line().startswith(b"+OK")


# ---- refusals: every one is nats-server's Authorization Violation ----

def refusal_cases(trust):
    now = int(time.time())
    other_account = keypair(nkeys.PREFIX_BYTE_ACCOUNT)
    u = keypair(nkeys.PREFIX_BYTE_USER)
    return {
        "expired": (trust.user(claims={"exp": now - 10})[1:], None),
        "not yet valid": (trust.user(claims={"nbf": now + 600})[1:], None),
        "revoked": (trust.user(ukp=trust.revoked)[1:], None),
        "bad signature": (trust.user()[1:], keypair(nkeys.PREFIX_BYTE_USER)),
        "unknown account": (trust.user(account=other_account)[1:], None),
        "signing key not named": (trust.user(signer=trust.a_signing)[1:], None),
        "signing key of another account": (
            trust.user(signer=other_account, issuer_account=pub(trust.a))[1:], None),
        "forged claims": ((u, user_jwt(trust.a, u)[:-8] + "AAAAAAAA"), None),
    }


def test_refused_credentials(op_server, trust, raw):
    for name, ((ukp, jwt), sign_with) in refusal_cases(trust).items():
        rc, _, line = raw_login(op_server, raw, jwt, ukp, sign_with=sign_with)
        assert line.startswith(AUTH_VIOLATION), (name, line)
        rc.assert_closed()


def test_connect_without_jwt_refused(op_server, raw):
    rc = raw(op_server)
    rc.read_info()
    rc.send(b'CONNECT {"verbose":false,"user":"a","pass":"a"}\r\nPING\r\n')
    assert rc.read_line().startswith(AUTH_VIOLATION)
    rc.assert_closed()


async def test_expired_creds_with_nats_py(op_server, trust, nats_connect):
    creds, _, _ = trust.user(claims={"exp": int(time.time()) - 10})
    with pytest.raises(Exception) as ei:
        await nats_connect(op_server, user_credentials=str(creds))
    assert "Authorization Violation" in str(ei.value) or \
        isinstance(ei.value, nats.errors.NoServersError)


def test_expiry_closes_the_connection(op_server, trust, raw):
    _, ukp, jwt = trust.user(claims={"exp": int(time.time()) + 2})
    rc, _, line = raw_login(op_server, raw, jwt, ukp, verbose=False)
    assert line.startswith(b"PONG")
    deadline = time.monotonic() + 6
    while time.monotonic() < deadline:
        line = rc.read_line(timeout=6)
        if line.startswith(b"-ERR"):
            break
    assert line.startswith(b"-ERR 'User Authentication Expired'")
    rc.assert_closed()


# ---- what the JWTs carry ----

async def test_permissions_from_the_user_jwt(op_server, trust, nats_connect):
    creds, _, _ = trust.user(pub={"allow": ["ok.>", "_INBOX.>"]},
                             sub={"allow": ["ok.>", "_INBOX.>"], "deny": ["ok.secret"]})
    nc = await nats_connect(op_server, user_credentials=str(creds))
    got = []

    async def cb(msg):
        got.append(msg.subject)
    await nc.subscribe("ok.>", cb=cb)
    await nc.subscribe("no.>", cb=cb)
    await settle(nc)
    await nc.publish("ok.1", b"")
    await nc.publish("no.1", b"")
    await nc.publish("ok.secret", b"")
    await nc.flush()
    await asyncio.sleep(0.2)
    assert got == ["ok.1"]
    errs = " ".join(str(e) for e in nc.test_errors).lower()
    assert 'permissions violation for subscription to "no.>"' in errs
    assert 'permissions violation for publish to "no.1"' in errs


def test_response_permission_from_the_user_jwt(op_server, trust, raw):
    _, ukp, jwt = trust.user(pub={"allow": ["x"]}, resp={"max": 1, "ttl": 0})
    svc, _, line = raw_login(op_server, raw, jwt, ukp, verbose=False)
    assert line.startswith(b"PONG")
    svc.send(b"SUB svc.q 1\r\nPING\r\n")
    svc.expect(b"PONG\r\n")
    _, ukp2, jwt2 = trust.user()
    req, _, _ = raw_login(op_server, raw, jwt2, ukp2, verbose=False)
    req.send(b"SUB reply.here 1\r\nPUB svc.q reply.here 2\r\nhi\r\nPING\r\n")
    req.expect(b"PONG\r\n")
    msg = svc.read_msg()
    assert msg["subject"] == "svc.q" and msg["reply"] == "reply.here"
    svc.send(b"PUB reply.here 3\r\nyes\r\nPUB reply.here 4\r\nmore\r\nPUB other 0\r\n\r\nPING\r\n")
    lines = [svc.read_line() for _ in range(3)]
    assert lines[0].startswith(b"-ERR 'Permissions Violation for Publish to \"reply.here\"'")
    assert lines[1].startswith(b"-ERR 'Permissions Violation for Publish to \"other\"'")
    got = req.read_msg()
    assert got["subject"] == "reply.here" and got["payload"] == b"yes"


def test_subscription_limit_from_the_user_jwt(op_server, trust, raw):
    _, ukp, jwt = trust.user(subs=1)
    rc, _, line = raw_login(op_server, raw, jwt, ukp, verbose=False)
    assert line.startswith(b"PONG")
    rc.send(b"SUB a 1\r\nSUB b 2\r\nPING\r\n")
    assert rc.read_line().startswith(b"-ERR 'maximum subscriptions exceeded'")


def test_payload_limit_from_the_account_jwt(server_factory, trust, raw, tmp_path):
    limited = keypair(nkeys.PREFIX_BYTE_ACCOUNT)
    preloads = trust.preloads()
    preloads[pub(limited)] = account_jwt(trust.op, limited,
                                         limits=dict(NO_LIMITS, payload=8))
    conf = trust.config().split("resolver_preload")[0] + "resolver_preload: {\n" + \
        "\n".join(f"  {k}: {v}" for k, v in preloads.items()) + "\n}\n"
    srv = server_factory.start(config=conf)
    _, ukp, jwt = trust.user(account=limited)
    rc, _, line = raw_login(srv, raw, jwt, ukp, verbose=False)
    assert line.startswith(b"PONG")
    info = rc.read_line()  # after the first PONG: INFO with the lower limit
    assert info.startswith(b"INFO ") and json.loads(info[5:])["max_payload"] == 8
    rc.send(b"PUB a 8\r\n12345678\r\nPING\r\n")
    assert rc.read_line().startswith(b"PONG")
    rc.send(b"PUB a 9\r\n123456789\r\n")
    assert rc.read_line().startswith(b"-ERR 'Maximum Payload Violation'")
    rc.assert_closed()


def test_connection_limit_from_the_account_jwt(server_factory, trust, raw):
    limited = keypair(nkeys.PREFIX_BYTE_ACCOUNT)
    preloads = {pub(limited): account_jwt(trust.op, limited, limits=dict(NO_LIMITS, conn=1))}
    lines = "\n".join(f"  {k}: {v}" for k, v in preloads.items())
    conf = trust.config().split("resolver_preload")[0] + f"resolver_preload: {{\n{lines}\n}}\n"
    srv = server_factory.start(config=conf)
    _, ukp, jwt = trust.user(account=limited)
    first, _, line = raw_login(srv, raw, jwt, ukp, verbose=False)
    assert line.startswith(b"PONG")
    second, _, line = raw_login(srv, raw, jwt, ukp, verbose=False)
    assert line.startswith(b"-ERR 'maximum account active connections exceeded'")
    second.assert_closed()
    first.close()
    # The slot is free again once the first connection is gone.
    deadline = time.monotonic() + 5
    while True:
        third, _, line = raw_login(srv, raw, jwt, ukp, verbose=False)
        if line.startswith(b"PONG") or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert line.startswith(b"PONG")


async def test_accounts_are_isolated(op_server, trust, nats_connect):
    a = await nats_connect(op_server, user_credentials=str(trust.user()[0]))
    b = await nats_connect(op_server, user_credentials=str(trust.user(account=trust.b)[0]))
    got = {"a": [], "b": []}
    for k, nc in (("a", a), ("b", b)):
        async def cb(msg, k=k):
            got[k].append(msg.data)
        await nc.subscribe("iso", cb=cb)
        await settle(nc)
    await a.publish("iso", b"from a")
    await b.publish("iso", b"from b")
    await a.flush()
    await b.flush()
    await asyncio.sleep(0.2)
    assert got == {"a": [b"from a"], "b": [b"from b"]}


async def test_imports_from_the_account_jwts(op_server, trust, nats_connect):
    a = await nats_connect(op_server, user_credentials=str(trust.user()[0]))
    b = await nats_connect(op_server, user_credentials=str(trust.user(account=trust.b)[0]))
    got = []

    async def cb(msg):
        got.append((msg.subject, msg.data))
    await b.subscribe("from_a.>", cb=cb)
    await settle(b)

    async def echo(msg):
        await msg.respond(b"echo:" + msg.data)
    await a.subscribe("svc.echo", cb=echo)
    await settle(a)
    await a.publish("feed.x", b"1")
    await a.flush()
    reply = await b.request("echo", b"hi", timeout=2)
    assert reply.data == b"echo:hi"
    await asyncio.sleep(0.1)
    assert got == [("from_a.feed.x", b"1")]


# ---- options ----

def check_refused(tmp_path, text, want, tern_only=False):
    conf = tmp_path / "bad.conf"
    conf.write_text(text)
    r = subprocess_run(conf)
    out = r.stdout + r.stderr
    assert r.returncode != 0, out
    if not (REFERENCE and tern_only):
        assert want in out, out


def subprocess_run(conf):
    # Not -t: nats-server checks operators only when it starts for real;
    # every case here fails before it listens.
    return run_binary("-c", str(conf), "-a", "127.0.0.1", "-p", "-1", timeout=10)


def test_config_refusals(trust, tmp_path):
    base = trust.config()
    check_refused(tmp_path, base + "accounts { X: {} }\n",
                  "operators do not allow Accounts to be configured directly")
    check_refused(tmp_path, base + "authorization { users: [{user: a, password: b}] }\n",
                  "operators do not allow users to be configured directly")
    check_refused(tmp_path, base + "system_account: " + pub(keypair(nkeys.PREFIX_BYTE_ACCOUNT)),
                  "error resolving system account: account missing")
    check_refused(tmp_path, base.replace("resolver: MEMORY", 'resolver: BOGUS'),
                  "error parsing account resolver, should be MEM or")
    check_refused(tmp_path, "operator: /nonexistent/op.jwt\nresolver: MEMORY\n",
                  "error parsing operator JWT: open /nonexistent/op.jwt")
    u = user_jwt(trust.a, keypair(nkeys.PREFIX_BYTE_USER))
    check_refused(tmp_path, f"operator: {u}\nresolver: MEMORY\n",
                  "error parsing operator JWT: not operator claim")
    check_refused(tmp_path, base.replace("resolver_preload: {",
                                         "resolver_preload: {\n  " +
                                         pub(keypair(nkeys.PREFIX_BYTE_ACCOUNT)) + ": eyJx.y.z"),
                  "invalid account JWT")


def test_tern_only_config_refusals(trust, tmp_path):
    if REFERENCE:
        pytest.skip("Tern's own refusals")
    base = trust.config()
    check_refused(tmp_path, base.replace("resolver: MEMORY",
                                         'resolver: URL("http://127.0.0.1:9/accounts/")'),
                  "resolver URL is not supported by Tern", tern_only=True)
    check_refused(tmp_path, base.replace("resolver: MEMORY",
                                         "resolver: {type: full, dir: '.'}"),
                  "is not supported by Tern", tern_only=True)
    check_refused(tmp_path, base.replace("resolver: MEMORY\n", ""),
                  "operators require an account resolver to be configured", tern_only=True)
    stranger = keypair(nkeys.PREFIX_BYTE_OPERATOR)
    acc = keypair(nkeys.PREFIX_BYTE_ACCOUNT)
    check_refused(tmp_path, base.replace("resolver_preload: {", "resolver_preload: {\n  " +
                                         pub(acc) + ": " + account_jwt(stranger, acc)),
                  "not signed by the operator or one of its signing keys", tern_only=True)
    check_refused(tmp_path, base.replace("resolver_preload: {", "resolver_preload: {\n  " +
                                         pub(keypair(nkeys.PREFIX_BYTE_ACCOUNT)) + ": " +
                                         account_jwt(trust.op, acc)),
                  "the JWT is account", tern_only=True)


def test_operator_inline_and_system_account(server_factory, trust, raw):
    sys_acc = keypair(nkeys.PREFIX_BYTE_ACCOUNT)
    op = operator_jwt(trust.op, system_account=pub(sys_acc))
    preload = {pub(trust.a): trust.preloads()[pub(trust.a)],
               pub(sys_acc): account_jwt(trust.op, sys_acc)}
    lines = "\n".join(f"  {k}: {v}" for k, v in preload.items())
    srv = server_factory.start(config=f"operator: {op}\nresolver: MEM\n"
                                      f"resolver_preload: {{\n{lines}\n}}\n")
    _, ukp, jwt = trust.user()
    _, _, line = raw_login(srv, raw, jwt, ukp)
    assert line.startswith(b"+OK")


def test_reload_applies_new_revocations(server_factory, trust, raw):
    srv = server_factory.start(config=trust.config())
    _, ukp, jwt = trust.user()
    _, _, line = raw_login(srv, raw, jwt, ukp)
    assert line.startswith(b"+OK")
    srv.config_path.write_text(trust.config(revoke=[ukp]))
    srv.send_signal(signal.SIGHUP)
    srv.wait_for_log(r"Reloaded")
    _, _, line = raw_login(srv, raw, jwt, ukp)
    assert line.startswith(AUTH_VIOLATION)


async def test_jetstream_limits_from_the_account_jwt(server_factory, trust, nats_connect):
    js_acc = keypair(nkeys.PREFIX_BYTE_ACCOUNT)
    limits = dict(NO_LIMITS, mem_storage=1000000, disk_storage=64000, streams=2, consumer=1)
    # nats-server's JetStream needs a system account in operator mode
    sys_acc = keypair(nkeys.PREFIX_BYTE_ACCOUNT)
    preloads = {pub(js_acc): account_jwt(trust.op, js_acc, limits=limits),
                pub(sys_acc): account_jwt(trust.op, sys_acc)}
    lines = "\n".join(f"  {k}: {v}" for k, v in preloads.items())
    conf = (trust.config().split("resolver_preload")[0] +
            f"resolver_preload: {{\n{lines}\n}}\nsystem_account: {pub(sys_acc)}\n")
    srv = server_factory.start(config=conf, jetstream=True)
    creds, _, _ = trust.user(account=js_acc)
    nc = await nats_connect(srv, user_credentials=str(creds))
    info = json.loads((await nc.request("$JS.API.INFO", b"", timeout=2)).data)
    assert {k: info["limits"][k] for k in ("max_memory", "max_storage", "max_streams",
                                           "max_consumers")} == {
        "max_memory": 1000000, "max_storage": 64000, "max_streams": 2, "max_consumers": 1}
    js = nc.jetstream()
    await js.add_stream(name="S1", subjects=["s1"])
    await js.add_stream(name="S2", subjects=["s2"])
    r = json.loads((await nc.request("$JS.API.STREAM.CREATE.S3",
                                      json.dumps({"name": "S3", "subjects": ["s3"]}).encode(),
                                      timeout=2)).data)
    assert r["error"]["err_code"] == 10027, r


async def test_connz_names_the_jwt_user_and_account(server_factory, trust, nats_connect):
    srv = server_factory.start(config=trust.config(), monitor=True)
    creds, ukp, _ = trust.user()
    await nats_connect(srv, user_credentials=str(creds), name="jwt-client")
    conns = [c for c in srv.http_json("/connz?auth=1")["connections"]
             if c.get("name") == "jwt-client"]
    assert len(conns) == 1
    assert conns[0]["authorized_user"] == pub(ukp)
    assert conns[0]["account"] == pub(trust.a)
