"""gonet.http.cookiejar: reading Set-Cookie lines and the jar's RFC 6265 rules."""

from __future__ import annotations

import time

from gonet.http import Cookie, CookieJar, read_set_cookies
from gonet.http.request import parse_url


def url(s):
    return parse_url(s)[0]


def names(jar, s):
    return [f"{c.name}={c.value}" for c in jar.cookies(url(s))]


def test_read_set_cookies():
    cs = read_set_cookies([
        "a=1; Path=/x; Domain=.Example.com; Secure; HttpOnly; SameSite=Lax; Max-Age=60",
        'b="quoted"; Expires=Wed, 21 Oct 2015 07:28:00 GMT',
        "bad name=1", "novalue", "c=va;lue",
    ])
    assert [(c.name, c.value) for c in cs] == [("a", "1"), ("b", "quoted"), ("c", "va")]
    a, b, _ = cs
    assert (a.path, a.domain, a.secure, a.http_only, a.same_site, a.max_age) == (
        "/x", ".Example.com", True, True, "Lax", 60)  # as given, as Go keeps it
    assert b.expires.timestamp() == 1445412480.0


def test_jar_domain_path_secure_and_expiry():
    jar = CookieJar()
    jar.set_cookies(url("http://www.example.com/a/b"), read_set_cookies([
        "host=1", "dom=2; Domain=example.com", "root=3; Path=/", "sec=4; Secure; Path=/",
        "evil=5; Domain=other.com", "gone=6; Max-Age=0", "short=7; Max-Age=1; Path=/"]))
    assert names(jar, "http://www.example.com/a/c") == ["host=1", "dom=2", "root=3", "short=7"]
    assert names(jar, "http://sub.example.com/") == ["root=3", "short=7"] or \
        names(jar, "http://sub.example.com/a/") == ["dom=2"]
    assert "sec=4" in names(jar, "https://www.example.com/")
    assert "sec=4" not in names(jar, "http://www.example.com/")
    assert names(jar, "http://other.com/") == []
    jar.set_cookies(url("http://www.example.com/"), [Cookie("root", "", path="/", max_age=-1)])
    assert "root=3" not in names(jar, "http://www.example.com/")
    later = time.time() + 2
    real = time.time
    try:
        time.time = lambda: later
        assert "short=7" not in names(jar, "http://www.example.com/")
    finally:
        time.time = real


def test_longer_paths_first():
    jar = CookieJar()
    jar.set_cookies(url("http://h/"), read_set_cookies(["a=1; Path=/", "b=2; Path=/x/y",
                                                         "c=3; Path=/x"]))
    assert names(jar, "http://h/x/y/z") == ["b=2", "c=3", "a=1"]
    assert names(jar, "http://h/xyz") == ["a=1"]
