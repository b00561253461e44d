"""Concurrency layer: Go's ``context`` package (cancellation trees, deadlines, values).

A :class:`Context` carries a cancellation signal, an optional deadline and
request-scoped values down a call tree. ``ctx.done()`` is a :class:`~gonet.chan.Chan`
that is closed when the context is cancelled, so it works anywhere a channel
does: ``ctx.done().recv()`` parks until cancellation, and
``select(work.recv_case(), ctx.done().recv_case())`` waits for either.

Deadlines are absolute ``time.monotonic()`` seconds, as for ``Conn.set_deadline``.

The tree and its invariants
---------------------------

- ``with_cancel``/``with_deadline``/``with_timeout`` make a cancel node. When
  created under a cancel node that is still live, the child registers in the
  parent's ``_children``; when the parent is already cancelled, the child is
  cancelled at once with the parent's error. Value nodes are transparent: a
  child registers with the nearest cancel node above them.
- A node is cancelled at most once: ``_err`` goes from None to an error under
  the node's lock, then ``done()`` is closed, then the children are cancelled
  with the same error (outside the lock: no lock is ever held while taking
  another), and the node leaves its parent's set, so a long-lived parent does
  not accumulate cancelled children.
- A deadline is a timer on the scheduler of the thread that created the node;
  the timer's callback only closes a channel, so it never parks. ``cancel()``
  stops the timer (through that scheduler's hub if called from another thread).

``after_func(ctx, fn)`` (Go 1.21's ``context.AfterFunc``) runs ``fn`` in its
own goroutine once ``ctx`` is cancelled: it registers in the nearest cancel
node's ``_children`` like a child context, so waiting costs no goroutine.
The goroutine is started on the scheduler of the thread that called
``after_func`` (through its hub when the cancel comes from another thread).

Errors: ``err()`` is None while live, then a :class:`Canceled` or a
:class:`DeadlineExceeded` instance (test with ``isinstance``).
:class:`DeadlineExceeded` subclasses ``TimeoutError``, like the net layer's
``gonet.DeadlineExceededError``, but is a different class, as in Go.
"""

from __future__ import annotations

import _thread
import threading
import time
from collections.abc import Callable
from typing import Any

from gonet.chan import Chan
from gonet.runtime.sched import get_sched

__all__ = [
    "Context",
    "Canceled",
    "DeadlineExceeded",
    "CancelFunc",
    "background",
    "todo",
    "with_cancel",
    "with_deadline",
    "with_timeout",
    "with_value",
    "after_func",
]

CancelFunc = Callable[[], None]


class Canceled(Exception):
    """The context was cancelled (Go's ``context.Canceled``)."""

    def __init__(self, msg: str = "context canceled") -> None:
        super().__init__(msg)


class DeadlineExceeded(TimeoutError):
    """The context's deadline passed (Go's ``context.DeadlineExceeded``)."""

    def __init__(self, msg: str = "context deadline exceeded") -> None:
        super().__init__(msg)


class Context:
    """The interface every context offers."""

    __slots__ = ()

    def deadline(self) -> float | None:
        """Absolute monotonic time at which this context is cancelled, or None."""
        return None

    def done(self) -> Chan:
        """A channel closed when this context is cancelled."""
        raise NotImplementedError

    def err(self) -> BaseException | None:
        """None while live; a :class:`Canceled` or :class:`DeadlineExceeded` afterwards."""
        return None

    def value(self, key: Any) -> Any:
        """The value stored for ``key`` by ``with_value`` here or above, else None."""
        return None

    def _cancel_node(self) -> _CancelCtx | None:
        return None


_never = threading.local()


class _EmptyCtx(Context):
    __slots__ = ("_name",)

    def __init__(self, name: str) -> None:
        self._name = name

    def __repr__(self) -> str:
        return f"context.{self._name}()"

    def done(self) -> Chan:
        # Never closed. One per thread, so that waiting on it is an ordinary,
        # detectable deadlock in that thread rather than a cross-thread wait.
        try:
            return _never.chan
        except AttributeError:
            ch = _never.chan = Chan()
            return ch


_background = _EmptyCtx("background")
_todo = _EmptyCtx("todo")


def background() -> Context:
    """The root context: never cancelled, no deadline, no values."""
    return _background


def todo() -> Context:
    """Like ``background()``, marking a place where the right context is not known yet."""
    return _todo


class _CancelCtx(Context):
    """A cancel node (also used for deadline nodes); see the module docstring."""

    __slots__ = ("_parent", "_done", "_err", "_children", "_mu", "_deadline", "_timer",
                 "_timer_sched")

    def __init__(self, parent: Context, deadline: float | None = None) -> None:
        self._parent = parent
        self._done: Chan | None = None  # made on first done(): most contexts never wait
        self._err: BaseException | None = None
        self._children: set[_CancelCtx] | None = set()
        self._mu = _thread.allocate_lock()  # a plain lock even under gonet.patch()
        self._deadline = deadline
        self._timer: list | None = None
        self._timer_sched: Any = None

    def __repr__(self) -> str:
        kind = "with_deadline" if self._deadline is not None else "with_cancel"
        state = f" err={self._err!s}" if self._err is not None else ""
        return f"<context.{kind}{state} parent={self._parent!r}>"

    def deadline(self) -> float | None:
        return self._deadline if self._deadline is not None else self._parent.deadline()

    def done(self) -> Chan:
        d = self._done
        if d is None:
            with self._mu:
                d = self._done
                if d is None:
                    d = self._done = Chan()
                    if self._err is not None:
                        d.close()
        return d

    def err(self) -> BaseException | None:
        return self._err

    def value(self, key: Any) -> Any:
        return self._parent.value(key)

    def _cancel_node(self) -> _CancelCtx | None:
        return self

    def _attach(self) -> None:
        """Register under the nearest live cancel node above; or inherit its error."""
        p = self._parent._cancel_node()
        if p is None:
            return
        with p._mu:
            err = p._err
            if err is None:
                p._children.add(self)
                return
        self._cancel(err, detach=False)

    def cancel(self) -> None:
        """Cancel this context and its descendants; later calls do nothing."""
        self._cancel(Canceled(), detach=True)

    def _cancel(self, err: BaseException, detach: bool) -> None:
        with self._mu:
            if self._err is not None:
                return
            self._err = err
            children = self._children
            self._children = None
            timer = self._timer
            self._timer = None
            done = self._done  # None: done() will make it closed
        if done is not None:
            done.close()
        for child in children:
            child._cancel(err, detach=False)
        if timer is not None:
            ts = self._timer_sched
            if ts.thread is threading.current_thread():
                ts.timers.cancel(timer)
            else:
                ts.call_soon_threadsafe(lambda: ts.timers.cancel(timer))
        if detach:
            p = self._parent._cancel_node()
            if p is not None:
                with p._mu:
                    if p._children is not None:
                        p._children.discard(self)


def _deadline_fired(c: _CancelCtx, _: Any) -> None:
    # Timer callback on the hub: close channels only, never park.
    with c._mu:
        c._timer = None
    c._cancel(DeadlineExceeded(), detach=True)


class _ValueCtx(Context):
    __slots__ = ("_parent", "_key", "_val")

    def __init__(self, parent: Context, key: Any, val: Any) -> None:
        self._parent = parent
        self._key = key
        self._val = val

    def __repr__(self) -> str:
        return f"<context.with_value {self._key!r} parent={self._parent!r}>"

    def deadline(self) -> float | None:
        return self._parent.deadline()

    def done(self) -> Chan:
        return self._parent.done()

    def err(self) -> BaseException | None:
        return self._parent.err()

    def value(self, key: Any) -> Any:
        ctx: Context = self
        while isinstance(ctx, _ValueCtx):
            if ctx._key == key:
                return ctx._val
            ctx = ctx._parent
        return ctx.value(key)

    def _cancel_node(self) -> _CancelCtx | None:
        return self._parent._cancel_node()


def _check_parent(fn: str, parent: Any) -> None:
    if not isinstance(parent, Context):
        raise TypeError(f"context.{fn}: parent must be a Context, got {parent!r}")


def with_cancel(parent: Context) -> tuple[Context, CancelFunc]:
    """A child of ``parent`` with its own ``cancel``; returns ``(ctx, cancel)``."""
    _check_parent("with_cancel", parent)
    c = _CancelCtx(parent)
    c._attach()
    return c, c.cancel


def with_deadline(parent: Context, deadline: float) -> tuple[Context, CancelFunc]:
    """A child cancelled at monotonic time ``deadline`` (or earlier by ``cancel``/parent)."""
    _check_parent("with_deadline", parent)
    pd = parent.deadline()
    if pd is not None and pd <= deadline:
        return with_cancel(parent)  # the parent's deadline comes first anyway
    c = _CancelCtx(parent, deadline)
    c._attach()
    if c._err is None:
        if deadline <= time.monotonic():
            c._cancel(DeadlineExceeded(), detach=True)
        else:
            sched = get_sched()
            c._timer_sched = sched
            with c._mu:
                if c._err is None:
                    c._timer = sched.timers.add(deadline, _deadline_fired, c, None)
    return c, c.cancel


def with_timeout(parent: Context, timeout: float) -> tuple[Context, CancelFunc]:
    """``with_deadline(parent, time.monotonic() + timeout)``."""
    return with_deadline(parent, time.monotonic() + timeout)


def with_value(parent: Context, key: Any, val: Any) -> Context:
    """A child carrying ``key -> val``; cancellation and deadline come from ``parent``."""
    _check_parent("with_value", parent)
    if key is None:
        raise TypeError("context.with_value: key must not be None")
    return _ValueCtx(parent, key, val)


class _AfterFunc:
    """A registration of :func:`after_func`: it sits in a cancel node's
    ``_children`` set and answers ``_cancel`` by starting ``fn``. ``_state``
    goes from 0 (waiting) to 1 (started) or 2 (stopped) exactly once, under
    the node's lock."""

    __slots__ = ("_node", "_fn", "_sched", "_state", "__weakref__")

    def __init__(self, node: _CancelCtx, fn: Callable[[], Any]) -> None:
        self._node = node
        self._fn = fn
        self._sched = get_sched()
        self._state = 0

    def _cancel(self, err: BaseException, detach: bool) -> None:
        # Called by the node's _cancel (children already taken out of the
        # node) or by after_func on a node cancelled before registration.
        node = self._node
        with node._mu:
            if self._state:
                return
            self._state = 1
        s = self._sched
        if s.thread is threading.current_thread():
            s.spawn(self._fn, name="context.after_func")
        else:
            s.call_soon_threadsafe(lambda: s.spawn(self._fn, name="context.after_func"))

    def stop(self) -> bool:
        """Unregister; True if this stopped ``fn`` from being started."""
        node = self._node
        with node._mu:
            if self._state:
                return False
            self._state = 2
            if node._children is not None:
                node._children.discard(self)  # type: ignore[arg-type]
        return True


def _no_stop() -> bool:
    return True


def after_func(ctx: Context, fn: Callable[[], Any]) -> Callable[[], bool]:
    """Run ``fn()`` in its own goroutine once ``ctx`` is done (at once if it
    is already); returns ``stop``, which unregisters ``fn`` and returns True
    if that stopped it from being started (Go's ``context.AfterFunc``).

    A context that can never be cancelled (``background()``) costs nothing:
    ``stop`` is a function that returns True.
    """
    _check_parent("after_func", ctx)
    node = ctx._cancel_node()
    if node is None:
        return _no_stop
    a = _AfterFunc(node, fn)
    with node._mu:
        err = node._err
        if err is None:
            node._children.add(a)  # type: ignore[arg-type]
            return a.stop
    a._cancel(err, detach=False)
    return a.stop
