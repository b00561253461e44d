"""Benchmark peer (Flask): waitress (threaded WSGI server, its default 4 threads)."""

from _common import server_args, unavailable

try:
    from flask_app import app
    from waitress import serve
except ImportError as e:
    unavailable(f"waitress/flask not installed ({e})")

a = server_args()
serve(app, host=a.host, port=a.port, backlog=4096, channel_timeout=int(a.keepalive),
      connection_limit=20000, _quiet=True)
