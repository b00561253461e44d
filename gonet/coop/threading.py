"""Patch layer: ``threading`` locks and conditions that park a goroutine, and
``Thread.join`` and ``queue.SimpleQueue`` to match.

What a goroutine blocks on in ``threading`` and ``queue`` comes down to three
things, because the rest of both modules is written in Python on top of them:
``threading.Lock``, ``threading.RLock`` and ``threading.Condition``. Event,
Semaphore, BoundedSemaphore, Barrier, Timer, ``queue.Queue`` and its
siblings build ``Condition(Lock())`` at construction, looking the names up in
``threading`` then: once those are patched, objects created afterwards are
cooperative too. ``queue.SimpleQueue`` is C; the patch swaps in the stdlib's
own pure-Python version, which waits on a Semaphore.

Lock: the ownership is a real thread lock (``_block``), so a plain thread
that waits for it waits exactly as before, in C. A goroutine that finds it
taken queues a :class:`OneShot` in ``_waiters`` (under ``_mu``), tries once
more, and parks; every ``release`` that sees waiters wakes the first one,
which tries again. A waiter queues before its last try, so a release cannot
slip between the try and the park unseen. No fairness is promised (none is by
the real lock): a thread may take the lock before a woken goroutine does,
which then queues again.

RLock: a Lock plus an owner and a count. The owner is the goroutine, so two
goroutines of one thread exclude each other as two threads would; a thread's
main goroutine and code outside any goroutine count as the thread itself, so
a lock taken before a thread's scheduler existed can be released after.

Condition: the stdlib's class; ``wait`` in a goroutine queues a OneShot in
the condition's own waiter list, whose ``release()`` (what ``notify`` calls)
wakes it.

Outside a goroutine every call is the stdlib's behaviour: gonet's thread pool,
logging's handler locks and a plain thread's ``queue.get`` keep waiting in C.
"""

from __future__ import annotations

import _thread
import threading as _stdthreading
import time
from collections import deque
from typing import Any

from gonet.coop._wait import OneShot
from gonet.runtime.sched import goroutine_here
from gonet.runtime.threadpool import blocking

__all__ = ["Lock", "RLock", "Condition", "thread_join"]

_allocate = _thread.allocate_lock
_get_ident = _thread.get_ident
_monotonic = time.monotonic
_StdCondition = _stdthreading.Condition
_std_join = _stdthreading.Thread.join


def _check_timeout(blocking: bool, timeout: float) -> None:
    if not blocking and timeout != -1:
        raise ValueError("can't specify a timeout for a non-blocking call")
    if timeout < 0 and timeout != -1:
        raise ValueError("timeout value must be a non-negative number")


class Lock:
    """``threading.Lock`` that parks a goroutine (see the module docstring)."""

    __slots__ = ("_block", "_waiters", "_mu", "__weakref__")

    def __init__(self) -> None:
        self._block = _allocate()
        self._waiters: deque[OneShot] = deque()
        self._mu = _allocate()

    def __repr__(self) -> str:
        state = "locked" if self._block.locked() else "unlocked"
        return f"<gonet.coop {state} Lock object at {id(self):#x}>"

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        if self._block.acquire(False):
            return True
        _check_timeout(blocking, timeout)
        if not blocking:
            return False
        g = goroutine_here()
        if g is None:
            return self._block.acquire(True, timeout)
        return self._acquire_parked(g, timeout)

    def _acquire_parked(self, g: Any, timeout: float) -> bool:
        deadline = None if timeout < 0 else _monotonic() + timeout
        waiters = self._waiters
        while True:
            w = OneShot(g)
            with self._mu:
                waiters.append(w)
            if self._block.acquire(False):
                self._leave(w)
                return True
            remaining = None
            if deadline is not None:
                remaining = deadline - _monotonic()
                if remaining <= 0:
                    self._leave(w)
                    return False
            try:
                fired = w.wait(remaining, "threading.Lock")
            except BaseException:
                self._leave(w)
                raise
            if not fired:  # timed out: one last try, as a thread's timed acquire would
                self._leave(w)
                return self._block.acquire(False)

    def _leave(self, w: OneShot) -> None:
        """``w`` stops waiting: out of the queue, and a wake it took passed on."""
        if w.claim():
            with self._mu:
                try:
                    self._waiters.remove(w)
                except ValueError:
                    pass
        elif self._waiters:
            self._wake_one()

    def release(self) -> None:
        self._block.release()
        if self._waiters:
            self._wake_one()

    def _wake_one(self) -> None:
        with self._mu:
            waiters = self._waiters
            while waiters:
                w = waiters.popleft()
                if w.claim():
                    break
            else:
                return
        w.fire()

    def locked(self) -> bool:
        return self._block.locked()

    def _at_fork_reinit(self) -> None:
        self._block = _allocate()
        self._mu = _allocate()
        self._waiters = deque()

    __enter__ = acquire

    def __exit__(self, *exc: Any) -> None:
        self.release()

    # The old names threading.Lock objects still answer to.
    acquire_lock = acquire
    release_lock = release
    locked_lock = locked


def _owner() -> Any:
    """Who holds an RLock: the goroutine, or the thread for its main goroutine
    and for code outside goroutines."""
    g = goroutine_here()
    if g is None or g is g.sched.main:
        return _get_ident()
    return g


class RLock:
    """``threading.RLock`` with goroutines as owners (see the module docstring)."""

    __slots__ = ("_lock", "_owner", "_count", "__weakref__")

    def __init__(self) -> None:
        self._lock = Lock()
        self._owner: Any = None
        self._count = 0

    def __repr__(self) -> str:
        state = "locked" if self._lock.locked() else "unlocked"
        return f"<gonet.coop {state} RLock owner={self._owner!r} count={self._count}>"

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        me = _owner()
        if self._owner == me:
            self._count += 1
            return True
        if not self._lock.acquire(blocking, timeout):
            return False
        self._owner = me
        self._count = 1
        return True

    __enter__ = acquire

    def release(self) -> None:
        if self._owner != _owner() or self._count == 0:
            raise RuntimeError("cannot release un-acquired lock")
        self._count -= 1
        if self._count == 0:
            self._owner = None
            self._lock.release()

    def __exit__(self, *exc: Any) -> None:
        self.release()

    def locked(self) -> bool:
        return self._lock.locked()

    # What Condition uses when its lock has them (as the stdlib's RLock does).
    def _is_owned(self) -> bool:
        return self._owner == _owner()

    def _release_save(self) -> tuple:
        if self._count == 0:
            raise RuntimeError("cannot release un-acquired lock")
        state = (self._count, self._owner)
        self._count = 0
        self._owner = None
        self._lock.release()
        return state

    def _acquire_restore(self, state: tuple) -> None:
        self._lock.acquire()
        self._count, _ = state
        self._owner = _owner()

    def _recursion_count(self) -> int:
        return self._count if self._owner == _owner() else 0

    def _at_fork_reinit(self) -> None:
        self._lock._at_fork_reinit()
        self._owner = None
        self._count = 0


class Condition(_StdCondition):
    """``threading.Condition`` whose ``wait`` parks a goroutine."""

    def __init__(self, lock: Any = None) -> None:
        _StdCondition.__init__(self, lock if lock is not None else RLock())

    def wait(self, timeout: float | None = None) -> bool:
        g = goroutine_here()
        if g is None:
            return _StdCondition.wait(self, timeout)
        if not self._is_owned():
            raise RuntimeError("cannot wait on un-acquired lock")
        w = OneShot(g)
        self._waiters.append(w)
        saved = self._release_save()
        fired = False
        try:
            fired = w.wait(timeout, "threading.Condition")
            return fired
        except BaseException:
            fired = w.fired()
            raise
        finally:
            self._acquire_restore(saved)
            if not fired:
                try:
                    self._waiters.remove(w)
                except ValueError:
                    pass


def thread_join(self: _stdthreading.Thread, timeout: float | None = None) -> None:
    """``Thread.join``: in a goroutine the wait runs on the thread pool (the
    thread's end is signalled by a C lock nothing can poll)."""
    if goroutine_here() is None or not self.is_alive() or self is _stdthreading.current_thread():
        return _std_join(self, timeout)
    try:
        return blocking(_std_join, self, timeout)
    except RuntimeError:  # the pool is gone (interpreter shutdown joins threads)
        return _std_join(self, timeout)
