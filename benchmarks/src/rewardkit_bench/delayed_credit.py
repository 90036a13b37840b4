"""The ``delayed-credit`` suite: PPO under a delayed reward, with and without redistribution.

Tasks: CartPole-v1 (150k frames), Acrobot-v1 (200k frames) and
LunarLander-v3 (500k frames; box2d installs from the registries) from
Gymnasium. Designs, each trained by the reference PPO (``rewardkit.train.ppo``)
with its shipped defaults:

- ``immediate``: the environment's own per-step reward (the upper bound);
- ``delayed``: :class:`~rewardkit.adapters.gymnasium.DelayedReward`, the
  episode's return paid at its last step, nothing before;
- ``rudder``, ``lare``, ``progress``: the delayed reward redistributed online
  by :class:`~rewardkit.credit.delayed.OnlineRedistribution` (RUDDER's return
  predictor; LaRe's decoder over a hand-written encoder of task factors, where
  the paper has an LLM write it; SPA's progress increments over observation and
  action, without SPA's grounding reward and history-aware estimator).

A caveat on the test beds: CartPole pays +1 and Acrobot −1 per step, so a
constant per-step reward is an exact decomposition of their delayed returns.
These two test whether a method recovers learning under delay, not whether
it tells good steps from bad ones. LunarLander's step rewards vary (shaping
by distance, speed and tilt, leg contact, fuel, ±100 at the end), so there a
redistribution must tell them apart. At 500k frames PPO with the shipped
defaults does not solve it (a return near 0, not 200): it is a test of
learning speed under delay.

Per run: the episode return against frames (PPO's log), the final return
(the mean of the last 3 logged returns) and frames/s. Per task: the frames at
which a design's return (a 3-point moving average) first reaches 90 % of the
way from the first logged return to the immediate design's final return,
and the share of the delayed-to-immediate gap in final return that each
redistribution closes. Medians over seeds.

Run: ``rewardkit bench delayed-credit --jobs 2`` (``--quick``: one seed, fewer frames).
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from rewardkit_bench.rm_claims import median
from rewardkit_bench.runner import (
    RunFolder,
    Suite,
    claim_lines,
    drive,
    environment,
    markdown_table,
    pyplot,
    reach_text,
    save_figure,
)

__all__ = ["DelayedCredit", "DelayedSettings", "main", "median_to_reach", "ppo_curve", "run_design"]

TASKS = {"CartPole-v1": 150_000, "Acrobot-v1": 200_000, "LunarLander-v3": 500_000}
QUICK_FRAMES = {"CartPole-v1": 40_000, "Acrobot-v1": 60_000, "LunarLander-v3": 100_000}
DESIGNS = ("immediate", "delayed", "rudder", "lare", "progress")
REDISTRIBUTIONS = ("rudder", "lare", "progress")
#: the share of the way to the immediate design's final return that counts as reached
REACHED = 0.9
#: the claim's bar: a redistribution closes at least this share of the delayed-to-immediate gap
GAP_CLOSED = 0.5


def cartpole_factors(observation: Any, action: Any) -> list[float]:
    """A hand-written LaRe encoder for CartPole: how far the pole and cart are from upright
    and centred (|angle|, |angular velocity|, |position|, |velocity|)."""
    return [abs(float(observation[2])), abs(float(observation[3])),
            abs(float(observation[0])), abs(float(observation[1]))]  # fmt: skip


def acrobot_factors(observation: Any, action: Any) -> list[float]:
    """A hand-written LaRe encoder for Acrobot: the tip's height −cos θ1 − cos(θ1 + θ2), and
    the joints' speeds."""
    c1, s1, c2, s2 = (float(v) for v in observation[:4])
    return [-c1 - (c1 * c2 - s1 * s2), abs(float(observation[4])), abs(float(observation[5]))]


def lunar_lander_factors(observation: Any, action: Any) -> list[float]:
    """A hand-written LaRe encoder for LunarLander: the distance to the pad, the speed, the
    tilt, each leg's contact, and whether the main or a side engine fires (fuel)."""
    x, y, vx, vy, angle = (float(v) for v in observation[:5])
    legs = [float(observation[6]), float(observation[7])]
    engines = [float(int(action) == 2), float(int(action) in (1, 3))]
    return [math.hypot(x, y), math.hypot(vx, vy), abs(angle), *legs, *engines]


ENCODERS: dict[str, tuple[Callable[[Any, Any], list[float]], int]] = {
    "CartPole-v1": (cartpole_factors, 4),
    "Acrobot-v1": (acrobot_factors, 3),
    "LunarLander-v3": (lunar_lander_factors, 7),
}


@dataclass(frozen=True)
class DelayedSettings:
    """What a run of the suite depends on."""

    frames: tuple[tuple[str, int], ...] = tuple(TASKS.items())


def ppo_curve(log: Sequence[dict[str, Any]]) -> tuple[list[tuple[float, float]], float]:
    """PPO's (frames, episode return) points, where an episode has ended, and the final
    return: the mean of the last 3 (NaN with none).

    Example:
        >>> ppo_curve([{"frames": 8, "episodes": 0}, {"frames": 16, "episodes": 1,
        ...            "episode_return": 2.0}])
        ([(16.0, 2.0)], 2.0)
    """
    curve = [
        (float(r["frames"]), float(r["episode_return"])) for r in log if r.get("episodes", 0) > 0
    ]  # fmt: skip (no return before one ends)
    final = float(np.mean([r for _, r in curve[-3:]])) if curve else math.nan
    return curve, final


def run_design(unit: tuple[str, int, str, int]) -> dict[str, Any]:
    """One PPO run: ``design`` on ``task`` for ``frames`` frames with ``seed``."""
    import gymnasium as gym
    import torch

    from rewardkit.adapters.gymnasium import DelayedReward
    from rewardkit.credit.delayed import OnlineRedistribution
    from rewardkit.train.ppo import PPOConfig, PPOTrainer

    torch.set_num_threads(1)
    task, frames, design, seed = unit
    probe = gym.make(task)
    obs_dim, actions = int(probe.observation_space.shape[0]), int(probe.action_space.n)
    term = None
    if design in REDISTRIBUTIONS:
        encoder, encoder_dim = ENCODERS[task] if design == "lare" else (None, None)
        term = OnlineRedistribution(design, obs_dim, actions, encoder=encoder,  # type: ignore[arg-type]
                                    encoder_dim=encoder_dim, seed=seed)  # fmt: skip

    def env_fn() -> Any:
        return gym.make(task) if design == "immediate" else DelayedReward(gym.make(task))

    start = time.monotonic()
    config = PPOConfig(env_id=task, total_frames=frames, seed=seed)
    log = PPOTrainer(config, reward=term, env_fn=env_fn).train()
    seconds = time.monotonic() - start
    curve, final = ppo_curve(log)
    return {"task": task, "design": design, "seed": seed, "curve": curve, "final": final,
            "fps": frames / seconds, "seconds": seconds}  # fmt: skip


def _smoothed(curve: Sequence[Sequence[float]]) -> list[tuple[float, float]]:
    returns = [r for _, r in curve]
    return [(f, float(np.mean(returns[max(0, i - 2) : i + 1])))
            for i, (f, _) in enumerate(curve)]  # fmt: skip


def frames_to_reach(curve: Sequence[Sequence[float]], threshold: float) -> float:
    """The first frame at which the 3-point moving average of returns reaches ``threshold``
    (NaN if it never does).

    Example:
        >>> frames_to_reach([(10, 0.0), (20, 3.0), (30, 9.0), (40, 9.0)], 5.0)
        40.0
    """
    for frames, value in _smoothed(curve):
        if value >= threshold:
            return float(frames)
    return math.nan


def median_to_reach(reached: Sequence[float]) -> float:
    """The median over seeds of the frames (or episodes) each took to reach a target, a seed
    that never did counting as infinitely many; NaN when that median is infinite.

    Example:
        >>> median_to_reach([11_200.0, 14_400.0, math.nan])
        14400.0
        >>> median_to_reach([1.0, math.nan, math.nan])
        nan
    """
    values = sorted(math.inf if math.isnan(f) else f for f in reached)
    if not values:
        return math.nan
    middle = len(values) // 2
    value = values[middle] if len(values) % 2 else (values[middle - 1] + values[middle]) / 2
    return value if math.isfinite(value) else math.nan


def _summarize_task(runs: list[dict[str, Any]]) -> dict[str, Any]:
    by_design = {d: [r for r in runs if r["design"] == d] for d in DESIGNS}
    final = {d: median([r["final"] for r in rs]) for d, rs in by_design.items() if rs}
    if "immediate" not in final or "delayed" not in final:
        raise ValueError("the summary needs the immediate and delayed designs' runs")
    start = median([r["curve"][0][1] for r in runs if r["curve"]])
    target = start + REACHED * (final["immediate"] - start)
    rows: dict[str, Any] = {}
    for design, design_runs in by_design.items():
        if not design_runs:
            continue
        reached = [frames_to_reach(r["curve"], target) for r in design_runs]
        finite = [f for f in reached if math.isfinite(f)]
        gap = final["immediate"] - final["delayed"]
        rows[design] = {
            "final": final[design],
            "finals": [round(r["final"], 1) for r in sorted(design_runs, key=lambda r: r["seed"])],
            "seeds_above_delayed": sum(r["final"] > final["delayed"] for r in design_runs),
            "frames_to_target": median_to_reach(reached),
            "reached": f"{len(finite)}/{len(reached)}",
            "gap_closed": (final[design] - final["delayed"]) / gap if gap > 0 else math.nan,
            "fps": median([r["fps"] for r in design_runs]),
        }
    return {"start": start, "target": target, "designs": rows}


class DelayedCredit(Suite):
    """The delayed-credit suite (see the module docs)."""

    name = "delayed-credit"
    description = __doc__
    quick_help = "one seed, 40k/60k/100k frames"
    quick_sets = ("seeds",)
    options = ("seeds", "jobs", "resume", "rerender")

    def settings(self, args: argparse.Namespace) -> DelayedSettings:
        return DelayedSettings(tuple(QUICK_FRAMES.items()) if args.quick else tuple(TASKS.items()))

    def command(self, args: argparse.Namespace) -> str:
        return "rewardkit bench delayed-credit" + (
            " --quick" if args.quick else f" --jobs {args.jobs}"
        )

    def plan(self, args: argparse.Namespace, runs: list[dict[str, Any]]) -> list[Any]:
        seeds = 1 if args.quick else args.seeds
        done = {(r["task"], r["design"], r["seed"]) for r in runs}
        return [(task, frames, design, seed) for task, frames in self.settings(args).frames
                for seed in range(seeds) for design in DESIGNS
                if (task, design, seed) not in done]  # fmt: skip

    def run_unit(self, unit: Any) -> dict[str, Any]:
        return run_design(unit)

    def describe(self, run: dict[str, Any]) -> str:
        return (f"{run['task']} {run['design']} seed {run['seed']}: final return "
                f"{run['final']:.1f}, {run['fps']:.0f} frames/s")  # fmt: skip

    def record(self, args: argparse.Namespace, runs: list[dict[str, Any]]) -> dict[str, Any]:
        return {"settings": asdict(self.settings(args)), "environment": environment(),
                "runs": runs}  # fmt: skip

    def summarize(self, results: dict[str, Any]) -> dict[str, Any]:
        tasks = list(dict.fromkeys(r["task"] for r in results["runs"]))
        summary = {t: _summarize_task([r for r in results["runs"] if r["task"] == t])
                   for t in tasks}  # fmt: skip
        claims: dict[str, dict[str, Any]] = {}
        for design in REDISTRIBUTIONS:  # one method must pass on every task
            closed = {t: s["designs"][design]["gap_closed"] for t, s in summary.items()
                      if design in s["designs"]}  # fmt: skip
            claims[f"{design} recovers most of the immediate reward's learning under delay on "
                   f"every task (closes >= {GAP_CLOSED:.0%} of the final-return gap)"] = {
                "met": bool(closed) and all(v >= GAP_CLOSED for v in closed.values()),
                "detail": "; ".join(
                    f"{task}: {v:.0%} (final returns by seed {s['designs'][design]['finals']}, "
                    f"immediate {s['designs']['immediate']['final']:.1f}, delayed "
                    f"{s['designs']['delayed']['final']:.1f}; above delayed in "
                    f"{s['designs'][design]['seeds_above_delayed']} seed(s); frames to "
                    f"{REACHED:.0%} of the immediate gain "
                    f"{reach_text(s['designs'][design]['frames_to_target'])} vs "
                    f"{reach_text(s['designs']['immediate']['frames_to_target'])})"
                    for task, s in summary.items() for v in [closed.get(task, math.nan)]),
            }  # fmt: skip
        return {"tasks": summary, "claims": claims}

    def plot(self, folder: RunFolder, results: dict[str, Any]) -> list[str]:
        plt = pyplot()
        if plt is None:
            return []
        tasks = list(results["tasks"])
        fig, axes = plt.subplots(1, len(tasks), figsize=(6 * len(tasks), 4), squeeze=False)
        for axis, task in zip(axes[0], tasks, strict=True):
            for design in DESIGNS:
                runs = [r for r in results["runs"] if r["task"] == task and r["design"] == design]
                if not runs:
                    continue
                length = min(len(r["curve"]) for r in runs)
                frames = [median([r["curve"][i][0] for r in runs]) for i in range(length)]
                values = [median([r["curve"][i][1] for r in runs]) for i in range(length)]
                axis.plot(frames, values, label=design)
            axis.set_title(f"{task}: episode return (median over seeds)")
            axis.set_xlabel("frames")
            axis.legend(fontsize=8)
        fig.tight_layout()
        return [save_figure(plt, fig, folder, "delayed.png")]

    def report(self, results: dict[str, Any], plots: list[str]) -> str:
        lines = ["# delayed-credit", "",
                 f"Regenerate: `{results['command']}` ({results.get('seconds', 0) / 60:.1f} min)",
                 "", "PPO (`rewardkit.train.ppo`, shipped defaults) under a delayed reward; "
                 "medians over seeds. Frames to target: the first frame at which the 3-point "
                 f"moving average of returns is {REACHED:.0%} of the way from the first logged "
                 "return to the immediate design's final return (– where most seeds never get "
                 "there). Gap closed: (final - delayed's final) / "
                 "(immediate's - delayed's). CartPole pays +1 and Acrobot -1 per step, so a "
                 "constant step reward decomposes their delayed returns exactly: these two test "
                 "recovery under delay, not telling good steps from bad. LunarLander's step "
                 "rewards vary, and PPO does not solve it in this budget.", ""]  # fmt: skip
        header = ["design", "final return", "by seed", "frames to target", "reached",
                  "gap closed", "frames/s"]  # fmt: skip
        for task, summary in results["tasks"].items():
            rows = [[d, f"{v['final']:.1f}", str(v["finals"]),
                     "–" if math.isnan(v["frames_to_target"]) else f"{v['frames_to_target']:,.0f}",
                     v["reached"], "–" if math.isnan(v["gap_closed"]) else f"{v['gap_closed']:.0%}",
                     f"{v['fps']:,.0f}"] for d, v in summary["designs"].items()]  # fmt: skip
            lines += [f"## {task}", "", f"target return {summary['target']:.1f} (start "
                      f"{summary['start']:.1f})", "", markdown_table(header, rows), ""]  # fmt: skip
        if "delayed.png" in plots:
            lines += ["![delayed](delayed.png)", ""]
        lines += ["## Claims", ""]
        lines += claim_lines(results["claims"])
        return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """``rewardkit bench delayed-credit``: see the module docs."""
    return drive(DelayedCredit(), argv)
