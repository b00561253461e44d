"""HTTP layer: the handler helpers (redirect, error, max_bytes_reader) against
the cases of Go's serve_test.go and request_test.go, in our own words."""

from __future__ import annotations

import io

import pytest

from gonet import http
from gonet.http import new_request
from gonet.http.response import ResponseWriter


class _Recorder:
    """A ResponseWriter with no connection: what a handler wrote (Go's ResponseRecorder)."""

    def __init__(self) -> None:
        self.h = http.Header()
        self.code = 0
        self.body = b""
        self.closed = False

    def header(self) -> http.Header:
        return self.h

    def write_header(self, code: int) -> None:
        if not self.code:
            self.code = code

    def write(self, data: bytes) -> int:
        if not self.code:
            self.code = 200
        if self.code in (204, 304):
            raise http.ErrBodyNotAllowed()
        self.body += data
        return len(data)

    def close_after(self) -> None:
        self.closed = True


@pytest.mark.parametrize("target,want", [
    ("http://foobar.com/baz", "http://foobar.com/baz"),
    ("https://foobar.com/baz", "https://foobar.com/baz"),
    ("test://foobar.com/baz", "test://foobar.com/baz"),
    ("//foobar.com/baz", "//foobar.com/baz"),
    ("/foobar.com/baz", "/foobar.com/baz"),
    ("foobar.com/baz", "/qux/foobar.com/baz"),
    ("../quux/foobar.com/baz", "/quux/foobar.com/baz"),
    ("///foobar.com/baz", "/foobar.com/baz"),  # the issue: no host for a browser to read
    ("/foo?next=http://bar.com/", "/foo?next=http://bar.com/"),
    ("http://localhost:8080/_ah/login?continue=http://localhost:8080/",
     "http://localhost:8080/_ah/login?continue=http://localhost:8080/"),
    ("/фубар", "/%d1%84%d1%83%d0%b1%d0%b0%d1%80"),
    ("http://foo.com/фубар", "http://foo.com/%d1%84%d1%83%d0%b1%d0%b0%d1%80"),
    ("a/./b/../c/", "/qux/a/c/"),
])
def test_redirect_locations(target, want):
    # TestRedirect
    rec = _Recorder()
    http.redirect(rec, new_request("GET", "http://example.com/qux/"), target, 302)
    assert rec.code == 302 and rec.h.get("Location") == want


def test_redirect_keeps_escapes_of_the_request_path():
    # TestRedirectEscapedPath
    rec = _Recorder()
    http.redirect(rec, new_request("GET", "http://example.com/foo%2Fbar/"), "qux%2Fbaz", 301)
    assert rec.h.get("Location") == "/foo%2Fbar/qux%2Fbaz"


def test_redirect_with_304_writes_no_body():
    # TestRedirectBadPath, and the issue: redirect(w, r, "", 304) gave a 500.
    rec = _Recorder()
    http.redirect(rec, new_request("GET", "/not-empty-but-no-leading-slash"), "", 304)
    assert rec.code == 304 and rec.body == b""


@pytest.mark.parametrize("method,ct,want_ct,want_body", [
    ("GET", None, "text/html; charset=utf-8", b'<a href="/foo">Found</a>.\n\n'),
    ("HEAD", None, "text/html; charset=utf-8", b""),
    ("POST", None, "", b""),
    ("DELETE", None, "", b""),
    ("foo", None, "", b""),
    ("GET", ["application/test"], "application/test", b""),
    ("GET", [], "", b""),
])
def test_redirect_content_type_and_body(method, ct, want_ct, want_body):
    # TestRedirectContentTypeAndBody
    rec = _Recorder()
    if ct is not None:
        rec.h["Content-Type"] = ct
    http.redirect(rec, new_request(method, "http://example.com/qux/"), "/foo", 302)
    assert rec.code == 302
    assert rec.h.get("Content-Type") == want_ct and rec.body == want_body


def test_redirect_on_a_real_writer_with_304():
    w = ResponseWriter(None)
    http.redirect(w, new_request("GET", "/x"), "/y", 304)
    assert w.status == 304


def test_error_drops_the_length_and_sets_nosniff():
    # TestError
    rec = _Recorder()
    rec.h.set("Content-Length", "1")
    rec.h.set("X-Content-Type-Options", "scratch and sniff")
    rec.h.set("Other", "foo")
    http.error(rec, "oops", 432)
    assert "Content-Length" not in rec.h
    assert rec.h.get("Content-Type") == "text/plain; charset=utf-8"
    assert rec.h.get("X-Content-Type-Options") == "nosniff" and rec.h.get("Other") == "foo"
    assert rec.code == 432 and rec.body == b"oops\n"


def _body(data: bytes) -> io.BytesIO:
    return io.BytesIO(data)


@pytest.mark.parametrize("readable,limit", [(99, 100), (100, 100), (101, 100)])
def test_max_bytes_error_is_sticky(readable, limit):
    # TestMaxBytesReaderStickyError
    rd = http.max_bytes_reader(_Recorder(), _body(b"x" * readable), limit)
    got = 0
    errors = []
    for _ in range(5):
        try:
            d = rd.read(1000)
        except http.MaxBytesError as e:
            errors.append(e.limit)
            continue
        if not d:
            break
        got += len(d)
    if readable > limit:
        assert got == limit and errors == [limit] * (5 - 1)
    else:
        assert got == readable and errors == []


@pytest.mark.parametrize("limit,size,want_n,want_err", [
    (-123, 0, 0, False),
    (-100, 32 * 1024, 0, True),
    (-2, 1, 0, True),
    (-1, 2, 0, True),
    (0, 3, 0, True),
    (1, 4, 1, True),
    (2, 5, 2, True),
    (3, 2, 2, False),
    (4, 4, 4, False),
    (100, 6, 4, False),
])
def test_max_bytes_reader_limits(limit, size, want_n, want_err):
    # TestMaxBytesReaderDifferentLimits: in Python a read returns what fits
    # and the next read raises (one call cannot do both).
    rec = _Recorder()
    rd = http.max_bytes_reader(rec, _body(b"1234"), limit)
    got = b""
    err = None
    try:
        got = rd.read(size)
        if size and want_err:
            rd.read(size)
    except http.MaxBytesError as e:
        err = e
    assert len(got) == want_n and (err is not None) is want_err
    assert rec.closed is want_err  # the server is told to close after the response


def test_max_bytes_reader_read_all():
    assert http.max_bytes_reader(_Recorder(), _body(b"12345"), 5).read() == b"12345"
    with pytest.raises(http.MaxBytesError):
        http.max_bytes_reader(_Recorder(), _body(b"123456"), 5).read()
