"""Serve layer: ``--bind`` values and the listening sockets the master opens.

The master binds every listening socket before the first worker exists, so
a bind error fails at once and a port of 0 is chosen only once. For TCP with
SO_REUSEPORT it opens one socket per worker *slot*, all bound to the same
address, and the kernel spreads new connections over them; otherwise (unix
sockets, no SO_REUSEPORT, ``reuse_port=False``) all slots share one socket,
and their workers take turns accepting from it. A worker is forked and takes
its slot's sockets over with ``gonet.net.file_listener``.

The sockets themselves come from the net layer (``net.listen_socket``: Go's
defaults and Go's error wording, and no scheduler, so no epoll instance is
shared across fork); this module adds the policy of a process supervisor:
one socket per slot, refusing to join another server's SO_REUSEPORT group,
and removing a unix socket file a dead server left behind.
"""

from __future__ import annotations

import contextlib
import os
import socket
from dataclasses import dataclass

from gonet.net import join_host_port, listen_socket, split_host_port
from gonet.net.addr import to_addr

__all__ = ["Bind", "ListenSet", "parse_bind"]


@dataclass
class Bind:
    """One ``--bind`` value: ``host:port``, ``[v6]:port``, ``:port`` or ``unix:/path``,
    optionally after ``https://`` (TLS on this bind) or ``http://`` (plain
    even when ``--certfile`` is given)."""

    spec: str
    network: str  # "tcp" or "unix"
    host: str = ""
    port: int = 0
    path: str = ""
    tls: bool | None = None  # None: TLS when --certfile is given

    @property
    def address(self) -> str:
        """The address as the net layer takes it: "host:port" or the path."""
        return self.path if self.network == "unix" else join_host_port(self.host, self.port)


def parse_bind(spec: str) -> Bind:
    """Parse a ``--bind`` value; raises ValueError naming the bad value."""
    for scheme, tls in (("https://", True), ("http://", False)):
        if spec.startswith(scheme):
            b = parse_bind(spec[len(scheme):])
            b.spec = spec
            b.tls = tls
            return b
    if spec.startswith("unix:"):
        path = spec[5:]
        if not path:
            raise ValueError(f"bind {spec!r}: empty unix socket path")
        return Bind(spec, "unix", path=path)
    try:
        host, port = split_host_port(spec)
    except ValueError as e:
        raise ValueError(f"bind {spec!r}: {e} (want HOST:PORT, [V6]:PORT or unix:PATH)") from None
    if not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"bind {spec!r}: invalid port {port!r}")
    return Bind(spec, "tcp", host=host, port=int(port))


class _Bound:
    """The sockets of one bind: one per slot (SO_REUSEPORT) or one shared."""

    def __init__(self, bind: Bind, socks: list[socket.socket], url: str, reuse_port: bool) -> None:
        self.bind = bind
        self.socks = socks
        self.url = url
        self.reuse_port = reuse_port

    def for_slot(self, slot: int) -> socket.socket:
        return self.socks[slot % len(self.socks)]


class ListenSet:
    """Every listening socket of the server, opened by the master.

    ``reuse_port``: open one SO_REUSEPORT socket per slot for TCP binds where
    the platform allows it; otherwise (or for unix binds) one shared socket.
    """

    def __init__(self, binds: list[Bind], slots: int, reuse_port: bool = True) -> None:
        self.slots = slots
        self.bound: list[_Bound] = []
        try:
            for b in binds:
                self.bound.append(self._open(b, slots, reuse_port))
        except BaseException:
            self.close()
            raise

    @property
    def urls(self) -> list[str]:
        return [b.url for b in self.bound]

    @property
    def reuse_port(self) -> bool:
        """True when at least one bind has a SO_REUSEPORT socket per slot."""
        return any(b.reuse_port for b in self.bound)

    def for_slot(self, slot: int) -> list[socket.socket]:
        return [b.for_slot(slot) for b in self.bound]

    def tls_addresses(self) -> set[str]:
        """The addresses (as ``str(listener.addr)`` gives them) of the TLS binds."""
        out = set()
        for b in self.bound:
            if b.bind.tls:
                for s in b.socks:
                    out.add(str(to_addr(b.bind.network, s.getsockname())))
        return out

    def _open(self, b: Bind, slots: int, reuse_port: bool) -> _Bound:
        if b.network == "unix":
            return self._open_unix(b)
        reuse_port = reuse_port and hasattr(socket, "SO_REUSEPORT")
        if reuse_port and b.port != 0:
            # SO_REUSEPORT would let us join another server's group on the
            # same port without a word; a plain bind first tells us the
            # port is taken.
            listen_socket("tcp", b.address).close()
        try:
            first = listen_socket("tcp", b.address, reuse_port=reuse_port)
        except OSError:
            if not reuse_port:
                raise
            reuse_port = False  # the platform refused SO_REUSEPORT: one shared socket
            first = listen_socket("tcp", b.address)
        socks = [first]
        bound_at = first.getsockname()
        address = join_host_port(bound_at[0], bound_at[1])
        try:
            if reuse_port:
                for _ in range(slots - 1):
                    socks.append(listen_socket("tcp", address, reuse_port=True))
        except OSError:
            for s in socks:
                s.close()
            raise
        return _Bound(b, socks, f"{'https' if b.tls else 'http'}://{address}", reuse_port)

    def _open_unix(self, b: Bind) -> _Bound:
        path = b.path
        if os.path.exists(path):
            # A socket file left by a server that died: remove it if nobody
            # answers on it; refuse to steal it from a live server.
            probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                probe.connect(path)
            except (ConnectionRefusedError, FileNotFoundError):
                with contextlib.suppress(OSError):
                    os.unlink(path)
            except OSError:
                pass
            else:
                raise OSError(98, f"listen unix {path}: bind: address already in use")
            finally:
                probe.close()
        return _Bound(b, [listen_socket("unix", path)], f"{'https+' if b.tls else ''}unix:{path}",
                      False)

    def close_except(self, keep: list[socket.socket]) -> None:
        """In a worker: close the sockets that belong to other slots."""
        ids = {id(s) for s in keep}
        for b in self.bound:
            for s in b.socks:
                if id(s) not in ids:
                    s.close()

    def close(self, unlink: bool = True) -> None:
        for b in self.bound:
            for s in b.socks:
                s.close()
            if unlink and b.bind.network == "unix":
                with contextlib.suppress(OSError):
                    os.unlink(b.bind.path)
        self.bound = []
