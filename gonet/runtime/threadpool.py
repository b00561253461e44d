"""Runtime layer: the syscall hand-off (Go's entersyscall for blocking calls).

A call that would block the OS thread (getaddrinfo, file I/O, a C library,
``time.sleep``) runs on a thread pool while the calling goroutine is parked
with wait reason "syscall". The outcome comes back to the goroutine's own
scheduler through its inbox and a netpoll break, so other goroutines keep
running meanwhile.

:func:`blocking` is the plain form, on a shared pool bounded by
``GONET_MAX_THREADS`` (default 64): when every worker is busy, further calls
queue, and their goroutines simply stay parked longer. :class:`Handoff` is the
general one: a call on a pool of the caller's choosing that may, while it
runs, ask the parked goroutine to run something on the scheduler's thread
(the WSGI adapter's threaded mode does every socket operation that way).

The hand-off's states, as the goroutine sees them::

    run() submits fn        -> parked, waiting for a message (one that
                               arrives while submit itself parks is kept)
    message CALL            -> runs the thread's request, parks again
    message DONE            -> returns fn's result or raises its exception
    an exception thrown in  -> stops waiting; later messages are refused

Every message is delivered by a callback on the scheduler's hub, which
readies the goroutine only while it still waits for this hand-off: a
completion after the goroutine left (an exception thrown into main, say)
never readies it inside some unrelated park, and a request that arrives
then fails on the pool thread instead of waiting forever.
"""

from __future__ import annotations

import _thread
import os
import sys
import threading
import traceback
import weakref
from collections import deque
from collections.abc import Callable
from typing import Any, TypeVar

from gonet.runtime.sched import get_sched

__all__ = ["blocking", "Handoff", "ThreadPool", "default_pool"]

T = TypeVar("T")


class ThreadPool:
    """Up to ``max_workers`` OS threads that run submitted calls, FIFO.

    Built on ``_thread`` alone, not on ``concurrent.futures``: under
    ``gonet.patch()`` threading's locks, events and queues are cooperative,
    and a ThreadPoolExecutor's ``submit`` starts a thread by waiting on an
    Event while it holds the pool's lock; a goroutine would park there
    holding a plain lock that the next submitting goroutine of the same
    thread then blocks the whole thread on. Here ``submit`` never waits.

    A worker that finds no work parks on its own lock, listed in ``_idle``;
    ``submit`` queues the call and releases one such lock, or starts a
    thread while there are fewer than ``max_workers``. A worker idle for
    ``IDLE_EXIT`` seconds ends; ``shutdown`` ends the idle ones at once.
    """

    IDLE_EXIT = 60.0

    def __init__(self, max_workers: int, name: str = "gonet-pool") -> None:
        self.max_workers = max(int(max_workers), 1)
        self.name = name
        self._mu = _thread.allocate_lock()
        self._work: deque[tuple] = deque()
        self._idle: list[Any] = []  # the wake locks of idle workers
        self._threads = 0
        self._started = 0  # threads started in all (numbers their names)
        self._closed = False
        _pools.add(self)

    def __repr__(self) -> str:
        return (f"<ThreadPool {self.name} threads={self._threads}/{self.max_workers} "
                f"queued={len(self._work)}>")

    def submit(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run ``fn(*args)`` on a pool thread; its exceptions are printed."""
        with self._mu:
            if self._closed:
                raise RuntimeError(f"{self.name}: cannot run calls after shutdown")
            self._work.append((fn, args))
            if self._idle:
                self._idle.pop().release()
                return
            if self._threads >= self.max_workers:
                return
            self._threads += 1
            self._started += 1
            n = self._started
        _thread.start_new_thread(self._worker, (n,))

    def _worker(self, n: int) -> None:
        # A name for tracebacks, dumps and current_thread() (a dummy Thread
        # record, made once per worker).
        threading.current_thread().name = f"{self.name}_{n}"
        wake = _thread.allocate_lock()
        wake.acquire()
        while True:
            with self._mu:
                if self._work:
                    fn, args = self._work.popleft()
                else:
                    self._idle.append(wake)
                    fn = None
            if fn is None:
                if not wake.acquire(True, self.IDLE_EXIT):
                    with self._mu:
                        if wake in self._idle:  # nobody is about to wake it: leave
                            self._idle.remove(wake)
                            self._threads -= 1
                            return
                    wake.acquire()  # submit or shutdown took it just now
                if self._closed:
                    with self._mu:
                        self._threads -= 1
                    return
                continue
            try:
                fn(*args)
            except BaseException:  # noqa: BLE001 - a worker outlives the calls it runs
                try:
                    print(f"Exception in {self.name} thread:", file=sys.stderr)
                    traceback.print_exc(file=sys.stderr)
                except Exception:  # noqa: BLE001 - stderr gone at exit
                    pass
            fn = args = None

    def shutdown(self, wait: bool = False) -> None:
        """Refuse new calls and drop queued ones; idle workers end now, busy
        ones after their call. ``wait`` is accepted for Executor's signature
        and ignored."""
        with self._mu:
            self._closed = True
            self._work.clear()
            idle, self._idle = self._idle, []
        for wake in idle:
            wake.release()

    def _after_fork(self) -> None:
        # The child has none of the parent's threads: start from none.
        self._mu = _thread.allocate_lock()
        self._work.clear()
        self._idle = []
        self._threads = 0


_pools: weakref.WeakSet[ThreadPool] = weakref.WeakSet()
_pool: ThreadPool | None = None
_pool_lock = _thread.allocate_lock()


def _after_fork_pools() -> None:
    for p in list(_pools):
        p._after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_pools)


def default_pool() -> ThreadPool:
    """The shared pool behind :func:`blocking` (``GONET_MAX_THREADS`` threads)."""
    global _pool
    if _pool is None:
        with _pool_lock:
            if _pool is None:
                n = int(os.environ.get("GONET_MAX_THREADS", "64"))
                _pool = ThreadPool(n, "gonet-blocking")
    return _pool


_CALL = "call"
_DONE = "done"

# Handoff._state: where the goroutine is.
_GONE = 0  # not waiting (before run, or after it ended)
_SUBMITTING = 1  # inside pool.submit
_WAITING = 2  # parked for messages, or serving one


class _Abandoned(RuntimeError):
    """Raised on the pool thread when the goroutine no longer waits for it."""


class Handoff:
    """One call on another OS thread, with the goroutine parked meanwhile.

    ``Handoff(pool).run(fn, *args)`` in a goroutine runs ``fn(*args)`` on
    ``pool`` (the shared one by default) and returns its result or raises its
    exception. While it runs, code on the pool thread may call
    ``handoff.call(fn2, *args)`` to run ``fn2`` in the parked goroutine, on the
    scheduler's thread, and get its result: what a library on a thread needs
    to touch the goroutine's connections. A Handoff serves one ``run``.
    """

    __slots__ = ("_pool", "_sched", "_g", "_state", "_early", "_req", "_req_done", "_reply",
                 "_out", "_exc")

    def __init__(self, pool: Any = None) -> None:
        self._pool = pool
        self._sched: Any = None
        self._g: Any = None
        self._state = _GONE
        self._early: list | None = None  # messages that came while submitting
        self._req: tuple | None = None
        self._req_done: Any = None  # a plain thread lock, as in sema.Waitable
        self._reply: tuple = ()  # (ok, value) of the last call served
        self._out: Any = None
        self._exc: BaseException | None = None

    # -- the goroutine's side ---------------------------------------------------

    def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        sched = self._sched = get_sched()
        self._g = sched.current
        pool = self._pool or default_pool()
        # submit may park this goroutine itself (a pool whose locks are
        # gonet.patch()'s cooperative ones): a message that comes meanwhile
        # is kept for the loop below instead of readying that other park.
        self._state = _SUBMITTING
        sched.external_waiters += 1
        try:
            pool.submit(self._thread_main, fn, args, kwargs)
            self._state = _WAITING
            while True:
                early = self._early
                msg = early.pop(0) if early else sched.park("syscall")
                if msg is _DONE:
                    break
                if msg is _CALL:
                    self._serve()
        finally:
            self._state = _GONE
            sched.external_waiters -= 1
        exc = self._exc
        if exc is not None:
            self._exc = None
            raise exc
        out = self._out
        self._out = None
        return out

    def _serve(self) -> None:
        fn, args = self._req
        try:
            self._reply = (True, fn(*args))
        except BaseException as e:  # noqa: B036 - handed back to the pool thread
            self._reply = (False, e)
        self._req = None
        self._req_done.release()

    def _deliver(self, msg: str) -> None:
        """On the hub: ready the goroutine with ``msg`` if it still waits for us."""
        state = self._state
        if state == _WAITING:
            self._sched.ready(self._g, msg)
        elif state == _SUBMITTING:
            if self._early is None:
                self._early = []
            self._early.append(msg)
        elif msg is _CALL:
            self._reply = (False, _Abandoned("the goroutine stopped waiting for this call"))
            self._req_done.release()

    # -- the pool thread's side ------------------------------------------------

    def _thread_main(self, fn: Callable, args: tuple, kwargs: dict) -> None:
        try:
            self._out = fn(*args, **kwargs)
        except BaseException as e:  # noqa: B036 - re-raised in the goroutine
            self._exc = e
        self._sched.call_soon_threadsafe(lambda: self._deliver(_DONE))

    def call(self, fn: Callable[..., T], *args: Any) -> T:
        """From the pool thread running this hand-off: run ``fn(*args)`` in the
        waiting goroutine and return its result (or raise its exception)."""
        done = self._req_done
        if done is None:
            done = self._req_done = _thread.allocate_lock()
        done.acquire()
        self._req = (fn, args)
        self._sched.call_soon_threadsafe(lambda: self._deliver(_CALL))
        done.acquire()  # released by _serve (or _deliver, if abandoned)
        done.release()
        ok, value = self._reply
        self._reply = ()
        if not ok:
            raise value
        return value


def blocking(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run ``fn(*args, **kwargs)`` on the shared thread pool; park until it returns.

    Returns its result or re-raises its exception in the calling goroutine.
    """
    return Handoff().run(fn, *args, **kwargs)
