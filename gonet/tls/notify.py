"""TLS layer: close_notify in one SSL_shutdown call.

Python's ``ssl`` sends close_notify through ``shutdown()``, which calls
OpenSSL's ``SSL_shutdown`` twice when the first call only sent ours: the
second reads from the socket, looking for the peer's close_notify, and
OpenSSL discards any application data it reads there (SSL_shutdown(3)
recommends SSL_read for that wait for this reason). A half-closed Conn
(``close_write``, then reads, as Go's ``CloseWrite`` allows) would lose
the bytes the peer sent before it saw our close_notify.

Python exposes no single call, so :func:`send_close_notify` calls
``SSL_shutdown`` once through ctypes, on the ``SSL *`` that ``ssl``'s own
``_SSLSocket`` holds. The pointer is trusted only after two checks that
read no memory outside objects this process owns: the field before it
must be the weak reference to our socket that ``_ssl`` keeps (found with
``weakref.getweakrefs``), and OpenSSL's app data slot of the pointer must
name the ``_SSLSocket`` itself (``_ssl`` stores it there). When a check
fails (another interpreter build, no ctypes) the ``ssl`` call is used and
the loss above remains possible.
"""

from __future__ import annotations

import ssl
import weakref
from typing import Any

__all__ = ["send_close_notify"]

# OpenSSL's SSL_get_error codes.
_WANT_READ = 2
_WANT_WRITE = 3

try:
    import ctypes

    _lib: Any = ctypes.CDLL(ssl._ssl.__file__)  # type: ignore[attr-defined]
    _lib.SSL_shutdown.argtypes = [ctypes.c_void_p]
    _lib.SSL_shutdown.restype = ctypes.c_int
    _lib.SSL_get_error.argtypes = [ctypes.c_void_p, ctypes.c_int]
    _lib.SSL_get_error.restype = ctypes.c_int
    _lib.SSL_get_ex_data.argtypes = [ctypes.c_void_p, ctypes.c_int]
    _lib.SSL_get_ex_data.restype = ctypes.c_void_p
    _lib.ERR_clear_error.argtypes = []
    _lib.ERR_clear_error.restype = None
    _PTR = ctypes.sizeof(ctypes.c_void_p)
    # A PyObject header (refcount, type) on a standard build.
    _HEAD = ctypes.sizeof(ctypes.c_ssize_t) + _PTR
except (ImportError, OSError, AttributeError):
    _lib = None


def _ssl_pointer(obj: Any, sock: Any) -> int | None:
    """The ``SSL *`` inside ``obj`` (an ``_ssl._SSLSocket`` on ``sock``), or
    None when its layout is not the one checked for."""
    if _lib is None or type(obj).__name__ != "_SSLSocket":
        return None
    base = id(obj)
    ref = ctypes.c_void_p.from_address(base + _HEAD).value
    if ref is None or ref not in {id(w) for w in weakref.getweakrefs(sock)}:
        return None
    ptr = ctypes.c_void_p.from_address(base + _HEAD + _PTR).value
    if not ptr or _lib.SSL_get_ex_data(ptr, 0) != base:
        return None
    return ptr


def send_close_notify(obj: Any, sock: Any) -> None:
    """Send close_notify on ``obj`` (the SSL object on ``sock``) without
    reading anything. Raises ``ssl.SSLWantWriteError`` when the socket
    cannot take the alert now (call again when it is writable) and
    ``ssl.SSLError`` when OpenSSL refuses."""
    ptr = _ssl_pointer(obj, sock)
    if ptr is None:
        try:
            obj.shutdown()
        except ssl.SSLWantReadError:
            pass  # ours went out; the peer's close_notify is not awaited
        return
    _lib.ERR_clear_error()
    r = _lib.SSL_shutdown(ptr)
    if r >= 0:
        return
    err = _lib.SSL_get_error(ptr, r)
    _lib.ERR_clear_error()
    if err == _WANT_WRITE:
        raise ssl.SSLWantWriteError(err, "close_notify: the socket is full")
    if err == _WANT_READ:
        return
    raise ssl.SSLError(err, "close_notify: SSL_shutdown failed")
