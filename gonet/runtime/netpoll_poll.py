"""Runtime layer, netpoller backend: portable poll(2), level-triggered (for systems without epoll/kqueue).

poll() reports readiness for as long as it lasts, so registering every fd for
IN | OUT once (as the edge-triggered backends do) would make every idle,
writable socket wake the poller forever. Instead this backend tracks interest:
a waiter arms its direction just before parking (``arm``), and the direction
is disarmed again as soon as an event for it is delivered, one shot per park.
Go's netpoll_aix.go works the same way.
"""

from __future__ import annotations

import select

from gonet.runtime.netpoll import MODE_EOF, MODE_R, MODE_W, OS_POLLERS, netpollready
from gonet.runtime.netpoll_base import Backend

_poll = OS_POLLERS["poll"]  # not the patched select.poll

_POLLIN = select.POLLIN
_POLLOUT = select.POLLOUT
_POLLPRI = getattr(select, "POLLPRI", 0)
_POLLERR = select.POLLERR
_POLLHUP = select.POLLHUP
_POLLNVAL = select.POLLNVAL
_POLLRDHUP = getattr(select, "POLLRDHUP", 0)


class PollBackend(Backend):
    name = "poll"
    level_triggered = True

    def __init__(self, netpoller) -> None:
        super().__init__(netpoller)
        self._p = _poll()
        self._interest: dict[int, int] = {}  # fd -> armed POLLIN/POLLOUT bits
        self._p.register(self._wfd, _POLLIN)

    def open(self, fd: int) -> None:
        self._interest[fd] = 0

    def close(self, fd: int) -> None:
        if self._interest.pop(fd, 0):
            try:
                self._p.unregister(fd)
            except (KeyError, OSError, ValueError):
                pass

    def arm(self, fd: int, mode: int) -> None:
        old = self._interest.get(fd)
        if old is None:
            return
        new = old | (_POLLIN | _POLLRDHUP if mode & MODE_R else 0) | (_POLLOUT if mode & MODE_W else 0)
        if new != old:
            self._interest[fd] = new
            if old:
                self._p.modify(fd, new)
            else:
                self._p.register(fd, new)

    def poll(self, delay: float) -> list:
        timeout = None if delay < 0 else delay * 1000.0
        if timeout is not None and 0 < timeout < 1:
            timeout = 1  # poll() takes whole milliseconds: never spin below a timer
        try:
            events = self._p.poll(timeout)
        except InterruptedError:
            return []
        out: list = []
        fds = self._fds
        interest = self._interest
        for fd, ev in events:
            pd = fds.get(fd)
            if pd is None:
                self._no_polldesc(fd)
                continue
            mode = 0
            if ev & (_POLLIN | _POLLPRI | _POLLRDHUP | _POLLERR | _POLLHUP | _POLLNVAL):
                mode |= MODE_R
            if ev & (_POLLOUT | _POLLERR | _POLLHUP | _POLLNVAL):
                mode |= MODE_W
            if ev & (_POLLRDHUP | _POLLERR | _POLLHUP | _POLLNVAL):
                mode |= MODE_EOF
            if ev & (_POLLERR | _POLLHUP | _POLLNVAL):
                armed = 0
            else:
                armed = interest.get(fd, 0)
                if mode & MODE_R:
                    armed &= ~(_POLLIN | _POLLRDHUP)
                if mode & MODE_W:
                    armed &= ~_POLLOUT
            interest[fd] = armed
            if armed:
                self._p.modify(fd, armed)
            else:
                try:
                    self._p.unregister(fd)
                except (KeyError, OSError):
                    pass
            netpollready(pd, mode, out)
        return out

