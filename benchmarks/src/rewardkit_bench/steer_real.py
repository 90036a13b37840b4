"""``rewardkit bench steer-real``: steer-lab's real-model task, steering SmolLM2-135M-Instruct.

The policy is SmolLM2-135M-Instruct itself (temperature 1, its chat template,
64 tokens at most), on the SmolLM2 corpus's reasoning-gym questions (one-digit
``chain_sum`` and ``basic_arithmetic``; see :mod:`rewardkit_bench.steer_real_data`
for the split, the gold and the scorers). Once per run:

- Math-Shepherd labels: every 16-token step of the training half's first two
  samples of each question gets the share of ``--rollouts`` SmolLM2
  continuations from its prefix that end correct; each training completion's
  last step gets its own label;
- a PRM (a logistic head on SmolLM2's frozen layer-15 features after every
  step, :class:`rewardkit.models.FrozenHeadProcessRewardModel`) fitted on
  those labels, and a Bradley–Terry head on the same features of the whole
  completion, from the training half's (correct, wrong) pairs.

Per seed, on held-out questions (a different draw of them per seed), at equal
generated tokens (every particle's and candidate's tokens count):

- best-of-N among N samples (N = 1, 2, 4, 8; exact over the subsets of 8
  samples) selected by the gold (the ceiling), self-consistency (the most
  common stated answer), the BT head, and the PRM (its last step, and its
  weakest step as Math-Shepherd ranks);
- SMC (:func:`rewardkit.steer.smc`) with K particles, a block = one 16-token
  step, FK's ``difference`` potential with λ = 10, under the PRM (its value
  after the step), and under the oracle process check (the stated answer,
  once settled);
- value-guided decoding (:func:`rewardkit.steer.value_guided`) with the PRM
  as the value, K candidates a block;
- seconds per generated token of each SMC run against the plain sampling
  of the best-of-N pool, same run.

Targets (issue #31): SMC with the learned PRM beats best-of-N under the same
PRM at equal tokens by more than two standard errors (Sampling for Quality's
+9-15 %); best-of-n under the learned proxies, with Gao et al.'s fit.

Run: ``rewardkit bench steer-real --seeds 3`` (``--quick``: 8 training
questions, 3 held-out prompts, one seed).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from rewardkit_bench.runner import Suite, drive, environment

__all__ = ["SteerReal", "main"]

LAYER = 15
SAMPLES = 8
NS = (1, 2, 4, 8)
PARTICLES = (4, 8)
LAM = 10.0
QUICK_QUESTIONS = 8
#: content-free completions scored as if they were answers (as real-rm's probes)
PROBES = (":", "Let's solve this step by step.", "The answer is correct.")
QUICK_PROMPTS = 3


class SteerReal(Suite):
    """The steer-real suite (see the module docs)."""

    name: ClassVar[str] = "steer-real"
    description: ClassVar[str | None] = __doc__
    quick_help: ClassVar[str] = (
        f"{QUICK_QUESTIONS} training questions, {QUICK_PROMPTS} held-out prompts, one seed"
    )
    quick_sets: ClassVar[tuple[str, ...]] = ("seeds",)
    options: ClassVar[tuple[str, ...]] = ("seeds", "resume", "rerender")

    def __init__(self) -> None:
        self.args: argparse.Namespace | None = None
        self.loaded: dict[str, Any] = {}

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--corpus", default=None, help="the SmolLM2 corpus (as real-rm)")
        parser.add_argument(
            "--prompts", type=int, default=20, help="held-out prompts steered per seed (default 20)"
        )
        parser.add_argument(
            "--rollouts",
            type=int,
            default=4,
            help="Math-Shepherd rollouts per step prefix (default 4)",
        )

    def command(self, args: argparse.Namespace) -> str:
        if args.quick:
            return "rewardkit bench steer-real --quick"
        return f"rewardkit bench steer-real --seeds {args.seeds} --prompts {args.prompts}"

    def prepare(self, args: argparse.Namespace) -> None:
        self.args = args

    # -- the model, the data and the scorers, loaded once per process ------------------------
    def _data(self) -> dict[str, Any]:
        if "problems" in self.loaded:
            return self.loaded
        import torch
        from transformers.utils import logging as transformers_logging

        from rewardkit import lm
        from rewardkit.models import FrozenHeadProcessRewardModel
        from rewardkit_bench.real_rm import _corpus_path
        from rewardkit_bench.steer_real_data import STEP_TOKENS, problems

        assert self.args is not None
        torch.set_num_threads(2)
        transformers_logging.set_verbosity_error()
        rows = [json.loads(line) for line in _corpus_path(self.args.corpus).open()]
        model, tokenizer = lm.load("smollm2-135m-instruct")
        train, held_out = problems(rows, tokenizer)
        if self.args.quick:
            train = train[:QUICK_QUESTIONS]
        keys = {(p.task, p.question) for p in train}
        labelled = [
            r for r in rows if (r["task"], r["question"]) in keys and r["label"] is not None
        ]
        prm = FrozenHeadProcessRewardModel(
            model, tokenizer, LAYER, STEP_TOKENS, backbone="smollm2-135m-instruct"
        )
        self.loaded.update(
            model=model,
            tokenizer=tokenizer,
            train=train,
            held_out=held_out,
            rows=rows,
            labelled=labelled,
            prm=prm,
            problems={(p.task, p.question): p for p in train + held_out},
        )
        return self.loaded

    def _scorers(self, labels: list[list[float]]) -> Any:
        if "scorers" not in self.loaded:
            from rewardkit_bench.steer_real_data import fit_scorers

            data = self._data()
            prompts = [
                data["problems"][(r["task"], r["question"])].prompt for r in data["labelled"]
            ]
            features, _ = data["prm"].features(prompts, [r["completion"] for r in data["labelled"]])
            self.loaded["scorers"] = fit_scorers(data["prm"], data["labelled"], features, labels)
        return self.loaded["scorers"]

    # -- units ----------------------------------------------------------------------------------
    def plan(self, args: argparse.Namespace, runs: list[dict[str, Any]]) -> list[Any]:
        if not any(run["kind"] == "labels" for run in runs):
            return [("labels", 0)]
        labels = next(run for run in runs if run["kind"] == "labels")
        given = self._settings(args)
        # a run records what it ran with (one made before the record: quick alone is known)
        ran = labels.get("settings", {"quick": given["quick"]})
        differ = sorted(key for key in ran if ran[key] != given.get(key))
        if differ:
            raise SystemExit(
                f"steer-real --resume: the run was made with {ran}; the options now give "
                f"{ {key: given[key] for key in ran} } ({', '.join(differ)} differ)"
            )
        # runs.jsonl stores NaN (a step without rollouts) as null
        self.loaded["labels"] = [
            [float("nan") if x is None else float(x) for x in row] for row in labels["labels"]
        ]
        seeds = 1 if args.quick else args.seeds
        done = {(run["kind"], run.get("seed", 0)) for run in runs}
        wanted = [("paired", 0)] + [("steer", seed) for seed in range(seeds)]
        return [unit for unit in wanted if unit not in done]

    def check(self, args: argparse.Namespace) -> str | None:
        if args.prompts < 1 or args.rollouts < 1:
            return "--prompts and --rollouts must be at least 1"
        return None

    def _settings(self, args: argparse.Namespace) -> dict[str, Any]:
        """What a run's units depend on, kept in its labels record and checked on --resume."""
        return {"quick": bool(args.quick), "prompts": args.prompts, "rollouts": args.rollouts,
                "corpus": args.corpus}  # fmt: skip

    def run_unit(self, unit: Any) -> dict[str, Any]:
        kind, seed = unit
        if kind == "labels":
            return self._labels_run()
        if kind == "paired":
            return self._paired_run()
        return self._steer_run(seed)

    def _paired_run(self) -> dict[str, Any]:
        from rewardkit_bench.steer_real_runs import held_out_pairs

        data = self._data()
        scorers = self._scorers(self.loaded["labels"])
        keys = {(p.task, p.question) for p in data["held_out"]}
        rows = [r for r in self.loaded["rows"] if (r["task"], r["question"]) in keys]
        if self.args is not None and self.args.quick:
            rows = [r for r in rows if r["index"] < 25]
        start = time.monotonic()
        found = held_out_pairs(rows, data["problems"], scorers, PROBES)
        return {"kind": "paired", **found, "seconds": time.monotonic() - start}

    def _labels_run(self) -> dict[str, Any]:
        from rewardkit_bench.steer_real_data import shepherd_labels

        assert self.args is not None
        data, start = self._data(), time.monotonic()
        labels = shepherd_labels(
            data["model"],
            data["tokenizer"],
            data["prm"],
            data["labelled"],
            data["problems"],
            self.args.rollouts,
        )
        steps = [x for row in labels for x in row[:-1]]
        return {
            "kind": "labels",
            "labels": labels,
            "rows": len(labels),
            "settings": self._settings(self.args),
            "intermediate_steps": len(steps),
            "labelled_intermediate": int(np.sum(~np.isnan(steps))) if steps else 0,
            "seconds": time.monotonic() - start,
        }

    def _steer_run(self, seed: int) -> dict[str, Any]:
        from rewardkit_bench.steer_real_runs import steer_seed

        assert self.args is not None
        data = self._data()
        scorers = self._scorers(self.loaded["labels"])
        prompts = QUICK_PROMPTS if self.args.quick else self.args.prompts
        if prompts > len(data["held_out"]):
            raise SystemExit(f"--prompts {prompts}: there are {len(data['held_out'])} held-out "
                             "questions")  # fmt: skip
        chosen = np.random.default_rng(100 + seed).choice(len(data["held_out"]), prompts, False)
        problems = [data["held_out"][i] for i in sorted(chosen)]
        particles = PARTICLES[:1] if self.args.quick else PARTICLES
        record = steer_seed(
            data["model"], data["tokenizer"], problems, scorers, seed, SAMPLES, NS, particles, LAM
        )
        return {
            "kind": "steer",
            "seed": seed,
            "fit": {
                "prm_l2": scorers.prm_l2,
                "bt_l2": scorers.bt_l2,
                "prm_validation_loss": scorers.prm_validation_loss,
                "bt_validation_accuracy": scorers.bt_validation_accuracy,
                "labelled_steps": scorers.labelled_steps,
            },
            **record,
        }

    def describe(self, run: dict[str, Any]) -> str | None:
        if run["kind"] == "paired":
            best = max(run["accuracy_controlled"].items(), key=lambda kv: kv[1])
            return f"held-out pairs: best style-controlled {best[0]} {best[1]:.3f}"
        if run["kind"] == "labels":
            return (
                f"Math-Shepherd labels: {run['labelled_intermediate']} of "
                f"{run['intermediate_steps']} intermediate steps ({run['seconds']:.0f}s)"
            )
        best = max(run["methods"], key=lambda m: statistics.fmean(m["gold"]))
        return (
            f"seed {run['seed']}: best {best['method']} K={best['k']} "
            f"{statistics.fmean(best['gold']):.3f}"
        )

    def record(self, args: argparse.Namespace, runs: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "quick": args.quick,
            "layer": LAYER,
            "lam": LAM,
            "samples": SAMPLES,
            "machine": environment(),
            "runs": runs,
        }

    def summarize(self, results: dict[str, Any]) -> dict[str, Any]:
        from rewardkit_bench.steer_real_report import summarize

        return summarize(results)

    def report(self, results: dict[str, Any], plots: list[str]) -> str | None:
        from rewardkit_bench.steer_real_report import render

        return render(results)


def main(argv: Sequence[str] | None = None) -> int:
    """``rewardkit bench steer-real``: see the module docs."""
    return drive(SteerReal(), argv)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
