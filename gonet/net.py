"""Net layer: listen, dial, Listener, Conn, PacketConn, addresses, errors.

This is gonet's ``net`` package. It turns addresses into sockets with Go's
defaults (TCP_NODELAY and keep-alive on every TCP connection, SO_REUSEADDR on
listeners, the system's somaxconn as backlog, dual-stack for "tcp" on an empty
host) and wraps each socket in a :class:`gonet.poll.fd.FD`. Everything here
only calls the FD layer and, for host-name lookups, the runtime's thread
hand-off: a lookup never blocks the scheduler.

Errors name the operation and the endpoints, as Go's OpError does::

    read tcp 127.0.0.1:5000->127.0.0.1:4321: i/o timeout
    dial tcp 127.0.0.1:1: connect: connection refused

OS errors keep their Python type (ConnectionRefusedError, ...); gonet's own
are :class:`ClosedError` and :class:`DeadlineExceededError` (a TimeoutError).
Every such error carries ``op``, ``net``, ``source`` and ``addr``.
"""

from __future__ import annotations

import os
import socket
import time
from typing import Any, Union

from gonet.poll.errors import ClosedError, DeadlineExceededError, NetError
from gonet.poll.fd import FD
from gonet.runtime.threadpool import blocking

__all__ = [
    "Addr",
    "TCPAddr",
    "UDPAddr",
    "UnixAddr",
    "Conn",
    "Listener",
    "PacketConn",
    "ClosedError",
    "DeadlineExceededError",
    "NetError",
    "listen",
    "dial",
    "listen_packet",
    "split_host_port",
    "join_host_port",
]

_TCP = ("tcp", "tcp4", "tcp6")
_UDP = ("udp", "udp4", "udp6")
_UNIX = ("unix",)

# Go's defaults for TCP keep-alive (idle and interval, seconds).
_KEEPALIVE_IDLE = 15
_KEEPALIVE_INTERVAL = 15


# -- addresses ----------------------------------------------------------------


def join_host_port(host: str, port: int | str) -> str:
    """"host:port", bracketing IPv6 literals: "[::1]:80"."""
    if ":" in host:
        return f"[{host}]:{port}"
    return f"{host}:{port}"


def split_host_port(hostport: str) -> tuple[str, str]:
    """Split "host:port", "[v6]:port" or ":port" into (host, port), as Go does."""
    if hostport.startswith("["):
        end = hostport.find("]")
        if end < 0:
            raise ValueError(f"address {hostport}: missing ']' in address")
        host, rest = hostport[1:end], hostport[end + 1 :]
        if not rest.startswith(":"):
            raise ValueError(f"address {hostport}: missing port in address")
        port = rest[1:]
    else:
        host, sep, port = hostport.rpartition(":")
        if not sep:
            raise ValueError(f"address {hostport}: missing port in address")
        if ":" in host:
            raise ValueError(f"address {hostport}: too many colons in address")
    if "[" in port or "]" in port:
        raise ValueError(f"address {hostport}: unexpected bracket in address")
    return host, port


class Addr:
    """An endpoint address. ``str(addr)`` prints it the way Go does."""

    __slots__ = ()
    network = ""
    host: str
    port: int | None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"


class TCPAddr(Addr):
    __slots__ = ("host", "port")
    network = "tcp"

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port

    def __str__(self) -> str:
        return join_host_port(self.host, self.port)

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and (self.host, self.port) == (other.host, other.port)  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((self.network, self.host, self.port))

    @classmethod
    def from_sockaddr(cls, sa: Any) -> TCPAddr:
        host = sa[0]
        if host.startswith("::ffff:") and "." in host:
            host = host[7:]  # IPv4-mapped: print as Go does
        return cls(host, sa[1])


class UDPAddr(TCPAddr):
    __slots__ = ()
    network = "udp"


class UnixAddr(Addr):
    __slots__ = ("name",)
    network = "unix"
    port = None

    def __init__(self, name: str) -> None:
        self.name = name

    @property
    def host(self) -> str:  # type: ignore[override]
        return self.name

    def __str__(self) -> str:
        return self.name

    def __eq__(self, other: object) -> bool:
        return isinstance(other, UnixAddr) and other.name == self.name

    def __hash__(self) -> int:
        return hash(("unix", self.name))


def _to_addr(network: str, sa: Any) -> Addr | None:
    if sa is None or sa == "" or sa == b"":
        return UnixAddr("") if network in _UNIX else None
    if network in _UNIX:
        return UnixAddr(sa.decode(errors="replace") if isinstance(sa, bytes) else sa)
    if network in _UDP:
        return UDPAddr.from_sockaddr(sa)
    return TCPAddr.from_sockaddr(sa)


# -- errors -------------------------------------------------------------------


def _op_error(e: BaseException, op: str, net: str, source: Any, addr: Any,
              syscall: str | None = None) -> BaseException:
    """Re-make ``e`` with Go's OpError message; keeps its type.

    ``syscall`` names the call that failed when it is not obvious from ``op``
    ("bind" for listen, "connect" for dial), as Go's os.SyscallError does.
    """
    if not isinstance(e, OSError) or getattr(e, "op", None) is not None:
        return e
    where = f"{source}->{addr}" if source is not None and addr is not None else str(addr or source or "")
    prefix = f"{op} {net} {where}".rstrip()
    if isinstance(e, NetError):
        new: OSError = type(e)(f"{prefix}: {e.reason}")
    elif e.errno is not None:
        detail = e.strerror or os.strerror(e.errno)
        detail = detail[:1].lower() + detail[1:]  # Go's errno strings are lower case
        if syscall is None and op == "dial":
            syscall = "connect"
        if syscall:
            detail = f"{syscall}: {detail}"
        try:
            new = type(e)(f"{prefix}: {detail}")
        except TypeError:
            new = OSError(f"{prefix}: {detail}")
        # Keep the errno for code that checks it; leave strerror unset so that
        # str() is Go's message rather than "[Errno N] ...".
        new.errno = e.errno
    else:
        try:
            new = type(e)(f"{prefix}: {e}")
        except TypeError:
            new = OSError(f"{prefix}: {e}")
    new.op = op  # type: ignore[attr-defined]
    new.net = net  # type: ignore[attr-defined]
    new.source = source  # type: ignore[attr-defined]
    new.addr = addr  # type: ignore[attr-defined]
    new.__cause__ = None
    new.__suppress_context__ = True
    return new


# -- resolution ---------------------------------------------------------------


def _family_for(network: str) -> int:
    if network.endswith("4"):
        return socket.AF_INET
    if network.endswith("6"):
        return socket.AF_INET6
    return socket.AF_UNSPEC


def _parse_port(port: str, network: str) -> int:
    if port == "":
        return 0
    try:
        p = int(port)
    except ValueError:
        try:
            return socket.getservbyname(port, "udp" if network in _UDP else "tcp")
        except OSError:
            raise ValueError(f"address {port}: unknown port") from None
    if not 0 <= p <= 65535:
        raise ValueError(f"address {port}: invalid port")
    return p


def _literal_family(host: str) -> int:
    try:
        socket.inet_pton(socket.AF_INET, host)
        return socket.AF_INET
    except OSError:
        pass
    try:
        socket.inet_pton(socket.AF_INET6, host.split("%", 1)[0])
        return socket.AF_INET6
    except OSError:
        return 0


def _resolve(network: str, address: str, passive: bool) -> list[tuple[int, Any]]:
    """Resolve ``address`` to [(family, sockaddr)], names through the thread pool."""
    host, port_s = split_host_port(address)
    port = _parse_port(port_s, network)
    want = _family_for(network)
    if host == "":
        if passive:
            if want == socket.AF_INET or (want == socket.AF_UNSPEC and not socket.has_ipv6):
                return [(socket.AF_INET, ("0.0.0.0", port))]
            return [(socket.AF_INET6, ("::", port, 0, 0))]
        # Go dials the local system for an empty host.
        if want == socket.AF_INET6:
            return [(socket.AF_INET6, ("::1", port, 0, 0))]
        return [(socket.AF_INET, ("127.0.0.1", port))]
    fam = _literal_family(host)
    if fam == socket.AF_INET:
        if want == socket.AF_INET6:
            raise ValueError(f"address {address}: no suitable address for {network}")
        return [(fam, (host, port))]
    if fam == socket.AF_INET6 and "%" not in host:
        if want == socket.AF_INET:
            raise ValueError(f"address {address}: no suitable address for {network}")
        return [(fam, (host, port, 0, 0))]
    sotype = socket.SOCK_DGRAM if network in _UDP else socket.SOCK_STREAM
    flags = socket.AI_PASSIVE if passive else 0
    infos = blocking(socket.getaddrinfo, host, port, want, sotype, 0, flags)
    out: list[tuple[int, Any]] = []
    seen = set()
    for fam, _t, _p, _c, sa in infos:
        if fam in (socket.AF_INET, socket.AF_INET6) and (fam, sa) not in seen:
            seen.add((fam, sa))
            out.append((fam, sa))
    if not out:
        raise socket.gaierror(socket.EAI_NONAME, "no such host")
    # Go prefers IPv4 first when dialing a name with both families.
    out.sort(key=lambda fs: fs[0] != socket.AF_INET)
    return out


def _somaxconn() -> int:
    try:
        with open("/proc/sys/net/core/somaxconn") as f:
            n = int(f.read().strip())
        return min(n, 65535) if n > 0 else socket.SOMAXCONN
    except (OSError, ValueError):
        return socket.SOMAXCONN


_BACKLOG = _somaxconn()


def _set_tcp_defaults(sock: socket.socket) -> None:
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    if hasattr(socket, "TCP_KEEPIDLE"):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, _KEEPALIVE_IDLE)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, _KEEPALIVE_INTERVAL)


def _new_socket(family: int, sotype: int) -> socket.socket:
    return socket.socket(family, sotype | getattr(socket, "SOCK_CLOEXEC", 0))


# -- Conn -----------------------------------------------------------------------

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
        self._fd.set_deadline(t)

    def set_read_deadline(self, t: Deadline) -> None:
        self._fd.set_read_deadline(t)

    def set_write_deadline(self, t: Deadline) -> None:
        self._fd.set_write_deadline(t)


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
            a = self._laddr = _to_addr(self.network, a)
        return a

    @property
    def remote_addr(self) -> Addr | None:
        a = self._raddr
        if not isinstance(a, Addr):
            a = self._raddr = _to_addr(self.network, a)
        return a

    def _error(self, op: str, e: BaseException) -> BaseException:
        return _op_error(e, op, self.network, self.local_addr, self.remote_addr)

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


class Listener(_Endpoint):
    """A stream listener (TCP or unix). ``accept`` parks until a client connects."""

    __slots__ = ("_addr", "_unlink")

    def __init__(self, fd: FD, network: str, unlink: str | None = None) -> None:
        self._fd = fd
        self.network = network
        self._addr = _to_addr(network, fd.sock.getsockname())
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
            if self.network in _TCP:
                _set_tcp_defaults(sock)
            laddr = sock.getsockname()
        except OSError as e:
            raise _op_error(e, "accept", self.network, None, self._addr) from None
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
        self._laddr = _to_addr(network, fd.sock.getsockname())

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
            raise _op_error(e, "read", self.network, self._laddr, None) from None
        return data, _to_addr(self.network, sa)  # type: ignore[return-value]

    def write_to(self, data: Any, address: Addr | str | tuple) -> int:
        """Send one datagram to ``address`` ("host:port", an Addr, or a sockaddr)."""
        if isinstance(address, Addr):
            sa: Any = (address.host, address.port)
        elif isinstance(address, str):
            fam_sa = _resolve(self.network, address, passive=False)
            sa = _match_family(fam_sa, self._fd.family)
        else:
            sa = address
        if self._fd.family == socket.AF_INET6 and len(sa) == 2 and _literal_family(sa[0]) == socket.AF_INET:
            sa = ("::ffff:" + sa[0], sa[1], 0, 0)
        try:
            return self._fd.sendto(data, sa)
        except OSError as e:
            raise _op_error(e, "write", self.network, self._laddr, address) from None



def _match_family(fam_sa: list[tuple[int, Any]], family: int) -> Any:
    for fam, sa in fam_sa:
        if fam == family:
            return sa
    fam, sa = fam_sa[0]
    if family == socket.AF_INET6 and fam == socket.AF_INET:
        return ("::ffff:" + sa[0], sa[1], 0, 0)
    return sa


# -- listen / dial ------------------------------------------------------------------


def _check_network(network: str, allowed: tuple[str, ...], op: str) -> None:
    if network not in allowed:
        raise ValueError(f"{op} {network}: unknown network {network!r} (want one of {', '.join(allowed)})")


def listen(network: str, address: str) -> Listener:
    """Listen on ``address``: "tcp"/"tcp4"/"tcp6" with "host:port" (":0" picks a
    port, "[::1]:0" for IPv6), or "unix" with a filesystem path."""
    _check_network(network, _TCP + _UNIX, "listen")
    if network in _UNIX:
        sock = _new_socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.bind(address)
            sock.listen(_BACKLOG)
            fd = FD(sock)
        except OSError as e:
            sock.close()
            raise _op_error(e, "listen", network, None, address) from None
        return Listener(fd, network, unlink=address if address and not address.startswith("\0") else None)
    try:
        family, sa = _resolve(network, address, passive=True)[0]
    except (OSError, ValueError) as e:
        if isinstance(e, ValueError):
            raise ValueError(f"listen {network} {address}: {e}") from None
        raise _op_error(e, "listen", network, None, address) from None
    sock = _new_socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6 and hasattr(socket, "IPV6_V6ONLY"):
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1 if network == "tcp6" else 0)
        sock.bind(sa)
    except OSError as e:
        sock.close()
        raise _op_error(e, "listen", network, None, address, "bind") from None
    try:
        sock.listen(_BACKLOG)
        fd = FD(sock)
    except OSError as e:
        sock.close()
        raise _op_error(e, "listen", network, None, address) from None
    return Listener(fd, network)


def listen_packet(network: str, address: str) -> PacketConn:
    """Open a datagram endpoint: "udp"/"udp4"/"udp6" with "host:port"."""
    _check_network(network, _UDP, "listen")
    try:
        family, sa = _resolve(network, address, passive=True)[0]
    except ValueError as e:
        raise ValueError(f"listen {network} {address}: {e}") from None
    except OSError as e:
        raise _op_error(e, "listen", network, None, address) from None
    sock = _new_socket(family, socket.SOCK_DGRAM)
    try:
        if family == socket.AF_INET6 and hasattr(socket, "IPV6_V6ONLY"):
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1 if network == "udp6" else 0)
        sock.bind(sa)
        fd = FD(sock)
    except OSError as e:
        sock.close()
        raise _op_error(e, "listen", network, None, address) from None
    return PacketConn(fd, network)


def dial(network: str, address: str, timeout: float | None = None) -> Conn:
    """Connect to ``address`` ("host:port" or a unix path) and return a Conn.

    Host names are resolved on the runtime's thread pool; each resolved
    address is tried in turn, sharing the ``timeout`` (seconds) between them.
    """
    _check_network(network, _TCP + _UDP + _UNIX, "dial")
    deadline = time.monotonic() + timeout if timeout is not None else None
    if network in _UNIX:
        sotype = socket.SOCK_STREAM
        targets: list[tuple[int, Any]] = [(socket.AF_UNIX, address)]
    else:
        sotype = socket.SOCK_DGRAM if network in _UDP else socket.SOCK_STREAM
        try:
            targets = _resolve(network, address, passive=False)
        except ValueError as e:
            raise ValueError(f"dial {network} {address}: {e}") from None
        except OSError as e:
            raise _op_error(e, "dial", network, None, address) from None
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
        sock = _new_socket(family, sotype)
        fd = FD(sock)
        try:
            if sub_deadline is not None:
                fd.set_write_deadline(sub_deadline)
            fd.connect(sa)
            fd.set_write_deadline(None)
            if network in _TCP:
                _set_tcp_defaults(sock)
            laddr = sock.getsockname()
            raddr = sock.getpeername() if sotype == socket.SOCK_STREAM else sa
        except OSError as e:
            fd.close()
            if first_err is None:
                first_err = _op_error(e, "dial", network, None, _to_addr(network, sa))
            continue
        return Conn(fd, network, laddr, raddr)
    assert first_err is not None
    if isinstance(first_err, DeadlineExceededError) and first_err.op is None:
        first_err = _op_error(first_err, "dial", network, None, address)
    raise first_err

