"""gonet.http's client against servers nobody here wrote, over TLS, and through proxies.

Peers: uvicorn (h11, in its own process), Python's ``http.server`` (HTTP/1.0
and HTTP/1.1 handlers on a thread), gonet's HTTPS test server (a trustme-
style test certificate), and small proxies written here: one that forwards
absolute-form requests and tunnels CONNECT. The client is the main
goroutine of a fresh scheduler, per poller backend.
"""

from __future__ import annotations

import http.server
import json
import os
import socket
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from gonet import http as ghttp
from gonet.http.httptest import TestServer

# -- uvicorn ------------------------------------------------------------------------------

ASGI_APP = textwrap.dedent('''
    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        body = b""
        while True:
            msg = await receive()
            body += msg.get("body", b"")
            if not msg.get("more_body"):
                break
        path = scope["path"]
        port = str(scope["client"][1]).encode()
        if path == "/stream":
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"x-client-port", port)]})
            for i in range(3):
                await send({"type": "http.response.body", "body": b"piece%d;" % i,
                            "more_body": True})
            await send({"type": "http.response.body", "body": b""})
            return
        if path == "/empty":
            await send({"type": "http.response.start", "status": 204, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        out = body if path == "/echo" else b"port " + port
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/plain"),
                                (b"content-length", str(len(out)).encode()),
                                (b"x-client-port", port)]})
        await send({"type": "http.response.body", "body": out})
''')


def _free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.fixture(scope="module")
def uvicorn_url(tmp_path_factory):
    pytest.importorskip("uvicorn", reason="uvicorn is in the test extra: pip install -e '.[test]'")
    d = tmp_path_factory.mktemp("asgi")
    (d / "asgiapp.py").write_text(ASGI_APP)
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "asgiapp:app", "--app-dir", str(d), "--port", str(port),
         "--http", "h11", "--log-level", "warning", "--no-access-log"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 20
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(f"uvicorn did not start: {proc.stderr.read()!r}") from None
            time.sleep(0.1)
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(10)


@pytest.mark.usefixtures("head_parser")
def test_uvicorn_keep_alive_chunked_and_204(run, uvicorn_url):
    def body():
        c = ghttp.Client(transport=ghttp.Transport())
        ports = set()
        for _ in range(5):
            with c.get(uvicorn_url + "/") as r:
                assert r.status_code == 200 and r.body.read().startswith(b"port ")
                ports.add(r.header.get("X-Client-Port"))
        with c.get(uvicorn_url + "/stream") as r:
            assert r.transfer_encoding == ("chunked",)
            assert r.body.read() == b"piece0;piece1;piece2;"
            ports.add(r.header.get("X-Client-Port"))
        with c.get(uvicorn_url + "/empty") as r:
            assert r.status_code == 204 and r.body.read() == b""
        r = c.post(uvicorn_url + "/echo", body=iter([b"chunked ", b"upload"]))
        assert r.body.read() == b"chunked upload"
        ports.add(r.header.get("X-Client-Port"))
        r = c.head(uvicorn_url + "/")
        assert r.body.read() == b""
        ports.add(r.header.get("X-Client-Port"))
        assert len(ports) == 1  # one connection for all of it
    run(body)


# -- Python's http.server -----------------------------------------------------------------


class _StdHandler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        body = f"port {self.client_address[1]}".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        if self.protocol_version == "HTTP/1.1":
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n)
        self.send_response(201)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _Std11Handler(_StdHandler):
    protocol_version = "HTTP/1.1"


@pytest.fixture(params=["HTTP/1.0", "HTTP/1.1"])
def stdlib_url(request):
    handler = _Std11Handler if request.param == "HTTP/1.1" else _StdHandler
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield request.param, f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


@pytest.mark.usefixtures("head_parser")
def test_stdlib_http_server(run, stdlib_url):
    proto, url = stdlib_url

    def body():
        c = ghttp.Client(transport=ghttp.Transport())
        seen = set()
        for _ in range(3):
            with c.get(url + "/") as r:
                assert r.proto == proto
                seen.add(r.body.read())
        r = c.post(url + "/p", body=b"posted")
        assert r.status_code == 201 and r.body.read() == b"posted"
        if proto == "HTTP/1.0":
            # no length, body until the server closes: a connection each
            assert len(seen) == 3 and r.close
        else:
            assert len(seen) == 1
    run(body)


# -- TLS ----------------------------------------------------------------------------------


def _tls_handler(w, r):
    w.write(f"{r.tls.version} {r.remote_addr}".encode())


def test_https_with_a_test_certificate(run):
    with TestServer(_tls_handler, tls=True) as ts:
        def body():
            c = ghttp.Client(transport=ghttp.Transport(tls_client_config=ts.ssl_context))
            got = set()
            for _ in range(3):
                with c.get(ts.url + "/") as r:
                    assert r.tls is not None and r.tls.handshake_complete
                    assert r.tls.version in ("TLSv1.2", "TLSv1.3")
                    got.add(r.body.read())
            assert len(got) == 1  # one connection, one handshake
            # the system's trust store does not know the test CA
            with pytest.raises(ghttp.URLError, match="certificate verify failed"):
                ghttp.Client(transport=ghttp.Transport()).get(ts.url + "/")
        run(body)


def test_tls_handshake_timeout(run):
    ln = socket.socket()
    ln.bind(("127.0.0.1", 0))
    ln.listen(4)  # accepts TCP, never speaks TLS
    port = ln.getsockname()[1]

    def body():
        t = ghttp.Transport(tls_handshake_timeout=0.3)
        t0 = time.monotonic()
        with pytest.raises(ghttp.URLError, match="TLS handshake timeout") as ei:
            ghttp.Client(transport=t).get(f"https://127.0.0.1:{port}/")
        assert isinstance(ei.value, TimeoutError) and time.monotonic() - t0 < 2

    try:
        run(body)
    finally:
        ln.close()


# -- proxies ------------------------------------------------------------------------------


class Proxy:
    """A small HTTP proxy: a connection whose first request is in absolute
    form is piped to the server ``origin`` (whatever host it names), CONNECT
    opens a tunnel to the host:port asked for. Records each connection's
    first request line."""

    def __init__(self, origin: str = "", auth: str | None = None, refuse: bool = False):
        self.origin = origin
        self.auth = auth
        self.refuse = refuse
        self.log: list[str] = []
        self.ln = socket.socket()
        self.ln.bind(("127.0.0.1", 0))
        self.ln.listen(16)
        self.url = f"http://127.0.0.1:{self.ln.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self):
        self.ln.close()

    def _accept(self):
        while True:
            try:
                s, _ = self.ln.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(s,), daemon=True).start()

    def _serve(self, s):
        with s:
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = s.recv(65536)
                if not chunk:
                    return
                data += chunk
            head, _, rest = data.partition(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            self.log.append(lines[0])
            fields = dict(line.split(": ", 1) for line in lines[1:])
            if self.auth is not None and fields.get("Proxy-Authorization") != self.auth:
                s.sendall(b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                          b"Content-Length: 0\r\n\r\n")
                return
            method, target, _ = lines[0].split(" ")
            if method == "CONNECT":
                if self.refuse:
                    s.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
                    return
                host, port = target.rsplit(":", 1)
                up = socket.create_connection((host, int(port)))
                s.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            else:
                # gonet's server takes absolute-form targets (RFC 9112 3.2.2):
                # the bytes go through as they are, keep-alive and all
                host, port = self.origin.rsplit(":", 1)
                up = socket.create_connection((host, int(port)))
                up.sendall(data)
            self._pipe(s, up)

    @staticmethod
    def _pipe(a, b):
        def copy(src, dst):
            try:
                while True:
                    d = src.recv(65536)
                    if not d:
                        break
                    dst.sendall(d)
            except OSError:
                pass
            finally:
                try:
                    dst.shutdown(socket.SHUT_WR)
                except OSError:
                    pass

        t = threading.Thread(target=copy, args=(b, a), daemon=True)
        t.start()
        copy(a, b)
        t.join(10)
        b.close()


def _origin_handler(w, r):
    w.write(f"origin saw {r.method} {r.url.path} host={r.host}".encode())


def test_http_proxy_gets_absolute_form_requests(run):
    with TestServer(_origin_handler) as ts:
        proxy = Proxy(origin=ts.addr, auth="Basic dXNlcjpwdw==")
        try:
            def body():
                purl = proxy.url.replace("http://", "http://user:pw@")
                c = ghttp.Client(transport=ghttp.Transport(proxy=ghttp.proxy_url(purl)))
                for _ in range(2):
                    with c.get("http://example.test/hello") as r:
                        assert r.body.read() == b"origin saw GET /hello host=example.test"
            run(body)
        finally:
            proxy.close()
    assert proxy.log == ["GET http://example.test/hello HTTP/1.1"]  # one connection, reused


def test_https_through_a_connect_proxy(run):
    with TestServer(_tls_handler, tls=True) as ts:
        proxy = Proxy()
        try:
            def body():
                t = ghttp.Transport(proxy=ghttp.proxy_url(proxy.url),
                                    tls_client_config=ts.ssl_context)
                c = ghttp.Client(transport=t)
                got = set()
                for _ in range(3):
                    with c.get(ts.url + "/secret") as r:
                        assert r.tls is not None
                        got.add(r.body.read())
                assert len(got) == 1
            run(body)
        finally:
            proxy.close()
        assert proxy.log == [f"CONNECT {ts.addr} HTTP/1.1"]


def test_a_refused_connect_names_the_proxy(run):
    proxy = Proxy(refuse=True)
    try:
        def body():
            c = ghttp.Client(transport=ghttp.Transport(proxy=ghttp.proxy_url(proxy.url)))
            with pytest.raises(ghttp.URLError, match="refused CONNECT example.test:443: 403"):
                c.get("https://example.test/")
        run(body)
    finally:
        proxy.close()


def test_no_proxy_rules():
    from gonet.http.transport import _use_proxy

    assert not _use_proxy("localhost", "80", "")
    assert not _use_proxy("127.0.0.1", "80", "")
    assert not _use_proxy("::1", "80", "")
    assert _use_proxy("example.com", "80", "")
    assert not _use_proxy("example.com", "80", "*")
    assert not _use_proxy("a.example.com", "80", "other.org, example.com")
    assert not _use_proxy("example.com", "80", "example.com")
    assert _use_proxy("example.com", "80", ".example.com")  # subdomains only
    assert not _use_proxy("a.example.com", "80", ".example.com")
    assert _use_proxy("example.com", "80", "example.com:8080")
    assert not _use_proxy("example.com", "8080", "example.com:8080")
    assert not _use_proxy("10.1.2.3", "80", "10.0.0.0/8")
    assert _use_proxy("11.1.2.3", "80", "10.0.0.0/8")
    assert not _use_proxy("192.168.1.1", "443", "192.168.1.1")


def test_proxy_from_the_environment(tmp_path):
    # The environment is read once per process (as Go), so this runs in a
    # child process with the variables set.
    with TestServer(_origin_handler) as ts:
        proxy = Proxy(origin=ts.addr)
        try:
            script = tmp_path / "envproxy.py"
            script.write_text(textwrap.dedent(f'''
                import json
                from gonet import http
                out = {{}}
                r = http.get("http://example.test/via-proxy")
                out["proxied"] = r.body.read().decode()
                r = http.get("{ts.url}/direct")   # loopback: never proxied
                out["direct"] = r.body.read().decode()
                # in NO_PROXY: direct (asked without a request: no DNS lookup)
                req = http.new_request("GET", "http://skipped.test/")
                out["skipped"] = http.proxy_from_environment(req)
                out["proxy"] = str(http.proxy_from_environment(
                    http.new_request("GET", "http://example.test/")))
                print(json.dumps(out))
            '''))
            env = dict(os.environ, HTTP_PROXY=proxy.url.replace("http://", ""),
                       NO_PROXY="skipped.test,other.test")
            env.pop("http_proxy", None)
            env.pop("REQUEST_METHOD", None)
            res = subprocess.run([sys.executable, str(script)], env=env, capture_output=True,
                                 text=True, timeout=60)
            assert res.returncode == 0, res.stderr
            out = json.loads(res.stdout.strip().splitlines()[-1])
        finally:
            proxy.close()
    assert out["proxied"] == "origin saw GET /via-proxy host=example.test"
    assert out["direct"] == "origin saw GET /direct host=" + ts.addr
    assert out["skipped"] is None and out["proxy"] == proxy.url
    assert proxy.log == ["GET http://example.test/via-proxy HTTP/1.1"]


def test_https_to_stdlib_server_with_a_trustme_certificate(run):
    trustme = pytest.importorskip("trustme", reason="trustme is in the test extra")
    import ssl

    ca = trustme.CA()
    cert = ca.issue_cert("localhost", "127.0.0.1")
    srv_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    cert.configure_cert(srv_ctx)
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Std11Handler)
    srv.socket = srv_ctx.wrap_socket(srv.socket, server_side=True)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    port = srv.server_address[1]
    try:
        def body():
            cli_ctx = ssl.create_default_context()
            ca.configure_trust(cli_ctx)
            c = ghttp.Client(transport=ghttp.Transport(tls_client_config=cli_ctx))
            seen = set()
            for _ in range(3):
                with c.get(f"https://localhost:{port}/") as r:
                    assert r.tls.server_name in (None, "localhost")
                    seen.add(r.body.read())
            assert len(seen) == 1  # keep-alive over TLS
            with pytest.raises(ghttp.URLError, match="certificate verify failed"):
                ghttp.Client(transport=ghttp.Transport()).get(f"https://localhost:{port}/")
        run(body)
    finally:
        srv.shutdown()
        srv.server_close()
