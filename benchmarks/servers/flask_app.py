"""Benchmark app (issue 7): a Flask hello world with the 13-byte text/plain body.

Imported as ``flask_app:app`` by gunicorn, waitress and ``gonet serve``.
"""

from _common import BODY
from flask import Flask, Response

app = Flask(__name__)


@app.route("/")
def hello() -> Response:
    return Response(BODY, mimetype="text/plain")
