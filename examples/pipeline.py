"""A producer / worker pool / collector pipeline on gonet channels.

    python examples/pipeline.py [N] [WORKERS]

The producer feeds numbers into a buffered channel; a pool of workers squares
them (pretending each takes a little I/O time) and sends results on; a
WaitGroup closes the results channel when the last worker has finished, which
ends the collector's loop. A context cancels the pipeline early if it runs
past its deadline.
"""

from __future__ import annotations

import sys
import time

import gonet
from gonet import context
from gonet.chan import Chan, select
from gonet.sync import WaitGroup


def producer(ctx: context.Context, n: int, out: Chan) -> None:
    try:
        for i in range(n):
            idx, _, _ = select(out.send_case(i), ctx.done().recv_case())
            if idx == 1:
                return  # cancelled: stop producing
    finally:
        out.close()


def worker(ctx: context.Context, jobs: Chan, results: Chan) -> None:
    for x in jobs:  # until the producer closes jobs
        gonet.sleep(0.001)  # stands in for a network call
        idx, _, _ = select(results.send_case((x, x * x)), ctx.done().recv_case())
        if idx == 1:
            return


def main(n: int = 1000, workers: int = 50) -> None:
    ctx, cancel = context.with_timeout(context.background(), 10.0)
    jobs, results = Chan(workers), Chan(workers)
    gonet.go(producer, ctx, n, jobs)
    wg = WaitGroup()
    for _ in range(workers):
        wg.go(worker, ctx, jobs, results)
    gonet.go(lambda: (wg.wait(), results.close()))

    t0 = time.monotonic()
    total = count = 0
    for _x, sq in results:
        total += sq
        count += 1
    cancel()
    dt = time.monotonic() - t0
    print(f"{count} results from {workers} workers in {dt:.3f} s; "
          f"sum of squares = {total} (expected {sum(i * i for i in range(n))})")
    if ctx.err() is not None and count < n:
        print(f"stopped early: {ctx.err()}")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
