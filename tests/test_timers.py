"""Runtime layer: the timer heap (ordering, lazy cancellation, compaction)."""

from __future__ import annotations

import random

from gonet.runtime.timers import TimerHeap


def test_fires_in_time_order_and_only_when_due():
    h = TimerHeap()
    fired = []
    for when in (3.0, 1.0, 2.0, 1.0):
        h.add(when, lambda a, b: fired.append((a, b)), when, len(fired))
    assert h.run_due(0.5) == 0
    assert h.next_when() == 1.0
    assert h.run_due(2.0) == 3
    assert [a for a, _ in fired] == [1.0, 1.0, 2.0]
    assert len(h) == 1


def test_cancelled_timer_never_fires_and_cancel_is_idempotent():
    h = TimerHeap()
    fired = []
    t = h.add(1.0, lambda a, b: fired.append(a), "cancelled")
    h.add(2.0, lambda a, b: fired.append(a), "kept")
    assert h.cancel(t) is True
    assert h.cancel(t) is False
    assert h.next_when() == 2.0
    h.run_due(10.0)
    assert fired == ["kept"]


def test_cancel_after_fire_is_a_noop():
    h = TimerHeap()
    t = h.add(1.0, lambda a, b: None)
    h.run_due(1.0)
    assert h.cancel(t) is False
    assert len(h) == 0


def test_compaction_keeps_live_timers_and_order():
    h = TimerHeap()
    rng = random.Random(7)
    fired = []
    live = []
    for i in range(5000):
        when = rng.random() * 100
        t = h.add(when, lambda a, b: fired.append(a), when)
        if i % 5:
            h.cancel(t)  # 80 % cancelled: the heap must shrink as it goes
        else:
            live.append(when)
    assert len(h.heap) < 5000 * 0.6
    assert len(h) == len(live)
    h.run_due(1000.0)
    assert fired == sorted(live)


def test_cancel_from_inside_a_callback_during_run_due():
    h = TimerHeap()
    fired = []
    later = [h.add(5.0 + i, lambda a, b: fired.append(a), "late") for i in range(600)]

    def cancel_all(a, b):
        fired.append("first")
        for t in later:
            h.cancel(t)  # triggers compaction while run_due iterates

    h.add(1.0, cancel_all)
    h.add(2.0, lambda a, b: fired.append("second"))
    h.run_due(100.0)
    assert fired == ["first", "second"]
