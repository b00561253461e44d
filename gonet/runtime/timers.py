"""Runtime layer: the scheduler's timer heap.

A timer is a list ``[when, tid, fn, a, b]`` kept in a binary heap ordered by
``when`` then ``tid`` (a unique, increasing id, so two entries never compare
their callables). Firing a timer calls ``fn(a, b)`` on the scheduler's own
greenlet; such a callback may ready goroutines or arm timers but must never
park.

Cancellation is lazy: ``cancel`` blanks the entry's callable and the entry is
dropped when it reaches the top of the heap. So that a server which resets a
deadline on every request cannot fill the heap with dead entries, the heap is
rebuilt without them once they are more than half of it.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from typing import Any

# Indexes into a timer entry.
WHEN, TID, FN, A, B = range(5)

_COMPACT_MIN = 256


class TimerHeap:
    """A heap of timer entries with lazy deletion."""

    __slots__ = ("heap", "_tid", "_dead")

    def __init__(self) -> None:
        self.heap: list[list[Any]] = []
        self._tid = 0
        self._dead = 0  # cancelled entries still in the heap

    def __len__(self) -> int:
        return len(self.heap) - self._dead

    def add(self, when: float, fn: Callable[[Any, Any], None], a: Any = None, b: Any = None) -> list:
        """Arm a timer that calls ``fn(a, b)`` at monotonic time ``when``."""
        self._tid += 1
        entry = [when, self._tid, fn, a, b]
        heapq.heappush(self.heap, entry)
        return entry

    def cancel(self, entry: list) -> bool:
        """Stop ``entry`` from firing. Returns False if it already fired or was cancelled."""
        if entry[FN] is None:
            return False
        entry[FN] = None
        entry[A] = entry[B] = None
        self._dead += 1
        heap = self.heap
        if self._dead > _COMPACT_MIN and self._dead * 2 > len(heap):
            heap[:] = [e for e in heap if e[FN] is not None]  # in place: run_due holds it
            heapq.heapify(heap)
            self._dead = 0
        return True

    def next_when(self) -> float | None:
        """When the earliest live timer is due, or None if there is none."""
        heap = self.heap
        while heap:
            top = heap[0]
            if top[FN] is not None:
                return top[WHEN]
            heapq.heappop(heap)
            self._dead -= 1
        return None

    def run_due(self, now: float) -> int:
        """Fire every timer due at ``now``; returns how many fired."""
        heap = self.heap
        pop = heapq.heappop
        fired = 0
        while heap and heap[0][WHEN] <= now:
            entry = pop(heap)
            fn = entry[FN]
            if fn is None:
                self._dead -= 1
                continue
            entry[FN] = None  # fired: a later cancel() is a no-op
            fn(entry[A], entry[B])
            fired += 1
        return fired
