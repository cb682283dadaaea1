"""Free TCP ports for the test harnesses (tests/integration and
tests/cluster import this one copy through their conftest).

Ports are taken below the kernel's ephemeral range (32768-60999 on
Linux), so an outgoing connection's source port can never take one
between the probe here and the server's bind (seen: "Address already in
use" for a port a config file named); each run starts at its own place,
and no port is handed out twice in a run (two probes could otherwise
return one port: seen, one server given the same port for clients and
monitoring).
"""

import os
import socket

_given_ports = set()
_PORT_LOW, _PORT_HIGH = 20000, 32000
_next_port = [_PORT_LOW + (os.getpid() * 97) % (_PORT_HIGH - _PORT_LOW)]


def free_port():
    """A TCP port on 127.0.0.1 that nobody listens on right now, outside
    the ephemeral range, and not handed out before in this run."""
    while True:
        port = _next_port[0]
        _next_port[0] = port + 1 if port + 1 < _PORT_HIGH else _PORT_LOW
        if port in _given_ports:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _given_ports.add(port)
        return port
