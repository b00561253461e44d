"""HTTP layer: AccessLog, a handler wrapper writing one log line per request.

One line per request, after the handler returns, to the ``gonet.access``
logger (``gonet serve --access-log`` sends it to stdout). The default is
the combined log format::

    127.0.0.1 - - [10/Oct/2024:13:55:36 +0000] "GET /a?b=1 HTTP/1.1" 200 2326 "http://ref/" "curl/8.0"

Fields: client address (after ProxyHeaders, when it runs first), identity
and user ("-"), local time, the request line, status, body bytes written
("-" for none), Referer and User-Agent. A handler that raised before
sending anything is logged as 500, the status the server answers with.

``AccessLog(handler, format=...)`` takes gunicorn's ``access_log_format``
instead: ``%(name)s`` atoms, of which only those the format names are
computed for each request:

====== =====================================  ======= ==================================
``h``  remote address                         ``s``   status
``l``  ``-``                                  ``B``   response body bytes
``u``  user name (Basic auth) or ``-``        ``b``   body bytes or ``-``
``t``  ``[10/Oct/2024:13:55:36 +0000]``       ``f``   Referer
``r``  request line                           ``a``   User-Agent
``m``  method                                 ``T``   duration, whole seconds
``U``  path without the query                 ``M``   duration, milliseconds
``q``  query string                           ``D``   duration, microseconds
``H``  protocol                               ``L``   duration, decimal seconds
``p``  process id                             ``{h}i`` request header ``h``
``{h}o`` response header ``h``                ``{v}e`` environment variable ``v``
====== =====================================  ======= ==================================

The duration runs from the handler's call to its return.
"""

from __future__ import annotations

import base64
import logging
import os
import re
import time
from collections.abc import Callable
from typing import Any

__all__ = ["AccessLog", "combined_line", "LogFormat"]

access_log = logging.getLogger("gonet.access")

_ts_sec = -1
_ts_text = ""


def _timestamp() -> str:
    global _ts_sec, _ts_text
    now = int(time.time())
    if now != _ts_sec:
        lt = time.localtime(now)
        # %b is locale-dependent; the format wants English month names.
        month = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
                 "Dec")[lt.tm_mon - 1]
        _ts_text = time.strftime(f"%d/{month}/%Y:%H:%M:%S %z", lt)
        _ts_sec = now
    return _ts_text


def _quote(s: str) -> str:
    if not s:
        return "-"
    if '"' in s or "\\" in s or not s.isprintable():
        s = s.encode("unicode_escape").decode("ascii").replace('"', '\\"')
    return s


def combined_line(r: Any, status: int, nbytes: int) -> str:
    """The combined-log-format line for request ``r`` answered with ``status``."""
    ra = r.remote_addr or "-"
    host, sep, port = ra.rpartition(":")
    if sep and port.isdigit():
        ra = host[1:-1] if host[:1] == "[" else host
    h = r.header
    return (f'{ra} - - [{_timestamp()}] "{_quote(f"{r.method} {r.request_uri} {r.proto}")}" '
            f'{status} {nbytes if nbytes else "-"} "{_quote(h.get("Referer"))}" '
            f'"{_quote(h.get("User-Agent"))}"')


_ATOM = re.compile(r"%\(([^)]*)\)")
_DURATION_ATOMS = frozenset("TMDL")
_KNOWN = frozenset("hlutrmUqHsBbfaTMDLp")


def _user(r: Any) -> str:
    auth = r.header.get("Authorization")
    if auth[:6].lower() == "basic ":
        try:
            return base64.b64decode(auth[6:].strip()).decode("utf-8", "replace").split(":", 1)[0]
        except ValueError:
            return "-"
    return "-"


def _client(r: Any) -> str:
    ra = r.remote_addr or "-"
    host, sep, port = ra.rpartition(":")
    if sep and port.isdigit():
        ra = host[1:-1] if host[:1] == "[" else host
    return ra


class LogFormat:
    """A gunicorn-style access log format, checked once (ValueError names a bad atom)."""

    def __init__(self, fmt: str) -> None:
        self.fmt = fmt
        self.keys = sorted(set(_ATOM.findall(fmt)))
        for k in self.keys:
            if k not in _KNOWN and not (k[:1] == "{" and k[-2:-1] == "}" and k[-1:] in "ioe"):
                raise ValueError(f"access log format {fmt!r}: unknown atom %({k})s")
        try:
            fmt % {k: "-" for k in self.keys}
        except (TypeError, ValueError, KeyError) as e:
            raise ValueError(f"access log format {fmt!r}: {e}") from None
        self.timed = any(k in _DURATION_ATOMS for k in self.keys)

    def line(self, r: Any, w: Any, status: int, nbytes: int, seconds: float) -> str:
        atoms = {}
        for k in self.keys:
            if k == "h":
                v = _client(r)
            elif k == "l":
                v = "-"
            elif k == "u":
                v = _user(r)
            elif k == "t":
                v = f"[{_timestamp()}]"
            elif k == "r":
                v = _quote(f"{r.method} {r.request_uri} {r.proto}")
            elif k == "m":
                v = r.method
            elif k == "U":
                v = _quote(r.request_uri.split("?", 1)[0])
            elif k == "q":
                v = _quote(r.request_uri.partition("?")[2]) if "?" in r.request_uri else ""
            elif k == "H":
                v = r.proto
            elif k == "s":
                v = str(status)
            elif k == "B":
                v = str(nbytes)
            elif k == "b":
                v = str(nbytes) if nbytes else "-"
            elif k == "f":
                v = _quote(r.header.get("Referer"))
            elif k == "a":
                v = _quote(r.header.get("User-Agent"))
            elif k == "T":
                v = str(int(seconds))
            elif k == "M":
                v = str(int(seconds * 1000))
            elif k == "D":
                v = str(int(seconds * 1_000_000))
            elif k == "L":
                v = f"{seconds:.6f}"
            elif k == "p":
                v = f"<{os.getpid()}>"
            else:
                name, kind = k[1:-2], k[-1]
                if kind == "i":
                    v = _quote(r.header.get(name))
                elif kind == "o":
                    v = _quote(w.header().get(name))
                else:
                    v = os.environ.get(name, "-")
            atoms[k] = v
        return self.fmt % atoms


class AccessLog:
    """Wrap ``handler``; log each request to ``logger``, in the combined format
    or in ``format`` (gunicorn's atoms, see the module docstring)."""

    def __init__(self, handler: Any, logger: logging.Logger | None = None,
                 format: str | None = None) -> None:
        self.handler: Callable = handler.serve_http if hasattr(handler, "serve_http") else handler
        self.logger = logger or access_log
        self.format = LogFormat(format) if format else None

    def __repr__(self) -> str:
        return f"<AccessLog -> {self.handler!r}>"

    def serve_http(self, w: Any, r: Any) -> None:
        fmt = self.format
        if fmt is not None:
            self._serve_formatted(w, r, fmt)
            return
        ok = False
        try:
            self.handler(w, r)
            ok = True
        finally:
            status = w.status if (ok or w.head_sent) else 500
            if self.logger.isEnabledFor(logging.INFO):
                self.logger.info("%s", combined_line(r, status, w.written))

    __call__ = serve_http

    def _serve_formatted(self, w: Any, r: Any, fmt: LogFormat) -> None:
        ok = False
        t0 = time.perf_counter()
        try:
            self.handler(w, r)
            ok = True
        finally:
            seconds = time.perf_counter() - t0
            status = w.status if (ok or w.head_sent) else 500
            if self.logger.isEnabledFor(logging.INFO):
                self.logger.info("%s", fmt.line(r, w, status, w.written, seconds))
