"""gonet.poll: Go's ``internal/poll``: the FD every socket operation goes through.

``fd`` holds :class:`FD`: a non-blocking socket with its pollDesc and the
fdMutex, whose every operation tries the syscall first and parks the calling
goroutine on the runtime's netpoller on EAGAIN. ``errors`` holds the two
errors an FD raises on its own account. The netpoller itself (pollDesc and
the OS backends) belongs to the runtime, below this package
(``gonet.runtime.netpoll``).
"""

from gonet.poll.errors import ClosedError, DeadlineExceededError, NetError
from gonet.poll.fd import FD

__all__ = ["FD", "ClosedError", "DeadlineExceededError", "NetError"]
