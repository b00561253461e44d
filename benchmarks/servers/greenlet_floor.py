"""Benchmark reference (scenario 4): bare greenlets, no scheduler: the floor under gonet's figures.

Spawn+finish = create a greenlet and switch into a function that returns.
Parked = a greenlet that switched back to its parent mid-function and waits
to be switched into again: the memory a parked goroutine cannot go below.
"""

import gc
import time

from _common import emit, program_args, rss_bytes, unavailable

try:
    from greenlet import getcurrent, greenlet
except ImportError as e:
    unavailable(f"greenlet not installed ({e})")


def main() -> None:
    a = program_args()
    finished = 0

    def noop() -> None:
        nonlocal finished
        finished += 1

    t0 = time.perf_counter()
    for _ in range(a.spawn):
        greenlet(noop).switch()
    spawn_secs = time.perf_counter() - t0

    me = getcurrent()
    gc.collect()
    rss0 = rss_bytes()
    def wait() -> None:  # a Python frame, as every parked goroutine has
        me.switch()

    parked = [greenlet(wait) for _ in range(a.parked)]
    for g in parked:
        g.switch()  # parks it inside wait()
    rss1 = rss_bytes()
    for g in parked:
        g.switch()
    assert not any(parked)  # every one ran to the end
    emit({
        "spawn_rate": finished / spawn_secs,
        "parked": a.parked,
        "rss_parked_mb": (rss1 - rss0) / 2**20,
        "rss_per_task_bytes": (rss1 - rss0) / a.parked,
    })


main()
