"""The ``explore-minigrid`` suite: exploration bonuses on sparse MiniGrid tasks with PPO.

Each design trains rewardkit's reference PPO on each task for each seed. At
``--evals`` points per run the policy, sampled as it is trained, plays 20
episodes on fresh layouts; success is the share that reaches the goal. The
report gives, per task and design, the frames needed to reach success 0.9
and the final success (medians over seeds; greedy success at the end too),
and each bonus's overhead: its training frames/s over the sparse baseline's
in the same run.

Designs (a table of reward specs in :mod:`rewardkit_bench.explore_designs`,
listed in the report): ``sparse``; non-episodic ``count``, ``simhash``,
``rnd`` and ``rdd`` (the last two with their own value head); episodic
``e3b`` and ``ecount``; and ``shaping``, potential-based with a hand-written
potential. Every design reads only the agent's partial view.

Run: ``rewardkit bench explore-minigrid --full --jobs 2`` (the published plan),
``--quick`` (DoorKey-5x5, three designs, one seed, about 2 minutes), or pick
``--tasks/--designs/--seeds/--frames``.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rewardkit_bench.explore_designs import (
    DESIGN_TABLE,
    DESIGNS,
    EVAL_EPISODES,
    GREEDY_EPISODES,
    PPO_SETTINGS,
    TASKS,
    make_terms,
)
from rewardkit_bench.explore_report import (
    best_designs,
    plot_tasks,
    render_report,
    sort_runs,
    summarize_runs,
)
from rewardkit_bench.runner import RunFolder, Suite, drive, environment

__all__ = ["FULL_PLAN", "ExploreMinigrid", "RunSpec", "main", "run_one"]

#: what ``--quick`` runs
QUICK: dict[str, Any] = {
    "tasks": ["MiniGrid-DoorKey-5x5-v0"],
    "designs": ["sparse", "count", "shaping"],
    "seeds": 1,
    "frames": 150_000,
}


@dataclass(frozen=True)
class RunSpec:
    """One unit of work: ``design`` trained on ``task`` for ``frames`` with ``seed``."""

    task: str
    design: str
    seed: int
    frames: int
    evals: int
    scale: float = 1.0
    network: str = "mlp"
    intrinsic_decay: bool = False
    intrinsic_episodic: bool = False


def run_one(spec: RunSpec) -> dict[str, Any]:
    """Train one design on one task; sampled-policy evaluations at ``evals`` points."""
    import torch

    from rewardkit.envs.minigrid import minigrid_env
    from rewardkit.train.ppo import PPOConfig, PPOTrainer

    torch.set_num_threads(1)
    reward, bonus = make_terms(spec.design, spec.seed)
    weight = spec.scale * PPOConfig.intrinsic_coef  # --scale: an ablation of PPO's default
    config = PPOConfig(
        env_id=spec.task, total_frames=spec.frames, seed=spec.seed, intrinsic_coef=weight,
        network=spec.network, intrinsic_decay=spec.intrinsic_decay,
        intrinsic_episodic=spec.intrinsic_episodic, **PPO_SETTINGS,
    )  # fmt: skip
    per_update = config.num_envs * config.num_steps
    updates = max(1, spec.frames // per_update)
    eval_every = max(1, updates // spec.evals)
    curve: list[dict[str, float]] = []
    evals: list[dict[str, float]] = []
    trainer: PPOTrainer

    def progress(record: dict[str, float]) -> None:
        curve.append(
            {
                "frames": record["frames"],
                "train_success": record["episode_success"],
                "fps": record["fps"],
            }
        )
        if int(record["update"]) % eval_every == 0 or int(record["update"]) == updates:
            success = trainer.evaluate(episodes=EVAL_EPISODES, greedy=False)
            evals.append({"frames": record["frames"], "success": success})

    start = time.monotonic()
    from rewardkit.train.drm import DormantPerturbation

    trainer = PPOTrainer(
        config,
        reward=reward,
        bonus=bonus,
        progress=progress,
        env_fn=minigrid_env(spec.task, view="scaled"),
        callbacks=[DormantPerturbation()] if DESIGN_TABLE[spec.design].drm else [],
    )
    trainer.train()
    solved = next((p["frames"] for p in evals if p["success"] >= 0.9), None)
    hook, seconds = trainer.log[-1]["hook_seconds"], trainer.log[-1]["train_seconds"]
    return {
        "task": spec.task,
        "design": spec.design,
        "seed": spec.seed,
        "frames": spec.frames,
        "scale": spec.scale,
        "network": spec.network,
        "intrinsic_decay": spec.intrinsic_decay,
        "intrinsic_episodic": spec.intrinsic_episodic,
        "fps": curve[-1]["fps"] if curve else 0.0,
        # frames/s with the bonus over frames/s of the same run without the time spent
        # scoring rollouts: the bonus's own cost, free of the episode-length effect
        "hook_ratio": (seconds - hook) / seconds if seconds > 0 else 1.0,
        "final_success": evals[-1]["success"] if evals else 0.0,
        "final_greedy_success": trainer.evaluate(episodes=GREEDY_EPISODES, greedy=True),
        "frames_to_0.9": solved,
        "evals": evals,
        "curve": curve[:: max(1, len(curve) // 200)],
        "seconds": time.monotonic() - start,
    }


#: the published plan (``--full``): every design on the first task, then sparse and the
#: best bonus there on each later task (frames per task). Sized for under two hours on
#: two cores with ``--jobs 2`` (the issue's limit).
FULL_PLAN: dict[str, Any] = {
    "first_tasks": {"MiniGrid-DoorKey-8x8-v0": 1_000_000},
    "first_designs": DESIGNS,
    "later_tasks": {
        "MiniGrid-KeyCorridorS3R3-v0": 3_000_000,
        "MiniGrid-MultiRoom-N4-S5-v0": 1_000_000,
        "MiniGrid-KeyCorridorS4R3-v0": 2_000_000,
    },
    "best": 1,
}


@dataclass(frozen=True)
class Settings:
    """Tasks, designs, seeds and frames per task, resolved from the options."""

    tasks: list[str]
    designs: list[str]
    seeds: int
    frames_of: dict[str, int]


def settings(args: argparse.Namespace) -> Settings:
    """What ``--quick``, ``--full`` or ``--tasks/--designs/--seeds/--frames`` ask for;
    sparse is always in (the overhead ratio needs the baseline in the same run)."""
    if args.quick:
        tasks, designs, seeds = QUICK["tasks"], QUICK["designs"], QUICK["seeds"]
        frames_of = dict.fromkeys(tasks, QUICK["frames"])
    elif args.full:
        tasks, designs = list(FULL_PLAN["first_tasks"]), list(FULL_PLAN["first_designs"])
        seeds, frames_of = args.seeds, dict(FULL_PLAN["first_tasks"])
    else:
        tasks, designs, seeds = _names(args.tasks), _names(args.designs), args.seeds
        frames_of = dict.fromkeys(tasks, args.frames)
    designs = designs if "sparse" in designs else ["sparse", *designs]
    return Settings(list(tasks), list(designs), seeds, frames_of)


def _names(option: str) -> list[str]:
    return [name.strip() for name in option.split(",") if name.strip()]


def _still_to_run(specs: list[RunSpec], runs: list[dict[str, Any]]) -> list[RunSpec]:
    done = {
        (r["task"], r["design"], r["seed"], r["frames"], r.get("scale", 1.0),
         r.get("network", "mlp"), r.get("intrinsic_decay", False),
         r.get("intrinsic_episodic", False))
        for r in runs
    }  # fmt: skip
    return [
        s for s in specs
        if (s.task, s.design, s.seed, s.frames, s.scale, s.network, s.intrinsic_decay,
            s.intrinsic_episodic) not in done
    ]  # fmt: skip


def _best_on_first_tasks(tasks: list[str], runs: list[dict[str, Any]]) -> list[str]:
    first = [r for r in runs if r["task"] in tasks]
    return best_designs(summarize_runs(sort_runs(first)), int(FULL_PLAN["best"]))


def _later_tasks_note(best: list[str]) -> list[str]:
    tasks = ", ".join(f"{t} ({f:,} frames)" for t, f in FULL_PLAN["later_tasks"].items())
    return [
        f"Later tasks, with sparse and the best bonus on the first ({', '.join(best)}): {tasks}.",
        "",
    ]


class ExploreMinigrid(Suite):
    """The suite: each (task, design, seed) is a unit; ``--full`` plans a second phase
    on the later tasks with the best bonus of the first."""

    name = "explore-minigrid"
    description = __doc__
    quick_help = "DoorKey-5x5, sparse/count/shaping, one seed, 150k frames"
    quick_sets = ("tasks", "designs", "seeds", "frames")
    options = ("seeds", "jobs", "resume", "rerender")

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--tasks", default=",".join(TASKS), help="MiniGrid env ids, comma-separated"
        )
        parser.add_argument(
            "--designs",
            default=",".join(DESIGNS),
            help="designs, comma-separated (sparse always runs)",
        )
        parser.add_argument("--frames", type=int, default=1_000_000, help="frames per run")
        parser.add_argument("--evals", type=int, default=10, help="evaluation points per run")
        parser.add_argument(
            "--scale",
            type=float,
            default=1.0,
            help="multiply PPO's intrinsic weight w (an ablation; a bonus's own beta cancels)",
        )
        parser.add_argument(
            "--network", choices=("mlp", "cnn"), default="mlp", help="PPO's network (an ablation)"
        )
        parser.add_argument(
            "--intrinsic-decay",
            action="store_true",
            help="fade the intrinsic weight with the success rate (an ablation)",
        )
        parser.add_argument(
            "--intrinsic-episodic",
            action="store_true",
            help="end the intrinsic return at episode ends (an ablation)",
        )
        parser.add_argument(
            "--full",
            action="store_true",
            help="the published plan: every design on DoorKey-8x8 (1M frames), then sparse and "
            "the best bonus on KeyCorridorS3R3 (3M), MultiRoom-N4-S5 (1M), KeyCorridorS4R3 (2M)",
        )

    def check(self, args: argparse.Namespace) -> str | None:
        if args.quick and args.full:
            return "--quick and --full cannot be combined"
        if min(args.frames, args.evals) < 1 or not args.scale > 0:
            return "--frames, --evals and --scale must be positive"
        unknown = set(settings(args).designs) - set(DESIGNS)
        return (
            f"unknown designs {sorted(unknown)}; choose from {list(DESIGNS)}" if unknown else None
        )

    def command(self, args: argparse.Namespace) -> str:
        command = f"rewardkit bench {self.name}"
        scale = f" --scale {args.scale:g}" if args.scale != 1.0 else ""
        scale += f" --network {args.network}" if args.network != "mlp" else ""
        scale += " --intrinsic-decay" if args.intrinsic_decay else ""
        scale += " --intrinsic-episodic" if args.intrinsic_episodic else ""
        if args.quick:
            return command + " --quick"
        if args.full:
            return command + f" --full --seeds {args.seeds} --jobs {args.jobs}" + scale
        return (
            command + f" --tasks {','.join(_names(args.tasks))} --designs "
            f"{','.join(_names(args.designs))} --seeds {args.seeds} --frames {args.frames} "
            f"--jobs {args.jobs}" + scale
        )

    def plan(self, args: argparse.Namespace, runs: list[dict[str, Any]]) -> list[RunSpec]:
        plan = settings(args)
        first = [
            RunSpec(
                t,
                d,
                s,
                plan.frames_of[t],
                args.evals,
                args.scale,
                args.network,
                args.intrinsic_decay,
                args.intrinsic_episodic,
            )
            for t in plan.tasks
            for d in plan.designs
            for s in range(plan.seeds)
        ]
        todo = _still_to_run(first, runs)
        if todo:
            print(", ".join(f"{t}: {f:,} frames" for t, f in plan.frames_of.items()), flush=True)
        if todo or not args.full:
            return todo
        best = _best_on_first_tasks(plan.tasks, runs)
        later = [
            RunSpec(
                task,
                d,
                s,
                frames,
                args.evals,
                args.scale,
                args.network,
                args.intrinsic_decay,
                args.intrinsic_episodic,
            )
            for task, frames in FULL_PLAN["later_tasks"].items()
            for d in ["sparse", *best]
            for s in range(plan.seeds)
        ]
        todo = _still_to_run(later, runs)
        if todo:
            print(f"best on {', '.join(plan.tasks)}: {best}; now the later tasks", flush=True)
        return sorted(todo, key=lambda spec: -spec.frames)  # the longest runs first

    def run_unit(self, unit: RunSpec) -> dict[str, Any]:
        return run_one(unit)

    def describe(self, run: dict[str, Any]) -> str:
        solved = "never" if run["frames_to_0.9"] is None else f"{run['frames_to_0.9']:,.0f}"
        return (
            f"{run['task']} {run['design']} seed {run['seed']}: success "
            f"{run['final_success']:.2f} (greedy {run['final_greedy_success']:.2f}), frames to "
            f"0.9 {solved}, {run['fps']:,.0f} frames/s"
        )

    def record(self, args: argparse.Namespace, runs: list[dict[str, Any]]) -> dict[str, Any]:
        plan = settings(args)
        notes: list[str] = []
        if args.scale != 1.0:
            notes = [
                f"PPO's intrinsic weight is multiplied by {args.scale:g} (shaping unchanged).",
                "",
            ]
        if args.network != "mlp" or args.intrinsic_decay or args.intrinsic_episodic:
            notes += [
                f"Ablation: PPO network {args.network}"
                + (", intrinsic weight faded by the success rate" if args.intrinsic_decay else "")
                + (", intrinsic return ended at episode ends" if args.intrinsic_episodic else "")
                + ".",
                "",
            ]
        if args.full:
            best = _best_on_first_tasks(plan.tasks, runs)
            notes += _later_tasks_note(best)
        return {
            "seeds": plan.seeds,
            "evals": args.evals,
            "scale": args.scale,
            "network": args.network,
            "intrinsic_decay": args.intrinsic_decay,
            "intrinsic_episodic": args.intrinsic_episodic,
            "notes": notes,
            "ppo": PPO_SETTINGS,
            "environment": environment(),
            "runs": runs,
        }

    def summarize(self, results: dict[str, Any]) -> dict[str, Any]:
        runs = sort_runs(results["runs"])
        return {"runs": runs, "summary": summarize_runs(runs)}

    def plot(self, folder: RunFolder, results: dict[str, Any]) -> list[str]:
        return plot_tasks(folder, results["runs"])

    def report(self, results: dict[str, Any], plots: list[str]) -> str:
        return render_report(results, plots)


def main(argv: Sequence[str] | None = None) -> int:
    """``rewardkit bench explore-minigrid``: see the module docs."""
    return drive(ExploreMinigrid(), argv)
