"""The ``multiturn-credit`` suite: outcome-only GRPO against turn-level rewards, multi-turn.

Task: the higher/lower guessing game (:mod:`rewardkit_bench.tasks.guessing`), a
secret in 1..31, four guesses, then the answer: five model turns, the
environment's reply between them. The policy is the lab's tiny character-level
GPT-2 (2 layers, 64 wide), warm-started by supervised learning on a
demonstrator that guesses at random inside the interval still consistent with
the replies (it wins 55 % of games; binary search wins all). The warm start
is trained once and cached in ``runs/multiturn-credit-cache``.

Designs, each trained by the lab's GRPO trainer (``rewardkit.train.grpo``)
from the same warm start, with the same samples (steps × prompts × group):

- ``outcome``: GRPO on the outcome (1 when the answer is the secret),
  the same advantage on every model token;
- ``igpo``: IGPO's turn rewards (the gain in the policy's probability of the
  secret, the geometric mean of its tokens' probabilities after the answer
  cue, over each guess; the outcome for the answer turn), normalized over the
  group's turns and summed over later turns (γ = 1);
- ``igpo_log``: the same with the gain in log-probability;
- ``progress``: turn rewards from a progress estimator over the policy's
  hidden state at each turn's end, trained online so an episode's increments
  sum to its outcome (SPA's progress attribution without its grounding
  reward, so not called SPA); the same turn advantages.

Every design runs at two learning rates (5e-4 and 1e-3: at 1e-3 outcome-only
GRPO can collapse); the claims compare each design at its best one.

Per run, every ``eval_every`` steps: the sampled accuracy (temperature 1, 20
games per secret, a fixed evaluation seed) and the greedy accuracy (one game
per secret), against the episodes trained on; the final accuracy is the mean
of the last three evaluations. Per design and learning rate, medians over
seeds: final accuracy, the seeds that end below the warm start, the mean over
the curve (sample efficiency), the episodes to 90 % of the way from the warm
start's accuracy to outcome-only's best final one, and the seconds per
training step.

Run: ``rewardkit bench multiturn-credit --jobs 2`` (``--quick``: one seed, a
shorter warm start and fewer steps).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import random
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rewardkit_bench.delayed_credit import frames_to_reach, median_to_reach
from rewardkit_bench.rm_claims import median
from rewardkit_bench.runner import (
    RunFolder,
    Suite,
    beyond_noise,
    claim_lines,
    drive,
    environment,
    markdown_table,
    median_curve,
    pyplot,
    reach_text,
    save_figure,
)

__all__ = ["DESIGNS", "MultiturnCredit", "MultiturnSettings", "main", "run_design"]

DESIGNS = ("outcome", "igpo", "igpo_log", "progress")
TURN_DESIGNS = ("igpo", "igpo_log", "progress")
#: the share of the way to outcome-only's final accuracy that counts as reached
REACHED = 0.9
CACHE = Path("runs/multiturn-credit-cache")
#: bumped when the demonstrator or the warm start's training changes (a new cache key)
DEMONSTRATOR_VERSION = 1


@dataclass(frozen=True)
class MultiturnSettings:
    """What a run of the suite depends on: the game, the warm start and GRPO."""

    low: int = 1
    high: int = 31
    guesses: int = 4
    n_layer: int = 2
    n_embd: int = 64
    n_head: int = 4
    sft_steps: int = 2000
    sft_batch: int = 64
    #: the share of demonstrations with fewer guesses (the model learns to answer early too)
    short_share: float = 0.3
    warm_seed: int = 1234
    steps: int = 300
    prompts_per_step: int = 8
    group_size: int = 8
    #: every design runs at each; the claims compare each design at its best
    learning_rates: tuple[float, ...] = (5e-4, 1e-3)
    eval_every: int = 25
    eval_samples: int = 20

    def warm_key(self) -> str:
        fields = {k: v for k, v in asdict(self).items() if k not in _RL_FIELDS}
        fields["demonstrator"] = DEMONSTRATOR_VERSION
        return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:12]


_RL_FIELDS = ("steps", "prompts_per_step", "group_size", "learning_rates", "eval_every",
              "eval_samples")  # fmt: skip
QUICK = MultiturnSettings(sft_steps=1500, steps=100, eval_samples=10, learning_rates=(1e-3,))
#: the final accuracy is the mean of this many last evaluations
FINAL_POINTS = 3


def _game(settings: MultiturnSettings) -> Any:
    from rewardkit_bench.tasks.guessing import GuessingGame

    return GuessingGame(settings.low, settings.high, settings.guesses)


def warm_start(settings: MultiturnSettings, cache: Path | None = None) -> tuple[Any, Any]:
    """The tiny policy after supervised learning on the demonstrator; trained once, cached."""
    from rewardkit.models.tiny import build_char_tokenizer, build_tiny_gpt2
    from rewardkit.train.sft import SequenceBatch, fit_sequences
    from rewardkit_bench.tasks.guessing import GUESSING_ALPHABET, demonstration_ids
    from rewardkit_bench.warmstart import cached_weights

    tokenizer = build_char_tokenizer(GUESSING_ALPHABET)
    model = build_tiny_gpt2(tokenizer, settings.n_layer, settings.n_embd, settings.n_head,
                            n_positions=64, seed=settings.warm_seed)  # fmt: skip
    path = (cache or CACHE) / f"warmstart-{settings.warm_key()}.pt"
    game = _game(settings)

    def sample_batch(rng: random.Random) -> SequenceBatch:
        batch = []
        for _ in range(settings.sft_batch):
            secret = rng.randint(game.low, game.high)
            short = rng.random() < settings.short_share
            guesses = rng.randint(0, game.guesses - 1) if short else game.guesses
            batch.append(demonstration_ids(game, tokenizer, secret, rng, guesses))
        return batch

    def fit(model: Any) -> None:
        print(f"warm start: {settings.sft_steps} supervised steps (about "
              f"{settings.sft_steps * 0.05:.0f} s), cached in {path}", flush=True)  # fmt: skip
        fit_sequences(model, tokenizer, sample_batch, settings.sft_steps, seed=settings.warm_seed)

    return cached_weights(path, model, fit), tokenizer


def _evaluate(model: Any, tokenizer: Any, settings: MultiturnSettings) -> tuple[float, float]:
    """(sampled accuracy over ``eval_samples`` games per secret, greedy accuracy), with the
    sampling seeded apart from training's."""
    import torch

    from rewardkit.train.multiturn import evaluate_episodes
    from rewardkit_bench.tasks.guessing import GuessOutcome

    game, outcome = _game(settings), GuessOutcome()
    rows = game.problems()
    with torch.random.fork_rng():
        torch.manual_seed(10_007)
        sampled = evaluate_episodes(model, tokenizer, game, rows * settings.eval_samples,
                                    outcome, temperature=1.0)  # fmt: skip
    return sampled, evaluate_episodes(model, tokenizer, game, rows, outcome)


def run_design(unit: tuple[MultiturnSettings, str, float, int]) -> dict[str, Any]:
    """One GRPO run of ``design`` from the warm start, at a learning rate, with a seed."""
    import torch

    from rewardkit.train.grpo import GRPOConfig, GRPOTrainer
    from rewardkit.train.multiturn import InformationGainTurns, ProgressTurns, TurnRewards
    from rewardkit_bench.tasks.guessing import GuessOutcome

    torch.set_num_threads(1)
    settings, design, learning_rate, seed = unit
    model, tokenizer = warm_start(settings)
    game = _game(settings)
    turn_rewards: TurnRewards | None = {
        "outcome": None,
        "igpo": InformationGainTurns(),
        "igpo_log": InformationGainTurns(log_space=True),
        "progress": ProgressTurns(settings.n_embd, seed=seed),
    }[design]
    config = GRPOConfig(
        steps=settings.steps, prompts_per_step=settings.prompts_per_step,
        group_size=settings.group_size, learning_rate=learning_rate, seed=seed,
        estimator="grpo" if design == "outcome" else "turn",
    )  # fmt: skip
    trainer = GRPOTrainer(model, tokenizer, GuessOutcome(), game.problems(), config,
                          environment=game, turn_rewards=turn_rewards)  # fmt: skip
    per_step = settings.prompts_per_step * settings.group_size
    sampled, greedy = _evaluate(model, tokenizer, settings)
    curve = [{"step": 0, "episodes": 0, "accuracy": sampled, "greedy": greedy}]
    training = 0.0
    for step in range(settings.steps):
        start = time.monotonic()
        trainer.step(step)
        training += time.monotonic() - start
        if (step + 1) % settings.eval_every == 0 or step + 1 == settings.steps:
            sampled, greedy = _evaluate(model, tokenizer, settings)
            curve.append({"step": step + 1, "episodes": (step + 1) * per_step,
                          "accuracy": sampled, "greedy": greedy})  # fmt: skip
    last = curve[-FINAL_POINTS:]
    return {"design": design, "learning_rate": learning_rate, "seed": seed, "curve": curve,
            "final": float(sum(c["accuracy"] for c in last) / len(last)),
            "final_greedy": float(sum(c["greedy"] for c in last) / len(last)),
            "mean_accuracy": float(sum(c["accuracy"] for c in curve[1:]) / (len(curve) - 1)),
            "seconds_per_step": training / settings.steps}  # fmt: skip


def _arm(design: str, learning_rate: float) -> str:
    return f"{design} lr {learning_rate:g}"


def _arm_row(runs: list[dict[str, Any]], target: float, start: float) -> dict[str, Any]:
    ordered = sorted(runs, key=lambda r: r["seed"])
    reached = [frames_to_reach([(c["episodes"], c["accuracy"]) for c in r["curve"]], target)
               if math.isfinite(target) else math.nan for r in ordered]  # fmt: skip
    finite = [f for f in reached if math.isfinite(f)]
    return {
        "design": runs[0]["design"],
        "learning_rate": runs[0]["learning_rate"],
        "final": median([r["final"] for r in runs]),
        "finals": [round(r["final"], 3) for r in ordered],
        "by_seed": {str(r["seed"]): r["final"] for r in ordered},
        "below_start": sum(r["final"] < start for r in runs),
        "greedy": median([r["final_greedy"] for r in runs]),
        "mean_accuracy": median([r["mean_accuracy"] for r in runs]),
        "episodes_to_target": median_to_reach(reached),
        "reached": f"{len(finite)}/{len(reached)}",
        "seconds_per_step": median([r["seconds_per_step"] for r in runs]),
    }


def _summarize(runs: list[dict[str, Any]], eval_games: int) -> dict[str, Any]:
    arms: dict[str, list[dict[str, Any]]] = {}
    for run in sorted(runs, key=lambda r: (DESIGNS.index(r["design"]), r["learning_rate"])):
        arms.setdefault(_arm(run["design"], run["learning_rate"]), []).append(run)
    start = median([r["curve"][0]["accuracy"] for r in runs])
    # each design's learning rate is chosen on sample efficiency (the mean accuracy over
    # training), not on the final accuracy that the claims then compare
    efficiency = {name: median([r["mean_accuracy"] for r in arm]) for name, arm in arms.items()}
    best: dict[str, str] = {}
    for name, arm in arms.items():
        design = arm[0]["design"]
        if design not in best or efficiency[name] > efficiency[best[design]]:
            best[design] = name
    if "outcome" not in best:
        raise ValueError("the summary needs the outcome design's runs")
    outcome_final = median([r["final"] for r in arms[best["outcome"]]])
    # no gain to reach when outcome-only did not improve on the warm start
    target = start + REACHED * (outcome_final - start) if outcome_final > start else math.nan
    rows = {name: _arm_row(arm, target, start) for name, arm in arms.items()}
    outcome_cost = rows[best["outcome"]]["seconds_per_step"]
    for row in rows.values():
        row["cost_ratio"] = row["seconds_per_step"] / outcome_cost if outcome_cost else math.nan
        row["best"] = best[row["design"]] == _arm(row["design"], row["learning_rate"])
    claims: dict[str, dict[str, Any]] = {}
    base = rows[best["outcome"]]
    for design in TURN_DESIGNS:
        if design not in best:
            continue
        ours = rows[best[design]]
        paired = [seed for seed in ours["by_seed"] if seed in base["by_seed"]]
        wins = sum(ours["by_seed"][seed] > base["by_seed"][seed] for seed in paired)
        claims[f"{design} turn rewards beat outcome-only GRPO at equal samples, each at its "
               f"best learning rate (final sampled accuracy beyond two binomial standard "
               f"errors, {eval_games} games, and ahead at most seeds)"] = {
            "met": beyond_noise(ours["final"], base["final"], eval_games)
                   and wins * 2 > len(paired),
            "detail": f"{ours['final']:.3f} at lr {ours['learning_rate']:g} vs "
                      f"{base['final']:.3f} at lr {base['learning_rate']:g} (by seed "
                      f"{ours['finals']} vs {base['finals']}; ahead at {wins} of "
                      f"{len(paired)} seeds); mean accuracy over training "
                      f"{ours['mean_accuracy']:.3f} vs {base['mean_accuracy']:.3f}; episodes to "
                      f"target {reach_text(ours['episodes_to_target'])} vs "
                      f"{reach_text(base['episodes_to_target'])}; {ours['cost_ratio']:.2f}x the "
                      "time per step",
        }  # fmt: skip
    return {"start": start, "target": target, "arms": rows, "claims": claims}


class MultiturnCredit(Suite):
    """The multiturn-credit suite (see the module docs)."""

    name = "multiturn-credit"
    description = __doc__
    quick_help = "one seed, a 1500-step warm start, 100 GRPO steps"
    quick_sets = ("seeds",)
    options = ("seeds", "jobs", "resume", "rerender")

    def settings(self, args: argparse.Namespace) -> MultiturnSettings:
        return QUICK if args.quick else MultiturnSettings()

    def command(self, args: argparse.Namespace) -> str:
        return "rewardkit bench multiturn-credit" + (
            " --quick" if args.quick else f" --jobs {args.jobs}"
        )

    def prepare(self, args: argparse.Namespace) -> None:
        warm_start(self.settings(args))  # trained once, before the pool

    def plan(self, args: argparse.Namespace, runs: list[dict[str, Any]]) -> list[Any]:
        seeds = 1 if args.quick else args.seeds
        settings = self.settings(args)
        done = {(r["design"], r["learning_rate"], r["seed"]) for r in runs}
        return [(settings, design, rate, seed) for seed in range(seeds)
                for rate in settings.learning_rates for design in DESIGNS
                if (design, rate, seed) not in done]  # fmt: skip

    def run_unit(self, unit: Any) -> dict[str, Any]:
        return run_design(unit)

    def describe(self, run: dict[str, Any]) -> str:
        return (f"{_arm(run['design'], run['learning_rate'])} seed {run['seed']}: sampled "
                f"accuracy {run['final']:.3f}, "
                f"greedy {run['final_greedy']:.3f}, "
                f"{run['seconds_per_step']:.2f} s/step")  # fmt: skip

    def record(self, args: argparse.Namespace, runs: list[dict[str, Any]]) -> dict[str, Any]:
        return {"settings": asdict(self.settings(args)), "environment": environment(),
                "runs": runs}  # fmt: skip

    def summarize(self, results: dict[str, Any]) -> dict[str, Any]:
        settings = MultiturnSettings(**results["settings"])
        games = (settings.high - settings.low + 1) * settings.eval_samples
        return {"eval_games": games, **_summarize(results["runs"], games)}

    def plot(self, folder: RunFolder, results: dict[str, Any]) -> list[str]:
        plt = pyplot()
        if plt is None:
            return []
        fig, axis = plt.subplots(figsize=(7, 4))
        for name, row in results["arms"].items():
            runs = [r for r in results["runs"]
                    if _arm(r["design"], r["learning_rate"]) == name]  # fmt: skip
            axis.plot(*median_curve(runs, "episodes", "accuracy"), label=name,
                      color=f"C{DESIGNS.index(row['design'])}",
                      linestyle="-" if row["best"] else ":")  # fmt: skip
        axis.set_title("guessing game: sampled accuracy (median over seeds)")
        axis.set_xlabel("episodes trained on")
        axis.legend(fontsize=8)
        fig.tight_layout()
        return [save_figure(plt, fig, folder, "multiturn.png")]

    def report(self, results: dict[str, Any], plots: list[str]) -> str:
        settings = results["settings"]
        target = results["target"]
        lines = ["# multiturn-credit", "",
                 f"Regenerate: `{results['command']}` ({results.get('seconds', 0) / 60:.1f} min)",
                 "", f"The guessing game (secret in {settings['low']}..{settings['high']}, "
                 f"{settings['guesses']} guesses, then the answer) with the tiny GPT-2, GRPO "
                 f"from one warm start for {settings['steps']} steps of "
                 f"{settings['prompts_per_step']} x {settings['group_size']} episodes, each "
                 "design at each learning rate; medians over seeds; * marks a design's best "
                 "learning rate by mean accuracy over training, which the claims compare. "
                 "Accuracy: sampled at temperature 1 "
                 f"over {results['eval_games']} games (greedy: one game per secret); final: the "
                 f"mean of the last {FINAL_POINTS} evaluations. Below start: seeds that end "
                 f"below the warm start's accuracy ({results['start']:.3f}). Episodes to target: "
                 "the first point at which the 3-point moving average of accuracy is "
                 f"{REACHED:.0%} of the way from the warm start to outcome-only's final "
                 "accuracy at its best learning rate (" + (
                     "none: outcome-only did not improve" if math.isnan(target)
                     else f"target {target:.3f}") + "); a seed that never gets there counts "
                 "as never in the median.", ""]  # fmt: skip
        header = ["design", "final accuracy", "by seed", "below start", "greedy",
                  "mean over training", "episodes to target", "reached", "s/step",
                  "cost vs outcome"]  # fmt: skip
        rows = [[name + (" *" if v["best"] else ""), f"{v['final']:.3f}", str(v["finals"]),
                 v["below_start"], f"{v['greedy']:.3f}", f"{v['mean_accuracy']:.3f}",
                 reach_text(v["episodes_to_target"]).replace("not reached", "–"), v["reached"],
                 f"{v['seconds_per_step']:.2f}", f"{v['cost_ratio']:.2f}x"]
                for name, v in results["arms"].items()]  # fmt: skip
        lines += [markdown_table(header, rows), ""]
        if "multiturn.png" in plots:
            lines += ["![multiturn](multiturn.png)", ""]
        lines += ["## Claims", ""]
        lines += claim_lines(results["claims"])
        return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """``rewardkit bench multiturn-credit``: see the module docs."""
    return drive(MultiturnCredit(), argv)
