"""HTTP layer: the client's cookie jar (Go's ``net/http/cookiejar``).

Cookies are ``gonet.http.cookie.Cookie`` (Go's one ``http.Cookie`` type,
for servers and clients alike). A ``Client`` with a ``jar`` asks it for the cookies of every request it sends
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
from typing import Any

from gonet.http.cookie import Cookie, expires_timestamp, read_set_cookies

__all__ = ["CookieJar", "read_set_cookies"]


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
            domain = c.domain.lstrip(".").lower()  # as Set-Cookie gave it: ".Example.com"
            if domain:
                if not _domain_match(host, domain):
                    continue  # a cookie for someone else's domain
                host_only = False
            else:
                domain, host_only = host, True
            path = c.path if c.path[:1] == "/" else _default_path(url.path)
            key = (domain, path, c.name)
            at = expires_timestamp(c)
            if c.max_age < 0 or (c.max_age == 0 and at is not None and at <= now):
                self._entries.pop(key, None)
                continue
            expires = now + c.max_age if c.max_age > 0 else at
            old = self._entries.get(key)
            self._seq += 1
            stored = Cookie(c.name, c.value, path=path, domain=domain, expires=c.expires,
                            max_age=c.max_age, secure=c.secure, http_only=c.http_only,
                            same_site=c.same_site)
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
