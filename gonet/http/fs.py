"""HTTP layer: FileServer, serving a directory tree (Go's http.FileServer).

GET and HEAD only (others get 405). The request path is cleaned and resolved
under the root; a path that would leave the root (``..``, or a symlink
pointing outside) gets 404, never the file. Files carry a Content-Type
guessed from the extension, Last-Modified (with If-Modified-Since -> 304)
and honour a single byte ``Range`` (206 / 416). The body goes out with the
connection's sendfile(2): no copy through Python.

Directories: "/dir" redirects to "/dir/"; "/dir/" serves ``index.html`` if
present, otherwise a listing; ".../index.html" redirects to ".../".
"""

from __future__ import annotations

import html
import mimetypes
import os
import stat
from email.utils import formatdate, parsedate_to_datetime
from typing import Any
from urllib.parse import quote

from gonet.http.mux import clean_path
from gonet.http.util import error

__all__ = ["FileServer", "serve_file"]


def _content_type(path: str) -> str:
    ctype, enc = mimetypes.guess_type(path)
    if ctype is None:
        return ""
    if ctype.startswith("text/") or ctype in ("application/javascript", "application/json"):
        ctype += "; charset=utf-8"
    return ctype


def _parse_range(spec: str, size: int) -> tuple[int, int] | None | str:
    """One "bytes=a-b" range -> (start, length); None = ignore; "bad" = 416."""
    if not spec.startswith("bytes="):
        return None
    ranges = [s.strip() for s in spec[6:].split(",") if s.strip()]
    if len(ranges) != 1:
        return None  # several ranges: send the whole file (allowed by RFC 9110)
    first, dash, last = ranges[0].partition("-")
    if not dash:
        return "bad"
    first, last = first.strip(), last.strip()
    try:
        if first == "":
            n = int(last)
            if n <= 0:
                return "bad"
            n = min(n, size)
            return (size - n, n)
        start = int(first)
        if start < 0 or start >= size:
            return "bad"
        end = size - 1 if last == "" else min(int(last), size - 1)
        if end < start:
            return "bad"
        return (start, end - start + 1)
    except ValueError:
        return "bad"


def _local_redirect(w: Any, r: Any, target: str) -> None:
    """Redirect with a relative Location, left unresolved (correct under strip_prefix)."""
    q = r.url.raw_query
    w.header().set("Location", target + ("?" + q if q else ""))
    w.write_header(301)


def _contains_dot_dot(p: str) -> bool:
    return ".." in p and any(seg == ".." for seg in p.replace("\\", "/").split("/"))


def serve_file(w: Any, r: Any, path: str) -> None:
    """Reply with the contents of the file at ``path`` (ranges, conditional GET).

    As Go's ServeFile, a request whose URL path has a ".." element gets 400:
    callers too often build ``path`` from the URL path.
    """
    if _contains_dot_dot(r.url.path):
        error(w, "invalid URL path", 400)
        return
    _serve_file(w, r, path)


def _serve_file(w: Any, r: Any, path: str) -> None:
    try:
        f = open(path, "rb")  # noqa: SIM115 - closed below
    except OSError:
        error(w, "404 page not found", 404)
        return
    with f:
        st = os.fstat(f.fileno())
        if not stat.S_ISREG(st.st_mode):
            error(w, "404 page not found", 404)
            return
        _serve_open_file(w, r, f, path, st)


def _serve_open_file(w: Any, r: Any, f: Any, path: str, st: os.stat_result) -> None:
    size = st.st_size
    mtime = int(st.st_mtime)
    h = w.header()
    ims = r.header.get("If-Modified-Since")
    if ims and r.method in ("GET", "HEAD") and not r.header.get("If-None-Match"):
        try:
            since = parsedate_to_datetime(ims).timestamp()
        except (TypeError, ValueError, IndexError):
            since = None
        if since is not None and mtime <= since:
            h.set("Last-Modified", formatdate(mtime, usegmt=True))
            w.write_header(304)
            return
    h.set("Last-Modified", formatdate(mtime, usegmt=True))
    if not h.get("Content-Type"):
        ctype = _content_type(path)
        if not ctype:
            from gonet.http.response import detect_content_type

            ctype = detect_content_type(os.pread(f.fileno(), 512, 0))
        h.set("Content-Type", ctype)
    h.set("Accept-Ranges", "bytes")
    start, length, status = 0, size, 200
    rng = r.header.get("Range")
    if rng and size > 0:
        ir = r.header.get("If-Range")
        if not ir or ir == formatdate(mtime, usegmt=True):
            got = _parse_range(rng, size)
            if got == "bad":
                h.set("Content-Range", f"bytes */{size}")
                error(w, "416 requested range not satisfiable", 416)
                return
            if got is not None:
                start, length = got
                status = 206
                h.set("Content-Range", f"bytes {start}-{start + length - 1}/{size}")
    if not h.get("Content-Encoding"):
        # As Go: under a Content-Encoding the handler set, the length of what
        # goes out is not the file's.
        h.set("Content-Length", str(length))
    w.write_header(status)
    if r.method != "HEAD" and length:
        w.sendfile(f, start, length)


class FileServer:
    """A handler serving files under ``root`` (Go's ``http.FileServer(http.Dir(root))``).

    Mount it under a prefix with ``strip_prefix``:
    ``mux.handle("/static/", http.strip_prefix("/static", http.FileServer("public")))``.
    """

    def __init__(self, root: str, listing: bool = True) -> None:
        self.root = os.path.realpath(root)
        self.listing = listing

    def __repr__(self) -> str:
        return f"FileServer({self.root!r})"

    def serve_http(self, w: Any, r: Any) -> None:
        if r.method not in ("GET", "HEAD"):
            w.header().set("Allow", "GET, HEAD")
            error(w, "405 method not allowed", 405)
            return
        upath = r.url.path
        if not upath.startswith("/"):
            upath = "/" + upath
        if "\0" in upath:
            error(w, "400 bad request", 400)
            return
        cleaned = clean_path(upath)
        rel = cleaned.lstrip("/")
        full = os.path.realpath(os.path.join(self.root, rel))
        if full != self.root and not full.startswith(self.root + os.sep):
            error(w, "404 page not found", 404)  # escapes the root (.. or a symlink)
            return
        if upath.endswith("/index.html"):
            _local_redirect(w, r, "./")
            return
        try:
            st = os.stat(full)
        except OSError:
            error(w, "404 page not found", 404)
            return
        if stat.S_ISDIR(st.st_mode):
            if not upath.endswith("/"):
                _local_redirect(w, r, quote(os.path.basename(upath.rstrip("/"))) + "/")
                return
            index = os.path.join(full, "index.html")
            if os.path.isfile(index):
                _serve_file(w, r, index)
                return
            if not self.listing:
                error(w, "403 forbidden", 403)
                return
            self._list(w, r, full)
            return
        if upath.endswith("/"):
            _local_redirect(w, r, "../" + quote(os.path.basename(upath.rstrip("/"))))
            return
        _serve_file(w, r, full)

    __call__ = serve_http

    def _list(self, w: Any, r: Any, full: str) -> None:
        try:
            names = sorted(os.listdir(full))
        except OSError:
            error(w, "500 error reading directory", 500)
            return
        lines = ["<!doctype html>\n<meta name=\"viewport\" content=\"width=device-width\">\n<pre>\n"]
        for name in names:
            disp = name + ("/" if os.path.isdir(os.path.join(full, name)) else "")
            lines.append(f'<a href="{quote(disp)}">{html.escape(disp)}</a>\n')
        lines.append("</pre>\n")
        w.header().set("Content-Type", "text/html; charset=utf-8")
        w.write("".join(lines).encode("utf-8"))
