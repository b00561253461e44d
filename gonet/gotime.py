"""Concurrency layer: Go's ``time`` timers as channels (exposed as ``gonet.time``).

Named ``gotime`` so it never shadows the standard library's ``time``.
``after(d)``, :class:`Timer`, :class:`Ticker`, ``tick`` and ``after_func`` are
thin wrappers over the scheduler's timer heap: each arms a heap entry whose
callback runs on the hub and does a non-blocking send of the firing time
(``time.monotonic()``) into a channel with a buffer of one. Callbacks never
park; ``after_func`` starts a goroutine instead.

Go 1.23 semantics for stop/reset: once ``stop()`` or ``reset()`` returns, no
value from the old schedule can be received from ``c`` (a value already
buffered is drained). A Ticker whose reader is slow drops ticks rather than
queueing them, and keeps its phase.

Timers belong to the scheduler of the thread that created them; call
``stop``/``reset`` from that thread (a different thread gets a RuntimeError).
Durations are seconds (floats), as everywhere in gonet.
"""

from __future__ import annotations

import threading
import time as _time
from collections.abc import Callable
from typing import Any

from gonet.chan import Chan, select
from gonet.runtime.sched import get_sched, sleep

__all__ = ["after", "after_func", "tick", "Timer", "Ticker", "sleep", "monotonic"]

monotonic = _time.monotonic


def _check_duration(what: str, d: float) -> float:
    if not isinstance(d, (int, float)) or d != d:
        raise TypeError(f"{what}: duration must be a number of seconds, got {d!r}")
    return float(d)


def _drain(ch: Chan) -> None:
    select(ch.recv_case(), default=True)


class Timer:
    """A single event: after ``d`` seconds the firing time is sent on ``c``.

    With ``fn`` (see :func:`after_func`), ``fn(*args)`` runs in a new goroutine
    instead and ``c`` is None.
    """

    __slots__ = ("c", "_fn", "_args", "_sched", "_entry")

    def __init__(self, d: float, fn: Callable[..., Any] | None = None, args: tuple = ()) -> None:
        d = _check_duration("Timer", d)
        self.c: Chan | None = Chan(1) if fn is None else None
        self._fn = fn
        self._args = args
        self._sched = get_sched()
        self._entry: list | None = None
        self._arm(d)

    def __repr__(self) -> str:
        return f"<Timer {'active' if self._entry is not None else 'inactive'}>"

    def _arm(self, d: float) -> None:
        self._entry = self._sched.timers.add(monotonic() + max(d, 0.0), _timer_fired, self, None)

    def _own(self, op: str) -> None:
        if self._sched.thread is not threading.current_thread():
            raise RuntimeError(f"Timer.{op}: called from another thread than the timer's")

    def stop(self) -> bool:
        """Stop the timer; True if this prevented it from firing."""
        self._own("stop")
        e = self._entry
        self._entry = None
        active = e is not None and self._sched.timers.cancel(e)
        if self.c is not None:
            _drain(self.c)
        return active

    def reset(self, d: float) -> bool:
        """Re-arm to fire ``d`` seconds from now; True if it had been active."""
        d = _check_duration("Timer.reset", d)
        active = self.stop()
        self._arm(d)
        return active


def _timer_fired(t: Timer, _: Any) -> None:
    t._entry = None
    if t._fn is None:
        t.c._try_send(monotonic())
    else:
        t._sched.spawn(t._fn, t._args)


class Ticker:
    """Sends the time on ``c`` every ``d`` seconds until ``stop()``; slow readers miss ticks."""

    __slots__ = ("c", "_d", "_sched", "_entry")

    def __init__(self, d: float) -> None:
        d = _check_duration("Ticker", d)
        if d <= 0:
            raise ValueError(f"Ticker: period must be > 0, got {d}")
        self.c = Chan(1)
        self._d = d
        self._sched = get_sched()
        self._entry: list | None = self._sched.timers.add(monotonic() + d, _tick, self, None)

    def __repr__(self) -> str:
        return f"<Ticker every {self._d} s{'' if self._entry is not None else ' stopped'}>"

    def _own(self, op: str) -> None:
        if self._sched.thread is not threading.current_thread():
            raise RuntimeError(f"Ticker.{op}: called from another thread than the ticker's")

    def stop(self) -> None:
        """Stop ticking (a tick already buffered is dropped)."""
        self._own("stop")
        if self._entry is not None:
            self._sched.timers.cancel(self._entry)
            self._entry = None
        _drain(self.c)

    def reset(self, d: float) -> None:
        """Stop, then tick every ``d`` seconds starting ``d`` from now."""
        d = _check_duration("Ticker.reset", d)
        if d <= 0:
            raise ValueError(f"Ticker.reset: period must be > 0, got {d}")
        self.stop()
        self._d = d
        self._entry = self._sched.timers.add(monotonic() + d, _tick, self, None)


def _tick(t: Ticker, _: Any) -> None:
    now = monotonic()
    t.c._try_send(now)
    when = t._entry[0] + t._d
    if when <= now:  # fell behind: skip missed ticks, keep the phase
        when += ((now - when) // t._d + 1) * t._d
    t._entry = t._sched.timers.add(when, _tick, t, None)


def after(d: float) -> Chan:
    """A channel that receives the time once, ``d`` seconds from now."""
    return Timer(d).c


def after_func(d: float, fn: Callable[..., Any], *args: Any) -> Timer:
    """Run ``fn(*args)`` in its own goroutine after ``d`` seconds; ``stop()`` cancels it."""
    if not callable(fn):
        raise TypeError(f"after_func: fn must be callable, got {fn!r}")
    return Timer(d, fn, args)


def tick(d: float) -> Chan:
    """``Ticker(d).c``, for a ticker that lives as long as the program."""
    return Ticker(d).c
