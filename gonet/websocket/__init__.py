"""gonet.websocket: WebSocket (RFC 6455) on hijacked HTTP connections, one
goroutine per socket, blocking-style messages::

    from gonet import http, websocket

    def echo(w, r):
        ws = websocket.accept(w, r, subprotocols=["chat.v1"])
        with ws:
            for msg in ws:          # text -> str, binary -> bytes
                ws.send(msg)

    ws = websocket.dial("ws://127.0.0.1:8080/echo", timeout=5)

Modules: ``conn`` (WebSocket: messages, pings, the closing handshake,
deadlines; Closed), ``server`` (accept: the upgrade, origin check,
subprotocols, permessage-deflate; shutdown with 1001), ``client`` (dial for
ws:// and wss://). Frames are wsproto's.

A WSGI app cannot speak WebSocket (WSGI has no way to hand over the
connection); mount a WebSocket handler next to it on a ``ServeMux``.
"""

from __future__ import annotations

from gonet.websocket.client import DialError, dial
from gonet.websocket.conn import CLOSE_TIMEOUT, Closed, WebSocket, close_code_text
from gonet.websocket.server import HandshakeError, accept, is_websocket_upgrade

__all__ = [
    "CLOSE_TIMEOUT",
    "Closed",
    "DialError",
    "HandshakeError",
    "WebSocket",
    "accept",
    "close_code_text",
    "dial",
    "is_websocket_upgrade",
]
