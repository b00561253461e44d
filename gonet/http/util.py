"""HTTP layer: small handler helpers (Go's Error, NotFound, Redirect, StripPrefix, MaxBytesReader).

Each is a function of ``(w, r)`` or returns a handler; none keeps state
between requests.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any
from urllib.parse import urljoin

from gonet.http.request import URL, MaxBytesError
from gonet.http.status import status_text

__all__ = [
    "error",
    "not_found",
    "not_found_handler",
    "redirect",
    "redirect_handler",
    "strip_prefix",
    "max_bytes_reader",
    "MaxBytesReader",
]


def error(w: Any, message: str, code: int) -> None:
    """Reply with ``code`` and a plain-text ``message`` (Go's http.Error)."""
    h = w.header()
    h.delete("Content-Length")
    h.set("Content-Type", "text/plain; charset=utf-8")
    h.set("X-Content-Type-Options", "nosniff")
    w.write_header(code)
    w.write(message.encode("utf-8") + b"\n")


def not_found(w: Any, r: Any) -> None:
    """Reply 404 "404 page not found"."""
    error(w, "404 page not found", 404)


def not_found_handler() -> Callable[[Any, Any], None]:
    return not_found


def redirect(w: Any, r: Any, url: str, code: int) -> None:
    """Reply with a redirect to ``url`` (relative to the request path if relative)."""
    if "://" not in url.split("?", 1)[0]:
        # Make a relative path absolute against the request's path, keeping the query.
        if not url.startswith("/"):
            old = r.url.path or "/"
            base = old if old.endswith("/") else old[: old.rfind("/") + 1]
            path, q, query = url.partition("?")
            url = urljoin(base, path) + (q + query if q else "")
    h = w.header()
    h.set("Location", url)
    if r.method in ("GET", "HEAD"):
        h.set("Content-Type", "text/html; charset=utf-8")
    w.write_header(code)
    if r.method == "GET":
        w.write(f'<a href="{html.escape(url)}">{status_text(code)}</a>.\n\n'.encode())


def redirect_handler(url: str, code: int) -> Callable[[Any, Any], None]:
    def handler(w: Any, r: Any) -> None:
        redirect(w, r, url, code)

    return handler


def strip_prefix(prefix: str, h: Any) -> Callable[[Any, Any], None]:
    """A handler that removes ``prefix`` from the path and calls ``h``; 404 otherwise."""
    fn = getattr(h, "serve_http", h)

    def handler(w: Any, r: Any) -> None:
        u = r.url
        p = u.path
        rp = u.raw_path
        if not p.startswith(prefix) or (rp and not rp.startswith(prefix)):
            not_found(w, r)
            return
        r2 = r.with_context(r._ctx) if r._ctx is not None else r.with_context(None)
        r2.url = URL(path=p[len(prefix):], raw_query=u.raw_query, scheme=u.scheme, host=u.host,
                     raw_path=rp[len(prefix):] if rp else "", fragment=u.fragment)
        fn(w, r2)

    return handler


class MaxBytesReader:
    """A body that raises MaxBytesError after ``n`` bytes and asks the server
    to close the connection after the response (Go's MaxBytesReader)."""

    __slots__ = ("_w", "_body", "_left", "_limit", "_hit")

    def __init__(self, w: Any, body: Any, n: int) -> None:
        self._w = w
        self._body = body
        self._left = n
        self._limit = n
        self._hit = False

    def read(self, n: int = -1) -> bytes:
        if self._hit:
            raise MaxBytesError(self._limit)
        want = self._left + 1 if n is None or n < 0 or n > self._left else n
        if n is None or n < 0:
            parts = []
            got = 0
            while got < want:
                piece = self._body.read(want - got)
                if not piece:
                    break
                parts.append(piece)
                got += len(piece)
            data = b"".join(parts)
        else:
            data = self._body.read(want)
        if len(data) > self._left:
            self._hit = True
            w = self._w
            if hasattr(w, "close_after"):
                w.close_after()  # the rest of the body stays unread: do not reuse
            raise MaxBytesError(self._limit)
        self._left -= len(data)
        return data

    def __iter__(self):
        while True:
            c = self.read(65536)
            if not c:
                return
            yield c

    @property
    def eof(self) -> bool:
        return getattr(self._body, "eof", False)

    def close(self) -> None:
        close = getattr(self._body, "close", None)
        if close is not None:
            close()


def max_bytes_reader(w: Any, body: Any, n: int) -> MaxBytesReader:
    """Limit ``body`` to ``n`` bytes: ``r.body = http.max_bytes_reader(w, r.body, 1 << 20)``."""
    return MaxBytesReader(w, body, n)
