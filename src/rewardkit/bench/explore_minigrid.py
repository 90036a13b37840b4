"""The ``explore-minigrid`` suite: exploration bonuses on sparse MiniGrid tasks with PPO.

Each design trains rewardkit's reference PPO on each task for each seed and
records the training success rate, a greedy evaluation at regular frame
intervals, and frames per second. The report gives, per design and task,
the frames needed to reach a greedy success of at least 0.9 and the final
greedy success (medians over seeds), and each bonus's overhead: its frames/s
over the sparse baseline's in the same run.

Designs: ``sparse`` (no bonus), ``count`` (exact counts of the agent's
observation), ``simhash`` (SimHash counts), ``rnd``, ``rdd`` (own value
head, non-episodic) and ``e3b`` (episodic). Every bonus reads only the
agent's partial view.

Run: ``rewardkit bench explore-minigrid --jobs 2`` (``--quick``: DoorKey-5x5,
three designs, one seed).
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rewardkit.bench.runner import (
    RunFolder,
    environment,
    markdown_table,
    median_curve,
    pyplot,
    save_figure,
)

__all__ = ["DESIGNS", "TASKS", "main", "run_one"]

TASKS = ("MiniGrid-DoorKey-8x8-v0", "MiniGrid-KeyCorridorS3R3-v0", "MiniGrid-MultiRoom-N4-S5-v0")
DESIGNS = ("sparse", "count", "simhash", "rnd", "rdd", "e3b")


@dataclass(frozen=True)
class RunSpec:
    task: str
    design: str
    seed: int
    frames: int
    evals: int


def make_bonus(design: str, seed: int) -> tuple[Any, bool]:
    """(bonus term or None, whether it gets its own value head)."""
    from rewardkit.explore import CountBonus, E3BBonus, RDDBonus, RNDBonus, SimHashCountBonus

    if design == "sparse":
        return None, False
    if design == "count":
        return CountBonus(beta=0.005), False
    if design == "simhash":
        return SimHashCountBonus(beta=0.005, bits=32, seed=seed), False
    if design == "rnd":
        return RNDBonus(beta=1.0, learning_rate=1e-4, seed=seed), True
    if design == "rdd":
        return RDDBonus(beta=1.0, learning_rate=3e-4, seed=seed), True
    if design == "e3b":
        return E3BBonus(beta=0.01, ridge=0.1, projection_dim=32, seed=seed), False
    raise ValueError(f"unknown design {design!r}; choose from {DESIGNS}")


def run_one(spec: RunSpec) -> dict[str, Any]:
    """Train one design on one task; greedy evaluations at ``evals`` points."""
    import torch

    from rewardkit.train.ppo import PPOConfig, PPOTrainer

    torch.set_num_threads(1)
    bonus, own_head = make_bonus(spec.design, spec.seed)
    config = PPOConfig(env_id=spec.task, total_frames=spec.frames, seed=spec.seed)
    per_update = config.num_envs * config.num_steps
    updates = max(1, spec.frames // per_update)
    eval_every = max(1, updates // spec.evals)
    curve: list[dict[str, float]] = []
    trainer: PPOTrainer

    def progress(record: dict[str, float]) -> None:
        point = {
            "frames": record["frames"],
            "train_success": record["episode_success"],
            "fps": record["fps"],
        }
        if int(record["update"]) % eval_every == 0 or int(record["update"]) == updates:
            point["greedy_success"] = trainer.evaluate(episodes=10)
        curve.append(point)

    start = time.monotonic()
    trainer = PPOTrainer(config, bonus=bonus, intrinsic_head=own_head, progress=progress)
    trainer.train()
    evaluated = [p for p in curve if "greedy_success" in p]
    solved = next((p["frames"] for p in evaluated if p["greedy_success"] >= 0.9), None)
    return {
        "task": spec.task,
        "design": spec.design,
        "seed": spec.seed,
        "frames": spec.frames,
        "fps": curve[-1]["fps"] if curve else 0.0,
        "final_greedy_success": evaluated[-1]["greedy_success"] if evaluated else 0.0,
        "frames_to_0.9": solved,
        "curve": curve,
        "seconds": time.monotonic() - start,
    }


def _summary(runs: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, Any]]]:
    table: dict[str, dict[str, dict[str, Any]]] = {}
    for task in dict.fromkeys(r["task"] for r in runs):
        sparse_fps = [r["fps"] for r in runs if r["task"] == task and r["design"] == "sparse"]
        base_fps = statistics.median(sparse_fps) if sparse_fps else None
        for design in dict.fromkeys(r["design"] for r in runs if r["task"] == task):
            mine = [r for r in runs if r["task"] == task and r["design"] == design]
            solved = [r["frames_to_0.9"] for r in mine]
            # frames to success: median over seeds, a seed that never solves counting as infinite
            finite = sorted(s if s is not None else float("inf") for s in solved)
            median_solved = statistics.median(finite)
            fps = statistics.median(r["fps"] for r in mine)
            table.setdefault(task, {})[design] = {
                "frames_to_0.9": None if median_solved == float("inf") else median_solved,
                "seeds_solved": sum(s is not None for s in solved),
                "final_greedy_success": statistics.median(r["final_greedy_success"] for r in mine),
                "fps": fps,
                "fps_ratio_to_sparse": fps / base_fps if base_fps else None,
                "seeds": len(mine),
            }
    return table


def _plot(folder: RunFolder, runs: list[dict[str, Any]]) -> list[str]:
    plt = pyplot()
    if plt is None:
        return []
    names = []
    for task in dict.fromkeys(r["task"] for r in runs):
        fig, axis = plt.subplots(figsize=(6.5, 3.8))
        for design in dict.fromkeys(r["design"] for r in runs if r["task"] == task):
            mine = [r for r in runs if r["task"] == task and r["design"] == design]
            axis.plot(*median_curve(mine, "frames", "train_success"), label=design)
        axis.set_title(f"{task}: training success (median over seeds)")
        axis.set_xlabel("frames")
        axis.set_ylim(-0.02, 1.02)
        axis.legend(fontsize=8)
        names.append(save_figure(plt, fig, folder, f"{task}.png"))
    return names


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="rewardkit bench explore-minigrid", description=__doc__)
    parser.add_argument("--tasks", default=",".join(TASKS))
    parser.add_argument("--designs", default=",".join(DESIGNS))
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--frames", type=int, default=1_000_000)
    parser.add_argument("--evals", type=int, default=10, help="greedy evaluations per run")
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument(
        "--quick", action="store_true", help="DoorKey-5x5, sparse/count/rnd, one seed, 150k frames"
    )
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    if args.quick:
        tasks, designs, seeds, frames = (
            ["MiniGrid-DoorKey-5x5-v0"],
            ["sparse", "count", "rnd"],
            1,
            150_000,
        )
    else:
        tasks = [t.strip() for t in args.tasks.split(",") if t.strip()]
        designs = [d.strip() for d in args.designs.split(",") if d.strip()]
        seeds, frames = args.seeds, args.frames
    unknown = set(designs) - set(DESIGNS)
    if unknown:
        parser.error(f"unknown designs {sorted(unknown)}; choose from {list(DESIGNS)}")
    if "sparse" not in designs:
        designs = ["sparse", *designs]  # the overhead ratio needs the baseline in the same run
    specs = [
        RunSpec(t, d, s, frames, args.evals) for t in tasks for d in designs for s in range(seeds)
    ]
    folder = RunFolder.create("explore-minigrid", args.out)
    print(f"{len(specs)} runs of {frames:,} frames with {args.jobs} job(s)", flush=True)
    runs: list[dict[str, Any]] = []
    start = time.monotonic()
    with multiprocessing.get_context("spawn").Pool(args.jobs) as pool:
        for result in pool.imap_unordered(run_one, specs):
            runs.append(result)
            print(
                f"  [{len(runs)}/{len(specs)}] {result['task']} {result['design']} seed "
                f"{result['seed']}: greedy success {result['final_greedy_success']:.2f}, "
                f"frames to 0.9 {result['frames_to_0.9']}, {result['fps']:,.0f} frames/s "
                f"({time.monotonic() - start:,.0f}s)",
                flush=True,
            )
    runs.sort(key=lambda r: (r["task"], r["design"], r["seed"]))
    summary = _summary(runs)
    plots = _plot(folder, runs)
    command = "rewardkit bench explore-minigrid" + (
        " --quick"
        if args.quick
        else (
            f" --tasks {','.join(tasks)} --designs {','.join(designs)} --seeds {seeds} "
            f"--frames {frames} --jobs {args.jobs}"
        )
    )
    lines = [
        "# explore-minigrid",
        "",
        f"Regenerate: `{command}`",
        "",
        f"PPO (8 envs x 128 steps, MLP on the 7x7 view), {frames:,} frames per run, "
        f"{seeds} seed(s), greedy evaluation on 10 episodes at {args.evals} points; "
        "medians over seeds. fps ratio = design frames/s over sparse frames/s.",
        "",
    ]
    for task, designs_summary in summary.items():
        rows = []
        for design, s in designs_summary.items():
            solved = "never" if s["frames_to_0.9"] is None else f"{s['frames_to_0.9']:,.0f}"
            ratio = "" if s["fps_ratio_to_sparse"] is None else f"{s['fps_ratio_to_sparse']:.2f}"
            rows.append(
                [
                    design,
                    solved,
                    f"{s['seeds_solved']}/{s['seeds']}",
                    f"{s['final_greedy_success']:.2f}",
                    f"{s['fps']:,.0f}",
                    ratio,
                ]
            )
        lines += [
            f"## {task}",
            "",
            markdown_table(
                [
                    "design",
                    "frames to greedy success >= 0.9",
                    "seeds solved",
                    "final greedy success",
                    "frames/s",
                    "fps ratio",
                ],
                rows,
            ),
            "",
        ]
        if f"{task}.png" in plots:
            lines += [f"![{task}]({task}.png)", ""]
    report = "\n".join(lines) + "\n"
    folder.write_text("report.md", report)
    folder.write_json(
        "results.json",
        {
            "suite": "explore-minigrid",
            "command": command,
            "frames": frames,
            "seeds": seeds,
            "environment": environment(),
            "summary": summary,
            "runs": runs,
        },
    )
    print(report)
    print(f"wrote {folder.path}")
    return 0
