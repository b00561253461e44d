"""Net and runtime layers: deadlines at the edges (cases of Go's net/timeout_test.go).

A deadline may be any distance ahead: Go's tests use a timeout of 1<<63-1 ns.
Here the kernel's wait takes at most 2**31-1 ms, so the scheduler must clamp
its poll delay, never let the overflow escape into its loop.
"""

from __future__ import annotations

import math
import time

import pytest

import gonet

# About 292 years: Go's maximal time.Duration, in seconds.
MAX_DURATION = (1 << 63) - 1
FAR = [
    pytest.param(30 * 86400.0, id="30-days"),  # past epoll's 24.8-day limit
    pytest.param(1e12, id="1e12-s"),
    pytest.param(MAX_DURATION / 1e9, id="max-duration"),
    pytest.param(math.inf, id="inf"),
]


def _pair():
    ln = gonet.listen("tcp", "127.0.0.1:0")
    box = []
    g = gonet.go(lambda: box.append(ln.accept()))
    c = gonet.dial("tcp", str(ln.addr))
    g.join()
    return ln, c, box[0]


@pytest.mark.parametrize("ahead", FAR)
def test_a_far_read_deadline_waits_for_data(run, ahead):
    def body():
        ln, c, peer = _pair()
        c.set_read_deadline(time.monotonic() + ahead)

        def later():
            gonet.sleep(0.2)
            peer.write(b"late")

        gonet.go(later)
        t0 = time.monotonic()
        assert c.read(10) == b"late"
        dt = time.monotonic() - t0
        for x in (c, peer, ln):
            x.close()
        return dt

    assert 0.15 <= run(body, timeout=20) < 5.0


@pytest.mark.parametrize("ahead", FAR)
def test_a_far_deadline_then_a_near_one_times_out(run, ahead):
    # TestAcceptTimeoutMustReturn: a far deadline replaced by a near one.
    def body():
        ln = gonet.listen("tcp", "127.0.0.1:0")
        ln.set_deadline(time.monotonic() + ahead)
        gonet.sleep(0.01)  # the scheduler polls with the far timer armed
        ln.set_deadline(time.monotonic() + 0.05)
        t0 = time.monotonic()
        with pytest.raises(gonet.DeadlineExceededError):
            ln.accept()
        ln.close()
        return time.monotonic() - t0

    assert run(body, timeout=20) < 5.0


def test_dial_with_the_largest_timeout(run):
    # TestDialTimeoutMaxDuration
    def body():
        ln = gonet.listen("tcp", "127.0.0.1:0")
        c = gonet.dial("tcp", str(ln.addr), timeout=MAX_DURATION / 1e9)
        c.close()
        ln.close()

    run(body, timeout=20)


def test_a_sleep_and_a_join_far_ahead_leave_the_loop_working(run):
    def body():
        sleeper = gonet.go(gonet.sleep, 1e12)
        worker = gonet.go(lambda: (gonet.sleep(0.05), 42)[1])
        assert worker.join(timeout=1e12) == 42
        assert not sleeper.done()
        return True

    assert run(body, timeout=20)


def test_read_after_a_cleared_past_deadline_must_not_return(run):
    # TestReadTimeoutMustNotReturn: past deadline, then cleared: the read
    # parks; closing the conn ends it with a non-timeout error.
    def body():
        ln, c, peer = _pair()
        c.set_deadline(time.monotonic() - 5)
        c.set_write_deadline(time.monotonic() - 5)
        c.set_read_deadline(None)
        box = []

        def reader():
            try:
                c.read(1)
            except Exception as e:  # noqa: BLE001 - inspected below
                box.append(e)

        g = gonet.go(reader)
        gonet.sleep(0.1)
        assert not g.done(), f"read returned early: {box}"
        c.close()
        g.join()
        assert box and not isinstance(box[0], TimeoutError)
        assert isinstance(box[0], gonet.ClosedError)
        peer.close()
        ln.close()

    run(body)


def test_write_after_a_cleared_past_deadline_must_not_return(run):
    # TestWriteTimeoutMustNotReturn: the peer never reads; writes fill the
    # buffers and park; close ends them with a non-timeout error.
    def body():
        ln, c, peer = _pair()
        c.set_deadline(time.monotonic() - 5)
        c.set_read_deadline(time.monotonic() - 5)
        c.set_write_deadline(None)
        box = []

        def writer():
            try:
                while True:
                    c.write(b"x" * 65536)
            except Exception as e:  # noqa: BLE001 - inspected below
                box.append(e)

        g = gonet.go(writer)
        gonet.sleep(0.1)
        assert not g.done(), f"write returned early: {box}"
        c.close()
        g.join()
        assert box and not isinstance(box[0], TimeoutError)
        peer.close()
        ln.close()

    run(body)


def test_accept_after_a_cleared_past_deadline_must_not_return(run):
    # TestAcceptTimeoutMustNotReturn
    def body():
        ln = gonet.listen("tcp", "127.0.0.1:0")
        ln.set_deadline(time.monotonic() - 5)
        ln.set_deadline(None)
        box = []

        def acceptor():
            try:
                ln.accept()
            except Exception as e:  # noqa: BLE001 - inspected below
                box.append(e)

        g = gonet.go(acceptor)
        gonet.sleep(0.1)
        assert not g.done()
        ln.close()
        g.join()
        assert box and not isinstance(box[0], TimeoutError)

    run(body)


def test_a_past_read_deadline_fails_even_with_data_ready_then_a_short_one_times_out(run):
    # TestReadTimeout: {-5 s: timeout, timeout}, {50 ms: data, then timeout}
    def body():
        ln, c, peer = _pair()
        peer.write(b"READ TIMEOUT TEST")
        gonet.sleep(0.02)
        c.set_read_deadline(time.monotonic() - 5)
        for _ in range(2):
            with pytest.raises(gonet.DeadlineExceededError):
                c.read(1)
        c.set_read_deadline(time.monotonic() + 0.05)
        got = b""
        with pytest.raises(gonet.DeadlineExceededError):
            while True:
                got += c.read(1)
        assert got == b"READ TIMEOUT TEST"
        with pytest.raises(gonet.DeadlineExceededError):
            c.read(1)
        for x in (c, peer, ln):
            x.close()

    run(body)
