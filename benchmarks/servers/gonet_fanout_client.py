"""Benchmark subject (fan-out scenario), waiting for gonet's own HTTP client.

THE PLACE FOR GONET'S OWN CLIENT (issue 16): a gonet handler that calls the
upstream with ``gonet.http``'s Client instead of ``requests``. Until that
client lands this script reports itself "not available" (exit status 3) and
the row shows as such; once it has landed, the handler below runs as is, or
is adjusted to the client's final API. Target: >= 0.9 x the ideal
(connections / upstream delay).
"""

import os

from _common import raise_nofile, server_args, unavailable

try:
    from gonet import http
except ImportError as e:
    unavailable(f"gonet not importable ({e})")
if not hasattr(http, "Client"):
    unavailable("gonet's HTTP client (gonet.http.Client, issue 16) has not landed yet")

UPSTREAM = os.environ.get("FANOUT_UPSTREAM", "http://127.0.0.1:8001/")
client = http.Client(timeout=10, transport=http.Transport(max_idle_conns_per_host=128))


def handler(w: http.ResponseWriter, r: http.Request) -> None:
    if r.url.path == "/fast":
        w.write(b"fast")
        return
    with client.get(UPSTREAM) as resp:
        body = resp.body.read()
    w.header().set("Content-Type", "text/plain")
    w.write(body)


a = server_args()
raise_nofile()
http.Server(addr=f"{a.host}:{a.port}", handler=handler, idle_timeout=a.keepalive).listen_and_serve()
