"""HTTP layer: the client's Transport: pooled keep-alive connections, one
exchange on a connection, the Response and its body, proxies.

Go's ``http.Transport`` (``transport.go``) on gonet: the goroutine that asks
for a response does the whole exchange itself, in plain blocking calls:
take an idle connection or dial one (TCP, then the proxy's CONNECT and TLS
as needed), write the request, read the response head, and hand back a
:class:`Response` whose body reads from the connection as the caller reads
it. No goroutine per connection: Go's persistConn has a readLoop and a
writeLoop; here the caller's goroutine is both, and an idle connection in
the pool is a socket and a few objects, nothing parked.

What Go's readLoop does for an idle connection (notice that the server
closed it) is done when the connection is taken from the pool:
``Conn.readable_now()`` says whether anything (an EOF, unasked bytes) has
arrived. Under epoll that is a look at the pollDesc, no syscall; under the
poll backend one non-blocking peek. What slips through (a server that closes
the very moment the request goes out) is retried once per connection as Go
does: a request that was never written, or an idempotent one whose
connection failed before any byte of a response, goes again on another
connection.

A persistConn's life::

    dial (+ CONNECT + TLS) -> BUSY -> the response body read to its end
                                       |  (reusable: not "close" either way,
                                       |   nothing left over, not cancelled)
                                       v
                          IDLE in the pool -> taken again: BUSY
    BUSY or IDLE -> CLOSED on any error, a body closed before its end, a
    server-closed idle connection, the idle timeout, a pool limit, or
    close_idle_connections()

Cancellation: the request's context (``Client.timeout`` makes one with a
deadline) bounds everything. Its deadline becomes the connection's
deadline for the exchange (reading the body included); cancelling it runs
``context.after_func``, which sets a deadline in the past, so a parked read
or write wakes at once; the connection is then closed, and the error is the
context's.

Pools are per OS thread: a connection belongs to the scheduler of the
thread that dialed it, so a Transport used from several threads keeps one
pool per thread, and its limits apply per thread.
"""

from __future__ import annotations

import _thread
import errno
import os
import ssl
import threading
import time
import weakref
import zlib
from collections import deque
from collections.abc import Callable
from typing import Any

from gonet.chan import Chan, select
from gonet.context import Context, DeadlineExceeded, after_func, background
from gonet.gotime import after_func as timer_after_func
from gonet.http.cookie import Cookie, read_set_cookies
from gonet.http.header import Header
from gonet.http.request import URL, BodyReader, Request, URLError, parse_url
from gonet.http.status import status_text
from gonet.http.wire import END, NEED_DATA, ClientCodec, ProtocolError, ResponseHead
from gonet.net import dial as net_dial
from gonet.net.errors import DeadlineExceededError
from gonet.runtime.sched import get_sched

__all__ = [
    "DEFAULT_USER_AGENT",
    "ProxyURL",
    "Response",
    "Transport",
    "default_transport",
    "proxy_from_environment",
    "proxy_url",
]

#: The User-Agent sent when a request sets none (an empty one sends none).
DEFAULT_USER_AGENT = "gonet-http-client/1.1"

_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
_NO_LENGTH_WHEN_EMPTY = frozenset({"GET", "HEAD"})
# Header keys a request's Header does not write: the Transport writes them itself.
_EXCLUDED = frozenset({"Host", "User-Agent", "Content-Length", "Transfer-Encoding", "Trailer"})
_READ = 65536
_SMALL_BODY = 65536  # a body this size or less goes out in the head's write
_MAX_1XX = 5  # informational responses tolerated before the final one (Go's limit)
_RESET_ERRNOS = frozenset({errno.ECONNRESET, errno.EPIPE, errno.ECONNABORTED})
_BACKGROUND = background()


# -- proxies --------------------------------------------------------------------------


class ProxyURL(URL):
    """A proxy's URL: a :class:`URL` that also carries the ``user:password``
    the proxy asks for (sent as ``Proxy-Authorization: Basic``); ``str()``
    leaves the password out."""

    __slots__ = ("userinfo",)

    def __str__(self) -> str:
        return f"{self.scheme}://{self.host}"


def proxy_url(fixed: str | URL) -> Callable[[Request], URL]:
    """A ``proxy`` function that always answers ``fixed`` (Go's ``ProxyURL``)."""
    u = _parse_proxy(fixed)
    return lambda req: u


def _parse_proxy(s: str | URL) -> ProxyURL:
    if isinstance(s, ProxyURL):
        return s
    s = str(s)
    if "://" not in s:
        s = "http://" + s
    try:
        u, userinfo = parse_url(s)
    except ValueError as e:
        raise ValueError(f"invalid proxy address {s!r}: {e}") from None
    if u.scheme not in ("http", "https"):
        raise ValueError(f"invalid proxy address {s!r}: unsupported scheme {u.scheme!r}")
    p = ProxyURL(u.path, u.raw_query, u.scheme, u.host, u.raw_path)
    p.userinfo = userinfo or ""
    return p


def _env(*names: str) -> str:
    get = os.environ.get
    for n in names:
        v = get(n)
        if v:
            return v
    return ""


class _EnvProxy:
    """The proxy settings of the environment, read once (see proxy_from_environment)."""

    __slots__ = ("http", "https", "no_proxy", "decided")

    def __init__(self) -> None:
        raw_http = _env("HTTP_PROXY", "http_proxy")
        if raw_http and os.environ.get("REQUEST_METHOD"):
            raw_http = ""  # CGI: HTTP_PROXY may come from a request's Proxy header
        raw_https = _env("HTTPS_PROXY", "https_proxy")
        self.http = _parse_proxy(raw_http) if raw_http else None
        self.https = _parse_proxy(raw_https) if raw_https else None
        self.no_proxy = _env("NO_PROXY", "no_proxy")
        self.decided: dict[tuple[str, str], bool] = {}  # (scheme, host:port) -> use the proxy


_env_proxy: _EnvProxy | None = None


def proxy_from_environment(req: Request) -> URL | None:
    """The proxy for ``req`` from ``HTTP_PROXY``, ``HTTPS_PROXY`` and
    ``NO_PROXY`` (or their lower-case forms), Go's ``ProxyFromEnvironment``:
    https URLs use HTTPS_PROXY, http ones HTTP_PROXY (ignored in a CGI
    process, where it could come from a request header); a proxy without a
    scheme is http; NO_PROXY is a comma list of host names (a name matches
    itself and its subdomains, ".name" only subdomains), IP addresses or
    CIDR blocks, each with an optional ":port", or "*". Requests to
    localhost and loopback addresses never use a proxy.

    As in Go, the environment is read once, at the first request that asks,
    and kept for the life of the process (two dictionary misses in
    ``os.environ`` cost more than the rest of choosing a connection).
    """
    global _env_proxy
    env = _env_proxy
    if env is None:
        env = _env_proxy = _EnvProxy()
    u = req.url
    proxy = env.https if u.scheme == "https" else env.http
    if proxy is None:
        return None
    key = (u.scheme, u.host)
    use = env.decided.get(key)
    if use is None:
        host, port = _split_host_port(u.host, u.scheme)
        use = _use_proxy(host, port, env.no_proxy)
        if len(env.decided) < 1024:
            env.decided[key] = use
    return proxy if use else None


def _split_host_port(hostport: str, scheme: str) -> tuple[str, str]:
    if hostport[:1] == "[":
        end = hostport.find("]")
        host, rest = hostport[1:end], hostport[end + 1:]
        port = rest[1:] if rest[:1] == ":" else ""
    elif hostport.count(":") == 1:
        host, _, port = hostport.partition(":")
    else:
        host, port = hostport, ""
    return host.lower(), port or ("443" if scheme == "https" else "80")


def _use_proxy(host: str, port: str, no_proxy: str) -> bool:
    import ipaddress

    if host == "localhost":
        return False
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        ip = None
    if ip is not None and ip.is_loopback:
        return False
    for entry in no_proxy.split(","):
        entry = entry.strip().lower()
        if not entry:
            continue
        if entry == "*":
            return False
        if "/" in entry:
            try:
                if ip is not None and ip in ipaddress.ip_network(entry, strict=False):
                    return False
            except ValueError:
                pass
            continue
        e_host, e_port = entry, ""
        if entry[:1] == "[":
            end = entry.find("]")
            e_host, rest = entry[1:end], entry[end + 1:]
            e_port = rest[1:] if rest[:1] == ":" else ""
        elif entry.count(":") == 1:
            e_host, _, e_port = entry.partition(":")
        if e_port and e_port != port:
            continue
        if ip is not None:
            try:
                if ip == ipaddress.ip_address(e_host):
                    return False
            except ValueError:
                pass
            continue
        if e_host.startswith("*."):
            e_host = e_host[1:]
        if e_host.startswith("."):
            if host.endswith(e_host):
                return False
        elif host == e_host or host.endswith("." + e_host):
            return False
    return True


# -- the response -----------------------------------------------------------------------

_CHUNKED = ("chunked",)
_IDENTITY = ()


class Response:
    """An HTTP response (Go's ``http.Response``), as ``Client.do`` returns it.

    ``status_code`` (200), ``status`` ("200 OK"), ``proto`` ("HTTP/1.1"),
    ``proto_major``/``proto_minor``, ``header`` (a :class:`Header`),
    ``body`` (a reader: ``read(n=-1)``, ``readline``, iteration,
    ``close()``), ``content_length`` (-1 when unknown), ``transfer_encoding``
    (["chunked"] or []), ``close`` (the connection ends after it),
    ``uncompressed`` (the Transport undid a gzip encoding), ``request`` (the
    request that got it, the last one after redirects), ``tls`` (the TLS
    connection state, or None).

    Closing it (``with resp:`` or ``resp.body.close()``) before the body is
    read to its end closes the connection; a body read to its end puts the
    connection back in the pool.
    """

    __slots__ = ("status_code", "proto", "proto_major", "proto_minor", "_wire",
                 "_header", "body", "content_length", "transfer_encoding", "close",
                 "uncompressed", "request", "tls")

    def __init__(self, head: ResponseHead, request: Request, body: Any, tls: Any = None) -> None:
        self.status_code = head.status_code
        if head.http10:
            self.proto, self.proto_major, self.proto_minor = "HTTP/1.0", 1, 0
        else:
            self.proto, self.proto_major, self.proto_minor = "HTTP/1.1", 1, 1
        self._wire = head
        self._header: Header | None = None
        self.body = body
        self.content_length = head.content_length
        self.transfer_encoding = _CHUNKED if head.chunked else _IDENTITY
        self.close = head.close
        self.uncompressed = False
        self.request = request
        self.tls = tls

    def __repr__(self) -> str:
        return f"<Response {self.status} {self.proto}>"

    @property
    def status(self) -> str:
        """The status line's code and reason: "200 OK"."""
        code = self.status_code
        reason = self._wire.reason
        return f"{code} {reason}" if reason else f"{code} {status_text(code)}".rstrip()

    @property
    def header(self) -> Header:
        h = self._header
        if h is None:
            h = self._header = Header._from_wire(self._wire.headers)
        return h

    @header.setter
    def header(self, h: Header) -> None:
        self._header = h

    def cookies(self) -> list[Cookie]:
        """The cookies of the response's Set-Cookie lines."""
        return read_set_cookies(self.header)

    def location(self) -> URL | None:
        """The Location header resolved against the request's URL, or None."""
        loc = self.header.get("Location")
        if not loc:
            return None
        return self.request.url.resolve_reference(loc)

    def __enter__(self) -> Response:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.body.close()


class _BytesBody(BodyReader):
    """A body already read whole (the connection is back in the pool)."""

    __slots__ = ()

    def __init__(self, data: bytes) -> None:
        self._buf = data
        self.eof = True

    def __repr__(self) -> str:
        return f"<body {len(self._buf)} bytes buffered>"

    def _next(self) -> bytes:
        return b""

    def close(self) -> None:
        self._buf = b""


class _ConnBody(BodyReader):
    """A body read from its connection as the caller asks (see _PersistConn)."""

    __slots__ = ("_pc", "_req")

    def __init__(self, pc: _PersistConn, req: Request, first: bytes) -> None:
        self._pc = pc
        self._req = req
        self._buf = first
        self.eof = False

    def __repr__(self) -> str:
        return f"<body of {self._req.method} {self._req.url} eof={self.eof}>"

    def _next(self) -> bytes:
        pc = self._pc
        if pc is None:
            self.eof = True
            return b""
        try:
            piece = pc.read_body()
        except BaseException as e:
            self._pc = None
            self.eof = True
            cause = pc.cause(e)
            pc.fail()
            if isinstance(cause, Exception):
                raise URLError.of(self._req.method, self._req.url, cause) from None
            raise
        if not piece:
            self._pc = None
            self.eof = True
            pc.finish()
        return piece

    def close(self) -> None:
        """Stop reading: a body not read to its end closes the connection."""
        pc = self._pc
        self._buf = b""
        if pc is not None:
            self._pc = None
            self.eof = True
            pc.fail()


class _GzipBody(BodyReader):
    """The transparent gzip decoding of a body (Go's gzipReader)."""

    __slots__ = ("_raw", "_z", "_req", "_fed")

    def __init__(self, raw: BodyReader, req: Request) -> None:
        self._raw = raw
        self._z = zlib.decompressobj(16 + zlib.MAX_WBITS)
        self._req = req
        self._buf = b""
        self.eof = False
        self._fed = False

    def __repr__(self) -> str:
        return f"<gzip {self._raw!r}>"

    def _next(self) -> bytes:
        z = self._z
        while True:
            data = self._raw.read(_READ)
            try:
                if not data:
                    self.eof = True
                    out = z.flush()
                    if self._fed and not z.eof:
                        raise zlib.error("unexpected end of the gzip stream")
                    return out
                self._fed = True
                out = z.decompress(data)
            except zlib.error as e:
                self.eof = True
                self._raw.close()
                raise URLError.of(self._req.method, self._req.url,
                                  OSError(f"gzip: invalid compressed body: {e}")) from None
            if out:
                return out

    def close(self) -> None:
        self._buf = b""
        self.eof = True
        self._raw.close()


class _NoBody(BodyReader):
    __slots__ = ()

    def __init__(self) -> None:
        self._buf = b""
        self.eof = True

    def __repr__(self) -> str:
        return "<no body>"

    def _next(self) -> bytes:
        return b""

    def close(self) -> None:
        pass


# -- one connection ----------------------------------------------------------------------


class _Retry(Exception):
    """A reused connection failed before the server can have acted on the
    request; the Transport may send it again on another connection."""

    def __init__(self, cause: BaseException, nothing_written: bool) -> None:
        super().__init__(str(cause))
        self.cause = cause
        self.nothing_written = nothing_written


class _ServerClosed(ConnectionError):
    """The server closed the connection before any byte of a response."""


class _PersistConn:
    """One client connection (Go's persistConn), BUSY or IDLE (see the module
    docstring). Only the goroutine that holds it BUSY touches it, except
    ``_on_cancel`` (a context's after_func) and the pool's idle timer."""

    __slots__ = ("t", "pool", "key", "conn", "codec", "probe", "tls", "reused", "idle_at",
                 "closed", "_ctx", "_dl", "_stop", "_deadline", "_req", "_keep", "_absolute",
                 "_proxy_auth", "_counted")

    def __init__(self, t: Transport, pool: _Pool, key: tuple, conn: Any, tls_state: Any,
                 absolute: bool, proxy_auth: str | None, counted: bool) -> None:
        self.t = t
        self.pool = pool
        self.key = key
        self.conn = conn
        self.codec = ClientCodec(t.max_response_header_bytes)
        probe = getattr(conn, "readable_now", None)
        if probe is None and hasattr(conn, "net_conn"):
            probe = getattr(conn.net_conn(), "readable_now", None)
        self.probe = probe
        self.tls = tls_state
        self.reused = False
        self.idle_at = 0.0
        self.closed = False
        self._ctx: Context | None = None
        self._dl: float | None = None  # the exchange's deadline: the context's or the Client's
        self._stop: Any = None
        self._deadline = False
        self._req: Request | None = None
        self._keep = False
        self._absolute = absolute  # an HTTP proxy: requests use the absolute form
        self._proxy_auth = proxy_auth
        self._counted = counted  # holds one of max_conns_per_host's places

    def __repr__(self) -> str:
        state = "closed" if self.closed else ("busy" if self._req is not None else "idle")
        return f"<persistConn {self.key[1]} {state}>"

    # -- the exchange ---------------------------------------------------------------

    def _begin(self, req: Request, ctx: Context, dl: float | None) -> None:
        self._req = req
        self._ctx = ctx
        self._dl = dl
        if dl is not None:
            self.conn.set_deadline(dl)
            self._deadline = True
        if ctx is not _BACKGROUND:  # nothing can cancel that one: no after_func
            self._stop = after_func(ctx, self._on_cancel)

    def _on_cancel(self) -> None:
        # The request's context is done: wake whatever the exchange is parked in.
        if not self.closed and self._req is not None:
            self.conn.set_deadline(0.0)

    def cause(self, e: BaseException) -> BaseException:
        """The error to report for ``e``: the context's own when it is done
        (or its deadline has passed, a moment before its timer says so)."""
        ctx = self._ctx
        if ctx is not None:
            err = ctx.err()
            if err is not None:
                return err
            if isinstance(e, DeadlineExceededError) and not isinstance(e, _HeaderTimeout):
                d = self._dl
                if d is not None and time.monotonic() >= d - 0.001:
                    return DeadlineExceeded()
        return e

    def round_trip(self, req: Request, ctx: Context, dl: float | None, head: bytes,
                   length: int | None, gzip: bool) -> Response:
        """Write ``req`` (its head already built by the Transport's codec
        call) and read the response head; the body follows as it is read.
        ``dl``: the deadline of the whole exchange (None: none)."""
        self._begin(req, ctx, dl)
        codec = self.codec
        conn = self.conn
        written = False
        write_err = None
        try:
            expect = (length is not None and self.t.expect_continue_timeout
                      and _expects_continue(req))
            if length is None or expect:
                conn.write(head)
            else:
                data = _small_body(req.body, length)
                if data is not None:
                    conn.write(head + codec.body_data(data) + codec.body_end())
                else:
                    conn.write(head)
                    written = True
                    try:
                        self._send_body(req, length)
                    except OSError as e:
                        # The server may have answered early (a 413, say) and
                        # closed: its response is still worth reading.
                        if e.errno not in _RESET_ERRNOS or self.cause(e) is not e:
                            raise
                        write_err = e
            written = True
            try:
                rhead = self._read_head(req, expect, length)
            except BaseException:
                if write_err is not None:
                    raise write_err from None
                raise
            if write_err is not None:
                rhead.close = True
        except BaseException as e:
            cause = self.cause(e)
            self.fail()
            if cause is e and self.reused:
                if not written and isinstance(e, OSError):
                    raise _Retry(e, True) from None
                if isinstance(e, _ServerClosed):
                    raise _Retry(e, False) from None
            raise cause from None
        return self._response(req, rhead, gzip)

    def _send_body(self, req: Request, length: int) -> None:
        """Write the request body (a reader or an iterable), checking it
        against a declared Content-Length."""
        codec = self.codec
        write = self.conn.write
        body = req.body
        sent = 0
        read = getattr(body, "read", None)
        chunks: Any = iter(lambda: read(_READ), b"") if read is not None else iter(body)
        try:
            for piece in chunks:
                if isinstance(piece, str):
                    piece = piece.encode("utf-8")
                if not piece:
                    continue
                sent += len(piece)
                if 0 <= length < sent:
                    raise ValueError(f"http: ContentLength={length} with Body length {sent}")
                write(codec.body_data(piece))
        finally:
            close = getattr(body, "close", None)
            if close is not None:
                close()
        if length >= 0 and sent != length:
            raise ValueError(f"http: ContentLength={length} with Body length {sent}")
        end = codec.body_end()
        if end:
            write(end)

    def _read_head(self, req: Request, expect: bool, length: int | None) -> ResponseHead:
        """Read up to the final response head, answering "100 Continue".

        ``limit``: a read deadline of the Transport's own, while it runs:
        the wait for "100 Continue" (``expect_continue_timeout``: then the
        body goes anyway, as Go does) or for the head
        (``response_header_timeout``)."""
        codec = self.codec
        conn = self.conn
        got = False  # bytes of a response have arrived
        n1xx = 0
        limit = self._start_limit(expect)
        head = None
        while True:
            # After an exchange the buffer is empty (next_cycle saw to it):
            # read before asking for a head.
            if got or codec.buffered():
                head = codec.next_head()
            if head is None:
                try:
                    data = conn.read(_READ)
                except DeadlineExceededError:
                    if limit is None or time.monotonic() < limit - 0.001 or self._ctx_over():
                        raise  # the context's deadline or cancellation, not ours
                    if not expect:
                        raise _HeaderTimeout() from None
                    expect = False
                    self._set_read_limit(None)
                    self._send_body_after_continue(req, length)
                    limit = self._start_limit(False)
                    continue
                except OSError as e:
                    if not got and e.errno in _RESET_ERRNOS:
                        raise _ServerClosed(f"{e} (before any response)") from None
                    raise
                if data:
                    got = True
                    codec.feed(data)
                elif got:
                    codec.feed_eof()  # next_head raises: a head cut short
                else:
                    raise _ServerClosed("server closed the connection before responding (EOF)")
                continue
            if not head.informational or head.status_code == 101:
                break
            if head.status_code == 100 and expect:
                expect = False
                if limit is not None:
                    self._set_read_limit(None)
                self._send_body_after_continue(req, length)
                limit = self._start_limit(False)
            else:
                n1xx += 1
                if n1xx > _MAX_1XX:
                    raise ProtocolError("too many 1xx informational responses")
            head = None
        if limit is not None:
            self._set_read_limit(None)
        if expect:
            # A final answer without "100 Continue": the body stays unsent, so
            # the connection cannot carry another request.
            head.close = True
        return head

    def _start_limit(self, expect: bool) -> float | None:
        t = self.t
        d = t.expect_continue_timeout if expect else t.response_header_timeout
        if not d:
            return None
        limit = time.monotonic() + d
        self._set_read_limit(limit)
        return limit

    def _ctx_over(self) -> bool:
        """The request's context is done, or its deadline has passed."""
        ctx = self._ctx
        if ctx is None:
            return False
        if ctx is not _BACKGROUND and ctx.err() is not None:
            return True
        d = self._dl
        return d is not None and time.monotonic() >= d - 0.001

    def _ctx_done(self) -> bool:
        ctx = self._ctx
        return ctx is not None and ctx.err() is not None

    def _set_read_limit(self, limit: float | None) -> None:
        """A read deadline of the Transport's own, never past the context's."""
        ctx_d = self._dl
        if limit is None or (ctx_d is not None and ctx_d < limit):
            limit = ctx_d
        if self._ctx_done():
            limit = 0.0
        self.conn.set_read_deadline(limit)
        self._deadline = self._deadline or limit is not None

    def _send_body_after_continue(self, req: Request, length: int | None) -> None:
        assert length is not None
        body = req.body
        data = _small_body(body, length)
        if data is not None:
            self.conn.write(self.codec.body_data(data) + self.codec.body_end()
                            if data else self.codec.body_end())
        else:
            self._send_body(req, length)

    def _response(self, req: Request, head: ResponseHead, gzip: bool) -> Response:
        if head.status_code == 101:
            self._keep = False
            return Response(head, req, _TunnelBody(self, req), self.tls)
        codec = self.codec
        try:
            codec.begin_body(head)
            # Take what the buffer holds already: a small body usually came
            # with its head, and then the connection is free at once.
            first, done = codec.buffered_body()
        except ProtocolError as e:
            self.fail()
            raise e from None
        self._keep = not head.close and not req.close
        if done:
            self.finish()
            body: BodyReader = _BytesBody(first) if first else _NO_BODY
        else:
            body = _ConnBody(self, req, first)
        resp = Response(head, req, body, self.tls)
        if gzip and head.gzip and head.framing:
            h = resp.header
            h.delete("Content-Encoding")
            h.delete("Content-Length")
            resp.content_length = -1
            resp.uncompressed = True
            resp.body = _GzipBody(body, req)
        return resp

    def read_body(self) -> bytes:
        """The next piece of the response body; b"" at its end."""
        codec = self.codec
        while True:
            ev = codec.next_body_event()
            if ev is NEED_DATA:
                data = self.conn.read(_READ)
                if data:
                    codec.feed(data)
                else:
                    codec.feed_eof()
                continue
            if ev is END:
                return b""
            return ev

    def finish(self) -> None:
        """The response is complete: back to the pool if the connection can
        carry another exchange, else closed."""
        stop = self._stop
        self._req = None
        self._ctx = None
        self._dl = None
        if stop is not None:
            self._stop = None
            if not stop():
                self.close()  # cancelled as it finished: not worth keeping
                return
        if self.closed:
            return
        keep = self._keep and self.codec.next_cycle() and not self.t.disable_keep_alives
        if not keep:
            self.close()
            return
        if self._deadline:
            self._deadline = False
            self.conn.set_deadline(None)
        self.reused = True
        self.pool.put_idle(self)

    def fail(self) -> None:
        """The exchange broke (or its body was abandoned): close the connection."""
        stop = self._stop
        self._stop = None
        self._req = None
        if stop is not None:
            stop()
        self.close()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        try:
            self.conn.close()
        except OSError:
            pass
        if self._counted:
            self._counted = False
            self.pool.release_place(self.key)


class _HeaderTimeout(DeadlineExceededError):
    reason = "net/http: timeout awaiting response headers"


class _TunnelBody(BodyReader):
    """A 101 Switching Protocols response's body: the connection itself,
    readable and writable (Go gives an io.ReadWriteCloser)."""

    __slots__ = ("_pc",)

    def __init__(self, pc: _PersistConn, req: Request) -> None:
        self._pc = pc
        self._buf = pc.codec.take_rest()
        self.eof = False

    def _next(self) -> bytes:
        data = self._pc.conn.read(_READ)
        if not data:
            self.eof = True
        return data

    def write(self, data: bytes) -> int:
        return self._pc.conn.write(data)

    def close(self) -> None:
        self.eof = True
        self._pc.fail()


_NO_BODY = _NoBody()


def _expects_continue(req: Request) -> bool:
    h = req.header
    return bool(h) and h.get("Expect").lower() == "100-continue"


def _small_body(body: Any, length: int) -> bytes | None:
    """A replayable bytes body small enough to go out with the head, else None."""
    if length == 0:
        return b""
    if 0 < length <= _SMALL_BODY:
        getvalue = getattr(body, "getvalue", None)
        if getvalue is not None and body.tell() == 0:
            data = getvalue()
            if len(data) == length:
                return data
    return None


# -- the pool ---------------------------------------------------------------------------


_DIAL = object()  # a waiter's wake-up: a place to dial is yours


class _Waiter:
    __slots__ = ("ch", "gone")

    def __init__(self) -> None:
        self.ch = Chan(1)
        self.gone = False


class _Pool:
    """One thread's connections of a Transport.

    ``idle[key]``: the idle connections to one host, most recently used
    last (taken first); ``lru``: every idle connection in the order it went
    idle (for max_idle_conns and the idle timeout, oldest first);
    ``places[key]``: connections open or being dialed, counted only when
    max_conns_per_host is set; ``waiters[key]``: requests waiting for a place.
    """

    __slots__ = ("t", "sched", "idle", "lru", "places", "waiters", "timer", "__weakref__")

    def __init__(self, t: Transport, sched: Any) -> None:
        self.t = t
        self.sched = sched
        self.idle: dict[tuple, list[_PersistConn]] = {}
        self.lru: dict[_PersistConn, None] = {}
        self.places: dict[tuple, int] = {}
        self.waiters: dict[tuple, deque[_Waiter]] = {}
        self.timer: Any = None

    def take_idle(self, key: tuple) -> _PersistConn | None:
        lst = self.idle.get(key)
        while lst:
            pc = lst.pop()
            del self.lru[pc]
            probe = pc.probe
            if probe is not None and probe():
                pc.close()  # the server closed it (or sent what nobody asked for)
                continue
            timeout = self.t.idle_conn_timeout
            if timeout and time.monotonic() - pc.idle_at >= timeout:
                pc.close()
                continue
            return pc
        return None

    def put_idle(self, pc: _PersistConn) -> None:
        t = self.t
        key = pc.key
        ws = self.waiters.get(key)
        while ws:
            w = ws.popleft()
            if not w.gone:
                w.ch.send(pc)
                return
        lst = self.idle.get(key)
        if lst is None:
            lst = self.idle[key] = []
        if len(lst) >= (t.max_idle_conns_per_host or 2):
            pc.close()
            return
        now = time.monotonic()
        pc.idle_at = now
        lst.append(pc)
        lru = self.lru
        lru[pc] = None
        if t.max_idle_conns and len(lru) > t.max_idle_conns:
            oldest = next(iter(lru))
            self._drop(oldest)
        if self.timer is None and t.idle_conn_timeout:
            self.timer = timer_after_func(t.idle_conn_timeout, self._expire)

    def _drop(self, pc: _PersistConn) -> None:
        del self.lru[pc]
        lst = self.idle.get(pc.key)
        if lst:
            try:
                lst.remove(pc)
            except ValueError:
                pass
        pc.close()

    def _expire(self) -> None:
        # The idle timer's goroutine: close what has idled too long, re-arm
        # for the oldest of the rest.
        self.timer = None
        timeout = self.t.idle_conn_timeout
        if not timeout:
            return
        now = time.monotonic()
        for pc in list(self.lru):
            if now - pc.idle_at < timeout:
                self.timer = timer_after_func(pc.idle_at + timeout - now, self._expire)
                return
            self._drop(pc)

    def close_idle(self) -> None:
        for pc in list(self.lru):
            self._drop(pc)
        t = self.timer
        self.timer = None
        if t is not None:
            t.stop()

    # -- max_conns_per_host --------------------------------------------------------

    def acquire_place(self, key: tuple, ctx: Context, d: float | None) -> _PersistConn | None:
        """With max_conns_per_host: a place to dial (None), or a connection
        handed over by one that went idle; waits while the host is at its
        limit. Raises the context's error if it ends first."""
        n = self.places.get(key, 0)
        if n < self.t.max_conns_per_host:
            self.places[key] = n + 1
            return None
        w = _Waiter()
        self.waiters.setdefault(key, deque()).append(w)
        timeout = None if d is None else max(0.0, d - time.monotonic())
        i, got, _ = select(w.ch.recv_case(), ctx.done().recv_case(), timeout=timeout)
        if i == 0:
            return None if got is _DIAL else got
        w.gone = True
        late, ok = _poll_chan(w.ch)
        if ok:
            if late is _DIAL:
                self.release_place(key)
            else:
                self.put_idle(late)
        err = ctx.err()
        raise err if err is not None else DeadlineExceededError(
            "net/http: timeout waiting for a connection")

    def release_place(self, key: tuple) -> None:
        """A counted connection closed (or its dial failed): its place goes
        to the first live waiter, else back to the count."""
        ws = self.waiters.get(key)
        while ws:
            w = ws.popleft()
            if not w.gone:
                w.ch.send(_DIAL)
                return
        n = self.places.get(key, 0) - 1
        if n > 0:
            self.places[key] = n
        else:
            self.places.pop(key, None)


def _poll_chan(ch: Chan) -> tuple[Any, bool]:
    i, v, ok = select(ch.recv_case(), default=True)
    return (v, True) if i == 0 else (None, False)


# -- the Transport ------------------------------------------------------------------------


class Transport:
    """Go's ``http.Transport``: pooled connections and one request's round trip.

    Options, with Go's meanings (seconds for durations; 0 or None: no limit):

    - ``max_idle_conns`` (100): idle connections kept in all;
      ``max_idle_conns_per_host`` (2 when 0): idle connections kept per host;
      ``max_conns_per_host`` (0, no limit): connections open per host,
      dialing and in use included; requests beyond it wait their turn.
    - ``idle_conn_timeout`` (90): an idle connection is closed after it.
    - ``tls_handshake_timeout`` (10), ``response_header_timeout`` (None: the
      time from the request's end to the response head),
      ``expect_continue_timeout`` (1: how long a request with
      ``Expect: 100-continue`` waits before sending its body anyway).
    - ``disable_keep_alives``: one request per connection;
      ``disable_compression``: no transparent gzip.
    - ``proxy`` (:func:`proxy_from_environment`): ``proxy(req)`` gives the
      proxy URL (or None) for a request; http proxies get absolute-form
      requests for http URLs and a CONNECT tunnel for https ones.
    - ``dial``: ``dial(network, address)`` returns a Conn (gonet.dial by default).
    - ``tls_client_config``: an ``ssl.SSLContext`` for https (the system's
      trust store by default).
    - ``max_response_header_bytes`` (1 MB): the largest response head read.

    Set the options before the first request (Go asks the same): a request
    with no header and no body of its own reuses the bytes of an earlier
    identical head, built under the options of that time.
    """

    def __init__(self, max_idle_conns: int = 100, max_idle_conns_per_host: int = 2,
                 max_conns_per_host: int = 0, idle_conn_timeout: float | None = 90,
                 tls_handshake_timeout: float | None = 10,
                 response_header_timeout: float | None = None,
                 expect_continue_timeout: float | None = 1, disable_keep_alives: bool = False,
                 disable_compression: bool = False,
                 proxy: Callable[[Request], Any] | None = proxy_from_environment,
                 dial: Callable[[str, str], Any] | None = None,
                 tls_client_config: ssl.SSLContext | None = None,
                 max_response_header_bytes: int = 1 << 20) -> None:
        self.max_idle_conns = max_idle_conns
        self.max_idle_conns_per_host = max_idle_conns_per_host
        self.max_conns_per_host = max_conns_per_host
        self.idle_conn_timeout = idle_conn_timeout
        self.tls_handshake_timeout = tls_handshake_timeout
        self.response_header_timeout = response_header_timeout
        self.expect_continue_timeout = expect_continue_timeout
        self.disable_keep_alives = disable_keep_alives
        self.disable_compression = disable_compression
        self.proxy = proxy
        self.dial = dial
        self.tls_client_config = tls_client_config
        self.max_response_header_bytes = max_response_header_bytes
        self._local = threading.local()
        self._pools: weakref.WeakSet[_Pool] = weakref.WeakSet()
        self._mu = _thread.allocate_lock()
        self._addrs: dict[tuple[str, str], str] = {}
        self._heads: dict[tuple, tuple[bytes, bool, bool]] = {}  # see _request_head
        self._tls_default: ssl.SSLContext | None = None

    def __repr__(self) -> str:
        return f"<Transport max_idle_conns_per_host={self.max_idle_conns_per_host}>"

    def _pool(self) -> _Pool:
        sched = get_sched()
        p = getattr(self._local, "pool", None)
        if p is None or p.sched is not sched:
            p = self._local.pool = _Pool(self, sched)
            with self._mu:
                self._pools.add(p)
        return p

    def close_idle_connections(self) -> None:
        """Close every idle connection, in every thread's pool (connections
        in use are left alone)."""
        me = get_sched()
        with self._mu:
            pools = list(self._pools)
        for p in pools:
            if p.sched is me:
                p.close_idle()
            elif p.sched.hub is not None:
                p.sched.call_soon_threadsafe(p.close_idle)

    def num_idle(self) -> int:
        """Idle connections in this thread's pool (for tests and monitoring)."""
        return len(self._pool().lru)

    # -- one request -----------------------------------------------------------------

    def round_trip(self, req: Request) -> Response:
        """Send ``req`` and return the response, its body still to be read
        (Go's ``RoundTrip``). Raises the cause of a failure as it is (the
        Client wraps it in a URLError)."""
        return self.round_trip_until(req, None)

    def round_trip_until(self, req: Request, deadline: float | None) -> Response:
        """``round_trip`` with a deadline of its own for the whole exchange,
        the response body included (absolute ``time.monotonic()``; the
        request's context may end it sooner). ``Client.timeout`` comes this
        way: a deadline on the connection, with no context and no timer
        made for it."""
        u = req.url
        scheme = u.scheme
        if scheme != "http" and scheme != "https":
            raise ValueError(f"unsupported protocol scheme {scheme!r}")
        hostport = u.host
        if not hostport:
            raise ValueError("http: no Host in request URL")
        ctx = req.context
        if ctx is _BACKGROUND:
            dl = deadline
        else:
            err = ctx.err()
            if err is not None:
                raise err
            dl = ctx.deadline()
            if deadline is not None and (dl is None or deadline < dl):
                dl = deadline
        addr = self._addrs.get((scheme, hostport))
        if addr is None:
            addr = self._addrs[(scheme, hostport)] = _canonical_addr(scheme, hostport)
        proxy = self.proxy(req) if self.proxy is not None else None
        if proxy is None:
            key: tuple = (scheme, addr)
        else:
            if proxy.__class__ is not ProxyURL:
                proxy = _parse_proxy(proxy)
            key = (scheme, addr, proxy.scheme, proxy.host, proxy.userinfo)
        pool = self._pool()
        while True:
            pc = pool.take_idle(key)
            if pc is None:
                try:
                    pc = self._new_conn(pool, key, scheme, addr, proxy, ctx, dl)
                except Exception as e:
                    raise _ctx_cause(ctx, dl, e) from None
            try:
                args = self._request_head(pc, req)
            except BaseException:
                pc.close()
                raise
            try:
                return pc.round_trip(req, ctx, dl, *args)
            except _Retry as r:
                if not _replayable(req, r.nothing_written):
                    raise r.cause from None
                if req.get_body is not None and req.content_length:
                    req.body = req.get_body()

    def _request_head(self, pc: _PersistConn, req: Request) -> tuple[bytes, int | None, bool]:
        """The request head on ``pc``'s wire, its body length (None: no body,
        -1: chunked), and whether gzip was asked for on the caller's behalf."""
        u = req.url
        method = req.method
        h = req.header
        absolute = pc._absolute
        target = str(u) if absolute else u.request_uri()
        codec = pc.codec
        cacheable = not h and not req.content_length and codec.fast
        if cacheable:
            # A request with no header and no body of its own: its head
            # depends on these alone (the Transport's settings are fixed).
            key = (method, req.host, target, absolute, pc._proxy_auth, req.close)
            hit = self._heads.get(key)
            if hit is not None:
                codec.start_request(method, None)
                if hit[2]:
                    req.close = True
                return hit[0], None, hit[1]
        headers = [("Host", req.host or u.host)]
        ua = DEFAULT_USER_AGENT
        accept_enc = False
        conn_close = req.close
        if h:
            for k, v in h.items():
                if k in _EXCLUDED:
                    if k == "User-Agent":
                        ua = v
                    continue  # the Host field is req.host; the framing is the Transport's
                if k == "Accept-Encoding" or k == "Range":
                    accept_enc = True
                elif k == "Connection" and v.lower() == "close":
                    conn_close = True
                headers.append((k, v))
        if ua:
            headers.insert(1, ("User-Agent", ua))
        n = req.content_length
        if not n:
            length: int | None = None
            if method not in _NO_LENGTH_WHEN_EMPTY:
                headers.insert(2 if ua else 1, ("Content-Length", "0"))
        elif n > 0:
            length = n
            headers.insert(2 if ua else 1, ("Content-Length", str(n)))
        else:
            length = -1
            headers.insert(2 if ua else 1, ("Transfer-Encoding", "chunked"))
        gzip = not accept_enc and not self.disable_compression and method != "HEAD"
        if gzip:
            headers.append(("Accept-Encoding", "gzip"))
        if pc._proxy_auth and absolute:
            headers.append(("Proxy-Authorization", pc._proxy_auth))
        close = conn_close or self.disable_keep_alives
        if close:
            headers.append(("Connection", "close"))
            req.close = True
        head = codec.request_head(method, target, headers, length)
        if cacheable:
            if len(self._heads) >= 1024:
                self._heads.clear()
            self._heads[key] = (head, gzip, close)
        return head, length, gzip

    # -- new connections ---------------------------------------------------------------

    def _new_conn(self, pool: _Pool, key: tuple, scheme: str, addr: str, proxy: URL | None,
                  ctx: Context, dl: float | None) -> _PersistConn:
        counted = False
        if self.max_conns_per_host > 0:
            handed = pool.acquire_place(key, ctx, dl)
            if handed is not None:
                return handed
            counted = True
        try:
            conn, tls_state, absolute, auth = self._connect(scheme, addr, proxy, ctx, dl)
        except BaseException:
            if counted:
                pool.release_place(key)
            raise
        return _PersistConn(self, pool, key, conn, tls_state, absolute, auth, counted)

    def _connect(self, scheme: str, addr: str, proxy: URL | None, ctx: Context,
                 dl: float | None) -> tuple[Any, Any, bool, str | None]:
        """Dial ``addr`` (through ``proxy``), tunnel and handshake as needed:
        (conn, TLS state, requests in absolute form, Proxy-Authorization)."""
        auth = None
        if proxy is not None:
            if proxy.userinfo:
                import base64
                from urllib.parse import unquote

                user, _, pw = proxy.userinfo.partition(":")
                auth = "Basic " + base64.b64encode(
                    f"{unquote(user)}:{unquote(pw)}".encode()).decode("ascii")
            target = _canonical_addr(proxy.scheme, proxy.host)
        else:
            target = addr
        try:
            if self.dial is not None:
                conn = self.dial("tcp", target)
            else:
                timeout = None if dl is None else max(0.0, dl - time.monotonic())
                conn = net_dial("tcp", target, timeout,
                                context=None if ctx is _BACKGROUND else ctx)
        except OSError as e:
            if proxy is not None:
                raise (type(e)(f"proxyconnect tcp: {e}") if _simple_oserror(e) else e) from None
            raise
        try:
            if proxy is not None and proxy.scheme == "https":
                conn = self._handshake(conn, _host_only(proxy.host), ctx, dl)
            if scheme == "https":
                if proxy is not None:
                    self._tunnel(conn, addr, proxy, auth, ctx, dl)
                conn = self._handshake(conn, _host_only(addr), ctx, dl)
                return conn, conn.connection_state(), False, None
            return conn, None, proxy is not None, auth
        except BaseException:
            conn.close()
            raise

    def _handshake(self, conn: Any, server_name: str, ctx: Context, d: float | None) -> Any:
        from gonet.tls import client as tls_client
        from gonet.tls import client_context

        cfg = self.tls_client_config
        if cfg is None:
            cfg = self._tls_default
            if cfg is None:
                cfg = self._tls_default = client_context()  # the system's trust store, once
        tconn = tls_client(conn, cfg, server_hostname=server_name)
        limit = None
        if self.tls_handshake_timeout:
            limit = time.monotonic() + self.tls_handshake_timeout
        if d is not None and (limit is None or d < limit):
            limit = d
        stop = after_func(ctx, lambda: None if conn.closed else conn.set_deadline(0.0))
        try:
            if limit is not None:
                tconn.set_deadline(limit)
            try:
                tconn.handshake()
            except DeadlineExceededError:
                err = ctx.err()
                if err is not None:
                    raise err from None
                raise DeadlineExceededError("net/http: TLS handshake timeout") from None
            except OSError:
                err = ctx.err()
                if err is not None:
                    raise err from None
                raise
            tconn.set_deadline(None)
        finally:
            stop()
        return tconn

    def _tunnel(self, conn: Any, addr: str, proxy: URL, auth: str | None, ctx: Context,
                d: float | None) -> None:
        """CONNECT ``addr`` through the proxy on ``conn``; raises unless 200."""
        codec = ClientCodec(self.max_response_header_bytes)
        headers = [("Host", addr), ("User-Agent", DEFAULT_USER_AGENT)]
        if auth:
            headers.append(("Proxy-Authorization", auth))
        stop = after_func(ctx, lambda: None if conn.closed else conn.set_deadline(0.0))
        try:
            if d is not None:
                conn.set_deadline(d)
            conn.write(codec.request_head("CONNECT", addr, headers, None))
            while True:
                head = codec.next_head()
                if head is not None:
                    if head.informational:
                        continue
                    break
                data = conn.read(_READ)
                if not data:
                    raise ConnectionError(f"proxy {proxy.host} closed the connection during "
                                          f"CONNECT {addr}")
                codec.feed(data)
            if head.status_code != 200:
                reason = head.reason or status_text(head.status_code)
                raise ConnectionError(f"proxy {proxy.host} refused CONNECT {addr}: "
                                      f"{head.status_code} {reason}")
            if codec.buffered():
                raise ProtocolError(f"proxy {proxy.host} sent bytes after its CONNECT response")
            conn.set_deadline(None)
        except OSError:
            err = ctx.err()
            if err is not None:
                raise err from None
            raise
        finally:
            stop()


def _ctx_cause(ctx: Context, dl: float | None, e: BaseException) -> BaseException:
    """``e``, or the context's error when the context is over or the
    deadline ``dl`` has passed (as Go's getConn answers ctx.Err() when the
    context ends a dial)."""
    if ctx is not _BACKGROUND:
        err = ctx.err()
        if err is not None:
            return err
    if isinstance(e, TimeoutError) and dl is not None and time.monotonic() >= dl - 0.001:
        return DeadlineExceeded()
    return e


def _simple_oserror(e: OSError) -> bool:
    try:
        type(e)("x")
        return True
    except TypeError:
        return False


def _canonical_addr(scheme: str, hostport: str) -> str:
    """host:port with the scheme's default port (Go's canonicalAddr)."""
    if hostport[:1] == "[":
        end = hostport.find("]")
        if end < 0:
            raise ValueError(f"invalid host {hostport!r}")
        if hostport[end + 1:end + 2] == ":" and hostport[end + 2:]:
            return hostport
        return hostport[:end + 1] + (":443" if scheme == "https" else ":80")
    host, sep, port = hostport.rpartition(":")
    if sep and port and ":" not in host:
        return hostport
    if sep and not port:
        hostport = host
    return hostport + (":443" if scheme == "https" else ":80")


def _host_only(addr: str) -> str:
    if addr[:1] == "[":
        return addr[1:addr.index("]")]
    return addr.rpartition(":")[0] if ":" in addr else addr


def _replayable(req: Request, nothing_written: bool) -> bool:
    """May a request that failed on a reused connection go again (Go's
    shouldRetryRequest)? A request never written may, if its body can be
    sent again; one that was written only if it is idempotent as well."""
    has_body = bool(req.content_length) and not getattr(req.body, "eof", False)
    rewindable = not has_body or req.get_body is not None
    if nothing_written:
        return rewindable
    if not rewindable:
        return False
    if req.method in _IDEMPOTENT:
        return True
    h = req.header
    return bool(h) and ("Idempotency-Key" in h or "X-Idempotency-Key" in h)


#: The Transport that ``default_client`` uses.
default_transport = Transport()
