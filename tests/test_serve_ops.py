"""`gonet serve` in production, as a real process tree: gunicorn's signals,
the watchdog, draining, socket activation (--fd, LISTEN_FDS), the
environment, --reload, logging (gonet's loggers only, --log-config, log
files reopened on USR1) and a 50 MB multipart upload with RSS bounded.

Synchronisation is on what the server prints and on responses, never on
fixed sleeps; every process group is killed in teardown (test_workers.serve).
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time

import httpx
import pytest
from test_workers import GONET_APP, serve

pytestmark = [pytest.mark.timeout(60), pytest.mark.skipif(not hasattr(os, "fork"),
                                                          reason="needs fork")]


def _children(pid: int) -> set[int]:
    """Live child processes of ``pid`` (zombies not counted)."""
    out = set()
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                fields = f.read().rpartition(")")[2].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            out.add(int(name))
    return out


def _until(cond, timeout: float = 15.0, what: str = "condition"):
    end = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > end:
            raise AssertionError(f"no {what} within {timeout} s")
        time.sleep(0.02)


# -- signals --------------------------------------------------------------------------------


def test_ttin_ttou_usr2_and_habitual_signals_keep_serving(tmp_path):
    with serve(tmp_path, "--workers", "1", app=GONET_APP, module="gapp") as s:
        master = s.proc.pid
        assert len(_children(master)) == 1
        s.signal(signal.SIGTTIN)
        s.wait_line(r"SIGTTIN: 2 workers")
        _until(lambda: len(_children(master)) == 2, what="a second worker")
        # Both workers answer (their own SO_REUSEPORT sockets).
        pids = {s.get().text for _ in range(40)}
        assert len(pids) == 2
        s.signal(signal.SIGUSR2)
        s.wait_line(r"worker \d+: goroutine dump \(SIGUSR2\)", count=2)
        assert "goroutine 1 [" in s.text() and "serve 127.0.0.1" in s.text()
        s.signal(signal.SIGTTOU)
        s.wait_line(r"SIGTTOU: 1 worker\b")
        _until(lambda: len(_children(master)) == 1, what="one worker left")
        s.signal(signal.SIGTTOU)
        s.wait_line("already at 1 worker")
        # Signals a gunicorn user sends by habit, or a terminal sends: none
        # may take the service down.
        for sig in (signal.SIGWINCH, signal.SIGUSR1, signal.SIGTTIN, signal.SIGTTOU):
            s.signal(sig)
        s.wait_line(r"SIGTTOU: 1 worker\b", count=2)
        assert s.get().status_code == 200
        assert s.proc.poll() is None
        s.signal(signal.SIGTERM)
        assert s.wait() == 0


def test_usr1_reopens_the_access_log(tmp_path):
    log = tmp_path / "access.log"
    with serve(tmp_path, "--access-logfile", str(log), app=GONET_APP, module="gapp") as s:
        s.get("/first")
        _until(lambda: log.exists() and "/first" in log.read_text(), what="the first line")
        log.rename(tmp_path / "access.log.1")  # what logrotate does
        s.signal(signal.SIGUSR1)
        s.wait_line(r"worker \d+: SIGUSR1: reopened 1 log file")
        s.get("/second")
        _until(lambda: log.exists() and "/second" in log.read_text(), what="the reopened file")
        assert "/second" not in (tmp_path / "access.log.1").read_text()


def test_quit_is_a_quick_shutdown(tmp_path):
    with serve(tmp_path, app=GONET_APP, module="gapp") as s:
        with httpx.Client(timeout=30) as c:
            with c.stream("GET", s.url + "/slow?s=30") as r:
                assert next(r.iter_raw()).startswith(b"started;")
                t0 = time.monotonic()
                s.signal(signal.SIGQUIT)
                assert s.wait(10) == 0
                assert time.monotonic() - t0 < 5
        assert "SIGQUIT: quick shutdown" in s.text()


def test_graceful_stop_refuses_new_connections_at_once(tmp_path):
    with serve(tmp_path, "--workers", "2", app=GONET_APP, module="gapp") as s:
        host, port = s.url.rsplit("/", 1)[1].rsplit(":", 1)
        with httpx.Client(timeout=10) as c:
            with c.stream("GET", s.url + "/slow?s=3") as r:
                it = r.iter_raw()
                assert next(it).startswith(b"started;")
                s.signal(signal.SIGTERM)
                s.wait_line("SIGTERM: shutting down gracefully")

                def refused() -> bool:
                    try:
                        socket.create_connection((host, int(port)), timeout=1).close()
                    except ConnectionRefusedError:
                        return True
                    return False

                _until(refused, timeout=2, what="a refused connection")
                assert s.proc.poll() is None  # still draining the request in flight
                assert b"".join(it) == b"finished"
        assert s.wait() == 0


WATCHDOG_APP = """
import time

def app(w, r):
    if r.url.path == "/stuck":
        time.sleep(30)  # --no-patch: this holds the worker's thread
    w.write(b"fine")
"""


def test_watchdog_kills_and_replaces_a_stuck_worker(tmp_path):
    with serve(tmp_path, "--no-patch", "--timeout", "1", app=WATCHDOG_APP, module="wd") as s:
        assert s.get().text == "fine"
        with pytest.raises(httpx.HTTPError):
            s.get("/stuck", timeout=15)  # the worker dies under it
        s.wait_line(r"watchdog: no progress for --timeout 1 s")
        s.wait_line(r"worker \d+ timed out")
        text = s.text()
        assert "time.sleep(30)" in text  # the stuck goroutine's stack, logged first
        assert text.index("watchdog: no progress") < text.index("timed out")
        assert _until(lambda: s.get().text == "fine", what="a replacement worker")


# -- socket activation -----------------------------------------------------------------------


def test_fd_serves_an_inherited_socket(tmp_path):
    ln = socket.socket()
    ln.bind(("127.0.0.1", 0))
    ln.listen(16)
    port = ln.getsockname()[1]
    with serve(tmp_path, "--fd", str(ln.fileno()), "--workers", "2", bind=(),
               pass_fds=(ln.fileno(),)) as s:
        assert s.url == f"http://127.0.0.1:{port}"
        ln.close()  # the server has its own copy
        assert httpx.get(s.url, timeout=10).status_code == 200


def test_listen_fds_from_systemd(tmp_path):
    ln = socket.socket()
    ln.bind(("127.0.0.1", 0))
    ln.listen(16)
    port = ln.getsockname()[1]
    (tmp_path / "sd.py").write_text(GONET_APP)
    # As systemd does: the socket at fd 3, LISTEN_PID naming the server
    # (exec keeps the pid).
    launcher = (f"import os, sys; os.dup2({ln.fileno()}, 3); "
                f"os.environ.update(LISTEN_PID=str(os.getpid()), LISTEN_FDS='1'); "
                f"os.execv(sys.executable, [sys.executable, '-m', 'gonet', 'serve', 'sd:app', "
                f"'--app-dir', {str(tmp_path)!r}])")
    cmd = [sys.executable, "-c", launcher]
    with serve(tmp_path, app=GONET_APP, module="sd", cmd=cmd, pass_fds=(ln.fileno(),)) as s:
        assert s.url == f"http://127.0.0.1:{port}"
        ln.close()
        r = httpx.get(s.url + "/slow?s=0", timeout=10)
        assert r.text == "started;finished"


def test_fd_that_is_not_a_listening_socket_is_refused(tmp_path):
    a, b = socket.socketpair()
    fd = a.fileno()
    with a, b:
        (tmp_path / "x.py").write_text(GONET_APP)
        p = subprocess.run([sys.executable, "-m", "gonet", "serve", "x:app", "--app-dir",
                            str(tmp_path), "--fd", str(fd)], pass_fds=(fd,),
                           capture_output=True, text=True, timeout=20)
    assert p.returncode == 1
    assert p.stderr.strip() == f"gonet: error: --fd {fd}: not a listening socket " \
                               "(listen() was not called)"
    assert "listening on" not in p.stderr


# -- environment ---------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_port_web_concurrency_and_gonet_vars(tmp_path):
    port = _free_port()
    env = {"PORT": str(port), "WEB_CONCURRENCY": "2", "GONET_APP": "genv:app",
           "GONET_APP_DIR": str(tmp_path), "GONET_ACCESS_LOG": "yes"}
    cmd = [sys.executable, "-m", "gonet", "serve"]
    with serve(tmp_path, app=GONET_APP, module="genv", cmd=cmd, env=env) as s:
        assert s.url == f"http://0.0.0.0:{port}"
        assert "with 2 workers" in s.text()
        assert httpx.get(f"http://127.0.0.1:{port}/slow?s=0", timeout=10).status_code == 200


# -- reload ----------------------------------------------------------------------------------


def test_reload_replaces_workers_when_the_app_changes(tmp_path):
    v1 = "def app(w, r):\n    w.write(b'v1')\n"
    with serve(tmp_path, "--reload", app=v1, module="rl") as s:
        assert s.get().text == "v1"
        src = tmp_path / "rl.py"
        src.write_text("def app(w, r):\n    w.write(b'v2')\n")
        st = src.stat()
        os.utime(src, ns=(st.st_atime_ns, st.st_mtime_ns + 2_000_000_000))
        s.wait_line(r"--reload: rl\.py changed|--reload: .*rl\.py changed")
        _until(lambda: s.get().text == "v2", what="the new code")
        # A broken edit leaves the old workers serving, the traceback logged.
        src.write_text("def app(w, r):\n    w.write(b'v3'\n")
        st = src.stat()
        os.utime(src, ns=(st.st_atime_ns, st.st_mtime_ns + 4_000_000_000))
        s.wait_line("replacement worker .* failed to boot")
        assert "SyntaxError" in s.text() and s.get().text == "v2"


def test_polling_reloader_sees_a_change(tmp_path):
    from gonet.serve.reload import Reloader

    f = tmp_path / "m.py"
    f.write_text("x = 1\n")
    (tmp_path / "__pycache__").mkdir()
    changed = threading.Event()
    r = Reloader([str(tmp_path)], backend="poll")
    r.start(changed.set)
    try:
        (tmp_path / "__pycache__" / "skip.py").write_text("ignored")
        (tmp_path / "notes.txt").write_text("ignored")
        assert not changed.wait(1.2)
        f.write_text("x = 2\n")
        st = f.stat()
        os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
        assert changed.wait(5)
    finally:
        r.stop()


# -- logging ---------------------------------------------------------------------------------


DJANGO_APP = """
import logging
from django.conf import settings

settings.configure(
    DEBUG=False, SECRET_KEY="test", ROOT_URLCONF=__name__, ALLOWED_HOSTS=["*"],
    LOGGING={"version": 1, "disable_existing_loggers": False,
             "handlers": {"console": {"class": "logging.StreamHandler"}},
             "root": {"handlers": ["console"], "level": "INFO"}},
)
import django
django.setup()
from django.core.wsgi import get_wsgi_application
from django.http import HttpResponse
from django.urls import path

log = logging.getLogger("myapp.views")

def hello(request):
    log.warning("HELLO-MARKER from the app")
    return HttpResponse("hi")

def boom(request):
    raise RuntimeError("BOOM-MARKER")

urlpatterns = [path("hello", hello), path("boom", boom)]
app = get_wsgi_application()
"""


def test_django_log_lines_appear_once(tmp_path):
    pytest.importorskip("django")
    with serve(tmp_path, app=DJANGO_APP, module="dj") as s:
        assert s.get("/hello").text == "hi"
        assert s.get("/boom").status_code == 500
        s.wait_line("Internal Server Error: /boom")
        s.wait_line("RuntimeError: BOOM-MARKER")
        s.signal(signal.SIGTERM)
        assert s.wait() == 0
        s.wait_line("<EOF>")
    text = s.text()
    assert text.count("HELLO-MARKER") == 1, text
    assert text.count("Internal Server Error: /boom") == 1, text
    assert text.count("RuntimeError: BOOM-MARKER") == 1, text


def test_log_config_json_and_access_log_format(tmp_path):
    cfg = {"version": 1,
           "formatters": {"tagged": {"format": "CFG %(name)s %(levelname)s %(message)s"}},
           "handlers": {"err": {"class": "logging.StreamHandler", "formatter": "tagged",
                                "stream": "ext://sys.stderr"}},
           "loggers": {"gonet": {"handlers": ["err"], "level": "INFO", "propagate": False},
                       "gonet.access": {"handlers": ["err"], "level": "INFO",
                                        "propagate": False}}}
    (tmp_path / "log.json").write_text(json.dumps(cfg))
    with serve(tmp_path, "--log-config", str(tmp_path / "log.json"), "--access-log-format",
               '%(h)s "%(r)s" %(s)s %(b)s %(M)sms %({x-trace}i)s', app=GONET_APP,
               module="gapp") as s:
        assert s.lines[0].startswith("CFG gonet.serve INFO listening on")
        s.get("/slow?s=0.2", headers={"X-Trace": "t-1"})
        m = s.wait_line(r'CFG gonet.access INFO 127\.0\.0\.1 "GET /slow\?s=0\.2 HTTP/1\.1" '
                        r'200 16 (\d+)ms t-1')
        assert 150 <= int(m.group(1)) < 5000


def test_log_config_ini(tmp_path):
    ini = textwrap.dedent("""
        [loggers]
        keys=root,gonet
        [handlers]
        keys=h
        [formatters]
        keys=f
        [logger_root]
        handlers=
        [logger_gonet]
        handlers=h
        qualname=gonet
        propagate=0
        level=DEBUG
        [handler_h]
        class=StreamHandler
        args=(sys.stdout,)
        formatter=f
        [formatter_f]
        format=INI %(name)s %(message)s
    """)
    (tmp_path / "log.ini").write_text(ini)
    code = (f"import logging; from gonet.serve.logs import setup; "
            f"setup('info', log_config={str(tmp_path / 'log.ini')!r}, level_given=False); "
            f"logging.getLogger('gonet.serve').debug('dbg'); logging.getLogger('app').warning('w')")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=20)
    assert p.stdout == "INI gonet.serve dbg\n"
    assert p.stderr == "w\n"  # the app's logger: Python's last resort, not ours


def test_bad_log_config_is_a_clear_error(tmp_path):
    (tmp_path / "x.py").write_text(GONET_APP)
    (tmp_path / "bad.json").write_text("[1, 2]")
    p = subprocess.run([sys.executable, "-m", "gonet", "serve", "x:app", "--app-dir",
                        str(tmp_path), "--log-config", str(tmp_path / "bad.json")],
                       capture_output=True, text=True, timeout=20)
    assert p.returncode == 2
    assert "--log-config" in p.stderr and "bad.json" in p.stderr
    assert "listening on" not in p.stderr


# -- a 50 MB upload --------------------------------------------------------------------------


UPLOAD_APP = """
import hashlib, json, os

def status():
    out = {}
    with open("/proc/self/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM"):
                out[k] = int(v.split()[0]) * 1024
    return out

def app(w, r):
    if r.url.path == "/rss":
        w.write(json.dumps(status()).encode())
        return
    r.parse_multipart_form(max_memory=1 << 20)  # files beyond 1 MB go to disk
    f, fh = r.form_file("file")
    h = hashlib.sha256()
    with f:
        for piece in iter(lambda: f.read(1 << 16), b""):
            h.update(piece)
    w.write(json.dumps({"size": fh.size, "sha": h.hexdigest(), "disk": fh.on_disk,
                        "name": fh.filename, "tmp": os.listdir(os.environ["TMPDIR"]),
                        **status()}).encode())
"""


def test_multipart_uploads_1k_and_50m_with_rss_bounded(tmp_path):
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    big = tmp_path / "big.bin"
    h = hashlib.sha256()
    with open(big, "wb") as f:
        for _ in range(50):
            chunk = os.urandom(1 << 20)
            h.update(chunk)
            f.write(chunk)
    with serve(tmp_path, app=UPLOAD_APP, module="up", env={"TMPDIR": str(tmp)}) as s:
        with httpx.Client(base_url=s.url, timeout=60) as c:
            small = os.urandom(1024)
            r = c.post("/", files={"file": ("small.bin", small)}).json()
            assert (r["size"], r["sha"], r["disk"]) == (1024, hashlib.sha256(small).hexdigest(),
                                                        False)
            before = c.get("/rss").json()
            with open(big, "rb") as f:
                r = c.post("/", files={"file": ("big.bin", f)}).json()
            assert (r["size"], r["sha"], r["disk"]) == (50 << 20, h.hexdigest(), True)
            assert len(r["tmp"]) == 1  # spooled to TMPDIR while the handler ran
            grew = r["VmHWM"] - before["VmHWM"]
            print(f"peak RSS grew by {grew / 1e6:.1f} MB for a 50 MB upload")
            assert grew < 8 << 20, (before, r)  # measured: about 1 MB
        assert os.listdir(tmp) == []  # removed after the request
