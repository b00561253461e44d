"""Benchmark peer (HTTPS): uvicorn with ``--ssl-certfile/--ssl-keyfile``, h11 on asyncio
or (``--fast``) httptools on uvloop; asyncio's TLS record layer runs in Python."""

import argparse

from _common import asgi_hello, raise_nofile, tls_files, unavailable

p = argparse.ArgumentParser()
p.add_argument("--host", default="127.0.0.1")
p.add_argument("--port", type=int, required=True)
p.add_argument("--keepalive", type=float, default=300.0)
p.add_argument("--fast", action="store_true", help="httptools + uvloop instead of h11 + asyncio")
a = p.parse_args()
try:
    import uvicorn

    if a.fast:
        import httptools  # noqa: F401
        import uvloop  # noqa: F401
except ImportError as e:
    unavailable(f"uvicorn{'/httptools/uvloop' if a.fast else ''} not installed ({e})")

raise_nofile()
cert, key = tls_files()
uvicorn.run(asgi_hello, host=a.host, port=a.port, http="httptools" if a.fast else "h11",
            loop="uvloop" if a.fast else "asyncio", log_level="warning", access_log=False,
            timeout_keep_alive=int(a.keepalive), lifespan="off", backlog=4096,
            ssl_certfile=cert, ssl_keyfile=key)
