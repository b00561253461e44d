"""A real Flask application under WSGIHandler on a gonet server (in the
connection's goroutine and on a thread pool): routing, JSON bodies, forms and
uploads, streaming responses, file downloads (sendfile, ranges, conditional
requests), redirects, and errors."""

from __future__ import annotations

import json
import logging
import os
import warnings
from wsgiref.validate import WSGIWarning, validator

import httpx
import pytest

flask = pytest.importorskip("flask")

from flask import Flask, Response, abort, jsonify, redirect, request, send_file, stream_with_context  # noqa: E402

from gonet.http.httptest import TestServer  # noqa: E402
from gonet.http.wsgi import WSGIHandler  # noqa: E402

pytestmark = pytest.mark.timeout(30)


def make_app(files_dir: str) -> Flask:
    app = Flask("gonet_flask_test")

    @app.get("/")
    def index():
        return "Hello, World!"

    @app.get("/users/<int:uid>")
    def user(uid: int):
        return jsonify(id=uid, name=f"user{uid}", q=request.args.get("q"))

    @app.route("/items", methods=["POST", "PUT"])
    def items():
        data = request.get_json()
        if data is None:
            abort(400, "JSON body required")
        return jsonify(method=request.method, got=data, n=len(data)), 201

    @app.post("/form")
    def form():
        up = request.files.get("file")
        return jsonify(name=request.form.get("name"),
                       file=up.filename if up else None,
                       size=len(up.read()) if up else 0)

    @app.get("/stream")
    def stream():
        @stream_with_context
        def gen():
            yield "start:" + request.args.get("tag", "") + "\n"
            for i in range(100):
                yield f"row {i}\n"

        return Response(gen(), mimetype="text/plain")

    @app.get("/download/<name>")
    def download(name: str):
        return send_file(os.path.join(files_dir, name), as_attachment=True,
                         conditional=True)

    @app.get("/old")
    def old():
        return redirect("/", code=301)

    @app.get("/boom")
    def boom():
        raise RuntimeError("view failed")

    @app.get("/teapot")
    def teapot():
        abort(418)

    @app.errorhandler(418)
    def teapot_handler(e):
        return jsonify(error="short and stout"), 418

    return app


@pytest.fixture(scope="module")
def files_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("files")
    (d / "data.bin").write_bytes(os.urandom(300_000))
    (d / "small.txt").write_text("small file\n")
    return d


class _SizedReads:
    """Werkzeug reads a terminated input with read() and no size, which the
    validator's strict reading of PEP 3333 rejects on the app's side: give
    every read a size on the way to the validator (the server is still
    checked by it)."""

    def __init__(self, inp):
        self.inp = inp

    def read(self, size=-1):
        return self.inp.read(-1 if size is None else size)

    def readline(self, *a):
        return self.inp.readline(*a)

    def readlines(self, *a):
        return self.inp.readlines(*a)

    def __iter__(self):
        return iter(self.inp)


def _validated(app):
    """wsgiref.validate around ``app``, its warnings turned into errors (-> 500)."""

    def sized(environ, start_response):
        environ["wsgi.input"] = _SizedReads(environ["wsgi.input"])
        return app(environ, start_response)

    checked = validator(sized)

    def strict(environ, start_response):
        with warnings.catch_warnings():
            warnings.simplefilter("error", WSGIWarning)
            return checked(environ, start_response)

    return strict


@pytest.fixture(scope="module", params=["goroutine", "threads", "validated"])
def client(request, files_dir):
    app = make_app(str(files_dir))
    if request.param == "validated":
        # Every request of every test below also passes wsgiref.validate
        # (the validator hides file_wrapper: downloads are iterated here).
        app = _validated(app)
    h = WSGIHandler(app, threads=4 if request.param == "threads" else 0)
    with TestServer(h) as ts:
        with httpx.Client(base_url=ts.url, timeout=10) as c:
            yield c
    h.close()


def test_hello(client):
    r = client.get("/")
    assert r.status_code == 200
    assert r.text == "Hello, World!"
    assert r.headers["content-length"] == "13"
    assert r.headers["content-type"].startswith("text/html")


def test_routing_and_query(client):
    r = client.get("/users/42", params={"q": "x y"})
    assert r.json() == {"id": 42, "name": "user42", "q": "x y"}
    assert client.get("/users/abc").status_code == 404
    assert client.get("/nowhere").status_code == 404
    r = client.delete("/users/1")
    assert r.status_code == 405
    assert "GET" in r.headers["allow"]


def test_json_bodies(client):
    payload = {"a": 1, "b": [1, 2, 3], "c": {"d": "é"}}
    r = client.post("/items", json=payload)
    assert r.status_code == 201
    assert r.json() == {"method": "POST", "got": payload, "n": 3}
    big = {f"k{i}": "v" * 100 for i in range(2000)}  # ~250 KB body
    r = client.put("/items", json=big)
    assert r.status_code == 201
    assert r.json()["n"] == 2000
    r = client.post("/items", content=b"not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 400


def test_chunked_json_body(client):
    def gen():
        body = json.dumps({"streamed": True, "pad": "x" * 5000}).encode()
        for i in range(0, len(body), 1000):
            yield body[i:i + 1000]

    r = client.post("/items", content=gen(), headers={"Content-Type": "application/json"})
    assert r.status_code == 201
    assert r.json()["got"]["streamed"] is True


def test_form_and_upload(client):
    r = client.post("/form", data={"name": "bob"},
                    files={"file": ("up.bin", b"\x00\x01" * 50_000)})
    assert r.json() == {"name": "bob", "file": "up.bin", "size": 100_000}


def test_streaming_response(client):
    with client.stream("GET", "/stream", params={"tag": "t1"}) as r:
        assert r.status_code == 200
        assert r.headers.get("transfer-encoding") == "chunked"
        lines = list(r.iter_lines())
    assert lines[0] == "start:t1"
    assert lines[1:] == [f"row {i}" for i in range(100)]


def test_file_download(client, files_dir):
    data = (files_dir / "data.bin").read_bytes()
    r = client.get("/download/data.bin")
    assert r.status_code == 200
    assert r.content == data
    assert r.headers["content-length"] == str(len(data))
    assert "attachment" in r.headers["content-disposition"]
    r = client.get("/download/data.bin", headers={"Range": "bytes=1000-1999"})
    assert r.status_code == 206
    assert r.content == data[1000:2000]
    etag = client.get("/download/small.txt").headers["etag"]
    r = client.get("/download/small.txt", headers={"If-None-Match": etag})
    assert r.status_code == 304
    assert r.content == b""
    r = client.head("/download/data.bin")
    assert r.headers["content-length"] == str(len(data))
    assert r.content == b""


def test_redirect(client):
    r = client.get("/old")
    assert r.status_code == 301
    assert r.headers["location"] == "/"


def test_errors(client, caplog):
    with caplog.at_level(logging.ERROR):
        r = client.get("/boom")
    assert r.status_code == 500
    assert "Internal Server Error" in r.text
    assert any("view failed" in (rec.exc_text or "") or "view failed" in rec.getMessage()
               or (rec.exc_info and "view failed" in str(rec.exc_info[1]))
               for rec in caplog.records)
    r = client.get("/teapot")
    assert r.status_code == 418
    assert r.json() == {"error": "short and stout"}
    # The server is unharmed.
    assert client.get("/").text == "Hello, World!"


def test_example_app_serves():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "examples" / "flask_app.py"
    spec = importlib.util.spec_from_file_location("gonet_example_flask_app", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    app = mod.app

    with TestServer(WSGIHandler(app)) as ts:
        assert httpx.get(ts.url + "/", timeout=5).text == "Hello, World!"
        assert httpx.get(ts.url + "/hello/gonet", timeout=5).text == "Hello, gonet!"
        r = httpx.post(ts.url + "/json", json={"a": 1}, timeout=5)
        assert r.json() == {"received": {"a": 1}, "keys": 1}
        assert httpx.get(ts.url + "/stream", timeout=5).text.count("event") == 10
