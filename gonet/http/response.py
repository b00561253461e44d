"""HTTP layer: ResponseWriter, the handler's side of one response.

The writer buffers: the status and headers are not sent until the handler
writes more than :data:`BUFFER_SIZE` bytes, calls ``flush``, or returns. A
handler that writes a small body and returns therefore gets a
Content-Length, and the head and body leave in ONE ``Conn.write`` (no
Nagle/delayed-ACK stall, one syscall). Only a response that outgrows the
buffer or is flushed without a declared Content-Length is sent chunked
(HTTP/1.1) or delimited by closing the connection (HTTP/1.0).

Response serialisation is done here, not by h11: h11 parses requests (its
correctness is what matters there), while the server writes responses
itself because the framing rules it needs are few and fixed (below) and
h11's event machinery would cost more than the rest of the request path.

Framing rules (RFC 9112 section 6, as Go applies them):

- 1xx, 204 and 304 responses have no body; writes raise ErrBodyNotAllowed.
  Their heads carry no Content-Length or Transfer-Encoding, and a 304 no
  Content-Type either (RFC 9110 15.4.5: it describes no content).
- HEAD responses carry the headers GET would (the sniffed Content-Type, a
  Content-Length if the body fits the buffer) and no body; writes are
  counted and discarded.
- A Content-Length set by the handler is honoured: writing more raises
  ErrContentLength; writing less closes the connection after the response.
- A Transfer-Encoding set by the handler chooses the framing: "chunked"
  streams even a short body (a Content-Length next to it is dropped, as
  Go does); "identity" sends the body delimited by closing the connection.
- Otherwise: Content-Length when the whole body fitted in the buffer;
  chunked for HTTP/1.1 streams; close-delimited for HTTP/1.0 streams.
- A Content-Type is sniffed from the first bytes when the handler set none
  and no Content-Encoding; a Content-Type key holding no value
  (``w.header()["Content-Type"] = []``, Go's ``= nil``) sends none.

State: ``_wrote_header`` (status chosen; the headers freeze: the head is
built from the map as it was then, and a later ``header()`` gives the
handler a copy, as Go does) -> ``_head_sent`` (bytes on the wire) ->
``_done`` (server finished it). ``hijacked`` ends it early: the connection
belongs to the handler, and every later write raises ErrHijacked.

The writer reaches the connection only through the ``Exchange`` interface
(``send``, ``send_file``, ``keep_alive``, ``hijack``), and the connection
drives the writer only through ``WriterControl`` (``finish``,
``close_after``, ``hijacked``, ``head_sent``, ``failed``, ``closes``); both
are in ``gonet.http.iface``.
"""

from __future__ import annotations

import logging
import time
from email.utils import formatdate
from typing import Any

from gonet.http.header import Header
from gonet.http.status import status_line

__all__ = ["ResponseWriter", "ErrBodyNotAllowed", "ErrContentLength", "ErrHijacked",
           "BUFFER_SIZE", "detect_content_type"]

#: Bytes a response may buffer before its head is sent (Go: 2-4 KB).
BUFFER_SIZE = 4096

log = logging.getLogger("gonet.http")


class ErrBodyNotAllowed(ValueError):
    """A body was written for a status or method that cannot have one."""

    def __init__(self) -> None:
        super().__init__("http: request method or response status code does not allow body")


class ErrContentLength(ValueError):
    """More bytes were written than the declared Content-Length."""

    def __init__(self) -> None:
        super().__init__("http: wrote more than the declared Content-Length")


class ErrHijacked(RuntimeError):
    """The connection was hijacked; the ResponseWriter can no longer be used."""

    def __init__(self) -> None:
        super().__init__("http: connection has been hijacked")


_STATUS_STR: dict[int, str] = {}


def _status_str(code: int) -> str:
    s = _STATUS_STR.get(code)
    if s is None:
        s = _STATUS_STR[code] = status_line(code).decode("ascii")
    return s


# The Date header, rebuilt at most once a second.
_date_sec = 0
_date_line = ""


def _date() -> str:
    global _date_sec, _date_line
    now = int(time.time())
    if now != _date_sec:
        _date_sec = now
        _date_line = "Date: " + formatdate(now, usegmt=True) + "\r\n"
    return _date_line


# -- content sniffing (a small subset of Go's DetectContentType) ---------------

_BINARY = bytes(b for b in range(256) if b <= 0x08 or b == 0x0B or 0x0E <= b <= 0x1A or 0x1C <= b <= 0x1F)
_NOT_BINARY = bytes(b for b in range(256) if b not in _BINARY)
_HTML_SIGS = (b"<!doctype html", b"<html", b"<head", b"<script", b"<iframe", b"<h1", b"<div",
              b"<font", b"<table", b"<a", b"<style", b"<title", b"<b", b"<body", b"<br", b"<p",
              b"<!--")
_MAGIC = (
    (b"%PDF-", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"\x1f\x8b\x08", "application/x-gzip"),
    (b"PK\x03\x04", "application/zip"),
    (b"RIFF", "application/octet-stream"),
    (b"\x00asm", "application/wasm"),
)


def detect_content_type(data: bytes) -> str:
    """Guess a Content-Type from the first 512 bytes (HTML, common magic numbers, text)."""
    head = bytes(data[:512])
    s = head.lstrip(b"\t\n\x0c\r ")
    low = s[:14].lower()
    for sig in _HTML_SIGS:
        if low.startswith(sig) and len(s) > len(sig) and s[len(sig)] in b" >":
            return "text/html; charset=utf-8"
    if s.startswith(b"<?xml"):
        return "text/xml; charset=utf-8"
    for magic, ctype in _MAGIC:
        if head.startswith(magic):
            return ctype
    if head.startswith((b"\xfe\xff", b"\xff\xfe")):
        return "text/plain; charset=utf-16"
    if head.translate(None, _NOT_BINARY):
        return "application/octet-stream"
    return "text/plain; charset=utf-8"


# Header keys the head never copies from the handler's map: the framing
# decides them (RFC 9112 6; for a 304, RFC 9110 15.4.5 also drops the
# Content-Type, as Go does).
_NOT_COPIED = frozenset(("Content-Length", "Transfer-Encoding", "Connection"))
_NOT_COPIED_304 = _NOT_COPIED | {"Content-Type"}


def _first(hd: dict, key: str) -> str:
    vs = hd.get(key)
    return vs[0] if vs else ""


def _tokens(value: str) -> list[str]:
    """A comma-separated token list, lower-case (RFC 9110 5.6.1)."""
    return [t.strip().lower() for t in value.split(",")]


def _encode_head(text: str) -> bytes:
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode("utf-8")


class ResponseWriter:
    """Builds and sends one HTTP response (Go's ``http.ResponseWriter``).

    ``header()`` the headers to send; ``write_header(status)``;
    ``write(data)`` (an implicit 200 first); ``flush()`` (sends what is
    buffered now: a stream); ``hijack()`` (take over the connection);
    ``sendfile(file, offset, count)`` (zero-copy body from a file).
    """

    __slots__ = (
        "_ex",
        "_h",
        "_hs",
        "status",
        "_wrote_header",
        "_head_sent",
        "_buf",
        "_buflen",
        "_chunked",
        "_cl",
        "_written",
        "closes",
        "hijacked",
        "_done",
        "_head_req",
        "_http10",
        "_keep10",
        "failed",
    )

    def __init__(self, exchange: Any, head_req: bool = False, http10: bool = False,
                 close: bool = False, keep10: bool = False) -> None:
        self._ex = exchange  # an iface.Exchange (None for a writer with no connection)
        self._h: Header | None = None  # the handler's map
        # The map the head is built from: a snapshot of the handler's, taken
        # at write_header (Header replaces value lists, never changes them in
        # place, so a shallow copy is one).
        self._hs: dict | None = None
        self.status = 200
        self._wrote_header = False
        self._head_sent = False
        self._buf: list = []
        self._buflen = 0
        self._chunked = False
        self._cl = -1  # declared Content-Length, -1 if none
        self._written = 0  # body bytes accepted from the handler
        self.closes = close  # send Connection: close and close afterwards
        self.hijacked = False
        self._done = False
        self._head_req = head_req
        self._http10 = http10
        self._keep10 = keep10  # HTTP/1.0 client asked for keep-alive
        self.failed = False  # a write to the client failed

    def __repr__(self) -> str:
        return f"<ResponseWriter status={self.status} written={self._written}>"

    # -- the handler's API ---------------------------------------------------

    def header(self) -> Header:
        """The header map to be sent. Changes after ``write_header`` (or the
        first ``write``) have no effect, as in Go: the handler then gets a copy."""
        h = self._h
        if h is None:
            h = self._h = Header()
        return h

    def write_header(self, status: int) -> None:
        """Send ``status`` with the headers (sent when the body starts or at the end).

        1xx codes other than 101 (e.g. 103 Early Hints) are sent at once and
        may be followed by the real status. A second call is logged and ignored.
        """
        if self.hijacked:
            raise ErrHijacked()
        if not isinstance(status, int) or not 100 <= status <= 999:
            raise ValueError(f"http: invalid WriteHeader code {status!r}")
        if self._wrote_header:
            log.warning("http: superfluous write_header call (status %d after %d)", status, self.status)
            return
        if status < 200 and status != 101:
            self._send_informational(status)
            return
        self.status = status
        self._wrote_header = True
        h = self._h
        if h is not None:
            hd = self._hs = h._h.copy()
            cls = hd.get("Content-Length")
            if cls:
                try:
                    cl = int(cls[0])
                    if cl < 0:
                        raise ValueError
                except ValueError:
                    log.warning("http: invalid Content-Length %r set by handler; ignored", cls[0])
                    del hd["Content-Length"]
                else:
                    self._cl = cl

    def write(self, data: Any) -> int:
        """Write body bytes (bytes, bytearray or memoryview); returns len(data).
        Raises TypeError for anything else (a str must be encoded first),
        ErrHijacked after ``hijack``, and the connection's error if the client
        is gone (the connection is then closed after the handler)."""
        if type(data) is not bytes and not isinstance(data, (bytearray, memoryview)):
            raise TypeError(f"http: ResponseWriter.write() wants bytes, not {type(data).__name__}"
                            + (" (encode the text first: w.write(s.encode()))"
                               if isinstance(data, str) else ""))
        if self.hijacked:
            raise ErrHijacked()
        if not self._wrote_header:
            self.write_header(200)
        n = len(data)
        if n == 0:
            return 0
        status = self.status
        if status == 204 or status == 304 or status < 200:
            raise ErrBodyNotAllowed()
        if self._cl >= 0 and self._written + n > self._cl:
            raise ErrContentLength()
        self._written += n
        if not self._head_sent:
            # HEAD buffers as GET does (only what sniffing needs is kept), so
            # its head says what GET's would.
            if not self._head_req or self._buflen < 512:
                self._buf.append(data)
            self._buflen += n
            if self._buflen > BUFFER_SIZE:
                self._send_head(False)
            return n
        if self._head_req:
            return n
        self._send_body(data, n)
        return n

    def flush(self) -> None:
        """Send the head and everything buffered now (a streaming response)."""
        if self.hijacked:
            raise ErrHijacked()
        if not self._wrote_header:
            self.write_header(200)
        if not self._head_sent:
            self._send_head(False)

    def hijack(self) -> tuple[Any, bytes]:
        """Take over the connection: returns (Conn, bytes already read from it).

        Anything buffered is sent first. The server forgets the connection;
        closing it is now the caller's job.
        """
        if self.hijacked:
            raise ErrHijacked()
        if self._wrote_header and not self._head_sent:
            self._send_head(False)
        conn, rest = self._ex.hijack()
        self.hijacked = True
        return conn, rest

    def sendfile(self, file: Any, offset: int = 0, count: int | None = None) -> int:
        """Write ``count`` bytes of ``file`` from ``offset`` as body, with sendfile(2)
        when nothing forces a copy (no chunking, not HEAD); returns bytes sent."""
        import os

        if self.hijacked:
            raise ErrHijacked()
        fd = file if isinstance(file, int) else file.fileno()
        if count is None:
            count = os.fstat(fd).st_size - offset
        if not self._wrote_header:
            self.write_header(200)
        if count <= 0:
            return 0
        status = self.status
        if status == 204 or status == 304 or status < 200:
            raise ErrBodyNotAllowed()
        if self._head_req:
            self._written += count
            return count
        hs = self._hs
        if (not self._head_sent and self._cl < 0 and self._buflen == 0 and not self._te()
                and not (hs is not None and _first(hs, "Content-Encoding"))):
            # The whole body is this file: declare its length, skip chunking
            # (not under a Content-Encoding: as Go, whatever encodes the body
            # may change its length).
            self._cl = count
        if self._cl >= 0 and self._written + count > self._cl:
            raise ErrContentLength()
        if not self._head_sent:
            self._send_head(False)
        if self._chunked:
            sent = 0
            while sent < count:
                data = os.pread(fd, min(count - sent, 1 << 16), offset + sent)
                if not data:
                    break
                self.write(data)
                sent += len(data)
            return sent
        self._written += count
        try:
            sent = self._ex.send_file(fd, offset, count)
        except OSError:
            self.failed = True
            raise
        if sent < count:
            self.failed = True  # file shrank: the declared length cannot be met
        return sent

    @property
    def written(self) -> int:
        """Body bytes written by the handler so far."""
        return self._written

    @property
    def head_sent(self) -> bool:
        return self._head_sent

    # -- WriterControl (gonet.http.iface): the connection's side -------------
    # ``hijacked``, ``closes`` and ``failed`` are plain attributes (read on
    # every request); only the writer sets them.

    def close_after(self) -> None:
        """Make this response the connection's last (``Connection: close`` if
        the head has not been sent)."""
        self.closes = True

    # -- sending -------------------------------------------------------------

    def _send_informational(self, status: int) -> None:
        if self._head_sent or self._http10:
            return
        parts = [_status_str(status)]
        h = self._h
        if h is not None:
            for k, vs in h._h.items():
                for v in vs:
                    parts.append(f"{k}: {v}\r\n")
        parts.append("\r\n")
        self._raw_write(_encode_head("".join(parts)))

    def _te(self) -> str:
        """The Transfer-Encoding the handler set (lower-case), or ""."""
        hd = self._hs
        te = hd.get("Transfer-Encoding") if hd is not None else None
        return te[0].strip().lower() if te else ""

    def _head(self, final: bool) -> str:
        """The status line and headers, with the framing decided here."""
        status = self.status
        hd = self._hs
        parts = [_STATUS_STR.get(status) or _status_str(status)]
        body_ok = status >= 200 and status != 204 and status != 304
        if hd is None:
            hd = {}
        if "Date" not in hd:
            parts.append(_date())
        if hd:
            has_ct = "Content-Type" in hd
            skip = _NOT_COPIED_304 if status == 304 else _NOT_COPIED
            for k, vs in hd.items():
                if k in skip:
                    continue
                for v in vs:
                    parts.append(f"{k}: {v}\r\n")
            conn_vals = hd.get("Connection")
            if conn_vals and any("close" in _tokens(v) for v in conn_vals):
                self.closes = True
        else:
            has_ct = False
            conn_vals = None
        if body_ok:
            te = self._te() if "Transfer-Encoding" in hd else ""
            if not has_ct and self._buflen and not te and not _first(hd, "Content-Encoding"):
                # Go: never sniff a body whose coding or framing the handler chose.
                parts.append("Content-Type: " + detect_content_type(b"".join(self._buf)) + "\r\n")
            if te and te != "identity" and self._cl >= 0:
                log.warning("http: handler set both Transfer-Encoding %r and Content-Length %d; "
                            "the Content-Length is dropped", te, self._cl)
                self._cl = -1
            if self._cl >= 0:
                parts.append(f"Content-Length: {self._cl}\r\n")
                if final and self._written < self._cl and not self._head_req:
                    self.closes = True  # the client waits for bytes that will never come
            elif te:
                # The handler chose the framing (as Go: "identity" means until
                # the connection closes; any other coding is sent as set,
                # then chunked).
                if te == "identity" or self._http10:
                    if not self._head_req:
                        self.closes = True
                else:
                    if te != "chunked":
                        for v in hd["Transfer-Encoding"]:
                            parts.append(f"Transfer-Encoding: {v}\r\n")
                    self._chunked = not self._head_req
                    parts.append("Transfer-Encoding: chunked\r\n")
            elif final and (self._written or not self._head_req) and "Content-Length" not in hd:
                # (A Content-Length key with no value is Go's way to ask for none.)
                self._cl = self._written
                parts.append(f"Content-Length: {self._written}\r\n")
            elif self._head_req:
                pass  # a streamed HEAD: length unknown, nothing to frame
            elif self._http10:
                self.closes = True  # body ends when the connection does
            else:
                self._chunked = True
                parts.append("Transfer-Encoding: chunked\r\n")
        if not self.closes and self._ex is not None and not self._ex.keep_alive():
            self.closes = True
        if self.closes:
            parts.append("Connection: close\r\n\r\n")
        elif conn_vals:  # the handler's own (an upgrade, say)
            for v in conn_vals:
                parts.append(f"Connection: {v}\r\n")
            parts.append("\r\n")
        elif self._http10 and self._keep10:
            parts.append("Connection: keep-alive\r\n\r\n")
        else:
            parts.append("\r\n")
        return "".join(parts)

    def _send_head(self, final: bool) -> None:
        text = self._head(final)
        try:  # _encode_head and _raw_write, inlined: this runs for every response
            head = text.encode("latin-1")
        except UnicodeEncodeError:
            head = text.encode("utf-8")
        self._head_sent = True
        buf = self._buf
        if self._chunked:
            data = head + b"%x\r\n" % self._buflen + b"".join(buf) + b"\r\n" if self._buflen \
                else head
            if final:
                data += b"0\r\n\r\n"  # a short body chunked because the handler asked
        elif buf and not self._head_req:
            data = head + (buf[0] if len(buf) == 1 else b"".join(buf))
        else:
            data = head
        self._buf = []
        self._buflen = 0
        try:
            self._ex.send(data)
        except OSError:
            self.failed = True
            raise

    def _send_body(self, data: Any, n: int) -> None:
        if self._chunked:
            if n < 65536:
                self._raw_write(b"%x\r\n%b\r\n" % (n, data))
            else:
                self._raw_write(b"%x\r\n" % n)
                self._raw_write(data)
                self._raw_write(b"\r\n")
        else:
            self._raw_write(data)

    def _raw_write(self, data: Any) -> None:
        try:
            self._ex.send(data)
        except OSError:
            self.failed = True
            raise

    def finish(self) -> None:
        """Called by the server after the handler returns: send what is left."""
        if self._done or self.hijacked:
            return
        self._done = True
        if not self._wrote_header:
            self.write_header(200)
        if not self._head_sent:
            self._send_head(True)
        elif self._chunked:
            self._raw_write(b"0\r\n\r\n")
        elif self._cl >= 0 and self._written < self._cl and not self._head_req:
            self.closes = True  # the client waits for bytes that will never come
