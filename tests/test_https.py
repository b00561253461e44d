"""HTTP over TLS: gonet.http serving HTTPS to real clients (httpx, curl,
openssl s_client) with verification on; the handshake in the connection's
goroutine under the server's timeouts; plain HTTP on a TLS port; idle
release of TLS keep-alive connections."""

from __future__ import annotations

import io
import shutil
import socket
import ssl
import subprocess
import threading
import time

import httpx
import pytest
from conftest import run_in_thread

import gonet
from gonet import http
from gonet.http.httptest import TestServer
from gonet.http.wsgi import WSGIHandler

pytestmark = pytest.mark.timeout(60)


def _needs(tool: str) -> None:
    # CI installs curl and openssl (.ci/run); a developer's machine may lack them.
    if shutil.which(tool) is None:
        pytest.skip(f"{tool} is not installed (apt-get install {tool})")


def info(w, r):
    st = r.tls
    w.header().set("Content-Type", "text/plain")
    w.write(f"{r.url.scheme} {st.version} {st.negotiated_protocol} {st.server_name} "
            f"{r.remote_addr}".encode())


def test_httpx_with_verification_and_keep_alive():
    with TestServer(info, tls=True) as ts, ts.client() as c:
        assert ts.url.startswith("https://")
        bodies = [c.get("/").text.split() for _ in range(3)]
    scheme, version, alpn, sni, remote = bodies[0]
    assert scheme == "https" and version.startswith("TLSv1.") and alpn == "http/1.1"
    assert sni == "None"  # httpx to an IP address sends no SNI
    assert len({b[4] for b in bodies}) == 1  # one connection, kept alive


def test_request_tls_is_none_on_plain_http():
    # r.url's scheme is the connection's (RFC 9112 3.3), "http" on plain TCP
    # (Go leaves it empty for an origin-form target).
    def h(w, r):
        w.write(f"{r.tls} {r.url.scheme!r}".encode())

    with TestServer(h) as ts:
        assert httpx.get(ts.url).text == "None 'http'"


def test_wsgi_url_scheme_is_https():
    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [environ["wsgi.url_scheme"].encode()]

    with TestServer(WSGIHandler(app), tls=True) as ts, ts.client() as c:
        assert c.get("/").text == "https"


def test_curl_verifies_and_gets_http11_by_alpn():
    _needs("curl")
    with TestServer(info, tls=True) as ts:
        url = f"https://localhost:{ts.port}/"
        p = subprocess.run(["curl", "-sS", "-v", "--cacert", ts.ca_file, url],
                           capture_output=True, text=True, timeout=20)
        assert p.returncode == 0, p.stderr
        assert p.stdout.split()[:4] == ["https", p.stdout.split()[1], "http/1.1", "localhost"]
        assert "ALPN" in p.stderr and "http/1.1" in p.stderr
        # Without the CA, curl refuses the certificate (exit 60), and the
        # server goes on serving.
        bad = subprocess.run(["curl", "-sS", url], capture_output=True, text=True, timeout=20)
        assert bad.returncode == 60, bad.stderr
        again = subprocess.run(["curl", "-sS", "--cacert", ts.ca_file, url],
                               capture_output=True, text=True, timeout=20)
        assert again.returncode == 0 and again.stdout.startswith("https ")


def test_openssl_s_client():
    _needs("openssl")
    with TestServer(info, tls=True) as ts:
        req = "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
        p = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{ts.port}",
                            "-servername", "localhost", "-CAfile", ts.ca_file,
                            "-alpn", "http/1.1", "-ign_eof"],
                           input=req, capture_output=True, text=True, timeout=20)
    out = p.stdout
    assert "Verify return code: 0 (ok)" in out, out
    assert "ALPN protocol: http/1.1" in out
    assert "HTTP/1.1 200 OK" in out and "https TLSv1.3 http/1.1 localhost" in out


def test_plain_http_on_a_tls_port_gets_gos_400():
    with TestServer(info, tls=True) as ts:
        with socket.create_connection(("127.0.0.1", ts.port), timeout=5) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            data = b""
            while True:
                d = s.recv(4096)
                if not d:
                    break  # and the server closed the connection
                data += d
        with ts.client() as c:
            assert c.get("/").status_code == 200  # the server is fine
    assert data == b"HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n"


@pytest.mark.parametrize("timeouts", [
    {"read_header_timeout": 0.5},
    {"read_header_timeout": None, "write_timeout": 0.5, "idle_timeout": 30},
])
def test_tls_slowloris_is_cut_by_the_smallest_timeout(timeouts):
    """A client that starts a handshake and stalls is closed at the
    handshake bound: the smallest of the head, read and write timeouts."""
    with TestServer(info, tls=True, **timeouts) as ts:
        with socket.create_connection(("127.0.0.1", ts.port), timeout=10) as s:
            s.sendall(b"\x16\x03\x01\x02\x00\x01")  # the start of a ClientHello, then nothing
            t0 = time.monotonic()
            try:
                assert s.recv(4096) == b""
            except ConnectionResetError:
                pass
            took = time.monotonic() - t0
        with ts.client() as c:
            assert c.get("/").status_code == 200
    assert 0.35 < took < 5.0


def test_slowloris_after_the_handshake_is_cut_by_read_header_timeout():
    with TestServer(info, tls=True, read_header_timeout=0.5) as ts:
        ctx = ts.ssl_context
        with ctx.wrap_socket(socket.create_connection(("127.0.0.1", ts.port), timeout=10),
                             server_hostname="localhost") as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")  # never ends its head
            t0 = time.monotonic()
            try:
                assert s.recv(4096) == b""
            except (ssl.SSLError, ConnectionResetError):
                pass
            took = time.monotonic() - t0
    assert 0.3 < took < 5.0


def _idle_released() -> int:
    buf = io.StringIO()
    gonet.dump_goroutines(buf)
    return buf.getvalue().count("[IO wait (idle)]")


def test_idle_tls_connections_release_their_goroutine():
    def hi(w, r):
        w.write(b"hi")

    def get(s):
        s.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        data = b""
        while not data.endswith(b"hi"):
            d = s.recv(4096)
            assert d, data
            data += d
        return data

    with TestServer(hi, tls=True, idle_release_after=0.05) as ts:
        socks = [ts.ssl_context.wrap_socket(socket.create_connection(("127.0.0.1", ts.port),
                                                                    timeout=5),
                                            server_hostname="localhost") for _ in range(20)]
        for s in socks:
            assert b"200 OK" in get(s)
        end = time.monotonic() + 5
        while _idle_released() < 20:
            assert time.monotonic() < end, "idle TLS connections kept their goroutines"
            time.sleep(0.01)
        for s in socks:  # each released connection serves its next request
            assert b"200 OK" in get(s)
        for s in socks:
            s.close()


def test_file_server_over_tls(tmp_path):
    data = bytes(range(256)) * 1200  # 300 KB: no sendfile under TLS, the bytes go through OpenSSL
    (tmp_path / "f.bin").write_bytes(data)
    with TestServer(http.FileServer(str(tmp_path)), tls=True) as ts, ts.client() as c:
        r = c.get("/f.bin")
        part = c.get("/f.bin", headers={"Range": "bytes=1000-1999"})
    assert r.content == data
    assert part.status_code == 206 and part.content == data[1000:2000]


def test_serve_tls_with_certificate_files(tmp_path):
    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert("localhost")
    cert.cert_chain_pems[0].write_to_path(str(tmp_path / "cert.pem"))
    cert.private_key_pem.write_to_path(str(tmp_path / "key.pem"))
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    srv = http.Server(handler=info)
    ready = threading.Event()
    box = {}

    def main():
        from gonet.runtime import init_thread

        init_thread()
        ln = gonet.listen("tcp", "127.0.0.1:0")
        box["port"] = ln.addr.port
        ready.set()
        srv.serve_tls(ln, str(tmp_path / "cert.pem"), str(tmp_path / "key.pem"))

    t = threading.Thread(target=main, daemon=True)
    t.start()
    assert ready.wait(5)
    try:
        r = httpx.get(f"https://localhost:{box['port']}/",
                      verify=ssl.create_default_context(cafile=str(tmp_path / "ca.pem")))
        assert r.text.startswith("https TLSv1.3 http/1.1 localhost")
    finally:
        srv.shutdown(5)
        t.join(10)
    assert not t.is_alive()

    def no_certificate():
        ln = gonet.listen("tcp", "127.0.0.1:0")
        with pytest.raises(ValueError, match="certfile"):
            http.Server().serve_tls(ln)
        assert ln.closed

    run_in_thread(no_certificate)
