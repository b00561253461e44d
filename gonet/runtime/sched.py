"""Runtime layer: goroutines on greenlets, and one scheduler per OS thread.

This is gonet's ``runtime/proc.go``. It owns the goroutine record, the run
queue, the timer heap, park/ready, and the scheduler loop that calls the
netpoller. Everything above (FD, net, http, channels) blocks by parking a
goroutine here; nothing here blocks except the poller's own wait.

How control moves
-----------------

Every OS thread that uses gonet gets a :class:`Scheduler`, created on first
use. The code the thread was already running becomes its *main goroutine*.
The scheduler loop runs on a greenlet of its own, the *hub*, whose parent is
the thread's root greenlet, and every other goroutine's greenlet has the hub
as its parent, so a goroutine that finishes falls back into the hub.

Invariants:

- A goroutine leaves only by parking or by finishing. A finished goroutine
  falls back into the hub. A parking one hands the thread straight to the
  next goroutine of the run queue when that one has run before and the
  hub's current round still has budget (Go's park_m -> schedule, without the
  trip through g0): one greenlet switch per hand-off instead of two through
  the hub. Otherwise it switches to the hub.
- A goroutine that has never run is always started by the hub, so every
  goroutine's C stack begins at the hub's depth. (greenlet starts a new
  greenlet where its starter's stack ends: started by a hand-off, a round
  of 61 goroutines that each start the next would nest 61 stacks deep.)
- ``Scheduler.current`` is the goroutine running now; whoever switches into
  a goroutine (the hub or a hand-off) sets it first.
- Goroutines run only inside the hub's run step, which sets
  ``Scheduler.budget``; hand-offs spend it, so the poller is asked again
  after at most 61 goroutine runs however they were dispatched.
- A goroutine is readied only while WAITING, and exactly once per park:
  ``ready`` on a goroutine that is not WAITING does nothing and returns False.
  A park with a timeout arms ``g.timer``; whichever cause readies the
  goroutine first cancels that timer.
- Timer callbacks run on the hub and never park.
- Nothing in the loop blocks except ``Netpoller.poll``, and that only when the
  run queue is empty; cross-thread wake-ups arrive through the poller's break.

No signal inside a hand-off: CPython runs a signal handler (and so raises
KeyboardInterrupt) only where the interpreter checks for pending events, at a
call, a backward jump or a function's start. Between taking a goroutine off
the run queue and switching into it there must be none of those, or the
exception would leave that goroutine neither queued nor running and
``current`` naming it while another runs. So the run queue's head is removed
with ``del runq[0]`` (a subscript, not a call), and the switch is the first
call after it. ``tests/test_runtime.py`` checks the bytecode for this.

The loop (Go's ``schedule`` + ``findRunnable``)::

    forever:
        fire due timers
        take wake-ups queued by other threads
        poll: delay 0 if anything is runnable, else until the next timer,
              else forever; readied goroutines join the run queue
        run up to 61 goroutines from the run queue (FIFO), by switching
              to them or by hand-offs between them, then go round again,
              so a busy run queue cannot starve the network

Deadlock: when the main goroutine is parked and nothing can ever wake
anything (empty run queue, no timers, no goroutine in I/O wait, no call out on
the thread pool, no cross-thread waiter), the main goroutine gets
:class:`DeadlockError` instead of sleeping forever.
"""

from __future__ import annotations

import itertools
import os
import sys
import threading
import time
import traceback
import weakref
from collections import deque
from collections.abc import Callable
from typing import Any

from greenlet import GreenletExit, greenlet
from greenlet import getcurrent as _getcurrent

from gonet.runtime.netpoll import Netpoller
from gonet.runtime.netpoll_base import MAX_POLL_DELAY
from gonet.runtime.timers import TimerHeap

__all__ = [
    "Goroutine",
    "Scheduler",
    "DeadlockError",
    "get_sched",
    "go",
    "sleep",
    "current",
    "goroutine_here",
]

# Goroutine states.
RUNNABLE = 1  # in the run queue
RUNNING = 2
WAITING = 3  # parked
DEAD = 4

STATE_NAMES = {RUNNABLE: "runnable", RUNNING: "running", WAITING: "waiting", DEAD: "dead"}

#: Wake value a timed park receives when its timer fired first.
TIMEOUT: Any = type("TimeoutMarker", (), {"__repr__": lambda self: "TIMEOUT", "__slots__": ()})()

_SCHED_TICKS = 61  # goroutines run between two non-blocking polls (Go's value)

_monotonic = time.monotonic
_ids = itertools.count(1)


class DeadlockError(RuntimeError):
    """Every goroutine is asleep and nothing can wake any of them."""


class Goroutine:
    """A goroutine: a greenlet plus its scheduling state. Returned by :func:`go`."""

    __slots__ = (
        "id",
        "name",
        "glet",
        "sched",
        "state",
        "wait_reason",
        "wakeval",
        "timer",
        "_fn",
        "_args",
        "_kwargs",
        "_result",
        "_exc",
        "_exc_seen",
        "_joiners",
        "__weakref__",
    )

    def __init__(self, sched: Scheduler, fn: Callable | None, args: tuple, kwargs: dict,
                 name: str | None = None) -> None:
        self.id = next(_ids)
        self.name = name or f"goroutine-{self.id}"
        self.sched = sched
        self.state = RUNNABLE
        self.wait_reason = ""
        self.wakeval: Any = None
        self.timer: list | None = None
        self._fn = fn
        self._args = args
        self._kwargs = kwargs
        self._result: Any = None
        self._exc: BaseException | None = None
        self._exc_seen = False
        self._joiners: list | None = None
        self.glet: greenlet | None = None

    def __repr__(self) -> str:
        reason = f" ({self.wait_reason})" if self.state == WAITING else ""
        return f"<Goroutine {self.id} {self.name!r} {STATE_NAMES[self.state]}{reason}>"

    # -- public handle --------------------------------------------------------

    def done(self) -> bool:
        """True once the goroutine has returned or raised."""
        return self.state == DEAD

    def join(self, timeout: float | None = None) -> Any:
        """Wait for the goroutine to finish; return its result or re-raise its exception.

        Parks the calling goroutine (never the OS thread). Raises
        ``TimeoutError`` if ``timeout`` seconds pass first. Works across
        threads: a goroutine of another thread's scheduler may be joined.
        """
        if self.state != DEAD:
            sched = get_sched()
            me = sched.current
            if me is self:
                raise RuntimeError("a goroutine cannot join itself")
            if self._joiners is None:
                self._joiners = []
            entry = (sched, me)
            self._joiners.append(entry)
            cross = sched is not self.sched
            if cross:
                sched.external_waiters += 1
            try:
                woke = sched.park("join", timeout)
            finally:
                if cross:
                    sched.external_waiters -= 1
            if woke is TIMEOUT:
                try:
                    self._joiners.remove(entry)
                except ValueError:
                    pass
                if self.state != DEAD:
                    raise TimeoutError(f"join {self.name}: timed out after {timeout} s")
        if self._exc is not None:
            self._exc_seen = True
            raise self._exc
        return self._result

    def result(self) -> Any:
        """Alias of ``join()``."""
        return self.join()

    # -- body ---------------------------------------------------------------

    def _run(self) -> None:
        sched = self.sched
        try:
            # Spelled out by arity: a plain call is inlined by CPython's
            # interpreter, while f(*a, **k) nests a C-level call whose stack
            # greenlet must save and restore at every switch.
            fn = self._fn
            args = self._args
            if self._kwargs:
                self._result = fn(*args, **self._kwargs)
            elif not args:
                self._result = fn()
            elif len(args) == 1:
                self._result = fn(args[0])
            elif len(args) == 2:
                self._result = fn(args[0], args[1])
            else:
                self._result = fn(*args)
        except GreenletExit:
            pass
        except (KeyboardInterrupt, SystemExit) as e:
            # Belongs to the program, not to this goroutine: hand it to main.
            sched.main_exc = e
        except BaseException as e:  # noqa: B036 - recorded for join(), reported if never seen
            tb = e.__traceback__
            if tb is not None and tb.tb_next is not None:
                e.__traceback__ = tb.tb_next  # drop this frame: it would cycle back to self
            self._exc = e
        finally:
            self._fn = self._args = self._kwargs = None
            self.state = DEAD
            self.glet = None
            sched.all.pop(self.id, None)
            joiners = self._joiners
            if joiners:
                self._joiners = None
                for js, jg in joiners:
                    if js is sched:
                        js.ready(jg)
                    else:
                        js.ready_threadsafe(jg)
                self._exc_seen = self._exc_seen or bool(joiners)

    def __del__(self) -> None:
        exc = self._exc
        if exc is not None and not self._exc_seen:
            try:
                print(f"Exception in goroutine {self.id} ({self.name}):", file=sys.stderr)
                traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)
            except Exception:
                pass


_schedulers: weakref.WeakSet[Scheduler] = weakref.WeakSet()

# GONET_BLOCK_WARN=<seconds> starts the blocked-thread detector (sysmon.py)
# with the first scheduler; unset or 0, it stays off.
_block_warn_env = os.environ.get("GONET_BLOCK_WARN") or None


def _start_block_warn_from_env() -> None:
    global _block_warn_env
    value, _block_warn_env = _block_warn_env, None
    from gonet.runtime import sysmon  # sysmon imports this module

    sysmon.start_from_env(value)


_sigquit_checked = False


def _install_sigquit() -> None:
    # Go's SIGQUIT: every goroutine's stack on stderr, exit status 2, when
    # the program has not chosen a disposition itself (runtime/debug.py).
    global _sigquit_checked
    _sigquit_checked = True
    from gonet.runtime import debug  # debug imports this module

    debug.install_sigquit_dump()


class Scheduler:
    """One OS thread's scheduler: run queue, timers, netpoller, hub greenlet."""

    def __init__(self, backend: str | None = None) -> None:
        self.thread = threading.current_thread()
        self.runq: deque[Goroutine] = deque()
        self.timers = TimerHeap()
        self.netpoll = Netpoller(self, backend)
        self.external_waiters = 0  # parked on something another thread will wake
        self.inbox: deque[tuple[Goroutine, Any]] = deque()  # ready requests from other threads
        self.main_exc: BaseException | None = None
        self.all: dict[int, Goroutine] = {}
        root = _getcurrent()
        while root.parent is not None:
            root = root.parent
        self.main = Goroutine(self, None, (), {}, name="main")
        self.main.glet = root
        self.main.state = RUNNING
        self.all[self.main.id] = self.main
        self.current: Goroutine | None = self.main
        self.budget = 0  # goroutine runs left in the hub's current run step
        self.hub = greenlet(self._hub_main, root)
        self.stats = {"switches": 0, "polls": 0, "timers_fired": 0}
        _schedulers.add(self)
        if _block_warn_env is not None:
            _start_block_warn_from_env()
        if not _sigquit_checked and self.thread is threading.main_thread():
            _install_sigquit()

    def __repr__(self) -> str:
        return (f"<Scheduler thread={self.thread.name!r} poller={self.netpoll.name} "
                f"goroutines={len(self.all)} runq={len(self.runq)}>")

    def teardown(self) -> None:
        """Release what the scheduler holds of the OS: the poller's kernel
        objects. For a thread that has ended (the thread guard calls it) or a
        forked child; the scheduler is unusable afterwards."""
        _schedulers.discard(self)
        self.netpoll.shutdown()
        self.runq.clear()
        self.inbox.clear()
        self.timers.heap.clear()
        self.all.clear()
        self.hub = None
        # The thread's root greenlet must not outlive the thread through us:
        # greenlet releases a dead thread's root on its own, and a Scheduler
        # left in a garbage cycle with main.glet still set was seen pointing
        # at a freed greenlet when another thread's gc traversed it.
        self.main.glet = None
        self.current = None

    # -- goroutines -----------------------------------------------------------

    def spawn(self, fn: Callable, args: tuple = (), kwargs: dict | None = None,
              name: str | None = None) -> Goroutine:
        g = Goroutine(self, fn, args, kwargs or {}, name)
        g.glet = greenlet(g._run, self.hub)
        self.all[g.id] = g
        self.runq.append(g)
        return g

    def spawn_parked(self, fn: Callable, args: tuple = (), name: str | None = None,
                     reason: str = "IO wait") -> Goroutine:
        """A goroutine that starts out parked: it runs ``fn(*args)`` once readied.

        Until then it costs its record and an unstarted greenlet (a few hundred
        bytes), no stack. The FD layer uses it to wait for a readable fd with
        no goroutine parked on it (see ``FD.read_later``).
        """
        g = Goroutine(self, fn, args, {}, name)
        g.glet = greenlet(g._run, self.hub)
        g.state = WAITING
        g.wait_reason = reason
        self.all[g.id] = g
        return g

    def park(self, reason: str, timeout: float | None = None) -> Any:
        """Park the current goroutine until ``ready``; returns the wake value.

        With ``timeout`` (seconds), a timer readies it with :data:`TIMEOUT`
        if nothing else has first.
        """
        g = self.current
        if g is None:  # the hub clears current while it runs timers and callbacks
            raise RuntimeError("park called from the scheduler itself (a timer callback?)")
        g.state = WAITING
        g.wait_reason = reason
        if timeout is not None:
            g.timer = self.timers.add(_monotonic() + max(timeout, 0.0), _park_timeout, self, g)
        self.switch_out()
        v = g.wakeval
        g.wakeval = None
        return v

    def park_io(self, g: Goroutine) -> None:
        """``park`` cut to what an I/O wait needs: ``g`` is current, no timeout,
        no wake value. The pollDesc that holds ``g`` decides why it woke."""
        if g is None:
            raise RuntimeError("park called from the scheduler itself (a timer callback?)")
        g.state = WAITING
        g.wait_reason = "IO wait"
        # switch_out, spelled out: this is the hot path of every I/O wait.
        runq = self.runq
        if runq and self.budget:
            nxt = runq[0]
            glet = nxt.glet
            if glet:  # has run before: resume it in place
                del runq[0]  # not popleft(): see "No signal inside a hand-off"
                self.budget -= 1
                nxt.state = RUNNING
                self.current = nxt
                glet.switch()
                return
        self.hub.switch()

    def switch_out(self) -> None:
        """Leave the current goroutine, which has just parked or queued itself.

        Hands the thread to the head of the run queue when it has run before
        and the round has budget left; otherwise to the hub. Returns when
        this goroutine is switched back into.
        """
        runq = self.runq
        if runq and self.budget:
            nxt = runq[0]
            glet = nxt.glet
            if glet:
                del runq[0]
                self.budget -= 1
                nxt.state = RUNNING
                self.current = nxt
                glet.switch()
                return
        self.hub.switch()

    def ready(self, g: Goroutine, val: Any = None) -> bool:
        """Make a parked goroutine runnable with wake value ``val`` (this thread only)."""
        if g.state != WAITING:
            return False
        g.state = RUNNABLE
        g.wakeval = val
        t = g.timer
        if t is not None:
            g.timer = None
            self.timers.cancel(t)
        self.runq.append(g)
        return True

    def ready_threadsafe(self, g: Goroutine, val: Any = None) -> None:
        """Ready ``g`` from any OS thread: queued, then the poller is woken."""
        if threading.get_ident() == self.netpoll.thread_id:  # no Thread object needed
            self.ready(g, val)
            return
        self.inbox.append((g, val))
        self.netpoll.wake()

    def call_soon_threadsafe(self, fn: Callable[[], Any]) -> None:
        """Run ``fn()`` on this scheduler's hub, from any thread."""
        self.inbox.append((None, fn))
        self.netpoll.wake()

    # -- the loop -------------------------------------------------------------

    def _hub_main(self) -> None:
        while True:
            try:
                self._loop()
            except (KeyboardInterrupt, SystemExit) as e:
                # A signal landed while the hub ran (typically inside epoll_wait).
                self.main_exc = e
            except Exception:  # noqa: BLE001 - the loop must outlive a faulty callback
                # A timer or call_soon_threadsafe callback raised. Unguarded, it
                # would end the hub and with it every goroutine of this thread;
                # report it as threading reports a dying thread, and go on.
                print("Exception in a gonet scheduler callback:", file=sys.stderr)
                traceback.print_exc(file=sys.stderr)
            self.budget = 0  # the round it left is over: main must not hand off on it
            self._deliver_main_exc()

    def _deliver_main_exc(self) -> None:
        e = self.main_exc
        self.main_exc = None
        main = self.main
        if main.state == DEAD or e is None:
            return
        if main.timer is not None:
            self.timers.cancel(main.timer)
            main.timer = None
        try:
            self.runq.remove(main)
        except ValueError:
            pass
        main.state = RUNNING
        self.current = main
        main.glet.throw(e)
        self.current = None

    def _loop(self) -> None:
        self.current = None
        runq = self.runq
        timers = self.timers
        netpoll = self.netpoll
        inbox = self.inbox
        stats = self.stats
        ready = self.ready
        while True:
            if self.main_exc is not None:
                self._deliver_main_exc()
            # 1. timers
            if timers.heap:
                if timers.heap[0][0] <= _monotonic():
                    stats["timers_fired"] += timers.run_due(_monotonic())
            # 2. wake-ups from other threads
            while inbox:
                g, val = inbox.popleft()
                if g is None:
                    val()
                else:
                    ready(g, val)
            # 3. the network
            if runq:
                delay = 0.0
            else:
                nxt = timers.next_when()
                if nxt is not None:
                    # A timer far ahead (a deadline of months) must not reach
                    # the kernel as an overflowing timeout: wait at most
                    # MAX_POLL_DELAY and go round again.
                    delay = min(max(nxt - _monotonic(), 0.0), MAX_POLL_DELAY)
                elif self._deadlocked():
                    self._raise_deadlock()
                    continue
                else:
                    delay = -1.0
            stats["polls"] += 1
            # Goroutines woken by the poller were parked by park_io (no timer,
            # no wake value): making them runnable is just this.
            for g in netpoll.poll(delay):
                if g.state == WAITING:
                    g.state = RUNNABLE
                    runq.append(g)
            if not runq:
                continue
            # 4. run goroutines; each one that parks may hand off to the next
            # itself, spending the same budget, so the hub only sees the
            # ones that finish, that have never run, or that end the round.
            self.budget = _SCHED_TICKS
            while runq and self.budget > 0:
                self.budget -= 1
                g = runq[0]
                del runq[0]
                g.state = RUNNING
                self.current = g
                g.glet.switch()
            stats["switches"] += _SCHED_TICKS - self.budget
            self.budget = 0
            self.current = None

    def _deadlocked(self) -> bool:
        return (
            not self.runq
            and not self.inbox
            and not self.netpoll.has_waiters()
            and self.external_waiters == 0
            and self.main.state == WAITING
        )

    def _raise_deadlock(self) -> None:
        main = self.main
        main.state = RUNNING
        self.current = main
        main.glet.throw(DeadlockError("all goroutines are asleep - deadlock!"))
        self.current = None


def _park_timeout(sched: Scheduler, g: Goroutine) -> None:
    if g.timer is not None:
        g.timer = None  # fired: ready() must not cancel it
        sched.ready(g, TIMEOUT)


# This thread's scheduler, and its guard. Hot paths above the runtime read
# ``thread_state.sched`` directly instead of calling get_sched(). A
# thread-local's values are released when their thread ends, which is the one
# hook Python gives at thread exit: the guard's __del__ tears the scheduler
# down there. The scheduler itself cannot be relied on for that: its
# suspended hub greenlet holds a frame that refers back to it.
thread_state = threading.local()


class _ThreadGuard:
    __slots__ = ("sched",)

    def __init__(self, sched: Scheduler) -> None:
        self.sched = sched

    def __del__(self) -> None:
        if sys is None or sys.is_finalizing():
            return  # the process is exiting: the OS closes the fds
        self.sched.teardown()


def _install(s: Scheduler) -> Scheduler:
    thread_state.sched = s
    thread_state.guard = _ThreadGuard(s)
    return s


def get_sched() -> Scheduler:
    """This OS thread's scheduler, created on first use."""
    try:
        return thread_state.sched
    except AttributeError:
        return _install(Scheduler())


def init_thread(backend: str | None = None) -> Scheduler:
    """Create this thread's scheduler now, with a chosen poller backend.

    Optional: the first gonet call creates one with the default backend.
    Raises RuntimeError if this thread already has a scheduler.
    """
    if getattr(thread_state, "sched", None) is not None:
        raise RuntimeError("this thread already has a gonet scheduler")
    return _install(Scheduler(backend))


def after_fork() -> None:
    """In a forked child: forget the schedulers inherited from the parent.

    Their pollers are the parent's kernel objects (an epoll instance is
    shared across fork); the child's copies of those fds are closed and the
    next gonet call creates a fresh scheduler. Runs by itself in every child
    (``os.register_at_fork``); call it directly only after a fork made some
    other way. Fork from outside goroutines (or from the main goroutine):
    other goroutines do not survive it, as no thread but the forking one does.
    """
    for s in list(_schedulers):
        s.teardown()
    thread_state.__dict__.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=after_fork)


def current() -> Goroutine:
    """The goroutine that is running now."""
    return get_sched().current


def goroutine_here() -> Goroutine | None:
    """The goroutine this code runs in, or None when it runs in none.

    This is where "inside a goroutine" is decided, for everything that must
    behave differently there (``gonet.patch()``'s cooperative calls): the
    current OS thread already has a gonet scheduler, a goroutine of it is
    running (not the hub, which runs timers and callbacks with no current
    goroutine), and the running greenlet is that goroutine's own (not a
    greenlet some library switched into inside it: a park from there would
    resume the wrong greenlet). The thread's original code counts as its main
    goroutine once the scheduler exists. A thread with no scheduler (a plain
    thread, a thread-pool worker, a script before its first gonet call)
    is in no goroutine, and the answer there creates no scheduler.
    """
    try:
        s = thread_state.sched
    except AttributeError:
        return None
    g = s.current
    if g is None or g.glet is not _getcurrent():
        return None
    return g


def go(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Goroutine:
    """Start ``fn(*args, **kwargs)`` in a new goroutine; returns its handle.

    The goroutine runs when the caller next parks (sleeps, waits for I/O, ...).
    """
    return get_sched().spawn(fn, args, kwargs)


def go_named(name: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Goroutine:
    """Like :func:`go`, with a name shown in dumps and error reports."""
    return get_sched().spawn(fn, args, kwargs, name)


def sleep(seconds: float) -> None:
    """Park the calling goroutine for ``seconds``; ``sleep(0)`` just yields."""
    sched = get_sched()
    g = sched.current
    if seconds <= 0:
        g.state = WAITING
        g.wait_reason = "yield"
        sched.ready(g)
        sched.switch_out()
        g.wakeval = None
        return
    # A timed park: its timer lives in g.timer, so a sleep cut short (an
    # exception thrown into main) cancels it instead of readying g later.
    sched.park("sleep", seconds)


def all_schedulers() -> list[Scheduler]:
    return list(_schedulers)
