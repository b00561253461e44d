"""Graceful shutdown, forced shutdown, close, and 1,000 concurrent slow requests."""

import resource
import socket
import threading
import time

import httpx
import pytest
from conftest import recv_until_eof

import gonet
from gonet import http
from gonet.http.httptest import TestServer


def _connect(ts):
    return socket.create_connection(("127.0.0.1", ts.port), timeout=5)


def test_graceful_shutdown_finishes_the_request_in_flight():
    started = threading.Event()

    def h(w, r):
        if r.url.path == "/slow":
            started.set()
            gonet.sleep(0.4)
        w.write(b"done")

    ts = TestServer(h)
    try:
        with httpx.Client(base_url=ts.url) as idle_client:
            idle_client.get("/")  # leaves an idle keep-alive connection behind
            result = {}

            def client():
                result["r"] = httpx.get(ts.url + "/slow", timeout=5)

            t = threading.Thread(target=client)
            t.start()
            assert started.wait(5)
            t0 = time.monotonic()
            assert ts.server.shutdown(timeout=5) is True
            took = time.monotonic() - t0
            t.join(5)
            r = result["r"]
            assert r.status_code == 200 and r.text == "done"
            assert r.headers["connection"] == "close"
            assert 0.2 <= took <= 3.0  # waited for the handler, not for the idle connection
            with pytest.raises(ConnectionRefusedError):
                _connect(ts)
    finally:
        ts.close()


def test_shutdown_cancels_request_contexts_so_long_polls_end():
    started = threading.Event()
    seen = {}

    def h(w, r):
        started.set()
        gonet.select(r.context.done().recv_case(), timeout=10)
        seen["err"] = r.context.err()
        w.write(b"bye")

    ts = TestServer(h)
    try:
        t = threading.Thread(target=lambda: seen.setdefault("r", httpx.get(ts.url, timeout=10)))
        t.start()
        assert started.wait(5)
        t0 = time.monotonic()
        assert ts.server.shutdown(timeout=5) is True
        assert time.monotonic() - t0 < 2.0
        t.join(5)
        assert seen["r"].text == "bye" and seen["err"] is not None
    finally:
        ts.close()


def test_shutdown_forces_close_at_its_timeout():
    started = threading.Event()

    def h(w, r):
        started.set()
        gonet.sleep(10)
        w.write(b"never")

    ts = TestServer(h)
    try:
        s = _connect(ts)
        s.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        assert started.wait(5)
        t0 = time.monotonic()
        assert ts.server.shutdown(timeout=0.3) is False
        assert 0.2 <= time.monotonic() - t0 <= 1.5
        s.settimeout(3)
        assert s.recv(100) == b""  # closed without a response
    finally:
        ts.close()


def test_close_is_immediate():
    started = threading.Event()

    def h(w, r):
        started.set()
        gonet.sleep(10)

    ts = TestServer(h)
    s = _connect(ts)
    s.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
    assert started.wait(5)
    t0 = time.monotonic()
    ts.server.close()
    s.settimeout(3)
    assert s.recv(100) == b""
    assert time.monotonic() - t0 < 1.5
    with pytest.raises(ConnectionRefusedError):
        _connect(ts)
    ts.close()


def test_serve_after_shutdown_raises():
    srv = http.Server(handler=lambda w, r: None)
    srv.shutdown(timeout=0)
    ln = gonet.listen("tcp", "127.0.0.1:0")
    with pytest.raises(http.ServerClosed):
        srv.serve(ln)


@pytest.mark.timeout(30)
def test_1000_concurrent_slow_requests_finish_in_about_one_sleep():
    n = 1000
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 3 * n:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4 * n), hard))

    def slow(w, r):
        gonet.sleep(0.5)
        w.write(b"ok")

    ts = TestServer(slow)
    results = []

    def client():
        c = gonet.dial("tcp", ts.addr)
        try:
            c.write(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            data = b""
            while True:
                d = c.read(4096)
                if not d:
                    break
                data += d
            results.append(data.startswith(b"HTTP/1.1 200 ") and data.endswith(b"ok"))
        finally:
            c.close()

    try:
        t0 = time.monotonic()
        gs = [gonet.go(client) for _ in range(n)]
        for g in gs:
            g.join()
        elapsed = time.monotonic() - t0
    finally:
        ts.close()
    assert len(results) == n and all(results)
    # Serially this would take 500 s; concurrently about one sleep plus set-up.
    assert elapsed < 5.0, elapsed
    print(f"1000 slow requests in {elapsed:.2f} s")


def test_graceful_shutdown_closes_a_connection_with_only_part_of_a_request_head():
    # Go: a connection is active once a whole request head is read; one that
    # has sent part of the next head is idle and shutdown closes it, rather
    # than waiting (up to read_header_timeout, or forever) for the client.
    with TestServer(lambda w, r: w.write(b"hi")) as ts:
        s = socket.create_connection(("127.0.0.1", ts.port), timeout=5)
        s.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        assert s.recv(4096).startswith(b"HTTP/1.1 200 OK")
        s.sendall(b"GET / HTTP/1.1\r\nHost")
        time.sleep(0.1)
        t0 = time.monotonic()
        assert ts.shutdown(3.0) is True
        assert time.monotonic() - t0 < 1.0
        assert recv_until_eof(s) == b""
        s.close()
