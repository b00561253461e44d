"""TLS layer: Conn, TLS over a gonet Conn (Go's ``crypto/tls.Conn``).

A :class:`Conn` speaks TLS over a net-layer Conn. Its handshake, reads and
writes park the calling goroutine like any other I/O, under the Conn's
deadlines; the handshake runs explicitly (:meth:`Conn.handshake`) or on the
first read or write.

OpenSSL on the fd, not memory BIOs
----------------------------------

Python's ``ssl`` offers two ways to drive OpenSSL without blocking: an SSL
object bound to the socket (OpenSSL calls read(2)/write(2) on the fd
itself) or ``SSLObject`` with two memory BIOs (the caller moves the
ciphertext between the BIOs and the socket). This module uses the first.
Measured under callgrind (the 13-byte HTTPS hello through gonet.http, 64
keep-alive connections, instructions per request, server side): memory BIOs
160k-164k, OpenSSL on the fd 140k-146k (benchmarks/README.md has the
method). With BIOs every record goes through three more Python calls and
a bytes object each way, and a read after a short read waits on the poller
first (``poll/fd.py``), which under load costs a park per request; on the
fd, OpenSSL tries the socket first and usually finds the next request
there. The cost: OpenSSL reads a record in two read(2)s (its header, then
the rest; read-ahead is off), and a read that finds nothing costs one
failed read(2) and an ``SSLWantReadError``.

The SSL object is made on the net Conn's own socket (``RawConn.socket``)
and every call into it goes through ``RawConn.read`` / ``write``: under the
fd's read or write lock, only while the fd is open, parking on
want-read / want-write and trying again. The edge-triggered registration
is the fd's as before: a want-read means OpenSSL's read(2) failed with
EAGAIN, so the next edge is sure to come.

Buffered bytes (DESIGN.md, mechanism 10): a read always asks OpenSSL first,
so plaintext it holds (a record larger than the read) is returned without
a syscall or a park. OpenSSL reads no further than the record it is
decoding (read-ahead is off), so what it holds beyond that is only ever
decrypted plaintext: :meth:`Conn.read_later` starts its goroutine at once
when ``pending()`` says there is some, and waits for the fd otherwise.

Reads and writes may run in two goroutines at once (Go allows it): OpenSSL
is called from one thread only and never while another call is inside it,
and renegotiation is off (``server_context``), so a write never needs the
peer. A read that must write (a TLS 1.3 key update answered while the
socket is full) waits for writability under the write lock.

Handshake state (``_state``)::

    None --handshake()--> _BUSY --ok--> _DONE
                             +--fails--> the error (raised again by every
                                         later handshake, read and write)

Closing: ``close`` sends close_notify when it can (handshake done, no write
in flight, Go's interlock), bounded by the write deadline (5 s when none is
set, as Go), then closes the fd. ``close_write`` sends close_notify alone;
later writes fail and reads go on (``notify.py``: close_notify goes out
without reading, so nothing the peer sent is dropped).
"""

from __future__ import annotations

import os
import ssl
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from gonet.net.conn import Conn as NetConn
from gonet.net.errors import ClosedError, op_error
from gonet.runtime.sched import get_sched
from gonet.tls.notify import send_close_notify

__all__ = ["Conn", "ConnectionState", "HandshakeError", "client", "server"]

_WantRead = ssl.SSLWantReadError
_WantWrite = ssl.SSLWantWriteError
_EOF = (ssl.SSLZeroReturnError, ssl.SSLEOFError)
_monotonic = time.monotonic

_BUSY = "busy"
_DONE = "done"

#: Go bounds close_notify by 5 s when no write deadline is set.
CLOSE_NOTIFY_TIMEOUT = 5.0


class HandshakeError(ssl.SSLError):
    """The TLS handshake failed. The message names the peer and the reason;
    ``reason`` and ``library`` are OpenSSL's ("CERTIFICATE_VERIFY_FAILED",
    "SSL"), ``verify_message`` says why a certificate was refused, and
    ``peer`` is the remote address."""

    def __init__(self, message: str, *, reason: str | None = None, library: str | None = None,
                 verify_code: int | None = None, verify_message: str | None = None,
                 peer: Any = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.library = library
        self.verify_code = verify_code
        self.verify_message = verify_message
        self.peer = peer

    def __str__(self) -> str:
        return str(self.args[0])


@dataclass
class ConnectionState:
    """What the handshake settled (Go's ``tls.ConnectionState``)."""

    #: "TLSv1.2" or "TLSv1.3".
    version: str | None = None
    handshake_complete: bool = False
    #: The session was resumed from a ticket or the session cache.
    did_resume: bool = False
    #: OpenSSL's name of the cipher suite, e.g. "TLS_AES_256_GCM_SHA384".
    cipher_suite: str | None = None
    #: The ALPN protocol agreed on ("http/1.1"), or None.
    negotiated_protocol: str | None = None
    #: The SNI name: the one the client sent (server side), or the one it asked for.
    server_name: str | None = None
    #: The peer's certificate chain, DER-encoded, leaf first (only the leaf
    #: where this Python cannot give the chain).
    peer_certificates: list[bytes] = field(default_factory=list)
    #: The verified peer certificate as ``ssl.SSLSocket.getpeercert()`` gives it.
    peer_certificate: dict | None = None


def _on_sni(conn: Any, server_name: str | None, ctx: ssl.SSLContext) -> None:
    """The SNI callback every server-side Conn relies on: records the name."""
    if isinstance(conn, Conn):
        conn._sni = server_name


def _ssl_text(e: BaseException) -> str:
    """OpenSSL's words for ``e`` without the "(_ssl.c:1006)" tail."""
    text = e.args[1] if isinstance(e, ssl.SSLError) and len(e.args) > 1 else str(e)
    text = str(text)
    if text.endswith(")") and " (_ssl.c:" in text:
        text = text[:text.rindex(" (_ssl.c:")]
    return text


def _call(fn: Any) -> Any:
    return fn()


class Conn:
    """A TLS connection over a gonet Conn: the whole Conn interface (read,
    read_into, write, close, close_write, deadlines, addresses) plus
    :meth:`handshake`, :meth:`connection_state` and :meth:`net_conn`.

    Make one with :func:`client` or :func:`server` (or ``tls.dial`` /
    ``tls.listen``). One goroutine may read while another writes.
    """

    __slots__ = ("_c", "_raw", "_ssl", "_rread", "_rwrite", "_sread", "_swrite", "network",
                 "server_side", "_hostname", "_state", "_hs_waiters", "_sni", "_cs", "_sched",
                 "_closed", "_writing", "_werr", "_wdl", "_notified", "__weakref__")

    def __init__(self, conn: NetConn, ctx: ssl.SSLContext, server_side: bool,
                 server_hostname: str | None = None, session: ssl.SSLSession | None = None) -> None:
        if not isinstance(ctx, ssl.SSLContext):
            raise TypeError(f"tls: want an ssl.SSLContext, not {type(ctx).__name__}")
        self._c = conn
        self.network = conn.network
        self.server_side = server_side
        self._hostname = server_hostname
        raw = self._raw = conn.syscall_conn()
        # The SSL object on the Conn's own socket (what SSLSocket makes
        # inside, without taking the socket over); ``owner`` is what the SNI
        # callback receives.
        obj = self._ssl = ctx._wrap_socket(raw.socket, server_side, server_hostname,
                                           owner=self, session=session)
        self._rread = raw.read
        self._rwrite = raw.write
        self._sread = obj.read
        self._swrite = obj.write
        self._state: Any = None
        self._hs_waiters: list | None = None
        self._sni: str | None = None
        self._cs: ConnectionState | None = None
        self._sched = get_sched()
        self._closed = False
        self._writing = False  # a write is in flight (close then skips close_notify)
        self._werr: BaseException | None = None  # writes are over (close_write, a failed write)
        self._wdl: float | None = None  # the write deadline, for close_notify
        self._notified = False

    def __repr__(self) -> str:
        state = " closed" if self._closed else ""
        return f"<gonet.tls.Conn {self.network} {self.local_addr}->{self.remote_addr}{state}>"

    # -- what a Conn has ----------------------------------------------------------

    @property
    def local_addr(self) -> Any:
        return self._c.local_addr

    @property
    def remote_addr(self) -> Any:
        return self._c.remote_addr

    @property
    def closed(self) -> bool:
        return self._closed

    def fileno(self) -> int:
        return self._c.fileno()

    def net_conn(self) -> NetConn:
        """The Conn underneath (Go's ``NetConn``): writing to it directly
        corrupts the TLS stream."""
        return self._c

    def set_deadline(self, t: float | None) -> None:
        """Deadline (absolute ``time.monotonic()``; None clears) for reads,
        writes and the handshake."""
        self._wdl = t
        self._c.set_deadline(t)

    def set_read_deadline(self, t: float | None) -> None:
        self._c.set_read_deadline(t)

    def set_write_deadline(self, t: float | None) -> None:
        self._wdl = t
        self._c.set_write_deadline(t)

    def __enter__(self) -> Conn:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- the handshake ------------------------------------------------------------

    def handshake(self) -> None:
        """Run the handshake now (else the first read or write does). Parks
        on the netpoller under the Conn's deadlines. Raises HandshakeError
        when it fails, the net errors on a timeout or close."""
        st = self._state
        if st is _DONE:
            return
        if st is None:
            self._run_handshake()
        elif st is _BUSY:
            self._wait_handshake()
        else:
            raise st

    def _run_handshake(self) -> None:
        self._state = _BUSY
        try:
            self._rread(_call, self._ssl.do_handshake, _WantRead, _WantWrite)
        except BaseException as e:
            err = self._handshake_error(e)
            self._state = err
            self._wake_handshake_waiters()
            if err is e:
                raise
            raise err from None
        self._state = _DONE
        self._wake_handshake_waiters()

    def _wait_handshake(self) -> None:
        sched = get_sched()
        if self._hs_waiters is None:
            self._hs_waiters = []
        self._hs_waiters.append(sched.current)
        while self._state is _BUSY:
            sched.park("tls handshake")
        self.handshake()

    def _wake_handshake_waiters(self) -> None:
        ws = self._hs_waiters
        if ws:
            self._hs_waiters = None
            for g in ws:
                self._sched.ready(g)

    def _peer(self) -> str:
        try:
            addr = str(self._c.remote_addr)
        except OSError:
            addr = "?"
        if not self.server_side and self._hostname:
            return f"{self._hostname} ({addr})"
        return addr

    def _handshake_error(self, e: BaseException) -> BaseException:
        if isinstance(e, ssl.SSLError):
            if isinstance(e, _EOF):
                detail = "EOF (the peer closed the connection)"
            else:
                detail = _ssl_text(e)
                vm = getattr(e, "verify_message", None)
                if vm and vm not in detail:
                    detail = f"{detail}: {vm}"
            return HandshakeError(f"tls: handshake with {self._peer()}: {detail}",
                                  reason=getattr(e, "reason", None) or ("EOF" if isinstance(e, _EOF) else None),
                                  library=getattr(e, "library", None),
                                  verify_code=getattr(e, "verify_code", None),
                                  verify_message=getattr(e, "verify_message", None),
                                  peer=self._c.remote_addr)
        if isinstance(e, ConnectionError):
            return HandshakeError(f"tls: handshake with {self._peer()}: {e.strerror or e}",
                                  reason="EOF", peer=self._c.remote_addr)
        if isinstance(e, OSError):
            return self._error("handshake", e)
        return e

    # -- reads --------------------------------------------------------------------

    def read(self, n: int = 65536) -> bytes:
        """Read up to ``n`` bytes of plaintext; b"" when the peer has closed
        (close_notify, or the TCP connection at a record boundary)."""
        if self._state is not _DONE:
            self.handshake()
        try:
            return self._rread(self._sread, n, _WantRead, _WantWrite)
        except OSError as e:
            if isinstance(e, _EOF):
                return b""
            raise self._error("read", e) from None

    def read_into(self, buffer: Any, nbytes: int = 0) -> int:
        """Read into ``buffer``; returns the count, 0 when the peer has closed."""
        if self._state is not _DONE:
            self.handshake()
        n = nbytes or len(buffer)
        if n == 0:
            return 0
        try:
            return self._rread(self._read_into, (n, buffer), _WantRead, _WantWrite)
        except OSError as e:
            if isinstance(e, _EOF):
                return 0
            raise self._error("read", e) from None

    def _read_into(self, a: tuple) -> int:
        return self._sread(a[0], a[1])

    def read_later(self, fn: Any, *args: Any) -> Any:
        """``Conn.read_later`` for TLS: start ``fn(*args)`` in a new goroutine
        at once when OpenSSL holds plaintext already, else when the fd is
        readable, closed or past its read deadline."""
        name = f"read_later tls {self.remote_addr}"
        if self._state is _DONE and not self._closed and self._ssl.pending():
            return self._sched.spawn(fn, args, None, name)
        return self._raw.read_later(fn, args, name)

    # -- writes -------------------------------------------------------------------

    def write(self, data: Any) -> int:
        """Write all of ``data``; returns its length or raises. After a
        write failed (a deadline, say) the stream is broken: every later
        write raises the same error, as in Go."""
        if self._state is not _DONE:
            self.handshake()
        if self._werr is not None:
            raise self._werr
        if not data:
            return 0
        self._writing = True
        try:
            return self._rwrite(self._swrite, data, _WantRead, _WantWrite)
        except OSError as e:
            err = self._werr = self._error("write", e)
            raise err from None
        finally:
            self._writing = False

    def sendfile(self, file: Any, offset: int = 0, count: int | None = None) -> int:
        """Send part of a file (no zero-copy: the bytes are encrypted here);
        returns the bytes sent, less than ``count`` only at end of file."""
        infd = file if isinstance(file, int) else file.fileno()
        if count is None:
            count = os.fstat(infd).st_size - offset
        sent = 0
        while sent < count:
            chunk = os.pread(infd, min(count - sent, 256 << 10), offset + sent)
            if not chunk:
                break
            self.write(chunk)
            sent += len(chunk)
        return sent

    # -- closing ------------------------------------------------------------------

    def close_write(self) -> None:
        """Send close_notify (the peer reads EOF); reading goes on, writing
        is over. Bounded by the write deadline (5 s when none is set)."""
        if self._state is not _DONE:
            self._c.close_write()
            return
        self._close_notify(True)
        if self._werr is None:
            self._werr = self._error("write", ClosedError("tls: the write side is closed"))

    def close(self) -> None:
        """Send close_notify if the handshake is done and no write is in
        flight (bounded by the write deadline, 5 s when none is set), then
        close the connection; goroutines parked on it raise ClosedError.
        Idempotent; any thread."""
        if self._sched.thread is not threading.current_thread():
            self._sched.call_soon_threadsafe(self.close)
            return
        if self._closed:
            return
        self._closed = True
        if self._state is _DONE and not self._writing and not self._c.closed:
            # Only a goroutine may wait; from the scheduler's own callbacks,
            # close_notify goes out if the socket takes it at once.
            self._close_notify(self._sched.current is not None)
        self._c.close()

    def _close_notify(self, may_wait: bool) -> None:
        if self._notified:
            return
        self._notified = True
        try:
            if may_wait:
                if self._wdl is None:
                    self._c.set_write_deadline(_monotonic() + CLOSE_NOTIFY_TIMEOUT)
                self._rwrite(self._shutdown, None, _WantRead, _WantWrite)
            else:
                self._raw.control(self._shutdown)
        except (OSError, ValueError):
            pass  # the peer is gone, or the socket full: it is closed all the same

    def _shutdown(self, _arg: Any) -> None:
        try:
            send_close_notify(self._ssl, self._raw.socket)
        except _WantWrite:
            raise
        except ssl.SSLError:
            pass

    # -- state --------------------------------------------------------------------

    def connection_state(self) -> ConnectionState:
        """What the handshake settled; ``handshake_complete`` is False before it."""
        cs = self._cs
        if cs is not None:
            return cs
        if self._state is not _DONE:
            return ConnectionState(server_name=self._sni if self.server_side else self._hostname)
        obj = self._ssl
        cipher = obj.cipher()
        der = obj.getpeercert(True)
        chain: list[bytes] = []
        get_chain = getattr(obj, "get_verified_chain", None)
        if get_chain is not None and der is not None:
            try:
                der_format = getattr(ssl._ssl, "ENCODING_DER", 2)
                chain = [c.public_bytes(der_format) for c in get_chain() or ()]
            except (AttributeError, ValueError, ssl.SSLError):
                chain = []
        if not chain and der is not None:
            chain = [der]
        try:
            parsed = obj.getpeercert(False) or None
        except ValueError:
            parsed = None
        cs = self._cs = ConnectionState(
            version=obj.version(), handshake_complete=True, did_resume=obj.session_reused,
            cipher_suite=cipher[0] if cipher else None,
            negotiated_protocol=obj.selected_alpn_protocol(),
            server_name=self._sni if self.server_side else self._hostname,
            peer_certificates=chain, peer_certificate=parsed)
        return cs

    @property
    def session(self) -> ssl.SSLSession | None:
        """The TLS session (client side: pass it to :func:`client` to resume)."""
        return self._ssl.session

    @property
    def context(self) -> ssl.SSLContext:
        return self._ssl.context

    @context.setter
    def context(self, ctx: ssl.SSLContext) -> None:
        """Switch the context (and so the certificate) during the handshake:
        for an SNI callback."""
        self._ssl.context = ctx

    def _error(self, op: str, e: BaseException) -> BaseException:
        if isinstance(e, ssl.SSLError) and not isinstance(e, HandshakeError):
            try:
                where = f"{self._c.local_addr}->{self._c.remote_addr}"
            except OSError:
                where = ""
            new = type(e)(f"{op} {self.network} {where}: tls: {_ssl_text(e)}")
            new.reason = getattr(e, "reason", None)  # type: ignore[attr-defined]
            new.library = getattr(e, "library", None)  # type: ignore[attr-defined]
            return new
        if isinstance(e, OSError):
            try:
                return op_error(e, op, self.network, self._c.local_addr, self._c.remote_addr)
            except OSError:
                return e
        return e


def client(conn: NetConn, ctx: ssl.SSLContext | None = None, *, server_hostname: str | None = None,
           session: ssl.SSLSession | None = None) -> Conn:
    """The client side of TLS over ``conn`` (Go's ``tls.Client``). ``ctx``
    defaults to :func:`gonet.tls.client_context` (the system's trust store,
    host names checked); ``server_hostname`` is sent as SNI and checked
    against the certificate. The handshake runs on first use or
    ``handshake()``."""
    if ctx is None:
        from gonet.tls.config import client_context

        ctx = client_context()
    return Conn(conn, ctx, False, server_hostname, session)


def server(conn: NetConn, ctx: ssl.SSLContext) -> Conn:
    """The server side of TLS over ``conn`` (Go's ``tls.Server``); the
    handshake runs on first use or ``handshake()``."""
    if ctx.sni_callback is None:
        ctx.sni_callback = _on_sni  # records the name for connection_state()
    return Conn(conn, ctx, True)
