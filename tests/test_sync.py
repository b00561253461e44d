"""sync primitives: they park goroutines, keep state exact, and serve waiters in order."""

import threading

import pytest

import gonet
from gonet.runtime.sched import get_sched
from gonet.sync import Cond, Mutex, Once, RWMutex, Semaphore, WaitGroup


@pytest.mark.timeout(30)
def test_waitgroup_10000_goroutines():
    wg = WaitGroup()
    hits = []
    for i in range(10_000):
        wg.add(1)

        def work(i=i):
            gonet.sleep(0)
            hits.append(i)
            wg.done()

        gonet.go(work)
    assert wg.count == 10_000
    wg.wait()
    assert wg.count == 0
    assert sorted(hits) == list(range(10_000))


def test_waitgroup_go_and_negative():
    wg = WaitGroup()
    out = []
    for i in range(5):
        wg.go(out.append, i)
    wg.wait()
    assert sorted(out) == [0, 1, 2, 3, 4]
    wg.wait()  # zero: returns at once
    with pytest.raises(ValueError, match="negative WaitGroup counter"):
        wg.done()


def test_mutex_under_contention_keeps_counter_exact():
    mu = Mutex()
    state = {"n": 0, "inside": 0, "max_inside": 0}

    def worker():
        for _ in range(200):
            with mu:
                state["inside"] += 1
                state["max_inside"] = max(state["max_inside"], state["inside"])
                v = state["n"]
                gonet.sleep(0)  # yield inside the critical section: others must wait
                state["n"] = v + 1
                state["inside"] -= 1

    wg = WaitGroup()
    for _ in range(20):
        wg.go(worker)
    wg.wait()
    assert state["n"] == 20 * 200
    assert state["max_inside"] == 1
    assert not mu.locked()


def test_mutex_fifo_handoff_and_errors():
    mu = Mutex()
    mu.lock()
    assert not mu.try_lock()
    order = []

    def waiter(k):
        mu.lock()
        order.append(k)
        mu.unlock()

    gs = [gonet.go(waiter, k) for k in range(5)]
    gonet.sleep(0)
    mu.unlock()
    for g in gs:
        g.join()
    assert order == [0, 1, 2, 3, 4]
    with pytest.raises(RuntimeError, match="unlock of unlocked mutex"):
        mu.unlock()


def test_rwmutex_readers_share_writer_excludes():
    rw = RWMutex()
    log = []
    state = {"readers": 0, "max_readers": 0}

    def reader(k):
        with rw.rlocker():
            state["readers"] += 1
            state["max_readers"] = max(state["max_readers"], state["readers"])
            gonet.sleep(0)
            gonet.sleep(0)
            log.append(("r", k, state["readers"]))
            state["readers"] -= 1

    def writer():
        with rw:
            assert state["readers"] == 0
            log.append(("w", state["readers"]))

    wg = WaitGroup()
    for k in range(3):
        wg.go(reader, k)
    wg.go(writer)
    for k in range(3, 5):
        wg.go(reader, k)
    wg.wait()
    assert state["max_readers"] == 3  # the first three overlap; the writer holds back 3 and 4
    w_at = [i for i, e in enumerate(log) if e[0] == "w"][0]
    assert {e[1] for e in log[:w_at]} == {0, 1, 2}
    assert {e[1] for e in log[w_at + 1:]} == {3, 4}
    with pytest.raises(RuntimeError, match="runlock"):
        rw.runlock()
    with pytest.raises(RuntimeError, match="unlock"):
        rw.unlock()


def test_once_runs_once_and_callers_wait():
    once = Once()
    calls = []

    def init():
        calls.append(1)
        gonet.sleep(0.01)  # others arrive while it runs

    seen = []

    def user():
        once.do(init)
        seen.append(len(calls))

    wg = WaitGroup()
    for _ in range(10):
        wg.go(user)
    wg.wait()
    assert calls == [1]
    assert seen == [1] * 10  # nobody returned before init finished


def test_cond_signal_and_broadcast():
    mu = Mutex()
    cond = Cond(mu)
    queue = []
    got = []

    def consumer():
        with mu:
            while not queue:
                cond.wait()
            got.append(queue.pop(0))

    wg = WaitGroup()
    for _ in range(3):
        wg.go(consumer)
    gonet.sleep(0)
    with mu:
        queue.append("a")
        cond.signal()
    gonet.sleep(0)
    assert got == ["a"]
    with mu:
        queue.extend(["b", "c"])
        cond.broadcast()
    wg.wait()
    assert sorted(got) == ["a", "b", "c"]


def test_weighted_semaphore():
    sem = Semaphore(3)
    state = {"held": 0, "max": 0}

    def user(n):
        sem.acquire(n)
        state["held"] += n
        state["max"] = max(state["max"], state["held"])
        gonet.sleep(0)
        state["held"] -= n
        sem.release(n)

    wg = WaitGroup()
    for n in [1, 2, 3, 1, 2, 1, 3]:
        wg.go(user, n)
    wg.wait()
    assert state["max"] == 3
    assert sem.try_acquire(3)
    assert not sem.try_acquire(1)
    sem.release(3)
    with pytest.raises(ValueError, match="between 0 and size"):
        sem.acquire(4)
    with pytest.raises(ValueError, match="units held"):
        sem.release(1)


def test_semaphore_large_head_is_not_starved():
    sem = Semaphore(2)
    sem.acquire(1)
    order = []
    g_big = gonet.go(lambda: (sem.acquire(2), order.append("big")))
    gonet.sleep(0)
    g_small = gonet.go(lambda: (sem.acquire(1), order.append("small")))
    gonet.sleep(0)
    assert order == []  # one unit is free, but the small one queues behind the big one
    sem.release(1)
    g_big.join()
    sem.release(2)
    g_small.join()
    assert order == ["big", "small"]
    sem.release(1)


@pytest.mark.timeout(20)
def test_mutex_shared_across_threads():
    mu = Mutex()
    wg_done = threading.Event()
    counter = {"n": 0}

    def thread_main():
        wg = WaitGroup()
        for _ in range(5):
            def w():
                for _ in range(100):
                    with mu:
                        v = counter["n"]
                        gonet.sleep(0)
                        counter["n"] = v + 1
            wg.go(w)
        wg.wait()
        wg_done.set()

    t = threading.Thread(target=thread_main)
    t.start()
    wg = WaitGroup()
    for _ in range(5):
        def w():
            for _ in range(100):
                with mu:
                    v = counter["n"]
                    gonet.sleep(0)
                    counter["n"] = v + 1
        wg.go(w)
    wg.wait()
    t.join(15)
    assert wg_done.is_set()
    assert counter["n"] == 1000
    assert get_sched().external_waiters == 0
