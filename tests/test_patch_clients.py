"""Real client libraries inside gonet handlers, after gonet.patch(): requests,
urllib3, urllib.request (HTTP and HTTPS, trustme certificates), redis-py
against a real redis-server, psycopg 3 against a real PostgreSQL.

Each library test serves a gonet handler that makes one slow call (0.3 s
on the server's side) from a TestServer thread's scheduler, sends it 50
requests at once from plain threads, and probes another route on fresh
connections meanwhile. Patched, the 50 calls overlap (about one call's time,
not 50 of them) and the other route answers at once.

The servers are started by session fixtures on free ports in temporary
directories, and stopped after. CI installs redis-server and PostgreSQL
(.ci/run); on a developer's machine without them those tests skip, saying
what to install; under CI=true they fail instead.
"""

from __future__ import annotations

import glob
import http.client
import http.server as stdhttp_server
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import urllib.request
from typing import Any

import pytest

from gonet import coop
from gonet import http as gohttp
from gonet.http.httptest import TestServer

N = 50
SLOW = 0.3


def _need(what: str, hint: str) -> None:
    msg = f"{what} is not installed ({hint})"
    if os.environ.get("CI"):
        pytest.fail(msg + ": CI must install it (.ci/run)")
    pytest.skip(msg)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_port(port: int, proc: subprocess.Popen, what: str, timeout: float = 20) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with status {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on port {port} within {timeout} s")


@pytest.fixture
def patched():
    coop.patch()
    yield
    coop.unpatch()


# -- the load: 50 slow calls through a gonet handler, and a fast route probed -------


def _load(call: Any, n: int = N) -> dict:
    """Serve ``call`` at /call and an instant /fast; return the time for n
    concurrent /call requests, their answers, and the /fast latencies seen
    while they ran."""

    def slow(w: gohttp.ResponseWriter, r: gohttp.Request) -> None:
        w.write(str(call()).encode())

    def fast(w: gohttp.ResponseWriter, r: gohttp.Request) -> None:
        w.write(b"fast")

    mux = gohttp.ServeMux()
    mux.handle_func("GET /call", slow)
    mux.handle_func("GET /fast", fast)
    with TestServer(mux) as ts:
        host, port = ts.addr.rsplit(":", 1)
        answers: list = []
        errors: list = []
        probes: list[float] = []
        done = threading.Event()

        def client() -> None:
            try:
                c = http.client.HTTPConnection(host, int(port), timeout=30)
                c.request("GET", "/call")
                resp = c.getresponse()
                answers.append((resp.status, resp.read()))
                c.close()
            except Exception as e:  # noqa: BLE001 - reported by the assertion below
                errors.append(e)

        def probe() -> None:
            while not done.is_set():
                t = time.monotonic()
                c = http.client.HTTPConnection(host, int(port), timeout=30)
                c.request("GET", "/fast")
                assert c.getresponse().read() == b"fast"
                c.close()
                probes.append(time.monotonic() - t)
                time.sleep(0.02)

        threads = [threading.Thread(target=client) for _ in range(n)]
        p = threading.Thread(target=probe)
        t0 = time.monotonic()
        for t in threads:
            t.start()
        p.start()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - t0
        done.set()
        p.join()
    assert not errors, errors[:3]
    return {"elapsed": elapsed, "answers": answers, "probes": probes}


def _check(out: dict, expect: bytes | None = None) -> None:
    assert len(out["answers"]) == N
    assert all(status == 200 for status, _ in out["answers"]), out["answers"][:3]
    if expect is not None:
        assert {body for _, body in out["answers"]} == {expect}
    # Serial would be N x SLOW = 15 s; overlapped, about one call plus the
    # CPU the clients spend (generous for a loaded 2-core machine).
    assert out["elapsed"] < SLOW + 4.0, out["elapsed"]
    assert out["probes"], "the fast route was never probed"
    assert max(out["probes"]) < 1.0, out["probes"]  # unpatched: seconds behind the slow calls


# -- HTTP upstreams (a plain threaded server of the stdlib, HTTP and HTTPS) ----------


class _Slow(stdhttp_server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        if self.path.startswith("/stall"):
            time.sleep(3)
        else:
            time.sleep(SLOW)
        body = b"upstream"
        try:
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # a timeout test's client left before /stall answered

    def log_message(self, *args: Any) -> None:
        pass


class _Upstream(stdhttp_server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128


@pytest.fixture(scope="module")
def certs():
    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    cert = ca.issue_cert("localhost", "127.0.0.1")
    d = tempfile.mkdtemp()
    ca_path = os.path.join(d, "ca.pem")
    ca.cert_pem.write_to_path(ca_path)
    yield ca, cert, ca_path
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def upstreams(certs):
    """(http_url, https_url) of two plain threaded servers answering after SLOW."""
    _, cert, _ = certs
    plain = _Upstream(("127.0.0.1", 0), _Slow)
    tls = _Upstream(("127.0.0.1", 0), _Slow)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(ctx)
    tls.socket = ctx.wrap_socket(tls.socket, server_side=True)
    for s in (plain, tls):
        threading.Thread(target=s.serve_forever, daemon=True).start()
    yield (f"http://127.0.0.1:{plain.server_address[1]}",
           f"https://localhost:{tls.server_address[1]}")
    for s in (plain, tls):
        s.shutdown()
        s.server_close()


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_requests(patched, upstreams, certs, scheme):
    requests = pytest.importorskip("requests")
    url = upstreams[0] if scheme == "http" else upstreams[1]
    ca_path = certs[2]

    def call() -> str:
        return requests.get(url + "/", timeout=10, verify=ca_path).text

    _check(_load(call), b"upstream")


def test_requests_timeout_against_a_stalled_server(patched, upstreams):
    requests = pytest.importorskip("requests")

    def call() -> str:
        t = time.monotonic()
        try:
            requests.get(upstreams[0] + "/stall", timeout=0.2)
        except requests.exceptions.ReadTimeout:
            return f"timeout {time.monotonic() - t:.2f}"
        return "no timeout"

    out = _load(call, n=10)
    for status, body in out["answers"]:
        assert status == 200 and body.startswith(b"timeout"), body
        assert 0.15 <= float(body.split()[1]) < 1.5
    assert max(out["probes"]) < 1.0


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_urllib3(patched, upstreams, certs, scheme):
    urllib3 = pytest.importorskip("urllib3")
    url = upstreams[0] if scheme == "http" else upstreams[1]
    pool = urllib3.PoolManager(maxsize=N, ca_certs=certs[2])

    def call() -> str:
        return pool.request("GET", url + "/", timeout=10).data.decode()

    _check(_load(call), b"upstream")


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_urllib_request(patched, upstreams, certs, scheme):
    url = upstreams[0] if scheme == "http" else upstreams[1]
    ctx = ssl.create_default_context(cafile=certs[2])

    def call() -> str:
        with urllib.request.urlopen(url + "/", timeout=10, context=ctx if scheme == "https"
                                    else None) as resp:
            return resp.read().decode()

    _check(_load(call), b"upstream")


def test_urllib_request_timeout(patched, upstreams):
    def call() -> str:
        try:
            urllib.request.urlopen(upstreams[0] + "/stall", timeout=0.2).read()
        except TimeoutError:
            return "timeout"
        except urllib.error.URLError as e:
            return "timeout" if isinstance(e.reason, TimeoutError) else repr(e)
        return "no timeout"

    out = _load(call, n=10)
    assert {b for _, b in out["answers"]} == {b"timeout"}


# -- redis ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def redis_port():
    exe = shutil.which("redis-server")
    if exe is None:
        _need("redis-server", "apt-get install redis-server")
    port = _free_port()
    d = tempfile.mkdtemp()
    proc = subprocess.Popen([exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", d, "--maxclients", "1000"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_port(port, proc, "redis-server")
        yield port
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(d, ignore_errors=True)


def test_redis(patched, redis_port):
    redis = pytest.importorskip("redis")
    r = redis.Redis(host="127.0.0.1", port=redis_port, max_connections=N + 10)
    r.set("greeting", "hello")

    def call() -> str:
        # BLPOP on an empty list waits SLOW seconds on the server's side
        # while holding this connection: what a slow command looks like.
        assert r.blpop(["gonet-empty"], timeout=SLOW) is None
        return r.get("greeting").decode()

    _check(_load(call), b"hello")
    r.close()


# -- PostgreSQL through psycopg 3 ------------------------------------------------------


def _pg_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    hits = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return hits[-1] if hits else None


@pytest.fixture(scope="session")
def pg_dsn():
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    if initdb is None or pg_ctl is None:
        _need("PostgreSQL", "apt-get install postgresql")
    d = tempfile.mkdtemp()
    data = os.path.join(d, "data")
    port = _free_port()
    prefix: list[str] = []
    if os.geteuid() == 0:  # postgres refuses to run as root: run it as its own user
        if shutil.which("runuser") is None:
            _need("runuser", "util-linux")
        prefix = ["runuser", "-u", "postgres", "--"]
        shutil.chown(d, "postgres")
    run = dict(check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    subprocess.run([*prefix, initdb, "-D", data, "--auth=trust", "-U", "gonet"], **run)
    opts = f"-p {port} -k {d} -c listen_addresses=127.0.0.1 -c max_connections=120 -c fsync=off"
    subprocess.run([*prefix, pg_ctl, "-D", data, "-o", opts, "-l", os.path.join(d, "log"),
                    "-w", "start"], **run)
    try:
        yield f"host=127.0.0.1 port={port} user=gonet dbname=postgres"
    finally:
        subprocess.run([*prefix, pg_ctl, "-D", data, "-m", "immediate", "stop"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(d, ignore_errors=True)


def test_psycopg(patched, pg_dsn):
    try:
        import psycopg
    except ImportError as e:  # the pure-Python package needs libpq (libpq5)
        _need("psycopg (with libpq)", f"pip install psycopg; {e}")
    from psycopg import waiting

    # Chosen at import: the poll-based wait, through the patched select.poll.
    assert waiting.wait.__name__ in ("wait_poll", "wait_selector", "wait_select"), waiting.wait

    def call() -> str:
        with psycopg.connect(pg_dsn, connect_timeout=10) as conn:
            row = conn.execute("SELECT pg_sleep(%s), 'row'", (SLOW,)).fetchone()
            return row[1]

    _check(_load(call), b"row")
