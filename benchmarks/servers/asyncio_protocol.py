"""Benchmark peer (TCP echo): an asyncio Protocol whose data_received writes the data back."""

import asyncio

from _common import server_args


class Echo(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.transport.write(data)


async def main(host: str, port: int) -> None:
    loop = asyncio.get_running_loop()
    srv = await loop.create_server(Echo, host, port, backlog=4096)
    async with srv:
        await srv.serve_forever()


a = server_args()
asyncio.run(main(a.host, a.port))
