"""Hello world over HTTP: the smallest gonet.http server.

    python examples/hello_http.py [PORT]      # default 8080, on 127.0.0.1

Each connection is served by its own goroutine; the handler is a plain
function.
"""

import sys

from gonet import http


def hello(w: http.ResponseWriter, r: http.Request) -> None:
    w.header().set("Content-Type", "text/plain")
    w.write(b"Hello, World!")


def main() -> None:
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8080
    addr = f"127.0.0.1:{port}"
    srv = http.Server(addr=addr, handler=hello)
    print(f"gonet.http listening on http://{addr}/", flush=True)
    try:
        srv.listen_and_serve()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
