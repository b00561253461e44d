"""HTTP layer: the HTTP/1.1 wire protocol on h11, and the only module that imports h11.

h11 parses; this module turns what it parses into what the rest of
``gonet.http`` works with, so that no other module touches h11 or depends on
its internals:

- :class:`RequestParser`: one server connection's incoming side. Bytes go in
  (``feed``); complete request heads (:class:`RequestHead`) and then the
  pieces of each request's body come out. It keeps the bytes read past the
  current request for the next one (pipelining) or for a hijacker.
- :class:`RequestHead`: one request's method, target, version and header
  triples, with the framing decided once (body length or chunked, whether
  the client asked to close, ``Expect: 100-continue``).
- :class:`ProtocolError`: a request the server must refuse, with the status
  to answer (400, 431, 505, ...).

Two head parsers
----------------

h11's public API parses a head through its state machine, which costs more
than the rest of a small request's path. The *fast* path calls h11's own head
reader on the connection's receive buffer directly and moves the state
machine only for requests that have a body (through ``_process_event``, so
h11 frames that body exactly as it would have). Those are h11's private
names: at import, a self-check parses a sample both ways and turns the fast
path off if this h11 lacks the pieces or disagrees. ``RequestParser(fast=...)``
picks a path per connection; the test suite runs every HTTP test through both
(``GONET_HTTP_PARSER=public`` selects the public path for a whole process).

State of a RequestParser (``_h`` is the h11 connection)::

    HEAD   waiting for a head; with the fast path ``_h`` may still be IDLE
           after many bodiless requests (its buffer is all that is used)
    BODY   begin_body() handed the body to ``_h``'s state machine
    --next_request()--> HEAD, on a fresh ``_h`` that holds the bytes left
                        over, whenever ``_h``'s state machine has moved
"""

from __future__ import annotations

import os
from typing import Any

import h11

__all__ = ["FAST_HEAD", "NEED_DATA", "END", "ProtocolError", "RequestHead", "RequestParser"]

_Connection = h11.Connection
_SERVER = h11.SERVER
_Request = h11.Request
_Data = h11.Data
_EndOfMessage = h11.EndOfMessage
_NEED_DATA = h11.NEED_DATA

#: ``next_body_event``: more bytes must be fed before the body can go on.
NEED_DATA: Any = _NEED_DATA
#: ``next_body_event``: the body is complete.
END: Any = type("EndOfBody", (), {"__repr__": lambda self: "END", "__slots__": ()})()

_METHODS = {m.encode(): m for m in ("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS",
                                    "CONNECT", "TRACE")}


class ProtocolError(Exception):
    """A request the server cannot serve; ``status`` is the answer (400 by default)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def _protocol_error(e: h11.ProtocolError) -> ProtocolError:
    return ProtocolError(str(e), e.error_status_hint or 400)


def _check_fast_head() -> Any:
    """h11's own head reader, if this h11 has the pieces the fast path uses
    and parses a sample exactly as its public API does; else None."""
    try:
        from h11._readers import maybe_read_from_IDLE_client as read_head

        conn = h11.Connection(h11.SERVER)
        if not hasattr(conn, "_receive_buffer") or not hasattr(conn, "_process_event"):
            return None
        data = conn._receive_buffer._data  # the buffer's bytes, kept in place
        if type(data) is not bytearray:
            return None
        sample = b"GET /x?y HTTP/1.1\r\nHost: a\r\nX-A:  b \r\n\r\nrest"
        conn.receive_data(sample)
        ev = read_head(conn._receive_buffer)
        ref = h11.Connection(h11.SERVER)
        ref.receive_data(sample)
        want = ref.next_event()
        if (type(ev) is not h11.Request or ev.method != want.method or ev.target != want.target
                or list(ev.headers) != list(want.headers)
                or ev.headers._full_items != want.headers._full_items
                or conn.trailing_data[0] != b"rest" or conn._receive_buffer._data is not data):
            return None
        conn._process_event(conn.their_role, ev)
        return read_head
    except Exception:  # noqa: BLE001 - any surprise means: use the public API
        return None


_read_idle_head = _check_fast_head()
#: True when the fast head parser is available (and not turned off by the environment).
FAST_HEAD = _read_idle_head is not None and os.environ.get("GONET_HTTP_PARSER", "") != "public"


class RequestHead:
    """A parsed request head, with its framing decided.

    ``method`` (str), ``target`` (str, latin-1), ``http10`` (an HTTP/1.0
    request), ``headers`` (h11's ``(raw name, lower-case name, value)``
    triples, all bytes, already validated), ``host`` (the Host header's
    bytes, b"" if none), ``content_length`` (-1 when absent), ``chunked``,
    ``has_body`` (chunked or a positive length),
    ``close`` (the client asked to close: HTTP/1.1 ``Connection: close``, or
    HTTP/1.0 without ``keep-alive``), ``keep_alive10`` (an HTTP/1.0 client
    that asked for keep-alive), ``expect_continue``.
    """

    __slots__ = ("method", "target", "http10", "headers", "host", "content_length", "chunked",
                 "has_body", "close", "keep_alive10", "expect_continue")

    def __init__(self, ev: Any, items: list) -> None:
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
        self.http10 = http10
        if http10:
            self.keep_alive10 = conn_tok is not None and b"keep-alive" in conn_tok
            self.close = not self.keep_alive10
        else:
            self.keep_alive10 = False
            self.close = conn_tok is not None and b"close" in conn_tok
        self.method = _METHODS.get(ev.method) or ev.method.decode("ascii")
        self.target = ev.target.decode("latin-1")
        self.headers = items
        self.host = host
        self.content_length = cl
        self.chunked = chunked
        self.has_body = chunked or cl > 0
        self.expect_continue = expect and not http10

    def __repr__(self) -> str:
        return f"<RequestHead {self.method} {self.target}>"


def _triples(headers: Any) -> list:
    """(raw name, lower-case name, value) from h11's public header list."""
    return [(raw, raw.lower(), value) for raw, value in headers.raw_items()]


class RequestParser:
    """The incoming side of one server connection (see the module docstring).

    ``max_head``: the largest head accepted (431 beyond it).
    """

    __slots__ = ("_h", "_fast", "_max", "moved", "_ev", "feed", "_data")

    def __init__(self, max_head: int, fast: bool | None = None) -> None:
        self._max = max_head
        self._fast = FAST_HEAD if fast is None else (fast and _read_idle_head is not None)
        self._h = _Connection(_SERVER, max_head)
        #: ``feed(data)``: bytes read from the connection (b"" once the peer
        #: has closed). h11's own method, bound to the current connection:
        #: called for every read, it costs no frame of its own.
        self.feed = self._h.receive_data
        # The fast path's view of h11's receive buffer (a bytearray that h11
        # consumes in place): len() on it costs no Python frame.
        self._data = self._h._receive_buffer._data if self._fast else None
        #: h11's state machine has left IDLE: ``next_request`` must run before
        #: the next head (with the fast path, only after a request with a body).
        self.moved = False
        self._ev: Any = None  # h11's Request event of the current head (for begin_body)

    @property
    def fast(self) -> bool:
        return self._fast

    def buffered(self) -> int:
        """Bytes held that no head or body piece has used yet."""
        return len(self._data) if self._fast else len(self._h.trailing_data[0])

    def next_head(self) -> RequestHead | None:
        """The next request head if the buffer holds a whole one; else None.

        Raises :class:`ProtocolError` for a malformed or oversized head.
        """
        h = self._h
        if self._fast:
            data = self._data
            n = len(data)
            if not n:
                return None
            try:
                ev = _read_idle_head(h._receive_buffer)
            except h11.ProtocolError as e:
                raise _protocol_error(e) from None
            if ev is None:
                if n > self._max:
                    raise ProtocolError("request head too large", 431)
                return None
            if n - len(data) > self._max:
                raise ProtocolError("request head too large", 431)
            self._ev = ev
            return RequestHead(ev, ev.headers._full_items)
        before = len(h.trailing_data[0])
        try:
            ev = h.next_event()
        except h11.ProtocolError as e:
            raise _protocol_error(e) from None
        if ev is _NEED_DATA:
            return None
        if type(ev) is not _Request:
            return None  # ConnectionClosed: the caller sees EOF on its own read
        self.moved = True
        if before - len(h.trailing_data[0]) > self._max:
            raise ProtocolError("request head too large", 431)
        self._ev = ev
        return RequestHead(ev, _triples(ev.headers))

    def begin_body(self, head: RequestHead) -> None:
        """Hand the body of ``head`` (which has one) to h11's framing."""
        if self._fast:
            h = self._h
            try:
                h._process_event(h.their_role, self._ev)
            except h11.ProtocolError as e:
                raise _protocol_error(e) from None
            self.moved = True

    def next_body_event(self) -> Any:
        """The next piece of the body: non-empty bytes, :data:`END`, or
        :data:`NEED_DATA`. Raises :class:`ProtocolError` for bad framing or
        a body cut short by EOF."""
        h = self._h
        try:
            while True:
                ev = h.next_event()
                t = type(ev)
                if t is _Data:
                    if ev.data:
                        return bytes(ev.data)
                    continue
                if t is _EndOfMessage:
                    return END
                if ev is _NEED_DATA:
                    return NEED_DATA
                # PAUSED or ConnectionClosed in the middle of a body
                raise ProtocolError("unexpected end of request body")
        except h11.ProtocolError as e:
            raise _protocol_error(e) from None

    def next_request(self) -> None:
        """After a response whose request ``moved`` the state machine: be ready
        for the next head, keeping the bytes already read past this request."""
        self._ev = None
        if self.moved:
            rest = self._h.trailing_data[0]
            h = self._h = _Connection(_SERVER, self._max)
            self.feed = h.receive_data
            if self._fast:
                self._data = h._receive_buffer._data
            self.moved = False
            if rest:
                h.receive_data(rest)

    def take_rest(self) -> bytes:
        """The bytes read past the current request (for a hijacker); the
        parser is not used afterwards."""
        return self._h.trailing_data[0]
