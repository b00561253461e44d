"""Benchmark peer (TCP echo): trio.serve_tcp, one task per connection."""

from functools import partial

from _common import server_args, unavailable

try:
    import trio
except ImportError as e:
    unavailable(f"trio not installed ({e})")


async def handle(stream) -> None:
    try:
        async for data in stream:
            await stream.send_all(data)
    except trio.BrokenResourceError:
        pass


a = server_args()
trio.run(partial(trio.serve_tcp, handle, a.port, host=a.host, backlog=4096))
