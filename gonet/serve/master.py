"""Serve layer: the master process, the supervisor behind ``gonet serve``.

This sits above ``gonet.http``: it runs one HTTP server per worker process,
each worker with its own scheduler and netpoller, and a master process that
owns the listening sockets and keeps the right number of workers alive. The
master is plain blocking Python (``select`` on a self-pipe and the workers'
control sockets); it never creates a gonet scheduler, so no epoll instance is
shared across ``fork``.

Sockets (``binds.py``)
----------------------

The master opens every listening socket before the first worker exists and
keeps its own copy of each open for as long as it runs. That is what makes
restarts lossless: closing a SO_REUSEPORT listener resets the connections
waiting in its accept queue, so a socket is never closed while the server
runs; a connection that arrives while its slot's worker is being replaced
waits in the backlog until the new worker accepts it.

Worker life (as the master sees it)
-----------------------------------

::

    BOOTING --"ready"--> READY --SIGTERM--> STOPPING --exit--> gone
       |                   |
       +---- exit ---------+-----> gone (unexpected: restart the slot)

A worker talks to the master over a socketpair (``worker.py`` has the
messages).

Invariants:

- A slot always has a BOOTING or READY worker, unless the master is stopping
  or a restart of the slot is pending (its back-off timer is armed).
- An old worker is sent SIGTERM only after its replacement said ``ready``
  (SIGHUP, recycling), so the slot is never without an accepting process.
- Until every slot has been READY once (boot), any worker exit is fatal: the
  master stops the others and exits non-zero with the worker's reason.

Signals
-------

Master (gunicorn's meanings; none of them can take the service down by
accident):

- TERM / INT: graceful stop. The master closes its listening sockets first
  (Go's Shutdown closes listeners first: a new connection is refused at once
  instead of waiting in a backlog nobody will accept from), then each worker
  drains (``Server.shutdown`` bounded by the graceful timeout; the master
  SIGKILLs what is left a few seconds after that), then exit 0. A second
  INT kills the workers and exits 1 at once.
- QUIT: quick stop: sockets closed, workers told to exit at once (SIGQUIT),
  exit 0.
- HUP: replace every worker (new ones first, see above).
- TTIN / TTOU: one worker more / fewer (never fewer than one).
- USR1: reopen the log files, in the master and (forwarded) every worker.
- USR2: every worker writes its goroutine dump to the log (Go's SIGQUIT
  dump; gunicorn's USR2 binary upgrade is not supported, HUP reloads code).
  ``kill -USR2`` to one worker's pid dumps that worker alone.

Watchdog (``--timeout``)
------------------------

Each worker shares a :class:`~gonet.serve.worker.Heartbeat` with the master:
its last moment of progress, written by the worker's sysmon thread. A READY
worker whose heartbeat is older than the timeout (plus a margin in which the
worker logs its own goroutine dump) is killed and its slot restarted: with
SIGKILL when it logged its dump, else with SIGABRT first, whose
``faulthandler`` output names what every thread runs, then SIGKILL.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import signal
import socket
import sys
import time
import traceback
from typing import Any

from gonet.serve.binds import ListenSet
from gonet.serve.logs import reopen_files
from gonet.serve.worker import WORKER_SIGNALS, BootFn, Heartbeat, run_worker

__all__ = ["Master"]

log = logging.getLogger("gonet.serve")

_KILL_MARGIN = 5.0  # seconds after the graceful timeout before SIGKILL
_BACKOFF_MIN = 0.1
_BACKOFF_MAX = 10.0
_HEALTHY_AFTER = 10.0  # a worker that lived this long resets its slot's back-off
_QUIT_GRACE = 5.0  # SIGQUIT: seconds before the workers left are killed
_WATCHDOG_MARGIN = 2.0  # seconds past --timeout in which a worker logs its own dump
_ABORT_GRACE = 2.0  # seconds between the watchdog's SIGABRT and its SIGKILL

BOOTING, READY, STOPPING = "booting", "ready", "stopping"
_MASTER_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGCHLD, signal.SIGQUIT,
                   signal.SIGTTIN, signal.SIGTTOU, signal.SIGUSR1, signal.SIGUSR2)
# Blocked across fork until the worker has its own handlers.
_BLOCK_IN_CHILD = tuple(set(_MASTER_SIGNALS) | set(WORKER_SIGNALS) | {signal.SIGWINCH})
#: A wake-up of the master's loop that is not a signal (the reloader's).
RELOAD = -1


class _Worker:
    __slots__ = ("pid", "slot", "ctl", "state", "started", "buf", "error", "hb", "kill_at")

    def __init__(self, pid: int, slot: int, ctl: socket.socket, hb: Heartbeat | None) -> None:
        self.pid = pid
        self.slot = slot
        self.ctl: socket.socket | None = ctl
        self.state = BOOTING
        self.started = time.monotonic()
        self.buf = b""
        self.error: tuple[int, str] | None = None  # (exit code, reason) from "error"
        self.hb = hb  # the watchdog's shared heartbeat (None: --timeout 0)
        self.kill_at: float | None = None  # the watchdog's SIGKILL after its SIGABRT

    def __repr__(self) -> str:
        return f"<worker {self.pid} slot {self.slot} {self.state}>"


def _describe_status(status: int) -> str:
    code = os.waitstatus_to_exitcode(status)
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = str(-code)
        return f"killed by {name}"
    return f"exit status {code}"


class Master:
    """The supervisor: forks ``workers`` workers over ``listen_set`` and keeps them alive.

    ``boot`` runs in each worker after fork (see :data:`BootFn`). ``run()``
    returns the master's exit status.
    """

    def __init__(self, listen_set: ListenSet, workers: int, boot: BootFn,
                 graceful_timeout: float | None = 30.0, timeout: float | None = None,
                 reloader: Any = None) -> None:
        if workers < 1:
            raise ValueError("workers must be at least 1")
        self.listen_set = listen_set
        self.nworkers = workers
        self.boot = boot
        self.graceful_timeout = graceful_timeout
        self.timeout = timeout  # the watchdog's (None: off)
        #: Something with start(wake) and stop() that calls wake() when the
        #: app's files change (--reload); see reload.py.
        self.reloader = reloader
        self.workers: dict[int, _Worker] = {}
        self._booted = False
        self._stopping = False
        self._exit_code = 0
        self._kill_deadline: float | None = None
        self._restart_at: dict[int, float] = {}  # slot -> when
        self._failures: dict[int, int] = {}  # slot -> consecutive short lives
        self._signals: list[int] = []
        self._sig_r = self._sig_w = -1
        self._sigints = 0
        self._quitting = False
        self._boot_failure: str | None = None
        self.info: str | None = None  # the first worker's description of the app

    # -- signals -----------------------------------------------------------------

    def _install_signals(self) -> None:
        self._sig_r, self._sig_w = os.pipe()
        os.set_blocking(self._sig_r, False)
        os.set_blocking(self._sig_w, False)
        signal.set_wakeup_fd(self._sig_w, warn_on_full_buffer=False)
        for sig in _MASTER_SIGNALS:
            signal.signal(sig, self._on_signal)

    def _on_signal(self, signum: int, frame: Any) -> None:
        self._signals.append(signum)

    def _restore_signals(self) -> None:
        signal.set_wakeup_fd(-1)
        for sig in _MASTER_SIGNALS:
            signal.signal(sig, signal.SIG_DFL)
        for fd in (self._sig_r, self._sig_w):
            if fd >= 0:
                os.close(fd)
        self._sig_r = self._sig_w = -1

    def _wake_reload(self) -> None:
        """From the reloader's thread: ask the loop for a reload."""
        self._signals.append(RELOAD)
        with contextlib.suppress(OSError):
            os.write(self._sig_w, b"\0")

    def _handle_signals(self) -> None:
        while self._signals:
            sig = self._signals.pop(0)
            if sig == signal.SIGINT:
                self._sigints += 1
                if self._sigints >= 2:
                    self._force_stop("second SIGINT")
                    return
                self.stop("SIGINT")
            elif sig == signal.SIGTERM:
                self.stop("SIGTERM")
            elif sig == signal.SIGQUIT:
                self.quick_stop()
            elif sig == signal.SIGHUP:
                self.reload()
            elif sig == RELOAD:
                if RELOAD not in self._signals:  # a burst of changes: one reload
                    self.reload("files changed")
            elif sig == signal.SIGTTIN:
                self.add_worker()
            elif sig == signal.SIGTTOU:
                self.remove_worker()
            elif sig == signal.SIGUSR1:
                n = reopen_files()
                log.info("SIGUSR1: reopened %d log file%s; telling the workers", n,
                         "" if n == 1 else "s")
                self._tell_workers(signal.SIGUSR1)
            elif sig == signal.SIGUSR2:
                log.info("SIGUSR2: asking %d worker%s for a goroutine dump", len(self.workers),
                         "" if len(self.workers) == 1 else "s")
                self._tell_workers(signal.SIGUSR2)

    def _tell_workers(self, sig: int) -> None:
        for w in self.workers.values():
            if w.state != STOPPING:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(w.pid, sig)

    # -- workers -------------------------------------------------------------------

    def _spawn(self, slot: int) -> _Worker:
        parent, child = socket.socketpair()
        sys.stdout.flush()
        sys.stderr.flush()
        # Signals stay blocked in the child until run_worker has its own
        # handlers: a SIGTERM sent to a worker that has just been forked must
        # reach the worker's handler, not the master's (copied by fork).
        old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, _BLOCK_IN_CHILD)
        hb = Heartbeat(self.timeout) if self.timeout else None
        pid = os.fork()
        if pid == 0:  # the worker
            code = 1
            try:
                parent.close()
                code = self._child(slot, child, hb)
            except SystemExit as e:
                code = e.code if isinstance(e.code, int) else 1
            except BaseException:
                traceback.print_exc()
            finally:
                with contextlib.suppress(Exception):
                    logging.shutdown()
                    sys.stdout.flush()
                    sys.stderr.flush()
                os._exit(code)
        signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)
        child.close()
        parent.setblocking(False)
        w = _Worker(pid, slot, parent, hb)
        self.workers[pid] = w
        log.debug("spawned worker %d (slot %d)", pid, slot)
        return w

    def _child(self, slot: int, ctl: socket.socket, hb: Heartbeat | None) -> int:
        self._restore_signals()
        if self.reloader is not None:
            self.reloader.forget()  # its thread did not survive the fork
        for w in self.workers.values():
            if w.ctl is not None:
                w.ctl.close()
            if w.hb is not None:
                w.hb.close()
        self.workers.clear()
        mine = self.listen_set.for_slot(slot)
        self.listen_set.close_except(mine)
        return run_worker(mine, ctl, self.boot, self.graceful_timeout, hb)

    def _live(self, slot: int) -> list[_Worker]:
        return [w for w in self.workers.values() if w.slot == slot and w.state != STOPPING]

    def _terminate(self, w: _Worker) -> None:
        if w.state == STOPPING:
            return
        w.state = STOPPING
        with contextlib.suppress(ProcessLookupError):
            os.kill(w.pid, signal.SIGTERM)

    def _read_ctl(self, w: _Worker) -> None:
        try:
            data = w.ctl.recv(4096)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            w.ctl.close()
            w.ctl = None
            return
        w.buf += data
        while b"\n" in w.buf:
            line, w.buf = w.buf.split(b"\n", 1)
            self._on_message(w, line.decode("utf-8", "replace"))

    def _on_message(self, w: _Worker, msg: str) -> None:
        if msg == "ready" or msg.startswith("ready "):
            if w.state != BOOTING:
                return
            w.state = READY
            if self.info is None:
                self.info = msg[6:]
            log.debug("worker %d (slot %d) ready", w.pid, w.slot)
            for old in list(self.workers.values()):
                if old.slot == w.slot and old is not w and old.state == READY:
                    log.info("worker %d replaced by %d", old.pid, w.pid)
                    self._terminate(old)
            if self._stopping:
                self._terminate(w)
            elif not self._booted and all(self._ready_slot(s) for s in range(self.nworkers)):
                self._booted = True
                log.info("listening on %s with %d worker%s%s", ", ".join(self.listen_set.urls),
                         self.nworkers, "" if self.nworkers == 1 else "s",
                         f" ({self.info})" if self.info else "")
                log.debug("worker pids: %s", " ".join(
                    str(x.pid) for x in self.workers.values() if x.state == READY))
        elif msg == "recycle":
            if self._stopping or w.state != READY:
                return
            if not any(x.state == BOOTING for x in self._live(w.slot)):
                log.info("worker %d reached max requests: starting a replacement", w.pid)
                self._spawn(w.slot)
        elif msg.startswith("error "):
            _, code, reason = (msg.split(" ", 2) + ["", ""])[:3]
            w.error = (int(code) if code.isdigit() else 1, reason)

    def _ready_slot(self, slot: int) -> bool:
        return any(w.state == READY for w in self._live(slot))

    def _reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            w = self.workers.pop(pid, None)
            if w is None:
                continue
            if w.hb is not None:
                w.hb.close()
                w.hb = None
            if w.ctl is not None:
                # Pick up a last "error" line the worker wrote before exiting.
                with contextlib.suppress(OSError):
                    self._read_ctl(w)
                if w.ctl is not None:
                    w.ctl.close()
                    w.ctl = None
            self._on_exit(w, status)

    def _on_exit(self, w: _Worker, status: int) -> None:
        how = _describe_status(status)
        lived = time.monotonic() - w.started
        if w.state == STOPPING:
            log.debug("worker %d stopped (%s)", w.pid, how)
            if how != "exit status 0":
                log.warning("worker %d stopped with %s", w.pid, how)
            return
        reason = w.error[1] if w.error else how
        if self._stopping:
            return
        if not self._booted:
            # Fatal. The one line printed by run() is all the user sees (no
            # traceback: --log-level debug has the details).
            code = w.error[0] if w.error else 1
            self._exit_code = code or 1
            self._boot_failure = reason if w.error else f"worker {w.pid} failed to boot: {how}"
            self._force_stop(None)
            return
        if w.state == BOOTING and self._ready_slot(w.slot):
            # A replacement (SIGHUP / recycle) that did not come up: the old
            # worker keeps serving.
            log.error("replacement worker %d failed to boot (%s); keeping worker(s) %s", w.pid,
                      reason, " ".join(str(x.pid) for x in self._live(w.slot)))
            return
        if self._live(w.slot):
            return
        failures = self._failures.get(w.slot, 0)
        failures = 1 if lived >= _HEALTHY_AFTER else failures + 1
        self._failures[w.slot] = failures
        delay = min(_BACKOFF_MIN * 2 ** (failures - 1), _BACKOFF_MAX)
        log.warning("worker %d (slot %d) died: %s; restarting in %.1f s", w.pid, w.slot, reason,
                    delay)
        self._restart_at[w.slot] = time.monotonic() + delay

    # -- commands -----------------------------------------------------------------

    def stop(self, why: str) -> None:
        """Graceful stop of every worker; the master exits when they are gone."""
        if self._stopping:
            return
        self._stopping = True
        if why != "boot failure":
            log.info("%s: shutting down gracefully", why)
        self._stop_reloader()
        # Listeners first (Go's Shutdown): each worker closes its own copy as
        # it starts draining, and then the port refuses new connections.
        self.listen_set.close()
        self._restart_at.clear()
        for w in list(self.workers.values()):
            self._terminate(w)
        grace = self.graceful_timeout if self.graceful_timeout is not None else 3600.0
        self._kill_deadline = time.monotonic() + grace + _KILL_MARGIN

    def quick_stop(self) -> None:
        """SIGQUIT: close the sockets, tell every worker to exit at once."""
        if self._quitting:
            return
        self._quitting = True
        log.info("SIGQUIT: quick shutdown")
        self._stopping = True
        self._stop_reloader()
        self.listen_set.close()
        self._restart_at.clear()
        for w in list(self.workers.values()):
            w.state = STOPPING
            with contextlib.suppress(ProcessLookupError):
                os.kill(w.pid, signal.SIGQUIT)
        self._kill_deadline = time.monotonic() + _QUIT_GRACE

    def _stop_reloader(self) -> None:
        if self.reloader is not None:
            self.reloader.stop()

    def add_worker(self) -> None:
        """SIGTTIN: one worker more."""
        if self._stopping:
            return
        try:
            self.listen_set.add_slot()
        except OSError as e:
            log.error("SIGTTIN: cannot open a socket for another worker: %s", e)
            return
        slot = self.nworkers
        self.nworkers += 1
        log.info("SIGTTIN: %d workers", self.nworkers)
        self._failures.pop(slot, None)
        self._spawn(slot)

    def remove_worker(self) -> None:
        """SIGTTOU: one worker fewer (the last slot's drains), never fewer than one."""
        if self._stopping:
            return
        if self.nworkers <= 1:
            log.info("SIGTTOU: already at 1 worker")
            return
        self.nworkers -= 1
        slot = self.nworkers
        log.info("SIGTTOU: %d worker%s", self.nworkers, "" if self.nworkers == 1 else "s")
        self._restart_at.pop(slot, None)
        self._failures.pop(slot, None)
        for w in list(self.workers.values()):
            if w.slot == slot:
                self._terminate(w)
        self.listen_set.remove_slot()

    def _force_stop(self, why: str | None) -> None:
        if why is not None:
            log.warning("%s: forcing exit", why)
            self._exit_code = 1
        for w in self.workers.values():
            with contextlib.suppress(ProcessLookupError):
                os.kill(w.pid, signal.SIGKILL)
        for w in list(self.workers.values()):
            with contextlib.suppress(ChildProcessError):
                os.waitpid(w.pid, 0)
            if w.ctl is not None:
                w.ctl.close()
        self.workers.clear()
        self._stopping = True
        self._restart_at.clear()

    def reload(self, why: str = "SIGHUP") -> None:
        """SIGHUP: start a new worker in every slot; each old one drains once its
        replacement is ready."""
        if self._stopping:
            return
        log.info("%s: replacing %d worker%s", why, self.nworkers,
                 "" if self.nworkers == 1 else "s")
        for slot in range(self.nworkers):
            if slot in self._restart_at:
                continue
            if not any(w.state == BOOTING for w in self._live(slot)):
                self._spawn(slot)

    # -- the loop -------------------------------------------------------------------

    def run(self) -> int:
        """Fork the workers and supervise them until stopped; returns the exit status."""
        self._install_signals()
        try:
            for slot in range(self.nworkers):
                self._spawn(slot)
            if self.reloader is not None:
                self.reloader.start(self._wake_reload)
            while self.workers or not self._stopping:
                self._step()
        finally:
            self._stop_reloader()
            self._restore_signals()
            for w in self.workers.values():
                if w.ctl is not None:
                    w.ctl.close()
        if self._boot_failure is not None:
            print(f"gonet: error: {self._boot_failure}", file=sys.stderr)
        elif self._exit_code == 0:
            log.info("shut down")
        return self._exit_code

    def _step(self) -> None:
        now = time.monotonic()
        timeout = 1.0
        for when in self._restart_at.values():
            timeout = min(timeout, max(when - now, 0.0))
        if self._kill_deadline is not None:
            timeout = min(timeout, max(self._kill_deadline - now, 0.0))
        rl = [self._sig_r] + [w.ctl for w in self.workers.values() if w.ctl is not None]
        try:
            ready, _, _ = select.select(rl, [], [], timeout)
        except InterruptedError:
            ready = []
        if self._sig_r in ready:
            with contextlib.suppress(OSError):
                while os.read(self._sig_r, 4096):
                    pass
        self._handle_signals()
        for w in list(self.workers.values()):
            if w.ctl is not None and w.ctl in ready:
                self._read_ctl(w)
        self._reap()
        now = time.monotonic()
        for slot, when in list(self._restart_at.items()):
            if when <= now:
                del self._restart_at[slot]
                if not self._stopping and not self._live(slot):
                    self._spawn(slot)
        if self.timeout:
            self._watchdog(now)
        if self._kill_deadline is not None and now >= self._kill_deadline:
            self._kill_deadline = None
            for w in self.workers.values():
                log.warning("worker %d did not stop in time: killing it", w.pid)
                with contextlib.suppress(ProcessLookupError):
                    os.kill(w.pid, signal.SIGKILL)

    def _watchdog(self, now: float) -> None:
        for w in list(self.workers.values()):
            if w.kill_at is not None:
                if now >= w.kill_at:
                    w.kill_at = None
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(w.pid, signal.SIGKILL)
                continue
            if w.state != READY or w.hb is None:
                continue
            last = w.hb.last()
            if last <= 0 or now - last < self.timeout + _WATCHDOG_MARGIN:
                continue
            if w.hb.dumped():
                log.error("worker %d timed out (no progress for %.0f s, --timeout %g): "
                          "killing it", w.pid, now - last, self.timeout)
                with contextlib.suppress(ProcessLookupError):
                    os.kill(w.pid, signal.SIGKILL)
                w.kill_at = now + _ABORT_GRACE  # a no-op unless it survived somehow
            else:
                log.error("worker %d timed out (no progress for %.0f s, --timeout %g) and "
                          "could not report why: SIGABRT (its threads' stacks follow), then "
                          "SIGKILL", w.pid, now - last, self.timeout)
                with contextlib.suppress(ProcessLookupError):
                    os.kill(w.pid, signal.SIGABRT)
                w.kill_at = now + _ABORT_GRACE
