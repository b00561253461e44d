"""Benchmark peer (TCP echo): gevent.server.StreamServer, one greenlet per connection."""

import socket

from _common import server_args, unavailable

try:
    from gevent.server import StreamServer
except ImportError as e:
    unavailable(f"gevent not installed ({e})")


def handle(sock, address) -> None:
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        while True:
            data = sock.recv(65536)
            if not data:
                break
            sock.sendall(data)
    except ConnectionError:
        pass
    finally:
        sock.close()


a = server_args()
StreamServer((a.host, a.port), handle, backlog=4096).serve_forever()
