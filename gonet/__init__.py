"""gonet: Go's network stack for Python.

Goroutines on greenlets with a per-thread scheduler (``gonet.runtime``), a
netpoller with Go's pollDesc semantics (``gonet.poll``), ``net``-style
listen/dial/Conn with deadlines (this package), and a ``net/http``-style
server on h11 (``gonet.http``). Code is plain blocking-style Python: a call
that must wait parks its goroutine, not the thread.
"""

from gonet import bufio, context, gotime, signal, sync
from gonet import gotime as time  # gonet.time: Go's time (after, Timer, Ticker)
from gonet.chan import Case, Chan, ChanClosedError, select
from gonet.coop import patch
from gonet.net import (
    Addr,
    ClosedError,
    Conn,
    DeadlineExceededError,
    Listener,
    NetError,
    PacketConn,
    TCPAddr,
    UDPAddr,
    UnixAddr,
    dial,
    file_conn,
    file_listener,
    file_packet_conn,
    join_host_port,
    listen,
    listen_packet,
    split_host_port,
)
from gonet.runtime import (
    DeadlockError,
    Goroutine,
    blocking,
    dump_goroutines,
    go,
    go_named,
    num_goroutine,
    sleep,
)

__all__ = [
    "Case",
    "Chan",
    "ChanClosedError",
    "context",
    "gotime",
    "select",
    "signal",
    "sync",
    "time",
    "Addr",
    "ClosedError",
    "Conn",
    "DeadlineExceededError",
    "Listener",
    "NetError",
    "PacketConn",
    "TCPAddr",
    "UDPAddr",
    "UnixAddr",
    "bufio",
    "dial",
    "file_conn",
    "file_listener",
    "file_packet_conn",
    "join_host_port",
    "listen",
    "listen_packet",
    "split_host_port",
    "DeadlockError",
    "Goroutine",
    "blocking",
    "dump_goroutines",
    "go",
    "go_named",
    "num_goroutine",
    "sleep",
    "patch",
]

__version__ = "0.1.0"
