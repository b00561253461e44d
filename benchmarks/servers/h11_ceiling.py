"""Benchmark reference (scenario 1): h11's ceiling, no I/O.

Parses the request wrk sends and serialises the 13-byte hello response with
h11 alone, in a loop on one Connection (keep-alive cycles), for ``--seconds``.
No server can speak HTTP through h11 faster than this on this machine; the
runner reports gonet.http's requests/s as a fraction of it.
"""

import time
from email.utils import formatdate

from _common import BODY, emit, program_args, unavailable

try:
    import h11
except ImportError as e:
    unavailable(f"h11 not installed ({e})")

REQUEST = b"GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n"


def main() -> None:
    a = program_args()
    conn = h11.Connection(h11.SERVER)
    date = formatdate(usegmt=True).encode()
    headers = [("Content-Type", "text/plain"), ("Content-Length", "13"), ("Date", date)]
    n = 0
    out = 0
    t0 = time.perf_counter()
    deadline = t0 + a.seconds
    while True:
        for _ in range(500):
            conn.receive_data(REQUEST)
            req = conn.next_event()
            assert type(req) is h11.Request
            end = conn.next_event()
            assert type(end) is h11.EndOfMessage
            wire = conn.send(h11.Response(status_code=200, headers=headers))
            wire += conn.send(h11.Data(data=BODY))
            wire += conn.send(h11.EndOfMessage())
            out += len(wire)
            conn.start_next_cycle()
        n += 500
        now = time.perf_counter()
        if now >= deadline:
            break
    emit({"rate": n / (now - t0), "cycles": n, "response_bytes": out // n})


main()
