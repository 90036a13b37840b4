"""A POLAR-style reward model on SmolLM2's frozen features: policy-discriminative
pretraining on a policy zoo, then preference fine-tuning (part of ``rm-lab``).

:class:`rewardkit.models.PolarStyleHead` scores r(φ_ref, φ_cand), how alike the policies
behind a reference answer and a candidate look, from SmolLM2-135M-Instruct's last-layer
features of each (question, answer) (``rm_build_real.read_last_layer``, cached by content).

- **Pretraining** (no labels): the policy zoo (``smollm2-zoo.jsonl``,
  ``rewardkit_bench.smollm2_zoo``: SmolLM2 sampled under five settings on questions the
  corpus does not hold). Per seed, half the zoo's questions pretrain, on
  (anchor, positive, negative) triples of one question
  (:func:`rewardkit.models.policy_discrimination_triples`); the other half measure
  held-out policy discrimination, the share of triples with r(anchor, positive) >
  r(anchor, negative), overall and by the anchor's policy. A zoo answer's features are
  read as the corpus's are, the question in the default chat template: the policy's own
  system prompt is not in them, only what it made the model write.
- **Fine-tuning**: the corpus's training half (``rm_build_real._split``), one triple per
  (right, wrong) pair of a question: reference = the question's templated reference
  answer ``"The answer is {gold}."`` (:func:`reference_rows`), chosen = the right answer,
  rejected = the wrong one.
- **Scoring**: r(reference, answer) of every held-out answer, paired accuracy and
  style-controlled paired accuracy over the same (right, wrong) pairs as
  ``rm_build_real``.

Rows: the pretrained and fine-tuned head; the same head fine-tuned from a random
initialization (no pretraining); the pretrained head alone (does telling policies apart
rank right above wrong?); and, for context, ``rm_build_real``'s linear Bradley–Terry head
on the candidate alone (no reference), with its λ by the same two-fold CV.

The settings below were fixed before any figure was seen and not tuned (the same for
both fine-tuned rows). Both stages fit their training triples almost exactly (final
training loss under 0.002): the zoo's pretraining half is 400 answers.

Run (the first run reads the zoo's and the references' features, about 5 minutes)::

    python -m rewardkit_bench.rm_build_polar --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rewardkit_bench.real_rm import CORPUS, _chosen_l2, _problem, paired_accuracy, pairs_of
from rewardkit_bench.rm_build_real import _linear, _split, labelled_rows, read_last_layer

__all__ = ["POLAR_METHODS", "reference_rows", "run_polar", "run_polar_unit", "zoo_rows"]

ZOO = Path("benchmarks") / "corpora" / "smollm2-zoo.jsonl"
#: rows of the method table, in order
POLAR_METHODS = (
    "POLAR-style (pretrained + fine-tuned)",
    "same head, no pretraining",
    "policy discrimination (pretraining only)",
    "BT linear, no reference (context)",
)
HEAD = {"projection": 64, "hidden": 64}
PRETRAIN = {"epochs": 40, "learning_rate": 1e-3, "batch_size": 256, "weight_decay": 1e-2}
FINE_TUNE = {"epochs": 100, "learning_rate": 1e-3, "batch_size": 256, "weight_decay": 1e-2}
PRETRAIN_TRIPLES, HELD_OUT_TRIPLES = 6000, 4000


def reference_rows(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per question of ``rows`` (in order of first appearance), the question's
    templated reference answer ``"The answer is {gold}."`` as its completion.

    Example:
        >>> rows = [{"task": "t", "index": 0, "question": "1+1", "gold": "2"}] * 2
        >>> [r["completion"] for r in reference_rows(rows)]
        ['The answer is 2.']
    """
    seen: dict[tuple[str, str], dict[str, Any]] = {}
    for row in rows:
        if _problem(row) not in seen:
            seen[_problem(row)] = {
                "task": row["task"],
                "index": row["index"],
                "question": row["question"],
                "gold": row["gold"],
                "completion": f"The answer is {row['gold']}.",
            }
    return list(seen.values())


def zoo_rows(path: Path = ZOO) -> list[dict[str, Any]]:
    """Every row of the policy zoo (labelled or not: pretraining reads only the policies)."""
    return [json.loads(line) for line in path.open()]


def _zoo_triples(
    zoo: Sequence[dict[str, Any]], seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(pretraining triples, held-out triples, held-out anchors' policies) of one split of
    the zoo's questions in halves."""
    from rewardkit.models.polar import policy_discrimination_triples

    in_train = _split(zoo, 20_000 + seed)
    policy = np.array([row["policy"] for row in zoo])
    prompt = np.array(["\n".join(_problem(row)) for row in zoo])
    rng = np.random.default_rng(20_000 + seed)
    found = []
    for keep, count in ((in_train, PRETRAIN_TRIPLES), (~in_train, HELD_OUT_TRIPLES)):
        index = np.flatnonzero(keep)
        found.append(
            index[policy_discrimination_triples(policy[keep], prompt[keep], count=count, rng=rng)]
        )
    return found[0], found[1], policy[found[1][:, 0]]


def run_polar(
    rows: Sequence[dict[str, Any]], features: np.ndarray, zoo_rows: Sequence[dict[str, Any]],
    zoo_features: np.ndarray, reference_features: np.ndarray, seed: int,
) -> dict[str, Any]:  # fmt: skip
    """Every row of the POLAR-style table on one split (module docs).

    Args:
        rows, features: the corpus's labelled rows and their features.
        zoo_rows, zoo_features: the policy zoo's rows and their features.
        reference_features: the features of :func:`reference_rows` ``(rows)``.
        seed: the split of the corpus's and the zoo's questions, and the heads' seed.
    """
    from rewardkit.models.polar import (
        PolarStyleHead,
        fine_tune_on_preferences,
        pretrain_policy_discriminator,
    )

    start = time.monotonic()
    references = {_problem(r): i for i, r in enumerate(reference_rows(rows))}
    reference = reference_features[[references[_problem(r)] for r in rows]]
    pretrain, held_out, held_policy = _zoo_triples(zoo_rows, seed)
    pretrained, pretrain_losses = pretrain_policy_discriminator(
        zoo_features, pretrain, **HEAD, **PRETRAIN, seed=seed
    )
    margin_up = pretrained.score(zoo_features[held_out[:, 0]], zoo_features[held_out[:, 1]])
    margin_down = pretrained.score(zoo_features[held_out[:, 0]], zoo_features[held_out[:, 2]])
    right = (margin_up > margin_down) + 0.5 * (margin_up == margin_down)
    in_train = _split(rows, seed)
    train_pairs = [p for p in pairs_of(rows, False) if in_train[p[0]]]
    tests = {
        "all": [p for p in pairs_of(rows, False) if not in_train[p[0]]],
        "controlled": [p for p in pairs_of(rows, True) if not in_train[p[0]]],
    }
    c, w = np.array(train_pairs).T
    tuned, tune_losses = fine_tune_on_preferences(
        pretrained, reference[c], features[c], features[w], **FINE_TUNE, seed=seed
    )
    fresh = PolarStyleHead(features.shape[1], **HEAD, seed=seed)
    scratch, scratch_losses = fine_tune_on_preferences(
        fresh, reference[c], features[c], features[w], **FINE_TUNE, seed=seed
    )
    l2, _ = _chosen_l2(features, train_pairs, rows, seed)
    scores = {
        POLAR_METHODS[0]: tuned.score(reference, features),
        POLAR_METHODS[1]: scratch.score(reference, features),
        POLAR_METHODS[2]: pretrained.score(reference, features),
        POLAR_METHODS[3]: _linear(features, train_pairs, l2),
    }
    return {
        "kind": "polar",
        "seed": seed,
        "train_pairs": len(train_pairs),
        "test_pairs": {k: len(v) for k, v in tests.items()},
        "accuracy": {
            test: {name: paired_accuracy(s, pairs) for name, s in scores.items()}
            for test, pairs in tests.items()
        },
        "discrimination": {
            "held-out zoo triples": float(right.mean()),
            "by anchor policy": {
                str(p): float(right[held_policy == p].mean()) for p in sorted(set(held_policy))
            },
            "triples": {"pretraining": len(pretrain), "held out": len(held_out)},
        },
        "losses": {
            "pretraining": [pretrain_losses[0], pretrain_losses[-1]],
            "fine-tuning (pretrained)": [tune_losses[0], tune_losses[-1]],
            "fine-tuning (no pretraining)": [scratch_losses[0], scratch_losses[-1]],
        },
        "seconds": time.monotonic() - start,
    }


def run_polar_unit(seed: int) -> dict[str, Any]:
    """The ``rm-lab`` unit: :func:`run_polar` on the shipped corpus and zoo (features
    cached), one torch thread."""
    import torch

    torch.set_num_threads(1)
    rows, zoo = labelled_rows(CORPUS), zoo_rows()
    return run_polar(rows, read_last_layer(rows), zoo, read_last_layer(zoo),
                     read_last_layer(reference_rows(rows)), seed)  # fmt: skip


def _medians(results: Sequence[dict[str, Any]]) -> dict[str, Any]:
    first = results[0]
    return {
        "accuracy": {
            test: {
                name: statistics.median(r["accuracy"][test][name] for r in results)
                for name in methods
            }
            for test, methods in first["accuracy"].items()
        },
        "held-out zoo triples": statistics.median(
            r["discrimination"]["held-out zoo triples"] for r in results
        ),
    }


def _print(result: dict[str, Any], title: str) -> None:
    print(f"\n{title}")
    print(f"  {'method':<44} {'paired':>7} {'style-controlled':>17}")
    for name in result["accuracy"]["all"]:
        print(f"  {name:<44} {result['accuracy']['all'][name]:>7.3f} "
              f"{result['accuracy']['controlled'][name]:>17.3f}")  # fmt: skip
    found = result.get("discrimination", result)
    print(f"  held-out zoo policy discrimination: {found['held-out zoo triples']:.3f}")
    if "by anchor policy" in found:
        by_policy = ", ".join(f"{p} {v:.3f}" for p, v in found["by anchor policy"].items())
        print(f"    by anchor policy: {by_policy}")


def main(argv: Sequence[str] | None = None) -> int:
    """The command line (``python -m rewardkit_bench.rm_build_polar --help``)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="splits")
    parser.add_argument("--corpus", type=Path, default=CORPUS, help="the labelled corpus")
    parser.add_argument("--zoo", type=Path, default=ZOO, help="the policy zoo")
    parser.add_argument("--out", type=Path, default=None, help="write the results as JSON")
    parser.add_argument("--threads", type=int, default=2, help="torch threads for the heads")
    args = parser.parse_args(argv)
    rows = labelled_rows(args.corpus)
    zoo = zoo_rows(args.zoo)
    features = read_last_layer(rows)
    zoo_features = read_last_layer(zoo)
    reference_features = read_last_layer(reference_rows(rows))
    import torch

    torch.set_num_threads(args.threads)
    results = []
    for seed in args.seeds:
        result = run_polar(rows, features, zoo, zoo_features, reference_features, seed)
        results.append(result)
        sizes = f"{result['train_pairs']} training pairs, test {result['test_pairs']}"
        _print(result, f"seed {seed} ({result['seconds']:.0f} s, {sizes})")
    medians = _medians(results)
    _print(medians, f"medians over seeds {args.seeds}")
    if args.out is not None:
        args.out.write_text(json.dumps({"seeds": results, "medians": medians}, indent=2))
        print(f"written to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
