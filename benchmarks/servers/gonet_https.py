"""Benchmark subject (HTTPS): gonet.http serving the 13-byte hello over TLS (gonet.tls)."""

from _common import BODY, server_args, tls_files, unavailable

try:
    from gonet import http, tls

    http.Server.listen_and_serve_tls  # noqa: B018 - the contract of issue 15
except (ImportError, AttributeError) as e:
    unavailable(f"gonet.tls not available yet ({e})")


def hello(w, r) -> None:
    w.header().set("Content-Type", "text/plain")
    w.write(BODY)


if __name__ == "__main__":
    a = server_args()
    cert, key = tls_files()
    http.Server(addr=f"{a.host}:{a.port}", handler=hello, idle_timeout=a.keepalive,
                tls_config=tls.server_context(cert, key)).listen_and_serve_tls()
