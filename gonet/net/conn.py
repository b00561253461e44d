"""Net layer: the endpoints: Conn, Listener, PacketConn.

Each wraps one :class:`gonet.poll.FD` and adds what Go's ``net`` adds: the
addresses, and errors renamed after the operation and the endpoints. Every
call parks the calling goroutine, never the thread. They share two small
bases: :class:`_Endpoint` (close, fileno, ``with``) and
:class:`_DeadlineEndpoint` (the deadline setters).
"""

from __future__ import annotations

import os
import socket
from typing import Any, Union

from gonet.net.addr import TCP, Addr, literal_family, resolve, to_addr
from gonet.net.errors import ClosedError, op_error
from gonet.net.sockets import lookup_in_pool, set_tcp_defaults
from gonet.poll.fd import FD
from gonet.runtime.netpoll import MODE_R, MODE_RW, MODE_W

__all__ = ["Conn", "Listener", "PacketConn", "RawConn", "Deadline"]

Deadline = Union[float, None]


class _Endpoint:
    """What Conn, Listener and PacketConn share: an FD, close, fileno, ``with``."""

    __slots__ = ("_fd", "network", "__weakref__")

    _fd: FD

    def close(self) -> None:
        """Close it; goroutines parked on it raise ClosedError."""
        self._fd.close()

    @property
    def closed(self) -> bool:
        return self._fd.closed

    def fileno(self) -> int:
        return self._fd.sysfd

    def __enter__(self):  # returns the subclass instance
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class _DeadlineEndpoint(_Endpoint):
    """Read and write deadlines, for Conn and PacketConn."""

    __slots__ = ()

    def set_deadline(self, t: Deadline) -> None:
        """Deadline (absolute ``time.monotonic()``; None clears) for reads and writes.

        Applies to operations in progress too: a read already parked wakes at
        the new deadline (at once if it is in the past).
        """
        self._fd.pd.set_deadline(t, MODE_RW)

    # Straight to the FD's pollDesc (servers set a deadline per request).
    def set_read_deadline(self, t: Deadline) -> None:
        self._fd.pd.set_deadline(t, MODE_R)

    def set_write_deadline(self, t: Deadline) -> None:
        self._fd.pd.set_deadline(t, MODE_W)


class Conn(_DeadlineEndpoint):
    """A stream connection (TCP or unix), or a connected UDP socket.

    Blocking-style: each call parks the calling goroutine, never the thread.
    Only one goroutine reads and one writes at a time; others wait their turn.
    """

    __slots__ = ("_laddr", "_raddr")

    def __init__(self, fd: FD, network: str, laddr: Any, raddr: Any) -> None:
        self._fd = fd
        self.network = network
        self._laddr = laddr
        self._raddr = raddr

    def __repr__(self) -> str:
        state = " closed" if self._fd.closed else ""
        return f"<gonet.Conn {self.network} {self.local_addr}->{self.remote_addr}{state}>"

    @property
    def local_addr(self) -> Addr | None:
        a = self._laddr
        if not isinstance(a, Addr):
            a = self._laddr = to_addr(self.network, a)
        return a

    @property
    def remote_addr(self) -> Addr | None:
        a = self._raddr
        if not isinstance(a, Addr):
            a = self._raddr = to_addr(self.network, a)
        return a

    def _error(self, op: str, e: BaseException) -> BaseException:
        return op_error(e, op, self.network, self.local_addr, self.remote_addr)

    def read(self, n: int = 65536) -> bytes:
        """Read up to ``n`` bytes; returns b"" at end of stream."""
        try:
            return self._fd.read(n)
        except OSError as e:
            raise self._error("read", e) from None

    def read_into(self, buffer: Any, nbytes: int = 0) -> int:
        """Read into ``buffer``; returns the count, 0 at end of stream."""
        try:
            return self._fd.read_into(buffer, nbytes)
        except OSError as e:
            raise self._error("read", e) from None

    def write(self, data: Any) -> int:
        """Write all of ``data``; returns its length, or raises."""
        try:
            return self._fd.write(data)
        except OSError as e:
            raise self._error("write", e) from None

    def sendfile(self, file: Any, offset: int = 0, count: int | None = None) -> int:
        """Send part of a file with zero copies (sendfile(2)); returns bytes sent."""
        try:
            return self._fd.sendfile(file, offset, count)
        except OSError as e:
            raise self._error("sendfile", e) from None

    def read_later(self, fn: Any, *args: Any) -> Any:
        """Start ``fn(*args)`` in a new goroutine when the connection has
        something to read (data, EOF, an error), is closed, or passes its read
        deadline; return that goroutine.

        For servers that hold many idle connections: instead of a goroutine
        parked in ``read`` (several KB of stack each), the connection waits
        in the poller alone, at a few hundred bytes. ``fn`` then calls
        ``read`` as usual and gets the data or the error.
        """
        return self._fd.read_later(fn, args, f"read_later {self.remote_addr}")

    def readable_now(self) -> bool:
        """True when a read would return at once (bytes, end of stream, or an
        error) instead of parking; never parks. A client keeps a pooled
        keep-alive connection only while this is False: a server that
        closed it, or sent anything unasked, makes it True."""
        return self._fd.readable_now()

    def close_write(self) -> None:
        """Shut down the writing side (the peer reads EOF); reading goes on."""
        try:
            self._fd.shutdown(socket.SHUT_WR)
        except OSError as e:
            raise self._error("close", e) from None

    def close_read(self) -> None:
        """Shut down the reading side."""
        try:
            self._fd.shutdown(socket.SHUT_RD)
        except OSError as e:
            raise self._error("close", e) from None

    def set_no_delay(self, on: bool = True) -> None:
        self._sockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, int(on))

    def set_keep_alive(self, on: bool = True) -> None:
        self._sockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, int(on))

    def set_linger(self, sec: int | None) -> None:
        """None: default (background close); 0: reset on close; n: wait n seconds."""
        import struct

        val = struct.pack("ii", 0, 0) if sec is None else struct.pack("ii", 1, int(sec))
        self._sockopt(socket.SOL_SOCKET, socket.SO_LINGER, val)

    def _sockopt(self, level: int, opt: int, value: Any) -> None:
        try:
            self._fd.setsockopt(level, opt, value)
        except OSError as e:
            raise self._error("set", e) from None

    def detach(self) -> socket.socket:
        """Take the socket away from the poller (it stays open); the Conn is done."""
        return self._fd.detach_socket()

    def syscall_conn(self) -> RawConn:
        """The raw connection underneath (Go's ``SyscallConn``), for a library
        that does its own reads and writes on the fd (``gonet.tls``)."""
        return RawConn(self._fd)


class RawConn:
    """Go's ``syscall.RawConn`` for a Conn: run a library's own I/O on the fd
    under the Conn's locks, deadlines and parking.

    ``read(f, arg, want_read, want_write)`` calls ``f(arg)`` under the read
    lock and returns its result; while ``f`` raises ``want_read`` (an
    exception class: its read(2) failed with EAGAIN) the goroutine parks until
    the fd is readable, while it raises ``want_write`` until it is writable,
    and ``f`` is called again. ``write`` is the same under the write lock.
    (Go's ``f`` returns a done flag; here it returns its result and raises to
    wait, which costs no closure per call.) ``f`` is never called once the
    Conn is closed. Errors of the wait itself are the bare
    ``ClosedError`` / ``DeadlineExceededError``; the caller names the
    operation (``net.errors.op_error``).

    ``socket`` is the Conn's socket object (non-blocking), for a library that
    drives the fd through it, such as ``ssl``; use it only inside ``f`` or
    ``control``, and never close it or change its blocking mode.
    """

    __slots__ = ("read", "write", "control", "socket", "_fd")

    def __init__(self, fd: FD) -> None:
        self._fd = fd
        self.read = fd.raw_read
        self.write = fd.raw_write
        #: ``control(f)``: ``f(fd)`` with the fd kept open meanwhile; its result.
        self.control = fd.raw_control
        self.socket = fd.sock

    def read_later(self, fn: Any, args: tuple = (), name: str | None = None) -> Any:
        """Start ``fn(*args)`` in a new goroutine once the fd is readable, closed
        or past its read deadline (``Conn.read_later``, for the library's own Conn)."""
        return self._fd.read_later(fn, args, name)


class Listener(_Endpoint):
    """A stream listener (TCP or unix). ``accept`` parks until a client connects."""

    __slots__ = ("_addr", "_unlink")

    def __init__(self, fd: FD, network: str, unlink: str | None = None) -> None:
        self._fd = fd
        self.network = network
        self._addr = to_addr(network, fd.sock.getsockname())
        self._unlink = unlink

    def __repr__(self) -> str:
        return f"<gonet.Listener {self.network} {self._addr}>"

    @property
    def addr(self) -> Addr:
        return self._addr

    def accept(self) -> Conn:
        """Wait for and return the next connection."""
        try:
            sock, raddr = self._fd.accept()
            fd = FD(sock)
            if self.network in TCP:
                set_tcp_defaults(sock)
            laddr = sock.getsockname()
        except OSError as e:
            raise op_error(e, "accept", self.network, None, self._addr) from None
        return Conn(fd, self.network, laddr, raddr)

    def close(self) -> None:
        """Stop listening; a goroutine parked in accept raises ClosedError."""
        self._fd.close()
        if self._unlink:
            try:
                os.unlink(self._unlink)
            except OSError:
                pass
            self._unlink = None

    def set_deadline(self, t: Deadline) -> None:
        """Deadline for accept (absolute monotonic time, None to clear)."""
        self._fd.set_read_deadline(t)

    def __iter__(self):
        """Accept connections until the listener is closed."""
        while True:
            try:
                yield self.accept()
            except ClosedError:
                return


class PacketConn(_DeadlineEndpoint):
    """A datagram endpoint (UDP): ``read_from`` / ``write_to`` with deadlines."""

    __slots__ = ("_laddr",)

    def __init__(self, fd: FD, network: str) -> None:
        self._fd = fd
        self.network = network
        self._laddr = to_addr(network, fd.sock.getsockname())

    def __repr__(self) -> str:
        return f"<gonet.PacketConn {self.network} {self._laddr}>"

    @property
    def local_addr(self) -> Addr | None:
        return self._laddr

    def read_from(self, n: int = 65536) -> tuple[bytes, Addr]:
        """Receive one datagram (at most ``n`` bytes) and the sender's address."""
        try:
            data, sa = self._fd.recvfrom(n)
        except OSError as e:
            raise op_error(e, "read", self.network, self._laddr, None) from None
        return data, to_addr(self.network, sa)  # type: ignore[return-value]

    def write_to(self, data: Any, address: Addr | str | tuple) -> int:
        """Send one datagram to ``address`` ("host:port", an Addr, or a sockaddr)."""
        if isinstance(address, Addr):
            sa: Any = (address.host, address.port)
        elif isinstance(address, str):
            fam_sa = resolve(self.network, address, passive=False, lookup=lookup_in_pool)
            sa = _match_family(fam_sa, self._fd.family)
        else:
            sa = address
        if self._fd.family == socket.AF_INET6 and len(sa) == 2 and literal_family(sa[0]) == socket.AF_INET:
            sa = ("::ffff:" + sa[0], sa[1], 0, 0)
        try:
            return self._fd.sendto(data, sa)
        except OSError as e:
            raise op_error(e, "write", self.network, self._laddr, address) from None



def _match_family(fam_sa: list[tuple[int, Any]], family: int) -> Any:
    for fam, sa in fam_sa:
        if fam == family:
            return sa
    fam, sa = fam_sa[0]
    if family == socket.AF_INET6 and fam == socket.AF_INET:
        return ("::ffff:" + sa[0], sa[1], 0, 0)
    return sa
