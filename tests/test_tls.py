"""TLS layer: gonet.tls.Conn over gonet Conns, handshakes parked on the netpoller.

Both ends are gonet here (and ssl's own blocking sockets where an outside
view is the point: close_notify on the wire); certificates come from
trustme. HTTPS against httpx, curl and openssl is in test_https.py.
"""

from __future__ import annotations

import datetime
import resource
import socket
import ssl
import threading
import time

import pytest
import trustme
from conftest import run_in_thread

import gonet
from gonet import tls

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """A CA, a server certificate for localhost/127.0.0.1, one for b.example,
    an expired one, a client certificate, and the CA's file."""
    d = tmp_path_factory.mktemp("pki")
    ca = trustme.CA()
    files = {"ca": d / "ca.pem"}
    ca.cert_pem.write_to_path(str(files["ca"]))
    past = datetime.datetime(2001, 1, 1, tzinfo=datetime.timezone.utc)
    for name, cert in {
        "server": ca.issue_cert("localhost", "127.0.0.1"),
        "b": ca.issue_cert("b.example"),
        "expired": ca.issue_cert("localhost", "127.0.0.1", not_before=past - datetime.timedelta(days=1), not_after=past),
        "client": ca.issue_cert("client@example"),
    }.items():
        p = files[name] = d / f"{name}.pem"
        cert.private_key_and_cert_chain_pem.write_to_path(str(p))
    return {k: str(v) for k, v in files.items()}


def _serve(ln, handler):
    """Accept on ``ln`` in a goroutine, each connection handled by ``handler(c)``."""

    def accept_loop():
        for c in ln:
            gonet.go(handler, c)

    return gonet.go(accept_loop)


def _echo(c):
    with c:
        while True:
            try:
                d = c.read()
            except OSError:
                return
            if not d:
                return
            c.write(d)


def _client_ctx(pki, alpn=None):
    return tls.client_context(pki["ca"], alpn=alpn)


def test_echo_and_connection_state(run, pki):
    def body():
        seen = {}

        def handler(c):
            c.handshake()
            seen["server"] = c.connection_state()
            _echo(c)

        ln = tls.listen("tcp", "127.0.0.1:0", tls.server_context(pki["server"]))
        _serve(ln, handler)
        c = tls.dial("tcp", f"localhost:{ln.addr.port}", _client_ctx(pki, ["h2", "http/1.1"]),
                     timeout=5)
        assert c.write(b"ping") == 4
        assert c.read() == b"ping"
        cs = c.connection_state()
        c.close()
        ln.close()
        return cs, seen["server"]

    cs, server_cs = run(body)
    assert cs.handshake_complete and cs.version in ("TLSv1.2", "TLSv1.3")
    assert cs.cipher_suite and cs.negotiated_protocol == "http/1.1"
    assert cs.server_name == "localhost" and not cs.did_resume
    assert cs.peer_certificates and isinstance(cs.peer_certificates[0], bytes)
    assert ("DNS", "localhost") in cs.peer_certificate["subjectAltName"]
    # The server saw the SNI name the client sent, and the same agreement.
    assert server_cs.server_name == "localhost"
    assert server_cs.negotiated_protocol == "http/1.1" and server_cs.version == cs.version
    assert server_cs.peer_certificates == []  # no client certificate asked


def test_handshake_fails_on_wrong_host_name(run, pki):
    def body():
        ln = tls.listen("tcp", "127.0.0.1:0", tls.server_context(pki["server"]))
        _serve(ln, _echo)
        with pytest.raises(tls.HandshakeError) as ei:
            tls.dial("tcp", f"127.0.0.1:{ln.addr.port}", _client_ctx(pki), timeout=5,
                     server_hostname="wrong.example")
        ln.close()
        return ei.value

    e = run(body)
    assert isinstance(e, ssl.SSLError)
    assert e.reason == "CERTIFICATE_VERIFY_FAILED"
    assert "wrong.example" in str(e) and "127.0.0.1:" in str(e) and str(e).startswith("tls: handshake")


def test_handshake_fails_on_expired_certificate(run, pki):
    def body():
        errs = []

        def handler(c):
            try:
                c.handshake()
            except tls.HandshakeError as e:
                errs.append(e)
            c.close()

        ln = tls.listen("tcp", "127.0.0.1:0", tls.server_context(pki["expired"]))
        _serve(ln, handler)
        with pytest.raises(tls.HandshakeError) as ei:
            tls.dial("tcp", f"localhost:{ln.addr.port}", _client_ctx(pki), timeout=5)
        while not errs:
            gonet.sleep(0.01)
        ln.close()
        return ei.value, errs[0]

    e, server_side = run(body)
    assert e.reason == "CERTIFICATE_VERIFY_FAILED" and "expired" in str(e)
    # The server hears of it too: the client's alert, named after the client.
    assert "127.0.0.1:" in str(server_side) and server_side.reason


def test_client_certificate_required_and_missing(run, pki):
    def body():
        errs = []

        def handler(c):
            try:
                c.handshake()
                errs.append(c.connection_state())
            except tls.HandshakeError as e:
                errs.append(e)
            c.close()

        sctx = tls.server_context(pki["server"], ca_certs=pki["ca"], cert_reqs=ssl.CERT_REQUIRED)
        ln = tls.listen("tcp", "127.0.0.1:0", sctx)
        _serve(ln, handler)
        # Without a certificate: the server refuses (under TLS 1.3 the client
        # learns it on its first read).
        c = tls.dial("tcp", f"localhost:{ln.addr.port}", _client_ctx(pki), timeout=5)
        c.set_deadline(time.monotonic() + 5)
        with pytest.raises(ssl.SSLError) as ei:
            c.write(b"x")
            c.read()
        c.close()
        while not errs:
            gonet.sleep(0.01)
        refused = errs.pop()
        # With one: accepted, and the server sees it.
        cctx = tls.client_context(pki["ca"], certfile=pki["client"])
        c = tls.dial("tcp", f"localhost:{ln.addr.port}", cctx, timeout=5)
        c.write(b"x")
        while not errs:
            gonet.sleep(0.01)
        c.close()
        ln.close()
        return ei.value, refused, errs[0]

    client_err, refused, accepted = run(body)
    assert "CERTIFICATE" in (client_err.reason or "") or "certificate" in str(client_err)
    assert isinstance(refused, tls.HandshakeError) and "certificate" in str(refused).lower()
    assert accepted.peer_certificates
    assert ("email", "client@example") in accepted.peer_certificate["subjectAltName"]


def test_sni_picks_the_certificate(run, pki):
    def body():
        other = tls.server_context(pki["b"])
        names = []

        def pick(name):
            names.append(name)
            return other if name == "b.example" else None

        ln = tls.listen("tcp", "127.0.0.1:0", tls.server_context(pki["server"], get_certificate=pick))
        _serve(ln, _echo)
        out = []
        for host in ("b.example", "localhost"):
            c = tls.dial("tcp", f"127.0.0.1:{ln.addr.port}", _client_ctx(pki), timeout=5,
                         server_hostname=host)
            c.write(b"hi")
            assert c.read() == b"hi"
            out.append(c.connection_state().peer_certificate["subjectAltName"])
            c.close()
        ln.close()
        return names, out

    names, sans = run(body)
    assert names == ["b.example", "localhost"]
    assert sans[0] == (("DNS", "b.example"),)
    assert ("DNS", "localhost") in sans[1]


def test_alpn_offers_only_http11(run, pki):
    def body():
        ln = tls.listen("tcp", "127.0.0.1:0", tls.server_context(pki["server"]))
        _serve(ln, _echo)
        got = []
        for offer in (["h2", "http/1.1"], ["h2"], None):
            c = tls.dial("tcp", f"localhost:{ln.addr.port}", _client_ctx(pki, offer), timeout=5)
            got.append(c.connection_state().negotiated_protocol)
            c.close()
        ln.close()
        return got

    assert run(body) == ["http/1.1", None, None]


def test_close_notify_both_ways(pki):
    """Seen from ssl's own blocking sockets, which tell close_notify (recv
    returns b"") from a bare TCP close (SSLEOFError) when ragged EOFs are
    not suppressed."""
    box = {}

    def handler(c):
        c.handshake()
        data = b""
        while True:  # the client half-closes with close_notify: read to EOF
            d = c.read()
            if not d:
                break
            data += d
        c.close()  # ours goes out with close
        box["server_read"] = data

    port, t = _serve_one_tls(pki, handler)
    ctx = ssl.create_default_context(cafile=pki["ca"])
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    s = ctx.wrap_socket(raw, server_hostname="localhost", suppress_ragged_eofs=False)
    s.sendall(b"hello")
    s.unwrap()  # sends close_notify, then waits for the server's: a bare close would raise
    t.join(10)
    assert box["server_read"] == b"hello"


def test_close_notify_from_server_then_reply(pki):
    box = {}

    def handler(c):
        c.write(b"bye")
        c.close_write()  # close_notify; we still read
        box["after"] = c.read()
        with pytest.raises(OSError):
            c.write(b"more")

    port, t = _serve_one_tls(pki, handler)
    ctx = ssl.create_default_context(cafile=pki["ca"])
    s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=10),
                        server_hostname="localhost", suppress_ragged_eofs=False)
    data = b""
    while True:
        d = s.recv(100)  # raises SSLEOFError on a close without close_notify
        if not d:
            break
        data += d
    assert data == b"bye"
    s.sendall(b"last words")
    t.join(10)
    s.close()
    assert box["after"] == b"last words"


def test_close_write_keeps_what_the_peer_sent_before_it(pki):
    # The peer's bytes are in our socket when close_notify goes out: sending
    # it must not read (OpenSSL's second SSL_shutdown discards what it reads).
    sent = threading.Event()
    box = {}

    def handler(c):
        c.write(b"bye")
        assert gonet.blocking(sent.wait, 10)
        c.close_write()
        c.set_read_deadline(time.monotonic() + 10)
        box["after"] = c.read()

    port, t = _serve_one_tls(pki, handler)
    ctx = ssl.create_default_context(cafile=pki["ca"])
    s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=10),
                        server_hostname="localhost")
    assert s.recv(100) == b"bye"
    s.sendall(b"early words")  # on loopback, in the server's socket when sendall returns
    sent.set()
    t.join(10)
    s.close()
    assert box["after"] == b"early words"


def _serve_one_tls(pki, handler):
    """Accept one gonet.tls connection on a thread of its own and run
    ``handler(conn)`` on it; returns (port, thread)."""
    ready = threading.Event()
    box = {}

    def server_main():
        ln = tls.listen("tcp", "127.0.0.1:0", tls.server_context(pki["server"]))
        box["port"] = ln.addr.port
        ready.set()
        c = ln.accept()
        try:
            handler(c)
        finally:
            c.close()
            ln.close()

    t = threading.Thread(target=lambda: run_in_thread(server_main), daemon=True)
    t.start()
    assert ready.wait(10)
    return box["port"], t


def test_handshake_deadline_cuts_a_silent_peer(run, pki):
    def body():
        ln = tls.listen("tcp", "127.0.0.1:0", tls.server_context(pki["server"]))
        raw = gonet.dial("tcp", f"127.0.0.1:{ln.addr.port}")  # TCP only: never says hello
        c = ln.accept()
        t0 = time.monotonic()
        c.set_deadline(t0 + 0.3)
        with pytest.raises(gonet.DeadlineExceededError) as ei:
            c.handshake()
        took = time.monotonic() - t0
        # The client side: a server that accepts and never answers.
        plain = gonet.listen("tcp", "127.0.0.1:0")
        t1 = time.monotonic()
        with pytest.raises(TimeoutError):
            tls.dial("tcp", f"localhost:{plain.addr.port}", _client_ctx(pki), timeout=0.3)
        took2 = time.monotonic() - t1
        for x in (raw, c, ln, plain):
            x.close()
        return ei.value, took, took2

    e, took, took2 = run(body)
    assert "i/o timeout" in str(e)
    assert 0.25 < took < 3.0 and 0.25 < took2 < 3.0


def test_read_deadline_and_close_wake_a_parked_read(run, pki):
    def body():
        ln = tls.listen("tcp", "127.0.0.1:0", tls.server_context(pki["server"]))
        held = []

        def handler(c):
            c.handshake()
            held.append(c)  # silent: never writes

        _serve(ln, handler)
        c = tls.dial("tcp", f"localhost:{ln.addr.port}", _client_ctx(pki), timeout=5)
        t0 = time.monotonic()
        c.set_read_deadline(t0 + 0.2)
        with pytest.raises(TimeoutError) as ei:
            c.read()
        took = time.monotonic() - t0
        c.set_read_deadline(None)
        # close from another goroutine wakes the parked reader
        g = gonet.go(lambda: c.read())
        gonet.sleep(0.05)
        c.close()
        with pytest.raises(gonet.ClosedError):
            g.join(5)
        ln.close()
        return ei.value, took

    e, took = run(body)
    assert isinstance(e, gonet.DeadlineExceededError) and "read tcp" in str(e)
    assert 0.15 < took < 3.0


def test_buffered_plaintext_is_read_without_waiting(run, pki):
    """DESIGN.md mechanism 10: OpenSSL decrypts a whole record; what a small
    read leaves is served by the next reads and by read_later, with no new
    bytes arriving on the socket to wake anyone."""

    def body():
        ln = tls.listen("tcp", "127.0.0.1:0", tls.server_context(pki["server"]))
        done = gonet.Chan()

        def handler(c):
            c.write(bytes(range(200)) * 5)  # one record of 1000 bytes
            done.recv()  # then silence, connection open
            c.close()

        _serve(ln, handler)
        c = tls.dial("tcp", f"localhost:{ln.addr.port}", _client_ctx(pki), timeout=5)
        c.set_read_deadline(time.monotonic() + 3)
        got = c.read(10)
        while len(got) < 500:
            got += c.read(10)
        # read_later must start at once: the rest is in OpenSSL, not on the socket
        box = []
        g = c.read_later(lambda: box.append(c.read(1000)))
        g.join(3)
        done.send(None)
        c.close()
        ln.close()
        return got + box[0]

    assert run(body) == bytes(range(200)) * 5


def test_full_duplex_large_transfers(run, pki):
    """One goroutine writes 2 MB while another reads 2 MB on the same Conn,
    on both ends: the reads and writes interleave, and park on full socket
    buffers without blocking each other."""
    size = 2 << 20

    def body():
        ln = tls.listen("tcp", "127.0.0.1:0", tls.server_context(pki["server"]))

        def pump(c):
            def reader():
                n = 0
                while n < size:
                    d = c.read(65536)
                    assert d
                    n += len(d)
                return n

            g = gonet.go(reader)
            c.write(b"s" * size)
            return g.join(20)

        results = gonet.Chan(1)
        _serve(ln, lambda c: results.send(pump(c)))
        c = tls.dial("tcp", f"localhost:{ln.addr.port}", _client_ctx(pki), timeout=5)
        mine = pump(c)
        theirs = results.recv()
        c.close()
        ln.close()
        return mine, theirs

    assert run(body) == (size, size)


def test_tls_over_any_conn_socketpair(run, pki):
    def body():
        a, b = socket.socketpair()
        ca, cb = gonet.file_conn(a), gonet.file_conn(b)
        a.close()
        b.close()
        s = tls.server(ca, tls.server_context(pki["server"]))
        c = tls.client(cb, _client_ctx(pki), server_hostname="localhost")
        g = gonet.go(s.handshake)
        c.handshake()
        g.join(5)
        c.write(b"over a socketpair")
        got = s.read()
        s.close()
        assert c.read() == b""  # close_notify reads as EOF
        c.close()
        return got, s.connection_state().version

    got, version = run(body)
    assert got == b"over a socketpair" and version.startswith("TLS")


def test_session_resumption(run, pki):
    def body():
        ln = tls.listen("tcp", "127.0.0.1:0", tls.server_context(pki["server"]))
        _serve(ln, _echo)
        cctx = _client_ctx(pki)
        c = tls.dial("tcp", f"localhost:{ln.addr.port}", cctx, timeout=5)
        c.write(b"x")
        c.read()  # TLS 1.3 tickets arrive after the handshake: read to take them
        session = c.session
        c.close()
        raw = gonet.dial("tcp", f"127.0.0.1:{ln.addr.port}")
        c2 = tls.client(raw, cctx, server_hostname="localhost", session=session)
        c2.write(b"y")
        c2.read()
        state = c2.connection_state()
        c2.close()
        ln.close()
        return state.did_resume

    assert run(body) is True


def test_certificate_reload_without_restart(run, pki):
    def body():
        ctx = tls.server_context(pki["server"])
        ln = tls.listen("tcp", "127.0.0.1:0", ctx)
        _serve(ln, _echo)
        cctx = _client_ctx(pki)
        sans = []
        for reload in (False, True):
            if reload:
                tls.load_cert_chain(ctx, pki["b"])  # a renewed certificate
            c = tls.dial("tcp", f"127.0.0.1:{ln.addr.port}", cctx, timeout=5,
                         server_hostname="localhost" if not reload else "b.example")
            sans.append(c.connection_state().peer_certificate["subjectAltName"])
            c.close()
        ln.close()
        return sans

    sans = run(body)
    assert ("DNS", "localhost") in sans[0] and sans[1] == (("DNS", "b.example"),)


def test_bad_certificate_files_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.pem"):
        tls.server_context(str(tmp_path / "nope.pem"))
    bad = tmp_path / "bad.pem"
    bad.write_text("not a certificate")
    with pytest.raises(ssl.SSLError, match="bad.pem"):
        tls.server_context(str(bad))


def test_a_thousand_concurrent_handshakes(pki):
    """1,000 clients handshake with one gonet server at once, in one
    scheduler: every handshake parks, none blocks the others."""
    n = 1000
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 3 * n:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4 * n), hard))

    def body():
        ln = tls.listen("tcp", "127.0.0.1:0", tls.server_context(pki["server"]))
        _serve(ln, _echo)
        cctx = _client_ctx(pki)
        addr = f"localhost:{ln.addr.port}"
        start = gonet.Chan()

        def client(i):
            start.recv_ok()  # all start together, when start is closed
            c = tls.dial("tcp", addr, cctx, timeout=40)
            msg = str(i).encode()
            c.write(msg)
            got = c.read()
            c.close()
            return got == msg

        gs = [gonet.go(client, i) for i in range(n)]
        t0 = time.monotonic()
        start.close()
        ok = sum(g.join(50) for g in gs)
        took = time.monotonic() - t0
        ln.close()
        return ok, took

    ok, took = run_in_thread(body, timeout=55)
    assert ok == n
    assert took < 45
