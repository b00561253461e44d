"""Patch layer: a ``socket.socket`` whose blocking calls park the goroutine, and
DNS look-ups through the thread hand-off.

:class:`socket` subclasses the standard library's class, so ``isinstance``
checks and every method it does not override behave as before. It has three
states (``_gpd``)::

    None     plain: the OS descriptor is in the mode the user set (blocking,
             timeout or non-blocking), and every call is the stdlib's own.
    _NOPD    cooperative, not registered: the descriptor is non-blocking; the
             user's timeout lives in ``_gtimeout``.
    PollDesc cooperative and registered with a scheduler's netpoller.

    None -> PollDesc   the first call from a goroutine that may wait
    PollDesc -> _NOPD  close / detach, or registration refused
    _NOPD -> PollDesc  the next call from a goroutine

A socket that no goroutine ever waits on stays plain for its whole life.

In a goroutine, an operation is FD's loop: try the syscall on the
non-blocking descriptor; on EAGAIN park on the poller for that direction,
with the socket's timeout as a deadline (a whole ``sendall`` shares one
deadline, as in CPython), and raise ``socket.timeout`` ("timed out") when it
passes; a user timeout of 0 leaves the call non-blocking, exactly as before.

Outside a goroutine, a plain socket is the stdlib's. A cooperative one (used
by a goroutine before) keeps the same meaning: its calls wait in ``poll(2)``
with the user's timeout, as CPython's own C code does for a socket with a
timeout.

A connect to a host name resolves it on the thread pool first (CPython's C
connect would call getaddrinfo on the scheduler's thread).
"""

from __future__ import annotations

import _socket
import errno
import os
import select as _select
import socket as _stdsocket
import time
from _thread import get_ident
from typing import Any

from gonet.coop._wait import wait_fd
from gonet.runtime.netpoll import (
    MODE_R,
    MODE_W,
    OS_POLLERS,
    POLL_ERR_CLOSING,
    POLL_ERR_TIMEOUT,
    READY,
)
from gonet.runtime.sched import get_sched, goroutine_here
from gonet.runtime.threadpool import blocking

__all__ = ["socket", "getaddrinfo", "gethostbyname", "gethostbyname_ex", "gethostbyaddr",
           "getnameinfo", "ORIGINALS"]

_ss = _socket.socket
_StdSocket = _stdsocket.socket  # the stdlib's class, before any patching
_monotonic = time.monotonic
_timeout = _socket.timeout
_poll = OS_POLLERS["poll"]  # the unpatched select.poll
_POLLIN = _select.POLLIN
_POLLOUT = _select.POLLOUT
_CONNECT_PENDING = frozenset({errno.EINPROGRESS, errno.EAGAIN, errno.EALREADY, errno.EINTR})


class _NoPD:
    __slots__ = ()

    def __repr__(self) -> str:
        return "_NOPD"


_NOPD: Any = _NoPD()


def _closed_error() -> OSError:
    return OSError(errno.EBADF, os.strerror(errno.EBADF))


class socket(_StdSocket):  # noqa: N801 - the stdlib's name, which it replaces
    """``socket.socket`` with cooperative blocking calls (see the module docstring)."""

    __slots__ = ("_gtimeout", "_gpd")

    def __init__(self, family: int = -1, type: int = -1, proto: int = -1,  # noqa: A002
                 fileno: int | None = None) -> None:
        _StdSocket.__init__(self, family, type, proto, fileno)
        self._gtimeout: float | None = _ss.gettimeout(self)
        self._gpd: Any = None

    # -- the timeout, as the user sees it ----------------------------------

    def settimeout(self, value: float | None) -> None:
        if self._gpd is None:
            _ss.settimeout(self, value)
            self._gtimeout = _ss.gettimeout(self)
        else:  # cooperative: the descriptor stays non-blocking
            self._gtimeout = _checked_timeout(value)

    def gettimeout(self) -> float | None:
        return self._gtimeout

    def setblocking(self, flag: bool) -> None:
        self.settimeout(None if flag else 0.0)

    def getblocking(self) -> bool:
        return self._gtimeout != 0.0

    @property
    def timeout(self) -> float | None:  # type: ignore[override]
        return self._gtimeout

    # -- the cooperative machinery --------------------------------------------

    def _gready(self) -> Any:
        """In a goroutine: make the socket cooperative and registered with this
        thread's poller if it can be; returns its PollDesc, or _NOPD."""
        pd = self._gpd
        sched = get_sched()
        if pd is not None and pd is not _NOPD:
            if pd.poller is sched.netpoll:
                return pd
            if pd.poller is not None and pd.poller.backend is not None:
                return _NOPD  # registered by another thread's scheduler: wait another way
            pd = None  # its poller is gone (the thread ended, or a fork)
        if pd is None:
            _ss.settimeout(self, 0.0)
        fd = self.fileno()
        if fd < 0:
            raise _closed_error()
        try:
            pd = sched.netpoll.open(fd)
        except (OSError, ValueError):
            pd = _NOPD  # the poller watches this fd already (shared with a gonet Conn)
        self._gpd = pd
        return pd

    def _gwait(self, pd: Any, write: bool, deadline: float | None) -> None:
        """Park until the descriptor may be ready; raise socket.timeout at ``deadline``."""
        if deadline is not None:
            remaining = deadline - _monotonic()
            if remaining <= 0:
                raise _timeout("timed out")
        else:
            remaining = None
        if pd is not _NOPD:
            slot = pd.wg if write else pd.rg
            busy = slot is not None and slot is not READY  # another goroutine waits there
        if pd is _NOPD or busy:
            # Not registered here, or this direction has its waiter already:
            # wait on a private registration.
            if not wait_fd(self.fileno(), write, remaining):
                raise _timeout("timed out")
            return
        mode = MODE_W if write else MODE_R
        if deadline is None:
            code = pd.wait_write() if write else pd.wait_read()
        else:
            pd.set_deadline(deadline, mode)
            try:
                code = pd.wait_write() if write else pd.wait_read()
            finally:  # the deadline is this call's only, however it ends
                pd.set_deadline(None, mode)
        if code == POLL_ERR_TIMEOUT:
            raise _timeout("timed out")
        if code == POLL_ERR_CLOSING:
            raise _closed_error()

    def _block_wait(self, write: bool, deadline: float | None) -> None:
        """Outside a goroutine, on a cooperative socket: wait in poll(2)."""
        p = _poll()
        p.register(self.fileno(), _POLLOUT if write else _POLLIN)
        while True:
            if deadline is None:
                ms = None
            else:
                remaining = deadline - _monotonic()
                if remaining <= 0:
                    raise _timeout("timed out")
                ms = max(int(remaining * 1000) + 1, 1)
            if p.poll(ms):
                return

    def _io(self, fn: Any, write: bool, *args: Any) -> Any:
        """Run ``fn(self, *args)`` (an unpatched method) with the socket's
        blocking meaning: parking in a goroutine, poll(2) in a plain thread."""
        t = self._gtimeout
        if t == 0.0:
            return fn(self, *args)
        inside = goroutine_here() is not None
        if inside:
            pd = self._gready()
        elif self._gpd is None:
            return fn(self, *args)
        else:
            pd = None
        deadline = None if t is None else _monotonic() + t
        while True:
            try:
                return fn(self, *args)
            except BlockingIOError:
                pass
            if inside:
                self._gwait(pd, write, deadline)
            else:
                self._block_wait(write, deadline)

    # -- reads ----------------------------------------------------------------

    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        return self._io(_ss.recv, False, bufsize, flags)

    def recv_into(self, buffer: Any, nbytes: int = 0, flags: int = 0) -> int:
        return self._io(_ss.recv_into, False, buffer, nbytes, flags)

    def recvfrom(self, bufsize: int, flags: int = 0) -> tuple[bytes, Any]:
        return self._io(_ss.recvfrom, False, bufsize, flags)

    def recvfrom_into(self, buffer: Any, nbytes: int = 0, flags: int = 0) -> tuple[int, Any]:
        return self._io(_ss.recvfrom_into, False, buffer, nbytes, flags)

    if hasattr(_ss, "recvmsg"):
        def recvmsg(self, *args: Any) -> Any:
            return self._io(_ss.recvmsg, False, *args)

        def recvmsg_into(self, *args: Any) -> Any:
            return self._io(_ss.recvmsg_into, False, *args)

    def _accept(self) -> tuple[int, Any]:
        return self._io(_ss._accept, False)

    # -- writes ---------------------------------------------------------------

    def send(self, data: Any, flags: int = 0) -> int:
        return self._io(_ss.send, True, data, flags)

    def sendto(self, data: Any, *args: Any) -> int:
        if len(args) == 1:
            args = (0, self._resolved(args[0]))
        elif len(args) == 2:
            args = (args[0], self._resolved(args[1]))
        return self._io(_ss.sendto, True, data, *args)

    if hasattr(_ss, "sendmsg"):
        def sendmsg(self, *args: Any) -> int:
            return self._io(_ss.sendmsg, True, *args)

    def sendall(self, data: Any, flags: int = 0) -> None:
        t = self._gtimeout
        inside = goroutine_here() is not None
        if t == 0.0 or (not inside and self._gpd is None):
            return _ss.sendall(self, data, flags)
        pd = self._gready() if inside else None
        deadline = None if t is None else _monotonic() + t  # one deadline for the whole call
        with memoryview(data) as view, view.cast("B") as b:
            total = len(b)
            sent = 0
            while sent < total:
                try:
                    sent += _ss.send(self, b[sent:], flags)
                    continue
                except BlockingIOError:
                    pass
                if inside:
                    self._gwait(pd, True, deadline)
                else:
                    self._block_wait(True, deadline)

    def sendfile(self, file: Any, offset: int = 0, count: int | None = None) -> int:
        if goroutine_here() is not None and self._gtimeout != 0.0:
            self._gready()  # non-blocking descriptor: os.sendfile's EAGAIN goes to the selector
        return _StdSocket.sendfile(self, file, offset, count)

    # -- connect ------------------------------------------------------------

    def _resolved(self, address: Any) -> Any:
        """``address`` with its host name looked up on the thread pool, when a
        goroutine would otherwise wait for DNS inside the C call."""
        if (self.family not in (_socket.AF_INET, _socket.AF_INET6)
                or not isinstance(address, tuple) or len(address) < 2
                or not isinstance(address[0], str) or _is_numeric(address[0])
                or goroutine_here() is None):
            return address
        infos = blocking(_ORIG["getaddrinfo"], address[0], address[1], self.family, self.type,
                         self.proto)
        if not infos:
            raise _socket.gaierror(_socket.EAI_NONAME, "Name or service not known")
        return infos[0][4]

    def _connect(self, address: Any, raise_error: bool) -> int:
        t = self._gtimeout
        inside = goroutine_here() is not None
        if t == 0.0 or (not inside and self._gpd is None):
            if raise_error:
                _ss.connect(self, address)
                return 0
            return _ss.connect_ex(self, address)
        address = self._resolved(address)
        pd = self._gready() if inside else None
        deadline = None if t is None else _monotonic() + t
        err = _ss.connect_ex(self, address)
        if err in _CONNECT_PENDING:
            while True:
                try:
                    if inside:
                        self._gwait(pd, True, deadline)
                    else:
                        self._block_wait(True, deadline)
                except _timeout:
                    if raise_error:
                        raise
                    return errno.EAGAIN
                err = _ss.getsockopt(self, _socket.SOL_SOCKET, _socket.SO_ERROR)
                if err == 0:
                    # No error yet is not connected yet (a wake-up can be an
                    # old edge): Go's connect asks getpeername too.
                    try:
                        _ss.getpeername(self)
                    except OSError as e:
                        if e.errno != errno.ENOTCONN:
                            raise
                        continue
                    break
                if err not in _CONNECT_PENDING:
                    break
        if err in (0, errno.EISCONN):
            return 0
        if raise_error:
            raise OSError(err, os.strerror(err))
        return err

    def connect(self, address: Any) -> None:
        self._connect(address, True)

    def connect_ex(self, address: Any) -> int:
        return self._connect(address, False)

    # -- copies and the end ---------------------------------------------------

    def dup(self) -> socket:
        s = _StdSocket.dup(self)  # a new object of this class, with our timeout
        if self._gpd is not None:
            s._gpd = _NOPD  # shares our non-blocking descriptor
            _ss.settimeout(s, 0.0)
        return s

    def _gunregister(self) -> None:
        pd = self._gpd
        if pd is None or pd is _NOPD:
            return
        self._gpd = _NOPD
        poller = pd.poller
        if poller is None or poller.backend is None:
            return
        if poller.thread_id == get_ident():
            pd.evict()
            poller.close(pd)
        else:
            poller.sched.call_soon_threadsafe(lambda: (pd.evict(), poller.close(pd)))

    def _real_close(self, _ss: Any = _ss) -> None:
        self._gunregister()
        _ss.close(self)

    def detach(self) -> int:
        if self._gpd is not None:
            self._gunregister()
            _ss.settimeout(self, self._gtimeout)  # the descriptor leaves in the mode its user set
            self._gpd = None
        return _StdSocket.detach(self)


def _checked_timeout(value: Any) -> float | None:
    """``value`` as socket.settimeout takes it: None, or seconds >= 0."""
    if value is None:
        return None
    t = float(value)
    if t < 0:
        raise ValueError("Timeout value out of range")
    return t


def _is_numeric(host: str) -> bool:
    if host in ("", "<broadcast>"):
        return True
    for fam in (_socket.AF_INET, _socket.AF_INET6):
        try:
            _socket.inet_pton(fam, host)
            return True
        except (OSError, ValueError):
            pass
    return False


# -- DNS: the stdlib's resolver functions, on the thread pool in a goroutine -----

#: The unpatched functions, taken when this module was imported.
ORIGINALS: dict[str, Any] = {
    name: getattr(_stdsocket, name)
    for name in ("getaddrinfo", "gethostbyname", "gethostbyname_ex", "gethostbyaddr",
                 "getnameinfo")
}
_ORIG = ORIGINALS


def getaddrinfo(host: Any, port: Any, family: int = 0, type: int = 0,  # noqa: A002
                proto: int = 0, flags: int = 0) -> list:
    if goroutine_here() is None or host is None or (isinstance(host, str) and _is_numeric(host)):
        return _ORIG["getaddrinfo"](host, port, family, type, proto, flags)
    return blocking(_ORIG["getaddrinfo"], host, port, family, type, proto, flags)


def gethostbyname(hostname: str) -> str:
    if goroutine_here() is None or _is_numeric(hostname):
        return _ORIG["gethostbyname"](hostname)
    return blocking(_ORIG["gethostbyname"], hostname)


def gethostbyname_ex(hostname: str) -> tuple:
    if goroutine_here() is None:
        return _ORIG["gethostbyname_ex"](hostname)
    return blocking(_ORIG["gethostbyname_ex"], hostname)


def gethostbyaddr(ip_address: str) -> tuple:
    if goroutine_here() is None:
        return _ORIG["gethostbyaddr"](ip_address)
    return blocking(_ORIG["gethostbyaddr"], ip_address)


def getnameinfo(sockaddr: tuple, flags: int) -> tuple:
    if goroutine_here() is None:
        return _ORIG["getnameinfo"](sockaddr, flags)
    return blocking(_ORIG["getnameinfo"], sockaddr, flags)
