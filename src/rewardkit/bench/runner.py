"""Run folders, results files, progress output and percentile helpers for the suites."""

from __future__ import annotations

import argparse
import importlib
import json
import math
import platform
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

__all__ = [
    "SUITES",
    "Progress",
    "RunFolder",
    "latency_summary",
    "markdown_table",
    "median_curve",
    "pyplot",
    "run_suite",
    "save_figure",
]

#: suite name -> "module:function"; the function takes (argv) and returns an exit code
SUITES: dict[str, str] = {
    "verify-math": "rewardkit.bench.verify_math:main",
    "reward-hacking": "rewardkit.bench.reward_hacking:main",
    "grpo-lab": "rewardkit.bench.grpo_lab:main",
    "explore-minigrid": "rewardkit.bench.explore_minigrid:main",
}

T = TypeVar("T")


def run_suite(name: str, argv: Sequence[str]) -> int:
    """Import and run suite ``name`` with its own arguments."""
    try:
        target = SUITES[name]
    except KeyError:
        raise SystemExit(
            f"rewardkit: error: unknown suite {name!r}; choose from {sorted(SUITES)}"
        ) from None
    module_name, function = target.split(":")
    main: Callable[[Sequence[str]], int] = getattr(importlib.import_module(module_name), function)
    return main(argv)


@dataclass
class RunFolder:
    """``runs/<suite>-<time>/`` (or an explicit folder) with the files a suite writes."""

    path: Path

    @classmethod
    def create(cls, suite: str, out: str | Path | None = None) -> RunFolder:
        if out is None:
            stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
            path = Path("runs") / f"{suite}-{stamp}"
        else:
            path = Path(out)
        path.mkdir(parents=True, exist_ok=True)
        return cls(path)

    def write_json(self, name: str, data: Any) -> Path:
        target = self.path / name
        target.write_text(json.dumps(_jsonable(data), indent=2, sort_keys=False) + "\n")
        return target

    def write_text(self, name: str, text: str) -> Path:
        target = self.path / name
        target.write_text(text)
        return target


def environment() -> dict[str, Any]:
    """Machine facts recorded next to every result."""
    import os

    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "time_utc": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "item"):  # numpy scalars
        return _jsonable(value.item())
    return value


class Progress:
    """Prints ``label: done/total (rate/s, eta)`` at most every ``every`` seconds, on stderr."""

    def __init__(self, label: str, total: int, every: float = 2.0) -> None:
        self.label, self.total, self.every = label, total, every
        self.start = self.last = time.monotonic()
        self.done = 0

    def update(self, count: int = 1) -> None:
        self.done += count
        now = time.monotonic()
        if now - self.last >= self.every or self.done == self.total:
            self.last = now
            rate = self.done / max(now - self.start, 1e-9)
            eta = (self.total - self.done) / rate if rate > 0 else float("inf")
            print(
                f"  {self.label}: {self.done}/{self.total} ({rate:,.0f}/s, eta {eta:,.0f}s)",
                file=sys.stderr,
                flush=True,
            )

    def wrap(self, items: Iterable[T]) -> Iterator[T]:
        for item in items:
            yield item
            self.update()


def latency_summary(seconds: Sequence[float]) -> dict[str, float]:
    """p50, p99 and max of per-item latencies, in milliseconds."""
    ordered = sorted(seconds)
    if not ordered:
        return {"p50_ms": float("nan"), "p99_ms": float("nan"), "max_ms": float("nan")}

    def percentile(q: float) -> float:
        index = min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))
        return ordered[index] * 1000

    return {"p50_ms": percentile(0.5), "p99_ms": percentile(0.99), "max_ms": ordered[-1] * 1000}


def pyplot() -> Any:
    """``matplotlib.pyplot`` with the file-only Agg backend, or None if matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    return plt


def add_rerender_option(parser: argparse.ArgumentParser) -> None:
    """``--rerender RUN_DIR``: rebuild a finished run's report and plots from results.json."""
    parser.add_argument(
        "--rerender",
        default=None,
        metavar="RUN_DIR",
        help="rewrite the report and plots of a finished run from its results.json",
    )


def median_curve(
    runs: Sequence[dict[str, Any]], x_key: str, y_key: str
) -> tuple[list[float], list[float]]:
    """Median over runs (seeds) of ``curve[i][y_key]``, on the first run's ``x_key`` axis.

    Example:
        >>> runs = [{"curve": [{"t": 1, "y": 0.0}, {"t": 2, "y": 1.0}]},
        ...         {"curve": [{"t": 1, "y": 2.0}]}]
        >>> median_curve(runs, "t", "y")
        ([1], [1.0])
    """
    length = min(len(r["curve"]) for r in runs)
    xs = [runs[0]["curve"][i][x_key] for i in range(length)]
    ys = [float(statistics.median(r["curve"][i][y_key] for r in runs)) for i in range(length)]
    return xs, ys


def save_figure(plt: Any, fig: Any, folder: RunFolder, name: str) -> str:
    """Lay out, save under ``folder`` and close a figure; returns its file name."""
    fig.tight_layout()
    fig.savefig(folder.path / name, dpi=90)
    plt.close(fig)
    return name


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub-flavoured markdown table.

    Example:
        >>> print(markdown_table(["a", "b"], [[1, 2.5]]))
        | a | b |
        |---|---|
        | 1 | 2.5 |
    """
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)
