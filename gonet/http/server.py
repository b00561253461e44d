"""HTTP layer: Server, the per-connection loop, timeouts and shutdown.

This is Go's ``net/http`` server (``Server``, ``conn.serve``) on gonet's net
layer. ``serve`` accepts connections and starts ONE goroutine per
connection; that goroutine reads a request, calls the handler itself, writes
the response, and loops (keep-alive). Handlers are plain blocking-style
functions; a handler that waits parks only its own connection's goroutine.

h11 parses each request (a fresh ``h11.Connection`` per request: cheaper
than resetting one, and bytes already read for the next request are handed
over through ``trailing_data``). Responses are written by
:class:`~gonet.http.response.ResponseWriter`.

Timeouts (seconds; None = no limit) with Go's meanings
------------------------------------------------------

- ``read_header_timeout``: from the start of a request (the first byte
  after an idle wait; accept for the first request) to the end of its head.
- ``read_timeout``: the same start to the end of the request body.
- ``write_timeout``: from the end of the request head to the end of the
  response.
- ``idle_timeout``: the wait for the next request on a keep-alive connection
  (falls back to read_timeout when None, as in Go).

Each phase sets the connection's read deadline once (cheap: the poller keeps
one lazily extended timer per fd). Unlike Go, the defaults are safe
(read_header_timeout=10, idle_timeout=120), and ``read_timeout`` never cuts
a streaming response: its deadline only bounds reading the request; once the
body is read, the "client went away" watcher (below) runs with no deadline.

Connection states (``_Conn.state``): NEW (accepted, no request yet) ->
ACTIVE (a request head has been read; the request is being served) -> IDLE (waiting between
requests) -> ACTIVE ... ; HIJACKED when a handler takes the connection.
``shutdown`` closes IDLE connections (and NEW ones older than 5 s, as Go
does), lets ACTIVE ones finish their current response with
``Connection: close``, and force-closes what remains at its timeout.

The request context and the client-gone watcher
-----------------------------------------------

``r.context`` is built on first use only. It is a child of the server's base
context (cancelled by ``shutdown``/``close``) and is cancelled when the
handler returns. Building it starts, once the request body has been read, a
watcher goroutine that reads the connection: EOF or an error means the
client went away and cancels the context; bytes mean a pipelined request
(kept for the loop). When the handler returns, the loop stops the watcher by
setting a read deadline in the past and joins it. Handlers that never ask
for the context cost no extra goroutine.
"""

from __future__ import annotations

import errno
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import h11

from gonet.http.mux import handler_fn
from gonet.http.request import NO_BODY, Body, Request
from gonet.http.response import ResponseWriter
from gonet.net import ClosedError, DeadlineExceededError, Listener, listen
from gonet.runtime.sched import get_sched
from gonet.runtime.sched import sleep as _sleep

__all__ = ["Server", "ServerClosed", "AbortHandler", "listen_and_serve"]

log = logging.getLogger("gonet.http")

_monotonic = time.monotonic

NEW, ACTIVE, IDLE, HIJACKED, CLOSED = "new", "active", "idle", "hijacked", "closed"

#: Unread request body the server will read and discard to keep a connection.
MAX_POST_HANDLER_READ_BYTES = 256 << 10

_METHODS = {m.encode(): m for m in ("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS",
                                    "CONNECT", "TRACE")}

_H11Connection = h11.Connection
_H11Request = h11.Request
_SERVER = h11.SERVER
_NEED_DATA = h11.NEED_DATA
_CHUNKED = ("chunked",)


def _check_fast_head() -> Any:
    """h11's own head parser, called directly (skipping the state machine for
    requests without a body); None if this h11 does not have the pieces, or
    parses a sample differently than through its public API."""
    try:
        from h11._readers import maybe_read_from_IDLE_client as read_head

        conn = h11.Connection(h11.SERVER)
        if not hasattr(conn, "_receive_buffer") or not hasattr(conn, "_process_event"):
            return None
        sample = b"GET /x?y HTTP/1.1\r\nHost: a\r\nX-A:  b \r\n\r\nrest"
        conn.receive_data(sample)
        ev = read_head(conn._receive_buffer)
        ref = h11.Connection(h11.SERVER)
        ref.receive_data(sample)
        want = ref.next_event()
        if (type(ev) is not h11.Request or ev.method != want.method or ev.target != want.target
                or list(ev.headers) != list(want.headers) or ev.headers._full_items != want.headers._full_items
                or conn.trailing_data[0] != b"rest"):
            return None
        conn._process_event(conn.their_role, ev)
        return read_head
    except Exception:  # noqa: BLE001 - any surprise means: use the public API
        return None


_read_idle_head = _check_fast_head()
_FAST_HEAD = _read_idle_head is not None

_TEMPORARY_ACCEPT_ERRORS = {errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM,
                            errno.ECONNABORTED, errno.EPROTO, errno.EPERM}


class ServerClosed(RuntimeError):
    """serve() was called on a server that was shut down or closed."""

    def __init__(self) -> None:
        super().__init__("http: Server closed")


class _Released(Exception):
    """Internal: the idle connection is handed to ``read_later`` (see _read_head)."""


class AbortHandler(Exception):
    """Raise in a handler to abort the response without logging (Go's ErrAbortHandler)."""


def _handler_fn(handler: Any) -> Callable:
    return _default_mux().serve_http if handler is None else handler_fn(handler)


def _default_mux() -> Any:
    from gonet.http import default_serve_mux

    return default_serve_mux


def _simple_response(status: int, text: str) -> bytes:
    from gonet.http.status import status_line

    body = text.encode()
    return (status_line(status) + b"Content-Type: text/plain; charset=utf-8\r\n"
            b"Connection: close\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)


class _Conn:
    """One accepted connection and the goroutine serving it (Go's ``conn``)."""

    __slots__ = ("srv", "c", "state", "h", "remote", "created", "broken", "peer_eof",
                 "pending", "w", "req", "ctx_cancel", "want_watch", "watcher", "abort_watch",
                 "continue_sent", "t0", "head_deadline_pending", "__weakref__")

    def __init__(self, srv: Server, c: Any) -> None:
        self.srv = srv
        self.c = c
        self.state = NEW
        self.h: h11.Connection | None = None
        try:
            self.remote = str(c.remote_addr)
        except OSError:
            self.remote = ""
        self.created = _monotonic()
        self.broken = False  # the stream is in an unknown state: do not reuse
        self.peer_eof = False  # the client closed its side
        self.pending = b""  # bytes the watcher read past the current request
        self.w: ResponseWriter | None = None
        self.req: Request | None = None
        self.ctx_cancel: Callable | None = None
        self.want_watch = False
        self.watcher: Any = None
        self.abort_watch = False
        self.continue_sent = False
        self.t0 = 0.0
        self.head_deadline_pending = False

    def __repr__(self) -> str:
        return f"<http conn {self.remote} {self.state}>"

    # -- hooks used by Body and ResponseWriter ------------------------------------

    def closing(self) -> bool:
        srv = self.srv
        return srv._shutting_down or not srv._keep_alives

    def before_head(self) -> None:
        req = self.req
        if req is not None and req.body is not NO_BODY:
            body = req.body
            if not body.eof and getattr(body, "_continue", False):
                # The client is still waiting for "100 Continue" and will
                # decide itself whether to send the body: do not reuse.
                body._continue = False
                self.w._close = True

    def send_continue(self) -> None:
        w = self.w
        if w is not None and not w._head_sent and not self.continue_sent:
            self.continue_sent = True
            self.c.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def body_eof(self) -> None:
        if self.want_watch:
            self.want_watch = False
            self._start_watch()

    def request_context(self, req: Request) -> Any:
        from gonet import context

        ctx, cancel = context.with_cancel(self.srv._base_ctx)
        if self.req is req and self.w is not None and not self.w._done:
            self.ctx_cancel = cancel
            if req.body.eof:
                self._start_watch()
            else:
                self.want_watch = True
        else:
            cancel()  # the handler has returned already
        return ctx

    def hijack(self) -> tuple[Any, bytes]:
        self._stop_watch()
        self.state = HIJACKED
        self.srv._conns.discard(self)
        rest = b""
        if self.h is not None:
            rest = self.h.trailing_data[0]
        rest += self.pending
        self.pending = b""
        return self.c, rest

    # -- the client-gone watcher ------------------------------------------------

    def _start_watch(self) -> None:
        if self.watcher is not None or self.state == HIJACKED:
            return
        self.c.set_read_deadline(None)  # a request deadline must not cut a stream
        self.watcher = get_sched().spawn(self._watch, (), None, f"http watch {self.remote}")

    def _watch(self) -> None:
        try:
            data = self.c.read(65536)
        except DeadlineExceededError:
            if self.abort_watch:
                return
            data = b""
        except OSError:
            data = b""
            self.broken = True
        if data:
            self.pending += data
            return
        self.peer_eof = True
        cancel = self.ctx_cancel
        if cancel is not None:
            cancel()

    def _stop_watch(self) -> None:
        self.want_watch = False
        g = self.watcher
        if g is None:
            return
        if not g.done():
            self.abort_watch = True
            self.c.set_read_deadline(_monotonic() - 1.0)
            g.join()
            self.abort_watch = False
        self.watcher = None

    # -- the loop ---------------------------------------------------------------

    def run(self, resumed: bool = False) -> None:
        """Serve the connection; ``resumed`` after an idle release."""
        srv = self.srv
        c = self.c
        released = False
        try:
            released = self._serve(resumed)  # True: read_later resumes it (see _read_head)
        except (ClosedError, ConnectionError, DeadlineExceededError):
            pass  # client gone, timed out, or closed by shutdown: nothing to report
        except OSError as e:
            srv._log.debug("http: connection %s: %s", self.remote, e)
        finally:
            if released:
                pass
            elif self.state != HIJACKED:
                self.state = CLOSED
                srv._conns.discard(self)
                c.close()
            cancel = self.ctx_cancel
            if cancel is not None:
                self.ctx_cancel = None
                cancel()

    def _serve(self, resumed: bool = False) -> bool:
        """The request loop. Returns True when the connection was released
        while idle (nothing to close), else ends the connection."""
        srv = self.srv
        c = self.c
        handler = srv._handler
        max_event = srv.max_header_bytes + 4096
        rd_to = srv.read_timeout
        wr_to = srv.write_timeout
        set_rd = c.set_read_deadline
        remote = self.remote
        new_request = Request.__new__
        fast = _FAST_HEAD
        first = not resumed
        h = _H11Connection(_SERVER, max_event)
        while True:
            # ---- phase 1: the request head --------------------------------------
            # ``h`` holds any bytes already read past the previous request.
            self.h = h
            try:
                ev = self._read_head(h, first, fast, max_event, resumed)
            except _Released:
                # Nothing is buffered (or there would be no wait): a released
                # connection keeps no h11 state, and resumes with a fresh one.
                self.h = None
                c.read_later(self.run, True)
                return True
            except h11.ProtocolError as e:
                self._bad_request(e)
                return False
            if ev is None:
                return False  # closed between requests
            self.state = ACTIVE
            resumed = False
            first = False
            t0 = self.t0

            # ---- phase 2: the handler ---------------------------------------------
            if wr_to is not None:
                c.set_write_deadline(_monotonic() + wr_to)
            items = ev.headers._full_items
            host = b""
            conn_tok = None
            cl = -1
            chunked = False
            expect = False
            for _raw, name, value in items:
                if name == b"host":
                    host = value
                elif name == b"content-length":
                    cl = int(value)
                elif name == b"transfer-encoding":
                    chunked = True
                elif name == b"connection":
                    conn_tok = value.lower()
                elif name == b"expect":
                    expect = value.lower() == b"100-continue"
            http10 = ev.http_version != b"1.1"
            keep10 = False
            if http10:
                keep10 = conn_tok is not None and b"keep-alive" in conn_tok
                close = not keep10
            else:
                close = conn_tok is not None and b"close" in conn_tok
            method = _METHODS.get(ev.method) or ev.method.decode("ascii")
            req = new_request(Request)
            req.method = method
            req.request_uri = target = ev.target.decode("latin-1")
            if http10:
                req.proto = "HTTP/1.0"
                req.proto_minor = 0
            else:
                req.proto = "HTTP/1.1"
                req.proto_minor = 1
            req.proto_major = 1
            req.remote_addr = remote
            req.close = close
            req.pattern = ""
            req._url = None
            req._wire = items
            req._header = None
            req._names = ()
            req._values = None
            req._ctx = None
            req._conn = self
            req._form = None
            if target[:1] != "/" and target != "*" and method != "CONNECT":
                try:
                    req.host = req.url.host  # absolute-form wins over Host (RFC 9112 3.2.2)
                except ValueError:
                    req.host = host.decode("latin-1")
            else:
                req.host = host.decode("latin-1")
            if chunked or cl > 0:
                req.transfer_encoding = _CHUNKED if chunked else ()
                req.content_length = -1 if chunked else cl
                if fast:
                    try:
                        h._process_event(h.their_role, ev)  # the state machine takes over the body
                    except h11.ProtocolError as e:
                        self._bad_request(e)
                        return
                body: Any = Body(self, h, expect and not http10)
                req.body = body
                self.continue_sent = False
                set_rd(t0 + rd_to if rd_to is not None else None)
            else:
                req.transfer_encoding = ()
                req.content_length = 0
                req.body = body = NO_BODY
                # h11's EndOfMessage for an empty body is not fetched: this h11
                # Connection is only asked for trailing_data from here on, and
                # the bytes after the head are exactly that.
            w = ResponseWriter(self, method == "HEAD", http10, close, keep10)
            self.w = w
            self.req = req
            try:
                handler(w, req)
            except Exception as e:  # noqa: BLE001 - a handler's failure is reported, never fatal
                if w._hijacked:
                    self.srv._log.error("http: handler for hijacked connection %s raised", remote, exc_info=e)
                    return
                self._handler_failed(e, w, req)
                return
            if w._hijacked:
                return
            if self.watcher is not None or self.want_watch:
                self._stop_watch()

            # ---- phase 3: finish the response, decide about the connection ----------
            if body is not NO_BODY and not body.eof:
                if body._continue or self.broken:
                    w._close = True
                else:
                    try:
                        if not body._drain(MAX_POST_HANDLER_READ_BYTES):
                            w._close = True
                            self.broken = True
                    except (OSError, h11.RemoteProtocolError):
                        w._close = True
                        self.broken = True
            w._finish()
            self.w = None
            self.req = None
            cancel = self.ctx_cancel
            if cancel is not None:
                self.ctx_cancel = None
                cancel()
            if w._close or self.broken or self.peer_eof or srv._shutting_down or not srv._keep_alives:
                if self.broken and not self.peer_eof:
                    self._close_write_and_wait()
                return
            if not fast or body is not NO_BODY:
                # h11's state machine has moved on: carry the bytes already
                # read into a fresh Connection for the next request.
                rest = h.trailing_data[0]
                h = _H11Connection(_SERVER, max_event)
                if rest:
                    h.receive_data(rest)
            if self.pending:
                h.receive_data(self.pending)
                self.pending = b""
            self.state = IDLE

    def _read_head(self, h: h11.Connection, first: bool, fast: bool, max_event: int,
                   resumed: bool = False) -> Any:
        """Read and parse the next request head (h11.Request), None if the
        client closed between requests. Sets the deadlines of the idle and
        head phases and records the request's start in ``self.t0``.

        Idle release: between requests, a connection that stays silent for
        ``srv.idle_release_after`` seconds raises :class:`_Released` after
        setting the idle deadline; the loop then lets its goroutine finish and
        leaves the connection to ``Conn.read_later``, which starts a new one
        when the next request (or EOF, or the idle deadline) arrives. A busy
        keep-alive connection never gets that far, while thousands of quiet
        ones cost no stack. ``resumed`` is that new goroutine's first call:
        the idle deadline is already set."""
        srv = self.srv
        c = self.c
        hdr_to = srv._head_timeout()
        data = None  # bytes _idle_read brought, for the loop below
        if fast:
            buf = h._receive_buffer
            n = len(buf)
            if n:
                ev = _read_idle_head(buf)
                if ev is not None:
                    self._started(srv)
                    if n - len(buf) > max_event:
                        raise h11.RemoteProtocolError("request head too large", 431)
                    return ev
                self._started(srv)  # a partial pipelined head
                c.set_read_deadline(_monotonic() + hdr_to if hdr_to is not None else None)
                self.head_deadline_pending = False
                waiting = False
            elif resumed:
                self.head_deadline_pending = True  # the idle deadline is set already
                waiting = True
            else:
                waiting = True
                release = srv.idle_release_after
                if release is None or first:
                    self._wait_deadline(first)
                else:
                    data = self._idle_read(release)
                    if data is None:
                        raise _Released
            read = c.read
            while True:
                if data is None:
                    data = read(65536)
                if not data:
                    return None
                h.receive_data(data)
                data = None
                if waiting:
                    waiting = False
                    self._started(srv)
                n = len(buf)
                ev = _read_idle_head(buf)
                if ev is not None:
                    if n - len(buf) > max_event:
                        raise h11.RemoteProtocolError("request head too large", 431)
                    return ev
                if n > max_event:
                    raise h11.RemoteProtocolError("request head too large", 431)
                if not first and self.head_deadline_pending:
                    self.head_deadline_pending = False
                    c.set_read_deadline(_monotonic() + hdr_to if hdr_to is not None else None)
        # The public h11 API only: one Connection per request.
        got = 0
        if h.trailing_data[0]:
            self._started(srv)
            got = len(h.trailing_data[0])
            ev = h.next_event()
            if ev is _NEED_DATA:
                c.set_read_deadline(_monotonic() + hdr_to if hdr_to is not None else None)
        else:
            self._wait_deadline(first)
            data = c.read(65536)
            if not data:
                return None
            got = len(data)
            self._started(srv)
            h.receive_data(data)
            ev = h.next_event()
            if ev is _NEED_DATA and not first:
                c.set_read_deadline(_monotonic() + hdr_to if hdr_to is not None else None)
        while ev is _NEED_DATA:
            data = c.read(65536)
            got += len(data)
            h.receive_data(data)
            ev = h.next_event()
        if type(ev) is not _H11Request:
            return None  # ConnectionClosed
        if got > max_event and got - len(h.trailing_data[0]) > max_event:
            raise h11.RemoteProtocolError("request head too large", 431)
        return ev

    def _idle_read(self, release: float) -> bytes | None:
        """Wait for the next request between requests, parked at most
        ``release`` seconds: the bytes read, or None when the goroutine should
        be released (the idle deadline is then set for ``read_later``)."""
        c = self.c
        now = _monotonic()
        idle_dl = self.srv._idle_deadline(now)
        self.head_deadline_pending = True
        if idle_dl is not None and idle_dl - now <= release:
            c.set_read_deadline(idle_dl)  # too short to be worth a release
            return c.read(65536)
        c.set_read_deadline(now + release)
        try:
            return c.read(65536)
        except DeadlineExceededError:
            c.set_read_deadline(idle_dl)
            return None

    def _wait_deadline(self, first: bool) -> None:
        """Before the first byte of a request: the head deadline counts from
        accept for the first request, else the idle deadline applies."""
        srv = self.srv
        if first:
            hdr_to = srv._head_timeout()
            dl = self.created + hdr_to if hdr_to is not None else None
            self.head_deadline_pending = False
        else:
            dl = srv._idle_deadline(_monotonic())
            self.head_deadline_pending = True
        self.c.set_read_deadline(dl)

    def _started(self, srv: Server) -> None:
        """The first bytes of a request arrived (the connection turns ACTIVE
        only once the whole head is read: until then shutdown may close it)."""
        if srv.read_timeout is not None:
            self.t0 = _monotonic()

    def _bad_request(self, e: h11.ProtocolError) -> None:
        status = e.error_status_hint or 400
        text = {431: "431 Request Header Fields Too Large", 501: "501 Not Implemented",
                505: "505 HTTP Version Not Supported"}.get(status, f"{status} Bad Request")
        self.srv._log.debug("http: bad request from %s: %s", self.remote, e)
        try:
            self.c.set_write_deadline(_monotonic() + 5.0)
            self.c.write(_simple_response(status, text))
        except OSError:
            pass
        self.broken = True
        self._close_write_and_wait()

    def _handler_failed(self, e: BaseException, w: ResponseWriter, req: Request) -> None:
        if self.watcher is not None or self.want_watch:
            self._stop_watch()
        quiet = isinstance(e, AbortHandler) or (isinstance(e, OSError) and (w._broken or self.broken))
        if not quiet:
            self.srv._log.error("http: panic serving %s (%s %s): %r", self.remote, req.method,
                      req.request_uri, e, exc_info=e)
        if not w._head_sent and not w._broken and not isinstance(e, AbortHandler):
            try:
                self.c.write(_simple_response(500, "Internal Server Error"))
            except OSError:
                pass
        self.broken = True

    def _close_write_and_wait(self) -> None:
        """Half-close, then read (bounded) until the client closes: if we closed
        with unread input, the kernel would send RST and the client could lose
        the response we just wrote (Go's closeWriteAndWait)."""
        c = self.c
        try:
            c.close_write()
            c.set_read_deadline(_monotonic() + 0.5)
            left = 1 << 20
            while left > 0:
                d = c.read(65536)
                if not d:
                    break
                left -= len(d)
        except OSError:
            pass


class Server:
    """An HTTP server (Go's ``http.Server``); see the module docstring for timeouts.

    ``serve(listener)`` or ``listen_and_serve()`` runs the accept loop in the
    calling goroutine until ``shutdown``/``close``; each connection gets its
    own goroutine on the same scheduler.
    """

    def __init__(
        self,
        addr: str = "",
        handler: Any = None,
        *,
        read_timeout: float | None = None,
        read_header_timeout: float | None = 10.0,
        write_timeout: float | None = None,
        idle_timeout: float | None = 120.0,
        max_header_bytes: int = 1 << 20,
        error_log: logging.Logger | None = None,
        idle_release_after: float | None = 0.25,
    ) -> None:
        self.addr = addr
        self.idle_release_after = idle_release_after
        self.handler = handler
        self.read_timeout = read_timeout
        self.read_header_timeout = read_header_timeout
        self.write_timeout = write_timeout
        self.idle_timeout = idle_timeout
        self.max_header_bytes = max_header_bytes
        self.error_log = error_log
        self._log = error_log or log
        self._handler: Callable | None = None
        self._listeners: set[Listener] = set()
        self._conns: set[_Conn] = set()
        self._shutting_down = False
        self._stopped = False  # shutdown/close has finished
        self._keep_alives = True
        self._sched: Any = None
        self._on_shutdown: list[Callable[[], Any]] = []
        from gonet import context

        self._base_ctx, self._base_cancel = context.with_cancel(context.background())

    def __repr__(self) -> str:
        return f"<http.Server {self.addr or '?'} conns={len(self._conns)}>"

    def _head_timeout(self) -> float | None:
        """The bound on reading a request head: Go falls back to ReadTimeout."""
        return self.read_header_timeout if self.read_header_timeout is not None else self.read_timeout

    def _idle_deadline(self, now: float) -> float | None:
        """When a keep-alive connection idle since ``now`` is dropped (Go falls
        back to ReadTimeout); None for never."""
        idle_to = self.idle_timeout if self.idle_timeout is not None else self.read_timeout
        return now + idle_to if idle_to is not None else None

    def serve(self, ln: Listener) -> None:
        """Accept connections on ``ln`` and serve each in its own goroutine.

        Returns after ``shutdown`` or ``close``; raises ServerClosed if called after them.
        """
        if self._shutting_down:
            ln.close()
            raise ServerClosed()
        for name in ("read_timeout", "read_header_timeout", "write_timeout", "idle_timeout"):
            v = getattr(self, name)
            if v is not None and (not isinstance(v, (int, float)) or v <= 0):
                raise ValueError(f"http: Server.{name} must be a positive number of seconds or None, not {v!r}")
        self._handler = _handler_fn(self.handler)
        sched = get_sched()
        if self._sched is None:
            self._sched = sched
        elif self._sched is not sched:
            raise RuntimeError("http: one Server serves from one thread's scheduler")
        self._listeners.add(ln)
        conns = self._conns
        spawn = sched.spawn
        delay = 0.0
        try:
            while True:
                try:
                    c = ln.accept()
                except ClosedError:
                    if self._shutting_down:
                        self._listeners.discard(ln)  # the socket is closed now
                        # Unlike Go, wait for shutdown to finish: then a program
                        # whose main goroutine runs serve() cannot exit while
                        # connections are still being drained.
                        while not self._stopped:
                            _sleep(0.005)
                        return
                    raise
                except OSError as e:
                    if e.errno in _TEMPORARY_ACCEPT_ERRORS:
                        delay = min(delay * 2, 1.0) if delay else 0.005
                        self._log.error("http: accept error: %s; retrying in %.3fs", e, delay)
                        _sleep(delay)
                        continue
                    raise
                delay = 0.0
                cs = _Conn(self, c)
                conns.add(cs)
                spawn(cs.run, (), None)
        finally:
            self._listeners.discard(ln)

    def listen_and_serve(self) -> None:
        """Listen on ``self.addr`` (":http" if empty) and serve."""
        if self._shutting_down:
            raise ServerClosed()
        ln = listen("tcp", self.addr or ":http")
        self.serve(ln)

    def register_on_shutdown(self, fn: Callable[[], Any]) -> None:
        """Run ``fn`` in a goroutine when ``shutdown`` starts (Go's RegisterOnShutdown)."""
        self._on_shutdown.append(fn)

    def set_keep_alives_enabled(self, on: bool) -> None:
        self._keep_alives = bool(on)

    def _foreign_thread(self) -> bool:
        s = self._sched
        return s is not None and s.thread is not threading.current_thread()

    def _run_on_server_thread(self, fn: Callable[[], Any]) -> Any:
        done = threading.Event()
        out: list = []

        def body() -> None:
            try:
                out.append((True, fn()))
            except BaseException as e:  # noqa: BLE001 - handed back to the caller's thread
                out.append((False, e))
            finally:
                done.set()

        thread = self._sched.thread
        self._sched.call_soon_threadsafe(lambda: get_sched().spawn(body, (), None, "http shutdown"))
        while not done.wait(0.05):
            if not thread.is_alive() and not done.is_set():
                raise RuntimeError(f"http: the server's thread {thread.name!r} has exited")
        ok, v = out[0]
        if not ok:
            raise v
        return v

    def shutdown(self, timeout: float | None = None) -> bool:
        """Graceful shutdown: stop accepting, close idle connections, wait for
        active requests to finish (their contexts are cancelled so long polls
        and streams can end), then return True. At ``timeout`` seconds, close
        what remains and return False. Callable from any thread."""
        if self._stopped:
            return True
        if self._foreign_thread():
            return self._run_on_server_thread(lambda: self.shutdown(timeout))
        self._shutting_down = True
        self._close_listeners()
        self._base_cancel()
        for fn in self._on_shutdown:
            get_sched().spawn(fn, (), None)
        deadline = _monotonic() + timeout if timeout is not None else None
        interval = 0.001
        while True:
            now = _monotonic()
            for cs in list(self._conns):
                if cs.state == IDLE or (cs.state == NEW and now - cs.created > 5.0):
                    cs.c.close()
            if not self._conns:
                self._stopped = True
                return True
            if deadline is not None and now >= deadline:
                self._close_all()
                self._stopped = True
                return False
            wait = interval if deadline is None else min(interval, max(deadline - now, 0.0))
            _sleep(wait)
            interval = min(interval * 2, 0.05)

    def close(self) -> None:
        """Immediate shutdown: close the listeners and every connection now."""
        if self._stopped:
            return
        if self._foreign_thread():
            self._run_on_server_thread(self.close)
            return
        self._shutting_down = True
        self._close_listeners()
        self._base_cancel()
        self._close_all()
        self._stopped = True

    def _close_listeners(self) -> None:
        """Close every listener and wait (briefly) until its accept loop has let
        go, so the port refuses connections when shutdown/close returns."""
        for ln in list(self._listeners):
            ln.close()
        for _ in range(200):
            if not self._listeners:
                break
            _sleep(0.001)

    def _close_all(self) -> None:
        for cs in list(self._conns):
            cs.c.close()


def listen_and_serve(addr: str, handler: Any = None) -> None:
    """Serve ``handler`` (the default ServeMux if None) on ``addr``; Go's ListenAndServe."""
    Server(addr=addr, handler=handler).listen_and_serve()
