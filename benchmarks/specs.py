"""Benchmarks layer: the catalogue of servers and self-timing programs.

A :class:`Spec` names one script under ``servers/`` and what it needs. The
runner checks ``requires`` with ``importlib`` before it starts anything, so a
peer that is not installed shows as "not installed" without a process; a
gonet script that finds its API missing exits with status 3 and shows as
"not available yet". To add a peer: write its script, add a Spec here, and
list it in a scenario (``scenarios.py``).
"""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass, field
from pathlib import Path

SERVERS_DIR = Path(__file__).resolve().parent / "servers"


@dataclass(frozen=True)
class Spec:
    name: str  # short id used on the command line (--servers) and in JSON
    label: str  # shown in tables and the chart
    script: str  # file under servers/
    requires: tuple[str, ...] = ()  # importable modules it needs
    gonet: bool = False  # the subject (ratios are gonet / peer)
    extra_args: tuple[str, ...] = ()
    python: str = field(default_factory=lambda: sys.executable)

    def missing(self) -> list[str]:
        """The required modules this interpreter cannot import."""
        return [m for m in self.requires if importlib.util.find_spec(m) is None]

    def argv(self, *args: str) -> list[str]:
        return [self.python, str(SERVERS_DIR / self.script), *self.extra_args, *args]


# -- HTTP hello world servers (scenarios 1 and 3) ---------------------------------
GONET_HTTP = Spec("gonet-http", "gonet.http", "gonet_http.py", ("gonet", "h11"), gonet=True)
UVICORN_H11 = Spec("uvicorn-h11", "uvicorn h11/asyncio", "uvicorn_h11.py", ("uvicorn", "h11"))
HYPERCORN = Spec("hypercorn", "hypercorn (asyncio)", "hypercorn_asyncio.py", ("hypercorn",))
GEVENT_WSGI = Spec("gevent-pywsgi", "gevent.pywsgi", "gevent_pywsgi.py", ("gevent",))
UVICORN_FAST = Spec("uvicorn-httptools", "uvicorn httptools/uvloop (C ref.)",
                    "uvicorn_httptools.py", ("uvicorn", "httptools", "uvloop"))
HTTP_SERVERS = [GONET_HTTP, UVICORN_H11, HYPERCORN, GEVENT_WSGI, UVICORN_FAST]

H11_CEILING = Spec("h11-ceiling", "h11 ceiling (no I/O)", "h11_ceiling.py", ("h11",))

# -- TCP echo servers (scenario 2) --------------------------------------------------
GONET_ECHO = Spec("gonet-echo", "gonet net", "gonet_echo.py", ("gonet",), gonet=True)
ECHO_SERVERS = [
    GONET_ECHO,
    Spec("asyncio-streams", "asyncio streams", "asyncio_streams.py"),
    Spec("asyncio-protocol", "asyncio Protocol", "asyncio_protocol.py"),
    Spec("uvloop-streams", "uvloop streams", "uvloop_streams.py", ("uvloop",)),
    Spec("gevent-stream", "gevent StreamServer", "gevent_stream.py", ("gevent",)),
    Spec("trio", "trio", "trio_echo.py", ("trio",)),
]

# -- lightweight tasks (scenario 4) -------------------------------------------------
TASK_PROGRAMS = [
    Spec("gonet-goroutines", "gonet goroutines", "gonet_goroutines.py", ("gonet",), gonet=True),
    Spec("gevent-greenlets", "gevent greenlets", "gevent_greenlets.py", ("gevent",)),
    Spec("asyncio-tasks", "asyncio tasks", "asyncio_tasks.py"),
    Spec("trio-tasks", "trio tasks", "trio_tasks.py", ("trio",)),
    Spec("greenlet-floor", "bare greenlets (floor)", "greenlet_floor.py", ("greenlet",)),
]

# -- issue 7: a Flask app under gonet serve and WSGI peers; gonet worker scaling ----
FLASK_SERVERS = [
    Spec("gonet-serve-flask", "gonet serve (wsgi)", "gonet_serve.py", ("gonet", "flask"),
         gonet=True, extra_args=("--app", "flask_app:app", "--interface", "wsgi")),
    Spec("gunicorn-sync", "gunicorn sync", "gunicorn_flask.py", ("gunicorn", "flask"),
         extra_args=("--worker-class", "sync")),
    Spec("gunicorn-gevent", "gunicorn gevent", "gunicorn_flask.py",
         ("gunicorn", "flask", "gevent"), extra_args=("--worker-class", "gevent")),
    Spec("waitress", "waitress (4 threads)", "waitress_flask.py", ("waitress", "flask")),
]
WORKER_SERVERS = [
    Spec("gonet-w1", "gonet serve --workers 1", "gonet_serve.py", ("gonet",), gonet=True,
         extra_args=("--app", "gonet_http:hello", "--workers", "1")),
    Spec("gonet-w2", "gonet serve --workers 2", "gonet_serve.py", ("gonet",), gonet=True,
         extra_args=("--app", "gonet_http:hello", "--workers", "2")),
]

# -- issue 15: HTTPS (keep-alive, and a new connection per request) ------------------
HTTPS_SERVERS = [
    Spec("gonet-https", "gonet.http + gonet.tls", "gonet_https.py", ("gonet", "h11"), gonet=True),
    Spec("uvicorn-h11-tls", "uvicorn h11/asyncio --ssl", "uvicorn_tls.py", ("uvicorn", "h11")),
    Spec("uvicorn-httptools-tls", "uvicorn httptools/uvloop --ssl", "uvicorn_tls.py",
         ("uvicorn", "httptools", "uvloop"), extra_args=("--fast",)),
    Spec("gunicorn-sync-tls", "gunicorn sync --certfile", "gunicorn_tls.py", ("gunicorn",)),
    Spec("go-https", "Go ListenAndServeTLS (1 core)", "go_https.py"),
]

# -- issue 14: fan-out, a handler that calls a 50 ms upstream -----------------------
FANOUT_UPSTREAM = Spec("fanout-upstream", "upstream (50 ms)", "fanout_upstream.py", ("gonet",))
FANOUT_SERVERS = [
    Spec("gonet-fanout-requests", "gonet serve, patched, requests", "gonet_serve.py",
         ("gonet", "requests"), gonet=True,
         extra_args=("--app", "fanout_app:app", "--interface", "wsgi")),
    Spec("gunicorn-gevent-requests", "gunicorn gevent, requests", "gunicorn_flask.py",
         ("gunicorn", "gevent", "requests", "flask"),
         extra_args=("--worker-class", "gevent", "--app", "fanout_app:app")),
    Spec("uvicorn-httpx", "uvicorn, async httpx", "uvicorn_fanout.py", ("uvicorn", "httpx")),
    # gonet's own client (issue 16): "not available" until gonet.http.Client lands.
    Spec("gonet-fanout-client", "gonet.http, gonet's client", "gonet_fanout_client.py",
         ("gonet",), gonet=True),
]

# -- issue 18: WebSocket echo ---------------------------------------------------------
GONET_WEBSOCKET = Spec("gonet-websocket", "gonet.websocket", "gonet_websocket.py",
                       ("gonet", "wsproto"), gonet=True)
WEBSOCKET_SERVERS = [
    GONET_WEBSOCKET,
    Spec("websockets-asyncio", "websockets asyncio server", "websockets_asyncio.py",
         ("websockets",)),
    Spec("uvicorn-ws-websockets", "uvicorn h11/asyncio, ws=websockets", "uvicorn_ws.py",
         ("uvicorn", "websockets"), extra_args=("--ws", "websockets")),
    Spec("uvicorn-ws-wsproto", "uvicorn h11/asyncio, ws=wsproto", "uvicorn_ws.py",
         ("uvicorn", "wsproto"), extra_args=("--ws", "wsproto")),
    Spec("go-websocket", "Go net/http Hijack, frames by hand (1 core)", "go_websocket.py"),
]

# -- issue 16: HTTP clients, 64 GETs in flight against one hello server ---------------
#: The hello servers the client scenario may aim at, best first: the first one
#: that starts is used for every client row (it should not be the bottleneck).
CLIENT_TARGETS = [
    Spec("go-http", "Go net/http (1 core)", "go_http.py"),
    UVICORN_FAST,
    GONET_HTTP,
]
CLIENT_PROGRAMS = [
    Spec("gonet-client", "gonet.http Client", "client_gonet.py", ("gonet", "h11"), gonet=True),
    Spec("aiohttp-client", "aiohttp.ClientSession", "client_aiohttp.py", ("aiohttp",)),
    Spec("httpx-async", "httpx.AsyncClient", "client_httpx.py", ("httpx",)),
    Spec("requests-threads", "requests (a thread per request in flight)", "client_requests.py",
         ("requests",)),
    Spec("requests-gevent", "requests under gevent monkey-patching", "client_requests.py",
         ("requests", "gevent"), extra_args=("--gevent",)),
]
