"""WSGIHandler (PEP 3333) on a real gonet server: environ, input streaming,
start_response and exc_info, the write callable, close(), framing, sendfile,
the thread pool; every request of the validated app goes through
wsgiref.validate with its warnings turned into errors."""

from __future__ import annotations

import io
import logging
import socket
import sys
import threading
import time
import warnings
from wsgiref.validate import WSGIWarning, validator

import httpx
import pytest

from gonet.http import new_request
from gonet.http.accesslog import AccessLog, combined_line
from gonet.http.httptest import TestServer
from gonet.http.proxy import ProxyHeaders, TrustedPeers
from gonet.http.wsgi import FileWrapper, WSGIHandler

# Every test here runs once per head parser (gonet.http.wire's fast and public paths).
pytestmark = [pytest.mark.usefixtures("head_parser"), pytest.mark.timeout(30)]


# -- a plain WSGI app exercising the spec ----------------------------------------------


def plain_app(environ, start_response):
    path = environ["PATH_INFO"]
    method = environ["REQUEST_METHOD"]
    if path == "/hello":
        body = b"hello"
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "5")])
        return [body]
    if path == "/nolength":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"abc", b"def"]
    if path == "/echo":
        inp = environ["wsgi.input"]
        parts = []
        while True:
            chunk = inp.read(7)  # small reads: the body must stream in pieces
            if not chunk:
                break
            parts.append(chunk)
        data = b"".join(parts)
        start_response("200 OK", [("Content-Type", "application/octet-stream"),
                                  ("X-Pieces", str(len(parts)))])
        return [data]
    if path == "/readall":
        n = int(environ["CONTENT_LENGTH"])
        data = environ["wsgi.input"].read(n)  # the classic CGI-style read
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"%d %d" % (n, len(data)), b" ok" if data == bytes(range(256)) * (n // 256) else b" bad"]
    if path == "/lines":
        lines = list(environ["wsgi.input"])
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [str(len(lines)).encode(), b":", b"|".join(x.rstrip(b"\n") for x in lines)]
    if path == "/stream":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return (b"block%d;" % i for i in range(50))
    if path == "/write":
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        write(b"from-write;")
        return [b"from-iter"]
    if path.startswith("/env"):
        start_response("200 OK", [("Content-Type", "text/plain")])
        keys = ("REQUEST_METHOD", "SCRIPT_NAME", "PATH_INFO", "QUERY_STRING", "SERVER_NAME",
                "SERVER_PORT", "SERVER_PROTOCOL", "REMOTE_ADDR", "CONTENT_TYPE", "CONTENT_LENGTH",
                "HTTP_X_MULTI", "HTTP_X_AUTH_USER", "wsgi.url_scheme")
        return ["\n".join(f"{k}={environ.get(k, '<none>')}" for k in keys).encode("latin-1")]
    if path == "/error-before":
        try:
            raise ValueError("boom")
        except ValueError:
            start_response("200 OK", [("Content-Type", "text/plain")])
            start_response("503 Service Unavailable", [("Content-Type", "text/plain")],
                           sys.exc_info())
        return [b"replaced"]
    if path == "/errors":
        environ["wsgi.errors"].write("first line\nsecond ")
        environ["wsgi.errors"].writelines(["part\n"])
        environ["wsgi.errors"].flush()
        start_response("204 No Content", [])
        return []
    if path == "/empty":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return []
    if method == "HEAD" or path == "/head":
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "4")])
        return [b"body"]
    start_response("404 Not Found", [("Content-Type", "text/plain")])
    return [b"nope"]


def _strict(app):
    """wsgiref.validate around ``app``; its warnings become errors (-> 500)."""
    checked = validator(app)

    def strict(environ, start_response):
        with warnings.catch_warnings():
            warnings.simplefilter("error", WSGIWarning)
            return checked(environ, start_response)

    return strict


@pytest.fixture(scope="module", params=[0, 3], ids=["goroutine", "threads"])
def vserver(request):
    h = WSGIHandler(_strict(plain_app), threads=request.param)
    with TestServer(h) as ts:
        with httpx.Client(base_url=ts.url, timeout=10) as client:
            yield client
    h.close()


def test_validated_hello_has_content_length(vserver):
    r = vserver.get("/hello")
    assert r.status_code == 200
    assert r.text == "hello"
    assert r.headers["content-length"] == "5"
    assert r.headers["content-type"] == "text/plain"


def test_small_body_without_length_gets_one(vserver):
    r = vserver.get("/nolength")
    assert r.text == "abcdef"
    # A list's blocks are all at hand: nothing to push early, so the small
    # body is buffered and gets a Content-Length (the validator's iterator
    # wrapper hides the list: only the goroutine-mode app is unwrapped).
    assert r.headers.get("content-length") == "6" or r.headers.get("transfer-encoding") == "chunked"


def test_list_body_gets_content_length():
    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"abc", b"def"]

    for threads in (0, 2):
        h = WSGIHandler(app, threads=threads)
        with TestServer(h) as ts:
            r = httpx.get(ts.url, timeout=5)
        h.close()
        assert r.text == "abcdef"
        assert r.headers["content-length"] == "6"


def test_input_streams_in_pieces(vserver):
    data = bytes(range(256)) * 40
    r = vserver.post("/echo", content=data)
    assert r.status_code == 200
    assert r.content == data
    assert int(r.headers["x-pieces"]) >= len(data) // 7


def test_read_content_length_returns_whole_body(vserver):
    data = bytes(range(256)) * 2000  # 512 KB: many socket reads
    r = vserver.post("/readall", content=data)
    assert r.text == f"{len(data)} {len(data)} ok"


def test_chunked_request_body(vserver):
    def gen():
        for i in range(20):
            yield b"piece-%02d|" % i

    r = vserver.post("/echo", content=gen())
    assert r.status_code == 200
    assert r.content == b"".join(b"piece-%02d|" % i for i in range(20))


def test_input_iterates_lines(vserver):
    r = vserver.post("/lines", content=b"one\ntwo\nthree")
    assert r.text == "3:one|two|three"


def test_streaming_response_is_chunked(vserver):
    with vserver.stream("GET", "/stream") as r:
        assert r.headers.get("transfer-encoding") == "chunked"
        body = b"".join(r.iter_bytes())
    assert body == b"".join(b"block%d;" % i for i in range(50))


def test_write_callable_then_iterable(vserver):
    r = vserver.get("/write")
    assert r.text == "from-write;from-iter"


def test_environ(vserver):
    r = vserver.post("/env/a%20b%C3%A9?x=1&y=%20", content=b"xyz",
                     headers=[("Content-Type", "text/x-test"), ("X-Multi", "a"),
                              ("X-Multi", "b"), ("X-Auth_User", "evil")])
    env = dict(line.split("=", 1) for line in r.content.decode("latin-1").split("\n"))
    assert env["REQUEST_METHOD"] == "POST"
    assert env["SCRIPT_NAME"] == ""
    # PEP 3333: the decoded path's bytes, as latin-1.
    assert env["PATH_INFO"] == "/env/a bé".encode().decode("latin-1")
    assert env["QUERY_STRING"] == "x=1&y=%20"
    assert env["SERVER_NAME"] == "127.0.0.1"
    assert env["SERVER_PORT"] == str(vserver.base_url.port)
    assert env["SERVER_PROTOCOL"] == "HTTP/1.1"
    assert env["REMOTE_ADDR"] == "127.0.0.1"
    assert env["CONTENT_TYPE"] == "text/x-test"
    assert env["CONTENT_LENGTH"] == "3"
    assert env["HTTP_X_MULTI"] == "a, b"
    assert env["HTTP_X_AUTH_USER"] == "<none>"  # underscore headers are dropped
    assert env["wsgi.url_scheme"] == "http"


def test_exc_info_replaces_unsent_headers(vserver):
    r = vserver.get("/error-before")
    assert r.status_code == 503
    assert r.text == "replaced"


def test_wsgi_errors_go_to_logging(vserver, caplog):
    with caplog.at_level(logging.ERROR, logger="gonet.wsgi.errors"):
        r = vserver.get("/errors")
    assert r.status_code == 204
    msgs = [rec.getMessage() for rec in caplog.records if rec.name == "gonet.wsgi.errors"]
    assert msgs == ["first line", "second part"]


def test_head_has_headers_and_no_body(vserver):
    r = vserver.head("/head")
    assert r.status_code == 200
    assert r.headers["content-length"] == "4"
    assert r.content == b""


def test_empty_iterable(vserver):
    r = vserver.get("/empty")
    assert r.status_code == 200
    assert r.content == b""
    assert r.headers["content-length"] == "0"


# -- close(), errors after the head, file_wrapper ----------------------------------------


class Tracked:
    """An app iterable recording close(); ``fail_at`` raises during iteration."""

    def __init__(self, blocks, fail_at=None):
        self.blocks = blocks
        self.fail_at = fail_at
        self.closed = threading.Event()

    def __iter__(self):
        for i, b in enumerate(self.blocks):
            if i == self.fail_at:
                raise RuntimeError("app failed mid-body")
            yield b

    def close(self):
        self.closed.set()


def test_close_called_on_success_and_failure():
    results = []

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        it = Tracked([b"a" * 10, b"b" * 10, b"c"], fail_at=2 if "fail" in environ["PATH_INFO"] else None)
        results.append(it)
        return it

    with TestServer(WSGIHandler(app)) as ts:
        r = httpx.get(ts.url + "/ok", timeout=5)
        assert r.text == "a" * 10 + "b" * 10 + "c"
        with pytest.raises(httpx.HTTPError):
            # The head is out when the app fails: the connection is aborted.
            httpx.get(ts.url + "/fail", timeout=5)
    assert all(it.closed.wait(5) for it in results)
    assert len(results) == 2


def test_close_called_when_client_disconnects():
    started = threading.Event()
    it_box = []

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])

        class Endless(Tracked):
            def __iter__(self):
                started.set()
                while True:
                    yield b"x" * 65536

        it = Endless([])
        it_box.append(it)
        return it

    with TestServer(WSGIHandler(app)) as ts:
        s = socket.create_connection(("127.0.0.1", ts.port))
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert started.wait(5)
        s.recv(1000)
        s.close()
        assert it_box[0].closed.wait(5)


def test_exc_info_after_headers_sent_reraises():
    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        yield b"partial"
        try:
            raise KeyError("late")
        except KeyError:
            start_response("500 Internal Server Error", [], sys.exc_info())
        yield b"never"

    with TestServer(WSGIHandler(app)) as ts:
        with pytest.raises(httpx.HTTPError):
            httpx.get(ts.url, timeout=5)


def test_error_before_body_is_500():
    def app(environ, start_response):
        raise RuntimeError("no response at all")

    with TestServer(WSGIHandler(app)) as ts:
        r = httpx.get(ts.url, timeout=5)
        assert r.status_code == 500


def test_start_response_not_called_is_500():
    def app(environ, start_response):
        return [b"body without status"]

    with TestServer(WSGIHandler(app)) as ts:
        assert httpx.get(ts.url, timeout=5).status_code == 500


class NoReadFile(io.FileIO):
    """A file that refuses read(): only sendfile(2) can send it."""

    def read(self, *a):
        raise AssertionError("file was read instead of sent with sendfile")

    readinto = read


@pytest.mark.parametrize("threads", [0, 2])
def test_file_wrapper_uses_sendfile(tmp_path, threads):
    path = tmp_path / "blob.bin"
    data = bytes(range(256)) * 4096  # 1 MiB
    path.write_bytes(data)

    def app(environ, start_response):
        f = NoReadFile(str(path))
        f.seek(100)
        headers = [("Content-Type", "application/octet-stream")]
        if environ["QUERY_STRING"] == "len":
            headers.append(("Content-Length", str(1000)))
        start_response("200 OK", headers)
        return environ["wsgi.file_wrapper"](f, 8192)

    h = WSGIHandler(app, threads=threads)
    with TestServer(h) as ts:
        r = httpx.get(ts.url, timeout=10)
        assert r.status_code == 200
        assert r.headers["content-length"] == str(len(data) - 100)
        assert r.content == data[100:]
        r = httpx.get(ts.url + "?len", timeout=10)
        assert r.content == data[100:1100]
    h.close()


def test_file_wrapper_iterates_when_wrapped(tmp_path):
    path = tmp_path / "t.txt"
    path.write_bytes(b"0123456789" * 1000)

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return environ["wsgi.file_wrapper"](open(path, "rb"), 1000)

    with TestServer(WSGIHandler(_strict(app))) as ts:
        r = httpx.get(ts.url, timeout=5)
        assert r.status_code == 200
        assert r.content == b"0123456789" * 1000
    fw = FileWrapper(io.BytesIO(b"abcdef"), 4)
    assert list(fw) == [b"abcd", b"ef"]


# -- threads ---------------------------------------------------------------------------------


def test_threads_run_blocking_apps_concurrently():
    def app(environ, start_response):
        time.sleep(0.4)  # blocks its OS thread, not the server
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [threading.current_thread().name.encode()]

    h = WSGIHandler(app, threads=4)
    with TestServer(h) as ts:
        names = []

        def get():
            names.append(httpx.get(ts.url, timeout=10).text)

        httpx.get(ts.url, timeout=10)  # warm-up: start a pool thread
        t0 = time.monotonic()
        ts_ = [threading.Thread(target=get) for _ in range(4)]
        for t in ts_:
            t.start()
        for t in ts_:
            t.join()
        elapsed = time.monotonic() - t0
    h.close()
    assert len(names) == 4 and all(n.startswith("gonet-wsgi") for n in names)
    # Serial would take 1.6 s; together they take about one sleep.
    assert elapsed < 1.3, elapsed


def test_without_threads_app_runs_in_goroutine():
    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [threading.current_thread().name.encode()]

    with TestServer(WSGIHandler(app)) as ts:
        assert httpx.get(ts.url, timeout=5).text == "httptest"


# -- proxy headers and access log (through WSGI) ----------------------------------------------


def _env_app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [f"{environ['REMOTE_ADDR']} {environ['wsgi.url_scheme']}".encode()]


def test_proxy_headers_from_trusted_peer():
    h = ProxyHeaders(WSGIHandler(_env_app), "127.0.0.1")
    with TestServer(h) as ts:
        r = httpx.get(ts.url, headers={"X-Forwarded-For": "203.0.113.7, 127.0.0.1",
                                       "X-Forwarded-Proto": "https"}, timeout=5)
        assert r.text == "203.0.113.7 https"
        r = httpx.get(ts.url, headers={"Forwarded": 'for="[2001:db8::1]:4711";proto=https'},
                      timeout=5)
        assert r.text == "2001:db8::1 https"
        assert httpx.get(ts.url, timeout=5).text == "127.0.0.1 http"


def test_proxy_headers_ignored_from_untrusted_peer():
    h = ProxyHeaders(WSGIHandler(_env_app), "10.0.0.0/8")
    with TestServer(h) as ts:
        r = httpx.get(ts.url, headers={"X-Forwarded-For": "203.0.113.7",
                                       "X-Forwarded-Proto": "https"}, timeout=5)
        assert r.text == "127.0.0.1 http"


def test_proxy_chain_takes_rightmost_untrusted():
    p = ProxyHeaders(lambda w, r: None, "127.0.0.1,10.0.0.0/8")
    r = new_request("GET", "/", headers={"X-Forwarded-For": "1.1.1.1, 6.6.6.6, 10.1.2.3"})
    r.remote_addr = "127.0.0.1:5555"
    assert p.client("127.0.0.1", r.header) == ("6.6.6.6", "")
    r = new_request("GET", "/", headers={"X-Forwarded-For": "10.9.9.9, 10.1.2.3"})
    assert p.client("127.0.0.1", r.header) == ("10.9.9.9", "")
    assert "192.168.1.1" not in TrustedPeers("127.0.0.1,10.0.0.0/8")
    assert "192.168.1.1" in TrustedPeers("*")
    with pytest.raises(ValueError):
        TrustedPeers("not-an-ip")


def test_access_log_combined_format(caplog):
    h = AccessLog(WSGIHandler(_env_app))
    with TestServer(h) as ts:
        with caplog.at_level(logging.INFO, logger="gonet.access"):
            httpx.get(ts.url + "/p?q=1", headers={"Referer": "http://ref/", "User-Agent": "t/1"},
                      timeout=5)
            deadline = time.monotonic() + 5
            while not [r for r in caplog.records if r.name == "gonet.access"]:
                assert time.monotonic() < deadline
                time.sleep(0.01)
    line = [r.getMessage() for r in caplog.records if r.name == "gonet.access"][0]
    import re

    assert re.fullmatch(r'127\.0\.0\.1 - - \[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\] '
                        r'"GET /p\?q=1 HTTP/1\.1" 200 \d+ "http://ref/" "t/1"', line), line
    r = new_request("GET", "/x")
    assert combined_line(r, 404, 0).endswith('"GET /x HTTP/1.1" 404 - "-" "-"')
