"""Benchmarks layer: the command line (``python -m benchmarks``).

``--quick`` runs every scenario for about a second per row (CI proves the suite
works with it; no speed thresholds anywhere). A full run (the default) takes
several minutes, prints the tables, and writes ``results/latest.json`` and
``results/latest.png``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from benchmarks import loadgen, machine, report
from benchmarks.procs import raise_nofile
from benchmarks.scenarios import SCENARIOS, Settings

RESULTS = Path(__file__).resolve().parent / "results"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="gonet side by side with its peers; prints gonet's ratio to each peer.")
    p.add_argument("--quick", action="store_true",
                   help="seconds per scenario instead of minutes (CI smoke run); writes no "
                        "results unless --json is given")
    p.add_argument("--only", metavar="NAME[,NAME]",
                   help=f"scenarios to run: {', '.join(SCENARIOS)} (default: all)")
    p.add_argument("--servers", metavar="NAME[,NAME]",
                   help="only these rows (server/program names; see --list)")
    p.add_argument("--duration", type=float, help="seconds of measured load per sample")
    p.add_argument("--warmup", type=float, help="seconds of warm-up load per server")
    p.add_argument("--rounds", type=int, help="samples per row (the median is reported)")
    p.add_argument("--conns", type=int, default=64, help="busy connections (default 64)")
    p.add_argument("--idle-conns", type=int, help="idle connections in scenario 3")
    p.add_argument("--http-tool", choices=("auto", "wrk", "c"), default="auto",
                   help="HTTP load generator: wrk, the bundled C client, or auto (wrk if "
                        "installed)")
    p.add_argument("--json", type=Path, help="write the results here too")
    p.add_argument("--chart", type=Path, help="draw the PNG chart here too")
    p.add_argument("--no-save", action="store_true",
                   help="full run: do not write results/latest.json and the chart")
    p.add_argument("--list", action="store_true", help="list scenarios and rows, then exit")
    p.add_argument("--python", metavar="PY",
                   help="run the suite (every server and program) with this interpreter, "
                        "e.g. a 3.13 venv's python with gonet and the peers installed "
                        "(pip install -e '.[bench]' in it); default: this one")
    return p.parse_args(argv)


def _reexec_under(python: str, argv: list[str] | None) -> None:
    """Run ``python -m benchmarks`` again under ``python`` (servers are started
    with ``sys.executable``, and peers are looked up in its environment)."""
    args = list(sys.argv[1:] if argv is None else argv)
    out: list[str] = []
    skip = False
    for x in args:
        if skip:
            skip = False
            continue
        if x == "--python":
            skip = True
            continue
        if x.startswith("--python="):
            continue
        out.append(x)
    root = str(Path(__file__).resolve().parent.parent)
    sys.stdout.flush()
    os.chdir(root)
    os.execv(python, [python, "-m", "benchmarks", *out])


def settings_from(a: argparse.Namespace) -> Settings:
    if a.quick:
        st = Settings(quick=True, duration=1.0, warmup=0.3, rounds=1, idle_conns=200)
    else:
        st = Settings()
    if a.duration is not None:
        st.duration = a.duration
    if a.warmup is not None:
        st.warmup = a.warmup
    if a.rounds is not None:
        st.rounds = max(1, a.rounds)
    if a.idle_conns is not None:
        st.idle_conns = a.idle_conns
    st.conns = a.conns
    if a.servers:
        st.servers = {s.strip() for s in a.servers.split(",") if s.strip()}
    st.log = lambda msg: print(msg, flush=True)
    return st


def main(argv: list[str] | None = None) -> int:
    a = parse_args(argv)
    if a.python and os.path.realpath(a.python) != os.path.realpath(sys.executable):
        _reexec_under(a.python, argv)
    if a.list:
        for sc in SCENARIOS.values():
            print(f"{sc.name}: {sc.title}")
            for s in sc.entries:
                miss = s.missing()
                print(f"    {s.name:<20} {s.label}{'  (needs ' + ', '.join(miss) + ')' if miss else ''}")
        return 0
    names = list(SCENARIOS)
    if a.only:
        names = [n.strip() for n in a.only.split(",") if n.strip()]
        unknown = [n for n in names if n not in SCENARIOS]
        if unknown:
            print(f"unknown scenario(s): {', '.join(unknown)}; choose from {', '.join(SCENARIOS)}",
                  file=sys.stderr)
            return 2
    st = settings_from(a)
    loadgen.HTTP_TOOL = a.http_tool
    nofile = raise_nofile()
    if st.idle_conns + 100 > nofile and "idle" in names:
        print(f"RLIMIT_NOFILE hard limit is {nofile}: scenario 3 holds {st.idle_conns} "
              f"connections; lowering to {nofile - 200}", file=sys.stderr)
        st.idle_conns = max(1, nofile - 200)
    mach = machine.info()
    print(f"machine: {machine.summary(mach)}")
    if not loadgen.wrk_path() and a.http_tool != "c":
        print(f"note: {loadgen.WRK_INSTALL_HINT}")
    if os.getloadavg()[0] > 0.5:
        print(f"note: the machine is busy (load average {os.getloadavg()[0]:.2f}): "
              f"{report.NOISE_NOTE}")
    results = []
    t0 = time.monotonic()
    for n in names:
        sc = SCENARIOS[n]
        print(f"-- {sc.title}", flush=True)
        res = sc.run(st)
        results.append(res)
        print(report.table(res), flush=True)
    mach["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    mach["seconds"] = round(time.monotonic() - t0, 1)
    print("=" * 72)
    for res in results:
        print(report.table(res))
    print(report.NOISE_NOTE)
    sett = {"quick": st.quick, "http_tool": loadgen.http_tool()[0], "duration": st.duration, "warmup": st.warmup,
            "rounds": st.rounds, "conns": st.conns, "idle_conns": st.idle_conns,
            "scenarios": names, "servers": sorted(st.servers) if st.servers else None}
    data = report.to_json(results, mach, sett)
    if a.json:
        report.write_json(data, a.json)
        print(f"wrote {a.json}")
    if a.chart:
        why = report.write_chart(results, machine.summary(mach), a.chart)
        print(f"wrote {a.chart}" if why is None else f"no chart: {why}")
    if not a.quick and not a.no_save:
        report.write_json(data, RESULTS / "latest.json")
        why = report.write_chart(results, machine.summary(mach), RESULTS / "latest.png")
        print(f"wrote {RESULTS / 'latest.json'}"
              + (f" and {RESULTS / 'latest.png'}" if why is None else f" (no chart: {why})"))
    return 0
