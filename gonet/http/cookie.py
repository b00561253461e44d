"""HTTP layer: cookies (Go's ``net/http`` Cookie, SetCookie, and the request's cookie parsing).

A :class:`Cookie` is Go's struct in Python spelling: ``name``, ``value``,
``quoted``, ``path``, ``domain``, ``expires``, ``max_age``, ``secure``,
``http_only``, ``same_site``, ``partitioned``. ``str(cookie)`` is its
``Set-Cookie`` value (Go's ``Cookie.String``); :func:`set_cookie` adds it to
a response. Go drops a cookie or an attribute with invalid bytes without a
word; here :meth:`Cookie.valid` (and so ``set_cookie``) raises ValueError
naming the cookie and the field, since a cookie that silently never
arrives is worse than an error in the handler.

Reading is lenient where writing is strict (RFC 6265 section 5, as Go's
``readCookies``): a request's ``Cookie`` headers are split on ``;``, and a
pair whose name is not a token or whose value has bytes outside
cookie-octet is skipped on its own, never the whole header with it.

Max-Age follows Go: 0 means no attribute, a negative value deletes the
cookie (``Max-Age=0``), a positive one is sent as it is.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from email.utils import formatdate, parsedate_to_datetime
from typing import Any

__all__ = ["Cookie", "ErrNoCookie", "set_cookie", "read_cookies", "read_set_cookies",
           "parse_cookie", "parse_set_cookie", "SAME_SITE_LAX", "SAME_SITE_STRICT",
           "SAME_SITE_NONE"]

SAME_SITE_LAX = "Lax"
SAME_SITE_STRICT = "Strict"
SAME_SITE_NONE = "None"
_SAME_SITE = {"lax": SAME_SITE_LAX, "strict": SAME_SITE_STRICT, "none": SAME_SITE_NONE}

# RFC 7230 token characters (a cookie name), RFC 6265 cookie-octet (a value;
# Go also lets a space and a comma through, and quotes the value for them).
_TOKEN = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyz"
                   "ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_OCTET = frozenset(chr(c) for c in range(0x21, 0x7F)) - set('"\\,;')
_VALUE_OK = _OCTET | {" ", ","}


class ErrNoCookie(LookupError):
    """``r.cookie(name)`` found no cookie of that name (Go's ErrNoCookie)."""

    def __init__(self, name: str = "") -> None:
        super().__init__(f"http: named cookie not present{f': {name!r}' if name else ''}")
        self.name = name


@dataclass
class Cookie:
    """An HTTP cookie, sent in a Set-Cookie header or received in a Cookie header.

    ``expires`` is an aware ``datetime`` (or a Unix timestamp); ``same_site``
    is "", "Lax", "Strict" or "None". ``raw`` and ``unparsed`` are filled by
    :func:`parse_set_cookie` only.
    """

    name: str
    value: str = ""
    quoted: bool = False
    path: str = ""
    domain: str = ""
    expires: Any = None
    max_age: int = 0
    secure: bool = False
    http_only: bool = False
    same_site: str = ""
    partitioned: bool = False
    raw: str = ""
    unparsed: list[str] = field(default_factory=list)

    def valid(self) -> None:
        """Raise ValueError naming what makes this cookie unsendable."""
        if not self.name or not all(c in _TOKEN for c in self.name):
            raise ValueError(f"http: invalid cookie name {self.name!r}")
        bad = next((c for c in self.value if c not in _VALUE_OK), None)
        if bad is not None:
            raise ValueError(f"http: cookie {self.name!r}: invalid byte {bad!r} in its value")
        bad = next((c for c in self.path if c == ";" or not " " <= c <= "~"), None)
        if bad is not None:
            raise ValueError(f"http: cookie {self.name!r}: invalid byte {bad!r} in its path")
        if self.domain and not _valid_domain(self.domain):
            raise ValueError(f"http: cookie {self.name!r}: invalid domain {self.domain!r}")
        if self.expires is not None and _expires_dt(self.expires).year < 1601:
            raise ValueError(f"http: cookie {self.name!r}: expires before 1601")
        if self.same_site and self.same_site.lower() not in _SAME_SITE:
            raise ValueError(f"http: cookie {self.name!r}: same_site must be Lax, Strict or "
                             f"None, not {self.same_site!r}")
        if self.partitioned and not self.secure:
            raise ValueError(f"http: cookie {self.name!r}: partitioned cookies must be secure")

    def __str__(self) -> str:
        """The Set-Cookie value (Go's Cookie.String); "" for an invalid name."""
        if not self.name or not all(c in _TOKEN for c in self.name):
            return ""
        v = "".join(c for c in self.value if c in _VALUE_OK)
        if self.quoted or " " in v or "," in v:
            v = f'"{v}"'
        parts = [f"{self.name}={v}"]
        if self.path:
            parts.append("Path=" + "".join(c for c in self.path if c != ";" and " " <= c <= "~"))
        if self.domain and _valid_domain(self.domain):
            parts.append("Domain=" + self.domain.lstrip("."))
        if self.expires is not None:
            dt = _expires_dt(self.expires)
            if dt.year >= 1601:
                parts.append("Expires=" + formatdate(dt.timestamp(), usegmt=True))
        if self.max_age > 0:
            parts.append(f"Max-Age={int(self.max_age)}")
        elif self.max_age < 0:
            parts.append("Max-Age=0")
        if self.http_only:
            parts.append("HttpOnly")
        if self.secure:
            parts.append("Secure")
        ss = _SAME_SITE.get(self.same_site.lower()) if self.same_site else None
        if ss:
            parts.append("SameSite=" + ss)
        if self.partitioned:
            parts.append("Partitioned")
        return "; ".join(parts)


def _expires_dt(v: Any) -> _dt.datetime:
    if isinstance(v, _dt.datetime):
        return v if v.tzinfo is not None else v.replace(tzinfo=_dt.timezone.utc)
    return _dt.datetime.fromtimestamp(float(v), _dt.timezone.utc)


def _valid_domain(d: str) -> bool:
    """A host name or an IP address (Go's isCookieDomainName, loosely)."""
    d = d[1:] if d.startswith(".") else d
    if not d or len(d) > 255 or d.endswith("."):
        return False
    try:
        import ipaddress

        ipaddress.ip_address(d)
        return True
    except ValueError:
        pass
    for label in d.split("."):
        if not label or len(label) > 63 or label[0] == "-" or label[-1] == "-":
            return False
        if not all(c.isascii() and (c.isalnum() or c in "-_") for c in label):
            return False
    return True


def _cookie_value(raw: str) -> str | None:
    """The value of a received cookie (one pair of double quotes stripped),
    None when it has bytes outside cookie-octet."""
    if len(raw) > 1 and raw[0] == '"' and raw[-1] == '"':
        raw = raw[1:-1]
    for c in raw:
        if c not in _VALUE_OK:
            return None
    return raw


def parse_cookie(line: str) -> list[Cookie]:
    """The cookies of one ``Cookie`` header value (Go's ParseCookie), skipping
    each malformed pair on its own."""
    out = []
    for part in line.split(";"):
        part = part.strip(" \t")
        if not part:
            continue
        name, _, raw = part.partition("=")
        if not name or not all(c in _TOKEN for c in name):
            continue
        quoted = len(raw) > 1 and raw[0] == '"' and raw[-1] == '"'
        val = _cookie_value(raw)
        if val is None:
            continue
        out.append(Cookie(name, val, quoted=quoted))
    return out


def read_cookies(lines: Iterable[str], name: str | None = None) -> list[Cookie]:
    """Every cookie of the ``Cookie`` header lines (only ``name``'s if given)."""
    out = []
    for line in lines:
        for c in parse_cookie(line):
            if name is None or c.name == name:
                out.append(c)
    return out


def parse_set_cookie(line: str) -> Cookie:
    """Parse a ``Set-Cookie`` header value (Go's ParseSetCookie); ValueError if
    it has no valid name=value."""
    parts = line.strip().split(";")
    name, sep, raw = parts[0].strip().partition("=")
    name = name.strip()
    if not sep or not name or not all(c in _TOKEN for c in name):
        raise ValueError(f"http: invalid Set-Cookie {line[:100]!r}: no valid name=value")
    raw = raw.strip()
    val = _cookie_value(raw)
    if val is None:
        raise ValueError(f"http: invalid Set-Cookie {line[:100]!r}: invalid cookie value")
    c = Cookie(name, val, quoted=len(raw) > 1 and raw[0] == '"', raw=line)
    for attr in parts[1:]:
        attr = attr.strip()
        if not attr:
            continue
        key, _, v = attr.partition("=")
        k = key.strip().lower()
        v = v.strip()
        if k == "samesite":
            c.same_site = _SAME_SITE.get(v.lower(), "")
        elif k == "secure":
            c.secure = True
        elif k == "httponly":
            c.http_only = True
        elif k == "partitioned":
            c.partitioned = True
        elif k == "domain" and v:
            c.domain = v
        elif k == "path":
            c.path = v
        elif k == "max-age":
            try:
                secs = int(v)
            except ValueError:
                c.unparsed.append(attr)
                continue
            if secs != 0 and v[0] == "0":
                c.unparsed.append(attr)
                continue
            c.max_age = secs if secs > 0 else -1
        elif k == "expires":
            try:
                c.expires = parsedate_to_datetime(v)
            except (TypeError, ValueError, IndexError):
                c.unparsed.append(attr)
        else:
            c.unparsed.append(attr)
    return c


def read_set_cookies(lines: Any) -> list[Cookie]:
    """The valid cookies of ``Set-Cookie`` lines (a Header, or a list of
    strings); a malformed line is skipped, as browsers and Go's readSetCookies do."""
    if hasattr(lines, "values"):
        lines = lines.values("Set-Cookie")
    out = []
    for line in lines:
        try:
            out.append(parse_set_cookie(line))
        except ValueError:
            continue
    return out


def expires_timestamp(c: Cookie) -> float | None:
    """A cookie's ``expires`` as a Unix time (None when it has none)."""
    return None if c.expires is None else _expires_dt(c.expires).timestamp()


def set_cookie(w: Any, cookie: Cookie) -> None:
    """Add a ``Set-Cookie`` header to the response (Go's SetCookie); raises
    ValueError for a cookie that cannot be sent as it is."""
    cookie.valid()
    w.header().add("Set-Cookie", str(cookie))
