"""An idle-timeout line server: a client that stays silent too long is dropped.

    python examples/deadlines.py [ADDRESS] [IDLE_SECONDS]   (default 127.0.0.1:7008, 5 s)

Each line a client sends is answered in upper case; every read is guarded by a
read deadline pushed forward after each line, exactly as a Go server would use
SetReadDeadline.
"""

from __future__ import annotations

import sys
import time

import gonet


def serve(conn: gonet.Conn, idle: float) -> None:
    reader = gonet.bufio.Reader(conn)
    with conn:
        conn.write(b"hello; say something within %.0f s\n" % idle)
        while True:
            conn.set_read_deadline(time.monotonic() + idle)
            try:
                line = reader.readline()
            except gonet.DeadlineExceededError:
                conn.write(b"idle too long, bye\n")
                print(f"{conn.remote_addr}: dropped after {idle} s of silence", flush=True)
                return
            if not line:
                return
            conn.write(line.upper())


def main(address: str = "127.0.0.1:7008", idle: str = "5") -> None:
    ln = gonet.listen("tcp", address)
    print(f"idle-timeout server on {ln.addr} (idle limit {idle} s)", flush=True)
    for conn in ln:
        gonet.go(serve, conn, float(idle))


if __name__ == "__main__":
    main(*sys.argv[1:3])
