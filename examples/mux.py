"""ServeMux with Go 1.22 patterns: methods, wildcards, {$}, subtrees.

    python examples/mux.py [PORT]       # default 8080, on 127.0.0.1

Try:
    curl localhost:8080/                     -> the index ({$}: only "/")
    curl localhost:8080/users/42             -> GET with a {id} wildcard
    curl -X DELETE localhost:8080/users/42   -> same path, another method
    curl -X PUT localhost:8080/users/42      -> 405 with "Allow: DELETE, GET, HEAD"
    curl localhost:8080/files/a/b/c.txt      -> {path...} takes the rest
    curl -i localhost:8080/docs              -> 301 to /docs/ (a subtree)
"""

import sys

from gonet import http

mux = http.ServeMux()


@mux.handle_func("GET /{$}")
def index(w: http.ResponseWriter, r: http.Request) -> None:
    w.write(b"index\n")


@mux.handle_func("GET /users/{id}")
def get_user(w: http.ResponseWriter, r: http.Request) -> None:
    w.write(f"user {r.path_value('id')}\n".encode())


@mux.handle_func("DELETE /users/{id}")
def delete_user(w: http.ResponseWriter, r: http.Request) -> None:
    w.write_header(204)


@mux.handle_func("GET /files/{path...}")
def files(w: http.ResponseWriter, r: http.Request) -> None:
    w.write(f"file {r.path_value('path')!r}\n".encode())


@mux.handle_func("/docs/")
def docs(w: http.ResponseWriter, r: http.Request) -> None:
    w.write(f"docs subtree: {r.url.path}\n".encode())


def main() -> None:
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8080
    addr = f"127.0.0.1:{port}"
    print(f"mux example on http://{addr}/", flush=True)
    try:
        http.Server(addr=addr, handler=mux).listen_and_serve()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
