"""Patch layer: ``select.select``, ``select.poll``, ``select.epoll`` and the
``selectors`` classes, parking the goroutine while they wait.

Each blocking wait becomes: ask the unpatched call with a zero timeout (try
first); if nothing is ready, park until one of the descriptors may be ready
or the timeout passes (``_wait.wait_fds``: a private epoll holding them,
itself watched by the scheduler's poller; for an epoll object, or an epoll
selector, its own descriptor); then ask again with a zero timeout, so the
result has exactly the stdlib's form. A zero timeout, and every call outside
a goroutine, is the stdlib's call unchanged.

Where the OS has no epoll the waits go to the thread pool instead
(``gonet.blocking``): still no stall, at the cost of a pool thread.
"""

from __future__ import annotations

import select as _stdselect
import selectors as _stdselectors
import time
from typing import Any

from gonet.coop._wait import EPOLL, wait_fd, wait_fds
from gonet.runtime.sched import goroutine_here
from gonet.runtime.threadpool import blocking

__all__ = ["select", "poll", "epoll", "EpollSelector", "PollSelector", "SelectSelector",
           "DefaultSelector", "ORIGINALS"]

ORIGINALS: dict[str, Any] = {"select": _stdselect.select, "poll": getattr(_stdselect, "poll", None)}
_select = _stdselect.select
_poll = ORIGINALS["poll"]
_monotonic = time.monotonic
# The selector classes as the stdlib defines them (the patch replaces the
# module's names with the subclasses below).
_StdEpollSelector = getattr(_stdselectors, "EpollSelector", None)
_StdPollSelector = getattr(_stdselectors, "PollSelector", None)
_StdSelectSelector = _stdselectors.SelectSelector

_IN = getattr(_stdselect, "EPOLLIN", 1)
_OUT = getattr(_stdselect, "EPOLLOUT", 4)
_PRI = getattr(_stdselect, "EPOLLPRI", 2)
# poll(2) and epoll share the values of IN, PRI, OUT, ERR, HUP, RDNORM... on Linux.
_POLL_TO_EPOLL_MASK = _IN | _OUT | _PRI | getattr(_stdselect, "POLLRDHUP", 0x2000)


def _fileno(obj: Any) -> int:
    return obj if isinstance(obj, int) else obj.fileno()


def _remaining(deadline: float | None) -> float | None:
    if deadline is None:
        return None
    return max(deadline - _monotonic(), 0.0)


def select(rlist: Any, wlist: Any, xlist: Any, timeout: float | None = None) -> tuple:
    if timeout == 0 or goroutine_here() is None:
        return _select(rlist, wlist, xlist, timeout)
    if EPOLL is None:
        return blocking(_select, rlist, wlist, xlist, timeout)
    rlist, wlist, xlist = list(rlist), list(wlist), list(xlist)
    interest = ([(_fileno(o), _IN) for o in rlist] + [(_fileno(o), _OUT) for o in wlist]
                + [(_fileno(o), _PRI) for o in xlist])
    if timeout is not None and timeout < 0:
        raise ValueError("timeout must be non-negative")
    deadline = None if timeout is None else _monotonic() + timeout
    while True:
        r = _select(rlist, wlist, xlist, 0)
        if r[0] or r[1] or r[2]:
            return r
        if not interest:  # nothing to watch: select() is a sleep
            if timeout is not None:
                from gonet.runtime.sched import sleep

                sleep(timeout)
                return ([], [], [])
        if not wait_fds(interest, _remaining(deadline)):
            return _select(rlist, wlist, xlist, 0)


class poll:  # noqa: N801 - the stdlib's name
    """``select.poll()`` whose ``poll(timeout)`` parks a goroutine."""

    __slots__ = ("_p", "_masks")

    def __init__(self) -> None:
        self._p = _poll()
        self._masks: dict[int, int] = {}

    def register(self, fd: Any, eventmask: int = _IN | _PRI | _OUT) -> None:
        self._p.register(fd, eventmask)
        self._masks[_fileno(fd)] = eventmask

    def modify(self, fd: Any, eventmask: int) -> None:
        self._p.modify(fd, eventmask)
        self._masks[_fileno(fd)] = eventmask

    def unregister(self, fd: Any) -> None:
        self._p.unregister(fd)
        self._masks.pop(_fileno(fd), None)

    def poll(self, timeout: float | None = None) -> list:
        if timeout is not None and timeout >= 0:
            timeout_s: float | None = timeout / 1000.0
        else:
            timeout_s = None
        if timeout_s == 0 or goroutine_here() is None:
            return self._p.poll(timeout)
        if EPOLL is None:
            return blocking(self._p.poll, timeout)
        deadline = None if timeout_s is None else _monotonic() + timeout_s
        interest = [(fd, (m & _POLL_TO_EPOLL_MASK) or _IN) for fd, m in self._masks.items()]
        while True:
            r = self._p.poll(0)
            if r:
                return r
            if not interest:
                if timeout_s is not None:
                    from gonet.runtime.sched import sleep

                    sleep(timeout_s)
                    return []
            if not wait_fds(interest, _remaining(deadline)):
                return self._p.poll(0)


if EPOLL is not None:

    class epoll:  # noqa: N801 - the stdlib's name
        """``select.epoll`` whose ``poll(timeout)`` parks a goroutine (a
        wrapper: the stdlib's type cannot be subclassed)."""

        __slots__ = ("_ep", "__weakref__")

        def __init__(self, sizehint: int = -1, flags: int = 0) -> None:
            self._ep = EPOLL(sizehint, flags)

        @classmethod
        def fromfd(cls, fd: int) -> epoll:
            self = cls.__new__(cls)
            self._ep = EPOLL.fromfd(fd)
            return self

        def __getattr__(self, name: str) -> Any:
            return getattr(self._ep, name)

        def __enter__(self) -> epoll:
            self._ep.__enter__()
            return self

        def __exit__(self, *exc: Any) -> None:
            self._ep.__exit__(*exc)

        @property
        def closed(self) -> bool:
            return self._ep.closed

        def fileno(self) -> int:
            return self._ep.fileno()

        def close(self) -> None:
            self._ep.close()

        def register(self, fd: Any, eventmask: int = _IN | _OUT | _PRI) -> None:
            self._ep.register(fd, eventmask)

        def modify(self, fd: Any, eventmask: int) -> None:
            self._ep.modify(fd, eventmask)

        def unregister(self, fd: Any) -> None:
            self._ep.unregister(fd)

        def poll(self, timeout: float | None = None, maxevents: int = -1) -> list:
            ep = self._ep
            t = None if timeout is None or timeout < 0 else timeout
            if t == 0 or goroutine_here() is None:
                return ep.poll(-1 if timeout is None else timeout, maxevents)
            deadline = None if t is None else _monotonic() + t
            while True:
                r = ep.poll(0, maxevents)
                if r:
                    return r
                if not wait_fd(ep.fileno(), False, _remaining(deadline)):
                    return ep.poll(0, maxevents)
else:  # pragma: no cover - no epoll on this OS
    epoll = None  # type: ignore[assignment,misc]


def _selector_wait(sel: Any, base: Any, timeout: float | None, own_fd: int | None) -> list:
    """``base.select(sel, timeout)`` with the wait parked: try with 0, park, try again."""
    if (timeout is not None and timeout <= 0) or goroutine_here() is None:
        return base.select(sel, timeout)
    if own_fd is None and EPOLL is None:
        return blocking(base.select, sel, timeout)
    deadline = None if timeout is None else _monotonic() + timeout
    while True:
        r = base.select(sel, 0)
        if r:
            return r
        if own_fd is not None:
            woke = wait_fd(own_fd, False, _remaining(deadline))
        else:
            interest = []
            for key in sel.get_map().values():
                ev = (_IN if key.events & _stdselectors.EVENT_READ else 0) | \
                     (_OUT if key.events & _stdselectors.EVENT_WRITE else 0)
                interest.append((key.fd, ev))
            if not interest:
                if timeout is None:
                    return base.select(sel, timeout)  # the stdlib sleeps forever too
                from gonet.runtime.sched import sleep

                sleep(timeout)
                return []
            woke = wait_fds(interest, _remaining(deadline))
        if not woke:
            return base.select(sel, 0)


if _StdEpollSelector is not None:

    class EpollSelector(_StdEpollSelector):
        """``selectors.EpollSelector`` whose ``select`` parks a goroutine."""

        def select(self, timeout: float | None = None) -> list:
            return _selector_wait(self, _StdEpollSelector, timeout, self.fileno())
else:  # pragma: no cover
    EpollSelector = None  # type: ignore[assignment,misc]


if _StdPollSelector is not None:

    class PollSelector(_StdPollSelector):
        """``selectors.PollSelector`` whose ``select`` parks a goroutine."""

        def select(self, timeout: float | None = None) -> list:
            return _selector_wait(self, _StdPollSelector, timeout, None)
else:  # pragma: no cover
    PollSelector = None  # type: ignore[assignment,misc]


class SelectSelector(_StdSelectSelector):
    """``selectors.SelectSelector`` whose ``select`` parks a goroutine."""

    def select(self, timeout: float | None = None) -> list:
        return _selector_wait(self, _StdSelectSelector, timeout, None)


DefaultSelector: Any = EpollSelector or PollSelector or SelectSelector
