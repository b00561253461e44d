"""The `gonet` command line: --help, one-line errors with exit status 2,
telling gonet handlers from WSGI apps, loading module:attr, bind parsing,
and a gonet handler / ServeMux served end to end."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap

import httpx
import pytest

from gonet import http
from gonet.serve.app import BootError, detect_interface, load_app
from gonet.serve.binds import parse_bind
from gonet.serve.cli import build_parser

pytestmark = pytest.mark.timeout(30)


def gonet(*args: str, cwd=None, timeout: float = 20) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gonet", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=cwd, start_new_session=True)


def _one_line_error(p: subprocess.CompletedProcess) -> str:
    lines = [ln for ln in p.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, p.stderr
    assert "Traceback" not in p.stderr
    return lines[0]


# -- help and option errors -------------------------------------------------------------


def test_help_documents_every_option():
    p = gonet("serve", "--help")
    assert p.returncode == 0
    for opt in ("--bind", "--workers", "--interface", "--read-header-timeout", "--read-timeout",
                "--write-timeout", "--idle-timeout", "--max-header-bytes", "--access-log",
                "--log-level", "--threads", "--timeout-graceful-shutdown", "--max-requests",
                "--max-requests-jitter", "--proxy-headers", "--forwarded-allow-ips",
                "--no-reuse-port", "--app-dir", "unix:PATH", "HUP"):
        assert opt in p.stdout, opt
    top = gonet("--help")
    assert top.returncode == 0 and "serve" in top.stdout


def test_version():
    p = gonet("--version")
    assert p.returncode == 0 and p.stdout.startswith("gonet ")


@pytest.mark.parametrize("args", [
    ["serve", "app:app", "--workers", "many"],
    ["serve", "app:app", "--bogus-option"],
    ["serve", "app:app", "--bind", "no-port-here"],
    ["serve", "app:app", "--bind", "127.0.0.1:99999"],
    ["serve", "app:app", "--interface", "asgi"],
    ["serve", "app:app", "--read-timeout", "-1"],
    ["serve", "app:app", "--max-header-bytes", "0"],
    ["serve", "app:app", "--log-level", "loud"],
    ["serve", "app:app", "--forwarded-allow-ips", "not-an-ip"],
    ["serve", "no_colon_here"],
    ["serve"],
    ["frobnicate"],
])
def test_bad_option_one_line_exit_2(args):
    p = gonet(*args)
    assert p.returncode == 2, (p.returncode, p.stderr)
    line = _one_line_error(p)
    assert "error" in line


def test_import_error_one_line_exit_2(tmp_path):
    p = gonet("serve", "no_such_module_xyz:app", "--bind", "127.0.0.1:0", cwd=tmp_path)
    assert p.returncode == 2
    line = _one_line_error(p)
    assert line == "gonet: error: cannot import module 'no_such_module_xyz': " \
                   "No module named 'no_such_module_xyz'"


def test_app_raising_at_import_shows_its_traceback_then_one_line_exit_2(tmp_path):
    (tmp_path / "broken.py").write_text("import os\n\nDB = os.environ['NO_SUCH_VAR_XYZ']\n")
    (tmp_path / "typo.py").write_text("def app(:\n")
    p = gonet("serve", "broken:app", "--bind", "127.0.0.1:0", cwd=tmp_path)
    assert p.returncode == 2
    lines = [ln for ln in p.stderr.splitlines() if ln.strip()]
    assert lines[-1] == ("gonet: error: error importing module 'broken': "
                         "KeyError: 'NO_SUCH_VAR_XYZ'")
    # uvicorn's behaviour: the traceback, with the app's file and line, and
    # neither importlib's frames nor gonet's
    assert lines[0] == "Traceback (most recent call last):"
    assert f'File "{tmp_path / "broken.py"}", line 3, in <module>' in p.stderr
    assert "importlib" not in p.stderr and "gonet/serve" not in p.stderr
    assert lines[-2] == "KeyError: 'NO_SUCH_VAR_XYZ'"
    p = gonet("serve", "typo:app", "--bind", "127.0.0.1:0", cwd=tmp_path)
    assert p.returncode == 2
    assert "SyntaxError" in p.stderr.splitlines()[-1] and "typo.py" in p.stderr


def test_missing_attribute_exit_2(tmp_path):
    (tmp_path / "mod.py").write_text("x = 1\n")
    p = gonet("serve", "mod:app", "--bind", "127.0.0.1:0", cwd=tmp_path)
    assert p.returncode == 2
    assert _one_line_error(p) == "gonet: error: module 'mod' has no attribute 'app'"
    p = gonet("serve", "mod:x", "--bind", "127.0.0.1:0", cwd=tmp_path)
    assert p.returncode == 2
    assert "not a handler or a WSGI app" in _one_line_error(p)


def test_port_in_use_exit_1():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        p = gonet("serve", "x:app", "--bind", f"127.0.0.1:{port}")
    assert p.returncode == 1
    assert _one_line_error(p) == f"gonet: error: listen tcp 127.0.0.1:{port}: bind: address already in use"


# -- interface detection and loading (in process) ------------------------------------------


def gonet_handler(w, r):
    w.write(b"gonet")


def wsgi_app(environ, start_response):
    start_response("200 OK", [])
    return [b"wsgi"]


class ServeHTTP:
    def serve_http(self, w, r):
        w.write(b"object")


def ambiguous(a, b):
    pass


async def asgi_app(scope, receive, send):
    pass


def test_detect_interface():
    assert detect_interface(gonet_handler) == "gonet"
    assert detect_interface(http.ServeMux()) == "gonet"
    assert detect_interface(ServeHTTP()) == "gonet"
    assert detect_interface(wsgi_app) == "wsgi"
    assert detect_interface(ambiguous, "wsgi") == "wsgi"
    with pytest.raises(BootError, match="--interface"):
        detect_interface(ambiguous)
    with pytest.raises(BootError, match="ASGI"):
        detect_interface(asgi_app)
    with pytest.raises(BootError, match="not a handler"):
        detect_interface(42)
    flask = pytest.importorskip("flask")
    assert detect_interface(flask.Flask("x")) == "wsgi"


def test_load_app_attr_and_factory(tmp_path):
    (tmp_path / "factmod.py").write_text(textwrap.dedent("""
        class ns:
            inner = "dotted"
        def create():
            return "made"
    """))
    assert load_app("factmod:ns.inner", str(tmp_path)) == "dotted"
    assert load_app("factmod:create()", str(tmp_path)) == "made"
    with pytest.raises(BootError) as ei:
        load_app("factmod", str(tmp_path))
    assert ei.value.code == 2


def test_parse_bind():
    b = parse_bind("127.0.0.1:8000")
    assert (b.network, b.host, b.port) == ("tcp", "127.0.0.1", 8000)
    b = parse_bind("[::1]:0")
    assert (b.network, b.host, b.port) == ("tcp", "::1", 0)
    b = parse_bind(":9000")
    assert (b.host, b.port) == ("", 9000)
    b = parse_bind("unix:/tmp/x.sock")
    assert (b.network, b.path) == ("unix", "/tmp/x.sock")
    for bad in ("nohost", "1.2.3.4:http", "[::1:80", "unix:"):
        with pytest.raises(ValueError):
            parse_bind(bad)


def test_parser_defaults():
    a = build_parser().parse_args(["serve", "m:app"])
    assert a.workers == 1 and a.threads == 0 and a.interface == "auto"
    assert a.read_header_timeout == 10 and a.idle_timeout == 120 and a.read_timeout is None
    assert a.max_header_bytes == 1 << 20 and a.timeout_graceful_shutdown == 30
    a = build_parser().parse_args(["serve", "m:app", "-w", "auto", "--idle-timeout", "0"])
    assert a.workers == 0 and a.idle_timeout is None


# -- end to end: a gonet ServeMux with options -----------------------------------------------


def test_serve_gonet_mux_with_options(tmp_path):
    (tmp_path / "muxapp.py").write_text(textwrap.dedent("""
        from gonet import http
        app = http.ServeMux()

        @app.handle_func("GET /hello/{name}")
        def hello(w, r):
            w.write(("hello " + r.path_value("name") + " from " + r.remote_addr).encode())
    """))
    proc = subprocess.Popen(
        [sys.executable, "-m", "gonet", "serve", "muxapp:app", "--bind", "127.0.0.1:0",
         "--access-log", "--proxy-headers", "--max-header-bytes", "2048",
         "--timeout-graceful-shutdown", "5"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True)
    try:
        line = proc.stderr.readline()
        assert "listening on http://127.0.0.1:" in line and "gonet handler" in line, line
        url = line.split("listening on ")[1].split()[0]
        r = httpx.get(url + "/hello/bob", headers={"X-Forwarded-For": "198.51.100.9"}, timeout=10)
        assert r.text == "hello bob from 198.51.100.9:0"
        assert httpx.get(url + "/nope", timeout=10).status_code == 404
        # Under the 1 MiB default, over --max-header-bytes (plus the server's 4 KB slack).
        r = httpx.get(url + "/hello/x", headers={"X-Big": "y" * 100_000}, timeout=10)
        assert r.status_code == 431
        access = proc.stdout.readline()
        assert access.startswith('198.51.100.9 - - [') and '"GET /hello/bob HTTP/1.1" 200' in access
        os.kill(proc.pid, signal.SIGTERM)
        assert proc.wait(15) == 0
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(10)
        proc.stdout.close()
        proc.stderr.close()


def test_threads_with_gonet_handler_is_an_error(tmp_path):
    (tmp_path / "gh.py").write_text("def app(w, r):\n    w.write(b'x')\n")
    p = gonet("serve", "gh:app", "--threads", "2", "--bind", "127.0.0.1:0", cwd=tmp_path)
    assert p.returncode == 2
    assert "--threads runs WSGI apps on threads" in _one_line_error(p)


def test_tls_options_errors_exit_2(tmp_path):
    missing = _one_line_error(gonet("serve", "x:y", "--certfile", str(tmp_path / "nope.pem")))
    assert "nope.pem" in missing
    (tmp_path / "bad.pem").write_text("not a certificate")
    assert "bad.pem" in _one_line_error(gonet("serve", "x:y", "--certfile", str(tmp_path / "bad.pem")))
    assert "--certfile" in _one_line_error(gonet("serve", "x:y", "--bind", "https://127.0.0.1:0"))
    assert "--certfile" in _one_line_error(gonet("serve", "x:y", "--keyfile", "k.pem"))
    for p in (gonet("serve", "x:y", "--certfile", str(tmp_path / "nope.pem")),):
        assert p.returncode == 2


def test_parse_bind_schemes():
    assert parse_bind("https://127.0.0.1:8443").tls is True
    b = parse_bind("http://[::1]:80")
    assert (b.tls, b.host, b.port) == (False, "::1", 80)
    assert parse_bind("127.0.0.1:1").tls is None


# -- the environment -----------------------------------------------------------------------


def test_env_every_option_and_precedence():
    from gonet.serve.cli import _binds, _serve_parser, env_name, parse_serve_args

    env = {"GONET_WORKERS": "3", "WEB_CONCURRENCY": "5", "GONET_NO_PATCH": "true",
           "GONET_BIND": "127.0.0.1:1 unix:/tmp/x.sock", "GONET_TIMEOUT": "0",
           "GONET_LOG_LEVEL": "DEBUG", "GONET_APP": "envapp:app", "GONET_ACCESS_LOG": "0"}
    a = parse_serve_args([], env)
    assert (a.app, a.workers, a.patch, a.timeout, a.log_level, a.access_log) == \
        ("envapp:app", 3, False, None, "debug", False)
    assert [b.spec for b in a.bind] == ["127.0.0.1:1", "unix:/tmp/x.sock"]
    assert {"workers", "patch", "bind", "timeout", "log_level", "app"} <= a.given
    # the command line wins over GONET_*, which wins over WEB_CONCURRENCY
    a = parse_serve_args(["cli:app", "-w", "2", "--timeout", "5"], env)
    assert (a.app, a.workers, a.timeout) == ("cli:app", 2, 5.0)
    a = parse_serve_args(["x:app"], {"WEB_CONCURRENCY": "4"})
    assert a.workers == 4 and "workers" not in a.given
    a = parse_serve_args(["x:app"], {})
    assert (a.workers, a.timeout, a.patch, a.bind) == (1, 60.0, True, None)
    # PORT binds every address when no bind, --fd or systemd socket says otherwise
    assert [b.spec for b in _binds(a, {"PORT": "5000"})] == ["0.0.0.0:5000"]
    assert [b.spec for b in _binds(a, {})] == ["127.0.0.1:8000"]
    a = parse_serve_args(["x:app", "--bind", "127.0.0.1:9"], {})
    assert [b.spec for b in _binds(a, {"PORT": "5000"})] == ["127.0.0.1:9"]
    # every option has its variable
    names = {env_name(act) for act in _serve_parser(build_parser())._actions if act.dest != "help"}
    assert {"GONET_APP", "GONET_NO_REUSE_PORT", "GONET_FD", "GONET_RELOAD_DIR",
            "GONET_ACCESS_LOG_FORMAT", "GONET_TIMEOUT_GRACEFUL_SHUTDOWN",
            "GONET_ERROR_LOGFILE"} <= names


@pytest.mark.parametrize("var,value,msg", [
    ("GONET_WORKERS", "many", "GONET_WORKERS='many': invalid count"),
    ("GONET_NO_PATCH", "maybe", "GONET_NO_PATCH='maybe': want 1/true"),
    ("GONET_LOG_LEVEL", "loud", "GONET_LOG_LEVEL='loud': choose from"),
    ("WEB_CONCURRENCY", "-1", "WEB_CONCURRENCY='-1'"),
])
def test_env_bad_values_one_line_exit_2(tmp_path, var, value, msg):
    p = subprocess.run([sys.executable, "-m", "gonet", "serve", "x:app"], cwd=tmp_path,
                       env={**os.environ, var: value}, capture_output=True, text=True,
                       timeout=20)
    assert p.returncode == 2
    assert msg in _one_line_error(p)


def test_systemd_fds_for_this_pid_only():
    from gonet.serve.binds import systemd_fds

    env = {"LISTEN_PID": "123", "LISTEN_FDS": "2", "LISTEN_FDNAMES": "a:b"}
    assert systemd_fds(dict(env), pid=456) == []
    assert systemd_fds(env, pid=123) == [3, 4]
    assert env == {}  # consumed: the app's children must not take them
