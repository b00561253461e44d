"""Net layer: listen, listen_packet, dial, and taking over existing sockets.

Go's ``net.Listen``, ``ListenPacket``, ``Dial``, ``FileListener``,
``FileConn`` and ``FilePacketConn``. Each makes (or takes) a socket, wraps it
in an FD registered with this thread's netpoller, and returns the endpoint.
Host names are looked up on the runtime's thread pool, so a lookup never
blocks the scheduler; each address a name resolves to is tried in turn.
"""

from __future__ import annotations

import errno
import os
import socket
import time
from typing import Any

from gonet.context import Context, after_func
from gonet.net.addr import TCP, UDP, UNIX, resolve, to_addr
from gonet.net.conn import Conn, Listener, PacketConn
from gonet.net.errors import CanceledError, DeadlineExceededError, op_error
from gonet.net.sockets import (
    check_network,
    datagram_socket,
    listen_socket,
    lookup_in_pool,
    network_of,
    new_socket,
    set_tcp_defaults,
)
from gonet.poll.fd import FD, PlainSocket

__all__ = ["listen", "listen_packet", "dial", "file_listener", "file_conn", "file_packet_conn"]


def listen(network: str, address: str) -> Listener:
    """Listen on ``address``: "tcp"/"tcp4"/"tcp6" with "host:port" (":0" picks a
    port, "[::1]:0" for IPv6), or "unix" with a filesystem path (removed
    again when the listener is closed)."""
    sock = listen_socket(network, address, lookup=lookup_in_pool)
    try:
        fd = FD(sock)
    except OSError as e:
        sock.close()
        raise op_error(e, "listen", network, None, address) from None
    unlink = None
    if network in UNIX and address and not address.startswith("\0"):
        unlink = address
    return Listener(fd, network, unlink=unlink)


def listen_packet(network: str, address: str) -> PacketConn:
    """Open a datagram endpoint: "udp"/"udp4"/"udp6" with "host:port"."""
    sock = datagram_socket(network, address, lookup_in_pool)
    try:
        fd = FD(sock)
    except OSError as e:
        sock.close()
        raise op_error(e, "listen", network, None, address) from None
    return PacketConn(fd, network)


def dial(network: str, address: str, timeout: float | None = None, *,
         context: Context | None = None) -> Conn:
    """Connect to ``address`` ("host:port" or a unix path) and return a Conn.

    Host names are resolved on the runtime's thread pool; each resolved
    address is tried in turn, sharing the ``timeout`` (seconds) between them.
    With ``context`` (Go's ``DialContext``), its deadline bounds the dial too,
    and cancelling it aborts a connect in progress at once ("dial tcp ...:
    operation was canceled"); a host name lookup already running on the
    thread pool is waited for.
    """
    check_network(network, TCP + UDP + UNIX, "dial")
    deadline = time.monotonic() + timeout if timeout is not None else None
    if context is not None:
        _check_context(context, network, address)
        cd = context.deadline()
        if cd is not None and (deadline is None or cd < deadline):
            deadline = cd
    if network in UNIX:
        sotype = socket.SOCK_STREAM
        targets: list[tuple[int, Any]] = [(socket.AF_UNIX, address)]
    else:
        sotype = socket.SOCK_DGRAM if network in UDP else socket.SOCK_STREAM
        try:
            targets = resolve(network, address, passive=False, lookup=lookup_in_pool)
        except ValueError as e:
            raise ValueError(f"dial {network} {address}: {e}") from None
        except OSError as e:
            raise op_error(e, "dial", network, None, address) from None
    first_err: BaseException | None = None
    for i, (family, sa) in enumerate(targets):
        sub_deadline = deadline
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                first_err = first_err or DeadlineExceededError()
                break
            share = left / (len(targets) - i)
            sub_deadline = time.monotonic() + (left if share < 2.0 else share)
        if context is not None:
            _check_context(context, network, address)
        sock = new_socket(family, sotype)
        fd = FD(sock)
        stop = None
        try:
            if sub_deadline is not None:
                fd.set_write_deadline(sub_deadline)
            if context is not None:
                stop = after_func(context, lambda fd=fd: _expire_write(fd))
            fd.connect(sa)
            if stop is not None:
                stop()
                stop = None
            fd.set_write_deadline(None)
            if network in TCP:
                set_tcp_defaults(sock)
            laddr = sock.getsockname()
            raddr = sock.getpeername() if sotype == socket.SOCK_STREAM else sa
        except OSError as e:
            if stop is not None:
                stop()
            fd.close()
            if context is not None and context.err() is not None:
                _check_context(context, network, to_addr(network, sa))
            if first_err is None:
                first_err = op_error(e, "dial", network, None, to_addr(network, sa))
            continue
        return Conn(fd, network, laddr, raddr)
    assert first_err is not None
    if isinstance(first_err, DeadlineExceededError) and first_err.op is None:
        first_err = op_error(first_err, "dial", network, None, address)
    raise first_err


def _expire_write(fd: FD) -> None:
    # after_func's goroutine: wake the connect parked on fd (gone if closed)
    if not fd.closed:
        fd.set_write_deadline(0.0)


def _check_context(ctx: Context, network: str, address: Any) -> None:
    """Raise Go's mapping of a done context: cancelled -> "operation was
    canceled", deadline -> "i/o timeout"."""
    err = ctx.err()
    if err is None:
        return
    e: OSError = DeadlineExceededError() if isinstance(err, TimeoutError) else CanceledError()
    raise op_error(e, "dial", network, None, address) from None


# -- existing sockets (Go's FileListener, FileConn, FilePacketConn) ---------------------


def _dup(sock: socket.socket | int, op: str) -> socket.socket:
    """A duplicate of ``sock`` (a socket or an fd number) that gonet will own;
    the caller keeps, and closes, the original, as with Go's File* functions."""
    try:
        fd = sock if isinstance(sock, int) else sock.fileno()
        if fd < 0:
            raise OSError(errno.EBADF, os.strerror(errno.EBADF))
        return _dup_fd(fd)
    except OSError as e:
        raise op_error(e, op, "fd", None, sock if isinstance(sock, int) else sock.fileno()) from None


def _dup_fd(fd: int) -> socket.socket:
    probe = PlainSocket(fileno=fd)  # adopts fd: detach it again below
    try:
        return probe.dup()
    finally:
        probe.detach()


def file_listener(sock: socket.socket | int) -> Listener:
    """A Listener on a copy of an already listening stream socket (or fd), such
    as one inherited from a parent process or passed by systemd."""
    s = _dup(sock, "file_listener")
    try:
        network = network_of(s)
        if s.type != socket.SOCK_STREAM:
            raise ValueError(f"file_listener: fd {s.fileno()} is not a stream socket")
        if not s.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN):
            raise ValueError(f"file_listener: fd {s.fileno()} is not listening")
        fd = FD(s)
    except BaseException:
        s.close()
        raise
    return Listener(fd, network)


def file_conn(sock: socket.socket | int) -> Conn:
    """A Conn on a copy of a connected socket (or fd): a stream socket, a
    socketpair end, or a connected datagram socket."""
    s = _dup(sock, "file_conn")
    try:
        network = network_of(s)
        laddr = s.getsockname()
        try:
            raddr = s.getpeername()
        except OSError:
            if s.type == socket.SOCK_STREAM:
                raise
            raddr = None  # an unconnected datagram socket: use file_packet_conn
        if s.type == socket.SOCK_STREAM and network == "tcp":
            set_tcp_defaults(s)
        fd = FD(s)
    except BaseException:
        s.close()
        raise
    return Conn(fd, network, laddr, raddr)


def file_packet_conn(sock: socket.socket | int) -> PacketConn:
    """A PacketConn on a copy of a datagram socket (or fd)."""
    s = _dup(sock, "file_packet_conn")
    try:
        network = network_of(s)
        if s.type != socket.SOCK_DGRAM:
            raise ValueError(f"file_packet_conn: fd {s.fileno()} is not a datagram socket")
        fd = FD(s)
    except BaseException:
        s.close()
        raise
    return PacketConn(fd, network)
