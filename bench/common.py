"""Helpers shared by the benchmarks: percentiles and a consistent report format."""

from __future__ import annotations

import json
import platform
import statistics
import sys
from pathlib import Path


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def summarize(samples_s: list[float]) -> dict[str, float]:
    """Latency figures in milliseconds."""
    ms = [s * 1000 for s in samples_s]
    return {
        "n": len(ms),
        "mean_ms": round(statistics.fmean(ms), 4),
        "p50_ms": round(percentile(ms, 0.50), 4),
        "p90_ms": round(percentile(ms, 0.90), 4),
        "p99_ms": round(percentile(ms, 0.99), 4),
        "max_ms": round(max(ms), 4),
    }


def report(name: str, figures: dict[str, object]) -> None:
    """Print the figures and keep a copy in bench/results/<name>.json."""
    payload = {
        "benchmark": name,
        "python": sys.version.split()[0],
        "machine": platform.machine(),
        **figures,
    }
    print(json.dumps(payload, indent=2))
    out = Path(__file__).resolve().parent / "results"
    out.mkdir(exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(payload, indent=2) + "\n")
