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
