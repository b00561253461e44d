"""A chat room in the browser: open http://127.0.0.1:8090/ in two tabs.

    python examples/ws_chat.py [ADDRESS]     (default 127.0.0.1:8090)

``GET /`` serves the page; its script opens a WebSocket to ``/ws``. Each
WebSocket is served by one goroutine in a plain ``for msg in ws`` loop;
every message goes to everyone, each send bounded by a write deadline so
that one stuck browser cannot stall the room (it is dropped instead).
Ctrl+C shuts the server down gracefully: every open page is told "going
away" (close code 1001).
"""

from __future__ import annotations

import json
import signal
import sys
import time

import gonet
from gonet import context, http, websocket

PAGE = b"""<!doctype html>
<html><head><meta charset="utf-8"><title>gonet chat</title>
<style>
 body { font: 15px system-ui, sans-serif; max-width: 40em; margin: 2em auto; }
 #log { border: 1px solid #ccc; height: 20em; overflow-y: auto; padding: .5em; }
 #log p { margin: .2em 0; } .sys { color: #888; }
 form { display: flex; gap: .5em; margin-top: .5em; } #text { flex: 1; }
</style></head>
<body>
<h1>gonet chat</h1>
<div id="log"></div>
<form id="form"><input id="text" autocomplete="off" placeholder="say something" autofocus>
<button>send</button></form>
<script>
const log = document.getElementById("log");
function show(text, cls) {
  const p = document.createElement("p");
  p.textContent = text;
  if (cls) p.className = cls;
  log.appendChild(p);
  log.scrollTop = log.scrollHeight;
}
const scheme = location.protocol === "https:" ? "wss://" : "ws://";
const ws = new WebSocket(scheme + location.host + "/ws", ["chat.v1"]);
ws.onopen = () => show("connected", "sys");
ws.onmessage = (e) => {
  const m = JSON.parse(e.data);
  show(m.from ? m.from + ": " + m.text : "* " + m.text, m.from ? "" : "sys");
};
ws.onclose = (e) => show("disconnected (" + e.code + (e.reason ? " " + e.reason : "") + ")", "sys");
document.getElementById("form").onsubmit = (e) => {
  e.preventDefault();
  const input = document.getElementById("text");
  if (input.value && ws.readyState === WebSocket.OPEN) ws.send(input.value);
  input.value = "";
};
</script></body></html>
"""

room: dict[websocket.WebSocket, str] = {}


def broadcast(event: dict) -> None:
    text = json.dumps(event)
    for ws in list(room):
        ws.set_write_deadline(time.monotonic() + 1.0)
        try:
            ws.send(text)
        except OSError:  # stuck or gone: drop it (its own goroutine ends too)
            room.pop(ws, None)
            ws.conn().close()


def page(w: http.ResponseWriter, r: http.Request) -> None:
    w.header().set("Content-Type", "text/html; charset=utf-8")
    w.write(PAGE)


def chat(w: http.ResponseWriter, r: http.Request) -> None:
    ws = websocket.accept(w, r, subprotocols=["chat.v1"], max_message_size=4096)
    name = r.remote_addr
    room[ws] = name
    broadcast({"text": f"{name} joined ({len(room)} here)"})
    try:
        with ws:
            for msg in ws:
                if isinstance(msg, str) and msg.strip():
                    broadcast({"from": name, "text": msg[:500]})
    except websocket.Closed:
        pass  # a protocol error or a dropped connection: it leaves all the same
    finally:
        room.pop(ws, None)
        broadcast({"text": f"{name} left"})


def main(addr: str) -> None:
    mux = http.ServeMux()
    mux.handle_func("GET /{$}", page)
    mux.handle_func("GET /ws", chat)
    srv = http.Server(addr=addr, handler=mux)
    ln = gonet.listen("tcp", addr)
    # Ctrl+C cancels ctx (gonet.signal): a KeyboardInterrupt could land in
    # any goroutine, this reaches the one that waits for it.
    ctx, stop = gonet.signal.notify_context(context.background(), signal.SIGINT,
                                            signal.SIGTERM)
    gonet.go(srv.serve, ln)
    print(f"chat on http://{ln.addr}/ (open it in two tabs)", flush=True)
    ctx.done().recv_ok()
    stop()  # a second Ctrl+C ends the program at once
    print("shutting down: every page is told 'going away'", flush=True)
    srv.shutdown(5.0)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1:8090")
