"""DebugHandler (Go's pprof goroutine dump and expvar counters) and the
access log's gunicorn atoms, through a real server."""

from __future__ import annotations

import logging
import os

import httpx
import pytest

import gonet
from gonet import http
from gonet.http import debug
from gonet.http.accesslog import LogFormat
from gonet.http.httptest import TestServer

pytestmark = pytest.mark.timeout(30)


def test_debug_pages():
    release = gonet.Chan()

    def parked(w, r):
        if r.url.path == "/park":
            gonet.go_named("a-parked-goroutine", release.recv_ok)
        w.write(b"ok")

    mux = http.ServeMux()
    mux.handle("/debug/gonet/", http.DebugHandler())
    mux.handle_func("/park", parked)
    debug.publish("custom", lambda: {"answer": 42})
    try:
        with TestServer(mux) as ts, httpx.Client(base_url=ts.url) as c:
            c.get("/park")
            index = c.get("/debug/gonet/")
            assert index.status_code == 200 and "goroutines" in index.text
            dump = c.get("/debug/gonet/goroutines").text
            assert "a-parked-goroutine" in dump and "[chan receive]" in dump
            data = c.get("/debug/gonet/goroutines?format=json").json()
            g = next(x for x in data if x["name"] == "a-parked-goroutine")
            assert g["state"] == "chan receive" and g["stack"]
            v = c.get("/debug/gonet/vars").json()
            assert v["process"]["pid"] == os.getpid() and v["process"]["rss"] > 0
            assert v["num_goroutine"] >= 2 and v["custom"] == {"answer": 42}
            srv = next(s for s in v["servers"] if s["listeners"] == [f"127.0.0.1:{ts.port}"])
            assert srv["requests"] >= 5 and srv["connections"] >= 1
            sched = v["schedulers"][0]
            assert {"switches", "polls", "poller", "poller_fds", "io_waiters"} <= set(sched)
            text = c.get("/debug/gonet/vars?format=text").text
            assert "custom.answer 42" in text and "process.pid " in text
            assert c.get("/debug/gonet/nope").status_code == 404
            assert c.post("/debug/gonet/vars").status_code == 405
            release.close()
    finally:
        debug.unpublish("custom")
    with pytest.raises(ValueError):
        debug.publish("servers", dict)


def test_access_log_format_atoms(caplog):
    caplog.set_level(logging.INFO, logger="gonet.access")

    def h(w, r):
        w.header().set("X-Out", "o-1")
        w.write(b"12345")

    fmt = ('%(h)s %(l)s %(u)s %(t)s "%(r)s" %(m)s %(U)s %(q)s %(H)s %(s)s %(B)s %(b)s '
           '"%(f)s" "%(a)s" %(T)s %(D)s %({x-in}i)s %({x-out}o)s %({GONET_T_VAR}e)s %(p)s')
    os.environ["GONET_T_VAR"] = "env-1"
    try:
        with TestServer(http.AccessLog(h, format=fmt)) as ts:
            httpx.get(ts.url + "/p/a?x=1", headers={"X-In": "in-1", "Referer": "http://r/",
                                                    "User-Agent": "ua/1"},
                      auth=("alice", "pw"))
    finally:
        del os.environ["GONET_T_VAR"]
    line = next(r.getMessage() for r in caplog.records if r.name == "gonet.access")
    parts = line.split(" ")
    assert parts[:3] == ["127.0.0.1", "-", "alice"]
    assert parts[3].startswith("[") and parts[4].endswith("]")
    assert '"GET /p/a?x=1 HTTP/1.1" GET /p/a x=1 HTTP/1.1 200 5 5 "http://r/" "ua/1"' in line
    assert line.endswith(f" in-1 o-1 env-1 <{os.getpid()}>")
    t, d = parts[-6], parts[-5]
    assert t == "0" and 0 < int(d) < 5_000_000


@pytest.mark.parametrize("bad", ["%(zz)s", "%(h)s %(", "%(h)d"])
def test_bad_access_log_format(bad):
    with pytest.raises(ValueError, match="access log format"):
        LogFormat(bad)
