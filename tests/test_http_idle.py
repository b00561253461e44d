"""HTTP layer: idle keep-alive connections release their goroutine.

A connection silent for ``idle_release_after`` seconds between requests
waits in the poller through ``Conn.read_later`` instead of a parked
goroutine; the next request, the idle timeout and shutdown still reach it.
"""

from __future__ import annotations

import io
import socket
import time

import pytest

import gonet
from gonet.http.httptest import TestServer

# Every test here runs once per head parser (gonet.http.wire's fast and public paths).
pytestmark = pytest.mark.usefixtures("head_parser")

REQ = b"GET / HTTP/1.1\r\nHost: t\r\n\r\n"


def hello(w, r):
    w.write(b"hi")


def _get(s: socket.socket) -> bytes:
    s.sendall(REQ)
    data = b""
    while not data.endswith(b"hi"):
        chunk = s.recv(4096)
        assert chunk, f"connection closed after {data!r}"
        data += chunk
    return data


def _idle_released() -> int:
    buf = io.StringIO()
    gonet.dump_goroutines(buf)
    return buf.getvalue().count("[IO wait (idle)]")


def _wait_for(cond, timeout=5.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.01)
    return False


def test_idle_connections_release_their_goroutine_and_come_back():
    with TestServer(hello, idle_release_after=0.05) as ts:
        socks = [socket.create_connection(("127.0.0.1", ts.port), timeout=5) for _ in range(20)]
        for s in socks:
            assert b"200 OK" in _get(s)
        assert _wait_for(lambda: _idle_released() >= 20)
        for s in socks:  # each released connection serves its next request
            assert b"200 OK" in _get(s)
        for s in socks:
            s.close()


def test_busy_connection_is_not_released():
    with TestServer(hello, idle_release_after=5.0) as ts:
        s = socket.create_connection(("127.0.0.1", ts.port), timeout=5)
        for _ in range(50):
            assert b"200 OK" in _get(s)
        assert _idle_released() == 0
        s.close()


def test_idle_timeout_still_closes_a_released_connection():
    with TestServer(hello, idle_release_after=0.05, idle_timeout=0.5) as ts:
        s = socket.create_connection(("127.0.0.1", ts.port), timeout=5)
        _get(s)
        t0 = time.monotonic()
        assert s.recv(10) == b""  # the server closed it at the idle timeout
        dt = time.monotonic() - t0
        s.close()
    assert 0.4 <= dt < 3.0


def test_shutdown_closes_released_connections_promptly():
    ts = TestServer(hello, idle_release_after=0.05)
    socks = [socket.create_connection(("127.0.0.1", ts.port), timeout=5) for _ in range(10)]
    for s in socks:
        _get(s)
    assert _wait_for(lambda: _idle_released() >= 10)
    t0 = time.monotonic()
    assert ts.shutdown(5.0) is True
    assert time.monotonic() - t0 < 2.0
    for s in socks:
        assert s.recv(10) == b""
        s.close()
    ts.close()


def test_client_close_while_released_ends_the_connection():
    with TestServer(hello, idle_release_after=0.05) as ts:
        s = socket.create_connection(("127.0.0.1", ts.port), timeout=5)
        _get(s)
        assert _wait_for(lambda: _idle_released() >= 1)
        s.close()
        assert _wait_for(lambda: len(ts.server._conns) == 0)
