"""TLS layer: listen, new_listener and dial (Go's ``tls.Listen``, ``NewListener``, ``Dial``).

A :class:`Listener` wraps a net Listener and hands out server-side
:class:`~gonet.tls.conn.Conn` s whose handshake runs on first use (in the
goroutine that serves the connection, never in the accept loop, as Go).
``dial`` connects and completes the handshake within its ``timeout``.
"""

from __future__ import annotations

import ssl
import time
from typing import Any

from gonet.net import ClosedError
from gonet.net import Listener as NetListener
from gonet.net import dial as net_dial
from gonet.net import listen as net_listen
from gonet.net.addr import split_host_port
from gonet.tls.conn import Conn, client, server

__all__ = ["Listener", "listen", "new_listener", "dial"]


class Listener:
    """Accepts connections from a net Listener and wraps each in a server-side TLS Conn."""

    __slots__ = ("_ln", "ctx")

    def __init__(self, ln: NetListener, ctx: ssl.SSLContext) -> None:
        if not isinstance(ctx, ssl.SSLContext):
            raise TypeError(f"tls: want an ssl.SSLContext, not {type(ctx).__name__}")
        self._ln = ln
        self.ctx = ctx

    def __repr__(self) -> str:
        return f"<gonet.tls.Listener {self._ln.network} {self._ln.addr}>"

    @property
    def addr(self) -> Any:
        return self._ln.addr

    @property
    def network(self) -> str:
        return self._ln.network

    @property
    def closed(self) -> bool:
        return self._ln.closed

    def accept(self) -> Conn:
        """The next connection, not yet handshaken."""
        return server(self._ln.accept(), self.ctx)

    def close(self) -> None:
        self._ln.close()

    def fileno(self) -> int:
        return self._ln.fileno()

    def set_deadline(self, t: float | None) -> None:
        self._ln.set_deadline(t)

    def net_listener(self) -> NetListener:
        return self._ln

    def __iter__(self):
        while True:
            try:
                yield self.accept()
            except ClosedError:
                return

    def __enter__(self) -> Listener:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def new_listener(ln: NetListener, ctx: ssl.SSLContext) -> Listener:
    """TLS on an existing listener (Go's ``tls.NewListener``)."""
    return Listener(ln, ctx)


def listen(network: str, address: str, ctx: ssl.SSLContext) -> Listener:
    """Listen on ``address`` (as ``gonet.listen``); accept returns tls.Conn."""
    if not isinstance(ctx, ssl.SSLContext):
        raise TypeError(f"tls: want an ssl.SSLContext, not {type(ctx).__name__}")
    return Listener(net_listen(network, address), ctx)


def dial(network: str, address: str, ctx: ssl.SSLContext | None = None, *,
         timeout: float | None = None, server_hostname: str | None = None) -> Conn:
    """Connect to ``address`` and complete the TLS handshake, both within
    ``timeout`` seconds. ``ctx`` defaults to ``client_context()`` (the
    system's trust store); ``server_hostname`` to the host of ``address``."""
    deadline = time.monotonic() + timeout if timeout is not None else None
    if server_hostname is None:
        host, _ = split_host_port(address)
        server_hostname = host or None
    c = net_dial(network, address, timeout=timeout)
    t = None
    try:
        t = client(c, ctx, server_hostname=server_hostname)
        if deadline is not None:
            c.set_deadline(deadline)
        t.handshake()
        if deadline is not None:
            c.set_deadline(None)
    except BaseException:
        c.close()
        raise
    return t
