"""Benchmark app (fan-out scenario): a WSGI app that calls an upstream with ``requests``.

``/fast`` answers at once; every other path makes one ``requests`` call to
the upstream named by ``FANOUT_UPSTREAM`` (the scenario sets it) through a
shared Session whose pool keeps up to 128 connections, and answers with the
upstream's body. The same code runs under ``gonet serve`` (patched by
default) and under gunicorn's gevent worker (monkey-patched by the worker).
"""

import os

import requests
from requests.adapters import HTTPAdapter

UPSTREAM = os.environ.get("FANOUT_UPSTREAM", "http://127.0.0.1:8001/")
session = requests.Session()
session.mount("http://", HTTPAdapter(pool_connections=4, pool_maxsize=128))


def app(environ, start_response):
    if environ.get("PATH_INFO") == "/fast":
        body = b"fast"
    else:
        body = session.get(UPSTREAM, timeout=10).content
    start_response("200 OK", [("Content-Type", "text/plain"),
                              ("Content-Length", str(len(body)))])
    return [body]
