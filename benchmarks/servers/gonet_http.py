"""Benchmark subject (HTTP): gonet.http serving the 13-byte hello, one goroutine per connection."""

from _common import BODY, server_args, unavailable

try:
    from gonet import http

    http.Server  # noqa: B018 - the contract of issue 5
except (ImportError, AttributeError) as e:
    unavailable(f"gonet.http not available yet ({e})")


def hello(w, r) -> None:
    w.header().set("Content-Type", "text/plain")
    w.write(BODY)


if __name__ == "__main__":  # also imported as gonet_http:hello by gonet_serve.py
    a = server_args()
    http.Server(addr=f"{a.host}:{a.port}", handler=hello,
                idle_timeout=a.keepalive).listen_and_serve()
