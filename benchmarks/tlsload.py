"""Benchmarks layer: a keep-alive HTTPS load client in Python, for ``instr.py https``.

N persistent TLS connections (ssl's own sockets, no verification: the
servers use the test certificate), one request in flight on each, driven by
one selector loop. It is slow next to wrk, which is fine where it serves:
under callgrind the server is slower still. The connections (and their
handshakes) are made before ``on_start``, so the measured window holds
requests only.
"""

from __future__ import annotations

import selectors
import socket
import ssl
import time
from collections.abc import Callable

REQUEST = b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"


def run(port: int, conns: int, warmup: float, seconds: float,
        on_start: Callable[[], None] | None = None, on_stop: Callable[[], None] | None = None,
        body: bytes = b"Hello, World!") -> int:
    """Requests answered during the measured window (between ``on_start`` and ``on_stop``)."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    sel = selectors.DefaultSelector()
    socks = []
    for _ in range(conns):
        raw = socket.create_connection(("127.0.0.1", port), timeout=60)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s = ctx.wrap_socket(raw, server_hostname="localhost")
        s.setblocking(False)
        socks.append(s)
        sel.register(s, selectors.EVENT_READ, bytearray())
        s.send(REQUEST)
    count = 0
    measuring = False
    end = time.monotonic() + warmup
    try:
        while True:
            if time.monotonic() >= end:
                if measuring:
                    if on_stop is not None:
                        on_stop()
                    return count
                if on_start is not None:
                    on_start()
                measuring, count, end = True, 0, time.monotonic() + seconds
            for key, _ in sel.select(0.5):
                s, buf = key.fileobj, key.data
                while True:
                    try:
                        d = s.recv(65536)
                    except (ssl.SSLWantReadError, BlockingIOError):
                        break
                    if not d:
                        raise RuntimeError("the server closed a keep-alive connection")
                    buf += d
                if buf.endswith(body):
                    buf.clear()
                    count += 1
                    s.send(REQUEST)
    finally:
        for s in socks:
            s.close()
