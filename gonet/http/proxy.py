"""HTTP layer: ProxyHeaders, the client address and scheme from a trusted proxy.

Behind a load balancer every connection comes from the proxy; the client's
address and scheme travel in ``X-Forwarded-For`` / ``X-Forwarded-Proto``
(de facto) or ``Forwarded`` (RFC 7239). Anyone can send those headers, so
they are believed only when the connection comes from a trusted peer
(``forwarded_allow_ips``: addresses and networks, or "*"). Peers on a unix
socket are trusted: only local processes can reach one.

The client is the rightmost untrusted address of the forwarding chain (each
trusted proxy appends the peer it saw; anything to the left of the first
untrusted hop was written by the client itself and may be forged). When the
whole chain is trusted, its leftmost entry is used.

Effects on the Request, before the wrapped handler runs:
``r.remote_addr`` becomes "client:0" (the chain carries no port; IPv6 in
brackets), and ``r.url.scheme`` the forwarded scheme ("http"/"https"), which
WSGIHandler reports as ``wsgi.url_scheme``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable
from typing import Any

__all__ = ["ProxyHeaders", "TrustedPeers"]

_SCHEMES = frozenset({"http", "https", "ws", "wss"})


class TrustedPeers:
    """A set of trusted addresses: "127.0.0.1", "10.0.0.0/8", "::1", or "*"."""

    def __init__(self, spec: str | Iterable[str]) -> None:
        items = [s.strip() for s in (spec.split(",") if isinstance(spec, str) else spec)]
        items = [s for s in items if s]
        self.all = "*" in items
        self.hosts: set[str] = set()
        self.nets: list[Any] = []
        for s in items:
            if s == "*":
                continue
            try:
                if "/" in s:
                    self.nets.append(ipaddress.ip_network(s, strict=False))
                else:
                    self.hosts.add(str(ipaddress.ip_address(s)))
            except ValueError:
                raise ValueError(f"forwarded-allow-ips: {s!r} is not an IP address or network") from None
        self.spec = ",".join(items)

    def __repr__(self) -> str:
        return f"TrustedPeers({self.spec!r})"

    def __contains__(self, host: str) -> bool:
        if self.all or host in self.hosts:
            return True
        if not self.nets:
            return False
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(ip in n for n in self.nets)


def _host_of(remote_addr: str) -> str | None:
    """The IP of "ip:port" / "[v6]:port"; None for a peer without one (unix)."""
    host, sep, port = remote_addr.rpartition(":")
    if not sep or not port.isdigit():
        return None
    if host[:1] == "[":
        return host[1:-1]
    return host


def _strip_node(node: str) -> str:
    """A Forwarded "for" node or an X-Forwarded-For entry -> bare address."""
    node = node.strip().strip('"')
    if node.startswith("["):
        return node[1:node.find("]")] if "]" in node else node[1:]
    if node.count(":") == 1:  # "1.2.3.4:5678"
        return node.split(":", 1)[0]
    return node


def _parse_forwarded(values: list[str]) -> tuple[list[str], str]:
    """RFC 7239: the "for" chain and the last "proto" seen."""
    chain: list[str] = []
    proto = ""
    for value in values:
        for element in value.split(","):
            for pair in element.split(";"):
                k, sep, v = pair.partition("=")
                if not sep:
                    continue
                k = k.strip().lower()
                if k == "for":
                    chain.append(_strip_node(v))
                elif k == "proto":
                    proto = v.strip().strip('"').lower()
    return chain, proto


class ProxyHeaders:
    """Wrap ``handler``: take the client address and scheme from trusted proxies' headers."""

    def __init__(self, handler: Any, forwarded_allow_ips: str | Iterable[str] = "127.0.0.1") -> None:
        self.handler: Callable = handler.serve_http if hasattr(handler, "serve_http") else handler
        self.trusted = forwarded_allow_ips if isinstance(forwarded_allow_ips, TrustedPeers) \
            else TrustedPeers(forwarded_allow_ips)

    def __repr__(self) -> str:
        return f"<ProxyHeaders {self.trusted.spec} -> {self.handler!r}>"

    def client(self, peer: str | None, header: Any) -> tuple[str | None, str]:
        """(client address or None, scheme or "") for a request from ``peer``."""
        if peer is not None and peer not in self.trusted:
            return None, ""
        xff = header.values("X-Forwarded-For")
        if xff:
            chain = [_strip_node(x) for v in xff for x in v.split(",") if x.strip()]
            protos = [p.strip().lower() for v in header.values("X-Forwarded-Proto")
                      for p in v.split(",") if p.strip()]
            proto = protos[-1] if protos else ""
        else:
            fwd = header.values("Forwarded")
            if not fwd:
                protos = [p.strip().lower() for v in header.values("X-Forwarded-Proto")
                          for p in v.split(",") if p.strip()]
                return None, protos[-1] if protos and protos[-1] in _SCHEMES else ""
            chain, proto = _parse_forwarded(fwd)
        client = None
        trusted = self.trusted
        for hop in reversed(chain):
            client = hop
            if hop not in trusted:
                break
        return client, proto if proto in _SCHEMES else ""

    def serve_http(self, w: Any, r: Any) -> None:
        client, proto = self.client(_host_of(r.remote_addr or ""), r.header)
        if client:
            r.remote_addr = f"[{client}]:0" if ":" in client else f"{client}:0"
        if proto:
            r.url.scheme = proto
        self.handler(w, r)

    __call__ = serve_http
