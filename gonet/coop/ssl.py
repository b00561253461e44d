"""Patch layer: ``ssl.SSLSocket`` whose handshake, reads, writes and unwrap park
the goroutine on SSLWantReadError / SSLWantWriteError.

:class:`SSLSocket` is the stdlib's SSLSocket on top of the cooperative
:class:`gonet.coop.socket.socket` (its method order puts the cooperative
socket between the two stdlib classes, so SSLSocket's own calls to
``super().connect``, ``super().recv`` and ``accept`` are the cooperative
ones). Every TLS operation of the stdlib class goes through its ``_sslobj``
(OpenSSL's object); here ``_sslobj`` is wrapped, so that in a goroutine each
of ``read``, ``write``, ``do_handshake`` and ``shutdown`` runs on the
non-blocking descriptor and, when OpenSSL wants the socket readable or
writable, parks on that direction and tries again: the socket's timeout is
the deadline ("The read operation timed out", as CPython says). Bytes
OpenSSL already holds are served without parking, since it only asks to wait
when it has none (DESIGN.md, mechanism 10).

The patch makes ``ssl.SSLContext.wrap_socket`` build this class
(``SSLContext.sslsocket_class``).
"""

from __future__ import annotations

import _socket
import ssl as _stdssl
import time
from typing import Any

from gonet.coop.socket import socket as _CoopSocket
from gonet.runtime.sched import goroutine_here

__all__ = ["SSLSocket", "ORIGINALS"]

ORIGINALS: dict[str, Any] = {"sslsocket_class": _stdssl.SSLContext.sslsocket_class}
_WantRead = _stdssl.SSLWantReadError
_WantWrite = _stdssl.SSLWantWriteError
_timeout = _socket.timeout
_monotonic = time.monotonic


class _SSLObj:
    """OpenSSL's object for one SSLSocket, with its four waiting calls made
    cooperative; everything else passes through."""

    __slots__ = ("_raw", "_sock")

    def __init__(self, raw: Any, sock: SSLSocket) -> None:
        self._raw = raw
        self._sock = sock

    def __getattr__(self, name: str) -> Any:
        return getattr(self._raw, name)

    def read(self, *args: Any) -> Any:
        return self._sock._gssl(self._raw.read, args, "read")

    def write(self, data: Any) -> int:
        return self._sock._gssl(self._raw.write, (data,), "write")

    def do_handshake(self) -> None:
        return self._sock._gssl(self._raw.do_handshake, (), "handshake")

    def shutdown(self) -> Any:
        return self._sock._gssl(self._raw.shutdown, (), "shutdown")


class SSLSocket(_stdssl.SSLSocket, _CoopSocket):
    """``ssl.SSLSocket`` with cooperative TLS operations (see the module docstring)."""

    @property
    def _sslobj(self) -> Any:
        return self.__dict__.get("_gsslobj")

    @_sslobj.setter
    def _sslobj(self, raw: Any) -> None:
        self.__dict__["_gsslobj"] = None if raw is None else _SSLObj(raw, self)

    def _gssl(self, fn: Any, args: tuple, op: str) -> Any:
        t = self._gtimeout
        if t == 0.0:
            return fn(*args)
        inside = goroutine_here() is not None
        if inside:
            pd = self._gready()
        elif self._gpd is None:
            return fn(*args)
        else:
            pd = None
        deadline = None if t is None else _monotonic() + t
        while True:
            try:
                return fn(*args)
            except _WantRead:
                write = False
            except _WantWrite:
                write = True
            try:
                if inside:
                    self._gwait(pd, write, deadline)
                else:
                    self._block_wait(write, deadline)
            except _timeout:
                raise _timeout(f"The {op} operation timed out") from None
