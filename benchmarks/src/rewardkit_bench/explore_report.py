"""The ``explore-minigrid`` suite's tables, ranking, plots and report, from its run records.

Everything here reads the records of finished runs (``results.json``'s
``runs``), so ``--rerender`` rebuilds the report from that file alone.
"""

from __future__ import annotations

import json
import statistics
from typing import Any

from rewardkit_bench.explore_designs import (
    DESIGN_LABELS,
    DESIGN_TABLE,
    DESIGNS,
    EVAL_EPISODES,
    GREEDY_EPISODES,
    TASK_NOTES,
    TASKS,
    design_spec,
)
from rewardkit_bench.runner import RunFolder, markdown_table, median_curve, pyplot, save_figure

__all__ = [
    "best_designs",
    "measured_line",
    "plot_tasks",
    "render_report",
    "sort_runs",
    "summarize_runs",
]

Summary = dict[str, dict[str, dict[str, Any]]]


def sort_runs(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Runs in report order: task (the suite's tasks first), design, seed."""
    return sorted(
        runs,
        key=lambda r: (
            TASKS.index(r["task"]) if r["task"] in TASKS else -1,
            r["task"],
            DESIGNS.index(r["design"]),
            r["seed"],
        ),
    )


def summarize_runs(runs: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, Any]]]:
    """Per task and design: medians over seeds, and frames/s over sparse's in the same run.

    A seed that never reaches success 0.9 counts as infinitely slow, so the median
    frames-to-0.9 is ``None`` ("never") unless most seeds get there.
    """
    table: dict[str, dict[str, dict[str, Any]]] = {}
    for task in dict.fromkeys(r["task"] for r in runs):
        sparse_fps = [r["fps"] for r in runs if r["task"] == task and r["design"] == "sparse"]
        base_fps = statistics.median(sparse_fps) if sparse_fps else None
        for design in dict.fromkeys(r["design"] for r in runs if r["task"] == task):
            mine = [r for r in runs if r["task"] == task and r["design"] == design]
            solved = [r["frames_to_0.9"] for r in mine]
            median_solved = statistics.median(s if s is not None else float("inf") for s in solved)
            fps = statistics.median(r["fps"] for r in mine)
            hook_ratio = statistics.median(r["hook_ratio"] for r in mine)
            table.setdefault(task, {})[design] = {
                "frames_to_0.9": None if median_solved == float("inf") else median_solved,
                "seeds_solved": sum(s is not None for s in solved),
                "final_success": statistics.median(r["final_success"] for r in mine),
                "mean_final_success": statistics.fmean(r["final_success"] for r in mine),
                "final_greedy_success": statistics.median(r["final_greedy_success"] for r in mine),
                "fps": fps,
                "fps_ratio_to_sparse": fps / base_fps if base_fps else None,
                "hook_ratio": hook_ratio,
                "seeds": len(mine),
                "frames": mine[0]["frames"],
            }
    return table


def best_designs(summary: dict[str, dict[str, dict[str, Any]]], count: int) -> list[str]:
    """The ``count`` best exploration bonuses (not sparse, not a shaping design such as
    ``shaping``, which is task knowledge), ranked by, in turn: tasks solved (median
    over seeds), seeds that reached 0.9 over all tasks, frames to 0.9 summed over tasks
    (unsolved = the run's frames), mean final success over all runs.

    Example:
        >>> row = lambda f, n, s: {"frames_to_0.9": f, "seeds_solved": n,
        ...                        "mean_final_success": s, "frames": 10}
        >>> best_designs({"A": {"sparse": row(5, 3, 1.0), "x": row(None, 0, 0.5),
        ...                     "y": row(8, 2, 0.9), "z": row(None, 1, 0.3)}}, 2)
        ['y', 'z']
    """
    scores: dict[str, tuple[float, ...]] = {}
    for designs in summary.values():
        for design, s in designs.items():
            if design == "sparse" or (design in DESIGN_TABLE and not DESIGN_TABLE[design].bonus):
                continue
            solved, seeds, frames, success = scores.get(design, (0.0, 0.0, 0.0, 0.0))
            done = s["frames_to_0.9"] is not None
            scores[design] = (
                solved - done,
                seeds - s["seeds_solved"],
                frames + (s["frames_to_0.9"] if done else s["frames"]),
                success - s["mean_final_success"],
            )
    return sorted(scores, key=lambda d: scores[d])[:count]


def plot_tasks(folder: RunFolder, runs: list[dict[str, Any]]) -> list[str]:
    """One figure per task: median success over seeds against frames, per design."""
    plt = pyplot()
    if plt is None:
        return []
    names = []
    for task in dict.fromkeys(r["task"] for r in runs):
        fig, axis = plt.subplots(figsize=(6.5, 3.8))
        for design in dict.fromkeys(r["design"] for r in runs if r["task"] == task):
            mine = [
                {"curve": r["evals"]} for r in runs if r["task"] == task and r["design"] == design
            ]
            axis.plot(*median_curve(mine, "frames", "success"), marker=".", label=design)
        axis.set_title(f"{task.removeprefix('MiniGrid-')}: success (median over seeds)")
        axis.set_xlabel("frames")
        axis.set_ylabel(f"success, {EVAL_EPISODES} sampled episodes")
        axis.set_ylim(-0.02, 1.02)
        axis.legend(fontsize=8)
        names.append(save_figure(plt, fig, folder, f"{task}.png"))
    return names


def _method(results: dict[str, Any], summary: Summary) -> list[str]:
    """How the runs were made and measured, and which designs ran."""
    used = [d for d in DESIGNS if any(d in designs for designs in summary.values())]
    return [
        "Reference PPO (`rewardkit.train.ppo`: 8 envs x 128 steps, "
        f"{'the MiniGrid CNN' if results.get('network') == 'cnn' else 'MLP'} on the 7x7 view "
        "codes, "
        f"learning rate {results['ppo']['learning_rate']:g}), {results['seeds']} seed(s) per "
        f"design, medians over seeds. Success = share of {EVAL_EPISODES} episodes on fresh "
        "layouts that reach the goal, policy sampled as trained, measured at "
        f"{results['evals']} points per run; greedy = {GREEDY_EPISODES} episodes with the most "
        "likely action at the end. frames/s is training throughput (evaluations excluded). "
        "fps ratio to sparse = design over sparse in the same run; besides the bonus's cost "
        "it moves with what the policy does and with the load of the run sharing the machine. "
        "fps ratio, bonus cost = frames/s over the frames/s of the same run without the time "
        "spent scoring rollouts with the bonus (its compute and update).",
        "",
        "Designs: " + "; ".join(DESIGN_LABELS[d] for d in used) + ".",
        "",
    ]


def _task_section(task: str, designs: dict[str, dict[str, Any]], plots: list[str]) -> list[str]:
    """The table of one task, its note and its figure."""
    rows = []
    for design, s in designs.items():
        solved = "never" if s["frames_to_0.9"] is None else f"{s['frames_to_0.9']:,.0f}"
        ratio = "" if s["fps_ratio_to_sparse"] is None else f"{s['fps_ratio_to_sparse']:.2f}"
        rows.append(
            [
                design,
                solved,
                f"{s['seeds_solved']}/{s['seeds']}",
                f"{s['final_success']:.2f}",
                f"{s['final_greedy_success']:.2f}",
                f"{s['fps']:,.0f}",
                ratio,
                f"{s['hook_ratio']:.2f}",
            ]
        )
    header = [
        "design",
        "frames to success >= 0.9",
        "seeds reaching 0.9",
        "final success",
        "final greedy success",
        "frames/s",
        "fps ratio to sparse",
        "fps ratio, bonus cost",
    ]
    frames = next(iter(designs.values()))["frames"]
    lines = [f"## {task} ({frames:,} frames per run)", "", markdown_table(header, rows), ""]
    if task in TASK_NOTES:
        lines += [TASK_NOTES[task], ""]
    if f"{task}.png" in plots:
        lines += [f"![{task}]({task}.png)", ""]
    return lines


def measured_line(design: str, summary: Summary) -> str:
    """What the runs of ``design`` measured, task by task, against sparse.

    Example:
        >>> row = lambda f, n, s: {"frames_to_0.9": f, "seeds_solved": n, "seeds": 3,
        ...                        "final_success": s}
        >>> measured_line("x", {"MiniGrid-A-v0": {"sparse": row(None, 0, 0.1),
        ...                                       "x": row(2e5, 2, 0.95)}})
        'A: 0.9 at 200,000 frames (2/3 seeds), final 0.95 (sparse 0.10)'
    """
    parts = []
    for task, designs in summary.items():
        if design not in designs:
            continue
        mine, sparse = designs[design], designs.get("sparse")
        reached = (
            "never 0.9"
            if mine["frames_to_0.9"] is None
            else f"0.9 at {mine['frames_to_0.9']:,.0f} frames"
        )
        versus = f" (sparse {sparse['final_success']:.2f})" if sparse and design != "sparse" else ""
        parts.append(
            f"{task.removeprefix('MiniGrid-').removesuffix('-v0')}: {reached} "
            f"({mine['seeds_solved']}/{mine['seeds']} seeds), final "
            f"{mine['final_success']:.2f}{versus}"
        )
    return "; ".join(parts)


def _claims_section(summary: Summary) -> list[str]:
    """One line per design: what its paper claims, what this run measured."""
    rows = [
        [design, DESIGN_TABLE[design].claim, measured_line(design, summary)]
        for design in DESIGNS
        if DESIGN_TABLE[design].claim and any(design in d for d in summary.values())
    ]
    if not rows:
        return []
    return [
        "## Paper claims and what we measured",
        "",
        "The papers measured on other tasks and budgets (Atari, MiniHack, 10-120M steps); "
        "a line here says what the design does on these tasks with its defaults, not whether "
        "the paper's own figure reproduces.",
        "",
        markdown_table(["design", "paper claims", "we measured (medians over seeds)"], rows),
        "",
    ]


def _scale(results: dict[str, Any]) -> float:
    """``--scale`` of the run (older results.json keep it only in the run records)."""
    if "scale" in results:
        return float(results["scale"])
    return float(next((r.get("scale", 1.0) for r in results["runs"]), 1.0))


def _spec_section(results: dict[str, Any], summary: Summary) -> list[str]:
    """Each design that ran, as the spec that builds its bonus."""
    scale = _scale(results)
    rows = []
    for design in DESIGNS:
        if any(design in designs for designs in summary.values()):
            spec = design_spec(design, seed=0)
            shown = "none (task reward only)" if spec is None else f"`{json.dumps(spec)}`"
            role = "bonus" if DESIGN_TABLE[design].bonus else "added to the task reward"
            rows.append([design, shown, role if spec is not None else ""])
    return [
        "## Designs as reward specs",
        "",
        "Each bonus is a reward spec: `rewardkit.core.build_reward(spec)` builds it, and the "
        "same keys make a TOML or YAML spec file (`rewardkit.core.load_spec`). `seed` is the "
        "run's seed (shown for seed 0). Every bonus runs with its defaults, and PPO with its "
        "own (`PPOTrainer(config, bonus=...)`): the bonus is divided by the running std of "
        "its discounted return, so its `beta` cancels, and learned with its own value head; "
        "advantages are A_ext + w A_int."
        + (f" w is multiplied by `--scale {scale:g}`." if scale != 1.0 else ""),
        "",
        markdown_table(["design", "spec", "enters as"], rows),
        "",
    ]


def render_report(results: dict[str, Any], plots: list[str]) -> str:
    """The report of ``results`` (``summary`` already computed) and its figures."""
    summary: Summary = results["summary"]
    lines = [
        "# explore-minigrid",
        "",
        f"Regenerate: `{results['command']}`",
        "",
        *_method(results, summary),
        *results["notes"],
    ]
    for task, designs in summary.items():
        lines += _task_section(task, designs, plots)
    lines += _claims_section(summary)
    lines += _spec_section(results, summary)
    return "\n".join(lines) + "\n"
