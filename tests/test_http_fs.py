"""FileServer: types, directories, conditional GET, ranges, no escape from the root."""

import os
import time
from email.utils import formatdate

import httpx
import pytest
from rawhttp import raw_response

from gonet import http
from gonet.http.httptest import TestServer


@pytest.fixture
def site(tmp_path):
    root = tmp_path / "site"
    (root / "sub").mkdir(parents=True)
    (root / "hello.txt").write_bytes(b"0123456789")
    (root / "page.html").write_text("<p>page</p>")
    (root / "sub" / "index.html").write_text("<p>index</p>")
    (root / "sub" / "data.bin").write_bytes(bytes(range(256)) * 100)
    (tmp_path / "secret.txt").write_text("top secret")
    os.symlink(tmp_path / "secret.txt", root / "link.txt")
    mux = http.ServeMux()
    mux.handle("/static/", http.strip_prefix("/static", http.FileServer(str(root))))
    ts = TestServer(mux)
    with httpx.Client(base_url=ts.url + "/static") as c:
        yield c, root
    ts.close()


def test_files_with_content_type_and_length(site):
    c, root = site
    r = c.get("/hello.txt")
    assert r.status_code == 200 and r.content == b"0123456789"
    assert r.headers["content-type"] == "text/plain; charset=utf-8"
    assert r.headers["content-length"] == "10"
    assert r.headers["accept-ranges"] == "bytes"
    assert c.get("/page.html").headers["content-type"] == "text/html; charset=utf-8"
    big = c.get("/sub/data.bin")
    assert big.content == bytes(range(256)) * 100
    h = c.head("/hello.txt")
    assert h.status_code == 200 and h.content == b"" and h.headers["content-length"] == "10"


def test_directories(site):
    c, root = site
    r = c.get("/sub")
    assert r.status_code == 301 and r.headers["location"] == "sub/"
    assert c.get("/sub/").text == "<p>index</p>"
    r = c.get("/sub/index.html")
    assert r.status_code == 301 and r.headers["location"] == "./"
    listing = c.get("/")
    assert listing.status_code == 200 and 'href="hello.txt"' in listing.text and 'href="sub/"' in listing.text


def test_no_escape_from_the_root(site):
    c, root = site
    for path in ["/../secret.txt", "/%2e%2e/secret.txt", "/sub/../../secret.txt", "/link.txt"]:
        r = c.get(path)
        assert r.status_code in (301, 404), path
        assert b"top secret" not in r.content
        if r.status_code == 301:
            r2 = c.get(r.headers["location"]) if r.headers["location"].startswith("/static") else None
            assert r2 is None or b"top secret" not in r2.content
    assert c.get("/missing").status_code == 404


def test_if_modified_since(site):
    c, root = site
    r = c.get("/hello.txt")
    lm = r.headers["last-modified"]
    r = c.get("/hello.txt", headers={"If-Modified-Since": lm})
    assert r.status_code == 304 and r.content == b""
    older = formatdate(time.time() - 3600 * 24 * 365 * 10, usegmt=True)
    assert c.get("/hello.txt", headers={"If-Modified-Since": older}).status_code == 200


@pytest.mark.parametrize("rng,status,body,crange", [
    ("bytes=2-4", 206, b"234", "bytes 2-4/10"),
    ("bytes=7-", 206, b"789", "bytes 7-9/10"),
    ("bytes=-3", 206, b"789", "bytes 7-9/10"),
    ("bytes=5-100", 206, b"56789", "bytes 5-9/10"),
    ("bytes=20-30", 416, None, "bytes */10"),
    ("bytes=0-1,4-5", 200, b"0123456789", None),
])
def test_ranges(site, rng, status, body, crange):
    c, root = site
    r = c.get("/hello.txt", headers={"Range": rng})
    assert r.status_code == status
    if body is not None:
        assert r.content == body and r.headers["content-length"] == str(len(body))
    assert r.headers.get("content-range") == crange


def test_methods_other_than_get_and_head(site):
    c, root = site
    r = c.post("/hello.txt")
    assert r.status_code == 405 and r.headers["allow"] == "GET, HEAD"


# -- serve_file, as Go's ServeFile (fs_test.go) -------------------------------------------


@pytest.fixture
def one_file(tmp_path):
    p = tmp_path / "file.txt"
    p.write_bytes(b"0123456789")
    servers = []

    def start(handler):
        ts = TestServer(handler)
        servers.append(ts)
        return ts

    yield str(p), start
    for ts in servers:
        ts.close()


@pytest.mark.parametrize("path", ["/../x", "/a/../b", "/a/..", "/..\\x"])
def test_serve_file_refuses_dot_dot_in_the_url_path(one_file, path):
    # Go's ServeFile: too many callers build the file name from the URL path.
    name, start = one_file
    ts = start(lambda w, r: http.serve_file(w, r, name))
    out = raw_response(ts.port, f"GET {path} HTTP/1.1\r\nHost: a\r\n\r\n".encode())
    assert out.startswith(b"HTTP/1.1 400 ") and b"invalid URL path" in out
    assert httpx.get(ts.url + "/ok").content == b"0123456789"


def test_serve_file_sends_no_length_under_a_content_encoding(one_file):
    # TestServeFileWithContentEncoding
    name, start = one_file

    def h(w, r):
        w.header().set("Content-Encoding", "foo")
        http.serve_file(w, r, name)

    ts = start(h)
    r = httpx.get(ts.url, headers={"Accept-Encoding": "identity"})
    assert "content-length" not in r.headers and r.headers["content-encoding"] == "foo"
    assert r.headers["transfer-encoding"] == "chunked"


def test_serve_file_content_type_can_be_overridden(one_file):
    # TestServeFileContentType
    name, start = one_file

    def h(w, r):
        if r.url.path == "/1":
            w.header().set("Content-Type", "text/x-gonet")
        http.serve_file(w, r, name)

    ts = start(h)
    assert httpx.get(ts.url + "/0").headers["content-type"] == "text/plain; charset=utf-8"
    assert httpx.get(ts.url + "/1").headers["content-type"] == "text/x-gonet"


def test_not_modified_carries_no_content_headers(one_file):
    # The issue: a 304 must not carry Content-Type or other content headers.
    name, start = one_file

    def h(w, r):
        w.header().set("Content-Type", "text/x-set-by-handler")
        http.serve_file(w, r, name)

    ts = start(h)
    future = formatdate(time.time() + 3600, usegmt=True)
    r = httpx.get(ts.url, headers={"If-Modified-Since": future})
    assert r.status_code == 304
    assert "content-type" not in r.headers and "content-length" not in r.headers
    assert "last-modified" in r.headers
