"""Benchmark client (scenario "client"): aiohttp.ClientSession, one task per request in flight."""

import asyncio
import time

from _common import ClientStats, callgrind, client_args, client_result, emit, unavailable

try:
    import aiohttp
except ImportError as e:
    unavailable(f"aiohttp not installed ({e})")

a = client_args()
st = ClientStats()
left = [0]


async def main() -> None:
    conn = aiohttp.TCPConnector(limit=a.conns)
    async with aiohttp.ClientSession(connector=conn) as s:
        async def worker() -> None:
            while not st.stop:
                if a.requests:
                    if left[0] <= 0:
                        return
                    left[0] -= 1
                t0 = time.perf_counter()
                try:
                    async with s.get(a.url) as r:
                        await r.read()
                        if r.status != 200:
                            st.errors += 1
                except aiohttp.ClientError:
                    st.errors += 1
                st.record(time.perf_counter() - t0)

        if a.requests:
            left[0] = a.requests
            await asyncio.gather(*[worker() for _ in range(a.conns)])
            left[0] = a.requests
            callgrind(True)
            await asyncio.gather(*[worker() for _ in range(a.conns)])
            callgrind(False)
            emit({"requests": a.requests})
            return
        tasks = [asyncio.create_task(worker()) for _ in range(a.conns)]
        await asyncio.sleep(a.warmup)
        n0, t0 = st.done, time.perf_counter()
        st.measuring = True
        await asyncio.sleep(a.seconds)
        n1, t1 = st.done, time.perf_counter()
        st.stop = True
        await asyncio.gather(*tasks)
        emit(client_result(st, n0, t0, n1, t1))


asyncio.run(main())
