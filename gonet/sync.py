"""Concurrency layer: Go's ``sync`` package for goroutines (and ``x/sync/semaphore``).

WaitGroup, Mutex, RWMutex, Once, Cond and a weighted Semaphore. Each parks
goroutines through the scheduler (never an OS thread) using the waiter record
and park/wake helpers of :mod:`gonet.chan`, so the same rules hold: a waiter
sits in one FIFO queue, is completed by exactly one party, and the state is
guarded by a short ``threading.Lock`` so goroutines of different OS threads'
schedulers may share a primitive (they are woken with ``ready_threadsafe``).

Hand-off, not barging: when a Mutex, RWMutex or Semaphore is released with
goroutines waiting, ownership passes straight to the first waiter(s) before
they even run. A woken goroutine therefore never has to re-check and re-park,
and nobody can overtake a waiter (Go's "starvation mode", always on).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

from gonet.runtime.sched import get_sched
from gonet.runtime.sema import Waitable, Waiter, park_waiter, wake

__all__ = ["WaitGroup", "Mutex", "RWMutex", "Once", "Cond", "Semaphore"]


class _Queued(Waitable):
    """A lock-guarded primitive with one FIFO queue of parked waiters, ``_q``."""

    __slots__ = ("_q",)

    def __init__(self) -> None:
        Waitable.__init__(self)
        self._q: deque[Waiter] = deque()

    def _enter(self) -> Any:
        """Take the lock; returns this thread's scheduler."""
        sched = get_sched()
        self._lock.acquire()
        if sched is not self._home and not self._shared:
            self._share(sched, self._q)
        return sched

    def _wait_locked(self, sched: Any, value: Any, reason: str) -> Waiter:
        """Queue the current goroutine (lock held), release the lock and park."""
        w = Waiter(sched.current, sched, value)
        w.ext = self._shared
        self._q.append(w)
        self._lock.release()
        park_waiter(sched, w, reason, self._q, self._lock)
        return w


class Mutex(_Queued):
    """A mutual exclusion lock. ``with mu:`` locks and unlocks.

    State: ``_locked``; invariant: waiters queue only while locked, and
    ``unlock`` with waiters leaves ``_locked`` True and hands it to the first.
    """

    __slots__ = ("_locked",)

    def __init__(self) -> None:
        _Queued.__init__(self)
        self._locked = False

    def lock(self) -> None:
        sched = self._enter()
        if not self._locked:
            self._locked = True
            self._lock.release()
            return
        self._wait_locked(sched, None, "sync.Mutex.Lock")

    def try_lock(self) -> bool:
        self._enter()
        try:
            if self._locked:
                return False
            self._locked = True
            return True
        finally:
            self._lock.release()

    def unlock(self) -> None:
        sched = self._enter()
        if not self._locked:
            self._lock.release()
            raise RuntimeError("sync: unlock of unlocked mutex")
        if self._q:
            w = self._q.popleft()  # stays locked: now w's
            self._lock.release()
            wake(sched, w)
            return
        self._locked = False
        self._lock.release()

    def locked(self) -> bool:
        return self._locked

    def __enter__(self) -> Mutex:
        self.lock()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.unlock()


_READ, _WRITE = "r", "w"


class RWMutex(_Queued):
    """A reader/writer lock: many readers or one writer, granted in arrival order.

    State: ``_readers`` (holding read locks), ``_writer`` (a write lock is held).
    Invariant: a waiter queues only if it could not be granted at arrival or
    someone queued before it; a queued writer therefore holds back later
    readers, so writers are not starved.
    """

    __slots__ = ("_readers", "_writer")

    def __init__(self) -> None:
        _Queued.__init__(self)
        self._readers = 0
        self._writer = False

    def rlock(self) -> None:
        sched = self._enter()
        if not self._writer and not self._q:
            self._readers += 1
            self._lock.release()
            return
        self._wait_locked(sched, _READ, "sync.RWMutex.RLock")

    def runlock(self) -> None:
        sched = self._enter()
        if self._readers <= 0:
            self._lock.release()
            raise RuntimeError("sync: runlock of unlocked RWMutex")
        self._readers -= 1
        self._grant(sched)

    def lock(self) -> None:
        sched = self._enter()
        if not self._writer and self._readers == 0 and not self._q:
            self._writer = True
            self._lock.release()
            return
        self._wait_locked(sched, _WRITE, "sync.RWMutex.Lock")

    def unlock(self) -> None:
        sched = self._enter()
        if not self._writer:
            self._lock.release()
            raise RuntimeError("sync: unlock of unlocked RWMutex")
        self._writer = False
        self._grant(sched)

    def _grant(self, sched: Any) -> None:
        """Hand the lock to waiters at the head of the queue; releases ``_lock``."""
        q = self._q
        woken = []
        while q and not self._writer:
            if q[0].value is _WRITE:
                if self._readers:
                    break
                self._writer = True
            else:
                self._readers += 1
            woken.append(q.popleft())
        self._lock.release()
        for w in woken:
            wake(sched, w)

    def rlocker(self) -> _RLocker:
        """A lock object whose lock/unlock (and ``with``) are ``rlock``/``runlock``."""
        return _RLocker(self)

    def __enter__(self) -> RWMutex:
        self.lock()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.unlock()


class _RLocker:
    __slots__ = ("_rw",)

    def __init__(self, rw: RWMutex) -> None:
        self._rw = rw

    def lock(self) -> None:
        self._rw.rlock()

    def unlock(self) -> None:
        self._rw.runlock()

    def __enter__(self) -> _RLocker:
        self._rw.rlock()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._rw.runlock()


class WaitGroup(_Queued):
    """Wait for a collection of goroutines to finish: ``add``, ``done``, ``wait``."""

    __slots__ = ("_count",)

    def __init__(self) -> None:
        _Queued.__init__(self)
        self._count = 0

    def add(self, delta: int) -> None:
        sched = self._enter()
        n = self._count + delta
        if n < 0:
            self._lock.release()
            raise ValueError("sync: negative WaitGroup counter")
        self._count = n
        if n or not self._q:
            self._lock.release()
            return
        woken = list(self._q)
        self._q.clear()
        self._lock.release()
        for w in woken:
            wake(sched, w)

    def done(self) -> None:
        self.add(-1)

    def wait(self) -> None:
        sched = self._enter()
        if self._count == 0:
            self._lock.release()
            return
        self._wait_locked(sched, None, "sync.WaitGroup.Wait")

    def go(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Start ``fn`` in a goroutine counted by this group (Go 1.25's ``WaitGroup.Go``)."""
        self.add(1)
        return get_sched().spawn(_run_done, (self, fn, args, kwargs))

    @property
    def count(self) -> int:
        return self._count


def _run_done(wg: WaitGroup, fn: Callable[..., Any], args: tuple, kwargs: dict) -> Any:
    try:
        return fn(*args, **kwargs)
    finally:
        wg.done()


class Once:
    """Run a function exactly once; concurrent callers wait until it has returned."""

    __slots__ = ("_done", "_mu")

    def __init__(self) -> None:
        self._done = False
        self._mu = Mutex()

    def do(self, fn: Callable[[], Any]) -> None:
        if self._done:
            return
        with self._mu:
            if not self._done:
                try:
                    fn()
                finally:
                    self._done = True  # as Go: a raising fn still counts as done


class Cond(_Queued):
    """A condition variable bound to a locker ``L`` (a Mutex by default)."""

    __slots__ = ("L",)

    def __init__(self, L: Any = None) -> None:
        _Queued.__init__(self)
        self.L = L if L is not None else Mutex()

    def wait(self) -> None:
        """Unlock ``L``, park until signalled, lock ``L`` again. Call with ``L`` locked."""
        sched = self._enter()
        w = Waiter(sched.current, sched, None)
        w.ext = self._shared
        self._q.append(w)  # queued before L is released: a signal cannot slip past
        self._lock.release()
        self.L.unlock()
        try:
            park_waiter(sched, w, "sync.Cond.Wait", self._q, self._lock)
        finally:
            self.L.lock()

    def signal(self) -> None:
        sched = self._enter()
        w = self._q.popleft() if self._q else None
        self._lock.release()
        if w is not None:
            wake(sched, w)

    def broadcast(self) -> None:
        sched = self._enter()
        woken = list(self._q)
        self._q.clear()
        self._lock.release()
        for w in woken:
            wake(sched, w)


class Semaphore(_Queued):
    """A weighted semaphore of ``size`` units (``golang.org/x/sync/semaphore``).

    Acquirers are served in arrival order: a large request at the head holds
    back smaller ones behind it, so it cannot starve.
    """

    __slots__ = ("_size", "_cur")

    def __init__(self, size: int) -> None:
        if size < 0:
            raise ValueError(f"Semaphore: size must be >= 0, got {size}")
        _Queued.__init__(self)
        self._size = size
        self._cur = 0  # units held

    def acquire(self, n: int = 1) -> None:
        if n < 0 or n > self._size:
            raise ValueError(f"Semaphore.acquire({n}): must be between 0 and size {self._size}")
        sched = self._enter()
        if self._size - self._cur >= n and not self._q:
            self._cur += n
            self._lock.release()
            return
        self._wait_locked(sched, n, "semaphore.Acquire")

    def try_acquire(self, n: int = 1) -> bool:
        self._enter()
        try:
            if self._size - self._cur >= n and not self._q:
                self._cur += n
                return True
            return False
        finally:
            self._lock.release()

    def release(self, n: int = 1) -> None:
        sched = self._enter()
        if n < 0 or n > self._cur:
            self._lock.release()
            raise ValueError(f"Semaphore.release({n}): only {self._cur} units held")
        self._cur -= n
        q = self._q
        woken = []
        while q and self._size - self._cur >= q[0].value:
            w = q.popleft()
            self._cur += w.value
            woken.append(w)
        self._lock.release()
        for w in woken:
            wake(sched, w)

    def __enter__(self) -> Semaphore:
        self.acquire(1)
        return self

    def __exit__(self, *exc: Any) -> None:
        self.release(1)
