"""gonet.net: Go's ``net`` package on the FD layer.

Modules, bottom to top: ``addr`` (addresses and the resolver), ``errors``
(Go's OpError wording), ``sockets`` (sockets with Go's defaults, before any
FD exists; :func:`listen_socket` for process supervisors), ``conn`` (Conn,
Listener, PacketConn), ``dial`` (listen, listen_packet, dial, and
file_listener / file_conn / file_packet_conn for sockets made elsewhere).
Everything blocking parks the calling goroutine, never the thread.
"""

from gonet.net.addr import Addr, TCPAddr, UDPAddr, UnixAddr, join_host_port, split_host_port
from gonet.net.conn import Conn, Deadline, Listener, PacketConn, RawConn
from gonet.net.dial import (
    dial,
    file_conn,
    file_listener,
    file_packet_conn,
    listen,
    listen_packet,
)
from gonet.net.errors import ClosedError, DeadlineExceededError, NetError
from gonet.net.sockets import listen_socket

__all__ = [
    "Addr",
    "TCPAddr",
    "UDPAddr",
    "UnixAddr",
    "Conn",
    "Deadline",
    "Listener",
    "PacketConn",
    "RawConn",
    "ClosedError",
    "DeadlineExceededError",
    "NetError",
    "listen",
    "listen_packet",
    "listen_socket",
    "dial",
    "file_listener",
    "file_conn",
    "file_packet_conn",
    "split_host_port",
    "join_host_port",
]
