"""HTTP layer: mutated requests and pipelines against a real server (hypothesis).

Valid requests and pipelines are mutated (bytes inserted, deleted, replaced,
lines doubled, line ends changed, framing fields spliced in) and sent on a
fresh connection, once through each head parser, then the client half-closes
and reads to EOF. The invariants:

- the two head parsers answer the same statuses in the same order (they are
  independent readers of the head: a disagreement is where a proxy and a
  server could disagree too);
- never more requests served than request-lines in the bytes (no request is
  answered twice), and a refusal only as the last answer (it ends the
  connection: nothing after it is read as a request);
- never a 5xx other than 501/505 for what only the client can have got wrong
  (the handler here cannot fail);
- the server closes well within its timeouts (never a hang);
- nothing at ERROR level, and no traceback, in the server's log.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gonet.http import wire
from gonet.http.httptest import TestServer

SEEDS = [
    b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
    b"GET /p?q=1 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    b"POST /f HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello",
    b"POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    b"POST /t HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2;x=y\r\nab\r\n0\r\nT: v\r\n\r\n",
    b"HEAD / HTTP/1.1\r\nHost: a\r\n\r\n",
    b"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
    b"GET http://h.example/x HTTP/1.1\r\nHost: a\r\n\r\n",
    b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
    b"PUT /e HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc",
    # pipelines
    b"GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n",
    b"POST /1 HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabcGET /2 HTTP/1.1\r\nHost: a\r\n\r\n",
    b"POST /1 HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n"
    b"GET /2 HTTP/1.1\r\nHost: a\r\n\r\n",
    # smuggling shapes to start from
    b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"0\r\n\r\nGET /s HTTP/1.1\r\nHost: a\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n"
    b"8\r\nSMUGGLED\r\n0\r\n\r\n",
]

TOKENS = [
    b"\r\n", b"\n", b"\r", b" ", b"\t", b"\x00", b"\x7f", b"\x0b", b"\x1b", b"\xff", b":", b",",
    b";", b"0", b"1", b"f", b"-", b"+", b"chunked", b"Chunked", b"gzip, ", b"HTTP/1.0",
    b"HTTP/2.0", b"HTTP/1.2", b"\r\n\r\n", b"Transfer-Encoding: chunked\r\n",
    b"Transfer-Encoding : chunked\r\n", b"Content-Length: 5\r\n", b"Content-Length: 0\r\n",
    b"Content-Length: 99999999999999999999\r\n", b"Host: x\r\n", b"Connection: close\r\n",
    b"Connection: keep-alive\r\n", b"Expect: 100-continue\r\n", b"X: a\r\n b\r\n",
    b"GET /s HTTP/1.1\r\nHost: s\r\n\r\n", b"fffffffffffffffff", b"0\r\n\r\n", b"%", b"#", b"*",
]

_op = st.tuples(
    st.sampled_from(["insert", "delete", "replace", "dupline", "case", "lf", "splice"]),
    st.floats(min_value=0.0, max_value=1.0),
    st.one_of(st.sampled_from(TOKENS), st.binary(min_size=1, max_size=6)),
    st.integers(min_value=1, max_value=8),
)


def mutate(data: bytes, ops: list) -> bytes:
    for kind, where, payload, n in ops:
        i = int(where * len(data))
        if kind == "insert":
            data = data[:i] + payload + data[i:]
        elif kind == "delete":
            data = data[:i] + data[i + n:]
        elif kind == "replace":
            data = data[:i] + payload + data[i + len(payload):]
        elif kind == "dupline":
            start = data.rfind(b"\n", 0, i) + 1
            end = data.find(b"\n", i)
            if end > 0:
                data = data[:end + 1] + data[start:end + 1] + data[end + 1:]
        elif kind == "case":
            data = data[:i] + data[i:i + n].swapcase() + data[i + n:]
        elif kind == "lf":
            data = data.replace(b"\r\n", b"\n", n)
        else:  # splice in another seed
            other = SEEDS[n % len(SEEDS)]
            data = data[:i] + other + data[i:]
    return data


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.bad: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.ERROR or record.exc_info:
            self.bad.append(record)


def ok(w, r):
    r.body.read()
    w.write(b"ok")  # nothing that looks like a status line


@pytest.fixture(scope="module")
def fuzz_server():
    records = _Records()
    logger = logging.getLogger("gonet")
    logger.addHandler(records)
    old = logger.level
    logger.setLevel(logging.DEBUG)
    ts = TestServer(ok, read_header_timeout=1.0, read_timeout=1.0, max_header_bytes=4096)
    yield ts, records
    ts.close(timeout=2.0)
    logger.removeHandler(records)
    logger.setLevel(old)


_STATUS = re.compile(rb"HTTP/1\.1 (\d{3}) ")


def _exchange(port: int, data: bytes) -> tuple[list[int], float]:
    s = socket.create_connection(("127.0.0.1", port), timeout=6.0)
    t0 = time.monotonic()
    try:
        try:
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # refused early: the answer is still to be read
        out = b""
        while True:
            try:
                d = s.recv(65536)
            except ConnectionResetError:
                break
            if not d:
                break
            out += d
    finally:
        s.close()
    return [int(m) for m in _STATUS.findall(out) if not m.startswith(b"1")], time.monotonic() - t0


# A fixed, modest run in the suite; GONET_FUZZ_EXAMPLES=N runs N random examples.
_EXAMPLES = int(os.environ.get("GONET_FUZZ_EXAMPLES", "0"))


@settings(max_examples=_EXAMPLES or 150, deadline=None, derandomize=not _EXAMPLES,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(seed=st.sampled_from(SEEDS), ops=st.lists(_op, min_size=1, max_size=4))
def test_mutated_requests_keep_the_invariants(fuzz_server, seed, ops):
    ts, records = fuzz_server
    data = mutate(seed, ops)
    answers = {}
    saved = wire.FAST_HEAD
    try:
        for path in (True, False):
            wire.FAST_HEAD = path  # read when the server accepts the connection
            statuses, took = _exchange(ts.port, data)
            assert took < 5.0, f"the server took {took:.1f} s to answer and close"
            answers[path] = statuses
    finally:
        wire.FAST_HEAD = saved
    fast, public = answers[True], answers[False]
    assert fast == public, f"the head parsers disagree on {data!r}: {fast} != {public}"
    # Each 2xx answers a request-line of the bytes (each has its " HTTP/");
    # a refusal ends the connection, so it can only come last.
    served = [s for s in fast if s < 300]
    assert len(served) <= data.count(b" HTTP/"), (data, fast)
    assert all(s < 300 for s in fast[:-1]), (data, fast)
    assert all(s < 500 or s in (501, 505) for s in fast), (data, fast)
    assert not records.bad, [r.getMessage() for r in records.bad]
