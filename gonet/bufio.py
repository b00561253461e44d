"""Net layer helper: a buffered reader for framed and line protocols (Go's bufio.Reader).

Wraps anything with ``read(n)`` (a :class:`gonet.Conn`, a request body) and
keeps what it read ahead in one bytearray, so ``readline`` and
``read_exactly`` cost one syscall per buffer, not per byte.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Reader", "IncompleteReadError", "LineTooLongError"]


class IncompleteReadError(EOFError):
    """The stream ended before the requested bytes arrived; ``partial`` holds what did."""

    def __init__(self, partial: bytes, expected: int | None) -> None:
        self.partial = partial
        self.expected = expected
        want = "more" if expected is None else str(expected)
        super().__init__(f"unexpected EOF: got {len(partial)} bytes, wanted {want}")


class LineTooLongError(ValueError):
    """No separator within the limit."""


class Reader:
    """Buffered reads over ``rd.read(n)``."""

    __slots__ = ("_rd", "_size", "_buf", "_pos", "_eof")

    def __init__(self, rd: Any, size: int = 65536) -> None:
        self._rd = rd
        self._size = size
        self._buf = bytearray()
        self._pos = 0
        self._eof = False

    def buffered(self) -> int:
        """Bytes read ahead and not yet consumed."""
        return len(self._buf) - self._pos

    def _fill(self) -> bool:
        """Read one more chunk; False at end of stream."""
        if self._eof:
            return False
        if self._pos:
            del self._buf[: self._pos]
            self._pos = 0
        chunk = self._rd.read(self._size)
        if not chunk:
            self._eof = True
            return False
        self._buf += chunk
        return True

    def _take(self, n: int) -> bytes:
        p = self._pos
        out = bytes(self._buf[p : p + n])
        self._pos = p + n
        if self._pos == len(self._buf):
            self._buf.clear()
            self._pos = 0
        return out

    def read(self, n: int = -1) -> bytes:
        """Up to ``n`` bytes (all that is buffered, else one read); -1 reads to EOF."""
        if n < 0:
            while self._fill():
                pass
            return self._take(self.buffered())
        if n == 0:
            return b""
        if not self.buffered():
            if n >= self._size:  # large read, empty buffer: skip the copy
                return b"" if self._eof else self._rd.read(n)
            if not self._fill():
                return b""
        return self._take(min(n, self.buffered()))

    def peek(self, n: int) -> bytes:
        """The next ``n`` bytes without consuming them (fewer at EOF)."""
        while self.buffered() < n and self._fill():
            pass
        p = self._pos
        return bytes(self._buf[p : p + n])

    def read_exactly(self, n: int) -> bytes:
        """Exactly ``n`` bytes, or :class:`IncompleteReadError` at EOF."""
        while self.buffered() < n:
            if not self._fill():
                raise IncompleteReadError(self._take(self.buffered()), n)
        return self._take(n)

    readexactly = read_exactly

    def read_until(self, sep: bytes = b"\n", limit: int = 1 << 16) -> bytes:
        """Bytes up to and including ``sep``; at EOF what is left (maybe b"").

        Raises :class:`LineTooLongError` if ``sep`` is not within ``limit`` bytes.
        """
        start = self._pos
        while True:
            i = self._buf.find(sep, start)
            if i >= 0:
                return self._take(i + len(sep) - self._pos)
            if self.buffered() > limit:
                raise LineTooLongError(f"no {sep!r} within {limit} bytes")
            start = max(self._pos, len(self._buf) - len(sep) + 1)
            before = self._pos
            if not self._fill():
                return self._take(self.buffered())
            start -= before - self._pos  # _fill may have shifted the buffer

    def readline(self, limit: int = 1 << 16) -> bytes:
        """One line including b"\\n"; b"" at EOF."""
        return self.read_until(b"\n", limit)

    def __iter__(self):
        while True:
            line = self.readline()
            if not line:
                return
            yield line
