"""HTTP layer: ServeMux, Go 1.22's pattern router.

A pattern is ``[METHOD ][HOST]/[PATH]``:

- METHOD: any method token; "GET" also matches HEAD. No method: any method.
- HOST: a literal host ("example.com/"); the request's port is ignored.
- PATH: segments separated by "/". A segment is a literal (escapes such as
  "%61" are decoded), ``{name}`` (one non-empty segment), ``{name...}`` (the
  rest of the path; last segment only) or ``{$}`` (last segment only: the
  path ends exactly with a slash there). A pattern ending in "/" is a
  subtree: it matches every path under it.

Precedence: when two patterns match a request, the more specific one wins,
where P1 is more specific than P2 if P1 matches a strict subset of P2's
requests. Two patterns that can match the same request without one being
more specific *conflict*, and the second registration raises ValueError
naming both. The one exception (kept from Go for compatibility): a pattern
with a host beats one without, and they never conflict.

How matching works (the invariant that makes it fast): because no two
registered patterns conflict, the patterns matching a given request are
totally ordered by specificity, so a depth-first search that prefers
literal segments over ``{x}`` over ``{x...}`` at each position, and exact
method over GET-for-HEAD over no method, finds the most specific one first.
The tree is ``host -> method -> path segments``; a request costs one dict
lookup per path segment on the usual path, with backtracking only where a
literal branch dead-ends.

Segments of a request path: "/a/b" -> ["a", "b"]; a trailing slash is its
own segment "/" ("/a/" -> ["a", "/"], "/" -> ["/"]). ``{x}`` never matches
the trailing "/"; ``{$}`` is a literal "/" segment; ``{x...}`` matches one
or more remaining segments.

Requests whose path is not clean ("//", "/./", "/../") are redirected to the
clean path; a request for "/dir" where only the subtree "/dir/" matches is
redirected to "/dir/"; a path that matches only with another method gets 405
with an Allow header; anything else gets 404.
"""

from __future__ import annotations

import inspect
import os
import sys
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, unquote

__all__ = ["ServeMux", "clean_path"]

# Relations between the request sets of two patterns (P1 vs P2).
_EQUIV, _MORE_SPECIFIC, _MORE_GENERAL, _OVERLAP, _DISJOINT = range(5)

_LIT, _WILD, _MULTI = 0, 1, 2

_TOKEN_CHARS = frozenset("!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")


def _is_ident(name: str) -> bool:
    return name.isidentifier()


class _Pattern:
    """A parsed pattern. ``segs`` is a list of (kind, text) pairs."""

    __slots__ = ("text", "method", "host", "segs", "names", "loc", "subtree")

    def __init__(self, text: str, loc: str = "") -> None:
        self.text = text
        self.loc = loc
        if not isinstance(text, str) or not text:
            raise ValueError("http: empty pattern")
        method = ""
        rest = text
        i = -1
        for j, ch in enumerate(text):
            if ch in " \t":
                i = j
                break
        if i >= 0:
            method, rest = text[:i], text[i:].lstrip(" \t")
            if not method or not all(c in _TOKEN_CHARS for c in method):
                raise ValueError(f"http: pattern {text!r}: invalid method {method!r}")
        slash = rest.find("/")
        if slash < 0:
            raise ValueError(f"http: pattern {text!r}: host/path missing /")
        host, path = rest[:slash], rest[slash:]
        if "{" in host or " " in host or "\t" in host:
            raise ValueError(f"http: pattern {text!r}: invalid host {host!r}")
        if method and method != "CONNECT" and clean_path(path) != path:
            # Requests with unclean paths are redirected before matching, so
            # such a pattern could never match (Go refuses it too; without a
            # method it may still match a CONNECT, whose path is not cleaned).
            raise ValueError(f"http: pattern {text!r}: non-CONNECT pattern with unclean path "
                             f"can never match")
        self.method = method
        self.host = host.lower()
        segs: list[tuple[int, str]] = []
        names: list[str] = []
        pos = path
        while pos:
            pos = pos[1:]  # drop the slash
            if not pos:
                segs.append((_MULTI, ""))  # trailing slash: anonymous subtree
                break
            k = pos.find("/")
            if k < 0:
                k = len(pos)
            seg, pos = pos[:k], pos[k:]
            b = seg.find("{")
            if b < 0:
                if "}" in seg:
                    raise ValueError(f"http: pattern {text!r}: bad segment {seg!r} ('}}' without '{{')")
                segs.append((_LIT, unquote(seg) if "%" in seg else seg))
                continue
            if b != 0 or not seg.endswith("}"):
                raise ValueError(
                    f"http: pattern {text!r}: bad wildcard segment {seg!r} (a wildcard must be a whole segment)")
            name = seg[1:-1]
            if name == "$":
                if pos:
                    raise ValueError(f"http: pattern {text!r}: {{$}} not at end")
                segs.append((_LIT, "/"))
                break
            multi = name.endswith("...")
            if multi:
                name = name[:-3]
                if pos:
                    raise ValueError(f"http: pattern {text!r}: {{{name}...}} wildcard not at end")
            if not name:
                raise ValueError(f"http: pattern {text!r}: empty wildcard name")
            if not _is_ident(name):
                raise ValueError(f"http: pattern {text!r}: bad wildcard name {name!r}")
            if name in names:
                raise ValueError(f"http: pattern {text!r}: duplicate wildcard name {name!r}")
            names.append(name)
            segs.append((_MULTI if multi else _WILD, name))
        self.segs = segs
        self.names = names
        self.subtree = bool(segs) and segs[-1] == (_MULTI, "")

    def __repr__(self) -> str:
        return f"<pattern {self.text!r}>"

    # -- relations ----------------------------------------------------------

    def compare(self, other: _Pattern) -> int:
        """Relation of this pattern's method+path request set to ``other``'s."""
        m = _method_rel(self.method, other.method)
        if m == _DISJOINT:
            return _DISJOINT
        p = _path_rel(self.segs, other.segs)
        if p == _DISJOINT:
            return _DISJOINT
        if m == _EQUIV:
            return p
        if p == _EQUIV or p == m:
            return m
        return _OVERLAP

    def describe_conflict(self, other: _Pattern, rel: int) -> str:
        where = f" (registered at {other.loc})" if other.loc else ""
        head = f"http: pattern {self.text!r} conflicts with pattern {other.text!r}{where}: "
        if rel == _EQUIV:
            return head + f"{self.text!r} matches the same requests as {other.text!r}"
        method = self.method or other.method or "GET"
        if self.method and other.method:
            method = self.method if self.method == "HEAD" or other.method == "GET" else other.method
        example = _example_path(self.segs, other.segs)
        return head + (f"both match some requests, like {method} {example}, "
                       f"but neither is more specific than the other")


def _method_rel(m1: str, m2: str) -> int:
    if m1 == m2:
        return _EQUIV
    if m1 == "":
        return _MORE_GENERAL
    if m2 == "":
        return _MORE_SPECIFIC
    if m1 == "GET" and m2 == "HEAD":
        return _MORE_GENERAL
    if m1 == "HEAD" and m2 == "GET":
        return _MORE_SPECIFIC
    return _DISJOINT


def _path_rel(s1: list, s2: list) -> int:
    sub1 = sub2 = True  # "P1's paths are a subset of P2's" and the converse, so far
    n1, n2 = len(s1), len(s2)
    i = 0
    while True:
        if i == n1 or i == n2:
            if n1 != n2:
                return _DISJOINT  # one ends here, the other needs more segments
            break
        k1, t1 = s1[i]
        k2, t2 = s2[i]
        if k1 == _MULTI or k2 == _MULTI:
            if k1 != _MULTI:
                sub2 = False  # P2 takes any rest, P1 only some
            elif k2 != _MULTI:
                sub1 = False
            break
        if k1 == _LIT and k2 == _LIT:
            if t1 != t2:
                return _DISJOINT
        elif k1 == _LIT:  # against {x}
            if t1 == "/":
                return _DISJOINT
            sub2 = False
        elif k2 == _LIT:
            if t2 == "/":
                return _DISJOINT
            sub1 = False
        i += 1
    if sub1 and sub2:
        return _EQUIV
    if sub1:
        return _MORE_SPECIFIC
    if sub2:
        return _MORE_GENERAL
    return _OVERLAP


def _example_path(s1: list, s2: list) -> str:
    """A path both segment lists match (they are known to overlap)."""
    out: list[str] = []
    n = max(len(s1), len(s2))
    for i in range(n):
        a = s1[i] if i < len(s1) else None
        b = s2[i] if i < len(s2) else None
        if a is not None and a[0] == _MULTI:
            rest = s2[i:] if b is not None else []
            out.extend(t if k == _LIT else "x" for k, t in rest)
            break
        if b is not None and b[0] == _MULTI:
            rest = s1[i:] if a is not None else []
            out.extend(t if k == _LIT else "x" for k, t in rest)
            break
        if a is not None and a[0] == _LIT:
            out.append(a[1])
        elif b is not None and b[0] == _LIT:
            out.append(b[1])
        else:
            out.append("x")
    if not out:
        out = ["x"]
    if out[-1] == "/":
        return "/" + "/".join(quote(s, safe="") for s in out[:-1]) + ("/" if len(out) > 1 else "")
    return "/" + "/".join(quote(s, safe="") for s in out)


# -- the tree -----------------------------------------------------------------


class _Node:
    __slots__ = ("lits", "wild", "multi", "pattern", "handler")

    def __init__(self) -> None:
        self.lits: dict[str, _Node] | None = None
        self.wild: _Node | None = None
        self.multi: _Node | None = None
        self.pattern: _Pattern | None = None
        self.handler: Any = None


def _add(root: _Node, pat: _Pattern, handler: Any) -> None:
    n = root
    for kind, text in pat.segs:
        if kind == _LIT:
            if n.lits is None:
                n.lits = {}
            c = n.lits.get(text)
            if c is None:
                c = n.lits[text] = _Node()
        elif kind == _WILD:
            c = n.wild
            if c is None:
                c = n.wild = _Node()
        else:
            c = n.multi
            if c is None:
                c = n.multi = _Node()
        n = c
    n.pattern = pat
    n.handler = handler


def _match(n: _Node, segs: list[str], i: int, caps: list[str]) -> _Node | None:
    if i == len(segs):
        return n if n.pattern is not None else None
    seg = segs[i]
    lits = n.lits
    if lits is not None:
        c = lits.get(seg)
        if c is not None:
            r = _match(c, segs, i + 1, caps)
            if r is not None:
                return r
    c = n.wild
    if c is not None and seg != "/":
        caps.append(seg)
        r = _match(c, segs, i + 1, caps)
        if r is not None:
            return r
        caps.pop()
    c = n.multi
    if c is not None:
        if c.pattern.segs[-1][1]:  # named {x...}: record the rest of the path
            rest = segs[i:]
            if rest[-1] == "/":
                caps.append("/".join(rest[:-1]) + "/" if len(rest) > 1 else "")
            else:
                caps.append("/".join(rest))
        return c
    return None


def _split(path: str) -> list[str]:
    """Request path (escaped, clean, starting with "/") -> unescaped segments."""
    if path == "/":
        return ["/"]
    segs = path[1:].split("/")
    if segs[-1] == "":
        segs[-1] = "/"
    if "%" in path:
        return [s if s == "/" else unquote(s) for s in segs]
    return segs


def clean_path(p: str) -> str:
    """Go's cleanPath: the canonical path for ``p``, keeping a trailing slash."""
    if not p:
        return "/"
    if p[0] != "/":
        p = "/" + p
    out: list[str] = []
    for seg in p.split("/"):
        if seg == "" or seg == ".":
            continue
        if seg == "..":
            if out:
                out.pop()
            continue
        out.append(seg)
    np = "/" + "/".join(out)
    if p.endswith("/") and np != "/":
        np += "/"
    elif (p.endswith("/.") or p.endswith("/..")) and np != "/":
        np += "/"
    return np


def _is_clean(p: str) -> bool:
    return "//" not in p and "/." not in p


def _strip_port(host: str) -> str:
    if not host:
        return host
    if host[0] == "[":
        end = host.find("]")
        return host[1:end].lower() if end > 0 else host.lower()
    i = host.rfind(":")
    return (host[:i] if i >= 0 else host).lower()


_warned_returns: set = set()


def warn_returned(handler: Any, value: Any) -> None:
    """A handler returned ``value`` instead of writing it (a habit from
    frameworks where the return value is the response): log a warning, once
    per handler. The value is not sent."""
    key = getattr(handler, "__qualname__", None) or type(handler).__qualname__
    if key in _warned_returns or len(_warned_returns) > 1000:
        return
    _warned_returns.add(key)
    import logging

    logging.getLogger("gonet.http").warning(
        "http: handler %s returned %s; the return value is ignored: write the body with "
        "w.write(...)", key, type(value).__name__)


def handler_fn(handler: Any, where: str = "") -> Callable:
    """The ``(w, r)`` callable of a handler: its ``serve_http``, or itself.

    Raises TypeError, naming ``where`` (a pattern and the line that
    registered it), when it is neither callable nor has ``serve_http``, or
    when its signature cannot take two positional arguments: at
    registration, rather than as a 500 on every request."""
    fn = getattr(handler, "serve_http", None)
    if fn is None:
        if not callable(handler):
            raise TypeError(f"http: handler{where} must be callable (w, r) or have "
                            f"serve_http, not {type(handler).__name__}")
        fn = handler
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):  # a builtin or C callable: nothing to check
        return fn
    try:
        sig.bind(None, None)
    except TypeError as e:
        name = getattr(fn, "__qualname__", None) or type(fn).__name__
        raise TypeError(f"http: handler{where} must take (w, r), but {name}{sig} "
                        f"cannot: {e}") from None
    return fn


_HTTP_DIR = os.path.dirname(os.path.abspath(__file__))


def _caller_loc(depth: int) -> str:
    """Where the user registered a pattern: the first frame from ``depth`` up
    that is not inside gonet.http (``http.handle_func`` wraps the mux's)."""
    try:
        f = sys._getframe(depth)
    except ValueError:
        return ""
    while f is not None and os.path.dirname(os.path.abspath(f.f_code.co_filename)) == _HTTP_DIR:
        f = f.f_back
    return f"{f.f_code.co_filename}:{f.f_lineno}" if f is not None else ""


def _where(pattern: str, loc: str) -> str:
    return f" for {pattern!r}" + (f" (registered at {loc})" if loc else "")


class ServeMux:
    """Go 1.22's ServeMux: routes a request to the most specific matching pattern.

    >>> mux = ServeMux()
    >>> mux.handle_func("GET /hello/{name}", lambda w, r: w.write(r.path_value("name").encode()))
    """

    def __init__(self) -> None:
        # host ("" = any) -> method ("" = any) -> path tree
        self._trees: dict[str, dict[str, _Node]] = {}
        self._patterns: list[_Pattern] = []
        self._has_hosts = False

    def __repr__(self) -> str:
        return f"<ServeMux {len(self._patterns)} patterns>"

    # -- registration --------------------------------------------------------

    def handle(self, pattern: str, handler: Any) -> None:
        """Register ``handler`` (a callable ``(w, r)`` or an object with
        ``serve_http``) for ``pattern``. Raises ValueError for a malformed
        pattern or one that conflicts with a registered pattern."""
        loc = _caller_loc(2)
        self._register(pattern, handler_fn(handler, _where(pattern, loc)), loc)

    def handle_func(self, pattern: str, fn: Callable | None = None) -> Any:
        """Register ``fn(w, r)`` for ``pattern``; without ``fn``, a decorator."""
        if fn is None:
            loc = _caller_loc(2)

            def deco(f: Callable) -> Callable:
                self._register(pattern, handler_fn(f, _where(pattern, loc)), loc)
                return f

            return deco
        loc = _caller_loc(2)
        self._register(pattern, handler_fn(fn, _where(pattern, loc)), loc)
        return fn

    def _register(self, text: str, fn: Callable, loc: str) -> None:
        pat = _Pattern(text, loc)
        for other in self._patterns:
            if other.host != pat.host:
                continue
            rel = pat.compare(other)
            if rel == _EQUIV or rel == _OVERLAP:
                raise ValueError(pat.describe_conflict(other, rel))
        self._patterns.append(pat)
        if pat.host:
            self._has_hosts = True
        methods = self._trees.setdefault(pat.host, {})
        root = methods.get(pat.method)
        if root is None:
            root = methods[pat.method] = _Node()
        _add(root, pat, fn)

    # -- matching ------------------------------------------------------------

    def _lookup(self, host: str, method: str, segs: list[str]) -> tuple[_Node | None, list[str]]:
        caps: list[str] = []
        trees = self._trees
        if self._has_hosts and host:
            methods = trees.get(host)
            if methods is not None:
                n = self._lookup_methods(methods, method, segs, caps)
                if n is not None:
                    return n, caps
        methods = trees.get("")
        if methods is not None:
            n = self._lookup_methods(methods, method, segs, caps)
            if n is not None:
                return n, caps
        return None, caps

    @staticmethod
    def _lookup_methods(methods: dict[str, _Node], method: str, segs: list[str],
                        caps: list[str]) -> _Node | None:
        root = methods.get(method)
        if root is not None:
            n = _match(root, segs, 0, caps)
            if n is not None:
                return n
            caps.clear()
        if method == "HEAD":
            root = methods.get("GET")
            if root is not None:
                n = _match(root, segs, 0, caps)
                if n is not None:
                    return n
                caps.clear()
        root = methods.get("")
        if root is not None:
            n = _match(root, segs, 0, caps)
            if n is not None:
                return n
            caps.clear()
        return None

    def _allowed_methods(self, host: str, segs: list[str]) -> list[str]:
        found: set[str] = set()
        hosts = [host, ""] if self._has_hosts and host else [""]
        for h in hosts:
            for m, root in self._trees.get(h, {}).items():
                if m and m not in found and _match(root, segs, 0, []) is not None:
                    found.add(m)
        if "GET" in found:
            found.add("HEAD")
        return sorted(found)

    @staticmethod
    def _exact(n: _Node | None, segs: list[str]) -> bool:
        """True if ``n`` matched ``segs`` without a subtree swallowing a non-empty rest."""
        if n is None:
            return False
        psegs = n.pattern.segs
        if not psegs or psegs[-1][0] != _MULTI:
            return True
        return segs[-1] == "/" and len(psegs) == len(segs)

    def handler(self, r: Any) -> tuple[Callable, str]:
        """The handler for ``r`` and its pattern ("" for the built-in 404/405/redirects).

        Also records the match on ``r`` (``r.pattern`` and its path values).
        """
        method = r.method
        url = r.url
        path = url.raw_path or url.path
        if method == "CONNECT":
            # As Go: a CONNECT's host is matched with its port, and its path
            # is not cleaned; the /tree -> /tree/ redirect still applies.
            host = r.host.lower() if self._has_hosts else ""
            segs = _split(path) if path.startswith("/") else ["/"]
            n, caps = self._lookup(host, method, segs)
            if not self._exact(n, segs) and segs[-1] != "/":
                segs2 = segs + ["/"]
                n2, _ = self._lookup(host, method, segs2)
                if n2 is not None and self._exact(n2, segs2):
                    return _redirect_to(path + "/", url.raw_query, 301), n2.pattern.text
        else:
            host = _strip_port(r.host) if self._has_hosts else ""
            if not path.startswith("/"):
                path = "/" + path
            clean = path if _is_clean(path) else clean_path(path)
            segs = _split(clean)
            n, caps = self._lookup(host, method, segs)
            if not self._exact(n, segs) and segs[-1] != "/":
                segs2 = segs + ["/"] if segs != ["/"] else segs
                n2, _ = self._lookup(host, method, segs2)
                if n2 is not None and self._exact(n2, segs2):
                    return _redirect_to(clean + "/", url.raw_query, 301), n2.pattern.text
            if clean != path:
                return _redirect_to(clean, url.raw_query, 301), (n.pattern.text if n else "")
        if n is None:
            allowed = self._allowed_methods(host, segs)
            if allowed:
                return _method_not_allowed(", ".join(allowed)), ""
            return _not_found, ""
        r._set_match(n.pattern.text, n.pattern.names, caps)
        return n.handler, n.pattern.text

    def serve_http(self, w: Any, r: Any) -> None:
        """Dispatch ``r`` to the handler of the most specific matching pattern."""
        if r.request_uri == "*":
            w.header().set("Connection", "close")
            w.write_header(400)
            return
        h, _ = self.handler(r)
        ret = h(w, r)
        if ret is not None:
            warn_returned(h, ret)

    __call__ = serve_http


def _not_found(w: Any, r: Any) -> None:
    from gonet.http.util import not_found

    not_found(w, r)


class _method_not_allowed:
    __slots__ = ("allow",)

    def __init__(self, allow: str) -> None:
        self.allow = allow

    def __call__(self, w: Any, r: Any) -> None:
        from gonet.http.util import error

        w.header().set("Allow", self.allow)
        error(w, "Method Not Allowed", 405)


class _redirect_to:
    __slots__ = ("path", "query", "code")

    def __init__(self, path: str, query: str, code: int) -> None:
        self.path, self.query, self.code = path, query, code

    def __call__(self, w: Any, r: Any) -> None:
        from gonet.http.util import redirect

        url = self.path + ("?" + self.query if self.query else "")
        redirect(w, r, url, self.code)
