"""Patch layer: the two ways a patched call parks its goroutine.

- :func:`wait_fd` / :func:`wait_fds`: until a file descriptor the caller
  holds (not one gonet opened) is readable or writable, with a timeout. A
  descriptor nobody watches is registered with the scheduler's netpoller
  for the wait and unregistered after it; a descriptor the poller watches
  already (a patched socket's, or one shared with a gonet Conn), or a set of
  them (``select``), is put in a private epoll instance whose own descriptor
  is what the goroutine waits on: an epoll fd is readable while it has
  events to report.
- :class:`OneShot`: a goroutine's place in a lock's or a condition's wait
  list, woken once by whoever claims it, from any thread.

``OneShot``'s rules (every park gets exactly one wake, never a stale one):

- ``tok`` is a one-element list; ``claim()`` pops it, and ``list.pop`` is
  atomic, so exactly one party wins: a waker (then it calls ``fire``), or
  the goroutine itself after its timeout or an exception (then nobody will
  fire it).
- ``fire`` readies the goroutine directly on its own thread, or through its
  scheduler's hub from another thread; the hub readies it only while
  ``parked`` is still True, which the goroutine clears on the way out of its
  park. So a wake that arrives after the goroutine left (a timeout that won
  by a hair, an exception thrown in) never readies it inside a later park.
- A goroutine that finds after waking that it was fired (``claim`` fails)
  owns whatever the waker gave it: a notification, a turn at the lock.
"""

from __future__ import annotations

import select as _select
import time
from _thread import get_ident
from typing import Any

from gonet.runtime.netpoll import MODE_R, MODE_W, OS_POLLERS, POLL_OK
from gonet.runtime.sched import get_sched

__all__ = ["OneShot", "wait_fd", "wait_fds", "EPOLL"]

_monotonic = time.monotonic
#: The unpatched epoll class (None where the OS has none).
EPOLL: Any = OS_POLLERS["epoll"]
_EPOLLIN = getattr(_select, "EPOLLIN", 1)
_EPOLLOUT = getattr(_select, "EPOLLOUT", 4)
_EPOLLPRI = getattr(_select, "EPOLLPRI", 2)


def wait_fd(fd: int, write: bool, timeout: float | None) -> bool:
    """Park the current goroutine until ``fd`` is readable (or writable).

    Returns False when ``timeout`` seconds passed first (None: no limit).
    The wake-up may be spurious: the caller retries its operation.
    """
    sched = get_sched()
    netpoll = sched.netpoll
    if fd in netpoll.fds:
        return wait_fds([(fd, _EPOLLOUT if write else _EPOLLIN)], timeout)
    pd = netpoll.open(fd)
    try:
        mode = MODE_W if write else MODE_R
        if timeout is not None:
            pd.set_deadline(_monotonic() + timeout, mode)
        code = pd.wait_write() if write else pd.wait_read()
        return code == POLL_OK
    finally:
        pd.evict()
        netpoll.close(pd)


def wait_fds(interest: list[tuple[int, int]], timeout: float | None) -> bool:
    """Park until one of ``interest``'s ``(fd, epoll event mask)`` is ready.

    Returns False on timeout. Needs epoll (Linux); elsewhere the caller hands
    the wait to the thread pool instead.
    """
    masks: dict[int, int] = {}
    for fd, events in interest:
        masks[fd] = masks.get(fd, 0) | events
    ep = EPOLL()
    try:
        for fd, events in masks.items():
            ep.register(fd, events)
        return wait_fd(ep.fileno(), False, timeout)
    finally:
        ep.close()


class OneShot:
    """One goroutine's one park on a lock or condition; see the module docstring."""

    __slots__ = ("sched", "g", "tok", "parked")

    def __init__(self, g: Any) -> None:
        self.sched = g.sched
        self.g = g
        self.tok = [True]
        self.parked = False  # True only while parked in wait()

    def claim(self) -> bool:
        try:
            self.tok.pop()
            return True
        except IndexError:
            return False

    def fire(self) -> None:
        """Wake the goroutine (after a successful ``claim``), from any thread."""
        s = self.sched
        if s.netpoll.thread_id == get_ident():
            if self.parked:
                s.ready(self.g)
        else:
            s.call_soon_threadsafe(self._deliver)

    def _deliver(self) -> None:
        if self.parked:
            self.sched.ready(self.g)

    def release(self) -> None:
        """``threading.Condition.notify`` wakes its waiters with ``release()``."""
        if not self.claim():
            raise RuntimeError("release unlocked lock")
        self.fire()

    def wait(self, timeout: float | None, reason: str) -> bool:
        """Park; True when fired, False when the timeout came first.

        On an exception thrown into the park, ``fired()`` tells whether a
        wake was consumed all the same.
        """
        s = self.sched
        s.external_waiters += 1  # another OS thread may be the one to wake it
        self.parked = True
        try:
            s.park(reason, timeout)
        finally:
            s.external_waiters -= 1
            self.parked = False
        return not self.claim()

    def fired(self) -> bool:
        """After leaving the park by an exception: was it fired (and is the
        wake now ours to pass on)? Claims it otherwise."""
        return not self.claim()

