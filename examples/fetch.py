"""Fetch several URLs at once, each under a deadline: gonet.http's client.

    python examples/fetch.py [--timeout S] [URL ...]

One goroutine per URL, all on one pooled Client; each request carries a
context with a deadline (``--timeout``, 2 s by default), so a slow server
costs at most that. Without URLs it starts a small local server with a fast,
a slow, a redirecting and a missing page, and fetches those. Prints one line
per URL: status, bytes and time, or the error (Go's url.Error wording).
"""

from __future__ import annotations

import argparse
import time

import gonet
from gonet import context, http


def fetch(client: http.Client, url: str, timeout: float) -> str:
    ctx, cancel = context.with_timeout(context.background(), timeout)
    t0 = time.monotonic()
    try:
        with client.do(http.new_request("GET", url, context=ctx)) as r:
            body = r.body.read()
        return f"{r.status:<16} {len(body):>7} bytes  {time.monotonic() - t0:6.3f} s  {url}"
    except http.URLError as e:
        return f"{'error':<16} {'':>13}  {time.monotonic() - t0:6.3f} s  {e}"
    finally:
        cancel()


def demo_server() -> str:
    """A local server to fetch from when no URL is given; returns its base URL."""

    def fast(w: http.ResponseWriter, r: http.Request) -> None:
        w.write(b"fast answer")

    def slow(w: http.ResponseWriter, r: http.Request) -> None:
        gonet.select(r.context.done().recv_case(), timeout=10)  # until the client gives up
        w.write(b"too late")

    mux = http.ServeMux()
    mux.handle_func("/fast", fast)
    mux.handle_func("/slow", slow)
    mux.handle("/old", http.redirect_handler("/fast", 301))
    ln = gonet.listen("tcp", "127.0.0.1:0")
    gonet.go(http.Server(handler=mux).serve, ln)
    return f"http://{ln.addr}"


def main() -> None:
    p = argparse.ArgumentParser(description="fetch URLs concurrently, each with a deadline")
    p.add_argument("--timeout", type=float, default=2.0, help="seconds per request")
    p.add_argument("urls", nargs="*")
    a = p.parse_args()
    urls = a.urls
    if not urls:
        base = demo_server()
        urls = [f"{base}/fast", f"{base}/slow", f"{base}/old", f"{base}/missing",
                "http://127.0.0.1:1/refused"]
    client = http.Client(transport=http.Transport(max_idle_conns_per_host=len(urls)))
    t0 = time.monotonic()
    gs = [gonet.go(fetch, client, u, a.timeout) for u in urls]
    for g in gs:
        print(g.join(), flush=True)
    print(f"{len(urls)} URLs in {time.monotonic() - t0:.3f} s", flush=True)


if __name__ == "__main__":
    main()
