"""Runtime layer: the waiter records and park/wake helpers that channels and
``sync`` share (Go's ``runtime/sema.go`` and the sudog).

A goroutine that blocks on a channel, a mutex, a wait group or a condition
variable appends a :class:`Waiter` to that object's wait queue and parks in
:func:`park_waiter`; whoever completes the wait claims the waiter, fills in
its result and readies the goroutine with :func:`wake`. :class:`Waitable` is
the base of every such object: a lock held only for a few non-blocking
statements, and the bookkeeping that lets goroutines of several threads'
schedulers share it.

Invariants
----------

- A plain waiter is claimed by taking it out of its queue under the object's
  lock; only one party can do that.
- The waiters of one blocked ``select`` sit in several queues and share a
  token (``sel``, a one-element list). :func:`claim` pops the token;
  ``list.pop`` is atomic, so exactly one party wins even across threads. A
  queued waiter whose token is gone is dead: partners skip it.
- Therefore every park gets exactly one wake, and no wake is ever stale.
- A waiter that counts in its scheduler's ``external_waiters`` (the object is
  shared with another thread, which may be the only one able to wake it) has
  ``ext`` set while it waits, so deadlock detection does not fire early.
"""

from __future__ import annotations

import _thread
from collections import deque
from typing import Any

from gonet.runtime.sched import get_sched

__all__ = ["Waiter", "Waitable", "claim", "wake", "park_waiter", "count_external"]


class Waiter:
    """A parked goroutine's place in a wait queue (Go's sudog).

    ``value`` is the value to send, or the value received; ``ok`` is set by the
    party that completes the wait (False: woken by close). ``sel`` is None for a
    plain wait, else the select's shared claim token. ``ext`` is True while the
    wait counts in ``sched.external_waiters``.
    """

    __slots__ = ("g", "sched", "value", "ok", "sel", "index", "ext")

    def __init__(self, g: Any, sched: Any, value: Any, sel: list | None = None,
                 index: int = 0) -> None:
        self.g = g
        self.sched = sched
        self.value = value
        self.ok = False
        self.sel = sel
        self.index = index
        self.ext = False


def claim(w: Waiter) -> bool:
    """Take the right to complete ``w``'s select; False if another party already has."""
    try:
        w.sel.pop()
        return True
    except IndexError:
        return False


def wake(sched: Any, w: Waiter) -> None:
    """Ready the goroutine of a claimed waiter; ``sched`` is the caller's scheduler."""
    ws = w.sched
    if ws is sched:
        ws.ready(w.g, w)
    else:
        ws.ready_threadsafe(w.g, w)


def count_external(sched: Any) -> None:
    sched.external_waiters += 1


class Waitable:
    """Base of everything goroutines park on: a lock, wait queues, thread sharing.

    ``_home`` is the scheduler that created the object; ``_shared`` becomes True
    (under ``_lock``) the first time another scheduler uses it, and never goes
    back. Subclasses call ``_share(sched, queues)`` with the lock held when
    ``sched is not self._home and not self._shared``.
    """

    __slots__ = ("_lock", "_home", "_shared")

    def __init__(self, shared: bool = False) -> None:
        # A plain thread lock even under gonet.patch(), which makes
        # threading.Lock cooperative.
        self._lock = _thread.allocate_lock()
        self._home = get_sched()
        self._shared = shared

    def _share(self, sched: Any, *queues: deque) -> None:
        # Waiters of other schedulers parked while this object was private now
        # wait on another thread: count them, on their own scheduler's hub.
        self._shared = True
        for q in queues:
            for w in q:
                if not w.ext and w.sched is not sched:
                    w.ext = True
                    w.sched.call_soon_threadsafe(lambda s=w.sched: count_external(s))


def park_waiter(sched: Any, w: Waiter, reason: str, q: deque, lock: Any) -> None:
    """Park after ``w`` was queued on ``q`` (lock released); undo the queueing on error.

    On return ``w`` was claimed and completed by someone else.
    """
    if w.ext:
        sched.external_waiters += 1
    try:
        sched.park(reason)
    except BaseException:
        # Thrown in while parked (DeadlockError, GreenletExit): leave no trace.
        with lock:
            try:
                q.remove(w)
            except ValueError:
                pass
        raise
    finally:
        if w.ext:
            sched.external_waiters -= 1
