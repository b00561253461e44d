"""HTTP layer: the server against cases of Go's net/http serve_test.go, in our own words.

Each test names the Go test it follows. Where gonet answers differently on
purpose, the test says so and why (RFC 9112's MUSTs, or the issue that
asked for it). Every test runs through both head parsers.
"""

from __future__ import annotations

import logging
import socket
import threading
import time

import httpx
import pytest
from rawhttp import Responses, connect, raw_response

import gonet
from gonet import http
from gonet.http.httptest import TestServer

pytestmark = pytest.mark.usefixtures("head_parser")


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


def _head(raw: bytes) -> str:
    return raw.split(b"\r\n\r\n", 1)[0].decode("latin-1")


def _at_eof(s: socket.socket, buf: bytes = b"") -> bool:
    s.settimeout(3.0)
    try:
        return not buf and s.recv(1) == b""
    except ConnectionResetError:
        return True


# -- connection reuse and Connection ---------------------------------------------------


@pytest.mark.parametrize("req", [
    b"GET / HTTP/1.0\r\n\r\n",                                     # TestServeHTTP10Close
    b"GET / HTTP/1.1\r\nHost: foo\r\nConnection: close\r\n\r\n",   # TestClientCanClose
    b"GET /close HTTP/1.1\r\nHost: foo\r\n\r\n",                   # ...SetConnectionClose11
    b"GET /close HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",      # ...SetConnectionClose10
])
def test_connection_closes_when_the_client_or_the_handler_says_so(serve, req):
    def h(w, r):
        if r.url.path == "/close":
            w.header().set("Connection", "close")
    ts = serve(h)
    s = connect(ts.port)
    s.sendall(req)
    rd = Responses(s)
    status, headers, _ = rd.next()
    assert status == 200 and headers["connection"] == "close"
    assert rd.next() is None  # and the server closed
    s.close()


@pytest.mark.parametrize("req,status", [
    (b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", 204),  # TestHTTP10KeepAlive204Response
    (b"GET / HTTP/1.1\r\nHost: foo\r\n\r\n", 204),                # TestHTTP11KeepAlive204Response
    (b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n"
     b"If-Modified-Since: Mon, 02 Jan 2006 15:04:05 GMT\r\n\r\n", 304),
])
def test_bodiless_statuses_keep_the_connection(serve, req, status):
    ts = serve(lambda w, r: w.write_header(status))
    s = connect(ts.port)
    rd = Responses(s)
    for _ in range(2):
        s.sendall(req)
        got, headers, body = rd.next()
        assert got == status and body == b"" and "content-length" not in headers
    s.close()


def test_http10_keep_alive_is_answered_in_kind(serve):
    # TestHTTP10ConnectionHeader (keep-alive part)
    ts = serve(lambda w, r: None)
    s = connect(ts.port)
    s.sendall(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
    status, headers, _ = Responses(s).next()
    assert status == 200 and headers["connection"] == "keep-alive"
    s.close()


@pytest.mark.parametrize("version", ["HTTP/1.0", "HTTP/1.1"])
def test_an_empty_handler_sends_content_length_zero(serve, version):
    # TestContentLengthZero
    ts = serve(lambda w, r: None)
    s = connect(ts.port)
    s.sendall(f"GET / {version}\r\nConnection: keep-alive\r\nHost: foo\r\n\r\n".encode())
    status, headers, _ = Responses(s).next()
    assert headers["content-length"] == "0" and "transfer-encoding" not in headers
    s.close()


def test_keep_alives_disabled_means_connection_close(serve):
    # TestServerKeepAlivesEnabledResultClose
    ts = serve(lambda w, r: None)
    ts.server.set_keep_alives_enabled(False)
    r = httpx.get(ts.url)
    assert r.headers["connection"] == "close"


def test_extra_crlfs_after_a_body_are_ignored(serve):
    # TestTolerateCRLFBeforeRequestLine
    seen = []
    ts = serve(lambda w, r: seen.append(r.method))
    out = raw_response(ts.port, b"POST / HTTP/1.1\r\nHost: g\r\nContent-Length: 3\r\n\r\nABC"
                       b"\r\n\r\nGET / HTTP/1.1\r\nHost: g\r\n\r\n")
    assert seen == ["POST", "GET"] and out.count(b"HTTP/1.1 200 OK") == 2


def test_a_client_that_only_half_closes_gets_nothing(serve):
    # TestClientWriteShutdown
    ts = serve(lambda w, r: None)
    assert raw_response(ts.port, b"") == b""


# -- Expect: 100-continue (TestServerExpect) -------------------------------------------


@pytest.mark.parametrize("length,expectation,read_body,first", [
    (100, "100-continue", True, "100 Continue"),
    (100, "100-cOntInUE", True, "100 Continue"),
    (100, "", True, "200 OK"),
    (100, "100-continue", False, "401 Unauthorized"),
    (100, "", False, "401 Unauthorized"),
    (0, "a-pony", False, "417 Expectation Failed"),
    (0, "100-continue", True, "200 OK"),
    (0, "100-continue", False, "401 Unauthorized"),
    (-1, "100-continue", True, "100 Continue"),  # chunked
])
def test_expect(serve, length, expectation, read_body, first):
    def h(w, r):
        if "readbody=True" in r.url.raw_query:
            r.body.read()
            w.write(b"Hi")
        else:
            w.write_header(401)

    ts = serve(h)
    s = connect(ts.port)
    framing = "Transfer-Encoding: chunked" if length < 0 else f"Content-Length: {length}"
    s.sendall(f"POST /?readbody={read_body} HTTP/1.1\r\nConnection: close\r\n{framing}\r\n"
              f"Expect: {expectation}\r\nHost: foo\r\n\r\n".encode())
    if length > 0 and expectation.lower() != "100-continue":
        try:
            s.sendall(b"A" * length)
        except OSError:
            pass
    line = b""
    while not line.endswith(b"\r\n"):
        line += s.recv(1)
    assert first in line.decode()
    s.close()


def test_expect_header_reaches_the_handler(serve):
    # TestIssue13893_Expect100
    got = []
    ts = serve(lambda w, r: got.append(r.header.get("Expect")))
    raw_response(ts.port, b"PUT /readbody HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n"
                 b"Content-Length: 10\r\n\r\nHelloWorld")
    assert got == ["100-continue"]


def test_an_unanswered_100_continue_closes_the_connection(serve):
    # TestIssue11549_Expect100: the second request's body never comes (no
    # 100 was sent); what follows must not be read as a request.
    seen = []

    def h(w, r):
        seen.append(r.url.path)
        if r.url.path == "/readbody":
            r.body.read()
        w.write(b"Hello world!")

    ts = serve(h)
    out = raw_response(ts.port, b"PUT /readbody HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n"
                       b"Content-Length: 10\r\n\r\nHelloWorld"
                       b"PUT /noreadbody HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n"
                       b"Content-Length: 10\r\n\r\n"
                       b"GET /should-be-ignored HTTP/1.1\r\nHost: foo\r\n\r\n")
    assert seen == ["/readbody", "/noreadbody"]
    assert b"Connection: close\r\n" in out


# -- unread request bodies -----------------------------------------------------------


def test_a_small_unread_body_is_drained_and_the_connection_kept(serve):
    # TestServerUnreadRequestBodyLittle
    ts = serve(lambda w, r: w.write_header(200))
    s = connect(ts.port)
    body = b"x" * (100 << 10)
    s.sendall(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
    rd = Responses(s)
    status, headers, _ = rd.next()
    assert status == 200 and "connection" not in headers
    s.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
    assert rd.next()[0] == 200
    s.close()


@pytest.mark.parametrize("handler", ["write_header", "error_401"])
def test_a_large_unread_body_gets_an_immediate_answer_and_a_close(serve, handler):
    # TestServerUnreadRequestBodyLarge, TestServerGracefulClose,
    # TestHandlerFinishSkipBigContentLengthRead: the client sends only the
    # head and waits; the answer must come at once, say Connection: close,
    # and the server must not wait for the body.
    def h(w, r):
        if handler == "error_401":
            http.error(w, "bye", 401)
        else:
            w.write_header(200)
            w.flush()

    ts = serve(h)
    s = connect(ts.port)
    t0 = time.monotonic()
    s.sendall(b"POST / HTTP/1.1\r\nHost: foo.com\r\nContent-Length: 1000000\r\n\r\n")
    rd = Responses(s)
    status, headers, body = rd.next()
    assert time.monotonic() - t0 < 2.0
    assert headers["connection"] == "close"
    if handler == "error_401":
        assert status == 401 and body == b"bye\n"
    assert _at_eof(s, rd.buf)
    s.close()


@pytest.mark.parametrize("consume", ["nothing", "close", "discard"])
def test_a_body_read_error_closes_the_connection(serve, consume):
    # TestRequestBodyReadErrorClosesConnection, TestInvalidTrailerClosesConnection
    seen = []

    def h(w, r):
        seen.append(r.url.path)
        try:
            if consume == "close":
                r.body.close()
            elif consume == "discard":
                r.body.read()
        except http.RequestBodyError:
            pass

    ts = serve(h)
    for body in (b"hax\r\n", b"3\r\nhax\r\n0\r\nI'm not a valid trailer\r\n"):
        raw_response(ts.port, b"POST /public HTTP/1.1\r\nHost: test\r\nTrailer: hack\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n" + body
                     + b"GET /secret HTTP/1.1\r\nHost: test\r\n\r\n")
    assert seen == ["/public", "/public"]


def test_a_body_read_timeout_closes_the_connection(serve):
    # TestRequestBodyTimeoutClosesConnection
    seen = []

    def h(w, r):
        seen.append(r.url.path)
        try:
            r.body.read()
        except OSError:
            pass

    ts = serve(h, read_timeout=0.4)
    s = connect(ts.port)
    s.sendall(b"POST /public HTTP/1.1\r\nHost: test\r\nContent-Length: 10000\r\n\r\nfoo bar baz")
    s.settimeout(5.0)
    out = b""
    while True:  # the server answers (or not) and closes at the read deadline
        try:
            d = s.recv(65536)
        except ConnectionResetError:
            break
        if not d:
            break
        out += d
    try:
        s.sendall(b"GET /secret HTTP/1.1\r\nHost: test\r\n\r\n")
    except OSError:
        pass
    s.close()
    assert seen == ["/public"]


def test_a_malformed_chunked_body_is_the_clients_error(serve, caplog):
    # The issue: a framing error reached the handler as an exception and came
    # back as a 500 with a traceback. It is the client's: 400, quietly.
    ts = serve(lambda w, r: w.write(r.body.read()))
    with caplog.at_level(logging.DEBUG, logger="gonet"):
        out = raw_response(ts.port, b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
                           b"\r\nzz\r\nabc\r\n0\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 400 ") and b"Connection: close" in out
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]


def test_max_bytes_reader_reads_exactly_the_limit_then_fails(serve):
    # TestRequestBodyLimit: the handler gets exactly `limit` bytes, then
    # MaxBytesError with the limit; the connection closes.
    limit = 1 << 16
    box = {}

    def h(w, r):
        body = http.max_bytes_reader(w, r.body, limit)
        n = 0
        try:
            while True:
                d = body.read(4096)
                if not d:
                    break
                n += len(d)
        except http.MaxBytesError as e:
            box["err"] = e
        box["n"] = n

    ts = serve(h)
    s = connect(ts.port)
    s.sendall(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n" % (limit * 4))
    try:
        s.sendall(b"a" * (limit * 2))
    except OSError:
        pass
    status, headers, _ = Responses(s).next()
    s.close()
    assert box["n"] == limit and box["err"].limit == limit
    assert headers["connection"] == "close"


# -- the response head ------------------------------------------------------------------


def _h_write(w, r):
    w.write(b"hello world")


def _h_mutate_before_write(w, r):
    h = w.header()
    h.set("Content-Type", "some/type")
    w.write(b"hello world")
    h.set("Too-Late", "bogus")


def _h_mutate_after_write(w, r):
    w.write(b"hello world")
    w.header().set("Too-Late", "Write already wrote headers")


def _h_flush_then_write(w, r):
    w.flush()
    w.write(b"post-flush")
    w.header().set("Too-Late", "Write already wrote headers")


def _h_header_then_flush(w, r):
    w.header().set("Content-Type", "some/type")
    w.flush()
    w.write(b"post-flush")
    w.header().set("Too-Late", "Write already wrote headers")


def _h_sniff_then_type(w, r):
    w.write(b"<html><head></head><body>some html</body></html>")
    w.header().set("Content-Type", "x/wrong")


def _h_explicit_type(w, r):
    w.header().set("Content-Type", "some/type")
    w.write(b"<html><head></head><body>some html</body></html>")


def _h_only_header(w, r):
    w.header().set("Some-Header", "some-value")


def _h_write_header_then_header(w, r):
    w.write_header(404)
    w.header().set("Too-Late", "some-value")


@pytest.mark.parametrize("handler,has,lacks", [
    (_h_write, ["Content-Length:", "Content-Type: text/plain"], []),
    (_h_mutate_before_write, ["Content-Length:", "Content-Type: some/type"], ["Too-Late"]),
    (_h_mutate_after_write, [], ["Too-Late"]),
    (_h_flush_then_write, ["Transfer-Encoding: chunked"], ["Too-Late"]),
    (_h_header_then_flush, ["Transfer-Encoding: chunked", "Content-Type: some/type"], ["Too-Late"]),
    (_h_sniff_then_type, ["Content-Type: text/html"], ["x/wrong"]),
    (_h_explicit_type, ["Content-Type: some/type"], []),
    (lambda w, r: None, ["Content-Length: 0"], []),
    (_h_only_header, ["Some-Header"], []),
    (_h_write_header_then_header, ["404"], ["Too-Late"]),
])
def test_headers_freeze_at_write_header(serve, handler, has, lacks):
    # TestHeaderToWire
    ts = serve(handler)
    head = _head(raw_response(ts.port, b"GET / HTTP/1.1\r\nHost: golang.org\r\n\r\n"))
    for text in has:
        assert text in head, head
    for text in lacks:
        assert text not in head, head


def test_header_after_write_header_is_a_copy_with_the_same_values(serve):
    got = {}

    def h(w, r):
        w.header().set("X-A", "1")
        w.write_header(200)
        h2 = w.header()
        got["a"] = h2.get("X-A")
        h2.set("X-B", "late")

    ts = serve(h)
    head = _head(raw_response(ts.port, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"))
    assert got["a"] == "1" and "X-A: 1" in head and "X-B" not in head


@pytest.mark.parametrize("key", ["Date", "Content-Type"])
def test_a_header_key_with_no_value_suppresses_it(serve, key):
    # TestServerNoDate, TestServerContentType
    def h(w, r):
        w.header()[key] = []
        w.write(b"<html>foo</html>")

    ts = serve(h)
    head = _head(raw_response(ts.port, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"))
    assert f"\r\n{key}:" not in head


def test_a_content_length_key_with_no_value_turns_the_length_off(serve):
    # TestDisableContentLength
    def h(w, r):
        w.header()["Content-Length"] = []
        w.write(b"OK")

    ts = serve(h)
    head = _head(raw_response(ts.port, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"))
    assert "Content-Length" not in head and "Transfer-Encoding: chunked" in head
    assert "Content-Length: 2" in _head(raw_response(
        serve(lambda w, r: w.write(b"OK")).port, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"))


@pytest.mark.parametrize("te,length", [("", 3), ("identity", 3)])
def test_a_declared_length_wins_over_identity(serve, te, length):
    # TestIdentityResponse
    def h(w, r):
        w.header().set("Content-Length", "3")
        if te:
            w.header().set("Transfer-Encoding", te)
        w.write(b"foo")

    ts = serve(h)
    status, headers, body = Responses(_sent(ts, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")).next()
    assert headers["content-length"] == "3" and "transfer-encoding" not in headers and body == b"foo"


def test_writing_less_than_the_declared_length_closes(serve):
    # TestIdentityResponse (underwrite)
    def h(w, r):
        w.header().set("Content-Length", "500")
        w.write(b"too short")

    ts = serve(h)
    out = raw_response(ts.port, b"GET /?underwrite=1 HTTP/1.1\r\nHost: foo\r\n\r\n")
    assert out.endswith(b"\r\n\r\ntoo short")


def test_writing_more_than_the_declared_length_raises(serve):
    errs = []

    def h(w, r):
        w.header().set("Content-Length", "3")
        try:
            w.write(b"foo TOO LONG")
        except http.ErrContentLength as e:
            errs.append(e)

    ts = serve(h)
    out = raw_response(ts.port, b"GET /?overwrite=1 HTTP/1.1\r\nHost: foo\r\n\r\n")
    assert len(errs) == 1 and b"TOO LONG" not in out


def _sent(ts, data):
    s = connect(ts.port)
    s.sendall(data)
    return s


def test_handler_transfer_encoding_chunked_is_honoured_once(serve):
    # TestHandlerSetTransferEncodingChunked; the issue: a handler's own
    # chunked was dropped for a Content-Length.
    def h(w, r):
        w.header().set("Transfer-Encoding", "chunked")
        w.write(b"hello")

    ts = serve(h)
    out = raw_response(ts.port, b"GET / HTTP/1.1\r\nHost: foo\r\n\r\n")
    assert _head(out).count("Transfer-Encoding: chunked") == 1
    assert "Content-Length" not in _head(out)
    assert out.endswith(b"5\r\nhello\r\n0\r\n\r\n")


def test_handler_transfer_encoding_gzip_is_sent_then_chunked(serve):
    # TestHandlerSetTransferEncodingGzip
    import gzip

    def h(w, r):
        w.header().set("Transfer-Encoding", "gzip")
        w.write(gzip.compress(b"hello"))

    ts = serve(h)
    head = _head(raw_response(ts.port, b"GET / HTTP/1.1\r\nHost: foo\r\n\r\n"))
    assert head.count("Transfer-Encoding: gzip") == 1
    assert head.count("Transfer-Encoding: chunked") == 1
    # TestNoContentLengthIfTransferEncoding: no length, no sniffed type
    assert "Content-Length" not in head and "Content-Type" not in head


@pytest.mark.parametrize("status", [304, 204])
@pytest.mark.parametrize("path", ["/", "/header", "/more"])
@pytest.mark.parametrize("version", ["HTTP/1.0", "HTTP/1.1"])
def test_codes_without_body_send_no_length_and_no_body(serve, status, path, version):
    # TestCodesPreventingContentTypeAndBody
    def h(w, r):
        if r.url.path == "/header":
            w.header().set("Content-Length", "123")
        w.write_header(status)
        if r.url.path == "/more":
            with pytest.raises(http.ErrBodyNotAllowed):
                w.write(b"stuff")

    ts = serve(h)
    out = raw_response(ts.port, f"GET {path} {version}\r\nHost: foo\r\n\r\n".encode())
    assert f" {status} ".encode() in out.split(b"\r\n", 1)[0]
    assert b"Content-Length" not in out and b"stuff" not in out


def test_content_type_is_kept_on_204_but_not_on_304(serve):
    # TestContentTypeOkayOn204, and the issue: a 304 describes no content.
    def h(w, r):
        w.header().set("Content-Length", "123")
        w.header().set("Content-Type", "foo/bar")
        w.write_header(int(r.url.path[1:]))

    ts = serve(h)
    h204 = _head(raw_response(ts.port, b"GET /204 HTTP/1.1\r\nHost: foo\r\n\r\n"))
    h304 = _head(raw_response(ts.port, b"GET /304 HTTP/1.1\r\nHost: foo\r\n\r\n"))
    assert "Content-Type: foo/bar" in h204 and "Content-Length" not in h204
    assert "Content-Type" not in h304 and "Content-Length" not in h304


def test_head_carries_the_headers_get_would(serve):
    # TestHeadResponses, and the issue: the sniffed type appeared on GET only.
    def h(w, r):
        w.write(b"<html>")
        w.write(b"789a")

    ts = serve(h)
    r = httpx.head(ts.url)
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    assert r.headers["content-length"] == "10" and "transfer-encoding" not in r.headers
    g = httpx.get(ts.url)
    assert g.headers["content-type"] == r.headers["content-type"]


def test_head_of_a_large_body_matches_get_and_get_gets_it_all(serve):
    # TestHeadReaderFrom: a body past the buffer goes out streamed for both.
    body = b"a" * 8192

    def h(w, r):
        w.header().set("Content-Type", "text/plain")
        w.write(body)

    ts = serve(h)
    head = _head(raw_response(ts.port, b"HEAD / HTTP/1.1\r\nHost: a\r\n\r\n"))
    assert "Content-Length" not in head
    assert httpx.get(ts.url).content == body


@pytest.mark.parametrize("encoding,body,want", [
    ("gzip", b"\x1f\x8b\x08\x00\x00\x00", ""),   # set: never sniffed
    ("foo/bar", b"doctype html><p>Hello</p>", ""),
    (None, b"\x1f\x8b\x08\x00\x00\x00", "application/x-gzip"),  # unset: sniffed
    ("", b"<html>x</html>", "text/html; charset=utf-8"),  # empty: as unset
])
def test_a_content_encoding_stops_sniffing(serve, encoding, body, want):
    # TestContentEncodingNoSniffing
    def h(w, r):
        if encoding is not None:
            w.header().set("Content-Encoding", encoding)
        w.write(body)

    ts = serve(h)
    r = httpx.get(ts.url, headers={"Accept-Encoding": "identity"})
    assert r.headers.get("content-type", "") == want


def test_error_drops_a_length_the_handler_set(serve):
    # TestErrorContentLength, TestError
    def h(w, r):
        w.header().set("Content-Length", "1000")
        w.header().set("X-Content-Type-Options", "scratch and sniff")
        http.error(w, "an error occurred", 400)

    ts = serve(h)
    r = httpx.get(ts.url)
    assert r.status_code == 400 and r.text == "an error occurred\n"
    assert r.headers["content-type"] == "text/plain; charset=utf-8"
    assert r.headers["x-content-type-options"] == "nosniff"


def test_informational_statuses_then_the_final_one(serve):
    # TestEarlyHints, TestProcessing
    def h(w, r):
        hd = w.header()
        hd.add("Link", "</style.css>; rel=preload; as=style")
        hd.add("Link", "</script.js>; rel=preload; as=script")
        w.write_header(103)
        hd.add("Link", "</foo.js>; rel=preload; as=script")
        w.write_header(103)
        w.write_header(102)
        w.write(b"stuff")

    ts = serve(h)
    out = raw_response(ts.port, b"GET / HTTP/1.1\r\nHost: golang.org\r\n\r\n").decode()
    first = ("HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload; as=style\r\n"
             "Link: </script.js>; rel=preload; as=script\r\n\r\n")
    second = first[:-2] + "Link: </foo.js>; rel=preload; as=script\r\n\r\n"
    assert out.startswith(first + second + "HTTP/1.1 102 Processing\r\n")
    final = out[out.index("HTTP/1.1 200 OK\r\n"):]
    assert final.count("Link: ") == 3 and final.endswith("\r\n\r\nstuff")


# -- wrong use of the writer -------------------------------------------------------------


def test_writing_a_str_is_a_type_error_inside_the_handler(serve, caplog):
    # The issue: w.write("a str") gave an empty reply and logged nothing.
    ts = serve(lambda w, r: w.write("a str"))
    with caplog.at_level(logging.ERROR, logger="gonet.http"):
        r = httpx.get(ts.url)
    assert r.status_code == 500
    errors = [rec for rec in caplog.records if rec.levelno >= logging.ERROR]
    assert errors and isinstance(errors[0].exc_info[1], TypeError)
    assert "encode" in str(errors[0].exc_info[1])


def test_a_handler_that_returns_a_value_gets_one_warning(serve, caplog, head_parser):
    def flask_habit(w, r):
        return "hello"

    flask_habit.__qualname__ += "_" + head_parser  # warned once per handler, per process

    ts = serve(flask_habit)
    with caplog.at_level(logging.WARNING, logger="gonet.http"):
        for _ in range(3):
            assert httpx.get(ts.url).status_code == 200
    warned = [rec for rec in caplog.records if "returned str" in rec.getMessage()]
    assert len(warned) == 1 and "flask_habit" in warned[0].getMessage()


def test_write_after_hijack_raises_even_for_nothing(serve):
    # TestServerWriteHijackZeroBytes, TestDoubleHijack
    box = {}

    def h(w, r):
        w.flush()
        c, _ = w.hijack()
        for data in (b"", b"x"):
            try:
                w.write(data)
            except http.ErrHijacked:
                box.setdefault("raised", 0)
                box["raised"] += 1
        try:
            w.hijack()
        except http.ErrHijacked:
            box["double"] = True
        c.close()

    ts = serve(h)
    raw_response(ts.port, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
    assert box == {"raised": 2, "double": True}


def test_flush_then_hijack_then_finish_the_chunks_by_hand(serve):
    # TestServerFlushAndHijack
    def h(w, r):
        w.write(b"Hello, ")
        w.flush()
        c, _ = w.hijack()
        c.write(b"6\r\nworld!\r\n0\r\n\r\n")
        c.close()

    ts = serve(h)
    assert httpx.get(ts.url).text == "Hello, world!"


def test_switching_protocols_then_hijack(serve):
    # TestWriteHeaderSwitchingProtocols, TestDisableKeepAliveUpgrade
    box = {}

    def h(w, r):
        w.header().set("Connection", "Upgrade")
        w.header().set("Upgrade", "someProto")
        w.write_header(101)
        w.flush()
        try:
            w.write(b"x")
        except http.ErrBodyNotAllowed:
            box["refused"] = True
        c, rest = w.hijack()
        c.write(b"want")
        c.close()

    ts = serve(h)
    out = raw_response(ts.port, b"GET / HTTP/1.1\r\nHost: foo\r\n\r\n")
    head, _, body = out.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101 ") and b"Upgrade: someProto" in head
    assert b"Connection: Upgrade" in head and body == b"want" and box["refused"]


def test_hijack_gets_the_bytes_sent_after_the_request(serve):
    # TestServerHijackGetsBackgroundByte / ...GetsFullBody
    needle = b"x" * (100 * 1024)
    box = {}

    def h(w, r):
        c, rest = w.hijack()
        got = rest
        c.set_read_deadline(time.monotonic() + 5)
        while len(got) < len(needle):
            d = c.read(65536)
            if not d:
                break
            got += d
        box["got"] = got
        c.close()

    ts = serve(h)
    raw_response(ts.port, b"GET / HTTP/1.1\r\nHost: e.com\r\n\r\n" + needle)
    assert box["got"] == needle


# -- request validation -----------------------------------------------------------------


@pytest.mark.parametrize("line,host,want", [
    ("GET / HTTP/0.9", "", 505),
    ("GET / HTTP/1.1", "", 400),
    ("GET / HTTP/1.1", "Host: \r\n", 200),
    ("GET / HTTP/1.1", "Host: 1.2.3.4\r\n", 200),
    ("GET / HTTP/1.1", "Host: foo.com\r\n", 200),
    ("GET / HTTP/1.1", "Host: foo-bar_baz.com\r\n", 200),
    ("GET / HTTP/1.1", "Host: foo.com:80\r\n", 200),
    ("GET / HTTP/1.1", "Host: ::1\r\n", 200),
    ("GET / HTTP/1.1", "Host: [::1]\r\n", 200),
    ("GET / HTTP/1.1", "Host: [::1]:80\r\n", 200),
    ("GET / HTTP/1.1", "Host: [::1%25en0]:80\r\n", 200),
    ("GET / HTTP/1.1", "Host: \x06\r\n", 400),
    ("GET / HTTP/1.1", "Host: \xff\r\n", 400),
    ("GET / HTTP/1.1", "Host: {\r\n", 400),
    ("GET / HTTP/1.1", "Host: }\r\n", 400),
    ("GET / HTTP/1.1", "Host: first\r\nHost: second\r\n", 400),
    ("GET / HTTP/1.0", "", 200),
    ("GET / HTTP/1.0", "Host: first\r\nHost: second\r\n", 400),
    ("GET / HTTP/1.0", "Host: \xff\r\n", 400),
    ("CONNECT golang.org:443 HTTP/1.1", "", 200),
    # Go passes "PRI * HTTP/2.0" to the handler for h2c upgrades; gonet has
    # no HTTP/2, so the preface is a version it does not support.
    ("PRI * HTTP/2.0", "", 505),
    ("PRI / HTTP/2.0", "", 505),
    ("GET / HTTP/2.0", "", 505),
    ("GET / HTTP/3.0", "", 505),
])
def test_server_validates_host(serve, line, host, want):
    # TestServerValidatesHostHeader
    ts = serve(lambda w, r: None)
    out = raw_response(ts.port, (line + "\r\n" + host + "\r\n").encode("latin-1"))
    assert out.split(b" ", 2)[1] == str(want).encode(), out[:200]


@pytest.mark.parametrize("field,want", [
    ("", 200),
    ("Foo: bar\r\n", 200),
    ("X-Foo: bar\r\n", 200),
    ("Foo: a space\r\n", 200),
    ("A space: foo\r\n", 400),
    ("foo\xffbar: foo\r\n", 400),
    ("foo\x00bar: foo\r\n", 400),
    ("Foo: " + "x" * (1 << 21) + "\r\n", 431),
    ("Foo : bar\r\n", 400),
    ("Foo\t: bar\r\n", 400),
    (": empty key\r\n", 400),
    ("Content-Length: notdigits\r\n", 400),
    ("Content-Length: notdigits\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
    ("foo: foo foo\r\n", 200),
    ("foo: foo\tfoo\r\n", 200),
    ("foo: foo\x00foo\r\n", 400),
    ("foo: foo\x7ffoo\r\n", 400),
    ("foo: foo\xfffoo\r\n", 200),
])
def test_server_validates_fields(serve, field, want):
    # TestServerValidatesHeaders
    ts = serve(lambda w, r: None)
    out = raw_response(ts.port, ("GET / HTTP/1.1\r\nHost: foo\r\n" + field + "\r\n")
                       .encode("latin-1"))
    assert out.split(b" ", 2)[1] == str(want).encode(), out[:200]


@pytest.mark.parametrize("method,want", [("GET", 200), ("GE(T", 400), ("get", 200)])
def test_server_validates_the_method(serve, method, want):
    # TestServerValidatesMethod, TestCaseSensitiveMethod
    seen = []
    ts = serve(lambda w, r: seen.append(r.method))
    out = raw_response(ts.port, f"{method} / HTTP/1.1\r\nHost: foo.example\r\n\r\n".encode())
    assert out.split(b" ", 2)[1] == str(want).encode()
    assert seen == ([method] if want == 200 else [])


@pytest.mark.parametrize("message,length,body_len,status,closes", [
    # TestServerRequestBodyLength (RFC 9112 6.3)
    (b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
     -1, 5, 200, True),
    (b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", -1, 5, 200, False),
    # Go answers 501 to every Transfer-Encoding it does not support; RFC
    # 9112 6.3 (4) says 400 when chunked is not the final coding, and 501 is
    # left for an unknown coding before a final chunked.
    (b"Transfer-Encoding: chunked, smooth\r\n\r\n5\r\nhello\r\n0\r\n\r\n", None, None, 400, True),
    (b"Transfer-Encoding: smooth, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", None, None, 501, True),
    (b"Content-Length: yes\r\n\r\n", None, None, 400, True),
    # Go refuses "5, 5" ("RFC 9112 says we should accept this, but currently
    # we do not"); RFC 9110 8.6 allows taking the one value, as h11 does.
    (b"Content-Length: 5, 5\r\n\r\nhello", 5, 5, 200, False),
    (b"Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello", 5, 5, 200, False),
    (b"Content-Length: 5\r\n\r\nhello", 5, 5, 200, False),
    (b"Transfer-Encoding: fugazi\r\n\r\n", None, None, 400, True),
    (b"Transfer-Encoding: chunked, chunked\r\n\r\n", None, None, 400, True),
    (b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", None, None, 400, True),
    (b"Transfer-Encoding: \r\n\r\n", None, None, 400, True),
    (b"Transfer-Encoding: chunked, identity\r\n\r\n", None, None, 400, True),
    (b"Transfer-Encoding: \x0bchunked\r\n\r\n", None, None, 400, True),
    (b"Content-Length: \r\n\r\n", None, None, 400, True),
    (b"Content-Length: 4\r\nContent-Length: 5\r\n\r\nhello", None, None, 400, True),
    (b"Content-Length: +3\r\n\r\n", None, None, 400, True),
    (b"Content-Length: -3\r\n\r\n", None, None, 400, True),
    (b"Content-Length: 9223372036854775808\r\n\r\n", None, None, 400, True),
])
def test_request_body_length(serve, message, length, body_len, status, closes):
    seen = []

    def h(w, r):
        seen.append((r.content_length, len(r.body.read())))

    ts = serve(h)
    s = connect(ts.port)
    s.sendall(b"POST / HTTP/1.1\r\nHost: example.tld\r\n" + message)
    rd = Responses(s)
    got, headers, _ = rd.next()
    assert got == status
    if length is not None:
        assert seen == [(length, body_len)]
    else:
        assert seen == []
    assert (headers.get("connection") == "close") is closes
    if closes:
        assert _at_eof(s, rd.buf)
    s.close()


def test_the_largest_content_length_is_accepted(serve):
    seen = []
    ts = serve(lambda w, r: seen.append((r.content_length, len(r.body.read(5)))))
    raw_response(ts.port, b"POST / HTTP/1.1\r\nHost: e\r\nContent-Length: 9223372036854775807\r\n"
                 b"\r\nhello")
    assert seen == [(9223372036854775807, 5)]


def test_options_asterisk_and_get_asterisk(serve):
    # TestOptions
    seen = []
    mux = http.ServeMux()
    mux.handle_func("/", lambda w, r: seen.append(r.request_uri))
    ts = serve(mux)
    s = connect(ts.port)
    rd = Responses(s)
    s.sendall(b"OPTIONS * HTTP/1.1\r\nHost: foo.com\r\n\r\n")
    assert rd.next()[0] == 200
    s.sendall(b"GET * HTTP/1.1\r\nHost: foo.com\r\n\r\n")
    assert rd.next()[0] == 400
    s.close()
    httpx.get(ts.url + "/second")
    assert seen == ["/second"]


def test_options_asterisk_can_go_to_the_handler(serve):
    # TestOptionsHandler
    seen = []
    ts = serve(lambda w, r: seen.append((r.method, r.request_uri)),
               disable_general_options_handler=True)
    raw_response(ts.port, b"OPTIONS * HTTP/1.1\r\nHost: foo.com\r\n\r\n")
    assert seen == [("OPTIONS", "*")]


# -- the request context and the scheme ----------------------------------------------------


def test_the_context_ends_before_the_response_is_finished(serve, monkeypatch):
    # TestServerRequestContextCancel_ServeHTTPDone, and the issue: Go cancels
    # when the handler returns, before the response is finished.
    from gonet.http import conn as conn_mod

    ctxs = {}
    seen = []
    real_finish = conn_mod.ResponseWriter.finish

    def spy_finish(self):
        ctx = ctxs.get(id(self))
        if ctx is not None:
            seen.append(ctx.err() is not None)
        real_finish(self)

    monkeypatch.setattr(conn_mod.ResponseWriter, "finish", spy_finish)

    def h(w, r):
        ctx = r.context
        assert ctx.err() is None  # not done while the handler runs
        ctxs[id(w)] = ctx
        w.write(b"ok")

    ts = serve(h)
    assert httpx.get(ts.url).text == "ok"
    assert seen == [True]


def test_the_context_is_not_ended_by_a_pipelined_request(serve):
    # TestCloseNotifierPipelined
    errs = []

    def h(w, r):
        ctx = r.context
        gonet.sleep(0.1)
        errs.append(ctx.err())

    ts = serve(h)
    req = b"GET / HTTP/1.1\r\nConnection: keep-alive\r\nHost: foo\r\n\r\n"
    s = connect(ts.port)
    s.sendall(req + req)
    rd = Responses(s)
    assert rd.next()[0] == 200 and rd.next()[0] == 200
    s.close()
    assert errs == [None, None]


def test_the_context_ends_when_the_client_goes_away(serve):
    # TestServerRequestContextCancel_ConnClose
    in_handler = threading.Event()
    done = threading.Event()

    def h(w, r):
        in_handler.set()
        r.context.done().recv_ok()
        done.set()

    ts = serve(h)
    s = connect(ts.port)
    s.sendall(b"GET / HTTP/1.1\r\nHost: foo\r\n\r\n")
    assert in_handler.wait(5)
    s.close()
    assert done.wait(5)


def test_local_addr_is_the_listener_address(serve):
    # TestServerContext_LocalAddrContextKey
    got = []
    ts = serve(lambda w, r: got.append(str(r.local_addr)))
    httpx.head(ts.url)
    assert got == [ts.addr]


def test_the_scheme_comes_from_the_connection_not_the_request_line(serve):
    # The issue: "GET https://bank.example/x" on plain TCP made the request
    # look secure. The URL keeps the target's host (RFC 9112 3.2.2); the
    # scheme is the connection's (RFC 9112 3.3).
    got = {}

    def h(w, r):
        got.update(scheme=r.url.scheme, host=r.host, tls=r.tls, url=str(r.url))

    ts = serve(h)
    raw_response(ts.port, b"GET https://bank.example/x?y=1 HTTP/1.1\r\nHost: other\r\n\r\n")
    assert got == {"scheme": "http", "host": "bank.example", "tls": None,
                   "url": "http://bank.example/x?y=1"}
    raw_response(ts.port, b"GET /p HTTP/1.1\r\nHost: h.example:8080\r\n\r\n")
    assert got["url"] == "http://h.example:8080/p" and got["scheme"] == "http"


def test_a_fragment_stays_out_of_the_path_and_query(serve):
    got = {}

    def h(w, r):
        u = r.url
        got.update(path=u.path, query=u.raw_query, fragment=u.fragment, b=r.form_value("b"))

    ts = serve(h)
    raw_response(ts.port, b"GET /a?b=c#frag HTTP/1.1\r\nHost: a\r\n\r\n")
    assert got == {"path": "/a", "query": "b=c", "fragment": "frag", "b": "c"}
    raw_response(ts.port, b"GET /a#x?y HTTP/1.1\r\nHost: a\r\n\r\n")
    assert got["path"] == "/a" and got["query"] == ""


@pytest.mark.parametrize("target", [b"foo", b"?x=1", b"a:443", b"%2e%2e/x", b"*", b"/%zz"])
def test_a_bad_target_is_400_before_the_handler_and_logs_nothing(serve, caplog, target):
    # The issue: these raised inside ServeMux, a 500 and a traceback each.
    mux = http.ServeMux()
    mux.handle_func("/", lambda w, r: w.write(b"x"))
    ts = serve(mux)
    with caplog.at_level(logging.INFO, logger="gonet"):
        out = raw_response(ts.port, b"GET " + target + b" HTTP/1.1\r\nHost: a\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 400 ")
    assert not [rec for rec in caplog.records if rec.levelno >= logging.INFO]
