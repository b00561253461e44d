"""`gonet serve` as a real process tree: a master and its workers on loopback.

Each test starts the server as a subprocess in its own session and always
kills the whole process group afterwards. Synchronisation is on what the
server prints (the "listening on" line) and on responses, never on sleeps.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

pytestmark = [pytest.mark.timeout(40), pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")]

WSGI_APP = """
import os

def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [str(os.getpid()).encode()]
"""

GONET_APP = """
import os
import gonet

def app(w, r):
    if r.url.path == "/slow":
        w.write_header(200)
        w.write(b"started;")
        w.flush()
        gonet.sleep(float(r.url.query().get("s", "1")))
        w.write(b"finished")
        return
    w.write(str(os.getpid()).encode())
"""

# One client whose connections are never reused: every request opens a new
# connection (new source port), without paying for a new client each time.
_fresh = httpx.Client(limits=httpx.Limits(max_keepalive_connections=0))

_LISTEN = re.compile(r"listening on (\S+?)(?:,| with)")


class Served:
    """A running `gonet serve` process tree and what it printed."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.proc = proc
        self.lines: list[str] = []
        self._cond = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.url = ""

    def _read(self) -> None:
        for line in self.proc.stderr:
            with self._cond:
                self.lines.append(line.rstrip("\n"))
                self._cond.notify_all()
        with self._cond:
            self.lines.append("<EOF>")
            self._cond.notify_all()

    def wait_line(self, pattern: str, timeout: float = 15.0, count: int = 1) -> re.Match:
        """Wait for the ``count``-th printed line matching ``pattern``."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._cond:
            i = 0
            while True:
                while i < len(self.lines):
                    m = rx.search(self.lines[i])
                    if m:
                        count -= 1
                        if count == 0:
                            return m
                    if self.lines[i] == "<EOF>":
                        raise AssertionError(f"server exited before {pattern!r}:\n" + self.text())
                    i += 1
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no {pattern!r} within {timeout} s:\n" + self.text())
                self._cond.wait(left)

    def text(self) -> str:
        return "\n".join(self.lines)

    def get(self, path: str = "/", **kw) -> httpx.Response:
        """A request on a new connection (so SO_REUSEPORT hashing spreads them)."""
        return _fresh.get(self.url + path, timeout=kw.pop("timeout", 10), **kw)

    def signal(self, sig: int) -> None:
        os.kill(self.proc.pid, sig)

    def wait(self, timeout: float = 15.0) -> int:
        return self.proc.wait(timeout)


@contextmanager
def serve(tmp_path: Path, *args: str, app: str = WSGI_APP, module: str = "wapp",
          bind: tuple[str, ...] = ("127.0.0.1:0",), wait: bool = True, env: dict | None = None,
          pass_fds: tuple[int, ...] = (), cmd: list[str] | None = None):
    """``env``: variables added to the server's; ``cmd``: the command line
    (default: gonet serve MODULE:app --app-dir TMP --bind ... ARGS)."""
    (tmp_path / f"{module}.py").write_text(app)
    if cmd is None:
        cmd = [sys.executable, "-m", "gonet", "serve", f"{module}:app", "--app-dir",
               str(tmp_path)]
        for b in bind:
            cmd += ["--bind", b]
        cmd += list(args)
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, pass_fds=pass_fds,
                            env={**os.environ, **env} if env else None)
    s = Served(proc)
    try:
        if wait:
            s.url = s.wait_line(_LISTEN.pattern).group(1)
        yield s
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # master and every worker
        except (ProcessLookupError, PermissionError):
            pass
        proc.wait(10)
        proc.stderr.close()


def _alive(pid: int) -> bool:
    """True while ``pid`` runs (an exited, not yet reaped zombie counts as dead)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rpartition(")")[2].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _pids(s: Served, n: int) -> list[int]:
    return [int(s.get().text) for _ in range(n)]


def test_two_workers_serve_then_sigterm_exits_0(tmp_path):
    with serve(tmp_path, "--workers", "2") as s:
        assert "with 2 workers" in s.text()
        pids = _pids(s, 40)
        # 40 connections hashed over two SO_REUSEPORT sockets: both workers
        # answer (all on one would have probability 2**-39).
        assert len(set(pids)) == 2
        assert s.proc.pid not in pids
        s.signal(signal.SIGTERM)
        assert s.wait() == 0
        assert not any(_alive(p) for p in set(pids))
        assert "Traceback" not in s.text()


class Looper:
    """A client thread doing requests on fresh connections until stopped."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.pids: list[int] = []
        self.errors: list[BaseException] = []
        self._stop = threading.Event()
        self._client = httpx.Client(limits=httpx.Limits(max_keepalive_connections=0))
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                r = self._client.get(self.url, timeout=10)
                assert r.status_code == 200, r.status_code
                self.pids.append(int(r.text))
            except BaseException as e:  # noqa: BLE001 - every failure counts
                self.errors.append(e)

    def stop(self) -> None:
        self._stop.set()
        self._t.join(15)
        self._client.close()


@pytest.mark.parametrize("mode", ["reuse-port", "shared"])
def test_sighup_replaces_workers_without_refusing(tmp_path, mode):
    extra = ("--no-reuse-port",) if mode == "shared" else ()
    with serve(tmp_path, "--workers", "2", *extra) as s:
        old = set(_pids(s, 20))
        loop = Looper(s.url)
        try:
            # Let the loop get going on the old workers first.
            deadline = time.monotonic() + 10
            while len(loop.pids) < 5:
                assert time.monotonic() < deadline and not loop.errors
                time.sleep(0.01)
            s.signal(signal.SIGHUP)
            deadline = time.monotonic() + 20
            while True:
                assert time.monotonic() < deadline, (loop.pids[-20:], s.text())
                recent = loop.pids[-10:]
                if (len(recent) == 10 and not set(recent) & old
                        and not any(_alive(p) for p in old)):
                    break
                time.sleep(0.02)
        finally:
            loop.stop()
        assert loop.errors == []
        assert set(loop.pids) - old  # new workers answered
        s.signal(signal.SIGTERM)
        assert s.wait() == 0


def test_killed_worker_is_replaced(tmp_path):
    with serve(tmp_path, "--workers", "2") as s:
        pids = set(_pids(s, 30))
        assert len(pids) == 2
        victim = min(pids)
        os.kill(victim, signal.SIGKILL)
        s.wait_line(rf"worker {victim} \(slot \d\) died: killed by SIGKILL")
        seen: set[int] = set()
        deadline = time.monotonic() + 15
        while not seen - pids:
            assert time.monotonic() < deadline, s.text()
            # Connections hashed to the dead worker's socket wait in its backlog
            # (the master keeps the socket open) until the replacement accepts.
            seen.add(int(s.get().text))
        assert victim not in seen
        assert len(set(_pids(s, 30))) == 2
        s.signal(signal.SIGTERM)
        assert s.wait() == 0


def test_max_requests_recycles_worker(tmp_path):
    with serve(tmp_path, "--workers", "1", "--max-requests", "5") as s:
        pids: list[int] = []
        deadline = time.monotonic() + 20
        while len(set(pids)) < 3:
            assert time.monotonic() < deadline, pids
            pids.append(int(s.get().text))
        # A worker serves its quota, and more while its replacement boots
        # (it is stopped only once the new one is ready: no gap).
        first, second = list(dict.fromkeys(pids))[:2]
        assert pids.count(first) >= 5 and pids.count(second) >= 5, pids
        s.signal(signal.SIGTERM)
        assert s.wait() == 0
        assert "max requests" in s.text()


def test_sigterm_lets_request_in_flight_finish(tmp_path):
    with serve(tmp_path, "--workers", "1", app=GONET_APP, module="gapp") as s:
        with httpx.Client(timeout=10) as c:
            with c.stream("GET", s.url + "/slow?s=0.8") as r:
                it = r.iter_raw()
                first = next(it)  # the handler is now in flight
                assert first.startswith(b"started;")
                t0 = time.monotonic()
                s.signal(signal.SIGTERM)
                rest = b"".join(it)
            assert first + rest == b"started;finished"
        assert s.wait() == 0
        assert time.monotonic() - t0 < 8
        with pytest.raises(httpx.ConnectError):
            s.get()


def test_second_sigint_forces_exit(tmp_path):
    with serve(tmp_path, "--workers", "1", app=GONET_APP, module="gapp") as s:
        with httpx.Client(timeout=30) as c:
            with c.stream("GET", s.url + "/slow?s=30") as r:
                assert next(r.iter_raw()).startswith(b"started;")
                s.signal(signal.SIGINT)
                s.wait_line("SIGINT: shutting down gracefully")
                assert s.proc.poll() is None  # still draining the 30 s request
                t0 = time.monotonic()
                s.signal(signal.SIGINT)
                assert s.wait(10) == 1
                assert time.monotonic() - t0 < 5


def test_boot_failure_exits_with_reason(tmp_path):
    bad = "import os\nos._exit(3)\n"  # the worker dies while importing the app
    with serve(tmp_path, "--workers", "2", app=bad, module="crash", wait=False) as s:
        assert s.wait() == 1
        s.wait_line("<EOF>")
        errors = [ln for ln in s.lines if "error" in ln]
        assert len(errors) == 1 and re.search(r"gonet: error: worker \d+ failed to boot: exit status 3",
                                              errors[0]), s.text()


def test_unix_and_ipv6_binds(tmp_path):
    sock_path = str(tmp_path / "gonet.sock")
    binds = ["unix:" + sock_path]
    v6 = socket.has_ipv6
    if v6:
        try:
            probe = socket.socket(socket.AF_INET6)
            probe.bind(("::1", 0))
            probe.close()
        except OSError:
            v6 = False
    if v6:
        binds.append("[::1]:0")
    with serve(tmp_path, "--workers", "2", bind=tuple(binds)) as s:
        assert s.url == "unix:" + sock_path
        with httpx.Client(transport=httpx.HTTPTransport(uds=sock_path)) as c:
            assert int(c.get("http://gonet/").text) > 0
        if v6:
            m = s.wait_line(r"(http://\[::1\]:\d+)")
            assert int(httpx.get(m.group(1), timeout=10).text) > 0
        s.signal(signal.SIGTERM)
        assert s.wait() == 0
    assert not os.path.exists(sock_path)


def test_workers_exit_when_master_dies(tmp_path):
    with serve(tmp_path, "--workers", "2") as s:
        pids = set(_pids(s, 30))
        assert len(pids) == 2
        os.kill(s.proc.pid, signal.SIGKILL)
        s.wait()
        # Each worker sees EOF on its control socket, drains and exits.
        deadline = time.monotonic() + 10
        while any(_alive(p) for p in pids):
            assert time.monotonic() < deadline, "orphaned workers still running"
            time.sleep(0.05)


def test_ctrl_c_to_the_process_group_exits_0_quietly(tmp_path):
    # A terminal's Ctrl+C reaches the master and every worker at once; the
    # workers then also get the master's SIGTERM while they drain.
    with serve(tmp_path, "--workers", "2") as s:
        assert len(set(_pids(s, 10))) >= 1
        os.killpg(s.proc.pid, signal.SIGINT)
        assert s.wait() == 0
        s.wait_line("<EOF>")
        assert "Traceback" not in s.text() and "Exception" not in s.text(), s.text()


def test_sighup_with_broken_code_keeps_old_workers(tmp_path):
    with serve(tmp_path, "--workers", "2") as s:
        old = set(_pids(s, 20))
        # Deploy a broken version, then ask for a reload: the new workers
        # cannot boot, so the old ones must keep serving.
        (tmp_path / "wapp.py").write_text("raise RuntimeError('bad deploy')\n")
        s.signal(signal.SIGHUP)
        s.wait_line(r"replacement worker \d+ failed to boot \(error importing module 'wapp': "
                    r"RuntimeError: bad deploy\)", count=2)
        assert set(_pids(s, 20)) <= old
        s.signal(signal.SIGTERM)
        assert s.wait() == 0


# -- TLS: --certfile / --keyfile, certificates reloaded by SIGHUP ------------------------


def _pki(tmp_path: Path, name: str):
    import trustme

    ca = trustme.CA()
    ca.cert_pem.write_to_path(str(tmp_path / f"{name}-ca.pem"))
    return ca


def _peer_serial(port: int, cafile: str) -> int:
    import ssl

    ctx = ssl.create_default_context(cafile=cafile)
    with ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=10),
                         server_hostname="localhost") as s:
        return int(s.getpeercert()["serialNumber"], 16)


def test_certfile_serves_https_and_sighup_reloads_the_certificate(tmp_path):
    import ssl

    ca = _pki(tmp_path, "t")
    cafile = str(tmp_path / "t-ca.pem")
    first, second = ca.issue_cert("localhost", "127.0.0.1"), ca.issue_cert("localhost", "127.0.0.1")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    first.cert_chain_pems[0].write_to_path(str(cert))
    first.private_key_pem.write_to_path(str(key))
    with serve(tmp_path, "--workers", "2", "--certfile", str(cert), "--keyfile", str(key),
               app=GONET_APP, module="gapp",
               bind=("127.0.0.1:0", "http://127.0.0.1:0")) as s:
        assert s.url.startswith("https://127.0.0.1:")
        port = int(s.url.rsplit(":", 1)[1])
        plain = re.search(r"http://127\.0\.0\.1:(\d+)", s.text()).group(1)
        verify = ssl.create_default_context(cafile=cafile)
        r = httpx.get(f"https://localhost:{port}/", verify=verify, timeout=10)
        assert r.status_code == 200 and int(r.text) != s.proc.pid
        assert httpx.get(f"http://127.0.0.1:{plain}/", timeout=10).status_code == 200
        old_serial = _peer_serial(port, cafile)
        # Renew the certificate on disk, then SIGHUP: the new workers read it.
        second.cert_chain_pems[0].write_to_path(str(cert))
        second.private_key_pem.write_to_path(str(key))
        new_serial = int(ssl._ssl._test_decode_cert(str(cert))["serialNumber"], 16)
        assert new_serial != old_serial
        s.signal(signal.SIGHUP)
        deadline = time.monotonic() + 20
        while _peer_serial(port, cafile) != new_serial:
            assert time.monotonic() < deadline, s.text()
            time.sleep(0.05)
        assert httpx.get(f"https://localhost:{port}/", verify=verify, timeout=10).status_code == 200
        s.signal(signal.SIGTERM)
        assert s.wait() == 0
        assert "Traceback" not in s.text()
