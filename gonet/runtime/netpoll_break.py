"""Runtime layer, netpoller: the netpoll break (an eventfd, or a non-blocking pipe).

Go's netpollBreak. Any thread may call :meth:`Waker.wake` to interrupt the
poller's wait. Wakes are coalesced: between two drains only the first one
writes, so a burst of wake-ups from a thread pool costs one syscall.
"""

from __future__ import annotations

import os


class Waker:
    __slots__ = ("rfd", "wfd", "_pending", "_eventfd")

    def __init__(self) -> None:
        self._pending = False
        if hasattr(os, "eventfd"):
            fd = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
            self.rfd = self.wfd = fd
            self._eventfd = True
        else:
            self.rfd, self.wfd = os.pipe()
            os.set_blocking(self.rfd, False)
            os.set_blocking(self.wfd, False)
            self._eventfd = False

    def wake(self) -> None:
        # Unlocked check-then-set: a lost race costs one extra write, never a
        # lost wake, because drain() clears the flag before the scheduler
        # looks at what the waking thread queued.
        if self._pending:
            return
        self._pending = True
        try:
            if self._eventfd:
                os.eventfd_write(self.wfd, 1)
            else:
                os.write(self.wfd, b"\0")
        except (BlockingIOError, OSError):
            pass  # already readable (pipe full / counter saturated): fine

    def drain(self) -> None:
        try:
            if self._eventfd:
                os.eventfd_read(self.rfd)
            else:
                while os.read(self.rfd, 4096):
                    pass
        except (BlockingIOError, OSError):
            pass
        self._pending = False

    def close(self) -> None:
        os.close(self.rfd)
        if self.wfd != self.rfd:
            os.close(self.wfd)
