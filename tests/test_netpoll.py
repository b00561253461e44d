"""Poll-descriptor layer: Go's pollDesc semantics on real fds (socketpairs)."""

from __future__ import annotations

import socket
import time

import pytest

import gonet
from gonet.runtime.netpoll import POLL_ERR_CLOSING, POLL_ERR_TIMEOUT, POLL_OK, READY
from gonet.runtime.netpoll_base import available_backends, backend
from gonet.runtime.sched import WAITING, get_sched


def _pair():
    a, b = socket.socketpair()
    a.setblocking(False)
    b.setblocking(False)
    pd = get_sched().netpoll.open(b.fileno())
    return a, b, pd


def _close(a, b, pd):
    pd.evict()
    get_sched().netpoll.close(pd)
    a.close()
    b.close()


def _poll_once():
    """Let the scheduler run one poll cycle (sleep(0) polls when it comes round)."""
    gonet.sleep(0)
    gonet.sleep(0)


def test_backend_selection(monkeypatch):
    assert backend() in available_backends()
    monkeypatch.setenv("GONET_POLLER", "poll")
    assert backend() == "poll"
    monkeypatch.setenv("GONET_POLLER", "nonsense")
    with pytest.raises(ValueError, match="GONET_POLLER"):
        backend()


def test_scheduler_uses_requested_backend(run, backend):
    assert run(lambda: get_sched().netpoll.name) == backend


def test_event_before_wait_is_not_lost(run, backend):
    def body():
        a, b, pd = _pair()
        a.send(b"x")
        _poll_once()
        if backend != "poll":  # edge-triggered: the event is remembered as READY
            assert pd.rg is READY
        t0 = time.monotonic()
        assert pd.wait_read() == POLL_OK
        assert time.monotonic() - t0 < 0.5
        assert b.recv(10) == b"x"
        _close(a, b, pd)

    run(body)


def test_two_events_while_nobody_waits_wake_once(run, backend):
    def body():
        a, b, pd = _pair()
        a.send(b"1")
        _poll_once()
        a.send(b"2")
        _poll_once()
        assert pd.wait_read() == POLL_OK  # consumes the one READY
        assert b.recv(10) == b"12"
        # Nothing is pending now: the next wait parks until its deadline.
        pd.set_deadline(time.monotonic() + 0.1, 1)
        assert pd.wait_read() == POLL_ERR_TIMEOUT
        _close(a, b, pd)

    run(body)


def test_past_deadline_wakes_parked_waiter_at_once(run):
    def body():
        a, b, pd = _pair()
        res = {}

        def waiter():
            res["code"] = pd.wait_read()
            res["t"] = time.monotonic()

        g = gonet.go(waiter)
        gonet.sleep(0)
        assert g.state == WAITING
        t0 = time.monotonic()
        pd.set_deadline(t0 - 1, 1)
        g.join()
        assert res["code"] == POLL_ERR_TIMEOUT
        assert res["t"] - t0 < 0.2
        # Expired stays expired until moved.
        assert pd.wait_read() == POLL_ERR_TIMEOUT
        pd.set_deadline(None, 1)
        assert pd.check_read() == POLL_OK
        _close(a, b, pd)

    run(body)


def test_deadline_moved_later_while_parked_is_honoured(run):
    def body():
        a, b, pd = _pair()
        t0 = time.monotonic()
        pd.set_deadline(t0 + 0.1, 1)

        def mover():
            pd.set_deadline(t0 + 0.4, 1)

        gonet.go(mover)
        assert pd.wait_read() == POLL_ERR_TIMEOUT
        dt = time.monotonic() - t0
        _close(a, b, pd)
        return dt

    dt = run(body)
    assert 0.38 <= dt < 2.0


def test_deadline_moved_earlier_while_parked(run):
    def body():
        a, b, pd = _pair()
        t0 = time.monotonic()
        pd.set_deadline(t0 + 5, 1)
        gonet.go(lambda: pd.set_deadline(t0 + 0.1, 1))
        assert pd.wait_read() == POLL_ERR_TIMEOUT
        dt = time.monotonic() - t0
        _close(a, b, pd)
        return dt

    dt = run(body)
    assert 0.09 <= dt < 1.5


def test_cleared_deadline_leaves_waiter_parked(run):
    def body():
        a, b, pd = _pair()
        res = {}
        pd.set_deadline(time.monotonic() + 0.1, 1)

        def waiter():
            res["code"] = pd.wait_read()

        g = gonet.go(waiter)
        gonet.sleep(0)
        pd.set_deadline(None, 1)  # cleared while parked
        gonet.sleep(0.3)  # well past the old deadline
        still_parked = g.state == WAITING and "code" not in res
        a.send(b"wake")  # only data wakes it now
        g.join()
        _close(a, b, pd)
        return still_parked, res["code"]

    assert run(body) == (True, POLL_OK)


def test_stale_timer_does_nothing_after_reset(run):
    def body():
        a, b, pd = _pair()
        t0 = time.monotonic()
        pd.set_deadline(t0 + 0.25, 1)  # timer A
        pd.set_deadline(t0 + 0.05, 1)  # earlier: timer B replaces A (rseq bumped)
        assert pd.wait_read() == POLL_ERR_TIMEOUT
        pd.set_deadline(None, 1)
        res = {}

        def waiter():
            res["code"] = pd.wait_read()

        g = gonet.go(waiter)
        gonet.sleep(0.4)  # timer A's time passes: it must not wake the waiter
        parked = g.state == WAITING
        a.send(b"x")
        g.join()
        _close(a, b, pd)
        return parked, res["code"]

    assert run(body) == (True, POLL_OK)


def test_reused_polldesc_ignores_old_timer(run):
    def body():
        a, b, pd1 = _pair()
        pd1.set_deadline(time.monotonic() + 0.1, 1)
        _close(a, b, pd1)
        c, d, pd2 = _pair()
        assert pd2 is pd1  # taken from the free list
        assert pd2.rd == 0 and pd2.rg is None and not pd2.closing
        res = {}

        def waiter():
            res["code"] = pd2.wait_read()

        g = gonet.go(waiter)
        gonet.sleep(0.3)
        parked = g.state == WAITING
        c.send(b"x")
        g.join()
        _close(c, d, pd2)
        return parked, res["code"]

    assert run(body) == (True, POLL_OK)


def test_evict_wakes_both_waiters(run):
    def body():
        a, b, pd = _pair()
        # fill b's send buffer so a writer parks
        try:
            while True:
                b.send(b"x" * 65536)
        except BlockingIOError:
            pass
        res = {}
        gr = gonet.go(lambda: res.__setitem__("r", pd.wait_read()))
        gw = gonet.go(lambda: res.__setitem__("w", pd.wait_write()))
        gonet.sleep(0)
        assert gr.state == WAITING and gw.state == WAITING
        pd.evict()
        gr.join()
        gw.join()
        get_sched().netpoll.close(pd)
        a.close()
        b.close()
        return res

    assert run(body) == {"r": POLL_ERR_CLOSING, "w": POLL_ERR_CLOSING}


def test_second_waiter_on_one_direction_is_refused(run):
    def body():
        a, b, pd = _pair()
        g = gonet.go(pd.wait_read)
        gonet.sleep(0)
        with pytest.raises(RuntimeError, match="two goroutines"):
            pd.wait_read()
        a.send(b"x")
        g.join()
        _close(a, b, pd)

    run(body)


def test_peer_close_wakes_reader(run):
    def body():
        a, b, pd = _pair()
        g = gonet.go(pd.wait_read)
        gonet.sleep(0)
        a.close()  # HUP / RDHUP
        assert g.join() == POLL_OK
        assert b.recv(10) == b""
        pd.evict()
        get_sched().netpoll.close(pd)
        b.close()

    run(body)


def test_fd_used_from_another_thread_gets_clear_error(run):
    import threading

    def body():
        a, b, pd = _pair()
        errs = []

        def other():
            try:
                pd.wait_read()
            except RuntimeError as e:
                errs.append(str(e))

        t = threading.Thread(target=other)
        t.start()
        t.join()
        _close(a, b, pd)
        return errs

    errs = run(body)
    assert len(errs) == 1 and "belongs to the gonet scheduler of thread" in errs[0]
