"""The ``multiturn-credit`` suite: outcome-only GRPO against turn-level rewards, multi-turn.

Task: the higher/lower guessing game (:mod:`rewardkit.envs.guessing`), a
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

Per run, every ``eval_every`` steps: the sampled accuracy (temperature 1, 20
games per secret, a fixed evaluation seed) and the greedy accuracy (one game
per secret), against the episodes trained on. Per design, medians over seeds:
final accuracy, the mean over the curve (sample efficiency), the episodes to
90 % of the way from the warm start's accuracy to outcome-only's final one,
and the seconds per training step.

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
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from rewardkit.bench.delayed_credit import frames_to_reach
from rewardkit.bench.rm_claims import median
from rewardkit.bench.runner import (
    RunFolder,
    Suite,
    beyond_noise,
    claim_lines,
    drive,
    environment,
    markdown_table,
    median_curve,
    pyplot,
    save_figure,
)

__all__ = ["DESIGNS", "MultiturnCredit", "MultiturnSettings", "main", "run_design"]

DESIGNS = ("outcome", "igpo", "igpo_log", "progress")
TURN_DESIGNS = ("igpo", "igpo_log", "progress")
#: the share of the way to outcome-only's final accuracy that counts as reached
REACHED = 0.9
CACHE = Path("runs/multiturn-credit-cache")


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
    learning_rate: float = 1e-3
    eval_every: int = 25
    eval_samples: int = 20

    def warm_key(self) -> str:
        fields = {k: v for k, v in asdict(self).items() if k not in _RL_FIELDS}
        return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:12]


_RL_FIELDS = ("steps", "prompts_per_step", "group_size", "learning_rate", "eval_every",
              "eval_samples")  # fmt: skip
QUICK = MultiturnSettings(sft_steps=1500, steps=100, eval_samples=10)


def _game(settings: MultiturnSettings) -> Any:
    from rewardkit.envs.guessing import GuessingGame

    return GuessingGame(settings.low, settings.high, settings.guesses)


def warm_start(settings: MultiturnSettings, cache: Path = CACHE) -> tuple[Any, Any]:
    """The tiny policy after supervised learning on the demonstrator; trained once, cached."""
    import torch

    from rewardkit.envs.guessing import GUESSING_ALPHABET, demonstration_ids
    from rewardkit.models.tiny import build_char_tokenizer, build_tiny_gpt2
    from rewardkit.train.sft import SequenceBatch, fit_sequences

    tokenizer = build_char_tokenizer(GUESSING_ALPHABET)
    model = build_tiny_gpt2(tokenizer, settings.n_layer, settings.n_embd, settings.n_head,
                            n_positions=64, seed=settings.warm_seed)  # fmt: skip
    path = cache / f"warmstart-{settings.warm_key()}.pt"
    if path.is_file():
        model.load_state_dict(torch.load(path, weights_only=True))
        model.eval()
        return model, tokenizer
    game = _game(settings)

    def sample_batch(rng: random.Random) -> SequenceBatch:
        batch = []
        for _ in range(settings.sft_batch):
            secret = rng.randint(game.low, game.high)
            short = rng.random() < settings.short_share
            guesses = rng.randint(0, game.guesses - 1) if short else game.guesses
            batch.append(demonstration_ids(game, tokenizer, secret, rng, guesses))
        return batch

    print(f"warm start: {settings.sft_steps} supervised steps (about "
          f"{settings.sft_steps * 0.05:.0f} s), cached in {path}", flush=True)  # fmt: skip
    fit_sequences(model, tokenizer, sample_batch, settings.sft_steps, seed=settings.warm_seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save(model.state_dict(), tmp)
    tmp.replace(path)  # atomic: parallel jobs never read a half-written file
    return model, tokenizer


def _evaluate(model: Any, tokenizer: Any, settings: MultiturnSettings) -> tuple[float, float]:
    """(sampled accuracy over ``eval_samples`` games per secret, greedy accuracy), with the
    sampling seeded apart from training's."""
    import torch

    from rewardkit.envs.guessing import GuessOutcome
    from rewardkit.train.multiturn import evaluate_episodes

    game, outcome = _game(settings), GuessOutcome()
    rows = game.problems()
    with torch.random.fork_rng():
        torch.manual_seed(10_007)
        sampled = evaluate_episodes(model, tokenizer, game, rows * settings.eval_samples,
                                    outcome, temperature=1.0)  # fmt: skip
    return sampled, evaluate_episodes(model, tokenizer, game, rows, outcome)


def run_design(unit: tuple[MultiturnSettings, str, int]) -> dict[str, Any]:
    """One GRPO run of ``design`` from the warm start, with ``seed``."""
    import torch

    from rewardkit.envs.guessing import GuessOutcome
    from rewardkit.train.grpo import GRPOConfig, GRPOTrainer
    from rewardkit.train.multiturn import InformationGainTurns, ProgressTurns, TurnRewards

    torch.set_num_threads(1)
    settings, design, seed = unit
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
        group_size=settings.group_size, learning_rate=settings.learning_rate, seed=seed,
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
    return {"design": design, "seed": seed, "curve": curve, "final": curve[-1]["accuracy"],
            "final_greedy": curve[-1]["greedy"],
            "mean_accuracy": float(sum(c["accuracy"] for c in curve[1:]) / (len(curve) - 1)),
            "seconds_per_step": training / settings.steps}  # fmt: skip


def _summarize(runs: list[dict[str, Any]], eval_games: int) -> dict[str, Any]:
    by_design = {d: [r for r in runs if r["design"] == d] for d in DESIGNS}
    if not by_design["outcome"]:
        raise ValueError("the summary needs the outcome design's runs")
    start = median([r["curve"][0]["accuracy"] for r in runs])
    outcome_final = median([r["final"] for r in by_design["outcome"]])
    # no gain to reach when outcome-only did not improve on the warm start
    target = start + REACHED * (outcome_final - start) if outcome_final > start else math.nan
    outcome_cost = median([r["seconds_per_step"] for r in by_design["outcome"]])
    designs: dict[str, Any] = {}
    for design, design_runs in by_design.items():
        if not design_runs:
            continue
        ordered = sorted(design_runs, key=lambda r: r["seed"])
        reached = [frames_to_reach([(c["episodes"], c["accuracy"]) for c in r["curve"]], target)
                   if math.isfinite(target) else math.nan for r in ordered]  # fmt: skip
        finite = [f for f in reached if math.isfinite(f)]
        cost = median([r["seconds_per_step"] for r in design_runs])
        designs[design] = {
            "final": median([r["final"] for r in design_runs]),
            "finals": [round(r["final"], 3) for r in ordered],
            "greedy": median([r["final_greedy"] for r in design_runs]),
            "mean_accuracy": median([r["mean_accuracy"] for r in design_runs]),
            "episodes_to_target": median(finite) if len(finite) * 2 > len(reached) else math.nan,
            "reached": f"{len(finite)}/{len(reached)}",
            "seconds_per_step": cost,
            "cost_ratio": cost / outcome_cost if outcome_cost > 0 else math.nan,
        }
    claims: dict[str, dict[str, Any]] = {}
    base = designs["outcome"]
    for design in TURN_DESIGNS:
        if design not in designs:
            continue
        ours = designs[design]
        claims[f"{design} turn rewards beat outcome-only GRPO at equal samples (final sampled "
               f"accuracy beyond two binomial standard errors, {eval_games} games)"] = {
            "met": beyond_noise(ours["final"], base["final"], eval_games),
            "detail": f"{ours['final']:.3f} vs {base['final']:.3f} (by seed {ours['finals']} vs "
                      f"{base['finals']}); mean accuracy over training {ours['mean_accuracy']:.3f}"
                      f" vs {base['mean_accuracy']:.3f}; episodes to target "
                      f"{_episodes(ours['episodes_to_target'])} vs "
                      f"{_episodes(base['episodes_to_target'])}; {ours['cost_ratio']:.2f}x the "
                      "time per step",
        }  # fmt: skip
    return {"start": start, "target": target, "designs": designs, "claims": claims}


def _episodes(value: float) -> str:
    return "not reached" if math.isnan(value) else f"{value:,.0f}"


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
        done = {(r["design"], r["seed"]) for r in runs}
        return [(settings, design, seed) for seed in range(seeds) for design in DESIGNS
                if (design, seed) not in done]  # fmt: skip

    def run_unit(self, unit: Any) -> dict[str, Any]:
        return run_design(unit)

    def describe(self, run: dict[str, Any]) -> str:
        return (f"{run['design']} seed {run['seed']}: sampled accuracy {run['final']:.3f}, "
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
        for design in DESIGNS:
            runs = [r for r in results["runs"] if r["design"] == design]
            if runs:
                axis.plot(*median_curve(runs, "episodes", "accuracy"), label=design)
        axis.set_title("guessing game: sampled accuracy (median over seeds)")
        axis.set_xlabel("episodes trained on")
        axis.legend(fontsize=8)
        fig.tight_layout()
        return [save_figure(plt, fig, folder, "multiturn.png")]

    def report(self, results: dict[str, Any], plots: list[str]) -> str:
        settings = results["settings"]
        lines = ["# multiturn-credit", "",
                 f"Regenerate: `{results['command']}` ({results.get('seconds', 0) / 60:.1f} min)",
                 "", f"The guessing game (secret in {settings['low']}..{settings['high']}, "
                 f"{settings['guesses']} guesses, then the answer) with the tiny GPT-2, GRPO "
                 f"from one warm start for {settings['steps']} steps of "
                 f"{settings['prompts_per_step']} x {settings['group_size']} episodes; medians "
                 f"over seeds. Accuracy: sampled at temperature 1 over {results['eval_games']} "
                 "games (greedy: one game per secret). Episodes to target: the first point at "
                 f"which the 3-point moving average of accuracy is {REACHED:.0%} of the way from "
                 f"the warm start ({results['start']:.3f}) to outcome-only's final accuracy "
                 f"(target {results['target']:.3f}).", ""]  # fmt: skip
        header = ["design", "final accuracy", "by seed", "greedy", "mean over training",
                  "episodes to target", "reached", "s/step", "cost vs outcome"]  # fmt: skip
        rows = [[d, f"{v['final']:.3f}", str(v["finals"]), f"{v['greedy']:.3f}",
                 f"{v['mean_accuracy']:.3f}", _episodes(v["episodes_to_target"]).replace(
                     "not reached", "–"), v["reached"], f"{v['seconds_per_step']:.2f}",
                 f"{v['cost_ratio']:.2f}x"] for d, v in results["designs"].items()]  # fmt: skip
        lines += [markdown_table(header, rows), ""]
        if "multiturn.png" in plots:
            lines += ["![multiturn](multiturn.png)", ""]
        lines += ["## Claims", ""]
        lines += claim_lines(results["claims"])
        return "\n".join(lines) + "\n"


def quick_settings(**changes: Any) -> MultiturnSettings:
    """The quick settings with ``changes`` (tests shrink them further)."""
    return replace(QUICK, **changes)


def main(argv: Sequence[str] | None = None) -> int:
    """``rewardkit bench multiturn-credit``: see the module docs."""
    return drive(MultiturnCredit(), argv)
