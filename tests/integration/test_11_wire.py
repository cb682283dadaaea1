"""11 wire: exact bytes of the client protocol on raw sockets.

spec/client-protocol.md §1 (framing), §5-§7, §10, §14 (every -ERR a single
node without TLS/JWT/cluster can send, and whether the connection stays),
§17 (edge-case checklist).
"""

import pytest

from conftest import REFERENCE, wait_for

UPO = b"-ERR 'Unknown Protocol Operation'\r\n"


def ready(srv, raw, **opts):
    c = raw(srv)
    c.handshake(**opts)
    return c


# ---- framing: case, separators, line ends ----------------------------------

def test_lower_case_ops(server, raw):
    c = raw(server)
    c.read_info()
    c.send(b'connect {"verbose":false}\r\nsub foo 1\r\npub foo 2\r\nhi\r\nping\r\n')
    c.expect(b"MSG foo 1 2\r\nhi\r\nPONG\r\n")


def test_mixed_case_ops(server, raw):
    c = raw(server)
    c.read_info()
    c.send(b'CoNnEcT {"verbose":false}\r\nSuB foo 1\r\nPuB foo 2\r\nhi\r\nPiNg\r\n')
    c.expect(b"MSG foo 1 2\r\nhi\r\nPONG\r\n")


def test_tabs_and_runs_of_whitespace(server, raw):
    c = ready(server, raw)
    c.send(b"SUB\tfoo\t \t1\r\nPUB \t foo\t\tbar   2\r\nhi\r\n")
    c.expect(b"MSG foo 1 bar 2\r\nhi\r\n")


def test_trailing_whitespace_in_args(server, raw):
    c = ready(server, raw)
    c.send(b"SUB foo 1  \t\r\nPUB foo 2 \t \r\nhi\r\n")
    c.expect(b"MSG foo 1 2\r\nhi\r\n")


def test_bare_lf_control_lines(server, raw):
    c = raw(server)
    c.read_info()
    c.send(b'CONNECT {"verbose":false}\nSUB foo 1\nPUB foo 2\nhi\r\nPING\n')
    c.expect(b"MSG foo 1 2\r\nhi\r\nPONG\r\n")


def test_connect_without_space(server, raw):
    c = raw(server)
    c.read_info()
    c.send(b'CONNECT{"verbose":false}\r\nPING\r\n')
    c.expect(b"PONG\r\n")


def test_ping_with_junk_gives_one_pong(server, raw):
    c = ready(server, raw)
    c.send(b"PING junk here\r\nPING\rPING\r\nPING\r\n")
    c.expect(b"PONG\r\nPONG\r\nPONG\r\n")
    assert c.read_for(0.2) == b""  # and no fourth (short look, by design)


def test_client_pong_and_plus_ok_and_info_are_ignored(server, raw):
    c = ready(server, raw)
    c.send(b'PONG\r\n+OK\r\nINFO {"server_id":"x"}\r\n')
    c.assert_open()


def test_pipelined_commands_in_one_write(server, raw):
    c = raw(server)
    c.read_info()
    c.send(b'CONNECT {"verbose":false}\r\nSUB a 1\r\nSUB b 2\r\nPUB b 1\r\nB\r\n'
           b"PUB a 1\r\nA\r\nUNSUB 1\r\nPUB a 1\r\nX\r\nPING\r\n")
    c.expect(b"MSG b 2 1\r\nB\r\nMSG a 1 1\r\nA\r\nPONG\r\n")


# ---- errors that close the connection --------------------------------------

@pytest.mark.parametrize("line", [
    b"FOO bar\r\n",
    b"MSG foo 1 2\r\nhi\r\n",
    b"HMSG foo 1 12 12\r\n",
    b"RS+ $G foo\r\n",
    b"PUBfoo 1\r\n",
    b"SUBfoo 1\r\n",
    b"UNSUB\r\n",
    b"XPING\r\n",
], ids=["unknown", "MSG", "HMSG", "RS+", "PUBnospace", "SUBnospace", "UNSUBnoarg", "XPING"])
def test_unknown_protocol_operation_closes(server, raw, line):
    c = ready(server, raw)
    c.send(line)
    assert c.assert_closed() == UPO


def test_payload_not_followed_by_crlf(server, raw):
    c = ready(server, raw)
    c.send(b"SUB foo 1\r\nPUB foo 5\r\nhelloX\r\n")
    assert c.assert_closed() == UPO


def test_bare_lf_after_payload_is_an_error(server, raw):
    c = ready(server, raw)
    c.send(b"PUB foo 5\r\nhello\nPING\r\n")
    assert c.assert_closed() == UPO


def test_client_err_closes_without_reply(server, raw):
    c = ready(server, raw)
    c.send(b"-ERR 'something'\r\n")
    assert c.assert_closed() == b""


@pytest.mark.parametrize("line", [
    b"PUB foo\r\n",
    b"PUB foo x\r\n",
    b"PUB foo -1\r\n",
    b"PUB a b c 5\r\n",
    b"PUB foo 99999999999999999999999\r\n",
    b"SUB foo\r\n",
    b"SUB a b c d\r\n",
    b"UNSUB 1 2 3\r\n",
    b"HPUB foo 5\r\n",
    b"HPUB foo x 5\r\n",
    b"HPUB foo 5 x\r\n",
    b"HPUB a b c d e\r\n",
], ids=lambda b: b.decode().strip().replace(" ", "_"))
def test_bad_arguments_close_silently(server, raw, line):
    c = ready(server, raw, headers=True)
    c.send(line)
    assert c.assert_closed() == b""


def test_max_control_line_exceeded(server, raw):
    c = ready(server, raw)
    c.send(b"SUB " + b"a" * 5000 + b" 1\r\n")
    assert c.assert_closed() == b"-ERR 'maximum control line exceeded'\r\n"


def test_max_control_line_exceeded_while_line_incomplete(server, raw):
    c = ready(server, raw)
    # No line end at all: the server must not wait for one forever.
    c.send(b"PUB " + b"b" * 6000)
    assert c.assert_closed() == b"-ERR 'maximum control line exceeded'\r\n"


def test_max_control_line_boundary(server, raw):
    # Counted on the argument part only: 4096 argument bytes are fine.
    c = ready(server, raw)
    subj = b"s" * (4096 - 2)
    c.send(b"SUB " + subj + b" 1\r\nPUB " + subj + b" 1\r\nx\r\n")
    c.expect(b"MSG " + subj + b" 1 1\r\nx\r\n")
    c.send(b"SUB " + subj + b"s 2\r\n")  # 4097 argument bytes
    assert c.assert_closed() == b"-ERR 'maximum control line exceeded'\r\n"


def test_configured_max_control_line(server_factory, raw):
    srv = server_factory.start(config="max_control_line: 256\n")
    c = ready(srv, raw)
    c.send(b"SUB " + b"a" * 200 + b" 1\r\n")
    c.assert_open()
    c.send(b"SUB " + b"a" * 300 + b" 2\r\n")
    assert c.assert_closed() == b"-ERR 'maximum control line exceeded'\r\n"


def test_max_connections(server_factory, raw):
    srv = server_factory.start(config="max_connections: 1\n")

    # The readiness probe used one connection; wait until it is released.
    def first_in():
        c = raw(srv)
        c.read_info()
        c.send(b'CONNECT {"verbose":false}\r\nPING\r\n')
        line = c.read_line()
        if line == b"PONG\r\n":
            return c
        c.close()
        return None

    first = wait_for(first_in, what="a first connection to be accepted")
    second = raw(srv)
    info = second.read_info()  # INFO is sent before the verdict
    assert info["port"] == srv.port
    assert second.assert_closed() == b"-ERR 'maximum connections exceeded'\r\n"
    first.assert_open()


# ---- errors that keep the connection open ----------------------------------

@pytest.mark.parametrize("subject", [b"foo..bar", b"foo.bar.", b".foo", b"foo.>.bar", b"."])
def test_invalid_subject_stays_open(server, raw, subject):
    c = raw(server)
    c.read_info()
    c.send(b'CONNECT {"verbose":true}\r\n')
    c.expect(b"+OK\r\n")
    c.send(b"SUB " + subject + b" 1\r\n")
    # No +OK for a refused SUB, just the error.
    c.expect(b"-ERR 'Invalid Subject'\r\n")
    c.assert_open()


def test_unusual_but_valid_subjects(server, raw):
    c = raw(server)
    c.read_info()
    c.send(b'CONNECT {"verbose":true}\r\n')
    c.expect(b"+OK\r\n")
    for sid, subj in enumerate([b"foo*", b"f>o", b"*", b">", b"foo.*.>", b"*.*"], 1):
        c.send(b"SUB %s %d\r\n" % (subj, sid))
        c.expect(b"+OK\r\n")
    c.send(b"PUB f>o 1\r\nx\r\n")
    c.expect(b"+OK\r\n")
    sids = sorted(c.read_msg()["sid"] for _ in range(3))
    assert sids == ["2", "3", "4"]  # f>o, *, >


def test_pedantic_invalid_publish_subject(server, raw):
    sub = ready(server, raw)
    sub.send(b"SUB foo.* 1\r\n")
    sub.ping_pong()
    c = raw(server)
    c.read_info()
    c.send(b'CONNECT {"verbose":true,"pedantic":true}\r\n')
    c.expect(b"+OK\r\n")
    c.send(b"PUB foo.* 1\r\nx\r\n")
    c.expect(b"-ERR 'Invalid Publish Subject'\r\n+OK\r\n")
    c.assert_open()
    # The message is still delivered.
    sub.expect(b"MSG foo.* 1 1\r\nx\r\n")


def test_reserved_reply_prefix(server, raw):
    c = ready(server, raw)
    c.send(b"SUB foo 1\r\nPUB foo _R_.abc 1\r\nx\r\n")
    c.expect(b"-ERR 'Permissions Violation for Publish with Reply of \"_R_.abc\"'\r\n")
    c.assert_open()
    c.send(b"PUB foo ok.reply 1\r\ny\r\n")
    c.expect(b"MSG foo 1 ok.reply 1\r\ny\r\n")  # the refused one was dropped


def test_reserved_gateway_subject(server, raw):
    c = ready(server, raw)
    c.send(b"PUB _GR_.x 1\r\nx\r\n")
    c.expect(b"-ERR 'Permissions Violation for Publish to \"_GR_.x\"'\r\n")
    c.assert_open()


@pytest.mark.skipif(REFERENCE, reason="Tern's own: nats-server has no $TERN. prefix to reserve")
def test_reserved_cluster_subjects(server, raw):
    # $TERN. carries the cluster's own traffic (the raft leader's lease,
    # join requests): a client may listen but never speak there, so no
    # client can grant a leader a lease. (nats-server has no such prefix.)
    c = ready(server, raw)
    c.send(b"SUB $TERN.> 1\r\nPUB $TERN.JS.GRANT.n1 12\r\nA 1 1 2 1000\r\n")
    c.expect(b"-ERR 'Permissions Violation for Publish to \"$TERN.JS.GRANT.n1\"'\r\n")
    c.assert_open()
    c.send(b"PUB $TERNS.x 1\r\nx\r\nSUB $TERNS.x 2\r\nPUB $TERNS.x 1\r\ny\r\n")
    c.expect(b"MSG $TERNS.x 2 1\r\ny\r\n")  # only the exact prefix is reserved


def test_max_subscriptions(server_factory, raw):
    srv = server_factory.start(config="max_subscriptions: 2\n")
    c = ready(srv, raw)
    c.send(b"SUB a 1\r\nSUB b 2\r\nSUB c 3\r\n")
    c.expect(b"-ERR 'maximum subscriptions exceeded'\r\n")
    c.assert_open()
    c.send(b"PUB a 1\r\nx\r\nPUB c 1\r\ny\r\nPUB b 1\r\nz\r\n")
    c.expect(b"MSG a 1 1\r\nx\r\nMSG b 2 1\r\nz\r\n")


def test_max_sub_tokens(server_factory, raw):
    srv = server_factory.start(config="max_sub_tokens: 3\n")
    c = ready(srv, raw)
    c.send(b"SUB a.b.c.d 1\r\nSUB a.b.c 2\r\nSUB a.b.c.d q 3\r\n")
    err = b"-ERR 'Permissions Violation for Subscription to \"a.b.c.d\", too many tokens'\r\n"
    c.expect(err + err)
    c.assert_open()
    c.send(b"PUB a.b.c 1\r\nx\r\n")
    c.expect(b"MSG a.b.c 2 1\r\nx\r\n")


def test_unsub_with_non_numeric_max_removes_now(server, raw):
    c = ready(server, raw)
    c.send(b"SUB foo 1\r\nUNSUB 1 x\r\nPUB foo 1\r\na\r\nPING\r\n")
    c.expect(b"PONG\r\n")


def test_many_connections_each_served(server, raw):
    clients = [ready(server, raw) for _ in range(50)]
    for i, c in enumerate(clients):
        c.send(b"SUB all %d\r\n" % i)
    for c in clients:
        c.ping_pong()
    clients[0].send(b"PUB all 2\r\nhi\r\n")
    for i, c in enumerate(clients):
        c.expect(b"MSG all %d 2\r\nhi\r\n" % i)


def test_garbage_does_not_affect_other_clients(server, raw):
    good = ready(server, raw)
    good.send(b"SUB foo 1\r\n")
    good.ping_pong()
    for junk in (b"\x00\x01\x02\r\n", b"\xff" * 100, b"PUB foo 3\r\nabcdefgh",
                 b"CONNECT {\r\n", b"SUB foo\r\n"):
        bad = raw(server)
        bad.read_info()
        bad.send(junk)
        bad.read_until_closed()
    pub = ready(server, raw)
    pub.send(b"PUB foo 2\r\nok\r\n")
    good.expect(b"MSG foo 1 2\r\nok\r\n")


# ---- CONNECT decoded as nats-server's Go struct ------------------------------
# nats-server decodes CONNECT with encoding/json into its ClientOpts: a known
# field of the wrong JSON type, or text that is not JSON, closes the
# connection with no -ERR; null leaves a field alone; keys match their
# field in any case; the last one wins; unknown keys are only validated.

def connect_raw(srv, raw, text):
    c = raw(srv)
    c.read_info()
    c.send(b"CONNECT " + text + b"\r\nPING\r\n")
    return c


@pytest.mark.parametrize("text", [
    b'{"verbose":"yes"}', b'{"pedantic":1}', b'{"echo":[]}', b'{"headers":"true"}',
    b'{"no_responders":{}}', b'{"tls_required":0}', b'{"new_account":"x"}',
    b'{"user":5}', b'{"pass":true}', b'{"auth_token":[]}', b'{"name":1}', b'{"lang":{}}',
    b'{"version":false}', b'{"nkey":1}', b'{"sig":1}', b'{"jwt":1}', b'{"account":1}',
    b'{"protocol":"1"}', b'{"protocol":1.0}', b'{"protocol":1e0}', b'{"protocol":true}',
    b'{"protocol":99999999999999999999}',
    b'{"import":5}', b'{"export":"x"}', b'{"import":{"allow":"x"}}',
    b'{"export":{"deny":[1]}}',
    b'{"VERBOSE":"x"}', b'{"\\u0076erbose":"x"}', b'{"n\xe2\x84\xaaey":5}',
    b'[]', b'"x"', b'5', b'true', b'{bad', b'{"x":1} junk', b'{"x":[1,]}',
    b'{"x":01}', b'{"x":"\x01"}', b'{"x":"\\q"}', b'',
], ids=lambda b: b.decode("latin-1").replace(" ", "_"))
def test_connect_wrong_types_close_silently(server, raw, text):
    c = connect_raw(server, raw, text)
    assert c.assert_closed() == b""


@pytest.mark.parametrize("text,ok", [
    (b'null', True),                                    # nothing changes
    (b'{"verbose":true}', True),
    (b'{"Verbose":true}', True),                        # any case
    (b'{"verbose":null}', True),                        # left as it was
    (b'{"verbose":true,"VERBOSE":false}', False),       # the last wins
    (b'{"verbose":true,"x":99999999999999999999}', True),
    (b'{"verbose":true,"x":"\\ud800 \xff"}', True),     # Go takes both
    (b'{"verbose":true,"name":"a\\u0000b\xfe"}', True),
    (b'{"verbose":true,"protocol":-0}', True),
    (b'{"verbose":true,"import":{"allow":[null,"a"],"z":{"q":[1]}}}', True),
    (b'\t{"verbose":true}\t', True),
], ids=lambda b: b.decode("latin-1").replace(" ", "_") if isinstance(b, bytes) else str(b))
def test_connect_values_nats_server_accepts(server, raw, text, ok):
    c = connect_raw(server, raw, text)
    # No CONNECT field says verbose before this one, so nats-server's
    # default holds: null and a top-level null keep it on.
    c.expect((b"+OK\r\n" if ok or text == b'null' else b"") + b"PONG\r\n")
    c.assert_open()


def test_connect_depth_limit(server_factory, raw):
    srv = server_factory.start(config="max_control_line: 65536\n")
    deep = b'{"x":' + b"[" * 9999 + b"]" * 9999 + b',"verbose":true}'
    c = connect_raw(srv, raw, deep)  # 10000 levels with the outer object
    c.expect(b"+OK\r\nPONG\r\n")
    c = connect_raw(srv, raw, deep.replace(b"[", b"[[", 1).replace(b"]", b"]]", 1))
    assert c.assert_closed() == b""


def test_connect_credential_with_nul_matches_nothing(server_factory, raw):
    srv = server_factory.start("--user", "u", "--pass", "pw")
    c = connect_raw(srv, raw, b'{"user":"u","pass":"pw\\u0000x"}')
    assert c.assert_closed() == b"-ERR 'Authorization Violation'\r\n"
    c = connect_raw(srv, raw, b'{"user":"u","pass":"pw"}')
    c.expect(b"+OK\r\nPONG\r\n")
