"""Runtime layer, netpoller: pollDesc, its free list, deadlines, and the Netpoller.

This is gonet's ``runtime/netpoll.go``. It owns, for every file descriptor the
runtime watches, a :class:`PollDesc`: one binary semaphore per direction, the
read and write deadlines, and the sequence numbers that make stale timers
harmless. :class:`Netpoller` ties one OS backend (``netpoll_epoll.py`` and its
siblings, chosen in ``netpoll_base.py``) to one scheduler and turns backend
events into goroutines to run.

The scheduler (``sched.py``) creates a Netpoller and sits above it: this
module never imports the scheduler. Each Netpoller is handed the scheduler
that owns it, and uses only its ``park_io``, ``ready``, ``current`` and
``timers`` members. The backends sit beside this module: they apply events
with :func:`netpollready` / :func:`netpollready_batch`, and the Netpoller
creates one through ``netpoll_base.new_backend``.

The semaphores ``rg`` and ``wg``
--------------------------------

Each of ``rg`` (read) and ``wg`` (write) is in one of three states::

    None        empty: no event pending, nobody waiting
    READY       an I/O event arrived and nobody has consumed it yet
    <goroutine> that goroutine is parked waiting for the event

Transitions::

    event from the poller:   None -> READY      g -> READY (g is readied)
                             READY -> READY     (two events, one wake-up)
    waiter arrives:          READY -> None      (consumed, no park)
                             None -> g          (parks)
    deadline fires / close:  g -> None          (g is readied, sees the error)
    readied waiter resumes:  READY -> None      (woken by readiness: retry the I/O)
                             None               (woken by deadline or close)

A goroutine the poller readies leaves READY behind, and consumes it when it
resumes: that is how it tells a wake by readiness from one by its deadline or
by close, as Go's ``netpollblock`` does with pdReady. Readiness wins
(Go's ``poll_runtime_pollWait``): the error checks (closing, deadline) run
before parking and, after a wake, only when the wake did not report
readiness. So a read whose data arrived in the same instant as its deadline
(or whose deadline fired while it sat in the run queue after the poller had
readied it) reads the data instead of timing out and stranding the edge.

Go has a fourth state, WAIT, for the window between a goroutine deciding to
park and the park committing, because Go's poller runs on other threads and
may deliver an event inside that window. Here a scheduler and its poller share
one OS thread and nothing runs between the decision and the park, so the
window does not exist and ``None -> g`` is a single step.

With edge-triggered backends READY is what keeps an event that arrived before
the read from being lost: the kernel will not report it again.

Deadlines and sequence numbers
------------------------------

``rd``/``wd`` hold the deadline: 0 for none, a ``time.monotonic()`` value, or
-1 once it has expired (every operation then fails with a timeout until the
deadline is moved). A deadline is enforced by a timer that carries the
descriptor's ``rseq``/``wseq`` at the time it was armed. Arming a new timer,
closing the descriptor, or reusing it from the free list bumps the sequence,
so any older timer finds a mismatch when it fires and does nothing.

A deadline moved *later* keeps its armed timer: when that timer fires early it
sees the deadline has not passed and re-arms itself for the new time. A server
that pushes an idle deadline forward on every request therefore costs one
timer per timeout period, not one per request.

Invariants
----------

- At most one goroutine waits on each direction (the FD layer's locks ensure
  it); a second waiter is a bug and raises.
- A descriptor is only touched from the thread of the scheduler that opened it.
- Every wake-up has one cause: a goroutine parked in :meth:`PollDesc.wait_read`
  is readied exactly once, by the poller, its deadline timer, or close.
"""

from __future__ import annotations

import select
import threading
import time
from typing import Any

__all__ = [
    "POLL_OK",
    "POLL_ERR_CLOSING",
    "POLL_ERR_TIMEOUT",
    "MODE_R",
    "MODE_W",
    "MODE_RW",
    "MODE_EOF",
    "READY",
    "PollDesc",
    "netpollready",
    "netpollready_batch",
    "Netpoller",
]

# Results of PollDesc.wait / PollDesc.check (Go's pollNoError and friends).
POLL_OK = 0
POLL_ERR_CLOSING = 1
POLL_ERR_TIMEOUT = 2

MODE_R = 1
MODE_W = 2
MODE_RW = 3
#: Event flag from a backend: the peer hung up or the fd is in error. Sets the
#: sticky ``PollDesc.eof``; no further edges will come for this fd.
MODE_EOF = 4


class _Ready:
    __slots__ = ()

    def __repr__(self) -> str:
        return "READY"


READY: Any = _Ready()

#: The OS pollers' constructors as the select module had them when gonet was
#: imported: the backends use these, since gonet.patch() replaces
#: select.epoll and select.poll with cooperative wrappers.
OS_POLLERS: dict[str, Any] = {name: getattr(select, name, None)
                              for name in ("epoll", "poll", "kqueue")}

_monotonic = time.monotonic
_get_ident = threading.get_ident


class PollDesc:
    """Per-fd poller state; see the module docstring for the state machine."""

    __slots__ = (
        "fd",
        "rg",
        "wg",
        "rd",
        "wd",
        "rseq",
        "wseq",
        "rtimer",
        "wtimer",
        "closing",
        "eof",
        "poller",
        "link",
    )

    def __init__(self) -> None:
        self.fd = -1
        self.rg: Any = None
        self.wg: Any = None
        self.rd = 0.0
        self.wd = 0.0
        self.rseq = 0
        self.wseq = 0
        self.rtimer: list | None = None
        self.wtimer: list | None = None
        self.closing = False
        self.eof = False  # the poller saw hang-up/error: no more edges will come
        self.poller: Netpoller | None = None
        self.link: PollDesc | None = None  # free-list link

    def __repr__(self) -> str:
        return f"<PollDesc fd={self.fd} rg={self.rg!r} wg={self.wg!r} closing={self.closing}>"

    # -- checks and waits -------------------------------------------------

    def check_read(self) -> int:
        """Go's netpollcheckerr for reading: why a read may not proceed now."""
        if self.closing:
            return POLL_ERR_CLOSING
        if self.rd < 0.0:
            return POLL_ERR_TIMEOUT
        return POLL_OK

    def check_write(self) -> int:
        if self.closing:
            return POLL_ERR_CLOSING
        if self.wd < 0.0:
            return POLL_ERR_TIMEOUT
        return POLL_OK

    def wait_read(self) -> int:
        """Wait until the fd may be readable; returns a POLL_* code.

        Consumes a pending READY without parking. The caller retries its
        syscall on POLL_OK (the wake-up may be spurious).
        """
        if self.closing:
            return POLL_ERR_CLOSING
        if self.rd < 0.0:
            return POLL_ERR_TIMEOUT
        rg = self.rg
        if rg is not None:
            if rg is READY:
                self.rg = None
                return POLL_OK
            raise RuntimeError(f"fd {self.fd}: two goroutines waiting to read")
        poller = self.poller
        if poller.thread_id != _get_ident():
            raise RuntimeError(poller.wrong_thread(self.fd))
        sched = poller.sched
        self.rg = g = sched.current
        if poller.arm is not None:
            poller.arm(self.fd, MODE_R)
        try:
            sched.park_io(g)
        finally:
            if self.rg is g:  # left the park without a wake-up (an exception)
                self.rg = None
        if self.rg is READY:  # woken by readiness: it wins over a deadline or close
            self.rg = None
            return POLL_OK
        if self.closing:
            return POLL_ERR_CLOSING
        if self.rd < 0.0:
            return POLL_ERR_TIMEOUT
        return POLL_OK

    def wait_write(self) -> int:
        """Wait until the fd may be writable; returns a POLL_* code."""
        if self.closing:
            return POLL_ERR_CLOSING
        if self.wd < 0.0:
            return POLL_ERR_TIMEOUT
        wg = self.wg
        if wg is not None:
            if wg is READY:
                self.wg = None
                return POLL_OK
            raise RuntimeError(f"fd {self.fd}: two goroutines waiting to write")
        poller = self.poller
        if poller.thread_id != _get_ident():
            raise RuntimeError(poller.wrong_thread(self.fd))
        sched = poller.sched
        self.wg = g = sched.current
        if poller.arm is not None:
            poller.arm(self.fd, MODE_W)
        try:
            sched.park_io(g)
        finally:
            if self.wg is g:
                self.wg = None
        if self.wg is READY:
            self.wg = None
            return POLL_OK
        if self.closing:
            return POLL_ERR_CLOSING
        if self.wd < 0.0:
            return POLL_ERR_TIMEOUT
        return POLL_OK

    def handoff_read(self, g: Any) -> bool:
        """Make a goroutine that is parked elsewhere (never started, say) the
        reader: the poller, the deadline or close will ready it as if it had
        parked in :meth:`wait_read`.

        Returns False, leaving the semaphore alone, when ``g`` should run at
        once instead: a READY is pending (consumed here), or the descriptor is
        closing or past its read deadline. The caller then readies ``g``.
        """
        rg = self.rg
        if rg is READY:
            self.rg = None
            return False
        if self.closing or self.rd < 0.0:
            return False
        if rg is not None:
            raise RuntimeError(f"fd {self.fd}: two goroutines waiting to read")
        self.rg = g
        poller = self.poller
        if poller.arm is not None:
            poller.arm(self.fd, MODE_R)
        return True

    def _unblock_read(self) -> None:
        """Ready the parked reader, if any (deadline or close)."""
        g = self.rg
        if g is not None and g is not READY:
            self.rg = None
            self.poller.sched.ready(g)

    def _unblock_write(self) -> None:
        g = self.wg
        if g is not None and g is not READY:
            self.wg = None
            self.poller.sched.ready(g)

    # -- deadlines ----------------------------------------------------------

    def set_deadline(self, deadline: float | None, mode: int = MODE_RW) -> None:
        """Set the read and/or write deadline (absolute monotonic time or None).

        Takes effect at once for a goroutine already parked on this fd.
        """
        if self.closing:
            return
        now = _monotonic() if deadline is not None else 0.0
        if mode & MODE_R:
            self._set_rd(deadline, now)
        if mode & MODE_W:
            self._set_wd(deadline, now)

    def _set_rd(self, d: float | None, now: float) -> None:
        if d is None:
            self.rd = 0.0  # an armed timer finds 0 when it fires and drops out
        elif d <= now:
            self.rd = -1.0
            self._unblock_read()
        else:
            self.rd = d
            t = self.rtimer
            if t is None or t[0] > d:  # nothing armed, or armed too late: re-arm
                timers = self.poller.sched.timers
                if t is not None:
                    timers.cancel(t)
                self.rseq += 1
                self.rtimer = timers.add(d, _read_deadline_fired, self, self.rseq)

    def _set_wd(self, d: float | None, now: float) -> None:
        if d is None:
            self.wd = 0.0
        elif d <= now:
            self.wd = -1.0
            self._unblock_write()
        else:
            self.wd = d
            t = self.wtimer
            if t is None or t[0] > d:
                timers = self.poller.sched.timers
                if t is not None:
                    timers.cancel(t)
                self.wseq += 1
                self.wtimer = timers.add(d, _write_deadline_fired, self, self.wseq)

    # -- close --------------------------------------------------------------

    def evict(self) -> None:
        """Mark closing and wake both waiters (Go's poll_runtime_pollUnblock).

        Every later wait or check returns POLL_ERR_CLOSING. Pending deadline
        timers are cancelled and their sequence numbers invalidated.
        """
        if self.closing:
            return
        self.closing = True
        self._stop_timers()
        self._unblock_read()
        self._unblock_write()

    def _stop_timers(self) -> None:
        self.rseq += 1
        self.wseq += 1
        timers = self.poller.sched.timers if self.poller is not None else None
        if self.rtimer is not None:
            if timers is not None:
                timers.cancel(self.rtimer)
            self.rtimer = None
        if self.wtimer is not None:
            if timers is not None:
                timers.cancel(self.wtimer)
            self.wtimer = None


def _read_deadline_fired(pd: PollDesc, seq: int) -> None:
    """Timer callback: the read deadline armed under ``seq`` may have passed."""
    if seq != pd.rseq:
        return  # stale: re-armed, closed or reused since
    pd.rtimer = None
    rd = pd.rd
    if rd <= 0:
        return  # cleared (or already expired) since the timer was armed
    if rd > _monotonic():  # the deadline was moved later: follow it
        pd.rseq += 1
        pd.rtimer = pd.poller.sched.timers.add(rd, _read_deadline_fired, pd, pd.rseq)
        return
    pd.rd = -1.0
    pd._unblock_read()


def _write_deadline_fired(pd: PollDesc, seq: int) -> None:
    if seq != pd.wseq:
        return
    pd.wtimer = None
    wd = pd.wd
    if wd <= 0:
        return
    if wd > _monotonic():
        pd.wseq += 1
        pd.wtimer = pd.poller.sched.timers.add(wd, _write_deadline_fired, pd, pd.wseq)
        return
    pd.wd = -1.0
    pd._unblock_write()


class Netpoller:
    """One scheduler's poller: a backend, the fd -> PollDesc map, the free list.

    ``poll(delay)`` is Go's ``netpoll(delay)``: wait for events for at most
    ``delay`` seconds (0: do not block, -1: block until an event or a
    ``wake``), apply each event to its descriptor's semaphores, and return the
    goroutines that became runnable.
    """

    def __init__(self, sched: Any, backend_name: str | None = None) -> None:
        from gonet.runtime.netpoll_base import new_backend  # the backends import this module

        self.sched = sched
        self.thread_id = _get_ident()
        self.fds: dict[int, PollDesc] = {}
        self.backend = new_backend(backend_name, self)
        self.name: str = self.backend.name
        # Level-triggered backends need to be told which direction a waiter
        # wants before it parks; edge-triggered ones leave this None.
        self.arm = self.backend.arm if self.backend.level_triggered else None
        self._free: PollDesc | None = None  # pollCache free list

    def wrong_thread(self, fd: int) -> str:
        return (f"fd {fd} belongs to the gonet scheduler of thread {self.thread_id}; "
                f"it was used from thread {_get_ident()} (use each connection from "
                f"the thread that created it)")

    # -- open / close -------------------------------------------------------

    def open(self, fd: int) -> PollDesc:
        """Start watching ``fd``: take a descriptor from the cache and register it."""
        pd = self._free
        if pd is not None:
            self._free = pd.link
            pd.link = None
        else:
            pd = PollDesc()
        pd.fd = fd
        pd.rg = pd.wg = None
        pd.rd = pd.wd = 0.0
        pd.closing = False
        pd.eof = False
        pd.poller = self
        self.backend.open(fd)
        self.fds[fd] = pd
        return pd

    def close(self, pd: PollDesc) -> None:
        """Stop watching: unregister, invalidate timers, return pd to the cache.

        Call after :meth:`PollDesc.evict` and before closing the fd itself.
        """
        if pd.rg not in (None, READY) or pd.wg not in (None, READY):
            raise RuntimeError(f"fd {pd.fd}: closing a poll descriptor with a waiter")
        fd = pd.fd
        if self.fds.get(fd) is pd:
            del self.fds[fd]
            self.backend.close(fd)
        pd._stop_timers()
        pd.closing = True
        pd.fd = -1
        pd.rg = pd.wg = None
        pd.poller = None
        pd.link = self._free
        self._free = pd

    # -- polling ------------------------------------------------------------

    def poll(self, delay: float) -> list:
        """Wait up to ``delay`` seconds; returns goroutines made runnable."""
        return self.backend.poll(delay)

    def has_waiters(self) -> bool:
        """Is any goroutine waiting on one of this poller's descriptors?

        Asked by the scheduler's deadlock check only, which runs just before
        it would block for good; so it is a scan rather than a counter kept
        up to date on every park.
        """
        for pd in self.fds.values():
            if (pd.rg is not None and pd.rg is not READY) or (pd.wg is not None and pd.wg is not READY):
                return True
        return False

    def wake(self) -> None:
        """Interrupt a blocked poll from any thread (Go's netpollBreak)."""
        self.backend.wake()

    def shutdown(self) -> None:
        """Close the backend's kernel objects (its epoll/kqueue fd and the
        break). For a scheduler whose thread has ended, or a forked child's
        copy of its parent's poller; descriptors still open are forgotten, not
        closed (they belong to their FDs)."""
        backend = self.backend
        if backend is None:
            return
        self.backend = None
        self.arm = None
        self.fds.clear()
        self._free = None
        try:
            backend.shutdown()
        except OSError:
            pass



def netpollready_batch(events: list, fds: dict, kinds: dict, rmask: int, wmask: int,
                       eofmask: int, out: list) -> list | None:
    """Apply a kernel's ``(fd, bits)`` event list to the descriptors in ``fds``.

    :func:`netpollready` for a whole poll at once, with the per-event
    transitions written out: this loop runs once per I/O event, the hottest
    code the poller has. ``rmask``/``wmask``/``eofmask`` say which bits mean
    readable, writable and hung-up; ``kinds`` is the backend's cache of what
    each bit pattern means (a dict look-up costs less than three ``&``).
    Readied goroutines are appended to ``out``; fds with no descriptor (the
    netpoll break, or an fd closed since the kernel queued the event) are
    returned for the backend to handle.
    """
    unknown = None
    append = out.append
    for fd, ev in events:
        try:
            pd = fds[fd]
        except KeyError:
            if unknown is None:
                unknown = []
            unknown.append(fd)
            continue
        try:
            r, w, eof = kinds[ev]
        except KeyError:
            r, w, eof = kinds[ev] = (bool(ev & rmask), bool(ev & wmask), bool(ev & eofmask))
        if eof:
            pd.eof = True
        if r:
            g = pd.rg
            if g is not READY:
                pd.rg = READY
                if g is not None:
                    append(g)
        if w:
            g = pd.wg
            if g is not READY:  # READY: the usual case, a socket that stays writable
                pd.wg = READY
                if g is not None:
                    append(g)
    return unknown


def netpollready(pd: PollDesc, mode: int, out: list) -> None:
    """Apply one event to ``pd``; append readied goroutines to ``out``.

    Called by the backends for every event. A goroutine that is appended is
    no longer referenced by the descriptor, which holds READY instead; the
    scheduler makes it runnable, and it consumes the READY when it resumes.
    """
    if mode & MODE_EOF:
        pd.eof = True
    if mode & MODE_R:
        g = pd.rg
        if g is not READY:
            pd.rg = READY
            if g is not None:
                out.append(g)
    if mode & MODE_W:
        g = pd.wg
        if g is not READY:
            pd.wg = READY
            if g is not None:
                out.append(g)
