"""14 signals: SIGINT/SIGTERM shut down promptly; SIGHUP reloads the config
file, applying what may change and refusing a reload that changes the port.

spec/server-cli-config.md §5.
"""

import signal
import socket
import time

from conftest import free_port, wait_for


def login(srv, raw, user, password):
    """True if a new connection with these credentials is accepted."""
    c = raw(srv)
    c.read_info()
    # One write: the server reads both lines before it can close, so the
    # close is a clean FIN that cannot discard its -ERR.
    c.send(b'CONNECT {"verbose":false,"user":"%s","pass":"%s"}\r\nPING\r\n'
           % (user.encode(), password.encode()))
    line = c.read_line()
    c.close()
    if line == b"PONG\r\n":
        return True
    assert line == b"-ERR 'Authorization Violation'\r\n", line
    return False


def users_conf(port, password, extra=""):
    return (f"host: 127.0.0.1\nport: {port}\n{extra}"
            f"authorization {{ users = [ {{ user: alice, password: {password} }} ] }}\n")


def test_sigint_exits_zero_promptly(server_factory, raw):
    srv = server_factory.start()
    raw(srv).handshake()  # with a client connected
    t0 = time.monotonic()
    rc = srv.signal_and_wait(signal.SIGINT, timeout=5)
    assert rc == 0
    assert time.monotonic() - t0 < 5


def test_sigterm_exits_promptly(server_factory, raw):
    srv = server_factory.start()
    c = raw(srv)
    c.handshake()
    t0 = time.monotonic()
    rc = srv.signal_and_wait(signal.SIGTERM, timeout=5)
    # Handled: the process exits with a status (nats-server: 1), it is not
    # simply killed by the signal.
    assert rc >= 0, rc
    assert time.monotonic() - t0 < 5
    c.read_until_closed()  # clients are disconnected


def test_sighup_reload_changes_credentials(server_factory, raw):
    port = free_port()
    srv = server_factory.start(config=users_conf(port, "first"), port=port,
                               addr_args=False)
    assert login(srv, raw, "alice", "first")
    assert not login(srv, raw, "alice", "second")

    srv.config_path.write_text(users_conf(port, "second"))
    srv.send_signal(signal.SIGHUP)
    wait_for(lambda: login(srv, raw, "alice", "second"), what="new password accepted")
    assert not login(srv, raw, "alice", "first")
    assert srv.alive()


def test_sighup_reload_adds_user(server_factory, raw):
    port = free_port()
    srv = server_factory.start(config=users_conf(port, "pw"), port=port, addr_args=False)
    assert not login(srv, raw, "bob", "bobpw")
    srv.config_path.write_text(
        f"host: 127.0.0.1\nport: {port}\n"
        "authorization { users = [ { user: alice, password: pw }\n"
        "                          { user: bob, password: bobpw } ] }\n")
    srv.send_signal(signal.SIGHUP)
    wait_for(lambda: login(srv, raw, "bob", "bobpw"), what="added user accepted")
    assert login(srv, raw, "alice", "pw")


def test_sighup_reload_changing_port_fails_and_server_keeps_running(server_factory, raw):
    port, other = free_port(), free_port()
    srv = server_factory.start(config=users_conf(port, "first"), port=port,
                               addr_args=False)
    # A reload that changes the port (and, in the same file, the password)
    # is refused as a whole.
    srv.config_path.write_text(users_conf(other, "second"))
    srv.send_signal(signal.SIGHUP)
    srv.wait_for_log(r"Failed to reload server configuration")
    assert srv.alive()
    assert login(srv, raw, "alice", "first")
    assert not login(srv, raw, "alice", "second")
    try:
        socket.create_connection(("127.0.0.1", other), timeout=1).close()
        moved = True
    except OSError:
        moved = False
    assert not moved, "the server must not listen on the new port"
    # It still reloads a good file afterwards.
    srv.config_path.write_text(users_conf(port, "third"))
    srv.send_signal(signal.SIGHUP)
    wait_for(lambda: login(srv, raw, "alice", "third"), what="later reload applied")


def test_sighup_reload_max_payload(server_factory, raw):
    port = free_port()
    srv = server_factory.start(config=f"host: 127.0.0.1\nport: {port}\nmax_payload: 1000\n",
                               port=port, addr_args=False)

    def new_info_max():
        c = raw(srv)
        m = c.read_info()["max_payload"]
        c.close()
        return m

    assert new_info_max() == 1000
    srv.config_path.write_text(f"host: 127.0.0.1\nport: {port}\nmax_payload: 2000\n")
    srv.send_signal(signal.SIGHUP)
    wait_for(lambda: new_info_max() == 2000, what="reloaded max_payload in INFO")
