"""Benchmarks layer: the load generators, each run in a process of its own.

- HTTP: ``wrk`` (the Debian package; ``--latency`` gives p50/p99), one wrk
  thread, so that on a 2-core machine the server and the client each get a
  core. When wrk is missing, the bundled C client in ``http`` mode stands in
  (same shape: keep-alive, one request in flight per connection).
- TCP echo ping-pong, WebSocket echo ping-pong and the idle-connection
  holder (keep-alive HTTP or open WebSockets): the bundled C client
  (``c/loadgen.c``), compiled with the machine's ``cc`` into ``.build/`` the
  first time it is needed (and again when the source changes).

Every function returns plain dicts of figures; ``rate`` is per second.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

from benchmarks.procs import BUILD, HERE

C_SOURCE = HERE / "c" / "loadgen.c"
WRK_INSTALL_HINT = ("wrk is not installed; HTTP figures come from the bundled C client instead. "
                    "For wrk: apt-get update && apt-get install -y wrk")


class ToolMissing(RuntimeError):
    """A load generator cannot run here; the message says how to get it."""


def build_c_client() -> Path:
    """Compile c/loadgen.c into .build/ (cached by a hash of the source); return its path."""
    src = C_SOURCE.read_bytes()
    digest = hashlib.sha256(src).hexdigest()[:12]
    exe = BUILD / f"loadgen-{digest}"
    if exe.exists():
        return exe
    cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if cc is None:
        raise ToolMissing("no C compiler (cc) found; install one, e.g. apt-get install -y gcc")
    BUILD.mkdir(parents=True, exist_ok=True)
    tmp = exe.with_suffix(f".{os.getpid()}.tmp")  # concurrent builds each rename their own
    r = subprocess.run([cc, "-O2", "-o", str(tmp), str(C_SOURCE)], capture_output=True, text=True)
    if r.returncode != 0:
        raise ToolMissing(f"compiling {C_SOURCE.name} failed: {r.stderr.strip()[:500]}")
    tmp.rename(exe)
    return exe


def c_client_or_none() -> tuple[Path | None, str]:
    try:
        return build_c_client(), ""
    except ToolMissing as e:
        return None, str(e)


#: "auto" (wrk if installed, else the C client), "wrk" or "c"; set by ``--http-tool``.
HTTP_TOOL = "auto"


def wrk_path() -> str | None:
    return shutil.which("wrk")


def _use_wrk() -> str | None:
    return wrk_path() if HTTP_TOOL in ("auto", "wrk") else None


def _run_json(argv: list[str], timeout: float) -> dict:
    r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    line = r.stdout.strip().splitlines()[-1] if r.stdout.strip() else ""
    try:
        out = json.loads(line)
    except json.JSONDecodeError:
        raise RuntimeError(f"{Path(argv[0]).name} gave no result (status {r.returncode}): "
                           f"{(r.stdout + r.stderr).strip()[:300]}")
    if "error" in out:
        raise RuntimeError(out["error"])
    return out


def echo_load(port: int, conns: int, size: int, duration: float, warmup: float,
              mode: str = "echo", path: str = "/") -> dict:
    """Ping-pong: messages/s over ``conns`` connections, ``size``-byte messages;
    ``mode="ws"``: WebSocket text frames after an upgrade to ``path``."""
    exe = build_c_client()
    out = _run_json([str(exe), mode, "-p", str(port), "-c", str(conns), "-s", str(size),
                     "-d", str(duration), "-w", str(warmup), "-P", path],
                    timeout=duration + warmup + 30)
    return {"rate": out["rate"], "p50_ms": out["p50_ms"], "p99_ms": out["p99_ms"],
            "errors": out["errors"], "connections": out["connections"], "tool": "loadgen.c"}


_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    if not m:
        raise ValueError(f"unexpected wrk latency {text!r}")
    return float(m.group(1)) * _UNIT_MS[m.group(2)]


def parse_wrk(text: str) -> dict:
    """Figures from ``wrk --latency`` output: rate, p50_ms, p99_ms, errors, non2xx."""
    m = re.search(r"Requests/sec:\s+([\d.]+)", text)
    if not m:
        raise RuntimeError(f"wrk gave no Requests/sec: {text.strip()[:300]}")
    out: dict = {"rate": float(m.group(1)), "tool": "wrk"}
    for pct, key in (("50", "p50_ms"), ("99", "p99_ms")):
        m = re.search(rf"^\s+{pct}(?:\.0+)?%\s+(\S+)", text, re.M)
        out[key] = _ms(m.group(1)) if m else float("nan")
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    out["errors"] = sum(int(x) for x in m.groups()) if m else 0
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    out["non2xx"] = int(m.group(1)) if m else 0
    out["bad"] = out["errors"] + out["non2xx"]
    return out


def http_tool() -> tuple[str | None, str]:
    """Which HTTP load generator this machine can run: ("wrk"|"loadgen.c"|None, note)."""
    if _use_wrk():
        return "wrk", ""
    if HTTP_TOOL == "wrk":
        return None, WRK_INSTALL_HINT.split(";")[1].strip()
    exe, why = c_client_or_none()
    if exe is not None:
        return "loadgen.c", WRK_INSTALL_HINT if HTTP_TOOL == "auto" else ""
    return None, f"{WRK_INSTALL_HINT}; and the C client cannot be built: {why}"


def http_load(port: int, conns: int, duration: float, path: str = "/", scheme: str = "http",
              headers: tuple[str, ...] = ()) -> dict:
    """Keep-alive GET load for ``duration`` seconds: rate (requests/s), p50_ms, p99_ms, errors.

    ``scheme="https"`` needs wrk (the C client speaks no TLS); ``headers``
    (e.g. "Connection: close": a new connection per request) too.
    """
    wrk = _use_wrk() if scheme == "http" and not headers else wrk_path()
    if scheme != "http" or headers:
        if wrk is None:
            raise ToolMissing(f"{scheme} load with {headers or 'no'} headers needs wrk "
                              "(apt-get install wrk): the C client speaks plain keep-alive HTTP only")
    if wrk:
        secs = max(1, round(duration))  # wrk takes whole seconds only
        argv = [wrk, "-t1", f"-c{conns}", f"-d{secs}s", "--latency"]
        for h in headers:
            argv += ["-H", h]
        argv.append(f"{scheme}://127.0.0.1:{port}{path}")
        r = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 30)
        if r.returncode != 0:
            raise RuntimeError(f"wrk failed ({r.returncode}): {r.stderr.strip()[:300]}")
        return parse_wrk(r.stdout)
    exe = build_c_client()
    out = _run_json([str(exe), "http", "-p", str(port), "-c", str(conns), "-d", str(duration),
                     "-w", "0", "-P", path], timeout=duration + 30)
    return {"rate": out["rate"], "p50_ms": out["p50_ms"], "p99_ms": out["p99_ms"],
            "errors": out["errors"], "non2xx": out["non2xx"],
            "bad": out["errors"] + out["non2xx"], "tool": "loadgen.c"}


def http_warmup(port: int, conns: int, duration: float, path: str = "/", scheme: str = "http",
                headers: tuple[str, ...] = ()) -> dict:
    """Warm-up load: the C client when it builds (it takes fractions of a second), else wrk."""
    if scheme != "http" or headers:
        return http_load(port, conns, duration, path, scheme, headers)
    exe, _ = c_client_or_none()
    if exe is None or duration >= 1:
        return http_load(port, conns, duration, path)
    out = _run_json([str(exe), "http", "-p", str(port), "-c", str(conns), "-d", str(duration),
                     "-w", "0", "-P", path], timeout=duration + 30)
    return {"rate": out["rate"], "tool": "loadgen.c"}


class Prober:
    """A thread that asks ``path`` every ``every`` seconds on one keep-alive
    connection and records each answer's latency (the fan-out scenario's
    instant route, measured while the main load runs)."""

    def __init__(self, port: int, path: str, every: float) -> None:
        import threading

        self.port = port
        self.path = path
        self.every = every
        self.latencies: list[float] = []
        self.errors = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="prober", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        import http.client
        import time

        conn = None
        while not self._stop.is_set():
            t0 = time.monotonic()
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                conn.request("GET", self.path)
                conn.getresponse().read()
                self.latencies.append(time.monotonic() - t0)
            except (OSError, http.client.HTTPException):
                self.errors += 1
                if conn is not None:
                    conn.close()
                conn = None
            self._stop.wait(self.every)
        if conn is not None:
            conn.close()

    def stop(self) -> list[float]:
        self._stop.set()
        self._thread.join(35)
        return list(self.latencies)


class IdleHolder:
    """The C client in ``idle`` mode: opens ``conns`` keep-alive connections and holds them.

    ``open()`` returns once every connection got its response (or failed);
    ``release()`` lets go and returns how many were still open and how many
    the server had closed meanwhile.
    """

    def __init__(self, port: int, conns: int, path: str = "/", mode: str = "idle") -> None:
        self.argv = [str(build_c_client()), mode, "-p", str(port), "-c", str(conns), "-P", path]
        self.proc: subprocess.Popen | None = None

    def open(self, timeout: float = 180.0) -> dict:
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        line = _readline(self.proc, timeout)
        if not line:
            self.kill()
            raise RuntimeError("idle holder gave no result")
        return json.loads(line)

    def release(self, timeout: float = 60.0) -> dict:
        p = self.proc
        assert p is not None and p.stdin is not None
        p.stdin.close()
        line = _readline(p, timeout)
        p.wait(timeout=timeout)
        return json.loads(line) if line else {}

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def _readline(p: subprocess.Popen, timeout: float) -> str:
    import selectors

    assert p.stdout is not None
    with selectors.DefaultSelector() as sel:
        sel.register(p.stdout, selectors.EVENT_READ)
        if not sel.select(timeout):
            return ""
    return p.stdout.readline().strip()
