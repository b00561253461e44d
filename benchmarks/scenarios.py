"""Benchmarks layer: scenario kinds, their results, and the registry.

A scenario owns a list of specs (rows) and a list of metrics (columns). It
runs every row it can, records each run as a *sample*, and reports the median
of its samples per metric, so one disturbed run on a shared machine does not
decide a figure. Ratios are always ``gonet / peer`` for the scenario's
``ratio`` metrics; whether bigger is better is stated per metric.

Row states: ``ok`` (measured), ``not installed`` (a required package is
missing; nothing was started), ``not available`` (the script exited with
status 3, e.g. a gonet API that has not landed yet), ``error`` (it crashed or
the load generator failed; the reason is kept), ``skipped`` (the scenario's
load generator cannot run here).

Kinds: :class:`HttpScenario` (wrk against servers started side by side, runs
interleaved round by round), :class:`EchoScenario` (the C ping-pong client),
:class:`IdleScenario` (idle keep-alive connections held while wrk runs, one
server at a time so RSS belongs to it alone), :class:`ProgramScenario`
(self-timing scripts that print JSON). To add a scenario, build one of these
at the bottom of this module and ``register`` it.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from benchmarks import loadgen, specs
from benchmarks.procs import ServerError, ServerProc, free_port
from benchmarks.specs import Spec


@dataclass
class Settings:
    """How long and how hard to run; built by the runner from the command line."""

    quick: bool = False
    duration: float = 5.0  # seconds of measured load per sample
    warmup: float = 2.0  # seconds of load before the first sample
    rounds: int = 3  # samples per row (interleaved across rows where the scenario allows)
    conns: int = 64
    idle_conns: int = 10_000
    servers: set[str] | None = None  # only these spec names (None: all)
    log: Callable[[str], None] = print


@dataclass(frozen=True)
class Metric:
    key: str
    header: str
    fmt: str = "{:,.0f}"
    higher_is_better: bool = True
    ratio: bool = False  # show gonet / peer for this metric


@dataclass
class Row:
    spec: Spec
    status: str = "pending"
    reason: str = ""
    samples: list[dict[str, Any]] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def fail(self, e: BaseException) -> None:
        unavailable = isinstance(e, ServerError) and e.unavailable
        self.status = "not available" if unavailable else "error"
        self.reason = str(e)

    def settle(self) -> None:
        """Figures = the per-metric median of the samples (numbers only)."""
        if self.status in ("pending", "ok") and self.samples:
            self.status = "ok"
            keys = [k for k, v in self.samples[0].items() if isinstance(v, (int, float))]
            for k in keys:
                vals = [s[k] for s in self.samples if isinstance(s.get(k), (int, float))]
                self.figures[k] = statistics.median(vals)
        elif self.status == "pending":
            self.status = "error"
            self.reason = self.reason or "no sample"


@dataclass
class Result:
    scenario: Scenario
    rows: list[Row]
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    skipped: str = ""

    def reference(self) -> Row | None:
        """The row ratios are taken from: the scenario's ``reference``, else the first gonet row."""
        want = self.scenario.reference
        for r in self.rows:
            if r.ok and (r.spec.name == want if want else r.spec.gonet):
                return r
        return None

    def ratios(self) -> dict[str, dict[str, float]]:
        """{metric key: {peer name: gonet / peer}} for the scenario's ratio metrics."""
        ref = self.reference()
        out: dict[str, dict[str, float]] = {}
        if ref is None:
            return out
        for m in self.scenario.metrics:
            if not m.ratio or m.key not in ref.figures:
                continue
            out[m.key] = {}
            for r in self.rows:
                v = r.figures.get(m.key)
                if r is ref or not r.ok or not v:
                    continue
                out[m.key][r.spec.name] = ref.figures[m.key] / v
        return out


class Scenario:
    """Base class: rows from specs, filtering, availability; subclasses measure."""

    name = ""
    title = ""
    metrics: list[Metric] = []

    def __init__(self, name: str, title: str, entries: list[Spec], metrics: list[Metric],
                 description: str = "", reference: str | None = None) -> None:
        self.name = name
        self.title = title
        self.entries = entries
        self.metrics = metrics
        self.description = description
        self.reference = reference  # the row ratios divide by; None: the first gonet row

    def run(self, st: Settings) -> Result:
        rows = [Row(s) for s in self.entries if st.servers is None or s.name in st.servers]
        for r in rows:
            miss = r.spec.missing()
            if miss:
                r.status = "not installed"
                r.reason = f"needs {', '.join(miss)} (pip install {' '.join(miss)})"
        res = Result(self, rows)
        t0 = time.monotonic()
        try:
            self.measure(st, [r for r in rows if r.status == "pending"], res)
        finally:
            for r in rows:
                r.settle()
            res.seconds = time.monotonic() - t0
        self.finish(res)
        return res

    def finish(self, res: Result) -> None:
        """After the figures are settled: add notes that compare rows (optional)."""

    def measure(self, st: Settings, rows: list[Row], res: Result) -> None:
        raise NotImplementedError


def _start_all(st: Settings, rows: list[Row], tag: str) -> dict[str, ServerProc]:
    """Start every row's server at once, then wait for each port; failed rows are marked."""
    procs: dict[str, ServerProc] = {}
    for r in rows:
        port = free_port()
        p = ServerProc(r.spec.name, r.spec.argv("--port", str(port)), port, tag)
        p.start()
        procs[r.spec.name] = p
    for r in rows:
        p = procs[r.spec.name]
        try:
            p.wait_ready()
        except ServerError as e:
            r.fail(e)
            p.stop()
            st.log(f"  {r.spec.label}: {r.status}: {r.reason}")
    return procs


def _stop_all(procs: dict[str, ServerProc]) -> None:
    for p in procs.values():
        p.stop()


def _sample(st: Settings, r: Row, p: ServerProc, fn: Callable[[], dict]) -> None:
    """Take one sample of row ``r`` with ``fn``; a crash or a load-generator failure marks it."""
    if not r.status == "pending":
        return
    try:
        s = fn()
    except Exception as e:  # noqa: BLE001 - recorded as the row's reason
        r.status, r.reason = "error", f"load generator: {e}"
        return
    if not p.alive():
        r.status, r.reason = "error", f"server died under load: {p.log_tail()}"
        return
    r.samples.append(s)


def run_program(spec: Spec, args: list[str], timeout: float) -> dict:
    """Run a self-timing script; return its JSON figures (ServerError if it cannot run)."""
    from benchmarks.procs import UNAVAILABLE_EXIT

    try:
        pr = subprocess.run(spec.argv(*args), capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise ServerError(f"did not finish within {timeout:.0f} s")
    if pr.returncode == UNAVAILABLE_EXIT:
        raise ServerError(pr.stderr.strip().rsplit("unavailable: ", 1)[-1], unavailable=True)
    if pr.returncode != 0:
        tail = " | ".join(pr.stderr.strip().splitlines()[-3:])
        raise ServerError(f"exited with status {pr.returncode}: {tail}")
    return json.loads(pr.stdout.strip().splitlines()[-1])


class HttpScenario(Scenario):
    """Keep-alive HTTP load on every server, started side by side; rounds interleave servers.

    ``programs`` are self-timing references (the h11 ceiling) whose ``rate``
    is reported in the requests/s column.
    """

    def __init__(self, name: str, title: str, servers: list[Spec], programs: list[Spec] = (),
                 path: str = "/", description: str = "", reference: str | None = None,
                 scheme: str = "http", headers: tuple[str, ...] = ()) -> None:
        metrics = [
            Metric("rate", "requests/s", ratio=True),
            Metric("p50_ms", "p50 ms", "{:.2f}", higher_is_better=False),
            Metric("p99_ms", "p99 ms", "{:.2f}", higher_is_better=False),
            Metric("bad", "errors+non-2xx", "{:,.0f}", higher_is_better=False),
        ]
        super().__init__(name, title, [*servers, *programs], metrics, description, reference)
        self.program_names = {p.name for p in programs}
        self.path = path
        self.scheme = scheme  # "https": wrk only (the C client speaks no TLS)
        self.headers = headers

    def measure(self, st: Settings, rows: list[Row], res: Result) -> None:
        tool, note = loadgen.http_tool()
        if (self.scheme != "http" or self.headers) and tool != "wrk":
            tool, note = None, ("needs wrk (apt-get install wrk): the bundled C client "
                                "speaks plain keep-alive HTTP only")
        servers = [r for r in rows if r.spec.name not in self.program_names]
        programs = [r for r in rows if r.spec.name in self.program_names]
        if tool is None:
            res.skipped = note
            for r in servers:
                r.status, r.reason = "skipped", note
        else:
            how = ", ".join(self.headers) if self.headers else "keep-alive"
            res.notes.append(f"{self.scheme.upper()} load: {tool}, {st.conns} connections, {how}, "
                             f"{st.duration:g} s x {st.rounds} rounds, median shown")
            if note:
                res.notes.append(note)
        procs = _start_all(st, servers, self.name) if tool else {}
        try:
            live = [r for r in servers if r.status == "pending"]
            for r in live:  # warm up (JIT-free Python still fills caches, pools, free lists)
                p = procs[r.spec.name]
                _sample(st, r, p, lambda p=p: loadgen.http_warmup(p.port, st.conns, st.warmup,
                                                                   self.path, self.scheme,
                                                                   self.headers))
                r.samples.clear()
            for i in range(st.rounds):
                for r in live:
                    p = procs[r.spec.name]
                    _sample(st, r, p, lambda p=p: loadgen.http_load(p.port, st.conns,
                                                                     st.duration, self.path,
                                                                     self.scheme, self.headers))
                    if r.samples and len(r.samples) == i + 1:
                        st.log(f"  {r.spec.label}: {r.samples[-1]['rate']:,.0f} requests/s")
                for r in programs:
                    _run_program_round(st, r, ["--seconds", f"{st.duration:g}"])
        finally:
            _stop_all(procs)

    def finish(self, res: Result) -> None:
        ref = res.reference()
        for r in res.rows:
            if ref is not None and r.ok and r.spec.name in self.program_names:
                frac = ref.figures["rate"] / r.figures["rate"]
                res.notes.append(f"{ref.spec.label} serves {frac:.0%} of {r.spec.label}'s rate")


def _run_program_round(st: Settings, r: Row, args: list[str]) -> None:
    if r.status != "pending":
        return
    try:
        s = run_program(r.spec, args, timeout=120 + st.duration * 4)
    except ServerError as e:
        r.fail(e)
        st.log(f"  {r.spec.label}: {r.status}: {r.reason}")
        return
    r.samples.append(s)
    first = next((f"{k}={v:,.1f}" for k, v in s.items() if isinstance(v, float)), "")
    st.log(f"  {r.spec.label}: {first}")


class EchoScenario(Scenario):
    """Ping-pong with the C client: ``conns`` connections, ``size``-byte messages;
    ``mode="ws"``: WebSocket text frames (the client upgrades first)."""

    def __init__(self, name: str, title: str, servers: list[Spec], size: int = 100,
                 description: str = "", mode: str = "echo") -> None:
        metrics = [
            Metric("rate", "messages/s", ratio=True),
            Metric("p50_ms", "p50 ms", "{:.2f}", higher_is_better=False),
            Metric("p99_ms", "p99 ms", "{:.2f}", higher_is_better=False),
        ]
        super().__init__(name, title, servers, metrics, description)
        self.size = size
        self.mode = mode

    def measure(self, st: Settings, rows: list[Row], res: Result) -> None:
        exe, why = loadgen.c_client_or_none()
        if exe is None:
            res.skipped = why
            for r in rows:
                r.status, r.reason = "skipped", why
            return
        what = "ws (WebSocket text frames):" if self.mode == "ws" else f"{self.mode}:"
        res.notes.append(f"loadgen.c {what} {st.conns} connections, {self.size}-byte messages, "
                         f"one in flight per connection, {st.duration:g} s x {st.rounds} rounds")
        procs = _start_all(st, rows, self.name)
        try:
            live = [r for r in rows if r.status == "pending"]
            for i in range(st.rounds):
                for r in live:
                    p = procs[r.spec.name]
                    warm = st.warmup if i == 0 else min(st.warmup, 0.5)
                    _sample(st, r, p, lambda p=p, w=warm: loadgen.echo_load(
                        p.port, st.conns, self.size, st.duration, w, self.mode))
                    if r.samples and len(r.samples) == i + 1:
                        st.log(f"  {r.spec.label}: {r.samples[-1]['rate']:,.0f} messages/s")
        finally:
            _stop_all(procs)


#: Seconds between the last idle connection opening and the RSS reading (and
#: the load that follows). A connection answered a millisecond ago is not idle
#: yet: gonet.http gives an idle connection's goroutine back after 0.25 s,
#: and without a pause the figure depended on how fast the holder opened them.
IDLE_SETTLE = 1.0


class IdleScenario(Scenario):
    """Idle keep-alive connections: RSS each costs, and HTTP load with them held.

    One server at a time: warm up, measure requests/s, read RSS, open
    ``idle_conns`` connections (each sends one request, reads the response
    and stays open), wait ``IDLE_SETTLE`` seconds, read RSS again, measure
    requests/s with them held, release them.
    """

    def __init__(self, name: str, title: str, servers: list[Spec], max_rounds: int = 2,
                 description: str = "", mode: str = "http", max_idle: int | None = None) -> None:
        unit = "msg/s" if mode == "ws" else "req/s"
        metrics = [
            Metric("rss_per_conn_kb", "KB RSS/idle conn", "{:.2f}", higher_is_better=False,
                   ratio=True),
            Metric("rate_base", f"{unit} alone"),
            Metric("rate_idle", f"{unit} w/ idle"),
            Metric("idle_fraction", "w/ idle / alone", "{:.2f}", ratio=True),
            Metric("idle_open", "idle held", "{:,.0f}"),
            Metric("closed_by_server", "closed by srv", "{:,.0f}", higher_is_better=False),
        ]
        super().__init__(name, title, servers, metrics, description)
        self.max_rounds = max_rounds
        #: "http": idle keep-alive connections, HTTP load; "ws": open WebSockets
        #: held idle, WebSocket echo load (the C client for both).
        self.mode = mode
        self.max_idle = max_idle

    def _count(self, st: Settings) -> int:
        return min(st.idle_conns, self.max_idle) if self.max_idle else st.idle_conns

    def _load(self, st: Settings, port: int, seconds: float) -> dict:
        if self.mode == "ws":
            return loadgen.echo_load(port, st.conns, 100, seconds, 0.0, "ws")
        return loadgen.http_load(port, st.conns, seconds)

    def measure(self, st: Settings, rows: list[Row], res: Result) -> None:
        exe, why = loadgen.c_client_or_none()
        tool, note = loadgen.http_tool()
        if self.mode == "ws":
            tool, note = "loadgen.c ws", ""
        if exe is None or tool is None:
            res.skipped = why or note
            for r in rows:
                r.status, r.reason = "skipped", res.skipped
            return
        what = "open WebSockets" if self.mode == "ws" else "keep-alive connections"
        res.notes.append(f"{self._count(st):,} idle {what} held by loadgen.c "
                         f"while {tool} runs {st.conns} busy ones, alternating with runs "
                         f"without them; RSS = server VmRSS growth when the idle ones first "
                         f"opened ({IDLE_SETTLE:g} s after the last), divided by their number "
                         f"(user space only; kernel socket buffers are not in RSS)")
        procs = _start_all(st, rows, self.name)  # started together, measured one by one
        try:
            for r in rows:
                if r.status == "pending":
                    with procs[r.spec.name] as p:
                        self._one(st, r, p, res)
        finally:
            _stop_all(procs)

    @staticmethod
    def _released(p: ServerProc, fd0: int, wait: float = 10.0) -> bool:
        """True once the server has closed the idle connections the client let go."""
        deadline = time.monotonic() + wait
        while p.fds() > fd0 + 100:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.1)
        return True

    def _one(self, st: Settings, r: Row, p: ServerProc, res: Result) -> None:
        """Rounds of: requests/s alone, open the idle ones, requests/s with them, release.

        Alone and with-idle alternate so that a slow patch on a shared machine
        hits both sides alike. RSS per connection comes from the first round
        only: memory freed when idle connections close is seldom returned to
        the OS, so later rounds would under-count.
        """
        port = p.port
        if self.mode == "ws":
            _sample(st, r, p, lambda: self._load(st, port, st.warmup))
        else:
            _sample(st, r, p, lambda: loadgen.http_warmup(port, st.conns, st.warmup))
        r.samples.clear()
        rounds: list[dict] = []
        fd0 = p.fds()
        for i in range(max(1, min(st.rounds, self.max_rounds))):
            if i > 0 and not self._released(p, fd0):
                res.notes.append(f"{r.spec.label}: only {i} round(s): {p.fds() - fd0:,} "
                                 f"descriptors of closed idle connections still held 10 s "
                                 f"after the client closed them")
                break
            _sample(st, r, p, lambda: self._load(st, port, st.duration))
            if r.status != "pending":
                return
            base = r.samples.pop()
            time.sleep(0.2)
            rss0 = p.rss()
            count = self._count(st)
            holder = loadgen.IdleHolder(port, count, mode="wsidle" if self.mode == "ws" else "idle")
            try:
                opened = holder.open(timeout=60 + count / 200)
                time.sleep(IDLE_SETTLE)  # idle means idle for a moment, not just answered
                rss1 = p.rss()
                _sample(st, r, p, lambda: self._load(st, port, st.duration))
                released = holder.release()
            except Exception as e:  # noqa: BLE001 - recorded as the row's reason
                r.status, r.reason = "error", f"idle holder: {e}: {p.log_tail(1)}"
                return
            finally:
                holder.kill()
            if r.status != "pending" or not opened.get("opened"):
                r.status = "error"
                r.reason = r.reason or f"no idle connection opened: {opened}"
                return
            loaded = r.samples.pop()
            rounds.append({"rate_base": base["rate"], "rate_idle": loaded["rate"],
                           "p99_base_ms": base["p99_ms"], "p99_idle_ms": loaded["p99_ms"],
                           "idle_open": opened["opened"], "idle_failed": opened.get("failed", 0),
                           "open_seconds": opened.get("seconds", 0.0),
                           "closed_by_server": released.get("closed_by_server", 0),
                           "rss_before_mb": rss0 / 2**20, "rss_idle_mb": rss1 / 2**20,
                           "rss_per_conn_kb": (rss1 - rss0) / opened["opened"] / 1024})
            st.log(f"  {r.spec.label} round {i + 1}: {rounds[-1]['rss_per_conn_kb']:.2f} KB/conn,"
                   f" {base['rate']:,.0f} -> {loaded['rate']:,.0f} requests/s")
        rate_base = statistics.median(x["rate_base"] for x in rounds)
        rate_idle = statistics.median(x["rate_idle"] for x in rounds)
        r.samples.append({
            "rss_per_conn_kb": rounds[0]["rss_per_conn_kb"],
            "rate_base": rate_base,
            "rate_idle": rate_idle,
            "idle_fraction": rate_idle / rate_base if rate_base else 0.0,
            "idle_open": min(x["idle_open"] for x in rounds),
            "closed_by_server": max(x["closed_by_server"] for x in rounds),
            "p99_base_ms": statistics.median(x["p99_base_ms"] for x in rounds),
            "p99_idle_ms": statistics.median(x["p99_idle_ms"] for x in rounds),
            "rss_before_mb": rounds[0]["rss_before_mb"],
            "rss_idle_mb": rounds[0]["rss_idle_mb"],
            "rounds": rounds,
        })


class ProgramScenario(Scenario):
    """Self-timing scripts (one process each, run one after another, ``rounds`` times)."""

    def __init__(self, name: str, title: str, programs: list[Spec], metrics: list[Metric],
                 description: str = "") -> None:
        super().__init__(name, title, programs, metrics, description)

    def measure(self, st: Settings, rows: list[Row], res: Result) -> None:
        args = ["--quick"] if st.quick else []
        for _ in range(st.rounds):
            for r in rows:
                _run_program_round(st, r, args)


class FanoutScenario(Scenario):
    """A handler that calls a slow upstream: requests/s, and an instant route's p99.

    One upstream process answers every call after ``delay`` seconds. Each
    row's server calls it once per request to ``/``; the HTTP load drives
    ``/`` with ``conns`` connections while a prober thread of this process
    asks ``/fast`` on its own keep-alive connection every ``probe_every``
    seconds and records its latency. The ideal rate is conns / delay (every
    connection always waiting on the upstream, no CPU cost).
    """

    def __init__(self, name: str, title: str, servers: list[Spec], upstream: Spec,
                 delay: float = 0.05, probe_every: float = 0.01, description: str = "",
                 reference: str | None = None) -> None:
        metrics = [
            Metric("rate", "requests/s", ratio=True),
            Metric("ideal_fraction", "of ideal", "{:.2f}"),
            Metric("p99_ms", "p99 ms", "{:.1f}", higher_is_better=False),
            Metric("fast_p99_ms", "/fast p99 ms", "{:.1f}", higher_is_better=False),
            Metric("bad", "errors+non-2xx", "{:,.0f}", higher_is_better=False),
        ]
        super().__init__(name, title, servers, metrics, description, reference)
        self.upstream = upstream
        self.delay = delay
        self.probe_every = probe_every

    def measure(self, st: Settings, rows: list[Row], res: Result) -> None:
        import os

        tool, note = loadgen.http_tool()
        if tool is None:
            res.skipped = note
            for r in rows:
                r.status, r.reason = "skipped", note
            return
        ideal = st.conns / self.delay
        res.notes.append(f"HTTP load: {tool}, {st.conns} connections on /, each request one "
                         f"call to an upstream answering after {self.delay * 1000:.0f} ms "
                         f"(ideal {ideal:,.0f} requests/s); /fast probed every "
                         f"{self.probe_every * 1000:.0f} ms on one keep-alive connection; "
                         f"{st.duration:g} s x {st.rounds} rounds, median shown")
        uport = free_port()
        up = ServerProc(self.upstream.name, self.upstream.argv(
            "--port", str(uport), "--delay", str(self.delay)), uport, self.name)
        up.start()
        try:
            up.wait_ready()
        except ServerError as e:
            up.stop()
            res.skipped = f"the upstream did not start: {e}"
            for r in rows:
                r.status, r.reason = "skipped", res.skipped
            return
        os.environ["FANOUT_UPSTREAM"] = f"http://127.0.0.1:{up.port}/"  # the servers inherit it
        procs = _start_all(st, rows, self.name)
        try:
            live = [r for r in rows if r.status == "pending"]
            for r in live:
                p = procs[r.spec.name]
                _sample(st, r, p, lambda p=p: loadgen.http_warmup(p.port, st.conns, st.warmup))
                r.samples.clear()
            for i in range(st.rounds):
                for r in live:
                    p = procs[r.spec.name]
                    _sample(st, r, p, lambda p=p: self._one(p.port, st, ideal))
                    if r.samples and len(r.samples) == i + 1:
                        s = r.samples[-1]
                        st.log(f"  {r.spec.label}: {s['rate']:,.0f} requests/s, "
                               f"/fast p99 {s['fast_p99_ms']:.1f} ms")
        finally:
            _stop_all(procs)
            up.stop()
            os.environ.pop("FANOUT_UPSTREAM", None)

    def _one(self, port: int, st: Settings, ideal: float) -> dict:
        prober = loadgen.Prober(port, "/fast", self.probe_every)
        prober.start()
        try:
            out = loadgen.http_load(port, st.conns, st.duration, "/")
        finally:
            lat = prober.stop()
        if not lat:
            raise RuntimeError("no /fast probe completed")
        lat.sort()
        out["fast_p99_ms"] = lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000
        out["fast_p50_ms"] = lat[len(lat) // 2] * 1000
        out["fast_probes"] = len(lat)
        out["ideal_fraction"] = out["rate"] / ideal
        return out


class ClientScenario(Scenario):
    """HTTP clients (self-timing scripts, one process each) against one hello
    server in its own process: the first of ``targets`` that starts. Each
    client keeps ``conns`` GETs in flight on keep-alive connections; rounds
    interleave the clients."""

    def __init__(self, name: str, title: str, clients: list[Spec], targets: list[Spec],
                 description: str = "") -> None:
        metrics = [
            Metric("rate", "requests/s", ratio=True),
            Metric("p50_ms", "p50 ms", "{:.2f}", higher_is_better=False),
            Metric("p99_ms", "p99 ms", "{:.2f}", higher_is_better=False),
            Metric("bad", "errors+non-2xx", "{:,.0f}", higher_is_better=False),
        ]
        super().__init__(name, title, clients, metrics, description)
        self.targets = targets

    def _start_target(self, st: Settings) -> tuple[ServerProc, Spec] | None:
        for spec in self.targets:
            if spec.missing():
                continue
            port = free_port()
            p = ServerProc(spec.name, spec.argv("--port", str(port)), port, self.name)
            p.start()
            try:
                p.wait_ready()
            except ServerError as e:
                p.stop()
                st.log(f"  target {spec.label}: {e}")
                continue
            return p, spec
        return None

    def measure(self, st: Settings, rows: list[Row], res: Result) -> None:
        started = self._start_target(st)
        if started is None:
            res.skipped = "no hello server could start"
            for r in rows:
                r.status, r.reason = "skipped", res.skipped
            return
        proc, target = started
        res.notes.append(f"target: {target.label}, its own process; each client in its own "
                         f"process, {st.conns} GETs in flight, keep-alive, "
                         f"{st.duration:g} s x {st.rounds} rounds, median shown")
        args = ["--url", f"http://127.0.0.1:{proc.port}/", "--conns", str(st.conns),
                "--seconds", f"{st.duration:g}", "--warmup", f"{max(st.warmup, 0.5):g}"]
        try:
            for _ in range(st.rounds):
                for r in rows:
                    _run_program_round(st, r, args)
                    if not proc.alive():
                        raise ServerError(f"the target died: {proc.log_tail()}")
        except ServerError as e:
            for r in rows:
                if r.status == "pending":
                    r.fail(e)
        finally:
            proc.stop()


# -- the registry -----------------------------------------------------------------

SCENARIOS: dict[str, Scenario] = {}


def register(s: Scenario) -> Scenario:
    if s.name in SCENARIOS:
        raise ValueError(f"scenario {s.name!r} registered twice")
    SCENARIOS[s.name] = s
    return s


register(HttpScenario(
    "http", "1. HTTP hello world (13-byte text/plain, keep-alive)",
    specs.HTTP_SERVERS, programs=[specs.H11_CEILING],
    description="requests/s and latency, one server process; h11's own ceiling (no I/O)"))
register(EchoScenario(
    "echo", "2. TCP echo ping-pong (100-byte messages)", specs.ECHO_SERVERS, size=100))
register(IdleScenario(
    "idle", "3. Many idle keep-alive connections", specs.HTTP_SERVERS))
register(ProgramScenario(
    "goroutines", "4. Lightweight tasks: spawn+finish, parked RSS", specs.TASK_PROGRAMS,
    [Metric("spawn_rate", "spawn+finish/s", ratio=True),
     Metric("rss_per_task_bytes", "bytes RSS/parked", "{:,.0f}", higher_is_better=False,
            ratio=True),
     Metric("rss_parked_mb", "MB RSS parked", "{:,.1f}", higher_is_better=False),
     Metric("parked", "parked", "{:,.0f}")]))

# issue 7: Flask under `gonet serve` against WSGI servers; gonet's worker scaling
register(HttpScenario(
    "flask", "5. Flask hello world, one worker process", specs.FLASK_SERVERS,
    description="the same Flask app under gonet serve (wsgi), gunicorn and waitress"))
register(HttpScenario(
    "workers", "6. gonet serve scaling: 1 and 2 worker processes", specs.WORKER_SERVERS,
    reference="gonet-w2",
    description="the hello handler of scenario 1 under gonet serve; on a 2-core machine wrk "
                "shares the cores with the workers"))

# issue 15: HTTPS, keep-alive and a new TLS connection per request
register(HttpScenario(
    "https", "7. HTTPS hello world (keep-alive)", specs.HTTPS_SERVERS, scheme="https",
    description="the hello of scenario 1 over TLS 1.3 (ECDSA P-256 certificate), wrk https"))
register(HttpScenario(
    "handshakes", "8. HTTPS, a new TLS connection per request", specs.HTTPS_SERVERS,
    scheme="https", headers=("Connection: close",),
    description="every request on a fresh TCP connection and TLS handshake (wrk resumes its "
                "TLS session: abbreviated handshakes, see benchmarks/README.md)"))

# issue 14: a handler calling a slow upstream through a client library
register(FanoutScenario(
    "fanout", "9. Fan-out: a handler calling a 50 ms upstream", specs.FANOUT_SERVERS,
    specs.FANOUT_UPSTREAM,
    description="requests/s through one upstream call per request, and the p99 of an "
                "instant route meanwhile; gonet patched and gunicorn gevent run the same "
                "WSGI app with requests"))

# issue 18: WebSocket echo
register(EchoScenario(
    "websocket", "10. WebSocket echo (100-byte text messages)", specs.WEBSOCKET_SERVERS,
    size=100, mode="ws",
    description="one WebSocket per connection, one message in flight each; loadgen.c masks "
                "its frames as a client must"))
register(IdleScenario(
    "websocket_idle", "11. Many idle WebSockets", specs.WEBSOCKET_SERVERS, mode="ws",
    max_idle=5000,
    description="open WebSockets that send nothing (each server's handler waits in its "
                "receive call), and the echo of scenario 9 with them held"))

# issue 16: the HTTP client
register(ClientScenario(
    "client", "12. HTTP client: 64 GETs in flight against one hello server",
    specs.CLIENT_PROGRAMS, specs.CLIENT_TARGETS,
    description="requests/s and latency of each client (goroutines, tasks or threads, one per "
                "request in flight) against the same keep-alive hello server"))
