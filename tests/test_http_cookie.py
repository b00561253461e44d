"""Cookies: Set-Cookie lines as Go's cookie_test.go writes them, lenient
reading of a request's Cookie headers (one bad pair is skipped, not the
header), and set_cookie / r.cookie through a real server."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest

from gonet import http
from gonet.http.httptest import TestServer

UTC = dt.timezone.utc


@pytest.mark.parametrize("cookie,line", [
    (http.Cookie("cookie-1", "v$1"), "cookie-1=v$1"),
    (http.Cookie("cookie-2", "two", max_age=3600), "cookie-2=two; Max-Age=3600"),
    (http.Cookie("cookie-3", "three", domain=".example.com"),
     "cookie-3=three; Domain=example.com"),
    (http.Cookie("cookie-4", "four", path="/restricted/"), "cookie-4=four; Path=/restricted/"),
    (http.Cookie("cookie-9", "expiring", expires=dt.datetime.fromtimestamp(1257894000, UTC)),
     "cookie-9=expiring; Expires=Tue, 10 Nov 2009 23:00:00 GMT"),
    (http.Cookie("cookie-10", "a", expires=dt.datetime(1600, 1, 1, tzinfo=UTC)), "cookie-10=a"),
    (http.Cookie("cookie-12", "samesite-lax", same_site="lax"),
     "cookie-12=samesite-lax; SameSite=Lax"),
    (http.Cookie("cookie-13", "s", same_site=http.SAME_SITE_STRICT), "cookie-13=s; SameSite=Strict"),
    (http.Cookie("cookie-14", "n", same_site="None"), "cookie-14=n; SameSite=None"),
    (http.Cookie("cookie-15", "p", secure=True, partitioned=True),
     "cookie-15=p; Secure; Partitioned"),
    (http.Cookie("cookie-16", "h", http_only=True, secure=True), "cookie-16=h; HttpOnly; Secure"),
    (http.Cookie("special-1", "a z"), 'special-1="a z"'),
    (http.Cookie("special-2", " z"), 'special-2=" z"'),
    (http.Cookie("special-3", "a,z"), 'special-3="a,z"'),
    (http.Cookie("quoted", "v", quoted=True), 'quoted="v"'),
    (http.Cookie("empty", ""), "empty="),
    (http.Cookie("del", "", max_age=-1), "del=; Max-Age=0"),
    (http.Cookie("bad name", "x"), ""),
])
def test_set_cookie_lines(cookie, line):
    assert str(cookie) == line


@pytest.mark.parametrize("cookie,what", [
    (http.Cookie("a b", "x"), "invalid cookie name"),
    (http.Cookie("", "x"), "invalid cookie name"),
    (http.Cookie("a", 'x"y'), "in its value"),
    (http.Cookie("a", "x;y"), "in its value"),
    (http.Cookie("a", "x\ny"), "in its value"),
    (http.Cookie("a", "x", path="/a;b"), "in its path"),
    (http.Cookie("a", "x", domain="bad domain"), "invalid domain"),
    (http.Cookie("a", "x", same_site="sometimes"), "same_site"),
    (http.Cookie("a", "x", partitioned=True), "must be secure"),
])
def test_invalid_cookies_are_refused_by_name(cookie, what):
    class W:
        h = http.Header()

        def header(self):
            return self.h

    with pytest.raises(ValueError, match=what):
        cookie.valid()
    with pytest.raises(ValueError, match=what):
        http.set_cookie(W(), cookie)
    assert W.h.values("Set-Cookie") == []


@pytest.mark.parametrize("header,want", [
    ("Cookie-1=v$1", [("Cookie-1", "v$1")]),
    ("NID=99=YsDT5i3E-CXax-; expires=Wed, 23-Nov-2011 01:05:03 GMT; path=/; domain=.google.ch",
     [("NID", "99=YsDT5i3E-CXax-"), ("expires", "Wed, 23-Nov-2011 01:05:03 GMT"),
      ("path", "/"), ("domain", ".google.ch")]),
    ('a="quoted"; b=plain', [("a", "quoted"), ("b", "plain")]),
    ("bad name=1; good=2", [("good", "2")]),
    ('bad="a"b"; ok=3; =novalue; x', [("ok", "3"), ("x", "")]),
    ("a=\x01; b=2", [("b", "2")]),
    (";;  ; c=3;", [("c", "3")]),
])
def test_reading_skips_only_the_malformed_pair(header, want):
    # As Go's readCookies: a pair without "=" is a name with an empty value.
    assert [(c.name, c.value) for c in http.parse_cookie(header)] == want


def test_parse_set_cookie():
    c = http.parse_set_cookie("id=a3fWa; Expires=Thu, 21 Oct 2021 07:28:00 GMT; Secure; "
                              "HttpOnly; SameSite=Strict; Path=/docs; Max-Age=60; Foo=bar")
    assert (c.name, c.value, c.secure, c.http_only, c.same_site, c.path, c.max_age) == \
        ("id", "a3fWa", True, True, "Strict", "/docs", 60)
    assert c.expires == dt.datetime(2021, 10, 21, 7, 28, tzinfo=UTC)
    assert c.unparsed == ["Foo=bar"]
    assert http.parse_set_cookie("x=1; Max-Age=0").max_age == -1
    with pytest.raises(ValueError, match="no valid name=value"):
        http.parse_set_cookie("novalue")


def test_cookies_through_a_server():
    seen = {}

    def h(w, r):
        seen["all"] = [(c.name, c.value) for c in r.cookies()]
        seen["s"] = r.cookie("s").value
        seen["named"] = [c.value for c in r.cookies_named("dup")]
        try:
            r.cookie("missing")
        except http.ErrNoCookie as e:
            seen["missing"] = str(e)
        http.set_cookie(w, http.Cookie("session", "abc", path="/", http_only=True,
                                       same_site="Lax", max_age=60))
        http.set_cookie(w, http.Cookie("theme", "dark"))
        w.write(b"ok")

    with TestServer(h) as ts:
        r = httpx.get(ts.url, headers={"Cookie": 's=1; bad name=2; dup=a; t="q"; dup=b'})
        assert r.headers.get_list("set-cookie") == [
            "session=abc; Path=/; Max-Age=60; HttpOnly; SameSite=Lax", "theme=dark"]
    assert seen["all"] == [("s", "1"), ("dup", "a"), ("t", "q"), ("dup", "b")]
    assert seen["s"] == "1" and seen["named"] == ["a", "b"]
    assert "missing" in seen["missing"]
