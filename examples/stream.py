"""Streaming with flush: server-sent events that stop when the client leaves.

    python examples/stream.py [PORT]      # default 8080, on 127.0.0.1
    curl -N localhost:8080/events

Each flush sends what was written as one chunk. The request context is done
when the client disconnects (or the server shuts down), so the loop ends
instead of writing into the void. read_timeout bounds reading the request
only: it does not cut the stream.
"""

import sys
import time

import gonet
from gonet import http


def events(w: http.ResponseWriter, r: http.Request) -> None:
    w.header().set("Content-Type", "text/event-stream")
    w.header().set("Cache-Control", "no-cache")
    ctx = r.context
    n = 0
    while ctx.err() is None:
        w.write(f"id: {n}\ndata: {time.strftime('%H:%M:%S')}\n\n".encode())
        w.flush()
        n += 1
        # Wait a second, or less if the client goes away.
        gonet.select(ctx.done().recv_case(), timeout=1.0)
    print(f"client {r.remote_addr} left after {n} events", flush=True)


def main() -> None:
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8080
    addr = f"127.0.0.1:{port}"
    mux = http.ServeMux()
    mux.handle_func("GET /events", events)
    print(f"stream example on http://{addr}/events", flush=True)
    try:
        http.Server(addr=addr, handler=mux, read_timeout=5).listen_and_serve()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
