"""HTTP layer: AccessLog, a handler wrapper writing the combined log format.

One line per request, after the handler returns, to the ``gonet.access``
logger (``gonet serve --access-log`` sends it to stdout)::

    127.0.0.1 - - [10/Oct/2024:13:55:36 +0000] "GET /a?b=1 HTTP/1.1" 200 2326 "http://ref/" "curl/8.0"

Fields: client address (after ProxyHeaders, when it runs first), identity
and user ("-"), local time, the request line, status, body bytes written
("-" for none), Referer and User-Agent. A handler that raised before
sending anything is logged as 500, the status the server answers with.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

__all__ = ["AccessLog", "combined_line"]

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


class AccessLog:
    """Wrap ``handler``; log each request in the combined format to ``logger``."""

    def __init__(self, handler: Any, logger: logging.Logger | None = None) -> None:
        self.handler: Callable = handler.serve_http if hasattr(handler, "serve_http") else handler
        self.logger = logger or access_log

    def __repr__(self) -> str:
        return f"<AccessLog -> {self.handler!r}>"

    def serve_http(self, w: Any, r: Any) -> None:
        ok = False
        try:
            self.handler(w, r)
            ok = True
        finally:
            status = w.status if (ok or w.head_sent) else 500
            if self.logger.isEnabledFor(logging.INFO):
                self.logger.info("%s", combined_line(r, status, w.written))

    __call__ = serve_http
