"""gonet.patch(): the standard library's blocking calls park the goroutine
inside one, and are the stdlib's own everywhere else.

Each test patches for its own duration (the ``patched`` fixture) and
undoes it after; bodies run as the main goroutine of a fresh scheduler on
each poller backend (``run``)."""

from __future__ import annotations

import errno
import os
import queue
import select
import selectors
import socket
import ssl
import subprocess
import sys
import threading
import time

import pytest

import gonet
from gonet import coop
from gonet.runtime import sched as _sched


@pytest.fixture
def patched():
    coop.patch()
    yield
    coop.unpatch()


def _ticker(stop: list, ticks: list) -> None:
    """A goroutine that proves its thread is free: it ticks every 10 ms."""
    while not stop:
        gonet.sleep(0.01)
        ticks.append(time.monotonic())


def _ticks_since(ticks: list, start: float) -> int:
    """How often the ticker ran since ``start``. A call that held the thread
    for its whole wait leaves at most one tick; a parked one, about one per
    10 ms (the assertions ask for 3, whatever the load)."""
    return sum(1 for t in ticks if t > start)


# -- the patch itself ---------------------------------------------------------------


def test_patch_replaces_and_unpatch_restores():
    orig = (socket.socket, socket.getaddrinfo, time.sleep, threading.Lock, select.select,
            selectors.DefaultSelector, queue.SimpleQueue, os.waitpid,
            ssl.SSLContext.sslsocket_class)
    coop.patch(threading=False)
    try:
        assert coop.patched() == {"socket", "dns", "ssl", "select", "time", "queue",
                                  "subprocess"}
        assert socket.socket is not orig[0] and time.sleep is not orig[2]
        assert threading.Lock is orig[3]  # left out
        assert issubclass(socket.socket, orig[0])
        coop.patch()  # the rest
        assert threading.Lock is not orig[3]
        assert "threading" in coop.patched()
    finally:
        coop.unpatch()
    assert (socket.socket, socket.getaddrinfo, time.sleep, threading.Lock, select.select,
            selectors.DefaultSelector, queue.SimpleQueue, os.waitpid,
            ssl.SSLContext.sslsocket_class) == orig
    assert coop.patched() == frozenset()


def test_outside_a_goroutine_nothing_changes(patched):
    """A plain thread: the stdlib's own behaviour, and no scheduler is made."""
    out = {}

    def plain():
        a, b = socket.socketpair()
        a.settimeout(0.05)
        t = time.monotonic()
        try:
            a.recv(1)
        except TimeoutError as e:
            out["timeout"] = (str(e), time.monotonic() - t)
        b.sendall(b"x")
        out["data"] = a.recv(1)
        a.close()
        b.close()
        time.sleep(0.01)
        lk = threading.Lock()
        lk.acquire()
        out["second"] = lk.acquire(timeout=0.01)
        out["sched"] = getattr(_sched.thread_state, "sched", None)
        out["here"] = _sched.goroutine_here()

    t = threading.Thread(target=plain)
    t.start()
    t.join()
    assert out["timeout"][0] == "timed out" and out["timeout"][1] >= 0.04
    assert out["data"] == b"x"
    assert out["second"] is False
    assert out["sched"] is None and out["here"] is None


# -- time.sleep -----------------------------------------------------------------------


def test_time_sleep_parks(run, patched):
    def body():
        t = time.monotonic()
        gs = [gonet.go(time.sleep, 0.2) for _ in range(50)]
        for g in gs:
            g.join()
        return time.monotonic() - t

    assert run(body) < 2.0  # 50 x 0.2 s = 10 s if each held the thread


def test_time_sleep_errors_as_before(run, patched):
    def body():
        with pytest.raises(ValueError):
            time.sleep(-1)
        with pytest.raises(TypeError):
            time.sleep("1")
        time.sleep(0)  # a yield

    run(body)


# -- sockets ----------------------------------------------------------------------


def _echo_server():
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(64)

    def serve(c):
        with c:
            while True:
                d = c.recv(65536)
                if not d:
                    return
                c.sendall(d)

    def accept():
        while True:
            try:
                c, _ = ls.accept()
            except OSError:
                return
            gonet.go(serve, c)

    gonet.go(accept)
    return ls, ls.getsockname()[1]


def test_socket_echo_between_goroutines(run, patched):
    def body():
        ls, port = _echo_server()

        def client(i):
            with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                assert isinstance(s, socket.socket) and s.gettimeout() == 5
                payload = bytes([i]) * 100_000  # more than one send's worth
                s.sendall(payload)
                got = b""
                while len(got) < len(payload):
                    got += s.recv(65536)
                return got == payload

        ok = [g.join() for g in [gonet.go(client, i) for i in range(20)]]
        ls.close()
        return ok

    assert run(body) == [True] * 20


def test_socket_timeout_is_a_deadline(run, patched):
    def body():
        a, b = socket.socketpair()
        a.settimeout(0.2)
        stop, ticks = [], []
        gonet.go(_ticker, stop, ticks)
        t = time.monotonic()
        with pytest.raises(socket.timeout, match="timed out"):
            a.recv(10)
        took = time.monotonic() - t
        stop.append(1)
        progress = _ticks_since(ticks, t)
        b.sendall(b"late")
        assert a.recv(10) == b"late"  # the socket is still usable
        a.setblocking(False)
        with pytest.raises(BlockingIOError):
            a.recv(10)
        assert a.getblocking() is False and a.gettimeout() == 0.0
        a.close()
        b.close()
        return took, progress

    took, progress = run(body)
    assert 0.15 <= took < 1.5
    assert progress >= 3  # the other goroutine kept running meanwhile


def test_socket_connect_errors_and_names(run, patched):
    def body():
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        probe.close()
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=2)
        s = socket.socket()
        assert s.connect_ex(("127.0.0.1", port)) == errno.ECONNREFUSED
        s.close()
        ls, eport = _echo_server()
        # a host name: resolved on the thread pool, not on the scheduler's thread
        with socket.create_connection(("localhost", eport), timeout=2) as c:
            c.sendall(b"ok")
            assert c.recv(2) == b"ok"
        assert socket.getaddrinfo("localhost", eport, socket.AF_INET)[0][4][1] == eport
        assert socket.gethostbyname("localhost") == "127.0.0.1"
        ls.close()

    run(body)


def test_socket_makefile_and_accept_timeout(run, patched):
    def body():
        ls, port = _echo_server()
        c = socket.create_connection(("127.0.0.1", port))
        f = c.makefile("rwb")
        f.write(b"line one\nline two\n")
        f.flush()
        assert f.readline() == b"line one\n"
        assert f.readline() == b"line two\n"
        f.close()
        c.close()
        ls.close()
        idle = socket.socket()
        idle.bind(("127.0.0.1", 0))
        idle.listen()
        idle.settimeout(0.1)
        with pytest.raises(TimeoutError):
            idle.accept()
        idle.close()

    run(body)


def test_cooperative_socket_used_later_from_a_plain_thread(run, patched):
    """A socket a goroutine waited on keeps its blocking meaning in a thread."""
    def body():
        a, b = socket.socketpair()

        def reader():
            return a.recv(10)

        g = gonet.go(reader)
        gonet.sleep(0.05)
        b.sendall(b"one")
        assert g.join() == b"one"
        out = {}

        def thread():
            a.settimeout(0.1)
            try:
                a.recv(1)
            except TimeoutError:
                out["timeout"] = True
            a.settimeout(None)
            out["data"] = a.recv(10)  # blocks the thread until the data comes

        t = threading.Thread(target=thread)
        t.start()
        gonet.sleep(0.3)
        b.sendall(b"two")
        t.join()
        a.close()
        b.close()
        return out

    assert run(body) == {"timeout": True, "data": b"two"}


def test_two_goroutines_read_one_socket(run, patched):
    def body():
        a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
        gs = [gonet.go(a.recv, 10) for _ in range(2)]
        gonet.sleep(0.05)
        b.send(b"1")
        b.send(b"2")
        got = sorted(g.join() for g in gs)
        a.close()
        b.close()
        return got

    assert run(body) == [b"1", b"2"]


# -- ssl --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tls():
    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    cert = ca.issue_cert("localhost", "127.0.0.1")
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(server)
    client = ssl.create_default_context()
    ca.configure_trust(client)
    return server, client


def test_ssl_handshake_read_write_unwrap(run, patched, tls):
    sctx, cctx = tls

    def body():
        ls = socket.socket()
        ls.bind(("127.0.0.1", 0))
        ls.listen()
        port = ls.getsockname()[1]

        def server():
            c, _ = ls.accept()
            s = sctx.wrap_socket(c, server_side=True)
            time.sleep(0.2)  # the client waits for the first bytes meanwhile
            while True:
                d = s.recv(65536)
                if not d or d == b"bye":
                    break
                s.sendall(d)
            s.unwrap().close()

        gonet.go(server)

        def client(i):
            raw = socket.create_connection(("127.0.0.1", port), timeout=5)
            s = cctx.wrap_socket(raw, server_hostname="localhost")
            return s

        stop, ticks = [], []
        gonet.go(_ticker, stop, ticks)
        t = time.monotonic()
        s = client(0)
        big = os.urandom(300_000)
        s.sendall(big)
        got = b""
        while len(got) < len(big):
            got += s.recv(65536)
        s.sendall(b"bye")
        plain = s.unwrap()
        stop.append(1)
        plain.close()
        ls.close()
        return got == big, _ticks_since(ticks, t)

    ok, ticks = run(body)
    assert ok
    assert ticks >= 3


def test_ssl_handshake_timeout(run, patched, tls):
    _, cctx = tls

    def body():
        ls = socket.socket()  # accepts (the kernel does) but never speaks TLS
        ls.bind(("127.0.0.1", 0))
        ls.listen()
        raw = socket.create_connection(ls.getsockname(), timeout=0.2)
        t = time.monotonic()
        with pytest.raises(TimeoutError, match="handshake operation timed out"):
            cctx.wrap_socket(raw, server_hostname="localhost")
        took = time.monotonic() - t
        ls.close()
        return took

    assert 0.15 <= run(body) < 1.5


# -- select, poll, epoll, selectors -------------------------------------------------


@pytest.mark.parametrize("kind", ["select", "poll", "epoll", "selector"])
def test_select_family_parks(run, patched, kind):
    def wait_readable(sock, timeout):
        if kind == "select":
            return bool(select.select([sock], [], [], timeout)[0])
        if kind == "poll":
            p = select.poll()
            p.register(sock, select.POLLIN)
            return bool(p.poll(None if timeout is None else timeout * 1000))
        if kind == "epoll":
            with select.epoll() as ep:
                ep.register(sock.fileno(), select.EPOLLIN)
                return bool(ep.poll(timeout))
        with selectors.DefaultSelector() as sel:
            sel.register(sock, selectors.EVENT_READ)
            return bool(sel.select(timeout))

    def body():
        a, b = socket.socketpair()
        stop, ticks = [], []
        gonet.go(_ticker, stop, ticks)
        t = time.monotonic()
        assert wait_readable(a, 0.15) is False  # a timeout, parked
        timed = time.monotonic() - t
        assert wait_readable(a, 0) is False

        def writer():
            gonet.sleep(0.1)
            b.send(b"x")

        gonet.go(writer)
        t2 = time.monotonic()
        assert wait_readable(a, None) is True
        woke = time.monotonic() - t2
        stop.append(1)
        progress = _ticks_since(ticks, t)
        a.close()
        b.close()
        return timed, woke, progress

    timed, woke, progress = run(body)
    assert 0.1 <= timed < 1.0
    assert 0.05 <= woke < 1.0
    assert progress >= 3


# -- threading and queue ---------------------------------------------------------------


def test_lock_shared_by_goroutines_of_one_thread(run, patched):
    """The holder sleeps (parks) inside the lock: the other goroutine must
    park too, not block the thread the holder needs to wake up on."""
    def body():
        lk = threading.Lock()
        order = []

        def holder():
            with lk:
                order.append("holder in")
                time.sleep(0.1)
                order.append("holder out")

        def waiter():
            with lk:
                order.append("waiter in")

        gs = [gonet.go(holder), gonet.go(waiter)]
        for g in gs:
            g.join()
        assert lk.acquire(blocking=False)
        assert not lk.acquire(timeout=0.05)
        lk.release()
        with pytest.raises(RuntimeError):
            lk.release()
        return order

    assert run(body) == ["holder in", "holder out", "waiter in"]


def test_rlock_is_owned_per_goroutine(run, patched):
    def body():
        rl = threading.RLock()
        inside = []

        def worker(i):
            with rl:
                with rl:  # re-entrant for its owner
                    inside.append(i)
                    assert len(inside) == 1  # nobody else is in here
                    time.sleep(0.02)
                    inside.remove(i)

        gs = [gonet.go(worker, i) for i in range(5)]
        for g in gs:
            g.join()
        g = gonet.go(rl.acquire)
        g.join()
        with pytest.raises(RuntimeError):
            rl.release()  # main is not the owner

    run(body)


def test_condition_event_semaphore_queue(run, patched):
    def body():
        cond = threading.Condition()
        items = []

        def consumer():
            with cond:
                assert cond.wait_for(lambda: items, timeout=2)
                return items.pop()

        g = gonet.go(consumer)
        gonet.sleep(0.05)
        with cond:
            items.append("it")
            cond.notify()
        assert g.join() == "it"
        with cond:
            assert cond.wait(0.05) is False

        ev = threading.Event()
        gs = [gonet.go(ev.wait, 2) for _ in range(3)]
        gonet.sleep(0.05)
        ev.set()
        assert [g.join() for g in gs] == [True] * 3

        sem = threading.BoundedSemaphore(2)
        active = []
        peak = []

        def limited():
            with sem:
                active.append(1)
                peak.append(len(active))
                time.sleep(0.02)
                active.pop()

        for g in [gonet.go(limited) for _ in range(6)]:
            g.join()
        assert max(peak) == 2

        q = queue.Queue(maxsize=1)
        q.put(1)

        def producer():
            q.put(2)  # full: parks until the get below
            return "put"

        p = gonet.go(producer)
        gonet.sleep(0.02)
        assert q.get() == 1
        assert p.join() == "put"
        assert q.get() == 2
        with pytest.raises(queue.Empty):
            q.get(timeout=0.05)
        sq = queue.SimpleQueue()
        g = gonet.go(sq.get)
        gonet.sleep(0.02)
        sq.put("s")
        assert g.join() == "s"

    run(body)


def test_goroutine_waits_for_a_lock_held_by_another_thread(run, patched):
    def body():
        lk = threading.Lock()
        ready = threading.Event()
        release = threading.Event()

        def holder():
            with lk:
                ready.set()
                release.wait(5)

        t = threading.Thread(target=holder)
        t.start()
        assert ready.wait(5)
        stop, ticks = [], []
        gonet.go(_ticker, stop, ticks)
        g = gonet.go(lk.acquire)
        start = time.monotonic()
        gonet.sleep(0.2)
        assert not g.done()
        polls = _sched.get_sched().stats["polls"]
        release.set()
        assert g.join(5) is True
        stop.append(1)
        lk.release()
        t.join()  # Thread.join parks too
        return _ticks_since(ticks, start), polls

    ticks, polls = run(body)
    assert ticks >= 3
    assert polls < 200  # woken by the other thread, not by spinning


def test_thread_join_parks(run, patched):
    def body():
        t = threading.Thread(target=lambda: time.sleep(0.2))  # a plain thread: blocks it
        t.start()
        stop, ticks = [], []
        gonet.go(_ticker, stop, ticks)
        start = time.monotonic()
        t.join()
        stop.append(1)
        return _ticks_since(ticks, start)

    assert run(body) >= 3


# -- subprocess ---------------------------------------------------------------------


def test_subprocess_waits_park(run, patched):
    def body():
        stop, ticks = [], []
        gonet.go(_ticker, stop, ticks)
        start = time.monotonic()
        gs = [gonet.go(subprocess.run, [sys.executable, "-c", "import time; time.sleep(0.3)"])
              for _ in range(4)]
        codes = [g.join().returncode for g in gs]
        out = subprocess.run([sys.executable, "-c", "print('hi')"], capture_output=True,
                             check=True).stdout
        p = subprocess.Popen([sys.executable, "-c", "import sys; sys.exit(3)"])
        pid, status = os.waitpid(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        with pytest.raises(subprocess.TimeoutExpired):
            subprocess.run([sys.executable, "-c", "import time; time.sleep(5)"], timeout=0.2)
        stop.append(1)
        return codes, out, pid == p.pid, p.returncode, _ticks_since(ticks, start)

    codes, out, same, rc, ticks = run(body)
    assert codes == [0] * 4
    assert out.strip() == b"hi"
    assert same and rc == 3
    assert ticks >= 3


def test_goroutines_of_two_threads_share_a_queue_and_a_lock(patched):
    """Each thread's goroutines park; the wake-ups cross schedulers."""
    from conftest import run_in_thread

    q = queue.Queue()
    lk = threading.Lock()
    counter = [0]

    def producer():
        def put(i):
            with lk:
                v = counter[0]
                time.sleep(0.001)  # parks holding the lock: the others must wait
                counter[0] = v + 1
            q.put(i)

        for g in [gonet.go(put, i) for i in range(20)]:
            g.join()

    def consumer():
        got = [g.join() for g in [gonet.go(q.get, True, 10) for _ in range(20)]]
        return sorted(got)

    out = {}
    c = threading.Thread(target=lambda: out.setdefault("c", run_in_thread(consumer)))
    c.start()
    run_in_thread(producer)
    c.join(30)
    assert out["c"] == list(range(20))
    assert counter[0] == 20
