"""Runtime layer: introspection (Go's runtime.NumGoroutine and the goroutine dump)."""

from __future__ import annotations

import sys
import traceback
from typing import TextIO

from gonet.runtime.sched import _STATE_NAMES, RUNNING, WAITING, all_schedulers, get_sched

__all__ = ["num_goroutine", "dump_goroutines"]


def num_goroutine() -> int:
    """Live goroutines across every scheduler (each thread's main goroutine included)."""
    return sum(len(s.all) for s in all_schedulers())


def dump_goroutines(file: TextIO | None = None) -> None:
    """Write every live goroutine with its state, wait reason and stack, as Go's dump does."""
    out = file if file is not None else sys.stderr
    me = get_sched().current
    for sched in all_schedulers():
        st = sched.stats
        print(f"scheduler {sched.thread.name} (poller {sched.netpoll.name}, "
              f"{len(sched.all)} goroutines; {st['switches']} switches, {st['polls']} polls, "
              f"{st['timers_fired']} timers fired):", file=out)
        for g in list(sched.all.values()):
            state = _STATE_NAMES[g.state]
            if g.state == WAITING:
                state = g.wait_reason or "waiting"
            print(f"\ngoroutine {g.id} [{state}]: {g.name}", file=out)
            if g is me or g.state == RUNNING:
                frame = sys._getframe(1) if g is me else None
            else:
                frame = g.glet.gr_frame if g.glet is not None else None
            if frame is not None:
                for line in traceback.format_stack(frame):
                    out.write(line)
            elif g.state != RUNNING:
                print("  (not started)", file=out)
        print(file=out)
