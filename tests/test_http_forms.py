"""Request forms: urlencoded bodies, multipart forms (parse_multipart_form,
form_file, multipart_reader) through a real server and httpx uploads.

The 50 MB upload with RSS bounded is in test_serve_ops.py (a real `gonet
serve` process, whose RSS is its own)."""

from __future__ import annotations

import hashlib
import os

import httpx
import pytest

from gonet import http
from gonet.http import multipart
from gonet.http.httptest import TestServer

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def serve():
    servers = []

    def start(handler):
        ts = TestServer(handler)
        servers.append(ts)
        return ts

    yield start
    for ts in servers:
        ts.close(timeout=2.0)


def test_urlencoded_body_is_utf8(serve):
    seen = {}

    def h(w, r):
        seen["name"] = r.form_value("name")
        seen["esc"] = r.form_value("esc")

    ts = serve(h)
    body = "name=é&esc=%C3%A9+x".encode()
    httpx.post(ts.url, content=body,
               headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert seen == {"name": "é", "esc": "é x"}


def test_urlencoded_cap_is_10_mib(serve):
    def h(w, r):
        try:
            w.write(str(len(r.form_value("a"))).encode())
        except http.MaxBytesError as e:
            http.error(w, str(e), 413)

    ts = serve(h)
    limit = 10 << 20
    ok = b"a=" + b"x" * (limit - 2)
    r = httpx.post(ts.url, content=ok, timeout=20,
                   headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 200 and r.text == str(limit - 2)
    r = httpx.post(ts.url, content=ok + b"x", timeout=20,
                   headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 413 and "10485760" in r.text


def test_multipart_form_values_and_a_small_file(serve):
    seen = {}

    def h(w, r):
        f, fh = r.form_file("upload")
        with f:
            seen["file"] = (fh.filename, fh.size, fh.content_type, f.read(), fh.on_disk)
        seen["title"] = r.form_value("title")
        seen["q"] = r.form_value("q")
        seen["values"] = r.multipart_form.value
        try:
            r.form_file("nope")
        except http.ErrMissingFile as e:
            seen["missing"] = str(e)
        w.write(b"ok")

    ts = serve(h)
    data = os.urandom(1024)
    r = httpx.post(ts.url + "/?q=1", data={"title": "héllo", "tags": ["a", "b"]},
                   files={"upload": ("../../etc/pic.bin", data, "image/png")})
    assert r.status_code == 200
    assert seen["file"] == ("pic.bin", 1024, "image/png", data, False)
    assert seen["title"] == "héllo" and seen["q"] == "1"
    assert seen["values"] == {"title": ["héllo"], "tags": ["a", "b"]}
    assert "no such file" in seen["missing"]


def test_files_over_max_memory_are_spooled_and_removed_after_the_request(serve, tmp_path,
                                                                          monkeypatch):
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    seen = {}

    def h(w, r):
        mf = r.parse_multipart_form(max_memory=100_000)
        small, big = mf.file["small"][0], mf.file["big"][0]
        seen["where"] = (small.on_disk, big.on_disk)
        seen["during"] = sorted(os.listdir(tmp_path))
        with big.open() as f:
            seen["sha"] = hashlib.sha256(f.read()).hexdigest()
        w.write(b"ok")

    ts = serve(h)
    big = os.urandom(300_000)
    r = httpx.post(ts.url, files={"small": ("s.txt", b"x" * 50_000), "big": ("b.bin", big)})
    assert r.status_code == 200
    assert seen["where"] == (False, True)
    assert len(seen["during"]) == 1 and seen["during"][0].startswith("gonet-multipart-")
    assert seen["sha"] == hashlib.sha256(big).hexdigest()
    assert os.listdir(tmp_path) == []  # removed once the handler returned


def test_temp_files_removed_when_the_handler_raises(serve, tmp_path, monkeypatch):
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))

    def h(w, r):
        r.parse_multipart_form(max_memory=10)
        assert os.listdir(tmp_path)
        raise RuntimeError("boom")

    ts = serve(h)
    r = httpx.post(ts.url, files={"f": ("f", b"y" * 5000)})
    assert r.status_code == 500
    assert os.listdir(tmp_path) == []


def test_multipart_reader_streams_parts(serve):
    seen = []

    def h(w, r):
        mr = r.multipart_reader()
        for part in mr:
            n = 0
            h = hashlib.sha256()
            while True:
                piece = part.read(10_000)
                if not piece:
                    break
                n += len(piece)
                h.update(piece)
            seen.append((part.form_name(), part.file_name(), n, h.hexdigest()))
        try:
            r.multipart_reader()
        except RuntimeError as e:
            seen.append(str(e))

    ts = serve(h)
    blob = os.urandom(200_000)
    httpx.post(ts.url, data={"a": "1"}, files={"f": ("f.bin", blob)})
    assert seen[0] == ("a", None, 1, hashlib.sha256(b"1").hexdigest())
    assert seen[1] == ("f", "f.bin", 200_000, hashlib.sha256(blob).hexdigest())
    assert "called twice" in seen[2]


@pytest.mark.parametrize("ctype,body,status,text", [
    ("text/plain", b"x", 400, "isn't multipart/form-data"),
    ("multipart/form-data", b"x", 400, "no multipart boundary"),
    ("multipart/form-data; boundary=zz", b"--zz\r\nContent-Disposition: form-data; name=a\r\n"
     b"\r\nvalue-without-end", 400, "multipart"),
    ("multipart/form-data; boundary=zz", b"junk before any boundary and no end", 400,
     "multipart"),
])
def test_bad_multipart_bodies_get_a_clear_400(serve, ctype, body, status, text):
    ts = serve(lambda w, r: r.parse_multipart_form())
    r = httpx.post(ts.url, content=body, headers={"Content-Type": ctype})
    assert r.status_code == status
    assert text in r.text


def test_too_many_parts_is_413(serve):
    ts = serve(lambda w, r: r.parse_multipart_form())
    r = httpx.post(ts.url, data={f"k{i}": "v" for i in range(1001)}, files={"f": ("f", b"x")})
    assert r.status_code == 413


def test_reader_on_its_own():
    """multipart.Reader over any reader, fed byte by byte."""
    import io

    body = (b"--b\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\nhello\r\n"
            b"--b\r\nContent-Disposition: form-data; name=\"y\"; filename=\"C:\\\\dir\\\\f.txt\"\r\n"
            b"Content-Type: text/plain\r\n\r\nworld\r\n--b--\r\n")

    class Trickle(io.BytesIO):
        def read(self, n=-1):
            return super().read(1)

    form = multipart.Reader(Trickle(body), "b").read_form(1 << 20)
    assert form.value == {"x": ["hello"]}
    fh = form.file["y"][0]
    assert fh.filename == "f.txt" and fh.size == 5 and fh.open().read() == b"world"
