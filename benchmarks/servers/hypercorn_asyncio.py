"""Benchmark peer (HTTP): hypercorn on asyncio (h11 underneath)."""

import asyncio

from _common import asgi_hello, server_args, unavailable

try:
    from hypercorn.asyncio import serve
    from hypercorn.config import Config
except ImportError as e:
    unavailable(f"hypercorn not installed ({e})")

a = server_args()
cfg = Config()
cfg.bind = [f"{a.host}:{a.port}"]
cfg.keep_alive_timeout = a.keepalive
cfg.accesslog = None
cfg.errorlog = None
cfg.loglevel = "WARNING"
cfg.backlog = 4096
asyncio.run(serve(asgi_hello, cfg))
