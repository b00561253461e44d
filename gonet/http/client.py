"""HTTP layer: the Client: redirects, cookies, the whole-exchange timeout, errors.

Go's ``http.Client`` (``client.go``) over a Transport: ``do(req)`` sends the
request through ``transport.round_trip`` and follows redirects as Go does,
consulting the cookie jar on every hop; ``get``/``head``/``post``/
``post_form`` build the request first. Every failure is raised as a
:class:`~gonet.http.request.URLError` naming the method (the first
request's, through redirects, as Go), the URL and the cause, as Go's
``url.Error`` reads::

    Get "http://127.0.0.1:1/": dial tcp 127.0.0.1:1: connect: connection refused

Redirects (Go's ``redirectBehavior``)
-------------------------------------

- 301, 302, 303: followed with GET (HEAD stays HEAD) and no body.
- 307, 308: followed with the same method and body, if the body can be
  sent again (bytes, or ``get_body``); otherwise the 307/308 is returned.
- a 3xx without Location is returned as it is.
- Authorization, Www-Authenticate, Cookie and Cookie2 go along only to the
  same host or a subdomain of it; a Referer names the previous URL unless
  that would leak an https URL to http.
- ``check_redirect(req, via)`` decides each hop (via: the requests so far,
  oldest first); the default stops after 10. Raising (or returning) an
  exception stops with that error, the last response attached to it;
  :data:`ErrUseLastResponse` returns the last response instead, unread.

``timeout`` bounds the whole exchange, redirects and reading the body
included, and aborts a dial, a handshake or a read at once. With gonet's
Transport it is handed over as a deadline (``round_trip_until``: the
connection's deadline, no context or timer made per request); another
RoundTripper gets it as a deadline on the request's context, as in Go.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from gonet import context as _context
from gonet.http.request import BodyReader, Request, URLError, Values, new_request
from gonet.http.transport import Response, default_transport

__all__ = [
    "Client",
    "ErrUseLastResponse",
    "default_client",
    "get",
    "head",
    "post",
    "post_form",
]


class ErrUseLastResponse(Exception):
    """Raised (or returned) by ``check_redirect``: stop following redirects
    and return the last response, its body unread (Go's ErrUseLastResponse)."""


_SENSITIVE = ("Authorization", "Www-Authenticate", "Cookie", "Cookie2")
_SLURP = 2 << 10  # Go's maxBodySlurpSize: a redirect's body read to keep its connection


def _default_check_redirect(req: Request, via: list[Request]) -> None:
    if len(via) >= 10:
        raise OSError("stopped after 10 redirects")


class Client:
    """Go's ``http.Client``.

    ``transport``: what sends each request (anything with
    ``round_trip(req)``; :data:`~gonet.http.transport.default_transport` if
    None). ``timeout`` (seconds, None for none): the limit for the whole
    exchange, body included. ``check_redirect(req, via)``: the redirect
    policy (see the module docstring). ``jar``: cookies (an object with
    ``cookies(url)`` and ``set_cookies(url, cookies)``, such as
    :class:`~gonet.http.cookiejar.CookieJar`).
    """

    def __init__(self, transport: Any = None, timeout: float | None = None,
                 check_redirect: Callable[[Request, list[Request]], Any] | None = None,
                 jar: Any = None) -> None:
        self.transport = transport
        self.timeout = timeout
        self.check_redirect = check_redirect
        self.jar = jar

    def __repr__(self) -> str:
        return f"<Client timeout={self.timeout}>"

    # -- the shortcuts ----------------------------------------------------------------

    def get(self, url: str, headers: Any = None, context: Any = None) -> Response:
        """GET ``url``."""
        if "://" not in url:
            _absolute(url)
        return self.do(new_request("GET", url, headers=headers, context=context))

    def head(self, url: str, headers: Any = None, context: Any = None) -> Response:
        """HEAD ``url``."""
        return self.do(new_request("HEAD", _absolute(url), headers=headers, context=context))

    def post(self, url: str, body: Any = None, headers: Any = None, content_type: str = "",
             context: Any = None) -> Response:
        """POST ``body`` (bytes, str, a reader or an iterable of bytes) to
        ``url``; ``content_type`` sets Content-Type unless ``headers`` does."""
        req = new_request("POST", _absolute(url), body=body, headers=headers, context=context)
        if content_type and "Content-Type" not in req.header:
            req.header.set("Content-Type", content_type)
        return self.do(req)

    def post_form(self, url: str, data: Values | dict | Any, headers: Any = None,
                  context: Any = None) -> Response:
        """POST ``data`` (a Values or a dict) URL-encoded, as a form."""
        values = data if isinstance(data, Values) else Values(data)
        return self.post(url, values.encode().encode("ascii"), headers=headers,
                         content_type="application/x-www-form-urlencoded", context=context)

    # -- do ----------------------------------------------------------------------------

    def do(self, req: Request) -> Response:
        """Send ``req``, follow redirects, and return the final response; its
        body is to be read and closed by the caller. Raises URLError."""
        t = self.transport or default_transport
        deadline = None
        cancel = None
        if self.timeout:
            deadline = time.monotonic() + self.timeout
            if not hasattr(t, "round_trip_until"):
                # Another RoundTripper: the deadline goes in the request's
                # context, as Go's setRequestCancel does.
                ctx = req.context
                d = ctx.deadline()
                if d is None or deadline < d:
                    ctx, cancel = _context.with_deadline(ctx, deadline)
                    req = req.with_context(ctx)
                else:
                    deadline = None  # the request's own deadline comes first
        if self.jar is None:
            # The common case, spelled out: one round trip, no redirect.
            try:
                if deadline is None:
                    resp = t.round_trip(req)
                elif cancel is None:
                    resp = t.round_trip_until(req, deadline)
                else:
                    resp = t.round_trip(req)
            except Exception as e:  # noqa: BLE001 - every failure becomes a URLError
                if cancel is not None:
                    cancel()
                raise URLError.of(req.method, req.url, _timeout_cause(e, deadline)) from None
            if 300 < resp.status_code < 309:  # 301-303, 307, 308: a redirect to follow
                resp = self._redirects(req, deadline, resp, cancel)
        else:
            resp = self._redirects(req, deadline, None, cancel)
        if deadline is not None:
            body = resp.body
            if not body.eof or cancel is not None:
                # reading the body is under the deadline too: Go's wording
                # when it passes, and the context's timer released at the end
                resp.body = _DeadlineBody(body, cancel, deadline, resp.request)
        return resp

    def _redirects(self, req: Request, deadline: float | None, resp: Response | None,
                   cancel: Any) -> Response:
        try:
            return self._do(req, deadline, resp)
        except BaseException:
            if cancel is not None:
                cancel()
            raise

    def _send(self, req: Request, deadline: float | None, op: str) -> Response:
        jar = self.jar
        if jar is not None:
            for c in jar.cookies(req.url):
                req.header.add("Cookie", f"{c.name}={c.value}")
        t = self.transport or default_transport
        try:
            if deadline is not None and hasattr(t, "round_trip_until"):
                resp = t.round_trip_until(req, deadline)
            else:
                resp = t.round_trip(req)
        except BaseException as e:
            if not isinstance(e, Exception):
                raise
            raise URLError.of(op, req.url, _timeout_cause(e, deadline)) from None
        if jar is not None:
            cookies = resp.cookies()
            if cookies:
                jar.set_cookies(req.url, cookies)
        return resp

    def _do(self, req: Request, deadline: float | None, resp: Response | None = None) -> Response:
        """The redirect loop; ``resp``: the first response, if it came already
        (without a jar, sending leaves the request's header as it was)."""
        ihdr = req.header.clone()  # before the jar's cookies are added
        via: list[Request] = []
        ireq = req
        while True:
            if resp is None:
                resp = self._send(req, deadline, ireq.method)
            code = resp.status_code
            method, follow, with_body = _redirect_behavior(req.method, code, ireq)
            if not follow:
                return resp
            loc = resp.header.get("Location")
            if not loc:
                return resp  # a 3xx without Location (it happens): returned as it is
            try:
                u = req.url.resolve_reference(loc)
            except ValueError as e:
                _drain(resp)
                raise URLError.of(ireq.method, req.url, ValueError(
                    f"failed to parse Location header {loc!r}: {e}")) from None
            nreq = _redirected(req, ireq, ihdr, method, u, with_body)
            via.append(req)
            check = self.check_redirect or _default_check_redirect
            try:
                err = check(nreq, via)
            except Exception as e:  # noqa: BLE001 - the policy's verdict
                err = e
            if err is not None:
                if err is ErrUseLastResponse or isinstance(err, ErrUseLastResponse):
                    return resp
                _drain(resp)
                ue = URLError.of(ireq.method, nreq.url, err)  # Go: the first request's method
                ue.response = resp
                raise ue
            _drain(resp)
            req = nreq
            resp = None


def _absolute(url: str) -> str:
    if "://" not in url:
        raise ValueError(f"parse {url!r}: missing protocol scheme (the client needs an "
                         f"absolute URL)")
    return url


def _redirect_behavior(method: str, code: int, ireq: Request) -> tuple[str, bool, bool]:
    """(method for the next request, follow?, send the body again?)"""
    if code in (301, 302, 303):
        if method != "GET" and method != "HEAD":
            method = "GET"
        return method, True, False
    if code in (307, 308):
        has_body = bool(ireq.content_length)
        if has_body and ireq.get_body is None:
            return method, False, False  # the body cannot be sent again
        return method, True, has_body
    return method, False, False


def _host(u: Any) -> str:
    h = u.host
    if h[:1] == "[":
        return h[1:h.find("]")].lower()
    return h.rpartition(":")[0].lower() if ":" in h else h.lower()


def _keeps_sensitive(initial: Any, dest: Any) -> bool:
    # Go's shouldCopyHeaderOnRedirect: the same host or a subdomain of it
    ih, dh = _host(initial), _host(dest)
    return dh == ih or dh.endswith("." + ih)


def _redirected(req: Request, ireq: Request, ihdr: Any, method: str, u: Any,
                with_body: bool) -> Request:
    body = ireq.get_body() if with_body and ireq.get_body is not None else None
    h = ihdr.clone()
    if not _keeps_sensitive(ireq.url, u):
        for k in _SENSITIVE:
            h.delete(k)
    if not with_body:
        h.delete("Content-Length")
        h.delete("Transfer-Encoding")
    ref = str(req.url)
    if req.url.scheme == "https" and u.scheme == "http":
        ref = ""
    if ref:
        # without user:password
        scheme, sep, rest = ref.partition("://")
        auth, slash, path = rest.partition("/")
        ref = f"{scheme}{sep}{auth.rpartition('@')[2]}{slash}{path}"
        h.set("Referer", ref)
    nreq = new_request(method, str(u), headers=h)
    if body is not None:
        nreq.body = body
        nreq.content_length = ireq.content_length
        nreq.get_body = ireq.get_body
    nreq._ctx = req.context
    if ireq.host and ireq.host != ireq.url.host and u.host == ireq.url.host:
        nreq.host = ireq.host  # a Host set by hand goes along only to the same host
    return nreq


def _drain(resp: Response) -> None:
    """Read a little of a redirect's body so its connection can be reused; close it."""
    body = resp.body
    try:
        if resp.content_length == -1 or resp.content_length <= _SLURP:
            body.read(_SLURP)
    except Exception:  # noqa: BLE001 - a redirect body that fails to read is just closed
        pass
    body.close()


def _timeout_cause(e: BaseException, deadline: float | None) -> BaseException:
    """Go's wording when Client.timeout ended the request."""
    if deadline is not None and isinstance(e, TimeoutError) and time.monotonic() >= deadline - 0.002:
        return _ClientTimeout(f"{e} (Client.Timeout exceeded while awaiting headers)")
    return e


class _ClientTimeout(TimeoutError):
    pass


class _DeadlineBody(BodyReader):
    """A body under Client.timeout: reads go on under the request's deadline;
    the end of the body (or close) releases the deadline's timer."""

    __slots__ = ("_raw", "_cancel", "_deadline", "_req")

    def __init__(self, raw: BodyReader, cancel: Callable[[], None] | None, deadline: float | None,
                 req: Request) -> None:
        self._raw = raw
        self._cancel = cancel
        self._deadline = deadline
        self._req = req
        self._buf = b""
        self.eof = False
        if raw.eof and not raw._buf:
            self._done()

    def __repr__(self) -> str:
        return repr(self._raw)

    def _done(self) -> None:
        self.eof = True
        c = self._cancel
        if c is not None:
            self._cancel = None
            c()

    def _next(self) -> bytes:
        try:
            data = self._raw.read(65536)
        except URLError as e:
            self._done()
            if self._deadline is not None and isinstance(e.err, TimeoutError) and (
                    time.monotonic() >= self._deadline - 0.002):
                raise URLError.of(self._req.method, self._req.url, _ClientTimeout(
                    "net/http: request canceled (Client.Timeout or context cancellation "
                    "while reading body)")) from None
            raise
        if not data:
            self._done()
        return data

    def close(self) -> None:
        self._buf = b""
        self._raw.close()
        self._done()


#: The Client that the module-level ``get``, ``head``, ``post`` and ``post_form`` use.
default_client = Client()


def get(url: str, headers: Any = None, context: Any = None) -> Response:
    """GET ``url`` with the default client."""
    return default_client.get(url, headers=headers, context=context)


def head(url: str, headers: Any = None, context: Any = None) -> Response:
    """HEAD ``url`` with the default client."""
    return default_client.head(url, headers=headers, context=context)


def post(url: str, body: Any = None, headers: Any = None, content_type: str = "",
         context: Any = None) -> Response:
    """POST ``body`` to ``url`` with the default client."""
    return default_client.post(url, body, headers=headers, content_type=content_type,
                               context=context)


def post_form(url: str, data: Any, headers: Any = None, context: Any = None) -> Response:
    """POST ``data`` as a URL-encoded form with the default client."""
    return default_client.post_form(url, data, headers=headers, context=context)
