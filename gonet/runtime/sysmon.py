"""Runtime layer: the blocked-thread detector (Go's sysmon, the part that watches).

A goroutine that blocks its OS thread (a C call that waits, an unpatched
``time.sleep``, a CPU loop) stalls every other goroutine of that thread's
scheduler. Go's sysmon notices a goroutine that has held its thread too long
and preempts it; Python cannot preempt a greenlet, so this one only tells:
it names the goroutine and the line that held the thread, once per call site.

How a stall is seen
-------------------

A watchdog thread wakes every quarter of the threshold and reads, for each
scheduler, two things the scheduler keeps anyway: its loop counter
(``stats["polls"]``, bumped once per round of the loop) and ``current`` (the
goroutine that runs, None while the hub runs or waits in the poller). The
scheduler loop pays nothing for this: no counter was added for it.

- ``current`` is None: the thread is in the hub (typically waiting in the
  poller): idle, not stalled.
- the pair changed since the last look: the thread made progress.
- the pair stayed the same for the threshold or longer while the scheduler
  has work that waits for the thread (another goroutine exists, or something
  is queued to run): stalled. The stack of the thread's running greenlet is
  taken at that moment (``sys._current_frames``), and reported when the
  stall ends, with its full length; a stall still going on after
  ``max(1 s, 10 x threshold)`` is reported then.

Reports go to the ``gonet.sysmon`` logger at WARNING::

    goroutine 12 blocked the scheduler for 850 ms in handler.py:40 (time.sleep)

followed by the stack. A call site (file and line) is reported at most once a
minute, and no more than ten reports are made in any minute.

Off by default; ``GONET_BLOCK_WARN=<seconds>`` starts it with the first
scheduler, ``gonet serve`` starts it in each worker (``--block-warn``), and
:func:`start` / :func:`stop` control it directly.

The watchdog
------------

The same looks serve a process supervisor (``gonet serve --timeout``):
:func:`watchdog` ``(timeout, heartbeat, on_stall)`` makes the thread call
``heartbeat(t)`` at every look, where ``t`` is the last moment at which every
scheduler was seen idle or making progress (``time.monotonic()``, which is
one clock for every process of the machine), and ``on_stall(text)`` once
per stall that reaches ``timeout`` seconds, with every goroutine's stack (the
stalled one's as its thread runs it). The supervisor kills a process whose
heartbeat is older than its timeout; when the thread cannot run at all (C
code holding the GIL), the heartbeat stops just the same.
"""

from __future__ import annotations

import _thread
import linecache
import logging
import os
import sys
import time
import traceback
from typing import Any

from gonet.runtime.sched import all_schedulers

__all__ = ["start", "stop", "running", "threshold", "start_from_env", "watchdog"]

log = logging.getLogger("gonet.sysmon")

_SITE_INTERVAL = 60.0  # a call site is reported at most once in this many seconds
_MAX_REPORTS = 10  # reports in any _SITE_INTERVAL, all sites together

_lock = _thread.allocate_lock()
# threshold: the detector's (0: off); watchdog: (timeout, heartbeat, on_stall) or None.
_state: dict[str, Any] = {"threshold": 0.0, "watchdog": None, "gen": 0, "thread": None}
_monotonic = time.monotonic


def running() -> bool:
    """Is the watchdog thread running?"""
    return _state["thread"] is not None


def threshold() -> float:
    """The detector's threshold in seconds (0 when off)."""
    return _state["threshold"] if running() else 0.0


def _ensure_thread() -> None:
    # Under _lock: start the thread if either job wants it, stop it if neither does.
    wanted = _state["threshold"] > 0 or _state["watchdog"] is not None
    if wanted and _state["thread"] is None:
        _state["gen"] += 1
        _state["thread"] = _thread.start_new_thread(_watch, (_state["gen"],))
    elif not wanted and _state["thread"] is not None:
        _state["gen"] += 1
        _state["thread"] = None


def start(threshold: float = 0.1) -> None:
    """Start the detector (or change its threshold): report any scheduler
    thread that does not switch goroutines for ``threshold`` seconds."""
    if threshold <= 0:
        stop()
        return
    with _lock:
        _state["threshold"] = float(threshold)
        _ensure_thread()


def stop() -> None:
    """Stop the detector (the thread ends at its next wake-up unless the
    watchdog still needs it)."""
    with _lock:
        _state["threshold"] = 0.0
        _ensure_thread()


def watchdog(timeout: float | None, heartbeat: Any = None, on_stall: Any = None) -> None:
    """Start (or, with ``timeout`` None or 0, stop) the watchdog; see the
    module docstring. Both callbacks run on the watchdog thread."""
    with _lock:
        if timeout:
            _state["watchdog"] = (float(timeout), heartbeat, on_stall)
        else:
            _state["watchdog"] = None
        _ensure_thread()


def start_from_env(value: str | None = None) -> None:
    """Start with the threshold ``GONET_BLOCK_WARN`` gives, if it gives one."""
    if value is None:
        value = os.environ.get("GONET_BLOCK_WARN", "")
    try:
        t = float(value) if value else 0.0
    except ValueError:
        log.warning("GONET_BLOCK_WARN=%r is not a number of seconds: detector off", value)
        return
    if t > 0:
        start(t)


class _Watch:
    """What the watchdog knows of one scheduler between two looks."""

    __slots__ = ("key", "since", "frame_info", "reported", "fired")

    def __init__(self, key: tuple, now: float) -> None:
        self.key = key
        self.since = now  # when the scheduler was last seen moving (or idle)
        self.frame_info: tuple | None = None  # (goroutine id, site, summary, stack) once stalled
        self.reported = False
        self.fired = False  # on_stall was called for this stall


def _interval() -> float:
    limit = _state["threshold"]
    wd = _state["watchdog"]
    tick = limit / 4 if limit > 0 else 1.0
    if wd is not None:
        tick = min(tick, wd[0] / 4, 1.0)
    return max(tick, 0.005)


def _watch(gen: int) -> None:
    watched: dict[int, _Watch] = {}
    sent: dict[tuple, float] = {}  # call site -> when last reported
    recent: list[float] = []
    while _state["gen"] == gen:
        time.sleep(_interval())
        limit = _state["threshold"]
        wd = _state["watchdog"]
        now = _monotonic()
        seen = set()
        moving_since = now  # every scheduler was idle or moving at this moment
        for sched in all_schedulers():
            if sched.hub is None:
                continue
            sid = id(sched)
            seen.add(sid)
            g = sched.current
            key = (sched.stats["polls"], g)
            w = watched.get(sid)
            if w is None or w.key != key or g is None:
                if w is not None and w.frame_info is not None and not w.reported:
                    _report(w, now, False, sent, recent)
                watched[sid] = _Watch(key, now)
                continue
            stalled_for = now - w.since
            moving_since = min(moving_since, w.since)
            if wd is not None and not w.fired and stalled_for >= wd[0]:
                w.fired = True
                _fire(wd[2], sched, g, stalled_for)
            if limit <= 0 or stalled_for < limit:
                continue
            if w.frame_info is None:
                if len(sched.all) <= 1 and not sched.runq and not sched.inbox:
                    continue  # nothing else waits for this thread
                w.frame_info = _capture(sched, g)
            if not w.reported and stalled_for >= max(1.0, 10 * limit):
                _report(w, now, True, sent, recent)
        for sid in list(watched):
            if sid not in seen:  # the thread ended (its stall with it, maybe)
                w = watched.pop(sid)
                if w.frame_info is not None and not w.reported:
                    _report(w, now, False, sent, recent)
        if wd is not None and wd[1] is not None:
            try:
                wd[1](moving_since)
            except Exception:  # noqa: BLE001 - the watchdog thread must go on
                log.exception("sysmon: the watchdog's heartbeat failed")


def _fire(on_stall: Any, sched: Any, g: Any, stalled_for: float) -> None:
    from gonet.runtime.debug import dump_goroutines  # debug imports sched, as we do

    if on_stall is None:
        return
    import io

    buf = io.StringIO()
    try:
        dump_goroutines(buf)
    except Exception as e:  # noqa: BLE001 - the state may change under the dump
        buf.write(f"(goroutine dump failed: {e})\n")
    try:
        on_stall(f"goroutine {g.id} ({g.name}) held the scheduler of thread "
                 f"{sched.thread.name} for {stalled_for:.1f} s\n{buf.getvalue()}")
    except Exception:  # noqa: BLE001
        log.exception("sysmon: the watchdog's on_stall failed")


def _capture(sched: Any, g: Any) -> tuple | None:
    frame = sys._current_frames().get(sched.thread.ident)
    if frame is None:
        return None
    stack = traceback.format_stack(frame)
    site, summary = _describe(frame)
    return (g.id, site, summary, stack)


def _report(w: _Watch, now: float, ongoing: bool, sent: dict, recent: list) -> None:
    w.reported = True
    info = w.frame_info
    if info is None:
        return
    gid, site, summary, stack = info
    last = sent.get(site)
    if last is not None and now - last < _SITE_INTERVAL:
        return
    recent[:] = [t for t in recent if now - t < _SITE_INTERVAL]
    if len(recent) >= _MAX_REPORTS:
        return
    recent.append(now)
    sent[site] = now
    ms = (now - w.since) * 1000
    still = " (still blocked)" if ongoing else ""
    log.warning("goroutine %d blocked the scheduler for %.0f ms in %s%s\n%s",
                gid, ms, summary, still, "".join(stack).rstrip("\n"))


def _describe(frame: Any) -> tuple[tuple, str]:
    """The call site of the innermost frame and a one-line summary of it:
    ``handler.py:40 (time.sleep)``, plus ``, called from app.py:12`` when the
    innermost frame is in the standard library or an installed package."""
    code = frame.f_code
    site = (code.co_filename, frame.f_lineno)
    text = f"{os.path.basename(code.co_filename)}:{frame.f_lineno}"
    name = _call_name(frame)
    if name:
        text += f" ({name})"
    if _is_library(code.co_filename):
        f = frame.f_back
        while f is not None and _is_library(f.f_code.co_filename):
            f = f.f_back
        if f is not None:
            text += f", called from {os.path.basename(f.f_code.co_filename)}:{f.f_lineno}"
            site = (f.f_code.co_filename, f.f_lineno)
    return site, text


_LIB_DIRS = tuple({os.path.dirname(os.__file__), os.path.dirname(os.path.dirname(__file__))})


def _is_library(filename: str) -> bool:
    return (filename.startswith(_LIB_DIRS) or "site-packages" in filename
            or filename.startswith("<"))


def _call_name(frame: Any) -> str:
    """The called expression when the frame is inside a call (``time.sleep``), else ''."""
    try:
        positions = list(frame.f_code.co_positions())[frame.f_lasti // 2]
    except (AttributeError, IndexError):  # Python 3.10 has no positions
        return ""
    line, end_line, col, end_col = positions
    if line is None or line != end_line or col is None or end_col is None:
        return ""
    segment = linecache.getline(frame.f_code.co_filename, line)[col:end_col]
    if not segment.endswith(")") or "(" not in segment:
        return ""
    return segment[:segment.index("(")].strip()


def _after_fork() -> None:
    # The watchdog thread did not survive the fork; a child that wants one
    # calls start() / watchdog() again (gonet serve's workers do).
    _state["gen"] += 1
    _state["thread"] = None
    _state["threshold"] = 0.0
    _state["watchdog"] = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)
