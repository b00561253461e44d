"""Process layer: the master/worker supervisor behind ``gonet serve``.

This sits above ``gonet.http``: it runs one HTTP server per worker process,
each worker with its own scheduler and netpoller, and a master process that
owns the listening sockets and keeps the right number of workers alive. The
master is plain blocking Python (``select`` on a self-pipe and the workers'
control sockets); it never creates a gonet scheduler, so no epoll instance is
shared across ``fork``.

Sockets
-------

The master binds every listening socket before the first worker exists, so a
bind error fails at once and a port of 0 is chosen only once. For TCP with
SO_REUSEPORT the master opens one socket per worker *slot*, all bound to the
same address, and the kernel spreads new connections over them; otherwise
(unix sockets, no SO_REUSEPORT, ``reuse_port=False``) all slots share one
socket, and their workers take turns accepting from it. A worker is forked
and inherits its slot's sockets.

The master keeps its own copy of every socket open for as long as it runs.
That is what makes restarts lossless: closing a SO_REUSEPORT listener resets
the connections waiting in its accept queue, so a socket is never closed while
the server runs; a connection that arrives while its slot's worker is being
replaced waits in the backlog until the new worker accepts it.

Worker life (as the master sees it)
-----------------------------------

::

    BOOTING --"ready"--> READY --SIGTERM--> STOPPING --exit--> gone
       |                   |
       +---- exit ---------+-----> gone (unexpected: restart the slot)

A worker talks to the master over a socketpair, one line per message:
``ready``, ``recycle`` (asked by ``--max-requests``), ``error CODE MESSAGE``
(the app could not be loaded). EOF on the worker's end means the master is
gone: the worker drains and exits.

Invariants:

- A slot always has a BOOTING or READY worker, unless the master is stopping
  or a restart of the slot is pending (its back-off timer is armed).
- An old worker is sent SIGTERM only after its replacement said ``ready``
  (SIGHUP, recycling), so the slot is never without an accepting process.
- Until every slot has been READY once (boot), any worker exit is fatal: the
  master stops the others and exits non-zero with the worker's reason.

Signals
-------

Master: SIGTERM / SIGINT stop every worker gracefully (each runs
``Server.shutdown`` bounded by the graceful timeout; the master SIGKILLs what
is left a few seconds after that), then exit 0. A second SIGINT kills the
workers and exits 1 at once. SIGHUP replaces every worker (new ones first).
Worker: SIGTERM / SIGINT drain and exit 0; a second SIGINT exits at once;
SIGHUP is ignored (it is the master's).
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
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = [
    "Bind",
    "BootError",
    "ListenSet",
    "Master",
    "parse_bind",
    "run_worker",
]

log = logging.getLogger("gonet.workers")

_BACKLOG = 4096  # the kernel clamps it to net.core.somaxconn
_KILL_MARGIN = 5.0  # seconds after the graceful timeout before SIGKILL
_BACKOFF_MIN = 0.1
_BACKOFF_MAX = 10.0
_HEALTHY_AFTER = 10.0  # a worker that lived this long resets its slot's back-off


class BootError(Exception):
    """The application could not be loaded; ``code`` is the exit status to use."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


# -- addresses and listening sockets -------------------------------------------


@dataclass
class Bind:
    """One ``--bind`` value: ``host:port``, ``[v6]:port``, ``:port`` or ``unix:/path``."""

    spec: str
    network: str  # "tcp" or "unix"
    host: str = ""
    port: int = 0
    path: str = ""


def parse_bind(spec: str) -> Bind:
    """Parse a ``--bind`` value; raises ValueError naming the bad value."""
    if spec.startswith("unix:"):
        path = spec[5:]
        if not path:
            raise ValueError(f"bind {spec!r}: empty unix socket path")
        return Bind(spec, "unix", path=path)
    from gonet.net import split_host_port

    try:
        host, port = split_host_port(spec)
    except ValueError as e:
        raise ValueError(f"bind {spec!r}: {e} (want HOST:PORT, [V6]:PORT or unix:PATH)") from None
    if not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"bind {spec!r}: invalid port {port!r}")
    return Bind(spec, "tcp", host=host, port=int(port))


def _resolve(b: Bind) -> tuple[int, Any]:
    if b.host == "":
        if socket.has_ipv6:
            try:
                socket.socket(socket.AF_INET6, socket.SOCK_STREAM).close()
                return socket.AF_INET6, ("::", b.port)
            except OSError:
                pass
        return socket.AF_INET, ("0.0.0.0", b.port)
    try:
        infos = socket.getaddrinfo(b.host, b.port, socket.AF_UNSPEC, socket.SOCK_STREAM, 0,
                                   socket.AI_PASSIVE)
    except socket.gaierror as e:
        raise OSError(f"listen tcp {b.spec}: lookup {b.host}: {e.strerror}") from None
    infos.sort(key=lambda i: i[0] != socket.AF_INET)
    return infos[0][0], infos[0][4]


def _tcp_socket(family: int, sa: Any, reuse_port: bool) -> tuple[socket.socket, bool]:
    s = socket.socket(family, socket.SOCK_STREAM)
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            try:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            except OSError:
                reuse_port = False
        if family == socket.AF_INET6:
            # An empty host means every address, IPv4 included (Go's "tcp").
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0 if sa[0] == "::" else 1)
        s.bind(sa)
        s.listen(_BACKLOG)
    except BaseException:
        s.close()
        raise
    return s, reuse_port


def _bind_error(b: Bind, e: OSError) -> OSError:
    """Go's wording: "listen tcp 127.0.0.1:80: bind: address already in use"."""
    msg = (e.strerror or str(e)).lower()
    where = b.path if b.network == "unix" else b.spec
    return OSError(e.errno, f"listen {b.network} {where}: bind: {msg}")


class _Bound:
    """The sockets of one bind: one per slot (SO_REUSEPORT) or one shared."""

    def __init__(self, bind: Bind, socks: list[socket.socket], url: str, reuse_port: bool) -> None:
        self.bind = bind
        self.socks = socks
        self.url = url
        self.reuse_port = reuse_port

    def for_slot(self, slot: int) -> socket.socket:
        return self.socks[slot % len(self.socks)]


class ListenSet:
    """Every listening socket of the server, opened by the master.

    ``reuse_port``: open one SO_REUSEPORT socket per slot for TCP binds where
    the platform allows it; otherwise (or for unix binds) one shared socket.
    """

    def __init__(self, binds: list[Bind], slots: int, reuse_port: bool = True) -> None:
        self.slots = slots
        self.bound: list[_Bound] = []
        try:
            for b in binds:
                self.bound.append(self._open(b, slots, reuse_port))
        except BaseException:
            self.close()
            raise

    @property
    def urls(self) -> list[str]:
        return [b.url for b in self.bound]

    @property
    def reuse_port(self) -> bool:
        """True when at least one bind has a SO_REUSEPORT socket per slot."""
        return any(b.reuse_port for b in self.bound)

    def for_slot(self, slot: int) -> list[tuple[socket.socket, str]]:
        return [(b.for_slot(slot), b.bind.network) for b in self.bound]

    def _open(self, b: Bind, slots: int, reuse_port: bool) -> _Bound:
        if b.network == "unix":
            return self._open_unix(b)
        family, sa = _resolve(b)
        reuse_port = reuse_port and hasattr(socket, "SO_REUSEPORT")
        try:
            if reuse_port and b.port != 0:
                # SO_REUSEPORT would let us join another server's group on the
                # same port without a word; a plain bind first tells us the
                # port is taken.
                probe, _ = _tcp_socket(family, sa, False)
                probe.close()
            first, reuse_port = _tcp_socket(family, sa, reuse_port)
        except OSError as e:
            raise _bind_error(b, e) from None
        socks = [first]
        sa = (sa[0], first.getsockname()[1]) + tuple(sa[2:])
        try:
            if reuse_port:
                for _ in range(slots - 1):
                    socks.append(_tcp_socket(family, sa, True)[0])
        except OSError as e:
            for s in socks:
                s.close()
            raise _bind_error(b, e) from None
        host = sa[0]
        url = f"http://[{host}]:{sa[1]}" if ":" in host else f"http://{host}:{sa[1]}"
        return _Bound(b, socks, url, reuse_port)

    def _open_unix(self, b: Bind) -> _Bound:
        path = b.path
        if os.path.exists(path):
            # A socket file left by a server that died: remove it if nobody
            # answers on it; refuse to steal it from a live server.
            probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                probe.connect(path)
            except (ConnectionRefusedError, FileNotFoundError):
                with contextlib.suppress(OSError):
                    os.unlink(path)
            except OSError:
                pass
            else:
                probe.close()
                raise OSError(98, f"listen unix {path}: bind: address already in use")
            finally:
                probe.close()
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.bind(path)
            s.listen(_BACKLOG)
        except OSError as e:
            s.close()
            raise _bind_error(b, e) from None
        return _Bound(b, [s], f"unix:{path}", False)

    def close_except(self, keep: list[socket.socket]) -> None:
        """In a worker: close the sockets that belong to other slots."""
        ids = {id(s) for s in keep}
        for b in self.bound:
            for s in b.socks:
                if id(s) not in ids:
                    s.close()

    def close(self, unlink: bool = True) -> None:
        for b in self.bound:
            for s in b.socks:
                s.close()
            if unlink and b.bind.network == "unix":
                with contextlib.suppress(OSError):
                    os.unlink(b.bind.path)
        self.bound = []


# -- the worker process ------------------------------------------------------------

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


def _fresh_scheduler() -> Any:
    from gonet.runtime import sched as _sched

    # A scheduler inherited through fork would share the parent's epoll
    # instance: drop it (the master never makes one, but a library user's
    # parent process might have).
    if getattr(_sched._tls, "sched", None) is not None:
        del _sched._tls.sched
    return _sched.get_sched()


def run_worker(socks: list[tuple[socket.socket, str]], ctl: socket.socket | None, boot: BootFn,
               graceful_timeout: float | None) -> int:
    """Body of a worker process: load the app, serve ``socks``, drain on a stop signal.

    ``ctl`` is the worker's end of the master's socketpair (None: no master).
    Returns the process exit status.
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


def _run_worker(socks: list[tuple[socket.socket, str]], ctl: socket.socket | None, boot: BootFn,
                graceful_timeout: float | None, sig_r: socket.socket) -> int:
    from gonet.net import Conn, Listener
    from gonet.poll.fd import FD
    from gonet.runtime.sched import go_named

    sched = _fresh_scheduler()
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

    ctl_conn = Conn(FD(ctl), "unix", None, None) if ctl is not None else None

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

    listeners = [Listener(FD(s), net) for s, net in socks]

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
        rconn = Conn(FD(sig_r), "unix", None, None)
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


# -- the master ------------------------------------------------------------------------

BOOTING, READY, STOPPING = "booting", "ready", "stopping"
_MASTER_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGCHLD)


class _Worker:
    __slots__ = ("pid", "slot", "ctl", "state", "started", "buf", "error")

    def __init__(self, pid: int, slot: int, ctl: socket.socket) -> None:
        self.pid = pid
        self.slot = slot
        self.ctl: socket.socket | None = ctl
        self.state = BOOTING
        self.started = time.monotonic()
        self.buf = b""
        self.error: tuple[int, str] | None = None  # (exit code, reason) from "error"

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
                 graceful_timeout: float | None = 30.0) -> None:
        if workers < 1:
            raise ValueError("workers must be at least 1")
        self.listen_set = listen_set
        self.nworkers = workers
        self.boot = boot
        self.graceful_timeout = graceful_timeout
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
            elif sig == signal.SIGHUP:
                self.reload()

    # -- workers -------------------------------------------------------------------

    def _spawn(self, slot: int) -> _Worker:
        parent, child = socket.socketpair()
        sys.stdout.flush()
        sys.stderr.flush()
        # Signals stay blocked in the child until run_worker has its own
        # handlers: a SIGTERM sent to a worker that has just been forked must
        # reach the worker's handler, not the master's (copied by fork).
        old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, _MASTER_SIGNALS)
        pid = os.fork()
        if pid == 0:  # the worker
            code = 1
            try:
                parent.close()
                code = self._child(slot, child)
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
        w = _Worker(pid, slot, parent)
        self.workers[pid] = w
        log.debug("spawned worker %d (slot %d)", pid, slot)
        return w

    def _child(self, slot: int, ctl: socket.socket) -> int:
        self._restore_signals()
        for w in self.workers.values():
            if w.ctl is not None:
                w.ctl.close()
        self.workers.clear()
        mine = self.listen_set.for_slot(slot)
        self.listen_set.close_except([s for s, _ in mine])
        return run_worker(mine, ctl, self.boot, self.graceful_timeout)

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
        self._restart_at.clear()
        for w in list(self.workers.values()):
            self._terminate(w)
        grace = self.graceful_timeout if self.graceful_timeout is not None else 3600.0
        self._kill_deadline = time.monotonic() + grace + _KILL_MARGIN

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

    def reload(self) -> None:
        """SIGHUP: start a new worker in every slot; each old one drains once its
        replacement is ready."""
        if self._stopping:
            return
        log.info("SIGHUP: replacing %d worker%s", self.nworkers, "" if self.nworkers == 1 else "s")
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
            while self.workers or not self._stopping:
                self._step()
        finally:
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
        if self._kill_deadline is not None and now >= self._kill_deadline:
            self._kill_deadline = None
            for w in self.workers.values():
                log.warning("worker %d did not stop in time: killing it", w.pid)
                with contextlib.suppress(ProcessLookupError):
                    os.kill(w.pid, signal.SIGKILL)
