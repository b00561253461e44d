"""Shared test helpers: run a test body as the main goroutine of a fresh OS
thread whose scheduler uses a chosen poller backend, so every backend the
machine has is exercised in one pytest run."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from gonet.runtime import init_thread
from gonet.runtime.netpoll_base import available_backends

BACKENDS = [b for b in available_backends()]


def recv_until_eof(s: Any) -> bytes:
    """Everything a blocking socket receives until the peer closes."""
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            return data
        data += chunk


def run_in_thread(fn: Callable[[], Any], backend: str | None = None, timeout: float = 50) -> Any:
    """Run ``fn()`` on a new thread with its own scheduler; return or re-raise."""
    box: dict[str, Any] = {}

    def main() -> None:
        try:
            init_thread(backend)
            box["result"] = fn()
        except BaseException as e:  # noqa: BLE001 - re-raised in the test thread
            box["error"] = e

    t = threading.Thread(target=main, name=f"gonet-test-{backend}", daemon=True)
    t.start()
    t.join(timeout)
    if t.is_alive():
        raise TimeoutError(f"test body did not finish within {timeout} s")
    if "error" in box:
        raise box["error"]
    return box.get("result")


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """Each available poller backend in turn (on Linux: epoll and poll)."""
    return request.param


@pytest.fixture
def run(backend: str) -> Callable[[Callable[[], Any]], Any]:
    """``run(fn)``: execute fn as the main goroutine of a fresh scheduler on ``backend``."""

    def _run(fn: Callable[[], Any], timeout: float = 50) -> Any:
        return run_in_thread(fn, backend, timeout)

    return _run


@pytest.fixture(params=["fast", "public"])
def head_parser(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each of gonet.http.wire's two head parsers in turn: wire's own reader
    ("fast"), and h11's public API ("public"). Modules that
    speak raw HTTP to a server use it with ``pytestmark``."""
    from gonet.http import wire

    monkeypatch.setattr(wire, "FAST_HEAD", request.param == "fast")
    return request.param
