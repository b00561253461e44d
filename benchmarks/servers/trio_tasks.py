"""Benchmark peer (scenario 4): trio tasks: spawn+finish rate, RSS of parked tasks."""

import gc
import time

from _common import emit, program_args, rss_bytes, unavailable

try:
    import trio
except ImportError as e:
    unavailable(f"trio not installed ({e})")

BATCH = 1000


async def main() -> None:
    a = program_args()
    finished = 0

    async def noop() -> None:
        nonlocal finished
        finished += 1

    t0 = time.perf_counter()
    for _ in range(a.spawn // BATCH):
        async with trio.open_nursery() as nursery:
            for _ in range(BATCH):
                nursery.start_soon(noop)
    spawn_secs = time.perf_counter() - t0

    gate = trio.Event()
    rss1 = 0
    gc.collect()
    rss0 = rss_bytes()
    async with trio.open_nursery() as nursery:
        for _ in range(a.parked):
            nursery.start_soon(gate.wait)
        await trio.testing.wait_all_tasks_blocked()
        rss1 = rss_bytes()
        gate.set()
    emit({
        "spawn_rate": finished / spawn_secs,
        "parked": a.parked,
        "rss_parked_mb": (rss1 - rss0) / 2**20,
        "rss_per_task_bytes": (rss1 - rss0) / a.parked,
    })


import trio.testing  # noqa: E402

trio.run(main)
