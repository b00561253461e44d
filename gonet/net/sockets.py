"""Net layer: sockets with Go's defaults, before any FD exists.

What every listening or connected socket gets, as Go's ``net`` sets it:
TCP_NODELAY and keep-alive (15 s idle, 15 s interval) on every TCP
connection, SO_REUSEADDR and the system's somaxconn as backlog on listeners,
dual-stack for "tcp" on an empty host, close-on-exec everywhere.

:func:`listen_socket` makes a bound, listening socket and nothing more: no
scheduler, no poller. A process supervisor that opens sockets before it
forks its workers uses it (an epoll instance must not cross a fork); the
workers then take the sockets over with ``file_listener``. Its errors have
Go's wording ("listen tcp 127.0.0.1:80: bind: address already in use").
"""

from __future__ import annotations

import socket
from typing import Any

from gonet.net.addr import TCP, UDP, UNIX, Lookup, resolve
from gonet.net.errors import op_error
from gonet.poll.fd import PlainSocket
from gonet.runtime.threadpool import blocking

__all__ = ["BACKLOG", "listen_socket", "network_of", "new_socket", "set_tcp_defaults",
           "lookup_in_pool"]

_KEEPALIVE_IDLE = 15
_KEEPALIVE_INTERVAL = 15


def _somaxconn() -> int:
    try:
        with open("/proc/sys/net/core/somaxconn") as f:
            n = int(f.read().strip())
        return min(n, 65535) if n > 0 else socket.SOMAXCONN
    except (OSError, ValueError):
        return socket.SOMAXCONN


#: The listen backlog: the system's somaxconn, as Go uses.
BACKLOG = _somaxconn()


def lookup_in_pool(*args: Any) -> list:
    """``socket.getaddrinfo`` on the runtime's thread pool: a goroutine's lookup."""
    return blocking(socket.getaddrinfo, *args)


def set_tcp_defaults(sock: socket.socket) -> None:
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    if hasattr(socket, "TCP_KEEPIDLE"):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, _KEEPALIVE_IDLE)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, _KEEPALIVE_INTERVAL)


def new_socket(family: int, sotype: int) -> socket.socket:
    return PlainSocket(family, sotype | getattr(socket, "SOCK_CLOEXEC", 0))


def check_network(network: str, allowed: tuple[str, ...], op: str) -> None:
    if network not in allowed:
        raise ValueError(f"{op} {network}: unknown network {network!r} "
                         f"(want one of {', '.join(allowed)})")


def network_of(sock: socket.socket) -> str:
    """Go's network name for an existing socket: "tcp", "udp", "unix",
    "unixgram" or "unixpacket"."""
    if sock.family == socket.AF_UNIX:
        if sock.type == socket.SOCK_DGRAM:
            return "unixgram"
        if sock.type == getattr(socket, "SOCK_SEQPACKET", -1):
            return "unixpacket"
        return "unix"
    if sock.family not in (socket.AF_INET, socket.AF_INET6):
        raise ValueError(f"socket family {sock.family!r} is not supported")
    return "udp" if sock.type == socket.SOCK_DGRAM else "tcp"


def _resolve_passive(network: str, address: str, lookup: Lookup) -> tuple[int, Any]:
    """The (family, sockaddr) to bind for ``address``; errors worded for listen."""
    try:
        return resolve(network, address, passive=True, lookup=lookup)[0]
    except ValueError as e:
        raise ValueError(f"listen {network} {address}: {e}") from None
    except OSError as e:
        raise op_error(e, "listen", network, None, address) from None


def listen_socket(network: str, address: str, *, reuse_port: bool = False,
                  lookup: Lookup = socket.getaddrinfo) -> socket.socket:
    """A blocking socket bound to ``address`` and listening ("tcp", "tcp4",
    "tcp6" with "host:port"; "unix" with a path). ``reuse_port`` sets
    SO_REUSEPORT (raises where the platform has none). Host names are looked
    up with ``lookup`` (here on the calling thread).
    """
    check_network(network, TCP + UNIX, "listen")
    if network in UNIX:
        sock = new_socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.bind(address)
        except OSError as e:
            sock.close()
            raise op_error(e, "listen", network, None, address, "bind") from None
        family: int = socket.AF_UNIX
    else:
        family, sa = _resolve_passive(network, address, lookup)
        sock = new_socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if reuse_port:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            if family == socket.AF_INET6 and hasattr(socket, "IPV6_V6ONLY"):
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY,
                                1 if network == "tcp6" else 0)
            sock.bind(sa)
        except OSError as e:
            sock.close()
            raise op_error(e, "listen", network, None, address, "bind") from None
    try:
        sock.listen(BACKLOG)
    except OSError as e:
        sock.close()
        raise op_error(e, "listen", network, None, address) from None
    return sock


def datagram_socket(network: str, address: str, lookup: Lookup) -> socket.socket:
    """A blocking UDP socket bound to ``address``."""
    check_network(network, UDP, "listen")
    family, sa = _resolve_passive(network, address, lookup)
    sock = new_socket(family, socket.SOCK_DGRAM)
    try:
        if family == socket.AF_INET6 and hasattr(socket, "IPV6_V6ONLY"):
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1 if network == "udp6" else 0)
        sock.bind(sa)
    except OSError as e:
        sock.close()
        raise op_error(e, "listen", network, None, address, "bind") from None
    return sock
