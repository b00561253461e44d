"""Benchmark subject (scenario 4): gonet goroutines: spawn+finish rate, RSS of parked goroutines.

Needs only the runtime. Spawns goroutines that return at once in batches of
1,000 (the main goroutine yields after each batch, and the FIFO run queue runs
the whole batch before it), then parks ``--parked`` goroutines at once, each
waiting with no timer, as on a channel, and reads the RSS growth.
"""

import gc
import time

from _common import emit, program_args, rss_bytes, unavailable

try:
    import gonet
    from gonet.runtime.sched import get_sched
except ImportError as e:
    unavailable(f"gonet runtime not importable ({e})")

BATCH = 1000


def main() -> None:
    a = program_args()
    sched = get_sched()
    finished = 0

    def noop() -> None:
        nonlocal finished
        finished += 1

    go = gonet.go
    for _ in range(BATCH):  # warm up
        go(noop)
    gonet.sleep(0)
    finished = 0
    t0 = time.perf_counter()
    for _ in range(a.spawn // BATCH):
        for _ in range(BATCH):
            go(noop)
        gonet.sleep(0)
    spawn_secs = time.perf_counter() - t0
    assert finished == a.spawn // BATCH * BATCH, (finished, a.spawn)

    parked: list = []

    def waiter() -> None:
        parked.append(sched.current)
        sched.park("bench: parked")

    gc.collect()
    rss0 = rss_bytes()
    handles = [go(waiter) for _ in range(a.parked)]
    gonet.sleep(0)  # let every one of them run up to its park
    assert len(parked) == a.parked
    rss1 = rss_bytes()
    for g in parked:
        sched.ready(g)
    for h in handles:
        h.join()
    emit({
        "spawn_rate": finished / spawn_secs,
        "parked": a.parked,
        "rss_parked_mb": (rss1 - rss0) / 2**20,
        "rss_per_task_bytes": (rss1 - rss0) / a.parked,
    })


main()
