"""HTTP layer: Header, the case-insensitive multi-valued header map.

Go's ``http.Header``: keys are kept in canonical form ("content-type" ->
"Content-Type"), each key maps to a list of values in the order added.
Values are ``str``; on the wire they are latin-1 (the same convention as
WSGI), falling back to UTF-8 for text that latin-1 cannot hold.

Invariant: every key and value stored here is safe to write on the wire.
Keys are HTTP tokens; values hold no CR, LF or NUL (``set``/``add`` reject
them with ``ValueError``), so a handler cannot smuggle a header or a
response into the stream. The only ways in are ``set``, ``add`` and the
server's own parser, which feeds already-validated h11 fields.

Canonical names are cached (a bounded dict), so a hot key costs one dict
lookup per call.

Value lists are replaced, never changed in place (``add`` builds a new
list), so a shallow copy of the map is a snapshot: the ResponseWriter
freezes the headers it will send that way, at ``write_header``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

__all__ = ["Header", "canonical_header_key"]

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_CANON: dict[str, str] = {}  # any spelling -> canonical key (valid tokens only)
_CANON_RAW: dict[bytes, str] = {}  # h11's lower-case bytes -> canonical key
_CACHE_MAX = 4096


def _canonicalize(key: str) -> str:
    # Go's CanonicalMIMEHeaderKey: upper-case the first letter and every
    # letter after a hyphen, lower-case the rest. Keys that are not tokens
    # are returned unchanged (Go does the same); _key() rejects them.
    if not _TOKEN.fullmatch(key):
        return key
    out = []
    upper = True
    for ch in key:
        out.append(ch.upper() if upper else ch.lower())
        upper = ch == "-"
    return "".join(out)


def canonical_header_key(key: str) -> str:
    """Go's ``CanonicalHeaderKey``: "x-request-id" -> "X-Request-Id"."""
    ck = _CANON.get(key)
    if ck is None:
        ck = _canonicalize(key)
    return ck


def _key(key: str) -> str:
    ck = _CANON.get(key)
    if ck is not None:
        return ck
    if not isinstance(key, str):
        raise TypeError(f"header name must be str, not {type(key).__name__}")
    if not _TOKEN.fullmatch(key):
        raise ValueError(f"invalid header name {key!r}")
    ck = _canonicalize(key)
    if len(_CANON) < _CACHE_MAX:
        _CANON[key] = ck
    return ck


def _check_value(key: str, value: str) -> str:
    if value.__class__ is not str:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(value)
        elif isinstance(value, str):
            value = str(value)
        else:
            raise TypeError(f"header {key}: value must be str, not {type(value).__name__}")
    if "\n" in value or "\r" in value or "\0" in value:
        raise ValueError(f"header {key}: invalid value {value!r} (CR, LF and NUL are not allowed)")
    return value


def canonical_from_wire(name: bytes) -> str:
    """Canonical key for a lower-case header name as h11 parsed it."""
    ck = _CANON_RAW.get(name)
    if ck is None:
        ck = _canonicalize(name.decode("ascii"))
        if len(_CANON_RAW) < _CACHE_MAX:
            _CANON_RAW[name] = ck
    return ck


class Header:
    """Case-insensitive multi-valued header map with Go's canonical keys.

    >>> h = Header(); h.add("x-tag", "a"); h.add("X-TAG", "b")
    >>> h.get("x-tag"), h.values("X-Tag")
    ('a', ['a', 'b'])
    """

    __slots__ = ("_h",)

    def __init__(self, items: Iterable[tuple[str, str]] | dict | None = None) -> None:
        self._h: dict[str, list[str]] = {}
        if items:
            pairs = items.items() if isinstance(items, dict) else items
            for k, v in pairs:
                if isinstance(v, (list, tuple)):
                    for one in v:
                        self.add(k, one)
                else:
                    self.add(k, v)

    def get(self, key: str, default: str = "") -> str:
        """The first value for ``key``, or ``default`` ("" as in Go) if absent."""
        vs = self._h.get(_CANON.get(key) or canonical_header_key(key))
        return vs[0] if vs else default

    def values(self, key: str) -> list[str]:
        """All values for ``key`` (a copy), in the order they were added."""
        vs = self._h.get(_CANON.get(key) or canonical_header_key(key))
        return list(vs) if vs else []

    def set(self, key: str, value: str) -> None:
        """Replace every value of ``key`` with ``value``."""
        ck = _key(key)
        self._h[ck] = [_check_value(ck, value)]

    def add(self, key: str, value: str) -> None:
        """Append ``value`` to the values of ``key``."""
        ck = _key(key)
        value = _check_value(ck, value)
        vs = self._h.get(ck)
        self._h[ck] = [value] if vs is None else [*vs, value]

    def delete(self, key: str) -> None:
        """Remove ``key`` and all its values (no error if absent)."""
        self._h.pop(_CANON.get(key) or canonical_header_key(key), None)

    def has(self, key: str) -> bool:
        return (_CANON.get(key) or canonical_header_key(key)) in self._h

    __contains__ = has

    def __getitem__(self, key: str) -> str:
        vs = self._h.get(_CANON.get(key) or canonical_header_key(key))
        if not vs:
            raise KeyError(key)
        return vs[0]

    def __setitem__(self, key: str, value: str | list[str]) -> None:
        """``h[key] = "v"`` is ``set``; ``h[key] = ["a", "b"]`` replaces every
        value (Go's ``h[key] = []string{...}``), and ``h[key] = []`` keeps
        the key with no value: for Content-Type, Go's ``= nil``, which sends
        none and stops the server from sniffing one."""
        if isinstance(value, (list, tuple)):
            ck = _key(key)
            self._h[ck] = [_check_value(ck, v) for v in value]
            return
        self.set(key, value)

    def __delitem__(self, key: str) -> None:
        self.delete(key)

    def __iter__(self) -> Iterator[str]:
        """Iterate over the canonical keys."""
        return iter(list(self._h))

    def __len__(self) -> int:
        return len(self._h)

    def __bool__(self) -> bool:
        return bool(self._h)

    def keys(self) -> list[str]:
        return list(self._h)

    def items(self) -> Iterator[tuple[str, str]]:
        """Every (key, value) pair, one per value, keys in insertion order."""
        for k, vs in list(self._h.items()):
            for v in vs:
                yield k, v

    def clone(self) -> Header:
        h = Header()
        h._h = {k: list(vs) for k, vs in self._h.items()}
        return h

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Header):
            return self._h == other._h
        return NotImplemented

    def __repr__(self) -> str:
        return f"Header({self._h!r})"

    # -- used by the server -------------------------------------------------

    @classmethod
    def _from_wire(cls, full_items: list) -> Header:
        """Build from h11's (raw_name, lower_name, value) triples (already valid)."""
        h = cls()
        d = h._h
        for _raw, name, value in full_items:
            ck = _CANON_RAW.get(name) or canonical_from_wire(name)
            v = value.decode("latin-1")
            vs = d.get(ck)
            if vs is None:
                d[ck] = [v]
            else:
                vs.append(v)
        return h
