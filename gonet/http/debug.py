"""HTTP layer: DebugHandler, a look inside a running process (Go's ``net/http/pprof`` and ``expvar``).

Never on by default; mount it where only operators reach it (a port bound to
localhost, or behind authentication), as one does with pprof::

    mux.handle("/debug/gonet/", http.DebugHandler())

Under its mount point (what follows the last ``/`` of the path):

- ``""``: an index of the pages.
- ``goroutines``: every goroutine's stack (Go's ``/debug/pprof/goroutine?debug=2``),
  as text; ``?format=json`` gives a list of ``{scheduler, id, name, state, stack}``.
- ``vars``: counters as JSON (Go's ``/debug/vars``): the process (pid, uptime,
  RSS and its peak, CPU seconds), ``num_goroutine``, each scheduler's
  counters (switches, polls, timers, run queue, the poller's fds and the
  goroutines waiting on them), each HTTP server of the process (listeners,
  connections by state, requests served), and every variable published
  with :func:`publish` (``gonet serve`` publishes ``worker``: its pid and
  what it serves). ``?format=text`` gives ``name value`` lines.

Under ``gonet serve`` each worker answers for itself: the page shows the
worker that took the request (its pid is in ``vars``), so per-worker request
counts are one request per worker away.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from collections.abc import Callable
from typing import Any

from gonet.runtime import debug as rtdebug
from gonet.runtime.debug import goroutines, num_goroutine, scheduler_stats

__all__ = ["DebugHandler", "publish", "unpublish", "snapshot"]

_started = time.time()
_published: dict[str, Callable[[], Any]] = {}


def publish(name: str, fn: Callable[[], Any]) -> None:
    """Show ``fn()`` (JSON-serialisable) as ``name`` in ``vars`` (expvar's Publish)."""
    if name in ("process", "num_goroutine", "schedulers", "servers"):
        raise ValueError(f"debug: {name!r} is one of gonet's own variables")
    _published[name] = fn


def unpublish(name: str) -> None:
    _published.pop(name, None)


def _rss() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def snapshot() -> dict:
    """What ``vars`` serves, as a dict."""
    from gonet.http.server import all_servers

    ru = resource.getrusage(resource.RUSAGE_SELF)
    peak = ru.ru_maxrss * (1 if sys.platform == "darwin" else 1024)
    out: dict[str, Any] = {
        "process": {"pid": os.getpid(), "uptime": round(time.time() - _started, 3),
                    "rss": _rss(), "max_rss": peak,
                    "cpu_seconds": round(ru.ru_utime + ru.ru_stime, 3),
                    "argv": sys.argv},
        "num_goroutine": num_goroutine(),
        "schedulers": scheduler_stats(),
        "servers": [s.stats() for s in all_servers()],
    }
    for name, fn in list(_published.items()):
        try:
            out[name] = fn()
        except Exception as e:  # noqa: BLE001 - one bad variable must not hide the rest
            out[name] = f"error: {type(e).__name__}: {e}"
    return out


def _flatten(prefix: str, v: Any, out: list[str]) -> None:
    if isinstance(v, dict):
        for k, x in v.items():
            _flatten(f"{prefix}.{k}" if prefix else str(k), x, out)
    elif isinstance(v, list) and v and all(isinstance(x, dict) for x in v):
        for i, x in enumerate(v):
            _flatten(f"{prefix}.{i}", x, out)
    else:
        out.append(f"{prefix} {json.dumps(v)}")


_INDEX = """gonet debug: {pid}

  goroutines           every goroutine's stack (?format=json)
  vars                 process, scheduler, poller and server counters as JSON (?format=text)
"""


class DebugHandler:
    """Serves the debug pages; see the module docstring. Mount it on a path ending in "/"."""

    def __repr__(self) -> str:
        return "<DebugHandler>"

    def serve_http(self, w: Any, r: Any) -> None:
        if r.method not in ("GET", "HEAD"):
            w.header().set("Allow", "GET, HEAD")
            w.header().set("Content-Type", "text/plain; charset=utf-8")
            w.write_header(405)
            w.write(b"405 method not allowed\n")
            return
        page = r.url.path.rsplit("/", 1)[-1]
        fmt = r.url.query().get("format")
        h = w.header()
        h.set("Cache-Control", "no-store")
        h.set("X-Content-Type-Options", "nosniff")
        if page == "":
            h.set("Content-Type", "text/plain; charset=utf-8")
            w.write(_INDEX.format(pid=os.getpid()).encode())
        elif page == "goroutines":
            if fmt == "json":
                h.set("Content-Type", "application/json")
                w.write(json.dumps(goroutines(), indent=1).encode())
            else:
                import io

                buf = io.StringIO()
                rtdebug.dump_goroutines(buf)
                h.set("Content-Type", "text/plain; charset=utf-8")
                w.write(buf.getvalue().encode())
        elif page == "vars":
            snap = snapshot()
            if fmt == "text":
                lines: list[str] = []
                _flatten("", snap, lines)
                h.set("Content-Type", "text/plain; charset=utf-8")
                w.write(("\n".join(lines) + "\n").encode())
            else:
                h.set("Content-Type", "application/json")
                w.write(json.dumps(snap, indent=1, default=str).encode())
        else:
            h.set("Content-Type", "text/plain; charset=utf-8")
            w.write_header(404)
            w.write(f"404 no debug page {page!r} (see the index)\n".encode())

    __call__ = serve_http
