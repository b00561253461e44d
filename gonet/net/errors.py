"""Net layer: Go's OpError wording for every error the net layer raises.

Errors name the operation and the endpoints, as Go's ``net.OpError`` does::

    read tcp 127.0.0.1:5000->127.0.0.1:4321: i/o timeout
    dial tcp 127.0.0.1:1: connect: connection refused

OS errors keep their Python type (ConnectionRefusedError, ...); gonet's own
are :class:`ClosedError` and :class:`DeadlineExceededError` (a TimeoutError),
raised bare by the FD layer and renamed here. Every such error carries
``op``, ``net``, ``source`` and ``addr``.
"""

from __future__ import annotations

import os
from typing import Any

from gonet.poll.errors import ClosedError, DeadlineExceededError, NetError

__all__ = ["CanceledError", "ClosedError", "DeadlineExceededError", "NetError", "op_error"]


class CanceledError(NetError):
    """A dial given a context that was cancelled (Go's ``errCanceled``)."""

    reason = "operation was canceled"


def op_error(e: BaseException, op: str, net: str, source: Any, addr: Any,
              syscall: str | None = None) -> BaseException:
    """Re-make ``e`` with Go's OpError message; keeps its type.

    ``syscall`` names the call that failed when it is not obvious from ``op``
    ("bind" for listen, "connect" for dial), as Go's os.SyscallError does.
    """
    if not isinstance(e, OSError) or getattr(e, "op", None) is not None:
        return e
    where = f"{source}->{addr}" if source is not None and addr is not None else str(addr or source or "")
    prefix = f"{op} {net} {where}".rstrip()
    if isinstance(e, NetError):
        new: OSError = type(e)(f"{prefix}: {e.reason}")
    elif e.errno is not None:
        detail = e.strerror or os.strerror(e.errno)
        detail = detail[:1].lower() + detail[1:]  # Go's errno strings are lower case
        if syscall is None and op == "dial":
            syscall = "connect"
        if syscall:
            detail = f"{syscall}: {detail}"
        try:
            new = type(e)(f"{prefix}: {detail}")
        except TypeError:
            new = OSError(f"{prefix}: {detail}")
        # Keep the errno for code that checks it; leave strerror unset so that
        # str() is Go's message rather than "[Errno N] ...".
        new.errno = e.errno
    else:
        try:
            new = type(e)(f"{prefix}: {e}")
        except TypeError:
            new = OSError(f"{prefix}: {e}")
    new.op = op  # type: ignore[attr-defined]
    new.net = net  # type: ignore[attr-defined]
    new.source = source  # type: ignore[attr-defined]
    new.addr = addr  # type: ignore[attr-defined]
    new.__cause__ = None
    new.__suppress_context__ = True
    return new
