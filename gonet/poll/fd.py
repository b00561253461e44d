"""FD layer: a non-blocking socket, its pollDesc, and a reference-counted close.

This is gonet's ``internal/poll/fd_unix.go`` + ``fd_mutex.go``. Every
operation has the same shape::

    lock the direction
    check the pollDesc (closed? deadline expired?)
    loop: try the syscall; on EAGAIN park on the poller for that direction;
          when woken, retry (a wake-up may be spurious)
    unlock

The syscall is always tried first: a read on a busy connection usually finds
data and never parks.

The lock (Go's fdMutex, cut to what one OS thread needs)
--------------------------------------------------------

- ``_rbusy`` / ``_wbusy``: a goroutine is inside a read-side (read, accept,
  recvfrom) or write-side (write, connect, sendto, sendfile) operation. A
  second goroutine that arrives parks on ``_rq`` / ``_wq`` and takes its turn,
  so two readers never interleave on one stream and at most one goroutine
  waits on each pollDesc direction.
- ``_refs``: short references that hold no lock (shutdown, setsockopt).
  The references in flight are the two locks plus ``_refs``. ``close`` marks
  the FD closing and evicts the pollDesc, which wakes every parked goroutine
  with "use of closed network connection"; the socket itself is closed by
  whoever drops the last reference, so an fd number is never reused while an
  operation still holds it.

The fast path of each operation takes its lock with one test and one store
and gives it back with one store and one test; anything else (a queue, a
close) goes through ``_lock_slow`` / ``_unlock_slow``.

Reads after a short read
------------------------

A stream read that returned fewer bytes than asked for emptied the socket
(a datagram read says nothing of the datagrams behind it: not for those).
Under edge triggering every byte that arrives after that leaves an event: the
pollDesc is READY already, or the kernel holds the edge for the next poll
(under the level-triggered poll backend, arming reports it at once). So the
next read skips the syscall and goes straight to ``wait_read``, which consumes
a READY without parking. This saves the read(2) that would fail with
EAGAIN, which in Python costs more than a successful one (it raises an
exception). The exception is a peer that hung up (or an fd
in error): no edge follows the one that reported it, and that edge may have
come together with the data just read, so once the poller has seen a hang-up
(``pd.eof``) every read tries the syscall again.

An FD belongs to the scheduler of the thread that created it; its operations
must run on that thread. ``close`` may be called from any thread.

Errors raised here are the bare :class:`ClosedError` and
:class:`DeadlineExceededError` and the OS's own OSErrors; the net layer
renames them after the operation and the endpoints.
"""

from __future__ import annotations

import errno
import os
import socket
import threading
from collections import deque
from typing import Any

from gonet.poll.errors import ClosedError, DeadlineExceededError
from gonet.runtime.netpoll import MODE_R, MODE_RW, MODE_W, POLL_ERR_CLOSING, READY, PollDesc
from gonet.runtime.sched import get_sched

__all__ = ["FD", "PlainSocket"]

#: The standard library's socket class as it was when gonet was imported.
#: gonet's own sockets are of this class, so that ``gonet.patch()``, which
#: replaces ``socket.socket``, leaves them alone (they are non-blocking and
#: driven by an FD already).
PlainSocket = socket.socket

# Stream reads and writes are read(2) and write(2), as in Go's fd_unix.go:
# on a socket the same as recv/send without flags, and os.read/os.write cost
# less per call than the socket methods (no PyArg_ParseTuple, no timeout
# bookkeeping; benchmarks/README.md has the measurement).
_read = os.read
_write = os.write

_CONNECT_PENDING = frozenset({errno.EINPROGRESS, errno.EALREADY, errno.EINTR, errno.EAGAIN})


def _poll_error(code: int) -> OSError:
    return ClosedError() if code == POLL_ERR_CLOSING else DeadlineExceededError()


class FD:
    """A non-blocking socket registered with this thread's netpoller."""

    __slots__ = (
        "sock",
        "sysfd",
        "pd",
        "family",
        "type",
        "_sched",
        "_rbusy",
        "_wbusy",
        "_rq",
        "_wq",
        "_refs",
        "_closing",
        "_destroyed",
        "_rdrained",
        "_stream",
        "__weakref__",
    )

    def __init__(self, sock: socket.socket) -> None:
        sock.setblocking(False)
        self.sock = sock
        self.sysfd = sock.fileno()
        self.family = sock.family
        self.type = sock.type
        sched = get_sched()
        self._sched = sched
        self.pd: PollDesc = sched.netpoll.open(self.sysfd)
        self._rbusy = False
        self._wbusy = False
        self._rq: deque | None = None
        self._wq: deque | None = None
        self._refs = 0
        self._closing = False
        self._destroyed = False
        self._rdrained = False
        # Only a byte stream is drained by a short read: a datagram read
        # returns one datagram, however many more are queued behind it.
        self._stream = sock.type == socket.SOCK_STREAM

    def __repr__(self) -> str:
        state = "closed" if self._closing else "open"
        return f"<FD {self.sysfd} {state}>"

    def fileno(self) -> int:
        return self.sysfd

    @property
    def closed(self) -> bool:
        return self._closing

    # -- the fdMutex --------------------------------------------------------

    def _lock_slow(self, write: bool) -> None:
        """Wait for the direction's lock (or fail if closing); then hold it."""
        sched = self._sched
        while True:
            if self._closing:
                raise ClosedError()
            if not (self._wbusy if write else self._rbusy):
                break
            if write:
                q = self._wq = self._wq or deque()
            else:
                q = self._rq = self._rq or deque()
            g = sched.current
            q.append(g)
            try:
                sched.park("IO lock")
            finally:
                try:
                    q.remove(g)
                except ValueError:
                    pass
        if write:
            self._wbusy = True
        else:
            self._rbusy = True

    def _unlock_slow(self, q: deque | None) -> None:
        """After a lock was given back: let the next waiter in, or finish a close."""
        if q:
            self._sched.ready(q.popleft())
        if self._closing:
            self._destroy_if_unused()

    def _destroy_if_unused(self) -> None:
        if not self._rbusy and not self._wbusy and self._refs == 0:
            self._destroy()

    def _incref(self) -> None:
        if self._closing:
            raise ClosedError()
        self._refs += 1

    def _decref(self) -> None:
        self._refs -= 1
        if self._closing:
            self._destroy_if_unused()

    # -- reads --------------------------------------------------------------

    def read(self, n: int) -> bytes:
        """Read up to ``n`` bytes; b"" at end of stream."""
        if self._rbusy or self._closing:
            self._lock_slow(False)
        else:
            self._rbusy = True
        try:
            pd = self.pd
            if pd.rd < 0.0:
                raise DeadlineExceededError()
            if self._rdrained:  # see "Reads after a short read" above
                self._rdrained = False
                if not pd.eof:
                    code = pd.wait_read()
                    if code:
                        raise _poll_error(code)
            fd = self.sysfd
            while True:
                try:
                    data = _read(fd, n)
                except BlockingIOError:
                    code = pd.wait_read()
                    if code:
                        raise _poll_error(code)
                    continue
                if 0 < len(data) < n and self._stream:
                    self._rdrained = True
                return data
        finally:
            self._rbusy = False
            if self._rq or self._closing:
                self._unlock_slow(self._rq)

    def read_into(self, buf: Any, nbytes: int = 0) -> int:
        """Read into a writable buffer; returns the count (0 at end of stream)."""
        if self._rbusy or self._closing:
            self._lock_slow(False)
        else:
            self._rbusy = True
        try:
            pd = self.pd
            if pd.rd < 0.0:
                raise DeadlineExceededError()
            if self._rdrained:
                self._rdrained = False
                if not pd.eof:
                    code = pd.wait_read()
                    if code:
                        raise _poll_error(code)
            recv_into = self.sock.recv_into
            want = nbytes or len(buf)
            while True:
                try:
                    got = recv_into(buf, nbytes)
                except BlockingIOError:
                    code = pd.wait_read()
                    if code:
                        raise _poll_error(code)
                    continue
                if 0 < got < want and self._stream:
                    self._rdrained = True
                return got
        finally:
            self._rbusy = False
            if self._rq or self._closing:
                self._unlock_slow(self._rq)

    def read_later(self, fn: Any, args: tuple = (), name: str | None = None) -> Any:
        """Run ``fn(*args)`` in a new goroutine once the fd is readable, closed,
        or past its read deadline; returns that goroutine.

        Nothing is parked meanwhile: the goroutine is created parked and never
        started, so a connection that waits this way costs a few hundred bytes
        instead of a parked goroutine's stack. Its first read finds the data,
        or raises the closed or deadline error, as a parked read would have.
        """
        if self._rbusy:
            raise RuntimeError(f"fd {self.sysfd}: read_later while a read is in progress")
        sched = self._sched
        self._rdrained = False  # the wake-up is used to start fn: fn must try recv
        g = sched.spawn_parked(fn, args, name, "IO wait (idle)")
        # The semaphore alone tells whether bytes wait unread: every read
        # that the poller readied retried its syscall (readiness wins over a
        # deadline, see gonet.runtime.netpoll), so no edge was consumed
        # without reading, and any edge since is held as READY.
        if self._closing or not self.pd.handoff_read(g):
            sched.ready(g)
        return g

    def readable_now(self) -> bool:
        """True when a read would not park: bytes or an end of stream wait,
        or the FD is closed or past its read deadline. Never parks.

        Under an edge-triggered poller the pollDesc answers without a
        syscall when it has seen no event since the last read (no READY, no
        hang-up): nothing has arrived. Otherwise (an event, which may be
        stale, or a level-triggered poller that watches only while a reader
        waits) one non-blocking ``recv(1, MSG_PEEK)`` decides. Used on a
        pooled client connection, where anything readable means the server
        closed it or sent what nobody asked for.
        """
        if self._closing:
            return True
        pd = self.pd
        if pd.rd < 0.0:
            return True
        if pd.rg is not READY and not pd.eof and pd.poller.arm is None:
            return False
        try:
            self.sock.recv(1, socket.MSG_PEEK)
        except BlockingIOError:
            return False
        except OSError:
            return True
        return True

    def recvfrom(self, n: int) -> tuple[bytes, Any]:
        """Receive one datagram of at most ``n`` bytes and its sender's address."""
        self._lock_slow(False)
        try:
            pd = self.pd
            if pd.rd < 0.0:
                raise DeadlineExceededError()
            while True:
                try:
                    return self.sock.recvfrom(n)
                except BlockingIOError:
                    pass
                code = pd.wait_read()
                if code:
                    raise _poll_error(code)
        finally:
            self._rbusy = False
            self._unlock_slow(self._rq)

    def accept(self) -> tuple[socket.socket, Any]:
        """Accept a connection; the new socket is non-blocking (wrap it in an FD)."""
        self._lock_slow(False)
        try:
            pd = self.pd
            if pd.rd < 0.0:
                raise DeadlineExceededError()
            while True:
                try:
                    fd, addr = self.sock._accept()
                    sock = self.sock
                    return PlainSocket(sock.family, sock.type, sock.proto, fileno=fd), addr
                except BlockingIOError:
                    pass
                except ConnectionAbortedError:
                    continue  # the peer gave up before we took it: try the next one
                code = pd.wait_read()
                if code:
                    raise _poll_error(code)
        finally:
            self._rbusy = False
            self._unlock_slow(self._rq)

    # -- writes -------------------------------------------------------------

    def write(self, data: Any) -> int:
        """Write all of ``data`` (parking as often as needed); returns len(data)."""
        if self._wbusy or self._closing:
            self._lock_slow(True)
        else:
            self._wbusy = True
        try:
            pd = self.pd
            if pd.wd < 0.0:
                raise DeadlineExceededError()
            fd = self.sysfd
            total = len(data)
            try:
                sent = _write(fd, data)
            except BlockingIOError:
                sent = 0
            if sent == total:
                return total
            view = memoryview(data).cast("B")
            total = len(view)
            while True:
                if sent >= total:
                    return total
                code = pd.wait_write()
                if code:
                    raise _poll_error(code)
                try:
                    sent += _write(fd, view[sent:])
                except BlockingIOError:
                    pass
        finally:
            self._wbusy = False
            if self._wq or self._closing:
                self._unlock_slow(self._wq)

    def sendto(self, data: Any, addr: Any) -> int:
        """Send one datagram to ``addr``."""
        self._lock_slow(True)
        try:
            pd = self.pd
            if pd.wd < 0.0:
                raise DeadlineExceededError()
            while True:
                try:
                    return self.sock.sendto(data, addr)
                except BlockingIOError:
                    pass
                code = pd.wait_write()
                if code:
                    raise _poll_error(code)
        finally:
            self._wbusy = False
            self._unlock_slow(self._wq)

    def sendfile(self, file: Any, offset: int = 0, count: int | None = None) -> int:
        """Send ``count`` bytes (to EOF if None) of ``file`` from ``offset`` with sendfile(2).

        Returns the bytes sent, which is less than ``count`` only at end of file.
        """
        infd = file if isinstance(file, int) else file.fileno()
        if count is None:
            count = os.fstat(infd).st_size - offset
        self._lock_slow(True)
        try:
            pd = self.pd
            if pd.wd < 0.0:
                raise DeadlineExceededError()
            sent = 0
            while sent < count:
                try:
                    n = os.sendfile(self.sysfd, infd, offset + sent, min(count - sent, 1 << 30))
                except BlockingIOError:
                    n = -1
                if n == 0:
                    break  # end of file
                if n > 0:
                    sent += n
                    continue
                code = pd.wait_write()
                if code:
                    raise _poll_error(code)
            return sent
        finally:
            self._wbusy = False
            self._unlock_slow(self._wq)

    def connect(self, addr: Any) -> None:
        """Connect a fresh socket: EINPROGRESS -> wait writable -> SO_ERROR.

        A write deadline set beforehand bounds the wait (that is how dial's
        timeout works).
        """
        self._lock_slow(True)
        try:
            pd = self.pd
            if pd.wd < 0.0:
                raise DeadlineExceededError()
            err = self.sock.connect_ex(addr)
            if err in _CONNECT_PENDING:
                while True:
                    code = pd.wait_write()
                    if code:
                        raise _poll_error(code)
                    err = self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                    if err not in _CONNECT_PENDING:
                        break
            if err not in (0, errno.EISCONN):
                raise _os_error(err)
        finally:
            self._wbusy = False
            self._unlock_slow(self._wq)

    # -- raw I/O: a library that does its own syscalls on the fd -------------

    def raw_read(self, f: Any, arg: Any, want_read: Any, want_write: Any) -> Any:
        """Call ``f(arg)`` under the read lock and return what it returns
        (Go's ``FD.RawRead``, for a library that reads the fd itself, such
        as OpenSSL). While it raises ``want_read`` park until the fd is
        readable, while it raises ``want_write`` until it is writable (under
        the write lock for that wait), then call it again.

        As every read here: ``f`` is tried first, and it is only called while
        the fd is open (a closed fd raises ClosedError instead). ``want_read``
        must mean that the library's own read(2) failed with EAGAIN: then
        the next edge is sure to come.
        """
        if self._rbusy or self._closing:
            self._lock_slow(False)
        else:
            self._rbusy = True
        try:
            pd = self.pd
            if pd.rd < 0.0:
                raise DeadlineExceededError()
            while True:
                try:
                    return f(arg)
                except want_read:
                    code = pd.wait_read()
                except want_write:
                    code = self._wait_other(True)
                if code:
                    raise _poll_error(code)
        finally:
            self._rbusy = False
            if self._rq or self._closing:
                self._unlock_slow(self._rq)

    def raw_write(self, f: Any, arg: Any, want_read: Any, want_write: Any) -> Any:
        """The write-side twin of :meth:`raw_read` (Go's ``FD.RawWrite``):
        ``f(arg)`` under the write lock, parking while it raises
        ``want_write`` (until writable) or ``want_read`` (until readable,
        under the read lock for that wait)."""
        if self._wbusy or self._closing:
            self._lock_slow(True)
        else:
            self._wbusy = True
        try:
            pd = self.pd
            if pd.wd < 0.0:
                raise DeadlineExceededError()
            while True:
                try:
                    return f(arg)
                except want_write:
                    code = pd.wait_write()
                except want_read:
                    code = self._wait_other(False)
                if code:
                    raise _poll_error(code)
        finally:
            self._wbusy = False
            if self._wq or self._closing:
                self._unlock_slow(self._wq)

    def raw_control(self, f: Any) -> Any:
        """``f(fd)`` with a reference held, so the fd stays open meanwhile
        (Go's ``FD.RawControl``)."""
        self._incref()
        try:
            return f(self.sysfd)
        finally:
            self._decref()

    def _wait_other(self, write: bool) -> int:
        """Inside an operation of one direction, wait once for the other one
        (its lock held meanwhile, so one goroutine at most waits on each)."""
        self._lock_slow(write)
        try:
            return self.pd.wait_write() if write else self.pd.wait_read()
        finally:
            if write:
                self._wbusy = False
                self._unlock_slow(self._wq)
            else:
                self._rbusy = False
                self._unlock_slow(self._rq)

    # -- everything else ----------------------------------------------------

    def shutdown(self, how: int) -> None:
        self._incref()
        try:
            self.sock.shutdown(how)
        finally:
            self._decref()

    def setsockopt(self, level: int, opt: int, value: Any) -> None:
        self._incref()
        try:
            self.sock.setsockopt(level, opt, value)
        finally:
            self._decref()

    def set_deadline(self, t: float | None) -> None:
        self.pd.set_deadline(t, MODE_RW)

    def set_read_deadline(self, t: float | None) -> None:
        self.pd.set_deadline(t, MODE_R)

    def set_write_deadline(self, t: float | None) -> None:
        self.pd.set_deadline(t, MODE_W)

    def close(self) -> None:
        """Close: wake every parked operation with ClosedError; the socket is
        closed when the last in-flight operation returns. Idempotent; any thread.
        """
        if self._sched.thread is not threading.current_thread():
            self._sched.call_soon_threadsafe(self.close)
            return
        if self._closing:
            return
        self._closing = True
        self.pd.evict()
        sched = self._sched
        for q in (self._rq, self._wq):
            while q:
                sched.ready(q.popleft())
        self._destroy_if_unused()

    def _destroy(self) -> None:
        if self._destroyed:
            return
        self._destroyed = True
        pd = self.pd
        if pd.poller is not None:
            pd.poller.close(pd)
        self.sock.close()

    def detach_socket(self) -> socket.socket:
        """Stop polling the fd and hand the socket over (it stays open and non-blocking)."""
        if self._rbusy or self._wbusy or self._refs:
            raise RuntimeError("detach with an operation in flight")
        self._closing = True
        self._destroyed = True
        pd = self.pd
        pd.evict()
        if pd.poller is not None:
            pd.poller.close(pd)
        return self.sock

    def __del__(self) -> None:
        # Dropped without close(): nothing can be parked on it (a parked
        # goroutine would hold a reference), so release it directly.
        if self._destroyed:
            return
        self._destroyed = True
        try:
            pd = self.pd
            if pd.poller is not None and self._sched.thread is threading.current_thread():
                pd.closing = True
                pd.poller.close(pd)
            self.sock.close()
        except Exception:
            pass


def _os_error(err: int) -> OSError:
    return OSError(err, os.strerror(err))
