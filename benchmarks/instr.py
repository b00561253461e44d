"""Benchmarks layer: user-space instructions per message of a server, under callgrind.

Wall-clock figures on a shared machine move 10-20% between runs; callgrind's
instruction counts repeat. This runs one benchmark server under
``valgrind --tool=callgrind --instr-atstart=no``, warms it up uninstrumented,
switches instrumentation on for a measured window while the bundled C client
drives it, and divides the server's instructions by the messages (echo round
trips or HTTP requests) the client counted::

    python -m benchmarks.instr echo            # gonet_echo.py, 64 connections, 100 B
    python -m benchmarks.instr http            # gonet_http.py, the 13-byte hello
    python -m benchmarks.instr http --server servers/uvicorn_h11.py --python python3.13
    python -m benchmarks.instr client          # client_gonet.py against gonet_http.py
    python -m benchmarks.instr client --client servers/client_aiohttp.py --conns 1

``client`` counts the other side: the hello server runs uninstrumented
(``--server``, gonet's by default), the client script runs under callgrind,
does ``--requests`` GETs to warm up and then as many with instrumentation
on (it switches it itself), and its instructions are divided by them.
    python -m benchmarks.instr https           # gonet_https.py; the client: tlsload.py
    python -m benchmarks.instr https --server "servers/uvicorn_tls.py --fast"
    python -m benchmarks.instr ws              # gonet_websocket.py, 100-byte text echo
    python -m benchmarks.instr ws --server "servers/uvicorn_ws.py --ws wsproto"

Needs valgrind (``apt-get install -y valgrind``) and a C compiler for the client.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.loadgen import build_c_client

HERE = Path(__file__).resolve().parent
DEFAULT_SERVER = {"echo": "servers/gonet_echo.py", "http": "servers/gonet_http.py",
                  "https": "servers/gonet_https.py", "ws": "servers/gonet_websocket.py"}


def _free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def _wait_port(port: int, proc: subprocess.Popen, timeout: float) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with status {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"server did not listen on {port} within {timeout} s")


def _load(client: Path, mode: str, port: int, conns: int, seconds: float) -> dict:
    argv = [str(client), mode, "-p", str(port), "-c", str(conns), "-d", str(seconds), "-w", "0"]
    if mode in ("echo", "ws"):
        argv += ["-s", "100"]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 120)
    return json.loads(r.stdout.strip().splitlines()[-1])


def _total(outdir: str) -> int:
    total = 0
    for path in glob.glob(os.path.join(outdir, "cg.*")):
        with open(path) as f:
            for line in f:
                if line.startswith(("summary:", "totals:")):
                    total = max(total, int(line.split()[1]))
    return total


def measure(mode: str, server: str, python: str, conns: int, seconds: float,
            keep: str | None = None) -> dict:
    client = build_c_client()
    port = _free_port()
    with tempfile.TemporaryDirectory(prefix="gonet-cg-") as tmp:
        outdir = keep or tmp
        os.makedirs(outdir, exist_ok=True)
        script, *script_args = server.split()
        argv = ["valgrind", "--tool=callgrind", "--instr-atstart=no",
                f"--callgrind-out-file={outdir}/cg.%p", python, str(HERE / script),
                *script_args, "--port", str(port)]
        proc = subprocess.Popen(argv, cwd=HERE / "servers", stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        def switch(on: bool) -> None:
            subprocess.run(["callgrind_control", "-i", "on" if on else "off", str(proc.pid)],
                           check=True, capture_output=True)

        try:
            _wait_port(port, proc, 120)
            if mode == "https":
                # TLS: the Python client (the C one speaks no TLS); connections
                # and handshakes are made before the window opens.
                from benchmarks import tlsload

                n = tlsload.run(port, conns, 3.0, seconds, lambda: switch(True),
                                lambda: switch(False))
                res = {"count": n}
            else:
                _load(client, mode, port, conns, 2.0)  # warm-up, uninstrumented
                switch(True)
                res = _load(client, mode, port, conns, seconds)
                switch(False)
        finally:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        total = _total(outdir)
    count = int(res["count"])
    return {"mode": mode, "server": server, "python": python, "messages": count,
            "instructions": total, "per_message": round(total / count) if count else None}


def measure_client(client: str, server: str, python: str, conns: int, requests: int,
                   keep: str | None = None) -> dict:
    port = _free_port()
    srv = subprocess.Popen([python, str(HERE / server), "--port", str(port)], cwd=HERE / "servers",
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_port(port, srv, 60)
        with tempfile.TemporaryDirectory(prefix="gonet-cg-") as tmp:
            outdir = keep or tmp
            os.makedirs(outdir, exist_ok=True)
            argv = ["valgrind", "--tool=callgrind", "--instr-atstart=no",
                    f"--callgrind-out-file={outdir}/cg.%p", python, str(HERE / client),
                    "--url", f"http://127.0.0.1:{port}/", "--conns", str(conns),
                    "--requests", str(requests)]
            r = subprocess.run(argv, cwd=HERE / "servers", capture_output=True, text=True,
                               timeout=1800)
            if r.returncode != 0:
                raise RuntimeError(f"client failed: {r.stderr[-500:]}")
            total = _total(outdir)
    finally:
        srv.terminate()
        srv.wait(30)
    return {"mode": "client", "client": client, "server": server, "python": python,
            "conns": conns, "messages": requests, "instructions": total,
            "per_message": round(total / requests) if requests else None}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.instr", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("mode", choices=("echo", "http", "https", "ws", "client"))
    p.add_argument("--server", help="server script under benchmarks/, with its arguments "
                                    "(default: gonet's)")
    p.add_argument("--client", default="servers/client_gonet.py",
                   help="client: the client script under benchmarks/")
    p.add_argument("--requests", type=int, default=5000,
                   help="client: requests counted (after as many to warm up)")
    p.add_argument("--python", default=sys.executable, help="interpreter to run it with")
    p.add_argument("--conns", type=int, default=64)
    p.add_argument("--seconds", type=float, default=10.0, help="measured window")
    p.add_argument("--keep", metavar="DIR",
                   help="keep callgrind's output in DIR (for callgrind_annotate)")
    a = p.parse_args(argv)
    if a.mode == "client":
        out = measure_client(a.client, a.server or DEFAULT_SERVER["http"], a.python, a.conns,
                             a.requests, a.keep)
        print(json.dumps(out))
        return 0
    out = measure(a.mode, a.server or DEFAULT_SERVER[a.mode], a.python, a.conns, a.seconds,
                  a.keep)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
