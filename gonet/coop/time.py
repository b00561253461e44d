"""Patch layer: ``time.sleep`` parks the goroutine (a timed park on the
scheduler's timer heap, as ``gonet.sleep``); outside a goroutine it is the
stdlib's."""

from __future__ import annotations

import operator
import time as _stdtime

from gonet.runtime.sched import goroutine_here

__all__ = ["sleep", "ORIGINALS"]

ORIGINALS = {"sleep": _stdtime.sleep}
_sleep = _stdtime.sleep


def sleep(secs: float) -> None:
    g = goroutine_here()
    if g is None:
        return _sleep(secs)
    # A number, as the stdlib takes it (a str is a TypeError there, not parsed).
    secs = float(secs) if hasattr(secs, "__float__") else float(operator.index(secs))
    if secs < 0:
        raise ValueError("sleep length must be non-negative")
    sched = g.sched
    if secs == 0:
        from gonet.runtime.sched import sleep as yield_

        yield_(0)
        return
    sched.park("sleep", secs)
