"""Runtime layer: introspection (Go's runtime.NumGoroutine, the goroutine dump, SIGQUIT).

``dump_goroutines`` writes every goroutine of every scheduler with its state,
wait reason and stack; ``goroutines`` and ``scheduler_stats`` give the same
as data (the HTTP debug handler serves them).

SIGQUIT (Ctrl+\\) in a program that uses gonet does what it does in Go: the
dump goes to stderr, headed ``SIGQUIT: quit``, and the process exits with
status 2. It is installed with the main thread's scheduler, and only while
SIGQUIT has its default disposition: a program (or ``gonet serve``, or
``gonet.signal.notify``) that handles SIGQUIT itself keeps its own meaning.
The handler reads the schedulers' state and exits; it never parks.
"""

from __future__ import annotations

import os
import signal
import sys
import traceback
from typing import Any, TextIO

from gonet.runtime.netpoll import READY
from gonet.runtime.sched import RUNNING, STATE_NAMES, WAITING, all_schedulers, thread_state

__all__ = ["num_goroutine", "dump_goroutines", "goroutines", "scheduler_stats",
           "install_sigquit_dump"]


def num_goroutine() -> int:
    """Live goroutines across every scheduler (each thread's main goroutine included)."""
    return sum(len(s.all) for s in all_schedulers())


def _here() -> Any:
    """The goroutine running on this thread, without creating a scheduler."""
    sched = getattr(thread_state, "sched", None)
    return sched.current if sched is not None else None


def _frame_of(g: Any, me: Any, sched: Any, depth: int) -> Any:
    if g is me:
        return sys._getframe(depth + 1)
    if g.state == RUNNING:  # running on its own thread (the dump comes from another)
        return sys._current_frames().get(sched.thread.ident)
    return g.glet.gr_frame if g.glet is not None else None


def dump_goroutines(file: TextIO | None = None) -> None:
    """Write every live goroutine with its state, wait reason and stack, as Go's dump does."""
    out = file if file is not None else sys.stderr
    me = _here()
    for sched in all_schedulers():
        st = sched.stats
        print(f"scheduler {sched.thread.name} (poller {sched.netpoll.name}, "
              f"{len(sched.all)} goroutines; {st['switches']} switches, {st['polls']} polls, "
              f"{st['timers_fired']} timers fired):", file=out)
        for g in list(sched.all.values()):
            state = STATE_NAMES[g.state]
            if g.state == WAITING:
                state = g.wait_reason or "waiting"
            print(f"\ngoroutine {g.id} [{state}]: {g.name}", file=out)
            frame = _frame_of(g, me, sched, 1)
            if frame is not None:
                for line in traceback.format_stack(frame):
                    out.write(line)
            elif g.state != RUNNING:
                print("  (not started)", file=out)
        print(file=out)


def goroutines() -> list[dict]:
    """Every live goroutine as data: scheduler (its thread's name), id, name,
    state (the wait reason of a parked one) and stack (formatted lines)."""
    me = _here()
    out = []
    for sched in all_schedulers():
        for g in list(sched.all.values()):
            state = STATE_NAMES[g.state]
            if g.state == WAITING:
                state = g.wait_reason or "waiting"
            frame = _frame_of(g, me, sched, 1)
            out.append({"scheduler": sched.thread.name, "id": g.id, "name": g.name,
                        "state": state,
                        "stack": traceback.format_stack(frame) if frame is not None else []})
    return out


def scheduler_stats() -> list[dict]:
    """Each scheduler's counters: thread, poller backend, goroutines, run
    queue, timers, switches, polls, timers fired, the poller's registered fds
    and the goroutines parked on them."""
    out = []
    for sched in all_schedulers():
        st = dict(sched.stats)
        pds = list(sched.netpoll.fds.values())
        st.update(thread=sched.thread.name, poller=sched.netpoll.name,
                  goroutines=len(sched.all), runq=len(sched.runq),
                  timers=len(sched.timers.heap), poller_fds=len(pds),
                  io_waiters=sum((pd.rg is not None and pd.rg is not READY)
                                 + (pd.wg is not None and pd.wg is not READY) for pd in pds),
                  external_waiters=sched.external_waiters)
        out.append(st)
    return out


def _on_sigquit(signum: int, frame: Any) -> None:
    try:
        sys.stderr.write("SIGQUIT: quit\n\n")
        dump_goroutines(sys.stderr)
        sys.stderr.flush()
    finally:
        os._exit(2)


def install_sigquit_dump() -> bool:
    """Make SIGQUIT dump every goroutine and exit 2 (Go's behaviour), if
    SIGQUIT still has its default disposition and this is the main thread.
    Returns whether it did."""
    if not hasattr(signal, "SIGQUIT"):
        return False
    try:
        if signal.getsignal(signal.SIGQUIT) != signal.SIG_DFL:
            return False
        signal.signal(signal.SIGQUIT, _on_sigquit)
    except ValueError:  # not the main thread
        return False
    return True
