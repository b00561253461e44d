"""TCP echo server: one goroutine per connection, plain blocking-style code.

    python examples/echo_server.py [ADDRESS]     (default 127.0.0.1:7007)

Try it with `nc 127.0.0.1 7007`.
"""

from __future__ import annotations

import sys

import gonet


def serve(conn: gonet.Conn) -> None:
    with conn:
        while True:
            data = conn.read(65536)
            if not data:  # the client closed its side
                return
            conn.write(data)


def main(address: str = "127.0.0.1:7007") -> None:
    ln = gonet.listen("tcp", address)
    print(f"echo server listening on {ln.addr}", flush=True)
    for conn in ln:  # accept until the listener is closed
        gonet.go(serve, conn)


if __name__ == "__main__":
    main(*sys.argv[1:2])
