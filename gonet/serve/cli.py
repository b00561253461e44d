"""Serve layer: the command line, ``gonet serve module:attr`` (also ``python -m gonet``).

The top of the stack: it parses options, opens the listening sockets
(``binds.py``), and hands them to the master/worker supervisor
(``master.py``, ``worker.py``). What a worker serves is composed here, in
the worker, after fork::

    max-requests counter -> ProxyHeaders -> AccessLog -> app

where the app is a gonet handler ``(w, r)``, a ServeMux or an object with
``serve_http``, or a WSGI application wrapped in ``WSGIHandler``
(``--interface auto`` tells them apart). The app is imported in each worker,
never in the master, so a SIGHUP restart loads the code afresh.

Options come from the command line, else from the environment: every
option has a ``GONET_`` variable (``--workers`` is ``GONET_WORKERS``,
``--no-patch`` is ``GONET_NO_PATCH=1``, APP is ``GONET_APP``; a repeatable
option takes a whitespace-separated list), as uvicorn's ``UVICORN_``; then
the ecosystem's ``WEB_CONCURRENCY`` (workers) and ``PORT`` (binds
``0.0.0.0:$PORT``) when nothing else said; then the defaults. Sockets passed
by systemd (``LISTEN_FDS`` for this ``LISTEN_PID``) or named with ``--fd``
are served as they are.

Exit status: 0 after a graceful shutdown; 2 for a bad option or an app that
cannot be imported (its traceback, then one line on stderr); 1 for other
failures (a port in use, a worker that crashed while booting).
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import sys
from collections.abc import Callable
from typing import Any, NoReturn

from gonet.serve.app import BootError, detect_interface, load_app
from gonet.serve.binds import Bind, ListenSet, fd_bind, parse_bind, systemd_fds
from gonet.serve.logs import setup as setup_logging
from gonet.serve.master import Master

__all__ = ["main", "load_app", "detect_interface", "build_parser", "parse_serve_args",
           "env_name"]

log = logging.getLogger("gonet.serve")

_DESCRIPTION = """\
Serve a gonet handler, ServeMux or WSGI application (Flask, Django, ...).

APP is module:attr, e.g. "myapp:app" or "pkg.web:create_app()" (a factory
called with no arguments). The current directory is on the import path.
"""

_EPILOG = """\
timeouts are in seconds; 0 means no limit.

workers: a master process owns the sockets and supervises N worker
processes, each with its own scheduler, accepting on its own SO_REUSEPORT
socket (one shared socket where that is unavailable).

signals to the master (gunicorn's): TERM/INT graceful shutdown (the listening
sockets close first; a second INT forces it), QUIT quick shutdown, HUP
replaces every worker without refusing a connection, TTIN/TTOU one worker
more/fewer, USR1 reopens log files, USR2 logs every worker's goroutine dump
(kill -USR2 WORKER_PID: that worker's). A plain gonet program dumps its
goroutines and exits 2 on SIGQUIT, as Go does.

watchdog: a worker whose scheduler makes no progress for --timeout seconds
(a handler stuck in C code or a CPU loop; waiting requests do not count) is
killed and replaced, after its goroutine dump is logged.

environment: every option is also read from GONET_<OPTION> (GONET_WORKERS=4,
GONET_NO_PATCH=1, GONET_BIND="a b", GONET_APP=myapp:app); WEB_CONCURRENCY sets
the workers and PORT the bind (0.0.0.0:$PORT) when nothing else does;
systemd's LISTEN_FDS/LISTEN_PID sockets are served (so are --fd N).

patch: each worker calls gonet.patch() before it imports APP, so the
standard library's blocking calls (sockets, ssl, select, time.sleep, threading
locks, subprocess) park the calling goroutine instead of the worker's thread:
requests, redis-py, psycopg and other pure-Python clients cooperate with no
change. --no-patch leaves the standard library alone. A goroutine that still
holds the thread (a C library that waits, a CPU loop) is logged with its stack
after --block-warn seconds.

threads: a WSGI app runs in the connection's goroutine by default: fast, and
right for apps whose waits cooperate. An app that blocks in C (a driver's C
wait, file I/O on a slow disk) stalls every connection of its worker
meanwhile: give it --threads N to run each call on N OS threads.
"""


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors and exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _seconds(text: str) -> float | None:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid number of seconds: {text!r}") from None
    if v < 0 or v != v:
        raise argparse.ArgumentTypeError(f"must not be negative: {text!r}")
    return v or None


def _count(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid count: {text!r}") from None
    if v < 0:
        raise argparse.ArgumentTypeError(f"must not be negative: {text!r}")
    return v


def _positive(text: str) -> int:
    v = _count(text)
    if v == 0:
        raise argparse.ArgumentTypeError(f"must be at least 1: {text!r}")
    return v


def _workers(text: str) -> int:
    if text == "auto":
        return 0
    return _count(text)


def _bind(text: str) -> Any:
    try:
        return parse_bind(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def build_parser() -> argparse.ArgumentParser:
    from gonet import __version__

    p = _Parser(prog="gonet", description="gonet: Go's network stack for Python.")
    p.add_argument("--version", action="version", version=f"gonet {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    s = sub.add_parser("serve", help="serve an HTTP application", description=_DESCRIPTION,
                       epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    s.add_argument("app", metavar="APP", nargs="?",
                   help="module:attr of the handler, ServeMux or WSGI app ($GONET_APP)")
    g = s.add_argument_group("listening")
    g.add_argument("-b", "--bind", action="append", type=_bind, metavar="ADDR",
                   help="HOST:PORT, [V6]:PORT, :PORT (every address) or unix:PATH, "
                        "optionally after https:// or http://; repeat for several "
                        "(default 127.0.0.1:8000)")
    g.add_argument("--fd", action="append", type=_count, metavar="N",
                   help="serve the listening socket inherited as file descriptor N "
                        "(repeatable; systemd's LISTEN_FDS sockets are taken by themselves)")
    g.add_argument("--certfile", metavar="FILE",
                   help="serve HTTPS with this PEM certificate (chain); every bind is TLS "
                        "unless given as http://HOST:PORT")
    g.add_argument("--keyfile", metavar="FILE",
                   help="the certificate's private key (PEM), if not in --certfile")
    g.add_argument("--ca-certs", metavar="FILE",
                   help="CA certificates (PEM) to verify client certificates with")
    g.add_argument("--cert-reqs", type=int, choices=(0, 1, 2), default=0, metavar="N",
                   help="client certificates: 0 not asked (default), 1 optional, 2 required")
    g.add_argument("--no-reuse-port", dest="reuse_port", action="store_false",
                   help="one listening socket shared by all workers instead of one "
                        "SO_REUSEPORT socket each")
    g = s.add_argument_group("application")
    g.add_argument("--interface", choices=("auto", "gonet", "wsgi"), default="auto",
                   help="gonet: APP is a handler (w, r), a ServeMux or has serve_http; "
                        "wsgi: APP is a WSGI app (environ, start_response); "
                        "auto (default): tell from APP")
    g.add_argument("--threads", type=_count, default=0, metavar="N",
                   help="run each WSGI call on a pool of N OS threads (for apps that block); "
                        "default 0: in the connection's goroutine")
    g.add_argument("--no-patch", dest="patch", action="store_false",
                   help="do not call gonet.patch() before importing APP (the standard "
                        "library's blocking calls then block the worker's thread)")
    g.add_argument("--block-warn", type=_seconds, default=0.1, metavar="S",
                   help="log the stack of a goroutine that holds its worker's thread for S "
                        "seconds or more, once per call site (default 0.1; 0 = off)")
    g.add_argument("--app-dir", default=".", metavar="DIR",
                   help="directory put first on the import path (default: current directory)")
    g = s.add_argument_group("processes")
    g.add_argument("-w", "--workers", type=_workers, default=1, metavar="N",
                   help="worker processes; 0 or 'auto' = one per CPU (default 1)")
    g.add_argument("--timeout-graceful-shutdown", type=_seconds, default=30.0, metavar="S",
                   help="how long a stopping worker waits for requests in flight before "
                        "closing them (default 30)")
    g.add_argument("-t", "--timeout", type=_seconds, default=60.0, metavar="S",
                   help="watchdog: kill and replace a worker whose scheduler made no progress "
                        "for S seconds, after logging its goroutine dump (default 60; 0 = off)")
    g.add_argument("--reload", action="store_true",
                   help="development: replace the workers when a .py file changes (watchfiles "
                        "if installed, pip install 'gonet[reload]'; else polling)")
    g.add_argument("--reload-dir", action="append", metavar="DIR",
                   help="directory to watch with --reload (repeatable; default --app-dir)")
    g.add_argument("--max-requests", type=_count, default=0, metavar="N",
                   help="replace a worker after it served N requests (default 0: never)")
    g.add_argument("--max-requests-jitter", type=_count, default=0, metavar="N",
                   help="add 0..N to --max-requests per worker, so they do not all "
                        "restart at once")
    g = s.add_argument_group("HTTP server (timeouts in seconds, 0 = none)")
    g.add_argument("--read-header-timeout", type=_seconds, default=10.0, metavar="S",
                   help="time to read a request's head (default 10)")
    g.add_argument("--read-timeout", type=_seconds, default=None, metavar="S",
                   help="time to read a whole request, body included (default none)")
    g.add_argument("--write-timeout", type=_seconds, default=None, metavar="S",
                   help="time from the end of the request head to the end of the "
                        "response (default none)")
    g.add_argument("--idle-timeout", type=_seconds, default=120.0, metavar="S",
                   help="how long a keep-alive connection waits for its next request "
                        "(default 120)")
    g.add_argument("--max-header-bytes", type=_positive, default=1 << 20, metavar="N",
                   help="largest request head accepted; larger gets 431 (default 1048576)")
    g = s.add_argument_group("proxies and logging")
    g.add_argument("--proxy-headers", action="store_true",
                   help="take the client address and scheme from X-Forwarded-For / "
                        "X-Forwarded-Proto / Forwarded, from trusted peers only")
    g.add_argument("--forwarded-allow-ips", metavar="IPS",
                   default=os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1"),
                   help="comma-separated addresses or networks trusted to send proxy "
                        "headers, or '*' (default $FORWARDED_ALLOW_IPS or 127.0.0.1)")
    g.add_argument("--access-log", action="store_true",
                   help="log every request to stdout in the combined log format")
    g.add_argument("--access-logfile", metavar="FILE",
                   help="write the access log to FILE ('-': stdout); turns it on")
    g.add_argument("--access-log-format", metavar="FMT",
                   help="gunicorn's access log format, e.g. '%%(h)s \"%%(r)s\" %%(s)s %%(M)sms' "
                        "(atoms h l u t r m U q H s B b f a T M D L p {header}i {header}o "
                        "{var}e; default: the combined format); turns the access log on")
    g.add_argument("--error-logfile", "--log-file", metavar="FILE",
                   help="write the server's log to FILE instead of stderr ('-': stderr)")
    g.add_argument("--log-level", default="info", type=str.lower,
                   choices=("critical", "error", "warning", "info", "debug"),
                   help="level of gonet's own loggers (default info); the root logger and "
                        "the app's loggers are left alone")
    g.add_argument("--log-config", metavar="FILE",
                   help="logging configuration applied after gonet's: a .json dictConfig "
                        "or an INI fileConfig file")
    return p


class _Counter:
    """Counts requests; calls ``recycle()`` once the worker's quota is used up."""

    __slots__ = ("handler", "left", "recycle")

    def __init__(self, handler: Callable, limit: int, recycle: Callable[[], None]) -> None:
        self.handler = handler
        self.left = limit
        self.recycle = recycle

    def __call__(self, w: Any, r: Any) -> None:
        self.left -= 1
        if self.left == 0:
            self.recycle()
        self.handler(w, r)


def _tls_context(args: argparse.Namespace) -> Any:
    """The server's SSLContext from the certificate options (read afresh in
    each worker, so a SIGHUP restart picks up renewed certificates)."""
    from gonet.tls import server_context

    return server_context(args.certfile, args.keyfile, ca_certs=args.ca_certs,
                          cert_reqs=args.cert_reqs)


class _TLSBinds:
    """The worker's server, serving TLS on the listeners of TLS binds."""

    def __init__(self, srv: Any, tls_addresses: set[str]) -> None:
        self.srv = srv
        self.tls_addresses = tls_addresses

    def serve(self, ln: Any) -> None:
        if str(ln.addr) in self.tls_addresses:
            self.srv.serve_tls(ln)
        else:
            self.srv.serve(ln)

    def shutdown(self, timeout: float | None = None) -> bool:
        return self.srv.shutdown(timeout)


def _make_boot(args: argparse.Namespace, nworkers: int, tls_addresses: set[str] | None = None
               ) -> Callable:
    def boot(recycle: Callable[[], None]) -> tuple[Any, str]:
        from gonet import http
        from gonet.http.accesslog import AccessLog
        from gonet.http.proxy import ProxyHeaders
        from gonet.http.wsgi import WSGIHandler
        from gonet.runtime import sysmon

        if args.patch:  # before the app imports its libraries, as gunicorn's gevent worker
            from gonet.coop import patch

            patch()
        if args.block_warn:
            sysmon.start(args.block_warn)
        app = load_app(args.app, args.app_dir)
        kind = detect_interface(app, args.interface, args.app)
        if kind == "wsgi":
            handler: Any = WSGIHandler(app, threads=args.threads, multiprocess=nworkers > 1)
            info = f"WSGI app, {args.threads} threads" if args.threads else "WSGI app"
        else:
            if args.threads:
                raise BootError(f"--threads runs WSGI apps on threads; {args.app} is a gonet "
                                "handler (use gonet.blocking() inside it instead)")
            handler = app
            info = "gonet handler"
        h = handler.serve_http if hasattr(handler, "serve_http") else handler
        if args.access_log:
            h = AccessLog(h, format=args.access_log_format)
        if args.proxy_headers:
            h = ProxyHeaders(h, args.trusted)
        if args.max_requests:
            limit = args.max_requests + random.randint(0, args.max_requests_jitter)
            h = _Counter(h, limit, recycle)
        srv = http.Server(handler=h, read_timeout=args.read_timeout,
                          read_header_timeout=args.read_header_timeout,
                          write_timeout=args.write_timeout, idle_timeout=args.idle_timeout,
                          max_header_bytes=args.max_header_bytes)
        if tls_addresses:
            try:
                srv.tls_config = _tls_context(args)
            except (OSError, ValueError) as e:
                raise BootError(str(e)) from None
            return _TLSBinds(srv, tls_addresses), info + ", TLS"
        return srv, info

    return boot


# -- main --------------------------------------------------------------------------------

_UNSET: Any = object()
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _serve_parser(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    for a in parser._actions:
        if isinstance(a, argparse._SubParsersAction):
            return a.choices["serve"]
    raise AssertionError("no serve command")  # pragma: no cover


def env_name(action: argparse.Action) -> str:
    """The GONET_ variable of an option: its long name (``--no-patch`` ->
    ``GONET_NO_PATCH``), ``GONET_APP`` for APP."""
    if not action.option_strings:
        return "GONET_" + action.dest.upper()
    longest = max(action.option_strings, key=len)
    return "GONET_" + longest.lstrip("-").upper().replace("-", "_")


class _EnvError(ValueError):
    pass


def _from_env(action: argparse.Action, raw: str) -> Any:
    name = env_name(action)
    if action.nargs == 0:  # a flag
        v = raw.strip().lower()
        if v in _TRUE:
            return action.const
        if v in _FALSE:
            return _UNSET
        raise _EnvError(f"{name}={raw!r}: want 1/true/yes/on or 0/false/no/off")

    def one(text: str) -> Any:
        try:
            v = action.type(text) if action.type is not None else text
        except (argparse.ArgumentTypeError, ValueError) as e:
            raise _EnvError(f"{name}={raw!r}: {e}") from None
        if action.choices is not None and v not in action.choices:
            raise _EnvError(f"{name}={raw!r}: choose from "
                            f"{', '.join(map(str, action.choices))}")
        return v

    if isinstance(action, argparse._AppendAction):
        return [one(t) for t in raw.split()]
    return one(raw)


def parse_serve_args(argv: list[str], environ: Any = None) -> argparse.Namespace:
    """``gonet serve`` ARGV (after "serve") with the environment applied: the
    command line, then GONET_*, then WEB_CONCURRENCY / PORT, then defaults.
    ``args.given`` names the options set by the command line or GONET_*.
    Exits 2 with one line for a bad option or variable."""
    env = os.environ if environ is None else environ
    sp = _serve_parser(build_parser())
    actions = [a for a in sp._actions if a.dest != "help"]
    ns = argparse.Namespace()
    for a in actions:
        # argparse sets a default only where the namespace has nothing; an
        # append action needs None to start its list from.
        setattr(ns, a.dest, None if isinstance(a, argparse._AppendAction) else _UNSET)
    args = sp.parse_args(argv, namespace=ns)
    given = set()
    for a in actions:
        v = getattr(args, a.dest)
        if isinstance(a, argparse._AppendAction) or not a.option_strings:
            unset = v is None  # an empty append list, or APP left out (nargs="?")
        else:
            unset = v is _UNSET  # None is a value here ("--timeout 0")
        if not unset:
            given.add(a.dest)
            continue
        raw = env.get(env_name(a))
        if raw is not None:
            try:
                v = _from_env(a, raw)
            except _EnvError as e:
                sp.exit(2, f"gonet serve: error: {e} (see --help)\n")
            if v is not _UNSET:
                setattr(args, a.dest, v)
                given.add(a.dest)
                continue
        setattr(args, a.dest, a.default)
    if "workers" not in given and env.get("WEB_CONCURRENCY"):
        try:
            args.workers = _workers(env["WEB_CONCURRENCY"])
        except argparse.ArgumentTypeError as e:
            sp.exit(2, f"gonet serve: error: WEB_CONCURRENCY={env['WEB_CONCURRENCY']!r}: {e}\n")
    args.given = given
    return args


def _binds(args: argparse.Namespace, environ: Any = None) -> list[Bind]:
    """The binds: --bind, --fd and systemd's sockets; else $PORT; else 127.0.0.1:8000."""
    env = os.environ if environ is None else environ
    binds = list(args.bind or [])
    binds += [fd_bind(fd) for fd in args.fd or []]
    binds += [fd_bind(fd, "LISTEN_FDS") for fd in systemd_fds(env)]
    if binds:
        return binds
    port = env.get("PORT", "")
    if port:
        try:
            return [parse_bind(f"0.0.0.0:{port}")]
        except ValueError as e:
            raise ValueError(f"PORT={port!r}: {e}") from None
    return [Bind("127.0.0.1:8000", "tcp", "127.0.0.1", 8000)]


def serve(args: argparse.Namespace) -> int:
    from gonet.http.accesslog import LogFormat
    from gonet.http.proxy import TrustedPeers

    def fail(msg: str) -> int:
        print(f"gonet serve: error: {msg}", file=sys.stderr)
        return 2

    if not hasattr(args, "given"):  # a namespace from build_parser() directly
        args.given = set()
    if not args.app:
        return fail("APP is missing: gonet serve module:attr (or set GONET_APP) (see --help)")
    try:
        args.trusted = TrustedPeers(args.forwarded_allow_ips)
    except ValueError as e:
        return fail(f"{e} (see --help)")
    if ":" not in args.app or args.app.startswith(":") or args.app.endswith(":"):
        return fail(f"invalid APP {args.app!r}: want module:attr, e.g. myapp:app")
    if args.access_log_format:
        try:
            LogFormat(args.access_log_format)
        except ValueError as e:
            return fail(str(e))
    nworkers = args.workers or _cpu_count()
    try:
        binds = _binds(args)
    except ValueError as e:
        return fail(str(e))
    for b in binds:
        if b.tls is None:
            b.tls = bool(args.certfile)
        elif b.tls and not args.certfile:
            return fail(f"bind {b.spec!r} is TLS: give --certfile (and --keyfile)")
    if args.certfile:
        try:
            _tls_context(args)  # fail now, before any worker, on a bad file
        except (OSError, ValueError) as e:
            return fail(str(e))
    elif args.keyfile or args.ca_certs or args.cert_reqs:
        return fail("--keyfile, --ca-certs and --cert-reqs need --certfile")
    try:
        args.access_log = setup_logging(
            args.log_level, error_logfile=args.error_logfile,
            access_log=bool(args.access_log or args.access_log_format),
            access_logfile=args.access_logfile, log_config=args.log_config,
            level_given="log_level" in args.given)
    except (OSError, ValueError) as e:
        return fail(str(e))
    try:
        ls = ListenSet(binds, nworkers, reuse_port=args.reuse_port)
    except OSError as e:
        print(f"gonet: error: {e.strerror or e}", file=sys.stderr)
        return 1
    reloader = None
    if args.reload:
        from gonet.serve.reload import Reloader

        reloader = Reloader(args.reload_dir or [args.app_dir])
    try:
        master = Master(ls, nworkers, _make_boot(args, nworkers, ls.tls_addresses()),
                        graceful_timeout=args.timeout_graceful_shutdown, timeout=args.timeout,
                        reloader=reloader)
        return master.run()
    finally:
        ls.close()


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``gonet`` console script; returns the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser()
    if argv[:1] == ["serve"]:
        return serve(parse_serve_args(argv[1:]))
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    if args.command == "serve":  # pragma: no cover - an abbreviation of "serve"
        return serve(parse_serve_args(argv[1:]))
    parser.error(f"unknown command {args.command!r}")  # pragma: no cover


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
