"""Benchmark peer (WebSocket): the websockets library's asyncio server (its C
masking speedup included), echoing every message."""

import asyncio

from _common import server_args, unavailable

try:
    from websockets.asyncio.server import serve
except ImportError as e:
    unavailable(f"websockets not installed ({e})")


async def echo(ws) -> None:
    async for msg in ws:
        await ws.send(msg)


async def main(host: str, port: int) -> None:
    async with serve(echo, host, port, ping_interval=None, compression=None, backlog=4096) as s:
        await s.serve_forever()


a = server_args()
asyncio.run(main(a.host, a.port))
