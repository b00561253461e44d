"""HTTP layer: gonet.http.wire, the one module on h11: both head parsers agree.

The fast path calls h11's head reader directly; the public path goes through
h11's API. Every case here runs through both and compares what comes out.
"""

from __future__ import annotations

import pytest

from gonet.http.wire import END, NEED_DATA, ProtocolError, RequestParser

PATHS = [pytest.param(True, id="fast"), pytest.param(False, id="public")]


def _parser(fast: bool, max_head: int = 64 * 1024) -> RequestParser:
    p = RequestParser(max_head, fast=fast)
    assert p.fast is fast
    return p


def _fields(head):
    return (head.method, head.target, head.http10, [tuple(t) for t in head.headers], head.host,
            head.content_length, head.chunked, head.close, head.keep_alive10,
            head.expect_continue)


def _body(p: RequestParser) -> bytes:
    out = b""
    while True:
        ev = p.next_body_event()
        if ev is END:
            return out
        assert ev is not NEED_DATA, "body incomplete"
        out += ev


HEADS = [
    b"GET /a?b=c HTTP/1.1\r\nHost: x\r\nX-Y:  z \r\n\r\n",
    b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    b"POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n",
    b"POST /p HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
    b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET http://h.example/x HTTP/1.1\r\nHost: other\r\n\r\n",
]


@pytest.mark.parametrize("raw", HEADS)
def test_both_parsers_give_the_same_head(raw):
    heads = []
    for fast in (True, False):
        p = RequestParser(64 * 1024, fast=fast)
        p.feed(raw)
        h = p.next_head()
        assert h is not None
        heads.append(_fields(h))
    assert all(h == heads[0] for h in heads)


@pytest.mark.parametrize("fast", PATHS)
def test_a_head_fed_byte_by_byte_completes_once(fast):
    p = _parser(fast)
    raw = HEADS[0]
    for b in raw[:-1]:
        p.feed(bytes([b]))
        assert p.next_head() is None
    p.feed(raw[-1:])
    h = p.next_head()
    assert (h.method, h.target, h.host) == ("GET", "/a?b=c", b"x")


@pytest.mark.parametrize("fast", PATHS)
def test_pipelined_requests_with_bodies_keep_their_bytes(fast):
    p = _parser(fast)
    p.feed(b"POST /1 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
           b"POST /2 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nde\r\n0\r\n\r\n"
           b"GET /3 HTTP/1.1\r\nHost: x\r\n\r\nGET /4")
    got = []
    for _ in range(3):
        h = p.next_head()
        if h.has_body:
            p.begin_body(h)
            got.append((h.target, _body(p)))
        else:
            got.append((h.target, b""))
        p.next_request()
    assert got == [("/1", b"abc"), ("/2", b"de"), ("/3", b"")]
    assert p.next_head() is None  # "/4" is an incomplete head
    assert p.take_rest() == b"GET /4"


@pytest.mark.parametrize("fast", PATHS)
def test_a_head_over_the_limit_is_431(fast):
    p = _parser(fast, max_head=1024)
    p.feed(b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 2000 + b"\r\n\r\n")
    with pytest.raises(ProtocolError) as ei:
        p.next_head()
    assert ei.value.status == 431


@pytest.mark.parametrize("fast", PATHS)
def test_a_malformed_request_line_is_400(fast):
    p = _parser(fast)
    p.feed(b"NONSENSE\r\n\r\n")
    with pytest.raises(ProtocolError) as ei:
        p.next_head()
    assert ei.value.status == 400


@pytest.mark.parametrize("fast", PATHS)
def test_a_body_cut_short_by_eof_is_a_protocol_error(fast):
    p = _parser(fast)
    p.feed(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
    h = p.next_head()
    p.begin_body(h)
    assert p.next_body_event() == b"abc"
    assert p.next_body_event() is NEED_DATA
    p.feed(b"")
    with pytest.raises(ProtocolError):
        p.next_body_event()


def test_the_head_parser_fixture_switches_the_path(head_parser):
    assert RequestParser(1024).fast is (head_parser == "fast")


# -- framing decisions (see the table in gonet/http/wire.py) ---------------------------


def _both(raw: bytes):
    """Feed ``raw`` to both parsers; return [(head or status, body or error)] per path."""
    out = []
    for fast in (True, False):
        p = RequestParser(64 * 1024, fast=fast)
        p.feed(raw)
        try:
            h = p.next_head()
        except ProtocolError as e:
            out.append((e.status, None))
            continue
        body = None
        if h is not None and h.has_body:
            p.begin_body(h)
            try:
                body = _body(p)
            except (ProtocolError, AssertionError) as e:
                body = getattr(e, "status", "incomplete")
        out.append((h, body))
    return out


@pytest.mark.parametrize("raw,status", [
    (b"HEAD / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\nabcd", 400),
    (b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
    (b"GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505),
    (b"GET / HTTP/1.1\r\nHost: a\r\nExpect: x\r\n\r\n", 417),
    (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501),
    (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", 400),
])
def test_refusals_agree_on_both_paths(raw, status):
    assert [s for s, _ in _both(raw)] == [status, status]


def test_te_with_cl_drops_the_length_and_closes():
    for h, body in _both(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n"
                         b"Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"):
        assert h.chunked and h.close and h.content_length == -1 and body == b"abc"
        assert [t for t in h.headers if t[1] == b"content-length"] == []


def test_repeated_content_length_becomes_one_field():
    for h, body in _both(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n"
                         b"Content-Length: 3, 3\r\n\r\nabc"):
        assert h.content_length == 3 and body == b"abc"
        assert [t[2] for t in h.headers if t[1] == b"content-length"] == [b"3"]


def test_minor_versions_above_one_are_served_as_1_1():
    for h, _ in _both(b"GET / HTTP/1.7\r\nHost: a\r\n\r\n"):
        assert not h.http10 and not h.close


@pytest.mark.parametrize("fast", PATHS)
def test_a_chunked_body_fed_byte_by_byte(fast):
    raw = (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
           b"3;ext=1\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\nT: v\r\n\r\nGET /next")
    p = _parser(fast)
    i = raw.index(b"\r\n\r\n") + 4
    p.feed(raw[:i])
    h = p.next_head()
    p.begin_body(h)
    assert p.body_left() == -1
    got = b""
    rest = raw[i:]
    while True:
        ev = p.next_body_event()
        if ev is END:
            break
        if ev is NEED_DATA:
            assert rest, "the body never ended"
            p.feed(rest[:1])  # one byte at a time, through every state
            rest = rest[1:]
        else:
            got += ev
    assert got == b"abc0123456789abcdef"
    p.feed(rest)
    p.next_request()
    assert p.take_rest() == b"GET /next"


@pytest.mark.parametrize("fast", PATHS)
def test_body_left_counts_a_declared_length_down(fast):
    p = _parser(fast)
    p.feed(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabcd")
    h = p.next_head()
    p.begin_body(h)
    assert p.body_left() == 10
    assert p.next_body_event() == b"abcd"
    assert p.body_left() == 6


@pytest.mark.parametrize("fast", PATHS)
def test_eof_inside_a_chunk_is_a_protocol_error(fast):
    p = _parser(fast)
    p.feed(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab")
    p.begin_body(p.next_head())
    assert p.next_body_event() == b"ab"
    assert p.next_body_event() is NEED_DATA
    p.feed(b"")
    with pytest.raises(ProtocolError):
        p.next_body_event()


@pytest.mark.parametrize("fast", PATHS)
@pytest.mark.parametrize("first", [b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n", b"\x16\x03\x01",
                                   b"GET / HTTP/1.1 extra\r\n"])
def test_a_bad_first_line_is_refused_before_the_head_ends(fast, first):
    p = _parser(fast)
    p.feed(first)
    with pytest.raises(ProtocolError) as ei:
        p.next_head()
    assert ei.value.status == 400


@pytest.mark.parametrize("fast", PATHS)
def test_a_lone_cr_waits_for_its_lf(fast):
    p = _parser(fast)
    p.feed(b"\r")
    assert p.next_head() is None
    p.feed(b"\nGET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert p.next_head().target == "/"


@pytest.mark.parametrize("fast", PATHS)
@pytest.mark.parametrize("crlf", [b"\r\n", b"\n"])
def test_a_head_arriving_in_pieces_completes_at_every_split(fast, crlf):
    raw = b"GET /x HTTP/1.1" + crlf + b"Host: a" + crlf + b"X: y" + crlf + crlf
    for i in range(1, len(raw)):
        for j in range(i, len(raw)):
            p = _parser(fast)
            got = []
            for piece in (raw[:i], raw[i:j], raw[j:]):
                if piece:
                    p.feed(piece)
                    h = p.next_head()
                    if h is not None:
                        got.append(h.target)
            assert got == ["/x"], (i, j)
