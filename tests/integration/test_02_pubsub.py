"""02 pub/sub: subjects, wildcards, MSG format, fan-out, echo, UNSUB.

spec/client-protocol.md §5, §7, §8, §10; the nats-py guide examples.
"""

from conftest import async_wait_for, settle


async def collect(nc, subject, **kw):
    got = []

    async def cb(msg):
        got.append(msg)

    sub = await nc.subscribe(subject, cb=cb, **kw)
    return sub, got


# ---- the guide examples (nats-py) ----------------------------------------

async def test_guide_orders_full_wildcard(server, nats_connect):
    nc = await nats_connect(server)
    _, got = await collect(nc, "orders.>")
    await settle(nc)
    await nc.publish("orders.new", b'{"id": 1}')
    await async_wait_for(lambda: len(got) == 1, what="orders.new")
    assert got[0].subject == "orders.new"
    assert got[0].data == b'{"id": 1}'


async def test_guide_orders_single_token_wildcard(server, nats_connect):
    sub_nc = await nats_connect(server)
    pub_nc = await nats_connect(server)
    _, got = await collect(sub_nc, "orders.*")
    await settle(sub_nc)
    for subj in ("orders.new", "orders.us.new", "orders.fulfilled", "orders"):
        await pub_nc.publish(subj, subj.encode())
    # A marker published last by the same publisher: once it is in, every
    # earlier message that was going to match has been delivered.
    await pub_nc.publish("orders.zzz-end", b"end")
    await async_wait_for(lambda: got and got[-1].subject == "orders.zzz-end",
                         what="end marker")
    assert [m.subject for m in got] == ["orders.new", "orders.fulfilled", "orders.zzz-end"]


async def test_guide_orders_full_wildcard_deep(server, nats_connect):
    sub_nc = await nats_connect(server)
    pub_nc = await nats_connect(server)
    _, got = await collect(sub_nc, "orders.>")
    await settle(sub_nc)
    for subj in ("orders", "orders.us.east.new", "other.orders.x", "orders.a"):
        await pub_nc.publish(subj, b"x")
    await async_wait_for(lambda: got and got[-1].subject == "orders.a", what="orders.a")
    assert [m.subject for m in got] == ["orders.us.east.new", "orders.a"]


async def test_messages_keep_publish_order(server, nats_connect):
    sub_nc = await nats_connect(server)
    pub_nc = await nats_connect(server)
    _, got = await collect(sub_nc, "seq")
    await settle(sub_nc)
    n = 2000
    for i in range(n):
        await pub_nc.publish("seq", str(i).encode())
    await settle(pub_nc)
    await async_wait_for(lambda: len(got) >= n, timeout=10, what=f"{n} messages")
    assert [int(m.data) for m in got] == list(range(n))


async def test_unsubscribe_stops_delivery(server, nats_connect):
    nc = await nats_connect(server)
    sub, got = await collect(nc, "u.x")
    _, marker = await collect(nc, "u.marker")
    await settle(nc)
    await nc.publish("u.x", b"1")
    await async_wait_for(lambda: len(got) == 1)
    await sub.unsubscribe()
    await nc.publish("u.x", b"2")
    await nc.publish("u.marker", b"m")
    await async_wait_for(lambda: len(marker) == 1)
    assert [m.data for m in got] == [b"1"]


async def test_nats_py_auto_unsubscribe_limit(server, nats_connect):
    nc = await nats_connect(server)
    sub, got = await collect(nc, "lim")
    await sub.unsubscribe(limit=3)
    _, marker = await collect(nc, "lim.marker")
    await settle(nc)
    for i in range(6):
        await nc.publish("lim", str(i).encode())
    await nc.publish("lim.marker", b"m")
    await async_wait_for(lambda: len(marker) == 1)
    assert [m.data for m in got] == [b"0", b"1", b"2"]


async def test_no_echo_nats_py(server, nats_connect):
    quiet = await nats_connect(server, no_echo=True)
    other = await nats_connect(server)
    _, mine = await collect(quiet, "echo.t")
    _, theirs = await collect(other, "echo.t")
    await settle(quiet)
    await settle(other)
    await quiet.publish("echo.t", b"from-quiet")
    await other.publish("echo.t", b"from-other")
    await async_wait_for(lambda: len(theirs) == 2 and len(mine) == 1)
    assert [m.data for m in mine] == [b"from-other"]


# ---- exact bytes (raw sockets) -------------------------------------------

def test_msg_format_without_reply(server, raw):
    c = raw(server)
    c.handshake()
    c.send(b"SUB foo 1\r\nPUB foo 5\r\nhello\r\n")
    c.expect(b"MSG foo 1 5\r\nhello\r\n")


def test_msg_format_with_reply(server, raw):
    c = raw(server)
    c.handshake()
    c.send(b"SUB foo 1\r\nPUB foo bar 5\r\nhello\r\n")
    c.expect(b"MSG foo 1 bar 5\r\nhello\r\n")


def test_msg_between_connections_and_sid_echoed_verbatim(server, raw):
    sub = raw(server)
    sub.handshake()
    sub.send(b"SUB a.b xyz-7\r\n")
    sub.ping_pong()
    pub = raw(server)
    pub.handshake()
    pub.send(b"PUB a.b 3\r\nabc\r\n")
    sub.expect(b"MSG a.b xyz-7 3\r\nabc\r\n")


def test_msg_subject_is_published_subject_not_pattern(server, raw):
    c = raw(server)
    c.handshake()
    c.send(b"SUB foo.* 1\r\nPUB foo.bar 1\r\nx\r\n")
    c.expect(b"MSG foo.bar 1 1\r\nx\r\n")


def test_empty_payload(server, raw):
    c = raw(server)
    c.handshake()
    c.send(b"SUB NOTIFY 1\r\nPUB NOTIFY 0\r\n\r\n")
    c.expect(b"MSG NOTIFY 1 0\r\n\r\n")


def test_each_matching_subscription_of_a_connection_gets_a_copy(server, raw):
    c = raw(server)
    c.handshake()
    c.send(b"SUB foo.*.bar 1\r\nSUB foo.> 2\r\nSUB > 3\r\nSUB foo.x.baz 4\r\n")
    c.send(b"PUB foo.x.bar 2\r\nok\r\n")
    sids = sorted(c.read_msg()["sid"] for _ in range(3))
    assert sids == ["1", "2", "3"]
    c.assert_open()  # and nothing else (sid 4) arrived before the PONG


def test_wildcard_matching_rules(server, raw):
    c = raw(server)
    c.handshake()
    c.send(b"SUB foo.*.> 1\r\nSUB * 2\r\nSUB end 9\r\n")
    for subj in (b"foo.a", b"foo.a.b", b"foo.a.b.c", b"foo", b"foo.bar", b"Foo.a.b"):
        c.send(b"PUB " + subj + b" 1\r\nx\r\n")
    c.send(b"PUB end 1\r\nx\r\n")
    got = []
    while True:
        m = c.read_msg()
        if m["sid"] == "9":
            break
        got.append((m["subject"], m["sid"]))
    assert sorted(got) == [("foo", "2"), ("foo.a.b", "1"), ("foo.a.b.c", "1")]


def test_echo_false_raw(server, raw):
    c = raw(server)
    c.handshake(echo=False)
    other = raw(server)
    other.handshake()
    c.send(b"SUB e 1\r\n")
    other.send(b"SUB e 1\r\n")
    c.ping_pong()
    other.ping_pong()
    c.send(b"PUB e 4\r\nself\r\n")
    other.expect(b"MSG e 1 4\r\nself\r\n")
    other.send(b"PUB e 5\r\nother\r\n")
    # Own message suppressed, the other connection's delivered.
    c.expect(b"MSG e 1 5\r\nother\r\n")


def test_unsub_with_max_delivers_exactly_max(server, raw):
    c = raw(server)
    c.handshake()
    c.send(b"SUB foo 1\r\nUNSUB 1 2\r\n")
    c.send(b"PUB foo 1\r\na\r\nPUB foo 1\r\nb\r\nPUB foo 1\r\nc\r\n")
    c.expect(b"MSG foo 1 1\r\na\r\nMSG foo 1 1\r\nb\r\n")
    c.send(b"PING\r\n")
    assert c.read_line() == b"PONG\r\n"  # no third MSG before the PONG


def test_unsub_max_not_above_delivered_removes_now(server, raw):
    c = raw(server)
    c.handshake()
    c.send(b"SUB foo 1\r\nPUB foo 1\r\na\r\nPUB foo 1\r\nb\r\n")
    c.expect(b"MSG foo 1 1\r\na\r\nMSG foo 1 1\r\nb\r\n")
    c.send(b"UNSUB 1 2\r\nPUB foo 1\r\nc\r\nPING\r\n")
    assert c.read_line() == b"PONG\r\n"


def test_unsub_without_max_and_trailing_space(server, raw):
    c = raw(server)
    c.handshake()
    # nats-py form: a trailing space after the sid.
    c.send(b"SUB foo 1\r\nUNSUB 1 \r\nPUB foo 1\r\na\r\nPING\r\n")
    assert c.read_line() == b"PONG\r\n"


def test_unsub_unknown_sid_is_harmless(server, raw):
    c = raw(server)
    c.read_info()
    c.send(b'CONNECT {"verbose":true}\r\n')
    c.expect(b"+OK\r\n")
    c.send(b"UNSUB 99\r\n")
    c.expect(b"+OK\r\n")
    c.assert_open()


def test_duplicate_sid_keeps_first_subscription(server, raw):
    c = raw(server)
    c.handshake()
    c.send(b"SUB first 1\r\nSUB second 1\r\n")
    c.send(b"PUB second 1\r\nx\r\nPUB first 1\r\ny\r\n")
    c.expect(b"MSG first 1 1\r\ny\r\n")
    c.assert_open()


def test_resubscribe_after_unsub_reuses_sid(server, raw):
    c = raw(server)
    c.handshake()
    c.send(b"SUB a 1\r\nUNSUB 1\r\nSUB b 1\r\nPUB a 1\r\nx\r\nPUB b 1\r\ny\r\n")
    c.expect(b"MSG b 1 1\r\ny\r\n")


def test_published_wildcard_tokens_and_empty_tokens(server, raw):
    # Without pedantic, publish subjects are not validated; literal '*'
    # reaches wildcard subscriptions and empty tokens match nothing.
    c = raw(server)
    c.handshake()
    c.send(b"SUB foo.* 1\r\nSUB foo.> 2\r\n")
    c.send(b"PUB foo..bar 1\r\na\r\nPUB foo. 1\r\nb\r\nPUB foo.* 1\r\nc\r\n")
    got = sorted((m["subject"], m["sid"], m["payload"]) for m in
                 (c.read_msg(), c.read_msg()))
    assert got == [("foo.*", "1", b"c"), ("foo.*", "2", b"c")]
    c.assert_open()


def test_utf8_subjects(server, raw):
    c = raw(server)
    c.handshake()
    subj = "città.préz".encode()
    c.send(b"SUB citt\xc3\xa0.* 1\r\nPUB " + subj + b" 2\r\nok\r\n")
    c.expect(b"MSG " + subj + b" 1 2\r\nok\r\n")


def test_publish_after_a_subscriber_went_away(server, raw):
    gone = raw(server)
    gone.handshake()
    gone.send(b"SUB foo 1\r\n")
    gone.ping_pong()
    gone.close()
    c = raw(server)
    c.handshake()
    c.send(b"SUB foo 5\r\n")
    c.ping_pong()
    # Publishing to a subject whose other subscriber went away still works.
    for i in range(50):
        c.send(b"PUB foo 1\r\nx\r\n")
    for i in range(50):
        c.expect(b"MSG foo 5 1\r\nx\r\n")
