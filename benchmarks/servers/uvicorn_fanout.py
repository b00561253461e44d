"""Benchmark peer (fan-out scenario): uvicorn, an async handler calling the upstream with httpx.

``/fast`` answers at once; every other path awaits one ``httpx.AsyncClient``
GET of ``FANOUT_UPSTREAM`` (pool of 128 connections) and answers with its body.
"""

import os

from _common import server_args, unavailable

try:
    import httpx
    import uvicorn
except ImportError as e:
    unavailable(f"uvicorn/httpx not installed ({e})")

UPSTREAM = os.environ.get("FANOUT_UPSTREAM", "http://127.0.0.1:8001/")
_client = None


async def app(scope, receive, send):
    global _client
    if scope["type"] != "http":
        return
    if scope["path"] == "/fast":
        body = b"fast"
    else:
        if _client is None:
            _client = httpx.AsyncClient(limits=httpx.Limits(max_connections=128,
                                                            max_keepalive_connections=128),
                                        timeout=10)
        body = (await _client.get(UPSTREAM)).content
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


a = server_args()
uvicorn.run(app, host=a.host, port=a.port, http="h11", loop="asyncio", log_level="warning",
            access_log=False, timeout_keep_alive=int(a.keepalive), lifespan="off",
            backlog=4096)
