"""Benchmarks layer: tables, JSON and the chart.

Every table lists each row's figures (medians of its samples) and, for the
scenario's ratio metrics, gonet's figure divided by that row's; the header
says whether bigger is better for that metric. Rows that did not run say why.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from benchmarks.scenarios import Result

NOISE_NOTE = ("Figures taken while other work runs on the machine are noisy: compare the "
              "ratios within one run, not absolute figures across runs.")


def _fmt(fmt: str, v: Any) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    return fmt.format(v)


def table(res: Result) -> str:
    sc = res.scenario
    head = f"== {sc.title}"
    if res.skipped:
        return f"{head}\n  skipped: {res.skipped}\n"
    ratios = res.ratios()
    ref = res.reference()
    ratio_metrics = [m for m in sc.metrics if m.ratio]
    headers = [m.header for m in sc.metrics] + [f"gonet/ {m.header}" for m in ratio_metrics]
    body: list[tuple[str, list[str] | str]] = []
    for r in res.rows:
        if not r.ok:
            body.append((r.spec.label, f"{r.status}: {r.reason}"))
            continue
        cells = [_fmt(m.fmt, r.figures.get(m.key)) for m in sc.metrics]
        for m in ratio_metrics:
            v = ratios.get(m.key, {}).get(r.spec.name)
            cells.append("(gonet)" if r is ref else f"{v:.2f}x" if v is not None else "-")
        body.append((r.spec.label, cells))
    lw = max(len(label) for label, _ in body)
    widths = [max([len(h)] + [len(c[i]) for _, c in body if isinstance(c, list)])
              for i, h in enumerate(headers)]
    lines = [head] + ([f"  ({sc.description})"] if sc.description else [])
    lines += ["  " + " " * lw + "".join(f"  {h:>{w}}" for h, w in zip(headers, widths,
                                                                            strict=True))]
    for label, cells in body:
        if isinstance(cells, str):
            lines.append(f"  {label:<{lw}}  {cells}")
        else:
            lines.append(f"  {label:<{lw}}" + "".join(f"  {c:>{w}}" for c, w in zip(
                cells, widths, strict=True)))
    if ratio_metrics:
        who = f"{ref.spec.label}'s" if ref is not None else "gonet's"
        lines.append(f"  gonet/ columns: {who} figure divided by the row's; " + "; ".join(
            f"{m.header}: {'higher' if m.higher_is_better else 'lower'} is better"
            for m in ratio_metrics))
    for n in res.notes:
        lines.append(f"  note: {n}")
    if ref is None and any(r.spec.gonet for r in res.rows):
        lines.append("  no gonet row ran, so no ratios")
    return "\n".join(lines) + "\n"


def to_json(results: list[Result], machine: dict, settings: dict) -> dict:
    out: dict[str, Any] = {"machine": machine, "settings": settings, "note": NOISE_NOTE,
                           "scenarios": []}
    for res in results:
        sc = res.scenario
        out["scenarios"].append({
            "name": sc.name,
            "title": sc.title,
            "skipped": res.skipped or None,
            "seconds": round(res.seconds, 1),
            "notes": res.notes,
            "metrics": [{"key": m.key, "header": m.header, "higher_is_better": m.higher_is_better,
                         "ratio": m.ratio} for m in sc.metrics],
            "reference": (res.reference().spec.name if res.reference() else None),
            "ratios": res.ratios(),
            "rows": [{
                "name": r.spec.name, "label": r.spec.label, "gonet": r.spec.gonet,
                "status": r.status, "reason": r.reason or None,
                "figures": r.figures, "samples": r.samples,
            } for r in res.rows],
        })
    return out


def write_json(data: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1, default=str) + "\n")


def write_chart(results: list[Result], machine_line: str, path: Path) -> str | None:
    """One horizontal bar panel per scenario (its first metric); gonet in its own colour.

    Returns None on success, else why no chart was drawn.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib is not installed (pip install matplotlib)"
    shown = [r for r in results if not r.skipped and any(x.ok for x in r.rows)]
    if not shown:
        return "no scenario produced figures"
    panels = []
    for res in shown:
        m = res.scenario.metrics[0]
        panels.append((res, m))
        if res.scenario.name == "goroutines" and len(res.scenario.metrics) > 1:
            panels.append((res, res.scenario.metrics[1]))
    fig, axes = plt.subplots(len(panels), 1, figsize=(9, 2.1 + 0.42 * sum(
        len(r.rows) for r, _ in panels)), squeeze=False)
    for ax, (res, m) in zip(axes[:, 0], panels, strict=True):
        rows = list(reversed(res.rows))
        vals = [r.figures.get(m.key, 0.0) if r.ok else 0.0 for r in rows]
        colors = ["#1f77b4" if r.spec.gonet else "#b0b0b0" for r in rows]
        ax.barh([r.spec.label for r in rows], vals, color=colors)
        top = max(vals) if vals else 1
        ratios = res.ratios().get(m.key, {})
        for y, (r, v) in enumerate(zip(rows, vals, strict=True)):
            text = _fmt(m.fmt, v) if r.ok else r.status
            if r.spec.name in ratios:
                text += f"   (gonet/ this: {ratios[r.spec.name]:.2f}x)"
            ax.text(v + top * 0.01, y, text, va="center", fontsize=8)
        better = "higher" if m.higher_is_better else "lower"
        ax.set_title(f"{res.scenario.title}: {m.header} ({better} is better)", fontsize=9,
                     loc="left")
        ax.set_xlim(0, top * 1.45 if top else 1)
        ax.tick_params(labelsize=8)
    fig.suptitle(f"gonet vs peers — {machine_line}\n{NOISE_NOTE}", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return None
