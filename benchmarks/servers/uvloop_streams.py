"""Benchmark peer (TCP echo): asyncio streams on uvloop (libuv, C)."""

import asyncio

from _common import server_args, unavailable

try:
    import uvloop
except ImportError as e:
    unavailable(f"uvloop not installed ({e})")


async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


async def main(host: str, port: int) -> None:
    srv = await asyncio.start_server(handle, host, port, backlog=4096)
    async with srv:
        await srv.serve_forever()


a = server_args()
uvloop.run(main(a.host, a.port))
