"""CI smoke test of the benchmark suite (benchmarks/): it runs, and its results are well formed.

Runs ``python -m benchmarks --quick`` in a tiny mode, in a subprocess, on a
representative subset of rows (every gonet row, one peer per scenario, the h11
ceiling), whichever of them are installed. Peers that are not installed must
show as "not installed" and never fail the run; gonet rows whose API has not
landed show as "not available". No speed thresholds: speed targets live in
issue 6, never here. The pure-Python scenario (4) and the h11 ceiling always
run, so something is always really measured; the HTTP scenarios use wrk when
it is installed and the bundled C client otherwise.
"""

from __future__ import annotations

import importlib.util
import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ROWS = ("gonet-http,uvicorn-h11,h11-ceiling,gonet-echo,asyncio-streams,"
        "gonet-goroutines,asyncio-tasks")
STATUSES = {"ok", "not installed", "not available", "error", "skipped"}


def run_suite(tmp_path: Path, *args: str, timeout: float = 40) -> tuple[dict, str]:
    out = tmp_path / "results.json"
    r = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--duration", "0.4", "--warmup", "0.1",
         "--idle-conns", "50", "--json", str(out), *args],
        cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    return json.loads(out.read_text()), r.stdout


def rows_by_name(scenario: dict) -> dict[str, dict]:
    return {r["name"]: r for r in scenario["rows"]}


def installed(*mods: str) -> bool:
    return all(importlib.util.find_spec(m) is not None for m in mods)


def check_well_formed(data: dict) -> None:
    m = data["machine"]
    assert m["cores"] >= 1 and m["python"]
    assert m["cpu"] and m["kernel"]
    for sc in data["scenarios"]:
        keys = [x["key"] for x in sc["metrics"]]
        for row in sc["rows"]:
            assert row["status"] in STATUSES, row
            if row["status"] == "ok":
                assert row["samples"], row
                assert keys[0] in row["figures"], row
                for k, v in row["figures"].items():
                    assert isinstance(v, (int, float)) and not math.isnan(v), (k, row)
                    if "rate" in k:
                        assert v > 0, (k, row)
            else:
                assert row["reason"], row
        # every ratio is gonet's figure over the row's, for the reference gonet row
        ref = sc["reference"]
        if ref is None:
            assert sc["ratios"] == {}
            continue
        figs = {r["name"]: r["figures"] for r in sc["rows"] if r["status"] == "ok"}
        for key, per_peer in sc["ratios"].items():
            for peer, ratio in per_peer.items():
                assert ratio == pytest.approx(figs[ref][key] / figs[peer][key])


@pytest.mark.timeout(60)
def test_quick_suite_runs_and_reports(tmp_path: Path) -> None:
    data, stdout = run_suite(tmp_path, "--only", "http,echo,idle,goroutines", "--servers", ROWS)
    check_well_formed(data)
    scenarios = {s["name"]: s for s in data["scenarios"]}
    assert set(scenarios) == {"http", "echo", "idle", "goroutines"}
    assert data["settings"]["quick"] is True

    # Scenario 4 needs nothing but the runtime: it must really run.
    tasks = rows_by_name(scenarios["goroutines"])
    g = tasks["gonet-goroutines"]
    assert g["status"] == "ok", g
    assert g["figures"]["parked"] == 10_000
    assert g["figures"]["spawn_rate"] > 0 and g["figures"]["rss_parked_mb"] >= 0
    assert tasks["asyncio-tasks"]["status"] == "ok"
    assert scenarios["goroutines"]["reference"] == "gonet-goroutines"
    assert set(scenarios["goroutines"]["ratios"]["spawn_rate"]) == {"asyncio-tasks"}

    # h11's ceiling is measured in-process with no I/O: always there.
    http = rows_by_name(scenarios["http"])
    assert http["h11-ceiling"]["status"] == "ok"
    assert http["h11-ceiling"]["figures"]["rate"] > 0

    # Peers: measured when installed, reported (not failed) when not.
    have_cc = shutil.which("cc") is not None
    uv = http["uvicorn-h11"]
    if not installed("uvicorn"):
        assert uv["status"] == "not installed" and "uvicorn" in uv["reason"]
    elif have_cc or shutil.which("wrk"):
        assert uv["status"] == "ok", uv
        assert 0 < uv["figures"]["p50_ms"] <= uv["figures"]["p99_ms"]
        idle = rows_by_name(scenarios["idle"])["uvicorn-h11"]
        if have_cc:
            assert idle["status"] == "ok", idle
            assert idle["figures"]["idle_open"] == 50
    else:
        assert uv["status"] == "skipped" and "wrk" in uv["reason"]

    echo = rows_by_name(scenarios["echo"])
    if have_cc:
        assert echo["asyncio-streams"]["status"] == "ok", echo["asyncio-streams"]
        assert echo["asyncio-streams"]["figures"]["rate"] > 0
    else:
        assert scenarios["echo"]["skipped"]

    # gonet rows: measured, or cleanly "not available" while their API is missing.
    for sc, name in (("http", "gonet-http"), ("echo", "gonet-echo"), ("idle", "gonet-http")):
        row = rows_by_name(scenarios[sc])[name]
        assert row["status"] in ("ok", "not available", "skipped"), row
        if row["status"] == "ok":
            assert scenarios[sc]["reference"] == name

    # the printed tables name every scenario
    for sc in data["scenarios"]:
        assert f"== {sc['title']}" in stdout


@pytest.mark.timeout(30)
def test_http_fallback_without_wrk(tmp_path: Path) -> None:
    """With the bundled C client instead of wrk, scenario 1 still measures (or says why not)."""
    if shutil.which("cc") is None:
        pytest.skip("no C compiler: the fallback HTTP client cannot be built")
    if not installed("uvicorn"):
        pytest.skip("uvicorn not installed: no HTTP peer to load")
    data, _ = run_suite(tmp_path, "--only", "http", "--servers", "uvicorn-h11",
                        "--http-tool", "c")
    check_well_formed(data)
    (sc,) = data["scenarios"]
    assert data["settings"]["http_tool"] == "loadgen.c"
    row = rows_by_name(sc)["uvicorn-h11"]
    assert row["status"] == "ok", row
    assert row["samples"][0]["tool"] == "loadgen.c"
    assert row["figures"]["rate"] > 0 and row["figures"]["bad"] == 0


def test_unknown_scenario_is_a_clear_error() -> None:
    r = subprocess.run([sys.executable, "-m", "benchmarks", "--only", "nope"], cwd=ROOT,
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 2
    assert "unknown scenario(s): nope" in r.stderr


def test_python_option_runs_the_suite_under_another_interpreter(tmp_path):
    # --python re-runs the whole suite under the given interpreter (servers
    # are started with sys.executable); a wrapper shows the re-exec happened.
    wrapper = tmp_path / "py"
    wrapper.write_text(f"#!/bin/sh\necho \"via wrapper: $*\"\nexec {sys.executable} \"$@\"\n")
    wrapper.chmod(0o755)
    r = subprocess.run([sys.executable, "-m", "benchmarks", "--list", "--python", str(wrapper)],
                       cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    first, rest = r.stdout.split("\n", 1)
    assert first == "via wrapper: -m benchmarks --list"
    assert "gonet-http" in rest


@pytest.mark.timeout(90)
def test_websocket_scenarios_drive_real_websockets(tmp_path: Path) -> None:
    """loadgen.c's ws and wsidle modes upgrade, echo masked frames, and hold
    open WebSockets; gonet and the websockets library both answer them."""
    data, _ = run_suite(tmp_path, "--only", "websocket,websocket_idle", "--servers",
                        "gonet-websocket,websockets-asyncio", timeout=80)
    check_well_formed(data)
    scenarios = {s["name"]: s for s in data["scenarios"]}
    echo = rows_by_name(scenarios["websocket"])
    if scenarios["websocket"]["skipped"]:
        pytest.skip(scenarios["websocket"]["skipped"])  # no C compiler here
    assert echo["gonet-websocket"]["status"] == "ok", echo["gonet-websocket"]
    assert echo["websockets-asyncio"]["status"] == "ok", echo["websockets-asyncio"]
    idle = rows_by_name(scenarios["websocket_idle"])["gonet-websocket"]
    assert idle["status"] == "ok", idle
    assert idle["figures"]["idle_open"] == 50 and idle["figures"]["closed_by_server"] == 0
    assert 0 < idle["figures"]["rss_per_conn_kb"] < 200


@pytest.mark.timeout(90)
def test_client_scenario_measures_gonets_client(tmp_path: Path) -> None:
    data, stdout = run_suite(tmp_path, "--only", "client", "--servers", "gonet-client")
    check_well_formed(data)
    (sc,) = data["scenarios"]
    row = rows_by_name(sc)["gonet-client"]
    assert row["status"] == "ok", row
    assert row["figures"]["rate"] > 0 and row["figures"]["bad"] == 0
    assert any(n.startswith("target: ") for n in sc["notes"])
