"""Header, status texts, content sniffing, URL/Values parsing (pure, no sockets)."""

import pytest

from gonet.http import (
    URL,
    Header,
    Values,
    canonical_header_key,
    detect_content_type,
    status,
    status_text,
)


def test_canonical_keys():
    assert canonical_header_key("content-type") == "Content-Type"
    assert canonical_header_key("X-REQUEST-ID") == "X-Request-Id"
    assert canonical_header_key("www-authenticate") == "Www-Authenticate"  # Go's rule, no exceptions
    assert canonical_header_key("bad key") == "bad key"  # not a token: unchanged, as in Go


def test_case_insensitive_multi_valued():
    h = Header()
    h.add("x-tag", "a")
    h.add("X-TAG", "b")
    h.set("content-type", "text/plain")
    assert h.get("X-Tag") == "a"
    assert h.values("x-tag") == ["a", "b"]
    assert list(h) == ["X-Tag", "Content-Type"]
    assert "CONTENT-TYPE" in h and h["content-type"] == "text/plain"
    h.values("x-tag").append("not stored")  # a copy
    assert h.values("x-tag") == ["a", "b"]
    h.delete("x-TAG")
    assert h.get("x-tag") == "" and h.values("x-tag") == [] and "X-Tag" not in h
    h.delete("never-there")
    assert list(h.items()) == [("Content-Type", "text/plain")]


def test_header_injection_is_rejected():
    h = Header()
    for bad in ["a\r\nSet-Cookie: x=1", "a\nb", "a\rb", "a\0b"]:
        with pytest.raises(ValueError, match="CR, LF and NUL"):
            h.set("X-Evil", bad)
    with pytest.raises(ValueError, match="invalid header name"):
        h.set("X Evil", "v")
    with pytest.raises(ValueError, match="invalid header name"):
        h.add("X-Evil:", "v")
    with pytest.raises(TypeError):
        h.set("X-Obj", object())
    h.set("X-Num", 12)
    assert h.get("x-num") == "12"


def test_clone_and_equality():
    h = Header({"A": ["1", "2"], "b": "3"})
    c = h.clone()
    assert c == h
    c.add("a", "4")
    assert h.values("a") == ["1", "2"] and c != h


def test_status_texts_and_constants():
    assert status_text(404) == "Not Found"
    assert status_text(299) == ""
    assert status.STATUS_OK == 200
    assert status.STATUS_NOT_FOUND == 404
    assert status.STATUS_TEAPOT == 418
    assert status.STATUS_REQUEST_HEADER_FIELDS_TOO_LARGE == 431
    assert status.status_line(431) == b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
    with pytest.raises(ValueError):
        status.status_line(42)


@pytest.mark.parametrize("data,ctype", [
    (b"hello", "text/plain; charset=utf-8"),
    (b"  <!DOCTYPE HTML><html>", "text/html; charset=utf-8"),
    (b"<html>x", "text/html; charset=utf-8"),
    (b"\x89PNG\r\n\x1a\n....", "image/png"),
    (b"%PDF-1.4", "application/pdf"),
    (b"\x00\x01\x02binary", "application/octet-stream"),
    (b"", "text/plain; charset=utf-8"),
])
def test_detect_content_type(data, ctype):
    assert detect_content_type(data) == ctype


def test_url_forms():
    u = URL.parse_request_uri("/a%20b/c?x=1&y=%2F")
    assert (u.path, u.raw_path, u.raw_query) == ("/a b/c", "/a%20b/c", "x=1&y=%2F")
    assert u.escaped_path() == "/a%20b/c" and u.request_uri() == "/a%20b/c?x=1&y=%2F"
    u = URL.parse_request_uri("http://Example.com:8080/p?q")
    assert (u.scheme, u.host, u.path, u.raw_query) == ("http", "Example.com:8080", "/p", "q")
    u = URL.parse_request_uri("example.com:443", "CONNECT")
    assert (u.host, u.path) == ("example.com:443", "")
    assert URL.parse_request_uri("*", "OPTIONS").path == "*"
    with pytest.raises(ValueError):
        URL.parse_request_uri("nonsense")


def test_values():
    v = URL.parse_request_uri("/?a=1&b=&a=2&c=x+y%21").query()
    assert v.get("a") == "1" and v.values("a") == ["1", "2"]
    assert v.get("b") == "" and "b" in v and v.get("missing", "d") == "d"
    assert v.get("c") == "x y!"
    v.set("a", "9")
    v.add("z", "last")
    assert v.encode() == "a=9&b=&c=x+y%21&z=last"
    assert Values({"k": ["1", "2"]}).values("k") == ["1", "2"]
