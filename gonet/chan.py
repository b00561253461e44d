"""Concurrency layer: Go's channels and ``select`` for goroutines (``runtime/chan.go``, ``select.go``).

Sits on the scheduler's park/ready: a goroutine that waits on a channel is a
parked greenlet plus one small waiter record in the channel's queue, nothing
else. The waiter record and the park/wake helpers are the runtime's
(``gonet.runtime.sema``), shared with the ``gonet.sync`` primitives.

Semantics (Go's, in Python spelling)
------------------------------------

- ``Chan(0)`` is unbuffered: a send completes only when a receiver takes the
  value (rendezvous). ``Chan(n)`` buffers up to ``n`` values.
- Waiting senders and receivers are served first come, first served.
- ``close()`` wakes every waiter. Buffered values stay receivable; after the
  buffer is drained, ``recv_ok()`` returns ``(None, False)`` and ``recv()``
  raises :class:`ChanClosedError` (Python has no zero value, and ``None`` may
  be a real message, so a plain ``recv`` never returns a made-up one).
  Iterating a channel stops cleanly at that point.
- ``send`` on a closed channel and a second ``close`` raise
  :class:`ChanClosedError` (Go panics); a sender parked when the channel is
  closed raises it too.

``select(*cases, default=False, timeout=None) -> (index, value, ok)``
    Cases are ``ch.recv_case()`` and ``ch.send_case(v)``; a ``None`` case is
    never ready (Go's nil channel, handy to switch a case off). Among the cases
    ready now one is chosen uniformly at random; with ``default=True`` and none
    ready, or when ``timeout`` seconds pass first, the result is
    ``(-1, None, False)``. For a receive the result is ``(i, value, ok)`` with
    ``ok`` False when the channel is closed and drained; for a send it is
    ``(i, None, True)``. A send case chosen on a closed channel raises.

Waiting (the runtime's ``Waiter``, Go's ``sudog``)
--------------------------------------------------

A blocked operation appends a ``Waiter`` to the channel's ``recvq`` or
``sendq`` and parks. Whoever completes it (a partner, ``close``, a select
timer) first claims it, fills in ``value``/``ok`` and readies the goroutine,
passing the waiter as the wake value (the claim rules are in
``gonet.runtime.sema``). A blocked ``select`` queues one waiter per case, all
sharing one claim token; once it wakes, the selecting goroutine removes all
its waiters, so losing cases leave no trace on the channels.

Threads: every channel has a ``threading.Lock`` held only for a few
non-blocking statements (never across a park), so goroutines of different OS
threads' schedulers can share a channel; a partner in another thread is woken
with ``ready_threadsafe``. For deadlock detection a channel remembers the
scheduler that created it; once another scheduler uses it, it is *shared*,
and a goroutine parked on a shared channel counts in its scheduler's
``external_waiters`` (waiters already parked when a channel becomes shared are
counted then, through their own scheduler's hub). A channel that will be
waited on before its other thread first touches it should be created with
``Chan(n, shared=True)``, or the waiting scheduler may see a deadlock first.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from random import randrange
from time import monotonic as _monotonic
from typing import Any

from gonet.runtime.sched import TIMEOUT, get_sched, thread_state
from gonet.runtime.sema import Waitable, Waiter, claim, park_waiter, wake

__all__ = ["Chan", "ChanClosedError", "select", "Case"]


class ChanClosedError(Exception):
    """An operation on a closed channel: send, a second close, or recv once drained."""


class Case:
    """One arm of a :func:`select`: ``ch.recv_case()`` or ``ch.send_case(v)``."""

    __slots__ = ("ch", "is_send", "value")

    def __init__(self, ch: Chan, is_send: bool, value: Any = None) -> None:
        self.ch = ch
        self.is_send = is_send
        self.value = value

    def __repr__(self) -> str:
        return f"<Case {'send' if self.is_send else 'recv'} {self.ch!r}>"


class Chan(Waitable):
    """A Go channel: ``Chan()`` unbuffered, ``Chan(n)`` with a buffer of ``n``.

    State: ``_buf`` (buffered values, never more than ``cap``), ``_recvq`` /
    ``_sendq`` (parked waiters, FIFO), ``_closed``. Invariants under ``_lock``:
    live receivers wait only when ``_buf`` is empty; live senders wait only when
    ``_buf`` is full; nobody waits on a closed channel.
    """

    __slots__ = ("_cap", "_buf", "_recvq", "_sendq", "_closed", "__weakref__")

    def __init__(self, size: int = 0, *, shared: bool = False) -> None:
        if not isinstance(size, int) or size < 0:
            raise ValueError(f"Chan: size must be an int >= 0, got {size!r}")
        Waitable.__init__(self, shared)
        self._cap = size
        self._buf: deque = deque()
        self._recvq: deque[Waiter] = deque()
        self._sendq: deque[Waiter] = deque()
        self._closed = False

    def __repr__(self) -> str:
        state = " closed" if self._closed else ""
        return f"<Chan cap={self._cap} len={len(self._buf)}{state}>"

    @property
    def cap(self) -> int:
        """Buffer capacity (0: unbuffered)."""
        return self._cap

    def __len__(self) -> int:
        """Values waiting in the buffer."""
        return len(self._buf)

    def __iter__(self) -> Iterator[Any]:
        """Receive values until the channel is closed and drained."""
        while True:
            v, ok = self.recv_ok()
            if not ok:
                return
            yield v

    # -- send -----------------------------------------------------------------

    def send(self, value: Any) -> None:
        """Send ``value``, parking until a receiver takes it or buffer space frees up."""
        try:
            sched = thread_state.sched  # get_sched() without the call
        except AttributeError:
            sched = get_sched()
        lock = self._lock
        lock.acquire()
        if sched is not self._home and not self._shared:
            self._share(sched, self._recvq, self._sendq)
        if self._closed:
            lock.release()
            raise ChanClosedError("send on closed channel")
        recvq = self._recvq
        while recvq:
            w = recvq.popleft()
            if w.sel is not None and not claim(w):
                continue  # a select that already went another way
            w.value = value
            w.ok = True
            lock.release()
            if w.sched is sched:
                sched.ready(w.g, w)
            else:
                w.sched.ready_threadsafe(w.g, w)
            return
        buf = self._buf
        if len(buf) < self._cap:
            buf.append(value)
            lock.release()
            return
        w = Waiter(sched.current, sched, value)
        w.ext = self._shared
        sendq = self._sendq
        sendq.append(w)
        lock.release()
        park_waiter(sched, w, "chan send", sendq, lock)
        if not w.ok:
            raise ChanClosedError("send on closed channel")

    def _try_send(self, value: Any) -> bool:
        """Send without ever parking (safe in timer callbacks); False if it would block."""
        with self._lock:
            if self._closed:
                return False
            recvq = self._recvq
            while recvq:
                w = recvq.popleft()
                if w.sel is not None and not claim(w):
                    continue
                w.value = value
                w.ok = True
                break
            else:
                if len(self._buf) < self._cap:
                    self._buf.append(value)
                    return True
                return False
        wake(get_sched(), w)
        return True

    # -- receive --------------------------------------------------------------

    def recv(self) -> Any:
        """Receive a value; raises :class:`ChanClosedError` once closed and drained."""
        v, ok = self.recv_ok()
        if not ok:
            raise ChanClosedError("receive from closed channel")
        return v

    def recv_ok(self) -> tuple[Any, bool]:
        """Go's ``v, ok := <-ch``: ``(value, True)``, or ``(None, False)`` once closed and drained."""
        try:
            sched = thread_state.sched  # get_sched() without the call
        except AttributeError:
            sched = get_sched()
        lock = self._lock
        lock.acquire()
        if sched is not self._home and not self._shared:
            self._share(sched, self._recvq, self._sendq)
        buf = self._buf
        sendq = self._sendq
        if buf:
            value = buf.popleft()
            # A full buffer may have a sender waiting: its value moves in behind.
            while sendq:
                w = sendq.popleft()
                if w.sel is not None and not claim(w):
                    continue
                buf.append(w.value)
                w.ok = True
                lock.release()
                wake(sched, w)
                return value, True
            lock.release()
            return value, True
        while sendq:
            w = sendq.popleft()
            if w.sel is not None and not claim(w):
                continue
            value = w.value
            w.ok = True
            lock.release()
            if w.sched is sched:
                sched.ready(w.g, w)
            else:
                w.sched.ready_threadsafe(w.g, w)
            return value, True
        if self._closed:
            lock.release()
            return None, False
        w = Waiter(sched.current, sched, None)
        w.ext = self._shared
        recvq = self._recvq
        recvq.append(w)
        lock.release()
        park_waiter(sched, w, "chan receive", recvq, lock)
        return w.value, w.ok

    # -- close ----------------------------------------------------------------

    def close(self) -> None:
        """Close the channel: no more sends; every parked sender and receiver wakes."""
        sched = get_sched()
        with self._lock:
            if sched is not self._home and not self._shared:
                self._share(sched, self._recvq, self._sendq)
            if self._closed:
                raise ChanClosedError("close of closed channel")
            self._closed = True
            woken = []
            for q in (self._recvq, self._sendq):
                while q:
                    w = q.popleft()
                    if w.sel is not None and not claim(w):
                        continue
                    w.value = None
                    w.ok = False
                    woken.append(w)
        for w in woken:
            wake(sched, w)

    @property
    def closed(self) -> bool:
        """True once ``close()`` was called (values may still be buffered)."""
        return self._closed

    # -- select support -------------------------------------------------------

    def recv_case(self) -> Case:
        """A receive arm for :func:`select`."""
        return Case(self, False)

    def send_case(self, value: Any) -> Case:
        """A send arm for :func:`select`."""
        return Case(self, True, value)

    def _live_head(self, q: deque) -> Waiter | None:
        """First waiter of ``q`` whose wait can still be completed (lock held)."""
        while q:
            w = q[0]
            if w.sel is None or w.sel:
                return w
            q.popleft()  # a select that went another way; it will not miss this
        return None


def _unlock_all(chans: list[Chan]) -> None:
    for ch in chans:
        ch._lock.release()


def select(*cases: Case | None, default: bool = False,
           timeout: float | None = None) -> tuple[int, Any, bool]:
    """Wait until one of ``cases`` can proceed and perform it; see the module docstring.

    Returns ``(index, value, ok)``; ``(-1, None, False)`` for default or timeout.
    """
    sched = get_sched()
    # Lock every distinct channel in one global order (by id), as Go's sellock.
    seen: dict[int, Chan] = {}
    for c in cases:
        if c is not None:
            if not isinstance(c, Case):
                raise TypeError(f"select: cases must be ch.recv_case() / ch.send_case(v) or None, "
                                f"got {c!r}")
            seen[id(c.ch)] = c.ch
    chans = [seen[k] for k in sorted(seen)]
    for ch in chans:
        ch._lock.acquire()
        if sched is not ch._home and not ch._shared:
            ch._share(sched, ch._recvq, ch._sendq)

    # Pass 1: which cases can proceed now? Pick one at random and do it. With
    # every lock held, other threads can only complete other selects, which
    # turns a ready case unready, never the reverse: so retry until done or none.
    ready = []
    for i, c in enumerate(cases):
        if c is None:
            continue
        ch = c.ch
        if c.is_send:
            if ch._closed or len(ch._buf) < ch._cap or ch._live_head(ch._recvq) is not None:
                ready.append(i)
        elif ch._buf or ch._closed or ch._live_head(ch._sendq) is not None:
            ready.append(i)
    while ready:
        k = randrange(len(ready)) if len(ready) > 1 else 0
        i = ready[k]
        res = _select_now(sched, chans, i, cases[i])
        if res is not None:
            return res
        del ready[k]
    if default:
        _unlock_all(chans)
        return -1, None, False

    # Pass 2: queue a waiter on every case, sharing one claim token, and park.
    g = sched.current
    token = [True]
    waiters = []
    ext = 0
    for i, c in enumerate(cases):
        if c is None:
            continue
        ch = c.ch
        w = Waiter(g, sched, c.value if c.is_send else None, token, i)
        if ch._shared:
            w.ext = True
            ext += 1
        (ch._sendq if c.is_send else ch._recvq).append(w)
        waiters.append(w)
    _unlock_all(chans)
    timer = None
    if timeout is not None:
        timer = sched.timers.add(_monotonic() + max(timeout, 0.0), _select_timeout, sched,
                                 (g, token))
    sched.external_waiters += ext
    winner = None
    try:
        winner = sched.park("select")
    finally:
        if timer is not None:
            sched.timers.cancel(timer)  # no-op if it fired
        # Pass 3: take every waiter of ours off every queue.
        for ch in chans:
            ch._lock.acquire()
        for w in waiters:
            if w is not winner:
                c = cases[w.index]
                q = c.ch._sendq if c.is_send else c.ch._recvq
                try:
                    q.remove(w)
                except ValueError:
                    pass
        _unlock_all(chans)
        if token:
            # Thrown in while parked: nobody may complete this select any more.
            token.clear()
        sched.external_waiters -= sum(1 for w in waiters if w.ext)
    if winner is TIMEOUT:
        return -1, None, False
    if winner.sel is not token:  # pragma: no cover - invariant
        raise RuntimeError("select: woken by a foreign waiter")
    c = cases[winner.index]
    if c.is_send:
        if not winner.ok:
            raise ChanClosedError("send on closed channel (in select)")
        return winner.index, None, True
    return winner.index, winner.value, winner.ok


def _pop_live(q: deque) -> Waiter | None:
    """Dequeue and claim the first waiter of ``q`` that can still be completed (lock held)."""
    while q:
        w = q.popleft()
        if w.sel is None or claim(w):
            return w
    return None


def _select_now(sched: Any, chans: list[Chan], i: int, c: Case) -> tuple[int, Any, bool] | None:
    """Perform case ``c`` with every lock in ``chans`` held; releases them when done.

    Returns None, locks still held, if the case turned out not ready after all
    (its only partner was a select another thread completed meanwhile).
    """
    ch = c.ch
    if c.is_send:
        if ch._closed:
            _unlock_all(chans)
            raise ChanClosedError("send on closed channel (in select)")
        w = _pop_live(ch._recvq)
        if w is not None:
            w.value = c.value
            w.ok = True
        elif len(ch._buf) < ch._cap:
            ch._buf.append(c.value)
        else:
            return None
        _unlock_all(chans)
        if w is not None:
            wake(sched, w)
        return i, None, True
    buf = ch._buf
    if buf:
        value = buf.popleft()
        w = _pop_live(ch._sendq)
        if w is not None:
            buf.append(w.value)
            w.ok = True
        _unlock_all(chans)
        if w is not None:
            wake(sched, w)
        return i, value, True
    w = _pop_live(ch._sendq)
    if w is not None:
        w.ok = True
        _unlock_all(chans)
        wake(sched, w)
        return i, w.value, True
    if ch._closed:
        _unlock_all(chans)
        return i, None, False
    return None


def _select_timeout(sched: Any, gt: tuple) -> None:
    g, token = gt
    try:
        token.pop()
    except IndexError:
        return  # a case won first
    sched.ready(g, TIMEOUT)

