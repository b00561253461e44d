"""Serve layer: ``--bind`` values and the listening sockets the master opens.

The master binds every listening socket before the first worker exists, so
a bind error fails at once and a port of 0 is chosen only once. For TCP with
SO_REUSEPORT it opens one socket per worker *slot*, all bound to the same
address, and the kernel spreads new connections over them; otherwise (unix
sockets, no SO_REUSEPORT, ``reuse_port=False``) all slots share one socket,
and their workers take turns accepting from it. A worker is forked and takes
its slot's sockets over with ``gonet.net.file_listener``.

Inherited sockets (``--fd N``, systemd's ``LISTEN_FDS``) are binds of their
own: one socket, shared by every slot, checked to be a listening stream
socket before any worker starts. ``add_slot`` / ``remove_slot`` follow the
number of workers (SIGTTIN / SIGTTOU): a SO_REUSEPORT bind gains or loses
the socket of that slot.

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

__all__ = ["Bind", "ListenSet", "parse_bind", "systemd_fds"]

SD_LISTEN_FDS_START = 3


@dataclass
class Bind:
    """One ``--bind`` value: ``host:port``, ``[v6]:port``, ``:port`` or ``unix:/path``,
    optionally after ``https://`` (TLS on this bind) or ``http://`` (plain
    even when ``--certfile`` is given)."""

    spec: str
    network: str  # "tcp", "unix", or "fd" (an inherited listening socket)
    host: str = ""
    port: int = 0
    path: str = ""
    tls: bool | None = None  # None: TLS when --certfile is given
    fd: int = -1

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


def fd_bind(fd: int, source: str = "--fd") -> Bind:
    """The bind of an inherited listening socket (``--fd N``, ``LISTEN_FDS``)."""
    return Bind(f"{source} {fd}", "fd", fd=fd)


def systemd_fds(environ: dict | None = None, pid: int | None = None) -> list[int]:
    """The fds systemd passed (``LISTEN_FDS`` for this ``LISTEN_PID``), as
    sd_listen_fds(3) reads them; the variables are removed from ``environ``
    so that the app's own child processes do not take them for theirs."""
    import os

    env = os.environ if environ is None else environ
    if env.get("LISTEN_PID", "") != str(os.getpid() if pid is None else pid):
        return []
    try:
        n = int(env.get("LISTEN_FDS", "0"))
    except ValueError:
        n = 0
    for k in ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"):
        env.pop(k, None)
    return list(range(SD_LISTEN_FDS_START, SD_LISTEN_FDS_START + max(n, 0)))


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
                    network = "unix" if s.family == socket.AF_UNIX else "tcp"
                    out.add(str(to_addr(network, s.getsockname())))
        return out

    def add_slot(self) -> None:
        """One slot more (SIGTTIN): SO_REUSEPORT binds open its socket."""
        self.slots += 1
        for b in self.bound:
            if b.reuse_port:
                host, port = b.socks[0].getsockname()[:2]
                b.socks.append(listen_socket("tcp", join_host_port(host, port),
                                             reuse_port=True))

    def remove_slot(self) -> None:
        """One slot fewer (SIGTTOU): SO_REUSEPORT binds close the last slot's
        socket (the master's copy; its worker closes its own as it drains)."""
        if self.slots <= 1:
            return
        self.slots -= 1
        for b in self.bound:
            if b.reuse_port and len(b.socks) > self.slots:
                b.socks.pop().close()

    def _open(self, b: Bind, slots: int, reuse_port: bool) -> _Bound:
        if b.network == "fd":
            return self._open_fd(b)
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

    def _open_fd(self, b: Bind) -> _Bound:
        try:
            sock = socket.socket(fileno=b.fd)
        except OSError as e:
            raise OSError(e.errno, f"{b.spec}: {e.strerror or e}") from None
        try:
            if sock.type != socket.SOCK_STREAM or sock.family not in (
                    socket.AF_INET, socket.AF_INET6, socket.AF_UNIX):
                raise OSError(0, f"{b.spec}: not a TCP or unix stream socket")
            if not sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN):
                raise OSError(0, f"{b.spec}: not a listening socket (listen() was not called)")
            sock.set_inheritable(False)
            name = sock.getsockname()
        except BaseException:
            sock.detach()  # not ours to close: the fd stays as it was given
            raise
        if sock.family == socket.AF_UNIX:
            url = f"{'https+' if b.tls else ''}unix:{name}"
        else:
            url = f"{'https' if b.tls else 'http'}://{join_host_port(name[0], name[1])}"
        return _Bound(b, [sock], url, False)

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
            if unlink and b.bind.network == "unix" and b.bind.path:
                with contextlib.suppress(OSError):
                    os.unlink(b.bind.path)
        self.bound = []
