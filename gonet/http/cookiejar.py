"""HTTP layer: cookies for the client: Cookie, reading Set-Cookie, and a jar.

Go's ``http.Cookie``, ``readSetCookies`` and ``net/http/cookiejar``. A
``Client`` with a ``jar`` asks it for the cookies of every request it sends
(``cookies(url)``) and hands it the ``Set-Cookie`` lines of every response
it gets (``set_cookies(url, cookies)``), redirects included. Any object with
those two methods will do; :class:`CookieJar` is an in-memory one with
RFC 6265's domain, path, expiry and Secure rules.

Not here (as in Go's jar created without a public suffix list): the public
suffix list, so a cookie for ``Domain=co.uk`` set by ``a.co.uk`` is kept
for every ``*.co.uk`` host. Give a jar that knows the list if that matters.

State of a :class:`CookieJar`: ``_entries`` maps a cookie's key (domain,
path, name) to the entry; an entry expires at ``expires`` (monotonic
seconds, None for a session cookie) and is dropped when found expired.
"""

from __future__ import annotations

import time
from email.utils import parsedate_to_datetime
from typing import Any

__all__ = ["Cookie", "CookieJar", "read_set_cookies"]


class Cookie:
    """One cookie, as a Set-Cookie line gives it or as a client sends it."""

    __slots__ = ("name", "value", "path", "domain", "expires", "max_age", "secure",
                 "http_only", "same_site", "raw")

    def __init__(self, name: str, value: str, path: str = "", domain: str = "",
                 expires: float | None = None, max_age: int = 0, secure: bool = False,
                 http_only: bool = False, same_site: str = "", raw: str = "") -> None:
        self.name = name
        self.value = value
        self.path = path
        self.domain = domain
        #: Expires as a Unix time (seconds), None when absent.
        self.expires = expires
        #: Go's MaxAge: 0 absent, < 0 delete now, > 0 seconds to live.
        self.max_age = max_age
        self.secure = secure
        self.http_only = http_only
        self.same_site = same_site
        self.raw = raw

    def __repr__(self) -> str:
        return f"Cookie({self.name!r}, {self.value!r})"

    def __str__(self) -> str:
        """The cookie as a Cookie header pair: "name=value"."""
        return f"{self.name}={self.value}"


_TOKEN_CHARS = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyz"
                         "ABCDEFGHIJKLMNOPQRSTUVWXYZ")


def _valid_name(name: str) -> bool:
    return bool(name) and all(c in _TOKEN_CHARS for c in name)


def _value(v: str) -> str | None:
    # RFC 6265 cookie-value: optionally in double quotes, no CTLs, space, ",;\
    if len(v) > 1 and v[0] == '"' and v[-1] == '"':
        v = v[1:-1]
    for c in v:
        if c < "!" or c in '",;\\' or c == "\x7f":
            return None
    return v


def read_set_cookies(lines: Any) -> list[Cookie]:
    """The valid cookies of ``Set-Cookie`` lines (a Header, or a list of
    strings); malformed lines are skipped, as browsers and Go do."""
    if hasattr(lines, "values"):
        lines = lines.values("Set-Cookie")
    out = []
    for line in lines:
        parts = [p.strip() for p in line.split(";")]
        name, eq, value = parts[0].partition("=")
        name = name.strip()
        if not eq or not _valid_name(name):
            continue
        val = _value(value.strip())
        if val is None:
            continue
        c = Cookie(name, val, raw=line)
        for attr in parts[1:]:
            if not attr:
                continue
            key, _, v = attr.partition("=")
            key = key.strip().lower()
            v = v.strip()
            if key == "secure":
                c.secure = True
            elif key == "httponly":
                c.http_only = True
            elif key == "domain":
                c.domain = v.lstrip(".").lower()
            elif key == "path":
                c.path = v
            elif key == "max-age":
                try:
                    n = int(v)
                except ValueError:
                    continue
                c.max_age = n if n > 0 else -1
            elif key == "expires":
                try:
                    c.expires = parsedate_to_datetime(v).timestamp()
                except (TypeError, ValueError, IndexError, OverflowError):
                    continue
            elif key == "samesite":
                c.same_site = v
        out.append(c)
    return out


def _host_of(u: Any) -> str:
    h = u.host
    if h[:1] == "[":
        return h[1:h.index("]")] if "]" in h else h
    return h.rpartition(":")[0] if ":" in h else h


def _domain_match(host: str, domain: str) -> bool:
    return host == domain or (host.endswith("." + domain) and not _is_ip(host))


def _is_ip(host: str) -> bool:
    return ":" in host or host.replace(".", "").isdigit()


def _default_path(path: str) -> str:
    # RFC 6265 5.1.4: the directory of the request path
    if not path or path[0] != "/":
        return "/"
    i = path.rfind("/")
    return "/" if i == 0 else path[:i]


def _path_match(req_path: str, cookie_path: str) -> bool:
    if req_path == cookie_path:
        return True
    if req_path.startswith(cookie_path):
        return cookie_path.endswith("/") or req_path[len(cookie_path)] == "/"
    return False


class _Entry:
    __slots__ = ("cookie", "host_only", "expires", "created")

    def __init__(self, cookie: Cookie, host_only: bool, expires: float | None,
                 created: int) -> None:
        self.cookie = cookie
        self.host_only = host_only
        self.expires = expires
        self.created = created


class CookieJar:
    """An in-memory cookie jar (Go's ``cookiejar.Jar`` without a public suffix list)."""

    def __init__(self) -> None:
        self._entries: dict[tuple[str, str, str], _Entry] = {}
        self._seq = 0

    def set_cookies(self, url: Any, cookies: list[Cookie]) -> None:
        """Store ``cookies`` received in a response from ``url`` (a URL)."""
        host = _host_of(url).lower()
        now = time.time()
        for c in cookies:
            domain = c.domain
            if domain:
                if not _domain_match(host, domain):
                    continue  # a cookie for someone else's domain
                host_only = False
            else:
                domain, host_only = host, True
            path = c.path if c.path[:1] == "/" else _default_path(url.path)
            key = (domain, path, c.name)
            if c.max_age < 0 or (c.max_age == 0 and c.expires is not None and c.expires <= now):
                self._entries.pop(key, None)
                continue
            expires = now + c.max_age if c.max_age > 0 else c.expires
            old = self._entries.get(key)
            self._seq += 1
            stored = Cookie(c.name, c.value, path, domain, c.expires, c.max_age, c.secure,
                            c.http_only, c.same_site)
            self._entries[key] = _Entry(stored, host_only, expires,
                                        old.created if old else self._seq)

    def cookies(self, url: Any) -> list[Cookie]:
        """The cookies to send with a request to ``url``, longest path first."""
        if not self._entries:
            return []
        host = _host_of(url).lower()
        path = url.path or "/"
        https = url.scheme == "https"
        now = time.time()
        hits = []
        for key, e in list(self._entries.items()):
            if e.expires is not None and e.expires <= now:
                del self._entries[key]
                continue
            c = e.cookie
            if e.host_only:
                if host != c.domain:
                    continue
            elif not _domain_match(host, c.domain):
                continue
            if c.secure and not https:
                continue
            if not _path_match(path, c.path):
                continue
            hits.append(e)
        hits.sort(key=lambda e: (-len(e.cookie.path), e.created))
        return [Cookie(e.cookie.name, e.cookie.value) for e in hits]
