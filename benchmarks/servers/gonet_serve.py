"""Benchmark subject (issue 7): an app under the ``gonet serve`` command line.

``--app module:attr`` is looked up in this directory (``gonet_http:hello``,
``flask_app:app``); ``--workers`` and ``--interface`` go to ``gonet serve``.
"""

import argparse
import os
import sys

from _common import raise_nofile, unavailable

p = argparse.ArgumentParser()
p.add_argument("--host", default="127.0.0.1")
p.add_argument("--port", type=int, required=True)
p.add_argument("--keepalive", type=float, default=300.0)
p.add_argument("--app", required=True)
p.add_argument("--workers", default="1")
p.add_argument("--interface", default="auto")
a = p.parse_args()
try:
    from gonet.serve.cli import main
except ImportError as e:
    unavailable(f"gonet serve not available yet ({e})")

raise_nofile()
here = os.path.dirname(os.path.abspath(__file__))
os.chdir(here)
if here not in sys.path:
    sys.path.insert(0, here)
sys.argv = ["gonet", "serve", a.app, "--bind", f"{a.host}:{a.port}", "--workers", a.workers,
            "--interface", a.interface, "--idle-timeout", str(a.keepalive)]
sys.exit(main())  # the console-script entry point reads sys.argv
