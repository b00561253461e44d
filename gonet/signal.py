"""Signal layer: Go's ``os/signal`` for goroutines: notify, stop, notify_context, ignore, reset.

::

    ctx, stop = gonet.signal.notify_context(gonet.context.background(),
                                            signal.SIGINT, signal.SIGTERM)
    gonet.go(srv.serve, ln)
    ctx.done().recv_ok()     # parks until a signal arrives
    stop()
    srv.shutdown(30)

How a signal reaches a goroutine
--------------------------------

CPython runs a Python-level signal handler between two bytecodes of the
main thread, inside whatever greenlet happens to be current (a goroutine in
the middle of its work, or the scheduler's hub), so a handler must not run
gonet code: it cannot park, send on a channel or ready a goroutine
(``srv.shutdown()`` from a ``signal.signal`` handler fails with "park called
from the scheduler itself"). Here the handler does nothing at all. The
interpreter's C-level handler writes the signal number into the *wakeup fd*
(``signal.set_wakeup_fd``), one end of a socketpair; the *signal loop*, a
goroutine on the main thread's scheduler, reads the other end through the
netpoller like any Conn, and delivers each number to the channels that asked
for it, as a ``signal.Signals`` value.

Go's rules: delivery never blocks (a full channel misses that signal, so
give ``notify`` a buffered channel); a channel may be registered for several
signals, and a signal to several channels; ``stop(c)`` ends deliveries to
``c``, and a signal nobody is notified of any more gets back the disposition
it had before the first ``notify``.

Limits: the first ``notify`` of a signal must run on the main thread
(CPython installs handlers only there); the wakeup fd is the process's one,
so this module refuses to start when something else (an asyncio loop) holds
it. While the signal loop waits, a scheduler cannot report a deadlock: a
signal may still come. After ``fork`` the child starts afresh.
"""

from __future__ import annotations

import os
import signal as _signal
import socket
import threading
from typing import Any

from gonet.chan import Chan, select
from gonet.context import Context, with_cancel
from gonet.net import file_conn
from gonet.runtime.sched import go_named

__all__ = ["notify", "stop", "notify_context", "ignore", "ignored", "reset"]

# Signals "notify(c)" with none named relays: every one a program can catch
# that the kernel does not send synchronously for a fault of the thread.
_SYNCHRONOUS = {"SIGSEGV", "SIGBUS", "SIGFPE", "SIGILL", "SIGABRT", "SIGTRAP", "SIGSYS",
                "SIGKILL", "SIGSTOP"}
_ALL = tuple(s for s in _signal.Signals if s.name not in _SYNCHRONOUS
             and not s.name.startswith("SIG_") and s.name not in ("SIGIOT", "SIGCLD", "SIGPOLL"))

_lock = threading.Lock()
# signum -> channels notified of it; signum -> the handler before the first notify.
_subs: dict[int, list[Chan]] = {}
_saved: dict[int, Any] = {}
_wake: dict[str, Any] = {"w": None, "loop": None}


def _handler(signum: int, frame: Any) -> None:
    # Runs between two bytecodes of any greenlet: nothing here. The number
    # travels through the wakeup fd to the signal loop.
    pass


def _start_loop() -> None:
    """Set up the wakeup fd and the signal loop goroutine (once per process)."""
    if _wake["loop"] is not None:
        return
    if threading.current_thread() is not threading.main_thread():
        raise ValueError("gonet.signal: the first notify must run on the main thread "
                         "(CPython installs signal handlers only there)")
    r, w = socket.socketpair()
    w.setblocking(False)
    try:
        old = _signal.set_wakeup_fd(w.fileno(), warn_on_full_buffer=False)
    except ValueError:
        r.close()
        w.close()
        raise
    if old != -1:
        _signal.set_wakeup_fd(old)
        r.close()
        w.close()
        raise RuntimeError("gonet.signal: signal.set_wakeup_fd is in use already (by an "
                           "asyncio loop?); gonet cannot share it")
    try:
        conn = file_conn(r)
    finally:
        r.close()
    # The write end stays open for the life of the process: a late signal
    # must never be written to a closed (or reused) fd.
    _wake["w"] = w
    _wake["loop"] = go_named("signal loop", _loop, conn)


def _loop(conn: Any) -> None:
    while True:
        try:
            data = conn.read(256)
        except OSError:
            return
        if not data:
            return
        for signum in data:
            with _lock:
                chans = list(_subs.get(signum, ()))
            if not chans:
                continue
            try:
                value: Any = _signal.Signals(signum)
            except ValueError:
                value = signum
            for c in chans:
                try:
                    select(c.send_case(value), default=True)  # never blocks (Go's rule)
                except Exception:  # noqa: BLE001 - a closed channel misses it, as a full one
                    pass


def _signals(sigs: tuple) -> list[int]:
    out = []
    for s in sigs or _ALL:
        try:
            out.append(int(_signal.Signals(s)))
        except ValueError:
            raise ValueError(f"gonet.signal: {s!r} is not a signal") from None
    return out


def notify(c: Chan, *sigs: int) -> None:
    """Relay ``sigs`` (every catchable signal when none are given) to channel
    ``c``, without ever blocking: give it a buffer (``Chan(1)``)."""
    if not isinstance(c, Chan):
        raise TypeError(f"gonet.signal.notify: want a gonet.Chan, not {type(c).__name__}")
    nums = _signals(sigs)
    _start_loop()
    for s in nums:
        with _lock:
            chans = _subs.setdefault(s, [])
            first = not chans
            if c not in chans:
                chans.append(c)
        if first and s not in _saved:
            try:
                _saved[s] = _signal.signal(s, _handler)
            except (OSError, ValueError) as e:
                with _lock:
                    _subs[s].remove(c)
                raise ValueError(f"gonet.signal.notify: cannot catch "
                                 f"{_signal.Signals(s).name}: {e}") from None


def stop(c: Chan) -> None:
    """No more signals to ``c``; a signal no channel wants gets its old disposition back."""
    for s in list(_subs):
        with _lock:
            chans = _subs.get(s, [])
            if c in chans:
                chans.remove(c)
            done = not chans
        if done:
            _restore(s)


def _restore(s: int) -> None:
    with _lock:
        _subs.pop(s, None)
    old = _saved.pop(s, None)
    if old is not None:
        _signal.signal(s, old)


def reset(*sigs: int) -> None:
    """Undo every ``notify`` and ``ignore`` of ``sigs`` (all of them when none
    are given): their default action is back."""
    for s in _signals(sigs) if sigs else list(set(_subs) | set(_saved)):
        with _lock:
            _subs.pop(s, None)
        _saved.pop(s, None)
        try:
            _signal.signal(s, _signal.SIG_DFL)
        except (OSError, ValueError):
            pass


def ignore(*sigs: int) -> None:
    """Ignore ``sigs`` (every catchable signal when none are given); ``notify``
    later takes them back."""
    for s in _signals(sigs):
        with _lock:
            _subs.pop(s, None)
        _saved.setdefault(s, _signal.getsignal(s))
        _signal.signal(s, _signal.SIG_IGN)


def ignored(sig: int) -> bool:
    """Is ``sig`` ignored now?"""
    return _signal.getsignal(sig) == _signal.SIG_IGN


def notify_context(parent: Context, *sigs: int) -> tuple[Context, Any]:
    """A context cancelled by the first of ``sigs`` to arrive (or by
    ``parent``), and ``stop()``: cancels it and lets the signals go back to
    their old dispositions (Go's NotifyContext). Call ``stop`` as soon as the
    context is done, so that a second Ctrl+C ends the program."""
    ctx, cancel = with_cancel(parent)
    c = Chan(1)
    notify(c, *sigs)

    def watch() -> None:
        i, _, _ = select(c.recv_case(), ctx.done().recv_case())
        cancel()

    go_named("signal.notify_context", watch)

    def stop_fn() -> None:
        stop(c)
        cancel()

    return ctx, stop_fn


def _after_fork() -> None:
    # The signal loop did not survive the fork (no goroutine does): give the
    # signals their old dispositions back (with no loop, _handler would
    # swallow them), and let the child start afresh with its first notify.
    w = _wake["w"]
    if w is not None:
        try:
            cur = _signal.set_wakeup_fd(-1)
            if cur != w.fileno():
                _signal.set_wakeup_fd(cur)
            for s, old in _saved.items():
                _signal.signal(s, old)
        except (ValueError, OSError):  # forked from another thread than the main one
            pass
        w.close()
    _wake["w"] = _wake["loop"] = None
    _subs.clear()
    _saved.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)
