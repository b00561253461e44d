"""WSGIHandler against PEP 3333 where a host must not improvise: the framing
the app sees comes from the server's decisions, the scheme from the
connection, and what goes out is the app's response, or a logged 500 when
the app broke a rule."""

from __future__ import annotations

import logging

import httpx
import pytest
from rawhttp import raw_response

from gonet import __version__
from gonet.http.httptest import TestServer
from gonet.http.proxy import ProxyHeaders
from gonet.http.wsgi import WSGIHandler

pytestmark = [pytest.mark.usefixtures("head_parser"), pytest.mark.timeout(30)]


@pytest.fixture(params=[0, 2], ids=["in-goroutine", "threads"])
def serve_app(request):
    servers = []

    def start(app, wrap=None):
        h = WSGIHandler(app, threads=request.param)
        ts = TestServer(wrap(h) if wrap else h)
        servers.append((ts, h))
        return ts

    yield start
    for ts, h in servers:
        ts.close(timeout=2.0)
        h.close()


def _environ_app(seen):
    def app(environ, start_response):
        seen.append({k: environ.get(k) for k in (
            "CONTENT_LENGTH", "SERVER_SOFTWARE", "SERVER_NAME", "SERVER_PORT",
            "wsgi.url_scheme", "QUERY_STRING", "PATH_INFO")})
        seen[-1]["body"] = environ["wsgi.input"].read()
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]
    return app


@pytest.mark.parametrize("status", ["204 No Content", "304 Not Modified"])
def test_a_body_with_204_or_304_is_dropped(serve_app, status, caplog):
    def app(environ, start_response):
        start_response(status, [("Content-Type", "text/plain")])
        return [b"must not be sent"]

    ts = serve_app(app)
    with caplog.at_level(logging.ERROR):
        out = raw_response(ts.port, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 " + status[:3].encode())
    assert b"must not be sent" not in out and b"Content-Length" not in out
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_a_body_longer_than_its_length_is_cut_and_the_iteration_stops(serve_app):
    yielded = []

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "5")])

        def blocks():
            for b in (b"hel", b"lo world", b"never"):
                yielded.append(b)
                yield b
        return blocks()

    ts = serve_app(app)
    r = httpx.get(ts.url)
    assert r.status_code == 200 and r.content == b"hello"
    assert yielded == [b"hel", b"lo world"]
    assert httpx.get(ts.url).content == b"hello"  # the connection stayed in step


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_no_content_type_is_invented(serve_app, method):
    def app(environ, start_response):
        start_response("200 OK", [])
        return [b"<html><script>x</script></html>"]

    ts = serve_app(app)
    r = httpx.request(method, ts.url)
    assert r.status_code == 200 and "content-type" not in r.headers


def test_server_software_is_set(serve_app):
    seen = []
    ts = serve_app(_environ_app(seen))
    httpx.get(ts.url)
    assert seen[0]["SERVER_SOFTWARE"] == f"gonet/{__version__}"


def test_an_absolute_form_target_cannot_claim_https(serve_app):
    # The issue: "GET https://bank.example/x" on plain TCP made Django's
    # request.is_secure() true.
    seen = []
    ts = serve_app(_environ_app(seen))
    raw_response(ts.port, b"GET https://bank.example/x HTTP/1.1\r\nHost: other\r\n\r\n")
    env = seen[0]
    assert env["wsgi.url_scheme"] == "http"
    assert env["SERVER_NAME"] == "bank.example" and env["SERVER_PORT"] == "80"
    assert env["PATH_INFO"] == "/x"


def test_a_trusted_proxy_sets_the_scheme(serve_app):
    seen = []
    ts = serve_app(_environ_app(seen), wrap=lambda h: ProxyHeaders(h, "127.0.0.1"))
    httpx.get(ts.url, headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "192.0.2.9"})
    assert seen[0]["wsgi.url_scheme"] == "https"


def test_content_length_follows_the_framing_not_the_raw_header(serve_app):
    seen = []
    ts = serve_app(_environ_app(seen))
    # CL + TE: framed by chunked (and closed); the stale length must not show.
    raw_response(ts.port, b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n"
                 b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
    # A list of one repeated length is that length.
    raw_response(ts.port, b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\nhello")
    assert (seen[0]["CONTENT_LENGTH"], seen[0]["body"]) == (None, b"hello")
    assert (seen[1]["CONTENT_LENGTH"], seen[1]["body"]) == ("5", b"hello")


def test_a_fragment_is_not_in_query_string(serve_app):
    seen = []
    ts = serve_app(_environ_app(seen))
    raw_response(ts.port, b"GET /a?b=c#frag HTTP/1.1\r\nHost: a\r\n\r\n")
    assert seen[0]["QUERY_STRING"] == "b=c" and seen[0]["PATH_INFO"] == "/a"


def test_an_informational_final_status_is_the_apps_error(serve_app, caplog):
    def app(environ, start_response):
        start_response("100 Continue", [])
        return []

    ts = serve_app(app)
    with caplog.at_level(logging.ERROR, logger="gonet.http"):
        out = raw_response(ts.port, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 500 ") and b"100 Continue" not in out
    assert [r for r in caplog.records if "informational" in str(r.exc_info and r.exc_info[1])]


def test_a_header_outside_latin1_is_a_500_naming_it(serve_app, caplog):
    def app(environ, start_response):
        start_response("200 OK", [("X-Greeting", "привет")])
        return [b"x"]

    ts = serve_app(app)
    with caplog.at_level(logging.ERROR, logger="gonet.http"):
        out = raw_response(ts.port, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 500 ")
    assert "привет".encode() not in out
    errs = [r for r in caplog.records if r.exc_info]
    assert errs and "X-Greeting" in str(errs[0].exc_info[1])
