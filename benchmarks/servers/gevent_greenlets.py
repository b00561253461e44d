"""Benchmark peer (scenario 4): gevent greenlets: spawn+finish rate, RSS of parked greenlets."""

import gc
import time

from _common import emit, program_args, rss_bytes, unavailable

try:
    import gevent
    from gevent.event import Event
except ImportError as e:
    unavailable(f"gevent not installed ({e})")

BATCH = 1000


def main() -> None:
    a = program_args()
    finished = 0

    def noop() -> None:
        nonlocal finished
        finished += 1

    spawn = gevent.spawn
    gevent.joinall([spawn(noop) for _ in range(BATCH)])
    finished = 0
    t0 = time.perf_counter()
    for _ in range(a.spawn // BATCH):
        for _ in range(BATCH):
            spawn(noop)
        gevent.sleep(0)
    while finished < a.spawn // BATCH * BATCH:
        gevent.sleep(0)
    spawn_secs = time.perf_counter() - t0

    gate = Event()
    gc.collect()
    rss0 = rss_bytes()
    handles = [spawn(gate.wait) for _ in range(a.parked)]
    gevent.sleep(0)
    rss1 = rss_bytes()
    gate.set()
    gevent.joinall(handles)
    emit({
        "spawn_rate": finished / spawn_secs,
        "parked": a.parked,
        "rss_parked_mb": (rss1 - rss0) / 2**20,
        "rss_per_task_bytes": (rss1 - rss0) / a.parked,
    })


main()
