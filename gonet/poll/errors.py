"""FD layer: the two errors an FD operation raises on its own account.

Go's ``internal/poll.ErrNetClosing`` and ``ErrDeadlineExceeded``. The net
layer re-raises them with a message that names the operation and the
endpoints ("read tcp 127.0.0.1:5000->127.0.0.1:4321: i/o timeout"), filling
``op``, ``net``, ``source`` and ``addr``. Every other failure of a syscall
surfaces as the OSError subclass Python gives it (ConnectionResetError, ...),
renamed the same way.
"""

from __future__ import annotations

__all__ = ["ClosedError", "DeadlineExceededError", "NetError"]


class NetError(OSError):
    """Common base of gonet's own network errors; carries Go's OpError fields."""

    reason = "network error"
    op: str | None = None
    net: str | None = None
    source: object = None
    addr: object = None

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.reason)


class ClosedError(NetError):
    """An operation on (or parked on) a connection or listener that was closed."""

    reason = "use of closed network connection"


class DeadlineExceededError(NetError, TimeoutError):
    """The read or write deadline passed. Stays raised until the deadline is moved."""

    reason = "i/o timeout"
