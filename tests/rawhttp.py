"""Test helper: a raw HTTP/1.1 client side, for tests that must send bytes no
client library would and read exactly what the server answered."""

from __future__ import annotations

import socket


class Responses:
    """Reads responses (Content-Length or chunked) off a raw socket."""

    def __init__(self, s: socket.socket) -> None:
        self.s = s
        self.buf = b""

    def _fill(self) -> bool:
        try:
            d = self.s.recv(65536)
        except ConnectionResetError:
            d = b""
        if not d:
            return False
        self.buf += d
        return True

    def _until(self, sep: bytes) -> bytes | None:
        while sep not in self.buf:
            if not self._fill():
                return None
        i = self.buf.index(sep) + len(sep)
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def _exactly(self, n: int) -> bytes | None:
        while len(self.buf) < n:
            if not self._fill():
                return None
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def next(self, head_request: bool = False) -> tuple[int, dict, bytes] | None:
        """The next final response, or None at EOF."""
        while True:
            head = self._until(b"\r\n\r\n")
            if head is None:
                assert not self.buf, f"a partial response: {self.buf[:200]!r}"
                return None
            lines = head.decode("latin-1").split("\r\n")
            status = int(lines[0].split(" ")[1])
            headers = {}
            for line in lines[1:]:
                if line:
                    k, _, v = line.partition(":")
                    headers[k.strip().lower()] = v.strip()
            if status >= 200:
                break
        if head_request or status in (204, 304):
            body = b""
        elif "content-length" in headers:
            body = self._exactly(int(headers["content-length"]))
        else:
            assert headers.get("transfer-encoding") == "chunked", headers
            body = b""
            while True:
                size = int(self._until(b"\r\n")[:-2], 16)
                body += self._exactly(size + 2)[:-2]
                if not size:
                    break
        return status, headers, body


def connect(port: int, timeout: float = 4.0) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def raw_response(port: int, data: bytes, timeout: float = 4.0) -> bytes:
    """Send ``data`` and half-close; everything the server sends until it closes."""
    s = connect(port, timeout)
    try:
        s.sendall(data)
        try:
            s.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        out = b""
        while True:
            try:
                d = s.recv(65536)
            except ConnectionResetError:
                break
            if not d:
                break
            out += d
        return out
    finally:
        s.close()
