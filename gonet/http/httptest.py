"""HTTP layer: a real server on a loopback port in a background thread (Go's httptest.Server).

For tests and examples that drive a gonet server from ordinary blocking
code (httpx, requests, raw sockets)::

    with httptest.TestServer(handler) as ts:
        httpx.get(ts.url + "/hello")

The server runs on its own OS thread with its own gonet scheduler; ``close``
shuts it down gracefully (bounded) and joins the thread.

``TestServer(handler, tls=True)`` serves HTTPS with a fixed test
certificate (``testcert.py``; Go's ``NewTLSServer``): ``ts.url`` starts
with ``https://``, ``ts.ssl_context`` is a client context that trusts it,
``ts.ca_file`` the CA's PEM file (for ``curl --cacert``), and
``ts.client()`` an ``httpx.Client`` that trusts it.
"""

from __future__ import annotations

import logging
import os
import ssl
import tempfile
import threading
from typing import Any

from gonet.http import testcert
from gonet.http.server import Server
from gonet.net import listen
from gonet.tls import client_context, server_context

__all__ = ["TestServer", "new_server", "new_tls_server"]


class TestServer:
    """Serve ``handler`` on 127.0.0.1:<free port> from a background thread."""

    __test__ = False  # not a pytest test class

    def __init__(self, handler: Any, tls: bool = False, **server_options: Any) -> None:
        self.server = Server(handler=handler, **server_options)
        self.tls = tls
        self.ca_file = ""
        self.ssl_context: ssl.SSLContext | None = None
        self._tmpdir: str | None = None
        if tls:
            self._setup_tls()
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self.addr = ""
        self.url = ""
        self._thread = threading.Thread(target=self._run, name="httptest", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            raise self._error

    def _run(self) -> None:
        try:
            ln = listen("tcp", "127.0.0.1:0")
        except BaseException as e:  # noqa: BLE001 - reported to the starting thread
            self._error = e
            self._ready.set()
            return
        self.addr = str(ln.addr)
        self.port = ln.addr.port
        self.url = f"{'https' if self.tls else 'http'}://{self.addr}"
        self.server.addr = self.addr
        self._ready.set()
        try:
            if self.tls:
                self.server.serve_tls(ln)
            else:
                self.server.serve(ln)
        except BaseException as e:  # noqa: BLE001 - kept for close() to re-raise
            self._error = e
            logging.getLogger("gonet.http").error("httptest: serve failed: %r", e, exc_info=e)

    def _setup_tls(self) -> None:
        d = self._tmpdir = tempfile.mkdtemp(prefix="gonet-httptest-")
        ca = self.ca_file = os.path.join(d, "ca.pem")
        cert = os.path.join(d, "cert.pem")
        key = os.path.join(d, "key.pem")
        for path, text in ((ca, testcert.CA_PEM), (cert, testcert.CERT_PEM), (key, testcert.KEY_PEM)):
            with open(path, "w") as f:
                f.write(text)
        if self.server.tls_config is None:
            self.server.tls_config = server_context(cert, key)
        self.ssl_context = client_context(ca)

    def client(self, **options: Any) -> Any:
        """An ``httpx.Client`` for this server (it trusts the test certificate)."""
        import httpx

        if self.ssl_context is not None:
            options.setdefault("verify", self.ssl_context)
        return httpx.Client(base_url=self.url, **options)

    def shutdown(self, timeout: float | None = 5.0) -> bool:
        """Graceful shutdown (from this thread); True if every request finished."""
        return self.server.shutdown(timeout)

    def close(self, timeout: float = 5.0) -> None:
        """Shut down (graceful up to ``timeout``, then forced) and join the thread."""
        if self._thread.is_alive():
            try:
                self.server.shutdown(timeout)
            except Exception:
                self.server.close()
            self._thread.join(timeout + 5.0)
        if self._tmpdir is not None:
            import shutil

            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None

    def __enter__(self) -> TestServer:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


#: Go's ``httptest.NewServer``.
new_server = TestServer


def new_tls_server(handler: Any, **server_options: Any) -> TestServer:
    """Go's ``httptest.NewTLSServer``: ``TestServer(handler, tls=True)``."""
    return TestServer(handler, tls=True, **server_options)
