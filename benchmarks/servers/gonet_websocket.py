"""Benchmark subject (WebSocket): gonet.http + gonet.websocket echoing every
message, one goroutine per WebSocket in a plain ``for msg in ws`` loop."""

from _common import server_args, unavailable

try:
    from gonet import http, websocket

    websocket.accept  # noqa: B018 - the contract of issue 18
except (ImportError, AttributeError) as e:
    unavailable(f"gonet.websocket not available yet ({e})")


def echo(w, r) -> None:
    ws = websocket.accept(w, r)
    with ws:
        for msg in ws:
            ws.send(msg)


a = server_args()
http.Server(addr=f"{a.host}:{a.port}", handler=echo, idle_timeout=a.keepalive).listen_and_serve()
