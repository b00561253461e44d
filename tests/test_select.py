"""select: random choice among ready cases, default, timeout, closed channels, no leftovers."""

import time

import pytest

import gonet
from gonet.chan import Chan, ChanClosedError, select


def test_fairness_among_ready_cases():
    chans = [Chan(1) for _ in range(3)]
    counts = [0, 0, 0]
    n = 10_000
    for ch in chans:
        ch.send(None)
    for _ in range(n):
        i, _, ok = select(*(ch.recv_case() for ch in chans))
        assert ok
        counts[i] += 1
        chans[i].send(None)  # keep every case ready
    # Binomial(10000, 1/3): sd ~ 47; allow ~8.5 sd each way.
    for c in counts:
        assert 2933 < c < 3733, counts
    assert sum(counts) == n


def test_fairness_with_unready_case_in_between():
    # A start-at-random-offset scan would favour the case after the gap.
    a, never, b = Chan(1), Chan(), Chan(1)
    a.send(0)
    b.send(0)
    counts = {0: 0, 2: 0}
    for _ in range(4000):
        i, _, _ = select(a.recv_case(), never.recv_case(), b.recv_case())
        counts[i] += 1
        (a if i == 0 else b).send(0)
    assert 1700 < counts[0] < 2300, counts


def test_default_when_nothing_ready():
    ch = Chan()
    full = Chan(1)
    full.send(1)
    t0 = time.monotonic()
    assert select(ch.recv_case(), full.send_case(2), default=True) == (-1, None, False)
    assert time.monotonic() - t0 < 0.5
    assert len(full) == 1 and full.recv() == 1
    assert not ch._recvq and not full._sendq  # default left nothing queued


def test_default_not_taken_when_a_case_is_ready():
    ch = Chan(1)
    ch.send("x")
    assert select(ch.recv_case(), default=True) == (0, "x", True)
    assert select(ch.send_case("y"), default=True) == (0, None, True)
    assert ch.recv() == "y"


def test_timeout():
    ch = Chan()
    t0 = time.monotonic()
    assert select(ch.recv_case(), timeout=0.2) == (-1, None, False)
    dt = time.monotonic() - t0
    assert 0.15 <= dt <= 1.5, dt
    assert not ch._recvq


def test_value_arrives_before_timeout():
    ch = Chan()

    def later():
        gonet.sleep(0.05)
        ch.send(42)

    gonet.go(later)
    t0 = time.monotonic()
    assert select(ch.recv_case(), timeout=5) == (0, 42, True)
    assert time.monotonic() - t0 < 2.5


def test_closed_channel_in_select():
    open_ch, closed = Chan(), Chan()
    closed.close()
    assert select(open_ch.recv_case(), closed.recv_case()) == (1, None, False)
    with pytest.raises(ChanClosedError, match="send on closed channel"):
        select(closed.send_case(1))


def test_close_wakes_blocked_select():
    a, b = Chan(), Chan()
    g = gonet.go(select, a.recv_case(), b.recv_case())
    gonet.sleep(0)
    b.close()
    assert g.join() == (1, None, False)
    assert not a._recvq and not b._recvq


def test_blocked_select_send_is_taken_by_receiver():
    a, b = Chan(), Chan()
    g = gonet.go(select, a.send_case("to-a"), b.send_case("to-b"))
    gonet.sleep(0)
    assert b.recv() == "to-b"
    assert g.join() == (1, None, True)
    assert not a._sendq  # the losing send case left no waiter
    assert select(a.recv_case(), default=True) == (-1, None, False)


def test_losing_cases_leave_no_trace_in_a_loop():
    work, done = Chan(), Chan()

    def producer():
        for i in range(500):
            work.send(i)
        done.close()

    gonet.go(producer)
    got = []
    while True:
        i, v, ok = select(work.recv_case(), done.recv_case())
        if i == 1:
            break
        got.append(v)
        assert len(done._recvq) <= 1  # at most this goroutine's live waiter, never a pile
    assert got == list(range(500))
    assert not work._recvq and not done._recvq


def test_two_selects_meet():
    ch = Chan()
    g = gonet.go(select, ch.send_case("hi"), timeout=5)
    gonet.sleep(0)
    assert select(ch.recv_case(), timeout=5) == (0, "hi", True)
    assert g.join() == (0, None, True)


def test_none_case_is_never_ready():
    ch = Chan(1)
    ch.send(7)
    assert select(None, ch.recv_case()) == (1, 7, True)
    assert select(None, default=True) == (-1, None, False)
    assert select(None, timeout=0.01) == (-1, None, False)


def test_bad_case_type():
    ch = Chan()
    with pytest.raises(TypeError, match="recv_case"):
        select(ch)


def test_select_exactly_one_case_fires():
    # Two senders race for a select parked on two channels: exactly one value is taken,
    # the other sender stays parked until someone else receives.
    a, b = Chan(), Chan()
    g = gonet.go(select, a.recv_case(), b.recv_case())
    gonet.sleep(0)
    ga = gonet.go(a.send, "A")
    gb = gonet.go(b.send, "B")
    i, v, ok = g.join()
    assert ok and v == "AB"[i]
    other = b if i == 0 else a
    assert other.recv() == "BA"[i]
    ga.join()
    gb.join()
