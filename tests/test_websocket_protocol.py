"""WebSocket protocol conformance, frame by frame: a raw TCP client writes
frames by hand (good and bad) and reads the server's with wsproto.

Autobahn's testsuite (fuzzingclient) needs Python 2.7 and Twisted 19, so it
runs by hand (``tests/autobahn/run.py``), not here; these cases stand for
its sections in the suite: 1 framing, 2 pings and pongs, 3 reserved bits,
4 opcodes, 5 fragmentation, 6 UTF-8 (fail-fast included), 7 closing and
close codes, 9 limits. Each protocol error must fail the connection with
the code RFC 6455 7.4.1 gives (1002 protocol error, 1007 invalid data, 1009
too big) and close the TCP connection.
"""

from __future__ import annotations

import itertools
import os
import queue
import socket
import struct

import pytest
from wsproto.connection import Connection, ConnectionType
from wsproto.events import BytesMessage, CloseConnection, Pong, TextMessage

from gonet import websocket
from gonet.http.httptest import TestServer

CONT, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA

ENDED: dict[str, queue.Queue] = {}  # per Peer: how the server's handler saw its WebSocket end
_ids = itertools.count()


def _echo(w, r):
    q = r.url.query()
    ended = ENDED[q.get("id")]
    ws = websocket.accept(w, r, max_message_size=int(q.get("max") or 1 << 20))
    try:
        for msg in ws:
            ws.send(msg)
        ended.put(ws.close_code)
    except websocket.Closed as e:
        ended.put(e.code)


@pytest.fixture(scope="module")
def server():
    with TestServer(_echo) as ts:
        yield ts


def frame(opcode: int, payload: bytes = b"", fin: bool = True, rsv: int = 0, mask: bool = True,
          length: int | None = None) -> bytes:
    """One client frame, built by hand (so it can be wrong on purpose)."""
    n = len(payload) if length is None else length
    b0 = (0x80 if fin else 0) | (rsv << 4) | opcode
    m = 0x80 if mask else 0
    if n < 126:
        head = bytes((b0, m | n))
    elif n < 65536:
        head = bytes((b0, m | 126)) + struct.pack("!H", n)
    else:
        head = bytes((b0, m | 127)) + struct.pack("!Q", n)
    if not mask:
        return head + payload
    key = os.urandom(4)
    masked = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    return head + key + masked


class Peer:
    """A hand-driven client: the upgrade by hand, frames by hand, wsproto reads."""

    def __init__(self, ts: TestServer, path: str = "/") -> None:
        self.id = str(next(_ids))
        self.ended = ENDED[self.id] = queue.Queue()
        path += ("&" if "?" in path else "?") + "id=" + self.id
        self.s = socket.create_connection(("127.0.0.1", ts.port), timeout=5)
        self.s.sendall(f"GET {path} HTTP/1.1\r\nHost: {ts.addr}\r\nUpgrade: websocket\r\n"
                       "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                       "Sec-WebSocket-Version: 13\r\n\r\n".encode())
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = self.s.recv(4096)
            assert chunk, data
            data += chunk
        head, rest = data.split(b"\r\n\r\n", 1)
        assert head.startswith(b"HTTP/1.1 101 "), head
        self.proto = Connection(ConnectionType.CLIENT, trailing_data=rest)
        self.pending: list = []

    def send(self, *frames: bytes, chop: int = 0) -> None:
        data = b"".join(frames)
        if not chop:
            self.s.sendall(data)
            return
        for i in range(0, len(data), chop):
            self.s.sendall(data[i:i + chop])

    def event(self):
        while not self.pending:
            self.pending.extend(self.proto.events())
            if self.pending:
                break
            chunk = self.s.recv(65536)
            if not chunk:
                raise EOFError("the server closed the TCP connection")
            self.proto.receive_data(chunk)
        return self.pending.pop(0)

    def message(self):
        parts = []
        while True:
            ev = self.event()
            assert isinstance(ev, (TextMessage, BytesMessage)), ev
            parts.append(ev.data)
            if ev.message_finished:
                return "".join(parts) if isinstance(ev, TextMessage) else b"".join(parts)

    def expect_close(self) -> int:
        """The server's close frame's code; then the TCP connection must end."""
        while True:
            ev = self.event()
            if isinstance(ev, CloseConnection):
                break
        self.s.settimeout(5)
        while self.s.recv(65536):
            pass
        self.s.close()
        return ev.code

    def close(self) -> None:
        self.s.close()


def _ended(p: Peer) -> int:
    return p.ended.get(timeout=5)


# -- 1. framing -----------------------------------------------------------------------


@pytest.mark.parametrize("n", [0, 1, 125, 126, 127, 128, 65535, 65536, 300000])
@pytest.mark.parametrize("opcode", [TEXT, BINARY])
def test_payload_lengths(server, n, opcode):
    p = Peer(server)
    payload = b"*" * n
    p.send(frame(opcode, payload))
    assert p.message() == (payload.decode() if opcode == TEXT else payload)
    p.send(frame(CLOSE, struct.pack("!H", 1000)))
    assert p.expect_close() == 1000


@pytest.mark.parametrize("chop", [1, 3, 997])
def test_frames_arriving_in_pieces(server, chop):
    p = Peer(server)
    p.send(frame(TEXT, b"hello"), frame(BINARY, b"x" * 5000), frame(PING, b"pp"), chop=chop)
    assert p.message() == "hello"
    assert p.message() == b"x" * 5000
    ev = p.event()
    assert isinstance(ev, Pong) and ev.payload == b"pp"
    p.close()


def test_unmasked_client_frame_is_a_protocol_error(server):
    p = Peer(server)
    p.send(frame(TEXT, b"no mask", mask=False))
    assert p.expect_close() == 1002
    assert _ended(p) == 1002


def test_overlong_length_encoding_is_a_protocol_error(server):
    p = Peer(server)
    key = b"\x00\x00\x00\x00"
    p.send(bytes((0x81, 0x80 | 126)) + struct.pack("!H", 5) + key + b"short")
    assert p.expect_close() == 1002


# -- 2. pings and pongs ---------------------------------------------------------------


@pytest.mark.parametrize("payload", [b"", b"ping!", b"\xff" * 125])
def test_ping_is_answered_with_its_payload(server, payload):
    p = Peer(server)
    p.send(frame(PING, payload))
    ev = p.event()
    assert isinstance(ev, Pong) and ev.payload == payload
    p.close()


def test_ten_pings_ten_pongs_in_order(server):
    p = Peer(server)
    p.send(*[frame(PING, b"%d" % i) for i in range(10)])
    assert [p.event().payload for _ in range(10)] == [b"%d" % i for i in range(10)]
    p.close()


def test_unsolicited_pong_is_ignored(server):
    p = Peer(server)
    p.send(frame(PONG, b"unasked"), frame(TEXT, b"then text"))
    assert p.message() == "then text"
    p.close()


def test_control_frame_over_125_bytes_is_a_protocol_error(server):
    p = Peer(server)
    p.send(frame(PING, b"x" * 126))
    assert p.expect_close() == 1002
    assert _ended(p) == 1002


def test_fragmented_control_frame_is_a_protocol_error(server):
    p = Peer(server)
    p.send(frame(PING, b"half", fin=False))
    assert p.expect_close() == 1002


# -- 3. reserved bits; 4. opcodes -----------------------------------------------------


@pytest.mark.parametrize("rsv", [1, 2, 4, 7])
def test_reserved_bits_without_an_extension_are_a_protocol_error(server, rsv):
    p = Peer(server)
    p.send(frame(TEXT, b"before"), frame(TEXT, b"bad", rsv=rsv))
    assert p.message() == "before"
    assert p.expect_close() == 1002


@pytest.mark.parametrize("opcode", [3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF])
def test_reserved_opcodes_are_a_protocol_error(server, opcode):
    p = Peer(server)
    p.send(frame(TEXT, b"before"), frame(opcode, b"x"))
    assert p.message() == "before"
    assert p.expect_close() == 1002


# -- 5. fragmentation -----------------------------------------------------------------


def test_fragments_with_pings_between_them(server):
    p = Peer(server)
    p.send(frame(TEXT, b"frag", fin=False), frame(PING, b"1"), frame(CONT, b"men", fin=False),
           frame(PING, b"2"), frame(CONT, b"ted"))
    assert p.event().payload == b"1"
    assert p.event().payload == b"2"
    assert p.message() == "fragmented"  # the pongs went out before the whole message
    p.close()


def test_one_byte_fragments(server):
    p = Peer(server)
    data = b"abcdefghij"
    frames = [frame(BINARY, data[:1], fin=False)]
    frames += [frame(CONT, data[i:i + 1], fin=(i == len(data) - 1)) for i in range(1, len(data))]
    p.send(*frames)
    assert p.message() == data
    p.close()


def test_empty_fragments(server):
    p = Peer(server)
    p.send(frame(TEXT, b"", fin=False), frame(CONT, b"", fin=False), frame(CONT, b""))
    assert p.message() == ""
    p.close()


def test_unsolicited_continuation_is_a_protocol_error(server):
    p = Peer(server)
    p.send(frame(CONT, b"out of nowhere"))
    assert p.expect_close() == 1002
    assert _ended(p) == 1002


def test_new_message_inside_a_fragmented_one_is_a_protocol_error(server):
    p = Peer(server)
    p.send(frame(TEXT, b"start", fin=False), frame(TEXT, b"again"))
    assert p.expect_close() == 1002


# -- 6. UTF-8 -------------------------------------------------------------------------


VALID = ["κόσμε", "\u0080", "\u07ff", "\u0800", "\uffff", "\U00010000", "\U0010ffff",
         "\ufeff BOM", "\ue000 private use"]
INVALID = [b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited",  # surrogate
           b"\x80", b"\xbf", b"\xc0\xaf", b"\xe0\x80\xaf", b"\xf4\x90\x80\x80", b"\xfe", b"\xff",
           b"\xc2", b"\xed\xbf\xbf", b"\xf8\x88\x80\x80\x80"]


@pytest.mark.parametrize("text", VALID)
def test_valid_utf8_whole_and_split_at_every_byte(server, text):
    p = Peer(server)
    raw = text.encode()
    p.send(frame(TEXT, raw))
    assert p.message() == text
    for cut in range(1, len(raw)):
        p.send(frame(TEXT, raw[:cut], fin=False), frame(CONT, raw[cut:]))
        assert p.message() == text
    p.close()


@pytest.mark.parametrize("raw", INVALID)
def test_invalid_utf8_is_1007(server, raw):
    p = Peer(server)
    p.send(frame(TEXT, raw))
    assert p.expect_close() == 1007
    assert _ended(p) == 1007


@pytest.mark.parametrize("raw", INVALID[:4])
def test_invalid_utf8_fails_fast_before_the_message_ends(server, raw):
    p = Peer(server)
    p.send(frame(TEXT, b"ok " + raw, fin=False))  # the rest never comes
    assert p.expect_close() == 1007


# -- 7. closing -----------------------------------------------------------------------


def test_close_without_a_status_is_answered_with_none(server):
    p = Peer(server)
    p.send(frame(CLOSE))
    assert p.expect_close() == 1005  # an empty close frame back (wsproto reads it as 1005)
    assert _ended(p) == 1005


@pytest.mark.parametrize("code", [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011,
                                  3000, 3999, 4000, 4999])
def test_valid_close_codes_are_echoed(server, code):
    p = Peer(server)
    p.send(frame(CLOSE, struct.pack("!H", code) + "reason ✓".encode()))
    assert p.expect_close() == code


@pytest.mark.parametrize("code", [0, 999, 1004, 1005, 1006, 1016, 1100, 2000, 2999, 5000, 65535])
def test_invalid_close_codes_are_a_protocol_error(server, code):
    p = Peer(server)
    p.send(frame(CLOSE, struct.pack("!H", code)))
    assert p.expect_close() == 1002


def test_close_with_one_byte_is_a_protocol_error(server):
    p = Peer(server)
    p.send(frame(CLOSE, b"\x03"))
    assert p.expect_close() == 1002


def test_close_reason_in_bad_utf8_is_1007(server):
    p = Peer(server)
    p.send(frame(CLOSE, struct.pack("!H", 1000) + b"\xff\xfe"))
    assert p.expect_close() == 1007


def test_close_with_a_123_byte_reason(server):
    p = Peer(server)
    p.send(frame(CLOSE, struct.pack("!H", 1000) + b"r" * 123))
    assert p.expect_close() == 1000


def test_frames_after_the_close_frame_are_not_answered(server):
    p = Peer(server)
    p.send(frame(TEXT, b"first"), frame(CLOSE, struct.pack("!H", 1000)), frame(TEXT, b"late"),
           frame(PING, b"late"))
    assert p.message() == "first"
    ev = p.event()
    assert isinstance(ev, CloseConnection)  # nothing for the late frames: no echo, no pong
    with pytest.raises(EOFError):
        p.event()


def test_tcp_end_without_a_close_frame_is_1006(server):
    p = Peer(server)
    p.send(frame(TEXT, b"x"))
    assert p.message() == "x"
    p.s.shutdown(socket.SHUT_WR)
    assert _ended(p) == 1006
    p.close()


# -- 9. limits ------------------------------------------------------------------------


def test_declared_oversized_frame_is_1009_before_it_is_all_read(server):
    p = Peer(server, "/?max=100000")
    p.send(frame(BINARY, b"", length=10_000_000))  # the header (and mask) only
    p.send(os.urandom(200_000))  # a fifth of the payload: the rest never comes
    assert p.expect_close() == 1009
    assert _ended(p) == 1009


def test_many_fragments_over_the_limit_are_1009(server):
    p = Peer(server, "/?max=1000")
    p.send(frame(TEXT, b"a" * 400, fin=False), frame(CONT, b"a" * 400, fin=False),
           frame(CONT, b"a" * 400, fin=False))
    assert p.expect_close() == 1009


def test_message_exactly_at_the_limit_passes(server):
    p = Peer(server, "/?max=1000")
    p.send(frame(TEXT, "é".encode() * 500))  # 1,000 bytes, 500 characters
    assert p.message() == "é" * 500
    p.send(frame(TEXT, "é".encode() * 500 + b"e"))
    assert p.expect_close() == 1009


def test_server_frames_are_unmasked_and_minimal(server):
    p = Peer(server)
    p.send(frame(TEXT, b"abc"))
    raw = p.s.recv(65536)
    assert raw == b"\x81\x03abc"
    p.send(frame(BINARY, b"z" * 200))
    raw = b""
    while len(raw) < 204:
        raw += p.s.recv(65536)
    assert raw[:4] == b"\x82\x7e\x00\xc8" and raw[4:] == b"z" * 200
    p.close()


def test_protocol_errors_free_the_connection_slot(server):
    # After many failed connections the server still answers: nothing leaks or wedges.
    for _ in range(50):
        p = Peer(server)
        p.send(frame(TEXT, b"\xff"))
        assert p.expect_close() == 1007
    p = Peer(server)
    p.send(frame(TEXT, b"alive"))
    assert p.message() == "alive"
    p.close()


# -- frame boundaries: wsproto's frames and the fast path's, mixed in one read ---------


def test_mixed_frames_in_one_write_keep_their_order(server):
    p = Peer(server)
    big = b"B" * 70000  # longer than the fast path takes: streamed through wsproto
    p.send(frame(TEXT, b"a"), frame(BINARY, big), frame(TEXT, b"f1", fin=False),
           frame(PING, b"mid"), frame(CONT, b"f2"), frame(TEXT, b"z"), frame(BINARY, b""))
    assert p.message() == "a"
    assert p.message() == big
    assert p.event().payload == b"mid"
    assert p.message() == "f1f2"
    assert p.message() == "z"
    assert p.message() == b""
    p.close()


@pytest.mark.parametrize("head", [
    bytes((0x81, 0x80 | 127)) + struct.pack("!Q", 5),  # 8-byte length for 5 bytes
    bytes((0x81, 0x80 | 127)) + struct.pack("!Q", 300),  # 8-byte length for 300 bytes
])
def test_non_minimal_lengths_are_a_protocol_error(server, head):
    p = Peer(server)
    n = struct.unpack("!Q", head[2:])[0]
    p.send(head + b"\x00\x00\x00\x00" + b"x" * n)
    assert p.expect_close() == 1002


def test_the_client_refuses_a_masked_frame_from_the_server(run):
    def body():
        from wsproto.utilities import generate_accept_token

        import gonet

        ln = gonet.listen("tcp", "127.0.0.1:0")

        def server():
            c = ln.accept()
            head = b""
            while b"\r\n\r\n" not in head:
                head += c.read(4096)
            key = next(h.split(b":", 1)[1].strip() for h in head.split(b"\r\n")
                       if h.lower().startswith(b"sec-websocket-key"))
            c.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                    b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + generate_accept_token(key)
                    + b"\r\n\r\n" + frame(TEXT, b"masked by a server"))
            got = b""
            while True:
                d = c.read(4096)
                if not d:
                    break
                got += d
            c.close()
            return got

        g = gonet.go(server)
        ws = websocket.dial(f"ws://{ln.addr}/", timeout=5)
        with pytest.raises(websocket.Closed) as ei:
            ws.recv()
        assert ei.value.code == 1002
        got = g.join(5)
        assert got[0] == 0x88 and got[1] & 0x80  # a masked close frame from the client...
        key = got[2:6]
        code = bytes(b ^ key[i % 4] for i, b in enumerate(got[6:8]))
        assert code == b"\x03\xea"  # ...with 1002
        ln.close()

    run(body)


def test_frames_sent_right_behind_the_upgrade_request(server):
    s = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    ENDED["eager"] = queue.Queue()
    s.sendall(f"GET /?id=eager HTTP/1.1\r\nHost: {server.addr}\r\nUpgrade: websocket\r\n"
              "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
              "Sec-WebSocket-Version: 13\r\n\r\n".encode()
              + frame(TEXT, b"eager") + frame(BINARY, b"x" * 70000) + frame(TEXT, b"more"))
    data = b""
    while not data.endswith(b"\x81\x04more"):
        chunk = s.recv(65536)
        assert chunk, data[:300]
        data += chunk
    head, frames = data.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 101 ")
    assert frames == (b"\x81\x05eager" + b"\x82\x7f" + struct.pack("!Q", 70000) + b"x" * 70000
                      + b"\x81\x04more")
    s.close()
