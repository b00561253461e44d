"""Patch layer: ``gonet.patch()``, the standard library's blocking calls made
cooperative (gevent's ``monkey.patch_all``, on gonet's netpoller).

One module per stdlib module it patches: ``socket`` (the socket class and
DNS), ``ssl``, ``select`` (select, poll, epoll, selectors), ``time``,
``threading`` (Lock, RLock, Condition, Thread.join, queue.SimpleQueue) and
``subprocess`` (os.waitpid, Popen). ``_wait`` has the two ways they park.

The rule they all follow (DESIGN.md, mechanism 11): a patched call parks only
when it runs inside a goroutine, as ``gonet.runtime.sched.goroutine_here``
decides it; anywhere else it is the stdlib's own call, with the same results
and errors. Patching replaces attributes of the stdlib modules, so it reaches
code that looks them up at call time (``socket.socket(...)``,
``time.sleep(...)``, ``threading.Lock()``): call :func:`patch` before
importing the libraries that should cooperate, since a name bound earlier
(``from socket import socket``) keeps the stdlib's object. Objects created
before the patch (a ``threading.Lock`` made at import time) stay as they
were.

What stays blocking, and why: file I/O (Linux has no readiness for regular
files: ``gonet.blocking`` it), ``threading.local`` (still per OS thread;
``contextvars`` are per goroutine already, since each greenlet has its own
context), C extensions that wait inside C (a database driver's C wait
function: psycopg's C wait is avoided by asking psycopg for its poll-based
wait when it is imported after the patch), and ``Thread.join``, which goes to
the thread pool.
"""

from __future__ import annotations

import os
from typing import Any

__all__ = ["patch", "unpatch", "patched"]

#: (module object, attribute name) -> the value it had before the patch.
_saved: dict[tuple[Any, str], Any] = {}
_done: set[str] = set()

_ALL = ("socket", "dns", "ssl", "select", "time", "threading", "queue", "subprocess")


def _set(obj: Any, name: str, value: Any) -> None:
    key = (obj, name)
    if key not in _saved:
        _saved[key] = getattr(obj, name, None)
    setattr(obj, name, value)


def _patch_socket() -> None:
    import socket

    from gonet.coop import socket as coop

    _set(socket, "socket", coop.socket)


def _patch_dns() -> None:
    import socket

    from gonet.coop import socket as coop

    for name in coop.ORIGINALS:
        _set(socket, name, getattr(coop, name))


def _patch_ssl() -> None:
    import ssl

    from gonet.coop import ssl as coop

    _set(ssl.SSLContext, "sslsocket_class", coop.SSLSocket)


def _patch_select() -> None:
    import select
    import selectors

    from gonet.coop import select as coop

    _set(select, "select", coop.select)
    if hasattr(select, "poll"):
        _set(select, "poll", coop.poll)
    if coop.epoll is not None:
        _set(select, "epoll", coop.epoll)
    for name in ("EpollSelector", "PollSelector", "SelectSelector", "DefaultSelector"):
        value = getattr(coop, name)
        if value is not None and hasattr(selectors, name):
            _set(selectors, name, value)
    # psycopg 3 picks its wait function when imported; its C one waits in C.
    os.environ.setdefault("PSYCOPG_WAIT_FUNC", "wait_poll")


def _patch_time() -> None:
    import time

    from gonet.coop import time as coop

    _set(time, "sleep", coop.sleep)


def _patch_threading() -> None:
    import threading

    from gonet.coop import threading as coop

    _set(threading, "Lock", coop.Lock)
    _set(threading, "RLock", coop.RLock)
    _set(threading, "Condition", coop.Condition)
    _set(threading.Thread, "join", coop.thread_join)


def _patch_queue() -> None:
    import queue

    _set(queue, "SimpleQueue", queue._PySimpleQueue)


def _patch_subprocess() -> None:
    import subprocess

    from gonet.coop import select as coop_select
    from gonet.coop import subprocess as coop

    _set(os, "waitpid", coop.waitpid)
    if hasattr(os, "wait"):
        _set(os, "wait", coop.wait)
    _set(subprocess.Popen, "communicate", coop.communicate)
    if hasattr(subprocess, "_PopenSelector"):
        sel = coop_select.PollSelector or coop_select.SelectSelector
        _set(subprocess, "_PopenSelector", sel)


_PATCHERS = {
    "socket": _patch_socket,
    "dns": _patch_dns,
    "ssl": _patch_ssl,
    "select": _patch_select,
    "time": _patch_time,
    "threading": _patch_threading,
    "queue": _patch_queue,
    "subprocess": _patch_subprocess,
}


def patch(*, socket: bool = True, dns: bool = True, ssl: bool = True, select: bool = True,
          time: bool = True, threading: bool = True, queue: bool = True,
          subprocess: bool = True) -> None:
    """Make the standard library's blocking calls park the calling goroutine.

    Call once, early (before importing the libraries that should cooperate).
    Each keyword turns one part off: ``gonet.patch(threading=False)``.
    Calling it again patches what was left out before; it never unpatches.

    - ``socket``: ``socket.socket`` (connect, accept, recv*, send*, sendall,
      sendfile, makefile; the socket's timeout is the deadline).
    - ``dns``: getaddrinfo, gethostbyname(_ex), gethostbyaddr, getnameinfo
      run on the thread pool in a goroutine.
    - ``ssl``: handshake, read, write, unwrap of ``SSLContext.wrap_socket``'s
      sockets.
    - ``select``: select.select/poll/epoll and the selectors classes.
    - ``time``: time.sleep.
    - ``threading``: Lock, RLock, Condition (so Event, Semaphore, Barrier,
      queue.Queue), Thread.join.
    - ``queue``: queue.SimpleQueue (the stdlib's pure-Python one).
    - ``subprocess``: os.waitpid, os.wait, Popen.wait and communicate.
    """
    from gonet.runtime.threadpool import default_pool

    default_pool()  # made before threading is patched: gonet's own pool keeps plain locks
    wanted = {"socket": socket, "dns": dns, "ssl": ssl, "select": select, "time": time,
              "threading": threading, "queue": queue, "subprocess": subprocess}
    for name in _ALL:
        if wanted[name] and name not in _done:
            _PATCHERS[name]()
            _done.add(name)


def unpatch() -> None:
    """Put back every attribute :func:`patch` replaced (for tests). Objects
    created while patched stay cooperative, which outside goroutines is the
    same behaviour as the stdlib's."""
    for (obj, name), value in reversed(list(_saved.items())):
        setattr(obj, name, value)
    _saved.clear()
    _done.clear()
    if os.environ.get("PSYCOPG_WAIT_FUNC") == "wait_poll":
        del os.environ["PSYCOPG_WAIT_FUNC"]


def patched() -> frozenset[str]:
    """The parts that are patched now (names as :func:`patch`'s keywords)."""
    return frozenset(_done)
