"""gonet.http's client against gonet's own server and raw socket servers.

The client runs as the main goroutine of a fresh scheduler, once per poller
backend (the ``run`` fixture) and once per wire path (``head_parser``); the
servers run on their own threads: gonet.http.httptest.TestServer, or a raw
socket server scripted per test for what a well-behaved server never sends.
Connections are counted on the server side (distinct client ports).
"""

from __future__ import annotations

import gzip as gzip_mod
import io
import socket
import threading
import time

import pytest

import gonet
from gonet import context, http
from gonet.http.httptest import TestServer
from gonet.runtime import get_sched

# Tests of what crosses the wire run through both of gonet.http.wire's
# paths (h11's public API and the fast one); pool, timeout and cancellation
# tests run on the default path.
wire_paths = pytest.mark.usefixtures("head_parser")


def nap(r, seconds):
    """Sleep in a handler, cut short when the client goes away (so a
    test's server shuts down without waiting for it)."""
    gonet.select(r.context.done().recv_case(), timeout=seconds)


# -- servers ---------------------------------------------------------------------------


class Echo:
    """A gonet handler that records who asked what, and answers per path."""

    def __init__(self) -> None:
        self.ports: list[str] = []
        self.bodies: list[bytes] = []
        self.headers: list[http.Header] = []
        self.lock = threading.Lock()

    def __call__(self, w, r):
        body = r.body.read()
        with self.lock:
            self.ports.append(r.remote_addr)
            self.bodies.append(body)
            self.headers.append(r.header.clone())
        path = r.url.path
        if path == "/echo":
            w.header().set("Content-Type", "application/octet-stream")
            w.write(body)
        elif path == "/stream":
            for i in range(5):
                w.write(b"part%d;" % i)
                w.flush()  # chunked
        elif path == "/nocontent":
            w.write_header(204)
        elif path == "/notmodified":
            w.write_header(304)
        elif path == "/gzip":
            data = gzip_mod.compress(b"hello gzip " * 100)
            w.header().set("Content-Encoding", "gzip")
            w.write(data)
        elif path == "/big":
            w.write(b"x" * 1_000_000)
        elif path == "/slowbody":
            w.write(b"first")
            w.flush()
            nap(r, float(r.url.query().get("d", "1")))
            w.write(b"second")
        elif path == "/slowhead":
            nap(r, float(r.url.query().get("d", "1")))
            w.write(b"late")
        elif path.startswith("/redirect/"):
            code = int(path.rsplit("/", 1)[1])
            http.redirect(w, r, r.url.query().get("to", "/echo"), code)
        elif path == "/loop":
            http.redirect(w, r, "/loop", 302)
        elif path == "/cookie":
            w.header().add("Set-Cookie", "session=abc; Path=/")
            w.write(b"set")
        elif path == "/headers":
            w.write("\n".join(f"{k}: {v}" for k, v in r.header.items()).encode())
        else:
            w.write(b"hello " + r.method.encode())

    def conns(self) -> int:
        with self.lock:
            return len(set(self.ports))


@pytest.fixture
def echo():
    h = Echo()
    with TestServer(h) as ts:
        ts.h = h
        yield ts


def raw_server(script, conns=1):
    """A TCP server on a free port that runs ``script(sock)`` for each of
    ``conns`` connections on a thread; returns (port, thread)."""
    ln = socket.socket()
    ln.bind(("127.0.0.1", 0))
    ln.listen(16)
    port = ln.getsockname()[1]

    def main():
        with ln:
            for _ in range(conns):
                s, _ = ln.accept()
                with s:
                    try:
                        script(s)
                    except OSError:
                        pass

    t = threading.Thread(target=main, daemon=True)
    t.start()
    return port, t


def read_request(s) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        if not chunk:
            return data
        data += chunk
    return data


# -- the basics ------------------------------------------------------------------------


@wire_paths
def test_get_reads_status_headers_and_body(run, echo):
    def body():
        with http.get(echo.url + "/hello") as r:
            assert r.status_code == 200 and r.status == "200 OK" and r.proto == "HTTP/1.1"
            assert r.header.get("Content-Type").startswith("text/plain")
            assert r.content_length == len(b"hello GET")
            assert r.body.read() == b"hello GET"
            assert r.request.method == "GET" and str(r.request.url) == echo.url + "/hello"
            assert r.tls is None
        h = echo.h.headers[-1]
        assert h.get("User-Agent") == http.DEFAULT_USER_AGENT
        assert h.get("Accept-Encoding") == "gzip"
    run(body)


@wire_paths
def test_keep_alive_reuses_one_connection(run, echo):
    def body():
        c = http.Client(transport=http.Transport())
        for _ in range(20):
            with c.get(echo.url + "/x") as r:
                r.body.read()
        r = c.post(echo.url + "/echo", body=b"abc", content_type="text/plain")
        assert r.body.read() == b"abc"
        assert echo.h.conns() == 1
        assert echo.h.headers[-1].get("Content-Type") == "text/plain"
    run(body)


@wire_paths
def test_a_body_closed_before_its_end_closes_the_connection(run, echo):
    def body():
        c = http.Client(transport=http.Transport())
        r = c.get(echo.url + "/big")
        assert len(r.body.read(1000)) == 1000
        r.body.close()  # not read to the end: the connection is not reused
        with c.get(echo.url + "/x") as r2:
            r2.body.read()
        assert echo.h.conns() == 2
        # a body read to its end, without close, gives the connection back
        r = c.get(echo.url + "/big")
        assert len(r.body.read()) == 1_000_000
        with c.get(echo.url + "/x") as r2:
            r2.body.read()
        assert echo.h.conns() == 2
    run(body)


@wire_paths
def test_methods_and_bodies(run, echo):
    def body():
        c = http.Client(transport=http.Transport())
        assert c.post_form(echo.url + "/echo", {"a": "1", "b": "x y"}).body.read() == b"a=1&b=x+y"
        assert echo.h.headers[-1].get("Content-Type") == "application/x-www-form-urlencoded"
        req = http.new_request("PUT", echo.url + "/echo", body=b"put body")
        assert c.do(req).body.read() == b"put body"
        r = c.head(echo.url + "/x")
        assert r.status_code == 200 and r.body.read() == b""
        assert r.content_length == len(b"hello HEAD")  # HEAD: the length, no body
        with c.do(http.new_request("DELETE", echo.url + "/x")) as r:
            assert r.body.read() == b"hello DELETE"
        assert echo.h.headers[-1].get("Content-Length") == "0"  # Go sends it for DELETE
        assert echo.h.conns() == 1
    run(body)


@wire_paths
def test_chunked_both_ways(run, echo):
    def gen():
        for i in range(4):
            yield b"chunk%d," % i

    def body():
        c = http.Client(transport=http.Transport())
        r = c.post(echo.url + "/echo", body=gen())  # unknown length: sent chunked
        assert r.body.read() == b"chunk0,chunk1,chunk2,chunk3,"
        assert echo.h.headers[-1].get("Transfer-Encoding") == "chunked"
        r = c.post(echo.url + "/echo", body=io.BufferedReader(io.BytesIO(b"z" * 200_000)))
        assert r.body.read() == b"z" * 200_000
        r = c.get(echo.url + "/stream")
        assert r.transfer_encoding == ("chunked",) and r.content_length == -1
        assert list(r.body) == [b"part0;", b"part1;", b"part2;", b"part3;", b"part4;"] or \
            b"".join(r.body) == b""  # iteration gives pieces as they arrive
        with c.get(echo.url + "/stream") as r:
            assert r.body.read() == b"part0;part1;part2;part3;part4;"
        assert echo.h.conns() == 1
    run(body)


@wire_paths
def test_204_and_304_have_no_body(run, echo):
    def body():
        c = http.Client(transport=http.Transport())
        for path, code in (("/nocontent", 204), ("/notmodified", 304)):
            with c.get(echo.url + path) as r:
                assert r.status_code == code and r.body.read() == b""
        with c.get(echo.url + "/x") as r:
            assert r.body.read() == b"hello GET"
        assert echo.h.conns() == 1
    run(body)


@wire_paths
def test_transparent_gzip(run, echo):
    def body():
        c = http.Client(transport=http.Transport())
        with c.get(echo.url + "/gzip") as r:
            assert r.uncompressed and r.content_length == -1
            assert "Content-Encoding" not in r.header and "Content-Length" not in r.header
            assert r.body.read() == b"hello gzip " * 100
        # asked by the caller: the body is left as sent
        with c.get(echo.url + "/gzip", headers={"Accept-Encoding": "gzip"}) as r:
            assert not r.uncompressed and r.header.get("Content-Encoding") == "gzip"
            assert gzip_mod.decompress(r.body.read()) == b"hello gzip " * 100
        t = http.Transport(disable_compression=True)
        with http.Client(transport=t).get(echo.url + "/x") as r:
            r.body.read()
        assert "Accept-Encoding" not in echo.h.headers[-1]
    run(body)


def test_header_values_and_user_agent(run, echo):
    def body():
        h = http.Header()
        h.add("X-Multi", "a")
        h.add("X-Multi", "b")
        h.set("User-Agent", "tester/1")
        c = http.Client(transport=http.Transport())
        c.get(echo.url + "/headers", headers=h).body.read()
        got = echo.h.headers[-1]
        assert got.values("X-Multi") == ["a", "b"] and got.get("User-Agent") == "tester/1"
        with pytest.raises(ValueError):
            http.new_request("GET", echo.url, headers={"X-Bad": "a\r\nInjected: yes"})
        with pytest.raises(ValueError, match="invalid method"):
            http.new_request("BAD METHOD", echo.url)
    run(body)


def test_url_userinfo_becomes_basic_auth(run, echo):
    def body():
        url = echo.url.replace("http://", "http://user:p%40ss@") + "/x"
        http.get(url).body.read()
        import base64

        assert echo.h.headers[-1].get("Authorization") == "Basic " + base64.b64encode(
            b"user:p@ss").decode()
    run(body)


@wire_paths
def test_expect_100_continue(run, echo):
    def body():
        c = http.Client(transport=http.Transport())
        req = http.new_request("POST", echo.url + "/echo", body=b"waited for",
                               headers={"Expect": "100-continue"})
        with c.do(req) as r:
            assert r.body.read() == b"waited for"
        with c.get(echo.url + "/x") as r:
            r.body.read()
        assert echo.h.conns() == 1
    run(body)


@wire_paths
def test_expect_100_continue_timeout_sends_the_body_anyway(run):
    # A server that never says "100 Continue": after expect_continue_timeout
    # the body goes anyway, as in Go.
    def script(s):
        data = read_request(s)
        assert b"Expect: 100-continue" in data
        while not data.endswith(b"payload"):
            data += s.recv(1024)
        s.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")

    port, _ = raw_server(script)

    def body():
        c = http.Client(transport=http.Transport(expect_continue_timeout=0.2))
        req = http.new_request("POST", f"http://127.0.0.1:{port}/", body=b"payload",
                               headers={"Expect": "100-continue"})
        t0 = time.monotonic()
        with c.do(req) as r:
            assert r.body.read() == b"ok"
        assert 0.15 < time.monotonic() - t0 < 5
    run(body)


@wire_paths
def test_final_answer_without_100_continue_leaves_the_body_unsent(run):
    seen = []

    def script(s):
        data = read_request(s)
        s.sendall(b"HTTP/1.1 417 Expectation Failed\r\nContent-Length: 0\r\n\r\n")
        s.settimeout(1)
        try:
            seen.append(data + s.recv(1024))
        except OSError:
            seen.append(data)

    port, t = raw_server(script)

    def body():
        c = http.Client(transport=http.Transport(expect_continue_timeout=5))
        req = http.new_request("POST", f"http://127.0.0.1:{port}/", body=b"never sent",
                               headers={"Expect": "100-continue"})
        with c.do(req) as r:
            assert r.status_code == 417
    run(body)
    t.join(5)
    assert b"never sent" not in seen[0]


# -- the pool ------------------------------------------------------------------------------


def test_pool_limits_under_200_goroutines(run):
    active = [0]
    peak = [0]
    ports = set()
    lock = threading.Lock()

    def handler(w, r):
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
            ports.add(r.remote_addr)
        gonet.sleep(0.002)
        with lock:
            active[0] -= 1
        w.write(b"ok")

    with TestServer(handler) as ts:
        def body():
            t = http.Transport(max_conns_per_host=4, max_idle_conns_per_host=4)
            c = http.Client(transport=t)

            def one(i):
                with c.get(f"{ts.url}/{i}") as r:
                    return r.body.read()

            gs = [gonet.go(one, i) for i in range(200)]
            assert [g.join() for g in gs] == [b"ok"] * 200
            assert t.num_idle() == 4
            t.close_idle_connections()
            assert t.num_idle() == 0
        run(body)
        assert len(ports) == 4 and peak[0] <= 4


def test_max_idle_conns_per_host_keeps_that_many(run, echo):
    def body():
        t = http.Transport(max_idle_conns_per_host=3)
        c = http.Client(transport=t)

        def one():
            with c.get(echo.url + "/slowhead?d=0.05") as r:
                r.body.read()

        gs = [gonet.go(one) for _ in range(10)]
        for g in gs:
            g.join()
        assert echo.h.conns() == 10 and t.num_idle() == 3
        gs = [gonet.go(one) for _ in range(3)]
        for g in gs:
            g.join()
        assert echo.h.conns() == 10  # the three idle ones served again
    run(body)


def test_waiting_for_a_connection_is_cancelled_by_the_context(run, echo):
    def body():
        t = http.Transport(max_conns_per_host=1)
        c = http.Client(transport=t)
        first = c.get(echo.url + "/slowbody?d=2")  # holds the only connection
        ctx, cancel = context.with_timeout(context.background(), 0.2)
        t0 = time.monotonic()
        with pytest.raises(http.URLError) as ei:
            c.do(http.new_request("GET", echo.url + "/x", context=ctx))
        assert 0.1 < time.monotonic() - t0 < 1.5
        assert isinstance(ei.value.err, context.DeadlineExceeded)
        cancel()
        first.body.close()
        with c.get(echo.url + "/x") as r:  # the place is free again
            assert r.body.read() == b"hello GET"
    run(body)


def test_idle_conn_timeout_closes_idle_connections(run, echo):
    def body():
        t = http.Transport(idle_conn_timeout=0.2)
        c = http.Client(transport=t)
        c.get(echo.url + "/x").body.read()
        assert t.num_idle() == 1
        gonet.sleep(0.5)
        assert t.num_idle() == 0
        c.get(echo.url + "/x").body.read()
        assert echo.h.conns() == 2
    run(body)


def test_disable_keep_alives(run, echo):
    def body():
        c = http.Client(transport=http.Transport(disable_keep_alives=True))
        for _ in range(3):
            c.get(echo.url + "/x").body.read()
        assert echo.h.conns() == 3
        assert echo.h.headers[-1].get("Connection") == "close"
    run(body)


def test_server_that_closes_idle_connections(run):
    # The server's idle timeout closes the pooled connection: the next
    # request, even a POST (not retried), goes out on a new connection.
    h = Echo()
    with TestServer(h, idle_timeout=0.1) as ts:
        def body():
            c = http.Client(transport=http.Transport())
            c.get(ts.url + "/x").body.read()
            gonet.sleep(0.4)
            assert c.post(ts.url + "/echo", body=b"after idle").body.read() == b"after idle"
            gonet.sleep(0.4)
            assert c.get(ts.url + "/x").body.read() == b"hello GET"
        run(body)
        assert h.conns() == 3


@wire_paths
def test_idempotent_request_is_retried_when_a_reused_connection_fails(run):
    # The server answers one request per connection and then closes without
    # saying so: the second request on that connection finds it dead.
    def script(s):
        read_request(s)
        s.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        s.shutdown(socket.SHUT_WR)
        time.sleep(0.05)

    port, _ = raw_server(script, conns=4)

    def body():
        # readable_now would notice the close; take the request out at the
        # very moment instead by checking nothing: a Transport whose pooled
        # connections look quiet.
        c = http.Client(transport=http.Transport())
        url = f"http://127.0.0.1:{port}/"
        assert c.get(url).body.read() == b"ok"
        assert c.get(url).body.read() == b"ok"
        assert c.get(url).body.read() == b"ok"
    run(body)


# -- redirects ---------------------------------------------------------------------------


@wire_paths
def test_redirects_follow_as_go(run, echo):
    def body():
        c = http.Client(transport=http.Transport())
        r = c.post(echo.url + "/redirect/303?to=/echo", body=b"dropped")
        assert r.status_code == 200 and r.request.method == "GET" and r.body.read() == b""
        r = c.post(echo.url + "/redirect/307?to=/echo", body=b"kept")
        assert r.request.method == "POST" and r.body.read() == b"kept"
        r = c.post(echo.url + "/redirect/308?to=/echo", body=b"kept too")
        assert r.body.read() == b"kept too"
        r = c.post(echo.url + "/redirect/302?to=/x", body=b"b")
        assert r.body.read() == b"hello GET"
        r = c.head(echo.url + "/redirect/301?to=/x")
        assert r.request.method == "HEAD"
        assert echo.h.headers[-1].get("Referer") == echo.url + "/redirect/301?to=/x"
        # a streamed body cannot be sent again: the 307 comes back as it is
        r = c.post(echo.url + "/redirect/307?to=/echo", body=iter([b"once"]))
        assert r.status_code == 307
        r.body.read()
    run(body)


def test_redirect_limits_and_check_redirect(run, echo):
    def body():
        c = http.Client(transport=http.Transport())
        with pytest.raises(http.URLError, match="stopped after 10 redirects") as ei:
            c.get(echo.url + "/loop")
        assert ei.value.response is not None and ei.value.response.status_code == 302
        seen = []

        def policy(req, via):
            seen.append((req.url.path, len(via)))
            raise http.ErrUseLastResponse

        c2 = http.Client(transport=http.Transport(), check_redirect=policy)
        r = c2.get(echo.url + "/redirect/301?to=/x")
        assert r.status_code == 301 and seen == [("/x", 1)]
        r.body.read()

        def refuse(req, via):
            return ValueError("not there")

        c3 = http.Client(transport=http.Transport(), check_redirect=refuse)
        with pytest.raises(http.URLError, match='Get "http.*/x": not there'):
            c3.get(echo.url + "/redirect/302?to=/x")
    run(body)


def test_sensitive_headers_are_dropped_across_hosts(run, echo):
    other = Echo()
    with TestServer(other) as ts2:
        def body():
            c = http.Client(transport=http.Transport())
            hdrs = {"Authorization": "Bearer secret", "Cookie": "a=b", "X-Keep": "yes"}
            # same host: kept
            c.get(echo.url + "/redirect/302?to=/x", headers=hdrs).body.read()
            assert echo.h.headers[-1].get("Authorization") == "Bearer secret"
            # 127.0.0.1 -> localhost: another host, dropped
            to = ts2.url.replace("127.0.0.1", "localhost") + "/x"
            r = c.get(echo.url + "/redirect/302?to=" + to, headers=hdrs)
            assert r.body.read() == b"hello GET"
            got = other.headers[-1]
            assert "Authorization" not in got and "Cookie" not in got
            assert got.get("X-Keep") == "yes"
        run(body)


def test_cookie_jar(run, echo):
    def body():
        jar = http.CookieJar()
        c = http.Client(transport=http.Transport(), jar=jar)
        assert c.get(echo.url + "/cookie").body.read() == b"set"
        c.get(echo.url + "/x").body.read()
        assert echo.h.headers[-1].get("Cookie") == "session=abc"
        # through a redirect: the jar's cookies go to the new URL once
        c.get(echo.url + "/redirect/302?to=/x").body.read()
        assert echo.h.headers[-1].values("Cookie") == ["session=abc"]
        assert [str(k) for k in jar.cookies(http.new_request("GET", echo.url).url)] == [
            "session=abc"]
    run(body)


# -- errors --------------------------------------------------------------------------------


def test_connection_refused_reads_like_go(run):
    def body():
        ln = gonet.listen("tcp", "127.0.0.1:0")
        port = ln.addr.port
        ln.close()
        url = f"http://127.0.0.1:{port}/"
        with pytest.raises(http.URLError) as ei:
            http.get(url)
        assert str(ei.value) == (f'Get "{url}": dial tcp 127.0.0.1:{port}: connect: '
                                 f"connection refused")
        assert isinstance(ei.value.err, ConnectionRefusedError) and ei.value.op == "Get"
        with pytest.raises(http.URLError, match=r'^Post "'):
            http.post(url, body=b"x")
        with pytest.raises(ValueError, match="unsupported protocol scheme"):
            http.Transport().round_trip(http.new_request("GET", "ftp://x/"))
    run(body)


BROKEN = {
    "garbage": b"NOT HTTP AT ALL\r\n\r\n",
    "bad status": b"HTTP/1.1 2000 OK\r\n\r\n",
    "bad content-length": b"HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\n",
    "conflicting content-length": b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
    "bad header": b"HTTP/1.1 200 OK\r\nBad Header: x\r\n\r\n",
    "unsupported coding": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
}


@pytest.mark.parametrize("name", sorted(BROKEN))
@wire_paths
def test_malformed_responses_are_clear_errors(run, name):
    def script(s):
        read_request(s)
        s.sendall(BROKEN[name])
        time.sleep(0.2)

    port, _ = raw_server(script)

    def body():
        t = http.Transport()
        url = f"http://127.0.0.1:{port}/"
        with pytest.raises(http.URLError, match=f'Get "{url}": malformed HTTP response'):
            http.Client(transport=t).get(url)
        assert t.num_idle() == 0
    run(body)


@wire_paths
def test_truncated_body_and_close_without_response(run):
    def short(s):
        read_request(s)
        s.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this")

    def bad_chunks(s):
        read_request(s)
        s.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nabc")

    def silent(s):
        read_request(s)

    def body():
        t = http.Transport()
        c = http.Client(transport=t)
        port, _ = raw_server(short)
        url = f"http://127.0.0.1:{port}/"
        r = c.get(url)
        with pytest.raises(http.URLError, match=r"unexpected EOF reading the body"):
            r.body.read()
        port, _ = raw_server(bad_chunks)
        r = c.get(f"http://127.0.0.1:{port}/")
        with pytest.raises(http.URLError, match="EOF"):
            r.body.read()
        port, _ = raw_server(silent)
        with pytest.raises(http.URLError, match="server closed the connection before "
                                                "responding"):
            c.get(f"http://127.0.0.1:{port}/")
        assert t.num_idle() == 0
    run(body)


@wire_paths
def test_oversized_response_head(run):
    def script(s):
        read_request(s)
        s.sendall(b"HTTP/1.1 200 OK\r\n" + b"X-Pad: " + b"a" * 5000 + b"\r\n\r\n")
        time.sleep(0.2)

    port, _ = raw_server(script)

    def body():
        t = http.Transport(max_response_header_bytes=4096)
        with pytest.raises(http.URLError, match="server response headers exceeded 4096 bytes"):
            http.Client(transport=t).get(f"http://127.0.0.1:{port}/")
    run(body)


@wire_paths
def test_unsolicited_bytes_after_a_response_close_the_connection(run):
    def script(s):
        read_request(s)
        s.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA")
        time.sleep(0.3)

    port, _ = raw_server(script, conns=2)

    def body():
        t = http.Transport()
        c = http.Client(transport=t)
        assert c.get(f"http://127.0.0.1:{port}/").body.read() == b"ok"
        assert t.num_idle() == 0
    run(body)


# -- timeouts and cancellation -------------------------------------------------------------


def test_client_timeout_awaiting_headers(run, echo):
    def body():
        c = http.Client(transport=http.Transport(), timeout=0.3)
        t0 = time.monotonic()
        with pytest.raises(http.URLError) as ei:
            c.get(echo.url + "/slowhead?d=3")
        assert 0.25 < time.monotonic() - t0 < 2
        e = ei.value
        assert isinstance(e, TimeoutError) and e.timeout()
        assert "(Client.Timeout exceeded while awaiting headers)" in str(e)
        assert str(e).startswith(f'Get "{echo.url}/slowhead?d=3": ')
    run(body)


def test_client_timeout_bounds_reading_the_body(run, echo):
    def body():
        c = http.Client(transport=http.Transport(), timeout=0.4)
        r = c.get(echo.url + "/slowbody?d=3")
        assert r.body.read(5) == b"first"
        t0 = time.monotonic()
        with pytest.raises(http.URLError, match="Client.Timeout or context cancellation while "
                                                "reading body") as ei:
            r.body.read()
        assert isinstance(ei.value, TimeoutError)
        assert time.monotonic() - t0 < 2
        with c.get(echo.url + "/x") as r:  # a fresh request, a fresh deadline
            assert r.body.read() == b"hello GET"
    run(body)


def test_response_header_timeout(run, echo):
    def body():
        t = http.Transport(response_header_timeout=0.2)
        with pytest.raises(http.URLError, match="timeout awaiting response headers") as ei:
            http.Client(transport=t).get(echo.url + "/slowhead?d=3")
        assert isinstance(ei.value, TimeoutError)
        # a slow body is not a slow head
        r = http.Client(transport=t).get(echo.url + "/slowbody?d=0.5")
        assert r.body.read() == b"firstsecond"
    run(body)


def test_context_cancel_aborts_a_parked_read(run, echo):
    def body():
        ctx, cancel = context.with_cancel(context.background())
        gonet.time.after_func(0.2, cancel)
        t0 = time.monotonic()
        with pytest.raises(http.URLError) as ei:
            http.Client(transport=http.Transport()).do(
                http.new_request("GET", echo.url + "/slowhead?d=3", context=ctx))
        assert time.monotonic() - t0 < 1.5
        assert isinstance(ei.value.err, context.Canceled)
        assert str(ei.value) == f'Get "{echo.url}/slowhead?d=3": context canceled'
    run(body)


def test_context_cancel_aborts_a_body_read_and_closes_the_connection(run, echo):
    def body():
        t = http.Transport()
        ctx, cancel = context.with_cancel(context.background())
        r = http.Client(transport=t).do(
            http.new_request("GET", echo.url + "/slowbody?d=3", context=ctx))
        assert r.body.read(5) == b"first"
        gonet.time.after_func(0.1, cancel)
        with pytest.raises(http.URLError, match="context canceled"):
            r.body.read()
        assert t.num_idle() == 0
    run(body)


def test_context_deadline_aborts_a_dial(run):
    # A listener whose accept queue is full: further SYNs go unanswered, so a
    # connect stays in progress until the deadline cuts it.
    ln = socket.socket()
    ln.bind(("127.0.0.1", 0))
    ln.listen(0)
    port = ln.getsockname()[1]
    fillers = []
    for _ in range(8):
        s = socket.socket()
        s.setblocking(False)
        s.connect_ex(("127.0.0.1", port))
        fillers.append(s)

    def body():
        ctx, cancel = context.with_timeout(context.background(), 0.3)
        t0 = time.monotonic()
        with pytest.raises(http.URLError) as ei:
            http.Client(transport=http.Transport()).do(
                http.new_request("GET", f"http://127.0.0.1:{port}/", context=ctx))
        assert time.monotonic() - t0 < 2.5
        assert isinstance(ei.value.err, TimeoutError)
        assert "context deadline exceeded" in str(ei.value)
        cancel()

    try:
        run(body)
    finally:
        for s in fillers:
            s.close()
        ln.close()


def test_a_handlers_context_cancels_its_outgoing_call(run):
    # A server handler calls a slow backend with r.context: when its own
    # client goes away, the outgoing call is cancelled at once.
    backend_started = threading.Event()
    outcome = []

    def slow(w, r):
        backend_started.set()
        nap(r, 5)
        w.write(b"too late")

    with TestServer(slow) as backend:
        def front(w, r):
            t0 = time.monotonic()
            try:
                http.Client(transport=http.Transport()).do(
                    http.new_request("GET", backend.url + "/", context=r.context))
                outcome.append("answered")
            except http.URLError as e:
                outcome.append((type(e.err).__name__, time.monotonic() - t0))

        with TestServer(front) as ts:
            s = socket.create_connection(("127.0.0.1", ts.port))
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            assert backend_started.wait(5)
            s.close()  # the front's client goes away
            deadline = time.monotonic() + 5
            while not outcome and time.monotonic() < deadline:
                time.sleep(0.02)
    assert outcome and outcome[0][0] == "Canceled" and outcome[0][1] < 3


def test_idle_pooled_connection_pins_no_goroutine(run, echo):
    def body():
        t = http.Transport(max_idle_conns_per_host=10)
        c = http.Client(transport=t)
        mine = get_sched().all  # this scheduler's live goroutines
        before = len(mine)

        def one():
            c.get(echo.url + "/slowhead?d=0.05").body.read()

        gs = [gonet.go(one) for _ in range(10)]
        for g in gs:
            g.join()
        assert t.num_idle() == 10
        assert len(mine) <= before + 1  # the idle timer's, at most
    run(body)


def _dies_on_second_request(s):
    # answers one request, reads the next one and hangs up without a word:
    # the race of a server closing an idle connection as a request arrives
    read_request(s)
    s.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfirst")
    read_request(s)


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_request_lost_to_a_closing_connection(run, method):
    calls = []

    def script(s):
        calls.append(1)
        if len(calls) == 1:
            _dies_on_second_request(s)
        else:
            read_request(s)
            s.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecond")

    port, _ = raw_server(script, conns=2)

    def body():
        c = http.Client(transport=http.Transport())
        url = f"http://127.0.0.1:{port}/"
        assert c.get(url).body.read() == b"first"
        if method == "GET":  # idempotent: sent again on a new connection (Go's rule)
            assert c.get(url).body.read() == b"second"
        else:  # a POST the server may have seen is not sent twice
            with pytest.raises(http.URLError, match=f'^Post "{url}": server closed the '
                                                    "connection before responding"):
                c.post(url, body=b"data")
    run(body)
    assert len(calls) == (2 if method == "GET" else 1)


def test_101_switching_protocols_gives_the_connection(run):
    def script(s):
        read_request(s)
        s.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\n"
                  b"Connection: Upgrade\r\n\r\nhello")
        while True:
            d = s.recv(1024)
            if not d:
                return
            s.sendall(d.upper())

    port, _ = raw_server(script)

    def body():
        req = http.new_request("GET", f"http://127.0.0.1:{port}/",
                               headers={"Upgrade": "echo", "Connection": "Upgrade"})
        r = http.Client(transport=http.Transport()).do(req)
        assert r.status_code == 101
        assert r.body.read(5) == b"hello"  # bytes that came with the head
        r.body.write(b"ping")
        assert r.body.read(4) == b"PING"
        r.body.close()
    run(body)


def test_max_idle_conns_across_hosts_and_threads(run):
    hs = [Echo(), Echo()]
    with TestServer(hs[0]) as a, TestServer(hs[1]) as b:
        t = http.Transport(max_idle_conns=1)

        def body():
            c = http.Client(transport=t)
            c.get(a.url + "/x").body.read()
            c.get(b.url + "/x").body.read()  # evicts the idle one to a
            assert t.num_idle() == 1
            c.get(b.url + "/x").body.read()
            c.get(a.url + "/x").body.read()
            return t.num_idle()

        assert run(body) == 1
        assert hs[0].conns() == 2 and hs[1].conns() == 1

        # the same Transport from another thread has a pool of its own
        def other():
            http.Client(transport=t).get(a.url + "/x").body.read()
            return t.num_idle()

        assert run(other) == 1
        assert hs[0].conns() == 3


def test_context_cancel_aborts_a_parked_write(run):
    # A server that never reads: the upload fills the socket buffers and the
    # write parks, until the context is cancelled.
    stop = threading.Event()

    def script(s):
        stop.wait(10)

    port, _ = raw_server(script)

    def gen():
        chunk = b"x" * 65536
        for _ in range(2000):
            yield chunk

    def body():
        ctx, cancel = context.with_cancel(context.background())
        gonet.time.after_func(0.3, cancel)
        t0 = time.monotonic()
        with pytest.raises(http.URLError, match="context canceled"):
            http.Client(transport=http.Transport()).do(
                http.new_request("POST", f"http://127.0.0.1:{port}/", body=gen(), context=ctx))
        assert time.monotonic() - t0 < 3

    try:
        run(body)
    finally:
        stop.set()


def test_client_timeout_through_another_round_tripper(run, echo):
    # A RoundTripper that is not gonet's Transport gets Client.timeout as a
    # deadline on the request's context (Go's setRequestCancel).
    seen = []

    class Logging:
        def __init__(self):
            self.inner = http.Transport()

        def round_trip(self, req):
            seen.append(req.context.deadline())
            return self.inner.round_trip(req)

    def body():
        c = http.Client(transport=Logging(), timeout=0.3)
        with c.get(echo.url + "/x") as r:
            assert r.body.read() == b"hello GET"
        t0 = time.monotonic()
        with pytest.raises(http.URLError, match="Client.Timeout exceeded") as ei:
            c.get(echo.url + "/slowhead?d=3")
        assert isinstance(ei.value, TimeoutError) and time.monotonic() - t0 < 2
        assert all(d is not None for d in seen)
    run(body)
