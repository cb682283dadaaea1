"""17 NKEY users: the INFO nonce, signed CONNECTs, nats-py's nkeys_seed_str,
permissions of an nkey user, bad keys in the config.

Keys are made per run with the nkeys package (nats-py's own dependency for
NKEY auth), so the server is checked against an independent signer.
spec/client-protocol.md §3.2 (nonce), §4 (nkey, sig);
spec/server-cli-config.md §3.2.
"""

import base64
import json
import os
import re

import nats.errors
import nkeys
import pytest

from conftest import async_wait_for, run_binary, settle


def new_user_key():
    """A fresh user key pair: (seed text, public key text, KeyPair)."""
    seed = nkeys.encode_seed(os.urandom(32), nkeys.PREFIX_BYTE_USER)
    kp = nkeys.from_seed(bytearray(seed))
    return seed.decode(), kp.public_key.decode(), kp


@pytest.fixture
def keys():
    return [new_user_key() for _ in range(3)]


def users_conf(keys, extra=""):
    (_, pub0, _), (_, pub1, _) = keys[0], keys[1]
    return f"""
authorization {{
  users = [
    {{ nkey: {pub0} }}
    {{ nkey: {pub1}, permissions: {{ publish: ["allowed.>"], subscribe: ["allowed.>", "_INBOX.>"] }} }}
    {{ user: bob, password: bobpw }}
  ]
}}
{extra}"""


def connect_line(**fields):
    obj = {"verbose": False, "pedantic": False, "protocol": 1}
    obj.update(fields)
    return b"CONNECT " + json.dumps(obj).encode() + b"\r\n"


def signed_login(raw, srv, kp, nkey=None, encode=base64.b64encode, nonce=None):
    """Open a raw connection and answer its INFO nonce with kp's signature."""
    c = raw(srv)
    info = c.read_info()
    sig = encode(kp.sign((nonce or info["nonce"]).encode())).decode()
    c.send(connect_line(nkey=nkey or kp.public_key.decode(), sig=sig) + b"PING\r\n")
    return c, info


def assert_auth_violation(c):
    assert c.assert_closed() == b"-ERR 'Authorization Violation'\r\n"


def test_info_carries_a_fresh_nonce(server_factory, raw, keys):
    srv = server_factory.start(config=users_conf(keys))
    nonces = []
    for _ in range(3):
        info = raw(srv).read_info()
        assert info.get("auth_required") is True
        # 11 random bytes, URL-safe base64 without padding.
        assert re.fullmatch(r"[A-Za-z0-9_-]{15}", info.get("nonce", "")), info
        nonces.append(info["nonce"])
    assert len(set(nonces)) == 3, nonces


def test_no_nonce_without_nkey_users(server_factory, raw):
    srv = server_factory.start(config="authorization { users = [ {user: a, password: b} ] }\n")
    info = raw(srv).read_info()
    assert info.get("auth_required") is True and "nonce" not in info, info
    plain = server_factory.start()
    assert "nonce" not in raw(plain).read_info()


def test_signed_connect_both_base64_forms(server_factory, raw, keys):
    srv = server_factory.start(config=users_conf(keys))
    kp = keys[0][2]
    # nats-py sends standard base64, nats.go unpadded URL-safe base64.
    c, _ = signed_login(raw, srv, kp)
    c.expect(b"PONG\r\n")
    url = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=")  # noqa: E731
    c, _ = signed_login(raw, srv, kp, encode=url)
    c.expect(b"PONG\r\n")


def test_bad_signatures_are_refused(server_factory, raw, keys):
    srv = server_factory.start(config=users_conf(keys))
    (_, pub0, kp0), (_, _, kp1), (_, pub2, kp2) = keys
    # Another connection's nonce: a replayed signature.
    first = raw(srv).read_info()["nonce"]
    c, info = signed_login(raw, srv, kp0, nonce=first)
    assert info["nonce"] != first
    assert_auth_violation(c)
    # Signed by another key than the one named.
    c, _ = signed_login(raw, srv, kp1, nkey=pub0)
    assert_auth_violation(c)
    # A correct signature from a key the server does not list.
    c, _ = signed_login(raw, srv, kp2)
    assert_auth_violation(c)
    # An nkey with no signature, and with garbage instead of one.
    for extra in ({}, {"sig": "not-a-signature"}, {"sig": ""}):
        c = raw(srv)
        c.read_info()
        c.send(connect_line(nkey=pub0, **extra) + b"PING\r\n")
        assert_auth_violation(c)
    # And the right one still works afterwards.
    c, _ = signed_login(raw, srv, kp0)
    c.expect(b"PONG\r\n")


async def test_nats_py_nkeys_seed(server_factory, nats_connect, keys):
    srv = server_factory.start(config=users_conf(keys))
    nc = await nats_connect(srv, nkeys_seed_str=keys[0][0])
    sub = await nc.subscribe("nk.any")
    await nc.publish("nk.any", b"signed in")
    msg = await sub.next_msg(timeout=2)
    assert msg.data == b"signed in"
    # A seed whose key is not configured, then the password user beside it.
    with pytest.raises(nats.errors.Error) as ei:
        await nats_connect(srv, nkeys_seed_str=keys[2][0])
    assert "Authorization Violation" in str(ei.value)
    bob = await nats_connect(srv, user="bob", password="bobpw")
    await bob.flush()


async def test_nats_py_nkeys_seed_file(server_factory, nats_connect, keys, tmp_path):
    srv = server_factory.start(config=users_conf(keys))
    seed_file = tmp_path / "user.nk"
    seed_file.write_text(keys[0][0] + "\n")
    nc = await nats_connect(srv, nkeys_seed=str(seed_file))
    await nc.flush()
    assert nc.is_connected


async def test_nkey_user_permissions(server_factory, nats_connect, keys):
    srv = server_factory.start(config=users_conf(keys))
    nc = await nats_connect(srv, nkeys_seed_str=keys[1][0])
    sub = await nc.subscribe("allowed.x")
    await nc.publish("allowed.x", b"ok")
    assert (await sub.next_msg(timeout=2)).data == b"ok"
    await nc.publish("denied.x", b"no")
    await settle(nc)
    await async_wait_for(lambda: nc.test_errors, what="a permissions error")
    # nats-py lower-cases the server's -ERR text.
    assert 'permissions violation for publish to "denied.x"' in str(nc.test_errors[0]).lower()
    assert nc.is_connected  # a permissions error does not close the connection


def test_bad_nkeys_in_config_are_refused(tmp_path, keys):
    pub = keys[0][1]
    wrong_sum = pub[:-1] + ("A" if pub[-1] != "A" else "B")
    account = nkeys.from_seed(bytearray(nkeys.encode_seed(os.urandom(32),
                                                          nkeys.PREFIX_BYTE_ACCOUNT)))
    for key in (wrong_sum, account.public_key.decode(), "Ushort"):
        conf = tmp_path / "bad.conf"
        conf.write_text("authorization {\n  users = [ {nkey: %s} ]\n}\n" % key)
        r = run_binary("-t", "-c", str(conf))
        assert r.returncode != 0, (key, r)
        # file:line:column and the reason (nats-server counts this column
        # one further than Tern does: its lexer's quirk, not checked here).
        assert re.search(rf"{re.escape(str(conf))}:2:\d+: Not a valid public nkey for a user",
                         r.stdout + r.stderr), r
    conf.write_text("authorization {\n  users = [ {nkey: %s, password: x} ]\n}\n" % pub)
    r = run_binary("-t", "-c", str(conf))
    assert r.returncode != 0
    assert "Nkey users do not take usernames or passwords" in r.stdout + r.stderr, r
