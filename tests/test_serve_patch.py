"""`gonet serve` patches the standard library before it imports the app
(--no-patch opts out), and reports a goroutine that holds a worker's thread
(--block-warn). The stall the patch removes is measured as the issue did: a
handler in time.sleep, and a request to another route on a fresh
connection."""

from __future__ import annotations

import threading
import time

import httpx
import pytest
from test_workers import serve

pytestmark = pytest.mark.timeout(60)

APP = '''
import socket
import time

import gonet

SOCKET_CLASS = socket.socket.__module__  # what the app saw at import


def spin(seconds):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass


def app(w, r):
    path = r.url.path
    if path == "/sleep":
        w.write_header(200)
        w.write(b"started;")
        w.flush()
        time.sleep(float(r.url.query().get("s", "1")))
        w.write(b"done")
    elif path == "/spin":
        spin(0.4)
        w.write(b"spun")
    elif path == "/class":
        w.write(SOCKET_CLASS.encode())
    else:
        w.write(b"fast")
'''

SLEEP_LINE = next(i for i, line in enumerate(APP.splitlines(), 1)
                  if "time.sleep(float" in line)
SPIN_LINE = next(i for i, line in enumerate(APP.splitlines(), 1)
                 if "while time.monotonic()" in line)


def _fast_while_sleeping(s, seconds: float) -> float:
    """Latency of /fast on a fresh connection while a handler sleeps."""
    started = threading.Event()
    body: list[str] = []

    def slow() -> None:
        with httpx.Client(timeout=30) as c, c.stream("GET", s.url + f"/sleep?s={seconds}") as r:
            for chunk in r.iter_text():
                started.set()
                body.append(chunk)

    t = threading.Thread(target=slow)
    t.start()
    assert started.wait(10), "the slow handler never started"
    t0 = time.monotonic()
    assert s.get("/fast").text == "fast"
    took = time.monotonic() - t0
    t.join()
    assert "".join(body) == "started;done"
    return took


def test_serve_patches_before_importing_the_app(tmp_path):
    with serve(tmp_path, app=APP, module="papp") as s:
        assert s.get("/class").text == "gonet.coop.socket"
        took = _fast_while_sleeping(s, 1.0)
    assert took < 0.3, took  # unpatched: the rest of the second


def test_no_patch_leaves_the_stdlib_alone(tmp_path):
    with serve(tmp_path, "--no-patch", "--block-warn", "0.1", app=APP, module="napp") as s:
        assert s.get("/class").text == "socket"
        took = _fast_while_sleeping(s, 1.0)
        m = s.wait_line(r"blocked the scheduler for \d+ ms in napp\.py:(\d+) \(time\.sleep\)")
        assert int(m.group(1)) == SLEEP_LINE
    assert took > 0.5, took  # stalled behind the sleeping handler


def test_block_warn_names_a_cpu_loop(tmp_path):
    with serve(tmp_path, "--block-warn", "0.1", app=APP, module="sapp") as s:
        assert s.get("/spin").text == "spun"
        m = s.wait_line(r"goroutine \d+ blocked the scheduler for (\d+) ms in sapp\.py:(\d+)")
        assert int(m.group(2)) == SPIN_LINE
        assert 250 <= int(m.group(1)) < 5000
        s.get("/spin")  # the same call site again: not reported twice
        assert s.get("/fast").text == "fast"
    assert sum("blocked the scheduler" in line for line in s.lines) == 1


def test_block_warn_off(tmp_path):
    with serve(tmp_path, "--block-warn", "0", app=APP, module="oapp") as s:
        assert s.get("/spin").text == "spun"
        assert s.get("/fast").text == "fast"
        time.sleep(0.3)
    assert not any("blocked the scheduler" in line for line in s.lines)
