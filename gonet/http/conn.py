"""HTTP layer: one server connection and the goroutine that serves it (Go's ``conn.serve``).

A :class:`ServerConn` reads a request head, builds the Request, calls the
handler in its own goroutine, finishes the response, and loops (keep-alive).
It is the :class:`~gonet.http.iface.Exchange` that the request's Body and
ResponseWriter talk to. The bytes are parsed by ``wire.RequestParser``; this
module never sees h11.

What a connection needs of its server is two small things, fixed when
``serve`` starts or asked as it goes: :class:`ConnSettings` (handler,
timeouts, limits, the base context) and a :class:`ConnOwner` (is the server
closing; a connection's state changed).

Connection states (``ServerConn.state``)::

    NEW --head read--> ACTIVE --response done--> IDLE --head read--> ACTIVE ...
     |                   |                        |
     +-------------------+------------------------+--> CLOSED
                         +--handler hijacks--> HIJACKED

A connection turns ACTIVE only once a whole request head is read: one that
has sent part of a head is still NEW or IDLE, and shutdown may close it.

Deadlines (seconds from the settings; None = no limit), Go's meanings:

- the head: ``head_timeout`` from the first byte of the request (from accept
  for the first request);
- the body: ``read_timeout`` from the same start;
- the response: ``write_timeout`` from the end of the head;
- between requests: ``idle_timeout``.

Each phase sets the connection's read deadline once (cheap: the poller keeps
one lazily extended timer per fd). ``read_timeout`` never cuts a streaming
response: its deadline only bounds reading the request; once the body is
read, the client-gone watcher (below) runs with no deadline.

Idle release: between requests, a connection that stays silent for
``idle_release_after`` seconds lets its goroutine end and waits in the
poller alone (``Conn.read_later``); a new goroutine resumes it when the next
request, EOF, the idle deadline or shutdown arrives. Busy connections never
get that far; thousands of quiet ones cost no stack.

The request context and the client-gone watcher: ``r.context`` is built on
first use only, as a child of the server's base context, and is cancelled
when the handler returns. Building it starts, once the request body has been
read, a watcher goroutine that reads the connection: EOF or an error means
the client went away and cancels the context; bytes mean a pipelined request
(kept for the loop). When the handler returns, the loop stops the watcher by
setting a read deadline in the past and joins it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol

from gonet.http.multipart import MultipartError
from gonet.http.mux import warn_returned
from gonet.http.request import URL, Body, MaxBytesError, Request, RequestBodyError
from gonet.http.response import ResponseWriter
from gonet.http.status import status_line, status_text
from gonet.http.wire import END, NEED_DATA, ProtocolError, RequestHead, RequestParser
from gonet.net import ClosedError, DeadlineExceededError
from gonet.runtime.sched import get_sched
from gonet.tls import Conn as TLSConn
from gonet.tls import HandshakeError

__all__ = ["ServerConn", "ConnSettings", "ConnOwner", "AbortHandler",
           "NEW", "ACTIVE", "IDLE", "HIJACKED", "CLOSED"]

_monotonic = time.monotonic

NEW, ACTIVE, IDLE, HIJACKED, CLOSED = "new", "active", "idle", "hijacked", "closed"

#: Unread request body the server will read and discard to keep a connection.
MAX_POST_HANDLER_READ_BYTES = 256 << 10


class AbortHandler(Exception):
    """Raise in a handler to abort the response without logging (Go's ErrAbortHandler)."""


class ConnSettings:
    """What every connection of a server needs, fixed when ``serve`` starts."""

    __slots__ = ("handler", "log", "read_timeout", "write_timeout", "head_timeout",
                 "idle_timeout", "max_head", "idle_release_after", "base_ctx", "fast_head",
                 "options_star")

    def __init__(self, handler: Callable, log: Any, read_timeout: float | None,
                 write_timeout: float | None, head_timeout: float | None,
                 idle_timeout: float | None, max_head: int, idle_release_after: float | None,
                 base_ctx: Any, fast_head: bool | None = None, options_star: bool = True) -> None:
        self.handler = handler
        self.log = log
        self.read_timeout = read_timeout
        self.write_timeout = write_timeout
        self.head_timeout = head_timeout
        self.idle_timeout = idle_timeout
        self.max_head = max_head
        self.idle_release_after = idle_release_after
        self.base_ctx = base_ctx
        self.fast_head = fast_head
        #: Answer ``OPTIONS *`` here (Go's globalOptionsHandler) rather than
        #: pass it to the handler.
        self.options_star = options_star


class ConnOwner(Protocol):
    """What a connection asks of its server as it goes (read on every request,
    so the two flags are plain attributes, kept by the server)."""

    #: Shutting down or keep-alives off: finish this response, then close.
    closing: bool
    #: Someone (shutdown) waits for connections to turn IDLE.
    draining: bool
    #: Requests whose head was read; each connection adds its own.
    served: int

    def conn_state(self, conn: ServerConn, state: str) -> None:
        """``conn`` turned CLOSED or HIJACKED (always reported) or IDLE
        (reported while ``draining``)."""
        ...


def _options_star(w: ResponseWriter, r: Request) -> None:
    """``OPTIONS *`` (RFC 9112 3.2.4), answered by the server as Go's
    globalOptionsHandler: 200 with no body; a body over 4 KB closes the conn."""
    w.header().set("Content-Length", "0")
    if r.content_length != 0:
        from gonet.http.util import max_bytes_reader

        body = max_bytes_reader(w, r.body, 4 << 10)
        try:
            while body.read(4096):
                pass
        except RequestBodyError:
            pass


class _Released(Exception):
    """Internal: the idle connection is handed to ``read_later`` (see _read_head)."""


def _simple_response(status: int, text: str) -> bytes:
    body = text.encode()
    return (status_line(status) + b"Content-Type: text/plain; charset=utf-8\r\n"
            b"Connection: close\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)


class ServerConn:
    """One accepted connection and the goroutine serving it (Go's ``conn``)."""

    __slots__ = ("owner", "cfg", "c", "send", "state", "parser", "remote", "created", "broken",
                 "peer_eof", "pending", "w", "req", "ctx_cancel", "want_watch", "watcher",
                 "abort_watch", "continue_pending", "body_open", "body_error", "t0",
                 "head_deadline_pending", "tls_state", "after_handler", "__weakref__")

    def __init__(self, owner: ConnOwner, cfg: ConnSettings, c: Any) -> None:
        self.owner = owner
        self.cfg = cfg
        self.c = c
        #: Exchange.send: the Conn's own write (the response path's hottest
        #: call, so no frame of ours in between).
        self.send = c.write
        self.state = NEW
        self.parser: RequestParser | None = None
        try:
            self.remote = str(c.remote_addr)
        except OSError:
            self.remote = ""
        self.created = _monotonic()
        self.broken = False  # the stream is in an unknown state: do not reuse
        self.peer_eof = False  # the client closed its side
        self.pending = b""  # bytes the watcher read past the current request
        self.w: ResponseWriter | None = None  # the response in progress
        self.req: Request | None = None
        self.ctx_cancel: Callable | None = None
        self.want_watch = False  # start the watcher once the body is read
        self.watcher: Any = None
        self.abort_watch = False
        self.continue_pending = False  # the client waits for "100 Continue"
        self.body_open = False  # the request's body has not been read to its end
        self.body_error: BaseException | None = None
        self.t0 = 0.0
        self.head_deadline_pending = False
        #: Exchange.tls_state: the TLS connection state (gonet.tls.ConnectionState)
        #: once the handshake is done; None on a plain connection.
        self.tls_state: Any = None
        #: Exchange.on_handler_done's callbacks for the current request (None: none).
        self.after_handler: list | None = None

    def __repr__(self) -> str:
        return f"<http conn {self.remote} {self.state}>"

    # -- the Exchange interface (gonet.http.iface) --------------------------------

    def read_body(self) -> bytes:
        err = self.body_error
        if err is not None:
            raise err
        if not self.body_open:
            return b""
        parser = self.parser
        try:
            while True:
                ev = parser.next_body_event()
                if ev is NEED_DATA:
                    if self.continue_pending:
                        self.continue_pending = False
                        w = self.w
                        if w is not None and not w.head_sent:
                            self.c.write(b"HTTP/1.1 100 Continue\r\n\r\n")
                    parser.feed(self.c.read(65536))
                    continue
                if ev is END:
                    self.body_open = False
                    if self.want_watch:
                        self.want_watch = False
                        self._start_watch()
                    return b""
                return ev
        except ProtocolError as e:
            err = RequestBodyError(f"http: invalid request body: {e}")
            self.body_error = err
            self.broken = True
            raise err from None
        except OSError as e:
            self.body_error = e
            self.broken = True
            raise
        except BaseException:
            self.broken = True
            raise

    def on_handler_done(self, fn: Callable[[], Any]) -> None:
        if self.after_handler is None:
            self.after_handler = [fn]
        else:
            self.after_handler.append(fn)

    def _run_after_handler(self) -> None:
        fns, self.after_handler = self.after_handler, None
        for fn in fns:
            try:
                fn()
            except Exception as e:  # noqa: BLE001 - a cleanup must not end the connection
                self.cfg.log.error("http: %s: cleanup after the handler failed: %s",
                                   self.remote, e)

    def send_file(self, fd: int, offset: int, count: int) -> int:
        return self.c.sendfile(fd, offset, count)

    def keep_alive(self) -> bool:
        if self.owner.closing:
            return False
        if self.body_open:
            if self.continue_pending:
                # The client still waits for "100 Continue" and will decide
                # itself whether to send the body: the stream's state is unknown.
                self.continue_pending = False
                return False
            if self.parser.body_left() > MAX_POST_HANDLER_READ_BYTES:
                # Too much declared body left to drain: answer now and close
                # (Go's requestTooLarge), never hold the response behind it.
                return False
        return True

    def local_addr(self) -> Any:
        return self.c.local_addr

    def hijack(self) -> tuple[Any, bytes]:
        self._stop_watch()
        self.state = HIJACKED
        self.owner.conn_state(self, HIJACKED)
        rest = self.parser.take_rest() if self.parser is not None else b""
        self.parser = None  # the hijacker parses from here on (and may keep the Request)
        rest += self.pending
        self.pending = b""
        return self.c, rest

    def request_context(self, req: Request) -> Any:
        from gonet import context

        ctx, cancel = context.with_cancel(self.cfg.base_ctx)
        if self.req is req and self.w is not None:
            self.ctx_cancel = cancel
            if not self.body_open:
                self._start_watch()
            else:
                self.want_watch = True
        else:
            cancel()  # the handler has returned already
        return ctx

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
        c = self.c
        released = False
        try:
            if not resumed and isinstance(c, TLSConn) and not self._handshake():
                return
            released = self._serve(resumed)  # True: read_later resumes it (see _read_head)
        except (ClosedError, ConnectionError, DeadlineExceededError):
            pass  # client gone, timed out, or closed by shutdown: nothing to report
        except OSError as e:
            self.cfg.log.debug("http: connection %s: %s", self.remote, e)
        finally:
            if not released and self.state != HIJACKED:
                self.state = CLOSED
                c.close()
                self.owner.conn_state(self, CLOSED)
            cancel = self.ctx_cancel
            if cancel is not None:
                self.ctx_cancel = None
                cancel()

    def _handshake(self) -> bool:
        """TLS: run the handshake before the first request, within the
        smallest of the head, read and write timeouts that is set, counted
        from accept (Go's bound: a stalled handshake is cut like a stalled
        head). False when it failed; a plain-HTTP request gets Go's 400."""
        cfg = self.cfg
        c = self.c
        bound = None
        for t in (cfg.head_timeout, cfg.read_timeout, cfg.write_timeout):
            if t is not None and (bound is None or t < bound):
                bound = t
        dl = self.created + bound if bound is not None else None
        c.set_read_deadline(dl)
        c.set_write_deadline(dl)
        try:
            c.handshake()
        except HandshakeError as e:
            if e.reason == "HTTP_REQUEST":
                self._plain_http_on_tls()
            else:
                cfg.log.debug("http: TLS handshake error from %s: %s", self.remote, e)
            return False
        c.set_write_deadline(None)  # each request sets its own
        self.tls_state = c.connection_state()
        return True

    def _plain_http_on_tls(self) -> None:
        """Go's answer to plain HTTP on a TLS port, written in the clear."""
        raw = self.c.net_conn()
        try:
            raw.set_write_deadline(_monotonic() + 5.0)
            raw.write(b"HTTP/1.0 400 Bad Request\r\n\r\n"
                      b"Client sent an HTTP request to an HTTPS server.\n")
            raw.close_write()
            raw.set_read_deadline(_monotonic() + 0.5)  # let the client read it before we close
            while raw.read(65536):
                pass
        except OSError:
            pass

    def _serve(self, resumed: bool) -> bool:
        """The request loop. Returns True when the connection was released
        while idle (nothing to close), else ends the connection."""
        cfg = self.cfg
        c = self.c
        handler = cfg.handler
        wr_to = cfg.write_timeout
        first = not resumed
        owner = self.owner
        parser = self.parser = RequestParser(cfg.max_head, cfg.fast_head)
        while True:
            try:
                head = self._read_head(first, resumed)
            except _Released:
                # Nothing is buffered (or there would be no wait): a released
                # connection keeps no parser, and resumes with a fresh one.
                self.parser = None
                c.read_later(self.run, True)
                return True
            except ProtocolError as e:
                self._bad_request(e)
                return False
            if head is None:
                return False  # closed between requests
            self.state = ACTIVE
            owner.served += 1
            resumed = first = False
            if wr_to is not None:
                c.set_write_deadline(_monotonic() + wr_to)
            try:
                req = self._request(head)
            except ProtocolError as e:
                self._bad_request(e)
                return False
            w = ResponseWriter(self, head.method == "HEAD", head.http10, head.close,
                               head.keep_alive10)
            self.w = w
            self.req = req
            h = handler if req.request_uri != "*" or not cfg.options_star else _options_star
            try:
                ret = h(w, req)
            except Exception as e:  # noqa: BLE001 - a handler's failure is reported, never fatal
                if self.after_handler is not None:
                    self._run_after_handler()
                if w.hijacked:
                    # The peer going away (a ConnectionError) is no news.
                    if not isinstance(e, (ConnectionError, AbortHandler)):
                        cfg.log.error("http: handler for hijacked connection %s raised",
                                      self.remote, exc_info=e)
                    return False
                self._handler_failed(e, w, req)
                return False
            if self.after_handler is not None:
                self._run_after_handler()
            if ret is not None:
                warn_returned(h, ret)
            if w.hijacked:
                return False
            if self.watcher is not None or self.want_watch:
                self._stop_watch()
            # Go: the request's context ends when the handler returns, before
            # the rest of the response is sent.
            cancel = self.ctx_cancel
            if cancel is not None:
                self.ctx_cancel = None
                cancel()
            if not self._finish(w):
                return False
            if parser.moved:
                parser.next_request()
            if self.pending:
                parser.feed(self.pending)
                self.pending = b""
            self.state = IDLE
            if self.owner.draining:
                self.owner.conn_state(self, IDLE)

    def _request(self, head: RequestHead) -> Request:
        """The Request for ``head``, with its body handed to the parser's
        framing. Raises ProtocolError (400) for a request-target of no valid
        form (RFC 9112 3.2), before any handler sees it."""
        target = head.target
        url = None
        if target[:1] == "/" and "%" not in target and "#" not in target:
            host = head.host.decode("latin-1")  # origin-form with nothing to check
        else:
            try:
                url = URL.parse_request_uri(target, head.method)
            except ValueError as e:
                raise ProtocolError(f"invalid request target {target[:100]!r}: {e}") from None
            # RFC 9112 3.2.2: an absolute-form target's authority overrides Host.
            host = url.host or head.host.decode("latin-1")
        if head.has_body:
            self.parser.begin_body(head)
            self.body_open = True
            self.body_error = None
            self.continue_pending = head.expect_continue
            rd_to = self.cfg.read_timeout
            self.c.set_read_deadline(self.t0 + rd_to if rd_to is not None else None)
            return Request(head.method, target, None, Body(self),
                           "HTTP/1.0" if head.http10 else "HTTP/1.1", host, self.remote,
                           head.headers, self, -1 if head.chunked else head.content_length,
                           head.chunked, head.close, url)
        self.body_open = False
        self.continue_pending = False
        return Request(head.method, target, None, None,
                       "HTTP/1.0" if head.http10 else "HTTP/1.1", host, self.remote,
                       head.headers, self, None, False, head.close, url)

    def _finish(self, w: ResponseWriter) -> bool:
        """After the handler: deal with an unread body, send the rest of the
        response; True if the connection can serve another request."""
        if self.body_open:
            if (w.closes or self.continue_pending or self.broken
                    or self.parser.body_left() > MAX_POST_HANDLER_READ_BYTES):
                w.close_after()  # the response goes now, says so, and the conn closes
                self.broken = True
            else:
                try:
                    if not self._drain(MAX_POST_HANDLER_READ_BYTES):
                        w.close_after()
                        self.broken = True
                except OSError:
                    w.close_after()
                    self.broken = True
        w.finish()
        self.w = None
        self.req = None
        if w.closes or self.broken or self.peer_eof or self.owner.closing:
            if self.broken and not self.peer_eof:
                self._close_write_and_wait()
            return False
        return True

    def _drain(self, limit: int) -> bool:
        """Discard up to ``limit`` bytes of unread body; True if it ended within it."""
        seen = 0
        while self.body_open:
            seen += len(self.read_body())
            if seen > limit:
                return False
        return True

    def _read_head(self, first: bool, resumed: bool) -> RequestHead | None:
        """Read and parse the next request head, None if the client closed
        between requests. Sets the deadlines of the idle and head phases and
        records the request's start in ``self.t0``. Between requests, a
        connection silent for ``idle_release_after`` raises :class:`_Released`
        after setting the idle deadline; ``resumed`` is the first call of the
        goroutine that picks it up again (the idle deadline is set already)."""
        cfg = self.cfg
        c = self.c
        parser = self.parser
        hdr_to = cfg.head_timeout
        rd_to = cfg.read_timeout  # counts from the request's first byte: self.t0
        data = None  # bytes _idle_read brought, for the loop below
        if parser.buffered():
            head = parser.next_head()  # a pipelined request
            if rd_to is not None:
                self.t0 = _monotonic()  # the request started: read_timeout counts from here
            if head is not None:
                return head
            c.set_read_deadline(_monotonic() + hdr_to if hdr_to is not None else None)
            self.head_deadline_pending = False
            waiting = False
        elif resumed:
            self.head_deadline_pending = True
            waiting = True
        else:
            waiting = True
            release = cfg.idle_release_after
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
            parser.feed(data)
            data = None
            if waiting:
                waiting = False
                if rd_to is not None:
                    self.t0 = _monotonic()
            head = parser.next_head()
            if head is not None:
                return head
            if not first and self.head_deadline_pending:
                self.head_deadline_pending = False
                c.set_read_deadline(_monotonic() + hdr_to if hdr_to is not None else None)

    def _idle_deadline(self, now: float) -> float | None:
        idle_to = self.cfg.idle_timeout
        return now + idle_to if idle_to is not None else None

    def _idle_read(self, release: float) -> bytes | None:
        """Wait for the next request between requests, parked at most
        ``release`` seconds: the bytes read, or None when the goroutine should
        be released (the idle deadline is then set for ``read_later``)."""
        c = self.c
        now = _monotonic()
        idle_to = self.cfg.idle_timeout
        idle_dl = now + idle_to if idle_to is not None else None
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
        if first:
            hdr_to = self.cfg.head_timeout
            dl = self.created + hdr_to if hdr_to is not None else None
            self.head_deadline_pending = False
        else:
            dl = self._idle_deadline(_monotonic())
            self.head_deadline_pending = True
        self.c.set_read_deadline(dl)

    def _bad_request(self, e: ProtocolError) -> None:
        status = e.status
        text = f"{status} {status_text(status) or 'Bad Request'}"
        self.cfg.log.debug("http: bad request from %s: %s", self.remote, e)
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
        status = 500
        text = ""
        if isinstance(e, RequestBodyError) and (self.body_error is e
                                                or isinstance(e, (MaxBytesError, MultipartError))):
            # The client's body was malformed, cut short or too large: its
            # error, answered with the error's status, not a server failure.
            status = e.status
            if isinstance(e, MultipartError):
                text = str(e)  # says what was wrong with the form
            self.cfg.log.debug("http: %s (%s %s): %s", self.remote, req.method,
                               req.request_uri, e)
        elif not (isinstance(e, AbortHandler) or (isinstance(e, OSError) and (w.failed or self.broken))):
            self.cfg.log.error("http: panic serving %s (%s %s): %r", self.remote, req.method,
                               req.request_uri, e, exc_info=e)
        if not w.head_sent and not w.failed and not isinstance(e, AbortHandler):
            try:
                self.c.write(_simple_response(status, text or status_text(status)))
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
