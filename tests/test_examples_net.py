"""The net examples run as real programs and behave as their docstrings say."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def start_example():
    procs = []

    def start(name: str, *args: str) -> str:
        port = _free_port()
        addr = f"127.0.0.1:{port}"
        p = subprocess.Popen([sys.executable, str(EXAMPLES / name), addr, *args],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        procs.append(p)
        first = p.stdout.readline()  # the example prints once it listens
        assert str(port) in first, first
        return addr

    start.procs = procs
    yield start
    for p in procs:
        p.kill()
        p.wait(5)


def _connect(addr: str) -> socket.socket:
    host, port = addr.rsplit(":", 1)
    s = socket.create_connection((host, int(port)), timeout=5)
    return s


def _readline(s: socket.socket) -> bytes:
    buf = b""
    while not buf.endswith(b"\n"):
        chunk = s.recv(1)
        if not chunk:
            break
        buf += chunk
    return buf


def test_echo_server_example(start_example):
    addr = start_example("echo_server.py")
    socks = [_connect(addr) for _ in range(5)]
    for i, s in enumerate(socks):
        s.sendall(b"msg %d" % i)
    for i, s in enumerate(socks):
        assert s.recv(100) == b"msg %d" % i
        s.close()


def test_deadlines_example_drops_silent_client(start_example):
    addr = start_example("deadlines.py", "0.5")
    s = _connect(addr)
    assert _readline(s).startswith(b"hello")
    s.sendall(b"shout\n")
    assert _readline(s) == b"SHOUT\n"
    t0 = time.monotonic()
    assert _readline(s) == b"idle too long, bye\n"
    assert 0.4 <= time.monotonic() - t0 < 3.0
    assert s.recv(10) == b""  # and the connection is closed
    s.close()


def test_chat_example_broadcasts(start_example):
    addr = start_example("chat.py")
    a = _connect(addr)
    b = _connect(addr)
    assert b"joined" in _readline(a)  # b joined
    a.sendall(b"hi all\n")
    assert _readline(b).endswith(b": hi all\n")
    a.close()
    assert b"left" in _readline(b)
    b.close()


def test_ws_chat_example_serves_the_page_and_broadcasts(start_example):
    import signal

    import httpx
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect

    addr = start_example("ws_chat.py")
    page = httpx.get(f"http://{addr}/", timeout=5)
    assert page.status_code == 200 and "new WebSocket(" in page.text
    with connect(f"ws://{addr}/ws", subprotocols=["chat.v1"]) as a:
        assert "joined" in a.recv(timeout=5)
        with connect(f"ws://{addr}/ws", subprotocols=["chat.v1"]) as b:
            assert "joined" in a.recv(timeout=5) and "joined" in b.recv(timeout=5)
            b.send("hello room")
            for c in (a, b):
                assert '"text": "hello room"' in c.recv(timeout=5)
            proc = next(p for p in start_example.procs if p.poll() is None)
            proc.send_signal(signal.SIGINT)  # graceful: both pages get 1001
            for c in (a, b):
                with pytest.raises(ConnectionClosed) as ei:
                    while True:
                        c.recv(timeout=5)
                assert ei.value.rcvd.code == 1001
            assert proc.wait(10) == 0


def test_fetch_example_fetches_concurrently_under_deadlines():
    # Without URLs it serves its own pages: fast, slow (beyond the deadline),
    # a redirect, a 404, and a refused port.
    t0 = time.monotonic()
    r = subprocess.run([sys.executable, str(EXAMPLES / "fetch.py"), "--timeout", "0.5"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].startswith("200 OK") and lines[0].endswith("/fast")
    assert 'context deadline exceeded' in lines[1] and lines[1].startswith("error")
    assert lines[2].startswith("200 OK") and lines[2].endswith("/old")
    assert lines[3].startswith("404 Not Found")
    assert "connection refused" in lines[4]
    assert lines[5].startswith("5 URLs in ")
    # concurrent: all five cost the slow page's deadline once, not in sum
    assert float(lines[5].split()[3]) < 2.0 and time.monotonic() - t0 < 20
