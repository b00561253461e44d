"""ServeMux: Go 1.22 patterns, precedence, conflicts, 404/405/redirects (no sockets needed)."""

import random

import httpx
import pytest

from gonet import http
from gonet.http import ServeMux, new_request
from gonet.http.mux import _DISJOINT, _EQUIV, _MORE_GENERAL, _MORE_SPECIFIC, _OVERLAP, _Pattern


class Recorder:
    """A minimal ResponseWriter stand-in that records what a handler did."""

    def __init__(self):
        from gonet.http import Header

        self.h = Header()
        self.status = None
        self.body = b""

    def header(self):
        return self.h

    def write_header(self, status):
        if self.status is None:
            self.status = status

    def write(self, data):
        if self.status is None:
            self.status = 200
        self.body += data
        return len(data)


def serve(mux, method, target, host="example.com"):
    r = new_request(method, target, headers={"Host": host})
    w = Recorder()
    mux.serve_http(w, r)
    return w, r


def tag(name):
    def h(w, r):
        w.write(name.encode())

    return h


def route(mux, method, path, host="example.com"):
    w, r = serve(mux, method, path, host)
    return w.body.decode() if w.status == 200 else w.status


# -- patterns ---------------------------------------------------------------------


@pytest.mark.parametrize("bad,why", [
    ("", "empty"),
    ("GET", "missing /"),
    ("/a/{x", "must be a whole segment"),
    ("/a/x{y}", "whole segment"),
    ("/a/{x}y", "whole segment"),
    ("/{$}/a", "not at end"),
    ("/{x...}/a", "not at end"),
    ("/{}", "empty wildcard"),
    ("/{1x}", "bad wildcard name"),
    ("/{x}/{x}", "duplicate wildcard name"),
    ("G@T /", "invalid method"),
])
def test_bad_patterns_are_rejected_with_a_reason(bad, why):
    with pytest.raises(ValueError, match=why):
        ServeMux().handle(bad, tag("x"))


def test_pattern_parts():
    p = _Pattern("GET example.com/b/{bucket}/o/{name...}")
    assert (p.method, p.host, p.names) == ("GET", "example.com", ["bucket", "name"])
    assert _Pattern("/a/%62").segs == [(0, "a"), (0, "b")]  # literals are unescaped
    assert _Pattern("/static/").subtree and not _Pattern("/static/{$}").subtree


@pytest.mark.parametrize("p1,p2,rel", [
    ("/a", "/a", _EQUIV),
    ("GET /a", "/a", _MORE_SPECIFIC),
    ("HEAD /a", "GET /a", _MORE_SPECIFIC),
    ("GET /a", "POST /a", _DISJOINT),
    ("/a/b", "/a/{x}", _MORE_SPECIFIC),
    ("/a/{x}", "/a/{y}", _EQUIV),
    ("/a/", "/a/{x}", _MORE_GENERAL),
    ("/a/{$}", "/a/{x}", _DISJOINT),
    ("/a/{$}", "/a/", _MORE_SPECIFIC),
    ("/{x}/b", "/a/{y}", _OVERLAP),
    ("/a", "/b", _DISJOINT),
    ("/", "/a/b/c", _MORE_GENERAL),
    ("/a/{rest...}", "/a/", _EQUIV),
    ("GET /", "/index.html", _OVERLAP),
    ("GET /index.html", "/", _MORE_SPECIFIC),
])
def test_relations(p1, p2, rel):
    assert _Pattern(p1).compare(_Pattern(p2)) == rel


# -- matching and precedence ------------------------------------------------------------


def test_literal_beats_wildcard_beats_subtree():
    mux = ServeMux()
    for p in ["/", "/posts/", "/posts/{id}", "/posts/latest", "/posts/{id}/comments"]:
        mux.handle(p, tag(p))
    assert route(mux, "GET", "/posts/latest") == "/posts/latest"
    assert route(mux, "GET", "/posts/42") == "/posts/{id}"
    assert route(mux, "GET", "/posts/42/comments") == "/posts/{id}/comments"
    assert route(mux, "GET", "/posts/42/other") == "/posts/"
    assert route(mux, "GET", "/posts/") == "/posts/"
    assert route(mux, "GET", "/elsewhere") == "/"


def test_path_values_and_rest():
    mux = ServeMux()
    seen = {}

    def h(w, r):
        seen.update(bucket=r.path_value("bucket"), name=r.path_value("name"), pattern=r.pattern,
                    missing=r.path_value("nope"))
        w.write(b"ok")

    mux.handle("/b/{bucket}/o/{name...}", h)
    serve(mux, "GET", "/b/photos/o/2024/cat%2Fdog.jpg")
    assert seen == {"bucket": "photos", "name": "2024/cat/dog.jpg",
                    "pattern": "/b/{bucket}/o/{name...}", "missing": ""}
    serve(mux, "GET", "/b/x/o/")
    assert seen["name"] == ""


def test_escaped_slash_stays_in_one_segment():
    mux = ServeMux()
    mux.handle("/files/{name}", tag("one"))
    w, r = serve(mux, "GET", "/files/a%2Fb")
    assert w.body == b"one" and r.path_value("name") == "a/b"


def test_dollar_matches_only_the_exact_slash():
    mux = ServeMux()
    mux.handle("/{$}", tag("root"))
    mux.handle("/posts/{$}", tag("list"))
    assert route(mux, "GET", "/") == "root"
    assert route(mux, "GET", "/posts/") == "list"
    assert route(mux, "GET", "/posts/1") == 404
    assert route(mux, "GET", "/other") == 404


def test_method_precedence_and_get_matches_head():
    mux = ServeMux()
    mux.handle("GET /r", tag("get"))
    mux.handle("/r", tag("any"))
    mux.handle("HEAD /h", tag("head"))
    mux.handle("GET /h", tag("get-h"))
    assert route(mux, "GET", "/r") == "get"
    assert route(mux, "HEAD", "/r") == "get"
    assert route(mux, "POST", "/r") == "any"
    assert route(mux, "HEAD", "/h") == "head"
    assert route(mux, "GET", "/h") == "get-h"


def test_backtracking_to_a_wildcard_when_the_literal_branch_dead_ends():
    mux = ServeMux()
    mux.handle("/a/b/z", tag("abz"))
    mux.handle("/a/{x}/c", tag("axc"))
    assert route(mux, "GET", "/a/b/c") == "axc"
    assert route(mux, "GET", "/a/b/z") == "abz"


def test_host_patterns_win_and_port_is_ignored():
    mux = ServeMux()
    mux.handle("/", tag("any"))
    mux.handle("example.com/", tag("host"))
    mux.handle("api.example.com/v1/{x}", tag("api"))
    assert route(mux, "GET", "/x", host="example.com:8080") == "host"
    assert route(mux, "GET", "/x", host="other.org") == "any"
    assert route(mux, "GET", "/v1/q", host="API.example.com") == "api"
    assert route(mux, "GET", "/v2/q", host="api.example.com") == "any"


def test_405_with_allow_header_and_404():
    mux = ServeMux()
    mux.handle("GET /items/{id}", tag("get"))
    mux.handle("DELETE /items/{id}", tag("del"))
    w, _ = serve(mux, "POST", "/items/3")
    assert w.status == 405
    assert w.h.get("Allow") == "DELETE, GET, HEAD"
    w, _ = serve(mux, "GET", "/nothing")
    assert w.status == 404 and w.body == b"404 page not found\n"


def test_subtree_root_without_slash_redirects():
    mux = ServeMux()
    mux.handle("/dir/", tag("dir"))
    w, _ = serve(mux, "GET", "/dir?q=1")
    assert w.status == 301 and w.h.get("Location") == "/dir/?q=1"
    # ... also when a catch-all matches, as in Go
    mux.handle("/", tag("root"))
    w, _ = serve(mux, "GET", "/dir")
    assert w.status == 301 and w.h.get("Location") == "/dir/"
    # but not when the path itself is registered
    mux.handle("/dir", tag("exact"))
    assert route(mux, "GET", "/dir") == "exact"


def test_unclean_paths_redirect_to_the_clean_path():
    mux = ServeMux()
    mux.handle("/a/b", tag("ab"))
    for target, loc in [("/a//b", "/a/b"), ("/a/./b", "/a/b"), ("/x/../a/b?z=1", "/a/b?z=1")]:
        w, _ = serve(mux, "GET", target)
        assert (w.status, w.h.get("Location")) == (301, loc), target


# -- conflicts ---------------------------------------------------------------------


@pytest.mark.parametrize("first,second,msg", [
    ("/a", "/a", "matches the same requests"),
    ("GET /a/{x}", "GET /a/{y}", "matches the same requests"),
    ("/posts/{id}", "/{resource}/latest", "both match some requests, like GET /posts/latest"),
    ("GET /", "/index.html", "neither is more specific"),
    ("/a/{rest...}", "/a/", "matches the same requests"),
])
def test_conflicting_registration_is_rejected_naming_both(first, second, msg):
    mux = ServeMux()
    mux.handle(first, tag("1"))
    with pytest.raises(ValueError) as ei:
        mux.handle(second, tag("2"))
    text = str(ei.value)
    assert repr(first) in text and repr(second) in text and msg in text
    assert "test_http_mux.py" in text  # where the first one was registered


def test_non_conflicting_neighbours_are_accepted():
    mux = ServeMux()
    for p in ["GET /a/{x}", "POST /a/b", "/a/b/", "example.com/a/b", "HEAD /a/{x}",
              "/c/{x}/{$}", "GET /index.html", "/"]:
        mux.handle(p, tag(p))


def test_handle_func_as_decorator_and_objects_with_serve_http():
    mux = ServeMux()

    @mux.handle_func("/f")
    def f(w, r):
        w.write(b"f")

    class H:
        def serve_http(self, w, r):
            w.write(b"obj")

    mux.handle("/o", H())
    assert route(mux, "GET", "/f") == "f"
    assert route(mux, "GET", "/o") == "obj"
    with pytest.raises(TypeError):
        mux.handle("/bad", 42)


# -- the tree agrees with the definition ---------------------------------------------------


def _brute_force(patterns, method, segs_path):
    """Most specific matching pattern by the definition (strict subset), or None."""
    from gonet.http.mux import _split

    segs = _split(segs_path)

    def matches(p):
        if p.method and not (p.method == method or (p.method == "GET" and method == "HEAD")):
            return False
        ps = p.segs
        for i, (k, t) in enumerate(ps):
            if k == 2:
                return i < len(segs)
            if i >= len(segs):
                return False
            if k == 0 and t != segs[i]:
                return False
            if k == 1 and segs[i] == "/":
                return False
        return len(ps) == len(segs)

    cands = [p for p in patterns if matches(p)]
    best = [p for p in cands if all(p is q or p.compare(q) == _MORE_SPECIFIC for q in cands)]
    assert len(best) <= 1
    return best[0].text if best else None


def test_random_pattern_sets_match_the_most_specific_by_definition():
    rng = random.Random(1234)
    lits = ["a", "b", "c"]
    for _ in range(150):
        mux = ServeMux()
        pats = []
        for _ in range(rng.randint(1, 10)):
            segs = []
            for i in range(rng.randint(0, 3)):
                segs.append(rng.choice(lits + [f"{{w{i}}}"]))
            tail = rng.choice(["", "/", "/{$}", "/{rest...}"])
            text = "/" + "/".join(segs) + (tail if segs else tail.lstrip("/") if tail != "/{$}" else "{$}")
            if text.endswith("//"):
                continue
            method = rng.choice(["", "", "GET ", "POST ", "HEAD "])
            try:
                mux.handle(method + text, tag(method + text))
                pats.append(_Pattern(method + text))
            except ValueError as e:
                assert "conflicts" in str(e) or "pattern" in str(e)
        for _ in range(30):
            path = "/" + "/".join(rng.choice(lits + ["z"]) for _ in range(rng.randint(0, 4)))
            if rng.random() < 0.3 and path != "/":
                path += "/"
            method = rng.choice(["GET", "HEAD", "POST"])
            want = _brute_force(pats, method, path)
            w, _ = serve(mux, method, path)
            if want is None:
                assert w.status in (301, 404, 405), (path, method, [p.text for p in pats])
            elif w.status == 200:
                assert w.body.decode() == want, (path, method, [p.text for p in pats])
            else:
                assert w.status == 301  # "/dir" -> "/dir/" redirects take priority in Go too


# -- Go's pattern_test.go and serve_test.go mux cases ------------------------------------


@pytest.mark.parametrize("text", [
    "/", "/a", "/a/", "/path/to/something", "/{w1}/lit/{w2}", "/{w1}/lit/{w2}/",
    "example.com/", "GET /", "POST example.com/foo/{w}", "/{$}",
    "DELETE example.com/a/{foo12}/{$}", "/foo/{$}", "/{a}/foo/{rest...}",
    # Without a method an unclean pattern may still match a CONNECT (whose
    # path is not cleaned), so Go accepts these.
    "//", "/foo///./../bar", "a.com/foo//",
])
def test_go_parses_these_patterns(text):
    # TestParsePattern
    ServeMux().handle(text, tag(text))


@pytest.mark.parametrize("text", [
    "", "A=B /", " ", "/{w}x", "/x{w}", "/{wx", "/{a$}", "/{}", "/{...}", "/{$...}",
    "/{$}/", "/{$}/x", "/{a...}/", "/{a...}/x", "{a}/b", "/a/{x}/b/{x...}",
    "GET //", "GET /a/../b", "POST /a/./b",
])
def test_go_refuses_these_patterns(text):
    # TestParsePatternError (with the issue's: an unclean pattern with a
    # method other than CONNECT can never match)
    with pytest.raises(ValueError):
        ServeMux().handle(text, tag("x"))


def test_connect_patterns_may_be_unclean():
    ServeMux().handle("CONNECT /a/../b", tag("x"))


def _go_mux():
    mux = ServeMux()
    mux.handle("/dir/", tag("200"))
    mux.handle("/search", tag("201"))
    mux.handle("codesearch.google.com/search", tag("202"))
    mux.handle("codesearch.google.com/", tag("203"))
    return mux


@pytest.mark.parametrize("method,host,path,code,pattern", [
    # serveMuxTests: the /foo -> /foo/ redirect applies to CONNECT, the path
    # canonicalization does not.
    ("CONNECT", "google.com", "/dir", 301, "/dir/"),
    ("CONNECT", "google.com", "/../search", 404, ""),
    ("CONNECT", "google.com", "/dir/..", 200, "/dir/"),
    ("CONNECT", "google.com", "/dir/./file", 200, "/dir/"),
    ("GET", "google.com", "/dir", 301, "/dir/"),
    ("GET", "google.com", "/../search", 301, "/search"),
    ("GET", "codesearch.google.com:443", "/", 200, "codesearch.google.com/"),
])
def test_connect_is_routed_without_cleaning(method, host, path, code, pattern):
    # TestServeMuxHandler (CONNECT rows)
    mux = _go_mux()
    r = new_request(method, path, headers={"Host": host})
    h, got_pattern = mux.handler(r)
    w = Recorder()
    h(w, r)
    assert (w.status or 200, got_pattern) == (code, pattern)


@pytest.mark.parametrize("method,host,path,code,loc,want", [
    # TestServeWithSlashRedirectForHostPatterns
    ("GET", "example.com", "/", 404, "", ""),
    ("GET", "example.com", "/pkg/foo", 301, "/pkg/foo/", ""),
    ("GET", "example.com", "/pkg/bar", 200, "", "example.com/pkg/bar"),
    ("GET", "example.com", "/pkg/bar/", 200, "", "example.com/pkg/bar/"),
    ("GET", "example.com", "/pkg/baz", 301, "/pkg/baz/", ""),
    ("GET", "example.com:3000", "/pkg/foo", 301, "/pkg/foo/", ""),
    ("CONNECT", "example.com", "/", 404, "", ""),
    ("CONNECT", "example.com:3000", "/", 404, "", ""),
    ("CONNECT", "example.com:9000", "/", 200, "", "example.com:9000/"),
    ("CONNECT", "example.com", "/pkg/foo", 301, "/pkg/foo/", ""),
    ("CONNECT", "example.com:3000", "/pkg/foo", 404, "", ""),
    ("CONNECT", "example.com:3000", "/pkg/baz", 301, "/pkg/baz/", ""),
    ("CONNECT", "example.com:3000", "/pkg/connect", 301, "/pkg/connect/", ""),
])
def test_slash_redirects_for_host_patterns(method, host, path, code, loc, want):
    mux = ServeMux()
    for p in ("example.com/pkg/foo/", "example.com/pkg/bar", "example.com/pkg/bar/",
              "example.com:3000/pkg/connect/", "example.com:9000/", "/pkg/baz/"):
        mux.handle(p, tag(p))
    w, _ = serve(mux, method, path, host=host)
    assert (w.status or 200) == code
    if code == 301:
        assert w.h.get("Location") == loc
    elif code == 200:
        assert w.body.decode() == want


@pytest.mark.parametrize("path", ["//foo.txt", "///foo.txt", "/../../foo.txt"])
def test_leading_slashes_redirect_to_the_clean_path(path):
    # TestMuxRedirectLeadingSlashes
    w, _ = serve(ServeMux(), "GET", path, host="test")
    assert w.status == 301 and w.h.get("Location") == "/foo.txt"


def test_a_pattern_with_a_port_never_matches_a_plain_request():
    # TestStripPortFromHost
    mux = ServeMux()
    mux.handle("example.com/", tag("OK"))
    mux.handle("example.com:9000/", tag("uh-oh!"))
    w, _ = serve(mux, "GET", "/", host="example.com:9000")
    assert w.body == b"OK"


# -- registration-time checks --------------------------------------------------------------


def test_handler_that_cannot_take_w_r_is_refused_at_registration():
    mux = http.ServeMux()

    def no_args():
        pass

    def one(w):
        pass

    def kw_only(*, w, r):
        pass

    for fn in (no_args, one, kw_only):
        with pytest.raises(TypeError, match=r"for 'GET /x' \(registered at .*test_http_mux.py:\d+\) "
                                            r"must take \(w, r\)"):
            mux.handle_func("GET /x", fn)
    with pytest.raises(TypeError, match="must take"):
        mux.handle_func("/deco")(one)
    with pytest.raises(TypeError, match="must be callable"):
        mux.handle("/obj", object())

    class Bad:
        def serve_http(self, w):
            pass

    with pytest.raises(TypeError, match="serve_http"):
        mux.handle("/bad", Bad())
    # Anything that can take two positional arguments is fine.
    mux.handle_func("/a", lambda w, r: None)
    mux.handle_func("/b", lambda *args: None)
    mux.handle_func("/c", lambda w, r, extra=1: None)
    mux.handle("/d", http.FileServer("."))
    mux.handle_func("/e", print)  # a builtin: nothing to check
    assert len(mux._patterns) == 5


def test_http_namespace_is_its_api():
    import gonet.http as h

    assert dir(h) == sorted(h.__all__)
    for name in h.__all__:
        assert getattr(h, name) is not None
    from pathlib import Path

    assert (Path(h.__file__).parent.parent / "py.typed").exists()


def test_strip_prefix_shares_the_live_request_context():
    # The stripped request is a copy; its context must be the original's,
    # live while the handler runs (a context built for the copy alone was
    # cancelled at once: the connection did not know the copy).
    from gonet.http.httptest import TestServer

    seen = []

    def inner(w, r):
        ctx = r.context
        seen.append((ctx.err(), r.url.path))
        w.write(b"ok")

    mux = http.ServeMux()
    mux.handle("/api/", http.strip_prefix("/api", inner))
    with TestServer(mux) as ts:
        assert httpx.get(ts.url + "/api/items").text == "ok"
    assert seen == [(None, "/items")]
