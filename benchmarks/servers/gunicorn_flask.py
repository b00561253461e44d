"""Benchmark peer (Flask): gunicorn, one worker, ``--worker-class`` sync or gevent.

``--app`` names the WSGI app in this directory (``flask_app:app`` by default;
the fan-out scenario runs ``fanout_app:app``).
"""

import argparse
import os
import sys

from _common import raise_nofile, unavailable

p = argparse.ArgumentParser()
p.add_argument("--host", default="127.0.0.1")
p.add_argument("--port", type=int, required=True)
p.add_argument("--keepalive", type=float, default=300.0)
p.add_argument("--worker-class", default="sync", choices=("sync", "gevent"))
p.add_argument("--app", default="flask_app:app")
a = p.parse_args()
try:
    import flask  # noqa: F401
    from gunicorn.app.wsgiapp import run
    if a.worker_class == "gevent":
        import gevent  # noqa: F401
except ImportError as e:
    unavailable(f"gunicorn/flask{'/gevent' if a.worker_class == 'gevent' else ''} "
                f"not installed ({e})")

raise_nofile()
here = os.path.dirname(os.path.abspath(__file__))
sys.argv = ["gunicorn", "--chdir", here, "--bind", f"{a.host}:{a.port}", "--workers", "1",
            "--worker-class", a.worker_class, "--keep-alive", str(int(a.keepalive)),
            "--backlog", "4096", "--log-level", "warning", "--worker-connections", "20000",
            a.app]
sys.exit(run())
