"""Benchmark helper (fan-out scenario): the upstream every fan-out server calls.

A gonet HTTP server whose every response (``upstream``, 8 bytes) goes out
``--delay`` seconds (default 0.05) after the request came in: the slow
service a handler waits for. Goroutines park for the delay, so it answers
hundreds of calls at once at little CPU cost.
"""

import argparse

from _common import raise_nofile, unavailable

p = argparse.ArgumentParser()
p.add_argument("--host", default="127.0.0.1")
p.add_argument("--port", type=int, required=True)
p.add_argument("--delay", type=float, default=0.05)
a = p.parse_args()
try:
    import gonet
    from gonet import http
except ImportError as e:
    unavailable(f"gonet not importable ({e})")

raise_nofile()


def slow(w: http.ResponseWriter, r: http.Request) -> None:
    gonet.sleep(a.delay)
    w.header().set("Content-Type", "text/plain")
    w.write(b"upstream")


http.Server(addr=f"{a.host}:{a.port}", handler=slow, idle_timeout=300).listen_and_serve()
