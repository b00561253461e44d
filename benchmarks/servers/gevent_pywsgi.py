"""Benchmark peer (HTTP): gevent.pywsgi, a WSGI server on greenlets."""

from _common import BODY, server_args, unavailable

try:
    from gevent.pywsgi import WSGIServer
except ImportError as e:
    unavailable(f"gevent not installed ({e})")

HEADERS = [("Content-Type", "text/plain"), ("Content-Length", "13")]


def app(environ, start_response):
    start_response("200 OK", HEADERS)
    return [BODY]


a = server_args()
WSGIServer((a.host, a.port), app, log=None, backlog=4096).serve_forever()
