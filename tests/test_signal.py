"""gonet.signal (Go's os/signal) and Go's SIGQUIT dump, in plain scripts.

Each test runs a small program in its own process (signal handlers belong
to a process's main thread) and synchronises on what it prints."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import httpx
import pytest

pytestmark = pytest.mark.timeout(30)


def start(code: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_notify_delivers_to_a_channel_and_stop_restores():
    p = start("""
        import os, signal
        import gonet

        c = gonet.Chan(4)
        gonet.signal.notify(c, signal.SIGUSR1, signal.SIGUSR2)
        os.kill(os.getpid(), signal.SIGUSR1)
        os.kill(os.getpid(), signal.SIGUSR2)
        got = [c.recv(), c.recv()]
        print(sorted(s.name for s in got))
        # a full channel misses signals instead of blocking the loop
        full = gonet.Chan(1)
        gonet.signal.notify(full, signal.SIGUSR1)
        for _ in range(3):
            os.kill(os.getpid(), signal.SIGUSR1)
        gonet.sleep(0.2)
        print(len(full), c.recv().name)
        gonet.signal.stop(c)
        gonet.signal.stop(full)
        print(signal.getsignal(signal.SIGUSR1) == signal.SIG_DFL)
        gonet.signal.ignore(signal.SIGUSR2)
        os.kill(os.getpid(), signal.SIGUSR2)
        print(gonet.signal.ignored(signal.SIGUSR2))
    """)
    out, err = p.communicate(timeout=20)
    assert p.returncode == 0, err
    assert out.split("\n")[:4] == ["['SIGUSR1', 'SIGUSR2']", "1 SIGUSR1", "True", "True"]


SERVER = """
    import signal, sys, time
    import gonet
    from gonet import context, http

    def slow(w, r):
        print("handling", flush=True)
        gonet.sleep(0.5)
        w.write(b"done")

    srv = http.Server(handler=slow)
    ln = gonet.listen("tcp", "127.0.0.1:0")
    ctx, stop = gonet.signal.notify_context(context.background(), signal.SIGTERM)
    gonet.go(srv.serve, ln)
    print(ln.addr.port, flush=True)
    ctx.done().recv_ok()
    stop()
    print("shutting down", ctx.err(), flush=True)
    print("clean", srv.shutdown(10), flush=True)
"""


def test_notify_context_shuts_a_server_down_gracefully():
    p = start(SERVER)
    try:
        port = int(p.stdout.readline())
        with httpx.Client() as c:
            import threading

            res = {}
            t = threading.Thread(target=lambda: res.update(
                r=c.get(f"http://127.0.0.1:{port}/", timeout=10)))
            t.start()
            assert p.stdout.readline() == "handling\n"  # the request is in flight
            os.kill(p.pid, signal.SIGTERM)
            t.join(10)
        assert res["r"].text == "done"
        out, err = p.communicate(timeout=10)
        assert p.returncode == 0, err
        assert "shutting down context canceled" in out and "clean True" in out
    finally:
        p.kill()
        p.wait()


def test_sigquit_dumps_every_goroutine_and_exits_2():
    p = start("""
        import gonet

        def parked_worker():
            gonet.Chan().recv()

        gonet.go_named("my-parked-worker", parked_worker)
        gonet.go_named("my-sleeper", gonet.sleep, 60)
        gonet.sleep(0.01)
        print("ready", flush=True)
        gonet.sleep(60)
    """)
    try:
        assert p.stdout.readline() == "ready\n"
        os.kill(p.pid, signal.SIGQUIT)
        out, err = p.communicate(timeout=10)
    finally:
        p.kill()
        p.wait()
    assert p.returncode == 2
    assert err.startswith("SIGQUIT: quit")
    assert "[chan receive]: my-parked-worker" in err or "my-parked-worker" in err
    assert "my-sleeper" in err and "goroutine 1 [" in err
    assert "parked_worker" in err  # its stack


def test_a_program_that_handles_sigquit_keeps_its_handler():
    p = start("""
        import signal
        import gonet
        signal.signal(signal.SIGQUIT, lambda *a: print("mine", flush=True))
        gonet.sleep(0)
        print(signal.getsignal(signal.SIGQUIT).__name__, flush=True)
    """)
    out, err = p.communicate(timeout=10)
    assert p.returncode == 0, err
    assert out.strip() == "<lambda>"
