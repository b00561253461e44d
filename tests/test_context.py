"""context: cancellation trees, deadlines and their timing, values, done() in select."""

import threading
import time

import pytest

import gonet
from gonet import context
from gonet.chan import Chan, select
from gonet.poll.errors import DeadlineExceededError
from gonet.runtime.sched import get_sched


def test_background():
    bg = context.background()
    assert bg is context.background()
    assert bg.err() is None and bg.deadline() is None and bg.value("k") is None
    assert select(bg.done().recv_case(), default=True)[0] == -1


def test_cancel_tree():
    root, cancel_root = context.with_cancel(context.background())
    a, cancel_a = context.with_cancel(root)
    a1, _ = context.with_cancel(context.with_value(a, "user", "ann"))  # through a value node
    b, _ = context.with_cancel(root)
    assert a1.value("user") == "ann"

    cancel_a()
    assert isinstance(a.err(), context.Canceled) and str(a.err()) == "context canceled"
    assert a1.err() is a.err()  # the child gets the parent's error
    assert a.done().closed and a1.done().closed
    assert root.err() is None and b.err() is None  # siblings and parents untouched
    assert a not in root._children  # a cancelled child leaves its parent
    cancel_a()  # idempotent

    cancel_root()
    assert isinstance(b.err(), context.Canceled)
    # A child created under a cancelled parent is born cancelled.
    c, _ = context.with_cancel(root)
    assert c.err() is root.err()
    assert c.done().recv_ok() == (None, False)


def test_done_wakes_parked_goroutines():
    ctx, cancel = context.with_cancel(context.background())
    woke = []

    def waiter(k):
        ctx.done().recv_ok()
        woke.append((k, type(ctx.err()).__name__))

    gs = [gonet.go(waiter, k) for k in range(3)]
    gonet.sleep(0)
    assert woke == []
    cancel()
    for g in gs:
        g.join()
    assert sorted(woke) == [(0, "Canceled"), (1, "Canceled"), (2, "Canceled")]


def test_deadline_timing_and_error():
    t0 = time.monotonic()
    ctx, cancel = context.with_timeout(context.background(), 0.2)
    assert abs(ctx.deadline() - (t0 + 0.2)) < 0.1
    ctx.done().recv_ok()
    dt = time.monotonic() - t0
    assert 0.15 <= dt <= 1.5, dt
    err = ctx.err()
    assert isinstance(err, context.DeadlineExceeded) and isinstance(err, TimeoutError)
    assert str(err) == "context deadline exceeded"
    assert not isinstance(err, DeadlineExceededError)  # the net layer's error is another class
    cancel()  # after expiry: no-op, error unchanged
    assert ctx.err() is err


def test_deadline_propagates_to_children_and_parent_deadline_wins():
    parent, _ = context.with_timeout(context.background(), 0.1)
    child, _ = context.with_timeout(parent, 30)  # later than the parent's: parent's wins
    assert child.deadline() == parent.deadline()
    grandchild, _ = context.with_cancel(context.with_value(child, "k", 1))
    t0 = time.monotonic()
    grandchild.done().recv_ok()
    assert time.monotonic() - t0 < 1.5
    assert isinstance(grandchild.err(), context.DeadlineExceeded)


def test_cancel_stops_the_deadline_timer():
    sched = get_sched()
    before = len(sched.timers)
    ctx, cancel = context.with_timeout(context.background(), 60)
    assert len(sched.timers) == before + 1
    cancel()
    assert len(sched.timers) == before
    assert isinstance(ctx.err(), context.Canceled)


def test_past_deadline_is_cancelled_at_once():
    ctx, _ = context.with_deadline(context.background(), time.monotonic() - 1)
    assert isinstance(ctx.err(), context.DeadlineExceeded)


def test_done_in_select_with_work():
    ctx, cancel = context.with_timeout(context.background(), 0.2)
    work = Chan()

    def producer():
        i = 0
        while True:
            idx, _, _ = select(work.send_case(i), ctx.done().recv_case())
            if idx == 1:
                return i
            i += 1

    g = gonet.go(producer)
    got = [work.recv() for _ in range(10)]
    assert got == list(range(10))
    t0 = time.monotonic()
    n = g.join(timeout=5)  # the producer stops at the deadline
    assert n == 10
    assert time.monotonic() - t0 < 1.5
    assert not ctx.done()._recvq
    cancel()


def test_value_lookup():
    ctx = context.with_value(context.background(), "a", 1)
    ctx = context.with_value(ctx, "b", 2)
    ctx2, _ = context.with_cancel(ctx)
    ctx2 = context.with_value(ctx2, "a", 3)  # shadows
    assert (ctx2.value("a"), ctx2.value("b"), ctx2.value("c")) == (3, 2, None)
    assert ctx.value("a") == 1
    with pytest.raises(TypeError, match="key must not be None"):
        context.with_value(ctx, None, 1)
    with pytest.raises(TypeError, match="parent must be a Context"):
        context.with_cancel(None)


@pytest.mark.timeout(20)
def test_cancel_from_another_thread():
    ctx, cancel = context.with_timeout(context.background(), 30)
    t = threading.Thread(target=lambda: (time.sleep(0.05), cancel()))
    t.start()
    t0 = time.monotonic()
    gonet.go(gonet.sleep, 0.5)  # keeps this scheduler busy until the thread has started
    ctx.done().recv_ok()
    assert time.monotonic() - t0 < 5
    t.join(5)
    assert isinstance(ctx.err(), context.Canceled)
    gonet.sleep(0)  # let the hub run the timer cancel the thread queued
    assert ctx._timer is None


# -- after_func (Go's context.AfterFunc) ------------------------------------------------


def test_after_func_runs_once_in_its_own_goroutine(run):
    def body():
        ctx, cancel = context.with_cancel(context.background())
        ran = []
        main = get_sched().current
        stop = context.after_func(ctx, lambda: ran.append(get_sched().current))
        assert ran == []
        cancel()
        cancel()
        gonet.sleep(0.01)
        assert len(ran) == 1 and ran[0] is not main
        assert stop() is False  # it had started
    run(body)


def test_after_func_stop_and_registration_after_cancel(run):
    def body():
        ctx, cancel = context.with_timeout(context.background(), 0.05)
        ran = []
        stop = context.after_func(ctx, lambda: ran.append(1))
        assert stop() is True and stop() is False
        gonet.sleep(0.1)
        assert ran == [] and ctx.err() is not None
        context.after_func(ctx, lambda: ran.append(2))  # already done: runs at once
        gonet.sleep(0.01)
        assert ran == [2]
        # a context nothing can cancel costs nothing and never runs fn
        assert context.after_func(context.background(), lambda: ran.append(3))() is True
        cancel()
    run(body)


def test_after_func_cancelled_from_another_thread(run):
    def body():
        ctx, cancel = context.with_cancel(context.background())
        ch = Chan(1)
        context.after_func(ctx, lambda: ch.send(get_sched()))
        t = threading.Thread(target=cancel)
        t.start()
        # (a timeout: nothing on this thread knows the other one will wake it)
        i, got, _ = select(ch.recv_case(), timeout=5)
        assert i == 0 and got is get_sched()  # ran on the registering thread's scheduler
        t.join()
    run(body)
