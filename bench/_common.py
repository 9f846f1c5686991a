"""Shared helpers for the benchmark scripts: machine info, statistics, tables, JSON results.

Not a benchmark itself. Every script measures its baseline in the same run, repeats, and reports
medians and p99 (see bench/README.md); these helpers only keep the output uniform.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import sys
import time
from collections.abc import Iterable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
PACKAGES = ("realtime-nb", "numpy", "pandas", "websockets", "openai", "pydantic", "webrtcvad-wheels",
            "espeakng-loader")


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info() -> dict[str, Any]:
    """CPU model, cores, OS, Python and the versions of the packages the figures depend on."""
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    try:
        load = list(os.getloadavg())
    except OSError:
        load = None
    return {
        "cpu_model": cpu_model(),
        "cores": os.cpu_count(),
        "usable_cores": usable,
        "load_average_at_start": load,
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "python_implementation": platform.python_implementation(),
        "packages": versions,
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0..100), nearest-rank on the sorted values (NaN when empty)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return float(ordered[min(rank, len(ordered)) - 1])


def summary(values: Sequence[float]) -> dict[str, float]:
    """n, median, p99, mean, min, max of ``values``."""
    if not values:
        return {"n": 0, "median": math.nan, "p99": math.nan, "mean": math.nan, "min": math.nan,
                "max": math.nan}
    return {"n": len(values), "median": float(statistics.median(values)), "p99": percentile(values, 99),
            "mean": float(statistics.fmean(values)), "min": float(min(values)), "max": float(max(values))}


def ratio(a: float, b: float) -> float:
    return a / b if b else math.nan


def fmt(value: Any) -> str:
    """Numbers for tables: thousands separators for big ones, three significant digits for small ones."""
    if isinstance(value, bool) or not isinstance(value, float):
        return str(value)
    if math.isnan(value):
        return "-"
    a = abs(value)
    if a >= 1000:
        return f"{value:,.0f}"
    if a >= 100:
        return f"{value:.1f}"
    if a >= 1:
        return f"{value:.2f}"
    return f"{value:.3g}"


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], title: str | None = None) -> str:
    """A plain-text table (right-aligned numbers), printed and returned."""
    cells = [[fmt(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    lines = []
    if title:
        lines.append(title)
    def line(values: Sequence[str]) -> str:
        return "  ".join(v.ljust(w) if i == 0 else v.rjust(w) for i, (v, w) in enumerate(zip(values, widths,
                                                                                              strict=True)))

    lines.append(line(headers))
    lines.append("  ".join("-" * w for w in widths))
    lines.extend(line(r) for r in cells)
    text = "\n".join(lines)
    print(text, flush=True)
    return text


def write_result(name: str, data: dict[str, Any], out_dir: str | os.PathLike[str] | None = None) -> Path:
    """Write ``data`` (plus ``machine``) to ``<out_dir or bench/results>/<name>.json``; return the path."""
    folder = Path(out_dir) if out_dir else RESULTS
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.json"
    payload = {"benchmark": name, "machine": machine_info(), **data}
    path.write_text(json.dumps(payload, indent=2, default=_jsonable) + "\n", encoding="utf-8")
    print(f"\nwrote {path}", flush=True)
    return path


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--quick", action="store_true", help="tiny sizes, a few seconds (CI smoke run)")
    p.add_argument("--out-dir", default=None, help="where to write the JSON (default: bench/results/)")
    return p


def profile_top(stats: Any, limit: int = 15) -> list[dict[str, Any]]:
    """The ``limit`` functions with the most own time from a ``pstats.Stats``."""
    rows = []
    for (filename, line, func), (_cc, nc, tt, ct, _callers) in stats.stats.items():
        rows.append({"function": f"{_short(filename)}:{line}({func})", "calls": nc, "tottime_s": tt,
                     "cumtime_s": ct})
    rows.sort(key=lambda r: r["tottime_s"], reverse=True)
    return rows[:limit]


def _short(filename: str) -> str:
    for marker in ("site-packages/", "realtime_nb/", "lib/python"):
        if marker in filename:
            return filename.split(marker, 1)[1] if marker != "realtime_nb/" else "realtime_nb/" + \
                filename.split(marker, 1)[1]
    return filename
