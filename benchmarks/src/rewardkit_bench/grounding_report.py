"""The grounding suite's summary, claims and report, built from ``results.json`` alone.

A paper's claim is *reproduced* on the lab when its graded design beats the binary (or
named) baseline on the claim's metric in the median over seeds by more than two binomial
standard errors of the held-out set (:func:`rewardkit_bench.reporting.beyond_noise`; a
bound for metrics in [0, 1]) *and* in most paired seeds; with one seed (``--quick``) the
line says it is indicative only. The paper's own figure is quoted beside ours, never
compared with it: the papers fine-tune multimodal LLMs on real screens and videos, we
train a small CNN from scratch on drawn ones.

Example:
    >>> runs = [{"task": "click", "design": d, "seed": s, "final": {"hit": v + s / 10}}
    ...         for d, v in (("binary hit", 0.2), ("GUI-G² Gaussian point", 0.3)) for s in range(3)]
    >>> summary = summarize_runs(runs)
    >>> summary["tasks"]["click"]["GUI-G² Gaussian point"]["hit"]
    0.4
    >>> [c["met"] for c in summary["claims"].values()]
    [True]
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any

from rewardkit_bench.reporting import beyond_noise, claim_lines, markdown_table

__all__ = ["CLAIMS", "HEADLINE", "Claim", "report_text", "summarize_runs"]


@dataclass(frozen=True)
class Claim:
    """One paper's line: its design against a baseline on a metric of a task."""

    paper: str
    text: str
    paper_figure: str
    task: str
    design: str
    baseline: str
    metric: str
    higher_is_better: bool = True
    #: a metric that must not fall below this share of the baseline's (calibrating by
    #: never hitting is not calibration)
    guard: tuple[str, float] | None = None


CLAIMS = (
    Claim("GUI-G²", "the Gaussian point reward clicks better than the binary hit",
          "+24.7 % on ScreenSpot-Pro", "click", "GUI-G² Gaussian point", "binary hit", "hit"),
    Claim("GUI-G² (small targets)", "the Gaussian point reward clicks small targets better",
          "graded rewards matter most on small elements", "click", "GUI-G² Gaussian point",
          "binary hit", "hit_small"),
    Claim("GUI-G² (boxes)", "point + coverage rewards box the target better than IoU ≥ 0.5",
          "+24.7 % on ScreenSpot-Pro", "box", "GUI-G² point + coverage", "binary IoU≥0.5", "iou"),
    Claim("GUI-G1", "a box-size term (our form) beats IoU alone on IoU (IoU alone inflates "
          "boxes)", "90.3 % on ScreenSpot, with a box-size constraint among its changes", "box",
          "IoU + box size (GUI-G1-style)", "IoU", "iou"),
    Claim("HyperClick", "its confidence reward calibrates the stated confidence (lower ECE "
          "than no confidence reward)", "better calibrated confidence", "click_confidence",
          "HyperClick", "hit only", "ece", higher_is_better=False, guard=("hit", 0.9)),
    Claim("HyperClick (Brier)", "its confidence reward lowers the Brier score",
          "better calibrated confidence", "click_confidence", "HyperClick", "hit only", "brier",
          higher_is_better=False, guard=("hit", 0.9)),
    Claim("STAR-R1", "partial credit places more objects within 1 m than the binary reward",
          "+23 % over SFT", "layout", "STAR-R1 partial credit", "binary all within 1 m",
          "within_1m"),
    Claim("STVG-o1", "its graded rewards raise m_tIoU over the binary reward",
          "+7.3 % m_tIoU on HCSTVG", "clip", "STVG-o1-style", "binary", "tiou"),
    Claim("Veason-R1", "its mask-consistency reward raises J&F over the binary reward (that "
          "reward is the frame-mean mask IoU, J, half of J&F: close to built in)",
          "+1.3 / +10.0 J&F, with keyframe and box rewards not built here", "clip",
          "Veason-R1-style", "binary", "j_and_f"),
    Claim("GRiP", "a GRiP-style salience-weighted IoU (its formula could not be read; target "
          "salience 1, other elements 0.1, plus IoU precision) boxes the target better than IoU",
          "gains on grounding benchmarks", "box", "GRiP-style salience IoU", "IoU", "iou"),
    Claim("Video2Layout", "a metric-coordinate reward (ours: the paper's RL reward scores "
          "answers, its maps are learned in SFT) places objects better than the binary reward",
          "+4.92 %, not with this reward", "layout", "Video2Layout-style metric",
          "binary all within 1 m", "within_1m"),
    Claim("RewardMap", "detail rewards with stages beat the binary reward on the hard rooms "
          "(its difficulty weight is constant within a group, so GRPO's scaling cancels it)",
          "+3.47 %", "layout", "RewardMap-style detail + stages", "binary all within 1 m",
          "within_1m_hard"),
)  # fmt: skip

#: the metrics each task's table shows, in order
HEADLINE = {
    "click": ("hit", "hit_small", "hit_large"),
    "click_confidence": ("hit", "ece", "brier", "confidence", "hit_small"),
    "box": ("iou", "hit", "iou50", "iou_small", "size_ratio"),
    "clip": ("tiou", "viou", "j_and_f", "valid"),
    "layout": ("within_1m", "within_1m_hard", "all_within_1m", "error_m"),
}


def _by_design(runs: list[dict[str, Any]]) -> dict[str, dict[str, list[dict[str, Any]]]]:
    tasks: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for run in runs:
        tasks.setdefault(run["task"], {}).setdefault(run["design"], []).append(run)
    return tasks


def _claim(
    claim: Claim, tasks: dict[str, dict[str, list[dict[str, Any]]]]
) -> dict[str, Any] | None:
    designs = tasks.get(claim.task, {})
    if claim.design not in designs or claim.baseline not in designs:
        return None
    ours = {r["seed"]: r["final"].get(claim.metric) for r in designs[claim.design]}
    theirs = {r["seed"]: r["final"].get(claim.metric) for r in designs[claim.baseline]}
    scenes = min(r.get("settings", {}).get("test", 512) for r in designs[claim.design])
    seeds = sorted(s for s in ours if s in theirs and ours[s] is not None and theirs[s] is not None)
    if not seeds:
        return None
    sign = 1.0 if claim.higher_is_better else -1.0
    a = statistics.median(ours[s] for s in seeds)
    b = statistics.median(theirs[s] for s in seeds)
    wins = sum(sign * (ours[s] - theirs[s]) > 0 for s in seeds)
    clear = beyond_noise(a, b, scenes) if claim.higher_is_better else beyond_noise(b, a, scenes)
    held, guard_text = True, ""
    if claim.guard is not None:
        metric, share = claim.guard
        g_ours = statistics.median(
            r["final"][metric] for r in designs[claim.design] if r["seed"] in seeds
        )
        g_theirs = statistics.median(
            r["final"][metric] for r in designs[claim.baseline] if r["seed"] in seeds
        )
        held = g_ours >= share * g_theirs and g_ours > 0
        guard_text = (f"; {metric} {g_ours:.3f} vs {g_theirs:.3f}, must be ≥ {share:.0%} of it"
                      f"{'' if held else ' and above 0: not held'}")  # fmt: skip
    worse = beyond_noise(b, a, scenes) if claim.higher_is_better else beyond_noise(a, b, scenes)
    noise = "" if clear else ", worse beyond noise" if worse else ", within noise"
    single = "; one seed: indicative only" if len(seeds) == 1 else ""
    return {"met": bool(sign * (a - b) > 0 and clear and wins * 2 > len(seeds) and held),
            "detail": f"{claim.metric} {a:.3f} vs {b:.3f} ({claim.baseline}{noise}){single}; "
                      f"better in {wins} of {len(seeds)} seeds; by seed "
                      f"{[round(ours[s], 3) for s in seeds]} vs "
                      f"{[round(theirs[s], 3) for s in seeds]}{guard_text}; the paper: "
                      f"{claim.paper_figure}",
            "ours": a, "baseline": b, "paper": claim.paper}  # fmt: skip


def summarize_runs(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians over seeds of each design's final metrics, and the claims."""
    tasks = _by_design(runs)
    table = {task: {design: {metric: statistics.median(values)
                             for metric in group[0]["final"] if metric != "step"
                             if (values := [r["final"][metric] for r in group
                                            if metric in r["final"]])}
                    | {"seeds": len(group)}
                    for design, group in designs.items()}
             for task, designs in tasks.items()}  # fmt: skip
    claims = {f"{c.paper}: {c.text}": result for c in CLAIMS
              if (result := _claim(c, tasks)) is not None}  # fmt: skip
    return {"tasks": table, "claims": claims}


def _cell(value: Any) -> str:
    return "-" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)


def report_text(results: dict[str, Any], plots: list[str], preamble: list[str]) -> str:
    """The markdown report: per task a table of medians, then the claim lines."""
    lines = list(preamble)
    for task, designs in results["tasks"].items():
        metrics = [m for m in HEADLINE.get(task, ()) if any(m in d for d in designs.values())]
        rows = [[design, *(_cell(values.get(m)) for m in metrics), values["seeds"]]
                for design, values in designs.items()]  # fmt: skip
        lines += [f"## {task}", "", markdown_table(["design", *metrics, "seeds"], rows), ""]
        if f"{task}.png" in plots:
            lines += [f"![{task}]({task}.png)", ""]
    lines += ["## Claims", ""]
    lines += claim_lines(results["claims"])
    missing = [f"{c.paper}" for c in CLAIMS if not any(k.startswith(c.paper + ":")
                                                        for k in results["claims"])]  # fmt: skip
    if missing:
        lines += ["", "Not measured in this run: " + ", ".join(missing) + "."]
    return "\n".join(lines) + "\n"
