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

__all__ = ["start", "stop", "running", "threshold", "start_from_env"]

log = logging.getLogger("gonet.sysmon")

_SITE_INTERVAL = 60.0  # a call site is reported at most once in this many seconds
_MAX_REPORTS = 10  # reports in any _SITE_INTERVAL, all sites together

_lock = _thread.allocate_lock()
_state: dict[str, Any] = {"threshold": 0.0, "gen": 0, "thread": None}
_monotonic = time.monotonic


def running() -> bool:
    """Is the watchdog running?"""
    return _state["thread"] is not None


def threshold() -> float:
    """The current threshold in seconds (0 when stopped)."""
    return _state["threshold"] if running() else 0.0


def start(threshold: float = 0.1) -> None:
    """Start the watchdog (or change its threshold): report any scheduler
    thread that does not switch goroutines for ``threshold`` seconds."""
    if threshold <= 0:
        stop()
        return
    with _lock:
        _state["threshold"] = float(threshold)
        if _state["thread"] is None:
            _state["gen"] += 1
            _state["thread"] = _thread.start_new_thread(_watch, (_state["gen"],))


def stop() -> None:
    """Stop the watchdog (it ends at its next wake-up)."""
    with _lock:
        _state["gen"] += 1
        _state["thread"] = None


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

    __slots__ = ("key", "since", "frame_info", "reported")

    def __init__(self, key: tuple) -> None:
        self.key = key
        self.since = _monotonic()
        self.frame_info: tuple | None = None  # (goroutine id, site, summary, stack) once stalled
        self.reported = False


def _watch(gen: int) -> None:
    watched: dict[int, _Watch] = {}
    sent: dict[tuple, float] = {}  # call site -> when last reported
    recent: list[float] = []
    while _state["gen"] == gen:
        limit = _state["threshold"]
        time.sleep(max(limit / 4, 0.005))
        now = _monotonic()
        seen = set()
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
                watched[sid] = _Watch(key)
                continue
            stalled_for = now - w.since
            if stalled_for < limit:
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
    # calls start() again (gonet serve's workers do).
    _state["gen"] += 1
    _state["thread"] = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)
