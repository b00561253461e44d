"""gonet.http.wire's client side: ClientCodec on both paths, held to one answer.

The fast path splits response heads itself and sends what it does not
accept to h11's reader; h11's public API is the other path. A corpus of
heads, good and bad, must come out the same through both (the same fields,
the same leftover bytes, or an error on both).
"""

from __future__ import annotations

import pytest

from gonet.http import wire

pytestmark = pytest.mark.skipif(wire._client_fast is None, reason="this h11 has no fast path")

CORPUS = [
    b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc",
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Empty:\r\nX-Sp:   a  b   \r\n\r\n",
    b"HTTP/1.0 404 Not Found\r\nServer: x\r\n\r\nrest",
    b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n\r\n",
    b"HTTP/1.1 204\r\nConnection: close\r\n\r\n",
    b"HTTP/1.1 200 \r\n\r\n",
    b"HTTP/1.1 599 Odd\tReason \x80\xff\r\nA: b\r\n\r\n",
    b"HTTP/1.1 200 OK\nA: b\n\nrest",  # bare LF: h11's reader
    b"HTTP/1.1 200 OK\r\nA: b\r\n  folded\r\n\r\n",  # obs-fold: h11's reader
    b"HTTP/1.1 200 OK\r\nA: \x01b\x7f\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nA: b\rc\r\n\r\n",  # bare CR
    b"HTTP/1.1 200 OK\r\nA: b\x00\r\n\r\n",  # NUL
    b"HTTP/1.1 200 OK\r\nA b: c\r\n\r\n",  # space in a name
    b"HTTP/1.1 200 OK\r\n: c\r\n\r\n",  # empty name
    b"HTTP/1.1 200 OK\r\nNoColon\r\n\r\n",
    b"HTTP/1.1 20 OK\r\n\r\n",
    b"HTTP/1.1 2000 OK\r\n\r\n",
    b"HTTP/2 200 OK\r\n\r\n",
    b"HTTP/1.1200 OK\r\n\r\n",
    b"ICY 200 OK\r\n\r\n",
    b"\r\nHTTP/1.1 200 OK\r\n\r\n",
    b" HTTP/1.1 200 OK\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx",
    b"HTTP/1.1 200 OK\r\nContent-Length: 1, 1\r\n\r\nx",
    b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nx",
    b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\nContent-Length: 5\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n",  # head only: the body is not its business
]


def _outcome(fn, sample):
    try:
        return fn(sample)
    except Exception as e:  # noqa: BLE001 - the kind of failure is what is compared
        return type(e).__name__


@pytest.mark.parametrize("sample", CORPUS, ids=range(len(CORPUS)))
def test_both_paths_read_a_head_alike(sample):
    fast = _outcome(wire._fast_head_parts, sample)
    public = _outcome(wire._public_head, sample)
    # h11's errors are LocalProtocolError/RemoteProtocolError, the fast
    # path's (and h11's as the codec reports them) ProtocolError: an error
    # on both sides is agreement.
    if isinstance(fast, str) or isinstance(public, str):
        assert isinstance(fast, str) and isinstance(public, str), (fast, public)
    else:
        assert fast == public


def _codec(fast):
    c = wire.ClientCodec(1 << 20, fast=fast)
    assert c.fast is fast
    return c


def _body(c):
    out = []
    while True:
        ev = c.next_body_event()
        if ev is wire.END:
            return b"".join(out)
        if ev is wire.NEED_DATA:
            return None
        out.append(ev)


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "public"])
def test_codec_frames_bodies(fast):
    cases = [
        ("GET", b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", b"hello", True),
        ("GET", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                b"3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\nTrailer: x\r\n\r\n", b"abcde", True),
        ("HEAD", b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", b"", True),
        ("GET", b"HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n", b"", True),
    ]
    for method, data, body, reusable in cases:
        c = _codec(fast)
        c.request_head(method, "/", [("Host", "a")], None)
        c.feed(data)
        head = c.next_head()
        c.begin_body(head)
        assert _body(c) == body, (method, data)
        assert c.next_cycle() is reusable and not head.close


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "public"])
def test_codec_reads_until_eof_and_reports_truncation(fast):
    c = _codec(fast)
    c.request_head("GET", "/", [("Host", "a")], None)
    c.feed(b"HTTP/1.0 200 OK\r\n\r\nsome")
    head = c.next_head()
    c.begin_body(head)
    assert head.close and c.next_body_event() == b"some"
    assert c.next_body_event() is wire.NEED_DATA
    c.feed(b" more")
    assert c.next_body_event() == b" more"
    c.feed_eof()
    assert c.next_body_event() is wire.END
    c = _codec(fast)
    c.request_head("GET", "/", [("Host", "a")], None)
    c.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort")
    c.begin_body(c.next_head())
    assert c.next_body_event() == b"short"
    c.feed_eof()
    with pytest.raises(wire.ProtocolError, match="unexpected EOF"):
        c.next_body_event()


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "public"])
def test_codec_writes_requests_and_chunked_bodies(fast):
    c = _codec(fast)
    head = c.request_head("POST", "/up?x=1", [("Host", "h:1"), ("Transfer-Encoding", "chunked"),
                                              ("X-A", "v")], -1)
    assert head == (b"POST /up?x=1 HTTP/1.1\r\nHost: h:1\r\nTransfer-Encoding: chunked\r\n"
                    b"X-A: v\r\n\r\n")
    assert c.body_data(b"abc") == b"3\r\nabc\r\n"
    assert c.body_end() == b"0\r\n\r\n"


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "public"])
def test_codec_refuses_an_oversized_head(fast):
    c = wire.ClientCodec(100, fast=fast)
    c.request_head("GET", "/", [("Host", "a")], None)
    c.feed(b"HTTP/1.1 200 OK\r\nX: " + b"a" * 200)
    with pytest.raises(wire.ProtocolError, match="exceeded 100 bytes"):
        c.next_head()
