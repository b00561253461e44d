"""WebSocket layer: the server's opening handshake (``accept``) and shutdown.

``accept(w, r)`` checks an upgrade request as RFC 6455 4.2.1 asks, checks
its ``Origin`` (a page on another site must not open a WebSocket with the
user's cookies: cross-site WebSocket hijacking), picks a subprotocol and,
when asked, permessage-deflate (RFC 7692), then hijacks the connection,
writes the 101 itself and returns a :class:`~gonet.websocket.conn.WebSocket`
on it. A request it refuses gets an HTTP error (400, 403, 426) and the
handler gets :class:`HandshakeError`, an ``http.AbortHandler``: left
uncaught it ends the request quietly.

Shutdown: each server that accepted a WebSocket knows it through the
request context (``http.SERVER_CONTEXT_KEY``); the first accept registers
one ``register_on_shutdown`` function per server, which sends close 1001
("going away") to every open WebSocket, and each WebSocket is tracked with
``Server.track_hijacked`` until its connection is closed, so
``Server.shutdown(timeout)`` waits for the closing handshakes.
"""

from __future__ import annotations

import base64
import binascii
import fnmatch
import weakref
from typing import Any
from urllib.parse import urlsplit

from wsproto.connection import Connection, ConnectionType
from wsproto.extensions import PerMessageDeflate
from wsproto.utilities import generate_accept_token

from gonet.http import SERVER_CONTEXT_KEY, AbortHandler, status_text
from gonet.runtime.sched import get_sched
from gonet.websocket.conn import WebSocket

__all__ = ["accept", "HandshakeError", "is_websocket_upgrade"]


class HandshakeError(AbortHandler):
    """``accept`` refused the request; the client has had its HTTP error
    (``status``). An ``http.AbortHandler``: uncaught, it ends the request
    without a log line."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def _tokens(value: str) -> list[str]:
    return [t.strip().lower() for t in value.split(",") if t.strip()]


def is_websocket_upgrade(r: Any) -> bool:
    """Does ``r`` ask to upgrade to a WebSocket (``Connection: upgrade`` and
    ``Upgrade: websocket``)? For a handler that serves both."""
    h = r.header
    return ("upgrade" in _tokens(", ".join(h.values("Connection")))
            and "websocket" in _tokens(", ".join(h.values("Upgrade"))))


def _reject(w: Any, r: Any, status: int, text: str, header: dict | None = None) -> HandshakeError:
    h = w.header()
    for k, v in (header or {}).items():
        h.set(k, v)
    body = text.encode() + b"\n"
    h.set("Content-Type", "text/plain; charset=utf-8")
    h.set("Content-Length", str(len(body)))
    h.set("Connection", "close")
    w.write_header(status)
    w.write(body)
    w.flush()
    return HandshakeError(f"websocket: {r.remote_addr} {r.method} {r.request_uri}: {text}", status)


def _origin_ok(origin: str, host: str, patterns: list[str] | None) -> bool:
    """RFC 6454 origin check, as coder/websocket's: the same host as the
    request's passes; otherwise a pattern must match the origin's host (or
    the whole origin when the pattern has a scheme). Patterns are fnmatch
    style, case-insensitive ("*.example.com")."""
    if origin == "null":
        return any(p == "null" for p in patterns or ())
    try:
        u = urlsplit(origin)
        ohost = u.netloc.lower()
    except ValueError:
        return False
    if not u.scheme or not ohost:
        return False
    if ohost == host.lower():
        return True
    for p in patterns or ():
        p = p.lower()
        target = origin.lower() if "://" in p else ohost
        if fnmatch.fnmatchcase(target, p):
            return True
    return False


def _negotiate_deflate(offers: list[str]) -> tuple[PerMessageDeflate | None, str]:
    """The first permessage-deflate offer we can take, and our answer."""
    for offer in offers:
        name = offer.split(";", 1)[0].strip().lower()
        if name != "permessage-deflate":
            continue
        ext = PerMessageDeflate()
        try:
            answer = ext.accept(offer)
        except ValueError:
            continue
        if answer is None:
            continue
        return ext, "permessage-deflate" + ("; " + answer if answer else "")
    return None, ""


def accept(w: Any, r: Any, subprotocols: list[str] | None = None,
           origin_patterns: list[str] | None = None, compression: bool = False,
           max_message_size: int | None = 1 << 20) -> WebSocket:
    """Upgrade the request to a WebSocket, or answer with an HTTP error and
    raise :class:`HandshakeError`.

    ``subprotocols``: the ones this handler speaks, preferred first; the
    first the client offers too is chosen (``ws.subprotocol``, None if
    none). ``origin_patterns``: other origins allowed besides the request's
    own host (``["*.example.com", "https://app.example.org"]``; ``["*"]``
    allows any, which is unsafe for a site that relies on cookies).
    ``compression``: accept permessage-deflate if the client offers it.
    ``max_message_size``: a longer message fails the connection with 1009
    (None: no limit). Headers set on ``w.header()`` before the call go out
    with the 101 (Set-Cookie, for one).
    """
    h = r.header
    if r.method != "GET":
        raise _reject(w, r, 405, "websocket: the upgrade request must be a GET",
                      {"Allow": "GET"})
    if not r.proto_at_least(1, 1):
        raise _reject(w, r, 400, "websocket: the upgrade request must be HTTP/1.1 or later")
    if "upgrade" not in _tokens(", ".join(h.values("Connection"))):
        raise _reject(w, r, 426, "websocket: the Connection header must include 'upgrade'",
                      {"Upgrade": "websocket", "Connection": "Upgrade"})
    if "websocket" not in _tokens(", ".join(h.values("Upgrade"))):
        raise _reject(w, r, 426, "websocket: the Upgrade header must include 'websocket'",
                      {"Upgrade": "websocket"})
    if h.get("Sec-WebSocket-Version").strip() != "13":
        raise _reject(w, r, 426, "websocket: unsupported Sec-WebSocket-Version "
                      f"{h.get('Sec-WebSocket-Version')!r} (13 only)",
                      {"Sec-WebSocket-Version": "13"})
    key = h.get("Sec-WebSocket-Key").strip()
    try:
        ok = len(base64.b64decode(key, validate=True)) == 16
    except (binascii.Error, ValueError):
        ok = False
    if not ok:
        raise _reject(w, r, 400, f"websocket: invalid Sec-WebSocket-Key {key!r}")
    origin = h.get("Origin")
    if origin and not _origin_ok(origin, r.host, origin_patterns):
        raise _reject(w, r, 403, f"websocket: origin {origin!r} is not allowed "
                      f"(not {r.host!r} and matched by no origin pattern)")

    chosen = None
    if subprotocols:
        offered = [p.strip() for p in ", ".join(h.values("Sec-WebSocket-Protocol")).split(",")]
        for p in subprotocols:
            if p in offered:
                chosen = p
                break
    ext = None
    ext_answer = ""
    if compression:
        ext, ext_answer = _negotiate_deflate(
            [o for o in ", ".join(h.values("Sec-WebSocket-Extensions")).split(",") if o.strip()])

    lines = [b"HTTP/1.1 101 " + status_text(101).encode()]
    for k, v in w.header().items():
        if k.lower() not in ("content-length", "transfer-encoding", "content-type"):
            lines.append(f"{k}: {v}".encode("latin-1"))
    lines.append(b"Upgrade: websocket")
    lines.append(b"Connection: Upgrade")
    lines.append(b"Sec-WebSocket-Accept: " + generate_accept_token(key.encode()))
    if chosen is not None:
        lines.append(b"Sec-WebSocket-Protocol: " + chosen.encode())
    if ext_answer:
        lines.append(b"Sec-WebSocket-Extensions: " + ext_answer.encode())
    head = b"\r\n".join(lines) + b"\r\n\r\n"

    conn, rest = w.hijack()
    conn.set_deadline(None)  # the request's deadlines are not the WebSocket's
    try:
        conn.write(head)
    except BaseException:
        conn.close()
        raise
    proto = Connection(ConnectionType.SERVER, [ext]) if ext is not None else None
    ws = WebSocket(conn, proto, client=False, subprotocol=chosen, extensions=ext_answer,
                   request=r, max_message_size=max_message_size, buffered=rest)
    _track(ws, r)
    return ws


# -- shutdown ------------------------------------------------------------------------

class _Open:
    """The open WebSockets of one server, closed with 1001 when it shuts down."""

    __slots__ = ("sockets", "going_away", "__weakref__")

    def __init__(self) -> None:
        self.sockets: set[WebSocket] = set()
        self.going_away = False

    def shutdown(self) -> None:
        self.going_away = True
        spawn = get_sched().spawn
        for ws in list(self.sockets):
            spawn(_going_away, (ws,), None, "websocket going away")


def _going_away(ws: WebSocket) -> None:
    try:
        ws.close(1001, "going away")
    except OSError:
        pass


_open: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _track(ws: WebSocket, r: Any) -> None:
    srv = r.context.value(SERVER_CONTEXT_KEY)
    if srv is None:
        return
    group = _open.get(srv)
    if group is None:
        group = _open[srv] = _Open()
        srv.register_on_shutdown(group.shutdown)
    group.sockets.add(ws)
    release = srv.track_hijacked(ws.conn())

    def done() -> None:
        group.sockets.discard(ws)
        release()

    ws.on_finish(done)
    if group.going_away:
        get_sched().spawn(_going_away, (ws,), None, "websocket going away")
