"""Benchmarks layer: what the figures were measured on."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

PACKAGES = ("gonet", "greenlet", "h11", "uvicorn", "hypercorn", "gevent", "uvloop", "httptools",
            "trio")


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _version(pkg: str) -> str | None:
    try:
        return importlib.metadata.version(pkg)
    except importlib.metadata.PackageNotFoundError:
        return None


def _git_commit() -> str:
    try:
        r = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                           cwd=Path(__file__).resolve().parent, timeout=5)
        return r.stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return ""


def info() -> dict:
    """CPU model, cores, Python, kernel, load average, package versions."""
    from benchmarks import loadgen

    wrk = loadgen.wrk_path()
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "python_executable": sys.executable,
        "kernel": f"{platform.system()} {platform.release()}",
        "loadavg_start": [round(x, 2) for x in os.getloadavg()],
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "gonet_commit": _git_commit(),
        "wrk": wrk or None,
        "packages": {p: v for p in PACKAGES if (v := _version(p))},
    }


def summary(m: dict) -> str:
    return (f"{m['cpu']}, {m['cores']} cores, {m['python']} ({m['python_executable']}), "
            f"{m['kernel']}, load avg {m['loadavg_start'][0]:.2f} at start")
