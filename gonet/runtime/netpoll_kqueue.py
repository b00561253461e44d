"""Runtime layer, netpoller backend: BSD/macOS kqueue with EV_CLEAR (Go's netpoll_kqueue.go).

Each fd gets a read and a write filter, both added once at open with EV_CLEAR,
the kqueue spelling of edge triggering: an event is reported once per change
of state, and the pollDesc's READY state keeps it if nobody is waiting.
EV_EOF on a read filter wakes the reader, who then sees EOF from recv; EV_ERROR
wakes both directions. Closing an fd removes its filters in the kernel.
"""

from __future__ import annotations

import select

from gonet.runtime.netpoll import MODE_EOF, MODE_R, MODE_RW, MODE_W, OS_POLLERS, netpollready
from gonet.runtime.netpoll_base import Backend

_MAX_EVENTS = 512


class KqueueBackend(Backend):
    name = "kqueue"
    level_triggered = False

    def __init__(self, netpoller) -> None:
        super().__init__(netpoller)
        self._kq = OS_POLLERS["kqueue"]()  # not a patched select.kqueue
        self._kq.control(
            [select.kevent(self._wfd, select.KQ_FILTER_READ, select.KQ_EV_ADD)], 0, 0
        )

    def open(self, fd: int) -> None:
        flags = select.KQ_EV_ADD | select.KQ_EV_CLEAR
        self._kq.control(
            [
                select.kevent(fd, select.KQ_FILTER_READ, flags),
                select.kevent(fd, select.KQ_FILTER_WRITE, flags),
            ],
            0,
            0,
        )

    def close(self, fd: int) -> None:
        for filt in (select.KQ_FILTER_READ, select.KQ_FILTER_WRITE):
            try:
                self._kq.control([select.kevent(fd, filt, select.KQ_EV_DELETE)], 0, 0)
            except OSError:
                pass

    def poll(self, delay: float) -> list:
        try:
            events = self._kq.control(None, _MAX_EVENTS, None if delay < 0 else delay)
        except InterruptedError:
            return []
        out: list = []
        fds = self._fds
        for kev in events:
            fd = kev.ident
            pd = fds.get(fd)
            if pd is None:
                self._no_polldesc(fd)
                continue
            if kev.flags & select.KQ_EV_ERROR:
                mode = MODE_RW
            elif kev.filter == select.KQ_FILTER_READ:
                mode = MODE_R
            elif kev.filter == select.KQ_FILTER_WRITE:
                mode = MODE_W
            else:
                continue
            if kev.flags & select.KQ_EV_EOF:
                mode |= MODE_EOF
            netpollready(pd, mode, out)
        return out

    def shutdown(self) -> None:
        self._kq.close()
        super().shutdown()
