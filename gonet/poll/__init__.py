"""gonet.poll: the netpoller (OS backends + pollDesc) and the FD built on it.

Layers inside this package, bottom to top:

- ``backend_epoll``, ``backend_kqueue``, ``backend_poll``: the OS backends
  (Go's netpoll_epoll.go and friends), each the five-function interface
  init / open / close / poll / break (``wake``).
- ``polldesc``: pollDesc, the free list, deadlines, and the Netpoller that a
  scheduler polls (Go's runtime/netpoll.go).
- ``fd``: the FD of Go's internal/poll: a non-blocking socket whose every
  operation tries the syscall and parks on EAGAIN. It sits above the
  scheduler and is imported on its own (``gonet.poll.fd``).

``GONET_POLLER=epoll|kqueue|poll`` picks a backend; otherwise the best the
platform has is used.
"""

from __future__ import annotations

import os
import select

__all__ = ["backend", "available_backends", "new_backend"]

_ORDER = ("epoll", "kqueue", "poll")


def available_backends() -> list[str]:
    """Backends this platform offers, best first."""
    have = []
    if hasattr(select, "epoll"):
        have.append("epoll")
    if hasattr(select, "kqueue"):
        have.append("kqueue")
    if hasattr(select, "poll"):
        have.append("poll")
    return have


def backend() -> str:
    """The name of the backend new schedulers use (``GONET_POLLER`` or the best one)."""
    want = os.environ.get("GONET_POLLER", "").strip().lower()
    have = available_backends()
    if want:
        if want not in _ORDER:
            raise ValueError(f"GONET_POLLER={want!r}: expected one of {', '.join(_ORDER)}")
        if want not in have:
            raise RuntimeError(f"GONET_POLLER={want!r}: not available on this platform")
        return want
    if not have:
        raise RuntimeError("no poller backend available (need epoll, kqueue or poll)")
    return have[0]


def new_backend(name: str | None, netpoller):
    """Create an OS backend instance for ``netpoller``."""
    name = name or backend()
    if name == "epoll":
        from gonet.poll.backend_epoll import EpollBackend

        return EpollBackend(netpoller)
    if name == "kqueue":
        from gonet.poll.backend_kqueue import KqueueBackend

        return KqueueBackend(netpoller)
    if name == "poll":
        from gonet.poll.backend_poll import PollBackend

        return PollBackend(netpoller)
    raise ValueError(f"unknown poller backend {name!r}")
