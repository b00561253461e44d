"""HTTP layer: Server: the accept loop, the connections' owner, and shutdown.

This is Go's ``net/http`` ``Server`` on gonet's net layer. ``serve`` accepts
connections and starts ONE goroutine per connection
(:class:`gonet.http.conn.ServerConn`); that goroutine reads a request, calls
the handler itself, writes the response, and loops (keep-alive). Handlers
are plain blocking-style functions; a handler that waits parks only its own
connection's goroutine.

Timeouts (seconds; None = no limit) have Go's meanings; ``conn.py`` says
how each is applied:

- ``read_header_timeout``: from the start of a request (the first byte
  after an idle wait; accept for the first request) to the end of its head
  (falls back to ``read_timeout`` when None, as in Go).
- ``read_timeout``: the same start to the end of the request body.
- ``write_timeout``: from the end of the request head to the end of the
  response.
- ``idle_timeout``: the wait for the next request on a keep-alive connection
  (falls back to ``read_timeout`` when None, as in Go).

Unlike Go, the defaults are safe (read_header_timeout=10, idle_timeout=120).

Shutdown
--------

``shutdown`` closes the listeners first (a new connection is refused, not
left waiting), closes IDLE connections (and NEW ones older than 5 s, as Go
does), lets ACTIVE ones finish their current response with
``Connection: close``, and force-closes what remains at its timeout. It
waits on the connections' state changes (each one readies it), not on a
polling loop; ``serve`` returns only once shutdown has finished, so a
program whose main goroutine runs ``serve`` cannot exit mid-drain.

Hijacked connections are the handler's (Go's rule: the server forgets
them). A hijacker that speaks a protocol of its own (WebSocket) and wants a
graceful end asks for two things: ``register_on_shutdown(fn)`` to be told
when shutdown starts, and ``track_hijacked(conn)`` to have shutdown wait
for the connection until the hijacker calls the release function it got
(closed at shutdown's timeout, or at once by ``close``). A handler finds
its server as Go's do: ``r.context.value(SERVER_CONTEXT_KEY)``.
"""

from __future__ import annotations

import errno
import logging
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any

from gonet.http.conn import CLOSED, HIJACKED, IDLE, NEW, AbortHandler, ConnSettings, ServerConn
from gonet.http.mux import handler_fn
from gonet.net import ClosedError, Listener, listen
from gonet.runtime.sched import get_sched
from gonet.runtime.sched import sleep as _sleep
from gonet.tls import Listener as TLSListener
from gonet.tls import load_cert_chain, server_context

__all__ = ["Server", "ServerClosed", "AbortHandler", "SERVER_CONTEXT_KEY", "listen_and_serve",
           "all_servers"]

log = logging.getLogger("gonet.http")

_monotonic = time.monotonic

_TEMPORARY_ACCEPT_ERRORS = {errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM,
                            errno.ECONNABORTED, errno.EPROTO, errno.EPERM}
#: How long close/shutdown wait for accept loops to let their sockets go.
_LISTENER_RELEASE = 0.2


class _ContextKey:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"http context value {self.name}"


#: The key under which a request's context holds the Server that serves it
#: (Go's ``http.ServerContextKey``).
SERVER_CONTEXT_KEY = _ContextKey("http-server")

_servers: weakref.WeakSet = weakref.WeakSet()


def all_servers() -> list[Server]:
    """The process's live Servers (the debug handler reports them)."""
    return list(_servers)


class ServerClosed(RuntimeError):
    """serve() was called on a server that was shut down or closed."""

    def __init__(self) -> None:
        super().__init__("http: Server closed")


def _handler_fn(handler: Any) -> Callable:
    return _default_mux().serve_http if handler is None else handler_fn(handler)


def _default_mux() -> Any:
    from gonet.http import default_serve_mux

    return default_serve_mux


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
        tls_config: Any = None,
        disable_general_options_handler: bool = False,
    ) -> None:
        self.addr = addr
        #: The ``ssl.SSLContext`` for ``serve_tls`` / ``listen_and_serve_tls``
        #: (Go's TLSConfig); None: made from the certificate files they get.
        self.tls_config = tls_config
        #: Pass ``OPTIONS *`` to the handler instead of answering it here
        #: (200, no body: Go's DisableGeneralOptionsHandler).
        self.disable_general_options_handler = disable_general_options_handler
        self.idle_release_after = idle_release_after
        self.handler = handler
        self.read_timeout = read_timeout
        self.read_header_timeout = read_header_timeout
        self.write_timeout = write_timeout
        self.idle_timeout = idle_timeout
        self.max_header_bytes = max_header_bytes
        self.error_log = error_log
        self._log = error_log or log
        self._settings: ConnSettings | None = None
        self._listeners: set[Listener] = set()
        self._conns: set[ServerConn] = set()
        self._hijacked: set[Any] = set()  # hijacked conns shutdown waits for (track_hijacked)
        self._shutting_down = False
        self._stopped = False  # shutdown/close has finished
        self._keep_alives = True
        self._sched: Any = None
        self._waiters: list = []  # goroutines waiting for a connection or listener to change
        self._on_shutdown: list[Callable[[], Any]] = []
        self.closing = False
        self.draining = False
        #: Requests whose head was read (ConnOwner.served: the connections count them).
        self.served = 0
        _servers.add(self)
        from gonet import context

        self._base_ctx, self._base_cancel = context.with_cancel(
            context.with_value(context.background(), SERVER_CONTEXT_KEY, self))

    def __repr__(self) -> str:
        return f"<http.Server {self.addr or '?'} conns={len(self._conns)}>"

    # -- ConnOwner (gonet.http.conn): what connections ask of their server ----------
    # ``closing`` (shutting down or keep-alives off) and ``draining`` (someone
    # waits for connections to change) are attributes, kept up to date here.

    def _update_flags(self) -> None:
        self.closing = self._shutting_down or not self._keep_alives
        self.draining = bool(self._waiters)

    def conn_state(self, conn: ServerConn, state: str) -> None:
        if state == CLOSED or state == HIJACKED:
            self._conns.discard(conn)
        if self._waiters:
            self._notify()

    def _notify(self) -> None:
        sched = self._sched
        for g in self._waiters:
            sched.ready(g)

    def _wait_change(self, timeout: float | None) -> None:
        """Park until a connection or listener changes state (or ``timeout``)."""
        sched = get_sched()
        g = sched.current
        self._waiters.append(g)
        self.draining = True
        try:
            sched.park("http shutdown", timeout)
        finally:
            self._waiters.remove(g)
            self.draining = bool(self._waiters)

    # -- serving ---------------------------------------------------------------------

    def _conn_settings(self) -> ConnSettings:
        for name in ("read_timeout", "read_header_timeout", "write_timeout", "idle_timeout"):
            v = getattr(self, name)
            if v is not None and (not isinstance(v, (int, float)) or v <= 0):
                raise ValueError(f"http: Server.{name} must be a positive number of seconds "
                                 f"or None, not {v!r}")
        head_to = self.read_header_timeout
        if head_to is None:
            head_to = self.read_timeout
        idle_to = self.idle_timeout if self.idle_timeout is not None else self.read_timeout
        return ConnSettings(_handler_fn(self.handler), self._log, self.read_timeout,
                            self.write_timeout, head_to, idle_to, self.max_header_bytes + 4096,
                            self.idle_release_after, self._base_ctx,
                            options_star=not self.disable_general_options_handler)

    def serve(self, ln: Listener) -> None:
        """Accept connections on ``ln`` and serve each in its own goroutine.

        Returns after ``shutdown`` or ``close``; raises ServerClosed if called after them.
        """
        if self._shutting_down:
            ln.close()
            raise ServerClosed()
        cfg = self._settings = self._conn_settings()
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
                        self._notify()
                        # Unlike Go, wait for shutdown to finish: then a program
                        # whose main goroutine runs serve() cannot exit while
                        # connections are still being drained.
                        while not self._stopped:
                            self._wait_change(None)
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
                cs = ServerConn(self, cfg, c)
                conns.add(cs)
                spawn(cs.run, (), None)
        finally:
            if ln in self._listeners:
                self._listeners.discard(ln)
                self._notify()

    def listen_and_serve(self) -> None:
        """Listen on ``self.addr`` (":http" if empty) and serve."""
        if self._shutting_down:
            raise ServerClosed()
        ln = listen("tcp", self.addr or ":http")
        self.serve(ln)

    def serve_tls(self, ln: Any, certfile: str = "", keyfile: str = "") -> None:
        """Serve HTTPS on ``ln`` (Go's ServeTLS): each connection's handshake
        runs in its own goroutine, bounded like a request head (the smallest
        of read_header_timeout, read_timeout and write_timeout).

        The certificate comes from ``certfile`` / ``keyfile`` or from
        ``tls_config`` (given both, the files are loaded into it). A
        listener that is a ``tls.Listener`` already is served as it is.
        """
        if isinstance(ln, TLSListener):
            self.serve(ln)
            return
        ctx = self.tls_config
        try:
            if ctx is None:
                if not certfile:
                    raise ValueError("http: serve_tls needs certfile (and keyfile) or tls_config")
                ctx = self.tls_config = server_context(certfile, keyfile or None)
            elif certfile:
                load_cert_chain(ctx, certfile, keyfile or None)
        except BaseException:
            ln.close()
            raise
        self.serve(TLSListener(ln, ctx))

    def listen_and_serve_tls(self, certfile: str = "", keyfile: str = "") -> None:
        """Listen on ``self.addr`` (":https" if empty) and serve HTTPS (Go's ListenAndServeTLS)."""
        if self._shutting_down:
            raise ServerClosed()
        ln = listen("tcp", self.addr or ":https")
        self.serve_tls(ln, certfile, keyfile)

    def stats(self) -> dict:
        """Counters for the debug handler: address, listeners, open connections
        by state, requests served, whether it is shutting down."""
        states: dict[str, int] = {}
        for cs in list(self._conns):
            states[cs.state] = states.get(cs.state, 0) + 1
        return {"addr": self.addr, "listeners": [str(ln.addr) for ln in list(self._listeners)],
                "connections": len(self._conns), "connection_states": states,
                "requests": self.served, "shutting_down": self._shutting_down}

    def register_on_shutdown(self, fn: Callable[[], Any]) -> None:
        """Run ``fn`` in a goroutine when ``shutdown`` starts (Go's RegisterOnShutdown)."""
        self._on_shutdown.append(fn)

    def track_hijacked(self, conn: Any) -> Callable[[], None]:
        """Have ``shutdown`` wait for a hijacked connection until the returned
        function is called (call it once the connection is closed).

        ``shutdown`` counts ``conn`` as open, as it does an active request,
        and closes it at its timeout; ``close`` closes it at once. To end
        the connection's protocol gracefully when shutdown starts, pair this
        with ``register_on_shutdown``."""
        self._hijacked.add(conn)

        def release() -> None:
            if conn in self._hijacked:
                self._hijacked.discard(conn)
                if self._waiters:
                    self._notify()

        return release

    def set_keep_alives_enabled(self, on: bool) -> None:
        self._keep_alives = bool(on)
        self._update_flags()

    # -- shutting down ---------------------------------------------------------------

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
        self._update_flags()
        self._close_listeners()
        self._base_cancel()
        for fn in self._on_shutdown:
            get_sched().spawn(fn, (), None)
        deadline = _monotonic() + timeout if timeout is not None else None
        while True:
            now = _monotonic()
            young = None  # when the youngest NEW connection turns 5 s old
            for cs in list(self._conns):
                if cs.state == IDLE:
                    cs.c.close()
                elif cs.state == NEW:
                    if now - cs.created > 5.0:
                        cs.c.close()
                    else:
                        when = cs.created + 5.0
                        young = when if young is None else min(young, when)
            if not self._conns and not self._hijacked:
                self._finished()
                return True
            if deadline is not None and now >= deadline:
                self._close_all()
                self._finished()
                return False
            wait = None if deadline is None else deadline - now
            if young is not None:
                wait = young - now if wait is None else min(wait, young - now)
            self._wait_change(max(wait, 0.0) if wait is not None else None)

    def _finished(self) -> None:
        self._stopped = True
        if self._waiters:
            self._notify()

    def close(self) -> None:
        """Immediate shutdown: close the listeners and every connection now."""
        if self._stopped:
            return
        if self._foreign_thread():
            self._run_on_server_thread(self.close)
            return
        self._shutting_down = True
        self._update_flags()
        self._close_listeners()
        self._base_cancel()
        self._close_all()
        self._finished()

    def _close_listeners(self) -> None:
        """Close every listener and wait (briefly) until its accept loop has let
        go, so the port refuses connections when shutdown/close returns."""
        for ln in list(self._listeners):
            ln.close()
        end = _monotonic() + _LISTENER_RELEASE
        while self._listeners and self._sched is get_sched():
            left = end - _monotonic()
            if left <= 0:
                break
            self._wait_change(left)

    def _close_all(self) -> None:
        for cs in list(self._conns):
            cs.c.close()
        for c in list(self._hijacked):
            c.close()


def listen_and_serve(addr: str, handler: Any = None) -> None:
    """Serve ``handler`` (the default ServeMux if None) on ``addr``; Go's ListenAndServe."""
    Server(addr=addr, handler=handler).listen_and_serve()

