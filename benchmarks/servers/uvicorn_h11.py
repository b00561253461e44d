"""Benchmark peer (HTTP): uvicorn with the pure-Python h11 parser on the asyncio loop."""

from _common import asgi_hello, server_args, unavailable

try:
    import uvicorn
except ImportError as e:
    unavailable(f"uvicorn not installed ({e})")

a = server_args()
uvicorn.run(asgi_hello, host=a.host, port=a.port, http="h11", loop="asyncio",
            log_level="warning", access_log=False, timeout_keep_alive=int(a.keepalive),
            lifespan="off", backlog=4096)
