"""gonet.runtime: goroutines, the per-thread scheduler, timers, the thread hand-off.

Modules: ``sched`` (goroutines, park/ready, the loop), ``timers`` (the timer
heap), ``threadpool`` (``blocking``), ``debug`` (counts and dumps).
"""

from gonet.runtime.debug import dump_goroutines, num_goroutine
from gonet.runtime.sched import (
    TIMEOUT,
    DeadlockError,
    Goroutine,
    Scheduler,
    current,
    get_sched,
    go,
    go_named,
    init_thread,
    sleep,
)
from gonet.runtime.threadpool import blocking

__all__ = [
    "TIMEOUT",
    "DeadlockError",
    "Goroutine",
    "Scheduler",
    "blocking",
    "current",
    "dump_goroutines",
    "get_sched",
    "go",
    "go_named",
    "init_thread",
    "num_goroutine",
    "sleep",
]
