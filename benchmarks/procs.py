"""Benchmarks layer: one server process: start, wait for its port, RSS, stop.

A server's life (the runner drives it in this order, and ``stop`` is always
reached through ``with``): STARTED (process spawned, port not yet open) ->
READY (a TCP connect to its port succeeded) or UNAVAILABLE (the script exited
with status 3: a missing library, or a gonet API that has not landed) or
FAILED (any other exit, or no port within the start timeout) -> STOPPED
(SIGTERM to its process group, SIGKILL after a grace period).
"""

from __future__ import annotations

import os
import resource
import signal
import socket
import subprocess
import time
from pathlib import Path

UNAVAILABLE_EXIT = 3  # keep in step with servers/_common.py
HERE = Path(__file__).resolve().parent
BUILD = HERE / ".build"
LOGS = BUILD / "logs"

_used_ports: set[int] = set()


def raise_nofile() -> int:
    """Lift this process's soft RLIMIT_NOFILE to the hard limit (children inherit it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def free_port() -> int:
    """A loopback port nobody listens on now (and that this run has not handed out)."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _used_ports:
            _used_ports.add(port)
            return port


def rss_bytes(pid: int) -> int:
    """VmRSS of process ``pid`` from /proc (0 if it is gone or /proc is missing)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def fd_count(pid: int) -> int:
    """How many file descriptors process ``pid`` holds (-1 if /proc cannot tell)."""
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return -1


class ServerError(RuntimeError):
    """A server did not come up; ``unavailable`` tells a missing dependency from a crash."""

    def __init__(self, msg: str, unavailable: bool = False) -> None:
        super().__init__(msg)
        self.unavailable = unavailable


class ServerProc:
    """A benchmark server in its own process (and process group)."""

    def __init__(self, name: str, argv: list[str], port: int, tag: str = "") -> None:
        self.name = name
        self.argv = argv
        self.port = port
        LOGS.mkdir(parents=True, exist_ok=True)
        self.log_path = LOGS / f"{tag + '-' if tag else ''}{name}.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        log = open(self.log_path, "wb")
        try:
            self.proc = subprocess.Popen(self.argv, stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
        finally:
            log.close()

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def log_tail(self, lines: int = 3) -> str:
        try:
            text = self.log_path.read_text(errors="replace").strip().splitlines()
        except OSError:
            return ""
        return " | ".join(text[-lines:])

    def wait_ready(self, timeout: float = 20.0) -> None:
        """Return once the port accepts a connection; raise ServerError otherwise."""
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            rc = self.proc.poll()
            if rc is not None:
                tail = self.log_tail()
                if rc == UNAVAILABLE_EXIT:
                    reason = tail.rsplit("unavailable: ", 1)[-1] or "not available"
                    raise ServerError(reason, unavailable=True)
                raise ServerError(f"exited with status {rc}: {tail}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1.0):
                    return
            except OSError:
                time.sleep(0.05)
        raise ServerError(f"port {self.port} not open after {timeout:.0f} s: {self.log_tail()}")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def rss(self) -> int:
        return rss_bytes(self.pid)

    def fds(self) -> int:
        return fd_count(self.pid)

    def stop(self) -> None:
        p = self.proc
        if p is None or p.poll() is not None:
            return
        try:
            os.killpg(p.pid, signal.SIGTERM)  # our own session: the server and anything it forked
            p.wait(timeout=3)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait(timeout=5)
        except ProcessLookupError:
            pass

    def __enter__(self) -> ServerProc:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
