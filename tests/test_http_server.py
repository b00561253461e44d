"""gonet.http end to end: a real server on loopback, httpx and raw sockets as clients.

The server runs on its own OS thread (gonet.http.httptest.TestServer); the
test thread is an ordinary blocking client. Raw sockets cover what httpx will
not send (pipelining, trickled heads, malformed requests, Expect, HTTP/1.0).
"""

import logging
import socket
import threading
import time

import httpx
import pytest
from conftest import recv_until_eof

import gonet
from gonet import http
from gonet.http.httptest import TestServer

# Every test here runs once per head parser (gonet.http.wire's fast and public paths).
pytestmark = pytest.mark.usefixtures("head_parser")

# -- a tiny raw client ----------------------------------------------------------------


def connect(ts, timeout=5.0):
    s = socket.create_connection(("127.0.0.1", ts.port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


class Reader:
    """Reads HTTP/1.1 responses off a raw socket (Content-Length, chunked, or to EOF)."""

    def __init__(self, sock):
        self.s = sock
        self.buf = b""

    def _fill(self):
        d = self.s.recv(65536)
        if not d:
            raise EOFError("connection closed")
        self.buf += d

    def _until(self, sep):
        while sep not in self.buf:
            self._fill()
        i = self.buf.index(sep) + len(sep)
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def _exactly(self, n):
        while len(self.buf) < n:
            self._fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def head(self):
        raw = self._until(b"\r\n\r\n").decode("latin-1")
        lines = raw.split("\r\n")
        status = int(lines[0].split(" ")[1])
        headers = {}
        for line in lines[1:]:
            if line:
                k, _, v = line.partition(":")
                headers[k.strip().lower()] = v.strip()
        return lines[0], status, headers

    def response(self, head_request=False):
        """(status, headers, body); skips 1xx responses unless asked otherwise."""
        while True:
            line, status, headers = self.head()
            if status >= 200 or status == 101:
                break
        if head_request or status in (204, 304):
            return status, headers, b""
        if "content-length" in headers:
            return status, headers, self._exactly(int(headers["content-length"]))
        if headers.get("transfer-encoding") == "chunked":
            body = b""
            while True:
                size = int(self._until(b"\r\n")[:-2].split(b";")[0], 16)
                if size == 0:
                    self._until(b"\r\n")
                    return status, headers, body
                body += self._exactly(size)
                self._exactly(2)
        body = self.buf
        self.buf = b""
        while True:
            d = self.s.recv(65536)
            if not d:
                return status, headers, body
            body += d

    def at_eof(self, timeout=2.0):
        """True if the server closed the connection (with nothing more to read)."""
        self.s.settimeout(timeout)
        try:
            return not self.buf and self.s.recv(1) == b""
        except ConnectionResetError:
            return True


def hello(w, r):
    w.header().set("Content-Type", "text/plain")
    w.write(b"Hello, World!")


@pytest.fixture
def serve():
    servers = []

    def start(handler, **opts):
        ts = TestServer(handler, **opts)
        servers.append(ts)
        return ts

    yield start
    for ts in servers:
        ts.close(timeout=2.0)


# -- basics ---------------------------------------------------------------------------


def test_hello_with_httpx(serve):
    ts = serve(hello)
    r = httpx.get(ts.url + "/")
    assert r.status_code == 200
    assert r.text == "Hello, World!"
    assert r.headers["content-length"] == "13"
    assert r.headers["content-type"] == "text/plain"
    assert r.headers["date"].endswith(" GMT")


def test_defaults_sniffed_content_type_and_empty_200(serve):
    def h(w, r):
        if r.url.path == "/html":
            w.write(b"<!DOCTYPE html><p>hi</p>")
        elif r.url.path == "/text":
            w.write(b"plain words")

    ts = serve(h)
    with httpx.Client(base_url=ts.url) as c:
        assert c.get("/html").headers["content-type"] == "text/html; charset=utf-8"
        assert c.get("/text").headers["content-type"] == "text/plain; charset=utf-8"
        r = c.get("/empty")
        assert r.status_code == 200 and r.headers["content-length"] == "0" and r.content == b""


def test_request_fields(serve):
    seen = {}

    def h(w, r):
        seen.update(method=r.method, path=r.url.path, query=r.url.query().values("a"),
                    proto=r.proto, host=r.host, ua=r.header.get("user-agent"),
                    uri=r.request_uri, remote=r.remote_addr, cl=r.content_length,
                    body=r.body.read())
        w.write(b"ok")

    ts = serve(h)
    httpx.post(ts.url + "/p%20q?a=1&a=2", content=b"data", headers={"User-Agent": "t/1"})
    assert seen["method"] == "POST" and seen["path"] == "/p q" and seen["query"] == ["1", "2"]
    assert seen["proto"] == "HTTP/1.1" and seen["host"] == ts.addr and seen["ua"] == "t/1"
    assert seen["uri"] == "/p%20q?a=1&a=2" and seen["remote"].startswith("127.0.0.1:")
    assert seen["cl"] == 4 and seen["body"] == b"data"


def test_keep_alive_reuses_one_connection(serve):
    remotes = []

    def h(w, r):
        remotes.append(r.remote_addr)
        w.write(b"x")

    ts = serve(h)
    s = connect(ts)
    rd = Reader(s)
    for _ in range(3):
        s.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        assert rd.response()[0] == 200
    assert len(remotes) == 3 and len(set(remotes)) == 1
    with httpx.Client(base_url=ts.url) as c:
        for _ in range(3):
            c.get("/")
    assert len(set(remotes[3:])) == 1


def test_pipelined_requests_answered_in_order(serve):
    def h(w, r):
        if r.method == "POST":
            w.write(b"posted:" + r.body.read())
        else:
            w.write(r.url.path.encode())

    ts = serve(h)
    s = connect(ts)
    s.sendall(b"GET /one HTTP/1.1\r\nHost: t\r\n\r\n"
              b"POST /two HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc"
              b"GET /three HTTP/1.1\r\nHost: t\r\n\r\n"
              b"GET /four HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    rd = Reader(s)
    bodies = [rd.response()[2] for _ in range(4)]
    assert bodies == [b"/one", b"posted:abc", b"/three", b"/four"]
    assert rd.at_eof()


def test_head_gets_headers_and_no_body(serve):
    ts = serve(hello)
    s = connect(ts)
    s.sendall(b"HEAD / HTTP/1.1\r\nHost: t\r\n\r\nGET / HTTP/1.1\r\nHost: t\r\n\r\n")
    rd = Reader(s)
    status, headers, _ = rd.response(head_request=True)
    assert status == 200 and headers["content-length"] == "13"
    # the next response starts right after the head: no body bytes in between
    status, headers, body = rd.response()
    assert body == b"Hello, World!"


def test_chunked_request_body(serve):
    def h(w, r):
        data = r.body.read()
        w.write(f"{len(data)} {r.content_length} {data.decode()}".encode())

    ts = serve(h)
    s = connect(ts)
    s.sendall(b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
              b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
    assert Reader(s).response()[2] == b"11 -1 hello world"

    def gen():
        yield b"abc"
        yield b"def"

    assert httpx.post(ts.url, content=gen()).text == "6 -1 abcdef"


def test_flush_streams_chunked(serve):
    def h(w, r):
        for i in range(3):
            w.write(f"part{i};".encode())
            w.flush()
            gonet.sleep(0.01)

    ts = serve(h)
    s = connect(ts)
    s.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
    status, headers, body = Reader(s).response()
    assert headers["transfer-encoding"] == "chunked" and "content-length" not in headers
    assert body == b"part0;part1;part2;"
    with httpx.stream("GET", ts.url) as r:
        assert b"".join(r.iter_bytes()) == b"part0;part1;part2;"


def test_large_body_switches_to_chunked_and_declared_length_is_kept(serve):
    big = b"x" * 100_000

    def h(w, r):
        if r.url.path == "/declared":
            w.header().set("Content-Length", str(len(big)))
        w.write(big[:50_000])
        w.write(big[50_000:])

    ts = serve(h)
    with httpx.Client(base_url=ts.url) as c:
        r = c.get("/stream")
        assert r.content == big and r.headers["transfer-encoding"] == "chunked"
        r = c.get("/declared")
        assert r.content == big and r.headers["content-length"] == "100000"


def test_expect_100_continue_sent_only_when_body_is_read(serve):
    def h(w, r):
        if r.url.path == "/read":
            w.write(b"got " + r.body.read())
        else:
            w.write(b"ignored")

    ts = serve(h)
    s = connect(ts)
    s.sendall(b"POST /read HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
    rd = Reader(s)
    line, status, _ = rd.head()
    assert status == 100  # sent because the handler started reading
    s.sendall(b"data")
    assert rd.response()[2] == b"got data"
    # a handler that never reads: no 100, a final answer, and the connection is not reused
    s2 = connect(ts)
    s2.sendall(b"POST /skip HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
    rd2 = Reader(s2)
    status, headers, body = rd2.response()
    assert status == 200 and body == b"ignored" and headers.get("connection") == "close"


def test_connection_close_both_ways(serve):
    def h(w, r):
        if r.url.path == "/server-closes":
            w.header().set("Connection", "close")
        w.write(b"bye")

    ts = serve(h)
    s = connect(ts)
    s.sendall(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    rd = Reader(s)
    status, headers, body = rd.response()
    assert headers["connection"] == "close" and body == b"bye" and rd.at_eof()
    s = connect(ts)
    s.sendall(b"GET /server-closes HTTP/1.1\r\nHost: t\r\n\r\n")
    rd = Reader(s)
    status, headers, body = rd.response()
    assert headers["connection"] == "close" and rd.at_eof()


def test_http_1_0_clients(serve):
    def h(w, r):
        if r.url.path == "/stream":
            w.write(b"a")
            w.flush()
            w.write(b"b")
        else:
            w.write(r.proto.encode())

    ts = serve(h)
    s = connect(ts)
    s.sendall(b"GET / HTTP/1.0\r\n\r\n")
    rd = Reader(s)
    status, headers, body = rd.response()
    assert body == b"HTTP/1.0" and headers["connection"] == "close" and rd.at_eof()
    # keep-alive when asked for and the length is known
    s = connect(ts)
    rd = Reader(s)
    for _ in range(2):
        s.sendall(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        status, headers, body = rd.response()
        assert headers["connection"] == "keep-alive" and body == b"HTTP/1.0"
    # a stream to a 1.0 client: no chunking, the end of the body is the close
    s = connect(ts)
    s.sendall(b"GET /stream HTTP/1.0\r\n\r\n")
    status, headers, body = Reader(s).response()
    assert body == b"ab" and "transfer-encoding" not in headers


def test_unread_body_is_drained_or_the_connection_closed(serve):
    def h(w, r):
        w.write(b"not reading")

    ts = serve(h)
    s = connect(ts)
    rd = Reader(s)
    s.sendall(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\n" + b"z" * 1000)
    status, headers, _ = rd.response()
    assert "connection" not in headers
    s.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
    assert rd.response()[0] == 200  # same connection still usable
    # too much to drain: answered, then closed
    big = 1 << 20
    s = connect(ts)
    s.sendall(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n" % big)
    sender = threading.Thread(target=lambda: _send_quietly(s, b"y" * big))
    sender.start()
    rd = Reader(s)
    status, headers, _ = rd.response()
    assert status == 200 and headers["connection"] == "close"
    sender.join(5)


def _send_quietly(s, data):
    try:
        s.sendall(data)
    except OSError:
        pass


# -- errors ---------------------------------------------------------------------------


@pytest.mark.parametrize("raw,status", [
    (b"NONSENSE\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\n\r\n", 400),  # no Host
    (b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nHost: t\r\nBad Header\r\n\r\n", 400),
    (b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400),
    # RFC 9112 6.3 (4): chunked not the final coding: the length is unknown.
    (b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n", 400),
    # RFC 9112 6.1: a coding the server does not implement.
    (b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501),
])
def test_malformed_requests_get_4xx_and_close(serve, raw, status):
    ts = serve(hello)
    s = connect(ts)
    s.sendall(raw)
    rd = Reader(s)
    got, headers, _ = rd.response()
    assert got == status and headers["connection"] == "close"
    assert rd.at_eof()
    assert httpx.get(ts.url).status_code == 200  # the server is fine


def test_oversized_head_gets_431(serve):
    ts = serve(hello, max_header_bytes=1024)
    s = connect(ts)
    s.sendall(b"GET / HTTP/1.1\r\nHost: t\r\nX-Big: " + b"a" * 8000 + b"\r\n\r\n")
    status, headers, body = Reader(s).response()
    assert status == 431
    assert httpx.get(ts.url, headers={"X-Ok": "b" * 500}).status_code == 200


def test_handler_exception_gives_500_and_logs_the_traceback(serve, caplog):
    def h(w, r):
        if r.url.path == "/late":
            w.write(b"x" * 10)
            w.flush()
        raise RuntimeError("boom in handler")

    ts = serve(h)
    with caplog.at_level(logging.ERROR, logger="gonet.http"):
        r = httpx.get(ts.url + "/early")
        assert r.status_code == 500 and r.text == "Internal Server Error"
        assert r.headers["connection"] == "close"
        # after the head went out, the connection is aborted instead
        with pytest.raises(httpx.RemoteProtocolError):
            httpx.get(ts.url + "/late")
    msgs = [rec for rec in caplog.records if "boom in handler" in rec.getMessage()]
    assert msgs and msgs[0].exc_info is not None
    assert httpx.get(ts.url + "/early").status_code == 500  # still serving


def test_abort_handler_is_silent(serve, caplog):
    def h(w, r):
        raise http.AbortHandler()

    ts = serve(h)
    with caplog.at_level(logging.ERROR, logger="gonet.http"):
        with pytest.raises(httpx.RemoteProtocolError):
            httpx.get(ts.url)
    assert not [rec for rec in caplog.records if rec.levelno >= logging.ERROR]


def test_mux_404_405_through_the_server(serve):
    mux = http.ServeMux()
    mux.handle_func("GET /items/{id}", lambda w, r: w.write(r.path_value("id").encode()))
    ts = serve(mux)
    with httpx.Client(base_url=ts.url) as c:
        assert c.get("/items/7").text == "7"
        r = c.post("/items/7")
        assert r.status_code == 405 and r.headers["allow"] == "GET, HEAD"
        assert c.get("/nope").status_code == 404
        r = c.head("/items/7")
        assert r.status_code == 200 and r.headers["content-length"] == "1"


def test_body_not_allowed_and_content_length_mismatch(serve):
    errors = []

    def h(w, r):
        if r.url.path == "/204":
            w.write_header(204)
            try:
                w.write(b"nope")
            except http.ErrBodyNotAllowed as e:
                errors.append(e)
        else:
            w.header().set("Content-Length", "3")
            try:
                w.write(b"four")
            except http.ErrContentLength as e:
                errors.append(e)
            w.write(b"abc")

    ts = serve(h)
    with httpx.Client(base_url=ts.url) as c:
        assert c.get("/204").status_code == 204
        assert c.get("/cl").content == b"abc"
    assert [type(e) for e in errors] == [http.ErrBodyNotAllowed, http.ErrContentLength]


def test_informational_103_then_final(serve):
    def h(w, r):
        w.header().set("Link", "</style.css>; rel=preload")
        w.write_header(103)
        w.header().set("Content-Type", "text/plain")
        w.write(b"final")

    ts = serve(h)
    s = connect(ts)
    s.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
    rd = Reader(s)
    line, status, headers = rd.head()
    assert status == 103 and headers["link"] == "</style.css>; rel=preload"
    status, headers, body = rd.response()
    assert status == 200 and body == b"final"


def test_hijack_hands_over_the_connection_and_buffered_bytes(serve):
    def h(w, r):
        conn, rest = w.hijack()
        conn.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n")
        data = rest
        while b"\n" not in data:
            data += conn.read(1024)
        conn.write(b"echo:" + data)
        conn.close()

    ts = serve(h)
    s = connect(ts)
    # the first bytes of the new protocol ride in the same packet as the request
    s.sendall(b"GET / HTTP/1.1\r\nHost: t\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\nhel")
    rd = Reader(s)
    line, status, headers = rd.head()
    assert status == 101
    s.sendall(b"lo\n")
    rest = rd.buf
    while not rest.endswith(b"\n"):
        rest += s.recv(100)
    assert rest == b"echo:hello\n"


def test_client_gone_mid_response_costs_only_its_goroutine(serve, caplog):
    done = threading.Event()

    def h(w, r):
        if r.url.path == "/hello":
            return hello(w, r)
        try:
            while True:
                w.write(b"x" * 65536)
                w.flush()
        except OSError:
            done.set()
            raise

    ts = serve(h)
    with caplog.at_level(logging.ERROR, logger="gonet.http"):
        s = connect(ts)
        s.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        s.recv(1000)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        s.close()
        assert done.wait(5)
        assert httpx.get(ts.url + "/hello").text == "Hello, World!"
    assert not [rec for rec in caplog.records if rec.levelno >= logging.ERROR]


# -- timeouts -------------------------------------------------------------------------


def test_read_header_timeout_cuts_a_slow_client_while_others_are_served(serve):
    ts = serve(hello, read_header_timeout=0.3)
    s = connect(ts)
    t0 = time.monotonic()
    s.sendall(b"GET / HTTP/1.1\r\n")
    # others are served meanwhile
    assert httpx.get(ts.url).status_code == 200
    for piece in [b"Host: t\r\n", b"X-Slow: 1\r\n"]:
        try:
            s.sendall(piece)
        except OSError:
            break
        time.sleep(0.05)
    s.settimeout(3)
    try:
        data = s.recv(100)
    except ConnectionResetError:
        data = b""
    elapsed = time.monotonic() - t0
    assert data == b""  # closed without a response
    assert 0.2 <= elapsed <= 1.5


def test_idle_timeout_closes_a_quiet_keep_alive_connection(serve):
    ts = serve(hello, idle_timeout=0.3)
    s = connect(ts)
    rd = Reader(s)
    s.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
    rd.response()
    t0 = time.monotonic()
    assert rd.at_eof(timeout=3)
    assert 0.2 <= time.monotonic() - t0 <= 1.5


def test_read_timeout_bounds_the_body(serve):
    outcome = []

    def h(w, r):
        try:
            r.body.read()
            outcome.append("read")
        except OSError as e:
            outcome.append(type(e).__name__)
            raise

    ts = serve(h, read_timeout=0.3)
    s = connect(ts)
    t0 = time.monotonic()
    s.sendall(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\nabc")
    s.settimeout(3)
    try:
        while s.recv(1000):
            pass
    except ConnectionResetError:
        pass
    assert 0.2 <= time.monotonic() - t0 <= 1.5
    assert outcome == ["DeadlineExceededError"]


def test_write_timeout_fails_a_late_response(serve):
    def h(w, r):
        gonet.sleep(0.5)
        w.write(b"too late")
        w.flush()

    ts = serve(h, write_timeout=0.2)
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.get(ts.url, timeout=3)


def test_streaming_handler_is_not_cut_by_read_timeout(serve):
    def h(w, r):
        ctx = r.context
        for i in range(6):
            if ctx.err() is not None:
                return
            w.write(b"tick%d\n" % i)
            w.flush()
            gonet.sleep(0.1)

    ts = serve(h, read_timeout=0.2, read_header_timeout=0.2)
    for method, content in [("GET", None), ("POST", b"x")]:
        with httpx.stream(method, ts.url, content=content, timeout=5) as r:
            body = b"".join(r.iter_bytes())
        assert body == b"".join(b"tick%d\n" % i for i in range(6)), method


def test_context_is_cancelled_when_the_client_goes_away(serve):
    state = {}
    done = threading.Event()

    def h(w, r):
        ctx = r.context
        ok = gonet.select(ctx.done().recv_case(), timeout=5)
        state["err"] = ctx.err()
        state["woke"] = ok
        done.set()

    ts = serve(h)
    s = connect(ts)
    s.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
    time.sleep(0.05)
    s.close()
    assert done.wait(5)
    assert state["err"] is not None


def test_context_watcher_keeps_pipelined_bytes(serve):
    def h(w, r):
        ctx = r.context
        gonet.sleep(0.05)  # the watcher reads the next request meanwhile
        assert ctx.err() is None
        w.write(r.url.path.encode())

    ts = serve(h)
    s = connect(ts)
    s.sendall(b"GET /a HTTP/1.1\r\nHost: t\r\n\r\n")
    time.sleep(0.02)
    s.sendall(b"GET /b HTTP/1.1\r\nHost: t\r\n\r\n")
    rd = Reader(s)
    assert [rd.response()[2], rd.response()[2]] == [b"/a", b"/b"]


# -- helpers and the default mux ----------------------------------------------------------


def test_max_bytes_reader_limits_the_body_and_closes_after(serve):
    def h(w, r):
        r.body = http.max_bytes_reader(w, r.body, 10)
        try:
            data = r.body.read()
        except http.MaxBytesError as e:
            http.error(w, f"too big (limit {e.limit})", 413)
            return
        w.write(b"ok " + data)

    ts = serve(h)
    with httpx.Client(base_url=ts.url) as c:
        assert c.post("/", content=b"small").text == "ok small"
        r = c.post("/", content=b"x" * 5000)
        assert r.status_code == 413 and r.text == "too big (limit 10)\n"
        assert r.headers["connection"] == "close"


def test_form_values_and_cookies(serve):
    seen = {}

    def h(w, r):
        seen["form"] = (r.form_value("a"), r.form_value("b"), r.form().values("a"))
        seen["cookies"] = r.cookies()
        w.write(b"ok")

    ts = serve(h)
    httpx.post(ts.url + "/?a=1", data={"a": "2", "b": "x y"}, headers={"Cookie": "s=abc; t=1"})
    assert seen["form"] == ("1", "x y", ["1", "2"])
    assert [(c.name, c.value) for c in seen["cookies"]] == [("s", "abc"), ("t", "1")]


def test_redirect_helper_resolves_relative_targets(serve):
    mux = http.ServeMux()
    mux.handle_func("/a/b", lambda w, r: http.redirect(w, r, "c?x=1", 302))
    mux.handle_func("/abs", lambda w, r: http.redirect(w, r, "/elsewhere", 307))
    ts = serve(mux)
    with httpx.Client(base_url=ts.url) as c:
        r = c.get("/a/b")
        assert r.status_code == 302 and r.headers["location"] == "/a/c?x=1"
        assert "Found" in r.text
        r = c.get("/abs")
        assert r.status_code == 307 and r.headers["location"] == "/elsewhere"


def test_default_mux_serves_a_server_without_handler(serve, head_parser):
    name = f"/default-mux-test-{head_parser}"  # the default mux is process-wide
    http.handle_func(name, lambda w, r: w.write(b"from default mux"))
    with pytest.raises(ValueError, match=r"registered at .*test_http_server\.py:\d+"):
        http.handle_func(name, lambda w, r: None)
    ts = serve(None)
    assert httpx.get(ts.url + name).text == "from default mux"
    assert httpx.get(ts.url + "/not-registered-here").status_code == 404


def test_bad_timeouts_are_rejected():
    srv = http.Server(handler=hello, read_timeout=-1)
    ln = gonet.listen("tcp", "127.0.0.1:0")
    with pytest.raises(ValueError, match="read_timeout"):
        srv.serve(ln)
    ln.close()


def test_short_body_against_declared_content_length_closes_the_connection():
    # Go: a handler that writes less than its declared Content-Length gets the
    # connection closed after the response, or the client (waiting for the
    # missing bytes) would read the next response as this one's body.
    def handler(w, r):
        w.header().set("Content-Length", "10")
        w.write(b"hello")

    with TestServer(handler) as ts:
        s = socket.create_connection(("127.0.0.1", ts.port), timeout=3)
        s.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        data = recv_until_eof(s)  # socket.timeout here: the server kept it open
        s.close()
    assert data.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"Content-Length: 10\r\n" in data
    assert data.endswith(b"\r\n\r\nhello")


def test_read_timeout_bounds_the_request_head_when_read_header_timeout_is_none():
    # Go: ReadHeaderTimeout zero -> ReadTimeout applies to the head; the
    # docstring: read_timeout runs from the start of a request.
    with TestServer(lambda w, r: w.write(b"x"), read_header_timeout=None, read_timeout=0.5) as ts:
        s = socket.create_connection(("127.0.0.1", ts.port), timeout=5)
        s.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n")  # never finished
        t0 = time.monotonic()
        data = recv_until_eof(s)
        dt = time.monotonic() - t0
        s.close()
    assert data == b""
    assert dt < 3.0
