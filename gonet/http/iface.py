"""HTTP layer: the interfaces between a server connection, a request's body
and its response writer.

Three objects cooperate on every request: the connection loop
(``conn.ServerConn``), the request body (``request.Body``) and the response
writer (``response.ResponseWriter``). They talk through these two small
interfaces and nothing else; none reads another's private fields.

- :class:`Exchange` is what the body and the writer may ask of the
  connection that serves them (the connection implements it).
- :class:`WriterControl` is what the connection may ask of the writer once
  the handler has returned, or before (the writer implements it).

The body needs nothing more from the connection than ``read_body``; the
connection keeps the body's framing state itself.
"""

from __future__ import annotations

from typing import Any, Protocol

__all__ = ["Exchange", "WriterControl"]


class Exchange(Protocol):
    """One request-response exchange on a server connection."""

    def read_body(self) -> bytes:
        """The next piece of the request body (b"" at its end), sending
        "100 Continue" first if the client waits for it. Raises
        ``RequestBodyError`` for a malformed or truncated body and the
        connection's OSError otherwise; after either, the connection is
        not reused."""
        ...

    #: ``send(data)``: write response bytes to the client (all of them, or
    #: raise OSError). An attribute, so that it can be the Conn's own write.
    send: Any

    #: The connection's TLS state (None on plain TCP): the one place the
    #: request's scheme comes from (``Request.tls``, ``r.url.scheme``,
    #: ``wsgi.url_scheme``), never from the request line.
    tls_state: Any

    def send_file(self, fd: int, offset: int, count: int) -> int:
        """Write ``count`` bytes of file ``fd`` from ``offset`` with sendfile(2)."""
        ...

    def keep_alive(self) -> bool:
        """Asked once, when the response head is built: may the connection
        serve another request after this response? False while the server
        shuts down or has keep-alives off, when the client still waits to
        be told to send its body (a 100-continue never answered), or when
        the body left unread is too large to drain (the head then says
        ``Connection: close`` and the response leaves at once)."""
        ...

    def hijack(self) -> tuple[Any, bytes]:
        """Hand the connection to the handler: (Conn, bytes read past the request)."""
        ...

    def on_handler_done(self, fn: Any) -> None:
        """Run ``fn()`` once the handler of the current request has returned
        or raised (before the rest of the response goes out): how a parsed
        multipart form's temporary files are removed."""
        ...

    def request_context(self, req: Any) -> Any:
        """The request's context: cancelled when the client goes away, the
        handler returns, or the server shuts down."""
        ...


class WriterControl(Protocol):
    """What the connection asks of a ResponseWriter.

    The three flags are plain attributes, read on every request; only the
    writer sets them.
    """

    #: The handler took the connection over: the server leaves it alone.
    hijacked: bool
    #: A write to the client failed: the connection is broken.
    failed: bool
    #: The response ends the connection (``Connection: close`` sent or to be).
    closes: bool

    @property
    def head_sent(self) -> bool:
        ...

    def close_after(self) -> None:
        """Make this response the connection's last; its head says so if it
        has not been sent yet."""
        ...

    def finish(self) -> None:
        """Send whatever is left of the response (the handler has returned)."""
        ...
