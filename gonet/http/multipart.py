"""HTTP layer: multipart/form-data bodies (Go's ``mime/multipart`` Reader, Part, Form).

A request's multipart body is read three ways, as in Go:

- ``r.multipart_reader()``: a :class:`Reader` whose ``next_part()`` hands out
  one :class:`Part` at a time; a part's bytes stream from the connection as
  the handler reads them (nothing is buffered beyond one piece of the body).
- ``r.parse_multipart_form(max_memory)``: the whole form, read into a
  :class:`Form`: text fields in ``value``, files in ``file``. A file is kept
  in memory while the files so far fit in ``max_memory`` bytes; a larger one
  is spooled to a temporary file on disk (``tempfile.gettempdir()``, so
  ``TMPDIR`` chooses it). The server removes the form's temporary files when
  the handler returns (``Form.remove_all``; the request's Exchange runs it).
- ``r.form_file(name)``: the first file of a field, parsed with 32 MB of memory.

Limits (Go's): text fields may take ``max_memory`` + 10 MB in all, at most
1,000 parts, part heads at most 4 KB and 16 lines each; over a limit,
:class:`ErrMessageTooLarge` (status 413). A malformed body raises
:class:`MultipartError` (status 400). Both are ``RequestBodyError``\\s: a
handler that lets one propagate answers with its status.

The parser is ``multipart`` from PyPI (by the author of bottle), its
``PushMultipartParser``: a sans-I/O push parser (the body's bytes go in,
segment heads, data pieces and segment ends come out), the same shape as
``wire.py``'s use of h11, so the read loop and its deadlines stay ours. It
is pure Python in one module with no dependencies, finds boundaries with
``bytes.find`` (C speed), enforces header size and count limits itself, and
is maintained (2.x, 2026). python-multipart (Starlette's) was the other
candidate: its parser is callback-driven, which fits a pull-style reader
worse, and it is larger for what is used here.
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
from collections.abc import Iterator
from typing import Any

import multipart as _mp

from gonet.http.header import Header
from gonet.http.request import RequestBodyError

__all__ = ["Reader", "Part", "Form", "FileHeader", "MultipartError", "ErrNotMultipart",
           "ErrMissingBoundary", "ErrMessageTooLarge", "ErrMissingFile", "boundary_of",
           "DEFAULT_MAX_MEMORY"]

#: ``form_file`` and ``form_value`` parse with this much memory for files (Go's 32 MB).
DEFAULT_MAX_MEMORY = 32 << 20
_VALUE_EXTRA = 10 << 20  # text fields may use max_memory plus this (Go's)
_MAX_PARTS = 1000
_PIECE = 65536


class MultipartError(RequestBodyError):
    """The multipart body is malformed (status 400)."""


class ErrNotMultipart(MultipartError):
    """The request's Content-Type is not multipart/form-data."""

    def __init__(self, ctype: str = "") -> None:
        super().__init__("http: request Content-Type isn't multipart/form-data"
                         + (f" (it is {ctype!r})" if ctype else ""))


class ErrMissingBoundary(MultipartError):
    """A multipart Content-Type without its boundary parameter."""

    def __init__(self) -> None:
        super().__init__("http: no multipart boundary param in Content-Type")


class ErrMessageTooLarge(MultipartError):
    """The form exceeds a limit (memory for values, parts, head size): 413."""

    status = 413


class ErrMissingFile(LookupError):
    """``r.form_file(name)``: the form has no file in that field."""

    def __init__(self, name: str = "") -> None:
        super().__init__(f"http: no such file{f': {name!r}' if name else ''}")


def boundary_of(content_type: str, allow_mixed: bool = False) -> str:
    """The boundary of a multipart Content-Type; ErrNotMultipart or
    ErrMissingBoundary otherwise."""
    ctype, opts = _mp.parse_options_header(content_type or "")
    if ctype != "multipart/form-data" and not (allow_mixed and ctype == "multipart/mixed"):
        raise ErrNotMultipart(ctype)
    b = opts.get("boundary", "")
    if not b:
        raise ErrMissingBoundary()
    return b


_END: Any = object()


class Part:
    """One part of a multipart body: ``header``, ``form_name()``,
    ``file_name()``, and its bytes through ``read(n)`` (streamed)."""

    def __init__(self, reader: Reader, seg: Any) -> None:
        self._reader = reader
        self._seg = seg
        self.header = Header()
        for k, v in seg.headerlist:
            self.header.add(k, v)
        self._buf = b""
        self.done = False

    def __repr__(self) -> str:
        return f"<multipart.Part name={self.form_name()!r} file={self.file_name()!r}>"

    def form_name(self) -> str:
        """The ``name`` of a form-data Content-Disposition, else ""."""
        seg = self._seg
        return seg.name or "" if seg.disposition == "form-data" else ""

    def file_name(self) -> str | None:
        """The ``filename`` of the Content-Disposition (its base name), None without one."""
        fn = self._seg.filename
        if fn is None:
            return None
        return os.path.basename(fn.replace("\\", "/"))

    @property
    def content_type(self) -> str:
        return self._seg.content_type or ""

    def read(self, n: int = -1) -> bytes:
        """Up to ``n`` bytes of the part (all that is left for -1); b"" at its end."""
        if n is None or n < 0:
            parts = [self._buf]
            self._buf = b""
            while not self.done:
                parts.append(self._piece())
            return b"".join(parts)
        while not self._buf and not self.done:
            self._buf = self._piece()
        out, self._buf = self._buf[:n], self._buf[n:]
        return out

    def _piece(self) -> bytes:
        ev = self._reader._event()
        if ev is None or ev is _END:
            self.done = True
            return b""
        if isinstance(ev, _mp.MultipartSegment):  # cannot happen: a part ends with None
            raise MultipartError("http: multipart: part without an end")
        return bytes(ev)

    def readinto(self, b: Any) -> int:
        data = self.read(len(b))
        b[: len(data)] = data
        return len(data)

    def __iter__(self) -> Iterator[bytes]:
        while True:
            data = self.read(_PIECE)
            if not data:
                return
            yield data

    def close(self) -> None:
        """Skip what is left of the part."""
        while not self.done:
            self._piece()
        self._buf = b""


class Reader:
    """Streams the parts of a multipart body (Go's ``multipart.Reader``).

    ``body`` is anything with ``read(n)``; ``next_part()`` returns the next
    :class:`Part` (the previous one's rest is skipped) or None at the end.
    """

    def __init__(self, body: Any, boundary: str, max_parts: int = _MAX_PARTS) -> None:
        self._body = body
        self._parser = _mp.PushMultipartParser(boundary, max_header_size=4096,
                                               max_header_count=16,
                                               max_segment_count=max_parts)
        self._events: Iterator = iter(())
        self._part: Part | None = None
        self._fed_eof = False

    def _event(self) -> Any:
        """The parser's next event (a segment, bytes, None at a part's end), or _END."""
        try:
            while True:
                ev = next(self._events, _END)
                if ev is not _END:
                    return ev
                if self._fed_eof or self._parser.closed:
                    return _END
                data = self._body.read(_PIECE)
                if not data:
                    self._fed_eof = True
                self._events = self._parser.parse(data)
        except _mp.ParserLimitReached as e:
            raise ErrMessageTooLarge(f"http: multipart: {e}") from None
        except _mp.MultipartError as e:
            raise MultipartError(f"http: multipart: {e}") from None

    def next_part(self) -> Part | None:
        p = self._part
        if p is not None:
            p.close()
            self._part = None
        ev = self._event()
        while ev is not _END and not isinstance(ev, _mp.MultipartSegment):
            ev = self._event()  # only after a malformed stream; skip to a head
        if ev is _END:
            if not self._parser.closed:
                raise MultipartError("http: multipart: unexpected end of body")
            return None
        p = self._part = Part(self, ev)
        return p

    def __iter__(self) -> Iterator[Part]:
        while True:
            p = self.next_part()
            if p is None:
                return
            yield p

    def read_form(self, max_memory: int) -> Form:
        """Read every part into a :class:`Form` (Go's ``ReadForm``); see the module docstring."""
        form = Form()
        value_budget = max_memory + _VALUE_EXTRA
        mem_budget = max_memory
        try:
            for p in self:
                name = p.form_name()
                if not name:
                    continue
                filename = p.file_name()
                if filename is None:
                    pieces = []
                    for data in p:
                        value_budget -= len(data)
                        if value_budget < 0:
                            raise ErrMessageTooLarge("http: multipart: message too large "
                                                     "(form values over their memory limit)")
                        pieces.append(data)
                    value = b"".join(pieces).decode("utf-8", "replace")
                    form.value.setdefault(name, []).append(value)
                    continue
                fh = FileHeader(filename, p.header)
                form.file.setdefault(name, []).append(fh)
                chunks: list[bytes] = []
                size = 0
                spool = None
                for data in p:
                    size += len(data)
                    if spool is None and size > mem_budget:
                        spool = tempfile.NamedTemporaryFile(prefix="gonet-multipart-",
                                                            delete=False)
                        fh._path = spool.name
                        for c in chunks:
                            spool.write(c)
                        chunks = []
                    if spool is None:
                        chunks.append(data)
                    else:
                        spool.write(data)
                fh.size = size
                if spool is None:
                    fh._content = b"".join(chunks)
                    mem_budget -= size
                else:
                    spool.close()
        except BaseException:
            form.remove_all()
            raise
        return form


class FileHeader:
    """A file of a parsed form: ``filename``, ``header``, ``size``; ``open()``
    returns a readable binary file (Go's ``multipart.FileHeader``)."""

    def __init__(self, filename: str, header: Header) -> None:
        self.filename = filename
        self.header = header
        self.size = 0
        self._content: bytes | None = None
        self._path: str | None = None

    def __repr__(self) -> str:
        where = "disk" if self._path else "memory"
        return f"<FileHeader {self.filename!r} {self.size} bytes in {where}>"

    @property
    def content_type(self) -> str:
        return self.header.get("Content-Type")

    @property
    def on_disk(self) -> bool:
        """True when the file was spooled to a temporary file."""
        return self._path is not None

    def open(self) -> Any:
        """A new readable binary file over the content (close it when done)."""
        if self._path is not None:
            try:
                return open(self._path, "rb")
            except FileNotFoundError:
                raise OSError(f"http: multipart file {self.filename!r} was removed "
                              "(the request it came with has ended)") from None
        return io.BytesIO(self._content or b"")


class Form:
    """A parsed multipart form (Go's ``multipart.Form``): ``value`` maps names
    to text values, ``file`` names to :class:`FileHeader` lists."""

    def __init__(self) -> None:
        self.value: dict[str, list[str]] = {}
        self.file: dict[str, list[FileHeader]] = {}

    def __repr__(self) -> str:
        return f"<multipart.Form values={list(self.value)} files={list(self.file)}>"

    def remove_all(self) -> None:
        """Remove the temporary files of the form (safe to call twice)."""
        for fhs in self.file.values():
            for fh in fhs:
                if fh._path is not None:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(fh._path)
