"""Net layer: addresses, and turning them into socket addresses.

Go's ``net.Addr`` family (:class:`TCPAddr`, :class:`UDPAddr`,
:class:`UnixAddr`; ``str()`` prints them as Go does), ``SplitHostPort`` /
``JoinHostPort``, and the resolver the listen and dial functions share: IP
literals are parsed here, host names are looked up with ``getaddrinfo``
through a caller-chosen lookup (the runtime's thread pool for goroutines, a
plain call for code with no scheduler, such as a process supervisor).
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

__all__ = [
    "Addr",
    "TCPAddr",
    "UDPAddr",
    "UnixAddr",
    "join_host_port",
    "split_host_port",
    "TCP",
    "UDP",
    "UNIX",
]

TCP = ("tcp", "tcp4", "tcp6")
UDP = ("udp", "udp4", "udp6")
UNIX = ("unix",)

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


def to_addr(network: str, sa: Any) -> Addr | None:
    """The Addr for a socket address of ``network`` (None for none)."""
    unix = network.startswith("unix")
    if sa is None or sa == "" or sa == b"":
        return UnixAddr("") if unix else None
    if unix:
        return UnixAddr(sa.decode(errors="replace") if isinstance(sa, bytes) else sa)
    if network in UDP:
        return UDPAddr.from_sockaddr(sa)
    return TCPAddr.from_sockaddr(sa)


def family_for(network: str) -> int:
    if network.endswith("4"):
        return socket.AF_INET
    if network.endswith("6"):
        return socket.AF_INET6
    return socket.AF_UNSPEC


def parse_port(port: str, network: str) -> int:
    if port == "":
        return 0
    try:
        p = int(port)
    except ValueError:
        try:
            return socket.getservbyname(port, "udp" if network in UDP else "tcp")
        except OSError:
            raise ValueError(f"address {port}: unknown port") from None
    if not 0 <= p <= 65535:
        raise ValueError(f"address {port}: invalid port")
    return p


def literal_family(host: str) -> int:
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


_ipv6: list[bool] = []


def _ipv6_works() -> bool:
    """Can this host open IPv6 sockets? (Python may be built with IPv6 on a
    kernel that has it off.) Asked once."""
    if not _ipv6:
        ok = socket.has_ipv6
        if ok:
            try:
                socket.socket(socket.AF_INET6, socket.SOCK_STREAM).close()
            except OSError:
                ok = False
        _ipv6.append(ok)
    return _ipv6[0]


#: getaddrinfo's signature: how :func:`resolve` looks up a host name.
Lookup = Callable[..., list]


def resolve(network: str, address: str, passive: bool,
            lookup: Lookup = socket.getaddrinfo) -> list[tuple[int, Any]]:
    """Resolve ``address`` to [(family, sockaddr)], IPv4 first.

    IP literals and empty hosts are handled here; a host name is passed to
    ``lookup`` (``socket.getaddrinfo``'s signature), which a goroutine points
    at the runtime's thread pool so that the lookup never blocks the thread.
    """
    host, port_s = split_host_port(address)
    port = parse_port(port_s, network)
    want = family_for(network)
    if host == "":
        if passive:
            if want == socket.AF_INET or (want == socket.AF_UNSPEC and not _ipv6_works()):
                return [(socket.AF_INET, ("0.0.0.0", port))]
            return [(socket.AF_INET6, ("::", port, 0, 0))]
        # Go dials the local system for an empty host.
        if want == socket.AF_INET6:
            return [(socket.AF_INET6, ("::1", port, 0, 0))]
        return [(socket.AF_INET, ("127.0.0.1", port))]
    fam = literal_family(host)
    if fam == socket.AF_INET:
        if want == socket.AF_INET6:
            raise ValueError(f"address {address}: no suitable address for {network}")
        return [(fam, (host, port))]
    if fam == socket.AF_INET6 and "%" not in host:
        if want == socket.AF_INET:
            raise ValueError(f"address {address}: no suitable address for {network}")
        return [(fam, (host, port, 0, 0))]
    sotype = socket.SOCK_DGRAM if network in UDP else socket.SOCK_STREAM
    flags = socket.AI_PASSIVE if passive else 0
    infos = lookup(host, port, want, sotype, 0, flags)
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
