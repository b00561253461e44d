"""WebSocket layer: the client side (``dial``) for ws:// and wss:// URLs.

``dial`` connects (through ``gonet.net.dial``, and ``gonet.tls`` for wss),
sends the upgrade request and checks the 101 answer with wsproto's client
handshake, all within ``timeout``, then returns a
:class:`~gonet.websocket.conn.WebSocket` whose frames are masked as
RFC 6455 requires of a client.
"""

from __future__ import annotations

import ssl
import time
from typing import Any
from urllib.parse import urlsplit

from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, RejectConnection, RejectData, Request
from wsproto.extensions import PerMessageDeflate
from wsproto.utilities import RemoteProtocolError

from gonet.net import dial as net_dial
from gonet.net import join_host_port
from gonet.tls import client as tls_client
from gonet.websocket.conn import WebSocket

__all__ = ["dial", "DialError"]

#: The longest handshake answer (head and a refusal's body) dial reads.
_MAX_ANSWER = 64 << 10


class DialError(OSError):
    """The server refused the upgrade or answered something that is not a
    WebSocket handshake; ``status`` is its HTTP status (0 when there was none)."""

    def __init__(self, message: str, status: int = 0, body: bytes = b"") -> None:
        super().__init__(message)
        self.status = status
        self.body = body


def dial(url: str, timeout: float | None = None, *, subprotocols: list[str] | None = None,
         header: Any = None, origin: str | None = None, compression: bool = False,
         max_message_size: int | None = 1 << 20,
         tls_config: ssl.SSLContext | None = None) -> WebSocket:
    """Open a WebSocket to ``url`` (``ws://host[:port]/path?query`` or
    ``wss://...``); ``timeout`` bounds the connect, TLS and upgrade together.

    ``subprotocols``: offered in order (``ws.subprotocol`` is the server's
    choice); ``header``: extra request headers (a dict, pairs, or an
    ``http.Header``); ``origin``: an Origin header; ``compression``: offer
    permessage-deflate; ``tls_config``: the ``ssl.SSLContext`` for wss
    (default: ``tls.client_context()``, the system's trust store).
    """
    u = urlsplit(url)
    scheme = u.scheme.lower()
    if scheme not in ("ws", "wss"):
        raise ValueError(f"websocket: dial {url}: the scheme must be ws or wss")
    host = u.hostname
    if not host:
        raise ValueError(f"websocket: dial {url}: no host")
    port = u.port or (443 if scheme == "wss" else 80)
    target = (u.path or "/") + (f"?{u.query}" if u.query else "")
    deadline = time.monotonic() + timeout if timeout is not None else None
    default_port = (scheme == "wss" and port == 443) or (scheme == "ws" and port == 80)
    host_header = join_host_port(host, port) if not default_port else (
        f"[{host}]" if ":" in host else host)

    conn = net_dial("tcp", join_host_port(host, port), timeout=timeout)
    try:
        if deadline is not None:
            conn.set_deadline(deadline)
        if scheme == "wss":
            conn = tls_client(conn, tls_config, server_hostname=host)
            conn.handshake()
        extra: list[tuple[str, str]] = []
        if header is not None:
            items = header.items() if hasattr(header, "items") else header
            extra.extend((str(k), str(v)) for k, v in items)
        if origin is not None:
            extra.append(("Origin", origin))
        wsc = WSConnection(ConnectionType.CLIENT)
        offer = [PerMessageDeflate()] if compression else []
        conn.write(wsc.send(Request(host=host_header, target=target,
                                    subprotocols=list(subprotocols or []),
                                    extensions=offer, extra_headers=extra)))
        accepted, rest = _read_answer(url, conn, wsc)
        conn.set_deadline(None)
    except BaseException:
        conn.close()
        raise
    proto = wsc.connection
    assert proto is not None
    ext = ""
    for e in accepted.extensions:
        if isinstance(e, PerMessageDeflate) and e.enabled():
            ext = "permessage-deflate"
    return WebSocket(conn, proto, client=True, subprotocol=accepted.subprotocol,
                     extensions=ext, max_message_size=max_message_size, buffered=rest)


def _read_answer(url: str, conn: Any, wsc: WSConnection) -> tuple[AcceptConnection, bytes]:
    """The server's answer: (the accept, the bytes after its head), or DialError.

    wsproto gets the head alone: frames the server sent right behind it are
    the WebSocket's to parse (see WebSocket's ``buffered``)."""
    head = b""
    while True:
        data = conn.read(65536)
        if not data:
            raise DialError(f"websocket: dial {url}: connection closed during the handshake")
        head += data
        end = head.find(b"\r\n\r\n")
        if end >= 0:
            break
        if len(head) > _MAX_ANSWER:
            raise DialError(f"websocket: dial {url}: handshake answer longer than "
                            f"{_MAX_ANSWER} bytes")
    head, rest = head[:end + 4], head[end + 4:]
    try:
        wsc.receive_data(head)
        status = 0
        for ev in wsc.events():
            if isinstance(ev, AcceptConnection):
                return ev, rest
            if isinstance(ev, RejectConnection):
                status = ev.status_code
                if not ev.has_body:
                    raise DialError(f"websocket: dial {url}: the server answered "
                                    f"{status} instead of 101", status)
                break
        if rest:
            wsc.receive_data(rest)
    except RemoteProtocolError as e:
        raise DialError(f"websocket: dial {url}: bad handshake answer: {e}") from None
    _read_refusal(url, conn, wsc, status)
    raise AssertionError("unreachable")


def _read_refusal(url: str, conn: Any, wsc: WSConnection, status: int) -> None:
    """Read a refusal's body (up to _MAX_ANSWER bytes) and raise DialError."""
    got = 0
    body = bytearray()
    while True:
        try:
            for ev in wsc.events():
                if isinstance(ev, RejectConnection):
                    status = ev.status_code
                    if not ev.has_body:
                        raise DialError(f"websocket: dial {url}: the server answered "
                                        f"{status} instead of 101", status)
                elif isinstance(ev, RejectData):
                    body += ev.data
                    if ev.body_finished or len(body) > _MAX_ANSWER:
                        raise DialError(f"websocket: dial {url}: the server answered {status} "
                                        f"instead of 101: {bytes(body[:200])!r}", status,
                                        bytes(body))
        except RemoteProtocolError as e:
            raise DialError(f"websocket: dial {url}: bad handshake answer: {e}") from None
        data = conn.read(65536)
        got += len(data)
        if got > _MAX_ANSWER and status == 0:
            raise DialError(f"websocket: dial {url}: handshake answer longer than "
                            f"{_MAX_ANSWER} bytes")
        if not data:
            if status:
                raise DialError(f"websocket: dial {url}: the server answered {status} "
                                f"instead of 101: {bytes(body[:200])!r}", status, bytes(body))
            raise DialError(f"websocket: dial {url}: connection closed during the handshake")
        try:
            wsc.receive_data(data)
        except RemoteProtocolError as e:
            raise DialError(f"websocket: dial {url}: bad handshake answer: {e}") from None
