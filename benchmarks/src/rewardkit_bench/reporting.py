"""What the suites' reports share: markdown tables, claim lines, percentiles, medians of
curves, the noise bar of an accuracy gap, and figures."""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from typing import Any

from rewardkit_bench.run_folder import RunFolder

__all__ = [
    "beyond_noise",
    "claim_lines",
    "latency_summary",
    "markdown_table",
    "median_curve",
    "pyplot",
    "reach_text",
    "save_figure",
]


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


def beyond_noise(ours: float, theirs: float, prompts: int) -> bool:
    """Whether accuracy ``ours`` exceeds ``theirs`` by more than two binomial standard errors
    of the difference, each measured on ``prompts`` problems.

    Example:
        >>> beyond_noise(0.11, 0.09, 100), beyond_noise(0.92, 0.71, 100)
        (False, True)
    """
    se = math.sqrt((ours * (1 - ours) + theirs * (1 - theirs)) / prompts)
    return bool(ours - theirs > 2 * se)


def claim_lines(claims: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """A report's claims, one bullet each: reproduced or not, then the detail.

    Example:
        >>> claim_lines({"SMC wins": {"met": False, "detail": "0.5 vs 0.6"}})
        ['- SMC wins: **not reproduced** (0.5 vs 0.6)']
    """
    return [
        f"- {name}: {'**reproduced**' if claim['met'] else '**not reproduced**'} "
        f"({claim['detail']})"
        for name, claim in claims.items()
    ]


def reach_text(value: float) -> str:
    """A count of frames or episodes to a target, or "not reached" (NaN).

    Example:
        >>> reach_text(12345.0), reach_text(float("nan"))
        ('12,345', 'not reached')
    """
    return "not reached" if math.isnan(value) else f"{value:,.0f}"


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
