"""Benchmark client (scenario "client"): gonet.http's Client, one goroutine per request in flight."""

import time

from _common import ClientStats, callgrind, client_args, client_result, emit, unavailable

try:
    import gonet
    from gonet import http
    http.Client  # noqa: B018 - the client landed with issue 16
except (ImportError, AttributeError) as e:
    unavailable(f"gonet.http has no client ({e})")

a = client_args()
c = http.Client(transport=http.Transport(max_idle_conns_per_host=a.conns))
st = ClientStats()
left = [0]


def worker() -> None:
    get = c.get
    url = a.url
    while not st.stop:
        if a.requests:
            if left[0] <= 0:
                return
            left[0] -= 1
        t0 = time.perf_counter()
        try:
            with get(url) as r:
                r.body.read()
            if r.status_code != 200:
                st.errors += 1
        except OSError:
            st.errors += 1
        st.record(time.perf_counter() - t0)


def run_all() -> None:
    gs = [gonet.go(worker) for _ in range(a.conns)]
    for g in gs:
        g.join()


if a.requests:
    left[0] = a.requests
    run_all()  # warm-up
    left[0] = a.requests
    callgrind(True)
    run_all()
    callgrind(False)
    emit({"requests": a.requests})
else:
    gs = [gonet.go(worker) for _ in range(a.conns)]
    gonet.sleep(a.warmup)
    n0, t0 = st.done, time.perf_counter()
    st.measuring = True
    gonet.sleep(a.seconds)
    n1, t1 = st.done, time.perf_counter()
    st.stop = True
    for g in gs:
        g.join()
    emit(client_result(st, n0, t0, n1, t1))
