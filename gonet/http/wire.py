"""HTTP layer: HTTP/1.1 message framing, the one module that decides it, and the only one on h11.

Where a request ends is the one question a server and a proxy in front of it
must answer alike: if they disagree, the rest of one request is served as
another (request smuggling). Every framing decision of gonet.http is taken
here, each at the place that cites its clause of RFC 9112 (HTTP/1.1) or
RFC 9110 (HTTP semantics); the rest of the package (the connection loop,
Body, ResponseWriter, the WSGI adapter) reads the decisions from
:class:`RequestHead` and the pieces :class:`RequestParser` hands out, never
from raw headers.

- :class:`RequestParser`: one server connection's incoming side. Bytes go in
  (``feed``); complete request heads (:class:`RequestHead`) and then the
  pieces of each request's body come out. It keeps the bytes read past the
  current request for the next one (pipelining) or for a hijacker.
- :class:`RequestHead`: one request's method, target, version and header
  triples ``(raw name, lower-case name, value)``, with the framing decided
  once: body length or chunked, whether the connection ends after the
  response, ``Expect: 100-continue``.
- :class:`ProtocolError`: a request the server must refuse, with the status
  to answer (400, 417, 431, 501, 505); the connection then closes.

Two head parsers
----------------

A head is parsed by one of two readers, picked per connection
(``RequestParser(fast=...)``; ``GONET_HTTP_PARSER=public`` picks the second
for a whole process). The test suite runs every HTTP test through both, and
the conformance corpus holds them to the same answers.

- *fast*: this module's own reader of the RFC 9112 grammar on a bytearray.
  Its field-line pattern admits no control byte, no obs-fold and no bare CR,
  so the strict rules cost nothing more than the parse, and it builds no
  h11 event.
- *public*: h11's public API (``Connection.next_event``). h11 is more lenient
  in places (control bytes in values, obs-fold, Transfer-Encoding statuses,
  CONNECT without Host), so its heads are checked on their raw bytes and
  its errors reclassified here, to the same answers.

Bodies are framed here for both paths (Content-Length, chunked): h11 admits
chunk sizes of 20 hex digits and bare-LF trailer lines, a proxy may not.

Rules enforced (besides the grammar: method token, request-target of
visible ASCII, ``HTTP/d.d``, ``name: value`` field lines)
-------------------------------------------------------------------------

=====================================================  ==================  =====
rule                                                   clause              reply
=====================================================  ==================  =====
empty lines before the request-line are ignored        9112 2.2            --
a bare CR anywhere in the head                         9112 2.2            400
a first line that is no request-line: answered as
soon as it is complete, not at the head timeout        9112 3              400
major version other than 1 (HTTP/0.9, 2.0, 3.0)        9110 6.2, 9112 2.3  505
HTTP/1.x, x > 1, is served as HTTP/1.1                 9110 6.2            --
whitespace between field name and colon                9112 5.1            400
obs-fold (a field line starting with SP/HTAB)          9112 5.2            400
control bytes (other than HTAB) or NUL in a value      9110 5.5            400
no Host in HTTP/1.1 (CONNECT exempt, as Go), two
Host fields, or a Host byte outside the URI grammar    9112 3.2, 9110 7.2  400
Content-Length not 1*DIGIT, differing values, or
beyond 2**63-1                                         9110 8.6, 9112 6.3  400
Transfer-Encoding in HTTP/1.0                          9112 6.1            400
Transfer-Encoding whose final coding is not chunked    9112 6.3 (4)        400
chunked applied twice                                  9112 7              400
other codings before chunked (gzip, chunked)           9112 6.1            501
Transfer-Encoding and Content-Length together: framed
by chunked, Content-Length dropped, connection closed  9112 6.1, 6.3 (3)   --
neither: no body                                       9112 6.3 (7)        --
Connection is a token list (close; HTTP/1.0
keep-alive)                                            9110 7.6.1, 9112 9  --
Expect: 100-continue (ignored in HTTP/1.0); any other
expectation                                            9110 10.1.1         417
chunk-size over 16 hex digits ("chunk length too
large"), malformed chunk-size line or extension        9112 7.1, 7.1.1     400
chunk lines and chunk-data end in CRLF, never bare LF  9112 7.1            400
trailer lines: CRLF-terminated valid field lines       9112 7.1.2          400
chunk framing overhead bounded (Go's rule)             9112 7.1.1          400
HEAD with a Content-Length above 0 (as Go)             9110 9.3.2          400
a body cut short by EOF                                9112 8              --
=====================================================  ==================  =====

The request-target forms (9112 3.2) are parsed by ``request.URL`` in the
connection loop, which answers 400 for a bad one before any handler runs.

State of a RequestParser::

    HEAD  waiting for a head; ``feed`` appends to the head buffer (fast) or
          to h11's (public)
    BODY  begin_body(): the body is framed here, from ``_buf``; ``feed``
          records EOF on b""
    --next_request()--> HEAD, keeping the bytes read past the body
"""

from __future__ import annotations

import os
import re
from typing import Any

import h11

__all__ = ["FAST_HEAD", "NEED_DATA", "END", "ProtocolError", "RequestHead", "RequestParser"]


class _Sentinel:
    __slots__ = ("_name",)

    def __init__(self, name: str) -> None:
        self._name = name

    def __repr__(self) -> str:
        return self._name


#: ``next_body_event``: more bytes must be fed before the body can go on.
NEED_DATA: Any = _Sentinel("NEED_DATA")
#: ``next_body_event``: the body is complete.
END: Any = _Sentinel("END")

#: True unless ``GONET_HTTP_PARSER=public`` asks for h11's public API everywhere.
FAST_HEAD = os.environ.get("GONET_HTTP_PARSER", "") != "public"

_METHODS = {m.encode(): m for m in ("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS",
                                    "CONNECT", "TRACE")}

_MAX_INT64 = (1 << 63) - 1
#: A chunk-size line longer than this is refused (Go's maxLineLength).
_MAX_CHUNK_LINE = 4096
#: Framing bytes a chunked body may carry beyond 16 per chunk plus twice its
#: data (Go's rule against bodies made of tiny chunks or long extensions).
_MAX_CHUNK_EXCESS = 16 << 10

# -- the grammar -----------------------------------------------------------------
# RFC 9110 5.6.2: token = 1*tchar. RFC 9112 3: request-line = method SP
# request-target SP HTTP-version; the target is visible ASCII (3.2);
# HTTP-version = "HTTP/" DIGIT "." DIGIT (2.3). RFC 9112 5 / RFC 9110 5.5:
# field-line = field-name ":" OWS field-value OWS, the value visible bytes
# (VCHAR, obs-text) with SP/HTAB between them. The field pattern takes the
# whole rest of the line in one class (no nested repetition, so no
# backtracking) and the OWS is stripped afterwards.
_TCHAR = rb"!#$%&'*+\-.^_`|~0-9A-Za-z"
_request_line = re.compile(rb"([%s]+) ([\x21-\x7e]+) HTTP/([0-9])\.([0-9])" % _TCHAR).fullmatch
_field_line = re.compile(rb"([%s]+):([\t\x20-\x7e\x80-\xff]*)" % _TCHAR).fullmatch
_token = re.compile(rb"[%s]+" % _TCHAR).fullmatch
_blank_line = re.compile(rb"\n\r?\n").search
_OWS = b" \t"
# Bytes a head may not hold outside its line ends (RFC 9110 5.5: CTLs other
# than HTAB, and DEL): translate(None, _NOT_BAD) keeps only those.
_NOT_BAD = bytes(b for b in range(256) if 32 <= b < 127 or b >= 128 or b in (9, 10, 13))
# Bytes a Host may hold: those of uri-host ":" port (RFC 3986 3.2.2), as Go's
# httpguts.ValidHostHeader ("[", "]" for IPv6, "%" for zones and escapes).
_HOST_OK = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!$%&'()*+,-.:;=[]_~"
_good_hosts: set = set()  # Host values already found valid (bounded)
# chunk = chunk-size [ chunk-ext ] CRLF (RFC 9112 7.1); chunk-ext = *( BWS ";"
# BWS name [ BWS "=" BWS value ] ) (7.1.1): the extension is checked for
# visible bytes only (it is ignored, as the RFC asks of unknown ones).
_chunk_line = re.compile(rb"([0-9A-Fa-f]+)[ \t]*(?:;[\t\x20-\x7e\x80-\xff]*)?").fullmatch


class ProtocolError(Exception):
    """A request the server cannot serve; ``status`` is the answer (400 by default)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def _transfer_coding_status(values: list) -> int:
    """0 if Transfer-Encoding values (raw bytes, one per field line) say
    exactly "chunked", else the status that refuses them."""
    codings = [c.strip(_OWS).lower() for v in values for c in v.split(b",")]
    codings = [c for c in codings if c]
    if codings == [b"chunked"]:
        return 0
    if not codings or codings[-1] != b"chunked":
        return 400  # RFC 9112 6.3 (4): the length cannot be determined
    if b"chunked" in codings[:-1]:
        return 400  # RFC 9112 7: chunked applied more than once
    return 501  # RFC 9112 6.1: a coding this server does not know


class RequestHead:
    """A parsed request head, with its framing decided (the table in the module docstring).

    ``method`` (str), ``target`` (str, latin-1), ``http10`` (an HTTP/1.0
    request; any other 1.x is served as 1.1), ``headers`` (``(raw name,
    lower-case name, value)`` triples, all bytes, validated; a Content-Length
    overridden by chunked is not among them), ``host`` (the Host header's
    bytes, b"" if none), ``content_length`` (-1 when absent or overridden),
    ``chunked``, ``has_body`` (chunked or a positive length), ``close`` (the
    connection ends after the response: the client asked, HTTP/1.0 without
    ``keep-alive``, or framing that forbids reuse), ``keep_alive10`` (an
    HTTP/1.0 client that asked for keep-alive), ``expect_continue``.

    Raises :class:`ProtocolError` for a head the server must refuse.
    """

    __slots__ = ("method", "target", "http10", "headers", "host", "content_length", "chunked",
                 "has_body", "close", "keep_alive10", "expect_continue")

    def __init__(self, method: bytes, target: bytes, major: bytes, minor: bytes,
                 items: list) -> None:
        if major != b"1":
            raise ProtocolError("unsupported protocol version", 505)  # RFC 9110 6.2
        http10 = minor == b"0"  # HTTP/1.x, x > 1: the highest we support, 1.1
        host = None
        hosts = 0
        cl = -1
        cl_fix = False  # Content-Length sent as a list or more than once
        te = None
        conn_close = keep_alive = False
        expect = False
        for _raw, name, value in items:
            if name == b"host":
                host = value
                hosts += 1
            elif name == b"content-length":
                # RFC 9110 8.6: 1*DIGIT; a list of one repeated value is that
                # value (as h11), anything else is refused.
                if cl >= 0:
                    cl_fix = True
                if not value.isdigit():
                    cl_fix = True
                    vals = {v.strip(_OWS) for v in value.split(b",")}
                    value = vals.pop() if len(vals) == 1 else b""
                    if not value.isdigit():
                        raise ProtocolError("bad Content-Length")
                n = int(value)
                if (cl >= 0 and n != cl) or n > _MAX_INT64:
                    raise ProtocolError("bad Content-Length")
                cl = n
            elif name == b"transfer-encoding":
                if te is None:
                    te = [value]
                else:
                    te.append(value)
            elif name == b"connection":
                # RFC 9110 7.6.1: a comma-separated list of tokens.
                v = value.lower()
                if v == b"keep-alive":
                    keep_alive = True
                elif v == b"close":
                    conn_close = True
                else:
                    toks = {t.strip(_OWS) for t in v.split(b",")}
                    conn_close = conn_close or b"close" in toks
                    keep_alive = keep_alive or b"keep-alive" in toks
            elif name == b"expect":
                # RFC 9110 10.1.1: 100-continue is the only expectation.
                for t in value.lower().split(b","):
                    t = t.strip(_OWS)
                    if t == b"100-continue":
                        expect = True
                    elif t:
                        raise ProtocolError("unsupported expectation", 417)
        m = _METHODS.get(method) or method.decode("ascii")
        if hosts != 1:
            # RFC 9112 3.2: Host is required in HTTP/1.1, at most once. Go
            # lets CONNECT go without it (the target names the authority).
            if hosts > 1:
                raise ProtocolError("too many Host headers")
            if not http10 and m != "CONNECT":
                raise ProtocolError("missing required Host header")
            host = b""
        elif host not in _good_hosts:
            if host.translate(None, _HOST_OK):
                raise ProtocolError("malformed Host header")  # RFC 9110 7.2, RFC 3986 3.2.2
            if len(_good_hosts) < 256:
                _good_hosts.add(host)  # a server sees few hosts: check each once
        if cl > 0 and m == "HEAD":
            # Go refuses it ("method cannot contain a Content-Length"): a
            # proxy may well forward a HEAD without its body.
            raise ProtocolError("HEAD request with a Content-Length")
        close = conn_close if not http10 else not keep_alive
        chunked = False
        if te is not None:
            if http10:
                # RFC 9112 6.1: Transfer-Encoding in HTTP/1.0 means faulty framing.
                raise ProtocolError("Transfer-Encoding in an HTTP/1.0 request")
            status = _transfer_coding_status(te)
            if status:
                raise ProtocolError("unsupported Transfer-Encoding", status)
            chunked = True
            if cl >= 0:
                # RFC 9112 6.1 / 6.3 (3): chunked wins over Content-Length,
                # which is dropped, and the connection MUST close afterwards.
                cl = -1
                close = True
                cl_fix = False
                items = [t for t in items if t[1] != b"content-length"]
        if cl_fix:
            # One field with the one value, as Go and h11 keep it.
            first = next(t for t in items if t[1] == b"content-length")
            items = [(first[0], first[1], b"%d" % cl) if t is first else t for t in items
                     if t is first or t[1] != b"content-length"]
        self.method = m
        self.target = target.decode("latin-1")
        self.http10 = http10
        self.headers = items
        self.host = host
        self.content_length = cl
        self.chunked = chunked
        self.has_body = chunked or cl > 0
        self.close = close
        self.keep_alive10 = http10 and keep_alive
        self.expect_continue = expect and not http10  # RFC 9110 10.1.1: ignored in 1.0

    def __repr__(self) -> str:
        return f"<RequestHead {self.method} {self.target}>"


# -- the fast reader -------------------------------------------------------------------


def _parse_lines(lines: list) -> RequestHead:
    """A RequestHead from a head's lines (line ends removed), strictly."""
    m = _request_line(lines[0])
    if m is None:
        raise ProtocolError(f"malformed request line {bytes(lines[0][:100])!r}")
    items = []
    for line in lines[1:]:
        f = _field_line(line)
        if f is None:
            if line[:1] in (b" ", b"\t"):
                raise ProtocolError("obsolete line folding is not accepted")  # RFC 9112 5.2
            if line.translate(None, _NOT_BAD):
                raise ProtocolError("control character in header field")  # RFC 9110 5.5
            raise ProtocolError(f"malformed header line {bytes(line[:100])!r}")
        name, value = f.groups()
        items.append((name, name.lower(), value.strip(_OWS)))
    return RequestHead(*m.groups(), items)


def _skip_empty_lines(data: bytearray) -> None:
    """RFC 9112 2.2: a server SHOULD ignore empty lines before the request-line."""
    i = 0
    n = len(data)
    while i < n:
        if data[i] == 10:
            i += 1
        elif data[i] == 13 and i + 1 < n and data[i + 1] == 10:
            i += 2
        else:
            break
    if i:
        del data[:i]


def _check_partial(data: bytes | bytearray) -> None:
    """A head not complete yet: refuse it now if its first line is already
    wrong (a PROXY-protocol preamble, TLS, garbage) instead of waiting for
    the head timeout."""
    if not data or data == b"\r":
        return
    if data[0] not in _FIRST_BYTES:
        raise ProtocolError("malformed request line")
    i = data.find(b"\n")
    if i >= 0:
        line = data[:i - 1] if i and data[i - 1] == 13 else data[:i]
        if _request_line(line) is None:
            raise ProtocolError(f"malformed request line {bytes(line[:100])!r}")


# The bytes a request-line can start with (a method's tchars).
_FIRST_BYTES = frozenset(b for b in range(256) if _token(bytes([b])) is not None)


def _read_head_slow(data: bytearray, max_head: int, scan: int = 0) -> tuple[Any, int]:
    """The general case: empty lines first, bare-LF line ends, or an error
    to explain (the fast reader gives up on all of these).

    Returns (the head or None, where the next search for the head's end may
    start): ``scan`` says no head end lies before it, so that a head
    trickling in is not searched from its start at every read.
    """
    if data[:1] in (b"\r", b"\n"):
        _skip_empty_lines(data)
        scan = 0
    m = _blank_line(data, scan)
    if m is None:
        if len(data) > max_head:
            raise ProtocolError("request head too large", 431)
        _check_partial(data)
        return None, max(len(data) - 3, 0)  # a head end may begin in the last 3 bytes
    if m.start() > max_head:
        raise ProtocolError("request head too large", 431)
    # RFC 9112 2.2: a recipient MAY take a bare LF as a line end (and drop
    # the CR before it); a CR left inside a line is invalid.
    lines = bytes(data[:m.start()]).split(b"\n")
    lines = [line[:-1] if line[-1:] == b"\r" else line for line in lines]
    for line in lines:
        if b"\r" in line:
            raise ProtocolError("bare CR in request head")
    head = _parse_lines(lines)
    del data[:m.end()]
    return head, 0


# -- the public (h11) reader's extra checks ----------------------------------------------


def _check_raw_head(raw: bytes) -> None:
    """What h11 lets through: control bytes in values, obs-fold."""
    if raw.translate(None, _NOT_BAD):
        raise ProtocolError("control character in header field")  # RFC 9110 5.5
    if b"\n " in raw or b"\n\t" in raw:
        raise ProtocolError("obsolete line folding is not accepted")  # RFC 9112 5.2


def _raw_fields(raw: bytes, name: bytes) -> list:
    """Values of the field ``name`` (lower-case) in a raw head."""
    out = []
    for line in raw.split(b"\n")[1:]:
        k, sep, v = line.partition(b":")
        if sep and k.lower() == name:
            out.append(v.strip(b" \t\r"))
    return out


def _raw_head_of(raw: bytes) -> bytes:
    m = _blank_line(raw)
    return raw[:m.start()] if m else raw


# -- the parser ---------------------------------------------------------------------------


class RequestParser:
    """The incoming side of one server connection (see the module docstring).

    ``max_head``: the largest head accepted (431 beyond it).
    """

    __slots__ = ("_max", "_fast", "_buf", "_h", "feed", "moved", "_eof", "_left", "_chunk",
                 "_excess", "_trailer", "_scan")

    def __init__(self, max_head: int, fast: bool | None = None) -> None:
        self._max = max_head
        self._fast = FAST_HEAD if fast is None else bool(fast)
        # The fast reader's buffer, and both readers' body buffer.
        self._buf = bytearray()
        self._h: Any = None
        #: ``feed(data)``: bytes read from the connection (b"" once the peer
        #: has closed). A bound method of the buffer that holds them, so that
        #: a read costs no frame of ours.
        if self._fast:
            self.feed = self._buf.extend
        else:
            self._h = h11.Connection(h11.SERVER, max_head)
            self.feed = self._h.receive_data
        #: ``next_request`` must run before the next head.
        self.moved = False
        self._eof = False
        self._left = 0  # body bytes (Content-Length) or chunk bytes still to come
        self._chunk = 0  # chunked state: _SIZE, _DATA, _CRLF, _TRAILER; 0: by length
        self._excess = 0
        self._trailer = 0
        self._scan = 0  # no head end lies before this offset of _buf (fast path)

    @property
    def fast(self) -> bool:
        return self._fast

    def buffered(self) -> int:
        """Bytes held that no head or body piece has used yet."""
        if self._fast or self.feed == self._feed_body:
            return len(self._buf)
        return len(self._h.trailing_data[0])

    # -- heads ------------------------------------------------------------------

    def next_head(self) -> RequestHead | None:
        """The next request head if the buffer holds a whole one; else None.

        Raises :class:`ProtocolError` for a head the server must refuse.
        """
        if not self._fast:
            return self._next_head_public()
        data = self._buf
        end = data.find(b"\r\n\r\n", self._scan)
        if 0 < end <= self._max:
            # The usual head: CRLF line ends, nothing before the request-line.
            # Any bare CR or LF makes a pattern fail, and the slow reader
            # then decides (bare-LF heads are valid, RFC 9112 2.2).
            lines = bytes(data[:end]).split(b"\r\n")
            m = _request_line(lines[0])
            if m is not None:
                items = []
                for line in lines[1:]:
                    f = _field_line(line)
                    if f is None:
                        break
                    name, value = f.groups()
                    items.append((name, name.lower(), value.strip(_OWS)))
                else:
                    head = RequestHead(*m.groups(), items)
                    del data[:end + 4]
                    self._scan = 0
                    return head
        elif end < 0 and not self._scan and data.find(b"\n") < 0 and len(data) <= self._max:
            # Not even one line yet: refuse at once what cannot start a request.
            if data and data[0] not in _FIRST_BYTES and data != b"\r":
                raise ProtocolError("malformed request line")
            return None
        head, self._scan = _read_head_slow(data, self._max, self._scan)
        return head

    def _next_head_public(self) -> RequestHead | None:
        h = self._h
        raw = h.trailing_data[0]
        if raw[:1] in (b"\r", b"\n"):
            if raw == b"\r":
                return None
            data = bytearray(raw)
            _skip_empty_lines(data)
            if len(data) != len(raw):
                raw = bytes(data)
                self._reset_h11(raw)
                h = self._h
        try:
            ev = h.next_event()
        except h11.RemoteProtocolError as e:
            raw = self._public_error(e, raw)  # raises, or gives a head to parse again
            h = self._h
            try:
                ev = h.next_event()
            except h11.RemoteProtocolError as e2:
                raise ProtocolError(str(e2), e2.error_status_hint or 400) from None
            injected = True
        else:
            injected = False
        if ev is h11.NEED_DATA:
            if len(raw) > self._max:
                raise ProtocolError("request head too large", 431)
            _check_partial(raw)
            return None
        if type(ev) is not h11.Request:
            return None  # ConnectionClosed: the caller sees EOF on its own read
        self.moved = True
        used = len(raw) - len(h.trailing_data[0])
        if used > self._max:
            raise ProtocolError("request head too large", 431)
        _check_raw_head(raw[:used])
        items = [(r, r.lower(), v) for r, v in ev.headers.raw_items()]
        if injected:
            items = [t for t in items if t[1] != b"host"]
        v = ev.http_version
        return RequestHead(ev.method, ev.target, v[:1], v[2:3], items)

    def _public_error(self, e: h11.RemoteProtocolError, raw: bytes) -> bytes:
        """h11 refused ``raw``: raise the refusal this module's own reader
        gives (so both paths answer alike), or, for what h11 alone refuses
        and Go accepts (CONNECT without Host), feed h11 the head again with
        the target as Host and return the bytes fed."""
        try:
            _read_head_slow(bytearray(raw), self._max)
        except ProtocolError as mine:
            raise mine from None
        head = _raw_head_of(raw)
        if head[:8] == b"CONNECT " and not _raw_fields(head, b"host"):
            i = raw.find(b"\n") + 1
            target = raw[:i].split(b" ")[1]
            again = raw[:i] + b"Host: " + target + b"\r\n" + raw[i:]
            self._reset_h11(again)
            return again
        raise ProtocolError(str(e), e.error_status_hint or 400) from None

    def _reset_h11(self, data: bytes) -> None:
        h = self._h = h11.Connection(h11.SERVER, self._max)
        self.feed = h.receive_data
        if data:
            h.receive_data(data)

    # -- bodies -----------------------------------------------------------------

    def begin_body(self, head: RequestHead) -> None:
        """Frame the body of ``head`` (which has one) from the bytes that follow it."""
        if not self._fast:
            self._buf = bytearray(self._h.trailing_data[0])
        self._scan = 0
        self.feed = self._feed_body
        self.moved = True
        self._eof = False
        self._excess = 0
        if head.chunked:
            self._chunk = _SIZE
            self._left = 0
        else:
            self._chunk = 0
            self._left = head.content_length

    def body_left(self) -> int:
        """Body bytes still to come by the Content-Length; -1 for a chunked
        body (its length is unknown), 0 when there is none left."""
        return -1 if self._chunk else self._left

    def _feed_body(self, data: bytes) -> None:
        if data:
            self._buf += data
        else:
            self._eof = True

    def next_body_event(self) -> Any:
        """The next piece of the body: non-empty bytes, :data:`END`, or
        :data:`NEED_DATA`. Raises :class:`ProtocolError` for bad framing or
        a body cut short by EOF."""
        buf = self._buf
        if not self._chunk:
            left = self._left
            if not left:
                return END
            n = len(buf)
            if not n:
                if self._eof:
                    raise ProtocolError("unexpected end of request body")
                return NEED_DATA
            if n <= left:
                out = bytes(buf)
                buf.clear()
            else:
                out = bytes(buf[:left])
                del buf[:left]
                n = left
            self._left = left - n
            return out
        return self._chunked()

    def _chunked(self) -> Any:
        """The chunked decoder (RFC 9112 7.1): _SIZE -> _DATA -> _CRLF -> _SIZE
        ... -> last chunk -> _TRAILER -> END."""
        buf = self._buf
        while True:
            state = self._chunk
            if state == _DATA:
                left = self._left
                n = len(buf)
                if not n:
                    break
                if n <= left:
                    out = bytes(buf)
                    buf.clear()
                else:
                    out = bytes(buf[:left])
                    del buf[:left]
                    n = left
                self._left = left - n
                if not self._left:
                    self._chunk = _CRLF
                return out
            if state == _CRLF:
                if len(buf) < 2:
                    if buf[:1] not in (b"", b"\r"):
                        raise ProtocolError("malformed chunked encoding: chunk not followed by CRLF")
                    break
                if buf[0] != 13 or buf[1] != 10:
                    raise ProtocolError("malformed chunked encoding: chunk not followed by CRLF")
                del buf[:2]
                self._chunk = _SIZE
                continue
            i = buf.find(b"\n")
            if i < 0:
                if len(buf) > _MAX_CHUNK_LINE:
                    raise ProtocolError("malformed chunked encoding: line too long")
                break
            if not i or buf[i - 1] != 13:
                raise ProtocolError("malformed chunked encoding: bare LF")
            if i > _MAX_CHUNK_LINE and state == _SIZE:
                raise ProtocolError("malformed chunked encoding: line too long")
            line = bytes(buf[:i - 1])
            del buf[:i + 1]
            if state == _SIZE:
                m = _chunk_line(line)
                if m is None:
                    raise ProtocolError("malformed chunked encoding: bad chunk-size line")
                digits = m.group(1)
                if len(digits) > 16:
                    raise ProtocolError("chunk length too large")
                size = int(digits, 16)
                # Go's rule: framing beyond 16 bytes a chunk plus twice its data
                # is overhead; too much of it is an attack, not a body.
                excess = self._excess + len(line) + 2 - 16 - 2 * size
                self._excess = excess if excess > 0 else 0
                if self._excess > _MAX_CHUNK_EXCESS:
                    raise ProtocolError("chunked encoding contains too much non-data")
                if size:
                    self._left = size
                    self._chunk = _DATA
                else:
                    self._chunk = _TRAILER
                    self._trailer = 0
                continue
            # _TRAILER (RFC 9112 7.1.2): field lines up to an empty line; they
            # are checked and dropped.
            if not line:
                self._chunk = 0
                self._left = 0
                return END
            self._trailer += len(line) + 2
            if self._trailer > self._max:
                raise ProtocolError("trailer section too large", 431)
            if _field_line(line) is None:
                raise ProtocolError(f"malformed trailer line {line[:100]!r}")
        if self._eof:
            raise ProtocolError("unexpected end of request body (incomplete chunked body)")
        return NEED_DATA

    def next_request(self) -> None:
        """After a response whose request ``moved`` the parser: be ready for
        the next head, keeping the bytes already read past this request."""
        if not self.moved:
            return
        self.moved = False
        self._chunk = 0
        self._left = 0
        if self._fast:
            self.feed = self._buf.extend
            return
        rest = bytes(self._buf) if self.feed == self._feed_body else self._h.trailing_data[0]
        self._buf = bytearray()
        self._reset_h11(rest)

    def take_rest(self) -> bytes:
        """The bytes read past the current request (for a hijacker); the
        parser is not used afterwards."""
        if self._fast or self.feed == self._feed_body:
            return bytes(self._buf)
        return self._h.trailing_data[0]


# States of the chunked decoder (0: the body is framed by its length).
_SIZE, _DATA, _CRLF, _TRAILER = 1, 2, 3, 4


# == the client side ==================================================================
#
# One client connection's wire (:class:`ClientCodec`): request heads and body
# framing out, response heads (:class:`ResponseHead`) and body pieces in.
# Separate from the server's classes above. The framing of a response is
# RFC 9112 section 6.3:
#
#   1. a response to HEAD, a 1xx, 204 or 304 has no body, whatever it says;
#      a 2xx to CONNECT ends the message: the connection becomes a tunnel
#   2. Transfer-Encoding (chunked, the only coding h11 accepts) beats
#      Content-Length; the connection is not reused after such a response
#   3. Content-Length: exactly that many bytes
#   4. neither: the body runs until the server closes the connection
#
# Two paths, as for requests:
#
# - *public*: an ``h11.Connection(h11.CLIENT)`` driven through its public
#   API, both directions (h11 writes the request and its framing, and parses
#   the response).
# - *fast*: the request head is written here. A response head that passes
#   :func:`_quick_head`'s checks (done with bytes methods, no regex: a CRLF
#   head, no obs-fold, no NUL/VT/FF or bare CR, a status-line and token
#   field names as h11's grammar has them) is split here: every head those
#   checks accept, h11 accepts with the same fields. Anything else (bare LF
#   line ends, obs-fold, garbage) goes to h11's own head reader, which
#   accepts or raises exactly as h11 does. Content-Length bodies are counted
#   here; chunked ones go through h11's ChunkedReader on h11's
#   ReceiveBuffer. Why: h11's reader and Response event cost about 110k
#   instructions per head (a regex per field line, then validation again),
#   more than the rest of a request's client path together; the quick split
#   costs a tenth of that. The test suite holds both paths to the same
#   answers on a corpus of heads.
#
# State of a ClientCodec::
#
#     IDLE    request_head() -> REQUEST (body_data()/body_end() frame its body)
#     REQUEST next_head() returns 1xx heads (stay) or the final head
#     begin_body(head) -> BODY: next_body_event() until END
#     next_cycle() -> IDLE, or False when the connection cannot carry another
#                     exchange (bytes left over, h11 not DONE on both sides)

# h11's names, taken here again so that this section depends on nothing of
# the server side's but ProtocolError, FAST_HEAD, NEED_DATA and END.
_CLIENT = h11.CLIENT
_Response = h11.Response
_InformationalResponse = h11.InformationalResponse
_PAUSED = h11.PAUSED
_H11_NEED_DATA = h11.NEED_DATA
_H11_Data = h11.Data
_H11_EOM = h11.EndOfMessage

#: A response body framing: none, Content-Length, chunked, until EOF.
_NONE, _LENGTH, _CHUNKED, _EOF = 0, 1, 2, 3

_CL_RE = re.compile(rb"[0-9]+")


class ResponseHead:
    """A parsed response head with its framing decided.

    ``status_code`` (int), ``reason`` (str), ``http10``, ``headers`` (the
    ``(raw name, lower-case name, value)`` triples, bytes, validated; built
    on first use by the fast path), ``content_length`` (-1 when absent or
    overridden by chunked), ``chunked``, ``close`` (the server ends the
    connection after this response: ``Connection: close``, HTTP/1.0 without
    keep-alive, or a body delimited by EOF, see ``ClientCodec.begin_body``),
    ``gzip`` (``Content-Encoding: gzip``), ``informational`` (1xx),
    ``framing`` (set by ``begin_body``).

    ``fields``: the (lower-case name, value) pairs of the fields that decide
    the framing (Content-Length, Transfer-Encoding, Connection,
    Content-Encoding). Raises :class:`ProtocolError` for what h11 refuses in
    them: a Content-Length that is not digits or two that differ, two
    Transfer-Encoding fields, or a coding other than chunked.
    """

    __slots__ = ("status_code", "reason", "http10", "_items", "_raw", "content_length",
                 "chunked", "close", "gzip", "informational", "framing")

    def __init__(self, code: int, reason: bytes, http10: bool, fields: list,
                 items: list | None = None, raw: bytes = b"") -> None:
        cl = -1
        chunked = False
        conn_tok = None
        gzip = False
        for name, value in fields:
            if name == b"content-length":
                value = value.strip(b" \t")
                if b"," in value:
                    vals = {v.strip() for v in value.split(b",")}
                    if len(vals) != 1:
                        raise ProtocolError("malformed HTTP response: conflicting Content-Length")
                    value = vals.pop()
                if not value.isdigit():
                    raise ProtocolError(f"malformed HTTP response: bad Content-Length {value!r}")
                n = int(value)
                if cl >= 0 and n != cl:
                    raise ProtocolError("malformed HTTP response: conflicting Content-Length")
                cl = n
            elif name == b"transfer-encoding":
                if chunked:
                    raise ProtocolError("malformed HTTP response: two Transfer-Encoding fields")
                if value.strip(b" \t").lower() != b"chunked":
                    raise ProtocolError("malformed HTTP response: unsupported Transfer-Encoding "
                                        f"{value!r}")
                chunked = True
            elif name == b"connection":
                value = value.lower()
                conn_tok = value if conn_tok is None else conn_tok + b"," + value
            elif name == b"content-encoding":
                gzip = value.strip(b" \t").lower() == b"gzip"
        self.status_code = code
        self.reason = reason.decode("latin-1")
        self.http10 = http10
        self._items = items
        self._raw = raw
        self.informational = code < 200
        if http10:
            close = conn_tok is None or b"keep-alive" not in conn_tok
        else:
            close = conn_tok is not None and b"close" in conn_tok
        if chunked and cl >= 0:
            # RFC 9112 6.3 (3): chunked wins; the message smells of smuggling,
            # so the connection carries nothing after it.
            cl = -1
            close = True
        self.content_length = cl
        self.chunked = chunked
        self.close = close
        self.gzip = gzip
        self.framing = _NONE

    @property
    def headers(self) -> list:
        items = self._items
        if items is None:
            items = self._items = _split_fields(self._raw)
        return items

    def __repr__(self) -> str:
        return f"<ResponseHead {self.status_code} {self.reason}>"


def _split_fields(raw: bytes) -> list:
    """The field triples of a head the quick check accepted, normalised as
    h11 normalises them: one Content-Length (its values agree: checked),
    Transfer-Encoding lower-cased."""
    items = []
    seen_cl = False
    for line in raw.split(b"\r\n"):
        if not line:
            continue
        name, _, value = line.partition(b":")
        lname = name.lower()
        value = value.strip(b" \t")
        if lname == b"content-length":
            if seen_cl:
                continue
            seen_cl = True
            value = value.split(b",", 1)[0].strip()
        elif lname == b"transfer-encoding":
            value = value.lower()
        items.append((name, lname, value))
    return items


_FRAMING_NAMES = (b"content-length", b"transfer-encoding", b"connection", b"content-encoding")


def _head_of_event(ev: Any, items: list) -> ResponseHead:
    fields = [(name, value) for _raw, name, value in items if name in _FRAMING_NAMES]
    return ResponseHead(ev.status_code, ev.reason, ev.http_version != b"1.1", fields, items)


def _response_triples(ev: Any) -> list:
    return [(raw, raw.lower(), value) for raw, value in ev.headers.raw_items()]


def _encode_header_value(v: str) -> bytes:
    try:
        return v.encode("latin-1")
    except UnicodeEncodeError:
        return v.encode("utf-8")


_BLANK_LINE = re.compile(rb"\n\r?\n")  # h11's end of a head (bare LF allowed)
# A head whose every line ends in CRLF, with h11's status-line and token
# field names, and no NUL, VT, FF or bare CR (bytes h11's field-value
# refuses); obs-fold and bare LF fail it and go to h11's reader.
_QUICK_HEAD = re.compile(
    rb"HTTP/([0-9]\.[0-9]) ([0-9]{3})(?: ([^\x00\r\n\x0b\x0c]*))?"
    rb"((?:\r\n[-!#$%&'*+.^_`|~0-9A-Za-z]+:[^\x00\r\n\x0b\x0c]*)*)\r\n")
# The fields that decide the framing, from the lower-cased field lines.
_FRAMING_FIELDS = re.compile(
    rb"\n(content-length|transfer-encoding|connection|content-encoding):[ \t]*([^\r]*)")


def _quick_head(head: bytes) -> ResponseHead | None:
    """Split a response head (through its last line's end, the blank line
    excluded) if one match shows that h11 accepts it with the same fields;
    None sends it to h11's reader instead (see "the client side")."""
    m = _QUICK_HEAD.fullmatch(head)
    if m is None:
        return None
    version, code, reason, raw = m.groups()
    fields = _FRAMING_FIELDS.findall(raw.lower()) if raw else []
    return ResponseHead(int(code), reason or b"", version != b"1.1", fields, None, raw)


def _client_fast_parts() -> tuple[Any, Any, Any] | None:
    """(ReceiveBuffer, h11's response-head reader, ChunkedReader) if this h11
    has them and they behave as the fast path expects; else None."""
    try:
        from h11._readers import ChunkedReader, maybe_read_from_SEND_RESPONSE_server
        from h11._receivebuffer import ReceiveBuffer

        buf = ReceiveBuffer()
        if type(buf._data) is not bytearray or not hasattr(buf, "_extract"):
            return None
        buf += b"3\r\nabc\r\n0\r\nT: v\r\n\r\nrest"
        rd = ChunkedReader()
        got = [rd(buf), rd(buf)]
        if (type(got[0]) is not h11.Data or got[0].data != b"abc"
                or type(got[1]) is not h11.EndOfMessage or bytes(buf) != b"rest"):
            return None
        return ReceiveBuffer, maybe_read_from_SEND_RESPONSE_server, ChunkedReader
    except Exception:  # noqa: BLE001 - any surprise means: use the public API
        return None


_client_fast = _client_fast_parts()


def _public_head(sample: bytes, method: str = "GET") -> tuple | None:
    """What h11's public API makes of a response head: (code, reason,
    version, header pairs, rest) or None if it needs more bytes; raises
    h11's error. For the import-time check and the test suite's corpus."""
    ref = h11.Connection(h11.CLIENT)
    ref.send(h11.Request(method=method, target="/", headers=[("Host", "a")]))
    ref.send(h11.EndOfMessage())
    ref.receive_data(sample)
    ev = ref.next_event()
    if ev is _H11_NEED_DATA:
        return None
    return (ev.status_code, ev.reason, ev.http_version, list(ev.headers.raw_items()),
            ref.trailing_data[0])


def _fast_head_parts(sample: bytes) -> tuple | None:
    """The same as :func:`_public_head` through the fast path."""
    c = ClientCodec(1 << 20, fast=True)
    c.request_head("GET", "/", [("Host", "a")], None)
    c.feed(sample)
    h = c.next_head()
    if h is None:
        return None
    return (h.status_code, h.reason.encode("latin-1"), b"1.0" if h.http10 else b"1.1",
            [(raw, value) for raw, _, value in h.headers], c.take_rest())


class ClientCodec:
    """One client connection's wire (see "the client side" above).

    ``max_head``: the largest response head accepted. ``fast``: the path (by
    default the fast one when available and not turned off by
    ``GONET_HTTP_PARSER=public``).
    """

    __slots__ = ("_max", "_fast", "_h", "_buf", "_data", "_method", "_framing", "_left",
                 "_chunks", "_eof", "_chunked_req", "feed")

    def __init__(self, max_head: int, fast: bool | None = None) -> None:
        self._max = max_head
        if fast is None:
            fast = FAST_HEAD
        self._fast = fast and _client_fast is not None
        self._method = b"GET"
        self._framing = _NONE
        self._left = 0
        self._chunks: Any = None
        self._eof = False
        self._chunked_req = False
        if self._fast:
            self._h = None
            buf = self._buf = _client_fast[0]()
            # h11's ReceiveBuffer, read in place (len() and the head match
            # cost no Python frame); consumed through its _extract.
            self._data = buf._data
            #: ``feed(data)``: bytes read from the connection; ``feed_eof()`` at its end.
            self.feed = buf.__iadd__
        else:
            self._h = h11.Connection(_CLIENT)
            self._buf = self._data = None
            self.feed = self._h.receive_data

    @property
    def fast(self) -> bool:
        return self._fast

    def feed_eof(self) -> None:
        """The server closed its side: no more bytes will come."""
        self._eof = True
        if not self._fast:
            self._h.receive_data(b"")

    def buffered(self) -> int:
        """Bytes held that no head or body piece has used yet."""
        return len(self._data) if self._fast else len(self._h.trailing_data[0])

    # -- the request ----------------------------------------------------------

    def request_head(self, method: str, target: str, headers: list, length: int | None) -> bytes:
        """The bytes of a request head. ``headers``: (name, value) str pairs,
        Host first, names tokens and values free of CR/LF/NUL (as
        ``gonet.http.Header`` keeps them); ``length``: None for no body, -1
        for chunked (the caller has put the framing header in ``headers``)."""
        self._method = method
        self._chunked_req = length == -1
        if self._fast:
            parts = [method, " ", target, " HTTP/1.1\r\n"]
            for k, v in headers:
                parts += (k, ": ", v, "\r\n")
            parts.append("\r\n")
            s = "".join(parts)
            try:
                return s.encode("latin-1")
            except UnicodeEncodeError:
                return s.encode("utf-8")
        h = self._h
        try:
            data = h.send(h11.Request(method=method, target=target.encode("ascii"),
                                      headers=[(k, _encode_header_value(v)) for k, v in headers]))
            if length is None:
                data += h.send(h11.EndOfMessage())
        except h11.LocalProtocolError as e:
            raise ProtocolError(f"invalid request: {e}") from None
        return data

    def start_request(self, method: str, length: int | None) -> None:
        """A request whose head the caller has from an earlier
        ``request_head`` with the same arguments (fast path only)."""
        self._method = method
        self._chunked_req = length == -1

    def body_data(self, data: bytes) -> bytes:
        """The bytes that carry ``data`` (non-empty) as part of the request body."""
        if self._fast:
            if self._chunked_req:
                return b"%x\r\n%s\r\n" % (len(data), data)
            return data
        try:
            return self._h.send(h11.Data(data=data))
        except h11.LocalProtocolError as e:
            raise ProtocolError(f"invalid request body: {e}") from None

    def body_end(self) -> bytes:
        """The bytes that end the request body (the last chunk, or nothing)."""
        if self._fast:
            return b"0\r\n\r\n" if self._chunked_req else b""
        try:
            return self._h.send(h11.EndOfMessage())
        except h11.LocalProtocolError as e:
            raise ProtocolError(f"invalid request body: {e}") from None

    # -- the response ---------------------------------------------------------

    def _too_large(self) -> ProtocolError:
        return ProtocolError(f"server response headers exceeded {self._max} bytes; aborted")

    def next_head(self) -> ResponseHead | None:
        """The next response head (a 1xx one too) if a whole one is buffered;
        else None. Raises :class:`ProtocolError` for a malformed or oversized
        head, or one cut short by EOF."""
        if self._fast:
            data = self._data
            if not data:
                if self._eof:
                    raise ProtocolError("unexpected EOF reading the response head")
                return None
            m = _BLANK_LINE.search(data)
            if m is None:
                if len(data) > self._max:
                    raise self._too_large()
                if data[0] < 0x21:
                    raise ProtocolError("malformed HTTP response: illegal status line")
                if self._eof:
                    raise ProtocolError("unexpected EOF reading the response head")
                return None
            end = m.start() + 1
            if end > self._max:
                raise self._too_large()
            head = bytes(data[:end])
            parsed = _quick_head(head)
            if parsed is None:
                return self._slow_head()
            self._buf._extract(m.end())
            return parsed
        h = self._h
        before = len(h.trailing_data[0])
        try:
            ev = h.next_event()
        except h11.ProtocolError as e:
            if before > self._max:
                raise self._too_large() from None
            raise ProtocolError(f"malformed HTTP response: {e}") from None
        t = type(ev)
        if t is _Response or t is _InformationalResponse:
            if before - len(h.trailing_data[0]) > self._max:
                raise self._too_large()
            return _head_of_event(ev, _response_triples(ev))
        if ev is _H11_NEED_DATA:
            if before > self._max:
                raise self._too_large()
            return None
        raise ProtocolError("unexpected EOF reading the response head")

    def _slow_head(self) -> ResponseHead:
        # What the one-go match refused: h11's own reader decides (obs-fold
        # and bare CR are its to accept or refuse).
        try:
            ev = _client_fast[1](self._buf)
        except h11.ProtocolError as e:
            raise ProtocolError(f"malformed HTTP response: {e}") from None
        if ev is None:  # cannot happen: a blank line is buffered
            raise ProtocolError("malformed HTTP response")
        return _head_of_event(ev, ev.headers._full_items)

    def begin_body(self, head: ResponseHead) -> None:
        """Frame the body of the final response ``head`` (RFC 9112 6.3)."""
        code = head.status_code
        method = self._method
        if method == "HEAD" or code in (204, 304) or (method == "CONNECT" and code < 300):
            f = _NONE
        elif head.chunked:
            f = _CHUNKED
        elif head.content_length >= 0:
            f = _LENGTH
            self._left = head.content_length
        else:
            f = _EOF
            head.close = True
        head.framing = f
        self._framing = f
        if f == _CHUNKED and self._fast:
            self._chunks = _client_fast[2]()

    def buffered_body(self) -> tuple[bytes, bool]:
        """The body bytes already buffered, and whether they end the body
        (no read needed). Call right after ``begin_body``."""
        if self._fast and self._framing == _LENGTH:
            left = self._left
            data = self._data
            n = len(data)
            if n >= left:
                piece = bytes(data[:left]) if n > left else bytes(data)
                self._buf._extract(left)
                self._left = 0
                return piece, True
            piece = bytes(data)
            self._buf._extract(n)
            self._left = left - n
            return piece, False
        pieces = []
        while True:
            ev = self.next_body_event()
            if ev is NEED_DATA or ev is END:
                break
            pieces.append(ev)
        return (pieces[0] if len(pieces) == 1 else b"".join(pieces)), ev is END

    def next_body_event(self) -> Any:
        """The next piece of the response body: non-empty bytes, :data:`END`,
        or :data:`NEED_DATA`. Raises :class:`ProtocolError` for bad framing
        or a body cut short by EOF."""
        if self._fast:
            f = self._framing
            if f == _LENGTH:
                left = self._left
                if not left:
                    return END
                data = self._data
                n = len(data)
                if not n:
                    if self._eof:
                        raise ProtocolError(f"unexpected EOF reading the body ({left} bytes "
                                            "missing)")
                    return NEED_DATA
                if n <= left:
                    piece = bytes(data)
                    self._buf._extract(n)
                    self._left = left - n
                else:
                    piece = bytes(data[:left])
                    self._buf._extract(left)
                    self._left = 0
                return piece
            if f == _NONE:
                return END
            if f == _EOF:
                data = self._data
                if not data:
                    return END if self._eof else NEED_DATA
                piece = bytes(data)
                self._buf._extract(len(piece))
                return piece
            try:
                ev = self._chunks(self._buf)
            except h11.ProtocolError as e:
                raise ProtocolError(f"malformed chunked encoding: {e}") from None
            if ev is None:
                if self._eof:
                    raise ProtocolError("unexpected EOF reading the chunked body")
                return NEED_DATA
            if type(ev) is _H11_Data:
                return bytes(ev.data) if ev.data else self.next_body_event()
            return END
        h = self._h
        try:
            while True:
                ev = h.next_event()
                t = type(ev)
                if t is _H11_Data:
                    if ev.data:
                        return bytes(ev.data)
                    continue
                if t is _H11_EOM or ev is _PAUSED:
                    return END
                if ev is _H11_NEED_DATA:
                    return NEED_DATA
                raise ProtocolError("unexpected EOF reading the body")
        except h11.ProtocolError as e:
            msg = str(e)
            if "peer closed connection" in msg:
                raise ProtocolError(f"unexpected EOF reading the body ({msg})") from None
            raise ProtocolError(f"malformed response body: {msg}") from None

    def next_cycle(self) -> bool:
        """After a whole exchange: be ready for the next one. False if this
        connection cannot carry another (bytes left over, or h11 not done)."""
        self._framing = _NONE
        self._chunks = None
        if self._fast:
            return not self._data and not self._eof
        h = self._h
        if h.our_state is not h11.DONE or h.their_state is not h11.DONE:
            return False
        if h.trailing_data[0]:
            return False
        try:
            h.start_next_cycle()
        except h11.LocalProtocolError:
            return False
        return True

    def take_rest(self) -> bytes:
        """The bytes read past the response head (a tunnel's first bytes)."""
        if self._fast:
            return bytes(self._data)
        return self._h.trailing_data[0]


def _check_fast_client() -> bool:
    """The fast head parse gives what h11's public API gives on samples."""
    samples = [
        b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nX-A:  b \r\n\r\nabc",
        b"HTTP/1.0 404 Not Found\r\nServer: x\r\n\r\n",
        b"HTTP/1.1 100 Continue\r\n\r\n",
        b"HTTP/1.1 204\r\nConnection: close\r\n\r\n",
        b"HTTP/1.1 200 OK\nA: b\n\nrest",
        b"HTTP/1.1 200 OK\r\nA: b\r\n  folded\r\n\r\n",
    ]
    try:
        return all(_fast_head_parts(s) == _public_head(s) for s in samples)
    except Exception:  # noqa: BLE001 - any surprise means: use the public API
        return False


if _client_fast is not None and not _check_fast_client():
    _client_fast = None

__all__ += ["ClientCodec", "ResponseHead"]
