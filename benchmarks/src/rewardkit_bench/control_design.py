"""``rewardkit bench control-design``: reward design for control, each paper's claim on a
standard task with shipped defaults.

- **PPO throughput** (:mod:`rewardkit_bench.ppo_throughput`): rewardkit's PPO against
  Stable-Baselines3's with the same settings on MiniGrid DoorKey-8x8 (fast view), and
  against the vector env alone; one unit, run before the others so nothing shares the
  cores with it.
- **BARFI-style blend learning** (:mod:`rewardkit_bench.control_barfi`): the primary
  reward alone, a fixed blend with a helpful and a misspecified (loitering) heuristic,
  and the blend BARFI-style learning tunes, on the reward-hacking suite's grid and on
  ``FrozenLake-v1`` as shipped.
- **MOREC-style dynamics reward** (:mod:`rewardkit_bench.control_morec`): offline data
  from CartPole-v1 and Pendulum-v1, a model ensemble's rollouts with and without the
  learned dynamics reward's filter.
- **TAXONS / SERENE / STAX-style quality diversity** (:mod:`rewardkit_bench.control_qd`):
  the deceptive maze of ``novelty-maze`` with the rendered maze as the behaviour
  observation: novelty search on the hand-made descriptor, on an autoencoder's latent,
  with emitters, and the objective alone.
- **CaRL's minibatch scaling** (:mod:`rewardkit_bench.control_carl`): LunarLander-v3's
  shipped summed reward against a CaRL-style progress-times-penalty-factors reward, PPO
  at minibatches of 256 and 1,024, both scored on the shipped task.
- **Exploitation-only meta-RL** (:mod:`rewardkit_bench.control_meta`): a GRU policy
  trained on reward alone on a 3-arm bandit, with the task recurring or not, with and
  without memory and long-horizon credit, against Thompson sampling.

DrM-style perturbation and the TopoNav-style bonus run on MiniGrid in
``explore-minigrid`` (designs ``drm`` and ``toponav``), beside the other bonuses.

Figures are medians over seeds. ``--quick``: one seed, short runs, no throughput repeats.

Run: ``rewardkit bench control-design --seeds 3 --jobs 2``.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any, ClassVar

from rewardkit_bench.control_design_report import (
    CARL_RUNS,
    META_DESIGNS,
    MOREC_ENVS,
    QD_DESIGNS,
    report_sections,
    summarize_parts,
)
from rewardkit_bench.runner import Suite, drive, environment, markdown_table

__all__ = ["ControlDesign", "main"]

PARTS = ("throughput", "barfi", "morec", "qd", "meta", "carl")


def _key(run: dict[str, Any]) -> tuple[Any, ...]:
    return (run["part"], run.get("env") or run.get("design"), run.get("seed"))


class ControlDesign(Suite):
    """The control-design suite (see the module docs)."""

    name: ClassVar[str] = "control-design"
    description: ClassVar[str | None] = __doc__
    quick_help: ClassVar[str] = "one seed, short runs, one throughput repeat"
    quick_sets: ClassVar[tuple[str, ...]] = ("seeds", "parts")
    options: ClassVar[tuple[str, ...]] = ("seeds", "jobs", "resume", "rerender")

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--parts", default=",".join(PARTS), help=f"comma-separated, of {', '.join(PARTS)}"
        )

    def _parts(self, args: argparse.Namespace) -> list[str]:
        return [p for p in args.parts.split(",") if p]

    def check(self, args: argparse.Namespace) -> str | None:
        wrong = set(self._parts(args)) - set(PARTS)
        return f"unknown parts {sorted(wrong)}; choose from {list(PARTS)}" if wrong else None

    def command(self, args: argparse.Namespace) -> str:
        if args.quick:
            return f"rewardkit bench {self.name} --quick"
        parts = "" if args.parts == ",".join(PARTS) else f" --parts {args.parts}"
        return f"rewardkit bench {self.name} --seeds {args.seeds} --jobs {args.jobs}{parts}"

    def plan(self, args: argparse.Namespace, runs: list[dict[str, Any]]) -> list[Any]:
        parts = self._parts(args)
        seeds = 1 if args.quick else args.seeds
        done = {_key(r) for r in runs}
        if "throughput" in parts and ("throughput", None, None) not in done:
            return [("throughput", None, None, args.quick)]  # alone: nothing shares the cores
        units: list[Any] = []
        for seed in range(seeds):
            if "barfi" in parts and ("barfi", None, seed) not in done:
                units.append(("barfi", None, seed, args.quick))
            if "morec" in parts:
                units += [("morec", env, seed, args.quick) for env in MOREC_ENVS
                          if ("morec", env, seed) not in done]  # fmt: skip
            if "qd" in parts:
                units += [("qd", design, seed, args.quick) for design in QD_DESIGNS
                          if ("qd", design, seed) not in done]  # fmt: skip
            if "meta" in parts:
                units += [("meta", design, seed, args.quick) for design in META_DESIGNS
                          if ("meta", design, seed) not in done]  # fmt: skip
            if "carl" in parts:
                units += [("carl", name, seed, args.quick) for name in CARL_RUNS
                          if ("carl", name, seed) not in done]  # fmt: skip
        return units

    def run_unit(self, unit: Any) -> dict[str, Any]:
        part, name, seed, quick = unit
        if part == "throughput":
            from rewardkit_bench.ppo_throughput import measure

            frames, repeats = (16_384, 1) if quick else (65_536, 3)
            return {"part": part} | measure(frames=frames, repeats=repeats)
        if part == "barfi":
            from rewardkit_bench.control_barfi import run_barfi

            return {"part": part, "seed": seed} | run_barfi(seed, quick=quick)
        if part == "morec":
            from rewardkit_bench.control_morec import run_morec

            return {"part": part, "env": name, "seed": seed} | run_morec(name, seed, quick=quick)
        if part == "carl":
            from rewardkit_bench.control_carl import run_carl

            design, minibatches = name.split("/")
            found = run_carl(design, int(minibatches), seed, quick=quick)
            return {"part": part} | found | {"reward_design": design, "design": name}
        if part == "meta":
            from rewardkit_bench.control_meta import run_meta

            return {"part": part} | run_meta(name, seed, quick=quick)
        from rewardkit_bench.control_qd import run_qd

        return {"part": part, "design": name, "seed": seed} | run_qd(name, seed, quick=quick)

    def describe(self, run: dict[str, Any]) -> str | None:
        if run["part"] == "throughput":
            from rewardkit_bench.ppo_throughput import rates

            return rates(run)
        what = run.get("env") or run.get("design") or ""
        seconds = run.get("seconds", 0)
        if isinstance(seconds, dict):  # MOREC's: per phase, with the total
            seconds = seconds.get("total", 0)
        return f"{run['part']} {what} seed {run['seed']} ({seconds:.0f}s)".replace("  ", " ")

    def record(self, args: argparse.Namespace, runs: list[dict[str, Any]]) -> dict[str, Any]:
        return {"seeds": 1 if args.quick else args.seeds, "quick": args.quick,
                "parts": self._parts(args), "environment": environment(),
                "runs": sorted(runs, key=lambda r: tuple(map(str, _key(r))))}  # fmt: skip

    def summarize(self, results: dict[str, Any]) -> dict[str, Any]:
        runs = results["runs"]
        return {"summary": summarize_parts(runs)}

    def report(self, results: dict[str, Any], plots: list[str]) -> str:
        summary = results["summary"]
        lines = [f"# {self.name}", "", f"Regenerate: `{results['command']}`", ""]
        claims: list[list[str]] = []
        if summary.get("throughput"):
            from rewardkit_bench.ppo_throughput import report_lines

            t = summary["throughput"]
            lines += ["## PPO throughput against Stable-Baselines3", "",
                      "One thread, same env factory, rollout shape, network and PPO settings "
                      "(`rewardkit_bench.ppo_throughput`); medians over "
                      f"{t['repeats']} repeats, each timing the three in turn.", "",
                      *[f"- {line}" for line in report_lines(t)], ""]  # fmt: skip
            sb3, env = t["vs_sb3"], t["vs_env"]
            claims.append(["PPO at least twice SB3's frames/s (the issue's target)",
                           f"x{sb3:.2f}", "met" if sb3 >= 2 else "missed"])  # fmt: skip
            claims.append(["PPO at least 50 % of the vector env's rate",
                           f"{100 * env:.0f} %", "met" if env >= 0.5 else "missed"])  # fmt: skip
        sections, part_claims = report_sections(summary)
        lines += sections
        claims += part_claims
        if claims:
            lines += ["## Claims", "",
                      markdown_table(["claim", "measured", "verdict"], claims), ""]  # fmt: skip
        return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    return drive(ControlDesign(), argv)


if __name__ == "__main__":
    raise SystemExit(main())
