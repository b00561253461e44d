"""Benchmark reference (HTTP): uvicorn with the C httptools parser on uvloop."""

from _common import asgi_hello, server_args, unavailable

try:
    import httptools  # noqa: F401
    import uvicorn
    import uvloop  # noqa: F401
except ImportError as e:
    unavailable(f"uvicorn/httptools/uvloop not installed ({e})")

a = server_args()
uvicorn.run(asgi_hello, host=a.host, port=a.port, http="httptools", loop="uvloop",
            log_level="warning", access_log=False, timeout_keep_alive=int(a.keepalive),
            lifespan="off", backlog=4096)
