"""Serve layer: the worker process: one HTTP server on its own scheduler.

Forked by the master (``master.py``) with its slot's listening sockets and
its end of a control socketpair. It loads the application (``boot``), takes
the sockets over through the net layer (``file_listener``), serves every one
in a goroutine, and drains when told to stop.

It talks to the master over the socketpair, one line per message: ``ready
DESCRIPTION``, ``recycle`` (asked by ``--max-requests``), ``error CODE
MESSAGE`` (the app could not be loaded). EOF on the socketpair means the
master is gone: the worker drains and exits.

Signals: SIGTERM / SIGINT drain and exit 0; a second SIGINT exits at once;
SIGHUP is ignored (it is the master's). Signal numbers reach the signal
goroutine through ``signal.set_wakeup_fd`` and a socketpair the poller
watches, so a handler never runs gonet code itself.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
from collections.abc import Callable
from typing import Any

from gonet.net import file_conn, file_listener
from gonet.runtime.sched import get_sched, go_named
from gonet.serve.app import BootError

__all__ = ["BootFn", "run_worker"]

log = logging.getLogger("gonet.serve")


#: boot(recycle) -> (server, description). Called in the worker after fork;
#: the server has serve(listener) and shutdown(timeout); the description (e.g.
#: "WSGI app, 4 threads") goes into the master's startup line; ``recycle()``
#: asks the master for a replacement worker. Raise BootError to fail cleanly.
BootFn = Callable[[Callable[[], None]], tuple[Any, str]]


class _Stopper:
    """One-shot stop request for the worker's main goroutine (same thread only)."""

    def __init__(self, sched: Any) -> None:
        self.sched = sched
        self.reason: str | None = None
        self._waiter: Any = None

    def stop(self, reason: str) -> None:
        if self.reason is None:
            self.reason = reason
            if self._waiter is not None:
                self.sched.ready(self._waiter)

    def wait(self) -> str:
        if self.reason is None:
            self._waiter = self.sched.current
            # A signal (another "thread" as far as deadlock detection goes)
            # may be the only thing left that can wake us.
            self.sched.external_waiters += 1
            try:
                while self.reason is None:
                    self.sched.park("wait for stop")
            finally:
                self.sched.external_waiters -= 1
                self._waiter = None
        return self.reason


def _take(wrap: Callable[[socket.socket], Any], sock: socket.socket) -> Any:
    """``wrap`` (file_listener / file_conn) the socket, then close our original."""
    try:
        return wrap(sock)
    finally:
        sock.close()


def run_worker(socks: list[socket.socket], ctl: socket.socket | None, boot: BootFn,
               graceful_timeout: float | None) -> int:
    """Body of a worker process: load the app, serve ``socks`` (listening
    sockets), drain on a stop signal.

    ``ctl`` is the worker's end of the master's socketpair (None: no master).
    The sockets are taken over with ``file_listener`` / ``file_conn`` and the
    originals closed. Returns the process exit status.
    """
    # The wakeup fd carries signal numbers to the signal goroutine; it must
    # stay valid until the process exits (a late SIGTERM from the master
    # would otherwise be written to a closed fd).
    sig_r, sig_w = socket.socketpair()
    sig_w.setblocking(False)
    signal.set_wakeup_fd(sig_w.fileno(), warn_on_full_buffer=False)
    try:
        return _run_worker(socks, ctl, boot, graceful_timeout, sig_r)
    finally:
        signal.set_wakeup_fd(-1)
        sig_w.close()


def _run_worker(socks: list[socket.socket], ctl: socket.socket | None, boot: BootFn,
                graceful_timeout: float | None, sig_r: socket.socket) -> int:
    sched = get_sched()  # a fresh one: runtime.after_fork dropped any inherited
    stopper = _Stopper(sched)
    pid = os.getpid()
    sigints = 0

    def on_signal(signum: int, frame: Any) -> None:
        # Runs between two bytecodes of whatever greenlet is current; it only
        # counts. The wakeup fd carries the signal to _signal_loop.
        nonlocal sigints
        if signum == signal.SIGINT:
            sigints += 1
            if sigints >= 2:
                os._exit(1)

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, on_signal)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    # Forked by the Master with these blocked (see Master._spawn): from here
    # on, a pending SIGTERM lands in on_signal and the wakeup fd.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, (signal.SIGTERM, signal.SIGINT, signal.SIGHUP,
                                                 signal.SIGCHLD))

    ctl_conn = _take(file_conn, ctl) if ctl is not None else None

    def send(msg: str) -> None:
        if ctl_conn is None:
            return
        try:
            ctl_conn.write(msg.replace("\n", " ").encode("utf-8", "replace") + b"\n")
        except OSError:
            pass

    recycle_sent = False

    def recycle() -> None:
        nonlocal recycle_sent
        if recycle_sent:
            return
        recycle_sent = True
        if ctl_conn is None:
            stopper.stop("max requests reached")
        else:
            log.info("worker %d: max requests reached, asking for a replacement", pid)
            go_named("recycle", send, "recycle")

    try:
        server, info = boot(recycle)
    except BootError as e:
        send(f"error {e.code} {e}")
        if ctl_conn is None:
            print(f"gonet: error: {e}", file=sys.stderr)
        return e.code
    except Exception as e:
        log.debug("worker %d: boot failed", pid, exc_info=True)
        send(f"error 1 {type(e).__name__}: {e}")
        return 1

    listeners = [_take(file_listener, s) for s in socks]

    def serve(ln: Any) -> None:
        try:
            server.serve(ln)
        except Exception as e:
            if stopper.reason is None:
                log.error("worker %d: serving %s failed: %s", pid, ln.addr, e)
                stopper.stop(f"serve failed: {e}")

    for ln in listeners:
        go_named(f"serve {ln.addr}", serve, ln)

    def signal_loop() -> None:
        rconn = _take(file_conn, sig_r)
        while True:
            try:
                data = rconn.read(64)
            except OSError:
                return
            if not data:
                return
            for signum in data:
                if signum in (signal.SIGTERM, signal.SIGINT):
                    stopper.stop(signal.Signals(signum).name)

    def watch_master() -> None:
        try:
            while ctl_conn.read(64):
                pass
        except OSError:
            pass
        stopper.stop("master exited")

    go_named("signals", signal_loop)
    if ctl_conn is not None:
        go_named("master watch", watch_master)
    send(f"ready {info}")
    log.debug("worker %d: ready", pid)
    reason = stopper.wait()
    log.info("worker %d: shutting down (%s)", pid, reason)
    try:
        server.shutdown(timeout=graceful_timeout)
    except Exception as e:
        log.warning("worker %d: shutdown: %s", pid, e)
    return 0
