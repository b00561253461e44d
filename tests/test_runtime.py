"""Runtime layer: goroutines, the scheduler loop, timers, the thread hand-off."""

from __future__ import annotations

import gc
import io
import os
import socket
import sys
import threading
import time

import pytest

import gonet
from gonet.runtime.netpoll_break import Waker
from gonet.runtime.sched import TIMEOUT, WAITING, get_sched


def test_go_join_returns_result(run):
    def body():
        g = gonet.go(lambda a, b=0: a + b, 40, b=2)
        assert not g.done()
        assert g.join() == 42
        assert g.done()
        assert g.id > 0 and g.name.startswith("goroutine-")
        return g.join()  # joining again returns the same result

    assert run(body) == 42


def test_join_reraises(run):
    def body():
        def bad():
            raise ValueError("boom")

        g = gonet.go(bad)
        with pytest.raises(ValueError, match="boom"):
            g.join()

    run(body)


def test_join_timeout(run):
    def body():
        g = gonet.go(gonet.sleep, 5)
        t0 = time.monotonic()
        with pytest.raises(TimeoutError):
            g.join(timeout=0.1)
        dt = time.monotonic() - t0
        assert 0.08 <= dt < 2.0
        assert not g.done()

    run(body)


def test_unjoined_exception_reported_on_stderr(run, capfd):
    def body():
        def bad():
            raise KeyError("nobody-joins-me")

        gonet.go(bad)
        gonet.sleep(0.01)
        gc.collect()
        gonet.sleep(0)
        return "alive"

    assert run(body) == "alive"  # the program goes on
    gc.collect()
    err = capfd.readouterr().err
    assert "Exception in goroutine" in err
    assert "nobody-joins-me" in err
    assert "Traceback" in err


def test_joined_exception_not_reported(run, capfd):
    def body():
        def bad():
            raise KeyError("joined-one")

        g = gonet.go(bad)
        with pytest.raises(KeyError):
            g.join()

    run(body)
    gc.collect()
    assert "joined-one" not in capfd.readouterr().err


def _park_tracing_switches(sched, switches: list) -> None:
    """Park the current goroutine briefly, recording every greenlet switch
    (``(event, (origin, target))``) until it runs again."""
    import greenlet

    old = greenlet.settrace(lambda ev, args: switches.append((ev, args)))
    try:
        sched.park("test", timeout=0)
    finally:
        greenlet.settrace(old)


def test_a_parking_goroutine_hands_off_to_the_next_without_the_hub(run):
    """g1 readies g2 and parks: the thread goes from g1 to g2 in one switch."""
    from greenlet import getcurrent

    def body():
        sched = get_sched()
        switches = []
        seen = {}

        def g2_body():
            seen["g2"] = getcurrent()
            sched.park("test")  # park once, so that g2's next run is a resume

        def g1_body():
            seen["g1"] = getcurrent()
            gonet.sleep(0)  # g2 has parked by now
            sched.ready(h2)  # g2 heads the run queue
            _park_tracing_switches(sched, switches)

        h2 = gonet.go(g2_body)
        h1 = gonet.go(g1_body)
        h1.join()
        h2.join()
        return switches[0], seen

    first, seen = run(body)
    assert first == ("switch", (seen["g1"], seen["g2"]))


def test_a_goroutine_that_never_ran_is_started_by_the_hub(run):
    """g1 parks with a fresh g2 at the head of the run queue: no hand-off.

    g2 goes through the hub, so that its C stack begins at the hub's depth
    rather than below g1's.
    """
    from greenlet import getcurrent

    def body():
        sched = get_sched()
        switches = []
        seen = {}

        def g2_body():
            seen["g2"] = getcurrent()

        def g1_body():
            seen["g1"] = getcurrent()
            h2 = gonet.go(g2_body)  # never ran: its greenlet is not started
            _park_tracing_switches(sched, switches)
            return h2

        h1 = gonet.go(g1_body)
        h1.join().join()
        return switches[:2], seen, sched.hub

    (first, second), seen, hub = run(body)
    assert first == ("switch", (seen["g1"], hub))
    assert second == ("switch", (hub, seen["g2"]))


@pytest.mark.skipif(sys.version_info < (3, 11), reason="3.10 checks for signals at most opcodes")
@pytest.mark.parametrize("fn", ["park_io", "switch_out", "_loop"])
def test_no_signal_can_land_between_dequeue_and_switch(fn):
    """From taking a goroutine off the run queue to switching into it, no
    opcode where CPython runs signal handlers: no call but the switch itself,
    no backward jump. (A KeyboardInterrupt there would lose the goroutine.)"""
    import dis

    from gonet.runtime.sched import Scheduler

    code = getattr(Scheduler, fn).__code__
    ins = list(dis.get_instructions(code))
    starts = [i for i, x in enumerate(ins) if x.opname == "DELETE_SUBSCR"]
    assert starts, f"{fn}: no 'del runq[0]' left"
    for start in starts:
        last_name = None
        for x in ins[start + 1:]:
            assert x.opname not in ("JUMP_BACKWARD", "RESUME"), (fn, x)
            if x.opname in ("LOAD_ATTR", "LOAD_METHOD"):
                last_name = x.argval
            if x.opname.startswith(("CALL", "PRECALL")):
                assert last_name == "switch", f"{fn}: a call before the switch: {x}"
                break
        else:
            raise AssertionError(f"{fn}: no switch after the dequeue")


def test_run_queue_is_fifo_and_sleep0_yields(run):
    def body():
        order = []

        def worker(name):
            for i in range(3):
                order.append((name, i))
                gonet.sleep(0)

        gs = [gonet.go(worker, n) for n in "abc"]
        for g in gs:
            g.join()
        return order

    order = run(body)
    assert order == [(n, i) for i in range(3) for n in "abc"]


def test_sleepers_wake_in_deadline_order(run):
    def body():
        woke = []
        gs = [gonet.go(lambda d=d: (gonet.sleep(d), woke.append(d))) for d in (0.15, 0.05, 0.1, 0.0)]
        for g in gs:
            g.join()
        return woke

    assert run(body) == [0.0, 0.05, 0.1, 0.15]


@pytest.mark.timeout(30)
def test_10k_goroutines_sleeping_half_a_second(run):
    def body():
        t0 = time.monotonic()
        gs = [gonet.go(gonet.sleep, 0.5) for _ in range(10_000)]
        assert gonet.num_goroutine() >= 10_000
        for g in gs:
            g.join()
        return time.monotonic() - t0

    elapsed = run(body)
    assert 0.5 <= elapsed < 3.0


def test_blocking_does_not_stop_other_goroutines(run):
    def body():
        ticks = []
        stop = []

        def ticker():
            while not stop:
                ticks.append(time.monotonic())
                gonet.sleep(0.01)

        tg = gonet.go(ticker)
        t0 = time.monotonic()
        gs = [gonet.go(gonet.blocking, time.sleep, 0.5) for _ in range(4)]
        for g in gs:
            g.join()
        elapsed = time.monotonic() - t0
        stop.append(1)
        tg.join()
        during = [t for t in ticks if t0 <= t <= t0 + elapsed]
        return elapsed, len(during)

    elapsed, n = run(body)
    assert 0.45 <= elapsed < 2.0  # four 0.5 s calls ran in parallel on the pool
    assert n >= 10  # the ticker kept running (about 50 ticks unloaded)


def test_blocking_returns_and_raises(run):
    def body():
        assert gonet.blocking(sum, [1, 2, 3]) == 6
        with pytest.raises(ZeroDivisionError):
            gonet.blocking(lambda: 1 / 0)

    run(body)


def test_wake_from_another_thread_reaches_blocked_poller(run):
    def body():
        sched = get_sched()
        me = sched.current

        def waker():
            while me.state != WAITING:  # spin until main is parked in the poller
                time.sleep(0.001)
            sched.ready_threadsafe(me, "hello")

        threading.Thread(target=waker, daemon=True).start()
        sched.external_waiters += 1
        try:
            return sched.park("test: cross-thread")
        finally:
            sched.external_waiters -= 1

    assert run(body) == "hello"


def test_netpoll_break_coalesces_wakes():
    w = Waker()
    try:
        for _ in range(1000):
            w.wake()
        if w._eventfd:
            assert os.eventfd_read(w.rfd) == 1  # one write for a thousand wakes
        else:
            assert os.read(w.rfd, 4096) == b"\0"
        w._pending = False
        w.wake()
        w.drain()
        assert not w._pending
    finally:
        w.close()


def test_park_timeout_and_ready_cancel_timer(run):
    def body():
        sched = get_sched()
        me = sched.current
        assert sched.park("t", timeout=0.05) is TIMEOUT
        # Woken first by ready(): the timer must not fire later into another park.
        gonet.go(lambda: sched.ready(me, "first"))
        assert sched.park("t", timeout=0.1) == "first"
        assert me.timer is None
        gonet.sleep(0.2)  # the cancelled timer's time passes quietly
        assert sched.park("t", timeout=0.05) is TIMEOUT

    run(body)


def test_deadlock_detected_for_main(run):
    def body():
        with pytest.raises(gonet.DeadlockError, match="all goroutines are asleep"):
            get_sched().park("forever")
        return "recovered"

    assert run(body) == "recovered"


def test_busy_run_queue_does_not_starve_io(run):
    """A goroutine that only yields must not keep a ready socket waiting."""

    def body():
        a, b = socket.socketpair()
        conn_b = gonet.poll.fd.FD(b)
        progress = {"spins": 0, "at_read": None}

        def spinner():
            for _ in range(20_000):
                progress["spins"] += 1
                gonet.sleep(0)

        def reader():
            conn_b.read(10)
            progress["at_read"] = progress["spins"]

        r = gonet.go(reader)
        s = gonet.go(spinner)
        gonet.sleep(0)  # reader parks in IO wait, spinner starts
        a.send(b"x")
        r.join()
        s.join()
        conn_b.close()
        a.close()
        return progress["at_read"]

    import gonet.poll.fd  # noqa: F401

    at = run(body)
    assert at is not None and at < 1000  # about 61 spins; far from 20,000


def test_num_goroutine_and_dump(run):
    def body():
        def sleeper_fn():
            gonet.sleep(10)

        for _ in range(3):
            gonet.go(sleeper_fn)
        gonet.sleep(0)
        n = gonet.num_goroutine()
        buf = io.StringIO()
        gonet.dump_goroutines(buf)
        return n, buf.getvalue()

    n, dump = run(body)
    assert n >= 4
    assert "[sleep]" in dump
    assert " switches, " in dump and " polls, " in dump
    assert "sleeper_fn" in dump
    assert "goroutine 1" in dump or "main" in dump


def test_keyboard_interrupt_in_goroutine_reaches_main(run):
    def body():
        def ctrl_c():
            raise KeyboardInterrupt

        gonet.go(ctrl_c)
        with pytest.raises(KeyboardInterrupt):
            gonet.sleep(5)
        return "handled"

    assert run(body) == "handled"


def test_each_thread_has_its_own_scheduler(run):
    def body():
        mine = get_sched()
        other = []
        t = threading.Thread(target=lambda: other.append(get_sched()))
        t.start()
        t.join()
        return mine is not other[0]

    assert run(body)


def test_a_raising_timer_callback_does_not_kill_the_scheduler(run, capfd):
    def body():
        sched = get_sched()

        def bad(a, b):
            raise ValueError("callback-bug")

        sched.timers.add(time.monotonic(), bad)
        gonet.sleep(0.05)  # the hub runs the faulty callback meanwhile
        g = gonet.go(lambda: 7)
        return g.join()

    assert run(body) == 7
    assert "callback-bug" in capfd.readouterr().err


@pytest.mark.parametrize("wait", ["sleep", "blocking"])
def test_a_wait_cut_short_by_an_exception_does_not_wake_a_later_park(run, wait):
    # A goroutine's SystemExit is handed to main while main waits (a sleep, or
    # a thread-pool call); main catches it and joins a worker. When the
    # abandoned wait's timer fires or its call completes, it must not ready
    # main in the middle of that join (join would return early).
    from gonet.runtime.sched import go, sleep
    from gonet.runtime.threadpool import blocking

    def body():
        def quitter():
            raise SystemExit(3)

        go(quitter)
        try:
            if wait == "sleep":
                sleep(0.2)
            else:
                blocking(time.sleep, 0.2)
        except SystemExit:
            pass
        else:
            raise AssertionError("SystemExit was not delivered to main")

        def worker():
            sleep(0.6)
            return "done"

        g = go(worker)
        assert g.join() == "done"
        assert g.done()

    run(body)


def test_a_thread_that_ends_tears_its_scheduler_down():
    # Each thread that used gonet had a scheduler with an epoll fd and an
    # eventfd; they must be closed when the thread ends, even with a goroutine
    # still parked in it, and the scheduler freed when none is.
    from gonet.runtime.sched import Scheduler, all_schedulers

    def nfds():
        return len(os.listdir("/proc/self/fd"))

    def schedulers():
        gc.collect()
        return sum(1 for o in gc.get_objects() if type(o) is Scheduler)

    def clean():
        gonet.go(lambda: gonet.sleep(0.001)).join()

    def leaves_one_parked():
        clean()
        gonet.go(gonet.sleep, 3600)
        gonet.sleep(0)

    def threads(fn, n):
        for _ in range(n):
            t = threading.Thread(target=fn)
            t.start()
            t.join()

    before_fds, before = nfds(), schedulers()
    threads(clean, 200)
    assert nfds() - before_fds < 10
    assert schedulers() - before < 5
    threads(leaves_one_parked, 50)
    assert nfds() - before_fds < 10
    assert all(s.thread.is_alive() for s in all_schedulers())


def test_a_torn_down_scheduler_keeps_no_greenlet_of_its_thread():
    # A scheduler left in a garbage cycle after its thread ended must not
    # hold the thread's root greenlet: greenlet frees a dead thread's root by
    # itself, and another thread's gc then traversed a dangling pointer.
    box = {}

    def body():
        box["sched"] = get_sched()
        gonet.go(lambda: None).join()

    t = threading.Thread(target=body)
    t.start()
    t.join()
    s = box.pop("sched")
    assert s.hub is None
    assert s.main.glet is None
    assert s.current is None


# pytest's own threads make Python 3.12+ warn about fork; the child only runs
# gonet on its one thread and exits.
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_a_forked_child_gets_a_fresh_scheduler(run):
    # The parent's epoll instance is shared across fork: the child must not
    # poll it. after_fork (run by os.register_at_fork) drops it.
    def body():
        parent = get_sched()
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: report whether gonet works on a new poller
            try:
                ok = get_sched() is not parent and gonet.go(lambda: 7).join() == 7
                gonet.sleep(0.01)
                os.write(w, b"ok" if ok else b"no")
            finally:
                os._exit(0)
        os.close(w)
        _, status = os.waitpid(pid, 0)
        out = os.read(r, 10)
        os.close(r)
        return out, status

    out, status = run(body)
    assert status == 0
    assert out == b"ok"


def test_handoff_keeps_a_completion_that_arrives_while_submit_parks(run):
    """A pool whose submit parks the goroutine (as a ThreadPoolExecutor's
    does under gonet.patch(), waiting for a new thread to start): the call
    finishes meanwhile, and its completion must not wake the park in submit."""
    from gonet.runtime.threadpool import Handoff

    class ParkingPool:
        def submit(self, fn, *args):
            threading.Thread(target=fn, args=args).start()
            gonet.sleep(0.1)  # the call is done, and delivered, before this ends

    def body():
        t = time.monotonic()
        out = Handoff(ParkingPool()).run(lambda: "done")
        return out, time.monotonic() - t

    out, took = run(body)
    assert out == "done"
    assert 0.08 <= took < 5


def test_thread_pool_runs_calls_on_at_most_max_threads():
    from gonet.runtime.threadpool import ThreadPool

    pool = ThreadPool(3, "test-pool")
    lock = threading.Lock()
    running, peak, names = [0], [0], set()
    done = threading.Semaphore(0)

    def call():
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
            names.add(threading.current_thread().name)
        time.sleep(0.05)
        with lock:
            running[0] -= 1
        done.release()

    t = time.monotonic()
    for _ in range(9):
        pool.submit(call)  # never waits, however many are queued
    assert time.monotonic() - t < 0.05
    for _ in range(9):
        assert done.acquire(timeout=10)
    assert peak[0] == 3
    assert names <= {"test-pool_1", "test-pool_2", "test-pool_3"}
    pool.shutdown()
    with pytest.raises(RuntimeError, match="after shutdown"):
        pool.submit(call)
