"""HTTP layer: small handler helpers (Go's Error, NotFound, Redirect, StripPrefix, MaxBytesReader).

Each is a function of ``(w, r)`` or returns a handler; none keeps state
between requests.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

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


def _path_clean(p: str) -> str:
    """Go's path.Clean: the shortest path equivalent to ``p`` ("//a/./b/.." -> "/a")."""
    rooted = p[:1] == "/"
    out: list[str] = []
    for seg in p.split("/"):
        if seg == "" or seg == ".":
            continue
        if seg == "..":
            if out and out[-1] != "..":
                out.pop()
            elif not rooted:
                out.append("..")
            continue
        out.append(seg)
    cleaned = "/".join(out)
    if rooted:
        return "/" + cleaned
    return cleaned or "."


def _hex_escape_non_ascii(s: str) -> str:
    """Percent-encode every byte of ``s``'s UTF-8 form that is not ASCII (as Go)."""
    if s.isascii():
        return s
    return "".join(c if c.isascii() else "".join(f"%{b:02x}" for b in c.encode("utf-8"))
                   for c in s)


def redirect(w: Any, r: Any, url: str, code: int) -> None:
    """Reply with a redirect to ``url`` (Go's http.Redirect).

    A relative ``url`` is made absolute against the request's path and
    cleaned ("///evil.com/x" becomes "/evil.com/x": browsers would read a
    host in the first); non-ASCII is percent-encoded. A GET gets a small
    HTML body and GET and HEAD a Content-Type, unless the handler set one;
    a status that allows no body (304, 204) gets none.
    """
    scheme, sep, _ = url.partition(":")
    has_scheme = bool(sep) and scheme[:1].isalpha() and "/" not in scheme and "?" not in scheme
    if not has_scheme and not (url.startswith("//") and url[2:3] != "/"):
        # A path: make it absolute against the request's, keep the query, clean it.
        if not url or url[0] != "/":
            old = r.url.escaped_path() or "/"
            url = old[: old.rfind("/") + 1] + url
        path, q, query = url.partition("?")
        trailing = path.endswith("/")
        path = _path_clean(path)
        if trailing and not path.endswith("/"):
            path += "/"
        url = path + q + query
    h = w.header()
    had_ct = "Content-Type" in h
    h.set("Location", _hex_escape_non_ascii(url))
    if not had_ct and r.method in ("GET", "HEAD"):
        h.set("Content-Type", "text/html; charset=utf-8")
    w.write_header(code)
    if not had_ct and r.method == "GET" and code >= 200 and code != 204 and code != 304:
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
        r2 = r.with_context(None)  # shares r's context, as Go's *r2 = *r
        r2.url = URL(path=p[len(prefix):], raw_query=u.raw_query, scheme=u.scheme, host=u.host,
                     raw_path=rp[len(prefix):] if rp else "", fragment=u.fragment)
        fn(w, r2)

    return handler


class MaxBytesReader:
    """A body that lets through at most ``n`` bytes (Go's MaxBytesReader).

    A read that crosses the limit returns the bytes within it; the next read
    raises :class:`MaxBytesError`, and the server closes the connection
    after the response (the rest of the body stays unread). ``read()`` of
    everything raises at once when the body is longer than ``n``: the whole
    of it cannot be had. A body of exactly ``n`` bytes reads to its end.
    """

    __slots__ = ("_w", "_body", "_left", "_limit", "_hit")

    def __init__(self, w: Any, body: Any, n: int) -> None:
        self._w = w
        self._body = body
        self._left = max(n, 0)  # a negative limit lets nothing through, as 0
        self._limit = n
        self._hit = False

    def _over(self) -> MaxBytesError:
        if not self._hit:
            self._hit = True
            w = self._w
            if hasattr(w, "close_after"):
                w.close_after()  # the rest of the body stays unread: do not reuse
        return MaxBytesError(self._limit)

    def read(self, n: int = -1) -> bytes:
        if self._hit:
            raise MaxBytesError(self._limit)
        left = self._left
        if n is None or n < 0:
            parts = []
            got = 0
            while got <= left:  # one byte past the limit tells "longer" from "exactly n"
                piece = self._body.read(left + 1 - got)
                if not piece:
                    break
                parts.append(piece)
                got += len(piece)
            if got > left:
                raise self._over()
            self._left = 0
            return b"".join(parts)
        if n == 0:
            return b""
        data = self._body.read(min(n, left + 1) if left else 1)
        if len(data) > left:
            # Over the limit: hand out what fits (b"" would read as the end
            # of the body, so with nothing left the error comes now); the
            # next read raises.
            err = self._over()
            if not left:
                raise err
            self._left = 0
            return data[:left]
        self._left = left - len(data)
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
