"""HTTP layer: the framing conformance corpus, run against a real server over a socket.

Each case is raw request bytes, the statuses the server must answer in order
(one per request it may serve, never more), and whether it must then close
the connection. A case that keeps the connection must leave it in step: a
probe request sent afterwards must get its own answer, so a request hidden
in another's body (smuggling) would show up as an extra or missing reply.
Every case runs through both head parsers of gonet.http.wire.

The cases follow RFC 9112 section by section (2.2 message parsing, 3 the
request line, 5 field lines, 6 body length, 7 chunked), then the classic
smuggling families (CL.TE, TE.CL, TE.TE obfuscations) and pipelining.
"""

from __future__ import annotations

import logging
import socket
import time

import pytest
from rawhttp import Responses

from gonet.http.httptest import TestServer

pytestmark = pytest.mark.usefixtures("head_parser")

KEEP, CLOSE = "keep", "close"
H = b"Host: a\r\n"


def echo(w, r):
    body = r.body.read()
    w.header().set("Content-Type", "text/plain")
    w.write(f"{r.method} {r.request_uri} host={r.host} len={len(body)}\n".encode() + body)


@pytest.fixture(scope="module")
def server():
    ts = TestServer(echo, read_header_timeout=5.0, read_timeout=5.0, max_header_bytes=8192)
    yield ts
    ts.close(timeout=2.0)


def _chunked(*parts: bytes) -> bytes:
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts) + b"0\r\n\r\n"


# (id, raw bytes, statuses, keep/close, text the first answer's body must hold)
CASES = [
    # -- RFC 9112 2.2: message parsing --------------------------------------------
    ("plain", b"GET / HTTP/1.1\r\n" + H + b"\r\n", [200], KEEP, b"GET / host=a"),
    ("leading CRLF ignored", b"\r\nGET / HTTP/1.1\r\n" + H + b"\r\n", [200], KEEP, None),
    ("two leading CRLFs", b"\r\n\r\nGET / HTTP/1.1\r\n" + H + b"\r\n", [200], KEEP, None),
    ("leading bare LF", b"\nGET / HTTP/1.1\r\n" + H + b"\r\n", [200], KEEP, None),
    ("bare LF line ends", b"GET / HTTP/1.1\nHost: a\n\n", [200], KEEP, None),
    ("LF CRLF head end", b"GET / HTTP/1.1\r\nHost: a\n\r\n", [200], KEEP, None),
    ("bare CR in a value", b"GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n", [400], CLOSE, None),
    ("bare CR as line end", b"GET / HTTP/1.1\rHost: a\r\n\r\n", [400], CLOSE, None),
    ("CR CR LF line end", b"GET / HTTP/1.1\r\r\nHost: a\r\n\r\n", [400], CLOSE, None),
    ("NUL in a value", b"GET / HTTP/1.1\r\nHost: a\r\nX: a\x00b\r\n\r\n", [400], CLOSE, None),
    ("whitespace line first", b" \r\nGET / HTTP/1.1\r\n" + H + b"\r\n", [400], CLOSE, None),
    # -- RFC 9112 3: the request line ----------------------------------------------------
    ("lower-case method is a token", b"get / HTTP/1.1\r\n" + H + b"\r\n", [200], KEEP, b"get /"),
    ("method not a token", b"G@T / HTTP/1.1\r\n" + H + b"\r\n", [400], CLOSE, None),
    ("two spaces", b"GET  / HTTP/1.1\r\n" + H + b"\r\n", [400], CLOSE, None),
    ("tabs as separators", b"GET\t/\tHTTP/1.1\r\n" + H + b"\r\n", [400], CLOSE, None),
    ("trailing space", b"GET / HTTP/1.1 \r\n" + H + b"\r\n", [400], CLOSE, None),
    ("no version (0.9 simple request)", b"GET /\r\n\r\n", [400], CLOSE, None),
    ("lower-case http", b"GET / http/1.1\r\n" + H + b"\r\n", [400], CLOSE, None),
    ("two-digit minor", b"GET / HTTP/1.10\r\n" + H + b"\r\n", [400], CLOSE, None),
    ("two-digit major", b"GET / HTTP/01.1\r\n" + H + b"\r\n", [400], CLOSE, None),
    ("HTTP/0.9", b"GET / HTTP/0.9\r\n" + H + b"\r\n", [505], CLOSE, None),
    ("HTTP/2.0 as text", b"GET / HTTP/2.0\r\n" + H + b"\r\n", [505], CLOSE, None),
    ("HTTP/3.0", b"GET / HTTP/3.0\r\n" + H + b"\r\n", [505], CLOSE, None),
    ("HTTP/9.9", b"GET / HTTP/9.9\r\n" + H + b"\r\n", [505], CLOSE, None),
    ("h2 preface", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", [505], CLOSE, None),
    ("HTTP/1.2 is served as 1.1", b"GET / HTTP/1.2\r\n" + H + b"\r\n", [200], KEEP, None),
    ("HTTP/1.9 needs Host", b"GET / HTTP/1.9\r\n\r\n", [400], CLOSE, None),
    ("space in target", b"GET /a b HTTP/1.1\r\n" + H + b"\r\n", [400], CLOSE, None),
    ("non-ASCII in target", b"GET /\xc3\xa9 HTTP/1.1\r\n" + H + b"\r\n", [400], CLOSE, None),
    ("CTL in target", b"GET /\x01 HTTP/1.1\r\n" + H + b"\r\n", [400], CLOSE, None),
    ("PROXY preamble", b"PROXY TCP4 192.0.2.1 192.0.2.2 1234 80\r\n", [400], CLOSE, None),
    ("TLS client hello", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", [400], CLOSE, None),
    # RFC 9112 3.2: the four forms of request-target, and nothing else
    ("target without slash", b"GET foo HTTP/1.1\r\n" + H + b"\r\n", [400], CLOSE, None),
    ("target query only", b"GET ?x=1 HTTP/1.1\r\n" + H + b"\r\n", [400], CLOSE, None),
    ("authority-form on GET", b"GET a:443 HTTP/1.1\r\n" + H + b"\r\n", [400], CLOSE, None),
    ("dot-dot without slash", b"GET %2e%2e/x HTTP/1.1\r\n" + H + b"\r\n", [400], CLOSE, None),
    ("asterisk on GET", b"GET * HTTP/1.1\r\n" + H + b"\r\n", [400], CLOSE, None),
    ("OPTIONS *", b"OPTIONS * HTTP/1.1\r\n" + H + b"\r\n", [200], KEEP, None),
    ("CONNECT authority", b"CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n", [200], KEEP,
     b"CONNECT a:443 host=a:443"),
    ("CONNECT without port", b"CONNECT a HTTP/1.1\r\nHost: a\r\n\r\n", [400], CLOSE, None),
    ("CONNECT with a URI", b"CONNECT http://a/ HTTP/1.1\r\nHost: a\r\n\r\n", [400], CLOSE, None),
    ("CONNECT needs no Host", b"CONNECT a:443 HTTP/1.1\r\n\r\n", [200], KEEP, b"host=a:443"),
    ("absolute-form", b"GET http://b.example/x?y HTTP/1.1\r\n" + H + b"\r\n", [200], KEEP,
     b"GET http://b.example/x?y host=b.example"),
    ("absolute-form with userinfo", b"GET http://u@b/x HTTP/1.1\r\n" + H + b"\r\n", [400], CLOSE,
     None),
    ("absolute-form bad scheme", b"GET 1http://b/x HTTP/1.1\r\n" + H + b"\r\n", [400], CLOSE,
     None),
    ("bad escape", b"GET /%zz HTTP/1.1\r\n" + H + b"\r\n", [400], CLOSE, None),
    ("truncated escape", b"GET /a% HTTP/1.1\r\n" + H + b"\r\n", [400], CLOSE, None),
    ("good escapes", b"GET /a%20b%2F HTTP/1.1\r\n" + H + b"\r\n", [200], KEEP, None),
    ("fragment", b"GET /a?b=c#frag HTTP/1.1\r\n" + H + b"\r\n", [200], KEEP, None),
    ("request line over the limit", b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\n" + H + b"\r\n",
     [431], CLOSE, None),
    # -- RFC 9112 5 / RFC 9110 5.5: field lines --------------------------------------------
    ("space before colon", b"GET / HTTP/1.1\r\nHost : a\r\n\r\n", [400], CLOSE, None),
    ("tab before colon", b"GET / HTTP/1.1\r\n" + H + b"X\t: y\r\n\r\n", [400], CLOSE, None),
    ("obs-fold", b"GET / HTTP/1.1\r\n" + H + b"X: a\r\n b\r\n\r\n", [400], CLOSE, None),
    ("obs-fold with tab", b"GET / HTTP/1.1\r\n" + H + b"X: a\r\n\tb\r\n\r\n", [400], CLOSE, None),
    ("fold as first field", b"GET / HTTP/1.1\r\n Host: a\r\n\r\n", [400], CLOSE, None),
    ("empty field name", b"GET / HTTP/1.1\r\n" + H + b": x\r\n\r\n", [400], CLOSE, None),
    ("bad name byte", b"GET / HTTP/1.1\r\n" + H + b"X(y): z\r\n\r\n", [400], CLOSE, None),
    ("no colon", b"GET / HTTP/1.1\r\n" + H + b"Bad Header\r\n\r\n", [400], CLOSE, None),
    ("BEL in a value", b"GET / HTTP/1.1\r\n" + H + b"X: a\x07b\r\n\r\n", [400], CLOSE, None),
    ("DEL in a value", b"GET / HTTP/1.1\r\n" + H + b"X: a\x7fb\r\n\r\n", [400], CLOSE, None),
    ("US in a value", b"GET / HTTP/1.1\r\n" + H + b"X: a\x1fb\r\n\r\n", [400], CLOSE, None),
    ("ESC in a value", b"GET / HTTP/1.1\r\n" + H + b"X: \x1b[31m\r\n\r\n", [400], CLOSE, None),
    ("VT in a value", b"GET / HTTP/1.1\r\n" + H + b"X: a\x0bb\r\n\r\n", [400], CLOSE, None),
    ("HTAB in a value", b"GET / HTTP/1.1\r\n" + H + b"X: a\tb\r\n\r\n", [200], KEEP, None),
    ("obs-text in a value", b"GET / HTTP/1.1\r\n" + H + b"X: caf\xe9\r\n\r\n", [200], KEEP, None),
    ("empty value", b"GET / HTTP/1.1\r\n" + H + b"X:\r\n\r\n", [200], KEEP, None),
    ("head over the limit", b"GET / HTTP/1.1\r\n" + H + b"X: " + b"a" * 20000 + b"\r\n\r\n",
     [431], CLOSE, None),
    # RFC 9112 3.2 / RFC 9110 7.2: Host
    ("no Host", b"GET / HTTP/1.1\r\n\r\n", [400], CLOSE, None),
    ("two Hosts", b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", [400], CLOSE, None),
    ("Host with {", b"GET / HTTP/1.1\r\nHost: a{b\r\n\r\n", [400], CLOSE, None),
    ("Host with }", b"GET / HTTP/1.1\r\nHost: a}\r\n\r\n", [400], CLOSE, None),
    ("Host with 0xff", b"GET / HTTP/1.1\r\nHost: a\xff\r\n\r\n", [400], CLOSE, None),
    ("Host with a space", b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n", [400], CLOSE, None),
    ("Host with userinfo", b"GET / HTTP/1.1\r\nHost: u@a\r\n\r\n", [400], CLOSE, None),
    ("empty Host", b"GET / HTTP/1.1\r\nHost:\r\n\r\n", [200], KEEP, None),
    ("IPv6 Host", b"GET / HTTP/1.1\r\nHost: [::1]:80\r\n\r\n", [200], KEEP, b"host=[::1]:80"),
    ("HTTP/1.0 without Host", b"GET / HTTP/1.0\r\n\r\n", [200], CLOSE, None),
    # -- RFC 9112 6: body length ---------------------------------------------------------
    ("Content-Length", b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 5\r\n\r\nhello", [200],
     KEEP, b"len=5\nhello"),
    ("Content-Length 0", b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 0\r\n\r\n", [200], KEEP,
     b"len=0"),
    ("Content-Length with OWS", b"POST / HTTP/1.1\r\n" + H + b"Content-Length:  5 \r\n\r\nhello",
     [200], KEEP, b"len=5"),
    ("Content-Length +5", b"POST / HTTP/1.1\r\n" + H + b"Content-Length: +5\r\n\r\nhello", [400],
     CLOSE, None),
    ("Content-Length -1", b"POST / HTTP/1.1\r\n" + H + b"Content-Length: -1\r\n\r\n", [400],
     CLOSE, None),
    ("Content-Length hex", b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 0x5\r\n\r\nhello", [400],
     CLOSE, None),
    ("Content-Length 5 5", b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 5 5\r\n\r\nhello", [400],
     CLOSE, None),
    ("Content-Length twice, same", b"POST / HTTP/1.1\r\n" + H
     + b"Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello", [200], KEEP, b"len=5"),
    ("Content-Length twice, different", b"POST / HTTP/1.1\r\n" + H
     + b"Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", [400], CLOSE, None),
    ("Content-Length list, same", b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 5, 5\r\n\r\nhello",
     [200], KEEP, b"len=5"),
    ("Content-Length list, different", b"POST / HTTP/1.1\r\n" + H
     + b"Content-Length: 5, 6\r\n\r\nhello", [400], CLOSE, None),
    ("Content-Length 2**63", b"POST / HTTP/1.1\r\n" + H
     + b"Content-Length: 9223372036854775808\r\n\r\n", [400], CLOSE, None),
    ("Content-Length of 21 digits", b"POST / HTTP/1.1\r\n" + H
     + b"Content-Length: 100000000000000000000\r\n\r\n", [400], CLOSE, None),
    ("GET with a body", b"GET / HTTP/1.1\r\n" + H + b"Content-Length: 3\r\n\r\nabc", [200], KEEP,
     b"len=3\nabc"),
    ("HEAD with a body (as Go)", b"HEAD / HTTP/1.1\r\n" + H + b"Content-Length: 3\r\n\r\nabc",
     [400], CLOSE, None),
    ("HEAD with Content-Length 0", b"HEAD / HTTP/1.1\r\n" + H + b"Content-Length: 0\r\n\r\n",
     [200], KEEP, None),
    ("no length: no body", b"POST / HTTP/1.1\r\n" + H + b"\r\nGET /2 HTTP/1.1\r\n" + H + b"\r\n",
     [200, 200], KEEP, b"len=0"),
    ("no length, then garbage", b"POST / HTTP/1.1\r\n" + H + b"\r\nxyz\r\n\r\n", [200, 400], CLOSE,
     None),
    # Transfer-Encoding
    ("chunked", b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n"
     + _chunked(b"hel", b"lo"), [200], KEEP, b"len=5\nhello"),
    ("chunked, capitals", b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: Chunked\r\n\r\n"
     + _chunked(b"abc"), [200], KEEP, b"len=3"),
    ("TE with OWS tab", b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding:\tchunked \r\n\r\n"
     + _chunked(b"abc"), [200], KEEP, b"len=3"),
    ("TE gzip", b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: gzip\r\n\r\nabc", [400], CLOSE,
     None),
    ("TE gzip, chunked", b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: gzip, chunked\r\n\r\n"
     + _chunked(b"abc"), [501], CLOSE, None),
    ("TE chunked, gzip", b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked, gzip\r\n\r\n"
     + _chunked(b"abc"), [400], CLOSE, None),
    ("TE chunked, chunked", b"POST / HTTP/1.1\r\n" + H
     + b"Transfer-Encoding: chunked, chunked\r\n\r\n" + _chunked(b"abc"), [400], CLOSE, None),
    ("TE in HTTP/1.0", b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n" + _chunked(b"abc"),
     [400], CLOSE, None),
    ("TE in HTTP/1.0, keep-alive, CL", b"POST / HTTP/1.0\r\nConnection: keep-alive\r\n"
     b"Content-Length: 12\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
     b"GET /smuggled HTTP/1.0\r\n\r\n", [400], CLOSE, None),
    # -- the smuggling families -------------------------------------------------------
    ("CL.TE", b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 6\r\nTransfer-Encoding: chunked\r\n"
     b"\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\n" + H + b"\r\n", [200], CLOSE, b"len=0"),
    ("TE.CL", b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\nContent-Length: 3\r\n"
     b"\r\n8\r\nSMUGGLED\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\n" + H + b"\r\n", [200], CLOSE,
     b"len=8\nSMUGGLED"),
    ("TE.TE xchunked", b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 4\r\n"
     b"Transfer-Encoding: xchunked\r\n\r\n5c\r\n", [400], CLOSE, None),
    ("TE.TE space before colon", b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 4\r\n"
     b"Transfer-Encoding : chunked\r\n\r\n5c\r\n", [400], CLOSE, None),
    ("TE.TE second field", b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n"
     b"Transfer-Encoding: x\r\n\r\n" + _chunked(b"abc"), [400], CLOSE, None),
    ("TE.TE chunked twice in fields", b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n"
     b"Transfer-Encoding: chunked\r\n\r\n" + _chunked(b"abc"), [400], CLOSE, None),
    ("TE.TE identity, chunked", b"POST / HTTP/1.1\r\n" + H
     + b"Transfer-Encoding: identity, chunked\r\n\r\n" + _chunked(b"abc"), [501], CLOSE, None),
    ("TE.TE obs-fold", b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 4\r\nTransfer-Encoding:\r\n"
     b" chunked\r\n\r\n5c\r\n", [400], CLOSE, None),
    ("TE.TE vertical tab", b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: \x0bchunked\r\n\r\n"
     + _chunked(b"abc"), [400], CLOSE, None),
    ("TE.TE quoted", b"POST / HTTP/1.1\r\n" + H + b'Transfer-Encoding: "chunked"\r\n\r\n'
     + _chunked(b"abc"), [400], CLOSE, None),
    ("TE.TE empty", b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding:\r\n\r\n", [400], CLOSE, None),
    ("TE.TE underscore is another field", b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 3\r\n"
     b"Transfer_Encoding: chunked\r\n\r\nabc", [200], KEEP, b"len=3\nabc"),
    ("TE.TE bare LF before TE", b"POST / HTTP/1.1\r\n" + H + b"X: y\nTransfer-Encoding: chunked\r\n"
     b"Content-Length: 3\r\n\r\n3\r\nabc\r\n0\r\n\r\n", [200], CLOSE, b"len=3\nabc"),
    # -- RFC 9112 7.1: chunked framing -------------------------------------------------
    ("chunk extension", b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n"
     b"3;name=value\r\nabc\r\n0;x\r\n\r\n", [200], KEEP, b"len=3\nabc"),
    ("quoted chunk extension", b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n"
     b'3 ; a="b c"\r\nabc\r\n0\r\n\r\n', [200], KEEP, b"len=3"),
    ("CTL in a chunk extension", b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n"
     b"3;a\x01b\r\nabc\r\n0\r\n\r\n", [400], CLOSE, None),
    ("bare CR in a chunk extension", b"POST / HTTP/1.1\r\n" + H
     + b"Transfer-Encoding: chunked\r\n\r\n3;a\rb\r\nabc\r\n0\r\n\r\n", [400], CLOSE, None),
    ("chunk size with trailing BWS", b"POST / HTTP/1.1\r\n" + H
     + b"Transfer-Encoding: chunked\r\n\r\n3  \r\nabc\r\n0\r\n\r\n", [200], KEEP, b"len=3"),
    ("chunk size with leading space", b"POST / HTTP/1.1\r\n" + H
     + b"Transfer-Encoding: chunked\r\n\r\n 3\r\nabc\r\n0\r\n\r\n", [400], CLOSE, None),
    ("chunk size 0x", b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n"
     b"0x3\r\nabc\r\n0\r\n\r\n", [400], CLOSE, None),
    ("chunk size not hex", b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n"
     b"g\r\nabc\r\n0\r\n\r\n", [400], CLOSE, None),
    ("chunk size empty", b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n"
     b"\r\nabc\r\n0\r\n\r\n", [400], CLOSE, None),
    ("chunk size negative", b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n"
     b"-3\r\nabc\r\n0\r\n\r\n", [400], CLOSE, None),
    ("chunk size 16 digits", b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n"
     b"0000000000000003\r\nabc\r\n0\r\n\r\n", [200], KEEP, b"len=3"),
    ("chunk size 17 digits", b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n"
     b"00000000000000003\r\nabc\r\n0\r\n\r\n", [400], CLOSE, None),
    ("chunk size beyond 64 bits", b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n"
     b"10000000000000000\r\nabc\r\n0\r\n\r\n", [400], CLOSE, None),
    ("chunk size wraps to 3 in 64 bits", b"POST / HTTP/1.1\r\n" + H
     + b"Transfer-Encoding: chunked\r\n\r\n10000000000000003\r\nabc\r\n0\r\n\r\n", [400], CLOSE,
     None),
    ("bare LF after chunk size", b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n"
     b"3\nabc\r\n0\r\n\r\n", [400], CLOSE, None),
    ("bare LF after chunk data", b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n"
     b"3\r\nabc\n0\r\n\r\n", [400], CLOSE, None),
    ("chunk data longer than its size", b"POST / HTTP/1.1\r\n" + H
     + b"Transfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n0\r\n\r\n", [400], CLOSE, None),
    ("bare LF ends the body", b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n"
     b"3\r\nabc\r\n0\r\n\nGET /smuggled HTTP/1.1\r\n" + H + b"\r\n", [400], CLOSE, None),
    ("trailer fields", b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n"
     b"3\r\nabc\r\n0\r\nX-T: v\r\nX-U: w\r\n\r\n", [200], KEEP, b"len=3"),
    ("trailer with bare LF", b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n"
     b"3\r\nabc\r\n0\r\nX-T: v\n\r\n", [400], CLOSE, None),
    ("trailer obs-fold", b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n"
     b"3\r\nabc\r\n0\r\nX-T: v\r\n w\r\n\r\n", [400], CLOSE, None),
    ("trailer not a field", b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n"
     b"3\r\nabc\r\n0\r\nnot a field\r\n\r\n", [400], CLOSE, None),
    ("chunk extensions beyond the overhead budget", b"POST / HTTP/1.1\r\n" + H
     + b"Transfer-Encoding: chunked\r\n\r\n" + b"1;" + b"e" * 2000 + b"\r\nx\r\n" * 1
     + (b"1;" + b"e" * 2000 + b"\r\nx\r\n") * 20 + b"0\r\n\r\n", [400], CLOSE, None),
    # -- pipelining, Connection, Expect (RFC 9112 9, RFC 9110 7.6.1, 10.1.1) -------------
    ("two pipelined", b"GET /1 HTTP/1.1\r\n" + H + b"\r\nGET /2 HTTP/1.1\r\n" + H + b"\r\n",
     [200, 200], KEEP, b"GET /1"),
    ("pipelined with bodies", b"POST /1 HTTP/1.1\r\n" + H + b"Content-Length: 3\r\n\r\nabc"
     b"POST /2 HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n" + _chunked(b"de")
     + b"GET /3 HTTP/1.1\r\n" + H + b"\r\n", [200, 200, 200], KEEP, b"len=3\nabc"),
    ("close then more", b"GET /1 HTTP/1.1\r\n" + H + b"Connection: close\r\n\r\nGET /2 HTTP/1.1\r\n"
     + H + b"\r\n", [200], CLOSE, None),
    ("close among tokens", b"GET / HTTP/1.1\r\n" + H + b"Connection: keep-alive, Close\r\n\r\n",
     [200], CLOSE, None),
    ("enclosed is not close", b"GET / HTTP/1.1\r\n" + H + b"Connection: enclosed\r\n\r\n", [200],
     KEEP, None),
    ("1.0 keep-alive", b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", [200], KEEP, None),
    ("1.0 no-keep-alive is not keep-alive", b"GET / HTTP/1.0\r\nConnection: no-keep-alive\r\n\r\n",
     [200], CLOSE, None),
    ("1.0 keep-alive among tokens", b"GET / HTTP/1.0\r\nConnection: foo, keep-alive\r\n\r\n",
     [200], KEEP, None),
    ("Expect 100-continue with the body", b"POST / HTTP/1.1\r\n" + H
     + b"Expect: 100-continue\r\nContent-Length: 3\r\n\r\nabc", [200], KEEP, b"len=3"),
    ("Expect other", b"POST / HTTP/1.1\r\n" + H + b"Expect: 200-ok\r\nContent-Length: 3\r\n\r\nabc",
     [417], CLOSE, None),
    ("Expect in HTTP/1.0", b"POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc",
     [200], CLOSE, b"len=3"),
]

PROBE = b"GET /probe HTTP/1.1\r\nHost: probe\r\n\r\n"


def _exchange(ts: TestServer, raw: bytes, answers: int, keep: bool) -> tuple[list, bool, bytes]:
    """Send ``raw``; read ``answers`` responses; then either probe (keep) or
    wait for EOF. Returns (responses, closed, probe body)."""
    s = socket.create_connection(("127.0.0.1", ts.port), timeout=4.0)
    try:
        try:
            s.sendall(raw)
        except OSError:
            pass  # refused early (a 431 mid-send): its answer is still readable
        rd = Responses(s)
        got = []
        for i in range(answers):
            # (a refusal carries its text even to a HEAD, as Go's do: the
            # connection closes after it)
            r = rd.next(head_request=keep and i == 0 and raw.startswith(b"HEAD "))
            if r is None:
                break
            got.append(r)
        if not keep:
            rest = rd.next() if len(got) == answers else None
            assert rest is None, f"an answer beyond those expected: {rest}"
            return got, True, b""
        s.sendall(PROBE)
        probe = rd.next()
        return got, probe is None, probe[2] if probe else b""
    finally:
        s.close()


@pytest.mark.parametrize("name,raw,statuses,conn,text", CASES, ids=[c[0] for c in CASES])
def test_corpus(server, caplog, name, raw, statuses, conn, text):
    with caplog.at_level(logging.ERROR, logger="gonet"):
        got, closed, probe = _exchange(server, raw, len(statuses), conn == KEEP)
    assert [g[0] for g in got] == statuses, [g[:2] for g in got]
    if conn == KEEP:
        assert not closed and probe.startswith(b"GET /probe host=probe"), probe
    else:
        assert closed
        # The server said so before it closed (RFC 9112 9.6).
        assert got[-1][1].get("connection") == "close", got[-1][1]
    if text is not None:
        assert text in got[0][2], got[0][2]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], \
        "client input put an error in the server's log"


def test_the_corpus_covers_every_rfc_9112_framing_section():
    assert len(CASES) >= 100
    ids = [c[0] for c in CASES]
    assert len(set(ids)) == len(ids), "case ids must be unique"


def test_a_garbage_first_line_is_answered_at_once(server):
    # A PROXY-protocol preamble with no blank line after it: 400 as soon as
    # the line is complete, not at read_header_timeout (5 s here).
    s = socket.create_connection(("127.0.0.1", server.port), timeout=4.0)
    t0 = time.monotonic()
    s.sendall(b"PROXY TCP4 192.0.2.1 192.0.2.2 1234 80\r\n")
    got = Responses(s).next()
    assert got is not None and got[0] == 400
    assert time.monotonic() - t0 < 2.0
    s.close()


def test_options_asterisk_is_answered_by_the_server(server):
    s = socket.create_connection(("127.0.0.1", server.port), timeout=4.0)
    s.sendall(b"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n")
    status, headers, body = Responses(s).next()
    s.close()
    assert status == 200 and headers["content-length"] == "0" and body == b""


def test_a_body_cut_short_by_eof_gets_no_answer_and_no_traceback(server, caplog):
    s = socket.create_connection(("127.0.0.1", server.port), timeout=4.0)
    with caplog.at_level(logging.DEBUG, logger="gonet"):
        s.sendall(b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nab")
        s.shutdown(socket.SHUT_WR)
        got = Responses(s).next()
    s.close()
    assert got is None or got[0] == 400
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
