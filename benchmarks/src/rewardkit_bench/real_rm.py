"""``rewardkit bench real-rm``: learned rewards and verifiers on a real model's own answers.

The data is the SmolLM2 corpus (``benchmarks/corpora/smollm2-arithmetic.jsonl``:
SmolLM2-135M-Instruct's sampled answers to reasoning-gym arithmetic, labelled
by the corpus's rule and reasoning-gym's scorer; see
:mod:`rewardkit_bench.smollm2_corpus`). Three questions:

1. **Verifiers on real text.** rewardkit's math verifier and math-verify, each
   as a training loop calls it, against the labels: agreement and false
   positives (a wrong answer scored correct).
2. **A learned reward on a real backbone.** A linear Bradley–Terry head on
   SmolLM2's frozen features (:class:`rewardkit.models.FrozenHeadRewardModel`)
   is fitted on (correct, wrong) pairs of the same prompt from half the
   prompts and tested on the other half, per seed (the split is the seed).
   Paired accuracy is the share of held-out pairs ranked right; *style
   controlled* keeps only pairs whose two answers both state a number and
   differ in length by at most 25 %, so length and "says a number at all"
   cannot carry it. Baselines in the same run: the model's own mean token
   log-probability of the completion (no training), "shorter is better", and
   the generative yes-token reward zero-shot: SmolLM2 itself, shown the question
   and the answer in its chat template and asked "Is this answer correct? Reply
   Yes or No.", scored by P(Yes) / (P(Yes) + P(No))
   (:class:`rewardkit.models.JudgeTemplate`; RewardDance's reward read, without
   its training). A second learned scorer: a value head (an MLP on SmolLM2's
   last hidden state after every prefix, regressed on the outcome,
   :class:`rewardkit.models.PolicyValueHead`), fitted on the same training
   half and read after the completion's last token. Probes (master keys, One
   Token to Fool): a content-free completion scored against each held-out
   prompt's correct answers.
3. **Best-of-n on the model's own samples** (:mod:`rewardkit_bench.real_rm_bon`):
   each scorer as the selector among n of a held-out problem's 8 samples, gold
   against n, and Gao et al.'s best-of-n fit.

Targets (issue #31): style-controlled paired accuracy of the best learned
scorer ≥ 0.70 on held-out prompts (the char-level lab sat at 0.47-0.57);
best-of-n under the BT head shows Gao et al.'s peak-then-fall of gold, with
the fit's R².
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from rewardkit_bench.runner import Suite, drive, environment

__all__ = ["CORPUS_FILE", "RealRM", "main", "paired_accuracy", "pairs_of"]

CORPUS_FILE = "smollm2-arithmetic.jsonl"
CORPUS = Path("benchmarks") / "corpora" / CORPUS_FILE
#: hidden layers read (SmolLM2-135M has 30): a middle one and the last
LAYERS = (15, -1)
#: content-free completions scored as if they were answers
PROBES = (":", "Let's solve this step by step.", "The answer is correct.")
TARGET = 0.70
#: the generative yes-token scorer: SmolLM2 itself asked whether the answer is correct
JUDGE = "SmolLM2 judge, P(Yes) (zero-shot)"
#: a linear probe σ(w·h + b) on the judge's answer-position state h, trained on the labels
#: (the yes-token reward's form, σ((w_yes − w_no)·h), with w and a bias fitted; backbone frozen)
TRAINED_JUDGE = "SmolLM2 judge's answer state, linear probe"
#: a value head on SmolLM2's last hidden state, fitted on the training rows' outcomes
VALUE = "value head (MLP, last layer)"
#: the L2 penalties cross-validated on the training prompts
L2_GRID = (1e-3, 1e-2, 1e-1, 1.0, 10.0)
QUICK_PROMPTS = 15


def pairs_of(rows: Sequence[dict[str, Any]], style_controlled: bool) -> list[tuple[int, int]]:
    """(correct, wrong) row-index pairs of the same prompt.

    Style controlled: both rows state a number (``status == "stated"``) and their token
    lengths differ by at most 25 % of the longer.

    Example:
        >>> rows = [{"task": "t", "question": "1+1", "label": 1, "status": "stated", "tokens": 10},
        ...         {"task": "t", "question": "1+1", "label": 0, "status": "stated", "tokens": 12},
        ...         {"task": "t", "question": "1+1", "label": 0, "status": "none", "tokens": 11},
        ...         {"task": "t", "question": "2+1", "label": 0, "status": "stated", "tokens": 9}]
        >>> pairs_of(rows, False), pairs_of(rows, True)
        ([(0, 1), (0, 2)], [(0, 1)])
    """
    groups: dict[tuple[str, str], list[int]] = defaultdict(list)
    for i, row in enumerate(rows):
        if row["label"] is not None:
            groups[_problem(row)].append(i)
    pairs = []
    for members in groups.values():
        for c in (i for i in members if rows[i]["label"] == 1):
            for w in (i for i in members if rows[i]["label"] == 0):
                if style_controlled and not _same_style(rows[c], rows[w]):
                    continue
                pairs.append((c, w))
    return pairs


def _problem(row: dict[str, Any]) -> tuple[str, str]:
    """What identifies a problem: its task and question (reasoning-gym draws the same
    one-digit question under several indices, so the index does not)."""
    return row["task"], row["question"]


def _same_style(a: dict[str, Any], b: dict[str, Any]) -> bool:
    both_state = a["status"] == b["status"] == "stated"
    return both_state and abs(a["tokens"] - b["tokens"]) <= 0.25 * max(a["tokens"], b["tokens"])


def paired_accuracy(scores: np.ndarray, pairs: Sequence[tuple[int, int]]) -> float:
    """Share of pairs whose correct row scores above the wrong one (ties count half).

    Example:
        >>> paired_accuracy(np.array([2.0, 1.0, 2.0]), [(0, 1), (0, 2)])
        0.75
    """
    if not pairs:
        return float("nan")
    c, w = np.array(pairs).T
    return float(np.mean((scores[c] > scores[w]) + 0.5 * (scores[c] == scores[w])))


def _chosen_l2(
    features: np.ndarray,
    pairs: Sequence[tuple[int, int]],
    rows: Sequence[dict[str, Any]],
    seed: int,
) -> tuple[float, float]:
    """λ from :data:`L2_GRID` by two-fold cross-validation over the training prompts (the
    held-out prompts are never seen): the λ with the best mean validation paired accuracy,
    and that accuracy."""
    from rewardkit.models.frozen_head import BradleyTerryHead

    prompts = sorted({_problem(rows[c]) for c, _ in pairs})
    rng = np.random.default_rng(10_000 + seed)
    fold = {prompts[i]: k % 2 for k, i in enumerate(rng.permutation(len(prompts)))}
    side = np.array([fold[_problem(rows[c])] for c, _ in pairs])
    both = np.array(pairs)
    best, best_score = L2_GRID[0], -1.0
    for l2 in L2_GRID:
        scores = []
        for k in (0, 1):
            fit, held = both[side != k], both[side == k]
            if not len(fit) or not len(held):
                continue
            head = BradleyTerryHead.untrained(features.shape[1])
            head.fit(features[fit[:, 0]], features[fit[:, 1]], l2=l2)
            scores.append(paired_accuracy(head.score(features), [tuple(p) for p in held]))
        score = float(np.mean(scores)) if scores else -1.0
        if score > best_score:
            best, best_score = l2, score
    return best, best_score


def _yes_no_head(
    states: np.ndarray, rows: Sequence[dict[str, Any]], in_train: np.ndarray, seed: int
) -> tuple[Any, float]:
    """A linear probe σ(w·h + b) on the judge's answer-position state h (the backbone
    frozen), fitted by cross-entropy on the labelled training rows (correct → 1): the
    yes-token reward's form σ((w_yes − w_no)·h) with its direction and a bias learned
    (RewardDance fine-tunes the whole model; this trains no weight of it). λ from
    :data:`L2_GRID` by two-fold cross-validation (log-loss) over the training prompts.
    Returns the head and λ."""
    from rewardkit.models.frozen_process import LogisticHead

    labelled = np.array([bool(in_train[i]) and rows[i]["label"] is not None
                         for i in range(len(rows))]) & np.isfinite(states).all(1)  # fmt: skip
    targets = np.array([float(row["label"] == 1) for row in rows])
    prompts = sorted({_problem(rows[i]) for i in np.flatnonzero(labelled)})
    rng = np.random.default_rng(20_000 + seed)
    fold_of = {prompts[i]: k % 2 for k, i in enumerate(rng.permutation(len(prompts)))}
    fold = np.array([fold_of.get(_problem(row), -1) for row in rows])
    best, _ = logistic_l2(states, targets, labelled, fold, L2_GRID)
    head = LogisticHead.untrained(states.shape[1])
    head.fit(states[labelled], targets[labelled], best)
    return head, best


def logistic_l2(
    features: np.ndarray,
    targets: np.ndarray,
    usable: np.ndarray,
    fold: np.ndarray,
    grid: Sequence[float],
) -> tuple[float, float]:
    """λ for a :class:`~rewardkit.models.frozen_process.LogisticHead` by two-fold
    cross-validation: the λ of ``grid`` with the lowest mean held-out log-loss over the
    ``usable`` rows (``fold`` 0 or 1; a fold with no row on either side is skipped), and
    that loss (inf when no fold could be scored)."""
    from rewardkit.models.frozen_process import LogisticHead

    best, best_loss = grid[0], float("inf")
    for l2 in grid:
        losses = []
        for k in (0, 1):
            fit, held = usable & (fold != k), usable & (fold == k)
            if not fit.any() or not held.any():
                continue
            head = LogisticHead.untrained(features.shape[1])
            head.fit(features[fit], targets[fit], l2)
            losses.append(head.log_loss(features[held], targets[held], floor=1e-6))
        if losses and np.mean(losses) < best_loss:
            best, best_loss = l2, float(np.mean(losses))
    return best, best_loss


def _corpus_path(given: str | None, suite: str = "real-rm") -> Path:
    """``--corpus``, else ``$REWARDKIT_CORPORA/<file>``, else ``benchmarks/corpora/<file>``."""
    if given:
        path = Path(given)
    elif os.environ.get("REWARDKIT_CORPORA"):
        path = Path(os.environ["REWARDKIT_CORPORA"]) / CORPUS_FILE
    else:
        path = CORPUS
    if not path.is_file():
        raise SystemExit(
            f"{suite}: no corpus at {path} (pass --corpus PATH, set REWARDKIT_CORPORA, or "
            "run from the checkout's root)"
        )
    return path


class RealRM(Suite):
    """The real-rm suite (see the module docs)."""

    name: ClassVar[str] = "real-rm"
    description: ClassVar[str | None] = __doc__
    quick_help: ClassVar[str] = f"the first {QUICK_PROMPTS} prompts per task, one seed"
    quick_sets: ClassVar[tuple[str, ...]] = ("seeds",)
    options: ClassVar[tuple[str, ...]] = ("seeds", "resume", "rerender")

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []
        self.features: dict[int, np.ndarray] = {}
        self.probe_features: dict[int, np.ndarray] = {}
        self.probe_prompts: list[tuple[str, str]] = []
        self.self_logprob = np.zeros(0)
        self.judge = np.zeros(0)
        self.probe_judge = np.zeros(0)
        self.judge_states: tuple[np.ndarray, np.ndarray] | None = None
        # SmolLM2's states after every prefix, for a value head per split (read by prepare)
        self.value_states: tuple[Any, Any] | None = None

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--corpus", default=None,
            help=f"the SmolLM2 corpus (default: $REWARDKIT_CORPORA/{CORPUS_FILE}, else {CORPUS})",
        )  # fmt: skip

    def command(self, args: argparse.Namespace) -> str:
        return "rewardkit bench real-rm" + (" --quick" if args.quick else f" --seeds {args.seeds}")

    def prepare(self, args: argparse.Namespace) -> None:
        from rewardkit_bench.real_rm_features import read_features

        rows = [json.loads(line) for line in _corpus_path(args.corpus).open()]
        if args.quick:
            rows = [row for row in rows if row["index"] < QUICK_PROMPTS]
        self.rows = rows
        found = read_features(rows, LAYERS, PROBES)
        self.features, self.probe_features = found.features, found.probe_features
        self.probe_prompts, self.self_logprob = found.probe_prompts, found.self_logprob
        self.judge, self.probe_judge = found.judge, found.probe_judge
        self.judge_states = (found.judge_states, found.probe_judge_states)
        self.value_states = (found.value_states, found.probe_value_states)

    def plan(self, args: argparse.Namespace, runs: list[dict[str, Any]]) -> list[Any]:
        seeds = 1 if args.quick else args.seeds
        done = {(run["kind"], run.get("seed", 0)) for run in runs}
        wanted = [("verify", 0)] + [("rm", seed) for seed in range(seeds)]
        return [unit for unit in wanted if unit not in done]

    def run_unit(self, unit: Any) -> dict[str, Any]:
        kind, seed = unit
        if kind == "verify":
            from rewardkit_bench.real_rm_verify import verify_corpus

            return {"kind": "verify", **verify_corpus(self.rows)}
        return {"kind": "rm", "seed": seed, **self._rm_run(seed)}

    def _rm_run(self, seed: int) -> dict[str, Any]:
        from rewardkit.models.frozen_head import BradleyTerryHead

        prompts = sorted({_problem(row) for row in self.rows})
        rng = np.random.default_rng(seed)
        train = {prompts[i] for i in rng.permutation(len(prompts))[: len(prompts) // 2]}
        in_train = np.array([_problem(row) in train for row in self.rows])
        test_rows = [i for i in range(len(self.rows)) if not in_train[i]]
        train_pairs = [p for p in pairs_of(self.rows, False) if in_train[p[0]]]
        tests = {
            controlled: [p for p in pairs_of(self.rows, controlled) if not in_train[p[0]]]
            for controlled in (False, True)
        }
        scorers: dict[str, np.ndarray] = {
            "self log-prob (no training)": self.self_logprob,
            "shorter is better": -np.array([row["tokens"] for row in self.rows], dtype=float),
        }
        probes: dict[str, dict[str, float]] = {}
        if self.judge.size:  # zero-shot: the same scores in every split, tested on its half
            scorers[JUDGE] = self.judge
            probes[JUDGE] = self._probe_rates(self.probe_judge, self.judge, test_rows)
        chosen_l2: dict[str, float] = {}
        validation: dict[str, float] = {}
        if self.judge_states is not None:  # the yes-token reward's form, fitted on the labels
            states, probe_states = self.judge_states
            head, chosen_l2[TRAINED_JUDGE] = _yes_no_head(states, self.rows, in_train, seed)
            scorers[TRAINED_JUDGE] = trained = head.score(states)
            probe_trained = head.score(probe_states)
            probes[TRAINED_JUDGE] = self._probe_rates(probe_trained, trained, test_rows)
        for layer in LAYERS:
            features = self.features[layer]
            l2, validation[f"BT head, layer {layer}"] = _chosen_l2(
                features, train_pairs, self.rows, seed
            )
            head = BradleyTerryHead.untrained(features.shape[1])
            c, w = np.array(train_pairs).T
            head.fit(features[c], features[w], l2=l2)
            name = f"BT head, layer {layer}"
            chosen_l2[name] = l2
            scorers[name] = head.score(features)
            probe_scores = head.score(self.probe_features[layer])
            probes[name] = self._probe_rates(probe_scores, scorers[name], test_rows)
        if self.value_states is not None:
            from rewardkit_bench.real_rm_features import value_head_scores

            train_rows = [i for i in range(len(self.rows)) if in_train[i]]
            scorers[VALUE], probe_values = value_head_scores(
                self.rows, *self.value_states, train_rows, test_rows, seed
            )
            probes[VALUE] = self._probe_rates(probe_values, scorers[VALUE], test_rows)
        from rewardkit_bench.real_rm_bon import bon_curves

        return {
            "train_pairs": len(train_pairs),
            "test_pairs": len(tests[False]),
            "test_pairs_controlled": len(tests[True]),
            "accuracy": {name: paired_accuracy(s, tests[False]) for name, s in scorers.items()},
            "accuracy_controlled": {
                name: paired_accuracy(s, tests[True]) for name, s in scorers.items()
            },
            "probe_wins": probes,
            "best_of_n": bon_curves(self.rows, scorers, test_rows, seed),
            "l2": chosen_l2,
            "validation": validation,
            # the claim's scorer: the layer with the best cross-validated accuracy on the
            # training problems, never the one that did best on the held-out ones
            "chosen": max(validation, key=lambda name: validation[name]),
        }

    def _probe_rates(
        self, probe_scores: np.ndarray, scores: np.ndarray, test_rows: Sequence[int]
    ) -> dict[str, float]:
        """Per probe: the share of held-out prompts with a correct answer whose probe
        completion scores above that prompt's mean correct score."""
        correct: dict[tuple[str, str], list[float]] = defaultdict(list)
        for i in test_rows:
            if self.rows[i]["label"] == 1:
                correct[_problem(self.rows[i])].append(scores[i])
        rates = {}
        for p, probe in enumerate(PROBES):
            wins = [
                probe_scores[k * len(PROBES) + p] > statistics.fmean(correct[prompt])
                for k, prompt in enumerate(self.probe_prompts)
                if prompt in correct
            ]
            rates[probe] = float(np.mean(wins)) if wins else float("nan")
        return rates

    def describe(self, run: dict[str, Any]) -> str | None:
        if run["kind"] == "verify":
            return "verifiers scored"
        best = max(run["accuracy_controlled"].items(), key=lambda kv: kv[1])
        return f"seed {run['seed']}: best style-controlled {best[0]} {best[1]:.3f}"

    def record(self, args: argparse.Namespace, runs: list[dict[str, Any]]) -> dict[str, Any]:
        return {"quick": args.quick, "rows": len(self.rows), "layers": list(LAYERS),
                "probes": list(PROBES), "machine": environment(), "runs": runs}  # fmt: skip

    def summarize(self, results: dict[str, Any]) -> dict[str, Any]:
        rm_runs = [run for run in results["runs"] if run["kind"] == "rm"]
        names = list(rm_runs[0]["accuracy"]) if rm_runs else []

        def median(key: str, name: str) -> float:
            return statistics.median(run[key][name] for run in rm_runs)

        table = {
            name: {
                "all": median("accuracy", name),
                "controlled": median("accuracy_controlled", name),
            }
            for name in names
        }
        if rm_runs:
            chosen = statistics.median(run["accuracy_controlled"][run["chosen"]] for run in rm_runs)
            table["BT head, layer chosen by CV"] = {
                "all": statistics.median(run["accuracy"][run["chosen"]] for run in rm_runs),
                "controlled": chosen,
            }
        best = table.get("BT head, layer chosen by CV")
        return {
            "medians": table,
            "best_learned": ["BT head, layer chosen by CV", best] if best else None,
            "best_of_n": _best_of_n_summary(rm_runs),
        }

    def report(self, results: dict[str, Any], plots: list[str]) -> str | None:
        from rewardkit_bench.real_rm_report import render

        return render(results, TARGET)


def _best_of_n_summary(rm_runs: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """Per selector, the median over splits of best-of-n gold at each n (the BT head at the
    layer each split chose by cross-validation), with Gao et al.'s fit and the peak rule."""
    from rewardkit_bench.real_rm_bon import GOLD, SELF_CONSISTENCY, gao_fit, peak_then_fall

    runs = [run for run in rm_runs if run.get("best_of_n", {}).get("problems")]
    if not runs:
        return None
    names = [name for name in runs[0]["best_of_n"]["gold"] if not name.startswith("BT head")]
    curves = {
        name: [
            statistics.median(v)
            for v in zip(*(r["best_of_n"]["gold"][name] for r in runs), strict=True)
        ]
        for name in names
    }
    chosen = "BT head, layer chosen by CV"
    curves[chosen] = [
        statistics.median(v)
        for v in zip(*(r["best_of_n"]["gold"][r["chosen"]] for r in runs), strict=True)
    ]
    problems = int(statistics.median(r["best_of_n"]["problems"] for r in runs))
    fits = {
        name: {**gao_fit(curve), "peak_then_fall": peak_then_fall(curve, problems)}
        for name, curve in curves.items()
        if name not in (GOLD, SELF_CONSISTENCY)
    }
    return {"ns": runs[0]["best_of_n"]["ns"], "problems": problems, "gold": curves, "fits": fits}


def main(argv: Sequence[str] | None = None) -> int:
    """``rewardkit bench real-rm``: see the module docs."""
    return drive(RealRM(), argv)
