"""The blocked-thread detector (runtime/sysmon.py): a goroutine that holds its
scheduler's thread past the threshold is named, with the line it held it at,
once per call site; an idle or healthy scheduler is never reported."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
import time

import pytest
from conftest import run_in_thread

import gonet
from gonet.runtime import sysmon


@pytest.fixture
def detector(caplog):
    caplog.set_level(logging.WARNING, logger="gonet.sysmon")
    sysmon.start(0.05)
    yield caplog
    sysmon.stop()


def _reports(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "gonet.sysmon"]


def _wait_reports(caplog, n: int, timeout: float = 5.0) -> list[str]:
    end = time.monotonic() + timeout
    while len(_reports(caplog)) < n and time.monotonic() < end:
        time.sleep(0.02)
    return _reports(caplog)


def _spin(seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:  # the line the detector must name
        pass


SPIN_LINE = _spin.__code__.co_firstlineno + 2


def test_names_the_goroutine_and_the_line_of_a_cpu_loop(detector):
    def body():
        gonet.go(gonet.sleep, 1)  # someone else waits for this thread
        g = gonet.go(_spin, 0.4)
        g.join()
        return g.id

    gid = run_in_thread(body)
    msgs = _wait_reports(detector, 1)
    assert len(msgs) == 1, msgs
    first = msgs[0].splitlines()[0]
    assert first.startswith(f"goroutine {gid} blocked the scheduler for ")
    ms = int(first.split(" for ")[1].split(" ms")[0])
    assert 250 <= ms <= 2000
    assert f"test_sysmon.py:{SPIN_LINE}" in first
    assert "in _spin" in msgs[0]  # the stack follows


def test_names_a_blocking_call(detector):
    def blocker():
        time.sleep(0.3)  # unpatched here: holds the thread

    def body():
        gonet.go(gonet.sleep, 1)
        gonet.go(blocker).join()

    run_in_thread(body)
    msgs = _wait_reports(detector, 1)
    line = blocker.__code__.co_firstlineno + 1
    assert f"test_sysmon.py:{line} (time.sleep)" in msgs[0].splitlines()[0], msgs


def test_once_per_call_site(detector):
    def body():
        gonet.go(gonet.sleep, 2)
        for _ in range(3):
            gonet.go(_spin, 0.2).join()
            gonet.sleep(0.1)

    run_in_thread(body)
    time.sleep(0.3)
    assert len(_reports(detector)) == 1


def test_quiet_when_nothing_blocks(detector):
    def body():
        gs = [gonet.go(gonet.sleep, 0.02) for _ in range(100)]
        for _ in range(20):
            gonet.sleep(0.02)
        for g in gs:
            g.join()
        _spin(0.2)  # main alone: nothing else waits for the thread

    run_in_thread(body)
    time.sleep(0.2)
    assert _reports(detector) == []


def test_env_var_turns_it_on(tmp_path):
    script = tmp_path / "stall.py"
    script.write_text(textwrap.dedent("""
        import time
        import gonet

        def stall():
            time.sleep(0.4)

        gonet.go(gonet.sleep, 1)
        gonet.go(stall).join()
        time.sleep(0.3)  # main, after: lets the report of the stall out
    """))
    env = dict(os.environ, GONET_BLOCK_WARN="0.1")
    out = subprocess.run([sys.executable, str(script)], env=env, capture_output=True,
                         text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert "blocked the scheduler for" in out.stderr
    assert "stall.py:6 (time.sleep)" in out.stderr
    env["GONET_BLOCK_WARN"] = "0"
    quiet = subprocess.run([sys.executable, str(script)], env=env, capture_output=True,
                           text=True, timeout=30)
    assert "blocked the scheduler" not in quiet.stderr
