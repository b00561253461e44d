"""Deadlock detection through channels and sync primitives, and no false alarms."""

import threading
import time

import pytest

import gonet
from gonet.chan import Chan, select
from gonet.runtime.sched import DeadlockError, get_sched
from gonet.sync import Mutex, WaitGroup


def test_main_blocked_on_recv_alone():
    ch = Chan()
    with pytest.raises(DeadlockError, match="all goroutines are asleep - deadlock!"):
        ch.recv()
    assert not ch._recvq  # the abandoned wait left no waiter behind
    ch.close()


def test_main_blocked_on_send_alone():
    ch = Chan(1)
    ch.send(1)  # fills the buffer
    with pytest.raises(DeadlockError):
        ch.send(2)
    assert not ch._sendq and len(ch) == 1


def test_goroutines_waiting_on_each_other():
    a, b = Chan(), Chan()
    wg = WaitGroup()
    wg.go(lambda: a.recv_ok()[1] and b.send(1))  # waits for a
    wg.go(lambda: b.recv_ok()[1] and a.send(1))  # waits for b
    with pytest.raises(DeadlockError):
        wg.wait()
    # Clean up: release the two goroutines so later tests see none of them.
    a.close()
    b.close()
    wg.wait()
    assert wg.count == 0


def test_mutex_never_unlocked():
    mu = Mutex()
    mu.lock()
    with pytest.raises(DeadlockError):
        mu.lock()
    mu.unlock()
    assert not mu.locked() and not mu._q


def test_empty_select_blocks_forever():
    with pytest.raises(DeadlockError):
        select()
    with pytest.raises(DeadlockError):
        select(None, None)


def test_select_waiters_removed_after_deadlock():
    a, b = Chan(), Chan()
    with pytest.raises(DeadlockError):
        select(a.recv_case(), b.send_case(1))
    assert not a._recvq and not b._sendq


def test_no_false_alarm_with_a_timeout_pending():
    ch = Chan()
    assert select(ch.recv_case(), timeout=0.05) == (-1, None, False)
    gonet.go(lambda: (gonet.sleep(0.05), ch.send("late")))
    assert ch.recv() == "late"


@pytest.mark.timeout(20)
def test_no_false_alarm_when_partner_is_another_thread():
    """Main parks on a shared channel long before the other thread sends."""
    ch = Chan(shared=True)

    def slow_thread():
        time.sleep(0.2)  # the other thread is busy elsewhere; nothing else runs in main's
        ch.send("from thread")

    t = threading.Thread(target=slow_thread)
    t.start()
    assert ch.recv() == "from thread"
    t.join(10)
    assert get_sched().external_waiters == 0


@pytest.mark.timeout(20)
def test_channel_becomes_shared_when_another_thread_waits_on_it():
    """A private channel that a goroutine in another thread parks on counts from then on."""
    ch = Chan()  # no hint
    started = threading.Event()

    def thread_receiver():
        started.set()
        ch.send(ch.recv() + 1)  # parks in this thread: the channel is now shared

    t = threading.Thread(target=thread_receiver)
    t.start()
    started.wait(10)
    while not ch._recvq:  # wait until the thread's goroutine is parked on ch
        time.sleep(0.001)
    assert ch._shared
    ch.send(41)
    assert ch.recv() == 42  # main parks while the thread works: no DeadlockError
    t.join(10)
    assert get_sched().external_waiters == 0
