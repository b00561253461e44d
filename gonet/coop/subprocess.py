"""Patch layer: waiting for child processes without blocking the thread.

- ``os.waitpid(pid, options)`` for one child, in a goroutine: a pidfd
  (Linux 5.3+) becomes readable when the child exits; the goroutine parks on
  it, then reaps with the stdlib's call. Without pidfds, and for "any child"
  (``pid`` <= 0) or ``os.wait()``, the wait goes to the thread pool.
- ``subprocess`` waits through ``os.waitpid`` (so ``Popen.wait`` parks) and
  reads its pipes through a selector: ``subprocess._PopenSelector`` becomes
  the cooperative poll selector. ``Popen.communicate`` with a single pipe
  reads it with a plain blocking read, which nothing can make cooperative in
  place, so in a goroutine the whole ``communicate`` runs on the thread pool.
"""

from __future__ import annotations

import os as _os
import subprocess as _stdsubprocess
from typing import Any

from gonet.coop._wait import wait_fd
from gonet.runtime.sched import goroutine_here
from gonet.runtime.threadpool import blocking

__all__ = ["waitpid", "wait", "communicate", "ORIGINALS"]

ORIGINALS: dict[str, Any] = {"waitpid": _os.waitpid, "wait": getattr(_os, "wait", None),
                             "communicate": _stdsubprocess.Popen.communicate}
_waitpid = _os.waitpid
_pidfd_open = getattr(_os, "pidfd_open", None)
_STOP_CONT = getattr(_os, "WUNTRACED", 0) | getattr(_os, "WCONTINUED", 0)


def waitpid(pid: int, options: int) -> tuple[int, int]:
    if goroutine_here() is None or options & _os.WNOHANG:
        return _waitpid(pid, options)
    if pid <= 0 or _pidfd_open is None or options & _STOP_CONT:
        # a pidfd only says that the child exited, not that it stopped
        return blocking(_waitpid, pid, options)
    try:
        pidfd = _pidfd_open(pid)
    except OSError:
        return _waitpid(pid, options)  # no such process: the stdlib's call says so
    try:
        while True:
            r = _waitpid(pid, options | _os.WNOHANG)
            if r[0] != 0:
                return r
            wait_fd(pidfd, False, None)
    finally:
        _os.close(pidfd)


def wait() -> tuple[int, int]:
    if goroutine_here() is None:
        return ORIGINALS["wait"]()
    return blocking(ORIGINALS["wait"])


def communicate(self: Any, input: Any = None, timeout: float | None = None) -> tuple:  # noqa: A002
    if goroutine_here() is None:
        return ORIGINALS["communicate"](self, input, timeout)
    return blocking(ORIGINALS["communicate"], self, input, timeout)
