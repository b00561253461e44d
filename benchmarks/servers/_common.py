"""Benchmarks layer: what every benchmark server and program script shares.

Each script under ``benchmarks/servers/`` is run by the runner in its own
process with this interpreter: ``python SCRIPT --port N [--keepalive S]`` for
servers, ``python SCRIPT [--quick]`` for self-timing programs, which print one
JSON object on stdout. A script whose library is missing (or whose gonet API
has not landed yet) calls :func:`unavailable`, which exits with status 3 and a
one-line reason; the runner shows that row as "not available".
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
from typing import Any, NoReturn

UNAVAILABLE_EXIT = 3
BODY = b"Hello, World!"  # the 13-byte text/plain body of the HTTP scenarios
assert len(BODY) == 13


def unavailable(reason: str) -> NoReturn:
    print(f"unavailable: {reason}", file=sys.stderr, flush=True)
    sys.exit(UNAVAILABLE_EXIT)


def raise_nofile() -> None:
    """Lift the soft RLIMIT_NOFILE to the hard limit (10,000 idle connections need it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def server_args() -> argparse.Namespace:
    p = argparse.ArgumentParser()
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--keepalive", type=float, default=300.0,
                   help="idle keep-alive timeout, seconds (long, so idle connections stay)")
    a = p.parse_args()
    raise_nofile()
    return a


def program_args() -> argparse.Namespace:
    p = argparse.ArgumentParser()
    p.add_argument("--quick", action="store_true")
    p.add_argument("--spawn", type=int, default=200_000, help="goroutines to spawn and finish")
    p.add_argument("--parked", type=int, default=100_000, help="goroutines to park at once")
    p.add_argument("--seconds", type=float, default=3.0, help="timed loop length")
    a = p.parse_args()
    if a.quick:
        a.spawn, a.parked, a.seconds = 20_000, 10_000, 0.5
    return a


def rss_bytes() -> int:
    """This process's resident set size (VmRSS), in bytes."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def emit(result: dict[str, Any]) -> None:
    print(json.dumps(result), flush=True)


def tls_files() -> tuple[str, str]:
    """(certfile, keyfile): gonet's fixed test certificate (``gonet.http.testcert``,
    for localhost and 127.0.0.1) written to a private directory, for the HTTPS
    scenarios. Every server gets the same ECDSA P-256 certificate."""
    import os
    import tempfile

    from gonet.http import testcert

    d = tempfile.mkdtemp(prefix="gonet-bench-tls-")
    cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
    with open(cert, "w") as f:
        f.write(testcert.CERT_PEM)
    with open(key, "w") as f:
        f.write(testcert.KEY_PEM)
    return cert, key


def wsgi_hello(environ: dict, start_response: Any) -> list[bytes]:
    """A bare WSGI app answering every request with the 13-byte body."""
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "13")])
    return [BODY]


async def asgi_hello(scope: dict, receive: Any, send: Any) -> None:
    """A bare ASGI app (no framework) answering every request with the 13-byte body."""
    if scope["type"] == "lifespan":
        while True:
            msg = await receive()
            if msg["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif msg["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    await send({
        "type": "http.response.start",
        "status": 200,
        "headers": [(b"content-type", b"text/plain"), (b"content-length", b"13")],
    })
    await send({"type": "http.response.body", "body": BODY})


# -- HTTP clients (the client scenario) ---------------------------------------------


def client_args() -> argparse.Namespace:
    """``python SCRIPT --url URL [--conns N] [--seconds S] [--warmup W] [--requests N]``.

    A client script keeps ``conns`` requests in flight (goroutines, tasks or
    threads, each with its own loop of GETs on a keep-alive pool) for a
    ``warmup`` and then a measured ``seconds``, and prints :func:`client_result`.
    With ``--requests N`` (instruction counting) it runs N requests after the
    warm-up instead, switching callgrind's instrumentation on around them.
    """
    p = argparse.ArgumentParser()
    p.add_argument("--url", required=True)
    p.add_argument("--conns", type=int, default=64)
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--warmup", type=float, default=1.0)
    p.add_argument("--requests", type=int, default=0)
    p.add_argument("--quick", action="store_true")
    a = p.parse_args()
    if a.quick:
        a.seconds, a.warmup = min(a.seconds, 1.5), min(a.warmup, 0.5)
    raise_nofile()
    return a


class ClientStats:
    """Counts and latencies shared by a client script's workers (one thread
    or event loop at a time appends; the GIL keeps list.append whole)."""

    def __init__(self) -> None:
        self.done = 0
        self.errors = 0
        self.lat: list[float] = []
        self.measuring = False
        self.stop = False

    def record(self, seconds: float) -> None:
        self.done += 1
        if self.measuring:
            self.lat.append(seconds)


def client_result(st: ClientStats, n0: int, t0: float, n1: int, t1: float) -> dict:
    lat = sorted(st.lat)

    def pct(q: float) -> float:
        return lat[min(len(lat) - 1, int(len(lat) * q))] * 1000 if lat else 0.0

    return {"rate": (n1 - n0) / (t1 - t0), "p50_ms": pct(0.50), "p99_ms": pct(0.99),
            "requests": n1 - n0, "bad": st.errors}


def callgrind(on: bool) -> None:
    """Switch callgrind's instrumentation of this process on or off."""
    import os
    import subprocess

    subprocess.run(["callgrind_control", "-i", "on" if on else "off", str(os.getpid())],
                   capture_output=True)
