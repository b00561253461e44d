"""Benchmark peer (WebSocket): uvicorn (h11, asyncio loop) with a raw ASGI echo
app; ``--ws websockets`` or ``--ws wsproto`` picks uvicorn's WebSocket back end."""

import argparse
import sys

from _common import server_args, unavailable

p = argparse.ArgumentParser(add_help=False)
p.add_argument("--ws", default="websockets")
ws_kind, rest = p.parse_known_args()
sys.argv[1:] = rest

try:
    import uvicorn

    __import__(ws_kind.ws)
except ImportError as e:
    unavailable(f"uvicorn or its {ws_kind.ws} back end not installed ({e})")


async def echo(scope, receive, send) -> None:
    """A bare ASGI WebSocket echo (no framework)."""
    if scope["type"] != "websocket":
        return
    await receive()  # websocket.connect
    await send({"type": "websocket.accept"})
    while True:
        m = await receive()
        if m["type"] != "websocket.receive":
            return
        if m.get("text") is not None:
            await send({"type": "websocket.send", "text": m["text"]})
        else:
            await send({"type": "websocket.send", "bytes": m["bytes"]})


a = server_args()
uvicorn.run(echo, host=a.host, port=a.port, http="h11", loop="asyncio", ws=ws_kind.ws,
            ws_ping_interval=None, log_level="warning", access_log=False, lifespan="off",
            timeout_keep_alive=int(a.keepalive), backlog=4096)
