"""Runtime layer, netpoller backend: Linux epoll, edge-triggered (Go's netpoll_epoll.go).

Facts this backend relies on:

- Every fd is added once, at open, for IN | OUT | RDHUP | ET. There is no
  epoll_ctl per read or write: with edge triggering the kernel reports each
  change of readiness once, and the pollDesc's READY state remembers an edge
  that arrived while nobody waited.
- ``epoll.poll`` reports file descriptors, not user data, so the fd -> pollDesc
  map decides which descriptor an event belongs to. An fd is unregistered
  before it is closed, and all the events of one poll are applied before any
  goroutine runs, so an event can never reach a descriptor that reused the fd.
- ERR and HUP wake both directions; RDHUP (peer shut down writing) wakes
  readers, who then see EOF from recv.
"""

from __future__ import annotations

import select

from gonet.runtime.netpoll import OS_POLLERS, netpollready_batch
from gonet.runtime.netpoll_base import Backend

_epoll = OS_POLLERS["epoll"]  # not the patched select.epoll

_EPOLLIN = select.EPOLLIN
_EPOLLOUT = select.EPOLLOUT
_EPOLLERR = select.EPOLLERR
_EPOLLHUP = select.EPOLLHUP
_EPOLLRDHUP = getattr(select, "EPOLLRDHUP", 0x2000)
_EPOLLET = select.EPOLLET

_REGISTER = _EPOLLIN | _EPOLLOUT | _EPOLLRDHUP | _EPOLLET
_READ_EVENTS = _EPOLLIN | _EPOLLRDHUP | _EPOLLHUP | _EPOLLERR
_WRITE_EVENTS = _EPOLLOUT | _EPOLLHUP | _EPOLLERR
_EOF_EVENTS = _EPOLLRDHUP | _EPOLLHUP | _EPOLLERR
_MAX_EVENTS = 512


class EpollBackend(Backend):
    name = "epoll"
    level_triggered = False

    def __init__(self, netpoller) -> None:
        super().__init__(netpoller)
        self._ep = _epoll()
        self._kinds: dict = {}  # event bits -> (readable, writable, hung up)
        self._ep.register(self._wfd, _EPOLLIN)  # level-triggered; drained on wake

    def open(self, fd: int) -> None:
        self._ep.register(fd, _REGISTER)

    def close(self, fd: int) -> None:
        try:
            self._ep.unregister(fd)
        except (OSError, ValueError):
            pass  # already closed by the user: the kernel dropped it

    def poll(self, delay: float) -> list:
        try:
            events = self._ep.poll(delay, _MAX_EVENTS)
        except InterruptedError:
            return []
        out: list = []
        unknown = netpollready_batch(events, self._fds, self._kinds, _READ_EVENTS,
                                     _WRITE_EVENTS, _EOF_EVENTS, out)
        if unknown is not None:
            for fd in unknown:
                self._no_polldesc(fd)
        return out

    def shutdown(self) -> None:
        self._ep.close()
        super().shutdown()
