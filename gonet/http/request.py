"""HTTP layer: Request, URL, Values, and the request body reader.

A :class:`Request` is what a handler receives: method, URL, protocol,
headers, a body that streams from the connection as the handler reads it,
and the path values the ServeMux matched. To keep the per-request cost low,
the parts most handlers never touch are built on first use: ``header``
(from h11's parsed fields), ``url`` (from the request target) and
``context`` (which may start a goroutine watching for the client to go
away; see gonet.http.server).

The body reader (:class:`Body`) hands out the request's body as the
handler reads it. It buffers what it was given and asks the connection that
serves the request for the next piece (``Exchange.read_body``, see
``gonet.http.iface``); the connection does the framing, and an
``Expect: 100-continue`` request gets its "100 Continue" on the first read,
never before.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlencode, urljoin

from gonet.context import background as _background
from gonet.http.header import Header

__all__ = ["Request", "URL", "URLError", "Values", "Body", "RequestBodyError", "MaxBytesError",
           "new_request"]

_scheme = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*").fullmatch
_bad_escape = re.compile(r"%(?![0-9A-Fa-f]{2})").search
# The bytes of uri-host [":" port] (RFC 3986 3.2.2), as Go's ValidHostHeader.
_HOST_CHARS = frozenset("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                        "!$%&'()*+,-.:;=[]_~")


def _valid_host(host: str) -> bool:
    return all(c in _HOST_CHARS for c in host)


class RequestBodyError(OSError):
    """The request body could not be read (malformed framing, early EOF).

    ``status`` is the answer the client gets when a handler lets this
    propagate (400: its framing was wrong), and the connection closes.
    """

    status = 400


class MaxBytesError(RequestBodyError):
    """The body is larger than the limit set with ``max_bytes_reader``."""

    status = 413

    def __init__(self, limit: int) -> None:
        super().__init__(f"http: request body too large (limit {limit} bytes)")
        self.limit = limit


class Values:
    """Go's ``url.Values``: a multi-valued mapping of query or form parameters."""

    __slots__ = ("_d",)

    def __init__(self, pairs: Any = None) -> None:
        self._d: dict[str, list[str]] = {}
        if pairs:
            items = pairs.items() if isinstance(pairs, dict) else pairs
            for k, v in items:
                if isinstance(v, (list, tuple)):
                    for one in v:
                        self.add(k, one)
                else:
                    self.add(k, v)

    @classmethod
    def parse(cls, qs: str) -> Values:
        """Parse "a=1&b=2&a=3" (``+`` and %-escapes decoded, blanks kept)."""
        v = cls()
        d = v._d
        if qs:
            for k, val in parse_qsl(qs, keep_blank_values=True):
                d.setdefault(k, []).append(val)
        return v

    def get(self, key: str, default: str = "") -> str:
        """The first value for ``key``, or ``default``."""
        vs = self._d.get(key)
        return vs[0] if vs else default

    def values(self, key: str) -> list[str]:
        return list(self._d.get(key, ()))

    def set(self, key: str, value: str) -> None:
        self._d[key] = [value]

    def add(self, key: str, value: str) -> None:
        self._d.setdefault(key, []).append(value)

    def delete(self, key: str) -> None:
        self._d.pop(key, None)

    def has(self, key: str) -> bool:
        return key in self._d

    __contains__ = has

    def __getitem__(self, key: str) -> list[str]:
        return self._d[key]

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._d))

    def __len__(self) -> int:
        return len(self._d)

    def items(self) -> list[tuple[str, list[str]]]:
        return [(k, list(v)) for k, v in self._d.items()]

    def encode(self) -> str:
        """"a=1&b=2", keys sorted as Go does."""
        return urlencode([(k, v) for k in sorted(self._d) for v in self._d[k]])

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Values):
            return self._d == other._d
        if isinstance(other, dict):
            return self._d == other
        return NotImplemented

    def __repr__(self) -> str:
        return f"Values({self._d!r})"


class URL:
    """A parsed request target (Go's ``url.URL``, the parts a server sees).

    ``path`` is decoded; ``raw_path`` holds the original escaped form when it
    differs (when the target had %-escapes), else "".
    """

    __slots__ = ("scheme", "host", "path", "raw_path", "raw_query", "fragment", "opaque")

    def __init__(self, path: str = "/", raw_query: str = "", scheme: str = "", host: str = "",
                 raw_path: str = "", fragment: str = "", opaque: str = "") -> None:
        self.scheme = scheme
        self.host = host
        self.path = path
        self.raw_path = raw_path
        self.raw_query = raw_query
        self.fragment = fragment
        self.opaque = opaque

    def resolve_reference(self, ref: str) -> URL:
        """``ref`` (a Location header, say) resolved against this URL
        (RFC 3986 5.2; Go's ``URL.ResolveReference``)."""
        u, _ = parse_url(urljoin(str(self), ref))
        return u

    @classmethod
    def parse_request_uri(cls, target: str, method: str = "GET") -> URL:
        """Parse a request-target (RFC 9112 3.2): origin-form ("/p?q"),
        absolute-form ("http://h/p?q"), authority-form ("host:443", CONNECT
        only) or asterisk-form ("*", OPTIONS only).

        Raises ValueError for anything else, for a malformed %-escape in the
        path (as Go), and for userinfo in an absolute-form authority
        (RFC 9110 4.2.4). A fragment, which clients never send, is split off
        into ``fragment``, out of the path and the query.
        """
        u = cls.__new__(cls)
        u.scheme = u.host = u.raw_path = u.fragment = u.opaque = ""
        if "#" in target:
            target, _, u.fragment = target.partition("#")
        if target[:1] == "/":
            path, _, u.raw_query = target.partition("?")
        elif target == "*":
            if method != "OPTIONS":
                raise ValueError("the asterisk-form is for OPTIONS only")
            u.path, u.raw_query = "*", ""
            return u
        elif method == "CONNECT":
            hostname, sep, port = target.rpartition(":")
            if (not sep or not hostname or not port.isdigit() or not port.isascii()
                    or not _valid_host(target)):
                raise ValueError("CONNECT needs host:port")
            u.host = target
            u.path = u.raw_query = ""
            return u
        else:
            scheme, sep, rest = target.partition("://")
            if not sep or not _scheme(scheme):
                raise ValueError("not a path, an absolute URI, or * for OPTIONS")
            u.scheme = scheme.lower()
            authority_end = len(rest)
            for ch in "/?":
                i = rest.find(ch)
                if 0 <= i < authority_end:
                    authority_end = i
            host = rest[:authority_end]
            if "@" in host:
                raise ValueError("userinfo in the request target")
            if not _valid_host(host):
                raise ValueError(f"invalid host {host!r}")
            u.host = host
            path, _, u.raw_query = rest[authority_end:].partition("?")
            if not path:
                path = "/"
        if "%" in path:
            if _bad_escape(path):
                raise ValueError("invalid URL escape")
            u.raw_path = path
            try:
                u.path = unquote(path, errors="strict")
            except UnicodeDecodeError:
                u.path = unquote(path, encoding="latin-1")
        else:
            u.path = path
        return u

    def escaped_path(self) -> str:
        """The path as it appears on the wire."""
        if self.raw_path:
            return self.raw_path
        path = self.path
        if _PLAIN_PATH.fullmatch(path):
            return path  # nothing to escape (quote() costs ten times the match)
        return quote(path, safe="/:@!$&'()*+,;=-._~")

    def query(self) -> Values:
        """The query parameters (a fresh :class:`Values` each call)."""
        return Values.parse(self.raw_query)

    def request_uri(self) -> str:
        """Path and query, as in the request line: "/a%20b?x=1"."""
        if self.opaque:
            result = self.opaque
        else:
            result = self.escaped_path() or "/"
        if self.raw_query:
            result += "?" + self.raw_query
        return result

    def __str__(self) -> str:
        s = ""
        if self.scheme:
            s += self.scheme + ":"
        if self.scheme or self.host:
            s += "//" + self.host
        s += self.request_uri() if (self.path or self.raw_query) else ""
        if self.fragment:
            s += "#" + self.fragment
        return s

    def __repr__(self) -> str:
        return f"URL({str(self)!r})"


_PLAIN_PATH = re.compile(r"[A-Za-z0-9/:@!$&'()*+,;=\-._~]*")
_EMPTY_WIRE: list = []
_MAX_FORM_SIZE = 10 << 20  # a urlencoded body (Go's maxFormSize)
_CHUNKED = ("chunked",)


class Request:
    """An HTTP request as a server handler sees it.

    Attributes: ``method`` ("GET"), ``proto`` ("HTTP/1.1"), ``proto_major``,
    ``proto_minor``, ``host`` (from the Host header or the absolute URL),
    ``remote_addr`` ("ip:port"), ``request_uri`` (the raw target),
    ``content_length`` (-1 when unknown, e.g. chunked), ``body`` (a
    :class:`Body`; ``read(n=-1)``), ``close`` (the client asked to close),
    ``pattern`` (the ServeMux pattern that matched), ``tls`` (the
    connection's TLS state; None on plain TCP).
    Lazily built: ``url``, ``header``, ``context``.

    ``url`` is the target URI as RFC 9112 3.3 reconstructs it: its scheme is
    the connection's ("https" over TLS, else "http"; a trusted proxy's with
    ``ProxyHeaders``), never the request line's, and its host is the
    target's authority, else the Host header. (Go leaves Scheme and Host
    empty for an origin-form target and takes an absolute-form target's
    scheme as sent: any client could claim https.)

    The same type is the client's request (Go uses one ``Request`` for both):
    :func:`new_request` with an absolute URL makes one, with ``url`` set,
    ``request_uri`` empty and ``get_body`` able to replay a bytes body.
    """

    __slots__ = (
        "method",
        "request_uri",
        "proto",
        "proto_major",
        "proto_minor",
        "host",
        "remote_addr",
        "content_length",
        "transfer_encoding",
        "body",
        "close",
        "pattern",
        "_url",
        "_wire",
        "_header",
        "_names",
        "_values",
        "_ctx",
        "_ex",
        "_form",
        "_origin",
        "get_body",
        "multipart_form",
        "_mp_used",
    )

    def __init__(self, method: str = "GET", target: str = "/", header: Header | None = None,
                 body: Any = None, proto: str = "HTTP/1.1", host: str = "",
                 remote_addr: str = "", wire_header: list | None = None,
                 exchange: Any = None, content_length: int | None = None,
                 chunked: bool = False, close: bool = False, url: URL | None = None) -> None:
        """A request; handlers get them from the server, tests from :func:`new_request`.

        ``body``: bytes, a reader, or None. The server also passes
        ``wire_header`` (the parsed header triples, turned into ``header`` on
        first use), ``exchange`` (the connection serving the request, see
        ``gonet.http.iface``), the framing it decided (``content_length``,
        ``chunked``), whether the connection ends after the response
        (``close``) and, for an unusual target, the ``url`` it parsed.
        """
        self.method = method
        self.request_uri = target
        self.proto = proto
        if proto == "HTTP/1.1":
            self.proto_major = self.proto_minor = 1
        else:
            self.proto_major, self.proto_minor = (1, 0) if proto == "HTTP/1.0" else (1, 1)
        self._url = None
        self._ex = exchange
        if wire_header is not None:
            self._wire = wire_header
            self._header = header
        else:
            self._wire = _EMPTY_WIRE
            self._header = header if header is not None else Header()
        if not host:
            if target[:1] != "/" and target != "*":
                try:
                    host = self.url.host
                except ValueError:
                    host = ""
            if not host:
                host = self.header.get("Host")
        self.host = host
        if url is not None:
            self._url = self._effective(url)
        self.remote_addr = remote_addr
        self.transfer_encoding = _CHUNKED if chunked else ()
        if body is None:
            self.body = NO_BODY
            self.content_length = 0 if content_length is None else content_length
        elif isinstance(body, (bytes, bytearray, memoryview)):
            self.body = _BytesBody(bytes(body))
            self.content_length = len(body)
        else:
            self.body = body
            self.content_length = -1 if content_length is None else content_length
        self.close = close
        self.pattern = ""
        self._names: list[str] | tuple = ()
        self._values: list[str] | None = None
        self._ctx: Any = None
        self._form: Values | None = None
        self._origin: Request | None = None  # a clone's original: it shares its context
        #: For a client request: returns a fresh copy of the body, so that a
        #: redirect or a retry can send it again (None: it cannot be replayed).
        self.get_body: Any = None
        self.multipart_form: Any = None  # a multipart.Form once parse_multipart_form ran
        self._mp_used = ""  # "reader" / "form": how the multipart body was taken

    def __repr__(self) -> str:
        target = self.request_uri or (str(self._url) if self._url is not None else "")
        return f"<Request {self.method} {target} {self.proto}>"

    @property
    def url(self) -> URL:
        u = self._url
        if u is None:
            u = self._url = self._effective(URL.parse_request_uri(self.request_uri, self.method))
        return u

    def _effective(self, u: URL) -> URL:
        """RFC 9112 3.3: a served request's URL takes its scheme from the
        connection and its host from Host when the target has none."""
        ex = self._ex
        if ex is not None:
            u.scheme = "https" if ex.tls_state is not None else "http"
            if not u.host:
                u.host = self.host
        return u

    @property
    def tls(self) -> Any:
        """The TLS connection state (gonet.tls.ConnectionState) of an HTTPS
        request; None on plain TCP or with no connection (Go's ``r.TLS``)."""
        ex = self._ex
        return ex.tls_state if ex is not None else None

    @url.setter
    def url(self, u: URL) -> None:
        self._url = u

    @property
    def header(self) -> Header:
        h = self._header
        if h is None:
            h = self._header = Header._from_wire(self._wire)
        return h

    @header.setter
    def header(self, h: Header) -> None:
        self._header = h

    @property
    def context(self) -> Any:
        """A gonet.context.Context, done when the client goes away, the handler
        returns, or the server shuts down."""
        ctx = self._ctx
        if ctx is None:
            origin = self._origin
            ex = self._ex
            if origin is not None:
                ctx = self._ctx = origin.context  # one context per exchange
            elif ex is not None:
                ctx = self._ctx = ex.request_context(self)
            else:
                ctx = self._ctx = _background()
        return ctx

    @property
    def local_addr(self) -> Any:
        """The server's address the request came in on (a gonet.Addr), None
        for a request that did not come from a connection."""
        ex = self._ex
        return ex.local_addr() if ex is not None else None

    def with_context(self, ctx: Any) -> Request:
        """A shallow copy of the request carrying ``ctx`` (Go's WithContext);
        with ``ctx`` None the copy shares this request's context."""
        r = self._copy()
        if ctx is not None:
            r._ctx = ctx
            r._origin = None
        return r

    def clone(self) -> Request:
        """A copy with its own header map, sharing this request's body and
        context (Go's Clone with the same context; the context is built on
        first use by whichever of the two asks first)."""
        r = self._copy()
        if self._header is not None:
            r._header = self._header.clone()
        return r

    def _copy(self) -> Request:
        r = Request.__new__(Request)  # a copy: every field comes from self
        for name in Request.__slots__:
            setattr(r, name, getattr(self, name))
        if self._ctx is None:
            r._origin = self._origin or self
        return r

    def path_value(self, name: str) -> str:
        """The value of wildcard ``{name}`` in the matched pattern ("" if none)."""
        vals = self._values
        if vals is None:
            return ""
        try:
            return vals[self._names.index(name)]
        except ValueError:
            return ""

    def set_path_value(self, name: str, value: str) -> None:
        names = list(self._names)
        vals = list(self._values or ())
        if name in names:
            vals[names.index(name)] = value
        else:
            names.append(name)
            vals.append(value)
        self._names, self._values = names, vals

    def _set_match(self, pattern: str, names: list[str], values: list[str]) -> None:
        self.pattern = pattern
        self._names = names
        self._values = values

    def proto_at_least(self, major: int, minor: int) -> bool:
        return (self.proto_major, self.proto_minor) >= (major, minor)

    def form_value(self, key: str) -> str:
        """First value of ``key`` in the query, a urlencoded POST/PUT/PATCH body
        or a multipart form ("" when absent)."""
        return self.form().get(key)

    def form(self) -> Values:
        """Query parameters plus the body's fields: a urlencoded POST/PUT/PATCH
        body (UTF-8, at most 10 MB: MaxBytesError beyond), or a multipart form
        (parsed with ``parse_multipart_form(32 MB)`` first)."""
        f = self._form
        if f is None:
            f = Values.parse(self.url.raw_query)
            if self.method in ("POST", "PUT", "PATCH"):
                ctype = self.header.get("Content-Type").split(";", 1)[0].strip().lower()
                if ctype == "application/x-www-form-urlencoded":
                    data = self.body.read(_MAX_FORM_SIZE + 1)
                    while len(data) <= _MAX_FORM_SIZE:
                        more = self.body.read(_MAX_FORM_SIZE + 1 - len(data))
                        if not more:
                            break
                        data += more
                    if len(data) > _MAX_FORM_SIZE:
                        raise MaxBytesError(_MAX_FORM_SIZE)
                    for k, v in parse_qsl(data.decode("utf-8", "replace"),
                                          keep_blank_values=True):
                        f.add(k, v)
                elif ctype == "multipart/form-data" and self._mp_used != "reader":
                    self._form = f
                    self.parse_multipart_form()
            self._form = f
        return f

    # -- multipart (gonet.http.multipart has the details) -------------------------

    def multipart_reader(self) -> Any:
        """A multipart.Reader streaming the parts of a multipart/form-data (or
        multipart/mixed) body, for handlers that process parts as they come
        (Go's MultipartReader). Raises ErrNotMultipart / ErrMissingBoundary,
        or RuntimeError when the body was taken already."""
        from gonet.http import multipart

        if self._mp_used:
            raise RuntimeError("http: multipart body already read ("
                               + ("multipart_reader called twice)" if self._mp_used == "reader"
                                  else "by parse_multipart_form)"))
        boundary = multipart.boundary_of(self.header.get("Content-Type"), allow_mixed=True)
        self._mp_used = "reader"
        return multipart.Reader(self.body, boundary)

    def parse_multipart_form(self, max_memory: int = 32 << 20) -> Any:
        """Parse a multipart/form-data body into ``self.multipart_form`` (and
        return it); its text fields join ``form()``. Files beyond
        ``max_memory`` bytes in all are spooled to temporary files, removed
        when the handler returns. Does nothing the second time."""
        from gonet.http import multipart

        if self.multipart_form is not None:
            return self.multipart_form
        if self._mp_used == "reader":
            raise RuntimeError("http: multipart body already read by multipart_reader")
        boundary = multipart.boundary_of(self.header.get("Content-Type"))
        f = self._form
        if f is None:  # the query (Go's ParseForm runs first; the body is not urlencoded)
            f = self._form = Values.parse(self.url.raw_query)
        self._mp_used = "form"
        mf = multipart.Reader(self.body, boundary).read_form(max_memory)
        self.multipart_form = mf
        ex = self._ex
        if ex is not None:
            ex.on_handler_done(mf.remove_all)
        for k, vs in mf.value.items():
            for v in vs:
                f.add(k, v)
        return mf

    def form_file(self, key: str) -> tuple[Any, Any]:
        """``(file, FileHeader)`` for the first file of form field ``key``
        (parsing the form with 32 MB of memory if not done); raises
        multipart.ErrMissingFile when there is none. Close the file."""
        from gonet.http import multipart

        mf = self.multipart_form
        if mf is None:
            mf = self.parse_multipart_form(multipart.DEFAULT_MAX_MEMORY)
        fhs = mf.file.get(key)
        if not fhs:
            raise multipart.ErrMissingFile(key)
        return fhs[0].open(), fhs[0]

    # -- cookies (gonet.http.cookie) ------------------------------------------------

    def cookies(self) -> list[Any]:
        """The request's cookies (http.Cookie), each malformed one skipped on its own."""
        from gonet.http.cookie import read_cookies

        return read_cookies(self.header.values("Cookie"))

    def cookies_named(self, name: str) -> list[Any]:
        """The cookies called ``name`` (a request may carry several)."""
        from gonet.http.cookie import read_cookies

        return read_cookies(self.header.values("Cookie"), name)

    def cookie(self, name: str) -> Any:
        """The first cookie called ``name``; raises http.ErrNoCookie."""
        from gonet.http.cookie import ErrNoCookie, read_cookies

        found = read_cookies(self.header.values("Cookie"), name)
        if not found:
            raise ErrNoCookie(name)
        return found[0]

    def add_cookie(self, c: Any) -> None:
        """Add a cookie to the request's Cookie header (Go's AddCookie, for clients)."""
        from gonet.http.cookie import Cookie

        s = str(Cookie(c.name, c.value, quoted=c.quoted))
        if not s:
            raise ValueError(f"http: invalid cookie name {c.name!r}")
        h = self.header
        old = h.get("Cookie")
        h.set("Cookie", f"{old}; {s}" if old else s)


# -- bodies -------------------------------------------------------------------


class _NoBody:
    """The body of a request without one: always at EOF."""

    __slots__ = ()

    def read(self, n: int = -1) -> bytes:
        return b""

    def readinto(self, b: Any) -> int:
        return 0

    def readline(self, limit: int = -1) -> bytes:
        return b""

    def __iter__(self) -> Iterator[bytes]:
        return iter(())

    def close(self) -> None:
        pass

    @property
    def eof(self) -> bool:
        return True

    def __repr__(self) -> str:
        return "NO_BODY"


NO_BODY = _NoBody()


class _BytesBody(io.BytesIO):
    @property
    def eof(self) -> bool:
        return self.tell() >= len(self.getbuffer())


class BodyReader:
    """A body read piece by piece: ``read``, ``read1``, ``readinto``,
    ``readline``, iteration and ``with``. The server's request bodies
    (:class:`Body`) and the client's response bodies (``transport.py``)
    share it. What a subclass gives: ``_next()``, the next piece (b"" at
    the end, after setting ``eof``), and ``close()``; ``_buf`` holds what
    was read and not yet returned."""

    __slots__ = ("_buf", "eof")

    def _next(self) -> bytes:  # pragma: no cover - abstract
        raise NotImplementedError

    def close(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def read(self, n: int = -1) -> bytes:
        buf = self._buf
        if n is None or n < 0:
            parts = [buf] if buf else []
            self._buf = b""
            while not self.eof:
                c = self._next()
                if c:
                    parts.append(c)
            return b"".join(parts) if len(parts) != 1 else parts[0]
        if n == 0:
            return b""
        if not buf:
            if self.eof:
                return b""
            buf = self._next()
        if len(buf) <= n:
            self._buf = b""
            return buf
        self._buf = buf[n:]
        return buf[:n]

    def read1(self, n: int = -1) -> bytes:
        return self.read(n if n is not None and n >= 0 else _READ)

    def readinto(self, b: Any) -> int:
        data = self.read(len(b))
        b[: len(data)] = data
        return len(data)

    def readline(self, limit: int = -1) -> bytes:
        parts = []
        total = 0
        while limit < 0 or total < limit:
            piece = self.read(_READ if limit < 0 else limit - total)
            if not piece:
                break
            i = piece.find(b"\n")
            if i >= 0:
                parts.append(piece[: i + 1])
                self._buf = piece[i + 1 :] + self._buf
                break
            parts.append(piece)
            total += len(piece)
        return b"".join(parts)

    def __iter__(self) -> Iterator[bytes]:
        while True:
            c = self.read(_READ)
            if not c:
                return
            yield c

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


#: How much ``read1``, ``readline`` and iteration ask for at a time.
_READ = 65536


class Body(BodyReader):
    """The request body, read from the connection as the handler asks for it.

    ``read(n=-1)`` returns up to ``n`` bytes (all of it for -1), b"" at the
    end. Errors: :class:`RequestBodyError` for a truncated or malformed body;
    the connection's own errors (DeadlineExceededError when ReadTimeout
    passes) pass through. After any error the connection is not reused.
    """

    __slots__ = ("_ex",)

    def __init__(self, exchange: Any) -> None:
        self._ex = exchange  # an iface.Exchange: read_body() gives the next piece
        self._buf = b""
        self.eof = False

    def __repr__(self) -> str:
        return f"<Body eof={self.eof}>"

    def _next(self) -> bytes:
        data = self._ex.read_body()
        if not data:
            self.eof = True
        return data

    def close(self) -> None:
        """Stop reading; the server drains or closes the connection afterwards."""


def new_request(method: str, url: str, body: Any = None, headers: Any = None,
                context: Any = None) -> Request:
    """A request. With an absolute URL, a client request for ``Client.do``
    (Go's ``NewRequestWithContext``); with a path ("/x"), a request for
    testing a handler without a server (Go's ``httptest.NewRequest``).

    ``body``: bytes (sent with a Content-Length, and replayable for
    redirects and retries), a reader with ``read(n)`` or an iterable of
    bytes (sent chunked), or None. ``headers``: a dict, pairs or a Header.
    ``context``: a gonet context whose cancellation or deadline aborts the
    request (``background()`` if None). A URL's ``user:password@`` becomes
    an ``Authorization: Basic`` header.
    """
    if not method:
        method = "GET"
    elif method not in _METHOD_OK and not _TOKEN_RE.fullmatch(method):
        raise ValueError(f"net/http: invalid method {method!r}")
    if headers is None:
        h = Header()
    else:
        h = headers.clone() if isinstance(headers, Header) else Header(headers)
    if url[:1] == "/" or "://" not in url:
        host = "example.com"
        r = Request(method, url, header=h, body=_client_body(body)[0],
                    host=h.get("Host") or host, remote_addr="192.0.2.1:1234")
        if context is not None:
            r._ctx = context
        return r
    u, userinfo = _parse_cached(url)
    data, _length, get_body = _client_body(body)
    # A client request: no request line yet (request_uri ""), the URL as given.
    r = Request(method, "", h, data, "HTTP/1.1", u.host)
    r._url = u
    r._ctx = context
    r.get_body = get_body
    if userinfo is not None and "Authorization" not in h:
        import base64

        user, _, pw = userinfo.partition(":")
        cred = f"{unquote(user)}:{unquote(pw)}".encode()
        h.set("Authorization", "Basic " + base64.b64encode(cred).decode("ascii"))
    return r


_URL_CACHE: dict[str, tuple] = {}
_URL_CACHE_MAX = 1024


def _parse_cached(raw: str) -> tuple[URL, str | None]:
    """parse_url through a small cache: a client asks for the same URLs again
    and again. Each call gets a URL object of its own."""
    hit = _URL_CACHE.get(raw)
    if hit is None:
        u, userinfo = parse_url(raw)
        hit = (u.scheme, u.host, u.path, u.raw_path, u.raw_query, userinfo)
        if len(_URL_CACHE) >= _URL_CACHE_MAX:
            _URL_CACHE.clear()
        _URL_CACHE[raw] = hit
        return u, userinfo
    u = URL.__new__(URL)
    u.scheme, u.host, u.path, u.raw_path, u.raw_query, userinfo = hit
    u.fragment = u.opaque = ""
    return u, userinfo


_METHOD_OK = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT",
                        "TRACE"})
_TOKEN_RE = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_HOST_OK = re.compile(r"(\[[0-9A-Fa-f:.%a-zA-Z]+\]|[^\s/?#@\[\]]*)(:[0-9]*)?")


def parse_url(raw: str) -> tuple[URL, str | None]:
    """Parse an absolute http(s) URL for a client request: (URL, userinfo or
    None). The fragment is dropped; the host is lower-cased. Raises
    ValueError naming the URL for one that cannot be requested."""
    scheme, sep, rest = raw.partition("://")
    if not sep or not scheme or not _SCHEME_RE.fullmatch(scheme):
        raise ValueError(f"parse {raw!r}: missing protocol scheme")
    if any(c in raw for c in " \t\r\n\0"):
        raise ValueError(f"parse {raw!r}: invalid character in URL")
    rest = rest.partition("#")[0]
    end = len(rest)
    for ch in "/?":
        i = rest.find(ch)
        if 0 <= i < end:
            end = i
    authority, tail = rest[:end], rest[end:]
    userinfo = None
    if "@" in authority:
        userinfo, _, authority = authority.rpartition("@")
    if not _HOST_OK.fullmatch(authority):
        raise ValueError(f"parse {raw!r}: invalid host {authority!r}")
    if tail[:1] == "/":
        u = URL.parse_request_uri(tail)
    else:  # no path: "" or "?query"
        u = URL.parse_request_uri("/" + tail)
        u.path = ""
    u.scheme = scheme.lower()
    u.host = authority if authority[:1] == "[" else authority.lower()
    return u, userinfo


_SCHEME_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*")


def _client_body(body: Any) -> tuple[Any, int | None, Any]:
    """(body for Request, content length or None, get_body or None)."""
    if body is None:
        return None, None, None
    if isinstance(body, str):
        body = body.encode("utf-8")
    if isinstance(body, (bytes, bytearray, memoryview)):
        data = bytes(body)
        if not data:
            return None, 0, None
        return data, len(data), lambda: _BytesBody(data)
    if isinstance(body, io.BytesIO):
        data = body.getvalue()[body.tell():]
        return data, len(data), lambda: _BytesBody(data)
    return body, -1, None


class URLError(OSError):
    """Go's ``url.Error``: what the client was doing, the URL, and why it failed.

    ``str(e)`` reads ``Get "http://127.0.0.1:1/": dial tcp 127.0.0.1:1:
    connect: connection refused``. Attributes: ``op`` ("Get", "Post", ...),
    ``url`` (without a password), ``err`` (the cause, an exception). When the
    cause is a timeout the error is also a ``TimeoutError`` (``timeout()``).
    """

    def __init__(self, op: str, url: str, err: BaseException) -> None:
        super().__init__(f'{op} "{url}": {err}')
        self.op = op
        self.url = url
        self.err = err
        #: For an error raised after a response arrived (a redirect that was
        #: stopped), that response, its body closed; else None.
        self.response: Any = None

    def __str__(self) -> str:
        return str(self.args[0])

    def timeout(self) -> bool:
        return isinstance(self.err, TimeoutError)

    @classmethod
    def of(cls, method: str, url: Any, err: BaseException) -> URLError:
        """The error for ``method`` on ``url`` failing with ``err`` (a
        :class:`URLTimeoutError` when ``err`` is a timeout)."""
        op = method[:1].upper() + method[1:].lower() if method else "Get"
        kind = URLTimeoutError if isinstance(err, TimeoutError) else cls
        return kind(op, _redact(url), err)


class URLTimeoutError(URLError, TimeoutError):
    """A :class:`URLError` whose cause is a timeout."""


def _redact(u: Any) -> str:
    s = str(u)
    scheme, sep, rest = s.partition("://")
    if sep and "@" in rest.split("/", 1)[0]:
        userinfo, _, hostrest = rest.partition("@")
        if ":" in userinfo:
            s = f"{scheme}://{userinfo.split(':', 1)[0]}:xxxxx@{hostrest}"
    return s
