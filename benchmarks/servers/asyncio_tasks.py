"""Benchmark peer (scenario 4): asyncio tasks: spawn+finish rate, RSS of parked tasks."""

import asyncio
import gc
import time

from _common import emit, program_args, rss_bytes

BATCH = 1000


async def main() -> None:
    a = program_args()
    finished = 0

    async def noop() -> None:
        nonlocal finished
        finished += 1

    create = asyncio.get_running_loop().create_task
    await asyncio.gather(*[create(noop()) for _ in range(BATCH)])
    finished = 0
    keep = []
    t0 = time.perf_counter()
    for _ in range(a.spawn // BATCH):
        keep = [create(noop()) for _ in range(BATCH)]
        await asyncio.sleep(0)
    while finished < a.spawn // BATCH * BATCH:
        await asyncio.sleep(0)
    spawn_secs = time.perf_counter() - t0
    del keep

    gate = asyncio.Event()
    gc.collect()
    rss0 = rss_bytes()
    handles = [create(gate.wait()) for _ in range(a.parked)]
    await asyncio.sleep(0)
    rss1 = rss_bytes()
    gate.set()
    await asyncio.gather(*handles)
    emit({
        "spawn_rate": finished / spawn_secs,
        "parked": a.parked,
        "rss_parked_mb": (rss1 - rss0) / 2**20,
        "rss_per_task_bytes": (rss1 - rss0) / a.parked,
    })


asyncio.run(main())
