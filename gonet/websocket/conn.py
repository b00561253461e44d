"""WebSocket layer: one open WebSocket over a gonet Conn (RFC 6455), both ends.

A :class:`WebSocket` reads and writes messages in the calling goroutine, in
blocking style: ``recv()`` parks on the Conn until a whole message is in,
``send()`` until the frame is written. The frames are wsproto's (its sans-I/O
``Connection`` does the parsing, masking, UTF-8 checks, close codes and
permessage-deflate); this module owns the I/O, the locks and the closing
handshake. A server WebSocket with no extension writes its own (unmasked,
unfragmented) data frames: a two- to ten-byte header before the payload.

Concurrency (as gorilla/websocket and coder/websocket): one reader and one
writer at a time. ``recv`` holds the read turn, ``send``/``ping``/``close``
take the write turn for one frame each, so a second writer waits and frames
never interleave. Control frames from the peer are handled by whoever reads:
a ping is answered from the reading goroutine, a pong wakes the goroutine in
``ping()``. With nobody reading, ``ping`` and ``close`` read themselves
(``ping`` keeps the messages it meets for the next ``recv``).

States (``_state``)::

    OPEN --close() sends a close frame--> CLOSING --peer's close frame / bound--> CLOSED
      |                                                                             ^
      +--peer's close frame (answered) / protocol error (close frame sent) / EOF---+

Every way to CLOSED sets ``_err``, the :class:`Closed` that every later call
raises, and closes the Conn exactly once (``_finish``), which also tells
whoever tracks the connection (the HTTP server's shutdown). Once a close
frame has been sent nothing else is written. A read deadline that expires in
``recv`` leaves the WebSocket usable (the bytes read so far stay buffered);
a write that fails or times out part-way leaves the stream broken, so the
Conn is closed.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from typing import Any

from wsproto.connection import Connection, ConnectionState, ConnectionType
from wsproto.events import BytesMessage, CloseConnection, Message, Ping, Pong, TextMessage
from wsproto.frame_protocol import CloseReason

from gonet.net import DeadlineExceededError
from gonet.runtime.sched import get_sched

__all__ = ["WebSocket", "Closed", "CLOSE_TIMEOUT", "close_code_text"]

_monotonic = time.monotonic

#: How long ``close`` waits for the peer's close frame (and a client for the
#: server to end the TCP connection) before closing the Conn anyway.
CLOSE_TIMEOUT = 5.0

OPEN, CLOSING, CLOSED = "open", "closing", "closed"

_TEXT, _BINARY = 0x1, 0x2
_READ_SIZE = 65536
#: The largest data frame _read parses itself; longer ones stream through wsproto.
_FAST_MAX = 65536
#: After failing a connection: how long, and how many bytes, to read and
#: drop before closing (see WebSocket._linger).
_LINGER = 1.0
_LINGER_BYTES = 4 << 20
#: With permessage-deflate, bytes are fed to the inflater in pieces this big,
#: so one read cannot inflate to more than about 1,000 times it before the
#: size check runs (a deflate bomb).
_DEFLATE_FEED = 4096

_CODE_TEXT = {
    1000: "normal closure",
    1001: "going away",
    1002: "protocol error",
    1003: "unsupported data",
    1005: "no status",
    1006: "abnormal closure",
    1007: "invalid payload data",
    1008: "policy violation",
    1009: "message too big",
    1010: "mandatory extension",
    1011: "internal error",
    1012: "service restart",
    1013: "try again later",
    1015: "TLS handshake failed",
}


def close_code_text(code: int) -> str:
    """RFC 6455's name for a close code ("" for codes it does not name)."""
    return _CODE_TEXT.get(code, "")


class Closed(ConnectionError):
    """The WebSocket is closed: ``code`` and ``reason`` are the close frame's.

    The peer's close frame when the peer closed; ours when this end closed
    (``close()``) or failed the connection on a protocol error (1002, 1007,
    1009, ...); 1006 when the TCP connection ended without a close frame.
    A ConnectionError, so a handler that lets it out is not logged by the
    HTTP server (the peer went away, as with a reset).
    """

    def __init__(self, code: int, reason: str = "", peer: str = "") -> None:
        self.code = code
        self.reason = reason
        self.peer = peer
        name = close_code_text(code)
        text = f"websocket {peer}: closed with {code}" if peer else f"websocket: closed with {code}"
        if name:
            text += f" ({name})"
        if reason:
            text += f": {reason}"
        super().__init__(text)


class _Turn:
    """A lock for one direction of a WebSocket, on its scheduler only: FIFO,
    handed straight to the first waiter on release (no thread lock needed)."""

    __slots__ = ("busy", "waiters")

    def __init__(self) -> None:
        self.busy = False
        self.waiters: list = []  # rarely more than one: a list, not a deque

    def acquire(self, reason: str) -> None:
        if not self.busy:
            self.busy = True
            return
        sched = get_sched()
        self.waiters.append(sched.current)
        sched.park(reason)  # woken by release(), owning the turn

    def try_acquire(self) -> bool:
        if self.busy:
            return False
        self.busy = True
        return True

    def release(self) -> None:
        if self.waiters:
            g = self.waiters.pop(0)
            g.sched.ready(g)
        else:
            self.busy = False


def _frame_head(opcode: int, n: int) -> bytes:
    """An unmasked, final data frame's header for an ``n``-byte payload."""
    if n < 126:
        return bytes((0x80 | opcode, n))
    if n < 65536:
        return bytes((0x80 | opcode, 126)) + n.to_bytes(2, "big")
    return bytes((0x80 | opcode, 127)) + n.to_bytes(8, "big")


_ping_ids = itertools.count(1)


class WebSocket:
    """An open WebSocket (from ``websocket.accept`` or ``websocket.dial``).

    ``recv()`` -> ``str`` (text) or ``bytes`` (binary); ``send(str | bytes)``;
    ``ping(data)``; ``close(code, reason)``; ``for msg in ws`` (ends on a
    normal closure: 1000, 1001 or no status); ``with ws:`` (closes on exit,
    with 1011 when the block raised). Deadlines are absolute
    ``time.monotonic()`` values, as on a Conn.

    Attributes: ``subprotocol`` (negotiated, or None), ``extensions`` (the
    negotiated Sec-WebSocket-Extensions value, "" for none), ``request``
    (the HTTP request a server accepted; None on a client), ``max_message_size``.
    """

    __slots__ = ("_conn", "_ws", "client", "subprotocol", "extensions", "request",
                 "max_message_size", "_peer", "_plain", "_deflate", "_rturn", "_wturn",
                 "_state", "_err", "_close_sent", "_close_rcvd", "_conn_closed", "_rdl",
                 "_inbox", "_pings", "_closer", "_on_finish", "_buf", "_fast", "_masked",
                 "_slow_left", "_frag", "_fed", "_parts", "_parts_size", "__weakref__")

    def __init__(self, conn: Any, proto: Connection | None, *, client: bool,
                 subprotocol: str | None = None, extensions: str = "", request: Any = None,
                 max_message_size: int | None = 1 << 20, buffered: bytes = b"") -> None:
        """``proto`` must hold no bytes yet: the bytes read past the
        handshake are ``buffered`` (this end parses frame boundaries itself).
        None: a plain wsproto Connection is made when first needed (an idle
        WebSocket whose frames all take the fast path never needs one)."""
        self._conn = conn
        self._ws = proto
        self.client = client
        self.subprotocol = subprotocol
        self.extensions = extensions
        self.request = request
        self.max_message_size = max_message_size
        try:
            self._peer = str(conn.remote_addr)
        except OSError:
            self._peer = ""
        # Own framing on the write path: a server (no mask) with no extension.
        self._plain = not client and not extensions
        self._deflate = bool(extensions)
        self._rturn = _Turn()
        self._wturn = _Turn()
        self._state = OPEN
        self._err: Closed | None = None
        self._close_sent = False
        self._close_rcvd = False
        self._conn_closed = False
        self._rdl: float | None = None  # the read deadline, for ping's wait
        self._inbox: list = []  # messages ping() read before its pong
        # The read side's buffer and frame tracking (see _read).
        self._buf = bytes(buffered)
        self._fast = not extensions  # frames simple enough are parsed here
        self._masked = not client  # frames from a client are masked, from a server not
        self._slow_left = 0  # bytes of the current frame still to feed to wsproto
        self._frag = False  # a fragmented message is under way (in wsproto's hands)
        self._fed = False  # wsproto got bytes since its events were last drained
        self._parts: list = []  # pieces of a message wsproto is delivering
        self._parts_size = 0
        self._pings: dict[bytes, Any] = {}  # payload -> waiting goroutine (or True: arrived)
        self._closer: Any = None  # the goroutine in close() waiting for the reader
        self._on_finish: list[Callable[[], Any]] = []

    def __repr__(self) -> str:
        side = "client" if self.client else "server"
        return f"<websocket.WebSocket {side} {self._peer} {self._state}>"

    # -- properties ------------------------------------------------------------

    @property
    def remote_addr(self) -> Any:
        return self._conn.remote_addr

    @property
    def local_addr(self) -> Any:
        return self._conn.local_addr

    @property
    def closed(self) -> bool:
        """True once the closing handshake has begun or the connection failed."""
        return self._state != OPEN

    @property
    def close_code(self) -> int | None:
        """The close code once closed (as in the Closed that calls raise), else None."""
        return self._err.code if self._err is not None else None

    def conn(self) -> Any:
        """The underlying Conn (a gonet Conn, or a tls.Conn for wss)."""
        return self._conn

    # -- deadlines -------------------------------------------------------------

    def set_deadline(self, t: float | None) -> None:
        self._rdl = t
        self._conn.set_deadline(t)

    def set_read_deadline(self, t: float | None) -> None:
        """Bounds ``recv`` and ``ping``'s wait for its pong; an expired read
        raises ``gonet.DeadlineExceededError`` and leaves the WebSocket usable."""
        self._rdl = t
        self._conn.set_read_deadline(t)

    def set_write_deadline(self, t: float | None) -> None:
        """Bounds ``send``, ``ping`` and the close frame; a write cut short
        leaves half a frame on the wire, so the WebSocket is closed (1006)."""
        self._conn.set_write_deadline(t)

    def _proto(self) -> Connection:
        ws = self._ws
        if ws is None:
            ws = self._ws = Connection(ConnectionType.CLIENT if self.client
                                       else ConnectionType.SERVER)
        return ws

    # -- reading ---------------------------------------------------------------

    def recv(self) -> str | bytes:
        """The next message: ``str`` for text, ``bytes`` for binary.

        Raises :class:`Closed` when the WebSocket is (or gets) closed, and
        ``gonet.DeadlineExceededError`` past the read deadline. Pings that
        arrive meanwhile are answered.
        """
        if self._inbox:
            return self._inbox.pop(0)
        turn = self._rturn
        turn.acquire("websocket recv")
        try:
            if self._inbox:
                return self._inbox.pop(0)
            return self._read(None)
        finally:
            turn.release()
            if self._pings:
                self._wake_pingers()  # one of them may read on for its pong

    def __iter__(self) -> Iterator[str | bytes]:
        return self

    def __next__(self) -> str | bytes:
        try:
            return self.recv()
        except Closed as e:
            if e.code in (1000, 1001, 1005):
                raise StopIteration from None
            raise

    def _read(self, pong: bytes | None) -> Any:
        """Read until a whole message is in (returned), or, with ``pong``,
        until that pong has arrived (returns None). The caller holds the
        read turn. Control frames are handled on the way.

        Bytes go from the Conn into ``_buf``; at each frame boundary the
        fast path takes a whole, final, unfragmented data frame of at most
        ``_FAST_MAX`` bytes (no reserved bits, masked as it must be, its
        text valid UTF-8) itself; every other frame is fed to wsproto whole
        (``_slow_left`` counts what is left of it), so wsproto sees only
        whole frames and its state stays exact. With an extension
        (permessage-deflate) every byte goes to wsproto.
        """
        if self._close_rcvd or self._conn_closed:
            raise self._err  # type: ignore[misc]  # set whenever either is
        conn = self._conn
        limit = self.max_message_size
        fast = self._fast
        while True:
            if self._fed:
                for ev in self._ws.events():
                    t = type(ev)
                    if t is TextMessage or t is BytesMessage:
                        msg = self._piece(ev.data, ev.message_finished, t is TextMessage, limit)
                        if msg is not None:
                            return msg
                    elif t is Ping:
                        self._pong(ev.payload)
                    elif t is Pong:
                        self._got_pong(ev.payload)
                    elif t is CloseConnection:
                        self._on_close_frame(ev)
                self._fed = False  # only once drained: a return above leaves events queued
                if pong is not None and self._pings.get(pong) is True:
                    return None
            buf = self._buf
            if buf:
                if not fast:
                    self._buf = b""
                    self._feed(buf)
                    continue
                left = self._slow_left
                if left:
                    if len(buf) <= left:
                        self._buf = b""
                        self._slow_left = left - len(buf)
                        self._feed(buf)
                    else:
                        self._buf = buf[left:]
                        self._slow_left = 0
                        self._feed(buf[:left])
                    continue
                # A frame boundary: parse the header.
                nb = len(buf)
                if nb >= 2:
                    b0 = buf[0]
                    b1 = buf[1]
                    n = b1 & 0x7F
                    hl = 2
                    minimal = True  # the length in the fewest bytes (RFC 6455 5.2)
                    if n == 126:
                        hl = 4
                        n = int.from_bytes(buf[2:4], "big") if nb >= 4 else -1
                        minimal = n > 125
                    elif n == 127:
                        hl = 10
                        n = int.from_bytes(buf[2:10], "big") if nb >= 10 else -1
                        minimal = n > 65535
                    if b1 & 0x80:
                        hl += 4
                    if n >= 0 and nb >= hl:
                        op = b0 & 0x0F
                        total = hl + n
                        if limit is not None and n > limit and op <= 2 and minimal:
                            self._fail(1009, f"frame of {n} bytes, more than the message "
                                             f"limit of {limit}")
                        if (b0 & 0xF0 == 0x80 and (op == 1 or op == 2) and not self._frag
                                and bool(b1 & 0x80) is self._masked and n <= _FAST_MAX
                                and minimal):
                            if nb >= total:
                                if self._masked:
                                    data = _unmask(buf[hl - 4:hl], buf[hl:total], n)
                                else:
                                    data = buf[hl:total]
                                self._buf = buf[total:]
                                if op == 2:
                                    return data
                                try:
                                    return data.decode()
                                except UnicodeDecodeError:
                                    self._fail(1007, "invalid UTF-8 in a text message")
                            # else: wait for the rest of the frame
                        else:
                            # Anything else goes to wsproto whole.
                            if op == 0 and b0 & 0x80:
                                self._frag = False
                            elif (op == 1 or op == 2) and not b0 & 0x80:
                                self._frag = True
                            self._slow_left = total
                            continue
            try:
                data = conn.read(_READ_SIZE)
            except DeadlineExceededError:
                raise
            except OSError as e:
                if self._err is not None:
                    raise self._err from None  # close() or shutdown closed the Conn
                self._abort(1006, f"read failed: {e}")
            if not data:
                self._abort(1006, "connection closed without a close frame")
            self._buf = buf + data if buf else data

    def _feed(self, data: bytes) -> None:
        """Give bytes to wsproto; with permessage-deflate in pieces of
        ``_DEFLATE_FEED``, so that the size check runs between them (one
        piece cannot inflate to more than about 1,000 times its size)."""
        self._fed = True
        if not self._deflate or len(data) <= _DEFLATE_FEED:
            self._proto().receive_data(data)
            return
        self._proto().receive_data(data[:_DEFLATE_FEED])
        self._buf = data[_DEFLATE_FEED:] + self._buf

    def _piece(self, data: Any, finished: bool, text: bool, limit: int | None) -> Any:
        """A piece of a message from wsproto: the whole message once it is
        complete, else None (the pieces are kept across calls: ping may
        stop reading between two of them)."""
        parts = self._parts
        if finished and not parts:
            if limit is not None and len(data) > limit // 4 and _size(data) > limit:
                self._fail(1009, f"message of {_size(data)} bytes, more than the limit of {limit}")
            return data
        parts.append(data)
        self._parts_size += _size(data)
        if limit is not None and self._parts_size > limit:
            self._fail(1009, f"message of more than {limit} bytes")
        if not finished:
            return None
        self._parts = []
        self._parts_size = 0
        return "".join(parts) if text else b"".join(parts)

    def _on_close_frame(self, ev: CloseConnection) -> None:
        """A close frame arrived, or wsproto reports a protocol error as one.

        wsproto moves OPEN -> REMOTE_CLOSING on the peer's close frame and
        LOCAL_CLOSING -> CLOSED on its answer to ours; a parse failure leaves
        the state where it was (the peer sent no close frame at all)."""
        code = int(ev.code)
        reason = ev.reason or ""
        st = self._ws.state
        if st is ConnectionState.OPEN or st is ConnectionState.LOCAL_CLOSING:
            self._fail(code, reason)
        self._close_rcvd = True
        if st is ConnectionState.REMOTE_CLOSING:
            # The peer closes: answer with its code (RFC 6455 5.5.1), then end.
            self._state = CLOSING
            self._err = Closed(code, reason, self._peer)
            self._send_close(code if code != 1005 else None, "")
            self._end_tcp()
            raise self._err
        # We closed first and this is the answer: close() ends the TCP connection.
        self._err = Closed(code, reason, self._peer)
        g = self._closer
        if g is not None:
            self._closer = None
            g.sched.ready(g)
        raise self._err

    # -- writing ---------------------------------------------------------------

    def send(self, message: str | bytes) -> None:
        """Send one message: text for ``str``, binary for bytes-like."""
        if isinstance(message, str):
            if self._plain:
                payload = message.encode()
                frame = _frame_head(_TEXT, len(payload)) + payload
            else:
                frame = None
        elif isinstance(message, (bytes, bytearray, memoryview)):
            if self._plain:
                frame = _frame_head(_BINARY, len(message)) + message
            else:
                frame = None
                message = bytes(message)
        else:
            raise TypeError(f"websocket: send takes str or bytes, not {type(message).__name__}")
        turn = self._wturn
        turn.acquire("websocket send")
        try:
            if self._state != OPEN:
                raise self._err or Closed(1006, "closed", self._peer)
            if frame is None:
                frame = self._proto().send(Message(data=message))
            self._write(frame)
        finally:
            turn.release()

    def _write(self, frame: Any) -> None:
        """Write one whole frame (write turn held); a failure breaks the stream."""
        try:
            self._conn.write(frame)
        except OSError as e:
            if self._err is None:
                self._err = Closed(1006, f"write failed: {e}", self._peer)
            self._state = CLOSED
            self._finish()
            if isinstance(e, DeadlineExceededError):
                raise
            raise self._err from e

    def _pong(self, payload: bytes) -> None:
        turn = self._wturn
        turn.acquire("websocket pong")
        try:
            if self._state == OPEN:
                self._write(self._proto().send(Pong(payload=payload)))
        finally:
            turn.release()

    def _send_close(self, code: int | None, reason: str) -> None:
        """Send our close frame, once (write turn taken here)."""
        turn = self._wturn
        turn.acquire("websocket close")
        try:
            if self._close_sent or self._conn_closed:
                return
            self._close_sent = True
            ws = self._proto()
            if ws.state in (ConnectionState.OPEN, ConnectionState.REMOTE_CLOSING):
                if code is None:
                    code = CloseReason.NO_STATUS_RCVD  # wsproto's token for an empty close frame
                try:
                    self._conn.write(ws.send(CloseConnection(code=code, reason=reason)))
                except OSError:
                    self._finish()
        finally:
            turn.release()

    # -- ping ------------------------------------------------------------------

    def ping(self, data: bytes = b"") -> None:
        """Send a ping and return when its pong arrives, or raise
        ``gonet.DeadlineExceededError`` at the read deadline (or
        :class:`Closed`). Without ``data`` a unique payload is used, so
        concurrent pings each wait for their own pong. The pong is read by
        the goroutine in ``recv``; with none, ``ping`` reads itself and keeps
        the messages it meets for the next ``recv``."""
        if len(data) > 125:
            raise ValueError("websocket: a ping's payload is at most 125 bytes")
        payload = bytes(data) if data else b"gonet-%d" % next(_ping_ids)
        if payload in self._pings:
            raise RuntimeError(f"websocket: a ping with payload {payload!r} is in flight")
        sched = get_sched()
        self._pings[payload] = None
        try:
            turn = self._wturn
            turn.acquire("websocket ping")
            try:
                if self._state != OPEN:
                    raise self._err or Closed(1006, "closed", self._peer)
                self._write(self._proto().send(Ping(payload=payload)))
            finally:
                turn.release()
            while self._pings.get(payload) is not True:
                if self._rturn.try_acquire():
                    try:
                        while True:
                            msg = self._read(payload)
                            if msg is None:
                                return
                            self._inbox.append(msg)
                    finally:
                        self._rturn.release()
                # A reader is at work: it wakes us when the pong (or the end) comes.
                if self._err is not None:
                    raise self._err
                self._pings[payload] = sched.current
                timeout = None
                if self._rdl is not None:
                    timeout = self._rdl - _monotonic()
                    if timeout <= 0:
                        raise DeadlineExceededError("ping", self._conn)
                sched.park("websocket ping", timeout)
                if self._pings.get(payload) is sched.current:
                    self._pings[payload] = None
                    if self._err is not None:
                        raise self._err
                    if self._rdl is not None and _monotonic() >= self._rdl:
                        raise DeadlineExceededError("ping", self._conn)
                    # else the reader let go of its turn: try reading ourselves
        finally:
            self._pings.pop(payload, None)

    def _got_pong(self, payload: bytes) -> None:
        pings = self._pings
        if payload in pings:
            g = pings[payload]
            pings[payload] = True
            if g is not None and g is not True:
                g.sched.ready(g)

    def _wake_pingers(self) -> None:
        for payload, g in list(self._pings.items()):
            if g is not None and g is not True:
                self._pings[payload] = None
                g.sched.ready(g)

    def _wake_waiters(self) -> None:
        """The WebSocket ended: wake ping()s waiting on a reader, and close()."""
        self._wake_pingers()
        g = self._closer
        if g is not None:
            self._closer = None
            g.sched.ready(g)

    # -- closing ---------------------------------------------------------------

    def close(self, code: int = 1000, reason: str = "") -> None:
        """The closing handshake: send a close frame with ``code`` and
        ``reason``, wait (up to CLOSE_TIMEOUT seconds) for the peer's, then
        close the Conn. A reader in ``recv`` gets :class:`Closed` with the
        peer's answer. Closing a closed WebSocket does nothing."""
        if self._conn_closed:
            return
        if self._state == OPEN:
            if not (code == 1000 or 3000 <= code <= 4999 or code in (1001, 1002, 1003, 1007,
                                                                  1008, 1009, 1010, 1011,
                                                                  1012, 1013)):
                raise ValueError(f"websocket: {code} is not a close code an endpoint may send")
            if len(reason.encode()) > 123:
                raise ValueError("websocket: a close reason is at most 123 bytes of UTF-8")
            self._state = CLOSING
            self._err = Closed(code, reason, self._peer)
            self._send_close(code, reason)
        end = _monotonic() + CLOSE_TIMEOUT
        if not self._close_rcvd and not self._conn_closed:
            if self._rturn.try_acquire():
                try:
                    self._conn.set_read_deadline(end)
                    while True:
                        self._read(None)  # messages after our close frame are dropped
                except (Closed, OSError):
                    pass
                finally:
                    self._rturn.release()
            else:
                # A reader is parked in recv: it gets the answer and wakes us.
                sched = get_sched()
                self._closer = sched.current
                sched.park("websocket close", CLOSE_TIMEOUT)
                self._closer = None
        if self.client and not self._conn_closed and self._rturn.try_acquire():
            try:
                self._wait_eof(end)
            finally:
                self._rturn.release()
        self._state = CLOSED
        self._finish()

    def _end_tcp(self) -> None:
        """After the closing handshake: a server closes the TCP connection at
        once; a client waits (bounded) for the server to close first
        (RFC 6455 7.1.1)."""
        if self.client:
            self._wait_eof(_monotonic() + CLOSE_TIMEOUT)
        self._state = CLOSED
        self._finish()

    def _wait_eof(self, end: float) -> None:
        try:
            self._conn.set_read_deadline(end)
            while self._conn.read(_READ_SIZE):
                pass
        except OSError:
            pass

    def _fail(self, code: int, reason: str) -> None:
        """Fail the WebSocket connection (RFC 6455 7.1.7): send a close frame
        with ``code``, close the Conn, raise :class:`Closed`."""
        self._err = Closed(code, reason, self._peer)
        self._state = CLOSED
        self._send_close(code, reason)
        self._linger()
        self._finish()
        raise self._err

    def _linger(self) -> None:
        """Before closing on a failure, end our side and read what the peer
        still sends, briefly: closing a socket with unread bytes sends a TCP
        reset, which can destroy our close frame before the peer reads it."""
        if self._conn_closed:
            return
        conn = self._conn
        try:
            conn.close_write()
            conn.set_read_deadline(_monotonic() + _LINGER)
            left = _LINGER_BYTES
            while left > 0:
                data = conn.read(_READ_SIZE)
                if not data:
                    break
                left -= len(data)
        except OSError:
            pass

    def _abort(self, code: int, reason: str) -> None:
        """The TCP connection ended or broke under us: nothing to send."""
        if self._err is None:
            self._err = Closed(code, reason, self._peer)
        self._state = CLOSED
        self._finish()
        raise self._err

    def _finish(self) -> None:
        """Close the Conn once, wake anyone waiting, tell the trackers."""
        if self._conn_closed:
            return
        self._conn_closed = True
        if self._err is None:
            self._err = Closed(1006, "connection closed", self._peer)
        self._state = CLOSED
        try:
            self._conn.close()
        except OSError:
            pass
        self._wake_waiters()
        fns, self._on_finish = self._on_finish, []
        for fn in fns:
            fn()

    def on_finish(self, fn: Callable[[], Any]) -> None:
        """Call ``fn()`` once the Conn is closed (at once if it is)."""
        if self._conn_closed:
            fn()
        else:
            self._on_finish.append(fn)

    def __enter__(self) -> WebSocket:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None or isinstance(exc, Closed):
            self.close()
        else:
            try:
                self.close(1011, "internal error")
            except OSError:
                pass


def _unmask(key: bytes, payload: bytes, n: int) -> bytes:
    """XOR ``payload`` with the repeated 4-byte ``key`` (RFC 6455 5.3)."""
    if n == 0:
        return b""
    k = int.from_bytes((key * ((n >> 2) + 1))[:n], "little")
    return (int.from_bytes(payload, "little") ^ k).to_bytes(n, "little")


def _size(data: str | bytes) -> int:
    """A message's size in bytes (UTF-8 for text)."""
    if type(data) is str and not data.isascii():
        return len(data.encode())
    return len(data)
