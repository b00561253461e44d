"""Runtime layer, netpoller: the OS-backend interface and the choice of backend.

What every backend shares (Go's netpoll_*.go interface), and which backend a
new scheduler gets: ``GONET_POLLER=epoll|kqueue|poll``, else the best the
platform has.

A backend implements Go's five functions for one OS facility:

    init      ``__init__(netpoller)``: create the kernel object and the break
    open      ``open(fd)``: start watching fd (the pollDesc is netpoller.fds[fd])
    close     ``close(fd)``: stop watching, before the fd itself is closed
    poll      ``poll(delay) -> [goroutine]``: wait up to delay seconds (0: just
              look, -1: until something happens), apply each event to its
              pollDesc with ``netpollready``, return the goroutines it readied
    break     ``wake()``: interrupt a blocked poll, from any thread

plus ``arm(fd, mode)``, which only level-triggered backends need (they watch a
direction only while someone waits on it), and ``shutdown()``.

``poll`` is never asked to wait longer than :data:`MAX_POLL_DELAY` seconds
(the scheduler clamps its delay): epoll and poll take an int of milliseconds
and raise OverflowError past 2**31-1 (about 24.8 days), and a deadline may be
any distance ahead. A wait cut short by the clamp just goes round the loop.

This base holds the fd -> pollDesc map shared with the netpoller and the
netpoll break (:class:`gonet.runtime.netpoll_break.Waker`); each backend registers the
break's read end with its kernel object and, when an event names an fd that
has no pollDesc, hands it to :meth:`_no_polldesc`.
"""

from __future__ import annotations

import os
import select
from typing import Any

from gonet.runtime.netpoll_break import Waker

__all__ = ["Backend", "MAX_POLL_DELAY", "available_backends", "backend", "new_backend"]

#: The longest single wait asked of a backend, in seconds (about 11.6 days,
#: Go's cap of 1e9 ms): well inside every kernel interface's range.
MAX_POLL_DELAY = 1e6

_ORDER = ("epoll", "kqueue", "poll")


def available_backends() -> list[str]:
    """Backends this platform offers, best first."""
    have = []
    if hasattr(select, "epoll"):
        have.append("epoll")
    if hasattr(select, "kqueue"):
        have.append("kqueue")
    if hasattr(select, "poll"):
        have.append("poll")
    return have


def backend() -> str:
    """The name of the backend new schedulers use (``GONET_POLLER`` or the best one)."""
    want = os.environ.get("GONET_POLLER", "").strip().lower()
    have = available_backends()
    if want:
        if want not in _ORDER:
            raise ValueError(f"GONET_POLLER={want!r}: expected one of {', '.join(_ORDER)}")
        if want not in have:
            raise RuntimeError(f"GONET_POLLER={want!r}: not available on this platform")
        return want
    if not have:
        raise RuntimeError("no poller backend available (need epoll, kqueue or poll)")
    return have[0]


def new_backend(name: str | None, netpoller: Any) -> Backend:
    """Create an OS backend instance for ``netpoller`` (the modules import this one)."""
    name = name or backend()
    if name == "epoll":
        from gonet.runtime.netpoll_epoll import EpollBackend

        return EpollBackend(netpoller)
    if name == "kqueue":
        from gonet.runtime.netpoll_kqueue import KqueueBackend

        return KqueueBackend(netpoller)
    if name == "poll":
        from gonet.runtime.netpoll_poll import PollBackend

        return PollBackend(netpoller)
    raise ValueError(f"unknown poller backend {name!r}")


class Backend:
    name = "?"
    level_triggered = False

    def __init__(self, netpoller: Any) -> None:
        self._fds = netpoller.fds
        self._waker = Waker()
        self._wfd = self._waker.rfd

    def open(self, fd: int) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def close(self, fd: int) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def poll(self, delay: float) -> list:  # pragma: no cover - abstract
        raise NotImplementedError

    def arm(self, fd: int, mode: int) -> None:
        """Edge-triggered backends watch every direction from open on."""

    def wake(self) -> None:
        self._waker.wake()

    def _no_polldesc(self, fd: int) -> None:
        """An event for an fd without a pollDesc: the break (drain it), or a
        descriptor closed since the kernel queued the event (ignore it)."""
        if fd == self._wfd:
            self._waker.drain()

    def shutdown(self) -> None:
        self._waker.close()
