"""WebSocket: gonet's server against the `websockets` library's sync client,
gonet's client against gonet's server and against `websockets`' own server,
over ws:// and wss://; the handshake's checks, subprotocols, compression,
pings, the closing handshake, deadlines, concurrent writers, idle release
and the server's shutdown (1001)."""

from __future__ import annotations

import contextlib
import queue
import socket
import threading
import time

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect
from websockets.sync.server import serve as ws_serve

import gonet
from gonet import http, websocket
from gonet.http.httptest import TestServer


def _url(ts, path="/"):
    return ("wss://" if ts.tls else "ws://") + ts.addr + path


def _echo_handler(events=None, **accept_options):
    """A handler that echoes every message; ``events`` gets how each
    WebSocket ended: ("end", code) for a normal closure, ("closed", code)."""

    def echo(w, r):
        opts = dict(accept_options)
        q = r.url.query()
        if q.get("max"):
            opts["max_message_size"] = int(q.get("max"))
        ws = websocket.accept(w, r, **opts)
        try:
            with ws:
                for msg in ws:
                    ws.send(msg)
            if events is not None:
                events.put(("end", ws.close_code))
        except websocket.Closed as e:
            if events is not None:
                events.put(("closed", e.code))

    return echo


def _echo_server(events=None, **accept_options):
    return TestServer(_echo_handler(events, **accept_options))


# -- against the websockets library's client -----------------------------------------


def test_echo_text_binary_empty_and_large_messages():
    with _echo_server() as ts, connect(_url(ts)) as c:
        c.send("hello")
        assert c.recv(timeout=5) == "hello"
        c.send("héllo ✓ 𝄞")
        assert c.recv(timeout=5) == "héllo ✓ 𝄞"
        c.send(b"\x00\xff\x01")
        assert c.recv(timeout=5) == b"\x00\xff\x01"
        c.send("")
        assert c.recv(timeout=5) == ""
        c.send(b"")
        assert c.recv(timeout=5) == b""
        big = bytes(range(256)) * 3000  # 768,000 bytes: 8-byte length, many reads
        c.send(big)
        assert c.recv(timeout=5) == big
        mid = "x" * 70000  # the 2-byte length's edge
        c.send(mid)
        assert c.recv(timeout=5) == mid


def test_fragmented_messages_are_reassembled():
    with _echo_server() as ts, connect(_url(ts)) as c:
        c.send(["frag", "ment", "ed ✓"])
        assert c.recv(timeout=5) == "fragmented ✓"
        c.send([b"a", b"", b"bc"])
        assert c.recv(timeout=5) == b"abc"


def test_many_messages_in_flight_keep_their_order():
    with _echo_server() as ts, connect(_url(ts)) as c:
        for i in range(500):
            c.send(f"m{i}")
        assert [c.recv(timeout=5) for _ in range(500)] == [f"m{i}" for i in range(500)]


def test_client_ping_is_answered_without_the_handler():
    def quiet(w, r):
        ws = websocket.accept(w, r)
        with ws:
            ws.recv()  # the pings are answered while the handler waits here

    with TestServer(quiet) as ts, connect(_url(ts)) as c:
        for i in range(3):
            assert c.ping(b"p%d" % i).wait(5)
        c.send("bye")


def test_server_ping_returns_when_the_pong_arrives():
    got = queue.Queue()

    def pinger(w, r):
        ws = websocket.accept(w, r)
        with ws:
            ws.set_read_deadline(time.monotonic() + 5)
            t0 = time.monotonic()
            ws.ping(b"are you there")
            ws.ping()
            got.put(time.monotonic() - t0)
            ws.send("pinged")
            got.put(ws.recv())  # a message that came while ping read is kept

    with TestServer(pinger) as ts, connect(_url(ts)) as c:
        assert c.recv(timeout=5) == "pinged"
        assert got.get(timeout=5) < 2.0
        c.send("after")
        assert got.get(timeout=5) == "after"


def test_ping_while_another_goroutine_reads():
    got = queue.Queue()

    def handler(w, r):
        ws = websocket.accept(w, r)

        def reader():
            try:
                for msg in ws:
                    got.put(("msg", msg))
            except websocket.Closed as e:
                got.put(("closed", e.code))

        g = gonet.go(reader)
        ws.set_read_deadline(time.monotonic() + 5)
        ws.ping(b"x")
        got.put(("pong", None))
        ws.send("go on")
        g.join()
        ws.close()

    with TestServer(handler) as ts, connect(_url(ts)) as c:
        assert c.recv(timeout=5) == "go on"
        c.send("one")
        c.close()
    items = [got.get(timeout=5) for _ in range(2)]
    assert ("pong", None) in items and ("msg", "one") in items


def test_subprotocol_is_the_servers_first_choice_the_client_offers():
    def h(w, r):
        ws = websocket.accept(w, r, subprotocols=["chat.v2", "chat.v1"])
        with ws:
            ws.send(str(ws.subprotocol))

    with TestServer(h) as ts:
        with connect(_url(ts), subprotocols=["chat.v1", "chat.v2"]) as c:
            assert c.subprotocol == "chat.v2"
            assert c.recv(timeout=5) == "chat.v2"
        with connect(_url(ts), subprotocols=["chat.v1"]) as c:
            assert c.subprotocol == "chat.v1"
        with connect(_url(ts)) as c:
            assert c.subprotocol is None
            assert c.recv(timeout=5) == "None"


def test_headers_set_before_accept_go_out_with_the_101():
    def h(w, r):
        w.header().set("Set-Cookie", "session=abc")
        ws = websocket.accept(w, r)
        ws.close()

    with TestServer(h) as ts, connect(_url(ts)) as c:
        assert c.response.status_code == 101
        assert c.response.headers["Set-Cookie"] == "session=abc"


def test_origin_must_match_the_host_unless_a_pattern_allows_it():
    def h(w, r):
        ws = websocket.accept(w, r, origin_patterns=["*.trusted.example", "https://app.example"])
        ws.close()

    with TestServer(h) as ts:
        with connect(_url(ts), origin=f"http://{ts.addr}"):
            pass
        with connect(_url(ts), origin="https://chat.trusted.example"):
            pass
        with connect(_url(ts), origin="https://app.example"):
            pass
        for bad in ("https://evil.example", "http://app.example", "null"):
            with pytest.raises(InvalidStatus) as ei:
                connect(_url(ts), origin=bad)
            assert ei.value.response.status_code == 403
            assert b"not allowed" in ei.value.response.body


def test_max_message_size_fails_the_connection_with_1009():
    events = queue.Queue()
    with _echo_server(events) as ts, connect(_url(ts, "/?max=1000")) as c:
        c.send("a" * 1000)
        assert c.recv(timeout=5) == "a" * 1000
        c.send("a" * 1001)
        with pytest.raises(ConnectionClosed) as ei:
            c.recv(timeout=5)
        assert ei.value.rcvd.code == 1009
    assert events.get(timeout=5) == ("closed", 1009)


def test_compression_is_negotiated_and_round_trips():
    with _echo_server(compression=True) as ts:
        with connect(_url(ts)) as c:  # websockets offers permessage-deflate by default
            assert "permessage-deflate" in c.response.headers["Sec-WebSocket-Extensions"]
            text = "compressible " * 5000
            c.send(text)
            assert c.recv(timeout=5) == text
            c.send(b"\x00" * 300000)
            assert c.recv(timeout=5) == b"\x00" * 300000
        with connect(_url(ts), compression=None) as c:
            assert "Sec-WebSocket-Extensions" not in c.response.headers
            c.send("plain")
            assert c.recv(timeout=5) == "plain"
    with _echo_server(compression=False) as ts, connect(_url(ts)) as c:
        assert "Sec-WebSocket-Extensions" not in c.response.headers


def test_a_deflate_bomb_ends_in_1009():
    events = queue.Queue()
    with _echo_server(events, compression=True) as ts, connect(_url(ts, "/?max=100000")) as c:
        c.send(b"\x00" * 50_000_000)  # about 50 KB on the wire
        with pytest.raises(ConnectionClosed) as ei:
            c.recv(timeout=10)
        assert ei.value.rcvd.code == 1009
    assert events.get(timeout=5) == ("closed", 1009)


@pytest.mark.parametrize("code,reason", [(1000, ""), (1001, "tab closed"), (4000, "app: done")])
def test_client_close_is_answered_and_ends_the_loop(code, reason):
    events = queue.Queue()
    with _echo_server(events) as ts, connect(_url(ts)) as c:
        c.send("x")
        c.recv(timeout=5)
        c.close(code, reason)
        assert c.protocol.close_rcvd.code == code  # the server echoes the code
        kind, got = events.get(timeout=5)
        assert got == code
        assert kind == ("end" if code in (1000, 1001) else "closed")


def test_server_close_with_code_and_reason():
    def h(w, r):
        ws = websocket.accept(w, r)
        ws.close(4001, "policy: bye")
        with pytest.raises(websocket.Closed):
            ws.recv()

    with TestServer(h) as ts, connect(_url(ts)) as c:
        with pytest.raises(ConnectionClosed) as ei:
            c.recv(timeout=5)
        assert ei.value.rcvd.code == 4001 and ei.value.rcvd.reason == "policy: bye"


def test_close_while_a_goroutine_is_in_recv_wakes_it_with_the_answer():
    got = queue.Queue()

    def h(w, r):
        ws = websocket.accept(w, r)

        def reader():
            try:
                ws.recv()
            except websocket.Closed as e:
                got.put(e.code)

        g = gonet.go(reader)
        gonet.sleep(0.05)
        t0 = time.monotonic()
        ws.close(1000, "done")
        got.put(time.monotonic() - t0)
        g.join()

    with TestServer(h) as ts, connect(_url(ts)) as c:
        with pytest.raises(ConnectionClosed):
            c.recv(timeout=5)
    assert got.get(timeout=5) == 1000
    assert got.get(timeout=5) < 2.0


def test_close_is_bounded_when_the_peer_never_answers(monkeypatch):
    monkeypatch.setattr(websocket.conn, "CLOSE_TIMEOUT", 0.3)
    took = queue.Queue()

    def h(w, r):
        ws = websocket.accept(w, r)
        t0 = time.monotonic()
        ws.close()
        took.put(time.monotonic() - t0)

    with TestServer(h) as ts:
        s = socket.create_connection(("127.0.0.1", ts.port), timeout=5)
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                  b"Sec-WebSocket-Version: 13\r\n\r\n")
        # never answers the close frame
        assert 0.25 <= took.get(timeout=5) < 3.0
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        assert data.startswith(b"HTTP/1.1 101 ")
        assert data.endswith(b"\x88\x02\x03\xe8")  # the close frame, 1000, then EOF
        s.close()


# -- the handshake's refusals ---------------------------------------------------------


def _raw(ts, head: bytes) -> bytes:
    s = socket.create_connection(("127.0.0.1", ts.port), timeout=5)
    s.sendall(head)
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
        if data.startswith(b"HTTP/1.1 101 ") and b"\r\n\r\n" in data:
            break  # a WebSocket now: no EOF to wait for
    s.close()
    return data


GOOD = {
    "Host": "x",
    "Upgrade": "websocket",
    "Connection": "keep-alive, Upgrade",
    "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
    "Sec-WebSocket-Version": "13",
}


def _head(method="GET", drop=(), **over):
    h = {k: v for k, v in GOOD.items() if k not in drop}
    h.update({k.replace("_", "-"): v for k, v in over.items()})
    return (f"{method} /chat HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in h.items())
            + "\r\n").encode()


@pytest.mark.parametrize("head,status,extra", [
    (_head(), 101, b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo="),  # RFC 6455's example
    (_head("POST"), 405, b"Allow: GET"),
    (_head(drop=("Upgrade",)), 426, b"Upgrade: websocket"),
    (_head(Connection="keep-alive"), 426, b""),
    (_head(Sec_WebSocket_Version="8"), 426, b"Sec-Websocket-Version: 13"),
    (_head(drop=("Sec-WebSocket-Key",)), 400, b"invalid Sec-WebSocket-Key"),
    (_head(Sec_WebSocket_Key="c2hvcnQ="), 400, b"invalid Sec-WebSocket-Key"),
    (_head(Origin="https://evil.example"), 403, b"not allowed"),
])
def test_handshake_checks(head, status, extra):
    seen = queue.Queue()

    def h(w, r):
        try:
            ws = websocket.accept(w, r)
        except websocket.HandshakeError as e:
            seen.put(e.status)
            raise
        seen.put(101)
        ws.close()

    with TestServer(h) as ts:
        data = _raw(ts, head)
    assert data.startswith(b"HTTP/1.1 %d " % status), data[:200]
    assert extra.lower() in data.lower()
    assert seen.get(timeout=5) == status


def test_a_wsgi_app_next_to_a_websocket_handler_on_a_mux():
    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"wsgi here"]

    def ws_handler(w, r):
        ws = websocket.accept(w, r)
        with ws:
            for msg in ws:
                ws.send(msg.upper())

    mux = http.ServeMux()
    mux.handle("/", http.WSGIHandler(app))
    mux.handle_func("GET /ws", ws_handler)
    with TestServer(mux) as ts:
        with ts.client() as hc:
            assert hc.get("/").text == "wsgi here"
        with connect(_url(ts, "/ws")) as c:
            c.send("shout")
            assert c.recv(timeout=5) == "SHOUT"


# -- gonet's client -------------------------------------------------------------------


def test_gonet_client_against_gonet_server(run):
    with _echo_server(subprotocols=["p1"], compression=True) as ts:
        url = _url(ts)

        def body():
            ws = websocket.dial(url, timeout=5, subprotocols=["p0", "p1"], compression=True)
            with ws:
                assert ws.subprotocol == "p1"
                assert ws.extensions == "permessage-deflate"
                ws.send("hi ✓")
                assert ws.recv() == "hi ✓"
                ws.send(b"\x00" * 100000)
                assert ws.recv() == b"\x00" * 100000
                ws.set_read_deadline(time.monotonic() + 5)
                ws.ping(b"x")
                assert str(ws.remote_addr) == ts.addr
            assert ws.close_code == 1000
            with pytest.raises(websocket.Closed):
                ws.send("after close")

        run(body)


def test_gonet_client_against_the_websockets_server(run):
    def handler(conn):
        for msg in conn:
            conn.send(msg)

    with ws_serve(handler, "127.0.0.1", 0) as srv:
        port = srv.socket.getsockname()[1]
        threading.Thread(target=srv.serve_forever, daemon=True).start()

        def body():
            for compression in (False, True):
                ws = websocket.dial(f"ws://127.0.0.1:{port}/x?y=1", timeout=5,
                                    compression=compression)
                with ws:
                    ws.send("text")
                    assert ws.recv() == "text"
                    big = b"\x07" * 200000
                    ws.send(big)
                    assert ws.recv() == big
                    ws.ping()
                assert ws.close_code == 1000

        try:
            run(body)
        finally:
            srv.shutdown()


def test_wss_both_ends():
    ts = TestServer(_echo_handler(), tls=True)
    try:
        url = _url(ts)
        with connect(url, ssl=ts.ssl_context) as c:
            c.send("over tls")
            assert c.recv(timeout=5) == "over tls"

        def body():
            ws = websocket.dial(url, timeout=5, tls_config=ts.ssl_context)
            with ws:
                assert ws.conn().connection_state().version.startswith("TLSv1")
                ws.send(b"x" * 100000)
                return ws.recv()

        from conftest import run_in_thread

        assert run_in_thread(body) == b"x" * 100000
    finally:
        ts.close()


def test_dial_errors_name_the_url(run):
    def h(w, r):
        http.error(w, "no websockets here", 404)

    with TestServer(h) as ts:
        url = _url(ts, "/nope")

        def body():
            with pytest.raises(websocket.DialError) as ei:
                websocket.dial(url, timeout=5)
            assert ei.value.status == 404 and url in str(ei.value)
            with pytest.raises(ValueError, match="scheme"):
                websocket.dial("http://127.0.0.1/", timeout=5)
            ln = gonet.listen("tcp", "127.0.0.1:0")  # accepts, never answers
            t0 = time.monotonic()
            with pytest.raises(TimeoutError):
                websocket.dial(f"ws://{ln.addr}/", timeout=0.3)
            assert time.monotonic() - t0 < 3
            ln.close()

        run(body)


# -- deadlines, writers, idle release, shutdown --------------------------------------


def test_read_deadline_expires_and_leaves_the_websocket_usable():
    got = queue.Queue()

    def h(w, r):
        ws = websocket.accept(w, r)
        ws.set_read_deadline(time.monotonic() + 0.2)
        t0 = time.monotonic()
        try:
            ws.recv()
        except TimeoutError as e:
            got.put(("timeout", time.monotonic() - t0, isinstance(e, gonet.DeadlineExceededError)))
        ws.set_read_deadline(None)
        ws.send("still here")
        got.put(("msg", ws.recv()))
        ws.close()

    with TestServer(h) as ts, connect(_url(ts)) as c:
        assert c.recv(timeout=5) == "still here"
        c.send("fine")
        kind, took, typed = got.get(timeout=5)
        assert kind == "timeout" and typed and 0.15 <= took < 2.0
        assert got.get(timeout=5) == ("msg", "fine")


def test_ping_deadline_when_the_pong_never_comes(run):
    def body():
        ln = gonet.listen("tcp", "127.0.0.1:0")

        def server():
            c = ln.accept()
            head = b""
            while b"\r\n\r\n" not in head:
                head += c.read(4096)
            key = [ln_ for ln_ in head.split(b"\r\n") if ln_.lower().startswith(b"sec-websocket-key")]
            from wsproto.utilities import generate_accept_token

            k = key[0].split(b":", 1)[1].strip()
            c.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                    b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + generate_accept_token(k)
                    + b"\r\n\r\n")
            while c.read(4096):  # reads pings, never answers
                pass
            c.close()

        gonet.go(server)
        ws = websocket.dial(f"ws://{ln.addr}/", timeout=5)
        ws.set_read_deadline(time.monotonic() + 0.2)
        t0 = time.monotonic()
        with pytest.raises(gonet.DeadlineExceededError):
            ws.ping()
        assert 0.15 <= time.monotonic() - t0 < 2.0
        ws.conn().close()
        ln.close()

    run(body)


def test_concurrent_writers_never_interleave_frames():
    n_writers, n_msgs = 8, 50

    def h(w, r):
        ws = websocket.accept(w, r)
        wg = gonet.sync.WaitGroup()
        for i in range(n_writers):
            def writer(i=i):
                for j in range(n_msgs):
                    ws.send(f"{i}:{j}:" + "x" * (70000 if j % 10 == 0 else 10))
            wg.go(writer)
        wg.wait()
        ws.close()

    with TestServer(h) as ts, connect(_url(ts), max_size=None) as c:
        last = {}
        for _ in range(n_writers * n_msgs):
            i, j, _pad = c.recv(timeout=10).split(":")
            assert int(j) == last.get(i, -1) + 1  # each writer's messages in order, whole
            last[i] = int(j)
        assert len(last) == n_writers


def test_idle_release_leaves_websockets_alone():
    with TestServer(_echo_handler(), idle_release_after=0.05,
                    idle_timeout=0.3) as ts, connect(_url(ts)) as c:
        time.sleep(0.6)  # past both idle release and the idle timeout: hijacked, so neither applies
        c.send("still open")
        assert c.recv(timeout=5) == "still open"


def test_shutdown_sends_1001_and_waits_for_the_closing_handshakes():
    events = queue.Queue()
    ts = _echo_server(events)
    with contextlib.ExitStack() as stack:
        clients = [stack.enter_context(connect(_url(ts))) for _ in range(5)]
        for c in clients:
            c.send("hi")
            assert c.recv(timeout=5) == "hi"
        t0 = time.monotonic()
        assert ts.server.shutdown(timeout=5) is True
        assert time.monotonic() - t0 < 3.0
        for c in clients:
            with pytest.raises(ConnectionClosed) as ei:
                c.recv(timeout=5)
            assert ei.value.rcvd.code == 1001
        ends = [events.get(timeout=5) for _ in clients]
        assert ends == [("end", 1001)] * 5  # each handler's loop ended quietly
    ts.close()


def test_shutdown_timeout_closes_websockets_that_never_answer(monkeypatch):
    monkeypatch.setattr(websocket.conn, "CLOSE_TIMEOUT", 30.0)

    def h(w, r):
        ws = websocket.accept(w, r)
        try:
            gonet.sleep(2)  # not reading: nobody sees the client's answer
        finally:
            ws.conn().close()

    ts = TestServer(h)
    try:
        s = socket.create_connection(("127.0.0.1", ts.port), timeout=5)
        s.sendall(_head())
        assert s.recv(4096).startswith(b"HTTP/1.1 101")
        t0 = time.monotonic()
        assert ts.server.shutdown(timeout=0.5) is False
        assert 0.4 <= time.monotonic() - t0 < 3.0
        assert s.recv(4096) == b"\x88\x0c\x03\xe9going away"  # 1001 was sent first
        s.close()
    finally:
        ts.server.close()
        ts.close()


def _rss() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def test_5000_idle_websockets_are_held_and_still_answer():
    """Each idle WebSocket holds a goroutine parked in recv(); RSS per socket is
    reported (the test process's growth, client sockets included, so an upper
    bound; benchmarks' websocket_idle measures the server alone)."""
    import resource

    n = 5000
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard < 2 * n + 200:
        pytest.skip(f"needs {2 * n + 200} file descriptors, the hard limit is {hard}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 2 * n + 1000)), hard))
    upgrade = _head()
    socks = []
    with _echo_server() as ts:
        try:
            rss0 = _rss()
            for _ in range(n):
                s = socket.create_connection(("127.0.0.1", ts.port), timeout=10)
                s.sendall(upgrade)
                head = b""
                while b"\r\n\r\n" not in head:
                    chunk = s.recv(4096)
                    assert chunk, head
                    head += chunk
                assert head.startswith(b"HTTP/1.1 101 ")
                socks.append(s)
            time.sleep(0.5)
            per = (_rss() - rss0) / n
            print(f"\n{n} idle WebSockets: {per / 1024:.1f} KB RSS each (client sockets included)")
            assert per < 40 * 1024
            # Every one is alive: the first, the last and one between echo.
            for s in (socks[0], socks[n // 2], socks[-1]):
                s.sendall(bytes((0x81, 0x82, 0, 0, 0, 0)) + b"hi")
                assert s.recv(64) == b"\x81\x02hi"
        finally:
            for s in socks:
                s.close()


def test_write_deadline_cuts_a_stuck_send_and_closes_the_websocket():
    got = queue.Queue()

    def h(w, r):
        ws = websocket.accept(w, r)
        ws.set_write_deadline(time.monotonic() + 0.3)
        t0 = time.monotonic()
        try:
            while True:
                ws.send(b"x" * 65536)  # the client never reads: the buffers fill up
        except gonet.DeadlineExceededError:
            got.put(time.monotonic() - t0)
        with pytest.raises(websocket.Closed) as ei:
            ws.send("after")
        got.put(ei.value.code)

    with TestServer(h) as ts:
        s = socket.create_connection(("127.0.0.1", ts.port), timeout=5)
        s.sendall(_head())
        took = got.get(timeout=10)
        assert 0.25 <= took < 5.0
        assert got.get(timeout=5) == 1006  # half a frame may be on the wire: no close frame
        s.close()
