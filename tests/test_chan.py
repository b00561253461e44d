"""Channels: rendezvous, buffering, close semantics, FIFO fairness, threads."""

import threading

import pytest

import gonet
from gonet.chan import Chan, ChanClosedError
from gonet.runtime.sched import get_sched


def test_unbuffered_send_waits_for_receiver():
    ch = Chan()
    log = []

    def sender():
        for i in range(3):
            log.append(f"send {i}")
            ch.send(i)
            log.append(f"sent {i}")

    g = gonet.go(sender)
    gonet.sleep(0)  # sender runs and parks in its first send: nobody receives yet
    assert log == ["send 0"]
    assert len(ch) == 0 and ch.cap == 0
    got = [ch.recv() for _ in range(3)]
    g.join()
    assert got == [0, 1, 2]
    # Each send completed only after its receive began (rendezvous).
    assert log.index("sent 0") > log.index("send 0")
    assert log[-1] == "sent 2"


def test_rendezvous_ordering_many_messages():
    ch = Chan()
    n = 2000
    gonet.go(lambda: [ch.send(i) for i in range(n)] and ch.close())
    assert list(ch) == list(range(n))


def test_buffered_capacity():
    ch = Chan(3)
    assert ch.cap == 3
    for i in range(3):
        ch.send(i)  # never parks: buffer space
    assert len(ch) == 3
    progressed = []

    def fourth():
        ch.send(3)
        progressed.append(True)

    g = gonet.go(fourth)
    gonet.sleep(0)
    gonet.sleep(0)
    assert progressed == []  # buffer full: the sender is parked
    assert len(ch) == 3
    assert ch.recv() == 0  # frees a slot: the parked sender's value moves in
    g.join()
    assert progressed == [True]
    assert len(ch) == 3
    assert [ch.recv() for _ in range(3)] == [1, 2, 3]
    assert len(ch) == 0


def test_close_semantics():
    ch = Chan(2)
    ch.send("a")
    ch.send(None)  # None is a real message
    ch.close()
    assert ch.closed
    with pytest.raises(ChanClosedError, match="send on closed channel"):
        ch.send("b")
    with pytest.raises(ChanClosedError, match="close of closed channel"):
        ch.close()
    # Buffered values survive the close.
    assert ch.recv_ok() == ("a", True)
    assert ch.recv_ok() == (None, True)
    # Drained: recv_ok says so, recv raises, iteration ends at once.
    assert ch.recv_ok() == (None, False)
    assert ch.recv_ok() == (None, False)
    with pytest.raises(ChanClosedError, match="receive from closed channel"):
        ch.recv()
    assert list(ch) == []


def test_close_wakes_parked_receivers_and_senders():
    rch = Chan()
    results = []
    gs = [gonet.go(lambda: results.append(rch.recv_ok())) for _ in range(3)]
    gonet.sleep(0)
    rch.close()
    for g in gs:
        g.join()
    assert results == [(None, False)] * 3

    sch = Chan()
    errors = []

    def sender():
        try:
            sch.send(1)
        except ChanClosedError as e:
            errors.append(str(e))

    gs = [gonet.go(sender) for _ in range(2)]
    gonet.sleep(0)
    sch.close()
    for g in gs:
        g.join()
    assert errors == ["send on closed channel"] * 2


def test_fifo_among_waiting_receivers_and_senders():
    ch = Chan()
    order = []

    def receiver(k):
        order.append((k, ch.recv()))

    gs = [gonet.go(receiver, k) for k in range(5)]
    gonet.sleep(0)  # all five park, in order
    for i in range(5):
        ch.send(i * 10)
    for g in gs:
        g.join()
    assert order == [(k, k * 10) for k in range(5)]

    gs = [gonet.go(ch.send, k) for k in range(5)]
    gonet.sleep(0)
    assert [ch.recv() for _ in range(5)] == list(range(5))
    for g in gs:
        g.join()


def test_bad_size():
    with pytest.raises(ValueError, match="size"):
        Chan(-1)
    with pytest.raises(ValueError, match="size"):
        Chan(1.5)


def test_iteration_until_closed_with_producer():
    ch = Chan(4)

    def producer():
        for i in range(100):
            ch.send(i)
        ch.close()

    gonet.go(producer)
    assert sum(ch) == sum(range(100))


@pytest.mark.timeout(20)
def test_cross_thread_handoff():
    """A goroutine of another thread's scheduler and main hand values both ways."""
    to_thread = Chan(shared=True)
    from_thread = Chan(shared=True)
    info = {}

    def other_thread():
        info["sched"] = get_sched()
        total = 0
        for v in to_thread:  # parks in this thread's scheduler
            total += v
            from_thread.send(v * 2)
        from_thread.send(("total", total))

    t = threading.Thread(target=other_thread)
    t.start()
    got = []
    for i in range(200):
        to_thread.send(i)  # main parks until the other thread receives
        got.append(from_thread.recv())
    to_thread.close()
    assert from_thread.recv() == ("total", sum(range(200)))
    t.join(10)
    assert not t.is_alive()
    assert got == [i * 2 for i in range(200)]
    assert info["sched"] is not get_sched()
    assert get_sched().external_waiters == 0


@pytest.mark.timeout(20)
def test_cross_thread_channel_becomes_shared_without_hint():
    """Main parks on a private channel with a timer pending; the thread's send must not
    cause a false deadlock and must wake main."""
    ch = Chan()

    def other_thread():
        ch.send("hello")  # first touch from another scheduler

    # A goroutine sleeping keeps main's scheduler alive until the thread runs.
    gonet.go(gonet.sleep, 0.3)
    t = threading.Thread(target=other_thread)
    t.start()
    assert ch.recv() == "hello"
    t.join(10)
    assert get_sched().external_waiters == 0
