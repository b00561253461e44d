"""FileServer: types, directories, conditional GET, ranges, no escape from the root."""

import os
import time
from email.utils import formatdate

import httpx
import pytest

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
