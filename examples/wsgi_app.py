"""A plain WSGI application (no framework), served by gonet.

    gonet serve examples.wsgi_app:app --bind 127.0.0.1:8000
    gonet serve examples.wsgi_app:app --workers 2 --threads 8   # if it blocked

Routes: / (hello), /echo (POST: the body back, streamed as it is read),
/stream (a chunked response in blocks), /env (the environ's CGI keys).
"""

from __future__ import annotations

import json


def app(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/":
        body = b"hello from WSGI on gonet\n"
        start_response("200 OK", [("Content-Type", "text/plain"),
                                  ("Content-Length", str(len(body)))])
        return [body]
    if path == "/echo" and environ["REQUEST_METHOD"] == "POST":
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        inp = environ["wsgi.input"]

        def echo():
            while True:
                chunk = inp.read(65536)
                if not chunk:
                    return
                yield chunk

        return echo()
    if path == "/stream":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return (f"line {i}\n".encode() for i in range(5))
    if path == "/env":
        keys = {k: v for k, v in environ.items() if k.isupper()}
        body = json.dumps(keys, indent=1, sort_keys=True).encode()
        start_response("200 OK", [("Content-Type", "application/json")])
        return [body]
    start_response("404 Not Found", [("Content-Type", "text/plain")])
    return [b"not found\n"]
