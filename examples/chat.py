"""A multi-client chat room over TCP: each line a client sends goes to all others.

    python examples/chat.py [ADDRESS]     (default 127.0.0.1:7009)

One goroutine reads each client; a write to a slow client is bounded by a
write deadline so that one stuck client cannot stall the room.
"""

from __future__ import annotations

import sys
import time

import gonet

clients: dict[gonet.Conn, str] = {}


def broadcast(sender: gonet.Conn | None, text: bytes) -> None:
    for conn in list(clients):
        if conn is sender:
            continue
        conn.set_write_deadline(time.monotonic() + 1.0)
        try:
            conn.write(text)
        except OSError:
            conn.close()  # its reader goroutine sees the close and cleans up


def serve(conn: gonet.Conn) -> None:
    name = str(conn.remote_addr)
    reader = gonet.bufio.Reader(conn)
    clients[conn] = name
    broadcast(conn, f"* {name} joined\n".encode())
    try:
        for line in reader:
            broadcast(conn, f"{name}: ".encode() + line)
    except OSError:
        pass
    finally:
        clients.pop(conn, None)
        conn.close()
        broadcast(None, f"* {name} left\n".encode())


def main(address: str = "127.0.0.1:7009") -> None:
    ln = gonet.listen("tcp", address)
    print(f"chat room on {ln.addr}", flush=True)
    for conn in ln:
        gonet.go(serve, conn)


if __name__ == "__main__":
    main(*sys.argv[1:2])
