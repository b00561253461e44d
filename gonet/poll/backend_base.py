"""OS-backend layer: what every backend shares (Go's netpoll_*.go interface).

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

This base holds the fd -> pollDesc map shared with the netpoller and the
netpoll break (:class:`gonet.poll._wakefd.Waker`); each backend registers the
break's read end with its kernel object and, when an event names an fd that
has no pollDesc, hands it to :meth:`_no_polldesc`.
"""

from __future__ import annotations

from typing import Any

from gonet.poll._wakefd import Waker


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
