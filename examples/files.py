"""Serving a directory with FileServer (sendfile, ranges, conditional GET).

    python examples/files.py [DIR] [PORT]     # default: the current directory, 8080
    curl localhost:8080/static/
    curl -r 0-99 localhost:8080/static/README.md
"""

import os
import sys

from gonet import http


def main() -> None:
    root = sys.argv[1] if len(sys.argv) > 1 else os.getcwd()
    port = int(sys.argv[2]) if len(sys.argv) > 2 else 8080
    addr = f"127.0.0.1:{port}"
    mux = http.ServeMux()
    mux.handle("/static/", http.strip_prefix("/static", http.FileServer(root)))
    mux.handle_func("GET /{$}", lambda w, r: http.redirect(w, r, "/static/", 302))
    print(f"serving {root} on http://{addr}/static/", flush=True)
    try:
        http.Server(addr=addr, handler=mux).listen_and_serve()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
