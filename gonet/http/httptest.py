"""HTTP layer: a real server on a loopback port in a background thread (Go's httptest.Server).

For tests and examples that drive a gonet server from ordinary blocking
code (httpx, requests, raw sockets)::

    with httptest.TestServer(handler) as ts:
        httpx.get(ts.url + "/hello")

The server runs on its own OS thread with its own gonet scheduler; ``close``
shuts it down gracefully (bounded) and joins the thread.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from gonet.http.server import Server
from gonet.net import listen

__all__ = ["TestServer", "new_server"]


class TestServer:
    """Serve ``handler`` on 127.0.0.1:<free port> from a background thread."""

    __test__ = False  # not a pytest test class

    def __init__(self, handler: Any, **server_options: Any) -> None:
        self.server = Server(handler=handler, **server_options)
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
        self.url = f"http://{self.addr}"
        self.server.addr = self.addr
        self._ready.set()
        try:
            self.server.serve(ln)
        except BaseException as e:  # noqa: BLE001 - kept for close() to re-raise
            self._error = e
            logging.getLogger("gonet.http").error("httptest: serve failed: %r", e, exc_info=e)

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

    def __enter__(self) -> TestServer:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


#: Go's ``httptest.NewServer``.
new_server = TestServer
