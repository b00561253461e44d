"""Benchmark client (scenario "client"): requests, one thread per request in flight.

``--gevent`` monkey-patches first (gevent.monkey.patch_all), so the threads
are greenlets on gevent's hub.
"""

import sys

if "--gevent" in sys.argv:
    sys.argv.remove("--gevent")
    try:
        from gevent import monkey
    except ImportError as e:
        from _common import unavailable

        unavailable(f"gevent not installed ({e})")
    monkey.patch_all()

import threading  # noqa: E402
import time  # noqa: E402

from _common import (  # noqa: E402
    ClientStats,
    callgrind,
    client_args,
    client_result,
    emit,
    unavailable,
)

try:
    import requests
    from requests.adapters import HTTPAdapter
except ImportError as e:
    unavailable(f"requests not installed ({e})")

a = client_args()
st = ClientStats()
s = requests.Session()
s.mount("http://", HTTPAdapter(pool_connections=1, pool_maxsize=a.conns))
lock = threading.Lock()
left = [0]


def worker() -> None:
    get = s.get
    url = a.url
    while not st.stop:
        if a.requests:
            with lock:
                if left[0] <= 0:
                    return
                left[0] -= 1
        t0 = time.perf_counter()
        try:
            r = get(url)
            r.content  # noqa: B018 - read the body
            if r.status_code != 200:
                st.errors += 1
        except requests.RequestException:
            st.errors += 1
        st.record(time.perf_counter() - t0)


def run_all() -> list[threading.Thread]:
    ts = [threading.Thread(target=worker, daemon=True) for _ in range(a.conns)]
    for t in ts:
        t.start()
    return ts


if a.requests:
    left[0] = a.requests
    for t in run_all():
        t.join()
    left[0] = a.requests
    callgrind(True)
    for t in run_all():
        t.join()
    callgrind(False)
    emit({"requests": a.requests})
else:
    ts = run_all()
    time.sleep(a.warmup)
    n0, t0 = st.done, time.perf_counter()
    st.measuring = True
    time.sleep(a.seconds)
    n1, t1 = st.done, time.perf_counter()
    st.stop = True
    for t in ts:
        t.join(30)
    emit(client_result(st, n0, t0, n1, t1))
