"""gonet.http: Go's ``net/http`` on gonet, server and client; HTTP/1.1 framed in ``wire``.

One goroutine per connection runs Go's ``conn.serve`` loop; handlers are
plain functions ``handler(w, r)`` (or objects with ``serve_http``)::

    from gonet import http

    def hello(w, r):
        w.header().set("Content-Type", "text/plain")
        w.write(b"hello " + r.path_value("name").encode())

    mux = http.ServeMux()
    mux.handle_func("GET /hello/{name}", hello)
    http.Server(addr="127.0.0.1:8080", handler=mux).listen_and_serve()

The client: ``http.get(url)``, ``http.Client(timeout=5).do(req)`` with
pooled keep-alive connections (``client``: Client, redirects, cookies;
``transport``: Transport, the pool, Response; ``cookiejar``).

Modules: ``wire`` (request framing: heads, bodies, every RFC 9112 rule),
``conn`` (one connection's loop), ``server`` (Server, timeouts, shutdown),
``request`` (Request, URL, the body reader), ``response`` (ResponseWriter),
``header`` (Header), ``mux`` (ServeMux), ``fs`` (FileServer), ``util``
(error, redirect, strip_prefix, ...), ``status`` (codes and texts),
``cookie`` (Cookie, set_cookie), ``multipart`` (multipart forms), ``debug``
(DebugHandler: goroutines and counters, Go's pprof/expvar), ``httptest`` (a
server on a loopback port in a background thread, for tests).
"""

from __future__ import annotations

from typing import Any as _Any

from gonet.http import status
from gonet.http.accesslog import AccessLog
from gonet.http.client import (
    Client,
    ErrUseLastResponse,
    default_client,
    get,
    head,
    post,
    post_form,
)
from gonet.http.cookie import (
    SAME_SITE_LAX,
    SAME_SITE_NONE,
    SAME_SITE_STRICT,
    Cookie,
    ErrNoCookie,
    parse_cookie,
    parse_set_cookie,
    read_set_cookies,
    set_cookie,
)
from gonet.http.cookiejar import CookieJar
from gonet.http.debug import DebugHandler
from gonet.http.fs import FileServer, serve_file
from gonet.http.header import Header, canonical_header_key
from gonet.http.multipart import (
    ErrMessageTooLarge,
    ErrMissingBoundary,
    ErrMissingFile,
    ErrNotMultipart,
    FileHeader,
    MultipartError,
)
from gonet.http.mux import ServeMux, clean_path
from gonet.http.proxy import ProxyHeaders
from gonet.http.request import (
    URL,
    MaxBytesError,
    Request,
    RequestBodyError,
    URLError,
    URLTimeoutError,
    Values,
    new_request,
)
from gonet.http.response import (
    ErrBodyNotAllowed,
    ErrContentLength,
    ErrHijacked,
    ResponseWriter,
    detect_content_type,
)
from gonet.http.server import SERVER_CONTEXT_KEY, AbortHandler, Server, ServerClosed
from gonet.http.status import status_text
from gonet.http.transport import (
    DEFAULT_USER_AGENT,
    ProxyURL,
    Response,
    Transport,
    default_transport,
    proxy_from_environment,
    proxy_url,
)
from gonet.http.util import (
    error,
    max_bytes_reader,
    not_found,
    not_found_handler,
    redirect,
    redirect_handler,
    strip_prefix,
)
from gonet.http.wsgi import WSGIHandler

#: The ServeMux used by ``handle``, ``handle_func`` and a Server without a handler.
default_serve_mux = ServeMux()


def handle(pattern: str, handler: _Any) -> None:
    """Register ``handler`` for ``pattern`` on the default ServeMux."""
    default_serve_mux.handle(pattern, handler)


def handle_func(pattern: str, fn: _Any = None) -> _Any:
    """Register ``fn(w, r)`` on the default ServeMux (a decorator without ``fn``)."""
    return default_serve_mux.handle_func(pattern, fn)


def listen_and_serve(addr: str, handler: _Any = None) -> None:
    """Serve ``handler`` (the default ServeMux if None) on ``addr`` until shut down."""
    Server(addr=addr, handler=handler).listen_and_serve()


def listen_and_serve_tls(addr: str, certfile: str, keyfile: str, handler: _Any = None) -> None:
    """Serve ``handler`` over HTTPS on ``addr`` until shut down (Go's ListenAndServeTLS)."""
    Server(addr=addr, handler=handler).listen_and_serve_tls(certfile, keyfile)


__all__ = [
    "AbortHandler",
    "Client",
    "Cookie",
    "CookieJar",
    "DEFAULT_USER_AGENT",
    "ErrUseLastResponse",
    "ProxyURL",
    "Response",
    "Transport",
    "URLError",
    "URLTimeoutError",
    "default_client",
    "default_transport",
    "get",
    "head",
    "post",
    "post_form",
    "proxy_from_environment",
    "proxy_url",
    "read_set_cookies",
    "DebugHandler",
    "ErrMessageTooLarge",
    "ErrMissingBoundary",
    "ErrMissingFile",
    "ErrNoCookie",
    "ErrNotMultipart",
    "FileHeader",
    "MultipartError",
    "SAME_SITE_LAX",
    "SAME_SITE_NONE",
    "SAME_SITE_STRICT",
    "parse_cookie",
    "parse_set_cookie",
    "set_cookie",
    "AccessLog",
    "ProxyHeaders",
    "ErrBodyNotAllowed",
    "ErrContentLength",
    "ErrHijacked",
    "FileServer",
    "Header",
    "MaxBytesError",
    "Request",
    "RequestBodyError",
    "ResponseWriter",
    "SERVER_CONTEXT_KEY",
    "ServeMux",
    "Server",
    "ServerClosed",
    "URL",
    "Values",
    "WSGIHandler",
    "canonical_header_key",
    "clean_path",
    "default_serve_mux",
    "detect_content_type",
    "error",
    "handle",
    "handle_func",
    "listen_and_serve",
    "listen_and_serve_tls",
    "max_bytes_reader",
    "new_request",
    "not_found",
    "not_found_handler",
    "redirect",
    "redirect_handler",
    "serve_file",
    "status",
    "status_text",
    "strip_prefix",
]


def __dir__() -> list[str]:
    # The namespace shows the API, not the submodules and helpers imported here.
    return sorted(__all__)
