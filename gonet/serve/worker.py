"""Serve layer: the worker process: one HTTP server on its own scheduler.

Forked by the master (``master.py``) with its slot's listening sockets and
its end of a control socketpair. It loads the application (``boot``), takes
the sockets over through the net layer (``file_listener``), serves every one
in a goroutine, and drains when told to stop.

It talks to the master over the socketpair, one line per message: ``ready
DESCRIPTION``, ``recycle`` (asked by ``--max-requests``), ``error CODE
MESSAGE`` (the app could not be loaded). EOF on the socketpair means the
master is gone: the worker drains and exits.

Signals (through ``gonet.signal``: a channel the worker's signal goroutine
reads, never code in a handler): SIGTERM / SIGINT drain and exit 0, a second
SIGINT exits at once; SIGQUIT exits at once (gunicorn's quick shutdown);
SIGUSR1 reopens the log files; SIGUSR2 writes every goroutine's stack to the
log (Go's SIGQUIT dump, on a signal the master does not use for anything
else). SIGHUP, SIGTTIN, SIGTTOU and SIGWINCH are the master's and ignored
here. ``faulthandler`` is on: a SIGABRT (the master's watchdog, when the
worker could not report its own stall) prints every thread's Python stack
before the process dies.

Watchdog: with ``--timeout``, once the app is loaded the runtime's sysmon
thread writes the worker's heartbeat (the last moment its scheduler was seen
idle or making progress) into memory the master shares (:class:`Heartbeat`),
and logs a goroutine dump when a stall reaches the timeout; the master kills
a worker whose heartbeat is older than that.
"""

from __future__ import annotations

import faulthandler
import io
import logging
import mmap
import os
import signal
import socket
import struct
import sys
import time
from collections.abc import Callable
from typing import Any

from gonet import signal as gosignal
from gonet.chan import Chan
from gonet.http.debug import publish
from gonet.net import file_conn, file_listener
from gonet.runtime import debug, sysmon
from gonet.runtime.sched import get_sched, go_named
from gonet.serve.app import BootError
from gonet.serve.logs import reopen_files

__all__ = ["BootFn", "Heartbeat", "run_worker", "WORKER_SIGNALS"]

#: The signals a worker handles (the master blocks them across fork).
WORKER_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2)
_IGNORED = (signal.SIGHUP, signal.SIGTTIN, signal.SIGTTOU, signal.SIGWINCH)


class Heartbeat:
    """Sixteen bytes of memory shared by the master and one worker (an
    anonymous MAP_SHARED mapping made before fork): the worker's last moment
    of progress (``time.monotonic()``, 0 before the watchdog starts) and
    whether it logged its own goroutine dump for the current stall."""

    def __init__(self, timeout: float | None) -> None:
        self.timeout = timeout
        self.mem = mmap.mmap(-1, 16)

    def beat(self, t: float) -> None:
        struct.pack_into("d", self.mem, 0, t)

    def last(self) -> float:
        return struct.unpack_from("d", self.mem, 0)[0]

    def mark_dumped(self) -> None:
        struct.pack_into("d", self.mem, 8, 1.0)

    def dumped(self) -> bool:
        return struct.unpack_from("d", self.mem, 8)[0] != 0.0

    def close(self) -> None:
        self.mem.close()

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
               graceful_timeout: float | None, heartbeat: Heartbeat | None = None) -> int:
    """Body of a worker process: load the app, serve ``socks`` (listening
    sockets), drain on a stop signal.

    ``ctl`` is the worker's end of the master's socketpair (None: no master).
    The sockets are taken over with ``file_listener`` / ``file_conn`` and the
    originals closed. ``heartbeat`` carries the watchdog's timeout and
    heartbeat (None: no watchdog). Returns the process exit status.
    """
    faulthandler.enable(all_threads=True)
    sched = get_sched()  # a fresh one: runtime.after_fork dropped any inherited
    stopper = _Stopper(sched)
    pid = os.getpid()
    sigc = Chan(16)
    gosignal.notify(sigc, *WORKER_SIGNALS)
    for sig in _IGNORED:
        signal.signal(sig, signal.SIG_IGN)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    # Forked by the Master with these blocked (see Master._spawn): from here
    # on, a pending SIGTERM reaches the signal goroutine.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, WORKER_SIGNALS + _IGNORED + (signal.SIGCHLD,))

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
        if e.detail:
            sys.stderr.write(e.detail)
            sys.stderr.flush()
        send(f"error {e.code} {e}")
        if ctl_conn is None:
            print(f"gonet: error: {e}", file=sys.stderr)
        return e.code
    except Exception as e:
        log.error("worker %d: boot failed", pid, exc_info=True)
        send(f"error 1 {type(e).__name__}: {e}")
        return 1

    listeners = [_take(file_listener, s) for s in socks]
    started = time.time()
    publish("worker", lambda: {"pid": pid, "serves": info, "started": started,
                               "watchdog_timeout": heartbeat.timeout if heartbeat else None})

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
        sigints = 0
        for sig in sigc:
            if sig == signal.SIGINT:
                sigints += 1
                if sigints >= 2:
                    os._exit(1)
                stopper.stop("SIGINT")
            elif sig == signal.SIGTERM:
                stopper.stop("SIGTERM")
            elif sig == signal.SIGQUIT:
                log.info("worker %d: SIGQUIT: exiting at once", pid)
                logging.shutdown()
                os._exit(0)
            elif sig == signal.SIGUSR1:
                n = reopen_files()
                log.info("worker %d: SIGUSR1: reopened %d log file%s", pid, n,
                         "" if n == 1 else "s")
            elif sig == signal.SIGUSR2:
                buf = io.StringIO()
                debug.dump_goroutines(buf)
                log.warning("worker %d: goroutine dump (SIGUSR2):\n%s", pid,
                            buf.getvalue().rstrip("\n"))

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
    if heartbeat is not None and heartbeat.timeout:
        def on_stall(text: str) -> None:
            log.error("worker %d: watchdog: no progress for --timeout %g s; %s", pid,
                      heartbeat.timeout, text.rstrip("\n"))
            heartbeat.mark_dumped()

        sysmon.watchdog(heartbeat.timeout, heartbeat.beat, on_stall)
    reason = stopper.wait()
    log.info("worker %d: shutting down (%s)", pid, reason)
    try:
        server.shutdown(timeout=graceful_timeout)
    except Exception as e:
        log.warning("worker %d: shutdown: %s", pid, e)
    return 0
