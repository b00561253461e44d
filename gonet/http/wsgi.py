"""HTTP layer: WSGIHandler, a gonet handler that runs a PEP 3333 application.

``WSGIHandler(app)`` is a handler ``(w, r)`` for :class:`gonet.http.Server`:
it builds the WSGI environ from the Request, calls ``app(environ,
start_response)`` and sends what the app returns through the
ResponseWriter. By default the app runs in the connection's goroutine, so an
app that blocks the OS thread (``time.sleep``, a blocking database driver)
stalls every connection of the process; ``threads=N`` runs each call on a
pool of N OS threads instead, while the connection's goroutine waits.

PEP 3333 points, and how they are met
-------------------------------------

- ``wsgi.input`` streams the request body from the connection as the app
  reads it (chunked bodies too; ``wsgi.input_terminated`` is True, so an app
  may read to EOF without a Content-Length).
- ``wsgi.errors`` writes to the ``gonet.wsgi`` logger, one record per line.
- ``start_response`` only records the status and headers; nothing is sent
  before the first non-empty body block (or the end of the iterable), so a
  later call with ``exc_info`` can still replace them. Once they are sent,
  ``exc_info`` re-raises the app's exception (the server then aborts the
  connection).
- Blocks are never held back: after a block is written the head is flushed,
  unless the declared Content-Length is already complete (a typical
  framework response: one block, a Content-Length, sent with its head in one
  write). A response without Content-Length that ends before the head left
  gets one; otherwise it is chunked (HTTP/1.1).
- The iterable's ``close()`` is always called, whatever happened.
- ``wsgi.file_wrapper`` returns a :class:`FileWrapper`; returned as is, a
  regular file is sent with sendfile(2) from its current position.
- Header names with "_" are dropped from the environ (as nginx and gunicorn
  do): "X-Auth_User" and "X-Auth-User" would both become HTTP_X_AUTH_USER.
- The environ's framing comes from the server's decisions, not from raw
  headers: CONTENT_LENGTH is the length the body is read by (absent for a
  chunked body, whatever Content-Length the client also sent), and
  ``wsgi.url_scheme`` is the connection's ("https" only over TLS) or a
  trusted proxy's (``ProxyHeaders``), never an absolute-form target's.
- The response is the app's: no Content-Type is invented (none is sniffed,
  an untyped body goes out untyped); a body with 204 or 304 is dropped;
  bytes beyond the app's Content-Length are not sent (the iteration stops
  there). Errors are the app's, answered 500 and logged: an informational
  (1xx) final status, a header outside latin-1 (checked in start_response,
  so the app sees the error where it made it).

Threads (``threads=N``)
-----------------------

The pool thread runs the app, its iteration and ``close()``, through the
runtime's :class:`~gonet.runtime.threadpool.Handoff`. Every operation that
touches the connection (reading the body, sending) must run on the
scheduler's thread, so the pool thread hands it back to the connection's
goroutine and waits (:meth:`_Call.io`, ``Handoff.call``): the goroutine
parks for the whole call and wakes for each such request, runs it, and
parks again. Writes that only fill the ResponseWriter's buffer need no
hand-off. Invariant: at any moment exactly one of the two runs the call (the
thread, or the goroutine serving a request while the thread waits), so the
call's state needs no lock.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import unquote_to_bytes

from gonet import __version__
from gonet.http.response import BUFFER_SIZE
from gonet.runtime.threadpool import Handoff, ThreadPool

__all__ = ["WSGIHandler", "FileWrapper"]

log = logging.getLogger("gonet.wsgi")
_errlog = logging.getLogger("gonet.wsgi.errors")


class _Errors:
    """``wsgi.errors``: text written here goes to logging, one record per line."""

    __slots__ = ("_buf",)

    def __init__(self) -> None:
        self._buf = ""

    def write(self, s: str) -> int:
        if not isinstance(s, str):
            raise TypeError(f"wsgi.errors.write() wants str, not {type(s).__name__}")
        buf = self._buf + s
        while "\n" in buf:
            line, buf = buf.split("\n", 1)
            _errlog.error("%s", line)
        self._buf = buf
        return len(s)

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        if self._buf:
            _errlog.error("%s", self._buf)
            self._buf = ""


class _Input:
    """``wsgi.input``: the request body as a binary file, read from the connection on demand."""

    __slots__ = ("_call", "_body")

    def __init__(self, call: _Call, body: Any) -> None:
        self._call = call
        self._body = body

    def read(self, size: int | None = -1) -> bytes:
        """Up to ``size`` bytes (all that is left for -1); fewer only at the end
        of the body, as a buffered file does (apps call read(CONTENT_LENGTH))."""
        if size is None:
            size = -1
        call = self._call
        if call.hop is None:
            return _read_full(self._body, size)
        return call.io(_read_full, self._body, size)

    def readline(self, size: int | None = -1) -> bytes:
        if size is None:
            size = -1
        call = self._call
        if call.hop is None:
            return self._body.readline(size)
        return call.io(self._body.readline, size)

    def readlines(self, hint: int = -1) -> list[bytes]:
        lines = []
        total = 0
        while True:
            line = self.readline()
            if not line:
                break
            lines.append(line)
            total += len(line)
            if 0 < hint <= total:
                break
        return lines

    def __iter__(self):
        while True:
            line = self.readline()
            if not line:
                return
            yield line


def _read_full(body: Any, size: int) -> bytes:
    data = body.read(size)
    if size < 0 or len(data) >= size or not data:
        return data
    parts = [data]
    got = len(data)
    while got < size:
        more = body.read(size - got)
        if not more:
            break
        parts.append(more)
        got += len(more)
    return b"".join(parts)


class FileWrapper:
    """``wsgi.file_wrapper``: iterates a file in blocks, or is sent with sendfile(2).

    The server sends it with sendfile when the app returns it unchanged and
    the file is a regular file; anything in between (middleware iterating it)
    just gets blocks of ``blksize`` bytes.
    """

    def __init__(self, filelike: Any, blksize: int = 8192) -> None:
        self.filelike = filelike
        self.blksize = blksize
        if hasattr(filelike, "close"):
            self.close = filelike.close

    def __iter__(self):
        read = self.filelike.read
        while True:
            data = read(self.blksize)
            if not data:
                return
            yield data

    def _sendfile_span(self) -> tuple[int, int, int] | None:
        """(fd, offset, size left) if the file can go out with sendfile, else None."""
        try:
            fd = self.filelike.fileno()
            st = os.fstat(fd)
        except (AttributeError, OSError, ValueError):
            return None
        if not stat.S_ISREG(st.st_mode):
            return None
        try:
            offset = self.filelike.tell()
        except (AttributeError, OSError, ValueError):
            return None
        return fd, offset, max(st.st_size - offset, 0)


class _Call:
    """One WSGI call: the environ, the response state, and start_response.

    Response state: ``status``/``headers`` recorded by start_response ->
    ``headers_sent`` once the first block (or the end) applied them to the
    ResponseWriter. ``hop`` is None when the app runs in the connection's
    goroutine, else the hand-off back to it (threaded mode).
    """

    __slots__ = ("w", "status", "headers", "headers_sent", "hop", "cl", "written", "body_ok",
                 "done")

    def __init__(self, w: Any, hop: Handoff | None) -> None:
        self.w = w
        self.status: str | None = None
        self.headers: list | None = None
        self.headers_sent = False
        self.hop = hop
        self.cl = -1  # Content-Length declared by the app
        self.written = 0
        self.body_ok = True  # the status allows a body (not 204 or 304)
        self.done = False  # the declared Content-Length is all sent: stop iterating

    def io(self, fn: Callable, *args: Any) -> Any:
        hop = self.hop
        if hop is None:
            return fn(*args)
        return hop.call(fn, *args)

    def start_response(self, status: str, headers: list, exc_info: Any = None) -> Callable:
        if exc_info is not None:
            try:
                if self.headers_sent:
                    raise exc_info[1].with_traceback(exc_info[2])
            finally:
                exc_info = None  # no cycle through the traceback
        elif self.status is not None:
            raise RuntimeError("start_response called a second time without exc_info")
        if type(status) is not str:
            raise TypeError(f"WSGI status must be str, not {type(status).__name__}")
        if len(status) < 3 or not status[:3].isdigit() or (len(status) > 3 and status[3] != " "):
            raise ValueError(f"invalid WSGI status {status!r} (want e.g. '200 OK')")
        if status[0] == "1":
            raise ValueError(f"WSGI status {status!r}: an informational (1xx) status cannot be "
                             "the response (the server sends 100 Continue itself)")
        if type(headers) is not list:
            raise TypeError(f"WSGI response headers must be a list, not {type(headers).__name__}")
        for item in headers:
            if type(item) is not tuple or len(item) != 2:
                raise TypeError(f"WSGI header must be a (name, value) tuple, not {item!r}")
            name, value = item
            if type(name) is not str or type(value) is not str:
                raise TypeError(f"WSGI header name and value must be str: {item!r}")
            if not value.isascii():
                try:
                    value.encode("latin-1")
                except UnicodeEncodeError:
                    raise ValueError(f"WSGI header {name}: value {value!r} is not latin-1 "
                                     "(PEP 3333; encode other text, e.g. RFC 8187)") from None
        self.status = status
        self.headers = headers
        return self.write

    def _apply_headers(self) -> None:
        """Copy status and headers into the ResponseWriter (nothing goes on the wire yet)."""
        if self.status is None:
            raise RuntimeError("WSGI app returned a body without calling start_response")
        w = self.w
        h = w.header()
        add = h.add
        for name, value in self.headers:
            add(name, value)
        if "Content-Type" not in h:
            h["Content-Type"] = []  # none, and none sniffed: the app's response is as it is
        cl = h.get("Content-Length")
        if cl:
            try:
                self.cl = int(cl)
            except ValueError:
                self.cl = -1
        self.headers_sent = True
        code = int(self.status[:3])
        self.body_ok = code != 204 and code != 304
        w.write_header(code)

    def write(self, data: bytes) -> None:
        """The ``write`` callable returned by start_response (unbuffered)."""
        if type(data) is not bytes:
            if not isinstance(data, (bytes, bytearray, memoryview)):
                raise TypeError(f"WSGI write() wants bytes, not {type(data).__name__}")
            data = bytes(data)
        self.send(data)

    def send(self, data: bytes, push: bool = True) -> None:
        """Send one body block; the head goes with the first one.

        ``push``: make sure the block leaves now (PEP 3333: never hold a block
        back while the app produces the next one). Not needed when the app's
        Content-Length is complete, or when every block is already at hand
        (a list): the ResponseWriter then buffers, and a small body goes out
        with its head and a Content-Length in one write.
        """
        if not self.headers_sent:
            self._apply_headers()
        n = len(data)
        if not n or not self.body_ok:
            return  # 204 and 304 have no body: the app's is dropped
        if self.cl >= 0 and self.written + n >= self.cl:
            # PEP 3333: never more than the declared Content-Length.
            self.done = True
            if self.written + n > self.cl:
                n = self.cl - self.written
                if n <= 0:
                    return
                data = data[:n]
        self.written += n
        w = self.w
        if not push or (self.cl >= 0 and self.written >= self.cl):
            if self.hop is not None and not w.head_sent and w.written + n <= BUFFER_SIZE:
                w.write(data)  # only fills the buffer: no I/O, no hand-off
            else:
                self.io(w.write, data)
        else:
            self.io(_write_flush, w, data)


def _write_flush(w: Any, data: bytes) -> None:
    w.write(data)
    if not w.head_sent:
        w.flush()


class WSGIHandler:
    """Serve a WSGI application ``app(environ, start_response)`` as a gonet handler.

    ``threads``: run each call on a pool of that many OS threads (for apps
    that block); 0 or None runs it in the connection's goroutine.
    ``multiprocess``: the value of ``wsgi.multiprocess`` (True under
    several workers). ``url_scheme``: default ``wsgi.url_scheme`` when the
    request does not carry one (see gonet.http.proxy).
    """

    def __init__(self, app: Callable, threads: int | None = None, multiprocess: bool = False,
                 url_scheme: str = "http") -> None:
        if not callable(app):
            raise TypeError(f"WSGI app must be callable, not {type(app).__name__}")
        self.app = app
        self.threads = threads or 0
        self._pool: ThreadPool | None = None
        if self.threads > 0:
            self._pool = ThreadPool(self.threads, "gonet-wsgi")
        self._base = {
            "wsgi.version": (1, 0),
            "wsgi.multithread": self.threads > 1,
            "wsgi.multiprocess": multiprocess,
            "wsgi.run_once": False,
            "wsgi.file_wrapper": FileWrapper,
            "wsgi.input_terminated": True,
            "SCRIPT_NAME": "",
            "SERVER_SOFTWARE": f"gonet/{__version__}",
        }
        self.url_scheme = url_scheme

    def __repr__(self) -> str:
        mode = f"threads={self.threads}" if self.threads else "in goroutine"
        return f"<WSGIHandler {self.app!r} {mode}>"

    def close(self) -> None:
        """Stop the thread pool (threaded mode); calls in progress finish."""
        if self._pool is not None:
            self._pool.shutdown(wait=False)

    # -- environ -----------------------------------------------------------

    def environ(self, r: Any, call: _Call) -> dict:
        """The PEP 3333 environ for request ``r``."""
        env = self._base.copy()
        url = r.url
        target = r.request_uri
        if target[:1] == "/":
            path = target.split("?", 1)[0]
        else:
            path = url.escaped_path() if target != "*" else "*"
        if "%" in path:
            path = unquote_to_bytes(path).decode("latin-1")
        elif not path.isascii():
            path = path.encode("utf-8").decode("latin-1")
        env["REQUEST_METHOD"] = r.method
        env["PATH_INFO"] = path
        env["QUERY_STRING"] = url.raw_query
        env["REQUEST_URI"] = target
        env["RAW_URI"] = target
        env["SERVER_PROTOCOL"] = r.proto
        scheme = url.scheme or self.url_scheme
        env["wsgi.url_scheme"] = scheme
        ra = r.remote_addr or ""
        host, sep, port = ra.rpartition(":")
        if sep and port.isdigit():
            env["REMOTE_ADDR"] = host[1:-1] if host[:1] == "[" else host
            env["REMOTE_PORT"] = port
        else:
            env["REMOTE_ADDR"] = ra  # unix socket peers have no address
        for k, vs in r.header._h.items():
            if k == "Content-Type":
                env["CONTENT_TYPE"] = vs[0]
                continue
            if k == "Content-Length":
                # The length the body is framed by (the server dropped the
                # field if chunked framing overrode it).
                env["CONTENT_LENGTH"] = str(r.content_length)
                continue
            if "_" in k:
                continue
            key = "HTTP_" + k.upper().replace("-", "_")
            env[key] = vs[0] if len(vs) == 1 else ("; " if k == "Cookie" else ", ").join(vs)
        server_host = r.host or ""
        name, port = _split_host(server_host)
        if not name:
            name, port = self._local_name(r)
        env["SERVER_NAME"] = name
        env["SERVER_PORT"] = port or ("443" if scheme == "https" else "80")
        env["wsgi.input"] = _Input(call, r.body)
        env["wsgi.errors"] = _Errors()
        return env

    @staticmethod
    def _local_name(r: Any) -> tuple[str, str]:
        la = r.local_addr
        port = getattr(la, "port", None)
        if la is None or port is None:
            return "localhost", ""
        return la.host, str(port)

    # -- the call ------------------------------------------------------------

    def serve_http(self, w: Any, r: Any) -> None:
        if self._pool is None:
            call = _Call(w, None)
            self._drive(call, self.environ(r, call))
            return
        self._serve_threaded(w, r)

    __call__ = serve_http

    def _drive(self, call: _Call, env: dict) -> None:
        """Call the app and send its response (in the goroutine, or on a pool thread)."""
        result = self.app(env, call.start_response)
        try:
            if type(result) is FileWrapper and self._send_file(call, result):
                return
            send = call.send
            push = type(result) is not list and type(result) is not tuple
            for data in result:
                if type(data) is not bytes:
                    if not isinstance(data, (bytes, bytearray, memoryview)):
                        raise TypeError(f"WSGI app yielded {type(data).__name__}, not bytes")
                    data = bytes(data)
                if data:
                    send(data, push)
                    if call.done:
                        break
            if not call.headers_sent:
                call._apply_headers()
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()

    def _send_file(self, call: _Call, fw: FileWrapper) -> bool:
        span = fw._sendfile_span()
        if span is None:
            return False
        fd, offset, size = span
        if not call.headers_sent:
            call._apply_headers()
        if not call.body_ok:
            return True
        if call.cl >= 0:
            size = min(size, call.cl - call.written)
        if size > 0:
            call.written += size
            call.io(call.w.sendfile, fd, offset, size)
        return True

    def _serve_threaded(self, w: Any, r: Any) -> None:
        hop = Handoff(self._pool)
        call = _Call(w, hop)
        env = self.environ(r, call)
        env["wsgi.multithread"] = True
        hop.run(self._drive, call, env)


def _split_host(hostport: str) -> tuple[str, str]:
    if not hostport:
        return "", ""
    if hostport[0] == "[":
        end = hostport.find("]")
        if end < 0:
            return hostport, ""
        rest = hostport[end + 1:]
        return hostport[1:end], rest[1:] if rest.startswith(":") else ""
    host, sep, port = hostport.rpartition(":")
    if sep and port.isdigit():
        return host, port
    return hostport, ""
