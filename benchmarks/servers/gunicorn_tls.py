"""Benchmark peer (HTTPS): gunicorn sync, one worker, ``--certfile/--keyfile``, a bare WSGI hello."""

import os
import sys

from _common import server_args, tls_files, unavailable

try:
    from gunicorn.app.wsgiapp import run
except ImportError as e:
    unavailable(f"gunicorn not installed ({e})")

a = server_args()
cert, key = tls_files()
here = os.path.dirname(os.path.abspath(__file__))
sys.argv = ["gunicorn", "--chdir", here, "--bind", f"{a.host}:{a.port}", "--workers", "1",
            "--worker-class", "sync", "--keep-alive", str(int(a.keepalive)),
            "--backlog", "4096", "--log-level", "warning",
            "--certfile", cert, "--keyfile", key, "_common:wsgi_hello"]
sys.exit(run())
