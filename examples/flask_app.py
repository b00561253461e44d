"""A Flask application served by gonet (the benchmark's Flask hello world is "/").

    gonet serve examples.flask_app:app --bind 127.0.0.1:8000
    gonet serve examples.flask_app:app --workers auto --access-log
    gonet serve examples.flask_app:app --threads 16      # views that block

Routes: / (hello world), /hello/<name>, /json (POST: echoes the JSON body
with a count), /stream (a streamed response), /slow (blocks its OS thread
for 0.1 s with time.sleep: serve with --threads to keep other requests
moving).
"""

from __future__ import annotations

import time

from flask import Flask, Response, jsonify, request

app = Flask(__name__)


@app.get("/")
def index():
    return "Hello, World!"


@app.get("/hello/<name>")
def hello(name: str):
    return f"Hello, {name}!"


@app.post("/json")
def echo_json():
    data = request.get_json(force=True)
    return jsonify(received=data, keys=len(data) if isinstance(data, dict) else None)


@app.get("/stream")
def stream():
    def gen():
        for i in range(10):
            yield f"event {i}\n"

    return Response(gen(), mimetype="text/plain")


@app.get("/slow")
def slow():
    time.sleep(0.1)
    return "slept 0.1 s"
