"""Runtime layer: the syscall hand-off (Go's entersyscall for blocking calls).

A call that would block the OS thread (getaddrinfo, file I/O, a C library,
``time.sleep``) runs on a small shared thread pool while the calling goroutine
is parked with wait reason "syscall". The worker hands the outcome back to the
goroutine's own scheduler through its inbox and a netpoll break, so other
goroutines keep running meanwhile.

The pool is bounded (``GONET_MAX_THREADS``, default 64): when every worker is
busy, further calls queue, and their goroutines simply stay parked longer.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

from gonet.runtime.sched import get_sched

__all__ = ["blocking"]

T = TypeVar("T")

_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _get_pool() -> ThreadPoolExecutor:
    global _pool
    if _pool is None:
        with _pool_lock:
            if _pool is None:
                n = int(os.environ.get("GONET_MAX_THREADS", "64"))
                _pool = ThreadPoolExecutor(max_workers=max(n, 1), thread_name_prefix="gonet-blocking")
    return _pool


def blocking(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run ``fn(*args, **kwargs)`` on the thread pool; park until it returns.

    Returns its result or re-raises its exception in the calling goroutine.
    """
    sched = get_sched()
    g = sched.current
    fut: Future = _get_pool().submit(fn, *args, **kwargs)
    # The completion is handed to the hub, which readies g only if g still
    # waits for this call: not if fn finished before the park (fut.done()
    # below), nor if the park was left by an exception thrown into g.
    waiting = [True]

    def wake() -> None:
        if waiting[0]:
            waiting[0] = False
            sched.ready(g)

    fut.add_done_callback(lambda f: sched.call_soon_threadsafe(wake))
    if not fut.done():
        sched.external_waiters += 1
        try:
            sched.park("syscall")
        finally:
            waiting[0] = False
            sched.external_waiters -= 1
    else:
        waiting[0] = False
    return fut.result()
