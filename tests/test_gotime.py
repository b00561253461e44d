"""gonet.time (gotime): after, Timer stop/reset, Ticker, after_func."""

import time

import pytest

import gonet
from gonet import gotime
from gonet.chan import Chan, select


def test_after_fires_once_with_the_time():
    t0 = time.monotonic()
    c = gotime.after(0.2)
    fired_at = c.recv()
    dt = time.monotonic() - t0
    assert 0.15 <= dt <= 1.5, dt
    assert t0 + 0.15 <= fired_at <= time.monotonic()
    assert select(c.recv_case(), default=True)[0] == -1  # only once


def test_after_in_select_as_timeout():
    work = Chan()
    t0 = time.monotonic()
    i, _, _ = select(work.recv_case(), gotime.after(0.1).recv_case())
    assert i == 1
    assert 0.05 <= time.monotonic() - t0 <= 1.5


def test_timer_stop_prevents_firing():
    t = gotime.Timer(0.05)
    assert t.stop() is True
    assert t.stop() is False
    assert select(t.c.recv_case(), timeout=0.2) == (-1, None, False)


def test_timer_reset():
    t = gotime.Timer(10)
    t0 = time.monotonic()
    assert t.reset(0.1) is True
    t.c.recv()
    assert 0.05 <= time.monotonic() - t0 <= 1.5
    assert t.reset(0.05) is False  # had fired
    t.c.recv()


def test_timer_stop_after_fire_drains_stale_value():
    t = gotime.Timer(0)
    while len(t.c) == 0:  # the hub fires it into the buffer on its next round
        gonet.sleep(0)
    assert len(t.c) == 1
    assert t.stop() is False
    assert len(t.c) == 0  # Go 1.23: no stale value after stop


def test_after_func_runs_in_goroutine():
    done = Chan(1)
    gotime.after_func(0.05, done.send, "ran")
    assert done.recv() == "ran"
    t = gotime.after_func(0.05, done.send, "never")
    assert t.stop()
    assert select(done.recv_case(), timeout=0.15) == (-1, None, False)
    with pytest.raises(TypeError, match="callable"):
        gotime.after_func(1, "nope")


def test_ticker_ticks_and_stops():
    tk = gotime.Ticker(0.05)
    t0 = time.monotonic()
    stamps = [tk.c.recv() for _ in range(4)]
    elapsed = time.monotonic() - t0
    assert 0.15 <= elapsed <= 2.0, elapsed
    assert stamps == sorted(stamps)
    tk.stop()
    assert select(tk.c.recv_case(), timeout=0.15) == (-1, None, False)


def test_ticker_drops_ticks_for_slow_reader():
    tk = gotime.Ticker(0.02)
    gonet.sleep(0.2)  # ~10 periods pass while nobody reads
    assert len(tk.c) == 1  # buffered one, dropped the rest
    tk.reset(0.05)
    assert len(tk.c) == 0
    tk.c.recv()
    tk.stop()


def test_bad_durations():
    with pytest.raises(ValueError, match="period must be > 0"):
        gotime.Ticker(0)
    with pytest.raises(TypeError, match="duration"):
        gotime.Timer("1s")
